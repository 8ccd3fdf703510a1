/* variable.c — tl.Variable: mutable state with value semantics for readers.
 *
 * A variable owns one tensor. Readers retain that tensor; an assign while a
 * reader holds it replaces the tensor (copy on write) instead of writing
 * into it, so a tensor the user holds never changes. When nobody else holds
 * the value, updates happen in place and allocate nothing.
 *
 * These are the mechanics; users change state only through the ops of
 * ops/state.c and ops/optim.c, so observers see every read and write
 * (tl_variable_read is the C convenience that runs read_variable).
 */
#include "tl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t next_id = 1;

/* The variable's own contiguous copy of init, on init's device. */
static tl_status own_copy(tl_tensor *init, tl_tensor **out) {
  tl_device dev = init->storage->device;
  if (dev == TL_CPU || dev == tl_current_device()) {
    tl_status s = tl_tensor_new_on(dev, init->dtype, init->rank, init->shape, out);
    if (s) return s;
    return tl_tensor_copy_into(*out, init);
  }
  /* Outside a kernel another device's memory is not ours to read: go
   * through the host with explicit copies. */
  tl_tensor *host, *flat;
  tl_status s = tl_tensor_copy_to(init, TL_CPU, &host);
  if (s) return s;
  s = own_copy(host, &flat);
  tl_tensor_release(host);
  if (s) return s;
  s = tl_tensor_copy_to(flat, dev, out);
  tl_tensor_release(flat);
  return s;
}

tl_status tl_variable_new(tl_tensor *init, bool trainable, const char *name, tl_variable **out) {
  if (init->dtype == TL_RESOURCE) return tl_error(TL_INVALID_ARGUMENT, "a variable cannot hold a resource");
  if (init->sym_value)
    return tl_error(TL_FAILED_PRECONDITION,
                    "a variable's initial value cannot come from traced values (it would have no value); "
                    "create the variable outside the traced function or in tf.init_scope");
  tl_variable *v = calloc(1, sizeof *v);
  if (!v) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  tl_tensor *copy = NULL;
  tl_status s = own_copy(init, &copy);
  if (!s) s = tl_tensor_new_on(TL_CPU, TL_RESOURCE, 0, NULL, &v->handle);
  if (s) {
    tl_tensor_release(copy);
    free(v);
    return s;
  }
  *(tl_variable **)v->handle->storage->data = v;
  v->refcount = 1;
  v->value = copy;
  v->trainable = trainable;
  snprintf(v->name, sizeof v->name, "%s", name ? name : "Variable");
  v->id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
  *out = v;
  return TL_OK;
}

tl_variable *tl_variable_retain(tl_variable *v) {
  __atomic_add_fetch(&v->refcount, 1, __ATOMIC_RELAXED);
  return v;
}

void tl_variable_release(tl_variable *v) {
  if (!v || __atomic_sub_fetch(&v->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
  *(tl_variable **)v->handle->storage->data = NULL;
  tl_tensor_release(v->handle);
  tl_tensor_release(v->value);
  free(v);
}

tl_status tl_resource_variable(const tl_tensor *t, tl_variable **out) {
  if (!t || t->dtype != TL_RESOURCE)
    return tl_error(TL_INVALID_ARGUMENT, "expected a variable handle, got %s",
                    t ? tl_dtypes[t->dtype].name : "nil");
  tl_variable *v = tl_resource_peek(t);
  if (!v) return tl_error(TL_FAILED_PRECONDITION, "the variable behind this handle no longer exists");
  *out = v;
  return TL_OK;
}

tl_status tl_variable_mutable(tl_variable *v, tl_tensor **value) {
  tl_tensor *cur = v->value;
  if (__atomic_load_n(&cur->refcount, __ATOMIC_ACQUIRE) != 1 ||
      __atomic_load_n(&cur->storage->refcount, __ATOMIC_ACQUIRE) != 1 || !tl_tensor_is_contiguous(cur)) {
    tl_tensor *copy;
    tl_status s = tl_tensor_new(cur->dtype, cur->rank, cur->shape, &copy);
    if (s) return s;
    tl_tensor_copy_into(copy, cur);
    tl_tensor_release(cur);
    v->value = cur = copy;
  }
  *value = cur;
  return TL_OK;
}

tl_status tl_variable_assign(tl_variable *v, tl_tensor *t) {
  tl_tensor *cur = v->value;
  if (t->sym_value) return tl_error(TL_FAILED_PRECONDITION, "assign: a symbolic tensor has no value to store");
  if (t->dtype != cur->dtype || !tl_tensor_same_shape(t, cur)) {
    char a[160], b[160];
    return tl_error(TL_INVALID_ARGUMENT, "assign: variable '%s' is %s, value is %s", v->name,
                    tl_tensor_describe(cur, a, sizeof a), tl_tensor_describe(t, b, sizeof b));
  }
  /* strings always get a new storage: writing in place would pile the old
     bytes up in the storage's arena with every assign */
  if (__atomic_load_n(&cur->refcount, __ATOMIC_ACQUIRE) == 1 &&
      __atomic_load_n(&cur->storage->refcount, __ATOMIC_ACQUIRE) == 1 && tl_tensor_is_contiguous(cur) &&
      cur->storage != t->storage && cur->dtype != TL_STRING)
    return tl_tensor_copy_into(cur, t);
  tl_tensor *copy;
  tl_status s = tl_tensor_new(cur->dtype, cur->rank, cur->shape, &copy);
  if (s) return s;
  if ((s = tl_tensor_copy_into(copy, t))) {
    tl_tensor_release(copy);
    return s;
  }
  tl_tensor_release(cur);
  v->value = copy;
  return TL_OK;
}

tl_status tl_variable_read(tl_variable *v, tl_tensor **out) {
  static const tl_op_def *read_op;
  const tl_op_def *op = __atomic_load_n(&read_op, __ATOMIC_ACQUIRE);
  if (!op) {
    if (!(op = tl_op_find("read_variable"))) return tl_error(TL_INTERNAL, "read_variable is not registered");
    __atomic_store_n(&read_op, op, __ATOMIC_RELEASE);
  }
  return tl_op_run1(op, &v->handle, 1, NULL, out);
}
