/* test_kernel_faults.c — no kernel fails silently: with the n-th allocation
 * made to fail (tl_alloc_fail_at), for every n that reaches into the op,
 * a call either returns an error (ResourceExhausted) or the exact result.
 *
 * The ops here are the ones whose parallel workers take scratch memory of
 * their own (softmax over a non-last axis, column sums, scans, norms): a
 * worker whose allocation failed used to skip its rows and the op returned
 * OK with whatever the output buffer held. The output buffers are poisoned
 * first (freed buffers of the same size, filled with 0xff bytes, are what
 * the allocator hands out next), so a skipped row cannot pass for a result. */
#include "tl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static tl_tensor *input(int rank, const int64_t *shape) {
  tl_tensor *t;
  if (tl_tensor_new(TL_FLOAT32, rank, shape, &t)) abort();
  float *d = tl_tensor_data(t);
  for (int64_t i = 0; i < t->size; i++) d[i] = (float)((i * 37 % 101) - 50) / 17.0f;
  return t;
}

/* Leaves a few freed buffers like ref's, full of 0xff, at the top of the
 * allocator's cache. */
static void poison_like(const tl_tensor *ref) {
  tl_tensor *p[4];
  for (int i = 0; i < 4; i++) {
    if (tl_tensor_new(ref->dtype, ref->rank, ref->shape, &p[i])) abort();
    memset(tl_tensor_data(p[i]), 0xff, (size_t)p[i]->size * tl_dtypes[p[i]->dtype].size);
  }
  for (int i = 3; i >= 0; i--) tl_tensor_release(p[i]);
}

/* Runs op on x with every allocation from the 1st to the 40th failing in
 * turn; returns how many runs failed (each must have reported it). */
static int run_with_faults(const char *op, tl_tensor *x, int n_attrs, const tl_named_attr *attrs) {
  tl_tensor *ref;
  if (tl_call(op, 1, &x, n_attrs, attrs, &ref)) {
    fprintf(stderr, "%s: %s\n", op, tl_last_error());
    abort();
  }
  size_t bytes = (size_t)ref->size * tl_dtypes[ref->dtype].size;
  int failed = 0;
  for (int n = 1; n <= 40; n++) {
    poison_like(ref);
    tl_tensor *o = NULL;
    tl_alloc_fail_at(n);
    tl_status s = tl_call(op, 1, &x, n_attrs, attrs, &o);
    tl_alloc_fail_at(0);
    if (s == TL_OK) {
      bool same = o->size == ref->size && memcmp(tl_tensor_data(o), tl_tensor_data(ref), bytes) == 0;
      if (!same) fprintf(stderr, "%s: allocation %d failed, the op returned OK with a wrong result\n", op, n);
      CHECK(same);
      tl_tensor_release(o);
    } else {
      CHECK(s == TL_RESOURCE_EXHAUSTED);
      CHECK(strstr(tl_last_error(), op) != NULL); /* the error names the op */
      failed++;
    }
  }
  tl_tensor_release(ref);
  return failed;
}

static void test_ops(void) {
  int64_t s3[3] = {3, 64, 300}, s2[2] = {200, 64}, sc[3] = {4, 50, 30}, sn[3] = {4, 20, 30};
  tl_tensor *x3 = input(3, s3), *x2 = input(2, s2), *xc = input(3, sc), *xn = input(3, sn);
  int64_t pair[2] = {1, 2};
  /* softmax over a middle axis: each worker takes 2*B floats of scratch */
  CHECK(run_with_faults("softmax", x3, 1, (tl_named_attr[]){TL_A_INT("axis", 1)}) > 0);
  CHECK(run_with_faults("log_softmax", x3, 1, (tl_named_attr[]){TL_A_INT("axis", 1)}) > 0);
  /* a column sum longer than one leaf: pairwise scratch per worker */
  CHECK(run_with_faults("reduce_sum", x2, 1, (tl_named_attr[]){TL_A_INTS("axis", 1, (int64_t[]){0})}) > 0);
  /* scans keep a row of accumulators per worker */
  CHECK(run_with_faults("cumsum", xc, 1, (tl_named_attr[]){TL_A_INT("axis", 1)}) > 0);
  CHECK(run_with_faults("cumprod", xc, 2, (tl_named_attr[]){TL_A_INT("axis", 1), TL_A_BOOL("reverse", true)}) > 0);
  /* norms copy each matrix into a worker's buffer */
  CHECK(run_with_faults("norm", xn, 2, (tl_named_attr[]){TL_A_STRING("ord", "fro"), TL_A_INTS("axis", 2, pair)}) > 0);
  tl_tensor_release(x3);
  tl_tensor_release(x2);
  tl_tensor_release(xc);
  tl_tensor_release(xn);
}

int main(void) {
  if (tl_init()) {
    fprintf(stderr, "init: %s\n", tl_last_error());
    return 1;
  }
  /* one thread (the worker is the caller) and two (a pool worker fails) */
  tl_set_num_threads(1);
  test_ops();
  tl_set_num_threads(2);
  test_ops();
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
