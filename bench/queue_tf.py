# bench/queue_tf.py — TensorFlow's tf.queue.FIFOQueue (eager) with one
# producer thread and one consumer thread, the peer of bench/queue_bench.lua:
#   c_to_lua       a producer thread enqueuing scalar int64s, the main thread
#                  dequeuing one at a time
#   c_to_lua_b100  the same with dequeue_many(100)
# Prints "case elements_per_second". Usage: python queue_tf.py [n]
import os, sys, threading, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000


def run(batch):
    q = tf.queue.FIFOQueue(1024, [tf.int64], shapes=[[]])
    one = tf.constant(1, tf.int64)
    q.enqueue(one); q.dequeue()  # warm up the op kernels

    def produce():
        for _ in range(n):
            q.enqueue(one)

    t0 = time.perf_counter()
    th = threading.Thread(target=produce)
    th.start()
    if batch == 1:
        for _ in range(n):
            q.dequeue()
    else:
        for _ in range(n // batch):
            q.dequeue_many(batch)
    th.join()
    return (n // batch * batch) / (time.perf_counter() - t0)


r1 = run(1)
print("c_to_lua %.0f" % r1, flush=True)
print("c_to_lua_shared %.0f" % r1, flush=True)
print("c_to_lua_b100 %.0f" % run(100), flush=True)
