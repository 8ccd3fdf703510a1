/* ops/index.c — indexing by index tensors: gather, gather_nd, scatter_nd,
 * tensor_scatter_nd_{update,add,sub}, and the internal gradient ops
 * gather_grad and gather_nd_grad.
 *
 * Indices are 0-based data. Their dtype (int32/int64) and every shape are
 * checked by the shape rules; their values only by the kernels, which read
 * them on their device: an index outside [0, n) is an InvalidArgument
 * error naming the index, its position in the indices tensor and the valid
 * range, as TensorFlow's CPU kernels do (no negative indices here). Every
 * op fills outputs the dispatcher allocated. Data movement is by element
 * size (any dtype); only the adds (scatter_nd, tensor_scatter_nd_add/sub,
 * the gradient ops, where rows may repeat) look at values, through a small
 * table of typed loops.
 *
 * Gradients: the adjoint of a gather is a scatter-add into zeros, done by
 * gather_grad / gather_nd_grad, whose own gradients are the gathers, so
 * gradients of gradients work. Indices get no gradient.
 */
#include "ops/movement.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static tl_status check_index_dtype(const tl_meta *ix) {
  if (ix->dtype != TL_INT32 && ix->dtype != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "indices must be int32 or int64, got %s", tl_dtypes[ix->dtype].name);
  return TL_OK;
}

/* Reads an int32/int64 tensor (in a kernel) into a new int64 array (caller frees). */
static tl_status load_indices(const tl_tensor *t, int64_t **out) {
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

/* Batch dimensions of params and indices must agree where both are known. */
static tl_status check_batch(int r, const int64_t *pshape, const tl_meta *ix, int bd) {
  for (int d = 0; d < bd; d++)
    if (pshape[d] >= 0 && ix->shape[d] >= 0 && pshape[d] != ix->shape[d]) {
      char x[TL_SHAPE_BUF], y[TL_SHAPE_BUF];
      tl_meta p = {.rank = r};
      memcpy(p.shape, pshape, sizeof(int64_t) * (size_t)r);
      return tl_error(TL_INVALID_ARGUMENT, "batch dimension %d differs: params %s, indices %s", d, tl_meta_dims(&p, x, sizeof x),
                      tl_meta_dims(ix, y, sizeof y));
    }
  return TL_OK;
}

/* ---- row copies -------------------------------------------------------- */

typedef struct rows_ctx {
  char *dst;
  const char *src;
  const int64_t *src_off; /* source element offset of each destination row */
  size_t es, row_bytes;
} rows_ctx;

static void copy_rows(int64_t lo, int64_t hi, void *vctx) {
  const rows_ctx *c = vctx;
  /* One 4- or 8-byte element per row (a vector gathered, ragged values):
   * typed copies instead of a memcpy call per element (about 6x faster). */
  if (c->row_bytes == 4 && c->es == 4) {
    uint32_t *d = (uint32_t *)c->dst;
    const uint32_t *src = (const uint32_t *)c->src;
    for (int64_t i = lo; i < hi; i++) d[i] = src[c->src_off[i]];
    return;
  }
  if (c->row_bytes == 8 && c->es == 8) {
    uint64_t *d = (uint64_t *)c->dst;
    const uint64_t *src = (const uint64_t *)c->src;
    for (int64_t i = lo; i < hi; i++) d[i] = src[c->src_off[i]];
    return;
  }
  for (int64_t i = lo; i < hi; i++)
    memcpy(c->dst + (size_t)i * c->row_bytes, c->src + (size_t)c->src_off[i] * c->es, c->row_bytes);
}

/* Where a gather's output rows come from: one source offset per output row
 * (in elements of contiguous params; NULL when the output is empty). */
typedef struct gather_plan {
  int64_t *off;
  int64_t *own; /* what to free: off, or NULL when off points into the indices tensor */
  int64_t rows, inner;
} gather_plan;

/* dst row i (of `inner` elements) = src elements [off[i], +inner). */
static tl_status gather_rows(tl_tensor *res, tl_tensor *src, const gather_plan *pl) {
  if (pl->rows == 0 || pl->inner == 0 || !pl->off) return TL_OK;
  tl_tensor *sc;
  tl_status s = tl_tensor_contiguous(src, &sc);
  if (s) return s;
  size_t es = tl_dtypes[src->dtype].size;
  rows_ctx c = {tl_tensor_data(res), tl_tensor_data(sc), pl->off, es, (size_t)pl->inner * es};
  int64_t grain = 1 + (int64_t)(32768 / c.row_bytes);
  tl_parallel_for(pl->rows, grain, copy_rows, &c);
  tl_tensor_release(sc);
  return TL_OK;
}

/* ---- gather ------------------------------------------------------------ */

/* gather's axis and batch_dims resolved against params (rank r, shape
 * pshape) and indices, with the output's rank (-1 when either rank is
 * unknown) and shape. */
typedef struct gather_dims {
  int a, bd, orank;
  int64_t shape[TL_MAX_RANK];
} gather_dims;

static tl_status gather_dims_of(int r, const int64_t *pshape, const tl_meta *ix, const tl_attr *axis,
                                const tl_attr *batch_dims, gather_dims *g) {
  tl_status s = check_index_dtype(ix);
  if (s) return s;
  g->orank = -1;
  int q = ix->rank;
  if (r < 0 || q < 0) return TL_OK;
  int64_t bd = batch_dims->i;
  if (bd < 0) bd += q;
  if (bd < 0 || bd > q)
    return tl_error(TL_INVALID_ARGUMENT, "batch_dims %" PRId64 " is out of range for indices of rank %d", batch_dims->i, q);
  if (bd >= r && r > 0)
    return tl_error(TL_INVALID_ARGUMENT, "batch_dims %" PRId64 " must be less than the rank of params (%d)", batch_dims->i, r);
  int64_t a = axis->present ? axis->i : bd;
  if (a < 0) a += r;
  if (a < 0 || a >= r)
    return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " is out of range for params of rank %d%s", axis->i, r,
                    r ? "" : " (a scalar cannot be gathered from)");
  if (a < bd) return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " must be at least batch_dims (%" PRId64 ")", a, bd);
  if ((s = check_batch(r, pshape, ix, (int)bd))) return s;
  int orank = (int)(a + (q - bd) + (r - a - 1));
  if (orank > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "the result would have %d dimensions (at most %d)", orank, TL_MAX_RANK);
  int k = 0;
  for (int d = 0; d < a; d++) g->shape[k++] = pshape[d];
  for (int d = (int)bd; d < q; d++) g->shape[k++] = ix->shape[d];
  for (int d = (int)a + 1; d < r; d++) g->shape[k++] = pshape[d];
  g->orank = orank;
  g->a = (int)a;
  g->bd = (int)bd;
  return TL_OK;
}

/* The source rows of a gather from params of (concrete) shape pshape, after
 * checking every index value. */
static tl_status gather_plan_make(int r, const int64_t *pshape, const tl_tensor *ix, const gather_dims *g, gather_plan *pl) {
  int q = ix->rank, a = g->a, bd = g->bd;
  pl->off = pl->own = NULL;
  int64_t n = pshape[a];
  if (ix->dtype == TL_INT64 && tl_tensor_is_contiguous(ix) && bd == 0 && a == 0 && tl_dims_prod(pshape, 1, r) == 1) {
    /* rows of a vector by contiguous int64 indices: the indices are the
     * offsets, read in place (no copy of a large index vector) */
    const int64_t *v = tl_tensor_data(ix);
    for (int64_t i = 0; i < ix->size; i++)
      if (v[i] < 0 || v[i] >= n) {
        char pos[TL_SHAPE_BUF];
        format_position(q, ix->shape, i, pos, sizeof pos);
        return tl_error(TL_INVALID_ARGUMENT, "indices%s = %" PRId64 " is not in [0, %" PRId64 ")", q ? pos : "", v[i], n);
      }
    pl->inner = 1;
    pl->rows = ix->size;
    pl->off = ix->size ? (int64_t *)v : NULL;
    return TL_OK;
  }
  int64_t *idx;
  tl_status s = load_indices(ix, &idx);
  if (s) return s;
  for (int64_t i = 0; i < ix->size; i++)
    if (idx[i] < 0 || idx[i] >= n) {
      char pos[TL_SHAPE_BUF];
      format_position(q, ix->shape, i, pos, sizeof pos);
      int64_t v = idx[i];
      free(idx);
      return tl_error(TL_INVALID_ARGUMENT, "indices%s = %" PRId64 " is not in [0, %" PRId64 ")", q ? pos : "", v, n);
    }
  int64_t batch = tl_dims_prod(pshape, 0, bd), outer = tl_dims_prod(pshape, bd, a), nidx = tl_dims_prod(ix->shape, bd, q);
  pl->inner = tl_dims_prod(pshape, a + 1, r);
  pl->rows = batch * outer * nidx;
  if (tl_shape_numel(g->orank, g->shape) == 0) {
    free(idx);
    return TL_OK;
  }
  if (batch == 1 && outer == 1) {
    /* gather along the first axis: the offsets are the indices scaled,
     * computed in place (one large buffer, and its page faults, fewer) */
    for (int64_t j = 0; j < nidx; j++) idx[j] *= pl->inner;
    pl->off = pl->own = idx;
    return TL_OK;
  }
  pl->off = pl->own = malloc(sizeof *pl->off * (size_t)pl->rows);
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

static tl_status gather_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  gather_dims g;
  tl_status s = gather_dims_of(in[0]->rank, in[0]->shape, in[1], &attr[0], &attr[1], &g);
  return s ? s : tl_meta_emit(out, in[0]->dtype, g.orank, g.shape);
}

static tl_status gather_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *p = in[0];
  gather_dims g;
  gather_plan pl;
  tl_status s = gather_dims_of(p->rank, p->shape, &in[1]->meta, &attr[0], &attr[1], &g);
  if (!s) s = gather_plan_make(p->rank, p->shape, in[1], &g, &pl);
  if (s) return s;
  s = gather_rows(tl_out(out, 0), p, &pl);
  free(pl.own);
  return s;
}

/* ---- gather_nd --------------------------------------------------------- */

/* gather_nd's output against params (rank r, shape pshape); rank -1 when
 * a rank or the index depth (the last dimension of indices) is unknown. */
static tl_status gather_nd_dims_of(int r, const int64_t *pshape, const tl_meta *ix, int64_t bd, gather_dims *g) {
  tl_status s = check_index_dtype(ix);
  if (s) return s;
  int q = ix->rank;
  g->orank = -1;
  if (q == 0) return tl_error(TL_INVALID_ARGUMENT, "indices must have rank at least 1");
  if (r < 0 || q < 0) return TL_OK;
  if (bd < 0 || bd >= q || bd > r)
    return tl_error(TL_INVALID_ARGUMENT, "batch_dims %" PRId64 " is out of range (indices rank %d, params rank %d)", bd, q, r);
  int64_t K = ix->shape[q - 1];
  if (K > r - bd)
    return tl_error(TL_INVALID_ARGUMENT, "the last dimension of indices (%" PRId64 ") is larger than the rank of params after batch_dims (%" PRId64 ")",
                    K, r - bd);
  if ((s = check_batch(r, pshape, ix, (int)bd))) return s;
  if (K < 0) return TL_OK;
  int orank = (q - 1) + (int)(r - bd - K);
  if (orank > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "the result would have %d dimensions (at most %d)", orank, TL_MAX_RANK);
  int k = 0;
  for (int d = 0; d < q - 1; d++) g->shape[k++] = ix->shape[d];
  for (int d = (int)(bd + K); d < r; d++) g->shape[k++] = pshape[d];
  g->orank = orank;
  g->bd = (int)bd;
  g->a = (int)K;
  return TL_OK;
}

/* Shared by gather_nd and the scatters: row offsets (in elements of a
 * contiguous tensor of `shape`) addressed by the last dimension of the
 * indices, after checking every index value. */
static tl_status nd_offsets(const tl_tensor *ix, int rank, const int64_t *shape, int bd, int64_t **out, int64_t *nrows) {
  int q = ix->rank;
  int64_t K = ix->shape[q - 1], rows = tl_dims_prod(ix->shape, 0, q - 1), nidx = tl_dims_prod(ix->shape, bd, q - 1);
  int64_t slab = tl_dims_prod(shape, bd, rank), *idx;
  tl_status s = load_indices(ix, &idx);
  if (s) return s;
  int64_t *off = malloc(sizeof *off * (size_t)(rows ? rows : 1));
  if (!off) {
    free(idx);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  int64_t strides[TL_MAX_RANK];
  for (int d = rank - 1; d >= 0; d--) strides[d] = d == rank - 1 ? 1 : strides[d + 1] * shape[d + 1];
  for (int64_t i = 0; i < rows; i++) {
    int64_t o = (nidx ? i / nidx : 0) * slab;
    for (int64_t k = 0; k < K; k++) {
      int64_t v = idx[i * K + k], dim = shape[bd + k];
      if (v < 0 || v >= dim) {
        char pos[TL_SHAPE_BUF], sh[TL_SHAPE_BUF], iv[TL_SHAPE_BUF];
        format_position(q - 1, ix->shape, i, pos, sizeof pos);
        tl_shape_format((int)K, idx + i * K, iv, sizeof iv);
        tl_shape_format(rank, shape, sh, sizeof sh);
        free(off);
        free(idx);
        return tl_error(TL_INVALID_ARGUMENT,
                        "indices%s = %s does not index into shape %s (index %" PRId64 " of dimension %d is not in [0, %" PRId64 "))",
                        q > 1 ? pos : "", iv, sh, v, (int)(bd + k), dim);
      }
      o += v * strides[bd + k];
    }
    off[i] = o;
  }
  free(idx);
  *out = off;
  *nrows = rows;
  return TL_OK;
}

static tl_status gather_nd_plan_make(int r, const int64_t *pshape, const tl_tensor *ix, const gather_dims *g, gather_plan *pl) {
  pl->inner = tl_dims_prod(pshape, g->bd + g->a, r);
  pl->own = NULL;
  tl_status s = nd_offsets(ix, r, pshape, g->bd, &pl->off, &pl->rows);
  if (!s) pl->own = pl->off;
  return s;
}

static tl_status gather_nd_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  gather_dims g;
  tl_status s = gather_nd_dims_of(in[0]->rank, in[0]->shape, in[1], attr[0].i, &g);
  return s ? s : tl_meta_emit(out, in[0]->dtype, g.orank, g.shape);
}

static tl_status gather_nd_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *p = in[0];
  gather_dims g;
  gather_plan pl;
  tl_status s = gather_nd_dims_of(p->rank, p->shape, &in[1]->meta, attr[0].i, &g);
  if (!s) s = gather_nd_plan_make(p->rank, p->shape, in[1], &g, &pl);
  if (s) return s;
  s = gather_rows(tl_out(out, 0), p, &pl);
  free(pl.own);
  return s;
}

/* ---- adds (scatters and gradient ops) ---------------------------------- */

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
static const combine_fn add_fns[TL_DTYPE_COUNT] = {add_f32, add_f64, add_f16, add_bf16, add_i8,  add_u8, add_i16,
                                                   add_i32, add_i64, or_bool,  add_c64,  NULL,    NULL};
static const combine_fn sub_fns[TL_DTYPE_COUNT] = {sub_f32, sub_f64, sub_f16, sub_bf16, sub_i8, sub_u8, sub_i16,
                                                   sub_i32, sub_i64, NULL,     sub_c64,  NULL,   NULL};

/* ---- scatters ----------------------------------------------------------- */

typedef enum scatter_mode { SCATTER_UPDATE, SCATTER_ADD, SCATTER_SUB } scatter_mode;

/* Each scatter op's record points at its mode (.impl). */
static const scatter_mode mode_update = SCATTER_UPDATE, mode_add = SCATTER_ADD, mode_sub = SCATTER_SUB;

/* Indices and updates against the target (the result's meta): updates
 * must have the shape indices.shape[:-1] + target.shape[K:], where K (the
 * index depth) is the last dimension of indices. */
static tl_status scatter_check(const tl_meta *target, const tl_meta *ix, const tl_meta *up, scatter_mode mode) {
  if (ix->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "indices must have rank at least 1");
  if (up->dtype != target->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "updates have dtype %s but the tensor is %s (use tf.cast)", tl_dtypes[up->dtype].name,
                    tl_dtypes[target->dtype].name);
  tl_status s = check_index_dtype(ix);
  if (s) return s;
  if (mode != SCATTER_UPDATE && !(mode == SCATTER_ADD ? add_fns : sub_fns)[target->dtype])
    return tl_error(TL_UNIMPLEMENTED, "scatter %s is not supported for %s", mode == SCATTER_ADD ? "add" : "subtract",
                    tl_dtypes[target->dtype].name);
  int q = ix->rank, r = target->rank;
  if (q < 0 || r < 0 || ix->shape[q - 1] < 0) return TL_OK; /* where the update rows end is unknown */
  int64_t K = ix->shape[q - 1];
  char rs[TL_SHAPE_BUF], is[TL_SHAPE_BUF], us[TL_SHAPE_BUF], ws[TL_SHAPE_BUF];
  tl_meta_dims(target, rs, sizeof rs);
  tl_meta_dims(ix, is, sizeof is);
  if (K > r)
    return tl_error(TL_INVALID_ARGUMENT, "the last dimension of indices %s (%" PRId64 ") is larger than the rank of shape %s", is,
                    K, rs);
  tl_meta want = {.dtype = up->dtype, .rank = 0};
  if (q - 1 + r - K > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "updates would need more than %d dimensions", TL_MAX_RANK);
  for (int d = 0; d < q - 1; d++) want.shape[want.rank++] = ix->shape[d];
  for (int d = (int)K; d < r; d++) want.shape[want.rank++] = target->shape[d];
  if (!tl_meta_compatible(up, &want))
    return tl_error(TL_INVALID_ARGUMENT, "updates have shape %s but indices %s and shape %s require %s",
                    tl_meta_dims(up, us, sizeof us), is, rs, tl_meta_dims(&want, ws, sizeof ws));
  return TL_OK;
}

/* Writes updates into res (contiguous) at the rows indices address. */
static tl_status scatter_into(tl_tensor *res, const tl_tensor *ix, tl_tensor *up, scatter_mode mode) {
  combine_fn fn = mode == SCATTER_UPDATE ? NULL : (mode == SCATTER_ADD ? add_fns : sub_fns)[res->dtype];
  int64_t *off, rows, inner = tl_dims_prod(res->shape, (int)ix->shape[ix->rank - 1], res->rank);
  tl_status s = nd_offsets(ix, res->rank, res->shape, 0, &off, &rows);
  if (s) return s;
  tl_tensor *uc;
  if ((s = tl_tensor_contiguous(up, &uc))) {
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

static tl_status scatter_nd_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_attr *sh = &attr[0];
  tl_status s = tl_check_shape_attr(sh);
  if (s) return s;
  tl_meta target = {.dtype = in[1]->dtype, .rank = sh->n};
  memcpy(target.shape, sh->ints, sizeof(int64_t) * (size_t)sh->n);
  if ((s = scatter_check(&target, in[0], in[1], SCATTER_ADD))) return s;
  return tl_meta_emit(out, in[1]->dtype, sh->n, sh->ints);
}

/* Duplicates add, as in TensorFlow. */
static tl_status scatter_nd_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *res = tl_out(out, 0);
  memset(tl_tensor_data(res), 0, (size_t)res->size * tl_dtypes[res->dtype].size);
  return scatter_into(res, in[0], in[1], SCATTER_ADD);
}

static tl_status tensor_scatter_infer(TL_INFER_ARGS) {
  (void)n_in, (void)attr;
  tl_status s = scatter_check(in[0], in[1], in[2], *(const scatter_mode *)op->impl);
  return s ? s : tl_meta_push_like(out, in[0], TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status tensor_scatter_kernel(TL_KERNEL_ARGS) {
  (void)n_in, (void)attr;
  tl_tensor *res = tl_out(out, 0);
  tl_status s = res->size ? tl_tensor_copy_into(res, in[0]) : TL_OK;
  return s ? s : scatter_into(res, in[1], in[2], *(const scatter_mode *)op->impl);
}

/* ---- gradient ops ------------------------------------------------------ */
/* gather_grad and gather_nd_grad add dy's rows into zeros of params' shape
 * at the rows gather/gather_nd read (duplicates add): the unsorted segment
 * sums their gradients need. Each one's own gradient is the gather. */

static tl_status add_rows(tl_tensor *res, tl_tensor *dy, const gather_plan *pl) {
  combine_fn fn = add_fns[res->dtype];
  memset(tl_tensor_data(res), 0, (size_t)res->size * tl_dtypes[res->dtype].size);
  if (!pl->off || pl->inner == 0) return TL_OK;
  tl_tensor *dc;
  tl_status s = tl_tensor_contiguous(dy, &dc);
  if (s) return s;
  size_t es = tl_dtypes[res->dtype].size;
  char *dst = tl_tensor_data(res);
  const char *src = tl_tensor_data(dc);
  /* Serial: rows may repeat. */
  for (int64_t i = 0; i < pl->rows; i++) fn(dst + (size_t)pl->off[i] * es, src + (size_t)(i * pl->inner) * es, pl->inner);
  tl_tensor_release(dc);
  return TL_OK;
}

/* The checks of both gradient ops: a shape attribute, a dtype that adds,
 * and dy of the shape the gather would produce. */
static tl_status check_grad_op(const tl_meta *dy, const tl_attr *sh, const gather_dims *g) {
  if (!add_fns[dy->dtype]) return tl_error(TL_UNIMPLEMENTED, "adding %s values is not supported", tl_dtypes[dy->dtype].name);
  tl_meta want = {.dtype = dy->dtype, .rank = g->orank};
  if (g->orank >= 0) memcpy(want.shape, g->shape, sizeof(int64_t) * (size_t)g->orank);
  if (tl_meta_compatible(dy, &want)) return TL_OK;
  char a[TL_SHAPE_BUF], b[TL_SHAPE_BUF], c[TL_SHAPE_BUF];
  return tl_error(TL_INVALID_ARGUMENT, "dy has shape %s but gathering from shape %s gives %s", tl_meta_dims(dy, a, sizeof a),
                  tl_shape_format(sh->n, sh->ints, b, sizeof b), tl_meta_dims(&want, c, sizeof c));
}

/* attr: shape, axis, batch_dims (gather's, with the params' shape first). */
static tl_status gather_grad_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  gather_dims g;
  tl_status s = tl_check_shape_attr(&attr[0]);
  if (!s) s = gather_dims_of(attr[0].n, attr[0].ints, in[1], &attr[1], &attr[2], &g);
  if (!s) s = check_grad_op(in[0], &attr[0], &g);
  return s ? s : tl_meta_emit(out, in[0]->dtype, attr[0].n, attr[0].ints);
}

static tl_status gather_grad_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  gather_dims g;
  gather_plan pl;
  tl_status s = gather_dims_of(attr[0].n, attr[0].ints, &in[1]->meta, &attr[1], &attr[2], &g);
  if (!s) s = gather_plan_make(attr[0].n, attr[0].ints, in[1], &g, &pl);
  if (s) return s;
  s = add_rows(tl_out(out, 0), in[0], &pl);
  free(pl.own);
  return s;
}

/* attr: shape, batch_dims. */
static tl_status gather_nd_grad_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  gather_dims g;
  tl_status s = tl_check_shape_attr(&attr[0]);
  if (!s) s = gather_nd_dims_of(attr[0].n, attr[0].ints, in[1], attr[1].i, &g);
  if (!s) s = check_grad_op(in[0], &attr[0], &g);
  return s ? s : tl_meta_emit(out, in[0]->dtype, attr[0].n, attr[0].ints);
}

static tl_status gather_nd_grad_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  gather_dims g;
  gather_plan pl;
  tl_status s = gather_nd_dims_of(attr[0].n, attr[0].ints, &in[1]->meta, attr[1].i, &g);
  if (!s) s = gather_nd_plan_make(attr[0].n, attr[0].ints, in[1], &g, &pl);
  if (s) return s;
  s = add_rows(tl_out(out, 0), in[0], &pl);
  free(pl.own);
  return s;
}

/* ---- gradients --------------------------------------------------------- */
/* Written with ordinary ops (tl_call), so an outer tape records them and
 * gradients of gradients work. Indices get none. */

static tl_status gather_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  const tl_tensor *p = in[0];
  int64_t bd = attr[1].i < 0 ? attr[1].i + in[1]->rank : attr[1].i;
  int64_t a = attr[0].present ? attr[0].i : bd;
  if (a < 0) a += p->rank;
  return tl_call("gather_grad", 2, (tl_tensor *[]){grad_out[0], in[1]}, 3,
                 (tl_named_attr[]){TL_A_INTS("shape", p->rank, p->shape), TL_A_INT("axis", a), TL_A_INT("batch_dims", bd)},
                 &grad_in[0]);
}

static tl_status gather_grad_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_named_attr named[2] = {TL_A_INT("batch_dims", attr[2].i), TL_A_INT("axis", attr[1].i)};
  return tl_call("gather", 2, (tl_tensor *[]){grad_out[0], in[1]}, attr[1].present ? 2 : 1, named, &grad_in[0]);
}

static tl_status gather_nd_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  return tl_call("gather_nd_grad", 2, (tl_tensor *[]){grad_out[0], in[1]}, 2,
                 (tl_named_attr[]){TL_A_INTS("shape", in[0]->rank, in[0]->shape), TL_A_INT("batch_dims", attr[0].i)},
                 &grad_in[0]);
}

/* gather_nd of g at the indices: scatter_nd's and the tensor scatters'
 * gradient for updates, and gather_nd_grad's for dy. */
static tl_status gather_nd_of(tl_tensor *g, tl_tensor *indices, int64_t batch_dims, tl_tensor **out) {
  return tl_call("gather_nd", 2, (tl_tensor *[]){g, indices}, 1, (tl_named_attr[]){TL_A_INT("batch_dims", batch_dims)}, out);
}

static tl_status gather_nd_grad_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  return gather_nd_of(grad_out[0], in[1], attr[1].i, &grad_in[0]);
}

static tl_status scatter_nd_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  return gather_nd_of(grad_out[0], in[0], 0, &grad_in[1]);
}

/* tensor: g, with the replaced positions zeroed for update; updates: the
 * gathered g (negated for sub). */
static tl_status tensor_scatter_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  scatter_mode mode = *(const scatter_mode *)op->impl;
  tl_status s = TL_OK;
  if (tl_grad_wants(0)) {
    if (mode == SCATTER_UPDATE) {
      tl_tensor *z;
      if ((s = tl_call("zeros_like", 1, &in[2], 0, NULL, &z))) return s; /* on the operands' device */
      s = tl_call("tensor_scatter_nd_update", 3, (tl_tensor *[]){grad_out[0], in[1], z}, 0, NULL, &grad_in[0]);
      tl_tensor_release(z);
      if (s) return s;
    } else {
      grad_in[0] = tl_tensor_retain(grad_out[0]);
    }
  }
  if (!tl_grad_wants(2)) return TL_OK;
  if (mode != SCATTER_SUB) return gather_nd_of(grad_out[0], in[1], 0, &grad_in[2]);
  tl_tensor *t;
  if ((s = gather_nd_of(grad_out[0], in[1], 0, &t))) return s;
  s = tl_call("negative", 1, &t, 0, NULL, &grad_in[2]);
  tl_tensor_release(t);
  return s;
}

tl_op_def tl_ops_index[] = {
    {.name = "gather", .inputs = "params, indices", .attrs = "axis:int?, batch_dims:int=0", .infer = gather_infer,
     .kernel[TL_CPU] = gather_kernel, .grad = gather_grad,
     .doc = "Slices of params along axis at the given indices (0-based)."},
    {.name = "gather_grad", .inputs = "dy, indices", .attrs = "shape:ints, axis:int?, batch_dims:int=0",
     .infer = gather_grad_infer, .kernel[TL_CPU] = gather_grad_kernel, .grad = gather_grad_grad, .api = "-",
     .doc = "Zeros of shape (params') with the rows of dy added where gather read them: gather's gradient."},
    {.name = "gather_nd", .inputs = "params, indices", .attrs = "batch_dims:int=0", .infer = gather_nd_infer,
     .kernel[TL_CPU] = gather_nd_kernel, .grad = gather_nd_grad,
     .doc = "Slices of params addressed by the last dimension of indices."},
    {.name = "gather_nd_grad", .inputs = "dy, indices", .attrs = "shape:ints, batch_dims:int=0",
     .infer = gather_nd_grad_infer, .kernel[TL_CPU] = gather_nd_grad_kernel, .grad = gather_nd_grad_grad, .api = "-",
     .doc = "Zeros of shape (params') with the slices of dy added where gather_nd read them: gather_nd's gradient."},
    {.name = "scatter_nd", .inputs = "indices, updates", .attrs = "shape:ints", .infer = scatter_nd_infer,
     .kernel[TL_CPU] = scatter_nd_kernel, .grad = scatter_nd_grad,
     .doc = "A zero tensor of shape with updates added at indices (duplicates add)."},
    {.name = "tensor_scatter_nd_update", .inputs = "tensor, indices, updates", .infer = tensor_scatter_infer,
     .kernel[TL_CPU] = tensor_scatter_kernel, .grad = tensor_scatter_grad, .impl = &mode_update,
     .doc = "A copy of tensor with the slices at indices replaced by updates."},
    {.name = "tensor_scatter_nd_add", .inputs = "tensor, indices, updates", .infer = tensor_scatter_infer,
     .kernel[TL_CPU] = tensor_scatter_kernel, .grad = tensor_scatter_grad, .impl = &mode_add,
     .doc = "A copy of tensor with updates added at indices."},
    {.name = "tensor_scatter_nd_sub", .inputs = "tensor, indices, updates", .infer = tensor_scatter_infer,
     .kernel[TL_CPU] = tensor_scatter_kernel, .grad = tensor_scatter_grad, .impl = &mode_sub,
     .doc = "A copy of tensor with updates subtracted at indices."},
    {0},
};
