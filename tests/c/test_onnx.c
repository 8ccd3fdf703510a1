/* test_onnx.c — tl_onnx_export from C: graphs traced with the C API export
 * (the file is a ModelProto whose first field is ir_version 8), and every
 * error path returns its status with a message naming the problem:
 * no graph, an opset out of range, an op without a rendering (with its
 * line), a stateful op, a duplicate name, an unwritable path, a dtype ONNX
 * lacks. onnx_spec.lua checks the files with onnx.checker and onnxruntime.
 * Without protobuf-c, export is Unimplemented naming the packages. */
#include "check.h"
#include "tl_graph.h"

#include <unistd.h>

static char dir[] = "/tmp/tl_onnx_XXXXXX";

static bool msg_has(const char *s) { return strstr(tl_last_error(), s) != NULL; }

/* x:float32[?,3] -> relu(x @ w) with w a constant, and x + 1. */
static tl_graph *mlp_graph(void) {
  tl_trace *tr;
  tl_meta m = {.dtype = TL_FLOAT32, .rank = 2, .shape = {-1, 3}};
  tl_tensor *x, *w, *y, *z, *one;
  if (tl_trace_begin(&tr) || tl_trace_arg(tr, &m, &x)) abort();
  int64_t ws[2] = {3, 2};
  if (tl_tensor_zeros(TL_FLOAT32, 2, ws, &w) || tl_tensor_scalar_f64(TL_FLOAT32, 1, &one)) abort();
  tl_tensor *mm_in[2] = {x, w}, *add_in[2] = {x, one};
  if (tl_call("matmul", 2, mm_in, 0, NULL, &y) || tl_call("relu", 1, &y, 0, NULL, &z)) abort();
  tl_tensor *s;
  if (tl_call("add", 2, add_in, 0, NULL, &s)) abort();
  tl_tensor *outs[3] = {z, s, x}; /* an argument as an output too */
  tl_graph *g;
  if (tl_trace_end(tr, outs, 3, &g)) abort();
  tl_tensor_release(x), tl_tensor_release(w), tl_tensor_release(y), tl_tensor_release(z);
  tl_tensor_release(s), tl_tensor_release(one);
  return g;
}

/* One op on a float32[3] argument, recorded with a source line. */
static tl_graph *one_op_graph(const char *op, tl_tensor *second) {
  tl_trace *tr;
  tl_meta m = {.dtype = TL_FLOAT32, .rank = 1, .shape = {3}};
  tl_tensor *x, *y;
  if (tl_trace_begin(&tr) || tl_trace_arg(tr, &m, &x)) abort();
  tl_trace_set_where("model.lua:42");
  tl_tensor *in[2] = {second ? second : x, x};
  tl_tensor_list out;
  tl_list_init(&out);
  tl_status s = tl_call_list(op, second ? 2 : 1, in, 0, NULL, &out);
  tl_trace_set_where(NULL);
  if (s) {
    fprintf(stderr, "%s: %s\n", op, tl_last_error());
    abort();
  }
  y = out.n ? tl_tensor_retain(out.items[0]) : NULL; /* assign_add has no output */
  tl_list_clear(&out);
  tl_graph *g;
  if (tl_trace_end(tr, y ? &y : NULL, y ? 1 : 0, &g)) abort();
  tl_tensor_release(x), tl_tensor_release(y);
  return g;
}

static void test_export(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/m.onnx", dir);
  tl_graph *g = mlp_graph();
  const char *names[1] = {"features"};
  const char *onames[3] = {"probs", NULL, "echo"};
  CHECK(tl_onnx_export(g, names, onames, 17, path) == TL_OK);
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  if (f) {
    unsigned char b[2] = {0};
    CHECK(fread(b, 1, 2, f) == 2);
    CHECK(b[0] == 0x08 && b[1] == 8); /* field 1 (ir_version), varint 8 */
    fseek(f, 0, SEEK_END);
    CHECK(ftell(f) > 50);
    fclose(f);
  }
  char tmp[300];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  CHECK(access(tmp, F_OK) != 0);
  CHECK(tl_onnx_export(g, NULL, NULL, 13, path) == TL_OK);

  /* errors */
  CHECK(tl_onnx_export(NULL, NULL, NULL, 17, path) == TL_INVALID_ARGUMENT);
  CHECK(tl_onnx_export(g, NULL, NULL, 17, NULL) == TL_INVALID_ARGUMENT);
  CHECK(tl_onnx_export(g, NULL, NULL, 12, path) == TL_INVALID_ARGUMENT && msg_has("opset 12"));
  CHECK(tl_onnx_export(g, NULL, NULL, 18, path) == TL_INVALID_ARGUMENT && msg_has("13 to 17"));
  const char *dup[3] = {"a", "b", "a"};
  CHECK(tl_onnx_export(g, names, dup, 17, path) == TL_INVALID_ARGUMENT && msg_has("'a'"));
  CHECK(tl_onnx_export(g, names, (const char *[]){"features", NULL, NULL}, 17, path) == TL_INVALID_ARGUMENT);
  char bad[300];
  snprintf(bad, sizeof bad, "%s/missing/m.onnx", dir);
  CHECK(tl_onnx_export(g, NULL, NULL, 17, bad) == TL_NOT_FOUND && msg_has("cannot write"));
  tl_graph_release(g);

  g = one_op_graph("cumprod", NULL);
  CHECK(tl_onnx_export(g, NULL, NULL, 17, path) == TL_UNIMPLEMENTED && msg_has("cumprod") &&
        msg_has("model.lua:42") && msg_has("no ONNX rendering"));
  tl_graph_release(g);

  /* a stateful op: assign_add on a captured variable */
  tl_variable *v;
  int64_t three = 3;
  tl_tensor *init;
  if (tl_tensor_zeros(TL_FLOAT32, 1, &three, &init) || tl_variable_new(init, true, "v", &v)) abort();
  g = one_op_graph("assign_add", v->handle);
  CHECK(tl_onnx_export(g, NULL, NULL, 17, path) == TL_INVALID_ARGUMENT && msg_has("assign_add") &&
        msg_has("changes state"));
  tl_graph_release(g);
  tl_variable_release(v);
  tl_tensor_release(init);

  /* an argument whose dtype ONNX lacks */
  tl_trace *tr;
  tl_meta sm = {.dtype = TL_STRING, .rank = 1, .shape = {2}};
  tl_tensor *sx;
  if (tl_trace_begin(&tr) || tl_trace_arg(tr, &sm, &sx) || tl_trace_end(tr, &sx, 1, &g)) abort();
  CHECK(tl_onnx_export(g, NULL, NULL, 17, path) == TL_UNIMPLEMENTED && msg_has("no ONNX tensor type"));
  tl_graph_release(g);
  tl_tensor_release(sx);
}

int main(void) {
  if (tl_init()) return 1;
  if (!tl_onnx_available()) {
    CHECK(tl_onnx_export(NULL, NULL, NULL, 17, "x.onnx") == TL_UNIMPLEMENTED && msg_has("libprotobuf-c-dev"));
    printf("test_onnx: built without protobuf-c: %d checks, %d failures\n", checks, failures);
    return failures != 0;
  }
  if (!mkdtemp(dir)) return 1;
  test_export();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) failures++;
  printf("test_onnx: %d checks, %d failures\n", checks, failures);
  return failures != 0;
}
