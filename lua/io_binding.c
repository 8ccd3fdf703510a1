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
 *     w:finish()                       appends the CRC-32 of every byte
 *                                      written, flushes to disk, closes
 *     w:close()                        closes without finishing (idempotent;
 *                                      also __close and __gc)
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

static int w_finish(lua_State *L) {
  io_writer *w = check_writer(L);
  uint32_t c = w->crc;
  unsigned char c4[4] = {(unsigned char)c, (unsigned char)(c >> 8), (unsigned char)(c >> 16),
                         (unsigned char)(c >> 24)};
  if (fwrite(c4, 1, 4, w->f) != 4 && !w->err) w->err = errno ? errno : EIO;
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
