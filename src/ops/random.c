/* ops/random.c — the random ops: uniform, normal, truncated normal,
 * shuffle, categorical. They draw their streams from the host generator
 * (core/random.c: tl_random_stream reserves one per call, before any
 * output is written) and write their outputs inside the kernel, on the
 * op's device.
 *
Every op reserves one stream per call (tl_random_stream) and splits the
 * output into fixed chunks of CHUNK elements; chunk c reads the stream from
 * counter c << 28 (each chunk may use 2^30 uint32 values, far more than any
 * rejection loop needs). Results therefore do not depend on the number of
 * threads. Floats use 24 (float32) or 53 (float64) random mantissa bits;
 * normals come from Box-Muller in double precision. */
#include "ops/ops.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 4096
#define SRC_BUF 64

typedef struct rsrc {
  tl_rng r;
  uint32_t buf[SRC_BUF];
  int pos;
} rsrc;

static void rsrc_init(rsrc *s, const tl_rng *base, uint64_t chunk) {
  s->r.key = base->key;
  s->r.counter = base->counter + (chunk << 28);
  s->pos = SRC_BUF;
}

static inline uint32_t next_u32(rsrc *s) {
  if (s->pos == SRC_BUF) {
    tl_rng_fill_u32(&s->r, s->buf, SRC_BUF);
    s->pos = 0;
  }
  return s->buf[s->pos++];
}

static inline uint64_t next_u64(rsrc *s) {
  uint64_t hi = next_u32(s);
  return hi << 32 | next_u32(s);
}

/* [0, 1) with 24 / 53 random bits. */
static inline float u01_f32(rsrc *s) { return (float)(next_u32(s) >> 8) * 0x1p-24f; }
static inline double u01_f64(rsrc *s) { return (double)(next_u64(s) >> 11) * 0x1p-53; }

/* Unbiased integer in [0, range) (Lemire's multiply-and-reject). range 0
 * means 2^64. */
static uint64_t bounded(rsrc *s, uint64_t range) {
  if (range == 0) return next_u64(s);
  if (range <= UINT32_MAX) {
    uint32_t r32 = (uint32_t)range;
    uint64_t m = (uint64_t)next_u32(s) * r32;
    uint32_t l = (uint32_t)m;
    if (l < r32) {
      uint32_t t = (uint32_t)(-r32) % r32;
      while (l < t) {
        m = (uint64_t)next_u32(s) * r32;
        l = (uint32_t)m;
      }
    }
    return m >> 32;
  }
  unsigned __int128 m = (unsigned __int128)next_u64(s) * range;
  uint64_t l = (uint64_t)m;
  if (l < range) {
    uint64_t t = (0 - range) % range;
    while (l < t) {
      m = (unsigned __int128)next_u64(s) * range;
      l = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

/* A pair of standard normals (Box-Muller). float32 outputs take 32-bit
 * uniforms, float64 ones 53-bit uniforms; u1 is in (0, 1] so log is finite. */
static inline void normal_pair(rsrc *s, bool f64, double *z0, double *z1) {
  double u1, u2;
  if (f64) {
    u1 = (double)((next_u64(s) >> 11) + 1) * 0x1p-53;
    u2 = u01_f64(s);
  } else {
    u1 = ((double)next_u32(s) + 1.0) * 0x1p-32;
    u2 = (double)next_u32(s) * 0x1p-32;
  }
  double r = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
  *z0 = r * cos(th);
  *z1 = r * sin(th);
}

typedef enum rkind { R_UNIFORM_F, R_UNIFORM_I, R_NORMAL, R_TRUNCATED } rkind;

typedef struct rjob {
  rkind kind;
  tl_rng base;
  tl_dtype dt;
  void *out;
  int64_t n;
  double a, b;       /* minval/maxval or mean/stddev */
  int64_t imin;      /* integer uniform: minval */
  uint64_t irange;   /* integer uniform: maxval - minval (0 = 2^64) */
} rjob;

static inline void store(const rjob *j, int64_t i, double v) {
  switch (j->dt) {
  case TL_FLOAT32: ((float *)j->out)[i] = (float)v; break;
  case TL_FLOAT64: ((double *)j->out)[i] = v; break;
  default: tl_store_f64(j->out, j->dt, i, v); break;
  }
}

static void rjob_chunk(const rjob *j, int64_t c) {
  int64_t i0 = c * CHUNK, i1 = i0 + CHUNK < j->n ? i0 + CHUNK : j->n;
  rsrc s;
  rsrc_init(&s, &j->base, (uint64_t)c);
  bool f64 = j->dt == TL_FLOAT64;
  switch (j->kind) {
  case R_UNIFORM_F: {
    double lo = j->a, span = j->b - j->a;
    if (j->dt == TL_FLOAT32) {
      float *o = j->out, hi = (float)j->b;
      for (int64_t i = i0; i < i1; i++) {
        float v = (float)(lo + span * (double)u01_f32(&s));
        o[i] = (v >= hi && span > 0) ? nextafterf(hi, -INFINITY) : v;
      }
    } else if (f64) {
      double *o = j->out;
      for (int64_t i = i0; i < i1; i++) {
        double v = lo + span * u01_f64(&s);
        o[i] = (v >= j->b && span > 0) ? nextafter(j->b, -INFINITY) : v;
      }
    } else {
      for (int64_t i = i0; i < i1; i++) store(j, i, lo + span * (double)u01_f32(&s));
    }
    break;
  }
  case R_UNIFORM_I:
    for (int64_t i = i0; i < i1; i++)
      tl_store_i64(j->out, j->dt, i, (int64_t)((uint64_t)j->imin + bounded(&s, j->irange)));
    break;
  case R_NORMAL:
    for (int64_t i = i0; i < i1; i += 2) {
      double z0, z1;
      normal_pair(&s, f64, &z0, &z1);
      store(j, i, j->a + j->b * z0);
      if (i + 1 < i1) store(j, i + 1, j->a + j->b * z1);
    }
    break;
  case R_TRUNCATED:
    for (int64_t i = i0; i < i1;) {
      double z[2];
      normal_pair(&s, f64, &z[0], &z[1]);
      for (int k = 0; k < 2 && i < i1; k++)
        if (fabs(z[k]) <= 2.0) store(j, i++, j->a + j->b * z[k]);
    }
    break;
  }
}

static void rjob_range(int64_t begin, int64_t end, void *ctx) {
  for (int64_t c = begin; c < end; c++) rjob_chunk(ctx, c);
}

static void rjob_run(rjob *j) {
  tl_parallel_for((j->n + CHUNK - 1) / CHUNK, 4, rjob_range, j);
}

/* attrs: shape, minval, maxval?, dtype, seed?. Checks the attributes and
 * fills the job's parameters; the shape rule and the kernel share it. */
static tl_status uniform_setup(const tl_attr *attr, rjob *j) {
  tl_dtype dt = attr[3].dtype;
  *j = (rjob){.dt = dt};
  tl_dtype_kind kind = tl_dtypes[dt].kind;
  if (kind == TL_KIND_FLOAT) {
    j->kind = R_UNIFORM_F;
    j->a = attr[1].f;
    j->b = attr[2].present ? attr[2].f : 1.0;
    if (!isfinite(j->a) || !isfinite(j->b))
      return tl_error(TL_INVALID_ARGUMENT, "minval and maxval must be finite (got %g and %g)", j->a, j->b);
    return TL_OK;
  }
  if (kind != TL_KIND_INT && kind != TL_KIND_UINT)
    return tl_error(TL_UNIMPLEMENTED, "random uniform values of dtype %s are not supported",
                    tl_dtypes[dt].name);
  j->kind = R_UNIFORM_I;
  if (!attr[2].present)
    return tl_error(TL_INVALID_ARGUMENT, "maxval must be given for an integer dtype (%s)", tl_dtypes[dt].name);
  double lo = attr[1].f, hi = attr[2].f;
  if (lo != floor(lo) || hi != floor(hi))
    return tl_error(TL_INVALID_ARGUMENT, "minval and maxval must be integers for %s (got %g and %g)",
                    tl_dtypes[dt].name, lo, hi);
  if (!(lo < hi)) return tl_error(TL_INVALID_ARGUMENT, "need minval < maxval (got %g and %g)", lo, hi);
  double dmin, dmax; /* the dtype's range; maxval is exclusive */
  switch (dt) {
  case TL_INT8: dmin = INT8_MIN, dmax = INT8_MAX; break;
  case TL_UINT8: dmin = 0, dmax = UINT8_MAX; break;
  case TL_INT16: dmin = INT16_MIN, dmax = INT16_MAX; break;
  case TL_INT32: dmin = INT32_MIN, dmax = INT32_MAX; break;
  default: dmin = -0x1p63, dmax = 0x1p63; break;
  }
  if (lo < dmin || hi - 1 > dmax)
    return tl_error(TL_INVALID_ARGUMENT, "[%g, %g) does not fit in %s", lo, hi, tl_dtypes[dt].name);
  j->imin = lo <= -0x1p63 ? INT64_MIN : (int64_t)lo;
  int64_t imax = hi >= 0x1p63 ? INT64_MAX : (int64_t)hi;
  j->irange = (uint64_t)imax - (uint64_t)j->imin + (hi >= 0x1p63 ? 1u : 0u);
  return TL_OK;
}

/* attrs: shape, mean, stddev, dtype, seed? (normal and truncated_normal;
 * .impl says which). */
static tl_status normal_setup(const tl_op_def *op, const tl_attr *attr, rjob *j) {
  tl_dtype dt = attr[3].dtype;
  if (!tl_dtype_is_float(dt))
    return tl_error(TL_INVALID_ARGUMENT, "dtype must be a floating type, not %s", tl_dtypes[dt].name);
  *j = (rjob){.dt = dt, .a = attr[1].f, .b = attr[2].f, .kind = *(const rkind *)op->impl};
  if (!isfinite(j->a) || !isfinite(j->b))
    return tl_error(TL_INVALID_ARGUMENT, "mean and stddev must be finite (got %g and %g)", j->a, j->b);
  return TL_OK;
}

static tl_status draw_setup(const tl_op_def *op, const tl_attr *attr, rjob *j) {
  return op->impl ? normal_setup(op, attr, j) : uniform_setup(attr, j);
}

static tl_status draw_infer(TL_INFER_ARGS) {
  (void)in, (void)n_in;
  rjob j;
  tl_status s = draw_setup(op, attr, &j);
  return s ? s : tl_meta_push_shape_attr(out, &attr[0], j.dt);
}

/* The stream is reserved only once the call is known to succeed, so a
 * failed call does not advance the generator. */
static tl_status draw_kernel(TL_KERNEL_ARGS) {
  (void)in, (void)n_in;
  rjob j;
  tl_status s = draw_setup(op, attr, &j);
  if (s) return s;
  tl_tensor *t = out->items[0];
  tl_random_stream(&attr[4], &j.base);
  j.out = tl_tensor_data(t);
  j.n = t->size;
  rjob_run(&j);
  return TL_OK;
}

static tl_status shuffle_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  if (in[0]->dtype == TL_STRING)
    return tl_error(TL_UNIMPLEMENTED, "shuffling string tensors is not supported yet");
  return tl_meta_push_like(out, in[0], TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status shuffle_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *x = in[0], *t = out->items[0];
  tl_rng base;
  tl_random_stream(&attr[0], &base);
  if (x->rank == 0 || x->shape[0] <= 1) return tl_tensor_copy_into(t, x);
  tl_tensor *c;
  tl_status s = tl_tensor_contiguous(x, &c);
  if (s) return s;
  int64_t n = x->shape[0];
  int64_t *perm = malloc(sizeof *perm * (size_t)n);
  if (!perm) {
    tl_tensor_release(c);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  rsrc r;
  rsrc_init(&r, &base, 0);
  for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
    int64_t k = (int64_t)bounded(&r, (uint64_t)i + 1);
    int64_t tmp = perm[i];
    perm[i] = perm[k];
    perm[k] = tmp;
  }
  size_t row = (size_t)(x->size / n) * tl_dtypes[x->dtype].size;
  const char *src = tl_tensor_data(c);
  char *dst = tl_tensor_data(t);
  for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * row, src + (size_t)perm[i] * row, row);
  free(perm);
  tl_tensor_release(c);
  return TL_OK;
}

typedef struct cat_job {
  tl_rng base;
  const double *logits; /* [batch, classes] contiguous float64 */
  int64_t classes, samples;
  void *out;
  tl_dtype dt;
  double *cdf;          /* per-thread scratch is allocated per row range */
  bool oom;
} cat_job;

static void cat_rows(int64_t begin, int64_t end, void *ctx) {
  cat_job *j = ctx;
  double *cdf = malloc(sizeof *cdf * (size_t)j->classes);
  if (!cdf) {
    j->oom = true;
    return;
  }
  for (int64_t b = begin; b < end; b++) {
    const double *l = j->logits + b * j->classes;
    double mx = -INFINITY, total = 0;
    for (int64_t k = 0; k < j->classes; k++)
      if (l[k] > mx) mx = l[k];
    for (int64_t k = 0; k < j->classes; k++) {
      total += l[k] == -INFINITY ? 0 : exp(l[k] - mx);
      cdf[k] = total;
    }
    rsrc s;
    rsrc_init(&s, &j->base, (uint64_t)b);
    for (int64_t i = 0; i < j->samples; i++) {
      double u = u01_f64(&s) * total;
      int64_t lo = 0, hi = j->classes - 1; /* first k with cdf[k] > u */
      while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > u) hi = mid;
        else lo = mid + 1;
      }
      tl_store_i64(j->out, j->dt, b * j->samples + i, lo);
    }
  }
  free(cdf);
}

/* inputs: logits; attrs: num_samples, dtype, seed? */
static tl_status categorical_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *x = in[0];
  int64_t ns = attr[0].i;
  tl_dtype dt = attr[1].dtype;
  if (x->rank >= 0 && x->rank != 2)
    return tl_error(TL_INVALID_ARGUMENT, "logits must have shape [batch_size, num_classes] (rank 2, got rank %d)",
                    x->rank);
  if (!tl_dtype_is_float(x->dtype) && !tl_dtype_is_integer(x->dtype))
    return tl_error(TL_INVALID_ARGUMENT, "logits must be numbers, not %s", tl_dtypes[x->dtype].name);
  if (dt != TL_INT32 && dt != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "dtype must be int32 or int64, not %s", tl_dtypes[dt].name);
  if (ns < 0) return tl_error(TL_INVALID_ARGUMENT, "num_samples must be non-negative (got %" PRId64 ")", ns);
  int64_t batch = x->rank == 2 ? x->shape[0] : -1;
  if (x->rank == 2 && x->shape[1] == 0 && batch > 0 && ns > 0)
    return tl_error(TL_INVALID_ARGUMENT, "num_classes must be positive");
  return tl_meta_push(out, dt, 2, (int64_t[]){batch, ns}) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* The logits' values are checked before the stream is reserved. */
static tl_status categorical_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *x = in[0], *t = out->items[0];
  int64_t ns = attr[0].i;
  tl_tensor *c;
  tl_status s = tl_tensor_cast(x, TL_FLOAT64, &c);
  if (s) return s;
  tl_tensor *cc;
  s = tl_tensor_contiguous(c, &cc);
  tl_tensor_release(c);
  if (s) return s;
  const double *l = tl_tensor_data(cc);
  for (int64_t b = 0; b < x->shape[0] && !s; b++) {
    bool any = false;
    for (int64_t k = 0; k < x->shape[1] && !s; k++) {
      double v = l[b * x->shape[1] + k];
      if (isnan(v) || v == INFINITY)
        s = tl_error(TL_INVALID_ARGUMENT, "logits[%" PRId64 ", %" PRId64 "] is %g; logits must be finite or -inf",
                     b, k, v);
      if (v != -INFINITY) any = true;
    }
    if (!s && !any && ns > 0) s = tl_error(TL_INVALID_ARGUMENT, "row %" PRId64 " of logits has no finite value", b);
  }
  if (s) {
    tl_tensor_release(cc);
    return s;
  }
  cat_job j = {.logits = l, .classes = x->shape[1], .samples = ns, .out = tl_tensor_data(t), .dt = attr[1].dtype};
  tl_random_stream(&attr[2], &j.base);
  if (ns > 0) tl_parallel_for(x->shape[0], 64, cat_rows, &j);
  tl_tensor_release(cc);
  if (j.oom) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  return TL_OK;
}

static const rkind normal_kind = R_NORMAL, truncated_kind = R_TRUNCATED;

tl_op_def tl_ops_random[] = {
    {.name = "random_uniform", .attrs = "shape:ints, minval:float=0, maxval:float?, dtype:dtype=float32, seed:int?",
     .infer = draw_infer, .kernel[TL_CPU] = draw_kernel,
     .flags = TL_OP_NO_INPUT | TL_OP_RANDOM | TL_OP_NO_GRADIENT, .api = "tf.random.uniform",
     .doc = "Uniform values in [minval, maxval) (maxval defaults to 1 for floats, required for ints)."},
    {.name = "random_normal", .attrs = "shape:ints, mean:float=0, stddev:float=1, dtype:dtype=float32, seed:int?",
     .infer = draw_infer, .kernel[TL_CPU] = draw_kernel, .impl = &normal_kind,
     .flags = TL_OP_NO_INPUT | TL_OP_RANDOM | TL_OP_NO_GRADIENT, .api = "tf.random.normal",
     .doc = "Normally distributed values with the given mean and stddev."},
    {.name = "truncated_normal", .attrs = "shape:ints, mean:float=0, stddev:float=1, dtype:dtype=float32, seed:int?",
     .infer = draw_infer, .kernel[TL_CPU] = draw_kernel, .impl = &truncated_kind,
     .flags = TL_OP_NO_INPUT | TL_OP_RANDOM | TL_OP_NO_GRADIENT, .api = "tf.random.truncated_normal",
     .doc = "Normal values re-drawn when more than 2 stddev from the mean."},
    {.name = "random_shuffle", .inputs = "value", .attrs = "seed:int?", .infer = shuffle_infer,
     .kernel[TL_CPU] = shuffle_kernel, .flags = TL_OP_RANDOM | TL_OP_NO_GRADIENT, .api = "tf.random.shuffle",
     .doc = "value with its slices along axis 0 in a random order."},
    {.name = "categorical", .inputs = "logits", .attrs = "num_samples:int, dtype:dtype=int64, seed:int?",
     .infer = categorical_infer, .kernel[TL_CPU] = categorical_kernel, .flags = TL_OP_RANDOM | TL_OP_NO_GRADIENT,
     .api = "tf.random.categorical",
     .doc = "Samples class indices from logits [batch, classes]: result [batch, num_samples]."},
    {0},
};
