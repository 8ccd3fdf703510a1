/* ops_reduce.c — (to be filled) */
#include "tl.h"

tl_op_def tl_ops_reduce[] = {
    {0},
};
