/* test_format.c — tl_tensor_format for what Lua cannot build yet (complex
 * values with imaginary parts, strings) and for print options. Expected
 * strings come from numpy 1.24 (str of the same array), with Lua's quoting
 * for strings. */
#include "tl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void expect(const tl_tensor *t, const tl_print_opts *o, const char *want) {
  char *got = NULL;
  tl_status s = tl_tensor_format(t, o, &got);
  if (s || strcmp(got, want) != 0) {
    fprintf(stderr, "FAIL\n  want: %s\n  got:  %s\n", want, s ? tl_last_error() : got);
    failures++;
  }
  free(got);
}

static tl_tensor *complex_tensor(int rank, const int64_t *shape, const float *v) {
  tl_tensor *t;
  if (tl_tensor_new(TL_COMPLEX64, rank, shape, &t)) abort();
  memcpy(tl_tensor_data(t), v, sizeof(float) * 2 * (size_t)t->size);
  return t;
}

static tl_tensor *f32_tensor(int rank, const int64_t *shape, const float *v) {
  tl_tensor *t;
  if (tl_tensor_new(TL_FLOAT32, rank, shape, &t)) abort();
  memcpy(tl_tensor_data(t), v, sizeof(float) * (size_t)t->size);
  return t;
}

int main(void) {
  if (tl_init()) return 1;
  int64_t two = 2, sq[2] = {2, 2};

  tl_tensor *c1 = complex_tensor(1, &two, (float[]){1, 2, 3, -4.5f});
  expect(c1, NULL, "tf.Tensor([1.+2.j  3.-4.5j], shape=(2,), dtype=complex64)");
  tl_tensor *c2 = complex_tensor(2, sq, (float[]){0.5f, 0, -1e-5f, 1, NAN, 1, 2, -INFINITY});
  expect(c2, NULL,
         "tf.Tensor(\n[[ 5.e-01 +0.j -1.e-05 +1.j]\n [    nan +1.j  2.e+00-infj]], shape=(2, 2), dtype=complex64)");
  tl_tensor *c3 = complex_tensor(1, &two, (float[]){1.5f, -0.25f, -2, 100});
  expect(c3, NULL, "tf.Tensor([ 1.5  -0.25j -2. +100.j  ], shape=(2,), dtype=complex64)");
  const float scal[][2] = {{1, 2}, {0, 2}, {-1.5f, -0.5f}, {1.5f, 0}};
  const char *scal_want[] = {"(1+2j)", "2j", "(-1.5-0.5j)", "(1.5+0j)"};
  for (int i = 0; i < 4; i++) {
    tl_tensor *c = complex_tensor(0, NULL, scal[i]);
    char want[100];
    snprintf(want, sizeof want, "tf.Tensor(%s, shape=(), dtype=complex64)", scal_want[i]);
    expect(c, NULL, want);
    tl_tensor_release(c);
  }

  tl_tensor *s;
  if (tl_tensor_zeros(TL_STRING, 1, (int64_t[]){3}, &s)) return 1;
  tl_string *sv = tl_tensor_data(s);
  if (tl_string_set(s, 0, "ab", 2) || tl_string_set(s, 1, "c\"d\n", 4)) return 1;
  expect(s, NULL, "tf.Tensor([b'ab' b'c\"d\\n' b''], shape=(3,), dtype=string)");
  tl_tensor *s0 = NULL;
  if (tl_tensor_view(s->storage, TL_STRING, 0, NULL, NULL, 0, &s0)) return 1;
  expect(s0, NULL, "tf.Tensor(b'ab', shape=(), dtype=string)");
  sv[2] = (tl_string){"it's", 4}; /* a quote picks the other quote, as Python's repr */
  expect(s, NULL, "tf.Tensor([b'ab' b'c\"d\\n' b\"it's\"], shape=(3,), dtype=string)");
  sv[2] = (tl_string){NULL, 0};

  tl_tensor *f = f32_tensor(1, (int64_t[]){3}, (float[]){1.0f / 3, 2.0f / 3, 10});
  expect(f, &(tl_print_opts){1000, 3, 3, 75, false}, "tf.Tensor([ 0.333  0.667 10.   ], shape=(3,), dtype=float32)");
  tl_tensor *r;
  if (tl_tensor_new(TL_INT32, 1, (int64_t[]){12}, &r)) return 1;
  for (int i = 0; i < 12; i++) ((int32_t *)tl_tensor_data(r))[i] = i;
  expect(r, &(tl_print_opts){5, 1, 8, 75, false}, "tf.Tensor([ 0 ... 11], shape=(12,), dtype=int32)");
  expect(r, &(tl_print_opts){1000, 3, 8, 20, false},
         "tf.Tensor(\n[ 0  1  2  3  4  5\n  6  7  8  9 10 11], shape=(12,), dtype=int32)");
  expect(r, &(tl_print_opts){-1, -1, -1, 0, false},
         "tf.Tensor([ 0  1  2  3  4  5  6  7  8  9 10 11], shape=(12,), dtype=int32)");
  expect(r, &(tl_print_opts){-1, -1, -1, 0, true}, "[ 0  1  2  3  4  5  6  7  8  9 10 11]");
  /* a strided view (every other element, reversed rows) prints its own values */
  tl_tensor *v;
  if (tl_tensor_view(r->storage, TL_INT32, 2, (int64_t[]){2, 3}, (int64_t[]){-6, 2}, 6, &v)) return 1;
  expect(v, NULL, "tf.Tensor(\n[[ 6  8 10]\n [ 0  2  4]], shape=(2, 3), dtype=int32)");

  tl_tensor *all[] = {c1, c2, c3, s, s0, f, r, v};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tl_tensor_release(all[i]);
  if (failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  printf("test_format: ok\n");
  return 0;
}
