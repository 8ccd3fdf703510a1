/* test_queue.c — tl_queue (structs/queue.c) from C threads: 1,000,000
 * elements through several producers and consumers with nothing lost,
 * duplicated or reordered per producer; the four kinds' orders; close,
 * cancel_pending_enqueues, timeouts and interrupts; references across
 * threads. Also run under ThreadSanitizer (build-tsan). Worker threads
 * never call CHECK (its counters are not atomic): they record what they
 * saw and the main thread checks it. */
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tl_queue.h"

static tl_tensor *scalar_i64(int64_t v) {
  tl_tensor *t;
  if (tl_tensor_scalar_i64(TL_INT64, v, &t)) abort();
  return t;
}

static int64_t value_of(tl_tensor *t, int64_t i) { return tl_load_i64(t->storage->data, t->dtype, t->offset + i); }

static tl_queue *new_queue(tl_queue_kind kind, int64_t cap, int n, const tl_meta *comp) {
  tl_queue_spec spec = {.kind = kind, .capacity = cap, .n = n, .components = comp, .name = "q"};
  tl_queue *q;
  if (tl_queue_new(&spec, &q)) {
    fprintf(stderr, "tl_queue_new: %s\n", tl_last_error());
    abort();
  }
  return q;
}

static const tl_meta I64_SCALAR = {TL_INT64, 0, {0}};

/* ---- many threads -------------------------------------------------------- */

#define PRODUCERS 4
#define CONSUMERS 4
#define PER_PRODUCER 250000

typedef struct worker {
  pthread_t th;
  tl_queue *q;
  int id;
  int64_t got;        /* consumers: elements taken */
  int64_t bad_order;  /* consumers: a producer's sequence went backwards */
  int64_t last[PRODUCERS];
  tl_status status;   /* first unexpected status */
  uint8_t *seen;      /* shared bitmap: one byte per element (each written by one consumer) */
  int64_t dups;
} worker;

static void *produce(void *arg) {
  worker *w = arg;
  int64_t base = (int64_t)w->id << 32;
  int64_t i = 0;
  while (i < PER_PRODUCER && !w->status) {
    if (w->id % 2 == 1 && PER_PRODUCER - i >= 10) {
      /* enqueue_many in batches of 10 */
      int64_t shape[1] = {10};
      tl_tensor *b;
      if (tl_tensor_new(TL_INT64, 1, shape, &b)) abort();
      for (int k = 0; k < 10; k++) ((int64_t *)b->storage->data)[k] = base + i + k;
      w->status = tl_queue_enqueue_many(w->q, &b, NULL);
      tl_tensor_release(b);
      i += 10;
    } else {
      tl_tensor *t = scalar_i64(base + i);
      w->status = tl_queue_enqueue(w->q, &t, NULL);
      tl_tensor_release(t);
      i++;
    }
  }
  return NULL;
}

static void record(worker *w, int64_t v) {
  int p = (int)(v >> 32);
  int64_t s = v & 0xffffffff;
  if (p < 0 || p >= PRODUCERS || s >= PER_PRODUCER) {
    w->bad_order++;
    return;
  }
  if (s <= w->last[p]) w->bad_order++;
  w->last[p] = s;
  uint8_t *slot = &w->seen[(int64_t)p * PER_PRODUCER + s];
  if (__atomic_exchange_n(slot, 1, __ATOMIC_RELAXED)) w->dups++;
  w->got++;
}

static void *consume(void *arg) {
  worker *w = arg;
  for (int p = 0; p < PRODUCERS; p++) w->last[p] = -1;
  for (;;) {
    tl_tensor *out;
    tl_status s;
    if (w->id % 2 == 0) {
      s = tl_queue_dequeue(w->q, &out, NULL);
      if (s == TL_OUT_OF_RANGE) break;
      if (s) {
        w->status = s;
        break;
      }
      record(w, value_of(out, 0));
    } else {
      s = tl_queue_dequeue_up_to(w->q, 7, &out, NULL);
      if (s == TL_OUT_OF_RANGE) break;
      if (s) {
        w->status = s;
        break;
      }
      for (int64_t k = 0; k < out->shape[0]; k++) record(w, value_of(out, k));
    }
    tl_tensor_release(out);
  }
  return NULL;
}

static void test_many_threads(void) {
  tl_queue *q = new_queue(TL_QUEUE_FIFO, 1000, 1, &I64_SCALAR);
  uint8_t *seen = calloc((size_t)PRODUCERS * PER_PRODUCER, 1);
  worker prod[PRODUCERS] = {0}, cons[CONSUMERS] = {0};
  int64_t live0 = tl_memory_get_stats().live_bytes;
  for (int i = 0; i < CONSUMERS; i++) {
    cons[i] = (worker){.q = q, .id = i, .seen = seen};
    pthread_create(&cons[i].th, NULL, consume, &cons[i]);
  }
  for (int i = 0; i < PRODUCERS; i++) {
    prod[i] = (worker){.q = q, .id = i};
    pthread_create(&prod[i].th, NULL, produce, &prod[i]);
  }
  for (int i = 0; i < PRODUCERS; i++) {
    pthread_join(prod[i].th, NULL);
    CHECK(prod[i].status == TL_OK);
  }
  tl_queue_close(q, false);
  int64_t total = 0, bad = 0, dups = 0;
  for (int i = 0; i < CONSUMERS; i++) {
    pthread_join(cons[i].th, NULL);
    CHECK(cons[i].status == TL_OK);
    total += cons[i].got;
    bad += cons[i].bad_order;
    dups += cons[i].dups;
  }
  CHECK(total == (int64_t)PRODUCERS * PER_PRODUCER);
  CHECK(bad == 0);
  CHECK(dups == 0);
  int64_t missing = 0;
  for (int64_t i = 0; i < (int64_t)PRODUCERS * PER_PRODUCER; i++) missing += !seen[i];
  CHECK(missing == 0);
  CHECK(tl_queue_size(q) == 0);
  /* every element's tensor was released by the consumer that took it */
  CHECK(tl_memory_get_stats().live_bytes == live0);
  if (total != (int64_t)PRODUCERS * PER_PRODUCER || bad || dups || missing)
    fprintf(stderr, "many threads: total %lld, out of order %lld, duplicates %lld, missing %lld\n", (long long)total,
            (long long)bad, (long long)dups, (long long)missing);
  free(seen);
  tl_queue_release(q);
}

/* ---- single-thread semantics --------------------------------------------- */

static void test_close_and_timeouts(void) {
  tl_queue *q = new_queue(TL_QUEUE_FIFO, 2, 1, &I64_SCALAR);
  tl_queue_wait now = {.timeout = 0};
  tl_queue_wait soon = {.timeout = 0.05};
  tl_tensor *out = NULL;
  CHECK(tl_queue_dequeue(q, &out, &soon) == TL_DEADLINE_EXCEEDED);
  CHECK(strstr(tl_last_error(), "timed out after 0.05 s") != NULL);
  CHECK(strstr(tl_last_error(), "0 elements waiting (capacity 2); blocked: 0 producers, 1 consumer") != NULL);
  for (int i = 0; i < 2; i++) {
    tl_tensor *t = scalar_i64(10 + i);
    CHECK(tl_queue_enqueue(q, &t, NULL) == TL_OK);
    tl_tensor_release(t);
  }
  tl_tensor *t = scalar_i64(12);
  CHECK(tl_queue_enqueue(q, &t, &now) == TL_DEADLINE_EXCEEDED);
  CHECK(strstr(tl_last_error(), "enqueue would block (timeout 0): 2 elements waiting (capacity 2); blocked: 1 producer, 0 consumers") != NULL);
  CHECK(tl_queue_size(q) == 2);
  /* a dequeue_many larger than what is there times out and leaves it intact */
  tl_queue *q3 = new_queue(TL_QUEUE_FIFO, 5, 1, &I64_SCALAR);
  for (int i = 0; i < 2; i++) CHECK(tl_queue_enqueue(q3, &t, NULL) == TL_OK);
  CHECK(tl_queue_dequeue_many(q3, 3, &out, &now) == TL_DEADLINE_EXCEEDED);
  CHECK(tl_queue_size(q3) == 2);
  tl_queue_release(q3);

  tl_queue_close(q, false);
  CHECK(tl_queue_is_closed(q));
  CHECK(tl_queue_enqueue(q, &t, NULL) == TL_CANCELLED);
  CHECK(strcmp(tl_last_error(), "FIFOQueue 'q' is closed") == 0);
  tl_tensor_release(t);
  CHECK(tl_queue_dequeue_many(q, 3, &out, NULL) == TL_OUT_OF_RANGE);
  CHECK(strstr(tl_last_error(), "is closed and has insufficient elements (requested 3, current size 2)") != NULL);
  CHECK(tl_queue_size(q) == 2);
  CHECK(tl_queue_dequeue(q, &out, NULL) == TL_OK);
  CHECK(value_of(out, 0) == 10);
  tl_tensor_release(out);
  CHECK(tl_queue_dequeue_up_to(q, 5, &out, NULL) == TL_OK);
  CHECK(out->rank == 1 && out->shape[0] == 1 && value_of(out, 0) == 11);
  tl_tensor_release(out);
  CHECK(tl_queue_dequeue(q, &out, NULL) == TL_OUT_OF_RANGE);
  CHECK(tl_queue_dequeue_up_to(q, 5, &out, NULL) == TL_OUT_OF_RANGE);
  tl_queue_release(q);
}

static void test_checks(void) {
  tl_meta comp[2] = {{TL_INT32, 1, {2}}, {TL_FLOAT32, -1, {0}}};
  const char *names[2] = {"a", "b"};
  tl_queue_spec spec = {.kind = TL_QUEUE_FIFO, .capacity = 4, .n = 2, .components = comp, .name = "q", .names = names};
  tl_queue *q;
  CHECK(tl_queue_new(&spec, &q) == TL_OK);
  int64_t s3[1] = {3};
  tl_tensor *a, *b = scalar_i64(1), *c[2];
  CHECK(tl_tensor_zeros(TL_INT32, 1, s3, &a) == TL_OK);
  c[0] = a;
  c[1] = b;
  CHECK(tl_queue_enqueue(q, c, NULL) == TL_INVALID_ARGUMENT);
  CHECK(strcmp(tl_last_error(), "FIFOQueue 'q': enqueue: component 0 ('a') must have shape [2], got int32[3]") == 0);
  int64_t s2[1] = {2};
  tl_tensor_release(a);
  CHECK(tl_tensor_zeros(TL_INT32, 1, s2, &a) == TL_OK);
  c[0] = a;
  CHECK(tl_queue_enqueue(q, c, NULL) == TL_INVALID_ARGUMENT);
  CHECK(strcmp(tl_last_error(), "FIFOQueue 'q': enqueue: component 1 ('b') must be float32, got int64[]") == 0);
  CHECK(tl_queue_size(q) == 0);
  tl_tensor_release(a);
  tl_tensor_release(b);
  tl_queue_release(q);
  /* bad specs */
  tl_meta p = {TL_INT32, 0, {0}};
  spec = (tl_queue_spec){.kind = TL_QUEUE_PRIORITY, .capacity = 4, .n = 1, .components = &p};
  CHECK(tl_queue_new(&spec, &q) == TL_INVALID_ARGUMENT);
  spec = (tl_queue_spec){.kind = TL_QUEUE_RANDOM_SHUFFLE, .capacity = 4, .n = 1, .components = &I64_SCALAR, .min_after_dequeue = 4};
  CHECK(tl_queue_new(&spec, &q) == TL_INVALID_ARGUMENT);
  tl_meta any = {TL_INT32, -1, {0}};
  spec = (tl_queue_spec){.kind = TL_QUEUE_PADDING_FIFO, .capacity = 4, .n = 1, .components = &any};
  CHECK(tl_queue_new(&spec, &q) == TL_INVALID_ARGUMENT);
}

static void test_priority(void) {
  tl_meta comp[2] = {I64_SCALAR, {TL_INT32, 0, {0}}};
  tl_queue *q = new_queue(TL_QUEUE_PRIORITY, -1, 2, comp);
  int64_t prios[6] = {3, 1, 2, 1, 0, 3};
  for (int i = 0; i < 6; i++) {
    tl_tensor *c[2] = {scalar_i64(prios[i]), NULL};
    CHECK(tl_tensor_scalar_i64(TL_INT32, i, &c[1]) == TL_OK);
    CHECK(tl_queue_enqueue(q, c, NULL) == TL_OK);
    tl_tensor_release(c[0]);
    tl_tensor_release(c[1]);
  }
  /* smallest first, arrival order among equals */
  int64_t want_p[6] = {0, 1, 1, 2, 3, 3}, want_v[6] = {4, 1, 3, 2, 0, 5};
  tl_tensor *out[2];
  CHECK(tl_queue_dequeue(q, out, NULL) == TL_OK);
  CHECK(value_of(out[0], 0) == want_p[0] && value_of(out[1], 0) == want_v[0]);
  tl_tensor_release(out[0]);
  tl_tensor_release(out[1]);
  CHECK(tl_queue_dequeue_many(q, 5, out, NULL) == TL_OK);
  for (int i = 1; i < 6; i++) CHECK(value_of(out[0], i - 1) == want_p[i] && value_of(out[1], i - 1) == want_v[i]);
  tl_tensor_release(out[0]);
  tl_tensor_release(out[1]);
  tl_queue_release(q);
}

static void shuffle_run(uint64_t seed, int64_t *got) {
  tl_queue_spec spec = {.kind = TL_QUEUE_RANDOM_SHUFFLE, .capacity = 20, .n = 1, .components = &I64_SCALAR,
                        .min_after_dequeue = 3, .seed = seed, .seed2 = 7, .name = "rs"};
  tl_queue *q;
  CHECK(tl_queue_new(&spec, &q) == TL_OK);
  int64_t s[1] = {10};
  tl_tensor *b;
  CHECK(tl_tensor_new(TL_INT64, 1, s, &b) == TL_OK);
  for (int i = 0; i < 10; i++) ((int64_t *)b->storage->data)[i] = i;
  CHECK(tl_queue_enqueue_many(q, &b, NULL) == TL_OK);
  tl_tensor_release(b);
  tl_tensor *out;
  CHECK(tl_queue_dequeue_many(q, 7, &out, NULL) == TL_OK);
  for (int i = 0; i < 7; i++) got[i] = value_of(out, i);
  tl_tensor_release(out);
  /* 3 left = min_after_dequeue: a dequeue would block until close */
  tl_queue_wait now = {.timeout = 0};
  CHECK(tl_queue_dequeue(q, &out, &now) == TL_DEADLINE_EXCEEDED);
  CHECK(strstr(tl_last_error(), "3 elements waiting (capacity 20, min_after_dequeue 3)") != NULL);
  tl_queue_close(q, false);
  CHECK(tl_queue_dequeue_many(q, 4, &out, NULL) == TL_OUT_OF_RANGE);
  CHECK(tl_queue_dequeue_up_to(q, 4, &out, NULL) == TL_OK);
  CHECK(out->shape[0] == 3);
  for (int i = 0; i < 3; i++) got[7 + i] = value_of(out, i);
  tl_tensor_release(out);
  tl_queue_release(q);
}

static void test_random_shuffle(void) {
  int64_t a[10], b[10], c[10];
  shuffle_run(42, a);
  shuffle_run(42, b);
  shuffle_run(43, c);
  int same = 1, samec = 1, sum = 0;
  for (int i = 0; i < 10; i++) {
    same &= a[i] == b[i];
    samec &= a[i] == c[i];
    sum += (int)a[i];
  }
  CHECK(same);   /* reproducible */
  CHECK(!samec); /* and depends on the seed */
  CHECK(sum == 45);
  int inorder = 1;
  for (int i = 0; i < 10; i++) inorder &= a[i] == i;
  CHECK(!inorder);
}

static void test_padding(void) {
  tl_meta comp[2] = {{TL_INT32, 1, {-1}}, {TL_STRING, 1, {-1}}};
  tl_queue *q = new_queue(TL_QUEUE_PADDING_FIFO, 4, 2, comp);
  int64_t s3[1] = {3}, s1[1] = {1};
  tl_tensor *a, *b, *sa, *sb;
  CHECK(tl_tensor_new(TL_INT32, 1, s3, &a) == TL_OK);
  CHECK(tl_tensor_new(TL_INT32, 1, s1, &b) == TL_OK);
  for (int i = 0; i < 3; i++) ((int32_t *)a->storage->data)[i] = i + 1;
  ((int32_t *)b->storage->data)[0] = 4;
  CHECK(tl_tensor_new(TL_STRING, 1, s1, &sa) == TL_OK);
  CHECK(tl_tensor_new(TL_STRING, 1, s3, &sb) == TL_OK);
  CHECK(tl_string_set(sa, 0, "x", 1) == TL_OK);
  CHECK(tl_string_set(sb, 0, "hello", 5) == TL_OK);
  CHECK(tl_string_set(sb, 2, "yz", 2) == TL_OK);
  tl_tensor *e1[2] = {a, sa}, *e2[2] = {b, sb}, *out[2];
  CHECK(tl_queue_enqueue(q, e1, NULL) == TL_OK);
  CHECK(tl_queue_enqueue(q, e2, NULL) == TL_OK);
  tl_tensor_release(a);
  tl_tensor_release(b);
  tl_tensor_release(sa);
  tl_tensor_release(sb);
  CHECK(tl_queue_dequeue_many(q, 2, out, NULL) == TL_OK);
  CHECK(out[0]->rank == 2 && out[0]->shape[0] == 2 && out[0]->shape[1] == 3);
  int32_t want[6] = {1, 2, 3, 4, 0, 0};
  for (int i = 0; i < 6; i++) CHECK(((int32_t *)out[0]->storage->data)[i] == want[i]);
  CHECK(out[1]->shape[0] == 2 && out[1]->shape[1] == 3);
  const tl_string *e = out[1]->storage->data;
  CHECK(e[0].len == 1 && memcmp(e[0].data, "x", 1) == 0);
  CHECK(e[1].len == 0 && e[2].len == 0);
  CHECK(e[3].len == 5 && memcmp(e[3].data, "hello", 5) == 0 && tl_string_owns(out[1]->storage, e[3].data));
  CHECK(e[4].len == 0 && e[5].len == 2);
  tl_tensor_release(out[0]);
  tl_tensor_release(out[1]);
  /* an empty batch takes the known dimensions and 0 for the others */
  CHECK(tl_queue_dequeue_many(q, 0, out, NULL) == TL_OK);
  CHECK(out[0]->rank == 2 && out[0]->shape[0] == 0 && out[0]->shape[1] == 0);
  tl_tensor_release(out[0]);
  tl_tensor_release(out[1]);
  tl_queue_release(q);
}

/* ---- blocking across threads --------------------------------------------- */

typedef struct blocked {
  tl_queue *q;
  tl_queue_wait w;
  tl_status status;
  int dequeue;
} blocked;

static void *block_enqueue(void *arg) {
  blocked *b = arg;
  if (b->dequeue) {
    tl_tensor *out;
    b->status = tl_queue_dequeue(b->q, &out, &b->w);
    if (!b->status) tl_tensor_release(out);
    return NULL;
  }
  tl_tensor *t = scalar_i64(99);
  b->status = tl_queue_enqueue(b->q, &t, &b->w);
  tl_tensor_release(t);
  return NULL;
}

static void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

static void test_pending_enqueues(void) {
  for (int cancel = 0; cancel < 2; cancel++) {
    tl_queue *q = new_queue(TL_QUEUE_FIFO, 1, 1, &I64_SCALAR);
    tl_tensor *t = scalar_i64(1);
    CHECK(tl_queue_enqueue(q, &t, NULL) == TL_OK);
    tl_tensor_release(t);
    blocked b = {.q = q, .w = {.timeout = 10}, .status = TL_INTERNAL};
    pthread_t th;
    pthread_create(&th, NULL, block_enqueue, &b);
    sleep_ms(50);
    tl_queue_close(q, cancel);
    if (!cancel) {
      /* a pending enqueue completes once there is room */
      tl_tensor *out;
      CHECK(tl_queue_dequeue(q, &out, NULL) == TL_OK);
      tl_tensor_release(out);
      pthread_join(th, NULL);
      CHECK(b.status == TL_OK);
      CHECK(tl_queue_dequeue(q, &out, NULL) == TL_OK);
      CHECK(value_of(out, 0) == 99);
      tl_tensor_release(out);
    } else {
      pthread_join(th, NULL);
      CHECK(b.status == TL_CANCELLED);
      CHECK(tl_queue_size(q) == 1);
    }
    tl_queue_release(q);
  }
}

static void test_interrupt(void) {
  tl_queue *q = new_queue(TL_QUEUE_FIFO, 1, 1, &I64_SCALAR);
  blocked b = {.q = q, .w = {.timeout = -1, .interruptible = true}, .status = TL_INTERNAL, .dequeue = 1};
  pthread_t th;
  pthread_create(&th, NULL, block_enqueue, &b);
  sleep_ms(30);
  tl_request_interrupt();
  pthread_join(th, NULL);
  CHECK(b.status == TL_CANCELLED);
  CHECK(!tl_interrupt_pending()); /* the wait consumed it */
  /* a dequeue that a producer in another thread satisfies */
  b = (blocked){.q = q, .w = {.timeout = 10}, .status = TL_INTERNAL, .dequeue = 1};
  pthread_create(&th, NULL, block_enqueue, &b);
  sleep_ms(20);
  tl_tensor *t = scalar_i64(5);
  CHECK(tl_queue_enqueue(q, &t, NULL) == TL_OK);
  tl_tensor_release(t);
  pthread_join(th, NULL);
  CHECK(b.status == TL_OK);
  tl_queue_release(q);
}

int main(void) {
  if (tl_init()) return 1;
  test_close_and_timeouts();
  test_checks();
  test_priority();
  test_random_shuffle();
  test_padding();
  test_pending_enqueues();
  test_interrupt();
  test_many_threads();
  printf("%d checks, %d failures\n", checks, failures);
  return failures != 0;
}
