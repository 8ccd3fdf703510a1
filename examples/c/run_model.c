/* run_model.c — the smallest C program that runs a tlua saved model: load
 * the file, feed a float32 matrix to its "serving_default" function and
 * print the first output. Only the core library (src/tl.h, src/tl_graph.h);
 * no Lua. The suite runs it on a model saved from Lua
 * (tests/spec/saved_model_spec.lua).
 *
 *   run_model model.tlsm ROWS COLS v1 v2 ...     (ROWS*COLS values)
 */
#include <stdio.h>
#include <stdlib.h>

#include "tl.h"
#include "tl_graph.h"

static int die(const char *what) {
  fprintf(stderr, "run_model: %s: %sError: %s\n", what, tl_status_name(tl_last_status()), tl_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: run_model MODEL.tlsm ROWS COLS VALUES...\n");
    return 2;
  }
  int64_t shape[2] = {atoll(argv[2]), atoll(argv[3])};
  if (shape[0] < 0 || shape[1] < 0 || argc != 4 + shape[0] * shape[1]) {
    fprintf(stderr, "run_model: expected %s x %s values\n", argv[2], argv[3]);
    return 2;
  }
  if (tl_init()) return die("init");

  tl_saved_model *model;
  if (tl_saved_model_read(argv[1], &model)) return die("load");
  const tl_saved_fn *fn = tl_saved_model_find(model, "serving_default");
  if (!fn) {
    fprintf(stderr, "run_model: the model has no serving_default function\n");
    tl_saved_model_free(model);
    return 1;
  }

  tl_tensor *x;
  if (tl_tensor_new(TL_FLOAT32, 2, shape, &x)) return die("input");
  float *xs = tl_tensor_data(x);
  for (int64_t i = 0; i < shape[0] * shape[1]; i++) xs[i] = strtof(argv[4 + i], NULL);

  tl_tensor_list out;
  tl_list_init(&out);
  tl_status s = tl_graph_run(fn->graph, &x, 1, &out);
  tl_tensor_release(x);
  if (s) {
    tl_saved_model_free(model);
    return die("run");
  }
  /* Printing goes through the core's formatter (numpy-like). */
  char *text;
  if (out.n > 0 && tl_tensor_format(out.items[0], NULL, &text) == TL_OK) {
    printf("%s\n", text);
    free(text);
  }
  tl_list_clear(&out);
  tl_saved_model_free(model);
  return 0;
}
