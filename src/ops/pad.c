/* ops/pad.c — copies that repeat or reorder: tile, pad, reverse, and
 * pad_grad (pad's adjoint, internal).
 *
 * Data moves by element size through views and tl_tensor_copy_into (which
 * iterates any strides, negative ones included), so every dtype works.
 * tile, reverse and pad_grad fill outputs the dispatcher allocated from
 * the shape rule. pad's output shape depends on the values of its
 * paddings tensor, so it is TL_OP_VALUE_SHAPE: its rule gives dtype and
 * rank (every dimension unknown) and checks the paddings' dtype and shape;
 * the kernel reads the amounts and checks them. Gradient rules never read
 * paddings on the host: pad's gradient is the pad_grad op, whose kernel
 * reads them on the paddings' device and folds the padding back onto the
 * input positions it was copied from (REFLECT and SYMMETRIC), one
 * dimension at a time (the paddings of different dimensions commute).
 * pad_grad is linear, and its own gradient is pad with the same mode.
 */
#include "ops/movement.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static tl_status view_of(const tl_tensor *t, int rank, const int64_t *shape, const int64_t *strides, int64_t offset,
                         tl_tensor **out) {
  return tl_tensor_view(t->storage, t->dtype, rank, shape, strides, offset, out);
}

/* ---- tile -------------------------------------------------------------- */

static tl_status tile_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *t = in[0];
  const tl_attr *m = &attr[0];
  int r = t->rank >= 0 ? t->rank : m->n;
  char ms[TL_SHAPE_BUF];
  tl_shape_format(m->n, m->ints, ms, sizeof ms);
  if (m->n != r) return tl_error(TL_INVALID_ARGUMENT, "multiples %s has %d entries but the tensor has rank %d", ms, m->n, r);
  if (r > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "multiples %s has more than %d entries", ms, TL_MAX_RANK);
  int64_t shape[TL_MAX_RANK];
  for (int i = 0; i < r; i++) {
    int64_t d = t->rank >= 0 ? t->shape[i] : -1;
    if (m->ints[i] < 0) return tl_error(TL_INVALID_ARGUMENT, "multiples %s has a negative entry at position %d", ms, i);
    if (d < 0) shape[i] = m->ints[i] == 0 ? 0 : -1; /* nothing times 0 is known */
    else if (__builtin_mul_overflow(d, m->ints[i], &shape[i]))
      return tl_error(TL_RESOURCE_EXHAUSTED, "tiled shape is too large");
  }
  return tl_meta_emit(out, t->dtype, r, shape);
}

/* Copies the input into the corner, then replicates the filled block along
 * each dimension in turn: sum(multiples - 1) block copies in all. */
static tl_status tile_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0], *res = tl_out(out, 0);
  const int64_t *m = attr[0].ints;
  int r = t->rank;
  if (res->size == 0) return TL_OK;
  int64_t cur[TL_MAX_RANK];
  memcpy(cur, t->shape, sizeof(int64_t) * (size_t)r);
  tl_tensor *src = NULL, *dst = NULL;
  tl_status s = view_of(res, r, cur, res->strides, 0, &dst);
  if (!s) s = tl_tensor_copy_into(dst, t);
  tl_tensor_release(dst);
  for (int d = 0; d < r && !s; d++) {
    s = view_of(res, r, cur, res->strides, 0, &src);
    for (int64_t k = 1; k < m[d] && !s; k++) {
      s = view_of(res, r, cur, res->strides, k * t->shape[d] * res->strides[d], &dst);
      if (!s) s = tl_tensor_copy_into(dst, src);
      tl_tensor_release(dst);
    }
    tl_tensor_release(src);
    cur[d] = res->shape[d];
  }
  return s;
}

/* ---- pad --------------------------------------------------------------- */

typedef enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_SYMMETRIC } pad_mode;

/* The checks that need no values: mode, and the paddings' dtype and shape
 * ([r,2] or [2r]) against rank r (-1: unknown). */
static tl_status pad_check(const tl_attr *mode_attr, const tl_meta *p, int r, pad_mode *mode) {
  const char *ms = mode_attr->s ? mode_attr->s : "CONSTANT";
  if (strcasecmp(ms, "CONSTANT") == 0) *mode = PAD_CONSTANT;
  else if (strcasecmp(ms, "REFLECT") == 0) *mode = PAD_REFLECT;
  else if (strcasecmp(ms, "SYMMETRIC") == 0) *mode = PAD_SYMMETRIC;
  else return tl_error(TL_INVALID_ARGUMENT, "mode must be CONSTANT, REFLECT or SYMMETRIC, got '%s'", ms);
  if (!tl_dtype_is_integer(p->dtype))
    return tl_error(TL_INVALID_ARGUMENT, "paddings must be integers, got %s", tl_dtypes[p->dtype].name);
  if (r < 0 || p->rank < 0) return TL_OK;
#define DIM_IS(i, want) (p->shape[i] < 0 || p->shape[i] == (want))
  if (!((p->rank == 2 && DIM_IS(0, r) && DIM_IS(1, 2)) || (p->rank == 1 && DIM_IS(0, 2 * r)))) {
    char ps[TL_SHAPE_BUF];
    return tl_error(TL_INVALID_ARGUMENT, "paddings must have shape [%d,2] for a rank %d tensor, got %s", r, r,
                    tl_meta_dims(p, ps, sizeof ps));
  }
#undef DIM_IS
  return TL_OK;
}

/* The amounts in paddings (read in the kernel, on its device), checked
 * against the unpadded shape: non-negative, and within what REFLECT and
 * SYMMETRIC can mirror. */
static tl_status pad_amounts(tl_tensor *p, int r, const int64_t *shape, pad_mode mode, int64_t *before, int64_t *after) {
  tl_tensor *pc;
  tl_status s = tl_tensor_contiguous(p, &pc);
  if (s) return s;
  for (int i = 0; i < r; i++) {
    before[i] = tl_load_i64(tl_tensor_data(pc), pc->dtype, 2 * i);
    after[i] = tl_load_i64(tl_tensor_data(pc), pc->dtype, 2 * i + 1);
  }
  tl_tensor_release(pc);
  for (int i = 0; i < r; i++) {
    if (before[i] < 0 || after[i] < 0)
      return tl_error(TL_INVALID_ARGUMENT, "paddings for dimension %d must be non-negative, got [%" PRId64 ",%" PRId64 "]", i,
                      before[i], after[i]);
    int64_t lim = mode == PAD_REFLECT ? shape[i] - 1 : shape[i];
    if (mode != PAD_CONSTANT && (before[i] > lim || after[i] > lim))
      return tl_error(TL_INVALID_ARGUMENT,
                      "%s padding of dimension %d (size %" PRId64 ") must be at most %" PRId64 " on each side, got [%" PRId64 ",%" PRId64 "]",
                      mode == PAD_REFLECT ? "REFLECT" : "SYMMETRIC", i, shape[i], lim < 0 ? 0 : lim, before[i], after[i]);
  }
  return TL_OK;
}

static tl_status pad_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *t = in[0], *p = in[1];
  pad_mode mode;
  tl_status s = pad_check(&attr[0], p, t->rank, &mode);
  if (s) return s;
  int r = t->rank;
  if (r < 0 && p->rank == 2 && p->shape[0] >= 0 && p->shape[0] <= TL_MAX_RANK) r = (int)p->shape[0];
  int64_t shape[TL_MAX_RANK];
  for (int i = 0; i < r; i++) shape[i] = -1; /* the amounts are values */
  return tl_meta_emit(out, t->dtype, r, shape);
}

/* Copies the slab at index `from` along dim d to index `to`; dims < d span
 * the whole output, dims > d only the interior. */
static tl_status pad_copy_slab(tl_tensor *res, const tl_tensor *t, const int64_t *before, int d, int64_t from, int64_t to) {
  int64_t shape[TL_MAX_RANK], off_from = 0, off_to = 0;
  for (int i = 0; i < res->rank; i++) {
    int64_t lo = i < d ? 0 : i == d ? 0 : before[i];
    shape[i] = i < d ? res->shape[i] : i == d ? 1 : t->shape[i];
    off_from += (i == d ? from : lo) * res->strides[i];
    off_to += (i == d ? to : lo) * res->strides[i];
  }
  tl_tensor *a, *b;
  tl_status s = view_of(res, res->rank, shape, res->strides, off_from, &a);
  if (s) return s;
  s = view_of(res, res->rank, shape, res->strides, off_to, &b);
  if (!s) s = tl_tensor_copy_into(b, a);
  tl_tensor_release(a);
  tl_tensor_release(b);
  return s;
}

/* Fills res (the padded shape) from t: the constant, the interior, then
 * the mirrored slabs. */
static tl_status pad_fill(tl_tensor *res, tl_tensor *t, const int64_t *before, const int64_t *after, pad_mode mode,
                          double constant) {
  int r = t->rank;
  tl_status s = TL_OK;
  if (mode == PAD_CONSTANT && t->dtype != TL_STRING) {
    tl_tensor *c, *cb;
    if ((s = tl_tensor_scalar_like(res, t->dtype, constant, &c))) return s;
    s = tl_tensor_broadcast_view(c, r, res->shape, &cb);
    tl_tensor_release(c);
    if (s) return s;
    s = tl_tensor_copy_into(res, cb);
    tl_tensor_release(cb);
    if (s) return s;
  }
  if (t->size) {
    int64_t off = 0;
    for (int i = 0; i < r; i++) off += before[i] * res->strides[i];
    tl_tensor *w;
    if ((s = view_of(res, r, t->shape, res->strides, off, &w))) return s;
    s = tl_tensor_copy_into(w, t);
    tl_tensor_release(w);
    if (s) return s;
  }
  if (mode == PAD_CONSTANT) return TL_OK;
  int sym = mode == PAD_SYMMETRIC;
  for (int d = 0; d < r && !s; d++) {
    int64_t b = before[d], n = t->shape[d];
    for (int64_t i = 0; i < b && !s; i++) s = pad_copy_slab(res, t, before, d, b + (b - i) - sym, i);
    for (int64_t j = 0; j < after[d] && !s; j++) s = pad_copy_slab(res, t, before, d, b + n - 2 - j + sym, b + n + j);
  }
  return s;
}

static tl_status pad_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0], *res;
  int r = t->rank;
  pad_mode mode;
  int64_t before[TL_MAX_RANK], after[TL_MAX_RANK], shape[TL_MAX_RANK];
  tl_status s = pad_check(&attr[0], &in[1]->meta, r, &mode);
  if (!s) s = pad_amounts(in[1], r, t->shape, mode, before, after);
  if (s) return s;
  for (int i = 0; i < r; i++)
    if (__builtin_add_overflow(t->shape[i], before[i], &shape[i]) || __builtin_add_overflow(shape[i], after[i], &shape[i]))
      return tl_error(TL_RESOURCE_EXHAUSTED, "padded shape is too large");
  if ((s = tl_tensor_new(t->dtype, r, shape, &res))) return s;
  if (res->size && (s = pad_fill(res, t, before, after, mode, attr[1].f))) {
    tl_tensor_release(res);
    return s;
  }
  return tl_list_push(out, res);
}

/* ---- pad_grad ---------------------------------------------------------- */

/* dst += src over two same-shaped views (any strides), for the dtypes a
 * gradient can have. */
#define ADD_LOOP(T)                                                        \
  do {                                                                     \
    T *o = (T *)p[0];                                                      \
    const T *a = (const T *)p[1];                                          \
    for (int64_t i = 0; i < n; i++) o[i * st[0]] = (T)(o[i * st[0]] + a[i * st[1]]); \
  } while (0)

static void add_run(char **p, const int64_t *st, int64_t n, void *ctx) {
  switch (*(const tl_dtype *)ctx) {
  case TL_FLOAT32: ADD_LOOP(float); break;
  case TL_FLOAT64: ADD_LOOP(double); break;
  case TL_FLOAT16: {
    uint16_t *o = (uint16_t *)p[0];
    const uint16_t *a = (const uint16_t *)p[1];
    for (int64_t i = 0; i < n; i++) o[i * st[0]] = tl_float_to_half(tl_half_to_float(o[i * st[0]]) + tl_half_to_float(a[i * st[1]]));
    break;
  }
  case TL_BFLOAT16: {
    uint16_t *o = (uint16_t *)p[0];
    const uint16_t *a = (const uint16_t *)p[1];
    for (int64_t i = 0; i < n; i++) o[i * st[0]] = tl_float_to_bf16(tl_bf16_to_float(o[i * st[0]]) + tl_bf16_to_float(a[i * st[1]]));
    break;
  }
  case TL_COMPLEX64: {
    float *o = (float *)p[0];
    const float *a = (const float *)p[1];
    for (int64_t i = 0; i < n; i++) {
      o[2 * i * st[0]] += a[2 * i * st[1]];
      o[2 * i * st[0] + 1] += a[2 * i * st[1] + 1];
    }
    break;
  }
  default: break; /* the shape rule admits no other dtype */
  }
}
#undef ADD_LOOP

/* Slab k along d of t (any strides), as a view keeping the dimension. */
static tl_status slab_of(tl_tensor *t, int d, int64_t k, int64_t len, tl_tensor **out) {
  int64_t shape[TL_MAX_RANK];
  memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->rank);
  shape[d] = len;
  return view_of(t, t->rank, shape, t->strides, t->offset + (len ? k * t->strides[d] : 0), out);
}

/* next[.., to, ..] += cur[.., from, ..] along d. */
static tl_status add_slab(tl_tensor *next, tl_tensor *cur, int d, int64_t from, int64_t to) {
  tl_tensor *a, *b;
  tl_status s = slab_of(next, d, to, 1, &a);
  if (s) return s;
  if (!(s = slab_of(cur, d, from, 1, &b))) {
    tl_tensor *ops[2] = {a, b};
    tl_dtype dt = a->dtype;
    tl_iterate(2, ops, add_run, &dt);
    tl_tensor_release(b);
  }
  tl_tensor_release(a);
  return s;
}

/* res (the unpadded shape) = the adjoint of pad applied to dy: per padded
 * dimension, the interior plus each mirrored slab added onto the element it
 * copied. */
static tl_status pad_fold(tl_tensor *res, tl_tensor *dy, const int64_t *before, const int64_t *after, pad_mode mode) {
  int r = res->rank, sym = mode == PAD_SYMMETRIC;
  tl_tensor *cur = tl_tensor_retain(dy);
  tl_status s = TL_OK;
  for (int d = 0; d < r && !s; d++) {
    int64_t b = before[d], a = after[d], n = res->shape[d];
    if (!b && !a) continue;
    int64_t shape[TL_MAX_RANK];
    memcpy(shape, cur->shape, sizeof(int64_t) * (size_t)r);
    shape[d] = n;
    tl_tensor *next, *w;
    if ((s = tl_tensor_new(dy->dtype, r, shape, &next))) break;
    if (next->size && !(s = slab_of(cur, d, b, n, &w))) {
      s = tl_tensor_copy_into(next, w);
      tl_tensor_release(w);
    }
    for (int64_t i = 0; i < b && mode != PAD_CONSTANT && next->size && !s; i++) s = add_slab(next, cur, d, i, b - i - sym);
    for (int64_t j = 0; j < a && mode != PAD_CONSTANT && next->size && !s; j++)
      s = add_slab(next, cur, d, b + n + j, n - 2 - j + sym);
    tl_tensor_release(cur);
    cur = next;
  }
  if (!s && res->size) s = tl_tensor_copy_into(res, cur);
  tl_tensor_release(cur);
  return s;
}

/* attr: shape (the unpadded input's), mode. */
static tl_status pad_grad_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *dy = in[0];
  const tl_attr *sh = &attr[0];
  char ss[TL_SHAPE_BUF], ds[TL_SHAPE_BUF];
  tl_status s = tl_check_shape_attr(sh);
  if (s) return s;
  tl_shape_format(sh->n, sh->ints, ss, sizeof ss);
  if (dy->rank >= 0 && dy->rank != sh->n)
    return tl_error(TL_INVALID_ARGUMENT, "dy has shape %s but the unpadded shape %s has another rank", tl_meta_dims(dy, ds, sizeof ds), ss);
  tl_dtype_kind k = tl_dtypes[dy->dtype].kind;
  if (k != TL_KIND_FLOAT && k != TL_KIND_COMPLEX)
    return tl_error(TL_UNIMPLEMENTED, "dy must be a float or complex tensor, got %s", tl_dtypes[dy->dtype].name);
  pad_mode mode;
  s = pad_check(&attr[1], in[1], sh->n, &mode);
  return s ? s : tl_meta_emit(out, dy->dtype, sh->n, sh->ints);
}

static tl_status pad_grad_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *dy = in[0], *res = tl_out(out, 0);
  int r = res->rank;
  pad_mode mode;
  int64_t before[TL_MAX_RANK], after[TL_MAX_RANK];
  tl_status s = pad_check(&attr[1], &in[1]->meta, r, &mode);
  if (!s) s = pad_amounts(in[1], r, res->shape, mode, before, after);
  if (s) return s;
  for (int i = 0; i < r; i++)
    if (dy->shape[i] != res->shape[i] + before[i] + after[i]) {
      char a[TL_SHAPE_BUF], b[TL_SHAPE_BUF];
      return tl_error(TL_INVALID_ARGUMENT, "dy has shape %s but padding shape %s gives %" PRId64 " in dimension %d",
                      tl_shape_format(r, dy->shape, a, sizeof a), tl_shape_format(r, res->shape, b, sizeof b),
                      res->shape[i] + before[i] + after[i], i);
    }
  return pad_fold(res, dy, before, after, mode);
}

/* ---- reverse ----------------------------------------------------------- */

static tl_status reverse_plan(const tl_op_def *op, const tl_meta *m, const tl_attr *axes, bool *flip) {
  for (int i = 0; i < TL_MAX_RANK; i++) flip[i] = false;
  if (m->rank < 0) return TL_OK;
  for (int k = 0; k < axes->n; k++) {
    int a;
    tl_status s = tl_normalize_axis(op->name, axes->ints[k], m->rank, &a);
    if (s) return s;
    if (flip[a]) return tl_error(TL_INVALID_ARGUMENT, "axis %d is given more than once", a);
    flip[a] = true;
  }
  return TL_OK;
}

static tl_status reverse_infer(TL_INFER_ARGS) {
  (void)n_in;
  bool flip[TL_MAX_RANK];
  tl_status s = reverse_plan(op, in[0], &attr[0], flip);
  return s ? s : tl_meta_push_like(out, in[0], TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* A view with the flipped strides (negative) copied into the output, so
 * no tensor a user sees has a negative stride. */
static tl_status reverse_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  tl_tensor *t = in[0], *res = tl_out(out, 0), *v;
  bool flip[TL_MAX_RANK];
  tl_status s = reverse_plan(op, &t->meta, &attr[0], flip);
  if (s || res->size == 0) return s;
  int64_t strides[TL_MAX_RANK], off = t->offset;
  for (int i = 0; i < t->rank; i++) {
    strides[i] = flip[i] ? -t->strides[i] : t->strides[i];
    if (flip[i] && t->shape[i] > 0) off += (t->shape[i] - 1) * t->strides[i];
  }
  if ((s = view_of(t, t->rank, t->shape, strides, off, &v))) return s;
  s = tl_tensor_copy_into(res, v);
  tl_tensor_release(v);
  return s;
}

/* ---- gradients --------------------------------------------------------- */

/* Sum of g over the copies: g as [m0, d0, m1, d1, ...] (dims with multiple 1
 * left alone) summed over the m axes; one dimension at a time, as
 * [before, m, d * after], when that shape would have too many dimensions. */
static tl_status tile_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  const tl_tensor *x = in[0];
  const int64_t *m = attr[0].ints;
  int r = x->rank, n = 0, nsum = 0;
  int64_t shape[2 * TL_MAX_RANK], axes[TL_MAX_RANK];
  for (int i = 0; i < r; i++) {
    if (m[i] != 1) {
      axes[nsum++] = n;
      shape[n++] = m[i];
    }
    shape[n++] = x->shape[i];
  }
  if (nsum == 0) return tl_reshape_to(grad_out[0], r, x->shape, &grad_in[0]);
  tl_tensor *g = tl_tensor_retain(grad_out[0]), *t;
  tl_status s = TL_OK;
  if (n <= TL_MAX_RANK) {
    s = tl_reshape_to(g, n, shape, &t);
    tl_tensor_release(g);
    if (s) return s;
    s = tl_call("reduce_sum", 1, &t, 1, (tl_named_attr[]){TL_A_INTS("axis", nsum, axes)}, &grad_in[0]);
    tl_tensor_release(t);
    return s;
  }
  int64_t cur[TL_MAX_RANK];
  memcpy(cur, g->shape, sizeof(int64_t) * (size_t)r);
  for (int d = 0; d < r && !s; d++) {
    if (m[d] == 1) continue;
    int64_t three[3] = {1, m[d], x->shape[d]}, one = 1;
    for (int i = 0; i < d; i++) three[0] *= cur[i];
    for (int i = d + 1; i < r; i++) three[2] *= cur[i];
    cur[d] = x->shape[d];
    s = tl_reshape_to(g, 3, three, &t);
    tl_tensor_release(g);
    g = NULL;
    if (s) break;
    s = tl_call("reduce_sum", 1, &t, 1, (tl_named_attr[]){TL_A_INTS("axis", 1, &one)}, &g);
    tl_tensor_release(t);
    if (s) break;
    s = tl_reshape_to(g, r, cur, &t);
    tl_tensor_release(g);
    g = s ? NULL : t;
  }
  if (s) {
    tl_tensor_release(g);
    return s;
  }
  grad_in[0] = g;
  return TL_OK;
}

/* The paddings stay a tensor on their device: pad_grad reads them there. */
static tl_status pad_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  const tl_tensor *x = in[0];
  const char *mode = attr[0].s ? attr[0].s : "CONSTANT";
  return tl_call("pad_grad", 2, (tl_tensor *[]){grad_out[0], in[1]}, 2,
                 (tl_named_attr[]){TL_A_INTS("shape", x->rank, x->shape), TL_A_STRING("mode", mode)}, &grad_in[0]);
}

/* pad_grad is linear in dy; its adjoint is pad with zeros. */
static tl_status pad_grad_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  const char *mode = attr[1].s ? attr[1].s : "CONSTANT";
  return tl_call("pad", 2, (tl_tensor *[]){grad_out[0], in[1]}, 1, (tl_named_attr[]){TL_A_STRING("mode", mode)},
                 &grad_in[0]);
}

static tl_status reverse_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  return tl_call("reverse", 1, &grad_out[0], 1, (tl_named_attr[]){TL_A_INTS("axis", attr[0].n, attr[0].ints)},
                 &grad_in[0]);
}

tl_op_def tl_ops_pad[] = {
    {.name = "tile", .inputs = "input", .attrs = "multiples:ints", .infer = tile_infer, .kernel[TL_CPU] = tile_kernel,
     .grad = tile_grad, .doc = "Repeats the tensor multiples[i] times along each dimension i."},
    {.name = "pad", .inputs = "tensor, paddings", .attrs = "mode:string=CONSTANT, constant_values:float=0",
     .infer = pad_infer, .kernel[TL_CPU] = pad_kernel, .grad = pad_grad, .flags = TL_OP_VALUE_SHAPE,
     .doc = "Pads each dimension by paddings[i] = {before, after}; mode CONSTANT, REFLECT or SYMMETRIC."},
    {.name = "pad_grad", .inputs = "dy, paddings", .attrs = "shape:ints, mode:string=CONSTANT", .infer = pad_grad_infer,
     .kernel[TL_CPU] = pad_grad_kernel, .grad = pad_grad_grad, .api = "-",
     .doc = "The gradient of pad: dy's interior, with REFLECT/SYMMETRIC padding added back where it was copied from."},
    {.name = "reverse", .inputs = "tensor", .attrs = "axis:ints", .infer = reverse_infer, .kernel[TL_CPU] = reverse_kernel,
     .grad = reverse_grad, .doc = "Reverses the order of elements along the given axes."},
    {0},
};
