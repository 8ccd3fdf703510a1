/* tensor.c — tensor objects: creation, views, contiguity, casts, shapes.
 *
 * A tensor is a (dtype, shape, strides, offset) window on a refcounted
 * storage. Several tensors may share a storage (views); nothing that the
 * user can reach ever writes into a storage that another tensor can see,
 * except tl.Variable's copy-on-write assign, which checks the refcount.
 * Strides are in elements and may be 0 (broadcast views).
 */
#include "tl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t tl_shape_numel(int rank, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (shape[i] < 0) return -1;
    if (shape[i] == 0) {
      n = 0;
      continue;
    }
    if (n != 0 && __builtin_mul_overflow(n, shape[i], &n)) return -1;
  }
  /* An all-nonzero product is still checked above; a zero dim wins. */
  for (int i = 0; i < rank; i++)
    if (shape[i] == 0) return 0;
  return n;
}

char *tl_shape_format(int rank, const int64_t *shape, char *buf, size_t n) {
  size_t used = 0;
  if (n == 0) return buf;
  used += (size_t)snprintf(buf + used, n - used, "[");
  for (int i = 0; i < rank && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, i ? ",%" PRId64 : "%" PRId64, shape[i]);
  if (used < n) snprintf(buf + used, n - used, "]");
  return buf;
}

char *tl_tensor_describe(const tl_tensor *t, char *buf, size_t n) {
  if (!t) {
    snprintf(buf, n, "nil");
    return buf;
  }
  if (t->sym_value) return tl_meta_describe(&t->meta, buf, n); /* ? for unknown dims */
  char s[200];
  tl_shape_format(t->rank, t->shape, s, sizeof s);
  snprintf(buf, n, "%s%s", tl_dtypes[t->dtype].name, s);
  return buf;
}

static tl_status check_shape(int rank, const int64_t *shape, int64_t *numel, size_t elsize) {
  if (rank < 0 || rank > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "rank %d is not supported (at most %d dimensions)", rank,
                    TL_MAX_RANK);
  for (int i = 0; i < rank; i++)
    if (shape[i] < 0)
      return tl_error(TL_INVALID_ARGUMENT, "dimension %d of the shape is negative (%" PRId64 ")", i,
                      shape[i]);
  int64_t n = tl_shape_numel(rank, shape);
  /* The strides of a tensor with a zero-sized dimension are products of the
     other dimensions, so those must stay in range too: [0, 2^62, 3] has no
     elements but its first stride would overflow. */
  int64_t span = (int64_t)elsize;
  bool huge = false;
  for (int i = 0; i < rank && !huge; i++)
    huge = __builtin_mul_overflow(span, shape[i] > 0 ? shape[i] : 1, &span) ||
           span > ((int64_t)1 << 46);
  int64_t bytes;
  if (huge || n < 0 || __builtin_mul_overflow(n, (int64_t)elsize, &bytes) ||
      bytes > ((int64_t)1 << 46)) {
    char s[200];
    return tl_error(TL_RESOURCE_EXHAUSTED, "shape %s is too large to allocate",
                    tl_shape_format(rank, shape, s, sizeof s));
  }
  *numel = n;
  return TL_OK;
}

static void contiguous_strides(int rank, const int64_t *shape, int64_t *strides) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i] > 0 ? shape[i] : 1;
  }
}

/* The header of a view whose shape check_shape has accepted (n elements);
 * takes one reference to st from the caller. */
static tl_status make_view(tl_storage *st, tl_dtype dt, int rank, const int64_t *shape, const int64_t *strides,
                           int64_t offset, int64_t n, tl_tensor **out) {
  tl_tensor *t = tl_obj_alloc(sizeof *t);
  if (!t) {
    tl_storage_release(st);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  t->refcount = 1;
  t->dtype = dt;
  t->rank = rank;
  if (rank) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)rank); /* shape may be NULL for scalars */
  if (strides && rank) memcpy(t->strides, strides, sizeof(int64_t) * (size_t)rank);
  else contiguous_strides(rank, shape, t->strides);
  t->offset = offset;
  t->size = n;
  t->storage = st;
  t->tape_marks[0] = t->tape_marks[1] = 0;
  t->sym_trace = 0;
  t->sym_value = 0;
  *out = t;
  return TL_OK;
}

tl_status tl_tensor_view(tl_storage *st, tl_dtype dt, int rank, const int64_t *shape,
                         const int64_t *strides, int64_t offset, tl_tensor **out) {
  int64_t n;
  tl_status s = check_shape(rank, shape, &n, tl_dtypes[dt].size);
  if (s) return s;
  tl_storage_retain(st);
  return make_view(st, dt, rank, shape, strides, offset, n, out);
}

/* Every op output comes through here: the shape is checked once and the
 * new storage's reference goes to the tensor (no retain/release pair). */
tl_status tl_tensor_new_on(tl_device dev, tl_dtype dt, int rank, const int64_t *shape, tl_tensor **out) {
  int64_t n;
  tl_status s = check_shape(rank, shape, &n, tl_dtypes[dt].size);
  if (s) return s;
  if (dev != TL_CPU && (dt == TL_STRING || dt == TL_RESOURCE))
    return tl_error(TL_UNIMPLEMENTED, "%s tensors live on the CPU only", tl_dtypes[dt].name);
  tl_storage *st;
  s = tl_storage_new(dev, (size_t)n * tl_dtypes[dt].size, &st);
  if (s) return s;
  if (dt == TL_STRING || dt == TL_RESOURCE) memset(st->data, 0, st->nbytes);
  return make_view(st, dt, rank, shape, NULL, 0, n, out);
}

tl_status tl_tensor_new(tl_dtype dt, int rank, const int64_t *shape, tl_tensor **out) {
  tl_device dev = tl_current_device();
  if (dt == TL_STRING || dt == TL_RESOURCE) dev = TL_CPU;
  return tl_tensor_new_on(dev, dt, rank, shape, out);
}

/* Host code that reads values comes through here: a symbolic tensor (in a
 * trace) has none, and says what to use instead. */
static tl_status symbolic_value_error(const tl_tensor *t) {
  char d[200];
  return tl_error(TL_FAILED_PRECONDITION,
                  "the value of %s is not known while tracing (it is symbolic); use tf.cond or tf.while_loop "
                  "instead of a Lua if or loop on it, and tf.print to print it",
                  tl_tensor_describe(t, d, sizeof d));
}

tl_status tl_tensor_copy_to(tl_tensor *t, tl_device dev, tl_tensor **out) {
  if (t->sym_value) return symbolic_value_error(t);
  tl_device from = t->storage->device;
  if (from == dev) {
    *out = tl_tensor_retain(t);
    return TL_OK;
  }
  if (t->dtype == TL_STRING || t->dtype == TL_RESOURCE)
    return tl_error(TL_UNIMPLEMENTED, "%s tensors live on the CPU only", tl_dtypes[t->dtype].name);
  /* The source's window as one contiguous run: copy the storage span the
   * view covers, then take the view of it on the other side. */
  size_t es = tl_dtypes[t->dtype].size;
  int64_t lo = t->offset, hi = t->offset;
  for (int i = 0; i < t->rank; i++) {
    if (t->shape[i] == 0) {
      hi = lo - 1;
      break;
    }
    int64_t ext = (t->shape[i] - 1) * t->strides[i];
    if (ext < 0) lo += ext;
    else hi += ext;
  }
  size_t span = hi >= lo ? (size_t)(hi - lo + 1) * es : 0;
  tl_storage *st;
  tl_status s = tl_storage_new(dev, span, &st);
  if (s) return s;
  const tl_device_impl *src = tl_device_get(from), *dst = tl_device_get(dev);
  if (span) {
    if (from == TL_CPU) s = dst->upload(st, 0, (char *)t->storage->data + lo * (int64_t)es, span);
    else if (dev == TL_CPU) s = src->download(st->data, t->storage, (size_t)lo * es, span);
    else {
      void *bounce = malloc(span);
      s = bounce ? src->download(bounce, t->storage, (size_t)lo * es, span)
                 : tl_error(TL_RESOURCE_EXHAUSTED, "out of memory copying between devices");
      if (!s) s = dst->upload(st, 0, bounce, span);
      free(bounce);
    }
  }
  if (!s) s = tl_tensor_view(st, t->dtype, t->rank, t->shape, t->strides, t->offset - lo, out);
  tl_storage_release(st);
  return s;
}

tl_status tl_tensor_scalar_like(const tl_tensor *like, tl_dtype dt, double v, tl_tensor **out) {
  tl_device dev = like ? like->storage->device : TL_CPU;
  if (dev == TL_CPU || dev == tl_current_device()) {
    tl_status s = tl_tensor_new_on(dev, dt, 0, NULL, out);
    if (s) return s;
    tl_store_f64(tl_tensor_data(*out), dt, 0, v);
    return TL_OK;
  }
  char buf[16];
  tl_store_f64(buf, dt, 0, v);
  tl_status s = tl_tensor_new_on(dev, dt, 0, NULL, out);
  if (s) return s;
  if ((s = tl_device_get(dev)->upload((*out)->storage, 0, buf, tl_dtypes[dt].size))) {
    tl_tensor_release(*out);
    *out = NULL;
  }
  return s;
}

tl_status tl_tensor_zeros(tl_dtype dt, int rank, const int64_t *shape, tl_tensor **out) {
  tl_status s = tl_tensor_new(dt, rank, shape, out);
  if (s) return s;
  memset((*out)->storage->data, 0, (size_t)(*out)->size * tl_dtypes[dt].size);
  return TL_OK;
}

tl_status tl_tensor_scalar_f64(tl_dtype dt, double v, tl_tensor **out) {
  tl_status s = tl_tensor_new(dt, 0, NULL, out);
  if (s) return s;
  tl_store_f64(tl_tensor_data(*out), dt, 0, v);
  return TL_OK;
}

tl_status tl_tensor_scalar_i64(tl_dtype dt, int64_t v, tl_tensor **out) {
  tl_status s = tl_tensor_new(dt, 0, NULL, out);
  if (s) return s;
  tl_store_i64(tl_tensor_data(*out), dt, 0, v);
  return TL_OK;
}

tl_tensor *tl_tensor_retain(tl_tensor *t) {
  if (t) __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED);
  return t;
}

void tl_tensor_release(tl_tensor *t) {
  if (!t) return;
  if (__atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
  tl_storage_release(t->storage);
  tl_obj_free(t, sizeof *t);
}

bool tl_tensor_is_contiguous(const tl_tensor *t) {
  int64_t s = 1;
  for (int i = t->rank - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->strides[i] != s) return false;
    s *= t->shape[i];
  }
  return true;
}

bool tl_tensor_same_shape(const tl_tensor *a, const tl_tensor *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

/* ---- iteration --------------------------------------------------------- */

void tl_iterate(int nops, tl_tensor *const *ops, tl_iter_fn fn, void *ctx) {
  const tl_tensor *t0 = ops[0];
  if (t0->size == 0) return;
  int rank = 0;
  int64_t shape[TL_MAX_RANK], strides[TL_ITER_MAX][TL_MAX_RANK];
  /* Drop size-1 dims and merge dims that are contiguous for every operand. */
  for (int d = 0; d < t0->rank; d++) {
    if (t0->shape[d] == 1) continue;
    bool merge = rank > 0;
    for (int k = 0; k < nops && merge; k++)
      if (strides[k][rank - 1] != ops[k]->strides[d] * t0->shape[d]) merge = false;
    if (merge) {
      shape[rank - 1] *= t0->shape[d];
      for (int k = 0; k < nops; k++) strides[k][rank - 1] = ops[k]->strides[d];
    } else {
      shape[rank] = t0->shape[d];
      for (int k = 0; k < nops; k++) strides[k][rank] = ops[k]->strides[d];
      rank++;
    }
  }
  char *base[TL_ITER_MAX], *ptrs[TL_ITER_MAX];
  int64_t esize[TL_ITER_MAX], inner[TL_ITER_MAX];
  for (int k = 0; k < nops; k++) {
    base[k] = tl_tensor_data(ops[k]);
    esize[k] = (int64_t)tl_dtypes[ops[k]->dtype].size;
  }
  if (rank == 0) {
    for (int k = 0; k < nops; k++) inner[k] = 1;
    fn(base, inner, 1, ctx);
    return;
  }
  for (int k = 0; k < nops; k++) inner[k] = strides[k][rank - 1];
  int64_t idx[TL_MAX_RANK] = {0};
  int64_t n_outer = 1;
  for (int d = 0; d < rank - 1; d++) n_outer *= shape[d];
  for (int64_t o = 0; o < n_outer; o++) {
    for (int k = 0; k < nops; k++) {
      int64_t off = 0;
      for (int d = 0; d < rank - 1; d++) off += idx[d] * strides[k][d];
      ptrs[k] = base[k] + off * esize[k];
    }
    fn(ptrs, inner, shape[rank - 1], ctx);
    for (int d = rank - 2; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

static void copy_run(char **p, const int64_t *st, int64_t n, void *ctx) {
  size_t es = *(size_t *)ctx;
  if (st[0] == 1 && st[1] == 1) {
    memcpy(p[0], p[1], (size_t)n * es);
    return;
  }
  switch (es) {
  case 1: for (int64_t i = 0; i < n; i++) ((uint8_t *)p[0])[i * st[0]] = ((uint8_t *)p[1])[i * st[1]]; break;
  case 2: for (int64_t i = 0; i < n; i++) ((uint16_t *)p[0])[i * st[0]] = ((uint16_t *)p[1])[i * st[1]]; break;
  case 4: for (int64_t i = 0; i < n; i++) ((uint32_t *)p[0])[i * st[0]] = ((uint32_t *)p[1])[i * st[1]]; break;
  case 8: for (int64_t i = 0; i < n; i++) ((uint64_t *)p[0])[i * st[0]] = ((uint64_t *)p[1])[i * st[1]]; break;
  default:
    for (int64_t i = 0; i < n; i++) memcpy(p[0] + i * st[0] * (int64_t)es, p[1] + i * st[1] * (int64_t)es, es);
  }
}

tl_status tl_tensor_copy_into(tl_tensor *dst, const tl_tensor *src) {
  if (dst->dtype != src->dtype || !tl_tensor_same_shape(dst, src))
    return tl_error(TL_INTERNAL, "copy_into: mismatched operands");
  size_t es = tl_dtypes[src->dtype].size;
  tl_tensor *ops[2] = {dst, (tl_tensor *)src};
  tl_iterate(2, ops, copy_run, &es);
  /* a copy of strings owns its bytes (core/strings.c), so it may outlive src */
  return dst->dtype == TL_STRING ? tl_string_adopt(dst) : TL_OK;
}

tl_status tl_tensor_contiguous(tl_tensor *t, tl_tensor **out) {
  if (tl_tensor_is_contiguous(t)) {
    *out = tl_tensor_retain(t);
    return TL_OK;
  }
  tl_status s = tl_tensor_new(t->dtype, t->rank, t->shape, out);
  if (s) return s;
  return tl_tensor_copy_into(*out, t);
}

tl_status tl_tensor_reshape(tl_tensor *t, int rank, const int64_t *shape, tl_tensor **out) {
  int64_t n = tl_shape_numel(rank, shape);
  if (n != t->size) {
    char a[200], b[200];
    return tl_error(TL_INVALID_ARGUMENT, "cannot reshape %s into shape %s",
                    tl_tensor_describe(t, a, sizeof a), tl_shape_format(rank, shape, b, sizeof b));
  }
  tl_tensor *c;
  tl_status s = tl_tensor_contiguous(t, &c);
  if (s) return s;
  s = tl_tensor_view(c->storage, c->dtype, rank, shape, NULL, c->offset, out);
  tl_tensor_release(c);
  return s;
}

/* ---- casts ------------------------------------------------------------- */

typedef struct cast_ctx {
  tl_dtype from, to;
} cast_ctx;

#define CHUNK 256
static void cast_run(char **p, const int64_t *st, int64_t n, void *vctx) {
  const cast_ctx *c = vctx;
  bool ints = !tl_dtype_is_float(c->from) && !tl_dtype_is_float(c->to) &&
              c->from != TL_COMPLEX64 && c->to != TL_COMPLEX64;
  /* Gather into a typed chunk once per run so the per-element switch is
   * outside the inner loops. float32->float32 style copies never get here. */
  for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
    int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
    if (ints) {
      int64_t buf[CHUNK];
      for (int64_t i = 0; i < m; i++) buf[i] = tl_load_i64(p[1], c->from, (i0 + i) * st[1]);
      for (int64_t i = 0; i < m; i++) tl_store_i64(p[0], c->to, (i0 + i) * st[0], buf[i]);
    } else {
      double buf[CHUNK];
      for (int64_t i = 0; i < m; i++) buf[i] = tl_load_f64(p[1], c->from, (i0 + i) * st[1]);
      for (int64_t i = 0; i < m; i++) tl_store_f64(p[0], c->to, (i0 + i) * st[0], buf[i]);
    }
  }
}

/* Typed loops for the casts training code runs every step (uint8 images to
 * float32, int32 labels, float32 <-> float64). Each is exact and gives the
 * bits the generic path gives (every source value is exactly representable
 * in double, so going through double rounds once, as these do); the generic
 * path is about 5 ns per element, these well under 1. */
#define CAST_LOOP(NAME, TO, FROM)                                                    \
  static void NAME(char **p, const int64_t *st, int64_t n, void *vctx) {             \
    (void)vctx;                                                                      \
    const FROM *a = (const FROM *)p[1];                                              \
    TO *o = (TO *)p[0];                                                              \
    if (st[0] == 1 && st[1] == 1)                                                    \
      for (int64_t i = 0; i < n; i++) o[i] = (TO)a[i];                               \
    else                                                                             \
      for (int64_t i = 0; i < n; i++) o[i * st[0]] = (TO)a[i * st[1]];               \
  }
CAST_LOOP(cast_f32_u8, float, uint8_t)
CAST_LOOP(cast_f32_i8, float, int8_t)
CAST_LOOP(cast_f32_i16, float, int16_t)
CAST_LOOP(cast_f32_i32, float, int32_t)
CAST_LOOP(cast_f32_f64, float, double)
CAST_LOOP(cast_f64_u8, double, uint8_t)
CAST_LOOP(cast_f64_i32, double, int32_t)
CAST_LOOP(cast_f64_f32, double, float)
CAST_LOOP(cast_i32_u8, int32_t, uint8_t)
CAST_LOOP(cast_i64_u8, int64_t, uint8_t)
CAST_LOOP(cast_i64_i32, int64_t, int32_t)
#undef CAST_LOOP

typedef void (*cast_loop)(char **p, const int64_t *st, int64_t n, void *vctx);

static cast_loop typed_cast(tl_dtype to, tl_dtype from) {
  switch (to) {
  case TL_FLOAT32:
    switch (from) {
    case TL_UINT8: return cast_f32_u8;
    case TL_INT8: return cast_f32_i8;
    case TL_INT16: return cast_f32_i16;
    case TL_INT32: return cast_f32_i32;
    case TL_FLOAT64: return cast_f32_f64;
    default: return NULL;
    }
  case TL_FLOAT64:
    switch (from) {
    case TL_UINT8: return cast_f64_u8;
    case TL_INT32: return cast_f64_i32;
    case TL_FLOAT32: return cast_f64_f32;
    default: return NULL;
    }
  case TL_INT32: return from == TL_UINT8 ? cast_i32_u8 : NULL;
  case TL_INT64: return from == TL_UINT8 ? cast_i64_u8 : from == TL_INT32 ? cast_i64_i32 : NULL;
  default: return NULL;
  }
}

tl_status tl_tensor_cast(tl_tensor *t, tl_dtype to, tl_tensor **out) {
  if (t->dtype == to) {
    *out = tl_tensor_retain(t);
    return TL_OK;
  }
  if (t->dtype == TL_STRING || to == TL_STRING)
    return tl_error(TL_UNIMPLEMENTED, "cast: %s to %s is not supported (use tf.strings)",
                    tl_dtypes[t->dtype].name, tl_dtypes[to].name);
  tl_status s = tl_tensor_new(to, t->rank, t->shape, out);
  if (s) return s;
  if ((s = tl_tensor_cast_into(*out, t))) {
    tl_tensor_release(*out);
    *out = NULL;
  }
  return s;
}

tl_status tl_tensor_cast_into(tl_tensor *dst, const tl_tensor *src) {
  if (dst->dtype == src->dtype) return tl_tensor_copy_into(dst, src);
  if (!tl_tensor_same_shape(dst, src) || src->dtype == TL_STRING || dst->dtype == TL_STRING)
    return tl_error(TL_INTERNAL, "cast_into: mismatched operands");
  tl_tensor *ops[2] = {dst, (tl_tensor *)src};
  cast_ctx c = {src->dtype, dst->dtype};
  cast_loop fast = typed_cast(dst->dtype, src->dtype);
  tl_iterate(2, ops, fast ? fast : cast_run, &c);
  return TL_OK;
}

/* ---- axes and broadcasting --------------------------------------------- */

tl_status tl_normalize_axis(const char *op, int64_t axis, int rank, int *out) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank || rank == 0)
    return tl_error(TL_INVALID_ARGUMENT, "%s%saxis %" PRId64 " is out of range for a tensor of rank %d%s",
                    op ? op : "", op ? ": " : "", axis, rank, rank ? "" : " (a scalar has no axes)");
  *out = (int)a;
  return TL_OK;
}

tl_status tl_broadcast_shapes(int ra, const int64_t *sa, int rb, const int64_t *sb, int *rout,
                              int64_t *sout) {
  int r = ra > rb ? ra : rb;
  for (int i = 0; i < r; i++) {
    int64_t da = i < r - ra ? 1 : sa[i - (r - ra)];
    int64_t db = i < r - rb ? 1 : sb[i - (r - rb)];
    if (da == db || db == 1) sout[i] = da;
    else if (da == 1) sout[i] = db;
    else {
      char x[200], y[200];
      return tl_error(TL_INVALID_ARGUMENT, "shapes %s and %s are incompatible for broadcasting (dimension %d: %" PRId64 " vs %" PRId64 ")",
                      tl_shape_format(ra, sa, x, sizeof x), tl_shape_format(rb, sb, y, sizeof y), i, da, db);
    }
  }
  *rout = r;
  return TL_OK;
}

tl_status tl_tensor_broadcast_view(tl_tensor *t, int rank, const int64_t *shape, tl_tensor **out) {
  if (rank < t->rank) return tl_error(TL_INVALID_ARGUMENT, "cannot broadcast to a lower rank");
  int64_t strides[TL_MAX_RANK];
  for (int i = 0; i < rank; i++) {
    int j = i - (rank - t->rank);
    if (j < 0) strides[i] = 0;
    else if (t->shape[j] == shape[i]) strides[i] = t->strides[j];
    else if (t->shape[j] == 1) strides[i] = 0;
    else {
      char a[200], b[200];
      return tl_error(TL_INVALID_ARGUMENT, "cannot broadcast %s to %s", tl_tensor_describe(t, a, sizeof a),
                      tl_shape_format(rank, shape, b, sizeof b));
    }
  }
  return tl_tensor_view(t->storage, t->dtype, rank, shape, strides, t->offset, out);
}
