/* test_numerics.c — numeric checking from C: tl_set_check_numerics makes
 * the dispatcher check every depth-0 op's floating outputs for NaN/Inf by
 * running the check_numerics op on the output's device (nested, so the
 * tape would not record it), and tl_check_numerics works on test-device
 * tensors, whose memory the host cannot read outside kernels. */
#include "tl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static tl_tensor *on_test(int n, const float *v) {
  int64_t shape[1] = {n};
  tl_tensor *t, *d;
  if (tl_tensor_new(TL_FLOAT32, 1, shape, &t)) abort();
  memcpy(tl_tensor_data(t), v, sizeof(float) * (size_t)n);
  if (tl_tensor_copy_to(t, TL_TEST, &d)) abort();
  tl_tensor_release(t);
  return d;
}

/* Ops seen per nesting depth, and the names seen nested. */
static int seen[2];
static int nested_checks;
static tl_status count(void *ctx, const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                       const tl_tensor_list *out, int depth) {
  (void)ctx, (void)in, (void)n_in, (void)attrs, (void)out;
  seen[depth ? 1 : 0]++;
  if (depth && strcmp(op->name, "check_numerics") == 0) nested_checks++;
  return TL_OK;
}

int main(void) {
  if (tl_init()) {
    fprintf(stderr, "init: %s\n", tl_last_error());
    return 1;
  }
  float bad[2] = {-1.0f, 2.0f}, inf[3] = {1.0f, 1.0f / 0.0f, 0.0f};
  tl_tensor *x = on_test(2, bad), *w = on_test(3, inf), *y = NULL;

  /* off: NaN results pass */
  CHECK(!tl_get_check_numerics());
  CHECK(tl_run1("log", &x, 1, &y) == TL_OK && y && tl_tensor_device(y) == TL_TEST);
  tl_tensor_release(y);
  y = NULL;

  tl_set_check_numerics(true);
  CHECK(tl_get_check_numerics());
  CHECK(tl_run1("log", &x, 1, &y) == TL_INVALID_ARGUMENT && !y);
  CHECK(strstr(tl_last_error(), "output 0 of log") && strstr(tl_last_error(), "1 NaN and 0 Inf"));

  /* finite results come back, still on the test device; the check ran as a nested op */
  static const tl_observer obs = {.after = count};
  CHECK(tl_observer_add(&obs) == TL_OK);
  CHECK(tl_run1("exp", &x, 1, &y) == TL_OK && y && tl_tensor_device(y) == TL_TEST);
  tl_observer_remove(&obs);
  CHECK(seen[0] == 1 && nested_checks == 1);
  tl_tensor *h = NULL;
  CHECK(y && tl_tensor_copy_to(y, TL_CPU, &h) == TL_OK && ((float *)tl_tensor_data(h))[1] > 7.38f);
  tl_tensor_release(h);
  tl_tensor_release(y);

  /* the C entry point, on a test-device tensor */
  CHECK(tl_check_numerics(w, "weights") == TL_INVALID_ARGUMENT);
  CHECK(strstr(tl_last_error(), "weights: 0 NaN and 1 Inf"));
  CHECK(tl_check_numerics(x, "x") == TL_OK);
  tl_set_check_numerics(false);

  tl_tensor_release(x);
  tl_tensor_release(w);
  printf("%d checks, %d failures\n", checks, failures);
  return failures != 0;
}
