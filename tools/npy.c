/* npy.c — reading and writing NumPy .npy files (npy.h).
 *
 * The header is a Python dict literal; this reads the three keys NumPy
 * writes ('descr', 'fortran_order', 'shape') with a small strict scanner
 * rather than evaluating anything. Fortran order, big-endian data, object
 * and structured dtypes are refused with a message; the data length must
 * match the shape exactly.
 */
#include "npy.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *code; /* without the byte-order character */
  tl_dtype dtype;
} codes[] = {
    {"f4", TL_FLOAT32}, {"f8", TL_FLOAT64}, {"f2", TL_FLOAT16}, {"i1", TL_INT8},  {"u1", TL_UINT8},
    {"i2", TL_INT16},   {"i4", TL_INT32},   {"i8", TL_INT64},   {"b1", TL_BOOL},  {"c8", TL_COMPLEX64},
};

static tl_status bad(const char *fmt, const char *arg) {
  return tl_error(TL_INVALID_ARGUMENT, fmt, arg);
}

/* Finds 'key': in the header and returns the text after the colon. */
static const char *find_key(const char *h, const char *key) {
  char pat[40];
  snprintf(pat, sizeof pat, "'%s'", key);
  const char *p = strstr(h, pat);
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ') p++;
  return p;
}

tl_status tl_npy_parse(const void *buf, size_t len, tl_tensor **out) {
  const unsigned char *p = buf;
  *out = NULL;
  if (len < 10 || memcmp(p, "\x93NUMPY", 6) != 0) return bad("npy: %s", "not an .npy file (no \\x93NUMPY magic)");
  unsigned major = p[6];
  size_t hlen, start;
  if (major == 1) {
    hlen = (size_t)p[8] | (size_t)p[9] << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12) return bad("npy: %s", "the header is truncated");
    hlen = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
    start = 12;
  } else {
    char v[8];
    snprintf(v, sizeof v, "%u", major);
    return bad("npy: format version %s is not supported (1, 2 and 3 are)", v);
  }
  if (hlen > len - start || hlen > (1 << 20)) return bad("npy: %s", "the header runs past the end of the file");
  char *h = malloc(hlen + 1);
  if (!h) return tl_error(TL_RESOURCE_EXHAUSTED, "npy: out of memory");
  memcpy(h, p + start, hlen);
  h[hlen] = 0;
  tl_status s = TL_OK;
  tl_dtype dt = TL_DTYPE_COUNT;
  int rank = 0;
  int64_t shape[TL_MAX_RANK];
  const char *d = find_key(h, "descr"), *f = find_key(h, "fortran_order"), *sh = find_key(h, "shape");
  if (!d || !f || !sh || memchr(h, 0, hlen)) {
    s = bad("npy: %s", "the header lacks 'descr', 'fortran_order' or 'shape'");
    goto done;
  }
  if (*d != '\'' || !d[1] || !d[2] || !d[3] || d[4] != '\'') {
    s = bad("npy: dtype %.20s is not a numeric dtype tlua reads", d);
    goto done;
  }
  char order = d[1];
  for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
    if (strncmp(d + 2, codes[i].code, 2) == 0) dt = codes[i].dtype;
  bool one_byte = d[3] == '1';
  if (dt == TL_DTYPE_COUNT || !(order == '<' || order == '=' || (order == '|' && one_byte))) {
    s = bad(order == '>' ? "npy: dtype %.5s is big-endian; save it little-endian (astype('<...'))"
                         : "npy: dtype %.5s is not a numeric dtype tlua reads",
            d);
    goto done;
  }
  if (strncmp(f, "False", 5) != 0) {
    s = bad("npy: %s", "Fortran-order arrays are not supported (save with np.ascontiguousarray)");
    goto done;
  }
  if (*sh != '(') {
    s = bad("npy: %s", "the shape is not a tuple");
    goto done;
  }
  const char *q = sh + 1;
  for (;;) {
    while (*q == ' ') q++;
    if (*q == ')') break;
    if (!isdigit((unsigned char)*q)) {
      s = bad("npy: %s", "the shape holds something other than non-negative integers");
      goto done;
    }
    if (rank == TL_MAX_RANK) {
      s = bad("npy: %s", "more dimensions than tlua supports (8)");
      goto done;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(q, &end, 10);
    if (errno || v > (unsigned long long)INT64_MAX) {
      s = bad("npy: %s", "a dimension is too large");
      goto done;
    }
    shape[rank++] = (int64_t)v;
    q = end;
    while (*q == ' ' || *q == 'L') q++;
    if (*q == ',') q++;
    else if (*q != ')') {
      s = bad("npy: %s", "the shape tuple is malformed");
      goto done;
    }
  }
  int64_t n = tl_shape_numel(rank, shape), bytes;
  size_t have = len - start - hlen;
  if (n < 0 || __builtin_mul_overflow(n, (int64_t)tl_dtypes[dt].size, &bytes) || (uint64_t)bytes != have) {
    char msg[120];
    snprintf(msg, sizeof msg, "%zu bytes of data do not match the shape in the header", have);
    s = bad("npy: %s", msg);
    goto done;
  }
  tl_tensor *t;
  if ((s = tl_tensor_new_on(TL_CPU, dt, rank, shape, &t))) goto done;
  if (bytes) memcpy(tl_tensor_data(t), p + start + hlen, (size_t)bytes);
  if (dt == TL_BOOL) {
    unsigned char *b = tl_tensor_data(t);
    for (int64_t i = 0; i < n; i++) b[i] = b[i] != 0;
  }
  *out = t;
done:
  free(h);
  return s;
}

tl_status tl_read_file(const char *path, size_t limit, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return tl_error(TL_NOT_FOUND, "cannot open '%s': %s", path, strerror(errno));
  char *buf = NULL;
  size_t n = 0, cap = 0;
  tl_status s = TL_OK;
  for (;;) {
    if (n == cap) {
      size_t c = cap ? cap * 2 : 1 << 16;
      char *nb = c <= limit * 2 + (1 << 16) ? realloc(buf, c) : NULL;
      if (!nb) {
        s = tl_error(TL_RESOURCE_EXHAUSTED, "'%s' is too large", path);
        break;
      }
      buf = nb;
      cap = c;
    }
    size_t k = fread(buf + n, 1, cap - n, f);
    n += k;
    if (n > limit) {
      s = tl_error(TL_RESOURCE_EXHAUSTED, "'%s' is larger than %zu bytes", path, limit);
      break;
    }
    if (k == 0) {
      if (ferror(f)) s = tl_error(TL_DATA_LOSS, "reading '%s' failed", path);
      break;
    }
  }
  fclose(f);
  if (s) {
    free(buf);
    return s;
  }
  *out = buf;
  *len = n;
  return TL_OK;
}

tl_status tl_npy_read(const char *path, tl_tensor **out) {
  char *buf;
  size_t n;
  tl_status s = tl_read_file(path, (size_t)1 << 36, &buf, &n);
  if (s) return s;
  s = tl_npy_parse(buf, n, out);
  if (s) tl_error_prefix("%s: ", path);
  free(buf);
  return s;
}

tl_status tl_npy_write(tl_tensor *t, const char *path) {
  const char *code = NULL;
  for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
    if (codes[i].dtype == t->dtype) code = codes[i].code;
  if (!code)
    return tl_error(TL_UNIMPLEMENTED, "npy: %s tensors have no .npy dtype (write .tlt instead)", tl_dtypes[t->dtype].name);
  tl_tensor *h, *c;
  tl_status s = tl_tensor_copy_to(t, TL_CPU, &h);
  if (s) return s;
  s = tl_tensor_contiguous(h, &c);
  tl_tensor_release(h);
  if (s) return s;
  char dict[400];
  int k = snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
                   tl_dtypes[t->dtype].size == 1 ? '|' : '<', code);
  for (int i = 0; i < c->rank; i++) k += snprintf(dict + k, sizeof dict - (size_t)k, "%" PRId64 "%s", c->shape[i], c->rank == 1 || i < c->rank - 1 ? ", " : "");
  k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
  /* Padded with spaces and a newline so the data starts on a 64-byte boundary. */
  size_t total = 10 + (size_t)k + 1;
  size_t pad = (64 - total % 64) % 64;
  size_t hlen = (size_t)k + pad + 1;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
  FILE *f = fopen(path, "wb");
  if (!f) {
    tl_tensor_release(c);
    return tl_error(TL_NOT_FOUND, "npy: cannot write '%s': %s", path, strerror(errno));
  }
  bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)k, f) == (size_t)k;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF;
  size_t bytes = (size_t)c->size * tl_dtypes[c->dtype].size;
  if (ok && bytes) ok = fwrite(tl_tensor_data(c), 1, bytes, f) == bytes;
  ok = fclose(f) == 0 && ok;
  tl_tensor_release(c);
  return ok ? TL_OK : tl_error(TL_DATA_LOSS, "npy: writing '%s' failed", path);
}
