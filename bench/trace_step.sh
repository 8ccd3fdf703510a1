#!/usr/bin/env bash
# bench/trace_step.sh — issue 9's training-step targets, every side in the
# same run, same machine, same thread count (--threads, default 2):
#   tlua_traced  bench/trace_step_keras.lua --mode traced   the seed's step through tf.trace
#   tlua_eager   bench/trace_step_keras.lua --mode eager    the same step, eager
#   torch        bench/trace_step_torch.py            eager PyTorch
#   tf_function  bench/trace_step_tf.py               the step in @tf.function
#   jax          bench/trace_step_jax.py              jax.jit of the step with optax.nadam
#   tlua_fit / tf_fit  bench/seed_run.sh --sides "tlua_fit tf_fit" (model.fit epochs, Fashion-MNIST)
# The step sides run --rounds times (default 3) alternating, each in its own
# process (so peak RSS is that side's); the median time per step is used.
# Prints a table and the ratios with their targets: traced/eager (<= 0.5),
# traced/torch (<= 0.25), traced/tf_function (< 1), traced/jax (<= 0.5),
# the first traced call (< 50 ms), peak RSS traced vs eager (<= 1), and the
# fit epoch traced vs TensorFlow's fit (<= 0.5; --fit-epochs, 0 skips it).
# Peers as bench/seed_run.sh sets them: PyTorch with Debian's OpenMP
# OpenBLAS (bench/.peer), flush-denormal, OMP/OpenBLAS threads; TF intra/
# inter-op threads; JAX's XLA CPU intra-op threads; tlua TLUA_NUM_THREADS.
# TensorFlow and JAX come from $TLUA_TF_PYTHON (default /work/venv-tf/bin/python:
# python3 -m venv /work/venv-tf && /work/venv-tf/bin/pip install tensorflow-cpu jax optax);
# their sides are skipped when it is missing.
# Usage: bench/trace_step.sh [--steps 2000] [--rounds 3] [--threads 2] [--fit-epochs 2]
#                            [--sides "tlua_traced tlua_eager torch tf_function jax"]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
tlua=${TLUA:-$root/build/tlua}
tfpy=${TLUA_TF_PYTHON:-/work/venv-tf/bin/python}
steps=2000; rounds=3; threads=2; fit_epochs=2
sides="tlua_traced tlua_eager torch tf_function jax"
while [ $# -gt 0 ]; do
  case $1 in
    --steps) steps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --fit-epochs) fit_epochs=$2; shift 2 ;;
    --sides) sides=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$tfpy" ] || { echo "note: no python at $tfpy: skipping tf_function, jax and the fit comparison" >&2;
  sides=$(echo " $sides " | sed 's/ tf_function / /; s/ jax / /'); fit_epochs=0; }

. "$here/peer_blas.sh" # peer_lib, coretype

logs=$here/results/trace_step
mkdir -p "$logs"
results=$logs/results.txt
: > "$results"
run_side() { # side round
  local side=$1 r=$2 log=$logs/$1.round$2.log
  local a=(--steps "$steps")
  case $side in
    tlua_traced) TLUA_NUM_THREADS=$threads "$tlua" "$here/trace_step_keras.lua" --mode traced "${a[@]}" ;;
    tlua_eager)  TLUA_NUM_THREADS=$threads "$tlua" "$here/trace_step_keras.lua" --mode eager "${a[@]}" ;;
    torch)       LD_LIBRARY_PATH=$peer_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} OPENBLAS_CORETYPE=$coretype \
                 OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
                 /usr/bin/python3 "$here/trace_step_torch.py" "${a[@]}" --threads "$threads" ;;
    tf_function) "$tfpy" "$here/trace_step_tf.py" "${a[@]}" --threads "$threads" ;;
    jax)         "$tfpy" "$here/trace_step_jax.py" "${a[@]}" --threads "$threads" ;;
  esac > "$log" 2>&1 || { echo "  $side round $r FAILED (see $log):"; tail -5 "$log"; return 0; }
  grep -a '^RESULT ' "$log" >> "$results"
  echo "  $side round $r: $(grep -a "^RESULT $side step_us" "$log" | awk '{ print $4 " us/step" }')"
}

echo "trace_step: steps=$steps rounds=$rounds threads=$threads; logs in $logs"
for r in $(seq 1 "$rounds"); do
  for side in $sides; do run_side "$side" "$r"; done
done

fit_line=
if [ "$fit_epochs" -gt 0 ]; then
  echo "fit epochs (bench/seed_run.sh --sides \"tlua_fit tf_fit\" --epochs $fit_epochs --seeds 1):"
  "$here/seed_run.sh" --sides "tlua_fit tf_fit" --epochs "$fit_epochs" --seeds 1 --threads "$threads" > "$logs/fit.log" 2>&1 || true
  grep -E "^  tlua_fit|^  tf_fit|tlua_fit / tf_fit" "$logs/fit.log" || tail -5 "$logs/fit.log"
  awk '$2 == "tlua_fit" && $3 == "epoch_s" { print "RESULT tlua_fit epoch_s", $5 }
       $2 == "tf_fit" && $3 == "epoch_s" { print "RESULT tf_fit epoch_s", $5 }' "$here/results/seed/results.txt" >> "$results"
fi

awk '
  function median(arr, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
    return n == 0 ? -1 : (n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2)
  }
  $1 == "RESULT" { k = $2 SUBSEP $3; n[k]++; V[k, n[k]] = $4; if (!($2 in seen)) { seen[$2] = 1; order[++ns] = $2 } }
  function med(side, key,   a, i, kk) { kk = side SUBSEP key; if (!(kk in n)) return -1
    delete a; for (i = 1; i <= n[kk]; i++) a[i] = V[kk, i]; return median(a, n[kk]) }
  function mx(side, key,   i, kk, m) { kk = side SUBSEP key; m = -1; for (i = 1; i <= n[kk]; i++) if (V[kk, i] > m) m = V[kk, i]; return m }
  function ratio(label, a, b) { if (a > 0 && b > 0) printf "%-48s %8.3f\n", label, a / b }
  END {
    printf "\n%-12s %12s %14s %12s\n", "side", "us/step", "first call ms", "peak MiB"
    for (i = 1; i <= ns; i++) { s = order[i]; if (s ~ /_fit$/) continue
      printf "%-12s %12.1f %14.1f %12.1f\n", s, med(s, "step_us"), med(s, "first_call_ms"), mx(s, "peak_rss_mib") }
    t = med("tlua_traced", "step_us")
    print ""
    ratio("time  traced / tlua eager   (target <= 0.5)", t, med("tlua_eager", "step_us"))
    ratio("time  traced / torch eager  (target <= 0.25)", t, med("torch", "step_us"))
    ratio("time  traced / tf.function  (target < 1)", t, med("tf_function", "step_us"))
    ratio("time  traced / jax.jit      (target <= 0.5)", t, med("jax", "step_us"))
    f = med("tlua_traced", "first_call_ms"); if (f > 0) printf "%-48s %8.1f\n", "first traced call ms (target < 50)", f
    tr = med("tlua_traced", "trace_ms"); if (tr > 0) printf "%-48s %8.1f\n", "  of which tracing + optimizing ms", tr
    ratio("RSS   traced / tlua eager   (target <= 1)", mx("tlua_traced", "peak_rss_mib"), mx("tlua_eager", "peak_rss_mib"))
    ratio("fit epoch traced / tf fit   (target <= 0.5)", med("tlua_fit", "epoch_s"), med("tf_fit", "epoch_s"))
  }
' "$results"
