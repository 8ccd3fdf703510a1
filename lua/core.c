/* core.c — module `tlua.core`: luaopen and the small functions of the
 * module table. The binding is split as Lua's own sources are: lbinding.c
 * (auxiliary: errors, dtypes, options, Lua<->tensor conversion, the
 * collector), ltensor.c (tensor userdata), ldispatch.c (op dispatcher),
 * lvariable.c (variable userdata), tape_binding.c, optim_binding.c,
 * io_binding.c.
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

/* ---- misc functions ---------------------------------------------------- */

static int l_is_tensor(lua_State *L) {
  lua_pushboolean(L, tlb_test_tensor(L, 1) || tlb_test_variable(L, 1));
  return 1;
}

static int l_is_variable(lua_State *L) {
  lua_pushboolean(L, tlb_test_variable(L, 1) != NULL);
  return 1;
}

static int l_memory_stats(lua_State *L) {
  tl_memory_stats s = tl_memory_get_stats();
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, s.live_bytes);
  lua_setfield(L, -2, "live_bytes");
  lua_pushinteger(L, s.peak_bytes);
  lua_setfield(L, -2, "peak_bytes");
  lua_pushinteger(L, s.cached_bytes);
  lua_setfield(L, -2, "cached_bytes");
  lua_pushinteger(L, s.alloc_count);
  lua_setfield(L, -2, "alloc_count");
  return 1;
}

static int l_set_num_threads(lua_State *L) {
  tl_set_num_threads((int)luaL_checkinteger(L, 1));
  return 0;
}

static int l_num_threads(lua_State *L) {
  lua_pushinteger(L, tl_num_threads());
  return 1;
}

static int l_set_hooks(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushvalue(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &tlb_hooks_key);
  return 0;
}

static int l_interrupt(lua_State *L) {
  (void)L;
  tl_request_interrupt();
  return 0;
}

/* core.now(): monotonic wall-clock seconds (os.clock is CPU time). */
static int l_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

static int l_random_set_seed(lua_State *L) {
  tl_random_set_seed((uint64_t)luaL_checkinteger(L, 1));
  return 0;
}

static int l_blas_info(lua_State *L) {
  tl_blas_load();
  tl_blas_info b = tl_blas_get_info();
  lua_createtable(L, 0, 4);
  lua_pushboolean(L, b.loaded);
  lua_setfield(L, -2, "loaded");
  lua_pushstring(L, b.library ? b.library : "");
  lua_setfield(L, -2, "library");
  lua_pushstring(L, b.coretype ? b.coretype : "");
  lua_setfield(L, -2, "coretype");
  lua_pushstring(L, b.corename ? b.corename : "");
  lua_setfield(L, -2, "corename");
  return 1;
}

/* core.set_check_infer(on): every kernel's outputs are checked against its
 * shape rule (the conformance suite turns it on). */
static int l_set_check_infer(lua_State *L) {
  tl_set_check_infer(lua_toboolean(L, 1));
  return 0;
}

/* core.infer_checks(name): how many calls of op name agreed with its rule. */
static int l_infer_checks(lua_State *L) {
  const tl_op_def *op = tl_op_find(luaL_checkstring(L, 1));
  lua_pushinteger(L, op ? (lua_Integer)tl_op_infer_checks(op) : 0);
  return 1;
}

/* core.is_options(x): the one rule for "is this an options table". */
static int l_is_options(lua_State *L) {
  lua_pushboolean(L, tlb_is_options(L, 1));
  return 1;
}

static const luaL_Reg funcs[] = {
    {"is_options", l_is_options},
    {"set_check_infer", l_set_check_infer}, {"infer_checks", l_infer_checks}, {"as_dtype", tlb_l_as_dtype},
    {"constant", tlb_l_constant},   {"Variable", tlb_l_variable},   {"is_tensor", l_is_tensor},
    {"is_variable", l_is_variable}, {"op_info", tlb_l_op_info}, {"op_names", tlb_l_op_names},
    {"memory_stats", l_memory_stats}, {"set_num_threads", l_set_num_threads},
    {"num_threads", l_num_threads}, {"set_hooks", l_set_hooks}, {"raise", tlb_l_raise},
    {"interrupt", l_interrupt}, {"blas_info", l_blas_info}, {"random_set_seed", l_random_set_seed}, {"now", l_now},
    {NULL, NULL},
};

static void make_meta(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "methods");
  lua_pop(L, 1);
}

int luaopen_tlua_core(lua_State *L) {
  tl_status s = tl_init();
  if (s) return luaL_error(L, "tlua: core failed to initialise: %s", tl_last_error());
  tlb_install_allocator(L);
  luaL_newmetatable(L, ERROR_MT);
  lua_pushcfunction(L, tlb_error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  make_meta(L, TENSOR_MT, tlb_tensor_meta, tlb_tensor_methods);
  make_meta(L, VARIABLE_MT, tlb_variable_meta, tlb_variable_methods);
  luaL_getmetatable(L, TENSOR_MT);
  tlb_tensor_mt = lua_topointer(L, -1);
  luaL_getmetatable(L, VARIABLE_MT);
  tlb_variable_mt = lua_topointer(L, -1);
  lua_pop(L, 2);
  tlb_make_dtypes(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &tlb_dtypes_key);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &tlb_hooks_key);
  lua_newtable(L); /* tl_variable* -> userdata, weak values */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &tlb_variables_key);

  luaL_newlib(L, funcs);
  tlb_push_ops(L);
  lua_setfield(L, -2, "ops");
  tlb_push_dtype(L, 0); /* force table creation check */
  lua_pop(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &tlb_dtypes_key);
  lua_setfield(L, -2, "dtypes");
  luaL_getmetatable(L, TENSOR_MT);
  lua_setfield(L, -2, "Tensor");
  luaL_getmetatable(L, VARIABLE_MT);
  lua_setfield(L, -2, "VariableMeta");
  luaL_getmetatable(L, ERROR_MT);
  lua_setfield(L, -2, "ErrorMeta");
  tlb_open_tape(L);
  luaopen_tlua_optim(L); /* lua/optim_binding.c: fused optimizer updates */
  lua_setfield(L, -2, "optim");
  luaopen_tlua_io(L); /* lua/io_binding.c: serialize_tensor, parse_tensor */
  lua_setfield(L, -2, "io");
  return 1;
}
