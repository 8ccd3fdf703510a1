/* ops/nn.h — what softmax.c and nn.c share (moments.c uses the float check).
 * Internal to src/ops/. */
#ifndef TL_OPS_NN_H
#define TL_OPS_NN_H
#include "ops/ops.h"

#define TL_NN_LANES 16 /* accumulators in the float32 row loops */

/* The shape rules' dtype check of a float-only operand: float32/float64,
 * and float16/bfloat16, which reach the kernels as float32
 * (TL_OP_HALF_VIA_F32). what names the operand in the message. */
static inline tl_status tl_nn_need_float(tl_dtype d, const char *what) {
  if (tl_dtype_is_float(d)) return TL_OK;
  return tl_error(TL_UNIMPLEMENTED, "dtype %s is not supported (%s must be a float tensor; use tf.cast)",
                  tl_dtypes[d].name, what);
}
#endif
