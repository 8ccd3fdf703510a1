-- examples/seed_11_traced_loop.lua — the seed chapter's promise for graphs:
-- extract a computation graph from a function, optimize it, run it
-- efficiently, export it and run it elsewhere.
--
-- The seed's custom training loop (Dense 256 relu / 128 relu / 10 softmax,
-- Nadam(0.01), SparseCategoricalCrossentropy, Mean and accuracy metrics) on
-- Fashion-MNIST, with the whole training step — forward pass, loss,
-- gradient, Nadam update, metric updates — traced into one graph by
-- tf.trace. Then the trained model's inference function is traced, written
-- as a tlua saved model (and as ONNX when protobuf-c is built in), loaded
-- back without any Lua source, and checked against the model.
--
--   tlua examples/seed_11_traced_loop.lua [--steps N] [--out DIR]
--
-- TLUA_EXAMPLE_QUICK=1 (the test suite): 60 steps on a 2,000-image subset.
local quick = os.getenv("TLUA_EXAMPLE_QUICK") == "1"
local steps, out_dir = quick and 60 or 1718, nil
for i = 1, #arg do
  if arg[i] == "--steps" then steps = math.tointeger(tonumber(arg[i + 1])) or error("--steps expects an integer", 0) end
  if arg[i] == "--out" then out_dir = arg[i + 1] end
end
tf.random.set_seed(42)
local now = tf.core.now

-- Data: uint8 images flattened, scaled per batch.
local X_train_full, y_train_full, X_test, y_test = keras.datasets.fashion_mnist.load_data()
local X_train = tf.reshape(X_train_full, { -1, 784 })
local y_train = tf.cast(y_train_full, tf.int32)
if quick then X_train, y_train = X_train["0:2000"], y_train["0:2000"] end
local X_eval = tf.cast(tf.reshape(X_test, { -1, 784 })["0:1000"], tf.float32) / 255
local y_eval = tf.cast(y_test["0:1000"], tf.int32)
local n_train = X_train.shape[0]

local model = keras.Sequential{
  keras.layers.Dense(256, { activation = "relu", input_shape = { 784 } }),
  keras.layers.Dense(128, { activation = "relu" }),
  keras.layers.Dense(10, { activation = "softmax" }),
}
local optimizer = keras.optimizers.Nadam{ learning_rate = 0.01 }
local loss_fn = keras.losses.SparseCategoricalCrossentropy()
local mean_loss = keras.metrics.Mean{ name = "mean_loss" }
local accuracy = keras.metrics.SparseCategoricalAccuracy{ name = "accuracy" }

-- The step, exactly as the eager loop writes it; tf.trace makes it a graph.
local train_step = tf.trace(function(X_batch, y_batch)
  local tape = tf.GradientTape()
  local y_pred = model(X_batch, { training = true })
  local loss = tf.add_n({ loss_fn(y_batch, y_pred), table.unpack(model.losses) })
  local grads = tape:gradient(loss, model.trainable_variables)
  optimizer:apply_gradients(grads, model.trainable_variables)
  mean_loss(loss)
  accuracy(y_batch, y_pred)
  return loss
end, { name = "train_step" })

local function random_batch(size)
  local idx = tf.random.uniform({ size }, 0, n_train, tf.int32)
  return tf.cast(tf.gather(X_train, idx), tf.float32) / 255, tf.gather(y_train, idx)
end

-- The first call traces (and builds the layers and optimizer slots).
local X0, y0 = random_batch(32)
local t0 = now()
train_step(X0, y0)
local trace_ms = (now() - t0) * 1000
local g = train_step:graph(X0, y0)
local st = g:stats()
print(("traced the training step in %.1f ms: %d nodes (%d before optimizing; %d fused groups, %d folded, %d removed)")
  :format(trace_ms, st.nodes, st.nodes_before, st.fused_groups, st.folded, st.dce_removed))

local t = now()
for step = 1, steps do
  train_step(random_batch(32))
  if step % 200 == 0 or step == steps then
    io.write(("\rstep %d/%d  loss %.4f  accuracy %.4f"):format(step, steps, mean_loss:result():item(), accuracy:result():item()))
    io.flush()
  end
end
local per_step = (now() - t) / steps
print(("\n%.3f ms per step (batch drawing included), %d trace(s)"):format(per_step * 1000,
  train_step:experimental_get_tracing_count()))

-- Export: the inference function with a dynamic batch dimension.
local predict = tf.trace(function(x) return model(x, { training = false }) end,
  { input_signature = { tf.TensorSpec({ false, 784 }, tf.float32) }, name = "predict" })
local want = predict(X_eval)
local acc = tf.reduce_mean(tf.cast(tf.equal(tf.cast(tf.argmax(want, 1), tf.int32), y_eval), tf.float32)):item()
print(("accuracy on 1,000 test images: %.4f"):format(acc))

local dir = out_dir
if not dir then
  dir = os.tmpname()
  os.remove(dir)
end
os.execute(("mkdir -p %q"):format(dir))
local path = dir .. "/fashion_mlp.tlsm"
tf.saved_model.save(predict, path)
local loaded = tf.saved_model.load(path)
local got = loaded(X_eval)
local diff = tf.reduce_max(tf.abs(got - want)):item()
print(("saved model %s: reloaded outputs differ by %.2g (%d variables)"):format(path, diff, #loaded.variables))
assert(diff <= 1e-5, "the reloaded model disagrees with the trained one")
print(("run it without Lua:  tlua-run %s input.npy -o outdir"):format(path))

if tf.onnx and tf.onnx.export then
  local ok, err = pcall(tf.onnx.export, predict, dir .. "/fashion_mlp.onnx")
  print(ok and ("ONNX written: %s/fashion_mlp.onnx"):format(dir) or ("ONNX export skipped: " .. tostring(err)))
end
g:write_dot(dir .. "/train_step.dot")
print(("the training step's graph, for Graphviz: %s/train_step.dot"):format(dir))
if not out_dir then os.execute(("rm -rf %q"):format(dir)) end
