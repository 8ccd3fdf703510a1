-- keras.optimizers.schedules: learning-rate schedules (tf.keras 2.13+).
--
--   local lr = keras.optimizers.schedules.ExponentialDecay(0.1, 1000, 0.96, {staircase = true})
--   lr(step)              -- a Lua number; step: number, or a scalar tensor/variable
--   lr:get_config()       -- ExponentialDecay.from_config(cfg) == ExponentialDecay(cfg)
--
-- An optimizer calls its schedule with its iterations count (the number of
-- steps already applied) before each step; a plain Lua function of the step
-- works the same. Computed in double precision on the Lua side: a schedule
-- is a handful of scalar operations per step.
local class = require("tlua.class")

local M = {}

local function raise(kind, msg) require("tlua.core").raise(kind, msg) end

local function step_number(step)
  if type(step) == "number" then return step end
  if type(step) == "userdata" then return step:item() end
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
  function cls:__call(step) return compute(self, step_number(step)) end
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
}, function(self, step)
  local p = step / self.decay_steps
  if self.staircase then p = math.floor(p) end
  return self.initial_learning_rate * self.decay_rate ^ p
end)

-- values[i] applies while step <= boundaries[i]; the last value after.
local Piecewise = define("PiecewiseConstantDecay", {
  positional = { "boundaries", "values" }, required = { "boundaries", "values" },
  defaults = {}, optional = { "name" },
}, function(self, step)
  local b, v = self.boundaries, self.values
  for i = 1, #b do
    if step <= b[i] then return v[i] end
  end
  return v[#v]
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
}, function(self, step)
  local decay_steps = self.decay_steps
  if self.cycle then
    local mult = step == 0 and 1 or math.ceil(step / decay_steps)
    decay_steps = decay_steps * mult
  else
    step = math.min(step, decay_steps)
  end
  local p = step / decay_steps
  return (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ^ self.power + self.end_learning_rate
end)

define("InverseTimeDecay", {
  positional = { "initial_learning_rate", "decay_steps", "decay_rate", "staircase" },
  required = { "initial_learning_rate", "decay_steps", "decay_rate" },
  defaults = { staircase = false }, optional = { "name" },
}, function(self, step)
  local p = step / self.decay_steps
  if self.staircase then p = math.floor(p) end
  return self.initial_learning_rate / (1 + self.decay_rate * p)
end)

-- Cosine decay with optional linear warmup (TF 2.13 / Keras 3): from
-- initial_learning_rate up to warmup_target over warmup_steps, then cosine
-- from warmup_target (or initial_learning_rate without warmup) to alpha times it.
define("CosineDecay", {
  positional = { "initial_learning_rate", "decay_steps", "alpha" },
  required = { "initial_learning_rate", "decay_steps" },
  defaults = { alpha = 0.0, warmup_steps = 0 }, optional = { "name", "warmup_target" },
}, function(self, step)
  local function decayed(s, from)
    local frac = s / self.decay_steps
    local cosine = 0.5 * (1 + math.cos(math.pi * frac))
    return from * ((1 - self.alpha) * cosine + self.alpha)
  end
  if self.warmup_target == nil then
    return decayed(math.min(step, self.decay_steps), self.initial_learning_rate)
  end
  step = math.min(step, self.decay_steps + self.warmup_steps)
  if step < self.warmup_steps then
    local frac = step / self.warmup_steps
    return (self.warmup_target - self.initial_learning_rate) * frac + self.initial_learning_rate
  end
  return decayed(step - self.warmup_steps, self.warmup_target)
end)

define("CosineDecayRestarts", {
  positional = { "initial_learning_rate", "first_decay_steps", "t_mul", "m_mul", "alpha" },
  required = { "initial_learning_rate", "first_decay_steps" },
  defaults = { t_mul = 2.0, m_mul = 1.0, alpha = 0.0 }, optional = { "name" },
}, function(self, step)
  local frac = step / self.first_decay_steps
  local t_mul, i_restart = self.t_mul, nil
  if t_mul == 1.0 then
    i_restart = math.floor(frac)
    frac = frac - i_restart
  else
    i_restart = math.floor(math.log(1 - frac * (1 - t_mul)) / math.log(t_mul))
    local sum_r = (1 - t_mul ^ i_restart) / (1 - t_mul)
    frac = (frac - sum_r) / t_mul ^ i_restart
  end
  local cosine = 0.5 * self.m_mul ^ i_restart * (1 + math.cos(math.pi * frac))
  return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)
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
