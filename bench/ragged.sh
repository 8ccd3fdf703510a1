#!/usr/bin/env bash
# bench/ragged.sh — tf.RaggedTensor operations (bench/ragged_bench.lua)
# against TensorFlow (bench/ragged_bench.py, /work/venv-tf or $TF_PYTHON)
# in the same run, same thread count. Prints median seconds and the ratio
# TensorFlow time / tlua time (above 1: tlua is faster). Without a
# TensorFlow the peer is skipped with a message.
# Usage: bench/ragged.sh [--threads N]   (RAGGED_ROWS, RAGGED_REPS set the size)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
tlua=${TLUA:-$root/build/tlua}
threads=2
[ "${1:-}" = "--threads" ] && threads=$2
py=${TF_PYTHON:-/work/venv-tf/bin/python}
declare -A T=() P=()
while read -r name sec; do T[$name]=$sec; done < <(TLUA_NUM_THREADS=$threads "$tlua" "$here/ragged_bench.lua")
have_peer=0
if [ -x "$py" ] && "$py" -c "import tensorflow" 2>/dev/null; then
  have_peer=1
  while read -r name sec; do P[$name]=$sec; done < <(
    TF_NUM_INTRAOP_THREADS=$threads TF_NUM_INTEROP_THREADS=1 TF_CPP_MIN_LOG_LEVEL=3 \
      "$py" "$here/ragged_bench.py" 2>/dev/null)
else
  echo "TensorFlow not found at $py: the peer is skipped" >&2
fi
printf '%-20s %12s %12s %8s\n' case tlua tensorflow ratio
for name in from_row_lengths to_tensor from_tensor_lengths reduce_sum_1 reduce_max_0 reduce_mean_1 \
  add_same_splits concat_1 boolean_mask gather_rows; do
  t=${T[$name]:-nan}
  if [ $have_peer = 1 ]; then
    p=${P[$name]:-nan}
    printf '%-20s %12s %12s %8s\n' "$name" "$t" "$p" "$(awk -v a="$t" -v b="$p" 'BEGIN { printf "%.2f", b / a }')"
  else
    printf '%-20s %12s\n' "$name" "$t"
  fi
done
