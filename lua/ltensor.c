/* ltensor.c — the tl.Tensor userdata: its metamethods (indexing goes to
 * the stdlib indexer, printing to the core's formatter), conversion back
 * to Lua values, and core.constant. Values are immutable once created.
 * Values are read on the host from a CPU copy (tlb_host_copy), never from
 * a device's memory.
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

int tlb_tensor_gc(lua_State *L) {
  tl_tensor **p = luaL_checkudata(L, 1, TENSOR_MT);
  tl_tensor_release(*p);
  *p = NULL;
  return 0;
}

/* Converts the value at 1 (dtype at 2) and places a Lua value on dev; a
 * tensor is returned as it is (cast when dtype differs), on its device, as
 * TensorFlow's tf.constant does with an eager tensor. */
static int make_constant(lua_State *L, tl_device dev) {
  tl_dtype d = lua_isnoneornil(L, 2) ? TL_DTYPE_COUNT : tlb_check_dtype(L, 2);
  const char *err;
  bool is_lua = !tlb_test_tensor(L, 1) && !tlb_test_variable(L, 1);
  tl_tensor *t = tlb_to_tensor(L, 1, d, &err);
  if (!t) {
    char buf[400];
    snprintf(buf, sizeof buf, "constant: %s", err);
    return tlb_raise_kind(L, "InvalidArgument", buf);
  }
  if (is_lua) t = tlb_place(L, t, dev);
  tlb_push_tensor(L, t);
  tlb_steer_collector(L);
  return 1;
}

/* core.constant(value, dtype?): a Lua value becomes a tensor on the default
 * device (the innermost tf.device scope's, CPU outside scopes). */
int tlb_l_constant(lua_State *L) { return make_constant(L, tl_default_device()); }

/* core.constant_on(value, dtype, device): a Lua value placed beside a
 * tensor (device = that tensor's .device), for stdlib wrappers that give a
 * Lua value an operand's dtype, as the dispatcher does for op inputs. */
int tlb_l_constant_on(lua_State *L) {
  const char *name = lua_tostring(L, 3);
  tl_device dev = name ? tl_device_from_name(name) : TL_DEVICE_COUNT;
  if (dev == TL_DEVICE_COUNT) {
    char buf[300];
    snprintf(buf, sizeof buf, "constant: unknown or unavailable device '%s'", name ? name : "(none)");
    return tlb_raise_kind(L, "InvalidArgument", buf);
  }
  return make_constant(L, dev);
}

/* The host copy is anchored on the stack while the table is built, so an
 * out-of-memory error inside Lua cannot leak it. */
static tl_tensor *anchored_host_copy(lua_State *L, tl_tensor *t) {
  tl_tensor *c = tlb_host_copy(L, t);
  tlb_push_tensor(L, c);
  return c;
}

/* Inside a trace a tensor has no value: say which call wanted one and
 * what to use instead. */
static void check_concrete(lua_State *L, const tl_tensor *t, const char *what) {
  if (!t->sym_value) return;
  char d[160], buf[600];
  snprintf(buf, sizeof buf,
           "%s: the value of %s is not known while tracing (tensors in a traced function are symbolic); "
           "use tf.cond or tf.while_loop instead of a Lua if or loop on it, tf.print to print it, "
           "or return it from the traced function",
           what, tl_tensor_describe(t, d, sizeof d));
  tlb_raise_kind(L, "FailedPrecondition", buf);
}

int tlb_tensor_totable(lua_State *L) {
  check_concrete(L, tlb_check_tensor(L, 1), "totable");
  tl_tensor *t = anchored_host_copy(L, tlb_check_tensor(L, 1));
  tlb_push_nested(L, t, 0, t->offset);
  return 1;
}

int tlb_tensor_item(lua_State *L) {
  tl_tensor *t = tlb_check_tensor(L, 1);
  check_concrete(L, t, "item");
  if (t->size != 1) {
    char d[160], buf[300];
    snprintf(buf, sizeof buf, "item: %s: only a one-element tensor can become a Lua value (it has %lld)",
             tl_tensor_describe(t, d, sizeof d), (long long)t->size);
    return tlb_raise_kind(L, "InvalidArgument", buf);
  }
  t = anchored_host_copy(L, t);
  tlb_push_element(L, t, t->offset); /* all dims are 1: the offset is the element */
  return 1;
}

/* The dims of t.shape; an unknown dimension of a symbolic tensor (in a
 * trace) is a hole, with the rank in field n. */
static void push_shape_table(lua_State *L, const tl_tensor *t) {
  int rank = t->rank < 0 ? 0 : t->rank;
  bool holes = false;
  lua_createtable(L, rank, 0);
  for (int i = 0; i < rank; i++) {
    if (t->shape[i] < 0) {
      holes = true;
      continue;
    }
    lua_pushinteger(L, t->shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
  if (holes) {
    lua_pushinteger(L, rank);
    lua_setfield(L, -2, "n");
  }
}

int tlb_tensor_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    tl_tensor *t = tlb_check_tensor(L, 1);
    if (strcmp(k, "shape") == 0) {
      push_shape_table(L, t);
      return tlb_call_hook(L, "shape", 1, 1);
    }
    if (strcmp(k, "dtype") == 0) {
      tlb_push_dtype(L, t->dtype);
      return 1;
    }
    if (strcmp(k, "ndim") == 0) {
      lua_pushinteger(L, t->rank);
      return 1;
    }
    if (strcmp(k, "device") == 0) {
      lua_pushstring(L, tl_device_name(tl_tensor_device(t)));
      return 1;
    }
    /* methods: the metatable's method table */
    if (tlb_push_method(L)) return 1;
  }
  /* integers, slices and everything else go to the stdlib indexer */
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  return tlb_call_hook(L, "index", 2, 1);
}

static int t_newindex(lua_State *L) {
  return tlb_raise_kind(L, "InvalidArgument",
                        "a tf.Tensor is immutable: its elements cannot be assigned; "
                        "use a tf.Variable and :assign (or v[...] = x on the variable)");
}

static int t_tostring(lua_State *L) {
  tl_tensor *t = tlb_check_tensor(L, 1);
  check_concrete(L, t, "tostring");
  char *s;
  tl_status st = tl_tensor_format(t, NULL, &s);
  if (st) return tlb_raise(L, st);
  lua_pushstring(L, s);
  free(s);
  return 1;
}

static int t_len(lua_State *L) {
  tl_tensor *t = tlb_check_tensor(L, 1);
  if (t->rank == 0) return tlb_raise_kind(L, "InvalidArgument", "len: a scalar tensor has no length");
  lua_pushinteger(L, t->shape[0]);
  return 1;
}

static int t_close(lua_State *L) { return tlb_tensor_gc(L); }

int tlb_compare_error(lua_State *L) {
  return tlb_raise_kind(L, "InvalidArgument",
                        "tensors cannot be compared with < or <= (Lua needs a boolean): "
                        "use tf.less(a, b) / a:lt(b), tf.less_equal / a:le(b), and tf.cond to branch "
                        "on the result inside a traced function");
}

int tlb_identity_eq(lua_State *L) {
  /* Lua's == must be a boolean; identity, as for Python objects' `is`. */
  lua_pushboolean(L, lua_rawequal(L, 1, 2));
  return 1;
}

const luaL_Reg tlb_tensor_meta[] = {
    {"__gc", tlb_tensor_gc},        {"__close", t_close}, {"__index", tlb_tensor_index},
    {"__newindex", t_newindex}, {"__tostring", t_tostring}, {"__len", t_len},
    {"__lt", tlb_compare_error},  {"__le", tlb_compare_error},  {"__eq", tlb_identity_eq},
    {NULL, NULL},
};

const luaL_Reg tlb_tensor_methods[] = {
    {"totable", tlb_tensor_totable}, {"item", tlb_tensor_item}, {NULL, NULL},
};

