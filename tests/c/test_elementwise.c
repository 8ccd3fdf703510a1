/* test_elementwise.c — vmath.h accuracy over the whole float range, and the
 * element-wise kernels from C (no Lua): a vectorized loop over every op
 * must equal the scalar formula, through the dispatcher.
 *
 * The accuracy sweep samples every 4099th float bit pattern (about a
 * million values per function, both signs, denormals, inf and NaN) and
 * compares with double-precision libm rounded to float: at most 2 ulp, and
 * NaN exactly where libm says NaN. It runs without FTZ/DAZ so denormal
 * results are checked too.
 *
 * The shape rules are called directly on symbolic metas (-1 = unknown), as
 * a tracer calls them: unknown dimensions propagate, known ones are still
 * checked with the messages users get, and every op of the two files has
 * a rule.
 */
#include "tl.h"
#include "ops/vmath.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static int64_t ordered(float f) {
  int32_t i;
  memcpy(&i, &f, sizeof i);
  return i < 0 ? (int64_t)INT32_MIN - i : i;
}

static double sigmoid_ref(double x) { return 1 / (1 + exp(-x)); }
static double softplus_ref(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* Calls f through a loop the compiler may vectorize, like a kernel does. */
#define SWEEP_FN(NAME, F)                                                  \
  static void NAME(float *out, const float *in, int n) {                   \
    for (int i = 0; i < n; i++) out[i] = F(in[i]);                         \
  }
SWEEP_FN(v_exp, tl_vexpf)
SWEEP_FN(v_expm1, tl_vexpm1f)
SWEEP_FN(v_log, tl_vlogf)
SWEEP_FN(v_log1p, tl_vlog1pf)
SWEEP_FN(v_tanh, tl_vtanhf)
SWEEP_FN(v_sigmoid, tl_vsigmoidf)
SWEEP_FN(v_softplus, tl_vsoftplusf)

static void sweep(const char *name, void (*f)(float *, const float *, int), double (*ref)(double)) {
  enum { BATCH = 4096 };
  static float in[BATCH], out[BATCH];
  int64_t worst = 0;
  float worst_x = 0;
  int nan_bad = 0, n = 0;
  for (uint64_t b = 0; b <= 0xffffffffu; b += 4099) {
    in[n++] = tl_vm_float((uint32_t)b);
    if (n < BATCH && b + 4099 <= 0xffffffffu) continue;
    f(out, in, n);
    for (int i = 0; i < n; i++) {
      float r = (float)ref((double)in[i]);
      if (isnan(r) || isnan(out[i])) {
        nan_bad += isnan(r) != isnan(out[i]);
        continue;
      }
      int64_t d = llabs(ordered(out[i]) - ordered(r));
      if (d > worst) {
        worst = d;
        worst_x = in[i];
      }
    }
    n = 0;
  }
  if (worst > 2 || nan_bad)
    fprintf(stderr, "%s: worst %lld ulp at %a, %d NaN mismatches\n", name, (long long)worst, worst_x, nan_bad);
  CHECK(worst <= 2);
  CHECK(nan_bad == 0);
}

static void test_vmath(void) {
  sweep("exp", v_exp, exp);
  sweep("expm1", v_expm1, expm1);
  sweep("log", v_log, log);
  sweep("log1p", v_log1p, log1p);
  sweep("tanh", v_tanh, tanh);
  sweep("sigmoid", v_sigmoid, sigmoid_ref);
  sweep("softplus", v_softplus, softplus_ref);
  CHECK(tl_vexpf(INFINITY) == INFINITY && tl_vexpf(-INFINITY) == 0.0f);
  CHECK(tl_vlogf(0.0f) == -INFINITY && isnan(tl_vlogf(-1.0f)) && tl_vlogf(INFINITY) == INFINITY);
  CHECK(tl_vlog1pf(-1.0f) == -INFINITY && tl_vexpm1f(-INFINITY) == -1.0f);
  CHECK(tl_vtanhf(INFINITY) == 1.0f && tl_vtanhf(-INFINITY) == -1.0f);
}

static tl_tensor *vec(tl_dtype dt, int n, const double *v) {
  int64_t shape[1] = {n};
  tl_tensor *t;
  if (tl_tensor_new(dt, 1, shape, &t)) abort();
  for (int i = 0; i < n; i++) tl_store_f64(tl_tensor_data(t), dt, i, v[i]);
  return t;
}

/* A long vector through the op (vector loop + tail) equals the same values
 * one at a time (scalar tensors). */
static void test_ops_vector_vs_scalar(void) {
  enum { N = 37 };
  double xv[N], yv[N];
  for (int i = 0; i < N; i++) {
    xv[i] = sin(i * 1.7) * 3;
    yv[i] = cos(i * 0.9) * 2 + (i % 5 == 0 ? 0.5 : 0);
  }
  const char *binary[] = {"add", "subtract", "multiply", "divide", "maximum", "minimum", "less", "pow",
                          "floormod", "squared_difference"};
  const char *unary[] = {"exp", "tanh", "sigmoid", "log1p", "softplus", "elu", "relu", "abs", "sqrt", "round"};
  tl_tensor *x = vec(TL_FLOAT32, N, xv), *y = vec(TL_FLOAT32, N, yv);
  for (size_t k = 0; k < sizeof binary / sizeof *binary; k++) {
    tl_tensor *in[2] = {x, y}, *z;
    CHECK(tl_run1(binary[k], in, 2, &z) == TL_OK);
    for (int i = 0; i < N; i++) {
      tl_tensor *s[2], *r;
      tl_tensor_scalar_f64(TL_FLOAT32, (float)xv[i], &s[0]);
      tl_tensor_scalar_f64(TL_FLOAT32, (float)yv[i], &s[1]);
      CHECK(tl_run1(binary[k], s, 2, &r) == TL_OK);
      double a = tl_load_f64(tl_tensor_data(z), z->dtype, i), b = tl_load_f64(tl_tensor_data(r), r->dtype, 0);
      CHECK((isnan(a) && isnan(b)) || a == b);
      tl_tensor_release(s[0]);
      tl_tensor_release(s[1]);
      tl_tensor_release(r);
    }
    tl_tensor_release(z);
  }
  for (size_t k = 0; k < sizeof unary / sizeof *unary; k++) {
    tl_tensor *z;
    CHECK(tl_run1(unary[k], &x, 1, &z) == TL_OK);
    for (int i = 0; i < N; i++) {
      tl_tensor *s, *r;
      tl_tensor_scalar_f64(TL_FLOAT32, (float)xv[i], &s);
      CHECK(tl_run1(unary[k], &s, 1, &r) == TL_OK);
      double a = tl_load_f64(tl_tensor_data(z), z->dtype, i), b = tl_load_f64(tl_tensor_data(r), r->dtype, 0);
      CHECK((isnan(a) && isnan(b)) || a == b);
      tl_tensor_release(s);
      tl_tensor_release(r);
    }
    tl_tensor_release(z);
  }
  tl_tensor_release(x);
  tl_tensor_release(y);
}

static void test_errors(void) {
  double one[2] = {1, 2}, zero[2] = {1, 0};
  tl_tensor *a = vec(TL_INT32, 2, one), *b = vec(TL_INT32, 2, zero), *z = NULL;
  tl_tensor *in[2] = {a, b};
  CHECK(tl_run1("floordiv", in, 2, &z) == TL_INVALID_ARGUMENT);
  CHECK(strstr(tl_last_error(), "floordiv") && strstr(tl_last_error(), "integer division by zero"));
  CHECK(tl_run1("sqrt", in, 1, &z) == TL_INVALID_ARGUMENT);
  CHECK(strstr(tl_last_error(), "int32") != NULL);
  tl_tensor_release(a);
  tl_tensor_release(b);
}

static tl_meta meta(tl_dtype dt, int rank, const int64_t *shape) {
  tl_meta m = {.dtype = dt, .rank = rank};
  for (int i = 0; i < rank; i++) m.shape[i] = shape[i];
  return m;
}

/* Runs op's rule on n metas with default attributes (dtype attr: dt). */
static tl_status infer(const char *name, int n, const tl_meta *ms, tl_dtype dt, tl_meta *res) {
  const tl_op_def *op = tl_op_find(name);
  CHECK(op && op->infer);
  if (!op || !op->infer) return TL_INTERNAL;
  tl_attr attrs[TL_MAX_ATTRS];
  tl_attrs_defaults(op, attrs);
  if (op->n_attrs && op->attr[0].type == TL_ATTR_DTYPE) attrs[0].dtype = dt, attrs[0].present = true;
  const tl_meta *in[8];
  for (int i = 0; i < n; i++) in[i] = &ms[i];
  tl_meta_list out;
  tl_meta_list_init(&out);
  tl_status s = op->infer(op, in, n, attrs, &out);
  CHECK(s || out.n == 1);
  if (!s && out.n >= 1) *res = out.items[0];
  tl_meta_list_free(&out);
  return s;
}

static bool is(const tl_meta *m, tl_dtype dt, int rank, const int64_t *shape) {
  if (m->dtype != dt || m->rank != rank) return false;
  for (int i = 0; i < rank; i++)
    if (m->shape[i] != shape[i]) return false;
  return true;
}

static void test_symbolic_shape_rules(void) {
  const char *binary[] = {"add", "subtract", "multiply", "divide", "truediv", "divide_no_nan", "floordiv",
                          "truncatediv", "floormod", "truncatemod", "pow", "maximum", "minimum",
                          "squared_difference", "equal", "not_equal", "less", "less_equal", "greater",
                          "greater_equal", "relu_grad", "sigmoid_grad", "tanh_grad"};
  tl_meta r;
  for (size_t k = 0; k < sizeof binary / sizeof *binary; k++) {
    bool cmp = strstr("equal not_equal less less_equal greater greater_equal", binary[k]) != NULL;
    tl_dtype want = cmp ? TL_BOOL : TL_FLOAT32;
    tl_meta ab[2] = {meta(TL_FLOAT32, 2, (int64_t[]){-1, 3}), meta(TL_FLOAT32, 2, (int64_t[]){4, -1})};
    CHECK(infer(binary[k], 2, ab, 0, &r) == TL_OK && is(&r, want, 2, (int64_t[]){4, 3}));
    /* -1 against 1 stays unknown; against a row it is fixed only where known */
    tl_meta cd[2] = {meta(TL_FLOAT16, 2, (int64_t[]){-1, 1}), meta(TL_FLOAT16, 1, (int64_t[]){5})};
    CHECK(infer(binary[k], 2, cd, 0, &r) == TL_OK && is(&r, cmp ? TL_BOOL : TL_FLOAT16, 2, (int64_t[]){-1, 5}));
    tl_meta ur[2] = {meta(TL_FLOAT32, -1, NULL), meta(TL_FLOAT32, 1, (int64_t[]){5})};
    CHECK(infer(binary[k], 2, ur, 0, &r) == TL_OK && r.rank == -1 && r.dtype == want);
    tl_meta bad[2] = {meta(TL_FLOAT32, 2, (int64_t[]){-1, 3}), meta(TL_FLOAT32, 1, (int64_t[]){4})};
    CHECK(infer(binary[k], 2, bad, 0, &r) == TL_INVALID_ARGUMENT);
    CHECK(strstr(tl_last_error(), "shapes [?,3] and [4] are incompatible for broadcasting") != NULL);
  }
  /* dtype rules need no data either */
  tl_meta ii[2] = {meta(TL_INT32, 1, (int64_t[]){-1}), meta(TL_INT32, 0, NULL)};
  CHECK(infer("truediv", 2, ii, 0, &r) == TL_OK && is(&r, TL_FLOAT64, 1, (int64_t[]){-1}));
  ii[0].dtype = ii[1].dtype = TL_INT16;
  CHECK(infer("divide", 2, ii, 0, &r) == TL_OK && r.dtype == TL_FLOAT32);
  CHECK(infer("divide_no_nan", 2, ii, 0, &r) == TL_INVALID_ARGUMENT);
  CHECK(strstr(tl_last_error(), "divide_no_nan needs a floating-point tensor, got int16") != NULL);
  tl_meta bb[2] = {meta(TL_BOOL, 1, (int64_t[]){-1}), meta(TL_BOOL, 1, (int64_t[]){-1})};
  CHECK(infer("logical_xor", 2, bb, 0, &r) == TL_OK && is(&r, TL_BOOL, 1, (int64_t[]){-1}));
  CHECK(infer("add", 2, bb, 0, &r) == TL_INVALID_ARGUMENT);
  tl_meta mixed[2] = {meta(TL_FLOAT32, 1, (int64_t[]){2}), meta(TL_INT32, 1, (int64_t[]){2})};
  CHECK(infer("add", 2, mixed, 0, &r) == TL_INVALID_ARGUMENT && strstr(tl_last_error(), "different dtypes"));

  const char *unary[] = {"negative", "abs", "sign", "square", "relu", "relu6", "round", "floor", "ceil",
                         "sqrt", "rsqrt", "exp", "expm1", "log", "log1p", "tanh", "sigmoid", "softplus",
                         "log_sigmoid", "softsign", "elu", "selu", "leaky_relu", "gelu", "reciprocal", "sin",
                         "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "erf", "is_nan", "is_inf",
                         "is_finite"};
  for (size_t k = 0; k < sizeof unary / sizeof *unary; k++) {
    tl_meta x = meta(TL_BFLOAT16, 3, (int64_t[]){-1, 0, 7});
    bool pred = strncmp(unary[k], "is_", 3) == 0;
    CHECK(infer(unary[k], 1, &x, 0, &r) == TL_OK && is(&r, pred ? TL_BOOL : TL_BFLOAT16, 3, (int64_t[]){-1, 0, 7}));
    x = meta(TL_FLOAT64, -1, NULL);
    CHECK(infer(unary[k], 1, &x, 0, &r) == TL_OK && r.rank == -1);
    x = meta(TL_STRING, 1, (int64_t[]){2});
    CHECK(infer(unary[k], 1, &x, 0, &r) == TL_UNIMPLEMENTED);
  }
  tl_meta xi = meta(TL_INT8, 1, (int64_t[]){-1});
  CHECK(infer("sqrt", 1, &xi, 0, &r) == TL_INVALID_ARGUMENT && strstr(tl_last_error(), "int8"));
  CHECK(infer("relu", 1, &xi, 0, &r) == TL_OK && is(&r, TL_INT8, 1, (int64_t[]){-1}));
  CHECK(infer("logical_not", 1, &xi, 0, &r) == TL_INVALID_ARGUMENT);

  /* cast, clip_by_value, add_n */
  CHECK(infer("cast", 1, &xi, TL_FLOAT16, &r) == TL_OK && is(&r, TL_FLOAT16, 1, (int64_t[]){-1}));
  CHECK(infer("cast", 1, &xi, TL_STRING, &r) == TL_UNIMPLEMENTED);
  tl_meta clip[3] = {meta(TL_FLOAT32, 2, (int64_t[]){-1, -1}), meta(TL_FLOAT32, 0, NULL),
                     meta(TL_FLOAT32, 1, (int64_t[]){3})};
  CHECK(infer("clip_by_value", 3, clip, 0, &r) == TL_OK && is(&r, TL_FLOAT32, 2, (int64_t[]){-1, 3}));
  clip[0] = meta(TL_FLOAT32, 1, (int64_t[]){3});
  clip[1] = meta(TL_FLOAT32, 2, (int64_t[]){2, 3});
  CHECK(infer("clip_by_value", 3, clip, 0, &r) == TL_INVALID_ARGUMENT);
  CHECK(strstr(tl_last_error(), "must broadcast to t's shape [3]") != NULL);
  tl_meta sum[3] = {meta(TL_FLOAT64, 2, (int64_t[]){-1, 3}), meta(TL_FLOAT64, 2, (int64_t[]){2, -1}),
                    meta(TL_FLOAT64, -1, NULL)};
  CHECK(infer("add_n", 3, sum, 0, &r) == TL_OK && is(&r, TL_FLOAT64, 2, (int64_t[]){2, 3}));
  sum[1] = meta(TL_FLOAT64, 2, (int64_t[]){2, 4});
  CHECK(infer("add_n", 2, sum + 1, 0, &r) == TL_OK);
  sum[0] = meta(TL_FLOAT64, 2, (int64_t[]){-1, 3});
  CHECK(infer("add_n", 2, sum, 0, &r) == TL_INVALID_ARGUMENT && strstr(tl_last_error(), "same shape"));
  CHECK(infer("add_n", 0, sum, 0, &r) == TL_INVALID_ARGUMENT && strstr(tl_last_error(), "non-empty"));
}

/* The kernel fills what the dispatcher allocated: a small add makes one
 * allocation (its output), and halves compute in float32 with one rounding. */
static void test_dispatch(void) {
  double v[3] = {1, 2, 3};
  tl_tensor *a = vec(TL_FLOAT32, 3, v), *in[2] = {a, a}, *z;
  CHECK(tl_run1("add", in, 2, &z) == TL_OK);
  tl_tensor_release(z);
  int64_t before = tl_memory_get_stats().alloc_count;
  CHECK(tl_run1("add", in, 2, &z) == TL_OK);
  CHECK(tl_memory_get_stats().alloc_count == before + 1);
  CHECK(tl_load_f64(tl_tensor_data(z), TL_FLOAT32, 2) == 6.0);
  tl_tensor_release(z);
  const tl_op_def *add = tl_op_find("add"), *add_n = tl_op_find("add_n"), *cast = tl_op_find("cast");
  CHECK((add->flags & TL_OP_HALF_VIA_F32) && !(add_n->flags & TL_OP_HALF_VIA_F32) &&
        !(cast->flags & TL_OP_HALF_VIA_F32));
  CHECK(add->impl && add->impl != tl_op_find("subtract")->impl && tl_op_find("exp")->impl);
  tl_tensor_release(a);
}

int main(void) {
  test_vmath(); /* before tl_init, which turns on FTZ/DAZ in this thread */
  if (tl_init()) {
    fprintf(stderr, "tl_init: %s\n", tl_last_error());
    return 1;
  }
  test_ops_vector_vs_scalar();
  test_errors();
  test_symbolic_shape_rules();
  test_dispatch();
  printf("%d checks, %d failures\n", checks, failures);
  return failures != 0;
}
