/* serialize.c — one tensor as bytes and back (tf.io.serialize_tensor,
 * tf.io.parse_tensor, and the records of a checkpoint file).
 *
 * Layout, all integers little-endian:
 *   "TLT1"                     magic and version
 *   u8 n, n bytes              dtype name ("float32"): names are stable, the
 *                              enum order is not a file format
 *   u8 rank, rank x i64        shape
 *   numel x elsize bytes       the values, row-major, little-endian
 *                              (string: numel x i64 byte lengths, then the
 *                              bytes of every element, concatenated)
 * The length must match exactly: a truncated or padded buffer is an error,
 * never a tensor read from whatever follows.
 *
 * tl_tensor_serialize_to hands the same bytes to a sink in two pieces (the
 * header, then the values straight from the tensor's memory), so a
 * checkpoint writer can stream a tensor to a file without a second copy of it.
 */
#include "tl.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "TLT1"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "serialize.c writes the host's bytes as little-endian; add byte swapping for this host"
#endif

/* The header in front of the values: magic, dtype name, rank, shape. */
static size_t header_bytes(const tl_tensor *t, char *buf) {
  const char *name = tl_dtypes[t->dtype].name;
  size_t nlen = strlen(name);
  char *p = buf;
  memcpy(p, MAGIC, 4);
  p += 4;
  *p++ = (char)nlen;
  memcpy(p, name, nlen);
  p += nlen;
  *p++ = (char)t->rank;
  for (int i = 0; i < t->rank; i++, p += 8) memcpy(p, &t->shape[i], 8);
  return (size_t)(p - buf);
}

/* The bytes of a string tensor's elements (any strides; strings live on the CPU). */
static size_t string_bytes(const tl_tensor *t, int d, int64_t off) {
  if (d == t->rank) return (size_t)((const tl_string *)t->storage->data)[off].len;
  size_t n = 0;
  for (int64_t i = 0; i < t->shape[d]; i++) n += string_bytes(t, d + 1, off + i * t->strides[d]);
  return n;
}

size_t tl_tensor_serialized_size(const tl_tensor *t) {
  size_t head = 4 + 1 + strlen(tl_dtypes[t->dtype].name) + 1 + 8 * (size_t)t->rank;
  if (t->dtype == TL_STRING) return head + 8 * (size_t)t->size + (t->sym_value ? 0 : string_bytes(t, 0, t->offset));
  return head + (size_t)t->size * tl_dtypes[t->dtype].size;
}

/* Host code reads the values: a tensor on another device is copied to the
 * CPU first, and a view is made contiguous, so the bytes go out row-major. */
static tl_status host_values(tl_tensor *t, tl_tensor **out) {
  *out = NULL;
  if (t->dtype == TL_RESOURCE)
    return tl_error(TL_INVALID_ARGUMENT, "serialize_tensor: a resource (variable handle) cannot be serialized");
  tl_tensor *h;
  tl_status s = tl_tensor_copy_to(t, TL_CPU, &h);
  if (s) return s;
  s = tl_tensor_contiguous(h, out);
  tl_tensor_release(h);
  return s;
}

tl_status tl_tensor_serialize_to(tl_tensor *t, tl_byte_sink sink, void *ctx) {
  if (t->sym_value)
    return tl_error(TL_FAILED_PRECONDITION, "a symbolic tensor (inside a trace) has no value to serialize");
  tl_tensor *c;
  tl_status s = host_values(t, &c);
  if (s) return s;
  char head[4 + 1 + 32 + 1 + 8 * TL_MAX_RANK];
  size_t hlen = header_bytes(c, head);
  s = sink(ctx, head, hlen);
  if (c->dtype == TL_STRING) {
    const tl_string *e = tl_tensor_data(c);
    for (int64_t i = 0; i < c->size && !s; i++) s = sink(ctx, &e[i].len, 8);
    for (int64_t i = 0; i < c->size && !s; i++)
      if (e[i].len) s = sink(ctx, e[i].data, (size_t)e[i].len);
    tl_tensor_release(c);
    return s;
  }
  size_t data = (size_t)c->size * tl_dtypes[c->dtype].size;
  if (!s && data) s = sink(ctx, tl_tensor_data(c), data);
  tl_tensor_release(c);
  return s;
}

typedef struct mem_sink {
  char *p;
} mem_sink;
static tl_status mem_write(void *ctx, const void *bytes, size_t n) {
  mem_sink *m = ctx;
  memcpy(m->p, bytes, n);
  m->p += n;
  return TL_OK;
}

tl_status tl_tensor_serialize(tl_tensor *t, char **out, size_t *out_len) {
  if (t->sym_value)
    return tl_error(TL_FAILED_PRECONDITION, "a symbolic tensor (inside a trace) has no value to serialize");
  *out = NULL;
  *out_len = 0;
  if (t->dtype == TL_RESOURCE)
    return tl_error(TL_INVALID_ARGUMENT, "serialize_tensor: a resource (variable handle) cannot be serialized");
  size_t len = tl_tensor_serialized_size(t);
  char *buf = malloc(len);
  if (!buf) return tl_error(TL_RESOURCE_EXHAUSTED, "serialize_tensor: out of memory (%zu bytes)", len);
  mem_sink m = {buf};
  tl_status s = tl_tensor_serialize_to(t, mem_write, &m);
  if (s) {
    free(buf);
    return s;
  }
  *out = buf;
  *out_len = len;
  return TL_OK;
}

/* The values of a string tensor: n lengths, then their bytes, checked
 * against what is there before anything is allocated. */
static tl_status parse_strings(const char *name, int rank, const int64_t *shape, int64_t n, const unsigned char *p,
                               size_t have, tl_tensor **out) {
  char sh[200];
  tl_shape_format(rank, shape, sh, sizeof sh);
  if (n < 0 || (uint64_t)n > have / 8)
    return tl_error(TL_INVALID_ARGUMENT, "parse_tensor: a %s%s tensor needs %s byte lengths, the buffer has %zu bytes",
                    name, sh, n < 0 ? "too many" : "more", have);
  size_t total = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t l;
    memcpy(&l, p + 8 * i, 8);
    if (l < 0 || l > TL_STRING_MAX_LEN || (total += (size_t)l) > have)
      return tl_error(TL_INVALID_ARGUMENT, "parse_tensor: string %" PRId64 " of a %s%s tensor has a bad length (%" PRId64
                      ") for the %zu bytes there", i, name, sh, l, have);
  }
  if (total != have - 8 * (size_t)n)
    return tl_error(TL_INVALID_ARGUMENT, "parse_tensor: a %s%s tensor's strings hold %zu bytes, the buffer has %zu",
                    name, sh, total, have - 8 * (size_t)n);
  tl_tensor *t;
  tl_status s = tl_tensor_new(TL_STRING, rank, shape, &t);
  if (s) {
    tl_error_prefix("parse_tensor: ");
    return s;
  }
  const unsigned char *bytes = p + 8 * n;
  char *dst = total ? tl_string_alloc(t, total) : NULL;
  if (total && !dst) {
    tl_tensor_release(t);
    return TL_RESOURCE_EXHAUSTED;
  }
  tl_string *e = tl_tensor_data(t);
  for (int64_t i = 0; i < n; i++) {
    int64_t l;
    memcpy(&l, p + 8 * i, 8);
    e[i].len = l;
    e[i].data = l ? dst : NULL;
    if (l) memcpy(dst, bytes, (size_t)l);
    dst += l;
    bytes += l;
  }
  *out = t;
  return TL_OK;
}

tl_status tl_tensor_parse(const void *buf, size_t len, tl_tensor **out) {
  const unsigned char *p = buf, *end = p + len;
  *out = NULL;
  if (len < 6 || memcmp(p, MAGIC, 4) != 0)
    return tl_error(TL_INVALID_ARGUMENT,
                    "parse_tensor: the %zu bytes are not a serialized tensor (no \"" MAGIC "\" header)", len);
  p += 4;
  size_t nlen = *p++;
  char name[32];
  if (nlen == 0 || nlen >= sizeof name || (size_t)(end - p) < nlen + 1)
    return tl_error(TL_INVALID_ARGUMENT, "parse_tensor: the header is truncated or its dtype name is invalid");
  memcpy(name, p, nlen);
  name[nlen] = 0;
  p += nlen;
  tl_dtype dt = tl_dtype_from_name(name);
  if (dt == TL_DTYPE_COUNT)
    return tl_error(TL_INVALID_ARGUMENT, "parse_tensor: unknown dtype '%s' in the header", name);
  /* A resource's bytes are a pointer to a live variable: taken from a file
     they would point anywhere. */
  if (dt == TL_RESOURCE)
    return tl_error(TL_INVALID_ARGUMENT, "parse_tensor: a resource (variable handle) cannot come from bytes");
  int rank = *p++;
  if (rank > TL_MAX_RANK)
    return tl_error(TL_INVALID_ARGUMENT, "parse_tensor: rank %d in the header is more than %d", rank, TL_MAX_RANK);
  if ((size_t)(end - p) < 8 * (size_t)rank)
    return tl_error(TL_INVALID_ARGUMENT, "parse_tensor: the shape is truncated (%zu bytes in all)", len);
  int64_t shape[TL_MAX_RANK];
  for (int i = 0; i < rank; i++, p += 8) {
    memcpy(&shape[i], p, 8);
    if (shape[i] < 0)
      return tl_error(TL_INVALID_ARGUMENT, "parse_tensor: dimension %d in the header is negative", i);
  }
  /* The header's claim is checked against the bytes that are there before
     anything is allocated: a lying header must not reserve terabytes. */
  int64_t n = tl_shape_numel(rank, shape), data64;
  size_t have = (size_t)(end - p);
  if (dt == TL_STRING) return parse_strings(name, rank, shape, n, p, have, out);
  if (n >= 0 && !__builtin_mul_overflow(n, (int64_t)tl_dtypes[dt].size, &data64) && (uint64_t)data64 != have) {
    char sh[200];
    tl_shape_format(rank, shape, sh, sizeof sh);
    return tl_error(TL_INVALID_ARGUMENT,
                    "parse_tensor: a %s%s tensor needs %" PRId64 " bytes of values, the buffer has %zu", name, sh,
                    data64, have);
  }
  tl_tensor *t;
  tl_status s = tl_tensor_new(dt, rank, shape, &t); /* refuses shapes whose size overflows */
  if (s) {
    tl_error_prefix("parse_tensor: ");
    return s;
  }
  size_t data = (size_t)t->size * tl_dtypes[dt].size;
  if (data) memcpy(tl_tensor_data(t), p, data);
  if (dt == TL_BOOL) { /* a bool is 0 or 1, whatever the bytes said */
    unsigned char *b = tl_tensor_data(t);
    for (int64_t i = 0; i < t->size; i++) b[i] = b[i] != 0;
  }
  *out = t;
  return TL_OK;
}

/* CRC-32 (the zlib/PNG polynomial, reflected 0xEDB88320), so checkpoint
 * files can say when they were damaged. Table-driven, one byte at a time:
 * about 1 GB/s, far above what a checkpoint write needs. */
static uint32_t crc_table[256];
static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

uint32_t tl_crc32(uint32_t crc, const void *buf, size_t len) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, crc_init);
  const unsigned char *p = buf;
  crc = ~crc;
  for (size_t i = 0; i < len; i++) crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}
