/* tape.c — gradient tapes: recording op applications and walking them back.
 *
 * Invariants:
 * - A tape retains every tensor it records or watches, so pointer identity
 *   (the watched set, the gradient map) is stable while the tape lives.
 * - Recording is per thread: a thread-local stack of active tapes. An op is
 *   recorded on a tape only if one of its inputs is watched by that tape;
 *   its outputs then become watched. With no active tape the observer costs
 *   one thread-local load.
 * - Variables are watched through their handles: a read is the
 *   read_variable op (ops/state.c), which the observer records like any op
 *   when the tape wants the variable (explicitly watched, or trainable
 *   under watch_accessed_variables); its gradient accumulates under the
 *   handle, so a variable's gradient sums all its reads. Ops that write a
 *   variable (TL_OP_STATEFUL) are not reads. There is no side channel.
 * - A tape never records its own backward pass; outer active tapes do,
 *   which is what makes gradients of gradients work (the grad rules call
 *   ordinary ops through tl_op_run).
 * - Gradients of broadcast operands are reduced to the operand's shape here,
 *   in unbroadcast(), and nowhere else.
 * Not here: the grad rules themselves (each op's record, in its own file).
 */
#include "tl.h"
#include "autodiff/grad_temps.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pointer hash map (tensor* -> tensor*) ----------------------------- */

typedef struct pmap {
  const void **keys;
  tl_tensor **vals;
  size_t cap, n;
} pmap;

/* Mixes all address bits into the low ones the table mask keeps. */
static size_t phash(const void *p) {
  uint64_t x = (uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return (size_t)x;
}

static tl_status pmap_grow(pmap *m) {
  size_t cap = m->cap ? m->cap * 2 : 64;
  const void **keys = calloc(cap, sizeof *keys);
  tl_tensor **vals = calloc(cap, sizeof *vals);
  if (!keys || !vals) {
    free(keys);
    free(vals);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory growing a tape");
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i]) continue;
    size_t j = phash(m->keys[i]) & (cap - 1);
    while (keys[j]) j = (j + 1) & (cap - 1);
    keys[j] = m->keys[i];
    vals[j] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
  return TL_OK;
}

static tl_tensor **pmap_slot(pmap *m, const void *k, bool create) {
  if (!m->cap) {
    if (!create || pmap_grow(m)) return NULL;
  }
  size_t j = phash(k) & (m->cap - 1);
  while (m->keys[j]) {
    if (m->keys[j] == k) return &m->vals[j];
    j = (j + 1) & (m->cap - 1);
  }
  if (!create) return NULL;
  if ((m->n + 1) * 2 > m->cap) {
    if (pmap_grow(m)) return NULL;
    return pmap_slot(m, k, true);
  }
  m->keys[j] = k;
  m->vals[j] = NULL;
  m->n++;
  return &m->vals[j];
}

static bool pmap_has(const pmap *m, const void *k) { return pmap_slot((pmap *)m, k, false) != NULL; }

static void pmap_free(pmap *m, bool release_vals) {
  if (release_vals)
    for (size_t i = 0; i < m->cap; i++)
      if (m->keys[i]) tl_tensor_release(m->vals[i]);
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

/* ---- records ----------------------------------------------------------- */

#define INLINE_OPERANDS 6
typedef struct record {
  const tl_op_def *op;  /* NULL for a custom-gradient record */
  int n_in, n_out;
  tl_tensor **ext;      /* inputs then outputs when they do not fit inline */
  tl_tensor *inl[INLINE_OPERANDS];
  tl_attr *attrs;       /* a copy, when the op has attributes */
  tl_custom_grad_fn custom;
  struct shared_ctx *ctx; /* custom records: the caller's context, shared by every tape recording it */
} record;

/* A custom gradient's context, counted: each tape that records the call
 * holds it, so a tape freed first (an outer tape left recording and then
 * collected) cannot free it under the others. */
typedef struct shared_ctx {
  int refs;
  void *ctx;
  void (*free_ctx)(void *);
} shared_ctx;

static void shared_ctx_release(shared_ctx *c) {
  if (!c || --c->refs > 0) return;
  if (c->free_ctx) c->free_ctx(c->ctx);
  free(c);
}

/* Records move when the record array grows: operands are found through
 * these, never through stored pointers into a record. */
#define REC_IN(r) ((r)->ext ? (r)->ext : (r)->inl)
#define REC_OUT(r) (REC_IN(r) + (r)->n_in)

struct tl_tape {
  int refcount;
  bool persistent, watch_accessed, recording, consumed;
  record *recs;
  int n_recs, cap_recs;
  uint64_t serial;   /* unique per tape, never reused; marks tensors */
  bool marks_set;    /* tensors carry the mark only while the tape records
                      * (or computes a gradient): a stopped tape frees its
                      * slots for other tapes */
  tl_tensor **marked; /* tensors carrying this tape's mark (retained) */
  int n_marked, cap_marked;
  pmap watched;      /* watched tensors whose two mark slots were taken (retained) */
  tl_variable **vars; /* explicitly watched or accessed, in order */
  int n_vars, cap_vars;
  tl_variable **explicit_vars;
  int n_explicit, cap_explicit;
};

#define MAX_ACTIVE 64
static _Thread_local tl_tape *active[MAX_ACTIVE];
static _Thread_local int n_active;
static _Thread_local int paused;

static void copy_attrs(const tl_op_def *op, const tl_attr *src, tl_attr *dst) {
  for (int i = 0; i < op->n_attrs; i++) {
    dst[i] = src[i];
    if (src[i].type == TL_ATTR_INTS && src[i].n > 0) {
      dst[i].ints = malloc(sizeof(int64_t) * (size_t)src[i].n);
      if (dst[i].ints) memcpy(dst[i].ints, src[i].ints, sizeof(int64_t) * (size_t)src[i].n);
      else dst[i].n = 0;
    } else if (src[i].type == TL_ATTR_INTS) {
      dst[i].ints = NULL;
    }
    if (src[i].type == TL_ATTR_FLOATS && src[i].n > 0) {
      dst[i].floats = malloc(sizeof(double) * (size_t)src[i].n);
      if (dst[i].floats) memcpy(dst[i].floats, src[i].floats, sizeof(double) * (size_t)src[i].n);
      else dst[i].n = 0;
    } else if (src[i].type == TL_ATTR_FLOATS) {
      dst[i].floats = NULL;
    }
    if (src[i].type == TL_ATTR_STRING && src[i].s) dst[i].s = strdup(src[i].s);
  }
}

static void free_record(record *r) {
  for (int i = 0; i < r->n_in + r->n_out; i++) tl_tensor_release(REC_IN(r)[i]);
  free(r->ext);
  if (r->op && r->attrs)
    for (int i = 0; i < r->op->n_attrs; i++) {
      if (r->attrs[i].type == TL_ATTR_INTS) free(r->attrs[i].ints);
      if (r->attrs[i].type == TL_ATTR_FLOATS) free(r->attrs[i].floats);
      if (r->attrs[i].type == TL_ATTR_STRING) free((char *)r->attrs[i].s);
    }
  free(r->attrs);
  shared_ctx_release(r->ctx);
}

static inline bool is_watched(const tl_tape *t, const tl_tensor *x) {
  if (__atomic_load_n(&x->tape_marks[0], __ATOMIC_RELAXED) == t->serial ||
      __atomic_load_n(&x->tape_marks[1], __ATOMIC_RELAXED) == t->serial)
    return true;
  return t->watched.n && pmap_has(&t->watched, x);
}

/* Puts t's mark on x: one of its two slots, else the hash set. */
static tl_status mark(tl_tape *t, tl_tensor *x) {
  for (int k = 0; k < 2; k++) {
    uint64_t expected = 0;
    if (__atomic_compare_exchange_n(&x->tape_marks[k], &expected, t->serial, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED))
      return TL_OK;
  }
  tl_tensor **slot = pmap_slot(&t->watched, x, true);
  if (!slot) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory watching a tensor");
  if (!*slot) *slot = tl_tensor_retain(x);
  return TL_OK;
}

static void unmark(tl_tensor *x, uint64_t serial) {
  for (int k = 0; k < 2; k++) {
    uint64_t mine = serial;
    __atomic_compare_exchange_n(&x->tape_marks[k], &mine, 0, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  }
}

/* in_record: x is an output of one of t's records, which holds the
 * reference; other watched tensors are kept (retained) in t->marked. */
static tl_status watch_tensor(tl_tape *t, tl_tensor *x, bool in_record) {
  if (t->marks_set && is_watched(t, x)) return TL_OK;
  if (!in_record) {
    if (t->n_marked == t->cap_marked) {
      int cap = t->cap_marked ? t->cap_marked * 2 : 64;
      tl_tensor **m = realloc(t->marked, sizeof *m * (size_t)cap);
      if (!m) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory watching a tensor");
      t->marked = m;
      t->cap_marked = cap;
    }
    t->marked[t->n_marked++] = tl_tensor_retain(x);
  }
  return t->marks_set ? mark(t, x) : TL_OK;
}

/* Marks (on) or unmarks (off) every tensor the tape watches. */
static void set_marks(tl_tape *t, bool on);

/* Records are filled in place: reserve a slot, fill it, then commit. */
static record *reserve_record(tl_tape *t) {
  if (t->n_recs == t->cap_recs) {
    int cap = t->cap_recs ? t->cap_recs * 2 : 32;
    record *recs = realloc(t->recs, sizeof *recs * (size_t)cap);
    if (!recs) {
      tl_error(TL_RESOURCE_EXHAUSTED, "out of memory recording on a tape");
      return NULL;
    }
    t->recs = recs;
    t->cap_recs = cap;
  }
  return &t->recs[t->n_recs];
}

/* The outputs become watched; a failure to mark one (out of memory) only
 * means later ops on it go unrecorded, as if it were a constant. */
static void commit_record(tl_tape *t) {
  record *r = &t->recs[t->n_recs++];
  for (int i = 0; i < r->n_out; i++)
    if (REC_OUT(r)[i]) watch_tensor(t, REC_OUT(r)[i], true);
}

static tl_status fill_record(record *r, const tl_op_def *op, tl_tensor *const *in, int n_in,
                             const tl_attr *attrs, tl_tensor *const *out, int n_out) {
  r->op = op;
  r->n_in = n_in;
  r->n_out = n_out;
  r->custom = NULL;
  r->ctx = NULL;
  r->ext = NULL;
  if (n_in + n_out > INLINE_OPERANDS) {
    r->ext = calloc((size_t)(n_in + n_out), sizeof *r->ext);
    if (!r->ext) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory recording on a tape");
  }
  for (int i = 0; i < n_in; i++) REC_IN(r)[i] = tl_tensor_retain(in[i]);
  for (int i = 0; i < n_out; i++) REC_OUT(r)[i] = tl_tensor_retain(out[i]);
  r->attrs = NULL;
  if (op && attrs && op->n_attrs > 0) {
    r->attrs = malloc(sizeof(tl_attr) * (size_t)op->n_attrs);
    if (!r->attrs) {
      for (int i = 0; i < n_in + n_out; i++) tl_tensor_release(REC_IN(r)[i]);
      free(r->ext);
      return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory recording on a tape");
    }
    copy_attrs(op, attrs, r->attrs);
  }
  return TL_OK;
}

static bool any_watched_tensors(const tl_tape *t, tl_tensor *const *in, int n_in) {
  for (int i = 0; i < n_in; i++)
    if (in[i] && in[i]->dtype != TL_RESOURCE && is_watched(t, in[i])) return true;
  return false;
}

static bool tape_wants(const tl_tape *t, const tl_variable *v);
static tl_status add_var(tl_variable ***arr, int *n, int *cap, tl_variable *v);


/* A variable is watched through its handle: an op that reads it (a
 * resource input of an op that does not write it: read_variable) is
 * recorded when the tape wants the variable, and the gradient its rule
 * gives that input is the variable's (accumulated under the handle). */
static bool any_watched(tl_tape *t, const tl_op_def *op, tl_tensor *const *in, int n_in) {
  bool any = false;
  for (int i = 0; i < n_in; i++) {
    if (!in[i]) continue;
    if (in[i]->dtype == TL_RESOURCE) {
      tl_variable *v = tl_resource_peek(in[i]);
      if (!v || (op->flags & TL_OP_STATEFUL) || !tape_wants(t, v)) continue;
      add_var(&t->vars, &t->n_vars, &t->cap_vars, v); /* accessed, in first-read order */
      any = true;
    } else if (is_watched(t, in[i])) {
      any = true;
    }
  }
  return any;
}

static _Thread_local int n_watches;
static void watch_notify(tl_variable *v);

/* Variable watchers learn of reads from the ops: a resource input of an op
 * that does not write it. */
static void notify_reads(const tl_op_def *op, tl_tensor *const *in, int n_in) {
  if (op->flags & TL_OP_STATEFUL) return;
  for (int i = 0; i < n_in; i++) {
    tl_variable *v = tl_resource_peek(in[i]);
    if (v) watch_notify(v);
  }
}

/* The tape's observer: after each op called from outside a kernel (depth
 * 0), a record on every recording tape that watches one of its inputs.
 * Ops that a kernel calls are part of that op and are not recorded. */
static tl_status observe(void *ctx, const tl_op_def *op, tl_tensor *const *in, int n_in,
                         const tl_attr *attrs, const tl_tensor_list *out, int depth) {
  (void)ctx;
  if (depth > 0) return TL_OK;
  if (n_watches) notify_reads(op, in, n_in); /* even while paused: custom_gradient's watcher */
  if (n_active == 0 || paused) return TL_OK;
  for (int k = 0; k < n_active; k++) {
    tl_tape *t = active[k];
    if (!t->recording || !any_watched(t, op, in, n_in)) continue;
    record *r = reserve_record(t);
    if (!r) return TL_RESOURCE_EXHAUSTED; /* message set by reserve_record */
    tl_status s = fill_record(r, op, in, n_in, attrs, out->items, out->n);
    if (s) return s;
    commit_record(t);
  }
  return TL_OK;
}

static const tl_observer tape_observer = {.after = observe};
static void install_observer(void) { tl_observer_add(&tape_observer); }
/* Installed once per process, by the first tape or variable watcher. */
static pthread_once_t observer_once = PTHREAD_ONCE_INIT;
static void ensure_observer(void) { pthread_once(&observer_once, install_observer); }

/* ---- tape objects ------------------------------------------------------ */

tl_status tl_tape_new(bool persistent, bool watch_accessed_variables, tl_tape **out) {
  ensure_observer();
  tl_tape *t = calloc(1, sizeof *t);
  if (!t) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  static uint64_t next_serial = 1;
  t->serial = __atomic_fetch_add(&next_serial, 1, __ATOMIC_RELAXED);
  t->marks_set = false;
  t->refcount = 1;
  t->persistent = persistent;
  t->watch_accessed = watch_accessed_variables;
  *out = t;
  return TL_OK;
}

tl_tape *tl_tape_retain(tl_tape *t) {
  t->refcount++;
  return t;
}

/* Drops every record and watch: the retained tensors (variable reads among
 * them) go back, so an optimizer can update the variables in place. */
static void clear(tl_tape *t) {
  for (int i = 0; i < t->n_recs; i++) {
    record *r = &t->recs[i];
    for (int k = 0; k < r->n_out; k++)
      if (REC_OUT(r)[k]) unmark(REC_OUT(r)[k], t->serial);
    free_record(r);
  }
  free(t->recs);
  t->recs = NULL;
  t->n_recs = t->cap_recs = 0;
  pmap_free(&t->watched, true);
  for (int i = 0; i < t->n_marked; i++) {
    unmark(t->marked[i], t->serial);
    tl_tensor_release(t->marked[i]);
  }
  free(t->marked);
  t->marked = NULL;
  t->n_marked = t->cap_marked = 0;
  for (int i = 0; i < t->n_vars; i++) tl_variable_release(t->vars[i]);
  free(t->vars);
  t->vars = NULL;
  t->n_vars = t->cap_vars = 0;
  for (int i = 0; i < t->n_explicit; i++) tl_variable_release(t->explicit_vars[i]);
  free(t->explicit_vars);
  t->explicit_vars = NULL;
  t->n_explicit = t->cap_explicit = 0;
}

static void set_marks(tl_tape *t, bool on) {
  if (t->marks_set == on) return;
  t->marks_set = on;
  for (int i = 0; i < t->n_recs; i++) {
    record *r = &t->recs[i];
    for (int k = 0; k < r->n_out; k++) {
      tl_tensor *x = REC_OUT(r)[k];
      if (!x) continue;
      if (on) mark(t, x);
      else unmark(x, t->serial);
    }
  }
  for (int i = 0; i < t->n_marked; i++) {
    if (on) mark(t, t->marked[i]);
    else unmark(t->marked[i], t->serial);
  }
}

void tl_tape_reset(tl_tape *t) {
  clear(t);
  t->consumed = false;
}

void tl_tape_release(tl_tape *t) {
  if (!t || --t->refcount > 0) return;
  tl_tape_stop(t);
  tl_tape_reset(t);
  free(t);
}

tl_status tl_tape_start(tl_tape *t) {
  if (t->recording) return TL_OK;
  if (n_active == MAX_ACTIVE) return tl_error(TL_RESOURCE_EXHAUSTED, "too many nested gradient tapes (%d)", MAX_ACTIVE);
  active[n_active++] = t;
  t->recording = true;
  set_marks(t, true);
  return TL_OK;
}

void tl_tape_stop(tl_tape *t) {
  if (!t->recording) return;
  t->recording = false;
  set_marks(t, false);
  for (int i = 0; i < n_active; i++)
    if (active[i] == t) {
      memmove(&active[i], &active[i + 1], sizeof active[0] * (size_t)(n_active - i - 1));
      n_active--;
      break;
    }
}

bool tl_tape_is_recording(const tl_tape *t) { return t->recording; }
bool tl_tapes_active(void) { return n_active > 0 && !paused; }
void tl_tape_pause(void) { paused++; }
void tl_tape_resume(void) {
  if (paused > 0) paused--;
}

tl_status tl_tape_watch(tl_tape *t, tl_tensor *x) { return watch_tensor(t, x, false); }

static tl_status add_var(tl_variable ***arr, int *n, int *cap, tl_variable *v) {
  for (int i = 0; i < *n; i++)
    if ((*arr)[i] == v) return TL_OK;
  if (*n == *cap) {
    int c = *cap ? *cap * 2 : 8;
    tl_variable **a = realloc(*arr, sizeof *a * (size_t)c);
    if (!a) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
    *arr = a;
    *cap = c;
  }
  (*arr)[(*n)++] = tl_variable_retain(v);
  return TL_OK;
}

tl_status tl_tape_watch_variable(tl_tape *t, tl_variable *v) {
  tl_status s = add_var(&t->explicit_vars, &t->n_explicit, &t->cap_explicit, v);
  if (s) return s;
  return add_var(&t->vars, &t->n_vars, &t->cap_vars, v);
}

static bool tape_wants(const tl_tape *t, const tl_variable *v) {
  if (t->watch_accessed && v->trainable) return true;
  for (int i = 0; i < t->n_explicit; i++)
    if (t->explicit_vars[i] == v) return true;
  return false;
}

/* ---- variable watchers --------------------------------------------------- */

typedef struct var_watch {
  tl_variable **vars;
  int n, cap;
  bool failed; /* out of memory while collecting: end reports it */
} var_watch;

#define MAX_WATCHES 16
static _Thread_local var_watch watches[MAX_WATCHES];

tl_status tl_variable_watch_begin(void) {
  ensure_observer(); /* reads reach watchers through the observer */
  if (n_watches == MAX_WATCHES)
    return tl_error(TL_RESOURCE_EXHAUSTED, "variable watchers nested deeper than %d", MAX_WATCHES);
  watches[n_watches++] = (var_watch){0};
  return TL_OK;
}

tl_status tl_variable_watch_end(tl_variable ***vars, int *n) {
  *vars = NULL;
  *n = 0;
  if (n_watches == 0) return tl_error(TL_FAILED_PRECONDITION, "no variable watcher is open");
  var_watch w = watches[--n_watches];
  if (w.failed) {
    for (int i = 0; i < w.n; i++) tl_variable_release(w.vars[i]);
    free(w.vars);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory watching variable reads");
  }
  *vars = w.vars;
  *n = w.n;
  return TL_OK;
}

static void watch_notify(tl_variable *v) {
  for (int k = 0; k < n_watches; k++) {
    var_watch *w = &watches[k];
    if (!w->failed && add_var(&w->vars, &w->n, &w->cap, v)) w->failed = true;
  }
}

int tl_tape_watched_variables(const tl_tape *t, tl_variable ***out) {
  *out = t->vars;
  return t->n_vars;
}

tl_status tl_tape_record_custom(tl_tensor *const *in, int n_in, tl_tensor *const *out, int n_out,
                                tl_custom_grad_fn fn, void *ctx, void (*free_ctx)(void *)) {
  shared_ctx *sc = NULL;
  tl_status s = TL_OK;
  for (int k = 0; k < n_active && !s; k++) {
    tl_tape *t = active[k];
    if (!t->recording || !any_watched_tensors(t, in, n_in)) continue;
    if (!sc) {
      sc = malloc(sizeof *sc);
      if (!sc) {
        s = tl_error(TL_RESOURCE_EXHAUSTED, "out of memory recording a custom gradient");
        break;
      }
      *sc = (shared_ctx){1, ctx, free_ctx}; /* this function's own reference, dropped below */
    }
    record *r = reserve_record(t);
    s = r ? fill_record(r, NULL, in, n_in, NULL, out, n_out) : tl_last_status();
    if (s) break;
    r->custom = fn;
    r->ctx = sc;
    sc->refs++;
    commit_record(t);
  }
  if (sc) shared_ctx_release(sc);
  else if (free_ctx) free_ctx(ctx);
  return s;
}

/* ---- backward ---------------------------------------------------------- */

static bool differentiable(const tl_tensor *x) {
  return tl_dtypes[x->dtype].kind == TL_KIND_FLOAT || tl_dtypes[x->dtype].kind == TL_KIND_COMPLEX;
}

/* Reduces g (the gradient of a broadcast result) to like's shape. */
static tl_status unbroadcast(tl_tensor *g, const tl_tensor *like, tl_tensor **out) {
  if (tl_tensor_same_shape(g, like)) {
    *out = tl_tensor_retain(g);
    return TL_OK;
  }
  int64_t axes[TL_MAX_RANK];
  int n = 0, lead = g->rank - like->rank;
  if (lead < 0) return tl_error(TL_INTERNAL, "gradient has lower rank than its operand");
  for (int i = 0; i < g->rank; i++)
    if (i < lead || (like->shape[i - lead] == 1 && g->shape[i] != 1)) axes[n++] = i;
  tl_tensor *summed;
  tl_status s;
  if (n > 0) {
    /* Equal ranks: keepdims gives like's shape at once; only leading axes
     * summed: so does the plain sum. Then no reshape is needed (one op
     * fewer, and none that an outer tape must differentiate). */
    s = tl_call("reduce_sum", 1, &g, 2,
                (tl_named_attr[]){TL_A_INTS("axis", n, axes), TL_A_BOOL("keepdims", lead == 0)}, &summed);
    if (s) return s;
  } else {
    summed = tl_tensor_retain(g);
  }
  if (tl_tensor_same_shape(summed, like)) {
    *out = summed;
    return TL_OK;
  }
  int64_t shape[TL_MAX_RANK];
  memcpy(shape, like->shape, sizeof(int64_t) * (size_t)like->rank);
  s = tl_call("reshape", 1, &summed, 1, (tl_named_attr[]){TL_A_INTS("shape", like->rank, shape)}, out);
  tl_tensor_release(summed);
  return s;
}

static tl_status accumulate(pmap *grads, tl_tensor *x, tl_tensor *g) {
  tl_tensor **slot = pmap_slot(grads, x, true);
  if (!slot) {
    tl_tensor_release(g);
    return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory in gradient");
  }
  if (!*slot) {
    *slot = g;
    return TL_OK;
  }
  tl_tensor *pair[2] = {*slot, g}, *sum;
  tl_status s = tl_run1("add", pair, 2, &sum);
  tl_tensor_release(g);
  if (s) return s;
  tl_tensor_release(*slot);
  *slot = sum;
  return TL_OK;
}

/* The seed gradient, on the target's device: filled on the host and copied
 * there (host code must not write device memory in place). */
static tl_status ones_like(const tl_tensor *x, tl_tensor **out) {
  tl_tensor *h;
  tl_status s = tl_tensor_new(x->dtype, x->rank, x->shape, &h);
  if (s) return s;
  void *d = h->storage->data;
  for (int64_t i = 0; i < x->size; i++) tl_store_f64(d, x->dtype, i, 1.0);
  s = tl_tensor_copy_to(h, x->storage->device, out);
  tl_tensor_release(h);
  return s;
}

/* Only inputs the tape watches (sources, variable reads, outputs of recorded
 * ops) can lead to a source: gradients for the others (constants) are
 * dropped before they are un-broadcast or stored, so they never reach a
 * caller asking about an unwatched tensor (TF answers None there). */
static bool wanted(const tl_tape *t, const tl_tensor *x) {
  if (!x) return false;
  if (x->dtype == TL_RESOURCE) {
    tl_variable *v = tl_resource_peek(x);
    return v && differentiable(v->value) && tape_wants(t, v);
  }
  return differentiable(x) && is_watched(t, x);
}

/* Which inputs of the rule being run need a gradient (bit i = input i);
 * all of them outside a backward pass. */
static _Thread_local uint64_t wants_mask = ~(uint64_t)0;

bool tl_grad_wants(int input) { return input >= 64 || ((wants_mask >> input) & 1); }
uint64_t tl_grad_wants_all(void) {
  uint64_t saved = wants_mask;
  wants_mask = ~(uint64_t)0;
  return saved;
}
void tl_grad_wants_restore(uint64_t saved) { wants_mask = saved; }

static tl_status run_rule(const tl_tape *t, record *r, pmap *grads, tl_tensor **gout, tl_tensor **gin);

/* Operand gradients live on the stack for ordinary ops, on the heap for
 * list ops with many operands (concat of hundreds of tensors). */
static tl_status run_record(const tl_tape *t, record *r, pmap *grads) {
  enum { SMALL = 16 };
  tl_tensor *gout_s[SMALL] = {0}, *gin_s[SMALL] = {0};
  if (r->n_out <= SMALL && r->n_in <= SMALL) return run_rule(t, r, grads, gout_s, gin_s);
  tl_tensor **gout = calloc((size_t)r->n_out + 1, sizeof *gout), **gin = calloc((size_t)r->n_in + 1, sizeof *gin);
  tl_status s = gout && gin ? run_rule(t, r, grads, gout, gin)
                            : tl_error(TL_RESOURCE_EXHAUSTED, "out of memory in gradient");
  free(gout);
  free(gin);
  return s;
}

static tl_status run_rule(const tl_tape *t, record *r, pmap *grads, tl_tensor **gout, tl_tensor **gin) {
  tl_tensor **rin = REC_IN(r), **rout = REC_OUT(r);
  bool any = false;
  for (int i = 0; i < r->n_out; i++) {
    tl_tensor **slot = pmap_slot(grads, rout[i], false);
    gout[i] = slot ? *slot : NULL;
    any |= gout[i] != NULL;
  }
  if (!any) return TL_OK;
  if (r->op && (r->op->flags & TL_OP_NO_GRADIENT)) return TL_OK;
  uint64_t mask = 0;
  for (int i = 0; i < r->n_in; i++)
    if (i >= 64 || wanted(t, rin[i])) mask |= (uint64_t)1 << (i < 64 ? i : 63);
  if (!mask) return TL_OK;
  tl_status s;
  if (r->custom) {
    s = r->custom(r->ctx->ctx, gout, r->n_out, gin, r->n_in);
  } else if (!r->op->grad) {
    return tl_error(TL_UNIMPLEMENTED, "no gradient is defined for op '%s'", r->op->name);
  } else {
    uint64_t saved = wants_mask;
    wants_mask = mask;
    s = r->op->grad(r->op, rin, r->n_in, r->attrs, rout, r->n_out, gout, gin);
    wants_mask = saved;
    if (s) tl_error_prefix("gradient of %s: ", r->op->name);
  }
  if (s) {
    for (int i = 0; i < r->n_in; i++) tl_tensor_release(gin[i]);
    return s;
  }
  for (int i = 0; i < r->n_in; i++) {
    if (!gin[i]) continue;
    if (!wanted(t, rin[i])) {
      tl_tensor_release(gin[i]);
      continue;
    }
    tl_tensor *g;
    /* a variable's gradient has its value's shape already (read_variable) */
    tl_variable *rv = tl_resource_peek(rin[i]);
    s = unbroadcast(gin[i], rv ? rv->value : rin[i], &g);
    tl_tensor_release(gin[i]);
    gin[i] = NULL;
    if (!s) s = accumulate(grads, rin[i], g);
    if (s) {
      for (int k = i + 1; k < r->n_in; k++) tl_tensor_release(gin[k]);
      return s;
    }
  }
  return TL_OK;
}

void tl_tape_consume(tl_tape *t) {
  if (t->persistent) return;
  t->consumed = true;
  tl_tape_stop(t);
  clear(t); /* a used non-persistent tape can answer nothing more */
}

tl_status tl_tape_gradient(tl_tape *t, tl_tensor *target, tl_tensor *output_grad, int n_src,
                           const tl_grad_source *src, bool unconnected_zero, bool keep,
                           tl_tensor **grads_out) {
  for (int i = 0; i < n_src; i++) grads_out[i] = NULL;
  if (t->consumed)
    return tl_error(TL_FAILED_PRECONDITION,
                    "gradient: a non-persistent GradientTape can compute gradients only once; "
                    "use tf.GradientTape{persistent=true} to call gradient more than once");
  if (output_grad && (output_grad->dtype != target->dtype || !tl_tensor_same_shape(output_grad, target))) {
    char a[160], b[160];
    return tl_error(TL_INVALID_ARGUMENT, "gradient: output_gradients %s must match the target %s",
                    tl_tensor_describe(output_grad, a, sizeof a), tl_tensor_describe(target, b, sizeof b));
  }
  /* The tape does not record its own backward pass; outer tapes do. */
  bool was = t->recording, marked = t->marks_set;
  set_marks(t, true); /* wanted() asks the marks */
  t->recording = false;
  pmap grads = {0};
  tl_status s = TL_OK;
  if (differentiable(target)) {
    tl_tensor *seed;
    if (output_grad) seed = tl_tensor_retain(output_grad);
    else if ((s = ones_like(target, &seed))) goto done;
    if ((s = accumulate(&grads, target, seed))) goto done;
    for (int i = t->n_recs - 1; i >= 0; i--)
      if ((s = run_record(t, &t->recs[i], &grads))) goto done;
  }
  for (int i = 0; i < n_src; i++) {
    tl_tensor *like = src[i].tensor ? src[i].tensor : src[i].variable ? src[i].variable->value : NULL;
    if (!like || !differentiable(like)) continue;
    tl_tensor *g = NULL;
    if (src[i].tensor) {
      tl_tensor **slot = pmap_slot(&grads, src[i].tensor, false);
      if (slot && *slot) g = tl_tensor_retain(*slot);
    } else {
      /* every read's gradient was accumulated under the handle */
      tl_tensor **slot = pmap_slot(&grads, src[i].variable->handle, false);
      if (slot && *slot) g = tl_tensor_retain(*slot);
    }
    if (!g && unconnected_zero && (s = tl_tensor_zeros(like->dtype, like->rank, like->shape, &g))) goto done;
    grads_out[i] = g;
  }
done:
  pmap_free(&grads, true);
  t->recording = was;
  set_marks(t, marked);
  if (s) {
    for (int i = 0; i < n_src; i++) {
      tl_tensor_release(grads_out[i]);
      grads_out[i] = NULL;
    }
  }
  if (!keep) tl_tape_consume(t);
  return s;
}
