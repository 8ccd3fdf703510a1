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

/* Tensor bytes count towards Lua's collector as if Lua had allocated them:
 * every 256 KiB handed out by the core adds that much to the collector's
 * debt (LUA_GCSTEP), so collection work is paced by all allocation, tensor
 * bytes included. In generational mode this mostly runs cheap minor
 * collections, which free short-lived tensors without walking the old heap.
 * A full collection remains the backstop when tensor bytes still grow past
 * twice what was live after the last one. */
static int64_t gc_seen_total, gc_backstop = (int64_t)256 << 20;

void tlb_steer_collector(lua_State *L) {
  int64_t total = tl_memory_allocated_total(), delta = total - gc_seen_total;
  if (delta < (256 << 10)) return;
  gc_seen_total = total;
  lua_gc(L, LUA_GCSTEP, (int)(delta >> 10 > INT32_MAX ? INT32_MAX : delta >> 10));
  tl_memory_stats st = tl_memory_get_stats();
  if (st.live_bytes <= gc_backstop) return;
  lua_gc(L, LUA_GCCOLLECT);
  st = tl_memory_get_stats();
  int64_t next = st.live_bytes * 2;
  gc_backstop = next > ((int64_t)256 << 20) ? next : ((int64_t)256 << 20);
}

/* ---- errors ------------------------------------------------------------ */

/* The position of the user's code: the first Lua frame that is neither C
 * nor tlua's own stdlib, so errors point at the line the user wrote. */
static void push_where(lua_State *L) {
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Sl", &ar)) break;
    if (ar.currentline <= 0) continue;
    if (strstr(ar.source, "/stdlib/tlua/") || strstr(ar.source, "/tlua/stdlib/") ||
        strncmp(ar.source, "=[tlua]", 7) == 0)
      continue;
    lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
    return;
  }
  lua_pushliteral(L, "?");
}

int tlb_raise_kind(lua_State *L, const char *kind, const char *msg) {
  lua_createtable(L, 0, 3);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, msg);
  lua_setfield(L, -2, "message");
  push_where(L);
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
  if (lua_type(L, idx) == LUA_TSTRING) {
    tl_dtype d = tl_dtype_from_name(lua_tostring(L, idx));
    if (d == TL_DTYPE_COUNT) tlb_arg_error(L, idx, lua_pushfstring(L, "unknown dtype '%s'", lua_tostring(L, idx)));
    return d;
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
  tlb_type_error(L, idx, "dtype");
  return TL_FLOAT32;
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
  if (luaL_testudata(L, idx, TENSOR_MT)) tlb_arg_error(L, idx, "tensor was closed");
  tlb_type_error(L, idx, "tf.Tensor");
  return NULL;
}

/* Takes ownership of t. */
void tlb_push_tensor(lua_State *L, tl_tensor *t) {
  tl_tensor **p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = t;
  luaL_setmetatable(L, TENSOR_MT);
}

/* -- Lua values to tensors -- */

typedef struct conv {
  int rank;
  int64_t shape[TL_MAX_RANK];
  bool any_float, any_int, any_bool, big_int;
  char err[256];
} conv;

/* Walks a nested table once to find its shape and the kinds of its leaves;
 * a ragged nesting is an error naming the position. */
static bool scan(lua_State *L, int idx, int depth, conv *c, char *path, size_t pathlen) {
  int t = lua_type(L, idx);
  if (t == LUA_TTABLE && !tlb_test_tensor(L, idx)) {
    if (depth >= TL_MAX_RANK) {
      snprintf(c->err, sizeof c->err, "nesting deeper than %d levels at %s", TL_MAX_RANK, path);
      return false;
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (depth == c->rank) {
      c->shape[c->rank++] = n;
    } else if (c->shape[depth] != n) {
      snprintf(c->err, sizeof c->err, "ragged nesting at %s: expected %lld elements, got %lld",
               path[0] ? path : "the top level", (long long)c->shape[depth], (long long)n);
      return false;
    }
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, i);
      size_t len = strlen(path);
      snprintf(path + len, pathlen - len, "[%lld]", (long long)i);
      bool ok = scan(L, lua_gettop(L), depth + 1, c, path, pathlen);
      path[len] = 0;
      lua_pop(L, 1);
      if (!ok) return false;
    }
    if (n == 0 && depth + 1 < c->rank) {
      snprintf(c->err, sizeof c->err, "ragged nesting at %s: empty list beside non-empty ones", path);
      return false;
    }
    return true;
  }
  if (depth != c->rank) {
    snprintf(c->err, sizeof c->err, "ragged nesting at %s: a scalar where a list was expected", path);
    return false;
  }
  if (t == LUA_TNUMBER) {
    if (lua_isinteger(L, idx)) {
      lua_Integer v = lua_tointeger(L, idx);
      c->any_int = true;
      if (v > INT32_MAX || v < INT32_MIN) c->big_int = true;
    } else {
      c->any_float = true;
    }
    return true;
  }
  if (t == LUA_TBOOLEAN) {
    c->any_bool = true;
    return true;
  }
  snprintf(c->err, sizeof c->err, "unsupported value of type %s at %s", luaL_typename(L, idx),
           path[0] ? path : "the top level");
  return false;
}

static void fill(lua_State *L, int idx, int depth, const conv *c, tl_tensor *t, int64_t *pos) {
  if (depth < c->rank) {
    for (int64_t i = 1; i <= c->shape[depth]; i++) {
      lua_rawgeti(L, idx, i);
      fill(L, lua_gettop(L), depth + 1, c, t, pos);
      lua_pop(L, 1);
    }
    return;
  }
  void *data = tl_tensor_data(t);
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
    if (v) t = owned = tl_variable_read(v); /* a tape may record this read */
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
  if (type != LUA_TNUMBER && type != LUA_TBOOLEAN && type != LUA_TTABLE) {
    snprintf(msg, sizeof msg, "expected a tensor, number, boolean or nested table, got %s", luaL_typename(L, idx));
    *err = msg;
    return NULL;
  }
  conv c;
  memset(&c, 0, sizeof c);
  char path[128] = "";
  idx = lua_absindex(L, idx);
  if (!scan(L, idx, 0, &c, path, sizeof path)) {
    snprintf(msg, sizeof msg, "%s", c.err);
    *err = msg;
    return NULL;
  }
  if (c.any_bool && (c.any_float || c.any_int)) {
    snprintf(msg, sizeof msg, "cannot mix booleans and numbers in one tensor");
    *err = msg;
    return NULL;
  }
  tl_dtype d = want;
  if (d == TL_DTYPE_COUNT)
    d = c.any_bool ? TL_BOOL : c.any_float ? TL_FLOAT32 : c.big_int ? TL_INT64 : c.any_int ? TL_INT32 : TL_FLOAT32;
  if (tl_dtypes[d].kind == TL_KIND_STRING || tl_dtypes[d].kind == TL_KIND_COMPLEX) {
    snprintf(msg, sizeof msg, "cannot make a %s tensor from numbers", tl_dtypes[d].name);
    *err = msg;
    return NULL;
  }
  if (c.any_bool && d != TL_BOOL) {
    snprintf(msg, sizeof msg, "cannot convert booleans to %s (use tf.cast)", tl_dtypes[d].name);
    *err = msg;
    return NULL;
  }
  if (c.any_float && d != TL_BOOL && !tl_dtype_is_float(d)) {
    snprintf(msg, sizeof msg, "a non-integer number cannot become %s (use math.floor or tf.cast)", tl_dtypes[d].name);
    /* Integral floats (2.0) are fine: check them all. */
    tl_tensor *probe;
    if (tl_tensor_new(TL_FLOAT64, c.rank, c.shape, &probe)) {
      snprintf(msg, sizeof msg, "%s", tl_last_error());
      *err = msg;
      return NULL;
    }
    int64_t pos = 0;
    fill(L, idx, 0, &c, probe, &pos);
    const double *p = tl_tensor_data(probe);
    for (int64_t i = 0; i < probe->size; i++)
      if (p[i] != floor(p[i]) || isinf(p[i])) {
        tl_tensor_release(probe);
        *err = msg;
        return NULL;
      }
    tl_tensor_release(probe);
  }
  if (tl_tensor_new(d, c.rank, c.shape, &t)) {
    snprintf(msg, sizeof msg, "%s", tl_last_error());
    *err = msg;
    return NULL;
  }
  int64_t pos = 0;
  fill(L, idx, 0, &c, t, &pos);
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

