#!/usr/bin/env bash
# tools/test.sh — installs what the suite needs, builds, runs every test
# (C tests and busted specs) through ctest. TLUA_SANITIZE=1 runs the same
# suite in an AddressSanitizer + UndefinedBehaviorSanitizer build instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh" --test
build=$root/build
if [ "${TLUA_SANITIZE:-0}" = 1 ]; then
  build=$root/build-asan
  cmake -S "$root" -B "$build" -DTLUA_SANITIZE=ON >/dev/null
  cmake --build "$build" -j"$(nproc)"
fi
cd "$build"
ctest --output-on-failure -j"$(nproc)"
