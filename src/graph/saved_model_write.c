/* saved_model_write.c — writing a tlua saved model (tl_saved_model_write):
 * each function's graph walked node by node into one buffer, ops by name,
 * attributes by name with a type tag, constants as "TLT1" tensor bytes,
 * variable handles as indices into the file's variable list; the CRC-32 of
 * the body goes in the header and the file is written to path.tmp and
 * renamed. The layout: docs/file-formats.md ("tlua saved model"); the
 * reader: saved_model.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "graph/saved_model_format.h"

/* ======================================================================
 * writing
 * ====================================================================== */

/* The file's bytes (core/buf.h); a sink for tl_tensor_serialize_to. */
typedef tl_buf wbuf;

static tl_status w_bytes(void *ctx, const void *b, size_t n) {
  wbuf *w = ctx;
  tl_buf_put(w, b, n);
  return w->oom ? tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory") : TL_OK;
}
static void w_u8(wbuf *w, uint8_t v) { w_bytes(w, &v, 1); }
static void w_u32(wbuf *w, uint32_t v) { w_bytes(w, &v, 4); }
static void w_i32(wbuf *w, int32_t v) { w_bytes(w, &v, 4); }
static void w_u64(wbuf *w, uint64_t v) { w_bytes(w, &v, 8); }
static void w_i64(wbuf *w, int64_t v) { w_bytes(w, &v, 8); }
static void w_f64(wbuf *w, double v) { w_bytes(w, &v, 8); }
static void w_str(wbuf *w, const char *s) {
  size_t n = strlen(s);
  w_u32(w, (uint32_t)n);
  w_bytes(w, s, n);
}
/* NULL is length 0xFFFFFFFF. */
static void w_optstr(wbuf *w, const char *s) {
  if (!s) w_u32(w, 0xFFFFFFFFu);
  else w_str(w, s);
}
static void w_dtype(wbuf *w, tl_dtype d) {
  const char *name = tl_dtypes[d].name;
  size_t n = strlen(name);
  w_u8(w, (uint8_t)n);
  w_bytes(w, name, n);
}
static void w_meta(wbuf *w, const tl_meta *m) {
  w_dtype(w, m->dtype);
  w_u8(w, (uint8_t)(int8_t)m->rank);
  for (int i = 0; i < m->rank; i++) w_i64(w, m->shape[i]);
}
/* A u64 length, then the tensor's TLT1 bytes. */
static tl_status w_tensor(wbuf *w, tl_tensor *t) {
  w_u64(w, (uint64_t)tl_tensor_serialized_size(t));
  return tl_tensor_serialize_to(t, w_bytes, w);
}

static int var_index(const tl_saved_model *m, const tl_variable *v) {
  for (int i = 0; i < m->n_variables; i++)
    if (m->variables[i] == v) return i;
  return -1;
}

static tl_status w_graph(wbuf *w, const tl_saved_model *m, const tl_graph *g, int depth) {
  if (depth > TLSM_MAX_DEPTH) return tl_error(TL_INVALID_ARGUMENT, "saved model: subgraphs nest deeper than %d", TLSM_MAX_DEPTH);
  tl_status s;
  w_u32(w, (uint32_t)g->n_nodes);
  w_u32(w, (uint32_t)g->n_args);
  for (int i = 0; i < g->n_nodes; i++) {
    const tl_gnode *n = &g->nodes[i];
    w_u8(w, tlg_sm_kind_tag[n->kind]);
    w_u32(w, (uint32_t)n->n_in);
    for (int k = 0; k < n->n_in; k++) w_i32(w, n->in[k]);
    w_u32(w, (uint32_t)n->n_out);
    for (int k = 0; k < n->n_out; k++) w_meta(w, &g->values[n->out0 + k].meta);
    w_optstr(w, n->where);
    w_optstr(w, n->name);
    switch (n->kind) {
    case TL_NODE_ARG:
      w_i32(w, n->arg);
      w_i32(w, n->capture);
      break;
    case TL_NODE_CONST: {
      tl_variable *v = tl_resource_peek(n->value);
      if (n->value->dtype == TL_RESOURCE) {
        int vi = v ? var_index(m, v) : -1;
        if (vi < 0)
          return tl_error(TL_INVALID_ARGUMENT, "saved model: the graph captures variable '%s', which is not in the model's variable list",
                          v ? v->name : "(destroyed)");
        w_u8(w, 1);
        w_u32(w, (uint32_t)vi);
      } else {
        w_u8(w, 0);
        if ((s = w_tensor(w, n->value))) {
          tl_error_prefix("saved model: constant %%%d: ", n->out0);
          return s;
        }
      }
      break;
    }
    case TL_NODE_OP: {
      w_str(w, n->op->name);
      int present = 0;
      for (int a = 0; a < n->op->n_attrs; a++) present += n->attr[a].present;
      w_u32(w, (uint32_t)present);
      for (int a = 0; a < n->op->n_attrs; a++) {
        const tl_attr *at = &n->attr[a];
        if (!at->present) continue;
        w_str(w, n->op->attr[a].name);
        tl_attr_type ty = n->op->attr[a].type;
        w_u8(w, tlg_sm_attr_tag[ty]);
        switch (ty) {
        case TL_ATTR_INT: w_i64(w, at->i); break;
        case TL_ATTR_FLOAT: w_f64(w, at->f); break;
        case TL_ATTR_BOOL: w_u8(w, at->b ? 1 : 0); break;
        case TL_ATTR_DTYPE: w_dtype(w, at->dtype); break;
        case TL_ATTR_STRING: w_str(w, at->s ? at->s : ""); break;
        case TL_ATTR_INTS:
          w_u32(w, (uint32_t)at->n);
          for (int k = 0; k < at->n; k++) w_i64(w, at->ints[k]);
          break;
        case TL_ATTR_FLOATS:
          w_u32(w, (uint32_t)at->n);
          for (int k = 0; k < at->n; k++) w_f64(w, at->floats[k]);
          break;
        default: return tl_error(TL_INTERNAL, "saved model: attribute type %d", (int)ty);
        }
      }
      break;
    }
    default: /* control flow */
      w_i32(w, n->arg);
      w_i64(w, n->iparam);
      w_u32(w, (uint32_t)n->n_sub);
      for (int k = 0; k < n->n_sub; k++)
        if ((s = w_graph(w, m, n->sub[k], depth + 1))) return s;
      break;
    }
  }
  w_u32(w, (uint32_t)g->n_outputs);
  for (int i = 0; i < g->n_outputs; i++) w_i32(w, g->outputs[i]);
  return w->oom ? tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory") : TL_OK;
}

/* Patches a section's u64 length once its payload is written. */
static size_t w_section_begin(wbuf *w, uint32_t tag) {
  w_u32(w, tag);
  size_t at = w->n;
  w_u64(w, 0);
  return at;
}
static void w_section_end(wbuf *w, size_t at) {
  if (w->oom) return;
  uint64_t len = (uint64_t)(w->n - at - 8);
  memcpy(w->p + at, &len, 8);
}

static tl_status encode(const tl_saved_model *m, wbuf *w) {
  tl_status s;
  for (int i = 0; i < 20; i++) w_u8(w, 0); /* header, filled in last */
  size_t at = w_section_begin(w, TLSM_SEC_VARS);
  w_u32(w, (uint32_t)m->n_variables);
  for (int i = 0; i < m->n_variables; i++) {
    tl_variable *v = m->variables[i];
    w_str(w, v->name);
    w_u8(w, v->trainable ? 1 : 0);
    if ((s = w_tensor(w, v->value))) {
      tl_error_prefix("saved model: variable '%s': ", v->name);
      return s;
    }
  }
  w_section_end(w, at);
  at = w_section_begin(w, TLSM_SEC_FUNS);
  w_u32(w, (uint32_t)m->n_fns);
  for (int i = 0; i < m->n_fns; i++) {
    const tl_saved_fn *f = &m->fns[i];
    const tl_graph *g = f->graph;
    if (!f->name || !g) return tl_error(TL_INVALID_ARGUMENT, "saved model: function %d has no name or graph", i);
    if ((s = tl_graph_validate(g))) {
      tl_error_prefix("saved model: function '%s': ", f->name);
      return s;
    }
    w_str(w, f->name);
    w_u32(w, (uint32_t)g->n_args);
    for (int k = 0; k < g->n_args; k++) w_optstr(w, f->arg_names ? f->arg_names[k] : NULL);
    w_u32(w, (uint32_t)g->n_outputs);
    for (int k = 0; k < g->n_outputs; k++) w_optstr(w, f->output_names ? f->output_names[k] : NULL);
    if ((s = w_graph(w, m, g, 0))) {
      tl_error_prefix("saved model: function '%s': ", f->name);
      return s;
    }
  }
  w_section_end(w, at);
  if (w->oom) return tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory");
  uint64_t body = (uint64_t)(w->n - TLSM_HEADER_BYTES);
  uint32_t version = TLSM_FORMAT_VERSION, crc = tl_crc32(0, w->p + TLSM_HEADER_BYTES, (size_t)body);
  memcpy(w->p, TLSM_MAGIC, 4);
  memcpy(w->p + 4, &version, 4);
  memcpy(w->p + 8, &body, 8);
  memcpy(w->p + 16, &crc, 4);
  return TL_OK;
}

tl_status tl_saved_model_write(const tl_saved_model *m, const char *path) {
  for (int i = 0; i < m->n_fns; i++)
    for (int k = 0; k < i; k++)
      if (m->fns[i].name && m->fns[k].name && strcmp(m->fns[i].name, m->fns[k].name) == 0)
        return tl_error(TL_INVALID_ARGUMENT, "saved model: two functions are named '%s'", m->fns[i].name);
  wbuf w = {0};
  tl_status s = encode(m, &w);
  if (s) {
    free(w.p);
    return s;
  }
  /* Written to path.tmp and renamed: a crash never leaves half a file under the name. */
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 5);
  if (!tmp) {
    free(w.p);
    return tl_error(TL_RESOURCE_EXHAUSTED, "saved model: out of memory");
  }
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    s = tl_error(TL_NOT_FOUND, "saved model: cannot write '%s': %s", tmp, strerror(errno));
  } else {
    bool ok = fwrite(w.p, 1, w.n, f) == w.n;
    ok = fflush(f) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok) s = tl_error(TL_DATA_LOSS, "saved model: writing '%s' failed: %s", tmp, strerror(errno));
    else if (rename(tmp, path) != 0) s = tl_error(TL_DATA_LOSS, "saved model: cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (s) remove(tmp);
  }
  free(tmp);
  free(w.p);
  return s;
}

