/* ops/reduce.c — reductions, arg-reductions, scans and moments.
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
 * combined in double.
 *
 * float16/bfloat16 are computed in float32 and rounded back. Integer sums
 * and products wrap like TensorFlow's (computed modulo 2^64, truncated).
 * Max/min propagate NaN. Empty reductions give the identity (sum 0, prod 1,
 * max -inf / lowest, min +inf / highest, mean NaN).
 */
#pragma GCC optimize("O3", "no-trapping-math") /* see ops/nn.c */
#include "tl.h"
#include "autodiff/grad_temps.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define HOT
#endif

enum { K_SUM, K_PROD, K_MAX, K_MIN, K_ANY, K_ALL, K_MEAN };

/* ---- axes ---------------------------------------------------------------- */

/* Reads an axis/axes attribute into a mask; absent means every axis. */
static tl_status parse_axes(const tl_tensor *x, const tl_attr *axis, bool *mask) {
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

static int out_shape(const tl_tensor *x, const bool *mask, bool keepdims, int64_t *shape) {
  int r = 0;
  for (int i = 0; i < x->rank; i++) {
    if (!mask[i]) shape[r++] = x->shape[i];
    else if (keepdims) shape[r++] = 1;
  }
  return r;
}

/* ---- layout -------------------------------------------------------------- */

typedef struct layout {
  tl_tensor *src; /* contiguous; retained */
  int64_t A, R, B;
} layout;

static tl_status make_layout(tl_tensor *x, const bool *mask, layout *L) {
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
 * bool. n, nrows, np are at least 1. */
typedef struct red_kernels {
  size_t acc_size;
  void (*row)(void *acc, const void *x, int64_t n, int kind);
  void (*cols)(void *acc, const void *x, int64_t nrows, int64_t stride, int64_t nb, int kind);
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
  HOT static T sum_leaf_##S(const T *x, int64_t n) {                                         \
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
  HOT static T prod_##S(const T *x, int64_t n) {                                             \
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
    case K_SUM: *o = sum_##S(x, n); break;                                                   \
    case K_PROD: *o = prod_##S(x, n); break;                                                 \
    default: *o = extreme_##S(x, n, kind); break;                                            \
    }                                                                                        \
  }                                                                                          \
  /* acc[b] (+|*|max|min)= row[b] */                                                         \
  HOT static void accum_row_##S(T *acc, const T *row, int64_t nb, int kind) {                \
    switch (kind) {                                                                          \
    case K_SUM: for (int64_t b = 0; b < nb; b++) acc[b] += row[b]; break;                    \
    case K_PROD: for (int64_t b = 0; b < nb; b++) acc[b] *= row[b]; break;                   \
    case K_MAX: /* two selects (not one ||) so the loop vectorises; NaN sticks */           \
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
      r = (kind == K_MAX ? v > r : v < r) ? v : r;                                           \
      r = v != v ? v : r;                                                                    \
    }                                                                                        \
    return r;                                                                                \
  }                                                                                          \
  /* Pairwise over rows: scratch holds one row per recursion level. */                     \
  static void sum_rows_##S(T *acc, const T *x, int64_t nrows, int64_t stride, int64_t nb,    \
                           T *scratch) {                                                     \
    if (nrows <= LEAF_ROWS || !scratch) {                                                    \
      memcpy(acc, x, sizeof(T) * (size_t)nb);                                                \
      for (int64_t r = 1; r < nrows; r++) accum_row_##S(acc, x + r * stride, nb, K_SUM);     \
      return;                                                                                \
    }                                                                                        \
    int64_t h = nrows / 2;                                                                   \
    sum_rows_##S(acc, x, h, stride, nb, scratch + nb);                                       \
    sum_rows_##S(scratch, x + h * stride, nrows - h, stride, nb, scratch + nb);              \
    accum_row_##S(acc, scratch, nb, K_SUM);                                                  \
  }                                                                                          \
  static void cols_##S(void *accv, const void *xv, int64_t nrows, int64_t stride, int64_t nb, \
                       int kind) {                                                           \
    T *acc = accv;                                                                           \
    const T *x = xv;                                                                         \
    if (kind == K_SUM && nrows > LEAF_ROWS) {                                                \
      int depth = 2;                                                                         \
      for (int64_t r = nrows; r > LEAF_ROWS; r = (r + 1) / 2) depth++;                       \
      T *scratch = malloc(sizeof(T) * (size_t)nb * (size_t)depth);                           \
      sum_rows_##S(acc, x, nrows, stride, nb, scratch);                                      \
      free(scratch);                                                                         \
      return;                                                                                \
    }                                                                                        \
    memcpy(acc, x, sizeof(T) * (size_t)nb);                                                  \
    for (int64_t r = 1; r < nrows; r++) accum_row_##S(acc, x + r * stride, nb, kind);        \
  }                                                                                          \
  static void combine_##S(void *accv, const void *pv, int64_t np, int64_t nb, int kind) {    \
    T *acc = accv;                                                                           \
    const T *p = pv;                                                                         \
    for (int64_t b = 0; b < nb; b++) {                                                       \
      if (kind == K_SUM) {                                                                   \
        double s = 0;                                                                        \
        for (int64_t k = 0; k < np; k++) s += (double)p[k * nb + b];                         \
        acc[b] = (T)s;                                                                       \
      } else {                                                                               \
        acc[b] = p[b];                                                                       \
      }                                                                                      \
    }                                                                                        \
    if (kind != K_SUM)                                                                       \
      for (int64_t k = 1; k < np; k++) accum_row_##S(acc, p + k * nb, nb, kind);             \
  }

FLOAT_KERNELS(float, f32)
FLOAT_KERNELS(double, f64)

/* Integers accumulate in 64 bits with wrapping arithmetic (unsigned). */
#define WRAP_ADD(a, b) ((int64_t)((uint64_t)(a) + (uint64_t)(b)))
#define WRAP_MUL(a, b) ((int64_t)((uint64_t)(a) * (uint64_t)(b)))

static void accum_row_i64acc(int64_t *acc, const int64_t *row, int64_t nb, int kind) {
  switch (kind) {
  case K_SUM: for (int64_t b = 0; b < nb; b++) acc[b] = WRAP_ADD(acc[b], row[b]); break;
  case K_PROD: for (int64_t b = 0; b < nb; b++) acc[b] = WRAP_MUL(acc[b], row[b]); break;
  case K_MAX: for (int64_t b = 0; b < nb; b++) acc[b] = row[b] > acc[b] ? row[b] : acc[b]; break;
  default: for (int64_t b = 0; b < nb; b++) acc[b] = row[b] < acc[b] ? row[b] : acc[b]; break;
  }
}

static void combine_int(void *accv, const void *pv, int64_t np, int64_t nb, int kind) {
  memcpy(accv, pv, sizeof(int64_t) * (size_t)nb);
  for (int64_t k = 1; k < np; k++) accum_row_i64acc(accv, (const int64_t *)pv + k * nb, nb, kind);
}

#define INT_KERNELS(T, S)                                                                    \
  HOT static void row_##S(void *acc, const void *xv, int64_t n, int kind) {                  \
    const T *x = xv;                                                                         \
    int64_t r = 0;                                                                           \
    switch (kind) {                                                                          \
    case K_SUM: {                                                                            \
      uint64_t s = 0;                                                                        \
      for (int64_t i = 0; i < n; i++) s += (uint64_t)(int64_t)x[i];                          \
      r = (int64_t)s;                                                                        \
      break;                                                                                 \
    }                                                                                        \
    case K_PROD: {                                                                           \
      uint64_t p = 1;                                                                        \
      for (int64_t i = 0; i < n; i++) p *= (uint64_t)(int64_t)x[i];                          \
      r = (int64_t)p;                                                                        \
      break;                                                                                 \
    }                                                                                        \
    case K_MAX: {                                                                            \
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
  HOT static void cols_##S(void *accv, const void *xv, int64_t nrows, int64_t stride,        \
                           int64_t nb, int kind) {                                           \
    int64_t *acc = accv;                                                                     \
    const T *x = xv;                                                                         \
    for (int64_t b = 0; b < nb; b++) acc[b] = x[b];                                          \
    for (int64_t r = 1; r < nrows; r++) {                                                    \
      const T *row = x + r * stride;                                                         \
      switch (kind) {                                                                        \
      case K_SUM: for (int64_t b = 0; b < nb; b++) acc[b] = WRAP_ADD(acc[b], (int64_t)row[b]); break; \
      case K_PROD: for (int64_t b = 0; b < nb; b++) acc[b] = WRAP_MUL(acc[b], (int64_t)row[b]); break; \
      case K_MAX: for (int64_t b = 0; b < nb; b++) acc[b] = row[b] > acc[b] ? row[b] : acc[b]; break; \
      default: for (int64_t b = 0; b < nb; b++) acc[b] = row[b] < acc[b] ? row[b] : acc[b]; break;  \
      }                                                                                      \
    }                                                                                        \
  }

INT_KERNELS(int8_t, i8)
INT_KERNELS(uint8_t, u8)
INT_KERNELS(int16_t, i16)
INT_KERNELS(int32_t, i32)
INT_KERNELS(int64_t, i64)

static void row_bool(void *acc, const void *xv, int64_t n, int kind) {
  const uint8_t *x = xv;
  uint8_t r = kind == K_ALL;
  if (kind == K_ANY) {
    for (int64_t i = 0; i < n && !r; i++) r = x[i] != 0;
  } else {
    for (int64_t i = 0; i < n && r; i++) r = x[i] != 0;
  }
  *(uint8_t *)acc = r;
}

static void cols_bool(void *accv, const void *xv, int64_t nrows, int64_t stride, int64_t nb, int kind) {
  uint8_t *acc = accv;
  const uint8_t *x = xv;
  for (int64_t b = 0; b < nb; b++) acc[b] = x[b] != 0;
  for (int64_t r = 1; r < nrows; r++) {
    const uint8_t *row = x + r * stride;
    if (kind == K_ANY) for (int64_t b = 0; b < nb; b++) acc[b] |= row[b] != 0;
    else for (int64_t b = 0; b < nb; b++) acc[b] &= row[b] != 0;
  }
}

static void combine_bool(void *accv, const void *pv, int64_t np, int64_t nb, int kind) {
  uint8_t *acc = accv;
  const uint8_t *p = pv;
  memcpy(acc, p, (size_t)nb);
  for (int64_t k = 1; k < np; k++)
    for (int64_t b = 0; b < nb; b++) acc[b] = kind == K_ANY ? (acc[b] | p[k * nb + b]) : (acc[b] & p[k * nb + b]);
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
#define TASK_GRAIN ((int64_t)1 << 15)  /* elements a task should have to be worth a thread */

typedef struct red_job {
  const red_kernels *k;
  int kind;
  const char *x;
  size_t esize;
  int64_t A, R, B;
  int64_t nrc, rch; /* row chunks, rows per chunk */
  int64_t ncb, cb;  /* column blocks, columns per block */
  char *acc;        /* [A][nrc][B] accumulators */
} red_job;

static void red_task(int64_t begin, int64_t end, void *ctx) {
  const red_job *j = ctx;
  for (int64_t t = begin; t < end; t++) {
    int64_t a = t / (j->nrc * j->ncb), c = (t / j->ncb) % j->nrc, cbi = t % j->ncb;
    int64_t r0 = c * j->rch, r1 = r0 + j->rch < j->R ? r0 + j->rch : j->R;
    int64_t b0 = cbi * j->cb, b1 = b0 + j->cb < j->B ? b0 + j->cb : j->B;
    char *acc = j->acc + (size_t)(((a * j->nrc + c) * j->B) + b0) * j->k->acc_size;
    const char *x = j->x + (size_t)((a * j->R + r0) * j->B + b0) * j->esize;
    if (j->B == 1) j->k->row(acc, x, r1 - r0, j->kind);
    else j->k->cols(acc, x, r1 - r0, j->B, b1 - b0, j->kind);
  }
}

/* Reduces L ([A,R,B], size > 0) with kernel kind into acc ([A][B] of the
 * dtype's accumulator type). */
static tl_status run_reduction(const layout *L, int kind, void *acc) {
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
  tl_parallel_for(ntasks, per_task >= TASK_GRAIN ? 1 : TASK_GRAIN / per_task, red_task, &j);
  if (parts) {
    for (int64_t a = 0; a < L->A; a++)
      j.k->combine((char *)acc + (size_t)(a * L->B) * as, parts + (size_t)(a * j.nrc * L->B) * as, j.nrc,
                   L->B, kind);
    free(parts);
  }
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

static void fill_identity(tl_tensor *o, int kind) {
  void *p = tl_tensor_data(o);
  tl_dtype dt = o->dtype;
  for (int64_t i = 0; i < o->size; i++) {
    if (tl_dtype_is_float(dt)) {
      double v = kind == K_SUM ? 0 : kind == K_PROD ? 1 : kind == K_MAX ? -INFINITY : kind == K_MIN ? INFINITY : NAN;
      tl_store_f64(p, dt, i, v);
    } else if (dt == TL_BOOL) {
      tl_store_i64(p, dt, i, kind == K_ALL);
    } else {
      int64_t lo, hi;
      switch (dt) {
      case TL_INT8: lo = INT8_MIN, hi = INT8_MAX; break;
      case TL_UINT8: lo = 0, hi = UINT8_MAX; break;
      case TL_INT16: lo = INT16_MIN, hi = INT16_MAX; break;
      case TL_INT32: lo = INT32_MIN, hi = INT32_MAX; break;
      default: lo = INT64_MIN, hi = INT64_MAX; break;
      }
      tl_store_i64(p, dt, i, kind == K_PROD ? 1 : kind == K_MAX ? lo : kind == K_MIN ? hi : 0);
    }
  }
}

static bool is_half(tl_dtype d) { return d == TL_FLOAT16 || d == TL_BFLOAT16; }

static tl_status unsupported(tl_dtype d, const char *what) {
  return tl_error(TL_UNIMPLEMENTED, "dtype %s is not supported (%s)", tl_dtypes[d].name, what);
}

/* Reduces x over the axes in mask into a new tensor of x's dtype. */
static tl_status reduce_mask(tl_tensor *x, const bool *mask, bool keepdims, int kind, tl_tensor **out) {
  int64_t shape[TL_MAX_RANK];
  int r = out_shape(x, mask, keepdims, shape);
  tl_tensor *o;
  tl_status s = tl_tensor_new(x->dtype, r, shape, &o);
  if (s) return s;
  if (x->size == 0) {
    fill_identity(o, kind);
    *out = o;
    return TL_OK;
  }
  layout L;
  if ((s = make_layout(x, mask, &L))) goto fail;
  int64_t n = L.A * L.B;
  size_t as = kernels[x->dtype].acc_size;
  bool direct = as == tl_dtypes[x->dtype].size;
  void *acc = direct ? tl_tensor_data(o) : malloc((size_t)n * as);
  if (!acc) {
    tl_tensor_release(L.src);
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    goto fail;
  }
  s = run_reduction(&L, kind == K_MEAN ? K_SUM : kind, acc);
  if (!s) finalize(tl_tensor_data(o), x->dtype, acc, n, kind == K_MEAN, L.R);
  if (!direct) free(acc);
  tl_tensor_release(L.src);
  if (s) goto fail;
  *out = o;
  return TL_OK;
fail:
  tl_tensor_release(o);
  return s;
}

/* Runs fn on x cast to float32 and casts the outputs back (float16/bfloat16). */
static tl_status via_f32(const tl_op_def *op, tl_tensor *x, tl_tensor *const *in, int n_in,
                         const tl_attr *attr, tl_tensor_list *out, int which) {
  tl_tensor *xf, *args[TL_MAX_INPUTS];
  tl_status s = tl_tensor_cast(x, TL_FLOAT32, &xf);
  if (s) return s;
  for (int i = 0; i < n_in; i++) args[i] = i == which ? xf : in[i];
  tl_tensor_list tmp;
  tl_list_init(&tmp);
  s = op->kernel[TL_CPU](op, args, n_in, attr, &tmp);
  tl_tensor_release(xf);
  for (int i = 0; i < tmp.n && !s; i++) {
    tl_tensor *c;
    if (tmp.items[i]->dtype == TL_FLOAT32) {
      if ((s = tl_tensor_cast(tmp.items[i], x->dtype, &c))) break;
    } else {
      c = tl_tensor_retain(tmp.items[i]);
    }
    s = tl_list_push(out, c);
  }
  tl_list_clear(&tmp);
  return s;
}

static tl_status reduce_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                            tl_tensor_list *out, int kind) {
  tl_tensor *x = in[0];
  tl_dtype dt = x->dtype;
  if (kind == K_ANY || kind == K_ALL) {
    if (dt != TL_BOOL) return unsupported(dt, "the input must be bool; use tf.cast or a comparison");
  } else if (is_half(dt)) {
    return via_f32(op, x, in, n_in, attr, out, 0);
  } else if (!kernels[dt].row || dt == TL_BOOL) {
    return unsupported(dt, "reductions need a float or integer tensor");
  }
  bool mask[TL_MAX_RANK];
  tl_status s = parse_axes(x, &attr[0], mask);
  if (s) return s;
  tl_tensor *o;
  if ((s = reduce_mask(x, mask, attr[1].b, kind, &o))) return s;
  return tl_list_push(out, o);
}

#define REDUCE_OP(name, kind)                                                                     \
  static tl_status name##_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr, \
                              tl_tensor_list *out) {                                              \
    return reduce_fwd(op, in, n_in, attr, out, kind);                                             \
  }
REDUCE_OP(reduce_sum, K_SUM)
REDUCE_OP(reduce_prod, K_PROD)
REDUCE_OP(reduce_max, K_MAX)
REDUCE_OP(reduce_min, K_MIN)
REDUCE_OP(reduce_mean, K_MEAN)
REDUCE_OP(reduce_any, K_ANY)
REDUCE_OP(reduce_all, K_ALL)

/* ---- two-pass float reductions: logsumexp, variance ----------------------- */

/* acc[a,b] = sum_r f(x[a,r,b] - c[a,b]) in double, f = exp or square. */
typedef struct pass2_job {
  const layout *L;
  const void *c; /* [A*B] centres, dtype of x */
  double *acc;
  bool expo;
} pass2_job;

#define PASS2(T, S)                                                                        \
  static void pass2_##S(const pass2_job *j, int64_t a) {                                   \
    const layout *L = j->L;                                                                \
    const T *x = (const T *)tl_tensor_data(L->src) + a * L->R * L->B;                      \
    const T *c = (const T *)j->c + a * L->B;                                               \
    double *acc = j->acc + a * L->B;                                                       \
    for (int64_t b = 0; b < L->B; b++) acc[b] = 0;                                         \
    for (int64_t r = 0; r < L->R; r++) {                                                   \
      const T *row = x + r * L->B;                                                         \
      if (j->expo)                                                                         \
        for (int64_t b = 0; b < L->B; b++) acc[b] += exp((double)(row[b] - c[b]));         \
      else                                                                                 \
        for (int64_t b = 0; b < L->B; b++) {                                               \
          double d = (double)row[b] - (double)c[b];                                        \
          acc[b] += d * d;                                                                 \
        }                                                                                  \
    }                                                                                      \
  }
PASS2(float, f32)
PASS2(double, f64)

static void pass2_task(int64_t begin, int64_t end, void *ctx) {
  const pass2_job *j = ctx;
  for (int64_t a = begin; a < end; a++) {
    if (j->L->src->dtype == TL_FLOAT32) pass2_f32(j, a);
    else pass2_f64(j, a);
  }
}

enum { M_LOGSUMEXP, M_VARIANCE, M_STD };

/* Fills outputs o (and the mean into mean_out when given) for x over mask. */
static tl_status two_pass(tl_tensor *x, const bool *mask, bool keepdims, int what, tl_tensor **out,
                          tl_tensor **mean_out) {
  int64_t shape[TL_MAX_RANK];
  int r = out_shape(x, mask, keepdims, shape);
  tl_tensor *o = NULL, *centre = NULL;
  tl_status s = tl_tensor_new(x->dtype, r, shape, &o);
  if (s) return s;
  if (x->size == 0) {
    fill_identity(o, what == M_LOGSUMEXP ? K_MAX : K_MEAN); /* -inf, NaN */
    if (mean_out) {
      if ((s = tl_tensor_new(x->dtype, r, shape, &centre))) goto fail;
      fill_identity(centre, K_MEAN);
      *mean_out = centre;
    }
    *out = o;
    return TL_OK;
  }
  if ((s = reduce_mask(x, mask, keepdims, what == M_LOGSUMEXP ? K_MAX : K_MEAN, &centre))) goto fail;
  layout L;
  if ((s = make_layout(x, mask, &L))) goto fail;
  int64_t n = L.A * L.B;
  void *c = tl_tensor_data(centre);
  void *shift = c;
  double *acc = malloc(sizeof(double) * (size_t)n);
  if (what == M_LOGSUMEXP) shift = malloc(tl_dtypes[x->dtype].size * (size_t)n);
  if (!acc || !shift) {
    free(acc);
    if (shift != c) free(shift);
    tl_tensor_release(L.src);
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    goto fail;
  }
  if (what == M_LOGSUMEXP)
    for (int64_t i = 0; i < n; i++) {
      double m = tl_load_f64(c, x->dtype, i);
      tl_store_f64(shift, x->dtype, i, isfinite(m) ? m : 0.0);
    }
  pass2_job j = {&L, shift, acc, what == M_LOGSUMEXP};
  int64_t per = L.R * L.B;
  tl_parallel_for(L.A, per >= TASK_GRAIN ? 1 : TASK_GRAIN / per, pass2_task, &j);
  void *od = tl_tensor_data(o);
  for (int64_t i = 0; i < n; i++) {
    double v;
    if (what == M_LOGSUMEXP) v = log(acc[i]) + tl_load_f64(shift, x->dtype, i);
    else v = acc[i] / (double)L.R;
    if (what == M_STD) v = sqrt(v);
    tl_store_f64(od, x->dtype, i, v);
  }
  free(acc);
  if (shift != c) free(shift);
  tl_tensor_release(L.src);
  if (mean_out) *mean_out = centre;
  else tl_tensor_release(centre);
  *out = o;
  return TL_OK;
fail:
  tl_tensor_release(o);
  tl_tensor_release(centre);
  return s;
}

static tl_status two_pass_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                              tl_tensor_list *out, int what) {
  tl_tensor *x = in[0];
  if (is_half(x->dtype)) return via_f32(op, x, in, n_in, attr, out, 0);
  if (x->dtype != TL_FLOAT32 && x->dtype != TL_FLOAT64)
    return unsupported(x->dtype, "the input must be a float tensor; use tf.cast");
  bool mask[TL_MAX_RANK];
  tl_status s = parse_axes(x, &attr[0], mask);
  if (s) return s;
  tl_tensor *o;
  if ((s = two_pass(x, mask, attr[1].b, what, &o, NULL))) return s;
  return tl_list_push(out, o);
}

static tl_status reduce_logsumexp_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in,
                                      const tl_attr *attr, tl_tensor_list *out) {
  return two_pass_fwd(op, in, n_in, attr, out, M_LOGSUMEXP);
}
static tl_status reduce_variance_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in,
                                     const tl_attr *attr, tl_tensor_list *out) {
  return two_pass_fwd(op, in, n_in, attr, out, M_VARIANCE);
}
static tl_status reduce_std_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                tl_tensor_list *out) {
  return two_pass_fwd(op, in, n_in, attr, out, M_STD);
}

/* tf.nn.moments(x, axes, {keepdims}) -> mean, variance */
static tl_status moments_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                             tl_tensor_list *out) {
  tl_tensor *x = in[0];
  if (is_half(x->dtype)) return via_f32(op, x, in, n_in, attr, out, 0);
  if (x->dtype != TL_FLOAT32 && x->dtype != TL_FLOAT64)
    return unsupported(x->dtype, "the input must be a float tensor; use tf.cast");
  bool mask[TL_MAX_RANK];
  tl_status s = parse_axes(x, &attr[0], mask);
  if (s) return s;
  tl_tensor *var, *mean;
  if ((s = two_pass(x, mask, attr[1].b, M_VARIANCE, &var, &mean))) return s;
  if ((s = tl_list_push(out, mean))) {
    tl_tensor_release(var);
    return s;
  }
  return tl_list_push(out, var);
}

/* count_nonzero: sums a 0/1 uint8 mask in int64, then casts to dtype. */
static void nonzero_run(char **p, const int64_t *st, int64_t n, void *ctx) {
  tl_dtype dt = *(const tl_dtype *)ctx;
  uint8_t *o = (uint8_t *)p[0];
  for (int64_t i = 0; i < n; i++) {
    int64_t off = i * st[1];
    bool nz = tl_dtype_is_float(dt) ? tl_load_f64(p[1], dt, off) != 0 : tl_load_i64(p[1], dt, off) != 0;
    o[i * st[0]] = nz;
  }
}

static tl_status count_nonzero_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                   tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *x = in[0];
  tl_dtype want = attr[2].dtype;
  if (!tl_dtypes[x->dtype].computable && !is_half(x->dtype))
    return unsupported(x->dtype, "count_nonzero needs a numeric or bool tensor");
  if (!tl_dtype_is_integer(want))
    return tl_error(TL_INVALID_ARGUMENT, "dtype must be an integer dtype, got %s", tl_dtypes[want].name);
  bool mask[TL_MAX_RANK];
  tl_status s = parse_axes(x, &attr[0], mask);
  if (s) return s;
  tl_tensor *m, *sum = NULL, *res;
  if ((s = tl_tensor_new(TL_UINT8, x->rank, x->shape, &m))) return s;
  tl_tensor *ops[2] = {m, x};
  tl_iterate(2, ops, nonzero_run, &x->dtype);
  /* uint8 sums accumulate in int64: reduce, then read the accumulators back. */
  int64_t shape[TL_MAX_RANK];
  int r = out_shape(x, mask, attr[1].b, shape);
  if ((s = tl_tensor_zeros(TL_INT64, r, shape, &sum))) goto done;
  if (x->size) {
    layout L;
    if ((s = make_layout(m, mask, &L))) goto done;
    s = run_reduction(&L, K_SUM, tl_tensor_data(sum));
    tl_tensor_release(L.src);
    if (s) goto done;
  }
  if ((s = tl_tensor_cast(sum, want, &res))) goto done;
  s = tl_list_push(out, res);
done:
  tl_tensor_release(m);
  tl_tensor_release(sum);
  return s;
}

/* ---- argmax / argmin ------------------------------------------------------ */

/* First index of the max (min); NaN counts as the extreme, first NaN wins. */
#define ARG_KERNEL(T, S)                                                                     \
  static void arg_##S(int64_t *idx, const void *xv, int64_t R, int64_t B, bool is_max) {    \
    const T *x = xv;                                                                         \
    if (B == 1) {                                                                            \
      T best = x[0];                                                                         \
      int64_t bi = 0;                                                                        \
      for (int64_t r = 1; r < R; r++) {                                                      \
        T v = x[r];                                                                          \
        bool better = is_max ? v > best : v < best;                                          \
        if (better || (v != v && best == best)) best = v, bi = r;                            \
      }                                                                                      \
      idx[0] = bi;                                                                           \
      return;                                                                                \
    }                                                                                        \
    T *best = malloc(sizeof(T) * (size_t)B);                                                 \
    if (!best) { /* fall back to one column at a time */                                    \
      for (int64_t b = 0; b < B; b++) {                                                      \
        T bv = x[b];                                                                         \
        idx[b] = 0;                                                                          \
        for (int64_t r = 1; r < R; r++) {                                                    \
          T v = x[r * B + b];                                                                \
          if ((is_max ? v > bv : v < bv) || (v != v && bv == bv)) bv = v, idx[b] = r;       \
        }                                                                                    \
      }                                                                                      \
      return;                                                                                \
    }                                                                                        \
    memcpy(best, x, sizeof(T) * (size_t)B);                                                  \
    for (int64_t b = 0; b < B; b++) idx[b] = 0;                                              \
    for (int64_t r = 1; r < R; r++) {                                                        \
      const T *row = x + r * B;                                                              \
      for (int64_t b = 0; b < B; b++) {                                                      \
        T v = row[b];                                                                        \
        bool better = is_max ? v > best[b] : v < best[b];                                    \
        if (better || (v != v && best[b] == best[b])) best[b] = v, idx[b] = r;               \
      }                                                                                      \
    }                                                                                        \
    free(best);                                                                              \
  }
ARG_KERNEL(float, f32)
ARG_KERNEL(double, f64)
ARG_KERNEL(int8_t, i8)
ARG_KERNEL(uint8_t, u8)
ARG_KERNEL(int16_t, i16)
ARG_KERNEL(int32_t, i32)
ARG_KERNEL(int64_t, i64)

typedef void (*arg_fn)(int64_t *idx, const void *x, int64_t R, int64_t B, bool is_max);
/* ORDER DTYPES */
static const arg_fn arg_kernels[TL_DTYPE_COUNT] = {
    [TL_FLOAT32] = arg_f32, [TL_FLOAT64] = arg_f64, [TL_INT8] = arg_i8, [TL_UINT8] = arg_u8,
    [TL_INT16] = arg_i16,   [TL_INT32] = arg_i32,   [TL_INT64] = arg_i64, [TL_BOOL] = arg_u8,
};

typedef struct arg_job {
  arg_fn fn;
  const char *x;
  size_t esize;
  int64_t R, B;
  int64_t *idx;
  bool is_max;
} arg_job;

static void arg_task(int64_t begin, int64_t end, void *ctx) {
  const arg_job *j = ctx;
  for (int64_t a = begin; a < end; a++)
    j->fn(j->idx + a * j->B, j->x + (size_t)(a * j->R * j->B) * j->esize, j->R, j->B, j->is_max);
}

static tl_status arg_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                         tl_tensor_list *out, bool is_max) {
  tl_tensor *x = in[0];
  if (is_half(x->dtype)) return via_f32(op, x, in, n_in, attr, out, 0);
  if (!arg_kernels[x->dtype]) return unsupported(x->dtype, "needs a float, integer or bool tensor");
  tl_dtype ot = attr[1].dtype;
  if (ot != TL_INT32 && ot != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "output_type must be int32 or int64, got %s", tl_dtypes[ot].name);
  if (x->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "a scalar has no axis to reduce (axis %" PRId64 ")", attr[0].i);
  tl_attr one = attr[0];
  one.present = true, one.n = 1, one.ints = &one.i;
  bool mask[TL_MAX_RANK];
  tl_status s = parse_axes(x, &one, mask);
  if (s) return s;
  int ax = 0;
  while (!mask[ax]) ax++;
  if (x->shape[ax] == 0) {
    char sh[200];
    return tl_error(TL_INVALID_ARGUMENT, "reduction axis %d is empty in shape %s", ax,
                    tl_shape_format(x->rank, x->shape, sh, sizeof sh));
  }
  int64_t shape[TL_MAX_RANK];
  int r = out_shape(x, mask, false, shape);
  tl_tensor *o64, *c = NULL;
  if ((s = tl_tensor_new(TL_INT64, r, shape, &o64))) return s;
  if (x->size) {
    if ((s = tl_tensor_contiguous(x, &c))) goto fail;
    int64_t A = 1, B = 1;
    for (int i = 0; i < ax; i++) A *= x->shape[i];
    for (int i = ax + 1; i < x->rank; i++) B *= x->shape[i];
    arg_job j = {arg_kernels[x->dtype], tl_tensor_data(c), tl_dtypes[x->dtype].size, x->shape[ax], B,
                 tl_tensor_data(o64), is_max};
    int64_t per = j.R * B;
    tl_parallel_for(A, per >= TASK_GRAIN ? 1 : TASK_GRAIN / per, arg_task, &j);
    tl_tensor_release(c);
  }
  tl_tensor *o;
  s = tl_tensor_cast(o64, ot, &o);
  tl_tensor_release(o64);
  if (s) return s;
  return tl_list_push(out, o);
fail:
  tl_tensor_release(o64);
  return s;
}

static tl_status argmax_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                            tl_tensor_list *out) {
  return arg_fwd(op, in, n_in, attr, out, true);
}
static tl_status argmin_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                            tl_tensor_list *out) {
  return arg_fwd(op, in, n_in, attr, out, false);
}

/* ---- cumsum / cumprod ----------------------------------------------------- */

/* Scans [R, B] (row stride B) along R into out; acc holds B running values.
 * Integers run in uint64 so overflow wraps as in the dtype. */
#define SCAN_KERNEL(T, ACC, S)                                                               \
  static void scan_##S(T *out, const T *x, int64_t R, int64_t B, bool prod, bool excl, bool rev, \
                       ACC *acc) {                                                           \
    for (int64_t b = 0; b < B; b++) acc[b] = prod ? 1 : 0;                                   \
    for (int64_t k = 0; k < R; k++) {                                                        \
      int64_t r = rev ? R - 1 - k : k;                                                       \
      const T *row = x + r * B;                                                              \
      T *orow = out + r * B;                                                                 \
      if (excl) for (int64_t b = 0; b < B; b++) orow[b] = (T)acc[b];                         \
      if (prod) for (int64_t b = 0; b < B; b++) acc[b] *= (ACC)row[b];                       \
      else for (int64_t b = 0; b < B; b++) acc[b] += (ACC)row[b];                            \
      if (!excl) for (int64_t b = 0; b < B; b++) orow[b] = (T)acc[b];                        \
    }                                                                                        \
  }
SCAN_KERNEL(float, float, f32)
SCAN_KERNEL(double, double, f64)
SCAN_KERNEL(int8_t, uint64_t, i8)
SCAN_KERNEL(uint8_t, uint64_t, u8)
SCAN_KERNEL(int16_t, uint64_t, i16)
SCAN_KERNEL(int32_t, uint64_t, i32)
SCAN_KERNEL(int64_t, uint64_t, i64)

typedef struct scan_job {
  tl_dtype dt;
  const char *x;
  char *out;
  int64_t R, B;
  bool prod, excl, rev;
} scan_job;

static void scan_task(int64_t begin, int64_t end, void *ctx) {
  const scan_job *j = ctx;
  size_t es = tl_dtypes[j->dt].size;
  void *acc = malloc(8 * (size_t)j->B);
  if (!acc) return; /* checked by the caller's preflight allocation */
  for (int64_t a = begin; a < end; a++) {
    size_t off = (size_t)(a * j->R * j->B) * es;
    const void *x = j->x + off;
    void *o = j->out + off;
    switch (j->dt) {
    case TL_FLOAT32: scan_f32(o, x, j->R, j->B, j->prod, j->excl, j->rev, acc); break;
    case TL_FLOAT64: scan_f64(o, x, j->R, j->B, j->prod, j->excl, j->rev, acc); break;
    case TL_INT8: scan_i8(o, x, j->R, j->B, j->prod, j->excl, j->rev, acc); break;
    case TL_UINT8: scan_u8(o, x, j->R, j->B, j->prod, j->excl, j->rev, acc); break;
    case TL_INT16: scan_i16(o, x, j->R, j->B, j->prod, j->excl, j->rev, acc); break;
    case TL_INT32: scan_i32(o, x, j->R, j->B, j->prod, j->excl, j->rev, acc); break;
    default: scan_i64(o, x, j->R, j->B, j->prod, j->excl, j->rev, acc); break;
    }
  }
  free(acc);
}

static tl_status scan_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                          tl_tensor_list *out, bool prod) {
  tl_tensor *x = in[0];
  tl_dtype dt = x->dtype;
  if (is_half(dt)) return via_f32(op, x, in, n_in, attr, out, 0);
  if (!kernels[dt].row || dt == TL_BOOL) return unsupported(dt, "needs a float or integer tensor");
  if (x->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "a scalar has no axis to scan (axis %" PRId64 ")", attr[0].i);
  tl_attr one = attr[0];
  one.present = true, one.n = 1, one.ints = &one.i;
  bool mask[TL_MAX_RANK];
  tl_status s = parse_axes(x, &one, mask);
  if (s) return s;
  int ax = 0;
  while (!mask[ax]) ax++;
  tl_tensor *o, *c;
  if ((s = tl_tensor_new(dt, x->rank, x->shape, &o))) return s;
  if (x->size == 0) return tl_list_push(out, o);
  if ((s = tl_tensor_contiguous(x, &c))) {
    tl_tensor_release(o);
    return s;
  }
  int64_t A = 1, B = 1;
  for (int i = 0; i < ax; i++) A *= x->shape[i];
  for (int i = ax + 1; i < x->rank; i++) B *= x->shape[i];
  void *probe = malloc(8 * (size_t)B);
  if (!probe) {
    tl_tensor_release(o);
    tl_tensor_release(c);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  free(probe);
  scan_job j = {dt, tl_tensor_data(c), tl_tensor_data(o), x->shape[ax], B, prod, attr[1].b, attr[2].b};
  int64_t per = j.R * B;
  tl_parallel_for(A, per >= TASK_GRAIN ? 1 : TASK_GRAIN / per, scan_task, &j);
  tl_tensor_release(c);
  return tl_list_push(out, o);
}

static tl_status cumsum_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                            tl_tensor_list *out) {
  return scan_fwd(op, in, n_in, attr, out, false);
}
static tl_status cumprod_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                             tl_tensor_list *out) {
  return scan_fwd(op, in, n_in, attr, out, true);
}

/* ---- gradients ------------------------------------------------------------ */
/* Written with ordinary ops (tl_call), so an outer tape records them and
 * gradients of gradients work. The tape reduces broadcast gradients, so a
 * rule may return anything that broadcasts to its input's shape only when
 * it is that shape already; here each result has the input's shape. */

static tl_tensor *where3(tl_temps *T, tl_tensor *c, tl_tensor *a, tl_tensor *b) {
  tl_tensor *o, *in[3] = {c, a, b};
  if (!c || !a || !b || tl_call("where", 3, in, 0, NULL, &o)) return NULL;
  return tl_temps_keep(T, o);
}

static tl_tensor *reshape_to(tl_temps *T, tl_tensor *a, int rank, const int64_t *shape) {
  return tl_temps_op1(T, "reshape", a, 1, (tl_named_attr[]){TL_A_INTS("shape", rank, shape)});
}

/* g (a reduction's gradient) with the reduced dims of x restored as 1. */
static tl_tensor *keep_dims(tl_temps *T, tl_tensor *g, const tl_tensor *x, const bool *mask) {
  int64_t shape[TL_MAX_RANK];
  int r = out_shape(x, mask, true, shape);
  return reshape_to(T, g, r, shape);
}

static tl_tensor *broadcast_like(tl_temps *T, tl_tensor *g, const tl_tensor *x) {
  return tl_temps_op1(T, "broadcast_to", g, 1, (tl_named_attr[]){TL_A_INTS("shape", x->rank, x->shape)});
}

static int64_t reduced_count(const tl_tensor *x, const bool *mask) {
  int64_t n = 1;
  for (int i = 0; i < x->rank; i++)
    if (mask[i]) n *= x->shape[i];
  return n;
}

/* The axis attribute of a reduction, to pass on (none: every axis). */
static int axis_attr(const tl_attr *axis, bool keepdims, tl_named_attr *named) {
  int n = 0;
  if (axis->present) named[n++] = TL_A_INTS("axis", axis->n, axis->ints);
  named[n++] = TL_A_BOOL("keepdims", keepdims);
  return n;
}

#define GRAD_ARGS                                                                              \
  const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr, tl_tensor *const *out, \
      int n_out, tl_tensor *const *gout, tl_tensor **gin
#define UNUSED_GRAD_ARGS (void)op, (void)n_in, (void)n_out, (void)out

/* Sum: the gradient is g copied over the reduced dims. */
static tl_status reduce_sum_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  bool mask[TL_MAX_RANK];
  if (parse_axes(in[0], &attr[0], mask)) return tl_last_status();
  tl_temps T = {0};
  return tl_temps_give(&T, broadcast_like(&T, keep_dims(&T, gout[0], in[0], mask), in[0]), &gin[0], true);
}

/* Mean: g / N over the reduced dims (divided before it is copied out). */
static tl_status reduce_mean_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (parse_axes(x, &attr[0], mask)) return tl_last_status();
  tl_temps T = {0};
  tl_tensor *g = keep_dims(&T, gout[0], x, mask);
  g = tl_temps_op2(&T, "divide", g, tl_temps_scalar(&T, x, x->dtype, (double)reduced_count(x, mask)));
  return tl_temps_give(&T, broadcast_like(&T, g, x), &gin[0], true);
}

/* Max/min: g shared equally among the elements equal to the result (TF). */
static tl_status reduce_extreme_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (parse_axes(x, &attr[0], mask)) return tl_last_status();
  tl_named_attr ax[2];
  int nax = axis_attr(&attr[0], true, ax);
  tl_temps T = {0};
  tl_tensor *y = keep_dims(&T, out[0], x, mask), *g = keep_dims(&T, gout[0], x, mask);
  tl_tensor *ind = tl_temps_op1(&T, "cast", tl_temps_op2(&T, "equal", y, x), 1, (tl_named_attr[]){TL_A_DTYPE("dtype", x->dtype)});
  tl_tensor *cnt = tl_temps_op1(&T, "reduce_sum", ind, nax, ax);
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", tl_temps_op2(&T, "divide", ind, cnt), g), &gin[0], true);
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
static tl_status reduce_prod_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (parse_axes(x, &attr[0], mask)) return tl_last_status();
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
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", others, keep_dims(&T, gout[0], x, mask)), &gin[0], true);
}

/* d lse / dx = exp(x - lse) = softmax over the reduced dims. */
static tl_status reduce_logsumexp_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (parse_axes(x, &attr[0], mask)) return tl_last_status();
  tl_temps T = {0};
  tl_tensor *p = tl_temps_op1(&T, "exp", tl_temps_op2(&T, "subtract", x, keep_dims(&T, out[0], x, mask)), 0, NULL);
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", p, keep_dims(&T, gout[0], x, mask)), &gin[0], true);
}

/* Variance (population): d var / dx = 2 (x - mean) / N; std: (x - mean) / (N std).
 * mean_k, when given, is the mean with kept dims (moments has it). */
static tl_tensor *centered(tl_temps *T, tl_tensor *x, const tl_attr *axis, tl_tensor *mean_k) {
  if (!mean_k) {
    tl_named_attr ax[2];
    int nax = axis_attr(axis, true, ax);
    mean_k = tl_temps_op1(T, "reduce_mean", x, nax, ax);
  }
  return tl_temps_op2(T, "subtract", x, mean_k);
}

static tl_status reduce_variance_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (parse_axes(x, &attr[0], mask)) return tl_last_status();
  tl_temps T = {0};
  tl_tensor *g = tl_temps_op2(&T, "multiply", keep_dims(&T, gout[0], x, mask),
                     tl_temps_scalar(&T, x, x->dtype, 2.0 / (double)reduced_count(x, mask)));
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", centered(&T, x, &attr[0], NULL), g), &gin[0], true);
}

static tl_status reduce_std_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (parse_axes(x, &attr[0], mask)) return tl_last_status();
  tl_temps T = {0};
  tl_tensor *nstd = tl_temps_op2(&T, "multiply", keep_dims(&T, out[0], x, mask),
                        tl_temps_scalar(&T, x, x->dtype, (double)reduced_count(x, mask)));
  tl_tensor *g = tl_temps_op2(&T, "divide", keep_dims(&T, gout[0], x, mask), nstd);
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", centered(&T, x, &attr[0], NULL), g), &gin[0], true);
}

/* moments -> (mean, variance); either output's gradient may be absent. */
static tl_status moments_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (parse_axes(x, &attr[0], mask)) return tl_last_status();
  double n = (double)reduced_count(x, mask);
  tl_temps T = {0};
  tl_tensor *res = NULL, *gm = NULL;
  if (gout[0]) gm = tl_temps_op2(&T, "divide", keep_dims(&T, gout[0], x, mask), tl_temps_scalar(&T, x, x->dtype, n));
  if (gout[1]) {
    tl_tensor *gv = tl_temps_op2(&T, "multiply", keep_dims(&T, gout[1], x, mask), tl_temps_scalar(&T, x, x->dtype, 2.0 / n));
    res = tl_temps_op2(&T, "multiply", centered(&T, x, &attr[0], keep_dims(&T, out[0], x, mask)), gv);
    if (gout[0]) res = tl_temps_op2(&T, "add", res, gm);
  } else {
    res = broadcast_like(&T, gm, x);
  }
  return tl_temps_give(&T, res, &gin[0], true);
}

/* The gradient of a scan is the scan of g the other way round. */
static tl_status cumsum_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  (void)in;
  tl_temps T = {0};
  return tl_temps_give(&T,
              tl_temps_op1(&T, "cumsum", gout[0], 3,
                  (tl_named_attr[]){TL_A_INT("axis", attr[0].i), TL_A_BOOL("exclusive", attr[1].b),
                                    TL_A_BOOL("reverse", !attr[2].b)}),
              &gin[0], true);
}

/* Cumulative product, exact with zeros. In scan order, with y the output:
 * - before the first zero, dx_i = rscan(g y)_i / x_i (TF's whole rule);
 * - at the first zero, dx_i = rscan(g y')_i, y' the scan of x with that
 *   zero replaced by 1 (every later product holds x_i exactly once);
 * - after it, 0 (every product involving x_i also holds the first zero).
 * rscan is cumsum the other way with the same exclusive flag. */
/* The gradient of y = cumprod(x) for the upstream g, exact with zeros and,
 * being written in ops, exact in its own derivatives as well. Before a
 * row's first zero z the usual rcumsum(g*y)/x; at z the products with x_z
 * taken as 1; after z, x_z times the gradient of the same products with x_z
 * replaced by 1 (a recursion, one level per zero in the row): those entries
 * are 0 in value but not in their derivative with respect to x_z. */
static tl_tensor *cumprod_grad_rec(tl_temps *Tout, tl_tensor *x, tl_tensor *g, tl_tensor *y, const tl_named_attr *fwd,
                                   const tl_named_attr *back, const tl_named_attr *count) {
  tl_temps T = {0};
  tl_tensor *zero = tl_temps_scalar(&T, x, x->dtype, 0), *one = tl_temps_scalar(&T, x, x->dtype, 1);
  tl_tensor *z = tl_temps_op2(&T, "equal", x, zero), *res = NULL;
  bool any = false;
  if (z) {
    const uint8_t *zb = tl_tensor_data(z);
    for (int64_t i = 0; i < z->size && !any; i++) any = zb[i] != 0;
  }
  tl_tensor *a = tl_temps_op1(&T, "cumsum", tl_temps_op2(&T, "multiply", g, y), 3, back);
  if (!any) {
    res = tl_temps_op2(&T, "divide", a, x);
  } else {
    tl_tensor *c = tl_temps_op1(&T, "cumsum", tl_temps_op1(&T, "cast", z, 1, (tl_named_attr[]){TL_A_DTYPE("dtype", x->dtype)}), 2, count);
    tl_tensor *before = tl_temps_op2(&T, "equal", c, zero);
    tl_tensor *first = tl_temps_op2(&T, "logical_and", z, tl_temps_op2(&T, "equal", c, one));
    a = tl_temps_op2(&T, "divide", a, where3(&T, before, x, one));
    tl_tensor *xp = where3(&T, first, one, x);
    tl_tensor *yp = tl_temps_op1(&T, "cumprod", xp, 3, fwd);
    tl_tensor *b = tl_temps_op1(&T, "cumsum", tl_temps_op2(&T, "multiply", g, yp), 3, back);
    tl_tensor *xz = tl_temps_op1(&T, "cumsum", where3(&T, first, x, zero), 2, count);
    tl_tensor *rest = xp && yp ? cumprod_grad_rec(&T, xp, g, yp, fwd, back, count) : NULL;
    res = where3(&T, first, b, where3(&T, before, a, tl_temps_op2(&T, "multiply", xz, rest)));
  }
  if (res) res = tl_temps_keep(Tout, tl_tensor_retain(res));
  tl_temps_free(&T);
  return res;
}

static tl_status cumprod_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  int64_t ax = attr[0].i;
  bool excl = attr[1].b, rev = attr[2].b;
  tl_named_attr fwd[3] = {TL_A_INT("axis", ax), TL_A_BOOL("exclusive", excl), TL_A_BOOL("reverse", rev)};
  tl_named_attr back[3] = {TL_A_INT("axis", ax), TL_A_BOOL("exclusive", excl), TL_A_BOOL("reverse", !rev)};
  tl_named_attr count[2] = {TL_A_INT("axis", ax), TL_A_BOOL("reverse", rev)};
  tl_temps T = {0};
  return tl_temps_give(&T, cumprod_grad_rec(&T, in[0], gout[0], out[0], fwd, back, count), &gin[0], true);
}

/* ---- the table ------------------------------------------------------------ */

#define RED_ATTRS "axis:ints?, keepdims:bool=false"

tl_op_def tl_ops_reduce[] = {
    {.name = "reduce_sum", .inputs = "input_tensor", .attrs = RED_ATTRS, .kernel[TL_CPU] = reduce_sum_fwd, .grad = reduce_sum_grad,
     .api = "tf.reduce_sum tf.math.reduce_sum", .doc = "Sum over the given axes (all when axis is nil)."},
    {.name = "reduce_mean", .inputs = "input_tensor", .attrs = RED_ATTRS, .kernel[TL_CPU] = reduce_mean_fwd, .grad = reduce_mean_grad,
     .api = "tf.reduce_mean tf.math.reduce_mean",
     .doc = "Mean over the given axes (integer mean for integer tensors; NaN when empty)."},
    {.name = "reduce_max", .inputs = "input_tensor", .attrs = RED_ATTRS, .kernel[TL_CPU] = reduce_max_fwd, .grad = reduce_extreme_grad,
     .api = "tf.reduce_max tf.math.reduce_max", .doc = "Maximum over the given axes (NaN propagates; -inf when empty)."},
    {.name = "reduce_min", .inputs = "input_tensor", .attrs = RED_ATTRS, .kernel[TL_CPU] = reduce_min_fwd, .grad = reduce_extreme_grad,
     .api = "tf.reduce_min tf.math.reduce_min", .doc = "Minimum over the given axes (NaN propagates; +inf when empty)."},
    {.name = "reduce_prod", .inputs = "input_tensor", .attrs = RED_ATTRS, .kernel[TL_CPU] = reduce_prod_fwd, .grad = reduce_prod_grad,
     .api = "tf.reduce_prod tf.math.reduce_prod", .doc = "Product over the given axes (1 when empty)."},
    {.name = "reduce_any", .inputs = "input_tensor", .attrs = RED_ATTRS, .kernel[TL_CPU] = reduce_any_fwd, .flags = TL_OP_NO_GRADIENT,
     .api = "tf.reduce_any tf.math.reduce_any", .doc = "Logical or of a bool tensor over the given axes."},
    {.name = "reduce_all", .inputs = "input_tensor", .attrs = RED_ATTRS, .kernel[TL_CPU] = reduce_all_fwd, .flags = TL_OP_NO_GRADIENT,
     .api = "tf.reduce_all tf.math.reduce_all", .doc = "Logical and of a bool tensor over the given axes."},
    {.name = "reduce_logsumexp", .inputs = "input_tensor", .attrs = RED_ATTRS, .kernel[TL_CPU] = reduce_logsumexp_fwd, .grad = reduce_logsumexp_grad,
     .api = "tf.reduce_logsumexp tf.math.reduce_logsumexp",
     .doc = "log(sum(exp(x))) over the given axes, computed stably."},
    {.name = "reduce_variance", .inputs = "input_tensor", .attrs = RED_ATTRS, .kernel[TL_CPU] = reduce_variance_fwd, .grad = reduce_variance_grad,
     .api = "tf.math.reduce_variance", .doc = "Population variance over the given axes."},
    {.name = "reduce_std", .inputs = "input_tensor", .attrs = RED_ATTRS, .kernel[TL_CPU] = reduce_std_fwd, .grad = reduce_std_grad,
     .api = "tf.math.reduce_std", .doc = "Population standard deviation over the given axes."},
    {.name = "count_nonzero", .inputs = "input", .attrs = RED_ATTRS ", dtype:dtype=int64",
     .kernel[TL_CPU] = count_nonzero_fwd, .flags = TL_OP_NO_GRADIENT, .api = "tf.math.count_nonzero",
     .doc = "Number of non-zero elements over the given axes."},
    {.name = "argmax", .inputs = "input", .attrs = "axis:int=0, output_type:dtype=int64", .kernel[TL_CPU] = argmax_fwd, .flags = TL_OP_NO_GRADIENT,
     .api = "tf.argmax tf.math.argmax", .doc = "Index of the largest value along axis (first on ties)."},
    {.name = "argmin", .inputs = "input", .attrs = "axis:int=0, output_type:dtype=int64", .kernel[TL_CPU] = argmin_fwd, .flags = TL_OP_NO_GRADIENT,
     .api = "tf.argmin tf.math.argmin", .doc = "Index of the smallest value along axis (first on ties)."},
    {.name = "cumsum", .inputs = "x", .attrs = "axis:int=0, exclusive:bool=false, reverse:bool=false",
     .kernel[TL_CPU] = cumsum_fwd, .grad = cumsum_grad, .api = "tf.cumsum tf.math.cumsum", .doc = "Cumulative sum along axis."},
    {.name = "cumprod", .inputs = "x", .attrs = "axis:int=0, exclusive:bool=false, reverse:bool=false",
     .kernel[TL_CPU] = cumprod_fwd, .grad = cumprod_grad, .api = "tf.math.cumprod", .doc = "Cumulative product along axis."},
    {.name = "moments", .inputs = "x", .attrs = "axes:ints, keepdims:bool=false", .kernel[TL_CPU] = moments_fwd, .grad = moments_grad,
     .api = "tf.nn.moments", .doc = "Mean and variance of x over axes (two results)."},
    {0},
};
