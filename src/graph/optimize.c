/* optimize.c — graph rewrites (tl_graph_optimize): dead-code elimination,
 * common-subexpression elimination, constant folding, removal of no-op
 * views and casts, and algebraic simplification, iterated to a fixpoint;
 * then element-wise fusion (fuse.c). docs/internals.md ("Graph
 * optimizations") lists the rules.
 *
 * Every pass is one forward sweep that rebuilds the node and value arrays
 * (a `rebuild`): each node is kept (moved, inputs renumbered), dropped
 * with its outputs standing for earlier values (an alias), or replaced by
 * constants. Values are renumbered densely in node order, so the graph
 * stays valid after each sweep; the ARG nodes of subgraphs that capture
 * a value of this graph are renumbered with it. Stateful and random ops
 * are never folded, merged or dropped; control-flow nodes are never
 * merged or folded, and DCE drops one only when nothing inside changes
 * state (their subgraphs are optimized on their own). The rules that
 * need constant values (folding, x*1, CSE of constants) read them
 * through host copies, so constants on the test device work too.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"

#define FOLD_MAX_BYTES ((int64_t)1 << 20) /* larger folded results stay computed */
#define CONST_READ_MAX 4096               /* elements of a constant read to test or compare it */
#define MAX_ROUNDS 16
#define MAX_DEPTH 64 /* nested control flow */

/* ---- small helpers ------------------------------------------------------ */

static bool meta_eq(const tl_meta *a, const tl_meta *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

static bool meta_known(const tl_meta *m) {
  if (m->rank < 0) return false;
  for (int i = 0; i < m->rank; i++)
    if (m->shape[i] < 0) return false;
  return true;
}

/* At most one unknown dimension and no zero ones: two such metas that are
 * equal describe equal shapes whenever the element counts agree (reshape). */
static bool meta_determined_by_count(const tl_meta *m) {
  if (m->rank < 0) return false;
  int unknown = 0;
  for (int i = 0; i < m->rank; i++) {
    if (m->shape[i] < 0) unknown++;
    else if (m->shape[i] == 0) return unknown == 0 && meta_known(m);
  }
  return unknown <= 1;
}

static bool is_op(const tl_gnode *n, const char *name) {
  return n->kind == TL_NODE_OP && strcmp(n->op->name, name) == 0;
}

static bool op_pure(const tl_op_def *op) { return !(op->flags & (TL_OP_STATEFUL | TL_OP_RANDOM)); }

/* Whether the op reads a variable (its result depends on state). */
static bool op_reads_state(const tl_op_def *op) {
  for (int i = 0; i < op->n_inputs; i++)
    if (op->input[i].resource) return true;
  return false;
}

/* Whether running a node may change state or draw random numbers
 * (control flow: whether anything inside does). */
static bool node_effectful(const tl_gnode *n, int depth) {
  if (n->kind == TL_NODE_OP) return !op_pure(n->op);
  if (n->kind == TL_NODE_ARG || n->kind == TL_NODE_CONST) return false;
  if (depth > MAX_DEPTH) return true;
  for (int k = 0; k < n->n_sub; k++) {
    const tl_graph *s = n->sub[k];
    if (!s) return true;
    for (int i = 0; i < s->n_nodes; i++)
      if (node_effectful(&s->nodes[i], depth + 1)) return true;
  }
  return false;
}

/* Whether an op node's attributes have their declared types and sane
 * lists (a graph read from a file might not): the rules read them. */
static bool attrs_sane(const tl_gnode *n) {
  for (int i = 0; i < n->op->n_attrs; i++) {
    const tl_attr *a = &n->attr[i];
    if (!a->present) continue;
    if (a->type != n->op->attr[i].type) return false;
    if (a->type == TL_ATTR_INTS && (a->n < 0 || (a->n && !a->ints))) return false;
    if (a->type == TL_ATTR_FLOATS && (a->n < 0 || (a->n && !a->floats))) return false;
  }
  return true;
}

static const tl_attr *attr_of(const tl_gnode *n, const char *name) {
  int i = tl_attr_index(n->op, name);
  return i >= 0 && n->attr[i].present ? &n->attr[i] : NULL;
}

static bool attr_equal(const tl_op_def *op, int i, const tl_attr *a, const tl_attr *b) {
  if (!a->present || !b->present) {
    if (!a->present && !b->present) return true;
    /* An absent attribute with a default is the default. */
    return op->attr[i].has_default && tlg_attr_is_default(op, i, a->present ? a : b);
  }
  switch (op->attr[i].type) {
  case TL_ATTR_INT: return a->i == b->i;
  case TL_ATTR_FLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0; /* -0 and 0 differ */
  case TL_ATTR_BOOL: return a->b == b->b;
  case TL_ATTR_DTYPE: return a->dtype == b->dtype;
  case TL_ATTR_STRING: return strcmp(a->s ? a->s : "", b->s ? b->s : "") == 0;
  case TL_ATTR_INTS: return a->n == b->n && (!a->n || memcmp(a->ints, b->ints, sizeof(int64_t) * (size_t)a->n) == 0);
  case TL_ATTR_FLOATS:
    return a->n == b->n && (!a->n || memcmp(a->floats, b->floats, sizeof(double) * (size_t)a->n) == 0);
  default: return false;
  }
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ULL;
  return h;
}

/* A contiguous host copy of a constant's elements, or NULL (a resource, a
 * string, too large, or unreadable). */
static tl_tensor *host_copy(tl_tensor *t) {
  if (!t || t->dtype == TL_RESOURCE || t->dtype == TL_STRING || t->size < 0 || t->size > CONST_READ_MAX) return NULL;
  tl_tensor *h = NULL, *c = NULL;
  if (tl_tensor_copy_to(t, TL_CPU, &h)) {
    tl_clear_error();
    return NULL;
  }
  tl_status s = tl_tensor_contiguous(h, &c);
  tl_tensor_release(h);
  if (s) {
    tl_clear_error();
    return NULL;
  }
  return c;
}

/* ---- rebuilding --------------------------------------------------------- */

typedef struct rebuild {
  tl_graph *g;       /* the graph being rewritten (its arrays are the old ones) */
  tl_gnode *nodes;   /* the new arrays */
  tl_gvalue *values;
  int n, nv, cap, capv;
  int *vmap;         /* old value id -> new value id (-1: gone) */
  tl_tensor **host;  /* per new node: host copy of a constant (lazy; NULL) */
  bool *host_tried;
  int *epoch;        /* per new node: writes of state seen before it */
  int cur_epoch;
  /* CSE: open addressing over new node indices */
  int *slot;
  uint64_t *slot_hash;
  int n_slots;
} rebuild;

static void rb_free(rebuild *b) {
  if (b->host)
    for (int i = 0; i < b->cap; i++) tl_tensor_release(b->host[i]);
  free(b->nodes);
  free(b->values);
  free(b->vmap);
  free(b->host);
  free(b->host_tried);
  free(b->epoch);
  free(b->slot);
  free(b->slot_hash);
  memset(b, 0, sizeof *b);
}

/* Allocates everything a sweep may need, so that the sweep itself cannot
 * fail halfway: folding replaces a node of n_out outputs by n_out
 * constant nodes, so the new graph has at most n_nodes + the sum of
 * (n_out - 1) nodes, and at most n_values values. */
static tl_status rb_begin(rebuild *b, tl_graph *g, bool cse) {
  memset(b, 0, sizeof *b);
  b->g = g;
  b->cap = g->n_nodes + 1;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].n_out > 1) b->cap += g->nodes[i].n_out - 1;
  b->capv = g->n_values + 1;
  b->nodes = calloc((size_t)b->cap, sizeof *b->nodes);
  b->values = calloc((size_t)b->capv, sizeof *b->values);
  b->vmap = malloc(sizeof(int) * (size_t)b->capv);
  b->host = calloc((size_t)b->cap, sizeof *b->host);
  b->host_tried = calloc((size_t)b->cap, sizeof *b->host_tried);
  b->epoch = calloc((size_t)b->cap, sizeof *b->epoch);
  if (cse) {
    b->n_slots = 64;
    while (b->n_slots < 2 * b->cap) b->n_slots *= 2;
    b->slot = malloc(sizeof(int) * (size_t)b->n_slots);
    b->slot_hash = malloc(sizeof(uint64_t) * (size_t)b->n_slots);
  }
  if (!b->nodes || !b->values || !b->vmap || !b->host || !b->host_tried || !b->epoch ||
      (cse && (!b->slot || !b->slot_hash))) {
    rb_free(b);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  for (int i = 0; i < b->capv; i++) b->vmap[i] = -1;
  for (int i = 0; i < b->n_slots; i++) b->slot[i] = -1;
  return TL_OK;
}

/* Renumbers node n's inputs (old ids -> new ids). Called once per node. */
static void rb_map_inputs(rebuild *b, tl_gnode *n) {
  for (int k = 0; k < n->n_in; k++)
    if (n->in[k] >= 0) n->in[k] = b->vmap[n->in[k]];
}

static const tl_gnode *rb_producer(const rebuild *b, int vid) { return &b->nodes[b->values[vid].node]; }
static const tl_meta *rb_meta(const rebuild *b, int vid) { return &b->values[vid].meta; }

static bool is_barrier(const tl_gnode *n) {
  if (n->kind == TL_NODE_OP) return (n->op->flags & TL_OP_STATEFUL) != 0;
  return n->kind == TL_NODE_COND || n->kind == TL_NODE_WHILE || n->kind == TL_NODE_CALL;
}

/* Moves old node i (inputs already mapped) to the new arrays; returns its new index. */
static int rb_keep(rebuild *b, int i) {
  tl_gnode *n = &b->g->nodes[i];
  int k = b->n++;
  int old0 = n->out0;
  b->nodes[k] = *n;
  memset(n, 0, sizeof *n);
  tl_gnode *d = &b->nodes[k];
  d->out0 = b->nv;
  for (int p = 0; p < d->n_out; p++) {
    b->values[b->nv + p] = b->g->values[old0 + p];
    b->values[b->nv + p].node = k;
    b->values[b->nv + p].port = p;
    b->vmap[old0 + p] = b->nv + p;
  }
  b->nv += d->n_out;
  b->epoch[k] = b->cur_epoch;
  if (is_barrier(d)) b->cur_epoch++;
  return k;
}

/* Drops old node i: its outputs must be aliased already (or unused). */
static void rb_drop(rebuild *b, int i) { tlg_node_clear(&b->g->nodes[i]); }

/* Appends a constant node holding t (retained); returns its new value id. */
static int rb_add_const(rebuild *b, tl_tensor *t, const char *where) {
  int k = b->n++;
  tl_gnode *d = &b->nodes[k];
  memset(d, 0, sizeof *d);
  d->kind = TL_NODE_CONST;
  d->capture = -1;
  d->iparam = -1;
  d->n_out = 1;
  d->out0 = b->nv;
  d->value = tl_tensor_retain(t);
  if (where) d->where = strdup(where); /* only a label: NULL when out of memory */
  b->values[b->nv].node = k;
  b->values[b->nv].port = 0;
  b->values[b->nv].meta = t->meta;
  b->epoch[k] = b->cur_epoch;
  return b->nv++;
}

/* The host copy of the constant producing new value vid, or NULL. */
static tl_tensor *rb_const_host(rebuild *b, int vid) {
  int k = b->values[vid].node;
  const tl_gnode *n = &b->nodes[k];
  if (n->kind != TL_NODE_CONST) return NULL;
  if (!b->host_tried[k]) {
    b->host_tried[k] = true;
    b->host[k] = host_copy(n->value);
  }
  return b->host[k];
}

/* Whether new value vid is a constant whose every element equals v (or
 * the output of zeros/ones/zeros_like/ones_like, whatever its shape). */
static bool rb_const_all(rebuild *b, int vid, double v) {
  if (vid < 0) return false;
  const tl_gnode *p = &b->nodes[b->values[vid].node];
  if (p->kind == TL_NODE_OP) {
    tl_dtype_kind kind = tl_dtypes[b->values[vid].meta.dtype].kind;
    if (kind != TL_KIND_FLOAT && kind != TL_KIND_INT && kind != TL_KIND_UINT) return false;
    if (v == 0 && (is_op(p, "zeros") || is_op(p, "zeros_like"))) return true;
    return v == 1 && (is_op(p, "ones") || is_op(p, "ones_like"));
  }
  tl_tensor *h = rb_const_host(b, vid);
  if (!h) return false;
  tl_dtype_kind kind = tl_dtypes[h->dtype].kind;
  if (kind != TL_KIND_FLOAT && kind != TL_KIND_INT && kind != TL_KIND_UINT) return false;
  for (int64_t i = 0; i < h->size; i++)
    if (tl_load_f64(h->storage->data, h->dtype, h->offset + i) != v) return false;
  return true;
}

/* Ends the sweep: the new arrays replace the old ones. */
static void rb_finish(rebuild *b) {
  tl_graph *g = b->g;
  for (int i = 0; i < g->n_args; i++) g->args[i] = b->vmap[g->args[i]];
  for (int i = 0; i < g->n_outputs; i++) g->outputs[i] = b->vmap[g->outputs[i]];
  for (int i = 0; i < b->n; i++) {
    tl_gnode *n = &b->nodes[i];
    for (int s = 0; s < n->n_sub; s++) {
      tl_graph *sub = n->sub[s];
      for (int j = 0; sub && j < sub->n_nodes; j++)
        if (sub->nodes[j].kind == TL_NODE_ARG && sub->nodes[j].capture >= 0 && sub->nodes[j].capture < g->n_values)
          sub->nodes[j].capture = b->vmap[sub->nodes[j].capture];
    }
  }
  free(g->nodes);
  free(g->values);
  g->nodes = b->nodes;
  g->values = b->values;
  g->n_nodes = b->n;
  g->cap_nodes = b->cap;
  g->n_values = b->nv;
  g->cap_values = b->capv;
  b->nodes = NULL;
  b->values = NULL;
  tl_graph_invalidate(g);
}

static void rb_end(rebuild *b) { rb_free(b); }

/* ---- dead-code elimination ------------------------------------------------ */

static tl_status dce(tl_graph *g, tl_graph_stats *st, bool *changed) {
  int nn = g->n_nodes;
  bool *live = calloc((size_t)(nn ? nn : 1), 1);
  if (!live) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int i = 0; i < g->n_outputs; i++) live[g->values[g->outputs[i]].node] = true;
  int dead = 0;
  for (int i = nn - 1; i >= 0; i--) {
    tl_gnode *n = &g->nodes[i];
    if (!live[i] && (n->kind == TL_NODE_ARG || node_effectful(n, 0))) live[i] = true;
    if (!live[i]) {
      dead++;
      continue;
    }
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] >= 0) live[g->values[n->in[k]].node] = true;
    /* A capture names an enclosing value too (it is passed as an input
     * as well; this keeps it alive whatever the convention). */
    for (int s = 0; s < n->n_sub; s++)
      for (int j = 0; n->sub[s] && j < n->sub[s]->n_nodes; j++) {
        int c = n->sub[s]->nodes[j].kind == TL_NODE_ARG ? n->sub[s]->nodes[j].capture : -1;
        if (c >= 0 && c < g->n_values) live[g->values[c].node] = true;
      }
  }
  if (!dead) {
    free(live);
    return TL_OK;
  }
  rebuild b;
  tl_status s = rb_begin(&b, g, false);
  if (s) {
    free(live);
    return s;
  }
  for (int i = 0; i < nn; i++) {
    rb_map_inputs(&b, &g->nodes[i]);
    if (live[i]) rb_keep(&b, i);
    else rb_drop(&b, i);
  }
  rb_finish(&b);
  rb_end(&b);
  free(live);
  st->dce_removed += dead;
  *changed = true;
  return TL_OK;
}

/* ---- common subexpressions -------------------------------------------------- */

/* Whether node n may be merged with an equal earlier one. */
static bool cse_candidate(const tl_gnode *n) {
  if (n->kind == TL_NODE_CONST) return true;
  return n->kind == TL_NODE_OP && op_pure(n->op);
}

/* Binary ops whose operands commute exactly (IEEE addition and
 * multiplication do; maximum/minimum may not for -0 and +0). */
static bool commutes(const tl_gnode *n) {
  static const char *const names[] = {"add", "multiply", "equal", "not_equal", "logical_and", "logical_or", "logical_xor"};
  if (n->n_in != 2) return false;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(n->op->name, names[i]) == 0) return true;
  return false;
}

/* c_host: a constant node's host copy (NULL: unreadable). */
static uint64_t cse_hash(const tl_gnode *n, int epoch, tl_tensor *c_host) {
  uint64_t h = 0xcbf29ce484222325ULL;
  h = fnv(h, &n->kind, sizeof n->kind);
  if (n->kind == TL_NODE_CONST) {
    tl_tensor *t = n->value;
    tl_variable *v = tl_resource_peek(t);
    if (v) return fnv(h, &v, sizeof v);
    h = fnv(h, &t->dtype, sizeof t->dtype);
    h = fnv(h, &t->rank, sizeof t->rank);
    h = fnv(h, t->shape, sizeof(int64_t) * (size_t)(t->rank > 0 ? t->rank : 0));
    if (c_host) return fnv(h, tl_tensor_data(c_host), (size_t)c_host->size * tl_dtypes[c_host->dtype].size);
    return fnv(h, &t, sizeof t); /* unreadable: only the same tensor matches */
  }
  h = fnv(h, &n->op->id, sizeof n->op->id);
  h = fnv(h, &n->n_in, sizeof n->n_in);
  if (commutes(n)) {
    int lo = n->in[0] < n->in[1] ? n->in[0] : n->in[1], hi = n->in[0] ^ n->in[1] ^ lo;
    h = fnv(h, &lo, sizeof lo);
    h = fnv(h, &hi, sizeof hi);
  } else {
    h = fnv(h, n->in, sizeof(int) * (size_t)n->n_in);
  }
  if (op_reads_state(n->op)) h = fnv(h, &epoch, sizeof epoch);
  for (int i = 0; i < n->op->n_attrs; i++) {
    const tl_attr *a = &n->attr[i];
    /* Defaults hash like absent attributes (attr_equal treats them alike). */
    if (!a->present || tlg_attr_is_default(n->op, i, a)) continue;
    h = fnv(h, &i, sizeof i);
    switch (n->op->attr[i].type) {
    case TL_ATTR_INT: h = fnv(h, &a->i, sizeof a->i); break;
    case TL_ATTR_FLOAT: h = fnv(h, &a->f, sizeof a->f); break;
    case TL_ATTR_BOOL: h = fnv(h, &a->b, sizeof a->b); break;
    case TL_ATTR_DTYPE: h = fnv(h, &a->dtype, sizeof a->dtype); break;
    case TL_ATTR_STRING: h = fnv(h, a->s ? a->s : "", strlen(a->s ? a->s : "")); break;
    case TL_ATTR_INTS: h = fnv(h, a->ints, sizeof(int64_t) * (size_t)a->n); break;
    case TL_ATTR_FLOATS: h = fnv(h, a->floats, sizeof(double) * (size_t)a->n); break;
    default: break;
    }
  }
  return h;
}

/* Whether n (an old node, inputs mapped, to be placed at epoch) computes
 * what new node m computes. c_host: n's constant host copy (or NULL). */
static bool cse_same(rebuild *b, const tl_gnode *n, int epoch, tl_tensor *c_host, int m) {
  const tl_gnode *o = &b->nodes[m];
  if (o->kind != n->kind) return false;
  if (n->kind == TL_NODE_CONST) {
    tl_tensor *x = n->value, *y = o->value;
    if (x == y) return true;
    tl_variable *vx = tl_resource_peek(x), *vy = tl_resource_peek(y);
    if (x->dtype == TL_RESOURCE || y->dtype == TL_RESOURCE) return vx && vx == vy;
    if (!meta_eq(&x->meta, &y->meta) || tl_tensor_device(x) != tl_tensor_device(y)) return false;
    tl_tensor *hy = rb_const_host(b, o->out0);
    return c_host && hy && memcmp(tl_tensor_data(c_host), tl_tensor_data(hy),
                                  (size_t)c_host->size * tl_dtypes[c_host->dtype].size) == 0;
  }
  if (o->op != n->op || o->n_in != n->n_in || o->n_out != n->n_out) return false;
  if (n->n_in && memcmp(o->in, n->in, sizeof(int) * (size_t)n->n_in) != 0 &&
      !(commutes(n) && o->in[0] == n->in[1] && o->in[1] == n->in[0]))
    return false;
  if (op_reads_state(n->op) && b->epoch[m] != epoch) return false;
  for (int i = 0; i < n->op->n_attrs; i++)
    if (!attr_equal(n->op, i, &n->attr[i], &o->attr[i])) return false;
  return true;
}

static void cse_insert(rebuild *b, int m, uint64_t h) {
  int mask = b->n_slots - 1;
  for (int s = (int)(h & (uint64_t)mask);; s = (s + 1) & mask)
    if (b->slot[s] < 0) {
      b->slot[s] = m;
      b->slot_hash[s] = h;
      return;
    }
}

/* The new node equal to old node n, or -1. */
static int cse_find(rebuild *b, const tl_gnode *n, uint64_t h, tl_tensor *c_host) {
  int mask = b->n_slots - 1;
  for (int s = (int)(h & (uint64_t)mask); b->slot[s] >= 0; s = (s + 1) & mask)
    if (b->slot_hash[s] == h && cse_same(b, n, b->cur_epoch, c_host, b->slot[s])) return b->slot[s];
  return -1;
}

/* ---- no-op views and casts ---------------------------------------------------- */

static bool ints_all(const tl_attr *a, int64_t v) {
  for (int i = 0; a && i < a->n; i++)
    if (a->ints[i] != v) return false;
  return a != NULL;
}

/* transpose's permutation (the default reverses), in p; false when unknown. */
static bool transpose_perm(const rebuild *b, const tl_gnode *n, int64_t *p, int *rank) {
  const tl_attr *a = attr_of(n, "perm");
  int r = rb_meta(b, n->in[0])->rank;
  if (a) {
    if (a->n > TL_MAX_RANK || (r >= 0 && a->n != r)) return false;
    for (int i = 0; i < a->n; i++) {
      int64_t q = a->ints[i] < 0 ? a->ints[i] + a->n : a->ints[i];
      if (q < 0 || q >= a->n) return false;
      p[i] = q;
    }
    *rank = a->n;
    return true;
  }
  if (r < 0) return false;
  for (int i = 0; i < r; i++) p[i] = r - 1 - i;
  *rank = r;
  return true;
}

static bool is_reshaping_view(const tl_gnode *n) {
  return is_op(n, "reshape") || is_op(n, "squeeze") || is_op(n, "expand_dims");
}

/* The value a no-op node stands for (new id), or -1. */
static int noop_alias(rebuild *b, const tl_gnode *n) {
  if (n->n_out != 1 || n->n_in < 1 || n->in[0] < 0) return -1;
  const tl_meta *out = &b->g->values[n->out0].meta;
  int x = n->in[0];
  const tl_meta *in = rb_meta(b, x);
  /* A chain of reshapes, squeezes and expand_dims back to a value of the
   * same shape (they keep the element order). */
  if (is_reshaping_view(n) && meta_known(out)) {
    int v = x;
    for (int hops = 0; hops < 32; hops++) {
      if (meta_eq(rb_meta(b, v), out)) return v;
      const tl_gnode *p = rb_producer(b, v);
      if (!is_reshaping_view(p) || p->in[0] < 0) break;
      v = p->in[0];
    }
  }
  if (!meta_eq(in, out)) return -1;
  if (is_op(n, "identity") || is_op(n, "cast")) return x; /* equal metas: the same dtype */
  if (n->n_in == 1 && (is_op(n, "concat") || is_op(n, "add_n"))) return x;
  if (is_op(n, "reshape")) return meta_determined_by_count(out) ? x : -1;
  if (is_op(n, "squeeze") || is_op(n, "expand_dims") || is_op(n, "broadcast_to")) return meta_known(out) ? x : -1;
  if (is_op(n, "transpose")) {
    int64_t p[TL_MAX_RANK];
    int r;
    if (!transpose_perm(b, n, p, &r)) return -1;
    for (int i = 0; i < r; i++)
      if (p[i] != i) return -1;
    return x;
  }
  if (is_op(n, "tile")) return ints_all(attr_of(n, "multiples"), 1) ? x : -1;
  if (is_op(n, "reverse")) {
    const tl_attr *a = attr_of(n, "axis");
    for (int i = 0; a && i < a->n; i++) {
      int64_t ax = a->ints[i] < 0 ? a->ints[i] + in->rank : a->ints[i];
      if (in->rank < 0 || ax < 0 || ax >= in->rank || in->shape[ax] != 1) return -1;
    }
    return a ? x : -1;
  }
  if (is_op(n, "slice")) {
    const tl_attr *bg = attr_of(n, "begin"), *sz = attr_of(n, "size");
    if (!ints_all(bg, 0) || !sz || sz->n != in->rank) return -1;
    for (int i = 0; i < sz->n; i++)
      if (sz->ints[i] != -1 && (in->shape[i] < 0 || sz->ints[i] != in->shape[i])) return -1;
    return x;
  }
  if (is_op(n, "pad") && n->n_in >= 2 && rb_const_all(b, n->in[1], 0)) return x;
  return -1;
}

/* ---- algebraic simplification --------------------------------------------------- */

/* x op c yields x itself when c broadcasts against x without growing it. */
static bool trivial_broadcast(const rebuild *b, int x, int c, const tl_meta *out) {
  const tl_meta *xm = rb_meta(b, x), *cm = rb_meta(b, c);
  if (!meta_eq(xm, out) || xm->rank < 0 || cm->rank < 0 || cm->rank > xm->rank) return false;
  for (int j = 0; j < cm->rank; j++) {
    int64_t cd = cm->shape[cm->rank - 1 - j], xd = xm->shape[xm->rank - 1 - j];
    if (cd != 1 && (xd < 0 || cd != xd)) return false;
  }
  return true;
}

/* Whether every value of dtype `from` survives a cast to `to` and back. */
static bool cast_round_trips(tl_dtype from, tl_dtype to) {
  if (from == to) return true;
  tl_dtype_kind fk = tl_dtypes[from].kind, tk = tl_dtypes[to].kind;
  size_t fs = tl_dtypes[from].size, ts = tl_dtypes[to].size;
  if (fk == TL_KIND_BOOL) return tk == TL_KIND_FLOAT || tk == TL_KIND_INT || tk == TL_KIND_UINT;
  if (fk == TL_KIND_FLOAT) return tk == TL_KIND_FLOAT && ts > fs; /* f16, bf16 < f32 < f64 */
  if (fk != TL_KIND_INT && fk != TL_KIND_UINT) return false;
  if (tk == TL_KIND_INT) return ts > fs;
  if (tk == TL_KIND_UINT) return fk == TL_KIND_UINT && ts > fs;
  if (tk == TL_KIND_FLOAT) return (to == TL_FLOAT32 && fs <= 2) || (to == TL_FLOAT64 && fs <= 4);
  return false;
}

/* The value a simplifiable node stands for (new id), or -1. */
static int simplify_alias(rebuild *b, const tl_gnode *n) {
  if (n->n_out != 1 || n->n_in < 1 || n->in[0] < 0) return -1;
  const tl_meta *out = &b->g->values[n->out0].meta;
  if (n->n_in == 1 && (is_op(n, "negative") || is_op(n, "logical_not"))) {
    const tl_gnode *p = rb_producer(b, n->in[0]);
    if (p->kind == TL_NODE_OP && p->op == n->op && p->in[0] >= 0 && meta_eq(rb_meta(b, p->in[0]), out)) return p->in[0];
    return -1;
  }
  if (is_op(n, "cast")) { /* cast(cast(x, wider), x's dtype) */
    const tl_gnode *p = rb_producer(b, n->in[0]);
    if (is_op(p, "cast") && p->in[0] >= 0 && meta_eq(rb_meta(b, p->in[0]), out) &&
        cast_round_trips(out->dtype, rb_meta(b, n->in[0])->dtype))
      return p->in[0];
    return -1;
  }
  if (is_op(n, "transpose")) {
    const tl_gnode *p = rb_producer(b, n->in[0]);
    if (!is_op(p, "transpose") || p->in[0] < 0 || !meta_eq(rb_meta(b, p->in[0]), out)) return -1;
    int64_t p1[TL_MAX_RANK], p2[TL_MAX_RANK];
    int r1, r2;
    if (!transpose_perm(b, p, p1, &r1) || !transpose_perm(b, n, p2, &r2) || r1 != r2) return -1;
    for (int i = 0; i < r2; i++) /* out[i] = mid[p2[i]] = in[p1[p2[i]]] */
      if (p1[p2[i]] != i) return -1;
    return p->in[0];
  }
  if (n->n_in != 2 || n->in[1] < 0) return -1;
  int x = n->in[0], y = n->in[1];
  if (is_op(n, "add")) {
    if (rb_const_all(b, y, 0) && trivial_broadcast(b, x, y, out)) return x;
    if (rb_const_all(b, x, 0) && trivial_broadcast(b, y, x, out)) return y;
  } else if (is_op(n, "multiply")) {
    if (rb_const_all(b, y, 1) && trivial_broadcast(b, x, y, out)) return x;
    if (rb_const_all(b, x, 1) && trivial_broadcast(b, y, x, out)) return y;
  } else if (is_op(n, "subtract")) {
    if (rb_const_all(b, y, 0) && trivial_broadcast(b, x, y, out)) return x;
  } else if (is_op(n, "divide") || is_op(n, "truediv") || is_op(n, "divide_no_nan") || is_op(n, "pow")) {
    if (rb_const_all(b, y, 1) && trivial_broadcast(b, x, y, out)) return x;
  }
  return -1;
}

/* ---- constant folding ------------------------------------------------------------ */

static int64_t meta_bytes(const tl_meta *m) {
  if (!meta_known(m)) return -1;
  int64_t n = tl_shape_numel(m->rank, m->shape);
  return n < 0 ? INT64_MAX : n * (int64_t)tl_dtypes[m->dtype].size;
}

/* Runs node n (inputs mapped) on its constant inputs and appends its
 * results as constants; false (nothing changed) when it cannot. */
static bool try_fold(rebuild *b, const tl_gnode *n) {
  if (!op_pure(n->op) || n->n_out < 1) return false;
  bool any = false;
  for (int k = 0; k < n->n_in; k++) {
    if (n->in[k] < 0) continue;
    const tl_gnode *p = rb_producer(b, n->in[k]);
    if (p->kind != TL_NODE_CONST || p->value->dtype == TL_RESOURCE) return false;
    any = true;
  }
  /* An op without tensor inputs runs on the default device of the call,
   * which folding would fix now: left to run. */
  if (!any) return false;
  int64_t total = 0;
  for (int k = 0; k < n->n_out; k++) {
    int64_t by = meta_bytes(&b->g->values[n->out0 + k].meta);
    if (by > FOLD_MAX_BYTES || (by > 0 && (total += by) > FOLD_MAX_BYTES)) return false;
  }
  tl_tensor *small[16], **ins = small;
  if (n->n_in > 16 && !(ins = malloc(sizeof *ins * (size_t)n->n_in))) {
    tl_clear_error();
    return false;
  }
  for (int k = 0; k < n->n_in; k++) ins[k] = n->in[k] >= 0 ? rb_producer(b, n->in[k])->value : NULL;
  tl_tensor_list res;
  tl_list_init(&res);
  tl_trace_pause(); /* run it, even when optimizing inside an enclosing trace */
  tl_status s = tl_op_run(n->op, ins, n->n_in, n->attr, &res);
  tl_trace_resume();
  if (ins != small) free(ins);
  if (s) {
    tl_clear_error(); /* it fails when the graph runs, with its message */
    return false;
  }
  bool ok = res.n == n->n_out;
  total = 0;
  for (int k = 0; k < res.n && ok; k++) {
    int64_t by = meta_bytes(&res.items[k]->meta);
    ok = by >= 0 && (total += by) <= FOLD_MAX_BYTES && res.items[k]->dtype != TL_RESOURCE;
  }
  if (ok)
    for (int k = 0; k < res.n; k++) {
      tl_tensor *t = res.items[k], *c = NULL;
      /* Views of CPU constants are stored compactly. */
      if (tl_tensor_device(t) == TL_CPU && !tl_tensor_is_contiguous(t)) {
        if (tl_tensor_contiguous(t, &c)) tl_clear_error(); /* the view then */
        else t = c;
      }
      b->vmap[n->out0 + k] = rb_add_const(b, t, n->where);
      tl_tensor_release(c);
    }
  tl_list_clear(&res);
  return ok;
}

/* ---- one forward sweep: no-ops, simplification, folding, CSE ----------------------- */

static tl_status rewrite(tl_graph *g, unsigned passes, tl_graph_stats *st, bool *changed) {
  rebuild b;
  bool cse = (passes & TL_OPT_CSE) != 0;
  tl_status s = rb_begin(&b, g, cse);
  if (s) return s;
  int nn = g->n_nodes;
  for (int i = 0; i < nn; i++) {
    tl_gnode *n = &g->nodes[i];
    rb_map_inputs(&b, n);
    bool sane = n->kind != TL_NODE_OP || attrs_sane(n);
    if (!sane) {
      rb_keep(&b, i);
      continue;
    }
    if (n->kind == TL_NODE_OP && op_pure(n->op)) {
      int alias = -1;
      if ((passes & TL_OPT_NOOP) && (alias = noop_alias(&b, n)) >= 0) st->noops_removed++;
      else if ((passes & TL_OPT_SIMPLIFY) && (alias = simplify_alias(&b, n)) >= 0) st->simplified++;
      if (alias >= 0) {
        b.vmap[n->out0] = alias;
        rb_drop(&b, i);
        *changed = true;
        continue;
      }
      if ((passes & TL_OPT_FOLD) && try_fold(&b, n)) {
        int first = b.n - n->n_out;
        if (cse)
          for (int k = first; k < b.n; k++)
            cse_insert(&b, k, cse_hash(&b.nodes[k], 0, rb_const_host(&b, b.nodes[k].out0)));
        st->folded++;
        rb_drop(&b, i);
        *changed = true;
        continue;
      }
    }
    if (cse && cse_candidate(n)) {
      tl_tensor *c_host = n->kind == TL_NODE_CONST ? host_copy(n->value) : NULL;
      uint64_t h = cse_hash(n, b.cur_epoch, c_host);
      int m = cse_find(&b, n, h, c_host);
      if (m >= 0) {
        for (int k = 0; k < n->n_out; k++) b.vmap[n->out0 + k] = b.nodes[m].out0 + k;
        tl_tensor_release(c_host);
        rb_drop(&b, i);
        st->cse_merged++;
        *changed = true;
        continue;
      }
      int k = rb_keep(&b, i);
      if (b.nodes[k].kind == TL_NODE_CONST) { /* (n's slot is empty now) */
        b.host[k] = c_host;                   /* the node's copy from now on */
        b.host_tried[k] = true;
      }
      cse_insert(&b, k, h);
      continue;
    }
    rb_keep(&b, i);
  }
  rb_finish(&b);
  rb_end(&b);
  return TL_OK;
}

/* ---- driver ------------------------------------------------------------------------ */

static tl_status optimize_graph(tl_graph *g, unsigned passes, tl_graph_stats *st, int depth) {
  if (depth > MAX_DEPTH) return TL_OK;
  tl_status s = TL_OK;
  /* Subgraphs first, each on its own (a shared one is copied first, so
   * other holders keep theirs). */
  for (int i = 0; i < g->n_nodes && !s; i++) {
    tl_gnode *n = &g->nodes[i];
    for (int k = 0; k < n->n_sub && !s; k++) {
      if (!n->sub[k]) continue;
      if (n->sub[k]->refcount > 1) {
        tl_graph *c;
        if ((s = tl_graph_copy(n->sub[k], &c))) break;
        tl_graph_release(n->sub[k]);
        n->sub[k] = c;
      }
      s = optimize_graph(n->sub[k], passes, st, depth + 1);
    }
  }
  unsigned sweep = passes & (TL_OPT_CSE | TL_OPT_FOLD | TL_OPT_NOOP | TL_OPT_SIMPLIFY);
  for (int round = 0; round < MAX_ROUNDS && !s; round++) {
    bool changed = false;
    if (sweep) s = rewrite(g, sweep, st, &changed);
    if (!s && (passes & TL_OPT_DCE)) s = dce(g, st, &changed);
    if (!changed) break;
  }
  return s;
}

tl_status tl_graph_optimize(tl_graph *g, unsigned passes) {
  if (!g->stats.nodes_before) g->stats.nodes_before = g->n_nodes;
  tl_status s = optimize_graph(g, passes, &g->stats, 0);
  if (!s && (passes & TL_OPT_FUSE)) s = tlg_fuse(g);
  g->opt_passes |= passes;
  g->stats.nodes_after = g->n_nodes;
  /* The executor's plan now, so stats() shows the memory plan at once. */
  if (!s && (passes & (TL_OPT_MEMORY | TL_OPT_PARALLEL))) s = tlg_plan(g);
  tl_graph_invalidate(g);
  return s;
}
