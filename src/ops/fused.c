/* ops/fused.c — fused_elementwise: a chain (or DAG) of element-wise ops run
 * as one pass over memory, optionally ending in a sum or mean.
 *
 * The graph optimizer (src/graph/fuse.c) makes these nodes; users never
 * call the op directly (its api is "-"), though tf.raw_ops has it. The
 * program is an ordinary STRING attribute, so graph copies and saved files
 * keep it with no special case:
 *
 *   inputs   values[]: registers 0 .. n-1 (one dtype, broadcastable)
 *   program  "exp 0;add 1 2;leaky_relu@0.2 3": instruction k defines register
 *            n + k as a registry op (unary or binary element-wise) applied
 *            to earlier registers; "@v" is the op's one attribute (a float,
 *            or 0/1 for a bool: gelu's approximate)
 *   outputs  the registers returned, in order
 *   reduce   "none", "sum" or "mean" of the last output, over every axis
 *            (axis absent) or the last one, keepdims as reduce_sum's (the
 *            other outputs are element-wise)
 *
 * The kernel interprets the program over blocks of BLOCK elements: each
 * register is a block buffer, inputs of the output's size are read in
 * place, one-element inputs are broadcast by stride 0, other broadcast
 * inputs are gathered per block, and output registers are written straight
 * into the outputs. Each instruction calls the unfused op's own typed loop
 * (ops/ew.h), so fused and unfused results are bit-identical except for
 * the summation order of a fused reduction (partials per block in double).
 * Blocks are split over the compute pool.
 *
 * Shapes are checked at run time, not trusted from the trace: when an
 * output register would be smaller than the broadcast of all inputs (a
 * graph with unknown dimensions that broadcast differently than traced),
 * the kernel runs the program op by op through the registry instead.
 * Gradient (a tape around a call of a fused traced function): the
 * program runs again op by op and each instruction's own rule is applied in
 * reverse, with operands' gradients summed to their shapes, all with
 * ordinary ops, so gradients of gradients work too.
 */
#include "ops/ops.h"
#include "ops/ew.h"
#include "ops/reduce.h"
#include "autodiff/grad_temps.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC optimize("O3")

#define BLOCK 1024         /* elements per block: the live buffers stay in L1 (measured: 1024 beats 2048 and 4096) */
#define GRAIN_BLOCKS 32    /* blocks per parallel task (32K elements, as the unfused ops) */
#define MAX_INSTR 64
#define MAX_IN 32
#define MAX_OUT 16
#define MAX_REGS (MAX_IN + MAX_INSTR)

enum { A_PROGRAM, A_OUTPUTS, A_REDUCE, A_AXIS, A_KEEPDIMS };
enum { RED_NONE, RED_SUM, RED_MEAN };

typedef struct instr {
  const tl_op_def *op;
  int a, b;          /* operand registers; b = -1 for a unary op */
  bool has_attr;
  double attr;
  tl_ew_un_fn un;
  tl_ew_bin_fn bin;
  double alpha;
} instr;

typedef struct prog {
  int n_in, n_instr, n_out;
  instr ins[MAX_INSTR];
  int out[MAX_OUT];
  int reduce;
  bool last_axis;    /* reduce over the last axis (else all axes) */
} prog;

/* The op's attributes for instruction k: defaults, and attribute 0 from "@v". */
static void instr_attrs(const instr *k, tl_attr *attrs) {
  tl_attrs_defaults(k->op, attrs);
  if (k->has_attr) {
    if (attrs[0].type == TL_ATTR_BOOL) attrs[0].b = k->attr != 0;
    else attrs[0].f = k->attr;
    attrs[0].present = true;
  }
}

static tl_status parse(const tl_attr *attr, int n_in, prog *p) {
  memset(p, 0, sizeof *p);
  if (n_in < 1 || n_in > MAX_IN) return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise takes 1 to %d inputs, got %d", MAX_IN, n_in);
  p->n_in = n_in;
  const char *s = attr[A_PROGRAM].s ? attr[A_PROGRAM].s : "";
  while (*s) {
    while (*s == ' ' || *s == ';') s++;
    if (!*s) break;
    if (p->n_instr == MAX_INSTR) return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: more than %d instructions", MAX_INSTR);
    instr *k = &p->ins[p->n_instr];
    char name[64];
    size_t len = strcspn(s, " ;@");
    if (len == 0 || len >= sizeof name) return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: bad program near '%.20s'", s);
    memcpy(name, s, len);
    name[len] = 0;
    s += len;
    if (!(k->op = tl_op_find(name))) return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: no op named '%s'", name);
    if (*s == '@') {
      char *end;
      k->attr = strtod(s + 1, &end);
      if (end == s + 1) return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: %s: bad attribute", name);
      k->has_attr = true;
      s = end;
    }
    int ops[2] = {-1, -1}, n = 0;
    for (;;) {
      while (*s == ' ') s++;
      if (!*s || *s == ';') break;
      char *end;
      long r = strtol(s, &end, 10);
      if (end == s || n == 2 || r < 0 || r >= n_in + p->n_instr)
        return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: %s: bad operand near '%.20s'", name, s);
      ops[n++] = (int)r;
      s = end;
    }
    bool binary = k->op->n_inputs == 2 && !k->op->input[1].list;
    if (n != (binary ? 2 : 1) || k->op->n_inputs != n)
      return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: %s takes %d operands, the program gives %d", name,
                      k->op->n_inputs, n);
    if (k->op->n_attrs > 1 || (k->has_attr && k->op->n_attrs != 1))
      return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: %s's attributes cannot be fused", name);
    k->a = ops[0];
    k->b = ops[1];
    p->n_instr++;
  }
  if (!p->n_instr) return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: empty program");
  const tl_attr *o = &attr[A_OUTPUTS];
  if (o->n < 1 || o->n > MAX_OUT) return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: 1 to %d outputs, got %d", MAX_OUT, o->n);
  p->n_out = o->n;
  for (int i = 0; i < o->n; i++) {
    if (o->ints[i] < n_in || o->ints[i] >= n_in + p->n_instr)
      return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: output register %lld is not an instruction's",
                      (long long)o->ints[i]);
    p->out[i] = (int)o->ints[i];
  }
  const char *r = attr[A_REDUCE].s ? attr[A_REDUCE].s : "none";
  p->reduce = strcmp(r, "sum") == 0 ? RED_SUM : strcmp(r, "mean") == 0 ? RED_MEAN : RED_NONE;
  if (p->reduce == RED_NONE && strcmp(r, "none") != 0)
    return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: reduce must be none, sum or mean, not '%s'", r);
  return TL_OK;
}

/* The typed loops of every instruction for dtype dt. */
static tl_status resolve(prog *p, tl_dtype dt) {
  for (int i = 0; i < p->n_instr; i++) {
    instr *k = &p->ins[i];
    tl_attr attrs[TL_MAX_ATTRS];
    instr_attrs(k, attrs);
    if (k->b < 0) k->un = tl_ew_unary_fn(k->op, attrs, dt, &k->alpha);
    else k->bin = tl_ew_binary_fn(k->op, dt);
    if (!k->un && !k->bin)
      return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: %s cannot be fused for %s", k->op->name, tl_dtypes[dt].name);
  }
  return TL_OK;
}

/* Whether the reduction's axis attribute is "all" (absent or every axis)
 * or "the last one"; sets p->last_axis. */
static tl_status reduce_axis(prog *p, const tl_attr *axis, int rank) {
  p->last_axis = false;
  if (!axis->present) return TL_OK;
  if (rank < 0) return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: a reduction over given axes needs a known rank");
  bool mask[TL_MAX_RANK] = {0};
  int n = 0;
  for (int i = 0; i < axis->n; i++) {
    int a;
    tl_status s = tl_normalize_axis(NULL, axis->ints[i], rank, &a);
    if (s) return s;
    if (!mask[a]) n++;
    mask[a] = true;
  }
  if (n == rank) return TL_OK;
  if (n == 1 && mask[rank - 1]) {
    p->last_axis = true;
    return TL_OK;
  }
  return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: reduces over all axes or the last one only");
}

/* ---- shape rule ---------------------------------------------------------- */

static tl_status fused_infer(TL_INFER_ARGS) {
  (void)op;
  prog p;
  tl_status s = parse(attr, n_in, &p);
  if (s) return s;
  tl_dtype dt = in[0]->dtype;
  for (int i = 1; i < n_in; i++)
    if (in[i]->dtype != dt)
      return tl_error(TL_INVALID_ARGUMENT, "operands have different dtypes (%s vs %s)", tl_dtypes[dt].name,
                      tl_dtypes[in[i]->dtype].name);
  if ((s = resolve(&p, dt))) return s;
  tl_meta reg[MAX_REGS];
  for (int i = 0; i < n_in; i++) reg[i] = *in[i];
  for (int i = 0; i < p.n_instr; i++) {
    const instr *k = &p.ins[i];
    if (k->b < 0) reg[n_in + i] = reg[k->a];
    else if ((s = tl_meta_broadcast(&reg[k->a], &reg[k->b], &reg[n_in + i]))) return s;
    reg[n_in + i].dtype = dt;
  }
  int plain = p.reduce ? p.n_out - 1 : p.n_out;
  for (int i = 0; i < plain; i++)
    if (!tl_meta_push_like(out, &reg[p.out[i]], dt)) return TL_RESOURCE_EXHAUSTED;
  if (p.reduce) {
    const tl_meta *m = &reg[p.out[plain]];
    if ((s = reduce_axis(&p, &attr[A_AXIS], m->rank))) return s;
    if (!tl_dtype_is_float(dt)) return tl_error(TL_INVALID_ARGUMENT, "fused_elementwise: reductions need float32 or float64");
    return tl_reduce_push_meta(out, m, &attr[A_AXIS], attr[A_KEEPDIMS].b, dt);
  }
  return TL_OK;
}

/* ---- the slow path: op by op through the registry ------------------------ */

static tl_status run_unfused(const prog *p, tl_tensor *const *in, const tl_attr *attr, tl_tensor_list *out) {
  tl_tensor *reg[MAX_REGS] = {0};
  tl_status s = TL_OK;
  for (int i = 0; i < p->n_in; i++) reg[i] = in[i];
  for (int i = 0; i < p->n_instr && !s; i++) {
    const instr *k = &p->ins[i];
    tl_attr attrs[TL_MAX_ATTRS];
    instr_attrs(k, attrs);
    tl_tensor *ops[2] = {reg[k->a], k->b >= 0 ? reg[k->b] : NULL};
    s = tl_op_run1(k->op, ops, k->b >= 0 ? 2 : 1, attrs, &reg[p->n_in + i]);
  }
  for (int i = 0; i < p->n_out && !s; i++) {
    tl_tensor *v = reg[p->out[i]], *r = NULL;
    if (p->reduce && i == p->n_out - 1) {
      const tl_op_def *rop = tl_op_find(p->reduce == RED_SUM ? "reduce_sum" : "reduce_mean");
      tl_attr ra[TL_MAX_ATTRS];
      tl_attrs_defaults(rop, ra);
      ra[tl_attr_index(rop, "axis")] = attr[A_AXIS];
      ra[tl_attr_index(rop, "keepdims")] = attr[A_KEEPDIMS];
      if ((s = tl_op_run1(rop, &v, 1, ra, &r))) break;
      v = r;
    }
    s = tl_tensor_copy_into(out->items[i], v);
    tl_tensor_release(r);
  }
  for (int i = p->n_in; i < p->n_in + p->n_instr; i++) tl_tensor_release(reg[i]);
  return s;
}

/* ---- the block interpreter ------------------------------------------------ */

enum { SRC_FULL, SRC_SCALAR, SRC_GATHER };

typedef struct src {
  int kind;
  const char *base;
  int64_t st[TL_MAX_RANK]; /* SRC_GATHER: strides against the full shape (0 where broadcast) */
} src;

typedef struct job {
  const prog *p;
  size_t es;                 /* element size */
  int rank;
  int64_t shape[TL_MAX_RANK], n;
  src in[MAX_IN];
  int phys[MAX_REGS];        /* scratch buffer of each register (-1: an input or an output) */
  bool scalar[MAX_REGS];     /* one element, broadcast by stride 0 */
  char *outp[MAX_REGS];      /* output register -> its output's data, or NULL */
  int n_phys;
  /* reduction */
  int64_t L, rows, segs;     /* row length, rows, blocks per row when L > BLOCK */
  double *partial;
  char *rout;                /* reduced output data */
  tl_dtype dt;
  int err;
  tl_status status;
} job;

static void gather(const job *j, const src *sr, int64_t begin, int64_t n, char *dst) {
  int r = j->rank;
  int64_t idx[TL_MAX_RANK], rem = begin, off = 0;
  for (int d = r - 1; d >= 0; d--) {
    idx[d] = rem % j->shape[d];
    rem /= j->shape[d];
    off += idx[d] * sr->st[d];
  }
  int64_t inner = j->shape[r - 1], ist = sr->st[r - 1];
  size_t es = j->es;
  while (n > 0) {
    int64_t run = inner - idx[r - 1];
    if (run > n) run = n;
    const char *from = sr->base + off * (int64_t)es;
    if (ist == 1) {
      memcpy(dst, from, (size_t)run * es);
    } else if (es == 4) {
      for (int64_t i = 0; i < run; i++) memcpy(dst + i * 4, from + i * ist * 4, 4);
    } else {
      for (int64_t i = 0; i < run; i++) memcpy(dst + (size_t)i * es, from + i * ist * (int64_t)es, es);
    }
    dst += (size_t)run * es;
    n -= run;
    off += run * ist;
    idx[r - 1] += run;
    /* carry into the outer dims */
    for (int d = r - 1; d > 0 && idx[d] == j->shape[d]; d--) {
      off -= idx[d] * sr->st[d];
      idx[d] = 0;
      idx[d - 1]++;
      off += sr->st[d - 1];
    }
  }
}

/* Runs the program over [begin, begin + n); returns the last output's data. */
static const char *run_block(job *j, int64_t begin, int64_t n, char *scratch) {
  const prog *p = j->p;
  size_t es = j->es;
  const char *ptr[MAX_REGS];
  for (int i = 0; i < p->n_in; i++) {
    const src *sr = &j->in[i];
    if (sr->kind == SRC_FULL) ptr[i] = sr->base + begin * (int64_t)es;
    else if (sr->kind == SRC_SCALAR) ptr[i] = sr->base;
    else {
      char *b = scratch + (size_t)j->phys[i] * BLOCK * es;
      gather(j, sr, begin, n, b);
      ptr[i] = b;
    }
  }
  int r = p->n_in;
  for (int i = 0; i < p->n_instr; i++, r++) {
    const instr *k = &p->ins[i];
    char *o = j->outp[r] ? j->outp[r] + begin * (int64_t)es : scratch + (size_t)j->phys[r] * BLOCK * es;
    int64_t len = j->scalar[r] ? 1 : n;
    if (k->un) {
      k->un(o, ptr[k->a], len, k->alpha);
    } else {
      int e = k->bin(o, ptr[k->a], j->scalar[k->a] ? 0 : 1, 0, ptr[k->b], j->scalar[k->b] ? 0 : 1, 0, len, 1);
      if (e) __atomic_store_n(&j->err, e, __ATOMIC_RELAXED);
    }
    ptr[r] = o;
  }
  return ptr[p->out[p->n_out - 1]];
}

#define SUM(NAME, T)                                             \
  static double NAME(const void *x_, int64_t n) {                \
    const T *x = x_;                                             \
    double acc[8] = {0};                                         \
    int64_t i = 0;                                               \
    for (; i + 8 <= n; i += 8)                                   \
      for (int k = 0; k < 8; k++) acc[k] += (double)x[i + k];    \
    for (; i < n; i++) acc[0] += (double)x[i];                   \
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])); \
  }
SUM(sum_f32, float)
SUM(sum_f64, double)

static void store(job *j, int64_t row, double v) {
  if (j->p->reduce == RED_MEAN) v /= (double)j->L;
  if (j->dt == TL_FLOAT32) ((float *)j->rout)[row] = (float)v;
  else ((double *)j->rout)[row] = v;
}

static void range_fn(int64_t b0, int64_t b1, void *ctx) {
  job *j = ctx;
  size_t es = j->es;
  char *scratch = j->n_phys ? tl_alloc((size_t)j->n_phys * BLOCK * es) : NULL;
  if (j->n_phys && !scratch) {
    __atomic_store_n(&j->status, TL_RESOURCE_EXHAUSTED, __ATOMIC_RELAXED);
    return;
  }
  double (*sum)(const void *, int64_t) = j->dt == TL_FLOAT32 ? sum_f32 : sum_f64;
  for (int64_t b = b0; b < b1; b++) {
    if (!j->p->reduce) {
      int64_t begin = b * BLOCK, n = j->n - begin < BLOCK ? j->n - begin : BLOCK;
      run_block(j, begin, n, scratch);
    } else if (j->segs == 0) { /* whole rows per block */
      int64_t rpb = BLOCK / j->L, row0 = b * rpb, nr = j->rows - row0 < rpb ? j->rows - row0 : rpb;
      const char *v = run_block(j, row0 * j->L, nr * j->L, scratch);
      for (int64_t r = 0; r < nr; r++) store(j, row0 + r, sum(v + (size_t)(r * j->L) * es, j->L));
    } else { /* a piece of one long row */
      int64_t row = b / j->segs, seg = b % j->segs, off = seg * BLOCK;
      int64_t n = j->L - off < BLOCK ? j->L - off : BLOCK;
      j->partial[b] = sum(run_block(j, row * j->L + off, n, scratch), n);
    }
  }
  if (scratch) tl_free(scratch, (size_t)j->n_phys * BLOCK * es);
}

static bool dense(const tl_tensor *t) {
  int64_t s = 1;
  for (int i = t->rank - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->strides[i] != s) return false;
    s *= t->shape[i];
  }
  return true;
}

static tl_status fused_kernel(TL_KERNEL_ARGS) {
  (void)op;
  prog p;
  tl_status s = parse(attr, n_in, &p);
  tl_dtype dt = in[0]->dtype;
  if (!s) s = resolve(&p, dt);
  if (s) return s;
  /* register shapes from the actual inputs */
  tl_meta reg[MAX_REGS], full = in[0]->meta;
  for (int i = 0; i < n_in; i++) {
    reg[i] = in[i]->meta;
    if (i && (s = tl_meta_broadcast(&full, &reg[i], &full))) return s;
  }
  for (int i = 0; i < p.n_instr; i++) {
    const instr *k = &p.ins[i];
    if (k->b < 0) reg[n_in + i] = reg[k->a];
    else if ((s = tl_meta_broadcast(&reg[k->a], &reg[k->b], &reg[n_in + i]))) return s;
  }
  bool fast = true;
  for (int i = 0; i < p.n_out && fast; i++) {
    const tl_meta *m = &reg[p.out[i]];
    fast = m->rank == full.rank;
    for (int d = 0; fast && d < m->rank; d++) fast = m->shape[d] == full.shape[d];
  }
  if (p.reduce && (s = reduce_axis(&p, &attr[A_AXIS], full.rank))) return s;
  if (!fast) return run_unfused(&p, in, attr, out);

  job *j = calloc(1, sizeof *j);
  if (!j) return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
  j->p = &p;
  j->dt = dt;
  j->es = tl_dtypes[dt].size;
  j->rank = full.rank > 0 ? full.rank : 1;
  j->shape[0] = 1;
  for (int d = 0; d < full.rank; d++) j->shape[d] = full.shape[d];
  j->n = tl_shape_numel(full.rank, full.shape);
  /* inputs */
  for (int i = 0; i < n_in; i++) {
    tl_tensor *t = in[i];
    src *sr = &j->in[i];
    sr->base = tl_tensor_data(t);
    j->phys[i] = -1;
    if (t->size == j->n && dense(t)) sr->kind = SRC_FULL;
    else if (t->size == 1) {
      sr->kind = SRC_SCALAR;
      j->scalar[i] = true;
    } else {
      sr->kind = SRC_GATHER;
      for (int d = 0; d < j->rank; d++) {
        int k = d - (j->rank - t->rank);
        sr->st[d] = (k < 0 || t->shape[k] != j->shape[d]) ? 0 : t->strides[k];
      }
      j->phys[i] = j->n_phys++;
    }
  }
  /* outputs written in place; the rest get scratch buffers by liveness */
  int last[MAX_REGS];
  for (int r = 0; r < n_in + p.n_instr; r++) last[r] = -1, j->outp[r] = NULL;
  for (int i = 0; i < p.n_instr; i++) {
    last[p.ins[i].a] = i;
    if (p.ins[i].b >= 0) last[p.ins[i].b] = i;
  }
  int plain = p.reduce ? p.n_out - 1 : p.n_out;
  for (int i = 0; i < plain; i++) j->outp[p.out[i]] = tl_tensor_data(out->items[i]);
  int free_list[MAX_REGS], n_free = 0;
  for (int i = 0; i < p.n_instr; i++) {
    const instr *k = &p.ins[i];
    int r = n_in + i;
    j->scalar[r] = j->scalar[k->a] && (k->b < 0 || j->scalar[k->b]);
    if (j->outp[r]) j->phys[r] = -1;
    else j->phys[r] = n_free ? free_list[--n_free] : j->n_phys++;
    for (int q = 0; q < 2; q++) {
      int o = q ? k->b : k->a;
      if (o >= n_in && last[o] == i && j->phys[o] >= 0 && !(q && o == k->a)) {
        bool is_out = false;
        for (int t = 0; t < p.n_out; t++) is_out |= p.out[t] == o;
        if (!is_out) free_list[n_free++] = j->phys[o];
      }
    }
  }
  int64_t nblocks;
  if (!p.reduce) {
    nblocks = (j->n + BLOCK - 1) / BLOCK;
  } else {
    j->rout = tl_tensor_data(out->items[plain]);
    j->L = p.last_axis ? j->shape[j->rank - 1] : j->n;
    if (full.rank == 0) j->L = 1;
    j->rows = j->L ? j->n / j->L : out->items[plain]->size;
    if (j->L == 0) { /* empty rows: 0, or NaN for a mean */
      for (int64_t r = 0; r < j->rows; r++) store(j, r, 0);
      free(j);
      return TL_OK;
    }
    if (j->L <= BLOCK) {
      int64_t rpb = BLOCK / j->L;
      nblocks = (j->rows + rpb - 1) / rpb;
    } else {
      j->segs = (j->L + BLOCK - 1) / BLOCK;
      nblocks = j->rows * j->segs;
      if (!(j->partial = malloc(sizeof(double) * (size_t)(nblocks ? nblocks : 1)))) {
        free(j);
        return tl_error(TL_RESOURCE_EXHAUSTED, "out of memory");
      }
    }
  }
  if (j->n > 0) tl_parallel_for(nblocks, GRAIN_BLOCKS, range_fn, j);
  if (!j->status && p.reduce && j->segs)
    for (int64_t r = 0; r < j->rows; r++) {
      double acc = 0;
      for (int64_t q = 0; q < j->segs; q++) acc += j->partial[r * j->segs + q];
      store(j, r, acc);
    }
  s = j->status ? tl_error(j->status, "fused_elementwise: out of memory for block buffers")
      : j->err  ? tl_ew_binary_error(j->err)
                : TL_OK;
  free(j->partial);
  free(j);
  return s;
}

/* ---- gradient ------------------------------------------------------------ */

/* g summed over the dims it broadcast over, to like's shape (tape.c does the
 * same for a whole op; here it is needed between instructions). */
static tl_status sum_to(tl_tensor *g, const tl_tensor *like, tl_tensor **out) {
  if (tl_tensor_same_shape(g, like)) {
    *out = tl_tensor_retain(g);
    return TL_OK;
  }
  int64_t axes[TL_MAX_RANK];
  int na = 0, off = g->rank - like->rank;
  for (int d = 0; d < g->rank; d++)
    if (d < off || (like->shape[d - off] == 1 && g->shape[d] != 1)) axes[na++] = d;
  tl_tensor *r;
  tl_status s = tl_call("reduce_sum", 1, &g, 1, (tl_named_attr[]){TL_A_INTS("axis", na, axes)}, &r);
  if (s) return s;
  s = tl_call("reshape", 1, &r, 1, (tl_named_attr[]){TL_A_INTS("shape", like->rank, like->shape)}, out);
  tl_tensor_release(r);
  return s;
}

/* acc += g (acc may be NULL); takes g. */
static tl_status accumulate(tl_tensor **acc, tl_tensor *g) {
  if (!*acc) {
    *acc = g;
    return TL_OK;
  }
  tl_tensor *ab[2] = {*acc, g}, *sum;
  tl_status s = tl_call("add", 2, ab, 0, NULL, &sum);
  tl_tensor_release(g);
  if (s) return s;
  tl_tensor_release(*acc);
  *acc = sum;
  return TL_OK;
}

static tl_status fused_grad(TL_GRAD_ARGS) {
  (void)op, (void)n_out;
  prog p;
  tl_status s = parse(attr, n_in, &p);
  if (s) return s;
  if (!tl_dtype_is_float(in[0]->dtype)) return TL_OK;
  int nr = n_in + p.n_instr;
  tl_tensor *reg[MAX_REGS] = {0}, *G[MAX_REGS] = {0};
  for (int i = 0; i < n_in; i++) reg[i] = in[i];
  for (int i = 0; i < p.n_instr && !s; i++) { /* the intermediates the rules need */
    const instr *k = &p.ins[i];
    tl_attr attrs[TL_MAX_ATTRS];
    instr_attrs(k, attrs);
    tl_tensor *ops[2] = {reg[k->a], k->b >= 0 ? reg[k->b] : NULL};
    s = tl_op_run1(k->op, ops, k->b >= 0 ? 2 : 1, attrs, &reg[n_in + i]);
  }
  uint64_t saved = tl_grad_wants_all();
  for (int i = 0; i < p.n_out && !s; i++) {
    if (!grad_out[i]) continue;
    int r = p.out[i];
    tl_tensor *g = NULL;
    if (p.reduce && i == p.n_out - 1) { /* through the reduction's own rule */
      const tl_op_def *rop = tl_op_find(p.reduce == RED_SUM ? "reduce_sum" : "reduce_mean");
      tl_attr ra[TL_MAX_ATTRS];
      tl_attrs_defaults(rop, ra);
      ra[tl_attr_index(rop, "axis")] = attr[A_AXIS];
      ra[tl_attr_index(rop, "keepdims")] = attr[A_KEEPDIMS];
      s = rop->grad(rop, &reg[r], 1, ra, &out[i], 1, &grad_out[i], &g);
      if (!s && !g) s = tl_error(TL_INTERNAL, "fused_elementwise: the reduction gave no gradient");
    } else {
      g = tl_tensor_retain(grad_out[i]);
    }
    if (!s) s = accumulate(&G[r], g);
  }
  for (int i = p.n_instr - 1; i >= 0 && !s; i--) {
    int r = n_in + i;
    const instr *k = &p.ins[i];
    if (!G[r] || !k->op->grad) continue;
    tl_attr attrs[TL_MAX_ATTRS];
    instr_attrs(k, attrs);
    tl_tensor *ops[2] = {reg[k->a], k->b >= 0 ? reg[k->b] : NULL}, *gin[2] = {NULL, NULL};
    int n = k->b >= 0 ? 2 : 1;
    s = k->op->grad(k->op, ops, n, attrs, &reg[r], 1, &G[r], gin);
    for (int q = 0; q < n; q++) {
      tl_tensor *sized = NULL;
      if (!s && gin[q]) s = sum_to(gin[q], ops[q], &sized);
      if (!s && sized) s = accumulate(&G[q ? k->b : k->a], sized);
      tl_tensor_release(gin[q]);
    }
  }
  tl_grad_wants_restore(saved);
  for (int i = 0; i < n_in; i++) {
    if (!s) grad_in[i] = G[i];
    else tl_tensor_release(G[i]);
  }
  for (int r = n_in; r < nr; r++) {
    tl_tensor_release(reg[r]);
    tl_tensor_release(G[r]);
  }
  return s;
}

tl_op_def tl_ops_fused[] = {
    {.name = "fused_elementwise", .inputs = "values[]",
     .attrs = "program:string, outputs:ints, reduce:string=none, axis:ints?, keepdims:bool=false",
     .infer = fused_infer, .kernel[TL_CPU] = fused_kernel, .grad = fused_grad, .api = "-",
     .doc = "A fused chain of element-wise ops (made by graph fusion; see docs/internals.md)."},
    {0},
};
