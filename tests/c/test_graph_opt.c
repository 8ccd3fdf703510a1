/* test_graph_opt.c — the graph optimization passes (src/graph/optimize.c)
 * without Lua: graphs traced with tl_trace_begin + tl_call (and control
 * flow nodes built by hand), optimized pass by pass; each test checks the
 * counters, the node counts, that the graph still validates, and that its
 * results equal those of an unoptimized copy. Stateful and random ops are
 * never folded, merged or dropped. */
#include "tl.h"
#include "tl_graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void die(const char *what) {
  fprintf(stderr, "%s: %s\n", what, tl_last_error());
  abort();
}

static tl_tensor *call(const char *op, int n, tl_tensor *const *in, int na, const tl_named_attr *a) {
  tl_tensor *out = NULL;
  if (tl_call(op, n, in, na, a, &out)) die(op);
  return out;
}
static tl_tensor *op1(const char *op, tl_tensor *x) { return call(op, 1, &x, 0, NULL); }
static tl_tensor *op2(const char *op, tl_tensor *x, tl_tensor *y) { return call(op, 2, (tl_tensor *[]){x, y}, 0, NULL); }

static tl_tensor *scalar(double v) {
  tl_tensor *t;
  if (tl_tensor_scalar_f64(TL_FLOAT32, v, &t)) die("scalar");
  return t;
}

static tl_tensor *filled(int rank, const int64_t *shape, double start) {
  tl_tensor *t;
  if (tl_tensor_new(TL_FLOAT32, rank, shape, &t)) die("new");
  for (int64_t i = 0; i < t->size; i++) ((float *)tl_tensor_data(t))[i] = (float)(start + 0.5 * (double)i);
  return t;
}

/* Tensors made while tracing, released when the trace ends. */
static tl_tensor *kept[256];
static int n_kept;
static tl_tensor *K(tl_tensor *t) {
  if (n_kept >= 256) abort();
  kept[n_kept++] = t;
  return t;
}
static void release_kept(void) {
  for (int i = 0; i < n_kept; i++) tl_tensor_release(kept[i]);
  n_kept = 0;
}

static tl_trace *tr;
static tl_tensor *begin(int rank, const int64_t *shape) {
  if (tl_trace_begin(&tr)) die("trace_begin");
  tl_meta m = {TL_FLOAT32, rank, {0}};
  for (int i = 0; i < rank; i++) m.shape[i] = shape[i];
  tl_tensor *x;
  if (tl_trace_arg(tr, &m, &x)) die("trace_arg");
  return K(x);
}
static tl_graph *end(int n, tl_tensor *const *outs) {
  tl_graph *g;
  if (tl_trace_end(tr, outs, n, &g)) die("trace_end");
  release_kept();
  return g;
}

static int count_op(const tl_graph *g, const char *name) {
  int c = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].kind == TL_NODE_OP && strcmp(g->nodes[i].op->name, name) == 0) c++;
  return c;
}
static int count_kind(const tl_graph *g, tl_node_kind k) {
  int c = 0;
  for (int i = 0; i < g->n_nodes; i++) c += g->nodes[i].kind == k;
  return c;
}

static bool tensors_close(tl_tensor *a, tl_tensor *b) {
  if (a->dtype != b->dtype || a->rank != b->rank || a->size != b->size) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->shape[i] != b->shape[i]) return false;
  tl_tensor *ha, *hb, *ca, *cb;
  if (tl_tensor_copy_to(a, TL_CPU, &ha) || tl_tensor_copy_to(b, TL_CPU, &hb)) die("copy");
  if (tl_tensor_contiguous(ha, &ca) || tl_tensor_contiguous(hb, &cb)) die("contiguous");
  bool ok = true;
  for (int64_t i = 0; i < a->size && ok; i++) {
    double x = tl_load_f64(ca->storage->data, ca->dtype, ca->offset + i);
    double y = tl_load_f64(cb->storage->data, cb->dtype, cb->offset + i);
    ok = fabs(x - y) <= 1e-5 * (1 + fabs(y));
  }
  tl_tensor_release(ha);
  tl_tensor_release(hb);
  tl_tensor_release(ca);
  tl_tensor_release(cb);
  return ok;
}

/* Runs g and an unoptimized copy on args; their outputs must agree. */
static tl_graph *reference;
static void keep_reference(tl_graph *g) {
  tl_graph_release(reference);
  if (tl_graph_copy(g, &reference)) die("copy");
}
static bool same_results(tl_graph *g, tl_tensor *const *args, int n) {
  tl_tensor_list a, b;
  tl_list_init(&a);
  tl_list_init(&b);
  if (tl_graph_run(reference, args, n, &a)) die("run reference");
  if (tl_graph_run(g, args, n, &b)) die("run optimized");
  bool ok = a.n == b.n;
  for (int i = 0; i < a.n && ok; i++) ok = tensors_close(a.items[i], b.items[i]);
  tl_list_clear(&a);
  tl_list_clear(&b);
  return ok;
}

static tl_status optimize(tl_graph *g, unsigned passes) {
  tl_status s = tl_graph_optimize(g, passes);
  CHECK(s == TL_OK);
  CHECK(tl_graph_validate(g) == TL_OK);
  return s;
}

static const int64_t S23[2] = {2, 3};
static const int64_t I01[2] = {0, 1}, I11[2] = {1, 1}, I00[2] = {0, 0}, IM13[2] = {-1, 3}, I32[2] = {3, 2};

/* ---- DCE ---------------------------------------------------------------- */

static void test_dce(void) {
  tl_variable *v;
  tl_tensor *init = filled(2, S23, 0);
  if (tl_variable_new(init, true, "v", &v)) die("variable");
  tl_tensor_release(init);
  tl_tensor *x = begin(2, S23);
  tl_tensor *dead = K(op1("exp", K(op2("multiply", x, K(scalar(3))))));
  (void)dead;
  tl_tensor_list none;
  tl_list_init(&none);
  if (tl_call_list("assign_add", 2, (tl_tensor *[]){v->handle, x}, 0, NULL, &none)) die("assign_add");
  tl_list_clear(&none);
  K(call("random_uniform", 0, NULL, 1, (tl_named_attr[]){TL_A_INTS("shape", 2, S23)})); /* unused, random */
  tl_tensor *y = K(op2("add", x, x));
  tl_graph *g = end(1, &y);
  int before = g->n_nodes;
  CHECK(count_op(g, "exp") == 1);
  keep_reference(g);
  optimize(g, TL_OPT_DCE);
  CHECK(g->stats.dce_removed == 3); /* exp, multiply, the constant 3 */
  CHECK(g->n_nodes == before - 3);
  CHECK(g->stats.nodes_before == before && g->stats.nodes_after == g->n_nodes);
  CHECK(count_op(g, "exp") == 0);
  CHECK(count_op(g, "assign_add") == 1);
  CHECK(count_op(g, "random_uniform") == 1);
  CHECK(count_kind(g, TL_NODE_CONST) == 1); /* the variable */
  /* Running it still adds to the variable (both graphs run: twice). */
  tl_tensor *a = filled(2, S23, 1);
  CHECK(same_results(g, &a, 1));
  CHECK(fabs(((float *)tl_tensor_data(v->value))[0] - 2.0) < 1e-6);
  /* Idempotent. */
  optimize(g, TL_OPT_ALL);
  CHECK(g->stats.dce_removed == 3);
  tl_tensor_release(a);
  tl_graph_release(g);
  tl_variable_release(v);
}

/* ---- CSE ---------------------------------------------------------------- */

static void test_cse(void) {
  tl_variable *v;
  tl_tensor *init = filled(2, S23, 0);
  if (tl_variable_new(init, true, "w", &v)) die("variable");
  tl_tensor_release(init);
  tl_tensor *x = begin(2, S23);
  /* Two x*2 with distinct constant tensors, two exps with equal attrs. */
  tl_tensor *a = K(op2("multiply", x, K(scalar(2))));
  tl_tensor *b = K(op2("multiply", x, K(scalar(2))));
  tl_tensor *c = K(op2("multiply", x, K(scalar(-0.0)))); /* -0 is not 0 */
  tl_tensor *d = K(op2("multiply", x, K(scalar(0.0))));
  tl_named_attr ax1[] = {TL_A_INTS("axis", 1, (int64_t[]){1})}, ax0[] = {TL_A_INTS("axis", 1, (int64_t[]){0})};
  tl_tensor *r1 = K(call("reduce_sum", 1, &x, 1, ax1)), *r2 = K(call("reduce_sum", 1, &x, 1, ax1));
  tl_tensor *r3 = K(call("reduce_sum", 1, &x, 1, ax0)); /* other attrs: kept */
  /* Variable reads: merged until a write, not across it. */
  tl_tensor *v1 = K(op1("read_variable", v->handle)), *v2 = K(op1("read_variable", v->handle));
  tl_tensor_list none;
  tl_list_init(&none);
  if (tl_call_list("assign_add", 2, (tl_tensor *[]){v->handle, x}, 0, NULL, &none)) die("assign_add");
  tl_list_clear(&none);
  tl_tensor *v3 = K(op1("read_variable", v->handle));
  /* Random ops with equal attributes are two draws. */
  tl_named_attr sh[] = {TL_A_INTS("shape", 2, S23)};
  tl_tensor *u1 = K(call("random_uniform", 0, NULL, 1, sh)), *u2 = K(call("random_uniform", 0, NULL, 1, sh));
  tl_tensor *outs[] = {a, b, c, d, r1, r2, r3, v1, v2, v3, u1, u2};
  tl_graph *g = end(12, outs);
  CHECK(count_op(g, "read_variable") == 3);
  optimize(g, TL_OPT_CSE);
  /* constants: 2 twice -> 1, 0 stays apart from -0, the variable's handle
   * shared by all reads already; ops: x*2, reduce_sum axis 1, one read. */
  CHECK(g->stats.cse_merged == 4);
  CHECK(g->outputs[0] == g->outputs[1]);
  CHECK(g->outputs[2] != g->outputs[3]);
  CHECK(g->outputs[4] == g->outputs[5]);
  CHECK(g->outputs[4] != g->outputs[6]);
  CHECK(g->outputs[7] == g->outputs[8]);
  CHECK(g->outputs[8] != g->outputs[9]);
  CHECK(g->outputs[10] != g->outputs[11]);
  CHECK(count_op(g, "read_variable") == 2);
  CHECK(count_op(g, "random_uniform") == 2);
  CHECK(count_op(g, "assign_add") == 1);
  CHECK(g->stats.folded == 0 && g->stats.dce_removed == 0 && g->stats.simplified == 0);
  /* Run: the second read sees the write. */
  tl_tensor *arg1 = filled(2, S23, 1);
  tl_tensor_list res;
  tl_list_init(&res);
  if (tl_graph_run(g, &arg1, 1, &res)) die("run");
  CHECK(res.n == 12);
  if (res.n == 12) {
    float r7 = ((float *)tl_tensor_data(res.items[7]))[0], r9 = ((float *)tl_tensor_data(res.items[9]))[0];
    CHECK(fabs(r7 - 0.0) < 1e-6 && fabs(r9 - 1.0) < 1e-6);
    CHECK(!tensors_close(res.items[10], res.items[11]));
    CHECK(signbit(((float *)tl_tensor_data(res.items[2]))[0]) && !signbit(((float *)tl_tensor_data(res.items[3]))[0]));
  }
  tl_list_clear(&res);
  tl_tensor_release(arg1);
  tl_graph_release(g);
  tl_variable_release(v);
}

/* ---- constant folding ------------------------------------------------------ */

static void test_fold(void) {
  tl_variable *v;
  tl_tensor *init = filled(2, S23, 0);
  if (tl_variable_new(init, true, "f", &v)) die("variable");
  tl_tensor_release(init);
  tl_tensor *x = begin(2, S23);
  tl_tensor *c = K(filled(2, S23, 1));
  tl_tensor *folded = K(op1("exp", K(op2("multiply", c, K(scalar(0.5))))));
  tl_tensor *y = K(op2("add", x, folded));
  /* More than 1 MiB: stays computed. */
  int64_t big_shape[1] = {300000};
  tl_tensor *big = K(filled(1, big_shape, 0));
  tl_tensor *big2 = K(op2("multiply", big, K(scalar(2))));
  tl_tensor *bs = K(call("reduce_sum", 1, &big2, 0, NULL));
  /* Random and stateful ops on constants: never folded. */
  tl_tensor *sh = K(op1("random_shuffle", c));
  tl_tensor *rd = K(op1("read_variable", v->handle));
  /* Multi-output op: split into two constants. */
  tl_tensor_list parts;
  tl_list_init(&parts);
  if (tl_call_list("split", 1, &c, 2, (tl_named_attr[]){TL_A_INTS("num_or_size_splits", 1, (int64_t[]){2}), TL_A_INT("axis", 0)},
                   &parts))
    die("split");
  tl_tensor *p0 = K(parts.items[0]), *p1 = K(parts.items[1]);
  parts.n = 0;
  tl_list_clear(&parts);
  tl_tensor *outs[] = {y, bs, sh, rd, p0, p1};
  tl_graph *g = end(6, outs);
  keep_reference(g);
  CHECK(count_op(g, "split") == 1);
  optimize(g, TL_OPT_FOLD);
  CHECK(g->stats.folded == 3); /* multiply, exp, split */
  CHECK(count_op(g, "exp") == 0);
  CHECK(count_op(g, "split") == 0);
  CHECK(count_op(g, "random_shuffle") == 1);
  CHECK(count_op(g, "read_variable") == 1);
  CHECK(count_op(g, "multiply") == 1); /* big * 2: 1.2 MB */
  CHECK(g->stats.cse_merged == 0 && g->stats.dce_removed == 0);
  tl_tensor *a = filled(2, S23, 1);
  tl_tensor_list r1, r2;
  tl_list_init(&r1);
  tl_list_init(&r2);
  if (tl_graph_run(reference, &a, 1, &r1) || tl_graph_run(g, &a, 1, &r2)) die("run");
  for (int i = 0; i < 6; i++)
    if (i != 2) CHECK(tensors_close(r1.items[i], r2.items[i]));
  tl_list_clear(&r1);
  tl_list_clear(&r2);
  tl_tensor_release(a);
  /* With DCE the dead inputs of folded nodes go too. */
  optimize(g, TL_OPT_DCE);
  CHECK(g->stats.dce_removed == 2); /* the constant 0.5, the folded c * 0.5 */
  tl_graph_release(g);
  tl_variable_release(v);
}

/* A failing op on constants is left to fail at run time, with its message. */
static void test_fold_error(void) {
  /* matmul of two incompatible constants, added by hand (the tracer
   * would reject it). */
  tl_graph *h;
  if (tl_graph_new(&h)) die("graph");
  tl_tensor *m = filled(2, S23, 0);
  int cv;
  if (tl_graph_add_const(h, m, &cv)) die("const");
  tl_meta om = {TL_FLOAT32, 2, {2, 2}};
  int ov;
  tl_attr at[TL_MAX_ATTRS];
  tl_attrs_defaults(tl_op_find("matmul"), at);
  if (tl_graph_add_op(h, tl_op_find("matmul"), (int[]){cv, cv}, 2, at, &om, 1, "here.lua:3", &ov)) die("add_op");
  if (tl_graph_set_outputs(h, &ov, 1)) die("outputs");
  optimize(h, TL_OPT_ALL);
  CHECK(h->stats.folded == 0);
  CHECK(count_op(h, "matmul") == 1);
  tl_tensor_list r;
  tl_list_init(&r);
  CHECK(tl_graph_run(h, NULL, 0, &r) != TL_OK);
  CHECK(strstr(tl_last_error(), "here.lua:3") != NULL);
  tl_tensor_release(m);
  tl_graph_release(h);
}

/* ---- no-op views and casts ---------------------------------------------------- */

static void test_noop(void) {
  tl_tensor *x = begin(2, S23);
  tl_tensor *a = K(call("cast", 1, &x, 1, (tl_named_attr[]){TL_A_DTYPE("dtype", TL_FLOAT32)}));
  a = K(call("reshape", 1, &a, 1, (tl_named_attr[]){TL_A_INTS("shape", 2, S23)}));
  a = K(op1("identity", a));
  a = K(call("transpose", 1, &a, 1, (tl_named_attr[]){TL_A_INTS("perm", 2, I01)}));
  a = K(call("broadcast_to", 1, &a, 1, (tl_named_attr[]){TL_A_INTS("shape", 2, S23)}));
  a = K(call("tile", 1, &a, 1, (tl_named_attr[]){TL_A_INTS("multiples", 2, I11)}));
  a = K(call("slice", 1, &a, 2,
             (tl_named_attr[]){TL_A_INTS("begin", 2, I00), TL_A_INTS("size", 2, IM13)}));
  tl_tensor *e = K(call("expand_dims", 1, &a, 1, (tl_named_attr[]){TL_A_INT("axis", 0)}));
  a = K(call("squeeze", 1, &e, 1, (tl_named_attr[]){TL_A_INTS("axis", 1, (int64_t[]){0})}));
  tl_tensor *y = K(op1("exp", a));
  /* Not no-ops: a real cast, a real transpose, a real reshape. */
  tl_tensor *c64 = K(call("cast", 1, &x, 1, (tl_named_attr[]){TL_A_DTYPE("dtype", TL_FLOAT64)}));
  tl_tensor *t = K(call("transpose", 1, &x, 0, NULL));
  tl_tensor *r = K(call("reshape", 1, &x, 1, (tl_named_attr[]){TL_A_INTS("shape", 2, I32)}));
  tl_tensor *outs[] = {y, c64, t, r};
  tl_graph *g = end(4, outs);
  keep_reference(g);
  int before = g->n_nodes;
  optimize(g, TL_OPT_NOOP);
  CHECK(g->stats.noops_removed == 8); /* expand_dims stays (dead without DCE); squeeze goes to a */
  CHECK(g->n_nodes == before - 8);
  CHECK(count_op(g, "cast") == 1 && count_op(g, "transpose") == 1 && count_op(g, "reshape") == 1);
  CHECK(count_op(g, "identity") == 0 && count_op(g, "tile") == 0 && count_op(g, "slice") == 0);
  CHECK(count_op(g, "squeeze") == 0);
  /* exp reads the argument directly now. */
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].kind == TL_NODE_OP && strcmp(g->nodes[i].op->name, "exp") == 0) CHECK(g->nodes[i].in[0] == g->args[0]);
  tl_tensor *arg1 = filled(2, S23, -1);
  CHECK(same_results(g, &arg1, 1));
  optimize(g, TL_OPT_DCE);
  CHECK(count_op(g, "expand_dims") == 0);
  tl_tensor_release(arg1);
  tl_graph_release(g);
}

/* Unknown dimensions: reshape to the same meta with one unknown dimension
 * is a no-op; squeeze of an unknown dimension is not. */
static void test_noop_dynamic(void) {
  int64_t dyn[2] = {-1, 3};
  tl_tensor *x = begin(2, dyn);
  tl_tensor *r = K(call("reshape", 1, &x, 1, (tl_named_attr[]){TL_A_INTS("shape", 2, IM13)}));
  tl_tensor *y = K(op1("exp", r));
  tl_tensor *outs[] = {y};
  tl_graph *g = end(1, outs);
  keep_reference(g);
  optimize(g, TL_OPT_NOOP | TL_OPT_DCE);
  CHECK(g->stats.noops_removed == 1);
  CHECK(count_op(g, "reshape") == 0);
  int64_t s43[2] = {4, 3};
  tl_tensor *a = filled(2, s43, 0);
  CHECK(same_results(g, &a, 1));
  tl_tensor_release(a);
  tl_graph_release(g);
}

/* ---- algebraic simplification ---------------------------------------------------- */

static void test_simplify(void) {
  tl_tensor *x = begin(2, S23);
  tl_tensor *one = K(scalar(1)), *zero = K(scalar(0));
  tl_tensor *a = K(op2("multiply", x, one));
  a = K(op2("multiply", one, a));
  a = K(op2("add", a, zero));
  a = K(op2("add", zero, a));
  a = K(op2("subtract", a, zero));
  a = K(op2("divide", a, one));
  a = K(op2("pow", a, one));
  a = K(op1("negative", K(op1("negative", a))));
  tl_tensor *t = K(call("transpose", 1, &a, 0, NULL));
  a = K(call("transpose", 1, &t, 0, NULL));
  tl_tensor *y = K(op1("exp", a));
  /* Kept: broadcasting grows x; 0 - x; x * 2; a row of ones of x's width. */
  int64_t s43[3] = {4, 2, 3};
  tl_tensor *ones3 = K(filled(3, s43, 0));
  tl_tensor *grow = K(op2("multiply", x, K(op2("multiply", ones3, zero))));
  tl_tensor *sub0 = K(op2("subtract", zero, x));
  int64_t s13[2] = {1, 3};
  tl_tensor *row = K(op2("add", K(op2("multiply", K(filled(2, s13, 0)), zero)), one)); /* folds to ones [1,3] */
  tl_tensor *rowmul = K(op2("multiply", x, row));
  tl_tensor *outs[] = {y, grow, sub0, rowmul};
  tl_graph *g = end(4, outs);
  keep_reference(g);
  optimize(g, TL_OPT_SIMPLIFY);
  CHECK(g->stats.simplified == 9); /* 7 binary, the negative pair, the transpose pair */
  CHECK(count_op(g, "negative") == 1); /* the inner one: dead, left for DCE */
  CHECK(count_op(g, "subtract") == 1 && count_op(g, "divide") == 0 && count_op(g, "pow") == 0);
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].kind == TL_NODE_OP && strcmp(g->nodes[i].op->name, "exp") == 0) CHECK(g->nodes[i].in[0] == g->args[0]);
  CHECK(g->stats.folded == 0);
  tl_tensor *arg1 = filled(2, S23, -1);
  CHECK(same_results(g, &arg1, 1));
  /* With folding the row of ones becomes a constant and x * row goes. */
  optimize(g, TL_OPT_FOLD | TL_OPT_SIMPLIFY | TL_OPT_DCE);
  CHECK(g->stats.simplified == 10);
  CHECK(g->stats.folded >= 2);
  CHECK(same_results(g, &arg1, 1));
  CHECK(g->outputs[3] == g->args[0]);
  tl_tensor_release(arg1);
  tl_graph_release(g);
}

/* A graph whose metas say less than the tracer's (a loaded file, a
 * generalized signature): x[?,3] * ones[2,3] may grow x, so it stays. */
static void test_simplify_unknown_dims(void) {
  tl_graph *g;
  if (tl_graph_new(&g)) die("graph");
  tl_meta xm = {TL_FLOAT32, 2, {-1, 3}};
  int x, c, y, z;
  tl_tensor *ones = filled(2, S23, 1), *one_row;
  for (int i = 0; i < 6; i++) ((float *)tl_tensor_data(ones))[i] = 1;
  int64_t s13[2] = {1, 3};
  one_row = filled(2, s13, 1);
  for (int i = 0; i < 3; i++) ((float *)tl_tensor_data(one_row))[i] = 1;
  tl_attr none[TL_MAX_ATTRS] = {{0}};
  if (tl_graph_add_arg(g, &xm, &x) || tl_graph_add_const(g, ones, &c)) die("nodes");
  if (tl_graph_add_op(g, tl_op_find("multiply"), (int[]){x, c}, 2, none, &xm, 1, NULL, &y)) die("multiply");
  if (tl_graph_add_const(g, one_row, &c)) die("const");
  if (tl_graph_add_op(g, tl_op_find("multiply"), (int[]){x, c}, 2, none, &xm, 1, NULL, &z)) die("multiply");
  if (tl_graph_set_outputs(g, (int[]){y, z}, 2)) die("outputs");
  optimize(g, TL_OPT_SIMPLIFY);
  CHECK(g->stats.simplified == 1); /* x * ones[1,3] only */
  CHECK(count_op(g, "multiply") == 1);
  CHECK(g->outputs[1] == g->args[0]);
  tl_tensor_release(ones);
  tl_tensor_release(one_row);
  tl_graph_release(g);
}

/* Attributes of the wrong type or with a list but no storage (what a
 * hostile file could hold) leave the node alone instead of crashing. */
static void test_insane_attrs(void) {
  tl_graph *g;
  if (tl_graph_new(&g)) die("graph");
  tl_meta xm = {TL_FLOAT32, 2, {2, 3}};
  int x, y, z;
  if (tl_graph_add_arg(g, &xm, &x)) die("arg");
  const tl_op_def *tp = tl_op_find("transpose"), *rs = tl_op_find("reduce_sum");
  tl_attr at[TL_MAX_ATTRS] = {{0}};
  at[0] = (tl_attr){.present = true, .type = TL_ATTR_INT, .i = 3}; /* perm is ints */
  if (tl_graph_add_op(g, tp, &x, 1, at, &xm, 1, NULL, &y)) die("transpose");
  if (tl_graph_add_op(g, tp, &x, 1, at, &xm, 1, NULL, &z)) die("transpose");
  int n = g->n_nodes;
  /* A list that claims elements it does not have (set after the copy). */
  tl_attrs_defaults(rs, at);
  int w;
  tl_meta sm = {TL_FLOAT32, 0, {0}};
  if (tl_graph_add_op(g, rs, &x, 1, at, &sm, 1, NULL, &w)) die("reduce_sum");
  tl_attr *ax = &g->nodes[n].attr[tl_attr_index(rs, "axis")];
  ax->present = true;
  ax->type = TL_ATTR_INTS;
  ax->n = 1000;
  free(ax->ints);
  ax->ints = NULL;
  if (tl_graph_set_outputs(g, (int[]){y, z, w}, 3)) die("outputs");
  CHECK(tl_graph_optimize(g, TL_OPT_ALL) == TL_OK);
  CHECK(count_op(g, "transpose") == 2 && count_op(g, "reduce_sum") == 1);
  CHECK(g->stats.cse_merged == 0 && g->stats.noops_removed == 0);
  ax = &g->nodes[g->values[g->outputs[2]].node].attr[tl_attr_index(rs, "axis")];
  ax->n = 0; /* so that freeing the graph frees nothing it does not own */
  tl_graph_release(g);
}

/* The passes feed each other until nothing changes. */
static void test_fixpoint(void) {
  tl_tensor *x = begin(2, S23);
  tl_tensor *a = K(op2("multiply", K(op2("multiply", x, K(scalar(1)))), K(scalar(2))));
  tl_tensor *b = K(op2("multiply", x, K(scalar(2))));
  tl_tensor *c = K(op2("add", a, b));
  tl_tensor *outs[] = {c};
  tl_graph *g = end(1, outs);
  keep_reference(g);
  optimize(g, TL_OPT_ALL & ~TL_OPT_FUSE); /* the counts below are before fusion (test_fuse.c) */
  CHECK(g->stats.simplified == 1 && g->stats.cse_merged >= 2);
  CHECK(count_op(g, "multiply") == 1 && count_op(g, "add") == 1);
  CHECK(g->n_nodes == 4); /* x, 2, x*2, add */
  tl_tensor *arg1 = filled(2, S23, 3);
  CHECK(same_results(g, &arg1, 1));
  tl_tensor_release(arg1);
  tl_graph_release(g);
}

/* ---- control flow ------------------------------------------------------------------ */

/* A branch: f(a) = neg(neg(a * 1)) + k (k = 0 or 1). */
static tl_graph *branch(double k, bool effect, tl_variable *v) {
  tl_tensor *a = begin(2, S23);
  tl_tensor *y = K(op1("negative", K(op1("negative", K(op2("multiply", a, K(scalar(1))))))));
  y = K(op2("add", y, K(scalar(k))));
  if (effect) {
    tl_tensor_list none;
    tl_list_init(&none);
    if (tl_call_list("assign_add", 2, (tl_tensor *[]){v->handle, a}, 0, NULL, &none)) die("assign_add");
    tl_list_clear(&none);
  }
  return end(1, &y);
}

static void test_control_flow(void) {
  tl_variable *v;
  tl_tensor *init = filled(2, S23, 0);
  if (tl_variable_new(init, true, "cf", &v)) die("variable");
  tl_tensor_release(init);
  tl_graph *g;
  if (tl_graph_new(&g)) die("graph");
  tl_meta bm = {TL_BOOL, 0, {0}}, xm = {TL_FLOAT32, 2, {2, 3}};
  int p, x;
  if (tl_graph_add_arg(g, &bm, &p) || tl_graph_add_arg(g, &xm, &x)) die("args");
  /* A pure unused cond (dropped by DCE), a cond with a write (kept), and
   * the one whose result is returned. */
  int idx;
  tl_graph *subs[2] = {branch(0, false, v), branch(1, false, v)};
  if (tl_graph_add_node(g, TL_NODE_COND, (int[]){p, x, x}, 3, subs, 2, &xm, 1, NULL, &idx)) die("cond");
  g->nodes[idx].arg = 1;
  tl_graph *subs2[2] = {branch(0, true, v), branch(1, false, v)};
  if (tl_graph_add_node(g, TL_NODE_COND, (int[]){p, x, x}, 3, subs2, 2, &xm, 1, NULL, &idx)) die("cond");
  g->nodes[idx].arg = 1;
  tl_graph *subs3[2] = {branch(0, false, v), branch(1, false, v)};
  if (tl_graph_add_node(g, TL_NODE_COND, (int[]){p, x, x}, 3, subs3, 2, &xm, 1, NULL, &idx)) die("cond");
  g->nodes[idx].arg = 1;
  int out = g->nodes[idx].out0;
  /* A graph shared with another holder is copied before it changes. */
  tl_graph *shared = tl_graph_retain(g->nodes[idx].sub[0]);
  int shared_nodes = shared->n_nodes;
  if (tl_graph_set_outputs(g, &out, 1)) die("outputs");
  CHECK(tl_graph_validate(g) == TL_OK);
  keep_reference(g);
  optimize(g, TL_OPT_ALL);
  CHECK(count_kind(g, TL_NODE_COND) == 2);
  CHECK(g->stats.dce_removed >= 1);
  CHECK(g->stats.simplified == 15); /* x*1 and the negative pair in 6 branches, +0 in 3 */
  CHECK(shared->n_nodes == shared_nodes);
  const tl_gnode *c = &g->nodes[g->values[g->outputs[0]].node];
  CHECK(c->kind == TL_NODE_COND && c->sub[0] != shared);
  CHECK(c->sub[0]->n_nodes == 1 && c->sub[0]->outputs[0] == c->sub[0]->args[0]); /* a -> a */
  for (int pv = 0; pv < 2; pv++) {
    tl_tensor *pt, *xt = filled(2, S23, 1);
    if (tl_tensor_scalar_i64(TL_BOOL, pv, &pt)) die("bool");
    CHECK(same_results(g, (tl_tensor *[]){pt, xt}, 2));
    tl_tensor_release(pt);
    tl_tensor_release(xt);
  }
  /* The write ran twice per true call (reference and optimized): 2 * 1. */
  CHECK(fabs(((float *)tl_tensor_data(v->value))[0] - 2.0) < 1e-6);
  tl_graph_release(shared);
  tl_graph_release(g);
  tl_variable_release(v);
}

/* A capture ARG of a subgraph names a value of the enclosing graph: it is
 * renumbered when that graph's values are. */
static void test_capture_renumbered(void) {
  tl_graph *g;
  if (tl_graph_new(&g)) die("graph");
  tl_meta bm = {TL_BOOL, 0, {0}}, xm = {TL_FLOAT32, 2, {2, 3}};
  int p, x;
  if (tl_graph_add_arg(g, &bm, &p) || tl_graph_add_arg(g, &xm, &x)) die("args");
  /* dead code first, so that the captured value's id changes */
  tl_tensor *c = filled(2, S23, 0);
  int cv, dv, yv;
  if (tl_graph_add_const(g, c, &cv)) die("const");
  tl_attr at[TL_MAX_ATTRS] = {{0}};
  if (tl_graph_add_op(g, tl_op_find("exp"), &cv, 1, at, &xm, 1, NULL, &dv)) die("exp");
  if (tl_graph_add_op(g, tl_op_find("exp"), &x, 1, at, &xm, 1, NULL, &yv)) die("exp");
  tl_graph *subs[2] = {branch(0, false, NULL), branch(1, false, NULL)};
  for (int k = 0; k < 2; k++) subs[k]->nodes[subs[k]->values[subs[k]->args[0]].node].capture = yv;
  int idx;
  if (tl_graph_add_node(g, TL_NODE_COND, (int[]){p, yv, yv}, 3, subs, 2, &xm, 1, NULL, &idx)) die("cond");
  g->nodes[idx].arg = 1;
  int out = g->nodes[idx].out0;
  if (tl_graph_set_outputs(g, &out, 1)) die("outputs");
  optimize(g, TL_OPT_DCE);
  CHECK(g->stats.dce_removed == 2);
  const tl_gnode *cn = &g->nodes[g->values[g->outputs[0]].node];
  for (int k = 0; k < 2; k++) {
    int cap = cn->sub[k]->nodes[cn->sub[k]->values[cn->sub[k]->args[0]].node].capture;
    CHECK(cap == cn->in[1]);
    CHECK(cap >= 0 && cap < g->n_values && strcmp(g->nodes[g->values[cap].node].op->name, "exp") == 0);
  }
  tl_tensor_release(c);
  tl_graph_release(g);
}

/* Optimizing while an enclosing trace records still folds (ops run). */
static void test_fold_inside_trace(void) {
  tl_tensor *x = begin(2, S23);
  tl_tensor *y = K(op2("add", x, K(op2("multiply", K(scalar(2)), K(scalar(3))))));
  tl_graph *g = end(1, &y);
  tl_trace *outer;
  if (tl_trace_begin(&outer)) die("trace");
  CHECK(tl_graph_optimize(g, TL_OPT_FOLD) == TL_OK);
  CHECK(tl_trace_graph(outer)->n_nodes == 0);
  tl_trace_abort(outer);
  CHECK(g->stats.folded == 1);
  tl_graph_release(g);
}

/* The test device: constants on it are read and folded through copies,
 * and the optimized graph runs there. */
static void test_device_graph(void) {
  tl_tensor *cpu_c = filled(2, S23, 1), *c, *one, *cpu_one = scalar(1);
  if (tl_call("copy_to_device", 1, &cpu_c, 1, (tl_named_attr[]){TL_A_STRING("device", "TEST:0")}, &c)) die("copy");
  if (tl_call("copy_to_device", 1, &cpu_one, 1, (tl_named_attr[]){TL_A_STRING("device", "TEST:0")}, &one)) die("copy");
  tl_tensor_release(cpu_c);
  tl_tensor_release(cpu_one);
  tl_device saved = tl_default_device();
  tl_set_default_device(TL_TEST);
  tl_tensor *x = begin(2, S23);
  K(c);
  K(one);
  tl_tensor *y = K(op2("multiply", K(op2("add", x, K(op1("exp", c)))), one));
  tl_graph *g = end(1, &y);
  tl_set_default_device(saved);
  keep_reference(g);
  optimize(g, TL_OPT_ALL);
  CHECK(g->stats.folded == 1 && g->stats.simplified == 1);
  CHECK(count_op(g, "exp") == 0 && count_op(g, "multiply") == 0);
  tl_tensor *a = filled(2, S23, 2), *at;
  if (tl_call("copy_to_device", 1, &a, 1, (tl_named_attr[]){TL_A_STRING("device", "TEST:0")}, &at)) die("copy");
  CHECK(same_results(g, &at, 1));
  tl_tensor_release(a);
  tl_tensor_release(at);
  tl_graph_release(g);
}

int main(void) {
  if (tl_init()) {
    fprintf(stderr, "init: %s\n", tl_last_error());
    return 1;
  }
  test_dce();
  test_cse();
  test_fold();
  test_fold_error();
  test_noop();
  test_noop_dynamic();
  test_simplify();
  test_simplify_unknown_dims();
  test_insane_attrs();
  test_fixpoint();
  test_control_flow();
  test_capture_renumbered();
  test_fold_inside_trace();
  test_device_graph();
  tl_graph_release(reference);
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
