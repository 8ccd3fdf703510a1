# bench/strings_tf.py — the TensorFlow side of bench/strings.sh: the same
# 1,000,000 strings as bench/strings_bench.lua, the same two cases, eager
# and inside tf.function (the faster of the two is reported), on the
# given number of threads. Prints "case seconds".
import os, sys, time
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(threads)
n = int(os.environ.get("STRINGS_N", "1000000"))
words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
lines, x = [], 12345
for i in range(n):
    x = (x * 1103515245 + 12345) % 2147483648
    k = 2 + x % 3
    parts = []
    for j in range(k):
        x = (x * 1103515245 + 12345) % 2147483648
        parts.append(words[x % 10] + str(x % 97))
    lines.append(" ".join(parts))
t = tf.constant(lines)

def split_hash(t):
    r = tf.strings.split(t)
    return tf.strings.to_hash_bucket_fast(r.values, 1000)

def regex(t):
    return tf.strings.regex_replace(t, "[aeiou]+", "_")

def best(fn, min_time=2.0):
    fn(t)
    b = float("inf")
    for _ in range(5):
        it, t0 = 0, time.perf_counter()
        while True:
            fn(t)
            it += 1
            el = time.perf_counter() - t0
            if el >= min_time / 5:
                break
        b = min(b, el / it)
    return b

want = set(sys.argv[2:])
for name, fn in [("split_hash", split_hash), ("regex_replace", regex)]:
    if want and name not in want:
        continue
    print(name, "%.9g" % min(best(fn), best(tf.function(fn))), flush=True)
