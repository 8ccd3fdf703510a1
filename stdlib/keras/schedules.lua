-- keras.optimizers.schedules: learning-rate schedules (tf.keras 2.13+).
--
--   local lr = keras.optimizers.schedules.ExponentialDecay(0.1, 1000, 0.96, {staircase = true})
--   lr(step)              -- a Lua number; step: number, or a scalar tensor/variable
--   lr:get_config()       -- ExponentialDecay.from_config(cfg) == ExponentialDecay(cfg)
--
-- An optimizer calls its schedule with its `iterations` variable (the
-- number of steps already applied) before each step: given a tensor or
-- variable, a schedule computes with float64 ops and returns a scalar
-- tensor, so a traced step evaluates it from the variable instead of
-- freezing a number. Given a Lua number it computes in Lua (double
-- precision, the same formulas) and returns a number.
local class = require("tlua.class")
local core = require("tlua.core")

local M = {}

local function raise(kind, msg) core.raise(kind, msg) end

-- The same formulas over Lua numbers or float64 tensors: each schedule
-- computes with these instead of math.* and if/else.
local num = {
  floor = math.floor, ceil = math.ceil, min = math.min, cos = math.cos, log = math.log,
  where = function(c, a, b) if c then return a end return b end,
  le = function(a, b) return a <= b end, lt = function(a, b) return a < b end,
  eq = function(a, b) return a == b end,
}
local ten
local function tensor_math()
  if ten then return ten end
  local ops = core.ops
  local function f64(x) return type(x) == "number" and core.constant(x, "float64") or x end
  ten = {
    floor = ops.floor, ceil = ops.ceil, cos = ops.cos, log = ops.log,
    min = function(a, b) return ops.minimum(f64(a), f64(b)) end,
    where = function(c, a, b) return ops.where(c, f64(a), f64(b)) end,
    le = function(a, b) return ops.less_equal(f64(a), f64(b)) end,
    lt = function(a, b) return ops.less(f64(a), f64(b)) end,
    eq = function(a, b) return ops.equal(f64(a), f64(b)) end,
  }
  return ten
end

-- step -> (step as a number or a float64 tensor, the math to use).
local function step_value(step)
  if type(step) == "number" then return step, num end
  if core.is_tensor(step) then
    if core.is_variable(step) then step = step:read_value() end
    if step.ndim ~= 0 then
      raise("InvalidArgument", ("learning-rate schedule: step must be a scalar, got shape %s"):format(tostring(step.shape)))
    end
    return core.ops.cast(step, "float64"), tensor_math()
  end
  raise("InvalidArgument", ("learning-rate schedule: step must be a number or a scalar tensor, got %s"):format(type(step)))
end

local LearningRateSchedule = class("LearningRateSchedule")
M.LearningRateSchedule = LearningRateSchedule

-- Subclasses list their options: positional names and defaults (nil-able
-- ones in optional); required = options without a default.
local function define(name, spec, compute)
  local cls = LearningRateSchedule:extend(name)
  cls.spec = spec
  function cls:init(...)
    local cfg = class.options(name, spec, ...)
    for _, k in ipairs(spec.required or {}) do
      if cfg[k] == nil then raise("InvalidArgument", ("%s: '%s' is required"):format(name, k)) end
    end
    for k, v in pairs(cfg) do self[k] = v end
    if self.validate then self:validate() end
  end
  function cls:__call(step)
    local x, m = step_value(step)
    return compute(self, x, m)
  end
  function cls:get_config()
    local cfg = {}
    for k in pairs(spec.defaults) do cfg[k] = self[k] end
    for _, k in ipairs(spec.optional or {}) do cfg[k] = self[k] end
    for _, k in ipairs(spec.positional) do cfg[k] = self[k] end
    return cfg
  end
  M[name] = cls
  return cls
end

define("ExponentialDecay", {
  positional = { "initial_learning_rate", "decay_steps", "decay_rate", "staircase" },
  required = { "initial_learning_rate", "decay_steps", "decay_rate" },
  defaults = { staircase = false }, optional = { "name" },
}, function(self, step, m)
  local p = step / self.decay_steps
  if self.staircase then p = m.floor(p) end
  return self.initial_learning_rate * self.decay_rate ^ p
end)

-- values[i] applies while step <= boundaries[i]; the last value after.
local Piecewise = define("PiecewiseConstantDecay", {
  positional = { "boundaries", "values" }, required = { "boundaries", "values" },
  defaults = {}, optional = { "name" },
}, function(self, step, m)
  local b, v = self.boundaries, self.values
  local out = v[#v]
  for i = #b, 1, -1 do out = m.where(m.le(step, b[i]), v[i], out) end
  return out
end)
function Piecewise:validate()
  if #self.values ~= #self.boundaries + 1 then
    raise("InvalidArgument", ("PiecewiseConstantDecay: values must have one more element than boundaries (%d values, %d boundaries)")
      :format(#self.values, #self.boundaries))
  end
end

define("PolynomialDecay", {
  positional = { "initial_learning_rate", "decay_steps", "end_learning_rate", "power", "cycle" },
  required = { "initial_learning_rate", "decay_steps" },
  defaults = { end_learning_rate = 0.0001, power = 1.0, cycle = false }, optional = { "name" },
}, function(self, step, m)
  local decay_steps = self.decay_steps
  if self.cycle then
    local mult = m.where(m.eq(step, 0), 1, m.ceil(step / decay_steps))
    decay_steps = mult * decay_steps
  else
    step = m.min(step, decay_steps)
  end
  local p = step / decay_steps
  return (1 - p) ^ self.power * (self.initial_learning_rate - self.end_learning_rate) + self.end_learning_rate
end)

define("InverseTimeDecay", {
  positional = { "initial_learning_rate", "decay_steps", "decay_rate", "staircase" },
  required = { "initial_learning_rate", "decay_steps", "decay_rate" },
  defaults = { staircase = false }, optional = { "name" },
}, function(self, step, m)
  local p = step / self.decay_steps
  if self.staircase then p = m.floor(p) end
  return self.initial_learning_rate / (p * self.decay_rate + 1)
end)

-- Cosine decay with optional linear warmup (TF 2.13 / Keras 3): from
-- initial_learning_rate up to warmup_target over warmup_steps, then cosine
-- from warmup_target (or initial_learning_rate without warmup) to alpha times it.
define("CosineDecay", {
  positional = { "initial_learning_rate", "decay_steps", "alpha" },
  required = { "initial_learning_rate", "decay_steps" },
  defaults = { alpha = 0.0, warmup_steps = 0 }, optional = { "name", "warmup_target" },
}, function(self, step, m)
  local function decayed(st, from)
    local frac = st / self.decay_steps
    local cosine = (m.cos(frac * math.pi) + 1) * 0.5
    return ((1 - self.alpha) * cosine + self.alpha) * from
  end
  if self.warmup_target == nil then
    return decayed(m.min(step, self.decay_steps), self.initial_learning_rate)
  end
  step = m.min(step, self.decay_steps + self.warmup_steps)
  local warm = self.warmup_steps > 0
    and (step / self.warmup_steps) * (self.warmup_target - self.initial_learning_rate) + self.initial_learning_rate
    or self.initial_learning_rate
  return m.where(m.lt(step, self.warmup_steps), warm, decayed(step - self.warmup_steps, self.warmup_target))
end)

define("CosineDecayRestarts", {
  positional = { "initial_learning_rate", "first_decay_steps", "t_mul", "m_mul", "alpha" },
  required = { "initial_learning_rate", "first_decay_steps" },
  defaults = { t_mul = 2.0, m_mul = 1.0, alpha = 0.0 }, optional = { "name" },
}, function(self, step, m)
  local frac = step / self.first_decay_steps
  local t_mul, i_restart = self.t_mul, nil
  if t_mul == 1.0 then
    i_restart = m.floor(frac)
    frac = frac - i_restart
  else
    i_restart = m.floor(m.log(1 - frac * (1 - t_mul)) / math.log(t_mul))
    local sum_r = (1 - t_mul ^ i_restart) / (1 - t_mul)
    frac = (frac - sum_r) / t_mul ^ i_restart
  end
  local cosine = (m.cos(frac * math.pi) + 1) * (self.m_mul ^ i_restart * 0.5)
  return ((1 - self.alpha) * cosine + self.alpha) * self.initial_learning_rate
end)

-- serialize(schedule) -> {class_name=, config=}; deserialize inverts it.
function M.serialize(s)
  return { class_name = getmetatable(s).class_name, config = s:get_config() }
end

function M.deserialize(cfg)
  local cls = type(cfg) == "table" and M[cfg.class_name]
  if not cls or not class.is_subclass(cls, LearningRateSchedule) then
    raise("InvalidArgument", ("unknown learning-rate schedule '%s'"):format(tostring(type(cfg) == "table" and cfg.class_name)))
  end
  return cls.from_config(cfg.config or {})
end

function M.is_schedule(x) return class.is_instance(x, LearningRateSchedule) end

return M
