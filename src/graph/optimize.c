/* optimize.c — graph rewrites (tl_graph_optimize). For now dead-code
 * elimination only: nodes whose outputs nobody reads and that change no
 * state are dropped. */
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"

static bool has_effect(const tl_gnode *n) {
  if (n->kind == TL_NODE_ARG) return true; /* arguments keep their positions */
  if (n->kind == TL_NODE_OP) return (n->op->flags & (TL_OP_STATEFUL | TL_OP_RANDOM)) != 0;
  return n->kind != TL_NODE_CONST; /* control flow may hold stateful ops */
}

/* Removes dead nodes and renumbers values; returns how many went. */
static tl_status dce(tl_graph *g, int *removed) {
  int nn = g->n_nodes, nv = g->n_values;
  bool *live = calloc((size_t)(nn ? nn : 1), 1);
  int *vmap = malloc(sizeof(int) * (size_t)(nv ? nv : 1));
  if (!live || !vmap) {
    free(live);
    free(vmap);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  for (int i = 0; i < g->n_outputs; i++) live[g->values[g->outputs[i]].node] = true;
  for (int i = nn - 1; i >= 0; i--) {
    tl_gnode *n = &g->nodes[i];
    if (!live[i] && has_effect(n)) live[i] = true;
    if (!live[i]) continue;
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] >= 0) live[g->values[n->in[k]].node] = true;
  }
  int w = 0, wv = 0;
  for (int i = 0; i < nn; i++) {
    tl_gnode *n = &g->nodes[i];
    if (!live[i]) {
      for (int k = 0; k < n->n_out; k++) vmap[n->out0 + k] = -1;
      tlg_node_clear(n);
      continue;
    }
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] >= 0) n->in[k] = vmap[n->in[k]];
    for (int k = 0; k < n->n_out; k++) {
      vmap[n->out0 + k] = wv + k;
      g->values[wv + k] = g->values[n->out0 + k];
      g->values[wv + k].node = w;
    }
    n->out0 = wv;
    wv += n->n_out;
    if (w != i) {
      g->nodes[w] = *n;
      memset(n, 0, sizeof *n);
    }
    w++;
  }
  for (int i = 0; i < g->n_args; i++) g->args[i] = vmap[g->args[i]];
  for (int i = 0; i < g->n_outputs; i++) g->outputs[i] = vmap[g->outputs[i]];
  *removed = nn - w;
  g->n_nodes = w;
  g->n_values = wv;
  free(live);
  free(vmap);
  tl_graph_invalidate(g);
  return TL_OK;
}

tl_status tl_graph_optimize(tl_graph *g, unsigned passes) {
  if (!g->stats.nodes_before) g->stats.nodes_before = g->n_nodes;
  tl_status s = TL_OK;
  if (passes & TL_OPT_DCE) {
    int removed = 0;
    s = dce(g, &removed);
    g->stats.dce_removed += removed;
  }
  if (!s && (passes & TL_OPT_FUSE)) s = tlg_fuse(g);
  g->opt_passes |= passes;
  g->stats.nodes_after = g->n_nodes;
  return s;
}
