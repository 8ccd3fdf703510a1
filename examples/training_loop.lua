-- examples/training_loop.lua — a custom training loop from tlua ops, the
-- gradient tape and a Keras optimizer: the seed's MLP shape (784-256-128-10)
-- on synthetic data, then the seed's two-optimizer loop with a persistent
-- tape, a custom gradient and a higher-order derivative.
-- TLUA_EXAMPLE_QUICK=1 runs fewer steps (the test suite sets it).
local quick = os.getenv("TLUA_EXAMPLE_QUICK") == "1"
local steps = quick and 30 or 300
tf.random.set_seed(42)

-- Synthetic "images": 10 class prototypes plus noise.
local n, d, classes = 2048, 784, 10
local prototypes = tf.random.normal({ classes, d })
local labels = tf.random.uniform({ n }, 0, classes, tf.int32)
local X = tf.gather(prototypes, labels) + tf.random.normal({ n, d }, 0, 2.0)

local function dense(fan_in, fan_out, name)
  local limit = math.sqrt(6 / (fan_in + fan_out))
  return tf.Variable(tf.random.uniform({ fan_in, fan_out }, -limit, limit), { name = name .. "/kernel" }),
         tf.Variable(tf.zeros({ fan_out }), { name = name .. "/bias" })
end
local W1, b1 = dense(d, 256, "dense1")
local W2, b2 = dense(256, 128, "dense2")
local W3, b3 = dense(128, classes, "dense3")
local vars = { W1, b1, W2, b2, W3, b3 }

local function model(x)
  local h = tf.nn.relu(tf.matmul(x, W1) + b1)
  h = tf.nn.relu(tf.matmul(h, W2) + b2)
  return tf.matmul(h, W3) + b3
end

local optimizer = keras.optimizers.Nadam({ learning_rate = 1e-3 })
local batch = 32
local t0 = tf.core.now()
local first_loss, loss
for step = 1, steps do
  local idx = tf.random.uniform({ batch }, 0, n, tf.int32)
  local xb, yb = tf.gather(X, idx), tf.gather(labels, idx)
  local tape = tf.GradientTape()
  local logits = model(xb)
  loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits))
  local grads = tape:gradient(loss, vars)
  optimizer:apply_gradients(grads, vars)
  first_loss = first_loss or loss:item()
  if step % (steps // 5) == 0 then
    local acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1, { output_type = tf.int32 }), yb), tf.float32))
    print(("step %4d  loss %.4f  batch accuracy %.2f"):format(step, loss:item(), acc:item()))
  end
end
print(("%d steps in %.1f ms (%.3f ms/step)"):format(steps, (tf.core.now() - t0) * 1e3,
  (tf.core.now() - t0) * 1e3 / steps))
assert(loss:item() < first_loss, "the loss should go down")

-- Two optimizers on two groups of variables with one persistent tape
local w, c = tf.Variable(0.0), tf.Variable(0.0)
local opt_w = keras.optimizers.SGD({ learning_rate = 0.1 })
local opt_c = keras.optimizers.Adam({ learning_rate = 0.1 })
for _ = 1, 100 do
  local tape = tf.GradientTape({ persistent = true })
  local l = (w - 3.0) ^ 2 + (c + 1.0) ^ 2
  opt_w:apply_gradients({ tape:gradient(l, w) }, { w })
  opt_c:apply_gradients(tape:gradient(l, { c }), { c })
end
print(("two optimizers: w = %.3f (-> 3), c = %.3f (-> -1)"):format(w:item(), c:item()))

-- A numerically stable softplus with a custom gradient
local softplus = tf.custom_gradient(function(x)
  local y = tf.math.log1p(tf.exp(-tf.abs(x))) + tf.maximum(x, 0.0)
  return y, function(dy) return dy * tf.sigmoid(x) end
end)
local x = tf.constant({ -100.0, 0.0, 100.0 })
local tape = tf.GradientTape()
tape:watch(x)
local y = softplus(x)
print("softplus", y, "gradient", tape:gradient(y, x))

-- Second derivative of x^3 at 3
local v = tf.Variable(3.0)
local outer = tf.GradientTape()
local inner = tf.GradientTape()
local cube = v ^ 3
local d1 = inner:gradient(cube, v)
print(("d/dx x^3 = %g, d2/dx2 x^3 = %g at x = 3"):format(d1:item(), outer:gradient(d1, v):item()))

-- Checkpoints: both optimizers and their variables to disk, then a restore
-- into fresh objects continues exactly where the first run stopped
local dir = os.tmpname()
os.remove(dir)
local path = tf.train.Checkpoint({ opt_w = opt_w, opt_c = opt_c, w = w, c = c }):save(dir .. "/two_opt")
local w2, c2 = tf.Variable(0.0), tf.Variable(0.0)
local opt_w2 = keras.optimizers.SGD({ learning_rate = 0.1 })
local opt_c2 = keras.optimizers.Adam({ learning_rate = 0.1 })
tf.train.Checkpoint({ opt_w = opt_w2, opt_c = opt_c2, w = w2, c = c2 })
  :restore(tf.train.latest_checkpoint(dir))
local function one_step(wv, cv, ow, oc)
  local tp = tf.GradientTape({ persistent = true })
  local l = (wv - 3.0) ^ 2 + (cv + 1.0) ^ 2
  ow:apply_gradients({ tp:gradient(l, wv) }, { wv })
  oc:apply_gradients({ tp:gradient(l, cv) }, { cv })
end
one_step(w, c, opt_w, opt_c)
one_step(w2, c2, opt_w2, opt_c2)
assert(c:item() == c2:item() and opt_c2.iterations:item() == 101, "resumed run differs")
print(("checkpoint %s: resumed Adam at step %d, c = %.6f in both runs"):format(path, opt_c2.iterations:item(), c2:item()))
os.remove(path)
os.remove(dir .. "/checkpoint")
os.remove(dir)
