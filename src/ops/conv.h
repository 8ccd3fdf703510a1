/* ops/conv.h — the window geometry that conv.c and pool.c share: reading
 * strides / dilations / ksize attributes given as TensorFlow does (one int,
 * [h, w] or [1, h, w, 1] for NHWC), the padding modes (SAME, VALID, and
 * EXPLICIT with its 8 pads) and the output size of one spatial dimension.
 * Internal to src/ops/.
 */
#ifndef TL_OPS_CONV_H
#define TL_OPS_CONV_H
#include "ops/ops.h"

enum { TL_PAD_SAME, TL_PAD_VALID, TL_PAD_EXPLICIT };

/* One spatial dimension of a window op. */
typedef struct tl_conv_dim {
  int64_t in, k, s, d; /* input size, window (filter) size, stride, dilation */
  int64_t p0, p1;      /* padding before / after (SAME: computed) */
  int64_t out;         /* -1 when in or k is unknown */
} tl_conv_dim;

/* Reads a per-dimension attribute (strides, dilations, ksize) of 1, 2 or 4
 * entries into h, w; what names it in errors. A missing attribute is an
 * error unless def > 0, which is then used. */
tl_status tl_conv_hw(const tl_attr *a, const char *what, int64_t def, int64_t *h, int64_t *w);
/* padding: "SAME", "VALID" (any case) or "EXPLICIT" with explicit (8 pads,
 * the batch and channel ones 0); pads gets top, bottom, left, right. */
tl_status tl_conv_padding(const tl_attr *padding, const tl_attr *explicit_pads, int *mode, int64_t pads[4]);
/* Checks data_format (NHWC only on the CPU; NCHW is Unimplemented). */
tl_status tl_conv_format(const tl_attr *a);
/* Fills d->out, d->p0, d->p1 from in, k, s, d and the mode (p0/p1 preset
 * for EXPLICIT); a window larger than the padded input is an error naming
 * `axis` ("height"/"width") and `what` ("filter"/"window"). */
tl_status tl_conv_out_dim(tl_conv_dim *d, int mode, const char *axis, const char *what);
#endif
