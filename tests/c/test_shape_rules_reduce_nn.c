/* test_shape_rules_reduce_nn.c — the shape rules of the reduction, nn and
 * norm ops on symbolic inputs, as a tracer calls them: unknown dimensions
 * (-1) and unknown ranks propagate, what can be checked without data is
 * checked (axes, dtypes, label shapes), and nothing reads data (the metas
 * here belong to no tensor). */
#include "tl.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define U (-1) /* an unknown dimension */

static tl_meta meta(tl_dtype dt, int rank, const int64_t *shape) {
  tl_meta m = {.dtype = dt, .rank = rank};
  if (rank > 0) memcpy(m.shape, shape, sizeof(int64_t) * (size_t)rank);
  return m;
}

typedef struct call {
  const tl_op_def *op;
  tl_attr attr[TL_MAX_ATTRS];
  int64_t ints[TL_MAX_ATTRS][TL_MAX_RANK];
} call;

static void start(call *c, const char *name) {
  c->op = tl_op_find(name);
  if (!c->op || !c->op->infer) {
    fprintf(stderr, "%s: no op or no shape rule\n", name);
    exit(1);
  }
  tl_attrs_defaults(c->op, c->attr);
}

static void set_ints(call *c, const char *name, int n, const int64_t *v) {
  int k = tl_attr_index(c->op, name);
  c->attr[k].present = true;
  c->attr[k].n = n;
  memcpy(c->ints[k], v, sizeof(int64_t) * (size_t)n);
  c->attr[k].ints = c->ints[k];
}

static void set_int(call *c, const char *name, int64_t v) {
  int k = tl_attr_index(c->op, name);
  c->attr[k].present = true;
  c->attr[k].i = v;
}

static void set_bool(call *c, const char *name, bool v) { c->attr[tl_attr_index(c->op, name)].b = v; }

/* Runs the rule; returns its status and leaves the outputs in out. */
static tl_status infer(call *c, int n_in, const tl_meta *const *in, tl_meta_list *out) {
  tl_meta_list_init(out);
  return c->op->infer(c->op, in, n_in, c->attr, out);
}

static bool is(const tl_meta *m, tl_dtype dt, int rank, const int64_t *shape) {
  if (m->dtype != dt || m->rank != rank) return false;
  for (int i = 0; i < rank; i++)
    if (m->shape[i] != shape[i]) return false;
  return true;
}

static void test_reductions(void) {
  tl_meta x = meta(TL_FLOAT32, 3, (int64_t[]){U, 3, U}), any = meta(TL_FLOAT32, -1, NULL);
  const tl_meta *in[1] = {&x};
  tl_meta_list out;
  call c;
  start(&c, "reduce_sum");
  set_ints(&c, "axis", 1, (int64_t[]){1});
  CHECK(infer(&c, 1, in, &out) == TL_OK && out.n == 1 && is(&out.items[0], TL_FLOAT32, 2, (int64_t[]){U, U}));
  tl_meta_list_free(&out);
  set_bool(&c, "keepdims", true);
  set_ints(&c, "axis", 2, (int64_t[]){-1, 0});
  CHECK(infer(&c, 1, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT32, 3, (int64_t[]){1, 3, 1}));
  tl_meta_list_free(&out);
  set_ints(&c, "axis", 1, (int64_t[]){3});
  CHECK(infer(&c, 1, in, &out) == TL_INVALID_ARGUMENT && strstr(tl_last_error(), "axis 3 is out of range"));
  tl_meta_list_free(&out);
  set_ints(&c, "axis", 2, (int64_t[]){1, -2});
  CHECK(infer(&c, 1, in, &out) == TL_INVALID_ARGUMENT && strstr(tl_last_error(), "given twice"));
  tl_meta_list_free(&out);

  /* unknown rank: every axis without keepdims is a scalar; else unknown */
  start(&c, "reduce_max");
  in[0] = &any;
  CHECK(infer(&c, 1, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT32, 0, NULL));
  tl_meta_list_free(&out);
  set_bool(&c, "keepdims", true);
  CHECK(infer(&c, 1, in, &out) == TL_OK && out.items[0].rank == -1);
  tl_meta_list_free(&out);

  /* dtypes: half keeps its dtype (computed through float32), bool is refused */
  tl_meta h = meta(TL_FLOAT16, 2, (int64_t[]){U, 4}), b = meta(TL_BOOL, 1, (int64_t[]){U});
  start(&c, "reduce_mean");
  in[0] = &h;
  CHECK(infer(&c, 1, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT16, 0, NULL));
  tl_meta_list_free(&out);
  in[0] = &b;
  CHECK(infer(&c, 1, in, &out) == TL_UNIMPLEMENTED);
  tl_meta_list_free(&out);
  start(&c, "reduce_any");
  CHECK(infer(&c, 1, in, &out) == TL_OK && is(&out.items[0], TL_BOOL, 0, NULL));
  tl_meta_list_free(&out);
  start(&c, "count_nonzero");
  set_ints(&c, "axis", 1, (int64_t[]){0});
  in[0] = &x;
  CHECK(infer(&c, 1, in, &out) == TL_OK && is(&out.items[0], TL_INT64, 2, (int64_t[]){3, U}));
  tl_meta_list_free(&out);

  /* moments: two outputs */
  start(&c, "moments");
  set_ints(&c, "axes", 2, (int64_t[]){0, 2});
  CHECK(infer(&c, 1, in, &out) == TL_OK && out.n == 2 && is(&out.items[0], TL_FLOAT32, 1, (int64_t[]){3}) &&
        is(&out.items[1], TL_FLOAT32, 1, (int64_t[]){3}));
  tl_meta_list_free(&out);
  start(&c, "reduce_logsumexp");
  tl_meta i32 = meta(TL_INT32, 1, (int64_t[]){2});
  in[0] = &i32;
  CHECK(infer(&c, 1, in, &out) == TL_UNIMPLEMENTED);
  tl_meta_list_free(&out);
}

static void test_arg_and_scan(void) {
  tl_meta x = meta(TL_INT32, 2, (int64_t[]){U, 5}), empty = meta(TL_FLOAT32, 2, (int64_t[]){2, 0});
  const tl_meta *in[1] = {&x};
  tl_meta_list out;
  call c;
  start(&c, "argmax");
  set_int(&c, "axis", -1);
  CHECK(infer(&c, 1, in, &out) == TL_OK && is(&out.items[0], TL_INT64, 1, (int64_t[]){U}));
  tl_meta_list_free(&out);
  set_int(&c, "axis", 0); /* an unknown dimension may be empty: only the kernel's call knows */
  CHECK(infer(&c, 1, in, &out) == TL_OK && is(&out.items[0], TL_INT64, 1, (int64_t[]){5}));
  tl_meta_list_free(&out);
  in[0] = &empty;
  set_int(&c, "axis", 1);
  CHECK(infer(&c, 1, in, &out) == TL_INVALID_ARGUMENT && strstr(tl_last_error(), "is empty"));
  tl_meta_list_free(&out);
  start(&c, "cumprod");
  in[0] = &x;
  set_int(&c, "axis", 1);
  CHECK(infer(&c, 1, in, &out) == TL_OK && is(&out.items[0], TL_INT32, 2, (int64_t[]){U, 5}));
  tl_meta_list_free(&out);
  set_int(&c, "axis", 2);
  CHECK(infer(&c, 1, in, &out) == TL_INVALID_ARGUMENT);
  tl_meta_list_free(&out);
}

static void test_nn(void) {
  tl_meta logits = meta(TL_FLOAT32, 2, (int64_t[]){4, U}), labels = meta(TL_INT32, 1, (int64_t[]){U});
  tl_meta bad = meta(TL_INT64, 1, (int64_t[]){3}), flabels = meta(TL_FLOAT32, 1, (int64_t[]){4});
  tl_meta unknown = meta(TL_INT64, -1, NULL), g = meta(TL_FLOAT32, 1, (int64_t[]){U});
  const tl_meta *in[3] = {&labels, &logits, &g};
  tl_meta_list out;
  call c;
  start(&c, "sparse_softmax_cross_entropy_with_logits");
  CHECK(infer(&c, 2, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT32, 1, (int64_t[]){4}));
  tl_meta_list_free(&out);
  in[0] = &unknown;
  CHECK(infer(&c, 2, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT32, 1, (int64_t[]){4}));
  tl_meta_list_free(&out);
  in[0] = &bad;
  CHECK(infer(&c, 2, in, &out) == TL_INVALID_ARGUMENT && strstr(tl_last_error(), "labels shape [3]"));
  tl_meta_list_free(&out);
  in[0] = &flabels;
  CHECK(infer(&c, 2, in, &out) == TL_INVALID_ARGUMENT && strstr(tl_last_error(), "int32 or int64"));
  tl_meta_list_free(&out);
  start(&c, "sparse_softmax_cross_entropy_grad");
  in[0] = &labels;
  CHECK(infer(&c, 3, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT32, 2, (int64_t[]){4, U}));
  tl_meta_list_free(&out);

  /* probability labels broadcast to the logits; the class axis goes */
  start(&c, "softmax_cross_entropy_with_logits");
  in[0] = &flabels;
  tl_meta wide = meta(TL_FLOAT32, 2, (int64_t[]){U, 4});
  in[1] = &wide;
  CHECK(infer(&c, 2, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT32, 1, (int64_t[]){U}));
  tl_meta_list_free(&out);
  in[1] = &logits; /* [4, ?]: labels [4] fit the classes only if ? is 4 or 1: left to the call */
  set_int(&c, "axis", 0);
  CHECK(infer(&c, 2, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT32, 1, (int64_t[]){U}));
  tl_meta_list_free(&out);
  tl_meta big = meta(TL_FLOAT32, 3, (int64_t[]){2, 4, 4});
  in[0] = &big;
  CHECK(infer(&c, 2, in, &out) == TL_INVALID_ARGUMENT && strstr(tl_last_error(), "not compatible"));
  tl_meta_list_free(&out);

  start(&c, "softmax");
  tl_meta r = meta(TL_BFLOAT16, -1, NULL);
  in[0] = &r;
  CHECK(infer(&c, 1, in, &out) == TL_OK && out.items[0].rank == -1 && out.items[0].dtype == TL_BFLOAT16);
  tl_meta_list_free(&out);
  in[0] = &logits;
  set_int(&c, "axis", 2);
  CHECK(infer(&c, 1, in, &out) == TL_INVALID_ARGUMENT && strncmp(tl_last_error(), "axis 2 is out of range", 22) == 0);
  tl_meta_list_free(&out);

  /* dropout: the result and its hidden mask in the noise shape */
  start(&c, "dropout");
  c.attr[tl_attr_index(c.op, "rate")].f = 0.5;
  set_ints(&c, "noise_shape", 2, (int64_t[]){1, 7});
  CHECK(infer(&c, 1, in, &out) == TL_OK && out.n == 2 && is(&out.items[0], TL_FLOAT32, 2, (int64_t[]){4, U}) &&
        is(&out.items[1], TL_FLOAT32, 2, (int64_t[]){1, 7}));
  tl_meta_list_free(&out);
  set_ints(&c, "noise_shape", 2, (int64_t[]){2, 7});
  CHECK(infer(&c, 1, in, &out) == TL_INVALID_ARGUMENT);
  tl_meta_list_free(&out);

  start(&c, "bias_add");
  tl_meta bias = meta(TL_FLOAT32, 1, (int64_t[]){5});
  in[0] = &wide;
  in[1] = &bias;
  CHECK(infer(&c, 2, in, &out) == TL_INVALID_ARGUMENT && strstr(tl_last_error(), "4 channels"));
  tl_meta_list_free(&out);
  in[0] = &logits; /* [4, ?]: any channel count may fit */
  CHECK(infer(&c, 2, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT32, 2, (int64_t[]){4, U}));
  tl_meta_list_free(&out);

  start(&c, "l2_loss");
  CHECK(infer(&c, 1, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT32, 0, NULL));
  tl_meta_list_free(&out);
}

static void test_norm(void) {
  tl_meta x = meta(TL_FLOAT64, 3, (int64_t[]){U, 3, 4}), any = meta(TL_FLOAT32, -1, NULL);
  const tl_meta *in[1] = {&x};
  tl_meta_list out;
  call c;
  start(&c, "norm");
  set_ints(&c, "axis", 2, (int64_t[]){1, 2});
  CHECK(infer(&c, 1, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT64, 1, (int64_t[]){U}));
  tl_meta_list_free(&out);
  set_bool(&c, "keepdims", true);
  set_ints(&c, "axis", 1, (int64_t[]){0});
  CHECK(infer(&c, 1, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT64, 3, (int64_t[]){1, 3, 4}));
  tl_meta_list_free(&out);
  start(&c, "norm");
  in[0] = &any;
  CHECK(infer(&c, 1, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT32, 0, NULL));
  tl_meta_list_free(&out);
  start(&c, "norm2_direction");
  in[0] = &x;
  set_ints(&c, "axis", 2, (int64_t[]){-1, 1});
  CHECK(infer(&c, 1, in, &out) == TL_OK && is(&out.items[0], TL_FLOAT64, 3, (int64_t[]){U, 3, 4}));
  tl_meta_list_free(&out);
  set_ints(&c, "axis", 2, (int64_t[]){2, -1});
  CHECK(infer(&c, 1, in, &out) == TL_INVALID_ARGUMENT && strstr(tl_last_error(), "must differ"));
  tl_meta_list_free(&out);
}

int main(void) {
  if (tl_init()) {
    fprintf(stderr, "init: %s\n", tl_last_error());
    return 1;
  }
  test_reductions();
  test_arg_and_scan();
  test_nn();
  test_norm();
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
