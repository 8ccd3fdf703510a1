-- keras.regularizers: weight penalties (L1, L2, L1L2, OrthogonalRegularizer-free).
--
--   keras.regularizers.L2(0.01)(w)         -- 0.01 * sum(w^2), a scalar tensor
--   keras.regularizers.l1_l2{l1 = 0.01, l2 = 0.01}
--   keras.regularizers.get("l2")           -- L2 with Keras's default factor 0.01
--   Dense(64, {kernel_regularizer = keras.regularizers.l2(1e-4)})
--
-- A regularizer is a callable object reg(x) -> scalar tensor (ops only;
-- computed on variables or tensors) with get_config(); plain Lua functions
-- are accepted wherever a regularizer is. Layers evaluate weight penalties
-- at each access of `layer.losses` (keras/layer.lua).
local class = require("tlua.class")
local core = require("tlua.core")
local tf = require("tlua")

local M = {}
local raise = core.raise

local Regularizer = class("Regularizer")
M.Regularizer = Regularizer

function Regularizer:__call(x) return self:call(x) end
function Regularizer:call(x)
  raise("Unimplemented", getmetatable(self).class_name .. ": call(x) is not implemented")
end
function Regularizer:get_config() return {} end
function Regularizer:__tostring()
  local cfg = self:get_config()
  local parts = {}
  for k, v in pairs(cfg) do parts[#parts + 1] = k .. "=" .. tostring(v) end
  table.sort(parts)
  return ("<keras.regularizers.%s %s>"):format(getmetatable(self).class_name, table.concat(parts, ", "))
end

local function factor(cls_name, key, v)
  if type(v) ~= "number" or v < 0 or v ~= v then
    raise("InvalidArgument", ("%s: %s must be a non-negative number, got %s"):format(cls_name, key, tostring(v)))
  end
  return v
end

local function value_of(x)
  if core.is_variable(x) then return x:read_value() end
  return x
end

local L1 = Regularizer:extend("L1")
function L1:init(...)
  local o = class.options("L1", { positional = { "l1" }, defaults = { l1 = 0.01 } }, ...)
  self.l1 = factor("L1", "l1", o.l1)
end
function L1:call(x) return tf.reduce_sum(tf.abs(value_of(x))) * self.l1 end
function L1:get_config() return { l1 = self.l1 } end
M.L1 = L1

local L2 = Regularizer:extend("L2")
function L2:init(...)
  local o = class.options("L2", { positional = { "l2" }, defaults = { l2 = 0.01 } }, ...)
  self.l2 = factor("L2", "l2", o.l2)
end
function L2:call(x) return tf.reduce_sum(tf.square(value_of(x))) * self.l2 end
function L2:get_config() return { l2 = self.l2 } end
M.L2 = L2

-- L1L2(): both factors default to 0 as Keras's class; the l1_l2 function
-- defaults both to 0.01.
local L1L2 = Regularizer:extend("L1L2")
function L1L2:init(...)
  local o = class.options("L1L2", { positional = { "l1", "l2" }, defaults = { l1 = 0.0, l2 = 0.0 } }, ...)
  self.l1 = factor("L1L2", "l1", o.l1)
  self.l2 = factor("L1L2", "l2", o.l2)
end
function L1L2:call(x)
  x = value_of(x)
  local out
  if self.l1 ~= 0 then out = tf.reduce_sum(tf.abs(x)) * self.l1 end
  if self.l2 ~= 0 then
    local p = tf.reduce_sum(tf.square(x)) * self.l2
    out = out and out + p or p
  end
  return out or tf.zeros({}, x.dtype)
end
function L1L2:get_config() return { l1 = self.l1, l2 = self.l2 } end
M.L1L2 = L1L2

function M.l1(l1) if type(l1) == "table" then return L1(l1) end return L1(l1 or 0.01) end
function M.l2(l2) if type(l2) == "table" then return L2(l2) end return L2(l2 or 0.01) end
function M.l1_l2(l1, l2)
  if type(l1) == "table" then
    return L1L2 { l1 = l1.l1 or 0.01, l2 = l1.l2 or 0.01 }
  end
  return L1L2(l1 or 0.01, l2 or 0.01)
end

local by_name = { L1 = L1, L2 = L2, L1L2 = L1L2, l1 = L1, l2 = L2, l1_l2 = L1L2 }
M._by_name = by_name

function M.serialize(obj)
  if obj == nil then return nil end
  if class.is_instance(obj, Regularizer) then
    return { class_name = getmetatable(obj).class_name, config = obj:get_config() }
  end
  local ok, saving = pcall(require, "keras.saving")
  if ok and type(saving) == "table" and saving.serialize_keras_object then return saving.serialize_keras_object(obj) end
  raise("InvalidArgument", ("keras.regularizers.serialize: cannot serialize %s (register it with keras.saving)"):format(tostring(obj)))
end

function M.deserialize(spec, custom_objects)
  local name, cfg = spec, nil
  if type(spec) == "table" and getmetatable(spec) == nil then name, cfg = spec.class_name, spec.config end
  if type(name) ~= "string" then
    raise("InvalidArgument", ("keras.regularizers.deserialize: expected a name or {class_name=, config=}, got %s"):format(type(spec)))
  end
  local cls = (custom_objects and custom_objects[name]) or by_name[name]
  if cls == nil then
    local ok, saving = pcall(require, "keras.saving")
    if ok and type(saving) == "table" and saving.deserialize_keras_object then
      local found, v = pcall(saving.deserialize_keras_object, spec, { custom_objects = custom_objects, kind = "regularizer" })
      if found and v then return v end
    end
    raise("InvalidArgument", ("Unknown regularizer: '%s'"):format(name))
  end
  if type(cls) == "function" then return cls end
  if name == "l1_l2" and not cfg then return M.l1_l2() end
  if cfg and next(cfg) ~= nil then return cls(cfg) end
  return cls()
end

function M.get(identifier)
  if identifier == nil then return nil end
  local t = type(identifier)
  if t == "string" or (t == "table" and getmetatable(identifier) == nil) then return M.deserialize(identifier) end
  if t == "function" then return identifier end
  if t == "table" and getmetatable(identifier) and getmetatable(identifier).__call then return identifier end
  raise("InvalidArgument", ("keras.regularizers.get: could not interpret regularizer identifier: %s"):format(tostring(identifier)))
end

return M
