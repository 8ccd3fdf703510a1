/* tensor_array_binding.c — the tf.TensorArray userdata ("tf.TensorArray")
 * and core.tensor_array, the low-level functions that
 * stdlib/tlua/tensor_array.lua builds the public methods on.
 *
 * The userdata holds one reference to a tl_tensor_array
 * (src/tl_tensor_array.h): an eager array (a checked list of tensors) or
 * the graph form (buffer and state tensors, maybe symbolic). The metatable
 * is made here (__gc, __close, __name); its __index table and __tostring
 * are filled by the Lua module, which owns the API.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "../src/tl_tensor_array.h"

#define TA_MT "tf.TensorArray"

static tl_tensor_array *check_ta(lua_State *L, int idx) {
  tl_tensor_array **p = luaL_checkudata(L, idx, TA_MT);
  if (!*p) luaL_argerror(L, idx, "TensorArray was released");
  return *p;
}

/* Takes the reference. */
static void push_ta(lua_State *L, tl_tensor_array *ta) {
  tl_tensor_array **p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = ta;
  luaL_setmetatable(L, TA_MT);
}

static int ta_gc(lua_State *L) {
  tl_tensor_array **p = luaL_checkudata(L, 1, TA_MT);
  tl_tensor_array_release(*p);
  *p = NULL;
  return 0;
}

/* An element shape from a list with holes ({n=, ...}; nil or -1 unknown)
 * or nil (unknown rank). */
static bool opt_element(lua_State *L, int idx, tl_meta *m) {
  if (lua_isnoneornil(L, idx)) return false;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "n");
  int n = lua_isnil(L, -1) ? (int)luaL_len(L, idx) : (int)luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  if (n < 0 || n > TL_MAX_RANK - 1) luaL_argerror(L, idx, "element_shape has too many dimensions");
  m->rank = n;
  for (int i = 0; i < n; i++) {
    lua_geti(L, idx, i + 1);
    m->shape[i] = lua_isnil(L, -1) ? -1 : luaL_checkinteger(L, -1);
    if (m->shape[i] < -1) luaL_argerror(L, idx, "element_shape dimensions must be >= 0 (or nil: unknown)");
    lua_pop(L, 1);
  }
  return true;
}

/* new(dtype, size, dynamic_size, clear_after_read, infer_shape, element_shape?) */
static int l_new(lua_State *L) {
  tl_dtype dt = tlb_check_dtype(L, 1);
  lua_Integer size = luaL_checkinteger(L, 2);
  tl_meta m = {.dtype = dt};
  bool known = opt_element(L, 6, &m);
  tl_tensor_array *ta;
  tl_status s = tl_tensor_array_new(dt, size, lua_toboolean(L, 3), lua_toboolean(L, 4), lua_toboolean(L, 5),
                                    known ? &m : NULL, &ta);
  if (s) return tlb_raise(L, s);
  push_ta(L, ta);
  return 1;
}

/* new_dense(dtype, dynamic_size, clear_after_read, infer_shape, element_shape?, buffer?, state) */
static int l_new_dense(lua_State *L) {
  tl_dtype dt = tlb_check_dtype(L, 1);
  tl_meta m = {.dtype = dt};
  bool known = opt_element(L, 5, &m);
  tl_tensor *buf = lua_isnoneornil(L, 6) ? NULL : tlb_check_tensor(L, 6);
  tl_tensor *st = tlb_check_tensor(L, 7);
  tl_tensor_array *ta;
  tl_status s = tl_tensor_array_new_dense(dt, lua_toboolean(L, 2), lua_toboolean(L, 3), lua_toboolean(L, 4),
                                          known ? &m : NULL, buf, st, &ta);
  if (s) return tlb_raise(L, s);
  push_ta(L, ta);
  return 1;
}

static int l_is(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, TA_MT) != NULL);
  return 1;
}

static void push_element(lua_State *L, const tl_meta *e) {
  if (e->rank < 0) {
    lua_pushnil(L);
    return;
  }
  lua_createtable(L, e->rank, 1);
  for (int i = 0; i < e->rank; i++) {
    if (e->shape[i] >= 0) {
      lua_pushinteger(L, e->shape[i]);
      lua_rawseti(L, -2, i + 1);
    }
  }
  lua_pushinteger(L, e->rank);
  lua_setfield(L, -2, "n");
}

/* info(ta): {dtype, dynamic_size, clear_after_read, infer_shape, dense, size, element_shape} */
static int l_info(lua_State *L) {
  tl_tensor_array *ta = check_ta(L, 1);
  lua_createtable(L, 0, 8);
  tlb_push_dtype(L, ta->dtype);
  lua_setfield(L, -2, "dtype");
  lua_pushboolean(L, ta->dynamic_size);
  lua_setfield(L, -2, "dynamic_size");
  lua_pushboolean(L, ta->clear_after_read);
  lua_setfield(L, -2, "clear_after_read");
  lua_pushboolean(L, ta->infer_shape);
  lua_setfield(L, -2, "infer_shape");
  lua_pushboolean(L, ta->dense);
  lua_setfield(L, -2, "dense");
  if (!ta->dense || ta->size >= 0) {
    lua_pushinteger(L, ta->size);
    lua_setfield(L, -2, "size");
  }
  push_element(L, &ta->element);
  lua_setfield(L, -2, "element_shape");
  return 1;
}

/* components(ta): buffer (or nil), state of a dense array */
static int l_components(lua_State *L) {
  tl_tensor_array *ta = check_ta(L, 1);
  if (!ta->dense) return luaL_argerror(L, 1, "an eager TensorArray has no components");
  if (ta->buffer) tlb_push_tensor(L, tl_tensor_retain(ta->buffer));
  else lua_pushnil(L);
  tlb_push_tensor(L, tl_tensor_retain(ta->dstate));
  return 2;
}

/* check_value(ta, tensor, merge): dtype and element shape rule (dense writes) */
static int l_check_value(lua_State *L) {
  tl_tensor_array *ta = check_ta(L, 1);
  tl_tensor *t = tlb_check_tensor(L, 2);
  tl_status s = tl_tensor_array_check_value(ta, &t->meta, lua_toboolean(L, 3));
  if (s) return tlb_raise(L, s);
  return 0;
}

/* set_element(ta, element_shape?): the static element shape (dense arrays) */
static int l_set_element(lua_State *L) {
  tl_tensor_array *ta = check_ta(L, 1);
  tl_meta m = {.dtype = ta->dtype, .rank = -1};
  opt_element(L, 2, &m);
  ta->element = m;
  return 0;
}

static int64_t check_index(lua_State *L, int idx) {
  tl_tensor *t = tlb_test_tensor(L, idx);
  if (!t && tlb_test_variable(L, idx)) t = tlb_check_tensor(L, idx);
  if (t) {
    if (!tl_dtype_is_integer(t->dtype) || t->size != 1)
      tlb_arg_error(L, idx, "index must be an integer scalar");
    tl_tensor *h = tlb_host_copy(L, t);
    int64_t v = tl_load_i64(h->storage->data, h->dtype, h->offset);
    tl_tensor_release(h);
    return v;
  }
  lua_Integer v = 0;
  if (!lua_isinteger(L, idx)) {
    lua_Number f = luaL_checknumber(L, idx);
    if (!lua_numbertointeger(f, &v) || (lua_Number)v != f) tlb_arg_error(L, idx, "index must be an integer");
    return v;
  }
  return lua_tointeger(L, idx);
}

/* The indices of a Lua list or an integer tensor (vector), malloc'd. */
static int64_t *check_indices(lua_State *L, int idx, int64_t *n) {
  tl_tensor *t = tlb_test_tensor(L, idx);
  if (t) {
    if (!tl_dtype_is_integer(t->dtype) || t->rank > 1) tlb_arg_error(L, idx, "indices must be an integer vector");
    tl_tensor *h = tlb_host_copy(L, t);
    *n = h->rank ? h->shape[0] : 1;
    int64_t *v = malloc(sizeof(int64_t) * (size_t)(*n ? *n : 1));
    if (!v) {
      tl_tensor_release(h);
      luaL_error(L, "out of memory");
    }
    for (int64_t i = 0; i < *n; i++) v[i] = tl_load_i64(h->storage->data, h->dtype, h->offset + (h->rank ? i * h->strides[0] : 0));
    tl_tensor_release(h);
    return v;
  }
  if (!lua_istable(L, idx)) tlb_type_error(L, idx, "list of indices or integer tensor");
  *n = (int64_t)luaL_len(L, idx);
  int64_t *v = malloc(sizeof(int64_t) * (size_t)(*n ? *n : 1));
  if (!v) luaL_error(L, "out of memory");
  for (int64_t i = 0; i < *n; i++) {
    lua_geti(L, idx, i + 1);
    int ok;
    v[i] = lua_tointegerx(L, -1, &ok);
    lua_pop(L, 1);
    if (!ok) {
      free(v);
      tlb_arg_error(L, idx, "indices must be integers");
    }
  }
  return v;
}

/* The value at idx as a tensor of the array's dtype (Lua values convert to it). */
static tl_tensor *value_arg(lua_State *L, int idx, tl_tensor_array *ta) {
  tl_tensor *t = tlb_test_tensor(L, idx);
  if (!t && tlb_test_variable(L, idx)) t = tlb_check_tensor(L, idx);
  if (t) return tl_tensor_retain(t);
  const char *err;
  t = tlb_to_tensor(L, idx, ta->dtype, &err);
  if (!t) tlb_raise_kind(L, "InvalidArgument", err);
  return t;
}

static int finish(lua_State *L, tl_status s, tl_tensor *t) {
  if (s) return tlb_raise(L, s);
  tlb_push_tensor(L, t);
  tlb_steer_collector(L);
  return 1;
}

static int l_write(lua_State *L) {
  tl_tensor_array *ta = check_ta(L, 1);
  int64_t i = check_index(L, 2);
  tl_tensor *v = value_arg(L, 3, ta);
  tl_status s = tl_tensor_array_write(ta, i, v);
  tl_tensor_release(v);
  if (s) return tlb_raise(L, s);
  lua_settop(L, 1);
  return 1;
}

static int l_read(lua_State *L) {
  tl_tensor_array *ta = check_ta(L, 1);
  tl_tensor *t = NULL;
  tl_status s = tl_tensor_array_read(ta, check_index(L, 2), &t);
  return finish(L, s, t);
}

static int l_stack(lua_State *L) {
  tl_tensor *t = NULL;
  tl_status s = tl_tensor_array_stack(check_ta(L, 1), &t);
  return finish(L, s, t);
}

static int l_concat(lua_State *L) {
  tl_tensor *t = NULL;
  tl_status s = tl_tensor_array_concat(check_ta(L, 1), &t);
  return finish(L, s, t);
}

static int l_gather(lua_State *L) {
  tl_tensor_array *ta = check_ta(L, 1);
  int64_t n, *idx = check_indices(L, 2, &n);
  tl_tensor *t = NULL;
  tl_status s = tl_tensor_array_gather(ta, idx, n, &t);
  free(idx);
  return finish(L, s, t);
}

static int l_unstack(lua_State *L) {
  tl_tensor_array *ta = check_ta(L, 1);
  tl_tensor *v = value_arg(L, 2, ta);
  tl_status s = tl_tensor_array_unstack(ta, v);
  tl_tensor_release(v);
  if (s) return tlb_raise(L, s);
  lua_settop(L, 1);
  return 1;
}

static int l_scatter(lua_State *L) {
  tl_tensor_array *ta = check_ta(L, 1);
  int64_t n, *idx = check_indices(L, 2, &n);
  tl_tensor *v = NULL;
  const char *err = NULL;
  tl_tensor *t = tlb_test_tensor(L, 3);
  if (!t && tlb_test_variable(L, 3)) t = tlb_check_tensor(L, 3);
  if (t) v = tl_tensor_retain(t);
  else if (!(v = tlb_to_tensor(L, 3, ta->dtype, &err))) {
    free(idx);
    return tlb_raise_kind(L, "InvalidArgument", err);
  }
  tl_status s = tl_tensor_array_scatter(ta, idx, n, v);
  free(idx);
  tl_tensor_release(v);
  if (s) return tlb_raise(L, s);
  lua_settop(L, 1);
  return 1;
}

static int l_split(lua_State *L) {
  tl_tensor_array *ta = check_ta(L, 1);
  tl_tensor *v = value_arg(L, 2, ta);
  int64_t n;
  int64_t *len;
  if (tlb_test_tensor(L, 3) && tlb_test_tensor(L, 3)->rank != 1) {
    tl_tensor_release(v);
    return tlb_raise_kind(L, "InvalidArgument", "Expected lengths to be a vector");
  }
  len = check_indices(L, 3, &n);
  tl_status s = tl_tensor_array_split(ta, v, len, n);
  free(len);
  tl_tensor_release(v);
  if (s) return tlb_raise(L, s);
  lua_settop(L, 1);
  return 1;
}

static int l_close(lua_State *L) {
  tl_tensor_array_close(check_ta(L, 1));
  return 0;
}

/* to_dense(ta): buffer (or nil), state of an eager array */
static int l_to_dense(lua_State *L) {
  tl_tensor *b, *st;
  tl_status s = tl_tensor_array_to_dense(check_ta(L, 1), &b, &st);
  if (s) return tlb_raise(L, s);
  if (b) tlb_push_tensor(L, b);
  else lua_pushnil(L);
  tlb_push_tensor(L, st);
  return 2;
}

/* from_dense(ta, buffer?, state): refills an eager array */
static int l_from_dense(lua_State *L) {
  tl_tensor_array *ta = check_ta(L, 1);
  tl_tensor *b = lua_isnoneornil(L, 2) ? NULL : tlb_check_tensor(L, 2);
  tl_status s = tl_tensor_array_from_dense(ta, b, tlb_check_tensor(L, 3));
  if (s) return tlb_raise(L, s);
  lua_settop(L, 1);
  return 1;
}

/* states(ta): the per-element states of an eager array (0, 1, 2) */
static int l_states(lua_State *L) {
  tl_tensor_array *ta = check_ta(L, 1);
  lua_createtable(L, ta->dense ? 0 : (int)ta->size, 0);
  for (int64_t i = 0; !ta->dense && i < ta->size; i++) {
    lua_pushinteger(L, ta->state[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static const luaL_Reg funcs[] = {
    {"new", l_new},         {"new_dense", l_new_dense}, {"is", l_is},           {"info", l_info},
    {"components", l_components}, {"check_value", l_check_value}, {"set_element", l_set_element},
    {"write", l_write},     {"read", l_read},           {"stack", l_stack},     {"concat", l_concat},
    {"gather", l_gather},   {"unstack", l_unstack},     {"scatter", l_scatter}, {"split", l_split},
    {"close", l_close},     {"to_dense", l_to_dense},   {"from_dense", l_from_dense}, {"states", l_states},
    {NULL, NULL},
};

/* The core.tensor_array table; its `metatable` is the userdata's. */
int luaopen_tlua_tensor_array(lua_State *L) {
  luaL_newlib(L, funcs);
  luaL_newmetatable(L, TA_MT);
  lua_pushcfunction(L, ta_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, ta_gc);
  lua_setfield(L, -2, "__close");
  lua_newtable(L);
  lua_setfield(L, -2, "__index"); /* the methods: stdlib/tlua/tensor_array.lua */
  lua_setfield(L, -2, "metatable");
  return 1;
}
