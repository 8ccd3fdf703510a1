/* ops/device.c — the explicit copy between devices.
 *
 * Ops never move data between devices on their own (mixing devices is an
 * error that points here); copy_to_device is the one op whose input and
 * output live on different devices. Its gradient is the copy back.
 */
#include "ops/ops.h"

#include <string.h>

static tl_status target_device(const tl_attr *attr, tl_device *out) {
  tl_device d = tl_device_from_name(attr[0].s);
  if (d == TL_DEVICE_COUNT)
    return tl_error(TL_INVALID_ARGUMENT, "unknown or unavailable device '%s' (CPU:0, TEST:0)",
                    attr[0].s ? attr[0].s : "");
  *out = d;
  return TL_OK;
}

static tl_status copy_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  tl_device d = TL_CPU;
  tl_status s = target_device(attr, &d);
  if (s) return s;
  if (in[0]->dtype == TL_STRING && d != TL_CPU)
    return tl_error(TL_UNIMPLEMENTED, "string tensors live on the CPU only");
  return tl_meta_push_like(out, in[0], TL_DTYPE_COUNT) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

/* Runs outside any device's kernel context: the copy goes through the
 * devices' own upload/download. */
static tl_status copy_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_device d = TL_CPU;
  tl_status s = target_device(attr, &d);
  if (s) return s;
  tl_tensor *t;
  if (in[0]->storage->device == d) s = tl_tensor_view(in[0]->storage, in[0]->dtype, in[0]->rank,
                                                      in[0]->shape, in[0]->strides, in[0]->offset, &t);
  else s = tl_tensor_copy_to(in[0], d, &t);
  if (s) return s;
  return tl_list_push(out, t);
}

static tl_status copy_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_in, (void)attr, (void)out, (void)n_out;
  if (!grad_out[0]) return TL_OK;
  const char *back = tl_device_name(in[0]->storage->device);
  return tl_call("copy_to_device", 1, &grad_out[0], 1, (tl_named_attr[]){TL_A_STRING("device", back)},
                 &grad_in[0]);
}

tl_op_def tl_ops_device[] = {
    {.name = "copy_to_device", .inputs = "x", .attrs = "device:string", .infer = copy_infer,
     .kernel[TL_CPU] = copy_kernel, .kernel[TL_TEST] = copy_kernel, .grad = copy_grad,
     .flags = TL_OP_KERNEL_ALLOCATES | TL_OP_ANY_DEVICE, .api = "tf.copy_to_device tf.experimental.copy_to_device",
     .doc = "A copy of x on device (\"CPU:0\", \"TEST:0\"); the only way data moves between devices."},
    {0},
};
