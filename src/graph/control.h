/* control.h — building control-flow nodes while tracing, and their
 * gradients (src/graph/control.c runs them, control_grad.c builds them and
 * differentiates them). Used by lua/control_binding.c (tf.cond,
 * tf.while_loop) and by the executor when a graph runs inside a trace.
 */
#ifndef TL_GRAPH_CONTROL_H
#define TL_GRAPH_CONTROL_H
#include "tl_graph.h"

/* A CALL node whose iparam is TL_CALL_VJP is the vector-Jacobian product of
 * its subgraph F instead of a call: in = [F's args..., one gradient per F
 * output]; node->arg = n_diff: the outputs are the gradients of F's first
 * n_diff args (zeros where unconnected) followed by one gradient per
 * trainable float variable F reads (in tlg_graph_variables order). It runs
 * F again under a fresh tape and walks it back (a recompute, so F must not
 * change state or draw random numbers: tlg_graph_effect). */
enum { TL_CALL_PLAIN = -1, TL_CALL_VJP = 1 };

/* Adds a control node (COND / WHILE / CALL) to the innermost trace with the
 * given input tensors (symbolic tensors of the trace or of enclosing ones,
 * or concrete tensors) and takes the subgraphs (one reference each, also
 * on failure). metas: the outputs'. out receives the symbolic outputs. When
 * a gradient tape records, the node is recorded on it with a backward that
 * adds the node's vector-Jacobian product to the trace. */
tl_status tlg_control_emit(tl_node_kind kind, tl_tensor *const *ins, int n_in, tl_graph **subs, int n_sub,
                           const tl_meta *metas, int n_out, int arg, int64_t iparam, const char *where,
                           tl_tensor_list *out);

/* The trainable floating-point variables g reads (constants of resource
 * type, nested subgraphs included), in first-seen order, as new
 * references in a malloc'd array (*vars may be NULL when *n is 0). */
tl_status tlg_graph_variables(const tl_graph *g, tl_variable ***vars, int *n);
void tlg_free_variables(tl_variable **vars, int n);

/* The first op in g (or its subgraphs) that changes state or draws random
 * numbers, or NULL. */
const tl_op_def *tlg_graph_effect(const tl_graph *g);

/* Runs a TL_CALL_VJP node (control_grad.c). */
tl_status tlg_run_vjp(const tl_gnode *n, tl_tensor *const *ins, tl_tensor_list *out);
#endif
