/* ops/create.c — creation ops: zeros, ones, fill, *_like, eye, range,
 * linspace, one_hot.
 *
 * Shapes arrive as an `ints` attribute (a Lua list, a TensorShape or an int
 * vector; the binding reads all three), except fill's `dims`, which is an
 * input as in TensorFlow's raw op. Sizes are validated by tl_tensor_new, so
 * negative dims are InvalidArgument and byte sizes that overflow are
 * ResourceExhausted. Constant fills replicate one element's bytes by
 * doubling memcpy, so one code path serves every dtype. String tensors only
 * get empty strings (zeros); filling strings waits for the string issue,
 * whose storage owns the bytes.
 */
#include "tl.h"

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

/* A new tensor of shape with every element equal to v (a double, or 1/0). */
static tl_status constant_tensor(tl_dtype dt, int rank, const int64_t *shape, double v,
                                 tl_tensor **out) {
  if (v == 0) return tl_tensor_zeros(dt, rank, shape, out);
  tl_status s = check_fillable(dt);
  if (s) return s;
  s = tl_tensor_new(dt, rank, shape, out);
  if (s) return s;
  unsigned char elem[16];
  memset(elem, 0, sizeof elem);
  tl_store_f64(elem, dt, 0, v);
  fill_pattern(tl_tensor_data(*out), elem, tl_dtypes[dt].size, (*out)->size);
  return TL_OK;
}


static tl_status shape_attr(const tl_attr *a, int *rank, int64_t *shape) {
  if (a->n > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "shape has %d dimensions; at most %d are supported", a->n,
                    TL_MAX_RANK);
  *rank = a->n;
  for (int i = 0; i < a->n; i++) shape[i] = a->ints[i];
  return TL_OK;
}

/* ---- zeros / ones / fill / *_like -------------------------------------- */

static tl_status zeros_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                           tl_tensor_list *out) {
  (void)in, (void)n_in;
  int rank = 0;
  int64_t shape[TL_MAX_RANK];
  tl_status s = shape_attr(&attr[0], &rank, shape);
  if (s) return s;
  tl_tensor *t;
  double v = strcmp(op->name, "ones") == 0 ? 1 : 0;
  if (v != 0 && attr[1].dtype == TL_STRING)
    return tl_error(TL_INVALID_ARGUMENT, "a string tensor has no 'one'");
  if ((s = constant_tensor(attr[1].dtype, rank, shape, v, &t))) return s;
  return tl_list_push(out, t);
}

static tl_status like_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                          tl_tensor_list *out) {
  (void)n_in;
  tl_dtype dt = attr[0].present ? attr[0].dtype : in[0]->dtype;
  double v = strcmp(op->name, "ones_like") == 0 ? 1 : 0;
  if (v != 0 && dt == TL_STRING) return tl_error(TL_INVALID_ARGUMENT, "a string tensor has no 'one'");
  tl_tensor *t;
  tl_status s = constant_tensor(dt, in[0]->rank, in[0]->shape, v, &t);
  if (s) return s;
  return tl_list_push(out, t);
}

static tl_status fill_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                          tl_tensor_list *out) {
  (void)op, (void)n_in, (void)attr;
  const tl_tensor *dims = in[0], *value = in[1];
  if (dims->rank > 1)
    return tl_error(TL_INVALID_ARGUMENT, "dims must be a vector of dimension sizes (it has rank %d)",
                    dims->rank);
  if (dims->size > 0 && !tl_dtype_is_integer(dims->dtype))
    return tl_error(TL_INVALID_ARGUMENT, "dims must hold integers, not %s", tl_dtypes[dims->dtype].name);
  if (dims->size > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "dims has %" PRId64 " entries; at most %d dimensions are supported",
                    dims->size, TL_MAX_RANK);
  if (value->rank != 0)
    return tl_error(TL_INVALID_ARGUMENT, "value must be a scalar (it has shape %s)",
                    tl_shape_format(value->rank, value->shape, (char[64]){0}, 64));
  tl_status s = check_fillable(value->dtype);
  if (s) return s;
  int64_t shape[TL_MAX_RANK];
  int rank = (int)dims->size;
  for (int i = 0; i < rank; i++)
    shape[i] = tl_load_i64(dims->storage->data, dims->dtype,
                           dims->offset + (int64_t)i * (dims->rank ? dims->strides[0] : 0));
  tl_tensor *t;
  s = tl_tensor_new(value->dtype, rank, shape, &t);
  if (s) return s;
  fill_pattern(tl_tensor_data(t), tl_tensor_data(value), tl_dtypes[value->dtype].size, t->size);
  return tl_list_push(out, t);
}

/* ---- eye --------------------------------------------------------------- */

static tl_status eye_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                         tl_tensor_list *out) {
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
  for (int i = 0; i < nb; i++) shape[i] = attr[2].ints[i];
  shape[nb] = rows;
  shape[nb + 1] = cols;
  if (dt == TL_STRING) return tl_error(TL_INVALID_ARGUMENT, "eye cannot make a string tensor");
  tl_tensor *t;
  tl_status s = tl_tensor_zeros(dt, nb + 2, shape, &t);
  if (s) return s;
  int64_t mat = rows * cols, batch = mat != 0 ? t->size / mat : 0, d = rows < cols ? rows : cols;
  void *data = tl_tensor_data(t);
  for (int64_t b = 0; b < batch; b++)
    for (int64_t i = 0; i < d; i++) tl_store_f64(data, dt, b * mat + i * cols + i, 1.0);
  return tl_list_push(out, t);
}

/* ---- range ------------------------------------------------------------- */

static bool is_float_kind(tl_dtype d) { return tl_dtype_is_float(d); }

/* TensorFlow's inference: int32 < int64 < float32 < float64 over the given
 * arguments. */
static tl_dtype range_dtype(tl_tensor *const *in) {
  int rank = 0; /* 0 int32, 1 int64, 2 float32, 3 float64 */
  for (int i = 0; i < 3; i++) {
    if (!in[i]) continue;
    tl_dtype d = in[i]->dtype;
    int r = d == TL_FLOAT64 ? 3 : is_float_kind(d) ? 2 : d == TL_INT64 ? 1 : 0;
    if (r > rank) rank = r;
  }
  static const tl_dtype by_rank[4] = {TL_INT32, TL_INT64, TL_FLOAT32, TL_FLOAT64};
  return by_rank[rank];
}

static tl_status range_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                           tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *args[3] = {in[0], in[1], in[2]};
  static const char *const names[3] = {"start", "limit", "delta"};
  if (!args[0] && !args[1]) return tl_error(TL_INVALID_ARGUMENT, "range: limit is required");
  if (!args[1]) { /* range(limit) */
    args[1] = args[0];
    args[0] = NULL;
  }
  for (int i = 0; i < 3; i++) {
    if (!args[i]) continue;
    if (args[i]->size != 1)
      return tl_error(TL_INVALID_ARGUMENT, "range: %s must be a scalar (got %s)", names[i],
                      tl_tensor_describe(args[i], (char[160]){0}, 160));
    tl_dtype_kind k = tl_dtypes[args[i]->dtype].kind;
    if (k != TL_KIND_FLOAT && k != TL_KIND_INT && k != TL_KIND_UINT)
      return tl_error(TL_INVALID_ARGUMENT, "range: %s must be a number (got %s)", names[i],
                      tl_dtypes[args[i]->dtype].name);
  }
  tl_dtype dt = attr[0].present ? attr[0].dtype : range_dtype(args);
  tl_dtype_kind kind = tl_dtypes[dt].kind;
  if (kind != TL_KIND_FLOAT && kind != TL_KIND_INT && kind != TL_KIND_UINT)
    return tl_error(TL_INVALID_ARGUMENT, "range: dtype %s is not supported (use a number type)",
                    tl_dtypes[dt].name);
  tl_tensor *t;
  tl_status s;
  if (kind == TL_KIND_FLOAT) {
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
    if (!(n < 9.0e15))
      return tl_error(TL_RESOURCE_EXHAUSTED, "range: %g elements are too many to allocate", n);
    int64_t size = (int64_t)n;
    s = tl_tensor_new(dt, 1, &size, &t);
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
  int64_t v[3] = {0, 0, 1};
  for (int i = 0; i < 3; i++)
    if (args[i]) v[i] = tl_load_i64(args[i]->storage->data, args[i]->dtype, args[i]->offset);
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
  int64_t size = (int64_t)((span + ad - 1) / ad);
  s = tl_tensor_new(dt, 1, &size, &t);
  if (s) return s;
  void *data = tl_tensor_data(t);
  if (dt == TL_INT32) {
    int32_t *o = data;
    for (int64_t i = 0; i < size; i++) o[i] = (int32_t)(start + i * delta);
  } else if (dt == TL_INT64) {
    int64_t *o = data;
    for (int64_t i = 0; i < size; i++) o[i] = start + i * delta;
  } else {
    for (int64_t i = 0; i < size; i++) tl_store_i64(data, dt, i, start + i * delta);
  }
  return tl_list_push(out, t);
}

/* ---- linspace ---------------------------------------------------------- */

static tl_status linspace_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                              tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *a = in[0], *b = in[1];
  int64_t num = attr[0].i;
  for (int i = 0; i < 2; i++) {
    tl_dtype_kind k = tl_dtypes[in[i]->dtype].kind;
    if (k != TL_KIND_FLOAT && k != TL_KIND_INT && k != TL_KIND_UINT)
      return tl_error(TL_INVALID_ARGUMENT, "%s must be a number, not %s", i ? "stop" : "start",
                      tl_dtypes[in[i]->dtype].name);
  }
  if (num < 0) return tl_error(TL_INVALID_ARGUMENT, "num must be non-negative (got %" PRId64 ")", num);
  tl_dtype dt;
  if (a->dtype == TL_FLOAT64 || b->dtype == TL_FLOAT64) dt = TL_FLOAT64;
  else if (a->dtype == b->dtype && tl_dtype_is_float(a->dtype)) dt = a->dtype;
  else dt = TL_FLOAT32;
  int rank = 0;
  int64_t bshape[TL_MAX_RANK];
  tl_status s = tl_broadcast_shapes(a->rank, a->shape, b->rank, b->shape, &rank, bshape);
  if (s) return s;
  if (rank + 1 > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "the result would have more than %d dimensions", TL_MAX_RANK);
  int64_t axis = attr[1].i;
  if (axis < -(rank + 1) || axis > rank)
    return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " is out of range for a result of rank %d", axis,
                    rank + 1);
  if (axis < 0) axis += rank + 1;
  int64_t oshape[TL_MAX_RANK];
  for (int i = 0, j = 0; i <= rank; i++) oshape[i] = i == axis ? num : bshape[j++];
  tl_tensor *av, *bv, *ac, *bc, *t;
  if ((s = tl_tensor_broadcast_view(a, rank, bshape, &av))) return s;
  if ((s = tl_tensor_broadcast_view(b, rank, bshape, &bv))) {
    tl_tensor_release(av);
    return s;
  }
  s = tl_tensor_cast(av, TL_FLOAT64, &ac);
  if (!s && (s = tl_tensor_cast(bv, TL_FLOAT64, &bc))) tl_tensor_release(ac);
  tl_tensor_release(av);
  tl_tensor_release(bv);
  if (s) return s;
  s = tl_tensor_new(dt, rank + 1, oshape, &t);
  if (s) goto done;
  {
    const double *sa = tl_tensor_data(ac), *sb = tl_tensor_data(bc);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= bshape[i];
    for (int i = (int)axis; i < rank; i++) inner *= bshape[i];
    void *data = tl_tensor_data(t);
    for (int64_t o = 0; o < outer; o++)
      for (int64_t k = 0; k < num; k++)
        for (int64_t j = 0; j < inner; j++) {
          double x0 = sa[o * inner + j], x1 = sb[o * inner + j];
          double step = num > 1 ? (x1 - x0) / (double)(num - 1) : 0;
          double v = k == num - 1 && num > 1 ? x1 : x0 + (double)k * step;
          int64_t idx = (o * num + k) * inner + j;
          if (dt == TL_FLOAT32) ((float *)data)[idx] = (float)v;
          else tl_store_f64(data, dt, idx, v);
        }
    s = tl_list_push(out, t);
  }
done:
  tl_tensor_release(ac);
  tl_tensor_release(bc);
  return s;
}

/* ---- one_hot ----------------------------------------------------------- */

static tl_status one_hot_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                             tl_tensor_list *out) {
  (void)op, (void)n_in;
  tl_tensor *idx = in[0];
  int64_t depth = attr[0].i, axis = attr[3].i;
  double on = attr[1].f, off = attr[2].f;
  tl_dtype dt = attr[4].present ? attr[4].dtype : TL_FLOAT32;
  if (!tl_dtype_is_integer(idx->dtype))
    return tl_error(TL_INVALID_ARGUMENT, "indices must be integers, not %s (use tf.cast)",
                    tl_dtypes[idx->dtype].name);
  if (depth < 0) return tl_error(TL_INVALID_ARGUMENT, "depth must be non-negative (got %" PRId64 ")", depth);
  if (dt == TL_STRING) return tl_error(TL_INVALID_ARGUMENT, "one_hot cannot make a string tensor");
  int rank = idx->rank + 1;
  if (rank > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "the result would have more than %d dimensions", TL_MAX_RANK);
  if (axis < -1 || axis >= rank)
    return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " is out of range (expected -1 to %d)", axis,
                    rank - 1);
  if (axis == -1) axis = rank - 1;
  int64_t shape[TL_MAX_RANK];
  for (int i = 0, j = 0; i < rank; i++) shape[i] = i == axis ? depth : idx->shape[j++];
  tl_tensor *c, *t;
  tl_status s = tl_tensor_contiguous(idx, &c);
  if (s) return s;
  s = constant_tensor(dt, rank, shape, off, &t);
  if (s) {
    tl_tensor_release(c);
    return s;
  }
  unsigned char on_elem[16] = {0};
  tl_store_f64(on_elem, dt, 0, on);
  size_t es = tl_dtypes[dt].size;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= shape[i];
  for (int i = (int)axis + 1; i < rank; i++) inner *= shape[i];
  const void *ip = tl_tensor_data(c);
  char *op_ = tl_tensor_data(t);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      int64_t k = tl_load_i64(ip, c->dtype, o * inner + j);
      if (k < 0 || k >= depth) continue; /* out of range: an all-off row, as in TF */
      memcpy(op_ + (size_t)((o * depth + k) * inner + j) * es, on_elem, es);
    }
  tl_tensor_release(c);
  return tl_list_push(out, t);
}

/* ---- the table --------------------------------------------------------- */

tl_op_def tl_ops_create[] = {
    {.name = "zeros", .attrs = "shape:ints, dtype:dtype=float32", .kernel[TL_CPU] = zeros_fwd,
     .flags = TL_OP_NO_INPUT | TL_OP_NO_GRADIENT, .api = "tf.zeros",
     .doc = "A tensor of the given shape filled with zeros: tf.zeros({2, 3}, tf.int32)."},
    {.name = "ones", .attrs = "shape:ints, dtype:dtype=float32", .kernel[TL_CPU] = zeros_fwd,
     .flags = TL_OP_NO_INPUT | TL_OP_NO_GRADIENT, .api = "tf.ones",
     .doc = "A tensor of the given shape filled with ones: tf.ones({2, 3})."},
    {.name = "fill", .inputs = "dims, value", .kernel[TL_CPU] = fill_fwd, .flags = TL_OP_NO_GRADIENT,
     .api = "tf.fill",
     .doc = "A tensor of shape dims filled with the scalar value (its dtype: Lua integer int32, float float32)."},
    {.name = "zeros_like", .inputs = "input", .attrs = "dtype:dtype?", .kernel[TL_CPU] = like_fwd,
     .flags = TL_OP_NO_GRADIENT, .api = "tf.zeros_like",
     .doc = "Zeros with the shape (and dtype, unless given) of input."},
    {.name = "ones_like", .inputs = "input", .attrs = "dtype:dtype?", .kernel[TL_CPU] = like_fwd,
     .flags = TL_OP_NO_GRADIENT, .api = "tf.ones_like",
     .doc = "Ones with the shape (and dtype, unless given) of input."},
    {.name = "eye", .attrs = "num_rows:int, num_columns:int?, batch_shape:ints?, dtype:dtype=float32",
     .kernel[TL_CPU] = eye_fwd, .flags = TL_OP_NO_INPUT | TL_OP_NO_GRADIENT, .api = "tf.eye tf.linalg.eye",
     .doc = "Identity matrix (or a batch of them): tf.eye(3), tf.eye(2, 3, {batch_shape={4}})."},
    {.name = "range", .inputs = "start?, limit?, delta?", .attrs = "dtype:dtype?", .kernel[TL_CPU] = range_fwd,
     .flags = TL_OP_NO_GRADIENT, .api = "tf.range",
     .doc = "Numbers from start (default 0) up to but not including limit by delta: tf.range(5), "
            "tf.range(1, 10, 2). int32 unless an argument is a float."},
    {.name = "linspace", .inputs = "start, stop", .attrs = "num:int, axis:int=0", .kernel[TL_CPU] = linspace_fwd,
     .flags = TL_OP_NO_GRADIENT, .api = "tf.linspace tf.lin_space",
     .doc = "num evenly spaced values from start to stop inclusive (float32 unless float64 is given)."},
    {.name = "one_hot", .inputs = "indices",
     .attrs = "depth:int, on_value:float=1, off_value:float=0, axis:int=-1, dtype:dtype?",
     .kernel[TL_CPU] = one_hot_fwd, .flags = TL_OP_NO_GRADIENT, .api = "tf.one_hot",
     .doc = "One-hot encoding along a new axis (last by default); out-of-range indices give all-off rows."},
    {0},
};
