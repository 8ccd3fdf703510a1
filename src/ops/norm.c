/* ops/norm.c — tf.norm / tf.linalg.norm: vector p-norms and inf, matrix
 * norms 'fro', 1, inf and 2 over any pair of axes, with their gradients.
 *
 * Each norm is computed in float64 on a copy of one vector or matrix at a
 * time, into the output the dispatcher allocated from the shape rule
 * (float16/bfloat16 reach the kernel as float32: TL_OP_HALF_VIA_F32). The matrix 2-norm is the
 * largest singular value from LAPACK's dgesvd; its gradient u1 v1' comes
 * from the internal op norm2_direction, whose own gradient (the second
 * derivative) raises Unimplemented rather than being silently wrong. The
 * other gradients are written with ops, so they differentiate again.
 */
#include "ops/ops.h"
#include "autodiff/grad_temps.h"
#include "backend/blas.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static tl_status binop(const char *name, tl_tensor *x, tl_tensor *y, tl_tensor **out) {
  tl_tensor *in[2] = {x, y};
  return tl_call(name, 2, in, 0, NULL, out);
}

/* ---- norm -------------------------------------------------------------- */

/* ord as a string ("euclidean", "fro", "inf", or a number), p = its value. */
typedef enum { ORD_P, ORD_INF, ORD_FRO, ORD_TWO /* matrix: largest singular value */ } ord_kind;

static tl_status parse_ord(const char *s, bool matrix, ord_kind *kind, double *p) {
  if (strcmp(s, "euclidean") == 0) {
    *kind = matrix ? ORD_FRO : ORD_P;
    *p = 2;
    return TL_OK;
  }
  if (strcmp(s, "fro") == 0) {
    if (!matrix)
      return tl_error(TL_INVALID_ARGUMENT, "ord 'fro' is a matrix norm: give axis as a pair of axes "
                                           "(vector norms: 'euclidean', inf or a positive number)");
    *kind = ORD_FRO;
    return TL_OK;
  }
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || v != v || v <= 0)
    return tl_error(TL_INVALID_ARGUMENT, "ord '%s' is not supported (%s)", s,
                    matrix ? "matrix norms: 'fro', 'euclidean', 1, 2, inf"
                           : "vector norms: 'euclidean', inf or a positive number");
  if (isinf(v)) {
    *kind = ORD_INF;
    return TL_OK;
  }
  if (matrix && v != 1 && v != 2)
    return tl_error(TL_INVALID_ARGUMENT, "ord '%s' is not supported for matrices ('fro', 'euclidean', 1, 2, inf are)", s);
  if (matrix && v == 2) {
    *kind = ORD_TWO;
    *p = 2;
    return TL_OK;
  }
  *kind = ORD_P;
  *p = v;
  return TL_OK;
}

/* The largest singular value of the rows x cols row-major matrix a (which
 * LAPACK overwrites) and, when u and v are given, its singular vectors (u:
 * rows, v: cols). LAPACK is column-major, so it sees the transpose
 * a' = V S U': its left vectors are our right ones and the other way round.
 * Returns LAPACK's info (0 = converged) or -1000 when out of memory. */
static int svd_top(const tl_blas_fns *blas, double *a, int64_t rows, int64_t cols, double *sigma, double *u,
                   double *v) {
  int m = (int)cols, n = (int)rows, k = m < n ? m : n, lda = m, info = 0, lwork = -1;
  bool vecs = u && v;
  int ldu = vecs ? m : 1, ldvt = vecs ? k : 1;
  double q, *sv = malloc(sizeof(double) * (size_t)k);
  double *U = vecs ? malloc(sizeof(double) * (size_t)m * (size_t)k) : NULL;
  double *VT = vecs ? malloc(sizeof(double) * (size_t)k * (size_t)n) : NULL;
  double dummy = 0;
  const char *job = vecs ? "S" : "N";
  if (!sv || (vecs && (!U || !VT))) info = -1000;
  if (!info) blas->dgesvd(job, job, &m, &n, a, &lda, sv, vecs ? U : &dummy, &ldu, vecs ? VT : &dummy, &ldvt, &q, &lwork,
                          &info, 1, 1);
  double *work = NULL;
  if (!info) {
    lwork = (int)q;
    work = malloc(sizeof(double) * (size_t)(lwork > 1 ? lwork : 1));
    if (!work) info = -1000;
  }
  if (!info) blas->dgesvd(job, job, &m, &n, a, &lda, sv, vecs ? U : &dummy, &ldu, vecs ? VT : &dummy, &ldvt, work,
                          &lwork, &info, 1, 1);
  if (!info) {
    *sigma = sv[0];
    if (vecs) {
      for (int64_t j = 0; j < cols; j++) v[j] = U[j];             /* first column of LAPACK's U */
      for (int64_t i = 0; i < rows; i++) u[i] = VT[i * ldvt];     /* first row of LAPACK's VT */
    }
  }
  free(work);
  free(sv);
  free(U);
  free(VT);
  return info;
}

typedef struct norm_job {
  const tl_blas_fns *blas; /* ORD_TWO */
  ord_kind kind;
  double p;
  bool matrix;
  int64_t rows, cols; /* matrix: rows x cols; vector: 1 x cols */
  tl_dtype dt;
  const char *in;
  char *out;
  int failed; /* set when a worker could not allocate its scratch row */
} norm_job;

static double vec_norm(const double *x, int64_t n, int64_t stride, ord_kind kind, double p) {
  double acc = 0;
  if (kind == ORD_INF) {
    for (int64_t i = 0; i < n; i++) acc = fmax(acc, fabs(x[i * stride]));
  } else if (p == 2 || kind == ORD_FRO) {
    for (int64_t i = 0; i < n; i++) acc += x[i * stride] * x[i * stride];
    acc = sqrt(acc);
  } else if (p == 1) {
    for (int64_t i = 0; i < n; i++) acc += fabs(x[i * stride]);
  } else {
    for (int64_t i = 0; i < n; i++) acc += pow(fabs(x[i * stride]), p);
    acc = pow(acc, 1.0 / p);
  }
  return acc;
}

static void norm_units(int64_t begin, int64_t end, void *ctx) {
  norm_job *j = ctx;
  int64_t m = j->rows * j->cols;
  size_t bytes = sizeof(double) * (size_t)(m ? m : 1);
  double *buf = tl_alloc(bytes);
  if (!buf) {
    __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    return;
  }
  for (int64_t b = begin; b < end; b++) {
    if (j->dt == TL_FLOAT32)
      for (int64_t i = 0; i < m; i++) buf[i] = ((const float *)j->in)[b * m + i];
    else
      memcpy(buf, (const double *)j->in + b * m, sizeof(double) * (size_t)m);
    double r;
    bool has_nan = false, has_inf = false;
    if (j->kind == ORD_TWO) /* LAPACK is not given NaN or inf: the norm is NaN if any is NaN, else inf */
      for (int64_t i = 0; i < m; i++) {
        has_nan |= isnan(buf[i]) != 0;
        has_inf |= isinf(buf[i]) != 0;
      }
    if (has_nan || has_inf) {
      r = has_nan ? NAN : INFINITY;
    } else if (j->kind == ORD_TWO) {
      if (svd_top(j->blas, buf, j->rows, j->cols, &r, NULL, NULL) != 0) {
        __atomic_store_n(&j->failed, 2, __ATOMIC_RELAXED);
        r = NAN;
      }
    } else if (!j->matrix || j->kind == ORD_FRO) {
      r = vec_norm(buf, m, 1, j->kind, j->p);
    } else {
      /* ord 1: largest column sum; inf: largest row sum. */
      bool cols = j->kind == ORD_P;
      int64_t outer = cols ? j->cols : j->rows, inner = cols ? j->rows : j->cols;
      r = 0;
      for (int64_t o = 0; o < outer; o++)
        r = fmax(r, cols ? vec_norm(buf + o, inner, j->cols, ORD_P, 1) : vec_norm(buf + o * j->cols, inner, 1, ORD_P, 1));
    }
    if (j->dt == TL_FLOAT32) ((float *)j->out)[b] = (float)r;
    else ((double *)j->out)[b] = r;
  }
  tl_free(buf, bytes);
}

/* What the axis attribute of norm asks for: naxes (0: every axis, 1: a
 * vector norm, 2: a matrix norm) and the axes normalised (rank known). */
static tl_status norm_axes(const tl_meta *t, const tl_attr *axis, int *naxes, int *ax) {
  *naxes = axis->present ? axis->n : 0;
  if (*naxes > 2 || (axis->present && *naxes == 0))
    return tl_error(TL_INVALID_ARGUMENT, "axis must be one axis (vector norm) or a pair of axes (matrix norm), got %d",
                    *naxes);
  ax[0] = ax[1] = -1;
  if (t->rank < 0) return TL_OK;
  for (int i = 0; i < *naxes; i++) {
    tl_status s = tl_normalize_axis("norm", axis->ints[i], t->rank, &ax[i]);
    if (s) return s;
  }
  if (*naxes == 2 && ax[0] == ax[1]) return tl_error(TL_INVALID_ARGUMENT, "the two axes must differ (both are %d)", ax[0]);
  return TL_OK;
}

static tl_status norm_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *t = in[0];
  if (!tl_dtype_is_float(t->dtype)) /* float16/bfloat16 arrive as float32 */
    return tl_error(TL_UNIMPLEMENTED, "dtype %s is not supported (norms need a floating-point tensor; use tf.cast)",
                    tl_dtypes[t->dtype].name);
  int naxes, ax[2];
  ord_kind kind;
  double p;
  bool keepdims = attr[2].b;
  tl_status s = norm_axes(t, &attr[1], &naxes, ax);
  if (s || (s = parse_ord(attr[0].s ? attr[0].s : "euclidean", naxes == 2, &kind, &p))) return s;
  if (t->rank < 0) return tl_meta_push(out, t->dtype, naxes == 0 && !keepdims ? 0 : -1, NULL) ? TL_OK : TL_RESOURCE_EXHAUSTED;
  if (kind == ORD_TWO && (t->shape[ax[0]] > INT_MAX || t->shape[ax[1]] > INT_MAX))
    return tl_error(TL_UNIMPLEMENTED, "a matrix dimension is too large for LAPACK (more than %d)", INT_MAX);
  tl_meta *m = tl_meta_push(out, t->dtype, 0, NULL);
  if (!m) return TL_RESOURCE_EXHAUSTED;
  for (int d = 0; d < t->rank; d++) {
    bool reduced = naxes == 0 || d == ax[0] || d == ax[1];
    if (!reduced) m->shape[m->rank++] = t->shape[d];
    else if (keepdims) m->shape[m->rank++] = 1;
  }
  return TL_OK;
}

static tl_status norm_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0], *o = out->items[0];
  tl_dtype dt = t->dtype;
  int naxes, ax[2];
  tl_status s = norm_axes(&t->meta, &attr[1], &naxes, ax);
  if (s) return s;
  bool matrix = naxes == 2;
  norm_job j = {.matrix = matrix, .dt = dt};
  if ((s = parse_ord(attr[0].s ? attr[0].s : "euclidean", matrix, &j.kind, &j.p))) return s;
  if (j.kind == ORD_TWO && t->size > 0) {
    if (!(j.blas = tl_blas())) return tl_last_status();
    if (!j.blas->dgesvd)
      return tl_error(TL_UNIMPLEMENTED, "the matrix 2-norm needs LAPACK's dgesvd, which %s lacks",
                      tl_blas_get_info().library ? tl_blas_get_info().library : "the BLAS library");
  }
  /* Permute: kept dims in order, then the reduced ones (rows, cols). */
  int64_t pshape[TL_MAX_RANK], pstrides[TL_MAX_RANK];
  int pr = 0;
  for (int d = 0; d < t->rank; d++)
    if (!(naxes == 0 || d == ax[0] || d == ax[1])) {
      pshape[pr] = t->shape[d];
      pstrides[pr++] = t->strides[d];
    }
  int kept = pr;
  for (int i = 0; i < (naxes ? naxes : t->rank); i++) {
    int d = naxes ? ax[i] : i;
    pshape[pr] = t->shape[d];
    pstrides[pr++] = t->strides[d];
  }
  j.rows = matrix ? pshape[kept] : 1;
  j.cols = 1;
  for (int d = matrix ? kept + 1 : kept; d < pr; d++) j.cols *= pshape[d];
  int64_t m = j.rows * j.cols;
  if (m == 0) {
    memset(tl_tensor_data(o), 0, (size_t)o->size * tl_dtypes[dt].size);
    return TL_OK;
  }
  tl_tensor *v, *c;
  if ((s = tl_tensor_view(t->storage, dt, pr, pshape, pstrides, t->offset, &v))) return s;
  s = tl_tensor_new(dt, pr, pshape, &c);
  if (!s && (s = tl_tensor_copy_into(c, v))) tl_tensor_release(c);
  tl_tensor_release(v);
  if (s) return s;
  j.in = tl_tensor_data(c);
  j.out = tl_tensor_data(o);
  tl_parallel_for(o->size, (1 << 16) / m + 1, norm_units, &j);
  if (j.failed == 1) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  else if (j.failed) s = tl_error(TL_INTERNAL, "the SVD behind the matrix 2-norm did not converge (or ran out of memory)");
  tl_tensor_release(c);
  return s;
}

/* norm2_direction(x, axis = {rows, cols}): u1 v1' for each matrix over the
 * two axes (u1, v1: the singular vectors of the largest singular value), the
 * gradient of the matrix 2-norm; zeros where the matrix is zero (0 is a
 * subgradient there). Internal: norm's gradient rule calls it, and its own
 * gradient (the 2-norm's second derivative) is Unimplemented, loudly. */
static tl_status direction_axes(const tl_meta *x, const tl_attr *axis, int *ax) {
  if (axis->n != 2) return tl_error(TL_INVALID_ARGUMENT, "axis must be a pair of axes, got %d", axis->n);
  if (x->rank < 0) return TL_OK;
  for (int i = 0; i < 2; i++)
    if (tl_normalize_axis("norm2_direction", axis->ints[i], x->rank, &ax[i])) return tl_last_status();
  if (ax[0] == ax[1]) return tl_error(TL_INVALID_ARGUMENT, "the two axes must differ (both are %d)", ax[0]);
  if (x->shape[ax[0]] > INT_MAX || x->shape[ax[1]] > INT_MAX)
    return tl_error(TL_UNIMPLEMENTED, "a matrix dimension is too large for LAPACK (more than %d)", INT_MAX);
  return TL_OK;
}

static tl_status norm2_direction_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *x = in[0];
  if (x->dtype != TL_FLOAT32 && x->dtype != TL_FLOAT64)
    return tl_error(TL_UNIMPLEMENTED, "dtype %s is not supported (float32 or float64)", tl_dtypes[x->dtype].name);
  int ax[2];
  tl_status s = direction_axes(x, &attr[0], ax);
  if (s) return s;
  return tl_meta_push_like(out, x, TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status norm2_direction_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *x = in[0], *o = out->items[0];
  tl_dtype dt = x->dtype;
  int ax[2];
  tl_status s = direction_axes(&x->meta, &attr[0], ax);
  if (s) return s;
  int64_t rows = x->shape[ax[0]], cols = x->shape[ax[1]];
  /* Work on [kept..., rows, cols]; d, in that order, is copied into o
   * through a view that undoes the permutation. */
  int64_t pshape[TL_MAX_RANK], pstrides[TL_MAX_RANK], perm[TL_MAX_RANK], back[TL_MAX_RANK];
  int pr = 0;
  for (int k = 0; k < x->rank; k++)
    if (k != ax[0] && k != ax[1]) perm[pr++] = k;
  perm[pr++] = ax[0];
  perm[pr++] = ax[1];
  for (int k = 0; k < pr; k++) {
    pshape[k] = x->shape[perm[k]];
    pstrides[k] = x->strides[perm[k]];
  }
  const tl_blas_fns *blas = NULL;
  if (x->size > 0) {
    if (!(blas = tl_blas())) return tl_last_status();
    if (!blas->dgesvd) return tl_error(TL_UNIMPLEMENTED, "the matrix 2-norm needs LAPACK's dgesvd");
  }
  tl_tensor *v, *c = NULL, *d = NULL, *dv = NULL;
  s = tl_tensor_view(x->storage, dt, pr, pshape, pstrides, x->offset, &v);
  if (s) return s;
  if (!(s = tl_tensor_new(dt, pr, pshape, &c))) s = tl_tensor_copy_into(c, v);
  tl_tensor_release(v);
  if (!s) s = tl_tensor_new(dt, pr, pshape, &d);
  int64_t m = rows * cols, nb = m ? x->size / m : 0;
  double *buf = NULL, *u = NULL, *w = NULL;
  if (!s && nb) {
    buf = malloc(sizeof(double) * (size_t)m);
    u = malloc(sizeof(double) * (size_t)rows);
    w = malloc(sizeof(double) * (size_t)cols);
    if (!buf || !u || !w) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  for (int64_t b = 0; !s && b < nb; b++) {
    bool finite = true, zero = true;
    for (int64_t i = 0; i < m; i++) {
      buf[i] = tl_load_f64(tl_tensor_data(c), dt, b * m + i);
      finite &= isfinite(buf[i]) != 0;
      zero &= buf[i] == 0;
    }
    double sigma = 0;
    if (!finite) {
      for (int64_t i = 0; i < m; i++) tl_store_f64(tl_tensor_data(d), dt, b * m + i, NAN);
      continue;
    }
    if (!zero && svd_top(blas, buf, rows, cols, &sigma, u, w) != 0) {
      s = tl_error(TL_INTERNAL, "the SVD behind the matrix 2-norm did not converge (or ran out of memory)");
      break;
    }
    for (int64_t i = 0; i < rows; i++)
      for (int64_t k = 0; k < cols; k++)
        tl_store_f64(tl_tensor_data(d), dt, b * m + i * cols + k, zero ? 0.0 : u[i] * w[k]);
  }
  free(buf);
  free(u);
  free(w);
  if (c) tl_tensor_release(c);
  if (!s) {
    for (int k = 0; k < pr; k++) back[perm[k]] = d->strides[k];
    if (!(s = tl_tensor_view(d->storage, dt, x->rank, x->shape, back, 0, &dv))) {
      s = tl_tensor_copy_into(o, dv);
      tl_tensor_release(dv);
    }
  }
  if (d) tl_tensor_release(d);
  return s;
}

static tl_status norm2_direction_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  return tl_error(TL_UNIMPLEMENTED,
                  "the second derivative of the matrix 2-norm (tf.norm with ord 2 over a pair of axes) is not implemented");
}

/* ---- gradients ---------------------------------------------------------- */

/* Norms that are a maximum: vector inf (max |x|), matrix 1 (max over ax[1]
 * of the sums of |x| over ax[0]) and matrix inf (the axes swapped). As for
 * reduce_max, g is shared equally among the maxima (TensorFlow's rule), times
 * sign(x): sign(x) g mask / count, with mask 1 where the (summed) |x| equals
 * the norm. Written with ops, so it can itself be differentiated. */
static tl_status norm_max_grad(tl_tensor *x, const tl_attr *attr, bool matrix, ord_kind kind, tl_tensor *nrm,
                               tl_tensor *gout, tl_tensor **gin) {
  const tl_attr *axis = &attr[1];
  int ax[TL_MAX_RANK], nax = 0;
  if (axis->present)
    for (int i = 0; i < axis->n; i++)
      if (tl_normalize_axis("norm", axis->ints[i], x->rank, &ax[nax++])) return tl_last_status();
  if (!axis->present)
    for (int d = 0; d < x->rank; d++) ax[nax++] = d;
  int64_t kshape[TL_MAX_RANK], axes64[TL_MAX_RANK];
  for (int d = 0; d < x->rank; d++) kshape[d] = x->shape[d];
  for (int i = 0; i < nax; i++) kshape[ax[i]] = 1;
  tl_temps T = {0};
  tl_named_attr rs = TL_A_INTS("shape", x->rank, kshape);
  tl_tensor *g = tl_temps_op1(&T, "reshape", gout, 1, &rs);
  tl_tensor *ref = tl_temps_op1(&T, "reshape", nrm, 1, &rs);
  tl_tensor *s = tl_temps_un(&T, "abs", x);
  int sum_ax = -1, max_ax[TL_MAX_RANK], nmax = 0;
  if (matrix) {
    /* ord 1 sums over the first axis of the pair and takes the max over the
       second; inf the other way round. */
    sum_ax = kind == ORD_INF ? ax[1] : ax[0];
    max_ax[nmax++] = kind == ORD_INF ? ax[0] : ax[1];
    int64_t a = sum_ax;
    tl_named_attr sa[2] = {TL_A_INTS("axis", 1, &a), TL_A_BOOL("keepdims", true)};
    s = tl_temps_op1(&T, "reduce_sum", s, 2, sa);
  } else {
    for (int i = 0; i < nax; i++) max_ax[nmax++] = ax[i];
  }
  for (int i = 0; i < nmax; i++) axes64[i] = max_ax[i];
  tl_named_attr ca[2] = {TL_A_INTS("axis", nmax, axes64), TL_A_BOOL("keepdims", true)};
  tl_tensor *mask = tl_temps_cast(&T, tl_temps_op2(&T, "equal", s, ref), x->dtype);
  tl_tensor *cnt = tl_temps_op1(&T, "reduce_sum", mask, 2, ca);
  tl_tensor *share = tl_temps_op2(&T, "multiply", tl_temps_op2(&T, "divide", mask, cnt), g);
  return tl_temps_give(&T, tl_temps_op2(&T, "multiply", tl_temps_un(&T, "sign", x), share), gin, true);
}

/* p-norms: g sign(x) |x|^(p-1) / norm^(p-1) (p = 2: g x / norm; p = 1: g sign(x)). */
static tl_status norm_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *const *gout = grad_out, **gin = grad_in;
  tl_tensor *x = in[0];
  const tl_attr *axis = &attr[1];
  bool matrix = axis->present && axis->n == 2;
  ord_kind kind;
  double p = 2;
  tl_status s = parse_ord(attr[0].s ? attr[0].s : "euclidean", matrix, &kind, &p);
  if (s) return s;
  if (kind == ORD_INF || (matrix && kind == ORD_P)) return norm_max_grad(x, attr, matrix, kind, out[0], gout[0], gin);
  if (kind == ORD_FRO) p = 2;
  /* g and the norm with the reduced dims kept as 1. */
  int64_t kshape[TL_MAX_RANK];
  for (int d = 0; d < x->rank; d++) {
    bool reduced = !axis->present;
    for (int i = 0; axis->present && i < axis->n; i++) {
      int a;
      if (tl_normalize_axis("norm", axis->ints[i], x->rank, &a)) return tl_last_status();
      reduced |= a == d;
    }
    kshape[d] = reduced ? 1 : x->shape[d];
  }
  tl_tensor *g = NULL, *nrm = NULL, *t = NULL, *u = NULL, *v = NULL, *c = NULL;
  tl_named_attr rs = TL_A_INTS("shape", x->rank, kshape);
  if ((s = tl_call("reshape", 1, &gout[0], 1, &rs, &g)) || (s = tl_call("reshape", 1, &out[0], 1, &rs, &nrm)))
    goto done;
  if (kind == ORD_TWO) {
    /* d sigma_1 / dx = u1 v1' per matrix (norm2_direction normalizes the axes), times g. */
    int64_t pair[2] = {axis->ints[0], axis->ints[1]};
    if (!(s = tl_call("norm2_direction", 1, &x, 1, &TL_A_INTS("axis", 2, pair), &t))) s = binop("multiply", g, t, &gin[0]);
    goto done;
  }
  if (p == 1) {
    if (!(s = tl_call("sign", 1, &x, 0, NULL, &t))) s = binop("multiply", t, g, &gin[0]);
  } else if (p == 2) {
    if (!(s = binop("multiply", x, g, &t))) s = binop("divide", t, nrm, &gin[0]);
  } else {
    /* sign(x) |x|^(p-1) g / nrm^(p-1) */
    if ((s = tl_tensor_scalar_like(x, x->dtype, p - 1, &c)) || (s = tl_call("abs", 1, &x, 0, NULL, &t)) ||
        (s = binop("pow", t, c, &u)))
      goto done;
    tl_tensor_release(t);
    t = NULL;
    if ((s = tl_call("sign", 1, &x, 0, NULL, &t)) || (s = binop("multiply", u, t, &v))) goto done;
    tl_tensor_release(u);
    tl_tensor_release(t);
    u = t = NULL;
    if ((s = binop("multiply", v, g, &u)) || (s = binop("pow", nrm, c, &t))) goto done;
    s = binop("divide", u, t, &gin[0]);
  }
done:
  tl_tensor_release(g);
  tl_tensor_release(nrm);
  tl_tensor_release(t);
  tl_tensor_release(u);
  tl_tensor_release(v);
  tl_tensor_release(c);
  return s;
}

tl_op_def tl_ops_norm[] = {
    {.name = "norm", .inputs = "tensor", .attrs = "ord:string=euclidean, axis:ints?, keepdims:bool=false",
     .infer = norm_infer, .kernel[TL_CPU] = norm_kernel, .grad = norm_grad, .flags = TL_OP_HALF_VIA_F32,
     .api = "tf.norm tf.linalg.norm",
     .doc = "Vector norm (axis nil or one axis) or matrix norm (a pair of axes); ord 'euclidean', 'fro', 1, 2, inf or p."},
    {.name = "norm2_direction", .inputs = "tensor", .attrs = "axis:ints", .infer = norm2_direction_infer,
     .kernel[TL_CPU] = norm2_direction_kernel,
     .grad = norm2_direction_grad, .api = "-",
     .doc = "u1 v1' of the largest singular value of each matrix over the pair of axes (the matrix 2-norm's gradient)."},
    {0},
};
