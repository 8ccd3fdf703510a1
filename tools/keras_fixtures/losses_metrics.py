# Reference values for tests/spec/keras_losses_spec.lua and keras_metrics_spec.lua,
# computed by Keras itself (run with /work/venv-tf/bin/python from any directory
# except keras's own: python tools/keras_fixtures/losses_metrics.py).
# Writes tests/spec/fixtures/keras/losses_metrics.json: the same inputs
# (float32 values as JSON numbers) and Keras's outputs.
import json, os, sys
import numpy as np
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras

rng = np.random.RandomState(1234)
f32 = lambda a: np.asarray(a, dtype=np.float32)
def tolist(a): return np.asarray(a).tolist()

N, C = 6, 4
probs = f32(rng.dirichlet(np.ones(C), size=N))
logits = f32(rng.randn(N, C) * 2)
onehot_lab = rng.randint(0, C, size=N)
onehot = f32(np.eye(C)[onehot_lab])
bin_true = f32(rng.randint(0, 2, size=(N, 3)))
bin_prob = f32(rng.uniform(0.01, 0.99, size=(N, 3)))
reg_true = f32(rng.randn(N, 3))
reg_pred = f32(rng.randn(N, 3))
pos_true = f32(rng.uniform(0.1, 3, size=(N, 3)))
pos_pred = f32(rng.uniform(0.1, 3, size=(N, 3)))
pm_true = f32(rng.choice([-1.0, 1.0], size=(N, 3)))
sw = f32(rng.uniform(0.1, 2.0, size=N))

inputs = dict(probs=probs, logits=logits, onehot=onehot, labels=onehot_lab, bin_true=bin_true,
              bin_prob=bin_prob, reg_true=reg_true, reg_pred=reg_pred, pos_true=pos_true,
              pos_pred=pos_pred, pm_true=pm_true, sw=sw, labels_col=onehot_lab.reshape(N, 1),
              reg_true1=reg_true[:, :1], reg_pred1=reg_pred[:, :1])

L = keras.losses
loss_cases = [
    ("MeanSquaredError", {}, "reg_true", "reg_pred"),
    ("MeanAbsoluteError", {}, "reg_true", "reg_pred"),
    ("MeanAbsolutePercentageError", {}, "reg_true", "reg_pred"),
    ("MeanSquaredLogarithmicError", {}, "pos_true", "pos_pred"),
    ("Huber", {}, "reg_true", "reg_pred"),
    ("Huber", {"delta": 0.5}, "reg_true", "reg_pred"),
    ("LogCosh", {}, "reg_true", "reg_pred"),
    ("BinaryCrossentropy", {}, "bin_true", "bin_prob"),
    ("BinaryCrossentropy", {"from_logits": True}, "bin_true", "reg_pred"),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, "bin_true", "bin_prob"),
    ("CategoricalCrossentropy", {}, "onehot", "probs"),
    ("CategoricalCrossentropy", {"from_logits": True}, "onehot", "logits"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "onehot", "probs"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "onehot", "logits"),
    ("SparseCategoricalCrossentropy", {}, "labels", "probs"),
    ("SparseCategoricalCrossentropy", {}, "labels_col", "probs"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "labels", "logits"),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 1}, "labels", "logits"),
    ("KLDivergence", {}, "onehot", "probs"),
    ("KLDivergence", {}, "probs", "onehot"),
    ("Hinge", {}, "bin_true", "reg_pred"),
    ("Hinge", {}, "pm_true", "reg_pred"),
    ("SquaredHinge", {}, "bin_true", "reg_pred"),
    ("CategoricalHinge", {}, "onehot", "logits"),
    ("Poisson", {}, "pos_true", "pos_pred"),
    ("CosineSimilarity", {}, "reg_true", "reg_pred"),
    ("CosineSimilarity", {"axis": 0}, "reg_true", "reg_pred"),
    ("MeanSquaredError", {}, "reg_true1", "reg_pred1"),
]
def attempt(f):
    try:
        return tolist(f())
    except Exception:
        return "error"
losses_out = []
for cname, cfg, a, b in loss_cases:
    yt, yp = inputs[a], inputs[b]
    row = dict(class_name=cname, config=cfg, y_true=a, y_pred=b)
    for red in ["sum_over_batch_size", "sum", "none"]:
        obj = getattr(L, cname)(reduction=red, **cfg)
        row[red] = tolist(obj(yt, yp))
        row[red + "_sw"] = attempt(lambda: obj(yt, yp, sample_weight=sw))
    row["scalar_sw"] = attempt(lambda: getattr(L, cname)(**cfg)(yt, yp, sample_weight=0.5))
    row["col_sw_none"] = attempt(lambda: getattr(L, cname)(reduction="none", **cfg)(yt, yp, sample_weight=sw.reshape(N, 1)))
    row["default_config"] = getattr(L, cname)().get_config()
    losses_out.append(row)

# Shape variants: labels [N] against predictions [N,1], sequences [2,3,C].
seq_onehot = f32(np.eye(C)[rng.randint(0, C, size=(2, 3))])
seq_probs = f32(rng.dirichlet(np.ones(C), size=(2, 3)))
inputs.update(bin_true_vec=bin_true[:, 0], bin_prob_col=bin_prob[:, :1], seq_onehot=seq_onehot,
              seq_probs=seq_probs, seq_labels=np.argmax(seq_onehot, -1), sw2=sw[:2], sw23=f32(rng.uniform(0.1, 2, size=(2, 3))))
variant_cases = [
    ("MeanSquaredError", {}, "bin_true_vec", "bin_prob_col", "sw"),
    ("BinaryCrossentropy", {}, "bin_true_vec", "bin_prob_col", "sw"),
    ("CategoricalCrossentropy", {}, "seq_onehot", "seq_probs", "sw23"),
    ("CategoricalCrossentropy", {}, "seq_onehot", "seq_probs", "sw2"),
    ("SparseCategoricalCrossentropy", {}, "seq_labels", "seq_probs", "sw23"),
    ("MeanAbsoluteError", {}, "seq_onehot", "seq_probs", "sw2"),
]
variants_out = []
for cname, cfg, a, b, w in variant_cases:
    row = dict(class_name=cname, config=cfg, y_true=a, y_pred=b, sw=w)
    for red in ["sum_over_batch_size", "sum", "none"]:
        obj = getattr(L, cname)(reduction=red, **cfg)
        row[red] = attempt(lambda: obj(inputs[a], inputs[b]))
        row[red + "_sw"] = attempt(lambda: obj(inputs[a], inputs[b], sample_weight=inputs[w]))
    variants_out.append(row)

# Function forms.
fn_cases = [
    ("mean_squared_error", "reg_true", "reg_pred", {}),
    ("mean_absolute_error", "reg_true", "reg_pred", {}),
    ("mean_absolute_percentage_error", "reg_true", "reg_pred", {}),
    ("mean_squared_logarithmic_error", "pos_true", "pos_pred", {}),
    ("huber", "reg_true", "reg_pred", {"delta": 0.7}),
    ("log_cosh", "reg_true", "reg_pred", {}),
    ("binary_crossentropy", "bin_true", "bin_prob", {}),
    ("categorical_crossentropy", "onehot", "probs", {}),
    ("sparse_categorical_crossentropy", "labels", "probs", {}),
    ("sparse_categorical_crossentropy", "labels", "logits", {"from_logits": True}),
    ("kl_divergence", "onehot", "probs", {}),
    ("hinge", "pm_true", "reg_pred", {}),
    ("squared_hinge", "pm_true", "reg_pred", {}),
    ("categorical_hinge", "onehot", "logits", {}),
    ("poisson", "pos_true", "pos_pred", {}),
    ("cosine_similarity", "reg_true", "reg_pred", {}),
]
fns_out = []
for fname, a, b, kw in fn_cases:
    fns_out.append(dict(fn=fname, y_true=a, y_pred=b, kwargs=kw,
                        value=tolist(getattr(L, fname)(inputs[a], inputs[b], **kw))))

# Metrics: three batches, result after each update.
M_ = keras.metrics
B = 3
mrng = np.random.RandomState(99)
batches = []
for i in range(B):
    n = 8
    batches.append(dict(
        labels=mrng.randint(0, C, size=n).tolist(),
        probs=f32(mrng.dirichlet(np.ones(C), size=n)).tolist(),
        bin_true=f32(mrng.randint(0, 2, size=(n, 1))).tolist(),
        bin_prob=f32(mrng.uniform(0, 1, size=(n, 1))).tolist(),
        ml_true=f32(mrng.randint(0, 2, size=(n, 3))).tolist(),
        ml_prob=f32(mrng.uniform(0, 1, size=(n, 3))).tolist(),
        reg_true=f32(mrng.randn(n, 2)).tolist(),
        reg_pred=f32(mrng.randn(n, 2)).tolist(),
        values=f32(mrng.randn(n)).tolist(),
        sw=f32(mrng.uniform(0, 2, size=n)).tolist(),
    ))
for b in batches:
    b["onehot"] = np.eye(C, dtype=np.float32)[b["labels"]].tolist()
    b["labels_f"] = [float(x) for x in b["labels"]]
    b["argmax"] = [float(x) for x in np.argmax(b["probs"], -1)]
    b["bin_true_vec"] = [x[0] for x in b["bin_true"]]
    b["labels_col"] = [[x] for x in b["labels"]]
    # half the argmax predictions agree with the labels
    b["acc_pred"] = [b["argmax"][j] if j % 2 == 0 else b["labels_f"][j] for j in range(len(b["labels"]))]

metric_cases = [
    ("Mean", {}, ["values"]),
    ("Sum", {}, ["values"]),
    ("Accuracy", {}, ["labels_f", "acc_pred"]),
    ("BinaryAccuracy", {}, ["bin_true", "bin_prob"]),
    ("BinaryAccuracy", {"threshold": 0.7}, ["bin_true", "bin_prob"]),
    ("CategoricalAccuracy", {}, ["onehot", "probs"]),
    ("SparseCategoricalAccuracy", {}, ["labels", "probs"]),
    ("TopKCategoricalAccuracy", {"k": 2}, ["onehot", "probs"]),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, ["labels", "probs"]),
    ("Precision", {}, ["bin_true", "bin_prob"]),
    ("Precision", {"thresholds": [0.3, 0.5, 0.8]}, ["bin_true", "bin_prob"]),
    ("Precision", {}, ["ml_true", "ml_prob"]),
    ("Precision", {"top_k": 1}, ["ml_true", "ml_prob"]),
    ("Precision", {"class_id": 2}, ["ml_true", "ml_prob"]),
    ("Recall", {}, ["bin_true", "bin_prob"]),
    ("Recall", {"thresholds": [0.3, 0.5, 0.8]}, ["ml_true", "ml_prob"]),
    ("Recall", {"top_k": 2}, ["ml_true", "ml_prob"]),
    ("Recall", {"class_id": 1}, ["ml_true", "ml_prob"]),
    ("AUC", {}, ["bin_true", "bin_prob"]),
    ("AUC", {}, ["ml_true", "ml_prob"]),
    ("AUC", {"curve": "PR"}, ["bin_true", "bin_prob"]),
    ("AUC", {"num_thresholds": 50, "summation_method": "minoring"}, ["bin_true", "bin_prob"]),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}, ["ml_true", "ml_prob"]),
    ("AUC", {"from_logits": True}, ["bin_true", "reg_pred"]),
    ("MeanSquaredError", {}, ["reg_true", "reg_pred"]),
    ("MeanAbsoluteError", {}, ["reg_true", "reg_pred"]),
    ("RootMeanSquaredError", {}, ["reg_true", "reg_pred"]),
    ("AUC", {"thresholds": [0.2, 0.5, 0.9]}, ["bin_true", "bin_prob"]),
    ("BinaryAccuracy", {}, ["bin_true_vec", "bin_prob"]),
    ("SparseCategoricalAccuracy", {}, ["labels_col", "probs"]),
    ("SparseTopKCategoricalAccuracy", {"k": 3}, ["labels_col", "probs"]),
    ("Precision", {}, ["bin_true_vec", "bin_prob"]),
    ("AUC", {}, ["bin_true_vec", "bin_prob"]),
    ("Accuracy", {}, ["bin_true_vec", "bin_true"]),
    ("MeanAbsolutePercentageError", {}, ["reg_true", "reg_pred"]),
    ("MeanSquaredLogarithmicError", {}, ["ml_prob", "bin_prob"]),
    ("LogCoshError", {}, ["reg_true", "reg_pred"]),
    ("KLDivergence", {}, ["onehot", "probs"]),
    ("Poisson", {}, ["ml_true", "ml_prob"]),
    ("Hinge", {}, ["ml_true", "ml_prob"]),
    ("SquaredHinge", {}, ["ml_true", "ml_prob"]),
    ("CategoricalHinge", {}, ["onehot", "probs"]),
    ("CosineSimilarity", {}, ["reg_true", "reg_pred"]),
    ("BinaryCrossentropy", {}, ["ml_true", "ml_prob"]),
    ("CategoricalCrossentropy", {}, ["onehot", "probs"]),
    ("SparseCategoricalCrossentropy", {}, ["labels", "probs"]),
]
def arr(b, k):
    return np.asarray(b[k], dtype=np.int64 if k in ("labels", "labels_col") else np.float32)
metrics_out = []
for cname, cfg, args in metric_cases:
    row = dict(class_name=cname, config=cfg, args=args)
    for weighted in [False, True]:
        m = getattr(M_, cname)(**cfg)
        res = []
        for b in batches:
            a = [arr(b, k) if k != "reg_pred" or cname != "AUC" else arr(b, k)[:, :1] for k in args]
            kw = {"sample_weight": np.asarray(b["sw"], dtype=np.float32)} if weighted else {}
            m.update_state(*a, **kw)
            res.append(tolist(m.result()))
        row["weighted" if weighted else "plain"] = res
        m.reset_state()
        row["after_reset"] = tolist(m.result())
    row["default_config"] = getattr(M_, cname)().get_config() if cname not in () else None
    metrics_out.append(row)

# Function metrics.
mfn_out = []
b0 = batches[0]
for fname, args, kw in [
    ("sparse_categorical_accuracy", ["labels", "probs"], {}),
    ("categorical_accuracy", ["onehot", "probs"], {}),
    ("binary_accuracy", ["bin_true", "bin_prob"], {}),
    ("top_k_categorical_accuracy", ["onehot", "probs"], {"k": 2}),
    ("sparse_top_k_categorical_accuracy", ["labels", "probs"], {"k": 2}),
]:
    mfn_out.append(dict(fn=fname, args=args, kwargs=kw,
                        value=tolist(getattr(M_, fname)(*[arr(b0, k) for k in args], **kw))))

lookups = {}
for name in ["accuracy", "mse", "mae", "sparse_categorical_accuracy", "SparseCategoricalAccuracy", "binary_accuracy",
             "auc", "AUC", "precision", "Precision", "categorical_accuracy", "top_k_categorical_accuracy", "bce"]:
    o = M_.get(name)
    lookups[name] = type(o).__name__ if not callable(o) or hasattr(o, "get_config") else "function:" + o.__name__

out = dict(lookups=lookups, loss_variants=variants_out, inputs={k: tolist(v) for k, v in inputs.items()}, losses=losses_out, loss_functions=fns_out,
           batches=batches, metrics=metrics_out, metric_functions=mfn_out,
           keras_version=keras.__version__)
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
path = os.path.join(root, "tests", "spec", "fixtures", "keras", "losses_metrics.json")
with open(path, "w") as f:
    json.dump(out, f, indent=None, separators=(",", ":"))
print("wrote", path)
