/* tl_blas.h — the BLAS/LAPACK entry points blas.c resolves at run time.
 *
 * Internal to the core (ops/linalg.c and friends); the public part is
 * tl_blas_load/tl_blas_get_info in tl.h. Nothing links BLAS at build time:
 * blas.c dlopens it at first use so it can pick OpenBLAS's kernel first.
 * Integers are the LP64 `int` of Debian's libopenblas / netlib ABI.
 */
#ifndef TL_BLAS_H
#define TL_BLAS_H

#include "tl.h"

enum { TL_CBLAS_ROW_MAJOR = 101, TL_CBLAS_NO_TRANS = 111, TL_CBLAS_TRANS = 112 };

typedef void (*tl_sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha,
                            const float *a, int lda, const float *b, int ldb, float beta, float *c,
                            int ldc);
typedef void (*tl_dgemm_fn)(int order, int ta, int tb, int m, int n, int k, double alpha,
                            const double *a, int lda, const double *b, int ldb, double beta,
                            double *c, int ldc);
/* LAPACK, Fortran ABI, column-major. */
typedef void (*tl_getrf_fn)(const int *m, const int *n, void *a, const int *lda, int *ipiv, int *info);
typedef void (*tl_getri_fn)(const int *n, void *a, const int *lda, const int *ipiv, void *work,
                            const int *lwork, int *info);
typedef void (*tl_gesv_fn)(const int *n, const int *nrhs, void *a, const int *lda, int *ipiv,
                           void *b, const int *ldb, int *info);

/* dgesvd; the two trailing arguments are the hidden lengths of the
   CHARACTER arguments jobu and jobvt (gfortran's ABI). */
typedef void (*tl_gesvd_fn)(const char *jobu, const char *jobvt, const int *m, const int *n, double *a,
                            const int *lda, double *s, double *u, const int *ldu, double *vt,
                            const int *ldvt, double *work, const int *lwork, int *info, size_t ljobu,
                            size_t ljobvt);

/* Decompositions (ops/decomp.c), double precision only: float32 operands
   are widened. Trailing size_t: hidden CHARACTER lengths. NULL when absent. */
typedef void (*tl_dpotrf_fn)(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t l1);
typedef void (*tl_dsyev_fn)(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                            double *w, double *work, const int *lwork, int *info, size_t l1, size_t l2);
typedef void (*tl_dgeqrf_fn)(const int *m, const int *n, double *a, const int *lda, double *tau, double *work,
                             const int *lwork, int *info);
typedef void (*tl_dorgqr_fn)(const int *m, const int *n, const int *k, double *a, const int *lda,
                             const double *tau, double *work, const int *lwork, int *info);
typedef void (*tl_dtrsm_fn)(int order, int side, int uplo, int trans, int diag, int m, int n, double alpha,
                            const double *a, int lda, double *b, int ldb);

typedef struct tl_blas_fns {
  tl_sgemm_fn sgemm;
  tl_dgemm_fn dgemm;
  tl_getrf_fn sgetrf, dgetrf;
  tl_getri_fn sgetri, dgetri;
  tl_gesv_fn sgesv, dgesv;
  tl_gesvd_fn dgesvd;           /* NULL when the LAPACK lacks it (only the matrix 2-norm needs it) */
  tl_dpotrf_fn dpotrf;
  tl_dsyev_fn dsyev;
  tl_dgeqrf_fn dgeqrf;
  tl_dorgqr_fn dorgqr;
  tl_dtrsm_fn dtrsm; /* cblas_dtrsm */
  void (*set_num_threads)(int); /* NULL when the library is not OpenBLAS */
  char *(*get_corename)(void);  /* NULL when the library is not OpenBLAS */
} tl_blas_fns;

/* Loads once (thread-safe) and returns the table, or NULL with the error set. */
const tl_blas_fns *tl_blas(void);

#endif
