/* ops/strings.h — what the tf.strings op files share (strings.c,
 * strings_split.c, strings_unicode.c, strings_regex.c): reading string
 * inputs, checking dtypes in shape rules, UTF-8 helpers. Internal to
 * src/ops/. */
#ifndef TL_OPS_STRINGS_H
#define TL_OPS_STRINGS_H
#include "ops/ops.h"

#include <string.h>

/* Flags of every tf.strings op: kernels write their string outputs'
 * bytes themselves; nothing is differentiable. */
#define TL_STR_FLAGS (TL_OP_STRINGS_OWNED | TL_OP_NO_GRADIENT)

/* "input must be a string tensor, got float32" for shape rules. */
static inline tl_status tl_str_need(const tl_meta *m, const char *what) {
  if (m->dtype != TL_STRING)
    return tl_error(TL_INVALID_ARGUMENT, "%s must be a string tensor, got %s", what, tl_dtypes[m->dtype].name);
  return TL_OK;
}

/* The elements of t in row-major order: *c is t or a contiguous copy
 * (release it); the returned array is c's. */
static inline const tl_string *tl_str_elems(tl_tensor *t, tl_tensor **c) {
  if (tl_tensor_contiguous(t, c)) return NULL;
  return (const tl_string *)tl_tensor_data(*c);
}

static inline bool tl_utf8_trail(unsigned char c) { return (c & 0xC0) == 0x80; }

/* Decodes one code point at s[*i] (n bytes in all), advancing *i. Returns
 * the code point, or -1 for an ill-formed sequence; *i then advances over
 * its maximal subpart (the lead byte and the trail bytes that were still
 * valid, at least 1 byte), the Unicode policy that ICU and TensorFlow's
 * replacement counting follow. */
static inline int32_t tl_utf8_next(const unsigned char *s, int64_t n, int64_t *i) {
  unsigned char c = s[*i];
  if (c < 0x80) {
    (*i)++;
    return c;
  }
  int need;
  int32_t cp;
  unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */
  if (c >= 0xC2 && c <= 0xDF) need = 1, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) {
    need = 2, cp = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F; /* no surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3, cp = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    (*i)++;
    return -1;
  }
  int64_t j = *i + 1;
  for (int k = 0; k < need; k++, j++) {
    unsigned char t = j < n ? s[j] : 0;
    if (j >= n || (k == 0 ? (t < lo || t > hi) : !tl_utf8_trail(t))) {
      *i = j;
      return -1;
    }
    cp = (cp << 6) | (t & 0x3F);
  }
  *i = j;
  return cp;
}

/* Writes code point cp as UTF-8 into out (4 bytes room), returns bytes. */
static inline int tl_utf8_put(int32_t cp, char *out) {
  unsigned char *o = (unsigned char *)out;
  if (cp < 0x80) {
    o[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (unsigned char)(0xC0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (unsigned char)(0xF0 | (cp >> 18));
  o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* A shape rule's output: a string vector of unknown length and an int64
 * row_splits vector of n + 1 (the ragged results of split, bytes_split,
 * unicode_split, ngrams). */
static inline tl_status tl_str_push_ragged(tl_meta_list *out, tl_dtype values, int64_t nrows) {
  int64_t v = -1, sp = nrows < 0 ? -1 : nrows + 1;
  if (!tl_meta_push(out, values, 1, &v) || !tl_meta_push(out, TL_INT64, 1, &sp)) return TL_RESOURCE_EXHAUSTED;
  return TL_OK;
}


/* One string out per string in, computed on the compute pool: fn maps x
 * (index i) to bytes valid until its next call on the same thread, or
 * returns false with the status set. Chunks of the input gather their
 * results in private buffers; one block of o's arena then takes them all
 * (o's arena is not thread-safe). strings_par.c. */
typedef bool (*tl_str_map_fn)(void *ctx, int64_t i, const tl_string *x, const char **out, size_t *len);
tl_status tl_str_map_parallel(tl_tensor *o, const tl_string *x, int64_t n, tl_str_map_fn fn, void *ctx);
#endif
