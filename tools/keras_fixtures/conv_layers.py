# Reference values for tests/spec/keras_conv_spec.lua, computed by Keras
# itself (run with /work/venv-tf/bin/python from the repository root:
# python tools/keras_fixtures/conv_layers.py). Writes
# tests/spec/fixtures/keras/conv_layers.json: per case the layer class and
# its constructor options, the input, the weights set on the built layer
# (random, so biases are not zero), the output, Keras's compute_output_shape
# for an unknown batch, and a few get_config entries.
import json, os
import numpy as np
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras

rng = np.random.RandomState(4321)
L = keras.layers
cases = [
    ("Conv2D", dict(filters=4, kernel_size=3, padding="same", activation="relu"), (2, 7, 6, 3)),
    ("Conv2D", dict(filters=5, kernel_size=(3, 2), strides=2, padding="same"), (2, 7, 6, 3)),
    ("Conv2D", dict(filters=3, kernel_size=3, dilation_rate=2), (2, 9, 8, 2)),
    ("Conv2D", dict(filters=4, kernel_size=1, use_bias=False), (2, 5, 5, 3)),
    ("Conv2D", dict(filters=4, kernel_size=(2, 3), strides=(1, 2), activation="tanh"), (3, 6, 9, 2)),
    ("Conv1D", dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2), (2, 10, 3)),
    ("Conv1D", dict(filters=4, kernel_size=3, strides=2, padding="same"), (2, 9, 3)),
    ("Conv1D", dict(filters=2, kernel_size=4), (2, 9, 3)),
    ("Conv2DTranspose", dict(filters=6, kernel_size=3, strides=2, padding="same"), (2, 4, 5, 3)),
    ("Conv2DTranspose", dict(filters=6, kernel_size=3, strides=2, padding="valid"), (2, 4, 5, 3)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=4, strides=2, padding="same"), (2, 4, 5, 3)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same", output_padding=1), (2, 4, 5, 3)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=(2, 3), strides=(3, 1), padding="valid"), (2, 4, 5, 3)),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2, padding="same"), (2, 7, 6, 3)),
    ("DepthwiseConv2D", dict(kernel_size=(2, 3), strides=2), (2, 7, 6, 3)),
    ("MaxPooling2D", dict(), (2, 7, 6, 3)),
    ("MaxPooling2D", dict(pool_size=3, strides=2, padding="same"), (2, 7, 6, 3)),
    ("AveragePooling2D", dict(pool_size=3, strides=2, padding="same"), (2, 7, 6, 3)),
    ("AveragePooling2D", dict(pool_size=(2, 3), strides=(1, 2)), (2, 7, 6, 3)),
    ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same"), (2, 9, 3)),
    ("AveragePooling1D", dict(pool_size=2), (2, 9, 3)),
    ("AveragePooling1D", dict(pool_size=3, strides=1, padding="same"), (2, 9, 3)),
    ("GlobalAveragePooling2D", dict(), (2, 7, 6, 3)),
    ("GlobalMaxPooling2D", dict(keepdims=True), (2, 7, 6, 3)),
    ("GlobalAveragePooling1D", dict(), (2, 9, 3)),
    ("GlobalMaxPooling1D", dict(), (2, 9, 3)),
]
CONFIG_KEYS = ["kernel_size", "strides", "padding", "dilation_rate", "pool_size", "data_format", "keepdims",
               "depth_multiplier", "filters", "output_padding", "use_bias"]
out = []
for cls, kw, shape in cases:
    layer = getattr(L, cls)(**kw)
    x = rng.randn(*shape).astype(np.float32)
    layer.build(shape)
    ws = [rng.randn(*w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()]
    layer.set_weights(ws)
    y = np.asarray(layer(x))
    cfg = layer.get_config()
    out.append(dict(cls=cls, options=kw, input_shape=list(shape), x=x.ravel().tolist(),
                    weights=[dict(shape=list(w.shape), values=w.ravel().tolist()) for w in ws],
                    y_shape=list(y.shape), y=y.ravel().tolist(),
                    output_shape=[None if d is None else int(d) for d in layer.compute_output_shape((None,) + shape[1:])],
                    config={k: cfg[k] for k in CONFIG_KEYS if k in cfg}))
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "spec", "fixtures", "keras", "conv_layers.json")
with open(path, "w") as f:
    json.dump(dict(keras_version=keras.__version__, cases=out), f)
print("wrote", os.path.normpath(path), len(out), "cases")
