/* ops/select.c — selection by a condition: boolean_mask and where.
 *
 * boolean_mask and one-argument where return as many elements as the
 * condition has true values, so both ops are TL_OP_VALUE_SHAPE: their
 * shape rules give dtype, rank and the dimensions that do not depend on
 * the values (-1 for the count), and their kernels allocate the outputs.
 * Three-argument where has a known broadcast shape; its kernel allocates
 * the output from the same rule (the flag is per op). Data moves by
 * element size, so every dtype works; a "true" condition for where(c) is
 * any non-zero value (non-empty string).
 *
 * Gradients: boolean_mask's is gather_grad at the positions where(mask)
 * of the flattened mask; where(c, x, y) sends g to x where c holds and to
 * y elsewhere. Masks and conditions get none; where(c) alone (int64
 * coordinates) has none to give.
 */
#include "ops/movement.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- boolean_mask ------------------------------------------------------ */

/* The axis the mask starts at, and the output's rank (-1 unknown) and
 * shape with the selected count unknown. */
static tl_status mask_plan(const tl_meta *t, const tl_meta *m, int64_t axis, int *at, int *orank, int64_t *shape) {
  if (m->dtype != TL_BOOL) return tl_error(TL_INVALID_ARGUMENT, "mask must be bool, got %s", tl_dtypes[m->dtype].name);
  if (m->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "mask cannot be a scalar");
  *orank = -1;
  if (t->rank < 0 || m->rank < 0) return TL_OK;
  int64_t a = axis < 0 ? axis + t->rank : axis;
  char ts[TL_SHAPE_BUF], ms[TL_SHAPE_BUF];
  tl_meta_dims(t, ts, sizeof ts);
  tl_meta_dims(m, ms, sizeof ms);
  if (a < 0 || a + m->rank > t->rank)
    return tl_error(TL_INVALID_ARGUMENT, "mask of shape %s does not fit tensor shape %s at axis %" PRId64, ms, ts, axis);
  for (int d = 0; d < m->rank; d++)
    if (m->shape[d] >= 0 && t->shape[a + d] >= 0 && m->shape[d] != t->shape[a + d])
      return tl_error(TL_INVALID_ARGUMENT,
                      "mask shape %s does not match tensor shape %s at axis %" PRId64 " (dimension %d: %" PRId64 " vs %" PRId64 ")",
                      ms, ts, a, (int)a + d, m->shape[d], t->shape[a + d]);
  int k = 0;
  for (int d = 0; d < a; d++) shape[k++] = t->shape[d];
  shape[k++] = -1; /* how many are true */
  for (int d = (int)a + m->rank; d < t->rank; d++) shape[k++] = t->shape[d];
  *at = (int)a;
  *orank = k;
  return TL_OK;
}

static tl_status boolean_mask_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  int a, r;
  int64_t shape[TL_MAX_RANK];
  tl_status s = mask_plan(in[0], in[1], attr[0].i, &a, &r, shape);
  return s ? s : tl_meta_emit(out, in[0]->dtype, r, shape);
}

static tl_status boolean_mask_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0], *m = in[1], *mc, *tc = NULL, *res = NULL;
  int a, k;
  int64_t shape[TL_MAX_RANK];
  tl_status s = mask_plan(&t->meta, &m->meta, attr[0].i, &a, &k, shape);
  if (s || (s = tl_tensor_contiguous(m, &mc))) return s;
  const uint8_t *mb = tl_tensor_data(mc);
  int64_t count = 0, M = mc->size;
  for (int64_t i = 0; i < M; i++) count += mb[i] != 0;
  int64_t outer = tl_dims_prod(t->shape, 0, a), inner = tl_dims_prod(t->shape, a + m->rank, t->rank);
  shape[a] = count;
  s = tl_tensor_new(t->dtype, k, shape, &res);
  if (!s && res->size) s = tl_tensor_contiguous(t, &tc);
  if (!s && res->size) {
    size_t rb = (size_t)inner * tl_dtypes[t->dtype].size;
    char *dst = tl_tensor_data(res);
    const char *src = tl_tensor_data(tc);
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < M; j++)
        if (mb[j]) {
          memcpy(dst, src + (size_t)(o * M + j) * rb, rb);
          dst += rb;
        }
  }
  tl_tensor_release(mc);
  tl_tensor_release(tc);
  if (s) {
    tl_tensor_release(res);
    return s;
  }
  return tl_list_push(out, res);
}

/* ---- where ------------------------------------------------------------- */

/* numpy broadcasting of two metas, with tl_broadcast_shapes' message when
 * both shapes are known. */
static tl_status broadcast2(const tl_meta *a, const tl_meta *b, tl_meta *out) {
  if (tl_meta_numel(a) >= 0 && tl_meta_numel(b) >= 0) {
    out->dtype = a->dtype;
    return tl_broadcast_shapes(a->rank, a->shape, b->rank, b->shape, &out->rank, out->shape);
  }
  return tl_meta_broadcast(a, b, out);
}

/* where(c, x, y)'s checks and shape; *coords is set for where(c). */
static tl_status where_plan(const tl_meta *c, const tl_meta *x, const tl_meta *y, bool *coords, tl_meta *res) {
  *coords = !x && !y;
  if (*coords) {
    res->dtype = TL_INT64;
    res->rank = 2;
    res->shape[0] = -1; /* how many are non-zero */
    res->shape[1] = c->rank;
    return TL_OK;
  }
  if (!x || !y) return tl_error(TL_INVALID_ARGUMENT, "x and y must both be given, or both be nil");
  if (c->dtype != TL_BOOL) return tl_error(TL_INVALID_ARGUMENT, "condition must be bool, got %s", tl_dtypes[c->dtype].name);
  if (x->dtype != y->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "x and y have different dtypes (%s vs %s); use tf.cast to convert",
                    tl_dtypes[x->dtype].name, tl_dtypes[y->dtype].name);
  tl_meta xy;
  tl_status s = broadcast2(x, y, &xy);
  if (!s) s = broadcast2(c, &xy, res);
  res->dtype = x->dtype;
  return s;
}

static tl_status where_infer(TL_INFER_ARGS) {
  (void)op, (void)attr;
  bool coords;
  tl_meta res;
  tl_status s = where_plan(in[0], n_in > 1 ? in[1] : NULL, n_in > 2 ? in[2] : NULL, &coords, &res);
  return s ? s : tl_meta_emit(out, res.dtype, res.rank, res.shape);
}

static bool is_nonzero(const char *base, tl_dtype d, int64_t i) {
  switch (tl_dtypes[d].kind) {
  case TL_KIND_FLOAT: return tl_load_f64(base, d, i) != 0;
  case TL_KIND_COMPLEX: return ((const float *)base)[2 * i] != 0 || ((const float *)base)[2 * i + 1] != 0;
  case TL_KIND_STRING: return ((const tl_string *)base)[i].len != 0;
  default: return tl_load_i64(base, d, i) != 0;
  }
}

/* The coordinates of c's non-zero elements, one row each. */
static tl_status where_coords(tl_tensor *c, tl_tensor_list *out) {
  tl_tensor *cc, *res;
  tl_status s = tl_tensor_contiguous(c, &cc);
  if (s) return s;
  const char *base = tl_tensor_data(cc);
  int64_t count = 0;
  for (int64_t i = 0; i < cc->size; i++) count += is_nonzero(base, cc->dtype, i);
  int64_t shape[2] = {count, c->rank};
  if ((s = tl_tensor_new(TL_INT64, 2, shape, &res))) {
    tl_tensor_release(cc);
    return s;
  }
  int64_t *o = tl_tensor_data(res);
  for (int64_t i = 0; i < cc->size; i++)
    if (is_nonzero(base, cc->dtype, i)) {
      int64_t f = i;
      for (int d = c->rank - 1; d >= 0; d--) {
        o[d] = f % c->shape[d];
        f /= c->shape[d];
      }
      o += c->rank;
    }
  tl_tensor_release(cc);
  return tl_list_push(out, res);
}

static void select_run(char **p, const int64_t *st, int64_t n, void *ctx) {
  size_t es = *(size_t *)ctx;
  for (int64_t i = 0; i < n; i++) {
    const char *src = p[1][i * st[1]] ? p[2] + i * st[2] * (int64_t)es : p[3] + i * st[3] * (int64_t)es;
    memcpy(p[0] + i * st[0] * (int64_t)es, src, es);
  }
}

static tl_status where_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)attr;
  tl_tensor *c = in[0], *x = n_in > 1 ? in[1] : NULL, *y = n_in > 2 ? in[2] : NULL;
  bool coords;
  tl_meta m;
  tl_status s = where_plan(&c->meta, x ? &x->meta : NULL, y ? &y->meta : NULL, &coords, &m);
  if (s || coords) return s ? s : where_coords(c, out);
  tl_tensor *res, *v[3] = {NULL, NULL, NULL}, *src[3] = {c, x, y};
  if ((s = tl_tensor_new(m.dtype, m.rank, m.shape, &res))) return s;
  for (int i = 0; i < 3 && !s; i++) s = tl_tensor_broadcast_view(src[i], m.rank, m.shape, &v[i]);
  if (!s && res->size) {
    size_t es = tl_dtypes[x->dtype].size;
    tl_tensor *ops[4] = {res, v[0], v[1], v[2]};
    tl_iterate(4, ops, select_run, &es);
  }
  for (int i = 0; i < 3; i++) tl_tensor_release(v[i]);
  if (s) {
    tl_tensor_release(res);
    return s;
  }
  return tl_list_push(out, res);
}

/* ---- gradients --------------------------------------------------------- */
/* Written with ordinary ops (tl_call), so an outer tape records them and
 * gradients of gradients work. */

/* The mask selects rows of tensor as [outer..., M, inner...]: gather's
 * gradient at the positions where(mask) of the flattened mask. */
static tl_status boolean_mask_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  const tl_tensor *x = in[0];
  tl_tensor *m = in[1];
  int64_t a = attr[0].i < 0 ? attr[0].i + x->rank : attr[0].i;
  int64_t shape[TL_MAX_RANK], count, M = m->size;
  int k = 0;
  for (int d = 0; d < a; d++) shape[k++] = x->shape[d];
  shape[k++] = M;
  for (int d = (int)a + m->rank; d < x->rank; d++) shape[k++] = x->shape[d];
  tl_tensor *flat = NULL, *pos = NULL, *idx = NULL, *g = NULL;
  tl_status s = tl_reshape_to(m, 1, &M, &flat);
  if (!s) s = tl_call("where", 3, (tl_tensor *[]){flat, NULL, NULL}, 0, NULL, &pos);
  if (!s) {
    count = pos->shape[0];
    s = tl_reshape_to(pos, 1, &count, &idx);
  }
  if (!s)
    s = tl_call("gather_grad", 2, (tl_tensor *[]){grad_out[0], idx}, 2,
                (tl_named_attr[]){TL_A_INTS("shape", k, shape), TL_A_INT("axis", a)}, &g);
  if (!s) s = tl_reshape_to(g, x->rank, x->shape, &grad_in[0]);
  tl_tensor_release(flat);
  tl_tensor_release(pos);
  tl_tensor_release(idx);
  tl_tensor_release(g);
  return s;
}

/* x gets g where the condition holds, y where it does not; both at the
 * broadcast shape (the tape reduces them). */
static tl_status where_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (n_in < 3 || !in[1] || !in[2]) return TL_OK;
  tl_tensor *zero;
  tl_status s = tl_tensor_scalar_like(grad_out[0], grad_out[0]->dtype, 0, &zero);
  if (s) return s;
  if (tl_grad_wants(1)) s = tl_call("where", 3, (tl_tensor *[]){in[0], grad_out[0], zero}, 0, NULL, &grad_in[1]);
  if (!s && tl_grad_wants(2)) s = tl_call("where", 3, (tl_tensor *[]){in[0], zero, grad_out[0]}, 0, NULL, &grad_in[2]);
  tl_tensor_release(zero);
  return s;
}

tl_op_def tl_ops_select[] = {
    {.name = "boolean_mask", .inputs = "tensor, mask", .attrs = "axis:int=0", .infer = boolean_mask_infer,
     .kernel[TL_CPU] = boolean_mask_kernel, .grad = boolean_mask_grad, .flags = TL_OP_VALUE_SHAPE,
     .doc = "The elements (or slices from axis on) where mask is true."},
    {.name = "where", .inputs = "condition, x?, y?", .attrs = "", .infer = where_infer, .kernel[TL_CPU] = where_kernel,
     .grad = where_grad, .flags = TL_OP_VALUE_SHAPE,
     .doc = "where(c): int64 coordinates of true elements; where(c, x, y): x where c else y, broadcast."},
    {0},
};
