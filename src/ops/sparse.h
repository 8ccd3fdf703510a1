/* sparse.h — what the sparse op files share (sparse.c, sparse_matmul.c,
 * sets.c): a SparseTensor's three components read as one host view, their
 * shape-rule checks, and the index validation whose messages read like
 * TensorFlow's ("indices[1] = [0,1] is out of order ...").
 *
 * A SparseTensor is never a C object of the core: it is three ordinary
 * tensors (indices int64 [nnz, rank], values [nnz], dense_shape int64
 * [rank]) passed to ops, so every sparse op traces, saves and runs on any
 * device like any other op. The Lua userdata (lua/sparse_binding.c) only
 * holds the three. */
#ifndef TL_OPS_SPARSE_H
#define TL_OPS_SPARSE_H
#include "ops/movement.h"

/* The components as a kernel reads them (contiguous copies where needed). */
typedef struct tl_sp {
  tl_tensor *ind, *val, *shp; /* references owned by the view (val may be NULL) */
  const int64_t *idx;         /* [nnz * rank] */
  int64_t nnz;
  int rank;
  int64_t shape[TL_MAX_RANK];
} tl_sp;

/* Checks the metas of (indices, values, dense_shape) in a shape rule:
 * dtypes and ranks, nnz and rank agreement where known. *rank is the
 * sparse rank (-1 unknown). values may be NULL (ops that take no values). */
tl_status tl_sp_check_meta(const tl_meta *ind, const tl_meta *val, const tl_meta *shp, int *rank);
/* Opens the components in a kernel (checks the metas again, reads the
 * shape, rejects negative dimensions and ranks over TL_MAX_RANK). */
tl_status tl_sp_open(tl_sp *sp, tl_tensor *ind, tl_tensor *val, tl_tensor *shp);
void tl_sp_close(tl_sp *sp);

enum { TL_SP_BOUNDS = 1, TL_SP_ORDER = 2 }; /* ORDER includes "no duplicates" */
/* Every index inside the shape (TL_SP_BOUNDS) and in strictly increasing
 * row-major order (TL_SP_ORDER): InvalidArgument naming the index. */
tl_status tl_sp_validate(const tl_sp *sp, int checks);
/* Row-major linear position of entry i (call after bounds are checked). */
static inline int64_t tl_sp_key(const tl_sp *sp, int64_t i) {
  int64_t k = 0;
  for (int d = 0; d < sp->rank; d++) k = k * sp->shape[d] + sp->idx[i * sp->rank + d];
  return k;
}
/* A permutation of [0, nnz) sorting the entries by row-major position
 * (stable); *perm is malloc'd. Bounds must be checked first. */
tl_status tl_sp_sort_perm(const tl_sp *sp, int64_t **perm);
/* Entries sorted by row-major position (stable): malloc'd (key, pos) pairs
 * (checks that positions fit int64; bounds must be checked first). */
typedef struct tl_sp_keyed {
  int64_t key, pos;
} tl_sp_keyed;
int tl_sp_keyed_cmp(const void *a, const void *b);
tl_status tl_sp_sorted(const tl_sp *sp, tl_sp_keyed **out);
/* "[0,5]" for entry i. */
char *tl_sp_index_text(const tl_sp *sp, int64_t i, char *buf, size_t n);
/* Runs op's shape rule on the kernel's inputs: kernels of TL_OP_VALUE_SHAPE
 * ops (which the dispatcher does not run the rule for) start with it, so
 * eager calls and traces check the same things with the same messages. */
tl_status tl_sp_recheck(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr);
/* A new int64 tensor of the given shape. */
tl_status tl_sp_new_i64(int rank, const int64_t *shape, tl_tensor **out);

/* Row-major positions must fit int64: the product of the dense shape. */
static inline tl_status tl_sp_check_numel(const tl_sp *sp) {
  if (tl_shape_numel(sp->rank, sp->shape) < 0) {
    char sb[TL_SHAPE_BUF];
    return tl_error(TL_INVALID_ARGUMENT, "dense_shape %s has more elements than int64 holds",
                    tl_shape_format(sp->rank, sp->shape, sb, sizeof sb));
  }
  return TL_OK;
}

/* ---- typed value arithmetic ------------------------------------------------ */

typedef enum { TL_SP_F32, TL_SP_F64, TL_SP_I32, TL_SP_I64, TL_SP_NONE } tl_sp_vtype;

static inline tl_sp_vtype tl_sp_vtype_of(tl_dtype d) {
  switch (d) {
  case TL_FLOAT32: return TL_SP_F32;
  case TL_FLOAT64: return TL_SP_F64;
  case TL_INT32: return TL_SP_I32;
  case TL_INT64: return TL_SP_I64;
  default: return TL_SP_NONE;
  }
}

static inline tl_status tl_sp_need_arith(tl_dtype d) {
  if (tl_sp_vtype_of(d) == TL_SP_NONE)
    return tl_error(TL_UNIMPLEMENTED, "values of dtype %s are not supported (float32, float64, int32, int64)",
                    tl_dtypes[d].name);
  return TL_OK;
}

/* Strings copy as their 16-byte elements: the dispatcher copies the bytes
 * of string outputs into their own storage after the kernel. */
static inline tl_status tl_sp_need_copyable(tl_dtype d) {
  if (d == TL_RESOURCE)
    return tl_error(TL_UNIMPLEMENTED, "values of dtype %s are not supported here", tl_dtypes[d].name);
  return TL_OK;
}

static inline double tl_sp_get(tl_sp_vtype t, const void *p, int64_t i) {
  switch (t) {
  case TL_SP_F32: return ((const float *)p)[i];
  case TL_SP_F64: return ((const double *)p)[i];
  case TL_SP_I32: return ((const int32_t *)p)[i];
  default: return (double)((const int64_t *)p)[i];
  }
}

/* Integer sums stay exact in int64 (a double holds 53 bits only). */
static inline int64_t tl_sp_geti(tl_sp_vtype t, const void *p, int64_t i) {
  return t == TL_SP_I32 ? ((const int32_t *)p)[i] : ((const int64_t *)p)[i];
}

static inline void tl_sp_set(tl_sp_vtype t, void *p, int64_t i, double v, int64_t iv) {
  switch (t) {
  case TL_SP_F32: ((float *)p)[i] = (float)v; break;
  case TL_SP_F64: ((double *)p)[i] = v; break;
  case TL_SP_I32: ((int32_t *)p)[i] = (int32_t)iv; break;
  default: ((int64_t *)p)[i] = iv; break;
  }
}

static inline bool tl_sp_is_int(tl_sp_vtype t) { return t == TL_SP_I32 || t == TL_SP_I64; }

#endif
