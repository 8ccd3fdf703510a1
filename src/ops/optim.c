/* ops/optim.c — fused optimizer updates: one pass over memory per variable.
 *
 * Each Keras optimizer's update is one rule here: a loop that reads the
 * gradient, the variable and its slots once and writes the variable and
 * slots once, in place (see optim.h for the ownership contract). The
 * gradient is first scaled (clip_by_norm / clip_by_global_norm, computed by
 * the caller as grad_scale) and clipped by clipvalue, then decoupled weight
 * decay multiplies the variable by (1 - weight_decay * lr), as tf.keras 2's
 * base optimizer does before every rule.
 *
 * Each rule is one op (apply_sgd, apply_adam, ...; internal, in
 * tf.raw_ops) taking the variable and its slots as resource inputs, the
 * gradient, and the hyperparameters that change over time as tensors or
 * variables (learning_rate, iterations, Nadam's mu_product): the only
 * path, so a tracer observing op calls records the whole update.
 *
 * Scalars derived from the step (bias corrections, Nadam's schedule) are
 * computed once per call in double, then each rule runs in the variable's
 * dtype. Large variables are split across the thread pool. The file is
 * built with -O3 -fno-math-errno -ffp-contract=off (CMakeLists.txt) so the
 * loops vectorize (with errno, every sqrt keeps a branch to the library
 * call) without fusing multiply-adds. Results stay IEEE.
 */
#include "optim.h"
#include "ops.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <tgmath.h>

/* ---- rule metadata ------------------------------------------------------ */

typedef struct rule_info {
  const char *name;
  const char *slot[TL_OPTIM_MAX_SLOTS];
} rule_info;

/* ORDER RULES */
static const rule_info rules[] = {
    {"sgd", {"momentum", NULL, NULL}},
    {"rmsprop", {"velocity", "momentum", "average_gradient"}},
    {"adam", {"m", "v", "vhat"}},
    {"nadam", {"m", "v", NULL}},
    {"adamax", {"m", "u", NULL}},
    {"adagrad", {"accumulator", NULL, NULL}},
    {"adadelta", {"accumulated_grad", "accumulated_delta_var", NULL}},
    {"ftrl", {"accumulator", "linear", NULL}},
    {"lion", {"m", NULL, NULL}},
};
_Static_assert(sizeof rules / sizeof rules[0] == TL_OPTIM_RULE_COUNT, "ORDER RULES");

const char *tl_optim_rule_name(tl_optim_rule rule) {
  return rule < TL_OPTIM_RULE_COUNT ? rules[rule].name : "?";
}

tl_optim_rule tl_optim_rule_from_name(const char *name) {
  for (int r = 0; r < TL_OPTIM_RULE_COUNT; r++)
    if (strcmp(rules[r].name, name) == 0) return (tl_optim_rule)r;
  return TL_OPTIM_RULE_COUNT;
}

const char *tl_optim_slot_name(tl_optim_rule rule, int i) {
  return rule < TL_OPTIM_RULE_COUNT && i >= 0 && i < TL_OPTIM_MAX_SLOTS ? rules[rule].slot[i] : NULL;
}

void tl_optim_defaults(tl_optim_rule rule, tl_optim_hparams *hp) {
  memset(hp, 0, sizeof *hp);
  hp->rule = rule;
  hp->learning_rate = rule == TL_OPTIM_SGD ? 0.01 : rule == TL_OPTIM_LION ? 1e-4 : 0.001;
  hp->beta_1 = 0.9;
  hp->beta_2 = rule == TL_OPTIM_LION ? 0.99 : 0.999;
  hp->epsilon = 1e-7;
  hp->rho = rule == TL_OPTIM_ADADELTA ? 0.95 : 0.9;
  hp->lr_power = -0.5;
  hp->initial_accumulator_value = 0.1;
  hp->mu_t = hp->mu_next = hp->mu_product = 0.9;
  hp->grad_scale = 1.0;
  hp->step = 1;
}

bool tl_optim_slot_used(const tl_optim_hparams *hp, int i) {
  switch (hp->rule) {
  case TL_OPTIM_SGD: return i == 0 && hp->momentum > 0;
  case TL_OPTIM_RMSPROP: return i == 0 || (i == 1 && hp->momentum > 0) || (i == 2 && hp->centered);
  case TL_OPTIM_ADAM: return i < 2 || (i == 2 && hp->amsgrad);
  case TL_OPTIM_NADAM:
  case TL_OPTIM_ADAMAX:
  case TL_OPTIM_ADADELTA:
  case TL_OPTIM_FTRL: return i < 2;
  case TL_OPTIM_ADAGRAD:
  case TL_OPTIM_LION: return i == 0;
  default: return false;
  }
}

double tl_optim_slot_init(const tl_optim_hparams *hp, int i) {
  if (i == 0 && (hp->rule == TL_OPTIM_ADAGRAD || hp->rule == TL_OPTIM_FTRL))
    return hp->initial_accumulator_value;
  return 0.0;
}

/* ---- the rules ---------------------------------------------------------- */

/* Per-call scalars, in double; each rule converts the ones it uses. */
typedef struct coeffs {
  double lr, decay;            /* decay = 1 - weight_decay * lr */
  double gscale, lo, hi;       /* gradient scale and clip range */
  double b1, b2, one_m_b1, one_m_b2, eps;
  double rho, one_m_rho, mom;
  double alpha;                /* Adam: lr*sqrt(1-b2^t)/(1-b1^t); Adamax: lr/(1-b1^t) */
  double cg, cm, inv_bc2;      /* Nadam: gradient and momentum weights, 1/(1-b2^t) */
  double l1, l2, lrp, shrink2; /* Ftrl: l2 includes beta/(2 lr); shrink2 = 2*l2_shrinkage */
} coeffs;

typedef struct upd upd;
typedef void (*upd_fn)(const upd *c, int64_t b, int64_t e);
struct upd {
  coeffs k;
  void *p, *s[TL_OPTIM_MAX_SLOTS];
  const void *g;
  bool centered, has_mom;
  upd_fn fn;
};

/* Stamps a rule's float and double loop. The body sees `real` (the
 * element type), i, g (scaled and clipped gradient), p (the variable after
 * weight decay; the body updates it), the slot arrays S0..S2, and the
 * coefficients k; it writes the slots it uses. */
#define RULE_LOOP(T, ...)                                                           \
  typedef T real;                                                                   \
  const coeffs k = c->k;                                                            \
  real *restrict P = c->p;                                                          \
  real *restrict S0 = c->s[0], *restrict S1 = c->s[1], *restrict S2 = c->s[2];      \
  const real *restrict G = c->g;                                                    \
  const real gscale = (real)k.gscale, lo = (real)k.lo, hi = (real)k.hi;             \
  const real decay = (real)k.decay;                                                 \
  (void)S0, (void)S1, (void)S2;                                                     \
  for (int64_t i = b; i < e; i++) {                                                 \
    real g = G[i] * gscale;                                                         \
    g = g < lo ? lo : g > hi ? hi : g;                                              \
    real p = P[i] * decay;                                                          \
    __VA_ARGS__                                                                     \
    P[i] = p;                                                                       \
  }
/* TL_HOT: an AVX2 clone (8 floats per instruction) beside the baseline
 * one. The file is built with -ffp-contract=off, so no clone fuses a
 * multiply-add: every element gets the same IEEE operations in the same
 * order on every machine, and updates stay bit-identical to the scalar
 * formulas (a resumed checkpoint continues exactly). */
#define RULE(f32, f64, ...)                                                                        \
  TL_HOT static void f32(const upd *c, int64_t b, int64_t e) { RULE_LOOP(float, __VA_ARGS__) }  \
  TL_HOT static void f64(const upd *c, int64_t b, int64_t e) { RULE_LOOP(double, __VA_ARGS__) }

/* SGD: var += -lr*g, or with momentum m = mom*m - lr*g; var += m
 * (nesterov: var += mom*m - lr*g). */
RULE(sgd_f32, sgd_f64, p -= g * (real)k.lr;)
RULE(sgd_momentum_f32, sgd_momentum_f64,
     real m = -g * (real)k.lr + S0[i] * (real)k.mom;
     S0[i] = m;
     p += m;)
RULE(sgd_nesterov_f32, sgd_nesterov_f64,
     real m = -g * (real)k.lr + S0[i] * (real)k.mom;
     S0[i] = m;
     p += -g * (real)k.lr + m * (real)k.mom;)

/* RMSprop: epsilon inside the square root, as Keras (and TF's ApplyRMSProp). */
RULE(rmsprop_f32, rmsprop_f64,
     real v = (real)k.rho * S0[i] + (real)k.one_m_rho * g * g;
     S0[i] = v;
     real denom = v + (real)k.eps;
     if (c->centered) {
       real a = (real)k.rho * S2[i] + (real)k.one_m_rho * g;
       S2[i] = a;
       denom = v - a * a + (real)k.eps;
     }
     real inc = g * (real)k.lr / sqrt(denom);
     if (c->has_mom) {
       real mo = (real)k.mom * S1[i] + inc;
       S1[i] = mo;
       p -= mo;
     } else {
       p -= inc;
     })

/* Adam: epsilon added to sqrt(v) after folding the bias corrections into
 * alpha (Keras's epsilon-hat form). */
RULE(adam_f32, adam_f64,
     real m = S0[i] + (g - S0[i]) * (real)k.one_m_b1;
     real v = S1[i] + (g * g - S1[i]) * (real)k.one_m_b2;
     S0[i] = m;
     S1[i] = v;
     p -= m * (real)k.alpha / (sqrt(v) + (real)k.eps);)
RULE(adam_amsgrad_f32, adam_amsgrad_f64,
     real m = S0[i] + (g - S0[i]) * (real)k.one_m_b1;
     real v = S1[i] + (g * g - S1[i]) * (real)k.one_m_b2;
     real vh = S2[i] > v ? S2[i] : v;
     S0[i] = m;
     S1[i] = v;
     S2[i] = vh;
     p -= m * (real)k.alpha / (sqrt(vh) + (real)k.eps);)

/* Nadam (tf.keras 2 / PyTorch NAdam): var -= lr * (cg*g + cm*m) /
 * (sqrt(v/(1-b2^t)) + eps) with cg = (1-mu_t)/(1-prod_t),
 * cm = mu_{t+1}/(1-prod_t*mu_{t+1}). */
RULE(nadam_f32, nadam_f64,
     real m = (real)k.b1 * S0[i] + (real)k.one_m_b1 * g;
     real v = (real)k.b2 * S1[i] + (real)k.one_m_b2 * g * g;
     S0[i] = m;
     S1[i] = v;
     p -= (real)k.lr * ((real)k.cg * g + (real)k.cm * m) / (sqrt(v * (real)k.inv_bc2) + (real)k.eps);)

/* Adamax: u = max(b2*u, |g|); var -= lr/(1-b1^t) * m / (u + eps). */
RULE(adamax_f32, adamax_f64,
     real m = S0[i] + (g - S0[i]) * (real)k.one_m_b1;
     real u = (real)k.b2 * S1[i];
     real ag = fabs(g);
     u = u > ag ? u : ag;
     S0[i] = m;
     S1[i] = u;
     p -= (real)k.alpha * m / (u + (real)k.eps);)

/* Adagrad: epsilon inside the square root (Keras). */
RULE(adagrad_f32, adagrad_f64,
     real a = S0[i] + g * g;
     S0[i] = a;
     p -= (real)k.lr * g / sqrt(a + (real)k.eps);)

RULE(adadelta_f32, adadelta_f64,
     real ag = (real)k.rho * S0[i] + (real)k.one_m_rho * g * g;
     S0[i] = ag;
     real dv = -sqrt(S1[i] + (real)k.eps) * g / sqrt(ag + (real)k.eps);
     S1[i] = (real)k.rho * S1[i] + (real)k.one_m_rho * dv * dv;
     p += (real)k.lr * dv;)

/* Ftrl-proximal as Keras: the new variable is solved from the linear term.
 * POW(x) is x^(-lr_power); the default lr_power = -0.5 gets sqrt, which
 * vectorizes. */
#define FTRL_BODY(POW)                                          \
  real acc = S0[i], lin = S1[i];                                \
  real gu = g + (real)k.shrink2 * p;                            \
  real na = acc + g * g;                                        \
  real pn = POW(na), pa = POW(acc);                             \
  lin += gu - (pn - pa) / (real)k.lr * p;                       \
  real quad = pn / (real)k.lr + 2 * (real)k.l2;                 \
  real l1 = (real)k.l1;                                         \
  real lc = lin < -l1 ? -l1 : lin > l1 ? l1 : lin;              \
  p = (lc - lin) / quad;                                        \
  S0[i] = na;                                                   \
  S1[i] = lin;
#define FTRL_SQRT(x) sqrt(x)
#define FTRL_POW(x) pow(x, (real)-k.lrp)
RULE(ftrl_sqrt_f32, ftrl_sqrt_f64, FTRL_BODY(FTRL_SQRT))
RULE(ftrl_f32, ftrl_f64, FTRL_BODY(FTRL_POW))

/* Lion: var -= lr * sign(b1*m + (1-b1)*g); m = b2*m + (1-b2)*g. sign keeps
 * NaN, as tf.sign does. */
RULE(lion_f32, lion_f64,
     real u = S0[i] * (real)k.b1 + g * (real)k.one_m_b1;
     real sg = (real)(u > 0) - (real)(u < 0);
     sg = u == u ? sg : u;
     p -= (real)k.lr * sg;
     S0[i] = S0[i] * (real)k.b2 + g * (real)k.one_m_b2;)

/* ---- driver ------------------------------------------------------------- */

static upd_fn pick(const tl_optim_hparams *hp, bool f64) {
  switch (hp->rule) {
  case TL_OPTIM_SGD:
    if (hp->momentum <= 0) return f64 ? sgd_f64 : sgd_f32;
    if (hp->nesterov) return f64 ? sgd_nesterov_f64 : sgd_nesterov_f32;
    return f64 ? sgd_momentum_f64 : sgd_momentum_f32;
  case TL_OPTIM_RMSPROP: return f64 ? rmsprop_f64 : rmsprop_f32;
  case TL_OPTIM_ADAM:
    if (hp->amsgrad) return f64 ? adam_amsgrad_f64 : adam_amsgrad_f32;
    return f64 ? adam_f64 : adam_f32;
  case TL_OPTIM_NADAM: return f64 ? nadam_f64 : nadam_f32;
  case TL_OPTIM_ADAMAX: return f64 ? adamax_f64 : adamax_f32;
  case TL_OPTIM_ADAGRAD: return f64 ? adagrad_f64 : adagrad_f32;
  case TL_OPTIM_ADADELTA: return f64 ? adadelta_f64 : adadelta_f32;
  case TL_OPTIM_FTRL:
    if (hp->lr_power == -0.5) return f64 ? ftrl_sqrt_f64 : ftrl_sqrt_f32;
    return f64 ? ftrl_f64 : ftrl_f32;
  case TL_OPTIM_LION: return f64 ? lion_f64 : lion_f32;
  default: return NULL;
  }
}

static void fill_coeffs(const tl_optim_hparams *hp, coeffs *k) {
  double t = (double)hp->step;
  memset(k, 0, sizeof *k);
  k->lr = hp->learning_rate;
  k->decay = 1.0 - hp->weight_decay * hp->learning_rate;
  k->gscale = hp->grad_scale;
  k->lo = hp->clipvalue > 0 ? -hp->clipvalue : -INFINITY;
  k->hi = hp->clipvalue > 0 ? hp->clipvalue : INFINITY;
  k->b1 = hp->beta_1;
  k->b2 = hp->beta_2;
  k->one_m_b1 = 1.0 - hp->beta_1;
  k->one_m_b2 = 1.0 - hp->beta_2;
  k->eps = hp->epsilon;
  k->rho = hp->rho;
  k->one_m_rho = 1.0 - hp->rho;
  k->mom = hp->momentum;
  double bc1 = 1.0 - pow(hp->beta_1, t), bc2 = 1.0 - pow(hp->beta_2, t);
  if (hp->rule == TL_OPTIM_ADAM) k->alpha = hp->learning_rate * sqrt(bc2) / bc1;
  if (hp->rule == TL_OPTIM_ADAMAX) k->alpha = hp->learning_rate / bc1;
  if (hp->rule == TL_OPTIM_NADAM) {
    k->cg = (1.0 - hp->mu_t) / (1.0 - hp->mu_product);
    k->cm = hp->mu_next / (1.0 - hp->mu_product * hp->mu_next);
    k->inv_bc2 = 1.0 / bc2;
  }
  k->l1 = hp->l1;
  k->l2 = hp->l2 + hp->beta / (2.0 * hp->learning_rate);
  k->lrp = hp->lr_power;
  k->shrink2 = 2.0 * hp->l2_shrinkage;
}

static void run_range(int64_t b, int64_t e, void *ctx) {
  const upd *c = ctx;
  c->fn(c, b, e);
}

/* Elements per parallel chunk: a few hundred KB of traffic each. */
#define OPTIM_GRAIN (1 << 15)

/* slot: the slot's name, NULL for the gradient (the message is only
 * formatted on a mismatch: this runs per variable per step). */
static tl_status check_operand(const char *slot, const tl_tensor *var, const tl_tensor *t) {
  if (t->dtype != var->dtype || !tl_tensor_same_shape(t, var)) {
    char a[160], b[160];
    tl_tensor_describe(t, a, sizeof a), tl_tensor_describe(var, b, sizeof b);
    if (slot) return tl_error(TL_INVALID_ARGUMENT, "slot '%s' is %s, the variable is %s", slot, a, b);
    return tl_error(TL_INVALID_ARGUMENT, "the gradient is %s, the variable is %s", a, b);
  }
  return TL_OK;
}

tl_status tl_optim_update(const tl_optim_hparams *hp, tl_tensor *var, tl_tensor *const *slots,
                          tl_tensor *grad) {
  if (hp->rule >= TL_OPTIM_RULE_COUNT) return tl_error(TL_INVALID_ARGUMENT, "unknown optimizer rule");
  if (var->dtype != TL_FLOAT32 && var->dtype != TL_FLOAT64)
    return tl_error(TL_UNIMPLEMENTED, "%s: only float32 and float64 variables can be optimized (got %s)",
                    rules[hp->rule].name, tl_dtypes[var->dtype].name);
  TL_ASSERT(tl_tensor_is_contiguous(var));
  tl_status s = check_operand(NULL, var, grad);
  if (s) return s;
  upd c;
  memset(&c, 0, sizeof c);
  for (int i = 0; i < TL_OPTIM_MAX_SLOTS; i++) {
    if (!tl_optim_slot_used(hp, i)) continue;
    if (!slots || !slots[i])
      return tl_error(TL_INVALID_ARGUMENT, "%s: slot '%s' is missing", rules[hp->rule].name,
                      rules[hp->rule].slot[i]);
    if ((s = check_operand(rules[hp->rule].slot[i], var, slots[i]))) return s;
    TL_ASSERT(tl_tensor_is_contiguous(slots[i]));
    c.s[i] = tl_tensor_data(slots[i]);
  }
  tl_tensor *g;
  if ((s = tl_tensor_contiguous(grad, &g))) return s;
  fill_coeffs(hp, &c.k);
  c.p = tl_tensor_data(var);
  c.g = tl_tensor_data(g);
  c.centered = hp->centered;
  c.has_mom = hp->momentum > 0;
  c.fn = pick(hp, var->dtype == TL_FLOAT64);
  tl_parallel_for(var->size, OPTIM_GRAIN, run_range, &c);
  tl_tensor_release(g);
  return TL_OK;
}

typedef struct sumsq_ctx {
  tl_dtype dt;
  double acc;
} sumsq_ctx;

static void sumsq_run(char **ptrs, const int64_t *strides, int64_t n, void *ctx) {
  sumsq_ctx *c = ctx;
  double acc = 0;
  int64_t st = strides[0];
  if (c->dt == TL_FLOAT32) {
    const float *x = (const float *)ptrs[0];
    for (int64_t i = 0; i < n; i++) acc += (double)x[i * st] * x[i * st];
  } else {
    const double *x = (const double *)ptrs[0];
    for (int64_t i = 0; i < n; i++) acc += x[i * st] * x[i * st];
  }
  c->acc += acc;
}

tl_status tl_optim_sumsq(tl_tensor *t, double *out) {
  if (t->dtype != TL_FLOAT32 && t->dtype != TL_FLOAT64)
    return tl_error(TL_UNIMPLEMENTED, "sum of squares of a %s tensor", tl_dtypes[t->dtype].name);
  sumsq_ctx c = {t->dtype, 0};
  if (t->size > 0) tl_iterate(1, &t, sumsq_run, &c);
  *out = c.acc;
  return TL_OK;
}

/* ---- hyperparameters by name ------------------------------------------ */

static const struct {
  const char *name;
  size_t off;
} double_fields[] = {
    {"learning_rate", offsetof(tl_optim_hparams, learning_rate)},
    {"beta_1", offsetof(tl_optim_hparams, beta_1)},
    {"beta_2", offsetof(tl_optim_hparams, beta_2)},
    {"epsilon", offsetof(tl_optim_hparams, epsilon)},
    {"rho", offsetof(tl_optim_hparams, rho)},
    {"momentum", offsetof(tl_optim_hparams, momentum)},
    {"lr_power", offsetof(tl_optim_hparams, lr_power)},
    {"l1", offsetof(tl_optim_hparams, l1)},
    {"l2", offsetof(tl_optim_hparams, l2)},
    {"l2_shrinkage", offsetof(tl_optim_hparams, l2_shrinkage)},
    {"beta", offsetof(tl_optim_hparams, beta)},
    {"initial_accumulator_value", offsetof(tl_optim_hparams, initial_accumulator_value)},
    {"mu_t", offsetof(tl_optim_hparams, mu_t)},
    {"mu_next", offsetof(tl_optim_hparams, mu_next)},
    {"mu_product", offsetof(tl_optim_hparams, mu_product)},
    {"weight_decay", offsetof(tl_optim_hparams, weight_decay)},
    {"grad_scale", offsetof(tl_optim_hparams, grad_scale)},
    {"clipvalue", offsetof(tl_optim_hparams, clipvalue)},
};

static const struct {
  const char *name;
  size_t off;
} bool_fields[] = {
    {"nesterov", offsetof(tl_optim_hparams, nesterov)},
    {"amsgrad", offsetof(tl_optim_hparams, amsgrad)},
    {"centered", offsetof(tl_optim_hparams, centered)},
};

#define N_DOUBLE_FIELDS (sizeof double_fields / sizeof double_fields[0])
#define N_BOOL_FIELDS (sizeof bool_fields / sizeof bool_fields[0])

bool tl_optim_hparams_set(tl_optim_hparams *hp, const char *name, double value) {
  if (strcmp(name, "step") == 0) {
    hp->step = (int64_t)value;
    return true;
  }
  for (size_t f = 0; f < N_BOOL_FIELDS; f++)
    if (strcmp(name, bool_fields[f].name) == 0) {
      *(bool *)((char *)hp + bool_fields[f].off) = value != 0;
      return true;
    }
  for (size_t f = 0; f < N_DOUBLE_FIELDS; f++)
    if (strcmp(name, double_fields[f].name) == 0) {
      *(double *)((char *)hp + double_fields[f].off) = value;
      return true;
    }
  return false;
}

/* ---- the update ops ------------------------------------------------------- */

/* What an apply_<rule> record fixes: its rule and which state inputs come
 * before the slots. Inputs: var:resource, grad, learning_rate, then
 * iterations:resource (rules whose coefficients depend on the step),
 * mu_product:resource (Nadam), grad_scale? (a scalar the caller computed
 * for global_clipnorm), slots[]:resource (the used slots, in the rule's
 * order). */
typedef struct apply_impl {
  tl_optim_rule rule;
  bool has_step, has_mu;
} apply_impl;

enum { IN_VAR, IN_GRAD, IN_LR };

static int in_scale(const apply_impl *k) { return IN_LR + 1 + k->has_step + k->has_mu; }

/* Where each of an apply op's attributes goes, resolved from the names
 * once per op (the names are fixed by the record), so a call does no
 * string matching. */
enum { F_CLIPNORM = -1, F_SCHEDULE_DECAY = -2, F_FLAG = -3, F_NONE = -4 };
typedef struct attr_map {
  int n;
  int field[TL_MAX_ATTRS];     /* index into double_fields, or F_* */
  size_t flag_off[TL_MAX_ATTRS]; /* F_FLAG: the bool's offset in tl_optim_hparams */
} attr_map;

static attr_map maps[TL_OPTIM_RULE_COUNT];
static pthread_once_t maps_once = PTHREAD_ONCE_INIT;
static tl_status apply_infer(TL_INFER_ARGS);

static void fill_maps(void) {
  extern tl_op_def tl_ops_optim[];
  for (const tl_op_def *op = tl_ops_optim; op->name; op++) {
    if (op->infer != apply_infer) continue;
    attr_map *m = &maps[((const apply_impl *)op->impl)->rule];
    m->n = op->n_attrs;
    for (int a = 0; a < op->n_attrs; a++) {
      const char *name = op->attr[a].name;
      m->field[a] = F_NONE;
      if (strcmp(name, "clipnorm") == 0) m->field[a] = F_CLIPNORM;
      else if (strcmp(name, "schedule_decay") == 0) m->field[a] = F_SCHEDULE_DECAY;
      for (size_t f = 0; f < N_DOUBLE_FIELDS; f++)
        if (strcmp(name, double_fields[f].name) == 0) m->field[a] = (int)f;
      for (size_t f = 0; f < N_BOOL_FIELDS; f++)
        if (strcmp(name, bool_fields[f].name) == 0) m->field[a] = F_FLAG, m->flag_off[a] = bool_fields[f].off;
    }
  }
}

/* Filled once, after registration parsed the attribute specs. */
static const attr_map *map_of(const tl_op_def *op) {
  pthread_once(&maps_once, fill_maps);
  return &maps[((const apply_impl *)op->impl)->rule];
}

/* The attributes into hp; clipnorm and schedule_decay are not hp fields. */
static void attrs_to_hparams(const tl_op_def *op, const tl_attr *attr, tl_optim_hparams *hp, double *clipnorm,
                             double *schedule_decay) {
  const apply_impl *k = op->impl;
  const attr_map *m = map_of(op);
  tl_optim_defaults(k->rule, hp);
  *clipnorm = 0;
  *schedule_decay = 0.004;
  for (int a = 0; a < m->n; a++) {
    const tl_attr *v = &attr[a];
    double x = v->type == TL_ATTR_INT ? (double)v->i : v->type == TL_ATTR_BOOL ? (double)v->b : v->f;
    int f = m->field[a];
    if (f >= 0) *(double *)((char *)hp + double_fields[f].off) = x;
    else if (f == F_CLIPNORM) *clipnorm = x;
    else if (f == F_SCHEDULE_DECAY) *schedule_decay = x;
    else if (f == F_FLAG) *(bool *)((char *)hp + m->flag_off[a]) = x != 0;
  }
}

static bool scalar_of(const tl_meta *m, bool want_float) {
  if (m->rank != 0 && m->rank != -1) return false;
  return want_float ? tl_dtype_is_float(m->dtype) : tl_dtype_is_integer(m->dtype);
}

/* No outputs: the op writes the variable and its slots (TensorFlow's
 * ResourceApply*). The rule checks every operand against the variable. */
static tl_status apply_infer(TL_INFER_ARGS) {
  (void)out;
  const apply_impl *k = op->impl;
  tl_optim_hparams hp;
  double clipnorm, sd;
  attrs_to_hparams(op, attr, &hp, &clipnorm, &sd);
  const tl_meta *var = in[IN_VAR];
  char a[160], b[160];
  if (var->dtype != TL_FLOAT32 && var->dtype != TL_FLOAT64)
    return tl_error(TL_UNIMPLEMENTED, "only float32 and float64 variables can be optimized (got %s)",
                    tl_dtypes[var->dtype].name);
  if (in[IN_GRAD]->dtype != var->dtype || !tl_meta_compatible(in[IN_GRAD], var))
    return tl_error(TL_INVALID_ARGUMENT, "the gradient is %s, the variable %s",
                    tl_meta_describe(in[IN_GRAD], a, sizeof a), tl_meta_describe(var, b, sizeof b));
  if (!scalar_of(in[IN_LR], true))
    return tl_error(TL_INVALID_ARGUMENT, "learning_rate must be a float scalar, got %s",
                    tl_meta_describe(in[IN_LR], a, sizeof a));
  int at = IN_LR + 1;
  if (k->has_step && !scalar_of(in[at++], false))
    return tl_error(TL_INVALID_ARGUMENT, "iterations must be an integer scalar variable, got %s",
                    tl_meta_describe(in[at - 1], a, sizeof a));
  if (k->has_mu && !scalar_of(in[at++], true))
    return tl_error(TL_INVALID_ARGUMENT, "mu_product must be a float scalar variable, got %s",
                    tl_meta_describe(in[at - 1], a, sizeof a));
  if (in[at] && !scalar_of(in[at], true))
    return tl_error(TL_INVALID_ARGUMENT, "grad_scale must be a float scalar, got %s",
                    tl_meta_describe(in[at], a, sizeof a));
  int first_slot = at + 1, used = 0;
  for (int i = 0; i < TL_OPTIM_MAX_SLOTS; i++) used += tl_optim_slot_used(&hp, i);
  if (n_in - first_slot != used) {
    char names[160] = "";
    for (int i = 0, j = 0; i < TL_OPTIM_MAX_SLOTS; i++)
      if (tl_optim_slot_used(&hp, i))
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", j++ ? ", " : "", rules[k->rule].slot[i]);
    return tl_error(TL_INVALID_ARGUMENT, "expected %d slot variable(s) (%s) for these settings, got %d", used,
                    used ? names : "none", n_in - first_slot);
  }
  for (int j = first_slot; j < n_in; j++)
    if (in[j]->dtype != var->dtype || !tl_meta_compatible(in[j], var))
      return tl_error(TL_INVALID_ARGUMENT, "slot %d is %s, the variable %s", j - first_slot,
                      tl_meta_describe(in[j], a, sizeof a), tl_meta_describe(var, b, sizeof b));
  return TL_OK;
}

/* A scalar's value inside a kernel (its memory is readable here, on the
 * kernel's device). */
static double scalar_f64(const tl_tensor *t) { return tl_load_f64(tl_tensor_data(t), t->dtype, 0); }

/* Nadam's momentum schedule: mu_t = beta_1 * (1 - 0.5 * 0.96^(schedule_decay * t))
 * (tf.keras 2 and PyTorch: schedule_decay = 0.004; Keras 3's 0.96^t is 1). */
static double nadam_mu(double beta_1, double schedule_decay, double t) {
  return beta_1 * (1 - 0.5 * pow(0.96, schedule_decay * t));
}

static tl_status apply_kernel(TL_KERNEL_ARGS) {
  (void)out;
  const apply_impl *k = op->impl;
  tl_optim_hparams hp;
  double clipnorm, sd;
  attrs_to_hparams(op, attr, &hp, &clipnorm, &sd);
  hp.learning_rate = scalar_f64(in[IN_LR]);
  int at = IN_LR + 1;
  if (k->has_step) {
    tl_variable *it = tl_resource_peek(in[at++]);
    TL_ASSERT(it);
    hp.step = tl_load_i64(tl_tensor_data(it->value), it->value->dtype, 0) + 1;
  }
  if (k->has_mu) {
    /* the product through t-1 is the state; this step multiplies mu_t in */
    tl_variable *mu = tl_resource_peek(in[at++]);
    TL_ASSERT(mu);
    double t = (double)hp.step;
    hp.mu_t = nadam_mu(hp.beta_1, sd, t);
    hp.mu_next = nadam_mu(hp.beta_1, sd, t + 1);
    hp.mu_product = scalar_f64(mu->value) * hp.mu_t;
  }
  TL_ASSERT(at == in_scale(k));
  if (in[at]) hp.grad_scale = scalar_f64(in[at]);
  tl_status s;
  if (clipnorm > 0) {
    /* tf.clip_by_norm: t * clip / max(norm, clip), the norm in double */
    double ss;
    if ((s = tl_optim_sumsq(in[IN_GRAD], &ss))) return s;
    hp.grad_scale = clipnorm / fmax(sqrt(ss), clipnorm);
  }
  /* Writable storage for the variable and its slots: in place when nobody
   * else holds them, else copied first (a reader's tensor never changes;
   * this also covers a gradient that is a read of the variable itself). */
  tl_tensor *slots[TL_OPTIM_MAX_SLOTS] = {NULL}, *value;
  for (int i = 0, j = at + 1; i < TL_OPTIM_MAX_SLOTS; i++) {
    if (!tl_optim_slot_used(&hp, i)) continue;
    TL_ASSERT(j < n_in);
    tl_variable *sv = tl_resource_peek(in[j++]);
    TL_ASSERT(sv);
    if ((s = tl_variable_mutable(sv, &slots[i]))) return s;
  }
  tl_variable *v = tl_resource_peek(in[IN_VAR]);
  TL_ASSERT(v);
  if ((s = tl_variable_mutable(v, &value))) return s;
  return tl_optim_update(&hp, value, slots, in[IN_GRAD]);
}

/* nadam_advance(mu_product, iterations): once per Nadam step, after the
 * variables' updates and before iterations moves on, the running product
 * takes this step's mu_t (the value every apply_nadam of the step used). */
static tl_status advance_infer(TL_INFER_ARGS) {
  (void)op, (void)n_in, (void)attr, (void)out;
  char a[160];
  if (!scalar_of(in[0], true))
    return tl_error(TL_INVALID_ARGUMENT, "mu_product must be a float scalar variable, got %s",
                    tl_meta_describe(in[0], a, sizeof a));
  if (!scalar_of(in[1], false))
    return tl_error(TL_INVALID_ARGUMENT, "iterations must be an integer scalar variable, got %s",
                    tl_meta_describe(in[1], a, sizeof a));
  return TL_OK;
}

static tl_status advance_kernel(TL_KERNEL_ARGS) {
  (void)op, (void)n_in, (void)out;
  tl_variable *mu = tl_resource_peek(in[0]), *it = tl_resource_peek(in[1]);
  TL_ASSERT(mu && it);
  double t = (double)(tl_load_i64(tl_tensor_data(it->value), it->value->dtype, 0) + 1);
  tl_tensor *dst;
  tl_status s = tl_variable_mutable(mu, &dst);
  if (s) return s;
  double prod = scalar_f64(dst) * nadam_mu(attr[0].f, attr[1].f, t);
  tl_store_f64(tl_tensor_data(dst), dst->dtype, 0, prod);
  return TL_OK;
}

/* clip_scale(grads[], clipnorm): tf.clip_by_global_norm's factor
 * clip * min(1/norm, 1/clip) as a float64 scalar, the norm summed in
 * double over every gradient of the step. */
static tl_status clip_infer(TL_INFER_ARGS) {
  (void)op, (void)attr;
  char a[160];
  for (int i = 0; i < n_in; i++)
    if (in[i]->dtype != TL_FLOAT32 && in[i]->dtype != TL_FLOAT64)
      return tl_error(TL_UNIMPLEMENTED, "gradient %d is %s: only float32 and float64 gradients", i,
                      tl_meta_describe(in[i], a, sizeof a));
  return tl_meta_push(out, TL_FLOAT64, 0, NULL) ? TL_OK : tl_last_status();
}

static tl_status clip_kernel(TL_KERNEL_ARGS) {
  (void)op;
  double total = 0, clip = attr[0].f;
  for (int i = 0; i < n_in; i++) {
    double ss;
    tl_status s = tl_optim_sumsq(in[i], &ss);
    if (s) return s;
    total += ss;
  }
  *(double *)tl_tensor_data(out->items[0]) = clip > 0 ? clip * fmin(1.0 / sqrt(total), 1.0 / clip) : 1.0;
  return TL_OK;
}

static const apply_impl impl_sgd = {TL_OPTIM_SGD, false, false}, impl_rmsprop = {TL_OPTIM_RMSPROP, false, false},
                        impl_adam = {TL_OPTIM_ADAM, true, false}, impl_nadam = {TL_OPTIM_NADAM, true, true},
                        impl_adamax = {TL_OPTIM_ADAMAX, true, false},
                        impl_adagrad = {TL_OPTIM_ADAGRAD, false, false},
                        impl_adadelta = {TL_OPTIM_ADADELTA, false, false}, impl_ftrl = {TL_OPTIM_FTRL, false, false},
                        impl_lion = {TL_OPTIM_LION, false, false};

#define PLAIN_INPUTS "var:resource, grad, learning_rate, grad_scale?, slots[]:resource"
#define STEP_INPUTS "var:resource, grad, learning_rate, iterations:resource, grad_scale?, slots[]:resource"
#define COMMON_ATTRS "weight_decay:float=0, clipnorm:float=0, clipvalue:float=0"
#define APPLY(nm, ins, k, attrs_, doc_)                                                                    \
  {.name = nm, .inputs = ins, .attrs = attrs_, .infer = apply_infer, .kernel[TL_CPU] = apply_kernel,      \
   .flags = TL_OP_STATEFUL | TL_OP_NO_GRADIENT, .impl = &k, .api = "-", .doc = doc_}

tl_op_def tl_ops_optim[] = {
    APPLY("apply_sgd", PLAIN_INPUTS, impl_sgd, "momentum:float=0, nesterov:bool=false, " COMMON_ATTRS,
          "One SGD step in place; slot momentum (when momentum > 0)."),
    APPLY("apply_rmsprop", PLAIN_INPUTS, impl_rmsprop,
          "rho:float=0.9, momentum:float=0, epsilon:float=1e-7, centered:bool=false, " COMMON_ATTRS,
          "One RMSprop step in place; slots velocity, momentum (momentum > 0), average_gradient (centered)."),
    APPLY("apply_adam", STEP_INPUTS, impl_adam,
          "beta_1:float=0.9, beta_2:float=0.999, epsilon:float=1e-7, amsgrad:bool=false, " COMMON_ATTRS,
          "One Adam/AdamW step in place at step iterations + 1; slots m, v, vhat (amsgrad)."),
    APPLY("apply_nadam",
          "var:resource, grad, learning_rate, iterations:resource, mu_product:resource, grad_scale?, "
          "slots[]:resource",
          impl_nadam, "beta_1:float=0.9, beta_2:float=0.999, epsilon:float=1e-7, schedule_decay:float=0.004, " COMMON_ATTRS,
          "One Nadam step in place at step iterations + 1 (mu_product: the momentum product through the "
          "previous step); slots m, v."),
    APPLY("apply_adamax", STEP_INPUTS, impl_adamax, "beta_1:float=0.9, beta_2:float=0.999, epsilon:float=1e-7, " COMMON_ATTRS,
          "One Adamax step in place at step iterations + 1; slots m, u."),
    APPLY("apply_adagrad", PLAIN_INPUTS, impl_adagrad, "epsilon:float=1e-7, " COMMON_ATTRS,
          "One Adagrad step in place; slot accumulator."),
    APPLY("apply_adadelta", PLAIN_INPUTS, impl_adadelta, "rho:float=0.95, epsilon:float=1e-7, " COMMON_ATTRS,
          "One Adadelta step in place; slots accumulated_grad, accumulated_delta_var."),
    APPLY("apply_ftrl", PLAIN_INPUTS, impl_ftrl,
          "lr_power:float=-0.5, l1:float=0, l2:float=0, l2_shrinkage:float=0, beta:float=0, " COMMON_ATTRS,
          "One FTRL-proximal step in place; slots accumulator, linear."),
    APPLY("apply_lion", PLAIN_INPUTS, impl_lion, "beta_1:float=0.9, beta_2:float=0.99, " COMMON_ATTRS,
          "One Lion step in place; slot m."),
    {.name = "nadam_advance", .inputs = "mu_product:resource, iterations:resource",
     .attrs = "beta_1:float=0.9, schedule_decay:float=0.004", .infer = advance_infer,
     .kernel[TL_CPU] = advance_kernel, .flags = TL_OP_STATEFUL | TL_OP_NO_GRADIENT, .api = "-",
     .doc = "Multiplies Nadam's running momentum product by mu_t of step iterations + 1."},
    {.name = "clip_scale", .inputs = "grads[]", .attrs = "clipnorm:float", .infer = clip_infer,
     .kernel[TL_CPU] = clip_kernel, .flags = TL_OP_NO_GRADIENT, .api = "-",
     .doc = "tf.clip_by_global_norm's scale factor for grads (float64 scalar)."},
    {0},
};
