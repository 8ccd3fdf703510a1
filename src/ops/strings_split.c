/* ops/strings_split.c — tf.strings ops whose results are ragged: split,
 * bytes_split, ngrams. Each returns the two components of a ragged tensor
 * over the rows of a vector (values, int64 row_splits); the Lua side
 * (stdlib/tlua/strings.lua) wraps them into a RaggedTensor and handles
 * other ranks. Shapes depend on values (TL_OP_VALUE_SHAPE): the kernels
 * count first, then allocate and fill.
 *
 * split follows StringSplitV2: an empty sep splits on runs of ASCII
 * whitespace and drops empty pieces; a non-empty sep splits on every
 * occurrence and keeps empty pieces (an empty string is one empty piece);
 * maxsplit > 0 stops after that many splits (the rest is the last piece).
 */
#include "ops/strings.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static bool ws(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Pieces of one string as (start, len) pairs appended to a growable list. */
typedef struct pieces {
  int64_t *p; /* 2 per piece */
  int64_t n, cap;
} pieces;

static bool push_piece(pieces *ps, int64_t a, int64_t len) {
  if (ps->n == ps->cap) {
    int64_t cap = ps->cap ? ps->cap * 2 : 1024;
    int64_t *p = realloc(ps->p, sizeof *p * 2 * (size_t)cap);
    if (!p) return false;
    ps->p = p;
    ps->cap = cap;
  }
  ps->p[2 * ps->n] = a;
  ps->p[2 * ps->n + 1] = len;
  ps->n++;
  return true;
}

static bool split_one(const tl_string *e, const char *sep, size_t seplen, int64_t maxsplit, pieces *ps) {
  const char *s = e->data;
  int64_t n = e->len, splits = 0;
  if (seplen == 0) {
    int64_t i = 0;
    while (i < n) {
      while (i < n && ws(s[i])) i++;
      if (i >= n) break;
      int64_t a = i;
      if (maxsplit > 0 && splits == maxsplit) return push_piece(ps, a, n - a); /* TF keeps its trailing space */
      while (i < n && !ws(s[i])) i++;
      if (!push_piece(ps, a, i - a)) return false;
      splits++;
    }
    return true;
  }
  int64_t a = 0; /* an empty string is one empty piece, as in TensorFlow */
  for (int64_t i = 0; i + (int64_t)seplen <= n;) {
    if ((maxsplit <= 0 || splits < maxsplit) && s[i] == sep[0] && memcmp(s + i, sep, seplen) == 0) {
      if (!push_piece(ps, a, i - a)) return false;
      splits++;
      i += (int64_t)seplen;
      a = i;
    } else {
      i++;
    }
  }
  return push_piece(ps, a, n - a);
}

static tl_status vector_input(const tl_meta *m, const char *what) {
  tl_status s = tl_str_need(m, what);
  if (s) return s;
  if (m->rank >= 0 && m->rank != 1) return tl_error(TL_INVALID_ARGUMENT, "%s must be a vector, got rank %d", what, m->rank);
  return TL_OK;
}

static tl_status split_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = vector_input(in[0], "input");
  return s ? s : tl_str_push_ragged(out, TL_STRING, in[0]->rank == 1 ? in[0]->shape[0] : -1);
}

/* Values of the pieces (copied into one block of values' arena) and the
 * splits of rows with counts[r] pieces each. */
static tl_status emit(const tl_string *x, int64_t rows, const pieces *ps, const int64_t *piece_row,
                      const int64_t *row_end, tl_tensor_list *out) {
  (void)piece_row;
  tl_tensor *v, *sp;
  int64_t nv = ps->n, nsp = rows + 1;
  tl_status s = tl_tensor_new(TL_STRING, 1, &nv, &v);
  if (s) return s;
  if ((s = tl_tensor_new(TL_INT64, 1, &nsp, &sp))) {
    tl_tensor_release(v);
    return s;
  }
  size_t total = 0;
  for (int64_t k = 0; k < ps->n; k++) total += (size_t)ps->p[2 * k + 1];
  char *dst = total ? tl_string_alloc(v, total) : NULL;
  if (total && !dst) {
    tl_tensor_release(v);
    tl_tensor_release(sp);
    return TL_RESOURCE_EXHAUSTED;
  }
  tl_string *vs = tl_tensor_data(v);
  int64_t *so = tl_tensor_data(sp);
  so[0] = 0;
  int64_t k = 0;
  for (int64_t r = 0; r < rows; r++) {
    for (; k < row_end[r]; k++) {
      int64_t a = ps->p[2 * k], len = ps->p[2 * k + 1];
      vs[k].len = len;
      vs[k].data = len ? dst : NULL;
      if (len) memcpy(dst, x[r].data + a, (size_t)len);
      dst += len;
    }
    so[r + 1] = row_end[r];
  }
  if ((s = tl_list_push(out, v))) {
    tl_tensor_release(sp);
    return s;
  }
  return tl_list_push(out, sp);
}

static tl_status split_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_status s = vector_input(&in[0]->meta, "input");
  if (s) return s;
  tl_tensor *c;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) return tl_last_status();
  const char *sep = attr[0].s;
  size_t seplen = strlen(sep);
  pieces ps = {0};
  int64_t rows = c->size;
  int64_t *row_end = malloc(sizeof *row_end * (size_t)(rows ? rows : 1));
  s = row_end ? TL_OK : tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int64_t r = 0; r < rows && !s; r++) {
    if (!split_one(&x[r], sep, seplen, attr[1].i, &ps)) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    row_end[r] = ps.n;
  }
  if (!s) s = emit(x, rows, &ps, NULL, row_end, out);
  free(ps.p);
  free(row_end);
  tl_tensor_release(c);
  return s;
}

/* ---- bytes_split ------------------------------------------------------------ */

static tl_status bytes_split_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = vector_input(&in[0]->meta, "input");
  if (s) return s;
  tl_tensor *c;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) return tl_last_status();
  pieces ps = {0};
  int64_t rows = c->size;
  int64_t *row_end = malloc(sizeof *row_end * (size_t)(rows ? rows : 1));
  s = row_end ? TL_OK : tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int64_t r = 0; r < rows && !s; r++) {
    for (int64_t i = 0; i < x[r].len && !s; i++)
      if (!push_piece(&ps, i, 1)) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    row_end[r] = ps.n;
  }
  if (!s) s = emit(x, rows, &ps, NULL, row_end, out);
  free(ps.p);
  free(row_end);
  tl_tensor_release(c);
  return s;
}

/* ---- ngrams ------------------------------------------------------------------ */

/* inputs: values (strings), row_splits (int64); attrs: the width, separator,
 * left and right pad, pad width (-1: width - 1), preserve_short_sequences.
 * As TensorFlow's StringNGrams. */
static tl_status ngrams_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in;
  tl_status s = vector_input(in[0], "data");
  if (s) return s;
  if (in[1]->dtype != TL_INT64 || in[1]->rank != 1)
    return tl_error(TL_INVALID_ARGUMENT, "row_splits must be an int64 vector");
  if (attr[0].i < 1) return tl_error(TL_INVALID_ARGUMENT, "ngram_width must be at least 1, got %" PRId64, attr[0].i);
  return tl_str_push_ragged(out, TL_STRING, in[1]->shape[0] < 0 ? -1 : in[1]->shape[0] - 1);
}

static tl_status ngrams_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_tensor *c, *sc;
  tl_meta_list m;
  tl_meta_list_init(&m);
  tl_status s = ngrams_infer(op, (const tl_meta *[]){&in[0]->meta, &in[1]->meta}, 2, attr, &m);
  tl_meta_list_free(&m);
  if (s) return s;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) return tl_last_status();
  s = tl_tensor_contiguous(in[1], &sc);
  if (s) {
    tl_tensor_release(c);
    return s;
  }
  const int64_t *sp = tl_tensor_data(sc);
  int64_t rows = sc->size - 1, width = attr[0].i, padw = attr[4].i;
  const char *sep = attr[1].s, *lp = attr[2].s, *rp = attr[3].s;
  bool preserve = attr[5].b;
  size_t seplen = strlen(sep), lplen = strlen(lp), rplen = strlen(rp);
  if (padw < 0) padw = width - 1;
  if (!*lp && !*rp) padw = 0;
  if (rows < 0 || sp[0] != 0 || sp[rows] != c->size) {
    s = tl_error(TL_INVALID_ARGUMENT, "row_splits must start at 0 and end at the number of values (%" PRId64 ")", c->size);
    goto done;
  }
  for (int64_t r = 0; r < rows; r++)
    if (sp[r + 1] < sp[r]) {
      s = tl_error(TL_INVALID_ARGUMENT, "row_splits must be non-decreasing");
      goto done;
    }
  /* count ngrams and bytes */
  int64_t count = 0;
  size_t bytes = 0;
  int64_t *nper = malloc(sizeof *nper * (size_t)(rows ? rows : 1));
  if (!nper) {
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    goto done;
  }
  for (int pass = 0; pass < 2 && !s; pass++) {
    tl_tensor *v = NULL, *so = NULL;
    char *dst = NULL;
    tl_string *vs = NULL;
    int64_t *sop = NULL;
    if (pass == 1) {
      int64_t nsp = rows + 1;
      if ((s = tl_tensor_new(TL_STRING, 1, &count, &v))) break;
      if ((s = tl_tensor_new(TL_INT64, 1, &nsp, &so))) {
        tl_tensor_release(v);
        break;
      }
      if (bytes && !(dst = tl_string_alloc(v, bytes))) {
        tl_tensor_release(v);
        tl_tensor_release(so);
        s = TL_RESOURCE_EXHAUSTED;
        break;
      }
      vs = tl_tensor_data(v);
      sop = tl_tensor_data(so);
      sop[0] = 0;
    }
    int64_t k = 0;
    for (int64_t r = 0; r < rows; r++) {
      int64_t len = sp[r + 1] - sp[r], total = len + 2 * padw;
      int64_t n = total - width + 1, w = width;
      if (n <= 0 && preserve && len > 0) { /* one ngram of everything (and the padding) */
        n = 1;
        w = total;
      }
      if (n < 0) n = 0;
      for (int64_t g = 0; g < n; g++) {
        char *start = dst;
        size_t nb = 0;
        for (int64_t t = g; t < g + w; t++) {
          const char *p;
          size_t l;
          if (t < padw) p = lp, l = lplen;
          else if (t >= padw + len) p = rp, l = rplen;
          else p = x[sp[r] + t - padw].data, l = (size_t)x[sp[r] + t - padw].len;
          if (t > g) {
            if (pass) memcpy(dst, sep, seplen), dst += seplen;
            nb += seplen;
          }
          if (pass && l) memcpy(dst, p, l), dst += l;
          nb += l;
        }
        if (pass) vs[k] = (tl_string){nb ? start : NULL, (int64_t)nb};
        else bytes += nb;
        k++;
      }
      if (pass) sop[r + 1] = k;
    }
    count = k;
    if (pass == 1) {
      if ((s = tl_list_push(out, v))) {
        tl_tensor_release(so);
        break;
      }
      s = tl_list_push(out, so);
    }
  }
  free(nper);
done:
  tl_tensor_release(c);
  tl_tensor_release(sc);
  return s;
}

tl_op_def tl_ops_strings_split[] = {
    {.name = "string_split", .inputs = "input", .attrs = "sep:string=, maxsplit:int=-1", .infer = split_infer,
     .kernel[TL_CPU] = split_kernel, .flags = TL_STR_FLAGS | TL_OP_VALUE_SHAPE, .api = "-",
     .doc = "The pieces of each string of a vector (values, row_splits); tf.strings.split wraps them as ragged."},
    {.name = "string_bytes_split", .inputs = "input", .infer = split_infer, .kernel[TL_CPU] = bytes_split_kernel,
     .flags = TL_STR_FLAGS | TL_OP_VALUE_SHAPE, .api = "-",
     .doc = "The bytes of each string of a vector (values, row_splits); tf.strings.bytes_split wraps them."},
    {.name = "string_ngrams", .inputs = "data, row_splits",
     .attrs = "ngram_width:int, separator:string=, left_pad:string=, right_pad:string=, padding_width:int=-1, "
              "preserve_short_sequences:bool=false",
     .infer = ngrams_infer, .kernel[TL_CPU] = ngrams_kernel, .flags = TL_STR_FLAGS | TL_OP_VALUE_SHAPE, .api = "-",
     .doc = "ngrams of the rows of a ragged string tensor's components; tf.strings.ngrams wraps them."},
    {0},
};
