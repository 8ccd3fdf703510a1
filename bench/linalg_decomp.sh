#!/bin/sh
# tlua vs TensorFlow on batched decompositions; prints tlua/TF time ratios.
# Usage: bench/linalg_decomp.sh [build-dir]   (TF from /work/venv-tf if present)
here=$(dirname "$0"); build=${1:-$here/../build}
"$build/tlua" "$here/linalg_decomp.lua" > /tmp/tlua_decomp.$$ || exit 1
py=/work/venv-tf/bin/python
if [ ! -x "$py" ]; then echo "TensorFlow venv not found: tlua only"; cat /tmp/tlua_decomp.$$; rm -f /tmp/tlua_decomp.$$; exit 0; fi
TF_CPP_MIN_LOG_LEVEL=3 "$py" "$here/linalg_decomp.py" > /tmp/tf_decomp.$$ 2>/dev/null || { echo "TensorFlow run failed"; exit 1; }
join /tmp/tlua_decomp.$$ /tmp/tf_decomp.$$ | awk '{printf "%-9s tlua %.4fs  tf %.4fs  ratio %.2f\n", $1, $2, $3, $2 / $3}'
rm -f /tmp/tlua_decomp.$$ /tmp/tf_decomp.$$
