/* core.c — module `tlua.core`: luaopen and the small functions of the
 * module table. The binding is split as Lua's own sources are: lbinding.c
 * (auxiliary: errors, dtypes, options, Lua<->tensor conversion, the
 * collector), ltensor.c (tensor userdata), ldispatch.c (op dispatcher),
 * lvariable.c (variable userdata), tape_binding.c, optim_binding.c,
 * io_binding.c, graph_binding.c, onnx_binding.c.
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

static lua_Integer check_integer(lua_State *L, int idx) {
  int isnum;
  lua_Integer v = lua_tointegerx(L, idx, &isnum);
  if (!isnum) tlb_type_error(L, idx, "integer");
  return v;
}

static int l_set_num_threads(lua_State *L) {
  lua_Integer n = check_integer(L, 1);
  tl_set_num_threads(n < 1 ? 1 : n > 4096 ? 4096 : (int)n); /* the core clamps further */
  return 0;
}

static int l_num_threads(lua_State *L) {
  lua_pushinteger(L, tl_num_threads());
  return 1;
}

static int l_set_hooks(lua_State *L) {
  if (lua_type(L, 1) != LUA_TTABLE) return tlb_type_error(L, 1, "table");
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
  tl_random_set_seed((uint64_t)check_integer(L, 1));
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

/* ---- devices ------------------------------------------------------------ */

/* tf.device scopes (stdlib/tlua/device.lua) are a per-thread stack: each
 * level remembers the default device it replaced. Leaving a level also
 * leaves the levels opened inside it that were not left (a scope whose
 * code raised), and leaving one already left does nothing, so scopes
 * always restore what was there before them. */
#define MAX_SCOPES 64
static _Thread_local tl_device scope_saved[MAX_SCOPES];
static _Thread_local int scope_depth;

int tlb_device_scope_depth(void) { return scope_depth; }

static tl_device check_device(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TSTRING) tlb_type_error(L, idx, "device name string");
  const char *name = lua_tostring(L, idx);
  tl_device d = tl_device_from_name(name);
  if (d == TL_DEVICE_COUNT) {
    char buf[300];
    snprintf(buf, sizeof buf, "unknown or unavailable device '%s' (available: CPU:0, TEST:0)", name);
    tlb_raise_kind(L, "InvalidArgument", buf);
  }
  return d;
}

/* core.device_enter(name) -> level: makes name the default device. */
static int l_device_enter(lua_State *L) {
  tl_device d = check_device(L, 1);
  if (scope_depth == MAX_SCOPES)
    return tlb_raise_kind(L, "ResourceExhausted", "tf.device: more than 64 nested device scopes");
  scope_saved[scope_depth++] = tl_default_device();
  tl_set_default_device(d);
  lua_pushinteger(L, scope_depth);
  return 1;
}

/* core.device_exit(level): restores the default device from before level. */
static int l_device_exit(lua_State *L) {
  lua_Integer level = check_integer(L, 1);
  if (level < 1 || level > scope_depth) return 0;
  tl_set_default_device(scope_saved[level - 1]);
  scope_depth = (int)level - 1;
  return 0;
}

/* core.default_device() -> the full name of the default device. */
static int l_default_device(lua_State *L) {
  lua_pushstring(L, tl_device_name(tl_default_device()));
  return 1;
}

/* core.device_name(name) -> TensorFlow's full spelling of a device name. */
static int l_device_name(lua_State *L) {
  lua_pushstring(L, tl_device_name(check_device(L, 1)));
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
  if (lua_type(L, 1) != LUA_TSTRING) return tlb_type_error(L, 1, "op name string");
  const tl_op_def *op = tl_op_find(lua_tostring(L, 1));
  lua_pushinteger(L, op ? (lua_Integer)tl_op_infer_checks(op) : 0);
  return 1;
}

/* core.trace_ops(fn, ...) -> names, results...: runs fn and lists the ops
 * it ran from outside any kernel (depth 0: the user's ops and the ops of
 * gradient rules), in order, through an op observer: what a tracer sees.
 * The tests use it to check that state changes are ops. */
typedef struct op_trace {
  const char **names;
  int n, cap;
  bool failed;
} op_trace;

static tl_status trace_after(void *ctx, const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                             const tl_tensor_list *out, int depth) {
  (void)in, (void)n_in, (void)attrs, (void)out;
  op_trace *t = ctx;
  if (depth > 0 || t->failed) return TL_OK;
  if (t->n == t->cap) {
    int cap = t->cap ? t->cap * 2 : 64;
    const char **names = realloc(t->names, sizeof *names * (size_t)cap);
    if (!names) {
      t->failed = true;
      return TL_OK;
    }
    t->names = names;
    t->cap = cap;
  }
  t->names[t->n++] = op->name;
  return TL_OK;
}

static int l_trace_ops(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  op_trace trace = {NULL, 0, 0, false};
  tl_observer obs = {.after = trace_after, .ctx = &trace};
  if (tl_observer_add(&obs)) return tlb_raise(L, tl_last_status());
  int base = lua_gettop(L) - 1; /* fn's arguments follow it */
  int status = lua_pcall(L, base, LUA_MULTRET, 0);
  tl_observer_remove(&obs);
  if (status != LUA_OK) {
    free(trace.names);
    return lua_error(L);
  }
  int nres = lua_gettop(L);
  lua_createtable(L, trace.n, 0);
  for (int i = 0; i < trace.n; i++) {
    lua_pushstring(L, trace.names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  free(trace.names);
  if (trace.failed) return tlb_raise_kind(L, "ResourceExhausted", "trace_ops: out of memory recording op names");
  lua_insert(L, 1);
  return nres + 1;
}

static const luaL_Reg funcs[] = {
    {"set_check_infer", l_set_check_infer}, {"infer_checks", l_infer_checks}, {"as_dtype", tlb_l_as_dtype},
    {"is_options", tlb_l_is_options}, {"trace_ops", l_trace_ops}, {"device_enter", l_device_enter}, {"device_exit", l_device_exit},
    {"default_device", l_default_device}, {"device_name", l_device_name},
    {"constant", tlb_l_constant}, {"constant_on", tlb_l_constant_on},   {"Variable", tlb_l_variable},   {"is_tensor", l_is_tensor},
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
  luaL_newmetatable(L, ERROR_MT);
  lua_pushcfunction(L, tlb_error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  tl_status s = tl_init();
  if (s) return tlb_raise(L, s); /* a tf.errors value, like every other error */
  tlb_install_allocator(L);
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
  luaopen_tlua_graph(L); /* lua/graph_binding.c: tf.trace's traces and graphs */
  tlb_open_saved(L);     /* lua/saved_binding.c: saved models (core.graph.save_model, ...) */
  lua_setfield(L, -2, "graph");
  luaopen_tlua_control(L); /* lua/control_binding.c: tf.cond / tf.while_loop nodes */
  lua_setfield(L, -2, "control");
  luaopen_tlua_hostcall(L); /* lua/hostcall_binding.c: tf.lua_function's callbacks */
  lua_setfield(L, -2, "hostcall");
  luaopen_tlua_onnx(L); /* lua/onnx_binding.c: tf.onnx.export */
  lua_setfield(L, -2, "onnx");
  luaopen_tlua_sparse(L); /* lua/sparse_binding.c: the tf.SparseTensor userdata */
  lua_setfield(L, -2, "sparse");
  luaopen_tlua_tensor_array(L); /* lua/tensor_array_binding.c: tf.TensorArray */
  lua_setfield(L, -2, "tensor_array");
  luaopen_tlua_ragged(L); /* lua/lragged.c: tf.RaggedTensor */
  lua_setfield(L, -2, "ragged");
  luaopen_tlua_queue(L); /* lua/queue_binding.c: tf.queue */
  lua_setfield(L, -2, "queue");
  return 1;
}
