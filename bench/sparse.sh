#!/usr/bin/env bash
# bench/sparse.sh — tf.sparse.sparse_dense_matmul of a 10,000 x 10,000
# matrix with 0.1% non-zeros by a 10,000 x 64 dense matrix: tlua
# (bench/sparse_bench.lua) against the dense product of the same matrices
# in tlua, and against TensorFlow (bench/sparse_bench_tf.py, the venv at
# /work/venv-tf or $TF_PYTHON) in the same run with the same thread count.
# Times are the best of the rounds (the machine is shared). Ratios above 1
# mean tlua's sparse product is faster.
# Usage: bench/sparse.sh [--threads N] [--rounds N] [n density cols]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
tlua=${TLUA:-$root/build/tlua}
py=${TF_PYTHON:-/work/venv-tf/bin/python}
threads=2
rounds=20
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) break ;;
  esac
done
n=${1:-10000} density=${2:-0.001} cols=${3:-64}
get() { awk -v k="$1" '$1 == k { print $2 }'; }
out=$(TLUA_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=1 "$tlua" "$here/sparse_bench.lua" "$n" "$density" "$cols" "$rounds")
ts=$(get sparse_dense_matmul <<<"$out")
td=$(get dense_matmul <<<"$out")
printf 'matrix %sx%s, density %s, dense operand %sx%s, %s threads\n' "$n" "$n" "$density" "$n" "$cols" "$threads"
printf 'tlua sparse_dense_matmul  %10.3f ms\n' "$(awk -v t="$ts" 'BEGIN { print t * 1000 }')"
printf 'tlua dense matmul         %10.3f ms\n' "$(awk -v t="$td" 'BEGIN { print t * 1000 }')"
printf 'ratio dense/sparse (tlua) %10.1f   (want >= 20)\n' "$(awk -v a="$td" -v b="$ts" 'BEGIN { print a / b }')"
if [ -x "$py" ] && "$py" -c 'import tensorflow' 2>/dev/null; then
  pout=$("$py" "$here/sparse_bench_tf.py" "$n" "$density" "$cols" "$rounds" "$threads" 2>/dev/null)
  ps=$(get sparse_dense_matmul <<<"$pout")
  pd=$(get dense_matmul <<<"$pout")
  printf 'TF sparse_dense_matmul    %10.3f ms\n' "$(awk -v t="$ps" 'BEGIN { print t * 1000 }')"
  printf 'TF dense matmul           %10.3f ms\n' "$(awk -v t="$pd" 'BEGIN { print t * 1000 }')"
  printf 'ratio TF/tlua (sparse)    %10.2f   (want >= 1)\n' "$(awk -v a="$ps" -v b="$ts" 'BEGIN { print a / b }')"
else
  echo "TensorFlow peer skipped: no tensorflow at $py (set TF_PYTHON)"
fi
