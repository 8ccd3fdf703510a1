/* ops_linalg.c — (to be filled) */
#include "tl.h"

tl_op_def tl_ops_linalg[] = {
    {0},
};
