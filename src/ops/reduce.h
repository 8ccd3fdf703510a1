/* ops/reduce.h — what the reduction files share: reduce.c (the reduction
 * engine and the plain reductions), moments.c (two-pass float reductions)
 * and scan.c (arg-reductions and scans). Internal to src/ops/.
 *
 * Axes arrive as an "axis:ints?" attribute and become a mask over the
 * input's dimensions; shape rules and kernels read the same mask, so what a
 * rule accepts is exactly what a kernel computes.
 */
#ifndef TL_OPS_REDUCE_H
#define TL_OPS_REDUCE_H
#include "ops/ops.h"
#include "autodiff/grad_temps.h"

/* What a plain reduction computes (the .impl of its record points at one). */
typedef enum tl_red_kind { TL_RED_SUM, TL_RED_PROD, TL_RED_MAX, TL_RED_MIN, TL_RED_ANY, TL_RED_ALL, TL_RED_MEAN } tl_red_kind;

/* Elements per parallel task before a reduction is worth a thread. */
#define TL_RED_TASK_GRAIN ((int64_t)1 << 15)

/* Reads an axis/axes attribute into a mask over x's rank (known); absent
 * means every axis. Errors name the axis and the rank. */
tl_status tl_reduce_axes(const tl_meta *x, const tl_attr *axis, bool *mask);
/* The reduced shape of x (kept dims in order; reduced ones as 1 with
 * keepdims). Returns the rank. */
int tl_reduce_shape(const tl_meta *x, const bool *mask, bool keepdims, int64_t *shape);
/* The shape rule of every reduction over an "axis:ints?" attribute: pushes
 * x reduced over axis with dtype dt. An unknown rank stays unknown, except
 * that reducing every axis without keepdims gives a scalar. */
tl_status tl_reduce_push_meta(tl_meta_list *out, const tl_meta *x, const tl_attr *axis, bool keepdims,
                              tl_dtype dt);

/* The [A, R, B] view of a contiguous x around axis ax (R its length). */
static inline void tl_reduce_split(const tl_tensor *x, int ax, int64_t *A, int64_t *R, int64_t *B) {
  *A = 1, *B = 1;
  for (int i = 0; i < ax; i++) *A *= x->shape[i];
  for (int i = ax + 1; i < x->rank; i++) *B *= x->shape[i];
  *R = x->shape[ax];
}

/* A reduction brought to a contiguous [A, R, B] block reduced over R. */
typedef struct tl_red_layout {
  tl_tensor *src; /* contiguous; one reference */
  int64_t A, R, B;
} tl_red_layout;
tl_status tl_reduce_layout(tl_tensor *x, const bool *mask, tl_red_layout *L);

/* Reduces x (float32/64, integer or bool for any/all) over mask into o,
 * which has x's dtype and the reduced shape. */
tl_status tl_reduce_into(tl_tensor *x, const bool *mask, tl_red_kind kind, tl_tensor *o);
/* Fills o with the identity of kind (the result of an empty reduction). */
void tl_reduce_fill_identity(tl_tensor *o, tl_red_kind kind);

tl_status tl_reduce_unsupported(tl_dtype d, const char *what);
/* float16/bfloat16: accepted by the rules, computed in float32 by the
 * dispatcher (TL_OP_HALF_VIA_F32). */
static inline bool tl_reduce_is_half(tl_dtype d) { return d == TL_FLOAT16 || d == TL_BFLOAT16; }

/* ---- for gradient rules ---- */
/* g (a reduction's result or gradient) with x's reduced dims restored as 1. */
tl_tensor *tl_reduce_keep_dims(tl_temps *T, tl_tensor *g, const tl_tensor *x, const bool *mask);
tl_tensor *tl_reduce_broadcast_like(tl_temps *T, tl_tensor *g, const tl_tensor *x);
/* Number of elements each reduced value covers. */
int64_t tl_reduce_count(const tl_tensor *x, const bool *mask);
/* The axis (when given) and keepdims attributes of a reduction call, to
 * pass on; returns how many of named it filled (at most 2). */
int tl_reduce_axis_attrs(const tl_attr *axis, bool keepdims, tl_named_attr *named);

#endif
