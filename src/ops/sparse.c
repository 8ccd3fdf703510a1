/* ops/sparse.c — the ops behind tf.sparse, on a SparseTensor's components
 * (indices int64 [nnz, rank], values [nnz], dense_shape int64 [rank]).
 *
 * Ops whose output count depends on the values (nnz of a sum, of a slice,
 * the dense shape of to_dense) are TL_OP_VALUE_SHAPE. Where a result's
 * values are a selection of the input's values (reorder, slice, fill of
 * empty rows), the op returns positions and the Lua side gathers the
 * values, so their gradients are gather's. Ops that combine values carry
 * their own rule: to_dense (gather_nd of dy), add (a merge of dy back onto
 * each operand, sparse_add_grad), reduce_sum (dy read at each entry's
 * reduced position, sparse_reduce_sum_grad, whose own gradient is
 * reduce_sum again). maximum/minimum and reduce_max have none, as in
 * TensorFlow. bincount and fill_empty_rows are in sparse_count.c (their
 * records are in this file's table), sparse_dense_matmul in
 * sparse_matmul.c, the segment reductions in sparse_segment.c, sets in
 * sets.c.
 *
 * Index checks read like TensorFlow's: "indices[1] = [0,1] is out of
 * order", "... is repeated", "... is out of bounds: need 0 <= index <
 * [2,3]". Values move by element size; arithmetic covers float32/64 and
 * int32/64 (other dtypes are Unimplemented, naming the dtype). String
 * values move as tl_string elements (to_dense, and the Lua side's gathers);
 * the dispatcher copies their bytes into the outputs' storage.
 */
#include "ops/sparse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared: the components as one view ---------------------------------- */

tl_status tl_sp_check_meta(const tl_meta *ind, const tl_meta *val, const tl_meta *shp, int *rank) {
  char b[TL_SHAPE_BUF];
  if (ind->dtype != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "indices must be int64, got %s", tl_dtypes[ind->dtype].name);
  if (shp->dtype != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "dense_shape must be int64, got %s", tl_dtypes[shp->dtype].name);
  if (ind->rank >= 0 && ind->rank != 2)
    return tl_error(TL_INVALID_ARGUMENT, "indices must be a matrix [nnz, rank], got shape %s",
                    tl_meta_dims(ind, b, sizeof b));
  if (shp->rank >= 0 && shp->rank != 1)
    return tl_error(TL_INVALID_ARGUMENT, "dense_shape must be a vector, got shape %s", tl_meta_dims(shp, b, sizeof b));
  if (val && val->rank >= 0 && val->rank != 1)
    return tl_error(TL_INVALID_ARGUMENT, "values must be a vector, got shape %s", tl_meta_dims(val, b, sizeof b));
  int64_t r1 = ind->rank == 2 ? ind->shape[1] : -1, r2 = shp->rank == 1 ? shp->shape[0] : -1;
  if (r1 >= 0 && r2 >= 0 && r1 != r2)
    return tl_error(TL_INVALID_ARGUMENT, "indices have %" PRId64 " columns but dense_shape has %" PRId64 " dimensions",
                    r1, r2);
  int64_t n1 = ind->rank == 2 ? ind->shape[0] : -1, n2 = val && val->rank == 1 ? val->shape[0] : -1;
  if (n1 >= 0 && n2 >= 0 && n1 != n2)
    return tl_error(TL_INVALID_ARGUMENT, "indices have %" PRId64 " rows but values have %" PRId64 " elements", n1, n2);
  int64_t r = r1 >= 0 ? r1 : r2;
  if (r > TL_MAX_RANK)
    return tl_error(TL_UNIMPLEMENTED, "sparse rank %" PRId64 " is over the supported %d", r, TL_MAX_RANK);
  *rank = (int)r;
  return TL_OK;
}

tl_status tl_sp_new_i64(int rank, const int64_t *shape, tl_tensor **out) {
  return tl_tensor_new(TL_INT64, rank, shape, out);
}

tl_status tl_sp_recheck(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr) {
  const tl_meta *m[TL_MAX_INPUTS];
  for (int i = 0; i < n_in && i < TL_MAX_INPUTS; i++) m[i] = in[i] ? &in[i]->meta : NULL;
  tl_meta_list l;
  tl_meta_list_init(&l);
  tl_status s = op->infer(op, m, n_in, attr, &l);
  tl_meta_list_free(&l);
  return s;
}

void tl_sp_close(tl_sp *sp) {
  tl_tensor_release(sp->ind);
  tl_tensor_release(sp->val);
  tl_tensor_release(sp->shp);
  memset(sp, 0, sizeof *sp);
}

tl_status tl_sp_open(tl_sp *sp, tl_tensor *ind, tl_tensor *val, tl_tensor *shp) {
  memset(sp, 0, sizeof *sp);
  int r;
  tl_status s = tl_sp_check_meta(&ind->meta, val ? &val->meta : NULL, &shp->meta, &r);
  if (s) return s;
  if ((s = tl_tensor_contiguous(ind, &sp->ind))) return s;
  if (val && (s = tl_tensor_contiguous(val, &sp->val))) goto fail;
  if ((s = tl_tensor_contiguous(shp, &sp->shp))) goto fail;
  sp->rank = r;
  sp->nnz = ind->shape[0];
  sp->idx = tl_tensor_data(sp->ind);
  const int64_t *d = tl_tensor_data(sp->shp);
  for (int i = 0; i < r; i++) {
    if (d[i] < 0) {
      s = tl_error(TL_INVALID_ARGUMENT, "dense_shape[%d] = %" PRId64 " is negative", i, d[i]);
      goto fail;
    }
    sp->shape[i] = d[i];
  }
  return TL_OK;
fail:
  tl_sp_close(sp);
  return s;
}

char *tl_sp_index_text(const tl_sp *sp, int64_t i, char *buf, size_t n) {
  size_t k = 0;
  k += (size_t)snprintf(buf + k, n - k, "[");
  for (int d = 0; d < sp->rank && k < n; d++)
    k += (size_t)snprintf(buf + k, n - k, "%s%" PRId64, d ? "," : "", sp->idx[i * sp->rank + d]);
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}

tl_status tl_sp_validate(const tl_sp *sp, int checks) {
  char ib[TL_SHAPE_BUF], sb[TL_SHAPE_BUF];
  int r = sp->rank;
  for (int64_t i = 0; i < sp->nnz; i++) {
    const int64_t *ix = sp->idx + i * r;
    if (checks & TL_SP_BOUNDS)
      for (int d = 0; d < r; d++)
        if (ix[d] < 0 || ix[d] >= sp->shape[d])
          return tl_error(TL_INVALID_ARGUMENT, "indices[%" PRId64 "] = %s is out of bounds: need 0 <= index < %s", i,
                          tl_sp_index_text(sp, i, ib, sizeof ib), tl_shape_format(r, sp->shape, sb, sizeof sb));
    if ((checks & TL_SP_ORDER) && i > 0) {
      const int64_t *pv = ix - r;
      int cmp = 0;
      for (int d = 0; d < r && !cmp; d++) cmp = ix[d] < pv[d] ? -1 : ix[d] > pv[d];
      if (cmp < 0)
        return tl_error(TL_INVALID_ARGUMENT,
                        "indices[%" PRId64 "] = %s is out of order. Many sparse ops require sorted indices. "
                        "Use tf.sparse.reorder to create a correctly ordered copy.",
                        i, tl_sp_index_text(sp, i, ib, sizeof ib));
      if (cmp == 0)
        return tl_error(TL_INVALID_ARGUMENT, "indices[%" PRId64 "] = %s is repeated", i,
                        tl_sp_index_text(sp, i, ib, sizeof ib));
    }
  }
  return TL_OK;
}

int tl_sp_keyed_cmp(const void *a, const void *b) {
  const tl_sp_keyed *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos; /* stable */
}

/* Entries sorted by row-major position (stable): malloc'd (key, pos) pairs. */
tl_status tl_sp_sorted(const tl_sp *sp, tl_sp_keyed **out) {
  tl_status s = tl_sp_check_numel(sp);
  if (s) return s;
  tl_sp_keyed *k = malloc((size_t)(sp->nnz ? sp->nnz : 1) * sizeof *k);
  if (!k) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory sorting %" PRId64 " sparse entries", sp->nnz);
  bool sorted = true;
  for (int64_t i = 0; i < sp->nnz; i++) {
    k[i] = (tl_sp_keyed){tl_sp_key(sp, i), i};
    if (i && k[i].key < k[i - 1].key) sorted = false;
  }
  if (!sorted) qsort(k, (size_t)sp->nnz, sizeof *k, tl_sp_keyed_cmp);
  *out = k;
  return TL_OK;
}

tl_status tl_sp_sort_perm(const tl_sp *sp, int64_t **perm) {
  tl_sp_keyed *k;
  tl_status s = tl_sp_sorted(sp, &k);
  if (s) return s;
  int64_t *p = (int64_t *)k; /* compact in place: pos i lands at or before pair i */
  for (int64_t i = 0; i < sp->nnz; i++) p[i] = k[i].pos;
  *perm = p;
  return TL_OK;
}

/* ---- sparse_to_dense ------------------------------------------------------ */

static tl_status to_dense_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  int r;
  tl_status s = tl_sp_check_meta(in[0], in[1], in[2], &r);
  if (s || (s = tl_sp_need_copyable(in[1]->dtype))) return s;
  if (in[3]) {
    if (in[3]->dtype != in[1]->dtype)
      return tl_error(TL_INVALID_ARGUMENT, "default_value is %s but values are %s", tl_dtypes[in[3]->dtype].name,
                      tl_dtypes[in[1]->dtype].name);
    if (in[3]->rank > 0 || (in[3]->rank < 0))
      return tl_error(TL_INVALID_ARGUMENT, "default_value must be a scalar");
  }
  int64_t shape[TL_MAX_RANK];
  for (int i = 0; i < TL_MAX_RANK; i++) shape[i] = -1;
  return tl_meta_emit(out, in[1]->dtype, r, shape);
}

static tl_status to_dense_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  tl_sp sp;
  tl_tensor *res = NULL, *dv = NULL;
  tl_status s = tl_sp_recheck(op, in, n_in, attr);
  if (s) return s;
  s = tl_sp_open(&sp, in[0], in[1], in[2]);
  if (s) return s;
  if ((s = tl_sp_validate(&sp, TL_SP_BOUNDS | (attr[0].b ? TL_SP_ORDER : 0)))) goto done;
  if ((s = tl_tensor_new(in[1]->dtype, sp.rank, sp.shape, &res))) goto done;
  size_t es = tl_dtypes[res->dtype].size;
  char *o = tl_tensor_data(res);
  if (in[3]) {
    if ((s = tl_tensor_contiguous(in[3], &dv))) goto done;
    const char *v = tl_tensor_data(dv);
    for (int64_t i = 0; i < res->size; i++) memcpy(o + i * es, v, es);
  } else {
    memset(o, 0, (size_t)res->size * es);
  }
  const char *vals = tl_tensor_data(sp.val);
  for (int64_t i = 0; i < sp.nnz; i++) memcpy(o + tl_sp_key(&sp, i) * (int64_t)es, vals + i * (int64_t)es, es);
  s = tl_list_push(out, res);
  res = NULL;
done:
  tl_tensor_release(res);
  tl_tensor_release(dv);
  tl_sp_close(&sp);
  return s;
}

/* values get dy at their indices; the default value dy's remaining sum. */
static tl_status to_dense_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (!grad_out[0]) return TL_OK;
  tl_status s = TL_OK;
  tl_tensor *at = NULL;
  if (tl_grad_wants(1) || (in[3] && tl_grad_wants(3)))
    s = tl_call("gather_nd", 2, (tl_tensor *[]){grad_out[0], in[0]}, 0, NULL, &at);
  if (!s && in[3] && tl_grad_wants(3)) {
    tl_tensor *all = NULL, *part = NULL;
    s = tl_call("reduce_sum", 1, &grad_out[0], 0, NULL, &all);
    if (!s) s = tl_call("reduce_sum", 1, &at, 0, NULL, &part);
    if (!s) s = tl_call("subtract", 2, (tl_tensor *[]){all, part}, 0, NULL, &grad_in[3]);
    tl_tensor_release(all);
    tl_tensor_release(part);
  }
  if (!s && tl_grad_wants(1)) grad_in[1] = tl_tensor_retain(at);
  tl_tensor_release(at);
  return s;
}

/* ---- sparse_reorder_perm ---------------------------------------------------- */

static tl_status perm_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  int r;
  tl_status s = tl_sp_check_meta(in[0], NULL, in[1], &r);
  return s ? s : tl_meta_emit(out, TL_INT64, 1, &in[0]->shape[0]);
}

static tl_status perm_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_sp sp;
  int64_t *perm = NULL;
  tl_status s = tl_sp_open(&sp, in[0], NULL, in[1]);
  if (s) return s;
  if (!(s = tl_sp_validate(&sp, TL_SP_BOUNDS)) && !(s = tl_sp_sort_perm(&sp, &perm)))
    memcpy(tl_tensor_data(tl_out(out, 0)), perm, (size_t)sp.nnz * sizeof *perm);
  free(perm);
  tl_sp_close(&sp);
  return s;
}

/* ---- sparse_reshape ------------------------------------------------------- */

/* The new shape with -1 resolved against `total` (-1 when unknown). */
static tl_status reshape_resolve(const tl_attr *a, int64_t total, int64_t *shape) {
  int unknown = -1;
  int64_t known = 1;
  if (a->n > TL_MAX_RANK) return tl_error(TL_UNIMPLEMENTED, "shape has %d dimensions, over %d", a->n, TL_MAX_RANK);
  for (int i = 0; i < a->n; i++) {
    shape[i] = a->ints[i];
    if (a->ints[i] == -1) {
      if (unknown >= 0) return tl_error(TL_INVALID_ARGUMENT, "at most one dimension of shape may be -1 (%d and %d)", unknown, i);
      unknown = i;
    } else if (a->ints[i] < 0) {
      return tl_error(TL_INVALID_ARGUMENT, "shape[%d] = %" PRId64 " is negative", i, a->ints[i]);
    } else {
      known *= a->ints[i];
    }
  }
  if (total < 0) return TL_OK;
  if (unknown >= 0) {
    if (known == 0 || total % known)
      return tl_error(TL_INVALID_ARGUMENT, "cannot reshape %" PRId64 " dense values into a shape with -1 and %" PRId64
                      " known values", total, known);
    shape[unknown] = total / known;
  } else if (known != total) {
    return tl_error(TL_INVALID_ARGUMENT,
                    "Input to reshape is a tensor with %" PRId64 " dense values, but the requested shape has %" PRId64,
                    total, known);
  }
  return TL_OK;
}

static tl_status reshape_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  int r;
  int64_t shape[TL_MAX_RANK];
  tl_status s = tl_sp_check_meta(in[0], NULL, in[1], &r);
  if (!s) s = reshape_resolve(&attr[0], -1, shape);
  if (s) return s;
  int64_t n = attr[0].n, is[2] = {in[0]->rank == 2 ? in[0]->shape[0] : -1, n};
  if ((s = tl_meta_emit(out, TL_INT64, 2, is))) return s;
  return tl_meta_emit(out, TL_INT64, 1, &n);
}

static tl_status reshape_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_sp sp;
  int64_t shape[TL_MAX_RANK];
  int nr = attr[0].n;
  tl_status s = tl_sp_open(&sp, in[0], NULL, in[1]);
  if (s) return s;
  if ((s = tl_sp_check_numel(&sp)) || (s = reshape_resolve(&attr[0], tl_shape_numel(sp.rank, sp.shape), shape)) ||
      (s = tl_sp_validate(&sp, TL_SP_BOUNDS)))
    goto done;
  memcpy(tl_tensor_data(tl_out(out, 1)), shape, (size_t)nr * sizeof *shape);
  int64_t *o = tl_tensor_data(tl_out(out, 0));
  for (int64_t i = 0; i < sp.nnz; i++) {
    int64_t k = tl_sp_key(&sp, i);
    for (int d = nr - 1; d >= 0; d--) {
      o[i * nr + d] = shape[d] ? k % shape[d] : 0;
      k = shape[d] ? k / shape[d] : 0;
    }
  }
done:
  tl_sp_close(&sp);
  return s;
}

/* ---- sparse_add, sparse_maximum, sparse_minimum ------------------------------ */

typedef enum { MERGE_ADD, MERGE_MAX, MERGE_MIN } merge_kind;
static const merge_kind merge_add = MERGE_ADD, merge_max = MERGE_MAX, merge_min = MERGE_MIN;

static tl_status merge_infer(TL_INFER_ARGS) {
  (void)n_in, (void)attr;
  int ra, rb;
  tl_status s = tl_sp_check_meta(in[0], in[1], in[2], &ra);
  if (!s) s = tl_sp_check_meta(in[3], in[4], in[5], &rb);
  if (s) return s;
  if (in[1]->dtype != in[4]->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "values of a are %s but values of b are %s", tl_dtypes[in[1]->dtype].name,
                    tl_dtypes[in[4]->dtype].name);
  if (ra >= 0 && rb >= 0 && ra != rb)
    return tl_error(TL_INVALID_ARGUMENT, "operands have ranks %d and %d", ra, rb);
  if ((s = tl_sp_need_arith(in[1]->dtype))) return s;
  (void)op;
  int64_t is[2] = {-1, ra >= 0 ? ra : rb};
  if ((s = tl_meta_emit(out, TL_INT64, 2, is))) return s;
  return tl_meta_emit(out, in[1]->dtype, 1, is);
}

static tl_status open_pair(tl_tensor *const *in, tl_sp *a, tl_sp *b) {
  tl_status s = tl_sp_open(a, in[0], in[1], in[2]);
  if (s) return s;
  if ((s = tl_sp_open(b, in[3], in[4], in[5]))) {
    tl_sp_close(a);
    return s;
  }
  char sa[TL_SHAPE_BUF], sb[TL_SHAPE_BUF];
  if (a->rank != b->rank || memcmp(a->shape, b->shape, (size_t)a->rank * sizeof a->shape[0]))
    s = tl_error(TL_INVALID_ARGUMENT, "operands' shapes do not match: %s vs %s",
                 tl_shape_format(a->rank, a->shape, sa, sizeof sa), tl_shape_format(b->rank, b->shape, sb, sizeof sb));
  if (!s) s = tl_sp_validate(a, TL_SP_BOUNDS);
  if (!s) s = tl_sp_validate(b, TL_SP_BOUNDS);
  if (s) {
    tl_sp_close(a);
    tl_sp_close(b);
  }
  return s;
}

static tl_status merge_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  merge_kind kind = *(const merge_kind *)op->impl;
  tl_sp a, b;
  tl_sp_keyed *ka = NULL, *kb = NULL;
  tl_tensor *oi = NULL, *ov = NULL;
  int64_t *src = NULL;
  double *fv = NULL;
  int64_t *iv = NULL;
  tl_status s = tl_sp_recheck(op, in, n_in, attr);
  if (s) return s;
  s = open_pair(in, &a, &b);
  if (s) return s;
  if ((s = tl_sp_sorted(&a, &ka)) || (s = tl_sp_sorted(&b, &kb))) goto done;
  tl_sp_vtype vt = tl_sp_vtype_of(in[1]->dtype);
  const void *va = tl_tensor_data(a.val), *vb = tl_tensor_data(b.val);
  int64_t cap = a.nnz + b.nnz ? a.nnz + b.nnz : 1, n = 0;
  src = malloc((size_t)cap * sizeof *src); /* a's or b's position (b as ~pos) giving each entry's index */
  fv = malloc((size_t)cap * sizeof *fv);
  iv = malloc((size_t)cap * sizeof *iv);
  if (!src || !fv || !iv) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory merging sparse operands");
    goto done;
  }
  double thresh = kind == MERGE_ADD ? attr[0].f : 0;
  int64_t i = 0, j = 0;
  while (i < a.nnz || j < b.nnz) {
    int64_t key = i < a.nnz && (j >= b.nnz || ka[i].key <= kb[j].key) ? ka[i].key : kb[j].key;
    double fa = 0, fb = 0;
    int64_t ia = 0, ib = 0, from = 0;
    bool has_a = false;
    for (; i < a.nnz && ka[i].key == key; i++, has_a = true) {
      fa += tl_sp_get(vt, va, ka[i].pos);
      ia += tl_sp_is_int(vt) ? tl_sp_geti(vt, va, ka[i].pos) : 0;
      from = ka[i].pos;
    }
    bool has_b = false;
    for (; j < b.nnz && kb[j].key == key; j++) {
      fb += tl_sp_get(vt, vb, kb[j].pos);
      ib += tl_sp_is_int(vt) ? tl_sp_geti(vt, vb, kb[j].pos) : 0;
      if (!has_a && !has_b) from = ~kb[j].pos;
      has_b = true;
    }
    double f;
    int64_t k;
    if (kind == MERGE_ADD) {
      f = fa + fb, k = ia + ib;
      /* kept when |sum| >= threshold, as in TensorFlow (so a NaN sum is dropped) */
      if (tl_sp_is_int(vt) ? (double)llabs(k) < thresh : !(f >= thresh || -f >= thresh)) continue;
    } else if (kind == MERGE_MAX) {
      f = fa > fb ? fa : fb, k = ia > ib ? ia : ib;
    } else {
      f = fa < fb ? fa : fb, k = ia < ib ? ia : ib;
    }
    src[n] = from, fv[n] = f, iv[n] = k;
    n++;
  }
  int64_t is[2] = {n, a.rank};
  if ((s = tl_sp_new_i64(2, is, &oi)) || (s = tl_tensor_new(in[1]->dtype, 1, &n, &ov))) goto done;
  int64_t *o = tl_tensor_data(oi);
  void *vo = tl_tensor_data(ov);
  for (int64_t e = 0; e < n; e++) {
    const int64_t *from = src[e] >= 0 ? a.idx + src[e] * a.rank : b.idx + (~src[e]) * b.rank;
    memcpy(o + e * a.rank, from, (size_t)a.rank * sizeof *o);
    tl_sp_set(vt, vo, e, fv[e], iv[e]);
  }
  if (!(s = tl_list_push(out, oi))) {
    oi = NULL;
    s = tl_list_push(out, ov);
    ov = NULL;
  }
done:
  tl_tensor_release(oi);
  tl_tensor_release(ov);
  free(ka), free(kb), free(src), free(fv), free(iv);
  tl_sp_close(&a);
  tl_sp_close(&b);
  return s;
}

/* Each operand's entries take dy at the same index of the sum (0 where the
 * threshold dropped it). */
static tl_status add_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (!grad_out[1]) return TL_OK;
  tl_tensor_list l;
  tl_list_init(&l);
  tl_status s = tl_call_list("sparse_add_grad", 5, (tl_tensor *[]){grad_out[1], in[0], in[3], out[0], in[2]}, 0,
                             NULL, &l);
  if (!s) {
    grad_in[1] = tl_tensor_retain(l.items[0]);
    grad_in[4] = tl_tensor_retain(l.items[1]);
  }
  tl_list_clear(&l);
  return s;
}

static tl_status add_grad_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  int r;
  tl_status s = tl_sp_check_meta(in[3], in[0], in[4], &r);
  if (!s) s = tl_sp_check_meta(in[1], NULL, in[4], &r);
  if (!s) s = tl_sp_check_meta(in[2], NULL, in[4], &r);
  if (!s) s = tl_meta_emit(out, in[0]->dtype, 1, &in[1]->shape[0]);
  if (!s) s = tl_meta_emit(out, in[0]->dtype, 1, &in[2]->shape[0]);
  return s;
}

/* Position of key in the sorted keys of the sum, or -1. */
static int64_t find_key(const tl_sp_keyed *k, int64_t n, int64_t key) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (k[mid].key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && k[lo].key == key ? k[lo].pos : -1;
}

static tl_status add_grad_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_sp sum, ops[2];
  tl_sp_keyed *ks = NULL;
  tl_tensor *dy = NULL;
  tl_status s = tl_sp_open(&sum, in[3], NULL, in[4]);
  if (s) return s;
  if ((s = tl_sp_open(&ops[0], in[1], NULL, in[4]))) goto close_sum;
  if ((s = tl_sp_open(&ops[1], in[2], NULL, in[4]))) goto close_a;
  if ((s = tl_sp_validate(&sum, TL_SP_BOUNDS)) || (s = tl_sp_validate(&ops[0], TL_SP_BOUNDS)) ||
      (s = tl_sp_validate(&ops[1], TL_SP_BOUNDS)) || (s = tl_sp_sorted(&sum, &ks)) ||
      (s = tl_tensor_contiguous(in[0], &dy)))
    goto done;
  size_t es = tl_dtypes[dy->dtype].size;
  const char *g = tl_tensor_data(dy);
  for (int k = 0; k < 2; k++) {
    char *o = tl_tensor_data(tl_out(out, k));
    for (int64_t i = 0; i < ops[k].nnz; i++) {
      int64_t p = find_key(ks, sum.nnz, tl_sp_key(&ops[k], i));
      if (p >= 0) memcpy(o + i * (int64_t)es, g + p * (int64_t)es, es);
      else memset(o + i * (int64_t)es, 0, es);
    }
  }
done:
  free(ks);
  tl_tensor_release(dy);
  tl_sp_close(&ops[1]);
close_a:
  tl_sp_close(&ops[0]);
close_sum:
  tl_sp_close(&sum);
  return s;
}

/* ---- sparse_slice ------------------------------------------------------------ */

static tl_status slice_check_attrs(const tl_attr *attr, int r) {
  if (attr[0].n != attr[1].n)
    return tl_error(TL_INVALID_ARGUMENT, "start has %d entries but size has %d", attr[0].n, attr[1].n);
  if (r >= 0 && attr[0].n != r)
    return tl_error(TL_INVALID_ARGUMENT, "start and size need %d entries (the rank), got %d", r, attr[0].n);
  for (int i = 0; i < attr[0].n; i++)
    if (attr[0].ints[i] < 0 || attr[1].ints[i] < 0)
      return tl_error(TL_INVALID_ARGUMENT, "start[%d] = %" PRId64 " and size[%d] = %" PRId64 " must not be negative", i,
                      attr[0].ints[i], i, attr[1].ints[i]);
  return TL_OK;
}

static tl_status slice_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  int r;
  tl_status s = tl_sp_check_meta(in[0], NULL, in[1], &r);
  if (!s) s = slice_check_attrs(attr, r);
  if (s) return s;
  int64_t n = -1, is[2] = {-1, attr[0].n}, rr = attr[0].n;
  if ((s = tl_meta_emit(out, TL_INT64, 1, &n)) || (s = tl_meta_emit(out, TL_INT64, 2, is))) return s;
  return tl_meta_emit(out, TL_INT64, 1, &rr);
}

static tl_status slice_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  tl_sp sp;
  tl_tensor *pos = NULL, *ni = NULL, *ns = NULL;
  tl_status s = tl_sp_recheck(op, in, n_in, attr);
  if (s) return s;
  s = tl_sp_open(&sp, in[0], NULL, in[1]);
  if (s) return s;
  if ((s = slice_check_attrs(attr, sp.rank)) || (s = tl_sp_validate(&sp, TL_SP_BOUNDS))) goto done;
  int r = sp.rank;
  const int64_t *st = attr[0].ints, *sz = attr[1].ints;
  int64_t n = 0, rr = r;
  for (int64_t i = 0; i < sp.nnz; i++) {
    bool in_ = true;
    for (int d = 0; d < r && in_; d++) {
      int64_t x = sp.idx[i * r + d];
      in_ = x >= st[d] && x - st[d] < sz[d];
    }
    n += in_;
  }
  int64_t is[2] = {n, r};
  if ((s = tl_sp_new_i64(1, &n, &pos)) || (s = tl_sp_new_i64(2, is, &ni)) || (s = tl_sp_new_i64(1, &rr, &ns)))
    goto done;
  int64_t *p = tl_tensor_data(pos), *o = tl_tensor_data(ni), *sh = tl_tensor_data(ns), k = 0;
  for (int64_t i = 0; i < sp.nnz; i++) {
    bool in_ = true;
    for (int d = 0; d < r && in_; d++) {
      int64_t x = sp.idx[i * r + d];
      in_ = x >= st[d] && x - st[d] < sz[d];
    }
    if (!in_) continue;
    p[k] = i;
    for (int d = 0; d < r; d++) o[k * r + d] = sp.idx[i * r + d] - st[d];
    k++;
  }
  for (int d = 0; d < r; d++) {
    int64_t end = sz[d] > sp.shape[d] - st[d] ? sp.shape[d] : st[d] + sz[d];
    sh[d] = end > st[d] ? end - st[d] : 0;
  }
  tl_tensor *res[3] = {pos, ni, ns};
  pos = ni = ns = NULL;
  for (int k2 = 0; k2 < 3; k2++) {
    if (!s) s = tl_list_push(out, res[k2]);
    else tl_tensor_release(res[k2]);
  }
done:
  tl_tensor_release(pos);
  tl_tensor_release(ni);
  tl_tensor_release(ns);
  tl_sp_close(&sp);
  return s;
}

/* ---- sparse_reduce_sum, sparse_reduce_max ----------------------------------- */

/* Which of r axes are reduced (all when the attribute is absent). */
static tl_status reduce_axes(const tl_attr *axis, int r, bool *red) {
  for (int d = 0; d < r; d++) red[d] = !axis->present;
  if (!axis->present) return TL_OK;
  for (int i = 0; i < axis->n; i++) {
    int a;
    tl_status s = tl_normalize_axis(NULL, axis->ints[i], r, &a);
    if (s) return s;
    red[a] = true;
  }
  return TL_OK;
}

/* The output shape of a reduction of shape (rank r) into oshape. */
static int reduce_shape(const bool *red, int r, const int64_t *shape, bool keepdims, int64_t *oshape) {
  int k = 0;
  for (int d = 0; d < r; d++)
    if (!red[d]) oshape[k++] = shape[d];
    else if (keepdims) oshape[k++] = 1;
  return k;
}

static tl_status reduce_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  int r;
  tl_status s = tl_sp_check_meta(in[0], in[1], in[2], &r);
  if (!s) s = tl_sp_need_arith(in[1]->dtype);
  if (s) return s;
  if (r < 0) return tl_meta_emit(out, in[1]->dtype, -1, NULL);
  bool red[TL_MAX_RANK];
  int64_t unk[TL_MAX_RANK], oshape[TL_MAX_RANK];
  for (int d = 0; d < TL_MAX_RANK; d++) unk[d] = -1;
  if ((s = reduce_axes(&attr[0], r, red))) return s;
  int k = reduce_shape(red, r, unk, attr[1].b, oshape);
  for (int d = 0; d < k; d++) oshape[d] = oshape[d] == 1 ? 1 : -1;
  return tl_meta_emit(out, in[1]->dtype, k, oshape);
}

/* Output position of entry i of a reduction. */
static int64_t reduced_pos(const tl_sp *sp, const bool *red, int64_t i) {
  int64_t k = 0;
  for (int d = 0; d < sp->rank; d++)
    if (!red[d]) k = k * sp->shape[d] + sp->idx[i * sp->rank + d];
  return k;
}

static tl_status reduce_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  bool is_max = *(const merge_kind *)op->impl == MERGE_MAX;
  tl_sp sp;
  tl_tensor *res = NULL;
  bool red[TL_MAX_RANK];
  int64_t oshape[TL_MAX_RANK];
  double *acc = NULL;
  int64_t *iacc = NULL;
  uint8_t *seen = NULL;
  tl_status s = tl_sp_recheck(op, in, n_in, attr);
  if (s) return s;
  s = tl_sp_open(&sp, in[0], in[1], in[2]);
  if (s) return s;
  if ((s = reduce_axes(&attr[0], sp.rank, red)) || (s = tl_sp_validate(&sp, TL_SP_BOUNDS))) goto done;
  int k = reduce_shape(red, sp.rank, sp.shape, attr[1].b, oshape);
  if ((s = tl_tensor_new(in[1]->dtype, k, oshape, &res))) goto done;
  int64_t n = res->size;
  acc = calloc((size_t)(n ? n : 1), sizeof *acc);
  iacc = calloc((size_t)(n ? n : 1), sizeof *iacc);
  seen = calloc((size_t)(n ? n : 1), 1);
  if (!acc || !iacc || !seen) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory reducing %" PRId64 " outputs", n);
    goto done;
  }
  tl_sp_vtype vt = tl_sp_vtype_of(in[1]->dtype);
  const void *v = tl_tensor_data(sp.val);
  for (int64_t i = 0; i < sp.nnz; i++) {
    int64_t p = reduced_pos(&sp, red, i);
    double f = tl_sp_get(vt, v, i);
    int64_t q = tl_sp_is_int(vt) ? tl_sp_geti(vt, v, i) : 0;
    if (!is_max) {
      acc[p] += f, iacc[p] += q;
    } else if (tl_sp_is_int(vt)) {
      if (!seen[p] || q > iacc[p]) iacc[p] = q;
    } else if (!seen[p] || f > acc[p] || f != f) { /* a NaN stays, as in max */
      if (!(seen[p] && acc[p] != acc[p])) acc[p] = f;
    }
    seen[p] = 1;
  }
  void *o = tl_tensor_data(res);
  for (int64_t p = 0; p < n; p++) tl_sp_set(vt, o, p, acc[p], iacc[p]);
  s = tl_list_push(out, res);
  res = NULL;
done:
  free(acc), free(iacc), free(seen);
  tl_tensor_release(res);
  tl_sp_close(&sp);
  return s;
}

static tl_status reduce_sum_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (!grad_out[0] || !tl_grad_wants(1)) return TL_OK;
  return tl_call("sparse_reduce_sum_grad", 3, (tl_tensor *[]){grad_out[0], in[0], in[2]}, 2,
                 (tl_named_attr[]){{"axis", attr[0]}, TL_A_BOOL("keepdims", attr[1].b)}, &grad_in[1]);
}

static tl_status reduce_grad_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  int r;
  tl_status s = tl_sp_check_meta(in[1], NULL, in[2], &r);
  if (!s) s = tl_sp_need_arith(in[0]->dtype);
  return s ? s : tl_meta_emit(out, in[0]->dtype, 1, &in[1]->shape[0]);
}

static tl_status reduce_grad_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_sp sp;
  tl_tensor *dy = NULL;
  bool red[TL_MAX_RANK];
  int64_t oshape[TL_MAX_RANK];
  char b1[TL_SHAPE_BUF], b2[TL_SHAPE_BUF];
  tl_status s = tl_sp_open(&sp, in[1], NULL, in[2]);
  if (s) return s;
  if ((s = reduce_axes(&attr[0], sp.rank, red)) || (s = tl_sp_validate(&sp, TL_SP_BOUNDS))) goto done;
  int k = reduce_shape(red, sp.rank, sp.shape, attr[1].b, oshape);
  if (tl_shape_numel(k, oshape) != in[0]->size) {
    s = tl_error(TL_INVALID_ARGUMENT, "dy has shape %s, the reduction gives %s",
                 tl_shape_format(in[0]->rank, in[0]->shape, b1, sizeof b1), tl_shape_format(k, oshape, b2, sizeof b2));
    goto done;
  }
  if ((s = tl_tensor_contiguous(in[0], &dy))) goto done;
  size_t es = tl_dtypes[dy->dtype].size;
  const char *g = tl_tensor_data(dy);
  char *o = tl_tensor_data(tl_out(out, 0));
  for (int64_t i = 0; i < sp.nnz; i++) memcpy(o + i * (int64_t)es, g + reduced_pos(&sp, red, i) * (int64_t)es, es);
done:
  tl_tensor_release(dy);
  tl_sp_close(&sp);
  return s;
}

/* The rule is linear in dy: its gradient is the reduction again. */
static tl_status reduce_grad_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (!grad_out[0] || !tl_grad_wants(0)) return TL_OK;
  tl_tensor *r = NULL;
  tl_status s = tl_call("sparse_reduce_sum", 3, (tl_tensor *[]){in[1], grad_out[0], in[2]}, 2,
                        (tl_named_attr[]){{"axis", attr[0]}, TL_A_BOOL("keepdims", attr[1].b)}, &r);
  if (!s) s = tl_reshape_to(r, in[0]->rank, in[0]->shape, &grad_in[0]);
  tl_tensor_release(r);
  return s;
}

/* ---- the table -------------------------------------------------------------------- */

extern tl_status tl_sparse_bincount_infer(TL_INFER_ARGS);
extern tl_status tl_sparse_bincount_kernel(TL_KERNEL_ARGS);
extern tl_status tl_sparse_fill_empty_rows_infer(TL_INFER_ARGS);
extern tl_status tl_sparse_fill_empty_rows_kernel(TL_KERNEL_ARGS);
extern tl_status tl_sparse_dense_matmul_infer(TL_INFER_ARGS);
extern tl_status tl_sparse_dense_matmul_kernel(TL_KERNEL_ARGS);
extern tl_status tl_sparse_dense_matmul_grad(TL_GRAD_ARGS);

#define SP "indices, values, dense_shape"
#define SP2 "a_indices, a_values, a_shape, b_indices, b_values, b_shape"
tl_op_def tl_ops_sparse[] = {
    {.name = "sparse_to_dense", .inputs = SP ", default_value?", .attrs = "validate_indices:bool=true",
     .infer = to_dense_infer, .kernel[TL_CPU] = to_dense_kernel, .grad = to_dense_grad, .flags = TL_OP_VALUE_SHAPE,
     .api = "-", .doc = "The dense tensor of a SparseTensor's components (default_value elsewhere)."},
    {.name = "sparse_reorder_perm", .inputs = "indices, dense_shape", .infer = perm_infer,
     .kernel[TL_CPU] = perm_kernel, .flags = TL_OP_NO_GRADIENT, .api = "-",
     .doc = "The permutation sorting sparse indices into row-major order (stable)."},
    {.name = "sparse_reshape", .inputs = "indices, dense_shape", .attrs = "shape:ints", .infer = reshape_infer,
     .kernel[TL_CPU] = reshape_kernel, .flags = TL_OP_NO_GRADIENT, .api = "-",
     .doc = "Sparse indices and dense shape reshaped to shape (one -1 inferred)."},
    {.name = "sparse_add", .inputs = SP2, .attrs = "threshold:float=0", .infer = merge_infer,
     .kernel[TL_CPU] = merge_kernel, .grad = add_grad, .flags = TL_OP_VALUE_SHAPE, .api = "-", .impl = &merge_add,
     .doc = "Sum of two sparse operands (indices, values), sorted; sums below threshold in magnitude dropped."},
    {.name = "sparse_add_grad", .inputs = "dsum, a_indices, b_indices, sum_indices, dense_shape", .infer = add_grad_infer,
     .kernel[TL_CPU] = add_grad_kernel, .flags = TL_OP_NO_GRADIENT, .api = "-",
     .doc = "sparse_add's gradient: each operand's entries take dsum at the same index."},
    {.name = "sparse_maximum", .inputs = SP2, .infer = merge_infer, .kernel[TL_CPU] = merge_kernel,
     .flags = TL_OP_VALUE_SHAPE | TL_OP_NO_GRADIENT, .api = "-", .impl = &merge_max,
     .doc = "Element-wise maximum of two sparse operands (missing entries are 0)."},
    {.name = "sparse_minimum", .inputs = SP2, .infer = merge_infer, .kernel[TL_CPU] = merge_kernel,
     .flags = TL_OP_VALUE_SHAPE | TL_OP_NO_GRADIENT, .api = "-", .impl = &merge_min,
     .doc = "Element-wise minimum of two sparse operands (missing entries are 0)."},
    {.name = "sparse_slice", .inputs = "indices, dense_shape", .attrs = "start:ints, size:ints", .infer = slice_infer,
     .kernel[TL_CPU] = slice_kernel, .flags = TL_OP_VALUE_SHAPE | TL_OP_NO_GRADIENT, .api = "-",
     .doc = "Positions, indices and dense shape of a sparse slice [start, start + size)."},
    {.name = "sparse_reduce_sum", .inputs = SP, .attrs = "axis:ints?, keepdims:bool=false", .infer = reduce_infer,
     .kernel[TL_CPU] = reduce_kernel, .grad = reduce_sum_grad, .flags = TL_OP_VALUE_SHAPE, .api = "-",
     .impl = &merge_add, .doc = "Dense sum of a sparse tensor over axis (all when absent)."},
    {.name = "sparse_reduce_sum_grad", .inputs = "dy, indices, dense_shape", .attrs = "axis:ints?, keepdims:bool=false",
     .infer = reduce_grad_infer, .kernel[TL_CPU] = reduce_grad_kernel, .grad = reduce_grad_grad, .api = "-",
     .doc = "sparse_reduce_sum's gradient: dy at each entry's reduced position."},
    {.name = "sparse_reduce_max", .inputs = SP, .attrs = "axis:ints?, keepdims:bool=false", .infer = reduce_infer,
     .kernel[TL_CPU] = reduce_kernel, .flags = TL_OP_VALUE_SHAPE | TL_OP_NO_GRADIENT, .api = "-", .impl = &merge_max,
     .doc = "Dense maximum of a sparse tensor's entries over axis (0 where a group has none)."},
    {.name = "sparse_bincount", .inputs = SP ", weights?",
     .attrs = "minlength:int=-1, maxlength:int=-1, binary_output:bool=false, axis:int=0", .infer = tl_sparse_bincount_infer,
     .kernel[TL_CPU] = tl_sparse_bincount_kernel, .flags = TL_OP_VALUE_SHAPE | TL_OP_NO_GRADIENT, .api = "-",
     .doc = "Counts (or weight sums) of each value, overall (axis 0) or per row (axis -1), as sparse components."},
    {.name = "sparse_fill_empty_rows", .inputs = "indices, dense_shape", .infer = tl_sparse_fill_empty_rows_infer,
     .kernel[TL_CPU] = tl_sparse_fill_empty_rows_kernel, .flags = TL_OP_VALUE_SHAPE | TL_OP_NO_GRADIENT, .api = "-",
     .doc = "Indices with one entry added per empty row, each entry's source position (-1: filled), empty rows."},
    {.name = "sparse_dense_matmul", .inputs = "a_indices, a_values, a_shape, b",
     .attrs = "adjoint_a:bool=false, adjoint_b:bool=false", .infer = tl_sparse_dense_matmul_infer,
     .kernel[TL_CPU] = tl_sparse_dense_matmul_kernel, .grad = tl_sparse_dense_matmul_grad, .flags = TL_OP_VALUE_SHAPE,
     .api = "-", .doc = "Sparse matrix (components) times dense matrix, either side adjointed."},
    {0},
};
