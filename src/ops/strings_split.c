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
    int64_t cap = ps->cap ? ps->cap * 2 : 256;
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

/* The pieces of every row, found and copied on the compute pool. Each of
 * CHUNKS slices of the rows collects its pieces privately (phase 1); the
 * outputs and one block of the values' arena are then allocated on this
 * thread (phase 2; the arena is not thread-safe) and the slices fill
 * their parts of them in parallel (phase 3). */
typedef bool (*piece_fn)(const tl_string *e, const void *ctx, pieces *ps);

#define CHUNKS 64

typedef struct chunk {
  pieces ps;
  int64_t *row_end; /* per row of the slice: pieces so far in the slice */
  size_t bytes;
  int64_t first_piece;
  size_t first_byte;
  bool oom;
} chunk;

typedef struct split_job {
  const tl_string *x;
  int64_t rows;
  piece_fn fn;
  const void *ctx;
  chunk *ch;
  tl_string *vs;
  int64_t *so;
  char *dst;
} split_job;

static void find_range(int64_t b, int64_t e, void *vctx) {
  split_job *j = vctx;
  for (int64_t c = b; c < e; c++) {
    chunk *k = &j->ch[c];
    int64_t lo = j->rows * c / CHUNKS, hi = j->rows * (c + 1) / CHUNKS;
    if (!(k->row_end = malloc(sizeof *k->row_end * (size_t)(hi - lo + 1)))) {
      k->oom = true;
      continue;
    }
    for (int64_t r = lo; r < hi && !k->oom; r++) {
      if (!j->fn(&j->x[r], j->ctx, &k->ps)) k->oom = true;
      k->row_end[r - lo] = k->ps.n;
    }
    for (int64_t q = 0; q < k->ps.n; q++) k->bytes += (size_t)k->ps.p[2 * q + 1];
  }
}

static void fill_range(int64_t b, int64_t e, void *vctx) {
  split_job *j = vctx;
  for (int64_t c = b; c < e; c++) {
    chunk *k = &j->ch[c];
    int64_t lo = j->rows * c / CHUNKS, hi = j->rows * (c + 1) / CHUNKS, q = 0;
    char *dst = j->dst + k->first_byte;
    tl_string *vs = j->vs + k->first_piece;
    for (int64_t r = lo; r < hi; r++) {
      for (; q < k->row_end[r - lo]; q++) {
        int64_t a = k->ps.p[2 * q], len = k->ps.p[2 * q + 1];
        vs[q].len = len;
        vs[q].data = len ? dst : NULL;
        if (len) memcpy(dst, j->x[r].data + a, (size_t)len);
        dst += len;
      }
      j->so[r + 1] = k->first_piece + k->row_end[r - lo];
    }
  }
}

static tl_status run_pieces(const tl_string *x, int64_t rows, piece_fn fn, const void *ctx, tl_tensor_list *out) {
  chunk *ch = calloc(CHUNKS, sizeof *ch);
  if (!ch) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  split_job j = {x, rows, fn, ctx, ch, NULL, NULL, NULL};
  int64_t grain = rows < 16384 ? CHUNKS : 1; /* small inputs stay on this thread */
  tl_parallel_for(CHUNKS, grain, find_range, &j);
  tl_status s = TL_OK;
  int64_t np = 0;
  size_t bytes = 0;
  for (int c = 0; c < CHUNKS; c++) {
    if (ch[c].oom) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory splitting strings");
    ch[c].first_piece = np;
    ch[c].first_byte = bytes;
    np += ch[c].ps.n;
    bytes += ch[c].bytes;
  }
  tl_tensor *v = NULL, *sp = NULL;
  int64_t nsp = rows + 1;
  if (!s) s = tl_tensor_new(TL_STRING, 1, &np, &v);
  if (!s) s = tl_tensor_new(TL_INT64, 1, &nsp, &sp);
  if (!s && bytes && !(j.dst = tl_string_alloc(v, bytes))) s = TL_RESOURCE_EXHAUSTED;
  if (!s) {
    j.vs = tl_tensor_data(v);
    j.so = tl_tensor_data(sp);
    j.so[0] = 0;
    tl_parallel_for(CHUNKS, grain, fill_range, &j);
    s = tl_list_push(out, v);
    v = NULL;
    if (!s) s = tl_list_push(out, sp);
    sp = NULL;
  }
  tl_tensor_release(v);
  tl_tensor_release(sp);
  for (int c = 0; c < CHUNKS; c++) {
    free(ch[c].ps.p);
    free(ch[c].row_end);
  }
  free(ch);
  return s;
}

typedef struct split_args {
  const char *sep;
  size_t seplen;
  int64_t maxsplit;
} split_args;

static bool split_piece(const tl_string *e, const void *ctx, pieces *ps) {
  const split_args *a = ctx;
  return split_one(e, a->sep, a->seplen, a->maxsplit, ps);
}

static tl_status split_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_status s = vector_input(&in[0]->meta, "input");
  if (s) return s;
  tl_tensor *c;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) return tl_last_status();
  split_args a = {attr[0].s, strlen(attr[0].s), attr[1].i};
  s = run_pieces(x, c->size, split_piece, &a, out);
  tl_tensor_release(c);
  return s;
}

/* ---- bytes_split ------------------------------------------------------------ */

static bool byte_pieces(const tl_string *e, const void *ctx, pieces *ps) {
  (void)ctx;
  for (int64_t i = 0; i < e->len; i++)
    if (!push_piece(ps, i, 1)) return false;
  return true;
}

static tl_status bytes_split_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)attr;
  tl_status s = vector_input(&in[0]->meta, "input");
  if (s) return s;
  tl_tensor *c;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) return tl_last_status();
  s = run_pieces(x, c->size, byte_pieces, NULL, out);
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
