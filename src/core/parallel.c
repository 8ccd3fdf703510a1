/* parallel.c — the compute thread pool and per-thread float settings.
 *
 * One pool for all of tlua's CPU work (element-wise, reductions, and the
 * row-split matrix products that call a single-threaded BLAS), so nothing
 * else competes for the cores. The calling thread takes part in every job.
 * Every thread that computes sets flush-to-zero / denormals-are-zero, as
 * TensorFlow does on the CPU: denormals in optimizer moments otherwise slow
 * training several-fold.
 */
#include "tl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#include <pmmintrin.h>
#endif

void tl_set_ftz(void) {
#if defined(__x86_64__) || defined(__i386__)
  _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
  _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
#endif
}

#define MAX_THREADS 64

typedef struct pool {
  pthread_mutex_t mu;
  pthread_cond_t work_cv, done_cv;
  int nthreads;        /* including the caller */
  int started;         /* worker threads created */
  uint64_t generation; /* bumped per job */
  tl_range_fn fn;
  void *ctx;
  int64_t n, chunk;
  /* The job's chunks are claimed from `next`: the low 32 bits count claims,
   * bits 32-47 hold the job's chunk count. A claim below the count is a
   * chunk of the job that published the word, which cannot finish (and be
   * replaced) before that chunk is done, so fn/ctx/n/chunk read after it
   * are that job's. A claim past the count takes nothing. */
  _Atomic uint64_t next;
  _Atomic int64_t done;  /* chunks finished */
  int caller_waiting;    /* under mu: the caller sleeps on done_cv */
} pool;

static pool P = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
                 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0};
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */

/* Runs chunks until none is left. The caller waits for the chunks to be
 * done, not for every worker to check in: a worker still waking up (20-50
 * us here) when the caller has taken all the chunks costs nothing. */
static void run_chunks(void) {
  for (;;) {
    uint64_t v = atomic_fetch_add_explicit(&P.next, 1, memory_order_acq_rel);
    int64_t idx = (int64_t)(v & 0xffffffffu), nch = (int64_t)((v >> 32) & 0xffffu);
    if (idx >= nch) break;
    int64_t b = idx * P.chunk, e = b + P.chunk < P.n ? b + P.chunk : P.n;
    P.fn(b, e, P.ctx);
    if (atomic_fetch_add_explicit(&P.done, 1, memory_order_acq_rel) + 1 == nch) {
      pthread_mutex_lock(&P.mu);
      if (P.caller_waiting) pthread_cond_signal(&P.done_cv);
      pthread_mutex_unlock(&P.mu);
    }
  }
}

/* Waking a sleeping thread costs 20-50 us here, more than a small job
 * (a 256^3 product split in two), and a training step of a small model
 * runs a parallel product every 50-200 us with Lua work in between. So a
 * thread that finished a job spins for the next one a bounded while before
 * it sleeps, as OpenMP runtimes do (libgomp spins far longer). Measured on
 * the seed's 784-256-128-10 step at batch 32 (2 threads, AMD EPYC, where
 * 20000 pauses take about 0.7 ms): forward+backward about 600 us with
 * 2000 pauses, 505 us with 8000, 410 us with 20000, no better with 80000.
 * (A time bound read from the clock every 64 pauses measured slower.) */
#define SPIN_ITERS 20000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

static void *worker(void *arg) {
  (void)arg;
  tl_set_ftz();
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < SPIN_ITERS && __atomic_load_n(&P.generation, __ATOMIC_ACQUIRE) == seen; i++) cpu_relax();
    pthread_mutex_lock(&P.mu);
    while (P.generation == seen) pthread_cond_wait(&P.work_cv, &P.mu);
    seen = P.generation;
    pthread_mutex_unlock(&P.mu);
    run_chunks();
  }
  return NULL;
}

static int default_threads(void) {
  const char *env = getenv("TLUA_NUM_THREADS");
  if (env && atoi(env) > 0) return atoi(env) > MAX_THREADS ? MAX_THREADS : atoi(env);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (n > MAX_THREADS ? MAX_THREADS : (int)n);
}

int tl_num_threads(void) {
  if (P.nthreads == 0) P.nthreads = default_threads();
  return P.nthreads;
}

void tl_set_num_threads(int n) {
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  pthread_mutex_lock(&job_lock);
  P.nthreads = n; /* extra started workers simply find no chunks */
  pthread_mutex_unlock(&job_lock);
}

void tl_parallel_for(int64_t n, int64_t grain, tl_range_fn fn, void *ctx) {
  if (n <= 0) return;
  int nt = tl_num_threads();
  if (grain < 1) grain = 1;
  if (nt <= 1 || n < 2 * grain || pthread_mutex_trylock(&job_lock) != 0) {
    /* One thread, a small job, or a job already running (nested call from
     * a worker, or another thread of the program): run inline. */
    fn(0, n, ctx);
    return;
  }
  int64_t parts = n / grain < nt ? n / grain : nt;
  pthread_mutex_lock(&P.mu);
  while (P.started < parts - 1) {
    pthread_t th;
    if (pthread_create(&th, NULL, worker, NULL) != 0) break;
    pthread_detach(th);
    P.started++;
  }
  P.fn = fn;
  P.ctx = ctx;
  P.n = n;
  P.chunk = (n + parts - 1) / parts;
  int64_t nch = (n + P.chunk - 1) / P.chunk;
  P.caller_waiting = 0;
  atomic_store_explicit(&P.done, 0, memory_order_relaxed);
  atomic_store_explicit(&P.next, (uint64_t)nch << 32, memory_order_release);
  __atomic_store_n(&P.generation, P.generation + 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&P.work_cv);
  pthread_mutex_unlock(&P.mu);
  run_chunks();
  for (int i = 0; i < SPIN_ITERS && atomic_load_explicit(&P.done, memory_order_acquire) < nch; i++) cpu_relax();
  if (atomic_load_explicit(&P.done, memory_order_acquire) < nch) {
    pthread_mutex_lock(&P.mu);
    P.caller_waiting = 1;
    while (atomic_load_explicit(&P.done, memory_order_acquire) < nch) pthread_cond_wait(&P.done_cv, &P.mu);
    P.caller_waiting = 0;
    pthread_mutex_unlock(&P.mu);
  }
  /* Leave the claim word exhausted so a worker waking late takes nothing. */
  atomic_store_explicit(&P.next, 0, memory_order_release);
  pthread_mutex_unlock(&job_lock);
}
