/* ops/pool.c — 2-D max and average pooling in NHWC, as TensorFlow, with
 * their backprops: max_pool, avg_pool, max_pool_grad, max_pool_grad_grad
 * and avg_pool_grad.
 *
 * Windows are ksize (an int, [h, w] or [1, h, w, 1]) moved by strides with
 * SAME or VALID padding (ops/conv.h computes the geometry; SAME puts the
 * extra row/column after, as TF). Padded positions never take part: a max
 * is over the window's real elements, and an average divides by the number
 * of real elements (TF's SAME excludes the padding from the count).
 * max_pool propagates NaN; its gradient goes to the first maximum of each
 * window in row-major order (TF's and PyTorch's choice for ties).
 * max_pool_grad is linear in its grad input and picks positions from
 * orig_input only, so its own gradient is max_pool_grad_grad (the values
 * at those positions) and vice versa; orig_input and orig_output get none.
 * Forward ops split (image, output row) units over the pool; backprops
 * split images (each unit scatters into its own image only).
 * float32/float64; float16/bfloat16 through float32 (TL_OP_HALF_VIA_F32).
 *
 * Not here: EXPLICIT padding, NCHW, 1-D/3-D pools (1-D ones are Lua over
 * these: stdlib/tlua/conv.lua), max_pool_with_argmax.
 */
#pragma GCC optimize("O3")
#include "ops/conv.h"
#include "ops/nn.h"

#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* ---- geometry ------------------------------------------------------------------ */

enum { A_KSIZE, A_STRIDES, A_PADDING, A_FORMAT };

typedef struct pgeom {
  int64_t N, H, W, C, KH, KW, sh, sw, pt, pl, OH, OW;
} pgeom;

static tl_status make_pgeom(const tl_attr *a, const tl_meta *x, pgeom *g) {
  char b[200];
  if (x->rank >= 0 && x->rank != 4)
    return tl_error(TL_INVALID_ARGUMENT, "input must be 4-D [batch, height, width, channels], got %s",
                    tl_meta_describe(x, b, sizeof b));
  tl_status s = tl_conv_format(&a[A_FORMAT]);
  if (s) return s;
  memset(g, 0, sizeof *g);
  int64_t unk[4] = {-1, -1, -1, -1};
  const int64_t *xs = x->rank == 4 ? x->shape : unk;
  g->N = xs[0], g->H = xs[1], g->W = xs[2], g->C = xs[3];
  int mode;
  int64_t pads[4];
  if ((s = tl_conv_hw(&a[A_KSIZE], "ksize", 0, &g->KH, &g->KW)) || (s = tl_conv_hw(&a[A_STRIDES], "strides", 0, &g->sh, &g->sw)) ||
      (s = tl_conv_padding(&a[A_PADDING], NULL, &mode, pads)))
    return s;
  tl_conv_dim dh = {g->H, g->KH, g->sh, 1, 0, 0, 0}, dw = {g->W, g->KW, g->sw, 1, 0, 0, 0};
  if ((s = tl_conv_out_dim(&dh, mode, "height", "window")) || (s = tl_conv_out_dim(&dw, mode, "width", "window")))
    return s;
  g->OH = dh.out, g->OW = dw.out, g->pt = dh.p0, g->pl = dw.p0;
  return TL_OK;
}

static void pool_meta(const pgeom *g, tl_dtype dt, tl_meta *m) {
  m->dtype = dt;
  m->rank = 4;
  m->shape[0] = g->N, m->shape[1] = g->OH, m->shape[2] = g->OW, m->shape[3] = g->C;
}

static tl_status need_shape(const tl_meta *got, const tl_meta *want, const char *what, const char *of) {
  if (tl_meta_compatible(got, want)) return TL_OK;
  char b1[200], b2[200];
  return tl_error(TL_INVALID_ARGUMENT, "%s is %s, but %s is %s", what, tl_meta_describe(got, b1, sizeof b1), of,
                  tl_meta_describe(want, b2, sizeof b2));
}

/* ---- shape rules ------------------------------------------------------------------ */

static tl_status pool_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  pgeom g;
  tl_meta m;
  tl_status s = tl_nn_need_float(in[0]->dtype, "input");
  if (s || (s = make_pgeom(attr, in[0], &g))) return s;
  pool_meta(&g, in[0]->dtype, &m);
  return tl_meta_push_like(out, &m, TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* max_pool_grad (grad has the pooled shape; result: the input's) and
 * max_pool_grad_grad (grad has the input's shape; result: the pooled). */
static tl_status maxgrad_infer_common(TL_INFER_ARGS, bool gradgrad) {
  (void)op, (void)n_in;
  pgeom g;
  tl_meta m;
  tl_status s = tl_nn_need_float(in[0]->dtype, "orig_input");
  if (s || (s = make_pgeom(attr, in[0], &g))) return s;
  pool_meta(&g, in[0]->dtype, &m);
  if ((s = need_shape(in[1], &m, "orig_output", "max_pool's output"))) return s;
  if ((s = need_shape(in[2], gradgrad ? in[0] : &m, "grad", gradgrad ? "orig_input" : "max_pool's output")))
    return s;
  return tl_meta_push_like(out, gradgrad ? &m : in[0], TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}
static tl_status maxgrad_infer(TL_INFER_ARGS) { return maxgrad_infer_common(op, in, n_in, attr, out, false); }
static tl_status maxgradgrad_infer(TL_INFER_ARGS) { return maxgrad_infer_common(op, in, n_in, attr, out, true); }

/* avg_pool_grad: in = grad; attr[0] orig_input_shape, then the pool's. */
static tl_status avggrad_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  tl_status s = tl_nn_need_float(in[0]->dtype, "grad");
  if (s) return s;
  const tl_attr *sz = &attr[0];
  if (!sz->present || sz->n != 4)
    return tl_error(TL_INVALID_ARGUMENT, "orig_input_shape must have 4 entries, got %d", sz->present ? sz->n : 0);
  tl_meta x = {in[0]->dtype, 4, {0}}, m;
  for (int i = 0; i < 4; i++) {
    if (sz->ints[i] < 0) return tl_error(TL_INVALID_ARGUMENT, "orig_input_shape must not be negative");
    x.shape[i] = sz->ints[i];
  }
  pgeom g;
  if ((s = make_pgeom(attr + 1, &x, &g))) return s;
  pool_meta(&g, in[0]->dtype, &m);
  if ((s = need_shape(in[0], &m, "grad", "avg_pool's output"))) return s;
  return tl_meta_push_like(out, &x, TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* ---- kernels --------------------------------------------------------------------- */

typedef struct pool_job {
  pgeom g;
  const char *x, *gr; /* input, incoming gradient */
  char *o;
  atomic_int failed;
} pool_job;

/* The window of output (oh, ow) clipped to the input: rows [h0, h1), cols [w0, w1). */
static inline void window(const pgeom *g, int64_t oh, int64_t ow, int64_t *h0, int64_t *h1, int64_t *w0, int64_t *w1) {
  *h0 = oh * g->sh - g->pt, *w0 = ow * g->sw - g->pl;
  *h1 = *h0 + g->KH, *w1 = *w0 + g->KW;
  if (*h0 < 0) *h0 = 0;
  if (*w0 < 0) *w0 = 0;
  if (*h1 > g->H) *h1 = g->H;
  if (*w1 > g->W) *w1 = g->W;
}

#define DEF_POOL(T, SFX)                                                                          \
  /* Units: (image, output row); the max (NaN wins) or the mean over each clipped window. */      \
  static void pool_run_##SFX(int64_t b, int64_t e, const pool_job *j, bool avg) {                 \
    const pgeom *g = &j->g;                                                                       \
    int64_t C = g->C, h0, h1, w0, w1;                                                             \
    for (int64_t u = b; u < e; u++) {                                                             \
      int64_t n = u / g->OH, oh = u % g->OH;                                                      \
      const T *xn = (const T *)j->x + n * g->H * g->W * C;                                        \
      for (int64_t ow = 0; ow < g->OW; ow++) {                                                    \
        T *op = (T *)j->o + ((n * g->OH + oh) * g->OW + ow) * C;                                  \
        for (int64_t c = 0; c < C; c++) op[c] = avg ? 0 : -INFINITY;                              \
        window(g, oh, ow, &h0, &h1, &w0, &w1);                                                    \
        for (int64_t ih = h0; ih < h1; ih++)                                                      \
          for (int64_t iw = w0; iw < w1; iw++) {                                                  \
            const T *xp = xn + (ih * g->W + iw) * C;                                              \
            if (avg)                                                                              \
              for (int64_t c = 0; c < C; c++) op[c] += xp[c];                                     \
            else                                                                                  \
              for (int64_t c = 0; c < C; c++) op[c] = (xp[c] > op[c] || xp[c] != xp[c]) ? xp[c] : op[c]; \
          }                                                                                       \
        if (avg) {                                                                                \
          int64_t cnt = (h1 - h0) * (w1 - w0);                                                    \
          T inv = cnt > 0 ? (T)1 / (T)cnt : 0;                                                    \
          for (int64_t c = 0; c < C; c++) op[c] *= inv;                                           \
        }                                                                                         \
      }                                                                                           \
    }                                                                                             \
  }                                                                                               \
  static void maxpool_##SFX(int64_t b, int64_t e, void *ctx) { pool_run_##SFX(b, e, ctx, false); } \
  static void avgpool_##SFX(int64_t b, int64_t e, void *ctx) { pool_run_##SFX(b, e, ctx, true); } \
  /* Units: images; dx += grad / count over each window. */                                      \
  static void avggrad_##SFX(int64_t b, int64_t e, void *ctx) {                                    \
    const pool_job *j = ctx;                                                                      \
    const pgeom *g = &j->g;                                                                       \
    int64_t C = g->C, h0, h1, w0, w1;                                                             \
    for (int64_t n = b; n < e; n++) {                                                             \
      T *dxn = (T *)j->o + n * g->H * g->W * C;                                                   \
      for (int64_t i = 0; i < g->H * g->W * C; i++) dxn[i] = 0;                                   \
      for (int64_t oh = 0; oh < g->OH; oh++)                                                      \
        for (int64_t ow = 0; ow < g->OW; ow++) {                                                  \
          const T *gp = (const T *)j->gr + ((n * g->OH + oh) * g->OW + ow) * C;                   \
          window(g, oh, ow, &h0, &h1, &w0, &w1);                                                  \
          int64_t cnt = (h1 - h0) * (w1 - w0);                                                    \
          T inv = cnt > 0 ? (T)1 / (T)cnt : 0;                                                    \
          for (int64_t ih = h0; ih < h1; ih++)                                                    \
            for (int64_t iw = w0; iw < w1; iw++) {                                                \
              T *dp = dxn + (ih * g->W + iw) * C;                                                 \
              for (int64_t c = 0; c < C; c++) dp[c] += gp[c] * inv;                               \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
  }                                                                                               \
  /* The first maximum of each channel in window (oh, ow): its pixel index. */                    \
  static void argmax_##SFX(const pgeom *g, const T *xn, int64_t oh, int64_t ow, T *best, int64_t *idx) { \
    int64_t C = g->C, h0, h1, w0, w1;                                                             \
    window(g, oh, ow, &h0, &h1, &w0, &w1);                                                        \
    for (int64_t c = 0; c < C; c++) best[c] = -INFINITY, idx[c] = -1;                             \
    for (int64_t ih = h0; ih < h1; ih++)                                                          \
      for (int64_t iw = w0; iw < w1; iw++) {                                                      \
        const T *xp = xn + (ih * g->W + iw) * C;                                                  \
        for (int64_t c = 0; c < C; c++)                                                           \
          if (idx[c] < 0 || (best[c] == best[c] && (xp[c] > best[c] || xp[c] != xp[c])))          \
            best[c] = xp[c], idx[c] = ih * g->W + iw;                                             \
      }                                                                                           \
  }                                                                                               \
  /* Units: images. gradgrad gathers grad (input-shaped) at the maxima into  \
   * the pooled output; otherwise grad (pooled) is scattered to them. */                          \
  static void maxgrad_run_##SFX(int64_t b, int64_t e, pool_job *j, bool gradgrad) {               \
    const pgeom *g = &j->g;                                                                       \
    int64_t C = g->C;                                                                             \
    T *best = tl_alloc((size_t)(C ? C : 1) * sizeof(T));                                          \
    int64_t *idx = tl_alloc((size_t)(C ? C : 1) * sizeof(int64_t));                               \
    if (!best || !idx) {                                                                          \
      atomic_store(&j->failed, 1);                                                                \
      if (best) tl_free(best, (size_t)(C ? C : 1) * sizeof(T));                                   \
      if (idx) tl_free(idx, (size_t)(C ? C : 1) * sizeof(int64_t));                               \
      return;                                                                                     \
    }                                                                                             \
    for (int64_t n = b; n < e; n++) {                                                             \
      const T *xn = (const T *)j->x + n * g->H * g->W * C;                                        \
      T *dxn = (T *)j->o + n * g->H * g->W * C;                                                   \
      const T *ggn = (const T *)j->gr + n * g->H * g->W * C;                                      \
      if (!gradgrad)                                                                              \
        for (int64_t i = 0; i < g->H * g->W * C; i++) dxn[i] = 0;                                 \
      for (int64_t oh = 0; oh < g->OH; oh++)                                                      \
        for (int64_t ow = 0; ow < g->OW; ow++) {                                                  \
          int64_t at = ((n * g->OH + oh) * g->OW + ow) * C;                                       \
          argmax_##SFX(g, xn, oh, ow, best, idx);                                                 \
          if (gradgrad) {                                                                         \
            T *op = (T *)j->o + at;                                                               \
            for (int64_t c = 0; c < C; c++) op[c] = idx[c] < 0 ? 0 : ggn[idx[c] * C + c];         \
          } else {                                                                                \
            const T *gp = (const T *)j->gr + at;                                                  \
            for (int64_t c = 0; c < C; c++)                                                       \
              if (idx[c] >= 0) dxn[idx[c] * C + c] += gp[c];                                      \
          }                                                                                       \
        }                                                                                         \
    }                                                                                             \
    tl_free(best, (size_t)(C ? C : 1) * sizeof(T));                                               \
    tl_free(idx, (size_t)(C ? C : 1) * sizeof(int64_t));                                          \
  }                                                                                               \
  static void maxgrad_##SFX(int64_t b, int64_t e, void *ctx) { maxgrad_run_##SFX(b, e, ctx, false); } \
  static void maxgradgrad_##SFX(int64_t b, int64_t e, void *ctx) { maxgrad_run_##SFX(b, e, ctx, true); }
DEF_POOL(float, f32)
DEF_POOL(double, f64)

#define PARALLEL_MIN_WORK ((int64_t)1 << 18)

static void run(pool_job *j, int64_t units, int64_t work, tl_range_fn fn) {
  if (units <= 0) return;
  if (tl_num_threads() > 1 && work >= PARALLEL_MIN_WORK && units > 1) tl_parallel_for(units, 1, fn, j);
  else fn(0, units, j);
}

/* Runs fn over units after making the inputs contiguous. gi: index of the
 * gradient input or -1; which: 0 forward rows, 1 backprop images. */
static tl_status pool_kernel_common(TL_KERNEL_ARGS, const tl_meta *xmeta, int xi, int gi, const tl_attr *pa,
                                    tl_range_fn f32, tl_range_fn f64, bool rows) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *o = out->items[0], *x = NULL, *gr = NULL;
  pool_job j;
  memset(&j, 0, sizeof j);
  atomic_init(&j.failed, 0);
  tl_status s = make_pgeom(pa, xmeta, &j.g);
  if (s) return s;
  if (o->size == 0) return TL_OK;
  if (xi >= 0 && (s = tl_tensor_contiguous(in[xi], &x))) return s;
  if (gi >= 0 && (s = tl_tensor_contiguous(in[gi], &gr))) {
    if (x) tl_tensor_release(x);
    return s;
  }
  j.x = x ? tl_tensor_data(x) : NULL;
  j.gr = gr ? tl_tensor_data(gr) : NULL;
  j.o = tl_tensor_data(o);
  const pgeom *g = &j.g;
  int64_t work = g->N * g->OH * g->OW * g->C * g->KH * g->KW;
  run(&j, rows ? g->N * g->OH : g->N, work, o->dtype == TL_FLOAT64 ? f64 : f32);
  if (x) tl_tensor_release(x);
  if (gr) tl_tensor_release(gr);
  if (atomic_load(&j.failed)) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory for the pooling scratch");
  return TL_OK;
}

#define KPASS op, in, n_in, attr, out
static tl_status maxpool_kernel(TL_KERNEL_ARGS) {
  return pool_kernel_common(KPASS, &in[0]->meta, 0, -1, attr, maxpool_f32, maxpool_f64, true);
}
static tl_status avgpool_kernel(TL_KERNEL_ARGS) {
  return pool_kernel_common(KPASS, &in[0]->meta, 0, -1, attr, avgpool_f32, avgpool_f64, true);
}
static tl_status maxgrad_kernel(TL_KERNEL_ARGS) {
  return pool_kernel_common(KPASS, &in[0]->meta, 0, 2, attr, maxgrad_f32, maxgrad_f64, false);
}
static tl_status maxgradgrad_kernel(TL_KERNEL_ARGS) {
  return pool_kernel_common(KPASS, &in[0]->meta, 0, 2, attr, maxgradgrad_f32, maxgradgrad_f64, false);
}
static tl_status avggrad_kernel(TL_KERNEL_ARGS) {
  return pool_kernel_common(KPASS, &out->items[0]->meta, -1, 0, attr + 1, avggrad_f32, avggrad_f64, false);
}

/* ---- gradients ------------------------------------------------------------------ */

static int pool_attrs(const tl_attr *a, tl_named_attr *na) {
  int n = 1;
  na[n++] = TL_A_INTS("ksize", a[A_KSIZE].n, a[A_KSIZE].ints);
  na[n++] = TL_A_INTS("strides", a[A_STRIDES].n, a[A_STRIDES].ints);
  na[n++] = TL_A_STRING("padding", a[A_PADDING].s);
  na[n++] = TL_A_STRING("data_format", a[A_FORMAT].s ? a[A_FORMAT].s : "NHWC");
  return n;
}

static tl_status call3(const char *name, const tl_attr *a, tl_tensor *x, tl_tensor *y, tl_tensor *g, tl_tensor **out) {
  tl_named_attr na[6];
  int n = pool_attrs(a, na);
  return tl_call(name, 3, (tl_tensor *[]){x, y, g}, n - 1, na + 1, out);
}

static tl_status maxpool_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (!grad_out[0]) return TL_OK;
  return call3("max_pool_grad", attr, in[0], out[0], grad_out[0], &grad_in[0]);
}
static tl_status avgpool_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (!grad_out[0]) return TL_OK;
  tl_named_attr na[6];
  int n = pool_attrs(attr, na);
  na[0] = TL_A_INTS("orig_input_shape", 4, in[0]->shape);
  return tl_call("avg_pool_grad", 1, &grad_out[0], n, na, &grad_in[0]);
}
/* Linear in grad; the positions depend on orig_input only piecewise (no gradient). */
static tl_status maxgrad_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (!grad_out[0] || !tl_grad_wants(2)) return TL_OK;
  return call3("max_pool_grad_grad", attr, in[0], in[1], grad_out[0], &grad_in[2]);
}
static tl_status maxgradgrad_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (!grad_out[0] || !tl_grad_wants(2)) return TL_OK;
  return call3("max_pool_grad", attr, in[0], in[1], grad_out[0], &grad_in[2]);
}
static tl_status avggrad_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (!grad_out[0]) return TL_OK;
  tl_named_attr na[6];
  int n = pool_attrs(attr + 1, na);
  return tl_call("avg_pool", 1, &grad_out[0], n - 1, na + 1, &grad_in[0]);
}

#define POOL_ATTRS "ksize:ints?, strides:ints?, padding:string?, data_format:string=NHWC"
#define FLAGS (TL_OP_SAME_DTYPE | TL_OP_HALF_VIA_F32)

tl_op_def tl_ops_pool[] = {
    {.name = "max_pool", .inputs = "input", .attrs = POOL_ATTRS, .infer = pool_infer, .kernel[TL_CPU] = maxpool_kernel,
     .grad = maxpool_grad, .flags = FLAGS, .api = "-", .doc = "2-D max pooling over NHWC windows (tf.nn.max_pool2d)."},
    {.name = "avg_pool", .inputs = "input", .attrs = POOL_ATTRS, .infer = pool_infer, .kernel[TL_CPU] = avgpool_kernel,
     .grad = avgpool_grad, .flags = FLAGS, .api = "-",
     .doc = "2-D average pooling over NHWC windows; SAME padding is not counted (tf.nn.avg_pool2d)."},
    {.name = "max_pool_grad", .inputs = "orig_input, orig_output, grad", .attrs = POOL_ATTRS, .infer = maxgrad_infer,
     .kernel[TL_CPU] = maxgrad_kernel, .grad = maxgrad_grad, .flags = FLAGS, .api = "-",
     .doc = "The gradient of max_pool: grad sent to the first maximum of each window."},
    {.name = "max_pool_grad_grad", .inputs = "orig_input, orig_output, grad", .attrs = POOL_ATTRS,
     .infer = maxgradgrad_infer, .kernel[TL_CPU] = maxgradgrad_kernel, .grad = maxgradgrad_grad, .flags = FLAGS,
     .api = "-", .doc = "The gradient of max_pool_grad: grad read at the first maximum of each window."},
    {.name = "avg_pool_grad", .inputs = "grad", .attrs = "orig_input_shape:ints?, " POOL_ATTRS, .infer = avggrad_infer,
     .kernel[TL_CPU] = avggrad_kernel, .grad = avggrad_grad, .flags = FLAGS, .api = "-",
     .doc = "The gradient of avg_pool: each window's grad spread over its real elements."},
    {0},
};
