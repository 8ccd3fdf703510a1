-- bench/seed_fit.lua — tlua side of bench/seed_run.sh for `fit`: the seed's
-- Fashion-MNIST model (Dense 256 relu / 128 relu / 10 softmax, Nadam(0.01),
-- SparseCategoricalCrossentropy, accuracy) trained with model:fit at batch
-- 32 (shuffled, ceil(55000 / 32) = 1719 steps per epoch, as Keras), the
-- 5,000 validation images as validation_data, verbose=2 (one line per
-- epoch, as bench/seed_fit_tf.py). The time per epoch is taken by a
-- callback (on_epoch_begin .. on_epoch_end, validation included). Prints
-- RESULT lines like the example's --report.
--   tlua bench/seed_fit.lua [--epochs 5] [--seed 42] [--steps N] [--quiet]
local opts = { epochs = 5, seed = 42 }
do
  local i = 1
  while i <= #arg do
    local key = arg[i]:match("^%-%-([%w_]+)$")
    if key == "quiet" then
      opts.quiet, i = true, i + 1
    elseif key == "epochs" or key == "seed" or key == "steps" then
      opts[key], i = math.tointeger(tonumber(arg[i + 1])), i + 2
    else
      error("unknown option " .. arg[i] .. " (expected --epochs N, --seed N, --steps N, --quiet)", 0)
    end
  end
end
tf.random.set_seed(opts.seed)
local now = tf.core.now

local X_train_full, y_train_full, X_test, y_test = keras.datasets.fashion_mnist.load_data()
if y_test == nil and type(X_train_full) == "table" then
  X_train_full, y_train_full, X_test, y_test = X_train_full[1], X_train_full[2], y_train_full[1], y_train_full[2]
end
X_train_full = tf.reshape(X_train_full, { -1, 28 * 28 })
local function scale(X) return tf.cast(X, tf.float32) / 255 end
local X_valid, X_train = scale(X_train_full["0:5000"]), scale(X_train_full["5000:"])
local y_valid, y_train = tf.cast(y_train_full["0:5000"], tf.int32), tf.cast(y_train_full["5000:"], tf.int32)
X_test, y_test = scale(tf.reshape(X_test, { -1, 28 * 28 })), tf.cast(y_test, tf.int32)
X_train_full, y_train_full = nil, nil
collectgarbage() -- data preparation only

local model = keras.Sequential{
  keras.layers.Dense(256, { activation = "relu", input_shape = { 28 * 28 } }),
  keras.layers.Dense(128, { activation = "relu" }),
  keras.layers.Dense(10, { activation = "softmax" }),
}
model:compile{ optimizer = keras.optimizers.Nadam{ learning_rate = 0.01 },
  loss = keras.losses.SparseCategoricalCrossentropy(), metrics = { "accuracy" } }

local EpochTimer = keras.callbacks.Callback:extend("EpochTimer")
function EpochTimer:init(o)
  EpochTimer.super.init(self, o)
  self.times = {}
end
function EpochTimer:on_epoch_begin() self.t0 = now() end
function EpochTimer:on_epoch_end() self.times[#self.times + 1] = now() - self.t0 end
local timer = EpochTimer()

local history = model:fit(X_train, y_train, { batch_size = 32, epochs = opts.epochs, steps_per_epoch = opts.steps,
  validation_data = { X_valid, y_valid }, verbose = opts.quiet and 0 or 2, callbacks = { timer } })
local va = history.history.val_accuracy
local val_acc = va[#va]
val_acc = type(val_acc) == "number" and val_acc or val_acc:item()
local res = model:evaluate(X_test, y_test, { batch_size = 32, verbose = 0, return_dict = true })
local test_acc = res.accuracy
test_acc = type(test_acc) == "number" and test_acc or test_acc:item()

local f = io.open("/proc/self/status")
local rss = f and tonumber(f:read("a"):match("VmHWM:%s*(%d+)")) / 1024 or 0 / 0
if f then f:close() end
print(("val_accuracy: %.4f  test_accuracy: %.4f"):format(val_acc, test_acc))
for i, t in ipairs(timer.times) do print(("RESULT tlua_fit epoch_s %d %.4f"):format(i, t)) end
print(("RESULT tlua_fit val_accuracy %.6f"):format(val_acc))
print(("RESULT tlua_fit test_accuracy %.6f"):format(test_acc))
print(("RESULT tlua_fit peak_rss_mib %.1f"):format(rss))
