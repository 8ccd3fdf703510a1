/* ops/shape.c — shape ops: reshape, transpose, expand_dims, squeeze, concat,
 * stack, unstack, split, tile, pad, reverse, broadcast_to, size, rank,
 * shape, identity.
 *
 * These ops move data and never compute on it, so they are written once for
 * every dtype in terms of views and tl_tensor_copy_into (which iterates any
 * strides, including the 0 strides of broadcast views and negative ones).
 * Ops that only re-describe the data (reshape of a contiguous tensor,
 * transpose, expand_dims, squeeze, unstack, split) return views sharing the
 * input's storage; tensors are immutable, so a view is never observable.
 * Views made here always have non-negative strides: reverse copies.
 * No output is ever the input object itself (identity and a one-tensor
 * concat return new views): a tape keys gradients by tensor object.
 *
 * Gradient rules are in each op's record and written with ops: the
 * adjoint data movement (split for concat, unstack for stack, reduce_sum
 * for tile and broadcast_to, slice/reverse/pad folding for pad). size,
 * rank and shape are not differentiable.
 */
#include "tl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SHAPE_BUF 200

static tl_status view_of(const tl_tensor *t, int rank, const int64_t *shape, const int64_t *strides,
                         int64_t offset, tl_tensor **out) {
  return tl_tensor_view(t->storage, t->dtype, rank, shape, strides, offset, out);
}

/* A view of the contiguous tensor `out` restricted to [lo, lo+len) along axis. */
static tl_status axis_window(const tl_tensor *t, int axis, int64_t lo, int64_t len, tl_tensor **out) {
  int64_t shape[TL_MAX_RANK];
  memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->rank);
  shape[axis] = len;
  return view_of(t, t->rank, shape, t->strides, t->offset + (len ? lo * t->strides[axis] : 0), out);
}

static tl_status push(tl_tensor_list *out, tl_tensor *t) { return tl_list_push(out, t); }

/* A new tensor object over the same data: an output is never the input
 * object itself, so a tape keys their gradients apart. */
static tl_status same_view(const tl_tensor *t, tl_tensor_list *out) {
  tl_tensor *v;
  tl_status s = view_of(t, t->rank, t->shape, t->strides, t->offset, &v);
  return s ? s : push(out, v);
}

/* ---- reshape ----------------------------------------------------------- */

static tl_status reshape_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                             tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0];
  const tl_attr *s = &attr[0];
  char want[SHAPE_BUF];
  tl_shape_format(s->n, s->ints, want, sizeof want);
  if (s->n > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "shape %s has %d dimensions; at most %d are supported", want, s->n,
                    TL_MAX_RANK);
  int64_t shape[TL_MAX_RANK], known = 1;
  int infer = -1;
  for (int i = 0; i < s->n; i++) {
    int64_t v = s->ints[i];
    shape[i] = v;
    if (v == -1) {
      if (infer >= 0) return tl_error(TL_INVALID_ARGUMENT, "shape %s has more than one -1 (only one dimension can be inferred)", want);
      infer = i;
    } else if (v < 0) {
      return tl_error(TL_INVALID_ARGUMENT, "dimension %d of shape %s is negative", i, want);
    } else if (__builtin_mul_overflow(known, v, &known)) {
      return tl_error(TL_INVALID_ARGUMENT, "shape %s is too large", want);
    }
  }
  if (infer >= 0) {
    if (known == 0) {
      if (t->size != 0)
        return tl_error(TL_INVALID_ARGUMENT, "cannot reshape a tensor with %" PRId64 " elements into shape %s", t->size, want);
      return tl_error(TL_INVALID_ARGUMENT,
                      "cannot infer the -1 in shape %s for a tensor with 0 elements (the other dimensions multiply to 0)", want);
    }
    if (t->size % known != 0)
      return tl_error(TL_INVALID_ARGUMENT,
                      "cannot reshape a tensor with %" PRId64 " elements into shape %s (%" PRId64 " is not a multiple of %" PRId64 ")",
                      t->size, want, t->size, known);
    shape[infer] = t->size / known;
  } else if (known != t->size) {
    return tl_error(TL_INVALID_ARGUMENT, "cannot reshape a tensor with %" PRId64 " elements into shape %s (%" PRId64 " elements)",
                    t->size, want, known);
  }
  tl_tensor *r;
  tl_status st = tl_tensor_reshape(t, s->n, shape, &r);
  if (st) return st;
  return push(out, r);
}

/* ---- transpose --------------------------------------------------------- */

static tl_status transpose_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                               tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0];
  int r = t->rank;
  int perm[TL_MAX_RANK];
  if (!attr[0].present) {
    for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
  } else {
    char p[SHAPE_BUF];
    tl_shape_format(attr[0].n, attr[0].ints, p, sizeof p);
    if (attr[0].n != r)
      return tl_error(TL_INVALID_ARGUMENT, "perm %s has %d entries but the tensor has rank %d", p, attr[0].n, r);
    bool seen[TL_MAX_RANK] = {false};
    for (int i = 0; i < r; i++) {
      int64_t v = attr[0].ints[i];
      if (v < 0 || v >= r)
        return tl_error(TL_INVALID_ARGUMENT, "perm %s: entry %d is %" PRId64 ", outside [0, %d)", p, i, v, r);
      if (seen[v]) return tl_error(TL_INVALID_ARGUMENT, "perm %s is not a permutation: %" PRId64 " appears twice", p, v);
      seen[v] = true;
      perm[i] = (int)v;
    }
  }
  int64_t shape[TL_MAX_RANK], strides[TL_MAX_RANK];
  for (int i = 0; i < r; i++) {
    shape[i] = t->shape[perm[i]];
    strides[i] = t->strides[perm[i]];
  }
  tl_tensor *v;
  tl_status s = view_of(t, r, shape, strides, t->offset, &v);
  if (s) return s;
  return push(out, v);
}

/* ---- expand_dims / squeeze --------------------------------------------- */

static tl_status expand_dims_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                 tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0];
  int r = t->rank;
  int64_t a = attr[0].i;
  if (a < -(r + 1) || a > r)
    return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " is out of range for expand_dims of a rank %d tensor (valid range [%d, %d])",
                    a, r, -(r + 1), r);
  if (r == TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "the result would have more than %d dimensions", TL_MAX_RANK);
  int ax = (int)(a < 0 ? a + r + 1 : a);
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
  tl_tensor *v;
  tl_status s = view_of(t, r + 1, shape, strides, t->offset, &v);
  if (s) return s;
  return push(out, v);
}

static tl_status squeeze_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                             tl_tensor_list *out) {
  (void)n_in;
  tl_tensor *t = in[0];
  bool drop[TL_MAX_RANK] = {false};
  if (!attr[0].present) {
    for (int i = 0; i < t->rank; i++) drop[i] = t->shape[i] == 1;
  } else {
    for (int k = 0; k < attr[0].n; k++) {
      int a;
      tl_status s = tl_normalize_axis(op->name, attr[0].ints[k], t->rank, &a);
      if (s) return s;
      if (t->shape[a] != 1)
        return tl_error(TL_INVALID_ARGUMENT, "cannot squeeze axis %" PRId64 ": its size is %" PRId64 ", not 1",
                        attr[0].ints[k], t->shape[a]);
      drop[a] = true;
    }
  }
  int64_t shape[TL_MAX_RANK], strides[TL_MAX_RANK];
  int r = 0;
  for (int i = 0; i < t->rank; i++)
    if (!drop[i]) {
      shape[r] = t->shape[i];
      strides[r++] = t->strides[i];
    }
  tl_tensor *v;
  tl_status s = view_of(t, r, shape, strides, t->offset, &v);
  if (s) return s;
  return push(out, v);
}

/* ---- concat / stack / unstack / split ---------------------------------- */

static tl_status concat_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                            tl_tensor_list *out) {
  if (n_in == 0) return tl_error(TL_INVALID_ARGUMENT, "concat needs at least one tensor");
  const tl_tensor *t0 = in[0];
  if (t0->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "cannot concatenate scalars (use tf.stack)");
  int ax;
  tl_status s = tl_normalize_axis(op->name, attr[0].i, t0->rank, &ax);
  if (s) return s;
  int64_t shape[TL_MAX_RANK];
  memcpy(shape, t0->shape, sizeof(int64_t) * (size_t)t0->rank);
  shape[ax] = 0;
  for (int i = 0; i < n_in; i++) {
    const tl_tensor *t = in[i];
    char a[SHAPE_BUF], b[SHAPE_BUF];
    if (t->rank != t0->rank)
      return tl_error(TL_INVALID_ARGUMENT, "values[%d] has rank %d but values[0] has rank %d (shapes %s and %s)", i, t->rank,
                      t0->rank, tl_shape_format(t0->rank, t0->shape, a, sizeof a),
                      tl_shape_format(t->rank, t->shape, b, sizeof b));
    for (int d = 0; d < t->rank; d++)
      if (d != ax && t->shape[d] != t0->shape[d])
        return tl_error(TL_INVALID_ARGUMENT,
                        "dimension %d of values[%d] is %" PRId64 ", expected %" PRId64 " (shapes %s and %s; only axis %d may differ)",
                        d, i, t->shape[d], t0->shape[d], tl_shape_format(t0->rank, t0->shape, a, sizeof a),
                        tl_shape_format(t->rank, t->shape, b, sizeof b), ax);
    if (__builtin_add_overflow(shape[ax], t->shape[ax], &shape[ax]))
      return tl_error(TL_INVALID_ARGUMENT, "the concatenated dimension overflows");
  }
  if (n_in == 1) return same_view(in[0], out);
  tl_tensor *r;
  s = tl_tensor_new(t0->dtype, t0->rank, shape, &r);
  if (s) return s;
  int64_t at = 0;
  for (int i = 0; i < n_in && r->size; i++) {
    if (in[i]->size == 0) {
      at += in[i]->shape[ax];
      continue;
    }
    tl_tensor *w;
    s = axis_window(r, ax, at, in[i]->shape[ax], &w);
    if (s) goto fail;
    s = tl_tensor_copy_into(w, in[i]);
    tl_tensor_release(w);
    if (s) goto fail;
    at += in[i]->shape[ax];
  }
  return push(out, r);
fail:
  tl_tensor_release(r);
  return s;
}

/* A view of t without dimension `ax`, at index k along it. */
static tl_status drop_axis_view(const tl_tensor *t, int ax, int64_t k, tl_tensor **out) {
  int64_t shape[TL_MAX_RANK], strides[TL_MAX_RANK];
  for (int i = 0, j = 0; i < t->rank; i++)
    if (i != ax) {
      shape[j] = t->shape[i];
      strides[j++] = t->strides[i];
    }
  return view_of(t, t->rank - 1, shape, strides, t->offset + k * t->strides[ax], out);
}

static tl_status stack_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                           tl_tensor_list *out) {
  (void)op;
  if (n_in == 0) return tl_error(TL_INVALID_ARGUMENT, "stack needs at least one tensor");
  const tl_tensor *t0 = in[0];
  int r = t0->rank;
  int64_t a = attr[0].i;
  if (a < -(r + 1) || a > r)
    return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " is out of range for stacking rank %d tensors (valid range [%d, %d])",
                    a, r, -(r + 1), r);
  if (r == TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "the result would have more than %d dimensions", TL_MAX_RANK);
  int ax = (int)(a < 0 ? a + r + 1 : a);
  for (int i = 1; i < n_in; i++)
    if (!tl_tensor_same_shape(in[i], t0)) {
      char x[SHAPE_BUF], y[SHAPE_BUF];
      return tl_error(TL_INVALID_ARGUMENT, "values[%d] has shape %s but values[0] has shape %s (stacked tensors must have one shape)",
                      i, tl_shape_format(in[i]->rank, in[i]->shape, x, sizeof x), tl_shape_format(r, t0->shape, y, sizeof y));
    }
  int64_t shape[TL_MAX_RANK];
  for (int i = 0, j = 0; i <= r; i++) shape[i] = i == ax ? n_in : t0->shape[j++];
  tl_tensor *res;
  tl_status s = tl_tensor_new(t0->dtype, r + 1, shape, &res);
  if (s) return s;
  for (int i = 0; i < n_in && res->size; i++) {
    tl_tensor *w;
    s = drop_axis_view(res, ax, i, &w);
    if (s) goto fail;
    s = tl_tensor_copy_into(w, in[i]);
    tl_tensor_release(w);
    if (s) goto fail;
  }
  return push(out, res);
fail:
  tl_tensor_release(res);
  return s;
}

static tl_status unstack_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                             tl_tensor_list *out) {
  (void)n_in;
  tl_tensor *t = in[0];
  int ax;
  tl_status s = tl_normalize_axis(op->name, attr[1].i, t->rank, &ax);
  if (s) return s;
  if (attr[0].present && attr[0].i != t->shape[ax])
    return tl_error(TL_INVALID_ARGUMENT, "num is %" PRId64 " but dimension %d has size %" PRId64, attr[0].i, ax, t->shape[ax]);
  for (int64_t k = 0; k < t->shape[ax]; k++) {
    tl_tensor *v;
    s = drop_axis_view(t, ax, t->size ? k : 0, &v);
    if (s) return s;
    s = push(out, v);
    if (s) return s;
  }
  return TL_OK;
}

static tl_status split_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                           tl_tensor_list *out) {
  (void)n_in;
  tl_tensor *t = in[0];
  int ax;
  tl_status s = tl_normalize_axis(op->name, attr[1].i, t->rank, &ax);
  if (s) return s;
  int64_t dim = t->shape[ax];
  const tl_attr *ns = &attr[0];
  int64_t *sizes = NULL;
  int n;
  if (ns->n == 1) {
    int64_t count = ns->ints[0];
    if (count <= 0) return tl_error(TL_INVALID_ARGUMENT, "num_or_size_splits must be positive, got %" PRId64, count);
    if (dim % count != 0)
      return tl_error(TL_INVALID_ARGUMENT, "cannot split dimension %d of size %" PRId64 " into %" PRId64 " equal parts", ax, dim,
                      count);
    if (count > 1 << 20) return tl_error(TL_INVALID_ARGUMENT, "too many splits (%" PRId64 ")", count);
    n = (int)count;
    sizes = malloc(sizeof *sizes * (size_t)n);
    if (!sizes) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    for (int i = 0; i < n; i++) sizes[i] = dim / count;
  } else {
    n = ns->n;
    char l[SHAPE_BUF];
    tl_shape_format(ns->n, ns->ints, l, sizeof l);
    int infer = -1;
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
      if (ns->ints[i] == -1) {
        if (infer >= 0) return tl_error(TL_INVALID_ARGUMENT, "size_splits %s has more than one -1", l);
        infer = i;
      } else if (ns->ints[i] < 0) {
        return tl_error(TL_INVALID_ARGUMENT, "size_splits %s has a negative size at position %d", l, i);
      } else {
        sum += ns->ints[i];
      }
    }
    if (infer >= 0 ? sum > dim : sum != dim)
      return tl_error(TL_INVALID_ARGUMENT, "size_splits %s must sum to the size of dimension %d (%" PRId64 "), got %" PRId64,
                      l, ax, dim, sum);
    sizes = malloc(sizeof *sizes * (size_t)(n ? n : 1));
    if (!sizes) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    for (int i = 0; i < n; i++) sizes[i] = i == infer ? dim - sum : ns->ints[i];
  }
  int64_t at = 0;
  for (int i = 0; i < n; i++) {
    tl_tensor *v;
    s = axis_window(t, ax, t->size ? at : 0, sizes[i], &v);
    if (!s) s = push(out, v);
    if (s) break;
    at += sizes[i];
  }
  free(sizes);
  return s;
}

/* ---- tile / pad / reverse / broadcast_to ------------------------------- */

static tl_status tile_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                          tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0];
  const tl_attr *m = &attr[0];
  int r = t->rank;
  char ms[SHAPE_BUF];
  tl_shape_format(m->n, m->ints, ms, sizeof ms);
  if (m->n != r) return tl_error(TL_INVALID_ARGUMENT, "multiples %s has %d entries but the tensor has rank %d", ms, m->n, r);
  int64_t shape[TL_MAX_RANK];
  for (int i = 0; i < r; i++) {
    if (m->ints[i] < 0) return tl_error(TL_INVALID_ARGUMENT, "multiples %s has a negative entry at position %d", ms, i);
    if (__builtin_mul_overflow(t->shape[i], m->ints[i], &shape[i]))
      return tl_error(TL_RESOURCE_EXHAUSTED, "tiled shape is too large");
  }
  tl_tensor *res;
  tl_status s = tl_tensor_new(t->dtype, r, shape, &res);
  if (s) return s;
  if (res->size == 0) return push(out, res);
  /* Copy the input into the corner, then replicate the filled block along
   * each dimension in turn: sum(multiples - 1) block copies in all. */
  int64_t cur[TL_MAX_RANK];
  memcpy(cur, t->shape, sizeof(int64_t) * (size_t)r);
  tl_tensor *src = NULL, *dst = NULL;
  s = view_of(res, r, cur, res->strides, 0, &dst);
  if (!s) s = tl_tensor_copy_into(dst, t);
  tl_tensor_release(dst);
  for (int d = 0; d < r && !s; d++) {
    s = view_of(res, r, cur, res->strides, 0, &src);
    for (int64_t k = 1; k < m->ints[d] && !s; k++) {
      s = view_of(res, r, cur, res->strides, k * t->shape[d] * res->strides[d], &dst);
      if (!s) s = tl_tensor_copy_into(dst, src);
      tl_tensor_release(dst);
    }
    tl_tensor_release(src);
    cur[d] = shape[d];
  }
  if (s) {
    tl_tensor_release(res);
    return s;
  }
  return push(out, res);
}

typedef enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_SYMMETRIC } pad_mode;

/* Copies the slab at index `from` along dim d to index `to`; dims < d span
 * the whole output, dims > d only the interior. */
static tl_status pad_copy_slab(tl_tensor *res, const tl_tensor *t, const int64_t *before, int d, int64_t from, int64_t to) {
  int64_t shape[TL_MAX_RANK], off_from = 0, off_to = 0;
  for (int i = 0; i < res->rank; i++) {
    int64_t lo = i < d ? 0 : i == d ? 0 : before[i];
    shape[i] = i < d ? res->shape[i] : i == d ? 1 : t->shape[i];
    off_from += (i == d ? from : lo) * res->strides[i];
    off_to += (i == d ? to : lo) * res->strides[i];
  }
  tl_tensor *a, *b;
  tl_status s = view_of(res, res->rank, shape, res->strides, off_from, &a);
  if (s) return s;
  s = view_of(res, res->rank, shape, res->strides, off_to, &b);
  if (!s) s = tl_tensor_copy_into(b, a);
  tl_tensor_release(a);
  tl_tensor_release(b);
  return s;
}

static tl_status pad_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                         tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0], *p = in[1];
  int r = t->rank;
  const char *ms = attr[0].s ? attr[0].s : "CONSTANT";
  pad_mode mode;
  if (strcasecmp(ms, "CONSTANT") == 0) mode = PAD_CONSTANT;
  else if (strcasecmp(ms, "REFLECT") == 0) mode = PAD_REFLECT;
  else if (strcasecmp(ms, "SYMMETRIC") == 0) mode = PAD_SYMMETRIC;
  else return tl_error(TL_INVALID_ARGUMENT, "mode must be CONSTANT, REFLECT or SYMMETRIC, got '%s'", ms);
  char ps[SHAPE_BUF];
  tl_shape_format(p->rank, p->shape, ps, sizeof ps);
  if (!tl_dtype_is_integer(p->dtype))
    return tl_error(TL_INVALID_ARGUMENT, "paddings must be integers, got %s", tl_dtypes[p->dtype].name);
  if (!((p->rank == 2 && p->shape[0] == r && p->shape[1] == 2) || (p->rank == 1 && p->shape[0] == 2 * r)))
    return tl_error(TL_INVALID_ARGUMENT, "paddings must have shape [%d,2] for a rank %d tensor, got %s", r, r, ps);
  tl_tensor *pc;
  tl_status s = tl_tensor_contiguous(p, &pc);
  if (s) return s;
  int64_t before[TL_MAX_RANK], after[TL_MAX_RANK], shape[TL_MAX_RANK];
  for (int i = 0; i < r; i++) {
    before[i] = tl_load_i64(tl_tensor_data(pc), pc->dtype, 2 * i);
    after[i] = tl_load_i64(tl_tensor_data(pc), pc->dtype, 2 * i + 1);
  }
  tl_tensor_release(pc);
  for (int i = 0; i < r; i++) {
    if (before[i] < 0 || after[i] < 0)
      return tl_error(TL_INVALID_ARGUMENT, "paddings for dimension %d must be non-negative, got [%" PRId64 ",%" PRId64 "]", i,
                      before[i], after[i]);
    int64_t lim = mode == PAD_REFLECT ? t->shape[i] - 1 : t->shape[i];
    if (mode != PAD_CONSTANT && (before[i] > lim || after[i] > lim))
      return tl_error(TL_INVALID_ARGUMENT,
                      "%s padding of dimension %d (size %" PRId64 ") must be at most %" PRId64 " on each side, got [%" PRId64 ",%" PRId64 "]",
                      mode == PAD_REFLECT ? "REFLECT" : "SYMMETRIC", i, t->shape[i], lim < 0 ? 0 : lim, before[i], after[i]);
    if (__builtin_add_overflow(t->shape[i], before[i], &shape[i]) || __builtin_add_overflow(shape[i], after[i], &shape[i]))
      return tl_error(TL_RESOURCE_EXHAUSTED, "padded shape is too large");
  }
  tl_tensor *res;
  s = tl_tensor_new(t->dtype, r, shape, &res);
  if (s) return s;
  if (res->size == 0) return push(out, res);
  if (mode == PAD_CONSTANT && t->dtype != TL_STRING) {
    tl_tensor *c, *cb;
    s = tl_tensor_scalar_f64(t->dtype, attr[1].f, &c);
    if (s) goto fail;
    s = tl_tensor_broadcast_view(c, r, shape, &cb);
    tl_tensor_release(c);
    if (s) goto fail;
    s = tl_tensor_copy_into(res, cb);
    tl_tensor_release(cb);
    if (s) goto fail;
  }
  if (t->size) {
    int64_t off = 0;
    for (int i = 0; i < r; i++) off += before[i] * res->strides[i];
    tl_tensor *w;
    s = view_of(res, r, t->shape, res->strides, off, &w);
    if (s) goto fail;
    s = tl_tensor_copy_into(w, t);
    tl_tensor_release(w);
    if (s) goto fail;
  }
  if (mode != PAD_CONSTANT) {
    int sym = mode == PAD_SYMMETRIC;
    for (int d = 0; d < r && !s; d++) {
      int64_t b = before[d], n = t->shape[d];
      for (int64_t i = 0; i < b && !s; i++) s = pad_copy_slab(res, t, before, d, b + (b - i) - sym, i);
      for (int64_t j = 0; j < after[d] && !s; j++) s = pad_copy_slab(res, t, before, d, b + n - 2 - j + sym, b + n + j);
    }
    if (s) goto fail;
  }
  return push(out, res);
fail:
  tl_tensor_release(res);
  return s;
}

static tl_status reverse_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                             tl_tensor_list *out) {
  (void)n_in;
  tl_tensor *t = in[0];
  bool flip[TL_MAX_RANK] = {false};
  for (int k = 0; k < attr[0].n; k++) {
    int a;
    tl_status s = tl_normalize_axis(op->name, attr[0].ints[k], t->rank, &a);
    if (s) return s;
    if (flip[a]) return tl_error(TL_INVALID_ARGUMENT, "axis %d is given more than once", a);
    flip[a] = true;
  }
  int64_t strides[TL_MAX_RANK], off = t->offset;
  for (int i = 0; i < t->rank; i++) {
    strides[i] = flip[i] ? -t->strides[i] : t->strides[i];
    if (flip[i] && t->shape[i] > 0) off += (t->shape[i] - 1) * t->strides[i];
  }
  tl_tensor *res;
  tl_status s = tl_tensor_new(t->dtype, t->rank, t->shape, &res);
  if (s || res->size == 0) return s ? s : push(out, res);
  tl_tensor *v;
  s = view_of(t, t->rank, t->shape, strides, off, &v);
  if (!s) s = tl_tensor_copy_into(res, v);
  tl_tensor_release(v);
  if (s) {
    tl_tensor_release(res);
    return s;
  }
  return push(out, res);
}

static tl_status broadcast_to_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                  tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0];
  const tl_attr *sh = &attr[0];
  char a[SHAPE_BUF], b[SHAPE_BUF];
  tl_shape_format(sh->n, sh->ints, b, sizeof b);
  if (sh->n > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "shape %s has more than %d dimensions", b, TL_MAX_RANK);
  for (int i = 0; i < sh->n; i++)
    if (sh->ints[i] < 0) return tl_error(TL_INVALID_ARGUMENT, "dimension %d of shape %s is negative", i, b);
  bool ok = sh->n >= t->rank;
  for (int i = 0; ok && i < t->rank; i++) {
    int64_t d = t->shape[t->rank - 1 - i], w = sh->ints[sh->n - 1 - i];
    ok = d == w || d == 1;
  }
  if (!ok)
    return tl_error(TL_INVALID_ARGUMENT, "cannot broadcast shape %s to shape %s", tl_shape_format(t->rank, t->shape, a, sizeof a), b);
  tl_tensor *v, *res = NULL;
  tl_status s = tl_tensor_broadcast_view(t, sh->n, sh->ints, &v);
  if (s) return s;
  s = tl_tensor_new(t->dtype, sh->n, sh->ints, &res);
  if (!s && res->size) s = tl_tensor_copy_into(res, v);
  tl_tensor_release(v);
  if (s) {
    tl_tensor_release(res);
    return s;
  }
  return push(out, res);
}

/* ---- size / rank / shape / identity ------------------------------------ */

static tl_status check_index_dtype(tl_dtype d) {
  if (d != TL_INT32 && d != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "out_type must be int32 or int64, got %s", tl_dtypes[d].name);
  return TL_OK;
}

static tl_status size_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr, tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_status s = check_index_dtype(attr[0].dtype);
  if (s) return s;
  if (attr[0].dtype == TL_INT32 && in[0]->size > INT32_MAX)
    return tl_error(TL_INVALID_ARGUMENT, "size %" PRId64 " does not fit in int32 (use out_type=tf.int64)", in[0]->size);
  tl_tensor *r;
  s = tl_tensor_scalar_i64(attr[0].dtype, in[0]->size, &r);
  return s ? s : push(out, r);
}

static tl_status rank_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr, tl_tensor_list *out) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *r;
  tl_status s = tl_tensor_scalar_i64(TL_INT32, in[0]->rank, &r);
  return s ? s : push(out, r);
}

static tl_status shape_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr, tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_status s = check_index_dtype(attr[0].dtype);
  if (s) return s;
  const tl_tensor *t = in[0];
  int64_t n = t->rank;
  tl_tensor *r;
  s = tl_tensor_new(attr[0].dtype, 1, &n, &r);
  if (s) return s;
  for (int i = 0; i < t->rank; i++) {
    if (attr[0].dtype == TL_INT32 && t->shape[i] > INT32_MAX) {
      tl_tensor_release(r);
      return tl_error(TL_INVALID_ARGUMENT, "dimension %d does not fit in int32 (use out_type=tf.int64)", i);
    }
    tl_store_i64(tl_tensor_data(r), r->dtype, i, t->shape[i]);
  }
  return push(out, r);
}

static tl_status identity_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                              tl_tensor_list *out) {
  (void)op, (void)n_in, (void)attr;
  return same_view(in[0], out);
}

/* ---- gradients --------------------------------------------------------- */
/* Written with ordinary ops (tl_call), so an outer tape records them and
 * gradients of gradients work. Each result has its input's shape. The
 * list-output ops (unstack, split) may get NULL for outputs nobody used:
 * those count as zeros. */

#define GRAD_ARGS                                                                                \
  const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr, tl_tensor *const *out, \
      int n_out, tl_tensor *const *gout, tl_tensor **gin
#define UNUSED_GRAD_ARGS (void)op, (void)in, (void)n_in, (void)attr, (void)out, (void)n_out

static tl_status reshape_to(tl_tensor *g, int rank, const int64_t *shape, tl_tensor **out) {
  return tl_call("reshape", 1, &g, 1, (tl_named_attr[]){TL_A_INTS("shape", rank, shape)}, out);
}

/* reshape, expand_dims, squeeze: the same elements back in the input's shape. */
static tl_status reshape_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  return reshape_to(gout[0], in[0]->rank, in[0]->shape, &gin[0]);
}

static tl_status identity_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  gin[0] = tl_tensor_retain(gout[0]);
  return TL_OK;
}

static tl_status transpose_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  int r = in[0]->rank;
  int64_t inv[TL_MAX_RANK];
  for (int i = 0; i < r; i++) {
    int p = attr[0].present ? (int)attr[0].ints[i] : r - 1 - i;
    inv[p] = i;
  }
  return tl_call("transpose", 1, &gout[0], 1, (tl_named_attr[]){TL_A_INTS("perm", r, inv)}, &gin[0]);
}

/* Moves the n pieces of a split/unstack of the output gradient into gin. */
static tl_status parts_to_gin(tl_tensor_list *parts, int n, tl_tensor **gin) {
  if (parts->n != n) {
    tl_list_clear(parts);
    return tl_error(TL_INTERNAL, "internal: %d gradient pieces for %d inputs", parts->n, n);
  }
  for (int i = 0; i < n; i++) {
    gin[i] = parts->items[i];
    parts->items[i] = NULL;
  }
  tl_list_clear(parts);
  return TL_OK;
}

/* Concat: the pieces of g along the axis, as split would cut them. */
static tl_status concat_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  if (n_in == 1) return identity_grad(op, in, n_in, attr, out, n_out, gout, gin);
  int ax;
  tl_status s = tl_normalize_axis(op->name, attr[0].i, in[0]->rank, &ax);
  if (s) return s;
  int64_t *sizes = malloc(sizeof *sizes * (size_t)n_in);
  if (!sizes) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int i = 0; i < n_in; i++) sizes[i] = in[i]->shape[ax];
  tl_tensor_list parts;
  s = tl_call_list("split", 1, &gout[0], 2,
                   (tl_named_attr[]){TL_A_INTS("num_or_size_splits", n_in, sizes), TL_A_INT("axis", ax)}, &parts);
  free(sizes);
  if (s) return s;
  return parts_to_gin(&parts, n_in, gin);
}

static tl_status stack_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  tl_tensor_list parts;
  tl_status s = tl_call_list("unstack", 1, &gout[0], 1, (tl_named_attr[]){TL_A_INT("axis", attr[0].i)}, &parts);
  if (s) return s;
  return parts_to_gin(&parts, n_in, gin);
}

/* The output gradients of a list-output op, zeros (constants) standing in
 * for the NULL ones; then `join` (stack or concat) along axis. */
static tl_status join_grads(const char *join, int axis, tl_tensor *const *out, int n_out, tl_tensor *const *gout,
                            tl_tensor **res) {
  tl_tensor **parts = calloc((size_t)n_out, sizeof *parts);
  if (!parts) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  tl_status s = TL_OK;
  for (int i = 0; i < n_out && !s; i++) {
    if (gout[i]) parts[i] = tl_tensor_retain(gout[i]);
    else s = tl_tensor_zeros(out[i]->dtype, out[i]->rank, out[i]->shape, &parts[i]);
  }
  if (!s) s = tl_call(join, n_out, parts, 1, (tl_named_attr[]){TL_A_INT("axis", axis)}, res);
  for (int i = 0; i < n_out; i++) tl_tensor_release(parts[i]);
  free(parts);
  return s;
}

static tl_status unstack_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  int ax;
  tl_status s = tl_normalize_axis(op->name, attr[1].i, in[0]->rank, &ax);
  return s ? s : join_grads("stack", ax, out, n_out, gout, &gin[0]);
}

static tl_status split_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  int ax;
  tl_status s = tl_normalize_axis(op->name, attr[1].i, in[0]->rank, &ax);
  if (s) return s;
  if (n_out == 1 && gout[0]) return identity_grad(op, in, n_in, attr, out, n_out, gout, gin);
  return join_grads("concat", ax, out, n_out, gout, &gin[0]);
}

/* Sum of g over the copies: g as [m0, d0, m1, d1, ...] (dims with multiple 1
 * left alone) summed over the m axes; one dimension at a time, as
 * [before, m, d * after], when that shape would have too many dimensions. */
static tl_status tile_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  const tl_tensor *x = in[0];
  const int64_t *m = attr[0].ints;
  int r = x->rank, n = 0, nsum = 0;
  int64_t shape[2 * TL_MAX_RANK], axes[TL_MAX_RANK];
  for (int i = 0; i < r; i++) {
    if (m[i] != 1) {
      axes[nsum++] = n;
      shape[n++] = m[i];
    }
    shape[n++] = x->shape[i];
  }
  if (nsum == 0) return reshape_to(gout[0], r, x->shape, &gin[0]);
  tl_tensor *g = tl_tensor_retain(gout[0]), *t;
  tl_status s = TL_OK;
  if (n <= TL_MAX_RANK) {
    s = reshape_to(g, n, shape, &t);
    tl_tensor_release(g);
    if (s) return s;
    s = tl_call("reduce_sum", 1, &t, 1, (tl_named_attr[]){TL_A_INTS("axis", nsum, axes)}, &gin[0]);
    tl_tensor_release(t);
    return s;
  }
  int64_t cur[TL_MAX_RANK];
  memcpy(cur, g->shape, sizeof(int64_t) * (size_t)r);
  for (int d = 0; d < r && !s; d++) {
    if (m[d] == 1) continue;
    int64_t three[3] = {1, m[d], x->shape[d]}, one = 1;
    for (int i = 0; i < d; i++) three[0] *= cur[i];
    for (int i = d + 1; i < r; i++) three[2] *= cur[i];
    cur[d] = x->shape[d];
    s = reshape_to(g, 3, three, &t);
    tl_tensor_release(g);
    g = NULL;
    if (s) break;
    s = tl_call("reduce_sum", 1, &t, 1, (tl_named_attr[]){TL_A_INTS("axis", 1, &one)}, &g);
    tl_tensor_release(t);
    if (s) break;
    s = reshape_to(g, r, cur, &t);
    tl_tensor_release(g);
    g = s ? NULL : t;
  }
  if (s) {
    tl_tensor_release(g);
    return s;
  }
  gin[0] = g;
  return TL_OK;
}

static tl_status padding_tensor(int r, const int64_t *before, const int64_t *after, tl_tensor **out) {
  int64_t shape[2] = {r, 2};
  tl_status s = tl_tensor_new(TL_INT64, 2, shape, out);
  if (s) return s;
  int64_t *p = tl_tensor_data(*out);
  for (int i = 0; i < r; i++) p[2 * i] = before[i], p[2 * i + 1] = after[i];
  return TL_OK;
}

/* slice(g, begin, size) with begin/size given per dimension. */
static tl_status slice_of(tl_tensor *g, const int64_t *begin, const int64_t *size, tl_tensor **out) {
  int r = g->rank;
  return tl_call("slice", 1, &g, 2, (tl_named_attr[]){TL_A_INTS("begin", r, begin), TL_A_INTS("size", r, size)}, out);
}

/* One dimension's share of a REFLECT/SYMMETRIC pad gradient: the padding
 * slab [lo, lo+len) of g along d, reversed, and zero-padded back onto the
 * input positions it was copied from; added into *acc. */
static tl_status fold_slab(tl_tensor *g, int d, int64_t lo, int64_t len, int64_t pad_lo, int64_t pad_hi, tl_tensor **acc) {
  int r = g->rank;
  int64_t begin[TL_MAX_RANK] = {0}, size[TL_MAX_RANK], zero[TL_MAX_RANK] = {0}, hi[TL_MAX_RANK] = {0};
  for (int i = 0; i < r; i++) size[i] = -1;
  begin[d] = lo, size[d] = len;
  int64_t axis = d;
  tl_tensor *slab, *rev, *pd, *pads, *sum;
  tl_status s = slice_of(g, begin, size, &slab);
  if (s) return s;
  s = tl_call("reverse", 1, &slab, 1, (tl_named_attr[]){TL_A_INTS("axis", 1, &axis)}, &rev);
  tl_tensor_release(slab);
  if (s) return s;
  zero[d] = pad_lo, hi[d] = pad_hi;
  s = padding_tensor(r, zero, hi, &pads);
  if (!s) s = tl_call("pad", 2, (tl_tensor *[]){rev, pads}, 0, NULL, &pd);
  tl_tensor_release(rev);
  tl_tensor_release(pads);
  if (s) return s;
  s = tl_call("add", 2, (tl_tensor *[]){*acc, pd}, 0, NULL, &sum);
  tl_tensor_release(pd);
  if (s) return s;
  tl_tensor_release(*acc);
  *acc = sum;
  return TL_OK;
}

/* CONSTANT: the interior of g. REFLECT/SYMMETRIC: one dimension at a time
 * (the paddings of different dimensions commute), the interior plus each
 * padding slab folded back onto the elements it copies. */
static tl_status pad_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  const tl_tensor *x = in[0];
  int r = x->rank;
  const char *ms = attr[0].s ? attr[0].s : "CONSTANT";
  bool constant = strcasecmp(ms, "CONSTANT") == 0, sym = strcasecmp(ms, "SYMMETRIC") == 0;
  int64_t before[TL_MAX_RANK], after[TL_MAX_RANK], size[TL_MAX_RANK];
  tl_tensor *pc;
  tl_status s = tl_tensor_contiguous(in[1], &pc);
  if (s) return s;
  for (int i = 0; i < r; i++) {
    before[i] = tl_load_i64(tl_tensor_data(pc), pc->dtype, 2 * i);
    after[i] = tl_load_i64(tl_tensor_data(pc), pc->dtype, 2 * i + 1);
  }
  tl_tensor_release(pc);
  if (constant) return slice_of(gout[0], before, x->shape, &gin[0]);
  tl_tensor *g = tl_tensor_retain(gout[0]);
  for (int d = 0; d < r && !s; d++) {
    int64_t b = before[d], a = after[d], n = x->shape[d], begin[TL_MAX_RANK] = {0};
    if (!b && !a) continue;
    for (int i = 0; i < r; i++) size[i] = -1;
    begin[d] = b, size[d] = n;
    tl_tensor *acc;
    s = slice_of(g, begin, size, &acc);
    if (s) break;
    if (b) s = fold_slab(g, d, 0, b, 1 - sym, n - 1 + sym - b, &acc);
    if (!s && a) s = fold_slab(g, d, b + n, a, n - 1 + sym - a, 1 - sym, &acc);
    tl_tensor_release(g);
    g = acc;
  }
  if (s) {
    tl_tensor_release(g);
    return s;
  }
  gin[0] = g;
  return TL_OK;
}

static tl_status reverse_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  return tl_call("reverse", 1, &gout[0], 1, (tl_named_attr[]){TL_A_INTS("axis", attr[0].n, attr[0].ints)}, &gin[0]);
}

/* Sum over the leading dimensions and those broadcast from 1 (kept), then
 * the input's shape. */
static tl_status broadcast_to_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  const tl_tensor *x = in[0], *g = gout[0];
  int lead = g->rank - x->rank, n = 0;
  int64_t axes[TL_MAX_RANK];
  for (int i = 0; i < g->rank; i++)
    if (i < lead || (x->shape[i - lead] == 1 && g->shape[i] != 1)) axes[n++] = i;
  if (n == 0) return reshape_to(gout[0], x->rank, x->shape, &gin[0]);
  tl_tensor *t;
  tl_status s = tl_call("reduce_sum", 1, &gout[0], 2,
                        (tl_named_attr[]){TL_A_INTS("axis", n, axes), TL_A_BOOL("keepdims", true)}, &t);
  if (s) return s;
  s = reshape_to(t, x->rank, x->shape, &gin[0]);
  tl_tensor_release(t);
  return s;
}

tl_op_def tl_ops_shape[] = {
    {.name = "reshape", .inputs = "tensor", .attrs = "shape:ints", .kernel[TL_CPU] = reshape_fwd, .grad = reshape_grad,
     .doc = "Same elements in a new shape; one dimension may be -1 (inferred)."},
    {.name = "transpose", .inputs = "a", .attrs = "perm:ints?", .kernel[TL_CPU] = transpose_fwd, .grad = transpose_grad,
     .doc = "Permutes dimensions by perm (default: reversed)."},
    {.name = "expand_dims", .inputs = "input", .attrs = "axis:int", .kernel[TL_CPU] = expand_dims_fwd, .grad = reshape_grad,
     .doc = "Inserts a dimension of size 1 at axis (in [-rank-1, rank])."},
    {.name = "squeeze", .inputs = "input", .attrs = "axis:ints?", .kernel[TL_CPU] = squeeze_fwd, .grad = reshape_grad,
     .doc = "Removes dimensions of size 1 (all of them, or those in axis)."},
    {.name = "concat", .inputs = "values[]", .attrs = "axis:int", .kernel[TL_CPU] = concat_fwd, .grad = concat_grad, .flags = TL_OP_SAME_DTYPE,
     .doc = "Joins tensors along an existing axis."},
    {.name = "stack", .inputs = "values[]", .attrs = "axis:int=0", .kernel[TL_CPU] = stack_fwd, .grad = stack_grad, .flags = TL_OP_SAME_DTYPE,
     .doc = "Joins same-shaped tensors along a new axis."},
    {.name = "unstack", .inputs = "value", .attrs = "num:int?, axis:int=0", .kernel[TL_CPU] = unstack_fwd, .grad = unstack_grad,
     .flags = TL_OP_LIST_OUTPUT, .doc = "Splits a tensor into a list of its slices along axis."},
    {.name = "split", .inputs = "value", .attrs = "num_or_size_splits:ints, axis:int=0", .kernel[TL_CPU] = split_fwd, .grad = split_grad,
     .flags = TL_OP_LIST_OUTPUT,
     .doc = "Splits along axis into n equal parts (one integer) or parts of the given sizes (a list; one -1 allowed)."},
    {.name = "tile", .inputs = "input", .attrs = "multiples:ints", .kernel[TL_CPU] = tile_fwd, .grad = tile_grad,
     .doc = "Repeats the tensor multiples[i] times along each dimension i."},
    {.name = "pad", .inputs = "tensor, paddings", .attrs = "mode:string=CONSTANT, constant_values:float=0",
     .kernel[TL_CPU] = pad_fwd, .grad = pad_grad,
     .doc = "Pads each dimension by paddings[i] = {before, after}; mode CONSTANT, REFLECT or SYMMETRIC."},
    {.name = "reverse", .inputs = "tensor", .attrs = "axis:ints", .kernel[TL_CPU] = reverse_fwd, .grad = reverse_grad,
     .doc = "Reverses the order of elements along the given axes."},
    {.name = "broadcast_to", .inputs = "input", .attrs = "shape:ints", .kernel[TL_CPU] = broadcast_to_fwd, .grad = broadcast_to_grad,
     .doc = "Broadcasts the tensor to a compatible shape (numpy rules)."},
    {.name = "size", .inputs = "input", .attrs = "out_type:dtype=int32", .kernel[TL_CPU] = size_fwd, .flags = TL_OP_NO_GRADIENT,
     .doc = "Number of elements, as a scalar tensor."},
    {.name = "rank", .inputs = "input", .attrs = "", .kernel[TL_CPU] = rank_fwd, .flags = TL_OP_NO_GRADIENT,
     .doc = "Number of dimensions, as an int32 scalar tensor."},
    {.name = "shape", .inputs = "input", .attrs = "out_type:dtype=int32", .kernel[TL_CPU] = shape_fwd, .flags = TL_OP_NO_GRADIENT,
     .doc = "The shape as a 1-D integer tensor (t.shape gives a TensorShape)."},
    {.name = "identity", .inputs = "input", .attrs = "", .kernel[TL_CPU] = identity_fwd, .grad = identity_grad,
     .doc = "Returns the input tensor."},
    {0},
};
