/* ops/domain.h — which dtype kinds an element-wise op accepts, and the
 * error for one it does not: shared by ops/elementwise.c and ops/unary.c so
 * both families reject the same dtypes with the same words (TF rejects the
 * same ones). The shape rules call these; kernels never see a bad dtype. */
#ifndef TL_OPS_DOMAIN_H
#define TL_OPS_DOMAIN_H
#include "tl.h"

enum { TL_D_FLOAT = 1, TL_D_INT = 2, TL_D_BOOL = 4, TL_D_NUM = TL_D_FLOAT | TL_D_INT };

static inline bool tl_domain_ok(unsigned domain, tl_dtype dt) {
  switch (tl_dtypes[dt].kind) {
  case TL_KIND_FLOAT: return domain & TL_D_FLOAT;
  case TL_KIND_INT:
  case TL_KIND_UINT: return domain & TL_D_INT;
  case TL_KIND_BOOL: return domain & TL_D_BOOL;
  default: return false;
  }
}

/* The error naming op `name` and the rejected dtype. */
static inline tl_status tl_domain_error(const char *name, unsigned domain, tl_dtype dt) {
  const char *dn = tl_dtypes[dt].name;
  tl_dtype_kind kind = tl_dtypes[dt].kind;
  if (kind == TL_KIND_COMPLEX || kind == TL_KIND_STRING)
    return tl_error(TL_UNIMPLEMENTED, "%s is not implemented for %s tensors", name, dn);
  if (domain == TL_D_BOOL)
    return tl_error(TL_INVALID_ARGUMENT, "%s expects bool tensors, got %s", name, dn);
  if (!(domain & TL_D_INT))
    return tl_error(TL_INVALID_ARGUMENT,
                    "%s needs a floating-point tensor, got %s (use tf.cast to convert)", name, dn);
  return tl_error(TL_INVALID_ARGUMENT, "%s is not defined for %s tensors (use tf.cast to convert)",
                  name, dn);
}

#endif
