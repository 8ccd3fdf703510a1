/* queue.c — tf.queue's four queues as thread-safe C objects (tl_queue.h).
 *
 * One mutex and two condition variables per queue: consumers wait on
 * can_take, producers on can_put. Elements are n component pointers in one
 * slot array that grows by doubling up to the capacity: a ring for the FIFO
 * kinds (so a failed multi-element dequeue can put its elements back at
 * the front), a binary heap on (priority, arrival) for PRIORITY, a dense
 * array with swap-remove for RANDOM_SHUFFLE.
 *
 * Invariants: only enqueue/dequeue code under the mutex touches the slots;
 * every pointer in a slot holds one reference; batches are built outside
 * the mutex from references taken out under it, and put back on failure,
 * so an error other than out-of-memory leaves the queue as it was.
 *
 * Wakeups: a side is woken only when it is waiting and can make progress;
 * producers blocked on a full queue are woken when an eighth of it is free
 * (not on every dequeue), so a fast producer does not cost a futex call per
 * element. Whoever is about to block first wakes the other side if it is
 * waiting, so the hysteresis can never leave both sides asleep.
 *
 * Not here: Lua (lua/queue_binding.c), named sharing (shared_name), and
 * device placement: batches are CPU tensors.
 */
#include "tl_queue.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ORDER QUEUE_KINDS */
static const char *const kind_names[] = {"FIFOQueue", "PaddingFIFOQueue", "PriorityQueue", "RandomShuffleQueue"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == TL_QUEUE_KIND_COUNT, "kind_names follows tl_queue_kind");

#define INTERRUPT_POLL_NS 50000000L

struct tl_queue {
  int refcount; /* atomic */
  tl_queue_kind kind;
  int64_t capacity; /* < 0: unbounded */
  int n;
  tl_meta *comp;
  char **names;
  int64_t min_after;
  char name[128];
  pthread_mutex_t mu;
  pthread_cond_t can_take, can_put;
  /* under mu: */
  tl_tensor **slots; /* cap_slots * n */
  int64_t *prio, *seq; /* PRIORITY keys, per slot */
  int64_t cap_slots, head, count, next_seq;
  bool closed, cancelled;
  int waiting_takers, waiting_putters;
  int64_t take_need, put_need; /* least that a waiting consumer / producer needs */
  tl_rng rng;
  uint32_t rbuf[16];
  int rpos;
  uint64_t version; /* atomic: bumped by every put and take (spinners watch it) */
};

const char *tl_queue_kind_name(tl_queue_kind k) {
  return (unsigned)k < TL_QUEUE_KIND_COUNT ? kind_names[k] : "Queue";
}
tl_queue_kind tl_queue_kind_of(const tl_queue *q) { return q->kind; }
const char *tl_queue_name(const tl_queue *q) { return q->name; }
int64_t tl_queue_capacity(const tl_queue *q) { return q->capacity; }
int64_t tl_queue_min_after_dequeue(const tl_queue *q) { return q->min_after; }
int tl_queue_n_components(const tl_queue *q) { return q->n; }
const tl_meta *tl_queue_component(const tl_queue *q, int i) { return &q->comp[i]; }

/* ---- creation ------------------------------------------------------------ */

static void free_queue(tl_queue *q) {
  if (q->names)
    for (int i = 0; i < q->n; i++) free(q->names[i]);
  free(q->names);
  free(q->comp);
  free(q->slots);
  free(q->prio);
  free(q->seq);
  free(q);
}

tl_status tl_queue_new(const tl_queue_spec *spec, tl_queue **out) {
  *out = NULL;
  const char *kn = tl_queue_kind_name(spec->kind);
  if ((unsigned)spec->kind >= TL_QUEUE_KIND_COUNT)
    return tl_error(TL_INVALID_ARGUMENT, "queue: unknown kind %d", (int)spec->kind);
  if (spec->n < 1 || spec->n > TL_QUEUE_MAX_COMPONENTS)
    return tl_error(TL_INVALID_ARGUMENT, "%s: a queue needs 1 to %d component dtypes, got %d", kn,
                    TL_QUEUE_MAX_COMPONENTS, spec->n);
  if (spec->capacity == 0) return tl_error(TL_INVALID_ARGUMENT, "%s: capacity must be positive (or negative for no limit), got 0", kn);
  for (int i = 0; i < spec->n; i++) {
    const tl_meta *m = &spec->components[i];
    if ((unsigned)m->dtype >= TL_DTYPE_COUNT || m->dtype == TL_RESOURCE)
      return tl_error(TL_INVALID_ARGUMENT, "%s: component %d: a queue cannot hold %s tensors", kn, i,
                      (unsigned)m->dtype < TL_DTYPE_COUNT ? tl_dtypes[m->dtype].name : "unknown");
    if (m->rank < -1 || m->rank >= TL_MAX_RANK)
      return tl_error(TL_INVALID_ARGUMENT, "%s: component %d: rank %d is not supported (at most %d, so batches fit)", kn, i,
                      m->rank, TL_MAX_RANK - 1);
    for (int d = 0; d < m->rank; d++)
      if (m->shape[d] < -1)
        return tl_error(TL_INVALID_ARGUMENT, "%s: component %d: dimension %d is %" PRId64 " (use -1 for unknown)", kn, i, d,
                        m->shape[d]);
  }
  if (spec->kind == TL_QUEUE_PADDING_FIFO)
    for (int i = 0; i < spec->n; i++)
      if (spec->components[i].rank < 0)
        return tl_error(TL_INVALID_ARGUMENT,
                        "PaddingFIFOQueue: component %d: shapes must give every component's rank "
                        "(dimensions may be unknown, -1)", i);
  if (spec->kind == TL_QUEUE_PRIORITY) {
    const tl_meta *p = &spec->components[0];
    if (p->dtype != TL_INT64 || p->rank != 0)
      return tl_error(TL_INVALID_ARGUMENT, "PriorityQueue: component 0 is the priority and must be a scalar int64");
  }
  if (spec->kind == TL_QUEUE_RANDOM_SHUFFLE) {
    if (spec->min_after_dequeue < 0)
      return tl_error(TL_INVALID_ARGUMENT, "RandomShuffleQueue: min_after_dequeue must be >= 0, got %" PRId64,
                      spec->min_after_dequeue);
    if (spec->capacity > 0 && spec->min_after_dequeue >= spec->capacity)
      return tl_error(TL_INVALID_ARGUMENT,
                      "RandomShuffleQueue: min_after_dequeue (%" PRId64 ") must be less than capacity (%" PRId64
                      "), or no dequeue could ever run before close",
                      spec->min_after_dequeue, spec->capacity);
  }
  tl_queue *q = calloc(1, sizeof *q);
  if (!q) return tl_error(TL_RESOURCE_EXHAUSTED, "%s: out of memory", kn);
  q->comp = malloc(sizeof *q->comp * (size_t)spec->n);
  if (!q->comp) goto oom;
  memcpy(q->comp, spec->components, sizeof *q->comp * (size_t)spec->n);
  q->n = spec->n;
  if (spec->names) {
    if (!(q->names = calloc((size_t)spec->n, sizeof *q->names))) goto oom;
    for (int i = 0; i < spec->n; i++)
      if (spec->names[i] && !(q->names[i] = strdup(spec->names[i]))) goto oom;
  }
  q->refcount = 1;
  q->kind = spec->kind;
  q->capacity = spec->capacity < 0 ? -1 : spec->capacity;
  q->min_after = spec->kind == TL_QUEUE_RANDOM_SHUFFLE ? spec->min_after_dequeue : 0;
  snprintf(q->name, sizeof q->name, "%s", spec->name ? spec->name : "queue");
  tl_rng_seed(&q->rng, spec->seed ^ (spec->seed2 * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull));
  q->rpos = 16;
  q->take_need = q->put_need = INT64_MAX;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->can_take, &ca);
  pthread_cond_init(&q->can_put, &ca);
  pthread_condattr_destroy(&ca);
  *out = q;
  return TL_OK;
oom:
  free_queue(q);
  return tl_error(TL_RESOURCE_EXHAUSTED, "%s: out of memory", kn);
}

tl_queue *tl_queue_retain(tl_queue *q) {
  if (q) __atomic_add_fetch(&q->refcount, 1, __ATOMIC_RELAXED);
  return q;
}

static tl_tensor **slot(tl_queue *q, int64_t i); /* i-th in storage order */

void tl_queue_release(tl_queue *q) {
  if (!q || __atomic_sub_fetch(&q->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
  for (int64_t i = 0; i < q->count; i++) {
    tl_tensor **s = slot(q, i);
    for (int c = 0; c < q->n; c++) tl_tensor_release(s[c]);
  }
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->can_take);
  pthread_cond_destroy(&q->can_put);
  free_queue(q);
}

/* ---- slots (under mu) ---------------------------------------------------- */

static bool is_ring(const tl_queue *q) { return q->kind == TL_QUEUE_FIFO || q->kind == TL_QUEUE_PADDING_FIFO; }

static tl_tensor **slot(tl_queue *q, int64_t i) {
  int64_t p = is_ring(q) ? (q->head + i) % q->cap_slots : i;
  return q->slots + p * q->n;
}

/* Room for `more` elements past count (count + more <= capacity). */
static tl_status reserve(tl_queue *q, int64_t more) {
  int64_t need = q->count + more;
  if (need <= q->cap_slots) return TL_OK;
  int64_t cap = q->cap_slots ? q->cap_slots * 2 : 16;
  if (cap < need) cap = need;
  if (q->capacity > 0 && cap > q->capacity) cap = q->capacity;
  if (cap < need) cap = need; /* put_back may briefly exceed the capacity */
  size_t n = (size_t)q->n;
  tl_tensor **ns = malloc(sizeof *ns * (size_t)cap * n);
  int64_t *np = NULL, *nq = NULL;
  if (!ns) goto oom;
  if (q->kind == TL_QUEUE_PRIORITY) {
    np = realloc(q->prio, sizeof *np * (size_t)cap);
    if (!np) goto oom;
    q->prio = np;
    nq = realloc(q->seq, sizeof *nq * (size_t)cap);
    if (!nq) goto oom;
    q->seq = nq;
  }
  for (int64_t i = 0; i < q->count; i++) memcpy(ns + (size_t)i * n, slot(q, i), sizeof *ns * n);
  free(q->slots);
  q->slots = ns;
  q->cap_slots = cap;
  q->head = 0;
  return TL_OK;
oom:
  free(ns);
  return tl_error(TL_RESOURCE_EXHAUSTED, "%s '%s': out of memory growing to %" PRId64 " elements",
                  tl_queue_kind_name(q->kind), q->name, cap);
}

static bool heap_less(const tl_queue *q, int64_t a, int64_t b) {
  return q->prio[a] < q->prio[b] || (q->prio[a] == q->prio[b] && q->seq[a] < q->seq[b]);
}

static void heap_swap(tl_queue *q, int64_t a, int64_t b) {
  tl_tensor *tmp[TL_QUEUE_MAX_COMPONENTS];
  size_t sz = sizeof *tmp * (size_t)q->n;
  memcpy(tmp, q->slots + a * q->n, sz);
  memcpy(q->slots + a * q->n, q->slots + b * q->n, sz);
  memcpy(q->slots + b * q->n, tmp, sz);
  int64_t t = q->prio[a];
  q->prio[a] = q->prio[b];
  q->prio[b] = t;
  t = q->seq[a];
  q->seq[a] = q->seq[b];
  q->seq[b] = t;
}

/* Stores one element (references taken over). front: at the head of a
 * ring (putting back what a failed dequeue took). seq < 0: a new arrival. */
static void put(tl_queue *q, tl_tensor *const *c, int64_t prio, int64_t seq, bool front) {
  size_t sz = sizeof *c * (size_t)q->n;
  __atomic_add_fetch(&q->version, 1, __ATOMIC_RELAXED);
  if (is_ring(q)) {
    if (front) {
      q->head = (q->head + q->cap_slots - 1) % q->cap_slots;
      memcpy(q->slots + q->head * q->n, c, sz);
    } else {
      memcpy(q->slots + ((q->head + q->count) % q->cap_slots) * q->n, c, sz);
    }
    q->count++;
    return;
  }
  int64_t i = q->count++;
  memcpy(q->slots + i * q->n, c, sz);
  if (q->kind != TL_QUEUE_PRIORITY) return;
  q->prio[i] = prio;
  q->seq[i] = seq >= 0 ? seq : q->next_seq++;
  while (i > 0 && heap_less(q, i, (i - 1) / 2)) {
    heap_swap(q, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static uint32_t next_u32(tl_queue *q) {
  if (q->rpos == 16) {
    tl_rng_fill_u32(&q->rng, q->rbuf, 16);
    q->rpos = 0;
  }
  return q->rbuf[q->rpos++];
}

/* Takes the next element out (its references to the caller). */
static void take(tl_queue *q, tl_tensor **c, int64_t *prio, int64_t *seq) {
  size_t sz = sizeof *c * (size_t)q->n;
  __atomic_add_fetch(&q->version, 1, __ATOMIC_RELAXED);
  if (is_ring(q)) {
    memcpy(c, q->slots + q->head * q->n, sz);
    q->head = (q->head + 1) % q->cap_slots;
    q->count--;
    return;
  }
  int64_t pick = 0;
  if (q->kind == TL_QUEUE_RANDOM_SHUFFLE) pick = (int64_t)(((uint64_t)next_u32(q) * (uint64_t)q->count) >> 32);
  if (q->kind == TL_QUEUE_PRIORITY) {
    *prio = q->prio[0];
    *seq = q->seq[0];
  }
  memcpy(c, q->slots + pick * q->n, sz);
  int64_t last = --q->count;
  if (pick != last) {
    memcpy(q->slots + pick * q->n, q->slots + last * q->n, sz);
    if (q->kind == TL_QUEUE_PRIORITY) {
      q->prio[0] = q->prio[last];
      q->seq[0] = q->seq[last];
    }
  }
  if (q->kind != TL_QUEUE_PRIORITY) return;
  for (int64_t i = 0;;) {
    int64_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < q->count && heap_less(q, l, m)) m = l;
    if (r < q->count && heap_less(q, r, m)) m = r;
    if (m == i) break;
    heap_swap(q, i, m);
    i = m;
  }
}

/* ---- waiting ------------------------------------------------------------- */

typedef struct waiter {
  bool forever, interruptible, started;
  double timeout;
  struct timespec deadline;
} waiter;

static void waiter_init(waiter *w, const tl_queue_wait *opts) {
  w->timeout = opts ? opts->timeout : -1;
  w->forever = w->timeout < 0;
  w->interruptible = opts && opts->interruptible;
  w->started = false;
}

/* The deadline counts from the first wait: a call that never waits reads
 * no clock. */
static void waiter_start(waiter *w) {
  if (w->started) return;
  w->started = true;
  clock_gettime(CLOCK_MONOTONIC, &w->deadline);
  if (!w->forever) {
    double t = w->timeout > 1e9 ? 1e9 : w->timeout;
    int64_t ns = (int64_t)(t * 1e9);
    w->deadline.tv_sec += ns / 1000000000;
    w->deadline.tv_nsec += ns % 1000000000;
    if (w->deadline.tv_nsec >= 1000000000) {
      w->deadline.tv_sec++;
      w->deadline.tv_nsec -= 1000000000;
    }
  }
}

static bool ts_before(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* One wait on cv: TL_OK when woken (the caller re-checks),
 * TL_DEADLINE_EXCEEDED or TL_CANCELLED (interrupt) otherwise. */
static tl_status wait_once(tl_queue *q, pthread_cond_t *cv, waiter *w) {
  struct timespec now;
  waiter_start(w);
  if (w->interruptible && tl_interrupt_pending()) {
    tl_interrupted();
    return TL_CANCELLED;
  }
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (!w->forever && !ts_before(&now, &w->deadline)) return TL_DEADLINE_EXCEEDED;
  if (w->forever && !w->interruptible) {
    pthread_cond_wait(cv, &q->mu);
    return TL_OK;
  }
  struct timespec until = w->deadline;
  if (w->interruptible) {
    struct timespec poll = now;
    poll.tv_nsec += INTERRUPT_POLL_NS;
    if (poll.tv_nsec >= 1000000000) {
      poll.tv_sec++;
      poll.tv_nsec -= 1000000000;
    }
    if (w->forever || ts_before(&poll, &until)) until = poll;
  }
  pthread_cond_timedwait(cv, &q->mu, &until);
  return TL_OK;
}

/* Before sleeping on a condition variable (a futex call on both sides, and
 * a context switch), a waiter spins briefly with mu released, watching for
 * the other side to change the queue: with one producer and one consumer
 * the handoff then costs no system call. Once per call, at most SPIN_NS. */
#define SPIN_NS 20000
static void spin_for_change(tl_queue *q, waiter *w) {
  if (!w->forever && w->timeout == 0) return;
  uint64_t v = __atomic_load_n(&q->version, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&q->mu);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 1;; i++) {
    if (__atomic_load_n(&q->version, __ATOMIC_RELAXED) != v) break;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (i % 64 == 0) {
      clock_gettime(CLOCK_MONOTONIC, &t);
      if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > SPIN_NS) break;
    }
  }
  pthread_mutex_lock(&q->mu);
}

static void describe_state(tl_queue *q, char *buf, size_t n) {
  char cap[32];
  if (q->capacity < 0) snprintf(cap, sizeof cap, "unbounded");
  else snprintf(cap, sizeof cap, "capacity %" PRId64, q->capacity);
  char extra[64] = "";
  if (q->kind == TL_QUEUE_RANDOM_SHUFFLE && q->min_after > 0)
    snprintf(extra, sizeof extra, ", min_after_dequeue %" PRId64, q->min_after);
  snprintf(buf, n, "%" PRId64 " element%s waiting (%s%s%s); blocked: %d producer%s, %d consumer%s", q->count,
           q->count == 1 ? "" : "s", cap, extra, q->closed ? ", closed" : "", q->waiting_putters,
           q->waiting_putters == 1 ? "" : "s", q->waiting_takers, q->waiting_takers == 1 ? "" : "s");
}

/* The error of a wait that ended without the element(s): called with mu
 * held while this caller still counts as waiting. */
static tl_status wait_error(tl_queue *q, tl_status s, const char *what, const waiter *w, const char *more) {
  char st[256];
  describe_state(q, st, sizeof st);
  const char *kn = tl_queue_kind_name(q->kind);
  if (s == TL_DEADLINE_EXCEEDED) {
    if (w->timeout == 0)
      return tl_error(s, "%s '%s': %s would block (timeout 0): %s%s", kn, q->name, what, st, more);
    return tl_error(s, "%s '%s': %s timed out after %g s: %s%s", kn, q->name, what, w->timeout, st, more);
  }
  return tl_error(TL_CANCELLED, "%s '%s': %s interrupted while waiting: %s%s", kn, q->name, what, st, more);
}

static void wake_takers(tl_queue *q) {
  if (q->waiting_takers > 0) {
    q->take_need = INT64_MAX;
    pthread_cond_broadcast(&q->can_take);
  }
}
static void wake_putters(tl_queue *q) {
  if (q->waiting_putters > 0) {
    q->put_need = INT64_MAX;
    pthread_cond_broadcast(&q->can_put);
  }
}

static int64_t available(const tl_queue *q) {
  int64_t a = q->count - (q->closed ? 0 : q->min_after);
  return a > 0 ? a : 0;
}

/* After a producer added elements. */
static void after_put(tl_queue *q) {
  if (q->waiting_takers > 0 && (available(q) >= q->take_need || q->closed)) wake_takers(q);
}

/* After a consumer removed elements: wake producers once an eighth of the
 * queue (and what they need) is free. */
static void after_take(tl_queue *q) {
  if (q->waiting_putters == 0) return;
  int64_t room = q->capacity - q->count;
  int64_t low = q->capacity / 8;
  if (low < 1) low = 1;
  if (room >= q->put_need && room >= low) wake_putters(q);
}

/* ---- checks ---------------------------------------------------------------- */

static const char *comp_label(const tl_queue *q, int c, char *buf, size_t n) {
  if (q->names && q->names[c]) snprintf(buf, n, "component %d ('%s')", c, q->names[c]);
  else snprintf(buf, n, "component %d", c);
  return buf;
}

/* Checks one element (many: each row of c[i] along dimension 0) against
 * the specs; *rows gets the number of elements. */
static tl_status check_components(tl_queue *q, tl_tensor *const *c, bool many, int64_t *rows, const char *op) {
  const char *kn = tl_queue_kind_name(q->kind);
  char lab[160], d[200], want[200];
  *rows = 1;
  for (int i = 0; i < q->n; i++) {
    const tl_tensor *t = c[i];
    const tl_meta *m = &q->comp[i];
    bool fine = t && !t->sym_value && t->dtype == m->dtype && t->rank - (many ? 1 : 0) == m->rank && !many;
    for (int k = 0; fine && k < m->rank; k++) fine = m->shape[k] < 0 || m->shape[k] == t->shape[k];
    if (fine || (t && !t->sym_value && t->dtype == m->dtype && m->rank < 0 && !many)) continue; /* the common case: no text */
    comp_label(q, i, lab, sizeof lab);
    if (!t) return tl_error(TL_INVALID_ARGUMENT, "%s '%s': %s: %s is missing", kn, q->name, op, lab);
    if (t->sym_value)
      return tl_error(TL_FAILED_PRECONDITION,
                      "%s '%s': %s: %s is symbolic (inside tf.trace); queues hold values and cannot be used in a "
                      "traced function",
                      kn, q->name, op, lab);
    tl_tensor_describe(t, d, sizeof d);
    if (t->dtype != m->dtype)
      return tl_error(TL_INVALID_ARGUMENT, "%s '%s': %s: %s must be %s, got %s", kn, q->name, op, lab,
                      tl_dtypes[m->dtype].name, d);
    int skip = many ? 1 : 0;
    if (many) {
      if (t->rank < 1)
        return tl_error(TL_INVALID_ARGUMENT, "%s '%s': %s: %s must have a leading batch dimension, got %s", kn,
                        q->name, op, lab, d);
      if (i == 0) *rows = t->shape[0];
      else if (t->shape[0] != *rows)
        return tl_error(TL_INVALID_ARGUMENT,
                        "%s '%s': %s: every component needs the same size in dimension 0: %s has %" PRId64
                        ", component 0 has %" PRId64,
                        kn, q->name, op, lab, t->shape[0], *rows);
    }
    if (m->rank < 0) continue;
    bool ok = t->rank - skip == m->rank;
    for (int k = 0; ok && k < m->rank; k++) ok = m->shape[k] < 0 || m->shape[k] == t->shape[k + skip];
    if (!ok) {
      tl_meta_describe(m, want, sizeof want);
      return tl_error(TL_INVALID_ARGUMENT, "%s '%s': %s: %s must have shape %s%s, got %s", kn, q->name, op, lab,
                      strchr(want, '['), many ? " after the batch dimension" : "", d);
    }
  }
  return TL_OK;
}

static tl_status read_priorities(tl_queue *q, tl_tensor *p, int64_t rows, int64_t *out) {
  tl_tensor *h;
  tl_status s = tl_tensor_copy_to(p, TL_CPU, &h);
  if (s) return s;
  const int64_t *base = (const int64_t *)h->storage->data;
  for (int64_t r = 0; r < rows; r++) out[r] = base[h->offset + (h->rank ? r * h->strides[0] : 0)];
  tl_tensor_release(h);
  (void)q;
  return TL_OK;
}

/* ---- enqueue ------------------------------------------------------------- */

static tl_status closed_error(tl_queue *q) {
  return tl_error(TL_CANCELLED, "%s '%s' is closed", tl_queue_kind_name(q->kind), q->name);
}

/* One element, or (many) one per row of the components along dimension 0. */
static tl_status enqueue_rows(tl_queue *q, tl_tensor *const *c, bool many, const tl_queue_wait *opts) {
  const char *op = many ? "enqueue_many" : "enqueue";
  int64_t rows;
  tl_status s = check_components(q, c, many, &rows, op);
  if (s) return s;
  int64_t *prio = NULL, one_prio;
  tl_tensor **elems = NULL, *one[TL_QUEUE_MAX_COMPONENTS]; /* rows * n, new references */
  int n = q->n;
  if (rows == 0) return TL_OK;
  if (rows == 1) {
    memset(one, 0, sizeof *one * (size_t)n);
    elems = one;
  } else if (!(elems = calloc((size_t)rows * (size_t)n, sizeof *elems))) {
    goto oom;
  }
  if (q->kind == TL_QUEUE_PRIORITY) {
    if (!(prio = rows == 1 ? &one_prio : malloc(sizeof *prio * (size_t)rows))) goto oom;
    if ((s = read_priorities(q, c[0], rows, prio))) goto fail;
  }
  for (int64_t r = 0; r < rows; r++)
    for (int i = 0; i < n; i++) {
      tl_tensor *t = c[i];
      if (!many) {
        elems[i] = tl_tensor_retain(t);
        continue;
      }
      if ((s = tl_tensor_view(t->storage, t->dtype, t->rank - 1, t->shape + 1, t->strides + 1,
                              t->offset + r * t->strides[0], &elems[r * n + i])))
        goto fail;
    }
  waiter w;
  waiter_init(&w, opts);
  bool atomic = q->capacity < 0 || rows <= q->capacity;
  int64_t done = 0;
  bool spun = false;
  pthread_mutex_lock(&q->mu);
  if (q->closed) {
    s = closed_error(q);
    goto unlock;
  }
  while (done < rows) {
    int64_t room = q->capacity < 0 ? INT64_MAX : q->capacity - q->count;
    int64_t m = rows - done;
    if (!atomic && m > room) m = room;
    if (m > 0 && room >= m) {
      if ((s = reserve(q, m))) break;
      for (int64_t r = done; r < done + m; r++) {
        put(q, elems + r * n, prio ? prio[r] : 0, -1, false);
        memset(elems + r * n, 0, sizeof *elems * (size_t)n);
      }
      done += m;
      after_put(q);
      continue;
    }
    wake_takers(q); /* before blocking: never both sides asleep */
    if (!spun && !q->cancelled) {
      spun = true;
      spin_for_change(q, &w);
      continue;
    }
    int64_t need = atomic ? rows - done : 1;
    if (need < q->put_need) q->put_need = need;
    q->waiting_putters++;
    s = wait_once(q, &q->can_put, &w);
    if (!s && q->cancelled) {
      char st[256];
      describe_state(q, st, sizeof st);
      s = tl_error(TL_CANCELLED, "%s '%s' was closed with cancel_pending_enqueues: the waiting %s was cancelled (%s)",
                   tl_queue_kind_name(q->kind), q->name, op, st);
    } else if (s) {
      char more[96] = "";
      if (done > 0) snprintf(more, sizeof more, "; %" PRId64 " of the %" PRId64 " elements went in", done, rows);
      s = wait_error(q, s, op, &w, more);
    }
    q->waiting_putters--;
    if (s) break;
  }
unlock:
  pthread_mutex_unlock(&q->mu);
fail:
  if (elems)
    for (int64_t k = 0; k < rows * n; k++) tl_tensor_release(elems[k]);
  if (elems != one) free(elems);
  if (prio != &one_prio) free(prio);
  return s;
oom:
  s = tl_error(TL_RESOURCE_EXHAUSTED, "%s '%s': %s: out of memory", tl_queue_kind_name(q->kind), q->name, op);
  goto fail;
}

tl_status tl_queue_enqueue(tl_queue *q, tl_tensor *const *c, const tl_queue_wait *w) {
  return enqueue_rows(q, c, false, w);
}
tl_status tl_queue_enqueue_many(tl_queue *q, tl_tensor *const *c, const tl_queue_wait *w) {
  return enqueue_rows(q, c, true, w);
}

/* ---- dequeue ------------------------------------------------------------- */

typedef struct taken {
  tl_tensor **c; /* k * n */
  int64_t *prio, *seq;
  int64_t k;
} taken;

/* Puts back what a failed dequeue took, in its order. */
static void put_back(tl_queue *q, taken *t) {
  if (t->k == 0) return;
  pthread_mutex_lock(&q->mu);
  /* Room exists: these elements left the queue, and a producer that filled
     it since may only have used the capacity they freed. */
  tl_status s = reserve(q, t->k);
  if (!s) {
    for (int64_t r = t->k - 1; r >= 0; r--) put(q, t->c + r * q->n, t->prio ? t->prio[r] : 0, t->seq ? t->seq[r] : -1, true);
    t->k = 0;
    after_put(q);
  }
  pthread_mutex_unlock(&q->mu);
  for (int64_t k = 0; k < t->k * q->n; k++) tl_tensor_release(t->c[k]); /* only on out of memory */
  t->k = 0;
}

/* Takes k elements (fewer from a closed queue when up_to) into t. */
static tl_status take_rows(tl_queue *q, int64_t k, bool up_to, const char *op, taken *t, const tl_queue_wait *opts) {
  waiter w;
  waiter_init(&w, opts);
  bool atomic = q->capacity < 0 || k <= q->capacity;
  tl_status s = TL_OK;
  bool spun = false;
  pthread_mutex_lock(&q->mu);
  while (t->k < k) {
    int64_t avail = available(q), m = k - t->k;
    if (!atomic && m > avail) m = avail;
    if (q->closed && up_to && m > avail) m = avail;
    if (m > 0 && avail >= m) {
      for (int64_t r = t->k; r < t->k + m; r++)
        take(q, t->c + r * q->n, t->prio ? &t->prio[r] : NULL, t->seq ? &t->seq[r] : NULL);
      t->k += m;
      after_take(q);
      if (q->closed && up_to) break;
      continue;
    }
    if (q->closed) {
      if (up_to && t->k > 0) break;
      s = tl_error(TL_OUT_OF_RANGE, "%s '%s' is closed and has insufficient elements (requested %" PRId64
                   ", current size %" PRId64 ")",
                   tl_queue_kind_name(q->kind), q->name, k, q->count + t->k);
      break;
    }
    wake_putters(q); /* before blocking: never both sides asleep */
    if (!spun) {
      spun = true;
      spin_for_change(q, &w);
      continue;
    }
    int64_t need = atomic ? k - t->k : 1;
    if (need < q->take_need) q->take_need = need;
    q->waiting_takers++;
    s = wait_once(q, &q->can_take, &w);
    if (s) s = wait_error(q, s, op, &w, "");
    q->waiting_takers--;
    if (s) break;
  }
  pthread_mutex_unlock(&q->mu);
  if (s) put_back(q, t);
  return s;
}

static tl_status taken_alloc(tl_queue *q, int64_t k, taken *t) {
  memset(t, 0, sizeof *t);
  size_t rows = k > 0 ? (size_t)k : 1;
  t->c = calloc(rows * (size_t)q->n, sizeof *t->c);
  if (q->kind == TL_QUEUE_PRIORITY) {
    t->prio = malloc(sizeof *t->prio * rows);
    t->seq = malloc(sizeof *t->seq * rows);
  }
  if (!t->c || (q->kind == TL_QUEUE_PRIORITY && (!t->prio || !t->seq))) {
    free(t->c);
    free(t->prio);
    free(t->seq);
    return tl_error(TL_RESOURCE_EXHAUSTED, "%s '%s': out of memory", tl_queue_kind_name(q->kind), q->name);
  }
  return TL_OK;
}

static void taken_free(taken *t) {
  free(t->c);
  free(t->prio);
  free(t->seq);
}

tl_status tl_queue_dequeue(tl_queue *q, tl_tensor **out, const tl_queue_wait *w) {
  tl_tensor *c[TL_QUEUE_MAX_COMPONENTS];
  int64_t prio, seq;
  taken t = {c, q->kind == TL_QUEUE_PRIORITY ? &prio : NULL, q->kind == TL_QUEUE_PRIORITY ? &seq : NULL, 0};
  tl_status s = take_rows(q, 1, false, "dequeue", &t, w);
  if (s) return s;
  memcpy(out, c, sizeof *out * (size_t)q->n);
  return TL_OK;
}

/* Copies src (any strides, rank r) into the contiguous row at dst whose
 * shape is dshape (>= src's per dimension; the rest is padding). */
static tl_status copy_row(tl_tensor *out, int64_t dst_off, const int64_t *dstride, const tl_tensor *src, int d,
                          int64_t src_off) {
  size_t es = tl_dtypes[src->dtype].size;
  if (d == src->rank) {
    if (src->dtype == TL_STRING) {
      const tl_string *e = (const tl_string *)src->storage->data + src_off;
      return tl_string_set(out, dst_off, e->data, (size_t)e->len);
    }
    memcpy((char *)out->storage->data + dst_off * (int64_t)es, (const char *)src->storage->data + src_off * (int64_t)es, es);
    return TL_OK;
  }
  if (d == src->rank - 1 && src->strides[d] == 1 && src->dtype != TL_STRING) {
    memcpy((char *)out->storage->data + dst_off * (int64_t)es, (const char *)src->storage->data + src_off * (int64_t)es,
           es * (size_t)src->shape[d]);
    return TL_OK;
  }
  for (int64_t i = 0; i < src->shape[d]; i++) {
    tl_status s = copy_row(out, dst_off + i * dstride[d], dstride, src, d + 1, src_off + i * src->strides[d]);
    if (s) return s;
  }
  return TL_OK;
}

/* The k elements' component c stacked (padded for PADDING_FIFO) into a new CPU tensor. */
static tl_status stack_component(tl_queue *q, int c, tl_tensor *const *elems, int64_t k, const char *op, tl_tensor **out) {
  const tl_meta *m = &q->comp[c];
  const char *kn = tl_queue_kind_name(q->kind);
  bool pad = q->kind == TL_QUEUE_PADDING_FIFO;
  char lab[160];
  int rank;
  int64_t shape[TL_MAX_RANK];
  if (k == 0) {
    bool known = m->rank >= 0;
    for (int d = 0; known && d < m->rank; d++) known = m->shape[d] >= 0 || pad;
    if (!known)
      return tl_error(TL_INVALID_ARGUMENT, "%s '%s': %s(0): %s has no fully defined shape to make an empty batch of",
                      kn, q->name, op, comp_label(q, c, lab, sizeof lab));
    rank = m->rank;
    for (int d = 0; d < rank; d++) shape[d] = m->shape[d] < 0 ? 0 : m->shape[d];
  } else {
    const tl_tensor *e0 = elems[c];
    rank = e0->rank;
    memcpy(shape, e0->shape, sizeof *shape * (size_t)rank);
    for (int64_t r = 1; r < k; r++) {
      const tl_tensor *e = elems[r * q->n + c];
      bool same = e->rank == rank;
      for (int d = 0; same && d < rank; d++) {
        if (pad) {
          if (e->shape[d] > shape[d]) shape[d] = e->shape[d];
        } else {
          same = e->shape[d] == shape[d];
        }
      }
      if (!same) {
        char a[200], b[200];
        return tl_error(TL_INVALID_ARGUMENT,
                        "%s '%s': %s: %s of element %" PRId64 " is %s but element 0's is %s; batches of a queue "
                        "without a fully defined shape need equal shapes (PaddingFIFOQueue pads)",
                        kn, q->name, op, comp_label(q, c, lab, sizeof lab), r, tl_tensor_describe(e, a, sizeof a),
                        tl_tensor_describe(e0, b, sizeof b));
      }
    }
  }
  if (rank + 1 > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "%s '%s': %s: a batch of rank-%d elements exceeds the rank limit %d", kn,
                    q->name, op, rank, TL_MAX_RANK);
  int64_t bshape[TL_MAX_RANK];
  bshape[0] = k;
  memcpy(bshape + 1, shape, sizeof *shape * (size_t)rank);
  tl_tensor *b;
  tl_status s = tl_tensor_new_on(TL_CPU, m->dtype, rank + 1, bshape, &b);
  if (s) return s;
  int64_t row = b->rank > 1 ? b->strides[0] : 1;
  size_t es = tl_dtypes[m->dtype].size;
  if (pad && m->dtype != TL_STRING && b->size > 0) memset(b->storage->data, 0, (size_t)b->size * es);
  for (int64_t r = 0; r < k && !s; r++) {
    tl_tensor *e = elems[r * q->n + c], *h = NULL;
    if ((s = tl_tensor_copy_to(e, TL_CPU, &h))) break;
    if (h->size > 0) {
      if (!pad && m->dtype != TL_STRING && tl_tensor_is_contiguous(h))
        memcpy((char *)b->storage->data + (size_t)(r * row) * es, tl_tensor_data(h), (size_t)h->size * es);
      else
        s = copy_row(b, r * row, b->strides + 1, h, 0, h->offset);
    }
    tl_tensor_release(h);
  }
  if (s) {
    tl_tensor_release(b);
    return s;
  }
  *out = b;
  return TL_OK;
}

static tl_status dequeue_batch(tl_queue *q, int64_t k, bool up_to, tl_tensor **out, const tl_queue_wait *w) {
  const char *op = up_to ? "dequeue_up_to" : "dequeue_many";
  if (k < 0)
    return tl_error(TL_INVALID_ARGUMENT, "%s '%s': %s: n must be >= 0, got %" PRId64, tl_queue_kind_name(q->kind),
                    q->name, op, k);
  taken t;
  tl_status s = taken_alloc(q, k, &t);
  if (s) return s;
  if (k > 0 && (s = take_rows(q, k, up_to, op, &t, w))) goto done;
  int c = 0;
  for (; c < q->n && !s; c++) s = stack_component(q, c, t.c, t.k, op, &out[c]);
  if (s) {
    for (int i = 0; i < c - 1; i++) tl_tensor_release(out[i]);
    put_back(q, &t);
    goto done;
  }
  for (int64_t i = 0; i < t.k * q->n; i++) tl_tensor_release(t.c[i]);
done:
  taken_free(&t);
  return s;
}

tl_status tl_queue_dequeue_many(tl_queue *q, int64_t n, tl_tensor **out, const tl_queue_wait *w) {
  return dequeue_batch(q, n, false, out, w);
}
tl_status tl_queue_dequeue_up_to(tl_queue *q, int64_t n, tl_tensor **out, const tl_queue_wait *w) {
  return dequeue_batch(q, n, true, out, w);
}

/* ---- state --------------------------------------------------------------- */

void tl_queue_close(tl_queue *q, bool cancel_pending_enqueues) {
  pthread_mutex_lock(&q->mu);
  q->closed = true;
  if (cancel_pending_enqueues) q->cancelled = true;
  if (q->waiting_takers) pthread_cond_broadcast(&q->can_take);
  if (q->waiting_putters) pthread_cond_broadcast(&q->can_put);
  pthread_mutex_unlock(&q->mu);
}

bool tl_queue_is_closed(tl_queue *q) {
  pthread_mutex_lock(&q->mu);
  bool c = q->closed;
  pthread_mutex_unlock(&q->mu);
  return c;
}

int64_t tl_queue_size(tl_queue *q) {
  pthread_mutex_lock(&q->mu);
  int64_t n = q->count;
  pthread_mutex_unlock(&q->mu);
  return n;
}
