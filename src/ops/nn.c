/* ops/nn.c — neural-network ops: softmax, log_softmax, cross entropies,
 * l2_loss, dropout, bias_add.
 *
 * The softmax family works on the same [A, R, B] view as the reductions
 * (R is the softmax axis): B == 1 (the usual last axis) runs over contiguous
 * rows with the vectorised exp of vmath.h; B > 1 streams rows and keeps a
 * vector of running maxima and sums, so no axis is ever read with a stride.
 * Rows are spread over the thread pool. float32 uses vmath's exp/log (2 ulp);
 * float64 uses libm; float16/bfloat16 are computed in float32.
 *
 * Losses follow TensorFlow's stable formulas: log-softmax through the
 * row's max, and max(x,0) - x*z + log1p(exp(-|x|)) for sigmoid. Dropout
 * draws from a Philox stream reserved per call (tl_random_stream), split
 * into fixed blocks so threads fill it in parallel and the result does not
 * depend on the thread count.
 */
/* O3: the vectoriser's dynamic cost model for unknown trip counts.
 * no-trapping-math: lets selects in vmath's exp/log if-convert; results are
 * unchanged (tlua never unmasks floating-point exceptions). */
#pragma GCC optimize("O3", "no-trapping-math")
#include "tl.h"
#include "autodiff/grad_temps.h"
#if __has_include("vmath.h")
#include "vmath.h"
#else /* scalar fallbacks until vmath.h (the element-wise issue) lands */
#include <math.h>
static inline float tl_vexpf(float x) { return expf(x); }
static inline float tl_vlogf(float x) { return logf(x); }
static inline float tl_vlog1pf(float x) { return log1pf(x); }
#endif

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

#define TASK_GRAIN ((int64_t)1 << 14)
#define W 16 /* accumulators in row loops */

static bool is_half(tl_dtype d) { return d == TL_FLOAT16 || d == TL_BFLOAT16; }

static tl_status need_float(tl_dtype d, const char *what) {
  if (d == TL_FLOAT32 || d == TL_FLOAT64) return TL_OK;
  return tl_error(TL_UNIMPLEMENTED, "dtype %s is not supported (%s must be a float tensor; use tf.cast)",
                  tl_dtypes[d].name, what);
}

/* Runs the op on float32 copies of the half-precision inputs and casts the
 * float32 results back. */
static tl_status via_f32(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                         tl_tensor_list *out) {
  tl_tensor *args[TL_MAX_INPUTS] = {0};
  tl_dtype back = TL_FLOAT32;
  tl_status s = TL_OK;
  for (int i = 0; i < n_in && !s; i++) {
    if (in[i] && is_half(in[i]->dtype)) {
      back = in[i]->dtype;
      s = tl_tensor_cast(in[i], TL_FLOAT32, &args[i]);
    } else {
      args[i] = tl_tensor_retain(in[i]);
    }
  }
  tl_tensor_list tmp;
  tl_list_init(&tmp);
  if (!s) s = op->kernel[TL_CPU](op, args, n_in, attr, &tmp);
  for (int i = 0; i < n_in; i++) tl_tensor_release(args[i]);
  for (int i = 0; i < tmp.n && !s; i++) {
    tl_tensor *c;
    if (tmp.items[i]->dtype == TL_FLOAT32) {
      if ((s = tl_tensor_cast(tmp.items[i], back, &c))) break;
    } else {
      c = tl_tensor_retain(tmp.items[i]);
    }
    s = tl_list_push(out, c);
  }
  tl_list_clear(&tmp);
  return s;
}

/* Axis normalised against rank, with the message the dispatcher prefixes. */
static tl_status norm_axis(int64_t axis, int rank, int *out) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " is out of range for a tensor of rank %d%s", axis, rank,
                    rank ? "" : " (a scalar has no axes)");
  *out = (int)a;
  return TL_OK;
}

static void split_at(const tl_tensor *x, int ax, int64_t *A, int64_t *R, int64_t *B) {
  *A = 1, *B = 1;
  for (int i = 0; i < ax; i++) *A *= x->shape[i];
  for (int i = ax + 1; i < x->rank; i++) *B *= x->shape[i];
  *R = x->shape[ax];
}

/* ---- float32 row kernels -------------------------------------------------- */

/* acc[b] = max(acc[b], row[b]) with NaN sticking; two selects vectorise. */
HOT static void max_into_f32(float *acc, const float *row, int64_t n) {
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

HOT static void exp_row_f32(float *o, const float *x, int64_t n, float m) {
  for (int64_t i = 0; i < n; i++) o[i] = tl_vexpf(x[i] - m);
}

HOT static float sum_row_f32(const float *x, int64_t n) {
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

HOT static void scale_row_f32(float *o, int64_t n, float s) {
  for (int64_t i = 0; i < n; i++) o[i] *= s;
}

/* (x - m) - ls: subtracting m first keeps precision for x near m. */
HOT static void shift_row_f32(float *o, const float *x, int64_t n, float m, float ls) {
  for (int64_t i = 0; i < n; i++) o[i] = (x[i] - m) - ls;
}

/* Streams [R, B]: m[b] = max_r, s[b] = sum_r exp(x - m[b]) (also stored in
 * o when given). */
HOT static void colstats_f32(float *o, const float *x, int64_t R, int64_t B, float *m, float *s) {
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
HOT static void softmax_short_f32(float *o, const float *x, int64_t nr, int64_t C, bool log) {
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
HOT static void lse_short_f32(double *lse, const float *x, int64_t k, int64_t C) {
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
HOT static void xgrad_short_f32(float *o, const float *x, int64_t k, int64_t C, const int64_t *lab,
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
  const sm_job *j = ctx;
  float *tmp = NULL;
  if (j->dt == TL_FLOAT32 && j->B > 1) {
    tmp = malloc(sizeof(float) * 2 * (size_t)j->B);
    if (!tmp) return; /* preflighted by the caller */
  }
  if (j->dt == TL_FLOAT32 && j->B == 1 && j->R < SHORT_C) {
    softmax_short_f32((float *)j->o + begin * j->R, (const float *)j->x + begin * j->R, end - begin, j->R, j->log);
    return;
  }
  for (int64_t a = begin; a < end; a++) {
    if (j->dt == TL_FLOAT32) softmax_f32(j, a, tmp);
    else softmax_f64(j, a);
  }
  free(tmp);
}

static tl_status softmax_common(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                tl_tensor_list *out, bool log) {
  tl_tensor *x = in[0];
  if (is_half(x->dtype)) return via_f32(op, in, n_in, attr, out);
  tl_status s = need_float(x->dtype, "logits");
  if (s) return s;
  int ax = 0;
  if ((s = norm_axis(attr[0].i, x->rank, &ax))) return s;
  tl_tensor *o, *c;
  if ((s = tl_tensor_new(x->dtype, x->rank, x->shape, &o))) return s;
  if (x->size == 0) return tl_list_push(out, o);
  if ((s = tl_tensor_contiguous(x, &c))) {
    tl_tensor_release(o);
    return s;
  }
  sm_job j = {x->dtype, tl_tensor_data(c), tl_tensor_data(o), 0, 0, log};
  int64_t A;
  split_at(x, ax, &A, &j.R, &j.B);
  void *probe = malloc(sizeof(float) * 2 * (size_t)j.B);
  if (!probe) {
    tl_tensor_release(o);
    tl_tensor_release(c);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  free(probe);
  int64_t per = j.R * j.B;
  tl_parallel_for(A, per >= TASK_GRAIN ? 1 : TASK_GRAIN / per, softmax_task, &j);
  tl_tensor_release(c);
  return tl_list_push(out, o);
}

static tl_status softmax_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                             tl_tensor_list *out) {
  return softmax_common(op, in, n_in, attr, out, false);
}
static tl_status log_softmax_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                 tl_tensor_list *out) {
  return softmax_common(op, in, n_in, attr, out, true);
}

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

/* Checks integer labels [...] against logits [..., C] and returns them
 * contiguous (one reference). */
static tl_status sparse_labels(tl_tensor *labels, const tl_tensor *logits, tl_tensor **lab) {
  if (labels->dtype != TL_INT32 && labels->dtype != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "labels must be int32 or int64, got %s", tl_dtypes[labels->dtype].name);
  if (logits->rank < 1) return tl_error(TL_INVALID_ARGUMENT, "logits must have rank at least 1 (a class dimension)");
  bool ok = labels->rank == logits->rank - 1;
  for (int i = 0; ok && i < labels->rank; i++) ok = labels->shape[i] == logits->shape[i];
  if (!ok) {
    char a[200], b[200];
    return tl_error(TL_INVALID_ARGUMENT, "labels shape %s must equal the logits shape %s without its last dimension",
                    tl_shape_format(labels->rank, labels->shape, a, sizeof a),
                    tl_shape_format(logits->rank, logits->shape, b, sizeof b));
  }
  int64_t C = logits->shape[logits->rank - 1];
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

static tl_status sparse_xent_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                 tl_tensor_list *out) {
  tl_tensor *labels = in[0], *logits = in[1];
  if (is_half(logits->dtype)) return via_f32(op, in, n_in, attr, out);
  tl_status s = need_float(logits->dtype, "logits");
  if (s) return s;
  int64_t C = logits->shape[logits->rank > 0 ? logits->rank - 1 : 0];
  tl_tensor *lab, *lg, *o;
  if ((s = sparse_labels(labels, logits, &lab))) return s;
  if ((s = tl_tensor_new(logits->dtype, labels->rank, labels->shape, &o))) goto fail_lab;
  if ((s = tl_tensor_contiguous(logits, &lg))) goto fail_o;
  xent_job j = {logits->dtype, tl_tensor_data(lg), tl_tensor_data(lab), tl_tensor_data(o), C, 1, true,
                labels->dtype};
  tl_parallel_for(o->size, C >= TASK_GRAIN ? 1 : TASK_GRAIN / (C ? C : 1), xent_task, &j);
  tl_tensor_release(lg);
  tl_tensor_release(lab);
  return tl_list_push(out, o);
fail_o:
  tl_tensor_release(o);
fail_lab:
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

HOT static void xgrad_row_f32(float *o, const float *x, int64_t C, int64_t k, float g) {
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

static tl_status sparse_xent_grad_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                      tl_tensor_list *out) {
  tl_tensor *labels = in[0], *logits = in[1], *g = in[2];
  if (is_half(logits->dtype)) return via_f32(op, in, n_in, attr, out);
  tl_status s = need_float(logits->dtype, "logits");
  if (s) return s;
  if (g->dtype != logits->dtype || !tl_tensor_same_shape(g, labels)) {
    char a[200], b[200];
    return tl_error(TL_INVALID_ARGUMENT, "grad %s must have the labels' shape and the logits' dtype (%s)",
                    tl_tensor_describe(g, a, sizeof a), tl_tensor_describe(logits, b, sizeof b));
  }
  tl_tensor *lab, *lg = NULL, *gc = NULL, *o = NULL;
  if ((s = sparse_labels(labels, logits, &lab))) return s;
  if ((s = tl_tensor_new(logits->dtype, logits->rank, logits->shape, &o)) ||
      (s = tl_tensor_contiguous(logits, &lg)) || (s = tl_tensor_contiguous(g, &gc)))
    goto done;
  int64_t C = logits->shape[logits->rank - 1];
  xgrad_job j = {logits->dtype, tl_tensor_data(lg), tl_tensor_data(lab), tl_tensor_data(gc), tl_tensor_data(o), C,
                 labels->dtype};
  if (C > 0) tl_parallel_for(lab->size, C >= TASK_GRAIN ? 1 : TASK_GRAIN / C, xgrad_task, &j);
  s = tl_list_push(out, o);
  o = NULL;
done:
  tl_tensor_release(lab);
  tl_tensor_release(lg);
  tl_tensor_release(gc);
  if (o) tl_tensor_release(o);
  return s;
}

static tl_status xent_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                          tl_tensor_list *out) {
  tl_tensor *labels = in[0], *logits = in[1];
  if (is_half(logits->dtype)) return via_f32(op, in, n_in, attr, out);
  tl_status s = need_float(logits->dtype, "logits");
  if (s) return s;
  int ax = 0;
  if ((s = norm_axis(attr[0].i, logits->rank, &ax))) return s;
  tl_tensor *bv, *lab, *lg, *o;
  if ((s = tl_tensor_broadcast_view(labels, logits->rank, logits->shape, &bv))) {
    char a[200], b[200];
    return tl_error(TL_INVALID_ARGUMENT, "labels shape %s is not compatible with the logits shape %s",
                    tl_shape_format(labels->rank, labels->shape, a, sizeof a),
                    tl_shape_format(logits->rank, logits->shape, b, sizeof b));
  }
  s = tl_tensor_contiguous(bv, &lab);
  tl_tensor_release(bv);
  if (s) return s;
  int64_t shape[TL_MAX_RANK];
  int r = 0;
  for (int i = 0; i < logits->rank; i++)
    if (i != ax) shape[r++] = logits->shape[i];
  if ((s = tl_tensor_new(logits->dtype, r, shape, &o))) goto fail_lab;
  if ((s = tl_tensor_contiguous(logits, &lg))) goto fail_o;
  xent_job j = {logits->dtype, tl_tensor_data(lg), tl_tensor_data(lab), tl_tensor_data(o), 0, 0, false,
                TL_DTYPE_COUNT};
  int64_t A;
  split_at(logits, ax, &A, &j.R, &j.B);
  if (j.R == 0) memset(tl_tensor_data(o), 0, (size_t)o->size * tl_dtypes[o->dtype].size);
  else tl_parallel_for(o->size, j.R >= TASK_GRAIN ? 1 : TASK_GRAIN / j.R, xent_task, &j);
  tl_tensor_release(lg);
  tl_tensor_release(lab);
  return tl_list_push(out, o);
fail_o:
  tl_tensor_release(o);
fail_lab:
  tl_tensor_release(lab);
  return s;
}

/* max(x, 0) - x*z + log1p(exp(-|x|)) */
static void sigmoid_xent_run(char **p, const int64_t *st, int64_t n, void *ctx) {
  tl_dtype dt = *(const tl_dtype *)ctx;
  if (dt == TL_FLOAT32 && st[0] == 1 && st[1] == 1 && st[2] == 1) {
    float *o = (float *)p[0];
    const float *z = (const float *)p[1], *x = (const float *)p[2];
    for (int64_t i = 0; i < n; i++) {
      float xv = x[i];
      o[i] = (xv > 0 ? xv : 0.0f) - xv * z[i] + tl_vlog1pf(tl_vexpf(-fabsf(xv)));
    }
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    double xv = tl_load_f64(p[2], dt, i * st[2]), zv = tl_load_f64(p[1], dt, i * st[1]);
    tl_store_f64(p[0], dt, i * st[0], (xv > 0 ? xv : 0.0) - xv * zv + log1p(exp(-fabs(xv))));
  }
}

static tl_status sigmoid_xent_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                                  tl_tensor_list *out) {
  tl_tensor *labels = in[0], *logits = in[1];
  if (is_half(logits->dtype)) return via_f32(op, in, n_in, attr, out);
  tl_status s = need_float(logits->dtype, "logits");
  if (s) return s;
  if (!tl_tensor_same_shape(labels, logits)) {
    char a[200], b[200];
    return tl_error(TL_INVALID_ARGUMENT, "logits and labels must have the same shape (%s vs %s)",
                    tl_shape_format(logits->rank, logits->shape, a, sizeof a),
                    tl_shape_format(labels->rank, labels->shape, b, sizeof b));
  }
  tl_tensor *o;
  if ((s = tl_tensor_new(logits->dtype, logits->rank, logits->shape, &o))) return s;
  tl_tensor *ops[3] = {o, labels, logits};
  tl_iterate(3, ops, sigmoid_xent_run, &o->dtype);
  return tl_list_push(out, o);
}

/* ---- l2_loss ---------------------------------------------------------------- */

typedef struct l2_ctx {
  tl_dtype dt;
  double s;
} l2_ctx;

HOT static double sumsq_f32(const float *x, int64_t n, int64_t st) {
  double total = 0;
  if (st != 1) {
    for (int64_t i = 0; i < n; i++) total += (double)x[i * st] * x[i * st];
    return total;
  }
  for (int64_t i0 = 0; i0 < n; i0 += 4096) {
    int64_t m = n - i0 < 4096 ? n - i0 : 4096;
    float acc[W] = {0};
    int64_t i = 0;
    for (; i + W <= m; i += W)
      for (int j = 0; j < W; j++) acc[j] += x[i0 + i + j] * x[i0 + i + j];
    for (int j = 0; i < m; i++, j++) acc[j] += x[i0 + i] * x[i0 + i];
    double bs = 0;
    for (int j = 0; j < W; j++) bs += acc[j];
    total += bs;
  }
  return total;
}

static void l2_run(char **p, const int64_t *st, int64_t n, void *ctx) {
  l2_ctx *c = ctx;
  if (c->dt == TL_FLOAT32) {
    c->s += sumsq_f32((const float *)p[0], n, st[0]);
    return;
  }
  const double *x = (const double *)p[0];
  for (int64_t i = 0; i < n; i++) c->s += x[i * st[0]] * x[i * st[0]];
}

static tl_status l2_loss_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                             tl_tensor_list *out) {
  tl_tensor *x = in[0];
  if (is_half(x->dtype)) return via_f32(op, in, n_in, attr, out);
  tl_status s = need_float(x->dtype, "t");
  if (s) return s;
  l2_ctx c = {x->dtype, 0};
  tl_tensor *ops[1] = {x};
  tl_iterate(1, ops, l2_run, &c);
  tl_tensor *o;
  if ((s = tl_tensor_scalar_f64(x->dtype, c.s / 2, &o))) return s;
  return tl_list_push(out, o);
}

/* ---- dropout -------------------------------------------------------------- */

#define DROP_BLOCK 4096 /* elements per random block (multiple of 4) */

typedef struct drop_job {
  tl_rng rng;
  float rate;
  uint8_t *keep; /* [n] 0/1 */
  int64_t n;
} drop_job;

static void drop_task(int64_t begin, int64_t end, void *ctx) {
  const drop_job *j = ctx;
  uint32_t u[DROP_BLOCK];
  for (int64_t blk = begin; blk < end; blk++) {
    int64_t i0 = blk * DROP_BLOCK, m = j->n - i0 < DROP_BLOCK ? j->n - i0 : DROP_BLOCK;
    tl_rng r = j->rng;
    r.counter += (uint64_t)blk * (DROP_BLOCK / 4);
    tl_rng_fill_u32(&r, u, m);
    for (int64_t i = 0; i < m; i++) j->keep[i0 + i] = (float)(u[i] >> 8) * (1.0f / 16777216.0f) >= j->rate;
  }
}

static void drop_apply(char **p, const int64_t *st, int64_t n, void *ctx) {
  const tl_attr *scale = ctx; /* scale->f */
  if (scale->dtype == TL_FLOAT32) {
    float *o = (float *)p[0];
    const float *x = (const float *)p[1];
    const uint8_t *k = (const uint8_t *)p[2];
    float sc = (float)scale->f;
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < n; i++) o[i] = k[i] ? x[i] * sc : 0.0f;
    } else {
      for (int64_t i = 0; i < n; i++) o[i * st[0]] = k[i * st[2]] ? x[i * st[1]] * sc : 0.0f;
    }
    return;
  }
  double *o = (double *)p[0];
  const double *x = (const double *)p[1];
  const uint8_t *k = (const uint8_t *)p[2];
  for (int64_t i = 0; i < n; i++) o[i * st[0]] = k[i * st[2]] ? x[i * st[1]] * scale->f : 0.0;
}

static tl_status dropout_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                             tl_tensor_list *out) {
  tl_tensor *x = in[0];
  if (is_half(x->dtype)) return via_f32(op, in, n_in, attr, out);
  tl_status s = need_float(x->dtype, "x");
  if (s) return s;
  double rate = attr[0].f;
  if (!(rate >= 0 && rate < 1))
    return tl_error(TL_INVALID_ARGUMENT, "rate must be a float in the range [0, 1), got %g", rate);
  int64_t nshape[TL_MAX_RANK];
  int nrank = x->rank;
  memcpy(nshape, x->shape, sizeof(int64_t) * (size_t)x->rank);
  if (attr[1].present) {
    const tl_attr *ns = &attr[1];
    bool ok = ns->n == x->rank;
    for (int i = 0; ok && i < ns->n; i++) ok = ns->ints[i] == x->shape[i] || ns->ints[i] == 1;
    if (!ok) {
      char a[200], b[200];
      return tl_error(TL_INVALID_ARGUMENT, "noise_shape %s is not compatible with the shape of x %s (each dimension must match or be 1)",
                      tl_shape_format(ns->n, ns->ints, a, sizeof a), tl_shape_format(x->rank, x->shape, b, sizeof b));
    }
    nrank = ns->n;
    memcpy(nshape, ns->ints, sizeof(int64_t) * (size_t)ns->n);
  }
  tl_tensor *keep, *kv = NULL, *o = NULL, *m = NULL;
  if ((s = tl_tensor_new(TL_UINT8, nrank, nshape, &keep))) return s;
  drop_job j = {.rate = (float)rate, .keep = tl_tensor_data(keep), .n = keep->size};
  tl_random_stream(&attr[2], &j.rng);
  int64_t nblk = (keep->size + DROP_BLOCK - 1) / DROP_BLOCK;
  tl_parallel_for(nblk, 4, drop_task, &j);
  if ((s = tl_tensor_broadcast_view(keep, x->rank, x->shape, &kv))) goto done;
  if ((s = tl_tensor_new(x->dtype, x->rank, x->shape, &o))) goto done;
  tl_attr scale = {.f = 1.0 / (1.0 - rate), .dtype = x->dtype};
  tl_tensor *ops[3] = {o, x, kv};
  tl_iterate(3, ops, drop_apply, &scale);
  if ((s = tl_tensor_new(x->dtype, nrank, nshape, &m))) goto done;
  const uint8_t *kd = tl_tensor_data(keep);
  if (x->dtype == TL_FLOAT32)
    for (int64_t i = 0; i < m->size; i++) ((float *)m->storage->data)[i] = kd[i] ? (float)scale.f : 0.0f;
  else
    for (int64_t i = 0; i < m->size; i++) ((double *)m->storage->data)[i] = kd[i] ? scale.f : 0.0;
  if ((s = tl_list_push(out, o))) goto done;
  o = NULL;
  s = tl_list_push(out, m);
  m = NULL;
done:
  tl_tensor_release(keep);
  tl_tensor_release(kv);
  if (o) tl_tensor_release(o);
  if (m) tl_tensor_release(m);
  return s;
}

/* ---- bias_add ------------------------------------------------------------- */

static tl_status bias_add_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                              tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *v = in[0], *b = in[1];
  const char *fmt = attr[0].s ? attr[0].s : "NHWC";
  bool nchw = strncmp(fmt, "NC", 2) == 0;
  if (!nchw && !(fmt[0] == 'N' && fmt[strlen(fmt) - 1] == 'C'))
    return tl_error(TL_INVALID_ARGUMENT, "data_format must be NHWC-like (channels last) or NCHW-like, got '%s'", fmt);
  if (v->rank < (nchw ? 3 : 2))
    return tl_error(TL_INVALID_ARGUMENT, "value must have rank at least %d", nchw ? 3 : 2);
  int ax = nchw ? 1 : v->rank - 1;
  if (b->rank != 1 || b->shape[0] != v->shape[ax])
    return tl_error(TL_INVALID_ARGUMENT, "bias must be a vector of the %" PRId64 " channels of value (dimension %d)",
                    v->shape[ax], ax);
  if (!tl_dtypes[v->dtype].computable || v->dtype == TL_BOOL)
    return tl_error(TL_UNIMPLEMENTED, "dtype %s is not supported", tl_dtypes[v->dtype].name);
  /* value + bias reshaped to broadcast along the channel axis */
  int64_t shape[TL_MAX_RANK], strides[TL_MAX_RANK];
  for (int i = 0; i < v->rank; i++) shape[i] = v->shape[i], strides[i] = 0;
  strides[ax] = b->strides[0];
  tl_tensor *bv, *o;
  tl_status s = tl_tensor_view(b->storage, b->dtype, v->rank, shape, strides, b->offset, &bv);
  if (s) return s;
  if ((s = tl_tensor_new(v->dtype, v->rank, v->shape, &o))) {
    tl_tensor_release(bv);
    return s;
  }
  char *od = tl_tensor_data(o);
  /* cold generic path for integers; floats below */
  tl_tensor *cv, *cb;
  if ((s = tl_tensor_contiguous(v, &cv))) goto fail;
  if ((s = tl_tensor_contiguous(bv, &cb))) {
    tl_tensor_release(cv);
    goto fail;
  }
  tl_tensor_release(bv);
  const char *xa = tl_tensor_data(cv), *xb = tl_tensor_data(cb);
  if (v->dtype == TL_FLOAT32) {
    for (int64_t i = 0; i < o->size; i++) ((float *)od)[i] = ((const float *)xa)[i] + ((const float *)xb)[i];
  } else if (v->dtype == TL_FLOAT64) {
    for (int64_t i = 0; i < o->size; i++) ((double *)od)[i] = ((const double *)xa)[i] + ((const double *)xb)[i];
  } else {
    for (int64_t i = 0; i < o->size; i++)
      tl_store_i64(od, v->dtype, i, (int64_t)((uint64_t)tl_load_i64(xa, v->dtype, i) + (uint64_t)tl_load_i64(xb, v->dtype, i)));
  }
  tl_tensor_release(cv);
  tl_tensor_release(cb);
  return tl_list_push(out, o);
fail:
  tl_tensor_release(bv);
  tl_tensor_release(o);
  return s;
}

/* ---- gradients ------------------------------------------------------------ */
/* Written with ordinary ops (tl_call), so an outer tape records them and
 * gradients of gradients work. Each rule keeps its temporaries in a small
 * list released at the end; a helper given a NULL operand (an earlier
 * failure) returns NULL, so a chain stops at the first error. */

/* Sum over one axis, kept as size 1. */
static tl_tensor *sum_keep(tl_temps *T, tl_tensor *a, int64_t axis) {
  return tl_temps_op1(T, "reduce_sum", a, 2, (tl_named_attr[]){TL_A_INT("axis", axis), TL_A_BOOL("keepdims", true)});
}

#define GRAD_ARGS                                                                              \
  const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr, tl_tensor *const *out, \
      int n_out, tl_tensor *const *gout, tl_tensor **gin
#define UNUSED_GRAD_ARGS (void)op, (void)n_in, (void)n_out

/* dx = (g - sum(g y)) y */
static tl_status softmax_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  (void)in;
  tl_temps T = {0};
  tl_tensor *y = out[0], *g = gout[0];
  tl_tensor *d = tl_temps_op2(&T, "subtract", g, sum_keep(&T, tl_temps_op2(&T, "multiply", g, y), attr[0].i));
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", d, y), &gin[0], true);
}

/* dx = g - softmax sum(g) = g - exp(y) sum(g) */
static tl_status log_softmax_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  (void)in;
  tl_temps T = {0};
  tl_tensor *g = gout[0];
  tl_tensor *p = tl_temps_op1(&T, "exp", out[0], 0, NULL);
  return tl_temps_give(&T, tl_temps_op2(&T, "subtract", g, tl_temps_op2(&T, "multiply", p, sum_keep(&T, g, attr[0].i))), &gin[0], true);
}

static tl_tensor *expand(tl_temps *T, tl_tensor *g, int64_t axis) {
  return tl_temps_op1(T, "expand_dims", g, 1, (tl_named_attr[]){TL_A_INT("axis", axis)});
}

/* TF's backprop: (softmax(logits) - onehot(labels)) g, by the fused op;
 * labels are integers. */
static tl_status sparse_xent_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  (void)attr;
  (void)out;
  tl_tensor *args[3] = {in[0], in[1], gout[0]};
  return tl_call("sparse_softmax_cross_entropy_grad", 3, args, 0, NULL, &gin[1]);
}

/* Of d = (p - onehot) g_col, p = softmax(x), with gg = d's gradient:
 *   d/dx = g_col (gg - sum(gg p)) p   (softmax's rule, scaled)
 *   d/dg = sum(gg (p - onehot))       over the class axis */
static tl_status sparse_xent_grad_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  (void)attr;
  (void)out;
  tl_tensor *labels = in[0], *logits = in[1], *gg = gout[0];
  tl_temps T = {0};
  tl_tensor *p = tl_temps_op1(&T, "softmax", logits, 0, NULL);
  tl_tensor *u = tl_temps_op2(&T, "subtract", gg, sum_keep(&T, tl_temps_op2(&T, "multiply", gg, p), -1));
  tl_tensor *dl = tl_temps_op2(&T, "multiply", tl_temps_op2(&T, "multiply", u, p), expand(&T, in[2], -1));
  tl_status s = tl_temps_give(&T, dl, &gin[1], false);
  if (s) return s;
  tl_tensor *oh = tl_temps_op1(&T, "one_hot", labels, 2,
                      (tl_named_attr[]){TL_A_INT("depth", logits->shape[logits->rank - 1]),
                                        TL_A_DTYPE("dtype", logits->dtype)});
  tl_tensor *q = tl_temps_op2(&T, "multiply", gg, tl_temps_op2(&T, "subtract", p, oh));
  return tl_temps_give(&T, tl_temps_op1(&T, "reduce_sum", q, 1, (tl_named_attr[]){TL_A_INT("axis", -1)}), &gin[2], true);
}

/* loss = sum(z) lse(x) - sum(z x) along axis:
 *   d/dx = (softmax(x) sum(z) - z) g   (TF's softmax - z when z sums to 1)
 *   d/dz = -log_softmax(x) g           (TF's) */
static tl_status xent_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  (void)out;
  tl_tensor *labels = in[0], *logits = in[1];
  int64_t ax = attr[0].i < 0 ? attr[0].i + logits->rank : attr[0].i;
  tl_temps T = {0};
  tl_tensor *z = labels;
  if (!tl_tensor_same_shape(labels, logits))
    z = tl_temps_op1(&T, "broadcast_to", labels, 1, (tl_named_attr[]){TL_A_INTS("shape", logits->rank, logits->shape)});
  tl_tensor *g = expand(&T, gout[0], ax);
  tl_tensor *p = tl_temps_op1(&T, "softmax", logits, 1, (tl_named_attr[]){TL_A_INT("axis", ax)});
  tl_tensor *d = tl_temps_op2(&T, "subtract", tl_temps_op2(&T, "multiply", p, sum_keep(&T, z, ax)), z);
  tl_status s = tl_temps_give(&T, tl_temps_op2(&T, "multiply", d, g), &gin[1], false);
  if (s) return s;
  tl_tensor *ls = tl_temps_op1(&T, "log_softmax", logits, 1, (tl_named_attr[]){TL_A_INT("axis", ax)});
  return tl_temps_give(&T, tl_temps_op1(&T, "negative", tl_temps_op2(&T, "multiply", ls, g), 0, NULL), &gin[0], true);
}

/* d/dx = (sigmoid(x) - z) g, d/dz = -x g (TF's). */
static tl_status sigmoid_xent_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  (void)attr;
  (void)out;
  tl_tensor *z = in[0], *x = in[1], *g = gout[0];
  tl_temps T = {0};
  tl_tensor *d = tl_temps_op2(&T, "subtract", tl_temps_op1(&T, "sigmoid", x, 0, NULL), z);
  tl_status s = tl_temps_give(&T, tl_temps_op2(&T, "multiply", d, g), &gin[1], false);
  if (s) return s;
  return tl_temps_give(&T, tl_temps_op1(&T, "negative", tl_temps_op2(&T, "multiply", x, g), 0, NULL), &gin[0], true);
}

static tl_status l2_loss_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  (void)attr;
  (void)out;
  tl_temps T = {0};
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", in[0], gout[0]), &gin[0], true);
}

/* The forward's hidden second output is the mask already scaled by
 * 1/(1-rate) (noise_shape, broadcast against x): y = x mask exactly, so
 * dx = g mask, also where x is 0 (which the output alone cannot tell).
 * A gradient reaching only the mask output (an outer tape differentiating
 * this rule) is dropped: the mask does not depend on x. */
static tl_status dropout_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  (void)attr;
  (void)in;
  if (!gout[0]) return TL_OK;
  if (n_out < 2) return tl_error(TL_INTERNAL, "internal: dropout recorded without its mask");
  tl_temps T = {0};
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", gout[0], out[1]), &gin[0], true);
}

/* d/dvalue = g; d/dbias = g summed over every axis but the channel one. */
static tl_status bias_add_grad(GRAD_ARGS) {
  UNUSED_GRAD_ARGS;
  (void)out;
  tl_tensor *v = in[0], *g = gout[0];
  const char *fmt = attr[0].s ? attr[0].s : "NHWC";
  int ch = strncmp(fmt, "NC", 2) == 0 ? 1 : v->rank - 1;
  int64_t axes[TL_MAX_RANK];
  int n = 0;
  for (int i = 0; i < v->rank; i++)
    if (i != ch) axes[n++] = i;
  tl_tensor *gb;
  tl_status s = tl_call("reduce_sum", 1, &g, 1, (tl_named_attr[]){TL_A_INTS("axis", n, axes)}, &gb);
  if (s) return s;
  gin[0] = tl_tensor_retain(g);
  gin[1] = gb;
  return TL_OK;
}

tl_op_def tl_ops_nn[] = {
    {.name = "softmax", .inputs = "logits", .attrs = "axis:int=-1", .kernel[TL_CPU] = softmax_fwd, .grad = softmax_grad,
     .api = "tf.nn.softmax tf.math.softmax", .doc = "exp(x) / sum(exp(x)) along axis, computed stably."},
    {.name = "log_softmax", .inputs = "logits", .attrs = "axis:int=-1", .kernel[TL_CPU] = log_softmax_fwd, .grad = log_softmax_grad,
     .api = "tf.nn.log_softmax tf.math.log_softmax", .doc = "x - log(sum(exp(x))) along axis, computed stably."},
    {.name = "sparse_softmax_cross_entropy_with_logits", .inputs = "labels, logits", .kernel[TL_CPU] = sparse_xent_fwd, .grad = sparse_xent_grad,
     .api = "tf.nn.sparse_softmax_cross_entropy_with_logits",
     .doc = "Per-example cross entropy of integer class labels [...] and logits [..., C]."},
    {.name = "sparse_softmax_cross_entropy_grad", .inputs = "labels, logits, grad",
     .kernel[TL_CPU] = sparse_xent_grad_fwd, .grad = sparse_xent_grad_grad, .api = "-",
     .doc = "(softmax(logits) - one_hot(labels)) * grad[..., None]: the backward of sparse cross entropy, fused."},
    {.name = "softmax_cross_entropy_with_logits", .inputs = "labels, logits", .attrs = "axis:int=-1",
     .kernel[TL_CPU] = xent_fwd, .grad = xent_grad, .flags = TL_OP_SAME_DTYPE, .api = "tf.nn.softmax_cross_entropy_with_logits",
     .doc = "Per-example cross entropy of probability labels and logits along axis."},
    {.name = "sigmoid_cross_entropy_with_logits", .inputs = "labels, logits", .kernel[TL_CPU] = sigmoid_xent_fwd, .grad = sigmoid_xent_grad,
     .flags = TL_OP_SAME_DTYPE | TL_OP_SCALARS_FOLLOW, .api = "tf.nn.sigmoid_cross_entropy_with_logits",
     .doc = "Element-wise logistic loss, max(x,0) - x*z + log1p(exp(-|x|))."},
    {.name = "l2_loss", .inputs = "t", .kernel[TL_CPU] = l2_loss_fwd, .grad = l2_loss_grad, .api = "tf.nn.l2_loss",
     .doc = "sum(t^2) / 2 as a scalar."},
    {.name = "dropout", .inputs = "x", .attrs = "rate:float, noise_shape:ints?, seed:int?", .kernel[TL_CPU] = dropout_fwd,
     .grad = dropout_grad, .flags = TL_OP_RANDOM | TL_OP_HIDDEN_OUTPUTS, .api = "tf.nn.dropout",
     .doc = "Zeroes elements with probability rate and scales the rest by 1/(1-rate)."},
    {.name = "bias_add", .inputs = "value, bias", .attrs = "data_format:string=NHWC", .kernel[TL_CPU] = bias_add_fwd, .grad = bias_add_grad,
     .flags = TL_OP_SAME_DTYPE, .api = "tf.nn.bias_add", .doc = "Adds a channel bias vector to value."},
    {0},
};
