-- keras.optimizers: SGD, RMSprop, Adam, AdamW, Nadam, Adamax, Adagrad,
-- Adadelta, Ftrl, Lion, with tf.keras 2's defaults and update formulas.
--
--   local opt = keras.optimizers.Nadam{learning_rate = 0.01}
--   local opt = keras.optimizers.SGD(0.1, {momentum = 0.9, nesterov = true})
--   opt:apply_gradients(grads, vars)          -- or a list of {grad, var} pairs
--   opt:minimize(function() return loss end, vars)
--   opt.iterations                            -- a tf.Variable (int64): steps applied
--   opt:get_config() / Adam.from_config(cfg) / keras.optimizers.get("adam")
--   local state = opt:get_state(); other:set_state(state)   -- resume exactly
--
-- A step is ops only, so a tracer that observes op calls records all of it:
-- the learning rate (a float64 variable, or a schedule evaluated by ops
-- from `iterations`), one fused update op per variable (apply_adam, ...;
-- src/ops/optim.c) taking the variable, its slot variables (m, v,
-- accumulators: non-trainable tf.Variables), the gradient, the learning
-- rate and the step state (`iterations`, Nadam's running product, both
-- variables), then `iterations:assign_add(1)` (and Nadam's nadam_advance).
-- No Lua number that changes between steps is baked into a call.
--
-- Options common to every optimizer (tf.keras 2's base optimizer): name,
-- weight_decay (decoupled: var -= var * weight_decay * lr before the
-- update), clipnorm (per variable), global_clipnorm (across all
-- gradients of the step), clipvalue (element-wise; ignored when one of the
-- norms is set, as in Keras). learning_rate may be a number, a schedule
-- (keras.optimizers.schedules), a Lua function of the step (called with
-- the step as a float64 tensor), or a scalar tensor/variable.
local class = require("tlua.class")
local schedules = require("keras.schedules")
local core = require("tlua.core")
local optim = core.optim
local ops = core.ops

local M = { schedules = schedules }

local function raise(kind, msg) core.raise(kind, msg) end

local base_optional = { "name", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm" }

local Optimizer = class("Optimizer")
M.Optimizer = Optimizer

local function describe(x)
  if type(x) == "number" then return ("%g"):format(x) end
  return tostring(x)
end

-- The update op's attribute names, from its registry record (one fact,
-- one place): "beta_1:float=0.9, ..." -> { "beta_1", ... }.
local attr_names_cache = {}
local function op_attr_names(op)
  local names = attr_names_cache[op]
  if not names then
    names = {}
    for item in core.op_info(op).attrs:gmatch("[^,]+") do names[#names + 1] = item:match("^%s*([%w_]+)") end
    attr_names_cache[op] = names
  end
  return names
end

function Optimizer:init(...)
  local cls = getmetatable(self)
  local spec = rawget(cls, "spec")
  if not spec then raise("InvalidArgument", cls.class_name .. " is abstract: use a concrete optimizer or define spec and rule") end
  local cfg = class.options(cls.class_name, spec, ...)
  for k, v in pairs(cfg) do self[k] = v end
  self.name = self.name or cls.class_name
  local lr = self.learning_rate
  if type(lr) == "table" and getmetatable(lr) == nil and lr.class_name then
    self.learning_rate = schedules.deserialize(lr)
  elseif not (type(lr) == "number" or type(lr) == "function" or type(lr) == "userdata"
              or (type(lr) == "table" and getmetatable(lr) and getmetatable(lr).__call)) then
    raise("InvalidArgument", ("%s: learning_rate must be a number, a schedule or a function of the step, got %s")
      :format(cls.class_name, type(lr)))
  end
  if self.clipnorm and self.global_clipnorm then
    raise("InvalidArgument", ("%s: cannot accept both clipnorm and global_clipnorm (got %s and %s)")
      :format(cls.class_name, describe(self.clipnorm), describe(self.global_clipnorm)))
  end
  for _, k in ipairs({ "clipnorm", "clipvalue", "global_clipnorm", "weight_decay" }) do
    local v = self[k]
    if v ~= nil and (type(v) ~= "number" or v < 0) then
      raise("InvalidArgument", ("%s: %s must be a non-negative number, got %s"):format(cls.class_name, k, describe(v)))
    end
  end
  if self.validate then self:validate() end
  -- Step state lives in variables (as Keras's), so a traced step reads and
  -- advances them instead of freezing Lua numbers.
  self.iterations = core.Variable(0, false, self.name .. "/iterations", "int64")
  self._one = core.constant(1, "int64") -- the step's increment, made once (no allocation per step)
  self._lr_var = nil      -- float64 variable behind a number learning rate
  self._lr_number = nil   -- the number it holds (opt.learning_rate = x is seen at the next step)
  self._slots = {}        -- variable -> {slot1, slot2, slot3} (false where unused)
  self._built = {}        -- variables in the order their slots were made
  self._pending = {}      -- build position -> restored slot values (set_state before build)
  self._warned = setmetatable({}, { __mode = "k" })
  self._hp = { rule = cls.rule }
  self._op = ops["apply_" .. cls.rule]
  self._attr_names = op_attr_names("apply_" .. cls.rule)
  self._attrs = {}        -- the update op's attribute values, refreshed per step
  self._g, self._v = {}, {}  -- per-step scratch lists, reused
  self._args = {}
  if self._init_state then self:_init_state() end
end

function Optimizer:__tostring()
  return ("<keras.optimizers.%s name=%s learning_rate=%s iterations=%d>"):format(
    getmetatable(self).class_name, self.name, describe(self.learning_rate), self.iterations:item())
end

-- The learning rate for the next step, as a scalar tensor computed by ops:
-- a read of the learning-rate variable, or the schedule at `iterations`.
function Optimizer:_lr_tensor()
  local lr = self.learning_rate
  if type(lr) == "number" then
    if self._lr_number ~= lr then
      if self._lr_var then self._lr_var:assign(lr)
      else self._lr_var = core.Variable(lr, false, self.name .. "/learning_rate", "float64") end
      self._lr_number = lr
    end
    return self._lr_var:read_value()
  end
  if type(lr) == "userdata" then
    if core.is_variable(lr) then return lr:read_value() end
    return lr
  end
  if schedules.is_schedule(lr) then return lr(self.iterations) end
  if type(lr) ~= "function" and not (type(lr) == "table" and getmetatable(lr) and getmetatable(lr).__call) then
    raise("InvalidArgument", ("%s: learning_rate must be a number, a schedule or a function of the step, got %s")
      :format(self.name, type(lr) == "string" and ("'" .. lr .. "'") or type(lr)))
  end
  -- a Lua function of the step
  local out = lr(ops.cast(self.iterations, "float64"))
  if type(out) == "number" then out = core.constant(out, "float64") end
  if core.is_variable(out) then out = out:read_value() end
  return out
end

-- The learning rate the next step will use (a Lua number, for display).
function Optimizer:current_learning_rate() return self:_lr_tensor():item() end

-- The settings table core.optim.slots reads (slot layout depends on them).
function Optimizer:_refresh_hp()
  local hp, cls = self._hp, getmetatable(self)
  local rename = cls.hp_names or {}
  for k in pairs(cls.spec.defaults) do
    if k ~= "learning_rate" then hp[rename[k] or k] = self[k] end
  end
  return hp
end

-- The update op's attributes for this step, in declaration order (users
-- may change opt.beta_1 etc. between steps, as with Keras's hyperparameters).
-- The Keras option behind each attribute is resolved once per optimizer.
function Optimizer:_refresh_attrs()
  local attrs, names = self._attrs, self._attr_names
  local from = self._attr_from
  if not from then
    local cls = getmetatable(self)
    local keras_name = {}
    for k, v in pairs(cls.hp_names or {}) do keras_name[v] = k end
    from = {}
    for i, n in ipairs(names) do
      from[i] = keras_name[n] or n
      if n == "weight_decay" then self._wd_pos = i end
    end
    self._attr_from = from
  end
  local clipvalue = (self.clipnorm or self.global_clipnorm) and 0 or (self.clipvalue or 0)
  for i = 1, #names do
    local n = from[i]
    local x
    if n == "weight_decay" then x = self.weight_decay or 0
    elseif n == "clipnorm" then x = self.clipnorm or 0
    elseif n == "clipvalue" then x = clipvalue
    else x = self[n] end
    attrs[i] = x
  end
  return attrs, #names
end

-- A slot variable: zeros (or the rule's initial value) like var, made by
-- ops on var's device.
-- Inside a traced step (the first call builds the slots) the values are
-- computed eagerly: a variable needs a value when it is made.
local function new_slot(var, init, name)
  local trace = require("tlua.trace")
  trace.check_variable_creation()
  return trace.init_scope(function()
    local z = ops.zeros_like(var)
    if init ~= 0 then z = z + init end
    return core.Variable(z, false, name)
  end)
end

-- Creates the slot variables of every variable in var_list that has none.
function Optimizer:build(var_list)
  local specs = optim.slots(self:_refresh_hp())
  for _, v in ipairs(var_list) do
    if not core.is_variable(v) then
      raise("InvalidArgument", ("%s.build: expected tf.Variables, got %s"):format(self.name, type(v)))
    end
    if not self._slots[v] then
      local slots = {}
      for j = 1, 3 do
        local sp = specs[j]
        slots[j] = sp and new_slot(v, sp.init, self.name .. "/" .. sp.name .. "/" .. v.name) or false
      end
      local used = {}
      for j = 1, 3 do if slots[j] then used[#used + 1] = slots[j] end end
      slots.used = used   -- the op's slots[] input
      self._slots[v] = slots
      local k = #self._built + 1
      self._built[k] = v
      if self._pending[k] then
        self:_restore_slots(k, self._pending[k])
        self._pending[k] = nil
      end
    end
  end
end

local function warn_missing(self, names)
  io.stderr:write(("WARNING: %s: Gradients do not exist for variables %s when minimizing the loss. "
    .. "If you're using `model.compile()`, did you forget to provide a `loss` argument?\n")
    :format(self.name, table.concat(names, ", ")))
end

-- How many gradients a list holds, nil holes included: tape:gradient and
-- table.pack set n; otherwise the largest integer key (a Lua table cannot
-- hold trailing nils, so there fewer gradients read as None ones).
local function count(list)
  if math.type(list.n) == "integer" then return list.n, true end
  local n = #list
  for k in pairs(list) do
    if math.type(k) == "integer" and k > n then n = k end
  end
  return n, false
end

-- The state inputs between the learning rate and grad_scale (iterations,
-- Nadam's product); rules add theirs.
function Optimizer:_state_inputs(args, at) return at end
-- Once per step, after the updates, before iterations moves on.
function Optimizer:_advance() end

-- apply_gradients(grads, vars) or apply_gradients({{grad, var}, ...}).
-- Variables whose gradient is nil are skipped (with a warning, once per
-- variable), as Keras does; more gradients than variables (or a counted
-- list, grads.n, of another length) is an InvalidArgument error. Returns
-- `iterations`.
function Optimizer:apply_gradients(grads, vars)
  if vars == nil then
    local pairs_list = grads
    if type(pairs_list) ~= "table" then
      raise("InvalidArgument", ("%s.apply_gradients: expected (grads, vars) or a list of {grad, var} pairs"):format(self.name))
    end
    grads, vars = { n = 0 }, {}
    for i, pair in ipairs(pairs_list) do
      if type(pair) ~= "table" or getmetatable(pair) ~= nil then
        raise("InvalidArgument", ("%s.apply_gradients: element %d is not a {grad, var} pair (pass grads and vars as two lists)")
          :format(self.name, i))
      end
      grads[i], vars[i] = pair[1], pair[2]
      grads.n = i
    end
  end
  if type(grads) ~= "table" or type(vars) ~= "table" then
    raise("InvalidArgument", ("%s.apply_gradients: grads and vars must be lists"):format(self.name))
  end
  local ng, exact = count(grads)
  local nv = #vars
  if ng > nv or (exact and ng ~= nv) then
    raise("InvalidArgument", ("%s.apply_gradients: %d gradients for %d variables (they pair up one to one)")
      :format(self.name, ng, nv))
  end
  local g, v = self._g, self._v
  local n, missing = 0, nil
  for i = 1, nv do
    local var = vars[i]
    if not core.is_variable(var) then
      raise("InvalidArgument", ("%s.apply_gradients: vars[%d] is a %s, not a tf.Variable"):format(self.name, i, type(var)))
    end
    local grad = grads[i]
    if grad == nil then
      if not self._warned[var] then
        self._warned[var] = true
        missing = missing or {}
        missing[#missing + 1] = var.name
      end
    else
      n = n + 1
      g[n], v[n] = grad, var
    end
  end
  for i = n + 1, #v do g[i], v[i] = nil, nil end
  if missing then warn_missing(self, missing) end
  if n == 0 then
    local names = {}
    for i = 1, nv do names[i] = vars[i].name end
    raise("InvalidArgument", ("%s.apply_gradients: no gradients provided for any variable: {%s}")
      :format(self.name, table.concat(names, ", ")))
  end
  optim.check(self.name, v, g, n) -- all pairs fit before the first update runs
  for i = 1, n do
    if not self._slots[v[i]] then self:build({ v[i] }) end
  end
  local lr = self:_lr_tensor()
  local scale = nil
  if self.global_clipnorm and self.global_clipnorm > 0 and not self.clipnorm then
    scale = ops.clip_scale(g, self.global_clipnorm)
  end
  local attrs, na = self:_refresh_attrs()
  local wd = self.weight_decay or 0
  local nodecay = self:_nodecay(v, n)
  local args, op = self._args, self._op
  -- args: var, grad, learning_rate, [state inputs], grad_scale, slots, attrs...
  args[3] = lr
  local at = self:_state_inputs(args, 4)
  args[at] = scale
  local first_attr = at + 2
  for i = 1, na do args[first_attr + i - 1] = attrs[i] end
  local wd_pos = first_attr + self._wd_pos - 1
  local total = first_attr + na - 1
  for i = 1, n do
    local var = v[i]
    args[1], args[2], args[at + 1] = var, g[i], self._slots[var].used
    args[wd_pos] = (nodecay and nodecay[i]) and 0 or wd
    op(table.unpack(args, 1, total))
  end
  self:_advance()
  self.iterations:assign_add(self._one)
  return self.iterations
end
Optimizer.apply = Optimizer.apply_gradients

-- minimize(loss_fn, var_list): records loss_fn() on a tf.GradientTape,
-- applies the gradients, returns the loss. A loss tensor works when its
-- tape is given: minimize(loss, var_list, tape). var_list may be a function.
function Optimizer:minimize(loss, var_list, tape)
  if type(var_list) == "function" then var_list = var_list() end
  local loss_value
  if type(loss) == "function" then
    local tf = require("tlua")
    if not tf.GradientTape then raise("Unimplemented", "minimize: tf.GradientTape is not available") end
    tape = tf.GradientTape()
    loss_value = loss()
    tape:stop()
  else
    if tape == nil then
      raise("InvalidArgument", ("%s.minimize: a loss tensor needs the tape that recorded it (minimize(loss, vars, tape)) or pass a function")
        :format(self.name))
    end
    loss_value = loss
  end
  local grads = tape:gradient(loss_value, var_list)
  self:apply_gradients(grads, var_list)
  return loss_value
end

-- exclude_from_weight_decay{var_list=, var_names=}: variables (or names
-- containing one of the Lua patterns in var_names) that weight decay skips.
function Optimizer:exclude_from_weight_decay(opts)
  opts = require("tlua.errors").check_options("exclude_from_weight_decay", opts, { var_list = true, var_names = true })
  self._exclude = self._exclude or { vars = {}, names = {} }
  for _, v in ipairs(opts.var_list or {}) do self._exclude.vars[v] = true end
  for _, p in ipairs(opts.var_names or {}) do table.insert(self._exclude.names, p) end
end

function Optimizer:_nodecay(vars, n)
  local ex = self._exclude
  if not ex or not self.weight_decay or self.weight_decay == 0 then return nil end
  local out = {}
  for i = 1, n do
    local v = vars[i]
    local skip = ex.vars[v] or false
    for _, p in ipairs(ex.names) do
      if not skip and v.name:find(p) then skip = true end
    end
    out[i] = skip
  end
  return out
end

-- The slot variables, in the order they were created.
function Optimizer:variables()
  local out = {}
  for _, v in ipairs(self._built) do
    for _, s in ipairs(self._slots[v]) do
      if s then out[#out + 1] = s end
    end
  end
  return out
end

-- get_slot(var, "m") -> the slot variable.
function Optimizer:get_slot(var, name)
  local slots = self._slots[var]
  if not slots then return nil end
  for j, sp in ipairs(optim.slots(self:_refresh_hp())) do
    if sp and sp.name == name then return slots[j] or nil end
  end
  return nil
end

function Optimizer:get_slot_names()
  local out = {}
  for _, sp in ipairs(optim.slots(self:_refresh_hp())) do
    if sp then out[#out + 1] = sp.name end
  end
  return out
end

-- State for checkpoints: iterations, optimizer-level scalars, and the slot
-- values (tensors) per variable in build order, as plain numbers and
-- tensors (the same layout the optimizers kept before their step state
-- became variables, so checkpoint files written then still load). A new
-- optimizer given the same variables in the same order continues exactly
-- after set_state.
function Optimizer:get_state()
  local state = { iterations = self.iterations:item(), slots = {} }
  self:_save_extra(state)
  local names = self:get_slot_names()
  for k, v in ipairs(self._built) do
    local entry = { variable = v.name }
    local slots = self._slots[v]
    local j = 0
    for pos = 1, 3 do
      if slots[pos] then
        j = j + 1
        entry[names[j]] = slots[pos]:value()
      end
    end
    state.slots[k] = entry
  end
  return state
end

function Optimizer:_save_extra(_) end
function Optimizer:_load_extra(_) end

function Optimizer:_restore_slots(k, entry)
  local v = self._built[k]
  local slots = self._slots[v]
  local specs = optim.slots(self:_refresh_hp())
  for pos = 1, 3 do
    local sp = specs[pos]
    if sp and slots[pos] then
      local t = entry[sp.name]
      if t == nil then
        raise("InvalidArgument", ("%s.set_state: the state of variable %d ('%s') has no slot '%s'"):format(self.name, k, v.name, sp.name))
      end
      slots[pos]:assign(t)
    end
  end
end

function Optimizer:set_state(state)
  if type(state) ~= "table" or type(state.iterations) ~= "number" or type(state.slots) ~= "table" then
    raise("InvalidArgument", ("%s.set_state: expected a table from get_state()"):format(self.name))
  end
  local it = math.tointeger(state.iterations)
  if not it or it < 0 then
    raise("InvalidArgument", ("%s.set_state: iterations must be a non-negative integer, got %s"):format(self.name, tostring(state.iterations)))
  end
  self.iterations:assign(it)
  self:_load_extra(state)
  self._pending = {}
  for k, entry in ipairs(state.slots) do
    if self._built[k] then self:_restore_slots(k, entry) else self._pending[k] = entry end
  end
end

function Optimizer:get_config()
  local cls = getmetatable(self)
  local cfg = {}
  for k in pairs(cls.spec.defaults) do cfg[k] = self[k] end
  for _, k in ipairs(base_optional) do cfg[k] = self[k] end
  if schedules.is_schedule(self.learning_rate) then cfg.learning_rate = schedules.serialize(self.learning_rate) end
  return cfg
end

-- ---- the optimizers --------------------------------------------------------

local function define(name, rule, positional, defaults, extra)
  local cls = Optimizer:extend(name)
  cls.rule = rule
  local optional = {}
  for _, k in ipairs(base_optional) do
    if defaults[k] == nil then optional[#optional + 1] = k end
  end
  cls.spec = { positional = positional, defaults = defaults, optional = optional }
  for k, v in pairs(extra or {}) do cls[k] = v end
  M[name] = cls
  return cls
end

local function check_range(self, key, lo, hi)
  local v = self[key]
  if type(v) ~= "number" or v < lo or v > hi then
    raise("InvalidArgument", ("%s: %s must be a number in [%g, %g], got %s"):format(
      getmetatable(self).class_name, key, lo, hi, describe(v)))
  end
end

define("SGD", "sgd", { "learning_rate", "momentum", "nesterov" },
  { learning_rate = 0.01, momentum = 0.0, nesterov = false },
  { validate = function(self) check_range(self, "momentum", 0, 1) end })

define("RMSprop", "rmsprop", { "learning_rate", "rho", "momentum", "epsilon", "centered" },
  { learning_rate = 0.001, rho = 0.9, momentum = 0.0, epsilon = 1e-7, centered = false })

-- Rules whose coefficients depend on the step read `iterations`.
local function step_inputs(self, args, at)
  args[at] = self.iterations
  return at + 1
end

define("Adam", "adam", { "learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad" },
  { learning_rate = 0.001, beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7, amsgrad = false },
  { _state_inputs = step_inputs })

define("AdamW", "adam", { "learning_rate", "weight_decay", "beta_1", "beta_2", "epsilon", "amsgrad" },
  { learning_rate = 0.001, weight_decay = 0.004, beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7, amsgrad = false },
  { _state_inputs = step_inputs })

-- Nadam's momentum schedule mu_t = beta_1 * (1 - 0.5 * 0.96^(schedule_decay * t))
-- (tf.keras 2 and PyTorch: schedule_decay = 0.004; Keras 3 uses 0.96^t:
-- schedule_decay = 1). The running product of mu is a float64 variable,
-- advanced once per step by the nadam_advance op.
local Nadam = define("Nadam", "nadam", { "learning_rate", "beta_1", "beta_2", "epsilon" },
  { learning_rate = 0.001, beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7, schedule_decay = 0.004 })
function Nadam:_init_state()
  self._mu_product = core.Variable(1.0, false, self.name .. "/mu_product", "float64")
end
function Nadam:_state_inputs(args, at)
  args[at], args[at + 1] = self.iterations, self._mu_product
  return at + 2
end
function Nadam:_advance()
  ops.nadam_advance(self._mu_product, self.iterations, self.beta_1, self.schedule_decay)
end
function Nadam:_save_extra(state) state.mu_product = self._mu_product:item() end
function Nadam:_load_extra(state) self._mu_product:assign(state.mu_product or 1.0) end

define("Adamax", "adamax", { "learning_rate", "beta_1", "beta_2", "epsilon" },
  { learning_rate = 0.001, beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7 },
  { _state_inputs = step_inputs })

define("Adagrad", "adagrad", { "learning_rate", "initial_accumulator_value", "epsilon" },
  { learning_rate = 0.001, initial_accumulator_value = 0.1, epsilon = 1e-7 },
  { validate = function(self) check_range(self, "initial_accumulator_value", 0, math.huge) end })

define("Adadelta", "adadelta", { "learning_rate", "rho", "epsilon" },
  { learning_rate = 0.001, rho = 0.95, epsilon = 1e-7 })

define("Ftrl", "ftrl", { "learning_rate", "learning_rate_power", "initial_accumulator_value",
    "l1_regularization_strength", "l2_regularization_strength", "l2_shrinkage_regularization_strength", "beta" },
  { learning_rate = 0.001, learning_rate_power = -0.5, initial_accumulator_value = 0.1,
    l1_regularization_strength = 0.0, l2_regularization_strength = 0.0,
    l2_shrinkage_regularization_strength = 0.0, beta = 0.0 },
  { hp_names = { learning_rate_power = "lr_power", l1_regularization_strength = "l1",
                 l2_regularization_strength = "l2", l2_shrinkage_regularization_strength = "l2_shrinkage" },
    validate = function(self)
      check_range(self, "initial_accumulator_value", 0, math.huge)
      check_range(self, "learning_rate_power", -math.huge, 0)
      check_range(self, "l1_regularization_strength", 0, math.huge)
      check_range(self, "l2_regularization_strength", 0, math.huge)
      check_range(self, "l2_shrinkage_regularization_strength", 0, math.huge)
    end })

define("Lion", "lion", { "learning_rate", "beta_1", "beta_2" },
  { learning_rate = 1e-4, beta_1 = 0.9, beta_2 = 0.99 },
  { validate = function(self) check_range(self, "beta_1", 0, 1) check_range(self, "beta_2", 0, 1) end })

-- ---- lookup by name and (de)serialization -------------------------------------

local by_name = {}
for _, n in ipairs({ "SGD", "RMSprop", "Adam", "AdamW", "Nadam", "Adamax", "Adagrad", "Adadelta", "Ftrl", "Lion" }) do
  by_name[n:lower()] = M[n]
end

function M.serialize(opt)
  if type(opt) ~= "table" or type(getmetatable(opt)) ~= "table" or type(opt.get_config) ~= "function" then
    raise("InvalidArgument", ("keras.optimizers.serialize: expected an optimizer, got %s"):format(type(opt)))
  end
  return { class_name = getmetatable(opt).class_name, config = opt:get_config() }
end

function M.deserialize(cfg)
  local cls = type(cfg) == "table" and type(cfg.class_name) == "string" and (M[cfg.class_name] or by_name[cfg.class_name:lower()])
  if not cls then
    raise("InvalidArgument", ("Unknown optimizer: '%s' (keras.optimizers.deserialize)"):format(
      tostring(type(cfg) == "table" and cfg.class_name)))
  end
  return cls.from_config(cfg.config or {})
end

-- get("adam") / get({class_name="Adam", config={...}}) / get(instance).
function M.get(identifier)
  if identifier == nil then return nil end
  if class.is_instance(identifier, Optimizer) then return identifier end
  if type(identifier) == "string" then
    local cls = by_name[identifier:lower()]
    if not cls then
      local names = {}
      for k in pairs(by_name) do names[#names + 1] = k end
      table.sort(names)
      raise("InvalidArgument", ("Unknown optimizer: '%s' (known: %s)"):format(identifier, table.concat(names, ", ")))
    end
    return cls()
  end
  if type(identifier) == "table" and identifier.class_name then return M.deserialize(identifier) end
  raise("InvalidArgument", ("keras.optimizers.get: could not interpret optimizer identifier: %s"):format(tostring(identifier)))
end

return M
