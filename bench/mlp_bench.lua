-- tlua side of bench/run.sh --suite autodiff: one training step of the seed's MLP
-- (784-256-128-10, relu, softmax cross-entropy, Nadam) built from tlua ops
-- and the tape; and the tape's recording overhead on a 10-element op.
-- Prints "case seconds_per_iteration" lines.
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/common.lua")
local function timeit(fn, min_time) return bench.timeit(fn, min_time or 0.5, 5) end

local function glorot(fan_in, fan_out)
  local limit = math.sqrt(6 / (fan_in + fan_out))
  return tf.random.uniform({ fan_in, fan_out }, -limit, limit)
end

local function mlp_case(batch)
  tf.random.set_seed(1)
  local W1, b1 = tf.Variable(glorot(784, 256)), tf.Variable(tf.zeros({ 256 }))
  local W2, b2 = tf.Variable(glorot(256, 128)), tf.Variable(tf.zeros({ 128 }))
  local W3, b3 = tf.Variable(glorot(128, 10)), tf.Variable(tf.zeros({ 10 }))
  local vars = { W1, b1, W2, b2, W3, b3 }
  local opt = keras.optimizers.Nadam({ learning_rate = 1e-3 })
  local x = tf.random.uniform({ batch, 784 })
  local y = tf.random.uniform({ batch }, 0, 10, tf.int32)
  local function step()
    local tape = tf.GradientTape()
    local h1 = tf.nn.relu(tf.matmul(x, W1) + b1)
    local h2 = tf.nn.relu(tf.matmul(h1, W2) + b2)
    local logits = tf.matmul(h2, W3) + b3
    local loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    local grads = tape:gradient(loss, vars)
    opt:apply_gradients(grads, vars)
    return loss
  end
  return timeit(step)
end

local cases = {}
cases.mlp_step_32 = function() return mlp_case(32) end
cases.mlp_step_256 = function() return mlp_case(256) end
cases.add10_notape = function()
  local a, b = tf.random.uniform({ 10 }), tf.random.uniform({ 10 })
  return timeit(function() for _ = 1, 1000 do local _ = a * b end end) / 1000
end
cases.add10_tape = function()
  local a, b = tf.random.uniform({ 10 }), tf.random.uniform({ 10 })
  return timeit(function()
    local tape = tf.GradientTape()
    tape:watch(a)
    for _ = 1, 1000 do local _ = a * b end
    tape:stop()
  end) / 1000
end

local order = { "add10_notape", "add10_tape", "mlp_step_32", "mlp_step_256" }
bench.run(cases, order)
