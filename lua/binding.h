/* binding.h — helpers the binding files share (tensor userdata, errors). */
#ifndef TLUA_BINDING_H
#define TLUA_BINDING_H
#include <lua.h>
#include "../src/tl.h"

tl_tensor *tlb_test_tensor(lua_State *L, int idx);
tl_variable *tlb_test_variable(lua_State *L, int idx);
/* A tensor or a variable's current value (borrowed). */
tl_tensor *tlb_check_tensor(lua_State *L, int idx);
/* Takes ownership of t. */
void tlb_push_tensor(lua_State *L, tl_tensor *t);
tl_tensor *tlb_to_tensor(lua_State *L, int idx, tl_dtype want, const char **err);
void tlb_push_dtype(lua_State *L, tl_dtype d);
tl_dtype tlb_check_dtype(lua_State *L, int idx);
/* Raise a tf.errors value: kind name ("InvalidArgument") and message. */
int tlb_raise_kind(lua_State *L, const char *kind, const char *msg);
int tlb_raise(lua_State *L, tl_status s);
int luaopen_tlua_core(lua_State *L);
/* Pushes the Lua object of a variable created by core.Variable (or nil). */
void tlb_push_variable(lua_State *L, tl_variable *v);
/* Runs a collection when tensor bytes have doubled since the last one. */
void tlb_steer_collector(lua_State *L);
/* Adds the tape functions (tape_new, record_custom, ...) to the module table on top. */
void tlb_open_tape(lua_State *L);
/* Puts the small-block caching layer over the state's allocator (lalloc.c). */
void tlb_install_allocator(lua_State *L);
/* The core.optim table (lua/optim_binding.c): fused optimizer updates. */
int luaopen_tlua_optim(lua_State *L);
/* The core.io table (lua/io_binding.c): tensors as strings and back. */
int luaopen_tlua_io(lua_State *L);
#endif
