-- keras.activations: Keras's activation functions, by name.
--
--   keras.activations.get("relu")(x)          -- a plain Lua function of a tensor
--   keras.activations.relu(x, {negative_slope=, max_value=, threshold=})
--   keras.activations.serialize(keras.activations.relu)   -- "relu"
--   keras.activations.deserialize("softmax") / get({class_name="softmax", config={}})
--
-- Every activation is a Lua function f(x[, opts]) built from existing ops
-- (no element loops in Lua). get(nil) is linear, as Keras. serialize of a
-- function that is not a builtin asks keras.saving for a registered or
-- source name when that module exists, else raises. Formulas follow Keras 3
-- (keras 3.15): hard_sigmoid(x) = clip(x/6 + 1/2, 0, 1), leaky_relu's
-- negative_slope defaults to 0.2, gelu is exact unless {approximate=true}.
local core = require("tlua.core")
local tf = require("tlua")

local M = {}
local raise = core.raise
local ops = core.ops

function M.linear(x) return x end

function M.relu(x, opts)
  if opts == nil then return ops.relu(x) end
  local slope, max_value, threshold = opts.negative_slope or opts.alpha or 0, opts.max_value, opts.threshold or 0
  local y
  if threshold ~= 0 then
    y = tf.where(tf.greater(x, threshold), x, 0 * x)
  else
    y = ops.relu(x)
  end
  if max_value ~= nil then y = tf.minimum(y, max_value) end
  if slope ~= 0 then
    local neg = tf.minimum(x - threshold, 0) * slope
    y = y + neg
  end
  return y
end

function M.sigmoid(x) return ops.sigmoid(x) end
function M.tanh(x) return ops.tanh(x) end
function M.softmax(x, axis)
  if type(axis) == "table" then axis = axis.axis end
  return tf.nn.softmax(x, axis or -1)
end
function M.log_softmax(x, axis)
  if type(axis) == "table" then axis = axis.axis end
  return tf.nn.log_softmax(x, axis or -1)
end
function M.elu(x, alpha)
  if type(alpha) == "table" then alpha = alpha.alpha end
  if alpha == nil or alpha == 1 then return ops.elu(x) end
  return tf.where(tf.greater(x, 0), x, ops.elu(x) * alpha)
end
function M.selu(x) return ops.selu(x) end
function M.softplus(x) return ops.softplus(x) end
function M.softsign(x) return ops.softsign(x) end
function M.swish(x) return x * ops.sigmoid(x) end
M.silu = M.swish
function M.gelu(x, approximate)
  if type(approximate) == "table" then approximate = approximate.approximate end
  return tf.nn.gelu(x, { approximate = approximate and true or false })
end
function M.exponential(x) return ops.exp(x) end
function M.leaky_relu(x, negative_slope)
  if type(negative_slope) == "table" then negative_slope = negative_slope.negative_slope or negative_slope.alpha end
  return tf.nn.leaky_relu(x, negative_slope or 0.2)
end
function M.relu6(x) return ops.relu6(x) end
function M.hard_sigmoid(x) return tf.clip_by_value(x / 6 + 0.5, 0, 1) end
function M.hard_silu(x) return x * M.hard_sigmoid(x) end
M.hard_swish = M.hard_silu
function M.mish(x) return x * ops.tanh(ops.softplus(x)) end

-- name -> function, and function -> canonical name
local names = {
  "linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "elu", "selu", "softplus",
  "softsign", "swish", "silu", "gelu", "exponential", "leaky_relu", "relu6", "hard_sigmoid",
  "hard_silu", "hard_swish", "mish",
}
local by_name, name_of = {}, {}
for _, n in ipairs(names) do
  by_name[n] = M[n]
  if name_of[M[n]] == nil then name_of[M[n]] = n end
end
name_of[M.silu] = "silu"   -- Keras 3 serializes swish as "silu"
by_name.swish = M.swish
M._by_name = by_name

-- Is fn a builtin activation? Returns its name.
function M.name_of(fn) return name_of[fn] end

function M.serialize(fn)
  if fn == nil then return "linear" end
  local n = name_of[fn]
  if n then return n end
  if type(fn) == "string" and by_name[fn] then return fn end
  local ok, saving = pcall(require, "keras.saving")
  if ok and type(saving) == "table" and saving.function_name and type(fn) == "function" then
    local name = saving.function_name(fn)
    if name then return name end
  end
  if ok and type(saving) == "table" and saving.serialize_keras_object then
    return saving.serialize_keras_object(fn)
  end
  raise("InvalidArgument", "keras.activations.serialize: this activation is not a builtin and keras.saving cannot name it (register it with keras.saving.register_keras_serializable)")
end

function M.deserialize(spec, custom_objects)
  if type(spec) == "table" and getmetatable(spec) == nil and spec.class_name ~= nil then
    local cfg = spec.config
    local name = spec.class_name
    if name == "function" or name == "__lambda__" then name = type(cfg) == "string" and cfg or (cfg and cfg.fn_name) end
    spec = name
  end
  if type(spec) ~= "string" then
    raise("InvalidArgument", ("keras.activations.deserialize: expected a name, got %s"):format(type(spec)))
  end
  if custom_objects and custom_objects[spec] then return custom_objects[spec] end
  local fn = by_name[spec]
  if fn then return fn end
  local ok, saving = pcall(require, "keras.saving")
  if ok and type(saving) == "table" and saving.deserialize_keras_object then
    local found, v = pcall(saving.deserialize_keras_object, spec, { custom_objects = custom_objects, kind = "activation" })
    if found and v then return v end
  end
  raise("InvalidArgument", ("Unknown activation: '%s'"):format(spec))
end

function M.get(identifier)
  if identifier == nil then return M.linear end
  local t = type(identifier)
  if t == "function" then return identifier end
  if t == "string" then return M.deserialize(identifier) end
  if t == "table" then
    local mt = getmetatable(identifier)
    if mt and mt.__call then return identifier end
    if mt == nil and identifier.class_name ~= nil then return M.deserialize(identifier) end
  end
  raise("InvalidArgument", ("keras.activations.get: could not interpret activation identifier: %s"):format(tostring(identifier)))
end

return M
