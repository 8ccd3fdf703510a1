/* graph/onnx.c — tl_onnx_export: a traced graph as a standard ONNX model.
 *
 * The model is built as protobuf-c messages (the C code protoc-c generates
 * at build time from Debian's onnx.proto) and packed by protobuf-c: no
 * protobuf wire encoding is written here. IR version 8, the default ONNX
 * domain at the requested opset (13..17: the renderings use opset 13's
 * forms — axes of ReduceSum/Squeeze/Unsqueeze/Split as inputs, the other
 * reductions' axes as attributes, which opset 18 changed).
 *
 * What becomes what:
 *   ARG                 a graph input; unknown (-1) dimensions are symbolic
 *                       ("N" for the leading one, "<input>_d<i>" otherwise)
 *   CONST               an initializer, written on first use
 *   read_variable(v)    an initializer named after the variable, holding its
 *                       current value (each variable once)
 *   an op whose inputs are all constants   run here, once, and written as an
 *                       initializer (zeros, range, a reshape of a constant…)
 *   fused_elementwise   expanded back into the ops of its program
 *   other ops           onnx_ops.c (NHWC convolutions and pools get
 *                       Transposes around ONNX's NCHW Conv/MaxPool/AveragePool)
 *   COND / WHILE        If / Loop (subgraphs read outer values by name;
 *                       a loop's condition is inlined before it and at the
 *                       end of its body); CALL is inlined
 *   outputs             an Identity from the value to the output's name
 * Stateful ops (assign, optimizer updates) and random ops are errors: only
 * inference functions export. Each ONNX node's doc_string is the Lua line
 * of the tlua node it came from.
 *
 * Without protobuf-c (TLUA_HAVE_PROTOBUF_C undefined) tl_onnx_export fails
 * with TL_UNIMPLEMENTED naming the Debian packages.
 */
#include "tl_graph.h"

#ifndef TLUA_HAVE_PROTOBUF_C

bool tl_onnx_available(void) { return false; }

tl_status tl_onnx_export(const tl_graph *g, const char *const *arg_names, const char *const *output_names, int opset,
                         const char *path) {
  (void)g, (void)arg_names, (void)output_names, (void)opset, (void)path;
  return tl_error(TL_UNIMPLEMENTED,
                  "onnx export: this tlua was built without protobuf-c (install libprotobuf-c-dev, "
                  "protobuf-c-compiler and libonnx-dev, then rebuild)");
}

#else

#include "graph/graph_internal.h"
#include "graph/onnx_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool tl_onnx_available(void) { return true; }

static tl_status oom(void) { return tl_error(TL_RESOURCE_EXHAUSTED, "onnx export: out of memory"); }

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* Grows *arr (elements of size es) to hold at least need. */
static bool grow(void *arr, size_t *cap, size_t need, size_t es) {
  if (need <= *cap) return true;
  size_t nc = *cap ? *cap * 2 : 16;
  while (nc < need) nc *= 2;
  void *p = realloc(*(void **)arr, nc * es);
  if (!p) return false;
  *(void **)arr = p;
  *cap = nc;
  return true;
}

static bool grow_int(void *arr, int *cap, int need, size_t es) {
  size_t c = (size_t)*cap;
  if (!grow(arr, &c, (size_t)need, es)) return false;
  *cap = (int)c;
  return true;
}

const char *tlx_str(tlx *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (!s || !grow_int(&x->pool, &x->cap_pool, x->n_pool + 1, sizeof *x->pool)) {
    free(s);
    oom();
    return NULL;
  }
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  x->pool[x->n_pool++] = s;
  return s;
}

void *tlx_alloc(tlx *x, size_t bytes) {
  char *p = malloc(bytes ? bytes : 1);
  if (!p || !grow_int(&x->pool, &x->cap_pool, x->n_pool + 1, sizeof *x->pool)) {
    free(p);
    oom();
    return NULL;
  }
  x->pool[x->n_pool++] = p;
  return p;
}

tl_status tlx_fail(tlx *x, tl_status kind, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const tl_gnode *n = x->cur;
  if (!n) return tl_error(kind, "onnx export: %s", msg);
  return tl_error(kind, "onnx export: %s (%s): %s", tlg_node_label(n), n->where ? n->where : "no source line", msg);
}

int tlx_onnx_dtype(tl_dtype d) {
  switch (d) {
  case TL_FLOAT32: return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  case TL_FLOAT64: return ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
  case TL_FLOAT16: return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
  case TL_BFLOAT16: return ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
  case TL_INT8: return ONNX__TENSOR_PROTO__DATA_TYPE__INT8;
  case TL_UINT8: return ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
  case TL_INT16: return ONNX__TENSOR_PROTO__DATA_TYPE__INT16;
  case TL_INT32: return ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
  case TL_INT64: return ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
  case TL_BOOL: return ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
  case TL_COMPLEX64: return ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX64;
  default: return 0;
  }
}

/* ---- names ------------------------------------------------------------- */

static bool user_taken(const tlx *x, const char *s) {
  for (int i = 0; i < x->n_user; i++)
    if (strcmp(x->user[i], s) == 0) return true;
  return false;
}

/* A name the caller chose (or a variable's), made unique with a suffix. */
static tl_status user_name(tlx *x, const char *want, const char **out) {
  const char *s = tlx_str(x, "%s", want);
  for (int k = 1; s && user_taken(x, s); k++) s = tlx_str(x, "%s_%d", want, k);
  if (!s || !grow_int(&x->user, &x->cap_user, x->n_user + 1, sizeof *x->user)) return oom();
  x->user[x->n_user++] = s;
  *out = s;
  return TL_OK;
}

/* A temporary: "<op>_<node>" plus a counter, never one of the user's names. */
static const char *fresh_name(tlx *x) {
  const char *s;
  do {
    s = x->cur ? tlx_str(x, "%s_%d/%d", tlg_node_label(x->cur), x->cur_index, x->fresh++)
               : tlx_str(x, "tl/%d", x->fresh++);
  } while (s && user_taken(x, s));
  return s;
}

/* ---- nodes and attributes ----------------------------------------------- */

tl_status tlx_emit(tlx *x, const char *type, int n_in, const char *const *in, int n_out, const char **outs,
                   Onnx__NodeProto **np_out) {
  Onnx__GraphProto *gp = x->gp;
  /* one at a time: nodes go to several graphs (branches, loop bodies) */
  Onnx__NodeProto **arr = realloc(gp->node, (gp->n_node + 1) * sizeof *arr);
  if (!arr) return oom();
  gp->node = arr;
  Onnx__NodeProto *np = malloc(sizeof *np);
  if (!np) return oom();
  onnx__node_proto__init(np);
  gp->node[gp->n_node++] = np; /* owned by the model from here on */
  np->op_type = dup_str(type);
  np->input = calloc((size_t)(n_in ? n_in : 1), sizeof *np->input);
  np->output = calloc((size_t)(n_out ? n_out : 1), sizeof *np->output);
  if (!np->op_type || !np->input || !np->output) return oom();
  for (int i = 0; i < n_in; i++) {
    if (!(np->input[i] = dup_str(in[i] ? in[i] : ""))) return oom();
    np->n_input++;
  }
  for (int i = 0; i < n_out; i++) {
    const char *nm = fresh_name(x);
    if (!nm || !(np->output[i] = dup_str(nm))) return oom();
    np->n_output++;
    outs[i] = nm;
  }
  /* unique in the model (subgraphs included), as onnxruntime requires */
  const char *nn = x->cur ? tlx_str(x, "%s_%d#%d", tlg_node_label(x->cur), x->cur_index, x->fresh++)
                          : tlx_str(x, "%s#%d", type, x->fresh++);
  if (!nn || !(np->name = dup_str(nn))) return oom();
  if (x->cur && x->cur->where && !(np->doc_string = dup_str(x->cur->where))) return oom();
  if (np_out) *np_out = np;
  return TL_OK;
}

tl_status tlx_op(tlx *x, const char *type, const char **out, Onnx__NodeProto **np, int n_in, ...) {
  const char *in[8];
  va_list ap;
  va_start(ap, n_in);
  for (int i = 0; i < n_in && i < 8; i++) in[i] = va_arg(ap, const char *);
  va_end(ap);
  TL_ASSERT(n_in <= 8);
  return tlx_emit(x, type, n_in, in, 1, out, np);
}

static Onnx__AttributeProto *new_attr(Onnx__NodeProto *np, const char *name, Onnx__AttributeProto__AttributeType t) {
  Onnx__AttributeProto **a = realloc(np->attribute, (np->n_attribute + 1) * sizeof *a);
  if (!a) return NULL;
  np->attribute = a;
  Onnx__AttributeProto *p = malloc(sizeof *p);
  if (!p) return NULL;
  onnx__attribute_proto__init(p);
  a[np->n_attribute++] = p;
  p->has_type = 1;
  p->type = t;
  p->name = dup_str(name);
  return p->name ? p : NULL;
}

tl_status tlx_attr_int(Onnx__NodeProto *np, const char *name, int64_t v) {
  Onnx__AttributeProto *p = new_attr(np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
  if (!p) return oom();
  p->has_i = 1;
  p->i = v;
  return TL_OK;
}

tl_status tlx_attr_float(Onnx__NodeProto *np, const char *name, float v) {
  Onnx__AttributeProto *p = new_attr(np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  if (!p) return oom();
  p->has_f = 1;
  p->f = v;
  return TL_OK;
}

tl_status tlx_attr_string(Onnx__NodeProto *np, const char *name, const char *v) {
  Onnx__AttributeProto *p = new_attr(np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
  if (!p) return oom();
  size_t n = strlen(v);
  p->has_s = 1;
  p->s.data = malloc(n ? n : 1);
  if (!p->s.data) return oom();
  memcpy(p->s.data, v, n);
  p->s.len = n;
  return TL_OK;
}

tl_status tlx_attr_ints(Onnx__NodeProto *np, const char *name, int n, const int64_t *v) {
  Onnx__AttributeProto *p = new_attr(np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  if (!p) return oom();
  p->ints = malloc((size_t)(n ? n : 1) * sizeof *p->ints);
  if (!p->ints) return oom();
  if (n) memcpy(p->ints, v, (size_t)n * sizeof *v);
  p->n_ints = (size_t)n;
  return TL_OK;
}

/* ---- tensors ------------------------------------------------------------ */

/* A TensorProto holding t's values as raw little-endian bytes (tlua's
 * layout on the little-endian machines it builds for). */
static tl_status tensor_proto(tl_tensor *t, const char *name, Onnx__TensorProto **out) {
  int et = tlx_onnx_dtype(t->dtype);
  if (!et) {
    char b[96];
    return tl_error(TL_UNIMPLEMENTED, "onnx export: a %s constant has no ONNX tensor type",
                    tl_tensor_describe(t, b, sizeof b));
  }
  tl_tensor *cpu = NULL, *c = NULL;
  tl_status s = tl_tensor_copy_to(t, TL_CPU, &cpu);
  if (s) return s;
  s = tl_tensor_contiguous(cpu, &c);
  tl_tensor_release(cpu);
  if (s) return s;
  Onnx__TensorProto *tp = malloc(sizeof *tp);
  if (!tp) {
    tl_tensor_release(c);
    return oom();
  }
  onnx__tensor_proto__init(tp);
  size_t nb = (size_t)c->size * tl_dtypes[c->dtype].size;
  tp->dims = malloc((size_t)(c->rank ? c->rank : 1) * sizeof *tp->dims);
  tp->raw_data.data = malloc(nb ? nb : 1);
  tp->name = name ? dup_str(name) : NULL;
  if (!tp->dims || !tp->raw_data.data || (name && !tp->name)) {
    tl_tensor_release(c);
    protobuf_c_message_free_unpacked(&tp->base, NULL);
    return oom();
  }
  for (int i = 0; i < c->rank; i++) tp->dims[i] = c->shape[i];
  tp->n_dims = (size_t)c->rank;
  tp->has_data_type = 1;
  tp->data_type = et;
  tp->has_raw_data = 1;
  tp->raw_data.len = nb;
  if (nb) memcpy(tp->raw_data.data, tl_tensor_data(c), nb);
  tl_tensor_release(c);
  *out = tp;
  return TL_OK;
}

tl_status tlx_attr_tensor(Onnx__NodeProto *np, const char *name, tl_tensor *t) {
  Onnx__AttributeProto *p = new_attr(np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
  if (!p) return oom();
  return tensor_proto(t, NULL, &p->t);
}

static tl_status add_init(tlx *x, tl_tensor *t, const char *name) {
  Onnx__GraphProto *gp = x->igp;
  if (!grow(&gp->initializer, &x->cap_init, gp->n_initializer + 1, sizeof *gp->initializer)) return oom();
  Onnx__TensorProto *tp;
  TLX_TRY(tensor_proto(t, name, &tp));
  gp->initializer[gp->n_initializer++] = tp;
  return TL_OK;
}

tl_status tlx_init_tensor(tlx *x, tl_tensor *t, const char *base, const char **name) {
  const char *nm = base ? tlx_str(x, "%s", base) : fresh_name(x);
  if (!nm) return oom();
  TLX_TRY(add_init(x, t, nm));
  *name = nm;
  return TL_OK;
}

tl_status tlx_scalar(tlx *x, tl_dtype dt, double v, const char **name) {
  tl_tensor *t;
  TLX_TRY(tl_tensor_scalar_f64(dt, v, &t));
  tl_status s = tlx_init_tensor(x, t, NULL, name);
  tl_tensor_release(t);
  return s;
}

tl_status tlx_ints(tlx *x, int n, const int64_t *v, const char **name) {
  tl_tensor *t;
  int64_t shape[1] = {n};
  TLX_TRY(tl_tensor_new_on(TL_CPU, TL_INT64, 1, shape, &t));
  if (n) memcpy(tl_tensor_data(t), v, (size_t)n * sizeof *v);
  tl_status s = tlx_init_tensor(x, t, NULL, name);
  tl_tensor_release(t);
  return s;
}

tl_status tlx_in(tlx *x, int vid, const char **name) {
  if (vid < 0 || vid >= x->g->n_values) return tlx_fail(x, TL_INTERNAL, "input value %d out of range", vid);
  if (x->vname[vid]) {
    *name = x->vname[vid];
    return TL_OK;
  }
  if (x->cval[vid]) {
    const tl_gnode *keep = x->cur;
    x->cur = NULL; /* constants are named after the graph, not the node that first reads them */
    const char *nm = tlx_str(x, "const_%d", x->fresh++); /* unique across subgraphs */
    tl_status s = nm ? add_init(x, x->cval[vid], nm) : oom();
    x->cur = keep;
    if (s) return s;
    x->vname[vid] = *name = nm;
    return TL_OK;
  }
  if (x->var[vid])
    return tlx_fail(x, TL_UNIMPLEMENTED, "takes the variable '%s' itself (only read_variable of a variable exports)",
                    x->var[vid]->name);
  const tl_gvalue *v = &x->g->values[vid];
  return tlx_fail(x, TL_UNIMPLEMENTED, "reads output %d of %s (node %d), which has no ONNX value", v->port,
                  tlg_node_label(&x->g->nodes[v->node]), v->node);
}

/* ---- graph inputs and outputs --------------------------------------------- */

static tl_status value_info(const tl_meta *m, const char *name, const char *dim_base, Onnx__ValueInfoProto **out) {
  int et = tlx_onnx_dtype(m->dtype);
  if (!et) {
    char b[96];
    return tl_error(TL_UNIMPLEMENTED, "onnx export: '%s' is %s, which has no ONNX tensor type", name,
                    tl_meta_describe(m, b, sizeof b));
  }
  Onnx__ValueInfoProto *vi = malloc(sizeof *vi);
  if (!vi) return oom();
  onnx__value_info_proto__init(vi);
  *out = vi; /* freed with the model (the caller links it first) */
  Onnx__TypeProto *tp = malloc(sizeof *tp);
  Onnx__TypeProto__Tensor *tt = malloc(sizeof *tt);
  vi->name = dup_str(name);
  if (!tp || !tt || !vi->name) {
    free(tp), free(tt);
    return oom();
  }
  onnx__type_proto__init(tp);
  onnx__type_proto__tensor__init(tt);
  vi->type = tp;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  tt->has_elem_type = 1;
  tt->elem_type = et;
  if (m->rank < 0) return TL_OK; /* unknown rank: no shape */
  Onnx__TensorShapeProto *sp = malloc(sizeof *sp);
  if (!sp) return oom();
  onnx__tensor_shape_proto__init(sp);
  tt->shape = sp;
  sp->dim = calloc((size_t)(m->rank ? m->rank : 1), sizeof *sp->dim);
  if (!sp->dim) return oom();
  for (int i = 0; i < m->rank; i++) {
    Onnx__TensorShapeProto__Dimension *d = malloc(sizeof *d);
    if (!d) return oom();
    onnx__tensor_shape_proto__dimension__init(d);
    sp->dim[sp->n_dim++] = d;
    if (m->shape[i] >= 0) {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      d->dim_value = m->shape[i];
    } else {
      char b[300];
      if (i == 0) snprintf(b, sizeof b, "N");
      else snprintf(b, sizeof b, "%s_d%d", dim_base, i);
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      if (!(d->dim_param = dup_str(b))) return oom();
    }
  }
  return TL_OK;
}

static tl_status add_io(Onnx__ValueInfoProto ***arr, size_t *n, const tl_meta *m, const char *name) {
  Onnx__ValueInfoProto **a = realloc(*arr, (*n + 1) * sizeof *a);
  if (!a) return oom();
  *arr = a;
  a[*n] = NULL;
  tl_status s = value_info(m, name, name, &a[*n]);
  if (a[*n]) (*n)++; /* linked even when half built, so the model frees it */
  return s;
}

/* ---- the nodes ------------------------------------------------------------ */

/* An op whose inputs are all known constants runs here once (pure ops only). */
static bool foldable(const tlx *x, const tl_gnode *n) {
  if (n->op->flags & (TL_OP_STATEFUL | TL_OP_RANDOM)) return false;
  for (int i = 0; i < n->n_in; i++)
    if (n->in[i] >= 0 && !x->cval[n->in[i]]) return false;
  return true;
}

static tl_status fold(tlx *x, const tl_gnode *n) {
  tl_tensor *ins[TL_MAX_INPUTS * 4];
  if (n->n_in > (int)(sizeof ins / sizeof *ins)) return tlx_fail(x, TL_UNIMPLEMENTED, "too many inputs to fold");
  for (int i = 0; i < n->n_in; i++) ins[i] = n->in[i] >= 0 ? x->cval[n->in[i]] : NULL;
  tl_tensor_list out;
  tl_list_init(&out);
  tl_trace_pause(); /* an export from inside a trace still computes */
  tl_status s = tl_op_run(n->op, ins, n->n_in, n->attr, &out);
  tl_trace_resume();
  if (s) {
    tl_error_prefix("onnx export: folding %s (%s)", n->op->name, n->where ? n->where : "no source line");
    tl_list_clear(&out);
    return s;
  }
  for (int k = 0; k < n->n_out && k < out.n; k++) x->cval[n->out0 + k] = tl_tensor_retain(out.items[k]);
  tl_list_clear(&out);
  return TL_OK;
}

static tl_status read_variable(tlx *x, const tl_gnode *n) {
  tl_variable *v = n->n_in == 1 && n->in[0] >= 0 ? x->var[n->in[0]] : NULL;
  if (!v) return tlx_fail(x, TL_UNIMPLEMENTED, "reads a variable that is not a captured constant");
  for (int i = 0; i < x->n_vars; i++)
    if (x->vars[i].v == v) {
      x->vname[n->out0] = x->vars[i].name;
      return TL_OK;
    }
  const char *nm;
  TLX_TRY(user_name(x, v->name[0] ? v->name : "variable", &nm));
  if (!grow_int(&x->vars, &x->cap_vars, x->n_vars + 1, sizeof *x->vars)) return oom();
  TLX_TRY(add_init(x, v->value, nm));
  x->vars[x->n_vars++] = (struct tlx_var){v, nm};
  x->vname[n->out0] = nm;
  return TL_OK;
}

/* ---- control flow ----------------------------------------------------------- */

static tl_status convert_node(tlx *x, int i);

/* A GRAPH attribute holding a new, empty GraphProto (*out), owned by np. */
static tl_status attr_graph(Onnx__NodeProto *np, const char *name, Onnx__GraphProto **out) {
  Onnx__AttributeProto *p = new_attr(np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
  if (!p || !(p->g = malloc(sizeof *p->g))) return oom();
  onnx__graph_proto__init(p->g);
  if (!(p->g->name = dup_str(name))) return oom();
  *out = p->g;
  return TL_OK;
}

/* Converts subgraph sub with its args named args[i] into the graph x->gp
 * (inlined: a CALL, or the cond of a loop) and names its outputs in outs.
 * It runs in a context of its own (value names per graph) that shares the
 * pools, names, variables and counters with x, copied back in every case. */
static tl_status convert_sub(tlx *x, const tl_graph *sub, const char *const *args, const char **outs) {
  if (sub->n_args < 0) return tlx_fail(x, TL_INTERNAL, "a subgraph without arguments");
  tlx c = *x;
  size_t nv = (size_t)(sub->n_values ? sub->n_values : 1);
  c.g = sub;
  c.vname = calloc(nv, sizeof *c.vname);
  c.cval = calloc(nv, sizeof *c.cval);
  c.var = calloc(nv, sizeof *c.var);
  tl_status s = TL_OK;
  if (!c.vname || !c.cval || !c.var) s = oom();
  for (int i = 0; i < sub->n_args && !s; i++) c.vname[sub->args[i]] = args[i];
  for (int i = 0; i < sub->n_nodes && !s; i++) s = convert_node(&c, i);
  c.cur = x->cur;
  for (int k = 0; k < sub->n_outputs && !s; k++) s = tlx_in(&c, sub->outputs[k], &outs[k]);
  if (c.cval)
    for (int i = 0; i < sub->n_values; i++) tl_tensor_release(c.cval[i]);
  free(c.vname), free(c.cval), free(c.var);
  x->pool = c.pool, x->n_pool = c.n_pool, x->cap_pool = c.cap_pool;
  x->user = c.user, x->n_user = c.n_user, x->cap_user = c.cap_user;
  x->vars = c.vars, x->n_vars = c.n_vars, x->cap_vars = c.cap_vars;
  x->fresh = c.fresh, x->cap_init = c.cap_init;
  return s;
}

/* A predicate as a bool scalar (tlua's is any numeric scalar: non-zero is true). */
static tl_status as_bool(tlx *x, const char *in, tl_dtype dt, const char **out) {
  if (dt == TL_BOOL) {
    *out = in;
    return TL_OK;
  }
  Onnx__NodeProto *np;
  TLX_TRY(tlx_op(x, "Cast", out, &np, 1, in));
  return tlx_attr_int(np, "to", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL);
}

static tl_meta shapeless(tl_dtype dt) { return (tl_meta){.dtype = dt, .rank = -1}; }

/* Makes gp's outputs Identities of names[k] (a branch or body may return
 * an outer value, which a graph output cannot be), typed by metas without
 * shapes (they may differ between branches or iterations). */
static tl_status graph_outputs(tlx *x, Onnx__GraphProto *gp, int n, const char *const *names, const tl_meta *metas) {
  Onnx__GraphProto *keep = x->gp;
  x->gp = gp;
  tl_status s = TL_OK;
  for (int k = 0; k < n && !s; k++) {
    const char *o;
    tl_meta m = shapeless(metas[k].dtype);
    if (!(s = tlx_op(x, "Identity", &o, NULL, 1, names[k]))) s = add_io(&gp->output, &gp->n_output, &m, o);
  }
  x->gp = keep;
  return s;
}

/* COND: an If whose branches read the node's inputs by their outer names. */
static tl_status convert_cond(tlx *x, const tl_gnode *n) {
  int nthen = n->arg;
  if (n->n_sub != 2 || nthen < 0 || nthen > n->n_in - 1) return tlx_fail(x, TL_INTERNAL, "a malformed cond node");
  const char *p, **ins = tlx_alloc(x, (size_t)n->n_in * sizeof *ins), **outs = tlx_alloc(x, (size_t)n->n_out * sizeof *outs);
  tl_meta *metas = tlx_alloc(x, (size_t)(n->n_out ? n->n_out : 1) * sizeof *metas);
  if (!ins || !outs || !metas) return tl_last_status();
  for (int i = 0; i < n->n_in; i++) TLX_TRY(tlx_in(x, n->in[i], &ins[i]));
  TLX_TRY(as_bool(x, ins[0], x->g->values[n->in[0]].meta.dtype, &p));
  Onnx__NodeProto *np;
  Onnx__GraphProto *br[2];
  TLX_TRY(tlx_emit(x, "If", 1, &p, n->n_out, outs, &np));
  TLX_TRY(attr_graph(np, "then_branch", &br[0]));
  TLX_TRY(attr_graph(np, "else_branch", &br[1]));
  for (int k = 0; k < n->n_out; k++) metas[k] = x->g->values[n->out0 + k].meta;
  for (int b = 0; b < 2; b++) {
    const tl_graph *sub = n->sub[b];
    if (sub->n_outputs != n->n_out || sub->n_args != (b ? n->n_in - 1 - nthen : nthen))
      return tlx_fail(x, TL_INTERNAL, "a cond branch does not match its node");
    const char **res = tlx_alloc(x, (size_t)(n->n_out ? n->n_out : 1) * sizeof *res);
    if (!res) return tl_last_status();
    Onnx__GraphProto *keep = x->gp;
    x->gp = br[b];
    tl_status s = convert_sub(x, sub, ins + 1 + (b ? nthen : 0), res);
    x->gp = keep;
    TLX_TRY(s);
    TLX_TRY(graph_outputs(x, br[b], n->n_out, res, metas));
  }
  for (int k = 0; k < n->n_out; k++) x->vname[n->out0 + k] = outs[k];
  return TL_OK;
}

/* WHILE: cond(vars, extras) is inlined once before the Loop for its first
 * test and again at the end of the body for the next one; the loop vars
 * are carried, the extra args read by their outer names. */
static tl_status convert_while(tlx *x, const tl_gnode *n) {
  int nl = n->arg, na = n->n_in;
  if (n->n_sub != 2 || nl < 0 || nl > na || n->n_out != nl || n->sub[0]->n_args != na || n->sub[1]->n_args != na ||
      n->sub[0]->n_outputs != 1 || n->sub[1]->n_outputs != nl)
    return tlx_fail(x, TL_INTERNAL, "a malformed while node");
  const char **ins = tlx_alloc(x, (size_t)(na ? na : 1) * sizeof *ins),
             **args = tlx_alloc(x, (size_t)(na ? na : 1) * sizeof *args),
             **next = tlx_alloc(x, (size_t)(nl + 1) * sizeof *next),
             **lin = tlx_alloc(x, (size_t)(nl + 2) * sizeof *lin), **outs = tlx_alloc(x, (size_t)(nl ? nl : 1) * sizeof *outs);
  tl_meta *metas = tlx_alloc(x, (size_t)(nl + 1) * sizeof *metas);
  if (!ins || !args || !next || !lin || !outs || !metas) return tl_last_status();
  for (int i = 0; i < na; i++) TLX_TRY(tlx_in(x, n->in[i], &ins[i]));
  const char *c0, *c1;
  tl_dtype cdt = n->sub[0]->values[n->sub[0]->outputs[0]].meta.dtype;
  TLX_TRY(convert_sub(x, n->sub[0], ins, &c0));
  TLX_TRY(as_bool(x, c0, cdt, &c0));
  lin[0] = NULL;
  if (n->iparam >= 0) {
    tl_tensor *t;
    TLX_TRY(tl_tensor_scalar_i64(TL_INT64, n->iparam, &t));
    tl_status s = tlx_init_tensor(x, t, NULL, &lin[0]);
    tl_tensor_release(t);
    TLX_TRY(s);
  }
  lin[1] = c0;
  for (int i = 0; i < nl; i++) lin[2 + i] = ins[i];
  Onnx__NodeProto *np;
  Onnx__GraphProto *body;
  TLX_TRY(tlx_emit(x, "Loop", nl + 2, lin, nl, outs, &np));
  TLX_TRY(attr_graph(np, "body", &body));
  /* the body's inputs: iteration, condition, loop vars (no shapes) */
  int id = x->fresh++; /* names unique across nested scopes (ONNX's SSA) */
  const char *it = tlx_str(x, "loop%d/iter", id), *cin = tlx_str(x, "loop%d/cond", id);
  if (!it || !cin) return tl_last_status();
  tl_meta mi = {.dtype = TL_INT64, .rank = 0}, mb = {.dtype = TL_BOOL, .rank = 0};
  TLX_TRY(add_io(&body->input, &body->n_input, &mi, it));
  TLX_TRY(add_io(&body->input, &body->n_input, &mb, cin));
  for (int i = 0; i < na; i++) args[i] = ins[i];
  for (int i = 0; i < nl; i++) {
    tl_meta m = shapeless(x->g->values[n->in[i]].meta.dtype);
    if (!(args[i] = tlx_str(x, "loop%d/v%d", id, i))) return tl_last_status();
    TLX_TRY(add_io(&body->input, &body->n_input, &m, args[i]));
  }
  Onnx__GraphProto *keep = x->gp;
  x->gp = body;
  tl_status s = convert_sub(x, n->sub[1], args, next + 1);
  if (!s) {
    for (int i = 0; i < nl; i++) args[i] = next[1 + i];
    s = convert_sub(x, n->sub[0], args, &c1);
  }
  if (!s) s = as_bool(x, c1, cdt, &next[0]);
  x->gp = keep;
  TLX_TRY(s);
  metas[0] = mb;
  for (int i = 0; i < nl; i++) metas[1 + i] = x->g->values[n->in[i]].meta;
  TLX_TRY(graph_outputs(x, body, nl + 1, next, metas));
  for (int i = 0; i < nl; i++) x->vname[n->out0 + i] = outs[i];
  return TL_OK;
}

static tl_status convert_call(tlx *x, const tl_gnode *n) {
  if (n->n_sub != 1 || n->sub[0]->n_args != n->n_in || n->sub[0]->n_outputs != n->n_out)
    return tlx_fail(x, TL_INTERNAL, "a malformed call node");
  const char **ins = tlx_alloc(x, (size_t)(n->n_in ? n->n_in : 1) * sizeof *ins),
             **outs = tlx_alloc(x, (size_t)(n->n_out ? n->n_out : 1) * sizeof *outs);
  if (!ins || !outs) return tl_last_status();
  for (int i = 0; i < n->n_in; i++) TLX_TRY(tlx_in(x, n->in[i], &ins[i]));
  TLX_TRY(convert_sub(x, n->sub[0], ins, outs));
  for (int k = 0; k < n->n_out; k++) x->vname[n->out0 + k] = outs[k];
  return TL_OK;
}

/* Adds op(in...) to t with the shape rule's output metas; *out0 its first output. */
static tl_status add_inferred(tl_graph *t, const tl_op_def *op, const int *in, int n_in, const tl_attr *attrs,
                              const char *where, int *out0) {
  const tl_meta *metas[2];
  for (int i = 0; i < n_in; i++) metas[i] = &t->values[in[i]].meta;
  tl_meta_list ml;
  tl_meta_list_init(&ml);
  tl_status s = op->infer(op, metas, n_in, attrs, &ml);
  if (!s) s = tl_graph_add_op(t, op, in, n_in, attrs, ml.items, ml.n, where, out0);
  tl_meta_list_free(&ml);
  return s;
}

/* fused_elementwise (made by the fusion pass, src/ops/fused.c): its
 * program ("exp 0;add 1 2;leaky_relu@0.2 3", registers 0..n-1 the inputs)
 * rebuilt as a small graph of the registry ops it fused, with the optional
 * sum/mean of the last output, then inlined like a call. */
static tl_status convert_fused(tlx *x, const tl_gnode *n) {
  const tl_op_def *op = n->op;
  const tl_attr *prog = &n->attr[tl_attr_index(op, "program")], *outs = &n->attr[tl_attr_index(op, "outputs")],
                *red = &n->attr[tl_attr_index(op, "reduce")], *axis = &n->attr[tl_attr_index(op, "axis")],
                *keep = &n->attr[tl_attr_index(op, "keepdims")];
  const char *p = prog->s ? prog->s : "";
  int cap = n->n_in + (int)strlen(p) + 1;
  int *regs = tlx_alloc(x, (size_t)cap * sizeof *regs), *vids = tlx_alloc(x, (size_t)(outs->n + 1) * sizeof *vids);
  const char **ins = tlx_alloc(x, (size_t)(n->n_in + 1) * sizeof *ins), **res = tlx_alloc(x, (size_t)(outs->n + 1) * sizeof *res);
  if (!regs || !vids || !ins || !res) return tl_last_status();
  if (outs->n != n->n_out) return tlx_fail(x, TL_INTERNAL, "a fused node with %d outputs lists %d", n->n_out, outs->n);
  tl_graph *t;
  TLX_TRY(tl_graph_new(&t));
  tl_status s = TL_OK;
  int nr = 0;
  for (int i = 0; i < n->n_in && !s; i++) s = tl_graph_add_arg(t, &x->g->values[n->in[i]].meta, &regs[nr++]);
  while (!s && *p) {
    while (*p == ' ' || *p == ';') p++;
    if (!*p) break;
    char name[64];
    size_t len = strcspn(p, " ;@");
    if (len == 0 || len >= sizeof name) {
      s = tlx_fail(x, TL_INVALID_ARGUMENT, "a bad fused program near '%.20s'", p);
      break;
    }
    memcpy(name, p, len);
    name[len] = 0;
    p += len;
    const tl_op_def *k = tl_op_find(name);
    tl_attr attrs[TL_MAX_ATTRS];
    if (!k) {
      s = tlx_fail(x, TL_INVALID_ARGUMENT, "a fused program names no op '%s'", name);
      break;
    }
    tl_attrs_defaults(k, attrs);
    if (*p == '@') {
      char *end;
      double v = strtod(p + 1, &end);
      if (end == p + 1 || k->n_attrs < 1) {
        s = tlx_fail(x, TL_INVALID_ARGUMENT, "a bad attribute for '%s' in a fused program", name);
        break;
      }
      if (attrs[0].type == TL_ATTR_BOOL) attrs[0].b = v != 0;
      else attrs[0].f = v;
      attrs[0].present = true;
      p = end;
    }
    int opnd[2], no = 0;
    for (;;) {
      while (*p == ' ') p++;
      if (!*p || *p == ';') break;
      char *end;
      long r = strtol(p, &end, 10);
      if (end == p || no == 2 || r < 0 || r >= nr) {
        s = tlx_fail(x, TL_INVALID_ARGUMENT, "a bad operand in a fused program near '%.20s'", p);
        break;
      }
      opnd[no++] = regs[r];
      p = end;
    }
    if (!s && no != k->n_inputs) s = tlx_fail(x, TL_INVALID_ARGUMENT, "'%s' takes %d operands in a fused program", name, k->n_inputs);
    if (!s && nr >= cap) s = tlx_fail(x, TL_INVALID_ARGUMENT, "a fused program too long");
    if (!s) s = add_inferred(t, k, opnd, no, attrs, n->where, &regs[nr++]);
  }
  for (int i = 0; i < outs->n && !s; i++) {
    if (outs->ints[i] < n->n_in || outs->ints[i] >= nr) s = tlx_fail(x, TL_INVALID_ARGUMENT, "a bad fused output register");
    else vids[i] = regs[outs->ints[i]];
  }
  const char *r = red->s ? red->s : "none";
  if (!s && outs->n > 0 && strcmp(r, "none") != 0) {
    const tl_op_def *ro = tl_op_find(strcmp(r, "sum") == 0 ? "reduce_sum" : "reduce_mean");
    tl_attr attrs[TL_MAX_ATTRS];
    tl_attrs_defaults(ro, attrs);
    attrs[tl_attr_index(ro, "axis")] = *axis; /* borrowed: the node's own copy outlives t's add (copied) */
    attrs[tl_attr_index(ro, "keepdims")].b = keep->b;
    s = add_inferred(t, ro, &vids[outs->n - 1], 1, attrs, n->where, &vids[outs->n - 1]);
  }
  if (!s) s = tl_graph_set_outputs(t, vids, outs->n);
  for (int i = 0; i < n->n_in && !s; i++) s = tlx_in(x, n->in[i], &ins[i]);
  if (!s) s = convert_sub(x, t, ins, res);
  for (int k = 0; k < n->n_out && !s; k++) x->vname[n->out0 + k] = res[k];
  tl_graph_release(t);
  return s;
}

static tl_status convert_node(tlx *x, int i) {
  const tl_gnode *n = &x->g->nodes[i];
  x->cur = n;
  x->cur_index = i;
  switch (n->kind) {
  case TL_NODE_ARG:
    if (!x->vname[n->out0]) return tlx_fail(x, TL_INTERNAL, "an argument without a name");
    return TL_OK; /* named with the graph's inputs, or by the node that runs the subgraph */
  case TL_NODE_CONST:
    if (n->value->dtype == TL_RESOURCE) {
      tl_variable *v = tl_resource_peek(n->value);
      if (!v) return tlx_fail(x, TL_FAILED_PRECONDITION, "its variable has been freed");
      x->var[n->out0] = v;
    } else {
      x->cval[n->out0] = tl_tensor_retain(n->value);
    }
    return TL_OK;
  case TL_NODE_OP:
    break;
  case TL_NODE_COND:
    return convert_cond(x, n);
  case TL_NODE_WHILE:
    return convert_while(x, n);
  case TL_NODE_CALL:
    return convert_call(x, n);
  default:
    return tlx_fail(x, TL_INTERNAL, "node kind %d", (int)n->kind);
  }
  const tl_op_def *op = n->op;
  if (op->flags & TL_OP_STATEFUL)
    return tlx_fail(x, TL_INVALID_ARGUMENT,
                    "'%s' changes state: ONNX export takes inference functions only (no assignments, optimizer "
                    "or metric updates)", op->name);
  if (strcmp(op->name, "read_variable") == 0) return read_variable(x, n);
  if (op->flags & TL_OP_RANDOM)
    return tlx_fail(x, TL_UNIMPLEMENTED, "'%s' draws random numbers, which ONNX export does not support",
                    op->name);
  if (foldable(x, n)) return fold(x, n);
  if (strcmp(op->name, "fused_elementwise") == 0) return convert_fused(x, n);
  return tlx_convert_op(x, n);
}

/* ---- the model and the file ---------------------------------------------- */

static tl_status write_file(const void *buf, size_t len, const char *path) {
  size_t pl = strlen(path);
  char *tmp = malloc(pl + 5);
  if (!tmp) return oom();
  memcpy(tmp, path, pl);
  memcpy(tmp + pl, ".tmp", 5);
  FILE *f = fopen(tmp, "wb");
  tl_status s = TL_OK;
  if (!f) {
    s = tl_error(TL_NOT_FOUND, "onnx export: cannot write '%s': %s", path, strerror(errno));
  } else {
    bool ok = fwrite(buf, 1, len, f) == len;
    int e = errno;
    if (fclose(f) != 0 && ok) ok = false, e = errno;
    if (!ok) s = tl_error(TL_DATA_LOSS, "onnx export: writing '%s' failed: %s", path, strerror(e));
    else if (rename(tmp, path) != 0)
      s = tl_error(TL_NOT_FOUND, "onnx export: cannot write '%s': %s", path, strerror(errno));
    if (s) remove(tmp);
  }
  free(tmp);
  return s;
}

static tl_status build(tlx *x, const char *const *arg_names, const char *const *output_names) {
  const tl_graph *g = x->g;
  Onnx__ModelProto *m = x->model;
  m->has_ir_version = 1;
  m->ir_version = 8;
  m->producer_name = dup_str("tlua");
  m->producer_version = dup_str("0.1");
  m->opset_import = malloc(sizeof *m->opset_import);
  if (!m->producer_name || !m->producer_version || !m->opset_import) return oom();
  Onnx__OperatorSetIdProto *os = malloc(sizeof *os);
  if (!os) return oom();
  onnx__operator_set_id_proto__init(os);
  m->opset_import[m->n_opset_import++] = os;
  os->domain = dup_str("");
  os->has_version = 1;
  os->version = x->opset;
  if (!os->domain) return oom();
  Onnx__GraphProto *gp = malloc(sizeof *gp);
  if (!gp) return oom();
  onnx__graph_proto__init(gp);
  m->graph = x->gp = x->igp = gp;
  if (!(gp->name = dup_str("tlua"))) return oom();

  for (int i = 0; i < g->n_args; i++) {
    int vid = g->args[i];
    char def[32];
    snprintf(def, sizeof def, "input_%d", i);
    const char *want = arg_names && arg_names[i] ? arg_names[i] : def, *nm;
    if (user_taken(x, want)) return tl_error(TL_INVALID_ARGUMENT, "onnx export: input name '%s' is given twice", want);
    TLX_TRY(user_name(x, want, &nm));
    if (g->values[vid].meta.dtype == TL_RESOURCE)
      return tl_error(TL_UNIMPLEMENTED, "onnx export: input %d ('%s') is a variable handle, not a tensor", i, nm);
    TLX_TRY(add_io(&gp->input, &gp->n_input, &g->values[vid].meta, nm));
    x->vname[vid] = nm;
  }
  const char **onames = calloc((size_t)(g->n_outputs ? g->n_outputs : 1), sizeof *onames);
  if (!onames) return oom();
  tl_status s = TL_OK;
  for (int k = 0; k < g->n_outputs && !s; k++) {
    char def[32];
    snprintf(def, sizeof def, "output_%d", k);
    const char *want = output_names && output_names[k] ? output_names[k] : def;
    if (user_taken(x, want))
      s = tl_error(TL_INVALID_ARGUMENT, "onnx export: output name '%s' is already an input or output name", want);
    else
      s = user_name(x, want, &onames[k]);
  }
  for (int i = 0; i < g->n_nodes && !s; i++) s = convert_node(x, i);
  x->cur = NULL;
  for (int k = 0; k < g->n_outputs && !s; k++) {
    int vid = g->outputs[k];
    const char *in, *tmp;
    Onnx__NodeProto *np;
    if (!(s = tlx_in(x, vid, &in)) && !(s = tlx_op(x, "Identity", &tmp, &np, 1, in))) {
      /* the Identity's output is the graph output itself */
      free(np->output[0]);
      if (!(np->output[0] = dup_str(onames[k]))) s = oom();
      else s = add_io(&gp->output, &gp->n_output, &g->values[vid].meta, onames[k]);
    }
  }
  free(onames);
  return s;
}

tl_status tl_onnx_export(const tl_graph *g, const char *const *arg_names, const char *const *output_names, int opset,
                         const char *path) {
  if (!g || !path) return tl_error(TL_INVALID_ARGUMENT, "onnx export: a graph and a path are required");
  if (opset < 13 || opset > 17)
    return tl_error(TL_INVALID_ARGUMENT, "onnx export: opset %d is not supported (13 to 17 are)", opset);
  TLX_TRY(tl_graph_validate(g));
  tlx x = {.g = g, .opset = opset};
  tl_status s = TL_OK;
  size_t nv = (size_t)(g->n_values ? g->n_values : 1);
  x.vname = calloc(nv, sizeof *x.vname);
  x.cval = calloc(nv, sizeof *x.cval);
  x.var = calloc(nv, sizeof *x.var);
  x.model = malloc(sizeof *x.model);
  if (!x.vname || !x.cval || !x.var || !x.model) {
    s = oom();
    free(x.model);
    x.model = NULL;
    goto done;
  }
  onnx__model_proto__init(x.model);
  if ((s = build(&x, arg_names, output_names))) goto done;
  size_t len = protobuf_c_message_get_packed_size(&x.model->base);
  if (len > (size_t)INT32_MAX) {
    s = tl_error(TL_RESOURCE_EXHAUSTED,
                 "onnx export: the model is %zu bytes, over protobuf's 2 GiB limit (external data is not written)", len);
    goto done;
  }
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) {
    s = oom();
    goto done;
  }
  size_t packed = protobuf_c_message_pack(&x.model->base, buf);
  s = packed == len ? write_file(buf, len, path) : tl_error(TL_INTERNAL, "onnx export: packed %zu of %zu bytes", packed, len);
  free(buf);
done:
  if (x.model) protobuf_c_message_free_unpacked(&x.model->base, NULL);
  if (x.cval)
    for (int i = 0; i < g->n_values; i++) tl_tensor_release(x.cval[i]);
  for (int i = 0; i < x.n_pool; i++) free(x.pool[i]);
  free(x.pool);
  free(x.user);
  free(x.vars);
  free(x.vname);
  free(x.cval);
  free(x.var);
  return s;
}
#endif
