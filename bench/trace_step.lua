-- bench/trace_step.lua — the seed's training step (784-256-128-10 MLP, relu,
-- softmax cross-entropy, Nadam, batch 32) eager against the same step under
-- tf.trace (all graph passes; then without fusion, memory planning and
-- parallel nodes, to show what each contributes). Prints the times and
-- eager/traced (the issue's target: at least 2).
-- Usage: build/tlua bench/trace_step.lua [batch]
local batch = tonumber(arg[1]) or 32

local function setup()
  tf.random.set_seed(1)
  local function glorot(fi, fo)
    local l = math.sqrt(6 / (fi + fo))
    return tf.random.uniform({ fi, fo }, -l, l)
  end
  local W1, b1 = tf.Variable(glorot(784, 256)), tf.Variable(tf.zeros({ 256 }))
  local W2, b2 = tf.Variable(glorot(256, 128)), tf.Variable(tf.zeros({ 128 }))
  local W3, b3 = tf.Variable(glorot(128, 10)), tf.Variable(tf.zeros({ 10 }))
  local vars = { W1, b1, W2, b2, W3, b3 }
  local opt = keras.optimizers.Nadam({ learning_rate = 1e-3 })
  return function(x, y)
    local tape = tf.GradientTape()
    local h1 = tf.nn.relu(tf.matmul(x, W1) + b1)
    local h2 = tf.nn.relu(tf.matmul(h1, W2) + b2)
    local logits = tf.matmul(h2, W3) + b3
    local loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    local grads = tape:gradient(loss, vars)
    opt:apply_gradients(grads, vars)
    return loss
  end
end

local x = tf.random.uniform({ batch, 784 })
local y = tf.random.uniform({ batch }, 0, 10, tf.int32)
local fns = {
  eager = setup(),
  traced = tf.trace(setup()),
  plain = tf.trace(setup(), { optimize = { fuse = false, memory = false, parallel = false } }),
}
-- Interleaved rounds, best per variant: this machine is shared, and a
-- neighbour's burst should not land on one variant only.
local now = tf.core.now
local best = {}
for name, f in pairs(fns) do
  for _ = 1, 10 do f(x, y) end
  best[name] = math.huge
end
for _ = 1, 40 do
  for name, f in pairs(fns) do
    local t0 = now()
    for _ = 1, 10 do f(x, y) end
    best[name] = math.min(best[name], (now() - t0) / 10)
  end
end
print(("trace_step batch=%d eager %.1f us traced %.1f us (without fuse/memory/parallel %.1f us) eager/traced %.2f (target >= 2)"):format(
  batch, best.eager * 1e6, best.traced * 1e6, best.plain * 1e6, best.eager / best.traced))
