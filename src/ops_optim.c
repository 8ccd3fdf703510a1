/* ops_optim.c — fused optimizer updates (to be filled) */
#include "tl.h"

tl_op_def tl_ops_optim[] = {
    {0},
};
