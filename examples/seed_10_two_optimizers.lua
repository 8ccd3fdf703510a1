-- examples/seed_10_two_optimizers.lua — the seed chapter's custom loop with
-- two optimizers: Nadam(0.005) for the lower layer ("lower_layer_1") and
-- Nadam(0.01) for the upper layers ("upper_layer_1", "upper_output_layer"),
-- the variables picked with model:get_layer(name), one persistent tape
-- giving both sets of gradients, on Fashion-MNIST as in seed_09.
--   tlua examples/seed_10_two_optimizers.lua [--epochs 5] [--steps N] [--seed 42]
-- As seed_09: the training images stay uint8 and each batch is scaled when
-- drawn; validation runs over the whole validation set.
-- Asserts: the variable names printed are the layers' ("lower_layer_1/kernel:0",
-- ...); each optimizer stepped once per step; the validation accuracy is
-- well above chance.
-- TLUA_EXAMPLE_QUICK=1: 1 epoch of 50 steps, a 1,000-image validation subset.
local quick = os.getenv("TLUA_EXAMPLE_QUICK") == "1"
local opts = { epochs = quick and 1 or 5, seed = 42 }
for i = 1, #arg, 2 do
  local key = arg[i]:match("^%-%-(%w+)$")
  local v = math.tointeger(tonumber(arg[i + 1]))
  if not (key == "epochs" or key == "steps" or key == "seed") or not v then
    error(("unknown option %s %s (expected --epochs N, --steps N, --seed N)"):format(arg[i], tostring(arg[i + 1])), 0)
  end
  opts[key] = v
end
tf.random.set_seed(opts.seed)
local function num(x) return type(x) == "number" and x or x:item() end

-- Data (see seed_09: uint8 training rows, scaled per batch) ------------------
local X_train_full, y_train_full, X_test, y_test = keras.datasets.fashion_mnist.load_data()
if y_test == nil and type(X_train_full) == "table" then
  X_train_full, y_train_full, X_test, y_test = X_train_full[1], X_train_full[2], y_train_full[1], y_train_full[2]
end
X_train_full = tf.reshape(X_train_full, { -1, 28 * 28 })
local X_train = X_train_full["5000:"]
local X_valid = tf.cast(X_train_full["0:5000"], tf.float32) / 255
local y_valid, y_train = tf.cast(y_train_full["0:5000"], tf.int32), tf.cast(y_train_full["5000:"], tf.int32)
X_test, y_test, y_train_full = nil, nil, nil -- this example does not use the test set
if quick then X_valid, y_valid = X_valid["0:1000"], y_valid["0:1000"] end
collectgarbage() -- data preparation only
local n_train = X_train.shape[0]

local function random_batch(X, y, batch_size)
  local idx = tf.random.uniform({ batch_size or 32 }, 0, n_train, tf.int32)
  return tf.cast(tf.gather(X, idx), tf.float32) / 255, tf.gather(y, idx)
end

local function print_status_bar(iteration, total, loss, metrics)
  local parts = { ("%s: %.4f"):format(loss.name, num(loss:result())) }
  for _, m in ipairs(metrics or {}) do parts[#parts + 1] = ("%s: %.4f"):format(m.name, num(m:result())) end
  io.write("\r", iteration, "/", total, " - ", table.concat(parts, " - "), iteration < total and "" or "\n")
  io.stdout:flush()
end

-- The model: the first layer is the "lower" one, the others "upper" -------
local model = keras.Sequential{
  keras.layers.Dense(256, { activation = "relu", input_shape = { 28 * 28 }, name = "lower_layer_1" }),
  keras.layers.Dense(128, { activation = "relu", name = "upper_layer_1" }),
  keras.layers.Dense(10, { activation = "softmax", name = "upper_output_layer" }),
}

local lower_layers_vars = model:get_layer("lower_layer_1").trainable_variables
local upper_layers_vars = {}
for _, layer_name in ipairs({ "upper_layer_1", "upper_output_layer" }) do
  for _, v in ipairs(model:get_layer(layer_name).trainable_variables) do upper_layers_vars[#upper_layers_vars + 1] = v end
end
local function names(vars)
  local out = {}
  for i, v in ipairs(vars) do out[i] = v.name end
  return out
end
print("Lower layer variables: " .. table.concat(names(lower_layers_vars), ", "))
print("Upper layers variables: " .. table.concat(names(upper_layers_vars), ", "))
local want = { "lower_layer_1/kernel:0", "lower_layer_1/bias:0" }
for i, n in ipairs(names(lower_layers_vars)) do assert(n == want[i], "lower variable name " .. n) end
assert(#upper_layers_vars == 4 and upper_layers_vars[4].name == "upper_output_layer/bias:0", "upper variables")

local batch_size = 32
local n_epochs = opts.epochs
local n_steps_per_epoch = opts.steps or (quick and 50 or n_train // batch_size)

local lower_optimizer = keras.optimizers.Nadam{ learning_rate = 0.005 } -- smaller for the lower layer
local upper_optimizer = keras.optimizers.Nadam{ learning_rate = 0.01 } -- larger for the upper layers
local loss_fn = keras.losses.SparseCategoricalCrossentropy()
local mean_loss = keras.metrics.Mean{ name = "mean_loss" }
local mean_accuracy = keras.metrics.SparseCategoricalAccuracy{ name = "mean_accuracy" }
local val_loss = keras.metrics.Mean{ name = "val_loss" }
local val_accuracy = keras.metrics.SparseCategoricalAccuracy{ name = "val_accuracy" }

local now = tf.core.now
for epoch = 1, n_epochs do
  print(("Epoch %d/%d"):format(epoch, n_epochs))
  local t0 = now()
  for step = 1, n_steps_per_epoch do
    local X_batch, y_batch = random_batch(X_train, y_train)
    -- persistent: tape:gradient is called twice
    local tape = tf.GradientTape({ persistent = true })
    local y_pred = model(X_batch, { training = true })
    local main_loss = loss_fn(y_batch, y_pred)
    local loss = tf.add_n({ main_loss, table.unpack(model.losses) })
    tape:stop()
    local lower_gradients = tape:gradient(loss, lower_layers_vars)
    lower_optimizer:apply_gradients(lower_gradients, lower_layers_vars)
    local upper_gradients = tape:gradient(loss, upper_layers_vars)
    upper_optimizer:apply_gradients(upper_gradients, upper_layers_vars)
    tape = nil -- luacheck: ignore (the chapter's `del tape`: the recording is freed)
    mean_loss(loss)
    mean_accuracy(y_batch, y_pred)
    if step < n_steps_per_epoch then print_status_bar(step, n_steps_per_epoch, mean_loss, { mean_accuracy }) end
  end
  local n = X_valid.shape[0]
  for start = 0, n - 1, batch_size do
    local key = { { start, math.min(start + batch_size, n) } }
    local y_val_batch = y_valid[key]
    local y_val_pred = model(X_valid[key])
    val_loss(loss_fn(y_val_batch, y_val_pred))
    val_accuracy(y_val_batch, y_val_pred)
  end
  print_status_bar(n_steps_per_epoch, n_steps_per_epoch, mean_loss, { mean_accuracy, val_loss, val_accuracy })
  print(("epoch %d: %.2f s"):format(epoch, now() - t0))
  local acc = num(val_accuracy:result())
  assert(acc > 0.5, ("validation accuracy %.4f should be well above chance"):format(acc))
  mean_loss:reset_state()
  mean_accuracy:reset_state()
  val_loss:reset_state()
  val_accuracy:reset_state()
end

local steps = n_epochs * n_steps_per_epoch
assert(num(lower_optimizer.iterations) == steps and num(upper_optimizer.iterations) == steps,
  "each optimizer should have stepped once per step")
print(("lower optimizer (lr 0.005): %d steps; upper optimizer (lr 0.01): %d steps"):format(
  num(lower_optimizer.iterations), num(upper_optimizer.iterations)))
