/* graph_internal.h — what the graph files share and nothing else sees. */
#ifndef TL_GRAPH_INTERNAL_H
#define TL_GRAPH_INTERNAL_H
#include "tl_graph.h"

/* Attribute copies owned by a node (lists and strings duplicated). */
tl_status tlg_attr_copy(tl_attr *dst, const tl_attr *src);
void tlg_attr_free(tl_attr *a);
/* Whether attribute i of op holds its declared default. */
bool tlg_attr_is_default(const tl_op_def *op, int i, const tl_attr *a);
/* Frees what a node owns and zeroes it. */
void tlg_node_clear(tl_gnode *n);
/* "matmul", "cond", "arg", ... */
const char *tlg_node_label(const tl_gnode *n);

/* The dispatcher's hook (registry.c): while a trace records on this thread
 * and the op is applied at depth 0, tl_op_run calls this instead of the
 * kernel. It runs the shape rule, records the node and fills out with
 * symbolic tensors. */
tl_status tlg_trace_record(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                           tl_tensor_list *out);
/* Set while a trace records and is not paused (read on every op). */
extern _Thread_local bool tlg_tracing;

/* Element-wise fusion (fuse.c): replaces chains of element-wise ops (and
 * the reduction consuming one) by fused nodes; counts in g->stats. */
tl_status tlg_fuse(tl_graph *g);

/* tl_op_run, with `into` (a tensor of the output's dtype, shape and device,
 * whose buffer nothing else reads) used as output 0 instead of a new buffer
 * when the dispatcher allocates outputs for op itself (registry.c). The
 * caller keeps its reference. For element-wise kernels, which read each
 * element before writing the same position. */
tl_status tlg_op_run_into(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs, tl_tensor *into,
                          tl_tensor_list *out);

/* The executor's plan (exec.c): last uses, the values each node releases,
 * in-place writes (TL_OPT_MEMORY) and the memory counters in g->stats. */
tl_status tlg_plan(tl_graph *g);

/* Control flow nodes at run time (control.c): ins are the node's inputs,
 * out receives n_out new references. */
tl_status tlg_run_control(tl_graph *g, const tl_gnode *n, tl_tensor *const *ins, tl_tensor_list *out);
#endif
