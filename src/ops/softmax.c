/* ops/softmax.c — the softmax family: softmax, log_softmax and the two
 * softmax cross entropies (sparse integer labels and probability labels),
 * the fused backward of the sparse one, their shape and gradient rules.
 *
 * They work on the same [A, R, B] view as the reductions (R is the softmax
 * axis): B == 1 (the usual last axis) runs over contiguous rows with the
 * vectorised exp of vmath.h; B > 1 streams rows and keeps a vector of
 * running maxima and sums, so no axis is ever read with a stride. Rows are
 * spread over the thread pool. float32 uses vmath's exp/log (2 ulp);
 * float64 uses libm; float16/bfloat16 reach the kernels as float32
 * (TL_OP_HALF_VIA_F32). Losses follow TensorFlow's stable formulas:
 * log-softmax through the row's max. Kernels fill the outputs the
 * dispatcher allocated from the shape rule; a worker that cannot get its
 * scratch fails the op instead of leaving rows unwritten.
 */
/* O3: the vectoriser's dynamic cost model for unknown trip counts.
 * no-trapping-math: lets selects in vmath's exp/log if-convert; results are
 * unchanged (tlua never unmasks floating-point exceptions). */
#pragma GCC optimize("O3", "no-trapping-math")
#include "ops/nn.h"
#include "ops/reduce.h"
#include "autodiff/grad_temps.h"
#include "ops/vmath.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASK_GRAIN ((int64_t)1 << 14)
#define W TL_NN_LANES

static tl_status push(tl_meta_list *out, tl_dtype dt, int rank, const int64_t *shape) {
  return tl_meta_push(out, dt, rank, shape) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* ---- float32 row kernels -------------------------------------------------- */

/* acc[b] = max(acc[b], row[b]) with NaN sticking; two selects vectorise. */
TL_HOT static void max_into_f32(float *acc, const float *row, int64_t n) {
  for (int64_t b = 0; b < n; b++) {
    float v = row[b], a = acc[b];
    a = v > a ? v : a;
    acc[b] = v != v ? v : a;
  }
}

static float max_row_f32(const float *x, int64_t n) {
  float acc[256];
  int64_t w = n < 256 ? n : 256, i = w;
  memcpy(acc, x, sizeof(float) * (size_t)w);
  for (; i + 256 <= n; i += 256) max_into_f32(acc, x + i, 256);
  if (i < n) max_into_f32(acc, x + i, n - i);
  float r = acc[0];
  for (int64_t j = 1; j < w; j++) {
    r = acc[j] > r ? acc[j] : r;
    r = acc[j] != acc[j] ? acc[j] : r;
  }
  return r;
}

TL_HOT static void exp_row_f32(float *o, const float *x, int64_t n, float m) {
  for (int64_t i = 0; i < n; i++) o[i] = tl_vexpf(x[i] - m);
}

TL_HOT static float sum_row_f32(const float *x, int64_t n) {
  float acc[W] = {0};
  int64_t i = 0;
  for (; i + W <= n; i += W)
    for (int j = 0; j < W; j++) acc[j] += x[i + j];
  for (int j = 0; i < n; i++, j++) acc[j] += x[i];
  for (int w = W / 2; w > 0; w /= 2)
    for (int j = 0; j < w; j++) acc[j] += acc[j + w];
  return acc[0];
}

/* o[i] = exp(x[i] - m) (when o), returns the sum of them. Two simple loops
 * per block: the exp loop vectorises on its own, the sum keeps W lanes. */
static float exp_sum_row_f32(float *o, const float *x, int64_t n, float m) {
  float buf[1024];
  float s = 0;
  for (int64_t i0 = 0; i0 < n; i0 += 1024) {
    int64_t k = n - i0 < 1024 ? n - i0 : 1024;
    float *dst = o ? o + i0 : buf;
    exp_row_f32(dst, x + i0, k, m);
    s += sum_row_f32(dst, k);
  }
  return s;
}

TL_HOT static void scale_row_f32(float *o, int64_t n, float s) {
  for (int64_t i = 0; i < n; i++) o[i] *= s;
}

/* (x - m) - ls: subtracting m first keeps precision for x near m. */
TL_HOT static void shift_row_f32(float *o, const float *x, int64_t n, float m, float ls) {
  for (int64_t i = 0; i < n; i++) o[i] = (x[i] - m) - ls;
}

/* Streams [R, B]: m[b] = max_r, s[b] = sum_r exp(x - m[b]) (also stored in
 * o when given). */
TL_HOT static void colstats_f32(float *o, const float *x, int64_t R, int64_t B, float *m, float *s) {
  memcpy(m, x, sizeof(float) * (size_t)B);
  for (int64_t r = 1; r < R; r++) {
    const float *row = x + r * B;
    max_into_f32(m, row, B);
  }
  for (int64_t b = 0; b < B; b++) s[b] = 0;
  for (int64_t r = 0; r < R; r++) {
    const float *row = x + r * B;
    float *orow = o ? o + r * B : NULL;
    for (int64_t b = 0; b < B; b++) {
      float e = tl_vexpf(row[b] - m[b]);
      if (orow) orow[b] = e;
      s[b] += e;
    }
  }
}

/* ---- short rows ------------------------------------------------------------ */
/* Rows shorter than SHORT_C (the logits of a classifier: [256, 10]) go
 * through blocks of whole rows instead of one call chain per row: per row
 * only the max and the sum (scalar loops over a few elements), and the exp
 * of the whole block in one flat loop that vectorises across rows. The
 * per-row path spent ~60 ns a row in calls and 256-lane setup for ten
 * exps. Same formulas as the row path: exp(x - m), 1/s scaling,
 * (x - m) - log(s), sums in row order (the row path's for C < 64). */
#define SHORT_C 64
#define SHORT_BLOCK 2048 /* elements per block (at least one row) */

/* max and a bit blend, not ||: a branch on random logits mispredicts (it
 * was a third of the block's time). */
static inline float max_short_f32(const float *x, int64_t C) {
  float m = x[0];
  for (int64_t c = 1; c < C; c++) {
    float v = x[c];
    m = tl_vm_sel(v != v, v, v > m ? v : m);
  }
  return m;
}

/* d = x - rowmax for k rows of C; the maxima go to m (when given). */
static inline void shift_short_f32(float *d, const float *x, int64_t k, int64_t C, float *m) {
  for (int64_t r = 0; r < k; r++) {
    float mr = max_short_f32(x + r * C, C);
    if (m) m[r] = mr;
    for (int64_t c = 0; c < C; c++) d[r * C + c] = x[r * C + c] - mr;
  }
}

static inline void exp_flat_f32(float *o, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = tl_vexpf(x[i]);
}

/* softmax or log_softmax of nr contiguous rows of C < SHORT_C. */
TL_HOT static void softmax_short_f32(float *o, const float *x, int64_t nr, int64_t C, bool log) {
  float buf[SHORT_BLOCK];
  int64_t rb = SHORT_BLOCK / C;
  for (int64_t r0 = 0; r0 < nr; r0 += rb) {
    int64_t k = nr - r0 < rb ? nr - r0 : rb;
    const float *xb = x + r0 * C;
    float *ob = o + r0 * C;
    /* softmax: shifted values in buf, exps in o; log: the other way */
    float *d = log ? ob : buf, *e = log ? buf : ob;
    shift_short_f32(d, xb, k, C, NULL);
    exp_flat_f32(e, d, k * C);
    for (int64_t r = 0; r < k; r++) {
      float s = 0;
      for (int64_t c = 0; c < C; c++) s += e[r * C + c];
      if (log) {
        float ls = tl_vlogf(s);
        for (int64_t c = 0; c < C; c++) ob[r * C + c] = d[r * C + c] - ls;
      } else {
        float inv = 1.0f / s;
        for (int64_t c = 0; c < C; c++) ob[r * C + c] *= inv;
      }
    }
  }
}

/* lse[r] = log(sum(exp(x[r]))) for k <= SHORT_BLOCK / C rows, as
 * lse_strided: m + log(s) with m the row's max. */
TL_HOT static void lse_short_f32(double *lse, const float *x, int64_t k, int64_t C) {
  float buf[SHORT_BLOCK], m[SHORT_BLOCK], s[SHORT_BLOCK];
  shift_short_f32(buf, x, k, C, m);
  exp_flat_f32(buf, buf, k * C);
  for (int64_t r = 0; r < k; r++) {
    float sr = 0;
    for (int64_t c = 0; c < C; c++) sr += buf[r * C + c];
    s[r] = sr;
  }
  for (int64_t r = 0; r < k; r++) s[r] = tl_vlogf(s[r]);
  for (int64_t r = 0; r < k; r++) lse[r] = (double)m[r] + (double)s[r];
}

/* xgrad_row_f32 for k <= SHORT_BLOCK / C rows: (softmax - onehot(lab)) g. */
TL_HOT static void xgrad_short_f32(float *o, const float *x, int64_t k, int64_t C, const int64_t *lab,
                                const float *g) {
  shift_short_f32(o, x, k, C, NULL);
  exp_flat_f32(o, o, k * C);
  for (int64_t r = 0; r < k; r++) {
    float s = 0;
    for (int64_t c = 0; c < C; c++) s += o[r * C + c];
    float sc = g[r] / s;
    for (int64_t c = 0; c < C; c++) o[r * C + c] *= sc;
    o[r * C + lab[r]] -= g[r];
  }
}

/* ---- softmax / log_softmax ------------------------------------------------ */

typedef struct sm_job {
  tl_dtype dt;
  const void *x;
  void *o;
  int64_t R, B;
  bool log;
  int failed; /* a worker could not get its scratch: the op fails */
} sm_job;

static void softmax_f32(const sm_job *j, int64_t a, float *tmp) {
  const float *x = (const float *)j->x + a * j->R * j->B;
  float *o = (float *)j->o + a * j->R * j->B;
  int64_t R = j->R, B = j->B;
  if (B == 1) {
    float m = max_row_f32(x, R);
    if (j->log) {
      float s = exp_sum_row_f32(NULL, x, R, m);
      shift_row_f32(o, x, R, m, tl_vlogf(s));
    } else {
      float s = exp_sum_row_f32(o, x, R, m);
      scale_row_f32(o, R, 1.0f / s);
    }
    return;
  }
  float *m = tmp, *s = tmp + B;
  colstats_f32(j->log ? NULL : o, x, R, B, m, s);
  if (j->log) {
    for (int64_t b = 0; b < B; b++) s[b] = tl_vlogf(s[b]);
    for (int64_t r = 0; r < R; r++)
      for (int64_t b = 0; b < B; b++) o[r * B + b] = (x[r * B + b] - m[b]) - s[b];
  } else {
    for (int64_t b = 0; b < B; b++) s[b] = 1.0f / s[b];
    for (int64_t r = 0; r < R; r++)
      for (int64_t b = 0; b < B; b++) o[r * B + b] *= s[b];
  }
}

static void softmax_f64(const sm_job *j, int64_t a) {
  const double *x = (const double *)j->x + a * j->R * j->B;
  double *o = (double *)j->o + a * j->R * j->B;
  int64_t R = j->R, B = j->B;
  for (int64_t b = 0; b < B; b++) {
    double m = x[b];
    for (int64_t r = 1; r < R; r++) {
      double v = x[r * B + b];
      m = (v > m || v != v) ? v : m;
    }
    double s = 0;
    for (int64_t r = 0; r < R; r++) {
      double e = exp(x[r * B + b] - m);
      if (!j->log) o[r * B + b] = e;
      s += e;
    }
    if (j->log) {
      double ls = log(s);
      for (int64_t r = 0; r < R; r++) o[r * B + b] = (x[r * B + b] - m) - ls;
    } else {
      for (int64_t r = 0; r < R; r++) o[r * B + b] /= s;
    }
  }
}


static void softmax_task(int64_t begin, int64_t end, void *ctx) {
  sm_job *j = ctx;
  if (j->dt == TL_FLOAT32 && j->B == 1 && j->R < SHORT_C) {
    softmax_short_f32((float *)j->o + begin * j->R, (const float *)j->x + begin * j->R, end - begin, j->R, j->log);
    return;
  }
  float *tmp = NULL;
  size_t bytes = sizeof(float) * 2 * (size_t)j->B;
  if (j->dt == TL_FLOAT32 && j->B > 1 && !(tmp = tl_alloc(bytes))) {
    __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  for (int64_t a = begin; a < end; a++) {
    if (j->dt == TL_FLOAT32) softmax_f32(j, a, tmp);
    else softmax_f64(j, a);
  }
  if (tmp) tl_free(tmp, bytes);
}

static tl_status softmax_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *x = in[0];
  tl_status s = tl_nn_need_float(x->dtype, "logits");
  int ax;
  if (!s && x->rank >= 0) s = tl_normalize_axis(NULL, attr[0].i, x->rank, &ax);
  if (s) return s;
  return tl_meta_push_like(out, x, TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* softmax and log_softmax (op->impl says which). */
static tl_status softmax_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  tl_tensor *x = in[0], *o = out->items[0], *c;
  int ax;
  tl_status s = tl_normalize_axis(NULL, attr[0].i, x->rank, &ax);
  if (s || x->size == 0) return s;
  if ((s = tl_tensor_contiguous(x, &c))) return s;
  sm_job j = {x->dtype, tl_tensor_data(c), tl_tensor_data(o), 0, 0, *(const bool *)op->impl, 0};
  int64_t A;
  tl_reduce_split(x, ax, &A, &j.R, &j.B);
  int64_t per = j.R * j.B;
  tl_parallel_for(A, per >= TASK_GRAIN ? 1 : TASK_GRAIN / per, softmax_task, &j);
  tl_tensor_release(c);
  if (j.failed) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory for softmax scratch");
  return TL_OK;
}

/* ---- cross entropies ------------------------------------------------------ */
/* ---- cross entropies ------------------------------------------------------ */

/* log(sum(exp(x))) of a row with stride st, in double. */
static double lse_strided(const void *xv, tl_dtype dt, int64_t n, int64_t st) {
  if (dt == TL_FLOAT32 && st == 1) {
    const float *x = xv;
    float m = max_row_f32(x, n);
    return (double)m + log((double)exp_sum_row_f32(NULL, x, n, m));
  }
  double m = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    double v = tl_load_f64(xv, dt, i * st);
    m = (v > m || v != v) ? v : m;
  }
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += exp(tl_load_f64(xv, dt, i * st) - m);
  return m + log(s);
}

typedef struct xent_job {
  tl_dtype dt;
  const char *logits, *labels; /* contiguous [A, R, B] (labels: same shape, or [A*B] ints) */
  char *out;                   /* [A*B] */
  int64_t R, B;
  bool sparse;
  tl_dtype label_dt;
} xent_job;

/* xent_task for float32 rows of R < SHORT_C along the last axis. */
static void xent_short_f32(const xent_job *j, int64_t begin, int64_t end) {
  double lse[SHORT_BLOCK];
  int64_t C = j->R, rb = SHORT_BLOCK / C;
  const float *x = (const float *)j->logits;
  float *out = (float *)j->out;
  for (int64_t r0 = begin; r0 < end; r0 += rb) {
    int64_t k = end - r0 < rb ? end - r0 : rb;
    lse_short_f32(lse, x + r0 * C, k, C);
    for (int64_t r = 0; r < k; r++) {
      const float *xr = x + (r0 + r) * C;
      double loss;
      if (j->sparse) {
        loss = lse[r] - (double)xr[tl_load_i64(j->labels, j->label_dt, r0 + r)];
      } else {
        const float *z = (const float *)j->labels + (r0 + r) * C;
        loss = 0;
        for (int64_t c = 0; c < C; c++)
          if (z[c] != 0) loss += (double)z[c] * (lse[r] - (double)xr[c]);
      }
      out[r0 + r] = (float)loss;
    }
  }
}

static void xent_task(int64_t begin, int64_t end, void *ctx) {
  const xent_job *j = ctx;
  if (j->dt == TL_FLOAT32 && j->B == 1 && j->R < SHORT_C) {
    xent_short_f32(j, begin, end);
    return;
  }
  size_t es = tl_dtypes[j->dt].size;
  for (int64_t ab = begin; ab < end; ab++) {
    int64_t a = ab / j->B, b = ab % j->B;
    int64_t base = a * j->R * j->B + b;
    const char *x = j->logits + (size_t)base * es;
    double lse = lse_strided(x, j->dt, j->R, j->B);
    double loss;
    if (j->sparse) {
      int64_t k = tl_load_i64(j->labels, j->label_dt, ab);
      loss = lse - tl_load_f64(x, j->dt, k * j->B);
    } else {
      const char *z = j->labels + (size_t)base * es;
      loss = 0;
      for (int64_t r = 0; r < j->R; r++) {
        double zv = tl_load_f64(z, j->dt, r * j->B);
        if (zv != 0) loss += zv * (lse - tl_load_f64(x, j->dt, r * j->B));
      }
    }
    tl_store_f64(j->out, j->dt, ab, loss);
  }
}


/* The checks of integer labels [...] against logits [..., C] that need no
 * data; the output (or the rows of the fused backward) has the labels'
 * shape, unknown dimensions taken from either side. */
static tl_status sparse_labels_meta(const tl_meta *labels, const tl_meta *logits, tl_meta *rows) {
  if (labels->dtype != TL_INT32 && labels->dtype != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "labels must be int32 or int64, got %s", tl_dtypes[labels->dtype].name);
  if (logits->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "logits must have rank at least 1 (a class dimension)");
  *rows = *labels;
  if (logits->rank < 0) return TL_OK;
  bool ok = labels->rank < 0 || labels->rank == logits->rank - 1;
  rows->rank = logits->rank - 1;
  for (int i = 0; ok && i < rows->rank; i++) {
    int64_t a = labels->rank < 0 ? -1 : labels->shape[i], b = logits->shape[i];
    ok = a < 0 || b < 0 || a == b;
    rows->shape[i] = a >= 0 ? a : b;
  }
  if (!ok) {
    char a[200], b[200];
    return tl_error(TL_INVALID_ARGUMENT, "labels shape %s must equal the logits shape %s without its last dimension",
                    tl_shape_format(labels->rank, labels->shape, a, sizeof a),
                    tl_shape_format(logits->rank, logits->shape, b, sizeof b));
  }
  return TL_OK;
}

/* The labels contiguous (one reference), each checked to be a class of C:
 * the one check that reads values, so it runs in the kernel. */
static tl_status sparse_labels(tl_tensor *labels, int64_t C, tl_tensor **lab) {
  tl_status s = tl_tensor_contiguous(labels, lab);
  if (s) return s;
  for (int64_t i = 0; i < (*lab)->size; i++) {
    int64_t k = tl_load_i64(tl_tensor_data(*lab), (*lab)->dtype, i);
    if (k < 0 || k >= C) {
      tl_tensor_release(*lab);
      *lab = NULL;
      return tl_error(TL_INVALID_ARGUMENT,
                      "received a label value of %" PRId64 " (at position %" PRId64
                      ") which is outside the valid range of [0, %" PRId64 ")",
                      k, i, C);
    }
  }
  return TL_OK;
}

static tl_status sparse_xent_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_meta rows;
  tl_status s = tl_nn_need_float(in[1]->dtype, "logits");
  if (s || (s = sparse_labels_meta(in[0], in[1], &rows))) return s;
  return push(out, in[1]->dtype, rows.rank, rows.shape);
}

static tl_status sparse_xent_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *labels = in[0], *logits = in[1], *o = out->items[0], *lab, *lg;
  int64_t C = logits->shape[logits->rank - 1];
  tl_status s = sparse_labels(labels, C, &lab);
  if (s) return s;
  if (!(s = tl_tensor_contiguous(logits, &lg))) {
    xent_job j = {logits->dtype, tl_tensor_data(lg), tl_tensor_data(lab), tl_tensor_data(o), C, 1, true,
                  labels->dtype};
    tl_parallel_for(o->size, C >= TASK_GRAIN ? 1 : TASK_GRAIN / (C ? C : 1), xent_task, &j);
    tl_tensor_release(lg);
  }
  tl_tensor_release(lab);
  return s;
}

/* The backward of sparse cross entropy in one pass per row:
 * out = (softmax(logits) - onehot(labels)) g[..., None]. Fused because the
 * composition (softmax, one_hot, subtract, expand_dims, multiply) made five
 * passes and four allocations in every training step (measured in
 * grad_reduce_spec.lua, which also checks it against that composition). */
typedef struct xgrad_job {
  tl_dtype dt;
  const char *logits, *labels, *g;
  char *out;
  int64_t C;
  tl_dtype label_dt;
} xgrad_job;

TL_HOT static void xgrad_row_f32(float *o, const float *x, int64_t C, int64_t k, float g) {
  float m = x[0];
  for (int64_t c = 1; c < C; c++) m = (x[c] > m || x[c] != x[c]) ? x[c] : m;
  for (int64_t c = 0; c < C; c++) o[c] = tl_vexpf(x[c] - m);
  float s = C >= 4 * W ? sum_row_f32(o, C) : 0;
  if (C < 4 * W)
    for (int64_t c = 0; c < C; c++) s += o[c];
  float sc = g / s;
  for (int64_t c = 0; c < C; c++) o[c] *= sc;
  o[k] -= g;
}

static void xgrad_row_f64(double *o, const double *x, int64_t C, int64_t k, double g) {
  double m = x[0];
  for (int64_t c = 1; c < C; c++) m = (x[c] > m || x[c] != x[c]) ? x[c] : m;
  double s = 0;
  for (int64_t c = 0; c < C; c++) s += o[c] = exp(x[c] - m);
  double sc = g / s;
  for (int64_t c = 0; c < C; c++) o[c] *= sc;
  o[k] -= g;
}

static void xgrad_task(int64_t begin, int64_t end, void *ctx) {
  const xgrad_job *j = ctx;
  if (j->dt == TL_FLOAT32 && j->C < SHORT_C) {
    int64_t lab[SHORT_BLOCK], rb = SHORT_BLOCK / j->C;
    for (int64_t r0 = begin; r0 < end; r0 += rb) {
      int64_t k = end - r0 < rb ? end - r0 : rb;
      for (int64_t r = 0; r < k; r++) lab[r] = tl_load_i64(j->labels, j->label_dt, r0 + r);
      xgrad_short_f32((float *)j->out + r0 * j->C, (const float *)j->logits + r0 * j->C, k, j->C, lab,
                      (const float *)j->g + r0);
    }
    return;
  }
  for (int64_t r = begin; r < end; r++) {
    int64_t k = tl_load_i64(j->labels, j->label_dt, r);
    if (j->dt == TL_FLOAT32)
      xgrad_row_f32((float *)j->out + r * j->C, (const float *)j->logits + r * j->C, j->C, k,
                    ((const float *)j->g)[r]);
    else
      xgrad_row_f64((double *)j->out + r * j->C, (const double *)j->logits + r * j->C, j->C, k,
                    ((const double *)j->g)[r]);
  }
}


static tl_status sparse_xent_grad_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  const tl_meta *labels = in[0], *logits = in[1], *g = in[2];
  tl_meta rows;
  tl_status s = tl_nn_need_float(logits->dtype, "logits");
  if (s) return s;
  if (g->dtype != logits->dtype || !tl_meta_compatible(g, labels)) {
    char a[200], b[200];
    return tl_error(TL_INVALID_ARGUMENT, "grad %s must have the labels' shape and the logits' dtype (%s)",
                    tl_meta_describe(g, a, sizeof a), tl_meta_describe(logits, b, sizeof b));
  }
  if ((s = sparse_labels_meta(labels, logits, &rows))) return s;
  return tl_meta_push_like(out, logits, TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status sparse_xent_grad_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *labels = in[0], *logits = in[1], *g = in[2], *o = out->items[0];
  tl_tensor *lab, *lg = NULL, *gc = NULL;
  int64_t C = logits->shape[logits->rank - 1];
  tl_status s = sparse_labels(labels, C, &lab);
  if (s) return s;
  if (!(s = tl_tensor_contiguous(logits, &lg)) && !(s = tl_tensor_contiguous(g, &gc))) {
    xgrad_job j = {logits->dtype, tl_tensor_data(lg), tl_tensor_data(lab), tl_tensor_data(gc), tl_tensor_data(o), C,
                   labels->dtype};
    if (C > 0) tl_parallel_for(lab->size, C >= TASK_GRAIN ? 1 : TASK_GRAIN / C, xgrad_task, &j);
  }
  tl_tensor_release(lab);
  if (lg) tl_tensor_release(lg);
  if (gc) tl_tensor_release(gc);
  return s;
}

/* Probability labels broadcast to the logits' shape; the loss drops the
 * class axis. */
static tl_status xent_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *labels = in[0], *logits = in[1];
  tl_status s = tl_nn_need_float(logits->dtype, "logits");
  if (s || logits->rank < 0) return s ? s : push(out, logits->dtype, -1, NULL);
  int ax;
  if ((s = tl_normalize_axis(NULL, attr[0].i, logits->rank, &ax))) return s;
  tl_meta b;
  /* broadcasting may not grow the logits' shape */
  if (tl_meta_broadcast(labels, logits, &b) || !tl_meta_compatible(&b, logits)) {
    char a[200], c[200];
    return tl_error(TL_INVALID_ARGUMENT, "labels shape %s is not compatible with the logits shape %s",
                    tl_shape_format(labels->rank, labels->shape, a, sizeof a),
                    tl_shape_format(logits->rank, logits->shape, c, sizeof c));
  }
  tl_meta *m = tl_meta_push(out, logits->dtype, 0, NULL);
  if (!m) return TL_RESOURCE_EXHAUSTED;
  for (int i = 0; i < logits->rank; i++)
    if (i != ax) m->shape[m->rank++] = logits->shape[i];
  return TL_OK;
}

static tl_status xent_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *labels = in[0], *logits = in[1], *o = out->items[0], *bv, *lab, *lg;
  int ax;
  tl_status s = tl_normalize_axis(NULL, attr[0].i, logits->rank, &ax);
  if (s || (s = tl_tensor_broadcast_view(labels, logits->rank, logits->shape, &bv))) return s;
  s = tl_tensor_contiguous(bv, &lab);
  tl_tensor_release(bv);
  if (s) return s;
  if (!(s = tl_tensor_contiguous(logits, &lg))) {
    xent_job j = {logits->dtype, tl_tensor_data(lg), tl_tensor_data(lab), tl_tensor_data(o), 0, 0, false,
                  TL_DTYPE_COUNT};
    int64_t A;
    tl_reduce_split(logits, ax, &A, &j.R, &j.B);
    if (j.R == 0) memset(tl_tensor_data(o), 0, (size_t)o->size * tl_dtypes[o->dtype].size);
    else tl_parallel_for(o->size, j.R >= TASK_GRAIN ? 1 : TASK_GRAIN / j.R, xent_task, &j);
    tl_tensor_release(lg);
  }
  tl_tensor_release(lab);
  return s;
}

/* ---- gradients ------------------------------------------------------------ */
/* Written with ordinary ops (tl_call), so an outer tape records them and
 * gradients of gradients work. */

/* Sum over one axis, kept as size 1. */
static tl_tensor *sum_keep(tl_temps *T, tl_tensor *a, int64_t axis) {
  return tl_temps_op1(T, "reduce_sum", a, 2, (tl_named_attr[]){TL_A_INT("axis", axis), TL_A_BOOL("keepdims", true)});
}

static tl_tensor *expand(tl_temps *T, tl_tensor *g, int64_t axis) {
  return tl_temps_op1(T, "expand_dims", g, 1, (tl_named_attr[]){TL_A_INT("axis", axis)});
}

/* dx = (g - sum(g y)) y */
static tl_status softmax_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_temps T = {0};
  tl_tensor *y = out[0], *g = grad_out[0];
  tl_tensor *d = tl_temps_op2(&T, "subtract", g, sum_keep(&T, tl_temps_op2(&T, "multiply", g, y), attr[0].i));
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", d, y), &grad_in[0], true);
}

/* dx = g - softmax sum(g) = g - exp(y) sum(g) */
static tl_status log_softmax_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_temps T = {0};
  tl_tensor *g = grad_out[0];
  tl_tensor *p = tl_temps_un(&T, "exp", out[0]);
  return tl_temps_give(&T, tl_temps_op2(&T, "subtract", g, tl_temps_op2(&T, "multiply", p, sum_keep(&T, g, attr[0].i))),
                       &grad_in[0], true);
}

/* TF's backprop: (softmax(logits) - onehot(labels)) g, by the fused op;
 * labels are integers. */
static tl_status sparse_xent_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *args[3] = {in[0], in[1], grad_out[0]};
  return tl_call("sparse_softmax_cross_entropy_grad", 3, args, 0, NULL, &grad_in[1]);
}

/* Of d = (p - onehot) g_col, p = softmax(x), with gg = d's gradient:
 *   d/dx = g_col (gg - sum(gg p)) p   (softmax's rule, scaled)
 *   d/dg = sum(gg (p - onehot))       over the class axis */
static tl_status sparse_xent_grad_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *labels = in[0], *logits = in[1], *gg = grad_out[0];
  tl_temps T = {0};
  tl_tensor *p = tl_temps_un(&T, "softmax", logits);
  tl_tensor *u = tl_temps_op2(&T, "subtract", gg, sum_keep(&T, tl_temps_op2(&T, "multiply", gg, p), -1));
  tl_tensor *dl = tl_temps_op2(&T, "multiply", tl_temps_op2(&T, "multiply", u, p), expand(&T, in[2], -1));
  tl_status s = tl_temps_give(&T, dl, &grad_in[1], false);
  if (s) return s;
  tl_tensor *oh = tl_temps_op1(&T, "one_hot", labels, 2,
                               (tl_named_attr[]){TL_A_INT("depth", logits->shape[logits->rank - 1]),
                                                 TL_A_DTYPE("dtype", logits->dtype)});
  tl_tensor *q = tl_temps_op2(&T, "multiply", gg, tl_temps_op2(&T, "subtract", p, oh));
  return tl_temps_give(&T, tl_temps_op1(&T, "reduce_sum", q, 1, (tl_named_attr[]){TL_A_INT("axis", -1)}), &grad_in[2],
                       true);
}

/* loss = sum(z) lse(x) - sum(z x) along axis:
 *   d/dx = (softmax(x) sum(z) - z) g   (TF's softmax - z when z sums to 1)
 *   d/dz = -log_softmax(x) g           (TF's) */
static tl_status xent_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *labels = in[0], *logits = in[1];
  int64_t ax = attr[0].i < 0 ? attr[0].i + logits->rank : attr[0].i;
  tl_temps T = {0};
  tl_tensor *z = labels;
  if (!tl_tensor_same_shape(labels, logits))
    z = tl_temps_op1(&T, "broadcast_to", labels, 1, (tl_named_attr[]){TL_A_INTS("shape", logits->rank, logits->shape)});
  tl_tensor *g = expand(&T, grad_out[0], ax);
  tl_tensor *p = tl_temps_op1(&T, "softmax", logits, 1, (tl_named_attr[]){TL_A_INT("axis", ax)});
  tl_tensor *d = tl_temps_op2(&T, "subtract", tl_temps_op2(&T, "multiply", p, sum_keep(&T, z, ax)), z);
  tl_status s = tl_temps_give(&T, tl_temps_op2(&T, "multiply", d, g), &grad_in[1], false);
  if (s) return s;
  tl_tensor *ls = tl_temps_op1(&T, "log_softmax", logits, 1, (tl_named_attr[]){TL_A_INT("axis", ax)});
  return tl_temps_give(&T, tl_temps_un(&T, "negative", tl_temps_op2(&T, "multiply", ls, g)), &grad_in[0], true);
}

/* ---- the table ------------------------------------------------------------ */

static const bool is_log = true, not_log = false;

tl_op_def tl_ops_softmax[] = {
    {.name = "softmax", .inputs = "logits", .attrs = "axis:int=-1", .infer = softmax_infer,
     .kernel[TL_CPU] = softmax_kernel, .grad = softmax_grad, .flags = TL_OP_HALF_VIA_F32, .impl = &not_log,
     .api = "tf.nn.softmax tf.math.softmax", .doc = "exp(x) / sum(exp(x)) along axis, computed stably."},
    {.name = "log_softmax", .inputs = "logits", .attrs = "axis:int=-1", .infer = softmax_infer,
     .kernel[TL_CPU] = softmax_kernel, .grad = log_softmax_grad, .flags = TL_OP_HALF_VIA_F32, .impl = &is_log,
     .api = "tf.nn.log_softmax tf.math.log_softmax", .doc = "x - log(sum(exp(x))) along axis, computed stably."},
    {.name = "sparse_softmax_cross_entropy_with_logits", .inputs = "labels, logits", .infer = sparse_xent_infer,
     .kernel[TL_CPU] = sparse_xent_kernel, .grad = sparse_xent_grad, .flags = TL_OP_HALF_VIA_F32,
     .api = "tf.nn.sparse_softmax_cross_entropy_with_logits",
     .doc = "Per-example cross entropy of integer class labels [...] and logits [..., C]."},
    {.name = "sparse_softmax_cross_entropy_grad", .inputs = "labels, logits, grad", .infer = sparse_xent_grad_infer,
     .kernel[TL_CPU] = sparse_xent_grad_kernel, .grad = sparse_xent_grad_grad, .flags = TL_OP_HALF_VIA_F32, .api = "-",
     .doc = "(softmax(logits) - one_hot(labels)) * grad[..., None]: the backward of sparse cross entropy, fused."},
    {.name = "softmax_cross_entropy_with_logits", .inputs = "labels, logits", .attrs = "axis:int=-1",
     .infer = xent_infer, .kernel[TL_CPU] = xent_kernel, .grad = xent_grad,
     .flags = TL_OP_SAME_DTYPE | TL_OP_HALF_VIA_F32, .api = "tf.nn.softmax_cross_entropy_with_logits",
     .doc = "Per-example cross entropy of probability labels and logits along axis."},
    {0},
};
