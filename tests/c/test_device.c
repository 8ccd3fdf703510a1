/* test_device.c — the device layer without Lua: the test device's memory
 * is unreadable from the host outside kernels (a read faults), CPU kernels
 * run on it with the same results, copies are explicit, mixing devices is
 * an error, and observers form a list that sees nesting depth. */
#include "tl.h"

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static sigjmp_buf fault_jmp;
static void on_fault(int sig) {
  (void)sig;
  siglongjmp(fault_jmp, 1);
}

/* Whether reading the first byte of t's data from the host faults. */
static bool host_read_faults(const tl_tensor *t) {
  struct sigaction sa = {0}, old_segv, old_bus;
  sa.sa_handler = on_fault;
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
  volatile bool faulted = false;
  if (sigsetjmp(fault_jmp, 1) == 0) {
    volatile char c = *(volatile char *)t->storage->data;
    (void)c;
  } else {
    faulted = true;
  }
  sigaction(SIGSEGV, &old_segv, NULL);
  sigaction(SIGBUS, &old_bus, NULL);
  return faulted;
}

static tl_tensor *copy_to(tl_tensor *t, const char *dev) {
  tl_tensor *out = NULL;
  if (tl_call("copy_to_device", 1, &t, 1, (tl_named_attr[]){TL_A_STRING("device", dev)}, &out)) {
    fprintf(stderr, "copy_to_device: %s\n", tl_last_error());
    abort();
  }
  return out;
}

static void test_test_device(void) {
  CHECK(tl_device_from_name("TEST:0") == TL_TEST);
  CHECK(tl_device_from_name("/job:localhost/replica:0/task:0/device:TEST:0") == TL_TEST);
  CHECK(tl_device_from_name("cpu") == TL_CPU);
  CHECK(tl_device_from_name("GPU:0") == TL_DEVICE_COUNT); /* not available here */
  CHECK(tl_device_from_name("CPU:1") == TL_DEVICE_COUNT);
  CHECK(strcmp(tl_device_name(TL_TEST), "/job:localhost/replica:0/task:0/device:TEST:0") == 0);

  float a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40};
  tl_tensor *x = vec_f32(4, a), *y = vec_f32(4, b);
  tl_tensor *dx = copy_to(x, "TEST:0"), *dy = copy_to(y, "TEST:0");
  CHECK(tl_tensor_device(dx) == TL_TEST);
  CHECK(host_read_faults(dx));
  CHECK(!host_read_faults(x));

  /* a CPU kernel runs on the test device; its output stays there */
  tl_tensor *in[2] = {dx, dy}, *dz = NULL;
  CHECK(tl_run1("multiply", in, 2, &dz) == TL_OK);
  CHECK(dz && tl_tensor_device(dz) == TL_TEST && host_read_faults(dz));
  tl_tensor *z = copy_to(dz, "CPU:0");
  CHECK(tl_tensor_device(z) == TL_CPU && ((float *)tl_tensor_data(z))[3] == 160.0f);

  /* mixing devices is an error that says so, never a silent copy */
  tl_tensor *mixed[2] = {x, dy}, *bad = NULL;
  CHECK(tl_run1("add", mixed, 2, &bad) == TL_INVALID_ARGUMENT && !bad);
  CHECK(strstr(tl_last_error(), "different devices") && strstr(tl_last_error(), "TEST"));

  /* constants for gradient rules are made on the operand's device */
  tl_tensor *c = NULL;
  CHECK(tl_tensor_scalar_like(dx, TL_FLOAT32, 2.5, &c) == TL_OK && tl_tensor_device(c) == TL_TEST);
  tl_tensor *h = NULL;
  CHECK(tl_tensor_copy_to(c, TL_CPU, &h) == TL_OK && *(float *)tl_tensor_data(h) == 2.5f);

  /* a strided view copies only what it covers */
  tl_tensor *rev = NULL;
  CHECK(tl_call("reverse", 1, &dx, 1, (tl_named_attr[]){TL_A_INT("axis", 0)}, &rev) == TL_OK);
  tl_tensor *hrev = NULL;
  CHECK(rev && tl_tensor_copy_to(rev, TL_CPU, &hrev) == TL_OK);
  tl_tensor *hc = NULL;
  CHECK(hrev && tl_tensor_contiguous(hrev, &hc) == TL_OK && ((float *)tl_tensor_data(hc))[0] == 4.0f);

  tl_memory_stats st = tl_memory_get_stats();
  CHECK(st.device_live_bytes[TL_TEST] >= 4 * 4 * 3);
  tl_tensor *all[] = {x, y, dx, dy, dz, z, c, h, rev, hrev, hc};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tl_tensor_release(all[i]);

  /* creation ops run on the default device */
  tl_set_default_device(TL_TEST);
  tl_tensor *zs = NULL;
  CHECK(tl_call("zeros", 0, NULL, 1, (tl_named_attr[]){TL_A_INTS("shape", 1, (int64_t[]){3})}, &zs) == TL_OK);
  CHECK(zs && tl_tensor_device(zs) == TL_TEST);
  tl_set_default_device(TL_CPU);
  tl_tensor_release(zs);
}

/* ---- observers ----------------------------------------------------------- */

static int seen[2][4];
static tl_status count_after(void *ctx, const tl_op_def *op, tl_tensor *const *in, int n_in,
                             const tl_attr *attrs, const tl_tensor_list *out, int depth) {
  (void)op, (void)in, (void)n_in, (void)attrs, (void)out;
  seen[(intptr_t)ctx][depth < 3 ? depth : 3]++;
  return TL_OK;
}

static void test_observers(void) {
  static const tl_observer a = {.after = count_after, .ctx = (void *)0};
  static const tl_observer b = {.after = count_after, .ctx = (void *)1};
  CHECK(tl_observer_add(&a) == TL_OK && tl_observer_add(&b) == TL_OK);
  /* a second observer does not turn the tape off */
  tl_tape *tape;
  CHECK(tl_tape_new(false, true, &tape) == TL_OK && tl_tape_start(tape) == TL_OK);
  float v[2] = {3, 4};
  tl_tensor *x = vec_f32(2, v), *y = NULL, *g = NULL;
  CHECK(tl_tape_watch(tape, x) == TL_OK);
  tl_tensor *in[2] = {x, x};
  CHECK(tl_run1("multiply", in, 2, &y) == TL_OK);
  tl_tape_stop(tape);
  tl_grad_source src = {.tensor = x};
  CHECK(tl_tape_gradient(tape, y, NULL, 1, &src, false, false, &g) == TL_OK);
  CHECK(g && ((float *)tl_tensor_data(g))[1] == 8.0f);
  CHECK(seen[0][0] >= 1 && seen[1][0] >= 1);
  /* float16 inputs go through float32 inside the dispatcher: those casts are
     nested (depth 1), not user ops */
  tl_observer_remove(&a);
  tl_observer_remove(&b);
  tl_tensor_release(x);
  tl_tensor_release(y);
  tl_tensor_release(g);
  tl_tape_release(tape);
}

int main(void) {
  if (tl_init()) {
    fprintf(stderr, "init: %s\n", tl_last_error());
    return 1;
  }
  test_test_device();
  test_observers();
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
