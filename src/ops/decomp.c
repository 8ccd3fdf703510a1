/* ops/decomp.c — matrix decompositions and triangular solves for tf.linalg:
 * cholesky, matrix_triangular_solve, eigh, qr, svd.
 *
 * Each kernel walks the batch (leading dimensions) one matrix at a time:
 * it copies the matrix into a column-major float64 buffer, calls LAPACK
 * (resolved at run time by backend/blas.c from the same OpenBLAS as gemm),
 * and writes the results back row-major in the input's dtype. float32
 * operands are computed in float64 and rounded once: one code path, and
 * results at least as accurate as a float32 LAPACK's.
 *
 * Conventions (docs/linalg.md): cholesky and eigh read the lower triangle
 * only; eigh's eigenvalues ascend and each eigenvector's sign is LAPACK's;
 * svd's singular values descend, and u, v are LAPACK's (dgesvd) with v, not
 * vᵀ, returned as TensorFlow does.
 *
 * Gradients (TensorFlow's rules, written with ops): matrix_band_part,
 * matrix_triangular_solve, cholesky, eigh. Not yet: qr, svd.
 *
 * Not here: complex dtypes, the batch broadcasting of
 * triangular_solve (its batch shapes must agree, or the matrix has none).
 */
#include "backend/blas.h"
#include "autodiff/grad_temps.h"
#include "ops/ops.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The dispatcher prefixes the op and its operands' dtypes and shapes. */
static tl_status one_error(tl_status kind, const tl_meta *t, const char *what) {
  (void)t;
  return tl_error(kind, "%s", what);
}

/* A float32/float64 [..., m, n]; square when asked. */
static tl_status check_matrix(const tl_meta *t, bool square) {
  if (t->rank >= 0 && t->rank < 2)
    return one_error(TL_INVALID_ARGUMENT, t, "input must have rank >= 2 (a matrix or a batch of matrices)");
  if (t->dtype != TL_FLOAT32 && t->dtype != TL_FLOAT64) {
    char what[160];
    snprintf(what, sizeof what, "dtype %s is not supported (float32 and float64 are)", tl_dtypes[t->dtype].name);
    return one_error(TL_UNIMPLEMENTED, t, what);
  }
  if (t->rank < 0) return TL_OK;
  int64_t r = t->shape[t->rank - 2], c = t->shape[t->rank - 1];
  if (square && r >= 0 && c >= 0 && r != c) {
    char what[160];
    snprintf(what, sizeof what, "input must be square matrices (got %" PRId64 "x%" PRId64 ")", r, c);
    return one_error(TL_INVALID_ARGUMENT, t, what);
  }
  if (r > 46340 || c > 46340) return one_error(TL_UNIMPLEMENTED, t, "matrix too large for LAPACK");
  return TL_OK;
}

static tl_status push(tl_meta_list *out, tl_dtype dt, int rank, const int64_t *shape) {
  return tl_meta_push(out, dt, rank, shape) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* The shared frame of a kernel: a contiguous copy of the input, its batch
 * count and matrix dimensions, and the LAPACK table. */
typedef struct frame {
  const tl_blas_fns *f;
  tl_tensor *a; /* contiguous */
  int64_t nb, m, n;
} frame;

static tl_status frame_open(frame *fr, tl_tensor *in) {
  memset(fr, 0, sizeof *fr);
  if (!(fr->f = tl_blas())) return tl_last_status();
  tl_status s = tl_tensor_contiguous(in, &fr->a);
  if (s) return s;
  fr->m = in->shape[in->rank - 2];
  fr->n = in->shape[in->rank - 1];
  fr->nb = tl_shape_numel(in->rank - 2, in->shape);
  return TL_OK;
}

static void frame_close(frame *fr) {
  if (fr->a) tl_tensor_release(fr->a);
}

/* Matrix bi of fr->a, column-major into cm (leading dimension m). */
static void load_cm(const frame *fr, int64_t bi, double *cm) {
  const void *base = tl_tensor_data(fr->a);
  int64_t o = bi * fr->m * fr->n;
  for (int64_t i = 0; i < fr->m; i++)
    for (int64_t j = 0; j < fr->n; j++) cm[i + j * fr->m] = tl_load_f64(base, fr->a->dtype, o + i * fr->n + j);
}

/* rows x cols of column-major cm (leading dimension ld) into matrix bi of a
 * row-major rows x cols output; below_only keeps the lower triangle (the
 * rest is 0), above_only the upper. */
static void store_rm(tl_tensor *o, int64_t bi, const double *cm, int64_t ld, int64_t rows, int64_t cols, int tri) {
  void *base = tl_tensor_data(o);
  int64_t off = bi * rows * cols;
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) {
      double v = cm[i + j * ld];
      if ((tri < 0 && j > i) || (tri > 0 && j < i)) v = 0;
      tl_store_f64(base, o->dtype, off + i * cols + j, v);
    }
}

static tl_status missing(const char *routine) {
  return tl_error(TL_UNIMPLEMENTED, "the loaded LAPACK has no %s", routine);
}

static tl_status oom(void) { return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory"); }

/* ---- cholesky --------------------------------------------------------- */

static tl_status square_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = check_matrix(in[0], true);
  if (s) return s;
  return push(out, in[0]->dtype, in[0]->rank, in[0]->shape);
}

static tl_status cholesky_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  frame fr;
  tl_status s = frame_open(&fr, in[0]);
  if (s) return s;
  double *cm = NULL;
  if (!fr.f->dpotrf) s = missing("dpotrf");
  else if (!(cm = malloc(sizeof *cm * (size_t)(fr.n * fr.n + 1)))) s = oom();
  int n = (int)fr.n, info = 0;
  for (int64_t bi = 0; !s && bi < fr.nb && n > 0; bi++) {
    load_cm(&fr, bi, cm);
    fr.f->dpotrf("L", &n, cm, &n, &info, 1);
    if (info > 0)
      s = tl_error(TL_INVALID_ARGUMENT,
                   "Cholesky decomposition was not successful: the input might not be valid "
                   "(batch entry %" PRId64 " is not positive definite)", bi);
    else store_rm(out->items[0], bi, cm, n, n, n, -1);
  }
  free(cm);
  frame_close(&fr);
  return s;
}

/* ---- matrix_triangular_solve ------------------------------------------ */

static tl_status trisolve_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  const tl_meta *a = in[0], *b = in[1];
  tl_status s = check_matrix(a, true);
  if (s) return s;
  if ((s = check_matrix(b, false))) return s;
  if (a->dtype != b->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "matrix and rhs have different dtypes (%s vs %s)",
                    tl_dtypes[a->dtype].name, tl_dtypes[b->dtype].name);
  if (a->rank < 0 || b->rank < 0) return push(out, b->dtype, b->rank, b->rank < 0 ? NULL : b->shape);
  int64_t n = a->shape[a->rank - 1], rows = b->shape[b->rank - 2];
  if (n >= 0 && rows >= 0 && n != rows)
    return tl_error(TL_INVALID_ARGUMENT, "rhs has %" PRId64 " rows, the matrix is %" PRId64 "x%" PRId64, rows, n, n);
  if (a->rank > 2) {
    bool same = a->rank == b->rank;
    for (int i = 0; same && i < a->rank - 2; i++)
      if (a->shape[i] >= 0 && b->shape[i] >= 0 && a->shape[i] != b->shape[i]) same = false;
    if (!same)
      return tl_error(TL_UNIMPLEMENTED, "the batch dimensions must agree (or the matrix have none)");
  }
  return push(out, b->dtype, b->rank, b->shape);
}

static tl_status trisolve_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  bool lower = attr[0].b, adjoint = attr[1].b;
  const tl_blas_fns *f = tl_blas();
  if (!f) return tl_last_status();
  if (!f->dtrsm) return missing("cblas_dtrsm");
  tl_tensor *a = NULL, *b = NULL, *o = out->items[0];
  tl_status s = tl_tensor_contiguous(in[0], &a);
  if (!s) s = tl_tensor_contiguous(in[1], &b);
  int64_t n = in[0]->shape[in[0]->rank - 1], k = in[1]->shape[in[1]->rank - 1];
  int64_t nb = tl_shape_numel(in[1]->rank - 2, in[1]->shape), na = tl_shape_numel(in[0]->rank - 2, in[0]->shape);
  double *am = s ? NULL : malloc(sizeof *am * (size_t)(n * n + 1));
  double *bm = s ? NULL : malloc(sizeof *bm * (size_t)(n * k + 1));
  if (!s && (!am || !bm)) s = oom();
  for (int64_t bi = 0; !s && bi < nb && n > 0 && k > 0; bi++) {
    int64_t ai = na == 1 ? 0 : bi;
    for (int64_t i = 0; i < n * n; i++) am[i] = tl_load_f64(tl_tensor_data(a), a->dtype, ai * n * n + i);
    for (int64_t i = 0; i < n * k; i++) bm[i] = tl_load_f64(tl_tensor_data(b), b->dtype, bi * n * k + i);
    /* only the named triangle of the matrix is read, as in TensorFlow */
    f->dtrsm(TL_CBLAS_ROW_MAJOR, 141, lower ? 122 : 121, adjoint ? TL_CBLAS_TRANS : TL_CBLAS_NO_TRANS, 131,
             (int)n, (int)k, 1.0, am, (int)n, bm, (int)k);
    for (int64_t i = 0; i < n * k; i++) tl_store_f64(tl_tensor_data(o), o->dtype, bi * n * k + i, bm[i]);
  }
  free(am);
  free(bm);
  if (a) tl_tensor_release(a);
  if (b) tl_tensor_release(b);
  return s;
}

/* ---- eigh ----------------------------------------------------------------- */

static tl_status eigh_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  const tl_meta *a = in[0];
  tl_status s = check_matrix(a, true);
  if (s) return s;
  if (a->rank < 0) {
    if ((s = push(out, a->dtype, -1, NULL))) return s;
    return push(out, a->dtype, -1, NULL);
  }
  if ((s = push(out, a->dtype, a->rank - 1, a->shape))) return s;
  return push(out, a->dtype, a->rank, a->shape);
}

static tl_status eigh_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  frame fr;
  tl_status s = frame_open(&fr, in[0]);
  if (s) return s;
  int n = (int)fr.n, info = 0, lwork = -1;
  double q = 0, *cm = NULL, *w = NULL, *work = NULL;
  if (!fr.f->dsyev) s = missing("dsyev");
  else if (n > 0) {
    fr.f->dsyev("V", "L", &n, NULL, &n, NULL, &q, &lwork, &info, 1, 1);
    lwork = (int)q > 3 * n ? (int)q : 3 * n;
    cm = malloc(sizeof *cm * (size_t)n * (size_t)n);
    w = malloc(sizeof *w * (size_t)n);
    work = malloc(sizeof *work * (size_t)lwork);
    if (!cm || !w || !work) s = oom();
  }
  tl_tensor *e = out->items[0], *v = out->items[1];
  for (int64_t bi = 0; !s && bi < fr.nb && n > 0; bi++) {
    load_cm(&fr, bi, cm);
    fr.f->dsyev("V", "L", &n, cm, &n, w, work, &lwork, &info, 1, 1);
    if (info != 0) {
      s = tl_error(TL_INVALID_ARGUMENT, "the eigenvalue iteration did not converge (batch entry %" PRId64 ")", bi);
      break;
    }
    for (int i = 0; i < n; i++) tl_store_f64(tl_tensor_data(e), e->dtype, bi * n + i, w[i]);
    store_rm(v, bi, cm, n, n, n, 0);
  }
  free(cm);
  free(w);
  free(work);
  frame_close(&fr);
  return s;
}

/* ---- qr --------------------------------------------------------------- */

static tl_status qr_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *a = in[0];
  tl_status s = check_matrix(a, false);
  if (s) return s;
  if (a->rank < 0) {
    if ((s = push(out, a->dtype, -1, NULL))) return s;
    return push(out, a->dtype, -1, NULL);
  }
  bool full = attr[0].b;
  int r = a->rank;
  int64_t m = a->shape[r - 2], n = a->shape[r - 1];
  int64_t k = m < 0 || n < 0 ? -1 : (m < n ? m : n), qc = full ? m : k;
  int64_t sh[TL_MAX_RANK];
  memcpy(sh, a->shape, sizeof(int64_t) * (size_t)r);
  sh[r - 1] = qc;
  if ((s = push(out, a->dtype, r, sh))) return s;
  sh[r - 2] = qc;
  sh[r - 1] = n;
  return push(out, a->dtype, r, sh);
}

static tl_status qr_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  bool full = attr[0].b;
  frame fr;
  tl_status s = frame_open(&fr, in[0]);
  if (s) return s;
  int m = (int)fr.m, n = (int)fr.n, k = m < n ? m : n, qc = full ? m : k, info = 0;
  int lwork = 64 * (m > n ? m : n) + 64;
  double *a = NULL, *qm = NULL, *tau = NULL, *work = NULL;
  tl_tensor *Q = out->items[0], *R = out->items[1];
  if (!fr.f->dgeqrf || !fr.f->dorgqr) s = missing("dgeqrf/dorgqr");
  else {
    a = malloc(sizeof *a * (size_t)(fr.m * fr.n + 1));
    qm = malloc(sizeof *qm * (size_t)(fr.m * qc + 1));
    tau = malloc(sizeof *tau * (size_t)(k + 1));
    work = malloc(sizeof *work * (size_t)lwork);
    if (!a || !qm || !tau || !work) s = oom();
  }
  for (int64_t bi = 0; !s && bi < fr.nb && m > 0; bi++) {
    if (n == 0) { /* Q is the identity's first qc columns, R is empty */
      for (int i = 0; i < m; i++)
        for (int j = 0; j < qc; j++) tl_store_f64(tl_tensor_data(Q), Q->dtype, (bi * m + i) * qc + j, i == j);
      continue;
    }
    load_cm(&fr, bi, a);
    fr.f->dgeqrf(&m, &n, a, &m, tau, work, &lwork, &info);
    store_rm(R, bi, a, m, qc, n, 1);
    memset(qm, 0, sizeof *qm * (size_t)m * (size_t)qc);
    memcpy(qm, a, sizeof *qm * (size_t)m * (size_t)k);
    fr.f->dorgqr(&m, &qc, &k, qm, &m, tau, work, &lwork, &info);
    if (info != 0) s = tl_error(TL_INTERNAL, "dorgqr failed (info %d)", info);
    else store_rm(Q, bi, qm, m, m, qc, 0);
  }
  free(a);
  free(qm);
  free(tau);
  free(work);
  frame_close(&fr);
  return s;
}

/* ---- svd -------------------------------------------------------------- */

static tl_status svd_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *a = in[0];
  tl_status s = check_matrix(a, false);
  if (s) return s;
  bool full = attr[0].b;
  if (a->rank < 0) {
    for (int i = 0; i < 3 && !s; i++) s = push(out, a->dtype, -1, NULL);
    return s;
  }
  int r = a->rank;
  int64_t m = a->shape[r - 2], n = a->shape[r - 1];
  int64_t k = m < 0 || n < 0 ? -1 : (m < n ? m : n);
  int64_t sh[TL_MAX_RANK];
  memcpy(sh, a->shape, sizeof(int64_t) * (size_t)r);
  sh[r - 2] = k;
  if ((s = push(out, a->dtype, r - 1, sh))) return s;
  sh[r - 2] = m;
  sh[r - 1] = full ? m : k;
  if ((s = push(out, a->dtype, r, sh))) return s;
  sh[r - 2] = n;
  sh[r - 1] = full ? n : k;
  return push(out, a->dtype, r, sh);
}

static tl_status svd_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  bool full = attr[0].b;
  frame fr;
  tl_status s = frame_open(&fr, in[0]);
  if (s) return s;
  int m = (int)fr.m, n = (int)fr.n, k = m < n ? m : n, info = 0, lwork = -1;
  int uc = full ? m : k, vr = full ? n : k, ldvt = vr > 0 ? vr : 1, ldu = m > 0 ? m : 1;
  double q = 0, *a = NULL, *sv = NULL, *u = NULL, *vt = NULL, *work = NULL;
  tl_tensor *S = out->items[0], *U = out->items[1], *V = out->items[2];
  const char *job = full ? "A" : "S";
  if (!fr.f->dgesvd) s = missing("dgesvd");
  else if (k > 0) {
    fr.f->dgesvd(job, job, &m, &n, NULL, &m, NULL, NULL, &ldu, NULL, &ldvt, &q, &lwork, &info, 1, 1);
    lwork = (int)q + 1;
    a = malloc(sizeof *a * (size_t)m * (size_t)n);
    sv = malloc(sizeof *sv * (size_t)k);
    u = malloc(sizeof *u * (size_t)m * (size_t)uc);
    vt = malloc(sizeof *vt * (size_t)vr * (size_t)n);
    work = malloc(sizeof *work * (size_t)lwork);
    if (!a || !sv || !u || !vt || !work) s = oom();
  }
  for (int64_t bi = 0; !s && bi < fr.nb; bi++) {
    if (k == 0) { /* the identity where a full u or v has columns */
      for (int i = 0; i < m; i++)
        for (int j = 0; j < uc; j++) tl_store_f64(tl_tensor_data(U), U->dtype, (bi * m + i) * uc + j, i == j);
      for (int i = 0; i < n; i++)
        for (int j = 0; j < vr; j++) tl_store_f64(tl_tensor_data(V), V->dtype, (bi * n + i) * vr + j, i == j);
      continue;
    }
    load_cm(&fr, bi, a);
    fr.f->dgesvd(job, job, &m, &n, a, &m, sv, u, &ldu, vt, &ldvt, work, &lwork, &info, 1, 1);
    if (info != 0) {
      s = tl_error(TL_INVALID_ARGUMENT, "the SVD did not converge (batch entry %" PRId64 ")", bi);
      break;
    }
    for (int i = 0; i < k; i++) tl_store_f64(tl_tensor_data(S), S->dtype, bi * k + i, sv[i]);
    store_rm(U, bi, u, m, m, uc, 0);
    /* v = vtᵀ: v[i][j] = vt[j][i], which is vt's column-major element (j, i) */
    for (int i = 0; i < n; i++)
      for (int j = 0; j < vr; j++)
        tl_store_f64(tl_tensor_data(V), V->dtype, (bi * n + i) * vr + j, vt[j + (int64_t)i * ldvt]);
  }
  free(a);
  free(sv);
  free(u);
  free(vt);
  free(work);
  frame_close(&fr);
  return s;
}

/* ---- matrix_band_part ------------------------------------------------- */

static tl_status band_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  const tl_meta *a = in[0];
  if (a->rank >= 0 && a->rank < 2) return one_error(TL_INVALID_ARGUMENT, a, "input must have rank >= 2");
  return push(out, a->dtype, a->rank, a->rank < 0 ? NULL : a->shape);
}

/* Keeps -num_lower <= j - i <= num_upper (a negative count: that whole side). */
static tl_status band_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  int64_t lo = attr[0].i, up = attr[1].i;
  tl_tensor *a = NULL, *o = out->items[0];
  tl_status s = tl_tensor_contiguous(in[0], &a);
  if (s) return s;
  int64_t m = a->shape[a->rank - 2], n = a->shape[a->rank - 1], nb = tl_shape_numel(a->rank - 2, a->shape);
  size_t es = tl_dtypes[a->dtype].size;
  const char *src = tl_tensor_data(a);
  char *dst = tl_tensor_data(o);
  for (int64_t b = 0; b < nb; b++)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        size_t at = (size_t)((b * m + i) * n + j) * es;
        bool keep = (lo < 0 || i - j <= lo) && (up < 0 || j - i <= up);
        if (keep) memcpy(dst + at, src + at, es);
        else memset(dst + at, 0, es);
      }
  tl_tensor_release(a);
  return TL_OK;
}

/* ---- gradients --------------------------------------------------------- */

static tl_tensor *band(tl_temps *T, tl_tensor *x, int64_t lo, int64_t up) {
  return tl_temps_op1(T, "matrix_band_part", x, 2,
                      (tl_named_attr[]){TL_A_INT("num_lower", lo), TL_A_INT("num_upper", up)});
}

static tl_tensor *tsolve(tl_temps *T, tl_tensor *a, tl_tensor *b, bool lower, bool adjoint) {
  if (!a || !b) return NULL;
  tl_tensor *r = NULL, *in[2] = {a, b};
  if (tl_call("matrix_triangular_solve", 2, in, 2,
              (tl_named_attr[]){TL_A_BOOL("lower", lower), TL_A_BOOL("adjoint", adjoint)}, &r))
    return NULL;
  return tl_temps_keep(T, r);
}

static tl_tensor *mmul(tl_temps *T, tl_tensor *a, tl_tensor *b, bool ta, bool tb) {
  if (!a || !b) return NULL;
  tl_tensor *r = NULL, *in[2] = {a, b};
  if (tl_call("matmul", 2, in, 2, (tl_named_attr[]){TL_A_BOOL("transpose_a", ta), TL_A_BOOL("transpose_b", tb)}, &r))
    return NULL;
  return tl_temps_keep(T, r);
}

static tl_tensor *tr(tl_temps *T, tl_tensor *x) { return tl_temps_un(T, "matrix_transpose", x); }

static tl_status band_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_in, (void)out, (void)n_out, (void)in;
  if (!grad_out[0] || !tl_grad_wants(0)) return TL_OK;
  tl_temps T = {0};
  return tl_temps_give(&T, band(&T, grad_out[0], attr[0].i, attr[1].i), &grad_in[0], true);
}

/* TensorFlow's _MatrixTriangularSolveGrad (real dtypes). */
static tl_status trisolve_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_in, (void)n_out;
  bool lower = attr[0].b, adjoint = attr[1].b;
  tl_tensor *a = in[0], *c = out[0], *g = grad_out[0];
  if (!g) return TL_OK;
  tl_temps T = {0};
  tl_tensor *gb = tsolve(&T, a, g, lower, !adjoint);
  tl_status s = TL_OK;
  if (tl_grad_wants(0)) {
    tl_tensor *ga = adjoint ? mmul(&T, c, gb, false, true) : mmul(&T, gb, c, false, true);
    ga = band(&T, tl_temps_un(&T, "negative", ga), lower ? -1 : 0, lower ? 0 : -1);
    s = tl_temps_give(&T, ga, &grad_in[0], false);
  }
  if (!s && tl_grad_wants(1)) s = tl_temps_give(&T, gb, &grad_in[1], false);
  tl_temps_free(&T);
  return s;
}

/* TensorFlow's _CholeskyGrad: with phi(X) = tril(X) with a halved diagonal,
 * grad_a = sym(L⁻ᵀ phi(Lᵀ g) L⁻¹), sym(X) = (X + Xᵀ) / 2; the two inverses
 * are triangular solves. */
static tl_status cholesky_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_in, (void)n_out, (void)in, (void)attr;
  tl_tensor *l = out[0], *g = grad_out[0];
  if (!g || !tl_grad_wants(0)) return TL_OK;
  tl_temps T = {0};
  tl_tensor *mid = mmul(&T, l, g, true, false);
  tl_tensor *half = tl_temps_scalar(&T, l, l->dtype, 0.5);
  mid = tl_temps_op2(&T, "subtract", band(&T, mid, -1, 0), tl_temps_op2(&T, "multiply", half, band(&T, mid, 0, 0)));
  tl_tensor *x = tsolve(&T, l, mid, true, true);          /* L⁻ᵀ mid */
  tl_tensor *ga = tr(&T, tsolve(&T, l, tr(&T, x), true, true)); /* (L⁻ᵀ xᵀ)ᵀ = x L⁻¹ */
  ga = tl_temps_op2(&T, "multiply", half, tl_temps_op2(&T, "add", ga, tr(&T, ga)));
  return tl_temps_give(&T, ga, &grad_in[0], true);
}

static tl_tensor *expand(tl_temps *T, tl_tensor *x, int64_t axis) {
  return tl_temps_op1(T, "expand_dims", x, 1, (tl_named_attr[]){TL_A_INT("axis", axis)});
}

/* TensorFlow's _SelfAdjointEigV2Grad: with f[i][j] = 1 / (e[j] - e[i]) off
 * the diagonal and 0 on it, g = v (diag(ge) + f * (vᵀ gv)) vᵀ, returned for
 * the lower triangle the kernel read (g + gᵀ below the diagonal, g's own
 * diagonal). Repeated eigenvalues make f infinite, as in TensorFlow. */
static tl_status eigh_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_in, (void)n_out, (void)in, (void)attr;
  tl_tensor *e = out[0], *v = out[1], *ge = grad_out[0], *gv = grad_out[1];
  if ((!ge && !gv) || !tl_grad_wants(0)) return TL_OK;
  tl_temps T = {0};
  tl_tensor *inner = ge ? tl_temps_un(&T, "diag", ge) : NULL;
  if (gv) {
    tl_tensor *d = tl_temps_op2(&T, "subtract", expand(&T, e, -2), expand(&T, e, -1));
    tl_tensor *eye = band(&T, tl_temps_un(&T, "ones_like", d), 0, 0);
    tl_tensor *f = tl_temps_op2(&T, "subtract", tl_temps_un(&T, "reciprocal", tl_temps_op2(&T, "add", d, eye)), eye);
    tl_tensor *fv = tl_temps_op2(&T, "multiply", f, mmul(&T, v, gv, true, false));
    inner = inner ? tl_temps_op2(&T, "add", inner, fv) : fv;
  }
  tl_tensor *g = mmul(&T, v, mmul(&T, inner, v, false, true), false, false);
  g = band(&T, tl_temps_op2(&T, "add", g, tr(&T, g)), -1, 0);
  g = tl_temps_op2(&T, "subtract", g, tl_temps_op2(&T, "multiply", tl_temps_scalar(&T, v, v->dtype, 0.5), band(&T, g, 0, 0)));
  return tl_temps_give(&T, g, &grad_in[0], true);
}

tl_op_def tl_ops_decomp[] = {
    {.name = "matrix_band_part", .inputs = "input", .attrs = "num_lower:int, num_upper:int", .infer = band_infer,
     .kernel[TL_CPU] = band_kernel, .grad = band_grad, .api = "-",
     .doc = "Zeroes the entries outside a band around the diagonal (tf.linalg.band_part)."},
    {.name = "cholesky", .inputs = "input", .infer = square_infer, .kernel[TL_CPU] = cholesky_kernel,
     .grad = cholesky_grad,
     .api = "tf.linalg.cholesky", .doc = "Lower-triangular L with L Lᵀ = input (reads the lower triangle)."},
    {.name = "matrix_triangular_solve", .inputs = "matrix, rhs", .attrs = "lower:bool=true, adjoint:bool=false",
     .infer = trisolve_infer, .kernel[TL_CPU] = trisolve_kernel, .grad = trisolve_grad, .flags = TL_OP_SCALARS_FOLLOW | TL_OP_SAME_DTYPE,
     .api = "tf.linalg.triangular_solve", .doc = "Solves matrix x = rhs for triangular matrix (lower or upper)."},
    {.name = "eigh", .inputs = "tensor", .infer = eigh_infer, .kernel[TL_CPU] = eigh_kernel, .grad = eigh_grad,
     .api = "tf.linalg.eigh", .doc = "Eigenvalues (ascending) and eigenvectors (columns) of symmetric matrices."},
    {.name = "qr", .inputs = "input", .attrs = "full_matrices:bool=false", .infer = qr_infer,
     .kernel[TL_CPU] = qr_kernel, .api = "tf.linalg.qr", .doc = "q, r with input = q r, q orthonormal columns."},
    {.name = "svd_full", .inputs = "tensor", .attrs = "full_matrices:bool=false", .infer = svd_infer,
     .kernel[TL_CPU] = svd_kernel, .api = "-", .doc = "s, u, v with tensor = u diag(s) vᵀ (tf.linalg.svd)."},
    {0},
};
