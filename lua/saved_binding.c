/* saved_binding.c — saved models in Lua (stdlib/tlua/saved_model.lua is
 * the user-facing tf.saved_model). Adds to core.graph:
 *
 *   graph.save_model(path, fns, variables)
 *       fns: list of {name=, graph=<Graph>, arg_names={...}, output_names={...}};
 *       variables: list of tf.Variables to store first (optional); every
 *       variable the graphs capture is stored, each once.
 *   graph.load_model(path) -> {functions = {{name=, graph=, arg_names=,
 *       output_names=}, ...}, variables = {tf.Variable, ...}}
 *   graph.call(g, {args}) -> {outputs}
 *       tl_graph_call_traced: runs g, or records it into the active trace.
 */
#include <lauxlib.h>
#include <lua.h>

#include <stdlib.h>
#include <string.h>

#include "../src/tl_graph.h"
#include "binding.h"

typedef struct var_list {
  tl_variable **v;
  int n, cap;
} var_list;

static bool var_add(var_list *l, tl_variable *v) {
  for (int i = 0; i < l->n; i++)
    if (l->v[i] == v) return true;
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 16;
    tl_variable **q = realloc(l->v, sizeof *q * (size_t)cap);
    if (!q) return false;
    l->v = q;
    l->cap = cap;
  }
  l->v[l->n++] = v;
  return true;
}

static bool collect(var_list *l, const tl_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    const tl_gnode *n = &g->nodes[i];
    tl_variable *v = n->kind == TL_NODE_CONST ? tl_resource_peek(n->value) : NULL;
    if (v && !var_add(l, v)) return false;
    for (int k = 0; k < n->n_sub; k++)
      if (!collect(l, n->sub[k])) return false;
  }
  return true;
}

/* names[i] = the strings of t[1..n] (NULL for non-strings); pointers into
 * Lua strings that stay on the stack's tables for the call. */
static const char **read_names(lua_State *L, int t, int n) {
  const char **names = lua_newuserdatauv(L, sizeof *names * (size_t)(n ? n : 1), 0);
  for (int i = 0; i < n; i++) {
    names[i] = NULL;
    if (lua_istable(L, t)) {
      lua_rawgeti(L, t, i + 1);
      if (lua_type(L, -1) == LUA_TSTRING) names[i] = lua_tostring(L, -1);
      lua_pop(L, 1); /* the table keeps the string alive */
    }
  }
  return names;
}

static int l_save_model(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int n = (int)lua_rawlen(L, 2);
  if (n == 0) return tlb_raise_kind(L, "InvalidArgument", "saved_model.save: there is no function to save");
  tl_saved_fn *fns = lua_newuserdatauv(L, sizeof *fns * (size_t)n, 0);
  var_list vars = {0};
  bool ok = true;
  if (lua_istable(L, 3)) {
    int nv = (int)lua_rawlen(L, 3);
    for (int i = 0; i < nv && ok; i++) {
      lua_rawgeti(L, 3, i + 1);
      tl_variable *v = tlb_test_variable(L, -1);
      lua_pop(L, 1);
      if (!v) {
        free(vars.v);
        return tlb_raise_kind(L, "InvalidArgument", "saved_model.save: variables must be a list of tf.Variables");
      }
      ok = var_add(&vars, v);
    }
  }
  for (int i = 0; i < n; i++) {
    luaL_checkstack(L, 8, "saved_model.save");
    lua_rawgeti(L, 2, i + 1);
    int ft = lua_gettop(L);
    if (!lua_istable(L, ft)) {
      free(vars.v);
      return tlb_raise_kind(L, "InvalidArgument", "saved_model.save: each function is a table {name=, graph=}");
    }
    lua_getfield(L, ft, "name");
    lua_getfield(L, ft, "graph");
    lua_getfield(L, ft, "arg_names");
    lua_getfield(L, ft, "output_names");
    if (lua_type(L, ft + 1) != LUA_TSTRING) {
      free(vars.v);
      return tlb_raise_kind(L, "InvalidArgument", "saved_model.save: a function has no name");
    }
    fns[i].name = (char *)lua_tostring(L, ft + 1);
    fns[i].graph = tlb_check_graph(L, ft + 2);
    fns[i].arg_names = (char **)read_names(L, ft + 3, fns[i].graph->n_args);
    fns[i].output_names = (char **)read_names(L, ft + 4, fns[i].graph->n_outputs);
    ok = ok && collect(&vars, fns[i].graph);
    /* the table, its fields and the name arrays stay on the stack: they own the strings */
  }
  if (!ok) {
    free(vars.v);
    return tlb_raise_kind(L, "ResourceExhausted", "saved_model.save: out of memory");
  }
  tl_saved_model m = {n, fns, vars.n, vars.v};
  tl_status s = tl_saved_model_write(&m, path);
  free(vars.v);
  if (s) return tlb_raise(L, s);
  return 0;
}

static void push_names(lua_State *L, char **names, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    if (names && names[i]) lua_pushstring(L, names[i]);
    else lua_pushboolean(L, 0); /* a hole would cut the list short */
    lua_rawseti(L, -2, i + 1);
  }
}

static int l_load_model(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  tl_saved_model *m;
  tl_status s = tl_saved_model_read(path, &m);
  if (s) return tlb_raise(L, s);
  lua_createtable(L, 0, 2);
  lua_createtable(L, m->n_variables, 0);
  for (int i = 0; i < m->n_variables; i++) {
    tlb_wrap_variable(L, m->variables[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "variables");
  lua_createtable(L, m->n_fns, 0);
  for (int i = 0; i < m->n_fns; i++) {
    tl_saved_fn *f = &m->fns[i];
    lua_createtable(L, 0, 4);
    lua_pushstring(L, f->name);
    lua_setfield(L, -2, "name");
    push_names(L, f->arg_names, f->graph->n_args);
    lua_setfield(L, -2, "arg_names");
    push_names(L, f->output_names, f->graph->n_outputs);
    lua_setfield(L, -2, "output_names");
    tlb_push_graph(L, tl_graph_retain(f->graph));
    lua_setfield(L, -2, "graph");
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "functions");
  tl_saved_model_free(m); /* the graphs and variables live on in their Lua objects */
  return 1;
}

static int l_call(lua_State *L) { return tlb_graph_apply(L, tl_graph_call_traced, "graph call"); }

void tlb_open_saved(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"save_model", l_save_model}, {"load_model", l_load_model}, {"call", l_call}, {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
