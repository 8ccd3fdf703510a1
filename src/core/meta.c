/* meta.c — helpers for shape rules: metas are (dtype, rank, shape) with -1
 * for what a symbolic tensor does not know yet. */
#include "ops/ops.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

tl_meta *tl_meta_push_like(tl_meta_list *out, const tl_meta *m, tl_dtype dt) {
  return tl_meta_push(out, dt == TL_DTYPE_COUNT ? m->dtype : dt, m->rank, m->shape);
}

const char *tl_meta_shape_text(const tl_meta *m, char *buf, size_t n) {
  tl_meta_describe(m, buf, n);
  const char *p = strchr(buf, '[');
  return p ? p : buf;
}

/* The message is tl_broadcast_shapes's, so a shape rule reports known
 * shapes exactly as users have always seen them. */
tl_status tl_meta_broadcast(const tl_meta *a, const tl_meta *b, tl_meta *out) {
  out->dtype = a->dtype;
  if (a->rank < 0 || b->rank < 0) {
    out->rank = -1;
    return TL_OK;
  }
  int r = a->rank > b->rank ? a->rank : b->rank;
  for (int i = 0; i < r; i++) {
    int64_t da = i < r - a->rank ? 1 : a->shape[i - (r - a->rank)];
    int64_t db = i < r - b->rank ? 1 : b->shape[i - (r - b->rank)];
    if (da == db || db == 1) out->shape[i] = da;
    else if (da == 1) out->shape[i] = db;
    else if (da < 0) out->shape[i] = db;
    else if (db < 0) out->shape[i] = da;
    else {
      char x[200], y[200];
      return tl_error(TL_INVALID_ARGUMENT,
                      "shapes %s and %s are incompatible for broadcasting (dimension %d: %" PRId64 " vs %" PRId64 ")",
                      tl_meta_shape_text(a, x, sizeof x), tl_meta_shape_text(b, y, sizeof y), i, da, db);
    }
  }
  out->rank = r;
  return TL_OK;
}

char *tl_meta_describe(const tl_meta *m, char *buf, size_t n) {
  if (!m) {
    snprintf(buf, n, "nil");
    return buf;
  }
  size_t used = (size_t)snprintf(buf, n, "%s[", tl_dtypes[m->dtype].name);
  if (m->rank < 0) used += (size_t)snprintf(buf + (used < n ? used : n), used < n ? n - used : 0, "...");
  for (int i = 0; i < m->rank && used < n; i++) {
    if (m->shape[i] < 0) used += (size_t)snprintf(buf + used, n - used, i ? ",?" : "?");
    else used += (size_t)snprintf(buf + used, n - used, i ? ",%" PRId64 : "%" PRId64, m->shape[i]);
  }
  if (used < n) snprintf(buf + used, n - used, "]");
  return buf;
}

int64_t tl_meta_numel(const tl_meta *m) {
  if (m->rank < 0) return -1;
  for (int i = 0; i < m->rank; i++)
    if (m->shape[i] < 0) return -1;
  return tl_shape_numel(m->rank, m->shape);
}

bool tl_meta_compatible(const tl_meta *a, const tl_meta *b) {
  if (a->rank < 0 || b->rank < 0) return true;
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->shape[i] >= 0 && b->shape[i] >= 0 && a->shape[i] != b->shape[i]) return false;
  return true;
}

tl_status tl_meta_push_shape_attr(tl_meta_list *out, const tl_attr *shape, tl_dtype dt) {
  if (shape->n > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "shape has %d dimensions; at most %d are supported", shape->n,
                    TL_MAX_RANK);
  for (int i = 0; i < shape->n; i++)
    if (shape->ints[i] < 0)
      return tl_error(TL_INVALID_ARGUMENT, "dimension %d of the shape is negative (%" PRId64 ")", i,
                      shape->ints[i]);
  return tl_meta_push(out, dt, shape->n, shape->ints) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}
