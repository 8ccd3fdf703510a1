/* test_sparse.c — the sparse ops without Lua: sparse_dense_matmul equals
 * the dense product of sparse_to_dense's result, is bit-identical for any
 * thread count (rows are split, never an entry's sum), reports a bad index
 * by position, and fails cleanly (no crash, no leak under ASan) when
 * memory runs out at any allocation. */
#include "tl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static tl_tensor *i64(int rank, const int64_t *shape, const int64_t *v) {
  tl_tensor *t;
  if (tl_tensor_new(TL_INT64, rank, shape, &t)) abort();
  memcpy(tl_tensor_data(t), v, sizeof *v * (size_t)t->size);
  return t;
}

/* A random m x k matrix with nnz distinct entries (unordered), and b. */
typedef struct problem {
  tl_tensor *ind, *val, *shp, *b;
} problem;

static problem make(int64_t m, int64_t k, int64_t n, int64_t nnz) {
  problem p;
  int64_t *ix = malloc(sizeof *ix * (size_t)nnz * 2);
  char *used = calloc((size_t)(m * k), 1);
  srand(7);
  for (int64_t e = 0; e < nnz;) {
    int64_t key = ((int64_t)rand() * RAND_MAX + rand()) % (m * k);
    if (used[key]) continue;
    used[key] = 1;
    ix[e * 2] = key / k, ix[e * 2 + 1] = key % k;
    e++;
  }
  int64_t is[2] = {nnz, 2}, ss[1] = {2}, sv[2] = {m, k};
  p.ind = i64(2, is, ix);
  p.shp = i64(1, ss, sv);
  if (tl_tensor_new(TL_FLOAT32, 1, &nnz, &p.val)) abort();
  float *v = tl_tensor_data(p.val);
  for (int64_t e = 0; e < nnz; e++) v[e] = (float)sin((double)e) + 0.5f;
  int64_t bs[2] = {k, n};
  if (tl_tensor_new(TL_FLOAT32, 2, bs, &p.b)) abort();
  float *b = tl_tensor_data(p.b);
  for (int64_t i = 0; i < k * n; i++) b[i] = (float)cos((double)i * 0.7);
  free(ix);
  free(used);
  return p;
}

static void drop(problem *p) {
  tl_tensor_release(p->ind), tl_tensor_release(p->val), tl_tensor_release(p->shp), tl_tensor_release(p->b);
}

static tl_tensor *spmm(problem *p) {
  tl_tensor *out = NULL;
  tl_status s = tl_call("sparse_dense_matmul", 4, (tl_tensor *[]){p->ind, p->val, p->shp, p->b}, 0, NULL, &out);
  if (s) fprintf(stderr, "sparse_dense_matmul: %s\n", tl_last_error());
  return out;
}

static void test_matches_dense(void) {
  problem p = make(2000, 500, 32, 20000); /* big enough to split over the pool */
  tl_tensor *y = spmm(&p), *d = NULL, *ref = NULL;
  CHECK(y && y->shape[0] == 2000 && y->shape[1] == 32);
  CHECK(!tl_call("sparse_to_dense", 4, (tl_tensor *[]){p.ind, p.val, p.shp, NULL}, 1,
                 (tl_named_attr[]){TL_A_BOOL("validate_indices", false)}, &d));
  CHECK(!tl_call("matmul", 2, (tl_tensor *[]){d, p.b}, 0, NULL, &ref));
  if (y && ref) {
    const float *a = tl_tensor_data(y), *r = tl_tensor_data(ref);
    double worst = 0;
    for (int64_t i = 0; i < y->size; i++) worst = fmax(worst, fabs((double)a[i] - r[i]));
    CHECK(worst < 1e-4);
  }
  /* any thread count: the same bits */
  int nt = tl_num_threads();
  tl_set_num_threads(1);
  tl_tensor *y1 = spmm(&p);
  tl_set_num_threads(4);
  tl_tensor *y4 = spmm(&p);
  tl_set_num_threads(nt);
  CHECK(y1 && y4 && memcmp(tl_tensor_data(y1), tl_tensor_data(y4), sizeof(float) * (size_t)y1->size) == 0);
  CHECK(y1 && y && memcmp(tl_tensor_data(y1), tl_tensor_data(y), sizeof(float) * (size_t)y1->size) == 0);
  tl_tensor_release(y), tl_tensor_release(y1), tl_tensor_release(y4), tl_tensor_release(d), tl_tensor_release(ref);
  drop(&p);
}

static void test_bad_index(void) {
  problem p = make(4, 5, 2, 3);
  ((int64_t *)tl_tensor_data(p.ind))[3] = 9; /* entry 1's column */
  tl_tensor *y = NULL;
  tl_status s = tl_call("sparse_dense_matmul", 4, (tl_tensor *[]){p.ind, p.val, p.shp, p.b}, 0, NULL, &y);
  CHECK(s == TL_INVALID_ARGUMENT && !y);
  CHECK(strstr(tl_last_error(), "k (9) from index[1,1] out of bounds (>=5)") != NULL);
  drop(&p);
}

static void test_out_of_memory(void) {
  problem p = make(50, 40, 8, 120);
  const char *ops[] = {"sparse_dense_matmul", "sparse_to_dense", "sparse_reduce_sum", "sparse_reorder_perm"};
  for (size_t o = 0; o < sizeof ops / sizeof *ops; o++)
    for (int n = 1; n <= 12; n++) {
      tl_tensor *y = NULL;
      tl_alloc_fail_at(n);
      tl_status s;
      if (o == 3) s = tl_call(ops[o], 2, (tl_tensor *[]){p.ind, p.shp}, 0, NULL, &y);
      else if (o == 0) s = tl_call(ops[o], 4, (tl_tensor *[]){p.ind, p.val, p.shp, p.b}, 0, NULL, &y);
      else
        s = tl_call(ops[o], o == 1 ? 4 : 3, (tl_tensor *[]){p.ind, p.val, p.shp, NULL}, o == 1 ? 1 : 0,
                    (tl_named_attr[]){TL_A_BOOL("validate_indices", false)}, &y);
      tl_alloc_fail_at(0);
      CHECK(s == TL_OK || s == TL_RESOURCE_EXHAUSTED);
      if (s && s != TL_RESOURCE_EXHAUSTED) fprintf(stderr, "%s: %s\n", ops[o], tl_last_error());
      CHECK((s == TL_OK) == (y != NULL));
      tl_tensor_release(y);
    }
  drop(&p);
}

int main(void) {
  if (tl_init()) {
    fprintf(stderr, "init: %s\n", tl_last_error());
    return 1;
  }
  test_matches_dense();
  test_bad_index();
  test_out_of_memory();
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
