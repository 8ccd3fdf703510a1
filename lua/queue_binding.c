/* queue_binding.c — core.queue: the tl.Queue userdata over tl_queue
 * (src/tl_queue.h), and C worker threads for tests and benchmarks.
 *
 * The constructors' TensorFlow-style arguments are parsed in
 * stdlib/tlua/queue.lua, which calls core.queue.new with plain lists; the
 * methods are C, because dequeue is a hot path. Properties (names, dtypes,
 * shapes, ...) come from the stdlib's hook `queue_property`.
 *
 * Waits from Lua are interruptible (the REPL's Ctrl-C sets the core's
 * interrupt flag; the wait polls it), and a `timeout` option turns a
 * DeadlineExceeded into the return values nil, reason.
 *
 * Worker threads: Lua has no threads, so core.queue._spawn_producer and
 * _spawn_consumer start C threads that enqueue / dequeue generated
 * elements through the same C API that tf.data's workers use, without a
 * second Lua state (nothing in them touches Lua). Element k of a producer
 * holds start+k in every component (in every entry of it), unless `reuse`
 * (one element made once and enqueued n times, as a benchmark's peer
 * enqueues one tensor); a consumer
 * records component 0's first entry of each element, so a spec can check
 * counts and order.
 */
#include <lauxlib.h>
#include <lua.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "../src/tl_queue.h"

#define QUEUE_MT "tl.Queue"
#define WORKER_MT "tl.QueueWorker"

static tl_queue *check_queue(lua_State *L, int idx) {
  tl_queue **p = luaL_testudata(L, idx, QUEUE_MT);
  if (!p) {
    tlb_type_error(L, idx, "tf.queue queue");
    return NULL;
  }
  if (!*p) tlb_raise_kind(L, "FailedPrecondition", "queue: the queue was released (closed by <close>)");
  return *p;
}

/* ---- construction ---------------------------------------------------------- */

static const char *const kind_keys[] = {"FIFOQueue", "PaddingFIFOQueue", "PriorityQueue", "RandomShuffleQueue", NULL};

/* core.queue.new(kind, capacity, dtypes, shapes, names, min_after_dequeue, seed, seed2, name)
 * dtypes: list of DType; shapes: list (one per dtype) of false (any shape)
 * or a list of dims (-1 unknown); names: list or nil. */
static int l_new(lua_State *L) {
  tl_queue_spec spec = {0};
  spec.kind = (tl_queue_kind)luaL_checkoption(L, 1, NULL, kind_keys);
  spec.capacity = luaL_checkinteger(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TTABLE);
  int n = (int)luaL_len(L, 3);
  if (n < 1 || n > TL_QUEUE_MAX_COMPONENTS) {
    char buf[160];
    snprintf(buf, sizeof buf, "%s: dtypes must list 1 to %d dtypes, got %d", kind_keys[spec.kind], TL_QUEUE_MAX_COMPONENTS, n);
    return tlb_raise_kind(L, "InvalidArgument", buf);
  }
  tl_meta comp[TL_QUEUE_MAX_COMPONENTS];
  const char *names[TL_QUEUE_MAX_COMPONENTS];
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 3, i + 1);
    comp[i].dtype = tlb_check_dtype(L, lua_gettop(L));
    lua_pop(L, 1);
    lua_rawgeti(L, 4, i + 1);
    if (lua_istable(L, -1)) {
      int r = (int)luaL_len(L, -1);
      if (r >= TL_MAX_RANK) {
        char buf[160];
        snprintf(buf, sizeof buf, "%s: the shape of component %d has rank %d; at most %d", kind_keys[spec.kind], i, r,
                 TL_MAX_RANK - 1);
        return tlb_raise_kind(L, "InvalidArgument", buf);
      }
      comp[i].rank = r;
      for (int d = 0; d < r; d++) {
        lua_rawgeti(L, -1, d + 1);
        comp[i].shape[d] = lua_tointeger(L, -1);
        lua_pop(L, 1);
      }
    } else {
      comp[i].rank = -1;
    }
    lua_pop(L, 1);
  }
  bool has_names = lua_istable(L, 5);
  if (has_names)
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, 5, i + 1);
      names[i] = lua_tostring(L, -1); /* kept alive by the table at 5 */
      lua_pop(L, 1);
    }
  spec.n = n;
  spec.components = comp;
  spec.names = has_names ? names : NULL;
  spec.min_after_dequeue = luaL_optinteger(L, 6, 0);
  spec.seed = (uint64_t)luaL_optinteger(L, 7, 0);
  spec.seed2 = (uint64_t)luaL_optinteger(L, 8, 0);
  spec.name = luaL_optstring(L, 9, NULL);
  tl_queue **p = lua_newuserdatauv(L, sizeof *p, 1);
  *p = NULL;
  luaL_setmetatable(L, QUEUE_MT);
  tl_status s = tl_queue_new(&spec, p);
  if (s) return tlb_raise(L, s);
  if (has_names) {
    lua_pushvalue(L, 5);
    lua_setiuservalue(L, -2, 1);
  }
  return 1;
}

/* q:_info(): kind, name, capacity, min_after_dequeue, dtypes, shapes (as
 * for new), names (or nil). */
static int l_info(lua_State *L) {
  tl_queue *q = check_queue(L, 1);
  lua_pushstring(L, tl_queue_kind_name(tl_queue_kind_of(q)));
  lua_pushstring(L, tl_queue_name(q));
  lua_pushinteger(L, tl_queue_capacity(q));
  lua_pushinteger(L, tl_queue_min_after_dequeue(q));
  int n = tl_queue_n_components(q);
  lua_createtable(L, n, 0);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    const tl_meta *m = tl_queue_component(q, i);
    tlb_push_dtype(L, m->dtype);
    lua_rawseti(L, -3, i + 1);
    if (m->rank < 0) {
      lua_pushboolean(L, 0);
    } else {
      lua_createtable(L, m->rank, 0);
      for (int d = 0; d < m->rank; d++) {
        lua_pushinteger(L, m->shape[d]);
        lua_rawseti(L, -2, d + 1);
      }
    }
    lua_rawseti(L, -2, i + 1);
  }
  lua_getiuservalue(L, 1, 1);
  return 7;
}

/* ---- options ------------------------------------------------------------- */

/* opts at idx: nil or a table with only `timeout` (and `extra`, when given). */
static tl_queue_wait check_wait(lua_State *L, int idx, const char *what, const char *extra, bool *extra_val) {
  tl_queue_wait w = {.timeout = -1, .interruptible = true};
  if (lua_isnoneornil(L, idx)) return w;
  if (!lua_istable(L, idx)) {
    char buf[160];
    snprintf(buf, sizeof buf, "%s: options must be a table ({timeout=seconds}), got %s", what, luaL_typename(L, idx));
    tlb_raise_kind(L, "InvalidArgument", buf);
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (k && strcmp(k, "timeout") == 0) continue;
    if (k && extra && strcmp(k, extra) == 0) continue;
    char buf[200];
    snprintf(buf, sizeof buf, "%s: unknown option '%s' (known: %s%s)", what, k ? k : luaL_typename(L, -1),
             extra ? extra : "", extra ? ", timeout" : "timeout");
    tlb_raise_kind(L, "InvalidArgument", buf);
  }
  lua_getfield(L, idx, "timeout");
  if (!lua_isnil(L, -1)) {
    if (!lua_isnumber(L, -1) || lua_tonumber(L, -1) < 0) {
      char buf[160];
      snprintf(buf, sizeof buf, "%s: timeout must be a number of seconds >= 0", what);
      tlb_raise_kind(L, "InvalidArgument", buf);
    }
    w.timeout = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  if (extra) {
    lua_getfield(L, idx, extra);
    *extra_val = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  return w;
}

/* ---- components ---------------------------------------------------------- */

static void release_all(tl_tensor **c, int n) {
  for (int i = 0; i < n; i++) {
    tl_tensor_release(c[i]);
    c[i] = NULL;
  }
}

static bool is_tensorish(lua_State *L, int idx) { return tlb_test_tensor(L, idx) || tlb_test_variable(L, idx); }

/* The value at top as component i (popped); a tensor keeps its dtype (the
 * queue checks it), a Lua value takes the component's. */
static tl_tensor *to_component(lua_State *L, tl_queue *q, int i, const char *op, tl_tensor **c) {
  int top = lua_gettop(L);
  const char *err = NULL;
  tl_dtype want = is_tensorish(L, top) ? TL_DTYPE_COUNT : tl_queue_component(q, i)->dtype;
  tl_tensor *t = lua_isnil(L, top) ? NULL : tlb_to_tensor(L, top, want, &err);
  lua_pop(L, 1);
  if (!t) {
    char buf[600];
    snprintf(buf, sizeof buf, "%s '%s': %s: component %d: %s", tl_queue_kind_name(tl_queue_kind_of(q)), tl_queue_name(q),
             op, i, err ? err : "missing (nil)");
    release_all(c, i);
    tlb_raise_kind(L, "InvalidArgument", buf);
  }
  return t;
}

/* The components of the value at idx: a tensor or Lua value for a
 * one-component queue, a list of n values, or a table keyed by names. */
/* For a one-component queue, is the table at idx TensorFlow's list of
 * components ([t]) rather than the value itself? Yes when it has one
 * entry and that entry is a tensor, or when its nesting is one deeper than
 * the component's rank (rank: -1 unknown, then only a tensor entry counts). */
static bool is_component_list(lua_State *L, int idx, int rank) {
  if (!lua_istable(L, idx) || is_tensorish(L, idx) || luaL_len(L, idx) != 1) return false;
  int top = lua_gettop(L);
  lua_rawgeti(L, idx, 1);
  bool yes = is_tensorish(L, -1);
  if (!yes && rank >= 0) {
    int depth = 1;
    while (lua_istable(L, -1) && !is_tensorish(L, -1) && depth <= TL_MAX_RANK + 1) {
      depth++;
      lua_rawgeti(L, -1, 1);
    }
    yes = depth == rank + 1;
  }
  lua_settop(L, top);
  return yes;
}

static void components_from_lua(lua_State *L, tl_queue *q, int idx, const char *op, bool many, tl_tensor **c) {
  int n = tl_queue_n_components(q);
  const char *kn = tl_queue_kind_name(tl_queue_kind_of(q));
  char buf[400];
  memset(c, 0, sizeof *c * (size_t)n);
  lua_getiuservalue(L, 1, 1);
  int names = lua_gettop(L);
  if (lua_istable(L, names)) {
    if (!lua_istable(L, idx) || is_tensorish(L, idx)) {
      snprintf(buf, sizeof buf, "%s '%s': %s: a queue with names takes a table keyed by its names, got %s", kn,
               tl_queue_name(q), op, luaL_typename(L, idx));
      tlb_raise_kind(L, "InvalidArgument", buf);
    }
    int given = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      lua_pop(L, 1);
      given++;
      bool known = false;
      for (int i = 0; i < n && !known; i++) {
        lua_rawgeti(L, names, i + 1);
        known = lua_rawequal(L, -1, -2);
        lua_pop(L, 1);
      }
      if (!known) {
        luaL_tolstring(L, -1, NULL);
        snprintf(buf, sizeof buf, "%s '%s': %s: '%s' is not a component name", kn, tl_queue_name(q), op,
                 lua_tostring(L, -1));
        tlb_raise_kind(L, "InvalidArgument", buf);
      }
    }
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, names, i + 1);
      lua_gettable(L, idx);
      if (lua_isnil(L, -1)) {
        lua_rawgeti(L, names, i + 1);
        snprintf(buf, sizeof buf, "%s '%s': %s: component '%s' is missing", kn, tl_queue_name(q), op, lua_tostring(L, -1));
        release_all(c, i);
        tlb_raise_kind(L, "InvalidArgument", buf);
      }
      c[i] = to_component(L, q, i, op, c);
    }
    (void)given;
  } else if (n == 1) {
    if (is_component_list(L, idx, tl_queue_component(q, 0)->rank + (many ? 1 : 0))) {
      lua_rawgeti(L, idx, 1);
      c[0] = to_component(L, q, 0, op, c);
    } else {
      lua_settop(L, names);
      lua_pushvalue(L, idx);
      c[0] = to_component(L, q, 0, op, c);
    }
  } else {
    if (!lua_istable(L, idx) || is_tensorish(L, idx) || luaL_len(L, idx) != n) {
      snprintf(buf, sizeof buf, "%s '%s': %s: expected a list of %d components, got %s", kn, tl_queue_name(q), op, n,
               lua_istable(L, idx) && !is_tensorish(L, idx) ? "a list of another length" : luaL_typename(L, idx));
      tlb_raise_kind(L, "InvalidArgument", buf);
    }
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, idx, i + 1);
      c[i] = to_component(L, q, i, op, c);
    }
  }
  lua_settop(L, names - 1);
}

/* Pushes the n tensors (owned) as the queue's values are given back. */
static void push_components(lua_State *L, tl_tensor **c, int n) {
  lua_getiuservalue(L, 1, 1);
  if (lua_istable(L, -1)) {
    int names = lua_gettop(L);
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, names, i + 1);
      tlb_push_tensor(L, c[i]);
      lua_settable(L, -3);
    }
    lua_remove(L, names);
    return;
  }
  lua_pop(L, 1);
  if (n == 1) {
    tlb_push_tensor(L, c[0]);
    return;
  }
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    tlb_push_tensor(L, c[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

/* nil, reason for a timeout; raises anything else. */
static int finish(lua_State *L, tl_status s) {
  if (s == TL_DEADLINE_EXCEEDED) {
    lua_pushnil(L);
    lua_pushstring(L, tl_last_error());
    return 2;
  }
  return tlb_raise(L, s);
}

/* ---- methods ------------------------------------------------------------- */

static int enqueue(lua_State *L, bool many) {
  tl_queue *q = check_queue(L, 1);
  const char *op = many ? "enqueue_many" : "enqueue";
  luaL_checkany(L, 2);
  tl_queue_wait w = check_wait(L, 3, op, NULL, NULL);
  tl_tensor *c[TL_QUEUE_MAX_COMPONENTS];
  components_from_lua(L, q, 2, op, many, c);
  tl_status s = many ? tl_queue_enqueue_many(q, c, &w) : tl_queue_enqueue(q, c, &w);
  release_all(c, tl_queue_n_components(q));
  if (s) return finish(L, s);
  lua_pushboolean(L, 1);
  return 1;
}
static int l_enqueue(lua_State *L) { return enqueue(L, false); }
static int l_enqueue_many(lua_State *L) { return enqueue(L, true); }

static int l_dequeue(lua_State *L) {
  tl_queue *q = check_queue(L, 1);
  tl_queue_wait w = check_wait(L, 2, "dequeue", NULL, NULL);
  tl_tensor *c[TL_QUEUE_MAX_COMPONENTS];
  tl_status s = tl_queue_dequeue(q, c, &w);
  if (s) return finish(L, s);
  push_components(L, c, tl_queue_n_components(q));
  tlb_steer_collector(L);
  return 1;
}

static int dequeue_batch(lua_State *L, bool up_to) {
  tl_queue *q = check_queue(L, 1);
  const char *op = up_to ? "dequeue_up_to" : "dequeue_many";
  if (!lua_isinteger(L, 2)) return tlb_type_error(L, 2, "integer");
  int64_t n = lua_tointeger(L, 2);
  tl_queue_wait w = check_wait(L, 3, op, NULL, NULL);
  tl_tensor *c[TL_QUEUE_MAX_COMPONENTS];
  tl_status s = up_to ? tl_queue_dequeue_up_to(q, n, c, &w) : tl_queue_dequeue_many(q, n, c, &w);
  if (s) return finish(L, s);
  push_components(L, c, tl_queue_n_components(q));
  tlb_steer_collector(L);
  return 1;
}
static int l_dequeue_many(lua_State *L) { return dequeue_batch(L, false); }
static int l_dequeue_up_to(lua_State *L) { return dequeue_batch(L, true); }

static int l_size(lua_State *L) {
  tl_tensor *t;
  tl_status s = tl_tensor_scalar_i64(TL_INT32, tl_queue_size(check_queue(L, 1)), &t);
  if (s) return tlb_raise(L, s);
  tlb_push_tensor(L, t);
  return 1;
}

static int l_len(lua_State *L) {
  lua_pushinteger(L, tl_queue_size(check_queue(L, 1)));
  return 1;
}

/* q:close(), q:close(true), q:close{cancel_pending_enqueues=true} */
static int l_close(lua_State *L) {
  tl_queue *q = check_queue(L, 1);
  bool cancel = false;
  if (lua_isboolean(L, 2)) cancel = lua_toboolean(L, 2);
  else if (!lua_isnoneornil(L, 2)) {
    lua_pushnil(L);
    while (lua_istable(L, 2) && lua_next(L, 2)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "cancel_pending_enqueues") != 0) {
        char buf[200];
        snprintf(buf, sizeof buf, "close: unknown option '%s' (known: cancel_pending_enqueues)", luaL_tolstring(L, -1, NULL));
        return tlb_raise_kind(L, "InvalidArgument", buf);
      }
    }
    if (!lua_istable(L, 2)) return tlb_type_error(L, 2, "boolean or options table");
    lua_getfield(L, 2, "cancel_pending_enqueues");
    cancel = lua_toboolean(L, -1);
  }
  tl_queue_close(q, cancel);
  return 0;
}

static int l_is_closed(lua_State *L) {
  lua_pushboolean(L, tl_queue_is_closed(check_queue(L, 1)));
  return 1;
}

static int l_gc(lua_State *L) {
  tl_queue **p = luaL_checkudata(L, 1, QUEUE_MT);
  tl_queue_release(*p);
  *p = NULL;
  return 0;
}

static int l_tostring(lua_State *L) {
  tl_queue **p = luaL_checkudata(L, 1, QUEUE_MT);
  if (!*p) {
    lua_pushliteral(L, "<tf.queue (released)>");
    return 1;
  }
  tl_queue *q = *p;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "<tf.queue.%s '%s' size=%d ", tl_queue_kind_name(tl_queue_kind_of(q)), tl_queue_name(q),
                  (int)tl_queue_size(q));
  luaL_addvalue(&b);
  if (tl_queue_capacity(q) < 0) luaL_addstring(&b, "unbounded");
  else {
    lua_pushfstring(L, "capacity=%d", (int)tl_queue_capacity(q));
    luaL_addvalue(&b);
  }
  luaL_addstring(&b, " (");
  for (int i = 0; i < tl_queue_n_components(q); i++) {
    char d[200];
    const tl_meta *m = tl_queue_component(q, i);
    if (i) luaL_addstring(&b, ", ");
    if (m->rank < 0) {
      luaL_addstring(&b, tl_dtypes[m->dtype].name);
      luaL_addstring(&b, "[...]");
    } else {
      luaL_addstring(&b, tl_meta_describe(m, d, sizeof d));
    }
  }
  luaL_addstring(&b, tl_queue_is_closed(q) ? ") closed>" : ")>");
  luaL_pushresult(&b);
  return 1;
}

/* Methods first; then the stdlib's property hook (names, dtypes, shapes, ...). */
static int l_index(lua_State *L) {
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "methods");
  lua_pushvalue(L, 2);
  if (lua_rawget(L, -2) != LUA_TNIL) return 1;
  lua_settop(L, 2);
  return tlb_call_hook(L, "queue_property", 2, 1);
}

static const luaL_Reg queue_methods[] = {
    {"enqueue", l_enqueue},     {"enqueue_many", l_enqueue_many}, {"dequeue", l_dequeue},
    {"dequeue_many", l_dequeue_many}, {"dequeue_up_to", l_dequeue_up_to}, {"size", l_size},
    {"close", l_close},         {"is_closed", l_is_closed},       {"_info", l_info},
    {NULL, NULL},
};
static const luaL_Reg queue_meta[] = {
    {"__gc", l_gc}, {"__close", l_gc}, {"__tostring", l_tostring}, {"__len", l_len}, {"__index", l_index}, {NULL, NULL},
};

/* ---- worker threads (tests, benchmarks) ---------------------------------- */

typedef struct worker {
  int refcount; /* atomic: the thread's and the userdata's */
  pthread_t th;
  bool joined, consumer;
  tl_queue *q;
  int64_t n, start, batch;
  bool up_to, close_after, reuse;
  tl_queue_wait w;
  /* results */
  tl_status status;
  char msg[512];
  int64_t done;
  int64_t *values; /* consumer: component 0 of each element, n entries */
} worker;

static void worker_release(worker *w) {
  if (__atomic_sub_fetch(&w->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
  tl_queue_release(w->q);
  free(w->values);
  free(w);
}

/* One component of `rows` elements valued v, v+1, ... (rows 0: one element). */
static tl_status make_component(const tl_meta *m, int64_t v, int64_t rows, tl_tensor **out) {
  int64_t shape[TL_MAX_RANK];
  int r = 0;
  if (rows > 0) shape[r++] = rows;
  for (int d = 0; d < m->rank; d++) shape[r++] = m->shape[d] < 0 ? 1 : m->shape[d];
  tl_tensor *t;
  tl_status s = tl_tensor_new_on(TL_CPU, m->dtype, r, shape, &t);
  if (s) return s;
  int64_t per = rows > 0 ? t->size / rows : t->size;
  for (int64_t k = 0; k < t->size && !s; k++) {
    int64_t val = v + (per ? k / per : 0);
    if (m->dtype == TL_STRING) {
      char buf[32];
      int len = snprintf(buf, sizeof buf, "%lld", (long long)val);
      s = tl_string_set(t, k, buf, (size_t)len);
    } else if (tl_dtype_is_float(m->dtype) || m->dtype == TL_COMPLEX64) {
      tl_store_f64(t->storage->data, m->dtype, k, (double)val);
    } else {
      tl_store_i64(t->storage->data, m->dtype, k, m->dtype == TL_BOOL ? (val & 1) : val);
    }
  }
  if (s) tl_tensor_release(t);
  else *out = t;
  return s;
}

static void *run_producer(void *arg) {
  worker *w = arg;
  int n = tl_queue_n_components(w->q);
  tl_tensor *c[TL_QUEUE_MAX_COMPONENTS];
  tl_status s = TL_OK;
  int made = 0;
  while (w->done < w->n && !s) {
    int64_t rows = w->batch > 0 ? (w->n - w->done < w->batch ? w->n - w->done : w->batch) : 0;
    if (!w->reuse || made == 0) {
      for (; made < n && !s; made++) s = make_component(tl_queue_component(w->q, made), w->start + w->done, rows, &c[made]);
      if (s) made--;
    }
    if (!s) s = rows ? tl_queue_enqueue_many(w->q, c, &w->w) : tl_queue_enqueue(w->q, c, &w->w);
    if (!w->reuse) {
      for (int i = 0; i < made; i++) tl_tensor_release(c[i]);
      made = 0;
    }
    if (!s) w->done += rows ? rows : 1;
  }
  for (int i = 0; i < made; i++) tl_tensor_release(c[i]);
  if (w->close_after) tl_queue_close(w->q, false);
  w->status = s;
  if (s) snprintf(w->msg, sizeof w->msg, "%s", tl_last_error());
  worker_release(w);
  return NULL;
}

static void *run_consumer(void *arg) {
  worker *w = arg;
  int n = tl_queue_n_components(w->q);
  tl_tensor *c[TL_QUEUE_MAX_COMPONENTS];
  tl_status s = TL_OK;
  while ((w->n < 0 || w->done < w->n) && !s) {
    int64_t want = w->batch > 0 ? w->batch : 1;
    if (w->n >= 0 && w->n - w->done < want) want = w->n - w->done;
    if (w->batch > 0)
      s = w->up_to ? tl_queue_dequeue_up_to(w->q, want, c, &w->w) : tl_queue_dequeue_many(w->q, want, c, &w->w);
    else
      s = tl_queue_dequeue(w->q, c, &w->w);
    if (s) break;
    tl_tensor *t = c[0];
    int64_t rows = w->batch > 0 ? t->shape[0] : 1;
    int64_t per = rows > 0 ? t->size / rows : 0;
    for (int64_t r = 0; r < rows; r++) {
      int64_t v = 0;
      if (t->dtype != TL_STRING && per > 0) {
        /* the first entry of row r (batches are fresh contiguous CPU tensors) */
        int64_t off = t->offset + (w->batch > 0 ? r * t->strides[0] : 0);
        v = tl_load_i64(t->storage->data, t->dtype, off);
      }
      if (w->done >= 0 && (w->n < 0 || w->done < w->n)) {
        if (w->n < 0) {
          int64_t cap = w->done + 1;
          int64_t *nv = (cap & (cap - 1)) == 0 ? realloc(w->values, sizeof *nv * (size_t)(cap * 2)) : w->values;
          if (!nv) {
            s = tl_error(TL_RESOURCE_EXHAUSTED, "consumer: out of memory");
            break;
          }
          w->values = nv;
        }
        w->values[w->done++] = v;
      }
    }
    for (int i = 0; i < n; i++) tl_tensor_release(c[i]);
  }
  if (s == TL_OUT_OF_RANGE && w->n < 0) s = TL_OK; /* drained a closed queue */
  w->status = s;
  if (s) snprintf(w->msg, sizeof w->msg, "%s", tl_last_error());
  worker_release(w);
  return NULL;
}

static int64_t opt_int(lua_State *L, int idx, const char *k, int64_t def) {
  if (!lua_istable(L, idx)) return def;
  lua_getfield(L, idx, k);
  int64_t v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : def;
  lua_pop(L, 1);
  return v;
}

static bool opt_bool(lua_State *L, int idx, const char *k) {
  if (!lua_istable(L, idx)) return false;
  lua_getfield(L, idx, k);
  bool v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static int spawn(lua_State *L, bool consumer) {
  tl_queue *q = check_queue(L, 1);
  int64_t n = luaL_checkinteger(L, 2);
  worker *w = calloc(1, sizeof *w);
  if (!w) return tlb_raise_kind(L, "ResourceExhausted", "queue worker: out of memory");
  w->refcount = 2;
  w->consumer = consumer;
  w->q = tl_queue_retain(q);
  w->n = n;
  w->start = opt_int(L, 3, "start", 0);
  w->batch = opt_int(L, 3, "batch", 0);
  w->up_to = opt_bool(L, 3, "up_to");
  w->close_after = opt_bool(L, 3, "close");
  w->reuse = opt_bool(L, 3, "reuse");
  w->w.timeout = -1;
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "timeout");
    if (lua_isnumber(L, -1)) w->w.timeout = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  if (consumer && n > 0 && !(w->values = malloc(sizeof *w->values * (size_t)n))) {
    tl_queue_release(w->q);
    free(w);
    return tlb_raise_kind(L, "ResourceExhausted", "queue worker: out of memory");
  }
  worker **p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = NULL;
  luaL_setmetatable(L, WORKER_MT);
  if (pthread_create(&w->th, NULL, consumer ? run_consumer : run_producer, w) != 0) {
    tl_queue_release(w->q);
    free(w->values);
    free(w);
    return tlb_raise_kind(L, "ResourceExhausted", "queue worker: cannot start a thread");
  }
  *p = w;
  return 1;
}
static int l_spawn_producer(lua_State *L) { return spawn(L, false); }
static int l_spawn_consumer(lua_State *L) { return spawn(L, true); }

/* w:join(): a producer's count of elements enqueued, a consumer's int64
 * tensor of what it took; the worker's error is raised. */
static int l_worker_join(lua_State *L) {
  worker **p = luaL_checkudata(L, 1, WORKER_MT);
  worker *w = *p;
  if (!w) return tlb_raise_kind(L, "FailedPrecondition", "queue worker: already joined");
  pthread_join(w->th, NULL);
  w->joined = true;
  *p = NULL;
  tl_status s = w->status;
  char msg[512];
  snprintf(msg, sizeof msg, "%s", w->msg);
  int nres = 1;
  if (!s && w->consumer) {
    int64_t shape[1] = {w->done};
    tl_tensor *t;
    s = tl_tensor_new_on(TL_CPU, TL_INT64, 1, shape, &t);
    if (!s) {
      if (w->done) memcpy(t->storage->data, w->values, sizeof *w->values * (size_t)w->done);
      tlb_push_tensor(L, t);
    } else {
      snprintf(msg, sizeof msg, "%s", tl_last_error());
    }
  } else if (!s) {
    lua_pushinteger(L, w->done);
  }
  worker_release(w);
  if (s) return tlb_raise_kind(L, tl_status_name(s), msg);
  return nres;
}

static int l_worker_gc(lua_State *L) {
  worker **p = luaL_checkudata(L, 1, WORKER_MT);
  worker *w = *p;
  if (w) {
    pthread_detach(w->th); /* the thread releases its own reference */
    *p = NULL;
    worker_release(w);
  }
  return 0;
}

static const luaL_Reg worker_meta[] = {{"__gc", l_worker_gc}, {NULL, NULL}};
static const luaL_Reg worker_methods[] = {{"join", l_worker_join}, {NULL, NULL}};

static const luaL_Reg funcs[] = {
    {"new", l_new},
    {"_spawn_producer", l_spawn_producer},
    {"_spawn_consumer", l_spawn_consumer},
    {NULL, NULL},
};

int luaopen_tlua_queue(lua_State *L) {
  luaL_newmetatable(L, QUEUE_MT);
  luaL_setfuncs(L, queue_meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, queue_methods, 0);
  lua_setfield(L, -2, "methods");
  int mt = lua_gettop(L);
  luaL_newmetatable(L, WORKER_MT);
  luaL_setfuncs(L, worker_meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, worker_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  lua_pushvalue(L, mt);
  lua_setfield(L, -2, "Meta");
  lua_remove(L, mt);
  return 1;
}
