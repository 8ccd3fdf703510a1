/* tl_tensor_array.h — tf.TensorArray in the C core (docs/tensor_array.md).
 *
 * An eager TensorArray is a list of element tensors with one dtype and an
 * element shape (known, partly known or unknown), each element never
 * written, written, or read and cleared (clear_after_read). Writes and
 * reads check everything TensorFlow checks and what it lets pass: writing
 * an element twice, reading one that was never written or already
 * cleared, an index out of range, a wrong dtype or element shape. Reads
 * return the stored tensor itself, so a gradient tape follows an element
 * from write to read; stack, gather, concat, unstack, scatter and split run
 * the registry's ops (stack, concat, unstack, split), which the tape
 * records.
 *
 * In a graph (tf.trace, tf.while_loop) an array is two tensors, a buffer
 * and a state vector, kept here as the "dense" form (ops in
 * src/ops/tensor_array.c); the core only stores them for the binding.
 */
#ifndef TL_TENSOR_ARRAY_H
#define TL_TENSOR_ARRAY_H
#include "tl.h"

enum { TL_TA_EMPTY = 0, TL_TA_WRITTEN = 1, TL_TA_CLEARED = 2 };

typedef struct tl_tensor_array {
  int refcount;
  tl_dtype dtype;
  tl_meta element;        /* rank -1: unknown; dims -1: unknown */
  bool dynamic_size, clear_after_read, infer_shape;
  bool dense;             /* graph form: buffer and state below, no items */
  int64_t size, cap;
  tl_tensor **items;      /* eager: size entries, NULL where not held */
  uint8_t *state;         /* eager: TL_TA_* per element */
  tl_tensor *buffer;      /* dense: [size, element...] or NULL before the rank is known */
  tl_tensor *dstate;      /* dense: int8 [size] */
} tl_tensor_array;

/* A new eager array of size elements, all unwritten. element may be NULL
 * (unknown shape). */
tl_status tl_tensor_array_new(tl_dtype dt, int64_t size, bool dynamic_size, bool clear_after_read, bool infer_shape,
                              const tl_meta *element, tl_tensor_array **out);
/* A dense array over buffer (may be NULL) and state (retained). */
tl_status tl_tensor_array_new_dense(tl_dtype dt, bool dynamic_size, bool clear_after_read, bool infer_shape,
                                    const tl_meta *element, tl_tensor *buffer, tl_tensor *state, tl_tensor_array **out);
tl_tensor_array *tl_tensor_array_retain(tl_tensor_array *ta);
void tl_tensor_array_release(tl_tensor_array *ta);

/* Eager operations. Indices are 0-based. */
tl_status tl_tensor_array_write(tl_tensor_array *ta, int64_t index, tl_tensor *value);
/* *out: the element (a new reference); cleared when clear_after_read. */
tl_status tl_tensor_array_read(tl_tensor_array *ta, int64_t index, tl_tensor **out);
/* The elements stacked [size, element...]; never-written elements are
 * zeros (TensorFlow's rule; their shape must be known). */
tl_status tl_tensor_array_stack(tl_tensor_array *ta, tl_tensor **out);
/* The elements at idx stacked (each must have been written). */
tl_status tl_tensor_array_gather(tl_tensor_array *ta, const int64_t *idx, int64_t n, tl_tensor **out);
/* The elements joined along their first dimension. */
tl_status tl_tensor_array_concat(tl_tensor_array *ta, tl_tensor **out);
/* Replaces the contents with the rows of value (size becomes value's first
 * dimension; more than size needs dynamic_size). */
tl_status tl_tensor_array_unstack(tl_tensor_array *ta, tl_tensor *value);
/* Writes row i of value to idx[i]. */
tl_status tl_tensor_array_scatter(tl_tensor_array *ta, const int64_t *idx, int64_t n, tl_tensor *value);
/* Replaces the contents with pieces of value along dimension 0. */
tl_status tl_tensor_array_split(tl_tensor_array *ta, tl_tensor *value, const int64_t *lengths, int64_t n);
/* Drops every element (size 0), as TensorFlow's eager close. */
void tl_tensor_array_close(tl_tensor_array *ta);
/* Checks value against the array's dtype and element shape (merging the
 * shape when infer_shape): the shared rule of eager and dense writes. */
tl_status tl_tensor_array_check_value(tl_tensor_array *ta, const tl_meta *value, bool merge);
/* The graph form of an eager array: buffer [size, element...] (NULL while
 * the element rank is unknown; zeros where unwritten) and state int8. */
tl_status tl_tensor_array_to_dense(tl_tensor_array *ta, tl_tensor **buffer, tl_tensor **state);
/* Fills an eager array (its contents replaced) from a graph form's
 * concrete buffer (may be NULL) and state. */
tl_status tl_tensor_array_from_dense(tl_tensor_array *ta, tl_tensor *buffer, tl_tensor *state);
#endif
