/* test_saved_model_fuzz.c — the saved-model loader against damaged and
 * hostile files, deterministically, so every ctest run exercises it (the
 * libFuzzer target tests/fuzz/fuzz_saved_model.c explores further).
 *
 * First a round trip: write the fixture model, read it back, run both and
 * compare. Then N mutations of the valid file (bit flips, byte stores,
 * truncations, u32 fields set to hostile lengths, chunk copies), half of
 * them with the CRC recomputed so they reach the structural checks: each
 * must either fail with a status (never crash, never read out of bounds:
 * run it under the ASan build) or load a model whose graphs validate and
 * run (or fail to run) cleanly.
 *
 *   test_saved_model_fuzz [cases]        default 100000
 *   test_saved_model_fuzz --write-seed F writes the fixture to F (fuzz corpus)
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "saved_model_fixture.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)n + 1);
  *len = fread(b, 1, (size_t)n, f);
  fclose(f);
  return b;
}

static bool same_values(tl_tensor *a, tl_tensor *b) {
  if (a->dtype != b->dtype || !tl_tensor_same_shape(a, b)) return false;
  return memcmp(tl_tensor_data(a), tl_tensor_data(b), (size_t)a->size * tl_dtypes[a->dtype].size) == 0;
}

static void test_round_trip(const char *path) {
  tl_saved_model *m = fixture_model();
  CHECK(m != NULL);
  if (!m) return;
  CHECK(tl_saved_model_write(m, path) == TL_OK);
  tl_saved_model *l = NULL;
  CHECK(tl_saved_model_read(path, &l) == TL_OK);
  if (!l) {
    fprintf(stderr, "read: %s\n", tl_last_error());
    tl_saved_model_free(m);
    return;
  }
  CHECK(l->n_fns == 2 && l->n_variables == 1);
  CHECK(strcmp(l->variables[0]->name, "dense/kernel") == 0 && l->variables[0]->trainable);
  const tl_saved_fn *f = tl_saved_model_find(l, "serving_default");
  CHECK(f && f->arg_names[0] && strcmp(f->arg_names[0], "x") == 0 && strcmp(f->output_names[0], "y") == 0 &&
        f->output_names[1] == NULL);
  CHECK(tl_saved_model_find(l, "nope") == NULL);
  CHECK(tl_saved_model_find(l, NULL) == f);
  tl_tensor *x = fixture_input();
  tl_tensor_list a, b;
  tl_list_init(&a);
  tl_list_init(&b);
  CHECK(tl_graph_run(m->fns[0].graph, &x, 1, &a) == TL_OK);
  CHECK(tl_graph_run(f->graph, &x, 1, &b) == TL_OK);
  CHECK(a.n == 3 && b.n == 3);
  for (int i = 0; i < a.n && i < b.n; i++) CHECK(same_values(a.items[i], b.items[i]));
  /* y = relu(x @ w + b) * 2; row 0: x@w = [0.5*1 + 2*2 - 0.5*3, -1 + 0.5 + 4.5] = [3, 4] */
  if (b.n == 3) {
    const float *y = tl_tensor_data(b.items[0]), *s = tl_tensor_data(b.items[1]), *c = tl_tensor_data(b.items[2]);
    CHECK(y[0] == 2 * 3.1f && y[1] == 2 * 3.8f);
    CHECK(b.items[1]->rank == 2 && b.items[1]->shape[1] == 1 && s[0] == y[0] + y[1]);
    CHECK(c[0] == s[0] && c[1] == s[1]); /* the sum is positive: the then-branch */
  }
  tl_list_clear(&a);
  /* Called while a trace records: a graph with control flow becomes one CALL node. */
  tl_trace *tr;
  tl_meta xm = {TL_FLOAT32, 2, {-1, 3}};
  tl_tensor *sx;
  CHECK(tl_trace_begin(&tr) == TL_OK && tl_trace_arg(tr, &xm, &sx) == TL_OK);
  CHECK(tl_graph_call_traced(f->graph, &sx, 1, &a) == TL_OK && a.n == 3);
  tl_graph *outer = NULL;
  CHECK(tl_trace_end(tr, a.items, a.n, &outer) == TL_OK);
  CHECK(outer && outer->n_nodes == 2 && outer->nodes[1].kind == TL_NODE_CALL);
  tl_list_clear(&a);
  tl_tensor_release(sx);
  /* ... which a tape could not see: under one it is an error, not a missing gradient */
  tl_tape *tape;
  CHECK(tl_trace_begin(&tr) == TL_OK && tl_trace_arg(tr, &xm, &sx) == TL_OK);
  CHECK(tl_tape_new(false, true, &tape) == TL_OK && tl_tape_start(tape) == TL_OK);
  CHECK(tl_graph_call_traced(f->graph, &sx, 1, &a) == TL_UNIMPLEMENTED && a.n == 0);
  CHECK(strstr(tl_last_error(), "cannot be differentiated inside a traced function"));
  tl_tape_stop(tape);
  tl_tape_release(tape);
  tl_trace_abort(tr);
  tl_tensor_release(sx);
  tl_list_init(&a);
  CHECK(outer && tl_graph_run(outer, &x, 1, &a) == TL_OK && a.n == 3);
  for (int i = 0; i < a.n && i < b.n; i++) CHECK(same_values(a.items[i], b.items[i]));
  tl_graph_release(outer);
  tl_list_clear(&a);
  tl_list_clear(&b);
  /* The loaded variable is the one both functions read: assigning it changes norm(). */
  const tl_saved_fn *nf = tl_saved_model_find(l, "norm");
  tl_tensor *z;
  CHECK(tl_tensor_zeros(TL_FLOAT32, 2, (int64_t[]){3, 2}, &z) == TL_OK);
  CHECK(tl_variable_assign(l->variables[0], z) == TL_OK);
  tl_tensor_release(z);
  CHECK(nf && tl_graph_run(nf->graph, NULL, 0, &a) == TL_OK);
  CHECK(a.n == 1 && ((float *)tl_tensor_data(a.items[0]))[0] == 0.0f);
  tl_list_clear(&a);
  /* ... and the writer's variable is untouched by the loaded copy. */
  CHECK(tl_graph_run(m->fns[1].graph, NULL, 0, &a) == TL_OK);
  CHECK(a.n == 1 && ((float *)tl_tensor_data(a.items[0]))[0] == 7.8125f);
  tl_list_clear(&a);
  tl_tensor_release(x);
  tl_saved_model_free(l);
  tl_saved_model_free(m);
}

static void fix_crc(unsigned char *b, size_t n) {
  if (n < 20) return;
  uint64_t body = n - 20;
  memcpy(b + 8, &body, 8);
  uint32_t c = tl_crc32(0, b + 20, n - 20);
  memcpy(b + 16, &c, 4);
}

/* Specific damage with the message kind each must give. */
static void test_errors(const unsigned char *good, size_t n) {
  tl_saved_model *m = NULL;
  unsigned char *b = malloc(n + 16);
  CHECK(tl_saved_model_parse(good, 3, &m) == TL_DATA_LOSS && !m);
  CHECK(strstr(tl_last_error(), "not a tlua saved model"));
  CHECK(tl_saved_model_parse(good, 12, &m) == TL_DATA_LOSS);
  CHECK(strstr(tl_last_error(), "truncated"));
  CHECK(tl_saved_model_parse(good, n - 1, &m) == TL_DATA_LOSS);
  CHECK(strstr(tl_last_error(), "truncated or padded"));
  memcpy(b, good, n);
  b[n / 2] ^= 0x10;
  CHECK(tl_saved_model_parse(b, n, &m) == TL_DATA_LOSS);
  CHECK(strstr(tl_last_error(), "checksum"));
  memcpy(b, good, n);
  b[4] = 9;
  CHECK(tl_saved_model_parse(b, n, &m) == TL_UNIMPLEMENTED);
  CHECK(strstr(tl_last_error(), "format version 9") && strstr(tl_last_error(), "newer"));
  /* an unknown op: rename "relu" to "relv" (the CRC made right again) */
  memcpy(b, good, n);
  unsigned char *p = memmem(b, n, "\x04\0\0\0relu", 8);
  CHECK(p != NULL);
  if (p) {
    p[7] = 'v';
    fix_crc(b, n);
    CHECK(tl_saved_model_parse(b, n, &m) == TL_UNIMPLEMENTED);
    CHECK(strstr(tl_last_error(), "'relv'") && strstr(tl_last_error(), "serving_default"));
  }
  /* a stored output meta the shape rule disagrees with: relu's output [?,2] -> [?,5] */
  memcpy(b, good, n);
  p = memmem(b, n, "\x04\0\0\0relu", 8);
  if (p) {
    /* relu's node: kind, n_in, in, n_out, meta (7 float32 2 dims) precede where/name; find the meta before the name */
    unsigned char *q = p;
    while (q > b && memcmp(q, "\x07" "float32\x02", 9) != 0) q--;
    CHECK(q > b);
    int64_t five = 5;
    memcpy(q + 9 + 8, &five, 8);
    fix_crc(b, n);
    CHECK(tl_saved_model_parse(b, n, &m) == TL_DATA_LOSS);
    CHECK(strstr(tl_last_error(), "shape rule"));
  }
  /* a constant claiming to be a resource (a pointer from the file) is refused */
  memcpy(b, good, n);
  p = memmem(b, n, "TLT1\x07" "float32\x00", 13); /* the scalar constant 2 */
  CHECK(p != NULL);
  if (p) {
    size_t at = (size_t)(p - b);
    /* "float32" (7) -> "resource" (8): one more byte, so the lengths before it grow by one */
    unsigned char *c = malloc(n + 1);
    memcpy(c, b, at + 4);
    c[at + 4] = 8;
    memcpy(c + at + 5, "resource", 8);
    memcpy(c + at + 13, b + at + 12, n - at - 12);
    uint64_t tl;
    memcpy(&tl, c + at - 8, 8);
    tl += 1;
    memcpy(c + at - 8, &tl, 8);
    /* ... and the FUNS section's length */
    unsigned char *fs = memmem(c, n + 1, "FUNS", 4);
    CHECK(fs != NULL);
    if (fs) {
      memcpy(&tl, fs + 4, 8);
      tl += 1;
      memcpy(fs + 4, &tl, 8);
    }
    fix_crc(c, n + 1);
    CHECK(tl_saved_model_parse(c, n + 1, &m) == TL_DATA_LOSS && !m);
    CHECK(strstr(tl_last_error(), "resource (variable handle) cannot come from bytes"));
    free(c);
  }
  tl_tensor *rt;
  CHECK(tl_tensor_parse("TLT1\x08resource\x00\x01\x02\x03\x04\x05\x06\x07\x08", 22, &rt) == TL_INVALID_ARGUMENT);
  CHECK(strstr(tl_last_error(), "resource"));
  /* a meta whose size in bytes overflows (found by libFuzzer: a memory planner multiplied it out) */
  memcpy(b, good, n);
  p = memmem(b, n, "\x07" "float32\x02\xff\xff\xff\xff\xff\xff\xff\xff", 17);
  CHECK(p != NULL);
  if (p) {
    int64_t huge = (int64_t)1 << 61;
    memcpy(p + 9, &huge, 8);
    fix_crc(b, n);
    CHECK(tl_saved_model_parse(b, n, &m) == TL_DATA_LOSS && !m);
    CHECK(strstr(tl_last_error(), "size in bytes overflows"));
  }
  /* an unknown section after the others is skipped */
  memcpy(b, good, n);
  memcpy(b + n, "XTRA\x04\0\0\0\0\0\0\0abcd", 16);
  fix_crc(b, n + 16);
  CHECK(tl_saved_model_parse(b, n + 16, &m) == TL_OK && m);
  tl_saved_model_free(m);
  m = NULL;
  CHECK(tl_saved_model_read("/nonexistent/model.tlsm", &m) == TL_NOT_FOUND);
  free(b);
}

/* Loaded from a mutated file: everything must hold together. */
static void exercise(tl_saved_model *m, tl_tensor *x) {
  for (int i = 0; i < m->n_fns; i++) {
    tl_graph *g = m->fns[i].graph;
    CHECK(tl_graph_validate(g) == TL_OK);
    char *d;
    if (tl_graph_describe(g, &d) == TL_OK) free(d);
    if (g->n_args > 1) continue;
    tl_tensor_list out;
    tl_list_init(&out);
    if (tl_graph_run(g, g->n_args ? &x : NULL, g->n_args, &out) == TL_OK) CHECK(out.n == g->n_outputs);
    tl_list_clear(&out);
  }
}

static void mutate(unsigned char *b, size_t *n, size_t cap) {
  int ops = 1 + (int)(next_rand() % 3);
  for (int o = 0; o < ops && *n > 0; o++) {
    size_t at = next_rand() % *n;
    switch (next_rand() % 6) {
    case 0: b[at] ^= (unsigned char)(1u << (next_rand() % 8)); break;
    case 1: b[at] = (unsigned char)next_rand(); break;
    case 2: *n = at; break; /* truncate */
    case 3: {                 /* a hostile u32 length or count */
      static const uint32_t hostile[] = {0, 1, 0x7fffffff, 0xffffffff, 0x10000, 255, 256, 0xfffffffe};
      uint32_t v = hostile[next_rand() % (sizeof hostile / sizeof *hostile)];
      if (at + 4 <= *n) memcpy(b + at, &v, 4);
      break;
    }
    case 4: { /* copy a chunk over another place */
      size_t from = next_rand() % *n, len = 1 + next_rand() % 32;
      if (from + len <= *n && at + len <= *n) memmove(b + at, b + from, len);
      break;
    }
    case 5: { /* insert a few random bytes */
      size_t k = 1 + next_rand() % 8;
      if (*n + k <= cap) {
        memmove(b + at + k, b + at, *n - at);
        for (size_t i = 0; i < k; i++) b[at + i] = (unsigned char)next_rand();
        *n += k;
      }
      break;
    }
    }
  }
}

int main(int argc, char **argv) {
  if (tl_init()) return 1;
  if (argc == 3 && strcmp(argv[1], "--write-seed") == 0) {
    tl_saved_model *m = fixture_model();
    int rc = !m || tl_saved_model_write(m, argv[2]);
    tl_saved_model_free(m);
    return rc;
  }
  long cases = argc > 1 ? atol(argv[1]) : 100000;
  char path[] = "/tmp/tlua_saved_fuzz_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  close(fd);
  test_round_trip(path);
  size_t n = 0;
  unsigned char *good = slurp(path, &n);
  remove(path);
  CHECK(good && n > 100);
  if (!good) return 1;
  test_errors(good, n);

  tl_tensor *x = fixture_input();
  size_t cap = n + 64;
  unsigned char *b = malloc(cap);
  long loaded = 0, kinds[TL_STATUS_COUNT] = {0};
  clock_t t0 = clock();
  for (long c = 0; c < cases; c++) {
    size_t len = n;
    memcpy(b, good, n);
    mutate(b, &len, cap);
    if (c % 2) fix_crc(b, len);
    tl_saved_model *m = NULL;
    tl_status s = tl_saved_model_parse(b, len, &m);
    kinds[s]++;
    if (s == TL_OK) {
      loaded++;
      CHECK(m != NULL);
      if (m) exercise(m, x);
      tl_saved_model_free(m);
    } else {
      CHECK(m == NULL && tl_last_error()[0]);
      CHECK(s == TL_DATA_LOSS || s == TL_UNIMPLEMENTED || s == TL_RESOURCE_EXHAUSTED);
      if (s != TL_DATA_LOSS && s != TL_UNIMPLEMENTED) fprintf(stderr, "case %ld: %s\n", c, tl_last_error());
    }
  }
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  printf("%ld mutated files in %.2f s: %ld loaded, %ld DataLoss, %ld Unimplemented\n", cases, secs, loaded,
         kinds[TL_DATA_LOSS], kinds[TL_UNIMPLEMENTED]);
  free(b);
  free(good);
  tl_tensor_release(x);
  printf("%d checks, %d failures\n", checks, failures);
  return failures != 0;
}
