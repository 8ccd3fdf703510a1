/* graph.c — the graph data structure: building, copying, checking and
 * printing (tl_graph.h describes the model). Tracing (trace.c), running
 * (exec.c), optimizing (optimize.c, fuse.c), files (saved_model.c, onnx.c)
 * all work on what this file builds.
 */
#include "tl_graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "graph/graph_internal.h"

tl_status tl_graph_new(tl_graph **out) {
  tl_graph *g = calloc(1, sizeof *g);
  if (!g) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  g->refcount = 1;
  *out = g;
  return TL_OK;
}

tl_graph *tl_graph_retain(tl_graph *g) {
  if (g) __atomic_add_fetch(&g->refcount, 1, __ATOMIC_RELAXED);
  return g;
}

void tlg_attr_free(tl_attr *a) {
  if (!a->present) return;
  if (a->type == TL_ATTR_INTS) free(a->ints);
  if (a->type == TL_ATTR_FLOATS) free(a->floats);
  if (a->type == TL_ATTR_STRING) free((char *)a->s);
  a->ints = NULL;
  a->floats = NULL;
  a->s = NULL;
}

tl_status tlg_attr_copy(tl_attr *dst, const tl_attr *src) {
  *dst = *src;
  dst->ints = NULL;
  dst->floats = NULL;
  dst->s = NULL;
  if (!src->present) return TL_OK;
  if (src->type == TL_ATTR_INTS) {
    dst->ints = malloc(sizeof(int64_t) * (size_t)(src->n > 0 ? src->n : 1));
    if (!dst->ints) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    if (src->n > 0) memcpy(dst->ints, src->ints, sizeof(int64_t) * (size_t)src->n);
  } else if (src->type == TL_ATTR_FLOATS) {
    dst->floats = malloc(sizeof(double) * (size_t)(src->n > 0 ? src->n : 1));
    if (!dst->floats) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    if (src->n > 0) memcpy(dst->floats, src->floats, sizeof(double) * (size_t)src->n);
  } else if (src->type == TL_ATTR_STRING) {
    dst->s = strdup(src->s ? src->s : "");
    if (!dst->s) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  return TL_OK;
}

bool tlg_attr_is_default(const tl_op_def *op, int i, const tl_attr *a) {
  const tl_attr_def *d = &op->attr[i];
  if (!d->has_default || !a->present) return !a->present && !d->has_default;
  const tl_attr *e = &d->def;
  switch (d->type) {
  case TL_ATTR_INT: return a->i == e->i;
  case TL_ATTR_FLOAT: return a->f == e->f;
  case TL_ATTR_BOOL: return a->b == e->b;
  case TL_ATTR_DTYPE: return a->dtype == e->dtype;
  case TL_ATTR_STRING: return a->s && e->s && strcmp(a->s, e->s) == 0;
  case TL_ATTR_INTS: return a->n == e->n && (!a->n || memcmp(a->ints, e->ints, sizeof(int64_t) * (size_t)a->n) == 0);
  case TL_ATTR_FLOATS: return a->n == e->n && (!a->n || memcmp(a->floats, e->floats, sizeof(double) * (size_t)a->n) == 0);
  default: return false;
  }
}

void tlg_node_clear(tl_gnode *n) {
  if (n->kind == TL_NODE_OP && n->op)
    for (int i = 0; i < n->op->n_attrs; i++) tlg_attr_free(&n->attr[i]);
  free(n->in);
  if (n->value) {
    tl_variable *v = tl_resource_peek(n->value);
    tl_tensor_release(n->value);
    if (v) tl_variable_release(v);
  }
  for (int i = 0; i < n->n_sub; i++) tl_graph_release(n->sub[i]);
  free(n->sub);
  free(n->where);
  free(n->name);
  memset(n, 0, sizeof *n);
}

void tl_graph_invalidate(tl_graph *g) {
  if (g->plan && g->free_plan) g->free_plan(g->plan);
  g->plan = NULL;
  g->free_plan = NULL;
}

void tl_graph_release(tl_graph *g) {
  if (!g || __atomic_sub_fetch(&g->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
  tl_graph_invalidate(g);
  for (int i = 0; i < g->n_nodes; i++) tlg_node_clear(&g->nodes[i]);
  free(g->nodes);
  free(g->values);
  free(g->args);
  free(g->outputs);
  free(g);
}

static tl_status grow(void **p, int *cap, int need, size_t elem) {
  if (need <= *cap) return TL_OK;
  int c = *cap ? *cap : 16;
  while (c < need) {
    if (c > (1 << 28)) return tl_error(TL_RESOURCE_EXHAUSTED, "graph too large");
    c *= 2;
  }
  void *q = realloc(*p, elem * (size_t)c);
  if (!q) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  memset((char *)q + elem * (size_t)*cap, 0, elem * (size_t)(c - *cap));
  *p = q;
  *cap = c;
  return TL_OK;
}

/* A new node with n_out fresh values; returns its index or -1 (status set). */
static int new_node(tl_graph *g, tl_node_kind kind, const int *in, int n_in, const tl_meta *out_meta, int n_out,
                    const char *where) {
  if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes)) return -1;
  if (grow((void **)&g->values, &g->cap_values, g->n_values + n_out, sizeof *g->values)) return -1;
  for (int i = 0; i < n_in; i++)
    if (in[i] < -1 || in[i] >= g->n_values) {
      tl_error(TL_INTERNAL, "graph: input value %d out of range", in[i]);
      return -1;
    }
  int k = g->n_nodes;
  tl_gnode *n = &g->nodes[k];
  memset(n, 0, sizeof *n);
  n->kind = kind;
  n->capture = -1;
  n->iparam = -1;
  if (n_in) {
    n->in = malloc(sizeof(int) * (size_t)n_in);
    if (!n->in) {
      tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
      return -1;
    }
    memcpy(n->in, in, sizeof(int) * (size_t)n_in);
  }
  n->n_in = n_in;
  if (where && !(n->where = strdup(where))) {
    free(n->in);
    n->in = NULL;
    tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    return -1;
  }
  n->n_out = n_out;
  n->out0 = g->n_values;
  for (int i = 0; i < n_out; i++) {
    tl_gvalue *v = &g->values[g->n_values + i];
    v->node = k;
    v->port = i;
    v->meta = out_meta[i];
  }
  g->n_values += n_out;
  g->n_nodes++;
  tl_graph_invalidate(g);
  return k;
}

tl_status tl_graph_add_arg(tl_graph *g, const tl_meta *m, int *vid) {
  int *a = realloc(g->args, sizeof(int) * (size_t)(g->n_args + 1));
  if (!a) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  g->args = a;
  int k = new_node(g, TL_NODE_ARG, NULL, 0, m, 1, NULL);
  if (k < 0) return tl_last_status();
  g->nodes[k].arg = g->n_args;
  g->args[g->n_args++] = g->nodes[k].out0;
  *vid = g->nodes[k].out0;
  return TL_OK;
}

tl_status tl_graph_add_const(tl_graph *g, tl_tensor *t, int *vid) {
  if (tl_tensor_is_symbolic(t)) return tl_error(TL_INTERNAL, "graph: a constant must have a value");
  tl_variable *v = tl_resource_peek(t);
  if (t->dtype == TL_RESOURCE && !v) return tl_error(TL_FAILED_PRECONDITION, "graph: the variable was destroyed");
  tl_meta m = t->meta;
  if (v) m = v->value->meta; /* what shape rules see of the handle; dtype stays resource */
  m.dtype = t->dtype;
  int k = new_node(g, TL_NODE_CONST, NULL, 0, &m, 1, NULL);
  if (k < 0) return tl_last_status();
  g->nodes[k].value = tl_tensor_retain(t);
  if (v) tl_variable_retain(v);
  *vid = g->nodes[k].out0;
  return TL_OK;
}

tl_status tl_graph_add_op(tl_graph *g, const tl_op_def *op, const int *in, int n_in, const tl_attr *attrs,
                          const tl_meta *out_meta, int n_out, const char *where, int *out0) {
  int k = new_node(g, TL_NODE_OP, in, n_in, out_meta, n_out, where);
  if (k < 0) return tl_last_status();
  tl_gnode *n = &g->nodes[k];
  n->op = op;
  for (int i = 0; i < op->n_attrs; i++) {
    tl_status s = tlg_attr_copy(&n->attr[i], &attrs[i]);
    if (s) {
      for (int j = 0; j < i; j++) tlg_attr_free(&n->attr[j]);
      n->kind = TL_NODE_ARG; /* nothing left to free as an op */
      g->n_nodes--;
      g->n_values -= n_out;
      free(n->in);
      free(n->where);
      return s;
    }
  }
  if (out0) *out0 = n->out0;
  return TL_OK;
}

tl_status tl_graph_add_node(tl_graph *g, tl_node_kind kind, const int *in, int n_in, tl_graph **sub, int n_sub,
                            const tl_meta *out_meta, int n_out, const char *where, int *node_index) {
  if (kind != TL_NODE_COND && kind != TL_NODE_WHILE && kind != TL_NODE_CALL)
    return tl_error(TL_INTERNAL, "graph: tl_graph_add_node takes control-flow kinds only");
  tl_graph **subs = NULL;
  if (n_sub && !(subs = malloc(sizeof *subs * (size_t)n_sub))) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  int k = new_node(g, kind, in, n_in, out_meta, n_out, where);
  if (k < 0) {
    free(subs);
    return tl_last_status();
  }
  for (int i = 0; i < n_sub; i++) subs[i] = sub[i];
  g->nodes[k].sub = subs;
  g->nodes[k].n_sub = n_sub;
  if (node_index) *node_index = k;
  return TL_OK;
}

tl_status tl_graph_set_outputs(tl_graph *g, const int *vids, int n) {
  for (int i = 0; i < n; i++)
    if (vids[i] < 0 || vids[i] >= g->n_values) return tl_error(TL_INTERNAL, "graph: output %d out of range", i);
  int *o = malloc(sizeof(int) * (size_t)(n ? n : 1));
  if (!o) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  if (n) memcpy(o, vids, sizeof(int) * (size_t)n);
  free(g->outputs);
  g->outputs = o;
  g->n_outputs = n;
  tl_graph_invalidate(g);
  return TL_OK;
}

tl_status tl_graph_copy(const tl_graph *g, tl_graph **out) {
  tl_graph *c;
  tl_status s = tl_graph_new(&c);
  if (s) return s;
  c->nodes = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *c->nodes);
  c->values = malloc(sizeof *c->values * (size_t)(g->n_values ? g->n_values : 1));
  c->args = malloc(sizeof(int) * (size_t)(g->n_args ? g->n_args : 1));
  c->outputs = malloc(sizeof(int) * (size_t)(g->n_outputs ? g->n_outputs : 1));
  if (!c->nodes || !c->values || !c->args || !c->outputs) {
    tl_graph_release(c);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  c->cap_nodes = g->n_nodes;
  c->cap_values = g->n_values;
  /* (empty arrays may be NULL: a branch with no args or no outputs) */
  if (g->n_values) memcpy(c->values, g->values, sizeof *c->values * (size_t)g->n_values);
  c->n_values = g->n_values;
  if (g->n_args) memcpy(c->args, g->args, sizeof(int) * (size_t)g->n_args);
  c->n_args = g->n_args;
  if (g->n_outputs) memcpy(c->outputs, g->outputs, sizeof(int) * (size_t)g->n_outputs);
  c->n_outputs = g->n_outputs;
  c->stats = g->stats;
  for (int i = 0; i < g->n_nodes && !s; i++) {
    const tl_gnode *n = &g->nodes[i];
    tl_gnode *d = &c->nodes[i];
    *d = *n;
    d->in = NULL;
    d->sub = NULL;
    d->where = NULL;
    d->name = NULL;
    d->value = NULL;
    d->n_sub = 0;
    c->n_nodes = i + 1;
    if (n->kind == TL_NODE_OP)
      for (int a = 0; a < n->op->n_attrs; a++) memset(&d->attr[a], 0, sizeof d->attr[a]);
    if (n->n_in && !(d->in = malloc(sizeof(int) * (size_t)n->n_in))) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    if (!s && n->n_in) memcpy(d->in, n->in, sizeof(int) * (size_t)n->n_in);
    if (!s && n->where && !(d->where = strdup(n->where))) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    if (!s && n->name && !(d->name = strdup(n->name))) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    if (!s && n->kind == TL_NODE_OP)
      for (int a = 0; a < n->op->n_attrs && !s; a++) s = tlg_attr_copy(&d->attr[a], &n->attr[a]);
    if (!s && n->value) {
      tl_variable *v = tl_resource_peek(n->value);
      d->value = tl_tensor_retain(n->value);
      if (v) tl_variable_retain(v);
    }
    if (!s && n->n_sub) {
      if (!(d->sub = calloc((size_t)n->n_sub, sizeof *d->sub))) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
      for (int k = 0; k < n->n_sub && !s; k++) {
        s = tl_graph_copy(n->sub[k], &d->sub[k]);
        if (!s) d->n_sub = k + 1;
      }
    }
  }
  if (s) {
    tl_graph_release(c);
    return s;
  }
  *out = c;
  return TL_OK;
}

tl_status tl_graph_validate(const tl_graph *g) {
  if (g->n_nodes < 0 || g->n_values < 0 || g->n_args < 0 || g->n_outputs < 0)
    return tl_error(TL_DATA_LOSS, "graph: negative counts");
  int seen_values = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const tl_gnode *n = &g->nodes[i];
    if ((unsigned)n->kind >= TL_NODE_KIND_COUNT) return tl_error(TL_DATA_LOSS, "graph: node %d has an unknown kind", i);
    if (n->out0 != seen_values || n->n_out < 0 || n->n_out > g->n_values - seen_values)
      return tl_error(TL_DATA_LOSS, "graph: node %d's outputs are out of order", i);
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] < -1 || n->in[k] >= seen_values)
        return tl_error(TL_DATA_LOSS, "graph: node %d reads value %d before it is made", i, n->in[k]);
    for (int k = 0; k < n->n_out; k++) {
      const tl_gvalue *v = &g->values[n->out0 + k];
      if (v->node != i || v->port != k) return tl_error(TL_DATA_LOSS, "graph: value %d has a wrong producer", n->out0 + k);
      if ((unsigned)v->meta.dtype >= TL_DTYPE_COUNT || v->meta.rank < -1 || v->meta.rank > TL_MAX_RANK)
        return tl_error(TL_DATA_LOSS, "graph: value %d has a bad meta", n->out0 + k);
    }
    switch (n->kind) {
    case TL_NODE_ARG:
      if (n->n_out != 1 || n->arg < 0 || n->arg >= g->n_args || g->args[n->arg] != n->out0)
        return tl_error(TL_DATA_LOSS, "graph: argument node %d is inconsistent", i);
      break;
    case TL_NODE_CONST:
      if (n->n_out != 1 || !n->value) return tl_error(TL_DATA_LOSS, "graph: constant node %d has no value", i);
      break;
    case TL_NODE_OP: {
      if (!n->op) return tl_error(TL_DATA_LOSS, "graph: op node %d has no op", i);
      const tl_op_def *op = n->op;
      bool list = op->n_inputs && op->input[op->n_inputs - 1].list;
      int fixed = list ? op->n_inputs - 1 : op->n_inputs;
      if (list ? n->n_in < fixed : n->n_in != op->n_inputs)
        return tl_error(TL_DATA_LOSS, "graph: node %d (%s) has %d inputs", i, op->name, n->n_in);
      break;
    }
    case TL_NODE_COND:
      if (n->n_sub != 2 || n->n_in < 1) return tl_error(TL_DATA_LOSS, "graph: cond node %d is malformed", i);
      break;
    case TL_NODE_WHILE:
      if (n->n_sub != 2) return tl_error(TL_DATA_LOSS, "graph: while node %d is malformed", i);
      break;
    case TL_NODE_CALL:
      if (n->n_sub != 1) return tl_error(TL_DATA_LOSS, "graph: call node %d is malformed", i);
      break;
    default: break;
    }
    for (int k = 0; k < n->n_sub; k++) {
      if (!n->sub[k]) return tl_error(TL_DATA_LOSS, "graph: node %d lacks a subgraph", i);
      tl_status s = tl_graph_validate(n->sub[k]);
      if (s) return s;
    }
    seen_values += n->n_out;
  }
  if (seen_values != g->n_values) return tl_error(TL_DATA_LOSS, "graph: %d values, %d made", g->n_values, seen_values);
  for (int i = 0; i < g->n_args; i++)
    if (g->args[i] < 0 || g->args[i] >= g->n_values || g->nodes[g->values[g->args[i]].node].kind != TL_NODE_ARG)
      return tl_error(TL_DATA_LOSS, "graph: argument %d is not an argument node", i);
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] < 0 || g->outputs[i] >= g->n_values)
      return tl_error(TL_DATA_LOSS, "graph: output %d is out of range", i);
  return TL_OK;
}

/* ---- printing ---------------------------------------------------------- */

static const char *kind_name(tl_node_kind k) {
  static const char *names[] = {"arg", "const", "op", "cond", "while", "call"};
  return (unsigned)k < TL_NODE_KIND_COUNT ? names[k] : "?";
}

const char *tlg_node_label(const tl_gnode *n) { return n->kind == TL_NODE_OP ? n->op->name : kind_name(n->kind); }

static void describe_attrs(tl_buf *b, const tl_gnode *n) {
  if (n->kind != TL_NODE_OP) return;
  bool any = false;
  for (int i = 0; i < n->op->n_attrs; i++) {
    const tl_attr *a = &n->attr[i];
    if (!a->present || tlg_attr_is_default(n->op, i, a)) continue;
    tl_buf_printf(b, "%s%s=", any ? ", " : " {", n->op->attr[i].name);
    any = true;
    switch (a->type) {
    case TL_ATTR_INT: tl_buf_printf(b, "%lld", (long long)a->i); break;
    case TL_ATTR_FLOAT: tl_buf_printf(b, "%.9g", a->f); break;
    case TL_ATTR_BOOL: tl_buf_printf(b, "%s", a->b ? "true" : "false"); break;
    case TL_ATTR_DTYPE: tl_buf_printf(b, "%s", tl_dtypes[a->dtype].name); break;
    case TL_ATTR_STRING: tl_buf_printf(b, "\"%s\"", a->s ? a->s : ""); break;
    case TL_ATTR_INTS:
    case TL_ATTR_FLOATS:
      tl_buf_printf(b, "[");
      for (int k = 0; k < a->n && k < 16; k++) {
        if (a->type == TL_ATTR_INTS) tl_buf_printf(b, "%s%lld", k ? "," : "", (long long)a->ints[k]);
        else tl_buf_printf(b, "%s%.9g", k ? "," : "", a->floats[k]);
      }
      tl_buf_printf(b, "%s]", a->n > 16 ? ",..." : "");
      break;
    default: break;
    }
  }
  if (any) tl_buf_printf(b, "}");
}

static void describe_graph(tl_buf *b, const tl_graph *g, int indent) {
  for (int i = 0; i < g->n_nodes; i++) {
    const tl_gnode *n = &g->nodes[i];
    tl_buf_printf(b, "%*s", indent, "");
    for (int k = 0; k < n->n_out; k++) {
      char m[200];
      tl_buf_printf(b, "%s%%%d:%s", k ? ", " : "", n->out0 + k, tl_meta_describe(&g->values[n->out0 + k].meta, m, sizeof m));
    }
    tl_buf_printf(b, " = %s", tlg_node_label(n));
    if (n->kind == TL_NODE_ARG) {
      tl_buf_printf(b, " #%d", n->arg);
      if (n->capture >= 0) tl_buf_printf(b, " (captures %%%d)", n->capture);
    }
    if (n->kind == TL_NODE_CONST) {
      tl_variable *v = tl_resource_peek(n->value);
      if (v) tl_buf_printf(b, " variable '%s'", v->name);
      else if (n->value->size == 1 && !tl_tensor_is_symbolic(n->value) && tl_tensor_device(n->value) == TL_CPU &&
               n->value->dtype != TL_STRING)
        tl_buf_printf(b, " %.9g", tl_load_f64(n->value->storage->data, n->value->dtype, n->value->offset));
    }
    if (n->n_in) {
      tl_buf_printf(b, "(");
      for (int k = 0; k < n->n_in; k++)
        if (n->in[k] < 0) tl_buf_printf(b, "%snil", k ? ", " : "");
        else tl_buf_printf(b, "%s%%%d", k ? ", " : "", n->in[k]);
      tl_buf_printf(b, ")");
    }
    describe_attrs(b, n);
    if (n->where) tl_buf_printf(b, "  -- %s", n->where);
    tl_buf_printf(b, "\n");
    for (int k = 0; k < n->n_sub; k++) {
      tl_buf_printf(b, "%*s  %s:\n", indent, "",
                    n->kind == TL_NODE_COND ? (k ? "else" : "then") : n->kind == TL_NODE_WHILE ? (k ? "body" : "cond") : "fn");
      describe_graph(b, n->sub[k], indent + 4);
    }
  }
  tl_buf_printf(b, "%*sreturn ", indent, "");
  for (int i = 0; i < g->n_outputs; i++) tl_buf_printf(b, "%s%%%d", i ? ", " : "", g->outputs[i]);
  tl_buf_printf(b, "\n");
}

tl_status tl_graph_describe(const tl_graph *g, char **out) {
  tl_buf b = {0};
  describe_graph(&b, g, 0);
  if (b.oom || !b.p) {
    free(b.p);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  *out = b.p;
  return TL_OK;
}

static void dot_escape(tl_buf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') tl_buf_printf(b, "\\%c", *s);
    else tl_buf_printf(b, "%c", *s);
  }
}

static void dot_graph(tl_buf *b, const tl_graph *g, const char *prefix) {
  for (int i = 0; i < g->n_nodes; i++) {
    const tl_gnode *n = &g->nodes[i];
    tl_buf_printf(b, "  \"%sn%d\" [label=\"", prefix, i);
    dot_escape(b, tlg_node_label(n));
    if (n->kind == TL_NODE_ARG) tl_buf_printf(b, " #%d", n->arg);
    if (n->kind == TL_NODE_CONST && tl_resource_peek(n->value)) {
      tl_buf_printf(b, " ");
      dot_escape(b, tl_resource_peek(n->value)->name);
    }
    if (n->n_out) {
      char m[200];
      tl_buf_printf(b, "\\n");
      dot_escape(b, tl_meta_describe(&g->values[n->out0].meta, m, sizeof m));
    }
    if (n->where) {
      tl_buf_printf(b, "\\n");
      dot_escape(b, n->where);
    }
    tl_buf_printf(b, "\"%s];\n",
                  n->kind == TL_NODE_ARG ? ", shape=invhouse" : n->kind == TL_NODE_CONST ? ", shape=box" : "");
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] >= 0) tl_buf_printf(b, "  \"%sn%d\" -> \"%sn%d\";\n", prefix, g->values[n->in[k]].node, prefix, i);
    for (int k = 0; k < n->n_sub; k++) {
      char sub[64];
      snprintf(sub, sizeof sub, "%sn%d_%d_", prefix, i, k);
      tl_buf_printf(b, "  subgraph \"cluster_%s\" {\n  label=\"%s\";\n", sub,
                    n->kind == TL_NODE_COND ? (k ? "else" : "then") : n->kind == TL_NODE_WHILE ? (k ? "body" : "cond") : "fn");
      dot_graph(b, n->sub[k], sub);
      tl_buf_printf(b, "  }\n");
    }
  }
  for (int i = 0; i < g->n_outputs; i++) {
    tl_buf_printf(b, "  \"%sout%d\" [label=\"output %d\", shape=house];\n", prefix, i, i);
    tl_buf_printf(b, "  \"%sn%d\" -> \"%sout%d\";\n", prefix, g->values[g->outputs[i]].node, prefix, i);
  }
}

tl_status tl_graph_dot(const tl_graph *g, char **out) {
  tl_buf b = {0};
  tl_buf_printf(&b, "digraph tlua {\n  node [fontname=\"monospace\"];\n");
  dot_graph(&b, g, "");
  tl_buf_printf(&b, "}\n");
  if (b.oom || !b.p) {
    free(b.p);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  *out = b.p;
  return TL_OK;
}
