/* core/random.c — counter-based random streams (Philox-4x32-10), the
 * generator behind the random ops of ops/random.c.
 *
 * A stream is (key, counter); each 128-bit counter value yields four
 * uint32 outputs, so any position of a stream can be computed directly and
 * threads can fill disjoint ranges of one output without sharing state.
 * Seeding follows TensorFlow's eager rules in spirit: tf.random.set_seed
 * resets the global stream; an op given its own seed draws from a stream
 * keyed by (global seed, op seed) whose call count advances per call, so a
 * script that sets both gets the same numbers on every run, and repeated
 * calls still differ.
 */
#include "tl.h"

#include <pthread.h>
#include <string.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void philox_block(uint32_t ctr[4], uint32_t key0, uint32_t key1, uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  for (int r = 0; r < 10; r++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ key0;
    uint32_t n1 = (uint32_t)p1;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ key1;
    uint32_t n3 = (uint32_t)p0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    key0 += PHILOX_W0;
    key1 += PHILOX_W1;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

void tl_rng_seed(tl_rng *r, uint64_t seed) {
  r->key = splitmix64(seed);
  r->counter = 0;
}

void tl_rng_fill_u32(tl_rng *r, uint32_t *out, int64_t n) {
  uint32_t k0 = (uint32_t)r->key, k1 = (uint32_t)(r->key >> 32);
  int64_t i = 0;
  while (i < n) {
    uint32_t ctr[4] = {(uint32_t)r->counter, (uint32_t)(r->counter >> 32), 0, 0}, blk[4];
    philox_block(ctr, k0, k1, blk);
    r->counter++;
    for (int j = 0; j < 4 && i < n; j++) out[i++] = blk[j];
  }
}

/* Global state: the global generator and the per-op-seed call counts. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static tl_rng global_rng = {0x853c49e6748fea9bull, 0};
static uint64_t global_seed;
static bool global_seed_set;
#define NSEEDS 256
static struct { int64_t seed; uint64_t calls; bool used; } op_seeds[NSEEDS];

tl_rng *tl_rng_global(void) { return &global_rng; }

void tl_random_set_seed(uint64_t seed) {
  pthread_mutex_lock(&lock);
  global_seed = seed;
  global_seed_set = true;
  tl_rng_seed(&global_rng, seed);
  memset(op_seeds, 0, sizeof op_seeds);
  pthread_mutex_unlock(&lock);
}

/* Reserves a stream for one op call. The global stream is split by
 * advancing its key-space counter past what the call may use: each call
 * gets a fresh key derived from the global key and a call index, so calls
 * never overlap however many numbers they draw. */
void tl_random_stream(const tl_attr *seed, tl_rng *out) {
  pthread_mutex_lock(&lock);
  if (seed && seed->present) {
    int64_t s = seed->i;
    int slot = -1;
    for (int i = 0; i < NSEEDS; i++)
      if (op_seeds[i].used && op_seeds[i].seed == s) { slot = i; break; }
    if (slot < 0)
      for (int i = 0; i < NSEEDS; i++)
        if (!op_seeds[i].used) { slot = i; op_seeds[i].used = true; op_seeds[i].seed = s; op_seeds[i].calls = 0; break; }
    uint64_t calls = slot >= 0 ? op_seeds[slot].calls++ : 0;
    uint64_t g = global_seed_set ? global_seed : 87654321u;
    out->key = splitmix64(splitmix64(g) ^ splitmix64((uint64_t)s + 0x51ed270b27bc5ull) ^ calls * 0x9E3779B97F4A7C15ull);
    out->counter = 0;
  } else {
    out->key = splitmix64(global_rng.key ^ global_rng.counter);
    out->counter = 0;
    global_rng.counter++;
  }
  pthread_mutex_unlock(&lock);
}
