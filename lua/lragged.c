/* lragged.c — the tl.RaggedTensor userdata: a flat_values tensor and one
 * int64 row_splits vector per ragged dimension (outermost first), held as
 * the userdata's user values so each component keeps its identity (the
 * same tensor object every time, which traces rely on) and the collector
 * sees them.
 *
 * The type is deliberately thin: construction checks the components'
 * dtypes and ranks (not their values: validation is the
 * ragged_validate_splits op, run by the stdlib constructors), the fields
 * are read here, and everything else (methods, indexing, printing,
 * arithmetic) is stdlib/tlua/ragged.lua, reached through the metatable's
 * `methods` table and the `ragged_index` / `ragged_tostring` hooks.
 */
#include <lauxlib.h>
#include <lua.h>

#include <stdio.h>
#include <string.h>

#include "binding.h"

#define RAGGED_MT "tl.RaggedTensor"

typedef struct ragged {
  int ragged_rank; /* the number of row_splits user values after flat_values */
} ragged;

static ragged *test_ragged(lua_State *L, int idx) { return luaL_testudata(L, idx, RAGGED_MT); }

static ragged *check_ragged(lua_State *L, int idx) {
  ragged *r = test_ragged(L, idx);
  if (!r) tlb_type_error(L, idx, "tf.RaggedTensor");
  return r;
}

/* A new ragged userdata from flat_values (at fv) and the k row_splits
 * tensors on top of the stack (popped), pushed. */
static void push_ragged(lua_State *L, int fv, int k) {
  int first = lua_gettop(L) - k + 1;
  fv = lua_absindex(L, fv);
  ragged *r = lua_newuserdatauv(L, sizeof *r, k + 1);
  r->ragged_rank = k;
  luaL_setmetatable(L, RAGGED_MT);
  lua_pushvalue(L, fv);
  lua_setiuservalue(L, -2, 1);
  for (int i = 0; i < k; i++) {
    lua_pushvalue(L, first + i);
    lua_setiuservalue(L, -2, i + 2);
  }
  lua_replace(L, first);
  lua_settop(L, first);
}

/* core.ragged.new(flat_values, {row_splits, ...}): components as they are
 * (tensors; flat_values of rank >= 1, splits int64 vectors). */
static int l_new(lua_State *L) {
  tl_tensor *fv = tlb_test_tensor(L, 1);
  if (!fv) return tlb_type_error(L, 1, "tf.Tensor (flat_values)");
  if (fv->rank == 0)
    return tlb_raise_kind(L, "InvalidArgument", "RaggedTensor: flat_values must have rank at least 1 (got a scalar)");
  luaL_checktype(L, 2, LUA_TTABLE);
  int k = (int)lua_rawlen(L, 2);
  if (k < 1) return tlb_raise_kind(L, "InvalidArgument", "RaggedTensor: needs at least one row_splits tensor");
  if (k > TL_MAX_RANK - 1) return tlb_raise_kind(L, "InvalidArgument", "RaggedTensor: too many ragged dimensions");
  luaL_checkstack(L, k + 4, "too many row_splits");
  for (int i = 1; i <= k; i++) {
    lua_rawgeti(L, 2, i);
    tl_tensor *s = tlb_test_tensor(L, -1);
    char buf[300], d[160];
    if (!s) {
      snprintf(buf, sizeof buf, "RaggedTensor: row_splits %d must be a tf.Tensor (got %s)", i - 1, luaL_typename(L, -1));
      return tlb_raise_kind(L, "InvalidArgument", buf);
    }
    if (s->dtype != TL_INT64 || s->rank != 1) {
      snprintf(buf, sizeof buf, "RaggedTensor: row_splits %d must be an int64 vector (got %s)", i - 1,
               tl_tensor_describe(s, d, sizeof d));
      return tlb_raise_kind(L, "InvalidArgument", buf);
    }
  }
  push_ragged(L, 1, k);
  return 1;
}

static int l_is(lua_State *L) {
  lua_pushboolean(L, test_ragged(L, 1) != NULL);
  return 1;
}

/* core.ragged.components(rt): flat_values, row_splits 0, ... */
static int l_components(lua_State *L) {
  ragged *r = check_ragged(L, 1);
  luaL_checkstack(L, r->ragged_rank + 1, "too many components");
  for (int i = 1; i <= r->ragged_rank + 1; i++) lua_getiuservalue(L, 1, i);
  return r->ragged_rank + 1;
}

static int r_index(lua_State *L) {
  ragged *r = check_ragged(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (strcmp(k, "flat_values") == 0) {
      lua_getiuservalue(L, 1, 1);
      return 1;
    }
    if (strcmp(k, "row_splits") == 0) {
      lua_getiuservalue(L, 1, 2);
      return 1;
    }
    if (strcmp(k, "values") == 0) {
      lua_getiuservalue(L, 1, 1);
      if (r->ragged_rank == 1) return 1;
      luaL_checkstack(L, r->ragged_rank + 2, "too many row_splits");
      for (int i = 3; i <= r->ragged_rank + 1; i++) lua_getiuservalue(L, 1, i);
      push_ragged(L, -r->ragged_rank, r->ragged_rank - 1);
      return 1;
    }
    if (strcmp(k, "ragged_rank") == 0) {
      lua_pushinteger(L, r->ragged_rank);
      return 1;
    }
    if (strcmp(k, "nested_row_splits") == 0) {
      lua_createtable(L, r->ragged_rank, 0);
      for (int i = 1; i <= r->ragged_rank; i++) {
        lua_getiuservalue(L, 1, i + 1);
        lua_rawseti(L, -2, i);
      }
      return 1;
    }
    if (strcmp(k, "dtype") == 0) {
      lua_getiuservalue(L, 1, 1);
      tlb_push_dtype(L, tlb_check_tensor(L, -1)->dtype);
      return 1;
    }
    if (tlb_push_method(L)) return 1;
  }
  /* shape, rows, slices and everything else: stdlib/tlua/ragged.lua */
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  return tlb_call_hook(L, "ragged_index", 2, 1);
}

static int r_newindex(lua_State *L) {
  return tlb_raise_kind(L, "InvalidArgument", "a tf.RaggedTensor is immutable: its rows cannot be assigned");
}

static int r_tostring(lua_State *L) {
  check_ragged(L, 1);
  lua_pushvalue(L, 1);
  return tlb_call_hook(L, "ragged_tostring", 1, 1);
}

/* #rt: the number of rows (known from the outer row_splits' length, also
 * while tracing). */
static int r_len(lua_State *L) {
  check_ragged(L, 1);
  lua_getiuservalue(L, 1, 2);
  tl_tensor *s = tlb_check_tensor(L, -1);
  if (s->shape[0] < 0) return tlb_raise_kind(L, "InvalidArgument", "len: the number of rows is not known while tracing");
  lua_pushinteger(L, s->shape[0] - 1);
  return 1;
}

static const luaL_Reg ragged_meta[] = {
    {"__index", r_index}, {"__newindex", r_newindex}, {"__tostring", r_tostring}, {"__len", r_len},
    {"__lt", tlb_compare_error}, {"__le", tlb_compare_error}, {"__eq", tlb_identity_eq}, {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"new", l_new}, {"is_ragged", l_is}, {"components", l_components}, {NULL, NULL},
};

/* The core.ragged table; its `Meta` field is the metatable (whose
 * `methods` table the stdlib fills). */
int luaopen_tlua_ragged(lua_State *L) {
  luaL_newmetatable(L, RAGGED_MT);
  luaL_setfuncs(L, ragged_meta, 0);
  lua_newtable(L);
  lua_setfield(L, -2, "methods");
  luaL_newlib(L, funcs);
  lua_insert(L, -2);
  lua_setfield(L, -2, "Meta");
  return 1;
}
