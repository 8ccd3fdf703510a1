/* ops/scan.c — reductions along one axis that keep an index or every
 * prefix: argmax/argmin and cumsum/cumprod, with their shape and gradient
 * rules.
 *
 * Both see the input as a contiguous [A, R, B] block (R the axis) and
 * stream its rows, so no axis is read with a stride; the A blocks are spread
 * over the thread pool. float16/bfloat16 reach the kernels as float32
 * (TL_OP_HALF_VIA_F32). argmax/argmin take the first index on ties and
 * treat NaN as the extreme (the first NaN wins); integer scans wrap as the
 * dtype does. The cumprod gradient is exact with zeros.
 */
#include "ops/reduce.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The one axis of argmax/cumsum (attr "axis:int"), checked against x. */
static tl_status one_axis(const tl_meta *x, const tl_attr *axis, const char *what, int *ax) {
  if (x->rank == 0)
    return tl_error(TL_INVALID_ARGUMENT, "a scalar has no axis to %s (axis %" PRId64 ")", what, axis->i);
  tl_attr one = *axis;
  one.present = true, one.n = 1, one.ints = &one.i;
  bool mask[TL_MAX_RANK];
  tl_status s = tl_reduce_axes(x, &one, mask);
  if (s) return s;
  *ax = 0;
  while (!mask[*ax]) ++*ax;
  return TL_OK;
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
    if (!best) { /* the same comparisons one column at a time: same result */               \
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

static tl_status arg_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *x = in[0];
  if (!arg_kernels[x->dtype] && !tl_reduce_is_half(x->dtype))
    return tl_reduce_unsupported(x->dtype, "needs a float, integer or bool tensor");
  tl_dtype ot = attr[1].dtype;
  if (ot != TL_INT32 && ot != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "output_type must be int32 or int64, got %s", tl_dtypes[ot].name);
  if (x->rank < 0) return tl_meta_push(out, ot, -1, NULL) ? TL_OK : TL_RESOURCE_EXHAUSTED;
  int ax;
  tl_status s = one_axis(x, &attr[0], "reduce", &ax);
  if (s) return s;
  if (x->shape[ax] == 0) {
    char sh[200];
    return tl_error(TL_INVALID_ARGUMENT, "reduction axis %d is empty in shape %s", ax,
                    tl_shape_format(x->rank, x->shape, sh, sizeof sh));
  }
  tl_meta *m = tl_meta_push(out, ot, 0, NULL);
  if (!m) return TL_RESOURCE_EXHAUSTED;
  for (int i = 0; i < x->rank; i++)
    if (i != ax) m->shape[m->rank++] = x->shape[i];
  return TL_OK;
}

static tl_status arg_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  tl_tensor *x = in[0], *o = out->items[0], *c = NULL;
  if (x->size == 0) return TL_OK; /* nothing to index (a kept dimension is 0) */
  int ax;
  tl_status s = one_axis(&x->meta, &attr[0], "reduce", &ax);
  if (s) return s;
  int64_t A, R, B;
  tl_reduce_split(x, ax, &A, &R, &B);
  /* int64 indices straight into the output; int32 ones through a buffer */
  int64_t *idx = o->dtype == TL_INT64 ? tl_tensor_data(o) : malloc(sizeof(int64_t) * (size_t)o->size);
  if (!idx) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  if (!(s = tl_tensor_contiguous(x, &c))) {
    arg_job j = {arg_kernels[x->dtype], tl_tensor_data(c), tl_dtypes[x->dtype].size, x->shape[ax], B, idx,
                 *(const bool *)op->impl};
    int64_t per = j.R * B;
    tl_parallel_for(A, per >= TL_RED_TASK_GRAIN ? 1 : TL_RED_TASK_GRAIN / per, arg_task, &j);
    tl_tensor_release(c);
    if (o->dtype == TL_INT32)
      for (int64_t i = 0; i < o->size; i++) ((int32_t *)tl_tensor_data(o))[i] = (int32_t)idx[i];
  }
  if (o->dtype != TL_INT64) free(idx);
  return s;
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
  int failed; /* a worker could not get its accumulators: the op fails */
} scan_job;

static void scan_task(int64_t begin, int64_t end, void *ctx) {
  scan_job *j = ctx;
  size_t es = tl_dtypes[j->dt].size, bytes = 8 * (size_t)j->B;
  void *acc = tl_alloc(bytes);
  if (!acc) {
    __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    return;
  }
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
  tl_free(acc, bytes);
}

static tl_status scan_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *x = in[0];
  if (!tl_reduce_is_half(x->dtype) && (!arg_kernels[x->dtype] || x->dtype == TL_BOOL))
    return tl_reduce_unsupported(x->dtype, "needs a float or integer tensor");
  int ax;
  tl_status s = x->rank < 0 ? TL_OK : one_axis(x, &attr[0], "scan", &ax);
  if (s) return s;
  return tl_meta_push_like(out, x, TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status scan_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  tl_tensor *x = in[0], *o = out->items[0], *c;
  if (x->size == 0) return TL_OK;
  int ax;
  tl_status s = one_axis(&x->meta, &attr[0], "scan", &ax);
  if (s || (s = tl_tensor_contiguous(x, &c))) return s;
  scan_job j = {x->dtype, tl_tensor_data(c), tl_tensor_data(o), x->shape[ax], 1, *(const bool *)op->impl,
                attr[1].b, attr[2].b, 0};
  int64_t A;
  tl_reduce_split(x, ax, &A, &j.R, &j.B);
  int64_t per = j.R * j.B;
  tl_parallel_for(A, per >= TL_RED_TASK_GRAIN ? 1 : TL_RED_TASK_GRAIN / per, scan_task, &j);
  tl_tensor_release(c);
  if (j.failed) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory for the scan's accumulators");
  return TL_OK;
}

/* ---- gradients ------------------------------------------------------------ */

static tl_tensor *where3(tl_temps *T, tl_tensor *c, tl_tensor *a, tl_tensor *b) {
  tl_tensor *o, *in[3] = {c, a, b};
  if (!c || !a || !b || tl_call("where", 3, in, 0, NULL, &o)) return NULL;
  return tl_temps_keep(T, o);
}

/* The gradient of a scan is the scan of g the other way round. */
static tl_status cumsum_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_temps T = {0};
  return tl_temps_give(&T,
                       tl_temps_op1(&T, "cumsum", grad_out[0], 3,
                                    (tl_named_attr[]){TL_A_INT("axis", attr[0].i), TL_A_BOOL("exclusive", attr[1].b),
                                                      TL_A_BOOL("reverse", !attr[2].b)}),
                       &grad_in[0], true);
}

/* Whether any element of the bool tensor z is true: reduce_any on z's
 * device, and only its one-byte result copied to the host to be read. */
static tl_status any_true(tl_temps *T, tl_tensor *z, bool *any) {
  tl_tensor *r = tl_temps_op1(T, "reduce_any", z, 0, NULL), *h;
  if (!r) return tl_last_status();
  tl_status s = tl_tensor_copy_to(r, TL_CPU, &h);
  if (s) return s;
  *any = *(const uint8_t *)tl_tensor_data(h) != 0;
  tl_tensor_release(h);
  return TL_OK;
}

/* The gradient of y = cumprod(x) for the upstream g, exact with zeros and,
 * being written in ops, exact in its own derivatives as well. In scan
 * order, before a row's first zero z the usual rscan(g*y)/x (TF's whole
 * rule; rscan is cumsum the other way with the same exclusive flag); at z
 * the products with x_z taken as 1; after z, x_z times the gradient of the
 * same products with x_z replaced by 1 (a recursion, one level per zero in
 * the row): those entries are 0 in value but not in their derivative with
 * respect to x_z. */
static tl_tensor *cumprod_grad_rec(tl_temps *Tout, tl_tensor *x, tl_tensor *g, tl_tensor *y, const tl_named_attr *fwd,
                                   const tl_named_attr *back, const tl_named_attr *count) {
  tl_temps T = {0};
  tl_tensor *zero = tl_temps_scalar(&T, x, x->dtype, 0), *one = tl_temps_scalar(&T, x, x->dtype, 1);
  tl_tensor *z = tl_temps_op2(&T, "equal", x, zero), *res = NULL;
  bool any = false;
  if (z && any_true(&T, z, &any)) z = NULL;
  tl_tensor *a = z ? tl_temps_op1(&T, "cumsum", tl_temps_op2(&T, "multiply", g, y), 3, back) : NULL;
  if (!any) {
    res = tl_temps_op2(&T, "divide", a, x);
  } else {
    tl_tensor *c = tl_temps_op1(&T, "cumsum", tl_temps_cast(&T, z, x->dtype), 2, count);
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

static tl_status cumprod_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  int64_t ax = attr[0].i;
  bool excl = attr[1].b, rev = attr[2].b;
  tl_named_attr fwd[3] = {TL_A_INT("axis", ax), TL_A_BOOL("exclusive", excl), TL_A_BOOL("reverse", rev)};
  tl_named_attr back[3] = {TL_A_INT("axis", ax), TL_A_BOOL("exclusive", excl), TL_A_BOOL("reverse", !rev)};
  tl_named_attr count[2] = {TL_A_INT("axis", ax), TL_A_BOOL("reverse", rev)};
  tl_temps T = {0};
  return tl_temps_give(&T, cumprod_grad_rec(&T, in[0], grad_out[0], out[0], fwd, back, count), &grad_in[0], true);
}

/* ---- the table ------------------------------------------------------------ */

static const bool is_max = true, is_min = false, is_prod = true, is_sum = false;

#define SCAN_ATTRS "axis:int=0, exclusive:bool=false, reverse:bool=false"

tl_op_def tl_ops_scan[] = {
    {.name = "argmax", .inputs = "input", .attrs = "axis:int=0, output_type:dtype=int64", .infer = arg_infer,
     .kernel[TL_CPU] = arg_kernel, .flags = TL_OP_NO_GRADIENT | TL_OP_HALF_VIA_F32, .impl = &is_max,
     .api = "tf.argmax tf.math.argmax", .doc = "Index of the largest value along axis (first on ties)."},
    {.name = "argmin", .inputs = "input", .attrs = "axis:int=0, output_type:dtype=int64", .infer = arg_infer,
     .kernel[TL_CPU] = arg_kernel, .flags = TL_OP_NO_GRADIENT | TL_OP_HALF_VIA_F32, .impl = &is_min,
     .api = "tf.argmin tf.math.argmin", .doc = "Index of the smallest value along axis (first on ties)."},
    {.name = "cumsum", .inputs = "x", .attrs = SCAN_ATTRS, .infer = scan_infer, .kernel[TL_CPU] = scan_kernel,
     .grad = cumsum_grad, .flags = TL_OP_HALF_VIA_F32, .impl = &is_sum, .api = "tf.cumsum tf.math.cumsum",
     .doc = "Cumulative sum along axis."},
    {.name = "cumprod", .inputs = "x", .attrs = SCAN_ATTRS, .infer = scan_infer, .kernel[TL_CPU] = scan_kernel,
     .grad = cumprod_grad, .flags = TL_OP_HALF_VIA_F32, .impl = &is_prod, .api = "tf.math.cumprod",
     .doc = "Cumulative product along axis."},
    {0},
};
