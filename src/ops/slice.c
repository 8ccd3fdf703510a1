/* ops/slice.c — slicing: slice, strided_slice (the backbone of Lua's t[...]
 * syntax), tensor_strided_slice_update (v[...] = x) and strided_slice_grad.
 *
 * Slice positions are attributes, not data, so every shape here is known
 * from the shape rule. Only strided_slice counts negative positions from
 * the end, and an index outside the dimension is an InvalidArgument error.
 * slice and strided_slice with positive steps return views sharing the
 * input's storage (TL_OP_KERNEL_ALLOCATES); negative steps produce a copy,
 * so no view a user sees has a negative stride. The update and the
 * gradient op fill outputs the dispatcher allocated.
 *
 * With a symbolic input, a dimension the slice ranges over is unknown when
 * the input's is (the clamping needs it), an index (shrunk axis) is
 * checked only against a known dimension, and an unknown rank gives an
 * unknown rank (an ellipsis, explicit or implicit, covers it).
 *
 * Gradients: the adjoint of a slice is strided_slice_grad (zeros with dy
 * in the slice), whose own gradient is the strided slice; slice's gradient
 * is the same op, with slice's begin/size as a strided slice.
 */
#include "ops/movement.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- strided_slice's arguments ----------------------------------------- */

/* The result of interpreting strided_slice's arguments against a shape:
 * per input dimension a start, a count (-1: unknown) and a step, and the
 * output's dimensions (each an input dimension, or -1 for a new axis). */
typedef struct slice_spec {
  int64_t begin[TL_MAX_RANK], len[TL_MAX_RANK], step[TL_MAX_RANK];
  int out_rank;
  int out_src[TL_MAX_RANK];
} slice_spec;

/* attr: begin, end, strides?, begin_mask, end_mask, ellipsis_mask,
 * new_axis_mask, shrink_axis_mask — TensorFlow's semantics. The checks of
 * the arguments alone (any rank). */
static tl_status slice_args_check(const tl_attr *attr) {
  const tl_attr *b = &attr[0], *e = &attr[1], *st = &attr[2];
  int n = b->n;
  if (e->n != n || (st->present && st->n != n))
    return tl_error(TL_INVALID_ARGUMENT, "begin, end and strides must have the same length (got %d, %d and %d)", b->n, e->n,
                    st->present ? st->n : n);
  if (n > 30) return tl_error(TL_INVALID_ARGUMENT, "too many slice entries (%d)", n);
  uint64_t ellm = (uint64_t)attr[5].i, nam = (uint64_t)attr[6].i, shm = (uint64_t)attr[7].i;
  if (ellm & (ellm - 1)) return tl_error(TL_INVALID_ARGUMENT, "only one ellipsis is allowed in a slice");
  for (int i = 0; i < n; i++) {
    bool special = ((ellm | nam) >> i) & 1;
    int64_t stride = st->present ? st->ints[i] : 1;
    if (special) continue;
    if (stride == 0) return tl_error(TL_INVALID_ARGUMENT, "strides[%d] is 0 (a step must be non-zero)", i);
    if (((shm >> i) & 1) && stride < 0)
      return tl_error(TL_INVALID_ARGUMENT, "strides[%d] must be positive for an integer index", i);
  }
  return TL_OK;
}

/* The spec against a shape of known rank r whose dimensions may be -1. */
static tl_status strided_slice_spec(int r, const int64_t *shape, const tl_attr *attr, slice_spec *sp) {
  tl_status s = slice_args_check(attr);
  if (s) return s;
  const tl_attr *b = &attr[0], *e = &attr[1], *st = &attr[2];
  int n = b->n;
  uint64_t bm = (uint64_t)attr[3].i, em = (uint64_t)attr[4].i, ellm = (uint64_t)attr[5].i, nam = (uint64_t)attr[6].i,
           shm = (uint64_t)attr[7].i;
  int sparse_n = n;
  if (!ellm) ellm = 1ull << sparse_n++; /* an implicit trailing ellipsis */
  int ell_at = __builtin_ctzll(ellm);
  int new_after = 0, real = 0;
  for (int i = 0; i < sparse_n; i++) {
    bool is_ell = (ellm >> i) & 1, is_new = !is_ell && ((nam >> i) & 1);
    if (is_new && i > ell_at) new_after++;
    if (!is_ell && !is_new) real++;
  }
  if (real > r) return tl_error(TL_INVALID_ARGUMENT, "too many indices for a tensor of rank %d (%d given)", r, real);
  sp->out_rank = 0;
  int full = 0;
  for (int i = 0; i < sparse_n; i++) {
    if ((ellm >> i) & 1) {
      int next = r - (sparse_n - i) + 1 + new_after;
      if (next > r) next = r;
      for (; full < next; full++) {
        sp->begin[full] = 0;
        sp->len[full] = shape[full];
        sp->step[full] = 1;
        if (sp->out_rank == TL_MAX_RANK) goto too_many;
        sp->out_src[sp->out_rank++] = full;
      }
      continue;
    }
    if ((nam >> i) & 1) {
      if (sp->out_rank == TL_MAX_RANK) goto too_many;
      sp->out_src[sp->out_rank++] = -1;
      continue;
    }
    int d = full++;
    int64_t dim = shape[d], stride = st->present ? st->ints[i] : 1;
    int64_t bi = b->ints[i], ei = e->ints[i];
    if ((shm >> i) & 1) {
      int64_t x = bi < 0 && dim >= 0 ? bi + dim : bi;
      if (dim >= 0 && (x < 0 || x >= dim))
        return tl_error(TL_INVALID_ARGUMENT,
                        "index %" PRId64 " is out of bounds for dimension %d with size %" PRId64 " (valid range [%" PRId64 ", %" PRId64 "))",
                        bi, d, dim, -dim, dim);
      sp->begin[d] = x;
      sp->len[d] = 1;
      sp->step[d] = 1;
      continue;
    }
    sp->step[d] = stride;
    if (sp->out_rank == TL_MAX_RANK) goto too_many;
    sp->out_src[sp->out_rank++] = d;
    if (dim < 0) { /* the clamping below needs the dimension */
      sp->begin[d] = -1;
      sp->len[d] = -1;
      continue;
    }
    /* Clamp as Python does: [0, dim] for positive steps, [-1, dim-1] for negative. */
    int64_t lo = stride > 0 ? 0 : -1, hi = stride > 0 ? dim : dim - 1;
    if ((bm >> i) & 1) bi = stride > 0 ? lo : hi;
    else {
      bi = bi < 0 ? bi + dim : bi;
      bi = bi < lo ? lo : bi > hi ? hi : bi;
    }
    if ((em >> i) & 1) ei = stride > 0 ? hi : lo;
    else {
      ei = ei < 0 ? ei + dim : ei;
      ei = ei < lo ? lo : ei > hi ? hi : ei;
    }
    int64_t span = ei - bi, len;
    if (span == 0 || (span < 0) != (stride < 0)) len = 0;
    else len = span / stride + (span % stride != 0);
    sp->begin[d] = len ? bi : 0;
    sp->len[d] = len;
  }
  return TL_OK;
too_many:
  return tl_error(TL_INVALID_ARGUMENT, "the result would have more than %d dimensions", TL_MAX_RANK);
}

/* The spec's output shape (its rank is sp->out_rank). */
static void spec_shape(const slice_spec *sp, int64_t *shape) {
  for (int i = 0; i < sp->out_rank; i++) shape[i] = sp->out_src[i] < 0 ? 1 : sp->len[sp->out_src[i]];
}

/* The slice of a meta: its output rank (-1 unknown) and shape. */
static tl_status slice_meta(const tl_meta *m, const tl_attr *attr, slice_spec *sp, int *rank, int64_t *shape) {
  tl_status s;
  if (m->rank < 0) {
    *rank = -1;
    return slice_args_check(attr);
  }
  if ((s = strided_slice_spec(m->rank, m->shape, attr, sp))) return s;
  *rank = sp->out_rank;
  spec_shape(sp, shape);
  return TL_OK;
}

/* A view of t (any strides) selecting sp; strides may be negative. */
static tl_status spec_view(const tl_tensor *t, const slice_spec *sp, tl_tensor **out) {
  int64_t shape[TL_MAX_RANK], strides[TL_MAX_RANK], off = t->offset;
  bool empty = false;
  for (int d = 0; d < t->rank; d++) {
    off += sp->begin[d] * t->strides[d];
    if (sp->len[d] == 0) empty = true;
  }
  for (int i = 0; i < sp->out_rank; i++) {
    int d = sp->out_src[i];
    shape[i] = d < 0 ? 1 : sp->len[d];
    strides[i] = d < 0 ? 0 : t->strides[d] * sp->step[d];
  }
  return tl_tensor_view(t->storage, t->dtype, sp->out_rank, shape, strides, empty ? t->offset : off, out);
}

/* ---- strided_slice ----------------------------------------------------- */

static tl_status strided_slice_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  slice_spec sp;
  int rank;
  int64_t shape[TL_MAX_RANK];
  tl_status s = slice_meta(in[0], attr, &sp, &rank, shape);
  return s ? s : tl_meta_emit(out, in[0]->dtype, rank, shape);
}

/* A view when every stride is non-negative, else a contiguous copy. */
static tl_status strided_slice_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  slice_spec sp;
  tl_tensor *v;
  tl_status s = strided_slice_spec(in[0]->rank, in[0]->shape, attr, &sp);
  if (!s) s = spec_view(in[0], &sp, &v);
  if (s) return s;
  for (int i = 0; i < v->rank; i++)
    if (v->strides[i] < 0) {
      tl_tensor *c;
      s = tl_tensor_contiguous(v, &c);
      tl_tensor_release(v);
      if (s) return s;
      v = c;
      break;
    }
  return tl_list_push(out, v);
}

/* ---- slice ------------------------------------------------------------- */

/* The block's shape (-1 where the input's dimension is unknown and size
 * says "to the end"). */
static tl_status slice_plan(const tl_meta *m, const tl_attr *attr, int *rank, int64_t *shape) {
  const tl_attr *b = &attr[0], *z = &attr[1];
  int r = m->rank >= 0 ? m->rank : b->n;
  if (b->n != r || z->n != r) {
    if (m->rank >= 0)
      return tl_error(TL_INVALID_ARGUMENT, "begin and size must have one entry per dimension (rank %d), got %d and %d", r, b->n,
                      z->n);
    return tl_error(TL_INVALID_ARGUMENT, "begin and size must have the same length, got %d and %d", b->n, z->n);
  }
  if (r > TL_MAX_RANK) return tl_error(TL_INVALID_ARGUMENT, "begin has more than %d entries", TL_MAX_RANK);
  for (int d = 0; d < r; d++) {
    int64_t dim = m->rank >= 0 ? m->shape[d] : -1, bi = b->ints[d], zi = z->ints[d];
    if (dim < 0) { /* only the signs can be checked */
      if (bi < 0) return tl_error(TL_INVALID_ARGUMENT, "begin[%d] is %" PRId64 ", must be non-negative", d, bi);
      if (zi < -1) return tl_error(TL_INVALID_ARGUMENT, "size[%d] is %" PRId64 ", must be -1 or non-negative", d, zi);
      shape[d] = zi;
      continue;
    }
    if (bi < 0 || bi > dim)
      return tl_error(TL_INVALID_ARGUMENT, "begin[%d] is %" PRId64 ", outside [0, %" PRId64 "]", d, bi, dim);
    if (zi == -1) zi = dim - bi;
    if (zi < 0 || bi + zi > dim)
      return tl_error(TL_INVALID_ARGUMENT, "size[%d] is %" PRId64 ", outside [0, %" PRId64 "] for begin[%d] = %" PRId64, d,
                      z->ints[d], dim - bi, d, bi);
    shape[d] = zi;
  }
  *rank = r;
  return TL_OK;
}

static tl_status slice_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  int r;
  int64_t shape[TL_MAX_RANK];
  tl_status s = slice_plan(in[0], attr, &r, shape);
  return s ? s : tl_meta_emit(out, in[0]->dtype, r, shape);
}

static tl_status slice_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0];
  int r;
  int64_t shape[TL_MAX_RANK], off = t->offset;
  tl_status s = slice_plan(&t->meta, attr, &r, shape);
  if (s) return s;
  for (int d = 0; d < r; d++) off += attr[0].ints[d] * t->strides[d];
  return tl_push_view(t, r, shape, t->strides, tl_shape_numel(r, shape) ? off : t->offset, out);
}

/* ---- tensor_strided_slice_update / strided_slice_grad ------------------- */

/* Whether `value` broadcasts to `target` (unknown dims agree with anything). */
static bool broadcasts_to(const tl_meta *value, int rank, const int64_t *target) {
  if (value->rank < 0 || rank < 0) return true;
  if (value->rank > rank) return false;
  for (int i = 0; i < value->rank; i++) {
    int64_t v = value->shape[value->rank - 1 - i], t = target[rank - 1 - i];
    if (v >= 0 && t >= 0 && v != t && v != 1) return false;
  }
  return true;
}

static tl_status strided_slice_update_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *t = in[0], *val = in[1];
  if (val->dtype != t->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "value has dtype %s but the tensor is %s (use tf.cast)", tl_dtypes[val->dtype].name,
                    tl_dtypes[t->dtype].name);
  slice_spec sp;
  int rank;
  int64_t shape[TL_MAX_RANK];
  tl_status s = slice_meta(t, attr, &sp, &rank, shape);
  if (s) return s;
  if (!broadcasts_to(val, rank, shape)) {
    char a[TL_SHAPE_BUF], c[TL_SHAPE_BUF];
    tl_meta sm = {.dtype = t->dtype, .rank = rank};
    memcpy(sm.shape, shape, sizeof(int64_t) * (size_t)rank);
    return tl_error(TL_INVALID_ARGUMENT, "value of shape %s cannot be broadcast to the slice shape %s",
                    tl_meta_dims(val, a, sizeof a), tl_meta_dims(&sm, c, sizeof c));
  }
  return tl_meta_push_like(out, t, TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* out = copy of input with the slice replaced by value (broadcast). */
static tl_status strided_slice_update_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *t = in[0], *val = in[1], *res = tl_out(out, 0), *w = NULL, *bv = NULL;
  slice_spec sp;
  tl_status s = strided_slice_spec(t->rank, t->shape, attr, &sp);
  if (!s && res->size) s = tl_tensor_copy_into(res, t);
  if (!s) s = spec_view(res, &sp, &w);
  if (!s) s = tl_tensor_broadcast_view(val, w->rank, w->shape, &bv);
  if (!s && w->size) s = tl_tensor_copy_into(w, bv);
  tl_tensor_release(w);
  tl_tensor_release(bv);
  return s;
}

/* strided_slice's gradient: zeros of the input's shape (attr[0]) with dy in
 * the slice (strided_slice's attributes follow). */
static tl_status strided_slice_grad_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  const tl_meta *dy = in[0];
  const tl_attr *sh = &attr[0];
  slice_spec sp;
  tl_status s = tl_check_shape_attr(sh);
  if (!s) s = strided_slice_spec(sh->n, sh->ints, attr + 1, &sp);
  if (s) return s;
  tl_meta want = {.dtype = dy->dtype, .rank = sp.out_rank};
  spec_shape(&sp, want.shape);
  if (!tl_meta_compatible(dy, &want)) {
    char a[TL_SHAPE_BUF], b[TL_SHAPE_BUF], c[TL_SHAPE_BUF];
    return tl_error(TL_INVALID_ARGUMENT, "dy has shape %s but the slice of shape %s has shape %s", tl_meta_dims(dy, a, sizeof a),
                    tl_shape_format(sh->n, sh->ints, b, sizeof b), tl_meta_dims(&want, c, sizeof c));
  }
  return tl_meta_emit(out, dy->dtype, sh->n, sh->ints);
}

static tl_status strided_slice_grad_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *dy = in[0], *res = tl_out(out, 0), *w = NULL;
  slice_spec sp;
  tl_status s = strided_slice_spec(res->rank, res->shape, attr + 1, &sp);
  if (s) return s;
  memset(tl_tensor_data(res), 0, (size_t)res->size * tl_dtypes[res->dtype].size);
  s = spec_view(res, &sp, &w);
  if (!s && w->size) s = tl_tensor_copy_into(w, dy);
  tl_tensor_release(w);
  return s;
}

/* ---- gradients --------------------------------------------------------- */
/* Written with ordinary ops (tl_call), so an outer tape records them and
 * gradients of gradients work. */

static const char *const slice_attr_names[8] = {"begin", "end", "strides", "begin_mask", "end_mask",
                                                "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"};

/* strided_slice's attributes (attr[0..7]) as named ones; returns the count. */
static int slice_named(const tl_attr *attr, tl_named_attr *named) {
  int n = 0;
  for (int i = 0; i < 8; i++)
    if (attr[i].present) named[n++] = (tl_named_attr){slice_attr_names[i], attr[i]};
  return n;
}

static tl_status strided_slice_of(tl_tensor *g, const tl_attr *slice_attr, tl_tensor **out) {
  tl_named_attr named[8];
  int n = slice_named(slice_attr, named);
  return tl_call("strided_slice", 1, &g, n, named, out);
}

/* The block [begin, begin + size) as a strided slice of the input's shape. */
static tl_status slice_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  const tl_tensor *x = in[0];
  int r = x->rank;
  int64_t end[TL_MAX_RANK];
  for (int d = 0; d < r; d++) end[d] = attr[0].ints[d] + out[0]->shape[d];
  return tl_call("strided_slice_grad", 1, &grad_out[0], 3,
                 (tl_named_attr[]){TL_A_INTS("shape", r, x->shape), TL_A_INTS("begin", r, attr[0].ints), TL_A_INTS("end", r, end)},
                 &grad_in[0]);
}

static tl_status strided_slice_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_named_attr named[9];
  named[0] = TL_A_INTS("shape", in[0]->rank, in[0]->shape);
  int n = 1 + slice_named(attr, named + 1);
  return tl_call("strided_slice_grad", 1, &grad_out[0], n, named, &grad_in[0]);
}

static tl_status strided_slice_grad_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  return strided_slice_of(grad_out[0], attr + 1, &grad_in[0]);
}

/* input: g with the slice zeroed; value: the slice of g (the tape sums it
 * down to value's shape where value was broadcast). */
static tl_status strided_slice_update_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  tl_status s = TL_OK;
  if (tl_grad_wants(0)) {
    tl_named_attr named[8];
    int n = slice_named(attr, named);
    tl_tensor *zero;
    if ((s = tl_tensor_scalar_like(grad_out[0], grad_out[0]->dtype, 0, &zero))) return s;
    s = tl_call("tensor_strided_slice_update", 2, (tl_tensor *[]){grad_out[0], zero}, n, named, &grad_in[0]);
    tl_tensor_release(zero);
    if (s) return s;
  }
  if (tl_grad_wants(1)) s = strided_slice_of(grad_out[0], attr, &grad_in[1]);
  return s;
}

#define SLICE_MASKS \
  "begin:ints, end:ints, strides:ints?, begin_mask:int=0, end_mask:int=0, ellipsis_mask:int=0, new_axis_mask:int=0, shrink_axis_mask:int=0"

tl_op_def tl_ops_slice[] = {
    {.name = "slice", .inputs = "input", .attrs = "begin:ints, size:ints", .infer = slice_infer, .kernel[TL_CPU] = slice_kernel,
     .grad = slice_grad, .flags = TL_OP_KERNEL_ALLOCATES,
     .doc = "The block starting at begin with the given size (-1: to the end)."},
    {.name = "strided_slice", .inputs = "input", .attrs = SLICE_MASKS, .infer = strided_slice_infer,
     .kernel[TL_CPU] = strided_slice_kernel, .grad = strided_slice_grad, .flags = TL_OP_KERNEL_ALLOCATES,
     .doc = "Python-style slicing begin:end:stride per dimension with TensorFlow's masks (what t[...] uses)."},
    {.name = "tensor_strided_slice_update", .inputs = "input, value", .attrs = SLICE_MASKS, .infer = strided_slice_update_infer,
     .kernel[TL_CPU] = strided_slice_update_kernel, .grad = strided_slice_update_grad, .api = "-",
     .doc = "A copy of input with the strided slice replaced by value (broadcast); what v[...] = x uses."},
    {.name = "strided_slice_grad", .inputs = "dy", .attrs = "shape:ints, " SLICE_MASKS, .infer = strided_slice_grad_infer,
     .kernel[TL_CPU] = strided_slice_grad_kernel, .grad = strided_slice_grad_grad, .api = "-",
     .doc = "Zeros of shape with dy in the strided slice: strided_slice's gradient."},
    {0},
};
