/* backend/device.c — the device table: the CPU and the test device.
 *
 * A device is a memory (alloc, free, copies to and from the host) plus,
 * per op, an optional kernel in the op's record. The CPU is the reference
 * backend. The test device exists to prove that nothing outside a kernel
 * dereferences device memory: its buffers are their own mappings kept
 * PROT_NONE, opened (read-write) only while a kernel runs on it, so any
 * host-side read (printing, the binding, a gradient rule, the tape) faults
 * at once instead of working by accident. It runs the CPU kernels, so its
 * results must be bit-identical to the CPU's. A CUDA backend plugs in as
 * another row of the table with its own kernels.
 *
 * Not thread-safe in the sense of opening the test device from two
 * threads at once: kernels on it are for the test suite, which runs ops
 * from one thread (the compute pool's workers only run inside a kernel).
 */
#include "tl.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- CPU ---------------------------------------------------------------- */

static tl_status cpu_upload(tl_storage *dst, size_t offset, const void *src, size_t n) {
  if (n) memcpy((char *)dst->data + offset, src, n);
  return TL_OK;
}

static tl_status cpu_download(void *dst, const tl_storage *src, size_t offset, size_t n) {
  if (n) memcpy(dst, (const char *)src->data + offset, n);
  return TL_OK;
}

/* ---- the test device ---------------------------------------------------- */

/* Every live mapping, so a kernel can open them all: a kernel may reach
 * memory that is not among its inputs (a variable behind a resource). */
typedef struct mapping {
  void *base;
  size_t len;
} mapping;

static pthread_mutex_t test_lock = PTHREAD_MUTEX_INITIALIZER;
static mapping *maps;
static size_t n_maps, cap_maps;
static int test_open; /* kernels running on the test device */

static size_t page_round(size_t n) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  return n == 0 ? pg : (n + pg - 1) / pg * pg;
}

static void *test_alloc(size_t nbytes) {
  size_t len = page_round(nbytes);
  pthread_mutex_lock(&test_lock);
  void *p = mmap(NULL, len, test_open ? PROT_READ | PROT_WRITE : PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) p = NULL;
  if (p && n_maps == cap_maps) {
    size_t cap = cap_maps ? cap_maps * 2 : 64;
    mapping *m = realloc(maps, sizeof *m * cap);
    if (!m) {
      munmap(p, len);
      p = NULL;
    } else {
      maps = m;
      cap_maps = cap;
    }
  }
  if (p) maps[n_maps++] = (mapping){p, len};
  pthread_mutex_unlock(&test_lock);
  return p;
}

static void test_free(void *p, size_t nbytes) {
  if (!p) return;
  pthread_mutex_lock(&test_lock);
  for (size_t i = 0; i < n_maps; i++)
    if (maps[i].base == p) {
      maps[i] = maps[--n_maps];
      break;
    }
  pthread_mutex_unlock(&test_lock);
  munmap(p, page_round(nbytes));
}

static void protect_all(int prot) {
  for (size_t i = 0; i < n_maps; i++) mprotect(maps[i].base, maps[i].len, prot);
}

static void test_kernel_begin(void) {
  pthread_mutex_lock(&test_lock);
  if (test_open++ == 0) protect_all(PROT_READ | PROT_WRITE);
  pthread_mutex_unlock(&test_lock);
}

static void test_kernel_end(void) {
  pthread_mutex_lock(&test_lock);
  if (--test_open == 0) protect_all(PROT_NONE);
  pthread_mutex_unlock(&test_lock);
}

/* Copies open the one storage for the copy, as a DMA engine would. */
static tl_status test_copy(void *host, tl_storage *dev, size_t offset, size_t n, bool up) {
  if (n == 0) return TL_OK;
  size_t len = page_round(dev->nbytes);
  pthread_mutex_lock(&test_lock);
  if (!test_open) mprotect(dev->data, len, PROT_READ | PROT_WRITE);
  if (up) memcpy((char *)dev->data + offset, host, n);
  else memcpy(host, (char *)dev->data + offset, n);
  if (!test_open) mprotect(dev->data, len, PROT_NONE);
  pthread_mutex_unlock(&test_lock);
  return TL_OK;
}

static tl_status test_upload(tl_storage *dst, size_t offset, const void *src, size_t n) {
  return test_copy((void *)src, dst, offset, n, true);
}

static tl_status test_download(void *dst, const tl_storage *src, size_t offset, size_t n) {
  return test_copy(dst, (tl_storage *)src, offset, n, false);
}

/* ---- the table ------------------------------------------------------------ */

/* ORDER DEVICES */
static const tl_device_impl devices[] = {
    [TL_CPU] = {.name = "CPU", .available = true, .alloc = tl_alloc, .free = tl_free,
                .upload = cpu_upload, .download = cpu_download},
    [TL_TEST] = {.name = "TEST", .available = true, .runs_cpu_kernels = true, .alloc = test_alloc,
                 .free = test_free, .upload = test_upload, .download = test_download,
                 .kernel_begin = test_kernel_begin, .kernel_end = test_kernel_end},
    [TL_CUDA] = {.name = "GPU", .available = false},
};
_Static_assert(sizeof devices / sizeof devices[0] == TL_DEVICE_COUNT, "device table");

const tl_device_impl *tl_device_get(tl_device d) {
  return &devices[(unsigned)d < TL_DEVICE_COUNT ? d : TL_CPU];
}

tl_device tl_device_from_name(const char *name) {
  if (!name) return TL_DEVICE_COUNT;
  /* The last "device:" component, or the whole string; a leading '/' is allowed. */
  const char *p = name, *d = strstr(name, "device:");
  if (d) p = d + 7;
  else if (*p == '/') p++;
  size_t len = strcspn(p, ":");
  const char *idx = p[len] == ':' ? p + len + 1 : NULL;
  if (idx && strcmp(idx, "0") != 0) return TL_DEVICE_COUNT;
  for (int i = 0; i < TL_DEVICE_COUNT; i++) {
    const char *nm = devices[i].name;
    bool match = strlen(nm) == len && strncasecmp(p, nm, len) == 0;
    if (i == TL_CUDA && len == 4 && strncasecmp(p, "CUDA", 4) == 0) match = true;
    if (match) return devices[i].available ? (tl_device)i : TL_DEVICE_COUNT;
  }
  return TL_DEVICE_COUNT;
}

const char *tl_device_name(tl_device d) {
  static const char *const names[] = {
      [TL_CPU] = "/job:localhost/replica:0/task:0/device:CPU:0",
      [TL_TEST] = "/job:localhost/replica:0/task:0/device:TEST:0",
      [TL_CUDA] = "/job:localhost/replica:0/task:0/device:GPU:0",
  };
  _Static_assert(sizeof names / sizeof names[0] == TL_DEVICE_COUNT, "device names");
  return names[(unsigned)d < TL_DEVICE_COUNT ? d : TL_CPU];
}

static _Thread_local tl_device default_device = TL_CPU;
tl_device tl_default_device(void) { return default_device; }
void tl_set_default_device(tl_device d) {
  if ((unsigned)d < TL_DEVICE_COUNT && devices[d].available) default_device = d;
}
