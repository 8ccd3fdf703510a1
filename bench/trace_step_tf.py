# TensorFlow peer of bench/trace_step_keras.lua: the seed's step in @tf.function
# (Keras Sequential 784-256-128-10, Nadam 0.01, SparseCategoricalCrossentropy,
# Mean + SparseCategoricalAccuracy), batch 32, random data pool as tensors.
#   /work/venv-tf/bin/python bench/trace_step_tf.py [--steps 2000] [--threads 2]
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from trace_step_common import options, pool, run
args = options(__doc__)
import tensorflow as tf
from tensorflow import keras
tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(args.threads)
keras.utils.set_random_seed(args.seed)
model = keras.Sequential([
    keras.Input(shape=[784]),
    keras.layers.Dense(256, activation="relu"),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
optimizer = keras.optimizers.Nadam(learning_rate=0.01)
loss_fn = keras.losses.SparseCategoricalCrossentropy()
mean_loss = keras.metrics.Mean(name="mean_loss")
accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")


@tf.function
def step(X_batch, y_batch):
    with tf.GradientTape() as tape:
        y_pred = model(X_batch, training=True)
        loss = tf.add_n([loss_fn(y_batch, y_pred)] + model.losses)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    mean_loss(loss)
    accuracy(y_batch, y_pred)
    return loss


batches = [(tf.constant(X), tf.constant(y)) for X, y in pool(args.batch, args.seed)]
run("tf_function", step, batches, args.steps, sync=lambda r: r.numpy())
