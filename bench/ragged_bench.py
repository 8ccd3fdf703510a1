# bench/ragged_bench.py — the TensorFlow peer of bench/ragged_bench.lua
# (same data, same cases); prints "case seconds" (median).
import os, time
import tensorflow as tf

nrows = int(os.environ.get("RAGGED_ROWS", "100000"))
reps = int(os.environ.get("RAGGED_REPS", "7"))
lengths = tf.constant([(i * 7919) % 21 for i in range(nrows)], tf.int64)
nvals = int(tf.reduce_sum(lengths))
values = tf.cast(tf.range(nvals), tf.float32) * 0.001
rt = tf.RaggedTensor.from_row_lengths(values, lengths)
dense = rt.to_tensor()
mask = tf.greater(rt, 0.5)

def bench(name, fn):
    r = fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = fn()
        # eager ops are asynchronous only on GPU; on the CPU this is done
        ts.append(time.perf_counter() - t0)
    ts.sort()
    print("%s %.6f" % (name, ts[(len(ts) - 1) // 2]), flush=True)

bench("from_row_lengths", lambda: tf.RaggedTensor.from_row_lengths(values, lengths))
bench("to_tensor", lambda: rt.to_tensor())
bench("from_tensor_lengths", lambda: tf.RaggedTensor.from_tensor(dense, lengths=lengths))
bench("reduce_sum_1", lambda: tf.reduce_sum(rt, 1))
bench("reduce_max_0", lambda: tf.reduce_max(rt, 0))
bench("reduce_mean_1", lambda: tf.reduce_mean(rt, 1))
bench("add_same_splits", lambda: rt + rt)
bench("concat_1", lambda: tf.concat([rt, rt], 1))
bench("boolean_mask", lambda: tf.ragged.boolean_mask(rt, mask))
bench("gather_rows", lambda: rt[::2])
