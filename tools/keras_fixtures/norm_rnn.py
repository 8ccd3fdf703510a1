# Reference values for tests/spec/keras_norm_merge_spec.lua and
# tests/spec/keras_rnn_spec.lua, computed by Keras itself (TensorFlow
# backend, float32, CPU): each case builds a layer, sets known weights with
# set_weights, runs known inputs and records the outputs, the variables
# after the call (BatchNormalization's moving statistics) and the gradients
# of loss = sum(output * coef) (coef fixed random; several outputs each get
# their own coef) w.r.t. every input and every trainable weight, from
# tf.GradientTape.
#
#   /work/venv-tf/bin/python tools/keras_fixtures/norm_rnn.py
#     -> tests/spec/fixtures/keras/norm_rnn.json
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import numpy as np
import tensorflow as tf
import keras

rng = np.random.default_rng(20261203)


def rnd(*shape, scale=1.0, offset=0.0):
    return (rng.standard_normal(shape) * scale + offset).astype(np.float32)


def tolist(a):
    return np.asarray(a, dtype=np.float64).tolist()


def run_case(name, layer, inputs, weights=None, call_kwargs=None, multi_input=False, masks=None):
    call_kwargs = dict(call_kwargs or {})
    xs = [tf.constant(x) for x in inputs]
    if masks is not None and multi_input:
        # Keras masks ride on the tensors (what an Embedding(mask_zero) would set).
        for x, m in zip(xs, masks):
            if m is not None:
                keras.src.backend.set_keras_mask(x, tf.constant(m))
    elif masks is not None:
        call_kwargs["mask"] = tf.constant(masks[0])
    arg = xs if multi_input else xs[0]
    if not layer.built:
        layer.build([tuple(x.shape) for x in xs] if multi_input else tuple(xs[0].shape))
    if weights is not None:
        layer.set_weights(weights)
    w_before = [v.numpy() for v in layer.weights]
    with tf.GradientTape(persistent=True) as tape:
        for x in xs:
            tape.watch(x)
        out = layer(arg, **call_kwargs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        coefs = [rnd(*o.shape) for o in outs]
        loss = tf.add_n([tf.reduce_sum(o * c) for o, c in zip(outs, coefs)])
    tw = layer.trainable_weights
    g_in = tape.gradient(loss, xs)
    g_w = tape.gradient(loss, tw)
    case = {
        "inputs": [tolist(x) for x in inputs],
        "input_shapes": [list(x.shape) for x in inputs],
        "weights": [tolist(w) for w in w_before],
        "weight_names": [v.path for v in layer.weights],
        "outputs": [tolist(o) for o in outs],
        "output_shapes": [list(o.shape) for o in outs],
        "coefs": [tolist(c) for c in coefs],
        "loss": float(loss),
        "grad_inputs": [tolist(g) for g in g_in],
        "grad_weights": [tolist(g) for g in g_w],
        "trainable_count": len(tw),
        "weights_after": [tolist(v.numpy()) for v in layer.weights],
    }
    if masks is not None:
        case["masks"] = [None if m is None else np.asarray(m).tolist() for m in masks]
        if multi_input:
            cm = layer.compute_mask(xs, [None if m is None else tf.constant(m) for m in masks])
            case["output_mask"] = None if cm is None else np.asarray(cm).tolist()
    del tape
    return name, case


cases = {}


def add(name_case):
    name, case = name_case
    cases[name] = case


L = keras.layers

# --- BatchNormalization -------------------------------------------------
x = rnd(6, 4, scale=2.0, offset=0.5)
bn_w = [rnd(4, scale=0.5, offset=1.0), rnd(4, scale=0.3), rnd(4, scale=0.2),
        np.abs(rnd(4, scale=0.5, offset=1.0))]
add(run_case("bn_train", L.BatchNormalization(momentum=0.9), [x], bn_w, {"training": True}))
add(run_case("bn_infer", L.BatchNormalization(momentum=0.9), [x], bn_w, {"training": False}))
add(run_case("bn_default_momentum", L.BatchNormalization(), [x], bn_w, {"training": True}))
x3 = rnd(4, 3, 5, scale=1.5, offset=-0.3)
bn3_w = [rnd(3, scale=0.5, offset=1.0), rnd(3, scale=0.3), rnd(3, scale=0.2),
         np.abs(rnd(3, scale=0.5, offset=1.0))]
add(run_case("bn_axis1_train", L.BatchNormalization(axis=1, epsilon=1e-2), [x3], bn3_w, {"training": True}))
bn5_w = [rnd(5, scale=0.5, offset=1.0), rnd(5, scale=0.3), rnd(5, scale=0.2),
         np.abs(rnd(5, scale=0.5, offset=1.0))]
add(run_case("bn_rank3_train", L.BatchNormalization(), [x3], bn5_w, {"training": True}))
frozen = L.BatchNormalization(momentum=0.9)
frozen.build(x.shape)
frozen.set_weights(bn_w)
frozen.trainable = False
add(run_case("bn_frozen_train", frozen, [x], None, {"training": True}))
add(run_case("bn_nocenter_noscale", L.BatchNormalization(center=False, scale=False, momentum=0.8),
             [x], bn_w[2:], {"training": True}))

# --- LayerNormalization -------------------------------------------------
add(run_case("ln_last", L.LayerNormalization(), [x3], [rnd(5, scale=0.5, offset=1.0), rnd(5, scale=0.3)]))
add(run_case("ln_axes12", L.LayerNormalization(axis=[1, 2], epsilon=1e-5), [x3],
             [rnd(3, 5, scale=0.5, offset=1.0), rnd(3, 5, scale=0.3)]))
add(run_case("ln_plain", L.LayerNormalization(center=False, scale=False), [x3], []))
add(run_case("ln_axis1", L.LayerNormalization(axis=1), [x3], [rnd(3, scale=0.5, offset=1.0), rnd(3, scale=0.3)]))

# --- merge layers -------------------------------------------------------
a, b, c = rnd(3, 4), rnd(3, 4), rnd(3, 4)
for cls in ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]:
    ins = [a, b] if cls == "Subtract" else [a, b, c]
    add(run_case("merge_" + cls, getattr(L, cls)(), ins, None, multi_input=True))
add(run_case("merge_Add_broadcast", L.Add(), [rnd(3, 1, 4), rnd(3, 5, 4)], None, multi_input=True))
add(run_case("merge_Multiply_rank", L.Multiply(), [rnd(3, 4), rnd(3, 5, 4)], None, multi_input=True))
add(run_case("concat_last", L.Concatenate(), [rnd(3, 2), rnd(3, 4)], None, multi_input=True))
add(run_case("concat_axis1", L.Concatenate(axis=1), [rnd(2, 3, 4), rnd(2, 1, 4), rnd(2, 2, 4)], None, multi_input=True))

# --- LSTM / GRU ---------------------------------------------------------
B, T, D, U = 3, 6, 4, 5
seq = rnd(B, T, D)


def lstm_w(use_bias=True):
    w = [rnd(D, 4 * U, scale=0.4), rnd(U, 4 * U, scale=0.4)]
    if use_bias:
        w.append(rnd(4 * U, scale=0.3))
    return w


def gru_w(use_bias=True, reset_after=True):
    w = [rnd(D, 3 * U, scale=0.4), rnd(U, 3 * U, scale=0.4)]
    if use_bias:
        w.append(rnd(2, 3 * U, scale=0.3) if reset_after else rnd(3 * U, scale=0.3))
    return w


add(run_case("lstm_last", L.LSTM(U), [seq], lstm_w()))
add(run_case("lstm_seq", L.LSTM(U, return_sequences=True), [seq], lstm_w()))
add(run_case("lstm_state", L.LSTM(U, return_sequences=True, return_state=True), [seq], lstm_w()))
add(run_case("lstm_back", L.LSTM(U, return_sequences=True, go_backwards=True), [seq], lstm_w()))
add(run_case("lstm_nobias_relu", L.LSTM(U, use_bias=False, activation="relu",
                                          recurrent_activation="hard_sigmoid", return_state=True),
             [seq], lstm_w(False)))
h0, c0 = rnd(B, U), rnd(B, U)
lstm_init = L.LSTM(U, return_state=True)
lstm_init.build(seq.shape)
lstm_init.set_weights(lstm_w())
xs = [tf.constant(seq), tf.constant(h0), tf.constant(c0)]
with tf.GradientTape(persistent=True) as tape:
    for t in xs:
        tape.watch(t)
    outs = lstm_init(xs[0], initial_state=[xs[1], xs[2]])
    coefs = [rnd(*o.shape) for o in outs]
    loss = tf.add_n([tf.reduce_sum(o * cf) for o, cf in zip(outs, coefs)])
cases["lstm_initial_state"] = {
    "inputs": [tolist(seq), tolist(h0), tolist(c0)],
    "weights": [tolist(v.numpy()) for v in lstm_init.weights],
    "outputs": [tolist(o) for o in outs],
    "coefs": [tolist(cf) for cf in coefs],
    "loss": float(loss),
    "grad_inputs": [tolist(g) for g in tape.gradient(loss, xs)],
    "grad_weights": [tolist(g) for g in tape.gradient(loss, lstm_init.trainable_weights)],
}
del tape

add(run_case("gru_last", L.GRU(U), [seq], gru_w()))
add(run_case("gru_seq_state", L.GRU(U, return_sequences=True, return_state=True), [seq], gru_w()))
add(run_case("gru_back", L.GRU(U, return_sequences=True, go_backwards=True), [seq], gru_w()))
add(run_case("gru_before", L.GRU(U, reset_after=False, return_sequences=True), [seq], gru_w(True, False)))
add(run_case("gru_nobias", L.GRU(U, use_bias=False, activation="relu", return_state=True), [seq], gru_w(False)))

# Masks: the state and output carry over masked steps (zeros for the output
# with zero_output_for_mask); merges combine masked inputs as Keras does.
mask = np.array([[True, True, False, True, False, True],
                 [False, True, True, False, True, True],
                 [True, False, False, False, True, True]])
add(run_case("lstm_mask", L.LSTM(U, return_sequences=True, return_state=True), [seq], lstm_w(), masks=[mask]))
add(run_case("gru_mask_zero_back", L.GRU(U, return_sequences=True, return_state=True, go_backwards=True,
                                         zero_output_for_mask=True), [seq], gru_w(), masks=[mask]))
ma = np.array([[True, False, True, True], [False, False, True, True], [True, True, True, False]])
mb = np.array([[True, True, False, True], [False, True, False, True], [False, True, True, False]])
m3 = [rnd(3, 4, 2), rnd(3, 4, 2)]
for cls in ["Add", "Multiply", "Maximum", "Minimum", "Average"]:
    add(run_case("merge_mask_" + cls, getattr(L, cls)(), m3, None, multi_input=True, masks=[ma, mb]))
add(run_case("concat_mask", L.Concatenate(axis=1), m3, None, multi_input=True, masks=[ma, None]))
add(run_case("concat_mask_last", L.Concatenate(), m3, None, multi_input=True, masks=[ma, mb]))

bn_mask = np.array([[True, False, True], [True, True, False], [False, False, True], [True, True, True]])
add(run_case("bn_mask_train", L.BatchNormalization(momentum=0.9), [x3], bn5_w, {"training": True}, masks=[bn_mask]))

# Default initialisation facts (no values: they are random): bias layout.
lstm_default = L.LSTM(U)
lstm_default.build(seq.shape)
cases["lstm_default_bias"] = tolist(lstm_default.weights[2].numpy())
cases["lstm_config"] = lstm_default.get_config()
gru_default = L.GRU(U)
gru_default.build(seq.shape)
cases["gru_config"] = gru_default.get_config()
cases["bn_config"] = L.BatchNormalization().get_config()
cases["ln_config"] = L.LayerNormalization().get_config()

meta = {"keras": keras.__version__, "tensorflow": tf.__version__,
        "script": "tools/keras_fixtures/norm_rnn.py"}
out = {"meta": meta, "cases": cases}
path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "spec", "fixtures", "keras", "norm_rnn.json")
with open(path, "w") as f:
    json.dump(out, f, default=lambda o: None)
print("wrote", os.path.normpath(path), len(cases), "cases", file=sys.stderr)
