/* main.c — the tlua program: script runner and REPL. Structure follows
 * lua.c, but argument handling, the runner and the REPL loop are Lua
 * (stdlib/tlua/program.lua, stdlib/tlua/repl.lua); C only creates the state,
 * makes the core and the readline glue (lua/repl.c) loadable, and turns
 * program.main's result into the exit status. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "binding.h"

int luaopen_tlua_readline(lua_State *L); /* lua/repl.c */

static const char *stdlib_dir(void) {
  const char *env = getenv("TLUA_STDLIB");
  if (env && *env) return env;
  if (access(TLUA_STDLIB_DIR "/tlua/init.lua", R_OK) == 0) return TLUA_STDLIB_DIR;
  return TLUA_INSTALL_STDLIB_DIR;
}

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) msg = lua_tostring(L, -1);
    else msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int setup(lua_State *L) {
  luaL_openlibs(L);
  const char *dir = stdlib_dir();
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_tlua_core);
  lua_setfield(L, -2, "tlua.core");
  lua_pushcfunction(L, luaopen_tlua_readline);
  lua_setfield(L, -2, "tlua.readline");
  lua_pop(L, 2);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "tlua.program");
  lua_call(L, 1, 1);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "tlua: cannot create a Lua state\n");
    return 1;
  }
  lua_pushcfunction(L, msghandler);
  lua_pushcfunction(L, setup);
  if (lua_pcall(L, 0, 1, 1) != LUA_OK) {
    fprintf(stderr, "tlua: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return 1;
  }
  /* program.main(argv) does the rest in Lua (stdlib/tlua/program.lua). */
  lua_getfield(L, -1, "main");
  lua_createtable(L, argc, 0);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  int status = lua_pcall(L, 1, 1, 1);
  int rc = 0;
  if (status != LUA_OK) {
    fflush(stdout);
    fprintf(stderr, "tlua: %s\n", lua_tostring(L, -1));
    rc = 1;
  } else if (lua_isinteger(L, -1)) {
    rc = (int)lua_tointeger(L, -1);
  }
  lua_close(L);
  return rc;
}
