/* ops/strings_unicode.c — Unicode: utf-8 case mapping (ICU's ucasemap),
 * unicode_decode / encode / transcode / split, unicode_script (ICU's
 * uscript_getScript).
 *
 * Encodings: UTF-8, UTF-16-BE and UTF-32-BE, TensorFlow's set for
 * encode, decoded here by hand; decode and transcode also take any input
 * encoding ICU has a converter for (ISO-8859-1, Shift_JIS, UTF-16LE, ...),
 * as TensorFlow does. Ill-formed input
 * follows the errors attribute as in TensorFlow: "strict" fails naming the
 * string, "replace" puts replacement_char for each maximal ill-formed
 * subpart, "ignore" drops it; replace_control_characters maps C0/C1
 * controls to the replacement too. Decoding is done here by hand (it is
 * the hot path and three encodings); ICU supplies what needs its tables.
 */
#include "ops/strings.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unicode/ucasemap.h>
#include <unicode/ucnv.h>
#include <unicode/utf16.h>
#include <unicode/uscript.h>

tl_status tl_strings_case_utf8(tl_tensor *o, const tl_string *x, bool upper);
tl_status tl_strings_case_utf8(tl_tensor *o, const tl_string *x, bool upper) {
  UErrorCode err = U_ZERO_ERROR;
  UCaseMap *cm = ucasemap_open("", 0, &err);
  if (U_FAILURE(err)) return tl_error(TL_INTERNAL, "ICU: ucasemap_open: %s", u_errorName(err));
  tl_status s = TL_OK;
  char small[256];
  for (int64_t i = 0; i < o->size && !s; i++) {
    if (x[i].len > INT32_MAX / 4) {
      s = tl_error(TL_INVALID_ARGUMENT, "string %" PRId64 " is too long for case mapping", i);
      break;
    }
    int32_t cap = (int32_t)sizeof small, n;
    char *buf = small;
    for (;;) {
      err = U_ZERO_ERROR;
      n = (upper ? ucasemap_utf8ToUpper : ucasemap_utf8ToLower)(cm, buf, cap, x[i].data ? x[i].data : "",
                                                                (int32_t)x[i].len, &err);
      if (err != U_BUFFER_OVERFLOW_ERROR) break;
      if (buf != small) free(buf);
      cap = n + 1;
      if (!(buf = malloc((size_t)cap))) break;
    }
    if (!buf) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    else if (U_FAILURE(err)) s = tl_error(TL_INVALID_ARGUMENT, "case mapping of string %" PRId64 " failed: %s", i, u_errorName(err));
    else s = tl_string_set(o, i, buf, (size_t)n);
    if (buf && buf != small) free(buf);
  }
  ucasemap_close(cm);
  return s;
}

/* ---- encodings and the errors policy -------------------------------------- */

/* ENC_ICU: any other ICU converter name, for input encodings only (as TF). */
typedef enum enc { ENC_UTF8, ENC_UTF16BE, ENC_UTF32BE, ENC_COUNT, ENC_ICU } enc;
typedef enum errs { ERR_STRICT, ERR_REPLACE, ERR_IGNORE } errs;

static tl_status parse_enc(const char *name, const char *what, enc *e) {
  static const char *const names[] = {"UTF-8", "UTF-16-BE", "UTF-32-BE"};
  _Static_assert(sizeof names / sizeof names[0] == ENC_COUNT, "encodings");
  for (int k = 0; k < ENC_COUNT; k++)
    if (strcasecmp(name, names[k]) == 0 || (k == 0 && strcasecmp(name, "UTF8") == 0)) {
      *e = (enc)k;
      return TL_OK;
    }
  if (strcmp(what, "input_encoding") == 0) { /* any encoding ICU converts */
    UErrorCode err = U_ZERO_ERROR;
    UConverter *cv = ucnv_open(name, &err);
    if (U_SUCCESS(err)) {
      ucnv_close(cv);
      *e = ENC_ICU;
      return TL_OK;
    }
    return tl_error(TL_INVALID_ARGUMENT, "input_encoding \"%s\" is not an encoding ICU knows", name);
  }
  return tl_error(TL_INVALID_ARGUMENT, "%s \"%s\" is not supported (UTF-8, UTF-16-BE or UTF-32-BE)", what, name);
}

/* errors="replace" for ICU input: U+FFFD for each ill-formed sequence (ICU's
 * own substitute is the codepage's SUB, 0x1A, for many converters), which
 * icu_decode then turns into replacement_char. */
static void to_u_fffd(const void *ctx, UConverterToUnicodeArgs *args, const char *units, int32_t n,
                      UConverterCallbackReason reason, UErrorCode *err) {
  (void)ctx, (void)units, (void)n;
  if (reason > UCNV_IRREGULAR) return; /* reset, close, clone: nothing to write */
  static const UChar fffd = 0xFFFD;
  *err = U_ZERO_ERROR;
  ucnv_cbToUWriteUChars(args, &fffd, 1, 0, err);
}

/* A converter for an ICU input encoding under the errors policy: strict
 * stops, ignore skips, replace writes U+FFFD (then replacement_char). */
static tl_status icu_open(const char *name, errs er, UConverter **cv) {
  UErrorCode err = U_ZERO_ERROR;
  *cv = ucnv_open(name, &err);
  if (U_FAILURE(err)) return tl_error(TL_INVALID_ARGUMENT, "input_encoding \"%s\": %s", name, u_errorName(err));
  UConverterToUCallback cb = er == ERR_STRICT ? UCNV_TO_U_CALLBACK_STOP
                             : er == ERR_IGNORE ? UCNV_TO_U_CALLBACK_SKIP : to_u_fffd;
  ucnv_setToUCallBack(*cv, cb, NULL, NULL, NULL, &err);
  return TL_OK;
}

static tl_status parse_errs(const char *name, errs *e) {
  if (strcmp(name, "strict") == 0) *e = ERR_STRICT;
  else if (strcmp(name, "replace") == 0) *e = ERR_REPLACE;
  else if (strcmp(name, "ignore") == 0) *e = ERR_IGNORE;
  else return tl_error(TL_INVALID_ARGUMENT, "errors must be \"strict\", \"replace\" or \"ignore\", got \"%s\"", name);
  return TL_OK;
}

static bool valid_cp(int64_t cp) { return cp >= 0 && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF); }
static bool control(int32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

/* The next code point of s in encoding e, -1 when ill-formed. */
static int32_t next_cp(enc e, const unsigned char *s, int64_t n, int64_t *i) {
  if (e == ENC_UTF8) return tl_utf8_next(s, n, i);
  if (e == ENC_UTF32BE) {
    if (n - *i < 4) {
      *i = n;
      return -1;
    }
    uint32_t v = (uint32_t)s[*i] << 24 | (uint32_t)s[*i + 1] << 16 | (uint32_t)s[*i + 2] << 8 | s[*i + 3];
    *i += 4;
    return valid_cp(v) ? (int32_t)v : -1;
  }
  if (n - *i < 2) {
    *i = n;
    return -1;
  }
  uint32_t u = (uint32_t)s[*i] << 8 | s[*i + 1];
  *i += 2;
  if (u < 0xD800 || u > 0xDFFF) return (int32_t)u;
  if (u >= 0xDC00 || n - *i < 2) return -1;
  uint32_t l = (uint32_t)s[*i] << 8 | s[*i + 1];
  if (l < 0xDC00 || l > 0xDFFF) return -1;
  *i += 2;
  return (int32_t)(0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00));
}

/* Appends cp in encoding e; returns bytes written (out has 4 bytes room). */
static int put_cp(enc e, int32_t cp, char *out) {
  unsigned char *o = (unsigned char *)out;
  if (e == ENC_UTF8) return tl_utf8_put(cp, out);
  if (e == ENC_UTF32BE) {
    o[0] = (unsigned char)(cp >> 24), o[1] = (unsigned char)(cp >> 16), o[2] = (unsigned char)(cp >> 8), o[3] = (unsigned char)cp;
    return 4;
  }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(cp >> 8), o[1] = (unsigned char)cp;
    return 2;
  }
  uint32_t v = (uint32_t)cp - 0x10000, hi = 0xD800 + (v >> 10), lo = 0xDC00 + (v & 0x3FF);
  o[0] = (unsigned char)(hi >> 8), o[1] = (unsigned char)hi, o[2] = (unsigned char)(lo >> 8), o[3] = (unsigned char)lo;
  return 4;
}

/* Growable int32 list. */
typedef struct cps {
  int32_t *v;
  int64_t n, cap;
} cps;

static bool cps_push(cps *c, int32_t x) {
  if (c->n == c->cap) {
    int64_t cap = c->cap ? 2 * c->cap : 1024;
    int32_t *v = realloc(c->v, sizeof *v * (size_t)cap);
    if (!v) return false;
    c->v = v;
    c->cap = cap;
  }
  c->v[c->n++] = x;
  return true;
}

/* Decodes string k (index for messages) into c under the policy. */
/* The code points of x through an ICU converter. */
static tl_status icu_decode(UConverter *cv, errs er, int32_t repl, bool ctl, const tl_string *x, int64_t k, cps *c) {
  if (x->len == 0) return TL_OK;
  if (x->len > INT32_MAX / 4) return tl_error(TL_INVALID_ARGUMENT, "string %" PRId64 " is too long to convert", k);
  int32_t cap = (int32_t)x->len * 2 + 16;
  UChar *u = malloc(sizeof *u * (size_t)cap);
  if (!u) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  UErrorCode err = U_ZERO_ERROR;
  ucnv_reset(cv);
  int32_t n = ucnv_toUChars(cv, u, cap, x->data, (int32_t)x->len, &err);
  if (U_FAILURE(err)) {
    free(u);
    if (er == ERR_STRICT) return tl_error(TL_INVALID_ARGUMENT, "string %" PRId64 " is not valid text in its encoding (errors=\"strict\")", k);
    return tl_error(TL_INVALID_ARGUMENT, "string %" PRId64 " could not be converted: %s", k, u_errorName(err));
  }
  tl_status s = TL_OK;
  for (int32_t i = 0; i < n && !s;) {
    UChar32 cp;
    U16_NEXT(u, i, n, cp);
    if (cp == 0xFFFD || U_IS_SURROGATE(cp)) cp = repl;
    else if (ctl && control(cp)) cp = repl;
    if (!cps_push(c, cp)) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  free(u);
  return s;
}

static tl_status decode_one(enc e, errs er, int32_t repl, bool ctl, const tl_string *x, int64_t k, cps *c) {
  const unsigned char *s = (const unsigned char *)x->data;
  for (int64_t i = 0; i < x->len;) {
    int32_t cp = next_cp(e, s, x->len, &i);
    if (cp < 0) {
      if (er == ERR_STRICT)
        return tl_error(TL_INVALID_ARGUMENT, "string %" PRId64 " is not valid text in its encoding (errors=\"strict\")", k);
      if (er == ERR_IGNORE) continue;
      cp = repl;
    } else if (ctl && control(cp)) {
      cp = repl;
    }
    if (!cps_push(c, cp)) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  }
  return TL_OK;
}

/* attrs of decode: input_encoding, errors, replacement_char, replace_control_characters */
static tl_status decode_attrs(const tl_attr *attr, enc *e, errs *er) {
  tl_status s = parse_enc(attr[0].s, "input_encoding", e);
  if (!s) s = parse_errs(attr[1].s, er);
  if (!s && !valid_cp(attr[2].i))
    s = tl_error(TL_INVALID_ARGUMENT, "replacement_char %" PRId64 " is not a valid code point", attr[2].i);
  return s;
}

static tl_status decode_infer(TL_INFER_ARGS) {
  (void)n_in;
  tl_status s = tl_str_need(in[0], "input");
  enc e;
  errs er;
  if (!s) s = decode_attrs(attr, &e, &er);
  if (s) return s;
  if (in[0]->rank >= 0 && in[0]->rank != 1) return tl_error(TL_INVALID_ARGUMENT, "input must be a vector, got rank %d", in[0]->rank);
  return tl_str_push_ragged(out, op->impl ? TL_STRING : TL_INT32, in[0]->rank == 1 ? in[0]->shape[0] : -1);
}

static tl_status push_pair(tl_tensor_list *out, tl_tensor *v, tl_tensor *sp) {
  tl_status s = tl_list_push(out, v);
  if (s) {
    tl_tensor_release(sp);
    return s;
  }
  return tl_list_push(out, sp);
}

/* unicode_decode: code points; unicode_split (impl set): each character
 * re-encoded as its own string. */
static tl_status decode_kernel(TL_KERNEL_ARGS) {
  tl_meta_list m;
  tl_meta_list_init(&m);
  tl_status s = decode_infer(op, (const tl_meta *[]){&in[0]->meta}, n_in, attr, &m);
  tl_meta_list_free(&m);
  if (s) return s;
  enc e;
  errs er;
  decode_attrs(attr, &e, &er);
  UConverter *cv = NULL;
  if (e == ENC_ICU && (s = icu_open(attr[0].s, er, &cv))) return s;
  tl_tensor *c;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) {
    if (cv) ucnv_close(cv);
    return tl_last_status();
  }
  cps cp = {0};
  int64_t rows = c->size, nsp = rows + 1;
  tl_tensor *sp = NULL, *v = NULL;
  if ((s = tl_tensor_new(TL_INT64, 1, &nsp, &sp))) goto done;
  int64_t *so = tl_tensor_data(sp);
  so[0] = 0;
  for (int64_t r = 0; r < rows && !s; r++) {
    s = cv ? icu_decode(cv, er, (int32_t)attr[2].i, attr[3].b, &x[r], r, &cp)
           : decode_one(e, er, (int32_t)attr[2].i, attr[3].b, &x[r], r, &cp);
    so[r + 1] = cp.n;
  }
  if (s) goto done;
  if (!op->impl) {
    if ((s = tl_tensor_new(TL_INT32, 1, &cp.n, &v))) goto done;
    if (cp.n) memcpy(tl_tensor_data(v), cp.v, sizeof(int32_t) * (size_t)cp.n);
  } else {
    if ((s = tl_tensor_new(TL_STRING, 1, &cp.n, &v))) goto done;
    char *dst = cp.n ? tl_string_alloc(v, (size_t)cp.n * 4) : NULL;
    if (cp.n && !dst) {
      s = TL_RESOURCE_EXHAUSTED;
      goto done;
    }
    tl_string *vs = tl_tensor_data(v);
    enc oe = e == ENC_ICU ? ENC_UTF8 : e; /* characters of other encodings come out as UTF-8 */
    for (int64_t k = 0; k < cp.n; k++) {
      int b = put_cp(oe, cp.v[k], dst);
      vs[k] = (tl_string){dst, b};
      dst += b;
    }
  }
  s = push_pair(out, v, sp);
  v = sp = NULL;
done:
  if (cv) ucnv_close(cv);
  tl_tensor_release(v);
  tl_tensor_release(sp);
  free(cp.v);
  tl_tensor_release(c);
  return s;
}

/* ---- unicode_encode: rows of code points to strings --------------------------- */

static tl_status encode_one(enc e, errs er, int32_t repl, const int32_t *v, int64_t n, int64_t row, char *dst, int64_t *len) {
  int64_t b = 0;
  for (int64_t k = 0; k < n; k++) {
    int32_t cp = v[k];
    if (!valid_cp(cp)) {
      if (er == ERR_STRICT)
        return tl_error(TL_INVALID_ARGUMENT, "code point %" PRId32 " in row %" PRId64 " is not valid (errors=\"strict\")", cp, row);
      if (er == ERR_IGNORE) continue;
      cp = repl;
    }
    b += put_cp(e, cp, dst + b);
  }
  *len = b;
  return TL_OK;
}

/* inputs: values (int32), row_splits (int64); attrs: output_encoding, errors, replacement_char */
static tl_status encode_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  enc e;
  errs er;
  tl_status s = parse_enc(attr[0].s, "output_encoding", &e);
  if (!s) s = parse_errs(attr[1].s, &er);
  if (s) return s;
  if (in[0]->dtype != TL_INT32 || in[0]->rank != 1) return tl_error(TL_INVALID_ARGUMENT, "input values must be an int32 vector");
  if (in[1]->dtype != TL_INT64 || in[1]->rank != 1) return tl_error(TL_INVALID_ARGUMENT, "row_splits must be an int64 vector");
  int64_t n = in[1]->shape[0] < 0 ? -1 : in[1]->shape[0] - 1;
  if (in[1]->shape[0] == 0) return tl_error(TL_INVALID_ARGUMENT, "row_splits must have at least one entry");
  return tl_meta_push(out, TL_STRING, 1, &n) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status encode_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  enc e;
  errs er;
  parse_enc(attr[0].s, "output_encoding", &e);
  parse_errs(attr[1].s, &er);
  if (!valid_cp(attr[2].i))
    return tl_error(TL_INVALID_ARGUMENT, "replacement_char %" PRId64 " is not a valid code point", attr[2].i);
  tl_tensor *vc = NULL, *sc = NULL, *o = out->items[0];
  tl_status s;
  if ((s = tl_tensor_contiguous(in[0], &vc)) || (s = tl_tensor_contiguous(in[1], &sc))) goto done;
  const int32_t *v = tl_tensor_data(vc);
  const int64_t *sp = tl_tensor_data(sc);
  int64_t rows = o->size;
  if (sp[0] != 0 || sp[rows] != vc->size) {
    s = tl_error(TL_INVALID_ARGUMENT, "row_splits must start at 0 and end at the number of values (%" PRId64 ")", vc->size);
    goto done;
  }
  for (int64_t r = 0; r < rows; r++)
    if (sp[r + 1] < sp[r]) {
      s = tl_error(TL_INVALID_ARGUMENT, "row_splits must be non-decreasing");
      goto done;
    }
  char *dst = vc->size ? tl_string_alloc(o, (size_t)vc->size * 4) : NULL;
  if (vc->size && !dst) {
    s = TL_RESOURCE_EXHAUSTED;
    goto done;
  }
  tl_string *os = tl_tensor_data(o);
  for (int64_t r = 0; r < rows && !s; r++) {
    int64_t len = 0;
    s = encode_one(e, er, (int32_t)attr[2].i, v + sp[r], sp[r + 1] - sp[r], r, dst, &len);
    os[r] = (tl_string){len ? dst : NULL, len};
    dst += len;
  }
done:
  tl_tensor_release(vc);
  tl_tensor_release(sc);
  return s;
}

/* ---- unicode_transcode --------------------------------------------------------- */

/* attrs: input_encoding, output_encoding, errors, replacement_char, replace_control_characters */
static tl_status transcode_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  enc a, b;
  errs er;
  tl_status s = tl_str_need(in[0], "input");
  if (!s) s = parse_enc(attr[0].s, "input_encoding", &a);
  if (!s) s = parse_enc(attr[1].s, "output_encoding", &b);
  if (!s) s = parse_errs(attr[2].s, &er);
  if (!s && !valid_cp(attr[3].i))
    s = tl_error(TL_INVALID_ARGUMENT, "replacement_char %" PRId64 " is not a valid code point", attr[3].i);
  if (s) return s;
  return tl_meta_push_like(out, in[0], TL_STRING) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status transcode_kernel(TL_KERNEL_ARGS) {
  enc a, b;
  errs er;
  tl_meta_list m;
  tl_meta_list_init(&m);
  tl_status s = transcode_infer(op, (const tl_meta *[]){&in[0]->meta}, n_in, attr, &m);
  tl_meta_list_free(&m);
  if (s) return s;
  parse_enc(attr[0].s, "input_encoding", &a);
  parse_enc(attr[1].s, "output_encoding", &b);
  parse_errs(attr[2].s, &er);
  UConverter *cv = NULL;
  if (a == ENC_ICU && (s = icu_open(attr[0].s, er, &cv))) return s;
  tl_tensor *c, *o = out->items[0];
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) {
    if (cv) ucnv_close(cv);
    return tl_last_status();
  }
  cps cp = {0};
  char *buf = NULL;
  size_t cap = 0;
  for (int64_t i = 0; i < c->size && !s; i++) {
    cp.n = 0;
    if ((s = cv ? icu_decode(cv, er, (int32_t)attr[3].i, attr[4].b, &x[i], i, &cp)
                : decode_one(a, er, (int32_t)attr[3].i, attr[4].b, &x[i], i, &cp)))
      break;
    if ((size_t)cp.n * 4 > cap) {
      free(buf);
      cap = (size_t)cp.n * 4;
      if (!(buf = malloc(cap))) {
        s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
        break;
      }
    }
    int64_t len = 0;
    for (int64_t k = 0; k < cp.n; k++) len += put_cp(b, cp.v[k], buf + len);
    s = tl_string_set(o, i, buf, (size_t)len);
  }
  if (cv) ucnv_close(cv);
  free(buf);
  free(cp.v);
  tl_tensor_release(c);
  return s;
}

/* ---- unicode_script ------------------------------------------------------------- */

static tl_status script_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  if (in[0]->dtype != TL_INT32) return tl_error(TL_INVALID_ARGUMENT, "input must be int32 code points, got %s", tl_dtypes[in[0]->dtype].name);
  return tl_meta_push_like(out, in[0], TL_INT32) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

static tl_status script_kernel(TL_KERNEL_ARGS) {
  TL_UNUSED_KERNEL_ARGS;
  tl_tensor *c;
  tl_status s = tl_tensor_contiguous(in[0], &c);
  if (s) return s;
  const int32_t *x = tl_tensor_data(c);
  int32_t *o = tl_tensor_data(out->items[0]);
  for (int64_t i = 0; i < c->size; i++) {
    UErrorCode err = U_ZERO_ERROR;
    UScriptCode sc = uscript_getScript(x[i], &err);
    o[i] = U_FAILURE(err) || x[i] < 0 || x[i] > 0x10FFFF ? -1 : (int32_t)sc;
  }
  tl_tensor_release(c);
  return TL_OK;
}

static const int split_impl = 1;

tl_op_def tl_ops_strings_unicode[] = {
    {.name = "unicode_decode", .inputs = "input",
     .attrs = "input_encoding:string, errors:string=replace, replacement_char:int=65533, "
              "replace_control_characters:bool=false",
     .infer = decode_infer, .kernel[TL_CPU] = decode_kernel, .flags = TL_STR_FLAGS | TL_OP_VALUE_SHAPE, .api = "-",
     .doc = "Code points (int32 values, row_splits) of each string of a vector; tf.strings.unicode_decode wraps them."},
    {.name = "unicode_split", .inputs = "input",
     .attrs = "input_encoding:string, errors:string=replace, replacement_char:int=65533, "
              "replace_control_characters:bool=false",
     .infer = decode_infer, .kernel[TL_CPU] = decode_kernel, .flags = TL_STR_FLAGS | TL_OP_VALUE_SHAPE,
     .impl = &split_impl, .api = "-",
     .doc = "Characters (strings, row_splits) of each string of a vector; tf.strings.unicode_split wraps them."},
    {.name = "unicode_encode", .inputs = "values, row_splits",
     .attrs = "output_encoding:string, errors:string=replace, replacement_char:int=65533", .infer = encode_infer,
     .kernel[TL_CPU] = encode_kernel, .flags = TL_STR_FLAGS, .api = "-",
     .doc = "Strings from rows of int32 code points (ragged components); tf.strings.unicode_encode wraps it."},
    {.name = "unicode_transcode", .inputs = "input",
     .attrs = "input_encoding:string, output_encoding:string, errors:string=replace, replacement_char:int=65533, "
              "replace_control_characters:bool=false",
     .infer = transcode_infer, .kernel[TL_CPU] = transcode_kernel, .flags = TL_STR_FLAGS,
     .api = "tf.strings.unicode_transcode", .doc = "Re-encodes each string (UTF-8, UTF-16-BE, UTF-32-BE)."},
    {.name = "unicode_script", .inputs = "input", .infer = script_infer, .kernel[TL_CPU] = script_kernel,
     .flags = TL_STR_FLAGS, .api = "tf.strings.unicode_script",
     .doc = "ICU script code (UScriptCode, int32) of each code point; -1 for invalid ones."},
    {0},
};
