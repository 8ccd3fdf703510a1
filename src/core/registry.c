/* registry.c — the op registry and the dispatcher every caller goes through.
 *
 * Each op is declared once, in the file of its concern, as a tl_op_def with
 * its input and attribute specs as short strings; tl_init parses them once.
 * The Lua binding, the tape and (later) the tracer and exporter all read the
 * same records. The dispatcher is the one place that checks arity and
 * dtypes, prefixes error messages with the op and its operands, and lets
 * observers (tape, tracer) see each application.
 */
#include "tl.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One table per source file, NULL-name terminated. */
extern tl_op_def tl_ops_elementwise[];
extern tl_op_def tl_ops_unary[];
extern tl_op_def tl_ops_reduce[];
extern tl_op_def tl_ops_shape[];
extern tl_op_def tl_ops_index[];
extern tl_op_def tl_ops_linalg[];
extern tl_op_def tl_ops_norm[];
extern tl_op_def tl_ops_nn[];
extern tl_op_def tl_ops_create[];
extern tl_op_def tl_ops_sort[];
extern tl_op_def tl_ops_optim[];
extern tl_op_def tl_ops_debug[];
extern tl_op_def tl_ops_random[]; /* random.c */

static tl_op_def *const op_tables[] = {
    tl_ops_elementwise, tl_ops_unary, tl_ops_reduce, tl_ops_shape, tl_ops_index,
    tl_ops_linalg,      tl_ops_norm,   tl_ops_nn,     tl_ops_create, tl_ops_sort, tl_ops_optim,
    tl_ops_debug,       tl_ops_random,
};

#define MAX_OPS 1024
static const tl_op_def *ops[MAX_OPS];
static const tl_op_def *by_name[MAX_OPS]; /* sorted, for tl_op_find */
static int n_ops;
static tl_status init_status = TL_OK;
static char init_message[512];

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
  return s;
}

static tl_status parse_inputs(tl_op_def *op) {
  op->n_inputs = 0;
  if (!op->inputs || !*op->inputs) return TL_OK;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", op->inputs);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    tok = trim(tok);
    if (op->n_inputs == TL_MAX_INPUTS) return tl_error(TL_INTERNAL, "op %s: too many inputs", op->name);
    tl_input_def *in = &op->input[op->n_inputs++];
    size_t len = strlen(tok);
    if (len > 2 && strcmp(tok + len - 2, "[]") == 0) {
      in->list = true;
      tok[len - 2] = 0;
    } else if (len > 1 && tok[len - 1] == '?') {
      in->optional = true;
      tok[len - 1] = 0;
    }
    snprintf(in->name, sizeof in->name, "%s", tok);
  }
  return TL_OK;
}

static tl_status parse_list(const tl_op_def *op, tl_attr_def *a, const char *v) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", v);
  char *p = buf;
  if (*p == '[') p++;
  char *end = strchr(p, ']');
  if (end) *end = 0;
  a->def.n = 0;
  for (char *save = NULL, *tok = strtok_r(p, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    tok = trim(tok);
    if (!*tok) continue;
    if (a->type == TL_ATTR_INTS) {
      if (a->def.n == TL_MAX_RANK) return tl_error(TL_INTERNAL, "op %s: default too long", op->name);
      a->def_ints[a->def.n++] = strtoll(tok, NULL, 10);
    } else {
      if (a->def.n == 4) return tl_error(TL_INTERNAL, "op %s: default too long", op->name);
      a->def_floats[a->def.n++] = strtod(tok, NULL);
    }
  }
  return TL_OK;
}

static tl_status parse_attrs(tl_op_def *op) {
  static const char *const type_names[] = {"int", "float", "bool", "ints", "floats", "dtype", "string"};
  _Static_assert(sizeof(type_names) / sizeof(type_names[0]) == TL_ATTR_TYPE_COUNT, "attr types");
  op->n_attrs = 0;
  if (!op->attrs || !*op->attrs) return TL_OK;
  char buf[512];
  snprintf(buf, sizeof buf, "%s", op->attrs);
  /* Split on commas that are not inside [...] */
  char *items[TL_MAX_ATTRS + 1];
  int n = 0, depth = 0;
  items[n++] = buf;
  for (char *c = buf; *c; c++) {
    if (*c == '[') depth++;
    else if (*c == ']') depth--;
    else if (*c == ',' && depth == 0) {
      *c = 0;
      if (n > TL_MAX_ATTRS) return tl_error(TL_INTERNAL, "op %s: too many attributes", op->name);
      items[n++] = c + 1;
    }
  }
  for (int i = 0; i < n; i++) {
    char *tok = trim(items[i]);
    tl_attr_def *a = &op->attr[op->n_attrs++];
    memset(a, 0, sizeof *a);
    char *colon = strchr(tok, ':');
    if (!colon) return tl_error(TL_INTERNAL, "op %s: attribute '%s' has no type", op->name, tok);
    *colon = 0;
    snprintf(a->name, sizeof a->name, "%s", trim(tok));
    char *type = colon + 1, *def = strchr(type, '=');
    if (def) *def++ = 0;
    type = trim(type);
    size_t tl = strlen(type);
    if (tl && type[tl - 1] == '?') {
      a->optional = true;
      type[tl - 1] = 0;
    }
    int t = -1;
    for (int k = 0; k < TL_ATTR_TYPE_COUNT; k++)
      if (strcmp(type, type_names[k]) == 0) t = k;
    if (t < 0) return tl_error(TL_INTERNAL, "op %s: unknown attribute type '%s'", op->name, type);
    a->type = (tl_attr_type)t;
    a->def.type = a->type;
    if (!def) continue;
    def = trim(def);
    a->has_default = true;
    a->def.present = true;
    switch (a->type) {
    case TL_ATTR_INT: a->def.i = strtoll(def, NULL, 10); break;
    case TL_ATTR_FLOAT: a->def.f = strtod(def, NULL); break;
    case TL_ATTR_BOOL: a->def.b = strcmp(def, "true") == 0; break;
    case TL_ATTR_DTYPE:
      a->def.dtype = tl_dtype_from_name(def);
      if (a->def.dtype == TL_DTYPE_COUNT) return tl_error(TL_INTERNAL, "op %s: bad dtype default", op->name);
      break;
    case TL_ATTR_STRING: {
      /* The spec buffer is temporary; defaults point into the spec string. */
      const char *src = strstr(op->attrs, def);
      a->def.s = src ? strndup(def, strcspn(def, ",")) : NULL;
      break;
    }
    case TL_ATTR_INTS:
    case TL_ATTR_FLOATS: {
      tl_status s = parse_list(op, a, def);
      if (s) return s;
      break;
    }
    default: break;
    }
  }
  return TL_OK;
}

static int cmp_ops(const void *a, const void *b) {
  return strcmp((*(const tl_op_def *const *)a)->name, (*(const tl_op_def *const *)b)->name);
}

static void do_init(void) {
  tl_set_ftz();
  for (size_t t = 0; t < sizeof op_tables / sizeof op_tables[0]; t++) {
    for (tl_op_def *op = op_tables[t]; op->name; op++) {
      if (n_ops == MAX_OPS || parse_inputs(op) || parse_attrs(op)) {
        init_status = TL_INTERNAL;
        snprintf(init_message, sizeof init_message, "%s",
                 n_ops == MAX_OPS ? "too many ops" : tl_last_error());
        return;
      }
      for (int k = 0; k < n_ops; k++)
        if (strcmp(ops[k]->name, op->name) == 0) {
          init_status = TL_INTERNAL;
          snprintf(init_message, sizeof init_message, "op %s is registered twice", op->name);
          return;
        }
      op->id = n_ops;
      ops[n_ops++] = op;
    }
  }
  memcpy(by_name, ops, sizeof(ops[0]) * (size_t)n_ops);
  qsort(by_name, (size_t)n_ops, sizeof by_name[0], cmp_ops);
}

tl_status tl_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, do_init);
  if (init_status) return tl_error(init_status, "%s", init_message);
  return TL_OK;
}

int tl_op_count(void) { return n_ops; }
const tl_op_def *tl_op_at(int i) { return (i >= 0 && i < n_ops) ? ops[i] : NULL; }

const tl_op_def *tl_op_find(const char *name) {
  int lo = 0, hi = n_ops - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2, c = strcmp(name, by_name[mid]->name);
    if (c == 0) return by_name[mid];
    if (c < 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return NULL;
}

int tl_attr_index(const tl_op_def *op, const char *name) {
  for (int i = 0; i < op->n_attrs; i++)
    if (strcmp(op->attr[i].name, name) == 0) return i;
  return -1;
}

void tl_attrs_defaults(const tl_op_def *op, tl_attr *attrs) {
  for (int i = 0; i < op->n_attrs; i++) {
    const tl_attr_def *d = &op->attr[i];
    attrs[i] = d->def;
    attrs[i].type = d->type;
    if (d->type == TL_ATTR_INTS) attrs[i].ints = (int64_t *)d->def_ints;
    if (d->type == TL_ATTR_FLOATS) attrs[i].floats = (double *)d->def_floats;
  }
}

/* ---- lists ------------------------------------------------------------- */

void tl_list_init(tl_tensor_list *l) {
  l->items = l->inline_items;
  l->n = 0;
  l->cap = 4;
}

tl_status tl_list_push(tl_tensor_list *l, tl_tensor *t) {
  if (l->n == l->cap) {
    int cap = l->cap * 2;
    tl_tensor **items = malloc(sizeof *items * (size_t)cap);
    if (!items) {
      tl_tensor_release(t);
      return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    }
    memcpy(items, l->items, sizeof *items * (size_t)l->n);
    if (l->items != l->inline_items) free(l->items);
    l->items = items;
    l->cap = cap;
  }
  l->items[l->n++] = t;
  return TL_OK;
}

void tl_list_clear(tl_tensor_list *l) {
  for (int i = 0; i < l->n; i++) tl_tensor_release(l->items[i]);
  if (l->items != l->inline_items) free(l->items);
  tl_list_init(l);
}

/* ---- dispatch ---------------------------------------------------------- */

static tl_op_observer observer;
static void *observer_ctx;

void tl_set_op_observer(tl_op_observer fn, void *ctx) {
  observer = fn;
  observer_ctx = ctx;
}

static void prefix_error(const tl_op_def *op, tl_tensor *const *in, int n_in) {
  char pre[600];
  size_t used = (size_t)snprintf(pre, sizeof pre, "%s: ", op->name);
  if (strncmp(tl_last_error(), pre, used) == 0) return; /* kernel already named itself */
  for (int i = 0; i < n_in && used < sizeof pre - 100; i++) {
    char d[160];
    tl_tensor_describe(in[i], d, sizeof d);
    used += (size_t)snprintf(pre + used, sizeof pre - used, "%s%s", i ? ", " : "", d);
  }
  if (n_in && used < sizeof pre) snprintf(pre + used, sizeof pre - used, ": ");
  tl_error_prefix("%s", pre);
}

tl_status tl_op_run(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                    tl_tensor_list *out) {
  if (tl_interrupt_pending()) {
    tl_interrupted();
    return tl_error(TL_CANCELLED, "%s: interrupted", op->name);
  }
  bool has_list = op->n_inputs && op->input[op->n_inputs - 1].list;
  int fixed = has_list ? op->n_inputs - 1 : op->n_inputs;
  if (has_list ? n_in < fixed : n_in != op->n_inputs)
    return tl_error(TL_INVALID_ARGUMENT, "%s: expected %s%d inputs, got %d", op->name,
                    has_list ? "at least " : "", fixed, n_in);
  tl_dtype common = TL_DTYPE_COUNT;
  const tl_tensor *first = NULL;
  for (int i = 0; i < n_in; i++) {
    const tl_input_def *d = &op->input[i < fixed ? i : fixed];
    if (!in[i]) {
      if (!d->optional)
        return tl_error(TL_INVALID_ARGUMENT, "%s: input '%s' is missing", op->name, d->name);
      continue;
    }
    if (op->flags & TL_OP_SAME_DTYPE) {
      if (common == TL_DTYPE_COUNT) {
        common = in[i]->dtype;
        first = in[i];
      } else if (in[i]->dtype != common) {
        char a[160], b[160];
        return tl_error(TL_INVALID_ARGUMENT,
                        "%s: %s, %s: operands have different dtypes (%s vs %s); use tf.cast to convert",
                        op->name, tl_tensor_describe(first, a, sizeof a), tl_tensor_describe(in[i], b, sizeof b),
                        tl_dtypes[common].name, tl_dtypes[in[i]->dtype].name);
      }
    }
  }
  tl_status s = op->forward(op, in, n_in, attrs, out);
  if (s) {
    tl_list_clear(out);
    prefix_error(op, in, n_in);
    return s;
  }
  if (tl_get_check_numerics()) {
    for (int i = 0; i < out->n; i++) {
      if (!(s = tl_check_numerics(out->items[i], op->name))) continue;
      tl_list_clear(out);
      tl_error_prefix("check_numerics: op produced NaN/Inf: ");
      return s;
    }
  }
  if (observer) observer(op, in, n_in, attrs, out, observer_ctx);
  return TL_OK;
}

tl_status tl_call_list(const char *name, int n_in, tl_tensor *const *in, int n_attrs,
                       const tl_named_attr *named, tl_tensor_list *out) {
  const tl_op_def *op = tl_op_find(name);
  if (!op) return tl_error(TL_NOT_FOUND, "no op named '%s'", name);
  tl_attr attrs[TL_MAX_ATTRS];
  tl_attrs_defaults(op, attrs);
  for (int i = 0; i < n_attrs; i++) {
    int k = tl_attr_index(op, named[i].name);
    if (k < 0) return tl_error(TL_INTERNAL, "%s has no attribute '%s'", name, named[i].name);
    attrs[k] = named[i].value;
    attrs[k].type = op->attr[k].type;
    if (attrs[k].type == TL_ATTR_INTS && named[i].value.type == TL_ATTR_INT) { /* one int as a list */
      attrs[k].ints = (int64_t *)&named[i].value.i;
      attrs[k].n = 1;
    }
  }
  tl_list_init(out);
  return tl_op_run(op, in, n_in, attrs, out);
}

tl_status tl_call(const char *name, int n_in, tl_tensor *const *in, int n_attrs,
                  const tl_named_attr *named, tl_tensor **out) {
  tl_tensor_list l;
  tl_status s = tl_call_list(name, n_in, in, n_attrs, named, &l);
  if (s) return s;
  if (l.n < 1) {
    tl_list_clear(&l);
    return tl_error(TL_INTERNAL, "%s produced no output", name);
  }
  *out = l.items[0];
  l.items[0] = NULL;
  for (int i = 1; i < l.n; i++) tl_tensor_release(l.items[i]);
  if (l.items != l.inline_items) free(l.items);
  return TL_OK;
}

tl_status tl_run1(const char *name, tl_tensor *const *in, int n_in, tl_tensor **out) {
  return tl_call(name, n_in, in, 0, NULL, out);
}
