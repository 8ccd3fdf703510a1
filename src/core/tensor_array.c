/* tensor_array.c — the eager tf.TensorArray: a checked list of tensors
 * (src/tl_tensor_array.h has the contract).
 *
 * Messages follow TensorFlow's eager TensorArray where it has one; where
 * TensorFlow lets a mistake pass (writing an element twice, reading one
 * never written, which it answers with zeros), this raises instead, as
 * issue 10 asks. Elements are held, not copied: tensors are immutable.
 * Not here: the graph form's ops (src/ops/tensor_array.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_tensor_array.h"
#include "ops/ops.h"

static char *meta_text(const tl_meta *m, char *buf, size_t n) {
  if (m->rank < 0) {
    snprintf(buf, n, "<unknown>");
    return buf;
  }
  size_t k = (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < m->rank && k < n; i++) {
    if (m->shape[i] < 0) k += (size_t)snprintf(buf + k, n - k, i ? ",?" : "?");
    else k += (size_t)snprintf(buf + k, n - k, i ? ",%" PRId64 : "%" PRId64, m->shape[i]);
  }
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}

static tl_status reserve(tl_tensor_array *ta, int64_t n) {
  if (n <= ta->cap) return TL_OK;
  int64_t cap = ta->cap ? ta->cap : 4;
  while (cap < n) cap *= 2;
  tl_tensor **items = realloc(ta->items, sizeof *items * (size_t)cap);
  if (!items) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory growing a TensorArray");
  ta->items = items;
  uint8_t *st = realloc(ta->state, (size_t)cap);
  if (!st) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory growing a TensorArray");
  ta->state = st;
  ta->cap = cap;
  return TL_OK;
}

/* Grows to n elements (new ones unwritten). */
static tl_status resize(tl_tensor_array *ta, int64_t n) {
  tl_status s = reserve(ta, n);
  if (s) return s;
  for (int64_t i = ta->size; i < n; i++) {
    ta->items[i] = NULL;
    ta->state[i] = TL_TA_EMPTY;
  }
  ta->size = n > ta->size ? n : ta->size;
  return TL_OK;
}

static void clear_items(tl_tensor_array *ta) {
  for (int64_t i = 0; i < ta->size; i++) tl_tensor_release(ta->items[i]);
  ta->size = 0;
}

static tl_status init(tl_dtype dt, bool dynamic_size, bool clear_after_read, bool infer_shape, const tl_meta *element,
                      tl_tensor_array **out) {
  if (dt < 0 || dt >= TL_DTYPE_COUNT || dt == TL_RESOURCE)
    return tl_error(TL_INVALID_ARGUMENT, "TensorArray: invalid dtype");
  if (element && element->rank > TL_MAX_RANK - 1)
    return tl_error(TL_INVALID_ARGUMENT, "TensorArray: element_shape has %d dimensions; at most %d are supported",
                    element->rank, TL_MAX_RANK - 1);
  tl_tensor_array *ta = calloc(1, sizeof *ta);
  if (!ta) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  ta->refcount = 1;
  ta->dtype = dt;
  ta->dynamic_size = dynamic_size;
  ta->clear_after_read = clear_after_read;
  ta->infer_shape = infer_shape;
  ta->element = element ? *element : (tl_meta){.dtype = dt, .rank = -1};
  ta->element.dtype = dt;
  *out = ta;
  return TL_OK;
}

tl_status tl_tensor_array_new(tl_dtype dt, int64_t size, bool dynamic_size, bool clear_after_read, bool infer_shape,
                              const tl_meta *element, tl_tensor_array **out) {
  if (size < 0) return tl_error(TL_INVALID_ARGUMENT, "TensorArray: size must be >= 0 (got %" PRId64 ")", size);
  tl_status s = init(dt, dynamic_size, clear_after_read, infer_shape, element, out);
  if (s) return s;
  if ((s = resize(*out, size))) {
    tl_tensor_array_release(*out);
    *out = NULL;
  }
  return s;
}

tl_status tl_tensor_array_new_dense(tl_dtype dt, bool dynamic_size, bool clear_after_read, bool infer_shape,
                                    const tl_meta *element, tl_tensor *buffer, tl_tensor *state, tl_tensor_array **out) {
  TL_ASSERT(state != NULL);
  tl_status s = init(dt, dynamic_size, clear_after_read, infer_shape, element, out);
  if (s) return s;
  (*out)->dense = true;
  (*out)->buffer = buffer ? tl_tensor_retain(buffer) : NULL;
  (*out)->dstate = tl_tensor_retain(state);
  (*out)->size = state->shape[0];
  return TL_OK;
}

tl_tensor_array *tl_tensor_array_retain(tl_tensor_array *ta) {
  if (ta) __atomic_add_fetch(&ta->refcount, 1, __ATOMIC_RELAXED);
  return ta;
}

void tl_tensor_array_release(tl_tensor_array *ta) {
  if (!ta || __atomic_sub_fetch(&ta->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
  if (!ta->dense) clear_items(ta);
  free(ta->items);
  free(ta->state);
  tl_tensor_release(ta->buffer);
  tl_tensor_release(ta->dstate);
  free(ta);
}

tl_status tl_tensor_array_check_value(tl_tensor_array *ta, const tl_meta *v, bool merge) {
  char a[120], b[120];
  if (v->dtype != ta->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "TensorArray dtype is %s but Op is trying to write dtype %s",
                    tl_dtypes[ta->dtype].name, tl_dtypes[v->dtype].name);
  if (!tl_meta_compatible(&ta->element, v))
    return tl_error(TL_INVALID_ARGUMENT, "Incompatible shape for value (%s), expected (%s)", meta_text(v, a, sizeof a),
                    meta_text(&ta->element, b, sizeof b));
  if (merge && ta->infer_shape && v->rank >= 0) {
    if (ta->element.rank < 0) {
      ta->element = *v;
    } else {
      for (int i = 0; i < v->rank; i++)
        if (ta->element.shape[i] < 0) ta->element.shape[i] = v->shape[i];
    }
    ta->element.dtype = ta->dtype;
  }
  return TL_OK;
}

static tl_status check_eager(const tl_tensor_array *ta, const char *what) {
  if (ta->dense) return tl_error(TL_INTERNAL, "TensorArray.%s: a graph-form array reached the eager path", what);
  return TL_OK;
}

static tl_status write_one(tl_tensor_array *ta, int64_t index, tl_tensor *value) {
  if (index < 0) return tl_error(TL_OUT_OF_RANGE, "Writing to negative indices (index %" PRId64 ") is not allowed", index);
  if (index >= ta->size && !ta->dynamic_size)
    return tl_error(TL_OUT_OF_RANGE, "Tried to write to index %" PRId64 " but array is not resizeable and size is: %" PRId64,
                    index, ta->size);
  if (index < ta->size && ta->state[index] != TL_TA_EMPTY)
    return tl_error(TL_INVALID_ARGUMENT, "Could not write to TensorArray index %" PRId64 " because it has already been %s",
                    index, ta->state[index] == TL_TA_WRITTEN ? "written to" : "read");
  tl_status s = tl_tensor_array_check_value(ta, &value->meta, true);
  if (s) return s;
  if (index >= ta->size && (s = resize(ta, index + 1))) return s;
  ta->items[index] = tl_tensor_retain(value);
  ta->state[index] = TL_TA_WRITTEN;
  return TL_OK;
}

tl_status tl_tensor_array_write(tl_tensor_array *ta, int64_t index, tl_tensor *value) {
  tl_status s = check_eager(ta, "write");
  return s ? s : write_one(ta, index, value);
}

static tl_status check_read(const tl_tensor_array *ta, int64_t index, bool zeros_ok) {
  if (index < 0) return tl_error(TL_OUT_OF_RANGE, "Reading from negative indices (index %" PRId64 ") is not allowed", index);
  if (index >= ta->size)
    return tl_error(TL_OUT_OF_RANGE, "Tried to read from index %" PRId64 " but array size is: %" PRId64, index, ta->size);
  if (ta->state[index] == TL_TA_CLEARED)
    return tl_error(TL_INVALID_ARGUMENT,
                    "Could not read index %" PRId64 " twice because it was cleared after a previous read (perhaps try "
                    "setting clear_after_read = false?)", index);
  if (ta->state[index] == TL_TA_EMPTY && !zeros_ok)
    return tl_error(TL_INVALID_ARGUMENT, "Could not read from TensorArray index %" PRId64
                    " because it has not yet been written to", index);
  return TL_OK;
}

tl_status tl_tensor_array_read(tl_tensor_array *ta, int64_t index, tl_tensor **out) {
  tl_status s = check_eager(ta, "read");
  if (s || (s = check_read(ta, index, false))) return s;
  *out = tl_tensor_retain(ta->items[index]);
  if (ta->clear_after_read) {
    tl_tensor_release(ta->items[index]);
    ta->items[index] = NULL;
    ta->state[index] = TL_TA_CLEARED;
  }
  return TL_OK;
}

/* Element i, or zeros of the element shape when it was never written. */
static tl_status element_or_zeros(tl_tensor_array *ta, int64_t i, tl_tensor **out) {
  if (ta->items[i]) {
    *out = tl_tensor_retain(ta->items[i]);
    return TL_OK;
  }
  const tl_meta *e = &ta->element;
  bool known = e->rank >= 0;
  for (int k = 0; known && k < e->rank; k++) known = e->shape[k] >= 0;
  if (!known) {
    char b[120];
    return tl_error(TL_INVALID_ARGUMENT,
                    "TensorArray index %" PRId64 " was never written and the element shape %s is not fully known, so it "
                    "cannot be filled with zeros; write it or give element_shape", i, meta_text(e, b, sizeof b));
  }
  return tl_tensor_zeros(ta->dtype, e->rank, e->shape, out);
}

/* The empty result [0, element...] (from dimension `from` of the element). */
static tl_status empty_result(tl_tensor_array *ta, int from, tl_tensor **out) {
  int64_t shape[TL_MAX_RANK] = {0};
  int r = 1;
  for (int k = from; ta->element.rank >= 0 && k < ta->element.rank; k++)
    shape[r++] = ta->element.shape[k] < 0 ? 0 : ta->element.shape[k];
  return tl_tensor_zeros(ta->dtype, r, shape, out);
}

/* Runs op (stack or concat, axis 0) over the elements at idx (NULL: all);
 * zeros for unwritten ones when zeros_ok. */
static tl_status join(tl_tensor_array *ta, const char *op, const int64_t *idx, int64_t n, bool zeros_ok, tl_tensor **out) {
  tl_status s = TL_OK;
  if (n == 0) return empty_result(ta, strcmp(op, "concat") == 0 ? 1 : 0, out);
  tl_tensor **items = calloc((size_t)n, sizeof *items);
  if (!items) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  int64_t got = 0;
  for (; got < n && !s; got++) {
    int64_t j = idx ? idx[got] : got;
    if (!(s = check_read(ta, j, zeros_ok))) s = element_or_zeros(ta, j, &items[got]);
    if (!s && strcmp(op, "concat") == 0 && items[got]->rank == 0)
      s = tl_error(TL_INVALID_ARGUMENT, "Concat saw a scalar shape at index %" PRId64 " but requires at least vectors", j);
  }
  if (!s) {
    if (n > INT32_MAX) s = tl_error(TL_INVALID_ARGUMENT, "TensorArray: too many elements");
    else s = tl_call(op, (int)n, items, 1, (tl_named_attr[]){TL_A_INT("axis", 0)}, out);
  }
  for (int64_t i = 0; i < n; i++) tl_tensor_release(items[i]);
  free(items);
  return s;
}

tl_status tl_tensor_array_stack(tl_tensor_array *ta, tl_tensor **out) {
  tl_status s = check_eager(ta, "stack");
  return s ? s : join(ta, "stack", NULL, ta->size, true, out);
}

tl_status tl_tensor_array_gather(tl_tensor_array *ta, const int64_t *idx, int64_t n, tl_tensor **out) {
  tl_status s = check_eager(ta, "gather");
  return s ? s : join(ta, "stack", idx, n, false, out);
}

tl_status tl_tensor_array_concat(tl_tensor_array *ta, tl_tensor **out) {
  tl_status s = check_eager(ta, "concat");
  return s ? s : join(ta, "concat", NULL, ta->size, true, out);
}

/* Replaces the contents with the list (taken). */
static tl_status replace(tl_tensor_array *ta, tl_tensor_list *l) {
  tl_status s = TL_OK;
  for (int i = 0; i < l->n && !s; i++) s = tl_tensor_array_check_value(ta, &l->items[i]->meta, i == 0 || !ta->infer_shape);
  if (!s) s = reserve(ta, l->n);
  if (s) {
    tl_list_clear(l);
    return s;
  }
  clear_items(ta);
  for (int i = 0; i < l->n; i++) {
    ta->items[i] = l->items[i];
    ta->state[i] = TL_TA_WRITTEN;
    l->items[i] = NULL;
  }
  ta->size = l->n;
  l->n = 0;
  tl_list_clear(l);
  return TL_OK;
}

tl_status tl_tensor_array_unstack(tl_tensor_array *ta, tl_tensor *value) {
  tl_status s = check_eager(ta, "unstack");
  if (s) return s;
  if (value->dtype != ta->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "TensorArray dtype is %s but Op is trying to write dtype %s",
                    tl_dtypes[ta->dtype].name, tl_dtypes[value->dtype].name);
  if (value->rank < 1) return tl_error(TL_INVALID_ARGUMENT, "TensorArray.unstack: value must have rank >= 1 (it is a scalar)");
  if (value->shape[0] > ta->size && !ta->dynamic_size)
    return tl_error(TL_INVALID_ARGUMENT, "Cannot unstack %" PRId64 " tensors into a TensorArray of static size %" PRId64,
                    value->shape[0], ta->size);
  tl_tensor_list l;
  tl_list_init(&l);
  if (value->shape[0] > 0 && (s = tl_call_list("unstack", 1, &value, 1, (tl_named_attr[]){TL_A_INT("axis", 0)}, &l)))
    return s;
  return replace(ta, &l);
}

tl_status tl_tensor_array_scatter(tl_tensor_array *ta, const int64_t *idx, int64_t n, tl_tensor *value) {
  tl_status s = check_eager(ta, "scatter");
  if (s) return s;
  if (value->dtype != ta->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "TensorArray dtype is %s but Op is trying to write dtype %s",
                    tl_dtypes[ta->dtype].name, tl_dtypes[value->dtype].name);
  if (value->rank < 1 || value->shape[0] != n)
    return tl_error(TL_INVALID_ARGUMENT, "TensorArray.scatter: %" PRId64 " indices but value has %" PRId64 " rows", n,
                    value->rank < 1 ? 0 : value->shape[0]);
  if (n == 0) return TL_OK;
  /* check every index first, so a failing scatter writes nothing */
  for (int64_t i = 0; i < n; i++) {
    int64_t j = idx[i];
    if (j < 0) return tl_error(TL_OUT_OF_RANGE, "Writing to negative indices (index %" PRId64 ") is not allowed", j);
    if (j >= ta->size && !ta->dynamic_size)
      return tl_error(TL_OUT_OF_RANGE, "Tried to write to index %" PRId64 " but array is not resizeable and size is: %" PRId64,
                      j, ta->size);
    bool dup = j < ta->size && ta->state[j] != TL_TA_EMPTY;
    for (int64_t k = 0; k < i && !dup; k++) dup = idx[k] == j;
    if (dup) return tl_error(TL_INVALID_ARGUMENT, "Could not write to TensorArray index %" PRId64 " because it has already been written to", j);
  }
  tl_tensor_list l;
  tl_list_init(&l);
  if ((s = tl_call_list("unstack", 1, &value, 1, (tl_named_attr[]){TL_A_INT("axis", 0)}, &l))) return s;
  for (int64_t i = 0; i < n && !s; i++) s = write_one(ta, idx[i], l.items[i]);
  tl_list_clear(&l);
  return s;
}

tl_status tl_tensor_array_split(tl_tensor_array *ta, tl_tensor *value, const int64_t *lengths, int64_t n) {
  tl_status s = check_eager(ta, "split");
  if (s) return s;
  if (value->dtype != ta->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "TensorArray dtype is %s but Op is trying to write dtype %s",
                    tl_dtypes[ta->dtype].name, tl_dtypes[value->dtype].name);
  if (value->rank < 1)
    return tl_error(TL_INVALID_ARGUMENT, "Expected value to be at least a vector, but received shape: []");
  int64_t sum = 0;
  for (int64_t i = 0; i < n; i++) {
    if (lengths[i] < 0) return tl_error(TL_INVALID_ARGUMENT, "TensorArray.split: lengths must be >= 0 (got %" PRId64 ")", lengths[i]);
    sum += lengths[i];
  }
  if (sum != value->shape[0])
    return tl_error(TL_INVALID_ARGUMENT, "Expected sum of lengths to be equal to values.shape[0], but sum of lengths is %" PRId64
                    " and value's first dimension is %" PRId64, sum, value->shape[0]);
  if (!ta->dynamic_size && n != ta->size)
    return tl_error(TL_INVALID_ARGUMENT, "TensorArray's size is not equal to the size of lengths (%" PRId64 " vs. %" PRId64
                    "), and the TensorArray is not marked as dynamically resizeable", ta->size, n);
  tl_tensor_list l;
  tl_list_init(&l);
  int64_t off = 0;
  for (int64_t i = 0; i < n && !s; i++) {
    tl_tensor *piece;
    int64_t begin[TL_MAX_RANK] = {0}, size[TL_MAX_RANK];
    begin[0] = off;
    size[0] = lengths[i];
    for (int k = 1; k < value->rank; k++) size[k] = -1;
    s = tl_call("slice", 1, &value, 2,
                (tl_named_attr[]){TL_A_INTS("begin", value->rank, begin), TL_A_INTS("size", value->rank, size)}, &piece);
    if (!s && (s = tl_list_push(&l, piece))) tl_tensor_release(piece);
    off += lengths[i];
  }
  if (s) {
    tl_list_clear(&l);
    return s;
  }
  /* pieces may differ in their first dimension: it is checked as unknown,
   * and stays so unless every length is the same */
  bool keep = ta->infer_shape;
  ta->infer_shape = false;
  if (ta->element.rank >= 1) ta->element.shape[0] = -1;
  s = replace(ta, &l);
  ta->infer_shape = keep;
  if (s) return s;
  if (ta->element.rank < 0 && keep) {
    ta->element = value->meta;
    ta->element.shape[0] = -1;
  }
  bool equal = n > 0;
  for (int64_t i = 1; i < n; i++) equal = equal && lengths[i] == lengths[0];
  if (equal && keep && ta->element.rank >= 1) ta->element.shape[0] = lengths[0];
  return s;
}

void tl_tensor_array_close(tl_tensor_array *ta) {
  if (!ta->dense) clear_items(ta);
}

tl_status tl_tensor_array_to_dense(tl_tensor_array *ta, tl_tensor **buffer, tl_tensor **state) {
  *buffer = *state = NULL;
  tl_status s = check_eager(ta, "to_dense");
  if (s) return s;
  int64_t n = ta->size;
  if ((s = tl_tensor_new(TL_INT8, 1, &n, state))) return s;
  int8_t *sv = tl_tensor_data(*state);
  const tl_tensor *first = NULL;
  for (int64_t i = 0; i < n; i++) {
    sv[i] = (int8_t)ta->state[i];
    if (!first && ta->items[i]) first = ta->items[i];
  }
  /* the element shape: the array's, its unknown dimensions from a written
   * element (0 when none was written: the graph's placeholder) */
  tl_meta e = ta->element;
  if (e.rank < 0 && first) e = first->meta;
  if (e.rank < 0) return TL_OK; /* no buffer until the rank is known */
  for (int k = 0; k < e.rank; k++)
    if (e.shape[k] < 0) e.shape[k] = first && first->rank == e.rank ? first->shape[k] : 0;
  int64_t shape[TL_MAX_RANK];
  shape[0] = n;
  memcpy(shape + 1, e.shape, sizeof(int64_t) * (size_t)e.rank);
  if (n == 0) {
    if ((s = tl_tensor_zeros(ta->dtype, e.rank + 1, shape, buffer))) goto fail;
    return TL_OK;
  }
  tl_tensor **items = calloc((size_t)n, sizeof *items);
  if (!items) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    goto fail;
  }
  for (int64_t i = 0; i < n && !s; i++) {
    if (ta->items[i]) {
      if (ta->items[i]->rank != e.rank || memcmp(ta->items[i]->shape, e.shape, sizeof(int64_t) * (size_t)e.rank)) {
        char a[120], b[120];
        s = tl_error(TL_UNIMPLEMENTED, "TensorArray: element %" PRId64 " has shape %s, element 0 %s: in a graph every element "
                     "has one shape", i, meta_text(&ta->items[i]->meta, a, sizeof a), meta_text(&e, b, sizeof b));
      } else {
        items[i] = tl_tensor_retain(ta->items[i]);
      }
    } else {
      s = tl_tensor_zeros(ta->dtype, e.rank, e.shape, &items[i]);
    }
  }
  if (!s) s = tl_call("stack", (int)n, items, 1, (tl_named_attr[]){TL_A_INT("axis", 0)}, buffer);
  for (int64_t i = 0; i < n; i++) tl_tensor_release(items[i]);
  free(items);
  if (!s) return TL_OK;
fail:
  tl_tensor_release(*buffer);
  tl_tensor_release(*state);
  *buffer = *state = NULL;
  return s;
}

tl_status tl_tensor_array_from_dense(tl_tensor_array *ta, tl_tensor *buffer, tl_tensor *state) {
  tl_status s = check_eager(ta, "from_dense");
  if (s) return s;
  tl_tensor *st;
  if ((s = tl_tensor_copy_to(state, TL_CPU, &st))) return s;
  int64_t n = st->shape[0];
  tl_tensor_list l;
  tl_list_init(&l);
  if (buffer && n > 0 && (s = tl_call_list("unstack", 1, &buffer, 1, (tl_named_attr[]){TL_A_INT("axis", 0)}, &l))) goto done;
  if ((s = reserve(ta, n))) goto done;
  clear_items(ta);
  for (int64_t i = 0; i < n; i++) {
    int8_t v = (int8_t)tl_load_i64(st->storage->data, TL_INT8, st->offset + i * st->strides[0]);
    ta->state[i] = (uint8_t)(v == TL_TA_WRITTEN && i < l.n ? TL_TA_WRITTEN : v == TL_TA_CLEARED ? TL_TA_CLEARED : TL_TA_EMPTY);
    ta->items[i] = ta->state[i] == TL_TA_WRITTEN ? tl_tensor_retain(l.items[i]) : NULL;
  }
  ta->size = n;
done:
  tl_list_clear(&l);
  tl_tensor_release(st);
  return s;
}
