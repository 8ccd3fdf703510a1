/* ops/index.c — indexing ops: slice, strided_slice (the backbone of Lua's
 * t[...] syntax), tensor_strided_slice_update (v[...] = x), gather,
 * gather_nd, boolean_mask, where, scatter_nd and tensor_scatter_nd_*.
 *
 * Indices are 0-based. Gather/scatter indices must lie in [0, n): a negative
 * or too-large index is an InvalidArgument error naming the index, its
 * position in the indices tensor and the valid range, as TensorFlow's CPU
 * kernels do; only slicing (strided_slice) counts negative positions from
 * the end. Slices with positive steps are views sharing the input's storage;
 * negative steps produce a copy, so no view here has a negative stride.
 * Data movement is by element size (any dtype); only scatter's add/sub look
 * at the values, through a small table of typed loops.
 *
 * Gradients: the adjoint of each selection is a scatter into zeros, done by
 * internal ops with their own rules (strided_slice_grad <-> strided_slice,
 * gather_grad <-> gather, gather_nd_grad <-> gather_nd), so gradients of
 * gradients work. Indices, masks and where's condition get no gradient;
 * where(c) alone (int64 coordinates) has none to give.
 */
#include "tl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHAPE_BUF 200

static tl_status push(tl_tensor_list *out, tl_tensor *t) { return tl_list_push(out, t); }

/* "[1,0]" for flat position `flat` in a tensor of the given shape. */
static char *format_position(int rank, const int64_t *shape, int64_t flat, char *buf, size_t n) {
  int64_t idx[TL_MAX_RANK];
  for (int d = rank - 1; d >= 0; d--) {
    int64_t s = shape[d] ? shape[d] : 1;
    idx[d] = flat % s;
    flat /= s;
  }
  return tl_shape_format(rank, idx, buf, n);
}

/* Reads an int32/int64 tensor into a new int64 array (caller frees). */
static tl_status load_indices(const tl_tensor *t, const char *what, int64_t **out) {
  if (t->dtype != TL_INT32 && t->dtype != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "%s must be int32 or int64, got %s", what, tl_dtypes[t->dtype].name);
  int64_t *v = malloc(sizeof *v * (size_t)(t->size ? t->size : 1));
  if (!v) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  tl_tensor *c;
  tl_status s = tl_tensor_contiguous((tl_tensor *)t, &c);
  if (s) {
    free(v);
    return s;
  }
  if (c->dtype == TL_INT32) {
    const int32_t *p = tl_tensor_data(c);
    for (int64_t i = 0; i < c->size; i++) v[i] = p[i];
  } else if (c->size) {
    memcpy(v, tl_tensor_data(c), sizeof *v * (size_t)c->size);
  }
  tl_tensor_release(c);
  *out = v;
  return TL_OK;
}

static int64_t prod(const int64_t *shape, int lo, int hi) {
  int64_t n = 1;
  for (int i = lo; i < hi; i++) n *= shape[i];
  return n;
}

/* ---- slice / strided_slice --------------------------------------------- */

/* The result of interpreting strided_slice's arguments against a shape:
 * per input dimension a start, a count and a step, and the output's
 * dimensions (each an input dimension, or -1 for a new axis). */
typedef struct slice_spec {
  int64_t begin[TL_MAX_RANK], len[TL_MAX_RANK], step[TL_MAX_RANK];
  int out_rank;
  int out_src[TL_MAX_RANK];
} slice_spec;

/* attr: begin, end, strides?, begin_mask, end_mask, ellipsis_mask,
 * new_axis_mask, shrink_axis_mask — TensorFlow's semantics. */
static tl_status strided_slice_spec(int r, const int64_t *shape, const tl_attr *attr, slice_spec *sp) {
  const tl_attr *b = &attr[0], *e = &attr[1], *st = &attr[2];
  int n = b->n;
  if (e->n != n || (st->present && st->n != n))
    return tl_error(TL_INVALID_ARGUMENT, "begin, end and strides must have the same length (got %d, %d and %d)", b->n, e->n,
                    st->present ? st->n : n);
  if (n > 30) return tl_error(TL_INVALID_ARGUMENT, "too many slice entries (%d)", n);
  uint64_t bm = (uint64_t)attr[3].i, em = (uint64_t)attr[4].i, ellm = (uint64_t)attr[5].i, nam = (uint64_t)attr[6].i,
           shm = (uint64_t)attr[7].i;
  if (ellm & (ellm - 1)) return tl_error(TL_INVALID_ARGUMENT, "only one ellipsis is allowed in a slice");
  int sparse_n = n;
  if (!ellm) ellm = 1ull << sparse_n++; /* an implicit trailing ellipsis */
  int ell_at = __builtin_ctzll(ellm);
  int new_after = 0, real = 0;
  for (int i = 0; i < sparse_n; i++) {
    bool is_ell = (ellm >> i) & 1, is_new = !is_ell && ((nam >> i) & 1);
    if (is_new && i > ell_at) new_after++;
    if (!is_ell && !is_new) real++;
  }
  if (real > r)
    return tl_error(TL_INVALID_ARGUMENT, "too many indices for a tensor of rank %d (%d given)", r, real);
  sp->out_rank = 0;
  int full = 0;
  for (int i = 0; i < sparse_n; i++) {
    if ((ellm >> i) & 1) {
      int next = r - (sparse_n - i) + 1 + new_after;
      if (next > r) next = r;
      for (; full < next; full++) {
        sp->begin[full] = 0;
        sp->len[full] = shape[full];
        sp->step[full] = 1;
        if (sp->out_rank == TL_MAX_RANK) goto too_many;
        sp->out_src[sp->out_rank++] = full;
      }
      continue;
    }
    if ((nam >> i) & 1) {
      if (sp->out_rank == TL_MAX_RANK) goto too_many;
      sp->out_src[sp->out_rank++] = -1;
      continue;
    }
    int d = full++;
    int64_t dim = shape[d], stride = st->present ? st->ints[i] : 1;
    int64_t bi = b->ints[i], ei = e->ints[i];
    if (stride == 0) return tl_error(TL_INVALID_ARGUMENT, "strides[%d] is 0 (a step must be non-zero)", i);
    if ((shm >> i) & 1) {
      if (stride < 0) return tl_error(TL_INVALID_ARGUMENT, "strides[%d] must be positive for an integer index", i);
      int64_t x = bi < 0 ? bi + dim : bi;
      if (x < 0 || x >= dim)
        return tl_error(TL_INVALID_ARGUMENT,
                        "index %" PRId64 " is out of bounds for dimension %d with size %" PRId64 " (valid range [%" PRId64 ", %" PRId64 "))",
                        bi, d, dim, -dim, dim);
      sp->begin[d] = x;
      sp->len[d] = 1;
      sp->step[d] = 1;
      continue;
    }
    /* Clamp as Python does: [0, dim] for positive steps, [-1, dim-1] for negative. */
    int64_t lo = stride > 0 ? 0 : -1, hi = stride > 0 ? dim : dim - 1;
    if ((bm >> i) & 1) bi = stride > 0 ? lo : hi;
    else {
      bi = bi < 0 ? bi + dim : bi;
      bi = bi < lo ? lo : bi > hi ? hi : bi;
    }
    if ((em >> i) & 1) ei = stride > 0 ? hi : lo;
    else {
      ei = ei < 0 ? ei + dim : ei;
      ei = ei < lo ? lo : ei > hi ? hi : ei;
    }
    int64_t span = ei - bi, len;
    if (span == 0 || (span < 0) != (stride < 0)) len = 0;
    else len = span / stride + (span % stride != 0);
    sp->begin[d] = len ? bi : 0;
    sp->len[d] = len;
    sp->step[d] = stride;
    if (sp->out_rank == TL_MAX_RANK) goto too_many;
    sp->out_src[sp->out_rank++] = d;
  }
  return TL_OK;
too_many:
  return tl_error(TL_INVALID_ARGUMENT, "the result would have more than %d dimensions", TL_MAX_RANK);
}

/* A view of t (any strides) selecting sp; strides may be negative. */
static tl_status spec_view(const tl_tensor *t, const slice_spec *sp, tl_tensor **out) {
  int64_t shape[TL_MAX_RANK], strides[TL_MAX_RANK], off = t->offset;
  bool empty = false;
  for (int d = 0; d < t->rank; d++) {
    off += sp->begin[d] * t->strides[d];
    if (sp->len[d] == 0) empty = true;
  }
  for (int i = 0; i < sp->out_rank; i++) {
    int d = sp->out_src[i];
    shape[i] = d < 0 ? 1 : sp->len[d];
    strides[i] = d < 0 ? 0 : t->strides[d] * sp->step[d];
  }
  return tl_tensor_view(t->storage, t->dtype, sp->out_rank, shape, strides, empty ? t->offset : off, out);
}

/* A view when every stride is non-negative, else a contiguous copy. */
static tl_status push_slice(tl_tensor_list *out, tl_tensor *v) {
  for (int i = 0; i < v->rank; i++)
    if (v->strides[i] < 0) {
      tl_tensor *c;
      tl_status s = tl_tensor_contiguous(v, &c);
      tl_tensor_release(v);
      if (s) return s;
      return push(out, c);
    }
  return push(out, v);
}

static tl_status strided_slice_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                   tl_tensor_list *out) {
  (void)op, (void)n_in;
  slice_spec sp;
  tl_status s = strided_slice_spec(in[0]->rank, in[0]->shape, attr, &sp);
  if (s) return s;
  tl_tensor *v;
  s = spec_view(in[0], &sp, &v);
  if (s) return s;
  return push_slice(out, v);
}

static tl_status slice_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr, tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0];
  const tl_attr *b = &attr[0], *z = &attr[1];
  if (b->n != t->rank || z->n != t->rank)
    return tl_error(TL_INVALID_ARGUMENT, "begin and size must have one entry per dimension (rank %d), got %d and %d", t->rank,
                    b->n, z->n);
  int64_t shape[TL_MAX_RANK], off = t->offset;
  for (int d = 0; d < t->rank; d++) {
    int64_t dim = t->shape[d], bi = b->ints[d], zi = z->ints[d];
    if (bi < 0 || bi > dim)
      return tl_error(TL_INVALID_ARGUMENT, "begin[%d] is %" PRId64 ", outside [0, %" PRId64 "]", d, bi, dim);
    if (zi == -1) zi = dim - bi;
    if (zi < 0 || bi + zi > dim)
      return tl_error(TL_INVALID_ARGUMENT, "size[%d] is %" PRId64 ", outside [0, %" PRId64 "] for begin[%d] = %" PRId64, d,
                      z->ints[d], dim - bi, d, bi);
    shape[d] = zi;
    off += bi * t->strides[d];
  }
  int64_t n = tl_shape_numel(t->rank, shape);
  tl_tensor *v;
  tl_status s = tl_tensor_view(t->storage, t->dtype, t->rank, shape, t->strides, n ? off : t->offset, &v);
  if (s) return s;
  return push(out, v);
}

/* out = copy of input with the slice replaced by value (broadcast). */
static tl_status strided_slice_update_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                          tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0], *val = in[1];
  if (val->dtype != t->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "value has dtype %s but the tensor is %s (use tf.cast)", tl_dtypes[val->dtype].name,
                    tl_dtypes[t->dtype].name);
  slice_spec sp;
  tl_status s = strided_slice_spec(t->rank, t->shape, attr, &sp);
  if (s) return s;
  tl_tensor *res, *w = NULL, *bv = NULL;
  s = tl_tensor_new(t->dtype, t->rank, t->shape, &res);
  if (s) return s;
  if (res->size) s = tl_tensor_copy_into(res, t);
  if (!s) s = spec_view(res, &sp, &w);
  if (!s) {
    s = tl_tensor_broadcast_view(val, w->rank, w->shape, &bv);
    if (s) {
      char a[SHAPE_BUF], c[SHAPE_BUF];
      s = tl_error(TL_INVALID_ARGUMENT, "value of shape %s cannot be broadcast to the slice shape %s",
                   tl_shape_format(val->rank, val->shape, a, sizeof a), tl_shape_format(w->rank, w->shape, c, sizeof c));
    }
  }
  if (!s && w->size) s = tl_tensor_copy_into(w, bv);
  tl_tensor_release(w);
  tl_tensor_release(bv);
  if (s) {
    tl_tensor_release(res);
    return s;
  }
  return push(out, res);
}

/* Validates a shape attribute naming a result's shape. */
static tl_status check_shape_attr(const tl_attr *sh) {
  char ss[SHAPE_BUF];
  tl_shape_format(sh->n, sh->ints, ss, sizeof ss);
  if (sh->n > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "shape %s has more than %d dimensions", ss, TL_MAX_RANK);
  for (int i = 0; i < sh->n; i++)
    if (sh->ints[i] < 0) return tl_error(TL_INVALID_ARGUMENT, "dimension %d of shape %s is negative", i, ss);
  if (tl_shape_numel(sh->n, sh->ints) < 0) return tl_error(TL_INVALID_ARGUMENT, "shape %s is too large", ss);
  return TL_OK;
}

/* strided_slice's gradient: zeros of the input's shape with dy in the
 * slice (attr[0] the shape, then strided_slice's attributes). */
static tl_status strided_slice_grad_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                        tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *dy = in[0];
  const tl_attr *sh = &attr[0];
  tl_status s = check_shape_attr(sh);
  if (s) return s;
  slice_spec sp;
  if ((s = strided_slice_spec(sh->n, sh->ints, attr + 1, &sp))) return s;
  tl_tensor *res, *w = NULL;
  if ((s = tl_tensor_zeros(dy->dtype, sh->n, sh->ints, &res))) return s;
  s = spec_view(res, &sp, &w);
  if (!s && !tl_tensor_same_shape(w, dy)) {
    char a[SHAPE_BUF], b[SHAPE_BUF], c[SHAPE_BUF];
    s = tl_error(TL_INVALID_ARGUMENT, "dy has shape %s but the slice of shape %s has shape %s",
                 tl_shape_format(dy->rank, dy->shape, a, sizeof a), tl_shape_format(sh->n, sh->ints, b, sizeof b),
                 tl_shape_format(w->rank, w->shape, c, sizeof c));
  }
  if (!s && w->size) s = tl_tensor_copy_into(w, dy);
  tl_tensor_release(w);
  if (s) {
    tl_tensor_release(res);
    return s;
  }
  return push(out, res);
}

/* ---- gather / gather_nd ------------------------------------------------ */

typedef struct rows_ctx {
  char *dst;
  const char *src;
  const int64_t *src_off; /* source element offset of each destination row */
  size_t es, row_bytes;
} rows_ctx;

static void copy_rows(int64_t lo, int64_t hi, void *vctx) {
  const rows_ctx *c = vctx;
  for (int64_t i = lo; i < hi; i++)
    memcpy(c->dst + (size_t)i * c->row_bytes, c->src + (size_t)c->src_off[i] * c->es, c->row_bytes);
}

/* dst row i (of `inner` elements) = src elements [src_off[i], +inner). */
static void gather_rows(tl_tensor *res, const tl_tensor *src, const int64_t *src_off, int64_t rows, int64_t inner) {
  if (rows == 0 || inner == 0) return;
  size_t es = tl_dtypes[src->dtype].size;
  rows_ctx c = {tl_tensor_data(res), tl_tensor_data(src), src_off, es, (size_t)inner * es};
  int64_t grain = 1 + (int64_t)(32768 / c.row_bytes);
  tl_parallel_for(rows, grain, copy_rows, &c);
}

/* Where gather's output rows come from: validated against params of
 * shape (r, pshape), with the output's shape and one source offset per
 * output row (NULL when the output is empty). */
typedef struct gather_plan {
  int orank;
  int64_t shape[TL_MAX_RANK];
  int64_t *off;
  int64_t rows, inner;
} gather_plan;

static tl_status gather_plan_make(int r, const int64_t *pshape, const tl_tensor *ix, const tl_attr *axis,
                                  const tl_attr *batch_dims, gather_plan *pl) {
  int q = ix->rank;
  int64_t bd = batch_dims->i;
  pl->off = NULL;
  if (bd < 0) bd += q;
  if (bd < 0 || bd > q) return tl_error(TL_INVALID_ARGUMENT, "batch_dims %" PRId64 " is out of range for indices of rank %d", batch_dims->i, q);
  if (bd >= r && r > 0) return tl_error(TL_INVALID_ARGUMENT, "batch_dims %" PRId64 " must be less than the rank of params (%d)", batch_dims->i, r);
  int64_t a = axis->present ? axis->i : bd;
  if (a < 0) a += r;
  if (a < 0 || a >= r)
    return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " is out of range for params of rank %d%s", axis->i, r,
                    r ? "" : " (a scalar cannot be gathered from)");
  if (a < bd) return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " must be at least batch_dims (%" PRId64 ")", a, bd);
  for (int d = 0; d < bd; d++)
    if (pshape[d] != ix->shape[d]) {
      char x[SHAPE_BUF], y[SHAPE_BUF];
      return tl_error(TL_INVALID_ARGUMENT, "batch dimension %d differs: params %s, indices %s", d,
                      tl_shape_format(r, pshape, x, sizeof x), tl_shape_format(q, ix->shape, y, sizeof y));
    }
  int orank = (int)(a + (q - bd) + (r - a - 1));
  if (orank > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "the result would have %d dimensions (at most %d)", orank, TL_MAX_RANK);
  pl->orank = orank;
  int k = 0;
  for (int d = 0; d < a; d++) pl->shape[k++] = pshape[d];
  for (int d = (int)bd; d < q; d++) pl->shape[k++] = ix->shape[d];
  for (int d = (int)a + 1; d < r; d++) pl->shape[k++] = pshape[d];
  int64_t *idx;
  tl_status s = load_indices(ix, "indices", &idx);
  if (s) return s;
  int64_t n = pshape[a];
  for (int64_t i = 0; i < ix->size; i++)
    if (idx[i] < 0 || idx[i] >= n) {
      char pos[SHAPE_BUF];
      format_position(q, ix->shape, i, pos, sizeof pos);
      int64_t v = idx[i];
      free(idx);
      return tl_error(TL_INVALID_ARGUMENT, "indices%s = %" PRId64 " is not in [0, %" PRId64 ")", q ? pos : "", v, n);
    }
  int64_t batch = prod(pshape, 0, (int)bd), outer = prod(pshape, (int)bd, (int)a);
  int64_t nidx = prod(ix->shape, (int)bd, q);
  pl->inner = prod(pshape, (int)a + 1, r);
  pl->rows = batch * outer * nidx;
  if (tl_shape_numel(orank, pl->shape) == 0) {
    free(idx);
    return TL_OK;
  }
  pl->off = malloc(sizeof *pl->off * (size_t)pl->rows);
  if (!pl->off) {
    free(idx);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  for (int64_t bt = 0, row = 0; bt < batch; bt++)
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < nidx; j++) pl->off[row++] = ((bt * outer + o) * n + idx[bt * nidx + j]) * pl->inner;
  free(idx);
  return TL_OK;
}

static tl_status gather_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr, tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *p = in[0], *res = NULL, *pc = NULL;
  gather_plan pl;
  tl_status s = gather_plan_make(p->rank, p->shape, in[1], &attr[0], &attr[1], &pl);
  if (s) return s;
  s = tl_tensor_new(p->dtype, pl.orank, pl.shape, &res);
  if (!s && res->size) s = tl_tensor_contiguous(p, &pc);
  if (!s && res->size) gather_rows(res, pc, pl.off, pl.rows, pl.inner);
  free(pl.off);
  tl_tensor_release(pc);
  if (s) {
    tl_tensor_release(res);
    return s;
  }
  return push(out, res);
}

/* Shared by gather_nd and the scatters: row offsets (in elements of a
 * contiguous tensor of `shape`) addressed by the last dimension of indices. */
static tl_status nd_offsets(const int64_t *idx, const tl_tensor *ix, int rank, const int64_t *shape, int bd, int64_t K,
                            int64_t inner, int64_t **out, int64_t *nrows) {
  int q = ix->rank;
  int64_t rows = prod(ix->shape, 0, q - 1);
  int64_t nidx = prod(ix->shape, bd, q - 1);
  int64_t slab = prod(shape, bd, rank);
  int64_t *off = malloc(sizeof *off * (size_t)(rows ? rows : 1));
  if (!off) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  int64_t strides[TL_MAX_RANK];
  for (int d = rank - 1; d >= 0; d--) strides[d] = d == rank - 1 ? 1 : strides[d + 1] * shape[d + 1];
  for (int64_t i = 0; i < rows; i++) {
    int64_t o = (nidx ? i / nidx : 0) * slab;
    for (int64_t k = 0; k < K; k++) {
      int64_t v = idx[i * K + k], dim = shape[bd + k];
      if (v < 0 || v >= dim) {
        char pos[SHAPE_BUF], sh[SHAPE_BUF], iv[SHAPE_BUF];
        format_position(q - 1, ix->shape, i, pos, sizeof pos);
        tl_shape_format((int)K, idx + i * K, iv, sizeof iv);
        tl_shape_format(rank, shape, sh, sizeof sh);
        free(off);
        return tl_error(TL_INVALID_ARGUMENT, "indices%s = %s does not index into shape %s (index %" PRId64 " of dimension %d is not in [0, %" PRId64 "))",
                        q > 1 ? pos : "", iv, sh, v, (int)(bd + k), dim);
      }
      o += v * strides[bd + k];
    }
    off[i] = o;
  }
  (void)inner;
  *out = off;
  *nrows = rows;
  return TL_OK;
}

/* gather_nd's plan against params of shape (r, pshape). */
static tl_status gather_nd_plan_make(int r, const int64_t *pshape, const tl_tensor *ix, int64_t bd, gather_plan *pl) {
  int q = ix->rank;
  pl->off = NULL;
  if (q < 1) return tl_error(TL_INVALID_ARGUMENT, "indices must have rank at least 1");
  if (bd < 0 || bd >= q || bd > r)
    return tl_error(TL_INVALID_ARGUMENT, "batch_dims %" PRId64 " is out of range (indices rank %d, params rank %d)", bd, q, r);
  int64_t K = ix->shape[q - 1];
  if (K > r - bd)
    return tl_error(TL_INVALID_ARGUMENT, "the last dimension of indices (%" PRId64 ") is larger than the rank of params after batch_dims (%" PRId64 ")",
                    K, r - bd);
  for (int d = 0; d < bd; d++)
    if (pshape[d] != ix->shape[d]) {
      char x[SHAPE_BUF], y[SHAPE_BUF];
      return tl_error(TL_INVALID_ARGUMENT, "batch dimension %d differs: params %s, indices %s", d,
                      tl_shape_format(r, pshape, x, sizeof x), tl_shape_format(q, ix->shape, y, sizeof y));
    }
  int orank = (q - 1) + (int)(r - bd - K);
  if (orank > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "the result would have %d dimensions (at most %d)", orank, TL_MAX_RANK);
  pl->orank = orank;
  int k = 0;
  for (int d = 0; d < q - 1; d++) pl->shape[k++] = ix->shape[d];
  for (int d = (int)(bd + K); d < r; d++) pl->shape[k++] = pshape[d];
  int64_t *idx;
  tl_status s = load_indices(ix, "indices", &idx);
  if (s) return s;
  pl->inner = prod(pshape, (int)(bd + K), r);
  s = nd_offsets(idx, ix, r, pshape, (int)bd, K, pl->inner, &pl->off, &pl->rows);
  free(idx);
  return s;
}

static tl_status gather_nd_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                               tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *p = in[0], *res = NULL, *pc = NULL;
  gather_plan pl;
  tl_status s = gather_nd_plan_make(p->rank, p->shape, in[1], attr[0].i, &pl);
  if (!s) s = tl_tensor_new(p->dtype, pl.orank, pl.shape, &res);
  if (!s && res->size) s = tl_tensor_contiguous(p, &pc);
  if (!s && res->size) gather_rows(res, pc, pl.off, pl.rows, pl.inner);
  free(pl.off);
  tl_tensor_release(pc);
  if (s) {
    tl_tensor_release(res);
    return s;
  }
  return push(out, res);
}

/* ---- boolean_mask / where ---------------------------------------------- */

static tl_status boolean_mask_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                  tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0], *m = in[1];
  if (m->dtype != TL_BOOL) return tl_error(TL_INVALID_ARGUMENT, "mask must be bool, got %s", tl_dtypes[m->dtype].name);
  if (m->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "mask cannot be a scalar");
  int64_t a = attr[0].i;
  if (a < 0) a += t->rank;
  char ts[SHAPE_BUF], ms[SHAPE_BUF];
  tl_shape_format(t->rank, t->shape, ts, sizeof ts);
  tl_shape_format(m->rank, m->shape, ms, sizeof ms);
  if (a < 0 || a + m->rank > t->rank)
    return tl_error(TL_INVALID_ARGUMENT, "mask of shape %s does not fit tensor shape %s at axis %" PRId64, ms, ts, attr[0].i);
  for (int d = 0; d < m->rank; d++)
    if (m->shape[d] != t->shape[a + d])
      return tl_error(TL_INVALID_ARGUMENT, "mask shape %s does not match tensor shape %s at axis %" PRId64 " (dimension %d: %" PRId64 " vs %" PRId64 ")",
                      ms, ts, a, (int)a + d, m->shape[d], t->shape[a + d]);
  tl_tensor *mc, *tc = NULL, *res = NULL;
  tl_status s = tl_tensor_contiguous(m, &mc);
  if (s) return s;
  const uint8_t *mb = tl_tensor_data(mc);
  int64_t count = 0;
  for (int64_t i = 0; i < mc->size; i++) count += mb[i] != 0;
  int64_t outer = prod(t->shape, 0, (int)a), inner = prod(t->shape, (int)a + m->rank, t->rank), M = mc->size;
  int64_t shape[TL_MAX_RANK];
  int k = 0;
  for (int d = 0; d < a; d++) shape[k++] = t->shape[d];
  shape[k++] = count;
  for (int d = (int)a + m->rank; d < t->rank; d++) shape[k++] = t->shape[d];
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
  return push(out, res);
}

static bool is_nonzero(const char *base, tl_dtype d, int64_t i) {
  switch (tl_dtypes[d].kind) {
  case TL_KIND_FLOAT: return tl_load_f64(base, d, i) != 0;
  case TL_KIND_COMPLEX: return ((const float *)base)[2 * i] != 0 || ((const float *)base)[2 * i + 1] != 0;
  case TL_KIND_STRING: return ((const tl_string *)base)[i].len != 0;
  default: return tl_load_i64(base, d, i) != 0;
  }
}

static void select_run(char **p, const int64_t *st, int64_t n, void *ctx) {
  size_t es = *(size_t *)ctx;
  for (int64_t i = 0; i < n; i++) {
    const char *src = p[1][i * st[1]] ? p[2] + i * st[2] * (int64_t)es : p[3] + i * st[3] * (int64_t)es;
    memcpy(p[0] + i * st[0] * (int64_t)es, src, es);
  }
}

static tl_status where_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr, tl_tensor_list *out) {
  (void)op, (void)attr;
  tl_tensor *c = in[0], *x = n_in > 1 ? in[1] : NULL, *y = n_in > 2 ? in[2] : NULL;
  if (!x && !y) {
    tl_tensor *cc;
    tl_status s = tl_tensor_contiguous(c, &cc);
    if (s) return s;
    const char *base = tl_tensor_data(cc);
    int64_t count = 0;
    for (int64_t i = 0; i < cc->size; i++) count += is_nonzero(base, cc->dtype, i);
    int64_t shape[2] = {count, c->rank};
    tl_tensor *res;
    s = tl_tensor_new(TL_INT64, 2, shape, &res);
    if (s) {
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
    return push(out, res);
  }
  if (!x || !y) return tl_error(TL_INVALID_ARGUMENT, "x and y must both be given, or both be nil");
  if (c->dtype != TL_BOOL) return tl_error(TL_INVALID_ARGUMENT, "condition must be bool, got %s", tl_dtypes[c->dtype].name);
  if (x->dtype != y->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "x and y have different dtypes (%s vs %s); use tf.cast to convert",
                    tl_dtypes[x->dtype].name, tl_dtypes[y->dtype].name);
  int r1, r2;
  int64_t s1[TL_MAX_RANK], s2[TL_MAX_RANK];
  tl_status s = tl_broadcast_shapes(x->rank, x->shape, y->rank, y->shape, &r1, s1);
  if (!s) s = tl_broadcast_shapes(c->rank, c->shape, r1, s1, &r2, s2);
  if (s) return s;
  tl_tensor *res, *v[3] = {NULL, NULL, NULL};
  s = tl_tensor_new(x->dtype, r2, s2, &res);
  if (s) return s;
  tl_tensor *src[3] = {c, x, y};
  for (int i = 0; i < 3 && !s; i++) s = tl_tensor_broadcast_view(src[i], r2, s2, &v[i]);
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
  return push(out, res);
}

/* ---- scatter ----------------------------------------------------------- */

typedef enum scatter_mode { SCATTER_UPDATE, SCATTER_ADD, SCATTER_SUB } scatter_mode;

typedef void (*combine_fn)(void *out, const void *in, int64_t n);

#define COMBINE(name, T, OP)                                                \
  static void name(void *o_, const void *i_, int64_t n) {                   \
    T *o = o_;                                                              \
    const T *a = i_;                                                        \
    for (int64_t k = 0; k < n; k++) o[k] = (T)(o[k] OP a[k]);               \
  }
COMBINE(add_f32, float, +)
COMBINE(add_f64, double, +)
COMBINE(add_i8, int8_t, +)
COMBINE(add_u8, uint8_t, +)
COMBINE(add_i16, int16_t, +)
COMBINE(add_i32, int32_t, +)
COMBINE(add_i64, int64_t, +)
COMBINE(or_bool, uint8_t, |)
COMBINE(sub_f32, float, -)
COMBINE(sub_f64, double, -)
COMBINE(sub_i8, int8_t, -)
COMBINE(sub_u8, uint8_t, -)
COMBINE(sub_i16, int16_t, -)
COMBINE(sub_i32, int32_t, -)
COMBINE(sub_i64, int64_t, -)
#undef COMBINE

static void add_f16(void *o_, const void *i_, int64_t n) {
  uint16_t *o = o_;
  const uint16_t *a = i_;
  for (int64_t k = 0; k < n; k++) o[k] = tl_float_to_half(tl_half_to_float(o[k]) + tl_half_to_float(a[k]));
}
static void sub_f16(void *o_, const void *i_, int64_t n) {
  uint16_t *o = o_;
  const uint16_t *a = i_;
  for (int64_t k = 0; k < n; k++) o[k] = tl_float_to_half(tl_half_to_float(o[k]) - tl_half_to_float(a[k]));
}
static void add_bf16(void *o_, const void *i_, int64_t n) {
  uint16_t *o = o_;
  const uint16_t *a = i_;
  for (int64_t k = 0; k < n; k++) o[k] = tl_float_to_bf16(tl_bf16_to_float(o[k]) + tl_bf16_to_float(a[k]));
}
static void sub_bf16(void *o_, const void *i_, int64_t n) {
  uint16_t *o = o_;
  const uint16_t *a = i_;
  for (int64_t k = 0; k < n; k++) o[k] = tl_float_to_bf16(tl_bf16_to_float(o[k]) - tl_bf16_to_float(a[k]));
}
/* complex64 adds component-wise: two floats per element. */
static void add_c64(void *o, const void *a, int64_t n) { add_f32(o, a, 2 * n); }
static void sub_c64(void *o, const void *a, int64_t n) { sub_f32(o, a, 2 * n); }

/* ORDER DTYPES */
static const combine_fn add_fns[TL_DTYPE_COUNT] = {add_f32, add_f64, add_f16, add_bf16, add_i8,  add_u8,
                                                   add_i16, add_i32, add_i64, or_bool,  add_c64, NULL};
static const combine_fn sub_fns[TL_DTYPE_COUNT] = {sub_f32, sub_f64, sub_f16, sub_bf16, sub_i8, sub_u8,
                                                   sub_i16, sub_i32, sub_i64, NULL,     sub_c64, NULL};

/* Writes updates into res (contiguous) at the rows indices address. */
static tl_status scatter_into(tl_tensor *res, const tl_tensor *ix, const tl_tensor *up, scatter_mode mode) {
  if (ix->rank < 1) return tl_error(TL_INVALID_ARGUMENT, "indices must have rank at least 1");
  if (up->dtype != res->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "updates have dtype %s but the tensor is %s (use tf.cast)", tl_dtypes[up->dtype].name,
                    tl_dtypes[res->dtype].name);
  int q = ix->rank, r = res->rank;
  int64_t K = ix->shape[q - 1];
  char rs[SHAPE_BUF], is[SHAPE_BUF], us[SHAPE_BUF];
  tl_shape_format(r, res->shape, rs, sizeof rs);
  tl_shape_format(q, ix->shape, is, sizeof is);
  tl_shape_format(up->rank, up->shape, us, sizeof us);
  if (K > r)
    return tl_error(TL_INVALID_ARGUMENT, "the last dimension of indices %s (%" PRId64 ") is larger than the rank of shape %s", is, K, rs);
  int64_t want[TL_MAX_RANK * 2];
  int wr = 0;
  for (int d = 0; d < q - 1; d++) want[wr++] = ix->shape[d];
  for (int d = (int)K; d < r; d++) want[wr++] = res->shape[d];
  bool ok = wr == up->rank;
  for (int d = 0; ok && d < wr; d++) ok = want[d] == up->shape[d];
  if (!ok) {
    char ws[SHAPE_BUF];
    return tl_error(TL_INVALID_ARGUMENT, "updates have shape %s but indices %s and shape %s require %s", us, is, rs,
                    tl_shape_format(wr, want, ws, sizeof ws));
  }
  combine_fn fn = NULL;
  if (mode != SCATTER_UPDATE) {
    fn = (mode == SCATTER_ADD ? add_fns : sub_fns)[res->dtype];
    if (!fn)
      return tl_error(TL_UNIMPLEMENTED, "scatter %s is not supported for %s", mode == SCATTER_ADD ? "add" : "subtract",
                      tl_dtypes[res->dtype].name);
  }
  int64_t *idx, *off = NULL, rows;
  tl_status s = load_indices(ix, "indices", &idx);
  if (s) return s;
  int64_t inner = prod(res->shape, (int)K, r);
  s = nd_offsets(idx, ix, r, res->shape, 0, K, inner, &off, &rows);
  free(idx);
  if (s) return s;
  tl_tensor *uc;
  s = tl_tensor_contiguous((tl_tensor *)up, &uc);
  if (s) {
    free(off);
    return s;
  }
  size_t es = tl_dtypes[res->dtype].size;
  char *dst = tl_tensor_data(res);
  const char *src = tl_tensor_data(uc);
  for (int64_t i = 0; i < rows && inner; i++) {
    char *o = dst + (size_t)off[i] * es;
    const char *u = src + (size_t)(i * inner) * es;
    if (fn) fn(o, u, inner);
    else memcpy(o, u, (size_t)inner * es);
  }
  tl_tensor_release(uc);
  free(off);
  return TL_OK;
}

static tl_status scatter_nd_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                tl_tensor_list *out) {
  (void)op, (void)n_in;
  const tl_attr *sh = &attr[0];
  tl_status s = check_shape_attr(sh);
  if (s) return s;
  tl_tensor *res = NULL;
  s = tl_tensor_zeros(in[1]->dtype, sh->n, sh->ints, &res);
  if (!s) s = scatter_into(res, in[0], in[1], SCATTER_ADD);
  if (s) {
    tl_tensor_release(res);
    return s;
  }
  return push(out, res);
}

static tl_status tensor_scatter(tl_tensor *const *in, scatter_mode mode, tl_tensor_list *out) {
  tl_tensor *t = in[0], *res;
  tl_status s = tl_tensor_new(t->dtype, t->rank, t->shape, &res);
  if (s) return s;
  if (res->size) s = tl_tensor_copy_into(res, t);
  if (!s) s = scatter_into(res, in[1], in[2], mode);
  if (s) {
    tl_tensor_release(res);
    return s;
  }
  return push(out, res);
}

static tl_status tensor_scatter_nd_update_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                              tl_tensor_list *out) {
  (void)op, (void)n_in, (void)attr;
  return tensor_scatter(in, SCATTER_UPDATE, out);
}
static tl_status tensor_scatter_nd_add_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                           tl_tensor_list *out) {
  (void)op, (void)n_in, (void)attr;
  return tensor_scatter(in, SCATTER_ADD, out);
}
static tl_status tensor_scatter_nd_sub_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                           tl_tensor_list *out) {
  (void)op, (void)n_in, (void)attr;
  return tensor_scatter(in, SCATTER_SUB, out);
}

/* ---- gradient ops ------------------------------------------------------ */
/* gather_grad and gather_nd_grad add dy's rows into zeros of params' shape
 * at the rows gather/gather_nd read (duplicates add): the unsorted segment
 * sums their gradients need. Each one's own gradient is the gather. */

/* res (contiguous, zeros) row off[i] += dy row i. Serial: rows may repeat. */
static tl_status add_rows(tl_tensor *res, const tl_tensor *dy, const gather_plan *pl) {
  combine_fn fn = add_fns[res->dtype];
  if (!fn) return tl_error(TL_UNIMPLEMENTED, "adding %s values is not supported", tl_dtypes[res->dtype].name);
  if (!pl->off || pl->inner == 0) return TL_OK;
  tl_tensor *dc;
  tl_status s = tl_tensor_contiguous((tl_tensor *)dy, &dc);
  if (s) return s;
  size_t es = tl_dtypes[res->dtype].size;
  char *dst = tl_tensor_data(res);
  const char *src = tl_tensor_data(dc);
  for (int64_t i = 0; i < pl->rows; i++) fn(dst + (size_t)pl->off[i] * es, src + (size_t)(i * pl->inner) * es, pl->inner);
  tl_tensor_release(dc);
  return TL_OK;
}

/* Zeros of shape sh with dy's rows added by the plan, after checking that
 * dy has the shape the gather would produce. */
static tl_status scatter_rows(tl_tensor *dy, const tl_attr *sh, gather_plan *pl, tl_tensor_list *out) {
  tl_tensor *res = NULL;
  tl_status s = TL_OK;
  if (pl->orank != dy->rank || memcmp(pl->shape, dy->shape, sizeof(int64_t) * (size_t)dy->rank) != 0) {
    char a[SHAPE_BUF], b[SHAPE_BUF], c[SHAPE_BUF];
    s = tl_error(TL_INVALID_ARGUMENT, "dy has shape %s but gathering from shape %s gives %s",
                 tl_shape_format(dy->rank, dy->shape, a, sizeof a), tl_shape_format(sh->n, sh->ints, b, sizeof b),
                 tl_shape_format(pl->orank, pl->shape, c, sizeof c));
  }
  if (!s) s = tl_tensor_zeros(dy->dtype, sh->n, sh->ints, &res);
  if (!s) s = add_rows(res, dy, pl);
  free(pl->off);
  if (s) {
    tl_tensor_release(res);
    return s;
  }
  return push(out, res);
}

/* attr: shape, axis, batch_dims (gather's, with the params' shape first). */
static tl_status gather_grad_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                 tl_tensor_list *out) {
  (void)op, (void)n_in;
  gather_plan pl;
  tl_status s = check_shape_attr(&attr[0]);
  if (!s) s = gather_plan_make(attr[0].n, attr[0].ints, in[1], &attr[1], &attr[2], &pl);
  return s ? s : scatter_rows(in[0], &attr[0], &pl, out);
}

/* attr: shape, batch_dims. */
static tl_status gather_nd_grad_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                    tl_tensor_list *out) {
  (void)op, (void)n_in;
  gather_plan pl;
  tl_status s = check_shape_attr(&attr[0]);
  if (!s) s = gather_nd_plan_make(attr[0].n, attr[0].ints, in[1], attr[1].i, &pl);
  return s ? s : scatter_rows(in[0], &attr[0], &pl, out);
}

/* ---- gradients --------------------------------------------------------- */
/* Written with ordinary ops (tl_call), so an outer tape records them and
 * gradients of gradients work. Indices, masks and conditions get none. */

#define GRAD_ARGS                                                                                \
  const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr, tl_tensor *const *out, \
      int n_out, tl_tensor *const *gout, tl_tensor **gin
#define UNUSED_GRAD_ARGS (void)op, (void)in, (void)n_in, (void)attr, (void)out, (void)n_out

/* strided_slice's attributes (attr[0..7]) as named ones; returns the count. */
static int slice_named(const tl_attr *attr, tl_named_attr *named) {
  static const char *const names[8] = {"begin", "end", "strides", "begin_mask", "end_mask",
                                       "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"};
  int n = 0;
  for (int i = 0; i < 8; i++)
    if (attr[i].present) named[n++] = (tl_named_attr){names[i], attr[i]};
  return n;
}

static tl_status strided_slice_of(tl_tensor *g, const tl_attr *slice_attr, tl_tensor **out) {
  tl_named_attr named[8];
  int n = slice_named(slice_attr, named);
  return tl_call("strided_slice", 1, &g, n, named, out);
}

static tl_status slice_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  const tl_tensor *x = in[0];
  int r = x->rank;
  int64_t shape[2] = {r, 2};
  tl_tensor *pads;
  tl_status s = tl_tensor_new(TL_INT64, 2, shape, &pads);
  if (s) return s;
  int64_t *p = tl_tensor_data(pads);
  for (int d = 0; d < r; d++) {
    p[2 * d] = attr[0].ints[d];
    p[2 * d + 1] = x->shape[d] - attr[0].ints[d] - out[0]->shape[d];
  }
  s = tl_call("pad", 2, (tl_tensor *[]){gout[0], pads}, 0, NULL, &gin[0]);
  tl_tensor_release(pads);
  return s;
}

static tl_status strided_slice_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  tl_named_attr named[9];
  named[0] = TL_A_INTS("shape", in[0]->rank, in[0]->shape);
  int n = 1 + slice_named(attr, named + 1);
  return tl_call("strided_slice_grad", 1, &gout[0], n, named, &gin[0]);
}

static tl_status strided_slice_grad_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  return strided_slice_of(gout[0], attr + 1, &gin[0]);
}

/* input: g with the slice zeroed; value: the slice of g (the tape sums it
 * down to value's shape where value was broadcast). */
static tl_status strided_slice_update_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  tl_status s = TL_OK;
  if (tl_grad_wants(0)) {
    tl_named_attr named[8];
    int n = slice_named(attr, named);
    tl_tensor *zero;
    if ((s = tl_tensor_scalar_f64(gout[0]->dtype, 0, &zero))) return s;
    s = tl_call("tensor_strided_slice_update", 2, (tl_tensor *[]){gout[0], zero}, n, named, &gin[0]);
    tl_tensor_release(zero);
    if (s) return s;
  }
  if (tl_grad_wants(1)) s = strided_slice_of(gout[0], attr, &gin[1]);
  return s;
}

static tl_status gather_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  const tl_tensor *p = in[0];
  int64_t bd = attr[1].i < 0 ? attr[1].i + in[1]->rank : attr[1].i;
  int64_t a = attr[0].present ? attr[0].i : bd;
  if (a < 0) a += p->rank;
  return tl_call("gather_grad", 2, (tl_tensor *[]){gout[0], in[1]}, 3,
                 (tl_named_attr[]){TL_A_INTS("shape", p->rank, p->shape), TL_A_INT("axis", a), TL_A_INT("batch_dims", bd)},
                 &gin[0]);
}

static tl_status gather_grad_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  tl_named_attr named[2] = {TL_A_INT("batch_dims", attr[2].i), TL_A_INT("axis", attr[1].i)};
  return tl_call("gather", 2, (tl_tensor *[]){gout[0], in[1]}, attr[1].present ? 2 : 1, named, &gin[0]);
}

static tl_status gather_nd_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  return tl_call("gather_nd_grad", 2, (tl_tensor *[]){gout[0], in[1]}, 2,
                 (tl_named_attr[]){TL_A_INTS("shape", in[0]->rank, in[0]->shape), TL_A_INT("batch_dims", attr[0].i)},
                 &gin[0]);
}

/* gather_nd of g at the indices: scatter_nd's and the tensor scatters'
 * gradient for updates, and gather_nd_grad's for dy. */
static tl_status gather_nd_of(tl_tensor *g, tl_tensor *indices, int64_t batch_dims, tl_tensor **out) {
  return tl_call("gather_nd", 2, (tl_tensor *[]){g, indices}, 1, (tl_named_attr[]){TL_A_INT("batch_dims", batch_dims)}, out);
}

static tl_status gather_nd_grad_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  return gather_nd_of(gout[0], in[1], attr[1].i, &gin[0]);
}

/* The mask selects rows of tensor as [outer..., M, inner...]: gather's
 * gradient at the positions where(mask) of the flattened mask. */
static tl_status boolean_mask_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  const tl_tensor *x = in[0];
  tl_tensor *m = in[1];
  int64_t a = attr[0].i < 0 ? attr[0].i + x->rank : attr[0].i;
  int64_t shape[TL_MAX_RANK], count, M = m->size;
  int k = 0;
  for (int d = 0; d < a; d++) shape[k++] = x->shape[d];
  shape[k++] = M;
  for (int d = (int)a + m->rank; d < x->rank; d++) shape[k++] = x->shape[d];
  tl_tensor *flat = NULL, *pos = NULL, *idx = NULL, *g = NULL;
  tl_status s = tl_call("reshape", 1, &m, 1, (tl_named_attr[]){TL_A_INTS("shape", 1, &M)}, &flat);
  if (!s) s = tl_call("where", 3, (tl_tensor *[]){flat, NULL, NULL}, 0, NULL, &pos);
  if (!s) {
    count = pos->shape[0];
    s = tl_call("reshape", 1, &pos, 1, (tl_named_attr[]){TL_A_INTS("shape", 1, &count)}, &idx);
  }
  if (!s)
    s = tl_call("gather_grad", 2, (tl_tensor *[]){gout[0], idx}, 2,
                (tl_named_attr[]){TL_A_INTS("shape", k, shape), TL_A_INT("axis", a)}, &g);
  if (!s) s = tl_call("reshape", 1, &g, 1, (tl_named_attr[]){TL_A_INTS("shape", x->rank, x->shape)}, &gin[0]);
  tl_tensor_release(flat);
  tl_tensor_release(pos);
  tl_tensor_release(idx);
  tl_tensor_release(g);
  return s;
}

/* x gets g where the condition holds, y where it does not; both at the
 * broadcast shape (the tape reduces them). where(c) alone gives int64. */
static tl_status where_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  if (n_in < 3 || !in[1] || !in[2]) return TL_OK;
  tl_tensor *zero;
  tl_status s = tl_tensor_scalar_f64(gout[0]->dtype, 0, &zero);
  if (s) return s;
  if (tl_grad_wants(1)) s = tl_call("where", 3, (tl_tensor *[]){in[0], gout[0], zero}, 0, NULL, &gin[1]);
  if (!s && tl_grad_wants(2)) s = tl_call("where", 3, (tl_tensor *[]){in[0], zero, gout[0]}, 0, NULL, &gin[2]);
  tl_tensor_release(zero);
  return s;
}

static tl_status scatter_nd_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  return gather_nd_of(gout[0], in[0], 0, &gin[1]);
}

/* tensor: g, with the replaced positions zeroed for update; updates: the
 * gathered g (negated for sub). */
static tl_status tensor_scatter_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  tl_status s = TL_OK;
  if (tl_grad_wants(0)) {
    if (strcmp(op->name, "tensor_scatter_nd_update") == 0) {
      tl_tensor *z;
      if ((s = tl_tensor_zeros(in[2]->dtype, in[2]->rank, in[2]->shape, &z))) return s;
      s = tl_call("tensor_scatter_nd_update", 3, (tl_tensor *[]){gout[0], in[1], z}, 0, NULL, &gin[0]);
      tl_tensor_release(z);
      if (s) return s;
    } else {
      gin[0] = tl_tensor_retain(gout[0]);
    }
  }
  if (!tl_grad_wants(2)) return TL_OK;
  if (strcmp(op->name, "tensor_scatter_nd_sub") != 0) return gather_nd_of(gout[0], in[1], 0, &gin[2]);
  tl_tensor *t;
  if ((s = gather_nd_of(gout[0], in[1], 0, &t))) return s;
  s = tl_call("negative", 1, &t, 0, NULL, &gin[2]);
  tl_tensor_release(t);
  return s;
}

#define SLICE_MASKS \
  "begin:ints, end:ints, strides:ints?, begin_mask:int=0, end_mask:int=0, ellipsis_mask:int=0, new_axis_mask:int=0, shrink_axis_mask:int=0"

tl_op_def tl_ops_index[] = {
    {.name = "slice", .inputs = "input", .attrs = "begin:ints, size:ints", .kernel[TL_CPU] = slice_fwd, .grad = slice_grad,
     .doc = "The block starting at begin with the given size (-1: to the end)."},
    {.name = "strided_slice", .inputs = "input", .attrs = SLICE_MASKS, .kernel[TL_CPU] = strided_slice_fwd, .grad = strided_slice_grad,
     .doc = "Python-style slicing begin:end:stride per dimension with TensorFlow's masks (what t[...] uses)."},
    {.name = "tensor_strided_slice_update", .inputs = "input, value", .attrs = SLICE_MASKS,
     .kernel[TL_CPU] = strided_slice_update_fwd, .grad = strided_slice_update_grad, .api = "-",
     .doc = "A copy of input with the strided slice replaced by value (broadcast); what v[...] = x uses."},
    {.name = "strided_slice_grad", .inputs = "dy", .attrs = "shape:ints, " SLICE_MASKS, .kernel[TL_CPU] = strided_slice_grad_fwd,
     .grad = strided_slice_grad_grad, .api = "-",
     .doc = "Zeros of shape with dy in the strided slice: strided_slice's gradient."},
    {.name = "gather", .inputs = "params, indices", .attrs = "axis:int?, batch_dims:int=0", .kernel[TL_CPU] = gather_fwd, .grad = gather_grad,
     .doc = "Slices of params along axis at the given indices (0-based)."},
    {.name = "gather_grad", .inputs = "dy, indices", .attrs = "shape:ints, axis:int?, batch_dims:int=0",
     .kernel[TL_CPU] = gather_grad_fwd, .grad = gather_grad_grad, .api = "-",
     .doc = "Zeros of shape (params') with the rows of dy added where gather read them: gather's gradient."},
    {.name = "gather_nd", .inputs = "params, indices", .attrs = "batch_dims:int=0", .kernel[TL_CPU] = gather_nd_fwd, .grad = gather_nd_grad,
     .doc = "Slices of params addressed by the last dimension of indices."},
    {.name = "gather_nd_grad", .inputs = "dy, indices", .attrs = "shape:ints, batch_dims:int=0",
     .kernel[TL_CPU] = gather_nd_grad_fwd, .grad = gather_nd_grad_grad, .api = "-",
     .doc = "Zeros of shape (params') with the slices of dy added where gather_nd read them: gather_nd's gradient."},
    {.name = "boolean_mask", .inputs = "tensor, mask", .attrs = "axis:int=0", .kernel[TL_CPU] = boolean_mask_fwd, .grad = boolean_mask_grad,
     .doc = "The elements (or slices from axis on) where mask is true."},
    {.name = "where", .inputs = "condition, x?, y?", .attrs = "", .kernel[TL_CPU] = where_fwd, .grad = where_grad,
     .doc = "where(c): int64 coordinates of true elements; where(c, x, y): x where c else y, broadcast."},
    {.name = "scatter_nd", .inputs = "indices, updates", .attrs = "shape:ints", .kernel[TL_CPU] = scatter_nd_fwd, .grad = scatter_nd_grad,
     .doc = "A zero tensor of shape with updates added at indices (duplicates add)."},
    {.name = "tensor_scatter_nd_update", .inputs = "tensor, indices, updates", .kernel[TL_CPU] = tensor_scatter_nd_update_fwd, .grad = tensor_scatter_grad,
     .doc = "A copy of tensor with the slices at indices replaced by updates."},
    {.name = "tensor_scatter_nd_add", .inputs = "tensor, indices, updates", .kernel[TL_CPU] = tensor_scatter_nd_add_fwd, .grad = tensor_scatter_grad,
     .doc = "A copy of tensor with updates added at indices."},
    {.name = "tensor_scatter_nd_sub", .inputs = "tensor, indices, updates", .kernel[TL_CPU] = tensor_scatter_nd_sub_fwd, .grad = tensor_scatter_grad,
     .doc = "A copy of tensor with updates subtracted at indices."},
    {0},
};
