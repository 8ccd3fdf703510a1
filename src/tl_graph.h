/* tl_graph.h — graphs: what tf.trace records, optimizes, runs and exports.
 *
 * A graph is a list of nodes in a valid execution order (every input is
 * produced by an earlier node) over a flat array of values. Each value is
 * one output of one node and carries its meta (dtype and shape; -1 for an
 * unknown dimension). Node kinds:
 *
 *   ARG    an argument of the graph (value = the arg; arg = its position).
 *          In a subgraph (a branch or loop body) an ARG may stand for a
 *          value of the enclosing graph (capture >= 0: that value's id).
 *   CONST  a captured tensor (retained). A TL_RESOURCE constant is a
 *          variable handle: the graph keeps the variable alive and reads
 *          its current value at every run (captured by reference).
 *   OP     an application of a registry op: its attributes are the graph's
 *          own copies (lists and strings owned by the node).
 *   COND / WHILE / CALL   control flow over subgraphs (sub[]); see
 *          src/graph/control.c for their input conventions.
 *
 * The core never includes Lua: a C program can load an exported graph and
 * run it (tools/tlua-run.c, examples/c/).
 */
#ifndef TL_GRAPH_H
#define TL_GRAPH_H

#include "tl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tl_node_kind {
  TL_NODE_ARG = 0,
  TL_NODE_CONST,
  TL_NODE_OP,
  TL_NODE_COND,  /* in[0]: bool scalar predicate; in[1..]: passed to sub[0]/sub[1]'s args */
  TL_NODE_WHILE, /* in[]: loop vars then extra args; sub[0]: cond, sub[1]: body */
  TL_NODE_CALL,  /* in[]: sub[0]'s args (a nested traced function kept whole) */
  TL_NODE_KIND_COUNT
} tl_node_kind;

struct tl_graph;

typedef struct tl_gnode {
  tl_node_kind kind;
  const tl_op_def *op;          /* OP */
  tl_attr attr[TL_MAX_ATTRS];   /* OP: one per declared attribute, owned copies */
  int n_in;
  int *in;                      /* value ids; -1 for an absent optional input */
  int n_out;
  int out0;                     /* outputs are the values out0 .. out0+n_out-1 */
  tl_tensor *value;             /* CONST (retained) */
  int arg;                      /* ARG: position among the graph's args */
  int capture;                  /* ARG of a subgraph: enclosing value id, or -1 */
  int n_sub;
  struct tl_graph **sub;        /* COND/WHILE/CALL: owned subgraphs */
  int64_t iparam;               /* control flow: e.g. WHILE's maximum_iterations (-1: none) */
  char *where;                  /* "train.lua:42", or NULL: the Lua line that made it */
  char *name;                   /* optional user-visible name (NULL) */
} tl_gnode;

typedef struct tl_gvalue {
  int node;  /* producer */
  int port;  /* which of its outputs */
  tl_meta meta;
} tl_gvalue;

/* Counters of the optimization passes, for graph:stats(). */
typedef struct tl_graph_stats {
  int nodes_before, nodes_after;
  int dce_removed, cse_merged, folded, noops_removed, simplified;
  int fused_groups, fused_ops;
  int64_t planned_bytes, unplanned_bytes; /* memory plan: arena size vs. sum of all buffers */
  int buffers_reused, in_place;
  int parallel_levels;
} tl_graph_stats;

typedef struct tl_graph {
  int refcount;
  tl_gnode *nodes;
  int n_nodes, cap_nodes;
  tl_gvalue *values;
  int n_values, cap_values;
  int n_args;
  int *args;          /* value id of each arg, in position order */
  int n_outputs;
  int *outputs;       /* value ids */
  tl_graph_stats stats;
  unsigned opt_passes; /* the TL_OPT_* passes applied; the executor reads MEMORY and PARALLEL */
  void *plan;         /* the executor's compiled plan (exec.c), built lazily */
  void (*free_plan)(void *plan);
} tl_graph;

/* ---- building ---------------------------------------------------------- */
tl_status tl_graph_new(tl_graph **out);
tl_graph *tl_graph_retain(tl_graph *g);
void tl_graph_release(tl_graph *g);
/* Adds an ARG node with the given meta; *vid is its value. */
tl_status tl_graph_add_arg(tl_graph *g, const tl_meta *m, int *vid);
/* Adds a CONST node holding t (retained; a resource also retains its variable). */
tl_status tl_graph_add_const(tl_graph *g, tl_tensor *t, int *vid);
/* Adds an OP node: attrs are copied (lists and strings too); the output
 * metas are given (the shape rule's). out0 receives the first output's id. */
tl_status tl_graph_add_op(tl_graph *g, const tl_op_def *op, const int *in, int n_in,
                          const tl_attr *attrs, const tl_meta *out_meta, int n_out,
                          const char *where, int *out0);
/* Adds a node of another kind with n_out outputs; the subgraphs are taken. */
tl_status tl_graph_add_node(tl_graph *g, tl_node_kind kind, const int *in, int n_in,
                            tl_graph **sub, int n_sub, const tl_meta *out_meta, int n_out,
                            const char *where, int *node_index);
tl_status tl_graph_set_outputs(tl_graph *g, const int *vids, int n);
/* Drops the compiled plan (after a pass changed the graph). */
void tl_graph_invalidate(tl_graph *g);
/* A deep copy (constants shared by reference). */
tl_status tl_graph_copy(const tl_graph *g, tl_graph **out);
/* Checks the invariants (order, ids, arities); a loaded file goes through it. */
tl_status tl_graph_validate(const tl_graph *g);

/* ---- inspection -------------------------------------------------------- */
/* Text listing, one node per line with shapes and source lines (malloc'd). */
tl_status tl_graph_describe(const tl_graph *g, char **out);
/* Graphviz DOT (malloc'd). */
tl_status tl_graph_dot(const tl_graph *g, char **out);

/* ---- tracing ----------------------------------------------------------- */
/* A trace records every op the calling thread applies at depth 0 into a
 * graph instead of running it; tensors made inside carry metas but no
 * values (symbolic: tl_tensor_is_symbolic). Traces nest (a branch of
 * tf.cond traced inside a trace): a symbolic tensor of an enclosing trace
 * used inside becomes a captured ARG of the inner graph. */
typedef struct tl_trace tl_trace;
tl_status tl_trace_begin(tl_trace **out);
/* A symbolic argument with meta m (a -1 dimension is dynamic), on the
 * default device / on dev (where the call's tensor lives). */
tl_status tl_trace_arg(tl_trace *tr, const tl_meta *m, tl_tensor **out);
tl_status tl_trace_arg_on(tl_trace *tr, const tl_meta *m, tl_device dev, tl_tensor **out);
/* Ends the trace (it must be the innermost one on this thread) and builds
 * its graph with the given outputs (symbolic tensors of this trace, or
 * concrete ones, which become constants). */
tl_status tl_trace_end(tl_trace *tr, tl_tensor *const *outputs, int n_out, tl_graph **out);
/* Abandons a trace (an error in the traced function); safe on any trace. */
void tl_trace_abort(tl_trace *tr);
/* The innermost active trace on this thread, or NULL. */
tl_trace *tl_trace_current(void);
/* The graph being recorded by tr (borrowed). */
tl_graph *tl_trace_graph(tl_trace *tr);
/* The value id in tr's graph of a tensor used there (a symbolic tensor of
 * tr or of an enclosing trace, which becomes a capture; or a constant). */
tl_status tl_trace_value(tl_trace *tr, tl_tensor *t, int *vid);
/* A symbolic tensor for value vid of tr's graph (used by control flow to
 * hand out a node's outputs). */
tl_status tl_trace_symbolic(tl_trace *tr, int vid, tl_tensor **out);
/* Pause / resume recording on this thread: ops run eagerly in between
 * (tf.init_scope: variable initializers while tracing). Nestable. */
void tl_trace_pause(void);
void tl_trace_resume(void);
bool tl_trace_active(void); /* a trace is recording on this thread (not paused) */
/* Where the next recorded node comes from: set by the Lua binding before
 * it applies an op while tracing (copied; NULL clears). */
void tl_trace_set_where(const char *where);
/* A hook the binding installs to compute the location lazily (called once
 * per recorded node while no explicit location is set). */
typedef const char *(*tl_where_fn)(void);
void tl_trace_set_where_hook(tl_where_fn fn);

static inline bool tl_tensor_is_symbolic(const tl_tensor *t) { return t && t->sym_value != 0; }

/* ---- running ----------------------------------------------------------- */
/* Runs g on args (n_args == g->n_args, each matching its ARG's dtype and
 * known dims); out receives n_outputs new references. Each node runs
 * through the registry (tl_op_run), so observers (an outer tape) see the
 * ops, and kernels come from the inputs' device. A failing node's error
 * is prefixed with the Lua line that made it. */
tl_status tl_graph_run(tl_graph *g, tl_tensor *const *args, int n_args, tl_tensor_list *out);

/* The same from code that may be tracing (src/graph/call.c): eagerly it
 * runs g; while a trace records it inlines g's ops into the trace (a graph
 * with control flow becomes one CALL node holding a copy of g). */
tl_status tl_graph_call_traced(tl_graph *g, tl_tensor *const *args, int n_args, tl_tensor_list *out);

/* ---- optimization ------------------------------------------------------ */
enum {
  TL_OPT_DCE = 1 << 0,
  TL_OPT_CSE = 1 << 1,
  TL_OPT_FOLD = 1 << 2,
  TL_OPT_NOOP = 1 << 3,
  TL_OPT_SIMPLIFY = 1 << 4,
  TL_OPT_FUSE = 1 << 5,
  TL_OPT_MEMORY = 1 << 6,
  TL_OPT_PARALLEL = 1 << 7,
  TL_OPT_ALL = 0xff,
};
/* Rewrites g in place with the passes in `passes`; counters in g->stats. */
tl_status tl_graph_optimize(tl_graph *g, unsigned passes);

/* ---- files ------------------------------------------------------------- */
/* See docs/file-formats.md ("tlua saved model"). A saved model holds named
 * functions (signatures), each a graph whose variables are listed once. */
typedef struct tl_saved_fn {
  char *name;           /* "serving_default", "__call__", ... */
  tl_graph *graph;
  char **arg_names;     /* n_args names (may be NULL entries) */
  char **output_names;  /* n_outputs names */
} tl_saved_fn;
typedef struct tl_saved_model {
  int n_fns;
  tl_saved_fn *fns;
  int n_variables;
  tl_variable **variables; /* shared by the functions' resource constants */
} tl_saved_model;
tl_status tl_saved_model_write(const tl_saved_model *m, const char *path);
tl_status tl_saved_model_read(const char *path, tl_saved_model **out);
/* The same from memory (the loader the fuzz target drives). */
tl_status tl_saved_model_parse(const void *buf, size_t len, tl_saved_model **out);
void tl_saved_model_free(tl_saved_model *m);
const tl_saved_fn *tl_saved_model_find(const tl_saved_model *m, const char *name);

/* ONNX export (src/graph/onnx.c): the graph must hold supported ops only;
 * variables are written as initializers with their current values. */
tl_status tl_onnx_export(const tl_graph *g, const char *const *arg_names,
                         const char *const *output_names, int opset, const char *path);
/* Whether this build has the exporter (protobuf-c was found); without it
 * tl_onnx_export fails with TL_UNIMPLEMENTED naming the packages. */
bool tl_onnx_available(void);

#ifdef __cplusplus
}
#endif
#endif
