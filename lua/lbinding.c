/* lbinding.c — the binding's auxiliary layer, as lauxlib.c is Lua's: what
 * every binding file shares. Errors as tf.errors values that name the
 * user's line, dtype objects, userdata type tests, the one rule for "is
 * this an options table", conversion between Lua values and tensors, and
 * the collector's view of tensor bytes. No metatables or op dispatch here.
 *
 * Device rule: binding code runs on the host, outside kernels, where a
 * device's memory must not be read (the test device faults). Every read of
 * tensor values here goes through tlb_host_copy first; Lua values become
 * CPU tensors and are then placed (tlb_place) where they are needed.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "binding.h"

char tlb_hooks_key, tlb_dtypes_key, tlb_variables_key;

/* ---- memory accounting ------------------------------------------------- */

/* Lua's collector sees only the small userdata of a tensor, not its bytes,
 * so the binding steers it (called before each op allocates):
 *
 * - Pacing: every 256 KiB the core hands out adds that much to the
 *   collector's debt (LUA_GCSTEP), so collection work follows all
 *   allocation, tensor bytes included. In generational mode this runs
 *   minor collections, which free tensors that die young (a small-op loop)
 *   without walking the old heap.
 * - Backstop: minor collections cannot free garbage that has grown old. A
 *   training step that allocates several 256 KiB blocks spans several minor
 *   collections, so its intermediates (and the tape holding them) are old
 *   by the time they die. A full collection runs when live tensor bytes
 *   pass the backstop: what survived the last full collection plus the
 *   larger of GC_FLOOR and (surviving tensor bytes + the Lua heap). That is
 *   Lua's own rule for its generational mode (a major collection when the
 *   heap has doubled, genmajormul 100) applied to tensor and Lua bytes
 *   together, so memory stays within about twice the working set, and the
 *   cost of walking the Lua heap is paid at most once per heap's worth of
 *   tensor bytes, as for Lua's own allocations. The floor keeps a tiny
 *   program from collecting fully every few steps. */
#define GC_STEP_BYTES ((int64_t)256 << 10)
#define GC_FLOOR ((int64_t)4 << 20)
static int64_t gc_seen_total, gc_backstop = GC_FLOOR;

void tlb_steer_collector(lua_State *L) {
  int64_t total = tl_memory_allocated_total(), delta = total - gc_seen_total;
  if (delta < GC_STEP_BYTES) return;
  gc_seen_total = total;
  lua_gc(L, LUA_GCSTEP, (int)(delta >> 10 > INT32_MAX ? INT32_MAX : delta >> 10));
  tl_memory_stats st = tl_memory_get_stats();
  if (st.live_bytes <= gc_backstop) return;
  lua_gc(L, LUA_GCCOLLECT);
  /* In generational mode a full collection leaves a debt of about a whole
   * heap before the next minor one (measured: 46 MB of 256 KiB tensors
   * piled up under a 50 MB heap); a basic step now runs a cheap minor
   * collection and restores the minor pace (a fifth of the heap). */
  lua_gc(L, LUA_GCSTEP, 0);
  int64_t live = tl_memory_get_stats().live_bytes;
  int64_t room = live + ((int64_t)lua_gc(L, LUA_GCCOUNT) << 10);
  gc_backstop = live + (room > GC_FLOOR ? room : GC_FLOOR);
}

/* ---- errors ------------------------------------------------------------ */

/* Is source (a chunk's "@path") one of tlua's own library files? The
 * stdlib tells where it was loaded from (hooks.library_root, set by
 * tlua/init.lua): files in its tlua/ and keras/ folders are library code
 * wherever it is installed. Without that, the source tree's and the
 * installed tree's folder names are recognised. */
static bool is_library(const char *source, const char *root, size_t rootlen) {
  if (strncmp(source, "=[tlua]", 7) == 0) return true;
  if (root && source[0] == '@' && strncmp(source + 1, root, rootlen) == 0) {
    const char *rest = source + 1 + rootlen;
    if (strncmp(rest, "tlua/", 5) == 0 || strncmp(rest, "keras/", 6) == 0) return true;
  }
  return strstr(source, "/stdlib/tlua/") || strstr(source, "/stdlib/keras/") || strstr(source, "/tlua/stdlib/");
}

/* The position of the user's code: the first Lua frame that is neither C
 * nor tlua's own stdlib (tf and keras), so errors point at the line the
 * user wrote. */
void tlb_push_where(lua_State *L) {
  int top = lua_gettop(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &tlb_hooks_key);
  const char *root = NULL;
  size_t rootlen = 0;
  if (lua_type(L, -1) == LUA_TTABLE && lua_getfield(L, -1, "library_root") == LUA_TSTRING)
    root = lua_tolstring(L, -1, &rootlen);
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Sl", &ar)) break;
    if (ar.currentline <= 0 || is_library(ar.source, root, rootlen)) continue;
    lua_settop(L, top); /* root stays alive: the hooks table holds it */
    lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
    return;
  }
  lua_settop(L, top);
  lua_pushliteral(L, "?");
}

int tlb_raise_kind(lua_State *L, const char *kind, const char *msg) {
  lua_createtable(L, 0, 3);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, msg);
  lua_setfield(L, -2, "message");
  tlb_push_where(L);
  lua_setfield(L, -2, "where");
  luaL_setmetatable(L, ERROR_MT);
  return lua_error(L);
}

int tlb_raise(lua_State *L, tl_status s) {
  return tlb_raise_kind(L, tl_status_name(s), tl_last_error());
}

int tlb_error_tostring(lua_State *L) {
  lua_getfield(L, 1, "kind");
  lua_getfield(L, 1, "where");
  lua_getfield(L, 1, "message");
  lua_pushfstring(L, "%sError: %s: %s", lua_tostring(L, -3), lua_tostring(L, -2),
                  lua_tostring(L, -1));
  return 1;
}

/* core.raise(kind, message): lets stdlib raise the same error values. */
int tlb_l_raise(lua_State *L) {
  const char *kind = luaL_checkstring(L, 1);
  const char *msg = luaL_checkstring(L, 2);
  return tlb_raise_kind(L, kind, msg);
}

/* luaL_argerror's message ("bad argument #1 to 'item' (...)") as a
 * tf.errors InvalidArgument value, so scripts can test argument errors. */
int tlb_arg_error(lua_State *L, int arg, const char *extramsg) {
  lua_Debug ar;
  const char *fname = "?";
  if (lua_getstack(L, 0, &ar)) {
    lua_getinfo(L, "n", &ar);
    if (ar.name) fname = ar.name;
    if (ar.namewhat && strcmp(ar.namewhat, "method") == 0 && --arg == 0) {
      char buf[400];
      snprintf(buf, sizeof buf, "calling '%s' on bad self (%s)", fname, extramsg);
      return tlb_raise_kind(L, "InvalidArgument", buf);
    }
  }
  char buf[400];
  snprintf(buf, sizeof buf, "bad argument #%d to '%s' (%s)", arg, fname, extramsg);
  return tlb_raise_kind(L, "InvalidArgument", buf);
}

int tlb_type_error(lua_State *L, int arg, const char *tname) {
  char buf[200];
  snprintf(buf, sizeof buf, "%s expected, got %s", tname, luaL_typename(L, arg));
  return tlb_arg_error(L, arg, buf);
}

/* ---- the options rule ---------------------------------------------------- */

/* One rule, used by the dispatcher and (as core.is_options) by every Lua
 * wrapper: a table without a metatable whose keys are all strings, and
 * which has at least one, is an options table. A table with both named
 * keys and other (list) entries is an error rather than a guess, so
 * {1, 2, axis=0} means the same nowhere. An empty table is an empty list.
 * Tensors, TensorShapes and class instances have metatables: values. */
bool tlb_is_options(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TTABLE) return false;
  if (lua_getmetatable(L, idx)) {
    lua_pop(L, 1);
    return false;
  }
  idx = lua_absindex(L, idx);
  bool named = false, other = false;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) named = true;
    else other = true;
    if (named && other) {
      lua_pop(L, 1);
      tlb_raise_kind(L, "InvalidArgument",
                     "table mixes list entries and named options (pass the list and the options "
                     "as separate arguments: f({1, 2}, {axis = 0}))");
    }
  }
  return named;
}

/* core.is_options(x) */
int tlb_l_is_options(lua_State *L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, tlb_is_options(L, 1));
  return 1;
}

/* ---- device-safe reads --------------------------------------------------- */

tl_tensor *tlb_host_copy(lua_State *L, tl_tensor *t) {
  tl_tensor *c;
  tl_status s = tl_tensor_copy_to(t, TL_CPU, &c);
  if (s) tlb_raise(L, s);
  return c;
}

tl_tensor *tlb_place(lua_State *L, tl_tensor *t, tl_device dev) {
  if (tl_tensor_device(t) == dev) return t;
  tl_tensor *moved;
  tl_status s = tl_tensor_copy_to(t, dev, &moved);
  tl_tensor_release(t);
  if (s) tlb_raise(L, s);
  return moved;
}

/* ---- dtypes ------------------------------------------------------------ */

void tlb_push_dtype(lua_State *L, tl_dtype d) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &tlb_dtypes_key);
  lua_rawgeti(L, -1, (lua_Integer)d + 1);
  lua_remove(L, -2);
}

/* Accepts a DType object (table with .enum) or a name string. */
tl_dtype tlb_check_dtype(lua_State *L, int idx) {
  char msg[200];
  if (lua_type(L, idx) == LUA_TSTRING) {
    tl_dtype d = tl_dtype_from_name(lua_tostring(L, idx));
    if (d != TL_DTYPE_COUNT) return d;
    snprintf(msg, sizeof msg, "unknown dtype '%.60s'", lua_tostring(L, idx));
    tlb_arg_error(L, idx, msg);
  }
  if (lua_type(L, idx) == LUA_TTABLE) {
    lua_getfield(L, idx, "enum");
    if (lua_isinteger(L, -1)) {
      lua_Integer e = lua_tointeger(L, -1);
      lua_pop(L, 1);
      if (e >= 0 && e < TL_DTYPE_COUNT) return (tl_dtype)e;
    } else {
      lua_pop(L, 1);
    }
  }
  snprintf(msg, sizeof msg, "dtype expected, got %s", luaL_typename(L, idx));
  tlb_arg_error(L, idx, msg);
  return TL_FLOAT32;
}

/* core.as_dtype(x): tf.as_dtype, a DType object from a DType or a name. */
int tlb_l_as_dtype(lua_State *L) {
  tlb_push_dtype(L, tlb_check_dtype(L, 1));
  return 1;
}

void tlb_make_dtypes(lua_State *L) {
  lua_createtable(L, TL_DTYPE_COUNT, 0);
  luaL_newmetatable(L, "tl.DType");
  lua_pushliteral(L, "__index");
  lua_pushvalue(L, -2);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  for (int i = 0; i < TL_DTYPE_COUNT; i++) {
    const tl_dtype_info *info = &tl_dtypes[i];
    lua_createtable(L, 0, 8);
    lua_pushstring(L, info->name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, i);
    lua_setfield(L, -2, "enum");
    lua_pushinteger(L, (lua_Integer)info->size);
    lua_setfield(L, -2, "size");
    lua_pushboolean(L, info->kind == TL_KIND_FLOAT);
    lua_setfield(L, -2, "is_floating");
    lua_pushboolean(L, info->kind == TL_KIND_INT || info->kind == TL_KIND_UINT);
    lua_setfield(L, -2, "is_integer");
    lua_pushboolean(L, info->kind == TL_KIND_BOOL);
    lua_setfield(L, -2, "is_bool");
    lua_pushboolean(L, info->kind == TL_KIND_COMPLEX);
    lua_setfield(L, -2, "is_complex");
    lua_pushboolean(L, info->kind == TL_KIND_UINT);
    lua_setfield(L, -2, "is_unsigned");
    luaL_setmetatable(L, "tl.DType");
    lua_rawseti(L, -2, i + 1);
  }
}

/* ---- userdata -------------------------------------------------------- */

/* The metatables' addresses, for type tests without registry lookups
 * (this is on every op call's path). */
const void *tlb_tensor_mt, *tlb_variable_mt;

static const void *udata_mt(lua_State *L, int idx, void **p) {
  *p = lua_touserdata(L, idx);
  if (!*p || lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return NULL;
  const void *mt = lua_topointer(L, -1);
  lua_pop(L, 1);
  return mt;
}

tl_tensor *tlb_test_tensor(lua_State *L, int idx) {
  void *p;
  return udata_mt(L, idx, &p) == tlb_tensor_mt ? *(tl_tensor **)p : NULL;
}

tl_variable *tlb_test_variable(lua_State *L, int idx) {
  void *p;
  return udata_mt(L, idx, &p) == tlb_variable_mt ? *(tl_variable **)p : NULL;
}

tl_tensor *tlb_check_tensor(lua_State *L, int idx) {
  tl_tensor *t = tlb_test_tensor(L, idx);
  if (t) return t;
  tl_variable *v = tlb_test_variable(L, idx);
  if (v) return v->value;
  char msg[120];
  if (luaL_testudata(L, idx, TENSOR_MT)) tlb_arg_error(L, idx, "tensor was closed");
  snprintf(msg, sizeof msg, "tf.Tensor expected, got %s", luaL_typename(L, idx));
  tlb_arg_error(L, idx, msg);
  return NULL;
}

/* __index of the two userdata: pushes methods[key] for the value at 1 and
 * the key at 2 (its metatable's "methods" table) and returns true, or
 * leaves the stack as it was and returns false. */
bool tlb_push_method(lua_State *L) {
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "methods");
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  if (!lua_isnil(L, -1)) return true;
  lua_pop(L, 3);
  return false;
}

/* Takes ownership of t. */
void tlb_push_tensor(lua_State *L, tl_tensor *t) {
  tl_tensor **p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = t;
  luaL_setmetatable(L, TENSOR_MT);
}

/* -- Lua values to tensors -- */

/* What one walk over a nested table learns: its shape (from the first
 * entry at each level; every other entry is checked against it) and the
 * kinds and extremes of its leaves, so the dtype's range can be checked
 * without a second walk. */
typedef struct conv {
  int rank;
  int64_t shape[TL_MAX_RANK];
  bool any_float, any_int, any_bool, any_string, non_integral, any_finite;
  lua_Integer imin, imax; /* over integer leaves */
  double fmin, fmax;      /* over finite float leaves */
  char err[256];
} conv;

static const char *where_at(const char *path) { return path[0] ? path : "the top level"; }

/* The shape is what the first entries say: {{1, 2}, ...} is [n, 2]. */
static bool find_shape(lua_State *L, int idx, conv *c) {
  lua_pushvalue(L, idx);
  while (lua_type(L, -1) == LUA_TTABLE) {
    if (c->rank >= TL_MAX_RANK) {
      lua_pop(L, 1);
      snprintf(c->err, sizeof c->err, "nesting deeper than %d levels", TL_MAX_RANK);
      return false;
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    c->shape[c->rank++] = n;
    if (n == 0) break;
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  return true;
}

/* Only the list entries 1..n become elements: a table with other keys
 * ({1, 2, x = 3}) is refused rather than silently losing them. */
static bool check_keys(lua_State *L, int idx, lua_Integer n, conv *c, const char *path) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_isinteger(L, -1)) {
      lua_Integer k = lua_tointeger(L, -1);
      if (k >= 1 && k <= n) continue;
    }
    if (lua_type(L, -1) == LUA_TSTRING)
      snprintf(c->err, sizeof c->err, "table key '%s' at %s: only list entries become tensor elements",
               lua_tostring(L, -1), where_at(path));
    else if (lua_type(L, -1) == LUA_TNUMBER)
      snprintf(c->err, sizeof c->err, "table key %s at %s: only list entries 1..%lld become tensor elements",
               lua_tostring(L, -1), where_at(path), (long long)n);
    else
      snprintf(c->err, sizeof c->err, "a %s key at %s: only list entries become tensor elements",
               luaL_typename(L, -1), where_at(path));
    lua_pop(L, 1);
    return false;
  }
  return true;
}

/* Checks every entry against the shape and records the leaves' kinds;
 * any mismatch is an error naming the position. */
static bool scan(lua_State *L, int idx, int depth, conv *c, char *path, size_t pathlen) {
  int t = lua_type(L, idx);
  if (depth < c->rank) {
    if (t != LUA_TTABLE) {
      snprintf(c->err, sizeof c->err, "ragged nesting at %s: a %s where a list of %lld was expected",
               where_at(path), tlb_test_tensor(L, idx) ? "tensor" : luaL_typename(L, idx),
               (long long)c->shape[depth]);
      return false;
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (n != c->shape[depth]) {
      snprintf(c->err, sizeof c->err, "ragged nesting at %s: expected %lld elements, got %lld", where_at(path),
               (long long)c->shape[depth], (long long)n);
      return false;
    }
    if (!check_keys(L, idx, n, c, path)) return false;
    size_t len = strlen(path);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, i);
      snprintf(path + len, pathlen - len, "[%lld]", (long long)i);
      bool ok = scan(L, lua_gettop(L), depth + 1, c, path, pathlen);
      path[len] = 0;
      lua_pop(L, 1);
      if (!ok) return false;
    }
    return true;
  }
  if (t == LUA_TNUMBER) {
    if (lua_isinteger(L, idx)) {
      lua_Integer v = lua_tointeger(L, idx);
      if (!c->any_int || v < c->imin) c->imin = v;
      if (!c->any_int || v > c->imax) c->imax = v;
      c->any_int = true;
    } else {
      double v = lua_tonumber(L, idx);
      if (v != floor(v) || isinf(v)) c->non_integral = true; /* NaN too */
      if (isfinite(v)) {
        if (!c->any_finite || v < c->fmin) c->fmin = v;
        if (!c->any_finite || v > c->fmax) c->fmax = v;
        c->any_finite = true;
      }
      c->any_float = true;
    }
    return true;
  }
  if (t == LUA_TBOOLEAN) {
    c->any_bool = true;
    return true;
  }
  if (t == LUA_TSTRING) {
    c->any_string = true;
    return true;
  }
  if (t == LUA_TTABLE)
    snprintf(c->err, sizeof c->err, "ragged nesting at %s: a list where a %s was expected", where_at(path),
             c->any_string ? "string" : "number");
  else if (tlb_test_tensor(L, idx) || tlb_test_variable(L, idx))
    snprintf(c->err, sizeof c->err, "a tensor inside a table at %s (use tf.stack)", where_at(path));
  else
    snprintf(c->err, sizeof c->err, "unsupported value of type %s at %s", luaL_typename(L, idx), where_at(path));
  return false;
}

/* A number outside an integer dtype's range is an error naming it, never
 * wrapped or clamped (TensorFlow 2.21 wraps integers, 300 -> 44 in uint8,
 * but refuses floats that do not fit; tlua refuses both, as DESIGN asks).
 * Float dtypes follow IEEE and TensorFlow: a finite value too large for
 * float16/bfloat16/float32 becomes inf, which is not a silent wrap. */
static bool check_range(const conv *c, tl_dtype d, char *msg, size_t size) {
  if (!tl_dtype_is_integer(d)) return true;
  const char *name = tl_dtypes[d].name;
  int bits = (int)tl_dtypes[d].size * 8;
  bool uns = tl_dtypes[d].kind == TL_KIND_UINT;
  lua_Integer lo = uns ? 0 : bits == 64 ? LUA_MININTEGER : -((lua_Integer)1 << (bits - 1));
  lua_Integer hi = bits == 64 ? LUA_MAXINTEGER : ((lua_Integer)1 << (bits - (uns ? 0 : 1))) - 1;
  if (c->any_int && (c->imin < lo || c->imax > hi)) {
    snprintf(msg, size, "value %lld is out of range for %s [%lld, %lld]", (long long)(c->imin < lo ? c->imin : c->imax),
             name, (long long)lo, (long long)hi);
    return false;
  }
  /* 2^63 is the first double past int64's range; smaller bounds are exact doubles. */
  double flo = (double)lo, fhi = bits == 64 ? 9223372036854775808.0 : (double)hi + 1;
  if (c->any_finite && (c->fmin < flo || c->fmax >= fhi)) {
    snprintf(msg, size, "value %.17g is out of range for %s [%lld, %lld]", c->fmin < flo ? c->fmin : c->fmax, name,
             (long long)lo, (long long)hi);
    return false;
  }
  return true;
}

/* Sums the byte lengths of a nested table's strings (shape checked). */
static size_t string_bytes(lua_State *L, int idx, int depth, const conv *c) {
  if (depth == c->rank) return lua_rawlen(L, idx);
  size_t n = 0;
  for (int64_t i = 1; i <= c->shape[depth]; i++) {
    lua_rawgeti(L, idx, i);
    n += string_bytes(L, lua_gettop(L), depth + 1, c);
    lua_pop(L, 1);
  }
  return n;
}

/* Strings go into one block of the tensor's arena, reserved up front. */
static void fill(lua_State *L, int idx, int depth, const conv *c, tl_tensor *t, int64_t *pos, char **sbytes) {
  if (depth < c->rank) {
    for (int64_t i = 1; i <= c->shape[depth]; i++) {
      lua_rawgeti(L, idx, i);
      fill(L, lua_gettop(L), depth + 1, c, t, pos, sbytes);
      lua_pop(L, 1);
    }
    return;
  }
  void *data = tl_tensor_data(t);
  if (t->dtype == TL_STRING) {
    size_t len;
    const char *p = lua_tolstring(L, idx, &len);
    tl_string *e = (tl_string *)data + (*pos)++;
    e->len = (int64_t)len;
    e->data = len ? *sbytes : NULL;
    if (len) memcpy(*sbytes, p, len);
    *sbytes += len;
    return;
  }
  if (lua_type(L, idx) == LUA_TBOOLEAN) tl_store_i64(data, t->dtype, (*pos)++, lua_toboolean(L, idx));
  else if (lua_isinteger(L, idx) && !tl_dtype_is_float(t->dtype)) tl_store_i64(data, t->dtype, (*pos)++, lua_tointeger(L, idx));
  else tl_store_f64(data, t->dtype, (*pos)++, lua_tonumber(L, idx));
}

/* Converts the Lua value at idx (number, boolean, nested table, tensor) to
 * a new tensor reference. want: dtype to produce, or TL_DTYPE_COUNT for
 * the default (float32 for floats, int32 for integers, int64 when an
 * integer does not fit, bool for booleans). On failure returns NULL with a
 * message in *err. */
tl_tensor *tlb_to_tensor(lua_State *L, int idx, tl_dtype want, const char **err) {
  static _Thread_local char msg[300];
  *err = NULL;
  tl_tensor *t = tlb_test_tensor(L, idx);
  tl_tensor *owned = NULL;
  if (!t) {
    tl_variable *v = tlb_test_variable(L, idx);
    if (v) {
      /* the read_variable op: a tape may record it */
      if (tl_variable_read(v, &owned)) {
        snprintf(msg, sizeof msg, "%s", tl_last_error());
        *err = msg;
        return NULL;
      }
      t = owned;
    }
  }
  if (t) {
    if (want == TL_DTYPE_COUNT || want == t->dtype) return owned ? owned : tl_tensor_retain(t);
    tl_tensor *out;
    tl_status s;
    if (tl_tensor_device(t) == TL_CPU) {
      s = tl_tensor_cast(t, want, &out);
    } else {
      /* Device memory is cast by the device's kernel; as on the CPU path,
       * the conversion makes a constant, so no tape records it. */
      tl_tape_pause();
      s = tl_call("cast", 1, &t, 1, (tl_named_attr[]){TL_A_DTYPE("dtype", want)}, &out);
      tl_tape_resume();
    }
    tl_tensor_release(owned);
    if (s) {
      snprintf(msg, sizeof msg, "%s", tl_last_error());
      *err = msg;
      return NULL;
    }
    return out;
  }
  int type = lua_type(L, idx);
  if (type != LUA_TNUMBER && type != LUA_TBOOLEAN && type != LUA_TTABLE && type != LUA_TSTRING) {
    snprintf(msg, sizeof msg, "expected a tensor, number, boolean, string or nested table, got %s",
             luaL_typename(L, idx));
    *err = msg;
    return NULL;
  }
  idx = lua_absindex(L, idx);
  if (type == LUA_TTABLE && lua_getmetatable(L, idx)) {
    /* A TensorShape (t.shape) converts as its list of dims. */
    lua_pop(L, 1);
    lua_pushliteral(L, "_dims");
    if (lua_rawget(L, idx) == LUA_TTABLE) {
      t = tlb_to_tensor(L, lua_gettop(L), want, err);
      lua_pop(L, 1);
      return t;
    }
    lua_pop(L, 1);
  }
  conv c;
  memset(&c, 0, sizeof c);
  char path[128] = "";
  if (!find_shape(L, idx, &c) || !scan(L, idx, 0, &c, path, sizeof path)) {
    snprintf(msg, sizeof msg, "%s", c.err);
    *err = msg;
    return NULL;
  }
  if (c.any_bool && (c.any_float || c.any_int)) {
    snprintf(msg, sizeof msg, "cannot mix booleans and numbers in one tensor");
    *err = msg;
    return NULL;
  }
  if (c.any_string && (c.any_bool || c.any_float || c.any_int)) {
    snprintf(msg, sizeof msg, "cannot mix strings and %s in one tensor", c.any_bool ? "booleans" : "numbers");
    *err = msg;
    return NULL;
  }
  bool big_int = c.any_int && (c.imax > INT32_MAX || c.imin < INT32_MIN);
  tl_dtype d = want;
  if (d == TL_DTYPE_COUNT)
    d = c.any_string ? TL_STRING : c.any_bool ? TL_BOOL : c.any_float ? TL_FLOAT32 : big_int ? TL_INT64
        : c.any_int ? TL_INT32 : TL_FLOAT32;
  if (c.any_string && d != TL_STRING) {
    snprintf(msg, sizeof msg, "cannot convert strings to %s (use tf.strings.to_number)", tl_dtypes[d].name);
    *err = msg;
    return NULL;
  }
  bool strings = d == TL_STRING && !c.any_bool && !c.any_float && !c.any_int;
  if ((tl_dtypes[d].kind == TL_KIND_STRING && !strings) || tl_dtypes[d].kind == TL_KIND_COMPLEX ||
      tl_dtypes[d].kind == TL_KIND_RESOURCE) {
    snprintf(msg, sizeof msg, "cannot make a %s tensor from numbers", tl_dtypes[d].name);
    *err = msg;
    return NULL;
  }
  if (c.any_bool && d != TL_BOOL) {
    snprintf(msg, sizeof msg, "cannot convert booleans to %s (use tf.cast)", tl_dtypes[d].name);
    *err = msg;
    return NULL;
  }
  if (c.any_float && c.non_integral && d != TL_BOOL && !tl_dtype_is_float(d)) {
    snprintf(msg, sizeof msg, "a non-integer number cannot become %s (use math.floor or tf.cast)", tl_dtypes[d].name);
    *err = msg;
    return NULL;
  }
  if (!check_range(&c, d, msg, sizeof msg)) {
    *err = msg;
    return NULL;
  }
  if (tl_tensor_new(d, c.rank, c.shape, &t)) {
    snprintf(msg, sizeof msg, "%s", tl_last_error());
    *err = msg;
    return NULL;
  }
  int64_t pos = 0;
  char *sbytes = NULL;
  if (d == TL_STRING) {
    size_t total = string_bytes(L, idx, 0, &c);
    if (total && !(sbytes = tl_string_alloc(t, total))) {
      tl_tensor_release(t);
      snprintf(msg, sizeof msg, "%s", tl_last_error());
      *err = msg;
      return NULL;
    }
  }
  fill(L, idx, 0, &c, t, &pos, &sbytes);
  return t;
}

/* -- tensors to Lua values -- */

void tlb_push_element(lua_State *L, const tl_tensor *t, int64_t off) {
  const char *base = (const char *)t->storage->data;
  switch (tl_dtypes[t->dtype].kind) {
  case TL_KIND_BOOL: lua_pushboolean(L, tl_load_i64(base, t->dtype, off) != 0); break;
  case TL_KIND_INT:
  case TL_KIND_UINT: lua_pushinteger(L, tl_load_i64(base, t->dtype, off)); break;
  case TL_KIND_STRING: {
    const tl_string *s = (const tl_string *)base + off;
    lua_pushlstring(L, s->data ? s->data : "", (size_t)s->len);
    break;
  }
  default: lua_pushnumber(L, tl_load_f64(base, t->dtype, off)); break;
  }
}

void tlb_push_nested(lua_State *L, const tl_tensor *t, int dim, int64_t off) {
  if (dim == t->rank) {
    tlb_push_element(L, t, off);
    return;
  }
  lua_createtable(L, (int)t->shape[dim], 0);
  for (int64_t i = 0; i < t->shape[dim]; i++) {
    tlb_push_nested(L, t, dim + 1, off + i * t->strides[dim]);
    lua_rawseti(L, -2, i + 1);
  }
}

int tlb_call_hook(lua_State *L, const char *name, int nargs, int nres) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &tlb_hooks_key);
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
  if (lua_isnil(L, -1)) {
    char buf[120];
    snprintf(buf, sizeof buf, "tlua: hook '%s' is not installed", name);
    return tlb_raise_kind(L, "Internal", buf);
  }
  lua_insert(L, -(nargs + 1));
  lua_call(L, nargs, nres);
  return nres;
}

