/* ops/strings_par.c — tl_str_map_parallel (ops/strings.h): element-wise
 * string results computed on the compute pool. Each of CHUNKS slices of
 * the input writes its results into a private growable buffer; afterwards
 * one block of the output's arena is reserved and the slices are copied
 * in, in order, so the output's bytes are contiguous and the arena (not
 * thread-safe) is touched by one thread only. */
#include "ops/strings.h"

#include <stdio.h>
#include <stdlib.h>

#define CHUNKS 64

typedef struct slice {
  char *buf;
  size_t n, cap;
  int64_t *len; /* per element */
  bool failed;
  tl_status status;
  char msg[256];
} slice;

typedef struct map_job {
  const tl_string *x;
  int64_t n;
  tl_str_map_fn fn;
  void *ctx;
  slice *sl;
} map_job;

static void run_slices(int64_t b, int64_t e, void *vctx) {
  map_job *j = vctx;
  for (int64_t c = b; c < e; c++) {
    slice *s = &j->sl[c];
    int64_t lo = j->n * c / CHUNKS, hi = j->n * (c + 1) / CHUNKS;
    s->len = malloc(sizeof *s->len * (size_t)(hi - lo + 1));
    if (!s->len) {
      s->failed = true;
      s->status = TL_RESOURCE_EXHAUSTED;
      snprintf(s->msg, sizeof s->msg, "out of memory");
      continue;
    }
    for (int64_t i = lo; i < hi; i++) {
      const char *r;
      size_t len;
      if (!j->fn(j->ctx, i, &j->x[i], &r, &len)) {
        s->failed = true;
        s->status = tl_last_status();
        snprintf(s->msg, sizeof s->msg, "%s", tl_last_error());
        break;
      }
      if (s->n + len > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->n + len) cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb) {
          s->failed = true;
          s->status = TL_RESOURCE_EXHAUSTED;
          snprintf(s->msg, sizeof s->msg, "out of memory");
          break;
        }
        s->buf = nb;
        s->cap = cap;
      }
      if (len) memcpy(s->buf + s->n, r, len);
      s->n += len;
      s->len[i - lo] = (int64_t)len;
    }
  }
}

tl_status tl_str_map_parallel(tl_tensor *o, const tl_string *x, int64_t n, tl_str_map_fn fn, void *ctx) {
  slice *sl = calloc(CHUNKS, sizeof *sl);
  if (!sl) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  map_job j = {x, n, fn, ctx, sl};
  /* small inputs run on the calling thread (grain: all chunks at once) */
  tl_parallel_for(CHUNKS, n < 8192 ? CHUNKS : 1, run_slices, &j);
  tl_status s = TL_OK;
  size_t total = 0;
  for (int c = 0; c < CHUNKS && !s; c++) {
    if (sl[c].failed) s = tl_error(sl[c].status, "%s", sl[c].msg);
    total += sl[c].n;
  }
  char *dst = NULL;
  if (!s && total && !(dst = tl_string_alloc(o, total))) s = TL_RESOURCE_EXHAUSTED;
  tl_string *os = tl_tensor_data(o);
  for (int c = 0; c < CHUNKS && !s; c++) {
    int64_t lo = n * c / CHUNKS, hi = n * (c + 1) / CHUNKS;
    if (sl[c].n) memcpy(dst, sl[c].buf, sl[c].n);
    char *p = dst;
    for (int64_t i = lo; i < hi; i++) {
      int64_t l = sl[c].len[i - lo];
      os[i] = (tl_string){l ? p : NULL, l};
      p += l;
    }
    dst += sl[c].n;
  }
  for (int c = 0; c < CHUNKS; c++) {
    free(sl[c].buf);
    free(sl[c].len);
  }
  free(sl);
  return s;
}
