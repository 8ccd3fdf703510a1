#!/bin/sh
# Runs one busted spec with tlua's Lua paths (set here rather than through
# CMake, whose lists would split the ';'-separated paths).
set -e
: "${TLUA_SOURCE_DIR:?}" "${TLUA_BUILD_DIR:?}"
export LUA_PATH="$TLUA_SOURCE_DIR/stdlib/?.lua;$TLUA_SOURCE_DIR/stdlib/?/init.lua;$TLUA_SOURCE_DIR/tests/spec/?.lua;;"
export LUA_CPATH="$TLUA_BUILD_DIR/lua/?.so;;"
# TLUA_PRELOAD (sanitizer builds): the sanitizer runtime for the
# uninstrumented lua5.4 alone. busted is started under lua5.4 directly
# (--ignore-lua): its own --lua re-runs itself through a shell, and a shell
# with libtsan preloaded crashes.
if [ -n "${TLUA_PRELOAD:-}" ]; then
  exec env LD_PRELOAD="$TLUA_PRELOAD" lua5.4 "$(command -v busted)" --ignore-lua -o utfTerminal "$@"
fi
exec busted --lua=lua5.4 -o utfTerminal "$@"
