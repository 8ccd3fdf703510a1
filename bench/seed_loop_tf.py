# TensorFlow peer of examples/seed_09_custom_loop.lua (bench/seed_run.sh): the
# seed chapter's custom training loop with its step compiled by tf.function.
#   The seed's model (Dense 256 relu / 128 relu / 10 softmax, Keras's default
#   Glorot-uniform kernels and zero biases), keras.optimizers.Nadam(0.01),
#   SparseCategoricalCrossentropy, keras.metrics.Mean + SparseCategoricalAccuracy,
#   random batches of 32 with replacement, 1718 steps per epoch, the status
#   bar every step, metrics reset per epoch; accuracy on the whole validation
#   set (batches of 32, also a tf.function) at each epoch end.
#   Note: Keras 3's Nadam (the one installed) uses the momentum schedule
#   mu_t = 0.9 (1 - 0.5 0.96^t); tf.keras 2, tlua and PyTorch use 0.96^(0.004 t).
# Usage (TensorFlow venv): seed_loop_tf.py [--epochs 5] [--seed 42] [--steps N] [--threads 2]
import sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from seed_common import options, load_data, status_bar, report, now
args = options(__doc__)
import numpy as np
import tensorflow as tf
from tensorflow import keras

tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(args.threads)
keras.utils.set_random_seed(args.seed)
rng = np.random.default_rng(args.seed)

X_train, y_train, X_valid, y_valid, X_test, y_test = load_data(args.lean_data)

model = keras.Sequential([
    keras.Input(shape=[28 * 28]),
    keras.layers.Dense(256, activation="relu"),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
optimizer = keras.optimizers.Nadam(learning_rate=0.01)
loss_fn = keras.losses.SparseCategoricalCrossentropy()
mean_loss = keras.metrics.Mean(name="mean_loss")
mean_accuracy = keras.metrics.SparseCategoricalAccuracy(name="mean_accuracy")
val_accuracy = keras.metrics.SparseCategoricalAccuracy(name="val_accuracy")


@tf.function
def train_step(X_batch, y_batch):
    with tf.GradientTape() as tape:
        y_pred = model(X_batch, training=True)
        main_loss = loss_fn(y_batch, y_pred)
        loss = tf.add_n([main_loss] + model.losses)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    mean_loss(loss)
    mean_accuracy(y_batch, y_pred)


@tf.function
def val_step(X_batch, y_batch):
    val_accuracy(y_batch, model(X_batch))


def random_batch(X, y, batch_size=32):
    idx = rng.integers(len(X), size=batch_size)
    return X[idx], y[idx]


def accuracy(X, y, batch_size=32):
    val_accuracy.reset_state()
    for i in range(0, len(X), batch_size):
        val_step(X[i:i + batch_size], y[i:i + batch_size])
    return float(val_accuracy.result())


n_epochs = args.epochs
n_steps = args.steps or len(X_train) // 32
times, val_acc = [], float("nan")
for epoch in range(1, n_epochs + 1):
    print(f"Epoch {epoch}/{n_epochs}")
    t0 = now()
    for step in range(1, n_steps + 1):
        X_batch, y_batch = random_batch(X_train, y_train)
        train_step(X_batch, y_batch)
        status_bar(step, n_steps, [(m.name, float(m.result())) for m in (mean_loss, mean_accuracy)], args.quiet)
    val_acc = accuracy(X_valid, y_valid)
    times.append(now() - t0)
    print(f"val_accuracy: {val_acc:.4f} - {times[-1]:.2f} s")
    mean_loss.reset_state()
    mean_accuracy.reset_state()
test_acc = accuracy(X_test, y_test)
print(f"test_accuracy: {test_acc:.4f}")
report("tf_loop", times, val_acc, test_acc)
