/* test_elementwise.c — vmath.h accuracy over the whole float range, and the
 * element-wise kernels from C (no Lua): a vectorized loop over every op
 * must equal the scalar formula, through the dispatcher.
 *
 * The accuracy sweep samples every 4099th float bit pattern (about a
 * million values per function, both signs, denormals, inf and NaN) and
 * compares with double-precision libm rounded to float: at most 2 ulp, and
 * NaN exactly where libm says NaN. It runs without FTZ/DAZ so denormal
 * results are checked too.
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

int main(void) {
  test_vmath(); /* before tl_init, which turns on FTZ/DAZ in this thread */
  if (tl_init()) {
    fprintf(stderr, "tl_init: %s\n", tl_last_error());
    return 1;
  }
  test_ops_vector_vs_scalar();
  test_errors();
  printf("%d checks, %d failures\n", checks, failures);
  return failures != 0;
}
