/* saved_model.c — reading the tlua saved-model file: named functions
 * (graphs) and the variables they capture, in one data-only binary file
 * (docs/file-formats.md, "tlua saved model", is the layout; the writer is
 * saved_model_write.c). Ops are found by name, attributes by name with a
 * type tag; a variable handle is an index into the file's variable list,
 * so functions that share a variable share it again after loading.
 *
 * Loading trusts nothing: every length is checked against the bytes left,
 * every count is bounded by them before anything is allocated, subgraphs
 * nest at most TLSM_MAX_DEPTH deep, a CRC-32 over the body catches damage, and
 * the graph that comes out passes tl_graph_validate and has every OP
 * node's stored output metas confirmed by the op's own shape rule run on
 * its stored input metas. A bad file is a DataLoss error (an unknown op or
 * a newer format version: Unimplemented), never a crash. Loading executes
 * nothing from the file: ops are looked up in this process's registry.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/saved_model_format.h"

/* ======================================================================
 * reading
 * ====================================================================== */

typedef struct rbuf {
  const unsigned char *p, *end;
  const char *what; /* for messages: "function 'serving_default'" */
} rbuf;

static tl_status corrupt(const rbuf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static tl_status corrupt(const rbuf *r, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tl_error(TL_DATA_LOSS, "saved model: %s%s%s", r->what ? r->what : "", r->what ? ": " : "", msg);
}

static size_t left(const rbuf *r) { return (size_t)(r->end - r->p); }

static tl_status r_bytes(rbuf *r, void *out, size_t n) {
  if (left(r) < n) {
    memset(out, 0, n); /* defined values on every path, whatever the caller does next */
    return corrupt(r, "the file is truncated");
  }
  memcpy(out, r->p, n);
  r->p += n;
  return TL_OK;
}
#define R_SCALAR(fn, type)                            \
  static tl_status fn(rbuf *r, type *v) { return r_bytes(r, v, sizeof *v); }
R_SCALAR(r_u8, uint8_t)
R_SCALAR(r_u32, uint32_t)
R_SCALAR(r_i32, int32_t)
R_SCALAR(r_u64, uint64_t)
R_SCALAR(r_i64, int64_t)
R_SCALAR(r_f64, double)

/* A count of items of at least `each` bytes: never more than the bytes left can hold. */
static tl_status r_count(rbuf *r, size_t each, uint32_t max, int *out) {
  uint32_t n;
  tl_status s = r_u32(r, &n);
  if (s) return s;
  if (n > max || (each && (uint64_t)n * each > left(r))) return corrupt(r, "a count (%" PRIu32 ") is larger than the file allows", n);
  *out = (int)n;
  return TL_OK;
}

/* A malloc'd NUL-terminated string; *out is NULL for an absent optional one. */
static tl_status r_str_impl(rbuf *r, bool optional, char **out) {
  *out = NULL;
  uint32_t n;
  tl_status s = r_u32(r, &n);
  if (s) return s;
  if (n == 0xFFFFFFFFu && optional) return TL_OK;
  if (n > TLSM_MAX_NAME || n > left(r)) return corrupt(r, "a string of %" PRIu32 " bytes runs past the file or the limit", n);
  char *c = malloc((size_t)n + 1);
  if (!c) return tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory");
  memcpy(c, r->p, n);
  c[n] = 0;
  if (memchr(c, 0, n)) {
    free(c);
    return corrupt(r, "a string holds a NUL byte");
  }
  r->p += n;
  *out = c;
  return TL_OK;
}
static tl_status r_str(rbuf *r, char **out) { return r_str_impl(r, false, out); }
static tl_status r_optstr(rbuf *r, char **out) { return r_str_impl(r, true, out); }

static tl_status r_dtype(rbuf *r, tl_dtype *out) {
  uint8_t n;
  tl_status s = r_u8(r, &n);
  if (s) return s;
  char name[32];
  if (n == 0 || n >= sizeof name) return corrupt(r, "a dtype name of %u bytes", n);
  if ((s = r_bytes(r, name, n))) return s;
  name[n] = 0;
  tl_dtype d = tl_dtype_from_name(name);
  if (d == TL_DTYPE_COUNT) return corrupt(r, "unknown dtype '%.31s'", name);
  *out = d;
  return TL_OK;
}

static tl_status r_meta(rbuf *r, tl_meta *m) {
  memset(m, 0, sizeof *m);
  tl_status s = r_dtype(r, &m->dtype);
  uint8_t rank;
  if (!s) s = r_u8(r, &rank);
  if (s) return s;
  int rk = (int8_t)rank;
  if (rk < -1 || rk > TL_MAX_RANK) return corrupt(r, "a rank of %d", rk);
  m->rank = rk;
  for (int i = 0; i < rk; i++) {
    if ((s = r_i64(r, &m->shape[i]))) return s;
    if (m->shape[i] < -1) return corrupt(r, "a dimension of %" PRId64, m->shape[i]);
  }
  /* The known dimensions times the element size must fit in an int64 (a
     memory planner multiplies them out). */
  int64_t bytes = (int64_t)tl_dtypes[m->dtype].size;
  for (int i = 0; i < rk; i++)
    if (m->shape[i] >= 0 && __builtin_mul_overflow(bytes, m->shape[i], &bytes))
      return corrupt(r, "a shape whose size in bytes overflows");
  return TL_OK;
}

static tl_status r_tensor(rbuf *r, tl_tensor **out) {
  uint64_t n;
  tl_status s = r_u64(r, &n);
  if (s) return s;
  if (n > left(r)) return corrupt(r, "a tensor of %" PRIu64 " bytes runs past the file", n);
  s = tl_tensor_parse(r->p, (size_t)n, out);
  if (s) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", tl_last_error());
    return corrupt(r, "a tensor is damaged: %s", msg);
  }
  r->p += n;
  return TL_OK;
}

static bool same_meta(const tl_meta *a, const tl_meta *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

/* The graphs enclosing the one being read, for capture ids and variable
 * handles behind captured resource arguments. */
typedef struct scope {
  const tl_graph *g;
  const struct scope *parent;
} scope;

/* The handle tensor a resource value stands for (a variable constant,
 * possibly through captures), or NULL. */
static tl_tensor *resolve_resource(const scope *sc, int vid) {
  for (int hops = 0; sc && hops <= TLSM_MAX_DEPTH + 1; hops++) {
    if (vid < 0 || vid >= sc->g->n_values) return NULL;
    const tl_gnode *n = &sc->g->nodes[sc->g->values[vid].node];
    if (n->kind == TL_NODE_CONST) return n->value;
    if (n->kind != TL_NODE_ARG || n->capture < 0) return NULL;
    vid = n->capture;
    sc = sc->parent;
  }
  return NULL;
}

/* The op's shape rule on the stored input metas must give the stored
 * output metas. Inputs are stand-in symbolic tensors (meta only); a
 * resource input is the variable handle it resolves to. */
static tl_status check_shapes(rbuf *r, const scope *sc, const tl_op_def *op, const int *in, int n_in,
                              const tl_attr *attrs, const tl_meta *out, int n_out, int node) {
  static tl_storage probe_storage = {1 << 30, TL_CPU, 0, NULL, NULL};
  tl_tensor *probes = calloc((size_t)(n_in ? n_in : 1), sizeof *probes);
  tl_tensor **ins = calloc((size_t)(n_in ? n_in : 1), sizeof *ins);
  if (!probes || !ins) {
    free(probes);
    free(ins);
    return tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory");
  }
  tl_status s = TL_OK;
  for (int i = 0; i < n_in; i++) {
    if (in[i] < 0) continue;
    const tl_meta *m = &sc->g->values[in[i]].meta;
    if (m->dtype == TL_RESOURCE) {
      ins[i] = resolve_resource(sc, in[i]);
      if (!ins[i]) {
        s = corrupt(r, "node %d (%s): input %d is a resource that is no variable of the file", node, op->name, i + 1);
        break;
      }
      continue;
    }
    tl_tensor *p = &probes[i];
    p->meta = *m;
    p->refcount = 1 << 30;
    p->storage = &probe_storage;
    p->sym_value = 1;
    ins[i] = p;
  }
  tl_meta_list metas;
  tl_meta_list_init(&metas);
  if (!s && tl_op_infer(op, ins, n_in, attrs, &metas)) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", tl_last_error());
    s = corrupt(r, "node %d: the shape rule refuses the stored inputs: %s", node, msg);
  }
  if (!s && metas.n != n_out)
    s = corrupt(r, "node %d (%s) stores %d outputs, its shape rule makes %d", node, op->name, n_out, metas.n);
  for (int i = 0; i < n_out && !s; i++)
    if (!same_meta(&metas.items[i], &out[i])) {
      char a[200], b[200];
      s = corrupt(r, "node %d (%s): output %d is %s by the shape rule, the file says %s", node, op->name, i + 1,
                  tl_meta_describe(&metas.items[i], a, sizeof a), tl_meta_describe(&out[i], b, sizeof b));
    }
  tl_meta_list_free(&metas);
  free(probes);
  free(ins);
  return s;
}

static tl_status r_graph(rbuf *r, const tl_saved_model *m, const scope *parent, int depth, tl_graph **out);

static tl_status r_attrs(rbuf *r, const tl_op_def *op, tl_attr *attrs, int node) {
  int n;
  tl_status s = r_count(r, 6, TL_MAX_ATTRS, &n);
  if (s) return s;
  bool seen[TL_MAX_ATTRS] = {false};
  for (int k = 0; k < n; k++) {
    char *name;
    if ((s = r_str(r, &name))) return s;
    int a = tl_attr_index(op, name);
    if (a < 0) {
      s = corrupt(r, "node %d (%s) has an attribute '%.64s' that the op does not declare", node, op->name, name);
      free(name);
      return s;
    }
    free(name);
    if (seen[a]) return corrupt(r, "node %d (%s): attribute '%s' is given twice", node, op->name, op->attr[a].name);
    seen[a] = true;
    tl_attr_type ty = op->attr[a].type;
    uint8_t tag;
    if ((s = r_u8(r, &tag))) return s;
    if (tag != tlg_sm_attr_tag[ty])
      return corrupt(r, "node %d (%s): attribute '%s' has type tag %u, the op declares %u", node, op->name, op->attr[a].name,
                     tag, tlg_sm_attr_tag[ty]);
    tl_attr *at = &attrs[a];
    at->present = true;
    at->type = ty;
    at->ints = NULL;
    at->floats = NULL;
    at->s = NULL;
    switch (ty) {
    case TL_ATTR_INT: s = r_i64(r, &at->i); break;
    case TL_ATTR_FLOAT: s = r_f64(r, &at->f); break;
    case TL_ATTR_BOOL: {
      uint8_t b;
      if (!(s = r_u8(r, &b))) {
        if (b > 1) s = corrupt(r, "node %d (%s): a bool attribute holds %u", node, op->name, b);
        at->b = b == 1;
      }
      break;
    }
    case TL_ATTR_DTYPE: s = r_dtype(r, &at->dtype); break;
    case TL_ATTR_STRING: s = r_str(r, (char **)&at->s); break;
    case TL_ATTR_INTS:
    case TL_ATTR_FLOATS: {
      int cnt;
      if ((s = r_count(r, 8, 1u << 24, &cnt))) break;
      at->n = cnt;
      void *buf = malloc(8 * (size_t)(cnt ? cnt : 1));
      if (!buf) {
        s = tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory");
        break;
      }
      if (ty == TL_ATTR_INTS) at->ints = buf;
      else at->floats = buf;
      s = r_bytes(r, buf, 8 * (size_t)cnt);
      break;
    }
    default: s = tl_error(TL_INTERNAL, "saved model: attribute type %d", (int)ty);
    }
    if (s) return s;
  }
  return TL_OK;
}

static void free_read_attrs(const tl_op_def *op, tl_attr *attrs) {
  if (!op) return;
  for (int a = 0; a < op->n_attrs; a++) {
    /* Only what r_attrs allocated: defaults point into the op's declaration. */
    if (attrs[a].ints && attrs[a].ints != op->attr[a].def_ints) free(attrs[a].ints);
    if (attrs[a].floats && attrs[a].floats != op->attr[a].def_floats) free(attrs[a].floats);
    if (attrs[a].s && attrs[a].s != op->attr[a].def.s) free((char *)attrs[a].s);
  }
}

/* One node; appended to g. */
static tl_status r_node(rbuf *r, const tl_saved_model *m, const scope *sc, tl_graph *g, int depth, int index) {
  tl_status s;
  uint8_t tag;
  if ((s = r_u8(r, &tag))) return s;
  tl_node_kind kind = TL_NODE_KIND_COUNT;
  for (int k = 0; k < TL_NODE_KIND_COUNT; k++)
    if (tlg_sm_kind_tag[k] == tag) kind = (tl_node_kind)k;
  if (kind == TL_NODE_KIND_COUNT) return corrupt(r, "node %d has an unknown kind %u", index, tag);
  int n_in = 0, n_out = 0;
  int *in = NULL;
  tl_meta *metas = NULL;
  char *where = NULL, *name = NULL, *opname = NULL;
  tl_graph *subs[4] = {NULL};
  int n_sub = 0;
  tl_tensor *value = NULL;
  const tl_op_def *op = NULL;
  tl_attr attrs[TL_MAX_ATTRS];
  memset(attrs, 0, sizeof attrs);
  int node_k = -1;

  if ((s = r_count(r, 4, TLSM_MAX_NODES, &n_in))) goto done;
  if (!(in = malloc(sizeof(int) * (size_t)(n_in ? n_in : 1)))) goto oom;
  for (int k = 0; k < n_in && !s; k++) {
    int32_t v;
    if (!(s = r_i32(r, &v)) && (v < -1 || v >= g->n_values))
      s = corrupt(r, "node %d reads value %" PRId32 " before it is made", index, v);
    in[k] = v;
  }
  if (s) goto done;
  if ((s = r_count(r, 2, TLSM_MAX_NODES, &n_out))) goto done;
  if (!(metas = malloc(sizeof *metas * (size_t)(n_out ? n_out : 1)))) goto oom;
  for (int k = 0; k < n_out && !s; k++) s = r_meta(r, &metas[k]);
  if (s) goto done;
  if ((s = r_optstr(r, &where)) || (s = r_optstr(r, &name))) goto done;

  switch (kind) {
  case TL_NODE_ARG: {
    int32_t pos, capture;
    if ((s = r_i32(r, &pos)) || (s = r_i32(r, &capture))) goto done;
    if (n_in != 0 || n_out != 1) {
      s = corrupt(r, "argument node %d has %d inputs and %d outputs", index, n_in, n_out);
      goto done;
    }
    if (capture < -1 || (capture >= 0 && (!sc->parent || capture >= sc->parent->g->n_values))) {
      s = corrupt(r, "argument node %d captures value %" PRId32 ", which the enclosing graph lacks", index, capture);
      goto done;
    }
    if (metas[0].dtype == TL_RESOURCE && capture < 0) {
      s = corrupt(r, "argument node %d is a resource", index);
      goto done;
    }
    int vid;
    if ((s = tl_graph_add_arg(g, &metas[0], &vid))) goto done;
    node_k = g->values[vid].node;
    g->nodes[node_k].arg = pos; /* checked against the others once the graph is read */
    g->nodes[node_k].capture = capture;
    break;
  }
  case TL_NODE_CONST: {
    uint8_t form;
    if ((s = r_u8(r, &form))) goto done;
    if (n_in != 0 || n_out != 1) {
      s = corrupt(r, "constant node %d has %d inputs and %d outputs", index, n_in, n_out);
      goto done;
    }
    if (form == 0) {
      if ((s = r_tensor(r, &value))) goto done;
    } else if (form == 1) {
      uint32_t vi;
      if ((s = r_u32(r, &vi))) goto done;
      if (vi >= (uint32_t)m->n_variables) {
        s = corrupt(r, "constant node %d names variable %" PRIu32 " of %d", index, vi, m->n_variables);
        goto done;
      }
      value = tl_tensor_retain(m->variables[vi]->handle);
    } else {
      s = corrupt(r, "constant node %d has an unknown form %u", index, form);
      goto done;
    }
    int vid;
    if ((s = tl_graph_add_const(g, value, &vid))) goto done;
    node_k = g->values[vid].node;
    if (!same_meta(&g->values[vid].meta, &metas[0])) {
      char a[200], b[200];
      s = corrupt(r, "constant node %d is %s, the file says %s", index, tl_meta_describe(&g->values[vid].meta, a, sizeof a),
                  tl_meta_describe(&metas[0], b, sizeof b));
      goto done;
    }
    break;
  }
  case TL_NODE_OP: {
    if ((s = r_str(r, &opname))) goto done;
    op = tl_op_find(opname);
    if (!op) {
      s = tl_error(TL_UNIMPLEMENTED,
                   "saved model: %s%snode %d uses op '%.100s', which this tlua does not have (a file from a newer version?)",
                   r->what ? r->what : "", r->what ? ": " : "", index, opname);
      goto done;
    }
    tl_attrs_defaults(op, attrs);
    if ((s = r_attrs(r, op, attrs, index))) goto done;
    bool list = op->n_inputs && op->input[op->n_inputs - 1].list;
    int fixed = list ? op->n_inputs - 1 : op->n_inputs;
    if (list ? n_in < fixed : n_in != op->n_inputs) {
      s = corrupt(r, "node %d (%s) has %d inputs", index, op->name, n_in);
      goto done;
    }
    for (int a = 0; a < op->n_attrs; a++)
      if (!attrs[a].present && !op->attr[a].optional) {
        s = corrupt(r, "node %d (%s) lacks its attribute '%s'", index, op->name, op->attr[a].name);
        goto done;
      }
    if ((s = check_shapes(r, sc, op, in, n_in, attrs, metas, n_out, index))) goto done;
    int out0;
    if ((s = tl_graph_add_op(g, op, in, n_in, attrs, metas, n_out, where, &out0))) goto done;
    node_k = g->values[out0].node;
    break;
  }
  default: {
    int32_t arg;
    int64_t iparam;
    if ((s = r_i32(r, &arg)) || (s = r_i64(r, &iparam))) goto done;
    if ((s = r_count(r, 8, 4, &n_sub))) goto done;
    int want = kind == TL_NODE_CALL ? 1 : 2;
    if (n_sub != want) {
      s = corrupt(r, "%s node %d has %d subgraphs", kind == TL_NODE_COND ? "cond" : kind == TL_NODE_WHILE ? "while" : "call",
                  index, n_sub);
      n_sub = 0;
      goto done;
    }
    scope inner = {g, sc};
    for (int k = 0; k < n_sub; k++) {
      if ((s = r_graph(r, m, &inner, depth + 1, &subs[k]))) goto done;
    }
    /* The arities control.c relies on. */
    bool ok;
    if (kind == TL_NODE_CALL) {
      ok = subs[0]->n_args == n_in && subs[0]->n_outputs == n_out;
    } else if (kind == TL_NODE_COND) {
      ok = n_in >= 1 && arg >= 0 && arg <= n_in - 1 && subs[0]->n_args == arg && subs[1]->n_args == n_in - 1 - arg &&
           subs[0]->n_outputs == n_out && subs[1]->n_outputs == n_out && in[0] >= 0;
    } else {
      ok = arg >= 0 && arg <= n_in && n_out == arg && subs[0]->n_args == n_in && subs[1]->n_args == n_in &&
           subs[0]->n_outputs == 1 && subs[1]->n_outputs == arg && iparam >= -1;
    }
    for (int k = 0; ok && k < n_in; k++) ok = in[k] >= 0;
    if (!ok) {
      s = corrupt(r, "control-flow node %d's inputs, outputs and subgraphs do not agree", index);
      goto done;
    }
    if ((s = tl_graph_add_node(g, kind, in, n_in, subs, n_sub, metas, n_out, where, &node_k))) goto done;
    n_sub = 0; /* taken */
    g->nodes[node_k].arg = arg;
    g->nodes[node_k].iparam = iparam;
    break;
  }
  }
  if ((kind == TL_NODE_ARG || kind == TL_NODE_CONST) && where && !(g->nodes[node_k].where = strdup(where))) goto oom;
  if (name && !(g->nodes[node_k].name = strdup(name))) goto oom;
  goto done;
oom:
  s = tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory");
done:
  for (int k = 0; k < n_sub; k++) tl_graph_release(subs[k]);
  free_read_attrs(op, attrs);
  tl_tensor_release(value);
  free(in);
  free(metas);
  free(where);
  free(name);
  free(opname);
  return s;
}

static tl_status r_graph(rbuf *r, const tl_saved_model *m, const scope *parent, int depth, tl_graph **out) {
  if (depth > TLSM_MAX_DEPTH) return corrupt(r, "subgraphs nest deeper than %d", TLSM_MAX_DEPTH);
  int n_nodes, n_args;
  tl_status s = r_count(r, 12, TLSM_MAX_NODES, &n_nodes);
  if (!s) s = r_count(r, 0, (uint32_t)n_nodes, &n_args);
  if (s) return s;
  tl_graph *g;
  if ((s = tl_graph_new(&g))) return s;
  scope sc = {g, parent};
  for (int i = 0; i < n_nodes && !s; i++) s = r_node(r, m, &sc, g, depth, i);
  /* Argument positions: each of 0 .. n_args-1 exactly once. */
  if (!s && g->n_args != n_args) s = corrupt(r, "the graph says %d arguments and has %d", n_args, g->n_args);
  for (int i = 0; i < g->n_nodes && !s; i++) {
    tl_gnode *n = &g->nodes[i];
    if (n->kind != TL_NODE_ARG) continue;
    if (n->arg < 0 || n->arg >= n_args) s = corrupt(r, "argument node %d has position %d of %d", i, n->arg, n_args);
    else g->args[n->arg] = -1;
  }
  for (int i = 0; i < g->n_nodes && !s; i++) {
    tl_gnode *n = &g->nodes[i];
    if (n->kind != TL_NODE_ARG) continue;
    if (g->args[n->arg] != -1) s = corrupt(r, "two arguments have position %d", n->arg);
    else g->args[n->arg] = n->out0;
  }
  int n_outputs = 0;
  if (!s) s = r_count(r, 4, TLSM_MAX_NODES, &n_outputs);
  int *outs = NULL;
  if (!s && !(outs = malloc(sizeof(int) * (size_t)(n_outputs ? n_outputs : 1))))
    s = tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory");
  for (int i = 0; i < n_outputs && !s; i++) {
    int32_t v;
    if (!(s = r_i32(r, &v)) && (v < 0 || v >= g->n_values)) s = corrupt(r, "output %d is value %" PRId32 " of %d", i, v, g->n_values);
    if (!s) outs[i] = v;
  }
  if (!s) s = tl_graph_set_outputs(g, outs, n_outputs);
  free(outs);
  if (!s && (s = tl_graph_validate(g))) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", tl_last_error());
    s = corrupt(r, "%s", msg);
  }
  if (s) {
    tl_graph_release(g);
    return s;
  }
  *out = g;
  return TL_OK;
}

static tl_status r_variables(rbuf *r, tl_saved_model *m) {
  int n;
  tl_status s = r_count(r, 6, TLSM_MAX_NODES, &n);
  if (s) return s;
  if (!(m->variables = calloc((size_t)(n ? n : 1), sizeof *m->variables)))
    return tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory");
  for (int i = 0; i < n; i++) {
    char *name;
    uint8_t trainable;
    tl_tensor *t;
    if ((s = r_str(r, &name))) return s;
    if ((s = r_u8(r, &trainable)) || trainable > 1 || (s = r_tensor(r, &t))) {
      free(name);
      return s ? s : corrupt(r, "variable %d: a trainable flag of %u", i, trainable);
    }
    s = tl_variable_new(t, trainable == 1, name, &m->variables[i]);
    tl_tensor_release(t);
    free(name);
    if (s) return s;
    m->n_variables = i + 1;
  }
  return TL_OK;
}

static void free_names(char **names, int n) {
  if (!names) return;
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* One function. Its name arrays are kept only with a graph (whose counts
 * say their lengths); on an error they are freed here. */
static tl_status r_function(rbuf *r, tl_saved_model *m, tl_saved_fn *f) {
  int na = 0, no = 0;
  char **an = NULL, **on = NULL;
  tl_graph *g = NULL;
  tl_status s = r_count(r, 4, TLSM_MAX_NODES, &na);
  if (!s && !(an = calloc((size_t)(na ? na : 1), sizeof *an))) s = tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory");
  for (int k = 0; k < na && !s; k++) s = r_optstr(r, &an[k]);
  if (!s) s = r_count(r, 4, TLSM_MAX_NODES, &no);
  if (!s && !(on = calloc((size_t)(no ? no : 1), sizeof *on))) s = tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory");
  for (int k = 0; k < no && !s; k++) s = r_optstr(r, &on[k]);
  if (!s) s = r_graph(r, m, NULL, 0, &g);
  if (!s && (g->n_args != na || g->n_outputs != no))
    s = corrupt(r, "%d argument and %d output names for a graph of %d arguments and %d outputs", na, no, g->n_args, g->n_outputs);
  if (s) {
    free_names(an, na);
    free_names(on, no);
    tl_graph_release(g);
    return s;
  }
  f->graph = g;
  f->arg_names = an;
  f->output_names = on;
  return TL_OK;
}

static tl_status r_functions(rbuf *r, tl_saved_model *m) {
  int n;
  tl_status s = r_count(r, 16, 1 << 16, &n);
  if (s) return s;
  if (!(m->fns = calloc((size_t)(n ? n : 1), sizeof *m->fns))) return tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory");
  char what[200];
  for (int i = 0; i < n && !s; i++) {
    tl_saved_fn *f = &m->fns[i];
    m->n_fns = i + 1;
    r->what = NULL;
    if ((s = r_str(r, &f->name))) break;
    for (int k = 0; k < i && !s; k++)
      if (strcmp(m->fns[k].name, f->name) == 0) s = corrupt(r, "two functions are named '%.100s'", f->name);
    if (s) break;
    snprintf(what, sizeof what, "function '%.100s'", f->name);
    r->what = what;
    s = r_function(r, m, f);
  }
  r->what = NULL;
  return s;
}

void tl_saved_model_free(tl_saved_model *m) {
  if (!m) return;
  for (int i = 0; i < m->n_fns; i++) {
    tl_saved_fn *f = &m->fns[i];
    if (f->graph) {
      free_names(f->arg_names, f->graph->n_args);
      free_names(f->output_names, f->graph->n_outputs);
      tl_graph_release(f->graph);
    }
    free(f->name);
  }
  free(m->fns);
  for (int i = 0; i < m->n_variables; i++) tl_variable_release(m->variables[i]);
  free(m->variables);
  free(m);
}

const tl_saved_fn *tl_saved_model_find(const tl_saved_model *m, const char *name) {
  if (!m) return NULL;
  for (int i = 0; i < m->n_fns; i++)
    if (!name ? i == 0 : strcmp(m->fns[i].name, name) == 0) return &m->fns[i];
  return NULL;
}

tl_status tl_saved_model_parse(const void *buf, size_t len, tl_saved_model **out) {
  *out = NULL;
  const unsigned char *p = buf;
  rbuf hr = {p, p + len, NULL};
  if (len < 4 || memcmp(p, TLSM_MAGIC, 4) != 0)
    return tl_error(TL_DATA_LOSS, "saved model: not a tlua saved model (no \"" TLSM_MAGIC "\" header; %zu bytes)", len);
  if (len < TLSM_HEADER_BYTES) return corrupt(&hr, "the header is truncated (%zu bytes)", len);
  uint32_t version, crc;
  uint64_t body;
  memcpy(&version, p + 4, 4);
  memcpy(&body, p + 8, 8);
  memcpy(&crc, p + 16, 4);
  if (version != TLSM_FORMAT_VERSION)
    return tl_error(TL_UNIMPLEMENTED, "saved model: format version %" PRIu32 "; this tlua reads version %u%s", version,
                    TLSM_FORMAT_VERSION, version > TLSM_FORMAT_VERSION ? " (the file is from a newer tlua)" : "");
  if (body != len - TLSM_HEADER_BYTES)
    return corrupt(&hr, "the header says %" PRIu64 " bytes of body, the file has %zu (truncated or padded)", body,
                   len - TLSM_HEADER_BYTES);
  uint32_t have = tl_crc32(0, p + TLSM_HEADER_BYTES, (size_t)body);
  if (have != crc) return corrupt(&hr, "the checksum does not match (crc32 %08" PRIx32 ", the header says %08" PRIx32 "): the file is damaged", have, crc);
  tl_saved_model *m = calloc(1, sizeof *m);
  if (!m) return tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory");
  rbuf r = {p + TLSM_HEADER_BYTES, p + len, NULL};
  tl_status s = TL_OK;
  bool vars = false, funs = false;
  while (!s && left(&r) > 0) {
    uint32_t tag;
    uint64_t slen;
    if ((s = r_u32(&r, &tag)) || (s = r_u64(&r, &slen))) break;
    if (slen > left(&r)) {
      s = corrupt(&r, "a section of %" PRIu64 " bytes runs past the file", slen);
      break;
    }
    rbuf sec = {r.p, r.p + slen, NULL};
    r.p += slen;
    if (tag == TLSM_SEC_VARS) {
      if (vars || funs) s = corrupt(&sec, "the variables section is repeated or after the functions");
      else s = r_variables(&sec, m);
      vars = true;
    } else if (tag == TLSM_SEC_FUNS) {
      if (!vars || funs) s = corrupt(&sec, "the functions section is repeated or comes before the variables");
      else s = r_functions(&sec, m);
      funs = true;
    } else {
      continue; /* a section a later version added: readers skip what they do not know */
    }
    if (!s && left(&sec)) s = corrupt(&sec, "%zu bytes left over at the end of a section", left(&sec));
  }
  if (!s && !funs) s = corrupt(&r, "the file has no functions section");
  if (s) {
    tl_saved_model_free(m);
    return s;
  }
  *out = m;
  return TL_OK;
}

tl_status tl_saved_model_read(const char *path, tl_saved_model **out) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return tl_error(TL_NOT_FOUND, "saved model: cannot open '%s': %s", path, strerror(errno));
  char *buf = NULL;
  size_t n = 0, cap = 0;
  tl_status s = TL_OK;
  for (;;) {
    if (n == cap) {
      size_t c = cap ? cap * 2 : 1 << 16;
      char *q = c > cap ? realloc(buf, c) : NULL;
      if (!q) {
        s = tl_error(TL_RESOURCE_EXHAUSTED, "saved model: '%s' does not fit in memory", path);
        break;
      }
      buf = q;
      cap = c;
    }
    size_t k = fread(buf + n, 1, cap - n, f);
    n += k;
    if (k == 0) {
      if (ferror(f)) s = tl_error(TL_DATA_LOSS, "saved model: reading '%s' failed: %s", path, strerror(errno));
      break;
    }
  }
  fclose(f);
  if (!s) {
    s = tl_saved_model_parse(buf, n, out);
    if (s) tl_error_prefix("%s: ", path);
  }
  free(buf);
  return s;
}
