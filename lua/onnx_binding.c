/* onnx_binding.c — core.onnx: the ONNX exporter for stdlib/tlua/onnx.lua.
 *
 *   core.onnx.export(graph, path, {arg_names = {...}, output_names = {...}, opset = 17})
 *   core.onnx.available() -> bool   (false when built without protobuf-c)
 *
 * Names are optional per position (nil or false: input_<i> / output_<i>).
 */
#include <lauxlib.h>
#include <lua.h>

#include "../src/tl_graph.h"
#include "binding.h"

/* Reads opts[field] (a list of at most n strings) into names (borrowed
 * from the strings in the table, which the caller keeps on the stack). */
static void read_names(lua_State *L, int opts, const char *field, int n, const char **names) {
  for (int i = 0; i < n; i++) names[i] = NULL;
  if (lua_isnoneornil(L, opts)) return;
  if (lua_getfield(L, opts, field) == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1)) luaL_error(L, "onnx export: %s must be a list of strings", field);
  lua_Integer len = luaL_len(L, -1);
  if (len > n) luaL_error(L, "onnx export: %s has %d names for %d %s", field, (int)len, n,
                          field[0] == 'a' ? "inputs" : "outputs");
  for (int i = 0; i < len; i++) {
    int t = lua_rawgeti(L, -1, i + 1);
    if (t == LUA_TSTRING) names[i] = lua_tostring(L, -1);
    else if (t != LUA_TNIL && !(t == LUA_TBOOLEAN && !lua_toboolean(L, -1)))
      luaL_error(L, "onnx export: %s[%d] must be a string", field, i + 1);
    lua_pop(L, 1); /* the string stays alive in the table */
  }
  lua_pop(L, 1);
}

static int l_export(lua_State *L) {
  tl_graph *g = tlb_check_graph(L, 1);
  const char *path = luaL_checkstring(L, 2);
  int opset = 17;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    if (lua_getfield(L, 3, "opset") != LUA_TNIL) {
      int isnum;
      lua_Integer v = lua_tointegerx(L, -1, &isnum);
      if (!isnum) return luaL_error(L, "onnx export: opset must be an integer");
      opset = v < 0 || v > 1000 ? -1 : (int)v;
    }
    lua_pop(L, 1);
  }
  /* Userdata, so an error while reading the names frees them too. */
  const char **an = lua_newuserdatauv(L, ((size_t)g->n_args + 1) * sizeof *an, 0);
  const char **on = lua_newuserdatauv(L, ((size_t)g->n_outputs + 1) * sizeof *on, 0);
  read_names(L, 3, "arg_names", g->n_args, an);
  read_names(L, 3, "output_names", g->n_outputs, on);
  tl_status s = tl_onnx_export(g, an, on, opset, path);
  if (s) return tlb_raise(L, s);
  return 0;
}

static int l_available(lua_State *L) {
  lua_pushboolean(L, tl_onnx_available());
  return 1;
}

static const luaL_Reg onnx_funcs[] = {{"export", l_export}, {"available", l_available}, {NULL, NULL}};

int luaopen_tlua_onnx(lua_State *L) {
  luaL_newlib(L, onnx_funcs);
  return 1;
}
