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
  atomic_int_fast64_t next;  /* next chunk start */
  int pending;          /* workers still running the job */
} pool;

static pool P = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
                 0, 0, 0, NULL, NULL, 0, 0, 0, 0};
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */

static void run_chunks(void) {
  for (;;) {
    int64_t b = atomic_fetch_add(&P.next, P.chunk);
    if (b >= P.n) break;
    int64_t e = b + P.chunk < P.n ? b + P.chunk : P.n;
    P.fn(b, e, P.ctx);
  }
}

/* Waking a sleeping thread costs 20-50 us here, more than a small job
 * (a 256^3 product split in two). So a thread that finished a job spins a
 * short while (bounded, ~tens of us) for the next before it sleeps. */
#define SPIN_ITERS 2000 /* about 50 us of _mm_pause on this machine */

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
    pthread_mutex_lock(&P.mu);
    if (--P.pending == 0) pthread_cond_signal(&P.done_cv);
    pthread_mutex_unlock(&P.mu);
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
  int helpers = P.started < parts - 1 ? P.started : (int)parts - 1;
  P.fn = fn;
  P.ctx = ctx;
  P.n = n;
  P.chunk = (n + parts - 1) / parts;
  atomic_store(&P.next, 0);
  P.pending = P.started; /* every started worker wakes and checks in */
  __atomic_store_n(&P.generation, P.generation + 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&P.work_cv);
  pthread_mutex_unlock(&P.mu);
  (void)helpers;
  run_chunks();
  for (int i = 0; i < SPIN_ITERS && __atomic_load_n(&P.pending, __ATOMIC_ACQUIRE) > 0; i++) cpu_relax();
  pthread_mutex_lock(&P.mu);
  while (P.pending > 0) pthread_cond_wait(&P.done_cv, &P.mu);
  pthread_mutex_unlock(&P.mu);
  pthread_mutex_unlock(&job_lock);
}
