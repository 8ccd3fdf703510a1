/* test_core.c — the C core used without Lua: tensors, the dispatcher,
 * errors, views and iteration, the allocator cache, Philox. */
#include "tl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void test_dispatch(void) {
  float a[3] = {1, 2, 3}, b[3] = {10, 20, 30};
  tl_tensor *x = vec_f32(3, a), *y = vec_f32(3, b), *z = NULL;
  tl_tensor *in[2] = {x, y};
  CHECK(tl_run1("add", in, 2, &z) == TL_OK);
  CHECK(z && z->size == 3 && ((float *)tl_tensor_data(z))[2] == 33.0f);
  tl_tensor_release(z);

  /* dtype mismatch: an error naming both dtypes, never a crash */
  tl_tensor *i32;
  CHECK(tl_tensor_scalar_i64(TL_INT32, 1, &i32) == TL_OK);
  tl_tensor *bad[2] = {x, i32};
  CHECK(tl_run1("add", bad, 2, &z) == TL_INVALID_ARGUMENT);
  CHECK(strstr(tl_last_error(), "float32") && strstr(tl_last_error(), "int32"));
  CHECK(strncmp(tl_last_error(), "add: ", 5) == 0);
  tl_tensor_release(i32);

  /* unknown op */
  CHECK(tl_run1("no_such_op", in, 2, &z) == TL_NOT_FOUND);
  /* wrong arity */
  CHECK(tl_run1("add", in, 1, &z) == TL_INVALID_ARGUMENT);
  tl_tensor_release(x);
  tl_tensor_release(y);
}

static void test_views(void) {
  /* a transposed view of a 2x3 matrix iterates in logical order */
  int64_t shape[2] = {2, 3};
  tl_tensor *m;
  CHECK(tl_tensor_new(TL_INT32, 2, shape, &m) == TL_OK);
  for (int i = 0; i < 6; i++) ((int32_t *)tl_tensor_data(m))[i] = i;
  int64_t tshape[2] = {3, 2}, tstrides[2] = {1, 3};
  tl_tensor *t, *c;
  CHECK(tl_tensor_view(m->storage, TL_INT32, 2, tshape, tstrides, 0, &t) == TL_OK);
  CHECK(!tl_tensor_is_contiguous(t));
  CHECK(tl_tensor_contiguous(t, &c) == TL_OK);
  const int32_t want[6] = {0, 3, 1, 4, 2, 5};
  CHECK(memcmp(tl_tensor_data(c), want, sizeof want) == 0);
  tl_tensor_release(c);
  tl_tensor_release(t);
  tl_tensor_release(m);

  /* overflowing shapes are errors */
  int64_t huge[3] = {1LL << 40, 1LL << 40, 16};
  CHECK(tl_tensor_new(TL_FLOAT32, 3, huge, &t) == TL_RESOURCE_EXHAUSTED);
  int64_t neg[1] = {-1};
  CHECK(tl_tensor_new(TL_FLOAT32, 1, neg, &t) == TL_INVALID_ARGUMENT);
  /* zero-sized tensors are fine */
  int64_t zero[2] = {0, 5};
  CHECK(tl_tensor_new(TL_FLOAT32, 2, zero, &t) == TL_OK && t->size == 0);
  tl_tensor_release(t);
}

static void test_allocator(void) {
  tl_memory_stats s0 = tl_memory_get_stats();
  void *p = tl_alloc(1 << 20);
  CHECK(p && ((uintptr_t)p % 64) == 0);
  tl_free(p, 1 << 20);
  void *q = tl_alloc(1 << 20);
  CHECK(q == p); /* served from the cache */
  tl_free(q, 1 << 20);
  tl_memory_stats s1 = tl_memory_get_stats();
  CHECK(s1.live_bytes == s0.live_bytes);
  CHECK(s1.cached_bytes >= (1 << 20));
}

static void test_philox(void) {
  /* Known answer from Random123's kat_vectors: philox4x32-10, zero key and counter. */
  tl_rng r = {0, 0};
  uint32_t out[4];
  tl_rng_fill_u32(&r, out, 4);
  CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu && out[3] == 0x9b00dbd8u);
  CHECK(r.counter == 1);
}

static void test_dtypes(void) {
  CHECK(tl_dtype_from_name("float32") == TL_FLOAT32);
  CHECK(tl_dtype_from_name("complex64") == TL_COMPLEX64);
  CHECK(tl_dtype_from_name("string") == TL_STRING);
  CHECK(tl_dtype_from_name("nope") == TL_DTYPE_COUNT);
  CHECK(tl_half_to_float(tl_float_to_half(1.5f)) == 1.5f);
  CHECK(tl_bf16_to_float(tl_float_to_bf16(-2.0f)) == -2.0f);
  CHECK(tl_half_to_float(0x0001) > 0.0f); /* smallest subnormal */
}

/* The C API of serialize.c without Lua: a view round-trips through bytes,
 * every truncation is refused, CRC-32 has zlib's check value. */
static void test_serialize(void) {
  int64_t shape[2] = {2, 3};
  tl_tensor *m, *t, *back;
  CHECK(tl_tensor_new(TL_INT64, 2, shape, &m) == TL_OK);
  for (int i = 0; i < 6; i++) ((int64_t *)tl_tensor_data(m))[i] = (int64_t)i * 1000000000000LL - 7;
  int64_t tshape[2] = {3, 2}, tstrides[2] = {1, 3};
  CHECK(tl_tensor_view(m->storage, TL_INT64, 2, tshape, tstrides, 0, &t) == TL_OK);
  char *buf;
  size_t len;
  CHECK(tl_tensor_serialize(t, &buf, &len) == TL_OK && len == 4 + 1 + 5 + 1 + 16 + 48);
  CHECK(tl_tensor_parse(buf, len, &back) == TL_OK);
  CHECK(back->dtype == TL_INT64 && back->rank == 2 && back->shape[0] == 3 && back->shape[1] == 2);
  const int64_t *v = tl_tensor_data(back);
  CHECK(v[1] == 3 * 1000000000000LL - 7 && v[2] == 1000000000000LL - 7); /* transposed order */
  int refused = 0;
  for (size_t n = 0; n < len; n++) {
    tl_tensor *x = NULL;
    refused += tl_tensor_parse(buf, n, &x) == TL_INVALID_ARGUMENT && x == NULL;
  }
  CHECK(refused == (int)len);
  CHECK(tl_crc32(0, "123456789", 9) == 0xCBF43926u);
  free(buf);
  tl_tensor_release(back);
  tl_tensor_release(t);
  tl_tensor_release(m);
}

int main(void) {
  if (tl_init() != TL_OK) {
    fprintf(stderr, "init failed: %s\n", tl_last_error());
    return 1;
  }
  test_dispatch();
  test_views();
  test_allocator();
  test_philox();
  test_dtypes();
  test_serialize();
  printf("%d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
