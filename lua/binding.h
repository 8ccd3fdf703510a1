/* binding.h — helpers the binding files share (tensor userdata, errors). */
#ifndef TLUA_BINDING_H
#define TLUA_BINDING_H
#include <lauxlib.h>
#include <lua.h>
#include "../src/tl.h"

#define TENSOR_MT "tl.Tensor"
#define VARIABLE_MT "tl.Variable"
#define ERROR_MT "tl.Error"

/* Registry keys (their addresses are the keys) and the metatables'
 * addresses, for type tests without registry lookups (lbinding.c). */
extern char tlb_hooks_key, tlb_dtypes_key, tlb_variables_key;
extern const void *tlb_tensor_mt, *tlb_variable_mt;
/* The metamethod and method tables of the two userdata (ltensor.c, lvariable.c). */
extern const luaL_Reg tlb_tensor_meta[], tlb_tensor_methods[];
extern const luaL_Reg tlb_variable_meta[], tlb_variable_methods[];

/* The one rule for "is this an options table" (used by the dispatcher and,
 * through core.is_options, by every Lua wrapper): a table without a
 * metatable, with at least one key, all of them strings. A table with both
 * named keys and list entries raises InvalidArgument. */
bool tlb_is_options(lua_State *L, int idx);
int tlb_l_is_options(lua_State *L);
/* tf.errors InvalidArgument values worded as luaL_argerror/luaL_typeerror. */
int tlb_arg_error(lua_State *L, int arg, const char *extramsg);
int tlb_type_error(lua_State *L, int arg, const char *tname);
/* A CPU copy of t (t retained when on the CPU), for host code that reads
 * values; raises on failure. */
tl_tensor *tlb_host_copy(lua_State *L, tl_tensor *t);
/* t (owned) moved to dev: t itself when already there; raises on failure
 * (t released). */
tl_tensor *tlb_place(lua_State *L, tl_tensor *t, tl_device dev);
/* How many tf.device scopes are open on this thread (core.c). */
int tlb_device_scope_depth(void);
/* Calls stdlib hook `name` with the nargs values on top; leaves nres results. */
int tlb_call_hook(lua_State *L, const char *name, int nargs, int nres);
void tlb_make_dtypes(lua_State *L);
int tlb_error_tostring(lua_State *L);
int tlb_l_raise(lua_State *L);
/* Tensor values to Lua: one element / the nested table from dimension dim. */
void tlb_push_element(lua_State *L, const tl_tensor *t, int64_t off);
void tlb_push_nested(lua_State *L, const tl_tensor *t, int dim, int64_t off);
int tlb_tensor_gc(lua_State *L);
int tlb_tensor_index(lua_State *L);
int tlb_tensor_totable(lua_State *L);
int tlb_tensor_item(lua_State *L);
int tlb_compare_error(lua_State *L);
int tlb_identity_eq(lua_State *L);
int tlb_l_constant(lua_State *L);
int tlb_l_constant_on(lua_State *L);
int tlb_l_variable(lua_State *L);
/* Pushes core.ops (name -> op function); op_info / op_names functions. */
void tlb_push_ops(lua_State *L);
int tlb_l_op_info(lua_State *L);
int tlb_l_op_names(lua_State *L);

tl_tensor *tlb_test_tensor(lua_State *L, int idx);
tl_variable *tlb_test_variable(lua_State *L, int idx);
/* A tensor or a variable's current value (borrowed). */
tl_tensor *tlb_check_tensor(lua_State *L, int idx);
/* Pushes the method named by the key at 2 for the userdata at 1 (true), or
 * leaves the stack as it was (false). */
bool tlb_push_method(lua_State *L);
/* Takes ownership of t. */
void tlb_push_tensor(lua_State *L, tl_tensor *t);
tl_tensor *tlb_to_tensor(lua_State *L, int idx, tl_dtype want, const char **err);
void tlb_push_dtype(lua_State *L, tl_dtype d);
tl_dtype tlb_check_dtype(lua_State *L, int idx);
/* Raise a tf.errors value: kind name ("InvalidArgument") and message. */
int tlb_raise_kind(lua_State *L, const char *kind, const char *msg);
int tlb_raise(lua_State *L, tl_status s);
/* core.as_dtype: a DType object from a DType or a dtype name. */
int tlb_l_as_dtype(lua_State *L);
int luaopen_tlua_core(lua_State *L);
/* Pushes the Lua object of a variable created by core.Variable (or nil). */
void tlb_push_variable(lua_State *L, tl_variable *v);
/* Pushes the Lua object of an existing variable (v retained by the new
 * object; the existing object when there is one): loaded saved models. */
void tlb_wrap_variable(lua_State *L, tl_variable *v);
/* Adds save_model, load_model and call to the core.graph table on top
 * (lua/saved_binding.c). */
void tlb_open_saved(lua_State *L);
/* Paces the collector by tensor bytes allocated, with a full collection
 * when live tensor bytes outgrow what survived the last one (lbinding.c). */
void tlb_steer_collector(lua_State *L);
/* Adds the tape functions (tape_new, record_custom, ...) to the module table on top. */
void tlb_open_tape(lua_State *L);
/* Puts the small-block caching layer over the state's allocator (lalloc.c). */
void tlb_install_allocator(lua_State *L);
/* The core.optim table (lua/optim_binding.c): fused optimizer updates. */
int luaopen_tlua_optim(lua_State *L);
/* The core.io table (lua/io_binding.c): tensors as strings and back. */
int luaopen_tlua_io(lua_State *L);
/* The core.graph table (lua/graph_binding.c): traces and graphs. */
int luaopen_tlua_graph(lua_State *L);
/* The core.control table (lua/control_binding.c): control-flow nodes. */
int luaopen_tlua_control(lua_State *L);
/* The core.hostcall table (lua/hostcall_binding.c): Lua callbacks of the lua_function op. */
int luaopen_tlua_hostcall(lua_State *L);
/* The core.onnx table (lua/onnx_binding.c): tf.onnx.export's exporter. */
int luaopen_tlua_onnx(lua_State *L);
/* The core.sparse table (lua/sparse_binding.c): the tf.SparseTensor userdata. */
int luaopen_tlua_sparse(lua_State *L);
/* The core.tensor_array table (lua/tensor_array_binding.c): tf.TensorArray's userdata. */
int luaopen_tlua_tensor_array(lua_State *L);
/* The core.ragged table (lua/lragged.c): the tl.RaggedTensor userdata. */
int luaopen_tlua_ragged(lua_State *L);
/* The core.queue table (lua/queue_binding.c): tf.queue's queues and test worker threads. */
int luaopen_tlua_queue(lua_State *L);
/* Pushes "file.lua:42" for the user's code that called into tlua (the
 * first Lua frame outside tlua's stdlib), or "?". */
void tlb_push_where(lua_State *L);
/* Graph userdata (lua/graph_binding.c): check one at idx, push one (owned). */
struct tl_graph;
struct tl_graph *tlb_check_graph(lua_State *L, int idx);
/* The tensors of the list at idx (variables give their values), borrowed,
 * in a userdata left on the stack; raises naming `what` for a non-tensor. */
tl_tensor **tlb_tensor_list_arg(lua_State *L, int idx, int *n, const char *what);
/* fn(graph at 1, the tensor list at 2): tl_graph_run or tl_graph_call_traced;
 * returns the outputs as a list table. */
typedef tl_status (*tlb_graph_runner)(struct tl_graph *g, tl_tensor *const *args, int n, tl_tensor_list *out);
int tlb_graph_apply(lua_State *L, tlb_graph_runner run, const char *what);
void tlb_push_graph(lua_State *L, struct tl_graph *g);
#endif
