#!/usr/bin/env bash
# bench/lstm.sh — keras.layers.LSTM(64) and GRU(64) forward and
# forward + backward on a [32, 20, 16] batch, tlua (bench/lstm_bench.lua)
# against torch.nn.LSTM / GRU (bench/lstm_bench.py) in the same run, same
# thread count; rounds alternate and the table gives median times and the
# median ratio (pytorch time / tlua time: above 1 means tlua is faster).
# The peer uses the OpenMP OpenBLAS that bench/run.sh unpacks into
# bench/.peer when it is there.
# Usage: bench/lstm.sh [--threads N] [--rounds N] [case ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
tlua=${TLUA:-$root/build/tlua}
threads=2
rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) break ;;
  esac
done
peer_env=()
peer_lib=$here/.peer/usr/lib/x86_64-linux-gnu/openblas-openmp
if [ -e "$peer_lib" ]; then
  peer_env=(LD_LIBRARY_PATH=$peer_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH})
  grep -q avx512f /proc/cpuinfo && peer_env+=(OPENBLAS_CORETYPE=SkylakeX)
fi
declare -A T=() P=()
for ((r = 1; r <= rounds; r++)); do
  while read -r name sec rest; do T[$name]="${T[$name]:-} $sec"; done < <(
    TLUA_NUM_THREADS=$threads "$tlua" "$here/lstm_bench.lua" "$@")
  while read -r name sec; do P[$name]="${P[$name]:-} $sec"; done < <(
    env "${peer_env[@]}" OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
      /usr/bin/python3 "$here/lstm_bench.py" "$threads" "$@")
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-14s %3s %12s %12s %8s\n' case thr "tlua" "pytorch" "ratio"
for name in lstm_fwd lstm_fwd_bwd gru_fwd gru_fwd_bwd; do
  [ -n "${T[$name]:-}" ] || continue
  tl=$(echo "${T[$name]}" | median); py=$(echo "${P[$name]:-nan}" | median)
  awk -v n="$name" -v t="$threads" -v a="$tl" -v b="$py" \
    'BEGIN { printf "%-14s %3s %9.1f us %9.1f us %8.2f\n", n, t, a*1e6, b*1e6, b/a }'
done
