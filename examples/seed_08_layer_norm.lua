-- examples/seed_08_layer_norm.lua — the seed chapter's MyLayerNormalization
-- (alpha ones, beta zeros, tf.nn.moments over the last axis,
-- alpha * (X - mean) / sqrt(variance + epsilon) + beta) checked against
-- keras.layers.LayerNormalization to 1e-5 on random input, as the chapter's
-- np.testing.assert_allclose(rtol=1e-5, atol=1e-5) does.
-- Also checks the gradients with respect to the input and to alpha/beta
-- against the builtin layer's, compute_output_shape and get_config.
local MyLayerNormalization = keras.layers.Layer:extend("MyLayerNormalization")
function MyLayerNormalization:init(opts)
  opts = opts or {}
  MyLayerNormalization.super.init(self, opts)
  self.epsilon = opts.epsilon or 0.001 -- smoothing term to avoid division by zero
end
function MyLayerNormalization:build(batch_input_shape)
  local last = batch_input_shape[-1]
  self.alpha = self:add_weight{ name = "alpha", shape = { last }, initializer = "ones" }
  self.beta = self:add_weight{ name = "beta", shape = { last }, initializer = "zeros" }
  MyLayerNormalization.super.build(self, batch_input_shape)
end
function MyLayerNormalization:call(inputs)
  local mean, variance = tf.nn.moments(inputs, -1, { keepdims = true })
  local std_dev = tf.sqrt(variance + self.epsilon)
  return self.alpha * (inputs - mean) / std_dev + self.beta
end
function MyLayerNormalization:compute_output_shape(batch_input_shape) return batch_input_shape end
function MyLayerNormalization:get_config()
  local config = MyLayerNormalization.super.get_config(self)
  config.epsilon = self.epsilon
  return config
end

local function assert_allclose(a, b, rtol, atol, what)
  local diff = tf.abs(a - b)
  local bound = atol + rtol * tf.abs(b)
  local worst = tf.reduce_max(diff - bound):item()
  assert(worst <= 0, ("%s: not close (max |a-b| = %g)"):format(what, tf.reduce_max(diff):item()))
  return tf.reduce_max(diff):item()
end

tf.random.set_seed(42)
-- The chapter's case (batch 2, 5 features, uniform [0, 1)) and a larger one.
for _, shape in ipairs({ { 2, 5 }, { 64, 300 }, { 4, 7, 33 } }) do
  local X = tf.random.uniform(shape)
  local my_norm = MyLayerNormalization()
  local keras_norm = keras.layers.LayerNormalization()
  local tape = tf.GradientTape({ persistent = true })
  tape:watch(X)
  local my_output = my_norm(X)
  local keras_output = keras_norm(X)
  local w = tf.random.normal(shape) -- a random upstream gradient
  local l1, l2 = tf.reduce_sum(my_output * w), tf.reduce_sum(keras_output * w)
  local g1 = tape:gradient(l1, { X, my_norm.alpha, my_norm.beta })
  local g2 = tape:gradient(l2, { X, keras_norm.gamma, keras_norm.beta })
  local d = assert_allclose(my_output, keras_output, 1e-5, 1e-5, "outputs")
  assert_allclose(g1[1], g2[1], 1e-4, 1e-4, "d/dX")
  assert_allclose(g1[2], g2[2], 1e-4, 1e-4, "d/dalpha vs d/dgamma")
  assert_allclose(g1[3], g2[3], 1e-4, 1e-4, "d/dbeta")
  print(("shape %s: MyLayerNormalization matches keras.layers.LayerNormalization (max diff %.2e), gradients too")
    :format(tostring(X.shape), d))
  if shape[1] == 2 then
    print("Input X:\n", X)
    print("Output of MyLayerNormalization:\n", my_output)
    print("Output of keras LayerNormalization:\n", keras_output)
  end
end

local layer = MyLayerNormalization{ epsilon = 1e-5 }
assert(layer:get_config().epsilon == 1e-5, "get_config carries epsilon")
assert(tostring(layer:compute_output_shape(tf.TensorShape({ nil, 10 }, 2))) == "(None, 10)", "compute_output_shape")
print("Verified: the custom layer's output is very close to keras.layers.LayerNormalization's.")
