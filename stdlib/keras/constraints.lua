-- keras.constraints: projections applied to weights after each optimizer
-- step (MaxNorm, NonNeg, UnitNorm, MinMaxNorm).
--
--   Dense(64, {kernel_constraint = keras.constraints.MaxNorm{max_value = 2, axis = 0}})
--   keras.constraints.of(var)         -- the constraint recorded for a variable (or nil)
--   keras.constraints.apply(vars)     -- var:assign(constraint(var)) for the constrained ones
--
-- Keras applies a variable's constraint in the optimizer right after its
-- update; here layers record the constraint of each weight in a weak-keyed
-- map (set(var, c), done by Layer:add_weight) and the training step
-- (keras.models / keras.training) calls apply(vars) after
-- apply_gradients. Custom loops call it themselves. Constraints are
-- callables c(w) -> tensor of w's shape built from ops (axis is 0-based,
-- negative from the end; default 0 as Keras: the input axis of a Dense kernel).
local class = require("tlua.class")
local core = require("tlua.core")
local tf = require("tlua")

local M = {}
local raise = core.raise

local by_var = setmetatable({}, { __mode = "k" })

function M.set(var, c)
  if not core.is_variable(var) then raise("InvalidArgument", "keras.constraints.set: expected a tf.Variable") end
  by_var[var] = c
end
function M.of(var) return by_var[var] end

-- Project every constrained variable of vars (a list) onto its constraint.
function M.apply(vars)
  for i = 1, #vars do
    local v = vars[i]
    local c = by_var[v]
    if c then
      local out = c(v:read_value())
      if out.dtype ~= v.dtype then out = tf.cast(out, v.dtype) end
      v:assign(out)
    end
  end
end

local Constraint = class("Constraint")
M.Constraint = Constraint
function Constraint:__call(w)
  if core.is_variable(w) then w = w:read_value() end
  return self:call(w)
end
function Constraint:call(w) return w end
function Constraint:get_config() return {} end

local function axis_list(axis)
  if type(axis) == "number" then return { math.tointeger(axis) } end
  return axis
end

local function norms(w, axis)
  return tf.sqrt(tf.reduce_sum(tf.square(w), axis_list(axis), { keepdims = true }))
end

local function check_axis(who, axis)
  if axis == nil then return 0 end
  if math.type(axis) == "integer" then return axis end
  if type(axis) == "table" then
    for _, a in ipairs(axis) do
      if math.type(a) ~= "integer" then raise("InvalidArgument", who .. ": axis must be an integer or a list of integers") end
    end
    return axis
  end
  raise("InvalidArgument", who .. ": axis must be an integer or a list of integers, got " .. tostring(axis))
end

local MaxNorm = Constraint:extend("MaxNorm")
function MaxNorm:init(...)
  local o = class.options("MaxNorm", { positional = { "max_value", "axis" }, defaults = { max_value = 2, axis = 0 } }, ...)
  self.max_value, self.axis = o.max_value, check_axis("MaxNorm", o.axis)
end
function MaxNorm:call(w)
  local n = norms(w, self.axis)
  local desired = tf.clip_by_value(n, 0, self.max_value)
  return w * (desired / (n + 1e-7))
end
function MaxNorm:get_config() return { max_value = self.max_value, axis = self.axis } end
M.MaxNorm = MaxNorm

local NonNeg = Constraint:extend("NonNeg")
function NonNeg:init(...) class.options("NonNeg", { defaults = {} }, ...) end
function NonNeg:call(w) return w * tf.cast(tf.greater_equal(w, 0), w.dtype) end
M.NonNeg = NonNeg

local UnitNorm = Constraint:extend("UnitNorm")
function UnitNorm:init(...)
  local o = class.options("UnitNorm", { positional = { "axis" }, defaults = { axis = 0 } }, ...)
  self.axis = check_axis("UnitNorm", o.axis)
end
function UnitNorm:call(w) return w / (norms(w, self.axis) + 1e-7) end
function UnitNorm:get_config() return { axis = self.axis } end
M.UnitNorm = UnitNorm

local MinMaxNorm = Constraint:extend("MinMaxNorm")
function MinMaxNorm:init(...)
  local o = class.options("MinMaxNorm", { positional = { "min_value", "max_value", "rate", "axis" },
    defaults = { min_value = 0.0, max_value = 1.0, rate = 1.0, axis = 0 } }, ...)
  self.min_value, self.max_value, self.rate = o.min_value, o.max_value, o.rate
  self.axis = check_axis("MinMaxNorm", o.axis)
  if self.min_value > self.max_value then
    raise("InvalidArgument", ("MinMaxNorm: min_value (%g) is greater than max_value (%g)"):format(self.min_value, self.max_value))
  end
end
function MinMaxNorm:call(w)
  local n = norms(w, self.axis)
  local desired = tf.clip_by_value(n, self.min_value, self.max_value) * self.rate + n * (1 - self.rate)
  return w * (desired / (n + 1e-7))
end
function MinMaxNorm:get_config()
  return { min_value = self.min_value, max_value = self.max_value, rate = self.rate, axis = self.axis }
end
M.MinMaxNorm = MinMaxNorm

local by_name = {
  MaxNorm = MaxNorm, NonNeg = NonNeg, UnitNorm = UnitNorm, MinMaxNorm = MinMaxNorm,
  max_norm = MaxNorm, non_neg = NonNeg, unit_norm = UnitNorm, min_max_norm = MinMaxNorm,
}
M._by_name = by_name
M.max_norm, M.non_neg, M.unit_norm, M.min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

require("keras.namespace").define(M, {
  kind = "constraint", plural = "constraints", base = Constraint, by_name = by_name,
  serialize_hint = " (register it with keras.saving)",
})

return M
