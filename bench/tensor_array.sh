#!/usr/bin/env bash
# bench/tensor_array.sh — tf.TensorArray write + stack of N elements of 64
# floats, eagerly and in a traced tf.while_loop (forward, and with a
# gradient), tlua (bench/tensor_array_bench.lua) against TensorFlow
# (bench/tensor_array_bench.py, /work/venv-tf or $TF_PYTHON) in the same
# run, one thread each. Ratio = TensorFlow time / tlua time (above 1: tlua
# is faster). Times are CPU seconds (process time), medians of 5 runs.
# Usage: bench/tensor_array.sh [N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
tlua=${TLUA:-$root/build/tlua}
n=${1:-1000}
py=${TF_PYTHON:-/work/venv-tf/bin/python}
declare -A T=() P=()
while read -r name sec; do T[$name]=$sec; done < <(TLUA_NUM_THREADS=1 "$tlua" "$here/tensor_array_bench.lua" "$n")
if [ -x "$py" ] && "$py" -c "import tensorflow" 2>/dev/null; then
  while read -r name sec; do P[$name]=$sec; done < <(TF_CPP_MIN_LOG_LEVEL=3 OMP_NUM_THREADS=1 \
    TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 "$py" "$here/tensor_array_bench.py" "$n" 2>/dev/null)
else
  echo "(TensorFlow not found at $py: peer skipped)"
fi
printf '%-26s %6s %12s %12s %8s\n' case n tlua tensorflow ratio
for name in eager_write_stack traced_loop_write_stack traced_loop_gradient; do
  t=${T[$name]:-}; p=${P[$name]:-}
  [ -n "$t" ] || continue
  if [ -n "$p" ]; then r=$(awk -v a="$p" -v b="$t" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print 0 }'); else p=-; r=-; fi
  printf '%-26s %6s %12s %12s %8s\n' "$name" "$n" "$t" "$p" "$r"
done
