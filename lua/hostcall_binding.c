/* hostcall_binding.c — core.hostcall: the Lua side of the lua_function op
 * (src/ops/callback.c). Lua functions are registered under integer ids in a
 * registry table; the hook installed here looks the function up by the
 * op's id when a graph (or an eager call) runs the op, calls it with the
 * op's inputs as tensors and hands back its results, which must be tensors
 * or variables (tf.lua_function converts Lua numbers and tables first).
 *
 * Callbacks run on the Lua state only from the thread that opened it: a
 * kernel reached on another thread (a parallel executor's worker) fails
 * with FailedPrecondition instead of touching the state. They run on a
 * private Lua thread (coroutine) of the state, so the code that ran the
 * graph keeps its own stack; a callback may not yield.
 *
 *   id = core.hostcall.register(fn)    -- fn kept until unregister(id)
 *   core.hostcall.unregister(id)
 */
#include <pthread.h>
#include <string.h>

#include "binding.h"
#include "../src/tl_hostcall.h"

static char registry_key; /* id -> function */
static char thread_key;   /* the callback thread, anchored */
static lua_State *cb_thread;
static pthread_t owner;
static lua_Integer next_id = 0;

static tl_status status_of_kind(const char *kind) {
  for (int s = 1; s < TL_STATUS_COUNT; s++)
    if (kind && strcmp(kind, tl_status_name((tl_status)s)) == 0) return (tl_status)s;
  return TL_INTERNAL;
}

/* The error value on top of L as a status (its kind kept for tf.errors values). */
static tl_status error_status(lua_State *L, lua_Integer id) {
  tl_status kind = TL_INTERNAL;
  if (lua_type(L, -1) == LUA_TTABLE) {
    lua_getfield(L, -1, "kind");
    kind = status_of_kind(lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, -1, "message");
    const char *m = lua_tostring(L, -1);
    tl_status s = tl_error(kind, "callback %lld raised: %s", (long long)id, m ? m : "?");
    lua_pop(L, 2);
    return s;
  }
  const char *m = luaL_tolstring(L, -1, NULL);
  tl_status s = tl_error(kind, "callback %lld raised: %s", (long long)id, m);
  lua_pop(L, 2);
  return s;
}

static tl_status hostcall(void *ctx, int64_t id, tl_tensor *const *in, int n_in, tl_tensor_list *out) {
  (void)ctx;
  if (!pthread_equal(pthread_self(), owner))
    return tl_error(TL_FAILED_PRECONDITION,
                    "a Lua callback can run only on the thread that owns the Lua state (the graph ran on another thread)");
  lua_State *L = cb_thread;
  int top = lua_gettop(L);
  if (!lua_checkstack(L, n_in + 4)) return tl_error(TL_RESOURCE_EXHAUSTED, "Lua stack overflow");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &registry_key);
  if (lua_rawgeti(L, -1, (lua_Integer)id) != LUA_TFUNCTION) {
    lua_settop(L, top);
    return tl_error(TL_NOT_FOUND, "no Lua function is registered as callback %lld (unregistered?)", (long long)id);
  }
  for (int i = 0; i < n_in; i++) tlb_push_tensor(L, tl_tensor_retain(in[i]));
  /* the callback's ops are user ops (depth 0: a trace begun inside the
   * callback records them), whatever kernel depth the op runs at; tapes
   * are paused (the op has no gradient, eagerly as in a graph) */
  int depth = tl_op_depth();
  tl_op_set_depth(0);
  tl_tape_pause();
  int rc = lua_pcall(L, n_in, LUA_MULTRET, 0);
  tl_tape_resume();
  tl_op_set_depth(depth);
  if (rc != LUA_OK) {
    tl_status s = error_status(L, (lua_Integer)id);
    lua_settop(L, top);
    return s;
  }
  int first = top + 2, last = lua_gettop(L);
  for (int i = first; i <= last; i++) {
    tl_tensor *t = tlb_test_tensor(L, i);
    if (!t) {
      tl_variable *v = tlb_test_variable(L, i);
      if (v) t = v->value;
    }
    if (!t) {
      tl_status s = tl_error(TL_INVALID_ARGUMENT, "callback %lld: result %d is a %s, not a tensor", (long long)id,
                             i - first + 1, luaL_typename(L, i));
      lua_settop(L, top);
      return s;
    }
    tl_tensor_retain(t);
    tl_status s = tl_list_push(out, t);
    if (s) {
      lua_settop(L, top);
      return s;
    }
  }
  lua_settop(L, top);
  return TL_OK;
}

static int l_register(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &registry_key);
  lua_Integer id = ++next_id;
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, id);
  lua_pushinteger(L, id);
  return 1;
}

static int l_unregister(lua_State *L) {
  lua_Integer id = luaL_checkinteger(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &registry_key);
  lua_pushnil(L);
  lua_rawseti(L, -2, id);
  return 0;
}

static int l_count(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &registry_key);
  lua_Integer n = 0;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    n++;
    lua_pop(L, 1);
  }
  lua_pushinteger(L, n);
  return 1;
}

int luaopen_tlua_hostcall(lua_State *L) {
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &registry_key);
  cb_thread = lua_newthread(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &thread_key);
  owner = pthread_self();
  tl_set_hostcall(hostcall, NULL);
  static const luaL_Reg funcs[] = {
      {"register", l_register}, {"unregister", l_unregister}, {"count", l_count}, {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}
