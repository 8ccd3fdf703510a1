/* tlua-run — runs a function of a tlua saved model on inputs from files,
 * with the C core alone (no Lua).
 *
 *   tlua-run model.tlsm [--function NAME] [--list] [--format npy|tlt]
 *            in1.npy|in1.tlt ... [-o outdir]
 *
 * Inputs: NumPy .npy files (numeric dtypes, C order) or the bytes of
 * tf.io.serialize_tensor ("TLT1", any extension other than .npy; the
 * magic decides). Outputs: outdir/out0.npy, out1.npy, ... (or .tlt with
 * --format tlt). --list prints each function's signature. The default
 * function is "serving_default", else the file's first. Exit status: 0 on
 * success, 1 on an error (printed as "Kind: message"), 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "npy.h"
#include "tl.h"
#include "tl_graph.h"

static int usage(void) {
  fprintf(stderr,
          "usage: tlua-run MODEL.tlsm [--function NAME] [--list] [--format npy|tlt] INPUT... [-o OUTDIR]\n"
          "  INPUT: an .npy file or a tf.io.serialize_tensor file (.tlt)\n");
  return 2;
}

static int fail(void) {
  fprintf(stderr, "tlua-run: %sError: %s\n", tl_status_name(tl_last_status()), tl_last_error());
  return 1;
}

static tl_status read_input(const char *path, tl_tensor **out) {
  char *buf;
  size_t n;
  tl_status s = tl_read_file(path, (size_t)1 << 36, &buf, &n);
  if (s) return s;
  if (n >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0) s = tl_npy_parse(buf, n, out);
  else s = tl_tensor_parse(buf, n, out);
  if (s) tl_error_prefix("%s: ", path);
  free(buf);
  return s;
}

static tl_status write_tlt(tl_tensor *t, const char *path) {
  char *buf;
  size_t n;
  tl_status s = tl_tensor_serialize(t, &buf, &n);
  if (s) return s;
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(buf);
    return tl_error(TL_NOT_FOUND, "cannot write '%s'", path);
  }
  bool ok = fwrite(buf, 1, n, f) == n;
  ok = fclose(f) == 0 && ok;
  free(buf);
  return ok ? TL_OK : tl_error(TL_DATA_LOSS, "writing '%s' failed", path);
}

static void list_fns(const tl_saved_model *m) {
  for (int i = 0; i < m->n_fns; i++) {
    const tl_saved_fn *f = &m->fns[i];
    const tl_graph *g = f->graph;
    printf("%s(", f->name);
    for (int k = 0; k < g->n_args; k++) {
      char d[200];
      if (k) printf(", ");
      if (f->arg_names[k]) printf("%s", f->arg_names[k]);
      else printf("arg%d", k + 1); /* as the Lua side names it */
      printf(": %s", tl_meta_describe(&g->values[g->args[k]].meta, d, sizeof d));
    }
    printf(") -> (");
    for (int k = 0; k < g->n_outputs; k++) {
      char d[200];
      printf("%s%s%s%s", k ? ", " : "", f->output_names[k] ? f->output_names[k] : "",
             f->output_names[k] ? ": " : "", tl_meta_describe(&g->values[g->outputs[k]].meta, d, sizeof d));
    }
    printf(")\n");
  }
  printf("%d variable%s\n", m->n_variables, m->n_variables == 1 ? "" : "s");
}

int main(int argc, char **argv) {
  const char *model = NULL, *fn = NULL, *outdir = ".", *format = "npy";
  bool list = false;
  const char **inputs = calloc((size_t)argc, sizeof *inputs);
  int n_in = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--function") == 0 || strcmp(a, "-f") == 0) {
      if (++i >= argc) return usage();
      fn = argv[i];
    } else if (strcmp(a, "-o") == 0) {
      if (++i >= argc) return usage();
      outdir = argv[i];
    } else if (strcmp(a, "--format") == 0) {
      if (++i >= argc) return usage();
      format = argv[i];
      if (strcmp(format, "npy") != 0 && strcmp(format, "tlt") != 0) return usage();
    } else if (strcmp(a, "--list") == 0) {
      list = true;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage();
      return 0;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "tlua-run: unknown option %s\n", a);
      return usage();
    } else if (!model) {
      model = a;
    } else {
      inputs[n_in++] = a;
    }
  }
  if (!model) return usage();
  if (tl_init()) return fail();
  tl_saved_model *m;
  if (tl_saved_model_read(model, &m)) return fail();
  if (list) {
    list_fns(m);
    tl_saved_model_free(m);
    free(inputs);
    return 0;
  }
  const tl_saved_fn *f = tl_saved_model_find(m, fn ? fn : "serving_default");
  if (!f && !fn) f = tl_saved_model_find(m, NULL);
  if (!f) {
    tl_error(TL_NOT_FOUND, "%s has no function '%s' (--list shows them)", model, fn ? fn : "serving_default");
    tl_saved_model_free(m);
    return fail();
  }
  if (n_in != f->graph->n_args) {
    tl_error(TL_INVALID_ARGUMENT, "'%s' takes %d input%s, %d given", f->name, f->graph->n_args,
             f->graph->n_args == 1 ? "" : "s", n_in);
    tl_saved_model_free(m);
    return fail();
  }
  tl_tensor **args = calloc((size_t)(n_in ? n_in : 1), sizeof *args);
  tl_status s = TL_OK;
  for (int i = 0; i < n_in && !s; i++) s = read_input(inputs[i], &args[i]);
  tl_tensor_list out;
  tl_list_init(&out);
  if (!s) {
    s = tl_graph_run(f->graph, args, n_in, &out);
    if (s) tl_error_prefix("%s: ", f->name);
  }
  if (!s) mkdir(outdir, 0777); /* may exist already */
  for (int i = 0; i < out.n && !s; i++) {
    size_t len = strlen(outdir) + 32;
    char *path = malloc(len);
    snprintf(path, len, "%s/out%d.%s", outdir, i, format);
    s = strcmp(format, "npy") == 0 ? tl_npy_write(out.items[i], path) : write_tlt(out.items[i], path);
    if (!s) printf("%s\n", path);
    free(path);
  }
  tl_list_clear(&out);
  for (int i = 0; i < n_in; i++) tl_tensor_release(args[i]);
  free(args);
  free(inputs);
  tl_saved_model_free(m);
  return s ? fail() : 0;
}
