/* test_strings.c — string storage from C: the arena (set, alloc, owns),
 * the dispatcher giving every string output its own bytes (a movement op's
 * result outlives its input), copies, serialization, and a string op
 * called from C. */
#include "check.h"

static tl_tensor *strings(int n, const char *const *v) {
  int64_t shape[1] = {n};
  tl_tensor *t;
  if (tl_tensor_new(TL_STRING, 1, shape, &t)) abort();
  for (int i = 0; i < n; i++)
    if (tl_string_set(t, i, v[i], strlen(v[i]))) abort();
  return t;
}

static bool is(const tl_tensor *t, int64_t i, const char *want) {
  const tl_string *e = (const tl_string *)tl_tensor_data(t) + i;
  return e->len == (int64_t)strlen(want) && (e->len == 0 || memcmp(e->data, want, (size_t)e->len) == 0);
}

int main(void) {
  CHECK(tl_init() == TL_OK);
  const char *words[] = {"alpha", "", "gamma-gamma-gamma-gamma"};
  tl_tensor *t = strings(3, words);
  const tl_string *e = tl_tensor_data(t);
  CHECK(e[1].data == NULL && e[1].len == 0);
  CHECK(tl_string_owns(t->storage, e[0].data) && tl_string_owns(t->storage, e[2].data));
  CHECK(tl_string_arena_bytes(t->storage) > 0);
  char *p = tl_string_alloc(t, 10);
  CHECK(p && tl_string_owns(t->storage, p));

  /* reverse (a movement op) then drop the input: the output's bytes are its own */
  tl_tensor *r;
  CHECK(tl_call("reverse", 1, &t, 1, (tl_named_attr[]){TL_A_INTS("axis", 1, (int64_t[]){0})}, &r) == TL_OK);
  const tl_string *re = tl_tensor_data(r);
  CHECK(tl_string_owns(r->storage, re[0].data) && !tl_string_owns(t->storage, re[0].data));
  tl_tensor_release(t);
  CHECK(is(r, 0, "gamma-gamma-gamma-gamma") && is(r, 1, "") && is(r, 2, "alpha"));

  /* a strided view copied contiguously owns its bytes too */
  tl_tensor *v, *c;
  CHECK(tl_tensor_view(r->storage, TL_STRING, 1, (int64_t[]){2}, (int64_t[]){2}, 0, &v) == TL_OK);
  CHECK(tl_tensor_contiguous(v, &c) == TL_OK);
  CHECK(c != v && tl_string_owns(c->storage, ((const tl_string *)tl_tensor_data(c))[0].data));
  CHECK(is(c, 0, "gamma-gamma-gamma-gamma") && is(c, 1, "alpha"));
  tl_tensor_release(v);

  /* serialization round trip, and a truncated buffer is refused */
  char *buf;
  size_t len;
  CHECK(tl_tensor_serialize(c, &buf, &len) == TL_OK);
  CHECK(len == tl_tensor_serialized_size(c));
  tl_tensor *back;
  CHECK(tl_tensor_parse(buf, len, &back) == TL_OK);
  CHECK(back->dtype == TL_STRING && back->size == 2 && is(back, 0, "gamma-gamma-gamma-gamma") && is(back, 1, "alpha"));
  tl_tensor *none = NULL;
  CHECK(tl_tensor_parse(buf, len - 1, &none) == TL_INVALID_ARGUMENT && none == NULL);
  free(buf);

  /* a tf.strings op from C: flagged ops write into their own outputs */
  tl_tensor *up;
  CHECK(tl_call("string_upper", 1, &back, 0, NULL, &up) == TL_OK);
  CHECK(is(up, 0, "GAMMA-GAMMA-GAMMA-GAMMA") && is(up, 1, "ALPHA"));
  tl_tensor *h;
  CHECK(tl_call("string_to_hash_bucket_fast", 1, &up, 1, (tl_named_attr[]){TL_A_INT("num_buckets", 1000)}, &h) == TL_OK);
  CHECK(h->dtype == TL_INT64 && h->size == 2);
  CHECK(tl_call("string_to_hash_bucket_fast", 1, &up, 1, (tl_named_attr[]){TL_A_INT("num_buckets", 0)}, &none) ==
        TL_INVALID_ARGUMENT);

  tl_tensor_release(h);
  tl_tensor_release(up);
  tl_tensor_release(back);
  tl_tensor_release(c);
  tl_tensor_release(r);
  printf("%d checks, %d failures\n", checks, failures);
  return failures != 0;
}
