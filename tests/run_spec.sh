#!/bin/sh
# Runs one busted spec with tlua's Lua paths (set here rather than through
# CMake, whose lists would split the ';'-separated paths).
set -e
: "${TLUA_SOURCE_DIR:?}" "${TLUA_BUILD_DIR:?}"
export LUA_PATH="$TLUA_SOURCE_DIR/stdlib/?.lua;$TLUA_SOURCE_DIR/stdlib/?/init.lua;$TLUA_SOURCE_DIR/tests/spec/?.lua;;"
export LUA_CPATH="$TLUA_BUILD_DIR/lua/?.so;;"
exec busted --lua=lua5.4 -o utfTerminal "$@"
