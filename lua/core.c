/* core.c — the Lua binding of the C core: module `tlua.core`.
 *
 * A thin layer in the style of liolib.c: tl.Tensor and tl.Variable
 * userdata with check/test/push helpers, one generic dispatcher that turns a
 * Lua call into tl_op_run by reading the op's declaration (so a new op needs
 * no binding code), conversion between Lua values and tensors, and error
 * values of tf.errors kinds. It also tells the collector about tensor bytes:
 * Lua sees an 8-byte userdata per tensor, so the binding runs a collection
 * whenever the bytes held by tensors double since the last one.
 *
 * Anything that can be written in Lua (namespaces, slicing syntax, shape
 * objects, printing policy) lives in stdlib/tlua/ and reaches back here
 * through the hooks table.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/tl.h"
#include "binding.h"

#define TENSOR_MT "tl.Tensor"
#define VARIABLE_MT "tl.Variable"
#define ERROR_MT "tl.Error"

/* Registry keys (addresses are unique). */
static char HOOKS_KEY, DTYPES_KEY, VARIABLES_KEY;

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

static int error_tostring(lua_State *L) {
  lua_getfield(L, 1, "kind");
  lua_getfield(L, 1, "where");
  lua_getfield(L, 1, "message");
  lua_pushfstring(L, "%sError: %s: %s", lua_tostring(L, -3), lua_tostring(L, -2),
                  lua_tostring(L, -1));
  return 1;
}

/* core.raise(kind, message): lets stdlib raise the same error values. */
static int l_raise(lua_State *L) {
  const char *kind = luaL_checkstring(L, 1);
  const char *msg = luaL_checkstring(L, 2);
  return tlb_raise_kind(L, kind, msg);
}

/* ---- dtypes ------------------------------------------------------------ */

void tlb_push_dtype(lua_State *L, tl_dtype d) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &DTYPES_KEY);
  lua_rawgeti(L, -1, (lua_Integer)d + 1);
  lua_remove(L, -2);
}

/* Accepts a DType object (table with .enum) or a name string. */
tl_dtype tlb_check_dtype(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TSTRING) {
    tl_dtype d = tl_dtype_from_name(lua_tostring(L, idx));
    if (d == TL_DTYPE_COUNT) luaL_argerror(L, idx, lua_pushfstring(L, "unknown dtype '%s'", lua_tostring(L, idx)));
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
  luaL_typeerror(L, idx, "dtype");
  return TL_FLOAT32;
}

static void make_dtypes(lua_State *L) {
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

/* ---- tensors ----------------------------------------------------------- */

/* The metatables' addresses, for type tests without registry lookups
 * (this is on every op call's path). */
static const void *tensor_mt, *variable_mt;

static const void *udata_mt(lua_State *L, int idx, void **p) {
  *p = lua_touserdata(L, idx);
  if (!*p || lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return NULL;
  const void *mt = lua_topointer(L, -1);
  lua_pop(L, 1);
  return mt;
}

tl_tensor *tlb_test_tensor(lua_State *L, int idx) {
  void *p;
  return udata_mt(L, idx, &p) == tensor_mt ? *(tl_tensor **)p : NULL;
}

tl_variable *tlb_test_variable(lua_State *L, int idx) {
  void *p;
  return udata_mt(L, idx, &p) == variable_mt ? *(tl_variable **)p : NULL;
}

tl_tensor *tlb_check_tensor(lua_State *L, int idx) {
  tl_tensor *t = tlb_test_tensor(L, idx);
  if (t) return t;
  tl_variable *v = tlb_test_variable(L, idx);
  if (v) return v->value;
  if (luaL_testudata(L, idx, TENSOR_MT)) luaL_argerror(L, idx, "tensor was closed");
  luaL_typeerror(L, idx, "tf.Tensor");
  return NULL;
}

/* Takes ownership of t. */
void tlb_push_tensor(lua_State *L, tl_tensor *t) {
  tl_tensor **p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = t;
  luaL_setmetatable(L, TENSOR_MT);
}

static int tensor_gc(lua_State *L) {
  tl_tensor **p = luaL_checkudata(L, 1, TENSOR_MT);
  tl_tensor_release(*p);
  *p = NULL;
  return 0;
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
    tl_status s = tl_tensor_cast(t, want, &out);
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

/* core.constant(value, dtype?) */
static int l_constant(lua_State *L) {
  tl_dtype d = lua_isnoneornil(L, 2) ? TL_DTYPE_COUNT : tlb_check_dtype(L, 2);
  const char *err;
  tl_tensor *t = tlb_to_tensor(L, 1, d, &err);
  if (!t) {
    char buf[400];
    snprintf(buf, sizeof buf, "constant: %s", err);
    return tlb_raise_kind(L, "InvalidArgument", buf);
  }
  tlb_push_tensor(L, t);
  tlb_steer_collector(L);
  return 1;
}

/* -- tensors to Lua values -- */

static void push_element(lua_State *L, const tl_tensor *t, int64_t off) {
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

static void push_nested(lua_State *L, const tl_tensor *t, int dim, int64_t off) {
  if (dim == t->rank) {
    push_element(L, t, off);
    return;
  }
  lua_createtable(L, (int)t->shape[dim], 0);
  for (int64_t i = 0; i < t->shape[dim]; i++) {
    push_nested(L, t, dim + 1, off + i * t->strides[dim]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int t_totable(lua_State *L) {
  tl_tensor *t = tlb_check_tensor(L, 1);
  push_nested(L, t, 0, t->offset);
  return 1;
}

static int t_item(lua_State *L) {
  tl_tensor *t = tlb_check_tensor(L, 1);
  if (t->size != 1) {
    char d[160], buf[300];
    snprintf(buf, sizeof buf, "item: %s: only a one-element tensor can become a Lua value (it has %lld)",
             tl_tensor_describe(t, d, sizeof d), (long long)t->size);
    return tlb_raise_kind(L, "InvalidArgument", buf);
  }
  int64_t off = t->offset;
  for (int i = 0; i < t->rank; i++) (void)i; /* all dims are 1: offset is the element */
  push_element(L, t, off);
  return 1;
}

static int call_hook(lua_State *L, const char *name, int nargs, int nres) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &HOOKS_KEY);
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
  if (lua_isnil(L, -1)) return luaL_error(L, "tlua: hook '%s' is not installed", name);
  lua_insert(L, -(nargs + 1));
  lua_call(L, nargs, nres);
  return nres;
}

static void push_shape_table(lua_State *L, const tl_tensor *t) {
  lua_createtable(L, t->rank, 0);
  for (int i = 0; i < t->rank; i++) {
    lua_pushinteger(L, t->shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int t_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    tl_tensor *t = tlb_check_tensor(L, 1);
    if (strcmp(k, "shape") == 0) {
      push_shape_table(L, t);
      return call_hook(L, "shape", 1, 1);
    }
    if (strcmp(k, "dtype") == 0) {
      tlb_push_dtype(L, t->dtype);
      return 1;
    }
    if (strcmp(k, "ndim") == 0) {
      lua_pushinteger(L, t->rank);
      return 1;
    }
    if (strcmp(k, "device") == 0) {
      lua_pushstring(L, t->storage->device == TL_CPU ? "cpu" : "cuda");
      return 1;
    }
    /* methods: the metatable's method table, then every op by name */
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 3);
  }
  /* integers, slices and everything else go to the stdlib indexer */
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  return call_hook(L, "index", 2, 1);
}

static int t_newindex(lua_State *L) {
  return tlb_raise_kind(L, "InvalidArgument",
                        "a tf.Tensor is immutable: its elements cannot be assigned; "
                        "use a tf.Variable and :assign (or v[...] = x on the variable)");
}

static int t_tostring(lua_State *L) {
  tl_tensor *t = tlb_check_tensor(L, 1);
  char *s;
  tl_status st = tl_tensor_format(t, NULL, &s);
  if (st) return tlb_raise(L, st);
  lua_pushstring(L, s);
  free(s);
  return 1;
}

static int t_len(lua_State *L) {
  tl_tensor *t = tlb_check_tensor(L, 1);
  if (t->rank == 0) return tlb_raise_kind(L, "InvalidArgument", "len: a scalar tensor has no length");
  lua_pushinteger(L, t->shape[0]);
  return 1;
}

static int t_close(lua_State *L) { return tensor_gc(L); }

static int t_compare_error(lua_State *L) {
  return tlb_raise_kind(L, "InvalidArgument",
                        "tensors cannot be compared with < or <= (Lua needs a boolean): "
                        "use tf.less(a, b) / a:lt(b), tf.less_equal / a:le(b)");
}

static int t_eq(lua_State *L) {
  /* Lua's == must be a boolean; identity, as for Python objects' `is`. */
  lua_pushboolean(L, lua_rawequal(L, 1, 2));
  return 1;
}

/* ---- the generic op dispatcher ----------------------------------------- */

/* Per-call scratch, on the C stack: list attributes take their entries
 * from one small pool. */
#define POOL 256
typedef struct call_state {
  tl_tensor **in; /* in_inline, or a Lua-owned buffer for long lists */
  int n_in, cap_in;
  tl_tensor *in_inline[64];
  tl_attr attr[TL_MAX_ATTRS];
  int pool_used;
  int64_t ints[POOL];
  double floats[POOL];
} call_state;

/* Makes room for one more input; a long list (concat of hundreds of
 * tensors) moves to a userdata anchored in the registry under the call's
 * address (so the stack stays as the argument code expects, and an error
 * that unwinds the call leaves only that one anchor, reused later). */
static bool reserve_input(lua_State *L, call_state *cs) {
  if (cs->n_in < cs->cap_in) return true;
  if (cs->cap_in >= (1 << 20)) return false;
  int cap = cs->cap_in * 2;
  tl_tensor **bigger = lua_newuserdatauv(L, sizeof *bigger * (size_t)cap, 0);
  memcpy(bigger, cs->in, sizeof *bigger * (size_t)cs->n_in);
  lua_rawsetp(L, LUA_REGISTRYINDEX, cs);
  cs->in = bigger;
  cs->cap_in = cap;
  return true;
}

static void release_inputs(call_state *cs) {
  for (int i = 0; i < cs->n_in; i++) tl_tensor_release(cs->in[i]);
  cs->n_in = 0;
}

static int arg_error(lua_State *L, call_state *cs, const tl_op_def *op, const char *fmt, const char *what,
                     const char *detail) {
  char buf[600];
  snprintf(buf, sizeof buf, fmt, op->name, what, detail ? detail : "");
  release_inputs(cs);
  return tlb_raise_kind(L, "InvalidArgument", buf);
}

static bool is_options_table(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TTABLE || lua_getmetatable(L, idx)) {
    if (lua_type(L, idx) == LUA_TTABLE) lua_pop(L, 1);
    return false;
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    bool str = lua_type(L, -2) == LUA_TSTRING;
    lua_pop(L, 1);
    if (str) {
      lua_pop(L, 1);
      return true;
    }
  }
  return false;
}

static int set_attr(lua_State *L, call_state *cs, const tl_op_def *op, int ai, int idx) {
  const tl_attr_def *d = &op->attr[ai];
  tl_attr *a = &cs->attr[ai];
  if (lua_isnil(L, idx)) {
    if (!d->has_default) a->present = false;
    return 0;
  }
  a->present = true;
  char detail[200];
  switch (d->type) {
  case TL_ATTR_INT: {
    int isnum;
    lua_Integer v = lua_tointegerx(L, idx, &isnum);
    if (!isnum) {
      tl_tensor *t = tlb_test_tensor(L, idx);
      if (t && t->size == 1 && tl_dtype_is_integer(t->dtype)) v = tl_load_i64(t->storage->data, t->dtype, t->offset);
      else return arg_error(L, cs, op, "%s: argument '%s' must be an integer%s", d->name, NULL);
    }
    a->i = v;
    break;
  }
  case TL_ATTR_FLOAT: {
    int isnum;
    lua_Number v = lua_tonumberx(L, idx, &isnum);
    if (!isnum) {
      tl_tensor *t = tlb_test_tensor(L, idx);
      if (t && t->size == 1) v = tl_load_f64(t->storage->data, t->dtype, t->offset);
      else return arg_error(L, cs, op, "%s: argument '%s' must be a number%s", d->name, NULL);
    }
    a->f = v;
    break;
  }
  case TL_ATTR_BOOL:
    if (!lua_isboolean(L, idx)) return arg_error(L, cs, op, "%s: argument '%s' must be a boolean%s", d->name, NULL);
    a->b = lua_toboolean(L, idx);
    break;
  case TL_ATTR_DTYPE: {
    tl_dtype dt = TL_DTYPE_COUNT;
    if (lua_type(L, idx) == LUA_TSTRING) dt = tl_dtype_from_name(lua_tostring(L, idx));
    else if (lua_type(L, idx) == LUA_TTABLE) {
      lua_getfield(L, idx, "enum");
      if (lua_isinteger(L, -1)) dt = (tl_dtype)lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
    if (dt < 0 || dt >= TL_DTYPE_COUNT) return arg_error(L, cs, op, "%s: argument '%s' must be a dtype%s", d->name, NULL);
    a->dtype = dt;
    break;
  }
  case TL_ATTR_STRING:
    if (lua_type(L, idx) != LUA_TSTRING) return arg_error(L, cs, op, "%s: argument '%s' must be a string%s", d->name, NULL);
    a->s = lua_tostring(L, idx); /* stays on the Lua stack during the call */
    break;
  case TL_ATTR_INTS:
  case TL_ATTR_FLOATS: {
    bool ints = d->type == TL_ATTR_INTS;
    if (lua_type(L, idx) == LUA_TTABLE && lua_getmetatable(L, idx)) {
      lua_pop(L, 1); /* a TensorShape: read its dims */
      lua_getfield(L, idx, "_dims");
      if (lua_type(L, -1) == LUA_TTABLE) idx = lua_gettop(L);
      else lua_pop(L, 1);
    }
    int room = POOL - cs->pool_used;
    a->ints = cs->ints + cs->pool_used;
    a->floats = cs->floats + cs->pool_used;
    tl_tensor *t = tlb_test_tensor(L, idx);
    if (!t) {
      tl_variable *v = tlb_test_variable(L, idx);
      if (v) t = v->value;
    }
    if (lua_type(L, idx) == LUA_TNUMBER) {
      if (ints && !lua_isinteger(L, idx)) return arg_error(L, cs, op, "%s: argument '%s' must be an integer or a list of integers%s", d->name, NULL);
      a->n = 1;
      a->ints[0] = lua_tointeger(L, idx);
      a->floats[0] = lua_tonumber(L, idx);
    } else if (t) {
      if (t->rank > 1 || t->size > 64 || t->size > room || (ints && !tl_dtype_is_integer(t->dtype)))
        return arg_error(L, cs, op, "%s: argument '%s' must be an integer vector%s", d->name, NULL);
      a->n = (int)t->size;
      for (int i = 0; i < a->n; i++) {
        int64_t off = t->offset + (t->rank ? i * t->strides[0] : 0);
        a->ints[i] = tl_load_i64(t->storage->data, t->dtype, off);
        a->floats[i] = tl_load_f64(t->storage->data, t->dtype, off);
      }
    } else if (lua_type(L, idx) == LUA_TTABLE) {
      lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
      if (n > 64 || n > room) return arg_error(L, cs, op, "%s: argument '%s' has more than 64 entries%s", d->name, NULL);
      a->n = (int)n;
      for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        int isnum = lua_type(L, -1) == LUA_TNUMBER;
        if (!isnum || (ints && !lua_isinteger(L, -1))) {
          lua_pop(L, 1);
          snprintf(detail, sizeof detail, " (entry %lld is not %s)", (long long)i, ints ? "an integer" : "a number");
          return arg_error(L, cs, op, "%s: argument '%s' must be a list of numbers%s", d->name, detail);
        }
        a->ints[i - 1] = lua_tointeger(L, -1);
        a->floats[i - 1] = lua_tonumber(L, -1);
        lua_pop(L, 1);
      }
    } else {
      return arg_error(L, cs, op, "%s: argument '%s' must be a list%s", d->name, NULL);
    }
    cs->pool_used += a->n;
    break;
  }
  default: break;
  }
  return 0;
}

/* Converts one input value. follow: dtype Lua numbers take (op flag
 * TL_OP_SCALARS_FOLLOW), or TL_DTYPE_COUNT. */
static int add_input(lua_State *L, call_state *cs, const tl_op_def *op, const char *name, int idx,
                     tl_dtype follow, bool optional) {
  if (!reserve_input(L, cs)) return arg_error(L, cs, op, "%s: too many inputs%s%s", "", NULL);
  if (lua_isnoneornil(L, idx)) {
    if (!optional) return arg_error(L, cs, op, "%s: input '%s' is missing (got nil)%s", name, NULL);
    cs->in[cs->n_in++] = NULL;
    return 0;
  }
  const char *err;
  bool is_lua = !tlb_test_tensor(L, idx) && !tlb_test_variable(L, idx);
  tl_tensor *t = tlb_to_tensor(L, idx, is_lua ? follow : TL_DTYPE_COUNT, &err);
  if (!t) {
    char detail[400];
    snprintf(detail, sizeof detail, ": %s", err);
    return arg_error(L, cs, op, "%s: input '%s'%s", name, detail);
  }
  cs->in[cs->n_in++] = t;
  return 0;
}

static tl_dtype follow_dtype(lua_State *L, const tl_op_def *op, int nargs) {
  if (!(op->flags & TL_OP_SCALARS_FOLLOW)) return TL_DTYPE_COUNT;
  for (int i = 1; i <= nargs && i <= op->n_inputs; i++) {
    tl_tensor *t = tlb_test_tensor(L, i);
    if (!t) {
      tl_variable *v = tlb_test_variable(L, i);
      if (v) t = v->value;
    }
    if (t) return t->dtype;
    if (op->input[i - 1].list && lua_type(L, i) == LUA_TTABLE) {
      lua_Integer n = (lua_Integer)lua_rawlen(L, i);
      for (lua_Integer k = 1; k <= n; k++) {
        lua_rawgeti(L, i, k);
        t = tlb_test_tensor(L, -1);
        if (!t && tlb_test_variable(L, -1)) t = tlb_test_variable(L, -1)->value;
        lua_pop(L, 1);
        if (t) return t->dtype;
      }
    }
  }
  return TL_DTYPE_COUNT;
}

static int op_call(lua_State *L) {
  const tl_op_def *op = lua_touserdata(L, lua_upvalueindex(1));
  /* Pay the collector for earlier allocations before this op allocates:
   * results the caller has dropped since then are freed now, and this
   * op's output reuses their buffers (hot in cache, no page faults). */
  tlb_steer_collector(L);
  int nargs = lua_gettop(L);
  int opts = 0;
  if (nargs > 0 && is_options_table(L, nargs)) opts = nargs--;
  call_state state, *cs = &state;
  cs->n_in = 0;
  cs->in = cs->in_inline;
  cs->cap_in = 64;
  cs->pool_used = 0;
  tl_attrs_defaults(op, cs->attr);
  tl_dtype follow = follow_dtype(L, op, nargs);
  /* Inputs: positional first, then by name from the options table. */
  int pos = 1;
  for (int i = 0; i < op->n_inputs; i++) {
    const tl_input_def *in = &op->input[i];
    int idx = 0;
    if (pos <= nargs) idx = pos++;
    else if (opts) {
      lua_getfield(L, opts, in->name);
      if (!lua_isnil(L, -1)) idx = lua_gettop(L);
      else lua_pop(L, 1);
    }
    if (in->list) {
      if (!idx || lua_type(L, idx) != LUA_TTABLE || tlb_test_tensor(L, idx)) {
        /* a single tensor is accepted as a list of its slices along axis 0 */
        if (idx && (tlb_test_tensor(L, idx) || tlb_test_variable(L, idx))) {
          tl_tensor *t = tlb_check_tensor(L, idx);
          if (t->rank == 0) return arg_error(L, cs, op, "%s: input '%s' must be a list of tensors%s", in->name, NULL);
          for (int64_t k = 0; k < t->shape[0]; k++) {
            tl_tensor *v;
            if (!reserve_input(L, cs)) return arg_error(L, cs, op, "%s: too many inputs%s%s", "", NULL);
            int64_t strides[TL_MAX_RANK];
            memcpy(strides, t->strides + 1, sizeof(int64_t) * (size_t)(t->rank - 1));
            if (tl_tensor_view(t->storage, t->dtype, t->rank - 1, t->shape + 1, strides,
                               t->offset + k * t->strides[0], &v)) {
              release_inputs(cs);
              return tlb_raise(L, tl_last_status());
            }
            cs->in[cs->n_in++] = v;
          }
          continue;
        }
        return arg_error(L, cs, op, "%s: input '%s' must be a list of tensors%s", in->name, NULL);
      }
      lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
      for (lua_Integer k = 1; k <= n; k++) {
        lua_rawgeti(L, idx, k);
        if (add_input(L, cs, op, in->name, lua_gettop(L), follow, false)) return 0;
        lua_pop(L, 1);
      }
      continue;
    }
    if (add_input(L, cs, op, in->name, idx ? idx : nargs + 1000, follow, in->optional)) return 0;
  }
  /* Attributes: remaining positional, in declaration order, then named. */
  for (int ai = 0; ai < op->n_attrs; ai++) {
    int idx = 0;
    if (pos <= nargs) idx = pos++;
    if (opts) {
      lua_getfield(L, opts, op->attr[ai].name);
      if (!lua_isnil(L, -1)) idx = lua_gettop(L);
      else lua_pop(L, 1);
    }
    if (idx) set_attr(L, cs, op, ai, idx);
    if (!cs->attr[ai].present && !op->attr[ai].optional)
      return arg_error(L, cs, op, "%s: argument '%s' is required%s", op->attr[ai].name, NULL);
  }
  if (pos <= nargs) {
    char detail[100];
    snprintf(detail, sizeof detail, "%d", nargs);
    return arg_error(L, cs, op, "%s: too many arguments (%s given)%s", detail, NULL);
  }
  if (opts) {
    /* Unknown option names are errors, not silently ignored. */
    lua_pushnil(L);
    while (lua_next(L, opts)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING) continue;
      const char *k = lua_tostring(L, -1);
      bool known = strcmp(k, "name") == 0 || tl_attr_index(op, k) >= 0;
      for (int i = 0; i < op->n_inputs && !known; i++) known = strcmp(op->input[i].name, k) == 0;
      if (!known) {
        char detail[200];
        snprintf(detail, sizeof detail, "%s", k);
        lua_pop(L, 1);
        return arg_error(L, cs, op, "%s: unknown option '%s'%s", detail, NULL);
      }
    }
  }
  tl_tensor_list out;
  tl_list_init(&out);
  tl_status s = tl_op_run(op, cs->in, cs->n_in, cs->attr, &out);
  release_inputs(cs);
  if (cs->in != cs->in_inline) {
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, cs);
  }
  if (s) return tlb_raise(L, s);
  int nres;
  if (op->flags & TL_OP_LIST_OUTPUT) {
    lua_createtable(L, out.n, 0);
    for (int i = 0; i < out.n; i++) {
      tlb_push_tensor(L, out.items[i]);
      lua_rawseti(L, -2, i + 1);
    }
    nres = 1;
  } else if (op->flags & TL_OP_HIDDEN_OUTPUTS) {
    tlb_push_tensor(L, out.items[0]);
    for (int i = 1; i < out.n; i++) tl_tensor_release(out.items[i]);
    nres = 1;
  } else {
    luaL_checkstack(L, out.n, "too many results");
    for (int i = 0; i < out.n; i++) tlb_push_tensor(L, out.items[i]);
    nres = out.n;
  }
  if (out.items != out.inline_items) free(out.items);
  return nres;
}

/* core.ops: name -> function; core.op_info(name) -> declaration table */
static void push_ops(lua_State *L) {
  lua_createtable(L, 0, tl_op_count());
  for (int i = 0; i < tl_op_count(); i++) {
    const tl_op_def *op = tl_op_at(i);
    lua_pushlightuserdata(L, (void *)op);
    lua_pushcclosure(L, op_call, 1);
    lua_setfield(L, -2, op->name);
  }
}

static int l_op_info(lua_State *L) {
  const tl_op_def *op = tl_op_find(luaL_checkstring(L, 1));
  if (!op) return 0;
  lua_createtable(L, 0, 6);
  lua_pushstring(L, op->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, op->inputs ? op->inputs : "");
  lua_setfield(L, -2, "inputs");
  lua_pushstring(L, op->attrs ? op->attrs : "");
  lua_setfield(L, -2, "attrs");
  lua_pushstring(L, op->api ? op->api : "");
  lua_setfield(L, -2, "api");
  lua_pushstring(L, op->doc ? op->doc : "");
  lua_setfield(L, -2, "doc");
  lua_pushboolean(L, op->grad != NULL);
  lua_setfield(L, -2, "has_gradient");
  return 1;
}

static int l_op_names(lua_State *L) {
  lua_createtable(L, tl_op_count(), 0);
  for (int i = 0; i < tl_op_count(); i++) {
    lua_pushstring(L, tl_op_at(i)->name);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* ---- variables --------------------------------------------------------- */

static tl_variable *check_variable(lua_State *L, int idx) {
  tl_variable **p = luaL_checkudata(L, idx, VARIABLE_MT);
  if (!*p) luaL_argerror(L, idx, "variable was closed");
  return *p;
}

/* core.Variable(initial, trainable, name, dtype) */
static int l_variable(lua_State *L) {
  tl_dtype d = lua_isnoneornil(L, 4) ? TL_DTYPE_COUNT : tlb_check_dtype(L, 4);
  const char *err;
  tl_tensor *t = tlb_to_tensor(L, 1, d, &err);
  if (!t) {
    char buf[400];
    snprintf(buf, sizeof buf, "Variable: initial value: %s", err);
    return tlb_raise_kind(L, "InvalidArgument", buf);
  }
  bool trainable = lua_isnoneornil(L, 2) ? true : lua_toboolean(L, 2);
  tl_variable *v;
  tl_status s = tl_variable_new(t, trainable, luaL_optstring(L, 3, "Variable"), &v);
  tl_tensor_release(t);
  if (s) return tlb_raise(L, s);
  tl_variable **p = lua_newuserdatauv(L, sizeof *p, 1);
  *p = v;
  luaL_setmetatable(L, VARIABLE_MT);
  /* remember the userdata so C can hand the same object back (weak) */
  lua_rawgetp(L, LUA_REGISTRYINDEX, &VARIABLES_KEY);
  lua_pushvalue(L, -2);
  lua_rawsetp(L, -2, v);
  lua_pop(L, 1);
  tlb_steer_collector(L);
  return 1;
}

void tlb_push_variable(lua_State *L, tl_variable *v) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &VARIABLES_KEY);
  lua_rawgetp(L, -1, v);
  lua_remove(L, -2);
}

static int v_gc(lua_State *L) {
  tl_variable **p = luaL_checkudata(L, 1, VARIABLE_MT);
  tl_variable_release(*p);
  *p = NULL;
  return 0;
}

/* v:value() / v:read_value(): a tensor that later assigns do not change. */
static int v_value(lua_State *L) {
  tl_variable *v = check_variable(L, 1);
  tlb_push_tensor(L, tl_variable_read(v)); /* a tape may record this read */
  return 1;
}

/* v:_assign_raw(t): the value must already have the right dtype/shape;
 * stdlib's assign converts Lua values and numbers first. */
static int v_assign_raw(lua_State *L) {
  tl_variable *v = check_variable(L, 1);
  const char *err;
  tl_tensor *t = tlb_to_tensor(L, 2, lua_type(L, 2) == LUA_TUSERDATA ? TL_DTYPE_COUNT : v->value->dtype, &err);
  if (!t) {
    char buf[400];
    snprintf(buf, sizeof buf, "assign: %s", err);
    return tlb_raise_kind(L, "InvalidArgument", buf);
  }
  tl_status s = tl_variable_assign(v, t);
  tl_tensor_release(t);
  if (s) return tlb_raise(L, s);
  lua_settop(L, 1);
  return 1;
}

static int v_index(lua_State *L) {
  tl_variable *v = check_variable(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (strcmp(k, "trainable") == 0) {
      lua_pushboolean(L, v->trainable);
      return 1;
    }
    if (strcmp(k, "name") == 0) {
      lua_pushstring(L, v->name);
      return 1;
    }
    if (strcmp(k, "id") == 0) {
      lua_pushinteger(L, (lua_Integer)v->id);
      return 1;
    }
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 3);
  }
  /* everything else reads the value: v.shape, v[0], v:reduce_sum();
   * indexing (v[0], v["1:, ::2"]) is a read a tape may record, so it is
   * differentiable; field names are not */
  bool field = false;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    field = isalpha((unsigned char)k[0]) || k[0] == '_';
    for (const char *c = k; field && *c; c++) field = isalnum((unsigned char)*c) || *c == '_';
  }
  tlb_push_tensor(L, field ? tl_tensor_retain(v->value) : tl_variable_read(v));
  lua_replace(L, 1);
  return t_index(L);
}

static int v_newindex(lua_State *L) {
  check_variable(L, 1);
  return call_hook(L, "variable_setitem", 3, 0);
}

static int v_tostring(lua_State *L) {
  tl_variable *v = check_variable(L, 1);
  char *s;
  tl_print_opts o = {-1, -1, -1, 0, true};
  tl_status st = tl_tensor_format(v->value, &o, &s);
  if (st) return tlb_raise(L, st);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "<tf.Variable '%s' shape=(", v->name);
  luaL_addvalue(&b);
  for (int i = 0; i < v->value->rank; i++) {
    lua_pushfstring(L, i ? ", %I" : "%I", (lua_Integer)v->value->shape[i]);
    luaL_addvalue(&b);
  }
  lua_pushfstring(L, "%s) dtype=%s, numpy=%s%s>", v->value->rank == 1 ? "," : "", tl_dtypes[v->value->dtype].name,
                  strchr(s, '\n') ? "\n" : "", s);
  luaL_addvalue(&b);
  free(s);
  luaL_pushresult(&b);
  return 1;
}

static int v_len(lua_State *L) {
  tl_variable *v = check_variable(L, 1);
  if (v->value->rank == 0) return tlb_raise_kind(L, "InvalidArgument", "len: a scalar variable has no length");
  lua_pushinteger(L, v->value->shape[0]);
  return 1;
}

/* ---- misc functions ---------------------------------------------------- */

static int l_is_tensor(lua_State *L) {
  lua_pushboolean(L, tlb_test_tensor(L, 1) || tlb_test_variable(L, 1));
  return 1;
}

static int l_is_variable(lua_State *L) {
  lua_pushboolean(L, tlb_test_variable(L, 1) != NULL);
  return 1;
}

static int l_memory_stats(lua_State *L) {
  tl_memory_stats s = tl_memory_get_stats();
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, s.live_bytes);
  lua_setfield(L, -2, "live_bytes");
  lua_pushinteger(L, s.peak_bytes);
  lua_setfield(L, -2, "peak_bytes");
  lua_pushinteger(L, s.cached_bytes);
  lua_setfield(L, -2, "cached_bytes");
  lua_pushinteger(L, s.alloc_count);
  lua_setfield(L, -2, "alloc_count");
  return 1;
}

static int l_set_num_threads(lua_State *L) {
  tl_set_num_threads((int)luaL_checkinteger(L, 1));
  return 0;
}

static int l_num_threads(lua_State *L) {
  lua_pushinteger(L, tl_num_threads());
  return 1;
}

static int l_set_hooks(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushvalue(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &HOOKS_KEY);
  return 0;
}

static int l_interrupt(lua_State *L) {
  (void)L;
  tl_request_interrupt();
  return 0;
}

/* core.now(): monotonic wall-clock seconds (os.clock is CPU time). */
static int l_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

static int l_random_set_seed(lua_State *L) {
  tl_random_set_seed((uint64_t)luaL_checkinteger(L, 1));
  return 0;
}

static int l_blas_info(lua_State *L) {
  tl_blas_load();
  tl_blas_info b = tl_blas_get_info();
  lua_createtable(L, 0, 4);
  lua_pushboolean(L, b.loaded);
  lua_setfield(L, -2, "loaded");
  lua_pushstring(L, b.library ? b.library : "");
  lua_setfield(L, -2, "library");
  lua_pushstring(L, b.coretype ? b.coretype : "");
  lua_setfield(L, -2, "coretype");
  lua_pushstring(L, b.corename ? b.corename : "");
  lua_setfield(L, -2, "corename");
  return 1;
}

static const luaL_Reg tensor_meta[] = {
    {"__gc", tensor_gc},        {"__close", t_close}, {"__index", t_index},
    {"__newindex", t_newindex}, {"__tostring", t_tostring}, {"__len", t_len},
    {"__lt", t_compare_error},  {"__le", t_compare_error},  {"__eq", t_eq},
    {NULL, NULL},
};

static const luaL_Reg tensor_methods[] = {
    {"totable", t_totable}, {"item", t_item}, {NULL, NULL},
};

static const luaL_Reg variable_meta[] = {
    {"__gc", v_gc},        {"__close", v_gc},   {"__index", v_index},  {"__newindex", v_newindex},
    {"__tostring", v_tostring}, {"__len", v_len}, {"__lt", t_compare_error}, {"__le", t_compare_error},
    {"__eq", t_eq}, {NULL, NULL},
};

static const luaL_Reg variable_methods[] = {
    {"value", v_value}, {"read_value", v_value}, {"_assign_raw", v_assign_raw},
    {"totable", t_totable}, {"item", t_item}, {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"constant", l_constant},   {"Variable", l_variable},   {"is_tensor", l_is_tensor},
    {"is_variable", l_is_variable}, {"op_info", l_op_info}, {"op_names", l_op_names},
    {"memory_stats", l_memory_stats}, {"set_num_threads", l_set_num_threads},
    {"num_threads", l_num_threads}, {"set_hooks", l_set_hooks}, {"raise", l_raise},
    {"interrupt", l_interrupt}, {"blas_info", l_blas_info}, {"random_set_seed", l_random_set_seed}, {"now", l_now},
    {NULL, NULL},
};

static void make_meta(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "methods");
  lua_pop(L, 1);
}

int luaopen_tlua_core(lua_State *L) {
  tl_status s = tl_init();
  if (s) return luaL_error(L, "tlua: core failed to initialise: %s", tl_last_error());
  tlb_install_allocator(L);
  luaL_newmetatable(L, ERROR_MT);
  lua_pushcfunction(L, error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  make_meta(L, TENSOR_MT, tensor_meta, tensor_methods);
  make_meta(L, VARIABLE_MT, variable_meta, variable_methods);
  luaL_getmetatable(L, TENSOR_MT);
  tensor_mt = lua_topointer(L, -1);
  luaL_getmetatable(L, VARIABLE_MT);
  variable_mt = lua_topointer(L, -1);
  lua_pop(L, 2);
  make_dtypes(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &DTYPES_KEY);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &HOOKS_KEY);
  lua_newtable(L); /* tl_variable* -> userdata, weak values */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &VARIABLES_KEY);

  luaL_newlib(L, funcs);
  push_ops(L);
  lua_setfield(L, -2, "ops");
  tlb_push_dtype(L, 0); /* force table creation check */
  lua_pop(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &DTYPES_KEY);
  lua_setfield(L, -2, "dtypes");
  luaL_getmetatable(L, TENSOR_MT);
  lua_setfield(L, -2, "Tensor");
  luaL_getmetatable(L, VARIABLE_MT);
  lua_setfield(L, -2, "VariableMeta");
  luaL_getmetatable(L, ERROR_MT);
  lua_setfield(L, -2, "ErrorMeta");
  tlb_open_tape(L);
  luaopen_tlua_optim(L); /* lua/optim_binding.c: fused optimizer updates */
  lua_setfield(L, -2, "optim");
  luaopen_tlua_io(L); /* lua/io_binding.c: serialize_tensor, parse_tensor */
  lua_setfield(L, -2, "io");
  return 1;
}
