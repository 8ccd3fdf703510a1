# Shared by the Python peers of bench/seed_run.sh (seed_loop_torch.py,
# seed_loop_tf.py, seed_fit_tf.py): options, the Fashion-MNIST IDX reader,
# the seed chapter's data preparation, the status bar and the peak RSS.
#
# The data preparation is the seed's own code (X / 255.0 in NumPy's float64,
# then the split, then .astype(np.float32) per split), so the peers' memory
# is that of "the same script"; --lean-data converts each split straight to
# float32 instead (what a careful script would do) for comparison.
import argparse, gzip, os, struct, sys, time
import numpy as np

DATA_DIR = os.environ.get("TLUA_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def options(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--steps", type=int, default=None, help="steps per epoch (default len(X_train) // 32 = 1718)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lean-data", action="store_true", help="convert each split to float32 directly")
    p.add_argument("--quiet", action="store_true", help="no status bar")
    return p.parse_args()


def read_idx(name):
    path = os.path.join(DATA_DIR, name)
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_data(lean=False):
    X_train_full = read_idx("train-images-idx3-ubyte.gz")
    y_train_full = read_idx("train-labels-idx1-ubyte.gz").astype(np.int64)
    X_test = read_idx("t10k-images-idx3-ubyte.gz")
    y_test = read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)
    if lean:
        def prep(X): return (X.reshape(-1, 28 * 28).astype(np.float32) / np.float32(255.0))
        X_valid, X_train = prep(X_train_full[:5000]), prep(X_train_full[5000:])
        X_test = prep(X_test)
    else:  # the seed chapter, line by line
        X_train_full = X_train_full / 255.0
        X_test = X_test / 255.0
        X_valid, X_train = X_train_full[:5000], X_train_full[5000:]
        X_train = X_train.reshape(-1, 28 * 28).astype(np.float32)
        X_valid = X_valid.reshape(-1, 28 * 28).astype(np.float32)
        X_test = X_test.reshape(-1, 28 * 28).astype(np.float32)
    y_valid, y_train = y_train_full[:5000], y_train_full[5000:]
    return X_train, y_train, X_valid, y_valid, X_test, y_test


def status_bar(iteration, total, pairs, quiet=False):
    if quiet and iteration < total:
        return
    s = " - ".join("{}: {:.4f}".format(n, v) for n, v in pairs)
    end = "" if iteration < total else "\n"
    sys.stdout.write(f"\r{iteration}/{total} - {s}{end}")
    if end:
        sys.stdout.flush()


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def report(side, epoch_times, val_acc, test_acc=None):
    # Machine-readable lines for bench/seed_run.sh.
    for i, t in enumerate(epoch_times, 1):
        print(f"RESULT {side} epoch_s {i} {t:.4f}")
    print(f"RESULT {side} val_accuracy {val_acc:.6f}")
    if test_acc is not None:
        print(f"RESULT {side} test_accuracy {test_acc:.6f}")
    print(f"RESULT {side} peak_rss_mib {peak_rss_mib():.1f}")
    sys.stdout.flush()


now = time.perf_counter
