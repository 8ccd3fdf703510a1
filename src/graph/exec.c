/* exec.c — running a graph.
 *
 * Nodes run in the graph's order through the registry (tl_op_run), so the
 * shape rules check every input, kernels come from the inputs' device (the
 * test device runs graphs unchanged) and observers see each op (a tape
 * around a call of a traced function records its ops). The plan, built
 * once per graph, says after which node each value is dead, so buffers go
 * back to the allocator as soon as nothing reads them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"

typedef struct plan {
  int *last_use; /* per value: index of the last node reading it; n_nodes for outputs; -1 unused */
} plan;

static void free_plan(void *p) {
  plan *pl = p;
  free(pl->last_use);
  free(pl);
}

static tl_status build_plan(tl_graph *g, plan **out) {
  plan *pl = calloc(1, sizeof *pl);
  if (!pl || !(pl->last_use = malloc(sizeof(int) * (size_t)(g->n_values ? g->n_values : 1)))) {
    free(pl);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  for (int i = 0; i < g->n_values; i++) pl->last_use[i] = -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] >= 0) pl->last_use[g->nodes[i].in[k]] = i;
  for (int i = 0; i < g->n_outputs; i++) pl->last_use[g->outputs[i]] = g->n_nodes;
  *out = pl;
  return TL_OK;
}

static tl_status check_arg(const tl_graph *g, int i, const tl_tensor *t) {
  const tl_meta *m = &g->values[g->args[i]].meta;
  char want[200], got[200];
  if (!t) return tl_error(TL_INVALID_ARGUMENT, "argument %d is missing (expected %s)", i + 1, tl_meta_describe(m, want, sizeof want));
  bool ok = t->dtype == m->dtype && (m->rank < 0 || t->rank == m->rank);
  for (int k = 0; ok && m->rank > 0 && k < m->rank; k++) ok = m->shape[k] < 0 || m->shape[k] == t->shape[k];
  if (!ok)
    return tl_error(TL_INVALID_ARGUMENT, "argument %d: expected %s, got %s", i + 1, tl_meta_describe(m, want, sizeof want),
                    tl_tensor_describe(t, got, sizeof got));
  return TL_OK;
}

tl_status tl_graph_run(tl_graph *g, tl_tensor *const *args, int n_args, tl_tensor_list *out) {
  if (n_args != g->n_args) return tl_error(TL_INVALID_ARGUMENT, "graph takes %d arguments, got %d", g->n_args, n_args);
  for (int i = 0; i < n_args; i++) {
    if (g->nodes[g->values[g->args[i]].node].capture >= 0) continue; /* filled by the caller's control flow */
    tl_status s = check_arg(g, i, args[i]);
    if (s) return s;
  }
  if (!g->plan) {
    plan *pl = NULL;
    tl_status s = build_plan(g, &pl);
    if (s) return s;
    g->plan = pl;
    g->free_plan = free_plan;
  }
  const plan *pl = g->plan;
  tl_tensor *small[64], **slot = small;
  if (g->n_values > 64 && !(slot = calloc((size_t)g->n_values, sizeof *slot)))
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  if (slot == small) memset(small, 0, sizeof small);
  tl_status s = TL_OK;
  tl_tensor *ins_small[16], **ins = ins_small;
  int ins_cap = 16;
  for (int i = 0; i < g->n_nodes && !s; i++) {
    const tl_gnode *n = &g->nodes[i];
    if (n->kind == TL_NODE_ARG) {
      slot[n->out0] = tl_tensor_retain(args[n->arg]);
      continue;
    }
    if (n->kind == TL_NODE_CONST) {
      slot[n->out0] = tl_tensor_retain(n->value);
      continue;
    }
    if (n->n_in > ins_cap) {
      tl_tensor **bigger = malloc(sizeof *bigger * (size_t)n->n_in);
      if (!bigger) {
        s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
        break;
      }
      if (ins != ins_small) free(ins);
      ins = bigger;
      ins_cap = n->n_in;
    }
    for (int k = 0; k < n->n_in; k++) ins[k] = n->in[k] >= 0 ? slot[n->in[k]] : NULL;
    tl_tensor_list res;
    tl_list_init(&res);
    if (n->kind == TL_NODE_OP) s = tl_op_run(n->op, ins, n->n_in, n->attr, &res);
    else s = tlg_run_control(g, n, ins, &res);
    if (!s && res.n != n->n_out) {
      s = tl_error(TL_INTERNAL, "%s produced %d outputs, the graph expects %d", tlg_node_label(n), res.n, n->n_out);
      tl_list_clear(&res);
    }
    if (s) {
      if (n->where) tl_error_prefix("%s: ", n->where);
      break;
    }
    for (int k = 0; k < res.n; k++) {
      /* A value nobody reads is dropped at once. */
      if (pl->last_use[n->out0 + k] < 0) tl_tensor_release(res.items[k]);
      else slot[n->out0 + k] = res.items[k];
    }
    if (res.items != res.inline_items) free(res.items);
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      if (v >= 0 && pl->last_use[v] == i && slot[v]) {
        tl_tensor_release(slot[v]);
        slot[v] = NULL;
      }
    }
  }
  if (ins != ins_small) free(ins);
  for (int i = 0; i < g->n_outputs && !s; i++) {
    tl_tensor *t = slot[g->outputs[i]];
    if (!t) s = tl_error(TL_INTERNAL, "graph output %d has no value", i);
    else if ((s = tl_list_push(out, tl_tensor_retain(t)))) tl_tensor_release(t);
  }
  if (s) tl_list_clear(out);
  for (int i = 0; i < g->n_values; i++) tl_tensor_release(slot[i]);
  if (slot != small) free(slot);
  return s;
}
