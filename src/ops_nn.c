/* ops_nn.c — (to be filled) */
#include "tl.h"

tl_op_def tl_ops_nn[] = {
    {0},
};
