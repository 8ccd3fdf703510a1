/* tl_queue.h — thread-safe queues of tensor tuples (tf.queue), usable from
 * C without Lua: tf.data's worker threads and tests enqueue and dequeue
 * here directly.
 *
 * An element is a tuple of n component tensors, each checked against the
 * queue's component spec (dtype; shape, where rank -1 means any shape and a
 * dimension -1 any size). The queue keeps a reference to each component
 * (tensors are immutable, so a producer's tensor is shared, not copied);
 * enqueue_many splits its inputs into views along dimension 0 (no copy).
 * Batches (dequeue_many / dequeue_up_to) are new CPU tensors stacked on a
 * new dimension 0; a PADDING_FIFO queue pads dimensions the spec leaves
 * unknown to the batch's largest, with zeros or empty strings.
 *
 * Kinds: FIFO; PADDING_FIFO; PRIORITY (component 0 is a scalar int64
 * priority: smallest first, FIFO among equal priorities); RANDOM_SHUFFLE
 * (a uniformly random element, reproducible from seed/seed2 for a given
 * sequence of operations; dequeues leave at least min_after_dequeue
 * elements until the queue is closed).
 *
 * Blocking calls take a tl_queue_wait (NULL: wait forever). A timeout
 * returns TL_DEADLINE_EXCEEDED with a message saying how many elements were
 * waiting and who was blocked; the queue is unchanged. An interruptible
 * wait polls tl_interrupt_pending() (the REPL's Ctrl-C) and returns
 * TL_CANCELLED. After tl_queue_close, dequeues drain what is left and then
 * fail with TL_OUT_OF_RANGE; new enqueues fail with TL_CANCELLED, and
 * enqueues already waiting for room too when cancel_pending_enqueues.
 *
 * Ownership: components passed in are borrowed (the queue retains them);
 * components handed out are new references the caller releases. */
#ifndef TL_QUEUE_H
#define TL_QUEUE_H

#include "tl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ORDER QUEUE_KINDS: kind_names in structs/queue.c follows this order. */
typedef enum tl_queue_kind {
  TL_QUEUE_FIFO = 0,
  TL_QUEUE_PADDING_FIFO,
  TL_QUEUE_PRIORITY,
  TL_QUEUE_RANDOM_SHUFFLE,
  TL_QUEUE_KIND_COUNT
} tl_queue_kind;

#define TL_QUEUE_MAX_COMPONENTS 64

typedef struct tl_queue_spec {
  tl_queue_kind kind;
  int64_t capacity;           /* most elements held; < 0: unbounded */
  int n;                      /* components (PRIORITY: the priority included) */
  const tl_meta *components;  /* n specs, copied */
  int64_t min_after_dequeue;  /* RANDOM_SHUFFLE */
  uint64_t seed, seed2;       /* RANDOM_SHUFFLE */
  const char *name;           /* for messages ("fifo_queue" when NULL) */
  const char *const *names;   /* NULL, or n component names (for messages), copied */
} tl_queue_spec;

typedef struct tl_queue_wait {
  double timeout;      /* seconds; < 0: forever; 0: never wait */
  bool interruptible;  /* cancel when tl_interrupt_pending() (checked every 50 ms) */
} tl_queue_wait;

typedef struct tl_queue tl_queue;

/* "FIFOQueue", "PaddingFIFOQueue", "PriorityQueue", "RandomShuffleQueue" */
const char *tl_queue_kind_name(tl_queue_kind k);

tl_status tl_queue_new(const tl_queue_spec *spec, tl_queue **out);
tl_queue *tl_queue_retain(tl_queue *q);
void tl_queue_release(tl_queue *q);

/* One element: c[0..n-1]. */
tl_status tl_queue_enqueue(tl_queue *q, tl_tensor *const *c, const tl_queue_wait *w);
/* Elements c[i][k] for k along dimension 0 (all components the same size
 * there). Atomic when it fits the capacity; a larger one goes in as room
 * appears, and on failure the message says how many went in. */
tl_status tl_queue_enqueue_many(tl_queue *q, tl_tensor *const *c, const tl_queue_wait *w);
/* out[0..n-1]: one element. */
tl_status tl_queue_dequeue(tl_queue *q, tl_tensor **out, const tl_queue_wait *w);
/* out[0..n-1]: k elements stacked, k == n_elems. A queue without fully
 * defined shapes batches elements whose shapes agree (TensorFlow requires
 * defined shapes; this is more lenient) except PADDING_FIFO, which pads. */
tl_status tl_queue_dequeue_many(tl_queue *q, int64_t n_elems, tl_tensor **out, const tl_queue_wait *w);
/* As dequeue_many, but a closed queue hands out what it has (1..n_elems). */
tl_status tl_queue_dequeue_up_to(tl_queue *q, int64_t n_elems, tl_tensor **out, const tl_queue_wait *w);
void tl_queue_close(tl_queue *q, bool cancel_pending_enqueues);
bool tl_queue_is_closed(tl_queue *q);
int64_t tl_queue_size(tl_queue *q);

tl_queue_kind tl_queue_kind_of(const tl_queue *q);
const char *tl_queue_name(const tl_queue *q);
int64_t tl_queue_capacity(const tl_queue *q);
int64_t tl_queue_min_after_dequeue(const tl_queue *q);
int tl_queue_n_components(const tl_queue *q);
const tl_meta *tl_queue_component(const tl_queue *q, int i);

#ifdef __cplusplus
}
#endif
#endif
