/* ops/state.c — the ops that read and write variables.
 *
 * Every state change is an op, so whatever observes op calls (the tape,
 * a tracer, a profiler) sees it: read_variable, assign, assign_add,
 * assign_sub and the row scatters scatter_update/add/sub/mul/div/min/max
 * (TensorFlow's ReadVariableOp, AssignVariableOp, AssignAddVariableOp,
 * ResourceScatter*). The variable is a resource input (its handle); the
 * shape rule sees its value.
 *
 * Invariants: a tensor read from a variable never changes. A read is a new
 * tensor header over the variable's storage, so two reads are two tensors
 * (the tape keys gradients by tensor) and a writer finds the storage shared
 * and copies first (tl_variable_mutable). When nobody holds the value,
 * writes happen in place and allocate nothing. Writes check everything
 * (shapes, dtypes, every index) before touching the variable, so a failed
 * op changes nothing.
 *
 * Not here: the optimizer updates (ops/optim.c), tensor_scatter_nd_* (the
 * functional scatters, ops/index.c).
 */
#include <stdio.h>
#include <string.h>

#include "ops/movement.h"

/* ---- read_variable -------------------------------------------------------- */

static tl_status read_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  return tl_meta_push_like(out, in[0], TL_DTYPE_COUNT) ? TL_OK : tl_last_status();
}

static tl_status read_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_variable *v = tl_resource_peek(in[0]);
  TL_ASSERT(v);
  tl_tensor *cur = v->value;
  return tl_push_view(cur, cur->rank, cur->shape, cur->strides, cur->offset, out);
}

/* The read is the identity from the variable to the tensor: the tape
 * accumulates this gradient under the variable's handle. */
static tl_status read_grad(TL_GRAD_ARGS) {
  (void)op, (void)in, (void)n_in, (void)attr, (void)out, (void)n_out;
  grad_in[0] = grad_out[0] ? tl_tensor_retain(grad_out[0]) : NULL;
  return TL_OK;
}

/* ---- element-wise combination, shared by assign_* and scatter_* ----------- */

/* ORDER COMBINE: combine_names follows this order. */
typedef enum combine { C_UPDATE, C_ADD, C_SUB, C_MUL, C_DIV, C_MIN, C_MAX, C_COUNT } combine;
static const char *const combine_names[] = {"update", "add", "sub", "mul", "div", "min", "max"};
_Static_assert(sizeof combine_names / sizeof combine_names[0] == C_COUNT, "ORDER COMBINE");

/* dst[i] = dst[i] (op) src[i * st] for n elements. Integer division by zero
 * is an error, checked before (TensorFlow's InvalidArgument). */
#define COMBINE_LOOP(T, EXPR)                                     \
  do {                                                            \
    T *d = dst;                                                   \
    const T *x = src;                                             \
    for (int64_t i = 0; i < n; i++) {                             \
      T a = d[i], b = x[i * st];                                  \
      (void)a;                                                    \
      d[i] = (EXPR);                                              \
    }                                                             \
  } while (0)
#define COMBINE_TYPED(T)                                          \
  switch (c) {                                                    \
  case C_UPDATE: COMBINE_LOOP(T, b); break;                       \
  case C_ADD: COMBINE_LOOP(T, (T)(a + b)); break;                 \
  case C_SUB: COMBINE_LOOP(T, (T)(a - b)); break;                 \
  case C_MUL: COMBINE_LOOP(T, (T)(a * b)); break;                 \
  case C_DIV: COMBINE_LOOP(T, (T)(a / b)); break;                 \
  case C_MIN: COMBINE_LOOP(T, b < a ? b : a); break;              \
  case C_MAX: COMBINE_LOOP(T, b > a ? b : a); break;              \
  default: break;                                                 \
  }

static void combine_half(void *dst, const void *src, int64_t n, int64_t st, combine c, bool bf16) {
  uint16_t *d = dst;
  const uint16_t *x = src;
  for (int64_t i = 0; i < n; i++) {
    float a = bf16 ? tl_bf16_to_float(d[i]) : tl_half_to_float(d[i]);
    float b = bf16 ? tl_bf16_to_float(x[i * st]) : tl_half_to_float(x[i * st]);
    float r = c == C_UPDATE ? b : c == C_ADD ? a + b : c == C_SUB ? a - b : c == C_MUL ? a * b
            : c == C_DIV ? a / b : c == C_MIN ? (b < a ? b : a) : (b > a ? b : a);
    d[i] = bf16 ? tl_float_to_bf16(r) : tl_float_to_half(r);
  }
}

static void combine_complex(void *dst, const void *src, int64_t n, int64_t st, combine c) {
  float *d = dst;
  const float *x = src;
  for (int64_t i = 0; i < n; i++) {
    float ar = d[2 * i], ai = d[2 * i + 1], br = x[2 * i * st], bi = x[2 * i * st + 1];
    float rr = br, ri = bi;
    if (c == C_ADD) rr = ar + br, ri = ai + bi;
    else if (c == C_SUB) rr = ar - br, ri = ai - bi;
    else if (c == C_MUL) rr = ar * br - ai * bi, ri = ar * bi + ai * br;
    else if (c == C_DIV) {
      float den = br * br + bi * bi;
      rr = (ar * br + ai * bi) / den, ri = (ai * br - ar * bi) / den;
    }
    d[2 * i] = rr, d[2 * i + 1] = ri;
  }
}

/* One typed pass; dtype dispatch happens here once per run. */
static void combine_run(tl_dtype dt, void *dst, const void *src, int64_t n, int64_t st, combine c) {
  switch (dt) {
  case TL_FLOAT32: COMBINE_TYPED(float); break;
  case TL_FLOAT64: COMBINE_TYPED(double); break;
  case TL_INT8: COMBINE_TYPED(int8_t); break;
  case TL_UINT8: COMBINE_TYPED(uint8_t); break;
  case TL_INT16: COMBINE_TYPED(int16_t); break;
  case TL_INT32: COMBINE_TYPED(int32_t); break;
  case TL_INT64: COMBINE_TYPED(int64_t); break;
  case TL_BOOL: COMBINE_LOOP(bool, b); break; /* update only (checked) */
  case TL_FLOAT16: combine_half(dst, src, n, st, c, false); break;
  case TL_BFLOAT16: combine_half(dst, src, n, st, c, true); break;
  case TL_COMPLEX64: combine_complex(dst, src, n, st, c); break;
  default: break;
  }
}

/* Which dtypes a combination supports (TensorFlow: numbers for arithmetic,
 * real numbers for min/max, any but strings for update here). */
static tl_status combine_supported(const char *op, tl_dtype dt, combine c) {
  tl_dtype_kind k = tl_dtypes[dt].kind;
  /* strings: assign replaces the whole value (its bytes copied by
     tl_variable_assign); element-wise writes (scatter) would leave elements
     pointing into the updates' storage */
  bool ok = (k != TL_KIND_STRING || (c == C_UPDATE && strcmp(op, "assign") == 0)) && k != TL_KIND_RESOURCE;
  if (c != C_UPDATE) ok = ok && k != TL_KIND_BOOL;
  if (c == C_MIN || c == C_MAX) ok = ok && k != TL_KIND_COMPLEX;
  if (!ok) return tl_error(TL_UNIMPLEMENTED, "%s is not supported for %s variables", op, tl_dtypes[dt].name);
  return TL_OK;
}

/* Integer division by zero is an error before anything is written. */
static tl_status check_divisor(const tl_tensor *t) {
  if (!tl_dtype_is_integer(t->dtype)) return TL_OK;
  tl_tensor *c;
  tl_status s = tl_tensor_contiguous((tl_tensor *)t, &c);
  if (s) return s;
  const void *p = tl_tensor_data(c);
  for (int64_t i = 0; i < c->size && !s; i++)
    if (tl_load_i64(p, c->dtype, i) == 0) s = tl_error(TL_INVALID_ARGUMENT, "integer division by zero");
  tl_tensor_release(c);
  return s;
}

typedef struct iter_ctx {
  tl_dtype dt;
  combine c;
} iter_ctx;

static void combine_iter(char **p, const int64_t *st, int64_t n, void *vctx) {
  const iter_ctx *k = vctx;
  (void)st[0]; /* the variable's value is contiguous: its inner stride is 1 */
  combine_run(k->dt, p[0], p[1], n, st[1], k->c);
}

/* ---- assign, assign_add, assign_sub ---------------------------------------- */

/* TensorFlow: the value must have the variable's dtype and shape exactly
 * (no broadcasting). */
static tl_status assign_infer(TL_INFER_ARGS) {
  (void)n_in, (void)attr, (void)out;
  const tl_meta *var = in[0], *val = in[1];
  char a[160], b[160];
  if (val->dtype != var->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "the variable is %s, the value %s: dtypes differ (use tf.cast)",
                    tl_meta_describe(var, a, sizeof a), tl_meta_describe(val, b, sizeof b));
  if (!tl_meta_compatible(var, val))
    return tl_error(TL_INVALID_ARGUMENT,
                    "cannot update a variable of shape %s with a value of shape %s: shapes must be equal",
                    tl_meta_describe(var, a, sizeof a), tl_meta_describe(val, b, sizeof b));
  const combine *c = op->impl;
  return combine_supported(op->name, var->dtype, *c);
}

static tl_status assign_kernel(TL_KERNEL_ARGS) {
  (void)n_in, (void)attr, (void)out;
  tl_variable *v = tl_resource_peek(in[0]);
  TL_ASSERT(v);
  combine c = *(const combine *)op->impl;
  if (c == C_UPDATE) return tl_variable_assign(v, in[1]);
  tl_tensor *dst;
  tl_status s = tl_variable_mutable(v, &dst); /* copies first if a reader shares it */
  if (s || dst->size == 0) return s;
  iter_ctx k = {dst->dtype, c};
  tl_tensor *ops2[2] = {dst, in[1]};
  tl_iterate(2, ops2, combine_iter, &k);
  return TL_OK;
}

/* ---- scatter_* along the first axis ------------------------------------------ */

/* updates: indices.shape + var.shape[1:], or a scalar (TensorFlow's
 * ResourceScatter* broadcast a scalar update to every selected row). */
static tl_status scatter_infer(TL_INFER_ARGS) {
  (void)n_in, (void)attr, (void)out;
  const tl_meta *var = in[0], *idx = in[1], *upd = in[2];
  char a[160], b[160], c2[160];
  const combine *c = op->impl;
  tl_status s = combine_supported(op->name, var->dtype, *c);
  if (s) return s;
  if (idx->dtype != TL_INT32 && idx->dtype != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "indices must be int32 or int64, got %s", tl_dtypes[idx->dtype].name);
  if (upd->dtype != var->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "the variable is %s, the updates %s: dtypes differ (use tf.cast)",
                    tl_meta_describe(var, a, sizeof a), tl_meta_describe(upd, b, sizeof b));
  if (var->rank == 0)
    return tl_error(TL_INVALID_ARGUMENT, "cannot scatter into a scalar variable");
  if (upd->rank == 0 || var->rank < 0 || idx->rank < 0 || upd->rank < 0) return TL_OK;
  bool ok = upd->rank == idx->rank + var->rank - 1;
  for (int i = 0; ok && i < upd->rank; i++) {
    int64_t want = i < idx->rank ? idx->shape[i] : var->shape[i - idx->rank + 1];
    ok = want < 0 || upd->shape[i] < 0 || want == upd->shape[i];
  }
  if (!ok)
    return tl_error(TL_INVALID_ARGUMENT,
                    "updates %s must have shape indices.shape + variable.shape[1:] (indices %s, variable %s) "
                    "or be a scalar",
                    tl_meta_describe(upd, a, sizeof a), tl_meta_describe(idx, b, sizeof b),
                    tl_meta_describe(var, c2, sizeof c2));
  return TL_OK;
}

static tl_status scatter_kernel(TL_KERNEL_ARGS) {
  (void)n_in, (void)attr, (void)out;
  tl_variable *v = tl_resource_peek(in[0]);
  TL_ASSERT(v);
  combine c = *(const combine *)op->impl;
  tl_tensor *idx = NULL, *upd = NULL;
  tl_status s = tl_tensor_contiguous(in[1], &idx);
  if (!s) s = tl_tensor_contiguous(in[2], &upd);
  if (s) goto done;
  int64_t rows = v->value->shape[0], n = idx->size;
  const void *ip = tl_tensor_data(idx);
  for (int64_t i = 0; i < n; i++) {
    int64_t r = tl_load_i64(ip, idx->dtype, i);
    if (r < 0 || r >= rows) {
      s = tl_error(TL_INVALID_ARGUMENT, "indices[%lld] = %lld is not in [0, %lld)", (long long)i,
                   (long long)r, (long long)rows);
      goto done;
    }
  }
  if (c == C_DIV && (s = check_divisor(upd))) goto done;
  tl_tensor *dst;
  if ((s = tl_variable_mutable(v, &dst))) goto done;
  int64_t row = rows ? dst->size / rows : 0;
  size_t esz = tl_dtypes[dst->dtype].size;
  bool scalar = upd->rank == 0;
  char *base = tl_tensor_data(dst);
  const char *src = tl_tensor_data(upd);
  /* Rows in index order: duplicates combine one after another (add: they
   * sum; update: the last one wins, as TensorFlow's CPU kernel does). */
  for (int64_t i = 0; i < n && row > 0; i++) {
    int64_t r = tl_load_i64(ip, idx->dtype, i);
    combine_run(dst->dtype, base + (size_t)(r * row) * esz, scalar ? src : src + (size_t)(i * row) * esz, row,
                scalar ? 0 : 1, c);
  }
done:
  tl_tensor_release(idx);
  tl_tensor_release(upd);
  return s;
}

/* ---- the records --------------------------------------------------------------- */

static const combine k_update = C_UPDATE, k_add = C_ADD, k_sub = C_SUB, k_mul = C_MUL, k_div = C_DIV,
                     k_min = C_MIN, k_max = C_MAX;

#define WRITE_FLAGS (TL_OP_STATEFUL | TL_OP_NO_GRADIENT)
#define ASSIGN(nm, k, doc_)                                                                        \
  {.name = nm, .inputs = "var:resource, value", .infer = assign_infer, .kernel[TL_CPU] = assign_kernel, \
   .flags = WRITE_FLAGS | TL_OP_SCALARS_FOLLOW, .impl = &k, .api = "-", .doc = doc_}
#define SCATTER(nm, k, doc_)                                                                       \
  {.name = nm, .inputs = "var:resource, indices, updates", .infer = scatter_infer,                 \
   .kernel[TL_CPU] = scatter_kernel, .flags = WRITE_FLAGS, .impl = &k, .api = "-", .doc = doc_}

tl_op_def tl_ops_state[] = {
    {.name = "read_variable", .inputs = "var:resource", .infer = read_infer, .kernel[TL_CPU] = read_kernel,
     .grad = read_grad, .flags = TL_OP_KERNEL_ALLOCATES, .api = "-",
     .doc = "The variable's current value, as a tensor that later assigns do not change (v:read_value())."},
    ASSIGN("assign", k_update, "Replaces the variable's value; value has its dtype and shape (v:assign(x))."),
    ASSIGN("assign_add", k_add, "Adds value to the variable in place; value has its dtype and shape."),
    ASSIGN("assign_sub", k_sub, "Subtracts value from the variable in place; value has its dtype and shape."),
    SCATTER("scatter_update", k_update, "var[indices[i]] = updates[i] along the first axis."),
    SCATTER("scatter_add", k_add, "var[indices[i]] += updates[i] along the first axis (duplicates sum)."),
    SCATTER("scatter_sub", k_sub, "var[indices[i]] -= updates[i] along the first axis."),
    SCATTER("scatter_mul", k_mul, "var[indices[i]] *= updates[i] along the first axis."),
    SCATTER("scatter_div", k_div, "var[indices[i]] /= updates[i] along the first axis."),
    SCATTER("scatter_min", k_min, "var[indices[i]] = min(var[indices[i]], updates[i]) along the first axis."),
    SCATTER("scatter_max", k_max, "var[indices[i]] = max(var[indices[i]], updates[i]) along the first axis."),
    {0},
};
