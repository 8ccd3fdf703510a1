/* ops/sparse_segment.c — sparse_segment_reduce, behind tf.sparse.segment_sum,
 * segment_mean and segment_sqrt_n: output[s] = reduce over i with
 * segment_ids[i] == s of data[indices[i]] (rows of data: its first
 * dimension), segment_ids sorted, as in TensorFlow.
 *
 * The op's second output (hidden) is each position's weight (1, 1/count
 * or 1/sqrt(count) of its segment), so the gradient is ordinary ops:
 * gather_grad(gather(dy, segment_ids) * weight, indices) back onto data's
 * rows. An empty segment gives 0 (mean and sqrt_n included). float32 and
 * float64 data.
 */
#include "ops/sparse.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

typedef enum { SEG_SUM, SEG_MEAN, SEG_SQRT_N, SEG_COUNT } seg_mode;
static const char *const seg_names[SEG_COUNT] = {"sum", "mean", "sqrt_n"}; // ORDER SEG

static tl_status seg_check(const tl_meta *const *in, const tl_attr *attr, seg_mode *mode) {
  char b[TL_SHAPE_BUF];
  *mode = SEG_COUNT;
  for (int i = 0; i < SEG_COUNT; i++)
    if (attr[0].s && strcmp(attr[0].s, seg_names[i]) == 0) *mode = (seg_mode)i;
  if (*mode == SEG_COUNT)
    return tl_error(TL_INVALID_ARGUMENT, "mode must be sum, mean or sqrt_n, got '%s'", attr[0].s ? attr[0].s : "");
  if (in[0]->dtype != TL_FLOAT32 && in[0]->dtype != TL_FLOAT64)
    return tl_error(TL_UNIMPLEMENTED, "data of dtype %s is not supported (float32, float64)", tl_dtypes[in[0]->dtype].name);
  if (in[0]->rank == 0) return tl_error(TL_INVALID_ARGUMENT, "data must have rank at least 1");
  for (int k = 1; k <= 2; k++) {
    const char *what = k == 1 ? "indices" : "segment_ids";
    if (in[k]->dtype != TL_INT32 && in[k]->dtype != TL_INT64)
      return tl_error(TL_INVALID_ARGUMENT, "%s must be int32 or int64, got %s", what, tl_dtypes[in[k]->dtype].name);
    if (in[k]->rank >= 0 && in[k]->rank != 1)
      return tl_error(TL_INVALID_ARGUMENT, "%s must be a vector, got shape %s", what, tl_meta_dims(in[k], b, sizeof b));
  }
  if (in[1]->rank == 1 && in[2]->rank == 1 && in[1]->shape[0] >= 0 && in[2]->shape[0] >= 0 &&
      in[1]->shape[0] != in[2]->shape[0])
    return tl_error(TL_INVALID_ARGUMENT, "indices have %" PRId64 " elements but segment_ids have %" PRId64,
                    in[1]->shape[0], in[2]->shape[0]);
  return TL_OK;
}

static tl_status seg_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  seg_mode mode;
  tl_status s = seg_check(in, attr, &mode);
  if (s) return s;
  int64_t shape[TL_MAX_RANK];
  int r = in[0]->rank;
  shape[0] = attr[1].i >= 0 ? attr[1].i : -1;
  for (int d = 1; d < r; d++) shape[d] = in[0]->shape[d];
  if ((s = tl_meta_emit(out, in[0]->dtype, r, shape))) return s;
  return tl_meta_emit(out, in[0]->dtype, 1, &in[1]->shape[0]);
}

static int64_t load_i(const tl_tensor *t, int64_t i) {
  return t->dtype == TL_INT32 ? ((const int32_t *)tl_tensor_data(t))[i] : ((const int64_t *)tl_tensor_data(t))[i];
}

static tl_status seg_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  seg_mode mode;
  tl_tensor *data = NULL, *ix = NULL, *sg = NULL, *y = NULL, *w = NULL;
  tl_status s = tl_sp_recheck(op, in, n_in, attr);
  if (s) return s;
  if ((s = seg_check((const tl_meta *const[]){&in[0]->meta, &in[1]->meta, &in[2]->meta}, attr, &mode))) return s;
  if ((s = tl_tensor_contiguous(in[0], &data)) || (s = tl_tensor_contiguous(in[1], &ix)) ||
      (s = tl_tensor_contiguous(in[2], &sg)))
    goto done;
  int64_t n = ix->shape[0], rows = data->shape[0], inner = rows ? data->size / rows : 0, nseg = attr[1].i;
  for (int64_t i = 0; i < n; i++) {
    int64_t id = load_i(sg, i), r = load_i(ix, i);
    if (r < 0 || r >= rows) {
      s = tl_error(TL_INVALID_ARGUMENT, "indices[%" PRId64 "] = %" PRId64 " is not in range [0, %" PRId64 ")", i, r,
                   rows);
      goto done;
    }
    if (id < 0 || (nseg >= 0 && id >= nseg)) {
      s = tl_error(TL_INVALID_ARGUMENT, "segment_ids[%" PRId64 "] = %" PRId64 " is out of range [0, %" PRId64 ")", i, id,
                   nseg >= 0 ? nseg : INT64_MAX);
      goto done;
    }
    if (i && id < load_i(sg, i - 1)) {
      s = tl_error(TL_INVALID_ARGUMENT, "segment ids are not increasing: segment_ids[%" PRId64 "] = %" PRId64
                   " after %" PRId64, i, id, load_i(sg, i - 1));
      goto done;
    }
  }
  int64_t S = nseg >= 0 ? nseg : (n ? load_i(sg, n - 1) + 1 : 0);
  int64_t shape[TL_MAX_RANK];
  memcpy(shape, data->shape, sizeof shape);
  shape[0] = S;
  if ((s = tl_tensor_new(data->dtype, data->rank, shape, &y)) || (s = tl_tensor_new(data->dtype, 1, &n, &w))) goto done;
  bool f32 = data->dtype == TL_FLOAT32;
  size_t es = f32 ? sizeof(float) : sizeof(double);
  memset(tl_tensor_data(y), 0, (size_t)y->size * es);
  for (int64_t i = 0; i < n;) {
    int64_t id = load_i(sg, i), j = i;
    while (j < n && load_i(sg, j) == id) j++;
    double wt = mode == SEG_SUM ? 1 : mode == SEG_MEAN ? 1.0 / (double)(j - i) : 1.0 / sqrt((double)(j - i));
    for (int64_t e = i; e < j; e++) {
      int64_t r = load_i(ix, e);
      if (f32) {
        float *o = (float *)tl_tensor_data(y) + id * inner;
        const float *x = (const float *)tl_tensor_data(data) + r * inner;
        for (int64_t k = 0; k < inner; k++) o[k] += x[k];
        ((float *)tl_tensor_data(w))[e] = (float)wt;
      } else {
        double *o = (double *)tl_tensor_data(y) + id * inner;
        const double *x = (const double *)tl_tensor_data(data) + r * inner;
        for (int64_t k = 0; k < inner; k++) o[k] += x[k];
        ((double *)tl_tensor_data(w))[e] = wt;
      }
    }
    if (mode != SEG_SUM) {
      if (f32) {
        float *o = (float *)tl_tensor_data(y) + id * inner;
        for (int64_t k = 0; k < inner; k++) o[k] = (float)(o[k] * wt);
      } else {
        double *o = (double *)tl_tensor_data(y) + id * inner;
        for (int64_t k = 0; k < inner; k++) o[k] *= wt;
      }
    }
    i = j;
  }
  if (!(s = tl_list_push(out, y))) {
    y = NULL;
    s = tl_list_push(out, w);
    w = NULL;
  }
done:
  tl_tensor_release(data), tl_tensor_release(ix), tl_tensor_release(sg), tl_tensor_release(y), tl_tensor_release(w);
  return s;
}

/* data's rows get dy's segment rows, weighted, added where indices repeat. */
static tl_status seg_grad(TL_GRAD_ARGS) {
  TL_UNUSED_GRAD_ARGS;
  if (!grad_out[0] || !tl_grad_wants(0)) return TL_OK;
  const tl_tensor *x = in[0];
  int64_t wshape[TL_MAX_RANK];
  wshape[0] = out[1]->shape[0];
  for (int d = 1; d < x->rank; d++) wshape[d] = 1;
  tl_tensor *g = NULL, *wr = NULL, *gw = NULL;
  tl_status s = tl_call("gather", 2, (tl_tensor *[]){grad_out[0], in[2]}, 0, NULL, &g);
  if (!s) s = tl_reshape_to(out[1], x->rank, wshape, &wr);
  if (!s) s = tl_call("multiply", 2, (tl_tensor *[]){g, wr}, 0, NULL, &gw);
  if (!s)
    s = tl_call("gather_grad", 2, (tl_tensor *[]){gw, in[1]}, 2,
                (tl_named_attr[]){TL_A_INTS("shape", x->rank, x->shape), TL_A_INT("axis", 0)}, &grad_in[0]);
  tl_tensor_release(g), tl_tensor_release(wr), tl_tensor_release(gw);
  return s;
}

tl_op_def tl_ops_sparse_segment[] = {
    {.name = "sparse_segment_reduce", .inputs = "data, indices, segment_ids",
     .attrs = "mode:string=sum, num_segments:int=-1", .infer = seg_infer, .kernel[TL_CPU] = seg_kernel,
     .grad = seg_grad, .flags = TL_OP_VALUE_SHAPE | TL_OP_HIDDEN_OUTPUTS, .api = "-",
     .doc = "Sum, mean or sqrt_n of data[indices] per (sorted) segment id; 0 for empty segments."},
    {0},
};
