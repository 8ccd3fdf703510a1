/* ops/debug.c — ops that exist for autodiff and debugging: stop_gradient
 * and check_numerics (both return their input unchanged, a view of the same
 * storage), and the numeric checking switch (tl_set_check_numerics).
 *
 * The NaN/Inf count is check_numerics' kernel, so it runs on the tensor's
 * device: the dispatcher, when checking is on, calls the op on each
 * floating output through tl_check_numerics (a nested op, which the tape
 * does not record). Nothing here reads device memory from the host.
 */
#include "ops/ops.h"

#include <math.h>
#include <stdio.h>

static tl_status identity_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  return tl_meta_push_like(out, in[0], TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status identity_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *t;
  tl_status s = tl_tensor_view(in[0]->storage, in[0]->dtype, in[0]->rank, in[0]->shape, in[0]->strides,
                               in[0]->offset, &t);
  if (s) return s;
  return tl_list_push(out, t);
}

typedef struct nan_ctx {
  int64_t nan, inf;
  tl_dtype dt;
} nan_ctx;

static void count_bad(char **p, const int64_t *st, int64_t n, void *vctx) {
  nan_ctx *c = vctx;
  for (int64_t i = 0; i < n; i++) {
    double v = tl_load_f64(p[0], c->dt, i * st[0]);
    if (isnan(v)) c->nan++;
    else if (isinf(v)) c->inf++;
  }
}

/* attrs: message? (names the tensor in the error). */
static tl_status check_numerics_kernel(TL_KERNEL_ARGS) {
  tl_tensor *t = in[0];
  if (tl_dtypes[t->dtype].kind == TL_KIND_FLOAT) {
    nan_ctx c = {0, 0, t->dtype};
    tl_iterate(1, &t, count_bad, &c);
    if (c.nan || c.inf)
      return tl_error(TL_INVALID_ARGUMENT, "%s: %lld NaN and %lld Inf values", attr[0].s ? attr[0].s : "tensor",
                      (long long)c.nan, (long long)c.inf);
  }
  return identity_kernel(op, in, n_in, attr, out);
}

/* The gradient is checked too, as TensorFlow does, by the same op (so it
 * runs on the gradient's device and differentiates again). */
static tl_status check_numerics_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (!grad_out[0]) return TL_OK;
  char what[300];
  snprintf(what, sizeof what, "%s (gradient)", attr[0].s ? attr[0].s : "tensor");
  return tl_call("check_numerics", 1, &grad_out[0], 1, (tl_named_attr[]){TL_A_STRING("message", what)},
                 &grad_in[0]);
}

/* ---- the dispatcher's numeric checking ---------------------------------- */

static bool check_numerics_on;
void tl_set_check_numerics(bool on) { __atomic_store_n(&check_numerics_on, on, __ATOMIC_RELAXED); }
bool tl_get_check_numerics(void) { return __atomic_load_n(&check_numerics_on, __ATOMIC_RELAXED); }

tl_status tl_check_numerics(const tl_tensor *t, const char *what) {
  if (tl_dtypes[t->dtype].kind != TL_KIND_FLOAT) return TL_OK;
  tl_tensor *x = (tl_tensor *)t, *same;
  tl_status s = tl_call("check_numerics", 1, &x, 1, (tl_named_attr[]){TL_A_STRING("message", what)}, &same);
  if (!s) tl_tensor_release(same);
  return s;
}

tl_op_def tl_ops_debug[] = {
    {.name = "stop_gradient", .inputs = "input", .infer = identity_infer, .kernel[TL_CPU] = identity_kernel,
     .flags = TL_OP_NO_GRADIENT | TL_OP_KERNEL_ALLOCATES,
     .doc = "Returns input unchanged; gradients do not flow through it."},
    {.name = "check_numerics", .inputs = "tensor", .attrs = "message:string?", .infer = identity_infer,
     .kernel[TL_CPU] = check_numerics_kernel, .grad = check_numerics_grad, .flags = TL_OP_KERNEL_ALLOCATES,
     .api = "tf.debugging.check_numerics",
     .doc = "Returns tensor, or raises InvalidArgument naming message if it holds NaN or Inf."},
    {0},
};
