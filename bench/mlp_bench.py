# PyTorch side of bench/run.sh --suite autodiff (same cases as mlp_bench.lua).
import sys, torch
import torch.nn.functional as F
torch.set_flush_denormal(True)
torch.set_num_threads(int(sys.argv[1]))
from timing import timeit as _timeit

def timeit(fn, min_time=0.5): return _timeit(fn, min_time, warmup=5)

def mlp(batch):
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.NAdam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 784); y = torch.randint(0, 10, (batch,))
    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return timeit(step)

def add10_notape():
    a, b = torch.rand(10), torch.rand(10)
    def f():
        for _ in range(1000): a * b
    return timeit(f) / 1000
def add10_tape():
    a, b = torch.rand(10, requires_grad=True), torch.rand(10)
    def f():
        for _ in range(1000): a * b
    return timeit(f) / 1000
cases = {"add10_notape": add10_notape, "add10_tape": add10_tape,
         "mlp_step_32": lambda: mlp(32), "mlp_step_256": lambda: mlp(256)}
for name in (sys.argv[2:] or list(cases)):
    print(f"{name} {cases[name]():.9g}", flush=True)
