/* ops/nn.c — the element-wise neural-network ops: the sigmoid cross
 * entropy, l2_loss, dropout and bias_add, with their shape and gradient
 * rules (the softmax family is in softmax.c).
 *
 * The sigmoid loss uses TensorFlow's stable max(x,0) - x*z + log1p(exp(-|x|)).
 * Dropout draws from a Philox stream reserved per call (tl_random_stream),
 * split into fixed blocks so threads fill it in parallel and the result
 * does not depend on the thread count. Kernels fill the outputs the
 * dispatcher allocated from the shape rule; float16/bfloat16 reach the
 * float-only kernels as float32 (TL_OP_HALF_VIA_F32).
 */
#pragma GCC optimize("O3", "no-trapping-math") /* see ops/softmax.c */
#include "ops/nn.h"
#include "autodiff/grad_temps.h"
#include "ops/vmath.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W TL_NN_LANES

/* ---- sigmoid_cross_entropy_with_logits ------------------------------------ */

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

static tl_status sigmoid_xent_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  const tl_meta *labels = in[0], *logits = in[1];
  tl_status s = tl_nn_need_float(logits->dtype, "logits");
  if (s) return s;
  if (!tl_meta_compatible(labels, logits)) {
    char a[200], b[200];
    return tl_error(TL_INVALID_ARGUMENT, "logits and labels must have the same shape (%s vs %s)",
                    tl_shape_format(logits->rank, logits->shape, a, sizeof a),
                    tl_shape_format(labels->rank, labels->shape, b, sizeof b));
  }
  return tl_meta_push_like(out, logits->rank >= 0 ? logits : labels, logits->dtype) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status sigmoid_xent_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *o = out->items[0], *ops[3] = {o, in[0], in[1]};
  tl_iterate(3, ops, sigmoid_xent_run, &o->dtype);
  return TL_OK;
}

/* ---- l2_loss ---------------------------------------------------------------- */

typedef struct l2_ctx {
  tl_dtype dt;
  double s;
} l2_ctx;

TL_HOT static double sumsq_f32(const float *x, int64_t n, int64_t st) {
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

static tl_status l2_loss_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = tl_nn_need_float(in[0]->dtype, "t");
  if (s) return s;
  return tl_meta_push(out, in[0]->dtype, 0, NULL) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status l2_loss_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  l2_ctx c = {in[0]->dtype, 0};
  tl_tensor *ops[1] = {in[0]};
  tl_iterate(1, ops, l2_run, &c);
  tl_store_f64(tl_tensor_data(out->items[0]), c.dt, 0, c.s / 2);
  return TL_OK;
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


static tl_status dropout_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *x = in[0];
  tl_status s = tl_nn_need_float(x->dtype, "x");
  if (s) return s;
  double rate = attr[0].f;
  if (!(rate >= 0 && rate < 1))
    return tl_error(TL_INVALID_ARGUMENT, "rate must be a float in the range [0, 1), got %g", rate);
  const tl_meta *mask = x;
  tl_meta ns;
  if (attr[1].present) {
    const tl_attr *a = &attr[1];
    bool ok = a->n <= TL_MAX_RANK && (x->rank < 0 || a->n == x->rank);
    for (int i = 0; ok && x->rank >= 0 && i < a->n; i++) ok = a->ints[i] == x->shape[i] || a->ints[i] == 1 || x->shape[i] < 0;
    if (!ok) {
      char b[200], c[200];
      return tl_error(TL_INVALID_ARGUMENT,
                      "noise_shape %s is not compatible with the shape of x %s (each dimension must match or be 1)",
                      tl_shape_format(a->n, a->ints, b, sizeof b), tl_shape_format(x->rank, x->shape, c, sizeof c));
    }
    ns.dtype = x->dtype;
    ns.rank = a->n;
    memcpy(ns.shape, a->ints, sizeof(int64_t) * (size_t)a->n);
    mask = &ns;
  }
  if (!tl_meta_push_like(out, x, TL_DTYPE_COUNT) || !tl_meta_push_like(out, mask, x->dtype)) return TL_RESOURCE_EXHAUSTED;
  return TL_OK;
}

/* Outputs: the result and, hidden, the mask already scaled by 1/(1-rate)
 * in the noise shape (the gradient rule's multiplier). */
static tl_status dropout_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *x = in[0], *o = out->items[0], *m = out->items[1], *keep, *kv = NULL;
  double rate = attr[0].f;
  tl_status s = tl_tensor_new(TL_UINT8, m->rank, m->shape, &keep);
  if (s) return s;
  drop_job j = {.rate = (float)rate, .keep = tl_tensor_data(keep), .n = keep->size};
  tl_random_stream(&attr[2], &j.rng);
  int64_t nblk = (keep->size + DROP_BLOCK - 1) / DROP_BLOCK;
  tl_parallel_for(nblk, 4, drop_task, &j);
  if (!(s = tl_tensor_broadcast_view(keep, x->rank, x->shape, &kv))) {
    tl_attr scale = {.f = 1.0 / (1.0 - rate), .dtype = x->dtype};
    tl_tensor *ops[3] = {o, x, kv};
    tl_iterate(3, ops, drop_apply, &scale);
    const uint8_t *kd = tl_tensor_data(keep);
    if (x->dtype == TL_FLOAT32)
      for (int64_t i = 0; i < m->size; i++) ((float *)tl_tensor_data(m))[i] = kd[i] ? (float)scale.f : 0.0f;
    else
      for (int64_t i = 0; i < m->size; i++) ((double *)tl_tensor_data(m))[i] = kd[i] ? scale.f : 0.0;
    tl_tensor_release(kv);
  }
  tl_tensor_release(keep);
  return s;
}

/* ---- bias_add ------------------------------------------------------------- */

/* The channel axis of value for data_format (NHWC-like: last; NC...: 1). */
static tl_status bias_axis(const tl_attr *format, int rank, int *ax) {
  const char *fmt = format->s ? format->s : "NHWC";
  bool nchw = strncmp(fmt, "NC", 2) == 0;
  if (!nchw && !(fmt[0] == 'N' && fmt[strlen(fmt) - 1] == 'C'))
    return tl_error(TL_INVALID_ARGUMENT, "data_format must be NHWC-like (channels last) or NCHW-like, got '%s'", fmt);
  if (rank >= 0 && rank < (nchw ? 3 : 2))
    return tl_error(TL_INVALID_ARGUMENT, "value must have rank at least %d", nchw ? 3 : 2);
  *ax = nchw ? 1 : rank - 1;
  return TL_OK;
}

static tl_status bias_add_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *v = in[0], *b = in[1];
  int ax = 0;
  tl_status s = bias_axis(&attr[0], v->rank, &ax);
  if (s) return s;
  int64_t ch = v->rank >= 0 ? v->shape[ax] : -1;
  if (b->rank >= 0 && (b->rank != 1 || (b->shape[0] >= 0 && ch >= 0 && b->shape[0] != ch)))
    return tl_error(TL_INVALID_ARGUMENT, "bias must be a vector of the %" PRId64 " channels of value (dimension %d)", ch,
                    ax);
  if (!tl_dtypes[v->dtype].computable || v->dtype == TL_BOOL)
    return tl_error(TL_UNIMPLEMENTED, "dtype %s is not supported", tl_dtypes[v->dtype].name);
  return tl_meta_push_like(out, v, TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status bias_add_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *v = in[0], *b = in[1], *o = out->items[0];
  int ax = 0;
  tl_status s = bias_axis(&attr[0], v->rank, &ax);
  if (s) return s;
  /* value + bias viewed to broadcast along the channel axis */
  int64_t strides[TL_MAX_RANK] = {0};
  strides[ax] = b->strides[0];
  tl_tensor *bv, *cv = NULL, *cb = NULL;
  if ((s = tl_tensor_view(b->storage, b->dtype, v->rank, v->shape, strides, b->offset, &bv))) return s;
  if (!(s = tl_tensor_contiguous(v, &cv)) && !(s = tl_tensor_contiguous(bv, &cb))) {
    char *od = tl_tensor_data(o);
    const char *xa = tl_tensor_data(cv), *xb = tl_tensor_data(cb);
    if (v->dtype == TL_FLOAT32) {
      for (int64_t i = 0; i < o->size; i++) ((float *)od)[i] = ((const float *)xa)[i] + ((const float *)xb)[i];
    } else if (v->dtype == TL_FLOAT64) {
      for (int64_t i = 0; i < o->size; i++) ((double *)od)[i] = ((const double *)xa)[i] + ((const double *)xb)[i];
    } else { /* cold generic path for integers, wrapping */
      for (int64_t i = 0; i < o->size; i++)
        tl_store_i64(od, v->dtype, i,
                     (int64_t)((uint64_t)tl_load_i64(xa, v->dtype, i) + (uint64_t)tl_load_i64(xb, v->dtype, i)));
    }
  }
  tl_tensor_release(bv);
  if (cv) tl_tensor_release(cv);
  if (cb) tl_tensor_release(cb);
  return s;
}

/* ---- gradients ------------------------------------------------------------ */
/* Written with ordinary ops (tl_call), so an outer tape records them and
 * gradients of gradients work. */

/* d/dx = (sigmoid(x) - z) g, d/dz = -x g (TF's). */
static tl_status sigmoid_xent_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *z = in[0], *x = in[1], *g = grad_out[0];
  tl_temps T = {0};
  tl_tensor *d = tl_temps_op2(&T, "subtract", tl_temps_un(&T, "sigmoid", x), z);
  tl_status s = tl_temps_give(&T, tl_temps_op2(&T, "multiply", d, g), &grad_in[1], false);
  if (s) return s;
  return tl_temps_give(&T, tl_temps_un(&T, "negative", tl_temps_op2(&T, "multiply", x, g)), &grad_in[0], true);
}

static tl_status l2_loss_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_temps T = {0};
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", in[0], grad_out[0]), &grad_in[0], true);
}

/* The forward's hidden second output is the mask already scaled by
 * 1/(1-rate) (noise_shape, broadcast against x): y = x mask exactly, so
 * dx = g mask, also where x is 0 (which the output alone cannot tell).
 * A gradient reaching only the mask output (an outer tape differentiating
 * this rule) is dropped: the mask does not depend on x. */
static tl_status dropout_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (!grad_out[0]) return TL_OK;
  if (n_out < 2) return tl_error(TL_INTERNAL, "internal: dropout recorded without its mask");
  tl_temps T = {0};
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", grad_out[0], out[1]), &grad_in[0], true);
}

/* d/dvalue = g; d/dbias = g summed over every axis but the channel one. */
static tl_status bias_add_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *v = in[0], *g = grad_out[0];
  int ch = 0;
  tl_status s = bias_axis(&attr[0], v->rank, &ch);
  if (s) return s;
  int64_t axes[TL_MAX_RANK];
  int n = 0;
  for (int i = 0; i < v->rank; i++)
    if (i != ch) axes[n++] = i;
  tl_tensor *gb;
  if ((s = tl_call("reduce_sum", 1, &g, 1, (tl_named_attr[]){TL_A_INTS("axis", n, axes)}, &gb))) return s;
  grad_in[0] = tl_tensor_retain(g);
  grad_in[1] = gb;
  return TL_OK;
}

tl_op_def tl_ops_nn[] = {
    {.name = "sigmoid_cross_entropy_with_logits", .inputs = "labels, logits", .infer = sigmoid_xent_infer,
     .kernel[TL_CPU] = sigmoid_xent_kernel, .grad = sigmoid_xent_grad,
     .flags = TL_OP_SAME_DTYPE | TL_OP_SCALARS_FOLLOW | TL_OP_HALF_VIA_F32, .api = "tf.nn.sigmoid_cross_entropy_with_logits",
     .doc = "Element-wise logistic loss, max(x,0) - x*z + log1p(exp(-|x|))."},
    {.name = "l2_loss", .inputs = "t", .infer = l2_loss_infer, .kernel[TL_CPU] = l2_loss_kernel, .grad = l2_loss_grad,
     .flags = TL_OP_HALF_VIA_F32, .api = "tf.nn.l2_loss", .doc = "sum(t^2) / 2 as a scalar."},
    {.name = "dropout", .inputs = "x", .attrs = "rate:float, noise_shape:ints?, seed:int?", .infer = dropout_infer,
     .kernel[TL_CPU] = dropout_kernel, .grad = dropout_grad,
     .flags = TL_OP_RANDOM | TL_OP_HIDDEN_OUTPUTS | TL_OP_HALF_VIA_F32, .api = "tf.nn.dropout",
     .doc = "Zeroes elements with probability rate and scales the rest by 1/(1-rate)."},
    {.name = "bias_add", .inputs = "value, bias", .attrs = "data_format:string=NHWC", .infer = bias_add_infer,
     .kernel[TL_CPU] = bias_add_kernel, .grad = bias_add_grad, .flags = TL_OP_SAME_DTYPE, .api = "tf.nn.bias_add",
     .doc = "Adds a channel bias vector to value."},
    {0},
};
