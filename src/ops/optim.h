/* optim.h — fused optimizer updates of the C core (src/ops/optim.c).
 *
 * One update rule per Keras optimizer, each a single pass over the
 * variable, its slots (m, v, accumulators: tensors of the variable's dtype
 * and shape) and its gradient. tl_optim_update writes into var and slots in
 * place: the caller owns them exclusively (the apply_<rule> ops of
 * ops/optim.c get them from tl_variable_mutable). This table is the ops'
 * implementation; callers outside src/ops use the ops.
 * Formulas follow tf.keras 2's optimizers (keras/optimizers/ of
 * TF 2.11-2.15; Nadam as the tf.keras 2 / PyTorch NAdam momentum schedule).
 * Only float32 and float64 are supported.
 */
#ifndef TL_OPTIM_H
#define TL_OPTIM_H

#include "tl.h"

/* ORDER RULES: rules[] in ops/optim.c follows this order. */
typedef enum tl_optim_rule {
  TL_OPTIM_SGD = 0,  /* slots: momentum (when momentum > 0) */
  TL_OPTIM_RMSPROP,  /* velocity, momentum (momentum > 0), average_gradient (centered) */
  TL_OPTIM_ADAM,     /* m, v, vhat (amsgrad); AdamW is Adam with weight_decay */
  TL_OPTIM_NADAM,    /* m, v */
  TL_OPTIM_ADAMAX,   /* m, u */
  TL_OPTIM_ADAGRAD,  /* accumulator */
  TL_OPTIM_ADADELTA, /* accumulated_grad, accumulated_delta_var */
  TL_OPTIM_FTRL,     /* accumulator, linear */
  TL_OPTIM_LION,     /* m */
  TL_OPTIM_RULE_COUNT
} tl_optim_rule;

#define TL_OPTIM_MAX_SLOTS 3

typedef struct tl_optim_hparams {
  tl_optim_rule rule;
  double learning_rate;
  double beta_1, beta_2, epsilon;  /* Adam family, Lion */
  double rho, momentum;            /* RMSprop, Adadelta, SGD */
  double lr_power, l1, l2, l2_shrinkage, beta; /* Ftrl */
  double initial_accumulator_value; /* Adagrad, Ftrl: where the accumulator starts */
  /* Nadam's momentum schedule: mu_t, mu_{t+1}, and prod_{i<=t} mu_i. */
  double mu_t, mu_next, mu_product;
  double weight_decay;   /* decoupled: var -= var * weight_decay * lr first */
  double grad_scale;     /* multiplies the gradient (clip_by_norm); 1 = none */
  double clipvalue;      /* clips the gradient to [-c, c] when > 0 */
  int64_t step;          /* 1-based: the optimizer's iterations + 1 */
  bool nesterov, amsgrad, centered;
} tl_optim_hparams;

/* Fills hp with Keras's defaults for rule (learning rate included). */
void tl_optim_defaults(tl_optim_rule rule, tl_optim_hparams *hp);
/* Sets the field called name ("beta_1", "step", "amsgrad", ...; flags take
 * 0/1); false for an unknown name. */
bool tl_optim_hparams_set(tl_optim_hparams *hp, const char *name, double value);
const char *tl_optim_rule_name(tl_optim_rule rule); /* "adam" */
/* Returns TL_OPTIM_RULE_COUNT for an unknown name. */
tl_optim_rule tl_optim_rule_from_name(const char *name);
/* Which of the rule's TL_OPTIM_MAX_SLOTS slot positions hp uses, their
 * names, and the value a new slot starts at. */
bool tl_optim_slot_used(const tl_optim_hparams *hp, int i);
const char *tl_optim_slot_name(tl_optim_rule rule, int i);
double tl_optim_slot_init(const tl_optim_hparams *hp, int i);
/* One update in place. var and the used slots: contiguous, exclusively
 * owned, the same dtype and shape; grad: the same dtype and shape, any
 * strides. Unused slot positions may be NULL. */
tl_status tl_optim_update(const tl_optim_hparams *hp, tl_tensor *var, tl_tensor *const *slots,
                          tl_tensor *grad);
/* Sum of squares of a float tensor, accumulated in double (clip norms). */
tl_status tl_optim_sumsq(tl_tensor *t, double *out);

#endif
