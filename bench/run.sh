#!/usr/bin/env bash
# bench/run.sh — runs each case in tlua and in PyTorch in the same run, on
# the same machine, with the same thread count, and prints both times and
# the ratio (peer time / tlua time: above 1 means tlua is faster).
#
# The PyTorch peer runs at its best, not as apt leaves it: Debian's OpenMP
# build of OpenBLAS (libopenblas0-openmp, unpacked into bench/.peer and put
# first on LD_LIBRARY_PATH for the peer only), OPENBLAS_CORETYPE=SkylakeX
# where the CPU has AVX-512, flush-denormal on, the same thread count.
#
# After the matmul cases it prints a second table: tlua's GFLOP/s against
# the fastest OpenBLAS kernel called directly from C (bench/peak.c, one
# process per OPENBLAS_CORETYPE) and against the cores' float32 FMA ceiling,
# all measured in this run.
#
# Each side runs --rounds times, alternating, and the table gives the median
# times, the median of the per-round ratios and their range: this machine is
# a VM whose memory bandwidth moves by +-30% from one second to the next.
#
# Usage: bench/run.sh [--suite core|autodiff|conv] [--threads "1 2"] [--rounds N] [case ...]
#   core:     per-op overhead, element-wise, reductions, softmax, matmul (default)
#   autodiff: tape recording overhead and the seed MLP's training step (Nadam)
#   conv:     a 3x3 Conv2D forward and forward+backward (32x28x28x32, 32 filters)
#             against PyTorch NCHW and channels_last (_cl), a 2x2 max pool
#   trace:    tlua against itself: eager against traced graphs (bench/trace_fusion.lua:
#             a fused chain of 8 element-wise ops on 1e7 floats; bench/trace_step.lua:
#             the seed MLP's training step), no peer
# Build first: cmake --build build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
tlua=${TLUA:-$root/build/tlua}
threads="1 2"
rounds=3
suite=core
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --suite) suite=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) break ;;
  esac
done
if [ "$suite" = trace ]; then
  for t in $threads; do
    echo "threads $t"
    TLUA_NUM_THREADS=$t "$tlua" "$here/trace_fusion.lua"
    TLUA_NUM_THREADS=$t "$tlua" "$here/trace_step.lua"
  done
  exit 0
fi
if [ "$suite" = autodiff ]; then
  tl_script=$here/mlp_bench.lua; py_script=$here/mlp_bench.py
  order="add10_notape add10_tape mlp_step_32 mlp_step_256"
elif [ "$suite" = conv ]; then
  tl_script=$here/conv_bench.lua; py_script=$here/conv_bench.py
  order="conv3x3_fwd conv3x3_fwd_cl conv3x3_fwd_bwd conv3x3_fwd_bwd_cl maxpool2x2_fwd_bwd"
else
  tl_script=$here/tlua_bench.lua; py_script=$here/torch_bench.py
  order="add_10 add_1e7 bcast_add sum_1e7 softmax_1000 matmul_256 matmul_1024 matmul_2048"
fi
cases=("$@")

. "$here/peer_blas.sh" # peer, peer_lib, coretype

declare -A TL_ALL=()
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-14s %3s %14s %14s %8s   %s\n' case thr "tlua" "pytorch" "ratio" "(median of $rounds rounds; ratio range)"
for t in $threads; do
  declare -A T=() P=() R=()
  for ((r = 1; r <= rounds; r++)); do
    declare -A t1=() p1=()
    while read -r name sec rest; do t1[$name]=$sec; done < <(TLUA_NUM_THREADS=$t "$tlua" "$tl_script" "${cases[@]}")
    while read -r name sec; do p1[$name]=$sec; done < <(
      LD_LIBRARY_PATH=$peer_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} OPENBLAS_CORETYPE=$coretype \
      OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t /usr/bin/python3 "$py_script" "$t" "${cases[@]}")
    for name in "${!t1[@]}"; do
      T[$name]="${T[$name]:-} ${t1[$name]}"
      P[$name]="${P[$name]:-} ${p1[$name]:-nan}"
      if [ "${t1[$name]}" != error ] && [ -n "${p1[$name]:-}" ]; then
        R[$name]="${R[$name]:-} $(awk -v a="${t1[$name]}" -v b="${p1[$name]}" 'BEGIN { print b / a }')"
      fi
    done
    unset t1 p1
  done
  for name in $order; do
    [ -n "${T[$name]:-}" ] || continue
    case " ${T[$name]} " in *" error "*) printf '%-14s %3s %14s\n' "$name" "$t" "error"; continue ;; esac
    tl=$(echo "${T[$name]}" | median); py=$(echo "${P[$name]}" | median)
    ratio=$(echo "${R[$name]:-nan}" | median)
    lo=$(echo "${R[$name]:-nan}" | tr ' ' '\n' | grep -v '^$' | sort -g | head -1)
    hi=$(echo "${R[$name]:-nan}" | tr ' ' '\n' | grep -v '^$' | sort -g | tail -1)
    TL_ALL[$name/$t]=$tl
    awk -v n="$name" -v t="$t" -v a="$tl" -v b="$py" -v q="$ratio" -v lo="$lo" -v hi="$hi" 'BEGIN {
      unit = (a < 1e-3) ? "us" : "ms"; f = (unit == "us") ? 1e6 : 1e3;
      extra = "";
      if (n ~ /^matmul_/) { m = substr(n, 8) + 0; extra = sprintf("  (%.0f vs %.0f GFLOP/s)", 2*m*m*m/a/1e9, 2*m*m*m/b/1e9) }
      printf "%-14s %3s %11.3f %s %11.3f %s %8.2f   %.2f-%.2f%s\n", n, t, a*f, unit, b*f, unit, q, lo, hi, extra }'
  done
  unset T P R
done

# Matmul against the machine itself: the float32 FMA ceiling of these cores
# and the fastest OpenBLAS kernel called directly from C (one process per
# kernel, OPENBLAS_CORETYPE read at load), both measured now.
mm=$(for k in "${!TL_ALL[@]}"; do case $k in matmul_*) echo "$k";; esac; done | sort -t_ -k2 -n)
[ -n "$mm" ] || exit 0
peak=$peer/peak
if [ ! -x "$peak" ] || [ "$here/peak.c" -nt "$peak" ]; then
  cc -O2 -std=c11 -o "$peak" "$here/peak.c" -lopenblas -lpthread
fi
kernels=Haswell
if grep -q avx512f /proc/cpuinfo; then kernels="Haswell SkylakeX"; fi
if grep -q avx512_bf16 /proc/cpuinfo; then kernels="$kernels Cooperlake"; fi
echo
printf '%-14s %3s %10s %22s %8s %12s %8s\n' case thr "tlua" "best OpenBLAS kernel" "ratio" "FMA ceiling" "of it"
for t in $threads; do
  read -r _ fma isa < <("$peak" fma "$t")
  for key in $mm; do
    case $key in */$t) ;; *) continue ;; esac
    name=${key%/*}; n=${name#matmul_}
    best=0; bestk=
    for k in $kernels; do
      read -r _ gf _ < <(OPENBLAS_CORETYPE=$k "$peak" sgemm "$n" "$t")
      if awk -v a="$gf" -v b="$best" 'BEGIN { exit !(a > b) }'; then best=$gf; bestk=$k; fi
    done
    awk -v n="$name" -v t="$t" -v a="${TL_ALL[$key]}" -v m="$n" -v b="$best" -v k="$bestk" \
        -v f="$fma" -v isa="$isa" 'BEGIN {
      g = 2*m*m*m/a/1e9
      printf "%-14s %3s %6.0f GF/s %9.0f GF/s %-9s %8.2f %6.0f GF/s %8.2f\n", n, t, g, b, "(" k ")", g/b, f, g/f }'
  done
done
