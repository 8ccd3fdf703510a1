# PyTorch side of bench/lstm.sh (same cases as lstm_bench.lua): torch.nn.LSTM /
# GRU(16 -> 64, batch_first) on a [32, 20, 16] batch, forward only and
# forward + backward of sum(last output) (weights' gradients).
import sys, torch
torch.set_flush_denormal(True)
torch.set_num_threads(int(sys.argv[1]))
from timing import timeit as _timeit

def timeit(fn): return _timeit(fn, 1.0, warmup=5)

B, T, D, U = 32, 20, 16, 64

def case(cls, backward):
    def run():
        torch.manual_seed(1)
        layer = getattr(torch.nn, cls)(D, U, batch_first=True)
        x = torch.randn(B, T, D)
        if not backward:
            def fwd():
                with torch.no_grad():
                    return layer(x)[0][:, -1]
            return timeit(fwd)
        def step():
            layer.zero_grad(set_to_none=True)
            out = layer(x)[0][:, -1]
            out.sum().backward()
        return timeit(step)
    return run

cases = {"lstm_fwd": case("LSTM", False), "lstm_fwd_bwd": case("LSTM", True),
         "gru_fwd": case("GRU", False), "gru_fwd_bwd": case("GRU", True)}
for name in (sys.argv[2:] or list(cases)):
    print(f"{name} {cases[name]():.9g}", flush=True)
