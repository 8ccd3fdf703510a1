-- bench/trace_step_keras.lua — tlua side of bench/trace_step.sh: the seed's full
-- custom training step (Dense 784-256-128-10 relu/relu/softmax, Nadam lr
-- 0.01, SparseCategoricalCrossentropy, Mean + SparseCategoricalAccuracy,
-- GradientTape) at batch 32, run eagerly or traced with tf.trace.
--   tlua bench/trace_step_keras.lua --mode eager|traced [--steps 2000] [--batch 32] [--seed 1]
-- One mode per process, so the peak RSS (VmHWM) is that mode's. The data
-- is a pool of 16 random batches made before timing, cycled through. The
-- first call of the traced step (trace + optimize + one run, the optimizer
-- slots made inside it) is timed on its own, then 50 warm-up steps, then
-- --steps timed steps (wall clock, tf.core.now). Prints RESULT lines.
local opts = { mode = "traced", steps = 2000, batch = 32, seed = 1 }
do
  local i = 1
  while i <= #arg do
    local key = arg[i]:match("^%-%-([%w_]+)$")
    if key == "mode" then opts.mode = arg[i + 1]
    elseif key == "steps" or key == "batch" or key == "seed" then opts[key] = math.tointeger(tonumber(arg[i + 1]))
    else error("unknown option " .. arg[i] .. " (expected --mode, --steps, --batch, --seed)", 0) end
    i = i + 2
  end
end
assert(opts.mode == "eager" or opts.mode == "traced", "--mode must be eager or traced")
local now = tf.core.now
tf.random.set_seed(opts.seed)

local model = keras.Sequential{
  keras.layers.Dense(256, { activation = "relu", input_shape = { 784 } }),
  keras.layers.Dense(128, { activation = "relu" }),
  keras.layers.Dense(10, { activation = "softmax" }),
}
local optimizer = keras.optimizers.Nadam{ learning_rate = 0.01 }
local loss_fn = keras.losses.SparseCategoricalCrossentropy()
local mean_loss = keras.metrics.Mean{ name = "mean_loss" }
local accuracy = keras.metrics.SparseCategoricalAccuracy{ name = "accuracy" }
model(tf.zeros({ 1, 784 })) -- weights exist before the first step (both modes)

local function train_step(X_batch, y_batch)
  local tape = tf.GradientTape()
  local y_pred = model(X_batch, { training = true })
  local loss = tf.add_n({ loss_fn(y_batch, y_pred), table.unpack(model.losses) })
  local grads = tape:gradient(loss, model.trainable_variables)
  optimizer:apply_gradients(grads, model.trainable_variables)
  mean_loss(loss)
  accuracy(y_batch, y_pred)
  return loss
end

local pool = {}
for i = 1, 16 do
  pool[i] = { tf.random.uniform({ opts.batch, 784 }), tf.cast(tf.random.uniform({ opts.batch }, 0, 10), tf.int32) }
end

local step = train_step
local traced
if opts.mode == "traced" then
  traced = tf.trace(train_step)
  step = traced
end
local t0 = now()
step(pool[1][1], pool[1][2])
local first = now() - t0
for i = 1, 50 do
  local b = pool[i % 16 + 1]
  step(b[1], b[2])
end
collectgarbage()
t0 = now()
for i = 1, opts.steps do
  local b = pool[i % 16 + 1]
  step(b[1], b[2])
end
local per_step = (now() - t0) / opts.steps

local function peak_rss_mib()
  local fh = io.open("/proc/self/status", "r")
  if not fh then return -1 end
  local text = fh:read("a")
  fh:close()
  local kb = text:match("VmHWM:%s*(%d+)")
  return kb and tonumber(kb) / 1024 or -1
end

local side = "tlua_" .. opts.mode
print(("RESULT %s step_us %.2f"):format(side, per_step * 1e6))
print(("RESULT %s first_call_ms %.3f"):format(side, first * 1e3))
print(("RESULT %s peak_rss_mib %.1f"):format(side, peak_rss_mib()))
if traced then
  local s = traced:signatures()[1]
  print(("RESULT %s trace_ms %.3f"):format(side, s.trace_seconds * 1e3))
  print(("RESULT %s nodes %d"):format(side, s.nodes))
end
print(("RESULT %s final_loss %.6f"):format(side, mean_loss:result():item()))
