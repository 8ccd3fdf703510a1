/* ops/unary.c — unary element-wise math and activations.
 *
 * One typed kernel per (op, dtype) over a contiguous run, chosen once per
 * call from a table indexed by dtype; the loops vectorize (float32 exp, log,
 * tanh, sigmoid and friends through vmath.h, sqrt through SSE intrinsics
 * because libm's errno handling blocks the vectorizer). The float32 kernels
 * are built twice (x86-64-v3 and baseline) and picked at load time, so AVX2
 * and FMA are used where the CPU has them. float64 uses libm. float16 and
 * bfloat16 compute in float32 and round back: the records say
 * TL_OP_HALF_VIA_F32 and the dispatcher does it, so kernels see float32.
 *
 * dtype rules follow TensorFlow: math that only makes sense on reals
 * (sqrt, exp, sigmoid, ...) rejects integer tensors with an error naming
 * the dtype; negative/abs/sign/square/relu/relu6/round also take integers
 * (integer arithmetic wraps); logical_not takes bool only.
 *
 * Each record's .impl points at its unop (domain, typed kernels); one shape
 * rule and one kernel serve every record. The rule checks the dtype; the
 * kernel fills the output the dispatcher allocated from it.
 * Gradient rules sit in the records, written with ordinary ops so gradients
 * of gradients work; relu, sigmoid and tanh use the fused backward ops of
 * ops/elementwise.c. round/floor/ceil and the predicates have none.
 * Not here: binary ops (ops/elementwise.c), softmax (ops/softmax.c).
 */
#include "ops/ops.h"
#include "ops/domain.h"
#include "ops/ew.h"
#include "autodiff/grad_temps.h"
#include "vmath.h"

#include <math.h>
#include <stdlib.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#pragma GCC optimize("O3")

#define GRAIN_CHEAP 32768 /* memory-bound loops */
#define GRAIN_HEAVY 4096  /* transcendental: worth splitting earlier */

/* out[i] = f(a[i]) for i < n, both contiguous. alpha: the op's float
 * attribute (leaky_relu), else 0. */
typedef void (*un_fn)(void *out, const void *a, int64_t n, double alpha);

#define UN(NAME, TI, TO, EXPR)                                                                   \
  static void NAME(void *out_, const void *a_, int64_t n, double alpha) {                        \
    (void)alpha;                                                                                 \
    TO *restrict o = out_;                                                                       \
    const TI *restrict pa = a_;                                                                  \
    for (int64_t i = 0; i < n; i++) {                                                            \
      TI x = pa[i];                                                                              \
      o[i] = (TO)(EXPR);                                                                         \
    }                                                                                            \
  }
#define UN_HOT(NAME, TI, TO, EXPR) TL_HOT UN(NAME, TI, TO, EXPR)

/* In float32 expressions, tl_vm_sel(c, a, b) replaces c ? a : b where an
 * arm does arithmetic: such a ?: is a branch and stops the vectorizer.
 * Stamping: F = float32 (vmath or libm float), D = float64 (libm double). */
#define STAMP_F(OP, EF, ED)                                                                      \
  UN_HOT(OP##_f32, float, float, EF)                                                             \
  UN(OP##_f64, double, double, ED)
#define STAMP_FB(OP, EF, ED)                                                                     \
  UN_HOT(OP##_f32, float, uint8_t, EF)                                                           \
  UN(OP##_f64, double, uint8_t, ED)
#define STAMP_I(OP, EXPR)                                                                        \
  UN(OP##_i8, int8_t, int8_t, EXPR)                                                              \
  UN(OP##_u8, uint8_t, uint8_t, EXPR)                                                            \
  UN(OP##_i16, int16_t, int16_t, EXPR)                                                           \
  UN(OP##_i32, int32_t, int32_t, EXPR)                                                           \
  UN(OP##_i64, int64_t, int64_t, EXPR)
#define TAB_F(OP) [TL_FLOAT32] = OP##_f32, [TL_FLOAT64] = OP##_f64
#define TAB_I(OP)                                                                                \
  [TL_INT8] = OP##_i8, [TL_UINT8] = OP##_u8, [TL_INT16] = OP##_i16, [TL_INT32] = OP##_i32,       \
  [TL_INT64] = OP##_i64

/* Wrapping negate and multiply (narrow types promote to int first). */
#define WNEG(x)                                                                                  \
  _Generic((x), int32_t: (int32_t)(0u - (uint32_t)(x)), int64_t: (int64_t)(0u - (uint64_t)(x)),  \
           default: -(x))
#define WMUL(x, y)                                                                               \
  _Generic((x), int32_t: (int32_t)((uint32_t)(x) * (uint32_t)(y)),                               \
           int64_t: (int64_t)((uint64_t)(x) * (uint64_t)(y)), default: (x) * (y))

/* x < 0 for any integer type without -Wtype-limits noise on uint8. */
static inline bool is_neg(int64_t v) { return v < 0; }

static const double SELU_SCALE = 1.0507009873554804934193349852946;
static const double SELU_ALPHA = 1.6732632423543772848170429916717;
#define SQRT1_2 0.70710678118654752440
#define SQRT_2_PI 0.79788456080286535588

STAMP_F(neg, -x, -x)
STAMP_I(neg, WNEG(x))
STAMP_F(abs, fabsf(x), fabs(x))
STAMP_I(abs, is_neg(x) ? WNEG(x) : x)
STAMP_F(sign, x > 0 ? 1.0f : (x < 0 ? -1.0f : x), x > 0 ? 1.0 : (x < 0 ? -1.0 : x))
STAMP_I(sign, (x > 0) - is_neg(x))
STAMP_F(square, x * x, x * x)
STAMP_I(square, WMUL(x, x))
STAMP_F(relu, x < 0 ? 0.0f : x, x < 0 ? 0.0 : x)
STAMP_I(relu, is_neg(x) ? 0 : x)
STAMP_F(relu6, x < 0 ? 0.0f : (x > 6 ? 6.0f : x), x < 0 ? 0.0 : (x > 6 ? 6.0 : x))
STAMP_I(relu6, is_neg(x) ? 0 : (x > 6 ? 6 : x))
STAMP_F(round, rintf(x), rint(x)) /* round-half-to-even in the default FP mode */
STAMP_I(round, x)
/* floorf/ceilf do not vectorize under -ftrapping-math; rintf does. */
STAMP_F(floor, tl_vm_sel(rintf(x) > x, rintf(x) - 1.0f, rintf(x)), floor(x))
STAMP_F(ceil, tl_vm_sel(rintf(x) < x, rintf(x) + 1.0f, rintf(x)), ceil(x))
STAMP_F(exp, tl_vexpf(x), exp(x))
STAMP_F(expm1, tl_vexpm1f(x), expm1(x))
STAMP_F(log, tl_vlogf(x), log(x))
STAMP_F(log1p, tl_vlog1pf(x), log1p(x))
STAMP_F(tanh, tl_vtanhf(x), tanh(x))
STAMP_F(sigmoid, tl_vsigmoidf(x), x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)))
STAMP_F(softplus, tl_vsoftplusf(x), x != x ? x : (x > 0 ? x : 0) + log1p(exp(-fabs(x))))
STAMP_F(log_sigmoid, -tl_vsoftplusf(-x), -(x != x ? x : (-x > 0 ? -x : 0) + log1p(exp(-fabs(x)))))
STAMP_F(softsign, x / (1.0f + fabsf(x)), x / (1.0 + fabs(x)))
STAMP_F(elu, tl_vm_sel(x > 0, x, tl_vexpm1f(x)), x > 0 ? x : expm1(x))
STAMP_F(selu, tl_vm_sel(x > 0, (float)SELU_SCALE * x, (float)(SELU_SCALE * SELU_ALPHA) * tl_vexpm1f(x)),
        x > 0 ? SELU_SCALE * x : SELU_SCALE * SELU_ALPHA * expm1(x))
STAMP_F(leaky_relu, tl_vm_sel(x < 0, (float)alpha * x, x), x < 0 ? alpha * x : x)
/* Both gelu forms avoid 1 + (something near -1) for negative x: erfc
 * instead of 1 + erf, and 1 + tanh(z) = 2 sigmoid(2z). */
STAMP_F(gelu, 0.5f * x * erfcf(-x * (float)SQRT1_2), 0.5 * x * erfc(-x * SQRT1_2))
STAMP_F(gelu_tanh, x * tl_vsigmoidf(2.0f * (float)SQRT_2_PI * (x + 0.044715f * x * x * x)),
        x / (1.0 + exp(-2.0 * SQRT_2_PI * (x + 0.044715 * x * x * x))))
STAMP_F(reciprocal, 1.0f / x, 1.0 / x)
STAMP_F(sin, sinf(x), sin(x))
STAMP_F(cos, cosf(x), cos(x))
STAMP_F(tan, tanf(x), tan(x))
STAMP_F(asin, asinf(x), asin(x))
STAMP_F(acos, acosf(x), acos(x))
STAMP_F(atan, atanf(x), atan(x))
STAMP_F(sinh, sinhf(x), sinh(x))
STAMP_F(cosh, coshf(x), cosh(x))
STAMP_F(erf, erff(x), erf(x))
STAMP_FB(is_nan, x != x, x != x)
STAMP_FB(is_inf, fabsf(x) == INFINITY, fabs(x) == INFINITY)
STAMP_FB(is_finite, fabsf(x) < INFINITY, fabs(x) < INFINITY)
UN(not_b, uint8_t, uint8_t, x == 0)

/* sqrt/rsqrt: libm's sqrtf sets errno for x < 0, which keeps GCC from
 * vectorizing it without -fno-math-errno; the SSE instruction gives the
 * same correctly rounded result (NaN for x < 0). */
static void sqrt_f32(void *out_, const void *a_, int64_t n, double alpha) {
  (void)alpha;
  float *o = out_;
  const float *a = a_;
  int64_t i = 0;
#if defined(__SSE2__)
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(o + i, _mm_sqrt_ps(_mm_loadu_ps(a + i)));
  for (; i < n; i++) _mm_store_ss(o + i, _mm_sqrt_ss(_mm_load_ss(a + i)));
#else
  for (; i < n; i++) o[i] = sqrtf(a[i]);
#endif
}
static void sqrt_f64(void *out_, const void *a_, int64_t n, double alpha) {
  (void)alpha;
  double *o = out_;
  const double *a = a_;
  int64_t i = 0;
#if defined(__SSE2__)
  for (; i + 2 <= n; i += 2) _mm_storeu_pd(o + i, _mm_sqrt_pd(_mm_loadu_pd(a + i)));
#endif
  for (; i < n; i++) o[i] = sqrt(a[i]);
}
static void rsqrt_f32(void *out_, const void *a_, int64_t n, double alpha) {
  sqrt_f32(out_, a_, n, alpha);
  float *o = out_;
  for (int64_t i = 0; i < n; i++) o[i] = 1.0f / o[i];
}
static void rsqrt_f64(void *out_, const void *a_, int64_t n, double alpha) {
  sqrt_f64(out_, a_, n, alpha);
  double *o = out_;
  for (int64_t i = 0; i < n; i++) o[i] = 1.0 / o[i];
}

/* ---- op descriptions --------------------------------------------------- */

enum { D_FLOAT = TL_D_FLOAT, D_INT = TL_D_INT, D_BOOL = TL_D_BOOL, D_NUM = TL_D_NUM };

/* Indexes of unops[]; each record's .impl names its entry. */
enum {
  UN_NEGATIVE, UN_ABS, UN_SIGN, UN_SQUARE, UN_RELU, UN_RELU6, UN_ROUND, UN_FLOOR, UN_CEIL,
  UN_SQRT, UN_RSQRT, UN_EXP, UN_EXPM1, UN_LOG, UN_LOG1P, UN_TANH, UN_SIGMOID, UN_SOFTPLUS,
  UN_LOG_SIGMOID, UN_SOFTSIGN, UN_ELU, UN_SELU, UN_LEAKY_RELU, UN_GELU, UN_RECIPROCAL, UN_SIN,
  UN_COS, UN_TAN, UN_ASIN, UN_ACOS, UN_ATAN, UN_SINH, UN_COSH, UN_ERF, UN_IS_NAN, UN_IS_INF,
  UN_IS_FINITE, UN_LOGICAL_NOT,
  UN_COUNT
};

typedef struct unop {
  unsigned domain;
  bool bool_out;
  bool heavy;
  bool alpha_attr;      /* attribute 0 is the kernels' float alpha (leaky_relu) */
  const un_fn *approx;  /* attribute 0 true selects these kernels (gelu's tanh form) */
  un_fn k[TL_DTYPE_COUNT];
} unop;

static const un_fn gelu_tanh_k[TL_DTYPE_COUNT] = {TAB_F(gelu_tanh)};

static const unop unops[UN_COUNT] = {
    [UN_NEGATIVE] = {D_NUM, false, false, false, NULL, {TAB_F(neg), TAB_I(neg)}},
    [UN_ABS] = {D_NUM, false, false, false, NULL, {TAB_F(abs), TAB_I(abs)}},
    [UN_SIGN] = {D_NUM, false, false, false, NULL, {TAB_F(sign), TAB_I(sign)}},
    [UN_SQUARE] = {D_NUM, false, false, false, NULL, {TAB_F(square), TAB_I(square)}},
    [UN_RELU] = {D_NUM, false, false, false, NULL, {TAB_F(relu), TAB_I(relu)}},
    [UN_RELU6] = {D_NUM, false, false, false, NULL, {TAB_F(relu6), TAB_I(relu6)}},
    [UN_ROUND] = {D_NUM, false, false, false, NULL, {TAB_F(round), TAB_I(round)}},
    [UN_FLOOR] = {D_FLOAT, false, false, false, NULL, {TAB_F(floor)}},
    [UN_CEIL] = {D_FLOAT, false, false, false, NULL, {TAB_F(ceil)}},
    [UN_SQRT] = {D_FLOAT, false, false, false, NULL, {TAB_F(sqrt)}},
    [UN_RSQRT] = {D_FLOAT, false, false, false, NULL, {TAB_F(rsqrt)}},
    [UN_EXP] = {D_FLOAT, false, true, false, NULL, {TAB_F(exp)}},
    [UN_EXPM1] = {D_FLOAT, false, true, false, NULL, {TAB_F(expm1)}},
    [UN_LOG] = {D_FLOAT, false, true, false, NULL, {TAB_F(log)}},
    [UN_LOG1P] = {D_FLOAT, false, true, false, NULL, {TAB_F(log1p)}},
    [UN_TANH] = {D_FLOAT, false, true, false, NULL, {TAB_F(tanh)}},
    [UN_SIGMOID] = {D_FLOAT, false, true, false, NULL, {TAB_F(sigmoid)}},
    [UN_SOFTPLUS] = {D_FLOAT, false, true, false, NULL, {TAB_F(softplus)}},
    [UN_LOG_SIGMOID] = {D_FLOAT, false, true, false, NULL, {TAB_F(log_sigmoid)}},
    [UN_SOFTSIGN] = {D_FLOAT, false, false, false, NULL, {TAB_F(softsign)}},
    [UN_ELU] = {D_FLOAT, false, true, false, NULL, {TAB_F(elu)}},
    [UN_SELU] = {D_FLOAT, false, true, false, NULL, {TAB_F(selu)}},
    [UN_LEAKY_RELU] = {D_FLOAT, false, false, true, NULL, {TAB_F(leaky_relu)}},
    [UN_GELU] = {D_FLOAT, false, true, false, gelu_tanh_k, {TAB_F(gelu)}},
    [UN_RECIPROCAL] = {D_FLOAT, false, false, false, NULL, {TAB_F(reciprocal)}},
    [UN_SIN] = {D_FLOAT, false, true, false, NULL, {TAB_F(sin)}},
    [UN_COS] = {D_FLOAT, false, true, false, NULL, {TAB_F(cos)}},
    [UN_TAN] = {D_FLOAT, false, true, false, NULL, {TAB_F(tan)}},
    [UN_ASIN] = {D_FLOAT, false, true, false, NULL, {TAB_F(asin)}},
    [UN_ACOS] = {D_FLOAT, false, true, false, NULL, {TAB_F(acos)}},
    [UN_ATAN] = {D_FLOAT, false, true, false, NULL, {TAB_F(atan)}},
    [UN_SINH] = {D_FLOAT, false, true, false, NULL, {TAB_F(sinh)}},
    [UN_COSH] = {D_FLOAT, false, true, false, NULL, {TAB_F(cosh)}},
    [UN_ERF] = {D_FLOAT, false, true, false, NULL, {TAB_F(erf)}},
    [UN_IS_NAN] = {D_FLOAT, true, false, false, NULL, {TAB_F(is_nan)}},
    [UN_IS_INF] = {D_FLOAT, true, false, false, NULL, {TAB_F(is_inf)}},
    [UN_IS_FINITE] = {D_FLOAT, true, false, false, NULL, {TAB_F(is_finite)}},
    [UN_LOGICAL_NOT] = {D_BOOL, true, false, false, NULL, {[TL_BOOL] = not_b}},
};

/* ---- shape rule and kernel ---------------------------------------------- */

/* The output has x's shape; float16/bfloat16 are accepted where float32
 * has a kernel (the dispatcher computes them in float32). */
static tl_status unary_infer(TL_INFER_ARGS) {
  (void)n_in, (void)attr;
  const unop *u = op->impl;
  tl_dtype dt = in[0]->dtype;
  if (!u->k[dt]) { /* else dt has a kernel, so is in the domain */
    if (!tl_domain_ok(u->domain, dt)) return tl_domain_error(op->name, u->domain, dt);
    tl_dtype cdt = (dt == TL_FLOAT16 || dt == TL_BFLOAT16) ? TL_FLOAT32 : dt;
    if (!u->k[cdt]) return tl_domain_error(op->name, u->domain, dt);
  }
  return tl_meta_push_like(out, in[0], u->bool_out ? TL_BOOL : dt) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

typedef struct un_job {
  un_fn k;
  char *o;
  const char *a;
  int64_t eo, ea;
  double alpha;
} un_job;

static void un_range(int64_t begin, int64_t end, void *ctx) {
  un_job *j = ctx;
  j->k(j->o + begin * j->eo, j->a + begin * j->ea, end - begin, j->alpha);
}

/* Fills out[0] (x's shape, contiguous); a strided x is made contiguous in
 * a scratch copy first. */
static tl_status unary_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  const unop *u = op->impl;
  const un_fn *table = u->approx && attr[0].b ? u->approx : u->k;
  un_fn k = table[in[0]->dtype];
  TL_ASSERT(k); /* the shape rule admitted the dtype; halves arrive as float32 */
  double alpha = u->alpha_attr ? attr[0].f : 0;
  tl_tensor *o = out->items[0], *a = in[0], *c = NULL;
  if (!tl_tensor_is_contiguous(a)) {
    tl_status s = tl_tensor_contiguous(a, &c);
    if (s) return s;
    a = c;
  }
  int64_t grain = u->heavy ? GRAIN_HEAVY : GRAIN_CHEAP;
  if (o->size < grain) {
    k(tl_tensor_data(o), tl_tensor_data(a), o->size, alpha);
  } else {
    un_job j = {k, tl_tensor_data(o), tl_tensor_data(a), (int64_t)tl_dtypes[o->dtype].size,
                (int64_t)tl_dtypes[a->dtype].size, alpha};
    tl_parallel_for(o->size, grain, un_range, &j);
  }
  tl_tensor_release(c);
  return TL_OK;
}

/* For the fused element-wise op (ops/ew.h). */
tl_ew_un_fn tl_ew_unary_fn(const tl_op_def *op, const tl_attr *attr, tl_dtype dt, double *alpha) {
  if (op->kernel[TL_CPU] != unary_kernel) return NULL;
  const unop *u = op->impl;
  if (u->bool_out) return NULL;
  const un_fn *table = u->approx && attr[0].b ? u->approx : u->k;
  *alpha = u->alpha_attr ? attr[0].f : 0;
  return table[dt];
}

/* ---- gradients ---------------------------------------------------------- */
/* Written with ordinary ops (tl_call), so an outer tape records the
 * backward pass and gradients of gradients work. g is the output's
 * gradient, x the input, y the output. relu, sigmoid and tanh use the fused
 * backward ops of ops/elementwise.c (relu_grad, sigmoid_grad, tanh_grad):
 * they run in every training step. The others are compositions; where a
 * derivative has a kink or a select, it is written with 0/1 masks or
 * minimum so both arms stay finite (no 0 * inf NaN in second derivatives).
 * Temporaries live in a small list released at the end; a helper given a
 * NULL operand (an earlier failure) returns NULL, and tl_temps_give reports it. */

/* a * v for a constant v */
static tl_tensor *scale(tl_temps *T, tl_tensor *a, double v) {
  return a ? tl_temps_op2(T, "multiply", a, tl_temps_scalar(T, a, a->dtype, v)) : NULL;
}

/* Each rule: g, x, y, and a temporaries list; nothing to do without an
 * incoming gradient or for integer inputs. */
#define GRAD_PROLOGUE                                                                            \
  TL_UNUSED_GRAD_ARGS;                                                                           \
  tl_tensor *g = grad_out[0], *x = in[0], *y = out[0];                                           \
  (void)x, (void)y;                                                                              \
  if (!g || tl_dtypes[x->dtype].kind != TL_KIND_FLOAT) return TL_OK;                             \
  tl_temps T = {0}

#define MUL(a, b) tl_temps_op2(&T, "multiply", a, b)
#define ADD(a, b) tl_temps_op2(&T, "add", a, b)
#define SUB(a, b) tl_temps_op2(&T, "subtract", a, b)
#define DIV(a, b) tl_temps_op2(&T, "divide", a, b)
#define F(name, a) tl_temps_un(&T, name, a)
#define K(v) tl_temps_scalar(&T, x, x->dtype, v)

static tl_status negative_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, F("negative", g), grad_in, true);
}
static tl_status abs_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, MUL(g, F("sign", x)), grad_in, true);
}
/* TF returns zeros, not "no gradient" (zeros_like: on x's device). */
static tl_status sign_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, F("zeros_like", x), grad_in, true);
}
static tl_status square_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  tl_tensor *t = MUL(g, x);
  return tl_temps_give(&T, ADD(t, t), grad_in, true);
}
static tl_status relu_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, tl_temps_op2(&T, "relu_grad", g, y), grad_in, true);
}
/* g where 0 < y < 6: relu_grad twice (y > 0, then 6 - y > 0). */
static tl_status relu6_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, tl_temps_op2(&T, "relu_grad", tl_temps_op2(&T, "relu_grad", g, y), SUB(K(6.0), y)), grad_in, true);
}
/* g / (2 sqrt(x)) */
static tl_status sqrt_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, DIV(g, ADD(y, y)), grad_in, true);
}
/* -g y^3 / 2 */
static tl_status rsqrt_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, scale(&T, MUL(MUL(MUL(g, y), y), y), -0.5), grad_in, true);
}
static tl_status exp_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, MUL(g, y), grad_in, true);
}
static tl_status expm1_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, MUL(g, F("exp", x)), grad_in, true);
}
static tl_status log_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, DIV(g, x), grad_in, true);
}
static tl_status log1p_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, DIV(g, ADD(x, K(1.0))), grad_in, true);
}
static tl_status tanh_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, tl_temps_op2(&T, "tanh_grad", y, g), grad_in, true);
}
static tl_status sigmoid_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, tl_temps_op2(&T, "sigmoid_grad", y, g), grad_in, true);
}
static tl_status softplus_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, MUL(g, F("sigmoid", x)), grad_in, true);
}
/* d log(sigmoid(x)) = sigmoid(-x) */
static tl_status log_sigmoid_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, MUL(g, F("sigmoid", F("negative", x))), grad_in, true);
}
static tl_status softsign_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, DIV(g, F("square", ADD(F("abs", x), K(1.0)))), grad_in, true);
}
/* elu' = 1 for x > 0, e^x otherwise = exp(min(x, 0)) (TF's EluGrad at 0 too) */
static tl_status elu_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, MUL(g, F("exp", tl_temps_op2(&T, "minimum", x, K(0.0)))), grad_in, true);
}
/* selu' = scale for x > 0, scale alpha e^x otherwise
 *       = scale alpha exp(min(x, 0)) + scale (1 - alpha) (x > 0) */
static tl_status selu_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  tl_tensor *neg = scale(&T, F("exp", tl_temps_op2(&T, "minimum", x, K(0.0))), SELU_SCALE * SELU_ALPHA);
  tl_tensor *pos = tl_temps_op2(&T, "relu_grad", K(SELU_SCALE * (1.0 - SELU_ALPHA)), x);
  return tl_temps_give(&T, MUL(g, ADD(neg, pos)), grad_in, true);
}
/* g where x > 0, alpha g elsewhere (TF's LeakyReluGrad) */
static tl_status leaky_relu_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  double alpha = attr ? attr[0].f : 0.2;
  tl_tensor *pos = tl_temps_op2(&T, "relu_grad", scale(&T, g, 1.0 - alpha), x);
  return tl_temps_give(&T, ADD(pos, scale(&T, g, alpha)), grad_in, true);
}
/* exact: Phi(x) + x phi(x); tanh form, y = x s with s = sigmoid(2u),
 * u = c (x + k x^3): y' = s + x s (1 - s) 2c (1 + 3k x^2). */
static tl_status gelu_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  bool approximate = attr && attr[0].b;
  tl_tensor *x2 = MUL(x, x), *d;
  if (!approximate) {
    tl_tensor *cdf = ADD(scale(&T, F("erf", scale(&T, x, SQRT1_2)), 0.5), K(0.5));
    tl_tensor *pdf = scale(&T, F("exp", scale(&T, x2, -0.5)), 0.39894228040143267794);
    d = ADD(cdf, MUL(x, pdf));
  } else {
    const double k = 0.044715, c2 = 2.0 * SQRT_2_PI;
    tl_tensor *s = F("sigmoid", scale(&T, ADD(x, scale(&T, MUL(x2, x), k)), c2));
    tl_tensor *inner = ADD(scale(&T, x2, 3.0 * k * c2), K(c2));
    d = ADD(s, tl_temps_op2(&T, "sigmoid_grad", s, MUL(x, inner)));
  }
  return tl_temps_give(&T, MUL(g, d), grad_in, true);
}
/* -g y^2 */
static tl_status reciprocal_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, F("negative", MUL(MUL(g, y), y)), grad_in, true);
}
static tl_status sin_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, MUL(g, F("cos", x)), grad_in, true);
}
static tl_status cos_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, F("negative", MUL(g, F("sin", x))), grad_in, true);
}
static tl_status tan_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, DIV(g, F("square", F("cos", x))), grad_in, true);
}
static tl_status asin_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, DIV(g, F("sqrt", SUB(K(1.0), MUL(x, x)))), grad_in, true);
}
static tl_status acos_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, F("negative", DIV(g, F("sqrt", SUB(K(1.0), MUL(x, x))))), grad_in, true);
}
static tl_status atan_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, DIV(g, ADD(MUL(x, x), K(1.0))), grad_in, true);
}
static tl_status sinh_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, MUL(g, F("cosh", x)), grad_in, true);
}
static tl_status cosh_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  return tl_temps_give(&T, MUL(g, F("sinh", x)), grad_in, true);
}
/* 2/sqrt(pi) e^(-x^2) */
static tl_status erf_grad(TL_GRAD_ARGS) {
  GRAD_PROLOGUE;
  tl_tensor *e = F("exp", F("negative", MUL(x, x)));
  return tl_temps_give(&T, MUL(g, scale(&T, e, 1.12837916709551257390)), grad_in, true);
}

#undef MUL
#undef ADD
#undef SUB
#undef DIV
#undef F
#undef K

#define UNARY_FLAGS TL_OP_HALF_VIA_F32
#define UNARY_OP(ID, NAME, API, GRAD, DOC)                                                       \
  {.name = NAME, .inputs = "x", .infer = unary_infer, .kernel[TL_CPU] = unary_kernel, .grad = GRAD, \
   .flags = UNARY_FLAGS, .api = API, .doc = DOC, .impl = &unops[ID]}
#define UNARY_NOGRAD(ID, NAME, API, DOC)                                                         \
  {.name = NAME, .inputs = "x", .infer = unary_infer, .kernel[TL_CPU] = unary_kernel,            \
   .flags = UNARY_FLAGS | TL_OP_NO_GRADIENT, .api = API, .doc = DOC, .impl = &unops[ID]}

tl_op_def tl_ops_unary[] = {
    UNARY_OP(UN_NEGATIVE, "negative", "tf.negative tf.math.negative", negative_grad, "-x element-wise."),
    UNARY_OP(UN_ABS, "abs", "tf.abs tf.math.abs", abs_grad, "|x| element-wise."),
    UNARY_OP(UN_SIGN, "sign", "tf.sign tf.math.sign", sign_grad,
             "-1, 0 or 1 by the sign of x (NaN stays NaN)."),
    UNARY_OP(UN_SQUARE, "square", "tf.square tf.math.square", square_grad, "x * x element-wise."),
    UNARY_OP(UN_RELU, "relu", "tf.nn.relu", relu_grad, "max(x, 0)."),
    UNARY_OP(UN_RELU6, "relu6", "tf.nn.relu6", relu6_grad, "min(max(x, 0), 6)."),
    UNARY_NOGRAD(UN_ROUND, "round", "tf.round tf.math.round",
                 "Rounds half to even (banker's rounding), as TF."),
    UNARY_NOGRAD(UN_FLOOR, "floor", "tf.floor tf.math.floor", "Largest integer <= x."),
    UNARY_NOGRAD(UN_CEIL, "ceil", "tf.math.ceil", "Smallest integer >= x."),
    UNARY_OP(UN_SQRT, "sqrt", "tf.sqrt tf.math.sqrt", sqrt_grad, "Square root (NaN for x < 0)."),
    UNARY_OP(UN_RSQRT, "rsqrt", "tf.math.rsqrt", rsqrt_grad, "1 / sqrt(x)."),
    UNARY_OP(UN_EXP, "exp", "tf.exp tf.math.exp", exp_grad, "e^x."),
    UNARY_OP(UN_EXPM1, "expm1", "tf.math.expm1", expm1_grad, "e^x - 1, accurate near 0."),
    UNARY_OP(UN_LOG, "log", "tf.math.log", log_grad, "Natural logarithm (-inf at 0, NaN below)."),
    UNARY_OP(UN_LOG1P, "log1p", "tf.math.log1p", log1p_grad, "log(1 + x), accurate near 0."),
    UNARY_OP(UN_TANH, "tanh", "tf.tanh tf.math.tanh tf.nn.tanh", tanh_grad, "Hyperbolic tangent."),
    UNARY_OP(UN_SIGMOID, "sigmoid", "tf.sigmoid tf.math.sigmoid tf.nn.sigmoid", sigmoid_grad,
             "1 / (1 + e^-x)."),
    UNARY_OP(UN_SOFTPLUS, "softplus", "tf.math.softplus tf.nn.softplus", softplus_grad,
             "log(1 + e^x) without overflow."),
    UNARY_OP(UN_LOG_SIGMOID, "log_sigmoid", "tf.math.log_sigmoid", log_sigmoid_grad,
             "log(sigmoid(x)) = -softplus(-x)."),
    UNARY_OP(UN_SOFTSIGN, "softsign", "tf.nn.softsign tf.math.softsign", softsign_grad, "x / (1 + |x|)."),
    UNARY_OP(UN_ELU, "elu", "tf.nn.elu", elu_grad, "x for x > 0, e^x - 1 otherwise."),
    UNARY_OP(UN_SELU, "selu", "tf.nn.selu", selu_grad, "Scaled ELU (Klambauer et al.)."),
    {.name = "leaky_relu", .inputs = "features", .attrs = "alpha:float=0.2", .infer = unary_infer,
     .kernel[TL_CPU] = unary_kernel, .grad = leaky_relu_grad, .flags = UNARY_FLAGS,
     .api = "tf.nn.leaky_relu", .doc = "x for x >= 0, alpha * x otherwise.", .impl = &unops[UN_LEAKY_RELU]},
    {.name = "gelu", .inputs = "features", .attrs = "approximate:bool=false", .infer = unary_infer,
     .kernel[TL_CPU] = unary_kernel, .grad = gelu_grad, .flags = UNARY_FLAGS, .api = "tf.nn.gelu",
     .doc = "x * Phi(x) (exact, via erf), or the tanh approximation.", .impl = &unops[UN_GELU]},
    UNARY_OP(UN_RECIPROCAL, "reciprocal", "tf.math.reciprocal", reciprocal_grad, "1 / x."),
    UNARY_OP(UN_SIN, "sin", "tf.sin tf.math.sin", sin_grad, "Sine."),
    UNARY_OP(UN_COS, "cos", "tf.cos tf.math.cos", cos_grad, "Cosine."),
    UNARY_OP(UN_TAN, "tan", "tf.tan tf.math.tan", tan_grad, "Tangent."),
    UNARY_OP(UN_ASIN, "asin", "tf.asin tf.math.asin", asin_grad, "Arcsine."),
    UNARY_OP(UN_ACOS, "acos", "tf.acos tf.math.acos", acos_grad, "Arccosine."),
    UNARY_OP(UN_ATAN, "atan", "tf.atan tf.math.atan", atan_grad, "Arctangent."),
    UNARY_OP(UN_SINH, "sinh", "tf.sinh tf.math.sinh", sinh_grad, "Hyperbolic sine."),
    UNARY_OP(UN_COSH, "cosh", "tf.cosh tf.math.cosh", cosh_grad, "Hyperbolic cosine."),
    UNARY_OP(UN_ERF, "erf", "tf.math.erf", erf_grad, "Gauss error function."),
    UNARY_NOGRAD(UN_IS_NAN, "is_nan", "tf.math.is_nan", "True where x is NaN."),
    UNARY_NOGRAD(UN_IS_INF, "is_inf", "tf.math.is_inf", "True where x is +inf or -inf."),
    UNARY_NOGRAD(UN_IS_FINITE, "is_finite", "tf.math.is_finite",
                 "True where x is neither NaN nor infinite."),
    UNARY_NOGRAD(UN_LOGICAL_NOT, "logical_not", "tf.logical_not tf.math.logical_not",
                 "not x for bool tensors (also ~a)."),
    {0},
};
