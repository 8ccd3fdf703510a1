/* ops/sort.c — sort, argsort, top_k, unique.
 *
 * One engine: each row along the sorted axis is loaded into (key, index)
 * pairs, the key an unsigned integer whose order is the values' order (see
 * key_f32), and sorted by a stable LSD radix sort (insertion sort for short
 * rows), so equal values keep their original order: argsort is always
 * stable, top_k prefers the lower index among ties, as TensorFlow documents.
 * The outputs are then gathered from the input by index, so values come
 * back bit for bit (-0.0 stays -0.0, NaN payloads survive).
 *
 * NaN ordering follows numpy and PyTorch: NaN sorts after every number
 * ascending and before every number descending (it is "largest"); top_k
 * therefore returns NaNs first. unique treats each NaN as distinct
 * (NaN != NaN), as TensorFlow's hash-based kernel does.
 *
 * sort, argsort and top_k fill outputs the dispatcher allocated from the
 * shape rule. unique's output length is the number of distinct values, so
 * it is TL_OP_VALUE_SHAPE (its rule gives [?] for y) and allocates y.
 *
 * Not here: string sorting (string tensors are a later issue).
 */
#include "ops/movement.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A row element: an order-preserving unsigned key and its position. */
typedef struct rpair {
  uint64_t key;
  int64_t idx;
} rpair;

/* Keys: unsigned integers whose order is the values' order. Floats flip
 * their bits (negatives entirely, positives' sign bit); -0.0 becomes 0.0
 * (they are equal) and every NaN becomes the largest key of its width.
 * Signed integers flip their sign bit. Descending order complements the
 * key within its width, so stability still prefers the lower index. */
#define NAN_KEY32 UINT64_C(0xFFFFFFFF)
#define NAN_KEY64 UINT64_MAX

static inline uint64_t key_f32(float v) {
  if (v != v) return NAN_KEY32;
  uint32_t b;
  if (v == 0) v = 0; /* -0.0 -> 0.0 */
  memcpy(&b, &v, 4);
  return (b & 0x80000000u) ? (uint32_t)~b : (b | 0x80000000u);
}

static inline uint64_t key_f64(double v) {
  if (v != v) return NAN_KEY64;
  uint64_t b;
  if (v == 0) v = 0;
  memcpy(&b, &v, 8);
  return (b >> 63) ? ~b : (b | (UINT64_C(1) << 63));
}

#define LOAD_KEYS(NAME, T, KEY)                                                         \
  static void NAME(rpair *out, const void *base, int64_t st, int64_t n, uint64_t flip) { \
    const T *p = base;                                                                  \
    for (int64_t i = 0; i < n; i++) {                                                   \
      out[i].key = (KEY(p[i * st])) ^ flip;                                             \
      out[i].idx = i;                                                                   \
    }                                                                                   \
  }
#define K_F32(x) key_f32(x)
#define K_F64(x) key_f64(x)
#define K_F16(x) key_f32(tl_half_to_float(x))
#define K_BF16(x) key_f32(tl_bf16_to_float(x))
#define K_I8(x) ((uint64_t)(uint8_t)((uint8_t)(x) ^ 0x80u))
#define K_U8(x) ((uint64_t)(x))
#define K_I16(x) ((uint64_t)(uint16_t)((uint16_t)(x) ^ 0x8000u))
#define K_I32(x) ((uint64_t)((uint32_t)(x) ^ 0x80000000u))
#define K_I64(x) ((uint64_t)(x) ^ (UINT64_C(1) << 63))
LOAD_KEYS(load_f32, float, K_F32)
LOAD_KEYS(load_f64, double, K_F64)
LOAD_KEYS(load_f16, uint16_t, K_F16)
LOAD_KEYS(load_bf16, uint16_t, K_BF16)
LOAD_KEYS(load_i8, int8_t, K_I8)
LOAD_KEYS(load_u8, uint8_t, K_U8)
LOAD_KEYS(load_i16, int16_t, K_I16)
LOAD_KEYS(load_i32, int32_t, K_I32)
LOAD_KEYS(load_i64, int64_t, K_I64)

typedef struct sort_kind {
  void (*load)(rpair *, const void *, int64_t, int64_t, uint64_t);
  int bytes;        /* key width */
  uint64_t nan_key; /* floats: the key every NaN gets; else 0 (none) */
} sort_kind;

static tl_status sort_kind_of(tl_dtype d, sort_kind *k) {
  switch (d) {
  case TL_FLOAT32: *k = (sort_kind){load_f32, 4, NAN_KEY32}; break;
  case TL_FLOAT64: *k = (sort_kind){load_f64, 8, NAN_KEY64}; break;
  case TL_FLOAT16: *k = (sort_kind){load_f16, 4, NAN_KEY32}; break;
  case TL_BFLOAT16: *k = (sort_kind){load_bf16, 4, NAN_KEY32}; break;
  case TL_INT8: *k = (sort_kind){load_i8, 1, 0}; break;
  case TL_UINT8:
  case TL_BOOL: *k = (sort_kind){load_u8, 1, 0}; break;
  case TL_INT16: *k = (sort_kind){load_i16, 2, 0}; break;
  case TL_INT32: *k = (sort_kind){load_i32, 4, 0}; break;
  case TL_INT64: *k = (sort_kind){load_i64, 8, 0}; break;
  default:
    return tl_error(TL_UNIMPLEMENTED, "dtype %s cannot be sorted", tl_dtypes[d].name);
  }
  return TL_OK;
}

/* Stable sort by key: insertion sort for short rows, else LSD radix sort
 * on bytes, skipping bytes that are the same in every key. */
static void key_sort(rpair *v, rpair *tmp, int64_t n, int bytes) {
  if (n <= 48) {
    for (int64_t i = 1; i < n; i++) {
      rpair x = v[i];
      int64_t j = i;
      for (; j > 0 && x.key < v[j - 1].key; j--) v[j] = v[j - 1];
      v[j] = x;
    }
    return;
  }
  int64_t (*cnt)[256] = calloc((size_t)bytes, sizeof *cnt);
  if (!cnt) { /* no room for counters: a slower sort that needs none */
    for (int64_t w = 1; w < n; w *= 2) {
      for (int64_t lo = 0; lo < n; lo += 2 * w) {
        int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, a = lo, b = mid, k = lo;
        while (a < mid && b < hi) tmp[k++] = v[b].key < v[a].key ? v[b++] : v[a++];
        while (a < mid) tmp[k++] = v[a++];
        while (b < hi) tmp[k++] = v[b++];
      }
      memcpy(v, tmp, sizeof *v * (size_t)n);
    }
    return;
  }
  for (int64_t i = 0; i < n; i++)
    for (int b = 0; b < bytes; b++) cnt[b][(v[i].key >> (8 * b)) & 255]++;
  rpair *src = v, *dst = tmp;
  for (int b = 0; b < bytes; b++) {
    int64_t *c = cnt[b];
    if (c[(src[0].key >> (8 * b)) & 255] == n) continue; /* one digit everywhere */
    int64_t sum = 0;
    for (int d = 0; d < 256; d++) {
      int64_t t = c[d];
      c[d] = sum;
      sum += t;
    }
    for (int64_t i = 0; i < n; i++) dst[c[(src[i].key >> (8 * b)) & 255]++] = src[i];
    rpair *t = src;
    src = dst;
    dst = t;
  }
  if (src != v) memcpy(v, src, sizeof *v * (size_t)n);
  free(cnt);
}

/* Sorts one row; writes the order (positions along the row) into perm.
 * scratch: room for 2*n pairs. */
static void sort_row(const sort_kind *k, bool desc, const void *base, int64_t st, int64_t n, rpair *scratch,
                     int64_t *perm) {
  uint64_t flip = desc ? (k->bytes == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * k->bytes)) - 1) : 0;
  k->load(scratch, base, st, n, flip);
  key_sort(scratch, scratch + n, n, k->bytes);
  if (perm)
    for (int64_t i = 0; i < n; i++) perm[i] = scratch[i].idx;
}

/* ---- sort / argsort / top_k: rows along one axis ------------------------ */

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
  rpair *scratch = malloc(2 * sizeof(rpair) * (size_t)(j->n ? j->n : 1));
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

/* Runs the row engine into the outputs the dispatcher allocated: values
 * and/or int32 indices (the input's shape with the axis length replaced by
 * keep). */
static tl_status run_rows(const char *name, tl_tensor *t, int axis, bool desc, tl_tensor *vals, tl_tensor *idx) {
  sort_kind kind;
  tl_status s = sort_kind_of(t->dtype, &kind);
  if (s) return s;
  int64_t n = t->shape[axis];
  const tl_tensor *o = vals ? vals : idx;
  int64_t keep = o->shape[axis];
  int64_t nrows = n ? t->size / n : 0; /* keep <= n: nothing to do when n is 0 */
  if (!nrows || !keep) return TL_OK;
  int64_t *in_off = row_offsets(t->rank, t->shape, t->strides, t->offset, axis, nrows);
  int64_t *out_off = row_offsets(o->rank, o->shape, o->strides, 0, axis, nrows);
  if (!in_off || !out_off) s = tl_error(TL_RESOURCE_EXHAUSTED, "%s: out of memory", name);
  else {
    rows_job j = {kind, desc, t, n, t->strides[axis], keep, in_off, out_off, o->strides[axis],
                  vals ? tl_tensor_data(vals) : NULL, idx ? tl_tensor_data(idx) : NULL, 0};
    int64_t grain = 4096 / (n + 1) + 1;
    tl_parallel_for(nrows, grain, rows_units, &j);
    if (j.failed) s = tl_error(TL_RESOURCE_EXHAUSTED, "%s: out of memory", name);
  }
  free(in_off);
  free(out_off);
  return s;
}

/* What sort and argsort return (their records' .impl). */
typedef struct sort_impl {
  bool indices;
} sort_impl;
static const sort_impl sort_values = {false}, sort_indices = {true};

/* The checks of sort and argsort: axis, direction, a sortable dtype, and
 * room for int32 indices along the axis. *axis is -1 for an unknown rank. */
static tl_status sort_plan(const tl_op_def *op, const tl_meta *m, const tl_attr *attr, bool indices, int *axis, bool *desc) {
  sort_kind kind;
  tl_status s;
  *axis = -1;
  if (m->rank >= 0 && (s = tl_normalize_axis(op->name, attr[0].i, m->rank, axis))) return s;
  if ((s = parse_direction(&attr[1], desc)) || (s = sort_kind_of(m->dtype, &kind))) return s;
  if (indices && *axis >= 0 && m->shape[*axis] > INT32_MAX)
    return tl_error(TL_INVALID_ARGUMENT, "%s: the axis has more than 2^31-1 elements (indices are int32)", op->name);
  return TL_OK;
}

static tl_status sort_infer(TL_INFER_ARGS) {
  (void)n_in;
  int axis;
  bool desc;
  tl_status s = sort_plan(op, in[0], attr, ((const sort_impl *)op->impl)->indices, &axis, &desc);
  return s ? s : tl_meta_push_like(out, in[0], ((const sort_impl *)op->impl)->indices ? TL_INT32 : TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* sort (values) and argsort (indices): argsort is always
 * stable, whatever attr[2] (stable) says. */
static tl_status sort_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  int axis;
  bool desc;
  tl_status s = sort_plan(op, &in[0]->meta, attr, ((const sort_impl *)op->impl)->indices, &axis, &desc);
  if (s) return s;
  tl_tensor *r = tl_out(out, 0);
  bool indices = ((const sort_impl *)op->impl)->indices;
  return run_rows(op->name, in[0], axis, desc, indices ? NULL : r, indices ? r : NULL);
}

static tl_status top_k_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *t = in[0];
  sort_kind kind;
  int64_t k = attr[0].i, shape[TL_MAX_RANK];
  tl_status s = sort_kind_of(t->dtype, &kind);
  if (s) return s;
  if (t->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "input must have rank >= 1 (got a scalar)");
  if (k < 0) return tl_error(TL_INVALID_ARGUMENT, "k must be non-negative (got %" PRId64 ")", k);
  if (t->rank > 0) {
    int64_t n = t->shape[t->rank - 1];
    if (n >= 0 && k > n)
      return tl_error(TL_INVALID_ARGUMENT, "input must have at least k=%" PRId64 " columns in its last dimension (it has %" PRId64 ")",
                      k, n);
    if (n > INT32_MAX) return tl_error(TL_INVALID_ARGUMENT, "top_k: the axis has more than 2^31-1 elements (indices are int32)");
    memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->rank);
    shape[t->rank - 1] = k;
  }
  if ((s = tl_meta_emit(out, t->dtype, t->rank, shape))) return s;
  return tl_meta_emit(out, TL_INT32, t->rank, shape);
}

/* attr[1] (sorted): results are always sorted, which satisfies both. */
static tl_status top_k_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_tensor *t = in[0];
  return run_rows(op->name, t, t->rank - 1, true, tl_out(out, 0), tl_out(out, 1));
}

/* ---- unique ------------------------------------------------------------ */

/* The checks of unique: a vector of a sortable dtype, int32 or int64 ids
 * that can number its elements. */
static tl_status unique_check(const tl_meta *x, tl_dtype it, sort_kind *kind) {
  if (x->rank >= 0 && x->rank != 1) return tl_error(TL_INVALID_ARGUMENT, "x must be a 1-D vector (got rank %d)", x->rank);
  if (it != TL_INT32 && it != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "out_idx must be int32 or int64 (got %s)", tl_dtypes[it].name);
  tl_status s = x->dtype == TL_STRING ? TL_OK : sort_kind_of(x->dtype, kind); /* strings: hashed */
  if (s) return s;
  if (it == TL_INT32 && x->rank == 1 && x->shape[0] > INT32_MAX)
    return tl_error(TL_INVALID_ARGUMENT, "x has more than 2^31-1 elements; use out_idx=int64");
  return TL_OK;
}

/* y: as many elements as x has distinct values (unknown); idx: one per x. */
static tl_status unique_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  sort_kind kind;
  int64_t unknown = -1, n = in[0]->rank == 1 ? in[0]->shape[0] : -1;
  tl_status s = unique_check(in[0], attr[0].dtype, &kind);
  if (!s) s = tl_meta_emit(out, in[0]->dtype, 1, &unknown);
  return s ? s : tl_meta_emit(out, attr[0].dtype, 1, &n);
}

/* unique of strings: first occurrences found through a hash table of
 * Fingerprint64s (ops/strings.c), the elements compared by bytes; y copies
 * the elements and the dispatcher gives it its own bytes. */
uint64_t tl_fingerprint64(const char *s, size_t len);

static bool str_same(const tl_string *a, const tl_string *b) {
  return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, (size_t)a->len) == 0);
}

static tl_status unique_strings(tl_tensor *x, tl_dtype it, tl_tensor_list *out) {
  int64_t n = x->shape[0], cap = 16;
  while (cap < 2 * n) cap *= 2;
  int64_t *slot = malloc(sizeof *slot * (size_t)cap), *ids = malloc(sizeof *ids * (size_t)(n ? n : 1));
  int64_t *first = malloc(sizeof *first * (size_t)(n ? n : 1));
  tl_tensor *y = NULL, *idx = NULL;
  tl_status s = slot && ids && first ? TL_OK : tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  const tl_string *e = tl_tensor_data(x);
  int64_t st = x->strides[0], nid = 0;
  for (int64_t k = 0; !s && k < cap; k++) slot[k] = -1;
  for (int64_t i = 0; !s && i < n; i++) {
    const tl_string *v = &e[i * st];
    uint64_t h = tl_fingerprint64(v->data ? v->data : "", (size_t)v->len) & (uint64_t)(cap - 1);
    while (slot[h] >= 0 && !str_same(&e[first[slot[h]] * st], v)) h = (h + 1) & (uint64_t)(cap - 1);
    if (slot[h] < 0) {
      slot[h] = nid;
      first[nid++] = i;
    }
    ids[i] = slot[h];
  }
  int64_t yshape[1] = {nid};
  if (!s && !(s = tl_tensor_new(TL_STRING, 1, yshape, &y)) && !(s = tl_tensor_new(it, 1, x->shape, &idx))) {
    tl_string *yd = tl_tensor_data(y);
    for (int64_t k = 0; k < nid; k++) yd[k] = e[first[k] * st];
    for (int64_t i = 0; i < n; i++) tl_store_i64(tl_tensor_data(idx), it, i, ids[i]);
    s = tl_list_push(out, y);
    y = NULL;
    if (!s) s = tl_list_push(out, idx);
    idx = NULL;
  }
  tl_tensor_release(y);
  tl_tensor_release(idx);
  free(slot);
  free(ids);
  free(first);
  return s;
}

static tl_status unique_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *x = in[0];
  tl_dtype it = attr[0].dtype;
  sort_kind kind;
  tl_status s = unique_check(&x->meta, it, &kind);
  if (s) return s;
  if (x->dtype == TL_STRING) return unique_strings(x, it, out);
  int64_t n = x->shape[0];
  size_t es = tl_dtypes[x->dtype].size;
  rpair *scratch = malloc(2 * sizeof(rpair) * (size_t)(n ? n : 1));
  int64_t *group = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));  /* group of each element */
  int64_t *gid = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));    /* group -> output id */
  int64_t *first = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));  /* output id -> position */
  tl_tensor *y = NULL, *idx = NULL;
  if (!scratch || !group || !gid || !first) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    goto done;
  }
  const char *base = tl_tensor_data(x);
  int64_t st = x->strides[0];
  sort_row(&kind, false, base, st, n, scratch, NULL);
  /* Equal neighbours in sorted order share a group; NaNs never do. */
  int64_t ngroups = 0;
  for (int64_t i = 0; i < n; i++) {
    uint64_t key = scratch[i].key;
    bool same = i > 0 && key == scratch[i - 1].key && !(kind.nan_key && key == kind.nan_key);
    if (!same) gid[ngroups++] = -1;
    group[scratch[i].idx] = ngroups - 1;
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
static tl_status sort_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
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
        (s = tl_call("transpose", 1, &grad_out[0], 1, &perm_attr, &gt)))
      goto done;
  } else {
    xt = tl_tensor_retain(x);
    gt = tl_tensor_retain(grad_out[0]);
  }
  const char *dir = attr[1].s ? attr[1].s : "ASCENDING";
  if ((s = tl_call("argsort", 1, &xt, 2, (tl_named_attr[]){TL_A_INT("axis", -1), TL_A_STRING("direction", dir)}, &p)) ||
      (s = tl_call("argsort", 1, &p, 1, (tl_named_attr[]){TL_A_INT("axis", -1)}, &inv)))
    goto done;
  tl_tensor *pair[2] = {gt, inv};
  if ((s = tl_call("gather", 2, pair, 2, (tl_named_attr[]){TL_A_INT("axis", r - 1), TL_A_INT("batch_dims", r - 1)}, &dt)))
    goto done;
  if (moved) s = tl_call("transpose", 1, &dt, 1, &perm_attr, &grad_in[0]);
  else grad_in[0] = tl_tensor_retain(dt);
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
static tl_status top_k_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_tensor *x = in[0], *g = grad_out[0];
  if (!g) return TL_OK;
  tl_tensor *oh = NULL, *ge = NULL, *prod = NULL;
  int64_t n = x->shape[x->rank - 1];
  tl_status s;
  if (!(s = tl_call("one_hot", 1, &out[1], 2, (tl_named_attr[]){TL_A_INT("depth", n), TL_A_DTYPE("dtype", x->dtype)}, &oh)) &&
      !(s = tl_call("expand_dims", 1, &g, 1, (tl_named_attr[]){TL_A_INT("axis", -1)}, &ge))) {
    tl_tensor *pair[2] = {oh, ge};
    if (!(s = tl_call("multiply", 2, pair, 0, NULL, &prod)))
      s = tl_call("reduce_sum", 1, &prod, 1, (tl_named_attr[]){TL_A_INTS("axis", 1, (int64_t[]){-2})}, &grad_in[0]);
  }
  tl_tensor_release(oh);
  tl_tensor_release(ge);
  tl_tensor_release(prod);
  return s;
}

tl_op_def tl_ops_sort[] = {
    {.name = "sort", .inputs = "values", .attrs = "axis:int=-1, direction:string=ASCENDING", .infer = sort_infer,
     .kernel[TL_CPU] = sort_kernel, .grad = sort_grad, .impl = &sort_values, .api = "tf.sort",
     .doc = "Sorted values along axis (stable; NaN last ascending, first descending)."},
    {.name = "argsort", .inputs = "values", .attrs = "axis:int=-1, direction:string=ASCENDING, stable:bool=false",
     .infer = sort_infer, .kernel[TL_CPU] = sort_kernel, .impl = &sort_indices, .flags = TL_OP_NO_GRADIENT,
     .api = "tf.argsort",
     .doc = "int32 indices that sort values along axis (always stable)."},
    {.name = "top_k", .inputs = "input", .attrs = "k:int=1, sorted:bool=true", .infer = top_k_infer,
     .kernel[TL_CPU] = top_k_kernel, .grad = top_k_grad,
     .api = "tf.math.top_k tf.nn.top_k",
     .doc = "The k largest entries of the last dimension: values, int32 indices (ties: lower index first)."},
    {.name = "unique", .inputs = "x", .attrs = "out_idx:dtype=int32", .infer = unique_infer,
     .kernel[TL_CPU] = unique_kernel, .flags = TL_OP_NO_GRADIENT | TL_OP_VALUE_SHAPE, .api = "tf.unique",
     .doc = "Unique elements of a 1-D tensor in order of first occurrence, and each element's index into them."},
    {0},
};
