/* fuse.c — element-wise fusion: groups of element-wise nodes (and the sum
 * or mean that consumes one) become one fused_elementwise node
 * (src/ops/fused.c), so the group reads and writes memory once.
 *
 * What fuses: OP nodes of the unary and binary element-wise records that
 * have a typed loop for their dtype and keep it (not comparisons, not
 * integer truediv, not float16/bfloat16, which compute via float32), with
 * one output of a known rank; never stateful, random, hidden-output or
 * kernel-allocating ops. A node joins the group of an input's producer
 * when both outputs have the same meta (so every member has the group's
 * shape; smaller operands, e.g. a bias, are inputs of the group), and the
 * group stays convex: no path leaves it and comes back through a node
 * outside it (that node could not run before or after the fused node).
 * A member value also read outside the group, or returned by the graph,
 * becomes an extra output of the fused node (materialised once, in the
 * same pass). A group whose single output is read only by a reduce_sum or
 * reduce_mean over every axis or the last one absorbs that reduction.
 * A group of one node fuses only with a reduction (otherwise nothing is
 * saved).
 *
 * Arguments and constants move to the front (they read nothing); the fused
 * node goes right after the last other node making one of its inputs;
 * every other node keeps its relative order (that order carries the order
 * of side effects). A group that some node would need earlier, or that
 * sits in a cycle of groups, is left unfused. Subgraphs (cond branches, loop bodies) are fused too.
 * Runs on finished graphs: the tape has already written the backward pass
 * as ordinary ops, so the fused op needs no gradient.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"
#include "ops/ew.h"

#define MAX_MEMBERS 48 /* fused.c: MAX_INSTR 64 */
#define MAX_GIN 32     /* fused.c: MAX_IN */
#define MAX_GOUT 16    /* fused.c: MAX_OUT */

static bool same_meta(const tl_meta *a, const tl_meta *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

static bool fusable(const tl_graph *g, const tl_gnode *n) {
  if (n->kind != TL_NODE_OP || n->n_out != 1) return false;
  const tl_op_def *op = n->op;
  if (op->flags & (TL_OP_STATEFUL | TL_OP_RANDOM | TL_OP_HIDDEN_OUTPUTS | TL_OP_KERNEL_ALLOCATES)) return false;
  const tl_meta *m = &g->values[n->out0].meta;
  tl_dtype dt = m->dtype;
  if (m->rank < 0 || dt == TL_FLOAT16 || dt == TL_BFLOAT16 || dt >= TL_COMPLEX64) return false;
  for (int k = 0; k < n->n_in; k++)
    if (n->in[k] < 0 || g->values[n->in[k]].meta.dtype != dt || g->values[n->in[k]].meta.rank < 0) return false;
  if (op->n_inputs == 1 && n->n_in == 1) {
    if (op->n_attrs > 1) return false;
    if (op->n_attrs == 1 && op->attr[0].type != TL_ATTR_FLOAT && op->attr[0].type != TL_ATTR_BOOL) return false;
    double alpha;
    return tl_ew_unary_fn(op, n->attr, dt, &alpha) != NULL;
  }
  return op->n_inputs == 2 && n->n_in == 2 && !op->input[1].list && tl_ew_binary_fn(op, dt) != NULL;
}

/* "sum" / "mean" when n is a reduce_sum/reduce_mean the fused op can absorb
 * (float, over every axis or the last), else NULL. */
static const char *absorbable_reduction(const tl_graph *g, const tl_gnode *n) {
  if (n->kind != TL_NODE_OP || n->n_in != 1 || n->in[0] < 0) return NULL;
  const char *kind = strcmp(n->op->name, "reduce_sum") == 0 ? "sum" : strcmp(n->op->name, "reduce_mean") == 0 ? "mean" : NULL;
  if (!kind) return NULL;
  const tl_meta *m = &g->values[n->in[0]].meta;
  if ((m->dtype != TL_FLOAT32 && m->dtype != TL_FLOAT64) || m->rank < 0) return NULL;
  int ai = tl_attr_index(n->op, "axis");
  if (ai < 0) return NULL;
  const tl_attr *axis = &n->attr[ai];
  if (!axis->present) return kind;
  bool mask[TL_MAX_RANK] = {0};
  int cnt = 0;
  for (int i = 0; i < axis->n; i++) {
    int64_t a = axis->ints[i] < 0 ? axis->ints[i] + m->rank : axis->ints[i];
    if (a < 0 || a >= m->rank) return NULL;
    if (!mask[a]) cnt++;
    mask[a] = true;
  }
  return cnt == m->rank || (cnt == 1 && mask[m->rank - 1]) ? kind : NULL;
}

typedef struct fctx {
  tl_graph *g;
  int nn, nv;
  int *grp;      /* node -> group id, -1 */
  bool *ok;      /* fusable */
  int *uses;     /* value -> readers (inputs) + graph outputs */
  bool *is_out;  /* value is a graph output */
  int *mark;     /* scratch stamps per node */
  int *seen;     /* dfs stamps */
  int stamp;
  int *stack;
} fctx;

/* Whether node q depends (through any path) on a node marked with the
 * current stamp; nodes before lo cannot. */
static bool depends(fctx *c, int q, int lo) {
  int sp = 0;
  c->stack[sp++] = q;
  while (sp) {
    int x = c->stack[--sp];
    if (x < lo || c->seen[x] == c->stamp) continue;
    c->seen[x] = c->stamp;
    if (c->mark[x] == c->stamp) return true;
    const tl_gnode *n = &c->g->nodes[x];
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] >= 0) c->stack[sp++] = c->g->values[n->in[k]].node;
  }
  return false;
}

/* Whether groups cand[0..nc) plus node i form a convex set of at most
 * MAX_MEMBERS nodes. */
static bool can_merge(fctx *c, const int *cand, int nc, int i) {
  c->stamp++;
  int lo = i, count = 1;
  c->mark[i] = c->stamp;
  for (int x = 0; x < i; x++) {
    if (c->grp[x] < 0) continue;
    for (int k = 0; k < nc; k++)
      if (c->grp[x] == cand[k]) {
        c->mark[x] = c->stamp;
        if (x < lo) lo = x;
        count++;
        break;
      }
  }
  if (count > MAX_MEMBERS) return false;
  for (int x = lo; x <= i; x++) {
    if (c->mark[x] != c->stamp) continue;
    const tl_gnode *n = &c->g->nodes[x];
    for (int k = 0; k < n->n_in; k++) {
      int q = c->g->values[n->in[k]].node;
      if (c->mark[q] != c->stamp && depends(c, q, lo)) return false;
    }
  }
  return true;
}

static void form_groups(fctx *c) {
  tl_graph *g = c->g;
  int next = 0;
  for (int i = 0; i < c->nn; i++) {
    if (!c->ok[i]) continue;
    const tl_gnode *n = &g->nodes[i];
    int cand[2], nc = 0;
    for (int k = 0; k < n->n_in; k++) {
      int p = g->values[n->in[k]].node;
      if (!c->ok[p] || !same_meta(&g->values[g->nodes[p].out0].meta, &g->values[n->out0].meta)) continue;
      if (nc == 1 && cand[0] == c->grp[p]) continue;
      cand[nc++] = c->grp[p];
    }
    int use = -1;
    if (nc && can_merge(c, cand, nc, i)) use = nc;
    else
      for (int k = 0; k < nc && use < 0; k++)
        if (can_merge(c, &cand[k], 1, i)) use = -2 - k;
    if (use == -1) {
      c->grp[i] = next++;
      continue;
    }
    int *set = use >= 0 ? cand : &cand[-2 - use];
    int ns = use >= 0 ? nc : 1;
    c->grp[i] = set[0];
    for (int x = 0; x < i; x++)
      for (int k = 1; k < ns; k++)
        if (c->grp[x] == set[k]) c->grp[x] = set[0];
  }
}

/* One group as it will be emitted. */
typedef struct group {
  int id;
  bool live;
  int n_mem, first, last;
  int place;        /* the node whose text location the fused node takes */
  int slot, seq;    /* emitted after node `slot`, groups there in seq order */
  int reduce_node;  /* absorbed reduction, or -1 */
  int n_in, in[MAX_GIN];
  int n_out, out[MAX_GOUT]; /* member values (or the reduction's) returned */
} group;

/* Fills a group's inputs, outputs and reduction; false when it should not
 * fuse (one node without a reduction, too many inputs or outputs, dead). */
static bool describe_group(fctx *c, group *G) {
  tl_graph *g = c->g;
  G->n_mem = 0, G->n_in = 0, G->n_out = 0, G->first = -1, G->reduce_node = -1;
  for (int x = 0; x < c->nn; x++) {
    if (c->grp[x] != G->id) continue;
    if (G->first < 0) G->first = x;
    G->last = x;
    G->n_mem++;
    const tl_gnode *n = &g->nodes[x];
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      if (c->grp[g->values[v].node] == G->id) continue;
      bool have = false;
      for (int t = 0; t < G->n_in && !have; t++) have = G->in[t] == v;
      if (have) continue;
      if (G->n_in == MAX_GIN) return false;
      G->in[G->n_in++] = v;
    }
  }
  /* outputs: member values read by non-members */
  for (int x = G->first; x <= G->last; x++) {
    if (c->grp[x] != G->id) continue;
    int v = g->nodes[x].out0, inside = 0;
    for (int y = x + 1; y <= G->last; y++) {
      if (c->grp[y] != G->id) continue;
      for (int k = 0; k < g->nodes[y].n_in; k++) inside += g->nodes[y].in[k] == v;
    }
    if (c->uses[v] > inside) {
      if (G->n_out == MAX_GOUT) return false;
      G->out[G->n_out++] = v;
    }
  }
  /* A value read only by an absorbable reduction is reduced in the same
   * pass instead of materialised: the reduced value becomes the last
   * output. The reduction moves up to the group's place (its one input is
   * a member, so nothing it needs comes later). */
  G->place = G->last;
  for (int t = 0; t < G->n_out && G->reduce_node < 0; t++) {
    int v = G->out[t];
    if (c->is_out[v] || c->uses[v] != 1) continue;
    for (int y = G->last + 1; y < c->nn; y++) {
      const tl_gnode *n = &g->nodes[y];
      bool reads = false;
      for (int k = 0; k < n->n_in; k++) reads |= n->in[k] == v;
      if (!reads) continue;
      if (absorbable_reduction(g, n)) {
        G->reduce_node = y;
        memmove(&G->out[t], &G->out[t + 1], sizeof(int) * (size_t)(G->n_out - t - 1));
        G->out[G->n_out - 1] = n->out0;
      }
      break;
    }
  }
  if (G->n_out == 0) return false;
  return G->n_mem >= 2 || G->reduce_node >= 0;
}

/* Places every live group: right after the last node (or group) making one
 * of its inputs, so the relative order of all other nodes (which carries
 * the order of side effects) is kept. A group whose outputs some node
 * reads before that point, or that sits in a cycle of groups, is
 * dissolved; returns false then (call again). */
static bool place_groups(fctx *c, group *grs, int ngr, int *gidx) {
  tl_graph *g = c->g;
  for (int x = 0; x < c->nn; x++) gidx[x] = -1;
  for (int k = 0; k < ngr; k++) {
    if (!grs[k].live) continue;
    grs[k].slot = -2;
    for (int x = grs[k].first; x <= grs[k].last; x++)
      if (c->grp[x] == grs[k].id) gidx[x] = k;
    if (grs[k].reduce_node >= 0) gidx[grs[k].reduce_node] = k;
  }
  int seq = 0;
  for (bool progress = true; progress;) {
    progress = false;
    for (int k = 0; k < ngr; k++) {
      if (!grs[k].live || grs[k].slot != -2) continue;
      int lo = -1;
      bool ready = true;
      for (int t = 0; t < grs[k].n_in && ready; t++) {
        int p = g->values[grs[k].in[t]].node, pk = gidx[p];
        bool leaf = g->nodes[p].kind == TL_NODE_ARG || g->nodes[p].kind == TL_NODE_CONST;
        int pos = pk >= 0 ? grs[pk].slot : leaf ? -1 : p; /* leaves move to the front */
        if (pk >= 0 && pos == -2) ready = false;
        else if (pos > lo) lo = pos;
      }
      if (!ready) continue;
      grs[k].slot = lo;
      grs[k].seq = seq++;
      progress = true;
    }
  }
  for (int k = 0; k < ngr; k++)
    if (grs[k].live && grs[k].slot == -2) {
      grs[k].live = false;
      return false;
    }
  for (int y = 0; y < c->nn; y++) {
    if (gidx[y] >= 0) continue;
    const tl_gnode *n = &g->nodes[y];
    for (int t = 0; t < n->n_in; t++) {
      if (n->in[t] < 0) continue;
      int pk = gidx[g->values[n->in[t]].node];
      if (pk >= 0 && grs[pk].slot >= y) {
        grs[pk].live = false;
        return false;
      }
    }
  }
  return true;
}

/* The fused node's program text: "op[@attr] a [b];..." over registers
 * (inputs first, then one per member in order). */
static tl_status program_text(fctx *c, const group *G, char **out, int64_t *outs) {
  tl_graph *g = c->g;
  size_t cap = 160 * (size_t)(G->n_mem + 1), len = 0;
  char *buf = malloc(cap);
  if (!buf) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  buf[0] = 0;
  int reg_of_member[MAX_MEMBERS], members[MAX_MEMBERS], m = 0;
  for (int x = G->first; x <= G->last; x++)
    if (c->grp[x] == G->id) members[m++] = x;
  for (int j = 0; j < m; j++) {
    const tl_gnode *n = &g->nodes[members[j]];
    reg_of_member[j] = G->n_in + j;
    char one[160];
    int w = snprintf(one, sizeof one, "%s%s", j ? ";" : "", n->op->name);
    if (n->op->n_attrs == 1) {
      const tl_attr *a = &n->attr[0];
      w += snprintf(one + w, sizeof one - (size_t)w, "@%.17g", a->type == TL_ATTR_BOOL ? (a->b ? 1.0 : 0.0) : a->f);
    }
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k], r = -1;
      for (int t = 0; t < G->n_in && r < 0; t++)
        if (G->in[t] == v) r = t;
      for (int t = 0; t < j && r < 0; t++)
        if (g->nodes[members[t]].out0 == v) r = reg_of_member[t];
      w += snprintf(one + w, sizeof one - (size_t)w, " %d", r);
    }
    memcpy(buf + len, one, (size_t)w + 1);
    len += (size_t)w;
  }
  for (int t = 0; t < G->n_out; t++) {
    int v = G->reduce_node >= 0 && t == G->n_out - 1 ? g->nodes[G->reduce_node].in[0] : G->out[t];
    for (int j = 0; j < m; j++)
      if (g->nodes[members[j]].out0 == v) outs[t] = reg_of_member[j];
  }
  *out = buf;
  return TL_OK;
}

/* Appends G's fused node; alias[] maps the values it replaces to its outputs. */
static tl_status emit(fctx *c, const group *G, int *alias) {
  tl_graph *g = c->g;
  const tl_op_def *fop = tl_op_find("fused_elementwise");
  if (!fop) return tl_error(TL_INTERNAL, "fuse: fused_elementwise is not registered");
  char *prog = NULL;
  int64_t outs[MAX_GOUT];
  tl_status s = program_text(c, G, &prog, outs);
  if (s) return s;
  tl_attr attrs[TL_MAX_ATTRS];
  tl_attrs_defaults(fop, attrs);
  int ip = tl_attr_index(fop, "program"), io = tl_attr_index(fop, "outputs"), ir = tl_attr_index(fop, "reduce");
  attrs[ip].present = true;
  attrs[ip].s = prog;
  attrs[io].present = true;
  attrs[io].n = G->n_out;
  attrs[io].ints = outs;
  if (G->reduce_node >= 0) {
    const tl_gnode *r = &g->nodes[G->reduce_node];
    attrs[ir].present = true;
    attrs[ir].s = absorbable_reduction(g, r);
    attrs[tl_attr_index(fop, "axis")] = r->attr[tl_attr_index(r->op, "axis")];
    attrs[tl_attr_index(fop, "keepdims")] = r->attr[tl_attr_index(r->op, "keepdims")];
  }
  tl_meta metas[MAX_GOUT];
  for (int t = 0; t < G->n_out; t++) metas[t] = g->values[G->out[t]].meta;
  const char *where = g->nodes[G->place].where;
  char *where_copy = where ? strdup(where) : NULL; /* add_op may move the nodes */
  int out0 = -1;
  s = tl_graph_add_op(g, fop, G->in, G->n_in, attrs, metas, G->n_out, where_copy, &out0);
  free(where_copy);
  free(prog);
  if (s) return s;
  for (int t = 0; t < G->n_out; t++) alias[G->out[t]] = out0 + t;
  return TL_OK;
}

static const group *sort_base;
static int by_slot(const void *a, const void *b) {
  const group *x = &sort_base[*(const int *)a], *y = &sort_base[*(const int *)b];
  return x->slot != y->slot ? (x->slot > y->slot) - (x->slot < y->slot) : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Rebuilds nodes and values in the new order: the kept nodes in their
 * order, each live group's fused node (appended at index fused_at[k])
 * right after the node of its slot. */
/* Moves node src to position *w of the new arrays, renumbering its inputs
 * (through alias: replaced values) and outputs. */
static void move_node(tl_graph *g, int src, tl_gnode *nodes, tl_gvalue *values, int *vmap, const int *alias, int *w,
                      int *wv) {
  tl_gnode *n = &g->nodes[src];
  for (int t = 0; t < n->n_in; t++) {
    int v = n->in[t];
    if (v < 0) continue;
    if (alias[v] >= 0) v = alias[v];
    n->in[t] = vmap[v];
  }
  for (int t = 0; t < n->n_out; t++) {
    vmap[n->out0 + t] = *wv + t;
    values[*wv + t] = g->values[n->out0 + t];
    values[*wv + t].node = *w;
  }
  n->out0 = *wv;
  *wv += n->n_out;
  nodes[(*w)++] = *n;
  memset(n, 0, sizeof *n);
}

static tl_status compact(fctx *c, group *grs, int ngr, const int *gidx, const int *fused_at, int *alias) {
  tl_graph *g = c->g;
  int nn = g->n_nodes, nv = g->n_values;
  int *gord = malloc(sizeof(int) * (size_t)(ngr ? ngr : 1)), ng = 0;
  if (!gord) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int k = 0; k < ngr; k++)
    if (grs[k].live) gord[ng++] = k;
  sort_base = grs;
  qsort(gord, (size_t)ng, sizeof *gord, by_slot);
  tl_gnode *nodes = calloc((size_t)nn, sizeof *nodes);
  tl_gvalue *values = calloc((size_t)(nv ? nv : 1), sizeof *values);
  int *vmap = malloc(sizeof(int) * (size_t)(nv ? nv : 1));
  if (!nodes || !values || !vmap) {
    free(nodes), free(values), free(vmap);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  for (int v = 0; v < nv; v++) vmap[v] = -1;
  int w = 0, wv = 0, gi = 0;
  for (int x = 0; x < c->nn; x++) /* arguments and constants first: they read nothing */
    if (gidx[x] < 0 && (g->nodes[x].kind == TL_NODE_ARG || g->nodes[x].kind == TL_NODE_CONST))
      move_node(g, x, nodes, values, vmap, alias, &w, &wv);
  while (gi < ng && grs[gord[gi]].slot < 0) move_node(g, fused_at[gord[gi++]], nodes, values, vmap, alias, &w, &wv);
  for (int x = 0; x < c->nn; x++) {
    if (gidx[x] < 0 && g->nodes[x].kind != TL_NODE_ARG && g->nodes[x].kind != TL_NODE_CONST)
      move_node(g, x, nodes, values, vmap, alias, &w, &wv);
    while (gi < ng && grs[gord[gi]].slot == x) move_node(g, fused_at[gord[gi++]], nodes, values, vmap, alias, &w, &wv);
  }
  free(gord);
  for (int x = 0; x < nn; x++) tlg_node_clear(&g->nodes[x]); /* the dropped ones; moved ones are zero */
  for (int i = 0; i < g->n_args; i++) g->args[i] = vmap[g->args[i]];
  for (int i = 0; i < g->n_outputs; i++) {
    int v = g->outputs[i];
    g->outputs[i] = vmap[alias[v] >= 0 ? alias[v] : v];
  }
  free(g->nodes);
  free(g->values);
  g->nodes = nodes;
  g->cap_nodes = nn;
  g->n_nodes = w;
  g->values = values;
  g->cap_values = nv ? nv : 1;
  g->n_values = wv;
  free(vmap);
  tl_graph_invalidate(g);
  return TL_OK;
}

tl_status tlg_fuse(tl_graph *g) {
  tl_status s = TL_OK;
  for (int i = 0; i < g->n_nodes && !s; i++)
    for (int k = 0; k < g->nodes[i].n_sub && !s; k++) {
      tl_graph *sub = g->nodes[i].sub[k];
      s = tlg_fuse(sub);
      g->stats.fused_groups += sub->stats.fused_groups;
      g->stats.fused_ops += sub->stats.fused_ops;
      sub->stats.fused_groups = sub->stats.fused_ops = 0;
    }
  if (s) return s;
  int nn = g->n_nodes, nv = g->n_values;
  if (nn < 2) return TL_OK;
  fctx c = {.g = g, .nn = nn, .nv = nv};
  c.grp = malloc(sizeof(int) * (size_t)nn);
  c.ok = calloc((size_t)nn, 1);
  c.uses = calloc((size_t)nv, sizeof(int));
  c.is_out = calloc((size_t)nv, 1);
  c.mark = calloc((size_t)nn, sizeof(int));
  c.seen = calloc((size_t)nn, sizeof(int));
  int n_edges = 0;
  for (int i = 0; i < nn; i++) n_edges += g->nodes[i].n_in;
  c.stack = malloc(sizeof(int) * (size_t)(n_edges + nn + 1));
  group *grs = calloc((size_t)nn, sizeof *grs);
  int *gidx = malloc(sizeof(int) * (size_t)nn);
  int *fused_at = malloc(sizeof(int) * (size_t)nn);
  int *alias = malloc(sizeof(int) * (size_t)(nv + 1));
  if (!c.grp || !c.ok || !c.uses || !c.is_out || !c.mark || !c.seen || !c.stack || !grs || !gidx ||
      !fused_at || !alias) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    goto done;
  }
  for (int i = 0; i < nn; i++) {
    c.grp[i] = -1;
    c.ok[i] = fusable(g, &g->nodes[i]);
    for (int k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] >= 0) c.uses[g->nodes[i].in[k]]++;
  }
  for (int i = 0; i < g->n_outputs; i++) {
    c.uses[g->outputs[i]]++;
    c.is_out[g->outputs[i]] = true;
  }
  form_groups(&c);
  /* the distinct groups, in order of their first member */
  int ngr = 0;
  for (int i = 0; i < nn; i++) {
    if (c.grp[i] < 0) continue;
    bool have = false;
    for (int k = 0; k < ngr && !have; k++) have = grs[k].id == c.grp[i];
    if (have) continue;
    grs[ngr].id = c.grp[i];
    grs[ngr].live = describe_group(&c, &grs[ngr]);
    ngr++;
  }
  while (!place_groups(&c, grs, ngr, gidx)) {
  }
  int live = 0;
  for (int k = 0; k < ngr; k++) live += grs[k].live;
  if (!live) goto done;
  for (int v = 0; v <= nv; v++) alias[v] = -1;
  for (int k = 0; k < ngr && !s; k++) {
    if (!grs[k].live) continue;
    fused_at[k] = g->n_nodes;
    s = emit(&c, &grs[k], alias);
    if (!s) {
      g->stats.fused_groups++;
      g->stats.fused_ops += grs[k].n_mem + (grs[k].reduce_node >= 0);
    }
  }
  if (!s) {
    int *alias2 = realloc(alias, sizeof(int) * (size_t)g->n_values);
    if (!alias2) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    else {
      alias = alias2;
      for (int v = nv; v < g->n_values; v++) alias[v] = -1;
      s = compact(&c, grs, ngr, gidx, fused_at, alias);
    }
  }
done:
  free(c.grp), free(c.ok), free(c.uses), free(c.is_out), free(c.mark), free(c.seen), free(c.stack);
  free(grs), free(gidx), free(fused_at), free(alias);
  return s;
}
