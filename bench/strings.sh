#!/usr/bin/env bash
# bench/strings.sh — tf.strings over 1,000,000 short strings: split +
# to_hash_bucket_fast, and regex_replace; tlua (bench/strings_bench.lua)
# against TensorFlow (bench/strings_tf.py, the venv at /work/venv-tf or
# $TF_PYTHON) in the same run with the same thread count. Rounds
# alternate; the table gives median times and the ratio TF / tlua (above
# 1: tlua is faster). Without TensorFlow only tlua's times are printed.
# Usage: bench/strings.sh [--threads N] [--rounds N] [case ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
tlua=${TLUA:-$root/build/tlua}
py=${TF_PYTHON:-/work/venv-tf/bin/python}
threads=2
rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) break ;;
  esac
done
have_tf=1
"$py" -c "import tensorflow" >/dev/null 2>&1 || { have_tf=0; echo "TensorFlow not found at $py: tlua only" >&2; }
declare -A T=() P=()
for ((r = 1; r <= rounds; r++)); do
  while read -r name sec rest; do T[$name]="${T[$name]:-} $sec"; done < <(
    TLUA_NUM_THREADS=$threads "$tlua" "$here/strings_bench.lua" "$@")
  if [ $have_tf = 1 ]; then
    while read -r name sec; do P[$name]="${P[$name]:-} $sec"; done < <(
      "$py" "$here/strings_tf.py" "$threads" "$@" 2>/dev/null)
  fi
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-14s %3s %12s %12s %8s\n' case thr "tlua s" "tf s" "tf/tlua"
for name in split_hash regex_replace; do
  [ -n "${T[$name]:-}" ] || continue
  t=$(echo "${T[$name]}" | median)
  if [ -n "${P[$name]:-}" ]; then
    p=$(echo "${P[$name]}" | median)
    printf '%-14s %3s %12.4f %12.4f %8.2f\n' "$name" "$threads" "$t" "$p" "$(awk -v a="$p" -v b="$t" 'BEGIN { print a / b }')"
  else
    printf '%-14s %3s %12.4f %12s %8s\n' "$name" "$threads" "$t" "-" "-"
  fi
done
