/* fuzz_saved_model.c — libFuzzer target for the saved-model loader
 * (tl_saved_model_parse). Built only with clang: cmake -DTLUA_FUZZ=ON with
 * CC=clang (see docs/file-formats.md, "tlua saved model"). Seed corpus:
 * `test_saved_model_fuzz --write-seed corpus/seed.tlsm`.
 *
 * A file that loads must validate, describe and run (on a fixed input
 * when its first argument takes one) without a sanitizer report. The CRC
 * would stop almost every mutation at the header, so by default the target
 * recomputes it (and the body length) before parsing; set
 * TLUA_FUZZ_KEEP_CRC=1 to fuzz the header checks too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tl.h"
#include "tl_graph.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool keep_crc;
static tl_tensor *input;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (tl_init()) abort();
  keep_crc = getenv("TLUA_FUZZ_KEEP_CRC") != NULL;
  int64_t shape[2] = {2, 3};
  if (tl_tensor_zeros(TL_FLOAT32, 2, shape, &input)) abort();
  return 0;
}

static void exercise(tl_saved_model *m) {
  for (int i = 0; i < m->n_fns; i++) {
    tl_graph *g = m->fns[i].graph;
    if (tl_graph_validate(g) != TL_OK) abort(); /* the loader promised a valid graph */
    char *d;
    if (tl_graph_describe(g, &d) == TL_OK) free(d);
    if (g->n_args > 1) continue;
    tl_tensor_list out;
    tl_list_init(&out);
    tl_tensor *args[1] = {input};
    if (tl_graph_run(g, args, g->n_args, &out) == TL_OK && out.n != g->n_outputs) abort();
    tl_list_clear(&out);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  if (!keep_crc && size >= 20 && memcmp(buf, "TLSM", 4) == 0) {
    uint64_t body = size - 20;
    memcpy(buf + 8, &body, 8);
    uint32_t c = tl_crc32(0, buf + 20, size - 20);
    memcpy(buf + 16, &c, 4);
  }
  tl_saved_model *m = NULL;
  tl_status s = tl_saved_model_parse(buf, size, &m);
  if (s == TL_OK) {
    exercise(m);
    tl_saved_model_free(m);
  } else if (m) {
    abort(); /* a failed parse hands nothing out */
  }
  free(buf);
  return 0;
}
