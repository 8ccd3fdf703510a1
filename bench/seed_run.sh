#!/usr/bin/env bash
# bench/seed_run.sh — the seed chapter's Fashion-MNIST training, every side in
# the same run, on the same machine, with the same thread count:
#   tlua_loop  examples/seed_09_custom_loop.lua (through bench/seed_loop.lua)
#   torch      bench/seed_loop_torch.py   the same loop, eager PyTorch
#   tf_loop    bench/seed_loop_tf.py      the same loop, step in @tf.function
#   tlua_fit   bench/seed_fit.lua         model:fit at batch 32
#   tf_fit     bench/seed_fit_tf.py       Keras model.fit at batch 32
# for each seed (3 by default) and --epochs epochs (5 by default), the sides
# alternating within a seed so that a noisy neighbour hurts them alike.
# Prints a table: validation and test accuracy (mean over seeds), time per
# epoch (median over every epoch of every seed, validation included), peak
# RSS (largest over seeds), then the ratios the issue asks for.
#
# Peers at their best, as bench/run.sh sets them: PyTorch with Debian's
# OpenMP build of OpenBLAS (unpacked into bench/.peer, on LD_LIBRARY_PATH for
# the peer only), OPENBLAS_CORETYPE=SkylakeX where the CPU has AVX-512,
# flush-denormal on (the script), OMP/OpenBLAS threads = --threads;
# TensorFlow with intra- and inter-op threads = --threads (the scripts) from
# the venv at $TLUA_TF_PYTHON (default /work/venv-tf/bin/python; the TF sides
# are skipped when it is missing). tlua: TLUA_NUM_THREADS = --threads.
#
# Usage: bench/seed_run.sh [--epochs 5] [--seeds "1 2 3"] [--steps N] [--threads 2]
#                          [--sides "tlua_loop torch tf_loop tlua_fit tf_fit"]
# Build first (cmake --build build); TLUA=path/to/tlua overrides build/tlua.
# Logs of every run are kept in bench/results/seed/ (the status bars included).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
tlua=${TLUA:-$root/build/tlua}
tfpy=${TLUA_TF_PYTHON:-/work/venv-tf/bin/python}
epochs=5; seeds="1 2 3"; steps=; threads=2
sides="tlua_loop torch tf_loop tlua_fit tf_fit"
while [ $# -gt 0 ]; do
  case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --sides) sides=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$tfpy" ] || { echo "note: no TensorFlow python at $tfpy: skipping tf_loop and tf_fit" >&2; sides=$(echo " $sides " | sed 's/ tf_loop / /; s/ tf_fit / /'); }

. "$here/peer_blas.sh" # peer_lib, coretype

logs=$here/results/seed
mkdir -p "$logs"
results=$logs/results.txt
: > "$results"
common=(--epochs "$epochs")
[ -n "$steps" ] && common+=(--steps "$steps")

run_side() { # side seed
  local side=$1 seed=$2 log=$logs/$1.seed$2.log
  local args=("${common[@]}" --seed "$seed")
  case $side in
    tlua_loop) TLUA_NUM_THREADS=$threads "$tlua" "$here/seed_loop.lua" "${args[@]}" ;;
    tlua_fit)  TLUA_NUM_THREADS=$threads "$tlua" "$here/seed_fit.lua" "${args[@]}" ;;
    torch)     LD_LIBRARY_PATH=$peer_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} OPENBLAS_CORETYPE=$coretype \
               OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
               /usr/bin/python3 "$here/seed_loop_torch.py" "${args[@]}" --threads "$threads" ;;
    tf_loop)   "$tfpy" "$here/seed_loop_tf.py" "${args[@]}" --threads "$threads" ;;
    tf_fit)    "$tfpy" "$here/seed_fit_tf.py" "${args[@]}" --threads "$threads" ;;
  esac > "$log" 2>&1 || { echo "  $side seed $seed FAILED (see $log):"; tail -5 "$log" | tr '\r' '\n' | tail -5; return 0; }
  grep -a '^RESULT ' "$log" | sed "s/^RESULT /$seed /" >> "$results"
  local t
  t=$(grep -a "^RESULT $side epoch_s" "$log" | awk '{ s = s sprintf(" %.2f", $5) } END { print s }')
  echo "  $side seed $seed: epochs (s):$t  $(grep -a "^RESULT $side val_accuracy" "$log" | awk '{ printf "val_accuracy %.4f", $4 }')"
}

echo "seed run: epochs=$epochs seeds=($seeds) steps=${steps:-default} threads=$threads; logs in $logs"
for seed in $seeds; do
  for side in $sides; do run_side "$side" "$seed"; done
done

# Table and ratios from results.txt lines: "seed side key [epoch] value".
awk -v sides="$sides" '
  function median(arr, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
    return n == 0 ? -1 : (n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2)
  }
  $3 == "epoch_s" { ne[$2]++; E[$2, ne[$2]] = $5 }
  $3 == "val_accuracy" { nv[$2]++; va[$2] += $4; vv[$2, nv[$2]] = $4 }
  $3 == "test_accuracy" { nt[$2]++; ta[$2] += $4 }
  $3 == "peak_rss_mib" { if ($4 > rss[$2]) rss[$2] = $4 }
  END {
    n = split(sides, S, " ")
    printf "\n%-10s %6s %10s %10s %10s %12s %10s\n", "side", "seeds", "val_acc", "(min-max)", "test_acc", "s/epoch", "peak MiB"
    for (i = 1; i <= n; i++) {
      s = S[i]; if (!(s in nv)) { printf "%-10s %6s\n", s, "-"; continue }
      lo = 1; hi = 0
      for (k = 1; k <= nv[s]; k++) { if (vv[s, k] < lo) lo = vv[s, k]; if (vv[s, k] > hi) hi = vv[s, k] }
      delete A; for (k = 1; k <= ne[s]; k++) A[k] = E[s, k]
      T[s] = median(A, ne[s]); V[s] = va[s] / nv[s]
      printf "%-10s %6d %10.4f %4.4f-%.4f %10.4f %12.3f %10.0f\n", s, nv[s], V[s], lo, hi, (s in nt) ? ta[s] / nt[s] : -1, T[s], rss[s]
    }
    print ""
    ratio("time  tlua_loop / torch     (bar <= 0.5)", "tlua_loop", "torch", T)
    ratio("time  tlua_loop / tf_loop   (bar < 1)", "tlua_loop", "tf_loop", T)
    ratio("time  tlua_fit / tlua_loop  (bar <= 1.1)", "tlua_fit", "tlua_loop", T)
    ratio("time  tlua_fit / tf_fit     (bar <= 0.2)", "tlua_fit", "tf_fit", T)
    ratio("RSS   tlua_loop / torch     (bar <= 0.5)", "tlua_loop", "torch", rss)
    ratio("RSS   tlua_loop / tf_loop", "tlua_loop", "tf_loop", rss)
    ratio("RSS   tlua_fit / tf_fit", "tlua_fit", "tf_fit", rss)
    diff("val_acc tlua_loop - torch    (bar >= -0.01)", "tlua_loop", "torch")
    diff("val_acc tlua_loop - tf_loop  (bar >= -0.01)", "tlua_loop", "tf_loop")
    diff("val_acc tlua_fit - tlua_loop (bar >= -0.01)", "tlua_fit", "tlua_loop")
    diff("val_acc tlua_fit - tf_fit", "tlua_fit", "tf_fit")
  }
  function ratio(label, a, b, X) { if ((a in X) && (b in X) && X[b] > 0) printf "%-44s %8.3f\n", label, X[a] / X[b] }
  function diff(label, a, b) { if ((a in V) && (b in V)) printf "%-44s %+8.4f\n", label, V[a] - V[b] }
' "$results"
