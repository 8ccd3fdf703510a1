/* ops/sparse_count.c — sparse_bincount (tf.sparse.bincount) and
 * sparse_fill_empty_rows (tf.sparse.fill_empty_rows): ops that count
 * entries per value or per row. Their records are in sparse.c's table.
 * Neither has a gradient: bincount's output is counts (TensorFlow has none
 * either), and fill_empty_rows returns positions whose values the Lua side
 * gathers (so the values' gradient is gather's).
 */
#include "ops/sparse.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

tl_status tl_sparse_bincount_infer(TL_INFER_ARGS);
tl_status tl_sparse_bincount_kernel(TL_KERNEL_ARGS);
tl_status tl_sparse_fill_empty_rows_infer(TL_INFER_ARGS);
tl_status tl_sparse_fill_empty_rows_kernel(TL_KERNEL_ARGS);

/* ---- sparse_bincount --------------------------------------------------------- */

tl_status tl_sparse_bincount_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  int r;
  tl_status s = tl_sp_check_meta(in[0], in[1], in[2], &r);
  if (s) return s;
  if (in[1]->dtype != TL_INT32 && in[1]->dtype != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "values must be int32 or int64, got %s", tl_dtypes[in[1]->dtype].name);
  tl_dtype od = in[1]->dtype;
  if (in[3]) {
    if ((s = tl_sp_need_arith(in[3]->dtype))) return s;
    if (in[3]->rank >= 0 && in[3]->rank != 1)
      return tl_error(TL_INVALID_ARGUMENT, "weights must have the values' shape");
    if (in[3]->rank == 1 && in[1]->rank == 1 && in[3]->shape[0] >= 0 && in[1]->shape[0] >= 0 &&
        in[3]->shape[0] != in[1]->shape[0])
      return tl_error(TL_INVALID_ARGUMENT, "weights have %" PRId64 " elements but values have %" PRId64,
                      in[3]->shape[0], in[1]->shape[0]);
    od = in[3]->dtype;
  }
  int64_t ax = attr[3].i;
  if (ax != 0 && ax != -1) return tl_error(TL_INVALID_ARGUMENT, "axis must be 0 or -1, got %" PRId64, ax);
  if (ax == -1 && r >= 0 && r != 2)
    return tl_error(TL_INVALID_ARGUMENT, "axis=-1 needs a 2-D input, got rank %d", r);
  int orank = ax == 0 ? 1 : 2;
  int64_t is[2] = {-1, orank}, ns = orank;
  if ((s = tl_meta_emit(out, TL_INT64, 2, is)) || (s = tl_meta_emit(out, od, 1, is))) return s;
  return tl_meta_emit(out, TL_INT64, 1, &ns);
}

tl_status tl_sparse_bincount_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  tl_sp sp;
  tl_tensor *w = NULL, *oi = NULL, *ov = NULL, *os = NULL;
  tl_status s = tl_sp_recheck(op, in, n_in, attr);
  if (s) return s;
  s = tl_sp_open(&sp, in[0], in[1], in[2]);
  if (s) return s;
  int64_t minl = attr[0].i, maxl = attr[1].i;
  bool binary = attr[2].b, per_row = attr[3].i == -1;
  if ((s = tl_sp_validate(&sp, TL_SP_BOUNDS))) goto done;
  if (per_row && sp.rank != 2) {
    s = tl_error(TL_INVALID_ARGUMENT, "axis=-1 needs a 2-D input, got rank %d", sp.rank);
    goto done;
  }
  if (in[3]) {
    if (in[3]->size != sp.nnz) {
      s = tl_error(TL_INVALID_ARGUMENT, "weights have %" PRId64 " elements but values have %" PRId64, in[3]->size,
                   sp.nnz);
      goto done;
    }
    if ((s = tl_tensor_contiguous(in[3], &w))) goto done;
  }
  tl_sp_vtype xt = tl_sp_vtype_of(in[1]->dtype), wt = w ? tl_sp_vtype_of(w->dtype) : xt;
  const void *xv = tl_tensor_data(sp.val), *wv = w ? tl_tensor_data(w) : NULL;
  int64_t maxv = -1;
  for (int64_t i = 0; i < sp.nnz; i++) {
    int64_t x = tl_sp_geti(xt, xv, i);
    if (x < 0) {
      s = tl_error(TL_INVALID_ARGUMENT, "values must be non-negative, got values[%" PRId64 "] = %" PRId64, i, x);
      goto done;
    }
    if ((maxl < 0 || x < maxl) && x > maxv) maxv = x;
  }
  int64_t size = maxv + 1 > minl ? maxv + 1 : minl;
  if (maxl >= 0 && size > maxl) size = maxl;
  int64_t rows = per_row ? sp.shape[0] : 1;
  if (rows && size > INT64_MAX / rows) {
    s = tl_error(TL_INVALID_ARGUMENT, "bincount output of %" PRId64 " x %" PRId64 " is too large", rows, size);
    goto done;
  }
  /* Counts per (row, bin) in a hash-free way: sort the entries' bins per row. */
  tl_sp_keyed *k = malloc((size_t)(sp.nnz ? sp.nnz : 1) * sizeof *k);
  if (!k) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory in bincount");
    goto done;
  }
  int64_t m = 0;
  for (int64_t i = 0; i < sp.nnz; i++) {
    int64_t x = tl_sp_geti(xt, xv, i);
    if (x >= size) continue;
    k[m++] = (tl_sp_keyed){(per_row ? sp.idx[i * 2] : 0) * size + x, i};
  }
  qsort(k, (size_t)m, sizeof *k, tl_sp_keyed_cmp);
  int64_t n = 0;
  for (int64_t i = 0; i < m; i++) n += !i || k[i].key != k[i - 1].key;
  int orank = per_row ? 2 : 1;
  int64_t is[2] = {n, orank}, osr = orank;
  tl_dtype od = w ? w->dtype : in[1]->dtype;
  if ((s = tl_sp_new_i64(2, is, &oi)) || (s = tl_tensor_new(od, 1, &n, &ov)) || (s = tl_sp_new_i64(1, &osr, &os))) {
    free(k);
    goto done;
  }
  int64_t *oix = tl_tensor_data(oi), *osh = tl_tensor_data(os);
  void *ovd = tl_tensor_data(ov);
  if (per_row) osh[0] = rows, osh[1] = size;
  else osh[0] = size;
  int64_t e = -1;
  double f = 0;
  int64_t q = 0;
  for (int64_t i = 0; i < m; i++) {
    if (!i || k[i].key != k[i - 1].key) {
      if (e >= 0) tl_sp_set(wt, ovd, e, f, q);
      e++, f = 0, q = 0;
      if (per_row) oix[e * 2] = k[i].key / size, oix[e * 2 + 1] = k[i].key % size;
      else oix[e] = k[i].key;
    }
    if (binary) f = 1, q = 1;
    else if (w) f += tl_sp_get(wt, wv, k[i].pos), q += tl_sp_is_int(wt) ? tl_sp_geti(wt, wv, k[i].pos) : 0;
    else f += 1, q += 1;
  }
  if (e >= 0) tl_sp_set(wt, ovd, e, f, q);
  free(k);
  tl_tensor *res[3] = {oi, ov, os};
  oi = ov = os = NULL;
  for (int j = 0; j < 3; j++) {
    if (!s) s = tl_list_push(out, res[j]);
    else tl_tensor_release(res[j]);
  }
done:
  tl_tensor_release(w);
  tl_tensor_release(oi);
  tl_tensor_release(ov);
  tl_tensor_release(os);
  tl_sp_close(&sp);
  return s;
}

/* ---- sparse_fill_empty_rows ------------------------------------------------------ */

/* Outputs: the new indices, for each the input position it comes from (-1
 * for a filled row), and which rows were empty. The Lua side gathers the
 * values (and puts the default where the source is -1). Rows keep their
 * entries' order; rows come in increasing order. */
tl_status tl_sparse_fill_empty_rows_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  int r;
  tl_status s = tl_sp_check_meta(in[0], NULL, in[1], &r);
  if (s) return s;
  if (r == 0) return tl_error(TL_INVALID_ARGUMENT, "fill_empty_rows needs rank at least 1");
  int64_t is[2] = {-1, r}, m1 = -1;
  if ((s = tl_meta_emit(out, TL_INT64, 2, is)) || (s = tl_meta_emit(out, TL_INT64, 1, &m1))) return s;
  return tl_meta_emit(out, TL_BOOL, 1, &m1);
}

tl_status tl_sparse_fill_empty_rows_kernel(TL_KERNEL_ARGS) {
  (void)n_in, (void)attr;
  tl_sp sp;
  tl_tensor *oi = NULL, *osrc = NULL, *oe = NULL;
  int64_t *count = NULL, *start = NULL;
  tl_status s = tl_sp_recheck(op, in, n_in, attr);
  if (s) return s;
  s = tl_sp_open(&sp, in[0], NULL, in[1]);
  if (s) return s;
  if ((s = tl_sp_check_numel(&sp)) || (s = tl_sp_validate(&sp, TL_SP_BOUNDS))) goto done;
  if (sp.rank == 0) {
    s = tl_error(TL_INVALID_ARGUMENT, "fill_empty_rows needs rank at least 1");
    goto done;
  }
  int r = sp.rank;
  int64_t rows = sp.shape[0];
  count = calloc((size_t)(rows + 1), sizeof *count);
  start = calloc((size_t)(rows + 1), sizeof *start);
  if (!count || !start) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory in fill_empty_rows");
    goto done;
  }
  for (int64_t i = 0; i < sp.nnz; i++) count[sp.idx[i * r]]++;
  int64_t n = 0;
  for (int64_t row = 0; row < rows; row++) {
    start[row] = n;
    n += count[row] ? count[row] : 1;
  }
  int64_t is[2] = {n, r};
  if ((s = tl_sp_new_i64(2, is, &oi)) || (s = tl_sp_new_i64(1, &n, &osrc)) ||
      (s = tl_tensor_new(TL_BOOL, 1, &rows, &oe)))
    goto done;
  int64_t *o = tl_tensor_data(oi), *src = tl_tensor_data(osrc);
  uint8_t *emp = tl_tensor_data(oe);
  for (int64_t row = 0; row < rows; row++) {
    emp[row] = count[row] == 0;
    if (!count[row]) {
      int64_t p = start[row];
      memset(o + p * r, 0, (size_t)r * sizeof *o);
      o[p * r] = row;
      src[p] = -1;
    }
  }
  for (int64_t i = 0; i < sp.nnz; i++) {
    int64_t p = start[sp.idx[i * r]]++;
    memcpy(o + p * r, sp.idx + i * r, (size_t)r * sizeof *o);
    src[p] = i;
  }
  tl_tensor *res[3] = {oi, osrc, oe};
  oi = osrc = oe = NULL;
  for (int j = 0; j < 3; j++) {
    if (!s) s = tl_list_push(out, res[j]);
    else tl_tensor_release(res[j]);
  }
done:
  free(count), free(start);
  tl_tensor_release(oi);
  tl_tensor_release(osrc);
  tl_tensor_release(oe);
  tl_sp_close(&sp);
  return s;
}
