/* call.c — calling a graph from code that may be tracing (a loaded saved
 * model's function used inside tf.trace, or under a tape).
 *
 * Eagerly, the graph runs (tl_graph_run): each node goes through the
 * dispatcher, so a tape around the call records the ops and gradients
 * reach the graph's variables. While a trace records, running the graph on
 * the symbolic arguments inlines it: every op is recorded into the trace
 * like any other (tapes inside the trace see them too, and the optimizer
 * sees through the call). Only a graph holding control-flow nodes, whose
 * predicates have no value while tracing, becomes one CALL node holding a
 * copy of the graph, with symbolic outputs; a tape cannot see that node,
 * so under an active tape this is an Unimplemented error, never a silently
 * missing gradient.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"

static bool has_control_flow(const tl_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    const tl_gnode *n = &g->nodes[i];
    if (n->kind == TL_NODE_COND || n->kind == TL_NODE_WHILE) return true;
    for (int k = 0; k < n->n_sub; k++)
      if (has_control_flow(n->sub[k])) return true;
  }
  return false;
}

static tl_status check_args(const tl_graph *g, tl_tensor *const *args, int n) {
  if (n != g->n_args) return tl_error(TL_INVALID_ARGUMENT, "graph takes %d arguments, got %d", g->n_args, n);
  for (int i = 0; i < n; i++) {
    const tl_meta *m = &g->values[g->args[i]].meta;
    const tl_tensor *t = args[i];
    char want[200], got[200];
    if (!t) return tl_error(TL_INVALID_ARGUMENT, "argument %d is missing (expected %s)", i + 1, tl_meta_describe(m, want, sizeof want));
    bool ok = t->dtype == m->dtype && (m->rank < 0 || t->rank == m->rank);
    for (int k = 0; ok && k < m->rank; k++) ok = m->shape[k] < 0 || m->shape[k] == t->shape[k];
    if (!ok)
      return tl_error(TL_INVALID_ARGUMENT, "argument %d: expected %s, got %s", i + 1, tl_meta_describe(m, want, sizeof want),
                      tl_meta_describe(&t->meta, got, sizeof got));
  }
  return TL_OK;
}

tl_status tl_graph_call_traced(tl_graph *g, tl_tensor *const *args, int n, tl_tensor_list *out) {
  if (!tl_trace_active() || !has_control_flow(g)) return tl_graph_run(g, args, n, out);
  /* A CALL node is not an op the dispatcher runs, so a tape would not see
   * it: refuse rather than hand back a gradient of None. */
  if (tl_tapes_active())
    return tl_error(TL_UNIMPLEMENTED, "a graph with control flow (a loaded function with tf.cond / tf.while_loop) "
                                      "cannot be differentiated inside a traced function yet; call it eagerly "
                                      "under the GradientTape, or outside tf.trace");
  tl_status s = check_args(g, args, n);
  if (s) return s;
  tl_trace *tr = tl_trace_current();
  int *vids = malloc(sizeof(int) * (size_t)(n ? n : 1));
  tl_meta *metas = malloc(sizeof(tl_meta) * (size_t)(g->n_outputs ? g->n_outputs : 1));
  tl_graph *copy = NULL;
  if (!vids || !metas) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int i = 0; i < n && !s; i++) s = tl_trace_value(tr, args[i], &vids[i]);
  for (int i = 0; i < g->n_outputs && !s; i++) metas[i] = g->values[g->outputs[i]].meta;
  if (!s) s = tl_graph_copy(g, &copy);
  int k = -1;
  if (!s) s = tl_graph_add_node(tl_trace_graph(tr), TL_NODE_CALL, vids, n, &copy, 1, metas, g->n_outputs, NULL, &k);
  if (s) tl_graph_release(copy);
  int out0 = s ? 0 : tl_trace_graph(tr)->nodes[k].out0;
  for (int i = 0; i < g->n_outputs && !s; i++) {
    tl_tensor *t;
    if (!(s = tl_trace_symbolic(tr, out0 + i, &t))) s = tl_list_push(out, t);
  }
  if (s) tl_list_clear(out);
  free(vids);
  free(metas);
  return s;
}
