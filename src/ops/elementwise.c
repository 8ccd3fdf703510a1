/* ops/elementwise.c — binary element-wise ops with numpy broadcasting, and
 * the small n-ary ones built on them: cast, clip_by_value, add_n.
 *
 * Semantics follow TensorFlow: operands share one dtype (the dispatcher
 * checks it; Lua numbers follow the tensor), comparisons return bool,
 * divide (= truediv) turns int8/int16/uint8 into float32 and int32/int64
 * into float64, integer floordiv/floormod round like Python, integer
 * division by zero is an InvalidArgument error, and integer arithmetic
 * wraps (done in unsigned types, so it is never undefined behaviour).
 * float16/bfloat16 compute in float32 and round back: the records say
 * TL_OP_HALF_VIA_F32 and the dispatcher does the casts, so the kernels see
 * float32 (add_n alone rounds per addition itself, as TF).
 *
 * Record: each op has a shape rule (dtypes, domain, broadcast, no data)
 * and a kernel that fills the output the dispatcher allocated from it; the
 * records of the binary ops share one rule and one kernel and carry their
 * binops[] entry (domain and typed kernels) in .impl.
 *
 * Speed: each (op, dtype) has one typed kernel that handles a contiguous
 * run with operand strides 1 or 0 (scalar broadcast) in dedicated loops the
 * compiler vectorizes, plus a general strided loop. The driver sends equal
 * shapes and scalar operands straight to the kernel (no views, no extra
 * allocation: a 10-element add allocates only its output, and a run below
 * the parallel grain is one direct call), and otherwise coalesces the
 * broadcast dims and splits rows over the thread pool.
 *
 * Gradients: each record carries its rule, written with ordinary ops
 * (tl_call) so an outer tape records the backward pass and gradients of
 * gradients work. Rules return full-shape gradients; the tape reduces them
 * to a broadcast operand's shape. relu_grad, sigmoid_grad and tanh_grad are
 * internal fused backward ops (one pass, one allocation) for the hot
 * activations in ops/unary.c, with their own rules.
 *
 * Not here: unary ops (ops/unary.c), reductions, tf.where (ops/index.c).
 */
#include "ops/ops.h"
#include "ops/domain.h"
#include "ops/ew.h"
#include "autodiff/grad_temps.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -O2 only vectorizes loops whose trip count is a multiple of the vector
 * width; the kernels below need the dynamic cost model. */
#pragma GCC optimize("O3")

/* The hot kernels are TL_HOT (AVX2 and baseline clones): an in-cache add at
 * 4 lanes is bound by its store count ([1000,1000] + [1000]: 134 -> 95 us
 * with 8 lanes). */

/* Elements per parallel chunk: below ~64K floats the thread hand-off costs
 * more than the memory-bound loop it saves. */
#define GRAIN 32768

/* ---- kernels ----------------------------------------------------------- */

/* out[r*n + i] = f(a[r*ra + i*sa], b[r*rb + i*sb]) for r < rows, i < n: rows
 * of n contiguous outputs (one call covers a whole broadcast [M, N] block, so
 * no call and stride dispatch per row); out never aliases an input. Returns
 * 0, or 1 for "integer division by zero", 2 for "negative integer exponent"
 * (checked kernels only). */
typedef int (*bin_fn)(void *out, const void *a, int64_t sa, int64_t ra, const void *b, int64_t sb,
                      int64_t rb, int64_t n, int64_t rows);

#define BIN(NAME, TI, TO, EXPR)                                                                  \
  TL_HOT static int NAME(void *out_, const void *a_, int64_t sa, int64_t ra, const void *b_,        \
                      int64_t sb, int64_t rb, int64_t n, int64_t rows) {                         \
    TO *restrict o = out_;                                                                       \
    const TI *restrict pa = a_, *restrict pb = b_;                                               \
    if (sa == 1 && sb == 1) {                                                                    \
      for (int64_t r = 0; r < rows; r++, o += n, pa += ra, pb += rb)                             \
        for (int64_t i = 0; i < n; i++) { TI x = pa[i], y = pb[i]; o[i] = (TO)(EXPR); }          \
    } else if (sa == 1 && sb == 0) {                                                             \
      for (int64_t r = 0; r < rows; r++, o += n, pa += ra, pb += rb) {                           \
        const TI y = pb[0];                                                                      \
        for (int64_t i = 0; i < n; i++) { TI x = pa[i]; o[i] = (TO)(EXPR); }                     \
      }                                                                                          \
    } else if (sa == 0 && sb == 1) {                                                             \
      for (int64_t r = 0; r < rows; r++, o += n, pa += ra, pb += rb) {                           \
        const TI x = pa[0];                                                                      \
        for (int64_t i = 0; i < n; i++) { TI y = pb[i]; o[i] = (TO)(EXPR); }                     \
      }                                                                                          \
    } else {                                                                                     \
      for (int64_t r = 0; r < rows; r++, o += n, pa += ra, pb += rb)                             \
        for (int64_t i = 0; i < n; i++) { TI x = pa[i * sa], y = pb[i * sb]; o[i] = (TO)(EXPR); } \
    }                                                                                            \
    return 0;                                                                                    \
  }

/* Integer division and power: not vectorizable anyway, so one strided loop
 * that stops at the first bad operand. */
#define BIN_CHECKED(NAME, TI, TO, BAD, CODE, EXPR)                                               \
  static int NAME(void *out_, const void *a_, int64_t sa, int64_t ra, const void *b_, int64_t sb, \
                  int64_t rb, int64_t n, int64_t rows) {                                         \
    TO *restrict o = out_;                                                                       \
    const TI *restrict pa = a_, *restrict pb = b_;                                               \
    for (int64_t r = 0; r < rows; r++, o += n, pa += ra, pb += rb)                               \
      for (int64_t i = 0; i < n; i++) {                                                          \
        TI x = pa[i * sa], y = pb[i * sb];                                                       \
        if (BAD) return CODE;                                                                    \
        o[i] = (TO)(EXPR);                                                                       \
      }                                                                                          \
    return 0;                                                                                    \
  }

/* Output type selectors for the stamping macros. */
#define SAME(T) T
#define BOOLOUT(T) uint8_t

#define STAMP_FLOAT(OP, OUT, EXPR)                                                               \
  BIN(OP##_f32, float, OUT(float), EXPR)                                                         \
  BIN(OP##_f64, double, OUT(double), EXPR)
#define STAMP_INT(OP, OUT, EXPR)                                                                 \
  BIN(OP##_i8, int8_t, OUT(int8_t), EXPR)                                                        \
  BIN(OP##_u8, uint8_t, OUT(uint8_t), EXPR)                                                      \
  BIN(OP##_i16, int16_t, OUT(int16_t), EXPR)                                                     \
  BIN(OP##_i32, int32_t, OUT(int32_t), EXPR)                                                     \
  BIN(OP##_i64, int64_t, OUT(int64_t), EXPR)
#define STAMP_INT_CHECKED(OP, BAD, CODE, EXPR)                                                   \
  BIN_CHECKED(OP##_i8, int8_t, int8_t, BAD, CODE, EXPR)                                          \
  BIN_CHECKED(OP##_u8, uint8_t, uint8_t, BAD, CODE, EXPR)                                        \
  BIN_CHECKED(OP##_i16, int16_t, int16_t, BAD, CODE, EXPR)                                       \
  BIN_CHECKED(OP##_i32, int32_t, int32_t, BAD, CODE, EXPR)                                       \
  BIN_CHECKED(OP##_i64, int64_t, int64_t, BAD, CODE, EXPR)
#define TAB_FLOAT(OP) [TL_FLOAT32] = OP##_f32, [TL_FLOAT64] = OP##_f64
#define TAB_INT(OP)                                                                              \
  [TL_INT8] = OP##_i8, [TL_UINT8] = OP##_u8, [TL_INT16] = OP##_i16, [TL_INT32] = OP##_i32,       \
  [TL_INT64] = OP##_i64

/* Wrapping integer arithmetic. Narrow types promote to int and cannot
 * overflow there; int32/int64 go through their unsigned twins. Floats take
 * the default branch. */
#define WADD(x, y)                                                                               \
  _Generic((x), int32_t: (int32_t)((uint32_t)(x) + (uint32_t)(y)),                               \
           int64_t: (int64_t)((uint64_t)(x) + (uint64_t)(y)), default: (x) + (y))
#define WSUB(x, y)                                                                               \
  _Generic((x), int32_t: (int32_t)((uint32_t)(x) - (uint32_t)(y)),                               \
           int64_t: (int64_t)((uint64_t)(x) - (uint64_t)(y)), default: (x) - (y))
#define WMUL(x, y)                                                                               \
  _Generic((x), int32_t: (int32_t)((uint32_t)(x) * (uint32_t)(y)),                               \
           int64_t: (int64_t)((uint64_t)(x) * (uint64_t)(y)), default: (x) * (y))

/* y < 0 for any integer type without -Wtype-limits noise on uint8. */
static inline bool is_neg(int64_t v) { return v < 0; }

/* Python-style integer division (y != 0). y == -1 is split off because
 * INT_MIN / -1 traps on x86; the wrapped result is what TF returns. */
static inline int64_t floordiv_i(int64_t x, int64_t y) {
  if (y == -1) return (int64_t)(0 - (uint64_t)x);
  int64_t q = x / y;
  return (x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q;
}
static inline int64_t floormod_i(int64_t x, int64_t y) {
  if (y == -1) return 0;
  int64_t r = x % y;
  return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
static inline int64_t truncdiv_i(int64_t x, int64_t y) {
  return y == -1 ? (int64_t)(0 - (uint64_t)x) : x / y;
}
static inline int64_t truncmod_i(int64_t x, int64_t y) { return y == -1 ? 0 : x % y; }
static inline int64_t ipow_i(int64_t x, int64_t y) {
  uint64_t r = 1, b = (uint64_t)x;
  for (; y; y >>= 1, b *= b)
    if (y & 1) r *= b;
  return (int64_t)r;
}
static inline float pymod_f(float x, float y) {
  float r = fmodf(x, y);
  return (r != 0 && ((y < 0) != (r < 0))) ? r + y : r;
}
static inline double pymod_d(double x, double y) {
  double r = fmod(x, y);
  return (r != 0 && ((y < 0) != (r < 0))) ? r + y : r;
}
#define FLOORMOD(x, y) _Generic((x), float: pymod_f, default: pymod_d)(x, y)
#define FMOD(x, y) _Generic((x), float: fmodf, default: fmod)(x, y)
#define POW(x, y) _Generic((x), float: powf, default: pow)(x, y)
#define FLOOR(x) _Generic((x), float: floorf, default: floor)(x)
#define TRUNC(x) _Generic((x), float: truncf, default: trunc)(x)

STAMP_FLOAT(add, SAME, x + y)
STAMP_INT(add, SAME, WADD(x, y))
STAMP_FLOAT(sub, SAME, x - y)
STAMP_INT(sub, SAME, WSUB(x, y))
STAMP_FLOAT(mul, SAME, x * y)
STAMP_INT(mul, SAME, WMUL(x, y))
STAMP_FLOAT(div, SAME, x / y)
STAMP_FLOAT(divnn, SAME, y == 0 ? 0 : x / y)
STAMP_FLOAT(floordiv, SAME, FLOOR(x / y))
STAMP_INT_CHECKED(floordiv, y == 0, 1, floordiv_i(x, y))
STAMP_FLOAT(truncdiv, SAME, TRUNC(x / y))
STAMP_INT_CHECKED(truncdiv, y == 0, 1, truncdiv_i(x, y))
STAMP_FLOAT(floormod, SAME, FLOORMOD(x, y))
STAMP_INT_CHECKED(floormod, y == 0, 1, floormod_i(x, y))
STAMP_FLOAT(truncmod, SAME, FMOD(x, y))
STAMP_INT_CHECKED(truncmod, y == 0, 1, truncmod_i(x, y))
STAMP_FLOAT(pow, SAME, POW(x, y))
STAMP_INT_CHECKED(pow, is_neg(y), 2, ipow_i(x, y))
/* NaN-propagating, as numpy and TF's maximum. */
STAMP_FLOAT(max, SAME, (x > y || x != x) ? x : y)
STAMP_INT(max, SAME, x > y ? x : y)
STAMP_FLOAT(min, SAME, (x < y || x != x) ? x : y)
STAMP_INT(min, SAME, x < y ? x : y)
STAMP_FLOAT(sqdiff, SAME, (x - y) * (x - y))
STAMP_INT(sqdiff, SAME, WMUL(WSUB(x, y), WSUB(x, y)))
STAMP_FLOAT(eq, BOOLOUT, x == y)
STAMP_INT(eq, BOOLOUT, x == y)
STAMP_FLOAT(ne, BOOLOUT, x != y)
STAMP_INT(ne, BOOLOUT, x != y)
STAMP_FLOAT(lt, BOOLOUT, x < y)
STAMP_INT(lt, BOOLOUT, x < y)
STAMP_FLOAT(le, BOOLOUT, x <= y)
STAMP_INT(le, BOOLOUT, x <= y)
STAMP_FLOAT(gt, BOOLOUT, x > y)
STAMP_INT(gt, BOOLOUT, x > y)
STAMP_FLOAT(ge, BOOLOUT, x >= y)
STAMP_INT(ge, BOOLOUT, x >= y)
/* bool storage is one byte holding 0 or 1 */
BIN(eq_b, uint8_t, uint8_t, x == y)
BIN(ne_b, uint8_t, uint8_t, x != y)
/* Strings compare by bytes (TensorFlow's Equal/NotEqual on tf.string). */
static inline bool str_eq(tl_string x, tl_string y) {
  return x.len == y.len && (x.len == 0 || memcmp(x.data, y.data, (size_t)x.len) == 0);
}
BIN(eq_s, tl_string, uint8_t, str_eq(x, y))
BIN(ne_s, tl_string, uint8_t, !str_eq(x, y))
BIN(and_b, uint8_t, uint8_t, (x != 0) & (y != 0))
BIN(or_b, uint8_t, uint8_t, (x != 0) | (y != 0))
BIN(xor_b, uint8_t, uint8_t, (x != 0) ^ (y != 0))
/* Fused activation backward passes (TF's ReluGrad, SigmoidGrad, TanhGrad):
 * relu_grad(g, f) = g where f > 0 else 0; sigmoid_grad(y, g) = g y (1 - y);
 * tanh_grad(y, g) = g (1 - y^2). */
STAMP_FLOAT(relugrad, SAME, y > 0 ? x : 0)
STAMP_FLOAT(sigmoidgrad, SAME, y * x * (1 - x))
STAMP_FLOAT(tanhgrad, SAME, y * (1 - x * x))

/* ---- op descriptions ---------------------------------------------------- */

enum { D_FLOAT = TL_D_FLOAT, D_INT = TL_D_INT, D_BOOL = TL_D_BOOL, D_NUM = TL_D_NUM };

/* Indexes of binops[]; each record's .impl names its entry. */
enum {
  BIN_ADD, BIN_SUBTRACT, BIN_MULTIPLY, BIN_DIVIDE, BIN_TRUEDIV, BIN_DIVIDE_NO_NAN,
  BIN_FLOORDIV, BIN_TRUNCATEDIV, BIN_FLOORMOD, BIN_TRUNCATEMOD, BIN_POW, BIN_MAXIMUM,
  BIN_MINIMUM, BIN_SQUARED_DIFFERENCE, BIN_EQUAL, BIN_NOT_EQUAL, BIN_LESS, BIN_LESS_EQUAL,
  BIN_GREATER, BIN_GREATER_EQUAL, BIN_LOGICAL_AND, BIN_LOGICAL_OR, BIN_LOGICAL_XOR,
  BIN_RELU_GRAD, BIN_SIGMOID_GRAD, BIN_TANH_GRAD,
  BIN_COUNT
};

typedef struct binop {
  unsigned domain;
  bool bool_out;    /* comparisons */
  bool to_float;    /* truediv: integers are cast to float first */
  bin_fn k[TL_DTYPE_COUNT];
} binop;

static const binop binops[BIN_COUNT] = {
    [BIN_ADD] = {D_NUM, false, false, {TAB_FLOAT(add), TAB_INT(add)}},
    [BIN_SUBTRACT] = {D_NUM, false, false, {TAB_FLOAT(sub), TAB_INT(sub)}},
    [BIN_MULTIPLY] = {D_NUM, false, false, {TAB_FLOAT(mul), TAB_INT(mul)}},
    [BIN_DIVIDE] = {D_NUM, false, true, {TAB_FLOAT(div)}},
    [BIN_TRUEDIV] = {D_NUM, false, true, {TAB_FLOAT(div)}},
    [BIN_DIVIDE_NO_NAN] = {D_FLOAT, false, false, {TAB_FLOAT(divnn)}},
    [BIN_FLOORDIV] = {D_NUM, false, false, {TAB_FLOAT(floordiv), TAB_INT(floordiv)}},
    [BIN_TRUNCATEDIV] = {D_NUM, false, false, {TAB_FLOAT(truncdiv), TAB_INT(truncdiv)}},
    [BIN_FLOORMOD] = {D_NUM, false, false, {TAB_FLOAT(floormod), TAB_INT(floormod)}},
    [BIN_TRUNCATEMOD] = {D_NUM, false, false, {TAB_FLOAT(truncmod), TAB_INT(truncmod)}},
    [BIN_POW] = {D_NUM, false, false, {TAB_FLOAT(pow), TAB_INT(pow)}},
    [BIN_MAXIMUM] = {D_NUM, false, false, {TAB_FLOAT(max), TAB_INT(max)}},
    [BIN_MINIMUM] = {D_NUM, false, false, {TAB_FLOAT(min), TAB_INT(min)}},
    [BIN_SQUARED_DIFFERENCE] = {D_NUM, false, false, {TAB_FLOAT(sqdiff), TAB_INT(sqdiff)}},
    [BIN_EQUAL] = {D_NUM | D_BOOL, true, false, {TAB_FLOAT(eq), TAB_INT(eq), [TL_BOOL] = eq_b, [TL_STRING] = eq_s}},
    [BIN_NOT_EQUAL] = {D_NUM | D_BOOL, true, false, {TAB_FLOAT(ne), TAB_INT(ne), [TL_BOOL] = ne_b, [TL_STRING] = ne_s}},
    [BIN_LESS] = {D_NUM, true, false, {TAB_FLOAT(lt), TAB_INT(lt)}},
    [BIN_LESS_EQUAL] = {D_NUM, true, false, {TAB_FLOAT(le), TAB_INT(le)}},
    [BIN_GREATER] = {D_NUM, true, false, {TAB_FLOAT(gt), TAB_INT(gt)}},
    [BIN_GREATER_EQUAL] = {D_NUM, true, false, {TAB_FLOAT(ge), TAB_INT(ge)}},
    [BIN_LOGICAL_AND] = {D_BOOL, true, false, {[TL_BOOL] = and_b}},
    [BIN_LOGICAL_OR] = {D_BOOL, true, false, {[TL_BOOL] = or_b}},
    [BIN_LOGICAL_XOR] = {D_BOOL, true, false, {[TL_BOOL] = xor_b}},
    [BIN_RELU_GRAD] = {D_FLOAT, false, false, {TAB_FLOAT(relugrad)}},
    [BIN_SIGMOID_GRAD] = {D_FLOAT, false, false, {TAB_FLOAT(sigmoidgrad)}},
    [BIN_TANH_GRAD] = {D_FLOAT, false, false, {TAB_FLOAT(tanhgrad)}},
};

/* The dtype a binary op computes in: float32 for the half types (the
 * dispatcher casts them, TL_OP_HALF_VIA_F32), and for truediv on integers
 * float32 (8/16-bit) or float64 (32/64-bit), as TF. */
static tl_dtype compute_dtype(const binop *bo, tl_dtype dt) {
  if (dt == TL_FLOAT16 || dt == TL_BFLOAT16) return TL_FLOAT32;
  if (bo->to_float && tl_dtype_is_integer(dt)) return (dt == TL_INT32 || dt == TL_INT64) ? TL_FLOAT64 : TL_FLOAT32;
  return dt;
}

/* ---- shape rules --------------------------------------------------------- */

static bool same_meta_shape(const tl_meta *a, const tl_meta *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

/* Operands of one dtype in the op's domain; the broadcast shape; bool for
 * comparisons, float for truediv on integers, else the operands' dtype. */
static tl_status binary_infer(TL_INFER_ARGS) {
  (void)n_in, (void)attr;
  const binop *bo = op->impl;
  const tl_meta *a = in[0], *b = in[1];
  tl_dtype dt = a->dtype;
  if (b->dtype != dt) {
    char x[160], y[160];
    return tl_error(TL_INVALID_ARGUMENT, "operands have different dtypes (%s vs %s); use tf.cast to convert",
                    tl_meta_describe(a, x, sizeof x), tl_meta_describe(b, y, sizeof y));
  }
  tl_dtype odt = bo->bool_out ? TL_BOOL : dt;
  if (!bo->k[dt]) { /* a kernel for dt itself is the common case: dt is in the domain */
    if (!tl_domain_ok(bo->domain, dt)) return tl_domain_error(op->name, bo->domain, dt);
    tl_dtype cdt = compute_dtype(bo, dt);
    if (!bo->k[cdt]) return tl_domain_error(op->name, bo->domain, dt);
    if (bo->to_float && tl_dtype_is_integer(dt)) odt = cdt;
  }
  if (same_meta_shape(a, b)) return tl_meta_push(out, odt, a->rank, a->shape) ? TL_OK : TL_RESOURCE_EXHAUSTED;
  tl_meta m;
  tl_status s = tl_meta_broadcast(a, b, &m);
  if (s) return s;
  return tl_meta_push(out, odt, m.rank, m.shape) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* ---- the broadcasting driver ------------------------------------------- */

typedef struct bin_job {
  bin_fn k;
  char *o;
  const char *a, *b;
  int64_t eo, ea, eb;                      /* element sizes in bytes */
  int rank;                                /* >= 1 after coalescing */
  int64_t shape[TL_MAX_RANK];
  int64_t sa[TL_MAX_RANK], sb[TL_MAX_RANK]; /* in elements; out is contiguous */
  int err;
} bin_job;

/* Rank 1: [begin, end) are elements. Higher: they are rows of the last dim. */
static void bin_range(int64_t begin, int64_t end, void *ctx) {
  bin_job *j = ctx;
  int r = j->rank, e;
  if (r == 1) {
    e = j->k(j->o + begin * j->eo, j->a + begin * j->sa[0] * j->ea, j->sa[0], 0,
             j->b + begin * j->sb[0] * j->eb, j->sb[0], 0, end - begin, 1);
    if (e) __atomic_store_n(&j->err, e, __ATOMIC_RELAXED);
    return;
  }
  if (r == 2) { /* [rows, inner]: the whole range in one call */
    int64_t inner = j->shape[1];
    e = j->k(j->o + begin * inner * j->eo, j->a + begin * j->sa[0] * j->ea, j->sa[1], j->sa[0],
             j->b + begin * j->sb[0] * j->eb, j->sb[1], j->sb[0], inner, end - begin);
    if (e) __atomic_store_n(&j->err, e, __ATOMIC_RELAXED);
    return;
  }
  int64_t inner = j->shape[r - 1], idx[TL_MAX_RANK], rem = begin, offa = 0, offb = 0;
  for (int d = r - 2; d >= 0; d--) {
    idx[d] = rem % j->shape[d];
    rem /= j->shape[d];
    offa += idx[d] * j->sa[d];
    offb += idx[d] * j->sb[d];
  }
  for (int64_t row = begin; row < end; row++) {
    e = j->k(j->o + row * inner * j->eo, j->a + offa * j->ea, j->sa[r - 1], 0, j->b + offb * j->eb,
             j->sb[r - 1], 0, inner, 1);
    if (e) {
      __atomic_store_n(&j->err, e, __ATOMIC_RELAXED);
      return;
    }
    for (int d = r - 2; d >= 0; d--) {
      offa += j->sa[d];
      offb += j->sb[d];
      if (++idx[d] < j->shape[d]) break;
      offa -= j->sa[d] * j->shape[d];
      offb -= j->sb[d] * j->shape[d];
      idx[d] = 0;
    }
  }
}

static void job_run(bin_job *j, int64_t n) {
  if (j->rank == 1) {
    tl_parallel_for(n, GRAIN, bin_range, j);
  } else {
    int64_t inner = j->shape[j->rank - 1], rows = n / inner;
    int64_t grain = GRAIN / inner;
    tl_parallel_for(rows, grain < 1 ? 1 : grain, bin_range, j);
  }
}

/* Strides of t (rank <= r) broadcast against shape (r): 0 on expanded dims. */
static void broadcast_strides(const tl_tensor *t, int r, const int64_t *shape, int64_t *st) {
  for (int i = 0; i < r; i++) {
    int k = i - (r - t->rank);
    st[i] = (k < 0 || t->shape[k] != shape[i]) ? 0 : t->strides[k];
  }
}

/* Fills j's rank/shape/strides from the broadcast form: drops size-1 dims
 * and merges dims that are contiguous in all three operands. */
static void coalesce(bin_job *j, int r, const int64_t *shape, const int64_t *sa, const int64_t *sb) {
  int64_t so[TL_MAX_RANK], s = 1;
  for (int i = r - 1; i >= 0; i--) {
    so[i] = s;
    s *= shape[i];
  }
  int m = 0;
  int64_t prev_so = 0;
  for (int d = 0; d < r; d++) {
    if (shape[d] == 1) continue;
    if (m > 0 && prev_so == so[d] * shape[d] && j->sa[m - 1] == sa[d] * shape[d] &&
        j->sb[m - 1] == sb[d] * shape[d]) {
      j->shape[m - 1] *= shape[d];
      j->sa[m - 1] = sa[d];
      j->sb[m - 1] = sb[d];
    } else {
      j->shape[m] = shape[d];
      j->sa[m] = sa[d];
      j->sb[m] = sb[d];
      m++;
    }
    prev_so = so[d];
  }
  if (m == 0) {
    j->shape[0] = 1;
    j->sa[0] = j->sb[0] = 0;
    m = 1;
  }
  j->rank = m;
}

static tl_status kernel_error(int e) {
  if (e == 2) return tl_error(TL_INVALID_ARGUMENT, "integers to negative integer powers are not allowed");
  return tl_error(TL_INVALID_ARGUMENT, "integer division by zero");
}

/* o = a OP b with k, o already of the broadcast shape (contiguous, never
 * an input). Fast paths: equal contiguous shapes, or a one-element operand
 * whose rank does not raise the output's, are one run; a run below the
 * parallel grain is one direct kernel call. */
/* tl_tensor_is_contiguous, inlined: it is on the 10-element add's path. */
static inline bool dense(const tl_tensor *t) {
  int64_t s = 1;
  for (int i = t->rank - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->strides[i] != s) return false;
    s *= t->shape[i];
  }
  return true;
}

static tl_status bin_compute(bin_fn k, tl_tensor *a, tl_tensor *b, tl_tensor *o) {
  int64_t n = o->size, sa = 1, sb = 1;
  if (n == 0) return TL_OK;
  /* an operand of the output's size that is dense has the output's layout */
  bool flat;
  if (a->size == n) flat = dense(a) && (b->size == n ? dense(b) : (sb = 0, b->size == 1));
  else flat = a->size == 1 && b->size == n && dense(b) && (sa = 0, true);
  int e;
  if (flat && n < 2 * GRAIN) {
    e = k(tl_tensor_data(o), tl_tensor_data(a), sa, 0, tl_tensor_data(b), sb, 0, n, 1);
  } else {
    bin_job j;
    j.k = k;
    j.err = 0;
    j.ea = (int64_t)tl_dtypes[a->dtype].size;
    j.eb = (int64_t)tl_dtypes[b->dtype].size;
    j.eo = (int64_t)tl_dtypes[o->dtype].size;
    j.a = tl_tensor_data(a);
    j.b = tl_tensor_data(b);
    j.o = tl_tensor_data(o);
    if (flat) {
      j.rank = 1;
      j.shape[0] = o->size;
      j.sa[0] = sa;
      j.sb[0] = sb;
    } else {
      int64_t xa[TL_MAX_RANK], xb[TL_MAX_RANK];
      broadcast_strides(a, o->rank, o->shape, xa);
      broadcast_strides(b, o->rank, o->shape, xb);
      coalesce(&j, o->rank, o->shape, xa, xb);
    }
    job_run(&j, n);
    e = j.err;
  }
  return e ? kernel_error(e) : TL_OK;
}

/* The kernel of every binary record: fills out[0]. truediv on integers
 * casts its operands into float scratch first (the op's own promotion,
 * not the half policy). */
static tl_status binary_kernel(TL_KERNEL_ARGS) {
  (void)n_in, (void)attr;
  const binop *bo = op->impl;
  tl_tensor *a = in[0], *b = in[1];
  tl_dtype cdt = compute_dtype(bo, a->dtype);
  bin_fn k = bo->k[cdt];
  TL_ASSERT(k); /* the shape rule admitted the dtype; halves arrive as float32 */
  /* bin_compute's first test is the small equal-shape case (the 10-element
   * add): one direct kernel call */
  if (cdt == a->dtype) return bin_compute(k, a, b, out->items[0]);
  tl_tensor *fa = NULL, *fb = NULL;
  tl_status s;
  if (!(s = tl_tensor_cast(a, cdt, &fa)) && !(s = tl_tensor_cast(b, cdt, &fb)))
    s = bin_compute(k, fa, fb, out->items[0]);
  tl_tensor_release(fa);
  tl_tensor_release(fb);
  return s;
}

/* For the fused element-wise op (ops/ew.h). */
tl_ew_bin_fn tl_ew_binary_fn(const tl_op_def *op, tl_dtype dt) {
  if (op->kernel[TL_CPU] != binary_kernel || op->n_attrs) return NULL;
  const binop *bo = op->impl;
  if (bo->bool_out || (bo->to_float && !tl_dtype_is_float(dt))) return NULL;
  return (tl_ew_bin_fn)bo->k[dt];
}
tl_status tl_ew_binary_error(int code) { return kernel_error(code); }

/* ---- cast ---------------------------------------------------------------- */

static tl_status cast_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  tl_dtype from = in[0]->dtype, to = attr[0].dtype;
  if (from != to && (from == TL_STRING || to == TL_STRING))
    return tl_error(TL_UNIMPLEMENTED, "cast: %s to %s is not supported (use tf.strings)", tl_dtypes[from].name,
                    tl_dtypes[to].name);
  if (to == TL_RESOURCE)
    return tl_error(TL_INVALID_ARGUMENT, "cast: a %s tensor cannot become a variable handle", tl_dtypes[from].name);
  return tl_meta_push_like(out, in[0], to) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* Converts into the output (a copy when the dtype is already right: an op's
 * output is never its input object, the tape keys gradients by identity). */
static tl_status cast_kernel(TL_KERNEL_ARGS) {
  TL_UNUSED_KERNEL_ARGS;
  return tl_tensor_cast_into(out->items[0], in[0]);
}

/* ---- clip_by_value --------------------------------------------------------- */

#define CLIP(NAME, T)                                                                            \
  static void NAME(void *out_, const void *a_, const void *lo_, const void *hi_, int64_t n) {    \
    T *restrict o = out_;                                                                        \
    const T *restrict a = a_;                                                                    \
    const T lo = *(const T *)lo_, hi = *(const T *)hi_;                                          \
    for (int64_t i = 0; i < n; i++) {                                                            \
      T x = a[i];                                                                                \
      x = x < lo ? lo : x;                                                                       \
      o[i] = x > hi ? hi : x;                                                                    \
    }                                                                                            \
  }
CLIP(clip_f32, float)
CLIP(clip_f64, double)
CLIP(clip_i8, int8_t)
CLIP(clip_u8, uint8_t)
CLIP(clip_i16, int16_t)
CLIP(clip_i32, int32_t)
CLIP(clip_i64, int64_t)
typedef void (*clip_fn)(void *out, const void *a, const void *lo, const void *hi, int64_t n);
static const clip_fn clip_kernels[TL_DTYPE_COUNT] = {
    [TL_FLOAT32] = clip_f32, [TL_FLOAT64] = clip_f64, [TL_INT8] = clip_i8, [TL_UINT8] = clip_u8,
    [TL_INT16] = clip_i16,   [TL_INT32] = clip_i32,   [TL_INT64] = clip_i64,
};

typedef struct clip_job {
  clip_fn k;
  char *o;
  const char *a;
  const void *lo, *hi;
  int64_t es;
} clip_job;

static void clip_range(int64_t begin, int64_t end, void *ctx) {
  clip_job *j = ctx;
  j->k(j->o + begin * j->es, j->a + begin * j->es, j->lo, j->hi, end - begin);
}

/* The result keeps t's shape (TF's): the bounds must broadcast to it. */
static tl_status clip_infer(TL_INFER_ARGS) {
  (void)n_in, (void)attr;
  const tl_meta *t = in[0], *lo = in[1], *hi = in[2];
  tl_dtype dt = t->dtype;
  if (!tl_domain_ok(D_NUM, dt)) return tl_domain_error(op->name, D_NUM, dt);
  tl_meta m1, m2;
  tl_status s = tl_meta_broadcast(t, lo, &m1);
  if (!s) s = tl_meta_broadcast(&m1, hi, &m2);
  if (s) return s;
  if (!tl_meta_compatible(&m2, t)) {
    char a[200], b[200], c[200];
    return tl_error(TL_INVALID_ARGUMENT, "clip_value_min %s and clip_value_max %s must broadcast to t's shape %s",
                    tl_meta_shape_text(lo, a, sizeof a), tl_meta_shape_text(hi, b, sizeof b), tl_meta_shape_text(t, c, sizeof c));
  }
  /* t's known dims win; the bounds may fix dims t leaves unknown */
  if (t->rank < 0) return tl_meta_push_like(out, &m2, dt) ? TL_OK : TL_RESOURCE_EXHAUSTED;
  tl_meta *o = tl_meta_push_like(out, t, dt);
  if (!o) return TL_RESOURCE_EXHAUSTED;
  for (int i = 0; m2.rank == t->rank && i < t->rank; i++)
    if (o->shape[i] < 0) o->shape[i] = m2.shape[i];
  return TL_OK;
}

/* min(max(t, lo), hi): one fused pass for one-element bounds, else two
 * broadcast passes through a scratch tensor of t's shape. */
static tl_status clip_kernel(TL_KERNEL_ARGS) {
  (void)n_in, (void)attr, (void)op;
  tl_tensor *t = in[0], *lo = in[1], *hi = in[2], *o = out->items[0];
  tl_dtype dt = t->dtype;
  clip_fn k = clip_kernels[dt];
  TL_ASSERT(k); /* halves arrive as float32 */
  tl_status s;
  if (lo->size == 1 && hi->size == 1) {
    tl_tensor *c;
    if ((s = tl_tensor_contiguous(t, &c))) return s;
    clip_job j = {k, tl_tensor_data(o), tl_tensor_data(c), tl_tensor_data(lo), tl_tensor_data(hi),
                  (int64_t)tl_dtypes[dt].size};
    tl_parallel_for(o->size, GRAIN, clip_range, &j);
    tl_tensor_release(c);
    return TL_OK;
  }
  tl_tensor *m;
  if ((s = tl_tensor_new(dt, o->rank, o->shape, &m))) return s;
  if (!(s = bin_compute(binops[BIN_MAXIMUM].k[dt], t, lo, m))) s = bin_compute(binops[BIN_MINIMUM].k[dt], m, hi, o);
  tl_tensor_release(m);
  return s;
}

/* ---- add_n --------------------------------------------------------------- */

#define ACC(NAME, T)                                                                             \
  static void NAME(void *out_, const void *a_, int64_t n) {                                      \
    T *restrict o = out_;                                                                        \
    const T *restrict a = a_;                                                                    \
    for (int64_t i = 0; i < n; i++) o[i] = WADD(o[i], a[i]);                                     \
  }
ACC(acc_f32, float)
ACC(acc_f64, double)
ACC(acc_i8, int8_t)
ACC(acc_u8, uint8_t)
ACC(acc_i16, int16_t)
ACC(acc_i32, int32_t)
ACC(acc_i64, int64_t)
/* The half types round after every addition, as TF's half add_n does (so
 * add_n is not HALF_VIA_F32: that would round once at the end). */
static void acc_f16(void *out_, const void *a_, int64_t n) {
  uint16_t *o = out_;
  const uint16_t *a = a_;
  for (int64_t i = 0; i < n; i++) o[i] = tl_float_to_half(tl_half_to_float(o[i]) + tl_half_to_float(a[i]));
}
static void acc_bf16(void *out_, const void *a_, int64_t n) {
  uint16_t *o = out_;
  const uint16_t *a = a_;
  for (int64_t i = 0; i < n; i++) o[i] = tl_float_to_bf16(tl_bf16_to_float(o[i]) + tl_bf16_to_float(a[i]));
}
typedef void (*acc_fn)(void *out, const void *a, int64_t n);
static const acc_fn acc_kernels[TL_DTYPE_COUNT] = {
    [TL_FLOAT32] = acc_f32, [TL_FLOAT64] = acc_f64, [TL_FLOAT16] = acc_f16, [TL_BFLOAT16] = acc_bf16,
    [TL_INT8] = acc_i8,     [TL_UINT8] = acc_u8,    [TL_INT16] = acc_i16,   [TL_INT32] = acc_i32,
    [TL_INT64] = acc_i64,
};

typedef struct addn_job {
  acc_fn k;
  bin_fn add2; /* o = in0 + in1 in one pass where the dtype has a binary add */
  char *o;
  const char **in;
  int n;
  int64_t es;
} addn_job;

/* Per chunk: o = in0 (+ in1), then o += ink, so the chunk stays in cache. */
static void addn_range(int64_t begin, int64_t end, void *ctx) {
  addn_job *j = ctx;
  int64_t off = begin * j->es, m = end - begin;
  int i = 1;
  if (j->add2 && j->n >= 2) {
    j->add2(j->o + off, j->in[0] + off, 1, 0, j->in[1] + off, 1, 0, m, 1);
    i = 2;
  } else {
    memcpy(j->o + off, j->in[0] + off, (size_t)(m * j->es));
  }
  for (; i < j->n; i++) j->k(j->o + off, j->in[i] + off, m);
}

static tl_status add_n_infer(TL_INFER_ARGS) {
  (void)attr;
  if (n_in == 0) return tl_error(TL_INVALID_ARGUMENT, "inputs must be a non-empty list of tensors");
  const tl_meta *t0 = in[0];
  for (int i = 1; i < n_in; i++)
    if (!tl_meta_compatible(in[i], t0)) {
      char a[200], b[200];
      return tl_error(TL_INVALID_ARGUMENT, "inputs must all have the same shape: input 0 is %s, input %d is %s",
                      tl_meta_describe(t0, a, sizeof a), i, tl_meta_describe(in[i], b, sizeof b));
    }
  tl_dtype dt = t0->dtype;
  if (!tl_domain_ok(D_NUM, dt)) return tl_domain_error(op->name, D_NUM, dt);
  /* the first input of known rank, with unknown dims taken from the others */
  const tl_meta *r = t0;
  for (int i = 0; i < n_in && r->rank < 0; i++) r = in[i];
  tl_meta *o = tl_meta_push_like(out, r, dt);
  if (!o) return TL_RESOURCE_EXHAUSTED;
  for (int i = 0; i < n_in; i++)
    for (int d = 0; in[i]->rank == o->rank && d < o->rank; d++)
      if (o->shape[d] < 0) o->shape[d] = in[i]->shape[d];
  return TL_OK;
}

static tl_status add_n_kernel(TL_KERNEL_ARGS) {
  (void)attr, (void)op;
  tl_tensor *o = out->items[0];
  tl_dtype dt = o->dtype;
  TL_ASSERT(acc_kernels[dt]);
  tl_tensor *small_c[8], **c = small_c;
  const char *small_p[8], **ptrs = small_p;
  if (n_in > 8) {
    c = calloc((size_t)n_in, sizeof *c);
    ptrs = calloc((size_t)n_in, sizeof *ptrs);
  }
  tl_status s = TL_OK;
  int made = 0;
  if (!c || !ptrs) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    goto done;
  }
  for (; made < n_in; made++) {
    if ((s = tl_tensor_contiguous(in[made], &c[made]))) goto done;
    ptrs[made] = tl_tensor_data(c[made]);
  }
  addn_job j = {acc_kernels[dt], binops[BIN_ADD].k[dt], tl_tensor_data(o), ptrs, n_in,
                (int64_t)tl_dtypes[dt].size};
  tl_parallel_for(o->size, GRAIN / 2, addn_range, &j);
done:
  for (int i = 0; i < made; i++) tl_tensor_release(c[i]);
  if (c != small_c) free(c);
  if (ptrs != small_p) free(ptrs);
  return s;
}

/* ---- gradients ---------------------------------------------------------- */
/* g is the output's gradient, x/y the inputs, z the output. A rule returns
 * early when g is NULL or the inputs are not floating point (the tape then
 * has nothing to do with them). Temporaries live in a small list released at
 * the end; a helper given a NULL operand (an earlier failure) returns NULL,
 * so a chain stops at the first error and tl_temps_give reports it. */

/* cast(cmp(a, b), dt): a 0/1 mask that multiplies a gradient. */
static tl_tensor *mask(tl_temps *T, const char *cmp, tl_tensor *a, tl_tensor *b, tl_dtype dt) {
  return tl_temps_cast(T, tl_temps_op2(T, cmp, a, b), dt);
}

static bool is_float(const tl_tensor *t) { return t && tl_dtypes[t->dtype].kind == TL_KIND_FLOAT; }

/* Binary ops share one dtype (TL_OP_SAME_DTYPE), so one test covers both. */
#define NEED_FLOAT_GRAD                                                                          \
  do {                                                                                           \
    if (!grad_out[0] || !is_float(in[0])) return TL_OK;                                              \
  } while (0)

static tl_status add_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  NEED_FLOAT_GRAD;
  grad_in[0] = tl_tensor_retain(grad_out[0]);
  grad_in[1] = tl_tensor_retain(grad_out[0]);
  return TL_OK;
}

static tl_status subtract_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  NEED_FLOAT_GRAD;
  tl_temps T = {0};
  grad_in[0] = tl_tensor_retain(grad_out[0]);
  return tl_temps_give(&T, tl_temps_un(&T, "negative", grad_out[0]), &grad_in[1], true);
}

static tl_status multiply_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  NEED_FLOAT_GRAD;
  tl_temps T = {0};
  tl_status s = tl_temps_give(&T, tl_temps_op2(&T, "multiply", grad_out[0], in[1]), &grad_in[0], false);
  if (s) return s;
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", grad_out[0], in[0]), &grad_in[1], true);
}

/* dx = g / y, dy = -g x / y^2 = -dx z. divide_no_nan: dx is 0 where y is 0,
 * and so is z, so dy is too (TF's). Integer operands (float result) never
 * get here: the tape differentiates float inputs only. */
static tl_status divide_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  NEED_FLOAT_GRAD;
  tl_temps T = {0};
  tl_tensor *gx = tl_temps_op2(&T, op->name, grad_out[0], in[1]);
  tl_status s = tl_temps_give(&T, gx, &grad_in[0], false);
  if (s) return s;
  return tl_temps_give(&T, tl_temps_un(&T, "negative", tl_temps_op2(&T, "multiply", gx, out[0])), &grad_in[1], true);
}

/* TF: dx = g, dy = -g floor(x / y). */
static tl_status floormod_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  NEED_FLOAT_GRAD;
  tl_temps T = {0};
  grad_in[0] = tl_tensor_retain(grad_out[0]);
  tl_tensor *q = tl_temps_op2(&T, "floordiv", in[0], in[1]);
  return tl_temps_give(&T, tl_temps_un(&T, "negative", tl_temps_op2(&T, "multiply", grad_out[0], q)), &grad_in[1], true);
}

/* Smallest normal number of a float dtype (float16's is far above float32's). */
static double tiny_of(tl_dtype dt) {
  switch (dt) {
  case TL_FLOAT16: return 6.103515625e-05;
  case TL_FLOAT64: return 2.2250738585072014e-308;
  default: return 1.17549435e-38;
  }
}

/* dx = g y x^(y-1); dy = g z log(x) where x > 0 and 0 elsewhere (TF's).
 * log(max(x, tiny)) * (x > 0) instead of a select keeps both branches
 * finite, so second derivatives have no 0 * inf NaN at x = 0. */
static tl_status pow_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  NEED_FLOAT_GRAD;
  tl_tensor *x = in[0], *y = in[1], *g = grad_out[0];
  tl_dtype dt = x->dtype;
  tl_temps T = {0};
  tl_tensor *one = tl_temps_scalar(&T, x, dt, 1.0);
  tl_tensor *p = tl_temps_op2(&T, "pow", x, tl_temps_op2(&T, "subtract", y, one));
  tl_status s = tl_temps_give(&T, tl_temps_op2(&T, "multiply", tl_temps_op2(&T, "multiply", g, y), p), &grad_in[0], false);
  if (s) return s;
  tl_tensor *zero = tl_temps_scalar(&T, x, dt, 0.0);
  tl_tensor *lx = tl_temps_un(&T, "log", tl_temps_op2(&T, "maximum", x, tl_temps_scalar(&T, x, dt, tiny_of(dt))));
  lx = tl_temps_op2(&T, "multiply", lx, mask(&T, "greater", x, zero, dt));
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", tl_temps_op2(&T, "multiply", g, out[0]), lx), &grad_in[1], true);
}

/* TF: the gradient goes to x where x >= y (maximum) or x <= y (minimum),
 * to y elsewhere (so at ties x takes it all). */
static tl_status extreme_grad(TL_GRAD_ARGS, const char *cmp) {
  TL_UNUSED_GRAD_ARGS;
  NEED_FLOAT_GRAD;
  tl_temps T = {0};
  tl_tensor *gx = tl_temps_op2(&T, "multiply", grad_out[0], mask(&T, cmp, in[0], in[1], in[0]->dtype));
  tl_status s = tl_temps_give(&T, gx, &grad_in[0], false);
  if (s) return s;
  return tl_temps_give(&T, tl_temps_op2(&T, "subtract", grad_out[0], gx), &grad_in[1], true);
}
static tl_status maximum_grad(TL_GRAD_ARGS) {
  return extreme_grad(op, in, n_in, attr, out, n_out, grad_out, grad_in, "greater_equal");
}
static tl_status minimum_grad(TL_GRAD_ARGS) {
  return extreme_grad(op, in, n_in, attr, out, n_out, grad_out, grad_in, "less_equal");
}

/* dx = 2 g (x - y), dy = -dx. */
static tl_status squared_difference_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  NEED_FLOAT_GRAD;
  tl_temps T = {0};
  tl_tensor *t = tl_temps_op2(&T, "multiply", grad_out[0], tl_temps_op2(&T, "subtract", in[0], in[1]));
  tl_tensor *gx = tl_temps_op2(&T, "add", t, t);
  tl_status s = tl_temps_give(&T, gx, &grad_in[0], false);
  if (s) return s;
  return tl_temps_give(&T, tl_temps_un(&T, "negative", gx), &grad_in[1], true);
}

/* relu_grad(g, f) = g (f > 0): linear in g, piecewise constant in f (a zero
 * gradient, not none: TF's, so relu's second derivative is 0, not unconnected). */
static tl_status relu_grad_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  NEED_FLOAT_GRAD;
  tl_temps T = {0};
  tl_status s = tl_temps_give(&T, tl_temps_op2(&T, "relu_grad", grad_out[0], in[1]), &grad_in[0], true);
  if (s) return s;
  return tl_temps_give(&T, tl_temps_un(&T, "zeros_like", in[1]), &grad_in[1], true);
}

/* sigmoid_grad(y, g) = g y (1 - y): d/dy = gg g (1 - 2y), d/dg = sigmoid_grad(y, gg). */
static tl_status sigmoid_grad_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  NEED_FLOAT_GRAD;
  tl_tensor *y = in[0], *g = in[1], *gg = grad_out[0];
  tl_temps T = {0};
  tl_tensor *d = tl_temps_op2(&T, "subtract", tl_temps_scalar(&T, y, y->dtype, 1.0), tl_temps_op2(&T, "add", y, y));
  tl_status s = tl_temps_give(&T, tl_temps_op2(&T, "multiply", tl_temps_op2(&T, "multiply", gg, g), d), &grad_in[0], false);
  if (s) return s;
  return tl_temps_give(&T, tl_temps_op2(&T, "sigmoid_grad", y, gg), &grad_in[1], true);
}

/* tanh_grad(y, g) = g (1 - y^2): d/dy = -2 gg g y, d/dg = tanh_grad(y, gg). */
static tl_status tanh_grad_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  NEED_FLOAT_GRAD;
  tl_tensor *y = in[0], *g = in[1], *gg = grad_out[0];
  tl_temps T = {0};
  tl_tensor *t = tl_temps_op2(&T, "multiply", tl_temps_op2(&T, "multiply", gg, g), y);
  tl_status s = tl_temps_give(&T, tl_temps_un(&T, "negative", tl_temps_op2(&T, "add", t, t)), &grad_in[0], false);
  if (s) return s;
  return tl_temps_give(&T, tl_temps_op2(&T, "tanh_grad", y, gg), &grad_in[1], true);
}

/* Between float dtypes the gradient is cast back; to or from integers and
 * bool nothing flows (TF's). */
static tl_status cast_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (!grad_out[0] || !is_float(in[0]) || !is_float(out[0])) return TL_OK;
  if (grad_out[0]->dtype == in[0]->dtype) {
    grad_in[0] = tl_tensor_retain(grad_out[0]);
    return TL_OK;
  }
  tl_temps T = {0};
  return tl_temps_give(&T, tl_temps_cast(&T, grad_out[0], in[0]->dtype), &grad_in[0], true);
}

/* TF: t gets g where clip_value_min <= t <= clip_value_max (NaN too), each
 * bound gets g where t went past it; the tape sums the bounds' gradients
 * down to their shapes. */
static tl_status clip_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  NEED_FLOAT_GRAD;
  tl_tensor *t = in[0], *g = grad_out[0];
  tl_temps T = {0};
  tl_tensor *below = tl_temps_op2(&T, "less", t, in[1]), *above = tl_temps_op2(&T, "greater", t, in[2]);
  tl_tensor *inside = tl_temps_un(&T, "logical_not", tl_temps_op2(&T, "logical_or", below, above));
  tl_status s = tl_temps_give(&T, tl_temps_op2(&T, "multiply", g, tl_temps_cast(&T, inside, t->dtype)), &grad_in[0], false);
  if (!s) s = tl_temps_give(&T, tl_temps_op2(&T, "multiply", g, tl_temps_cast(&T, below, t->dtype)), &grad_in[1], false);
  if (!s) s = tl_temps_give(&T, tl_temps_op2(&T, "multiply", g, tl_temps_cast(&T, above, t->dtype)), &grad_in[2], true);
  return s;
}

static tl_status add_n_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  NEED_FLOAT_GRAD;
  for (int i = 0; i < n_in; i++) grad_in[i] = tl_tensor_retain(grad_out[0]);
  return TL_OK;
}

/* ---- the op table ------------------------------------------------------ */

/* Every binary record shares one shape rule and one kernel; .impl is its
 * binops[] entry. */
#define BIN_FLAGS (TL_OP_SCALARS_FOLLOW | TL_OP_SAME_DTYPE | TL_OP_HALF_VIA_F32)
#define BINARY_OP(ID, NAME, API, FLAGS, GRAD, DOC)                                               \
  {.name = NAME, .inputs = "x, y", .infer = binary_infer, .kernel[TL_CPU] = binary_kernel,       \
   .grad = GRAD, .flags = BIN_FLAGS | (FLAGS), .api = API, .doc = DOC, .impl = &binops[ID]}
#define NOGRAD TL_OP_NO_GRADIENT
tl_op_def tl_ops_elementwise[] = {
    BINARY_OP(BIN_ADD, "add", "tf.add tf.math.add", 0, add_grad, "x + y element-wise, with broadcasting."),
    BINARY_OP(BIN_SUBTRACT, "subtract", "tf.subtract tf.math.subtract", 0, subtract_grad,
              "x - y element-wise."),
    BINARY_OP(BIN_MULTIPLY, "multiply", "tf.multiply tf.math.multiply", 0, multiply_grad,
              "x * y element-wise."),
    BINARY_OP(BIN_DIVIDE, "divide", "tf.divide tf.math.divide", 0, divide_grad,
              "x / y (true division: integers become float32, or float64 for int32/int64)."),
    BINARY_OP(BIN_TRUEDIV, "truediv", "tf.truediv tf.math.truediv", 0, divide_grad,
              "x / y (true division: integers become float32, or float64 for int32/int64)."),
    BINARY_OP(BIN_DIVIDE_NO_NAN, "divide_no_nan", "tf.math.divide_no_nan", 0, divide_grad,
              "x / y, and 0 where y is 0."),
    BINARY_OP(BIN_FLOORDIV, "floordiv", "tf.math.floordiv tf.floordiv", NOGRAD, NULL,
              "floor(x / y); integer division rounds toward -inf as in Python."),
    BINARY_OP(BIN_TRUNCATEDIV, "truncatediv", "tf.truncatediv tf.math.truncatediv", NOGRAD, NULL,
              "x / y rounded toward zero (C division)."),
    BINARY_OP(BIN_FLOORMOD, "floormod", "tf.math.floormod tf.math.mod", 0, floormod_grad,
              "Remainder of floordiv: has the sign of y, as Python's %."),
    /* TF registers no gradient for TruncateMod. */
    BINARY_OP(BIN_TRUNCATEMOD, "truncatemod", "tf.truncatemod tf.math.truncatemod", NOGRAD, NULL,
              "Remainder of truncatediv: has the sign of x, as C's fmod."),
    BINARY_OP(BIN_POW, "pow", "tf.pow tf.math.pow", 0, pow_grad,
              "x ** y; for integers a negative exponent is an error."),
    BINARY_OP(BIN_MAXIMUM, "maximum", "tf.maximum tf.math.maximum", 0, maximum_grad,
              "Element-wise max (NaN if either is NaN)."),
    BINARY_OP(BIN_MINIMUM, "minimum", "tf.minimum tf.math.minimum", 0, minimum_grad,
              "Element-wise min (NaN if either is NaN)."),
    BINARY_OP(BIN_SQUARED_DIFFERENCE, "squared_difference", "tf.math.squared_difference", 0,
              squared_difference_grad, "(x - y)^2 element-wise."),
    BINARY_OP(BIN_EQUAL, "equal", "tf.equal tf.math.equal", NOGRAD, NULL, "x == y element-wise (bool)."),
    BINARY_OP(BIN_NOT_EQUAL, "not_equal", "tf.not_equal tf.math.not_equal", NOGRAD, NULL,
              "x ~= y element-wise (bool)."),
    BINARY_OP(BIN_LESS, "less", "tf.less tf.math.less", NOGRAD, NULL, "x < y element-wise (bool)."),
    BINARY_OP(BIN_LESS_EQUAL, "less_equal", "tf.less_equal tf.math.less_equal", NOGRAD, NULL,
              "x <= y element-wise (bool)."),
    BINARY_OP(BIN_GREATER, "greater", "tf.greater tf.math.greater", NOGRAD, NULL,
              "x > y element-wise (bool)."),
    BINARY_OP(BIN_GREATER_EQUAL, "greater_equal", "tf.greater_equal tf.math.greater_equal", NOGRAD, NULL,
              "x >= y element-wise (bool)."),
    BINARY_OP(BIN_LOGICAL_AND, "logical_and", "tf.logical_and tf.math.logical_and", NOGRAD, NULL,
              "x and y for bool tensors (also a & b)."),
    BINARY_OP(BIN_LOGICAL_OR, "logical_or", "tf.logical_or tf.math.logical_or", NOGRAD, NULL,
              "x or y for bool tensors (also a | b)."),
    BINARY_OP(BIN_LOGICAL_XOR, "logical_xor", "tf.math.logical_xor", NOGRAD, NULL,
              "x xor y for bool tensors (also a ~ b)."),
    /* Internal fused backward passes of relu, sigmoid, tanh (TF's raw ops
     * ReluGrad, SigmoidGrad, TanhGrad, same operand order). */
    {.name = "relu_grad", .inputs = "gradients, features", .infer = binary_infer,
     .kernel[TL_CPU] = binary_kernel, .grad = relu_grad_grad, .flags = BIN_FLAGS, .api = "-",
     .doc = "gradients where features > 0, else 0 (relu's backward pass).", .impl = &binops[BIN_RELU_GRAD]},
    {.name = "sigmoid_grad", .inputs = "y, dy", .infer = binary_infer, .kernel[TL_CPU] = binary_kernel,
     .grad = sigmoid_grad_grad, .flags = BIN_FLAGS, .api = "-",
     .doc = "dy * y * (1 - y) (sigmoid's backward pass from its output y).", .impl = &binops[BIN_SIGMOID_GRAD]},
    {.name = "tanh_grad", .inputs = "y, dy", .infer = binary_infer, .kernel[TL_CPU] = binary_kernel,
     .grad = tanh_grad_grad, .flags = BIN_FLAGS, .api = "-",
     .doc = "dy * (1 - y^2) (tanh's backward pass from its output y).", .impl = &binops[BIN_TANH_GRAD]},
    /* cast does its own conversions (the dispatcher's half casts call it). */
    {.name = "cast", .inputs = "x", .attrs = "dtype:dtype", .infer = cast_infer, .kernel[TL_CPU] = cast_kernel,
     .grad = cast_grad, .api = "tf.cast tf.dtypes.cast",
     .doc = "Converts x to dtype (floats to integers truncate toward zero)."},
    {.name = "clip_by_value", .inputs = "t, clip_value_min, clip_value_max", .infer = clip_infer,
     .kernel[TL_CPU] = clip_kernel, .grad = clip_grad, .flags = BIN_FLAGS, .api = "tf.clip_by_value",
     .doc = "Clips t to [clip_value_min, clip_value_max] (bounds broadcast to t's shape)."},
    /* Not HALF_VIA_F32: half sums round after each addition (TF's). */
    {.name = "add_n", .inputs = "inputs[]", .infer = add_n_infer, .kernel[TL_CPU] = add_n_kernel,
     .grad = add_n_grad, .flags = TL_OP_SAME_DTYPE, .api = "tf.add_n tf.math.add_n",
     .doc = "Sum of a list of tensors of the same shape and dtype."},
    {0},
};
