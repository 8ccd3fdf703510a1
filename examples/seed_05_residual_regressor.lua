-- examples/seed_05_residual_regressor.lua — the seed chapter's ResidualBlock
-- layer and ResidualRegressor model (hidden1, block1 applied 1 + 3 times,
-- block2, out), trained with fit on a California-housing-like regression
-- (8 standardized features, a smooth non-linear target, synthetic: the real
-- data set is not packaged in Debian).
-- Asserts: the four applications of block1 share its weights (12 trainable
-- variables, 4,021 parameters); the validation loss goes well below the
-- variance of the target; a forward pass equals the same computation
-- written with tf ops on the model's own weights.
-- TLUA_EXAMPLE_QUICK=1 trains for fewer epochs.
local quick = os.getenv("TLUA_EXAMPLE_QUICK") == "1"
tf.random.set_seed(5)

local ResidualBlock = keras.layers.Layer:extend("ResidualBlock")
function ResidualBlock:init(opts)
  ResidualBlock.super.init(self, { name = opts.name })
  local hidden = {}
  for i = 1, opts.n_layers do
    hidden[i] = keras.layers.Dense(opts.n_neurons, { activation = "elu", kernel_initializer = "he_normal" })
  end
  self.hidden = hidden -- assigned as a whole: the layer tracks the list's layers
  self.n_layers, self.n_neurons = opts.n_layers, opts.n_neurons
end
function ResidualBlock:call(inputs)
  local Z = inputs
  for _, layer in ipairs(self.hidden) do Z = layer(Z) end
  return inputs + Z
end

local ResidualRegressor = keras.Model:extend("ResidualRegressor")
function ResidualRegressor:init(opts)
  ResidualRegressor.super.init(self, { name = opts.name })
  self.hidden1 = keras.layers.Dense(30, { activation = "elu", kernel_initializer = "he_normal" })
  self.block1 = ResidualBlock{ n_layers = 2, n_neurons = 30 }
  self.block2 = ResidualBlock{ n_layers = 2, n_neurons = 30 }
  self.out = keras.layers.Dense(opts.output_dim)
end
function ResidualRegressor:call(inputs)
  local Z = self.hidden1(inputs)
  for _ = 1, 1 + 3 do Z = self.block1(Z) end -- 1 initial + 3 additional applications
  Z = self.block2(Z)
  return self.out(Z)
end

-- Synthetic California-housing-like data, standardized target.
local n = 8192
local X = tf.random.normal({ n, 8 })
local col = function(j) return X[{ ":", { j, j + 1 } }] end
local y = 0.9 * col(0) - 0.4 * col(1) * col(2) + 0.5 * tf.sin(2 * col(3)) + 0.3 * tf.square(col(4))
  - 0.2 * col(5) + tf.random.normal({ n, 1 }, 0, 0.1)
y = (y - tf.reduce_mean(y)) / tf.math.reduce_std(y)
local n_train = n * 3 // 4
local X_train, y_train = X[{ { 0, n_train } }], y[{ { 0, n_train } }]
local X_valid, y_valid = X[{ { n_train } }], y[{ { n_train } }]

local model = ResidualRegressor{ output_dim = 1 }
model:compile{ loss = "mse", optimizer = "nadam" }
local history = model:fit(X_train, y_train, { epochs = quick and 8 or 30, batch_size = 32,
  validation_data = { X_valid, y_valid }, verbose = quick and 0 or "auto" })
local h = history.history
print(("ResidualRegressor: loss %.4f -> %.4f, val_loss %.4f -> %.4f"):format(h.loss[1], h.loss[#h.loss],
  h.val_loss[1], h.val_loss[#h.val_loss]))
-- The target has variance 1: predicting its mean would give an MSE of 1.
local bound = quick and 0.5 or 0.15
assert(h.val_loss[#h.val_loss] < bound, ("val_loss %.4f: the residual regressor should explain most of the variance (< %.2f)")
  :format(h.val_loss[#h.val_loss], bound))
assert(h.loss[#h.loss] < h.loss[1], "the loss should go down")

-- block1 is one set of weights used four times.
local vars = model.trainable_variables
assert(#vars == 12, ("expected 12 trainable variables, got %d"):format(#vars))
assert(model:count_params() == (8 * 30 + 30) + 2 * 2 * (30 * 30 + 30) + (30 + 1), "parameter count")

-- The forward pass by hand on the model's weights.
local function dense(layer, x, act)
  local z = tf.matmul(x, layer.kernel) + layer.bias
  return act and tf.nn.elu(z) or z
end
local function block(b, x)
  local z = x
  for _, l in ipairs(b.hidden) do z = dense(l, z, true) end
  return x + z
end
local x = X_valid["0:16"]
local z = dense(model.hidden1, x, true)
for _ = 1, 4 do z = block(model.block1, z) end
local want = dense(model.out, block(model.block2, z), false)
local diff = tf.reduce_max(tf.abs(model(x) - want)):item()
assert(diff < 1e-5, ("forward pass differs from the hand computation by %g"):format(diff))
print(("%d trainable variables, %d parameters; forward pass matches by hand (%.1e)"):format(#vars, model:count_params(), diff))
