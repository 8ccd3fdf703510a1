/* optim_binding.c — core.optim: what the Keras optimizers
 * (stdlib/keras/optimizers.lua) ask the rule table of src/ops/optim.h
 * before they run the update ops: which slot variables a rule uses with
 * given settings, their names and initial values; and a metadata check of
 * a step's (variable, gradient) pairs before any update runs.
 *
 * The updates themselves are ops (apply_sgd, apply_adam, ...: one fused
 * op per rule, in src/ops/optim.c), called through the generic
 * dispatcher like any other op, so observers of op calls see them.
 */
#include <lauxlib.h>
#include <lua.h>

#include <stdio.h>
#include <string.h>

#include "../src/ops/optim.h"
#include "binding.h"

/* Reads the settings table at idx: rule = "adam", numeric fields by their
 * tl_optim_hparams names, flags as booleans. */
static void read_hparams(lua_State *L, int idx, tl_optim_hparams *hp) {
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "rule");
  const char *name = lua_tostring(L, -1);
  tl_optim_rule rule = name ? tl_optim_rule_from_name(name) : TL_OPTIM_RULE_COUNT;
  if (rule == TL_OPTIM_RULE_COUNT) {
    char msg[120];
    snprintf(msg, sizeof msg, "optim.slots: unknown rule '%s'", name ? name : "nil");
    tlb_raise_kind(L, "InvalidArgument", msg);
  }
  lua_pop(L, 1);
  tl_optim_defaults(rule, hp);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int t = lua_type(L, -1);
    if (lua_type(L, -2) == LUA_TSTRING && (t == LUA_TNUMBER || t == LUA_TBOOLEAN))
      tl_optim_hparams_set(hp, lua_tostring(L, -2), t == LUA_TBOOLEAN ? (double)lua_toboolean(L, -1) : lua_tonumber(L, -1));
    lua_pop(L, 1);
  }
}

/* optim.slots(hp) -> {spec1, spec2, spec3}: {name=, init=} for each slot
 * position the settings use, false for the others. */
static int l_slots(lua_State *L) {
  tl_optim_hparams hp;
  read_hparams(L, 1, &hp);
  lua_createtable(L, TL_OPTIM_MAX_SLOTS, 0);
  for (int i = 0; i < TL_OPTIM_MAX_SLOTS; i++) {
    if (tl_optim_slot_used(&hp, i)) {
      lua_createtable(L, 0, 2);
      lua_pushstring(L, tl_optim_slot_name(hp.rule, i));
      lua_setfield(L, -2, "name");
      lua_pushnumber(L, tl_optim_slot_init(&hp, i));
      lua_setfield(L, -2, "init");
    } else {
      lua_pushboolean(L, 0);
    }
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* optim.check(name, vars, grads, n): every gradient fits its variable
 * (a float32/float64 tf.Variable; the gradient a tensor or variable of its
 * dtype and shape), checked for all n pairs before the first update runs,
 * so a bad pair leaves every variable untouched. Reads metadata only. */
static int l_check(lua_State *L) {
  const char *who = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_Integer n = luaL_checkinteger(L, 4);
  char msg[600], a[160], b[160];
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 2, i);
    tl_variable *v = tlb_test_variable(L, -1);
    if (!v) {
      snprintf(msg, sizeof msg, "%s.apply_gradients: variable %lld is a %s, not a tf.Variable", who, (long long)i,
               luaL_typename(L, -1));
      return tlb_raise_kind(L, "InvalidArgument", msg);
    }
    lua_rawgeti(L, 3, i);
    tl_tensor *g = tlb_test_tensor(L, -1);
    if (!g && tlb_test_variable(L, -1)) g = tlb_test_variable(L, -1)->value;
    if (!g) {
      snprintf(msg, sizeof msg, "%s.apply_gradients: gradient %lld (for variable '%s') is a %s, not a tensor", who,
               (long long)i, v->name, luaL_typename(L, -1));
      return tlb_raise_kind(L, "InvalidArgument", msg);
    }
    if (g->dtype != v->value->dtype || !tl_tensor_same_shape(g, v->value)) {
      snprintf(msg, sizeof msg, "%s.apply_gradients: the gradient for variable '%s' is %s, the variable is %s", who,
               v->name, tl_tensor_describe(g, a, sizeof a), tl_tensor_describe(v->value, b, sizeof b));
      return tlb_raise_kind(L, "InvalidArgument", msg);
    }
    if (v->value->dtype != TL_FLOAT32 && v->value->dtype != TL_FLOAT64) {
      snprintf(msg, sizeof msg, "%s.apply_gradients: variable '%s' is %s: only float32 and float64 variables can be optimized",
               who, v->name, tl_dtypes[v->value->dtype].name);
      return tlb_raise_kind(L, "Unimplemented", msg);
    }
    lua_pop(L, 2);
  }
  return 0;
}

static const luaL_Reg funcs[] = {
    {"slots", l_slots}, {"check", l_check},
    {NULL, NULL},
};

int luaopen_tlua_optim(lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
