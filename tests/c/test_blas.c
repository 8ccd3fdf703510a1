/* test_blas.c — the BLAS loader and the BLAS-backed ops from C, no Lua:
 * the library loads at run time with a kernel this CPU runs, matmul equals a
 * naive double-precision product on the single-call, row-split and
 * column-split paths (1, 2 and 3 pool threads), and inv(A) @ A = I.
 * Run by ctest; under the sanitizer build also with leak checking. */
#include "tl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(c, ...)                                  \
  do {                                                 \
    if (!(c)) {                                        \
      failures++;                                      \
      fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);  \
      fprintf(stderr, __VA_ARGS__);                    \
      fprintf(stderr, "\n");                           \
    }                                                  \
  } while (0)

static tl_tensor *filled(int64_t r, int64_t c, unsigned seed) {
  int64_t sh[2] = {r, c};
  tl_tensor *t;
  if (tl_tensor_new(TL_FLOAT32, 2, sh, &t)) return NULL;
  float *p = tl_tensor_data(t);
  for (int64_t i = 0; i < r * c; i++) {
    seed = seed * 1103515245u + 12345u;
    p[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
  }
  return t;
}

static void check_matmul(int64_t m, int64_t k, int64_t n) {
  tl_tensor *a = filled(m, k, 1), *b = filled(k, n, 2), *c = NULL;
  tl_tensor *in[2] = {a, b};
  tl_status s = tl_run1("matmul", in, 2, &c);
  CHECK(s == TL_OK, "matmul %lldx%lldx%lld: %s", (long long)m, (long long)k, (long long)n, tl_last_error());
  if (!s) {
    const float *A = tl_tensor_data(a), *B = tl_tensor_data(b), *C = tl_tensor_data(c);
    double worst = 0;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double acc = 0;
        for (int64_t x = 0; x < k; x++) acc += (double)A[i * k + x] * B[x * n + j];
        worst = fmax(worst, fabs(acc - C[i * n + j]));
      }
    CHECK(worst < 1e-3, "matmul %lldx%lldx%lld (threads %d): max error %g", (long long)m, (long long)k,
          (long long)n, tl_num_threads(), worst);
  }
  tl_tensor_release(a);
  tl_tensor_release(b);
  tl_tensor_release(c);
}

static void check_inv(void) {
  int64_t n = 40;
  tl_tensor *a = filled(n, n, 3), *ai = NULL, *p = NULL;
  float *A = tl_tensor_data(a);
  for (int64_t i = 0; i < n; i++) A[i * n + i] += 8.0f; /* well conditioned */
  tl_status s = tl_run1("inv", &a, 1, &ai);
  CHECK(s == TL_OK, "inv: %s", tl_last_error());
  if (!s) {
    tl_tensor *in[2] = {ai, a};
    s = tl_run1("matmul", in, 2, &p);
    CHECK(s == TL_OK, "matmul: %s", tl_last_error());
    const float *P = s ? NULL : tl_tensor_data(p);
    double worst = 0;
    for (int64_t i = 0; P && i < n; i++)
      for (int64_t j = 0; j < n; j++) worst = fmax(worst, fabs(P[i * n + j] - (i == j)));
    CHECK(worst < 1e-4, "inv(A) @ A differs from I by %g", worst);
  }
  tl_tensor_release(a);
  tl_tensor_release(ai);
  tl_tensor_release(p);
}

int main(void) {
  if (tl_init()) {
    fprintf(stderr, "init: %s\n", tl_last_error());
    return 1;
  }
  tl_status s = tl_blas_load();
  CHECK(s == TL_OK, "tl_blas_load: %s", tl_last_error());
  tl_blas_info info = tl_blas_get_info();
  CHECK(info.loaded && info.library && strstr(info.library, "blas"), "library: %s", info.library ? info.library : "(null)");
  if (info.coretype && info.corename)
    CHECK(strcmp(info.coretype, info.corename) == 0, "coretype %s but OpenBLAS reports %s", info.coretype, info.corename);
  int saved = tl_num_threads();
  for (int t = 1; t <= 3; t++) {
    tl_set_num_threads(t);
    check_matmul(3, 5, 4);       /* one small call */
    check_matmul(257, 130, 70);  /* row blocks */
    check_matmul(33, 140, 600);  /* column blocks */
  }
  tl_set_num_threads(saved);
  check_inv();
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  else printf("test_blas: ok (%s, coretype %s, corename %s)\n", info.library, info.coretype ? info.coretype : "-",
              info.corename ? info.corename : "-");
  return failures != 0;
}
