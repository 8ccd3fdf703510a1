/* io_binding.c — core.io: tensors as Lua strings and back, and the
 * streaming file writer checkpoints use.
 *
 *   core.io.serialize_tensor(t)        -> string (src/core/serialize.c layout)
 *   core.io.parse_tensor(s, dtype?)    -> tensor; with dtype, a tensor of
 *                                         another dtype is an error (as in
 *                                         TensorFlow's tf.io.parse_tensor)
 *   core.io.open_writer(path)          -> writer, or nil and a message
 *     w:write(s, ...)                  bytes as they are
 *     w:write_tensor(t)                u32 length, then t serialized, the
 *                                      values going from the tensor's memory
 *                                      to the file with no copy in between
 *     w:write_raw(t)                   t's values only, little-endian
 *                                      row-major, straight from its memory
 *                                      (the safetensors data section)
 *     w:finish([crc])                  appends the CRC-32 of every byte
 *                                      written (not when crc is false, for
 *                                      foreign formats: safetensors),
 *                                      flushes to disk, closes
 *     w:close()                        closes without finishing (idempotent;
 *                                      also __close and __gc)
 *   core.io.tensor_bytes(t)            -> string: t's values, row-major
 *   core.io.tensor_from_bytes(s, dtype, shape [, offset [, length]])
 *                                      -> a CPU tensor from length bytes of s
 *                                      at the 0-based byte offset (default:
 *                                      the rest of s); the length must be
 *                                      numel * element size, and a range past
 *                                      the end of s is an error (never read)
 *   core.io.read_idx(path)             -> uint8 tensor with the dims of an
 *                                      IDX file (gzipped or plain, through
 *                                      zlib): magic 00 00 08 NDIMS, NDIMS
 *                                      big-endian u32 dims, then exactly
 *                                      prod(dims) bytes. NotFound for a
 *                                      missing file, DataLoss naming the file
 *                                      for a bad magic, a truncated or
 *                                      corrupt stream, or trailing bytes.
 * Writer failures raise ResourceExhausted (a full disk, a file size limit);
 * the caller removes the partial file.
 *
 * stdlib/tlua/checkpoint.lua builds tf.train.Checkpoint files from these.
 * Installed as core.io by luaopen_tlua_core, like core.optim.
 */
#include <lauxlib.h>
#include <lua.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "binding.h"

/* Argument idx as a tensor (a tensor, a variable's value, or a Lua value
 * converted), a new reference; raises InvalidArgument naming fn. */
static tl_tensor *check_tensor_arg(lua_State *L, int idx, const char *fn) {
  const char *err;
  tl_tensor *t = tlb_to_tensor(L, idx, TL_DTYPE_COUNT, &err);
  if (!t) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s", fn, err);
    tlb_raise_kind(L, "InvalidArgument", msg);
  }
  return t;
}

static int l_serialize(lua_State *L) {
  tl_tensor *t = check_tensor_arg(L, 1, "serialize_tensor");
  char *buf;
  size_t len;
  tl_status s = tl_tensor_serialize(t, &buf, &len);
  tl_tensor_release(t);
  if (s) return tlb_raise(L, s);
  lua_pushlstring(L, buf, len);
  free(buf);
  return 1;
}

static int l_parse(lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING) {
    char msg[200];
    snprintf(msg, sizeof msg, "parse_tensor: expected the string serialize_tensor made, got %s",
             luaL_typename(L, 1));
    return tlb_raise_kind(L, "InvalidArgument", msg);
  }
  size_t len;
  const char *buf = lua_tolstring(L, 1, &len);
  tl_dtype want = lua_isnoneornil(L, 2) ? TL_DTYPE_COUNT : tlb_check_dtype(L, 2);
  tl_tensor *t;
  tl_status s = tl_tensor_parse(buf, len, &t);
  if (s) return tlb_raise(L, s);
  if (want != TL_DTYPE_COUNT && t->dtype != want) {
    char msg[200];
    snprintf(msg, sizeof msg, "parse_tensor: the serialized tensor is %s, out_type asks for %s",
             tl_dtypes[t->dtype].name, tl_dtypes[want].name);
    tl_tensor_release(t);
    return tlb_raise_kind(L, "InvalidArgument", msg);
  }
  tlb_push_tensor(L, t);
  return 1;
}

/* core.io.crc32(s [, crc]) -> integer */
static int l_crc32(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  uint32_t crc = (uint32_t)luaL_optinteger(L, 2, 0);
  lua_pushinteger(L, (lua_Integer)tl_crc32(crc, s, len));
  return 1;
}

/* core.io.makedirs(path) -> true, or nil and a message (like mkdir -p) */
static int l_makedirs(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) {
    lua_pushnil(L);
    lua_pushfstring(L, "makedirs: path '%s' is empty or too long", path);
    return 2;
  }
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    char c = buf[i];
    buf[i] = 0;
    struct stat st;
    if (stat(buf, &st) != 0) {
      if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot create directory '%s': %s", buf, strerror(errno));
        return 2;
      }
    } else if (!S_ISDIR(st.st_mode)) {
      lua_pushnil(L);
      lua_pushfstring(L, "'%s' exists and is not a directory", buf);
      return 2;
    }
    buf[i] = c;
  }
  lua_pushboolean(L, 1);
  return 1;
}


/* t's values on the CPU, contiguous (a new reference), for host reads. */
static tl_tensor *host_contiguous(lua_State *L, tl_tensor *t, const char *fn) {
  if (t->dtype == TL_STRING || t->dtype == TL_RESOURCE || t->dtype == TL_COMPLEX64) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s: %s tensors have no raw byte form here", fn, tl_dtypes[t->dtype].name);
    tl_tensor_release(t);
    tlb_raise_kind(L, "InvalidArgument", msg);
  }
  tl_tensor *h, *c;
  tl_status s = tl_tensor_copy_to(t, TL_CPU, &h);
  tl_tensor_release(t);
  if (s) tlb_raise(L, s);
  s = tl_tensor_contiguous(h, &c);
  tl_tensor_release(h);
  if (s) tlb_raise(L, s);
  return c;
}

static int l_tensor_bytes(lua_State *L) {
  tl_tensor *c = host_contiguous(L, check_tensor_arg(L, 1, "tensor_bytes"), "tensor_bytes");
  size_t n = (size_t)c->size * tl_dtypes[c->dtype].size;
  if (n) lua_pushlstring(L, tl_tensor_data(c), n);
  else lua_pushliteral(L, "");
  tl_tensor_release(c);
  return 1;
}

static int l_tensor_from_bytes(lua_State *L) {
  size_t slen;
  const char *buf = luaL_checklstring(L, 1, &slen);
  tl_dtype dt = tlb_check_dtype(L, 2);
  char msg[400];
  if (dt == TL_STRING || dt == TL_RESOURCE || dt == TL_COMPLEX64) {
    snprintf(msg, sizeof msg, "tensor_from_bytes: %s tensors have no raw byte form here", tl_dtypes[dt].name);
    return tlb_raise_kind(L, "InvalidArgument", msg);
  }
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_Integer rank = luaL_len(L, 3);
  if (rank < 0 || rank > TL_MAX_RANK) {
    snprintf(msg, sizeof msg, "tensor_from_bytes: rank %lld is out of range [0, %d]", (long long)rank, TL_MAX_RANK);
    return tlb_raise_kind(L, "InvalidArgument", msg);
  }
  int64_t shape[TL_MAX_RANK];
  for (int i = 0; i < rank; i++) {
    lua_geti(L, 3, i + 1);
    int ok;
    lua_Integer d = lua_tointegerx(L, -1, &ok);
    lua_pop(L, 1);
    if (!ok || d < 0) {
      snprintf(msg, sizeof msg, "tensor_from_bytes: dimension %d of the shape is not a non-negative integer", i);
      return tlb_raise_kind(L, "InvalidArgument", msg);
    }
    shape[i] = d;
  }
  int64_t numel = tl_shape_numel((int)rank, shape);
  size_t esize = tl_dtypes[dt].size;
  if (numel < 0 || (uint64_t)numel > SIZE_MAX / esize) {
    return tlb_raise_kind(L, "InvalidArgument", "tensor_from_bytes: the shape's element count overflows");
  }
  lua_Integer off = luaL_optinteger(L, 4, 0);
  if (off < 0 || (uint64_t)off > slen) {
    snprintf(msg, sizeof msg, "tensor_from_bytes: offset %lld is outside the %zu-byte string", (long long)off, slen);
    return tlb_raise_kind(L, "InvalidArgument", msg);
  }
  lua_Integer len = luaL_optinteger(L, 5, (lua_Integer)(slen - (size_t)off));
  if (len < 0 || (uint64_t)len > slen - (size_t)off) {
    snprintf(msg, sizeof msg, "tensor_from_bytes: %lld bytes at offset %lld run past the end of the %zu-byte string",
             (long long)len, (long long)off, slen);
    return tlb_raise_kind(L, "InvalidArgument", msg);
  }
  size_t want = (size_t)numel * esize;
  if ((size_t)len != want) {
    char sh[200];
    snprintf(msg, sizeof msg, "tensor_from_bytes: %s%s needs %zu bytes, got %lld", tl_dtypes[dt].name,
             tl_shape_format((int)rank, shape, sh, sizeof sh), want, (long long)len);
    return tlb_raise_kind(L, "InvalidArgument", msg);
  }
  tl_tensor *t;
  tl_status s = tl_tensor_new_on(TL_CPU, dt, (int)rank, shape, &t);
  if (s) return tlb_raise(L, s);
  if (want) memcpy(tl_tensor_data(t), buf + off, want);
  if (dt == TL_BOOL) { /* any nonzero byte is true; the kernels expect 0/1 */
    unsigned char *p = tl_tensor_data(t);
    for (size_t i = 0; i < want; i++) p[i] = p[i] != 0;
  }
  tlb_push_tensor(L, t);
  return 1;
}

/* ---- IDX files (MNIST) through zlib ------------------------------------- */

static int idx_fail(lua_State *L, gzFile f, const char *kind, const char *path, const char *what) {
  char msg[900];
  snprintf(msg, sizeof msg, "%s: %s", path, what);
  if (f) gzclose(f);
  return tlb_raise_kind(L, kind, msg);
}

/* Reads exactly n bytes; returns 0, or -1 with *why set (truncated or zlib's error). */
static int gz_read_all(gzFile f, void *dst, size_t n, char *why, size_t whylen) {
  char *p = dst;
  while (n > 0) {
    unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
    int got = gzread(f, p, chunk);
    if (got <= 0) {
      int err;
      const char *m = gzerror(f, &err);
      if (got < 0 || (err != Z_OK && err != Z_BUF_ERROR))
        snprintf(why, whylen, "corrupt compressed data (%s)", m && *m ? m : "zlib error");
      else
        snprintf(why, whylen, "truncated (%zu bytes missing)", n);
      return -1;
    }
    p += got;
    n -= (size_t)got;
  }
  return 0;
}

static int l_read_idx(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char why[300];
  struct stat st;
  if (stat(path, &st) != 0) {
    snprintf(why, sizeof why, "cannot open: %s", strerror(errno));
    return idx_fail(L, NULL, "NotFound", path, why);
  }
  if (S_ISDIR(st.st_mode)) return idx_fail(L, NULL, "NotFound", path, "is a directory, not an IDX file");
  gzFile f = gzopen(path, "rb");
  if (!f) {
    snprintf(why, sizeof why, "cannot open: %s", strerror(errno ? errno : EIO));
    return idx_fail(L, NULL, "NotFound", path, why);
  }
  gzbuffer(f, 1 << 18);
  unsigned char head[4];
  if (gz_read_all(f, head, 4, why, sizeof why)) return idx_fail(L, f, "DataLoss", path, "not an IDX file (shorter than its 4-byte magic)");
  if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] < 1 || head[3] > TL_MAX_RANK) {
    snprintf(why, sizeof why,
             "not an IDX file of unsigned bytes: magic %02x %02x %02x %02x (expected 00 00 08 then 1..%d dims)",
             head[0], head[1], head[2], head[3], TL_MAX_RANK);
    return idx_fail(L, f, "DataLoss", path, why);
  }
  int rank = head[3];
  int64_t shape[TL_MAX_RANK];
  for (int i = 0; i < rank; i++) {
    unsigned char d[4];
    if (gz_read_all(f, d, 4, why, sizeof why)) {
      snprintf(why, sizeof why, "truncated in the header (dimension %d of %d missing)", i, rank);
      return idx_fail(L, f, "DataLoss", path, why);
    }
    shape[i] = ((int64_t)d[0] << 24) | ((int64_t)d[1] << 16) | ((int64_t)d[2] << 8) | d[3];
  }
  int64_t numel = tl_shape_numel(rank, shape);
  /* No IDX file of ours is near 4 GiB; a huge size is a corrupt header, not
     a reason to allocate it. */
  if (numel < 0 || numel > ((int64_t)1 << 32)) {
    char sh[200];
    snprintf(why, sizeof why, "implausible dimensions %s", tl_shape_format(rank, shape, sh, sizeof sh));
    return idx_fail(L, f, "DataLoss", path, why);
  }
  tl_tensor *t;
  tl_status s = tl_tensor_new_on(TL_CPU, TL_UINT8, rank, shape, &t);
  if (s) {
    gzclose(f);
    return tlb_raise(L, s);
  }
  if (gz_read_all(f, tl_tensor_data(t), (size_t)numel, why, sizeof why)) {
    tl_tensor_release(t);
    char sh[200], m[500];
    snprintf(m, sizeof m, "data %s: the header gives dimensions %s (%lld bytes)", why,
             tl_shape_format(rank, shape, sh, sizeof sh), (long long)numel);
    return idx_fail(L, f, "DataLoss", path, m);
  }
  unsigned char extra;
  int more = gzread(f, &extra, 1);
  int zerr;
  const char *zmsg = gzerror(f, &zerr);
  if (more == 0 && zerr != Z_OK) {
    /* all values came, but the gzip stream ends early (its CRC and length
       trailer cut off): the file is truncated even if the values are whole */
    tl_tensor_release(t);
    snprintf(why, sizeof why, "truncated gzip stream after the values (%s)", zmsg && *zmsg ? zmsg : "zlib error");
    return idx_fail(L, f, "DataLoss", path, why);
  }
  if (more != 0) {
    tl_tensor_release(t);
    char sh[200];
    int err;
    const char *m = gzerror(f, &err);
    if (more < 0) snprintf(why, sizeof why, "corrupt compressed data after the values (%s)", m);
    else snprintf(why, sizeof why, "more bytes than the dimensions %s hold (%lld)",
                  tl_shape_format(rank, shape, sh, sizeof sh), (long long)numel);
    return idx_fail(L, f, "DataLoss", path, why);
  }
  gzclose(f);
  tlb_push_tensor(L, t);
  return 1;
}

/* ---- the streaming writer ---------------------------------------------- */

#define WRITER_MT "tl.io.Writer"

typedef struct io_writer {
  FILE *f;      /* NULL once closed */
  uint32_t crc; /* of every byte written so far */
  int err;      /* errno of the first failed write, 0 while all went well */
} io_writer;

static io_writer *check_writer(lua_State *L) {
  io_writer *w = luaL_checkudata(L, 1, WRITER_MT);
  if (!w->f) tlb_raise_kind(L, "FailedPrecondition", "writer: the file is already closed");
  return w;
}

/* The sink tl_tensor_serialize_to feeds: bytes to the file and the CRC. */
static tl_status writer_sink(void *ctx, const void *bytes, size_t n) {
  io_writer *w = ctx;
  if (w->err) return tl_error(TL_RESOURCE_EXHAUSTED, "writing failed: %s", strerror(w->err));
  if (fwrite(bytes, 1, n, w->f) != n) {
    w->err = errno ? errno : EIO;
    return tl_error(TL_RESOURCE_EXHAUSTED, "writing failed: %s", strerror(w->err));
  }
  w->crc = tl_crc32(w->crc, bytes, n);
  return TL_OK;
}

/* Raises ResourceExhausted naming the file (the writer's user value). */
static int writer_fail(lua_State *L, io_writer *w) {
  char msg[600];
  lua_getiuservalue(L, 1, 1);
  snprintf(msg, sizeof msg, "writing %s failed: %s", lua_tostring(L, -1), strerror(w->err ? w->err : EIO));
  return tlb_raise_kind(L, "ResourceExhausted", msg);
}

static int l_open_writer(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  io_writer *w = lua_newuserdatauv(L, sizeof *w, 1);
  w->f = NULL;
  w->crc = 0;
  w->err = 0;
  luaL_setmetatable(L, WRITER_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  w->f = fopen(path, "wb");
  if (!w->f) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
  }
  return 1;
}

static int w_write(lua_State *L) {
  io_writer *w = check_writer(L);
  int n = lua_gettop(L);
  for (int i = 2; i <= n; i++) {
    size_t len;
    const char *s = luaL_checklstring(L, i, &len);
    if (writer_sink(w, s, len)) return writer_fail(L, w);
  }
  lua_settop(L, 1);
  return 1;
}

static int w_write_tensor(lua_State *L) {
  io_writer *w = check_writer(L);
  tl_tensor *t = check_tensor_arg(L, 2, "write_tensor");
  size_t len = tl_tensor_serialized_size(t);
  if (len > UINT32_MAX) { /* the file format's lengths are u32 */
    char msg[300], d[200];
    snprintf(msg, sizeof msg, "write_tensor: %s is %zu bytes serialized; a checkpoint value holds at most 4 GiB",
             tl_tensor_describe(t, d, sizeof d), len);
    tl_tensor_release(t);
    return tlb_raise_kind(L, "InvalidArgument", msg);
  }
  unsigned char n4[4] = {(unsigned char)len, (unsigned char)(len >> 8), (unsigned char)(len >> 16),
                         (unsigned char)(len >> 24)};
  tl_status s = writer_sink(w, n4, 4);
  if (!s) s = tl_tensor_serialize_to(t, writer_sink, w);
  tl_tensor_release(t);
  if (s) return w->err ? writer_fail(L, w) : tlb_raise(L, s);
  lua_settop(L, 1);
  return 1;
}

static int w_write_raw(lua_State *L) {
  io_writer *w = check_writer(L);
  tl_tensor *c = host_contiguous(L, check_tensor_arg(L, 2, "write_raw"), "write_raw");
  size_t n = (size_t)c->size * tl_dtypes[c->dtype].size;
  tl_status s = n ? writer_sink(w, tl_tensor_data(c), n) : TL_OK;
  tl_tensor_release(c);
  if (s) return writer_fail(L, w);
  lua_settop(L, 1);
  return 1;
}

static int w_finish(lua_State *L) {
  io_writer *w = check_writer(L);
  uint32_t c = w->crc;
  unsigned char c4[4] = {(unsigned char)c, (unsigned char)(c >> 8), (unsigned char)(c >> 16),
                         (unsigned char)(c >> 24)};
  bool crc = lua_isnoneornil(L, 2) || lua_toboolean(L, 2);
  if (crc && fwrite(c4, 1, 4, w->f) != 4 && !w->err) w->err = errno ? errno : EIO;
  /* fsync before the caller's rename: after a crash the new name holds the
     whole new file, never a prefix of it. */
  if (!w->err && (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)) w->err = errno ? errno : EIO;
  FILE *f = w->f;
  w->f = NULL;
  if (fclose(f) != 0 && !w->err) w->err = errno ? errno : EIO;
  if (w->err) return writer_fail(L, w);
  return 0;
}

static int w_close(lua_State *L) {
  io_writer *w = luaL_checkudata(L, 1, WRITER_MT);
  if (w->f) fclose(w->f);
  w->f = NULL;
  return 0;
}

static const luaL_Reg writer_methods[] = {
    {"write", w_write},
    {"write_tensor", w_write_tensor},
    {"write_raw", w_write_raw},
    {"finish", w_finish},
    {"close", w_close},
    {NULL, NULL},
};

static const luaL_Reg writer_meta[] = {
    {"__gc", w_close},
    {"__close", w_close},
    {NULL, NULL},
};

static const luaL_Reg io_funcs[] = {
    {"open_writer", l_open_writer},
    {"crc32", l_crc32},
    {"makedirs", l_makedirs},
    {"serialize_tensor", l_serialize},
    {"parse_tensor", l_parse},
    {"tensor_bytes", l_tensor_bytes},
    {"tensor_from_bytes", l_tensor_from_bytes},
    {"read_idx", l_read_idx},
    {NULL, NULL},
};

int luaopen_tlua_io(lua_State *L) {
  luaL_newmetatable(L, WRITER_MT);
  luaL_setfuncs(L, writer_meta, 0);
  luaL_newlib(L, writer_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, io_funcs);
  return 1;
}
