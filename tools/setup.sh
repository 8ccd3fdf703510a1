#!/usr/bin/env bash
# tools/setup.sh — installs the Debian packages tlua needs and builds it.
#   tools/setup.sh          what the program needs, then builds the tlua program
#                           and the Lua module into ./build (the main job)
#   tools/setup.sh --test   also what the test suite needs (busted, tmux,
#                           numpy and PyTorch for reference values, python3-onnx
#                           for onnx.checker), and builds
#                           everything, C tests included
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pkgs=(build-essential cmake pkg-config lua5.4 liblua5.4-dev libreadline-dev libopenblas-dev zlib1g-dev lua-cjson dataset-fashion-mnist
      libprotobuf-c-dev protobuf-c-compiler libonnx-dev libre2-dev libicu-dev)
targets=(--target tlua tlua_core)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(lua-busted tmux python3 python3-numpy python3-torch python3-onnx)
  targets=()
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j"$(nproc)" "${targets[@]}"
