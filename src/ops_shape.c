/* ops_shape.c — (to be filled) */
#include "tl.h"

tl_op_def tl_ops_shape[] = {
    {0},
};
