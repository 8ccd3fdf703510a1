# TensorFlow peer of bench/seed_fit.lua (bench/seed_run.sh): the seed's
# Fashion-MNIST model trained with model.fit at batch 32 (Keras's default
# graph-compiled train step), validation_data = the 5,000 validation images,
# verbose=2 (one line per epoch, as tlua's fit prints when not on a
# terminal). An epoch is ceil(55000 / 32) = 1719 shuffled batches (the loop
# draws 1718 random ones). The time per epoch is taken by a callback
# (on_epoch_begin .. on_epoch_end, validation included).
#   Note: Keras 3's Nadam uses mu_t = 0.9 (1 - 0.5 0.96^t) (tlua: 0.96^(0.004 t)).
# Usage (TensorFlow venv): seed_fit_tf.py [--epochs 5] [--seed 42] [--threads 2] [--steps N]
import sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from seed_common import options, load_data, report, now
args = options(__doc__)
import numpy as np
import tensorflow as tf
from tensorflow import keras

tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(args.threads)
keras.utils.set_random_seed(args.seed)

X_train, y_train, X_valid, y_valid, X_test, y_test = load_data(args.lean_data)

model = keras.Sequential([
    keras.Input(shape=[28 * 28]),
    keras.layers.Dense(256, activation="relu"),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Nadam(learning_rate=0.01),
              loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = now()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(now() - self.t0)


timer = EpochTimer()
history = model.fit(X_train, y_train, batch_size=32, epochs=args.epochs, validation_data=(X_valid, y_valid),
                    steps_per_epoch=args.steps, verbose=0 if args.quiet else 2, callbacks=[timer])
val_acc = history.history["val_accuracy"][-1]
test_acc = model.evaluate(X_test, y_test, batch_size=32, verbose=0)[1]
print(f"val_accuracy: {val_acc:.4f}  test_accuracy: {test_acc:.4f}")
report("tf_fit", timer.times, val_acc, test_acc)
