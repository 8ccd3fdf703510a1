/* format.c — printing tensors (to be filled). */
#include "tl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
tl_status tl_tensor_format(const tl_tensor *t, const tl_print_opts *opts, char **out) {
  (void)opts;
  char d[200];
  tl_tensor_describe(t, d, sizeof d);
  *out = malloc(strlen(d) + 16);
  sprintf(*out, "tf.Tensor(%s)", d);
  return TL_OK;
}
