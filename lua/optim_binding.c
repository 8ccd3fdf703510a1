/* optim_binding.c — the Lua side of the fused optimizer updates: core.optim.
 *
 * Keras optimizers (stdlib/keras/optimizers.lua) keep their hyperparameters
 * in one Lua table and call optim.apply once per training step with every
 * (variable, gradient, slots) triple. Here the gradients are checked first
 * (so a bad one leaves every variable untouched), clipped by norm (per
 * variable, or by the global norm across all of them), and then each
 * variable and its slots are updated in place by one fused kernel
 * (src/ops/optim.c). The storage comes from tl_variable_mutable, which
 * copies first when a reader still shares the value, so tensors read from a
 * variable never change. Nothing is allocated per step otherwise.
 *
 * It lives in its own file because lua/core.c is the generic binding; core
 * installs this table as core.optim (one line in luaopen_tlua_core), so the
 * functions share core's copy of the C library in both lua5.4 and tlua.
 */
#include <lauxlib.h>
#include <lua.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../src/ops/optim.h"
#include "binding.h"

static tl_variable *check_var(lua_State *L, int idx, const char *what, lua_Integer i) {
  tl_variable *v = tlb_test_variable(L, idx);
  if (!v) {
    char msg[200];
    snprintf(msg, sizeof msg, "apply_gradients: %s %lld is a %s, not a tf.Variable", what, (long long)i,
             luaL_typename(L, idx));
    tlb_raise_kind(L, "InvalidArgument", msg);
  }
  return v;
}

/* Reads the hyperparameter table at idx: rule = "adam", numeric fields by
 * their tl_optim_hparams names, flags as booleans. clipnorm and
 * global_clipnorm are returned separately (they act across variables). */
static void read_hparams(lua_State *L, int idx, tl_optim_hparams *hp, double *clipnorm, double *global_clipnorm) {
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "rule");
  const char *name = lua_tostring(L, -1);
  tl_optim_rule rule = name ? tl_optim_rule_from_name(name) : TL_OPTIM_RULE_COUNT;
  if (rule == TL_OPTIM_RULE_COUNT) luaL_error(L, "optim: unknown rule '%s'", name ? name : "nil");
  lua_pop(L, 1);
  tl_optim_defaults(rule, hp);
  *clipnorm = *global_clipnorm = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -2);
      int t = lua_type(L, -1);
      double x = t == LUA_TBOOLEAN ? (double)lua_toboolean(L, -1) : t == LUA_TNUMBER ? lua_tonumber(L, -1) : NAN;
      if (t == LUA_TNUMBER || t == LUA_TBOOLEAN) {
        if (strcmp(k, "clipnorm") == 0) *clipnorm = x;
        else if (strcmp(k, "global_clipnorm") == 0) *global_clipnorm = x;
        else tl_optim_hparams_set(hp, k, x);
      }
    }
    lua_pop(L, 1);
  }
}

/* optim.apply(hp, vars, grads, slots [, nodecay]): one step for every
 * variable. slots[i] is a list of up to 3 slot variables at the rule's
 * positions (false where unused); nodecay[i] true skips weight decay. */
static int l_apply(lua_State *L) {
  tl_optim_hparams hp;
  double clipnorm, global_clipnorm;
  read_hparams(L, 1, &hp, &clipnorm, &global_clipnorm);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TTABLE);
  bool has_nodecay = lua_type(L, 5) == LUA_TTABLE;
  lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
  if ((lua_Integer)lua_rawlen(L, 3) != n || (lua_Integer)lua_rawlen(L, 4) != n)
    return luaL_error(L, "optim.apply: vars, grads and slots differ in length");
  /* Pass 1: check everything and sum the squares for the global norm. */
  double total = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 2, i);
    tl_variable *v = check_var(L, -1, "variable", i);
    lua_rawgeti(L, 3, i);
    tl_tensor *g = tlb_test_tensor(L, -1);
    if (!g && tlb_test_variable(L, -1)) g = tlb_test_variable(L, -1)->value;
    if (!g) {
      char msg[200];
      snprintf(msg, sizeof msg, "apply_gradients: gradient %lld (for variable '%s') is a %s, not a tensor",
               (long long)i, v->name, luaL_typename(L, -1));
      return tlb_raise_kind(L, "InvalidArgument", msg);
    }
    if (g->dtype != v->value->dtype || !tl_tensor_same_shape(g, v->value)) {
      char a[160], b[160], msg[500];
      snprintf(msg, sizeof msg, "apply_gradients: the gradient for variable '%s' is %s, the variable is %s",
               v->name, tl_tensor_describe(g, a, sizeof a), tl_tensor_describe(v->value, b, sizeof b));
      return tlb_raise_kind(L, "InvalidArgument", msg);
    }
    if (v->value->dtype != TL_FLOAT32 && v->value->dtype != TL_FLOAT64) {
      char msg[300];
      snprintf(msg, sizeof msg, "apply_gradients: variable '%s' is %s: only float32 and float64 variables can be optimized",
               v->name, tl_dtypes[v->value->dtype].name);
      return tlb_raise_kind(L, "Unimplemented", msg);
    }
    if (global_clipnorm > 0 && clipnorm <= 0) {
      double ss;
      if (tl_optim_sumsq(g, &ss)) return tlb_raise(L, tl_last_status());
      total += ss;
    }
    lua_pop(L, 2);
  }
  /* tf.clip_by_global_norm: scale = clip * min(1/norm, 1/clip). */
  double global_scale = 1.0;
  if (global_clipnorm > 0 && clipnorm <= 0) {
    double norm = sqrt(total);
    global_scale = global_clipnorm * fmin(1.0 / norm, 1.0 / global_clipnorm);
  }
  double weight_decay = hp.weight_decay;
  /* Pass 2: update in place. */
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 2, i);
    tl_variable *v = tlb_test_variable(L, -1);
    lua_rawgeti(L, 3, i);
    tl_tensor *g = tlb_test_tensor(L, -1);
    if (!g) g = tlb_test_variable(L, -1)->value;
    lua_rawgeti(L, 4, i);
    int slots_idx = lua_gettop(L);
    tl_tensor *slots[TL_OPTIM_MAX_SLOTS] = {NULL};
    tl_status s = TL_OK;
    for (int j = 0; j < TL_OPTIM_MAX_SLOTS && lua_type(L, slots_idx) == LUA_TTABLE; j++) {
      lua_rawgeti(L, slots_idx, j + 1);
      tl_variable *sv = tlb_test_variable(L, -1);
      lua_pop(L, 1);
      if (sv && !s) s = tl_variable_mutable(sv, &slots[j]);
    }
    /* tf.clip_by_norm: t * clip / max(norm, clip). */
    hp.grad_scale = global_scale;
    if (clipnorm > 0 && !s) {
      double ss;
      s = tl_optim_sumsq(g, &ss);
      hp.grad_scale = clipnorm / fmax(sqrt(ss), clipnorm);
    }
    hp.weight_decay = weight_decay;
    if (has_nodecay) {
      lua_rawgeti(L, 5, i);
      if (lua_toboolean(L, -1)) hp.weight_decay = 0;
      lua_pop(L, 1);
    }
    tl_tensor *value, *gcopy = NULL;
    if (!s) s = tl_variable_mutable(v, &value);
    if (!s && g->storage == value->storage) {
      /* The variable passed as its own gradient: read a copy. */
      s = tl_tensor_new(g->dtype, g->rank, g->shape, &gcopy);
      if (!s) s = tl_tensor_copy_into(gcopy, g);
      g = gcopy;
    }
    if (!s) s = tl_optim_update(&hp, value, slots, g);
    if (gcopy) tl_tensor_release(gcopy);
    if (s) {
      tl_error_prefix("apply_gradients: variable '%s'", v->name);
      return tlb_raise(L, s);
    }
    lua_pop(L, 3);
  }
  return 0;
}

/* optim.slots(hp) -> {spec1, spec2, spec3}: {name=, init=} for each slot
 * position the settings use, false for the others. */
static int l_slots(lua_State *L) {
  tl_optim_hparams hp;
  double a, b;
  read_hparams(L, 1, &hp, &a, &b);
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

/* optim.full_like(var, value) -> a new tensor of the var's dtype and shape
 * filled with value: a slot's initial value (core.Variable copies it). */
static int l_full_like(lua_State *L) {
  tl_tensor *cur = tlb_check_tensor(L, 1);
  double init = luaL_checknumber(L, 2);
  tl_tensor *t;
  tl_status s = tl_tensor_new(cur->dtype, cur->rank, cur->shape, &t);
  if (s) return tlb_raise(L, s);
  void *data = tl_tensor_data(t);
  if (cur->dtype == TL_FLOAT32) {
    float *p = data;
    for (int64_t i = 0; i < t->size; i++) p[i] = (float)init;
  } else if (cur->dtype == TL_FLOAT64) {
    double *p = data;
    for (int64_t i = 0; i < t->size; i++) p[i] = init;
  } else {
    for (int64_t i = 0; i < t->size; i++) tl_store_f64(data, t->dtype, i, init);
  }
  tlb_push_tensor(L, t);
  return 1;
}

/* optim.sumsq(t) -> sum of squares as a Lua number (float tensors). */
static int l_sumsq(lua_State *L) {
  tl_tensor *t = tlb_check_tensor(L, 1);
  double ss;
  if (tl_optim_sumsq(t, &ss)) return tlb_raise(L, tl_last_status());
  lua_pushnumber(L, ss);
  return 1;
}

static const luaL_Reg funcs[] = {
    {"apply", l_apply}, {"slots", l_slots}, {"full_like", l_full_like}, {"sumsq", l_sumsq},
    {NULL, NULL},
};

int luaopen_tlua_optim(lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
