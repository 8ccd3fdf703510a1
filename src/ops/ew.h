/* ops/ew.h — the typed inner loops of the element-wise records, lent to
 * the fused element-wise op (ops/fused.c) so it runs the very loops the
 * unfused ops run (same results, no second copy of the tables).
 * Internal to src/ops/.
 */
#ifndef TL_OPS_EW_H
#define TL_OPS_EW_H
#include "tl.h"

/* out[i] = f(a[i]) for i < n, both contiguous (ops/unary.c). */
typedef void (*tl_ew_un_fn)(void *out, const void *a, int64_t n, double alpha);
/* out[r*n + i] = f(a[r*ra + i*sa], b[r*rb + i*sb]); returns 0 or an error
 * code for tl_ew_binary_error (ops/elementwise.c). */
typedef int (*tl_ew_bin_fn)(void *out, const void *a, int64_t sa, int64_t ra, const void *b, int64_t sb,
                            int64_t rb, int64_t n, int64_t rows);

/* The loop of a unary element-wise record (negative, exp, relu, leaky_relu,
 * gelu, ...) computing dtype dt into dt, or NULL when op is not one, has no
 * loop for dt, or changes the dtype (is_nan). attr: the record's attributes
 * (leaky_relu's alpha lands in *alpha, gelu's approximate picks the loop). */
tl_ew_un_fn tl_ew_unary_fn(const tl_op_def *op, const tl_attr *attr, tl_dtype dt, double *alpha);
/* The same for a binary record (add, multiply, maximum, relu_grad, ...):
 * NULL for comparisons, integer truediv and dtypes without a loop. */
tl_ew_bin_fn tl_ew_binary_fn(const tl_op_def *op, tl_dtype dt);
/* The message of a binary loop's nonzero return (integer division by zero). */
tl_status tl_ew_binary_error(int code);
#endif
