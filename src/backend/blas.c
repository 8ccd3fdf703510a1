/* blas.c — loading BLAS/LAPACK at run time, with the right OpenBLAS kernel.
 *
 * Debian's OpenBLAS picks its kernel in a constructor when the library is
 * loaded, and on CPUs it does not know (this one) falls back to a slow SSE3
 * kernel, ten times slower than the AVX-512 one. The kernel can be forced
 * with OPENBLAS_CORETYPE, but only before the library loads. So nothing
 * links BLAS at build time: at first use we detect the CPU with cpuid and
 * xgetbv (the OS must also have enabled the zmm/ymm state: valgrind, for
 * one, has no AVX-512, and a forced AVX-512 kernel there would crash), set
 * OPENBLAS_CORETYPE unless the user already did, and dlopen the library.
 *
 * OpenBLAS runs single-threaded: tlua's one compute pool splits large
 * products across its threads (see ops/linalg.c), so OpenBLAS's own
 * busy-waiting threads never compete with it for the cores. (Measured on
 * the 2-core development machine: the same GFLOP/s as OpenBLAS's own
 * threading for 1024^3 and 2048^3 products, 0.94x at 256^3, and no
 * slowdown of the pool's next job, where OpenBLAS's spinning threads cost
 * 10-17% and, under load from other processes, half the throughput.)
 */
#define _GNU_SOURCE
#include "backend/blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static tl_blas_fns fns;
static bool loaded;
static char lib_path[512];
static char coretype[64];
static char corename[64];
static bool has_coretype;
static char load_error[1024];

/* The OpenBLAS kernel this CPU (as the OS exposes it) can run, or NULL. */
static const char *detect_coretype(void) {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return NULL;
  bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12);
  if (!osxsave || !avx) return NULL;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  uint64_t xcr0 = ((uint64_t)hi << 32) | lo;
  if ((xcr0 & 0x6) != 0x6) return NULL; /* xmm and ymm state */
  if (__get_cpuid_max(0, NULL) < 7) return NULL;
  __cpuid_count(7, 0, a, b, c, d);
  bool avx2 = b & (1u << 5);
  bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
  if (f && dq && bw && vl && (xcr0 & 0xe0) == 0xe0) return "SkylakeX"; /* opmask, zmm */
  if (avx2 && fma) return "Haswell";
#endif
  return NULL;
}

static void *find(void *h1, void *h2, const char *name) {
  void *p = h1 ? dlsym(h1, name) : NULL;
  if (!p && h2) p = dlsym(h2, name);
  return p;
}

static bool resolve(void *h, void *lapack) {
  fns.sgemm = (tl_sgemm_fn)find(h, lapack, "cblas_sgemm");
  fns.dgemm = (tl_dgemm_fn)find(h, lapack, "cblas_dgemm");
  fns.sgetrf = (tl_getrf_fn)find(h, lapack, "sgetrf_");
  fns.dgetrf = (tl_getrf_fn)find(h, lapack, "dgetrf_");
  fns.sgetri = (tl_getri_fn)find(h, lapack, "sgetri_");
  fns.dgetri = (tl_getri_fn)find(h, lapack, "dgetri_");
  fns.sgesv = (tl_gesv_fn)find(h, lapack, "sgesv_");
  fns.dgesv = (tl_gesv_fn)find(h, lapack, "dgesv_");
  fns.dgesvd = (tl_gesvd_fn)find(h, lapack, "dgesvd_");
  fns.dpotrf = (tl_dpotrf_fn)find(h, lapack, "dpotrf_");
  fns.dsyev = (tl_dsyev_fn)find(h, lapack, "dsyev_");
  fns.dgeqrf = (tl_dgeqrf_fn)find(h, lapack, "dgeqrf_");
  fns.dorgqr = (tl_dorgqr_fn)find(h, lapack, "dorgqr_");
  fns.dtrsm = (tl_dtrsm_fn)find(h, lapack, "cblas_dtrsm");
  fns.set_num_threads = (void (*)(int))find(h, lapack, "openblas_set_num_threads");
  fns.get_corename = (char *(*)(void))find(h, lapack, "openblas_get_corename");
  return fns.sgemm && fns.dgemm && fns.sgetrf && fns.dgetrf && fns.sgetri && fns.dgetri &&
         fns.sgesv && fns.dgesv;
}

static void note_path(void *sym, const char *fallback) {
  Dl_info di;
  const char *p = (sym && dladdr(sym, &di) && di.dli_fname) ? di.dli_fname : fallback;
  snprintf(lib_path, sizeof lib_path, "%s", p);
}

static void do_load(void) {
  const char *user = getenv("OPENBLAS_CORETYPE");
  if (user && *user) {
    snprintf(coretype, sizeof coretype, "%s", user);
    has_coretype = true;
  } else {
    const char *ct = detect_coretype();
    if (ct) {
      setenv("OPENBLAS_CORETYPE", ct, 0);
      snprintf(coretype, sizeof coretype, "%s", ct);
      has_coretype = true;
    }
  }
  /* OpenBLAS starts its own thread pool at load, sized by this variable or
   * the core count, and those threads spin a while before sleeping. tlua
   * never uses them: ask for none while loading, and leave the environment
   * of child processes as it was. */
  bool set_threads = getenv("OPENBLAS_NUM_THREADS") == NULL;
  if (set_threads) setenv("OPENBLAS_NUM_THREADS", "1", 0);
  size_t used = 0;
  static const char *const openblas_names[] = {"libopenblas.so.0", "libopenblas.so"};
  for (size_t i = 0; i < sizeof openblas_names / sizeof openblas_names[0]; i++) {
    void *h = dlopen(openblas_names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      used += (size_t)snprintf(load_error + used, sizeof load_error - used, "%s%s",
                               used ? "; " : "", dlerror());
      if (used >= sizeof load_error) used = sizeof load_error - 1;
      continue;
    }
    if (resolve(h, NULL)) {
      note_path((void *)fns.sgemm, openblas_names[i]);
      loaded = true;
      break;
    }
    used += (size_t)snprintf(load_error + used, sizeof load_error - used,
                             "%s%s lacks a CBLAS/LAPACK symbol", used ? "; " : "", openblas_names[i]);
    if (used >= sizeof load_error) used = sizeof load_error - 1;
    dlclose(h);
  }
  if (!loaded) {
    void *b = dlopen("libblas.so.3", RTLD_NOW | RTLD_LOCAL);
    void *l = dlopen("liblapack.so.3", RTLD_NOW | RTLD_LOCAL);
    if (b && l && resolve(b, l)) {
      note_path((void *)fns.sgemm, "libblas.so.3");
      loaded = true;
    } else {
      snprintf(load_error + used, sizeof load_error - used, "%slibblas.so.3 + liblapack.so.3: %s",
               used ? "; " : "", (b && l) ? "missing CBLAS/LAPACK symbols" : "not found");
      if (b) dlclose(b);
      if (l) dlclose(l);
    }
  }
  if (set_threads) unsetenv("OPENBLAS_NUM_THREADS");
  if (!loaded) {
    memset(&fns, 0, sizeof fns);
    return;
  }
  if (fns.set_num_threads) fns.set_num_threads(1);
  if (fns.get_corename) {
    const char *cn = fns.get_corename();
    snprintf(corename, sizeof corename, "%s", cn ? cn : "");
    /* Some builds report with a trailing space. */
    size_t n = strlen(corename);
    while (n && corename[n - 1] == ' ') corename[--n] = 0;
  }
}

tl_status tl_blas_load(void) {
  pthread_once(&once, do_load);
  if (!loaded)
    return tl_error(TL_FAILED_PRECONDITION,
                    "no BLAS library could be loaded (install libopenblas0 or libblas3 + liblapack3): %s",
                    load_error);
  return TL_OK;
}

const tl_blas_fns *tl_blas(void) { return tl_blas_load() ? NULL : &fns; }

tl_blas_info tl_blas_get_info(void) {
  tl_blas_info b = {0};
  if (!loaded) return b;
  b.loaded = true;
  b.library = lib_path;
  b.coretype = has_coretype ? coretype : NULL;
  b.corename = corename[0] ? corename : NULL;
  return b;
}
