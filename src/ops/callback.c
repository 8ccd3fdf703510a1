/* ops/callback.c — lua_function, the op behind tf.lua_function (TensorFlow's
 * tf.py_function): its kernel calls back into the host language through the
 * hook of src/tl_hostcall.h with the callback id of its `callback` attr, and
 * checks what comes back against the declared outputs (`dtypes`, `ranks`,
 * `dims`: each output's rank, -1 unknown, and its dimensions flattened in
 * order, -1 unknown). The outputs' shapes are known only once the callback
 * has run (TL_OP_VALUE_SHAPE). Stateful (the callback may do anything, so
 * graphs keep it and never fold or merge it) and without a gradient
 * (TL_OP_NO_GRADIENT: the tape treats the outputs as constants). */
#include "ops/ops.h"
#include "tl_hostcall.h"

#include <stdatomic.h>

static _Atomic(tl_hostcall_fn) hook;
static void *_Atomic hook_ctx;

void tl_set_hostcall(tl_hostcall_fn fn, void *ctx) {
  atomic_store(&hook_ctx, ctx);
  atomic_store(&hook, fn);
}

static tl_status callback_infer(TL_INFER_ARGS) {
  (void)op, (void)in, (void)n_in;
  const tl_attr *dt = &attr[1], *rk = &attr[2], *dm = &attr[3];
  int n_dims = dm->present ? dm->n : 0;
  if (rk->n != dt->n)
    return tl_error(TL_INVALID_ARGUMENT, "%d dtypes but %d ranks (one per output)", dt->n, rk->n);
  int at = 0;
  for (int i = 0; i < dt->n; i++) {
    if (dt->ints[i] < 0 || dt->ints[i] >= TL_DTYPE_COUNT)
      return tl_error(TL_INVALID_ARGUMENT, "output %d: bad dtype code %lld", i, (long long)dt->ints[i]);
    int64_t r = rk->ints[i];
    if (r < -1 || r > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "output %d: bad rank %lld", i, (long long)r);
    if (r > 0 && at + r > n_dims) return tl_error(TL_INVALID_ARGUMENT, "dims has too few entries for the ranks");
    tl_meta *m = tl_meta_push(out, (tl_dtype)dt->ints[i], 0, NULL);
    if (!m) return TL_RESOURCE_EXHAUSTED;
    m->rank = (int)r;
    for (int d = 0; d < r; d++) {
      int64_t v = dm->ints[at++];
      if (v < -1) return tl_error(TL_INVALID_ARGUMENT, "output %d: bad dimension %lld", i, (long long)v);
      m->shape[d] = v;
    }
  }
  if (at != n_dims) return tl_error(TL_INVALID_ARGUMENT, "dims has more entries than the ranks use");
  return TL_OK;
}

static tl_status callback_kernel(TL_KERNEL_ARGS) {
  (void)op;
  tl_hostcall_fn fn = atomic_load(&hook);
  if (!fn) return tl_error(TL_FAILED_PRECONDITION, "no host language is attached to run the callback");
  tl_status s = fn(atomic_load(&hook_ctx), attr[0].i, in, n_in, out);
  if (s) return s;
  const tl_attr *dt = &attr[1], *rk = &attr[2], *dm = &attr[3];
  if (out->n != dt->n)
    return tl_error(TL_INVALID_ARGUMENT, "the callback returned %d values, %d declared (Tout)", out->n, dt->n);
  int at = 0;
  for (int i = 0; i < out->n; i++) {
    const tl_tensor *t = out->items[i];
    char a[96];
    if (t->dtype != (tl_dtype)dt->ints[i])
      return tl_error(TL_INVALID_ARGUMENT, "result %d is %s, declared %s", i + 1, tl_meta_describe(&t->meta, a, sizeof a),
                      tl_dtypes[dt->ints[i]].name);
    int64_t r = rk->ints[i];
    if (r >= 0) {
      if (t->rank != r)
        return tl_error(TL_INVALID_ARGUMENT, "result %d is %s, declared rank %lld", i + 1,
                        tl_meta_describe(&t->meta, a, sizeof a), (long long)r);
      for (int d = 0; d < r; d++, at++) {
        int64_t want = dm->ints[at];
        if (want >= 0 && t->shape[d] != want)
          return tl_error(TL_INVALID_ARGUMENT, "result %d is %s: dimension %d should be %lld", i + 1,
                          tl_meta_describe(&t->meta, a, sizeof a), d, (long long)want);
      }
    }
  }
  return TL_OK;
}

tl_op_def tl_ops_callback[] = {
    {.name = "lua_function", .inputs = "inputs[]", .attrs = "callback:int, dtypes:ints, ranks:ints, dims:ints?",
     .infer = callback_infer, .kernel[TL_CPU] = callback_kernel,
     .flags = TL_OP_VALUE_SHAPE | TL_OP_STATEFUL | TL_OP_NO_GRADIENT | TL_OP_LIST_OUTPUT, .api = "-",
     .doc = "Calls Lua function number `callback` on the inputs when it runs; outputs checked against dtypes/ranks/dims (tf.lua_function)."},
    {0},
};
