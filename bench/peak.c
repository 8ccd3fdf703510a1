/* bench/peak.c — what this machine can do at best, measured in the same run
 * as the matmul cases of bench/run.sh, so tlua's matmul is compared with the
 * hardware and with OpenBLAS called directly, not with numbers written down
 * on another machine.
 *
 *   peak fma THREADS        float32 FMA ceiling (GFLOP/s) on THREADS cores:
 *                           12 independent FMA chains per thread, AVX-512
 *                           where the CPU and OS have it, else AVX2.
 *   peak sgemm N THREADS    cblas_sgemm N^3 GFLOP/s (best of 5) with the
 *                           OpenBLAS kernel OPENBLAS_CORETYPE names (the
 *                           caller runs one process per kernel: OpenBLAS
 *                           reads the variable once, when it loads).
 *
 * Built by bench/run.sh with the system's cc and -lopenblas; not part of the
 * library or its tests.
 */
#define _GNU_SOURCE
#include <cblas.h>
#include <cpuid.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *openblas_get_corename(void);
void openblas_set_num_threads(int);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int has_avx512(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0xe6) != 0xe6) return 0;
  __cpuid_count(7, 0, a, b, c, d);
  return (b >> 16) & 1;
}

static int has_fma(void) {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 12)) && (c & (1u << 28));
}

#define FMA12(R)                                                                                   \
  "vfmadd231ps %%" R "14,%%" R "15,%%" R "0\n vfmadd231ps %%" R "14,%%" R "15,%%" R "1\n"          \
  "vfmadd231ps %%" R "14,%%" R "15,%%" R "2\n vfmadd231ps %%" R "14,%%" R "15,%%" R "3\n"          \
  "vfmadd231ps %%" R "14,%%" R "15,%%" R "4\n vfmadd231ps %%" R "14,%%" R "15,%%" R "5\n"          \
  "vfmadd231ps %%" R "14,%%" R "15,%%" R "6\n vfmadd231ps %%" R "14,%%" R "15,%%" R "7\n"          \
  "vfmadd231ps %%" R "14,%%" R "15,%%" R "8\n vfmadd231ps %%" R "14,%%" R "15,%%" R "9\n"          \
  "vfmadd231ps %%" R "14,%%" R "15,%%" R "10\n vfmadd231ps %%" R "14,%%" R "15,%%" R "11\n"

static int wide; /* 1: zmm, 0: ymm */
static const long fma_iters = 50000000;

/* flops per thread over fma_iters iterations */
static void *fma_loop(void *arg) {
  long n = fma_iters;
  if (wide)
    __asm__ volatile("vxorps %%xmm14,%%xmm14,%%xmm14\n vxorps %%xmm15,%%xmm15,%%xmm15\n"
                     "1:\n" FMA12("zmm") "dec %0\n jnz 1b\n vzeroupper\n"
                     : "+r"(n)
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm14", "xmm15", "cc");
  else
    __asm__ volatile("vxorps %%xmm14,%%xmm14,%%xmm14\n vxorps %%xmm15,%%xmm15,%%xmm15\n"
                     "1:\n" FMA12("ymm") "dec %0\n jnz 1b\n vzeroupper\n"
                     : "+r"(n)
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm14", "xmm15", "cc");
  return arg;
}

static int fma_peak(int threads) {
  if (!has_fma()) {
    printf("fma n/a\n");
    return 0;
  }
  wide = has_avx512();
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    pthread_t th[64];
    double t = now();
    for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, fma_loop, NULL);
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    t = now() - t;
    double gf = (double)fma_iters * 12 * (wide ? 16 : 8) * 2 * threads / t / 1e9;
    if (gf > best) best = gf;
  }
  printf("fma %.1f %s\n", best, wide ? "avx512" : "avx2");
  return 0;
}

static int sgemm_peak(int n, int threads) {
  openblas_set_num_threads(threads);
  size_t nn = (size_t)n * (size_t)n;
  float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
  if (!a || !b || !c) return 1;
  for (size_t i = 0; i < nn; i++) {
    a[i] = (float)(i % 7) * 0.1f;
    b[i] = (float)(i % 5) * 0.2f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
  double best = 1e30, budget = n >= 2048 ? 1.0 : 0.3;
  for (int rep = 0; rep < 5; rep++) {
    int iters = 0;
    double t0 = now(), el;
    do {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
      iters++;
      el = now() - t0;
    } while (el < budget / 5);
    if (el / iters < best) best = el / iters;
  }
  printf("sgemm %.1f %s\n", 2.0 * n * n * (double)n / best / 1e9, openblas_get_corename());
  free(a);
  free(b);
  free(c);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "fma")) {
    int t = atoi(argv[2]);
    return fma_peak(t < 1 ? 1 : t > 64 ? 64 : t);
  }
  if (argc == 4 && !strcmp(argv[1], "sgemm")) return sgemm_peak(atoi(argv[2]), atoi(argv[3]));
  fprintf(stderr, "usage: peak fma THREADS | peak sgemm N THREADS\n");
  return 2;
}
