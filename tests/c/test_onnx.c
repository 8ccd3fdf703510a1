/* test_onnx.c — tl_onnx_export from C: graphs traced with the C API export
 * (the file is a ModelProto whose first field is ir_version 8), and every
 * error path returns its status with a message naming the problem:
 * no graph, an opset out of range, an op without a rendering (with its
 * line), a stateful op, a duplicate name, an unwritable path, a dtype ONNX
 * lacks. Control-flow graphs (cond, while, call; tf.cond and tf.while_loop
 * are tested from Lua too) are built with the graph API; `test_onnx --write DIR` leaves them
 * with their inputs and tl_graph_run's outputs for onnx_spec.lua, which
 * checks every file with onnx.checker and onnxruntime.
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

/* ---- control flow, built with the graph API (no Lua producer yet) ---- */

static int op1(tl_graph *g, const char *name, int n_in, const int *in, const tl_meta *om) {
  const tl_op_def *op = tl_op_find(name);
  tl_attr attrs[TL_MAX_ATTRS];
  if (!op) abort();
  tl_attrs_defaults(op, attrs);
  int out;
  if (tl_graph_add_op(g, op, in, n_in, attrs, om, 1, "flow.lua:7", &out)) {
    fprintf(stderr, "%s: %s\n", name, tl_last_error());
    abort();
  }
  return out;
}

static int konst(tl_graph *g, float v) {
  tl_tensor *t;
  int vid;
  if (tl_tensor_scalar_f64(TL_FLOAT32, v, &t) || tl_graph_add_const(g, t, &vid)) abort();
  tl_tensor_release(t);
  return vid;
}

static const tl_meta vec3 = {.dtype = TL_FLOAT32, .rank = 1, .shape = {3}};
static const tl_meta scal = {.dtype = TL_FLOAT32, .rank = 0};
static const tl_meta bscal = {.dtype = TL_BOOL, .rank = 0};

/* A one-op subgraph: op(arg) (with a constant second operand when k). */
static tl_graph *unary_sub(const char *op, bool k, float kv) {
  tl_graph *g;
  int a;
  if (tl_graph_new(&g) || tl_graph_add_arg(g, &vec3, &a)) abort();
  int in[2] = {a, k ? konst(g, kv) : -1};
  int y = op1(g, op, k ? 2 : 1, in, &vec3);
  if (tl_graph_set_outputs(g, &y, 1)) abort();
  return g;
}

/* cond(p, x): relu(x) or -x. */
static tl_graph *cond_graph(void) {
  tl_graph *g, *sub[2] = {unary_sub("relu", false, 0), unary_sub("negative", false, 0)};
  int p, x, node;
  if (tl_graph_new(&g) || tl_graph_add_arg(g, &bscal, &p) || tl_graph_add_arg(g, &vec3, &x)) abort();
  int in[3] = {p, x, x};
  if (tl_graph_add_node(g, TL_NODE_COND, in, 3, sub, 2, &vec3, 1, "flow.lua:3", &node)) abort();
  g->nodes[node].arg = 1;
  int out = g->nodes[node].out0;
  if (tl_graph_set_outputs(g, &out, 1)) abort();
  return g;
}

/* while i < 4: i, acc = i + 1, acc * 0.5 + x (max_iter iterations at most); returns i, acc. */
static tl_graph *while_graph(int64_t max_iter) {
  tl_graph *c, *b, *g;
  int ci, ca, cx, bi, ba, bx, i0, a0, x0, node;
  if (tl_graph_new(&c) || tl_graph_add_arg(c, &scal, &ci) || tl_graph_add_arg(c, &vec3, &ca) ||
      tl_graph_add_arg(c, &vec3, &cx))
    abort();
  int lt[2] = {ci, konst(c, 4)};
  int co = op1(c, "less", 2, lt, &bscal);
  if (tl_graph_set_outputs(c, &co, 1)) abort();
  if (tl_graph_new(&b) || tl_graph_add_arg(b, &scal, &bi) || tl_graph_add_arg(b, &vec3, &ba) ||
      tl_graph_add_arg(b, &vec3, &bx))
    abort();
  int inc[2] = {bi, konst(b, 1)}, half[2] = {ba, konst(b, 0.5f)};
  int bo[2] = {op1(b, "add", 2, inc, &scal), -1};
  int hv = op1(b, "multiply", 2, half, &vec3);
  int ad[2] = {hv, bx};
  bo[1] = op1(b, "add", 2, ad, &vec3);
  if (tl_graph_set_outputs(b, bo, 2)) abort();
  if (tl_graph_new(&g) || tl_graph_add_arg(g, &scal, &i0) || tl_graph_add_arg(g, &vec3, &a0) ||
      tl_graph_add_arg(g, &vec3, &x0))
    abort();
  tl_graph *sub[2] = {c, b};
  int in[3] = {i0, a0, x0};
  tl_meta om[2] = {scal, vec3};
  if (tl_graph_add_node(g, TL_NODE_WHILE, in, 3, sub, 2, om, 2, "flow.lua:5", &node)) abort();
  g->nodes[node].arg = 2;
  g->nodes[node].iparam = max_iter;
  int outs[2] = {g->nodes[node].out0, g->nodes[node].out0 + 1};
  if (tl_graph_set_outputs(g, outs, 2)) abort();
  return g;
}

/* call(x): a nested function x * 3, then + 1 outside. */
static tl_graph *call_graph(void) {
  tl_graph *g, *sub = unary_sub("multiply", true, 3);
  int x, node;
  if (tl_graph_new(&g) || tl_graph_add_arg(g, &vec3, &x)) abort();
  if (tl_graph_add_node(g, TL_NODE_CALL, &x, 1, &sub, 1, &vec3, 1, "flow.lua:9", &node)) abort();
  int in[2] = {g->nodes[node].out0, konst(g, 1)};
  int y = op1(g, "add", 2, in, &vec3);
  if (tl_graph_set_outputs(g, &y, 1)) abort();
  return g;
}

/* Writes "dtype rank dims... values..." per tensor, one a line. */
static void write_tensor(FILE *f, tl_tensor *t) {
  fprintf(f, "%s %d", tl_dtypes[t->dtype].name, t->rank);
  for (int i = 0; i < t->rank; i++) fprintf(f, " %lld", (long long)t->shape[i]);
  tl_tensor *c;
  if (tl_tensor_contiguous(t, &c)) abort();
  for (int64_t i = 0; i < c->size; i++) fprintf(f, " %.9g", tl_load_f64(tl_tensor_data(c), c->dtype, i));
  fprintf(f, "\n");
  tl_tensor_release(c);
}

/* Exports g to dir/name.onnx and writes its inputs and tlua's outputs to
 * dir/name.txt (onnx_spec.lua runs them through onnxruntime). */
static void export_case(const char *out_dir, const char *name, tl_graph *g, tl_tensor **args) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.onnx", out_dir, name);
  tl_status s = tl_onnx_export(g, NULL, NULL, 17, path);
  if (s) fprintf(stderr, "%s: %s\n", name, tl_last_error());
  CHECK(s == TL_OK);
  tl_tensor_list out;
  tl_list_init(&out);
  CHECK(tl_graph_run(g, args, g->n_args, &out) == TL_OK);
  snprintf(path, sizeof path, "%s/%s.txt", out_dir, name);
  FILE *f = fopen(path, "w");
  if (!f) abort();
  fprintf(f, "%d %d\n", g->n_args, out.n);
  for (int i = 0; i < g->n_args; i++) write_tensor(f, args[i]);
  for (int i = 0; i < out.n; i++) write_tensor(f, out.items[i]);
  fclose(f);
  tl_list_clear(&out);
}

static void test_control_flow(const char *out_dir) {
  float xv[3] = {-1, 2, -3};
  tl_tensor *x = vec_f32(3, xv), *pt, *pf, *i0, *a0;
  if (tl_tensor_scalar_i64(TL_BOOL, 1, &pt) || tl_tensor_scalar_i64(TL_BOOL, 0, &pf) ||
      tl_tensor_scalar_f64(TL_FLOAT32, 0, &i0) || tl_tensor_zeros(TL_FLOAT32, 1, (int64_t[]){3}, &a0))
    abort();
  tl_graph *g = cond_graph();
  export_case(out_dir, "cond_true", g, (tl_tensor *[]){pt, x});
  export_case(out_dir, "cond_false", g, (tl_tensor *[]){pf, x});
  tl_graph_release(g);
  g = while_graph(-1);
  export_case(out_dir, "while", g, (tl_tensor *[]){i0, a0, x});
  tl_graph_release(g);
  g = while_graph(2);
  export_case(out_dir, "while_max2", g, (tl_tensor *[]){i0, a0, x});
  tl_graph_release(g);
  g = call_graph();
  export_case(out_dir, "call", g, (tl_tensor *[]){x});
  tl_graph_release(g);
  /* an unsupported op inside a branch, and a malformed node */
  char path[512];
  snprintf(path, sizeof path, "%s/bad.onnx", out_dir);
  g = cond_graph();
  tl_graph *else_g = g->nodes[g->n_nodes - 1].sub[1];
  else_g->nodes[else_g->n_nodes - 1].op = tl_op_find("cumprod");
  CHECK(tl_onnx_export(g, NULL, NULL, 17, path) == TL_UNIMPLEMENTED && msg_has("cumprod") && msg_has("flow.lua:7"));
  else_g->nodes[else_g->n_nodes - 1].op = tl_op_find("negative");
  g->nodes[g->n_nodes - 1].arg = 5;
  CHECK(tl_onnx_export(g, NULL, NULL, 17, path) == TL_INTERNAL && msg_has("malformed cond"));
  tl_graph_release(g);
  tl_tensor_release(x), tl_tensor_release(pt), tl_tensor_release(pf), tl_tensor_release(i0), tl_tensor_release(a0);
}

int main(int argc, char **argv) {
  if (tl_init()) return 1;
  if (argc == 3 && !strcmp(argv[1], "--write")) { /* onnx_spec.lua: the control-flow cases */
    if (!tl_onnx_available()) return 2;
    test_control_flow(argv[2]);
    return failures != 0;
  }
  if (!tl_onnx_available()) {
    CHECK(tl_onnx_export(NULL, NULL, NULL, 17, "x.onnx") == TL_UNIMPLEMENTED && msg_has("libprotobuf-c-dev"));
    printf("test_onnx: built without protobuf-c: %d checks, %d failures\n", checks, failures);
    return failures != 0;
  }
  if (!mkdtemp(dir)) return 1;
  test_export();
  test_control_flow(dir);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) failures++;
  printf("test_onnx: %d checks, %d failures\n", checks, failures);
  return failures != 0;
}
