/* ops_create.c — (to be filled) */
#include "tl.h"

tl_op_def tl_ops_create[] = {
    {0},
};
