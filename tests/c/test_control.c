/* test_control.c — control-flow nodes built by hand through the graph API
 * (no Lua, as a C program loading an exported graph would see them): COND
 * picks a branch, WHILE loops with captured extras and maximum_iterations,
 * a CALL runs its subgraph, and a TL_CALL_VJP call gives the gradients of
 * its subgraph (checked against hand-derived values); malformed nodes are
 * errors, not crashes. */
#include "check.h"
#include "graph/control.h"
#include "tl_graph.h"

static const tl_meta F32 = {TL_FLOAT32, 0, {0}};
static const tl_meta BOOL = {TL_BOOL, 0, {0}};

static tl_tensor *f32(double v) {
  tl_tensor *t;
  if (tl_tensor_scalar_f64(TL_FLOAT32, v, &t)) abort();
  return t;
}

static double val(tl_tensor *t) {
  tl_tensor *h;
  if (tl_tensor_copy_to(t, TL_CPU, &h)) return -999;
  double v = tl_load_f64(h->storage->data, h->dtype, h->offset);
  tl_tensor_release(h);
  return v;
}

/* out = op(a, b) in g (binary float ops, or comparisons with a bool meta). */
static int op2(tl_graph *g, const char *name, int a, int b, const tl_meta *m) {
  const tl_op_def *op = tl_op_find(name);
  tl_attr attrs[TL_MAX_ATTRS];
  tl_attrs_defaults(op, attrs);
  int in[2] = {a, b}, out = -1;
  if (tl_graph_add_op(g, op, in, 2, attrs, m, 1, NULL, &out)) abort();
  return out;
}

static int konst(tl_graph *g, double v) {
  tl_tensor *t = f32(v);
  int vid;
  if (tl_graph_add_const(g, t, &vid)) abort();
  tl_tensor_release(t);
  return vid;
}

static void outputs(tl_graph *g, int n, const int *v) {
  if (tl_graph_set_outputs(g, v, n)) abort();
}

/* then(x) = x * 3, else(x) = x + 1 */
static tl_graph *branch(bool then) {
  tl_graph *g;
  tl_graph_new(&g);
  int x;
  tl_graph_add_arg(g, &F32, &x);
  int y = then ? op2(g, "multiply", x, konst(g, 3), &F32) : op2(g, "add", x, konst(g, 1), &F32);
  outputs(g, 1, &y);
  return g;
}

/* main(p, x) = cond(p, x*3, x+1) */
static tl_graph *cond_graph(void) {
  tl_graph *g;
  tl_graph_new(&g);
  int p, x, k;
  tl_graph_add_arg(g, &BOOL, &p);
  tl_graph_add_arg(g, &F32, &x);
  tl_graph *subs[2] = {branch(true), branch(false)};
  int in[3] = {p, x, x};
  if (tl_graph_add_node(g, TL_NODE_COND, in, 3, subs, 2, &F32, 1, NULL, &k)) abort();
  g->nodes[k].arg = 1;
  int o = g->nodes[k].out0;
  outputs(g, 1, &o);
  return g;
}

/* while (i < n) { i = i + 1; s = s * x }: args i, s, then extras n, x */
static tl_graph *while_graph(int64_t max_iter) {
  tl_graph *c, *b, *g;
  tl_graph_new(&c);
  tl_graph_new(&b);
  tl_graph_new(&g);
  int a[4];
  for (int k = 0; k < 4; k++) tl_graph_add_arg(c, &F32, &a[k]);
  int lt = op2(c, "less", a[0], a[2], &BOOL);
  outputs(c, 1, &lt);
  for (int k = 0; k < 4; k++) tl_graph_add_arg(b, &F32, &a[k]);
  int nv[2] = {op2(b, "add", a[0], konst(b, 1), &F32), op2(b, "multiply", a[1], a[3], &F32)};
  outputs(b, 2, nv);
  int n, x, k;
  tl_graph_add_arg(g, &F32, &n);
  tl_graph_add_arg(g, &F32, &x);
  int in[4] = {konst(g, 0), konst(g, 1), n, x};
  tl_graph *subs[2] = {c, b};
  tl_meta m[2] = {F32, F32};
  if (tl_graph_add_node(g, TL_NODE_WHILE, in, 4, subs, 2, m, 2, NULL, &k)) abort();
  g->nodes[k].arg = 2;
  g->nodes[k].iparam = max_iter;
  int o[2] = {g->nodes[k].out0, g->nodes[k].out0 + 1};
  outputs(g, 2, o);
  return g;
}

/* vjp(F)(args..., dy...) as a graph of its own: outputs the first nd args' gradients */
static tl_graph *vjp_graph(tl_graph *F, int nd) {
  tl_graph *g;
  tl_graph_new(&g);
  int n = F->n_args + F->n_outputs;
  int in[8];
  for (int k = 0; k < n; k++) {
    const tl_meta *m = k < F->n_args ? &F->values[F->args[k]].meta : &F->values[F->outputs[k - F->n_args]].meta;
    tl_graph_add_arg(g, m, &in[k]);
  }
  tl_meta metas[8];
  for (int k = 0; k < nd; k++) metas[k] = F->values[F->args[k]].meta;
  int idx;
  tl_graph *sub = tl_graph_retain(F);
  if (tl_graph_add_node(g, TL_NODE_CALL, in, n, &sub, 1, metas, nd, NULL, &idx)) abort();
  g->nodes[idx].arg = nd;
  g->nodes[idx].iparam = TL_CALL_VJP;
  int o[8];
  for (int k = 0; k < nd; k++) o[k] = g->nodes[idx].out0 + k;
  outputs(g, nd, o);
  return g;
}

static void test_cond(void) {
  tl_graph *g = cond_graph();
  CHECK(tl_graph_validate(g) == TL_OK);
  for (int p = 0; p < 2; p++) {
    tl_tensor *pt, *x = f32(2);
    tl_tensor_scalar_i64(TL_BOOL, p, &pt);
    tl_tensor *args[2] = {pt, x};
    tl_tensor_list out;
    tl_list_init(&out);
    CHECK(tl_graph_run(g, args, 2, &out) == TL_OK);
    CHECK(out.n == 1 && val(out.items[0]) == (p ? 6 : 3));
    tl_list_clear(&out);
    tl_tensor_release(pt);
    tl_tensor_release(x);
  }
  /* a predicate that is not a scalar is an error */
  float two[2] = {1, 0};
  tl_tensor *bad = vec_f32(2, two), *x = f32(2);
  tl_graph *g2 = cond_graph();
  g2->values[g2->args[0]].meta = (tl_meta){TL_FLOAT32, 1, {2}};
  tl_tensor *args[2] = {bad, x};
  tl_tensor_list out;
  tl_list_init(&out);
  CHECK(tl_graph_run(g2, args, 2, &out) == TL_INVALID_ARGUMENT);
  tl_graph_release(g2);
  /* a bad then-argument count is an error */
  g2 = cond_graph();
  g2->nodes[g2->values[g2->outputs[0]].node].arg = 7;
  tl_tensor *pt;
  tl_tensor_scalar_i64(TL_BOOL, 1, &pt);
  CHECK(tl_graph_run(g2, (tl_tensor *[]){pt, x}, 2, &out) == TL_INTERNAL);
  tl_tensor_release(pt);
  tl_tensor_release(bad);
  tl_tensor_release(x);
  tl_graph_release(g2);

  /* its gradient: d/dx = 3 (then) or 1 (else), times dy; the differentiated
   * arg comes first: a wrapper F(x, p) */
  tl_graph *F;
  tl_graph_new(&F);
  int fx, fp, k;
  tl_graph_add_arg(F, &F32, &fx);
  tl_graph_add_arg(F, &BOOL, &fp);
  tl_graph *subs[2] = {branch(true), branch(false)};
  int in[3] = {fp, fx, fx};
  tl_graph_add_node(F, TL_NODE_COND, in, 3, subs, 2, &F32, 1, NULL, &k);
  F->nodes[k].arg = 1;
  int o = F->nodes[k].out0;
  outputs(F, 1, &o);
  tl_graph *vg = vjp_graph(F, 1);
  for (int p = 0; p < 2; p++) {
    tl_tensor *pb, *xx = f32(2), *dy = f32(0.5);
    tl_tensor_scalar_i64(TL_BOOL, p, &pb);
    tl_tensor *a[3] = {xx, pb, dy};
    tl_list_init(&out);
    CHECK(tl_graph_run(vg, a, 3, &out) == TL_OK);
    CHECK(out.n == 1 && val(out.items[0]) == (p ? 1.5 : 0.5));
    tl_list_clear(&out);
    tl_tensor_release(pb);
    tl_tensor_release(xx);
    tl_tensor_release(dy);
  }
  tl_graph_release(vg);
  tl_graph_release(F);
  tl_graph_release(g);
}

static void test_while(void) {
  tl_graph *g = while_graph(-1);
  CHECK(tl_graph_validate(g) == TL_OK);
  tl_tensor *n = f32(4), *x = f32(1.5);
  tl_tensor_list out;
  tl_list_init(&out);
  CHECK(tl_graph_run(g, (tl_tensor *[]){n, x}, 2, &out) == TL_OK);
  CHECK(out.n == 2 && val(out.items[0]) == 4 && val(out.items[1]) == 1.5 * 1.5 * 1.5 * 1.5);
  tl_list_clear(&out);
  tl_graph *m = while_graph(2);
  CHECK(tl_graph_run(m, (tl_tensor *[]){n, x}, 2, &out) == TL_OK);
  CHECK(out.n == 2 && val(out.items[0]) == 2 && val(out.items[1]) == 1.5 * 1.5);
  tl_list_clear(&out);
  tl_graph_release(m);

  /* gradient of s = x^n with respect to (n, x): (0, n x^(n-1)) */
  tl_graph *F;
  tl_graph_new(&F);
  int fx, fn;
  tl_graph_add_arg(F, &F32, &fx);
  tl_graph_add_arg(F, &F32, &fn);
  int in[2] = {fn, fx}, k;
  tl_graph *c;
  tl_graph_copy(g, &c);
  if (tl_graph_add_node(F, TL_NODE_CALL, in, 2, &c, 1, (tl_meta[]){F32, F32}, 2, NULL, &k)) abort();
  int o[2] = {F->nodes[k].out0, F->nodes[k].out0 + 1};
  outputs(F, 2, o);
  tl_graph *vg = vjp_graph(F, 2);
  tl_tensor *d0 = f32(0), *d1 = f32(1);
  CHECK(tl_graph_run(vg, (tl_tensor *[]){x, n, d0, d1}, 4, &out) == TL_OK);
  CHECK(out.n == 2);
  if (out.n == 2) {
    double want = 4 * 1.5 * 1.5 * 1.5;
    CHECK(val(out.items[0]) > want - 1e-4 && val(out.items[0]) < want + 1e-4);
    CHECK(val(out.items[1]) == 0);
  }
  tl_list_clear(&out);
  /* a gradient node with the wrong arity is an error */
  vg->nodes[vg->values[vg->outputs[0]].node].arg = 9;
  CHECK(tl_graph_run(vg, (tl_tensor *[]){x, n, d0, d1}, 4, &out) == TL_INTERNAL);
  tl_graph_release(vg);
  tl_graph_release(F);
  tl_tensor_release(d0);
  tl_tensor_release(d1);
  tl_tensor_release(n);
  tl_tensor_release(x);
  tl_graph_release(g);
}

int main(void) {
  if (tl_init() != TL_OK) {
    fprintf(stderr, "tl_init failed\n");
    return 1;
  }
  test_cond();
  test_while();
  printf("%d checks, %d failures\n", checks, failures);
  return failures != 0;
}
