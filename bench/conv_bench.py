# PyTorch side of bench/run.sh --suite conv (see conv_bench.lua): the same
# 3x3 convolution in PyTorch's preferred NCHW layout, and in channels_last
# (NHWC in memory, as tlua); forward alone and forward + backward for a
# given output gradient. Prints "case seconds_per_iteration" lines.
import sys, torch
import torch.nn.functional as F
torch.set_flush_denormal(True)
torch.set_num_threads(int(sys.argv[1]))
from timing import timeit

torch.manual_seed(1)
def inputs(cl):
    x = torch.randn(32, 32, 28, 28)
    w = torch.randn(32, 32, 3, 3) * 0.1
    dy = torch.randn(32, 32, 28, 28)
    if cl:
        x, w, dy = (t.contiguous(memory_format=torch.channels_last) for t in (x, w, dy))
    return x, w, dy

def fwd(cl):
    x, w, _ = inputs(cl)
    def f():
        with torch.no_grad(): return F.conv2d(x, w, padding=1)
    return lambda: timeit(f, 1.0, 3)

def fwd_bwd(cl):
    x, w, dy = inputs(cl)
    x.requires_grad_(True); w.requires_grad_(True)
    def f():
        y = F.conv2d(x, w, padding=1)
        return torch.autograd.grad(y, (x, w), dy)
    return lambda: timeit(f, 1.0, 3)

def pool():
    x = torch.randn(32, 32, 28, 28, requires_grad=True)
    g = torch.randn(32, 32, 14, 14)
    def f():
        y = F.max_pool2d(x, 2, 2)
        return torch.autograd.grad(y, (x,), g)
    return timeit(f, 1.0, 3)

cases = {"conv3x3_fwd": fwd(False), "conv3x3_fwd_bwd": fwd_bwd(False),
         "conv3x3_fwd_cl": fwd(True), "conv3x3_fwd_bwd_cl": fwd_bwd(True),
         "maxpool2x2_fwd_bwd": pool}
want = sys.argv[2:] or list(cases)
for name in want:
    if name in cases:
        print(f"{name} {cases[name]():.9g}", flush=True)
