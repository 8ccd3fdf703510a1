/* saved_model_fixture.h — a small saved model built from C for the loader's
 * tests and fuzz target: y = relu(x @ w + b) * 2 with a trainable variable
 * w, a constant b, attributes (matmul's transpose flags, reduce_sum's axis
 * list and keepdims), source locations, and a CALL node whose subgraph
 * captures a value of the enclosing graph, a COND node with hand-built
 * branches; a second function reads the
 * same variable, so the file shares one variable between two graphs.
 * Everything goes through the tracer, as tf.trace would record it. */
#ifndef TL_SAVED_MODEL_FIXTURE_H
#define TL_SAVED_MODEL_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl.h"
#include "tl_graph.h"

/* A failing step names itself on stderr and gives up (a test helper). */
#define FX_FAIL()                                                                      \
  do {                                                                                 \
    fprintf(stderr, "fixture_model: line %d: %s\n", __LINE__, tl_last_error());       \
    return NULL;                                                                       \
  } while (0)

/* Returns a model (free with tl_saved_model_free) or NULL. */
static inline tl_saved_model *fixture_model(void) {
  float wv[6] = {0.5f, -1, 2, 0.25f, -0.5f, 1.5f}, bv[2] = {0.1f, -0.2f};
  int64_t ws[2] = {3, 2}, bs[1] = {2};
  tl_tensor *w0, *b;
  if (tl_tensor_new(TL_FLOAT32, 2, ws, &w0) || tl_tensor_new(TL_FLOAT32, 1, bs, &b)) FX_FAIL();
  memcpy(tl_tensor_data(w0), wv, sizeof wv);
  memcpy(tl_tensor_data(b), bv, sizeof bv);
  tl_variable *w;
  if (tl_variable_new(w0, true, "dense/kernel", &w)) FX_FAIL();
  tl_tensor_release(w0);

  tl_saved_model *m = calloc(1, sizeof *m);
  m->n_fns = 2;
  m->fns = calloc(2, sizeof *m->fns);
  m->n_variables = 1;
  m->variables = calloc(1, sizeof *m->variables);
  m->variables[0] = w;

  /* serving_default(x: float32[?,3]) -> y, s */
  tl_trace *tr;
  tl_meta xm = {TL_FLOAT32, 2, {-1, 3}};
  tl_tensor *x, *wr, *xw, *y, *r, *two, *s = NULL, *y2;
  if (tl_trace_begin(&tr) || tl_trace_arg(tr, &xm, &x)) FX_FAIL();
  tl_trace_set_where("model.lua:3");
  if (tl_variable_read(w, &wr)) FX_FAIL();
  tl_tensor *mm[2] = {x, wr};
  if (tl_call("matmul", 2, mm, 1, (tl_named_attr[]){TL_A_BOOL("transpose_b", false)}, &xw)) FX_FAIL();
  tl_tensor *ab[2] = {xw, b};
  if (tl_run1("add", ab, 2, &y) || tl_run1("relu", &y, 1, &r)) FX_FAIL();
  tl_trace_set_where(NULL);
  if (tl_tensor_scalar_f64(TL_FLOAT32, 2.0, &two)) FX_FAIL();
  tl_tensor *rt[2] = {r, two};
  if (tl_run1("multiply", rt, 2, &y2)) FX_FAIL();
  /* A nested trace: the subgraph captures y2 and sums it over axis 1. */
  tl_trace *inner;
  if (tl_trace_begin(&inner)) FX_FAIL();
  int64_t ax[1] = {1};
  tl_tensor *sum;
  if (tl_call("reduce_sum", 1, &y2, 2, (tl_named_attr[]){TL_A_INTS("axis", 1, ax), TL_A_BOOL("keepdims", true)}, &sum))
    FX_FAIL();
  tl_graph *sub;
  if (tl_trace_end(inner, &sum, 1, &sub)) FX_FAIL();
  tl_tensor_release(sum);
  int cin[1];
  cin[0] = sub->nodes[sub->values[sub->args[0]].node].capture;
  tl_graph *g = tl_trace_graph(tr);
  tl_meta sm = sub->values[sub->outputs[0]].meta;
  int k;
  if (tl_graph_add_node(g, TL_NODE_CALL, cin, 1, &sub, 1, &sm, 1, "model.lua:9", &k)) FX_FAIL();
  if (tl_trace_symbolic(tr, g->nodes[k].out0, &s)) FX_FAIL();
  /* A COND node: c = sum(s) > 0 ? s : -s, its branches built by hand. */
  tl_tensor *stot, *zero, *pred, *c;
  if (tl_run1("reduce_sum", &s, 1, &stot) || tl_tensor_scalar_f64(TL_FLOAT32, 0.0, &zero)) FX_FAIL();
  tl_tensor *tz[2] = {stot, zero};
  if (tl_run1("greater", tz, 2, &pred)) FX_FAIL();
  tl_graph *br[2];
  for (int b2 = 0; b2 < 2; b2++) {
    int a, o;
    if (tl_graph_new(&br[b2]) || tl_graph_add_arg(br[b2], &sm, &a)) FX_FAIL();
    o = a;
    if (b2 == 1) {
      tl_attr none[TL_MAX_ATTRS];
      memset(none, 0, sizeof none);
      if (tl_graph_add_op(br[b2], tl_op_find("negative"), &a, 1, none, &sm, 1, "model.lua:12", &o)) FX_FAIL();
    }
    if (tl_graph_set_outputs(br[b2], &o, 1)) FX_FAIL();
  }
  int pv, sv, cn;
  if (tl_trace_value(tr, pred, &pv) || tl_trace_value(tr, s, &sv)) FX_FAIL();
  int cin3[3] = {pv, sv, sv};
  if (tl_graph_add_node(g, TL_NODE_COND, cin3, 3, br, 2, &sm, 1, "model.lua:11", &cn)) FX_FAIL();
  g->nodes[cn].arg = 1;
  if (tl_trace_symbolic(tr, g->nodes[cn].out0, &c)) FX_FAIL();
  tl_tensor *outs[3] = {y2, s, c};
  tl_graph *g1;
  if (tl_trace_end(tr, outs, 3, &g1)) FX_FAIL();
  tl_tensor *rel[] = {x, wr, xw, y, r, two, s, y2, stot, zero, pred, c};
  for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) tl_tensor_release(rel[i]);
  m->fns[0].name = strdup("serving_default");
  m->fns[0].graph = g1;
  m->fns[0].arg_names = calloc(1, sizeof(char *));
  m->fns[0].arg_names[0] = strdup("x");
  m->fns[0].output_names = calloc(3, sizeof(char *));
  m->fns[0].output_names[0] = strdup("y");
  m->fns[0].output_names[1] = NULL;

  /* norm() -> sum of squares of w */
  tl_tensor *sq, *tot;
  if (tl_trace_begin(&tr) || tl_variable_read(w, &wr)) FX_FAIL();
  tl_tensor *ww[2] = {wr, wr};
  if (tl_run1("multiply", ww, 2, &sq) || tl_run1("reduce_sum", &sq, 1, &tot)) FX_FAIL();
  tl_graph *g2;
  if (tl_trace_end(tr, &tot, 1, &g2)) FX_FAIL();
  tl_tensor_release(wr);
  tl_tensor_release(sq);
  tl_tensor_release(tot);
  tl_tensor_release(b);
  m->fns[1].name = strdup("norm");
  m->fns[1].graph = g2;
  m->fns[1].arg_names = calloc(1, sizeof(char *));
  m->fns[1].output_names = calloc(1, sizeof(char *));
  return m;
}

/* The fixture's input: x = [[1,2,3],[-1,0.5,4]]. */
static inline tl_tensor *fixture_input(void) {
  float xv[6] = {1, 2, 3, -1, 0.5f, 4};
  int64_t xs[2] = {2, 3};
  tl_tensor *x;
  if (tl_tensor_new(TL_FLOAT32, 2, xs, &x)) FX_FAIL();
  memcpy(tl_tensor_data(x), xv, sizeof xv);
  return x;
}
#endif
