/* control_binding.c — core.control: building control-flow nodes for
 * stdlib/tlua/control.lua (tf.cond, tf.while_loop, ... while tracing).
 *
 *   lvl = control.watch_begin({args...})   after G.trace_begin() for a branch
 *                  or body: notes which tensors of enclosing traces its ops
 *                  use (the args tell the branch's own tensors apart)
 *   seen = control.watch_end(lvl, {outputs...})   after G.trace_end: the
 *                  enclosing tensors used (outputs that are such tensors too)
 *   ins = control.captures(g, seen, first)  the enclosing tensors that g's
 *                  args from position first (0-based) capture, in arg order
 *   control.align(gc, gb, n)   gives two graphs (a loop's cond and body)
 *                  the same args: their n first, then every capture of either
 *   outs = control.emit(kind, ins, {graphs}, {{dtype, dims}...}, arg, iparam)
 *                  adds a "cond" / "while" / "call" node to the trace (and
 *                  to a recording tape, with its gradient)
 *
 * Why the watch: a gradient tape knows tensors by identity, so the node's
 * inputs must be the very tensors the user's code used, not new symbolic
 * tensors for the same values.
 */
#include <lauxlib.h>
#include <lua.h>

#include <stdlib.h>
#include <string.h>

#include "../src/graph/control.h"
#include "binding.h"

/* ---- the watch ---------------------------------------------------------- */

typedef struct level {
  tl_trace *tr;      /* the branch's trace */
  uint32_t id;       /* its tensors' sym_trace (0 until known) */
  tl_tensor **seen;  /* retained */
  int n, cap;
} level;

#define MAX_LEVELS 64
static _Thread_local level levels[MAX_LEVELS];
static _Thread_local int n_levels;

static void note(level *lv, tl_tensor *t) {
  if (!t || !tl_tensor_is_symbolic(t) || (lv->id && t->sym_trace == lv->id)) return;
  for (int i = 0; i < lv->n; i++)
    if (lv->seen[i] == t) return;
  if (lv->n == lv->cap) {
    int c = lv->cap ? lv->cap * 2 : 16;
    tl_tensor **p = realloc(lv->seen, sizeof *p * (size_t)c);
    if (!p) return; /* out of memory: only the gradient would miss this input */
    lv->seen = p;
    lv->cap = c;
  }
  lv->seen[lv->n++] = tl_tensor_retain(t);
}

static level *top_for_current(void) {
  if (!n_levels) return NULL;
  level *lv = &levels[n_levels - 1];
  return lv->tr == tl_trace_current() ? lv : NULL;
}

static tl_status after_op(void *ctx, const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                          const tl_tensor_list *out, int depth) {
  (void)ctx;
  (void)op;
  (void)attrs;
  if (!n_levels || depth > 0 || !tl_trace_active()) return TL_OK;
  level *lv = top_for_current();
  if (!lv) return TL_OK;
  if (!lv->id && out->n > 0 && out->items[0] && tl_tensor_is_symbolic(out->items[0])) {
    lv->id = out->items[0]->sym_trace;
    /* drop what was noted before the id was known and is the branch's own */
    int w = 0;
    for (int i = 0; i < lv->n; i++) {
      if (lv->seen[i]->sym_trace == lv->id) tl_tensor_release(lv->seen[i]);
      else lv->seen[w++] = lv->seen[i];
    }
    lv->n = w;
  }
  for (int i = 0; i < n_in; i++) note(lv, in[i]);
  return TL_OK;
}

static const tl_observer watch_observer = {.after = after_op};

static int l_watch_begin(lua_State *L) {
  static bool installed;
  if (!installed) {
    tl_status s = tl_observer_add(&watch_observer);
    if (s) return tlb_raise(L, s);
    installed = true;
  }
  if (n_levels == MAX_LEVELS)
    return tlb_raise_kind(L, "ResourceExhausted", "control flow nested too deeply (at most 64 levels while tracing)");
  if (!tl_trace_current()) return tlb_raise_kind(L, "Internal", "control.watch_begin: no trace");
  level *lv = &levels[n_levels];
  memset(lv, 0, sizeof *lv);
  lv->tr = tl_trace_current();
  if (lua_istable(L, 1)) {
    int n = (int)lua_rawlen(L, 1);
    for (int i = 0; i < n && !lv->id; i++) {
      lua_rawgeti(L, 1, i + 1);
      tl_tensor *t = tlb_test_tensor(L, -1);
      if (t && tl_tensor_is_symbolic(t)) lv->id = t->sym_trace;
      lua_pop(L, 1);
    }
  }
  n_levels++;
  lua_pushinteger(L, n_levels);
  return 1;
}

static void pop_level(void) {
  level *lv = &levels[--n_levels];
  for (int i = 0; i < lv->n; i++) tl_tensor_release(lv->seen[i]);
  free(lv->seen);
  memset(lv, 0, sizeof *lv);
}

/* watch_end(lvl, outputs) -> list of the enclosing tensors used */
static int l_watch_end(lua_State *L) {
  int want = (int)luaL_checkinteger(L, 1);
  if (want < 1 || want > n_levels) return tlb_raise_kind(L, "Internal", "control.watch_end: no such watch");
  while (n_levels > want) pop_level();
  level *lv = &levels[n_levels - 1];
  if (lua_istable(L, 2)) {
    int n = (int)lua_rawlen(L, 2);
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, 2, i + 1);
      note(lv, tlb_test_tensor(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_createtable(L, lv->n, 0);
  int k = 0;
  for (int i = 0; i < lv->n; i++) {
    if (lv->id && lv->seen[i]->sym_trace == lv->id) continue;
    tlb_push_tensor(L, tl_tensor_retain(lv->seen[i]));
    lua_rawseti(L, -2, ++k);
  }
  pop_level();
  return 1;
}

/* ---- captures and args -------------------------------------------------- */

static int l_captures(lua_State *L) {
  tl_graph *g = tlb_check_graph(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int first = (int)luaL_checkinteger(L, 3);
  tl_trace *tr = tl_trace_current();
  if (!tr) return tlb_raise_kind(L, "Internal", "control.captures: no trace");
  int n_seen = (int)lua_rawlen(L, 2);
  int *vid = lua_newuserdatauv(L, sizeof(int) * (size_t)(n_seen + 1), 0);
  for (int i = 0; i < n_seen; i++) {
    lua_rawgeti(L, 2, i + 1);
    tl_tensor *t = tlb_test_tensor(L, -1);
    lua_pop(L, 1);
    if (!t || tl_trace_value(tr, t, &vid[i])) vid[i] = -2;
  }
  lua_createtable(L, g->n_args > first ? g->n_args - first : 0, 0);
  int k = 0;
  for (int p = first; p < g->n_args; p++) {
    int c = g->nodes[g->values[g->args[p]].node].capture;
    int found = -1;
    for (int i = 0; i < n_seen && found < 0; i++)
      if (vid[i] == c) found = i;
    if (found >= 0) {
      lua_rawgeti(L, 2, found + 1);
    } else {
      if (c < 0) return tlb_raise_kind(L, "Internal", "control.captures: an argument is not a capture");
      tl_tensor *t;
      tl_status s = tl_trace_symbolic(tr, c, &t);
      if (s) return tlb_raise(L, s);
      tlb_push_tensor(L, t);
    }
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

/* The ARG position in g whose capture is c, or -1. */
static int arg_capturing(const tl_graph *g, int first, int c) {
  for (int p = first; p < g->n_args; p++)
    if (g->nodes[g->values[g->args[p]].node].capture == c) return p;
  return -1;
}

/* Rewrites g's args as [its first n, then one per capture in caps]
 * (adding ARG nodes for captures it lacks, with the metas given). */
static tl_status reorder(tl_graph *g, int n, const int *caps, const tl_meta *metas, int n_caps) {
  int *order = malloc(sizeof(int) * (size_t)(n + n_caps + 1));
  if (!order) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  for (int p = 0; p < n; p++) order[p] = g->args[p];
  tl_status s = TL_OK;
  for (int j = 0; j < n_caps && !s; j++) {
    int p = arg_capturing(g, n, caps[j]);
    if (p >= 0) {
      order[n + j] = g->args[p];
    } else {
      int v;
      if (!(s = tl_graph_add_arg(g, &metas[j], &v))) {
        g->nodes[g->values[v].node].capture = caps[j];
        order[n + j] = v;
      }
    }
  }
  if (!s && g->n_args != n + n_caps) s = tl_error(TL_INTERNAL, "control.align: %d args for %d", g->n_args, n + n_caps);
  if (!s) {
    for (int p = 0; p < n + n_caps; p++) {
      g->args[p] = order[p];
      g->nodes[g->values[order[p]].node].arg = p;
    }
    tl_graph_invalidate(g);
  }
  free(order);
  return s;
}

static int l_align(lua_State *L) {
  tl_graph *a = tlb_check_graph(L, 1), *b = tlb_check_graph(L, 2);
  int n = (int)luaL_checkinteger(L, 3);
  if (n > a->n_args || n > b->n_args) return tlb_raise_kind(L, "Internal", "control.align: too few args");
  int cap = a->n_args + b->n_args;
  int *caps = lua_newuserdatauv(L, sizeof(int) * (size_t)(cap + 1), 0);
  tl_meta *metas = lua_newuserdatauv(L, sizeof(tl_meta) * (size_t)(cap + 1), 0);
  int nc = 0;
  for (int pass = 0; pass < 2; pass++) {
    tl_graph *g = pass ? b : a;
    for (int p = n; p < g->n_args; p++) {
      const tl_gnode *nd = &g->nodes[g->values[g->args[p]].node];
      bool dup = false;
      for (int j = 0; j < nc && !dup; j++) dup = caps[j] == nd->capture;
      if (dup) continue;
      caps[nc] = nd->capture;
      metas[nc++] = g->values[g->args[p]].meta;
    }
  }
  tl_status s = reorder(a, n, caps, metas, nc);
  if (!s) s = reorder(b, n, caps, metas, nc);
  if (s) return tlb_raise(L, s);
  return 0;
}

/* ---- emit --------------------------------------------------------------- */

static void read_meta(lua_State *L, int idx, tl_meta *m) {
  lua_rawgeti(L, idx, 1);
  m->dtype = tlb_check_dtype(L, -1);
  lua_pop(L, 1);
  lua_rawgeti(L, idx, 2);
  int d = lua_gettop(L);
  luaL_checktype(L, d, LUA_TTABLE);
  lua_getfield(L, d, "n");
  lua_Integer rank = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : (lua_Integer)lua_rawlen(L, d);
  lua_pop(L, 1);
  if (rank < 0 || rank > TL_MAX_RANK) luaL_error(L, "control.emit: rank out of range");
  m->rank = (int)rank;
  for (int i = 0; i < m->rank; i++) {
    lua_rawgeti(L, d, i + 1);
    m->shape[i] = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
    if (m->shape[i] < -1) m->shape[i] = -1;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static int l_emit(lua_State *L) {
  static const char *const kinds[] = {"cond", "while", "call", NULL};
  static const tl_node_kind kind_of[] = {TL_NODE_COND, TL_NODE_WHILE, TL_NODE_CALL};
  tl_node_kind kind = kind_of[luaL_checkoption(L, 1, NULL, kinds)];
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TTABLE);
  int arg = (int)luaL_optinteger(L, 5, 0);
  lua_Integer iparam = luaL_optinteger(L, 6, -1);
  int n_in = (int)lua_rawlen(L, 2), n_sub = (int)lua_rawlen(L, 3), n_out = (int)lua_rawlen(L, 4);
  tl_tensor **ins = lua_newuserdatauv(L, sizeof *ins * (size_t)(n_in + 1), 0);
  for (int i = 0; i < n_in; i++) {
    lua_rawgeti(L, 2, i + 1);
    ins[i] = tlb_test_tensor(L, -1);
    lua_pop(L, 1);
    if (!ins[i]) return tlb_raise_kind(L, "Internal", "control.emit: an input is not a tensor");
  }
  tl_meta *metas = lua_newuserdatauv(L, sizeof *metas * (size_t)(n_out + 1), 0);
  for (int i = 0; i < n_out; i++) {
    lua_rawgeti(L, 4, i + 1);
    luaL_checktype(L, -1, LUA_TTABLE);
    read_meta(L, lua_gettop(L), &metas[i]);
    lua_pop(L, 1);
  }
  tl_graph **subs = lua_newuserdatauv(L, sizeof *subs * (size_t)(n_sub + 1), 0);
  for (int i = 0; i < n_sub; i++) {
    lua_rawgeti(L, 3, i + 1);
    subs[i] = tlb_check_graph(L, -1);
    lua_pop(L, 1);
  }
  if (!tl_trace_current()) return tlb_raise_kind(L, "Internal", "control.emit: no trace");
  tlb_push_where(L);
  const char *w = lua_tostring(L, -1);
  if (w && strcmp(w, "?") == 0) w = NULL;
  for (int i = 0; i < n_sub; i++) tl_graph_retain(subs[i]); /* emit takes one reference each */
  tl_tensor_list out;
  tl_list_init(&out);
  tl_status s = tlg_control_emit(kind, ins, n_in, subs, n_sub, metas, n_out, arg, iparam, w, &out);
  if (s) return tlb_raise(L, s);
  /* The node's inputs are enclosing tensors used by the branch being traced
   * one level up, when this node sits inside another branch. */
  level *lv = top_for_current();
  if (lv) {
    if (!lv->id && out.n > 0) lv->id = out.items[0]->sym_trace;
    for (int i = 0; i < n_in; i++) note(lv, ins[i]);
  }
  lua_createtable(L, out.n, 0);
  for (int i = 0; i < out.n; i++) {
    tlb_push_tensor(L, out.items[i]);
    lua_rawseti(L, -2, i + 1);
  }
  if (out.items != out.inline_items) free(out.items);
  return 1;
}

static const luaL_Reg funcs[] = {
    {"watch_begin", l_watch_begin}, {"watch_end", l_watch_end}, {"captures", l_captures},
    {"align", l_align},             {"emit", l_emit},           {NULL, NULL},
};

int luaopen_tlua_control(lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
