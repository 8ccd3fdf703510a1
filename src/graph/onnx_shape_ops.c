/* graph/onnx_shape_ops.c — the ONNX renderings of tlua's shape, indexing
 * and window ops, for tl_onnx_export (onnx_ops.c has the element-wise ops,
 * reductions, losses and matmul, and looks ops up in both tables).
 *
 * Attribute lists that ONNX takes as inputs since opset 13 (Reshape's
 * shape, Squeeze/Unsqueeze axes, Split sizes, Slice bounds) become int64
 * initializers. tlua is NHWC with HWIO filters like TensorFlow: conv2d,
 * the depthwise convolution, conv2d_backprop_input (conv2d_transpose) and
 * the pools are Transposes around ONNX's NCHW Conv / ConvTranspose /
 * MaxPool / AveragePool (the filter is transposed by a node, so the
 * variable's initializer keeps tlua's layout). SAME padding is written as
 * explicit pads when the spatial size is known (TensorFlow's rule: the odd
 * pixel after) and as auto_pad SAME_UPPER otherwise.
 */
#ifdef TLUA_HAVE_PROTOBUF_C
#include "graph/graph_internal.h"
#include "graph/onnx_internal.h"
#include "ops/conv.h"

#include <stdint.h>
#include <string.h>

/* ---- shapes ---------------------------------------------------------------------- */

static tl_status r_reshape(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *a, *sh, *y;
  Onnx__NodeProto *np;
  const tl_attr *s = A(n, "shape");
  IN(0, a);
  TLX_TRY(tlx_ints(x, s->n, s->ints, &sh));
  TLX_TRY(tlx_op(x, "Reshape", &y, &np, 2, a, sh));
  bool zero = false;
  for (int i = 0; i < s->n; i++) zero |= s->ints[i] == 0;
  if (zero && x->opset < 14) return tlx_fail(x, TL_UNIMPLEMENTED, "a zero-size dimension in a reshape needs opset 14");
  if (zero) TLX_TRY(tlx_attr_int(np, "allowzero", 1)); /* a 0 is a zero-size dimension, not "copy" */
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_transpose(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *a, *y;
  const tl_meta *m = M(x, n->in[0]);
  const tl_attr *p = A(n, "perm");
  IN(0, a);
  TLX_TRY(need_rank(x, m));
  int64_t perm[TL_MAX_RANK];
  for (int i = 0; i < m->rank; i++) perm[i] = p->present && p->n == m->rank ? norm_axis(p->ints[i], m->rank) : m->rank - 1 - i;
  TLX_TRY(transpose(x, a, m->rank, perm, &y));
  SET(x, n, 0, y);
  return TL_OK;
}

/* Unsqueeze/Squeeze with axes as an input (opset 13). */
static tl_status axes_op(tlx *x, const char *type, const char *in, int n_axes, const int64_t *axes, const char **out) {
  const char *ax;
  TLX_TRY(tlx_ints(x, n_axes, axes, &ax));
  return tlx_op(x, type, out, NULL, 2, in, ax);
}

static tl_status r_expand_dims(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *a, *y;
  IN(0, a);
  int64_t axis = norm_axis(A(n, "axis")->i, OUT(x, n)->rank);
  TLX_TRY(axes_op(x, "Unsqueeze", a, 1, &axis, &y));
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_squeeze(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *a, *y;
  const tl_meta *m = M(x, n->in[0]);
  const tl_attr *ax = A(n, "axis");
  IN(0, a);
  TLX_TRY(need_rank(x, m));
  int64_t axes[TL_MAX_RANK];
  int k = 0;
  if (ax->present && ax->n > 0)
    for (int i = 0; i < ax->n && k < TL_MAX_RANK; i++) axes[k++] = norm_axis(ax->ints[i], m->rank);
  else /* the dimensions of size 1 the shape rule saw */
    for (int i = 0; i < m->rank; i++)
      if (m->shape[i] == 1) axes[k++] = i;
  if (k == 0) TLX_TRY(tlx_op(x, "Identity", &y, NULL, 1, a));
  else TLX_TRY(axes_op(x, "Squeeze", a, k, axes, &y));
  SET(x, n, 0, y);
  return TL_OK;
}

/* Ops taking one int64 list attribute as a second input (Expand, Tile). */
static tl_status r_list_input(tlx *x, const tl_gnode *n, const char *onnx) {
  const char *a, *l, *y;
  const tl_attr *s = A(n, !strcmp(onnx, "Tile") ? "multiples" : "shape");
  IN(0, a);
  TLX_TRY(tlx_ints(x, s->n, s->ints, &l));
  TLX_TRY(tlx_op(x, onnx, &y, NULL, 2, a, l));
  SET(x, n, 0, y);
  return TL_OK;
}

/* shape / size / rank: a constant when the shape rule knows it. */
static tl_status r_shape(tlx *x, const tl_gnode *n, const char *onnx) {
  const tl_meta *m = M(x, n->in[0]), *om = OUT(x, n);
  bool known = m->rank >= 0;
  for (int i = 0; i < m->rank; i++) known &= m->shape[i] >= 0;
  const char *y;
  if (known || (!strcmp(onnx, "Rank") && m->rank >= 0)) {
    tl_tensor *t;
    if (!strcmp(onnx, "Shape")) {
      int64_t len = m->rank;
      TLX_TRY(tl_tensor_new_on(TL_CPU, om->dtype, 1, &len, &t));
      for (int i = 0; i < m->rank; i++) tl_store_i64(tl_tensor_data(t), om->dtype, i, m->shape[i]);
    } else {
      int64_t v = !strcmp(onnx, "Rank") ? m->rank : tl_shape_numel(m->rank, m->shape);
      TLX_TRY(tl_tensor_scalar_i64(om->dtype, v, &t));
    }
    tl_status s = tlx_init_tensor(x, t, NULL, &y);
    tl_tensor_release(t);
    TLX_TRY(s);
  } else {
    const char *a;
    IN(0, a);
    if (!strcmp(onnx, "Rank")) return tlx_fail(x, TL_UNIMPLEMENTED, "the rank of an input of unknown rank");
    TLX_TRY(tlx_op(x, onnx, &y, NULL, 1, a));
    if (om->dtype != TL_INT64) TLX_TRY(cast_to(x, y, om->dtype, &y));
  }
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_like(tlx *x, const tl_gnode *n, const char *onnx) {
  const tl_meta *om = OUT(x, n);
  const char *a, *sh, *y;
  Onnx__NodeProto *np;
  IN(0, a);
  tl_tensor *v;
  int64_t one = 1;
  TLX_TRY(tl_tensor_new_on(TL_CPU, om->dtype, 1, &one, &v));
  tl_store_f64(tl_tensor_data(v), om->dtype, 0, !strcmp(onnx, "ones") ? 1 : 0);
  tl_status s = tlx_op(x, "Shape", &sh, NULL, 1, a);
  if (!s) s = tlx_op(x, "ConstantOfShape", &y, &np, 1, sh);
  if (!s) s = tlx_attr_tensor(np, "value", v);
  tl_tensor_release(v);
  TLX_TRY(s);
  SET(x, n, 0, y);
  return TL_OK;
}

/* The values of a constant input as int64s (pad's paddings, fill's dims). */
static tl_status const_ints(tlx *x, int vid, int64_t *v, int cap, int *n) {
  tl_tensor *t = vid >= 0 ? x->cval[vid] : NULL, *c;
  if (!t) return tlx_fail(x, TL_UNIMPLEMENTED, "needs a constant for input %d (it is computed in the graph)", vid);
  if (t->size > cap) return tlx_fail(x, TL_UNIMPLEMENTED, "a constant of %lld values is too long", (long long)t->size);
  TLX_TRY(tl_tensor_copy_to(t, TL_CPU, &c));
  tl_tensor *cc;
  tl_status s = tl_tensor_contiguous(c, &cc);
  tl_tensor_release(c);
  TLX_TRY(s);
  for (int64_t i = 0; i < cc->size; i++) v[i] = tl_load_i64(tl_tensor_data(cc), cc->dtype, i);
  *n = (int)cc->size;
  tl_tensor_release(cc);
  return TL_OK;
}

static tl_status r_fill(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  int64_t dims[TL_MAX_RANK];
  int k;
  const char *v, *sh, *y;
  TLX_TRY(const_ints(x, n->in[0], dims, TL_MAX_RANK, &k));
  IN(1, v);
  TLX_TRY(tlx_ints(x, k, dims, &sh));
  TLX_TRY(tlx_op(x, "Expand", &y, NULL, 2, v, sh));
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_concat(tlx *x, const tl_gnode *n, const char *onnx) {
  const char **in = tlx_alloc(x, (size_t)n->n_in * sizeof *in), *y;
  Onnx__NodeProto *np;
  bool stack = !strcmp(onnx, "stack");
  if (!in) return tl_last_status();
  int64_t axis = norm_axis(A(n, "axis")->i, OUT(x, n)->rank);
  for (int i = 0; i < n->n_in; i++) {
    IN(i, in[i]);
    if (stack) TLX_TRY(axes_op(x, "Unsqueeze", in[i], 1, &axis, &in[i]));
  }
  TLX_TRY(tlx_emit(x, "Concat", n->n_in, in, 1, &y, &np));
  TLX_TRY(tlx_attr_int(np, "axis", axis));
  SET(x, n, 0, y);
  return TL_OK;
}

/* split and unstack: Split with explicit sizes (then Squeeze for unstack). */
static tl_status r_split(tlx *x, const tl_gnode *n, const char *onnx) {
  const tl_meta *m = M(x, n->in[0]);
  TLX_TRY(need_rank(x, m));
  bool unstack = !strcmp(onnx, "unstack");
  int64_t axis = norm_axis(A(n, "axis")->i, m->rank);
  if (axis < 0 || axis >= m->rank) return tlx_fail(x, TL_INVALID_ARGUMENT, "axis out of range");
  int64_t dim = m->shape[axis];
  int k = n->n_out;
  int64_t *sizes = tlx_alloc(x, (size_t)k * sizeof *sizes);
  const char **outs = tlx_alloc(x, (size_t)k * sizeof *outs);
  if (!sizes || !outs) return tl_last_status();
  const tl_attr *ns = unstack ? NULL : A(n, "num_or_size_splits");
  if (ns && ns->n != 1 && ns->n != k) return tlx_fail(x, TL_INTERNAL, "%d sizes for %d outputs", ns->n, k);
  if (unstack || ns->n == 1) {
    if (dim < 0 && !unstack) return tlx_fail(x, TL_UNIMPLEMENTED, "an even split of a dimension of unknown size");
    for (int i = 0; i < k; i++) sizes[i] = unstack ? 1 : dim / k;
  } else {
    int64_t known = 0;
    int hole = -1;
    for (int i = 0; i < k; i++) {
      sizes[i] = ns->ints[i];
      if (sizes[i] < 0) hole = i;
      else known += sizes[i];
    }
    if (hole >= 0) {
      if (dim < 0) return tlx_fail(x, TL_UNIMPLEMENTED, "a -1 size over a dimension of unknown size");
      sizes[hole] = dim - known;
    }
  }
  const char *a, *sp;
  Onnx__NodeProto *np;
  IN(0, a);
  TLX_TRY(tlx_ints(x, k, sizes, &sp));
  const char *in[2] = {a, sp};
  TLX_TRY(tlx_emit(x, "Split", 2, in, k, outs, &np));
  TLX_TRY(tlx_attr_int(np, "axis", axis));
  for (int i = 0; i < k; i++) {
    if (unstack) TLX_TRY(axes_op(x, "Squeeze", outs[i], 1, &axis, &outs[i]));
    SET(x, n, i, outs[i]);
  }
  return TL_OK;
}

static tl_status slice_op(tlx *x, const char *in, int k, const int64_t *st, const int64_t *en, const int64_t *ax,
                          const int64_t *steps, const char **out) {
  const char *s, *e, *a, *p;
  TLX_TRY(tlx_ints(x, k, st, &s));
  TLX_TRY(tlx_ints(x, k, en, &e));
  TLX_TRY(tlx_ints(x, k, ax, &a));
  TLX_TRY(tlx_ints(x, k, steps, &p));
  return tlx_op(x, "Slice", out, NULL, 5, in, s, e, a, p);
}

static tl_status r_slice(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const tl_attr *b = A(n, "begin"), *sz = A(n, "size");
  int k = b->n;
  int64_t st[TL_MAX_RANK], en[TL_MAX_RANK], ax[TL_MAX_RANK], steps[TL_MAX_RANK];
  if (k > TL_MAX_RANK || sz->n != k) return tlx_fail(x, TL_INVALID_ARGUMENT, "begin and size differ in length");
  for (int i = 0; i < k; i++) {
    st[i] = b->ints[i];
    en[i] = sz->ints[i] < 0 ? INT64_MAX : b->ints[i] + sz->ints[i];
    ax[i] = i;
    steps[i] = 1;
  }
  const char *a, *y;
  IN(0, a);
  TLX_TRY(slice_op(x, a, k, st, en, ax, steps, &y));
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_reverse(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const tl_meta *m = M(x, n->in[0]);
  const tl_attr *axis = A(n, "axis");
  TLX_TRY(need_rank(x, m));
  int k = axis->n;
  int64_t st[TL_MAX_RANK], en[TL_MAX_RANK], ax[TL_MAX_RANK], steps[TL_MAX_RANK];
  if (k > TL_MAX_RANK) return tlx_fail(x, TL_INVALID_ARGUMENT, "too many axes");
  for (int i = 0; i < k; i++) st[i] = -1, en[i] = INT64_MIN, ax[i] = norm_axis(axis->ints[i], m->rank), steps[i] = -1;
  const char *a, *y;
  IN(0, a);
  if (k == 0) TLX_TRY(tlx_op(x, "Identity", &y, NULL, 1, a));
  else TLX_TRY(slice_op(x, a, k, st, en, ax, steps, &y));
  SET(x, n, 0, y);
  return TL_OK;
}

/* strided_slice: TensorFlow's sparse spec (masks, ellipsis, new axes)
 * made dense over the input's dimensions, as ops/slice.c does, then one
 * Slice (ONNX clamps like Python), a Squeeze of the integer indices and an
 * Unsqueeze of the new axes. */
static tl_status r_strided_slice(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const tl_meta *m = M(x, n->in[0]);
  TLX_TRY(need_rank(x, m));
  const tl_attr *b = A(n, "begin"), *e = A(n, "end"), *st = A(n, "strides");
  uint64_t bm = (uint64_t)A(n, "begin_mask")->i, em = (uint64_t)A(n, "end_mask")->i,
           ellm = (uint64_t)A(n, "ellipsis_mask")->i, nam = (uint64_t)A(n, "new_axis_mask")->i,
           shm = (uint64_t)A(n, "shrink_axis_mask")->i;
  int r = m->rank, sparse_n = b->n;
  if (sparse_n > 30) return tlx_fail(x, TL_INVALID_ARGUMENT, "too many slice entries");
  if (!ellm) ellm = 1ull << sparse_n++;
  int ell_at = __builtin_ctzll(ellm), new_after = 0;
  for (int i = 0; i < sparse_n; i++)
    if (!((ellm >> i) & 1) && ((nam >> i) & 1) && i > ell_at) new_after++;
  int64_t s0[TL_MAX_RANK], e0[TL_MAX_RANK], ax[TL_MAX_RANK], sp[TL_MAX_RANK], sq[TL_MAX_RANK], un[TL_MAX_RANK];
  int ns = 0, nsq = 0, nun = 0, full = 0, out = 0;
  for (int i = 0; i < sparse_n; i++) {
    if ((ellm >> i) & 1) {
      int next = r - (sparse_n - i) + 1 + new_after;
      if (next > r) next = r;
      out += next - full > 0 ? next - full : 0;
      if (next > full) full = next;
      continue;
    }
    if ((nam >> i) & 1) {
      if (nun == TL_MAX_RANK) return tlx_fail(x, TL_INVALID_ARGUMENT, "too many new axes");
      un[nun++] = out++;
      continue;
    }
    if (full >= r || ns == TL_MAX_RANK) return tlx_fail(x, TL_INVALID_ARGUMENT, "too many indices");
    int d = full++;
    int64_t stride = st->present ? st->ints[i] : 1, bi = b->ints[i], ei = e->ints[i];
    if ((shm >> i) & 1) {
      s0[ns] = bi, e0[ns] = bi == -1 ? INT64_MAX : bi + 1, ax[ns] = d, sp[ns++] = 1;
      sq[nsq++] = d;
      continue;
    }
    out++;
    if ((bm >> i) & 1) bi = stride > 0 ? 0 : INT64_MAX;
    if ((em >> i) & 1) ei = stride > 0 ? INT64_MAX : INT64_MIN;
    if (bi == 0 && ei == INT64_MAX && stride == 1) continue; /* the whole dimension */
    s0[ns] = bi, e0[ns] = ei, ax[ns] = d, sp[ns++] = stride;
  }
  const char *y;
  IN(0, y);
  if (ns) TLX_TRY(slice_op(x, y, ns, s0, e0, ax, sp, &y));
  if (nsq) TLX_TRY(axes_op(x, "Squeeze", y, nsq, sq, &y));
  if (nun) TLX_TRY(axes_op(x, "Unsqueeze", y, nun, un, &y));
  if (!ns && !nsq && !nun) TLX_TRY(tlx_op(x, "Identity", &y, NULL, 1, y));
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_pad(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const tl_meta *m = M(x, n->in[0]);
  TLX_TRY(need_rank(x, m));
  int64_t p[2 * TL_MAX_RANK], pads[2 * TL_MAX_RANK];
  int k;
  TLX_TRY(const_ints(x, n->in[1], p, 2 * TL_MAX_RANK, &k));
  if (k != 2 * m->rank) return tlx_fail(x, TL_INVALID_ARGUMENT, "paddings of %d values for rank %d", k, m->rank);
  for (int i = 0; i < m->rank; i++) pads[i] = p[2 * i], pads[m->rank + i] = p[2 * i + 1];
  const char *mode = A(n, "mode")->s ? A(n, "mode")->s : "CONSTANT", *om;
  if (!strcmp(mode, "CONSTANT") || !strcmp(mode, "constant")) om = "constant";
  else if (!strcmp(mode, "REFLECT") || !strcmp(mode, "reflect")) om = "reflect";
  else return tlx_fail(x, TL_UNIMPLEMENTED, "mode '%s' has no ONNX rendering (CONSTANT and REFLECT do)", mode);
  const char *a, *pd, *cv = NULL, *y;
  Onnx__NodeProto *np;
  IN(0, a);
  TLX_TRY(tlx_ints(x, 2 * m->rank, pads, &pd));
  if (!strcmp(om, "constant")) TLX_TRY(tlx_scalar(x, m->dtype, A(n, "constant_values")->f, &cv));
  TLX_TRY(tlx_op(x, "Pad", &y, &np, cv ? 3 : 2, a, pd, cv));
  TLX_TRY(tlx_attr_string(np, "mode", om));
  SET(x, n, 0, y);
  return TL_OK;
}

/* ---- indexing -------------------------------------------------------------------- */

static tl_status r_gather(tlx *x, const tl_gnode *n, const char *onnx) {
  const char *p, *i, *y;
  Onnx__NodeProto *np;
  int64_t bd = A(n, "batch_dims")->i;
  IN(0, p);
  IN(1, i);
  if (!strcmp(onnx, "GatherND")) {
    if (M(x, n->in[1])->dtype != TL_INT64) TLX_TRY(cast_to(x, i, TL_INT64, &i));
    TLX_TRY(tlx_op(x, "GatherND", &y, &np, 2, p, i));
    TLX_TRY(tlx_attr_int(np, "batch_dims", bd));
  } else {
    const tl_attr *ax = A(n, "axis");
    const tl_meta *m = M(x, n->in[0]);
    if (bd != 0) return tlx_fail(x, TL_UNIMPLEMENTED, "batch_dims %lld has no ONNX rendering", (long long)bd);
    TLX_TRY(need_rank(x, m));
    TLX_TRY(tlx_op(x, "Gather", &y, &np, 2, p, i));
    TLX_TRY(tlx_attr_int(np, "axis", norm_axis(ax->present ? ax->i : 0, m->rank)));
  }
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_where(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const char *c, *a, *b, *y;
  IN(0, c);
  if (n->n_in >= 3 && n->in[1] >= 0 && n->in[2] >= 0) {
    IN(1, a);
    IN(2, b);
    TLX_TRY(tlx_op(x, "Where", &y, NULL, 3, c, a, b));
  } else { /* the coordinates of the true elements: [n, rank] */
    int64_t perm[2] = {1, 0};
    TLX_TRY(tlx_op(x, "NonZero", &y, NULL, 1, c));
    TLX_TRY(transpose(x, y, 2, perm, &y));
    if (OUT(x, n)->dtype != TL_INT64) TLX_TRY(cast_to(x, y, OUT(x, n)->dtype, &y));
  }
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_one_hot(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const tl_meta *om = OUT(x, n);
  const char *i, *d, *v, *y;
  Onnx__NodeProto *np;
  IN(0, i);
  if (M(x, n->in[0])->dtype != TL_INT64) TLX_TRY(cast_to(x, i, TL_INT64, &i)); /* onnxruntime's kernels */
  tl_tensor *t;
  int64_t two = 2;
  TLX_TRY(tl_tensor_scalar_i64(TL_INT64, A(n, "depth")->i, &t));
  tl_status s = tlx_init_tensor(x, t, NULL, &d);
  tl_tensor_release(t);
  TLX_TRY(s);
  TLX_TRY(tl_tensor_new_on(TL_CPU, om->dtype, 1, &two, &t));
  tl_store_f64(tl_tensor_data(t), om->dtype, 0, A(n, "off_value")->f);
  tl_store_f64(tl_tensor_data(t), om->dtype, 1, A(n, "on_value")->f);
  s = tlx_init_tensor(x, t, NULL, &v);
  tl_tensor_release(t);
  TLX_TRY(s);
  TLX_TRY(tlx_op(x, "OneHot", &y, &np, 3, i, d, v));
  TLX_TRY(tlx_attr_int(np, "axis", A(n, "axis")->i));
  SET(x, n, 0, y);
  return TL_OK;
}

/* top_k, sort and argsort through TopK (sort needs the axis's size). */
static tl_status r_topk(tlx *x, const tl_gnode *n, const char *onnx) {
  const tl_meta *m = M(x, n->in[0]);
  TLX_TRY(need_rank(x, m));
  bool top = !strcmp(onnx, "top_k");
  int64_t axis = top ? m->rank - 1 : norm_axis(A(n, "axis")->i, m->rank), k;
  if (top) k = A(n, "k")->i;
  else if ((k = m->shape[axis]) < 0) return tlx_fail(x, TL_UNIMPLEMENTED, "sorting an axis of unknown size");
  bool largest = top || (A(n, "direction")->s && !strcmp(A(n, "direction")->s, "DESCENDING"));
  const char *a, *kk, *outs[2];
  Onnx__NodeProto *np;
  IN(0, a);
  TLX_TRY(tlx_ints(x, 1, &k, &kk));
  const char *in[2] = {a, kk};
  TLX_TRY(tlx_emit(x, "TopK", 2, in, 2, outs, &np));
  TLX_TRY(tlx_attr_int(np, "axis", axis));
  TLX_TRY(tlx_attr_int(np, "largest", largest));
  TLX_TRY(tlx_attr_int(np, "sorted", 1));
  if (!strcmp(onnx, "sort")) {
    SET(x, n, 0, outs[0]);
    return TL_OK;
  }
  int ip = top ? 1 : 0; /* where the indices go */
  const tl_meta *im = M(x, n->out0 + ip);
  if (im->dtype != TL_INT64) TLX_TRY(cast_to(x, outs[1], im->dtype, &outs[1]));
  if (top) SET(x, n, 0, outs[0]);
  if (n->n_out > ip) SET(x, n, ip, outs[1]);
  return TL_OK;
}

/* ---- convolutions and pools ----------------------------------------------------- */

/* The window attributes of node n over input meta xm (NHWC) for a window
 * kh x kw: strides, dilations and pads (or auto_pad) on np. */
static tl_status window(tlx *x, const tl_gnode *n, Onnx__NodeProto *np, const tl_meta *xm, int64_t kh, int64_t kw,
                        bool dil) {
  const tl_attr *f = A(n, "data_format");
  if (f && f->s && strcmp(f->s, "NHWC") != 0) return tlx_fail(x, TL_UNIMPLEMENTED, "data_format '%s' (NHWC exports)", f->s);
  int64_t sh, sw, dh = 1, dw = 1, pads[4];
  int mode;
  TLX_TRY(tl_conv_hw(A(n, "strides"), "strides", 1, &sh, &sw));
  if (dil) TLX_TRY(tl_conv_hw(A(n, "dilations"), "dilations", 1, &dh, &dw));
  TLX_TRY(tl_conv_padding(A(n, "padding"), A(n, "explicit_paddings"), &mode, pads));
  int64_t k2[2] = {kh, kw}, s2[2] = {sh, sw}, d2[2] = {dh, dw};
  TLX_TRY(tlx_attr_ints(np, "kernel_shape", 2, k2));
  TLX_TRY(tlx_attr_ints(np, "strides", 2, s2));
  if (dil) TLX_TRY(tlx_attr_ints(np, "dilations", 2, d2));
  int64_t op[4] = {0, 0, 0, 0}; /* ONNX: top, left, bottom, right */
  if (mode == TL_PAD_EXPLICIT) {
    op[0] = pads[0], op[2] = pads[1], op[1] = pads[2], op[3] = pads[3];
  } else if (mode == TL_PAD_SAME) {
    tl_conv_dim h = {.in = xm->rank == 4 ? xm->shape[1] : -1, .k = kh, .s = sh, .d = dh},
                w = {.in = xm->rank == 4 ? xm->shape[2] : -1, .k = kw, .s = sw, .d = dw};
    if (h.in < 0 || w.in < 0) return tlx_attr_string(np, "auto_pad", "SAME_UPPER");
    TLX_TRY(tl_conv_out_dim(&h, mode, "height", "window"));
    TLX_TRY(tl_conv_out_dim(&w, mode, "width", "window"));
    op[0] = h.p0, op[2] = h.p1, op[1] = w.p0, op[3] = w.p1;
  }
  return tlx_attr_ints(np, "pads", 4, op);
}

static const int64_t to_nchw[4] = {0, 3, 1, 2}, to_nhwc[4] = {0, 2, 3, 1};

static tl_status r_conv(tlx *x, const tl_gnode *n, const char *onnx) {
  bool dw = !strcmp(onnx, "depthwise");
  const tl_meta *xm = M(x, n->in[0]), *fm = M(x, n->in[1]);
  if (fm->rank != 4 || fm->shape[0] < 0 || fm->shape[1] < 0 || (dw && (fm->shape[2] < 0 || fm->shape[3] < 0)))
    return tlx_fail(x, TL_UNIMPLEMENTED, "needs a filter of known shape");
  const char *a, *f, *y;
  Onnx__NodeProto *np;
  IN(0, a);
  IN(1, f);
  static const int64_t hwio_to_oihw[4] = {3, 2, 0, 1};
  if (dw) { /* [KH, KW, C, M] -> [KH, KW, 1, C*M] -> [C*M, 1, KH, KW], group C */
    int64_t shape[4] = {fm->shape[0], fm->shape[1], 1, fm->shape[2] * fm->shape[3]};
    const char *sh;
    TLX_TRY(tlx_ints(x, 4, shape, &sh));
    TLX_TRY(tlx_op(x, "Reshape", &f, NULL, 2, f, sh));
  }
  TLX_TRY(transpose(x, f, 4, hwio_to_oihw, &f));
  TLX_TRY(transpose(x, a, 4, to_nchw, &a));
  TLX_TRY(tlx_op(x, "Conv", &y, &np, 2, a, f));
  TLX_TRY(window(x, n, np, xm, fm->shape[0], fm->shape[1], true));
  if (dw) TLX_TRY(tlx_attr_int(np, "group", fm->shape[2]));
  TLX_TRY(transpose(x, y, 4, to_nhwc, &y));
  SET(x, n, 0, y);
  return TL_OK;
}

/* conv2d_backprop_input (conv2d_transpose): ConvTranspose with the forward
 * convolution's pads and the output_padding that reaches input_sizes. */
static tl_status r_conv_transpose(tlx *x, const tl_gnode *n, const char *onnx) {
  (void)onnx;
  const tl_meta *fm = M(x, n->in[0]), *om = OUT(x, n);
  if (fm->rank != 4 || fm->shape[0] < 0 || fm->shape[1] < 0)
    return tlx_fail(x, TL_UNIMPLEMENTED, "needs a filter of known shape");
  if (om->rank != 4 || om->shape[1] < 0 || om->shape[2] < 0)
    return tlx_fail(x, TL_UNIMPLEMENTED, "needs an output of known height and width");
  const tl_attr *f = A(n, "data_format");
  if (f && f->s && strcmp(f->s, "NHWC") != 0) return tlx_fail(x, TL_UNIMPLEMENTED, "data_format '%s' (NHWC exports)", f->s);
  int64_t sh, sw, dh, dw, pads[4];
  int mode;
  TLX_TRY(tl_conv_hw(A(n, "strides"), "strides", 1, &sh, &sw));
  TLX_TRY(tl_conv_hw(A(n, "dilations"), "dilations", 1, &dh, &dw));
  TLX_TRY(tl_conv_padding(A(n, "padding"), A(n, "explicit_paddings"), &mode, pads));
  tl_conv_dim h = {.in = om->shape[1], .k = fm->shape[0], .s = sh, .d = dh, .p0 = pads[0], .p1 = pads[1]},
              w = {.in = om->shape[2], .k = fm->shape[1], .s = sw, .d = dw, .p0 = pads[2], .p1 = pads[3]};
  TLX_TRY(tl_conv_out_dim(&h, mode, "height", "filter"));
  TLX_TRY(tl_conv_out_dim(&w, mode, "width", "filter"));
  int64_t oph = h.in - (sh * (h.out - 1) + (h.k - 1) * dh + 1 - h.p0 - h.p1),
          opw = w.in - (sw * (w.out - 1) + (w.k - 1) * dw + 1 - w.p0 - w.p1);
  const char *fl, *d, *y;
  Onnx__NodeProto *np;
  IN(0, fl);
  IN(1, d);
  static const int64_t hwoi_to_iohw[4] = {3, 2, 0, 1};
  TLX_TRY(transpose(x, fl, 4, hwoi_to_iohw, &fl));
  TLX_TRY(transpose(x, d, 4, to_nchw, &d));
  TLX_TRY(tlx_op(x, "ConvTranspose", &y, &np, 2, d, fl));
  int64_t k2[2] = {h.k, w.k}, s2[2] = {sh, sw}, d2[2] = {dh, dw}, p4[4] = {h.p0, w.p0, h.p1, w.p1}, op2[2] = {oph, opw};
  TLX_TRY(tlx_attr_ints(np, "kernel_shape", 2, k2));
  TLX_TRY(tlx_attr_ints(np, "strides", 2, s2));
  TLX_TRY(tlx_attr_ints(np, "dilations", 2, d2));
  TLX_TRY(tlx_attr_ints(np, "pads", 4, p4));
  if (oph || opw) TLX_TRY(tlx_attr_ints(np, "output_padding", 2, op2));
  TLX_TRY(transpose(x, y, 4, to_nhwc, &y));
  SET(x, n, 0, y);
  return TL_OK;
}

static tl_status r_pool(tlx *x, const tl_gnode *n, const char *onnx) {
  const tl_meta *xm = M(x, n->in[0]);
  int64_t kh, kw;
  TLX_TRY(tl_conv_hw(A(n, "ksize"), "ksize", 0, &kh, &kw));
  const char *a, *y;
  Onnx__NodeProto *np;
  IN(0, a);
  TLX_TRY(transpose(x, a, 4, to_nchw, &a));
  TLX_TRY(tlx_op(x, onnx, &y, &np, 1, a));
  TLX_TRY(window(x, n, np, xm, kh, kw, false));
  TLX_TRY(transpose(x, y, 4, to_nhwc, &y));
  SET(x, n, 0, y);
  return TL_OK;
}

const tlx_rendering tlx_shape_renderings[] = {
    {"reshape", r_reshape, NULL}, {"transpose", r_transpose, NULL}, {"expand_dims", r_expand_dims, NULL},
    {"squeeze", r_squeeze, NULL}, {"broadcast_to", r_list_input, "Expand"}, {"tile", r_list_input, "Tile"},
    {"shape", r_shape, "Shape"}, {"size", r_shape, "Size"}, {"rank", r_shape, "Rank"},
    {"zeros_like", r_like, "zeros"}, {"ones_like", r_like, "ones"}, {"fill", r_fill, NULL},
    {"concat", r_concat, "concat"}, {"stack", r_concat, "stack"}, {"split", r_split, "split"},
    {"unstack", r_split, "unstack"}, {"slice", r_slice, NULL}, {"strided_slice", r_strided_slice, NULL},
    {"reverse", r_reverse, NULL}, {"pad", r_pad, NULL}, {"gather", r_gather, "Gather"},
    {"gather_nd", r_gather, "GatherND"}, {"where", r_where, NULL}, {"one_hot", r_one_hot, NULL},
    {"top_k", r_topk, "top_k"}, {"sort", r_topk, "sort"}, {"argsort", r_topk, "argsort"},
    {"conv2d", r_conv, "conv"}, {"depthwise_conv2d_native", r_conv, "depthwise"},
    {"conv2d_backprop_input", r_conv_transpose, NULL}, {"max_pool", r_pool, "MaxPool"},
    {"avg_pool", r_pool, "AveragePool"},
};
const int tlx_n_shape_renderings = (int)(sizeof tlx_shape_renderings / sizeof *tlx_shape_renderings);
#endif
