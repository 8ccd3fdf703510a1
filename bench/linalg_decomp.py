# Peer of bench/linalg_decomp.lua in TensorFlow (CPU, one thread).
import time, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
n, b = 64, 32
r = tf.random.uniform((b, n, n), dtype=tf.float64, seed=1)
spd = tf.matmul(r, r, transpose_b=True) + n * tf.eye(n, dtype=tf.float64)
def t(name, f):
    f()
    ts = []
    for _ in range(5):
        t0 = time.process_time(); f(); ts.append(time.process_time() - t0)
    ts.sort(); print("%s %.6f" % (name, ts[2]))
t("cholesky", lambda: tf.linalg.cholesky(spd).numpy())
t("qr", lambda: [x.numpy() for x in tf.linalg.qr(r)])
t("svd", lambda: [x.numpy() for x in tf.linalg.svd(r)])
t("eigh", lambda: [x.numpy() for x in tf.linalg.eigh(spd)])
