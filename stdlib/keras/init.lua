-- keras: the Keras library, also reachable as tf.keras.
--
-- Namespaces load on first use (keras.optimizers requires keras/optimizers.lua),
-- so `require("keras")` is cheap and this file never requires tlua: tlua's
-- init sets tf.keras = require("keras"), and keras modules that need tf
-- require("tlua") inside their functions.
local keras = {}

-- Namespace -> module. Add new Keras namespaces here.
local namespaces = {
  optimizers = "keras.optimizers",
  layers = "keras.layers",
  losses = "keras.losses",
  metrics = "keras.metrics",
  activations = "keras.activations",
  initializers = "keras.initializers",
  regularizers = "keras.regularizers",
  constraints = "keras.constraints",
  callbacks = "keras.callbacks",
  models = "keras.models",
  datasets = "keras.datasets",
  utils = "keras.utils",
  backend = "keras.backend",
  saving = "keras.saving",
}
keras._namespaces = namespaces

-- Top-level names -> {module, field}: keras.Sequential is keras.models.Sequential.
local toplevel = {
  Sequential = { "keras.models", "Sequential" },
  Model = { "keras.models", "Model" },
  Input = { "keras.models", "Input" },
}

return setmetatable(keras, {
  __index = function(t, k)
    local m = namespaces[k]
    local v
    if m ~= nil then
      v = require(m)
    elseif toplevel[k] then
      v = require(toplevel[k][1])[toplevel[k][2]]
    else
      return nil
    end
    rawset(t, k, v)
    return v
  end,
})
