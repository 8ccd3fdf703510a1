/* ops.h — what every op file shares: the signatures of the three functions
 * of an op record, the hot-kernel attribute, and shape-rule helpers.
 * Internal to src/ops/ (the public record is in tl.h). */
#ifndef TL_OPS_H
#define TL_OPS_H
#include "tl.h"

/* The parameter lists of an op record's functions, so a rule reads
 * `static tl_status add_grad(TL_GRAD_ARGS)` and unused ones are marked with
 * TL_UNUSED_*. */
#define TL_INFER_ARGS \
  const tl_op_def *op, const tl_meta *const *in, int n_in, const tl_attr *attr, tl_meta_list *out
#define TL_KERNEL_ARGS \
  const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr, tl_tensor_list *out
#define TL_GRAD_ARGS                                                                         \
  const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attr, tl_tensor *const *out, \
      int n_out, tl_tensor *const *grad_out, tl_tensor **grad_in
#define TL_UNUSED_INFER_ARGS (void)op, (void)in, (void)n_in, (void)attr, (void)out
#define TL_UNUSED_KERNEL_ARGS (void)op, (void)in, (void)n_in, (void)attr, (void)out
#define TL_UNUSED_GRAD_ARGS \
  (void)op, (void)in, (void)n_in, (void)attr, (void)out, (void)n_out, (void)grad_out, (void)grad_in

/* Hot kernels are compiled for AVX2 (x86-64-v3) and the baseline and picked
 * at load time. Sanitizer and ThreadSanitizer builds keep one version
 * (TLUA_NO_TARGET_CLONES: TSan crashes in the ifunc resolvers). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) && !defined(TLUA_NO_TARGET_CLONES)
#define TL_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define TL_HOT
#endif

/* ---- shape-rule helpers (core/meta.c) ------------------------------------ */

/* Pushes a copy of m (dtype replaced by dt unless dt is TL_DTYPE_COUNT);
 * NULL on out of memory. */
tl_meta *tl_meta_push_like(tl_meta_list *out, const tl_meta *m, tl_dtype dt);
/* numpy broadcasting of two metas; unknown (-1) dimensions stay unknown
 * unless the other side fixes them (a known dimension > 1 wins over -1). */
tl_status tl_meta_broadcast(const tl_meta *a, const tl_meta *b, tl_meta *out);
/* "[2,3]" as tl_shape_format writes it, "[?,3]" for unknown dims (a
 * pointer into buf). */
const char *tl_meta_shape_text(const tl_meta *m, char *buf, size_t n);
/* "float32[32,?]" (unknown dims as ?, unknown rank as [...]) into buf. */
char *tl_meta_describe(const tl_meta *m, char *buf, size_t n);
/* Product of known dims, -1 when any is unknown or on overflow. */
int64_t tl_meta_numel(const tl_meta *m);
/* Whether two metas may describe the same shape (unknowns match anything). */
bool tl_meta_compatible(const tl_meta *a, const tl_meta *b);
/* Pushes the output meta of a creation op whose shape is an `ints`
 * attribute (zeros, random_uniform): at most TL_MAX_RANK dimensions, none
 * negative (the allocator's messages, so errors read alike either way). */
tl_status tl_meta_push_shape_attr(tl_meta_list *out, const tl_attr *shape, tl_dtype dt);

#endif
