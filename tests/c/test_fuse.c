/* test_fuse.c — element-wise fusion and the executor's memory plan from C:
 * graphs built with the tl_graph API (no Lua), fused, validated, copied and
 * run against the unfused graph; the fused op's error paths. */
#include <math.h>

#include "check.h"
#include "tl_graph.h"

static tl_meta meta1(int64_t n) {
  tl_meta m = {TL_FLOAT32, 1, {n}};
  return m;
}

static int add_op(tl_graph *g, const char *name, const int *in, int n_in, const tl_meta *out) {
  const tl_op_def *op = tl_op_find(name);
  tl_attr attrs[TL_MAX_ATTRS];
  tl_attrs_defaults(op, attrs);
  int v = -1;
  if (tl_graph_add_op(g, op, in, n_in, attrs, out, 1, NULL, &v)) abort();
  return v;
}

static int count_op(const tl_graph *g, const char *name) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].kind == TL_NODE_OP && strcmp(g->nodes[i].op->name, name) == 0) n++;
  return n;
}

/* x -> *2 -> exp -> +x -> (output a) -> square -> reduce_sum (output b);
 * a diamond (x read twice) and a multi-use value. */
static tl_graph *build(int64_t n) {
  tl_graph *g;
  if (tl_graph_new(&g)) abort();
  tl_meta m = meta1(n), s = {TL_FLOAT32, 0, {0}};
  int x, two;
  if (tl_graph_add_arg(g, &m, &x)) abort();
  tl_tensor *c;
  if (tl_tensor_scalar_f64(TL_FLOAT32, 2.0, &c)) abort();
  if (tl_graph_add_const(g, c, &two)) abort();
  tl_tensor_release(c);
  int a1 = add_op(g, "multiply", (int[]){x, two}, 2, &m);
  int a2 = add_op(g, "exp", (int[]){a1}, 1, &m);
  int a3 = add_op(g, "add", (int[]){a2, x}, 2, &m);
  int a4 = add_op(g, "square", (int[]){a3}, 1, &m);
  int b = add_op(g, "reduce_sum", (int[]){a4}, 1, &s);
  if (tl_graph_set_outputs(g, (int[]){a3, b}, 2)) abort();
  return g;
}

static void run(tl_graph *g, tl_tensor *x, tl_tensor_list *out) {
  tl_list_init(out);
  tl_status s = tl_graph_run(g, &x, 1, out);
  if (s) fprintf(stderr, "run: %s\n", tl_last_error());
  CHECK(s == TL_OK && out->n == 2);
}

int main(void) {
  CHECK(tl_init() == TL_OK);
  for (int64_t n = 1; n <= 100000; n *= 37) {
    float *v = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) v[i] = (float)sin((double)i) * 0.5f;
    tl_tensor *x = vec_f32((int)n, v);
    free(v);
    tl_graph *ref = build(n), *g = build(n);
    CHECK(tl_graph_optimize(g, TL_OPT_DCE | TL_OPT_FUSE | TL_OPT_MEMORY | TL_OPT_PARALLEL) == TL_OK);
    CHECK(tl_graph_validate(g) == TL_OK);
    CHECK(count_op(g, "fused_elementwise") == 1 && count_op(g, "reduce_sum") == 0);
    CHECK(g->stats.fused_groups == 1 && g->stats.fused_ops == 5);
    tl_graph *cp = NULL;
    CHECK(tl_graph_copy(g, &cp) == TL_OK && tl_graph_validate(cp) == TL_OK);
    tl_tensor_list r, f, fc;
    run(ref, x, &r);
    run(g, x, &f);
    run(cp, x, &fc);
    if (r.n == 2 && f.n == 2 && fc.n == 2) {
      const float *ra = tl_tensor_data(r.items[0]), *fa = tl_tensor_data(f.items[0]);
      bool same = true;
      for (int64_t i = 0; i < n; i++) same &= ra[i] == fa[i]; /* the same loops: bit-identical */
      CHECK(same);
      float rb = *(const float *)tl_tensor_data(r.items[1]), fb = *(const float *)tl_tensor_data(f.items[1]);
      float cb = *(const float *)tl_tensor_data(fc.items[1]);
      CHECK(fabsf(rb - fb) <= 1e-5f * fmaxf(1.0f, fabsf(rb)));
      CHECK(fb == cb);
    }
    tl_list_clear(&r);
    tl_list_clear(&f);
    tl_list_clear(&fc);
    tl_graph_release(ref);
    tl_graph_release(g);
    tl_graph_release(cp);
    tl_tensor_release(x);
  }

  /* the memory plan: a chain whose intermediates die at once writes in place */
  {
    tl_graph *g;
    CHECK(tl_graph_new(&g) == TL_OK);
    tl_meta m = meta1(4096);
    int x;
    CHECK(tl_graph_add_arg(g, &m, &x) == TL_OK);
    int a = add_op(g, "exp", (int[]){x}, 1, &m);
    int b = add_op(g, "negative", (int[]){a}, 1, &m);
    int c = add_op(g, "multiply", (int[]){b, x}, 2, &m);
    CHECK(tl_graph_set_outputs(g, (int[]){c}, 1) == TL_OK);
    CHECK(tl_graph_optimize(g, TL_OPT_MEMORY) == TL_OK);
    float v[4096];
    for (int i = 0; i < 4096; i++) v[i] = (float)i / 4096;
    tl_tensor *xt = vec_f32(4096, v);
    tl_tensor_list out;
    tl_list_init(&out);
    CHECK(tl_graph_run(g, &xt, 1, &out) == TL_OK && out.n == 1);
    CHECK(g->stats.in_place == 2 && g->stats.planned_bytes == 4096 * 4 && g->stats.unplanned_bytes == 3 * 4096 * 4);
    if (out.n == 1) {
      const float *o = tl_tensor_data(out.items[0]), *xi = tl_tensor_data(xt);
      bool ok = true;
      for (int i = 0; i < 4096; i++) ok &= o[i] == -expf(v[i]) * v[i] || fabsf(o[i] + expf(v[i]) * v[i]) < 1e-6f;
      CHECK(ok);
      CHECK(xi[100] == v[100]); /* the argument is never written */
    }
    tl_list_clear(&out);
    tl_tensor_release(xt);
    tl_graph_release(g);
  }

  /* the fused op's checks */
  {
    const tl_op_def *fe = tl_op_find("fused_elementwise");
    CHECK(fe != NULL);
    tl_attr attrs[TL_MAX_ATTRS];
    tl_attrs_defaults(fe, attrs);
    int ip = tl_attr_index(fe, "program"), io = tl_attr_index(fe, "outputs");
    int64_t outs[1] = {1};
    attrs[io].present = true;
    attrs[io].n = 1;
    attrs[io].ints = outs;
    attrs[ip].present = true;
    tl_tensor *x = vec_f32(3, (float[]){1, 2, 3}), *y;
    const char *bad[] = {"", "exp", "exp 1", "exp 0 0", "add 0", "exp@ 0", "nosuch 0", "equal 0 0", "matmul 0 0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      attrs[ip].s = bad[i];
      CHECK(tl_op_run1(fe, &x, 1, attrs, &y) == TL_INVALID_ARGUMENT);
    }
    attrs[ip].s = "exp 0;negative 1";
    outs[0] = 2;
    tl_status st = tl_op_run1(fe, &x, 1, attrs, &y);
    CHECK(st == TL_OK);
    if (!st) {
      CHECK(fabsf(((float *)tl_tensor_data(y))[1] + expf(2.0f)) < 1e-6f);
      tl_tensor_release(y);
    }
    tl_tensor_release(x);
  }
  printf("%d checks, %d failures\n", checks, failures);
  return failures != 0;
}
