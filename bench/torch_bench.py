# PyTorch side of bench/run.sh: prints "case seconds_per_iteration" lines.
import sys, torch
torch.set_flush_denormal(True)
n_threads = int(sys.argv[1])
torch.set_num_threads(n_threads)
from timing import timeit

def add_10():
    a, b = torch.rand(10), torch.rand(10)
    def f():
        for _ in range(1000): torch.add(a, b)
    return timeit(f) / 1000
def add_1e7():
    a, b = torch.rand(10_000_000), torch.rand(10_000_000)
    return timeit(lambda: a + b)
def bcast_add():
    a, b = torch.rand(1000, 1000), torch.rand(1000)
    return timeit(lambda: a + b)
def sum_1e7():
    a = torch.rand(10_000_000)
    return timeit(lambda: a.sum())
def softmax_1000():
    a = torch.randn(1000, 1000)
    return timeit(lambda: torch.softmax(a, -1))
def mm(n):
    a, b = torch.randn(n, n), torch.randn(n, n)
    return lambda: timeit(lambda: a @ b, 1.0 if n >= 2048 else 0.3)
cases = {"add_10": add_10, "add_1e7": add_1e7, "bcast_add": bcast_add, "sum_1e7": sum_1e7,
         "softmax_1000": softmax_1000, "matmul_256": mm(256), "matmul_1024": mm(1024), "matmul_2048": mm(2048)}
want = sys.argv[2:] or list(cases)
for name in want:
    print(f"{name} {cases[name]():.9g}", flush=True)
