/* vmath.h — float32 exp, expm1, log, log1p, tanh, sigmoid that GCC vectorizes.
 *
 * libm's expf/logf are scalar calls, so a loop over them never vectorizes
 * (glibc's vector variants need -ffast-math). These are branch-free inline
 * versions (Cephes polynomials, bit-level exponent handling, selects for the
 * special cases) that the vectorizer turns into SIMD code inside an ordinary
 * `for` loop. Accuracy: within 2 ulp of the correctly rounded result over the
 * whole float range (tests/c/test_elementwise.c checks it), NaN in -> NaN
 * out, correct infinities, overflow to inf and underflow to 0.
 *
 * Invariants: no branches, no calls, no errno; every path is computed and
 * the result selected, so lanes never diverge. Denormal results are
 * computed correctly when the FPU does not flush them (tlua's threads run
 * with FTZ/DAZ, where they become 0 as in TensorFlow).
 *
 * Use from any kernel file: `#include "vmath.h"` and call tl_vexpf(x) in a
 * loop. Compile the loop with the vectorizer's dynamic cost model (-O3, or
 * `#pragma GCC optimize("O3")` as ops/unary.c does): GCC's -O2 only
 * vectorizes loops whose trip count is a multiple of the vector width. In
 * your own loop body write tl_vm_sel(c, a, b), not c ? a : b, when an arm
 * does float arithmetic (see tl_vm_sel).
 * Not provided: double precision (use libm), correctly rounded results.
 */
#ifndef TL_VMATH_H
#define TL_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t tl_vm_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static inline float tl_vm_float(uint32_t u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* c ? a : b, with both a and b computed. A plain ?: whose arm does float
 * arithmetic becomes a branch under -ftrapping-math (the default: the
 * arithmetic might raise an exception the other arm would not), and a
 * branch stops the vectorizer; this bit blend compiles to blendvps. c must
 * be 0 or 1 (a comparison). */
static inline float tl_vm_sel(int32_t c, float a, float b) {
  uint32_t m = 0u - (uint32_t)c;
  return tl_vm_float((tl_vm_bits(a) & m) | (tl_vm_bits(b) & ~m));
}

/* 2^n for n in [-126, 127] by building the exponent field. */
static inline float tl_vm_pow2i(int32_t n) { return tl_vm_float((uint32_t)(n + 127) << 23); }

/* Rounds t (|t| < 2^22) to the nearest integer without an int conversion
 * (which would be undefined for NaN): adding 1.5*2^23 leaves the integer in
 * the low mantissa bits. Returns it as float and its bits as int. */
static inline float tl_vm_round(float t, int32_t *n) {
  const float magic = 12582912.0f;
  float k = t + magic;
  *n = (int32_t)(tl_vm_bits(k) - tl_vm_bits(magic));
  return k - magic;
}

static inline float tl_vexpf(float x) {
  /* Clamping keeps n in [-150, 129], which the two-step scaling below
   * covers; past the clamps the result is inf or 0 anyway. NaN passes. */
  float xc = tl_vm_sel(x > 88.8f, 88.8f, x);
  xc = tl_vm_sel(xc < -104.0f, -104.0f, xc);
  int32_t n;
  float fn = tl_vm_round(xc * 1.44269504088896341f, &n);
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  int32_t n1 = n / 2, n2 = n - n1;
  return p * tl_vm_pow2i(n1) * tl_vm_pow2i(n2);
}

static inline float tl_vexpm1f(float x) {
  float xc = tl_vm_sel(x > 89.0f, 89.0f, x);
  xc = tl_vm_sel(xc < -88.0f, -88.0f, xc);
  int32_t n;
  float fn = tl_vm_round(xc * 1.44269504088896341f, &n);
  /* For n == 0 (|x| < ln2/2) r == x exactly, so small x keeps full
   * relative accuracy: no cancellation against 1. */
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  /* expm1(r) on |r| <= 0.347: Taylor to r^8 (truncation < 1e-9 relative). */
  float p = 2.48015873e-5f;
  p = p * r + 1.98412698e-4f;
  p = p * r + 1.38888889e-3f;
  p = p * r + 8.33333333e-3f;
  p = p * r + 4.16666667e-2f;
  p = p * r + 1.66666667e-1f;
  p = p * r + 0.5f;
  p = p * (r * r) + r;
  /* expm1(x) = 2^n * expm1(r) + (2^n - 1). n = 128 takes one more doubling;
   * n = -127 gives s = 0 and the exact-enough -1. */
  int32_t na = n > 127 ? 127 : n;
  float s = tl_vm_pow2i(na);
  float y = s * p + (s - 1.0f);
  return tl_vm_sel(n > 127, y * 2.0f, y);
}

static inline float tl_vlogf(float x) {
  /* Denormal inputs are scaled up by 2^23 first (without DAZ they are
   * real numbers with a well-defined log). */
  int32_t tiny = x < 1.17549435e-38f;
  float xs = tl_vm_sel(tiny, x * 8388608.0f, x);
  uint32_t ix = tl_vm_bits(xs);
  /* Split xs = m * 2^e with m in [sqrt(1/2), sqrt(2)). */
  ix += 0x3f800000u - 0x3f3504f3u;
  int32_t e = (int32_t)(ix >> 23) - 127 - 23 * tiny;
  float f = tl_vm_float((ix & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
  float fe = (float)e;
  float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  float y = p * f * z;
  y = y + fe * -2.12194440e-4f;
  y = y - 0.5f * z;
  float r = f + y;
  r = r + fe * 0.693359375f;
  r = tl_vm_sel(x == INFINITY, x, r);
  r = tl_vm_sel(x == 0.0f, -INFINITY, r);
  r = tl_vm_sel(x < 0.0f, NAN, r);
  return tl_vm_sel(x != x, x, r);
}

static inline float tl_vlog1pf(float x) {
  /* u = fl(1 + x) loses the low bits of x; c is exactly what was lost,
   * and log(u + c) = log(u) + c/u to first order. u == 1 gives x. */
  float u = 1.0f + x;
  float c = x - (u - 1.0f);
  float r = tl_vlogf(u) + c / u;
  r = tl_vm_sel(u == 0.0f, -INFINITY, r);
  return tl_vm_sel(x == INFINITY, x, r);
}

static inline float tl_vtanhf(float x) {
  float ax = fabsf(x);
  float z = x * x;
  float ps = -5.70498872745e-3f;
  ps = ps * z + 2.06390887954e-2f;
  ps = ps * z - 5.37397155531e-2f;
  ps = ps * z + 1.33314422036e-1f;
  ps = ps * z - 3.33332819422e-1f;
  ps = ps * z * x + x;
  /* 1 - 2/(e^{2|x|} + 1): exp overflowing to inf gives exactly 1. */
  float pl = 1.0f - 2.0f / (tl_vexpf(2.0f * ax) + 1.0f);
  pl = copysignf(pl, x);
  return tl_vm_sel(ax < 0.625f, ps, pl);
}

/* With e = e^{-|x|} (never overflows): 1/(1+e) for x >= 0, e/(1+e) below,
 * so tiny results for very negative x stay accurate. */
static inline float tl_vsigmoidf(float x) {
  float e = tl_vexpf(-fabsf(x));
  return tl_vm_sel(x >= 0.0f, 1.0f, e) / (1.0f + e);
}

/* log(1 + e^x) without overflow: max(x, 0) + log1p(e^{-|x|}). */
static inline float tl_vsoftplusf(float x) {
  float m = tl_vm_sel(x > 0.0f, x, 0.0f);
  float r = m + tl_vlog1pf(tl_vexpf(-fabsf(x)));
  return tl_vm_sel(x != x, x, r);
}

#endif
