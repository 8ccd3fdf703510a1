/* tensor_array.c — the ops of a TensorArray in a graph (docs/tensor_array.md).
 *
 * Inside tf.trace and tf.while_loop a TensorArray is two plain tensors: a
 * dense buffer [size, element...] of its dtype and a state vector int8
 * [size] (0 never written, 1 written, 2 read and cleared: the last comes
 * only from an eager array, whose reads clear). write and read are ops on
 * them that check the state at run time (writing twice, reading an
 * unwritten or cleared element, an index out of range are errors, as in
 * eager mode), so a TensorArray is a loop variable like any other.
 *
 * Invariants: buffer.shape[0] == state.shape[0] == the array's size. An
 * element dimension unknown when the buffer was made is 0 in it (a
 * placeholder) until the first write gives the element shape: a write
 * into an array with nothing written replaces a buffer whose element
 * shape differs. Gradients: read's is put_rows (zeros with the rows
 * added), write's are unwrite (the buffer's gradient with the written rows
 * zeroed, cropped to the old size) and rows; rows, put_rows and unwrite
 * differentiate into each other, so gradients of gradients work.
 *
 * Not here: the eager array (src/core/tensor_array.c, a list of tensors),
 * elements of different shapes (split with unequal lengths needs eager).
 * String rows are copied as their (pointer, length) pairs and the output
 * then owns its bytes (tl_string_adopt).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ops/movement.h"
#include "ops/ops.h"
#include "autodiff/grad_temps.h"

enum { TA_EMPTY = 0, TA_WRITTEN = 1, TA_CLEARED = 2 };

static tl_status check_numeric(tl_dtype dt) {
  if (dt == TL_RESOURCE) return tl_error(TL_INVALID_ARGUMENT, "a TensorArray cannot hold resource handles");
  return TL_OK;
}

/* String rows are copied as (pointer, length) pairs: the output takes its
 * own copy of the bytes before the inputs' temporaries are released. */
static tl_status own(tl_tensor *o) { return o->dtype == TL_STRING ? tl_string_adopt(o) : TL_OK; }

static tl_status check_state_meta(const tl_meta *st) {
  if (st->dtype != TL_INT8 || st->rank != 1)
    return tl_error(TL_INVALID_ARGUMENT, "state must be an int8 vector");
  return TL_OK;
}

static tl_status check_index_meta(const tl_meta *ix) {
  if (!tl_dtype_is_integer(ix->dtype) || ix->rank > 1)
    return tl_error(TL_INVALID_ARGUMENT, "index must be an integer scalar or vector");
  return TL_OK;
}

/* The indices of a scalar or vector integer tensor, in a malloc'd array. */
static tl_status load_indices(const tl_tensor *ix, int64_t **out, int64_t *n) {
  *n = ix->rank == 0 ? 1 : ix->shape[0];
  int64_t *v = malloc(sizeof(int64_t) * (size_t)(*n ? *n : 1));
  if (!v) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int64_t i = 0; i < *n; i++)
    v[i] = tl_load_i64(ix->storage->data, ix->dtype, ix->offset + (ix->rank ? i * ix->strides[0] : 0));
  *out = v;
  return TL_OK;
}

static int64_t row_bytes(const tl_tensor *t) {
  return tl_dims_prod(t->shape, 1, t->rank) * (int64_t)tl_dtypes[t->dtype].size;
}

static bool same_elements(const tl_tensor *a, int a0, const tl_tensor *b, int b0) {
  if (a->rank - a0 != b->rank - b0) return false;
  for (int k = 0; k < a->rank - a0; k++)
    if (a->shape[a0 + k] != b->shape[b0 + k]) return false;
  return true;
}

/* A contiguous version of t (retained or copied). */
static tl_tensor *dense(tl_tensor *t, tl_status *s) {
  tl_tensor *c = NULL;
  *s = tl_tensor_contiguous(t, &c);
  return c;
}

static char *elem_text(const tl_tensor *t, int from, char *buf, size_t n) {
  return tl_shape_format(t->rank - from, t->shape + from, buf, n);
}

/* Kernels that allocate their outputs run their shape rule first: the
 * dispatcher does not for them, and it holds every check that needs no data. */
static tl_status rule(tl_infer_fn infer, const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr) {
  const tl_meta *m[TL_MAX_INPUTS];
  for (int i = 0; i < n_in && i < TL_MAX_INPUTS; i++) m[i] = in[i] ? &in[i]->meta : NULL;
  tl_meta_list out;
  tl_meta_list_init(&out);
  tl_status s = infer(op, m, n_in, attr, &out);
  tl_meta_list_free(&out);
  return s;
}

/* ---- tensor_array_state, tensor_array_buffer: a new array ---------------- */

static tl_status state_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  if (!tl_dtype_is_integer(in[0]->dtype) || in[0]->rank != 0)
    return tl_error(TL_INVALID_ARGUMENT, "size must be an integer scalar");
  int64_t n = attr[0].i < 0 ? -1 : attr[0].i; /* static_size: the size when known while tracing */
  return tl_meta_emit(out, TL_INT8, 1, &n);
}

static tl_status state_kernel(TL_KERNEL_ARGS) {
  tl_status r0 = rule(state_infer, op, in, n_in, attr);
  if (r0) return r0;
  (void)op, (void)n_in;
  (void)attr;
  int64_t n = tl_load_i64(in[0]->storage->data, in[0]->dtype, in[0]->offset);
  if (n < 0) return tl_error(TL_INVALID_ARGUMENT, "TensorArray size must be >= 0 (got %" PRId64 ")", n);
  tl_tensor *t;
  tl_status s = tl_tensor_new(TL_INT8, 1, &n, &t);
  if (s) return s;
  memset(tl_tensor_data(t), 0, (size_t)n);
  return tl_list_push(out, t);
}

/* attrs: dtype, element_shape (-1: unknown, a 0 placeholder in the buffer) */
static tl_status buffer_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  tl_status s = check_state_meta(in[0]);
  if (s || (s = check_numeric(attr[0].dtype))) return s;
  if (attr[1].n + 1 > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "element_shape has too many dimensions");
  int64_t shape[TL_MAX_RANK];
  shape[0] = in[0]->shape[0];
  for (int k = 0; k < attr[1].n; k++) shape[k + 1] = attr[1].ints[k] < 0 ? -1 : attr[1].ints[k];
  return tl_meta_emit(out, attr[0].dtype, attr[1].n + 1, shape);
}

static tl_status buffer_kernel(TL_KERNEL_ARGS) {
  tl_status r0 = rule(buffer_infer, op, in, n_in, attr);
  if (r0) return r0;
  (void)op, (void)n_in;
  int64_t shape[TL_MAX_RANK];
  shape[0] = in[0]->shape[0];
  for (int k = 0; k < attr[1].n; k++) shape[k + 1] = attr[1].ints[k] < 0 ? 0 : attr[1].ints[k];
  tl_tensor *t;
  tl_status s = tl_tensor_zeros(attr[0].dtype, attr[1].n + 1, shape, &t);
  if (s) return s;
  return tl_list_push(out, t);
}

/* ---- tensor_array_write --------------------------------------------------- */

/* in: buffer, state, index, value; attr: dynamic_size */
static tl_status write_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *buf = in[0], *st = in[1], *ix = in[2], *v = in[3];
  tl_status s;
  if ((s = check_state_meta(st)) || (s = check_index_meta(ix)) || (s = check_numeric(buf->dtype))) return s;
  if (v->dtype != buf->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "TensorArray dtype is %s but Op is trying to write dtype %s",
                    tl_dtypes[buf->dtype].name, tl_dtypes[v->dtype].name);
  if (buf->rank >= 1 && buf->shape[0] >= 0 && st->shape[0] >= 0 && buf->shape[0] != st->shape[0])
    return tl_error(TL_INVALID_ARGUMENT, "buffer and state differ in size (%" PRId64 " vs %" PRId64 ")", buf->shape[0],
                    st->shape[0]);
  int er = v->rank - ix->rank;
  if (v->rank < 0 || buf->rank < 0 || er < 0 || buf->rank != er + 1) {
    char a[200], b[200];
    return tl_error(TL_INVALID_ARGUMENT, "value %s does not fit the elements of buffer %s", tl_meta_describe(v, a, sizeof a),
                    tl_meta_describe(buf, b, sizeof b));
  }
  if (ix->rank == 1 && ix->shape[0] >= 0 && v->shape[0] >= 0 && ix->shape[0] != v->shape[0])
    return tl_error(TL_INVALID_ARGUMENT, "%" PRId64 " indices but %" PRId64 " values", ix->shape[0], v->shape[0]);
  int64_t shape[TL_MAX_RANK];
  shape[0] = attr[0].b ? -1 : buf->shape[0];
  for (int k = 0; k < er; k++) {
    int64_t a = buf->shape[k + 1], b = v->shape[ix->rank + k];
    shape[k + 1] = b >= 0 ? b : a;
  }
  if ((s = tl_meta_emit(out, buf->dtype, buf->rank, shape))) return s;
  return tl_meta_emit(out, TL_INT8, 1, shape);
}

static tl_status write_kernel(TL_KERNEL_ARGS) {
  tl_status r0 = rule(write_infer, op, in, n_in, attr);
  if (r0) return r0;
  (void)op, (void)n_in;
  tl_status s = TL_OK;
  tl_tensor *buf = NULL, *st = NULL, *val = NULL, *nb = NULL, *ns = NULL;
  int64_t *idx = NULL, n = 0;
  char a[160], b[160];
  if (!(buf = dense(in[0], &s)) || !(st = dense(in[1], &s)) || !(val = dense(in[3], &s))) goto fail;
  if ((s = load_indices(in[2], &idx, &n))) goto fail;
  int64_t cap = st->shape[0], need = cap;
  if (buf->shape[0] != cap) {
    s = tl_error(TL_INVALID_ARGUMENT, "TensorArray buffer and state differ in size");
    goto fail;
  }
  for (int64_t i = 0; i < n; i++) {
    if (idx[i] < 0) {
      s = tl_error(TL_OUT_OF_RANGE, "Writing to negative indices (index %" PRId64 ") is not allowed", idx[i]);
      goto fail;
    }
    if (idx[i] >= cap && !attr[0].b) {
      s = tl_error(TL_OUT_OF_RANGE,
                   "Tried to write to index %" PRId64 " but array is not resizeable and size is: %" PRId64, idx[i], cap);
      goto fail;
    }
    if (idx[i] + 1 > need) need = idx[i] + 1;
  }
  const int8_t *sv = tl_tensor_data(st);
  bool any = false;
  for (int64_t i = 0; i < cap && !any; i++) any = sv[i] != TA_EMPTY;
  int vr = in[2]->rank; /* value rows start at dim vr */
  bool same = same_elements(buf, 1, val, vr);
  if (!same && any) {
    s = tl_error(TL_INVALID_ARGUMENT, "Incompatible shape for value (%s), expected (%s)", elem_text(val, vr, a, sizeof a),
                 elem_text(buf, 1, b, sizeof b));
    goto fail;
  }
  int64_t shape[TL_MAX_RANK];
  shape[0] = need;
  for (int k = 0; k < val->rank - vr; k++) shape[k + 1] = val->shape[vr + k];
  if ((s = tl_tensor_new(buf->dtype, val->rank - vr + 1, shape, &nb)) || (s = tl_tensor_new(TL_INT8, 1, &need, &ns)))
    goto fail;
  int64_t rb = row_bytes(nb);
  char *nbd = tl_tensor_data(nb);
  int8_t *nsd = tl_tensor_data(ns);
  if (same) memcpy(nbd, tl_tensor_data(buf), (size_t)(rb * cap));
  else memset(nbd, 0, (size_t)(rb * cap));
  memset(nbd + rb * cap, 0, (size_t)(rb * (need - cap)));
  memcpy(nsd, sv, (size_t)cap);
  memset(nsd + cap, 0, (size_t)(need - cap));
  const char *vd = tl_tensor_data(val);
  for (int64_t i = 0; i < n; i++) {
    int64_t j = idx[i];
    if (nsd[j] != TA_EMPTY) {
      s = tl_error(TL_INVALID_ARGUMENT, "Could not write to TensorArray index %" PRId64 " because it has already been %s", j,
                   nsd[j] == TA_WRITTEN ? "written to" : "read");
      goto fail;
    }
    nsd[j] = TA_WRITTEN;
    memcpy(nbd + rb * j, vd + rb * i, (size_t)rb);
  }
  if ((s = own(nb))) goto fail;
  if ((s = tl_list_push(out, nb))) {
    nb = NULL;
    goto fail;
  }
  nb = NULL;
  s = tl_list_push(out, ns);
  ns = NULL;
fail:
  free(idx);
  tl_tensor_release(buf);
  tl_tensor_release(st);
  tl_tensor_release(val);
  tl_tensor_release(nb);
  tl_tensor_release(ns);
  return s;
}

static tl_status write_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_in, (void)attr, (void)out, (void)n_out;
  tl_tensor *g = grad_out[0];
  if (!g) return TL_OK;
  tl_status s = TL_OK;
  if (tl_grad_wants(0)) s = tl_call("tensor_array_unwrite", 3, (tl_tensor *[]){g, in[2], in[0]}, 0, NULL, &grad_in[0]);
  if (!s && tl_grad_wants(3)) s = tl_call("tensor_array_rows", 2, (tl_tensor *[]){g, in[2]}, 0, NULL, &grad_in[3]);
  return s;
}

/* ---- tensor_array_read: rows after the state check -------------------------- */

/* in: buffer, state, index? (absent: every row, stack); attr: unwritten_zeros */
static tl_status read_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s;
  if ((s = check_state_meta(in[1])) || (in[2] && (s = check_index_meta(in[2])))) return s;
  const tl_meta *buf = in[0];
  if (buf->rank < 1) return tl_error(TL_INVALID_ARGUMENT, "buffer must have rank >= 1");
  int64_t shape[TL_MAX_RANK];
  int r = 0;
  if (!in[2]) shape[r++] = buf->shape[0];
  else if (in[2]->rank == 1) shape[r++] = in[2]->shape[0];
  for (int k = 1; k < buf->rank; k++) shape[r++] = buf->shape[k];
  return tl_meta_emit(out, buf->dtype, r, shape);
}

/* Copies rows idx (all when idx is NULL) of x into a new tensor of rank
 * out_rank; checks the state (NULL: none) unless a row is allowed unwritten. */
static tl_status gather_rows(tl_tensor *x0, const int8_t *sv, const int64_t *idx, int64_t n, int out_rank, bool zeros_ok,
                             tl_tensor_list *out) {
  tl_status s;
  tl_tensor *x = dense(x0, &s), *o = NULL;
  if (!x) return s;
  int64_t cap = x->shape[0];
  int64_t shape[TL_MAX_RANK];
  int r = 0;
  if (out_rank == x->rank) shape[r++] = n;
  for (int k = 1; k < x->rank; k++) shape[r++] = x->shape[k];
  if ((s = tl_tensor_new(x->dtype, r, shape, &o))) goto fail;
  int64_t rb = row_bytes(x);
  for (int64_t i = 0; i < n; i++) {
    int64_t j = idx ? idx[i] : i;
    if (j < 0) {
      s = tl_error(TL_OUT_OF_RANGE, "Reading from negative indices (index %" PRId64 ") is not allowed", j);
      goto fail;
    }
    if (j >= cap) {
      s = tl_error(TL_OUT_OF_RANGE, "Tried to read from index %" PRId64 " but array size is: %" PRId64, j, cap);
      goto fail;
    }
    if (sv && sv[j] == TA_CLEARED) {
      s = tl_error(TL_INVALID_ARGUMENT,
                   "Could not read index %" PRId64 " twice because it was cleared after a previous read (perhaps try setting "
                   "clear_after_read = false?)", j);
      goto fail;
    }
    if (sv && sv[j] == TA_EMPTY && !zeros_ok) {
      s = tl_error(TL_INVALID_ARGUMENT, "Could not read from TensorArray index %" PRId64 " because it has not yet been written to", j);
      goto fail;
    }
    memcpy((char *)tl_tensor_data(o) + rb * i, (char *)tl_tensor_data(x) + rb * j, (size_t)rb);
  }
  if ((s = own(o))) goto fail;
  s = tl_list_push(out, o);
  o = NULL;
fail:
  tl_tensor_release(x);
  tl_tensor_release(o);
  return s;
}

static tl_status read_kernel(TL_KERNEL_ARGS) {
  tl_status r0 = rule(read_infer, op, in, n_in, attr);
  if (r0) return r0;
  (void)op, (void)n_in;
  tl_status s;
  tl_tensor *st = dense(in[1], &s);
  if (!st) return s;
  int64_t *idx = NULL, n = in[0]->shape[0];
  if (st->shape[0] != in[0]->shape[0]) s = tl_error(TL_INVALID_ARGUMENT, "TensorArray buffer and state differ in size");
  if (!s && in[2]) s = load_indices(in[2], &idx, &n);
  if (!s)
    s = gather_rows(in[0], tl_tensor_data(st), idx, n, in[2] && in[2]->rank == 0 ? in[0]->rank - 1 : in[0]->rank,
                    attr[0].b, out);
  free(idx);
  tl_tensor_release(st);
  return s;
}

static tl_status read_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_in, (void)attr, (void)out, (void)n_out;
  if (!grad_out[0] || !tl_grad_wants(0)) return TL_OK;
  return tl_call("tensor_array_put_rows", 3, (tl_tensor *[]){grad_out[0], in[2], in[0]}, 0, NULL, &grad_in[0]);
}

/* ---- rows, put_rows, unwrite: the gradients ------------------------------------ */

static tl_status rows_infer(TL_INFER_ARGS) {
  const tl_meta *m3[3] = {in[0], &(tl_meta){.dtype = TL_INT8, .rank = 1, .shape = {in[0]->shape[0]}}, in[1]};
  (void)n_in;
  return read_infer(op, m3, 3, attr, out);
}

static tl_status rows_kernel(TL_KERNEL_ARGS) {
  tl_status r0 = rule(rows_infer, op, in, n_in, attr);
  if (r0) return r0;
  (void)op, (void)n_in, (void)attr;
  int64_t *idx = NULL, n = in[0]->shape[0];
  tl_status s = in[1] ? load_indices(in[1], &idx, &n) : TL_OK;
  if (!s) s = gather_rows(in[0], NULL, idx, n, in[1] && in[1]->rank == 0 ? in[0]->rank - 1 : in[0]->rank, true, out);
  free(idx);
  return s;
}

static tl_status rows_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_in, (void)attr, (void)out, (void)n_out;
  if (!grad_out[0] || !tl_grad_wants(0)) return TL_OK;
  return tl_call("tensor_array_put_rows", 3, (tl_tensor *[]){grad_out[0], in[1], in[0]}, 0, NULL, &grad_in[0]);
}

/* The gradient ops take buffers: rank >= 1, float32 or float64. */
static tl_status check_grad_buffers(const tl_meta *v, const tl_meta *like) {
  if (v->dtype != like->dtype) return tl_error(TL_INVALID_ARGUMENT, "the gradient and like differ in dtype");
  if (v->dtype != TL_FLOAT32 && v->dtype != TL_FLOAT64)
    return tl_error(TL_UNIMPLEMENTED, "TensorArray gradients of %s (float32 and float64 only)", tl_dtypes[v->dtype].name);
  if (v->rank == 0 || like->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "TensorArray gradient buffers must have rank >= 1");
  return TL_OK;
}

/* in: v, index?, like: zeros shaped like `like`, with the rows of v added at index */
static tl_status put_rows_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = check_grad_buffers(in[0], in[2]);
  if (s) return s;
  if (in[1]) {
    s = check_index_meta(in[1]);
    if (s) return s;
  }
  return tl_meta_push_like(out, in[2], TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* Adds the n rows of v (row bytes rb) into o at idx (all rows when NULL). */
#define ADD_ROWS(T)                                                                    \
  static void add_rows_##T(char *o, const char *v, const int64_t *idx, int64_t n, int64_t per) { \
    for (int64_t i = 0; i < n; i++) {                                                  \
      T *dst = (T *)o + (idx ? idx[i] : i) * per;                                      \
      const T *src = (const T *)v + i * per;                                           \
      for (int64_t k = 0; k < per; k++) dst[k] += src[k];                              \
    }                                                                                  \
  }
ADD_ROWS(float)
ADD_ROWS(double)

static tl_status put_rows_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *o = tl_out(out, 0);
  tl_status s;
  tl_tensor *v = dense(in[0], &s);
  if (!v) return s;
  int64_t *idx = NULL, n = o->shape[0];
  memset(tl_tensor_data(o), 0, (size_t)(o->size * (int64_t)tl_dtypes[o->dtype].size));
  if (in[1]) s = load_indices(in[1], &idx, &n);
  int64_t per = o->rank ? tl_dims_prod(o->shape, 1, o->rank) : 1;
  for (int64_t i = 0; !s && idx && i < n; i++)
    if (idx[i] < 0 || idx[i] >= o->shape[0])
      s = tl_error(TL_OUT_OF_RANGE, "index %" PRId64 " is out of range for %" PRId64 " rows", idx[i], o->shape[0]);
  if (!s && v->size != n * per) s = tl_error(TL_INVALID_ARGUMENT, "v does not hold %" PRId64 " rows of like", n);
  if (!s) {
    if (o->dtype == TL_FLOAT32) add_rows_float(tl_tensor_data(o), tl_tensor_data(v), idx, n, per);
    else if (o->dtype == TL_FLOAT64) add_rows_double(tl_tensor_data(o), tl_tensor_data(v), idx, n, per);
    else s = tl_error(TL_UNIMPLEMENTED, "TensorArray gradients of %s (float32 and float64 only)", tl_dtypes[o->dtype].name);
  }
  free(idx);
  tl_tensor_release(v);
  return s;
}

static tl_status put_rows_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_in, (void)attr, (void)out, (void)n_out;
  if (!grad_out[0] || !tl_grad_wants(0)) return TL_OK;
  if (!in[1]) {
    grad_in[0] = tl_tensor_retain(grad_out[0]);
    return TL_OK;
  }
  return tl_call("tensor_array_rows", 2, (tl_tensor *[]){grad_out[0], in[1]}, 0, NULL, &grad_in[0]);
}

/* in: g, index, like: g cropped or zero-padded to like's rows, the rows at
 * index zeroed; zeros when the element shapes differ (like was a
 * placeholder buffer). */
static tl_status unwrite_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = check_index_meta(in[1]);
  if (!s) s = check_grad_buffers(in[0], in[2]);
  if (s) return s;
  return tl_meta_push_like(out, in[2], TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status unwrite_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *o = tl_out(out, 0);
  tl_status s;
  tl_tensor *g = dense(in[0], &s);
  if (!g) return s;
  int64_t rb = row_bytes(o), rows = o->shape[0];
  char *od = tl_tensor_data(o);
  if (!same_elements(g, 1, o, 1)) {
    memset(od, 0, (size_t)(rb * rows));
  } else {
    int64_t keep = g->shape[0] < rows ? g->shape[0] : rows;
    memcpy(od, tl_tensor_data(g), (size_t)(rb * keep));
    memset(od + rb * keep, 0, (size_t)(rb * (rows - keep)));
    int64_t *idx = NULL, n = 0;
    if (!(s = load_indices(in[1], &idx, &n)))
      for (int64_t i = 0; i < n; i++)
        if (idx[i] >= 0 && idx[i] < rows) memset(od + rb * idx[i], 0, (size_t)rb);
    free(idx);
  }
  tl_tensor_release(g);
  return s;
}

static tl_status unwrite_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_in, (void)attr, (void)out, (void)n_out;
  if (!grad_out[0] || !tl_grad_wants(0)) return TL_OK;
  return tl_call("tensor_array_unwrite", 3, (tl_tensor *[]){grad_out[0], in[1], in[0]}, 0, NULL, &grad_in[0]);
}

/* ---- tensor_array_unstack: an array holding the rows of value ------------------- */

static tl_status unstack_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = check_numeric(in[0]->dtype);
  if (s) return s;
  if (in[0]->rank < 1) return tl_error(TL_INVALID_ARGUMENT, "value must have rank >= 1 to unstack");
  if ((s = tl_meta_emit(out, in[0]->dtype, in[0]->rank, in[0]->shape))) return s;
  return tl_meta_emit(out, TL_INT8, 1, in[0]->shape);
}

static tl_status unstack_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = tl_tensor_copy_into(tl_out(out, 0), in[0]);
  if (!s) memset(tl_tensor_data(tl_out(out, 1)), TA_WRITTEN, (size_t)in[0]->shape[0]);
  return s;
}

static tl_status unstack_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_in, (void)attr, (void)out, (void)n_out, (void)in;
  if (grad_out[0]) grad_in[0] = tl_tensor_retain(grad_out[0]);
  return TL_OK;
}

#define NOGRAD TL_OP_NO_GRADIENT
tl_op_def tl_ops_tensor_array[] = {
    {.name = "tensor_array_state", .inputs = "size", .attrs = "static_size:int=-1", .infer = state_infer,
     .kernel[TL_CPU] = state_kernel, .flags = NOGRAD | TL_OP_VALUE_SHAPE, .api = "-",
     .doc = "A TensorArray's state vector (int8 zeros: nothing written) of the given size."},
    {.name = "tensor_array_buffer", .inputs = "state", .attrs = "dtype:dtype, element_shape:ints", .infer = buffer_infer,
     .kernel[TL_CPU] = buffer_kernel, .flags = NOGRAD | TL_OP_VALUE_SHAPE, .api = "-",
     .doc = "A TensorArray's zero buffer [size, element_shape...]; unknown (-1) dimensions are 0 until the first write."},
    {.name = "tensor_array_write", .inputs = "buffer, state, index, value", .attrs = "dynamic_size:bool=false",
     .infer = write_infer, .kernel[TL_CPU] = write_kernel, .grad = write_grad, .flags = TL_OP_VALUE_SHAPE, .api = "-",
     .doc = "TensorArray write/scatter in a graph: (buffer, state) with value at index (a scalar or a vector)."},
    {.name = "tensor_array_read", .inputs = "buffer, state, index?", .attrs = "unwritten_zeros:bool=false",
     .infer = read_infer, .kernel[TL_CPU] = read_kernel, .grad = read_grad, .flags = TL_OP_KERNEL_ALLOCATES, .api = "-",
     .doc = "TensorArray read/gather/stack in a graph: the rows at index (every row when absent), state-checked."},
    {.name = "tensor_array_rows", .inputs = "x, index?", .infer = rows_infer, .kernel[TL_CPU] = rows_kernel,
     .grad = rows_grad, .flags = TL_OP_KERNEL_ALLOCATES, .api = "-",
     .doc = "The rows of x at index (a scalar or vector): a TensorArray gradient."},
    {.name = "tensor_array_put_rows", .inputs = "v, index?, like", .infer = put_rows_infer, .kernel[TL_CPU] = put_rows_kernel,
     .grad = put_rows_grad, .api = "-", .doc = "Zeros shaped like `like` with the rows of v added at index: read's gradient."},
    {.name = "tensor_array_unwrite", .inputs = "g, index, like", .infer = unwrite_infer, .kernel[TL_CPU] = unwrite_kernel,
     .grad = unwrite_grad, .api = "-",
     .doc = "g fitted to like's rows with the rows at index zeroed: write's gradient for the buffer."},
    {.name = "tensor_array_unstack", .inputs = "value", .infer = unstack_infer, .kernel[TL_CPU] = unstack_kernel,
     .grad = unstack_grad, .api = "-", .doc = "(buffer, state) of a TensorArray holding the rows of value."},
    {0},
};
