#!/usr/bin/env bash
# tools/test.sh — installs what the suite needs, builds, runs every test
# (C tests and busted specs) through ctest.
#   TLUA_SANITIZE=1 tools/test.sh   the same suite in an AddressSanitizer +
#                                   UndefinedBehaviorSanitizer build (build-asan/)
#   TLUA_TSAN=1 tools/test.sh       the same suite under ThreadSanitizer (build-tsan/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh" --test
# The specs need busted; without it ctest would only report one failing
# placeholder, so say it here, before anything runs.
if ! command -v busted >/dev/null; then
  echo "tools/test.sh: busted not found after setup: install the Debian package lua-busted" >&2
  exit 1
fi
build=$root/build
if [ "${TLUA_SANITIZE:-0}" = 1 ]; then
  build=$root/build-asan
  cmake -S "$root" -B "$build" -DTLUA_SANITIZE=ON >/dev/null
  cmake --build "$build" -j"$(nproc)"
elif [ "${TLUA_TSAN:-0}" = 1 ]; then
  build=$root/build-tsan
  cmake -S "$root" -B "$build" -DTLUA_TSAN=ON >/dev/null
  cmake --build "$build" -j"$(nproc)"
fi
cd "$build"
ctest --output-on-failure -j"$(nproc)"
