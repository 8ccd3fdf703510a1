/* movement.h — what the data-movement op files share (shape.c, concat.c,
 * pad.c, slice.c, index.c, select.c, sort.c): formatting metas whose
 * dimensions may be unknown, pushing output metas and views.
 *
 * Their shape rules and kernels share one "plan" function per op that
 * reads only a tl_meta: the rule calls it on the input metas (maybe with
 * -1 dimensions), the kernel on its tensors' own metas (&t->meta, all
 * known), so both check the same things with the same messages. */
#ifndef TL_OPS_MOVEMENT_H
#define TL_OPS_MOVEMENT_H
#include "ops/ops.h"

#define TL_SHAPE_BUF 200

/* "[2,?,3]" (unknown rank: "[...]") into buf, as tl_shape_format writes
 * known shapes. */
char *tl_meta_dims(const tl_meta *m, char *buf, size_t n);
/* tl_meta_push with a status: TL_RESOURCE_EXHAUSTED when out of memory. */
tl_status tl_meta_emit(tl_meta_list *out, tl_dtype dt, int rank, const int64_t *shape);
/* Product of shape[lo..hi); -1 when any of them is unknown. */
int64_t tl_dims_prod(const int64_t *shape, int lo, int hi);
/* A view of t's storage with the given layout, pushed onto out. */
tl_status tl_push_view(const tl_tensor *t, int rank, const int64_t *shape, const int64_t *strides,
                       int64_t offset, tl_tensor_list *out);
/* Checks a shape attribute that names a result's shape (gradient ops,
 * scatter_nd): at most TL_MAX_RANK non-negative dimensions, no overflow. */
tl_status tl_check_shape_attr(const tl_attr *sh);
/* The output of a kernel whose outputs the dispatcher allocated. */
static inline tl_tensor *tl_out(const tl_tensor_list *out, int i) { return out->items[i]; }

/* reshape(g, shape) through the registry: gradient rules' way back to an
 * input's shape. */
static inline tl_status tl_reshape_to(tl_tensor *g, int rank, const int64_t *shape, tl_tensor **out) {
  return tl_call("reshape", 1, &g, 1, (tl_named_attr[]){TL_A_INTS("shape", rank, shape)}, out);
}

#endif
