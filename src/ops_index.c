/* ops_index.c — (to be filled) */
#include "tl.h"

tl_op_def tl_ops_index[] = {
    {0},
};
