#!/bin/sh
# Writes a safetensors file with tlua (every dtype numpy has, a Variable,
# a transposed view, metadata) and reads it with the reference safetensors
# package of the TensorFlow venv (/work/venv-tf; CI has none: the spec's
# numpy parse covers CI). Prints what Python sees.
#   tools/keras_fixtures/check_safetensors_interop.sh [build-dir]
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
TLUA_STDLIB=$root/stdlib "$build/tlua" -e "
local s = keras.saving
local v = tf.Variable(tf.constant({{1, 2, 3}, {4, 5, 6}}, 'float32'), {name = 'dense/kernel:0'})
s.write_safetensors('$out/t.safetensors', {
  {'dense/kernel:0', v}, {'view', tf.transpose(v)}, {'f64', tf.constant({1/3, -1e300}, 'float64')},
  {'f16', tf.constant({0.5, 65504}, 'float16')}, {'i64', tf.constant({-(1 << 62), 7}, 'int64')},
  {'i8', tf.constant({-128, 127}, 'int8')}, {'u8', tf.constant({0, 255}, 'uint8')},
  {'b', tf.constant({true, false})}, {'scalar', tf.constant(2.5)}, {'empty', tf.zeros({0, 3})},
}, {format = 'tlua.keras', note = 'interop check'})"
/work/venv-tf/bin/python - "$out/t.safetensors" <<'PY'
import sys
from safetensors import safe_open
from safetensors.numpy import load_file
d = load_file(sys.argv[1])
for k in sorted(d):
    v = d[k]
    print(f"{k:16s} {str(v.dtype):8s} {list(v.shape)} {v.tolist()!r}")
with safe_open(sys.argv[1], "np") as f:
    print("metadata", f.metadata())
PY
