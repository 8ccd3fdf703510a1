/* buf.h — a growable byte buffer for the core's text and file builders
 * (printing tensors, graph listings, tf.print lines, saved-model bytes).
 * Contents stay NUL-terminated; after an allocation failure `oom` is set
 * and every later write is dropped, so callers check once at the end. */
#ifndef TL_BUF_H
#define TL_BUF_H
#include <stdbool.h>
#include <stddef.h>

typedef struct tl_buf {
  char *p;
  size_t n, cap;
  bool oom;
} tl_buf;

void tl_buf_put(tl_buf *b, const void *s, size_t n);
void tl_buf_puts(tl_buf *b, const char *s);
void tl_buf_printf(tl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
