/* lvariable.c — the tl.Variable userdata: mutable state whose reads are
 * tensors that later assigns do not change.
 *
 * Reads and writes run the ops of src/ops/state.c (read_variable, assign),
 * never the variable's value directly, so an observer of op calls sees
 * them; only metadata (v.shape, v.dtype, printing) looks at the value.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "binding.h"



/* ---- variables --------------------------------------------------------- */

static tl_variable *check_variable(lua_State *L, int idx) {
  tl_variable **p = luaL_checkudata(L, idx, VARIABLE_MT);
  if (!*p) luaL_argerror(L, idx, "variable was closed");
  return *p;
}

/* core.Variable(initial, trainable, name, dtype): the variable lives on
 * the default device when a tf.device scope is open (as in TensorFlow,
 * where the scope places the variable); outside scopes a tensor's value
 * stays on its device and a Lua value goes to the (CPU) default. */
int tlb_l_variable(lua_State *L) {
  tl_dtype d = lua_isnoneornil(L, 4) ? TL_DTYPE_COUNT : tlb_check_dtype(L, 4);
  const char *err;
  bool is_lua = !tlb_test_tensor(L, 1) && !tlb_test_variable(L, 1);
  tl_tensor *t = tlb_to_tensor(L, 1, d, &err);
  if (!t) {
    char buf[400];
    snprintf(buf, sizeof buf, "Variable: initial value: %s", err);
    return tlb_raise_kind(L, "InvalidArgument", buf);
  }
  if (is_lua || tlb_device_scope_depth() > 0) t = tlb_place(L, t, tl_default_device());
  bool trainable = lua_isnoneornil(L, 2) ? true : lua_toboolean(L, 2);
  tl_variable *v;
  tl_status s = tl_variable_new(t, trainable, luaL_optstring(L, 3, "Variable"), &v);
  tl_tensor_release(t);
  if (s) return tlb_raise(L, s);
  tlb_wrap_variable(L, v);
  tl_variable_release(v);
  tlb_steer_collector(L);
  return 1;
}

void tlb_wrap_variable(lua_State *L, tl_variable *v) {
  tlb_push_variable(L, v);
  if (!lua_isnil(L, -1)) return;
  lua_pop(L, 1);
  tl_variable **p = lua_newuserdatauv(L, sizeof *p, 1);
  *p = tl_variable_retain(v);
  luaL_setmetatable(L, VARIABLE_MT);
  /* remember the userdata so C can hand the same object back (weak) */
  lua_rawgetp(L, LUA_REGISTRYINDEX, &tlb_variables_key);
  lua_pushvalue(L, -2);
  lua_rawsetp(L, -2, v);
  lua_pop(L, 1);
}

void tlb_push_variable(lua_State *L, tl_variable *v) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &tlb_variables_key);
  lua_rawgetp(L, -1, v);
  lua_remove(L, -2);
}

static int v_gc(lua_State *L) {
  tl_variable **p = luaL_checkudata(L, 1, VARIABLE_MT);
  tl_variable_release(*p);
  *p = NULL;
  return 0;
}

/* v:value() / v:read_value(): the read_variable op, so observers (a tape,
 * a tracer) see the read. */
static int v_value(lua_State *L) {
  tl_variable *v = check_variable(L, 1);
  tl_tensor *t;
  if (tl_variable_read(v, &t)) return tlb_raise(L, tl_last_status());
  tlb_push_tensor(L, t);
  return 1;
}

/* v:_assign_raw(x): the assign op. A Lua value converts to the variable's
 * dtype first; a tensor must have it. Errors name the assign op, the
 * variable and both shapes. */
static int v_assign_raw(lua_State *L) {
  tl_variable *v = check_variable(L, 1);
  static const tl_op_def *assign_op;
  if (!assign_op && !(assign_op = tl_op_find("assign")))
    return tlb_raise_kind(L, "Internal", "assign is not registered");
  const char *err;
  bool lua_value = !tlb_test_tensor(L, 2) && !tlb_test_variable(L, 2);
  tl_tensor *t = tlb_to_tensor(L, 2, lua_value ? v->value->dtype : TL_DTYPE_COUNT, &err);
  if (!t) {
    char buf[600], d[160];
    snprintf(buf, sizeof buf, "assign: variable '%s' %s: the value cannot become a tensor: %s", v->name,
             tl_tensor_describe(v->value, d, sizeof d), err);
    return tlb_raise_kind(L, "InvalidArgument", buf);
  }
  if (lua_value && tl_tensor_device(t) != tl_tensor_device(v->value)) {
    /* a Lua value is a constant of the call: it goes where the variable is */
    tl_tensor *moved;
    tl_status s = tl_tensor_copy_to(t, tl_tensor_device(v->value), &moved);
    tl_tensor_release(t);
    if (s) return tlb_raise(L, s);
    t = moved;
  }
  tl_tensor *in[2] = {v->handle, t};
  tl_attr attrs[TL_MAX_ATTRS];
  tl_attrs_defaults(assign_op, attrs);
  tl_tensor_list out;
  tl_list_init(&out);
  tl_status s = tl_op_run(assign_op, in, 2, attrs, &out);
  tl_list_clear(&out);
  tl_tensor_release(t);
  if (s) return tlb_raise(L, s);
  lua_settop(L, 1);
  return 1;
}

static int v_index(lua_State *L) {
  tl_variable *v = check_variable(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (strcmp(k, "trainable") == 0) {
      lua_pushboolean(L, v->trainable);
      return 1;
    }
    if (strcmp(k, "name") == 0) {
      lua_pushstring(L, v->name);
      return 1;
    }
    if (strcmp(k, "id") == 0) {
      lua_pushinteger(L, (lua_Integer)v->id);
      return 1;
    }
    if (tlb_push_method(L)) return 1;
  }
  /* everything else reads the value: v.shape, v[0], v:reduce_sum();
   * indexing (v[0], v["1:, ::2"]) is a read a tape may record, so it is
   * differentiable; field names are not */
  bool field = false;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    field = isalpha((unsigned char)k[0]) || k[0] == '_';
    for (const char *c = k; field && *c; c++) field = isalnum((unsigned char)*c) || *c == '_';
  }
  tl_tensor *t;
  if (field) t = tl_tensor_retain(v->value); /* metadata (v.shape, v.dtype): no read */
  else if (tl_variable_read(v, &t)) return tlb_raise(L, tl_last_status());
  tlb_push_tensor(L, t);
  lua_replace(L, 1);
  int n = tlb_tensor_index(L);
  if (field) {
    /* Metadata answers (dtype, shape, ndim) do not alias the temporary:
     * drop its reference now, not at the next collection, so the value
     * stays unshared and the next write happens in place. */
    tl_tensor **p = lua_touserdata(L, 1);
    tl_tensor_release(*p);
    *p = NULL;
  }
  return n;
}

static int v_newindex(lua_State *L) {
  check_variable(L, 1);
  return tlb_call_hook(L, "variable_setitem", 3, 0);
}

static int v_tostring(lua_State *L) {
  tl_variable *v = check_variable(L, 1);
  char *s;
  tl_print_opts o = {-1, -1, -1, 0, true};
  tl_status st = tl_tensor_format(v->value, &o, &s);
  if (st) return tlb_raise(L, st);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "<tf.Variable '%s' shape=(", v->name);
  luaL_addvalue(&b);
  for (int i = 0; i < v->value->rank; i++) {
    lua_pushfstring(L, i ? ", %I" : "%I", (lua_Integer)v->value->shape[i]);
    luaL_addvalue(&b);
  }
  lua_pushfstring(L, "%s) dtype=%s, numpy=%s%s>", v->value->rank == 1 ? "," : "", tl_dtypes[v->value->dtype].name,
                  strchr(s, '\n') ? "\n" : "", s);
  luaL_addvalue(&b);
  free(s);
  luaL_pushresult(&b);
  return 1;
}

static int v_len(lua_State *L) {
  tl_variable *v = check_variable(L, 1);
  if (v->value->rank == 0) return tlb_raise_kind(L, "InvalidArgument", "len: a scalar variable has no length");
  lua_pushinteger(L, v->value->shape[0]);
  return 1;
}

const luaL_Reg tlb_variable_meta[] = {
    {"__gc", v_gc},        {"__close", v_gc},   {"__index", v_index},  {"__newindex", v_newindex},
    {"__tostring", v_tostring}, {"__len", v_len}, {"__lt", tlb_compare_error}, {"__le", tlb_compare_error},
    {"__eq", tlb_identity_eq}, {NULL, NULL},
};

const luaL_Reg tlb_variable_methods[] = {
    {"value", v_value}, {"read_value", v_value}, {"_assign_raw", v_assign_raw},
    {"totable", tlb_tensor_totable}, {"item", tlb_tensor_item}, {NULL, NULL},
};

