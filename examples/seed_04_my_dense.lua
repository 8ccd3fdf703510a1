-- examples/seed_04_my_dense.lua — the seed chapter's MyDense custom layer:
-- build (add_weight kernel glorot_normal, bias zeros), call, compute_output_shape,
-- get_config with the activation serialized, used in a model that is
-- trained, saved and loaded back with custom_objects = {MyDense = MyDense}.
-- Asserts: MyDense computes what keras.layers.Dense computes with the same
-- weights (an independent implementation); compute_output_shape keeps the
-- unknown batch dimension; variable names are "<layer>/kernel:0"; the
-- loaded model has the same config (units, activation) and predictions.
-- TLUA_EXAMPLE_QUICK=1 trains for fewer epochs.
local quick = os.getenv("TLUA_EXAMPLE_QUICK") == "1"
tf.random.set_seed(4)

local MyDense = keras.layers.Layer:extend("MyDense")
-- MyDense{units = 30, activation = "relu"} (or MyDense(30, {activation = "relu"})).
function MyDense:init(opts, more)
  if type(opts) == "number" then
    local o = { units = opts }
    for k, v in pairs(more or {}) do o[k] = v end
    opts = o
  end
  MyDense.super.init(self, opts)
  self.units = opts.units
  self.activation = keras.activations.get(opts.activation)
end

function MyDense:build(batch_input_shape)
  self.kernel = self:add_weight{ name = "kernel", shape = { batch_input_shape[-1], self.units },
    initializer = "glorot_normal" }
  self.bias = self:add_weight{ name = "bias", shape = { self.units }, initializer = "zeros" }
  MyDense.super.build(self, batch_input_shape)
end

function MyDense:call(X) return self.activation(tf.matmul(X, self.kernel) + self.bias) end

function MyDense:compute_output_shape(batch_input_shape)
  local dims = batch_input_shape:as_list()
  local n = dims.n or #dims
  dims[n] = self.units
  return tf.TensorShape(dims, n)
end

function MyDense:get_config()
  local config = MyDense.super.get_config(self)
  config.units = self.units
  config.activation = keras.activations.serialize(self.activation)
  return config
end

-- Against keras.layers.Dense with the same weights.
do
  local mine = MyDense(16, { activation = "relu", name = "mine" })
  local x = tf.random.normal({ 5, 8 })
  local y = mine(x)
  assert(mine.kernel.name == "mine/kernel:0", "kernel name: " .. tostring(mine.kernel.name))
  local ref = keras.layers.Dense(16, { activation = "relu" })
  ref(x) -- builds it
  ref:set_weights(mine:get_weights())
  local diff = tf.reduce_max(tf.abs(ref(x) - y)):item()
  assert(diff < 1e-6, ("MyDense vs keras.layers.Dense: %g"):format(diff))
  local out = mine:compute_output_shape(tf.TensorShape({ nil, 8 }, 2))
  assert(tostring(out) == "(None, 16)", "compute_output_shape: " .. tostring(out))
  local cfg = mine:get_config()
  assert(cfg.units == 16 and cfg.activation == "relu" and cfg.name == "mine", "get_config")
  print("MyDense matches Dense; output shape " .. tostring(out) .. "; weights " .. mine.kernel.name .. ", " .. mine.bias.name)
end

local n = 1024
local X = tf.random.normal({ n, 8 })
local y = tf.matmul(tf.tanh(X), tf.random.normal({ 8, 1 }))
local model = keras.Sequential{
  MyDense{ units = 30, activation = "relu", input_shape = { 8 } },
  MyDense{ units = 1 },
}
model:compile{ loss = "mse", optimizer = "nadam" }
local history = model:fit(X, y, { epochs = quick and 3 or 20, batch_size = 32, verbose = 0 })
local losses = history.history.loss
print(("Sequential of MyDense: loss %.4f -> %.4f, %d parameters"):format(losses[1], losses[#losses], model:count_params()))
assert(model:count_params() == 8 * 30 + 30 + 30 + 1, "parameter count")
assert(losses[#losses] < 0.7 * losses[1], "training should lower the loss")

local base = os.tmpname()
os.remove(base)
local path = base .. ".safetensors"
model:save(path)
local loaded = keras.models.load_model(path, { custom_objects = { MyDense = MyDense } })
os.remove(path)
local l1 = loaded.layers[1]
assert(l1.units == 30 and keras.activations.serialize(l1.activation) == "relu", "loaded MyDense config")
assert(tf.reduce_max(tf.abs(loaded:predict(X["0:64"]) - model:predict(X["0:64"]))):item() == 0, "predictions differ")
print("loaded: " .. l1.name .. " units " .. l1.units .. ", activation " .. keras.activations.serialize(l1.activation))
