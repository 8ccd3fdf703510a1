/* ops_elementwise.c — (placeholder add for bring-up; to be replaced) */
#include "tl.h"

static void add_run(char **p, const int64_t *st, int64_t n, void *ctx) {
  (void)ctx;
  float *o = (float *)p[0];
  const float *a = (const float *)p[1], *b = (const float *)p[2];
  for (int64_t i = 0; i < n; i++) o[i * st[0]] = a[i * st[1]] + b[i * st[2]];
}

static tl_status add_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                         tl_tensor_list *out) {
  (void)op; (void)n_in; (void)attr;
  int r;
  int64_t shape[TL_MAX_RANK];
  tl_status s = tl_broadcast_shapes(in[0]->rank, in[0]->shape, in[1]->rank, in[1]->shape, &r, shape);
  if (s) return s;
  if (in[0]->dtype != TL_FLOAT32) return tl_error(TL_UNIMPLEMENTED, "only float32 for now");
  tl_tensor *o, *a, *b;
  if ((s = tl_tensor_new(in[0]->dtype, r, shape, &o))) return s;
  tl_tensor_broadcast_view(in[0], r, shape, &a);
  tl_tensor_broadcast_view(in[1], r, shape, &b);
  tl_tensor *ops[3] = {o, a, b};
  tl_iterate(3, ops, add_run, NULL);
  tl_tensor_release(a);
  tl_tensor_release(b);
  return tl_list_push(out, o);
}

tl_op_def tl_ops_elementwise[] = {
    {.name = "add", .inputs = "x, y", .forward = add_fwd, .flags = TL_OP_SCALARS_FOLLOW | TL_OP_SAME_DTYPE,
     .api = "tf.add tf.math.add", .doc = "x + y element-wise with broadcasting"},
    {0},
};
