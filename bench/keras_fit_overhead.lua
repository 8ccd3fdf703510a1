-- fit vs the same training in a hand-written loop: Dense 784-256-128-10
-- (relu, relu, softmax), Nadam, SparseCategoricalCrossentropy, accuracy,
-- batch 32, random data, 200 steps per epoch. The loop does what fit does
-- per step (shuffled batches gathered by index, tape, loss + model.losses,
-- apply_gradients, a running loss mean and the accuracy metric), so the
-- ratio is the cost of fit's machinery: data slicing, callbacks, logs and
-- the progress bar (verbose=2: one line per epoch; set VERBOSE=1 for the
-- live bar). Prints seconds per epoch and fit/loop.
--   TLUA_STDLIB=$PWD/stdlib build/tlua bench/keras_fit_overhead.lua
local tf = require("tlua")
local keras = tf.keras
local L = keras.layers

local STEPS, BS = 200, 32
local EPOCHS = tonumber(os.getenv("EPOCHS") or "7")
local VERBOSE = tonumber(os.getenv("VERBOSE") or "2")
local N = STEPS * BS

tf.random.set_seed(0)
local x = tf.random.uniform({ N, 784 })
local y = tf.cast(tf.random.uniform({ N }, { minval = 0, maxval = 10 }), "int32")

local function make()
  tf.random.set_seed(1)
  return keras.Sequential{
    L.Dense(256, { activation = "relu", input_shape = { 784 } }),
    L.Dense(128, { activation = "relu" }),
    L.Dense(10, { activation = "softmax" }),
  }
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local now = tf.core.now

-- fit and the loop alternate epoch by epoch, so both see the same machine
-- load (the box is shared); each side's median and minimum are reported.
local model = make()
model:compile{ optimizer = keras.optimizers.Nadam{ learning_rate = 0.01 },
  loss = keras.losses.SparseCategoricalCrossentropy(), metrics = { "accuracy" } }

local m2 = make()
local opt = keras.optimizers.Nadam{ learning_rate = 0.01 }
local loss_fn = keras.losses.SparseCategoricalCrossentropy()
local mean_loss = keras.metrics.Mean{ name = "loss" }
local acc = keras.metrics.SparseCategoricalAccuracy{ name = "accuracy" }
local function loop_epoch()
  mean_loss:reset_state()
  acc:reset_state()
  local perm = tf.random.shuffle(tf.range(N))
  local vars = m2.trainable_variables
  for s = 0, STEPS - 1 do
    local idx = tf.slice(perm, { s * BS }, { BS })
    local xb, yb = tf.gather(x, idx), tf.gather(y, idx)
    local tape = tf.GradientTape()
    local yp = m2(xb, { training = true })
    local loss = loss_fn(yb, yp)
    local extra = m2.losses
    if #extra > 0 then loss = tf.add_n({ loss, table.unpack(extra) }) end
    opt:apply_gradients(tape:gradient(loss, vars), vars)
    mean_loss:update_state(loss, BS)
    acc:update_state(yb, yp)
  end
  local line = ("%d/%d - loss: %.4f - accuracy: %.4f"):format(STEPS, STEPS, mean_loss:result():item(), acc:result():item())
  if VERBOSE ~= 0 then print(line) end
end

local fit_times, loop_times = {}, {}
for round = 0, EPOCHS do
  local t0 = now()
  model:fit(x, y, { epochs = 1, batch_size = BS, verbose = VERBOSE })
  local t1 = now()
  loop_epoch()
  local t2 = now()
  if round > 0 then -- round 0 warms up
    fit_times[#fit_times + 1] = t1 - t0
    loop_times[#loop_times + 1] = t2 - t1
  end
end
local fit_min, loop_min = math.min(table.unpack(fit_times)), math.min(table.unpack(loop_times))
local fit_t, loop_t = median(fit_times), median(loop_times)

print(("fit:  median %.3f s/epoch (%.0f us/step), min %.3f"):format(fit_t, fit_t / STEPS * 1e6, fit_min))
print(("loop: median %.3f s/epoch (%.0f us/step), min %.3f"):format(loop_t, loop_t / STEPS * 1e6, loop_min))
print(("fit/loop ratio: median %.3f, min %.3f (bar: <= 1.10)"):format(fit_t / loop_t, fit_min / loop_min))
