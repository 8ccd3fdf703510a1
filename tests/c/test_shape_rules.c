/* test_shape_rules.c — the shape rules of the data-movement ops (shape,
 * concat, pad, slice, index, select, sort) on symbolic inputs: metas with
 * unknown (-1) dimensions and ranks, as a tracer hands them over. Each rule
 * must check what it can without data, with the dispatcher's messages, and
 * propagate what it cannot know. No tensor is made: a rule reads no data. */
#include "tl.h"
#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U (-1) /* an unknown dimension */
#define END 99 /* ends a dims list */

/* A meta from a dtype and dims (END-terminated); rank -1 when the first is
 * END and unknown_rank is set. */
static tl_meta meta(tl_dtype dt, ...) {
  tl_meta m = {.dtype = dt, .rank = 0};
  va_list ap;
  va_start(ap, dt);
  for (int d; (d = va_arg(ap, int)) != END;) m.shape[m.rank++] = d;
  va_end(ap);
  return m;
}
static tl_meta unranked(tl_dtype dt) { return (tl_meta){.dtype = dt, .rank = -1}; }

/* Runs name's shape rule on n metas with named attributes (the rest take
 * their defaults) into out, which holds the previous call's metas. */
static tl_status infer(const char *name, int n, const tl_meta *const *in, int n_named, const tl_named_attr *named,
                       tl_meta_list *out) {
  const tl_op_def *op = tl_op_find(name);
  if (!op || !op->infer) {
    fprintf(stderr, "%s: no op or no shape rule\n", name);
    failures++;
    return TL_INTERNAL;
  }
  tl_attr attrs[TL_MAX_ATTRS];
  tl_attrs_defaults(op, attrs);
  for (int i = 0; i < n_named; i++) {
    int k = tl_attr_index(op, named[i].name);
    if (k < 0) {
      fprintf(stderr, "%s has no attribute %s\n", name, named[i].name);
      abort();
    }
    attrs[k] = named[i].value;
    attrs[k].type = op->attr[k].type;
  }
  tl_meta_list_free(out); /* the previous call's */
  tl_meta_list_init(out);
  return op->infer(op, in, n, attrs, out);
}

/* Whether m is dtype dt with the given dims (END-terminated; a lone END
 * after rank -1 means unknown rank). */
static bool is(const tl_meta *m, tl_dtype dt, int rank, ...) {
  if (m->dtype != dt || m->rank != rank) {
    fprintf(stderr, "  got dtype %s rank %d, want %s rank %d\n", tl_dtypes[m->dtype].name, m->rank, tl_dtypes[dt].name, rank);
    return false;
  }
  va_list ap;
  va_start(ap, rank);
  bool ok = true;
  for (int i = 0; i < rank; i++) {
    int d = va_arg(ap, int);
    if (m->shape[i] != d) {
      fprintf(stderr, "  dim %d is %lld, want %d\n", i, (long long)m->shape[i], d);
      ok = false;
    }
  }
  va_end(ap);
  return ok;
}

/* The rule fails with kind and a message containing want. */
static bool fails(tl_status s, tl_status kind, const char *want) {
  if (s == kind && strstr(tl_last_error(), want)) return true;
  fprintf(stderr, "  got status %d '%s', want %d '%s'\n", s, s ? tl_last_error() : "", kind, want);
  return false;
}

#define INTS(nm, ...) TL_A_INTS(nm, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), ((int64_t[]){__VA_ARGS__}))
#define IN(...) ((const tl_meta *const[]){__VA_ARGS__})

static void test_shape(void) {
  tl_meta_list o;
  tl_meta_list_init(&o);
  tl_meta x = meta(TL_FLOAT32, U, 4, END), r3 = meta(TL_FLOAT32, 3, 4, END), any = unranked(TL_FLOAT32);
  /* reshape: the -1 stays unknown when the input's size is */
  CHECK(!infer("reshape", 1, IN(&x), 1, (tl_named_attr[]){INTS("shape", -1, 2)}, &o) && is(&o.items[0], TL_FLOAT32, 2, U, 2));
  CHECK(!infer("reshape", 1, IN(&x), 1, (tl_named_attr[]){INTS("shape", 2, 8)}, &o) && is(&o.items[0], TL_FLOAT32, 2, 2, 8));
  CHECK(!infer("reshape", 1, IN(&r3), 1, (tl_named_attr[]){INTS("shape", 2, -1)}, &o) && is(&o.items[0], TL_FLOAT32, 2, 2, 6));
  CHECK(!infer("reshape", 1, IN(&any), 1, (tl_named_attr[]){INTS("shape", -1)}, &o) && is(&o.items[0], TL_FLOAT32, 1, U));
  CHECK(fails(infer("reshape", 1, IN(&r3), 1, (tl_named_attr[]){INTS("shape", -1, 5)}, &o), TL_INVALID_ARGUMENT,
              "12 is not a multiple of 5"));
  CHECK(fails(infer("reshape", 1, IN(&x), 1, (tl_named_attr[]){INTS("shape", -1, -1)}, &o), TL_INVALID_ARGUMENT,
              "more than one -1"));
  /* transpose, expand_dims, squeeze */
  tl_meta t3 = meta(TL_INT32, U, 3, 5, END);
  CHECK(!infer("transpose", 1, IN(&t3), 0, NULL, &o) && is(&o.items[0], TL_INT32, 3, 5, 3, U));
  CHECK(!infer("transpose", 1, IN(&any), 1, (tl_named_attr[]){INTS("perm", 1, 0)}, &o) && is(&o.items[0], TL_FLOAT32, 2, U, U));
  CHECK(!infer("transpose", 1, IN(&any), 0, NULL, &o) && o.items[0].rank == -1);
  CHECK(fails(infer("transpose", 1, IN(&any), 1, (tl_named_attr[]){INTS("perm", 0, 0)}, &o), TL_INVALID_ARGUMENT,
              "not a permutation"));
  CHECK(!infer("expand_dims", 1, IN(&x), 1, (tl_named_attr[]){TL_A_INT("axis", -1)}, &o) && is(&o.items[0], TL_FLOAT32, 3, U, 4, 1));
  CHECK(!infer("expand_dims", 1, IN(&any), 1, (tl_named_attr[]){TL_A_INT("axis", 5)}, &o) && o.items[0].rank == -1);
  tl_meta sq = meta(TL_FLOAT32, 1, U, 3, END);
  CHECK(!infer("squeeze", 1, IN(&sq), 0, NULL, &o) && o.items[0].rank == -1); /* ? may be 1 */
  CHECK(!infer("squeeze", 1, IN(&sq), 1, (tl_named_attr[]){INTS("axis", 0)}, &o) && is(&o.items[0], TL_FLOAT32, 2, U, 3));
  CHECK(!infer("squeeze", 1, IN(&sq), 1, (tl_named_attr[]){INTS("axis", -2)}, &o) && is(&o.items[0], TL_FLOAT32, 2, 1, 3));
  CHECK(fails(infer("squeeze", 1, IN(&sq), 1, (tl_named_attr[]){INTS("axis", 2)}, &o), TL_INVALID_ARGUMENT,
              "cannot squeeze axis 2: its size is 3"));
  /* broadcast_to, identity, size, rank, shape */
  tl_meta col = meta(TL_FLOAT64, U, 1, END);
  CHECK(!infer("broadcast_to", 1, IN(&col), 1, (tl_named_attr[]){INTS("shape", 4, 3)}, &o) && is(&o.items[0], TL_FLOAT64, 2, 4, 3));
  CHECK(fails(infer("broadcast_to", 1, IN(&r3), 1, (tl_named_attr[]){INTS("shape", 2, 4)}, &o), TL_INVALID_ARGUMENT,
              "cannot broadcast shape [3,4] to shape [2,4]"));
  CHECK(!infer("identity", 1, IN(&x), 0, NULL, &o) && is(&o.items[0], TL_FLOAT32, 2, U, 4));
  CHECK(!infer("size", 1, IN(&any), 1, (tl_named_attr[]){TL_A_DTYPE("out_type", TL_INT64)}, &o) && is(&o.items[0], TL_INT64, 0));
  CHECK(!infer("rank", 1, IN(&any), 0, NULL, &o) && is(&o.items[0], TL_INT32, 0));
  CHECK(!infer("shape", 1, IN(&any), 0, NULL, &o) && is(&o.items[0], TL_INT32, 1, U));
  CHECK(!infer("shape", 1, IN(&x), 0, NULL, &o) && is(&o.items[0], TL_INT32, 1, 2));
  CHECK(fails(infer("shape", 1, IN(&x), 1, (tl_named_attr[]){TL_A_DTYPE("out_type", TL_FLOAT32)}, &o), TL_INVALID_ARGUMENT,
              "out_type must be int32 or int64"));
  tl_meta_list_free(&o);
}

static void test_concat(void) {
  tl_meta_list o;
  tl_meta_list_init(&o);
  tl_meta a = meta(TL_FLOAT32, 2, U, END), b = meta(TL_FLOAT32, U, 3, END), c = meta(TL_FLOAT32, 2, 3, END);
  tl_meta d = meta(TL_FLOAT32, 4, 3, END), e = meta(TL_FLOAT32, 2, 4, END), any = unranked(TL_FLOAT32);
  CHECK(!infer("concat", 2, IN(&a, &b), 1, (tl_named_attr[]){TL_A_INT("axis", 0)}, &o) && is(&o.items[0], TL_FLOAT32, 2, U, 3));
  CHECK(!infer("concat", 2, IN(&c, &d), 1, (tl_named_attr[]){TL_A_INT("axis", -2)}, &o) && is(&o.items[0], TL_FLOAT32, 2, 6, 3));
  CHECK(!infer("concat", 2, IN(&any, &c), 1, (tl_named_attr[]){TL_A_INT("axis", 1)}, &o) && is(&o.items[0], TL_FLOAT32, 2, 2, U));
  CHECK(fails(infer("concat", 3, IN(&a, &c, &e), 1, (tl_named_attr[]){TL_A_INT("axis", 0)}, &o), TL_INVALID_ARGUMENT,
              "dimension 1 of values[2] is 4, expected 3"));
  CHECK(!infer("stack", 2, IN(&a, &b), 1, (tl_named_attr[]){TL_A_INT("axis", -1)}, &o) && is(&o.items[0], TL_FLOAT32, 3, 2, 3, 2));
  CHECK(fails(infer("stack", 2, IN(&c, &e), 0, NULL, &o), TL_INVALID_ARGUMENT, "values[1] has shape [2,4]"));
  /* unstack needs its count: the axis's size or num */
  CHECK(fails(infer("unstack", 1, IN(&b), 0, NULL, &o), TL_INVALID_ARGUMENT, "cannot infer num"));
  CHECK(!infer("unstack", 1, IN(&b), 1, (tl_named_attr[]){TL_A_INT("num", 4)}, &o) && o.n == 4 && is(&o.items[3], TL_FLOAT32, 1, 3));
  CHECK(!infer("unstack", 1, IN(&b), 1, (tl_named_attr[]){TL_A_INT("axis", -1)}, &o) && o.n == 3 && is(&o.items[2], TL_FLOAT32, 1, U));
  CHECK(!infer("unstack", 1, IN(&any), 1, (tl_named_attr[]){TL_A_INT("num", 2)}, &o) && o.n == 2 && o.items[1].rank == -1);
  tl_meta s = meta(TL_INT64, U, 6, END);
  CHECK(!infer("split", 1, IN(&s), 2, (tl_named_attr[]){INTS("num_or_size_splits", 3), TL_A_INT("axis", 1)}, &o) && o.n == 3 &&
        is(&o.items[2], TL_INT64, 2, U, 2));
  CHECK(!infer("split", 1, IN(&s), 1, (tl_named_attr[]){INTS("num_or_size_splits", 1, -1)}, &o) && o.n == 2 &&
        is(&o.items[0], TL_INT64, 2, 1, 6) && is(&o.items[1], TL_INT64, 2, U, 6));
  CHECK(fails(infer("split", 1, IN(&s), 2, (tl_named_attr[]){INTS("num_or_size_splits", 4), TL_A_INT("axis", 1)}, &o),
              TL_INVALID_ARGUMENT, "into 4 equal parts"));
  tl_meta_list_free(&o);
}

static void test_pad(void) {
  tl_meta_list o;
  tl_meta_list_init(&o);
  tl_meta x = meta(TL_FLOAT32, U, 2, END), p = meta(TL_INT32, 2, 2, END), pf = meta(TL_FLOAT32, 2, 2, END);
  tl_meta p3 = meta(TL_INT64, 3, 2, END), any = unranked(TL_FLOAT32);
  CHECK(!infer("tile", 1, IN(&x), 1, (tl_named_attr[]){INTS("multiples", 0, 3)}, &o) && is(&o.items[0], TL_FLOAT32, 2, 0, 6));
  CHECK(!infer("tile", 1, IN(&x), 1, (tl_named_attr[]){INTS("multiples", 2, 3)}, &o) && is(&o.items[0], TL_FLOAT32, 2, U, 6));
  CHECK(fails(infer("tile", 1, IN(&x), 1, (tl_named_attr[]){INTS("multiples", 2)}, &o), TL_INVALID_ARGUMENT, "has 1 entries"));
  /* pad's amounts are values: every dimension unknown, the rank known */
  CHECK(!infer("pad", 2, IN(&x, &p), 0, NULL, &o) && is(&o.items[0], TL_FLOAT32, 2, U, U));
  CHECK(!infer("pad", 2, IN(&any, &p3), 0, NULL, &o) && is(&o.items[0], TL_FLOAT32, 3, U, U, U));
  CHECK(fails(infer("pad", 2, IN(&x, &pf), 0, NULL, &o), TL_INVALID_ARGUMENT, "paddings must be integers, got float32"));
  CHECK(fails(infer("pad", 2, IN(&x, &p3), 0, NULL, &o), TL_INVALID_ARGUMENT, "paddings must have shape [2,2]"));
  CHECK(fails(infer("pad", 2, IN(&x, &p), 1, (tl_named_attr[]){TL_A_STRING("mode", "WRAP")}, &o), TL_INVALID_ARGUMENT,
              "mode must be CONSTANT"));
  tl_meta dy = meta(TL_FLOAT64, U, U, END), dyi = meta(TL_INT32, 4, 4, END);
  CHECK(!infer("pad_grad", 2, IN(&dy, &p), 1, (tl_named_attr[]){INTS("shape", 2, 3)}, &o) && is(&o.items[0], TL_FLOAT64, 2, 2, 3));
  CHECK(fails(infer("pad_grad", 2, IN(&dyi, &p), 1, (tl_named_attr[]){INTS("shape", 2, 3)}, &o), TL_UNIMPLEMENTED, "float"));
  CHECK(!infer("reverse", 1, IN(&x), 1, (tl_named_attr[]){INTS("axis", -1)}, &o) && is(&o.items[0], TL_FLOAT32, 2, U, 2));
  CHECK(fails(infer("reverse", 1, IN(&x), 1, (tl_named_attr[]){INTS("axis", 0, -2)}, &o), TL_INVALID_ARGUMENT, "more than once"));
  tl_meta_list_free(&o);
}

static void test_slice(void) {
  tl_meta_list o;
  tl_meta_list_init(&o);
  tl_meta x = meta(TL_FLOAT32, U, 4, END), any = unranked(TL_FLOAT32);
  CHECK(!infer("slice", 1, IN(&x), 2, (tl_named_attr[]){INTS("begin", 1, 1), INTS("size", -1, 2)}, &o) &&
        is(&o.items[0], TL_FLOAT32, 2, U, 2));
  CHECK(fails(infer("slice", 1, IN(&x), 2, (tl_named_attr[]){INTS("begin", 0, 5), INTS("size", 1, 1)}, &o), TL_INVALID_ARGUMENT,
              "begin[1] is 5, outside [0, 4]"));
  CHECK(!infer("slice", 1, IN(&any), 2, (tl_named_attr[]){INTS("begin", 0, 1, 2), INTS("size", 1, -1, 3)}, &o) &&
        is(&o.items[0], TL_FLOAT32, 3, 1, U, 3));
  /* x[1:3, ::-1]: the unknown dimension's range stays unknown */
  CHECK(!infer("strided_slice", 1, IN(&x), 5, (tl_named_attr[]){INTS("begin", 1, 0), INTS("end", 3, 0), INTS("strides", 1, -1), TL_A_INT("end_mask", 2),
                                                                 TL_A_INT("begin_mask", 2)}, &o) && is(&o.items[0], TL_FLOAT32, 2, U, 4));
  /* x[0, newaxis]: an index into an unknown dimension is checked later */
  CHECK(!infer("strided_slice", 1, IN(&x), 4, (tl_named_attr[]){INTS("begin", 5, 0), INTS("end", 6, 0), TL_A_INT("shrink_axis_mask", 1),
                                                                 TL_A_INT("new_axis_mask", 2)}, &o) && is(&o.items[0], TL_FLOAT32, 2, 1, 4));
  CHECK(fails(infer("strided_slice", 1, IN(&x), 3, (tl_named_attr[]){INTS("begin", 0, 4), INTS("end", 0, 5), TL_A_INT("shrink_axis_mask", 2)}, &o),
              TL_INVALID_ARGUMENT, "index 4 is out of bounds for dimension 1 with size 4"));
  CHECK(!infer("strided_slice", 1, IN(&any), 2, (tl_named_attr[]){INTS("begin", 0), INTS("end", 1)}, &o) && o.items[0].rank == -1);
  CHECK(fails(infer("strided_slice", 1, IN(&any), 3, (tl_named_attr[]){INTS("begin", 0), INTS("end", 1), INTS("strides", 0)}, &o),
              TL_INVALID_ARGUMENT, "strides[0] is 0"));
  tl_meta v = meta(TL_FLOAT32, 3, END), vi = meta(TL_INT32, 1, END);
  CHECK(!infer("tensor_strided_slice_update", 2, IN(&x, &v), 2, (tl_named_attr[]){INTS("begin", 0, 0), INTS("end", 0, 3),
                                                                                  TL_A_INT("begin_mask", 1)}, &o) &&
        is(&o.items[0], TL_FLOAT32, 2, U, 4));
  CHECK(fails(infer("tensor_strided_slice_update", 2, IN(&x, &v), 2, (tl_named_attr[]){INTS("begin", 0, 0), INTS("end", 0, 2)}, &o),
              TL_INVALID_ARGUMENT, "value of shape [3] cannot be broadcast to the slice shape [?,2]"));
  CHECK(fails(infer("tensor_strided_slice_update", 2, IN(&x, &vi), 2, (tl_named_attr[]){INTS("begin", 0), INTS("end", 1)}, &o),
              TL_INVALID_ARGUMENT, "value has dtype int32"));
  tl_meta dy = meta(TL_FLOAT64, U, 2, END);
  CHECK(!infer("strided_slice_grad", 1, IN(&dy), 3, (tl_named_attr[]){INTS("shape", 3, 4), INTS("begin", 0, 1), INTS("end", 0, 3)}, &o) &&
        is(&o.items[0], TL_FLOAT64, 2, 3, 4));
  CHECK(fails(infer("strided_slice_grad", 1, IN(&dy), 3, (tl_named_attr[]){INTS("shape", 3, 4), INTS("begin", 0, 1), INTS("end", 0, 4)}, &o),
              TL_INVALID_ARGUMENT, "dy has shape [?,2]"));
  tl_meta_list_free(&o);
}

static void test_index(void) {
  tl_meta_list o;
  tl_meta_list_init(&o);
  tl_meta p = meta(TL_FLOAT32, U, 5, END), ix = meta(TL_INT32, 2, U, END), fx = meta(TL_FLOAT32, 2, END);
  tl_meta any = unranked(TL_INT64);
  CHECK(!infer("gather", 2, IN(&p, &ix), 1, (tl_named_attr[]){TL_A_INT("axis", 1)}, &o) && is(&o.items[0], TL_FLOAT32, 3, U, 2, U));
  CHECK(!infer("gather", 2, IN(&p, &ix), 0, NULL, &o) && is(&o.items[0], TL_FLOAT32, 3, 2, U, 5));
  CHECK(!infer("gather", 2, IN(&p, &any), 0, NULL, &o) && o.items[0].rank == -1);
  CHECK(fails(infer("gather", 2, IN(&p, &fx), 0, NULL, &o), TL_INVALID_ARGUMENT, "indices must be int32 or int64, got float32"));
  CHECK(fails(infer("gather", 2, IN(&p, &ix), 1, (tl_named_attr[]){TL_A_INT("axis", 2)}, &o), TL_INVALID_ARGUMENT,
              "axis 2 is out of range"));
  tl_meta p3 = meta(TL_FLOAT32, 3, 4, 5, END), i2 = meta(TL_INT64, U, 2, END), iu = meta(TL_INT32, 2, U, END);
  CHECK(!infer("gather_nd", 2, IN(&p3, &i2), 0, NULL, &o) && is(&o.items[0], TL_FLOAT32, 2, U, 5));
  CHECK(!infer("gather_nd", 2, IN(&p3, &iu), 0, NULL, &o) && o.items[0].rank == -1); /* the depth is unknown */
  tl_meta i4 = meta(TL_INT32, 1, 4, END);
  CHECK(fails(infer("gather_nd", 2, IN(&p3, &i4), 0, NULL, &o), TL_INVALID_ARGUMENT, "last dimension of indices (4)"));
  tl_meta dy = meta(TL_FLOAT64, U, 5, END), dyb = meta(TL_FLOAT64, 3, 4, END), g1 = meta(TL_INT32, U, END);
  CHECK(!infer("gather_grad", 2, IN(&dy, &g1), 1, (tl_named_attr[]){INTS("shape", 7, 5)}, &o) && is(&o.items[0], TL_FLOAT64, 2, 7, 5));
  CHECK(fails(infer("gather_grad", 2, IN(&dyb, &g1), 1, (tl_named_attr[]){INTS("shape", 7, 5)}, &o), TL_INVALID_ARGUMENT,
              "dy has shape [3,4] but gathering from shape [7,5] gives [?,5]"));
  tl_meta si = meta(TL_INT32, U, 1, END), up = meta(TL_FLOAT32, U, 3, END), up4 = meta(TL_FLOAT32, 2, 4, END);
  CHECK(!infer("scatter_nd", 2, IN(&si, &up), 1, (tl_named_attr[]){INTS("shape", 5, 3)}, &o) && is(&o.items[0], TL_FLOAT32, 2, 5, 3));
  CHECK(fails(infer("scatter_nd", 2, IN(&si, &up4), 1, (tl_named_attr[]){INTS("shape", 5, 3)}, &o), TL_INVALID_ARGUMENT,
              "updates have shape [2,4] but indices [?,1] and shape [5,3] require [?,3]"));
  tl_meta t = meta(TL_FLOAT32, U, 3, END), tb = meta(TL_BOOL, 4, END), ib = meta(TL_INT32, 2, 1, END), ub = meta(TL_BOOL, 2, END);
  CHECK(!infer("tensor_scatter_nd_add", 3, IN(&t, &si, &up), 0, NULL, &o) && is(&o.items[0], TL_FLOAT32, 2, U, 3));
  CHECK(!infer("tensor_scatter_nd_update", 3, IN(&tb, &ib, &ub), 0, NULL, &o) && is(&o.items[0], TL_BOOL, 1, 4));
  CHECK(fails(infer("tensor_scatter_nd_sub", 3, IN(&tb, &ib, &ub), 0, NULL, &o), TL_UNIMPLEMENTED, "scatter subtract"));
  tl_meta_list_free(&o);
}

static void test_select_sort(void) {
  tl_meta_list o;
  tl_meta_list_init(&o);
  tl_meta x = meta(TL_FLOAT32, U, 3, 2, END), m = meta(TL_BOOL, U, 3, END), mf = meta(TL_FLOAT32, 3, END);
  tl_meta m2 = meta(TL_BOOL, 3, 2, END);
  CHECK(!infer("boolean_mask", 2, IN(&x, &m), 0, NULL, &o) && is(&o.items[0], TL_FLOAT32, 2, U, 2));
  CHECK(!infer("boolean_mask", 2, IN(&x, &m2), 1, (tl_named_attr[]){TL_A_INT("axis", -2)}, &o) && is(&o.items[0], TL_FLOAT32, 2, U, U));
  CHECK(fails(infer("boolean_mask", 2, IN(&x, &mf), 0, NULL, &o), TL_INVALID_ARGUMENT, "mask must be bool"));
  CHECK(!infer("where", 3, IN(&m, NULL, NULL), 0, NULL, &o) && is(&o.items[0], TL_INT64, 2, U, 2));
  tl_meta c = meta(TL_BOOL, U, 1, END), a = meta(TL_FLOAT64, 4, END), b = meta(TL_FLOAT64, U, U, END);
  CHECK(!infer("where", 3, IN(&c, &a, &b), 0, NULL, &o) && is(&o.items[0], TL_FLOAT64, 2, U, 4));
  tl_meta v = meta(TL_FLOAT32, U, U, END), s = meta(TL_STRING, 3, END), w = meta(TL_FLOAT32, 2, 3, END);
  CHECK(!infer("top_k", 1, IN(&v), 1, (tl_named_attr[]){TL_A_INT("k", 2)}, &o) && o.n == 2 && is(&o.items[0], TL_FLOAT32, 2, U, 2) &&
        is(&o.items[1], TL_INT32, 2, U, 2));
  CHECK(fails(infer("top_k", 1, IN(&w), 1, (tl_named_attr[]){TL_A_INT("k", 4)}, &o), TL_INVALID_ARGUMENT, "at least k=4"));
  CHECK(!infer("sort", 1, IN(&v), 1, (tl_named_attr[]){TL_A_INT("axis", 0)}, &o) && is(&o.items[0], TL_FLOAT32, 2, U, U));
  CHECK(!infer("argsort", 1, IN(&v), 0, NULL, &o) && is(&o.items[0], TL_INT32, 2, U, U));
  CHECK(fails(infer("sort", 1, IN(&s), 0, NULL, &o), TL_UNIMPLEMENTED, "cannot be sorted"));
  CHECK(fails(infer("argsort", 1, IN(&w), 1, (tl_named_attr[]){TL_A_INT("axis", 2)}, &o), TL_INVALID_ARGUMENT, "axis 2 is out of range"));
  tl_meta u = meta(TL_INT32, U, END);
  CHECK(!infer("unique", 1, IN(&u), 1, (tl_named_attr[]){TL_A_DTYPE("out_idx", TL_INT64)}, &o) && o.n == 2 &&
        is(&o.items[0], TL_INT32, 1, U) && is(&o.items[1], TL_INT64, 1, U));
  CHECK(fails(infer("unique", 1, IN(&w), 0, NULL, &o), TL_INVALID_ARGUMENT, "1-D vector"));
  tl_meta_list_free(&o);
}

int main(void) {
  if (tl_init()) {
    fprintf(stderr, "init: %s\n", tl_last_error());
    return 1;
  }
  test_shape();
  test_concat();
  test_pad();
  test_slice();
  test_index();
  test_select_sort();
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
