#!/bin/sh
# tf.einsum("bhqd,bhkd->bhqk") on [8,8,128,64] x [8,8,128,64], tlua vs TensorFlow.
# Run: bench/math_extra.sh [path/to/tlua]
TLUA=${1:-build/tlua}
N=50
T=$($TLUA -e "
local q, k = tf.random.normal({8,8,128,64}), tf.random.normal({8,8,128,64})
tf.einsum('bhqd,bhkd->bhqk', q, k)
local t0 = tf.core.now()
for _ = 1, $N do tf.einsum('bhqd,bhkd->bhqk', q, k) end
print((tf.core.now() - t0) / $N * 1e3)" 2>&1)
echo "tlua einsum: $T ms"
PY=/work/venv-tf/bin/python
if [ ! -x $PY ]; then echo "TensorFlow peer skipped: $PY not found"; exit 0; fi
P=$($PY -c "
import time, tensorflow as tf
q, k = tf.random.normal([8,8,128,64]), tf.random.normal([8,8,128,64])
tf.einsum('bhqd,bhkd->bhqk', q, k)
t0 = time.perf_counter()
for _ in range($N): tf.einsum('bhqd,bhkd->bhqk', q, k).numpy()
print((time.perf_counter() - t0) / $N * 1e3)" 2>/dev/null | tail -1)
echo "tensorflow einsum: $P ms"
echo "ratio tlua/tf: $(echo "$T / $P" | bc -l | cut -c1-5)"
