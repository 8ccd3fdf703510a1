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

require("keras.namespace").define(M, {
  kind = "regularizer", plural = "regularizers", base = Regularizer, by_name = by_name,
  serialize_hint = " (register it with keras.saving)",
  no_config = { l1_l2 = M.l1_l2 },   -- a bare "l1_l2" means l1 = l2 = 0.01, as Keras
})

return M
