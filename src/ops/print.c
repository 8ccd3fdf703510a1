/* ops/print.c — print_v2, the op behind tf.print: formats its inputs'
 * values into a template and writes the line on every run, eagerly and
 * from graphs (TL_OP_STATEFUL: dead-code elimination keeps it, an
 * optimizer never folds or reorders it).
 *
 * The C core never prints, with this one exception: this op's kernel
 * writes to the stream it is given (stdout, stderr, or a file opened for
 * appending, "file:///path" as TensorFlow spells it). The template holds
 * "{}" for each input in order ("{{" and "}}" for literal braces); values
 * are formatted as numpy does, without the tf.Tensor(...) wrapper
 * (tl_tensor_format, values_only), each dimension summarised to its first
 * and last `summarize` items when longer than twice that (-1: everything).
 * The whole line is written with one fwrite and flushed, so lines from
 * several threads do not interleave. */
#include "core/buf.h"
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tl_status print_infer(TL_INFER_ARGS) {
  (void)op, (void)in, (void)out;
  const char *tmpl = attr[0].s ? attr[0].s : "";
  int holes = 0;
  for (const char *p = tmpl; *p; p++) {
    if (p[0] == '{' && p[1] == '{') p++;
    else if (p[0] == '}' && p[1] == '}') p++;
    else if (p[0] == '{' && p[1] == '}') holes++, p++;
    else if (*p == '{' || *p == '}')
      return tl_error(TL_INVALID_ARGUMENT, "template: a lone '%c' (write '%c%c' for a literal brace)", *p, *p, *p);
  }
  if (holes != n_in)
    return tl_error(TL_INVALID_ARGUMENT, "template has %d '{}' for %d inputs", holes, n_in);
  const char *stream = attr[1].s ? attr[1].s : "stdout";
  if (strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0 && strncmp(stream, "file://", 7) != 0 &&
      strncmp(stream, "log(", 4) != 0)
    return tl_error(TL_INVALID_ARGUMENT,
                    "output_stream must be \"stdout\", \"stderr\", \"log(info)\" or \"file://PATH\", got \"%s\"", stream);
  if (attr[3].i < -1) return tl_error(TL_INVALID_ARGUMENT, "summarize must be -1 (everything) or >= 0, got %lld",
                                      (long long)attr[3].i);
  return TL_OK;
}

static tl_status write_line(const char *stream, const char *text, size_t n) {
  FILE *f = NULL;
  bool close = false;
  if (strcmp(stream, "stdout") == 0) f = stdout;
  else if (strncmp(stream, "file://", 7) == 0) {
    f = fopen(stream + 7, "a");
    if (!f) return tl_error(TL_NOT_FOUND, "cannot open '%s' for appending", stream + 7);
    close = true;
  } else f = stderr; /* stderr and log(...) */
  bool ok = fwrite(text, 1, n, f) == n;
  ok = fflush(f) == 0 && ok;
  if (close) ok = fclose(f) == 0 && ok;
  return ok ? TL_OK : tl_error(TL_INTERNAL, "writing to %s failed", stream);
}

static tl_status print_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)out;
  const char *tmpl = attr[0].s ? attr[0].s : "";
  const char *stream = attr[1].s ? attr[1].s : "stdout";
  const char *end = attr[2].s ? attr[2].s : "\n";
  int64_t summarize = attr[3].i;
  tl_print_opts po = {summarize < 0 ? INT64_MAX : 0, summarize < 0 ? 3 : (int)summarize, -1, 0x3fffffff, true};
  tl_buf b = {0};
  int k = 0;
  tl_status s = TL_OK;
  for (const char *p = tmpl; *p && !s; p++) {
    if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
      tl_buf_put(&b, p, 1);
      p++;
    } else if (p[0] == '{' && p[1] == '}') {
      TL_ASSERT(k < n_in);
      char *text = NULL;
      s = tl_tensor_format(in[k++], &po, &text);
      if (!s) tl_buf_put(&b, text, strlen(text));
      free(text);
      p++;
    } else {
      tl_buf_put(&b, p, 1);
    }
  }
  if (!s) tl_buf_put(&b, end, strlen(end));
  if (!s && b.oom) s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  if (!s) s = write_line(stream, b.p ? b.p : "", b.n);
  free(b.p);
  return s;
}

tl_op_def tl_ops_print[] = {
    {.name = "print_v2", .inputs = "inputs[]",
     .attrs = "template:string, output_stream:string=stdout, end:string?, summarize:int=3",
     .infer = print_infer, .kernel[TL_CPU] = print_kernel, .flags = TL_OP_STATEFUL | TL_OP_NO_GRADIENT,
     .api = "-",
     .doc = "Writes the template with each {} replaced by an input's values to output_stream, on every run (tf.print)."},
    {0},
};
