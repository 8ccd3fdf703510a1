# Shared by the Python peers of bench/trace_step.sh: options, the data pool
# (16 random batches, made before timing), the timing loop and RESULT lines.
import argparse, resource, sys, time


def options(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args()


def pool(batch, seed):
    import numpy as np
    rng = np.random.default_rng(seed)
    return [(rng.random((batch, 784), dtype=np.float32), rng.integers(0, 10, size=batch).astype(np.int32))
            for _ in range(16)]


def run(side, step, batches, steps, sync=lambda r: r):
    # first call (tracing/compiling included), 50 warm-up steps, `steps` timed
    t0 = time.perf_counter()
    sync(step(*batches[0]))
    first = time.perf_counter() - t0
    for i in range(50):
        r = step(*batches[(i + 1) % 16])
    sync(r)
    t0 = time.perf_counter()
    for i in range(steps):
        r = step(*batches[(i + 1) % 16])
    sync(r)
    per = (time.perf_counter() - t0) / steps
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"RESULT {side} step_us {per * 1e6:.2f}")
    print(f"RESULT {side} first_call_ms {first * 1e3:.3f}")
    print(f"RESULT {side} peak_rss_mib {rss:.1f}")
    sys.stdout.flush()
