/* ops_sort.c — (to be filled) */
#include "tl.h"

tl_op_def tl_ops_sort[] = {
    {0},
};
