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
#include "graph/graph_internal.h"
#include "ops/ops.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One table per source file, NULL-name terminated. */
extern tl_op_def tl_ops_elementwise[];
extern tl_op_def tl_ops_unary[];
extern tl_op_def tl_ops_reduce[];
extern tl_op_def tl_ops_moments[];
extern tl_op_def tl_ops_scan[];
extern tl_op_def tl_ops_shape[];
extern tl_op_def tl_ops_concat[];
extern tl_op_def tl_ops_pad[];
extern tl_op_def tl_ops_slice[];
extern tl_op_def tl_ops_index[];
extern tl_op_def tl_ops_select[];
extern tl_op_def tl_ops_linalg[];
extern tl_op_def tl_ops_decomp[];
extern tl_op_def tl_ops_norm[];
extern tl_op_def tl_ops_nn[];
extern tl_op_def tl_ops_softmax[];
extern tl_op_def tl_ops_create[];
extern tl_op_def tl_ops_sort[];
extern tl_op_def tl_ops_optim[];
extern tl_op_def tl_ops_debug[];
extern tl_op_def tl_ops_random[];
extern tl_op_def tl_ops_device[];
extern tl_op_def tl_ops_state[];
extern tl_op_def tl_ops_conv[];
extern tl_op_def tl_ops_pool[];
extern tl_op_def tl_ops_fused[];
extern tl_op_def tl_ops_print[];
extern tl_op_def tl_ops_callback[];
extern tl_op_def tl_ops_sparse[];
extern tl_op_def tl_ops_sets[];
extern tl_op_def tl_ops_sparse_segment[];
extern tl_op_def tl_ops_tensor_array[];
extern tl_op_def tl_ops_ragged[];
extern tl_op_def tl_ops_strings[];
extern tl_op_def tl_ops_strings_split[];
extern tl_op_def tl_ops_strings_regex[];
extern tl_op_def tl_ops_strings_unicode[];

static tl_op_def *const op_tables[] = {
    tl_ops_elementwise, tl_ops_unary,   tl_ops_reduce, tl_ops_moments, tl_ops_scan,  tl_ops_shape,
    tl_ops_concat,      tl_ops_pad,     tl_ops_slice,  tl_ops_index,   tl_ops_select, tl_ops_linalg, tl_ops_decomp,
    tl_ops_norm,        tl_ops_softmax, tl_ops_nn,     tl_ops_create,  tl_ops_sort,  tl_ops_optim,
    tl_ops_debug,       tl_ops_random,  tl_ops_device, tl_ops_state,  tl_ops_conv,  tl_ops_pool,
    tl_ops_fused, tl_ops_print, tl_ops_callback, tl_ops_sparse, tl_ops_sets, tl_ops_sparse_segment, tl_ops_tensor_array,
    tl_ops_ragged, tl_ops_strings, tl_ops_strings_split, tl_ops_strings_regex, tl_ops_strings_unicode,
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
    char *colon = strchr(tok, ':');
    if (colon) {
      if (strcmp(trim(colon + 1), "resource") != 0)
        return tl_error(TL_INTERNAL, "op %s: unknown input kind '%s'", op->name, colon + 1);
      in->resource = true;
      *colon = 0;
      tok = trim(tok);
    }
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

/* ---- metas ------------------------------------------------------------ */

void tl_meta_list_init(tl_meta_list *l) {
  l->items = l->inline_items;
  l->n = 0;
  l->cap = (int)(sizeof l->inline_items / sizeof l->inline_items[0]);
}

tl_meta *tl_meta_push(tl_meta_list *l, tl_dtype dt, int rank, const int64_t *shape) {
  if (l->n == l->cap) {
    int cap = l->cap * 2;
    tl_meta *items = malloc(sizeof *items * (size_t)cap);
    if (!items) {
      tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
      return NULL;
    }
    memcpy(items, l->items, sizeof *items * (size_t)l->n);
    if (l->items != l->inline_items) free(l->items);
    l->items = items;
    l->cap = cap;
  }
  tl_meta *m = &l->items[l->n++];
  m->dtype = dt;
  m->rank = rank;
  /* at most TL_MAX_RANK dims: a plain loop, not a memcpy call (every op
   * call's shape rule comes through here) */
  if (shape)
    for (int i = 0; i < rank; i++) m->shape[i] = shape[i];
  return m;
}

void tl_meta_list_free(tl_meta_list *l) {
  if (l->items != l->inline_items) free(l->items);
  tl_meta_list_init(l);
}

/* ---- observers --------------------------------------------------------- */

#define MAX_OBSERVERS 8
static const tl_observer *observers[MAX_OBSERVERS];
static int n_observers; /* read without the lock on the hot path */
static pthread_mutex_t observer_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int op_depth;

tl_status tl_observer_add(const tl_observer *o) {
  pthread_mutex_lock(&observer_lock);
  int n = __atomic_load_n(&n_observers, __ATOMIC_ACQUIRE);
  for (int i = 0; i < n; i++)
    if (observers[i] == o) {
      pthread_mutex_unlock(&observer_lock);
      return TL_OK;
    }
  if (n == MAX_OBSERVERS) {
    pthread_mutex_unlock(&observer_lock);
    return tl_error(TL_RESOURCE_EXHAUSTED, "too many op observers (at most %d)", MAX_OBSERVERS);
  }
  observers[n] = o;
  __atomic_store_n(&n_observers, n + 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&observer_lock);
  return TL_OK;
}

void tl_observer_remove(const tl_observer *o) {
  pthread_mutex_lock(&observer_lock);
  int n = n_observers;
  for (int i = 0; i < n; i++)
    if (observers[i] == o) {
      memmove(&observers[i], &observers[i + 1], sizeof observers[0] * (size_t)(n - i - 1));
      __atomic_store_n(&n_observers, n - 1, __ATOMIC_RELEASE);
      break;
    }
  pthread_mutex_unlock(&observer_lock);
}

int tl_op_depth(void) { return op_depth; }
void tl_op_set_depth(int depth) { op_depth = depth < 0 ? 0 : depth; }

/* ---- dispatch ---------------------------------------------------------- */

static void prefix_error(const tl_op_def *op, tl_tensor *const *in, int n_in) {
  char pre[600];
  size_t used = (size_t)snprintf(pre, sizeof pre, "%s: ", op->name);
  if (strncmp(tl_last_error(), pre, used) == 0) return; /* kernel already named itself */
  for (int i = 0; i < n_in && used < sizeof pre - 100; i++) {
    char d[160];
    /* A state input reads as the variable it names (peeked, so the
     * message being prefixed is kept). */
    tl_variable *v = tl_resource_peek(in[i]);
    if (v) {
      char val[120];
      snprintf(d, sizeof d, "variable '%s' %s", v->name, tl_tensor_describe(v->value, val, sizeof val));
    } else {
      tl_tensor_describe(in[i], d, sizeof d);
    }
    used += (size_t)snprintf(pre + used, sizeof pre - used, "%s%s", i ? ", " : "", d);
  }
  if (n_in && used < sizeof pre) snprintf(pre + used, sizeof pre - used, ": ");
  tl_error_prefix("%s", pre);
}

static inline bool is_half(tl_dtype d) { return d == TL_FLOAT16 || d == TL_BFLOAT16; }

/* The checks that need no shape rule: arity, missing inputs, resources,
 * one dtype, one device. Sets *dev to the device the op runs on and *half
 * to whether a tensor input is float16/bfloat16 (the same pass, so ops with
 * TL_OP_HALF_VIA_F32 pay nothing more to find out). */
static tl_status check_inputs(const tl_op_def *op, tl_tensor *const *in, int n_in, tl_device *dev,
                              bool *half, bool *sym) {
  bool any_half = false, any_sym = false;
  bool has_list = op->n_inputs && op->input[op->n_inputs - 1].list;
  int fixed = has_list ? op->n_inputs - 1 : op->n_inputs;
  if (has_list ? n_in < fixed : n_in != op->n_inputs)
    return tl_error(TL_INVALID_ARGUMENT, "%s: expected %s%d inputs, got %d", op->name,
                    has_list ? "at least " : "", fixed, n_in);
  tl_dtype common = TL_DTYPE_COUNT;
  const tl_tensor *first = NULL, *placed = NULL;
  tl_device where = TL_DEVICE_COUNT;
  for (int i = 0; i < n_in; i++) {
    const tl_input_def *d = &op->input[i < fixed ? i : fixed];
    const tl_tensor *t = in[i];
    if (!t) {
      if (!d->optional)
        return tl_error(TL_INVALID_ARGUMENT, "%s: input '%s' is missing", op->name, d->name);
      continue;
    }
    tl_device td = t->storage->device;
    if (d->resource) {
      tl_variable *v;
      if (t->dtype != TL_RESOURCE)
        return tl_error(TL_INVALID_ARGUMENT, "%s: input '%s' must be a variable, not a %s tensor",
                        op->name, d->name, tl_dtypes[t->dtype].name);
      if (tl_resource_variable(t, &v)) {
        tl_error_prefix("%s: input '%s': ", op->name, d->name);
        return TL_FAILED_PRECONDITION;
      }
      td = v->value->storage->device;
      t = v->value;
    } else if (t->dtype == TL_RESOURCE) {
      return tl_error(TL_INVALID_ARGUMENT, "%s: input '%s' is a variable handle; read its value first",
                      op->name, d->name);
    } else if (op->flags & TL_OP_SAME_DTYPE) {
      if (common == TL_DTYPE_COUNT) {
        common = t->dtype;
        first = t;
      } else if (t->dtype != common) {
        char a[160], b[160];
        return tl_error(TL_INVALID_ARGUMENT,
                        "%s: %s, %s: operands have different dtypes (%s vs %s); use tf.cast to convert",
                        op->name, tl_tensor_describe(first, a, sizeof a), tl_tensor_describe(t, b, sizeof b),
                        tl_dtypes[common].name, tl_dtypes[t->dtype].name);
      }
    }
    if (!d->resource) {
      any_half |= is_half(t->dtype);
      any_sym |= t->sym_value != 0;
    }
    if (where == TL_DEVICE_COUNT) {
      where = td;
      placed = t;
    } else if (td != where && !(op->flags & TL_OP_ANY_DEVICE)) {
      char a[160], b[160];
      return tl_error(TL_INVALID_ARGUMENT,
                      "%s: %s on %s, %s on %s: operands are on different devices; copy one with "
                      "tf.copy_to_device",
                      op->name, tl_tensor_describe(placed, a, sizeof a), tl_device_get(where)->name,
                      tl_tensor_describe(t, b, sizeof b), tl_device_get(td)->name);
    }
  }
  *dev = where == TL_DEVICE_COUNT ? tl_default_device() : where;
  *half = any_half;
  *sym = any_sym;
  return TL_OK;
}

/* The metas the shape rule reads: the tensors' own (no copy), or for a
 * resource input its variable's value. */
static void input_metas(tl_tensor *const *in, int n_in, const tl_meta **m) {
  /* check_inputs has made resource inputs exactly the TL_RESOURCE tensors,
   * so the input declarations need not be consulted here. */
  for (int i = 0; i < n_in; i++) {
    const tl_tensor *t = in[i];
    tl_variable *v = tl_resource_peek(t); /* live: checked by check_inputs */
    m[i] = !t ? NULL : v ? &v->value->meta : &t->meta;
  }
}

static tl_status run_infer(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                           tl_meta_list *metas) {
  const tl_meta *small[16], **m = small;
  small[0] = NULL; /* an op without inputs reads none; this quiets -Wmaybe-uninitialized */
  if (n_in > 16 && !(m = malloc(sizeof *m * (size_t)n_in)))
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  input_metas(in, n_in, m);
  tl_status s = op->infer(op, m, n_in, attrs, metas);
  if (m != small) free(m);
  return s;
}

/* Device bookkeeping around a kernel: the outermost kernel on a device
 * opens it (the test device makes its memory readable), nested ops inside
 * run on the same device without reopening it. */
static _Thread_local tl_device kernel_device = TL_CPU;
static _Thread_local int kernel_nesting;

tl_device tl_current_device(void) { return kernel_nesting ? kernel_device : TL_CPU; }

static tl_status run_kernel(const tl_op_def *op, tl_device dev, tl_tensor *const *in, int n_in,
                            const tl_attr *attrs, tl_tensor_list *out) {
  tl_kernel_fn k = op->kernel[dev];
  const tl_device_impl *impl = tl_device_get(dev);
  if (!k && impl->runs_cpu_kernels) k = op->kernel[TL_CPU];
  if (!k) return tl_error(TL_UNIMPLEMENTED, "%s: no kernel for device %s", op->name, impl->name);
  tl_device saved = kernel_device;
  bool outer = kernel_nesting == 0 || kernel_device != dev;
  if (outer && impl->kernel_begin) impl->kernel_begin();
  kernel_device = dev;
  kernel_nesting++;
  tl_status s = k(op, in, n_in, attrs, out);
  kernel_nesting--;
  kernel_device = saved;
  if (outer && impl->kernel_end) impl->kernel_end();
  return s;
}

/* ---- checking shape rules against kernels (the conformance suite) ------ */

static bool check_infer;
static int64_t infer_checks[MAX_OPS];

void tl_set_check_infer(bool on) { check_infer = on; }
int64_t tl_op_infer_checks(const tl_op_def *op) { return infer_checks[op->id]; }

/* The outputs a kernel produced against what its shape rule says: same
 * count, dtypes and ranks, and every dimension the rule knows. With
 * concrete inputs only a value-dependent op may leave dimensions unknown. */
static tl_status verify_infer(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                              const tl_tensor_list *out) {
  if (!op->infer) return tl_error(TL_INTERNAL, "%s has no shape rule", op->name);
  tl_meta_list metas;
  tl_meta_list_init(&metas);
  tl_status s = run_infer(op, in, n_in, attrs, &metas);
  if (s) {
    tl_meta_list_free(&metas);
    return tl_error(TL_INTERNAL, "%s: the shape rule rejects inputs the kernel accepted: %s", op->name,
                    tl_last_error());
  }
  if (metas.n != out->n) s = tl_error(TL_INTERNAL, "%s: shape rule gives %d outputs, kernel %d", op->name,
                                      metas.n, out->n);
  for (int i = 0; i < metas.n && !s; i++) {
    const tl_meta *m = &metas.items[i];
    const tl_tensor *t = out->items[i];
    bool ok = m->dtype == t->dtype && (m->rank < 0 ? (op->flags & TL_OP_VALUE_SHAPE) : m->rank == t->rank);
    for (int k = 0; ok && m->rank >= 0 && k < m->rank; k++)
      ok = m->shape[k] == t->shape[k] || (m->shape[k] < 0 && (op->flags & TL_OP_VALUE_SHAPE));
    if (!ok) {
      char a[200], b[200];
      s = tl_error(TL_INTERNAL, "%s: output %d: shape rule says %s, kernel made %s", op->name, i,
                   tl_meta_describe(m, a, sizeof a), tl_tensor_describe(t, b, sizeof b));
    }
  }
  tl_meta_list_free(&metas);
  if (!s) __atomic_add_fetch(&infer_checks[op->id], 1, __ATOMIC_RELAXED);
  return s;
}

/* tlg_op_run_into: a buffer the next allocation at this depth may use as
 * output 0 instead of a new one (the executor's in-place writes). */
static _Thread_local tl_tensor *given_out;
static _Thread_local int given_depth;

tl_status tlg_op_run_into(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs, tl_tensor *into,
                          tl_tensor_list *out) {
  given_out = into;
  given_depth = op_depth + 1;
  tl_status s = tl_op_run(op, in, n_in, attrs, out);
  given_out = NULL;
  return s;
}

static bool take_given(const tl_meta *m, tl_device dev) {
  tl_tensor *t = given_out;
  if (!t || op_depth != given_depth || t->dtype != m->dtype || t->rank != m->rank || t->storage->device != dev)
    return false;
  for (int k = 0; k < m->rank; k++)
    if (t->shape[k] != m->shape[k]) return false;
  return true;
}

/* No string output may point into another storage (core/strings.c): the
 * bytes of elements a movement kernel copied are copied into the output's
 * own arena. Ops that write their strings themselves (TL_OP_STRINGS_OWNED)
 * are trusted, except in test mode, where every element is checked. */
static tl_status own_strings(const tl_op_def *op, tl_tensor_list *out) {
  for (int i = 0; i < out->n; i++) {
    tl_tensor *t = out->items[i];
    if (!t || t->dtype != TL_STRING) continue;
    if (!(op->flags & TL_OP_STRINGS_OWNED)) {
      tl_status s = tl_string_adopt(t);
      if (s) return s;
    } else if (check_infer && t->size > 0 && !t->sym_value) {
      tl_tensor *c;
      tl_status s = tl_tensor_contiguous(t, &c);
      if (s) return s;
      const tl_string *e = tl_tensor_data(c);
      for (int64_t k = 0; k < c->size && !s; k++)
        if (e[k].len > 0 && !tl_string_owns(t->storage, e[k].data))
          s = tl_error(TL_INTERNAL, "%s: output %d: string element %lld is not in its own storage", op->name, i,
                       (long long)k);
      tl_tensor_release(c);
      if (s) return s;
    }
  }
  return TL_OK;
}

/* Shape rule, allocation, kernel: the core of tl_op_run on inputs whose
 * dtypes the kernel handles. */
static tl_status infer_and_run(const tl_op_def *op, tl_device dev, tl_tensor *const *in, int n_in,
                               const tl_attr *attrs, tl_tensor_list *out) {
  tl_status s;
  if (op->infer && !(op->flags & TL_OP_KERNEL_ALLOCATES)) {
    tl_meta_list metas;
    tl_meta_list_init(&metas);
    if ((s = run_infer(op, in, n_in, attrs, &metas))) {
      tl_meta_list_free(&metas);
      return s;
    }
    for (int i = 0; i < metas.n; i++) {
      const tl_meta *m = &metas.items[i];
      tl_tensor *t;
      if (m->rank < 0) {
        s = tl_error(TL_INTERNAL, "%s: shape rule left output %d's rank unknown", op->name, i);
        break;
      }
      if (i == 0 && given_out && take_given(m, dev)) {
        t = tl_tensor_retain(given_out);
        given_out = NULL;
      } else if ((s = tl_tensor_new_on(dev, m->dtype, m->rank, m->shape, &t))) {
        break;
      }
      if (out->n < out->cap) out->items[out->n++] = t; /* tl_list_push without the call */
      else if ((s = tl_list_push(out, t))) break;
    }
    if (metas.items != metas.inline_items) tl_meta_list_free(&metas);
    if (s) return s;
  }
  /* A kernel-allocating op's kernel makes the same checks as its rule (they
   * share their planning code); in test mode verify_infer compares them. */
  if ((s = run_kernel(op, dev, in, n_in, attrs, out))) return s;
  if ((s = own_strings(op, out))) return s;
  if (check_infer) s = verify_infer(op, in, n_in, attrs, out);
  return s;
}

/* TL_OP_HALF_VIA_F32: cast half inputs up, run, round half outputs back. */
static tl_status run_half(const tl_op_def *op, tl_device dev, tl_tensor *const *in, int n_in,
                          const tl_attr *attrs, tl_tensor_list *out) {
  tl_meta_list want;
  tl_meta_list_init(&want);
  tl_status s = op->infer ? run_infer(op, in, n_in, attrs, &want) : TL_OK;
  tl_tensor *small[16], **args = small;
  if (!s && n_in > 16 && !(args = malloc(sizeof *args * (size_t)n_in)))
    s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  int made = 0;
  for (; made < n_in && !s; made++) {
    if (in[made] && is_half(in[made]->dtype))
      s = tl_call("cast", 1, &in[made], 1, (tl_named_attr[]){TL_A_DTYPE("dtype", TL_FLOAT32)},
                  &args[made]);
    else
      args[made] = in[made] ? tl_tensor_retain(in[made]) : NULL;
    if (s) break;
  }
  tl_tensor_list tmp;
  tl_list_init(&tmp);
  if (!s) s = infer_and_run(op, dev, args, n_in, attrs, &tmp);
  for (int i = 0; i < made; i++) tl_tensor_release(args[i]);
  if (args != small) free(args);
  for (int i = 0; i < tmp.n && !s; i++) {
    tl_tensor *c = tmp.items[i];
    tl_dtype back = i < want.n ? want.items[i].dtype : c->dtype;
    if (c->dtype == TL_FLOAT32 && is_half(back)) {
      s = tl_call("cast", 1, &c, 1, (tl_named_attr[]){TL_A_DTYPE("dtype", back)}, &c);
      if (s) break;
    } else {
      tl_tensor_retain(c);
    }
    s = tl_list_push(out, c);
  }
  tl_list_clear(&tmp);
  tl_meta_list_free(&want);
  return s;
}

tl_status tl_op_infer(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                      tl_meta_list *out) {
  tl_device dev;
  bool half, sym;
  tl_status s = check_inputs(op, in, n_in, &dev, &half, &sym);
  if (s) return s;
  if (!op->infer) return tl_error(TL_UNIMPLEMENTED, "%s has no shape rule", op->name);
  if ((s = run_infer(op, in, n_in, attrs, out))) {
    tl_meta_list_free(out);
    prefix_error(op, in, n_in);
  }
  return s;
}

tl_status tl_op_run(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                    tl_tensor_list *out) {
  if (tl_interrupt_pending()) {
    tl_interrupted();
    return tl_error(TL_CANCELLED, "%s: interrupted", op->name);
  }
  tl_device dev;
  bool half, sym;
  tl_status s = check_inputs(op, in, n_in, &dev, &half, &sym);
  if (s) return s;
  int depth = op_depth;
  int nobs = __atomic_load_n(&n_observers, __ATOMIC_ACQUIRE);
  bool record = tlg_tracing && depth == 0;
  if (sym && !record) {
    s = tl_error(TL_FAILED_PRECONDITION,
                 tl_trace_current() ? "a symbolic tensor (from the traced function) cannot be used where ops run "
                                      "eagerly (tf.init_scope); compute the value outside the traced function"
                                    : "a symbolic tensor of a traced function was used after its trace ended (it "
                                      "has no value); return it from the traced function instead");
    goto failed;
  }
  for (int i = 0; i < nobs; i++)
    if (observers[i]->before && (s = observers[i]->before(observers[i]->ctx, op, in, n_in, attrs, depth)))
      goto failed;
  if (record) {
    /* Tracing: the op becomes a node of the graph and its outputs are
     * symbolic; observers (a tape inside the trace) see it as if it ran. */
    if ((s = tlg_trace_record(op, in, n_in, attrs, out))) goto failed;
    goto observed;
  }
  op_depth = depth + 1;
  half = half && (op->flags & TL_OP_HALF_VIA_F32);
  s = half ? run_half(op, dev, in, n_in, attrs, out) : infer_and_run(op, dev, in, n_in, attrs, out);
  /* Numeric checking looks at what the user's ops and gradient rules
   * produce (depth 0); the check itself runs as a nested op on the
   * outputs' device. */
  if (!s && depth == 0 && tl_get_check_numerics()) {
    for (int i = 0; i < out->n && !s; i++) {
      char what[160];
      snprintf(what, sizeof what, "output %d of %s", i, op->name);
      s = tl_check_numerics(out->items[i], what);
    }
    if (s) {
      op_depth = depth;
      tl_list_clear(out);
      return s;
    }
  }
  op_depth = depth;
  if (s) goto failed;
observed:
  for (int i = 0; i < nobs; i++)
    if (observers[i]->after && (s = observers[i]->after(observers[i]->ctx, op, in, n_in, attrs, out, depth)))
      goto failed;
  return TL_OK;
failed:
  tl_list_clear(out);
  prefix_error(op, in, n_in);
  return s;
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

/* The first output of a finished call, releasing the rest and the list. */
static tl_status first_output(const char *name, tl_tensor_list *l, tl_tensor **out) {
  if (l->n < 1) {
    tl_list_clear(l);
    return tl_error(TL_INTERNAL, "%s produced no output", name);
  }
  *out = l->items[0];
  l->items[0] = NULL;
  for (int i = 1; i < l->n; i++) tl_tensor_release(l->items[i]);
  if (l->items != l->inline_items) free(l->items);
  return TL_OK;
}

tl_status tl_op_run1(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                     tl_tensor **out) {
  tl_tensor_list l;
  tl_list_init(&l);
  tl_status s = tl_op_run(op, in, n_in, attrs, &l);
  return s ? s : first_output(op->name, &l, out);
}

tl_status tl_call(const char *name, int n_in, tl_tensor *const *in, int n_attrs,
                  const tl_named_attr *named, tl_tensor **out) {
  tl_tensor_list l;
  tl_status s = tl_call_list(name, n_in, in, n_attrs, named, &l);
  return s ? s : first_output(name, &l, out);
}

tl_status tl_run1(const char *name, tl_tensor *const *in, int n_in, tl_tensor **out) {
  return tl_call(name, n_in, in, 0, NULL, out);
}
