/* ops/shape.c — ops that re-describe a tensor or report its shape:
 * reshape, transpose, expand_dims, squeeze, identity, broadcast_to, size,
 * rank, shape. (Joining and cutting along an axis: concat.c; copies that
 * repeat or reorder: pad.c.)
 *
 * reshape (of a contiguous tensor), transpose, expand_dims, squeeze and
 * identity return views sharing the input's storage, so their kernels make
 * their outputs (TL_OP_KERNEL_ALLOCATES); tensors are immutable, so a view
 * is never observable. Views made here have non-negative strides. No output
 * is ever the input object itself (identity returns a new view): a tape
 * keys gradients by tensor object. broadcast_to (a copy, as TensorFlow
 * materialises it), size, rank and shape fill outputs the dispatcher
 * allocated from the shape rule.
 *
 * Each op's shape rule and kernel share one plan function on metas
 * (movement.h): a symbolic input gets every check that needs no data, and
 * unknown (-1) dimensions or ranks propagate.
 *
 * Gradient rules are written with ops: the same elements back in the
 * input's shape, the inverse permutation, reduce_sum over broadcast axes.
 * size, rank and shape are not differentiable.
 */
#include "ops/movement.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- reshape ----------------------------------------------------------- */

/* The target shape with its -1 resolved (left -1 when the input's size is
 * unknown). */
static tl_status reshape_plan(const tl_meta *m, const tl_attr *s, int64_t *shape) {
  char want[TL_SHAPE_BUF];
  tl_shape_format(s->n, s->ints, want, sizeof want);
  if (s->n > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "shape %s has %d dimensions; at most %d are supported", want, s->n,
                    TL_MAX_RANK);
  int64_t known = 1;
  int infer = -1;
  for (int i = 0; i < s->n; i++) {
    int64_t v = s->ints[i];
    shape[i] = v;
    if (v == -1) {
      if (infer >= 0)
        return tl_error(TL_INVALID_ARGUMENT, "shape %s has more than one -1 (only one dimension can be inferred)", want);
      infer = i;
    } else if (v < 0) {
      return tl_error(TL_INVALID_ARGUMENT, "dimension %d of shape %s is negative", i, want);
    } else if (__builtin_mul_overflow(known, v, &known)) {
      return tl_error(TL_INVALID_ARGUMENT, "shape %s is too large", want);
    }
  }
  int64_t size = tl_meta_numel(m); /* -1: unknown */
  if (size < 0) return TL_OK;
  if (infer >= 0) {
    if (known == 0) {
      if (size != 0)
        return tl_error(TL_INVALID_ARGUMENT, "cannot reshape a tensor with %" PRId64 " elements into shape %s", size, want);
      return tl_error(TL_INVALID_ARGUMENT,
                      "cannot infer the -1 in shape %s for a tensor with 0 elements (the other dimensions multiply to 0)", want);
    }
    if (size % known != 0)
      return tl_error(TL_INVALID_ARGUMENT,
                      "cannot reshape a tensor with %" PRId64 " elements into shape %s (%" PRId64 " is not a multiple of %" PRId64 ")",
                      size, want, size, known);
    shape[infer] = size / known;
  } else if (known != size) {
    return tl_error(TL_INVALID_ARGUMENT, "cannot reshape a tensor with %" PRId64 " elements into shape %s (%" PRId64 " elements)",
                    size, want, known);
  }
  return TL_OK;
}

static tl_status reshape_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  int64_t shape[TL_MAX_RANK];
  tl_status s = reshape_plan(in[0], &attr[0], shape);
  return s ? s : tl_meta_emit(out, in[0]->dtype, attr[0].n, shape);
}

/* A view when the input is contiguous, else a contiguous copy. */
static tl_status reshape_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  int64_t shape[TL_MAX_RANK];
  tl_tensor *r;
  tl_status s = reshape_plan(&in[0]->meta, &attr[0], shape);
  if (!s) s = tl_tensor_reshape(in[0], attr[0].n, shape, &r);
  return s ? s : tl_list_push(out, r);
}

/* ---- transpose --------------------------------------------------------- */

/* The permutation (reversed dimensions by default); *rank is -1 when the
 * input's rank is unknown and no perm says it. */
static tl_status transpose_plan(const tl_meta *m, const tl_attr *pa, int *rank, int *perm) {
  int r = m->rank;
  if (!pa->present) {
    for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
    *rank = r;
    return TL_OK;
  }
  char p[TL_SHAPE_BUF];
  tl_shape_format(pa->n, pa->ints, p, sizeof p);
  if (r >= 0 && pa->n != r)
    return tl_error(TL_INVALID_ARGUMENT, "perm %s has %d entries but the tensor has rank %d", p, pa->n, r);
  if (pa->n > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "perm %s has %d entries; at most %d dimensions are supported", p, pa->n, TL_MAX_RANK);
  r = pa->n;
  bool seen[TL_MAX_RANK] = {false};
  for (int i = 0; i < r; i++) {
    int64_t v = pa->ints[i];
    if (v < 0 || v >= r)
      return tl_error(TL_INVALID_ARGUMENT, "perm %s: entry %d is %" PRId64 ", outside [0, %d)", p, i, v, r);
    if (seen[v]) return tl_error(TL_INVALID_ARGUMENT, "perm %s is not a permutation: %" PRId64 " appears twice", p, v);
    seen[v] = true;
    perm[i] = (int)v;
  }
  *rank = r;
  return TL_OK;
}

static tl_status transpose_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  int r, perm[TL_MAX_RANK];
  tl_status s = transpose_plan(in[0], &attr[0], &r, perm);
  if (s) return s;
  int64_t shape[TL_MAX_RANK];
  for (int i = 0; i < r; i++) shape[i] = in[0]->rank >= 0 ? in[0]->shape[perm[i]] : -1;
  return tl_meta_emit(out, in[0]->dtype, r, shape);
}

static tl_status transpose_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0];
  int r, perm[TL_MAX_RANK];
  tl_status s = transpose_plan(&t->meta, &attr[0], &r, perm);
  if (s) return s;
  int64_t shape[TL_MAX_RANK], strides[TL_MAX_RANK];
  for (int i = 0; i < r; i++) {
    shape[i] = t->shape[perm[i]];
    strides[i] = t->strides[perm[i]];
  }
  return tl_push_view(t, r, shape, strides, t->offset, out);
}

/* ---- expand_dims / squeeze --------------------------------------------- */

/* The new axis's position; -1 when the input's rank is unknown. */
static tl_status expand_dims_plan(const tl_meta *m, int64_t a, int *ax) {
  int r = m->rank;
  *ax = -1;
  if (r < 0) return TL_OK;
  if (a < -(r + 1) || a > r)
    return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " is out of range for expand_dims of a rank %d tensor (valid range [%d, %d])",
                    a, r, -(r + 1), r);
  if (r == TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "the result would have more than %d dimensions", TL_MAX_RANK);
  *ax = (int)(a < 0 ? a + r + 1 : a);
  return TL_OK;
}

static tl_status expand_dims_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *m = in[0];
  int ax;
  tl_status s = expand_dims_plan(m, attr[0].i, &ax);
  if (s || ax < 0) return s ? s : tl_meta_emit(out, m->dtype, -1, NULL);
  int64_t shape[TL_MAX_RANK];
  for (int i = 0, j = 0; i <= m->rank; i++) shape[i] = i == ax ? 1 : m->shape[j++];
  return tl_meta_emit(out, m->dtype, m->rank + 1, shape);
}

static tl_status expand_dims_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0];
  int r = t->rank, ax;
  tl_status s = expand_dims_plan(&t->meta, attr[0].i, &ax);
  if (s) return s;
  int64_t shape[TL_MAX_RANK], strides[TL_MAX_RANK];
  for (int i = 0, j = 0; i <= r; i++) {
    if (i == ax) {
      shape[i] = 1;
      strides[i] = j < r ? t->strides[j] * (t->shape[j] ? t->shape[j] : 1) : 1;
    } else {
      shape[i] = t->shape[j];
      strides[i] = t->strides[j];
      j++;
    }
  }
  return tl_push_view(t, r + 1, shape, strides, t->offset, out);
}

/* Which dimensions go. *known is false when the result's rank cannot be
 * told: unknown input rank, or an unknown dimension and no axis (it may or
 * may not be 1). An unknown dimension named in axis is taken to be 1. */
static tl_status squeeze_plan(const tl_op_def *op, const tl_meta *m, const tl_attr *axes, bool *drop, bool *known) {
  *known = m->rank >= 0;
  for (int i = 0; i < TL_MAX_RANK; i++) drop[i] = false;
  if (!*known) return TL_OK;
  if (!axes->present) {
    for (int i = 0; i < m->rank; i++) {
      if (m->shape[i] < 0) *known = false;
      drop[i] = m->shape[i] == 1;
    }
    return TL_OK;
  }
  for (int k = 0; k < axes->n; k++) {
    int a;
    tl_status s = tl_normalize_axis(op->name, axes->ints[k], m->rank, &a);
    if (s) return s;
    if (m->shape[a] >= 0 && m->shape[a] != 1)
      return tl_error(TL_INVALID_ARGUMENT, "cannot squeeze axis %" PRId64 ": its size is %" PRId64 ", not 1", axes->ints[k],
                      m->shape[a]);
    drop[a] = true;
  }
  return TL_OK;
}

static tl_status squeeze_infer(TL_INFER_ARGS) {
  (void)n_in;
  bool drop[TL_MAX_RANK], known;
  tl_status s = squeeze_plan(op, in[0], &attr[0], drop, &known);
  if (s || !known) return s ? s : tl_meta_emit(out, in[0]->dtype, -1, NULL);
  int64_t shape[TL_MAX_RANK];
  int r = 0;
  for (int i = 0; i < in[0]->rank; i++)
    if (!drop[i]) shape[r++] = in[0]->shape[i];
  return tl_meta_emit(out, in[0]->dtype, r, shape);
}

static tl_status squeeze_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  tl_tensor *t = in[0];
  bool drop[TL_MAX_RANK], known;
  tl_status s = squeeze_plan(op, &t->meta, &attr[0], drop, &known);
  if (s) return s;
  int64_t shape[TL_MAX_RANK], strides[TL_MAX_RANK];
  int r = 0;
  for (int i = 0; i < t->rank; i++)
    if (!drop[i]) {
      shape[r] = t->shape[i];
      strides[r++] = t->strides[i];
    }
  return tl_push_view(t, r, shape, strides, t->offset, out);
}

/* ---- identity / broadcast_to ------------------------------------------- */

static tl_status like_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  return tl_meta_push_like(out, in[0], TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* A new tensor object over the same data: an output is never the input
 * object itself, so a tape keys their gradients apart. */
static tl_status identity_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  const tl_tensor *t = in[0];
  return tl_push_view(t, t->rank, t->shape, t->strides, t->offset, out);
}

static tl_status broadcast_to_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *m = in[0];
  const tl_attr *sh = &attr[0];
  char a[TL_SHAPE_BUF], b[TL_SHAPE_BUF];
  tl_status s = tl_check_shape_attr(sh);
  if (s) return s;
  tl_shape_format(sh->n, sh->ints, b, sizeof b);
  bool ok = m->rank < 0 || sh->n >= m->rank;
  for (int i = 0; ok && i < m->rank; i++) {
    int64_t d = m->shape[m->rank - 1 - i], w = sh->ints[sh->n - 1 - i];
    ok = d == w || d == 1 || d < 0;
  }
  if (!ok) return tl_error(TL_INVALID_ARGUMENT, "cannot broadcast shape %s to shape %s", tl_meta_dims(m, a, sizeof a), b);
  return tl_meta_emit(out, m->dtype, sh->n, sh->ints);
}

static tl_status broadcast_to_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *res = tl_out(out, 0), *v;
  if (res->size == 0) return TL_OK;
  tl_status s = tl_tensor_broadcast_view(in[0], attr[0].n, attr[0].ints, &v);
  if (s) return s;
  s = tl_tensor_copy_into(res, v);
  tl_tensor_release(v);
  return s;
}

/* g (a broadcast result's gradient) summed back to x's shape: over the
 * leading dims and those of size 1 in x. broadcast_to's and broadcast_like's rule. */
static tl_status sum_to_input(const tl_tensor *x, tl_tensor *g, tl_tensor **out) {
  int lead = g->rank - x->rank, n = 0;
  int64_t axes[TL_MAX_RANK];
  for (int i = 0; i < g->rank; i++)
    if (i < lead || (x->shape[i - lead] == 1 && g->shape[i] != 1)) axes[n++] = i;
  if (n == 0) return tl_reshape_to(g, x->rank, x->shape, out);
  tl_tensor *t;
  tl_status s = tl_call("reduce_sum", 1, &g, 2,
                        (tl_named_attr[]){TL_A_INTS("axis", n, axes), TL_A_BOOL("keepdims", true)}, &t);
  if (s) return s;
  s = tl_reshape_to(t, x->rank, x->shape, out);
  tl_tensor_release(t);
  return s;
}

/* broadcast_like(input, like): input broadcast to like's shape as it is
 * when the op runs. Gradient rules use it where a shape is unknown until
 * then (a traced batch dimension); like only lends its shape. */
static tl_status broadcast_like_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  const tl_meta *m = in[0], *l = in[1];
  char a[TL_SHAPE_BUF], b[TL_SHAPE_BUF];
  bool ok = m->rank < 0 || l->rank < 0 || l->rank >= m->rank;
  for (int i = 0; ok && l->rank >= 0 && i < m->rank; i++) {
    int64_t d = m->shape[m->rank - 1 - i], w = l->shape[l->rank - 1 - i];
    ok = d == w || d == 1 || d < 0 || w < 0;
  }
  if (!ok)
    return tl_error(TL_INVALID_ARGUMENT, "cannot broadcast shape %s to shape %s", tl_meta_dims(m, a, sizeof a),
                    tl_meta_dims(l, b, sizeof b));
  return tl_meta_emit(out, m->dtype, l->rank, l->shape);
}

static tl_status broadcast_like_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *res = tl_out(out, 0), *v;
  if (res->size == 0) return TL_OK;
  tl_status s = tl_tensor_broadcast_view(in[0], in[1]->rank, in[1]->shape, &v);
  if (s) return s;
  s = tl_tensor_copy_into(res, v);
  tl_tensor_release(v);
  return s;
}

/* Summed back over what was broadcast: the leading dims and those of size
 * 1 in input (known in every case where input's shape is). */
static tl_status broadcast_like_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  return sum_to_input(in[0], grad_out[0], &grad_in[0]);
}

/* ---- size / rank / shape ------------------------------------------------ */

static tl_status check_index_dtype(tl_dtype d) {
  if (d != TL_INT32 && d != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "out_type must be int32 or int64, got %s", tl_dtypes[d].name);
  return TL_OK;
}

static tl_status size_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  tl_status s = check_index_dtype(attr[0].dtype);
  if (s) return s;
  int64_t n = tl_meta_numel(in[0]);
  if (attr[0].dtype == TL_INT32 && n > INT32_MAX)
    return tl_error(TL_INVALID_ARGUMENT, "size %" PRId64 " does not fit in int32 (use out_type=tf.int64)", n);
  return tl_meta_emit(out, attr[0].dtype, 0, NULL);
}

static tl_status size_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_store_i64(tl_tensor_data(tl_out(out, 0)), tl_out(out, 0)->dtype, 0, in[0]->size);
  return TL_OK;
}

static tl_status rank_infer(TL_INFER_ARGS) {
  TL_UNUSED_INFER_ARGS;
  return tl_meta_emit(out, TL_INT32, 0, NULL);
}

static tl_status rank_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  *(int32_t *)tl_tensor_data(tl_out(out, 0)) = in[0]->rank;
  return TL_OK;
}

static tl_status shape_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *m = in[0];
  tl_status s = check_index_dtype(attr[0].dtype);
  if (s) return s;
  for (int i = 0; i < m->rank; i++)
    if (attr[0].dtype == TL_INT32 && m->shape[i] > INT32_MAX)
      return tl_error(TL_INVALID_ARGUMENT, "dimension %d does not fit in int32 (use out_type=tf.int64)", i);
  int64_t n = m->rank;
  return tl_meta_emit(out, attr[0].dtype, 1, &n);
}

static tl_status shape_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *r = tl_out(out, 0);
  for (int i = 0; i < in[0]->rank; i++) tl_store_i64(tl_tensor_data(r), r->dtype, i, in[0]->shape[i]);
  return TL_OK;
}

/* ---- gradients --------------------------------------------------------- */
/* Written with ordinary ops (tl_call), so an outer tape records them and
 * gradients of gradients work. Each result has its input's shape. */

/* reshape, expand_dims, squeeze: the same elements back in the input's shape. */
static tl_status reshape_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  return tl_reshape_to(grad_out[0], in[0]->rank, in[0]->shape, &grad_in[0]);
}

static tl_status identity_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  grad_in[0] = tl_tensor_retain(grad_out[0]);
  return TL_OK;
}

static tl_status transpose_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  int r = in[0]->rank;
  int64_t inv[TL_MAX_RANK];
  for (int i = 0; i < r; i++) {
    int p = attr[0].present ? (int)attr[0].ints[i] : r - 1 - i;
    inv[p] = i;
  }
  return tl_call("transpose", 1, &grad_out[0], 1, (tl_named_attr[]){TL_A_INTS("perm", r, inv)}, &grad_in[0]);
}

/* Sum over the leading dimensions and those broadcast from 1 (kept), then
 * the input's shape. */
static tl_status broadcast_to_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  return sum_to_input(in[0], grad_out[0], &grad_in[0]);
}

#define VIEW TL_OP_KERNEL_ALLOCATES

tl_op_def tl_ops_shape[] = {
    {.name = "reshape", .inputs = "tensor", .attrs = "shape:ints", .infer = reshape_infer, .kernel[TL_CPU] = reshape_kernel,
     .grad = reshape_grad, .flags = VIEW, .doc = "Same elements in a new shape; one dimension may be -1 (inferred)."},
    {.name = "transpose", .inputs = "a", .attrs = "perm:ints?", .infer = transpose_infer, .kernel[TL_CPU] = transpose_kernel,
     .grad = transpose_grad, .flags = VIEW, .doc = "Permutes dimensions by perm (default: reversed)."},
    {.name = "expand_dims", .inputs = "input", .attrs = "axis:int", .infer = expand_dims_infer, .kernel[TL_CPU] = expand_dims_kernel,
     .grad = reshape_grad, .flags = VIEW, .doc = "Inserts a dimension of size 1 at axis (in [-rank-1, rank])."},
    {.name = "squeeze", .inputs = "input", .attrs = "axis:ints?", .infer = squeeze_infer, .kernel[TL_CPU] = squeeze_kernel,
     .grad = reshape_grad, .flags = VIEW, .doc = "Removes dimensions of size 1 (all of them, or those in axis)."},
    {.name = "broadcast_to", .inputs = "input", .attrs = "shape:ints", .infer = broadcast_to_infer,
     .kernel[TL_CPU] = broadcast_to_kernel, .grad = broadcast_to_grad,
     .doc = "Broadcasts the tensor to a compatible shape (numpy rules)."},
    {.name = "broadcast_like", .inputs = "input, like", .attrs = "", .infer = broadcast_like_infer,
     .kernel[TL_CPU] = broadcast_like_kernel, .grad = broadcast_like_grad, .api = "tf.raw_ops.broadcast_like",
     .doc = "Broadcasts input to the shape like has when the op runs (gradients of traced, dynamic shapes)."},
    {.name = "size", .inputs = "input", .attrs = "out_type:dtype=int32", .infer = size_infer, .kernel[TL_CPU] = size_kernel,
     .flags = TL_OP_NO_GRADIENT, .doc = "Number of elements, as a scalar tensor."},
    {.name = "rank", .inputs = "input", .attrs = "", .infer = rank_infer, .kernel[TL_CPU] = rank_kernel,
     .flags = TL_OP_NO_GRADIENT, .doc = "Number of dimensions, as an int32 scalar tensor."},
    {.name = "shape", .inputs = "input", .attrs = "out_type:dtype=int32", .infer = shape_infer, .kernel[TL_CPU] = shape_kernel,
     .flags = TL_OP_NO_GRADIENT, .doc = "The shape as a 1-D integer tensor (t.shape gives a TensorShape)."},
    {.name = "identity", .inputs = "input", .attrs = "", .infer = like_infer, .kernel[TL_CPU] = identity_kernel,
     .grad = identity_grad, .flags = VIEW, .doc = "Returns the input tensor."},
    {0},
};
