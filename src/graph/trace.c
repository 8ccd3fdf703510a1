/* trace.c — recording ops into a graph instead of running them.
 *
 * While a trace is active on a thread, the dispatcher (registry.c) hands
 * every op applied at depth 0 to tlg_trace_record: the op's shape rule
 * gives the outputs' metas, a node is appended to the graph, and the
 * caller gets symbolic tensors (a meta, a shared storage without data, and
 * the value id they stand for). Everything above the dispatcher (the Lua
 * binding, the tape, gradient rules, optimizers) therefore traces without
 * knowing it. Concrete tensors used by a recorded op become constants
 * (variable handles: captured by reference); symbolic tensors of an
 * enclosing trace become captured arguments of the inner graph.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"

/* ---- a small open-addressing map from 64-bit keys to value ids -------- */

typedef struct idmap {
  uint64_t *keys; /* 0 = empty: keys are pointers or vid+1 */
  int *vals;
  int n, cap;
} idmap;

static uint64_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return k;
}

static bool idmap_get(const idmap *m, uint64_t key, int *val) {
  if (!m->cap) return false;
  for (uint64_t i = mix(key) & (uint64_t)(m->cap - 1);; i = (i + 1) & (uint64_t)(m->cap - 1)) {
    if (m->keys[i] == key) {
      *val = m->vals[i];
      return true;
    }
    if (!m->keys[i]) return false;
  }
}

static tl_status idmap_put(idmap *m, uint64_t key, int val) {
  if ((m->n + 1) * 2 > m->cap) {
    int cap = m->cap ? m->cap * 2 : 64;
    idmap bigger = {calloc((size_t)cap, sizeof(uint64_t)), malloc(sizeof(int) * (size_t)cap), 0, cap};
    if (!bigger.keys || !bigger.vals) {
      free(bigger.keys);
      free(bigger.vals);
      return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    }
    for (int i = 0; i < m->cap; i++)
      if (m->keys[i]) idmap_put(&bigger, m->keys[i], m->vals[i]);
    free(m->keys);
    free(m->vals);
    *m = bigger;
  }
  uint64_t i = mix(key) & (uint64_t)(m->cap - 1);
  while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (uint64_t)(m->cap - 1);
  if (!m->keys[i]) m->n++;
  m->keys[i] = key;
  m->vals[i] = val;
  return TL_OK;
}

static void idmap_free(idmap *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

/* ---- traces ------------------------------------------------------------ */

struct tl_trace {
  uint32_t id;
  tl_graph *g;
  tl_trace *parent;
  idmap consts;   /* tensor address -> value id (the graph holds a reference) */
  idmap captures; /* enclosing value id + 1 -> local ARG value id */
  int saved_pause; /* the thread's pause depth when this trace began */
};

static uint32_t next_id = 1;
static _Thread_local tl_trace *current;
static _Thread_local int pause_depth;
_Thread_local bool tlg_tracing;
static _Thread_local char where_now[256];
static tl_where_fn where_hook;

static void update_flag(void) { tlg_tracing = current && pause_depth == 0; }

/* The storage of every symbolic tensor on a device: no data, and a count
 * that never reaches zero. */
static tl_storage sym_storage[TL_DEVICE_COUNT] = {
    {1 << 30, TL_CPU, 0, NULL, NULL}, {1 << 30, TL_TEST, 0, NULL, NULL}, {1 << 30, TL_CUDA, 0, NULL, NULL}};

static tl_status make_symbolic(const tl_meta *m, tl_device dev, uint32_t trace, int vid, tl_tensor **out) {
  tl_tensor *t = tl_obj_alloc(sizeof *t);
  if (!t) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  memset(t, 0, sizeof *t);
  t->refcount = 1;
  t->meta = *m;
  int64_t n = 1, stride = 1;
  for (int i = m->rank - 1; i >= 0; i--) {
    t->strides[i] = stride;
    stride *= m->shape[i] > 0 ? m->shape[i] : 1;
    n = m->shape[i] < 0 || n < 0 ? -1 : n * m->shape[i];
  }
  t->size = m->rank < 0 ? -1 : n;
  tl_storage_retain(&sym_storage[dev]);
  t->storage = &sym_storage[dev];
  t->sym_trace = trace;
  t->sym_value = vid + 1;
  *out = t;
  return TL_OK;
}

tl_status tl_trace_begin(tl_trace **out) {
  tl_trace *tr = calloc(1, sizeof *tr);
  if (!tr) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  tl_status s = tl_graph_new(&tr->g);
  if (s) {
    free(tr);
    return s;
  }
  tr->id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
  if (!tr->id) tr->id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED); /* 0 means concrete */
  tr->parent = current;
  tr->saved_pause = pause_depth;
  pause_depth = 0;
  current = tr;
  update_flag();
  *out = tr;
  return TL_OK;
}

tl_trace *tl_trace_current(void) { return current; }
tl_graph *tl_trace_graph(tl_trace *tr) { return tr->g; }
bool tl_trace_active(void) { return tlg_tracing; }

void tl_trace_pause(void) {
  pause_depth++;
  update_flag();
}

void tl_trace_resume(void) {
  if (pause_depth > 0) pause_depth--;
  update_flag();
}

void tl_trace_set_where(const char *where) {
  if (!where) where_now[0] = 0;
  else snprintf(where_now, sizeof where_now, "%s", where);
}

void tl_trace_set_where_hook(tl_where_fn fn) { where_hook = fn; }

static const char *where_for_node(void) {
  if (where_now[0]) return where_now;
  return where_hook ? where_hook() : NULL;
}

static bool owned_by(const tl_trace *tr, uint32_t id) {
  for (; tr; tr = tr->parent)
    if (tr->id == id) return true;
  return false;
}

tl_status tl_trace_arg_on(tl_trace *tr, const tl_meta *m, tl_device dev, tl_tensor **out) {
  if ((unsigned)dev >= TL_DEVICE_COUNT) return tl_error(TL_INVALID_ARGUMENT, "trace: unknown device");
  int vid;
  tl_status s = tl_graph_add_arg(tr->g, m, &vid);
  if (s) return s;
  return make_symbolic(m, dev, tr->id, vid, out);
}

tl_status tl_trace_arg(tl_trace *tr, const tl_meta *m, tl_tensor **out) {
  return tl_trace_arg_on(tr, m, tl_default_device(), out);
}

tl_status tl_trace_symbolic(tl_trace *tr, int vid, tl_tensor **out) {
  if (vid < 0 || vid >= tr->g->n_values) return tl_error(TL_INTERNAL, "trace: value %d out of range", vid);
  return make_symbolic(&tr->g->values[vid].meta, tl_default_device(), tr->id, vid, out);
}

tl_status tl_trace_value(tl_trace *tr, tl_tensor *t, int *vid) {
  if (!t) {
    *vid = -1;
    return TL_OK;
  }
  if (t->sym_value) {
    if (t->sym_trace == tr->id) {
      *vid = t->sym_value - 1;
      return TL_OK;
    }
    if (!owned_by(tr->parent, t->sym_trace)) {
      char d[160];
      return tl_error(TL_FAILED_PRECONDITION,
                      "%s is a symbolic tensor of a traced function that has finished tracing (it has no value); "
                      "return it from that function, or pass it in as an argument",
                      tl_tensor_describe(t, d, sizeof d));
    }
    int outer;
    tl_status s = tl_trace_value(tr->parent, t, &outer);
    if (s) return s;
    if (idmap_get(&tr->captures, (uint64_t)outer + 1, vid)) return TL_OK;
    int local;
    if ((s = tl_graph_add_arg(tr->g, &tr->parent->g->values[outer].meta, &local))) return s;
    tr->g->nodes[tr->g->values[local].node].capture = outer;
    if ((s = idmap_put(&tr->captures, (uint64_t)outer + 1, local))) return s;
    *vid = local;
    return TL_OK;
  }
  if (idmap_get(&tr->consts, (uint64_t)(uintptr_t)t, vid)) return TL_OK;
  tl_status s = tl_graph_add_const(tr->g, t, vid);
  if (s) return s;
  return idmap_put(&tr->consts, (uint64_t)(uintptr_t)t, *vid);
}

static void trace_free(tl_trace *tr) {
  idmap_free(&tr->consts);
  idmap_free(&tr->captures);
  tl_graph_release(tr->g);
  free(tr);
}

tl_status tl_trace_end(tl_trace *tr, tl_tensor *const *outputs, int n_out, tl_graph **out) {
  if (tr != current) return tl_error(TL_INTERNAL, "trace: ending a trace that is not the innermost one");
  int small[16] = {0}, *vids = small;
  if (n_out > 16 && !(vids = malloc(sizeof(int) * (size_t)n_out)))
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  tl_status s = TL_OK;
  for (int i = 0; i < n_out && !s; i++) {
    if (!outputs[i]) s = tl_error(TL_INVALID_ARGUMENT, "trace: output %d is nil", i + 1);
    else s = tl_trace_value(tr, outputs[i], &vids[i]);
  }
  if (!s) s = tl_graph_set_outputs(tr->g, vids, n_out);
  if (vids != small) free(vids);
  if (s) return s;
  current = tr->parent;
  pause_depth = tr->saved_pause;
  update_flag();
  *out = tl_graph_retain(tr->g);
  trace_free(tr);
  return TL_OK;
}

void tl_trace_abort(tl_trace *tr) {
  if (!tr) return;
  /* Pop everything down to and including tr (inner traces left open by an
   * error unwinding through them). */
  if (!owned_by(current, tr->id)) return;
  while (current) {
    tl_trace *t = current;
    current = t->parent;
    pause_depth = t->saved_pause;
    bool last = t == tr;
    trace_free(t);
    if (last) break;
  }
  update_flag();
}

tl_status tlg_trace_record(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                           tl_tensor_list *out) {
  tl_trace *tr = current;
  tl_status s;
  int small[16] = {0}, *vids = small;
  if (n_in > 16 && !(vids = malloc(sizeof(int) * (size_t)n_in))) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  tl_device dev = TL_DEVICE_COUNT;
  for (int i = 0; i < n_in; i++) {
    if ((s = tl_trace_value(tr, in[i], &vids[i]))) goto done;
    if (in[i] && dev == TL_DEVICE_COUNT) {
      tl_variable *v = tl_resource_peek(in[i]);
      dev = tl_tensor_device(v ? v->value : in[i]);
    }
  }
  if (dev == TL_DEVICE_COUNT) dev = tl_default_device();
  tl_meta_list metas;
  tl_meta_list_init(&metas);
  if ((s = tl_op_infer(op, in, n_in, attrs, &metas))) goto done;
  int out0;
  s = tl_graph_add_op(tr->g, op, vids, n_in, attrs, metas.items, metas.n, where_for_node(), &out0);
  for (int i = 0; i < metas.n && !s; i++) {
    tl_tensor *t;
    if ((s = make_symbolic(&metas.items[i], dev, tr->id, out0 + i, &t))) break;
    if ((s = tl_list_push(out, t))) tl_tensor_release(t);
  }
  tl_meta_list_free(&metas);
done:
  if (vids != small) free(vids);
  return s;
}
