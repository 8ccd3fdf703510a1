/* ops/reduce.c — the reduction engine and the plain reductions: sum, mean,
 * max, min, prod, any, all, count_nonzero, with their shape and gradient
 * rules. moments.c (logsumexp, variance, std, moments) and scan.c
 * (argmax/argmin, cumsum/cumprod) build on the same layout (reduce.h).
 *
 * Every reduction is brought to one layout: a contiguous [A, R, B] block
 * reduced over R into [A, B]. A contiguous input whose reduced axes form
 * one run (all axes, the inner ones, the outer ones, a middle run) is used
 * in place; anything else (several separate runs, strided views) is first
 * copied with the kept axes leading, which makes it [K, R, 1].
 *
 * B == 1 reduces contiguous rows (vectorised with many accumulators);
 * B > 1 streams rows and accumulates whole rows into a vector, so reducing
 * axis 0 of a matrix reads memory in order instead of striding columns.
 * Long reductions are cut into fixed-size chunks whose partial results are
 * combined afterwards: the chunking depends only on the shape, never on the
 * thread count, so results are reproducible. Float sums are pairwise (a
 * 1e7-element float32 sum keeps ~1e-7 relative error), and partials are
 * combined in double. A worker that cannot get its scratch fails the op
 * (never a different summation order, never a silent result).
 *
 * Kernels fill the outputs the dispatcher allocated from the shape rule;
 * float16/bfloat16 reach them as float32 (TL_OP_HALF_VIA_F32). Integer sums
 * and products wrap like TensorFlow's (computed modulo 2^64, truncated).
 * Max/min propagate NaN. Empty reductions give the identity (sum 0, prod 1,
 * max -inf / lowest, min +inf / highest, mean NaN, integer mean 0).
 */
#pragma GCC optimize("O3", "no-trapping-math") /* see ops/softmax.c */
#include "ops/reduce.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- axes ---------------------------------------------------------------- */

tl_status tl_reduce_axes(const tl_meta *x, const tl_attr *axis, bool *mask) {
  memset(mask, 0, sizeof(bool) * TL_MAX_RANK);
  if (!axis->present) {
    for (int i = 0; i < x->rank; i++) mask[i] = true;
    return TL_OK;
  }
  for (int k = 0; k < axis->n; k++) {
    int64_t a = axis->ints[k], n = a < 0 ? a + x->rank : a;
    if (n < 0 || n >= x->rank)
      return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " is out of range for a tensor of rank %d%s", a,
                      x->rank, x->rank ? "" : " (a scalar has no axes)");
    if (mask[n]) return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " is given twice (duplicate dimension %" PRId64 ")", a, n);
    mask[n] = true;
  }
  return TL_OK;
}

int tl_reduce_shape(const tl_meta *x, const bool *mask, bool keepdims, int64_t *shape) {
  int r = 0;
  for (int i = 0; i < x->rank; i++) {
    if (!mask[i]) shape[r++] = x->shape[i];
    else if (keepdims) shape[r++] = 1;
  }
  return r;
}

tl_status tl_reduce_push_meta(tl_meta_list *out, const tl_meta *x, const tl_attr *axis, bool keepdims,
                              tl_dtype dt) {
  int64_t shape[TL_MAX_RANK];
  int r = -1;
  if (x->rank >= 0) {
    bool mask[TL_MAX_RANK];
    tl_status s = tl_reduce_axes(x, axis, mask);
    if (s) return s;
    r = tl_reduce_shape(x, mask, keepdims, shape);
  } else if (!axis->present && !keepdims) {
    r = 0; /* every axis of a tensor of unknown rank: a scalar */
  }
  return tl_meta_push(out, dt, r, shape) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

tl_status tl_reduce_unsupported(tl_dtype d, const char *what) {
  return tl_error(TL_UNIMPLEMENTED, "dtype %s is not supported (%s)", tl_dtypes[d].name, what);
}

/* ---- layout -------------------------------------------------------------- */

tl_status tl_reduce_layout(tl_tensor *x, const bool *mask, tl_red_layout *L) {
  int64_t A = 1, R = 1, B = 1;
  if (tl_tensor_is_contiguous(x)) {
    /* Sizes of the runs: kept before, reduced, kept after. */
    int phase = 0; /* 0: leading kept, 1: reduced, 2: trailing kept */
    bool ok = true;
    for (int i = 0; i < x->rank && ok; i++) {
      if (x->shape[i] == 1) continue;
      if (mask[i]) {
        if (phase == 2) ok = false;
        phase = 1;
        R *= x->shape[i];
      } else if (phase == 0) {
        A *= x->shape[i];
      } else {
        phase = 2;
        B *= x->shape[i];
      }
    }
    if (ok) {
      L->src = tl_tensor_retain(x);
      L->A = A, L->R = R, L->B = B;
      return TL_OK;
    }
    A = R = B = 1;
  }
  int64_t shape[TL_MAX_RANK], strides[TL_MAX_RANK];
  int r = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < x->rank; i++) {
      if (mask[i] != (pass == 1) || x->shape[i] == 1) continue;
      shape[r] = x->shape[i];
      strides[r++] = x->strides[i];
      if (pass) R *= x->shape[i];
      else A *= x->shape[i];
    }
  tl_tensor *v;
  tl_status s = tl_tensor_view(x->storage, x->dtype, r, shape, strides, x->offset, &v);
  if (s) return s;
  s = tl_tensor_contiguous(v, &L->src);
  tl_tensor_release(v);
  if (s) return s;
  L->A = A, L->R = R, L->B = B;
  return TL_OK;
}

/* ---- kernels ------------------------------------------------------------- */

/* Per input dtype: reduce a contiguous run to one accumulator (row), reduce
 * nrows rows of nb columns (row stride `stride`) to nb accumulators (cols),
 * and combine np partial rows of accumulators (combine). Accumulators are
 * float for float32, double for float64, int64 for integers, uint8 for
 * bool. n, nrows, np are at least 1. cols returns false when it could not
 * get its scratch (the caller fails the op: results never depend on it). */
typedef struct red_kernels {
  size_t acc_size;
  void (*row)(void *acc, const void *x, int64_t n, int kind);
  bool (*cols)(void *acc, const void *x, int64_t nrows, int64_t stride, int64_t nb, int kind);
  void (*combine)(void *acc, const void *parts, int64_t np, int64_t nb, int kind);
} red_kernels;

#define NACC 32     /* independent accumulators in the row kernels */
#define LEAF 2048   /* pairwise sum: sequential below this many elements */
#define LEAF_ROWS 32
#define EXT_W 256    /* lanes of the max/min row kernels */

/* Pairwise sums and NaN-propagating max/min for float and double. The
 * fixed-width accumulator loops are what the vectoriser turns into SIMD
 * without reassociating anything itself. */
#define FLOAT_KERNELS(T, S)                                                                  \
  TL_HOT static T sum_leaf_##S(const T *x, int64_t n) {                                         \
    T acc[NACC] = {0};                                                                       \
    int64_t i = 0;                                                                           \
    for (; i + NACC <= n; i += NACC)                                                         \
      for (int j = 0; j < NACC; j++) acc[j] += x[i + j];                                     \
    for (int j = 0; i < n; i++, j++) acc[j] += x[i];                                         \
    for (int w = NACC / 2; w > 0; w /= 2)                                                    \
      for (int j = 0; j < w; j++) acc[j] += acc[j + w];                                      \
    return acc[0];                                                                           \
  }                                                                                          \
  static T sum_##S(const T *x, int64_t n) {                                                  \
    if (n <= LEAF) return sum_leaf_##S(x, n);                                                \
    int64_t h = (n / 2) & ~(int64_t)(NACC - 1);                                              \
    return sum_##S(x, h) + sum_##S(x + h, n - h);                                            \
  }                                                                                          \
  TL_HOT static T prod_##S(const T *x, int64_t n) {                                             \
    T acc[NACC];                                                                             \
    for (int j = 0; j < NACC; j++) acc[j] = 1;                                               \
    int64_t i = 0;                                                                           \
    for (; i + NACC <= n; i += NACC)                                                         \
      for (int j = 0; j < NACC; j++) acc[j] *= x[i + j];                                     \
    for (int j = 0; i < n; i++, j++) acc[j] *= x[i];                                         \
    for (int w = NACC / 2; w > 0; w /= 2)                                                    \
      for (int j = 0; j < w; j++) acc[j] *= acc[j + w];                                      \
    return acc[0];                                                                           \
  }                                                                                          \
  static T extreme_##S(const T *x, int64_t n, int kind);                                     \
  static void row_##S(void *acc, const void *x, int64_t n, int kind) {                       \
    T *o = acc;                                                                              \
    switch (kind) {                                                                          \
    case TL_RED_SUM: *o = sum_##S(x, n); break;                                                   \
    case TL_RED_PROD: *o = prod_##S(x, n); break;                                                 \
    default: *o = extreme_##S(x, n, kind); break;                                            \
    }                                                                                        \
  }                                                                                          \
  /* acc[b] (+|*|max|min)= row[b] */                                                         \
  TL_HOT static void accum_row_##S(T *acc, const T *row, int64_t nb, int kind) {                \
    switch (kind) {                                                                          \
    case TL_RED_SUM: for (int64_t b = 0; b < nb; b++) acc[b] += row[b]; break;                    \
    case TL_RED_PROD: for (int64_t b = 0; b < nb; b++) acc[b] *= row[b]; break;                   \
    case TL_RED_MAX: /* two selects (not one ||) so the loop vectorises; NaN sticks */           \
      for (int64_t b = 0; b < nb; b++) {                                                     \
        T v = row[b], a = acc[b];                                                            \
        a = v > a ? v : a;                                                                   \
        acc[b] = v != v ? v : a;                                                             \
      }                                                                                      \
      break;                                                                                 \
    default:                                                                                 \
      for (int64_t b = 0; b < nb; b++) {                                                     \
        T v = row[b], a = acc[b];                                                            \
        a = v < a ? v : a;                                                                   \
        acc[b] = v != v ? v : a;                                                             \
      }                                                                                      \
      break;                                                                                 \
    }                                                                                        \
  }                                                                                          \
  /* max/min of a run: as rows of EXT_W lanes through accum_row, then the lanes. */        \
  static T extreme_##S(const T *x, int64_t n, int kind) {                                    \
    T acc[EXT_W];                                                                            \
    int64_t w = n < EXT_W ? n : EXT_W, i = w;                                                \
    memcpy(acc, x, sizeof(T) * (size_t)w);                                                   \
    for (; i + EXT_W <= n; i += EXT_W) accum_row_##S(acc, x + i, EXT_W, kind);               \
    if (i < n) accum_row_##S(acc, x + i, n - i, kind);                                       \
    T r = acc[0];                                                                            \
    for (int64_t j = 1; j < w; j++) {                                                        \
      T v = acc[j];                                                                          \
      r = (kind == TL_RED_MAX ? v > r : v < r) ? v : r;                                           \
      r = v != v ? v : r;                                                                    \
    }                                                                                        \
    return r;                                                                                \
  }                                                                                          \
  /* Pairwise over rows: scratch holds one row per recursion level. */                     \
  static void sum_rows_##S(T *acc, const T *x, int64_t nrows, int64_t stride, int64_t nb,    \
                           T *scratch) {                                                     \
    if (nrows <= LEAF_ROWS) {                                                                     \
      memcpy(acc, x, sizeof(T) * (size_t)nb);                                                \
      for (int64_t r = 1; r < nrows; r++) accum_row_##S(acc, x + r * stride, nb, TL_RED_SUM);     \
      return;                                                                                \
    }                                                                                        \
    int64_t h = nrows / 2;                                                                   \
    sum_rows_##S(acc, x, h, stride, nb, scratch + nb);                                       \
    sum_rows_##S(scratch, x + h * stride, nrows - h, stride, nb, scratch + nb);              \
    accum_row_##S(acc, scratch, nb, TL_RED_SUM);                                                  \
  }                                                                                          \
  static bool cols_##S(void *accv, const void *xv, int64_t nrows, int64_t stride, int64_t nb, \
                       int kind) {                                                           \
    T *acc = accv;                                                                           \
    const T *x = xv;                                                                         \
    if (kind == TL_RED_SUM && nrows > LEAF_ROWS) {                                           \
      int depth = 2;                                                                         \
      for (int64_t r = nrows; r > LEAF_ROWS; r = (r + 1) / 2) depth++;                       \
      size_t bytes = sizeof(T) * (size_t)nb * (size_t)depth;                                 \
      T *scratch = tl_alloc(bytes);                                                          \
      if (!scratch) return false;                                                            \
      sum_rows_##S(acc, x, nrows, stride, nb, scratch);                                      \
      tl_free(scratch, bytes);                                                               \
      return true;                                                                           \
    }                                                                                        \
    memcpy(acc, x, sizeof(T) * (size_t)nb);                                                  \
    for (int64_t r = 1; r < nrows; r++) accum_row_##S(acc, x + r * stride, nb, kind);        \
    return true;                                                                             \
  }                                                                                          \
  static void combine_##S(void *accv, const void *pv, int64_t np, int64_t nb, int kind) {    \
    T *acc = accv;                                                                           \
    const T *p = pv;                                                                         \
    for (int64_t b = 0; b < nb; b++) {                                                       \
      if (kind == TL_RED_SUM) {                                                                   \
        double s = 0;                                                                        \
        for (int64_t k = 0; k < np; k++) s += (double)p[k * nb + b];                         \
        acc[b] = (T)s;                                                                       \
      } else {                                                                               \
        acc[b] = p[b];                                                                       \
      }                                                                                      \
    }                                                                                        \
    if (kind != TL_RED_SUM)                                                                       \
      for (int64_t k = 1; k < np; k++) accum_row_##S(acc, p + k * nb, nb, kind);             \
  }

FLOAT_KERNELS(float, f32)
FLOAT_KERNELS(double, f64)

/* Integers accumulate in 64 bits with wrapping arithmetic (unsigned). */
#define WRAP_ADD(a, b) ((int64_t)((uint64_t)(a) + (uint64_t)(b)))
#define WRAP_MUL(a, b) ((int64_t)((uint64_t)(a) * (uint64_t)(b)))

static void accum_row_i64acc(int64_t *acc, const int64_t *row, int64_t nb, int kind) {
  switch (kind) {
  case TL_RED_SUM: for (int64_t b = 0; b < nb; b++) acc[b] = WRAP_ADD(acc[b], row[b]); break;
  case TL_RED_PROD: for (int64_t b = 0; b < nb; b++) acc[b] = WRAP_MUL(acc[b], row[b]); break;
  case TL_RED_MAX: for (int64_t b = 0; b < nb; b++) acc[b] = row[b] > acc[b] ? row[b] : acc[b]; break;
  default: for (int64_t b = 0; b < nb; b++) acc[b] = row[b] < acc[b] ? row[b] : acc[b]; break;
  }
}

static void combine_int(void *accv, const void *pv, int64_t np, int64_t nb, int kind) {
  memcpy(accv, pv, sizeof(int64_t) * (size_t)nb);
  for (int64_t k = 1; k < np; k++) accum_row_i64acc(accv, (const int64_t *)pv + k * nb, nb, kind);
}

#define INT_KERNELS(T, S)                                                                    \
  TL_HOT static void row_##S(void *acc, const void *xv, int64_t n, int kind) {                  \
    const T *x = xv;                                                                         \
    int64_t r = 0;                                                                           \
    switch (kind) {                                                                          \
    case TL_RED_SUM: {                                                                            \
      uint64_t s = 0;                                                                        \
      for (int64_t i = 0; i < n; i++) s += (uint64_t)(int64_t)x[i];                          \
      r = (int64_t)s;                                                                        \
      break;                                                                                 \
    }                                                                                        \
    case TL_RED_PROD: {                                                                           \
      uint64_t p = 1;                                                                        \
      for (int64_t i = 0; i < n; i++) p *= (uint64_t)(int64_t)x[i];                          \
      r = (int64_t)p;                                                                        \
      break;                                                                                 \
    }                                                                                        \
    case TL_RED_MAX: {                                                                            \
      T m = x[0];                                                                            \
      for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;                               \
      r = m;                                                                                 \
      break;                                                                                 \
    }                                                                                        \
    default: {                                                                               \
      T m = x[0];                                                                            \
      for (int64_t i = 1; i < n; i++) m = x[i] < m ? x[i] : m;                               \
      r = m;                                                                                 \
      break;                                                                                 \
    }                                                                                        \
    }                                                                                        \
    *(int64_t *)acc = r;                                                                     \
  }                                                                                          \
  TL_HOT static bool cols_##S(void *accv, const void *xv, int64_t nrows, int64_t stride,     \
                              int64_t nb, int kind) {                                        \
    int64_t *acc = accv;                                                                     \
    const T *x = xv;                                                                         \
    for (int64_t b = 0; b < nb; b++) acc[b] = x[b];                                          \
    for (int64_t r = 1; r < nrows; r++) {                                                    \
      const T *row = x + r * stride;                                                         \
      switch (kind) {                                                                        \
      case TL_RED_SUM: for (int64_t b = 0; b < nb; b++) acc[b] = WRAP_ADD(acc[b], (int64_t)row[b]); break; \
      case TL_RED_PROD: for (int64_t b = 0; b < nb; b++) acc[b] = WRAP_MUL(acc[b], (int64_t)row[b]); break; \
      case TL_RED_MAX: for (int64_t b = 0; b < nb; b++) acc[b] = row[b] > acc[b] ? row[b] : acc[b]; break; \
      default: for (int64_t b = 0; b < nb; b++) acc[b] = row[b] < acc[b] ? row[b] : acc[b]; break;  \
      }                                                                                      \
    }                                                                                        \
    return true;                                                                             \
  }

INT_KERNELS(int8_t, i8)
INT_KERNELS(uint8_t, u8)
INT_KERNELS(int16_t, i16)
INT_KERNELS(int32_t, i32)
INT_KERNELS(int64_t, i64)

static void row_bool(void *acc, const void *xv, int64_t n, int kind) {
  const uint8_t *x = xv;
  uint8_t r = kind == TL_RED_ALL;
  if (kind == TL_RED_ANY) {
    for (int64_t i = 0; i < n && !r; i++) r = x[i] != 0;
  } else {
    for (int64_t i = 0; i < n && r; i++) r = x[i] != 0;
  }
  *(uint8_t *)acc = r;
}

static bool cols_bool(void *accv, const void *xv, int64_t nrows, int64_t stride, int64_t nb, int kind) {
  uint8_t *acc = accv;
  const uint8_t *x = xv;
  for (int64_t b = 0; b < nb; b++) acc[b] = x[b] != 0;
  for (int64_t r = 1; r < nrows; r++) {
    const uint8_t *row = x + r * stride;
    if (kind == TL_RED_ANY) for (int64_t b = 0; b < nb; b++) acc[b] |= row[b] != 0;
    else for (int64_t b = 0; b < nb; b++) acc[b] &= row[b] != 0;
  }
  return true;
}

static void combine_bool(void *accv, const void *pv, int64_t np, int64_t nb, int kind) {
  uint8_t *acc = accv;
  const uint8_t *p = pv;
  memcpy(acc, p, (size_t)nb);
  for (int64_t k = 1; k < np; k++)
    for (int64_t b = 0; b < nb; b++) acc[b] = kind == TL_RED_ANY ? (acc[b] | p[k * nb + b]) : (acc[b] & p[k * nb + b]);
}

/* ORDER DTYPES (computable ones; NULL row = no reduction kernels). */
static const red_kernels kernels[TL_DTYPE_COUNT] = {
    [TL_FLOAT32] = {sizeof(float), row_f32, cols_f32, combine_f32},
    [TL_FLOAT64] = {sizeof(double), row_f64, cols_f64, combine_f64},
    [TL_INT8] = {sizeof(int64_t), row_i8, cols_i8, combine_int},
    [TL_UINT8] = {sizeof(int64_t), row_u8, cols_u8, combine_int},
    [TL_INT16] = {sizeof(int64_t), row_i16, cols_i16, combine_int},
    [TL_INT32] = {sizeof(int64_t), row_i32, cols_i32, combine_int},
    [TL_INT64] = {sizeof(int64_t), row_i64, cols_i64, combine_int},
    [TL_BOOL] = {1, row_bool, cols_bool, combine_bool},
};

/* ---- the driver ---------------------------------------------------------- */

#define CHUNK_ELEMS ((int64_t)1 << 16) /* elements per task before splitting a reduction */

typedef struct red_job {
  const red_kernels *k;
  int kind;
  const char *x;
  size_t esize;
  int64_t A, R, B;
  int64_t nrc, rch; /* row chunks, rows per chunk */
  int64_t ncb, cb;  /* column blocks, columns per block */
  char *acc;        /* [A][nrc][B] accumulators */
  int failed;       /* a worker could not get its scratch */
} red_job;

static void red_task(int64_t begin, int64_t end, void *ctx) {
  red_job *j = ctx;
  for (int64_t t = begin; t < end; t++) {
    int64_t a = t / (j->nrc * j->ncb), c = (t / j->ncb) % j->nrc, cbi = t % j->ncb;
    int64_t r0 = c * j->rch, r1 = r0 + j->rch < j->R ? r0 + j->rch : j->R;
    int64_t b0 = cbi * j->cb, b1 = b0 + j->cb < j->B ? b0 + j->cb : j->B;
    char *acc = j->acc + (size_t)(((a * j->nrc + c) * j->B) + b0) * j->k->acc_size;
    const char *x = j->x + (size_t)((a * j->R + r0) * j->B + b0) * j->esize;
    if (j->B == 1) j->k->row(acc, x, r1 - r0, j->kind);
    else if (!j->k->cols(acc, x, r1 - r0, j->B, b1 - b0, j->kind)) {
      __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
      return;
    }
  }
}

/* Reduces L ([A,R,B], size > 0) with kernel kind into acc ([A][B] of the
 * dtype's accumulator type). */
static tl_status run_reduction(const tl_red_layout *L, int kind, void *acc) {
  tl_dtype dt = L->src->dtype;
  red_job j = {.k = &kernels[dt], .kind = kind, .x = tl_tensor_data(L->src),
               .esize = tl_dtypes[dt].size, .A = L->A, .R = L->R, .B = L->B};
  if (L->B == 1) {
    j.ncb = 1, j.cb = 1;
    j.rch = L->R <= CHUNK_ELEMS ? L->R : CHUNK_ELEMS;
  } else {
    j.cb = L->B <= 1024 ? L->B : 512;
    j.ncb = (L->B + j.cb - 1) / j.cb;
    int64_t rows = CHUNK_ELEMS / j.cb > 64 ? CHUNK_ELEMS / j.cb : 64;
    j.rch = (L->A * j.ncb >= 16 || L->R <= rows) ? L->R : rows;
  }
  j.nrc = (L->R + j.rch - 1) / j.rch;
  size_t as = j.k->acc_size;
  char *parts = NULL;
  if (j.nrc > 1) {
    parts = malloc((size_t)(L->A * j.nrc * L->B) * as);
    if (!parts) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory for reduction partials");
    j.acc = parts;
  } else {
    j.acc = acc;
  }
  int64_t ntasks = L->A * j.nrc * j.ncb;
  int64_t per_task = (j.rch < L->R ? j.rch : L->R) * j.cb;
  tl_parallel_for(ntasks, per_task >= TL_RED_TASK_GRAIN ? 1 : TL_RED_TASK_GRAIN / per_task, red_task, &j);
  if (parts && !j.failed)
    for (int64_t a = 0; a < L->A; a++)
      j.k->combine((char *)acc + (size_t)(a * L->B) * as, parts + (size_t)(a * j.nrc * L->B) * as, j.nrc,
                   L->B, kind);
  free(parts);
  if (j.failed) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory for reduction scratch");
  return TL_OK;
}

/* Writes n accumulators into out (dtype dt); mean divides by count. */
static void finalize(void *out, tl_dtype dt, const void *acc, int64_t n, bool mean, int64_t count) {
  switch (dt) {
  case TL_FLOAT32: {
    float *o = out;
    const float *a = acc;
    if (mean) for (int64_t i = 0; i < n; i++) o[i] = (float)((double)a[i] / (double)count);
    else if (o != a) memcpy(o, a, sizeof(float) * (size_t)n);
    break;
  }
  case TL_FLOAT64: {
    double *o = out;
    const double *a = acc;
    if (mean) for (int64_t i = 0; i < n; i++) o[i] = a[i] / (double)count;
    else if (o != a) memcpy(o, a, sizeof(double) * (size_t)n);
    break;
  }
  case TL_BOOL:
    if (out != acc) memcpy(out, acc, (size_t)n);
    break;
  default: {
    /* Integers: truncate to the dtype (wrapping), then the integer mean. */
    const int64_t *a = acc;
    for (int64_t i = 0; i < n; i++) {
      int64_t v = a[i];
      tl_store_i64(out, dt, i, v);
      if (mean) {
        v = tl_load_i64(out, dt, i);
        tl_store_i64(out, dt, i, count ? v / count : 0);
      }
    }
  }
  }
}

void tl_reduce_fill_identity(tl_tensor *o, tl_red_kind kind) {
  void *p = tl_tensor_data(o);
  tl_dtype dt = o->dtype;
  for (int64_t i = 0; i < o->size; i++) {
    if (tl_dtype_is_float(dt)) {
      double v = kind == TL_RED_SUM ? 0 : kind == TL_RED_PROD ? 1 : kind == TL_RED_MAX ? -INFINITY
               : kind == TL_RED_MIN ? INFINITY : NAN;
      tl_store_f64(p, dt, i, v);
    } else if (dt == TL_BOOL) {
      tl_store_i64(p, dt, i, kind == TL_RED_ALL);
    } else {
      int64_t lo, hi;
      switch (dt) {
      case TL_INT8: lo = INT8_MIN, hi = INT8_MAX; break;
      case TL_UINT8: lo = 0, hi = UINT8_MAX; break;
      case TL_INT16: lo = INT16_MIN, hi = INT16_MAX; break;
      case TL_INT32: lo = INT32_MIN, hi = INT32_MAX; break;
      default: lo = INT64_MIN, hi = INT64_MAX; break;
      }
      tl_store_i64(p, dt, i, kind == TL_RED_PROD ? 1 : kind == TL_RED_MAX ? lo : kind == TL_RED_MIN ? hi : 0);
    }
  }
}

tl_status tl_reduce_into(tl_tensor *x, const bool *mask, tl_red_kind kind, tl_tensor *o) {
  if (x->size == 0) {
    tl_reduce_fill_identity(o, kind);
    return TL_OK;
  }
  tl_red_layout L;
  tl_status s = tl_reduce_layout(x, mask, &L);
  if (s) return s;
  int64_t n = L.A * L.B;
  size_t as = kernels[x->dtype].acc_size;
  bool direct = as == tl_dtypes[x->dtype].size;
  void *acc = direct ? tl_tensor_data(o) : malloc((size_t)n * as);
  if (!acc) {
    tl_tensor_release(L.src);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  s = run_reduction(&L, kind == TL_RED_MEAN ? TL_RED_SUM : kind, acc);
  if (!s) finalize(tl_tensor_data(o), x->dtype, acc, n, kind == TL_RED_MEAN, L.R);
  if (!direct) free(acc);
  tl_tensor_release(L.src);
  return s;
}

/* ---- the plain reductions ------------------------------------------------ */

static tl_status reduce_infer(TL_INFER_ARGS) {
  (void)n_in;
  tl_red_kind kind = *(const tl_red_kind *)op->impl;
  tl_dtype dt = in[0]->dtype;
  if (kind == TL_RED_ANY || kind == TL_RED_ALL) {
    if (dt != TL_BOOL) return tl_reduce_unsupported(dt, "the input must be bool; use tf.cast or a comparison");
  } else if (!tl_reduce_is_half(dt) && (!kernels[dt].row || dt == TL_BOOL)) {
    return tl_reduce_unsupported(dt, "reductions need a float or integer tensor");
  }
  return tl_reduce_push_meta(out, in[0], &attr[0], attr[1].b, dt);
}

static tl_status reduce_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  bool mask[TL_MAX_RANK];
  tl_status s = tl_reduce_axes(&in[0]->meta, &attr[0], mask);
  if (s) return s;
  return tl_reduce_into(in[0], mask, *(const tl_red_kind *)op->impl, out->items[0]);
}

/* count_nonzero: sums a 0/1 uint8 mask in int64, then narrows to dtype. */
static void nonzero_run(char **p, const int64_t *st, int64_t n, void *ctx) {
  tl_dtype dt = *(const tl_dtype *)ctx;
  uint8_t *o = (uint8_t *)p[0];
  for (int64_t i = 0; i < n; i++) {
    int64_t off = i * st[1];
    bool nz = tl_dtype_is_float(dt) ? tl_load_f64(p[1], dt, off) != 0 : tl_load_i64(p[1], dt, off) != 0;
    o[i * st[0]] = nz;
  }
}

static tl_status count_nonzero_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  tl_dtype dt = in[0]->dtype, want = attr[2].dtype;
  if (!tl_dtypes[dt].computable && !tl_reduce_is_half(dt))
    return tl_reduce_unsupported(dt, "count_nonzero needs a numeric or bool tensor");
  if (!tl_dtype_is_integer(want))
    return tl_error(TL_INVALID_ARGUMENT, "dtype must be an integer dtype, got %s", tl_dtypes[want].name);
  return tl_reduce_push_meta(out, in[0], &attr[0], attr[1].b, want);
}

/* reduced_count(input, axis?, dtype): how many elements a reduction over
 * axis combines, as a scalar of dtype, from the shape input has when the
 * op runs (reduce_mean's gradient over a traced, unknown dimension). */
static tl_status reduced_count_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  bool mask[TL_MAX_RANK];
  if (in[0]->rank >= 0 && tl_reduce_axes(in[0], &attr[0], mask)) return tl_last_status();
  tl_dtype want = attr[1].dtype;
  if (!tl_dtypes[want].computable || want == TL_BOOL || tl_dtypes[want].kind == TL_KIND_COMPLEX)
    return tl_error(TL_INVALID_ARGUMENT, "dtype must be a real numeric dtype, got %s", tl_dtypes[want].name);
  return tl_meta_push(out, want, 0, NULL) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status reduced_count_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  bool mask[TL_MAX_RANK];
  tl_status s = tl_reduce_axes(&in[0]->meta, &attr[0], mask);
  if (s) return s;
  tl_tensor *o = out->items[0];
  tl_store_f64(tl_tensor_data(o), o->dtype, 0, (double)tl_reduce_count(in[0], mask));
  return TL_OK;
}

static tl_status count_nonzero_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *x = in[0], *o = out->items[0], *m = NULL;
  bool mask[TL_MAX_RANK];
  tl_status s = tl_reduce_axes(&x->meta, &attr[0], mask);
  if (s) return s;
  int64_t *acc = malloc(sizeof(int64_t) * (size_t)(o->size ? o->size : 1));
  if (!acc) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  memset(acc, 0, sizeof(int64_t) * (size_t)o->size);
  if (x->size) {
    /* uint8 sums accumulate in int64 */
    tl_red_layout L = {0};
    if ((s = tl_tensor_new(TL_UINT8, x->rank, x->shape, &m))) goto done;
    tl_tensor *ops[2] = {m, x};
    tl_iterate(2, ops, nonzero_run, &x->dtype);
    if ((s = tl_reduce_layout(m, mask, &L))) goto done;
    s = run_reduction(&L, TL_RED_SUM, acc);
    tl_tensor_release(L.src);
    if (s) goto done;
  }
  for (int64_t i = 0; i < o->size; i++) tl_store_i64(tl_tensor_data(o), o->dtype, i, acc[i]);
done:
  free(acc);
  if (m) tl_tensor_release(m);
  return s;
}

/* ---- gradients ------------------------------------------------------------ */
/* Written with ordinary ops (tl_call), so an outer tape records them and
 * gradients of gradients work; constants come from tl_temps_scalar, on the
 * operand's device. Each result has the input's shape. */

static tl_tensor *reshape_to(tl_temps *T, tl_tensor *a, int rank, const int64_t *shape) {
  return tl_temps_op1(T, "reshape", a, 1, (tl_named_attr[]){TL_A_INTS("shape", rank, shape)});
}

tl_tensor *tl_reduce_keep_dims(tl_temps *T, tl_tensor *g, const tl_tensor *x, const bool *mask) {
  int64_t shape[TL_MAX_RANK];
  int r = tl_reduce_shape(&x->meta, mask, true, shape);
  return reshape_to(T, g, r, shape);
}

static bool has_unknown_dim(const tl_tensor *x) {
  for (int i = 0; i < x->rank; i++)
    if (x->shape[i] < 0) return true;
  return false;
}

/* A traced input with an unknown dimension lends its run-time shape. */
tl_tensor *tl_reduce_broadcast_like(tl_temps *T, tl_tensor *g, const tl_tensor *x) {
  if (has_unknown_dim(x)) return tl_temps_op2(T, "broadcast_like", g, (tl_tensor *)x);
  return tl_temps_op1(T, "broadcast_to", g, 1, (tl_named_attr[]){TL_A_INTS("shape", x->rank, x->shape)});
}

int64_t tl_reduce_count(const tl_tensor *x, const bool *mask) {
  int64_t n = 1;
  for (int i = 0; i < x->rank; i++)
    if (mask[i]) n *= x->shape[i];
  return n;
}

int tl_reduce_axis_attrs(const tl_attr *axis, bool keepdims, tl_named_attr *named) {
  int n = 0;
  if (axis->present) named[n++] = TL_A_INTS("axis", axis->n, axis->ints);
  named[n++] = TL_A_BOOL("keepdims", keepdims);
  return n;
}

/* Sum: the gradient is g copied over the reduced dims. */
static tl_status reduce_sum_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  bool mask[TL_MAX_RANK];
  if (tl_reduce_axes(&in[0]->meta, &attr[0], mask)) return tl_last_status();
  tl_temps T = {0};
  return tl_temps_give(&T, tl_reduce_broadcast_like(&T, tl_reduce_keep_dims(&T, grad_out[0], in[0], mask), in[0]),
                       &grad_in[0], true);
}

/* Mean: g / N over the reduced dims (divided before it is copied out). */
static tl_status reduce_mean_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (tl_reduce_axes(&x->meta, &attr[0], mask)) return tl_last_status();
  tl_temps T = {0};
  tl_tensor *g = tl_reduce_keep_dims(&T, grad_out[0], x, mask);
  bool unknown = false;
  for (int i = 0; i < x->rank; i++) unknown |= mask[i] && x->shape[i] < 0;
  tl_tensor *n;
  if (unknown) { /* a traced dimension: count at run time */
    tl_named_attr ax[2];
    int nax = tl_reduce_axis_attrs(&attr[0], false, ax);
    ax[nax - 1] = TL_A_DTYPE("dtype", x->dtype); /* reduced_count takes axis and dtype */
    n = tl_temps_op1(&T, "reduced_count", x, nax, ax);
  } else {
    n = tl_temps_scalar(&T, x, x->dtype, (double)tl_reduce_count(x, mask));
  }
  g = tl_temps_op2(&T, "divide", g, n);
  return tl_temps_give(&T, tl_reduce_broadcast_like(&T, g, x), &grad_in[0], true);
}

/* Max/min: g shared equally among the elements equal to the result (TF). */
static tl_status reduce_extreme_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (tl_reduce_axes(&x->meta, &attr[0], mask)) return tl_last_status();
  tl_named_attr ax[2];
  int nax = tl_reduce_axis_attrs(&attr[0], true, ax);
  tl_temps T = {0};
  tl_tensor *y = tl_reduce_keep_dims(&T, out[0], x, mask), *g = tl_reduce_keep_dims(&T, grad_out[0], x, mask);
  tl_tensor *ind = tl_temps_cast(&T, tl_temps_op2(&T, "equal", y, x), x->dtype);
  tl_tensor *cnt = tl_temps_op1(&T, "reduce_sum", ind, nax, ax);
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", tl_temps_op2(&T, "divide", ind, cnt), g), &grad_in[0], true);
}

/* Moves the reduced axes of x to the front: perm, and whether it is the
 * identity. */
static bool reduced_first(const tl_tensor *x, const bool *mask, int64_t *perm, int64_t *inv) {
  int n = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < x->rank; i++)
      if (mask[i] == (pass == 0)) perm[n++] = i;
  bool ident = true;
  for (int i = 0; i < x->rank; i++) {
    inv[perm[i]] = i;
    ident &= perm[i] == i;
  }
  return ident;
}

/* Product (TF's rule): the product of all the others is the exclusive
 * product from the left times the exclusive product from the right, so
 * zeros need no division. */
static tl_status reduce_prod_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (tl_reduce_axes(&x->meta, &attr[0], mask)) return tl_last_status();
  tl_temps T = {0};
  int64_t perm[TL_MAX_RANK], inv[TL_MAX_RANK], tshape[TL_MAX_RANK], flat[2] = {1, 1};
  bool ident = reduced_first(x, mask, perm, inv);
  for (int i = 0; i < x->rank; i++) {
    tshape[i] = x->shape[perm[i]];
    flat[mask[perm[i]] ? 0 : 1] *= tshape[i];
  }
  tl_tensor *xt = ident ? x : tl_temps_op1(&T, "transpose", x, 1, (tl_named_attr[]){TL_A_INTS("perm", x->rank, perm)});
  tl_tensor *x2 = reshape_to(&T, xt, 2, flat);
  tl_tensor *left = tl_temps_op1(&T, "cumprod", x2, 2, (tl_named_attr[]){TL_A_INT("axis", 0), TL_A_BOOL("exclusive", true)});
  tl_tensor *right = tl_temps_op1(&T, "cumprod", x2, 3,
                         (tl_named_attr[]){TL_A_INT("axis", 0), TL_A_BOOL("exclusive", true), TL_A_BOOL("reverse", true)});
  tl_tensor *others = reshape_to(&T, tl_temps_op2(&T, "multiply", left, right), x->rank, tshape);
  if (!ident) others = tl_temps_op1(&T, "transpose", others, 1, (tl_named_attr[]){TL_A_INTS("perm", x->rank, inv)});
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", others, tl_reduce_keep_dims(&T, grad_out[0], x, mask)),
                       &grad_in[0], true);
}

/* ---- the table ------------------------------------------------------------ */

static const tl_red_kind k_sum = TL_RED_SUM, k_prod = TL_RED_PROD, k_max = TL_RED_MAX, k_min = TL_RED_MIN,
                         k_any = TL_RED_ANY, k_all = TL_RED_ALL, k_mean = TL_RED_MEAN;

#define RED_ATTRS "axis:ints?, keepdims:bool=false"
#define RED_OP(nm, kind, gr, fl) \
  .name = nm, .inputs = "input_tensor", .attrs = RED_ATTRS, .infer = reduce_infer, \
  .kernel[TL_CPU] = reduce_kernel, .grad = gr, .flags = (fl), .impl = &kind

tl_op_def tl_ops_reduce[] = {
    {RED_OP("reduce_sum", k_sum, reduce_sum_grad, TL_OP_HALF_VIA_F32),
     .api = "tf.reduce_sum tf.math.reduce_sum", .doc = "Sum over the given axes (all when axis is nil)."},
    {RED_OP("reduce_mean", k_mean, reduce_mean_grad, TL_OP_HALF_VIA_F32), .api = "tf.reduce_mean tf.math.reduce_mean",
     .doc = "Mean over the given axes (integer mean for integer tensors; NaN when empty)."},
    {RED_OP("reduce_max", k_max, reduce_extreme_grad, TL_OP_HALF_VIA_F32),
     .api = "tf.reduce_max tf.math.reduce_max", .doc = "Maximum over the given axes (NaN propagates; -inf when empty)."},
    {RED_OP("reduce_min", k_min, reduce_extreme_grad, TL_OP_HALF_VIA_F32),
     .api = "tf.reduce_min tf.math.reduce_min", .doc = "Minimum over the given axes (NaN propagates; +inf when empty)."},
    {RED_OP("reduce_prod", k_prod, reduce_prod_grad, TL_OP_HALF_VIA_F32),
     .api = "tf.reduce_prod tf.math.reduce_prod", .doc = "Product over the given axes (1 when empty)."},
    {RED_OP("reduce_any", k_any, NULL, TL_OP_NO_GRADIENT),
     .api = "tf.reduce_any tf.math.reduce_any", .doc = "Logical or of a bool tensor over the given axes."},
    {RED_OP("reduce_all", k_all, NULL, TL_OP_NO_GRADIENT),
     .api = "tf.reduce_all tf.math.reduce_all", .doc = "Logical and of a bool tensor over the given axes."},
    {.name = "reduced_count", .inputs = "input", .attrs = "axis:ints?, dtype:dtype=float32", .infer = reduced_count_infer,
     .kernel[TL_CPU] = reduced_count_kernel, .flags = TL_OP_NO_GRADIENT, .api = "tf.raw_ops.reduced_count",
     .doc = "How many elements a reduction over axis combines (from the run-time shape), as a scalar."},
    {.name = "count_nonzero", .inputs = "input", .attrs = RED_ATTRS ", dtype:dtype=int64", .infer = count_nonzero_infer,
     .kernel[TL_CPU] = count_nonzero_kernel, .flags = TL_OP_NO_GRADIENT, .api = "tf.math.count_nonzero",
     .doc = "Number of non-zero elements over the given axes."},
    {0},
};
