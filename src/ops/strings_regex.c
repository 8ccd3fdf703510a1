/* ops/strings_regex.c — regex_full_match and regex_replace over RE2
 * (ext/re2_shim.cc), TensorFlow's engine and syntax: matching takes time
 * linear in the text, so no pattern can backtrack catastrophically.
 *
 * The pattern and rewrite are attributes (TensorFlow's StaticRegex* ops;
 * a pattern tensor is not supported): compiled once per call, checked by
 * the shape rule so a bad pattern fails before anything runs, and inside a
 * trace at trace time.
 */
#include "ext/re2_shim.h"
#include "ops/strings.h"

#include <stdio.h>

static tl_status compile(const char *pattern, tl_re2 **re) {
  char err[300];
  *re = tl_re2_new(pattern, strlen(pattern), err, sizeof err);
  if (!*re) return tl_error(TL_INVALID_ARGUMENT, "invalid pattern \"%.100s\": %s", pattern, err);
  return TL_OK;
}

static tl_status regex_infer(TL_INFER_ARGS) {
  (void)n_in;
  tl_status s = tl_str_need(in[0], "input");
  if (s) return s;
  tl_re2 *re;
  if ((s = compile(attr[0].s, &re))) return s;
  char err[300];
  bool replace = op->impl != NULL;
  if (replace && !tl_re2_check_rewrite(re, attr[1].s, err, sizeof err))
    s = tl_error(TL_INVALID_ARGUMENT, "invalid rewrite \"%.100s\": %s", attr[1].s, err);
  tl_re2_free(re);
  if (s) return s;
  return tl_meta_push_like(out, in[0], replace ? TL_STRING : TL_BOOL) ? TL_OK : TL_RESOURCE_EXHAUSTED;
}

typedef struct match_job {
  const tl_re2 *re;
  const tl_string *x;
  uint8_t *o;
} match_job;

static void match_range(int64_t b, int64_t e, void *ctx) {
  const match_job *j = ctx;
  for (int64_t i = b; i < e; i++) j->o[i] = tl_re2_full_match(j->re, j->x[i].data ? j->x[i].data : "", (size_t)j->x[i].len);
}

static tl_status full_match_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_re2 *re;
  tl_status s = compile(attr[0].s, &re);
  if (s) return s;
  tl_tensor *c;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) {
    tl_re2_free(re);
    return tl_last_status();
  }
  match_job j = {re, x, tl_tensor_data(out->items[0])};
  tl_parallel_for(c->size, 4096, match_range, &j);
  tl_tensor_release(c);
  tl_re2_free(re);
  return TL_OK;
}

typedef struct replace_ctx {
  const tl_re2 *re;
  const char *rewrite;
  bool global;
} replace_ctx;

static bool replace_one(void *vctx, int64_t i, const tl_string *x, const char **out, size_t *len) {
  const replace_ctx *c = vctx;
  if (tl_re2_replace(c->re, x->data ? x->data : "", (size_t)x->len, c->rewrite, c->global, out, len)) return true;
  tl_error(TL_RESOURCE_EXHAUSTED, "out of memory replacing in string %lld", (long long)i);
  return false;
}

static tl_status replace_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in;
  tl_re2 *re;
  tl_status s = compile(attr[0].s, &re);
  if (s) return s;
  tl_tensor *c;
  const tl_string *x = tl_str_elems(in[0], &c);
  if (!x) {
    tl_re2_free(re);
    return tl_last_status();
  }
  replace_ctx rc = {re, attr[1].s, attr[2].b};
  s = tl_str_map_parallel(out->items[0], x, c->size, replace_one, &rc);
  tl_tensor_release(c);
  tl_re2_free(re);
  return s;
}

static const int replace_impl = 1;

tl_op_def tl_ops_strings_regex[] = {
    {.name = "regex_full_match", .inputs = "input", .attrs = "pattern:string", .infer = regex_infer,
     .kernel[TL_CPU] = full_match_kernel, .flags = TL_STR_FLAGS, .api = "tf.strings.regex_full_match",
     .doc = "Whether each whole string matches the RE2 pattern (bool)."},
    {.name = "regex_replace", .inputs = "input", .attrs = "pattern:string, rewrite:string, replace_global:bool=true",
     .infer = regex_infer, .kernel[TL_CPU] = replace_kernel, .flags = TL_STR_FLAGS, .impl = &replace_impl,
     .api = "tf.strings.regex_replace",
     .doc = "Replaces matches of the RE2 pattern by rewrite (\\\\1 for groups); every match unless replace_global=false."},
    {0},
};
