/* control.c — control-flow nodes at run time.
 *
 * Input conventions (the tracer in stdlib/tlua/control.lua builds them):
 *   COND   in = [pred, then-args..., else-args...]; node->arg = number of
 *          then-args. sub[0] (then) and sub[1] (else) return the node's
 *          outputs.
 *   WHILE  in = [loop vars..., extra args...]; node->arg = number of loop
 *          vars. sub[0] (cond) takes all inputs and returns one bool
 *          scalar; sub[1] (body) takes all inputs and returns the new loop
 *          vars. iparam: maximum_iterations (-1: none). The outputs are the
 *          final loop vars.
 *   CALL   in = sub[0]'s args; returns its outputs. With iparam
 *          TL_CALL_VJP (control.h) it is instead the gradient of sub[0]
 *          (control_grad.c: in = [args..., output gradients...]).
 *
 * Subgraph args that capture values of the enclosing graph are ordinary
 * args here: the node's inputs feed them (their `capture` field only says
 * where they came from when traced).
 *
 * A control node run while a trace records (a traced function's graph run
 * inside another trace) is not run but added to that trace again, with
 * symbolic outputs (tlg_control_emit).
 */
#include <stdlib.h>
#include <string.h>

#include "graph/control.h"
#include "graph/graph_internal.h"

/* The truth of a scalar predicate, read from a host copy. */
static tl_status truth(tl_tensor *p, bool *out) {
  if (!p || p->size != 1)
    return tl_error(TL_INVALID_ARGUMENT, "the predicate of a control-flow node must be a scalar");
  if (p->dtype == TL_STRING || p->dtype == TL_RESOURCE)
    return tl_error(TL_INVALID_ARGUMENT, "the predicate must be boolean or numeric, not %s", tl_dtypes[p->dtype].name);
  tl_tensor *h;
  tl_status s = tl_tensor_copy_to(p, TL_CPU, &h);
  if (s) return s;
  *out = tl_load_f64(h->storage->data, h->dtype, h->offset) != 0;
  tl_tensor_release(h);
  return TL_OK;
}

static tl_status run_while(tl_graph *g, const tl_gnode *n, tl_tensor *const *ins, tl_tensor_list *out) {
  (void)g;
  int nl = n->arg, na = n->n_in;
  if (nl < 0 || nl > na) return tl_error(TL_INTERNAL, "while: bad loop-variable count");
  tl_tensor **cur = calloc((size_t)(na ? na : 1), sizeof *cur);
  if (!cur) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int i = 0; i < na; i++) cur[i] = tl_tensor_retain(ins[i]);
  tl_status s = TL_OK;
  for (int64_t it = 0; !s; it++) {
    if (n->iparam >= 0 && it >= n->iparam) break;
    if (tl_interrupt_pending()) {
      tl_interrupted();
      s = tl_error(TL_CANCELLED, "while_loop: interrupted");
      break;
    }
    tl_tensor_list c;
    tl_list_init(&c);
    if ((s = tl_graph_run(n->sub[0], cur, na, &c))) break;
    bool go = false;
    s = c.n == 1 ? truth(c.items[0], &go) : tl_error(TL_INTERNAL, "while: cond returned %d values", c.n);
    tl_list_clear(&c);
    if (s || !go) break;
    tl_tensor_list b;
    tl_list_init(&b);
    if ((s = tl_graph_run(n->sub[1], cur, na, &b))) break;
    if (b.n != nl) {
      tl_list_clear(&b);
      s = tl_error(TL_INTERNAL, "while: body returned %d values for %d loop variables", b.n, nl);
      break;
    }
    for (int i = 0; i < nl; i++) {
      tl_tensor_release(cur[i]);
      cur[i] = b.items[i];
      b.items[i] = NULL;
    }
    b.n = 0;
    tl_list_clear(&b);
  }
  for (int i = 0; i < nl && !s; i++) {
    s = tl_list_push(out, cur[i]);
    if (!s) cur[i] = NULL;
  }
  for (int i = 0; i < na; i++) tl_tensor_release(cur[i]);
  free(cur);
  if (s) tl_list_clear(out);
  return s;
}

/* The node again in the recording trace (see the header comment). */
static tl_status reemit(tl_graph *g, const tl_gnode *n, tl_tensor *const *ins, tl_tensor_list *out) {
  tl_graph **subs = calloc((size_t)n->n_sub + 1, sizeof *subs);
  tl_meta *metas = malloc(sizeof *metas * (size_t)(n->n_out + 1));
  tl_status s = subs && metas ? TL_OK : tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int k = 0; k < n->n_sub && !s; k++) s = tl_graph_copy(n->sub[k], &subs[k]);
  for (int i = 0; i < n->n_out && !s; i++) metas[i] = g->values[n->out0 + i].meta;
  if (!s) s = tlg_control_emit(n->kind, ins, n->n_in, subs, n->n_sub, metas, n->n_out, n->arg, n->iparam, n->where, out);
  else
    for (int k = 0; subs && k < n->n_sub; k++) tl_graph_release(subs[k]);
  free(subs);
  free(metas);
  return s;
}

tl_status tlg_run_control(tl_graph *g, const tl_gnode *n, tl_tensor *const *ins, tl_tensor_list *out) {
  if (tl_trace_active()) return reemit(g, n, ins, out);
  switch (n->kind) {
  case TL_NODE_CALL:
    if (n->iparam == TL_CALL_VJP) return tlg_run_vjp(n, ins, out);
    return tl_graph_run(n->sub[0], ins, n->n_in, out);
  case TL_NODE_COND: {
    bool p;
    tl_status s = truth(ins[0], &p);
    if (s) return s;
    int nthen = n->arg;
    if (nthen < 0 || nthen > n->n_in - 1) return tl_error(TL_INTERNAL, "cond: bad argument split");
    return p ? tl_graph_run(n->sub[0], ins + 1, nthen, out)
             : tl_graph_run(n->sub[1], ins + 1 + nthen, n->n_in - 1 - nthen, out);
  }
  case TL_NODE_WHILE: return run_while(g, n, ins, out);
  default: return tl_error(TL_INTERNAL, "graph: node kind %d is not control flow", (int)n->kind);
  }
}
