/* sparse_binding.c — core.sparse: the tf.SparseTensor userdata.
 *
 * A SparseTensor is a userdata ("tl.SparseTensor") holding its three
 * component tensors as user values 1..3 (indices, values, dense_shape):
 * the core has no sparse object, only ops on the components
 * (src/ops/sparse.c), so a SparseTensor works wherever its tensors do,
 * symbolic ones inside a trace included. Holding the Lua tensor objects
 * (not new wrappers per access) keeps their identity, which the tape and
 * the tracer rely on.
 *
 *   st = sparse.new(indices, values, dense_shape)   tensors, already checked
 *   sparse.is(x)                                    whether x is one
 *   sparse.meta                                     the metatable
 *
 * Field access: indices / values / dense_shape here; other keys go to
 * meta.getters[key](st) (computed fields: shape, dtype), then meta.methods
 * (filled by stdlib/tlua/sparse.lua, which also sets __tostring and the
 * operators).
 */
#include <lauxlib.h>
#include <lua.h>

#include <string.h>

#include "binding.h"

#define SPARSE_MT "tl.SparseTensor"

static const char *const fields[] = {"indices", "values", "dense_shape"};

static int l_new(lua_State *L) {
  for (int i = 1; i <= 3; i++) tlb_check_tensor(L, i);
  lua_newuserdatauv(L, 0, 3);
  for (int i = 1; i <= 3; i++) {
    lua_pushvalue(L, i);
    lua_setiuservalue(L, -2, i);
  }
  luaL_setmetatable(L, SPARSE_MT);
  return 1;
}

static int l_is(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, SPARSE_MT) != NULL);
  return 1;
}

static int l_index(lua_State *L) {
  luaL_checkudata(L, 1, SPARSE_MT);
  const char *k = lua_tostring(L, 2);
  if (k && lua_type(L, 2) == LUA_TSTRING)
    for (int i = 0; i < 3; i++)
      if (strcmp(k, fields[i]) == 0) {
        lua_getiuservalue(L, 1, i + 1);
        return 1;
      }
  luaL_getmetatable(L, SPARSE_MT);
  if (lua_getfield(L, -1, "getters") == LUA_TTABLE) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL) {
      lua_pushvalue(L, 1);
      lua_call(L, 1, 1);
      return 1;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, -1, "methods") == LUA_TTABLE) {
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
  }
  lua_pushnil(L);
  return 1;
}

static int l_newindex(lua_State *L) {
  return luaL_error(L, "a SparseTensor is immutable (field '%s')", luaL_tolstring(L, 2, NULL));
}

int luaopen_tlua_sparse(lua_State *L) {
  if (luaL_newmetatable(L, SPARSE_MT)) {
    lua_pushcfunction(L, l_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_newtable(L);
    lua_setfield(L, -2, "getters");
    lua_newtable(L);
    lua_setfield(L, -2, "methods");
  }
  lua_newtable(L);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "meta");
  lua_remove(L, -2);
  lua_pushcfunction(L, l_new);
  lua_setfield(L, -2, "new");
  lua_pushcfunction(L, l_is);
  lua_setfield(L, -2, "is");
  return 1;
}
