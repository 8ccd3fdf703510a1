/* io_binding.c — core.io: tensors as Lua strings and back.
 *
 *   core.io.serialize_tensor(t)        -> string (src/core/serialize.c layout)
 *   core.io.parse_tensor(s, dtype?)    -> tensor; with dtype, a tensor of
 *                                         another dtype is an error (as in
 *                                         TensorFlow's tf.io.parse_tensor)
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

#include "binding.h"

static int l_serialize(lua_State *L) {
  const char *err;
  tl_tensor *t = tlb_to_tensor(L, 1, TL_DTYPE_COUNT, &err);
  if (!t) {
    char msg[400];
    snprintf(msg, sizeof msg, "serialize_tensor: %s", err);
    return tlb_raise_kind(L, "InvalidArgument", msg);
  }
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

static const luaL_Reg io_funcs[] = {
    {"crc32", l_crc32},
    {"makedirs", l_makedirs},
    {"serialize_tensor", l_serialize},
    {"parse_tensor", l_parse},
    {NULL, NULL},
};

int luaopen_tlua_io(lua_State *L) {
  luaL_newlib(L, io_funcs);
  return 1;
}
