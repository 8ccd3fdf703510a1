/* ops/create.c — creation ops: zeros, ones, fill, *_like, eye, range,
 * linspace, one_hot.
 *
 * Shapes arrive as an `ints` attribute (a Lua list, a TensorShape or an int
 * vector; the binding reads all three), except fill's `dims`, which is an
 * input as in TensorFlow's raw op: fill and range are the two ops here
 * whose output shape depends on input values (TL_OP_VALUE_SHAPE), so their
 * kernels allocate and run their shape rule first for its checks. Every
 * other kernel fills the output the dispatcher allocated from the shape
 * rule, on tl_default_device() for the ops without inputs. Negative dims are
 * InvalidArgument, byte sizes that overflow are ResourceExhausted (the
 * allocator's check). Constant fills replicate one element's bytes by
 * doubling memcpy, so one code path serves every dtype. String tensors only
 * get empty strings (zeros); filling strings waits for the string issue,
 * whose storage owns the bytes.
 */
#include "ops/ops.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------- */

/* Writes n copies of the esize-byte element at elem into dst. */
static void fill_pattern(void *dst, const void *elem, size_t esize, int64_t n) {
  if (n <= 0) return;
  char *d = dst;
  memcpy(d, elem, esize);
  size_t done = esize, total = (size_t)n * esize;
  while (done < total) {
    size_t k = done < total - done ? done : total - done;
    memcpy(d + done, d, k);
    done += k;
  }
}

static tl_status check_fillable(tl_dtype dt) {
  if (dt == TL_STRING)
    return tl_error(TL_UNIMPLEMENTED, "string tensors can only be created empty (zeros) for now");
  return TL_OK;
}

/* Sets every element of the contiguous t to v. */
static void fill_constant(tl_tensor *t, double v) {
  size_t es = tl_dtypes[t->dtype].size;
  if (v == 0) {
    memset(tl_tensor_data(t), 0, (size_t)t->size * es);
    return;
  }
  unsigned char elem[16] = {0};
  tl_store_f64(elem, t->dtype, 0, v);
  fill_pattern(tl_tensor_data(t), elem, es, t->size);
}

/* The value a constant op writes: its record's .impl (1 for ones), else 0. */
static double op_value(const tl_op_def *op) { return op->impl ? *(const double *)op->impl : 0; }

static tl_status check_constant(tl_dtype dt, double v) {
  if (v != 0 && dt == TL_STRING) return tl_error(TL_INVALID_ARGUMENT, "a string tensor has no 'one'");
  return v != 0 ? check_fillable(dt) : TL_OK;
}

/* ---- zeros / ones / *_like --------------------------------------------- */

static tl_status zeros_infer(TL_INFER_ARGS) {
  (void)in, (void)n_in;
  tl_status s = check_constant(attr[1].dtype, op_value(op));
  return s ? s : tl_meta_push_shape_attr(out, &attr[0], attr[1].dtype);
}

static tl_status like_infer(TL_INFER_ARGS) {
  (void)n_in;
  tl_dtype dt = attr[0].present ? attr[0].dtype : in[0]->dtype;
  tl_status s = check_constant(dt, op_value(op));
  if (s) return s;
  return tl_meta_push_like(out, in[0], dt) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* zeros, ones, zeros_like, ones_like: the value comes from the record. */
static tl_status constant_kernel(TL_KERNEL_ARGS) {
  (void)in, (void)n_in, (void)attr;
  fill_constant(out->items[0], op_value(op));
  return TL_OK;
}

/* ---- fill --------------------------------------------------------------- */

/* The rank is known from dims' shape; the sizes only from its values. */
static tl_status fill_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  const tl_meta *dims = in[0], *value = in[1];
  if (dims->rank > 1)
    return tl_error(TL_INVALID_ARGUMENT, "dims must be a vector of dimension sizes (it has rank %d)",
                    dims->rank);
  int64_t n = tl_meta_numel(dims);
  if (n != 0 && !tl_dtype_is_integer(dims->dtype))
    return tl_error(TL_INVALID_ARGUMENT, "dims must hold integers, not %s", tl_dtypes[dims->dtype].name);
  if (n > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "dims has %" PRId64 " entries; at most %d dimensions are supported",
                    n, TL_MAX_RANK);
  if (value->rank > 0) {
    char d[200];
    return tl_error(TL_INVALID_ARGUMENT, "value must be a scalar (got %s)", tl_meta_describe(value, d, sizeof d));
  }
  /* A string value is copied as its element; the dispatcher gives the
     output its own bytes (core/strings.c). */
  int64_t unknown[TL_MAX_RANK] = {-1, -1, -1, -1, -1, -1, -1, -1};
  _Static_assert(TL_MAX_RANK == 8, "unknown[] covers every dimension");
  return tl_meta_push(out, value->dtype, n < 0 ? -1 : (int)n, unknown) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status fill_kernel(TL_KERNEL_ARGS) {
  const tl_tensor *dims = in[0], *value = in[1];
  tl_meta_list m;
  tl_meta_list_init(&m);
  tl_status s = fill_infer(op, (const tl_meta *[]){&dims->meta, &value->meta}, n_in, attr, &m);
  tl_meta_list_free(&m);
  if (s) return s;
  int64_t shape[TL_MAX_RANK];
  int rank = (int)dims->size;
  for (int i = 0; i < rank; i++)
    shape[i] = tl_load_i64(dims->storage->data, dims->dtype,
                           dims->offset + (int64_t)i * (dims->rank ? dims->strides[0] : 0));
  tl_tensor *t;
  if ((s = tl_tensor_new(value->dtype, rank, shape, &t))) return s;
  fill_pattern(tl_tensor_data(t), tl_tensor_data(value), tl_dtypes[value->dtype].size, t->size);
  return tl_list_push(out, t);
}

/* ---- eye --------------------------------------------------------------- */

/* attrs: num_rows, num_columns?, batch_shape?, dtype */
static tl_status eye_infer(TL_INFER_ARGS) {
  (void)op, (void)in, (void)n_in;
  int64_t rows = attr[0].i, cols = attr[1].present ? attr[1].i : rows;
  tl_dtype dt = attr[3].dtype;
  if (rows < 0 || cols < 0)
    return tl_error(TL_INVALID_ARGUMENT, "num_rows and num_columns must be non-negative (got %" PRId64
                    " and %" PRId64 ")", rows, cols);
  int nb = attr[2].present ? attr[2].n : 0;
  if (nb + 2 > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "batch_shape has %d dimensions; at most %d are supported", nb,
                    TL_MAX_RANK - 2);
  int64_t shape[TL_MAX_RANK];
  for (int i = 0; i < nb; i++)
    if ((shape[i] = attr[2].ints[i]) < 0)
      return tl_error(TL_INVALID_ARGUMENT, "dimension %d of the shape is negative (%" PRId64 ")", i, shape[i]);
  shape[nb] = rows;
  shape[nb + 1] = cols;
  if (dt == TL_STRING) return tl_error(TL_INVALID_ARGUMENT, "eye cannot make a string tensor");
  return tl_meta_push(out, dt, nb + 2, shape) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status eye_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)in, (void)n_in, (void)attr;
  tl_tensor *t = out->items[0];
  fill_constant(t, 0);
  int64_t rows = t->shape[t->rank - 2], cols = t->shape[t->rank - 1];
  int64_t mat = rows * cols, batch = mat != 0 ? t->size / mat : 0, d = rows < cols ? rows : cols;
  void *data = tl_tensor_data(t);
  for (int64_t b = 0; b < batch; b++)
    for (int64_t i = 0; i < d; i++) tl_store_f64(data, t->dtype, b * mat + i * cols + i, 1.0);
  return TL_OK;
}

/* ---- range ------------------------------------------------------------- */

static const char *const range_names[3] = {"start", "limit", "delta"};

/* The three arguments in TensorFlow's order: range(limit) has its one
 * argument in the first slot. */
static void range_args(const void *const *in, const void **args) {
  args[0] = in[0], args[1] = in[1], args[2] = in[2];
  if (!args[1]) {
    args[1] = args[0];
    args[0] = NULL;
  }
}

/* TensorFlow's inference: int32 < int64 < float32 < float64 over the given
 * arguments. */
static tl_dtype range_dtype(const tl_meta *const *args) {
  int rank = 0; /* 0 int32, 1 int64, 2 float32, 3 float64 */
  for (int i = 0; i < 3; i++) {
    if (!args[i]) continue;
    tl_dtype d = args[i]->dtype;
    int r = d == TL_FLOAT64 ? 3 : tl_dtype_is_float(d) ? 2 : d == TL_INT64 ? 1 : 0;
    if (r > rank) rank = r;
  }
  static const tl_dtype by_rank[4] = {TL_INT32, TL_INT64, TL_FLOAT32, TL_FLOAT64};
  return by_rank[rank];
}

static bool is_number(tl_dtype d) {
  tl_dtype_kind k = tl_dtypes[d].kind;
  return k == TL_KIND_FLOAT || k == TL_KIND_INT || k == TL_KIND_UINT;
}

/* A vector of unknown length (the count needs the values). */
static tl_status range_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *args[3];
  range_args((const void *const *)in, (const void **)args);
  if (!args[0] && !args[1]) return tl_error(TL_INVALID_ARGUMENT, "range: limit is required");
  for (int i = 0; i < 3; i++) {
    if (!args[i]) continue;
    int64_t n = tl_meta_numel(args[i]);
    if (n >= 0 && n != 1) {
      char d[200];
      return tl_error(TL_INVALID_ARGUMENT, "range: %s must be a scalar (got %s)", range_names[i],
                      tl_meta_describe(args[i], d, sizeof d));
    }
    if (!is_number(args[i]->dtype))
      return tl_error(TL_INVALID_ARGUMENT, "range: %s must be a number (got %s)", range_names[i],
                      tl_dtypes[args[i]->dtype].name);
  }
  tl_dtype dt = attr[0].present ? attr[0].dtype : range_dtype(args);
  if (!is_number(dt))
    return tl_error(TL_INVALID_ARGUMENT, "range: dtype %s is not supported (use a number type)",
                    tl_dtypes[dt].name);
  return tl_meta_push(out, dt, 1, (int64_t[]){-1}) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* The values an integer dtype holds. */
static void int_limits(tl_dtype dt, int64_t *lo, int64_t *hi) {
  switch (dt) {
  case TL_INT8: *lo = INT8_MIN, *hi = INT8_MAX; break;
  case TL_UINT8: *lo = 0, *hi = UINT8_MAX; break;
  case TL_INT16: *lo = INT16_MIN, *hi = INT16_MAX; break;
  case TL_INT32: *lo = INT32_MIN, *hi = INT32_MAX; break;
  default: *lo = INT64_MIN, *hi = INT64_MAX; break;
  }
}

/* Argument i of an integer range as a value of dtype dt. As TensorFlow
 * converts the arguments to the output dtype first and refuses a value
 * that does not fit (tf.range(300, dtype=tf.uint8) raises), an argument
 * outside dt or with a fraction is an error, never a wrapped sequence.
 * Every element lies between start and limit, so none can overflow then. */
static tl_status range_int_arg(const tl_tensor *t, int i, tl_dtype dt, int64_t *v) {
  int64_t lo, hi;
  int_limits(dt, &lo, &hi);
  const void *base = t->storage->data;
  if (tl_dtype_is_float(t->dtype)) {
    double f = tl_load_f64(base, t->dtype, t->offset);
    /* (double)hi + 1 is exact for every dtype but int64, where it rounds to 2^63 */
    if (f != floor(f) || !(f >= (double)lo && f < (double)hi + 1))
      return tl_error(TL_INVALID_ARGUMENT, "range: %s %.17g does not fit in %s", range_names[i], f,
                      tl_dtypes[dt].name);
    *v = (int64_t)f;
  } else {
    *v = tl_load_i64(base, t->dtype, t->offset);
  }
  if (*v < lo || *v > hi)
    return tl_error(TL_INVALID_ARGUMENT, "range: %s %" PRId64 " does not fit in %s", range_names[i], *v,
                    tl_dtypes[dt].name);
  return TL_OK;
}

static tl_status range_float(tl_tensor *const *args, tl_dtype dt, tl_tensor_list *out) {
  double v[3] = {0, 0, 1};
  for (int i = 0; i < 3; i++)
    if (args[i]) v[i] = tl_load_f64(args[i]->storage->data, args[i]->dtype, args[i]->offset);
  double start = v[0], limit = v[1], delta = v[2];
  if (!isfinite(start) || !isfinite(limit) || !isfinite(delta))
    return tl_error(TL_INVALID_ARGUMENT, "range: start %g, limit %g, delta %g: arguments must be finite",
                    start, limit, delta);
  if (delta == 0) return tl_error(TL_INVALID_ARGUMENT, "range: delta must not be zero");
  if (delta > 0 && start > limit)
    return tl_error(TL_INVALID_ARGUMENT, "range: requires start <= limit when delta > 0 (start %g, limit %g)",
                    start, limit);
  if (delta < 0 && start < limit)
    return tl_error(TL_INVALID_ARGUMENT, "range: requires start >= limit when delta < 0 (start %g, limit %g)",
                    start, limit);
  double n = ceil(fabs((limit - start) / delta));
  if (!(n < 9.0e15)) return tl_error(TL_RESOURCE_EXHAUSTED, "range: %g elements are too many to allocate", n);
  int64_t size = (int64_t)n;
  tl_tensor *t;
  tl_status s = tl_tensor_new(dt, 1, &size, &t);
  if (s) return s;
  void *data = tl_tensor_data(t);
  if (dt == TL_FLOAT32) {
    float *o = data;
    for (int64_t i = 0; i < size; i++) o[i] = (float)(start + (double)i * delta);
  } else if (dt == TL_FLOAT64) {
    double *o = data;
    for (int64_t i = 0; i < size; i++) o[i] = start + (double)i * delta;
  } else {
    for (int64_t i = 0; i < size; i++) tl_store_f64(data, dt, i, start + (double)i * delta);
  }
  return tl_list_push(out, t);
}

static tl_status range_int(tl_tensor *const *args, tl_dtype dt, tl_tensor_list *out) {
  int64_t v[3] = {0, 0, 1};
  tl_status s;
  for (int i = 0; i < 3; i++)
    if (args[i] && (s = range_int_arg(args[i], i, dt, &v[i]))) return s;
  int64_t start = v[0], limit = v[1], delta = v[2];
  if (delta == 0) return tl_error(TL_INVALID_ARGUMENT, "range: delta must not be zero");
  if (delta > 0 && start > limit)
    return tl_error(TL_INVALID_ARGUMENT, "range: requires start <= limit when delta > 0 (start %" PRId64
                    ", limit %" PRId64 ")", start, limit);
  if (delta < 0 && start < limit)
    return tl_error(TL_INVALID_ARGUMENT, "range: requires start >= limit when delta < 0 (start %" PRId64
                    ", limit %" PRId64 ")", start, limit);
  __int128 span = (__int128)limit - start;
  if (span < 0) span = -span;
  __int128 ad = delta < 0 ? -(__int128)delta : delta;
  __int128 n = (span + ad - 1) / ad;
  if (n > INT64_MAX)
    return tl_error(TL_RESOURCE_EXHAUSTED, "range: %.0f elements are too many to allocate", (double)n);
  int64_t size = (int64_t)n;
  tl_tensor *t;
  if ((s = tl_tensor_new(dt, 1, &size, &t))) return s;
  /* start + i*delta lies between start and limit, but i*delta alone may
   * not fit (range(-2^63, 2^63-1, 2^63-1)): unsigned arithmetic wraps
   * where signed overflow would be undefined, and the sum is exact. */
  uint64_t u0 = (uint64_t)start, ud = (uint64_t)delta;
  void *data = tl_tensor_data(t);
  if (dt == TL_INT32) {
    int32_t *o = data;
    for (int64_t i = 0; i < size; i++) o[i] = (int32_t)(start + i * delta);
  } else if (dt == TL_INT64) {
    int64_t *o = data;
    for (int64_t i = 0; i < size; i++) o[i] = (int64_t)(u0 + (uint64_t)i * ud);
  } else {
    for (int64_t i = 0; i < size; i++) tl_store_i64(data, dt, i, start + i * delta);
  }
  return tl_list_push(out, t);
}

static tl_status range_kernel(TL_KERNEL_ARGS) {
  tl_meta_list m;
  tl_meta_list_init(&m);
  tl_status s = range_infer(op, (const tl_meta *[]){in[0] ? &in[0]->meta : NULL, in[1] ? &in[1]->meta : NULL,
                                                    in[2] ? &in[2]->meta : NULL},
                            n_in, attr, &m);
  tl_dtype dt = m.n ? m.items[0].dtype : TL_FLOAT32;
  tl_meta_list_free(&m);
  if (s) return s;
  tl_tensor *args[3];
  range_args((const void *const *)in, (const void **)args);
  return tl_dtype_is_float(dt) ? range_float(args, dt, out) : range_int(args, dt, out);
}

/* ---- linspace ---------------------------------------------------------- */

/* inputs: start, stop; attrs: num, axis. The shape is start and stop
 * broadcast, with num inserted at axis. */
static tl_status linspace_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *a = in[0], *b = in[1];
  int64_t num = attr[0].i;
  for (int i = 0; i < 2; i++)
    if (!is_number(in[i]->dtype))
      return tl_error(TL_INVALID_ARGUMENT, "%s must be a number, not %s", i ? "stop" : "start",
                      tl_dtypes[in[i]->dtype].name);
  if (num < 0) return tl_error(TL_INVALID_ARGUMENT, "num must be non-negative (got %" PRId64 ")", num);
  tl_dtype dt;
  if (a->dtype == TL_FLOAT64 || b->dtype == TL_FLOAT64) dt = TL_FLOAT64;
  else if (a->dtype == b->dtype && tl_dtype_is_float(a->dtype)) dt = a->dtype;
  else dt = TL_FLOAT32;
  tl_meta bm;
  tl_status s = tl_meta_broadcast(a, b, &bm);
  if (s) return s;
  if (bm.rank < 0) return tl_meta_push(out, dt, -1, NULL) ? TL_OK : TL_RESOURCE_EXHAUSTED;
  int rank = bm.rank;
  if (rank + 1 > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "the result would have more than %d dimensions", TL_MAX_RANK);
  int64_t axis = attr[1].i;
  if (axis < -(rank + 1) || axis > rank)
    return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " is out of range for a result of rank %d", axis,
                    rank + 1);
  if (axis < 0) axis += rank + 1;
  int64_t oshape[TL_MAX_RANK];
  for (int i = 0, j = 0; i <= rank; i++) oshape[i] = i == axis ? num : bm.shape[j++];
  return tl_meta_push(out, dt, rank + 1, oshape) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* As TensorFlow's linspace: the first element is start and the last stop,
 * exactly (a NaN or infinite stop leaves the first element alone), and the
 * others start + k * (stop - start) / (num - 1). */
static tl_status linspace_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *a = in[0], *b = in[1], *t = out->items[0];
  int64_t num = attr[0].i;
  int rank = t->rank - 1, axis = (int)(attr[1].i < 0 ? attr[1].i + rank + 1 : attr[1].i);
  int64_t bshape[TL_MAX_RANK];
  for (int i = 0, j = 0; i <= rank; i++)
    if (i != axis) bshape[j++] = t->shape[i];
  /* Both ends as contiguous float64 [bshape] (a cast to the same dtype is
   * the broadcast view itself, so it is made contiguous too). */
  tl_tensor *av = NULL, *bv = NULL, *ac = NULL, *bc = NULL, *ad = NULL, *bd = NULL;
  tl_status s;
  if ((s = tl_tensor_broadcast_view(a, rank, bshape, &av)) || (s = tl_tensor_broadcast_view(b, rank, bshape, &bv)) ||
      (s = tl_tensor_cast(av, TL_FLOAT64, &ac)) || (s = tl_tensor_cast(bv, TL_FLOAT64, &bc)) ||
      (s = tl_tensor_contiguous(ac, &ad)) || (s = tl_tensor_contiguous(bc, &bd)))
    goto done;
  const double *sa = tl_tensor_data(ad), *sb = tl_tensor_data(bd);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= bshape[i];
  for (int i = axis; i < rank; i++) inner *= bshape[i];
  void *data = tl_tensor_data(t);
  tl_dtype dt = t->dtype;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t k = 0; k < num; k++)
      for (int64_t j = 0; j < inner; j++) {
        double x0 = sa[o * inner + j], x1 = sb[o * inner + j];
        double v = k == 0 ? x0 : k == num - 1 ? x1 : x0 + (double)k * ((x1 - x0) / (double)(num - 1));
        int64_t idx = (o * num + k) * inner + j;
        if (dt == TL_FLOAT32) ((float *)data)[idx] = (float)v;
        else tl_store_f64(data, dt, idx, v);
      }
done:
  tl_tensor_release(av);
  tl_tensor_release(bv);
  tl_tensor_release(ac);
  tl_tensor_release(bc);
  tl_tensor_release(ad);
  tl_tensor_release(bd);
  return s;
}

/* ---- one_hot ----------------------------------------------------------- */

/* inputs: indices; attrs: depth, on_value, off_value, axis, dtype? */
static tl_status one_hot_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *idx = in[0];
  int64_t depth = attr[0].i, axis = attr[3].i;
  tl_dtype dt = attr[4].present ? attr[4].dtype : TL_FLOAT32;
  if (!tl_dtype_is_integer(idx->dtype))
    return tl_error(TL_INVALID_ARGUMENT, "indices must be integers, not %s (use tf.cast)",
                    tl_dtypes[idx->dtype].name);
  if (depth < 0) return tl_error(TL_INVALID_ARGUMENT, "depth must be non-negative (got %" PRId64 ")", depth);
  if (dt == TL_STRING) return tl_error(TL_INVALID_ARGUMENT, "one_hot cannot make a string tensor");
  if (idx->rank < 0) return tl_meta_push(out, dt, -1, NULL) ? TL_OK : TL_RESOURCE_EXHAUSTED;
  int rank = idx->rank + 1;
  if (rank > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "the result would have more than %d dimensions", TL_MAX_RANK);
  if (axis < -1 || axis >= rank)
    return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " is out of range (expected -1 to %d)", axis,
                    rank - 1);
  if (axis == -1) axis = rank - 1;
  int64_t shape[TL_MAX_RANK];
  for (int i = 0, j = 0; i < rank; i++) shape[i] = i == axis ? depth : idx->shape[j++];
  return tl_meta_push(out, dt, rank, shape) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status one_hot_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *idx = in[0], *t = out->items[0];
  int64_t depth = attr[0].i, axis = attr[3].i < 0 ? t->rank - 1 : attr[3].i;
  tl_tensor *c;
  tl_status s = tl_tensor_contiguous(idx, &c);
  if (s) return s;
  fill_constant(t, attr[2].f);
  unsigned char on_elem[16] = {0};
  tl_store_f64(on_elem, t->dtype, 0, attr[1].f);
  size_t es = tl_dtypes[t->dtype].size;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= t->shape[i];
  for (int i = (int)axis + 1; i < t->rank; i++) inner *= t->shape[i];
  const void *ip = tl_tensor_data(c);
  char *dst = tl_tensor_data(t);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      int64_t k = tl_load_i64(ip, c->dtype, o * inner + j);
      if (k < 0 || k >= depth) continue; /* out of range: an all-off row, as in TF */
      memcpy(dst + (size_t)((o * depth + k) * inner + j) * es, on_elem, es);
    }
  tl_tensor_release(c);
  return TL_OK;
}

/* ---- the table --------------------------------------------------------- */

static const double one = 1;

tl_op_def tl_ops_create[] = {
    {.name = "zeros", .attrs = "shape:ints, dtype:dtype=float32", .infer = zeros_infer,
     .kernel[TL_CPU] = constant_kernel, .flags = TL_OP_NO_INPUT | TL_OP_NO_GRADIENT, .api = "tf.zeros",
     .doc = "A tensor of the given shape filled with zeros: tf.zeros({2, 3}, tf.int32)."},
    {.name = "ones", .attrs = "shape:ints, dtype:dtype=float32", .infer = zeros_infer,
     .kernel[TL_CPU] = constant_kernel, .impl = &one, .flags = TL_OP_NO_INPUT | TL_OP_NO_GRADIENT,
     .api = "tf.ones", .doc = "A tensor of the given shape filled with ones: tf.ones({2, 3})."},
    {.name = "fill", .inputs = "dims, value", .infer = fill_infer, .kernel[TL_CPU] = fill_kernel,
     .flags = TL_OP_NO_GRADIENT | TL_OP_VALUE_SHAPE, .api = "tf.fill",
     .doc = "A tensor of shape dims filled with the scalar value (its dtype: Lua integer int32, float float32)."},
    {.name = "zeros_like", .inputs = "input", .attrs = "dtype:dtype?", .infer = like_infer,
     .kernel[TL_CPU] = constant_kernel, .flags = TL_OP_NO_GRADIENT, .api = "tf.zeros_like",
     .doc = "Zeros with the shape (and dtype, unless given) of input."},
    {.name = "ones_like", .inputs = "input", .attrs = "dtype:dtype?", .infer = like_infer,
     .kernel[TL_CPU] = constant_kernel, .impl = &one, .flags = TL_OP_NO_GRADIENT, .api = "tf.ones_like",
     .doc = "Ones with the shape (and dtype, unless given) of input."},
    {.name = "eye", .attrs = "num_rows:int, num_columns:int?, batch_shape:ints?, dtype:dtype=float32",
     .infer = eye_infer, .kernel[TL_CPU] = eye_kernel, .flags = TL_OP_NO_INPUT | TL_OP_NO_GRADIENT,
     .api = "tf.eye tf.linalg.eye",
     .doc = "Identity matrix (or a batch of them): tf.eye(3), tf.eye(2, 3, {batch_shape={4}})."},
    {.name = "range", .inputs = "start?, limit?, delta?", .attrs = "dtype:dtype?", .infer = range_infer,
     .kernel[TL_CPU] = range_kernel, .flags = TL_OP_NO_GRADIENT | TL_OP_VALUE_SHAPE, .api = "tf.range",
     .doc = "Numbers from start (default 0) up to but not including limit by delta: tf.range(5), "
            "tf.range(1, 10, 2). int32 unless an argument is a float."},
    {.name = "linspace", .inputs = "start, stop", .attrs = "num:int, axis:int=0", .infer = linspace_infer,
     .kernel[TL_CPU] = linspace_kernel, .flags = TL_OP_NO_GRADIENT, .api = "tf.linspace tf.lin_space",
     .doc = "num evenly spaced values from start to stop inclusive (float32 unless float64 is given)."},
    {.name = "one_hot", .inputs = "indices",
     .attrs = "depth:int, on_value:float=1, off_value:float=0, axis:int=-1, dtype:dtype?",
     .infer = one_hot_infer, .kernel[TL_CPU] = one_hot_kernel, .flags = TL_OP_NO_GRADIENT, .api = "tf.one_hot",
     .doc = "One-hot encoding along a new axis (last by default); out-of-range indices give all-off rows."},
    {0},
};
