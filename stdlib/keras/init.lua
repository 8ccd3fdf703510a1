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
  -- layers = "keras.layers", losses = "keras.losses", metrics = "keras.metrics",
  -- activations = "keras.activations", initializers = "keras.initializers",
  -- regularizers = "keras.regularizers", callbacks = "keras.callbacks",
  -- models = "keras.models", datasets = "keras.datasets", utils = "keras.utils",
}
keras._namespaces = namespaces

return setmetatable(keras, {
  __index = function(t, k)
    local m = namespaces[k]
    if m == nil then return nil end
    local v = require(m)
    rawset(t, k, v)
    return v
  end,
})
