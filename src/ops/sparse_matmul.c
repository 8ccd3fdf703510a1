/* ops/sparse_matmul.c — sparse_dense_matmul: op(A) @ op(B) for a sparse
 * matrix A (components) and a dense B, op = identity or adjoint (for real
 * dtypes, the transpose).
 *
 * The kernel groups A's entries by output row (read in place when they are
 * in row order already, else a counting sort, O(nnz + rows)), then splits the output rows
 * over the compute pool: each row is a sum of scaled rows of B, a run of
 * contiguous axpys that the compiler vectorises (TL_HOT). No atomics, and
 * each row's sum runs in the entries' order, so results do not depend on
 * the thread count. An adjointed B is transposed once into a contiguous
 * copy first. Pool threads run with flush-to-zero (parallel.c).
 *
 * Gradients, with ordinary ops (so they trace and nest): B's is
 * sparse_dense_matmul(A, dy) with adjoint_a flipped (transposed back when
 * B was adjointed); the values' is, per entry (r, c), the dot product of
 * dy's row r with op(B)'s row c: reduce_sum(gather(dy, r) * gather(op(B), c), 1).
 */
#include "ops/sparse.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

tl_status tl_sparse_dense_matmul_infer(TL_INFER_ARGS);
tl_status tl_sparse_dense_matmul_kernel(TL_KERNEL_ARGS);
tl_status tl_sparse_dense_matmul_grad(TL_GRAD_ARGS);

tl_status tl_sparse_dense_matmul_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  int r;
  tl_status s = tl_sp_check_meta(in[0], in[1], in[2], &r);
  if (s) return s;
  const tl_meta *b = in[3];
  if (r >= 0 && r != 2) return tl_error(TL_INVALID_ARGUMENT, "a must be a sparse matrix, got rank %d", r);
  if (b->rank >= 0 && b->rank != 2) return tl_error(TL_INVALID_ARGUMENT, "b must be a matrix, got rank %d", b->rank);
  if (in[1]->dtype != b->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "a's values are %s but b is %s", tl_dtypes[in[1]->dtype].name,
                    tl_dtypes[b->dtype].name);
  if (b->dtype != TL_FLOAT32 && b->dtype != TL_FLOAT64)
    return tl_error(TL_UNIMPLEMENTED, "%s is not supported (float32, float64)", tl_dtypes[b->dtype].name);
  int64_t shape[2] = {-1, b->rank == 2 ? b->shape[attr[1].b ? 0 : 1] : -1};
  return tl_meta_emit(out, b->dtype, 2, shape);
}

typedef struct mm_ctx {
  const int64_t *start;  /* [m + 1]: row r's entries are [start[r], start[r+1]) */
  const int64_t *col;    /* row of op(B) each entry scales, every col_stride-th element */
  int64_t col_stride;
  const void *val;       /* entry values, grouped by row */
  const void *b;         /* op(B), contiguous [K, n] */
  void *out;             /* [m, n] */
  int64_t n;
} mm_ctx;

TL_HOT static void mm_rows_f32(int64_t lo, int64_t hi, void *p) {
  const mm_ctx *c = p;
  const float *v = c->val, *b = c->b;
  int64_t n = c->n;
  for (int64_t r = lo; r < hi; r++) {
    float *o = (float *)c->out + r * n;
    for (int64_t j = 0; j < n; j++) o[j] = 0;
    for (int64_t e = c->start[r]; e < c->start[r + 1]; e++) {
      const float a = v[e], *br = b + c->col[e * c->col_stride] * n;
      for (int64_t j = 0; j < n; j++) o[j] += a * br[j];
    }
  }
}

TL_HOT static void mm_rows_f64(int64_t lo, int64_t hi, void *p) {
  const mm_ctx *c = p;
  const double *v = c->val, *b = c->b;
  int64_t n = c->n;
  for (int64_t r = lo; r < hi; r++) {
    double *o = (double *)c->out + r * n;
    for (int64_t j = 0; j < n; j++) o[j] = 0;
    for (int64_t e = c->start[r]; e < c->start[r + 1]; e++) {
      const double a = v[e], *br = b + c->col[e * c->col_stride] * n;
      for (int64_t j = 0; j < n; j++) o[j] += a * br[j];
    }
  }
}

tl_status tl_sparse_dense_matmul_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  bool adj_a = attr[0].b, adj_b = attr[1].b;
  tl_sp sp;
  tl_tensor *b = NULL, *bt = NULL, *res = NULL;
  int64_t *start = NULL, *col = NULL;
  char *val = NULL;
  tl_status s = tl_sp_recheck(op, in, n_in, attr);
  if (s) return s;
  s = tl_sp_open(&sp, in[0], in[1], in[2]);
  if (s) return s;
  if (sp.rank != 2) {
    s = tl_error(TL_INVALID_ARGUMENT, "a must be a sparse matrix, got rank %d", sp.rank);
    goto done;
  }
  int64_t m = sp.shape[adj_a ? 1 : 0], K = sp.shape[adj_a ? 0 : 1];
  int64_t bk = in[3]->shape[adj_b ? 1 : 0], n = in[3]->shape[adj_b ? 0 : 1];
  if (K != bk) {
    s = tl_error(TL_INVALID_ARGUMENT,
                 "Cannot multiply A and B because inner dimension does not match: %" PRId64 " vs. %" PRId64, K, bk);
    goto done;
  }
  int rc = adj_a ? 1 : 0, cc = 1 - rc; /* which index column gives the output row / B's row */
  for (int64_t i = 0; i < sp.nnz; i++) {
    int64_t row = sp.idx[i * 2 + rc], k = sp.idx[i * 2 + cc];
    if (row < 0 || row >= m) {
      s = tl_error(TL_INVALID_ARGUMENT, "row index (%" PRId64 ") from index[%" PRId64 ",%d] out of bounds (>=%" PRId64 ")",
                   row, i, rc, m);
      goto done;
    }
    if (k < 0 || k >= K) {
      s = tl_error(TL_INVALID_ARGUMENT, "k (%" PRId64 ") from index[%" PRId64 ",%d] out of bounds (>=%" PRId64 ")", k, i,
                   cc, K);
      goto done;
    }
  }
  int64_t oshape[2] = {m, n};
  if ((s = tl_tensor_new(in[3]->dtype, 2, oshape, &res))) goto done;
  if (adj_b) {
    int64_t bs[2] = {in[3]->shape[1], in[3]->shape[0]}, st[2] = {in[3]->strides[1], in[3]->strides[0]};
    if ((s = tl_tensor_view(in[3]->storage, in[3]->dtype, 2, bs, st, in[3]->offset, &bt))) goto done;
    s = tl_tensor_contiguous(bt, &b);
  } else {
    s = tl_tensor_contiguous(in[3], &b);
  }
  if (s) goto done;
  size_t es = tl_dtypes[res->dtype].size;
  start = calloc((size_t)m + 2, sizeof *start);
  if (!start) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory grouping %" PRId64 " sparse entries", sp.nnz);
    goto done;
  }
  bool grouped = true; /* entries already in output-row order (the usual, row-major case) */
  for (int64_t i = 0; i < sp.nnz; i++) {
    start[sp.idx[i * 2 + rc] + 2]++;
    if (i && sp.idx[i * 2 + rc] < sp.idx[(i - 1) * 2 + rc]) grouped = false;
  }
  for (int64_t r = 0; r < m; r++) start[r + 2] += start[r + 1];
  mm_ctx c = {start + 1, sp.idx + cc, 2, tl_tensor_data(sp.val), tl_tensor_data(b), tl_tensor_data(res), n};
  if (!grouped) {
    /* a counting sort by output row: start[r + 1] is where row r begins, and
     * filling advances it to row r's end, which is row r + 1's begin */
    col = malloc((size_t)(sp.nnz ? sp.nnz : 1) * sizeof *col);
    val = malloc((size_t)(sp.nnz ? sp.nnz : 1) * es);
    if (!col || !val) {
      s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory grouping %" PRId64 " sparse entries", sp.nnz);
      goto done;
    }
    const char *v = tl_tensor_data(sp.val);
    for (int64_t i = 0; i < sp.nnz; i++) {
      int64_t p = start[sp.idx[i * 2 + rc] + 1]++;
      col[p] = sp.idx[i * 2 + cc];
      memcpy(val + p * (int64_t)es, v + i * (int64_t)es, es);
    }
    c = (mm_ctx){start, col, 1, val, tl_tensor_data(b), tl_tensor_data(res), n};
  }
  /* grain: rows worth about 32K multiply-adds per task */
  int64_t per_row = m ? (sp.nnz / m + 1) * (n ? n : 1) : 1, grain = 32768 / per_row + 1;
  tl_parallel_for(m, grain, res->dtype == TL_FLOAT32 ? mm_rows_f32 : mm_rows_f64, &c);
  s = tl_list_push(out, res);
  res = NULL;
done:
  free(start), free(col), free(val);
  tl_tensor_release(b);
  tl_tensor_release(bt);
  tl_tensor_release(res);
  tl_sp_close(&sp);
  return s;
}

static tl_status transpose2(tl_tensor *x, tl_tensor **out) {
  int64_t perm[2] = {1, 0};
  return tl_call("transpose", 1, &x, 1, (tl_named_attr[]){TL_A_INTS("perm", 2, perm)}, out);
}

tl_status tl_sparse_dense_matmul_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *dy = grad_out[0];
  if (!dy) return TL_OK;
  bool adj_a = attr[0].b, adj_b = attr[1].b;
  tl_status s = TL_OK;
  if (tl_grad_wants(3)) {
    tl_tensor *d = NULL;
    s = tl_call("sparse_dense_matmul", 4, (tl_tensor *[]){in[0], in[1], in[2], dy}, 1,
                (tl_named_attr[]){TL_A_BOOL("adjoint_a", !adj_a)}, &d);
    if (!s && adj_b) s = transpose2(d, &grad_in[3]);
    else if (!s) grad_in[3] = tl_tensor_retain(d);
    tl_tensor_release(d);
    if (s) return s;
  }
  if (tl_grad_wants(1)) {
    tl_tensor *ri = NULL, *ci = NULL, *rows = NULL, *cols = NULL, *bo = NULL, *gr = NULL, *gb = NULL, *pr = NULL;
    s = tl_tensor_scalar_like(in[0], TL_INT64, adj_a ? 1 : 0, &ri);
    if (!s) s = tl_tensor_scalar_like(in[0], TL_INT64, adj_a ? 0 : 1, &ci);
    if (!s) s = tl_call("gather", 2, (tl_tensor *[]){in[0], ri}, 1, (tl_named_attr[]){TL_A_INT("axis", 1)}, &rows);
    if (!s) s = tl_call("gather", 2, (tl_tensor *[]){in[0], ci}, 1, (tl_named_attr[]){TL_A_INT("axis", 1)}, &cols);
    if (!s) {
      if (adj_b) s = transpose2(in[3], &bo);
      else bo = tl_tensor_retain(in[3]);
    }
    if (!s) s = tl_call("gather", 2, (tl_tensor *[]){dy, rows}, 0, NULL, &gr);
    if (!s) s = tl_call("gather", 2, (tl_tensor *[]){bo, cols}, 0, NULL, &gb);
    if (!s) s = tl_call("multiply", 2, (tl_tensor *[]){gr, gb}, 0, NULL, &pr);
    int64_t ax = 1;
    if (!s) s = tl_call("reduce_sum", 1, &pr, 1, (tl_named_attr[]){TL_A_INTS("axis", 1, &ax)}, &grad_in[1]);
    tl_tensor *tmp[] = {ri, ci, rows, cols, bo, gr, gb, pr};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) tl_tensor_release(tmp[i]);
  }
  return s;
}
