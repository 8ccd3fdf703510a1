/* tape_binding.c — Lua binding of gradient tapes (part of tlua.core).
 *
 * tl.Tape userdata wraps a core tl_tape; the GradientTape class, argument
 * structure (single source or lists) and jacobians live in
 * stdlib/tlua/tape.lua. custom_gradient records call back into Lua during
 * the backward pass through a registry reference.
 */
#include <lauxlib.h>
#include <lua.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"

#define TAPE_MT "tl.Tape"

static tl_tape *check_tape(lua_State *L, int idx) {
  tl_tape **p = luaL_checkudata(L, idx, TAPE_MT);
  if (!*p) luaL_argerror(L, idx, "tape was released");
  return *p;
}

/* core.tape_new(persistent, watch_accessed_variables) */
static int l_tape_new(lua_State *L) {
  tl_tape *t;
  tl_status s = tl_tape_new(lua_toboolean(L, 1), lua_isnoneornil(L, 2) ? true : lua_toboolean(L, 2), &t);
  if (s) return tlb_raise(L, s);
  tl_tape **p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = t;
  luaL_setmetatable(L, TAPE_MT);
  return 1;
}

static int tape_gc(lua_State *L) {
  tl_tape **p = luaL_checkudata(L, 1, TAPE_MT);
  if (*p) tl_tape_release(*p);
  *p = NULL;
  return 0;
}

static int tape_start(lua_State *L) {
  tl_status s = tl_tape_start(check_tape(L, 1));
  if (s) return tlb_raise(L, s);
  return 0;
}

static int tape_stop(lua_State *L) {
  tl_tape_stop(check_tape(L, 1));
  return 0;
}

static int tape_recording(lua_State *L) {
  lua_pushboolean(L, tl_tape_is_recording(check_tape(L, 1)));
  return 1;
}

static int tape_reset(lua_State *L) {
  tl_tape_reset(check_tape(L, 1));
  return 0;
}

static int tape_watch(lua_State *L) {
  tl_tape *t = check_tape(L, 1);
  tl_variable *v = tlb_test_variable(L, 2);
  tl_status s;
  if (v) {
    s = tl_tape_watch_variable(t, v);
  } else {
    tl_tensor *x = tlb_test_tensor(L, 2);
    if (!x) {
      lua_pushfstring(L, "watch: expected a tf.Tensor or tf.Variable, got %s", luaL_typename(L, 2));
      return tlb_raise_kind(L, "InvalidArgument", lua_tostring(L, -1));
    }
    s = tl_tape_watch(t, x);
  }
  if (s) return tlb_raise(L, s);
  return 0;
}

static int tape_watched_variables(lua_State *L) {
  tl_variable **vars;
  int n = tl_tape_watched_variables(check_tape(L, 1), &vars);
  lua_createtable(L, n, 0);
  int k = 0;
  for (int i = 0; i < n; i++) {
    tlb_push_variable(L, vars[i]);
    if (lua_isnil(L, -1)) lua_pop(L, 1);
    else lua_rawseti(L, -2, ++k);
  }
  return 1;
}

static _Thread_local lua_State *backward_L;

/* tape:gradient(target, sources_list, output_grad|nil, unconnected_zero, keep)
 * -> list of gradients (nil holes; field n). */
static int tape_gradient(lua_State *L) {
  tl_tape *t = check_tape(L, 1);
  tl_tensor *target = tlb_test_tensor(L, 2);
  tl_tensor *target_owned = NULL;
  if (!target) {
    tl_variable *v = tlb_test_variable(L, 2);
    if (!v) return tlb_raise_kind(L, "InvalidArgument", "gradient: the target must be a tf.Tensor or tf.Variable");
    target = target_owned = tl_tensor_retain(v->value);
  }
  luaL_checktype(L, 3, LUA_TTABLE);
  int n = (int)luaL_len(L, 3);
  tl_tensor *og = lua_isnoneornil(L, 4) ? NULL : tlb_check_tensor(L, 4);
  bool zero = lua_toboolean(L, 5), keep = lua_toboolean(L, 6);
  tl_grad_source *src = calloc((size_t)(n ? n : 1), sizeof *src);
  tl_tensor **grads = calloc((size_t)(n ? n : 1), sizeof *grads);
  if (!src || !grads) {
    free(src);
    free(grads);
    tl_tensor_release(target_owned);
    return tlb_raise_kind(L, "ResourceExhausted", "gradient: out of memory");
  }
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 3, i + 1);
    src[i].variable = tlb_test_variable(L, -1);
    if (!src[i].variable) src[i].tensor = tlb_test_tensor(L, -1);
    bool bad = !src[i].variable && !src[i].tensor;
    lua_pop(L, 1);
    if (bad) {
      free(src);
      free(grads);
      tl_tensor_release(target_owned);
      char buf[200];
      snprintf(buf, sizeof buf, "gradient: source %d is not a tf.Tensor or tf.Variable", i + 1);
      return tlb_raise_kind(L, "InvalidArgument", buf);
    }
  }
  lua_State *prev = backward_L;
  backward_L = L;
  tl_status s = tl_tape_gradient(t, target, og, n, src, zero, keep, grads);
  backward_L = prev;
  tl_tensor_release(target_owned);
  free(src);
  if (s) {
    free(grads);
    return tlb_raise(L, s);
  }
  lua_createtable(L, n, 1);
  for (int i = 0; i < n; i++) {
    if (!grads[i]) continue;
    tlb_push_tensor(L, grads[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushinteger(L, n);
  lua_setfield(L, -2, "n");
  free(grads);
  tlb_steer_collector(L);
  return 1;
}

static int tape_consume(lua_State *L) {
  tl_tape_consume(check_tape(L, 1));
  return 0;
}

/* ---- custom gradients -------------------------------------------------- */

typedef struct custom_ctx {
  lua_State *L;
  lua_State *main; /* the registry's owner: c->L may be a coroutine that is gone when the record is freed */
  int ref;
} custom_ctx;

static void custom_free(void *p) {
  custom_ctx *c = p;
  luaL_unref(c->main, LUA_REGISTRYINDEX, c->ref);
  free(c);
}

static tl_status custom_backward(void *p, tl_tensor *const *gout, int n_out, tl_tensor **gin, int n_in) {
  custom_ctx *c = p;
  lua_State *L = backward_L ? backward_L : c->L;
  if (!lua_checkstack(L, n_out + 4)) return tl_error(TL_RESOURCE_EXHAUSTED, "custom_gradient: Lua stack overflow");
  int base = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
  for (int i = 0; i < n_out; i++) {
    if (gout[i]) tlb_push_tensor(L, tl_tensor_retain(gout[i]));
    else lua_pushnil(L);
  }
  if (lua_pcall(L, n_out, n_in, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (!msg && luaL_callmeta(L, -1, "__tostring")) msg = lua_tostring(L, -1);
    tl_status s = tl_error(TL_INVALID_ARGUMENT,
                           "custom_gradient: the gradient function (Lua, run in the backward pass) failed: %s",
                           msg ? msg : "(error object)");
    lua_settop(L, base);
    return s;
  }
  int top = lua_gettop(L);
  for (int i = 0; i < n_in; i++) {
    int idx = top - n_in + 1 + i;
    gin[i] = NULL;
    if (lua_isnil(L, idx)) continue;
    const char *err;
    gin[i] = tlb_to_tensor(L, idx, TL_DTYPE_COUNT, &err);
    if (!gin[i]) {
      for (int k = 0; k < i; k++) tl_tensor_release(gin[k]);
      lua_pop(L, n_in);
      return tl_error(TL_INVALID_ARGUMENT, "custom_gradient: gradient %d: %s", i + 1, err);
    }
  }
  lua_pop(L, n_in);
  return TL_OK;
}

/* core.record_custom(inputs_list, outputs_list, grad_fn) */
static int l_record_custom(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  int n_in = (int)luaL_len(L, 1), n_out = (int)luaL_len(L, 2);
  if (n_in > 64 || n_out > 64) {
    lua_pushfstring(L, "custom_gradient: at most 64 inputs and 64 outputs (got %d and %d)", n_in, n_out);
    return tlb_raise_kind(L, "InvalidArgument", lua_tostring(L, -1));
  }
  tl_tensor *in[64], *out[64];
  for (int i = 0; i < n_in; i++) {
    lua_rawgeti(L, 1, i + 1);
    in[i] = tlb_test_tensor(L, -1);
    lua_pop(L, 1);
    if (!in[i]) return tlb_raise_kind(L, "InvalidArgument", "custom_gradient: inputs must be tensors (read variables first)");
  }
  for (int i = 0; i < n_out; i++) {
    lua_rawgeti(L, 2, i + 1);
    out[i] = tlb_test_tensor(L, -1);
    lua_pop(L, 1);
    if (!out[i]) return tlb_raise_kind(L, "InvalidArgument", "custom_gradient: f must return tensors before its gradient function");
  }
  custom_ctx *c = malloc(sizeof *c);
  if (!c) return tlb_raise_kind(L, "ResourceExhausted", "custom_gradient: out of memory");
  c->L = L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  c->main = lua_tothread(L, -1);
  lua_pop(L, 1);
  lua_pushvalue(L, 3);
  c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  tl_status s = tl_tape_record_custom(in, n_in, out, n_out, custom_backward, c, custom_free);
  if (s) return tlb_raise(L, s);
  return 0;
}

/* core.variable_watch_begin() / core.variable_watch_end() -> list of the
 * variables read in between (tf.custom_gradient's VariableWatcher). */
static int l_variable_watch_begin(lua_State *L) {
  tl_status s = tl_variable_watch_begin();
  if (s) return tlb_raise(L, s);
  return 0;
}

static int l_variable_watch_end(lua_State *L) {
  tl_variable **vars;
  int n;
  tl_status s = tl_variable_watch_end(&vars, &n);
  if (s) return tlb_raise(L, s);
  lua_createtable(L, n, 0);
  int k = 0;
  for (int i = 0; i < n; i++) {
    tlb_push_variable(L, vars[i]); /* nil for a variable Lua no longer holds */
    if (lua_isnil(L, -1)) lua_pop(L, 1);
    else lua_rawseti(L, -2, ++k);
    tl_variable_release(vars[i]);
  }
  free(vars);
  return 1;
}

static int l_tape_pause(lua_State *L) {
  (void)L;
  tl_tape_pause();
  return 0;
}

static int l_tape_resume(lua_State *L) {
  (void)L;
  tl_tape_resume();
  return 0;
}

static int l_tapes_active(lua_State *L) {
  lua_pushboolean(L, tl_tapes_active());
  return 1;
}

static int l_set_check_numerics(lua_State *L) {
  tl_set_check_numerics(lua_toboolean(L, 1));
  return 0;
}

static int l_get_check_numerics(lua_State *L) {
  lua_pushboolean(L, tl_get_check_numerics());
  return 1;
}

static const luaL_Reg tape_methods[] = {
    {"start", tape_start},       {"stop", tape_stop},     {"recording", tape_recording},
    {"reset", tape_reset},       {"watch", tape_watch},   {"watched_variables", tape_watched_variables},
    {"gradient", tape_gradient}, {"consume", tape_consume}, {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"tape_new", l_tape_new},       {"record_custom", l_record_custom},
    {"variable_watch_begin", l_variable_watch_begin}, {"variable_watch_end", l_variable_watch_end},
    {"tape_pause", l_tape_pause},   {"tape_resume", l_tape_resume},
    {"tapes_active", l_tapes_active}, {"set_check_numerics", l_set_check_numerics},
    {"get_check_numerics", l_get_check_numerics}, {NULL, NULL},
};

void tlb_open_tape(lua_State *L) {
  luaL_newmetatable(L, TAPE_MT);
  lua_pushcfunction(L, tape_gc);
  lua_setfield(L, -2, "__gc");
  lua_newtable(L);
  luaL_setfuncs(L, tape_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
