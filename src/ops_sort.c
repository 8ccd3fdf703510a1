/* ops_sort.c — sort, argsort, top_k, unique.
 *
 * One engine: each row along the sorted axis is loaded into (key, index)
 * pairs — double keys for floating types (exact for every one of them),
 * int64 keys for integers and bool — and merge-sorted, which is stable, so
 * equal values keep their original order (argsort is always stable, top_k
 * prefers the lower index among ties, as TensorFlow documents). The outputs
 * are then gathered from the input by index, so values come back bit for bit
 * (-0.0 stays -0.0, NaN payloads survive).
 *
 * NaN ordering follows numpy and PyTorch: NaN sorts after every number
 * ascending and before every number descending (it is "largest"); top_k
 * therefore returns NaNs first. unique treats each NaN as distinct
 * (NaN != NaN), as TensorFlow's hash-based kernel does.
 *
 * Not here: string sorting (string tensors are a later issue).
 */
#include "tl.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pair_f {
  double key;
  int64_t idx;
} pair_f;

typedef struct pair_i {
  int64_t key;
  int64_t idx;
} pair_i;

/* Stable merge sort of n pairs (tmp has room for n). BEFORE(x, y) is true
 * when x must come strictly before y. */
#define MERGE_SORT(NAME, T, BEFORE)                                                \
  static void NAME(T *v, T *tmp, int64_t n) {                                      \
    for (int64_t i = 1; i < n; i++) { /* insertion sort runs of 16 */            \
      if (i % 16 == 0) continue;                                                   \
      T x = v[i];                                                                  \
      int64_t j = i;                                                               \
      for (; j % 16 != 0 && BEFORE(x, v[j - 1]); j--) v[j] = v[j - 1];            \
      v[j] = x;                                                                    \
    }                                                                              \
    T *src = v, *dst = tmp;                                                        \
    for (int64_t w = 16; w < n; w *= 2) {                                          \
      for (int64_t lo = 0; lo < n; lo += 2 * w) {                                  \
        int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n; \
        int64_t a = lo, b = mid, k = lo;                                           \
        while (a < mid && b < hi) dst[k++] = BEFORE(src[b], src[a]) ? src[b++] : src[a++]; \
        while (a < mid) dst[k++] = src[a++];                                       \
        while (b < hi) dst[k++] = src[b++];                                        \
      }                                                                            \
      T *t = src;                                                                  \
      src = dst;                                                                   \
      dst = t;                                                                     \
    }                                                                              \
    if (src != v) memcpy(v, src, sizeof(T) * (size_t)n);                           \
  }
#define ASC(x, y) ((x).key < (y).key)
#define DESC(x, y) ((x).key > (y).key)
MERGE_SORT(sort_f_asc, pair_f, ASC)
MERGE_SORT(sort_f_desc, pair_f, DESC)
MERGE_SORT(sort_i_asc, pair_i, ASC)
MERGE_SORT(sort_i_desc, pair_i, DESC)

/* Row loaders: n elements at stride st into keys (index = position). */
#define LOAD_F(NAME, T, CONV)                                                             \
  static void NAME(pair_f *out, const void *base, int64_t st, int64_t n) {                \
    const T *p = base;                                                                    \
    for (int64_t i = 0; i < n; i++) {                                                     \
      out[i].key = CONV(p[i * st]);                                                       \
      out[i].idx = i;                                                                     \
    }                                                                                     \
  }
#define LOAD_I(NAME, T)                                                                   \
  static void NAME(pair_i *out, const void *base, int64_t st, int64_t n) {                \
    const T *p = base;                                                                    \
    for (int64_t i = 0; i < n; i++) {                                                     \
      out[i].key = (int64_t)p[i * st];                                                    \
      out[i].idx = i;                                                                     \
    }                                                                                     \
  }
#define AS_DOUBLE(x) ((double)(x))
LOAD_F(load_f32, float, AS_DOUBLE)
LOAD_F(load_f64, double, AS_DOUBLE)
LOAD_F(load_f16, uint16_t, tl_half_to_float)
LOAD_F(load_bf16, uint16_t, tl_bf16_to_float)
LOAD_I(load_i8, int8_t)
LOAD_I(load_u8, uint8_t)
LOAD_I(load_i16, int16_t)
LOAD_I(load_i32, int32_t)
LOAD_I(load_i64, int64_t)

typedef void (*load_f_fn)(pair_f *, const void *, int64_t, int64_t);
typedef void (*load_i_fn)(pair_i *, const void *, int64_t, int64_t);

typedef struct sort_kind {
  load_f_fn lf; /* one of lf / li is set */
  load_i_fn li;
} sort_kind;

static tl_status sort_kind_of(tl_dtype d, sort_kind *k) {
  memset(k, 0, sizeof *k);
  switch (d) {
  case TL_FLOAT32: k->lf = load_f32; break;
  case TL_FLOAT64: k->lf = load_f64; break;
  case TL_FLOAT16: k->lf = load_f16; break;
  case TL_BFLOAT16: k->lf = load_bf16; break;
  case TL_INT8: k->li = load_i8; break;
  case TL_UINT8:
  case TL_BOOL: k->li = load_u8; break;
  case TL_INT16: k->li = load_i16; break;
  case TL_INT32: k->li = load_i32; break;
  case TL_INT64: k->li = load_i64; break;
  default:
    return tl_error(TL_UNIMPLEMENTED, "dtype %s cannot be sorted", tl_dtypes[d].name);
  }
  return TL_OK;
}

/* Sorts one row; writes the order (positions along the row) into perm.
 * scratch: room for 2*n pairs of 16 bytes. */
static void sort_row(const sort_kind *k, bool desc, const void *base, int64_t st, int64_t n, void *scratch,
                     int64_t *perm) {
  if (k->lf) {
    pair_f *v = scratch, *tmp = v + n;
    k->lf(v, base, st, n);
    /* NaNs out of the comparison: kept in order after (ascending) or before
     * (descending) the numbers. */
    int64_t m = 0, nn = 0;
    for (int64_t i = 0; i < n; i++) {
      if (isnan(v[i].key)) tmp[nn++] = v[i];
      else v[m++] = v[i];
    }
    (desc ? sort_f_desc : sort_f_asc)(v, tmp + nn, m);
    int64_t o = 0;
    if (desc)
      for (int64_t i = 0; i < nn; i++) perm[o++] = tmp[i].idx;
    for (int64_t i = 0; i < m; i++) perm[o++] = v[i].idx;
    if (!desc)
      for (int64_t i = 0; i < nn; i++) perm[o++] = tmp[i].idx;
  } else {
    pair_i *v = scratch, *tmp = v + n;
    k->li(v, base, st, n);
    (desc ? sort_i_desc : sort_i_asc)(v, tmp, n);
    for (int64_t i = 0; i < n; i++) perm[i] = v[i].idx;
  }
}

/* ---- sort / argsort / top_k: rows along one axis ------------------------ */

typedef enum { OUT_VALUES = 1, OUT_INDICES = 2 } out_mask;

typedef struct rows_job {
  sort_kind kind;
  bool desc;
  const tl_tensor *in;
  int64_t n;       /* row length */
  int64_t st;      /* input stride along the axis */
  int64_t keep;    /* elements kept per row (top_k's k; else n) */
  const int64_t *in_off;  /* element offset of each row's first element */
  const int64_t *out_off; /* output offset of each row's first element */
  int64_t out_st;  /* output stride along the axis */
  char *values;    /* NULL if not wanted */
  int32_t *indices;
  int failed;
} rows_job;

static void rows_units(int64_t begin, int64_t end, void *ctx) {
  rows_job *j = ctx;
  size_t es = tl_dtypes[j->in->dtype].size;
  void *scratch = malloc(32 * (size_t)(j->n ? j->n : 1));
  int64_t *perm = malloc(sizeof(int64_t) * (size_t)(j->n ? j->n : 1));
  if (!scratch || !perm) {
    __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    free(scratch);
    free(perm);
    return;
  }
  const char *data = j->in->storage->data;
  for (int64_t r = begin; r < end; r++) {
    const char *base = data + j->in_off[r] * (int64_t)es;
    sort_row(&j->kind, j->desc, base, j->st, j->n, scratch, perm);
    for (int64_t i = 0; i < j->keep; i++) {
      int64_t o = j->out_off[r] + i * j->out_st;
      if (j->values) memcpy(j->values + o * (int64_t)es, base + perm[i] * j->st * (int64_t)es, es);
      if (j->indices) j->indices[o] = (int32_t)perm[i];
    }
  }
  free(scratch);
  free(perm);
}

/* Offsets of the first element of every row along axis of a tensor with
 * the given shape and strides (and base offset). */
static int64_t *row_offsets(int rank, const int64_t *shape, const int64_t *strides, int64_t base, int axis,
                            int64_t nrows) {
  int64_t *off = malloc(sizeof(int64_t) * (size_t)(nrows ? nrows : 1));
  if (!off) return NULL;
  int64_t idx[TL_MAX_RANK] = {0};
  for (int64_t r = 0; r < nrows; r++) {
    int64_t o = base;
    for (int d = 0; d < rank; d++) o += idx[d] * strides[d];
    off[r] = o;
    for (int d = rank - 1; d >= 0; d--) {
      if (d == axis) continue;
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return off;
}

static tl_status parse_direction(const tl_attr *a, bool *desc) {
  const char *s = a->s ? a->s : "ASCENDING";
  if (strcmp(s, "ASCENDING") == 0) *desc = false;
  else if (strcmp(s, "DESCENDING") == 0) *desc = true;
  else return tl_error(TL_INVALID_ARGUMENT, "direction must be 'ASCENDING' or 'DESCENDING' (got '%s')", s);
  return TL_OK;
}

/* Runs the row engine: values and/or int32 indices of shape `shape`
 * (the input's shape with the axis length replaced by keep). */
static tl_status run_rows(const char *name, tl_tensor *t, int axis, bool desc, int64_t keep, unsigned want,
                          tl_tensor_list *out) {
  sort_kind kind;
  tl_status s = sort_kind_of(t->dtype, &kind);
  if (s) return s;
  int64_t n = t->shape[axis];
  if (n > INT32_MAX && (want & OUT_INDICES))
    return tl_error(TL_INVALID_ARGUMENT, "%s: the axis has more than 2^31-1 elements (indices are int32)", name);
  int64_t shape[TL_MAX_RANK];
  memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->rank);
  shape[axis] = keep;
  tl_tensor *vals = NULL, *idx = NULL;
  if ((want & OUT_VALUES) && (s = tl_tensor_new(t->dtype, t->rank, shape, &vals))) return s;
  if ((want & OUT_INDICES) && (s = tl_tensor_new(TL_INT32, t->rank, shape, &idx))) {
    tl_tensor_release(vals);
    return s;
  }
  int64_t nrows = n ? t->size / n : 0; /* keep <= n: nothing to do when n is 0 */
  const tl_tensor *o = vals ? vals : idx;
  int64_t *in_off = NULL, *out_off = NULL;
  if (nrows && keep) {
    in_off = row_offsets(t->rank, t->shape, t->strides, t->offset, axis, nrows);
    out_off = row_offsets(o->rank, o->shape, o->strides, 0, axis, nrows);
    if (!in_off || !out_off) s = tl_error(TL_RESOURCE_EXHAUSTED, "%s: out of memory", name);
    else {
      rows_job j = {kind, desc, t, n, t->strides[axis], keep, in_off, out_off, o->strides[axis],
                    vals ? tl_tensor_data(vals) : NULL, idx ? tl_tensor_data(idx) : NULL, 0};
      int64_t grain = 4096 / (n + 1) + 1;
      tl_parallel_for(nrows, grain, rows_units, &j);
      if (j.failed) s = tl_error(TL_RESOURCE_EXHAUSTED, "%s: out of memory", name);
    }
  }
  free(in_off);
  free(out_off);
  if (s) {
    tl_tensor_release(vals);
    tl_tensor_release(idx);
    return s;
  }
  if (vals && (s = tl_list_push(out, vals))) {
    tl_tensor_release(idx);
    return s;
  }
  if (idx) return tl_list_push(out, idx);
  return TL_OK;
}

static tl_status sort_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                          tl_tensor_list *out) {
  (void)n_in;
  int axis;
  bool desc;
  tl_status s;
  if ((s = tl_normalize_axis(op->name, attr[0].i, in[0]->rank, &axis)) || (s = parse_direction(&attr[1], &desc)))
    return s;
  return run_rows(op->name, in[0], axis, desc, in[0]->shape[axis], OUT_VALUES, out);
}

static tl_status argsort_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                             tl_tensor_list *out) {
  (void)n_in;
  int axis;
  bool desc;
  tl_status s;
  if ((s = tl_normalize_axis(op->name, attr[0].i, in[0]->rank, &axis)) || (s = parse_direction(&attr[1], &desc)))
    return s;
  /* attr[2] (stable): always stable. */
  return run_rows(op->name, in[0], axis, desc, in[0]->shape[axis], OUT_INDICES, out);
}

static tl_status top_k_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                           tl_tensor_list *out) {
  (void)n_in;
  tl_tensor *t = in[0];
  if (t->rank < 1) return tl_error(TL_INVALID_ARGUMENT, "input must have rank >= 1 (got a scalar)");
  int64_t k = attr[0].i, n = t->shape[t->rank - 1];
  if (k < 0) return tl_error(TL_INVALID_ARGUMENT, "k must be non-negative (got %" PRId64 ")", k);
  if (k > n)
    return tl_error(TL_INVALID_ARGUMENT, "input must have at least k=%" PRId64 " columns in its last dimension (it has %" PRId64 ")", k, n);
  /* attr[1] (sorted): results are always sorted, which satisfies both. */
  return run_rows(op->name, t, t->rank - 1, true, k, OUT_VALUES | OUT_INDICES, out);
}

/* ---- unique ------------------------------------------------------------ */

static tl_status unique_fwd(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                            tl_tensor_list *out) {
  (void)op;
  (void)n_in;
  tl_tensor *x = in[0];
  tl_dtype it = attr[0].dtype;
  if (x->rank != 1) return tl_error(TL_INVALID_ARGUMENT, "x must be a 1-D vector (got rank %d)", x->rank);
  if (it != TL_INT32 && it != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "out_idx must be int32 or int64 (got %s)", tl_dtypes[it].name);
  sort_kind kind;
  tl_status s = sort_kind_of(x->dtype, &kind);
  if (s) return s;
  int64_t n = x->shape[0];
  if (it == TL_INT32 && n > INT32_MAX) return tl_error(TL_INVALID_ARGUMENT, "x has more than 2^31-1 elements; use out_idx=int64");
  size_t es = tl_dtypes[x->dtype].size;
  void *scratch = malloc(32 * (size_t)(n ? n : 1));
  int64_t *perm = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
  int64_t *group = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));  /* group of each element */
  int64_t *gid = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));    /* group -> output id */
  int64_t *first = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));  /* output id -> position */
  tl_tensor *y = NULL, *idx = NULL;
  if (!scratch || !perm || !group || !gid || !first) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    goto done;
  }
  const char *base = tl_tensor_data(x);
  int64_t st = x->strides[0];
  sort_row(&kind, false, base, st, n, scratch, perm);
  /* Equal neighbours in sorted order share a group; NaNs never do. */
  int64_t ngroups = 0;
  for (int64_t i = 0; i < n; i++) {
    bool same = false;
    if (i > 0) {
      if (kind.lf) {
        pair_f pa[1], pb[1];
        kind.lf(pa, base + perm[i - 1] * st * (int64_t)es, 1, 1);
        kind.lf(pb, base + perm[i] * st * (int64_t)es, 1, 1);
        same = pa[0].key == pb[0].key;
      } else {
        pair_i pa[1], pb[1];
        kind.li(pa, base + perm[i - 1] * st * (int64_t)es, 1, 1);
        kind.li(pb, base + perm[i] * st * (int64_t)es, 1, 1);
        same = pa[0].key == pb[0].key;
      }
    }
    if (!same) gid[ngroups++] = -1;
    group[perm[i]] = ngroups - 1;
  }
  /* Ids in order of first occurrence. */
  int64_t nid = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t g = group[i];
    if (gid[g] < 0) {
      gid[g] = nid;
      first[nid++] = i;
    }
  }
  int64_t yshape[1] = {nid};
  if ((s = tl_tensor_new(x->dtype, 1, yshape, &y)) || (s = tl_tensor_new(it, 1, x->shape, &idx))) goto done;
  char *yd = tl_tensor_data(y);
  for (int64_t i = 0; i < nid; i++) memcpy(yd + i * (int64_t)es, base + first[i] * st * (int64_t)es, es);
  if (it == TL_INT32)
    for (int64_t i = 0; i < n; i++) ((int32_t *)tl_tensor_data(idx))[i] = (int32_t)gid[group[i]];
  else
    for (int64_t i = 0; i < n; i++) ((int64_t *)tl_tensor_data(idx))[i] = gid[group[i]];
done:
  free(scratch);
  free(perm);
  free(group);
  free(gid);
  free(first);
  if (!s) {
    s = tl_list_push(out, y);
    y = NULL;
    if (!s) {
      s = tl_list_push(out, idx);
      idx = NULL;
    }
  }
  tl_tensor_release(y);
  tl_tensor_release(idx);
  return s;
}

/* ---- gradients (written with ops) -------------------------------------- */

/* sort: the gradient goes back through the inverse permutation. With the
 * axis swapped to the end, perm = argsort(x), inv = argsort(perm), and
 * dx = take_along_last_axis(g, inv). */
static tl_status sort_grad(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                           tl_tensor *const *out, int n_out, tl_tensor *const *gout, tl_tensor **gin) {
  (void)n_in;
  (void)out;
  (void)n_out;
  tl_tensor *x = in[0];
  int axis, r = x->rank;
  tl_status s = tl_normalize_axis(op->name, attr[0].i, r, &axis);
  if (s) return s;
  int64_t swap[TL_MAX_RANK];
  for (int d = 0; d < r; d++) swap[d] = d;
  swap[axis] = r - 1;
  swap[r - 1] = axis;
  bool moved = axis != r - 1;
  tl_named_attr perm_attr = TL_A_INTS("perm", r, swap);
  tl_tensor *xt = NULL, *gt = NULL, *p = NULL, *inv = NULL, *dt = NULL;
  if (moved) {
    if ((s = tl_call("transpose", 1, &x, 1, &perm_attr, &xt)) ||
        (s = tl_call("transpose", 1, &gout[0], 1, &perm_attr, &gt)))
      goto done;
  } else {
    xt = tl_tensor_retain(x);
    gt = tl_tensor_retain(gout[0]);
  }
  const char *dir = attr[1].s ? attr[1].s : "ASCENDING";
  if ((s = tl_call("argsort", 1, &xt, 2, (tl_named_attr[]){TL_A_INT("axis", -1), TL_A_STRING("direction", dir)}, &p)) ||
      (s = tl_call("argsort", 1, &p, 1, (tl_named_attr[]){TL_A_INT("axis", -1)}, &inv)))
    goto done;
  tl_tensor *pair[2] = {gt, inv};
  if ((s = tl_call("gather", 2, pair, 2, (tl_named_attr[]){TL_A_INT("axis", r - 1), TL_A_INT("batch_dims", r - 1)}, &dt)))
    goto done;
  if (moved) s = tl_call("transpose", 1, &dt, 1, &perm_attr, &gin[0]);
  else gin[0] = tl_tensor_retain(dt);
done:
  tl_tensor_release(xt);
  tl_tensor_release(gt);
  tl_tensor_release(p);
  tl_tensor_release(inv);
  tl_tensor_release(dt);
  return s;
}

/* top_k: dx = sum_k one_hot(indices, n) * g[..., None] (values only; the
 * indices output is not differentiable). */
static tl_status top_k_grad(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr,
                            tl_tensor *const *out, int n_out, tl_tensor *const *gout, tl_tensor **gin) {
  (void)op;
  (void)n_in;
  (void)attr;
  (void)n_out;
  tl_tensor *x = in[0], *g = gout[0];
  if (!g) return TL_OK;
  tl_tensor *oh = NULL, *ge = NULL, *prod = NULL;
  int64_t n = x->shape[x->rank - 1];
  tl_status s;
  if (!(s = tl_call("one_hot", 1, &out[1], 2, (tl_named_attr[]){TL_A_INT("depth", n), TL_A_DTYPE("dtype", x->dtype)}, &oh)) &&
      !(s = tl_call("expand_dims", 1, &g, 1, (tl_named_attr[]){TL_A_INT("axis", -1)}, &ge))) {
    tl_tensor *pair[2] = {oh, ge};
    if (!(s = tl_call("multiply", 2, pair, 0, NULL, &prod)))
      s = tl_call("reduce_sum", 1, &prod, 1, (tl_named_attr[]){TL_A_INTS("axis", 1, (int64_t[]){-2})}, &gin[0]);
  }
  tl_tensor_release(oh);
  tl_tensor_release(ge);
  tl_tensor_release(prod);
  return s;
}

tl_op_def tl_ops_sort[] = {
    {.name = "sort", .inputs = "values", .attrs = "axis:int=-1, direction:string=ASCENDING", .forward = sort_fwd,
     .grad = sort_grad, .api = "tf.sort",
     .doc = "Sorted values along axis (stable; NaN last ascending, first descending)."},
    {.name = "argsort", .inputs = "values", .attrs = "axis:int=-1, direction:string=ASCENDING, stable:bool=false",
     .forward = argsort_fwd, .flags = TL_OP_NO_GRADIENT, .api = "tf.argsort",
     .doc = "int32 indices that sort values along axis (always stable)."},
    {.name = "top_k", .inputs = "input", .attrs = "k:int=1, sorted:bool=true", .forward = top_k_fwd, .grad = top_k_grad,
     .api = "tf.math.top_k tf.nn.top_k",
     .doc = "The k largest entries of the last dimension: values, int32 indices (ties: lower index first)."},
    {.name = "unique", .inputs = "x", .attrs = "out_idx:dtype=int32", .forward = unique_fwd,
     .flags = TL_OP_NO_GRADIENT, .api = "tf.unique",
     .doc = "Unique elements of a 1-D tensor in order of first occurrence, and each element's index into them."},
    {0},
};
