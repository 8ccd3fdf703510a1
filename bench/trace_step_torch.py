# PyTorch eager peer of bench/trace_step_keras.lua: the seed's step (784-256-128-10,
# Glorot-uniform kernels, zero biases, NAdam lr 0.01 momentum_decay 0.004,
# sparse categorical crossentropy on probabilities, running mean loss and
# accuracy kept as tensors like Keras metrics), batch 32, random data pool.
#   /usr/bin/python3 bench/trace_step_torch.py [--steps 2000] [--threads 2]
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trace_step_common import options, pool, run
args = options(__doc__)
import torch
torch.set_flush_denormal(True)
torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)


def dense(n_in, n_out):
    lin = torch.nn.Linear(n_in, n_out)
    torch.nn.init.xavier_uniform_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    return lin


model = torch.nn.Sequential(dense(784, 256), torch.nn.ReLU(), dense(256, 128), torch.nn.ReLU(),
                            dense(128, 10), torch.nn.Softmax(dim=1))
opt = torch.optim.NAdam(model.parameters(), lr=0.01, eps=1e-7, momentum_decay=0.004)
EPS = 1e-7
loss_total, loss_count = torch.zeros(()), torch.zeros(())
acc_total, acc_count = torch.zeros(()), torch.zeros(())


def step(X, y):
    y_pred = model(X)
    loss = -torch.log(y_pred.gather(1, y[:, None].long()).clamp(EPS, 1 - EPS)).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    with torch.no_grad():
        loss_total.add_(loss)
        loss_count.add_(1)
        acc_total.add_((y_pred.argmax(1) == y).float().sum())
        acc_count.add_(len(y))
    return loss


batches = [(torch.from_numpy(X), torch.from_numpy(y)) for X, y in pool(args.batch, args.seed)]
run("torch", step, batches, args.steps)
