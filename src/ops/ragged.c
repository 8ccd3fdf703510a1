/* ops/ragged.c — the index arithmetic of ragged tensors, and unsorted
 * segment reductions.
 *
 * A RaggedTensor (lua/lragged.c, stdlib/tlua/ragged.lua) is flat_values
 * plus one int64 row_splits vector per ragged dimension. The ops here work
 * on those components as plain tensors, so everything a ragged tensor does
 * is an ordinary registry op that traces, saves and runs on any device.
 *
 * Invariants: every op that reads row_splits checks what it relies on
 * (rank 1, first entry 0, non-decreasing, the last entry matching the
 * values it indexes) before it writes anything, so bad splits are an
 * InvalidArgument error, never an out-of-bounds access.
 *
 * What these ops deliberately do not do: move values. They compute int64
 * positions into flat_values (ragged_gather_indices, ragged_to_dense_indices,
 * ragged_from_dense_indices) and the Lua side moves the values with the
 * gather op, which handles every dtype (strings included) and carries the
 * gradient. Only the unsorted_segment_* reductions read values (numeric
 * dtypes only).
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/grad_temps.h"
#include "ops/movement.h"

/* ---- shared helpers ------------------------------------------------------ */

static bool is_index_dtype(tl_dtype d) { return d == TL_INT32 || d == TL_INT64; }

/* The entries of a rank-0 or rank-1 int32/int64 tensor (any strides) as a
 * malloc'd int64 array (at least one slot); *n gets the count. */
static tl_status load_index(const tl_tensor *t, int64_t **out, int64_t *n) {
  int64_t cnt = t->rank == 0 ? 1 : t->shape[0];
  int64_t st = t->rank == 0 ? 0 : t->strides[0];
  int64_t *v = malloc(sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
  if (!v) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  if (t->dtype == TL_INT64) {
    const int64_t *p = tl_tensor_data(t);
    for (int64_t i = 0; i < cnt; i++) v[i] = p[i * st];
  } else {
    const int32_t *p = tl_tensor_data(t);
    for (int64_t i = 0; i < cnt; i++) v[i] = p[i * st];
  }
  *out = v;
  *n = cnt;
  return TL_OK;
}

/* Checks row_splits (n entries) as the splits of `what` (0-based level
 * `level`) over nvals values (-1: whatever the last entry says). */
static tl_status check_splits(const int64_t *s, int64_t n, int64_t nvals, int level) {
  if (n < 1) return tl_error(TL_INVALID_ARGUMENT, "row_splits %d must have at least one entry (it is empty)", level);
  if (s[0] != 0)
    return tl_error(TL_INVALID_ARGUMENT, "row_splits %d must start with 0 (it starts with %lld)", level, (long long)s[0]);
  for (int64_t i = 1; i < n; i++)
    if (s[i] < s[i - 1])
      return tl_error(TL_INVALID_ARGUMENT,
                      "row_splits %d must be non-decreasing (entry %lld is %lld, after %lld)", level, (long long)i,
                      (long long)s[i], (long long)s[i - 1]);
  if (nvals >= 0 && s[n - 1] != nvals)
    return tl_error(TL_INVALID_ARGUMENT,
                    "row_splits %d must end with the number of values it splits, %lld (it ends with %lld)", level,
                    (long long)nvals, (long long)s[n - 1]);
  return TL_OK;
}

static tl_status check_splits_meta(const tl_meta *m, int level) {
  if (m->dtype != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "row_splits %d must be int64 (got %s)", level, tl_dtypes[m->dtype].name);
  if (m->rank >= 0 && m->rank != 1)
    return tl_error(TL_INVALID_ARGUMENT, "row_splits %d must be a vector (got rank %d)", level, m->rank);
  return TL_OK;
}

static tl_status check_index_meta(const tl_meta *m, const char *name, int max_rank) {
  if (!is_index_dtype(m->dtype))
    return tl_error(TL_INVALID_ARGUMENT, "%s must be int32 or int64 (got %s)", name, tl_dtypes[m->dtype].name);
  if (m->rank >= 0 && m->rank > max_rank)
    return tl_error(TL_INVALID_ARGUMENT, "%s must have rank at most %d (got rank %d)", name, max_rank, m->rank);
  return TL_OK;
}

static tl_status new_i64(int rank, const int64_t *shape, tl_tensor **out) {
  return tl_tensor_new(TL_INT64, rank, shape, out);
}

/* Pushes a new int64 vector holding v[0..n). */
static tl_status push_i64_vector(tl_tensor_list *out, const int64_t *v, int64_t n) {
  tl_tensor *t;
  tl_status s = new_i64(1, &n, &t);
  if (s) return s;
  if (n) memcpy(tl_tensor_data(t), v, sizeof(int64_t) * (size_t)n);
  return tl_list_push(out, t);
}

/* The loaded nested splits of a ragged value: k levels, each validated
 * against the next level's row count (the last against nvals). */
typedef struct nested {
  int k;
  int64_t *s[TL_MAX_RANK];
  int64_t n[TL_MAX_RANK];
} nested;

static void nested_free(nested *ns) {
  for (int i = 0; i < ns->k; i++) free(ns->s[i]);
  ns->k = 0;
}

static tl_status nested_load(tl_tensor *const *splits, int k, int64_t nvals, nested *ns) {
  ns->k = 0;
  if (k > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "too many ragged dimensions (%d)", k);
  for (int i = 0; i < k; i++) {
    tl_status s = check_splits_meta(&splits[i]->meta, i);
    if (!s) s = load_index(splits[i], &ns->s[i], &ns->n[i]);
    if (s) {
      nested_free(ns);
      return s;
    }
    ns->k = i + 1;
  }
  for (int i = 0; i < k; i++) {
    int64_t below = i + 1 < k ? ns->n[i + 1] - 1 : nvals;
    tl_status s = check_splits(ns->s[i], ns->n[i], below, i);
    if (s) {
      nested_free(ns);
      return s;
    }
  }
  return TL_OK;
}

/* The shape rule run on a kernel's own inputs: the dispatcher skips it for
 * value-shaped ops (TL_OP_VALUE_SHAPE), so their kernels call this first
 * to get the same checks and messages. */
static tl_status recheck(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr) {
  const tl_meta *m[TL_MAX_RANK + 4];
  if (n_in > (int)(sizeof m / sizeof m[0])) return tl_error(TL_INVALID_ARGUMENT, "too many inputs (%d)", n_in);
  for (int i = 0; i < n_in; i++) m[i] = &in[i]->meta;
  tl_meta_list out;
  tl_meta_list_init(&out);
  tl_status s = op->infer(op, m, n_in, attr, &out);
  tl_meta_list_free(&out);
  return s;
}

/* ---- ragged_validate_splits ---------------------------------------------- */

static tl_status validate_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = check_splits_meta(in[0], 0);
  if (s) return s;
  if (in[1]->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "values must have rank at least 1 (got a scalar)");
  return tl_meta_push_like(out, in[0], TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status validate_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  int64_t *v, n;
  tl_status s = load_index(in[0], &v, &n);
  if (s) return s;
  s = check_splits(v, n, in[1]->shape[0], 0);
  if (!s) memcpy(tl_tensor_data(tl_out(out, 0)), v, sizeof(int64_t) * (size_t)n);
  free(v);
  return s;
}

/* ---- ragged_lengths_to_splits / ragged_rowids_to_splits ------------------- */

static tl_status lengths_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = check_index_meta(in[0], "row_lengths", 1);
  if (!s && in[0]->rank == 0) s = tl_error(TL_INVALID_ARGUMENT, "row_lengths must be a vector (got a scalar)");
  if (s) return s;
  int64_t n = in[0]->shape[0] < 0 ? -1 : in[0]->shape[0] + 1;
  return tl_meta_emit(out, TL_INT64, 1, &n);
}

static tl_status lengths_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  int64_t *v, n;
  tl_status s = load_index(in[0], &v, &n);
  if (s) return s;
  int64_t *o = tl_tensor_data(tl_out(out, 0));
  o[0] = 0;
  for (int64_t i = 0; i < n && !s; i++) {
    if (v[i] < 0)
      s = tl_error(TL_INVALID_ARGUMENT, "row_lengths must be non-negative (entry %lld is %lld)", (long long)i,
                   (long long)v[i]);
    else o[i + 1] = o[i] + v[i];
  }
  free(v);
  return s;
}

static tl_status rowids_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = check_index_meta(in[0], "value_rowids", 1);
  if (!s && in[0]->rank == 0) s = tl_error(TL_INVALID_ARGUMENT, "value_rowids must be a vector (got a scalar)");
  if (!s) s = check_index_meta(in[1], "nrows", 0);
  if (s) return s;
  int64_t n = -1;
  return tl_meta_emit(out, TL_INT64, 1, &n);
}

static tl_status rowids_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s0 = recheck(op, in, n_in, attr);
  if (s0) return s0;
  int64_t *v, n, *nr, one;
  tl_status s = load_index(in[0], &v, &n);
  if (s) return s;
  if ((s = load_index(in[1], &nr, &one))) {
    free(v);
    return s;
  }
  int64_t nrows = nr[0];
  free(nr);
  tl_tensor *o = NULL;
  if (nrows < 0) s = tl_error(TL_INVALID_ARGUMENT, "nrows must be non-negative (got %lld)", (long long)nrows);
  for (int64_t i = 0; i < n && !s; i++) {
    if (v[i] < 0 || v[i] >= nrows)
      s = tl_error(TL_INVALID_ARGUMENT, "value_rowids entry %lld is %lld, outside [0, nrows=%lld)", (long long)i,
                   (long long)v[i], (long long)nrows);
    else if (i > 0 && v[i] < v[i - 1])
      s = tl_error(TL_INVALID_ARGUMENT, "value_rowids must be non-decreasing (entry %lld is %lld, after %lld)",
                   (long long)i, (long long)v[i], (long long)v[i - 1]);
  }
  int64_t len = nrows + 1;
  if (!s) s = new_i64(1, &len, &o);
  if (!s) {
    int64_t *d = tl_tensor_data(o);
    memset(d, 0, sizeof(int64_t) * (size_t)len);
    for (int64_t i = 0; i < n; i++) d[v[i] + 1]++;
    for (int64_t r = 0; r < nrows; r++) d[r + 1] += d[r];
    s = tl_list_push(out, o);
    o = NULL;
  }
  tl_tensor_release(o);
  free(v);
  return s;
}

/* ---- ragged_row_ids -------------------------------------------------------- */

static tl_status row_ids_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = check_splits_meta(in[0], 0);
  int64_t n = -1;
  return s ? s : tl_meta_emit(out, TL_INT64, 1, &n);
}

static tl_status row_ids_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s0 = recheck(op, in, n_in, attr);
  if (s0) return s0;
  int64_t *v, n;
  tl_status s = load_index(in[0], &v, &n);
  if (!s && (s = check_splits(v, n, -1, 0))) free(v);
  if (s) return s;
  int64_t nvals = v[n - 1];
  tl_tensor *o;
  if (!(s = new_i64(1, &nvals, &o))) {
    int64_t *d = tl_tensor_data(o);
    for (int64_t r = 0; r + 1 < n; r++)
      for (int64_t j = v[r]; j < v[r + 1]; j++) d[j] = r;
    s = tl_list_push(out, o);
  }
  free(v);
  return s;
}

/* ---- ragged_splits_equal ---------------------------------------------------- */

static tl_status splits_equal_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = check_splits_meta(in[0], 0);
  if (!s) s = check_splits_meta(in[1], 0);
  if (s) return s;
  return tl_meta_push_like(out, in[0], TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status splits_equal_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  int64_t *a, *b, na, nb;
  tl_status s = load_index(in[0], &a, &na);
  if (s) return s;
  if ((s = load_index(in[1], &b, &nb))) {
    free(a);
    return s;
  }
  if (na != nb)
    s = tl_error(TL_INVALID_ARGUMENT, "inputs must have identical ragged splits (%lld rows vs %lld rows)",
                 (long long)(na - 1), (long long)(nb - 1));
  for (int64_t i = 0; i < na && !s; i++)
    if (a[i] != b[i])
      s = tl_error(TL_INVALID_ARGUMENT, "inputs must have identical ragged splits (entry %lld: %lld vs %lld)",
                   (long long)i, (long long)a[i], (long long)b[i]);
  if (!s) memcpy(tl_tensor_data(tl_out(out, 0)), a, sizeof(int64_t) * (size_t)na);
  free(a);
  free(b);
  return s;
}

/* ---- ragged_gather_indices --------------------------------------------------
 * Rows of a ragged value picked by indices: for a vector of indices, the
 * nested splits of the result (as many levels as the input) and the
 * positions of its values in flat_values; for a scalar index, one level
 * fewer (the row itself). */

static tl_status gather_infer(TL_INFER_ARGS) {
  (void)op, (void)attr;
  int k = n_in - 1;
  tl_status s = check_index_meta(in[0], "indices", 1);
  if (!s && k < 1) s = tl_error(TL_INVALID_ARGUMENT, "needs at least one row_splits tensor");
  for (int i = 0; i < k && !s; i++) s = check_splits_meta(in[1 + i], i);
  if (s) return s;
  if (in[0]->rank < 0) return tl_error(TL_INVALID_ARGUMENT, "indices must have a known rank");
  int levels = in[0]->rank == 1 ? k : k - 1;
  for (int i = 0; i < levels && !s; i++) {
    int64_t n = i == 0 && in[0]->rank == 1 && in[0]->shape[0] >= 0 ? in[0]->shape[0] + 1 : -1;
    s = tl_meta_emit(out, TL_INT64, 1, &n);
  }
  int64_t n = -1;
  return s ? s : tl_meta_emit(out, TL_INT64, 1, &n);
}

/* Appends [lo, hi) at level `lvl` of the result and recurses down. */
typedef struct gather_out {
  int64_t *s[TL_MAX_RANK + 1]; /* the result's splits per level, then the value positions */
  int64_t n[TL_MAX_RANK + 1];
} gather_out;

static tl_status gather_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)attr;
  tl_status s0 = recheck(op, in, n_in, attr);
  if (s0) return s0;
  int k = n_in - 1;
  nested ns;
  int64_t *idx = NULL, ni;
  tl_status s = load_index(in[0], &idx, &ni);
  if (s) return s;
  /* nvals unknown here (flat_values is not an input): the innermost splits
   * must just be well-formed. */
  if ((s = nested_load(in + 1, k, -1, &ns))) {
    free(idx);
    return s;
  }
  int64_t nrows = ns.n[0] - 1;
  for (int64_t i = 0; i < ni && !s; i++)
    if (idx[i] < 0 || idx[i] >= nrows)
      s = tl_error(TL_INVALID_ARGUMENT, "index %lld (entry %lld of indices) is out of range for %lld rows",
                   (long long)idx[i], (long long)i, (long long)nrows);
  bool scalar = in[0]->rank == 0;
  int levels = scalar ? k - 1 : k; /* result splits levels */
  /* ranges of rows at each input level: start with the picked rows, then
   * each level maps a row range to the range of its children. */
  int64_t *lo = NULL, *hi = NULL, *nlo = NULL, *nhi = NULL;
  int64_t *res[TL_MAX_RANK + 1] = {0};
  int64_t rn[TL_MAX_RANK + 1] = {0};
  int64_t nr = ni; /* ranges */
  if (!s) {
    lo = malloc(sizeof(int64_t) * (size_t)(ni ? ni : 1));
    hi = malloc(sizeof(int64_t) * (size_t)(ni ? ni : 1));
    if (!lo || !hi) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  if (!s)
    for (int64_t i = 0; i < ni; i++) lo[i] = idx[i], hi[i] = idx[i] + 1;
  /* Level l: the ranges are of rows at level l (index into ns.s[l]). */
  int out_level = scalar ? -1 : 0;
  for (int l = 0; l < k && !s; l++) {
    const int64_t *sp = ns.s[l];
    /* the result's splits at out_level: one entry per row in the ranges */
    int64_t total_rows = 0;
    for (int64_t r = 0; r < nr; r++) total_rows += hi[r] - lo[r];
    int64_t children = 0;
    for (int64_t r = 0; r < nr; r++) children += sp[hi[r]] - sp[lo[r]];
    if (out_level >= 0) {
      res[out_level] = malloc(sizeof(int64_t) * (size_t)(total_rows + 1));
      if (!res[out_level]) {
        s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
        break;
      }
      rn[out_level] = total_rows + 1;
      int64_t *d = res[out_level], w = 0;
      d[0] = 0;
      for (int64_t r = 0; r < nr; r++)
        for (int64_t j = lo[r]; j < hi[r]; j++, w++) d[w + 1] = d[w] + sp[j + 1] - sp[j];
    }
    /* ranges of the next level: one per range here (rows are contiguous) */
    nlo = malloc(sizeof(int64_t) * (size_t)(nr ? nr : 1));
    nhi = malloc(sizeof(int64_t) * (size_t)(nr ? nr : 1));
    if (!nlo || !nhi) {
      s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
      break;
    }
    for (int64_t r = 0; r < nr; r++) nlo[r] = sp[lo[r]], nhi[r] = sp[hi[r]];
    free(lo);
    free(hi);
    lo = nlo, hi = nhi, nlo = nhi = NULL;
    (void)children;
    out_level++;
  }
  /* the value positions: the ranges at the bottom level */
  if (!s) {
    int64_t total = 0;
    for (int64_t r = 0; r < nr; r++) total += hi[r] - lo[r];
    res[levels] = malloc(sizeof(int64_t) * (size_t)(total ? total : 1));
    if (!res[levels]) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    else {
      rn[levels] = total;
      int64_t w = 0;
      for (int64_t r = 0; r < nr; r++)
        for (int64_t j = lo[r]; j < hi[r]; j++) res[levels][w++] = j;
    }
  }
  for (int l = 0; l <= levels && !s; l++) s = push_i64_vector(out, res[l], rn[l]);
  for (int l = 0; l <= levels; l++) free(res[l]);
  free(lo);
  free(hi);
  free(nlo);
  free(nhi);
  free(idx);
  nested_free(&ns);
  return s;
}

/* ---- ragged_to_dense_indices ------------------------------------------------
 * For to_tensor: an int64 tensor [nrows, d1, ..., dk] (k ragged levels)
 * whose entries are positions into flat_values, or nvals where the dense
 * tensor is padding. Each d is the longest row at that level, or the
 * `shape` attribute's entry (rows are then truncated or padded). */

static tl_status to_dense_plan(const tl_meta *values, const tl_meta *const *splits, int k, const tl_attr *shape,
                               int64_t *dims) {
  tl_status s = TL_OK;
  if (values->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "flat_values must have rank at least 1 (got a scalar)");
  if (k < 1) return tl_error(TL_INVALID_ARGUMENT, "needs at least one row_splits tensor");
  for (int i = 0; i < k && !s; i++) s = check_splits_meta(splits[i], i);
  if (s) return s;
  if (shape->present && shape->n != k + 1)
    return tl_error(TL_INVALID_ARGUMENT, "shape must give %d leading dimensions (got %d)", k + 1, shape->n);
  dims[0] = splits[0]->shape[0] < 0 ? -1 : splits[0]->shape[0] - 1;
  for (int i = 1; i <= k; i++) dims[i] = -1;
  if (shape->present) {
    for (int i = 0; i <= k; i++) {
      if (shape->ints[i] >= 0) dims[i] = shape->ints[i];
      else if (shape->ints[i] != -1)
        return tl_error(TL_INVALID_ARGUMENT, "shape entries must be non-negative or -1 (got %lld)",
                        (long long)shape->ints[i]);
    }
  }
  return TL_OK;
}

static tl_status to_dense_infer(TL_INFER_ARGS) {
  (void)op;
  int64_t dims[TL_MAX_RANK + 1];
  int k = n_in - 1;
  if (k + 1 > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "too many ragged dimensions (%d)", k);
  tl_status s = to_dense_plan(in[0], in + 1, k, &attr[0], dims);
  return s ? s : tl_meta_emit(out, TL_INT64, k + 1, dims);
}

static tl_status to_dense_kernel(TL_KERNEL_ARGS) {
  (void)op;
  int k = n_in - 1;
  if (k + 1 > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "too many ragged dimensions (%d)", k);
  int64_t dims[TL_MAX_RANK + 1];
  const tl_meta *sm[TL_MAX_RANK];
  for (int i = 0; i < k; i++) sm[i] = &in[1 + i]->meta;
  tl_status s = to_dense_plan(&in[0]->meta, sm, k, &attr[0], dims);
  if (s) return s;
  int64_t nvals = in[0]->shape[0];
  nested ns;
  if ((s = nested_load(in + 1, k, nvals, &ns))) return s;
  /* unknown dims: the longest row at each level */
  for (int l = 0; l < k; l++)
    if (dims[l + 1] < 0) {
      int64_t m = 0;
      for (int64_t r = 0; r + 1 < ns.n[l]; r++) {
        int64_t len = ns.s[l][r + 1] - ns.s[l][r];
        if (len > m) m = len;
      }
      dims[l + 1] = m;
    }
  tl_tensor *o = NULL;
  if (tl_shape_numel(k + 1, dims) < 0) s = tl_error(TL_INVALID_ARGUMENT, "the dense shape overflows");
  if (!s) s = new_i64(k + 1, dims, &o);
  if (!s) {
    int64_t *d = tl_tensor_data(o);
    int64_t total = o->size;
    for (int64_t i = 0; i < total; i++) d[i] = nvals;
    /* walk every dense position of the leading (k+1) dims recursively by
     * an explicit stack: (level, row index at that level, dense offset) */
    int64_t stride[TL_MAX_RANK + 1];
    stride[k] = 1;
    for (int l = k - 1; l >= 0; l--) stride[l] = stride[l + 1] * dims[l + 1];
    int64_t nrows0 = ns.n[0] - 1 < dims[0] ? ns.n[0] - 1 : dims[0];
    int64_t cur_row[TL_MAX_RANK + 1], cur_end[TL_MAX_RANK + 1], cur_off[TL_MAX_RANK + 1];
    /* level 0: rows 0..nrows0 */
    for (int64_t r0 = 0; r0 < nrows0; r0++) {
      int l = 0;
      cur_row[0] = r0;
      cur_end[0] = r0 + 1;
      cur_off[0] = r0 * stride[0];
      /* descend: at level l, row cur_row[l] of splits l has children
       * [s[row], s[row+1]) clipped to dims[l+1] */
      for (;;) {
        if (cur_row[l] >= cur_end[l]) {
          if (l == 0) break;
          l--;
          cur_row[l]++;
          cur_off[l] += stride[l];
          continue;
        }
        const int64_t *sp = ns.s[l];
        int64_t a = sp[cur_row[l]], b = sp[cur_row[l] + 1];
        if (b - a > dims[l + 1]) b = a + dims[l + 1];
        if (l == k - 1) {
          for (int64_t j = a; j < b; j++) d[cur_off[l] + (j - a)] = j;
          cur_row[l]++;
          cur_off[l] += stride[l];
          continue;
        }
        cur_row[l + 1] = a;
        cur_end[l + 1] = b;
        cur_off[l + 1] = cur_off[l];
        l++;
      }
    }
    s = tl_list_push(out, o);
    o = NULL;
  }
  tl_tensor_release(o);
  nested_free(&ns);
  return s;
}

/* ---- ragged_from_dense_indices -----------------------------------------------
 * For from_tensor with lengths: row_splits from the lengths, and each
 * value's position in the dense tensor reshaped to [nrows * ncols, ...]. */

static tl_status from_dense_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  if (in[0]->rank >= 0 && in[0]->rank < 2)
    return tl_error(TL_INVALID_ARGUMENT, "the dense tensor must have rank at least 2 (got rank %d)", in[0]->rank);
  tl_status s = check_index_meta(in[1], "lengths", 1);
  if (!s && in[1]->rank == 0) s = tl_error(TL_INVALID_ARGUMENT, "lengths must be a vector (got a scalar)");
  if (s) return s;
  if (in[0]->rank > 0 && in[0]->shape[0] >= 0 && in[1]->shape[0] >= 0 && in[0]->shape[0] != in[1]->shape[0])
    return tl_error(TL_INVALID_ARGUMENT, "lengths must have one entry per row (%lld rows, %lld lengths)",
                    (long long)in[0]->shape[0], (long long)in[1]->shape[0]);
  int64_t n = in[0]->rank > 0 && in[0]->shape[0] >= 0 ? in[0]->shape[0] + 1 : -1, u = -1;
  if ((s = tl_meta_emit(out, TL_INT64, 1, &n))) return s;
  return tl_meta_emit(out, TL_INT64, 1, &u);
}

static tl_status from_dense_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s0 = recheck(op, in, n_in, attr);
  if (s0) return s0;
  int64_t *len, n;
  tl_status s = load_index(in[1], &len, &n);
  if (s) return s;
  int64_t nrows = in[0]->shape[0], ncols = in[0]->shape[1];
  int64_t total = 0;
  for (int64_t i = 0; i < n && !s; i++) {
    if (len[i] < 0 || len[i] > ncols)
      s = tl_error(TL_INVALID_ARGUMENT, "lengths entry %lld is %lld, outside [0, %lld] (the dense tensor's columns)",
                   (long long)i, (long long)len[i], (long long)ncols);
    else total += len[i];
  }
  (void)nrows;
  tl_tensor *sp = NULL, *pos = NULL;
  int64_t ns = n + 1;
  if (!s) s = new_i64(1, &ns, &sp);
  if (!s) s = new_i64(1, &total, &pos);
  if (!s) {
    int64_t *a = tl_tensor_data(sp), *b = tl_tensor_data(pos), w = 0;
    a[0] = 0;
    for (int64_t r = 0; r < n; r++) {
      a[r + 1] = a[r] + len[r];
      for (int64_t c = 0; c < len[r]; c++) b[w++] = r * ncols + c;
    }
    s = tl_list_push(out, sp);
    sp = NULL;
    if (!s) s = tl_list_push(out, pos);
    pos = NULL;
  }
  tl_tensor_release(sp);
  tl_tensor_release(pos);
  free(len);
  return s;
}

/* ---- ragged_mask_splits --------------------------------------------------------
 * The row_splits of boolean_mask's result: how many true entries each row
 * of the mask has, accumulated. */

static tl_status mask_splits_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  if (in[0]->dtype != TL_BOOL) return tl_error(TL_INVALID_ARGUMENT, "mask must be bool (got %s)", tl_dtypes[in[0]->dtype].name);
  if (in[0]->rank >= 0 && in[0]->rank != 1) return tl_error(TL_INVALID_ARGUMENT, "mask values must be a vector (got rank %d)", in[0]->rank);
  tl_status s = check_splits_meta(in[1], 0);
  return s ? s : tl_meta_push_like(out, in[1], TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status mask_splits_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  int64_t *v, n;
  tl_status s = load_index(in[1], &v, &n);
  if (s) return s;
  if (!(s = check_splits(v, n, in[0]->shape[0], 0))) {
    const uint8_t *m = tl_tensor_data(in[0]);
    int64_t st = in[0]->strides[0];
    int64_t *o = tl_tensor_data(tl_out(out, 0));
    o[0] = 0;
    for (int64_t r = 0; r + 1 < n; r++) {
      int64_t c = 0;
      for (int64_t j = v[r]; j < v[r + 1]; j++) c += m[j * st] != 0;
      o[r + 1] = o[r] + c;
    }
  }
  free(v);
  return s;
}

/* ---- ragged_range ---------------------------------------------------------------
 * TensorFlow's RaggedRange: row i is range(starts[i], limits[i], deltas[i]);
 * scalars broadcast. Outputs the row_splits and the values. */

static tl_status range_check(const tl_meta *const *in) {
  const char *names[3] = {"starts", "limits", "deltas"};
  tl_dtype d = in[0]->dtype;
  if (d != TL_INT32 && d != TL_INT64 && d != TL_FLOAT32 && d != TL_FLOAT64)
    return tl_error(TL_INVALID_ARGUMENT, "starts must be int32, int64, float32 or float64 (got %s)", tl_dtypes[d].name);
  int64_t n = -2;
  for (int i = 0; i < 3; i++) {
    if (in[i]->dtype != d)
      return tl_error(TL_INVALID_ARGUMENT, "%s must have the dtype of starts, %s (got %s)", names[i], tl_dtypes[d].name,
                      tl_dtypes[in[i]->dtype].name);
    if (in[i]->rank > 1) return tl_error(TL_INVALID_ARGUMENT, "%s must be a scalar or a vector (got rank %d)", names[i], in[i]->rank);
    if (in[i]->rank == 1 && in[i]->shape[0] >= 0) {
      if (n >= 0 && n != in[i]->shape[0])
        return tl_error(TL_INVALID_ARGUMENT, "starts, limits and deltas must have the same length (%lld vs %lld)",
                        (long long)n, (long long)in[i]->shape[0]);
      n = in[i]->shape[0];
    }
  }
  return TL_OK;
}

static tl_status range_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = range_check(in);
  if (s) return s;
  int64_t n = -1, u = -1;
  bool all_scalar = true;
  for (int i = 0; i < 3; i++) {
    if (in[i]->rank != 0) all_scalar = false;
    if (in[i]->rank == 1 && in[i]->shape[0] >= 0) n = in[i]->shape[0] + 1;
  }
  if (all_scalar) n = 2;
  if ((s = tl_meta_emit(out, TL_INT64, 1, &n))) return s;
  return tl_meta_emit(out, in[0]->dtype, 1, &u);
}

static double range_load(const tl_tensor *t, int64_t i) {
  int64_t off = t->rank == 0 ? 0 : i * t->strides[0];
  const char *p = tl_tensor_data(t);
  switch (t->dtype) {
  case TL_INT32: return ((const int32_t *)p)[off];
  case TL_INT64: return (double)((const int64_t *)p)[off];
  case TL_FLOAT32: return ((const float *)p)[off];
  default: return ((const double *)p)[off];
  }
}

static int64_t range_load_i(const tl_tensor *t, int64_t i) {
  int64_t off = t->rank == 0 ? 0 : i * t->strides[0];
  const char *p = tl_tensor_data(t);
  return t->dtype == TL_INT32 ? ((const int32_t *)p)[off] : ((const int64_t *)p)[off];
}

static tl_status range_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  const tl_meta *m[3] = {&in[0]->meta, &in[1]->meta, &in[2]->meta};
  tl_status s = range_check(m);
  if (s) return s;
  int64_t n = 1;
  for (int i = 0; i < 3; i++)
    if (in[i]->rank == 1) n = in[i]->shape[0];
  bool integer = tl_dtype_is_integer(in[0]->dtype);
  int64_t *sizes = malloc(sizeof(int64_t) * (size_t)(n + 1));
  if (!sizes) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  sizes[0] = 0;
  for (int64_t i = 0; i < n && !s; i++) {
    int64_t size;
    if (integer) {
      int64_t a = range_load_i(in[0], i), b = range_load_i(in[1], i), d = range_load_i(in[2], i);
      if (d == 0) {
        s = tl_error(TL_INVALID_ARGUMENT, "requires delta != 0 (deltas entry %lld is 0)", (long long)i);
        break;
      }
      size = ((d > 0 && b > a) || (d < 0 && b < a)) ? ((b - a) / d + ((b - a) % d != 0)) : 0;
    } else {
      double a = range_load(in[0], i), b = range_load(in[1], i), d = range_load(in[2], i);
      if (d == 0 || isnan(d) || isnan(a) || isnan(b) || isinf(a) || isinf(b)) {
        s = tl_error(TL_INVALID_ARGUMENT, "requires finite starts and limits and delta != 0 (entry %lld)", (long long)i);
        break;
      }
      double c = ceil((b - a) / d);
      size = ((d > 0 && b > a) || (d < 0 && b < a)) ? (int64_t)c : 0;
    }
    if (size < 0 || size > ((int64_t)1 << 40) - sizes[i]) {
      s = tl_error(TL_INVALID_ARGUMENT, "the ranges are too long (row %lld)", (long long)i);
      break;
    }
    sizes[i + 1] = sizes[i] + size;
  }
  tl_tensor *sp = NULL, *vals = NULL;
  int64_t ns = n + 1, total = s ? 0 : sizes[n];
  if (!s) s = new_i64(1, &ns, &sp);
  if (!s) s = tl_tensor_new(in[0]->dtype, 1, &total, &vals);
  if (!s) {
    memcpy(tl_tensor_data(sp), sizes, sizeof(int64_t) * (size_t)ns);
    char *v = tl_tensor_data(vals);
    for (int64_t i = 0; i < n; i++) {
      int64_t len = sizes[i + 1] - sizes[i], o = sizes[i];
      switch (in[0]->dtype) {
      case TL_INT32: {
        int64_t a = range_load_i(in[0], i), d = range_load_i(in[2], i);
        for (int64_t j = 0; j < len; j++) ((int32_t *)v)[o + j] = (int32_t)(a + j * d);
        break;
      }
      case TL_INT64: {
        int64_t a = range_load_i(in[0], i), d = range_load_i(in[2], i);
        for (int64_t j = 0; j < len; j++) ((int64_t *)v)[o + j] = a + j * d;
        break;
      }
      case TL_FLOAT32: {
        float a = (float)range_load(in[0], i), d = (float)range_load(in[2], i);
        for (int64_t j = 0; j < len; j++) ((float *)v)[o + j] = a + (float)j * d;
        break;
      }
      default: {
        double a = range_load(in[0], i), d = range_load(in[2], i);
        for (int64_t j = 0; j < len; j++) ((double *)v)[o + j] = a + (double)j * d;
        break;
      }
      }
    }
    s = tl_list_push(out, sp);
    sp = NULL;
    if (!s) s = tl_list_push(out, vals);
    vals = NULL;
  }
  tl_tensor_release(sp);
  tl_tensor_release(vals);
  free(sizes);
  return s;
}

/* ---- unsorted_segment_sum / prod / max / min --------------------------------
 * out[i, ...] = reduce over j with segment_ids[j] == i of data[j, ...];
 * negative ids are dropped (as in TensorFlow), ids >= num_segments are an
 * error. Empty segments: 0, 1, the dtype's lowest / highest value. */

typedef enum seg_kind { SEG_SUM, SEG_PROD, SEG_MAX, SEG_MIN } seg_kind;
static const seg_kind seg_kinds[] = {SEG_SUM, SEG_PROD, SEG_MAX, SEG_MIN};

static tl_status seg_check(const tl_meta *data, const tl_meta *ids, const tl_meta *num) {
  tl_dtype d = data->dtype;
  if (d != TL_FLOAT32 && d != TL_FLOAT64 && d != TL_INT32 && d != TL_INT64)
    return tl_error(TL_UNIMPLEMENTED, "data of dtype %s is not supported (float32, float64, int32, int64)", tl_dtypes[d].name);
  tl_status s = check_index_meta(ids, "segment_ids", 1);
  if (!s && ids->rank == 0) s = tl_error(TL_INVALID_ARGUMENT, "segment_ids must be a vector (got a scalar)");
  if (!s) s = check_index_meta(num, "num_segments", 0);
  if (!s && num->rank != 0) s = tl_error(TL_INVALID_ARGUMENT, "num_segments must be a scalar");
  if (s) return s;
  if (data->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "data must have rank at least 1 (got a scalar)");
  if (data->rank > 0 && data->shape[0] >= 0 && ids->shape[0] >= 0 && data->shape[0] != ids->shape[0])
    return tl_error(TL_INVALID_ARGUMENT, "segment_ids must have one entry per row of data (%lld ids, %lld rows)",
                    (long long)ids->shape[0], (long long)data->shape[0]);
  return TL_OK;
}

static tl_status seg_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = seg_check(in[0], in[1], in[2]);
  if (s) return s;
  int64_t shape[TL_MAX_RANK];
  int r = in[0]->rank < 0 ? 1 : in[0]->rank;
  shape[0] = -1;
  for (int i = 1; i < r; i++) shape[i] = in[0]->shape[i];
  return tl_meta_emit(out, in[0]->dtype, in[0]->rank < 0 ? -1 : r, shape);
}

#define SEG_LOOP(T, LOWEST, HIGHEST)                                                         \
  do {                                                                                       \
    T *ov = (T *)od;                                                                         \
    const T *xv = (const T *)xd;                                                             \
    T init = kind == SEG_SUM ? (T)0 : kind == SEG_PROD ? (T)1 : kind == SEG_MAX ? LOWEST : HIGHEST; \
    for (int64_t i = 0; i < total; i++) ov[i] = init;                                         \
    for (int64_t j = 0; j < n; j++) {                                                        \
      if (ids[j] < 0) continue;                                                              \
      T *dst = ov + ids[j] * inner;                                                           \
      const T *src = xv + j * inner;                                                          \
      switch (kind) {                                                                        \
      case SEG_SUM: for (int64_t e = 0; e < inner; e++) dst[e] += src[e]; break;             \
      case SEG_PROD: for (int64_t e = 0; e < inner; e++) dst[e] *= src[e]; break;            \
      case SEG_MAX: for (int64_t e = 0; e < inner; e++) if (src[e] > dst[e] || src[e] != src[e]) dst[e] = src[e]; break; \
      case SEG_MIN: for (int64_t e = 0; e < inner; e++) if (src[e] < dst[e] || src[e] != src[e]) dst[e] = src[e]; break; \
      }                                                                                      \
    }                                                                                        \
  } while (0)

static tl_status seg_kernel(TL_KERNEL_ARGS) {
  (void)n_in, (void)attr;
  seg_kind kind = *(const seg_kind *)op->impl;
  tl_status s = seg_check(&in[0]->meta, &in[1]->meta, &in[2]->meta);
  if (s) return s;
  int64_t *ids, n, *num, one;
  if ((s = load_index(in[1], &ids, &n))) return s;
  if ((s = load_index(in[2], &num, &one))) {
    free(ids);
    return s;
  }
  int64_t nseg = num[0];
  free(num);
  if (nseg < 0) s = tl_error(TL_INVALID_ARGUMENT, "num_segments must be non-negative (got %lld)", (long long)nseg);
  for (int64_t j = 0; j < n && !s; j++)
    if (ids[j] >= nseg)
      s = tl_error(TL_INVALID_ARGUMENT, "segment_ids entry %lld is %lld, not below num_segments %lld", (long long)j,
                   (long long)ids[j], (long long)nseg);
  tl_tensor *x = NULL, *o = NULL;
  int64_t shape[TL_MAX_RANK];
  memcpy(shape, in[0]->shape, sizeof(int64_t) * (size_t)in[0]->rank);
  shape[0] = nseg;
  if (!s) s = tl_tensor_contiguous(in[0], &x);
  if (!s) s = tl_tensor_new(in[0]->dtype, in[0]->rank, shape, &o);
  if (!s) {
    int64_t inner = tl_dims_prod(in[0]->shape, 1, in[0]->rank), total = o->size;
    void *od = tl_tensor_data(o);
    const void *xd = tl_tensor_data(x);
    switch (in[0]->dtype) {
    case TL_FLOAT32: SEG_LOOP(float, -FLT_MAX, FLT_MAX); break;
    case TL_FLOAT64: SEG_LOOP(double, -DBL_MAX, DBL_MAX); break;
    case TL_INT32: SEG_LOOP(int32_t, INT32_MIN, INT32_MAX); break;
    default: SEG_LOOP(int64_t, INT64_MIN, INT64_MAX); break;
    }
    s = tl_list_push(out, o);
    o = NULL;
  }
  tl_tensor_release(o);
  tl_tensor_release(x);
  free(ids);
  return s;
}

/* d/data of a segment sum: each row gets its segment's gradient; rows
 * with a negative (dropped) id get 0: they gather segment 0 and are
 * multiplied by 0. */
static tl_status seg_sum_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_in, (void)attr, (void)out, (void)n_out;
  if (!grad_out[0] || !tl_grad_wants(0)) return TL_OK;
  tl_temps T = {0};
  tl_tensor *ids = in[1], *g = grad_out[0];
  tl_tensor *zero = tl_temps_scalar(&T, ids, ids->dtype, 0);
  tl_tensor *rows = tl_temps_op2(&T, "gather", g, tl_temps_op2(&T, "maximum", ids, zero));
  tl_tensor *keep = tl_temps_cast(&T, tl_temps_op2(&T, "greater_equal", ids, zero), g->dtype);
  int64_t shape[TL_MAX_RANK];
  int r = in[0]->rank;
  shape[0] = -1;
  for (int i = 1; i < r; i++) shape[i] = 1;
  keep = keep ? tl_temps_op1(&T, "reshape", keep, 1, (tl_named_attr[]){TL_A_INTS("shape", r, shape)}) : NULL;
  tl_status s = tl_temps_give(&T, tl_temps_op2(&T, "multiply", rows, keep), &grad_in[0], false);
  tl_temps_free(&T);
  return s;
}

/* d/data of a segment max/min: the gradient goes to the rows equal to
 * their segment's result, shared equally among ties (TensorFlow's rule). */
static tl_status seg_extreme_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_in, (void)attr, (void)n_out;
  if (!grad_out[0] || !tl_grad_wants(0)) return TL_OK;
  tl_tensor *t[8] = {0};
  tl_status s;
  tl_tensor *a[3];
  a[0] = out[0], a[1] = in[1];
  if ((s = tl_call("gather", 2, a, 0, NULL, &t[0]))) goto done; /* result per row */
  a[0] = in[0], a[1] = t[0];
  if ((s = tl_call("equal", 2, a, 0, NULL, &t[1]))) goto done;
  if ((s = tl_call("cast", 1, &t[1], 1, (tl_named_attr[]){TL_A_DTYPE("dtype", in[0]->dtype)}, &t[2]))) goto done;
  a[0] = t[2], a[1] = in[1], a[2] = in[2];
  if ((s = tl_call("unsorted_segment_sum", 3, a, 0, NULL, &t[3]))) goto done; /* ties per segment */
  a[0] = grad_out[0], a[1] = t[3];
  if ((s = tl_call("divide", 2, a, 0, NULL, &t[4]))) goto done;
  a[0] = t[4], a[1] = in[1];
  if ((s = tl_call("gather", 2, a, 0, NULL, &t[5]))) goto done;
  a[0] = t[5], a[1] = t[2];
  s = tl_call("multiply", 2, a, 0, NULL, &grad_in[0]);
done:
  for (int i = 0; i < 8; i++) tl_tensor_release(t[i]);
  return s;
}

/* ---- the records --------------------------------------------------------------- */

#define RAGGED_FLAGS (TL_OP_NO_GRADIENT | TL_OP_VALUE_SHAPE)

tl_op_def tl_ops_ragged[] = {
    {.name = "ragged_validate_splits", .inputs = "row_splits, values", .infer = validate_infer,
     .kernel[TL_CPU] = validate_kernel, .flags = TL_OP_NO_GRADIENT, .api = "-",
     .doc = "row_splits itself after checking it splits values: starts at 0, non-decreasing, ends at nvals."},
    {.name = "ragged_lengths_to_splits", .inputs = "row_lengths", .infer = lengths_infer,
     .kernel[TL_CPU] = lengths_kernel, .flags = TL_OP_NO_GRADIENT, .api = "-",
     .doc = "row_splits (int64) from non-negative row lengths."},
    {.name = "ragged_rowids_to_splits", .inputs = "value_rowids, nrows", .infer = rowids_infer,
     .kernel[TL_CPU] = rowids_kernel, .flags = RAGGED_FLAGS, .api = "-",
     .doc = "row_splits (int64) from sorted value_rowids in [0, nrows)."},
    {.name = "ragged_row_ids", .inputs = "row_splits", .infer = row_ids_infer, .kernel[TL_CPU] = row_ids_kernel,
     .flags = RAGGED_FLAGS, .api = "-", .doc = "The row of each value (value_rowids) from row_splits."},
    {.name = "ragged_splits_equal", .inputs = "a, b", .infer = splits_equal_infer,
     .kernel[TL_CPU] = splits_equal_kernel, .flags = TL_OP_NO_GRADIENT, .api = "-",
     .doc = "a, after checking that b is the same row_splits (element-wise ops on two ragged tensors)."},
    {.name = "ragged_gather_indices", .inputs = "indices, row_splits[]", .infer = gather_infer,
     .kernel[TL_CPU] = gather_kernel, .flags = RAGGED_FLAGS | TL_OP_LIST_OUTPUT, .api = "-",
     .doc = "Rows of a ragged value: the result's nested row_splits and its values' positions in flat_values."},
    {.name = "ragged_to_dense_indices", .inputs = "flat_values, row_splits[]", .attrs = "shape:ints?",
     .infer = to_dense_infer, .kernel[TL_CPU] = to_dense_kernel, .flags = RAGGED_FLAGS, .api = "-",
     .doc = "For to_tensor: positions into flat_values over the dense leading dimensions, nvals for padding."},
    {.name = "ragged_from_dense_indices", .inputs = "dense, lengths", .infer = from_dense_infer,
     .kernel[TL_CPU] = from_dense_kernel, .flags = RAGGED_FLAGS, .api = "-",
     .doc = "For from_tensor with lengths: row_splits and the values' positions in the dense rows."},
    {.name = "ragged_mask_splits", .inputs = "mask_values, row_splits", .infer = mask_splits_infer,
     .kernel[TL_CPU] = mask_splits_kernel, .flags = TL_OP_NO_GRADIENT, .api = "-",
     .doc = "row_splits of a ragged boolean_mask's result: true entries per row, accumulated."},
    {.name = "ragged_range", .inputs = "starts, limits, deltas", .infer = range_infer, .kernel[TL_CPU] = range_kernel,
     .flags = RAGGED_FLAGS, .api = "-",
     .doc = "row_splits and values of the ragged rows range(starts[i], limits[i], deltas[i])."},
    {.name = "unsorted_segment_sum", .inputs = "data, segment_ids, num_segments", .infer = seg_infer,
     .kernel[TL_CPU] = seg_kernel, .grad = seg_sum_grad, .flags = TL_OP_VALUE_SHAPE, .impl = &seg_kinds[SEG_SUM],
     .api = "tf.math.unsorted_segment_sum", .doc = "Sums of the rows of data per segment id (negative ids dropped)."},
    {.name = "unsorted_segment_prod", .inputs = "data, segment_ids, num_segments", .infer = seg_infer,
     .kernel[TL_CPU] = seg_kernel, .flags = TL_OP_VALUE_SHAPE | TL_OP_NO_GRADIENT, .impl = &seg_kinds[SEG_PROD],
     .api = "tf.math.unsorted_segment_prod", .doc = "Products of the rows of data per segment id (1 for an empty segment)."},
    {.name = "unsorted_segment_max", .inputs = "data, segment_ids, num_segments", .infer = seg_infer,
     .kernel[TL_CPU] = seg_kernel, .grad = seg_extreme_grad, .flags = TL_OP_VALUE_SHAPE, .impl = &seg_kinds[SEG_MAX],
     .api = "tf.math.unsorted_segment_max", .doc = "Maxima of the rows of data per segment id (the dtype's lowest for an empty segment)."},
    {.name = "unsorted_segment_min", .inputs = "data, segment_ids, num_segments", .infer = seg_infer,
     .kernel[TL_CPU] = seg_kernel, .grad = seg_extreme_grad, .flags = TL_OP_VALUE_SHAPE, .impl = &seg_kinds[SEG_MIN],
     .api = "tf.math.unsorted_segment_min", .doc = "Minima of the rows of data per segment id (the dtype's highest for an empty segment)."},
    {0},
};
