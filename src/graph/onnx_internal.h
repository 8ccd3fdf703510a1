/* onnx_internal.h — what onnx.c (the model builder and the file) and
 * onnx_ops.c (one ONNX rendering per tlua op) share. Only compiled with
 * protobuf-c (TLUA_HAVE_PROTOBUF_C): the message types come from the C code
 * that protoc-c generates at build time from Debian's onnx.proto.
 */
#ifndef TL_ONNX_INTERNAL_H
#define TL_ONNX_INTERNAL_H
#ifdef TLUA_HAVE_PROTOBUF_C
#include "onnx.pb-c.h"
#include "tl_graph.h"

/* The export of one graph. Every string a message holds is its own copy
 * (protobuf_c_message_free_unpacked frees the whole model at the end);
 * the names in vname and those handed out by the helpers live in `pool`. */
typedef struct tlx {
  const tl_graph *g;
  int opset;
  Onnx__ModelProto *model;
  Onnx__GraphProto *gp;  /* where nodes go: the main graph, or a branch / loop body */
  Onnx__GraphProto *igp; /* where initializers go: always the main graph (outer-scope
                            names are visible inside subgraphs) */
  size_t cap_init;
  const char **vname;    /* per value: its ONNX name, NULL until produced */
  tl_tensor **cval;      /* per value: a known constant (CONST node, folded op), retained */
  tl_variable **var;     /* per value: the variable of a resource constant */
  char **pool;
  int n_pool, cap_pool;
  const char **user;     /* names the caller chose (args, outputs, variables) */
  int n_user, cap_user;
  struct tlx_var {       /* variables already written, with their initializer's name */
    tl_variable *v;
    const char *name;
  } *vars;
  int n_vars, cap_vars;
  int fresh;             /* counter for temporary names */
  const tl_gnode *cur;   /* the node being converted (node names, doc strings) */
  int cur_index;
} tlx;

#define TLX_TRY(e)                 \
  do {                             \
    tl_status s_ = (e);            \
    if (s_ != TL_OK) return s_;    \
  } while (0)

/* A name owned by the pool (printf-style); NULL only on failure (status set). */
const char *tlx_str(tlx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Scratch memory freed with the export (NULL only on failure, status set). */
void *tlx_alloc(tlx *x, size_t bytes);
/* ONNX's element type for a tlua dtype (0: none). */
int tlx_onnx_dtype(tl_dtype d);
/* Emits a node of `type` reading n_in inputs (NULL: an absent optional
 * input) and producing n_out fresh names into outs; *np (may be NULL)
 * receives the node for its attributes. */
tl_status tlx_emit(tlx *x, const char *type, int n_in, const char *const *in, int n_out, const char **outs,
                   Onnx__NodeProto **np);
/* The same with one output and inputs as arguments: tlx_op(x, "Relu", &y, &np, 1, a). */
tl_status tlx_op(tlx *x, const char *type, const char **out, Onnx__NodeProto **np, int n_in, ...);
tl_status tlx_attr_int(Onnx__NodeProto *np, const char *name, int64_t v);
tl_status tlx_attr_float(Onnx__NodeProto *np, const char *name, float v);
tl_status tlx_attr_string(Onnx__NodeProto *np, const char *name, const char *v);
tl_status tlx_attr_ints(Onnx__NodeProto *np, const char *name, int n, const int64_t *v);
/* A TENSOR attribute holding t (ConstantOfShape's value). */
tl_status tlx_attr_tensor(Onnx__NodeProto *np, const char *name, tl_tensor *t);
/* New initializers: a tensor, a scalar of dtype dt, a 1-D int64 list. */
tl_status tlx_init_tensor(tlx *x, tl_tensor *t, const char *base, const char **name);
tl_status tlx_scalar(tlx *x, tl_dtype dt, double v, const char **name);
tl_status tlx_ints(tlx *x, int n, const int64_t *v, const char **name);
/* The ONNX name of value vid as an input of the current node (a constant
 * becomes an initializer on first use); an error when it has none. */
tl_status tlx_in(tlx *x, int vid, const char **name);
/* An error naming the current node, its op and its Lua line. */
tl_status tlx_fail(tlx *x, tl_status kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- what the two rendering files share (onnx_ops.c, onnx_shape_ops.c) ---- */
typedef tl_status (*tlx_render_fn)(tlx *x, const tl_gnode *n, const char *onnx);
typedef struct tlx_rendering {
  const char *name; /* the tlua op */
  tlx_render_fn fn;
  const char *onnx; /* the ONNX op, or which composition fn writes */
} tlx_rendering;
extern const tlx_rendering tlx_shape_renderings[];
extern const int tlx_n_shape_renderings;

/* Short helpers for the renderings (this header is only included by the
 * onnx*.c files): a node's attribute by name, a value's meta, a node's
 * first output meta, naming output k, an axis made non-negative. */
static inline const tl_attr *A(const tl_gnode *n, const char *name) {
  int i = tl_attr_index(n->op, name);
  return i >= 0 ? &n->attr[i] : NULL;
}
static inline const tl_meta *M(const tlx *x, int vid) { return &x->g->values[vid].meta; }
static inline const tl_meta *OUT(const tlx *x, const tl_gnode *n) { return M(x, n->out0); }
static inline void SET(tlx *x, const tl_gnode *n, int k, const char *name) { x->vname[n->out0 + k] = name; }
static inline int64_t norm_axis(int64_t a, int rank) { return a < 0 ? a + rank : a; }

#define IN(k, var) TLX_TRY(tlx_in(x, n->in[k], &(var)))

static inline tl_status need_rank(tlx *x, const tl_meta *m) {
  if (m->rank < 0) return tlx_fail(x, TL_UNIMPLEMENTED, "needs an input of known rank");
  return TL_OK;
}

static inline tl_status cast_to(tlx *x, const char *in, tl_dtype to, const char **out) {
  Onnx__NodeProto *np;
  int et = tlx_onnx_dtype(to);
  if (!et) return tlx_fail(x, TL_UNIMPLEMENTED, "casts to %s, which ONNX lacks", tl_dtypes[to].name);
  TLX_TRY(tlx_op(x, "Cast", out, &np, 1, in));
  return tlx_attr_int(np, "to", et);
}

static inline tl_status transpose(tlx *x, const char *in, int rank, const int64_t *perm, const char **out) {
  Onnx__NodeProto *np;
  TLX_TRY(tlx_op(x, "Transpose", out, &np, 1, in));
  return tlx_attr_ints(np, "perm", rank, perm);
}

/* The permutation swapping the last two of rank axes. */
static inline void swap_last(int rank, int64_t *perm) {
  for (int i = 0; i < rank; i++) perm[i] = i;
  perm[rank - 1] = rank - 2;
  perm[rank - 2] = rank - 1;
}

/* onnx_ops.c: renders OP node n (not stateful, not foldable) into ONNX
 * nodes and sets x->vname for its outputs; an op without a rendering is an
 * error naming it. */
tl_status tlx_convert_op(tlx *x, const tl_gnode *n);
#endif
#endif
