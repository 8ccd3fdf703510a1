# Shared by the PyTorch sides of bench/run.sh: the same measurement as
# bench/common.lua (warm-up calls, then the best of five timed batches).
import time

now = time.perf_counter

def timeit(fn, min_time=0.3, warmup=2):
    for _ in range(warmup): fn()
    best = float("inf")
    for _ in range(5):
        iters, t0 = 0, now()
        while True:
            fn(); iters += 1
            el = now() - t0
            if el >= min_time / 5: break
        best = min(best, el / iters)
    return best
