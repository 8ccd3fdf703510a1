#!/usr/bin/env bash
# bench/queue.sh — tf.queue throughput with one producer and one consumer
# thread: tlua (bench/queue_bench.lua) and, when /work/venv-tf (or $TF_PYTHON)
# is there, TensorFlow's eager tf.queue.FIFOQueue (bench/queue_tf.py) in the
# same run. Prints elements per second per case and the ratio tlua / TF
# (above 1: tlua moves more elements per second). The target is at least
# 1,000,000 small elements per second.
# In TensorFlow both sides are Python threads calling eager ops; in tlua the
# producer is a C thread (core.queue._spawn_producer) and the consumer the
# Lua main thread, or both C threads (c_to_c: the C API alone).
# Usage: bench/queue.sh [n_tlua] [n_tf]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
tlua=${TLUA:-$root/build/tlua}
n=${1:-1000000}
n_tf=${2:-20000}
py=${TF_PYTHON:-/work/venv-tf/bin/python}
declare -A T=() P=()
while read -r name v; do T[$name]=$v; done < <("$tlua" "$here/queue_bench.lua" "$n")
if [ -x "$py" ] && "$py" -c "import tensorflow" 2>/dev/null; then
  while read -r name v; do P[$name]=$v; done < <("$py" "$here/queue_tf.py" "$n_tf" 2>/dev/null)
else
  echo "(TensorFlow not found at $py: peer skipped)"
fi
printf '%-15s %14s %14s %8s %s\n' case "tlua elem/s" "tf elem/s" ratio target
for name in c_to_lua c_to_lua_shared c_to_lua_b100 c_to_c lua_to_c; do
  [ -n "${T[$name]:-}" ] || continue
  tf=${P[$name]:-}
  ratio=-
  [ -n "$tf" ] && ratio=$(awk -v a="${T[$name]}" -v b="$tf" 'BEGIN { printf "%.1fx", a / b }')
  ok=$(awk -v a="${T[$name]}" 'BEGIN { print (a >= 1000000) ? "ok (>= 1e6)" : "below 1e6" }')
  printf '%-15s %14s %14s %8s %s\n' "$name" "${T[$name]}" "${tf:--}" "$ratio" "$ok"
done
