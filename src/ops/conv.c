/* ops/conv.c — 2-D convolutions in NHWC with HWIO filters, as TensorFlow:
 * conv2d, its two backprops (conv2d_backprop_input is also
 * conv2d_transpose), and the depthwise convolution with its backprops.
 *
 * conv2d is im2col + GEMM: per batch image and block of output pixels the
 * receptive fields are copied into a [pixels, KH*KW*C] matrix (zeros where
 * the window hangs over the padding) and multiplied by the filter read as a
 * [KH*KW*C, O] matrix with OpenBLAS (single-threaded, like matmul: the units
 * are spread over tlua's pool). A 1x1, stride-1, unpadded convolution skips
 * the copy. backprop_input multiplies out_backprop by the filter's
 * transpose and scatters the columns back (col2im), one image per unit so
 * no two units write the same pixels (with stride 1 it is instead a
 * forward convolution of out_backprop with the flipped, transposed filter:
 * no col2im, and the GEMM has the forward's shape); backprop_filter accumulates
 * col^T @ out_backprop per part of the batch into per-part buffers that are
 * summed in part order, so results do not depend on scheduling.
 * The depthwise ops are direct loops (C*M tiny dot products per pixel).
 *
 * Padding is SAME (TF's: the extra row/column goes after), VALID or
 * EXPLICIT (explicit_paddings, 8 entries). float32/float64 kernels;
 * float16/bfloat16 through float32 (TL_OP_HALF_VIA_F32). Every backprop is
 * linear in each input, so the gradient rules are the other ops of the
 * family and every order of derivative works.
 *
 * Not here: NCHW (Unimplemented, as TF on the CPU), groups (input depth a
 * multiple of the filter's), 3-D convolutions; conv1d, conv2d_transpose and
 * the list form of padding are Lua (stdlib/tlua/conv.lua).
 */
#pragma GCC optimize("O3")
#include "ops/conv.h"
#include "autodiff/grad_temps.h"
#include "backend/blas.h"
#include "ops/nn.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* ---- shared geometry (also used by pool.c) --------------------------------- */

tl_status tl_conv_hw(const tl_attr *a, const char *what, int64_t def, int64_t *h, int64_t *w) {
  char b[200];
  if (!a->present || a->n == 0) {
    if (def > 0) {
      *h = *w = def;
      return TL_OK;
    }
    return tl_error(TL_INVALID_ARGUMENT, "%s is required (an int, [h, w] or [1, h, w, 1])", what);
  }
  if (a->n == 1) *h = *w = a->ints[0];
  else if (a->n == 2) *h = a->ints[0], *w = a->ints[1];
  else if (a->n == 4) {
    if (a->ints[0] != 1 || a->ints[3] != 1)
      return tl_error(TL_INVALID_ARGUMENT, "%s %s: the batch and channel entries must be 1 (NHWC)", what,
                      tl_shape_format(a->n, a->ints, b, sizeof b));
    *h = a->ints[1], *w = a->ints[2];
  } else {
    return tl_error(TL_INVALID_ARGUMENT, "%s must have 1, 2 or 4 entries, got %d", what, a->n);
  }
  if (*h < 1 || *w < 1)
    return tl_error(TL_INVALID_ARGUMENT, "%s must be positive, got %s", what,
                    tl_shape_format(a->n, a->ints, b, sizeof b));
  if (*h > INT32_MAX || *w > INT32_MAX)
    return tl_error(TL_INVALID_ARGUMENT, "%s must be at most %d, got %s", what, INT32_MAX,
                    tl_shape_format(a->n, a->ints, b, sizeof b));
  return TL_OK;
}

static bool ieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (toupper((unsigned char)*a) != *b) return false;
  return *a == *b;
}

tl_status tl_conv_padding(const tl_attr *padding, const tl_attr *ex, int *mode, int64_t pads[4]) {
  const char *p = padding->present && padding->s ? padding->s : NULL;
  pads[0] = pads[1] = pads[2] = pads[3] = 0;
  if (!p) return tl_error(TL_INVALID_ARGUMENT, "padding is required ('SAME', 'VALID' or explicit paddings)");
  if (ieq(p, "SAME")) *mode = TL_PAD_SAME;
  else if (ieq(p, "VALID")) *mode = TL_PAD_VALID;
  else if (ieq(p, "EXPLICIT")) *mode = TL_PAD_EXPLICIT;
  else
    return tl_error(TL_INVALID_ARGUMENT,
                    "padding must be 'SAME', 'VALID' or a list of explicit paddings, got '%s'", p);
  bool given = ex && ex->present && ex->n > 0;
  if (*mode != TL_PAD_EXPLICIT) {
    if (given) return tl_error(TL_INVALID_ARGUMENT, "explicit_paddings are only allowed with padding 'EXPLICIT'");
    return TL_OK;
  }
  if (!ex) return tl_error(TL_INVALID_ARGUMENT, "padding 'EXPLICIT' is not supported by this op");
  if (!given || ex->n != 8)
    return tl_error(TL_INVALID_ARGUMENT,
                    "padding 'EXPLICIT' needs explicit_paddings of 8 entries ({{0,0},{top,bottom},{left,right},{0,0}}), got %d",
                    given ? ex->n : 0);
  char b[200];
  if (ex->ints[0] || ex->ints[1] || ex->ints[6] || ex->ints[7])
    return tl_error(TL_INVALID_ARGUMENT, "explicit_paddings %s: the batch and channel paddings must be 0",
                    tl_shape_format(ex->n, ex->ints, b, sizeof b));
  for (int i = 0; i < 4; i++) {
    pads[i] = ex->ints[2 + i];
    if (pads[i] < 0 || pads[i] > INT32_MAX)
      return tl_error(TL_INVALID_ARGUMENT, "explicit_paddings %s must be between 0 and 2^31-1",
                      tl_shape_format(ex->n, ex->ints, b, sizeof b));
  }
  return TL_OK;
}

tl_status tl_conv_format(const tl_attr *a) {
  const char *f = a->present && a->s ? a->s : "NHWC";
  if (strcmp(f, "NHWC") == 0) return TL_OK;
  if (strcmp(f, "NCHW") == 0)
    return tl_error(TL_UNIMPLEMENTED, "data_format 'NCHW' is not supported on the CPU (use 'NHWC')");
  return tl_error(TL_INVALID_ARGUMENT, "data_format must be 'NHWC' or 'NCHW', got '%s'", f);
}

tl_status tl_conv_out_dim(tl_conv_dim *d, int mode, const char *axis, const char *what) {
  if (d->k >= 0 && d->k < 1) return tl_error(TL_INVALID_ARGUMENT, "the %s's %s must be positive, got %" PRId64, what, axis, d->k);
  if (d->in < 0 || d->k < 0) {
    d->out = -1;
    return TL_OK;
  }
  int64_t dk = (d->k - 1) * d->d + 1;
  if (mode == TL_PAD_SAME) {
    d->out = (d->in + d->s - 1) / d->s;
    int64_t total = (d->out - 1) * d->s + dk - d->in;
    if (total < 0 || d->out == 0) total = 0;
    d->p0 = total / 2;
    d->p1 = total - d->p0;
    return TL_OK;
  }
  if (mode == TL_PAD_VALID) d->p0 = d->p1 = 0;
  int64_t padded = d->in + d->p0 + d->p1;
  if (padded < dk) {
    char dil[64] = "";
    if (dk != d->k) snprintf(dil, sizeof dil, " (%" PRId64 " dilated)", dk);
    return tl_error(TL_INVALID_ARGUMENT,
                    "the %s's %s %" PRId64 "%s is larger than the input's %s %" PRId64 " plus padding %" PRId64
                    " (padding %s)",
                    what, axis, d->k, dil, axis, d->in, d->p0 + d->p1, mode == TL_PAD_VALID ? "'VALID'" : "explicit");
  }
  d->out = (padded - dk) / d->s + 1;
  return TL_OK;
}

/* ---- the geometry of one convolution --------------------------------------- */

/* Attribute positions after the op's own leading ones (a backprop's sizes). */
enum { A_STRIDES, A_PADDING, A_FORMAT, A_DILATIONS, A_EXPLICIT };

typedef struct geom {
  int64_t N, H, W, C;     /* input */
  int64_t KH, KW, KC, O;  /* filter [KH, KW, KC, O]; depthwise: O is the multiplier */
  int64_t sh, sw, dh, dw, pt, pl;
  int64_t OH, OW, OC;     /* output; OC = O, or C*O depthwise */
  bool depthwise;
} geom;

static const char *fmt_meta(const tl_meta *m, char *b, size_t n) { return tl_meta_describe(m, b, n); }

/* From the metas of input x ([N,H,W,C]) and filter f ([KH,KW,KC,O]); -1
 * dims give -1 outputs. Checks ranks, channels and window sizes. */
static tl_status make_geom(const tl_attr *a, const tl_meta *x, const tl_meta *f, bool dw, geom *g) {
  char b1[200];
  if (x->rank >= 0 && x->rank != 4)
    return tl_error(TL_INVALID_ARGUMENT, "input must be 4-D [batch, height, width, channels], got %s",
                    fmt_meta(x, b1, sizeof b1));
  if (f->rank >= 0 && f->rank != 4)
    return tl_error(TL_INVALID_ARGUMENT, "filter must be 4-D [height, width, %s], got %s",
                    dw ? "in_channels, channel_multiplier" : "in_channels, out_channels", fmt_meta(f, b1, sizeof b1));
  tl_status s = tl_conv_format(&a[A_FORMAT]);
  if (s) return s;
  int64_t unk[4] = {-1, -1, -1, -1};
  const int64_t *xs = x->rank == 4 ? x->shape : unk, *fs = f->rank == 4 ? f->shape : unk;
  memset(g, 0, sizeof *g);
  g->N = xs[0], g->H = xs[1], g->W = xs[2], g->C = xs[3];
  g->KH = fs[0], g->KW = fs[1], g->KC = fs[2], g->O = fs[3];
  g->depthwise = dw;
  if ((s = tl_conv_hw(&a[A_STRIDES], "strides", 0, &g->sh, &g->sw))) return s;
  if ((s = tl_conv_hw(&a[A_DILATIONS], "dilations", 1, &g->dh, &g->dw))) return s;
  int mode;
  int64_t pads[4];
  if ((s = tl_conv_padding(&a[A_PADDING], &a[A_EXPLICIT], &mode, pads))) return s;
  if (g->C >= 0 && g->KC >= 0 && g->C != g->KC)
    return tl_error(TL_INVALID_ARGUMENT,
                    "input depth %" PRId64 " does not match the filter's in_channels %" PRId64
                    " (filter dimension 2 of [height, width, in_channels, %s])",
                    g->C, g->KC, dw ? "channel_multiplier" : "out_channels");
  tl_conv_dim dh = {g->H, g->KH, g->sh, g->dh, pads[0], pads[1], 0};
  tl_conv_dim dwd = {g->W, g->KW, g->sw, g->dw, pads[2], pads[3], 0};
  if ((s = tl_conv_out_dim(&dh, mode, "height", "filter")) || (s = tl_conv_out_dim(&dwd, mode, "width", "filter")))
    return s;
  g->OH = dh.out, g->OW = dwd.out, g->pt = dh.p0, g->pl = dwd.p0;
  int64_t c = g->C >= 0 ? g->C : g->KC;
  g->OC = !dw ? g->O : (c >= 0 && g->O >= 0 ? c * g->O : -1);
  return TL_OK;
}

/* A 4-entry sizes attribute (input_sizes / filter_sizes) as a meta. */
static tl_status sizes_meta(const tl_attr *a, const char *what, tl_dtype dt, tl_meta *m) {
  if (!a->present || a->n != 4)
    return tl_error(TL_INVALID_ARGUMENT, "%s must have 4 entries, got %d", what, a->present ? a->n : 0);
  m->dtype = dt;
  m->rank = 4;
  for (int i = 0; i < 4; i++) {
    if (a->ints[i] < 0) return tl_error(TL_INVALID_ARGUMENT, "%s must not be negative", what);
    m->shape[i] = a->ints[i];
  }
  return TL_OK;
}

/* out_backprop must be the forward output's shape. */
static tl_status check_dy(const geom *g, const tl_meta *dy) {
  int64_t want[4] = {g->N, g->OH, g->OW, g->OC};
  bool ok = dy->rank < 0 || dy->rank == 4;
  for (int i = 0; ok && dy->rank == 4 && i < 4; i++) ok = dy->shape[i] < 0 || want[i] < 0 || dy->shape[i] == want[i];
  if (ok) return TL_OK;
  char b1[200], b2[200];
  tl_meta w = {dy->dtype, 4, {want[0], want[1], want[2], want[3]}};
  return tl_error(TL_INVALID_ARGUMENT, "out_backprop is %s, but the convolution's output is %s",
                  fmt_meta(dy, b1, sizeof b1), fmt_meta(&w, b2, sizeof b2));
}

/* ---- shape rules ------------------------------------------------------------ */

static tl_status conv_infer_common(TL_INFER_ARGS, bool dw) {
  (void)op, (void)n_in;
  tl_status s = tl_nn_need_float(in[0]->dtype, "input");
  geom g;
  if (s || (s = make_geom(attr, in[0], in[1], dw, &g))) return s;
  int64_t sh[4] = {g.N, g.OH, g.OW, g.OC};
  return tl_meta_push(out, in[0]->dtype, 4, sh) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}
static tl_status conv2d_infer(TL_INFER_ARGS) { return conv_infer_common(op, in, n_in, attr, out, false); }
static tl_status dwconv_infer(TL_INFER_ARGS) { return conv_infer_common(op, in, n_in, attr, out, true); }

/* backprop_input: in = filter, out_backprop; attr[0] input_sizes. */
static tl_status bpi_infer_common(TL_INFER_ARGS, bool dw) {
  (void)op, (void)n_in;
  tl_meta x;
  geom g;
  tl_status s = tl_nn_need_float(in[0]->dtype, "filter");
  if (s || (s = sizes_meta(&attr[0], "input_sizes", in[0]->dtype, &x)) || (s = make_geom(attr + 1, &x, in[0], dw, &g)) ||
      (s = check_dy(&g, in[1])))
    return s;
  return tl_meta_push_like(out, &x, TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}
static tl_status conv2d_bpi_infer(TL_INFER_ARGS) { return bpi_infer_common(op, in, n_in, attr, out, false); }
static tl_status dw_bpi_infer(TL_INFER_ARGS) { return bpi_infer_common(op, in, n_in, attr, out, true); }

/* backprop_filter: in = input, out_backprop; attr[0] filter_sizes. */
static tl_status bpf_infer_common(TL_INFER_ARGS, bool dw) {
  (void)op, (void)n_in;
  tl_meta f;
  geom g;
  tl_status s = tl_nn_need_float(in[0]->dtype, "input");
  if (s || (s = sizes_meta(&attr[0], "filter_sizes", in[0]->dtype, &f)) || (s = make_geom(attr + 1, in[0], &f, dw, &g)) ||
      (s = check_dy(&g, in[1])))
    return s;
  return tl_meta_push_like(out, &f, TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}
static tl_status conv2d_bpf_infer(TL_INFER_ARGS) { return bpf_infer_common(op, in, n_in, attr, out, false); }
static tl_status dw_bpf_infer(TL_INFER_ARGS) { return bpf_infer_common(op, in, n_in, attr, out, true); }

/* ---- im2col + GEMM kernels ---------------------------------------------------- */

typedef struct conv_job {
  const geom *g;
  const tl_blas_fns *blas;
  tl_dtype dt;
  size_t es;
  const char *x, *w, *dy; /* contiguous inputs (those the op has) */
  char *o;                /* the output */
  char **part;            /* backprop_filter: per-part accumulators */
  int64_t K, P;           /* KH*KW*C, OH*OW */
  int64_t bp, nblk;       /* output pixels per block, blocks per image */
  int64_t nparts;
  bool direct;            /* 1x1, stride 1, no padding: the input is the column matrix */
  atomic_int failed;
} conv_job;

static void gemm(const conv_job *j, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void *a, int64_t lda,
                 const void *b, int64_t ldb, double beta, void *c, int64_t ldc) {
  int A = ta ? TL_CBLAS_TRANS : TL_CBLAS_NO_TRANS, B = tb ? TL_CBLAS_TRANS : TL_CBLAS_NO_TRANS;
  if (j->dt == TL_FLOAT32)
    j->blas->sgemm(TL_CBLAS_ROW_MAJOR, A, B, (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb, (float)beta, c,
                   (int)ldc);
  else
    j->blas->dgemm(TL_CBLAS_ROW_MAJOR, A, B, (int)m, (int)n, (int)k, 1.0, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* Rows p0 .. p0+np of image xn's column matrix ([np, K]) into col. */
static void im2col(const geom *g, size_t es, const char *xn, int64_t p0, int64_t np, char *col) {
  size_t run = (size_t)g->C * es, K = (size_t)(g->KH * g->KW) * run;
  for (int64_t p = 0; p < np; p++) {
    int64_t oh = (p0 + p) / g->OW, ow = (p0 + p) % g->OW;
    char *dst = col + (size_t)p * K;
    for (int64_t kh = 0; kh < g->KH; kh++) {
      int64_t ih = oh * g->sh - g->pt + kh * g->dh;
      if (ih < 0 || ih >= g->H) {
        memset(dst, 0, run * (size_t)g->KW);
        dst += run * (size_t)g->KW;
        continue;
      }
      const char *row = xn + (size_t)(ih * g->W) * run;
      for (int64_t kw = 0; kw < g->KW; kw++, dst += run) {
        int64_t iw = ow * g->sw - g->pl + kw * g->dw;
        if (iw < 0 || iw >= g->W) memset(dst, 0, run);
        else memcpy(dst, row + (size_t)iw * run, run);
      }
    }
  }
}

/* Adds column rows p0 .. p0+np back into image dxn (the adjoint of im2col). */
#define DEF_COL2IM(T, SFX)                                                                  \
  static void col2im_##SFX(const geom *g, const T *col, int64_t p0, int64_t np, T *dxn) {   \
    int64_t C = g->C;                                                                       \
    for (int64_t p = 0; p < np; p++) {                                                      \
      int64_t oh = (p0 + p) / g->OW, ow = (p0 + p) % g->OW;                                 \
      const T *src = col + p * g->KH * g->KW * C;                                           \
      for (int64_t kh = 0; kh < g->KH; kh++) {                                              \
        int64_t ih = oh * g->sh - g->pt + kh * g->dh;                                       \
        if (ih < 0 || ih >= g->H) continue;                                                 \
        for (int64_t kw = 0; kw < g->KW; kw++) {                                            \
          int64_t iw = ow * g->sw - g->pl + kw * g->dw;                                     \
          if (iw < 0 || iw >= g->W) continue;                                               \
          T *d = dxn + (ih * g->W + iw) * C;                                                \
          const T *s = src + (kh * g->KW + kw) * C;                                         \
          for (int64_t c = 0; c < C; c++) d[c] += s[c];                                     \
        }                                                                                   \
      }                                                                                     \
    }                                                                                       \
  }
DEF_COL2IM(float, f32)
DEF_COL2IM(double, f64)

static void col2im(const conv_job *j, const char *col, int64_t p0, int64_t np, char *dxn) {
  if (j->dt == TL_FLOAT32) col2im_f32(j->g, (const float *)col, p0, np, (float *)dxn);
  else col2im_f64(j->g, (const double *)col, p0, np, (double *)dxn);
}

static char *scratch(conv_job *j, int64_t elems) {
  char *p = tl_alloc((size_t)(elems > 0 ? elems : 1) * j->es);
  if (!p) atomic_store(&j->failed, 1);
  return p;
}

/* Units: (image, pixel block). out[pixels, O] = col @ filter[K, O]. */
static void fwd_units(int64_t b, int64_t e, void *ctx) {
  conv_job *j = ctx;
  const geom *g = j->g;
  char *col = j->direct ? NULL : scratch(j, j->bp * j->K);
  if (!j->direct && !col) return;
  for (int64_t u = b; u < e; u++) {
    int64_t n = u / j->nblk, p0 = (u % j->nblk) * j->bp, np = j->P - p0 < j->bp ? j->P - p0 : j->bp;
    const char *xn = j->x + (size_t)(n * g->H * g->W * g->C) * j->es, *a = xn + (size_t)(p0 * g->C) * j->es;
    if (!j->direct) {
      im2col(g, j->es, xn, p0, np, col);
      a = col;
    }
    gemm(j, false, false, np, g->O, j->K, a, j->K, j->w, g->O, 0, j->o + (size_t)((n * j->P + p0) * g->O) * j->es, g->O);
  }
  if (col) tl_free(col, (size_t)(j->bp * j->K) * j->es);
}

/* Units: images. dcol = dy @ filter^T, scattered back with col2im. */
static void bpi_units(int64_t b, int64_t e, void *ctx) {
  conv_job *j = ctx;
  const geom *g = j->g;
  char *col = j->direct ? NULL : scratch(j, j->bp * j->K);
  if (!j->direct && !col) return;
  size_t img = (size_t)(g->H * g->W * g->C) * j->es;
  for (int64_t n = b; n < e; n++) {
    char *dxn = j->o + (size_t)n * img;
    const char *dyn = j->dy + (size_t)(n * j->P * g->O) * j->es;
    if (j->direct) {
      gemm(j, false, true, j->P, g->C, g->O, dyn, g->O, j->w, g->O, 0, dxn, g->C);
      continue;
    }
    memset(dxn, 0, img);
    for (int64_t p0 = 0; p0 < j->P; p0 += j->bp) {
      int64_t np = j->P - p0 < j->bp ? j->P - p0 : j->bp;
      gemm(j, false, true, np, j->K, g->O, dyn + (size_t)(p0 * g->O) * j->es, g->O, j->w, g->O, 0, col, j->K);
      col2im(j, col, p0, np, dxn);
    }
  }
  if (col) tl_free(col, (size_t)(j->bp * j->K) * j->es);
}

/* Units: parts of the (image, block) list; part i accumulates col^T @ dy. */
static void bpf_units(int64_t b, int64_t e, void *ctx) {
  conv_job *j = ctx;
  const geom *g = j->g;
  int64_t total = g->N * j->nblk;
  char *col = j->direct ? NULL : scratch(j, j->bp * j->K);
  if (!j->direct && !col) return;
  for (int64_t part = b; part < e; part++) {
    char *acc = j->part[part];
    memset(acc, 0, (size_t)(j->K * g->O) * j->es);
    int64_t u0 = total * part / j->nparts, u1 = total * (part + 1) / j->nparts;
    for (int64_t u = u0; u < u1; u++) {
      int64_t n = u / j->nblk, p0 = (u % j->nblk) * j->bp, np = j->P - p0 < j->bp ? j->P - p0 : j->bp;
      const char *xn = j->x + (size_t)(n * g->H * g->W * g->C) * j->es, *a = xn + (size_t)(p0 * g->C) * j->es;
      if (!j->direct) {
        im2col(g, j->es, xn, p0, np, col);
        a = col;
      }
      gemm(j, true, false, j->K, g->O, np, a, j->K, j->dy + (size_t)((n * j->P + p0) * g->O) * j->es, g->O, 1, acc,
           g->O);
    }
  }
  if (col) tl_free(col, (size_t)(j->bp * j->K) * j->es);
}

/* Below this many multiply-adds an op runs on the calling thread. */
#define PARALLEL_MIN_MACS ((int64_t)1 << 20)
/* Column blocks hold at most this many elements (1 MiB of float32). */
#define COL_ELEMS ((int64_t)1 << 18)

static bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

/* The column sizes and pixel blocks of a job over geometry g. */
static void job_sizes(conv_job *j, const geom *g) {
  j->g = g;
  j->K = g->KH * g->KW * g->C;
  j->P = g->OH * g->OW;
  j->direct = g->KH == 1 && g->KW == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 && g->OH == g->H &&
              g->OW == g->W;
  int64_t bp = j->K > 0 ? COL_ELEMS / j->K : j->P;
  if (bp < 16) bp = 16;
  j->bp = j->direct || bp > j->P ? j->P : bp;
  if (j->bp < 1) j->bp = 1;
  j->nblk = (j->P + j->bp - 1) / j->bp;
}

/* Geometry from concrete tensors, and the job's sizes. */
static tl_status job_init(conv_job *j, geom *g, const tl_attr *a, tl_tensor *x, tl_tensor *f, bool dw) {
  memset(j, 0, sizeof *j);
  atomic_init(&j->failed, 0);
  tl_status s = make_geom(a, &x->meta, &f->meta, dw, g);
  if (s) return s;
  j->dt = x->dtype;
  j->es = tl_dtypes[x->dtype].size;
  job_sizes(j, g);
  if (!dw) {
    if (!fits_int(j->K) || !fits_int(j->P * (g->C > g->O ? g->C : g->O)) || !fits_int(g->O) || !fits_int(g->C))
      return tl_error(TL_UNIMPLEMENTED, "the convolution is too large for one BLAS call (K=%" PRId64 ", pixels=%" PRId64 ")",
                      j->K, j->P);
    if (!(j->blas = tl_blas())) return tl_last_status();
  }
  return TL_OK;
}

static void run_units(conv_job *j, int64_t units, int64_t macs, tl_range_fn fn) {
  if (tl_num_threads() > 1 && macs >= PARALLEL_MIN_MACS && units > 1) tl_parallel_for(units, 1, fn, j);
  else fn(0, units, j);
}

static tl_status contig2(tl_tensor *a, tl_tensor *b, tl_tensor **ca, tl_tensor **cb) {
  tl_status s = tl_tensor_contiguous(a, ca);
  if (s) return s;
  if ((s = tl_tensor_contiguous(b, cb))) tl_tensor_release(*ca);
  return s;
}

static tl_status finish(conv_job *j, tl_tensor *a, tl_tensor *b) {
  tl_tensor_release(a);
  tl_tensor_release(b);
  if (atomic_load(&j->failed)) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory for the convolution's scratch");
  return TL_OK;
}


/* With stride 1 the input gradient is a forward convolution of dy with the
 * filter flipped in space and transposed ([KH, KW, O, C]): dx[i] sums
 * dy[i + pt - k*d] w[k], i.e. dy at i - pt' + k'*d with k' = K-1-k and
 * pt' = (K-1)*d - pt (im2col reads outside dy as zeros, whatever the
 * sign of pt'). That runs as fast as the forward pass, where the col2im
 * form multiplies with an inner dimension of only O. */
static tl_status bpi_as_conv(conv_job *j, const geom *g) {
  size_t es = j->es, fbytes = (size_t)(g->KH * g->KW * g->C * g->O) * es;
  char *wf = tl_alloc(fbytes ? fbytes : 1);
  if (!wf) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory for the convolution's scratch");
  for (int64_t kh = 0; kh < g->KH; kh++)
    for (int64_t kw = 0; kw < g->KW; kw++)
      for (int64_t c = 0; c < g->C; c++)
        for (int64_t o = 0; o < g->O; o++)
          memcpy(wf + (size_t)((((g->KH - 1 - kh) * g->KW + (g->KW - 1 - kw)) * g->O + o) * g->C + c) * es,
                 j->w + (size_t)(((kh * g->KW + kw) * g->C + c) * g->O + o) * es, es);
  geom g2 = *g;
  g2.H = g->OH, g2.W = g->OW, g2.C = g2.KC = g->O;
  g2.O = g2.OC = g->C, g2.OH = g->H, g2.OW = g->W;
  g2.pt = (g->KH - 1) * g->dh - g->pt, g2.pl = (g->KW - 1) * g->dw - g->pl;
  conv_job j2;
  memset(&j2, 0, sizeof j2);
  atomic_init(&j2.failed, 0);
  j2.blas = j->blas, j2.dt = j->dt, j2.es = es;
  job_sizes(&j2, &g2);
  j2.x = j->dy, j2.w = wf, j2.o = j->o;
  run_units(&j2, g2.N * j2.nblk, g2.N * j2.P * j2.K * g2.O, fwd_units);
  tl_free(wf, fbytes ? fbytes : 1);
  if (atomic_load(&j2.failed)) atomic_store(&j->failed, 1);
  return TL_OK;
}

/* The three ops of a family and which tensors each kernel has. */
typedef enum { FWD, BPI, BPF } conv_kind;

/* A kernel's prologue: contiguous copies *a, *b of in[0], in[1], the
 * geometry (from x and the filter; the backprops read their sizes
 * operand from attr[0], the geometry from attr + 1, and o stands for the
 * missing x or filter) and the job's data pointers. On error nothing is
 * left to release. */
static tl_status begin(conv_job *j, geom *g, conv_kind k, bool dw, const tl_attr *attr, tl_tensor *const *in,
                       tl_tensor *o, tl_tensor **a, tl_tensor **b) {
  tl_status s = contig2(in[0], in[1], a, b);
  if (s) return s;
  tl_tensor *gx = k == BPI ? o : *a, *gf = k == FWD ? *b : k == BPI ? *a : o;
  if ((s = job_init(j, g, k == FWD ? attr : attr + 1, gx, gf, dw))) {
    finish(j, *a, *b);
    return s;
  }
  const char *pa = tl_tensor_data(*a), *pb = tl_tensor_data(*b);
  if (k == FWD) j->x = pa, j->w = pb;
  else if (k == BPI) j->w = pa, j->dy = pb;
  else j->x = pa, j->dy = pb;
  j->o = tl_tensor_data(o);
  return TL_OK;
}

/* backprop_filter: fn fills up to 64 per-part accumulators (the first is
 * the output, of size elements) over `units` of work, summed in part
 * order so results do not depend on scheduling. */
static tl_status run_parts(conv_job *j, int64_t size, int64_t units, int64_t macs, tl_range_fn fn) {
  int nt = tl_num_threads();
  j->nparts = nt > 1 && macs >= PARALLEL_MIN_MACS ? (units < nt ? units : nt) : 1;
  if (j->nparts < 1) j->nparts = 1;
  if (j->nparts > 64) j->nparts = 64;
  char *parts[64];
  size_t bytes = (size_t)size * j->es;
  parts[0] = j->o;
  for (int64_t i = 1; i < j->nparts; i++)
    if (!(parts[i] = tl_alloc(bytes))) {
      for (int64_t k = 1; k < i; k++) tl_free(parts[k], bytes);
      return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory for the convolution's scratch");
    }
  j->part = parts;
  if (j->nparts > 1) tl_parallel_for(j->nparts, 1, fn, j);
  else fn(0, 1, j);
  for (int64_t i = 1; i < j->nparts; i++) {
    if (j->dt == TL_FLOAT32)
      for (int64_t k = 0; k < size; k++) ((float *)j->o)[k] += ((const float *)parts[i])[k];
    else
      for (int64_t k = 0; k < size; k++) ((double *)j->o)[k] += ((const double *)parts[i])[k];
    tl_free(parts[i], bytes);
  }
  j->part = NULL;
  return TL_OK;
}

static tl_status conv2d_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *x, *f, *o = out->items[0];
  geom g;
  conv_job j;
  tl_status s = begin(&j, &g, FWD, false, attr, in, o, &x, &f);
  if (s) return s;
  if (o->size > 0 && j.K == 0) memset(j.o, 0, (size_t)o->size * j.es);
  else if (o->size > 0) run_units(&j, g.N * j.nblk, g.N * j.P * j.K * g.O, fwd_units);
  return finish(&j, x, f);
}

static tl_status conv2d_bpi_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *f, *dy, *o = out->items[0];
  geom g;
  conv_job j;
  tl_status s = begin(&j, &g, BPI, false, attr, in, o, &f, &dy);
  if (s) return s;
  if (o->size > 0 && (j.P == 0 || g.O == 0)) memset(j.o, 0, (size_t)o->size * j.es);
  else if (o->size > 0 && g.sh == 1 && g.sw == 1 && !j.direct) s = bpi_as_conv(&j, &g);
  else if (o->size > 0) run_units(&j, g.N, g.N * j.P * j.K * g.O, bpi_units);
  tl_status s2 = finish(&j, f, dy);
  return s ? s : s2;
}

static tl_status conv2d_bpf_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *x, *dy, *o = out->items[0];
  geom g;
  conv_job j;
  tl_status s = begin(&j, &g, BPF, false, attr, in, o, &x, &dy);
  if (s) return s;
  if (o->size > 0) {
    int64_t units = g.N * j.nblk;
    s = run_parts(&j, o->size, units, units * j.bp * j.K * g.O, bpf_units);
  }
  tl_status s2 = finish(&j, x, dy);
  return s ? s : s2;
}

/* ---- depthwise kernels -------------------------------------------------------- */

#define DEF_DW(T, SFX)                                                                           \
  /* Units: (image, output row). */                                                              \
  static void dw_fwd_##SFX(int64_t b, int64_t e, void *ctx) {                                    \
    const conv_job *j = ctx;                                                                     \
    const geom *g = j->g;                                                                        \
    int64_t C = g->C, M = g->O, OC = g->OC;                                                      \
    const T *x = (const T *)j->x, *f = (const T *)j->w;                                          \
    for (int64_t u = b; u < e; u++) {                                                            \
      int64_t n = u / g->OH, oh = u % g->OH;                                                     \
      const T *xn = x + n * g->H * g->W * C;                                                     \
      T *orow = (T *)j->o + (n * g->OH + oh) * g->OW * OC;                                       \
      for (int64_t ow = 0; ow < g->OW; ow++) {                                                   \
        T *op = orow + ow * OC;                                                                  \
        for (int64_t c = 0; c < OC; c++) op[c] = 0;                                              \
        for (int64_t kh = 0; kh < g->KH; kh++) {                                                 \
          int64_t ih = oh * g->sh - g->pt + kh * g->dh;                                          \
          if (ih < 0 || ih >= g->H) continue;                                                    \
          for (int64_t kw = 0; kw < g->KW; kw++) {                                               \
            int64_t iw = ow * g->sw - g->pl + kw * g->dw;                                        \
            if (iw < 0 || iw >= g->W) continue;                                                  \
            const T *xp = xn + (ih * g->W + iw) * C, *fp = f + (kh * g->KW + kw) * OC;           \
            if (M == 1)                                                                          \
              for (int64_t c = 0; c < C; c++) op[c] += xp[c] * fp[c];                            \
            else                                                                                 \
              for (int64_t c = 0; c < C; c++)                                                    \
                for (int64_t m = 0; m < M; m++) op[c * M + m] += xp[c] * fp[c * M + m];          \
          }                                                                                      \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
  }                                                                                              \
  /* Units: images. */                                                                           \
  static void dw_bpi_##SFX(int64_t b, int64_t e, void *ctx) {                                    \
    const conv_job *j = ctx;                                                                     \
    const geom *g = j->g;                                                                        \
    int64_t C = g->C, M = g->O, OC = g->OC;                                                      \
    const T *f = (const T *)j->w;                                                                \
    for (int64_t n = b; n < e; n++) {                                                            \
      T *dxn = (T *)j->o + n * g->H * g->W * C;                                                  \
      for (int64_t i = 0; i < g->H * g->W * C; i++) dxn[i] = 0;                                  \
      for (int64_t oh = 0; oh < g->OH; oh++)                                                     \
        for (int64_t ow = 0; ow < g->OW; ow++) {                                                 \
          const T *gp = (const T *)j->dy + ((n * g->OH + oh) * g->OW + ow) * OC;                 \
          for (int64_t kh = 0; kh < g->KH; kh++) {                                               \
            int64_t ih = oh * g->sh - g->pt + kh * g->dh;                                        \
            if (ih < 0 || ih >= g->H) continue;                                                  \
            for (int64_t kw = 0; kw < g->KW; kw++) {                                             \
              int64_t iw = ow * g->sw - g->pl + kw * g->dw;                                      \
              if (iw < 0 || iw >= g->W) continue;                                                \
              T *dp = dxn + (ih * g->W + iw) * C;                                                \
              const T *fp = f + (kh * g->KW + kw) * OC;                                          \
              if (M == 1)                                                                        \
                for (int64_t c = 0; c < C; c++) dp[c] += gp[c] * fp[c];                          \
              else                                                                               \
                for (int64_t c = 0; c < C; c++) {                                                \
                  T acc = 0;                                                                     \
                  for (int64_t m = 0; m < M; m++) acc += gp[c * M + m] * fp[c * M + m];          \
                  dp[c] += acc;                                                                  \
                }                                                                                \
            }                                                                                    \
          }                                                                                      \
        }                                                                                        \
    }                                                                                            \
  }                                                                                              \
  /* Units: parts of the batch, each into its own accumulator. */                                \
  static void dw_bpf_##SFX(int64_t b, int64_t e, void *ctx) {                                    \
    const conv_job *j = ctx;                                                                     \
    const geom *g = j->g;                                                                        \
    int64_t C = g->C, M = g->O, OC = g->OC;                                                      \
    for (int64_t part = b; part < e; part++) {                                                   \
      T *acc = (T *)j->part[part];                                                               \
      for (int64_t i = 0; i < g->KH * g->KW * OC; i++) acc[i] = 0;                               \
      for (int64_t n = g->N * part / j->nparts; n < g->N * (part + 1) / j->nparts; n++) {        \
        const T *xn = (const T *)j->x + n * g->H * g->W * C;                                     \
        for (int64_t oh = 0; oh < g->OH; oh++)                                                   \
          for (int64_t ow = 0; ow < g->OW; ow++) {                                               \
            const T *gp = (const T *)j->dy + ((n * g->OH + oh) * g->OW + ow) * OC;               \
            for (int64_t kh = 0; kh < g->KH; kh++) {                                             \
              int64_t ih = oh * g->sh - g->pt + kh * g->dh;                                      \
              if (ih < 0 || ih >= g->H) continue;                                                \
              for (int64_t kw = 0; kw < g->KW; kw++) {                                           \
                int64_t iw = ow * g->sw - g->pl + kw * g->dw;                                    \
                if (iw < 0 || iw >= g->W) continue;                                              \
                const T *xp = xn + (ih * g->W + iw) * C;                                         \
                T *ap = acc + (kh * g->KW + kw) * OC;                                            \
                for (int64_t c = 0; c < C; c++)                                                  \
                  for (int64_t m = 0; m < M; m++) ap[c * M + m] += xp[c] * gp[c * M + m];        \
              }                                                                                  \
            }                                                                                    \
          }                                                                                      \
      }                                                                                          \
    }                                                                                            \
  }
DEF_DW(float, f32)
DEF_DW(double, f64)

static tl_status dwconv_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *x, *f, *o = out->items[0];
  geom g;
  conv_job j;
  tl_status s = begin(&j, &g, FWD, true, attr, in, o, &x, &f);
  if (s) return s;
  if (o->size > 0)
    run_units(&j, g.N * g.OH, o->size * g.KH * g.KW, j.dt == TL_FLOAT32 ? dw_fwd_f32 : dw_fwd_f64);
  return finish(&j, x, f);
}

static tl_status dw_bpi_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *f, *dy, *o = out->items[0];
  geom g;
  conv_job j;
  tl_status s = begin(&j, &g, BPI, true, attr, in, o, &f, &dy);
  if (s) return s;
  if (o->size > 0)
    run_units(&j, g.N, g.N * j.P * g.OC * g.KH * g.KW, j.dt == TL_FLOAT32 ? dw_bpi_f32 : dw_bpi_f64);
  return finish(&j, f, dy);
}

static tl_status dw_bpf_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *x, *dy, *o = out->items[0];
  geom g;
  conv_job j;
  tl_status s = begin(&j, &g, BPF, true, attr, in, o, &x, &dy);
  if (s) return s;
  if (o->size > 0)
    s = run_parts(&j, o->size, g.N, g.N * j.P * g.OC * g.KH * g.KW, j.dt == TL_FLOAT32 ? dw_bpf_f32 : dw_bpf_f64);
  tl_status s2 = finish(&j, x, dy);
  return s ? s : s2;
}

/* ---- gradients ---------------------------------------------------------------- */
/* Each op is linear in each input and the family is closed under adjoints:
 *   y  = conv(x, w)          dx = bpi(w, g)      dw = bpf(x, g)
 *   dx = bpi(w, dy)          d(w) = bpf(G, dy)   d(dy) = conv(G, w)
 *   dw = bpf(x, dy)          d(x) = bpi(H, dy)   d(dy) = conv(x, H)
 * (the depthwise ops alike), so gradients of gradients work. */

typedef struct family {
  const char *fwd, *bpi, *bpf;
} family;
static const family CONV = {"conv2d", "conv2d_backprop_input", "conv2d_backprop_filter"};
static const family DW = {"depthwise_conv2d_native", "depthwise_conv2d_native_backprop_input",
                          "depthwise_conv2d_native_backprop_filter"};

/* The geometry attributes (a: strides first) by name, after slot 0. */
static int geom_attrs(const tl_attr *a, tl_named_attr *na) {
  int n = 1;
  na[n++] = TL_A_INTS("strides", a[A_STRIDES].n, a[A_STRIDES].ints);
  na[n++] = TL_A_STRING("padding", a[A_PADDING].s);
  na[n++] = TL_A_STRING("data_format", a[A_FORMAT].s ? a[A_FORMAT].s : "NHWC");
  if (a[A_DILATIONS].present) na[n++] = TL_A_INTS("dilations", a[A_DILATIONS].n, a[A_DILATIONS].ints);
  if (a[A_EXPLICIT].present) na[n++] = TL_A_INTS("explicit_paddings", a[A_EXPLICIT].n, a[A_EXPLICIT].ints);
  return n;
}

static tl_status call_fwd(const family *fm, const tl_attr *a, tl_tensor *x, tl_tensor *w, tl_tensor **out) {
  tl_named_attr na[8];
  int n = geom_attrs(a, na);
  return tl_call(fm->fwd, 2, (tl_tensor *[]){x, w}, n - 1, na + 1, out);
}
static tl_status call_bpi(const family *fm, const tl_attr *a, const int64_t *xshape, tl_tensor *w, tl_tensor *dy,
                          tl_tensor **out) {
  tl_named_attr na[8];
  int n = geom_attrs(a, na);
  na[0] = TL_A_INTS("input_sizes", 4, xshape);
  return tl_call(fm->bpi, 2, (tl_tensor *[]){w, dy}, n, na, out);
}
static tl_status call_bpf(const family *fm, const tl_attr *a, tl_tensor *x, const int64_t *wshape, tl_tensor *dy,
                          tl_tensor **out) {
  tl_named_attr na[8];
  int n = geom_attrs(a, na);
  na[0] = TL_A_INTS("filter_sizes", 4, wshape);
  return tl_call(fm->bpf, 2, (tl_tensor *[]){x, dy}, n, na, out);
}

static tl_status fwd_grad_common(TL_GRAD_ARGS, const family *fm) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0], *w = in[1], *g = grad_out[0];
  if (!g) return TL_OK;
  tl_status s = TL_OK;
  if (tl_grad_wants(0)) s = call_bpi(fm, attr, x->shape, w, g, &grad_in[0]);
  if (!s && tl_grad_wants(1)) s = call_bpf(fm, attr, x, w->shape, g, &grad_in[1]);
  return s;
}
static tl_status bpi_grad_common(TL_GRAD_ARGS, const family *fm) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *w = in[0], *dy = in[1], *G = grad_out[0];
  if (!G) return TL_OK;
  tl_status s = TL_OK;
  if (tl_grad_wants(0)) s = call_bpf(fm, attr + 1, G, w->shape, dy, &grad_in[0]);
  if (!s && tl_grad_wants(1)) s = call_fwd(fm, attr + 1, G, w, &grad_in[1]);
  return s;
}
static tl_status bpf_grad_common(TL_GRAD_ARGS, const family *fm) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0], *dy = in[1], *H = grad_out[0];
  if (!H) return TL_OK;
  tl_status s = TL_OK;
  if (tl_grad_wants(0)) s = call_bpi(fm, attr + 1, x->shape, H, dy, &grad_in[0]);
  if (!s && tl_grad_wants(1)) s = call_fwd(fm, attr + 1, x, H, &grad_in[1]);
  return s;
}
#define GRAD_ARGS_PASS op, in, n_in, attr, out, n_out, grad_out, grad_in
static tl_status conv2d_grad(TL_GRAD_ARGS) { return fwd_grad_common(GRAD_ARGS_PASS, &CONV); }
static tl_status conv2d_bpi_grad(TL_GRAD_ARGS) { return bpi_grad_common(GRAD_ARGS_PASS, &CONV); }
static tl_status conv2d_bpf_grad(TL_GRAD_ARGS) { return bpf_grad_common(GRAD_ARGS_PASS, &CONV); }
static tl_status dw_grad(TL_GRAD_ARGS) { return fwd_grad_common(GRAD_ARGS_PASS, &DW); }
static tl_status dw_bpi_grad(TL_GRAD_ARGS) { return bpi_grad_common(GRAD_ARGS_PASS, &DW); }
static tl_status dw_bpf_grad(TL_GRAD_ARGS) { return bpf_grad_common(GRAD_ARGS_PASS, &DW); }

#define GEOM_ATTRS "strides:ints?, padding:string?, data_format:string=NHWC, dilations:ints?, explicit_paddings:ints?"
#define FLAGS (TL_OP_SAME_DTYPE | TL_OP_HALF_VIA_F32)

tl_op_def tl_ops_conv[] = {
    {.name = "conv2d", .inputs = "input, filters", .attrs = GEOM_ATTRS, .infer = conv2d_infer,
     .kernel[TL_CPU] = conv2d_kernel, .grad = conv2d_grad, .flags = FLAGS, .api = "-",
     .doc = "2-D convolution, NHWC input and [height, width, in, out] filters (tf.nn.conv2d)."},
    {.name = "conv2d_backprop_input", .inputs = "filters, out_backprop", .attrs = "input_sizes:ints?, " GEOM_ATTRS,
     .infer = conv2d_bpi_infer, .kernel[TL_CPU] = conv2d_bpi_kernel, .grad = conv2d_bpi_grad, .flags = FLAGS,
     .api = "-", .doc = "The gradient of conv2d with respect to its input (also conv2d_transpose)."},
    {.name = "conv2d_backprop_filter", .inputs = "input, out_backprop", .attrs = "filter_sizes:ints?, " GEOM_ATTRS,
     .infer = conv2d_bpf_infer, .kernel[TL_CPU] = conv2d_bpf_kernel, .grad = conv2d_bpf_grad, .flags = FLAGS,
     .api = "-", .doc = "The gradient of conv2d with respect to its filters."},
    {.name = "depthwise_conv2d_native", .inputs = "input, filter", .attrs = GEOM_ATTRS, .infer = dwconv_infer,
     .kernel[TL_CPU] = dwconv_kernel, .grad = dw_grad, .flags = FLAGS, .api = "-",
     .doc = "Depthwise 2-D convolution: [height, width, in, multiplier] filters, in*multiplier outputs."},
    {.name = "depthwise_conv2d_native_backprop_input", .inputs = "filter, out_backprop",
     .attrs = "input_sizes:ints?, " GEOM_ATTRS, .infer = dw_bpi_infer, .kernel[TL_CPU] = dw_bpi_kernel,
     .grad = dw_bpi_grad, .flags = FLAGS, .api = "-", .doc = "The gradient of depthwise_conv2d_native for its input."},
    {.name = "depthwise_conv2d_native_backprop_filter", .inputs = "input, out_backprop",
     .attrs = "filter_sizes:ints?, " GEOM_ATTRS, .infer = dw_bpf_infer, .kernel[TL_CPU] = dw_bpf_kernel,
     .grad = dw_bpf_grad, .flags = FLAGS, .api = "-", .doc = "The gradient of depthwise_conv2d_native for its filter."},
    {0},
};
