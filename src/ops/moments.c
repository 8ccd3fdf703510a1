/* ops/moments.c — the two-pass float reductions: reduce_logsumexp,
 * reduce_variance, reduce_std and nn.moments, with their shape and
 * gradient rules.
 *
 * The first pass is a plain reduction (reduce.c: the max for logsumexp,
 * the mean otherwise); the second sums exp(x - max) or (x - mean)^2 in
 * double over the same [A, R, B] layout, rows spread over the thread pool.
 * Float32 and float64 only; float16/bfloat16 reach the kernels as float32
 * (TL_OP_HALF_VIA_F32). Empty reductions give -inf (logsumexp) and NaN.
 */
#include "ops/nn.h"
#include "ops/reduce.h"

#include <math.h>
#include <stdlib.h>

typedef enum { M_LOGSUMEXP, M_VARIANCE, M_STD, M_MOMENTS /* mean and variance */ } moment_kind;

/* acc[a,b] = sum_r f(x[a,r,b] - c[a,b]) in double, f = exp or square. */
typedef struct pass2_job {
  const tl_red_layout *L;
  const void *c; /* [A*B] centres, dtype of x */
  double *acc;
  bool expo;
} pass2_job;

#define PASS2(T, S)                                                                        \
  static void pass2_##S(const pass2_job *j, int64_t a) {                                   \
    const tl_red_layout *L = j->L;                                                         \
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

/* Fills o (and mean, the centre, when given: moments) for x over mask; o
 * and mean have x's dtype and the reduced shape. */
static tl_status two_pass(tl_tensor *x, const bool *mask, moment_kind what, tl_tensor *o, tl_tensor *mean) {
  tl_red_kind first = what == M_LOGSUMEXP ? TL_RED_MAX : TL_RED_MEAN;
  if (x->size == 0) {
    tl_reduce_fill_identity(o, first); /* -inf, NaN */
    if (mean) tl_reduce_fill_identity(mean, TL_RED_MEAN);
    return TL_OK;
  }
  tl_tensor *centre = mean;
  tl_status s = TL_OK;
  if (!centre && (s = tl_tensor_new(o->dtype, o->rank, o->shape, &centre))) return s;
  tl_red_layout L = {0};
  double *acc = NULL;
  void *c = tl_tensor_data(centre), *shift = c;
  if ((s = tl_reduce_into(x, mask, first, centre)) || (s = tl_reduce_layout(x, mask, &L))) goto done;
  int64_t n = L.A * L.B;
  acc = malloc(sizeof(double) * (size_t)n);
  if (what == M_LOGSUMEXP) shift = malloc(tl_dtypes[x->dtype].size * (size_t)n);
  if (!acc || !shift) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    goto done;
  }
  if (what == M_LOGSUMEXP)
    for (int64_t i = 0; i < n; i++) {
      double m = tl_load_f64(c, x->dtype, i);
      tl_store_f64(shift, x->dtype, i, isfinite(m) ? m : 0.0);
    }
  pass2_job j = {&L, shift, acc, what == M_LOGSUMEXP};
  int64_t per = L.R * L.B;
  tl_parallel_for(L.A, per >= TL_RED_TASK_GRAIN ? 1 : TL_RED_TASK_GRAIN / per, pass2_task, &j);
  void *od = tl_tensor_data(o);
  for (int64_t i = 0; i < n; i++) {
    double v;
    if (what == M_LOGSUMEXP) v = log(acc[i]) + tl_load_f64(shift, x->dtype, i);
    else v = acc[i] / (double)L.R;
    if (what == M_STD) v = sqrt(v);
    tl_store_f64(od, x->dtype, i, v);
  }
done:
  free(acc);
  if (shift != c) free(shift);
  if (L.src) tl_tensor_release(L.src);
  if (centre != mean) tl_tensor_release(centre);
  return s;
}

/* reduce_logsumexp, reduce_variance, reduce_std; moments pushes the mean
 * and the variance. */
static tl_status moment_infer(TL_INFER_ARGS) {
  (void)n_in;
  tl_status s = tl_nn_need_float(in[0]->dtype, "the input");
  int n = *(const moment_kind *)op->impl == M_MOMENTS ? 2 : 1;
  for (int i = 0; i < n && !s; i++) s = tl_reduce_push_meta(out, in[0], &attr[0], attr[1].b, in[0]->dtype);
  return s;
}

static tl_status moment_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  bool mask[TL_MAX_RANK];
  tl_status s = tl_reduce_axes(&in[0]->meta, &attr[0], mask);
  if (s) return s;
  moment_kind kind = *(const moment_kind *)op->impl;
  if (kind == M_MOMENTS) return two_pass(in[0], mask, M_VARIANCE, out->items[1], out->items[0]);
  return two_pass(in[0], mask, kind, out->items[0], NULL);
}

/* ---- gradients ------------------------------------------------------------ */

/* d lse / dx = exp(x - lse) = softmax over the reduced dims. */
static tl_status reduce_logsumexp_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (tl_reduce_axes(&x->meta, &attr[0], mask)) return tl_last_status();
  tl_temps T = {0};
  tl_tensor *p = tl_temps_un(&T, "exp", tl_temps_op2(&T, "subtract", x, tl_reduce_keep_dims(&T, out[0], x, mask)));
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", p, tl_reduce_keep_dims(&T, grad_out[0], x, mask)),
                       &grad_in[0], true);
}

/* Variance (population): d var / dx = 2 (x - mean) / N; std: (x - mean) / (N std).
 * mean_k, when given, is the mean with kept dims (moments has it). */
static tl_tensor *centered(tl_temps *T, tl_tensor *x, const tl_attr *axis, tl_tensor *mean_k) {
  if (!mean_k) {
    tl_named_attr ax[2];
    int nax = tl_reduce_axis_attrs(axis, true, ax);
    mean_k = tl_temps_op1(T, "reduce_mean", x, nax, ax);
  }
  return tl_temps_op2(T, "subtract", x, mean_k);
}

static tl_status reduce_variance_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (tl_reduce_axes(&x->meta, &attr[0], mask)) return tl_last_status();
  tl_temps T = {0};
  tl_tensor *g = tl_temps_op2(&T, "multiply", tl_reduce_keep_dims(&T, grad_out[0], x, mask),
                              tl_temps_scalar(&T, x, x->dtype, 2.0 / (double)tl_reduce_count(x, mask)));
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", centered(&T, x, &attr[0], NULL), g), &grad_in[0], true);
}

static tl_status reduce_std_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (tl_reduce_axes(&x->meta, &attr[0], mask)) return tl_last_status();
  tl_temps T = {0};
  tl_tensor *nstd = tl_temps_op2(&T, "multiply", tl_reduce_keep_dims(&T, out[0], x, mask),
                                 tl_temps_scalar(&T, x, x->dtype, (double)tl_reduce_count(x, mask)));
  tl_tensor *g = tl_temps_op2(&T, "divide", tl_reduce_keep_dims(&T, grad_out[0], x, mask), nstd);
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", centered(&T, x, &attr[0], NULL), g), &grad_in[0], true);
}

/* moments -> (mean, variance); either output's gradient may be absent. */
static tl_status moments_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0];
  bool mask[TL_MAX_RANK];
  if (tl_reduce_axes(&x->meta, &attr[0], mask)) return tl_last_status();
  double n = (double)tl_reduce_count(x, mask);
  tl_temps T = {0};
  tl_tensor *res = NULL, *gm = NULL;
  if (grad_out[0])
    gm = tl_temps_op2(&T, "divide", tl_reduce_keep_dims(&T, grad_out[0], x, mask), tl_temps_scalar(&T, x, x->dtype, n));
  if (grad_out[1]) {
    tl_tensor *gv = tl_temps_op2(&T, "multiply", tl_reduce_keep_dims(&T, grad_out[1], x, mask),
                                 tl_temps_scalar(&T, x, x->dtype, 2.0 / n));
    res = tl_temps_op2(&T, "multiply", centered(&T, x, &attr[0], tl_reduce_keep_dims(&T, out[0], x, mask)), gv);
    if (grad_out[0]) res = tl_temps_op2(&T, "add", res, gm);
  } else {
    res = tl_reduce_broadcast_like(&T, gm, x);
  }
  return tl_temps_give(&T, res, &grad_in[0], true);
}

/* ---- the table ------------------------------------------------------------ */

static const moment_kind m_lse = M_LOGSUMEXP, m_var = M_VARIANCE, m_std = M_STD, m_moments = M_MOMENTS;

#define MOMENT_OP(nm, kind, gr) \
  .name = nm, .inputs = "input_tensor", .attrs = "axis:ints?, keepdims:bool=false", .infer = moment_infer, \
  .kernel[TL_CPU] = moment_kernel, .grad = gr, .flags = TL_OP_HALF_VIA_F32, .impl = &kind

tl_op_def tl_ops_moments[] = {
    {MOMENT_OP("reduce_logsumexp", m_lse, reduce_logsumexp_grad), .api = "tf.reduce_logsumexp tf.math.reduce_logsumexp",
     .doc = "log(sum(exp(x))) over the given axes, computed stably."},
    {MOMENT_OP("reduce_variance", m_var, reduce_variance_grad), .api = "tf.math.reduce_variance",
     .doc = "Population variance over the given axes."},
    {MOMENT_OP("reduce_std", m_std, reduce_std_grad), .api = "tf.math.reduce_std",
     .doc = "Population standard deviation over the given axes."},
    {.name = "moments", .inputs = "x", .attrs = "axes:ints, keepdims:bool=false", .infer = moment_infer,
     .kernel[TL_CPU] = moment_kernel, .grad = moments_grad, .flags = TL_OP_HALF_VIA_F32, .impl = &m_moments,
     .api = "tf.nn.moments",
     .doc = "Mean and variance of x over axes (two results)."},
    {0},
};
