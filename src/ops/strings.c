/* ops/strings.c — element-wise tf.strings ops: length, substr, join,
 * reduce_join, upper/lower (ASCII; utf-8 through ICU in strings_unicode.c),
 * strip, to_number, as_string, to_hash_bucket_fast.
 *
 * Every op writes its string outputs into their own storage
 * (tl_string_set), so they carry TL_OP_STRINGS_OWNED; none has a gradient.
 * Semantics and messages follow TensorFlow's kernels (string_length_op,
 * substr_op, string_join_op, reduce_join_op, string_strip_op,
 * string_to_number_op, as_string_op, string_to_hash_bucket_op).
 * to_hash_bucket_fast is Fingerprint64 (farmhash's farmhashna::Hash64,
 * written out below) modulo the bucket count, so buckets equal
 * TensorFlow's. Not here: splitting (strings_split.c), regular
 * expressions (strings_regex.c), Unicode (strings_unicode.c).
 */
#include "ops/strings.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- helpers ------------------------------------------------------------ */

static tl_status same_shape_infer(const tl_meta *m, tl_dtype dt, tl_meta_list *out) {
  return tl_meta_push_like(out, m, dt) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static bool unit_utf8(const tl_attr *a, tl_status *s) {
  *s = TL_OK;
  if (strcmp(a->s, "BYTE") == 0) return false;
  if (strcmp(a->s, "UTF8_CHAR") == 0) return true;
  *s = tl_error(TL_INVALID_ARGUMENT, "unit must be \"BYTE\" or \"UTF8_CHAR\", got \"%s\"", a->s);
  return false;
}

static int64_t utf8_count(const char *p, int64_t n) {
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++) k += !tl_utf8_trail((unsigned char)p[i]);
  return k;
}

/* ---- length ------------------------------------------------------------- */

static tl_status length_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  tl_status s = tl_str_need(in[0], "input");
  if (!s) unit_utf8(&attr[0], &s);
  return s ? s : same_shape_infer(in[0], TL_INT32, out);
}

static tl_status length_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_status s;
  bool u8 = unit_utf8(&attr[0], &s);
  tl_tensor *c;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) return tl_last_status();
  int32_t *o = tl_tensor_data(out->items[0]);
  for (int64_t i = 0; i < c->size; i++) o[i] = (int32_t)(u8 ? utf8_count(x[i].data, x[i].len) : x[i].len);
  tl_tensor_release(c);
  return TL_OK;
}

/* ---- substr --------------------------------------------------------------- */

static tl_status substr_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  tl_status s = tl_str_need(in[0], "input");
  if (!s) unit_utf8(&attr[0], &s);
  if (s) return s;
  for (int k = 1; k < 3; k++)
    if (in[k]->dtype != TL_INT32 && in[k]->dtype != TL_INT64)
      return tl_error(TL_INVALID_ARGUMENT, "%s must be int32 or int64, got %s", k == 1 ? "pos" : "len",
                      tl_dtypes[in[k]->dtype].name);
  if (in[1]->dtype != in[2]->dtype)
    return tl_error(TL_INVALID_ARGUMENT, "pos and len must have the same dtype (%s vs %s)",
                    tl_dtypes[in[1]->dtype].name, tl_dtypes[in[2]->dtype].name);
  tl_meta a, b;
  if ((s = tl_meta_broadcast(in[0], in[1], &a)) || (s = tl_meta_broadcast(&a, in[2], &b))) return s;
  return same_shape_infer(&b, TL_STRING, out);
}

/* The byte offset of character k of s (k <= count). */
static int64_t utf8_offset(const char *p, int64_t n, int64_t k) {
  int64_t i = 0;
  while (i < n && k > 0) {
    i++;
    while (i < n && tl_utf8_trail((unsigned char)p[i])) i++;
    k--;
  }
  return i;
}

/* Broadcasts t to o's shape and makes it contiguous (a new reference). */
static tl_status broadcast_flat(tl_tensor *t, const tl_tensor *o, tl_tensor **out) {
  tl_tensor *v;
  tl_status s = tl_tensor_broadcast_view(t, o->rank, o->shape, &v);
  if (s) return s;
  s = tl_tensor_contiguous(v, out);
  tl_tensor_release(v);
  return s;
}

static tl_status substr_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_status s;
  bool u8 = unit_utf8(&attr[0], &s);
  tl_tensor *o = out->items[0], *x = NULL, *p = NULL, *l = NULL;
  if ((s = broadcast_flat(in[0], o, &x)) || (s = broadcast_flat(in[1], o, &p)) || (s = broadcast_flat(in[2], o, &l)))
    goto done;
  const tl_string *xs = tl_tensor_data(x);
  const void *pd = tl_tensor_data(p), *ld = tl_tensor_data(l);
  for (int64_t i = 0; i < o->size && !s; i++) {
    int64_t pos = tl_load_i64(pd, p->dtype, i), len = tl_load_i64(ld, l->dtype, i);
    int64_t n = u8 ? utf8_count(xs[i].data, xs[i].len) : xs[i].len;
    if (pos < -n || pos > n) {
      s = tl_error(TL_INVALID_ARGUMENT, "substr: pos %" PRId64 " out of range for string of length %" PRId64
                   " at index %" PRId64, pos, n, i);
      break;
    }
    if (pos < 0) pos += n;
    if (len < 0 || len > n - pos) len = n - pos; /* TF: as many as there are */
    int64_t b0 = pos, b1 = pos + len;
    if (u8) {
      b0 = utf8_offset(xs[i].data, xs[i].len, pos);
      b1 = b0 + utf8_offset(xs[i].data + b0, xs[i].len - b0, len);
    }
    s = tl_string_set(o, i, xs[i].data + b0, (size_t)(b1 - b0));
  }
done:
  tl_tensor_release(x);
  tl_tensor_release(p);
  tl_tensor_release(l);
  return s;
}

/* ---- join ----------------------------------------------------------------- */

static tl_status join_infer(TL_INFER_ARGS) {
  (void)op, (void)attr;
  if (n_in == 0) return tl_error(TL_INVALID_ARGUMENT, "inputs must hold at least one tensor");
  tl_meta m = *in[0];
  for (int i = 0; i < n_in; i++) {
    char what[32];
    snprintf(what, sizeof what, "inputs[%d]", i);
    tl_status s = tl_str_need(in[i], what);
    if (!s && i) s = tl_meta_broadcast(&m, in[i], &m);
    if (s) return s;
  }
  return same_shape_infer(&m, TL_STRING, out);
}

static tl_status join_kernel(TL_KERNEL_ARGS) {
  (void)op;
  tl_tensor *o = out->items[0];
  const char *sep = attr[0].s;
  size_t seplen = strlen(sep);
  tl_tensor **flat = calloc((size_t)n_in, sizeof *flat);
  if (!flat) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  tl_status s = TL_OK;
  for (int k = 0; k < n_in && !s; k++) s = broadcast_flat(in[k], o, &flat[k]);
  /* total bytes first, then one block carved up */
  size_t total = 0;
  for (int k = 0; k < n_in && !s; k++) {
    const tl_string *e = tl_tensor_data(flat[k]);
    for (int64_t i = 0; i < o->size; i++) total += (size_t)e[i].len;
  }
  total += (size_t)o->size * seplen * (size_t)(n_in - 1);
  char *dst = NULL;
  if (!s && total && !(dst = tl_string_alloc(o, total))) s = TL_RESOURCE_EXHAUSTED;
  tl_string *os = tl_tensor_data(o);
  for (int64_t i = 0; i < o->size && !s; i++) {
    char *start = dst;
    for (int k = 0; k < n_in; k++) {
      const tl_string *e = (const tl_string *)tl_tensor_data(flat[k]) + i;
      if (k && seplen) memcpy(dst, sep, seplen), dst += seplen;
      if (e->len) memcpy(dst, e->data, (size_t)e->len), dst += e->len;
    }
    os[i].len = dst - start;
    os[i].data = os[i].len ? start : NULL;
  }
  for (int k = 0; k < n_in; k++) tl_tensor_release(flat[k]);
  free(flat);
  return s;
}

/* ---- reduce_join ---------------------------------------------------------- */

/* attrs: axis:ints? (absent: every axis), keepdims, separator */
static tl_status rj_axes(const tl_meta *m, const tl_attr *axis, bool *red) {
  for (int d = 0; d < TL_MAX_RANK; d++) red[d] = !axis->present;
  if (!axis->present) return TL_OK;
  for (int k = 0; k < axis->n; k++) {
    int a;
    tl_status s = tl_normalize_axis(NULL, axis->ints[k], m->rank, &a);
    if (s) return s;
    if (red[a]) return tl_error(TL_INVALID_ARGUMENT, "axis %" PRId64 " appears twice", axis->ints[k]);
    red[a] = true;
  }
  return TL_OK;
}

static tl_status reduce_join_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  tl_status s = tl_str_need(in[0], "inputs");
  if (s) return s;
  if (in[0]->rank < 0) {
    int64_t none = 0;
    return tl_meta_push(out, TL_STRING, attr[0].present ? -1 : attr[1].b ? -1 : 0, &none) ? TL_OK
                                                                                           : TL_RESOURCE_EXHAUSTED;
  }
  bool red[TL_MAX_RANK];
  if ((s = rj_axes(in[0], &attr[0], red))) return s;
  int64_t shape[TL_MAX_RANK];
  int r = 0;
  for (int d = 0; d < in[0]->rank; d++)
    if (!red[d]) shape[r++] = in[0]->shape[d];
    else if (attr[1].b) shape[r++] = 1;
  return tl_meta_push(out, TL_STRING, r, shape) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status reduce_join_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *o = out->items[0], *c;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) return tl_last_status();
  bool red[TL_MAX_RANK];
  tl_status s = rj_axes(&c->meta, &attr[0], red);
  const char *sep = attr[2].s;
  size_t seplen = strlen(sep);
  /* kept and reduced dimensions with their strides in c */
  int nk = 0, nr = 0;
  int64_t kd[TL_MAX_RANK], ks[TL_MAX_RANK], rd[TL_MAX_RANK], rs[TL_MAX_RANK];
  for (int d = 0; d < c->rank; d++) {
    if (red[d]) rd[nr] = c->shape[d], rs[nr++] = c->strides[d];
    else kd[nk] = c->shape[d], ks[nk++] = c->strides[d];
  }
  int64_t per = 1;
  for (int k = 0; k < nr; k++) per *= rd[k];
  size_t total = 0;
  for (int64_t i = 0; i < c->size; i++) total += (size_t)x[i].len;
  if (per > 1) total += (size_t)o->size * (size_t)(per - 1) * seplen;
  char *dst = NULL;
  if (!s && total && !(dst = tl_string_alloc(o, total))) s = TL_RESOURCE_EXHAUSTED;
  tl_string *os = tl_tensor_data(o);
  for (int64_t i = 0; i < o->size && !s; i++) {
    int64_t base = 0, rem = i;
    for (int k = nk - 1; k >= 0; k--) {
      base += (rem % kd[k]) * ks[k];
      rem /= kd[k];
    }
    char *start = dst;
    for (int64_t j = 0; j < per; j++) {
      int64_t off = base, r2 = j;
      for (int k = nr - 1; k >= 0; k--) {
        off += (r2 % rd[k]) * rs[k];
        r2 /= rd[k];
      }
      if (j && seplen) memcpy(dst, sep, seplen), dst += seplen;
      if (x[off].len) memcpy(dst, x[off].data, (size_t)x[off].len), dst += x[off].len;
    }
    os[i].len = dst - start;
    os[i].data = os[i].len ? start : NULL;
  }
  tl_tensor_release(c);
  return s;
}

/* ---- upper / lower / strip: byte maps ------------------------------------ */

tl_status tl_strings_case_utf8(tl_tensor *o, const tl_string *x, bool upper); /* strings_unicode.c */

static tl_status case_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  tl_status s = tl_str_need(in[0], "input");
  if (s) return s;
  const char *enc = attr[0].s;
  if (*enc && strcmp(enc, "utf-8") != 0 && strcmp(enc, "UTF-8") != 0)
    return tl_error(TL_INVALID_ARGUMENT, "encoding must be \"\" (ASCII) or \"utf-8\", got \"%s\"", enc);
  return same_shape_infer(in[0], TL_STRING, out);
}

static tl_status case_kernel(TL_KERNEL_ARGS) {
  (void)n_in;
  bool upper = op->impl != NULL;
  tl_tensor *o = out->items[0], *c;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) return tl_last_status();
  tl_status s = TL_OK;
  if (*attr[0].s) {
    s = tl_strings_case_utf8(o, x, upper);
  } else {
    size_t total = 0;
    for (int64_t i = 0; i < c->size; i++) total += (size_t)x[i].len;
    char *dst = total ? tl_string_alloc(o, total) : NULL;
    if (total && !dst) s = TL_RESOURCE_EXHAUSTED;
    tl_string *os = tl_tensor_data(o);
    for (int64_t i = 0; i < c->size && !s; i++) {
      os[i].len = x[i].len;
      os[i].data = x[i].len ? dst : NULL;
      for (int64_t k = 0; k < x[i].len; k++) {
        unsigned char ch = (unsigned char)x[i].data[k];
        if (upper && ch >= 'a' && ch <= 'z') ch = (unsigned char)(ch - 32);
        else if (!upper && ch >= 'A' && ch <= 'Z') ch = (unsigned char)(ch + 32);
        *dst++ = (char)ch;
      }
    }
  }
  tl_tensor_release(c);
  return s;
}

static tl_status strip_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = tl_str_need(in[0], "input");
  return s ? s : same_shape_infer(in[0], TL_STRING, out);
}

static bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* The stripped strings are windows of the input's bytes, copied once. */
static tl_status strip_kernel(TL_KERNEL_ARGS) {
  TL_UNUSED_KERNEL_ARGS;
  tl_tensor *o = out->items[0], *c;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) return tl_last_status();
  tl_status s = TL_OK;
  for (int64_t i = 0; i < c->size && !s; i++) {
    int64_t a = 0, b = x[i].len;
    while (a < b && ascii_space(x[i].data[a])) a++;
    while (b > a && ascii_space(x[i].data[b - 1])) b--;
    s = tl_string_set(o, i, x[i].data + a, (size_t)(b - a));
  }
  tl_tensor_release(c);
  return s;
}

/* ---- to_number ------------------------------------------------------------ */

static tl_status to_number_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  tl_status s = tl_str_need(in[0], "string_tensor");
  if (s) return s;
  tl_dtype dt = attr[0].dtype;
  if (dt != TL_FLOAT32 && dt != TL_FLOAT64 && dt != TL_INT32 && dt != TL_INT64)
    return tl_error(TL_INVALID_ARGUMENT, "out_type must be float32, float64, int32 or int64, got %s",
                    tl_dtypes[dt].name);
  return same_shape_infer(in[0], dt, out);
}

/* TensorFlow's safe_strto*: surrounding ASCII whitespace is allowed, the
 * rest must be one number that fits; no hex, no trailing junk. */
static bool parse_number(const tl_string *e, tl_dtype dt, double *f, int64_t *iv) {
  char buf[128];
  int64_t a = 0, b = e->len;
  while (a < b && ascii_space(e->data[a])) a++;
  while (b > a && ascii_space(e->data[b - 1])) b--;
  if (b == a || b - a >= (int64_t)sizeof buf) return false;
  memcpy(buf, e->data + a, (size_t)(b - a));
  buf[b - a] = 0;
  if (memchr(buf, 0, (size_t)(b - a)) || strpbrk(buf, "xXpP")) return false;
  char *end;
  errno = 0;
  if (dt == TL_INT32 || dt == TL_INT64) {
    if (strpbrk(buf, ".eE") || isspace((unsigned char)buf[0])) return false;
    long long v = strtoll(buf, &end, 10);
    if (*end || errno == ERANGE) return false;
    if (dt == TL_INT32 && (v < INT32_MIN || v > INT32_MAX)) return false;
    *iv = v;
    return true;
  }
  double v = strtod(buf, &end);
  if (*end) return false;
  if (dt == TL_FLOAT32 && isfinite(v) && fabs(v) > 3.4028234663852886e38) v = v > 0 ? INFINITY : -INFINITY;
  *f = v;
  return true;
}

static tl_status to_number_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *o = out->items[0], *c;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) return tl_last_status();
  tl_status s = TL_OK;
  tl_dtype dt = attr[0].dtype;
  void *od = tl_tensor_data(o);
  for (int64_t i = 0; i < c->size; i++) {
    double f = 0;
    int64_t iv = 0;
    if (!parse_number(&x[i], dt, &f, &iv)) {
      int n = x[i].len > 60 ? 60 : (int)x[i].len;
      s = tl_error(TL_INVALID_ARGUMENT, "StringToNumberOp could not correctly convert string: %.*s%s", n,
                   x[i].data ? x[i].data : "", x[i].len > 60 ? "..." : "");
      break;
    }
    if (dt == TL_FLOAT32) ((float *)od)[i] = (float)f;
    else if (dt == TL_FLOAT64) ((double *)od)[i] = f;
    else tl_store_i64(od, dt, i, iv);
  }
  tl_tensor_release(c);
  return s;
}

/* ---- as_string ------------------------------------------------------------- */

/* attrs: precision, scientific, shortest, width, fill. The printf format
 * TensorFlow's AsStringOp builds, or an error. */
static tl_status as_string_format(tl_dtype dt, const tl_attr *attr, char *fmt, size_t n) {
  int64_t precision = attr[0].i, width = attr[3].i;
  bool sci = attr[1].b, shortest = attr[2].b;
  const char *fill = attr[4].s;
  tl_dtype_kind k = tl_dtypes[dt].kind;
  if (dt == TL_RESOURCE || k == TL_KIND_COMPLEX)
    return tl_error(TL_INVALID_ARGUMENT, "as_string does not support %s tensors", tl_dtypes[dt].name);
  if (sci && shortest) return tl_error(TL_INVALID_ARGUMENT, "Cannot select both scientific and shortest notation");
  if (strlen(fill) > 1) return tl_error(TL_INVALID_ARGUMENT, "Fill string must be one or fewer characters");
  if (*fill && !strchr(" +-0#", *fill)) return tl_error(TL_INVALID_ARGUMENT, "Fill argument not supported: \"%s\"", fill);
  if (k != TL_KIND_FLOAT && (precision > -1 || sci || shortest))
    return tl_error(TL_INVALID_ARGUMENT, "precision, scientific and shortest apply to float tensors only, not %s",
                    tl_dtypes[dt].name);
  if (width > 1000 || precision > 1000) return tl_error(TL_INVALID_ARGUMENT, "width and precision must be at most 1000");
  size_t u = (size_t)snprintf(fmt, n, "%%%s", fill);
  if (width > -1) u += (size_t)snprintf(fmt + u, n - u, "%" PRId64, width);
  if (precision > -1) u += (size_t)snprintf(fmt + u, n - u, ".%" PRId64, precision);
  const char *conv = k == TL_KIND_FLOAT ? (shortest ? "g" : sci ? "e" : "f") : k == TL_KIND_UINT ? "llu"
                                                                             : k == TL_KIND_STRING ? "s"
                                                                             : k == TL_KIND_BOOL ? "s" : "lld";
  snprintf(fmt + u, n - u, "%s", conv);
  return TL_OK;
}

static tl_status as_string_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  char fmt[64];
  tl_status s = as_string_format(in[0]->dtype, attr, fmt, sizeof fmt);
  return s ? s : same_shape_infer(in[0], TL_STRING, out);
}

static tl_status as_string_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *o = out->items[0], *c;
  char fmt[64], buf[2100];
  tl_status s = as_string_format(in[0]->dtype, attr, fmt, sizeof fmt);
  if (s || (s = tl_tensor_contiguous(in[0], &c))) return s;
  tl_dtype dt = c->dtype;
  tl_dtype_kind k = tl_dtypes[dt].kind;
  const void *d = tl_tensor_data(c);
  for (int64_t i = 0; i < c->size && !s; i++) {
    int len;
    if (k == TL_KIND_STRING) {
      const tl_string *e = (const tl_string *)d + i;
      if (attr[3].i <= e->len) {
        s = tl_string_set(o, i, e->data, (size_t)e->len);
        continue;
      }
      /* padded: only the width matters; the bytes may hold NULs */
      int64_t pad = attr[3].i - e->len;
      char *p = tl_string_alloc(o, (size_t)attr[3].i);
      if (!p) s = TL_RESOURCE_EXHAUSTED;
      else {
        bool left = attr[4].s[0] == '-';
        memset(p + (left ? e->len : 0), ' ', (size_t)pad);
        if (e->len) memcpy(p + (left ? 0 : pad), e->data, (size_t)e->len);
        ((tl_string *)tl_tensor_data(o))[i] = (tl_string){p, attr[3].i};
      }
      continue;
    }
    if (k == TL_KIND_FLOAT) len = snprintf(buf, sizeof buf, fmt, tl_load_f64(d, dt, i));
    else if (k == TL_KIND_BOOL) len = snprintf(buf, sizeof buf, fmt, tl_load_i64(d, dt, i) ? "true" : "false");
    else len = snprintf(buf, sizeof buf, fmt, (long long)tl_load_i64(d, dt, i));
    if (len < 0) len = 0;
    if ((size_t)len >= sizeof buf) len = (int)sizeof buf - 1;
    s = tl_string_set(o, i, buf, (size_t)len);
  }
  tl_tensor_release(c);
  return s;
}

/* ---- to_hash_bucket_fast: Fingerprint64 ------------------------------------ */

/* farmhash's farmhashna::Hash64 (Geoff Pike, MIT licence), which
 * TensorFlow's Fingerprint64 is; little-endian loads. */
static const uint64_t k0 = 0xc3a5c85c97cb3127ULL, k1 = 0xb492b66fbe98f273ULL, k2 = 0x9ae16a3b2f90404fULL;

static inline uint64_t f64(const char *p) {
  uint64_t r;
  memcpy(&r, p, 8);
  return r;
}
static inline uint32_t f32(const char *p) {
  uint32_t r;
  memcpy(&r, p, 4);
  return r;
}
static inline uint64_t rot(uint64_t v, int s) { return s == 0 ? v : (v >> s) | (v << (64 - s)); }
static inline uint64_t smix(uint64_t v) { return v ^ (v >> 47); }
static inline uint64_t hash16(uint64_t u, uint64_t v, uint64_t mul) {
  uint64_t a = (u ^ v) * mul;
  a ^= a >> 47;
  uint64_t b = (v ^ a) * mul;
  b ^= b >> 47;
  return b * mul;
}

static uint64_t hash0to16(const char *s, size_t len) {
  if (len >= 8) {
    uint64_t mul = k2 + len * 2, a = f64(s) + k2, b = f64(s + len - 8);
    uint64_t c = rot(b, 37) * mul + a, d = (rot(a, 25) + b) * mul;
    return hash16(c, d, mul);
  }
  if (len >= 4) {
    uint64_t mul = k2 + len * 2, a = f32(s);
    return hash16(len + (a << 3), f32(s + len - 4), mul);
  }
  if (len > 0) {
    uint8_t a = (uint8_t)s[0], b = (uint8_t)s[len >> 1], c = (uint8_t)s[len - 1];
    uint32_t y = (uint32_t)a + ((uint32_t)b << 8), z = (uint32_t)len + ((uint32_t)c << 2);
    return smix(y * k2 ^ z * k0) * k2;
  }
  return k2;
}

static uint64_t hash17to32(const char *s, size_t len) {
  uint64_t mul = k2 + len * 2, a = f64(s) * k1, b = f64(s + 8), c = f64(s + len - 8) * mul, d = f64(s + len - 16) * k2;
  return hash16(rot(a + b, 43) + rot(c, 30) + d, a + rot(b + k2, 18) + c, mul);
}

static uint64_t hash33to64(const char *s, size_t len) {
  uint64_t mul = k2 + len * 2, a = f64(s) * k2, b = f64(s + 8), c = f64(s + len - 8) * mul, d = f64(s + len - 16) * k2;
  uint64_t y = rot(a + b, 43) + rot(c, 30) + d, z = hash16(y, a + rot(b + k2, 18) + c, mul);
  uint64_t e = f64(s + 16) * mul, f = f64(s + 24), g = (y + f64(s + len - 32)) * mul, h = (z + f64(s + len - 24)) * mul;
  return hash16(rot(e + f, 43) + rot(g, 30) + h, e + rot(f + a, 18) + g, mul);
}

typedef struct u128 {
  uint64_t lo, hi;
} u128;

static u128 weak32(const char *s, uint64_t a, uint64_t b) {
  uint64_t w = f64(s), x = f64(s + 8), y = f64(s + 16), z = f64(s + 24);
  a += w;
  b = rot(b + a + z, 21);
  uint64_t c = a;
  a += x;
  a += y;
  b += rot(a, 44);
  return (u128){a + z, b + c};
}

uint64_t tl_fingerprint64(const char *s, size_t len);
uint64_t tl_fingerprint64(const char *s, size_t len) {
  if (len <= 16) return hash0to16(s, len);
  if (len <= 32) return hash17to32(s, len);
  if (len <= 64) return hash33to64(s, len);
  const uint64_t seed = 81;
  uint64_t x = seed, y = seed * k1 + 113, z = smix(y * k2 + 113) * k2, t;
  u128 v = {0, 0}, w = {0, 0};
  x = x * k2 + f64(s);
  const char *end = s + ((len - 1) / 64) * 64, *last64 = end + ((len - 1) & 63) - 63;
  do {
    x = rot(x + y + v.lo + f64(s + 8), 37) * k1;
    y = rot(y + v.hi + f64(s + 48), 42) * k1;
    x ^= w.hi;
    y += v.lo + f64(s + 40);
    z = rot(z + w.lo, 33) * k1;
    v = weak32(s, v.hi * k1, x + w.lo);
    w = weak32(s + 32, z + w.hi, y + f64(s + 16));
    t = z, z = x, x = t;
    s += 64;
  } while (s != end);
  uint64_t mul = k1 + ((z & 0xff) << 1);
  s = last64;
  w.lo += ((len - 1) & 63);
  v.lo += w.lo;
  w.lo += v.lo;
  x = rot(x + y + v.lo + f64(s + 8), 37) * mul;
  y = rot(y + v.hi + f64(s + 48), 42) * mul;
  x ^= w.hi * 9;
  y += v.lo * 9 + f64(s + 40);
  z = rot(z + w.lo, 33) * mul;
  v = weak32(s, v.hi * mul, x + w.lo);
  w = weak32(s + 32, z + w.hi, y + f64(s + 16));
  t = z, z = x, x = t;
  return hash16(hash16(v.lo, w.lo, mul) + smix(y) * k0 + z, hash16(v.hi, w.hi, mul) + x, mul);
}

static tl_status hash_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  tl_status s = tl_str_need(in[0], "input");
  if (s) return s;
  if (attr[0].i < 1) return tl_error(TL_INVALID_ARGUMENT, "num_buckets must be at least 1, got %" PRId64, attr[0].i);
  return same_shape_infer(in[0], TL_INT64, out);
}

typedef struct hash_job {
  const tl_string *x;
  int64_t *o;
  uint64_t buckets;
} hash_job;

static void hash_range(int64_t b, int64_t e, void *ctx) {
  const hash_job *j = ctx;
  for (int64_t i = b; i < e; i++)
    j->o[i] = (int64_t)(tl_fingerprint64(j->x[i].data ? j->x[i].data : "", (size_t)j->x[i].len) % j->buckets);
}

static tl_status hash_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *c;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) return tl_last_status();
  hash_job j = {x, tl_tensor_data(out->items[0]), (uint64_t)attr[0].i};
  tl_parallel_for(c->size, 16384, hash_range, &j);
  tl_tensor_release(c);
  return TL_OK;
}

/* ---- the records ------------------------------------------------------------ */

static const int upper_impl = 1;

tl_op_def tl_ops_strings[] = {
    {.name = "string_length", .inputs = "input", .attrs = "unit:string=BYTE", .infer = length_infer,
     .kernel[TL_CPU] = length_kernel, .flags = TL_STR_FLAGS, .api = "tf.strings.length",
     .doc = "Length of each string (int32), in bytes or (unit=\"UTF8_CHAR\") UTF-8 characters."},
    {.name = "substr", .inputs = "input, pos, len", .attrs = "unit:string=BYTE", .infer = substr_infer,
     .kernel[TL_CPU] = substr_kernel, .flags = TL_STR_FLAGS, .api = "tf.strings.substr",
     .doc = "Substrings from pos (negative: from the end) of len bytes or UTF-8 characters (broadcasting)."},
    {.name = "string_join", .inputs = "inputs[]", .attrs = "separator:string=", .infer = join_infer,
     .kernel[TL_CPU] = join_kernel, .flags = TL_STR_FLAGS, .api = "tf.strings.join",
     .doc = "Joins string tensors element-wise (broadcasting) with separator."},
    {.name = "reduce_join", .inputs = "inputs", .attrs = "axis:ints?, keepdims:bool=false, separator:string=",
     .infer = reduce_join_infer, .kernel[TL_CPU] = reduce_join_kernel, .flags = TL_STR_FLAGS,
     .api = "tf.strings.reduce_join", .doc = "Joins the strings along axis (all axes when absent) with separator."},
    {.name = "string_upper", .inputs = "input", .attrs = "encoding:string=", .infer = case_infer,
     .kernel[TL_CPU] = case_kernel, .flags = TL_STR_FLAGS, .api = "tf.strings.upper", .impl = &upper_impl,
     .doc = "Upper case: ASCII letters only, or every letter with encoding=\"utf-8\" (ICU)."},
    {.name = "string_lower", .inputs = "input", .attrs = "encoding:string=", .infer = case_infer,
     .kernel[TL_CPU] = case_kernel, .flags = TL_STR_FLAGS, .api = "tf.strings.lower",
     .doc = "Lower case: ASCII letters only, or every letter with encoding=\"utf-8\" (ICU)."},
    {.name = "string_strip", .inputs = "input", .infer = strip_infer, .kernel[TL_CPU] = strip_kernel,
     .flags = TL_STR_FLAGS, .api = "tf.strings.strip", .doc = "Strips leading and trailing ASCII whitespace."},
    {.name = "string_to_number", .inputs = "string_tensor", .attrs = "out_type:dtype=float32",
     .infer = to_number_infer, .kernel[TL_CPU] = to_number_kernel, .flags = TL_STR_FLAGS,
     .api = "tf.strings.to_number", .doc = "Parses each string as a number of out_type (float32, float64, int32, int64)."},
    {.name = "as_string", .inputs = "input",
     .attrs = "precision:int=-1, scientific:bool=false, shortest:bool=false, width:int=-1, fill:string=",
     .infer = as_string_infer, .kernel[TL_CPU] = as_string_kernel, .flags = TL_STR_FLAGS,
     .api = "tf.strings.as_string tf.as_string", .doc = "Formats each element as a string (TensorFlow's AsString options)."},
    {.name = "string_to_hash_bucket_fast", .inputs = "input", .attrs = "num_buckets:int", .infer = hash_infer,
     .kernel[TL_CPU] = hash_kernel, .flags = TL_STR_FLAGS, .api = "tf.strings.to_hash_bucket_fast",
     .doc = "Fingerprint64 of each string modulo num_buckets (int64), equal to TensorFlow's buckets."},
    {0},
};
