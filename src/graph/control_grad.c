/* control_grad.c — control-flow nodes in a trace, and their gradients.
 *
 * tlg_control_emit adds a COND / WHILE / CALL node to the innermost trace
 * (what tf.cond and tf.while_loop do once their branches or body are
 * traced, and what the executor does with a control node of a graph run
 * inside a trace). The tape never sees such a node as an op, so when a
 * tape records, the node is recorded with a custom backward: it adds a
 * vector-Jacobian product node (a CALL with iparam TL_CALL_VJP over a
 * graph F holding a copy of the node) to the trace the gradient is being
 * computed in. At run time that node recomputes F under a fresh tape and
 * walks it back (tlg_run_vjp): generic (a while loop of any trip count,
 * nested control flow, variables read inside) at the price of running the
 * forward twice; F must therefore be free of state changes and random ops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/control.h"
#include "graph/graph_internal.h"

static bool is_float(tl_dtype d) {
  return tl_dtypes[d].kind == TL_KIND_FLOAT || tl_dtypes[d].kind == TL_KIND_COMPLEX;
}

/* ---- what a graph reads and does --------------------------------------- */

static tl_status collect(const tl_graph *g, tl_variable ***vars, int *n, int *cap) {
  for (int i = 0; i < g->n_nodes; i++) {
    const tl_gnode *nd = &g->nodes[i];
    tl_variable *v = nd->kind == TL_NODE_CONST ? tl_resource_peek(nd->value) : NULL;
    if (v && v->trainable && v->value && is_float(v->value->dtype)) {
      bool dup = false;
      for (int k = 0; k < *n && !dup; k++) dup = (*vars)[k] == v;
      if (!dup) {
        if (*n == *cap) {
          int c = *cap ? *cap * 2 : 8;
          tl_variable **p = realloc(*vars, sizeof *p * (size_t)c);
          if (!p) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
          *vars = p;
          *cap = c;
        }
        (*vars)[(*n)++] = tl_variable_retain(v);
      }
    }
    for (int k = 0; k < nd->n_sub; k++) {
      tl_status s = collect(nd->sub[k], vars, n, cap);
      if (s) return s;
    }
  }
  return TL_OK;
}

tl_status tlg_graph_variables(const tl_graph *g, tl_variable ***vars, int *n) {
  int cap = 0;
  *vars = NULL;
  *n = 0;
  tl_status s = collect(g, vars, n, &cap);
  if (s) {
    tlg_free_variables(*vars, *n);
    *vars = NULL;
    *n = 0;
  }
  return s;
}

void tlg_free_variables(tl_variable **vars, int n) {
  for (int i = 0; i < n; i++) tl_variable_release(vars[i]);
  free(vars);
}

const tl_op_def *tlg_graph_effect(const tl_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    const tl_gnode *nd = &g->nodes[i];
    if (nd->kind == TL_NODE_OP && (nd->op->flags & (TL_OP_STATEFUL | TL_OP_RANDOM))) return nd->op;
    for (int k = 0; k < nd->n_sub; k++) {
      const tl_op_def *op = tlg_graph_effect(nd->sub[k]);
      if (op) return op;
    }
  }
  return NULL;
}

/* ---- the graph a gradient recomputes ------------------------------------ */

/* A copy of g without the nodes nothing reads: state changes whose results
 * are unused (a counter or metric update in a loop body) are not repeated
 * by the recompute. Arguments keep their positions. */
static tl_status prune(const tl_graph *g, tl_graph **out);

static tl_status prune_into(const tl_graph *g, tl_graph *c, bool *live, int *vmap) {
  tl_status s = TL_OK;
  for (int i = 0; i < g->n_outputs; i++) live[g->values[g->outputs[i]].node] = true;
  for (int i = g->n_nodes - 1; i >= 0; i--) {
    const tl_gnode *n = &g->nodes[i];
    if (!live[i]) continue;
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] >= 0) live[g->values[n->in[k]].node] = true;
  }
  for (int p = 0; p < g->n_args && !s; p++) {
    const tl_gnode *n = &g->nodes[g->values[g->args[p]].node];
    int v;
    if (!(s = tl_graph_add_arg(c, &g->values[n->out0].meta, &v))) {
      c->nodes[c->values[v].node].capture = n->capture;
      vmap[n->out0] = v;
    }
  }
  int small[16], *in = small, cap_in = 16;
  tl_meta msmall[8], *metas = msmall;
  int cap_m = 8;
  for (int i = 0; i < g->n_nodes && !s; i++) {
    const tl_gnode *n = &g->nodes[i];
    if (!live[i] || n->kind == TL_NODE_ARG) continue;
    if (n->n_in > cap_in) {
      int *bigger = malloc(sizeof(int) * (size_t)n->n_in);
      if (!bigger) { s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory"); break; }
      if (in != small) free(in);
      in = bigger;
      cap_in = n->n_in;
    }
    if (n->n_out > cap_m) {
      tl_meta *bigger = malloc(sizeof *bigger * (size_t)n->n_out);
      if (!bigger) { s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory"); break; }
      if (metas != msmall) free(metas);
      metas = bigger;
      cap_m = n->n_out;
    }
    for (int k = 0; k < n->n_in; k++) in[k] = n->in[k] >= 0 ? vmap[n->in[k]] : -1;
    for (int k = 0; k < n->n_out; k++) metas[k] = g->values[n->out0 + k].meta;
    int first = -1;
    if (n->kind == TL_NODE_CONST) {
      s = tl_graph_add_const(c, n->value, &first);
    } else if (n->kind == TL_NODE_OP) {
      s = tl_graph_add_op(c, n->op, in, n->n_in, n->attr, metas, n->n_out, n->where, &first);
    } else {
      tl_graph *subs[8] = {0};
      if (n->n_sub > 8) s = tl_error(TL_INTERNAL, "control node with %d subgraphs", n->n_sub);
      for (int k = 0; k < n->n_sub && !s; k++) s = prune(n->sub[k], &subs[k]);
      int idx = -1;
      if (!s) s = tl_graph_add_node(c, n->kind, in, n->n_in, subs, n->n_sub, metas, n->n_out, n->where, &idx);
      if (s) {
        for (int k = 0; k < n->n_sub; k++) tl_graph_release(subs[k]);
      } else {
        c->nodes[idx].arg = n->arg;
        c->nodes[idx].iparam = n->iparam;
        first = c->nodes[idx].out0;
      }
    }
    for (int k = 0; k < n->n_out && !s; k++) vmap[n->out0 + k] = first + k;
  }
  if (in != small) free(in);
  if (metas != msmall) free(metas);
  if (s) return s;
  int *ov = malloc(sizeof(int) * (size_t)(g->n_outputs + 1));
  if (!ov) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int i = 0; i < g->n_outputs; i++) ov[i] = vmap[g->outputs[i]];
  s = tl_graph_set_outputs(c, ov, g->n_outputs);
  free(ov);
  return s;
}

static tl_status prune(const tl_graph *g, tl_graph **out) {
  tl_graph *c;
  tl_status s = tl_graph_new(&c);
  if (s) return s;
  bool *live = calloc((size_t)g->n_nodes + 1, sizeof *live);
  int *vmap = malloc(sizeof(int) * (size_t)(g->n_values + 1));
  s = live && vmap ? prune_into(g, c, live, vmap) : tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  free(live);
  free(vmap);
  if (s) {
    tl_graph_release(c);
    return s;
  }
  *out = c;
  return TL_OK;
}

/* Whether g (or a subgraph) writes variable v: a stateful op with v's
 * handle among its inputs. */
static bool writes(const tl_graph *g, const tl_variable *v) {
  for (int i = 0; i < g->n_nodes; i++) {
    const tl_gnode *n = &g->nodes[i];
    if (n->kind == TL_NODE_OP && (n->op->flags & TL_OP_STATEFUL))
      for (int k = 0; k < n->n_in; k++) {
        int in = n->in[k];
        if (in < 0) continue;
        const tl_gnode *src = &g->nodes[g->values[in].node];
        if (src->kind == TL_NODE_CONST && tl_resource_peek(src->value) == v) return true;
      }
    for (int k = 0; k < n->n_sub; k++)
      if (writes(n->sub[k], v)) return true;
  }
  return false;
}

static const char *what_of(tl_node_kind kind, int64_t iparam) {
  switch (kind) {
  case TL_NODE_COND: return "tf.cond";
  case TL_NODE_WHILE: return "tf.while_loop";
  default: return iparam == TL_CALL_VJP ? "a control-flow gradient" : "a function call";
  }
}

/* ---- the gradient at run time ------------------------------------------ */

static void release_all(tl_tensor **t, int n) {
  for (int i = 0; i < n; i++) tl_tensor_release(t[i]);
}

tl_status tlg_run_vjp(const tl_gnode *n, tl_tensor *const *ins, tl_tensor_list *out) {
  if (n->n_sub != 1) return tl_error(TL_INTERNAL, "gradient node: no forward graph");
  tl_graph *F = n->sub[0];
  int na = F->n_args, ny = F->n_outputs, nd = n->arg;
  if (n->n_in != na + ny || nd < 0 || nd > na)
    return tl_error(TL_INTERNAL, "gradient node: %d inputs for %d arguments and %d outputs", n->n_in, na, ny);
  const tl_op_def *eff = tlg_graph_effect(F);
  if (eff)
    return tl_error(TL_UNIMPLEMENTED,
                    "the gradient of control flow is computed by running it again, which would repeat '%s' "
                    "(a state change or a random draw); move it out of the branch or loop body",
                    eff->name);
  tl_variable **vars;
  int nv;
  tl_status s = tlg_graph_variables(F, &vars, &nv);
  if (s) return s;
  if (nd + nv != n->n_out) {
    tlg_free_variables(vars, nv);
    return tl_error(TL_INTERNAL, "gradient node: %d outputs for %d arguments and %d variables", n->n_out, nd, nv);
  }
  int nsrc = nd + nv;
  tl_tensor **args = calloc((size_t)(na + 1), sizeof *args);
  tl_tensor **acc = calloc((size_t)(nsrc + 1), sizeof *acc);
  tl_tensor **g = calloc((size_t)(nsrc + 1), sizeof *g);
  tl_grad_source *src = calloc((size_t)(nsrc + 1), sizeof *src);
  tl_tape *tape = NULL;
  tl_tensor_list y;
  tl_list_init(&y);
  if (!args || !acc || !g || !src) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    goto done;
  }
  /* Each differentiated argument gets its own tensor object, so that two
   * arguments given the same tensor get their own gradients. The identity
   * op makes it, so a tape outside sees the dependency (second order). */
  for (int i = 0; i < na && !s; i++) {
    tl_tensor *x = ins[i];
    if (!x) s = tl_error(TL_INTERNAL, "gradient node: argument %d is missing", i);
    else if (i < nd) s = tl_call("identity", 1, &x, 0, NULL, &args[i]);
    else args[i] = tl_tensor_retain(x);
  }
  if (s) goto done;
  if ((s = tl_tape_new(true, false, &tape))) goto done;
  for (int i = 0; i < nd && !s; i++) {
    src[i].tensor = args[i];
    if (is_float(args[i]->dtype)) s = tl_tape_watch(tape, args[i]);
  }
  for (int j = 0; j < nv && !s; j++) {
    src[nd + j].variable = vars[j];
    s = tl_tape_watch_variable(tape, vars[j]);
  }
  if (s) goto done;
  if ((s = tl_tape_start(tape))) goto done;
  s = tl_graph_run(F, args, na, &y);
  tl_tape_stop(tape);
  if (s) goto done;
  for (int i = 0; i < ny && !s; i++) {
    tl_tensor *yi = y.items[i], *dy = ins[na + i];
    if (!dy || !is_float(yi->dtype)) continue;
    if (dy->dtype != yi->dtype || !tl_tensor_same_shape(dy, yi)) {
      char a[160], b[160];
      s = tl_error(TL_INVALID_ARGUMENT, "gradient node: the gradient %s of output %d does not match it (%s)",
                   tl_tensor_describe(dy, a, sizeof a), i + 1, tl_tensor_describe(yi, b, sizeof b));
      break;
    }
    if ((s = tl_tape_gradient(tape, yi, dy, nsrc, src, false, true, g))) break;
    for (int k = 0; k < nsrc && !s; k++) {
      if (!g[k]) continue;
      if (!acc[k]) {
        acc[k] = g[k];
      } else {
        tl_tensor *pair[2] = {acc[k], g[k]}, *sum;
        s = tl_run1("add", pair, 2, &sum);
        tl_tensor_release(g[k]);
        if (!s) {
          tl_tensor_release(acc[k]);
          acc[k] = sum;
        }
      }
      g[k] = NULL;
    }
    release_all(g, nsrc);
    memset(g, 0, sizeof *g * (size_t)nsrc);
  }
  for (int k = 0; k < nsrc && !s; k++) {
    if (acc[k]) continue;
    const tl_tensor *like = k < nd ? args[k] : vars[k - nd]->value;
    s = tl_call("zeros_like", 1, (tl_tensor *[]){(tl_tensor *)like}, 0, NULL, &acc[k]);
  }
  for (int k = 0; k < nsrc && !s; k++) {
    s = tl_list_push(out, acc[k]);
    if (!s) acc[k] = NULL;
  }
  if (s) tl_list_clear(out);
done:
  tl_list_clear(&y);
  if (tape) tl_tape_release(tape);
  if (args) release_all(args, na);
  if (acc) release_all(acc, nsrc);
  if (g) release_all(g, nsrc);
  free(args);
  free(acc);
  free(g);
  free(src);
  tlg_free_variables(vars, nv);
  return s;
}

/* ---- the tape's record --------------------------------------------------- */

typedef struct vjp_ctx {
  tl_graph *F;     /* args: the node's inputs, differentiable ones first */
  int n_in;        /* the node's inputs */
  int *perm;       /* F's arg p is node input perm[p] */
  int n_diff;
  int n_vars;      /* the record's inputs after the node's: variable reads */
  tl_tensor **ins; /* the node's inputs (retained) */
  tl_tensor **outs;/* its outputs (retained) */
  int n_out;
  tl_meta *grad_meta; /* n_diff: the gradients of the differentiated args */
  tl_variable **vars; /* n_vars (retained) */
  char *where;
  const char *what;
} vjp_ctx;

static void vjp_free(void *p) {
  vjp_ctx *c = p;
  if (!c) return;
  tl_graph_release(c->F);
  if (c->ins) release_all(c->ins, c->n_in);
  if (c->outs) release_all(c->outs, c->n_out);
  free(c->ins);
  free(c->outs);
  free(c->perm);
  free(c->grad_meta);
  tlg_free_variables(c->vars, c->n_vars);
  free(c->where);
  free(c);
}

static tl_status vjp_backward(void *ctx, tl_tensor *const *grad_out, int n_out, tl_tensor **grad_in, int n_in) {
  vjp_ctx *c = ctx;
  if (n_out != c->n_out || n_in != c->n_in + c->n_vars) return tl_error(TL_INTERNAL, "control gradient: arity");
  /* What the gradient reruns: the node without the state changes whose
   * results nothing reads (they already happened in the forward run). */
  tl_graph *F;
  tl_status s = prune(c->F, &F);
  if (s) return s;
  const tl_op_def *eff = tlg_graph_effect(F);
  if (eff) {
    tl_graph_release(F);
    return tl_error(TL_UNIMPLEMENTED,
                    "gradient of %s%s%s: its gradient is computed by running it again, which would repeat '%s' "
                    "(a state change or a random draw whose result it uses); move that op out of the branch or "
                    "loop body, or stop the gradient before it",
                    c->what, c->where ? " at " : "", c->where ? c->where : "", eff->name);
  }
  tl_variable **pv = NULL; /* the variables F still reads */
  int npv = 0;
  if ((s = tlg_graph_variables(F, &pv, &npv))) {
    tl_graph_release(F);
    return s;
  }
  const tl_variable *bad = NULL;
  for (int j = 0; j < npv && !bad; j++)
    if (writes(c->F, pv[j])) bad = pv[j];
  tl_meta *gmeta = malloc(sizeof *gmeta * (size_t)(c->n_diff + npv + 1));
  if (bad)
    s = tl_error(TL_UNIMPLEMENTED,
                 "gradient of %s%s%s: it reads variable '%s' that it also assigns, so running it again for the "
                 "gradient would see the new value; read the variable before the control flow",
                 c->what, c->where ? " at " : "", c->where ? c->where : "", bad->name);
  else if (!gmeta)
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  if (s) {
    free(gmeta);
    tlg_free_variables(pv, npv);
    tl_graph_release(F);
    return s;
  }
  for (int q = 0; q < c->n_diff; q++) gmeta[q] = c->grad_meta[q];
  for (int j = 0; j < npv; j++) gmeta[c->n_diff + j] = pv[j]->value->meta;
  int nc = c->n_in + c->n_out, nres = c->n_diff + npv;
  tl_tensor **cin = calloc((size_t)nc + 1, sizeof *cin);
  tl_tensor **dy = calloc((size_t)c->n_out + 1, sizeof *dy);
  if (!cin || !dy) {
    free(cin);
    free(dy);
    free(gmeta);
    tlg_free_variables(pv, npv);
    tl_graph_release(F);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  for (int i = 0; i < c->n_out && !s; i++) {
    if (grad_out[i]) dy[i] = tl_tensor_retain(grad_out[i]);
    else s = tl_call("zeros_like", 1, &c->outs[i], 0, NULL, &dy[i]);
  }
  for (int p = 0; p < c->n_in; p++) cin[p] = c->ins[c->perm[p]];
  for (int i = 0; i < c->n_out; i++) cin[c->n_in + i] = dy[i];
  tl_tensor_list res;
  tl_list_init(&res);
  if (!s) {
    if (tl_trace_active()) {
      s = tlg_control_emit(TL_NODE_CALL, cin, nc, &F, 1, gmeta, nres, c->n_diff, TL_CALL_VJP, c->where, &res);
      F = NULL; /* taken */
    } else {
      tl_gnode node;
      memset(&node, 0, sizeof node);
      node.kind = TL_NODE_CALL;
      node.n_in = nc;
      node.n_out = nres;
      node.n_sub = 1;
      node.sub = &F;
      node.arg = c->n_diff;
      node.iparam = TL_CALL_VJP;
      s = tlg_run_vjp(&node, cin, &res);
    }
  }
  if (!s && res.n != nres) s = tl_error(TL_INTERNAL, "control gradient: %d results for %d", res.n, nres);
  if (!s) {
    for (int p = 0; p < c->n_diff; p++) {
      grad_in[c->perm[p]] = res.items[p];
      res.items[p] = NULL;
    }
    for (int j = 0; j < c->n_vars; j++)
      for (int q = 0; q < npv; q++)
        if (pv[q] == c->vars[j]) {
          grad_in[c->n_in + j] = res.items[c->n_diff + q];
          res.items[c->n_diff + q] = NULL;
        }
  }
  tl_list_clear(&res);
  release_all(dy, c->n_out);
  free(dy);
  free(cin);
  free(gmeta);
  tlg_free_variables(pv, npv);
  tl_graph_release(F);
  return s;
}

/* Builds the record's context: F (a graph around a copy of the node). */
static tl_status make_ctx(tl_graph *g, const tl_gnode *node, tl_tensor *const *ins, tl_tensor *const *outs,
                          tl_variable **vars, int nv, vjp_ctx **out) {
  vjp_ctx *c = calloc(1, sizeof *c);
  if (!c) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  int n_in = node->n_in, n_out = node->n_out;
  c->n_in = n_in;
  c->n_out = n_out;
  c->n_vars = nv;
  c->what = what_of(node->kind, node->iparam);
  c->perm = malloc(sizeof(int) * (size_t)(n_in + 1));
  c->ins = calloc((size_t)n_in + 1, sizeof *c->ins);
  c->outs = calloc((size_t)n_out + 1, sizeof *c->outs);
  int *fin = malloc(sizeof(int) * (size_t)(n_in + 1));
  tl_meta *metas = malloc(sizeof *metas * (size_t)(n_out + 1));
  tl_graph **subs = calloc((size_t)node->n_sub + 1, sizeof *subs);
  tl_status s = TL_OK;
  if (!c->perm || !c->ins || !c->outs || !fin || !metas || !subs) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  if (!s && node->where && !(c->where = strdup(node->where))) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  if (!s) {
    for (int i = 0; i < n_in; i++) c->ins[i] = tl_tensor_retain(ins[i]);
    for (int i = 0; i < n_out; i++) c->outs[i] = tl_tensor_retain(outs[i]);
    int p = 0;
    for (int pass = 0; pass < 2; pass++)
      for (int i = 0; i < n_in; i++) {
        bool diff = node->in[i] >= 0 && is_float(g->values[node->in[i]].meta.dtype);
        if (diff == (pass == 0)) c->perm[p++] = i;
        if (pass == 0 && diff) c->n_diff++;
      }
    c->grad_meta = malloc(sizeof *c->grad_meta * (size_t)(c->n_diff + 1));
    c->vars = malloc(sizeof *c->vars * (size_t)(nv + 1));
    if (!c->grad_meta || !c->vars) {
      s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
      c->n_vars = 0;
    }
    for (int q = 0; q < c->n_diff && !s; q++) c->grad_meta[q] = g->values[node->in[c->perm[q]]].meta;
    for (int j = 0; j < nv && !s; j++) c->vars[j] = tl_variable_retain(vars[j]);
  }
  if (!s) s = tl_graph_new(&c->F);
  for (int q = 0; q < n_in && !s; q++) {
    int i = c->perm[q], vid;
    tl_meta m = node->in[i] >= 0 ? g->values[node->in[i]].meta : ins[i]->meta;
    if (!(s = tl_graph_add_arg(c->F, &m, &vid))) fin[i] = vid;
  }
  for (int k = 0; k < node->n_sub && !s; k++) s = tl_graph_copy(node->sub[k], &subs[k]);
  for (int i = 0; i < n_out; i++) metas[i] = g->values[node->out0 + i].meta;
  int idx = -1;
  if (!s) {
    s = tl_graph_add_node(c->F, node->kind, fin, n_in, subs, node->n_sub, metas, n_out, node->where, &idx);
    if (!s) memset(subs, 0, sizeof *subs * (size_t)node->n_sub);
  }
  if (!s) {
    tl_gnode *fn = &c->F->nodes[idx];
    fn->arg = node->arg;
    fn->iparam = node->iparam;
    int *ov = malloc(sizeof(int) * (size_t)(n_out + 1));
    if (!ov) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    for (int i = 0; i < n_out && !s; i++) ov[i] = fn->out0 + i;
    if (!s) s = tl_graph_set_outputs(c->F, ov, n_out);
    free(ov);
  }
  for (int k = 0; subs && k < node->n_sub; k++) tl_graph_release(subs[k]);
  free(subs);
  free(fin);
  free(metas);
  if (s) {
    vjp_free(c);
    return s;
  }
  *out = c;
  return TL_OK;
}

/* Records node k of g on the recording tapes (when one watches an input). */
static tl_status record(tl_graph *g, int k, tl_tensor *const *ins, const tl_tensor_list *outs) {
  tl_variable **vars;
  int nv;
  tl_graph one; /* the node alone, to list the variables of all its subgraphs */
  memset(&one, 0, sizeof one);
  one.nodes = &g->nodes[k];
  one.n_nodes = 1;
  tl_status s = tlg_graph_variables(&one, &vars, &nv);
  if (s) return s;
  int n_in = g->nodes[k].n_in, nr = n_in + nv;
  tl_tensor **rin = calloc((size_t)nr + 1, sizeof *rin);
  if (!rin) {
    tlg_free_variables(vars, nv);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  for (int i = 0; i < n_in; i++) rin[i] = tl_tensor_retain(ins[i]);
  /* A variable read inside the node reaches the tape through a read here
   * (which the tape records when it watches the variable); the backward
   * gives that read the variable's gradient. Dead in the graph otherwise.
   * (The reads add nodes: g->nodes may move.) */
  for (int j = 0; j < nv && !s; j++) s = tl_variable_read(vars[j], &rin[n_in + j]);
  vjp_ctx *c = NULL;
  if (!s) s = make_ctx(g, &g->nodes[k], ins, outs->items, vars, nv, &c);
  if (!s) s = tl_tape_record_custom(rin, nr, outs->items, outs->n, vjp_backward, c, vjp_free);
  release_all(rin, nr);
  free(rin);
  tlg_free_variables(vars, nv);
  return s;
}

tl_status tlg_control_emit(tl_node_kind kind, tl_tensor *const *ins, int n_in, tl_graph **subs, int n_sub,
                           const tl_meta *metas, int n_out, int arg, int64_t iparam, const char *where,
                           tl_tensor_list *out) {
  tl_trace *tr = tl_trace_current();
  tl_status s = TL_OK;
  int *vids = malloc(sizeof(int) * (size_t)(n_in + 1));
  if (!tr) s = tl_error(TL_INTERNAL, "control flow: no trace is recording");
  else if (!vids) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int i = 0; i < n_in && !s; i++) {
    if (!ins[i]) s = tl_error(TL_INVALID_ARGUMENT, "%s: input %d is missing", what_of(kind, iparam), i + 1);
    else s = tl_trace_value(tr, ins[i], &vids[i]);
  }
  tl_graph *g = tr ? tl_trace_graph(tr) : NULL;
  int k = -1;
  if (!s) s = tl_graph_add_node(g, kind, vids, n_in, subs, n_sub, metas, n_out, where, &k);
  free(vids);
  if (s) {
    for (int i = 0; i < n_sub; i++) tl_graph_release(subs[i]);
    return s;
  }
  tl_gnode *node = &g->nodes[k];
  node->arg = arg;
  node->iparam = iparam;
  int out0 = node->out0;
  for (int i = 0; i < n_out && !s; i++) {
    tl_tensor *t;
    if ((s = tl_trace_symbolic(tr, out0 + i, &t))) break;
    if ((s = tl_list_push(out, t))) tl_tensor_release(t);
  }
  if (!s && tl_tapes_active()) s = record(g, k, ins, out);
  if (s) tl_list_clear(out);
  return s;
}
