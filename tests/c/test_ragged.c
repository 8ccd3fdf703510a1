/* test_ragged.c — the ragged index ops from C, no Lua: a C program builds
 * to_tensor of a ragged value ([[3, 1], [], [4, 1, 5]]) from
 * ragged_to_dense_indices + gather, gathers rows with ragged_gather_indices,
 * reduces rows with unsorted_segment_sum over ragged_row_ids, and bad
 * row_splits fail with TL_INVALID_ARGUMENT (no crash, no leak under the
 * sanitizer build). */
#include "check.h"

static tl_tensor *vec_i64(int n, const int64_t *v) {
  int64_t shape[1] = {n};
  tl_tensor *t;
  if (tl_tensor_new(TL_INT64, 1, shape, &t)) abort();
  if (n) memcpy(tl_tensor_data(t), v, sizeof(int64_t) * (size_t)n);
  return t;
}

static bool same_i64(const tl_tensor *t, int n, const int64_t *want) {
  if (t->dtype != TL_INT64 || t->rank != 1 || t->shape[0] != n) return false;
  return n == 0 || memcmp(tl_tensor_data(t), want, sizeof(int64_t) * (size_t)n) == 0;
}

int main(void) {
  CHECK(tl_init() == TL_OK);
  tl_tensor *values = vec_f32(5, (const float[]){3, 1, 4, 1, 5});
  tl_tensor *splits = vec_i64(4, (const int64_t[]){0, 2, 2, 5});

  /* to_tensor: positions (5 = padding) gathered from values + [0] */
  tl_tensor *idx = NULL, *ext = NULL, *dense = NULL, *zero = vec_f32(1, (const float[]){0});
  CHECK(tl_run1("ragged_to_dense_indices", (tl_tensor *[]){values, splits}, 2, &idx) == TL_OK);
  CHECK(idx && idx->rank == 2 && idx->shape[0] == 3 && idx->shape[1] == 3);
  if (idx) CHECK(memcmp(tl_tensor_data(idx), (const int64_t[]){0, 1, 5, 5, 5, 5, 2, 3, 4}, 9 * sizeof(int64_t)) == 0);
  CHECK(tl_call("concat", 2, (tl_tensor *[]){values, zero}, 1, (tl_named_attr[]){TL_A_INT("axis", 0)}, &ext) == TL_OK);
  CHECK(tl_run1("gather", (tl_tensor *[]){ext, idx}, 2, &dense) == TL_OK);
  if (dense) CHECK(memcmp(tl_tensor_data(dense), (const float[]){3, 1, 0, 0, 0, 0, 4, 1, 5}, 9 * sizeof(float)) == 0);

  /* rows 2 and 0 */
  tl_tensor_list rows;
  tl_list_init(&rows);
  tl_tensor *pick = vec_i64(2, (const int64_t[]){2, 0});
  CHECK(tl_call_list("ragged_gather_indices", 2, (tl_tensor *[]){pick, splits}, 0, NULL, &rows) == TL_OK);
  CHECK(rows.n == 2);
  if (rows.n == 2) {
    CHECK(same_i64(rows.items[0], 3, (const int64_t[]){0, 3, 5}));
    CHECK(same_i64(rows.items[1], 5, (const int64_t[]){2, 3, 4, 0, 1}));
  }
  tl_list_clear(&rows);

  /* row sums */
  tl_tensor *ids = NULL, *sums = NULL, *nseg = NULL;
  CHECK(tl_tensor_scalar_i64(TL_INT64, 3, &nseg) == TL_OK);
  CHECK(tl_run1("ragged_row_ids", &splits, 1, &ids) == TL_OK);
  if (ids) CHECK(same_i64(ids, 5, (const int64_t[]){0, 0, 2, 2, 2}));
  CHECK(tl_run1("unsorted_segment_sum", (tl_tensor *[]){values, ids, nseg}, 3, &sums) == TL_OK);
  if (sums) CHECK(memcmp(tl_tensor_data(sums), (const float[]){4, 0, 10}, 3 * sizeof(float)) == 0);

  /* bad splits: errors, not crashes */
  tl_tensor *bad = vec_i64(3, (const int64_t[]){0, 7, 2}), *out = NULL;
  CHECK(tl_run1("ragged_to_dense_indices", (tl_tensor *[]){values, bad}, 2, &out) == TL_INVALID_ARGUMENT);
  CHECK(strstr(tl_last_error(), "non-decreasing") != NULL);
  CHECK(tl_run1("ragged_validate_splits", (tl_tensor *[]){bad, values}, 2, &out) == TL_INVALID_ARGUMENT);
  CHECK(tl_run1("ragged_row_ids", &bad, 1, &out) == TL_INVALID_ARGUMENT);
  CHECK(out == NULL);

  tl_tensor *all[] = {values, splits, idx, ext, dense, zero, pick, ids, sums, nseg, bad};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tl_tensor_release(all[i]);
  printf("test_ragged: %d checks, %d failures\n", checks, failures);
  return failures != 0;
}
