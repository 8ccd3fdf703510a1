# PyTorch peer of examples/seed_09_custom_loop.lua (bench/seed_run.sh): the
# seed chapter's custom training loop on Fashion-MNIST, eager PyTorch.
#   Dense 784-256 relu, 256-128 relu, 128-10 softmax; Glorot-uniform kernels
#   and zero biases (set explicitly: PyTorch's own default init differs);
#   Nadam(lr=0.01) as tf.keras 2 defines it (torch.optim.NAdam with
#   momentum_decay=0.004 is the same schedule mu_t = 0.9 (1 - 0.5 0.96^(0.004 t));
#   eps=1e-7 as Keras); SparseCategoricalCrossentropy on the softmax
#   probabilities (clipped to [1e-7, 1 - 1e-7] as Keras does); random batches
#   of 32 drawn with replacement; 1718 steps per epoch; mean loss and accuracy
#   reset per epoch; accuracy on the whole validation set (batches of 32) at
#   each epoch end.
# Usage: seed_loop_torch.py [--epochs 5] [--seed 42] [--steps N] [--threads 2]
import sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
import torch
from seed_common import options, load_data, status_bar, report, now

args = options(__doc__)
torch.set_flush_denormal(True)
torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)

X_train, y_train, X_valid, y_valid, X_test, y_test = load_data(args.lean_data)


def dense(n_in, n_out):
    lin = torch.nn.Linear(n_in, n_out)
    torch.nn.init.xavier_uniform_(lin.weight)  # Glorot uniform: limit sqrt(6 / (fan_in + fan_out))
    torch.nn.init.zeros_(lin.bias)
    return lin


model = torch.nn.Sequential(dense(784, 256), torch.nn.ReLU(), dense(256, 128), torch.nn.ReLU(),
                            dense(128, 10), torch.nn.Softmax(dim=1))
optimizer = torch.optim.NAdam(model.parameters(), lr=0.01, eps=1e-7, momentum_decay=0.004)
EPS = 1e-7


def loss_fn(y, p):  # keras.losses.SparseCategoricalCrossentropy() on probabilities
    return -torch.log(p.gather(1, y[:, None]).clamp(EPS, 1 - EPS)).mean()


def random_batch(X, y, batch_size=32):
    idx = rng.integers(len(X), size=batch_size)
    return torch.from_numpy(X[idx]), torch.from_numpy(y[idx])


def accuracy(X, y, batch_size=32):
    correct = 0
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            p = model(torch.from_numpy(X[i:i + batch_size]))
            correct += (p.argmax(1) == torch.from_numpy(y[i:i + batch_size])).sum().item()
    return correct / len(X)


n_epochs = args.epochs
n_steps = args.steps or len(X_train) // 32
times, val_acc = [], float("nan")
for epoch in range(1, n_epochs + 1):
    print(f"Epoch {epoch}/{n_epochs}")
    t0 = now()
    loss_sum, correct, seen = 0.0, 0, 0
    for step in range(1, n_steps + 1):
        X_batch, y_batch = random_batch(X_train, y_train)
        y_pred = model(X_batch)
        loss = loss_fn(y_batch, y_pred)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item()
        correct += (y_pred.argmax(1) == y_batch).sum().item()
        seen += len(y_batch)
        status_bar(step, n_steps, [("mean_loss", loss_sum / step), ("mean_accuracy", correct / seen)], args.quiet)
    val_acc = accuracy(X_valid, y_valid)
    times.append(now() - t0)
    print(f"val_accuracy: {val_acc:.4f} - {times[-1]:.2f} s")
test_acc = accuracy(X_test, y_test)
print(f"test_accuracy: {test_acc:.4f}")
report("torch", times, val_acc, test_acc)
