/* ops/linalg.c — matrix products and dense linear algebra.
 *
 * matmul hands float32/float64 products to BLAS (loaded at first use by
 * blas.c) and splits large ones across tlua's compute pool itself: OpenBLAS
 * runs single-threaded, one call per (batch entry, row or column block), so
 * only one pool ever owns the cores. Strided and transposed views go to BLAS
 * as transposes with leading dimensions when their layout allows, else they
 * are copied once. Integer products use a plain C kernel with wrap-around
 * (two's complement) arithmetic, as TensorFlow's.
 *
 * Every op has a shape rule and a kernel that fills the output the
 * dispatcher allocated from it; float16/bfloat16 products go through
 * float32 by the record's TL_OP_HALF_VIA_F32 flag.
 *
 * inv/solve/det use LAPACK getrf/getri/gesv per batch entry. LAPACK is
 * column-major: a row-major matrix read as column-major is its transpose,
 * which inv and det can use directly (inv(Aᵀ) = inv(A)ᵀ, det(Aᵀ) = det(A)).
 *
 * Not here: decompositions beyond LU (svd, qr, cholesky, eig) and complex
 * types; norms are in ops/norm.c.
 */
#include "backend/blas.h"
#include "ops/ops.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared helpers ---------------------------------------------------- */

/* The batch part of a [..., r, c] operand: offsets (in elements, including
 * the tensor's own offset) of each of the nb matrices of the broadcast batch
 * shape. Returns a malloc'd array. */
static int64_t *batch_offsets(const tl_tensor *t, int brank, const int64_t *bshape, int64_t nb) {
  int64_t *off = malloc(sizeof *off * (size_t)(nb ? nb : 1));
  if (!off) return NULL;
  int64_t st[TL_MAX_RANK];
  int trank = t->rank - 2;
  for (int i = 0; i < brank; i++) {
    int j = i - (brank - trank);
    st[i] = (j < 0 || t->shape[j] == 1) ? 0 : t->strides[j];
  }
  int64_t idx[TL_MAX_RANK] = {0};
  for (int64_t b = 0; b < nb; b++) {
    int64_t o = t->offset;
    for (int i = 0; i < brank; i++) o += idx[i] * st[i];
    off[b] = o;
    for (int i = brank - 1; i >= 0; i--) {
      if (++idx[i] < bshape[i]) break;
      idx[i] = 0;
    }
  }
  return off;
}

/* Broadcast batch shape of two [..., r, c] operands. */
static tl_status batch_shape(const tl_tensor *a, const tl_tensor *b, int *brank, int64_t *bshape,
                             int64_t *nb) {
  tl_status s = tl_broadcast_shapes(a->rank - 2, a->shape, b->rank - 2, b->shape, brank, bshape);
  if (s) return s;
  *nb = tl_shape_numel(*brank, bshape);
  return TL_OK;
}

static bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

/* ---- matmul ------------------------------------------------------------ */

/* A logical matrix op(X) of rows x cols with element (i, j) at
 * base + i*rs + j*cs. Decides how BLAS can read it: row-major (no
 * transpose) or column-major (transpose), with leading dimension ld. */
static bool blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool *trans, int64_t *ld) {
  int64_t l = rows <= 1 ? (cols > 1 ? cols : 1) : rs;
  if ((cols <= 1 || cs == 1) && l >= (cols > 1 ? cols : 1) && fits_int(l)) {
    *trans = false;
    *ld = l;
    return true;
  }
  l = cols <= 1 ? (rows > 1 ? rows : 1) : cs;
  if ((rows <= 1 || rs == 1) && l >= (rows > 1 ? rows : 1) && fits_int(l)) {
    *trans = true;
    *ld = l;
    return true;
  }
  return false;
}

/* One operand as matmul sees it: the logical matrix op(X) per batch entry. */
typedef struct mat_operand {
  tl_tensor *t;    /* owned reference (maybe a contiguous copy) */
  int64_t rs, cs;  /* logical row/column strides */
  bool trans;      /* for BLAS */
  int64_t ld;
  int64_t *off;    /* per batch entry */
} mat_operand;

static void operand_strides(mat_operand *m, bool transpose) {
  const tl_tensor *t = m->t;
  int64_t sr = t->strides[t->rank - 2], sc = t->strides[t->rank - 1];
  m->rs = transpose ? sc : sr;
  m->cs = transpose ? sr : sc;
}

static tl_status prepare_operand(mat_operand *m, tl_tensor *t, bool transpose, int64_t rows, int64_t cols,
                                 bool need_blas, int brank, const int64_t *bshape, int64_t nb) {
  m->t = tl_tensor_retain(t);
  operand_strides(m, transpose);
  if (need_blas && !blas_layout(rows, cols, m->rs, m->cs, &m->trans, &m->ld)) {
    tl_tensor *c;
    tl_status s = tl_tensor_contiguous(t, &c);
    if (s) return s;
    tl_tensor_release(m->t);
    m->t = c;
    operand_strides(m, transpose);
    if (!blas_layout(rows, cols, m->rs, m->cs, &m->trans, &m->ld))
      return tl_error(TL_UNIMPLEMENTED, "a matrix dimension is too large for BLAS (more than %d)", INT_MAX);
  }
  m->off = batch_offsets(m->t, brank, bshape, nb);
  if (!m->off) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  return TL_OK;
}

static void operand_free(mat_operand *m) {
  tl_tensor_release(m->t);
  free(m->off);
}

typedef struct gemm_job {
  const tl_blas_fns *blas;
  tl_dtype dt;
  size_t es;
  const mat_operand *a, *b;
  char *c;
  int64_t M, N, K;
  int split;        /* parts per batch entry */
  bool split_rows;  /* parts are row blocks (else column blocks) */
  int64_t block;
} gemm_job;

static void gemm_units(int64_t begin, int64_t end, void *ctx) {
  const gemm_job *j = ctx;
  const mat_operand *a = j->a, *b = j->b;
  for (int64_t u = begin; u < end; u++) {
    int64_t bi = u / j->split, part = u % j->split;
    int64_t i0 = 0, m = j->M, j0 = 0, n = j->N;
    if (j->split_rows) {
      i0 = part * j->block;
      m = j->M - i0 < j->block ? j->M - i0 : j->block;
    } else {
      j0 = part * j->block;
      n = j->N - j0 < j->block ? j->N - j0 : j->block;
    }
    if (m <= 0 || n <= 0) continue;
    /* Row i0 of op(A) and column j0 of op(B) as BLAS addresses them. */
    int64_t ao = a->off[bi] + i0 * (a->trans ? 1 : a->ld), bo = b->off[bi] + j0 * (b->trans ? b->ld : 1);
    const char *pa = (const char *)a->t->storage->data + ao * (int64_t)j->es;
    const char *pb = (const char *)b->t->storage->data + bo * (int64_t)j->es;
    char *pc = j->c + ((bi * j->M + i0) * j->N + j0) * (int64_t)j->es;
    int ta = a->trans ? TL_CBLAS_TRANS : TL_CBLAS_NO_TRANS, tb = b->trans ? TL_CBLAS_TRANS : TL_CBLAS_NO_TRANS;
    if (j->dt == TL_FLOAT32)
      j->blas->sgemm(TL_CBLAS_ROW_MAJOR, ta, tb, (int)m, (int)n, (int)j->K, 1.0f, (const float *)pa,
                     (int)a->ld, (const float *)pb, (int)b->ld, 0.0f, (float *)pc, (int)j->N);
    else
      j->blas->dgemm(TL_CBLAS_ROW_MAJOR, ta, tb, (int)m, (int)n, (int)j->K, 1.0, (const double *)pa,
                     (int)a->ld, (const double *)pb, (int)b->ld, 0.0, (double *)pc, (int)j->N);
  }
}

/* Below this many multiply-adds a product runs on the calling thread. */
#define PARALLEL_MIN_MACS ((int64_t)1 << 21)
/* Row/column blocks are multiples of the register-block size of the kernels. */
#define BLOCK_ALIGN 16

static void run_gemm(gemm_job *j, int64_t nb) {
  int nt = tl_num_threads();
  double macs = (double)nb * (double)j->M * (double)j->N * (double)j->K;
  j->split = 1;
  j->split_rows = true;
  j->block = j->M;
  if (nt > 1 && macs >= (double)PARALLEL_MIN_MACS && nb < 2 * nt) {
    /* Few large products: split each into blocks along its longer side. */
    j->split_rows = j->M >= j->N;
    int64_t dim = j->split_rows ? j->M : j->N;
    int64_t parts = nt;
    int64_t block = (dim + parts - 1) / parts;
    block = (block + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
    parts = (dim + block - 1) / block;
    j->split = (int)parts;
    j->block = block;
  }
  int64_t units = nb * j->split;
  if (nt > 1 && macs >= (double)PARALLEL_MIN_MACS) tl_parallel_for(units, 1, gemm_units, j);
  else gemm_units(0, units, j);
}

/* Integer kernels: wrap-around arithmetic on the unsigned type. */
typedef struct int_job {
  const mat_operand *a, *b;
  char *c;
  int64_t M, N, K;
} int_job;

#define INT_MATMUL(NAME, T, UT)                                                          \
  static void NAME(int64_t begin, int64_t end, void *ctx) {                             \
    const int_job *j = ctx;                                                               \
    const T *A = j->a->t->storage->data, *B = j->b->t->storage->data;                    \
    for (int64_t r = begin; r < end; r++) {                                               \
      int64_t bi = r / j->M, i = r % j->M;                                                \
      UT *out = (UT *)j->c + r * j->N;                                                    \
      for (int64_t x = 0; x < j->N; x++) out[x] = 0;                                      \
      const T *arow = A + j->a->off[bi] + i * j->a->rs;                                   \
      for (int64_t k = 0; k < j->K; k++) {                                                \
        UT av = (UT)arow[k * j->a->cs];                                                   \
        const T *brow = B + j->b->off[bi] + k * j->b->rs;                                 \
        for (int64_t x = 0; x < j->N; x++) out[x] += av * (UT)brow[x * j->b->cs];         \
      }                                                                                   \
    }                                                                                     \
  }
INT_MATMUL(matmul_i32, int32_t, uint32_t)
INT_MATMUL(matmul_i64, int64_t, uint64_t)

/* The batch part ([...] before the last two dimensions) of two matrix
 * metas of known rank >= 2, broadcast. */
static tl_status batch_meta(const tl_meta *a, const tl_meta *b, tl_meta *out) {
  tl_meta ba = {.dtype = a->dtype, .rank = a->rank - 2}, bb = {.dtype = b->dtype, .rank = b->rank - 2};
  memcpy(ba.shape, a->shape, sizeof(int64_t) * (size_t)ba.rank);
  memcpy(bb.shape, b->shape, sizeof(int64_t) * (size_t)bb.rank);
  return tl_meta_broadcast(&ba, &bb, out);
}

static bool matmul_dtype(tl_dtype dt) {
  return dt == TL_FLOAT16 || dt == TL_BFLOAT16 || dt == TL_FLOAT32 || dt == TL_FLOAT64 || dt == TL_INT32 ||
         dt == TL_INT64;
}
#define MATMUL_DTYPES "float16, bfloat16, float32, float64, int32, int64"

/* "op: A<sep>B<what>" with both operands described. Shape rules call it
 * only once they fail: they run on every call, and formatting the operands
 * costs more than a small product. */
static tl_status pair_error(tl_status kind, const char *op, const tl_meta *a, const char *sep, const tl_meta *b,
                            const char *what) {
  char da[160], db[160];
  return tl_error(kind, "%s: %s%s%s%s", op, tl_meta_describe(a, da, sizeof da), sep,
                  tl_meta_describe(b, db, sizeof db), what);
}

/* attrs: transpose_a, transpose_b, adjoint_a, adjoint_b (real types: an
 * adjoint is a transpose). */
static tl_status matmul_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *a = in[0], *b = in[1];
  bool ta = attr[0].b, tb = attr[1].b, aa = attr[2].b, ab = attr[3].b;
  if ((ta && aa) || (tb && ab))
    return tl_error(TL_INVALID_ARGUMENT, "only one of transpose_%s and adjoint_%s can be true",
                    ta && aa ? "a" : "b", ta && aa ? "a" : "b");
  ta = ta || aa;
  tb = tb || ab;
  if ((a->rank >= 0 && a->rank < 2) || (b->rank >= 0 && b->rank < 2))
    return pair_error(TL_INVALID_ARGUMENT, "matmul", a, " @ ", b,
                      ": both operands need rank >= 2 (a matrix or a batch of matrices)");
  tl_dtype dt = a->dtype;
  char what[200];
  if (!matmul_dtype(dt)) {
    snprintf(what, sizeof what, ": dtype %s is not supported (" MATMUL_DTYPES " are)", tl_dtypes[dt].name);
    return pair_error(TL_UNIMPLEMENTED, "matmul", a, " @ ", b, what);
  }
  if (a->rank < 0 || b->rank < 0) return tl_meta_push(out, dt, -1, NULL) ? TL_OK : TL_RESOURCE_EXHAUSTED;
  int64_t M = a->shape[a->rank - (ta ? 1 : 2)], Ka = a->shape[a->rank - (ta ? 2 : 1)];
  int64_t Kb = b->shape[b->rank - (tb ? 1 : 2)], N = b->shape[b->rank - (tb ? 2 : 1)];
  if (Ka >= 0 && Kb >= 0 && Ka != Kb) {
    snprintf(what, sizeof what, "%s: inner dimensions differ (%" PRId64 " vs %" PRId64 ")",
             ta && tb ? " (both transposed)" : ta ? " (a transposed)" : tb ? " (b transposed)" : "", Ka, Kb);
    return pair_error(TL_INVALID_ARGUMENT, "matmul", a, " @ ", b, what);
  }
  tl_meta m;
  m.rank = 0; /* plain matrices have no batch (and this rule runs on every product) */
  if ((a->rank > 2 || b->rank > 2) && batch_meta(a, b, &m))
    return pair_error(TL_INVALID_ARGUMENT, "matmul", a, " @ ", b, ": batch dimensions do not broadcast");
  tl_meta *o = tl_meta_push(out, dt, 0, NULL); /* filled here: no memcpy call for two dims */
  if (!o) return TL_RESOURCE_EXHAUSTED;
  o->rank = m.rank + 2;
  for (int i = 0; i < m.rank; i++) o->shape[i] = m.shape[i];
  o->shape[m.rank] = M;
  o->shape[m.rank + 1] = N;
  return TL_OK;
}

/* op(a) @ op(b) into o, the contiguous [batch..., M, N] the shape rule
 * described (float16/bfloat16 arrive as float32: TL_OP_HALF_VIA_F32). */
static tl_status matmul_into(tl_tensor *o, tl_tensor *a, tl_tensor *b, bool ta, bool tb) {
  char da[160], db[160];
  tl_dtype dt = a->dtype;
  int64_t M = a->shape[a->rank - (ta ? 1 : 2)], Ka = a->shape[a->rank - (ta ? 2 : 1)];
  int64_t N = b->shape[b->rank - (tb ? 2 : 1)];
  if (o->size == 0) return TL_OK;
  /* the batch shape is o's, as the shape rule broadcast it */
  int brank = o->rank - 2;
  const int64_t *bshape = o->shape;
  int64_t nb = o->size / (M * N);
  tl_status s;
  if (Ka == 0) {
    memset(tl_tensor_data(o), 0, (size_t)o->size * tl_dtypes[dt].size);
    return TL_OK;
  }
  bool blas = tl_dtype_is_float(dt);
  const tl_blas_fns *fns = NULL;
  if (blas && !(fns = tl_blas())) return tl_last_status();
  if (blas && (!fits_int(M) || !fits_int(N) || !fits_int(Ka)))
    return tl_error(TL_UNIMPLEMENTED, "matmul: %s @ %s: a dimension is too large for BLAS (more than %d)",
                    tl_tensor_describe(a, da, sizeof da), tl_tensor_describe(b, db, sizeof db), INT_MAX);
  mat_operand A = {0}, B = {0};
  if ((s = prepare_operand(&A, a, ta, M, Ka, blas, brank, bshape, nb)) ||
      (s = prepare_operand(&B, b, tb, Ka, N, blas, brank, bshape, nb))) {
    operand_free(&A);
    operand_free(&B);
    return s;
  }
  if (blas) {
    /* b shared by every batch entry and a's entries stacked row after row:
     * one tall product instead of nb small ones. */
    int64_t nb_run = nb, M_run = M;
    if (nb > 1 && !A.trans) {
      bool fold = true;
      for (int64_t i = 1; i < nb && fold; i++)
        fold = B.off[i] == B.off[0] && A.off[i] == A.off[0] + i * M * A.ld;
      if (fold && fits_int(nb * M)) {
        nb_run = 1;
        M_run = nb * M;
      }
    }
    gemm_job j = {fns, dt, tl_dtypes[dt].size, &A, &B, tl_tensor_data(o), M_run, N, Ka, 1, true, M_run};
    run_gemm(&j, nb_run);
  } else {
    int_job j = {&A, &B, tl_tensor_data(o), M, N, Ka};
    int64_t grain = (1 << 16) / (N * Ka + 1) + 1;
    tl_parallel_for(nb * M, grain, dt == TL_INT32 ? matmul_i32 : matmul_i64, &j);
  }
  operand_free(&A);
  operand_free(&B);
  return TL_OK;
}

static tl_status matmul_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  return matmul_into(out->items[0], in[0], in[1], attr[0].b || attr[2].b, attr[1].b || attr[3].b);
}

/* ---- LAPACK-based: inv, solve, det ------------------------------------- */

/* Copies the rows x cols matrix at src (strides rs, cs, elements of es
 * bytes) into dst in column-major order (leading dimension rows). */
static void gather_cm(char *dst, const char *src, int64_t rows, int64_t cols, int64_t rs, int64_t cs, size_t es) {
  for (int64_t j = 0; j < cols; j++)
    for (int64_t i = 0; i < rows; i++) {
      const char *p = src + (i * rs + j * cs) * (int64_t)es;
      char *q = dst + (i + j * rows) * (int64_t)es;
      if (es == 4) memcpy(q, p, 4);
      else memcpy(q, p, 8);
    }
}

/* The inverse: dst (row-major, contiguous) from column-major src. */
static void scatter_cm(char *dst, const char *src, int64_t rows, int64_t cols, size_t es) {
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) {
      const char *p = src + (i + j * rows) * (int64_t)es;
      char *q = dst + (i * cols + j) * (int64_t)es;
      if (es == 4) memcpy(q, p, 4);
      else memcpy(q, p, 8);
    }
}

/* The matrix operand of inv, det and solve: a float32/float64 [..., n, n]. */
static tl_status one_error(tl_status kind, const char *op, const tl_meta *t, const char *what) {
  char d[160];
  return tl_error(kind, "%s: %s: %s", op, tl_meta_describe(t, d, sizeof d), what);
}

static tl_status check_square(const char *name, const tl_meta *t) {
  if (t->rank >= 0 && t->rank < 2)
    return one_error(TL_INVALID_ARGUMENT, name, t, "input must have rank >= 2 (a matrix or a batch of matrices)");
  int64_t r = t->rank >= 2 ? t->shape[t->rank - 2] : -1, c = t->rank >= 2 ? t->shape[t->rank - 1] : -1;
  char what[200];
  if (r >= 0 && c >= 0 && r != c) {
    snprintf(what, sizeof what, "input must be square matrices (got %" PRId64 "x%" PRId64 ")", r, c);
    return one_error(TL_INVALID_ARGUMENT, name, t, what);
  }
  if (t->dtype != TL_FLOAT32 && t->dtype != TL_FLOAT64) {
    snprintf(what, sizeof what, "dtype %s is not supported (float32 and float64 are)", tl_dtypes[t->dtype].name);
    return one_error(TL_UNIMPLEMENTED, name, t, what);
  }
  if (r > 0 && r > INT_MAX / 64) return one_error(TL_UNIMPLEMENTED, name, t, "matrix too large for LAPACK");
  return TL_OK;
}

typedef enum { LU_INV, LU_DET, LU_SOLVE } lu_kind;

typedef struct lu_job {
  const tl_blas_fns *blas;
  lu_kind kind;
  tl_dtype dt;
  size_t es;
  const tl_tensor *a, *b;      /* matrix, rhs (solve) */
  const int64_t *aoff, *boff;  /* per batch entry */
  int64_t n, k;                /* order, rhs columns */
  int64_t ars, acs;            /* logical strides of the matrix (adjoint swaps them) */
  char *out;
  int failed;                  /* atomic: 1 + first singular batch entry, 0 if none */
} lu_job;

static void lu_units(int64_t begin, int64_t end, void *ctx) {
  lu_job *j = ctx;
  int n = (int)j->n, k = (int)j->k, lwork = n * 64, info = 0;
  size_t es = j->es;
  char *a = malloc((size_t)j->n * (size_t)j->n * es + 1);
  char *b = j->kind == LU_SOLVE ? malloc((size_t)j->n * (size_t)j->k * es + 1) : NULL;
  char *work = j->kind == LU_INV ? malloc((size_t)lwork * es + 1) : NULL;
  int *ipiv = malloc(sizeof(int) * (size_t)(n ? n : 1));
  if (!a || !ipiv || (j->kind == LU_SOLVE && !b) || (j->kind == LU_INV && !work)) {
    __atomic_store_n(&j->failed, -1, __ATOMIC_RELAXED);
    goto done;
  }
  for (int64_t bi = begin; bi < end; bi++) {
    const char *src = (const char *)j->a->storage->data + j->aoff[bi] * (int64_t)es;
    gather_cm(a, src, j->n, j->n, j->ars, j->acs, es);
    bool f32 = j->dt == TL_FLOAT32;
    if (j->kind == LU_SOLVE) {
      const tl_tensor *B = j->b;
      const char *bsrc = (const char *)B->storage->data + j->boff[bi] * (int64_t)es;
      gather_cm(b, bsrc, j->n, j->k, B->strides[B->rank - 2], B->strides[B->rank - 1], es);
      (f32 ? j->blas->sgesv : j->blas->dgesv)(&n, &k, a, &n, ipiv, b, &n, &info);
      if (info == 0) scatter_cm(j->out + bi * j->n * j->k * (int64_t)es, b, j->n, j->k, es);
    } else {
      (f32 ? j->blas->sgetrf : j->blas->dgetrf)(&n, &n, a, &n, ipiv, &info);
      if (j->kind == LU_DET) {
        double det = 1.0;
        for (int i = 0; i < n; i++) {
          det *= f32 ? ((float *)a)[i + (int64_t)i * n] : ((double *)a)[i + (int64_t)i * n];
          if (ipiv[i] != i + 1) det = -det;
        }
        if (f32) ((float *)j->out)[bi] = (float)det;
        else ((double *)j->out)[bi] = det;
        info = 0;
      } else if (info == 0) {
        (f32 ? j->blas->sgetri : j->blas->dgetri)(&n, a, &n, ipiv, work, &lwork, &info);
        if (info == 0) scatter_cm(j->out + bi * j->n * j->n * (int64_t)es, a, j->n, j->n, es);
      }
    }
    if (info > 0) {
      int expect = 0;
      __atomic_compare_exchange_n(&j->failed, &expect, (int)bi + 1, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
  }
done:
  free(a);
  free(b);
  free(work);
  free(ipiv);
}

/* Runs the per-entry LU work over nb batch entries. */
static tl_status lu_run(lu_job *j, int64_t nb, const char *name) {
  if (nb == 0 || j->n == 0) return TL_OK;
  int64_t cost = j->n * j->n * (j->n + j->k);
  tl_parallel_for(nb, (1 << 18) / (cost + 1) + 1, lu_units, j);
  if (j->failed < 0) return tl_error(TL_RESOURCE_EXHAUSTED, "%s: out of memory", name);
  if (j->failed > 0) {
    if (nb > 1)
      return tl_error(TL_INVALID_ARGUMENT, "matrix is not invertible (batch entry %d is singular)", j->failed - 1);
    return tl_error(TL_INVALID_ARGUMENT, "matrix is not invertible");
  }
  return TL_OK;
}

/* inv: the input's shape; det: its batch shape. */
static tl_status inv_det_infer(TL_INFER_ARGS) {
  (void)n_in, (void)attr;
  const tl_meta *a = in[0];
  tl_status s = check_square(op->name, a);
  if (s) return s;
  if (a->rank < 0) return tl_meta_push(out, a->dtype, -1, NULL) ? TL_OK : TL_RESOURCE_EXHAUSTED;
  int rank = *(const lu_kind *)op->impl == LU_DET ? a->rank - 2 : a->rank;
  return tl_meta_push(out, a->dtype, rank, a->shape) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* matrix [..., n, n] and rhs [..., n, k], batch dimensions broadcast. */
static tl_status solve_infer(TL_INFER_ARGS) {
  (void)n_in, (void)attr;
  const tl_meta *a = in[0], *b = in[1];
  tl_status s = check_square(op->name, a);
  if (s) return s;
  if (b->rank >= 0 && b->rank < 2) return tl_error(TL_INVALID_ARGUMENT, "rhs must have rank >= 2 ([..., M, K])");
  if (b->dtype != a->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "matrix and rhs have different dtypes (%s vs %s)",
                    tl_dtypes[a->dtype].name, tl_dtypes[b->dtype].name);
  if (a->rank < 0 || b->rank < 0) return tl_meta_push(out, a->dtype, -1, NULL) ? TL_OK : TL_RESOURCE_EXHAUSTED;
  int64_t n = a->shape[a->rank - 1], rows = b->shape[b->rank - 2], k = b->shape[b->rank - 1];
  if (n >= 0 && rows >= 0 && rows != n) {
    char da[160], db[160];
    return tl_error(TL_INVALID_ARGUMENT, "%s: %s, %s: rhs has %" PRId64 " rows, the matrix is %" PRId64 "x%" PRId64,
                    op->name, tl_meta_describe(a, da, sizeof da), tl_meta_describe(b, db, sizeof db), rows, n, n);
  }
  if (k > INT_MAX) return tl_error(TL_UNIMPLEMENTED, "rhs has too many columns for LAPACK");
  tl_meta m;
  if ((s = batch_meta(a, b, &m))) return s;
  m.shape[m.rank] = n >= 0 ? n : rows;
  m.shape[m.rank + 1] = k;
  return tl_meta_push(out, a->dtype, m.rank + 2, m.shape) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* inv, det, solve (the record's .impl says which) into the output the
 * shape rule described. */
static tl_status lu_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  lu_kind kind = *(const lu_kind *)op->impl;
  tl_tensor *a = in[0], *b = kind == LU_SOLVE ? in[1] : NULL, *o = out->items[0];
  bool adjoint = kind != LU_DET && attr[0].b;
  int64_t n = a->shape[a->rank - 1], k = b ? b->shape[b->rank - 1] : 0;
  int brank;
  int64_t bshape[TL_MAX_RANK + 2], nb;
  tl_status s;
  if (b) {
    if ((s = batch_shape(a, b, &brank, bshape, &nb))) return s;
  } else {
    brank = a->rank - 2;
    memcpy(bshape, a->shape, sizeof(int64_t) * (size_t)brank);
    nb = tl_shape_numel(brank, bshape);
  }
  if (kind == LU_DET && n == 0) {
    for (int64_t i = 0; i < nb; i++) tl_store_f64(tl_tensor_data(o), a->dtype, i, 1.0);
    return TL_OK;
  }
  if (o->size == 0) return TL_OK;
  const tl_blas_fns *fns = tl_blas();
  if (!fns) return tl_last_status();
  int64_t rs = a->strides[a->rank - 2], cs = a->strides[a->rank - 1];
  lu_job j = {fns, kind, a->dtype, tl_dtypes[a->dtype].size, a, b, NULL, NULL, n, k,
              adjoint ? cs : rs, adjoint ? rs : cs, tl_tensor_data(o), 0};
  int64_t *aoff = batch_offsets(a, brank, bshape, nb), *boff = b ? batch_offsets(b, brank, bshape, nb) : NULL;
  if (!aoff || (b && !boff)) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  else {
    j.aoff = aoff;
    j.boff = boff;
    s = lu_run(&j, nb, op->name);
  }
  free(aoff);
  free(boff);
  return s;
}

/* ---- views made concrete: matrix_transpose, diag_part, diag, trace ------ */

static tl_status need_matrix(const tl_meta *t) {
  if (t->rank >= 0 && t->rank < 2) return tl_error(TL_INVALID_ARGUMENT, "input must have rank >= 2");
  return TL_OK;
}

static tl_status matrix_transpose_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = need_matrix(in[0]);
  if (s) return s;
  tl_meta *m = tl_meta_push_like(out, in[0], TL_DTYPE_COUNT);
  if (!m) return TL_RESOURCE_EXHAUSTED;
  if (m->rank >= 2) {
    m->shape[m->rank - 2] = in[0]->shape[m->rank - 1];
    m->shape[m->rank - 1] = in[0]->shape[m->rank - 2];
  }
  return TL_OK;
}

static tl_status matrix_transpose_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr; /* conjugate: real types only */
  tl_tensor *t = in[0], *v;
  int64_t strides[TL_MAX_RANK];
  memcpy(strides, t->strides, sizeof strides);
  int r = t->rank;
  strides[r - 2] = t->strides[r - 1];
  strides[r - 1] = t->strides[r - 2];
  tl_status s = tl_tensor_view(t->storage, t->dtype, r, out->items[0]->shape, strides, t->offset, &v);
  if (s) return s;
  s = tl_tensor_copy_into(out->items[0], v);
  tl_tensor_release(v);
  return s;
}

/* The diagonal of the last two dims as a strided view. */
static tl_status diag_view(tl_tensor *t, tl_tensor **v) {
  int r = t->rank;
  int64_t shape[TL_MAX_RANK], strides[TL_MAX_RANK];
  memcpy(shape, t->shape, sizeof shape);
  memcpy(strides, t->strides, sizeof strides);
  shape[r - 2] = t->shape[r - 2] < t->shape[r - 1] ? t->shape[r - 2] : t->shape[r - 1];
  strides[r - 2] = t->strides[r - 2] + t->strides[r - 1];
  return tl_tensor_view(t->storage, t->dtype, r - 1, shape, strides, t->offset, v);
}

/* [..., r, c] -> [..., min(r, c)] (diag_part) or [...] (trace). */
static tl_status diag_part_meta(const tl_meta *t, bool keep_diag, tl_meta_list *out) {
  tl_status s = need_matrix(t);
  if (s) return s;
  if (t->rank < 0) return tl_meta_push(out, t->dtype, -1, NULL) ? TL_OK : TL_RESOURCE_EXHAUSTED;
  tl_meta *m = tl_meta_push(out, t->dtype, t->rank - (keep_diag ? 1 : 2), t->shape);
  if (!m) return TL_RESOURCE_EXHAUSTED;
  int64_t r = t->shape[t->rank - 2], c = t->shape[t->rank - 1];
  if (keep_diag) m->shape[t->rank - 2] = r < 0 || c < 0 ? -1 : r < c ? r : c;
  return TL_OK;
}

static tl_status diag_part_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  return diag_part_meta(in[0], true, out);
}

static tl_status diag_part_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *v;
  tl_status s = diag_view(in[0], &v);
  if (s) return s;
  s = tl_tensor_copy_into(out->items[0], v);
  tl_tensor_release(v);
  return s;
}

/* attrs: num_rows, num_cols (-1: the diagonal's length). */
static tl_status diag_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *d = in[0];
  if (d->rank >= 0 && d->rank < 1) return tl_error(TL_INVALID_ARGUMENT, "diagonal must have rank >= 1");
  if (d->rank + 1 > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "result would have rank > %d", TL_MAX_RANK);
  if (d->dtype == TL_STRING) return tl_error(TL_UNIMPLEMENTED, "string tensors are not supported");
  if (d->rank < 0) return tl_meta_push(out, d->dtype, -1, NULL) ? TL_OK : TL_RESOURCE_EXHAUSTED;
  int64_t n = d->shape[d->rank - 1];
  int64_t rows = attr[0].i < 0 ? n : attr[0].i, cols = attr[1].i < 0 ? n : attr[1].i;
  if (n >= 0 && rows >= 0 && cols >= 0 && (rows < cols ? rows : cols) != n)
    return tl_error(TL_INVALID_ARGUMENT, "a diagonal of %" PRId64 " elements does not fit num_rows=%" PRId64
                    ", num_cols=%" PRId64 " (min(num_rows, num_cols) must equal it)", n, rows, cols);
  tl_meta *m = tl_meta_push(out, d->dtype, d->rank + 1, d->shape);
  if (!m) return TL_RESOURCE_EXHAUSTED;
  m->shape[d->rank - 1] = rows;
  m->shape[d->rank] = cols;
  return TL_OK;
}

static tl_status diag_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *o = out->items[0], *v;
  memset(tl_tensor_data(o), 0, (size_t)o->size * tl_dtypes[o->dtype].size);
  if (!o->size) return TL_OK;
  tl_status s = diag_view(o, &v);
  if (s) return s;
  s = tl_tensor_copy_into(v, in[0]);
  tl_tensor_release(v);
  return s;
}

static tl_status trace_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_dtype_kind kind = tl_dtypes[in[0]->dtype].kind;
  tl_status s = need_matrix(in[0]);
  if (s) return s;
  if (kind != TL_KIND_FLOAT && kind != TL_KIND_INT && kind != TL_KIND_UINT)
    return tl_error(TL_UNIMPLEMENTED, "dtype %s is not supported", tl_dtypes[in[0]->dtype].name);
  return diag_part_meta(in[0], false, out);
}

static tl_status trace_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *t = in[0], *o = out->items[0], *v;
  bool is_float = tl_dtype_is_float(t->dtype);
  tl_status s = diag_view(t, &v);
  if (s) return s;
  /* O(n) per matrix: the typed loads are not a hot loop here. */
  int64_t n = v->shape[v->rank - 1], st = v->strides[v->rank - 1];
  int64_t *off = batch_offsets(t, t->rank - 2, t->shape, o->size);
  if (!off) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int64_t b = 0; !s && b < o->size; b++) {
    if (is_float) {
      double acc = 0;
      for (int64_t i = 0; i < n; i++) acc += tl_load_f64(t->storage->data, t->dtype, off[b] + i * st);
      tl_store_f64(tl_tensor_data(o), t->dtype, b, acc);
    } else {
      uint64_t acc = 0;
      for (int64_t i = 0; i < n; i++) acc += (uint64_t)tl_load_i64(t->storage->data, t->dtype, off[b] + i * st);
      tl_store_i64(tl_tensor_data(o), t->dtype, b, (int64_t)acc);
    }
  }
  free(off);
  tl_tensor_release(v);
  return s;
}

/* ---- tensordot --------------------------------------------------------- */

/* The contracted axes (attrs a_axes, b_axes) of a and b, normalised, each
 * at most once, with equal known sizes. */
static tl_status tensordot_axes(const tl_meta *a, const tl_meta *b, const tl_attr *attr, int *axa, int *axb,
                                bool *used_a, bool *used_b) {
  const tl_attr *xa = &attr[0], *xb = &attr[1];
  char what[200];
  if (xa->n != xb->n) {
    snprintf(what, sizeof what, ": the axis lists differ in length (%d vs %d)", xa->n, xb->n);
    return pair_error(TL_INVALID_ARGUMENT, "tensordot", a, ", ", b, what);
  }
  int na = xa->n;
  if (na > a->rank || na > b->rank) {
    snprintf(what, sizeof what, ": %d contracted axes but the ranks are %d and %d", na, a->rank, b->rank);
    return pair_error(TL_INVALID_ARGUMENT, "tensordot", a, ", ", b, what);
  }
  for (int i = 0; i < TL_MAX_RANK; i++) used_a[i] = used_b[i] = false;
  for (int i = 0; i < na; i++) {
    tl_status s;
    if ((s = tl_normalize_axis("tensordot", xa->ints[i], a->rank, &axa[i])) ||
        (s = tl_normalize_axis("tensordot", xb->ints[i], b->rank, &axb[i])))
      return s;
    if (used_a[axa[i]] || used_b[axb[i]]) return tl_error(TL_INVALID_ARGUMENT, "tensordot: an axis is listed twice");
    used_a[axa[i]] = used_b[axb[i]] = true;
    int64_t sa = a->shape[axa[i]], sb = b->shape[axb[i]];
    if (sa >= 0 && sb >= 0 && sa != sb) {
      snprintf(what, sizeof what, ": contracted dimensions differ (a axis %d has %" PRId64 ", b axis %d has %" PRId64 ")",
               axa[i], sa, axb[i], sb);
      return pair_error(TL_INVALID_ARGUMENT, "tensordot", a, ", ", b, what);
    }
  }
  return TL_OK;
}

/* [a's free dims..., b's free dims...] */
static tl_status tensordot_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *a = in[0], *b = in[1];
  char what[200];
  if (!matmul_dtype(a->dtype)) {
    snprintf(what, sizeof what, ": dtype %s is not supported (" MATMUL_DTYPES " are)", tl_dtypes[a->dtype].name);
    return pair_error(TL_UNIMPLEMENTED, "tensordot", a, ", ", b, what);
  }
  if (a->rank < 0 || b->rank < 0) return tl_meta_push(out, a->dtype, -1, NULL) ? TL_OK : TL_RESOURCE_EXHAUSTED;
  int axa[TL_MAX_RANK], axb[TL_MAX_RANK];
  bool used_a[TL_MAX_RANK], used_b[TL_MAX_RANK];
  tl_status s = tensordot_axes(a, b, attr, axa, axb, used_a, used_b);
  if (s) return s;
  int orank = a->rank + b->rank - 2 * attr[0].n;
  if (orank > TL_MAX_RANK) {
    snprintf(what, sizeof what, ": the result would have rank %d (at most %d)", orank, TL_MAX_RANK);
    return pair_error(TL_INVALID_ARGUMENT, "tensordot", a, ", ", b, what);
  }
  int64_t shape[TL_MAX_RANK];
  int r = 0;
  for (int d = 0; d < a->rank; d++)
    if (!used_a[d]) shape[r++] = a->shape[d];
  for (int d = 0; d < b->rank; d++)
    if (!used_b[d]) shape[r++] = b->shape[d];
  return tl_meta_push(out, a->dtype, orank, shape) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* a as [free, contracted] and b as [contracted, free] matrices (views,
 * copied where the layout needs it), multiplied into the output seen as a
 * [free_a, free_b] matrix. */
static tl_status tensordot_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *a = in[0], *b = in[1], *o = out->items[0];
  int axa[TL_MAX_RANK], axb[TL_MAX_RANK], na = attr[0].n;
  bool used_a[TL_MAX_RANK], used_b[TL_MAX_RANK];
  tl_status s = tensordot_axes(&a->meta, &b->meta, attr, axa, axb, used_a, used_b);
  if (s) return s;
  int64_t sa[TL_MAX_RANK], ta[TL_MAX_RANK], sb[TL_MAX_RANK], tb[TL_MAX_RANK];
  int ra = 0, rb = 0;
  int64_t fa = 1, fb = 1, k = 1;
  for (int d = 0; d < a->rank; d++)
    if (!used_a[d]) {
      sa[ra] = a->shape[d];
      ta[ra++] = a->strides[d];
      fa *= a->shape[d];
    }
  for (int i = 0; i < na; i++) {
    sa[ra] = a->shape[axa[i]];
    ta[ra++] = a->strides[axa[i]];
    sb[rb] = b->shape[axb[i]];
    tb[rb++] = b->strides[axb[i]];
    k *= a->shape[axa[i]];
  }
  for (int d = 0; d < b->rank; d++)
    if (!used_b[d]) {
      sb[rb] = b->shape[d];
      tb[rb++] = b->strides[d];
      fb *= b->shape[d];
    }
  tl_tensor *pa = NULL, *pb = NULL, *ma = NULL, *mb = NULL, *mo = NULL;
  int64_t s2a[2] = {fa, k}, s2b[2] = {k, fb}, s2o[2] = {fa, fb};
  if (!(s = tl_tensor_view(a->storage, a->dtype, ra, sa, ta, a->offset, &pa)) &&
      !(s = tl_tensor_view(b->storage, b->dtype, rb, sb, tb, b->offset, &pb)) &&
      !(s = tl_tensor_reshape(pa, 2, s2a, &ma)) && !(s = tl_tensor_reshape(pb, 2, s2b, &mb)) &&
      !(s = tl_tensor_reshape(o, 2, s2o, &mo)))
    s = matmul_into(mo, ma, mb, false, false);
  tl_tensor_release(pa);
  tl_tensor_release(pb);
  tl_tensor_release(ma);
  tl_tensor_release(mb);
  tl_tensor_release(mo);
  return s;
}

/* ---- gradients (written with ops, so they differentiate again) --------- */

static tl_status mm(tl_tensor *x, tl_tensor *y, bool tx, bool ty, tl_tensor **out) {
  tl_tensor *in[2] = {x, y};
  return tl_call("matmul", 2, in, 2, (tl_named_attr[]){TL_A_BOOL("transpose_a", tx), TL_A_BOOL("transpose_b", ty)}, out);
}

static tl_status binop(const char *name, tl_tensor *x, tl_tensor *y, tl_tensor **out) {
  tl_tensor *in[2] = {x, y};
  return tl_call(name, 2, in, 0, NULL, out);
}

/* g with its reduced dims restored as size 1 (so it broadcasts against x). */
static tl_status expand_last(tl_tensor *g, int times, tl_tensor **out) {
  int64_t shape[TL_MAX_RANK];
  memcpy(shape, g->shape, sizeof(int64_t) * (size_t)g->rank);
  for (int i = 0; i < times; i++) shape[g->rank + i] = 1;
  return tl_call("reshape", 1, &g, 1, (tl_named_attr[]){TL_A_INTS("shape", g->rank + times, shape)}, out);
}

/* TensorFlow's _BatchMatMulV2 rule; batch broadcasting is undone by the tape. */
static tl_status matmul_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  bool ta = attr[0].b || attr[2].b, tb = attr[1].b || attr[3].b;
  tl_tensor *a = in[0], *b = in[1], *g = grad_out[0];
  tl_status s = TL_OK;
  /* Only the products some source needs: in a Dense layer the data input
   * needs none, and its product is the largest of the backward pass. */
  bool wa = tl_grad_wants(0), wb = tl_grad_wants(1);
  if (!ta && !tb) {
    if (wa && (s = mm(g, b, false, true, &grad_in[0]))) return s;
    return wb ? mm(a, g, true, false, &grad_in[1]) : s;
  }
  if (!ta && tb) {
    if (wa && (s = mm(g, b, false, false, &grad_in[0]))) return s;
    return wb ? mm(g, a, true, false, &grad_in[1]) : s;
  }
  if (ta && !tb) {
    if (wa && (s = mm(b, g, false, true, &grad_in[0]))) return s;
    return wb ? mm(a, g, false, false, &grad_in[1]) : s;
  }
  if (wa && (s = mm(b, g, true, true, &grad_in[0]))) return s;
  return wb ? mm(g, a, true, true, &grad_in[1]) : s;
}

static tl_status matrix_transpose_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  return tl_call("matrix_transpose", 1, &grad_out[0], 0, NULL, &grad_in[0]);
}

static tl_status diag_part_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  const tl_tensor *x = in[0];
  return tl_call("diag", 1, &grad_out[0], 2,
                 (tl_named_attr[]){TL_A_INT("num_rows", x->shape[x->rank - 2]), TL_A_INT("num_cols", x->shape[x->rank - 1])},
                 &grad_in[0]);
}

static tl_status diag_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  return tl_call("diag_part", 1, &grad_out[0], 0, NULL, &grad_in[0]);
}

static tl_status trace_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  const tl_tensor *x = in[0];
  int64_t m = x->shape[x->rank - 2], n = x->shape[x->rank - 1], shape[TL_MAX_RANK];
  memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->rank);
  shape[x->rank - 2] = m < n ? m : n;
  tl_tensor *e, *d;
  tl_status s = expand_last(grad_out[0], 1, &e);
  if (s) return s;
  s = tl_call("broadcast_to", 1, &e, 1, (tl_named_attr[]){TL_A_INTS("shape", x->rank - 1, shape)}, &d);
  tl_tensor_release(e);
  if (s) return s;
  s = tl_call("diag", 1, &d, 2, (tl_named_attr[]){TL_A_INT("num_rows", m), TL_A_INT("num_cols", n)}, &grad_in[0]);
  tl_tensor_release(d);
  return s;
}

/* d det(A) = det(A) tr(A^-1 dA): grad = g det(A) A^-T. */
static tl_status det_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *a = in[0], *invt = NULL, *gd = NULL, *e = NULL;
  tl_status s;
  if (!(s = tl_call("inv", 1, &a, 1, (tl_named_attr[]){TL_A_BOOL("adjoint", true)}, &invt)) &&
      !(s = binop("multiply", grad_out[0], out[0], &gd)) && !(s = expand_last(gd, 2, &e)))
    s = binop("multiply", e, invt, &grad_in[0]);
  tl_tensor_release(invt);
  tl_tensor_release(gd);
  tl_tensor_release(e);
  return s;
}

/* Y = inv(A): gA = -Yᵀ G Yᵀ; Y = inv(Aᵀ): gA = -Y Gᵀ Y. */
static tl_status inv_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  bool adj = attr[0].b;
  tl_tensor *y = out[0], *t = NULL, *t2 = NULL;
  tl_status s;
  if (!(s = adj ? mm(y, grad_out[0], false, true, &t) : mm(y, grad_out[0], true, false, &t)) &&
      !(s = mm(t, y, false, adj ? false : true, &t2)))
    s = tl_call("negative", 1, &t2, 0, NULL, &grad_in[0]);
  tl_tensor_release(t);
  tl_tensor_release(t2);
  return s;
}

/* TensorFlow's MatrixSolve rule. */
static tl_status solve_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  bool adj = attr[0].b;
  tl_tensor *pair[2] = {in[0], grad_out[0]}, *gb = NULL, *p = NULL;
  tl_status s = tl_call("solve", 2, pair, 1, (tl_named_attr[]){TL_A_BOOL("adjoint", !adj)}, &gb);
  if (s) return s;
  if (!(s = adj ? mm(out[0], gb, false, true, &p) : mm(gb, out[0], false, true, &p)))
    s = tl_call("negative", 1, &p, 0, NULL, &grad_in[0]);
  tl_tensor_release(p);
  if (s) {
    tl_tensor_release(gb);
    return s;
  }
  grad_in[1] = gb;
  return TL_OK;
}

/* Contract g with the other operand over its free dims, then put the
 * result's dims back in the operand's order. */
static tl_status tensordot_side(tl_tensor *g, tl_tensor *other, bool g_first, int nfree_self,
                                const int *self_free, int n_self_free, const int *other_free, int n_other_free,
                                const int *self_ax, const int *other_ax, int ncontract, int self_rank,
                                tl_tensor **out) {
  int64_t ga[TL_MAX_RANK], oa[TL_MAX_RANK];
  int src_order[TL_MAX_RANK], n = 0;
  /* g's dims: [a_free..., b_free...]; self's free dims come first when self is a. */
  for (int i = 0; i < n_other_free; i++) {
    ga[i] = g_first ? nfree_self + i : i;
    oa[i] = other_free[i];
  }
  tl_tensor *pair[2], *r, *t;
  pair[0] = g_first ? g : other;
  pair[1] = g_first ? other : g;
  tl_status s = tl_call("tensordot", 2, pair, 2,
                        (tl_named_attr[]){TL_A_INTS("a_axes", n_other_free, g_first ? ga : oa),
                                          TL_A_INTS("b_axes", n_other_free, g_first ? oa : ga)},
                        &r);
  if (s) return s;
  /* r's dims: the remaining dims of its first operand, then of its second.
   * Those of `other` are its contracted axes in ascending order, each the
   * partner of one of self's contracted axes. */
  int partner[TL_MAX_RANK], m = 0;
  for (int d = 0; d < TL_MAX_RANK; d++)
    for (int i = 0; i < ncontract; i++)
      if (other_ax[i] == d) partner[m++] = self_ax[i];
  if (g_first) {
    for (int i = 0; i < n_self_free; i++) src_order[n++] = self_free[i];
    for (int i = 0; i < m; i++) src_order[n++] = partner[i];
  } else {
    for (int i = 0; i < m; i++) src_order[n++] = partner[i];
    for (int i = 0; i < n_self_free; i++) src_order[n++] = self_free[i];
  }
  int64_t perm[TL_MAX_RANK];
  bool identity = true;
  for (int d = 0; d < self_rank; d++)
    for (int k = 0; k < n; k++)
      if (src_order[k] == d) {
        perm[d] = k;
        identity &= k == d;
      }
  if (identity) {
    *out = r;
    return TL_OK;
  }
  s = tl_call("transpose", 1, &r, 1, (tl_named_attr[]){TL_A_INTS("perm", self_rank, perm)}, &t);
  tl_tensor_release(r);
  if (!s) *out = t;
  return s;
}

static tl_status tensordot_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *a = in[0], *b = in[1], *g = grad_out[0];
  int nc = attr[0].n, axa[TL_MAX_RANK], axb[TL_MAX_RANK], fa[TL_MAX_RANK], fb[TL_MAX_RANK], nfa = 0, nfb = 0;
  bool ua[TL_MAX_RANK] = {false}, ub[TL_MAX_RANK] = {false};
  for (int i = 0; i < nc; i++) {
    tl_status s;
    if ((s = tl_normalize_axis("tensordot", attr[0].ints[i], a->rank, &axa[i])) ||
        (s = tl_normalize_axis("tensordot", attr[1].ints[i], b->rank, &axb[i])))
      return s;
    ua[axa[i]] = ub[axb[i]] = true;
  }
  for (int d = 0; d < a->rank; d++)
    if (!ua[d]) fa[nfa++] = d;
  for (int d = 0; d < b->rank; d++)
    if (!ub[d]) fb[nfb++] = d;
  tl_status s = tensordot_side(g, b, true, nfa, fa, nfa, fb, nfb, axa, axb, nc, a->rank, &grad_in[0]);
  if (s) return s;
  return tensordot_side(g, a, false, nfa, fb, nfb, fa, nfa, axb, axa, nc, b->rank, &grad_in[1]);
}

static const lu_kind lu_inv = LU_INV, lu_det = LU_DET, lu_solve = LU_SOLVE;

tl_op_def tl_ops_linalg[] = {
    {.name = "matmul", .inputs = "a, b",
     .attrs = "transpose_a:bool=false, transpose_b:bool=false, adjoint_a:bool=false, adjoint_b:bool=false",
     .infer = matmul_infer, .kernel[TL_CPU] = matmul_kernel, .grad = matmul_grad,
     .flags = TL_OP_SCALARS_FOLLOW | TL_OP_SAME_DTYPE | TL_OP_HALF_VIA_F32, .api = "tf.matmul tf.linalg.matmul",
     .doc = "Matrix product of the last two dimensions, batch dimensions broadcast (a @ b)."},
    {.name = "tensordot", .inputs = "a, b", .attrs = "a_axes:ints, b_axes:ints", .infer = tensordot_infer,
     .kernel[TL_CPU] = tensordot_kernel, .grad = tensordot_grad,
     .flags = TL_OP_SCALARS_FOLLOW | TL_OP_SAME_DTYPE | TL_OP_HALF_VIA_F32, .api = "-",
     .doc = "Contraction of a's a_axes with b's b_axes (tf.tensordot in stdlib/tlua/linalg.lua calls it)."},
    {.name = "inv", .inputs = "input", .attrs = "adjoint:bool=false", .infer = inv_det_infer,
     .kernel[TL_CPU] = lu_kernel, .grad = inv_grad, .impl = &lu_inv, .api = "tf.linalg.inv",
     .doc = "Inverse of each square matrix in the last two dimensions (LU, LAPACK getrf/getri)."},
    {.name = "det", .inputs = "input", .infer = inv_det_infer, .kernel[TL_CPU] = lu_kernel, .grad = det_grad,
     .impl = &lu_det, .api = "tf.linalg.det",
     .doc = "Determinant of each square matrix in the last two dimensions (LU, LAPACK getrf)."},
    {.name = "solve", .inputs = "matrix, rhs", .attrs = "adjoint:bool=false", .infer = solve_infer,
     .kernel[TL_CPU] = lu_kernel, .grad = solve_grad, .impl = &lu_solve,
     .flags = TL_OP_SCALARS_FOLLOW | TL_OP_SAME_DTYPE, .api = "tf.linalg.solve",
     .doc = "X with matrix @ X = rhs for each batch entry (LAPACK gesv); batch dimensions broadcast."},
    {.name = "matrix_transpose", .inputs = "a", .attrs = "conjugate:bool=false", .infer = matrix_transpose_infer,
     .kernel[TL_CPU] = matrix_transpose_kernel, .grad = matrix_transpose_grad,
     .api = "tf.linalg.matrix_transpose tf.linalg.adjoint", .doc = "Swaps the last two dimensions."},
    {.name = "trace", .inputs = "x", .infer = trace_infer, .kernel[TL_CPU] = trace_kernel, .grad = trace_grad,
     .api = "tf.linalg.trace", .doc = "Sum of the main diagonal of the last two dimensions."},
    {.name = "diag_part", .inputs = "input", .infer = diag_part_infer, .kernel[TL_CPU] = diag_part_kernel,
     .grad = diag_part_grad, .api = "tf.linalg.diag_part", .doc = "The main diagonal of the last two dimensions."},
    {.name = "diag", .inputs = "diagonal", .attrs = "num_rows:int=-1, num_cols:int=-1", .infer = diag_infer,
     .kernel[TL_CPU] = diag_kernel, .grad = diag_grad, .api = "tf.linalg.diag",
     .doc = "Matrices with the given main diagonals (last dimension) and zeros elsewhere (square unless num_rows/num_cols)."},
    {0},
};
