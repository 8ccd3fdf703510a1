/* ldispatch.c — the generic op dispatcher: one Lua closure per registered
 * op that reads the op's declaration (inputs, attributes by name) and
 * calls tl_op_run, so a new op appears in Lua without binding code.
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
  /* For Lua values converted for the call, found at the first one (a call
   * of tensors only never scans for them): the dtype they take and the
   * device they are placed on (first_tensor). */
  bool lua_seen;
  tl_dtype follow;
  tl_device device;
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

/* A copy of t (borrowed) on dev, which the caller releases; on failure the
 * call's inputs are released and the error raised. */
static tl_tensor *copy_to(lua_State *L, call_state *cs, tl_tensor *t, tl_device dev) {
  tl_tensor *c;
  tl_status s = tl_tensor_copy_to(t, dev, &c);
  if (s) {
    release_inputs(cs);
    tlb_raise(L, s);
  }
  return c;
}

/* An attribute given as a tensor: its values are read from a CPU copy
 * (never from device memory), which the caller releases. */
static tl_tensor *attr_host_copy(lua_State *L, call_state *cs, tl_tensor *t) { return copy_to(L, cs, t, TL_CPU); }

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
      if (t && t->size == 1 && tl_dtype_is_integer(t->dtype)) {
        tl_tensor *c = attr_host_copy(L, cs, t);
        v = tl_load_i64(c->storage->data, c->dtype, c->offset);
        tl_tensor_release(c);
      } else return arg_error(L, cs, op, "%s: argument '%s' must be an integer%s", d->name, NULL);
    }
    a->i = v;
    break;
  }
  case TL_ATTR_FLOAT: {
    int isnum;
    lua_Number v = lua_tonumberx(L, idx, &isnum);
    if (!isnum) {
      tl_tensor *t = tlb_test_tensor(L, idx);
      if (t && t->size == 1 && tl_dtypes[t->dtype].kind != TL_KIND_STRING && t->dtype != TL_RESOURCE) {
        tl_tensor *c = attr_host_copy(L, cs, t);
        v = tl_load_f64(c->storage->data, c->dtype, c->offset);
        tl_tensor_release(c);
      } else return arg_error(L, cs, op, "%s: argument '%s' must be a number%s", d->name, NULL);
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
      /* integral floats (6/2, 2^10) count as integers, as in indexing */
      int exact;
      a->ints[0] = lua_tointegerx(L, idx, &exact);
      if (ints && !exact) return arg_error(L, cs, op, "%s: argument '%s' must be an integer or a list of integers%s", d->name, NULL);
      a->n = 1;
      a->floats[0] = lua_tonumber(L, idx);
    } else if (t) {
      if (t->rank > 1 || t->size > 64 || t->size > room || (ints && !tl_dtype_is_integer(t->dtype)))
        return arg_error(L, cs, op, "%s: argument '%s' must be an integer vector%s", d->name, NULL);
      if (!ints && (tl_dtypes[t->dtype].kind == TL_KIND_STRING || t->dtype == TL_RESOURCE))
        return arg_error(L, cs, op, "%s: argument '%s' must be a numeric vector%s", d->name, NULL);
      a->n = (int)t->size;
      tl_tensor *c = attr_host_copy(L, cs, t);
      for (int i = 0; i < a->n; i++) {
        int64_t off = c->offset + (c->rank ? i * c->strides[0] : 0);
        a->ints[i] = tl_load_i64(c->storage->data, c->dtype, off);
        a->floats[i] = tl_load_f64(c->storage->data, c->dtype, off);
      }
      tl_tensor_release(c);
    } else if (lua_type(L, idx) == LUA_TTABLE) {
      lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
      if (n > 64 || n > room) return arg_error(L, cs, op, "%s: argument '%s' has more than 64 entries%s", d->name, NULL);
      a->n = (int)n;
      for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        int isnum = lua_type(L, -1) == LUA_TNUMBER, exact = 0;
        a->ints[i - 1] = isnum ? lua_tointegerx(L, -1, &exact) : 0;
        if (!isnum || (ints && !exact)) {
          lua_pop(L, 1);
          snprintf(detail, sizeof detail, " (entry %lld is not %s)", (long long)i, ints ? "an integer" : "a number");
          return arg_error(L, cs, op, "%s: argument '%s' must be a list of numbers%s", d->name, detail);
        }
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

/* The first tensor among the positional inputs (a list input's first
 * tensor counts), borrowed; NULL when there is none. Lua values converted
 * for the call take its dtype (TL_OP_SCALARS_FOLLOW) and its device. */
static tl_tensor *first_tensor(lua_State *L, const tl_op_def *op, int nargs) {
  for (int i = 1; i <= nargs && i <= op->n_inputs; i++) {
    tl_tensor *t = tlb_test_tensor(L, i);
    if (!t) {
      tl_variable *v = tlb_test_variable(L, i);
      if (v) t = v->value;
    }
    if (t) return t;
    if (op->input[i - 1].list && lua_type(L, i) == LUA_TTABLE) {
      lua_Integer n = (lua_Integer)lua_rawlen(L, i);
      for (lua_Integer k = 1; k <= n; k++) {
        lua_rawgeti(L, i, k);
        t = tlb_test_tensor(L, -1);
        if (!t && tlb_test_variable(L, -1)) t = tlb_test_variable(L, -1)->value;
        lua_pop(L, 1);
        if (t) return t;
      }
    }
  }
  return NULL;
}

/* Converts one input value (nargs: the positional arguments). */
static int add_input(lua_State *L, call_state *cs, const tl_op_def *op, int nargs, const char *name, int idx,
                     bool optional, bool resource) {
  if (!reserve_input(L, cs)) return arg_error(L, cs, op, "%s: too many inputs%s%s", "", NULL);
  if (lua_isnoneornil(L, idx)) {
    if (!optional) return arg_error(L, cs, op, "%s: input '%s' is missing (got nil)%s", name, NULL);
    cs->in[cs->n_in++] = NULL;
    return 0;
  }
  const char *err;
  if (resource) {
    /* A state input takes the variable itself (its handle), not a read. */
    tl_variable *v = tlb_test_variable(L, idx);
    tl_tensor *h = v ? v->handle : tlb_test_tensor(L, idx);
    if (!h || h->dtype != TL_RESOURCE) {
      char detail[200];
      snprintf(detail, sizeof detail, " must be a tf.Variable, got %s",
               h ? tl_dtypes[h->dtype].name : luaL_typename(L, idx));
      return arg_error(L, cs, op, "%s: input '%s'%s", name, detail);
    }
    cs->in[cs->n_in++] = tl_tensor_retain(h);
    return 0;
  }
  /* Only tensors and variables convert from userdata; another userdata
   * (a RaggedTensor, a SparseTensor) hands the whole call to the stdlib's
   * dispatch hook (op_call). */
  bool is_lua = lua_type(L, idx) != LUA_TUSERDATA;
  if (!is_lua) {
    tl_tensor *t = tlb_test_tensor(L, idx);
    if (t) { /* the common case, with one metatable check */
      cs->in[cs->n_in++] = tl_tensor_retain(t);
      return 0;
    }
    if (!tlb_test_variable(L, idx)) return 1;
  }
  if (is_lua && !cs->lua_seen) {
    tl_tensor *leader = first_tensor(L, op, nargs);
    cs->follow = leader && (op->flags & TL_OP_SCALARS_FOLLOW) ? leader->dtype : TL_DTYPE_COUNT;
    cs->device = leader ? tl_tensor_device(leader) : tl_default_device();
    cs->lua_seen = true;
  }
  tl_tensor *t = tlb_to_tensor(L, idx, is_lua ? cs->follow : TL_DTYPE_COUNT, &err);
  if (!t) {
    char detail[400];
    snprintf(detail, sizeof detail, ": %s", err);
    return arg_error(L, cs, op, "%s: input '%s'%s", name, detail);
  }
  cs->in[cs->n_in++] = t;
  if (is_lua && cs->device != TL_CPU) {
    /* A Lua value is a constant of the call: it goes where the op runs. */
    cs->in[cs->n_in - 1] = copy_to(L, cs, t, cs->device);
    tl_tensor_release(t);
  }
  return 0;
}

/* The call's arguments (1..top0) go to the `dispatch` hook with the op's
 * name first: composite values (stdlib/tlua/composite.lua) implement ops
 * on their components. The inputs converted so far are released first. */
static int dispatch_composite(lua_State *L, call_state *cs, const tl_op_def *op, int top0) {
  release_inputs(cs);
  if (cs->in != cs->in_inline) {
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, cs);
  }
  lua_settop(L, top0);
  lua_pushstring(L, op->name);
  lua_insert(L, 1);
  return tlb_call_hook(L, "dispatch", top0 + 1, LUA_MULTRET), lua_gettop(L);
}

static int op_call(lua_State *L) {
  const tl_op_def *op = lua_touserdata(L, lua_upvalueindex(1));
  int top0 = lua_gettop(L);
  /* Pay the collector for earlier allocations before this op allocates:
   * results the caller has dropped since then are freed now, and this
   * op's output reuses their buffers (hot in cache, no page faults). */
  tlb_steer_collector(L);
  int nargs = lua_gettop(L);
  int opts = 0;
  if (nargs > 0 && tlb_is_options(L, nargs)) opts = nargs--;
  call_state state, *cs = &state;
  cs->n_in = 0;
  cs->in = cs->in_inline;
  cs->cap_in = 64;
  cs->pool_used = 0;
  cs->lua_seen = false;
  tl_attrs_defaults(op, cs->attr);
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
      if (!idx || lua_type(L, idx) != LUA_TTABLE) {
        /* A single tensor is accepted as the list of its slices along axis
         * 0, made by the unstack op so observers (the tape, a tracer) see
         * the split like any other op. */
        if (idx && (tlb_test_tensor(L, idx) || tlb_test_variable(L, idx))) {
          const char *err;
          tl_tensor *t = tlb_to_tensor(L, idx, TL_DTYPE_COUNT, &err); /* a variable's read is recorded */
          if (!t) {
            char detail[400];
            snprintf(detail, sizeof detail, ": %s", err);
            return arg_error(L, cs, op, "%s: input '%s'%s", in->name, detail);
          }
          if (t->rank == 0) {
            tl_tensor_release(t);
            return arg_error(L, cs, op, "%s: input '%s' must be a list of tensors (got a scalar tensor)%s",
                             in->name, NULL);
          }
          tl_tensor_list parts;
          tl_status st = tl_call_list("unstack", 1, &t, 1, (tl_named_attr[]){TL_A_INT("axis", 0)}, &parts);
          tl_tensor_release(t);
          if (st) {
            release_inputs(cs);
            return tlb_raise(L, st);
          }
          for (int k = 0; k < parts.n; k++) {
            if (!reserve_input(L, cs)) {
              tl_list_clear(&parts);
              return arg_error(L, cs, op, "%s: too many inputs%s%s", "", NULL);
            }
            cs->in[cs->n_in++] = parts.items[k];
            parts.items[k] = NULL;
          }
          parts.n = 0;
          tl_list_clear(&parts);
          continue;
        }
        return arg_error(L, cs, op, "%s: input '%s' must be a list of tensors%s", in->name, NULL);
      }
      lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
      for (lua_Integer k = 1; k <= n; k++) {
        lua_rawgeti(L, idx, k);
        if (add_input(L, cs, op, nargs, in->name, lua_gettop(L), false, in->resource))
          return dispatch_composite(L, cs, op, top0);
        lua_pop(L, 1);
      }
      continue;
    }
    if (add_input(L, cs, op, nargs, in->name, idx ? idx : nargs + 1000, in->optional, in->resource))
      return dispatch_composite(L, cs, op, top0);
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
void tlb_push_ops(lua_State *L) {
  lua_createtable(L, 0, tl_op_count());
  for (int i = 0; i < tl_op_count(); i++) {
    const tl_op_def *op = tl_op_at(i);
    lua_pushlightuserdata(L, (void *)op);
    lua_pushcclosure(L, op_call, 1);
    lua_setfield(L, -2, op->name);
  }
}

int tlb_l_op_info(lua_State *L) {
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
  lua_pushboolean(L, op->infer != NULL);
  lua_setfield(L, -2, "has_infer");
  lua_pushboolean(L, (op->flags & TL_OP_NO_GRADIENT) != 0);
  lua_setfield(L, -2, "no_gradient");
  return 1;
}

int tlb_l_op_names(lua_State *L) {
  lua_createtable(L, tl_op_count(), 0);
  for (int i = 0; i < tl_op_count(); i++) {
    lua_pushstring(L, tl_op_at(i)->name);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

