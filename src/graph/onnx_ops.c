/* graph/onnx_ops.c — the ONNX renderings of tlua's element-wise ops,
 * reductions, losses and products, and the lookup of an op's rendering
 * (this file's table, then onnx_shape_ops.c's) for tl_onnx_export.
 *
 * Each rendering reads its node's inputs by name (tlx_in), emits ONNX
 * nodes of the default domain at opset 13..17 and names the node's outputs
 * (x->vname). Ops ONNX has (Add, Relu, MatMul, Softmax…) map one to one;
 * the others are small compositions of ONNX ops with the same numbers
 * (rsqrt = Reciprocal(Sqrt), gelu from Erf, floormod from Floor, losses
 * from LogSoftmax…).
 *
 * Not here: ops without a rendering are an error naming them (the two
 * tables are the list of what exports); gradients, optimizer updates and
 * control flow never reach this file (onnx.c rejects them).
 */
#ifdef TLUA_HAVE_PROTOBUF_C
#include "graph/graph_internal.h"
#include "graph/onnx_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---- one to one ------------------------------------------------------------ */

static tl_status r_same(tlx *x, const tl_gnode *n, const char *onnx) {
  const char **in = tlx_alloc(x, (size_t)n->n_in * sizeof *in), *y;
  if (!in) return tl_last_status();
  for (int i = 0; i < n->n_in; i++) IN(i, in[i]);
  TLX_TRY(tlx_emit(x, onnx, n->n_in, in, 1, &y, NULL));
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_first(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *a;
  IN(0, a);
  SET(x, n, 0, a);
  return TL_OK;
}

/* Division: an integer truediv is a float result in tlua (cast first). */
static tl_status r_div(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *a, *b, *y;
  IN(0, a);
  IN(1, b);
  tl_dtype od = OUT(x, n)->dtype;
  if (M(x, n->in[0])->dtype != od) TLX_TRY(cast_to(x, a, od, &a));
  if (M(x, n->in[1])->dtype != od) TLX_TRY(cast_to(x, b, od, &b));
  TLX_TRY(tlx_op(x, "Div", &y, NULL, 2, a, b));
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_cast(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *a, *y;
  IN(0, a);
  TLX_TRY(cast_to(x, a, OUT(x, n)->dtype, &y));
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_alpha(tlx *x, const tl_gnode *n, const char *onnx) {
  const char *a, *y;
  Onnx__NodeProto *np;
  IN(0, a);
  TLX_TRY(tlx_op(x, onnx, &y, &np, 1, a));
  TLX_TRY(tlx_attr_float(np, "alpha", (float)A(n, "alpha")->f));
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_softmax(tlx *x, const tl_gnode *n, const char *onnx) {
  const char *a, *y;
  Onnx__NodeProto *np;
  IN(0, a);
  TLX_TRY(tlx_op(x, onnx, &y, &np, 1, a));
  TLX_TRY(tlx_attr_int(np, "axis", A(n, "axis")->i));
  SET(x, n, 0, y);
  return TL_OK;
}

/* ---- element-wise compositions --------------------------------------------- */

static tl_status r_unary_comp(tlx *x, const tl_gnode *n, const char *onnx) {
  const char *a, *t, *u, *y, *k;
  Onnx__NodeProto *np;
  tl_dtype dt = M(x, n->in[0])->dtype;
  IN(0, a);
  if (!strcmp(onnx, "square")) TLX_TRY(tlx_op(x, "Mul", &y, NULL, 2, a, a));
  else if (!strcmp(onnx, "rsqrt")) {
    TLX_TRY(tlx_op(x, "Sqrt", &t, NULL, 1, a));
    TLX_TRY(tlx_op(x, "Reciprocal", &y, NULL, 1, t));
  } else if (!strcmp(onnx, "expm1")) {
    TLX_TRY(tlx_op(x, "Exp", &t, NULL, 1, a));
    TLX_TRY(tlx_scalar(x, dt, 1, &k));
    TLX_TRY(tlx_op(x, "Sub", &y, NULL, 2, t, k));
  } else if (!strcmp(onnx, "log1p")) {
    TLX_TRY(tlx_scalar(x, dt, 1, &k));
    TLX_TRY(tlx_op(x, "Add", &t, NULL, 2, a, k));
    TLX_TRY(tlx_op(x, "Log", &y, NULL, 1, t));
  } else if (!strcmp(onnx, "relu6")) {
    const char *lo, *hi;
    TLX_TRY(tlx_scalar(x, dt, 0, &lo));
    TLX_TRY(tlx_scalar(x, dt, 6, &hi));
    TLX_TRY(tlx_op(x, "Clip", &y, NULL, 3, a, lo, hi));
  } else if (!strcmp(onnx, "log_sigmoid")) {
    TLX_TRY(tlx_op(x, "Neg", &t, NULL, 1, a));
    TLX_TRY(tlx_op(x, "Softplus", &u, NULL, 1, t));
    TLX_TRY(tlx_op(x, "Neg", &y, NULL, 1, u));
  } else if (!strcmp(onnx, "is_finite")) {
    TLX_TRY(tlx_op(x, "IsNaN", &t, NULL, 1, a));
    TLX_TRY(tlx_op(x, "IsInf", &u, NULL, 1, a));
    TLX_TRY(tlx_op(x, "Or", &t, NULL, 2, t, u));
    TLX_TRY(tlx_op(x, "Not", &y, NULL, 1, t));
  } else if (!strcmp(onnx, "elu") || !strcmp(onnx, "selu")) {
    TLX_TRY(tlx_op(x, !strcmp(onnx, "elu") ? "Elu" : "Selu", &y, &np, 1, a));
    if (!strcmp(onnx, "selu")) { /* TensorFlow's constants, to the digit */
      TLX_TRY(tlx_attr_float(np, "alpha", 1.67326324f));
      TLX_TRY(tlx_attr_float(np, "gamma", 1.05070098f));
    }
  } else if (!strcmp(onnx, "gelu")) {
    const char *half, *one;
    TLX_TRY(tlx_scalar(x, dt, 0.5, &half));
    TLX_TRY(tlx_scalar(x, dt, 1, &one));
    if (A(n, "approximate")->b) { /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
      const char *c1, *c2, *x3;
      TLX_TRY(tlx_scalar(x, dt, 0.044715, &c1));
      TLX_TRY(tlx_scalar(x, dt, 0.7978845608028654, &c2));
      TLX_TRY(tlx_op(x, "Mul", &x3, NULL, 2, a, a));
      TLX_TRY(tlx_op(x, "Mul", &x3, NULL, 2, x3, a));
      TLX_TRY(tlx_op(x, "Mul", &t, NULL, 2, x3, c1));
      TLX_TRY(tlx_op(x, "Add", &t, NULL, 2, a, t));
      TLX_TRY(tlx_op(x, "Mul", &t, NULL, 2, t, c2));
      TLX_TRY(tlx_op(x, "Tanh", &t, NULL, 1, t));
    } else { /* 0.5 x (1 + erf(x / sqrt(2))) */
      const char *c;
      TLX_TRY(tlx_scalar(x, dt, 0.7071067811865476, &c));
      TLX_TRY(tlx_op(x, "Mul", &t, NULL, 2, a, c));
      TLX_TRY(tlx_op(x, "Erf", &t, NULL, 1, t));
    }
    TLX_TRY(tlx_op(x, "Add", &t, NULL, 2, t, one));
    TLX_TRY(tlx_op(x, "Mul", &u, NULL, 2, a, half));
    TLX_TRY(tlx_op(x, "Mul", &y, NULL, 2, u, t));
  } else {
    return tlx_fail(x, TL_INTERNAL, "no composition '%s'", onnx);
  }
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_binary_comp(tlx *x, const tl_gnode *n, const char *onnx) {
  const char *a, *b, *t, *u, *y, *k;
  Onnx__NodeProto *np;
  tl_dtype dt = M(x, n->in[0])->dtype;
  bool is_int = tl_dtype_is_integer(dt);
  IN(0, a);
  IN(1, b);
  if (!strcmp(onnx, "not_equal")) {
    TLX_TRY(tlx_op(x, "Equal", &t, NULL, 2, a, b));
    TLX_TRY(tlx_op(x, "Not", &y, NULL, 1, t));
  } else if (!strcmp(onnx, "squared_difference")) {
    TLX_TRY(tlx_op(x, "Sub", &t, NULL, 2, a, b));
    TLX_TRY(tlx_op(x, "Mul", &y, NULL, 2, t, t));
  } else if (!strcmp(onnx, "floordiv")) {
    if (is_int) { /* exact: (a - floormod(a, b)) / b */
      TLX_TRY(tlx_op(x, "Mod", &t, NULL, 2, a, b));
      TLX_TRY(tlx_op(x, "Sub", &t, NULL, 2, a, t));
      TLX_TRY(tlx_op(x, "Div", &y, NULL, 2, t, b));
    } else {
      TLX_TRY(tlx_op(x, "Div", &t, NULL, 2, a, b));
      TLX_TRY(tlx_op(x, "Floor", &y, NULL, 1, t));
    }
  } else if (!strcmp(onnx, "floormod")) {
    if (is_int) TLX_TRY(tlx_op(x, "Mod", &y, NULL, 2, a, b));
    else { /* a - floor(a / b) * b */
      TLX_TRY(tlx_op(x, "Div", &t, NULL, 2, a, b));
      TLX_TRY(tlx_op(x, "Floor", &t, NULL, 1, t));
      TLX_TRY(tlx_op(x, "Mul", &t, NULL, 2, t, b));
      TLX_TRY(tlx_op(x, "Sub", &y, NULL, 2, a, t));
    }
  } else if (!strcmp(onnx, "truncatemod")) {
    TLX_TRY(tlx_op(x, "Mod", &y, &np, 2, a, b));
    TLX_TRY(tlx_attr_int(np, "fmod", 1));
  } else if (!strcmp(onnx, "truncatediv")) {
    if (!is_int) return tlx_fail(x, TL_UNIMPLEMENTED, "truncatediv of floats has no ONNX rendering");
    TLX_TRY(tlx_op(x, "Div", &y, NULL, 2, a, b));
  } else if (!strcmp(onnx, "divide_no_nan")) {
    TLX_TRY(tlx_scalar(x, dt, 0, &k));
    TLX_TRY(tlx_op(x, "Equal", &t, NULL, 2, b, k));
    TLX_TRY(tlx_op(x, "Div", &u, NULL, 2, a, b));
    TLX_TRY(tlx_op(x, "Where", &y, NULL, 3, t, k, u));
  } else {
    return tlx_fail(x, TL_INTERNAL, "no composition '%s'", onnx);
  }
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_clip(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *a, *lo, *hi, *t, *y;
  IN(0, a);
  IN(1, lo);
  IN(2, hi);
  TLX_TRY(tlx_op(x, "Max", &t, NULL, 2, a, lo));
  TLX_TRY(tlx_op(x, "Min", &y, NULL, 2, t, hi));
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_bias_add(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *v, *b, *y;
  IN(0, v);
  IN(1, b);
  const tl_attr *f = A(n, "data_format");
  const tl_meta *vm = M(x, n->in[0]), *bm = M(x, n->in[1]);
  if (f && f->s && !strcmp(f->s, "NCHW")) { /* the bias on axis 1: [C, 1, ..., 1] */
    TLX_TRY(need_rank(x, vm));
    int64_t shape[TL_MAX_RANK];
    shape[0] = bm->rank == 1 ? bm->shape[0] : -1;
    for (int i = 1; i < vm->rank - 1; i++) shape[i] = 1;
    const char *sh;
    TLX_TRY(tlx_ints(x, vm->rank - 1, shape, &sh));
    TLX_TRY(tlx_op(x, "Reshape", &b, NULL, 2, b, sh));
  }
  TLX_TRY(tlx_op(x, "Add", &y, NULL, 2, v, b));
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_matmul(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *a, *b, *y;
  IN(0, a);
  IN(1, b);
  bool ta = A(n, "transpose_a")->b || A(n, "adjoint_a")->b, tb = A(n, "transpose_b")->b || A(n, "adjoint_b")->b;
  for (int k = 0; k < 2; k++) {
    if (!(k ? tb : ta)) continue;
    const tl_meta *m = M(x, n->in[k]);
    TLX_TRY(need_rank(x, m));
    int64_t perm[TL_MAX_RANK];
    swap_last(m->rank, perm);
    TLX_TRY(transpose(x, k ? b : a, m->rank, perm, k ? &b : &a));
  }
  TLX_TRY(tlx_op(x, "MatMul", &y, NULL, 2, a, b));
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_matrix_transpose(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *a, *y;
  const tl_meta *m = M(x, n->in[0]);
  IN(0, a);
  TLX_TRY(need_rank(x, m));
  int64_t perm[TL_MAX_RANK];
  swap_last(m->rank, perm);
  TLX_TRY(transpose(x, a, m->rank, perm, &y));
  SET(x, n, 0, y);
  return TL_OK;
}

/* tensordot as an Einsum: a's axes letters a.., b's own ones after. */
static tl_status r_tensordot(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const tl_meta *am = M(x, n->in[0]), *bm = M(x, n->in[1]);
  TLX_TRY(need_rank(x, am));
  TLX_TRY(need_rank(x, bm));
  const tl_attr *aa = A(n, "a_axes"), *ba = A(n, "b_axes");
  char la[TL_MAX_RANK + 1] = {0}, lb[TL_MAX_RANK + 1] = {0}, lo[2 * TL_MAX_RANK + 1] = {0};
  char next = 'a';
  for (int i = 0; i < am->rank; i++) la[i] = next++;
  for (int i = 0; i < bm->rank; i++) lb[i] = 0;
  if (aa->n != ba->n) return tlx_fail(x, TL_INVALID_ARGUMENT, "a_axes and b_axes differ in length");
  bool contracted_a[TL_MAX_RANK] = {0};
  for (int i = 0; i < aa->n; i++) {
    int64_t ia = norm_axis(aa->ints[i], am->rank), ib = norm_axis(ba->ints[i], bm->rank);
    if (ia < 0 || ia >= am->rank || ib < 0 || ib >= bm->rank) return tlx_fail(x, TL_INVALID_ARGUMENT, "axis out of range");
    lb[ib] = la[ia];
    contracted_a[ia] = true;
  }
  for (int i = 0; i < bm->rank; i++)
    if (!lb[i]) lb[i] = next++;
  int o = 0;
  for (int i = 0; i < am->rank; i++)
    if (!contracted_a[i]) lo[o++] = la[i];
  for (int i = 0; i < bm->rank; i++) {
    bool c = false;
    for (int j = 0; j < aa->n; j++) c |= norm_axis(ba->ints[j], bm->rank) == i;
    if (!c) lo[o++] = lb[i];
  }
  const char *a, *b, *y, *eq = tlx_str(x, "%s,%s->%s", la, lb, lo);
  Onnx__NodeProto *np;
  if (!eq) return tl_last_status();
  IN(0, a);
  IN(1, b);
  TLX_TRY(tlx_op(x, "Einsum", &y, &np, 2, a, b));
  TLX_TRY(tlx_attr_string(np, "equation", eq));
  SET(x, n, 0, y);
  return TL_OK;
}

/* ---- reductions ---------------------------------------------------------------- */

/* ReduceSum takes its axes as an input (opset 13), the others as an attribute. */
static tl_status reduce(tlx *x, const char *type, const char *in, const tl_attr *axis, bool keep, const char **out) {
  Onnx__NodeProto *np;
  if (axis && axis->present && axis->n == 0) return tlx_op(x, "Identity", out, NULL, 1, in);
  bool given = axis && axis->present;
  if (!strcmp(type, "ReduceSum")) {
    const char *ax = NULL;
    if (given) TLX_TRY(tlx_ints(x, axis->n, axis->ints, &ax));
    TLX_TRY(tlx_op(x, type, out, &np, given ? 2 : 1, in, ax));
  } else {
    TLX_TRY(tlx_op(x, type, out, &np, 1, in));
    if (given) TLX_TRY(tlx_attr_ints(np, "axes", axis->n, axis->ints));
  }
  return tlx_attr_int(np, "keepdims", keep);
}

static tl_status r_reduce(tlx *x, const tl_gnode *n, const char *onnx) {
  const char *a, *y;
  IN(0, a);
  const tl_attr *ax = A(n, "axis");
  bool keep = A(n, "keepdims")->b;
  tl_dtype dt = M(x, n->in[0])->dtype;
  if (!strcmp(onnx, "any") || !strcmp(onnx, "all")) { /* bool reductions through int32 */
    TLX_TRY(cast_to(x, a, TL_INT32, &a));
    TLX_TRY(reduce(x, !strcmp(onnx, "any") ? "ReduceMax" : "ReduceMin", a, ax, keep, &a));
    TLX_TRY(cast_to(x, a, TL_BOOL, &y));
  } else if (!strcmp(onnx, "variance") || !strcmp(onnx, "std")) {
    const char *m, *d;
    TLX_TRY(reduce(x, "ReduceMean", a, ax, true, &m));
    TLX_TRY(tlx_op(x, "Sub", &d, NULL, 2, a, m));
    TLX_TRY(tlx_op(x, "Mul", &d, NULL, 2, d, d));
    TLX_TRY(reduce(x, "ReduceMean", d, ax, keep, &y));
    if (!strcmp(onnx, "std")) TLX_TRY(tlx_op(x, "Sqrt", &y, NULL, 1, y));
  } else if (!strcmp(onnx, "count_nonzero")) {
    const char *z, *t;
    TLX_TRY(tlx_scalar(x, dt, 0, &z));
    TLX_TRY(tlx_op(x, "Equal", &t, NULL, 2, a, z));
    TLX_TRY(tlx_op(x, "Not", &t, NULL, 1, t));
    TLX_TRY(cast_to(x, t, OUT(x, n)->dtype, &t));
    TLX_TRY(reduce(x, "ReduceSum", t, ax, keep, &y));
  } else {
    TLX_TRY(reduce(x, onnx, a, ax, keep, &y));
  }
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_moments(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *a, *m, *mk, *d, *v;
  IN(0, a);
  const tl_attr *ax = A(n, "axes");
  bool keep = A(n, "keepdims")->b;
  TLX_TRY(reduce(x, "ReduceMean", a, ax, true, &mk));
  TLX_TRY(tlx_op(x, "Sub", &d, NULL, 2, a, mk));
  TLX_TRY(tlx_op(x, "Mul", &d, NULL, 2, d, d));
  TLX_TRY(reduce(x, "ReduceMean", d, ax, keep, &v));
  if (keep) m = mk;
  else TLX_TRY(reduce(x, "ReduceMean", a, ax, false, &m));
  SET(x, n, 0, m);
  if (n->n_out > 1) SET(x, n, 1, v);
  return TL_OK;
}

static tl_status r_norm(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *a, *y, *ord = A(n, "ord")->s ? A(n, "ord")->s : "euclidean";
  const tl_attr *ax = A(n, "axis");
  bool keep = A(n, "keepdims")->b, vec = !ax->present || ax->n == 1;
  IN(0, a);
  if (!strcmp(ord, "euclidean") || !strcmp(ord, "fro") || (vec && !strcmp(ord, "2")))
    TLX_TRY(reduce(x, "ReduceL2", a, ax, keep, &y));
  else if (vec && !strcmp(ord, "1"))
    TLX_TRY(reduce(x, "ReduceL1", a, ax, keep, &y));
  else if (vec && !strcmp(ord, "inf")) {
    TLX_TRY(tlx_op(x, "Abs", &a, NULL, 1, a));
    TLX_TRY(reduce(x, "ReduceMax", a, ax, keep, &y));
  } else {
    return tlx_fail(x, TL_UNIMPLEMENTED, "ord '%s' over %s has no ONNX rendering", ord, vec ? "a vector" : "matrices");
  }
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_argmax(tlx *x, const tl_gnode *n, const char *onnx) {
  const char *a, *y;
  Onnx__NodeProto *np;
  const tl_meta *m = M(x, n->in[0]);
  IN(0, a);
  TLX_TRY(need_rank(x, m));
  TLX_TRY(tlx_op(x, onnx, &y, &np, 1, a));
  TLX_TRY(tlx_attr_int(np, "axis", norm_axis(A(n, "axis")->i, m->rank)));
  TLX_TRY(tlx_attr_int(np, "keepdims", 0));
  if (OUT(x, n)->dtype != TL_INT64) TLX_TRY(cast_to(x, y, OUT(x, n)->dtype, &y));
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_cumsum(tlx *x, const tl_gnode *n, const char *onnx) {
  const char *a, *ax, *y;
  Onnx__NodeProto *np;
  IN(0, a);
  tl_tensor *t;
  TLX_TRY(tl_tensor_scalar_i64(TL_INT64, A(n, "axis")->i, &t));
  tl_status s = tlx_init_tensor(x, t, NULL, &ax);
  tl_tensor_release(t);
  TLX_TRY(s);
  TLX_TRY(tlx_op(x, onnx, &y, &np, 2, a, ax));
  TLX_TRY(tlx_attr_int(np, "exclusive", A(n, "exclusive")->b));
  TLX_TRY(tlx_attr_int(np, "reverse", A(n, "reverse")->b));
  SET(x, n, 0, y);
  return TL_OK;
}

/* ---- losses ------------------------------------------------------------------- */

static tl_status r_loss(tlx *x, const tl_gnode *n, const char *onnx) {
  const char *z, *l, *t, *u, *y;
  Onnx__NodeProto *np;
  IN(0, z); /* labels */
  IN(1, l); /* logits */
  tl_dtype dt = M(x, n->in[1])->dtype;
  if (!strcmp(onnx, "sigmoid")) { /* relu(x) - x z + softplus(-|x|) */
    TLX_TRY(tlx_op(x, "Relu", &t, NULL, 1, l));
    TLX_TRY(tlx_op(x, "Mul", &u, NULL, 2, l, z));
    TLX_TRY(tlx_op(x, "Sub", &t, NULL, 2, t, u));
    TLX_TRY(tlx_op(x, "Abs", &u, NULL, 1, l));
    TLX_TRY(tlx_op(x, "Neg", &u, NULL, 1, u));
    TLX_TRY(tlx_op(x, "Softplus", &u, NULL, 1, u));
    TLX_TRY(tlx_op(x, "Add", &y, NULL, 2, t, u));
  } else if (!strcmp(onnx, "softmax")) { /* -sum(labels * log_softmax(logits)) over axis */
    const tl_meta *m = M(x, n->in[1]);
    TLX_TRY(need_rank(x, m));
    int64_t axis = norm_axis(A(n, "axis")->i, m->rank);
    tl_attr ax = {.present = true, .type = TL_ATTR_INTS, .n = 1, .ints = &axis};
    TLX_TRY(tlx_op(x, "LogSoftmax", &t, &np, 1, l));
    TLX_TRY(tlx_attr_int(np, "axis", axis));
    TLX_TRY(tlx_op(x, "Mul", &t, NULL, 2, z, t));
    TLX_TRY(reduce(x, "ReduceSum", t, &ax, false, &t));
    TLX_TRY(tlx_op(x, "Neg", &y, NULL, 1, t));
  } else if (!strcmp(onnx, "sparse")) {
    const tl_meta *m = M(x, n->in[1]);
    if (m->rank != 2) return tlx_fail(x, TL_UNIMPLEMENTED, "needs logits of rank 2");
    TLX_TRY(cast_to(x, z, TL_INT64, &z));
    TLX_TRY(tlx_op(x, "SoftmaxCrossEntropyLoss", &y, &np, 2, l, z));
    TLX_TRY(tlx_attr_string(np, "reduction", "none"));
  } else {
    return tlx_fail(x, TL_INTERNAL, "no loss '%s' (%d)", onnx, (int)dt);
  }
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_l2_loss(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *a, *t, *y, *two;
  IN(0, a);
  TLX_TRY(tlx_op(x, "Mul", &t, NULL, 2, a, a));
  TLX_TRY(reduce(x, "ReduceSum", t, NULL, false, &t));
  TLX_TRY(tlx_scalar(x, M(x, n->in[0])->dtype, 2, &two));
  TLX_TRY(tlx_op(x, "Div", &y, NULL, 2, t, two));
  SET(x, n, 0, y);
  return TL_OK;
}

/* ---- the table ----------------------------------------------------------------- */

static const tlx_rendering renderings[] = {
    {"add", r_same, "Add"}, {"subtract", r_same, "Sub"}, {"multiply", r_same, "Mul"}, {"divide", r_div, NULL},
    {"truediv", r_div, NULL}, {"pow", r_same, "Pow"}, {"maximum", r_same, "Max"}, {"minimum", r_same, "Min"},
    {"equal", r_same, "Equal"}, {"less", r_same, "Less"}, {"less_equal", r_same, "LessOrEqual"},
    {"greater", r_same, "Greater"}, {"greater_equal", r_same, "GreaterOrEqual"}, {"logical_and", r_same, "And"},
    {"logical_or", r_same, "Or"}, {"logical_xor", r_same, "Xor"}, {"not_equal", r_binary_comp, "not_equal"},
    {"squared_difference", r_binary_comp, "squared_difference"}, {"floordiv", r_binary_comp, "floordiv"},
    {"floormod", r_binary_comp, "floormod"}, {"truncatemod", r_binary_comp, "truncatemod"},
    {"truncatediv", r_binary_comp, "truncatediv"}, {"divide_no_nan", r_binary_comp, "divide_no_nan"},
    {"negative", r_same, "Neg"}, {"abs", r_same, "Abs"}, {"sign", r_same, "Sign"}, {"relu", r_same, "Relu"},
    {"round", r_same, "Round"}, {"floor", r_same, "Floor"}, {"ceil", r_same, "Ceil"}, {"sqrt", r_same, "Sqrt"},
    {"exp", r_same, "Exp"}, {"log", r_same, "Log"}, {"tanh", r_same, "Tanh"}, {"sigmoid", r_same, "Sigmoid"},
    {"softplus", r_same, "Softplus"}, {"softsign", r_same, "Softsign"}, {"reciprocal", r_same, "Reciprocal"},
    {"sin", r_same, "Sin"}, {"cos", r_same, "Cos"}, {"tan", r_same, "Tan"}, {"asin", r_same, "Asin"},
    {"acos", r_same, "Acos"}, {"atan", r_same, "Atan"}, {"sinh", r_same, "Sinh"}, {"cosh", r_same, "Cosh"},
    {"erf", r_same, "Erf"}, {"is_nan", r_same, "IsNaN"}, {"is_inf", r_same, "IsInf"},
    {"logical_not", r_same, "Not"}, {"add_n", r_same, "Sum"}, {"det", r_same, "Det"},
    {"square", r_unary_comp, "square"}, {"rsqrt", r_unary_comp, "rsqrt"}, {"expm1", r_unary_comp, "expm1"},
    {"log1p", r_unary_comp, "log1p"}, {"relu6", r_unary_comp, "relu6"},
    {"log_sigmoid", r_unary_comp, "log_sigmoid"}, {"is_finite", r_unary_comp, "is_finite"},
    {"elu", r_unary_comp, "elu"}, {"selu", r_unary_comp, "selu"}, {"gelu", r_unary_comp, "gelu"},
    {"leaky_relu", r_alpha, "LeakyRelu"}, {"identity", r_first, NULL}, {"stop_gradient", r_first, NULL},
    {"check_numerics", r_first, NULL}, {"copy_to_device", r_first, NULL}, {"cast", r_cast, NULL},
    {"clip_by_value", r_clip, NULL}, {"bias_add", r_bias_add, NULL}, {"matmul", r_matmul, NULL},
    {"matrix_transpose", r_matrix_transpose, NULL}, {"tensordot", r_tensordot, NULL},
    {"softmax", r_softmax, "Softmax"}, {"log_softmax", r_softmax, "LogSoftmax"},
    {"reduce_sum", r_reduce, "ReduceSum"}, {"reduce_mean", r_reduce, "ReduceMean"},
    {"reduce_max", r_reduce, "ReduceMax"}, {"reduce_min", r_reduce, "ReduceMin"},
    {"reduce_prod", r_reduce, "ReduceProd"}, {"reduce_logsumexp", r_reduce, "ReduceLogSumExp"},
    {"reduce_any", r_reduce, "any"}, {"reduce_all", r_reduce, "all"}, {"reduce_variance", r_reduce, "variance"},
    {"reduce_std", r_reduce, "std"}, {"count_nonzero", r_reduce, "count_nonzero"}, {"moments", r_moments, NULL},
    {"norm", r_norm, NULL}, {"argmax", r_argmax, "ArgMax"}, {"argmin", r_argmax, "ArgMin"},
    {"cumsum", r_cumsum, "CumSum"}, {"sigmoid_cross_entropy_with_logits", r_loss, "sigmoid"},
    {"softmax_cross_entropy_with_logits", r_loss, "softmax"},
    {"sparse_softmax_cross_entropy_with_logits", r_loss, "sparse"}, {"l2_loss", r_l2_loss, NULL},
};

tl_status tlx_convert_op(tlx *x, const tl_gnode *n) {
  for (size_t i = 0; i < sizeof renderings / sizeof *renderings; i++)
    if (!strcmp(renderings[i].name, n->op->name)) return renderings[i].fn(x, n, renderings[i].onnx);
  for (int i = 0; i < tlx_n_shape_renderings; i++)
    if (!strcmp(tlx_shape_renderings[i].name, n->op->name))
      return tlx_shape_renderings[i].fn(x, n, tlx_shape_renderings[i].onnx);
  return tlx_fail(x, TL_UNIMPLEMENTED, "'%s' has no ONNX rendering", n->op->name);
}
#endif
