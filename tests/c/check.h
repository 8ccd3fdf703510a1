/* check.h — the C tests' one assertion: CHECK(c) counts the check and, when
 * c is false, counts a failure and names the place, so a test reports every
 * failed check and exits non-zero at the end (main returns failures != 0). */
#ifndef TL_TEST_CHECK_H
#define TL_TEST_CHECK_H
#include <stdio.h>

static int failures, checks;
#define CHECK(c)                                                        \
  do {                                                                  \
    checks++;                                                           \
    if (!(c)) {                                                         \
      failures++;                                                       \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
    }                                                                   \
  } while (0)
#endif
