/* exec.c — running a graph.
 *
 * Nodes run in the graph's order through the registry (tl_op_run), so the
 * shape rules check every input, kernels come from the inputs' device (the
 * test device runs graphs unchanged) and observers see each op (a tape
 * around a call of a traced function records its ops). The plan, built
 * once per graph, says after which node each value is dead, so buffers go
 * back to the (caching) allocator as soon as nothing reads them, and which
 * nodes write their output into a dying input's buffer (TL_OPT_MEMORY):
 * element-wise kernels read each element before writing the same
 * position, so an input that nothing else can see (checked at run time:
 * one reference, unshared storage, no tape recording) takes the output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"
#include "ops/ew.h"

/* Per node: the values it releases when it is done, and the input whose
 * buffer may take its output (-1: none). */
typedef struct pnode {
  int n_dead;
  int dead0;   /* into plan.dead */
  int inplace; /* input position */
  int batch_end; /* TL_OPT_PARALLEL: nodes [this, batch_end) run concurrently (0: no batch starts here) */
} pnode;

typedef struct plan {
  int *last_use; /* per value: index of the last node reading it; n_nodes for outputs; -1 unused */
  pnode *pn;
  int *dead;
  bool memory;   /* TL_OPT_MEMORY: in-place writes */
} plan;

static void free_plan(void *p) {
  plan *pl = p;
  free(pl->last_use);
  free(pl->pn);
  free(pl->dead);
  free(pl);
}

static int64_t value_bytes(const tl_gvalue *v) {
  int64_t n = 1;
  if (v->meta.rank < 0 || v->meta.dtype >= TL_DTYPE_COUNT) return 0;
  for (int d = 0; d < v->meta.rank; d++) {
    if (v->meta.shape[d] < 0) return 0; /* unknown until run time */
    if (__builtin_mul_overflow(n, v->meta.shape[d], &n)) return INT64_MAX / 4; /* a hostile shape: huge, not UB */
  }
  int64_t bytes;
  if (__builtin_mul_overflow(n, (int64_t)tl_dtypes[v->meta.dtype].size, &bytes)) return INT64_MAX / 4;
  return bytes;
}

/* Whether node i may write its output into the buffer of its input k: an
 * element-wise node (or a fused one without a reduction whose output is its
 * last instruction) whose input dies here, was made by an op of this graph
 * (not an argument, constant or variable read, which others may hold) and
 * has the output's dtype and fully known shape. Run time checks the rest
 * (the buffer is unshared, dense, and no tape holds it). */
static bool can_write_into(const tl_graph *g, const plan *pl, int i, int k) {
  const tl_gnode *n = &g->nodes[i];
  int v = n->in[k];
  if (v < 0 || pl->last_use[v] != i || n->kind != TL_NODE_OP || n->n_out != 1) return false;
  const tl_gnode *p = &g->nodes[g->values[v].node];
  if (p->kind != TL_NODE_OP || strcmp(p->op->name, "read_variable") == 0 ||
      (p->op->flags & (TL_OP_KERNEL_ALLOCATES | TL_OP_STATEFUL)))
    return false;
  const tl_meta *a = &g->values[v].meta, *o = &g->values[n->out0].meta;
  if (a->dtype != o->dtype || a->rank != o->rank || o->dtype == TL_FLOAT16 || o->dtype == TL_BFLOAT16) return false;
  for (int d = 0; d < a->rank; d++)
    if (a->shape[d] < 0 || a->shape[d] != o->shape[d]) return false;
  double alpha;
  const tl_op_def *op = n->op;
  if (op->n_inputs == 1 && n->n_in == 1 && tl_ew_unary_fn(op, n->attr, o->dtype, &alpha)) return true;
  if (op->n_inputs == 2 && n->n_in == 2 && tl_ew_binary_fn(op, o->dtype)) return true;
  if (strcmp(op->name, "fused_elementwise") == 0) {
    const tl_attr *prog = &n->attr[tl_attr_index(op, "program")], *outs = &n->attr[tl_attr_index(op, "outputs")];
    const tl_attr *red = &n->attr[tl_attr_index(op, "reduce")];
    int n_instr = 1;
    for (const char *c = prog->s ? prog->s : ""; *c; c++) n_instr += *c == ';';
    return (!red->s || strcmp(red->s, "none") == 0) && outs->n == 1 && outs->ints[0] == n->n_in + n_instr - 1;
  }
  return false;
}

/* How big a node is, for TL_OPT_PARALLEL: a product's multiply-adds, or
 * the elements another node reads and writes. */
static int64_t node_work(const tl_graph *g, const tl_gnode *n, bool *is_product) {
  *is_product = false;
  if (strcmp(n->op->name, "matmul") == 0 && n->n_in == 2) {
    const tl_meta *a = &g->values[n->in[0]].meta;
    int ta = tl_attr_index(n->op, "transpose_a");
    bool t = ta >= 0 && n->attr[ta].b;
    int64_t inner = a->rank >= 2 ? a->shape[a->rank - (t ? 2 : 1)] : 1;
    *is_product = true;
    int64_t w;
    if (inner <= 0) return 0;
    return __builtin_mul_overflow(value_bytes(&g->values[n->out0]) / 4, inner, &w) ? INT64_MAX / 4 : w;
  }
  int64_t c = 0; /* saturating: hostile shapes make it huge, never undefined */
  for (int k = 0; k < n->n_in; k++)
    if (n->in[k] >= 0 && __builtin_add_overflow(c, value_bytes(&g->values[n->in[k]]) / 4, &c)) return INT64_MAX / 4;
  for (int k = 0; k < n->n_out; k++)
    if (__builtin_add_overflow(c, value_bytes(&g->values[n->out0 + k]) / 4, &c)) return INT64_MAX / 4;
  return c;
}

/* A node worth a thread of its own, and one too big for a batch: a node
 * that already splits itself over the pool (a product of 2^21 multiply-adds
 * or more, ops/linalg.c; element-wise work past ~64K elements) would run on
 * one thread inside a batch, which is slower. */
#define PAR_MIN_MACS ((int64_t)1 << 17)
#define PAR_MAX_MACS ((int64_t)1 << 21)
#define PAR_MIN_ELEMS ((int64_t)1 << 15)
#define PAR_MAX_ELEMS ((int64_t)1 << 16)

/* Consecutive runs of pure OP nodes that read nothing made inside the run
 * (so they can run at once without reordering anything around them) and
 * that are not big enough to split themselves, kept when at least two of
 * them are worth a thread: below that the hand-off costs more than it
 * saves. */
static void mark_batches(tl_graph *g, plan *pl) {
  int nn = g->n_nodes, levels = 0;
  for (int i = 0; i < nn;) {
    int j = i, worth = 0;
    while (j < nn) {
      const tl_gnode *n = &g->nodes[j];
      if (n->kind != TL_NODE_OP || (n->op->flags & (TL_OP_STATEFUL | TL_OP_RANDOM))) break;
      bool dep = false, product;
      for (int k = 0; k < n->n_in && !dep; k++) dep = n->in[k] >= 0 && g->values[n->in[k]].node >= i;
      int64_t w = node_work(g, n, &product);
      if (dep || w >= (product ? PAR_MAX_MACS : PAR_MAX_ELEMS)) break;
      worth += w >= (product ? PAR_MIN_MACS : PAR_MIN_ELEMS);
      j++;
    }
    if (j - i >= 2 && worth >= 2) {
      pl->pn[i].batch_end = j;
      levels++;
    }
    i = j > i ? j : i + 1;
  }
  g->stats.parallel_levels = levels;
}

/* The plan, and the memory counters: buffers_reused counts outputs whose
 * bytes a value freed earlier (same size) can serve, as the caching
 * allocator does; planned_bytes is the peak of live intermediate bytes
 * when values die at their last use and in-place writes share buffers;
 * unplanned_bytes the sum of every intermediate's bytes. */
static tl_status build_plan(tl_graph *g, plan **out) {
  int nv = g->n_values, nn = g->n_nodes;
  plan *pl = calloc(1, sizeof *pl);
  if (!pl || !(pl->last_use = malloc(sizeof(int) * (size_t)(nv ? nv : 1))) ||
      !(pl->pn = calloc((size_t)(nn ? nn : 1), sizeof *pl->pn)) || !(pl->dead = malloc(sizeof(int) * (size_t)(nv ? nv : 1)))) {
    if (pl) free_plan(pl);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  pl->memory = (g->opt_passes & TL_OPT_MEMORY) != 0;
  for (int i = 0; i < nv; i++) pl->last_use[i] = -1;
  for (int i = 0; i < nn; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] >= 0) pl->last_use[g->nodes[i].in[k]] = i;
  for (int i = 0; i < g->n_outputs; i++) pl->last_use[g->outputs[i]] = nn;
  /* dead lists: each value once, at its last reader */
  int nd = 0;
  for (int i = 0; i < nn; i++) {
    const tl_gnode *n = &g->nodes[i];
    pl->pn[i].dead0 = nd;
    pl->pn[i].inplace = -1;
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      bool dup = false;
      for (int t = 0; t < k; t++) dup |= n->in[t] == v;
      if (v >= 0 && !dup && pl->last_use[v] == i) pl->dead[nd++] = v;
    }
    pl->pn[i].n_dead = nd - pl->pn[i].dead0;
  }
  /* in-place choices and the counters */
  int64_t live = 0, peak = 0, total = 0;
  int reused = 0, in_place = 0, n_free = 0;
  int64_t *freed = malloc(sizeof(int64_t) * (size_t)(nv ? nv : 1));
  for (int i = 0; i < nn; i++) {
    const tl_gnode *n = &g->nodes[i];
    if (pl->memory)
      for (int k = 0; k < n->n_in && pl->pn[i].inplace < 0; k++)
        if (can_write_into(g, pl, i, k)) pl->pn[i].inplace = k;
    if (n->kind == TL_NODE_OP || n->kind >= TL_NODE_COND) {
      for (int k = 0; k < n->n_out; k++) {
        int64_t b = value_bytes(&g->values[n->out0 + k]);
        total += b;
        if (k == 0 && pl->pn[i].inplace >= 0) {
          in_place++;
          continue;
        }
        live += b;
        for (int f = 0; freed && f < n_free; f++)
          if (freed[f] == b && b > 0) {
            freed[f] = freed[--n_free];
            reused++;
            break;
          }
      }
      if (live > peak) peak = live;
    }
    for (int d = 0; d < pl->pn[i].n_dead; d++) {
      int v = pl->dead[pl->pn[i].dead0 + d];
      const tl_gnode *p = &g->nodes[g->values[v].node];
      if (p->kind != TL_NODE_OP && p->kind < TL_NODE_COND) continue; /* args and constants are not ours */
      if (pl->pn[i].inplace >= 0 && n->in[pl->pn[i].inplace] == v) continue; /* lives on as the output */
      int64_t b = value_bytes(&g->values[v]);
      live -= b;
      if (freed) freed[n_free++] = b;
    }
  }
  free(freed);
  if (g->opt_passes & TL_OPT_PARALLEL) mark_batches(g, pl);
  g->stats.planned_bytes = peak;
  g->stats.unplanned_bytes = total;
  g->stats.buffers_reused = reused;
  g->stats.in_place = in_place;
  *out = pl;
  return TL_OK;
}

tl_status tlg_plan(tl_graph *g) {
  if (g->plan) return TL_OK;
  plan *pl = NULL;
  tl_status s = build_plan(g, &pl);
  if (s) return s;
  g->plan = pl;
  g->free_plan = free_plan;
  return TL_OK;
}

/* The buffer of t when nothing else can see it: one tensor reference (the
 * executor's slot), one storage reference, dense from offset 0, on the CPU
 * or the test device, and no tape that could keep t for a gradient. */
static tl_tensor *reusable(tl_tensor *t) {
  if (!t || __atomic_load_n(&t->refcount, __ATOMIC_ACQUIRE) != 1 ||
      __atomic_load_n(&t->storage->refcount, __ATOMIC_ACQUIRE) != 1 || t->offset != 0 || t->sym_value)
    return NULL;
  int64_t s = 1;
  for (int i = t->rank - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->strides[i] != s) return NULL;
    s *= t->shape[i];
  }
  if (t->storage->device == TL_CUDA || tl_tapes_active()) return NULL;
  tl_tensor *v;
  return tl_tensor_view(t->storage, t->dtype, t->rank, t->shape, NULL, 0, &v) ? NULL : v;
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

/* Runs node i (an OP or control flow) on its inputs from slot into res;
 * into, when given, is the buffer its output may take. */
static tl_status run_node(tl_graph *g, const tl_gnode *n, tl_tensor *const *ins, tl_tensor *into, tl_tensor_list *res) {
  tl_status s;
  if (into) s = tlg_op_run_into(n->op, ins, n->n_in, n->attr, into, res);
  else if (n->kind == TL_NODE_OP) s = tl_op_run(n->op, ins, n->n_in, n->attr, res);
  else s = tlg_run_control(g, n, ins, res);
  if (!s && res->n != n->n_out) {
    s = tl_error(TL_INTERNAL, "%s produced %d outputs, the graph expects %d", tlg_node_label(n), res->n, n->n_out);
    tl_list_clear(res);
  }
  return s;
}

/* Stores node i's outputs in their slots and releases the values that die there. */
static void finish_node(const plan *pl, const tl_gnode *n, int i, tl_tensor_list *res, tl_tensor **slot) {
  for (int k = 0; k < res->n; k++) {
    /* A value nobody reads is dropped at once. */
    if (pl->last_use[n->out0 + k] < 0) tl_tensor_release(res->items[k]);
    else slot[n->out0 + k] = res->items[k];
  }
  if (res->items != res->inline_items) free(res->items);
  const pnode *pn = &pl->pn[i];
  for (int d = 0; d < pn->n_dead; d++) {
    int v = pl->dead[pn->dead0 + d];
    tl_tensor_release(slot[v]);
    slot[v] = NULL;
  }
}

/* ---- independent nodes in parallel (TL_OPT_PARALLEL) --------------------- */

typedef struct batch {
  tl_graph *g;
  tl_tensor **slot;
  int first;
  tl_tensor_list *res;
  tl_status *st;
  char **msg;
} batch;

static void batch_range(int64_t b, int64_t e, void *ctx) {
  batch *B = ctx;
  for (int64_t k = b; k < e; k++) {
    const tl_gnode *n = &B->g->nodes[B->first + k];
    tl_tensor *small[16], **ins = n->n_in <= 16 ? small : malloc(sizeof *ins * (size_t)n->n_in);
    tl_list_init(&B->res[k]);
    if (!ins) {
      B->st[k] = TL_RESOURCE_EXHAUSTED;
      continue;
    }
    for (int q = 0; q < n->n_in; q++) ins[q] = n->in[q] >= 0 ? B->slot[n->in[q]] : NULL;
    B->st[k] = run_node(B->g, n, ins, NULL, &B->res[k]);
    if (B->st[k]) B->msg[k] = strdup(tl_last_error()); /* the message is this thread's */
    if (ins != small) free(ins);
  }
}

/* Runs nodes [first, end) (independent, pure) on the pool, then stores
 * their outputs in order. No in-place writes: a buffer one of them would
 * take may be read by another at the same time. */
static tl_status run_batch(tl_graph *g, const plan *pl, int first, int end, tl_tensor **slot) {
  int n = end - first;
  tl_tensor_list small_res[8];
  tl_status small_st[8];
  char *small_msg[8];
  tl_tensor_list *res = n <= 8 ? small_res : malloc(sizeof *res * (size_t)n);
  tl_status *st = n <= 8 ? small_st : malloc(sizeof *st * (size_t)n);
  char **msg = n <= 8 ? small_msg : calloc((size_t)n, sizeof *msg);
  if (!res || !st || !msg) {
    if (n > 8) free(res), free(st), free(msg);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  if (n <= 8) memset(small_msg, 0, sizeof small_msg);
  batch B = {g, slot, first, res, st, msg};
  tl_parallel_for(n, 1, batch_range, &B);
  tl_status s = TL_OK;
  for (int k = 0; k < n; k++) {
    const tl_gnode *nd = &g->nodes[first + k];
    if (!s && st[k]) {
      s = msg[k] ? tl_error(st[k], "%s", msg[k]) : tl_error(st[k], "out of memory");
      if (nd->where) tl_error_prefix("%s: ", nd->where);
    }
    if (s) tl_list_clear(&res[k]);
    else finish_node(pl, nd, first + k, &res[k], slot);
    free(msg[k]);
  }
  if (n > 8) free(res), free(st), free(msg);
  return s;
}

/* Whether a batch may run concurrently now: no tape records (it lives on
 * this thread), no trace, every input on the CPU (the test device opens
 * its memory per thread). */
/* Batches run only with at least this many pool threads: with two, the
 * seed's training step (one batch: two 1M multiply-add products of the
 * backward pass) measured no faster, often slower (2 vCPUs shared with
 * other work: serial 446-561 us, batched 441-657 us, best of 30x20 runs),
 * as waking the other thread costs about what the smaller product saves. */
#define PAR_MIN_THREADS 3

static bool batch_ok(const tl_graph *g, int first, int end, tl_tensor *const *slot) {
  if (tl_num_threads() < PAR_MIN_THREADS || tl_tapes_active() || tl_trace_active()) return false;
  for (int i = first; i < end; i++) {
    const tl_gnode *n = &g->nodes[i];
    for (int k = 0; k < n->n_in; k++) {
      tl_tensor *t = n->in[k] >= 0 ? slot[n->in[k]] : NULL;
      if (t && t->storage->device != TL_CPU) return false;
    }
  }
  return true;
}

tl_status tl_graph_run(tl_graph *g, tl_tensor *const *args, int n_args, tl_tensor_list *out) {
  if (n_args != g->n_args) return tl_error(TL_INVALID_ARGUMENT, "graph takes %d arguments, got %d", g->n_args, n_args);
  for (int i = 0; i < n_args; i++) {
    if (g->nodes[g->values[g->args[i]].node].capture >= 0) continue; /* filled by the caller's control flow */
    tl_status s = check_arg(g, i, args[i]);
    if (s) return s;
  }
  if (!g->plan) {
    tl_status s = tlg_plan(g);
    if (s) return s;
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
    const pnode *pn = &pl->pn[i];
    if (pn->batch_end > i + 1 && batch_ok(g, i, pn->batch_end, slot)) {
      s = run_batch(g, pl, i, pn->batch_end, slot);
      i = pn->batch_end - 1;
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
    tl_tensor *into = pn->inplace >= 0 ? reusable(ins[pn->inplace]) : NULL;
    s = run_node(g, n, ins, into, &res);
    tl_tensor_release(into);
    if (s) {
      if (n->where) tl_error_prefix("%s: ", n->where);
      break;
    }
    finish_node(pl, n, i, &res, slot);
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
