#!/usr/bin/env bash
# tools/fuzz.sh [seconds] — builds the libFuzzer target for the saved-model
# loader with clang (ASan + UBSan) in ./build-fuzz and runs it for the given
# time (default 600 s) on a corpus seeded with a valid model. Needs Debian's
# clang (apt-get install clang; libclang-rt-14-dev ships libFuzzer).
# Prints libFuzzer's final stats; crashes land in build-fuzz/crashes/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-600}
command -v clang >/dev/null || { echo "tools/fuzz.sh: needs clang (apt-get install clang)" >&2; exit 1; }
CC=clang cmake -S "$root" -B "$root/build-fuzz" -DTLUA_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$root/build-fuzz" -j2 --target fuzz_saved_model test_saved_model_fuzz
corpus="$root/build-fuzz/corpus"
mkdir -p "$corpus" "$root/build-fuzz/crashes"
"$root/build-fuzz/test_saved_model_fuzz" --write-seed "$corpus/seed.tlsm"
"$root/build-fuzz/fuzz_saved_model" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=16384 \
  -print_final_stats=1 -artifact_prefix="$root/build-fuzz/crashes/" "$corpus"
