/* tl_hostcall.h — the hook through which the lua_function op
 * (src/ops/callback.c) calls back into its host language at run time.
 * The Lua binding installs it (lua/hostcall_binding.c); with no hook the
 * op fails with FailedPrecondition. The hook gets the callback id the op
 * was made with and the op's inputs, and pushes its outputs (owned
 * references) onto out; it returns a status with tl_error's message. */
#ifndef TL_HOSTCALL_H
#define TL_HOSTCALL_H
#include "tl.h"

typedef tl_status (*tl_hostcall_fn)(void *ctx, int64_t id, tl_tensor *const *in, int n_in, tl_tensor_list *out);
/* Installs (or, with NULL, removes) the process's hook. */
void tl_set_hostcall(tl_hostcall_fn fn, void *ctx);
#endif
