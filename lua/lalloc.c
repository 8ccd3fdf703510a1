/* lalloc.c — a caching layer over the Lua state's allocator.
 *
 * Every tensor a Lua program touches is a small userdata; under a gradient
 * tape thousands stay alive per step and are freed in bursts by the
 * collector, which leaves glibc's malloc on its slow paths (its per-thread
 * cache holds 7 blocks per size). This layer keeps freed blocks of up to
 * 256 bytes in exact-size free lists (bounded to 8 MiB in all) and hands
 * them back for requests of the same size. Lua tells the allocator each
 * block's size on free, so blocks the previous allocator made can be cached
 * too, and misses and overflow go to that allocator unchanged: the layer
 * can be installed on a running state (require("tlua") from plain lua5.4).
 */
#include <lua.h>

#include <stdlib.h>

#include "binding.h"

#define MAX_SMALL 256
#define CACHE_BYTES ((size_t)8 << 20)

typedef struct free_node {
  struct free_node *next;
} free_node;

typedef struct cache {
  lua_Alloc base;
  void *base_ud;
  size_t cached;
  free_node *lists[MAX_SMALL + 1]; /* by exact size */
} cache;

static void *cached_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  cache *c = ud;
  if (ptr == NULL) { /* a new block; osize is only a type tag then */
    if (nsize >= sizeof(free_node) && nsize <= MAX_SMALL && c->lists[nsize]) {
      free_node *n = c->lists[nsize];
      c->lists[nsize] = n->next;
      c->cached -= nsize;
      return n;
    }
    return c->base(c->base_ud, NULL, osize, nsize);
  }
  if (nsize == 0) { /* a free */
    if (osize >= sizeof(free_node) && osize <= MAX_SMALL && c->cached + osize <= CACHE_BYTES) {
      free_node *n = ptr;
      n->next = c->lists[osize];
      c->lists[osize] = n;
      c->cached += osize;
      return NULL;
    }
    return c->base(c->base_ud, ptr, osize, 0);
  }
  return c->base(c->base_ud, ptr, osize, nsize); /* a resize */
}

/* Runs when the state closes (finalizers run before objects are freed):
 * hands the cached blocks back and stops caching. */
static int flush_cache(lua_State *L) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  if (f != cached_alloc) return 0;
  cache *c = ud;
  for (size_t size = 0; size <= MAX_SMALL; size++)
    for (free_node *n = c->lists[size], *next; n; n = next) {
      next = n->next;
      c->base(c->base_ud, n, size, 0);
    }
  for (size_t size = 0; size <= MAX_SMALL; size++) c->lists[size] = NULL;
  c->cached = 0;
  /* Every block is a plain block of the previous allocator: give the state
   * back to it, since this module's code may be unloaded (package's own
   * finalizer closes C libraries, and runs after this one). */
  lua_setallocf(L, c->base, c->base_ud);
  free(c);
  return 0;
}

void tlb_install_allocator(lua_State *L) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  if (f == cached_alloc) return;
  cache *c = calloc(1, sizeof *c);
  if (!c) return; /* keep the plain allocator */
  c->base = f;
  c->base_ud = ud;
  lua_setallocf(L, cached_alloc, c);
  /* A finalizer in the registry flushes the cache and restores the
   * previous allocator when the state closes. It is created after
   * package's table of C libraries, so it runs before that one's. */
  lua_newuserdatauv(L, 1, 0);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, flush_cache);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, (void *)flush_cache);
}
