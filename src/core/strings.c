/* strings.c — who owns the bytes of string elements.
 *
 * A string tensor's elements are tl_string {data, len}; the bytes live in
 * the arena of the storage that holds the elements: a list of chunks from
 * the caching allocator (so tensor-memory accounting and the collector see
 * them), bumped forward, freed all at once with the storage. Invariant: an
 * element's bytes are in its own storage's arena (or it is empty), so a
 * storage can die without another one dangling.
 *
 * Movement kernels (reshape, gather, concat, ...) copy the 16-byte elements
 * only; the dispatcher then calls tl_string_adopt on every string output of
 * an op not flagged TL_OP_STRINGS_OWNED, which copies the bytes of elements
 * that point elsewhere into the output's arena (one chunk sized for all of
 * them). A view that shares its input's storage points into that storage's
 * arena already and costs one range check per element.
 *
 * Not thread-safe per storage: a kernel that fills strings from several
 * threads reserves the bytes once (tl_string_alloc) and carves them up.
 */
#include "tl.h"

#include <inttypes.h>
#include <string.h>

typedef struct chunk {
  struct chunk *next;
  size_t cap, used, alloc;
  char data[];
} chunk;

typedef struct tl_string_arena {
  chunk *head; /* the newest chunk, where bumps happen */
  size_t bytes;
} tl_string_arena;

#define FIRST_CHUNK ((size_t)256)
#define BIG_CHUNK ((size_t)64 << 20) /* growth stops doubling past this */

static chunk *new_chunk(tl_string_arena *a, size_t need) {
  size_t cap = a->head ? a->head->cap * 2 : FIRST_CHUNK;
  if (cap > BIG_CHUNK) cap = BIG_CHUNK;
  if (cap < need) cap = need;
  size_t alloc = sizeof(chunk) + cap;
  chunk *c = tl_alloc(alloc);
  if (!c) return NULL;
  c->next = a->head;
  c->cap = cap;
  c->used = 0;
  c->alloc = alloc;
  a->head = c;
  a->bytes += alloc;
  return c;
}

static tl_string_arena *arena_of(tl_storage *s) {
  if (!s->arena) {
    tl_string_arena *a = tl_obj_alloc(sizeof *a);
    if (!a) return NULL;
    a->head = NULL;
    a->bytes = 0;
    s->arena = a;
  }
  return s->arena;
}

/* n bytes in s's arena, or NULL (status set). */
static char *arena_bump(tl_storage *s, size_t n, size_t exact_first) {
  tl_string_arena *a = arena_of(s);
  if (!a) {
    tl_error(TL_RESOURCE_EXHAUSTED, "out of memory for string bytes");
    return NULL;
  }
  chunk *c = a->head;
  if (!c || c->cap - c->used < n) {
    /* The first chunk of a tensor whose total is known (adopt, a constant)
       is that size exactly, so a million scalar strings hold no slack. */
    if (!c && exact_first >= n) {
      size_t alloc = sizeof(chunk) + exact_first;
      if (!(c = tl_alloc(alloc))) goto oom;
      c->next = NULL;
      c->cap = exact_first;
      c->used = 0;
      c->alloc = alloc;
      a->head = c;
      a->bytes += alloc;
    } else if (!(c = new_chunk(a, n))) {
      goto oom;
    }
  }
  char *p = c->data + c->used;
  c->used += n;
  return p;
oom:
  tl_error(TL_RESOURCE_EXHAUSTED, "out of memory for %zu bytes of strings", n);
  return NULL;
}

void tl_string_arena_free(tl_storage *s);
void tl_string_arena_free(tl_storage *s) {
  tl_string_arena *a = s->arena;
  if (!a) return;
  for (chunk *c = a->head, *next; c; c = next) {
    next = c->next;
    tl_free(c, c->alloc);
  }
  tl_obj_free(a, sizeof *a);
  s->arena = NULL;
}

size_t tl_string_arena_bytes(const tl_storage *s) { return s->arena ? s->arena->bytes : 0; }

bool tl_string_owns(const tl_storage *s, const char *p) {
  if (!s->arena) return false;
  for (const chunk *c = s->arena->head; c; c = c->next)
    if (p >= c->data && p < c->data + c->used) return true;
  return false;
}

char *tl_string_alloc(tl_tensor *t, size_t n) {
  if (n == 0) n = 1; /* a valid, owned pointer even for nothing */
  return arena_bump(t->storage, n, 0);
}

tl_status tl_string_set(tl_tensor *t, int64_t i, const void *bytes, size_t len) {
  tl_string *e = (tl_string *)tl_tensor_data(t) + i;
  if ((int64_t)len > TL_STRING_MAX_LEN)
    return tl_error(TL_INVALID_ARGUMENT, "a string of %zu bytes is longer than the limit (%" PRId64 ")", len,
                    TL_STRING_MAX_LEN);
  if (len == 0) {
    e->data = NULL;
    e->len = 0;
    return TL_OK;
  }
  char *p = arena_bump(t->storage, len, 0);
  if (!p) return TL_RESOURCE_EXHAUSTED;
  memcpy(p, bytes, len);
  e->data = p;
  e->len = (int64_t)len;
  return TL_OK;
}

/* Visits every element of t's window (any strides), depth-first. */
typedef struct adopt_ctx {
  tl_storage *s;
  size_t foreign; /* pass 1: bytes to copy */
  char *dst;      /* pass 2: where they go */
} adopt_ctx;

static bool foreign(const tl_storage *s, const tl_string *e) {
  return e->len > 0 && !tl_string_owns(s, e->data);
}

static void walk(const tl_tensor *t, int d, int64_t off, adopt_ctx *c, bool copy) {
  tl_string *base = (tl_string *)c->s->data;
  if (d == t->rank) {
    tl_string *e = base + off;
    if (e->len == 0) {
      e->data = NULL;
    } else if (foreign(c->s, e)) {
      if (copy) {
        memcpy(c->dst, e->data, (size_t)e->len);
        e->data = c->dst;
        c->dst += e->len;
      } else {
        c->foreign += (size_t)e->len;
      }
    }
    return;
  }
  for (int64_t i = 0; i < t->shape[d]; i++) walk(t, d + 1, off + i * t->strides[d], c, copy);
}

tl_status tl_string_adopt(tl_tensor *t) {
  if (t->dtype != TL_STRING || t->sym_value || t->size == 0) return TL_OK;
  adopt_ctx c = {t->storage, 0, NULL};
  walk(t, 0, t->offset, &c, false);
  if (c.foreign == 0) return TL_OK;
  if (!(c.dst = arena_bump(t->storage, c.foreign, c.foreign))) return TL_RESOURCE_EXHAUSTED;
  /* The chunk is new or has room: elements copied in pass 2 land in the
     arena, so a broadcast view's repeated element is copied once. */
  walk(t, 0, t->offset, &c, true);
  return TL_OK;
}
