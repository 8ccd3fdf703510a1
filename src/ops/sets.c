/* ops/sets.c — the ops behind tf.sets: set_operation (intersection, union,
 * a-b, b-a) and set_size over the last dimension of sparse operands.
 *
 * Every operand arrives as sparse components; the Lua side turns a dense
 * operand into components holding all of its elements (tf.sets counts every
 * element of a dense row, zeros included). Rows are the groups of entries
 * that share all index columns but the last; the last column only orders
 * a row's elements and is otherwise ignored, as in TensorFlow. Results come
 * sorted within each row (TensorFlow's order), as a SparseTensor whose
 * last dense dimension is the largest result row.
 *
 * With validate_indices, unordered or repeated indices and indices out of
 * bounds are errors; without it, rows are grouped by sorting anyway, so the
 * answer does not depend on the order. Values compare through one
 * comparator per dtype kind (signed, unsigned, string: memcmp, then the
 * shorter first). A result's values are copied as elements (for strings the
 * 16-byte tl_string): the dispatcher copies string outputs' bytes into their
 * own storage after the kernel, as for every movement op.
 */
#include "ops/sparse.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef int (*cmp_fn)(const void *a, const void *b);

#define CMP_INT(name, T)                                  \
  static int name(const void *a, const void *b) {        \
    T x = *(const T *)a, y = *(const T *)b;             \
    return x < y ? -1 : x > y;                          \
  }
CMP_INT(cmp_i8, int8_t)
CMP_INT(cmp_u8, uint8_t)
CMP_INT(cmp_i16, int16_t)
CMP_INT(cmp_i32, int32_t)
CMP_INT(cmp_i64, int64_t)

static int cmp_str(const void *a, const void *b) {
  const tl_string *x = a, *y = b;
  int64_t n = x->len < y->len ? x->len : y->len;
  int c = n ? memcmp(x->data, y->data, (size_t)n) : 0;
  if (c) return c < 0 ? -1 : 1;
  return x->len < y->len ? -1 : x->len > y->len;
}

static cmp_fn cmp_of(tl_dtype d) {
  switch (d) {
  case TL_INT8: return cmp_i8;
  case TL_UINT8: return cmp_u8;
  case TL_INT16: return cmp_i16;
  case TL_INT32: return cmp_i32;
  case TL_INT64: return cmp_i64;
  case TL_STRING: return cmp_str;
  default: return NULL;
  }
}

static tl_status check_dtype(tl_dtype d) {
  if (!cmp_of(d))
    return tl_error(TL_INVALID_ARGUMENT, "set values must be integers or strings, got %s", tl_dtypes[d].name);
  return TL_OK;
}

typedef enum { SET_INTERSECTION, SET_UNION, SET_A_MINUS_B, SET_B_MINUS_A, SET_COUNT } set_kind;
static const char *const set_names[SET_COUNT] = {"intersection", "union", "a-b", "b-a"}; // ORDER SET

static tl_status set_kind_of(const tl_attr *a, set_kind *k) {
  for (int i = 0; i < SET_COUNT; i++)
    if (a->s && strcmp(a->s, set_names[i]) == 0) {
      *k = (set_kind)i;
      return TL_OK;
    }
  return tl_error(TL_INVALID_ARGUMENT, "set_operation must be intersection, union, a-b or b-a, got '%s'",
                  a->s ? a->s : "");
}

static tl_status group_rank_check(int r) {
  if (r >= 0 && r < 2) return tl_error(TL_INVALID_ARGUMENT, "sets need rank at least 2 (rows of elements), got %d", r);
  return TL_OK;
}

/* ---- rows --------------------------------------------------------------- */

typedef struct row_entry {
  int64_t group, pos; /* row-major group number (all dims but the last), entry position */
} row_entry;

static int row_cmp(const void *a, const void *b) {
  const row_entry *x = a, *y = b;
  if (x->group != y->group) return x->group < y->group ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int64_t group_of(const tl_sp *sp, int64_t i) {
  int64_t g = 0;
  for (int d = 0; d < sp->rank - 1; d++) g = g * sp->shape[d] + sp->idx[i * sp->rank + d];
  return g;
}

/* The entries of sp grouped by row, in row order (stable). */
static tl_status rows_of(const tl_sp *sp, bool validate, row_entry **out) {
  tl_status s = tl_sp_validate(sp, TL_SP_BOUNDS | (validate ? TL_SP_ORDER : 0));
  if (s) return s;
  if (tl_shape_numel(sp->rank, sp->shape) < 0)
    return tl_error(TL_INVALID_ARGUMENT, "dense_shape has more elements than int64 holds");
  row_entry *e = malloc((size_t)(sp->nnz ? sp->nnz : 1) * sizeof *e);
  if (!e) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory grouping %" PRId64 " set elements", sp->nnz);
  bool sorted = true;
  for (int64_t i = 0; i < sp->nnz; i++) {
    e[i] = (row_entry){group_of(sp, i), i};
    if (i && e[i].group < e[i - 1].group) sorted = false;
  }
  if (!sorted) qsort(e, (size_t)sp->nnz, sizeof *e, row_cmp);
  *out = e;
  return TL_OK;
}

/* Sorts one row's values (as element pointers) and drops repeats: n left. */
static _Thread_local cmp_fn sort_cmp;
static int ptr_cmp(const void *a, const void *b) { return sort_cmp(*(const void *const *)a, *(const void *const *)b); }

static int64_t sort_unique(const void **v, int64_t n, cmp_fn cmp) {
  sort_cmp = cmp; /* qsort has no context argument: per thread */
  qsort(v, (size_t)n, sizeof *v, ptr_cmp);
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++)
    if (!k || cmp(v[k - 1], v[i])) v[k++] = v[i];
  return k;
}

/* ---- set_operation -------------------------------------------------------- */

static tl_status set_op_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  int ra, rb;
  set_kind k;
  tl_status s = tl_sp_check_meta(in[0], in[1], in[2], &ra);
  if (!s) s = tl_sp_check_meta(in[3], in[4], in[5], &rb);
  if (!s) s = set_kind_of(&attr[0], &k);
  if (!s) s = group_rank_check(ra);
  if (!s) s = group_rank_check(rb);
  if (s) return s;
  if (in[1]->dtype != in[4]->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "a's values are %s but b's are %s", tl_dtypes[in[1]->dtype].name,
                    tl_dtypes[in[4]->dtype].name);
  if ((s = check_dtype(in[1]->dtype))) return s;
  if (ra >= 0 && rb >= 0 && ra != rb) return tl_error(TL_INVALID_ARGUMENT, "operands have ranks %d and %d", ra, rb);
  int64_t r = ra >= 0 ? ra : rb, is[2] = {-1, r}, m1 = -1;
  if ((s = tl_meta_emit(out, TL_INT64, 2, is)) || (s = tl_meta_emit(out, in[1]->dtype, 1, &m1))) return s;
  return tl_meta_emit(out, TL_INT64, 1, &is[1]);
}

typedef struct grow {
  int64_t *idx; /* [n, rank] */
  const void **val;
  int64_t n, cap;
} grow;

static tl_status grow_push(grow *g, int rank, const int64_t *group_idx, int64_t j, const void *v) {
  if (g->n == g->cap) {
    int64_t cap = g->cap ? 2 * g->cap : 64;
    int64_t *ni = realloc(g->idx, (size_t)(cap * rank) * sizeof *ni);
    if (!ni) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory building a set result");
    g->idx = ni;
    const void **nv = realloc(g->val, (size_t)cap * sizeof *nv);
    if (!nv) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory building a set result");
    g->val = nv;
    g->cap = cap;
  }
  memcpy(g->idx + g->n * rank, group_idx, (size_t)(rank - 1) * sizeof *group_idx);
  g->idx[g->n * rank + rank - 1] = j;
  g->val[g->n++] = v;
  return TL_OK;
}

static tl_status set_op_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  tl_sp a, b;
  row_entry *ea = NULL, *eb = NULL;
  const void **va = NULL, **vb = NULL;
  grow g = {0};
  tl_tensor *oi = NULL, *ov = NULL, *os = NULL;
  set_kind kind;
  tl_status s = tl_sp_recheck(op, in, n_in, attr);
  if (s) return s;
  s = set_kind_of(&attr[0], &kind);
  if (s || (s = check_dtype(in[1]->dtype))) return s;
  if ((s = tl_sp_open(&a, in[0], in[1], in[2]))) return s;
  if ((s = tl_sp_open(&b, in[3], in[4], in[5]))) {
    tl_sp_close(&a);
    return s;
  }
  char b1[TL_SHAPE_BUF], b2[TL_SHAPE_BUF];
  if ((s = group_rank_check(a.rank)) || (s = group_rank_check(b.rank))) goto done;
  if (a.rank != b.rank || memcmp(a.shape, b.shape, (size_t)(a.rank - 1) * sizeof a.shape[0])) {
    s = tl_error(TL_INVALID_ARGUMENT, "Mismatched shapes %s vs %s", tl_shape_format(a.rank - 1, a.shape, b1, sizeof b1),
                 tl_shape_format(b.rank - 1, b.shape, b2, sizeof b2));
    goto done;
  }
  bool validate = attr[1].b;
  if ((s = rows_of(&a, validate, &ea)) || (s = rows_of(&b, validate, &eb))) goto done;
  va = malloc((size_t)(a.nnz ? a.nnz : 1) * sizeof *va);
  vb = malloc((size_t)(b.nnz ? b.nnz : 1) * sizeof *vb);
  if (!va || !vb) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory in set_operation");
    goto done;
  }
  cmp_fn cmp = cmp_of(in[1]->dtype);
  size_t es = tl_dtypes[in[1]->dtype].size;
  const char *da = tl_tensor_data(a.val), *db = tl_tensor_data(b.val);
  int r = a.rank;
  int64_t i = 0, j = 0, widest = 0;
  while (i < a.nnz || j < b.nnz) {
    int64_t grp = i < a.nnz && (j >= b.nnz || ea[i].group <= eb[j].group) ? ea[i].group : eb[j].group;
    int64_t gidx[TL_MAX_RANK] = {0};
    const tl_sp *from = i < a.nnz && ea[i].group == grp ? &a : &b;
    int64_t at = from == &a ? ea[i].pos : eb[j].pos;
    for (int d = 0; d < r - 1; d++) gidx[d] = from->idx[at * r + d];
    int64_t na = 0, nb = 0;
    for (; i < a.nnz && ea[i].group == grp; i++) va[na++] = da + ea[i].pos * (int64_t)es;
    for (; j < b.nnz && eb[j].group == grp; j++) vb[nb++] = db + eb[j].pos * (int64_t)es;
    na = sort_unique(va, na, cmp);
    nb = sort_unique(vb, nb, cmp);
    int64_t p = 0, q = 0, k = 0;
    while (p < na || q < nb) {
      int c = p >= na ? 1 : q >= nb ? -1 : cmp(va[p], vb[q]);
      const void *v = c <= 0 ? va[p] : vb[q];
      bool keep = kind == SET_UNION || (kind == SET_INTERSECTION && c == 0) || (kind == SET_A_MINUS_B && c < 0) ||
                  (kind == SET_B_MINUS_A && c > 0);
      if (c <= 0) p++;
      if (c >= 0) q++;
      if (keep && (s = grow_push(&g, r, gidx, k++, v))) goto done;
    }
    if (k > widest) widest = k;
  }
  int64_t is[2] = {g.n, r}, rr = r;
  if ((s = tl_sp_new_i64(2, is, &oi)) || (s = tl_tensor_new(in[1]->dtype, 1, &g.n, &ov)) ||
      (s = tl_sp_new_i64(1, &rr, &os)))
    goto done;
  if (g.n) memcpy(tl_tensor_data(oi), g.idx, (size_t)(g.n * r) * sizeof *g.idx);
  char *ovd = tl_tensor_data(ov);
  for (int64_t e = 0; e < g.n; e++) memcpy(ovd + e * (int64_t)es, g.val[e], es);
  int64_t *sh = tl_tensor_data(os);
  memcpy(sh, a.shape, (size_t)(r - 1) * sizeof *sh);
  sh[r - 1] = widest;
  tl_tensor *res[3] = {oi, ov, os};
  oi = ov = os = NULL;
  for (int k2 = 0; k2 < 3; k2++) {
    if (!s) s = tl_list_push(out, res[k2]);
    else tl_tensor_release(res[k2]);
  }
done:
  free(ea), free(eb), free(va), free(vb), free(g.idx), free(g.val);
  tl_tensor_release(oi);
  tl_tensor_release(ov);
  tl_tensor_release(os);
  tl_sp_close(&a);
  tl_sp_close(&b);
  return s;
}

/* ---- set_size --------------------------------------------------------------- */

static tl_status set_size_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  int r;
  tl_status s = tl_sp_check_meta(in[0], in[1], in[2], &r);
  if (!s) s = group_rank_check(r);
  if (!s && !cmp_of(in[1]->dtype))
    s = tl_error(TL_INVALID_ARGUMENT, "set values must be integers or strings, got %s", tl_dtypes[in[1]->dtype].name);
  if (s) return s;
  int64_t shape[TL_MAX_RANK];
  for (int d = 0; d < TL_MAX_RANK; d++) shape[d] = -1;
  return tl_meta_emit(out, TL_INT32, r < 0 ? -1 : r - 1, shape);
}

static tl_status set_size_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  tl_sp sp;
  row_entry *e = NULL;
  const void **v = NULL;
  tl_tensor *res = NULL;
  tl_status s = tl_sp_recheck(op, in, n_in, attr);
  if (s) return s;
  s = tl_sp_open(&sp, in[0], in[1], in[2]);
  if (s) return s;
  if ((s = group_rank_check(sp.rank)) || (s = rows_of(&sp, attr[0].b, &e))) goto done;
  if ((s = tl_tensor_new(TL_INT32, sp.rank - 1, sp.shape, &res))) goto done;
  v = malloc((size_t)(sp.nnz ? sp.nnz : 1) * sizeof *v);
  if (!v) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory in set_size");
    goto done;
  }
  int32_t *o = tl_tensor_data(res);
  memset(o, 0, (size_t)res->size * sizeof *o);
  cmp_fn cmp = cmp_of(in[1]->dtype);
  size_t es = tl_dtypes[in[1]->dtype].size;
  const char *d = tl_tensor_data(sp.val);
  for (int64_t i = 0; i < sp.nnz;) {
    int64_t grp = e[i].group, n = 0;
    for (; i < sp.nnz && e[i].group == grp; i++) v[n++] = d + e[i].pos * (int64_t)es;
    o[grp] = (int32_t)sort_unique(v, n, cmp);
  }
  s = tl_list_push(out, res);
  res = NULL;
done:
  free(e), free(v);
  tl_tensor_release(res);
  tl_sp_close(&sp);
  return s;
}

tl_op_def tl_ops_sets[] = {
    {.name = "set_operation", .inputs = "a_indices, a_values, a_shape, b_indices, b_values, b_shape",
     .attrs = "set_operation:string, validate_indices:bool=true", .infer = set_op_infer,
     .kernel[TL_CPU] = set_op_kernel, .flags = TL_OP_VALUE_SHAPE | TL_OP_NO_GRADIENT, .api = "-",
     .doc = "intersection, union, a-b or b-a of the rows (last dimension) of two sparse operands, sorted."},
    {.name = "set_size", .inputs = "indices, values, dense_shape", .attrs = "validate_indices:bool=true",
     .infer = set_size_infer, .kernel[TL_CPU] = set_size_kernel, .flags = TL_OP_VALUE_SHAPE | TL_OP_NO_GRADIENT,
     .api = "-", .doc = "Number of distinct elements in each row (last dimension) of a sparse operand, int32."},
    {0},
};
