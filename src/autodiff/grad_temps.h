/* grad_temps.h — temporaries for gradient rules written with ops.
 *
 * A rule keeps the tensors it makes in a tl_temps and releases them all at
 * the end. Each helper returns NULL on failure (the status is in
 * tl_last_status()) and passes a NULL operand through as NULL, so a chain
 * of calls stops at the first error and is checked once. */
#ifndef TL_GRAD_TEMPS_H
#define TL_GRAD_TEMPS_H
#include "tl.h"

typedef struct tl_temps {
  tl_tensor *t[32];
  int n;
} tl_temps;

/* Remembers t (a new reference) for release by tl_temps_free; returns it. */
tl_tensor *tl_temps_keep(tl_temps *T, tl_tensor *t);
void tl_temps_free(tl_temps *T);
/* op(a) / op(a, b) through tl_call; the result is kept in T. */
tl_tensor *tl_temps_op1(tl_temps *T, const char *name, tl_tensor *a, int na, const tl_named_attr *attrs);
tl_tensor *tl_temps_op2(tl_temps *T, const char *name, tl_tensor *a, tl_tensor *b);
/* op(a) without attributes. */
static inline tl_tensor *tl_temps_un(tl_temps *T, const char *name, tl_tensor *a) {
  return tl_temps_op1(T, name, a, 0, NULL);
}
/* A scalar of dtype dt on like's device, kept in T. */
tl_tensor *tl_temps_scalar(tl_temps *T, const tl_tensor *like, tl_dtype dt, double v);
/* cast(a, dt), kept in T. */
tl_tensor *tl_temps_cast(tl_temps *T, tl_tensor *a, tl_dtype dt);
/* Hands res (one of T's temporaries, or NULL after a failure) to *gin as a
 * new reference and returns the status; releases T's temporaries when last
 * (the rule's final result) or on failure. */
tl_status tl_temps_give(tl_temps *T, tl_tensor *res, tl_tensor **gin, bool last);
/* For a rule that runs other ops' rules on values of its own (the fused
 * element-wise op): every operand is wanted until the saved mask is put
 * back (tl_grad_wants would otherwise answer for the outer op's inputs). */
uint64_t tl_grad_wants_all(void);
void tl_grad_wants_restore(uint64_t saved);
#endif
