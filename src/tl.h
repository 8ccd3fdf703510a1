/* tl.h — the public interface of the tlua C core.
 *
 * The core is a plain C11 library: tensors with reference-counted storage,
 * one op registry that every caller (Lua binding, tape, tracer, backends)
 * reads, and status codes with a thread-local message instead of aborts.
 * It never includes Lua, never prints (except print_v2's kernel, the op
 * behind tf.print: src/ops/print.c), never exits on user error.
 *
 * Ownership: every function that returns a tl_tensor* through an out
 * parameter hands the caller one reference; release it with
 * tl_tensor_release. Inputs are borrowed.
 */
#ifndef TL_H
#define TL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ------------------------------------------------------------ */

/* ORDER STATUS: names in status.c follow this order. */
typedef enum tl_status {
  TL_OK = 0,
  TL_INVALID_ARGUMENT,
  TL_OUT_OF_RANGE,
  TL_FAILED_PRECONDITION,
  TL_NOT_FOUND,
  TL_RESOURCE_EXHAUSTED,
  TL_UNIMPLEMENTED,
  TL_CANCELLED,
  TL_DEADLINE_EXCEEDED,
  TL_INTERNAL,
  TL_DATA_LOSS, /* unreadable or corrupted stored data (checkpoints) */
  TL_STATUS_COUNT
} tl_status;

/* "InvalidArgument", "OutOfRange", ... (TensorFlow's names without "Error"). */
const char *tl_status_name(tl_status s);
/* Sets the thread-local message and returns kind, so callers write
 * `return tl_error(TL_INVALID_ARGUMENT, "matmul: %s", ...)`. */
tl_status tl_error(tl_status kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefixes the current message with "op: " context (used by the dispatcher). */
void tl_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *tl_last_error(void);
tl_status tl_last_status(void);
void tl_clear_error(void);

/* Cooperative interruption (Ctrl-C): long kernels poll tl_interrupted(). */
void tl_request_interrupt(void);
bool tl_interrupted(void);  /* true once after a request; clears it */
bool tl_interrupt_pending(void);

#define TL_ASSERT(c)                                                          \
  do {                                                                        \
    if (!(c)) return tl_error(TL_INTERNAL, "internal: %s:%d: %s", __FILE__, \
                              __LINE__, #c);                                  \
  } while (0)

/* ---- dtypes ------------------------------------------------------------ */

/* ORDER DTYPES: tl_dtypes[] in dtype.c follows this order. */
typedef enum tl_dtype {
  TL_FLOAT32 = 0,
  TL_FLOAT64,
  TL_FLOAT16,
  TL_BFLOAT16,
  TL_INT8,
  TL_UINT8,
  TL_INT16,
  TL_INT32,
  TL_INT64,
  TL_BOOL,
  TL_COMPLEX64,
  TL_STRING,
  TL_RESOURCE, /* a handle to a tl_variable: the state input of assign/read/optimizer ops */
  TL_DTYPE_COUNT
} tl_dtype;

typedef enum tl_dtype_kind {
  TL_KIND_FLOAT,
  TL_KIND_INT,  /* signed */
  TL_KIND_UINT,
  TL_KIND_BOOL,
  TL_KIND_COMPLEX,
  TL_KIND_STRING,
  TL_KIND_RESOURCE,
  TL_KIND_COUNT
} tl_dtype_kind;

typedef struct tl_dtype_info {
  const char *name;   /* "float32" */
  size_t size;        /* bytes per element (string: sizeof(tl_string)) */
  tl_dtype_kind kind;
  bool computable;    /* element-wise kernels exist for it today */
} tl_dtype_info;

extern const tl_dtype_info tl_dtypes[TL_DTYPE_COUNT];
/* Returns TL_DTYPE_COUNT for an unknown name. */
tl_dtype tl_dtype_from_name(const char *name);
static inline bool tl_dtype_is_float(tl_dtype d) { return tl_dtypes[d].kind == TL_KIND_FLOAT; }
static inline bool tl_dtype_is_integer(tl_dtype d) {
  return tl_dtypes[d].kind == TL_KIND_INT || tl_dtypes[d].kind == TL_KIND_UINT;
}

/* Reads element i of a buffer of dtype d as double / int64, and writes one.
 * For cold paths (printing, conversion, scalar attributes), never for kernels. */
double tl_load_f64(const void *base, tl_dtype d, int64_t i);
int64_t tl_load_i64(const void *base, tl_dtype d, int64_t i);
void tl_store_f64(void *base, tl_dtype d, int64_t i, double v);
void tl_store_i64(void *base, tl_dtype d, int64_t i, int64_t v);
float tl_half_to_float(uint16_t h);
uint16_t tl_float_to_half(float f);
float tl_bf16_to_float(uint16_t h);
uint16_t tl_float_to_bf16(float f);

/* ---- devices and storage ----------------------------------------------- */

/* ORDER DEVICES: the device table in backend/device.c follows this order.
 * TL_TEST is the test-only device: its memory is kept PROT_NONE except
 * while one of its kernels runs (it runs the CPU kernels), so any host code
 * that reads device memory outside a kernel faults at once. */
typedef enum tl_device { TL_CPU = 0, TL_TEST, TL_CUDA, TL_DEVICE_COUNT } tl_device;

typedef struct tl_storage {
  int refcount;      /* atomic */
  tl_device device;
  size_t nbytes;
  void *data;        /* device memory: host code must not touch it outside a kernel */
  /* String storages only: the bytes of their elements (core/strings.c);
   * NULL until the first string is stored, freed with the storage. */
  struct tl_string_arena *arena;
} tl_storage;

/* What a backend provides (backend/device.c holds the table). */
typedef struct tl_device_impl {
  const char *name;        /* "CPU", "TEST", "GPU" (TensorFlow's device type names) */
  bool available;
  bool runs_cpu_kernels;   /* an op without a kernel for it runs its CPU kernel */
  void *(*alloc)(size_t nbytes);
  void (*free)(void *p, size_t nbytes);
  /* Copies between host memory and a storage of this device. */
  tl_status (*upload)(tl_storage *dst, size_t offset, const void *src, size_t n);
  tl_status (*download)(void *dst, const tl_storage *src, size_t offset, size_t n);
  /* Around the outermost kernel that runs on this device (nested ops inside
   * a kernel do not call them again). */
  void (*kernel_begin)(void);
  void (*kernel_end)(void);
} tl_device_impl;
const tl_device_impl *tl_device_get(tl_device d);
/* Parses "CPU", "CPU:0", "/device:CPU:0", "/job:localhost/replica:0/task:0/device:TEST:0"
 * (case-insensitive type, index 0 only); TL_DEVICE_COUNT when unknown or unavailable. */
tl_device tl_device_from_name(const char *name);
/* "/job:localhost/replica:0/task:0/device:CPU:0", as TensorFlow prints t.device. */
const char *tl_device_name(tl_device d);
/* The device of ops without tensor inputs (creation, random): per thread,
 * set by tf.device scopes. CPU by default. */
tl_device tl_default_device(void);
void tl_set_default_device(tl_device d);
/* Where tl_tensor_new allocates: the device of the kernel now running on
 * this thread, CPU outside kernels. */
tl_device tl_current_device(void);

tl_status tl_storage_new(tl_device dev, size_t nbytes, tl_storage **out);
void tl_storage_retain(tl_storage *s);
void tl_storage_release(tl_storage *s);

/* Caching aligned allocator for CPU buffers (64-byte aligned). */
void *tl_alloc(size_t nbytes);
void tl_free(void *p, size_t nbytes);
/* Test-only fault injection: the n-th tl_alloc call from now (counting 1)
 * returns NULL, as if memory ran out; 0 disarms. Kernels' scratch comes
 * from tl_alloc too, so tests reach workers' failure paths with it. */
void tl_alloc_fail_at(int64_t n);
typedef struct tl_memory_stats {
  int64_t live_bytes;    /* bytes held by live storages, all devices */
  int64_t device_live_bytes[TL_DEVICE_COUNT];
  int64_t peak_bytes;
  int64_t cached_bytes;  /* freed buffers kept for reuse */
  int64_t alloc_count;   /* allocations served (from cache or fresh) */
} tl_memory_stats;
tl_memory_stats tl_memory_get_stats(void);
/* Bytes handed out since the start (monotonic; cheap, lock-free read). */
int64_t tl_memory_allocated_total(void);
/* Headers of tensors and storages (at most 256 bytes), from per-thread free lists. */
void *tl_obj_alloc(size_t size);
void tl_obj_free(void *p, size_t size);
void tl_memory_trim(void); /* returns cached buffers to the system */

/* ---- tensors ----------------------------------------------------------- */

#define TL_MAX_RANK 8

/* What a shape rule sees of a tensor: dtype, rank and shape, no data.
 * -1 marks an unknown rank or dimension (a symbolic tensor in a trace, or
 * the value-dependent output of boolean_mask). */
typedef struct tl_meta {
  tl_dtype dtype;
  int rank;
  int64_t shape[TL_MAX_RANK];
} tl_meta;

typedef struct tl_tensor {
  /* The leading fields are a tl_meta, so t->meta is the tensor's meta
   * without a copy (the dispatcher hands &t->meta to shape rules). */
  union {
    tl_meta meta;
    struct {
      tl_dtype dtype;
      int rank;
      int64_t shape[TL_MAX_RANK];
    };
  };
  int refcount;                    /* atomic */
  int64_t strides[TL_MAX_RANK];    /* in elements; may be 0 (broadcast view) */
  int64_t offset;                  /* in elements */
  int64_t size;                    /* product of shape */
  tl_storage *storage;
  /* Serial numbers of (up to two) gradient tapes watching this tensor, so
   * the tape's hot path needs no hash lookups; 0 = free slot. Owned by
   * tape.c; zero in every new tensor. */
  uint64_t tape_marks[2];
  /* Symbolic tensors (inside a trace, src/tl_graph.h): the trace's serial
   * number and 1 + the value id in its graph; both 0 in concrete tensors.
   * A symbolic tensor has a shared storage without data. */
  uint32_t sym_trace;
  int32_t sym_value;
} tl_tensor;

/* A string element: pointer and length of bytes (any bytes, NULs too; not
 * terminated). The bytes belong to the arena of the storage that holds the
 * element (tl_string_set), never to another storage: the dispatcher copies
 * the bytes of string outputs into their own storage after every op not
 * flagged TL_OP_STRINGS_OWNED (core/strings.c), so movement kernels copy
 * the 16-byte elements and nothing more. {NULL, 0} is the empty string. */
typedef struct tl_string {
  char *data;
  int64_t len;
} tl_string;
#define TL_STRING_MAX_LEN ((int64_t)1 << 40)

/* A new contiguous tensor with uninitialised contents (zeroed for strings),
 * on tl_current_device() (the running kernel's device; CPU outside kernels). */
tl_status tl_tensor_new(tl_dtype dt, int rank, const int64_t *shape, tl_tensor **out);
tl_status tl_tensor_new_on(tl_device dev, tl_dtype dt, int rank, const int64_t *shape, tl_tensor **out);
static inline tl_device tl_tensor_device(const tl_tensor *t) { return t->storage->device; }
/* A copy of t on dev (t retained when already there), outside the registry:
 * for host code that must read values (printing, conversion to Lua,
 * serialization). Users copy with the copy_to_device op. Strings and
 * resources live on the CPU only. */
tl_status tl_tensor_copy_to(tl_tensor *t, tl_device dev, tl_tensor **out);
/* A scalar of dtype dt on the device of like (a CPU tensor when like is NULL):
 * the constants of gradient rules and the tape. */
tl_status tl_tensor_scalar_like(const tl_tensor *like, tl_dtype dt, double v, tl_tensor **out);
tl_status tl_tensor_zeros(tl_dtype dt, int rank, const int64_t *shape, tl_tensor **out);
/* A tensor over an existing storage (a view). */
tl_status tl_tensor_view(tl_storage *s, tl_dtype dt, int rank, const int64_t *shape,
                         const int64_t *strides, int64_t offset, tl_tensor **out);
tl_status tl_tensor_scalar_f64(tl_dtype dt, double v, tl_tensor **out);
tl_status tl_tensor_scalar_i64(tl_dtype dt, int64_t v, tl_tensor **out);
tl_tensor *tl_tensor_retain(tl_tensor *t);
void tl_tensor_release(tl_tensor *t);

static inline void *tl_tensor_data(const tl_tensor *t) {
  return (char *)t->storage->data + t->offset * (int64_t)tl_dtypes[t->dtype].size;
}
bool tl_tensor_is_contiguous(const tl_tensor *t);
/* Returns t retained if already contiguous, else a contiguous copy. */
tl_status tl_tensor_contiguous(tl_tensor *t, tl_tensor **out);
/* Copies src (any strides) into dst (contiguous, same shape and dtype);
 * string elements get their own bytes in dst's storage. */
tl_status tl_tensor_copy_into(tl_tensor *dst, const tl_tensor *src);
tl_status tl_tensor_cast(tl_tensor *t, tl_dtype to, tl_tensor **out);
/* Converts src (any strides) into dst (contiguous, same shape, any dtype;
 * a plain copy when the dtypes agree): the cast kernel. */
tl_status tl_tensor_cast_into(tl_tensor *dst, const tl_tensor *src);
/* Shares storage when t is contiguous. */
tl_status tl_tensor_reshape(tl_tensor *t, int rank, const int64_t *shape, tl_tensor **out);
/* Product of dims with overflow and negative checks; -1 on overflow. */
int64_t tl_shape_numel(int rank, const int64_t *shape);
/* Writes e.g. "float32[32,10]" into buf (always terminated), returns buf. */
char *tl_tensor_describe(const tl_tensor *t, char *buf, size_t n);
char *tl_shape_format(int rank, const int64_t *shape, char *buf, size_t n);
/* "float32[?,10]" for a meta (? for an unknown dimension, [...] for an unknown rank). */
char *tl_meta_describe(const tl_meta *m, char *buf, size_t n);
/* Normalises axis (negative from end) against rank; error names op (NULL:
 * no prefix, for shape rules, whose errors the dispatcher prefixes with the
 * op and its operands). */
tl_status tl_normalize_axis(const char *op, int64_t axis, int rank, int *out);
bool tl_tensor_same_shape(const tl_tensor *a, const tl_tensor *b);
/* A tensor as self-describing bytes ("TLT1", dtype name, shape, values;
 * serialize.c documents the layout); *out is malloc'd, the caller frees it.
 * tl_tensor_parse checks every length and never reads past len. */
tl_status tl_tensor_serialize(tl_tensor *t, char **out, size_t *out_len);
tl_status tl_tensor_parse(const void *buf, size_t len, tl_tensor **out);
/* The same bytes without building them in memory: the header, then the
 * values (copied to the CPU first when t lives elsewhere), each handed to
 * sink; the first sink error is returned. tl_tensor_serialized_size says
 * how many bytes that is, so a file can give the length first. */
typedef tl_status (*tl_byte_sink)(void *ctx, const void *bytes, size_t n);
tl_status tl_tensor_serialize_to(tl_tensor *t, tl_byte_sink sink, void *ctx);
size_t tl_tensor_serialized_size(const tl_tensor *t);
/* CRC-32 as zlib computes it: tl_crc32(0, "123456789", 9) == 0xCBF43926. */
uint32_t tl_crc32(uint32_t crc, const void *buf, size_t len);

/* String elements (core/strings.c). t is a string tensor; i indexes its
 * elements in storage order from t's offset (the i-th element of a fresh
 * contiguous tensor). set copies len bytes into t's storage's arena; alloc
 * reserves n bytes there (for kernels that build strings in place; NOT
 * thread-safe: parallel kernels reserve once, then fill); adopt copies every
 * element of t whose bytes are not in its own storage's arena into it (the
 * dispatcher's re-homing); owns says whether p lies in s's arena. */
tl_status tl_string_set(tl_tensor *t, int64_t i, const void *bytes, size_t len);
char *tl_string_alloc(tl_tensor *t, size_t n);
tl_status tl_string_adopt(tl_tensor *t);
bool tl_string_owns(const tl_storage *s, const char *p);
/* Bytes held by a storage's arena (for memory accounting and tests). */
size_t tl_string_arena_bytes(const tl_storage *s);

/* Broadcasting: the shape of a op b under numpy rules. */
tl_status tl_broadcast_shapes(int ra, const int64_t *sa, int rb, const int64_t *sb,
                              int *rout, int64_t *sout);
/* A view of t broadcast to (rank, shape): strides 0 on expanded dims. */
tl_status tl_tensor_broadcast_view(tl_tensor *t, int rank, const int64_t *shape,
                                   tl_tensor **out);

/* Strided iteration: calls fn on maximal contiguous inner runs.
 * For n operands of the same shape (already broadcast views), fn gets
 * per-operand base pointers and per-operand inner strides in elements, and
 * the run length. The dims are coalesced first, so a contiguous tensor is
 * one call. */
#define TL_ITER_MAX 4
typedef void (*tl_iter_fn)(char **ptrs, const int64_t *inner_strides, int64_t n, void *ctx);
void tl_iterate(int nops, tl_tensor *const *ops, tl_iter_fn fn, void *ctx);

/* Formatting for printing (numpy-like, summarised with ... past threshold). */
typedef struct tl_print_opts {
  int64_t threshold;  /* summarise when size > threshold (default 1000) */
  int edgeitems;      /* items kept at each end when summarising (default 3) */
  int precision;      /* most digits after the point for floats (default 8, as numpy) */
  int linewidth;      /* default 75 */
  bool values_only;   /* just the values, without tf.Tensor(..., shape, dtype) */
} tl_print_opts;
/* Returns a malloc'd string the caller frees with free(). */
tl_status tl_tensor_format(const tl_tensor *t, const tl_print_opts *opts, char **out);

/* ---- threads ----------------------------------------------------------- */

/* Sets flush-to-zero and denormals-are-zero in the calling thread. */
void tl_set_ftz(void);
int tl_num_threads(void);
void tl_set_num_threads(int n);
/* Runs fn(begin, end, ctx) over [0, n) split across the compute pool, or
 * inline when n < grain or the pool has one thread. */
typedef void (*tl_range_fn)(int64_t begin, int64_t end, void *ctx);
void tl_parallel_for(int64_t n, int64_t grain, tl_range_fn fn, void *ctx);

/* ---- BLAS/LAPACK (loaded at first use, with the best kernel) ------------ */
typedef struct tl_blas_info {
  bool loaded;
  const char *library;     /* path that was loaded */
  const char *coretype;    /* kernel chosen (OPENBLAS_CORETYPE) or NULL */
  const char *corename;    /* what openblas_get_corename() reports */
} tl_blas_info;
tl_status tl_blas_load(void);
tl_blas_info tl_blas_get_info(void);

/* ---- the op registry --------------------------------------------------- */

typedef enum tl_attr_type {
  TL_ATTR_INT,     /* int64 */
  TL_ATTR_FLOAT,   /* double */
  TL_ATTR_BOOL,
  TL_ATTR_INTS,    /* list of int64; one int is accepted as a list of one */
  TL_ATTR_FLOATS,  /* list of double */
  TL_ATTR_DTYPE,
  TL_ATTR_STRING,
  TL_ATTR_TYPE_COUNT
} tl_attr_type;

/* A value passed to an op. `present` is false when the caller gave nil and
 * the declaration has no default ("axis:ints?" means optional, no default). */
typedef struct tl_attr {
  bool present;
  tl_attr_type type;
  int64_t i;
  double f;
  bool b;
  tl_dtype dtype;
  const char *s;
  int n;             /* list length for INTS/FLOATS */
  int64_t *ints;     /* owned by whoever filled the attr array */
  double *floats;
} tl_attr;

#define TL_MAX_ATTRS 12
#define TL_MAX_INPUTS 8

typedef struct tl_attr_def {
  char name[32];
  tl_attr_type type;
  bool optional;     /* may be absent (no default) */
  bool has_default;
  tl_attr def;       /* default value; lists as parsed from the spec */
  int64_t def_ints[TL_MAX_RANK];
  double def_floats[4];
} tl_attr_def;

typedef struct tl_input_def {
  char name[24];
  bool list;       /* a list of tensors (concat, stack, add_n); only last */
  bool optional;   /* may be nil (tf.where's x, y) */
  bool resource;   /* "var:resource": a variable handle (TL_RESOURCE); its
                      shape rule sees the variable's value meta */
} tl_input_def;

/* Growable list of output tensors (ops like split/unstack produce many). */
typedef struct tl_tensor_list {
  tl_tensor **items;
  int n, cap;
  tl_tensor *inline_items[4];
} tl_tensor_list;
void tl_list_init(tl_tensor_list *l);
tl_status tl_list_push(tl_tensor_list *l, tl_tensor *t); /* takes the reference */
void tl_list_clear(tl_tensor_list *l);                   /* releases all */

/* Growable list of output metas (what a shape rule produces). */
typedef struct tl_meta_list {
  tl_meta *items;
  int n, cap;
  tl_meta inline_items[2];
} tl_meta_list;
void tl_meta_list_init(tl_meta_list *l);
/* A new slot at the end (rank 0, dtype float32), or NULL when out of memory
 * (the status is set). */
tl_meta *tl_meta_push(tl_meta_list *l, tl_dtype dt, int rank, const int64_t *shape);
void tl_meta_list_free(tl_meta_list *l);

struct tl_op_def;
/* The shape/dtype rule: the inputs' metas (NULL for an optional input that
 * was not given; a list input is flattened into the tail; for a resource
 * input, the meta of the variable's value) and the attributes in, one meta
 * per output out. It checks everything that can be checked without data
 * and reads no data: a tracer, a graph optimizer and a memory planner call
 * it with symbolic inputs (-1 dimensions), so it propagates unknowns. */
typedef tl_status (*tl_infer_fn)(const struct tl_op_def *op, const tl_meta *const *in, int n_in,
                                 const tl_attr *attr, tl_meta_list *out);
/* A kernel for one device. in: n_in tensors, all on that device. attr: one
 * per declared attribute, in declaration order, defaults filled in. out
 * arrives holding the outputs the shape rule described, allocated on the
 * device (contiguous, uninitialised); the kernel fills them. With
 * TL_OP_KERNEL_ALLOCATES, out arrives empty and the kernel pushes its
 * outputs (views of its inputs, or value-dependent shapes). */
typedef tl_status (*tl_kernel_fn)(const struct tl_op_def *op, tl_tensor *const *in, int n_in,
                                  const tl_attr *attr, tl_tensor_list *out);
/* Gradient rule: given the forward inputs, outputs and the gradients of
 * the outputs (NULL where none), produce one gradient per input (NULL where
 * not differentiable). Written with ordinary ops through tl_call so
 * gradients of gradients work; constants come from tl_tensor_scalar_like
 * so they live on the operands' device. */
typedef tl_status (*tl_grad_fn)(const struct tl_op_def *op, tl_tensor *const *in, int n_in,
                                const tl_attr *attr, tl_tensor *const *out, int n_out,
                                tl_tensor *const *grad_out, tl_tensor **grad_in);

enum {
  /* Lua numbers among the inputs take the dtype of the tensor inputs. */
  TL_OP_SCALARS_FOLLOW = 1 << 0,
  /* All tensor inputs must share one dtype (checked by the dispatcher). */
  TL_OP_SAME_DTYPE = 1 << 1,
  /* Op draws random numbers (not pure; the tracer must not fold it). */
  TL_OP_RANDOM = 1 << 2,
  /* Op has no tensor input (creation ops: zeros, fill, range...): it runs
   * on tl_default_device(). */
  TL_OP_NO_INPUT = 1 << 3,
  /* Outputs form one list (split, unstack): Lua gets a table, not values. */
  TL_OP_LIST_OUTPUT = 1 << 4,
  /* No gradient flows through (stop_gradient, comparisons, argmax, shape
   * queries): the tape treats it as a constant instead of an error. */
  TL_OP_NO_GRADIENT = 1 << 5,
  /* Only the first output is the op's result; the others are kept for its
   * gradient rule (dropout's scaled mask) and callers other than the tape
   * drop them (the Lua binding returns one value). */
  TL_OP_HIDDEN_OUTPUTS = 1 << 6,
  /* The kernel makes its outputs itself (views of its inputs, or shapes
   * known only from values); the dispatcher allocates nothing. */
  TL_OP_KERNEL_ALLOCATES = 1 << 7,
  /* Output shapes depend on input values (boolean_mask, one-argument where,
   * unique): the shape rule gives rank and dtype with -1 dimensions.
   * Implies TL_OP_KERNEL_ALLOCATES. */
  TL_OP_VALUE_SHAPE = 1 << 8 | TL_OP_KERNEL_ALLOCATES,
  /* float16/bfloat16 inputs are computed in float32: the dispatcher casts
   * them up, runs the op, and rounds outputs the shape rule gives as half
   * back down. The kernels see float32 only. */
  TL_OP_HALF_VIA_F32 = 1 << 9,
  /* Changes state (a resource input is written): never folded, never
   * reordered by a graph optimizer. */
  TL_OP_STATEFUL = 1 << 10,
  /* Inputs may live on different devices (copy_to_device). */
  TL_OP_ANY_DEVICE = 1 << 11,
  /* The kernel writes its string outputs' bytes with tl_string_set /
   * tl_string_alloc into those outputs' own storages, so the dispatcher
   * need not re-home them (string ops; movement ops leave it unset). */
  TL_OP_STRINGS_OWNED = 1 << 12,
};

typedef struct tl_op_def {
  const char *name;     /* canonical name, e.g. "reduce_sum" */
  const char *inputs;   /* spec: "x, y" | "values[]" | "condition, x?, y?" | "var:resource, value" */
  const char *attrs;    /* spec: "axis:ints?, keepdims:bool=false" */
  tl_infer_fn infer;    /* shape/dtype rule; every op has one */
  tl_kernel_fn kernel[TL_DEVICE_COUNT]; /* .kernel[TL_CPU] = ...; a device without
                                           one may borrow the CPU's (runs_cpu_kernels) */
  tl_grad_fn grad;
  unsigned flags;
  /* Where the binding exposes it: space separated paths, e.g.
   * "tf.add tf.math.add". Empty means "tf.<name>". "-" means internal only. */
  const char *api;
  const char *doc;      /* one line for help() */
  /* The op's own constant data for kernels shared by several records (the
   * element-wise table entry of add, the rule of an optimizer update), so
   * a kernel never recovers its op from table positions or names. */
  const void *impl;
  /* Filled at registration from the specs: */
  int n_inputs;
  tl_input_def input[TL_MAX_INPUTS];
  int n_attrs;
  tl_attr_def attr[TL_MAX_ATTRS];
  int id;
} tl_op_def;

/* Registry. Op tables are NULL-name-terminated arrays, one per source file,
 * listed in registry.c. tl_init parses every spec once. */
tl_status tl_init(void);
int tl_op_count(void);
const tl_op_def *tl_op_at(int i);
const tl_op_def *tl_op_find(const char *name);

/* Fills attrs with the declared defaults (caller then overrides by index). */
void tl_attrs_defaults(const tl_op_def *op, tl_attr *attrs);
int tl_attr_index(const tl_op_def *op, const char *name);

/* The dispatcher: checks arity, dtypes and devices, asks the shape rule
 * for the outputs, allocates them on the inputs' device, runs that device's
 * kernel, prefixes errors with the op name and operands, tells the
 * observers, and checks outputs for NaN/Inf when numeric checking is on. */
tl_status tl_op_run(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                    tl_tensor_list *out);
/* The shape rule alone on concrete tensors (tests, the tracer's checks):
 * the same checks and messages as tl_op_run, no kernel. */
tl_status tl_op_infer(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                      tl_meta_list *out);
/* Test mode: after every kernel, run the op's shape rule on the same inputs
 * and fail with TL_INTERNAL if it disagrees with the outputs (or the op has
 * none). tl_op_infer_checks counts the agreeing calls per op. */
void tl_set_check_infer(bool on);
int64_t tl_op_infer_checks(const tl_op_def *op);
/* tl_op_run keeping only the first output (the others are released). */
tl_status tl_op_run1(const tl_op_def *op, tl_tensor *const *in, int n_in, const tl_attr *attrs,
                     tl_tensor **out);
/* Convenience for C callers with no attributes beyond defaults and one output. */
tl_status tl_run1(const char *name, tl_tensor *const *in, int n_in, tl_tensor **out);

/* Calling an op from C by name with named attributes (grad rules, composite
 * ops): unnamed attributes take their defaults; first output returned.
 *   tl_call("reduce_sum", 1, &g, 2, (tl_named_attr[]){TL_A_INTS("axis", n, axes),
 *           TL_A_BOOL("keepdims", true)}, &out); */
typedef struct tl_named_attr {
  const char *name;
  tl_attr value;
} tl_named_attr;
#define TL_A_INT(nm, v) ((tl_named_attr){(nm), {.present = true, .type = TL_ATTR_INT, .i = (v)}})
#define TL_A_FLOAT(nm, v) ((tl_named_attr){(nm), {.present = true, .type = TL_ATTR_FLOAT, .f = (v)}})
#define TL_A_BOOL(nm, v) ((tl_named_attr){(nm), {.present = true, .type = TL_ATTR_BOOL, .b = (v)}})
#define TL_A_DTYPE(nm, v) ((tl_named_attr){(nm), {.present = true, .type = TL_ATTR_DTYPE, .dtype = (v)}})
#define TL_A_STRING(nm, v) ((tl_named_attr){(nm), {.present = true, .type = TL_ATTR_STRING, .s = (v)}})
#define TL_A_INTS(nm, cnt, arr) \
  ((tl_named_attr){(nm), {.present = true, .type = TL_ATTR_INTS, .n = (cnt), .ints = (int64_t *)(arr)}})
tl_status tl_call(const char *op, int n_in, tl_tensor *const *in, int n_attrs,
                  const tl_named_attr *attrs, tl_tensor **out);
/* Same, keeping every output (split, top_k, moments). */
tl_status tl_call_list(const char *op, int n_in, tl_tensor *const *in, int n_attrs,
                       const tl_named_attr *attrs, tl_tensor_list *out);

/* Inside a grad rule: whether input i needs a gradient at all (it is a
 * watched float tensor). Rules may skip the work for the others; what they
 * return for them anyway is dropped. True outside a backward pass. */
bool tl_grad_wants(int input);

/* Observers see every op application: the tape, later the tracer and a
 * profiler, together. depth is 0 for an op called from outside any kernel
 * (the user's ops, and the ops of gradient rules) and n > 0 for an op that
 * a kernel (or the dispatcher itself: half casts, numeric checks) called
 * while another op ran, so observers that record user ops skip depth > 0.
 * `before` runs after the checks and before the kernel; `after` runs after
 * a successful kernel. An error from either fails the op. Observers are
 * registered for the life of the process or until removed; at most 8. */
typedef struct tl_observer {
  tl_status (*before)(void *ctx, const tl_op_def *op, tl_tensor *const *in, int n_in,
                      const tl_attr *attrs, int depth);
  tl_status (*after)(void *ctx, const tl_op_def *op, tl_tensor *const *in, int n_in,
                     const tl_attr *attrs, const tl_tensor_list *out, int depth);
  void *ctx;
} tl_observer;
tl_status tl_observer_add(const tl_observer *o); /* o must stay valid until removed */
void tl_observer_remove(const tl_observer *o);
/* The calling thread's op nesting depth (0 outside kernels). */
int tl_op_depth(void);
/* Sets it: a kernel that calls back into user code (lua_function) runs the
 * callback at depth 0, so its ops are user ops (traced, checked), and
 * restores the depth afterwards. */
void tl_op_set_depth(int depth);

/* ---- variables --------------------------------------------------------- */
/* Mutable state with value semantics for readers: a tensor read from a
 * variable never changes afterwards (assign copies on write when the value
 * is shared, and writes in place when the variable holds the only ref). */
typedef struct tl_variable {
  int refcount;
  tl_tensor *value;
  /* The variable as an op input: a CPU scalar of dtype TL_RESOURCE whose
   * storage points back here (without a reference; cleared when the
   * variable dies, so a handle kept by a tape outlives it safely). */
  tl_tensor *handle;
  bool trainable;
  char name[64];
  uint64_t id;       /* unique per process, for tapes and checkpoints */
} tl_variable;
tl_status tl_variable_new(tl_tensor *init, bool trainable, const char *name, tl_variable **out);
tl_variable *tl_variable_retain(tl_variable *v);
void tl_variable_release(tl_variable *v);
/* t must have the variable's dtype and shape (broadcast is not applied). */
tl_status tl_variable_assign(tl_variable *v, tl_tensor *t);
/* The variable behind a resource tensor; an error when t is not a resource
 * or its variable is gone. */
tl_status tl_resource_variable(const tl_tensor *t, tl_variable **out);
/* The same without an error: NULL when t is not a resource or its variable
 * is gone (handles are CPU tensors, so host code may read them). */
static inline tl_variable *tl_resource_peek(const tl_tensor *t) {
  return t && t->dtype == TL_RESOURCE ? *(tl_variable *const *)t->storage->data : NULL;
}
/* Returns a pointer where the value may be written in place (copying first
 * if a reader shares it), for fused optimizer updates. */
tl_status tl_variable_mutable(tl_variable *v, tl_tensor **value);
/* Runs the read_variable op on v: *out is a new tensor holding the current
 * value that later assigns do not change. Observers see the read like any
 * op (the tape: tapes that watch v, explicitly or as a trainable variable
 * under watch_accessed_variables, record it so gradients reach v). */
tl_status tl_variable_read(tl_variable *v, tl_tensor **out);

/* ---- gradient tape ----------------------------------------------------- */
/* A tape records op applications whose inputs it watches (watched tensors,
 * variable reads, and outputs of recorded ops) while it is active on this
 * thread. gradient() walks the records backwards through each op's grad
 * rule; the rules call ordinary ops, so an outer active tape records the
 * backward pass (higher-order derivatives). Broadcast operands' gradients
 * are reduced to the operand's shape in one place (tape.c). */
typedef struct tl_tape tl_tape;
tl_status tl_tape_new(bool persistent, bool watch_accessed_variables, tl_tape **out);
tl_tape *tl_tape_retain(tl_tape *t);
void tl_tape_release(tl_tape *t);
/* Activate / deactivate on the calling thread (a stack: nested tapes). */
tl_status tl_tape_start(tl_tape *t);
void tl_tape_stop(tl_tape *t);
bool tl_tape_is_recording(const tl_tape *t);
void tl_tape_reset(tl_tape *t);       /* drops records and watches */
bool tl_tapes_active(void);           /* any tape recording on this thread */
/* Pause/resume all recording on this thread (custom_gradient, stop_gradient
 * regions). Nestable. */
void tl_tape_pause(void);
void tl_tape_resume(void);
tl_status tl_tape_watch(tl_tape *t, tl_tensor *x);
tl_status tl_tape_watch_variable(tl_tape *t, tl_variable *v);
/* Variables read on this tape, in first-read order (borrowed). */
int tl_tape_watched_variables(const tl_tape *t, tl_variable ***out);

typedef struct tl_grad_source {
  tl_tensor *tensor;      /* either a tensor ... */
  tl_variable *variable;  /* ... or a variable */
} tl_grad_source;
/* grads[i] is a new reference or NULL (unconnected / not differentiable;
 * zeros instead when unconnected_zero). output_grad may be NULL (ones).
 * A non-persistent tape can answer once; keep=true leaves it answerable
 * (used by jacobian, which then calls tl_tape_consume). */
tl_status tl_tape_gradient(tl_tape *t, tl_tensor *target, tl_tensor *output_grad, int n_src,
                           const tl_grad_source *src, bool unconnected_zero, bool keep,
                           tl_tensor **grads);
void tl_tape_consume(tl_tape *t);

/* A recorded application whose backward is supplied by the caller
 * (tf.custom_gradient). fn receives the output gradients (NULL where none)
 * and writes one new reference or NULL per input. */
typedef tl_status (*tl_custom_grad_fn)(void *ctx, tl_tensor *const *grad_out, int n_out,
                                       tl_tensor **grad_in, int n_in);
tl_status tl_tape_record_custom(tl_tensor *const *in, int n_in, tl_tensor *const *out, int n_out,
                                tl_custom_grad_fn fn, void *ctx, void (*free_ctx)(void *));

/* Variable watchers (tf.custom_gradient's VariableWatcher): every variable
 * read on this thread between begin and end is collected, whether or not
 * a tape records (reads inside a paused region count). Nestable: a read
 * is seen by every open watcher. end returns the variables in first-read
 * order as new references in a malloc'd array the caller frees (after
 * releasing each). */
tl_status tl_variable_watch_begin(void);
tl_status tl_variable_watch_end(tl_variable ***vars, int *n);

/* Numeric checking: when on, every output of the user's ops and of
 * gradient rules (depth 0) is checked for NaN/Inf and the op is named in
 * the error. tl_check_numerics runs the check_numerics op on t (on t's
 * device); what names t in the message. Both live in ops/debug.c. */
void tl_set_check_numerics(bool on);
bool tl_get_check_numerics(void);
tl_status tl_check_numerics(const tl_tensor *t, const char *what);

/* ---- random ------------------------------------------------------------ */
/* Counter-based generator (Philox-4x32-10): a stream is (key, counter). */
typedef struct tl_rng {
  uint64_t key;
  uint64_t counter;
} tl_rng;
void tl_rng_seed(tl_rng *r, uint64_t seed);
/* Fills n uint32 values and advances the counter. */
void tl_rng_fill_u32(tl_rng *r, uint32_t *out, int64_t n);
/* The global generator behind ops that take no explicit seed. */
tl_rng *tl_rng_global(void);
void tl_random_set_seed(uint64_t seed);
/* Returns the generator for an op call: the global one when seed is absent,
 * else a per-(global seed, op seed, call count) stream as TensorFlow does. */
void tl_random_stream(const tl_attr *seed, tl_rng *out);

#ifdef __cplusplus
}
#endif
#endif
