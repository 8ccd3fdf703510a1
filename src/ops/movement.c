/* movement.c — helpers shared by the data-movement op files (movement.h). */
#include "ops/movement.h"

#include <stdio.h>
#include <string.h>

char *tl_meta_dims(const tl_meta *m, char *buf, size_t n) {
  char tmp[TL_SHAPE_BUF + 32];
  snprintf(buf, n, "%s", tl_meta_shape_text(m, tmp, sizeof tmp));
  return buf;
}

tl_status tl_meta_emit(tl_meta_list *out, tl_dtype dt, int rank, const int64_t *shape) {
  return tl_meta_push(out, dt, rank, shape) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

int64_t tl_dims_prod(const int64_t *shape, int lo, int hi) {
  int64_t n = 1;
  for (int i = lo; i < hi; i++) {
    if (shape[i] < 0 || __builtin_mul_overflow(n, shape[i], &n)) return -1;
  }
  return n;
}

tl_status tl_push_view(const tl_tensor *t, int rank, const int64_t *shape, const int64_t *strides,
                       int64_t offset, tl_tensor_list *out) {
  tl_tensor *v;
  tl_status s = tl_tensor_view(t->storage, t->dtype, rank, shape, strides, offset, &v);
  return s ? s : tl_list_push(out, v);
}

tl_status tl_check_shape_attr(const tl_attr *sh) {
  char ss[TL_SHAPE_BUF];
  tl_shape_format(sh->n, sh->ints, ss, sizeof ss);
  if (sh->n > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "shape %s has more than %d dimensions", ss, TL_MAX_RANK);
  for (int i = 0; i < sh->n; i++)
    if (sh->ints[i] < 0) return tl_error(TL_INVALID_ARGUMENT, "dimension %d of shape %s is negative", i, ss);
  if (tl_shape_numel(sh->n, sh->ints) < 0) return tl_error(TL_INVALID_ARGUMENT, "shape %s is too large", ss);
  return TL_OK;
}
