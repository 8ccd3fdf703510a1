/* format.c — printing tensors the way TensorFlow (through numpy) does.
 *
 *   tf.Tensor(
 *   [[1.  2.5]
 *    [3.  4. ]], shape=(2, 2), dtype=float32)
 *
 * The layout follows numpy's array2string (str form, numpy >= 1.14): one
 * formatter per tensor built from the elements that are shown, so all
 * floats share one number of decimals (or scientific notation when the
 * range calls for it), columns align, rows wrap at the line width, and
 * tensors with more than `threshold` elements show `edgeitems` at each end
 * of every long dimension around "...". Floats print the shortest digits
 * that read back to the same value in their own dtype, capped at
 * `precision` decimals (numpy's "maxprec" mode). Scalars print like numpy
 * scalars (3.5, 1e-05, (1+2j)).
 *
 * Choices where TensorFlow's Python spelling does not suit Lua: booleans
 * print as true/false (Lua's literals), strings in double quotes with Lua
 * escapes. Nothing here allocates per element beyond the shown words.
 * Tensors on other devices print from a host copy (tl_tensor_copy_to).
 */
#include "tl.h"
#include "core/buf.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growable string (core/buf.h) --------------------------------------- */

static void sb_spaces(tl_buf *b, int n) {
  for (int i = 0; i < n; i++) tl_buf_put(b, " ", 1);
}

/* ---- shortest digits --------------------------------------------------- */

/* Rounds a double to dtype d and back, to test round-tripping. */
static double to_dtype(double v, tl_dtype d) {
  switch (d) {
  case TL_FLOAT32:
  case TL_COMPLEX64: return (float)v;
  case TL_FLOAT16: return tl_half_to_float(tl_float_to_half((float)v));
  case TL_BFLOAT16: return tl_bf16_to_float(tl_float_to_bf16((float)v));
  default: return v;
  }
}

/* The shortest decimal digits of |x| (finite) that read back as x in dtype
 * d: digits without a point, and the exponent e of the first digit
 * (x = d.ddd * 10^e). */
typedef struct digits {
  char d[32];
  int n, e;
} digits;

static void shortest(double x, tl_dtype d, digits *out) {
  x = fabs(x);
  if (x == 0) {
    strcpy(out->d, "0");
    out->n = 1;
    out->e = 0;
    return;
  }
  char buf[48];
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, sizeof buf, "%.*e", p - 1, x);
    if (p == 17 || to_dtype(strtod(buf, NULL), d) == x) break;
  }
  /* buf is "d.ddde+XX" */
  int n = 0;
  char *c = buf;
  for (; *c && *c != 'e'; c++)
    if (*c != '.') out->d[n++] = *c;
  out->e = atoi(c + 1);
  while (n > 1 && out->d[n - 1] == '0') n--;
  out->d[n] = 0;
  out->n = n;
}

/* Digits of |x| rounded at `frac` decimals (positional) or `frac` digits
 * after the first (scientific), trailing zeros dropped. */
static void rounded(double x, int frac, bool sci, digits *out) {
  char buf[400];
  snprintf(buf, sizeof buf, sci ? "%.*e" : "%.*f", frac, fabs(x));
  int n = 0, intlen = 0;
  bool seen_point = false, lead = true;
  char *c = buf;
  for (; *c && *c != 'e'; c++) {
    if (*c == '.') {
      seen_point = true;
      continue;
    }
    if (!seen_point) intlen++;
    if (lead && *c == '0' && !sci) { /* leading zeros shift the exponent */
      continue;
    }
    lead = false;
    if (n < (int)sizeof out->d - 1) out->d[n++] = *c;
  }
  if (sci) {
    out->e = atoi(c + 1);
  } else if (n == 0) {
    out->d[n++] = '0';
    out->e = 0;
  } else {
    /* position of the first significant digit relative to the point */
    int zeros = 0; /* significant digits start after `zeros` leading zeros */
    for (const char *q = buf; *q; q++) {
      if (*q == '.') continue;
      if (*q != '0') break;
      zeros++;
    }
    out->e = intlen - 1 - zeros;
  }
  while (n > 1 && out->d[n - 1] == '0') n--;
  out->d[n] = 0;
  out->n = n;
}

/* ---- dragon4-like positional / scientific ------------------------------ */

/* trim modes, as numpy's: 'k' keep (pad to min_digits), '.' drop zeros keep
 * the point ("1."), '0' keep one zero ("1.0"), '-' drop zeros and point. */
typedef struct fparts {
  char intp[400]; /* with sign */
  char frac[400];
  char exp[16];   /* scientific only: "e+05" */
  bool has_point;
} fparts;

static void positional(double x, tl_dtype d, int precision, int min_digits, char trim, bool plus,
                       fparts *f) {
  digits g;
  shortest(x, d, &g);
  int nfrac = g.n - 1 - g.e;
  /* Past the shortest digits numpy prints the exact value's next digits
   * (min_digits), not zeros. */
  if (precision >= 0 && nfrac > precision) rounded(x, precision, false, &g);
  else if (trim == 'k' && nfrac < min_digits) rounded(x, min_digits, false, &g);
  char *ip = f->intp, *fp = f->frac;
  if (signbit(x)) *ip++ = '-';
  else if (plus) *ip++ = '+';
  if (g.e < 0) {
    *ip++ = '0';
    for (int i = 0; i < -g.e - 1; i++) *fp++ = '0';
    for (int i = 0; i < g.n; i++) *fp++ = g.d[i];
  } else {
    for (int i = 0; i <= g.e; i++) *ip++ = i < g.n ? g.d[i] : '0';
    for (int i = g.e + 1; i < g.n; i++) *fp++ = g.d[i];
  }
  *ip = 0;
  *fp = 0;
  if (g.n == 1 && g.d[0] == '0') f->frac[0] = 0;
  size_t fl = strlen(f->frac);
  if (trim == 'k')
    while ((int)fl < min_digits) f->frac[fl++] = '0';
  else if (trim == '0' && fl == 0)
    f->frac[fl++] = '0';
  f->frac[fl] = 0;
  f->has_point = !(trim == '-' && fl == 0);
  f->exp[0] = 0;
}

static void scientific(double x, tl_dtype d, int precision, int min_digits, char trim, bool plus,
                       int exp_digits, fparts *f) {
  digits g;
  shortest(x, d, &g);
  if (precision >= 0 && g.n - 1 > precision) rounded(x, precision, true, &g);
  else if (trim == 'k' && g.n - 1 < min_digits && x != 0) rounded(x, min_digits, true, &g);
  char *ip = f->intp;
  if (signbit(x)) *ip++ = '-';
  else if (plus) *ip++ = '+';
  *ip++ = g.d[0];
  *ip = 0;
  size_t fl = 0;
  for (int i = 1; i < g.n; i++) f->frac[fl++] = g.d[i];
  if (trim == 'k')
    while ((int)fl < min_digits) f->frac[fl++] = '0';
  else if (trim == '0' && fl == 0)
    f->frac[fl++] = '0';
  f->frac[fl] = 0;
  f->has_point = !(trim == '-' && fl == 0);
  int e = x == 0 ? 0 : g.e;
  int ed = exp_digits > 2 ? (exp_digits < 5 ? exp_digits : 5) : 2;
  snprintf(f->exp, sizeof f->exp, "e%c%0*d", e < 0 ? '-' : '+', ed, e < 0 ? -e : e);
}

/* ---- numpy's FloatingFormat -------------------------------------------- */

typedef struct ffmt {
  tl_dtype dt;
  bool exp_format, plus;
  int precision, min_digits;
  char trim;
  int pad_left, pad_right, exp_size;
} ffmt;

static void ffmt_init(ffmt *f, const double *v, int64_t n, tl_dtype dt, int precision, bool plus) {
  memset(f, 0, sizeof *f);
  f->dt = dt;
  f->plus = plus;
  f->precision = precision;
  double mx = 0, mn = INFINITY;
  int64_t nfinite = 0;
  bool nonfinite = false, neginf = false;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(v[i])) {
      nonfinite = true;
      if (v[i] < 0) neginf = true;
      continue;
    }
    nfinite++;
    double a = fabs(v[i]);
    if (a == 0) continue;
    if (a > mx) mx = a;
    if (a < mn) mn = a;
  }
  if (mx > 0 && (mx >= 1e8 || mn < 1e-4 || mx / mn > 1000.0)) f->exp_format = true;
  if (nfinite == 0) {
    f->pad_left = f->pad_right = 0;
    f->trim = '.';
    f->exp_size = -1;
    f->min_digits = -1;
  } else if (f->exp_format) {
    int maxfrac = 0, maxint = 0, maxexp = 0;
    for (int64_t i = 0; i < n; i++) {
      if (!isfinite(v[i])) continue;
      fparts p;
      scientific(v[i], dt, precision, -1, '.', plus, -1, &p);
      int fl = (int)strlen(p.frac), il = (int)strlen(p.intp), el = (int)strlen(p.exp) - 2;
      if (fl > maxfrac) maxfrac = fl;
      if (il > maxint) maxint = il;
      if (el > maxexp) maxexp = el;
    }
    f->exp_size = maxexp;
    f->trim = 'k';
    f->precision = maxfrac;
    f->min_digits = maxfrac;
    f->pad_left = maxint;
    f->pad_right = f->exp_size + 2 + f->precision;
  } else {
    int maxfrac = 0, maxint = 0;
    for (int64_t i = 0; i < n; i++) {
      if (!isfinite(v[i])) continue;
      fparts p;
      positional(v[i], dt, precision, 0, '.', plus, &p);
      int fl = (int)strlen(p.frac), il = (int)strlen(p.intp);
      if (fl > maxfrac) maxfrac = fl;
      if (il > maxint) maxint = il;
    }
    f->pad_left = maxint;
    f->pad_right = maxfrac;
    f->exp_size = -1;
    f->trim = '.';
    f->min_digits = 0;
  }
  if (nonfinite) {
    int offset = f->pad_right + 1, inflen = 3 + (plus || neginf);
    if (3 - offset > f->pad_left) f->pad_left = 3 - offset;
    if (inflen - offset > f->pad_left) f->pad_left = inflen - offset;
  }
}

static void ffmt_word(const ffmt *f, double x, tl_buf *b) {
  if (!isfinite(x)) {
    const char *s = isnan(x) ? (f->plus ? "+nan" : "nan") : x < 0 ? "-inf" : f->plus ? "+inf" : "inf";
    sb_spaces(b, f->pad_left + f->pad_right + 1 - (int)strlen(s));
    tl_buf_puts(b, s);
    return;
  }
  fparts p;
  if (f->exp_format) {
    scientific(x, f->dt, f->precision, f->min_digits, f->trim, f->plus, f->exp_size, &p);
    sb_spaces(b, f->pad_left - (int)strlen(p.intp));
    tl_buf_puts(b, p.intp);
    if (p.has_point) tl_buf_puts(b, ".");
    tl_buf_puts(b, p.frac);
    tl_buf_puts(b, p.exp);
  } else {
    positional(x, f->dt, f->precision, f->min_digits, f->trim, f->plus, &p);
    sb_spaces(b, f->pad_left - (int)strlen(p.intp));
    tl_buf_puts(b, p.intp);
    if (p.has_point) tl_buf_puts(b, ".");
    tl_buf_puts(b, p.frac);
    sb_spaces(b, f->pad_right - (int)strlen(p.frac));
  }
}

/* A numpy scalar's str: positional shortest for 1e-4 <= |x| < 1e16 (and
 * zero) with one trailing zero kept, else scientific without the point. */
static void scalar_float(double x, tl_dtype dt, bool plus, char trim_pos, tl_buf *b) {
  if (!isfinite(x)) {
    tl_buf_puts(b, isnan(x) ? (plus ? "+nan" : "nan") : x < 0 ? "-inf" : plus ? "+inf" : "inf");
    return;
  }
  fparts p;
  double a = fabs(x);
  if (a == 0 || (a >= 1e-4 && a < 1e16)) positional(x, dt, -1, 0, trim_pos, plus, &p);
  else scientific(x, dt, -1, 0, '-', plus, -1, &p);
  tl_buf_puts(b, p.intp);
  if (p.has_point) tl_buf_puts(b, ".");
  tl_buf_puts(b, p.frac);
  tl_buf_puts(b, p.exp);
}

/* ---- element formatters ------------------------------------------------ */

typedef enum wkind { W_FLOAT, W_INT, W_UINT, W_BOOL, W_COMPLEX, W_STRING } wkind;

typedef struct formatter {
  wkind kind;
  tl_dtype dt;
  ffmt re, im;   /* floats; complex real/imag parts */
  int width;     /* ints */
  bool cquote;   /* strings as tf.print writes them (values_only) */
} formatter;

static wkind kind_of(tl_dtype d) {
  switch (tl_dtypes[d].kind) {
  case TL_KIND_FLOAT: return W_FLOAT;
  case TL_KIND_INT: return W_INT;
  case TL_KIND_UINT: return W_UINT;
  case TL_KIND_BOOL: return W_BOOL;
  case TL_KIND_COMPLEX: return W_COMPLEX;
  default: return W_STRING;
  }
}

/* As TensorFlow 2 prints a string element: Python's repr of bytes (b'...',
 * or b"..." when the bytes hold ' and no "), every byte outside printable
 * ASCII as \xNN, UTF-8 included. */
static void put_string(const tl_string *s, tl_buf *b) {
  bool sq = false, dq = false;
  for (int64_t i = 0; s->data && i < s->len; i++) {
    sq |= s->data[i] == '\'';
    dq |= s->data[i] == '"';
  }
  char q = sq && !dq ? '"' : '\'';
  tl_buf_put(b, "b", 1);
  tl_buf_put(b, &q, 1);
  for (int64_t i = 0; s->data && i < s->len; i++) {
    unsigned char c = (unsigned char)s->data[i];
    char e[8];
    if (c == (unsigned char)q || c == '\\') {
      e[0] = '\\';
      e[1] = (char)c;
      tl_buf_put(b, e, 2);
    } else if (c == '\n') tl_buf_puts(b, "\\n");
    else if (c == '\t') tl_buf_puts(b, "\\t");
    else if (c == '\r') tl_buf_puts(b, "\\r");
    else if (c < 32 || c >= 127) {
      snprintf(e, sizeof e, "\\x%02x", c);
      tl_buf_puts(b, e);
    } else {
      tl_buf_put(b, (const char *)&c, 1);
    }
  }
  tl_buf_put(b, &q, 1);
}

/* As tf.print writes a string: double quotes and C escapes (absl's
 * CEscape: \n \r \t \" \' \\, other bytes outside printable ASCII as
 * three octal digits). */
static void put_cstring(const tl_string *s, tl_buf *b) {
  tl_buf_put(b, "\"", 1);
  for (int64_t i = 0; s->data && i < s->len; i++) {
    unsigned char c = (unsigned char)s->data[i];
    char e[8];
    switch (c) {
    case '\n': tl_buf_puts(b, "\\n"); break;
    case '\r': tl_buf_puts(b, "\\r"); break;
    case '\t': tl_buf_puts(b, "\\t"); break;
    case '"': tl_buf_puts(b, "\\\""); break;
    case '\'': tl_buf_puts(b, "\\'"); break;
    case '\\': tl_buf_puts(b, "\\\\"); break;
    default:
      if (c < 32 || c >= 127) {
        snprintf(e, sizeof e, "\\%03o", c);
        tl_buf_puts(b, e);
      } else {
        tl_buf_put(b, (const char *)&c, 1);
      }
    }
  }
  tl_buf_put(b, "\"", 1);
}

static void word(const formatter *f, const tl_tensor *t, int64_t off, bool scalar, tl_buf *b) {
  const void *base = t->storage->data;
  char buf[48];
  switch (f->kind) {
  case W_FLOAT: {
    double x = tl_load_f64(base, t->dtype, off);
    if (scalar) scalar_float(x, t->dtype, false, '0', b);
    else ffmt_word(&f->re, x, b);
    break;
  }
  case W_INT:
  case W_UINT: {
    int64_t v = tl_load_i64(base, t->dtype, off);
    snprintf(buf, sizeof buf, "%" PRId64, v);
    sb_spaces(b, f->width - (int)strlen(buf));
    tl_buf_puts(b, buf);
    break;
  }
  case W_BOOL:
    tl_buf_puts(b, tl_load_i64(base, t->dtype, off) ? (scalar ? "true" : " true") : "false");
    break;
  case W_COMPLEX: {
    const float *c = (const float *)base + 2 * off;
    double re = c[0], im = c[1];
    if (scalar) { /* Python's complex str: 2j, (1+2j), (-0-1j) */
      bool bare = re == 0 && !signbit(re);
      if (!bare) tl_buf_puts(b, "(");
      if (!bare) scalar_float(re, TL_COMPLEX64, false, '-', b);
      scalar_float(im, TL_COMPLEX64, !bare, '-', b);
      tl_buf_puts(b, bare ? "j" : "j)");
      break;
    }
    ffmt_word(&f->re, re, b);
    tl_buf ib = {0};
    ffmt_word(&f->im, im, &ib);
    if (ib.oom) {
      b->oom = true;
      break;
    }
    size_t sp = ib.n;
    while (sp > 0 && ib.p[sp - 1] == ' ') sp--;
    tl_buf_put(b, ib.p, sp);
    tl_buf_put(b, "j", 1);
    tl_buf_put(b, ib.p + sp, ib.n - sp);
    free(ib.p);
    break;
  }
  case W_STRING:
    if (f->cquote) put_cstring((const tl_string *)base + off, b);
    else put_string((const tl_string *)base + off, b);
    break;
  }
}

/* ---- the shown elements ------------------------------------------------ */

typedef struct layout {
  const tl_tensor *t;
  bool summarise;
  int edge;
  int linewidth;
  const formatter *f;
  tl_buf *out;
} layout;

static bool dim_summarised(const layout *L, int d) {
  return L->summarise && L->t->shape[d] > 2 * (int64_t)L->edge;
}

/* Visits the offsets of shown elements in order (calls fn for each). */
typedef void (*visit_fn)(int64_t off, void *ctx);
static void visit(const layout *L, int d, int64_t off, visit_fn fn, void *ctx) {
  const tl_tensor *t = L->t;
  if (d == t->rank) {
    fn(off, ctx);
    return;
  }
  int64_t n = t->shape[d];
  bool s = dim_summarised(L, d);
  for (int64_t i = 0; i < n; i++) {
    if (s && i == L->edge) i = n - L->edge;
    visit(L, d + 1, off + i * t->strides[d], fn, ctx);
  }
}

typedef struct gather {
  const tl_tensor *t;
  double *re, *im;
  int64_t n;
  int width;
} gather;

static void gather_one(int64_t off, void *ctx) {
  gather *g = ctx;
  const void *base = g->t->storage->data;
  switch (kind_of(g->t->dtype)) {
  case W_FLOAT: g->re[g->n] = tl_load_f64(base, g->t->dtype, off); break;
  case W_COMPLEX:
    g->re[g->n] = ((const float *)base)[2 * off];
    g->im[g->n] = ((const float *)base)[2 * off + 1];
    break;
  case W_INT:
  case W_UINT: {
    char buf[32];
    int w = snprintf(buf, sizeof buf, "%" PRId64, tl_load_i64(base, g->t->dtype, off));
    if (w > g->width) g->width = w;
    break;
  }
  default: break;
  }
  g->n++;
}

/* ---- numpy's _formatArray ---------------------------------------------- */

static void strip_trailing_spaces(tl_buf *b) {
  while (b->n > 0 && b->p[b->n - 1] == ' ') b->n--;
  if (b->p) b->p[b->n] = 0;
}

/* hang: the hanging indent's width (depth + 1); width: numpy's curr_width. */
static void rec(const layout *L, int d, int64_t off, int hang, int width) {
  const tl_tensor *t = L->t;
  tl_buf *b = L->out;
  int64_t n = t->shape[d];
  bool s = dim_summarised(L, d);
  tl_buf_put(b, "[", 1);
  if (d == t->rank - 1) {
    int elem_width = width - 1, line = hang;
    for (int64_t i = 0; i < n; i++) {
      bool dots = s && i == L->edge;
      if (dots) i = n - L->edge - 1;
      tl_buf w = {0};
      if (dots) tl_buf_puts(&w, "...");
      else word(L->f, t, off + i * t->strides[d], false, &w);
      if (w.oom) b->oom = true;
      int wl = (int)w.n;
      if (line + wl > elem_width && line > hang) {
        strip_trailing_spaces(b);
        tl_buf_put(b, "\n", 1);
        sb_spaces(b, hang);
        line = hang;
      }
      if (w.p) tl_buf_put(b, w.p, w.n);
      free(w.p);
      line += wl;
      if (i < n - 1) {
        tl_buf_put(b, " ", 1);
        line++;
      }
    }
  } else {
    int axes_left = t->rank - d;
    for (int64_t i = 0; i < n; i++) {
      if (i > 0) sb_spaces(b, hang);
      if (s && i == L->edge) {
        tl_buf_puts(b, "...");
        for (int k = 0; k < axes_left - 1; k++) tl_buf_put(b, "\n", 1);
        sb_spaces(b, hang);
        i = n - L->edge;
      }
      rec(L, d + 1, off + i * t->strides[d], hang + 1, width - 1);
      if (i < n - 1)
        for (int k = 0; k < axes_left - 1; k++) tl_buf_put(b, "\n", 1);
    }
  }
  tl_buf_put(b, "]", 1);
}

/* ---- entry ------------------------------------------------------------- */

static tl_status format_host(const tl_tensor *t, const tl_print_opts *opts, char **out) {
  tl_print_opts o = {1000, 3, 8, 75, false};
  if (opts) {
    if (opts->threshold >= 0) o.threshold = opts->threshold;
    if (opts->edgeitems >= 0) o.edgeitems = opts->edgeitems;
    if (opts->precision >= 0) o.precision = opts->precision;
    if (opts->linewidth > 0) o.linewidth = opts->linewidth;
  }
  *out = NULL;
  tl_buf text = {0};
  formatter f;
  memset(&f, 0, sizeof f);
  f.kind = kind_of(t->dtype);
  f.dt = t->dtype;
  f.cquote = opts && opts->values_only;
  tl_status s = TL_OK;
  double *re = NULL, *im = NULL;
  if (t->size == 0) {
    tl_buf_puts(&text, "[]");
  } else if (t->rank == 0) {
    word(&f, t, t->offset, true, &text);
  } else {
    layout L = {t, t->size > o.threshold, o.edgeitems, o.linewidth, &f, &text};
    /* how many elements are shown */
    int64_t shown = 1;
    for (int d = 0; d < t->rank; d++)
      shown *= dim_summarised(&L, d) ? 2 * (int64_t)o.edgeitems : t->shape[d];
    if (f.kind == W_FLOAT || f.kind == W_COMPLEX) {
      re = malloc(sizeof *re * (size_t)shown);
      im = f.kind == W_COMPLEX ? malloc(sizeof *im * (size_t)shown) : NULL;
      if (!re || (f.kind == W_COMPLEX && !im)) {
        s = tl_error(TL_RESOURCE_EXHAUSTED, "format: out of memory");
        goto fail;
      }
    }
    gather g = {t, re, im, 0, 0};
    if (f.kind != W_BOOL && f.kind != W_STRING) visit(&L, 0, t->offset, gather_one, &g);
    f.width = g.width;
    if (f.kind == W_FLOAT) ffmt_init(&f.re, re, g.n, t->dtype, o.precision, false);
    if (f.kind == W_COMPLEX) {
      ffmt_init(&f.re, re, g.n, t->dtype, o.precision, false);
      ffmt_init(&f.im, im, g.n, t->dtype, o.precision, true);
    }
    rec(&L, 0, t->offset, 1, o.linewidth);
  }
  if (text.oom) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "format: out of memory");
    goto fail;
  }
  if (opts && opts->values_only) {
    *out = text.p;
    text.p = NULL;
    goto fail;
  }
  {
    tl_buf r = {0};
    tl_buf_puts(&r, "tf.Tensor(");
    if (strchr(text.p, '\n')) tl_buf_puts(&r, "\n");
    tl_buf_puts(&r, text.p);
    tl_buf_puts(&r, ", shape=(");
    for (int d = 0; d < t->rank; d++) {
      char buf[32];
      snprintf(buf, sizeof buf, d ? ", %" PRId64 : "%" PRId64, t->shape[d]);
      tl_buf_puts(&r, buf);
    }
    tl_buf_puts(&r, t->rank == 1 ? ",), dtype=" : "), dtype=");
    tl_buf_puts(&r, tl_dtypes[t->dtype].name);
    tl_buf_puts(&r, ")");
    if (r.oom) {
      free(r.p);
      s = tl_error(TL_RESOURCE_EXHAUSTED, "format: out of memory");
      goto fail;
    }
    *out = r.p;
  }
fail:
  free(re);
  free(im);
  free(text.p);
  return s;
}

/* Device memory is never read here: a tensor on another device is printed
 * from an explicit host copy (as TensorFlow copies to print). */
tl_status tl_tensor_format(const tl_tensor *t, const tl_print_opts *opts, char **out) {
  if (t->sym_value) {
    char d[200], *p = malloc(260);
    if (!p) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    snprintf(p, 260, "<symbolic %s>", tl_tensor_describe(t, d, sizeof d));
    *out = p;
    return TL_OK;
  }
  if (t->storage->device == TL_CPU) return format_host(t, opts, out);
  tl_tensor *host;
  *out = NULL;
  tl_status s = tl_tensor_copy_to((tl_tensor *)t, TL_CPU, &host); /* only retains when already there */
  if (s) return s;
  s = format_host(host, opts, out);
  tl_tensor_release(host);
  return s;
}
