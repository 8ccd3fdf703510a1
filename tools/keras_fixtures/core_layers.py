"""Reference values for tests/spec/keras_core_layers_spec.lua, from Keras 3.

Run: /work/venv-tf/bin/python tools/keras_fixtures/core_layers.py
Writes tests/spec/fixtures/keras/core_layers.json: fixed inputs and weights,
the outputs Keras computes from them (Dense with every builtin activation,
rank-3 Dense, Embedding, activations with options, regularizer penalties,
layer losses, constraints) and a few configs.
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras

rng = np.random.default_rng(1234)
out = {"keras_version": keras.__version__}


def arr(a):
    return np.asarray(a, dtype=np.float64).tolist()


x = rng.normal(size=(4, 5)).astype("float32")
kernel = rng.normal(scale=0.5, size=(5, 3)).astype("float32")
bias = rng.normal(scale=0.1, size=(3,)).astype("float32")
out["x"] = arr(x)
out["kernel"] = arr(kernel)
out["bias"] = arr(bias)

acts = ["linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign",
        "swish", "silu", "gelu", "exponential", "leaky_relu", "relu6", "hard_sigmoid", "log_softmax",
        "hard_silu", "mish"]
dense = {}
for a in acts:
    layer = keras.layers.Dense(3, activation=a)
    layer.build((None, 5))
    layer.set_weights([kernel, bias])
    dense[a] = arr(layer(x))
out["dense"] = dense

layer = keras.layers.Dense(3, use_bias=False)
layer.build((None, 5))
layer.set_weights([kernel])
out["dense_no_bias"] = arr(layer(x))

x3 = rng.normal(size=(2, 3, 5)).astype("float32")
layer = keras.layers.Dense(3, activation="relu")
layer.build((None, 3, 5))
layer.set_weights([kernel, bias])
out["x3"] = arr(x3)
out["dense_rank3"] = arr(layer(x3))

# activations with options, on a vector
v = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 7.0], dtype="float32")
out["v"] = arr(v)
A = keras.activations
out["act"] = {
    "relu_slope": arr(A.relu(v, negative_slope=0.1)),
    "relu_max": arr(A.relu(v, max_value=2.0)),
    "relu_threshold": arr(A.relu(v, threshold=0.7)),
    "relu_all": arr(A.relu(v, negative_slope=0.1, max_value=2.0, threshold=0.5)),
    "elu_alpha": arr(A.elu(v, alpha=0.5)),
    "gelu_approx": arr(A.gelu(v, approximate=True)),
    "gelu": arr(A.gelu(v, approximate=False)),
    "leaky_relu": arr(A.leaky_relu(v)),
    "leaky_relu_03": arr(A.leaky_relu(v, negative_slope=0.3)),
    "hard_sigmoid": arr(A.hard_sigmoid(v)),
}

# Embedding
emb_w = rng.normal(size=(6, 4)).astype("float32")
idx = np.array([[0, 1, 5], [2, 0, 3]], dtype="int32")
layer = keras.layers.Embedding(6, 4, mask_zero=True)
layer.build((None, 3))
layer.set_weights([emb_w])
out["embedding"] = {"weights": arr(emb_w), "indices": idx.tolist(), "output": arr(layer(idx)),
                    "mask": np.asarray(layer.compute_mask(idx)).tolist()}

# regularizers
R = keras.regularizers
out["reg"] = {
    "l1": float(R.L1(0.01)(kernel)), "l2": float(R.L2(0.01)(kernel)),
    "l1l2": float(R.L1L2(l1=0.02, l2=0.03)(kernel)),
    "l1_l2_default": float(R.l1_l2()(kernel)),
    "l2_default_config": R.get("l2").get_config(),
    "l1l2_class_default": R.L1L2().get_config(),
}
layer = keras.layers.Dense(3, kernel_regularizer=R.L2(0.05), bias_regularizer=R.L1(0.1),
                           activity_regularizer=R.L1(0.01))
layer.build((None, 5))
layer.set_weights([kernel, bias])
y = layer(x)
out["dense_losses"] = [float(t) for t in layer.losses]

# constraints
C = keras.constraints
w = rng.normal(size=(4, 3)).astype("float32") * 2
out["constraints"] = {
    "w": arr(w),
    "max_norm": arr(C.MaxNorm(max_value=1.5)(w)),
    "max_norm_axis1": arr(C.MaxNorm(max_value=1.0, axis=1)(w)),
    "non_neg": arr(C.NonNeg()(w)),
    "unit_norm": arr(C.UnitNorm()(w)),
    "unit_norm_axis1": arr(C.UnitNorm(axis=1)(w)),
    "min_max_norm": arr(C.MinMaxNorm(min_value=0.5, max_value=1.2, rate=0.7)(w)),
}

# shapes
out["shapes"] = {
    "flatten": list(keras.layers.Flatten().compute_output_shape((None, 3, 4))),
    "reshape": list(keras.layers.Reshape((2, -1)).compute_output_shape((None, 3, 4))),
    "embedding": list(keras.layers.Embedding(6, 4).compute_output_shape((None, 7))),
    "dense": list(keras.layers.Dense(7).compute_output_shape((None, 3, 5))),
}

# variance scaling parameters (stddev / limit) through the initializers' formulas
out["fans"] = {}
for shape in [(784, 256), (3, 3, 16, 32), (10,), ()]:
    fi, fo = keras.src.initializers.random_initializers.compute_fans(shape)
    out["fans"]["x".join(map(str, shape)) or "scalar"] = [fi, fo]

cfg = keras.layers.Dense(3, activation="relu").get_config()
out["dense_config_keys"] = sorted(cfg.keys())

path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "spec", "fixtures", "keras", "core_layers.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
print("wrote", os.path.normpath(path))
