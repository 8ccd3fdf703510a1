/* ops/debug.c — ops that exist for autodiff and debugging: stop_gradient,
 * check_numerics. Both return their input unchanged (the same storage). */
#include "tl.h"

static tl_status identity_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                              tl_tensor_list *out) {
  (void)op; (void)n_in; (void)attr;
  tl_tensor *t;
  tl_status s = tl_tensor_view(in[0]->storage, in[0]->dtype, in[0]->rank, in[0]->shape, in[0]->strides,
                               in[0]->offset, &t);
  if (s) return s;
  return tl_list_push(out, t);
}

static tl_status check_numerics_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in,
                                    const tl_attr *attr, tl_tensor_list *out) {
  tl_status s = tl_check_numerics(in[0], attr[0].s ? attr[0].s : "check_numerics");
  if (s) return s;
  return identity_fwd(op, in, n_in, attr, out);
}

/* The gradient of check_numerics is checked too, as TensorFlow does. */
static tl_status check_numerics_grad(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                     tl_tensor *const *out, int n_out, tl_tensor *const *gout, tl_tensor **gin) {
  (void)op; (void)in; (void)n_in; (void)out; (void)n_out;
  tl_status s = tl_check_numerics(gout[0], attr[0].s ? attr[0].s : "check_numerics (gradient)");
  if (s) return s;
  gin[0] = tl_tensor_retain(gout[0]);
  return TL_OK;
}

tl_op_def tl_ops_debug[] = {
    {.name = "stop_gradient", .inputs = "input", .kernel[TL_CPU] = identity_fwd, .flags = TL_OP_NO_GRADIENT,
     .doc = "Returns input unchanged; gradients do not flow through it."},
    {.name = "check_numerics", .inputs = "tensor", .attrs = "message:string?", .kernel[TL_CPU] = check_numerics_fwd,
     .grad = check_numerics_grad, .api = "tf.debugging.check_numerics",
     .doc = "Returns tensor, or raises InvalidArgument naming message if it holds NaN or Inf."},
    {0},
};
