/* ops/concat.c — joining and cutting along an axis: concat, stack,
 * unstack, split.
 *
 * concat and stack copy into the output the dispatcher allocated from the
 * shape rule (a one-tensor concat is a copy too). unstack and split return
 * views of their input (TL_OP_KERNEL_ALLOCATES), one per piece, with
 * non-negative strides. Data moves by element size through
 * tl_tensor_copy_into, so every dtype works and inputs may have any
 * strides.
 *
 * Shape rules merge what the inputs know: a dimension unknown in one input
 * takes its value from another, a concatenated dimension is unknown when
 * any part of it is, and an input of unknown rank constrains nothing.
 * unstack needs to know how many pieces it makes: from the axis's size or
 * from num, as in TensorFlow.
 *
 * Gradients are the adjoint movements, written with ops: split for concat,
 * unstack for stack, stack/concat for unstack/split (zeros for pieces whose
 * gradient is NULL because nobody used them).
 */
#include "ops/movement.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A view of contiguous t restricted to [lo, lo+len) along axis. */
static tl_status axis_window(const tl_tensor *t, int axis, int64_t lo, int64_t len, tl_tensor **out) {
  int64_t shape[TL_MAX_RANK];
  memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->rank);
  shape[axis] = len;
  return tl_tensor_view(t->storage, t->dtype, t->rank, shape, t->strides, t->offset + (len ? lo * t->strides[axis] : 0), out);
}

/* The layout of t without dimension `ax`, at index k along it. */
static void drop_axis_layout(const tl_tensor *t, int ax, int64_t k, int64_t *shape, int64_t *strides, int64_t *offset) {
  for (int i = 0, j = 0; i < t->rank; i++)
    if (i != ax) {
      shape[j] = t->shape[i];
      strides[j++] = t->strides[i];
    }
  *offset = t->offset + k * t->strides[ax];
}

/* Index of the first input whose rank is known, -1 if none. */
static int first_ranked(const tl_meta *const *in, int n) {
  for (int i = 0; i < n; i++)
    if (in[i]->rank >= 0) return i;
  return -1;
}

/* ---- concat ------------------------------------------------------------ */

static tl_status concat_infer(TL_INFER_ARGS) {
  if (n_in == 0) return tl_error(TL_INVALID_ARGUMENT, "concat needs at least one tensor");
  int ref = first_ranked(in, n_in), ax;
  if (ref < 0) return tl_meta_emit(out, in[0]->dtype, -1, NULL);
  const tl_meta *t0 = in[ref];
  if (t0->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "cannot concatenate scalars (use tf.stack)");
  tl_status s = tl_normalize_axis(op->name, attr[0].i, t0->rank, &ax);
  if (s) return s;
  int64_t shape[TL_MAX_RANK];
  memcpy(shape, t0->shape, sizeof(int64_t) * (size_t)t0->rank);
  shape[ax] = 0;
  bool unknown_sum = false;
  for (int i = 0; i < n_in; i++) {
    const tl_meta *t = in[i];
    char a[TL_SHAPE_BUF], b[TL_SHAPE_BUF];
    if (t->rank < 0) {
      unknown_sum = true;
      continue;
    }
    if (t->rank != t0->rank)
      return tl_error(TL_INVALID_ARGUMENT, "values[%d] has rank %d but values[%d] has rank %d (shapes %s and %s)", i, t->rank,
                      ref, t0->rank, tl_meta_dims(t0, a, sizeof a), tl_meta_dims(t, b, sizeof b));
    for (int d = 0; d < t->rank; d++) {
      if (d == ax || t->shape[d] < 0) continue;
      if (shape[d] < 0) shape[d] = t->shape[d];
      else if (t->shape[d] != shape[d])
        return tl_error(TL_INVALID_ARGUMENT,
                        "dimension %d of values[%d] is %" PRId64 ", expected %" PRId64 " (shapes %s and %s; only axis %d may differ)",
                        d, i, t->shape[d], shape[d], tl_meta_dims(t0, a, sizeof a), tl_meta_dims(t, b, sizeof b), ax);
    }
    if (t->shape[ax] < 0) unknown_sum = true;
    else if (__builtin_add_overflow(shape[ax], t->shape[ax], &shape[ax]))
      return tl_error(TL_INVALID_ARGUMENT, "the concatenated dimension overflows");
  }
  if (unknown_sum) shape[ax] = -1;
  return tl_meta_emit(out, t0->dtype, t0->rank, shape);
}

static tl_status concat_kernel(TL_KERNEL_ARGS) {
  tl_tensor *r = tl_out(out, 0);
  int ax;
  tl_status s = tl_normalize_axis(op->name, attr[0].i, r->rank, &ax);
  int64_t at = 0;
  for (int i = 0; i < n_in && r->size && !s; i++) {
    if (in[i]->size) {
      tl_tensor *w;
      s = axis_window(r, ax, at, in[i]->shape[ax], &w);
      if (s) break;
      s = tl_tensor_copy_into(w, in[i]);
      tl_tensor_release(w);
    }
    at += in[i]->shape[ax];
  }
  return s;
}

/* ---- stack ------------------------------------------------------------- */

/* The new axis's position for stacking rank-r pieces. */
static tl_status stack_axis(int64_t a, int r, int *ax) {
  if (a < -(r + 1) || a > r)
    return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " is out of range for stacking rank %d tensors (valid range [%d, %d])",
                    a, r, -(r + 1), r);
  if (r == TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "the result would have more than %d dimensions", TL_MAX_RANK);
  *ax = (int)(a < 0 ? a + r + 1 : a);
  return TL_OK;
}

static tl_status stack_infer(TL_INFER_ARGS) {
  (void)op;
  if (n_in == 0) return tl_error(TL_INVALID_ARGUMENT, "stack needs at least one tensor");
  int ref = first_ranked(in, n_in), ax;
  if (ref < 0) return tl_meta_emit(out, in[0]->dtype, -1, NULL);
  const tl_meta *t0 = in[ref];
  int r = t0->rank;
  tl_status s = stack_axis(attr[0].i, r, &ax);
  if (s) return s;
  int64_t piece[TL_MAX_RANK];
  memcpy(piece, t0->shape, sizeof(int64_t) * (size_t)r);
  for (int i = 0; i < n_in; i++) {
    const tl_meta *t = in[i];
    bool ok = t->rank < 0 || t->rank == r;
    for (int d = 0; ok && t->rank >= 0 && d < r; d++) {
      if (t->shape[d] < 0) continue;
      if (piece[d] < 0) piece[d] = t->shape[d];
      else ok = t->shape[d] == piece[d];
    }
    if (!ok) {
      char x[TL_SHAPE_BUF], y[TL_SHAPE_BUF];
      return tl_error(TL_INVALID_ARGUMENT, "values[%d] has shape %s but values[%d] has shape %s (stacked tensors must have one shape)",
                      i, tl_meta_dims(t, x, sizeof x), ref, tl_meta_dims(t0, y, sizeof y));
    }
  }
  int64_t shape[TL_MAX_RANK];
  for (int i = 0, j = 0; i <= r; i++) shape[i] = i == ax ? n_in : piece[j++];
  return tl_meta_emit(out, t0->dtype, r + 1, shape);
}

static tl_status stack_kernel(TL_KERNEL_ARGS) {
  (void)op;
  tl_tensor *res = tl_out(out, 0);
  int ax;
  tl_status s = stack_axis(attr[0].i, in[0]->rank, &ax);
  for (int i = 0; i < n_in && res->size && !s; i++) {
    int64_t shape[TL_MAX_RANK], strides[TL_MAX_RANK], off;
    tl_tensor *w;
    drop_axis_layout(res, ax, i, shape, strides, &off);
    s = tl_tensor_view(res->storage, res->dtype, res->rank - 1, shape, strides, off, &w);
    if (s) break;
    s = tl_tensor_copy_into(w, in[i]);
    tl_tensor_release(w);
  }
  return s;
}

/* ---- unstack ----------------------------------------------------------- */

/* How many pieces, along which axis (-1: unknown rank). */
static tl_status unstack_plan(const tl_op_def *op, const tl_meta *m, const tl_attr *attr, int64_t *count, int *ax) {
  const tl_attr *num = &attr[0];
  *ax = -1;
  if (m->rank < 0) {
    if (!num->present)
      return tl_error(TL_INVALID_ARGUMENT, "cannot infer num from a tensor of unknown rank; pass num");
    if (num->i < 0) return tl_error(TL_INVALID_ARGUMENT, "num must be non-negative, got %" PRId64, num->i);
    *count = num->i;
    return TL_OK;
  }
  tl_status s = tl_normalize_axis(op->name, attr[1].i, m->rank, ax);
  if (s) return s;
  int64_t dim = m->shape[*ax];
  if (dim < 0 && !num->present) {
    char d[TL_SHAPE_BUF];
    return tl_error(TL_INVALID_ARGUMENT, "cannot infer num from shape %s (dimension %d is unknown); pass num",
                    tl_meta_dims(m, d, sizeof d), *ax);
  }
  if (num->present && dim >= 0 && num->i != dim)
    return tl_error(TL_INVALID_ARGUMENT, "num is %" PRId64 " but dimension %d has size %" PRId64, num->i, *ax, dim);
  if (dim < 0 && num->i < 0) return tl_error(TL_INVALID_ARGUMENT, "num must be non-negative, got %" PRId64, num->i);
  *count = dim >= 0 ? dim : num->i;
  return TL_OK;
}

static tl_status unstack_infer(TL_INFER_ARGS) {
  (void)n_in;
  const tl_meta *m = in[0];
  int64_t count = 0;
  int ax;
  tl_status s = unstack_plan(op, m, attr, &count, &ax);
  int64_t shape[TL_MAX_RANK];
  for (int i = 0, j = 0; ax >= 0 && i < m->rank; i++)
    if (i != ax) shape[j++] = m->shape[i];
  for (int64_t k = 0; k < count && !s; k++) s = tl_meta_emit(out, m->dtype, ax >= 0 ? m->rank - 1 : -1, shape);
  return s;
}

static tl_status unstack_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  tl_tensor *t = in[0];
  int64_t count = 0;
  int ax;
  tl_status s = unstack_plan(op, &t->meta, attr, &count, &ax);
  for (int64_t k = 0; k < count && !s; k++) {
    int64_t shape[TL_MAX_RANK], strides[TL_MAX_RANK], off;
    drop_axis_layout(t, ax, t->size ? k : 0, shape, strides, &off);
    s = tl_push_view(t, t->rank - 1, shape, strides, off, out);
  }
  return s;
}

/* ---- split ------------------------------------------------------------- */

/* The pieces' sizes along the axis (malloc'd into *sizes, -1 where unknown)
 * and their count; *ax is -1 when the input's rank is unknown. */
static tl_status split_plan(const tl_op_def *op, const tl_meta *m, const tl_attr *attr, int64_t **sizes, int *n, int *ax) {
  const tl_attr *ns = &attr[0];
  *sizes = NULL;
  *ax = -1;
  tl_status s = m->rank < 0 ? TL_OK : tl_normalize_axis(op->name, attr[1].i, m->rank, ax);
  if (s) return s;
  int64_t dim = *ax >= 0 ? m->shape[*ax] : -1;
  if (ns->n == 1) {
    int64_t count = ns->ints[0];
    if (count <= 0) return tl_error(TL_INVALID_ARGUMENT, "num_or_size_splits must be positive, got %" PRId64, count);
    if (dim >= 0 && dim % count != 0)
      return tl_error(TL_INVALID_ARGUMENT, "cannot split dimension %d of size %" PRId64 " into %" PRId64 " equal parts", *ax, dim,
                      count);
    if (count > 1 << 20) return tl_error(TL_INVALID_ARGUMENT, "too many splits (%" PRId64 ")", count);
    *n = (int)count;
    if (!(*sizes = malloc(sizeof **sizes * (size_t)count))) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    for (int i = 0; i < *n; i++) (*sizes)[i] = dim >= 0 ? dim / count : -1;
    return TL_OK;
  }
  *n = ns->n;
  char l[TL_SHAPE_BUF];
  tl_shape_format(ns->n, ns->ints, l, sizeof l);
  int infer = -1;
  int64_t sum = 0;
  for (int i = 0; i < ns->n; i++) {
    if (ns->ints[i] == -1) {
      if (infer >= 0) return tl_error(TL_INVALID_ARGUMENT, "size_splits %s has more than one -1", l);
      infer = i;
    } else if (ns->ints[i] < 0) {
      return tl_error(TL_INVALID_ARGUMENT, "size_splits %s has a negative size at position %d", l, i);
    } else {
      sum += ns->ints[i];
    }
  }
  if (dim >= 0 && (infer >= 0 ? sum > dim : sum != dim))
    return tl_error(TL_INVALID_ARGUMENT, "size_splits %s must sum to the size of dimension %d (%" PRId64 "), got %" PRId64, l,
                    *ax, dim, sum);
  if (!(*sizes = malloc(sizeof **sizes * (size_t)(ns->n ? ns->n : 1)))) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int i = 0; i < ns->n; i++) (*sizes)[i] = i != infer ? ns->ints[i] : dim >= 0 ? dim - sum : -1;
  return TL_OK;
}

static tl_status split_infer(TL_INFER_ARGS) {
  (void)n_in;
  const tl_meta *m = in[0];
  int64_t *sizes;
  int n = 0, ax;
  tl_status s = split_plan(op, m, attr, &sizes, &n, &ax);
  for (int i = 0; i < n && !s; i++) {
    tl_meta *p = tl_meta_push_like(out, m, TL_DTYPE_COUNT);
    if (!p) s = TL_RESOURCE_EXHAUSTED;
    else if (ax >= 0) p->shape[ax] = sizes[i];
  }
  free(sizes);
  return s;
}

static tl_status split_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  tl_tensor *t = in[0];
  int64_t *sizes, at = 0;
  int n = 0, ax;
  tl_status s = split_plan(op, &t->meta, attr, &sizes, &n, &ax);
  for (int i = 0; i < n && !s; i++) {
    tl_tensor *v;
    s = axis_window(t, ax, t->size ? at : 0, sizes[i], &v);
    if (!s) s = tl_list_push(out, v);
    at += sizes[i];
  }
  free(sizes);
  return s;
}

/* ---- gradients --------------------------------------------------------- */
/* Written with ordinary ops (tl_call), so an outer tape records them and
 * gradients of gradients work. The list-output ops (unstack, split) may get
 * NULL for outputs nobody used: those count as zeros. */

/* Moves the n pieces of a split/unstack of the output gradient into grad_in. */
static tl_status parts_to_gin(tl_tensor_list *parts, int n, tl_tensor **grad_in) {
  if (parts->n != n) {
    tl_list_clear(parts);
    return tl_error(TL_INTERNAL, "internal: %d gradient pieces for %d inputs", parts->n, n);
  }
  for (int i = 0; i < n; i++) {
    grad_in[i] = parts->items[i];
    parts->items[i] = NULL;
  }
  tl_list_clear(parts);
  return TL_OK;
}

/* Concat: the pieces of g along the axis, as split would cut them. */
static tl_status concat_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (n_in == 1) {
    grad_in[0] = tl_tensor_retain(grad_out[0]);
    return TL_OK;
  }
  int ax;
  tl_status s = tl_normalize_axis(op->name, attr[0].i, in[0]->rank, &ax);
  if (s) return s;
  int64_t *sizes = malloc(sizeof *sizes * (size_t)n_in);
  if (!sizes) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int i = 0; i < n_in; i++) sizes[i] = in[i]->shape[ax];
  tl_tensor_list parts;
  s = tl_call_list("split", 1, &grad_out[0], 2,
                   (tl_named_attr[]){TL_A_INTS("num_or_size_splits", n_in, sizes), TL_A_INT("axis", ax)}, &parts);
  free(sizes);
  if (s) return s;
  return parts_to_gin(&parts, n_in, grad_in);
}

static tl_status stack_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor_list parts;
  tl_status s = tl_call_list("unstack", 1, &grad_out[0], 1, (tl_named_attr[]){TL_A_INT("axis", attr[0].i)}, &parts);
  if (s) return s;
  return parts_to_gin(&parts, n_in, grad_in);
}

/* The output gradients of a list-output op, zeros standing in for the NULL
 * ones (zeros_like: on the outputs' device); then `join` (stack or concat)
 * along axis. */
static tl_status join_grads(const char *join, int axis, tl_tensor *const *out, int n_out, tl_tensor *const *grad_out,
                            tl_tensor **res) {
  tl_tensor **parts = calloc((size_t)n_out, sizeof *parts);
  if (!parts) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  tl_status s = TL_OK;
  for (int i = 0; i < n_out && !s; i++) {
    if (grad_out[i]) parts[i] = tl_tensor_retain(grad_out[i]);
    else s = tl_call("zeros_like", 1, &out[i], 0, NULL, &parts[i]);
  }
  if (!s) s = tl_call(join, n_out, parts, 1, (tl_named_attr[]){TL_A_INT("axis", axis)}, res);
  for (int i = 0; i < n_out; i++) tl_tensor_release(parts[i]);
  free(parts);
  return s;
}

static tl_status unstack_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  int ax;
  tl_status s = tl_normalize_axis(op->name, attr[1].i, in[0]->rank, &ax);
  return s ? s : join_grads("stack", ax, out, n_out, grad_out, &grad_in[0]);
}

static tl_status split_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  int ax;
  tl_status s = tl_normalize_axis(op->name, attr[1].i, in[0]->rank, &ax);
  if (s) return s;
  if (n_out == 1 && grad_out[0]) {
    grad_in[0] = tl_tensor_retain(grad_out[0]);
    return TL_OK;
  }
  return join_grads("concat", ax, out, n_out, grad_out, &grad_in[0]);
}

tl_op_def tl_ops_concat[] = {
    {.name = "concat", .inputs = "values[]", .attrs = "axis:int", .infer = concat_infer, .kernel[TL_CPU] = concat_kernel,
     .grad = concat_grad, .flags = TL_OP_SAME_DTYPE, .doc = "Joins tensors along an existing axis."},
    {.name = "stack", .inputs = "values[]", .attrs = "axis:int=0", .infer = stack_infer, .kernel[TL_CPU] = stack_kernel,
     .grad = stack_grad, .flags = TL_OP_SAME_DTYPE, .doc = "Joins same-shaped tensors along a new axis."},
    {.name = "unstack", .inputs = "value", .attrs = "num:int?, axis:int=0", .infer = unstack_infer,
     .kernel[TL_CPU] = unstack_kernel, .grad = unstack_grad, .flags = TL_OP_LIST_OUTPUT | TL_OP_KERNEL_ALLOCATES,
     .doc = "Splits a tensor into a list of its slices along axis."},
    {.name = "split", .inputs = "value", .attrs = "num_or_size_splits:ints, axis:int=0", .infer = split_infer,
     .kernel[TL_CPU] = split_kernel, .grad = split_grad, .flags = TL_OP_LIST_OUTPUT | TL_OP_KERNEL_ALLOCATES,
     .doc = "Splits along axis into n equal parts (one integer) or parts of the given sizes (a list; one -1 allowed)."},
    {0},
};
