/* test_tensor_array.c — the eager tf.TensorArray of the C core without Lua
 * (src/tl_tensor_array.h): writes and reads with every check, stack with
 * zeros for unwritten elements, growth, unstack/gather/scatter/split/
 * concat, the graph form's round trip (to_dense, from_dense), and the
 * write op's run-time checks. */
#include "check.h"
#include "tl_tensor_array.h"

static float at(tl_tensor *t, int64_t i) { return ((float *)tl_tensor_data(t))[i]; }

static void test_eager(void) {
  tl_tensor_array *ta;
  CHECK(tl_tensor_array_new(TL_FLOAT32, 3, false, true, true, NULL, &ta) == TL_OK);
  CHECK(ta->element.rank == -1);
  tl_tensor *a = vec_f32(2, (float[]){1, 2}), *b = vec_f32(3, (float[]){1, 2, 3}), *out = NULL;
  CHECK(tl_tensor_array_write(ta, 0, a) == TL_OK);
  CHECK(ta->element.rank == 1 && ta->element.shape[0] == 2); /* the first write fixes the shape */
  CHECK(tl_tensor_array_write(ta, 0, a) == TL_INVALID_ARGUMENT);
  CHECK(strstr(tl_last_error(), "already been written") != NULL);
  CHECK(tl_tensor_array_write(ta, 1, b) == TL_INVALID_ARGUMENT);
  CHECK(tl_tensor_array_write(ta, 3, a) == TL_OUT_OF_RANGE);
  CHECK(tl_tensor_array_write(ta, -1, a) == TL_OUT_OF_RANGE);
  CHECK(tl_tensor_array_read(ta, 1, &out) == TL_INVALID_ARGUMENT);
  CHECK(tl_tensor_array_stack(ta, &out) == TL_OK);
  CHECK(out && out->rank == 2 && out->shape[0] == 3 && at(out, 1) == 2 && at(out, 2) == 0);
  tl_tensor_release(out);
  CHECK(tl_tensor_array_read(ta, 0, &out) == TL_OK && out == a); /* the stored tensor itself */
  tl_tensor_release(out);
  CHECK(tl_tensor_array_read(ta, 0, &out) == TL_INVALID_ARGUMENT); /* cleared */
  CHECK(strstr(tl_last_error(), "twice") != NULL);
  /* the graph form and back */
  tl_tensor *buf, *st;
  CHECK(tl_tensor_array_to_dense(ta, &buf, &st) == TL_OK);
  CHECK(buf && buf->shape[0] == 3 && st && ((int8_t *)tl_tensor_data(st))[0] == TL_TA_CLEARED);
  tl_tensor_array *back;
  CHECK(tl_tensor_array_new(TL_FLOAT32, 0, false, true, true, NULL, &back) == TL_OK);
  CHECK(tl_tensor_array_from_dense(back, buf, st) == TL_OK && back->size == 3 && back->state[0] == TL_TA_CLEARED);
  tl_tensor_release(buf);
  tl_tensor_release(st);
  tl_tensor_array_release(back);
  tl_tensor_array_release(ta);

  /* dynamic_size, unstack, gather, scatter, split, concat */
  CHECK(tl_tensor_array_new(TL_FLOAT32, 0, true, false, true, NULL, &ta) == TL_OK);
  CHECK(tl_tensor_array_write(ta, 4, a) == TL_OK && ta->size == 5);
  tl_tensor_array_close(ta);
  CHECK(ta->size == 0);
  tl_tensor *m, *flat = vec_f32(6, (float[]){1, 2, 3, 4, 5, 6});
  CHECK(tl_tensor_reshape(flat, 2, (int64_t[]){3, 2}, &m) == TL_OK);
  tl_tensor_release(flat);
  CHECK(tl_tensor_array_unstack(ta, m) == TL_OK && ta->size == 3);
  CHECK(tl_tensor_array_gather(ta, (int64_t[]){2, 0}, 2, &out) == TL_OK);
  CHECK(at(out, 0) == 5 && at(out, 3) == 2);
  tl_tensor_release(out);
  CHECK(tl_tensor_array_concat(ta, &out) == TL_OK && out->rank == 1 && out->shape[0] == 6);
  tl_tensor_release(out);
  CHECK(tl_tensor_array_scatter(ta, (int64_t[]){0, 1}, 2, m) == TL_INVALID_ARGUMENT); /* written already */
  CHECK(tl_tensor_array_split(ta, b, (int64_t[]){1, 1}, 2) == TL_INVALID_ARGUMENT); /* 2 != 3 */
  CHECK(tl_tensor_array_split(ta, b, (int64_t[]){1, 2}, 2) == TL_OK && ta->size == 2);
  CHECK(tl_tensor_array_read(ta, 1, &out) == TL_OK && out->shape[0] == 2 && at(out, 1) == 3);
  tl_tensor_release(out);
  tl_tensor_array_release(ta);
  tl_tensor_release(m);
  tl_tensor_release(a);
  tl_tensor_release(b);
}

/* tensor_array_write through the dispatcher: growth and the state check. */
static void test_write_op(void) {
  const tl_op_def *op = tl_op_find("tensor_array_write");
  CHECK(op != NULL);
  tl_tensor *buf, *st, *ix, *v = vec_f32(2, (float[]){7, 8});
  CHECK(tl_tensor_zeros(TL_FLOAT32, 2, (int64_t[]){2, 2}, &buf) == TL_OK);
  CHECK(tl_tensor_zeros(TL_INT8, 1, (int64_t[]){2}, &st) == TL_OK);
  CHECK(tl_tensor_scalar_i64(TL_INT32, 3, &ix) == TL_OK);
  tl_attr attrs[TL_MAX_ATTRS];
  tl_attrs_defaults(op, attrs);
  tl_tensor_list out;
  tl_list_init(&out);
  CHECK(tl_op_run(op, (tl_tensor *[]){buf, st, ix, v}, 4, attrs, &out) == TL_OUT_OF_RANGE);
  attrs[0].b = true; /* dynamic_size */
  CHECK(tl_op_run(op, (tl_tensor *[]){buf, st, ix, v}, 4, attrs, &out) == TL_OK);
  CHECK(out.n == 2 && out.items[0]->shape[0] == 4 && at(out.items[0], 6) == 7);
  tl_tensor_list again;
  tl_list_init(&again);
  CHECK(tl_op_run(op, (tl_tensor *[]){out.items[0], out.items[1], ix, v}, 4, attrs, &again) == TL_INVALID_ARGUMENT);
  CHECK(strstr(tl_last_error(), "index 3 because it has already been written") != NULL);
  tl_list_clear(&again);
  tl_list_clear(&out);
  tl_tensor_release(buf);
  tl_tensor_release(st);
  tl_tensor_release(ix);
  tl_tensor_release(v);
}

int main(void) {
  if (tl_init() != TL_OK) {
    fprintf(stderr, "tl_init failed\n");
    return 1;
  }
  test_eager();
  test_write_op();
  printf("%d checks, %d failures\n", checks, failures);
  return failures != 0;
}
