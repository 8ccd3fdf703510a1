/* graph_binding.c — core.graph: traces and graphs for stdlib/tlua/trace.lua.
 *
 *   tr = graph.trace_begin()          a Trace userdata (innermost on this thread)
 *   t  = graph.trace_arg(tr, dtype, dims)   a symbolic argument (dims: holes
 *                                     or dims.n for unknown dimensions)
 *   g  = graph.trace_end(tr, {outputs...})  a Graph userdata
 *   graph.trace_abort(tr)             after an error in the traced function
 *   graph.pause() / resume()          tf.init_scope: ops run eagerly
 *   graph.tracing() -> bool           a trace is recording on this thread
 *   graph.is_symbolic(t) -> bool
 *   outs = graph.run(g, {args...})    a table of the outputs
 *   g:describe(), g:dot(), g:stats(), g:nodes(), g:optimize(mask), g:copy()
 */
#include <lauxlib.h>
#include <lua.h>

#include <stdlib.h>
#include <string.h>

#include "../src/tl_graph.h"
#include "binding.h"

#define TRACE_MT "tl.Trace"
#define GRAPH_MT "tl.Graph"

typedef struct trace_ud {
  tl_trace *tr;
} trace_ud;

/* The Lua state tracing on this thread, for the location hook. */
static _Thread_local lua_State *trace_L;
static _Thread_local char where_buf[256];

/* A node's origin: the user's line (the first frame outside tlua's
 * stdlib), and in brackets the innermost Lua line when that is elsewhere
 * (inside a Keras layer, say): "train.lua:15 [keras/layers/core.lua:88]". */
static const char *where_hook(void) {
  lua_State *L = trace_L;
  if (!L) return NULL;
  tlb_push_where(L);
  const char *w = lua_tostring(L, -1);
  snprintf(where_buf, sizeof where_buf, "%s", w ? w : "?");
  lua_pop(L, 1);
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Sl", &ar)) break;
    if (ar.currentline <= 0) continue;
    char inner[200];
    const char *src = ar.short_src, *cut = strstr(src, "/stdlib/");
    snprintf(inner, sizeof inner, "%s:%d", cut ? cut + 8 : src, ar.currentline);
    size_t used = strlen(where_buf);
    if (strstr(where_buf, inner) == NULL && strcmp(where_buf, "?") != 0 && used + strlen(inner) + 4 < sizeof where_buf)
      snprintf(where_buf + used, sizeof where_buf - used, " [%s]", inner);
    break;
  }
  return strcmp(where_buf, "?") == 0 ? NULL : where_buf;
}

static trace_ud *check_trace(lua_State *L, int idx) {
  trace_ud *u = luaL_checkudata(L, idx, TRACE_MT);
  if (!u->tr) luaL_argerror(L, idx, "the trace has ended");
  return u;
}

tl_graph *tlb_check_graph(lua_State *L, int idx) {
  tl_graph **p = luaL_checkudata(L, idx, GRAPH_MT);
  if (!*p) luaL_argerror(L, idx, "graph has been freed");
  return *p;
}

void tlb_push_graph(lua_State *L, tl_graph *g) {
  tl_graph **p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = g;
  luaL_setmetatable(L, GRAPH_MT);
}

static int l_trace_begin(lua_State *L) {
  trace_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->tr = NULL;
  luaL_setmetatable(L, TRACE_MT);
  tl_status s = tl_trace_begin(&u->tr);
  if (s) return tlb_raise(L, s);
  trace_L = L;
  tl_trace_set_where_hook(where_hook);
  return 1;
}

/* dims: a list of integers with holes (or -1) for unknown dimensions, its
 * rank in dims.n when it has holes. */
static void read_meta(lua_State *L, int dt_idx, int dims_idx, tl_meta *m) {
  m->dtype = tlb_check_dtype(L, dt_idx);
  luaL_checktype(L, dims_idx, LUA_TTABLE);
  lua_getfield(L, dims_idx, "n");
  lua_Integer rank = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : (lua_Integer)lua_rawlen(L, dims_idx);
  lua_pop(L, 1);
  if (rank < 0 || rank > TL_MAX_RANK) luaL_argerror(L, dims_idx, "rank out of range");
  m->rank = (int)rank;
  for (int i = 0; i < m->rank; i++) {
    lua_rawgeti(L, dims_idx, i + 1);
    m->shape[i] = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
    if (m->shape[i] < -1) m->shape[i] = -1;
    lua_pop(L, 1);
  }
}

/* graph.trace_arg(tr, dtype, dims, device?): device is a name ("TEST") or
 * a tensor whose device the argument takes. */
static int l_trace_arg(lua_State *L) {
  trace_ud *u = check_trace(L, 1);
  tl_meta m;
  read_meta(L, 2, 3, &m);
  tl_device dev = tl_default_device();
  if (lua_type(L, 4) == LUA_TSTRING) {
    dev = tl_device_from_name(lua_tostring(L, 4));
    if (dev == TL_DEVICE_COUNT) return luaL_argerror(L, 4, "unknown or unavailable device");
  } else if (tlb_test_tensor(L, 4)) {
    dev = tl_tensor_device(tlb_test_tensor(L, 4));
  }
  tl_tensor *t;
  tl_status s = tl_trace_arg_on(u->tr, &m, dev, &t);
  if (s) return tlb_raise(L, s);
  tlb_push_tensor(L, t);
  return 1;
}

tl_tensor **tlb_tensor_list_arg(lua_State *L, int idx, int *n, const char *what) {
  luaL_checktype(L, idx, LUA_TTABLE);
  *n = (int)lua_rawlen(L, idx);
  tl_tensor **list = lua_newuserdatauv(L, sizeof *list * (size_t)(*n ? *n : 1), 0);
  for (int i = 0; i < *n; i++) {
    lua_rawgeti(L, idx, i + 1);
    tl_tensor *t = tlb_test_tensor(L, -1);
    if (!t) {
      tl_variable *v = tlb_test_variable(L, -1);
      if (v) t = v->value;
    }
    lua_pop(L, 1);
    if (!t) {
      char msg[200];
      snprintf(msg, sizeof msg, "%s: entry %d is not a tensor", what, i + 1);
      tlb_raise_kind(L, "InvalidArgument", msg);
    }
    list[i] = t; /* borrowed: the table keeps it alive */
  }
  return list;
}

static int l_trace_end(lua_State *L) {
  trace_ud *u = check_trace(L, 1);
  int n;
  tl_tensor **outs = tlb_tensor_list_arg(L, 2, &n, "trace_end");
  tl_graph *g;
  tl_status s = tl_trace_end(u->tr, outs, n, &g);
  if (s) return tlb_raise(L, s);
  u->tr = NULL;
  if (!tl_trace_current()) trace_L = NULL;
  tlb_push_graph(L, g);
  return 1;
}

static int l_trace_abort(lua_State *L) {
  trace_ud *u = luaL_checkudata(L, 1, TRACE_MT);
  if (u->tr) tl_trace_abort(u->tr);
  u->tr = NULL;
  if (!tl_trace_current()) trace_L = NULL;
  return 0;
}

static int trace_gc(lua_State *L) { return l_trace_abort(L); }

static int l_pause(lua_State *L) {
  (void)L;
  tl_trace_pause();
  return 0;
}

static int l_resume(lua_State *L) {
  (void)L;
  tl_trace_resume();
  return 0;
}

static int l_tracing(lua_State *L) {
  lua_pushboolean(L, tl_trace_active());
  return 1;
}

static int l_in_trace(lua_State *L) {
  lua_pushboolean(L, tl_trace_current() != NULL);
  return 1;
}

static int l_is_symbolic(lua_State *L) {
  tl_tensor *t = tlb_test_tensor(L, 1);
  lua_pushboolean(L, t && tl_tensor_is_symbolic(t));
  return 1;
}

/* graph.signature_part(x): "float32[32,784]" for a tensor (a variable: its
 * value's), nil for anything else: the hot part of a traced call's key. */
/* "float32[32,784]", with "@TEST" for a tensor off the CPU: a trace is
 * per device, as the kernels are. */
static const char *key_text(const tl_tensor *t, char *d, size_t n) {
  tl_tensor_describe(t, d, n);
  tl_device dev = tl_tensor_device(t);
  if (dev != TL_CPU) {
    size_t used = strlen(d);
    snprintf(d + used, n - used, "@%s", tl_device_get(dev)->name);
  }
  return d;
}

static int l_signature_part(lua_State *L) {
  tl_tensor *t = tlb_test_tensor(L, 1);
  if (!t) return 0;
  char d[200];
  lua_pushstring(L, key_text(t, d, sizeof d));
  return 1;
}

/* graph.call_key(...): the fast path of a traced call. For arguments that
 * are tensors, numbers, strings, booleans or nil, returns a key string and
 * the list of tensor arguments; nil for anything else (the Lua path walks
 * tables and keys objects by identity). */
static int l_call_key(lua_State *L) {
  int n = lua_gettop(L);
  luaL_Buffer b;
  lua_createtable(L, n, 0);
  int flat = lua_gettop(L);
  int nflat = 0;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    char d[200];
    switch (lua_type(L, i)) {
    case LUA_TUSERDATA: {
      tl_tensor *t = tlb_test_tensor(L, i);
      if (!t) return 0;
      luaL_addstring(&b, key_text(t, d, sizeof d));
      lua_pushvalue(L, i);
      lua_rawseti(L, flat, ++nflat);
      break;
    }
    case LUA_TNUMBER:
      if (lua_isinteger(L, i)) snprintf(d, sizeof d, "i%lld", (long long)lua_tointeger(L, i));
      else snprintf(d, sizeof d, "n%.17g", lua_tonumber(L, i));
      luaL_addstring(&b, d);
      break;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, i, &len);
      snprintf(d, sizeof d, "s%zu:", len);
      luaL_addstring(&b, d);
      luaL_addlstring(&b, s, len);
      break;
    }
    case LUA_TBOOLEAN: luaL_addstring(&b, lua_toboolean(L, i) ? "T" : "F"); break;
    case LUA_TNIL: luaL_addstring(&b, "N"); break;
    default: return 0;
    }
    luaL_addchar(&b, ',');
  }
  luaL_pushresult(&b);
  lua_pushvalue(L, flat);
  return 2;
}

/* The outputs of a graph run as a list table (takes the references). */
static int push_output_table(lua_State *L, tl_tensor_list *out) {
  lua_createtable(L, out->n, 0);
  for (int i = 0; i < out->n; i++) {
    tlb_push_tensor(L, out->items[i]);
    lua_rawseti(L, -2, i + 1);
  }
  if (out->items != out->inline_items) free(out->items);
  out->items = out->inline_items;
  out->n = 0;
  return 1;
}

int tlb_graph_apply(lua_State *L, tlb_graph_runner run, const char *what) {
  tlb_steer_collector(L);
  tl_graph *g = tlb_check_graph(L, 1);
  int n;
  tl_tensor **args = tlb_tensor_list_arg(L, 2, &n, what);
  tl_tensor_list out;
  tl_list_init(&out);
  tl_status s = run(g, args, n, &out);
  if (s) return tlb_raise(L, s);
  return push_output_table(L, &out);
}

/* graph.run(g, args): args is a list of tensors (variables give their value). */
static int l_run(lua_State *L) { return tlb_graph_apply(L, tl_graph_run, "graph run"); }

static int g_gc(lua_State *L) {
  tl_graph **p = luaL_checkudata(L, 1, GRAPH_MT);
  tl_graph_release(*p);
  *p = NULL;
  return 0;
}

static int push_malloced(lua_State *L, tl_status s, char *text) {
  if (s) return tlb_raise(L, s);
  lua_pushstring(L, text);
  free(text);
  return 1;
}

static int g_describe(lua_State *L) {
  char *text;
  tl_status s = tl_graph_describe(tlb_check_graph(L, 1), &text);
  return push_malloced(L, s, text);
}

static int g_dot(lua_State *L) {
  char *text;
  tl_status s = tl_graph_dot(tlb_check_graph(L, 1), &text);
  return push_malloced(L, s, text);
}

#define SET_INT(name, v)          \
  do {                            \
    lua_pushinteger(L, (v));      \
    lua_setfield(L, -2, (name));  \
  } while (0)

static int g_stats(lua_State *L) {
  tl_graph *g = tlb_check_graph(L, 1);
  const tl_graph_stats *st = &g->stats;
  lua_createtable(L, 0, 16);
  SET_INT("nodes", g->n_nodes);
  SET_INT("nodes_before", st->nodes_before ? st->nodes_before : g->n_nodes);
  SET_INT("nodes_after", g->n_nodes);
  SET_INT("dce_removed", st->dce_removed);
  SET_INT("cse_merged", st->cse_merged);
  SET_INT("folded", st->folded);
  SET_INT("noops_removed", st->noops_removed);
  SET_INT("simplified", st->simplified);
  SET_INT("fused_groups", st->fused_groups);
  SET_INT("fused_ops", st->fused_ops);
  SET_INT("planned_bytes", st->planned_bytes);
  SET_INT("unplanned_bytes", st->unplanned_bytes);
  SET_INT("buffers_reused", st->buffers_reused);
  SET_INT("in_place", st->in_place);
  SET_INT("parallel_levels", st->parallel_levels);
  return 1;
}

static void push_meta_text(lua_State *L, const tl_meta *m) {
  char buf[200];
  lua_pushstring(L, tl_meta_describe(m, buf, sizeof buf));
}

/* g:nodes(): a list of {kind=, op=, where=, inputs={vids}, outputs={"float32[2,3]",...},
 * first_output=vid, variable=name (constants of variables)}. */
static int g_nodes(lua_State *L) {
  tl_graph *g = tlb_check_graph(L, 1);
  static const char *kinds[] = {"arg", "const", "op", "cond", "while", "call"};
  lua_createtable(L, g->n_nodes, 0);
  for (int i = 0; i < g->n_nodes; i++) {
    const tl_gnode *n = &g->nodes[i];
    lua_createtable(L, 0, 8);
    lua_pushstring(L, kinds[n->kind]);
    lua_setfield(L, -2, "kind");
    if (n->kind == TL_NODE_OP) {
      lua_pushstring(L, n->op->name);
      lua_setfield(L, -2, "op");
    }
    if (n->where) {
      lua_pushstring(L, n->where);
      lua_setfield(L, -2, "where");
    }
    if (n->kind == TL_NODE_ARG) SET_INT("arg", n->arg);
    if (n->kind == TL_NODE_CONST) {
      tl_variable *v = tl_resource_peek(n->value);
      if (v) {
        lua_pushstring(L, v->name);
        lua_setfield(L, -2, "variable");
      }
    }
    lua_createtable(L, n->n_in, 0);
    for (int k = 0; k < n->n_in; k++) {
      lua_pushinteger(L, n->in[k]);
      lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "inputs");
    lua_createtable(L, n->n_out, 0);
    for (int k = 0; k < n->n_out; k++) {
      push_meta_text(L, &g->values[n->out0 + k].meta);
      lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "outputs");
    SET_INT("first_output", n->out0);
    SET_INT("n_sub", n->n_sub);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int g_index_info(lua_State *L) {
  tl_graph *g = tlb_check_graph(L, 1);
  lua_createtable(L, 0, 4);
  SET_INT("n_nodes", g->n_nodes);
  SET_INT("n_values", g->n_values);
  SET_INT("n_args", g->n_args);
  SET_INT("n_outputs", g->n_outputs);
  lua_createtable(L, g->n_args, 0);
  for (int i = 0; i < g->n_args; i++) {
    push_meta_text(L, &g->values[g->args[i]].meta);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "args");
  lua_createtable(L, g->n_outputs, 0);
  for (int i = 0; i < g->n_outputs; i++) {
    push_meta_text(L, &g->values[g->outputs[i]].meta);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "outputs");
  return 1;
}

/* The variables the graph captures (in node order), as their Lua objects
 * where they have one (nil entries are skipped). */
static void collect_variables(lua_State *L, const tl_graph *g, int list, int seen) {
  for (int i = 0; i < g->n_nodes; i++) {
    const tl_gnode *n = &g->nodes[i];
    tl_variable *v = n->kind == TL_NODE_CONST ? tl_resource_peek(n->value) : NULL;
    if (v) {
      lua_rawgetp(L, seen, v);
      bool dup = !lua_isnil(L, -1);
      lua_pop(L, 1);
      if (!dup) {
        lua_pushboolean(L, 1);
        lua_rawsetp(L, seen, v);
        tlb_push_variable(L, v);
        if (!lua_isnil(L, -1)) lua_rawseti(L, list, (lua_Integer)lua_rawlen(L, list) + 1);
        else lua_pop(L, 1);
      }
    }
    for (int k = 0; k < n->n_sub; k++) collect_variables(L, n->sub[k], list, seen);
  }
}

static int g_variables(lua_State *L) {
  tl_graph *g = tlb_check_graph(L, 1);
  lua_newtable(L);
  int list = lua_gettop(L);
  lua_newtable(L);
  collect_variables(L, g, list, list + 1);
  lua_pop(L, 1);
  return 1;
}

static int g_optimize(lua_State *L) {
  tl_graph *g = tlb_check_graph(L, 1);
  unsigned mask = (unsigned)luaL_optinteger(L, 2, TL_OPT_ALL);
  tl_status s = tl_graph_optimize(g, mask);
  if (s) return tlb_raise(L, s);
  lua_settop(L, 1);
  return 1;
}

static int g_copy(lua_State *L) {
  tl_graph *c;
  tl_status s = tl_graph_copy(tlb_check_graph(L, 1), &c);
  if (s) return tlb_raise(L, s);
  tlb_push_graph(L, c);
  return 1;
}

static const luaL_Reg graph_methods[] = {
    {"describe", g_describe}, {"dot", g_dot},           {"stats", g_stats},       {"nodes", g_nodes},
    {"info", g_index_info},   {"variables", g_variables}, {"optimize", g_optimize}, {"copy", g_copy},
    {NULL, NULL},
};

static const luaL_Reg graph_funcs[] = {
    {"trace_begin", l_trace_begin}, {"trace_arg", l_trace_arg},     {"trace_end", l_trace_end},
    {"trace_abort", l_trace_abort}, {"pause", l_pause},             {"resume", l_resume},
    {"tracing", l_tracing},         {"in_trace", l_in_trace},       {"is_symbolic", l_is_symbolic},
    {"run", l_run},                 {"signature_part", l_signature_part},
    {"call_key", l_call_key},
    {NULL, NULL},
};

int luaopen_tlua_graph(lua_State *L) {
  luaL_newmetatable(L, TRACE_MT);
  lua_pushcfunction(L, trace_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, GRAPH_MT);
  lua_pushcfunction(L, g_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, g_describe);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, graph_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, graph_funcs);
  /* graph.passes: the TL_OPT_* bits by name, for g:optimize(mask). */
  static const struct { const char *name; unsigned bit; } passes[] = {
      {"dce", TL_OPT_DCE},   {"cse", TL_OPT_CSE},       {"fold", TL_OPT_FOLD},     {"noop", TL_OPT_NOOP},
      {"simplify", TL_OPT_SIMPLIFY}, {"fuse", TL_OPT_FUSE}, {"memory", TL_OPT_MEMORY}, {"parallel", TL_OPT_PARALLEL},
      {"all", TL_OPT_ALL},
  };
  lua_createtable(L, 0, (int)(sizeof passes / sizeof passes[0]));
  for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
    lua_pushinteger(L, passes[i].bit);
    lua_setfield(L, -2, passes[i].name);
  }
  lua_setfield(L, -2, "passes");
  return 1;
}
