/* check.h — the C tests' one assertion: CHECK(c) counts the check and, when
 * c is false, counts a failure and names the place, so a test reports every
 * failed check and exits non-zero at the end (main returns failures != 0). */
#ifndef TL_TEST_CHECK_H
#define TL_TEST_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl.h"

static int failures, checks;
#define CHECK(c)                                                        \
  do {                                                                  \
    checks++;                                                           \
    if (!(c)) {                                                         \
      failures++;                                                       \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
    }                                                                   \
  } while (0)

/* A new float32 vector holding v (aborts on allocation failure: a test helper). */
static inline tl_tensor *vec_f32(int n, const float *v) {
  int64_t shape[1] = {n};
  tl_tensor *t;
  if (tl_tensor_new(TL_FLOAT32, 1, shape, &t)) abort();
  memcpy(tl_tensor_data(t), v, sizeof(float) * (size_t)n);
  return t;
}
#endif
