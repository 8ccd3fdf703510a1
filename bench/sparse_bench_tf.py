"""bench/sparse_bench_tf.py — the TensorFlow side of bench/sparse.sh:
tf.sparse.sparse_dense_matmul of an n x n matrix with the given density
(distinct random positions, sorted) by an n x cols dense matrix, and
tf.matmul of the same matrices dense. Prints "name seconds" (the best of rounds).
Usage: python bench/sparse_bench_tf.py n density cols rounds threads"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

n, density, cols, rounds, threads = (int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                                     int(sys.argv[5]))
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
nnz = int(n * n * density)
rng = np.random.default_rng(1)
keys = np.sort(rng.choice(n * n, size=nnz, replace=False))
indices = np.stack([keys // n, keys % n], axis=1).astype(np.int64)
a = tf.sparse.SparseTensor(indices, rng.random(nnz, dtype=np.float32), [n, n])
b = tf.constant(rng.random((n, cols), dtype=np.float32))


def timeit(f, r):
    f().numpy()
    ts = []
    for _ in range(r):
        t0 = time.perf_counter()
        f().numpy()
        ts.append(time.perf_counter() - t0)
    return min(ts)


print("sparse_dense_matmul %.6f" % timeit(lambda: tf.sparse.sparse_dense_matmul(a, b), rounds))
dense = tf.sparse.to_dense(a)
print("dense_matmul %.6f" % timeit(lambda: tf.matmul(dense, b), max(3, rounds // 5)))
