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
/* "[0,5]" for entry i. */
char *tl_sp_index_text(const tl_sp *sp, int64_t i, char *buf, size_t n);
/* Runs op's shape rule on the kernel's inputs: kernels of TL_OP_VALUE_SHAPE
 * ops (which the dispatcher does not run the rule for) start with it, so
 * eager calls and traces check the same things with the same messages. */
tl_status tl_sp_recheck(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr);
/* A new int64 tensor of the given shape. */
tl_status tl_sp_new_i64(int rank, const int64_t *shape, tl_tensor **out);

#endif
