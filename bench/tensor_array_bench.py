# bench/tensor_array_bench.py — TensorFlow's side of bench/tensor_array_bench.lua.
import sys, time
import tensorflow as tf
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
d, reps = 64, 5
def median(f):
    t = []
    for _ in range(reps):
        t0 = time.process_time(); f(); t.append(time.process_time() - t0)
    return sorted(t)[(reps - 1) // 2]
v = tf.ones([d])
def eager():
    ta = tf.TensorArray(tf.float32, size=n)
    for i in range(n): ta = ta.write(i, v)
    return ta.stack().numpy()
@tf.function
def loop(x, k):
    ta = tf.TensorArray(tf.float32, size=k)
    _, ta = tf.while_loop(lambda i, t: i < k, lambda i, t: (i + 1, t.write(i, x * tf.cast(i, tf.float32))), [0, ta])
    return ta.stack()
@tf.function
def grad(x, k):
    with tf.GradientTape() as tape:
        tape.watch(x)
        ta = tf.TensorArray(tf.float32, size=k)
        _, ta = tf.while_loop(lambda i, t: i < k, lambda i, t: (i + 1, t.write(i, x * tf.cast(i, tf.float32))), [0, ta])
        s = tf.reduce_sum(ta.stack())
    return tape.gradient(s, x)
k = tf.constant(n)
loop(v, k); grad(v, k)
print("eager_write_stack %.6f" % median(eager))
print("traced_loop_write_stack %.6f" % median(lambda: loop(v, k).numpy()))
print("traced_loop_gradient %.6f" % median(lambda: grad(v, k).numpy()))
