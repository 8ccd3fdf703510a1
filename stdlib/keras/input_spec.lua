-- keras.input_spec: InputSpec (keras.layers.InputSpec) and the input checks
-- Layer.__call runs before build and call, plus the shape/dtype texts the
-- Keras error messages use. Split out of keras/layer.lua (which re-exports
-- all of it). Invariant: every failed check is an InvalidArgument naming the
-- layer ("Dense 'dense_1'") and saying what was expected and what came.
-- Does not build or call layers.
local class = require("tlua.class")
local core = require("tlua.core")
local tf = require("tlua")

local M = {}

local raise = core.raise
local is_tensor = core.is_tensor
local is_variable = core.is_variable

-- "float32[32,100]" / "float32[None,784]" for messages.
-- A shape list as text, whatever its entries are (for messages about bad shapes).
local function describe_list(shape, n)
  local parts = {}
  for i = 1, n do parts[i] = shape[i] == nil and "None" or tostring(shape[i]) end
  return "(" .. table.concat(parts, ", ") .. (n == 1 and ",)" or ")")
end

local function describe_shape(shape)
  local parts = {}
  for i = 0, #shape - 1 do
    local d = shape[i]
    parts[#parts + 1] = d == nil and "None" or tostring(d)
  end
  return "[" .. table.concat(parts, ",") .. "]"
end
local function describe(x)
  if type(x) == "table" and x._keras_tensor then
    return tostring(x.dtype and (x.dtype.name or x.dtype)) .. describe_shape(x.shape)
  end
  if is_tensor(x) or is_variable(x) then return x.dtype.name .. describe_shape(x.shape) end
  return type(x)
end
M.describe = describe
M.describe_shape = describe_shape

-- ---------------------------------------------------------------------------
-- InputSpec
-- ---------------------------------------------------------------------------
local InputSpec = class("InputSpec")
M.InputSpec = InputSpec

local spec_keys = { dtype = true, shape = true, ndim = true, max_ndim = true, min_ndim = true, axes = true, allow_last_axis_squeeze = true, name = true }

function InputSpec:init(opts)
  require("tlua.errors").check_options("InputSpec", opts, spec_keys)
  opts = opts or {}
  self.dtype = opts.dtype and (type(opts.dtype) == "string" and opts.dtype or opts.dtype.name) or nil
  if opts.shape ~= nil then
    local s = tf.TensorShape(opts.shape)
    self.shape = s
    self.ndim = #s
  else
    self.ndim = opts.ndim
  end
  self.max_ndim, self.min_ndim = opts.max_ndim, opts.min_ndim
  for _, k in ipairs({ "ndim", "min_ndim", "max_ndim" }) do
    local v = self[k]
    if v ~= nil and (math.type(v) ~= "integer" or v < 0) then
      raise("InvalidArgument", ("InputSpec: %s must be a non-negative integer, got %s"):format(k, tostring(v)))
    end
  end
  self.axes = opts.axes
  self.name = opts.name
  if self.axes then
    local list = {}
    for ax, d in pairs(self.axes) do
      list[#list + 1] = ax
      list[#list + 1] = d
      if math.type(ax) ~= "integer" or math.type(d) ~= "integer" then
        raise("InvalidArgument", "InputSpec: axes maps integer axes to integer sizes, e.g. {[-1] = 784}")
      end
      local need = ax >= 0 and ax + 1 or -ax
      if self.ndim and need > self.ndim then
        raise("InvalidArgument", ("InputSpec: axis %d is out of range for ndim %d"):format(ax, self.ndim))
      end
      if (self.min_ndim or 0) < need and not self.ndim then self.min_ndim = need end
    end
    self._axes_list = list
  end
  -- raw copies for the per-call check (false when unset: no class lookups)
  rawset(self, "_nd", self.ndim or false)
  rawset(self, "_min", self.min_ndim or false)
  rawset(self, "_max", self.max_ndim or false)
  rawset(self, "_dt", self.dtype or false)
  rawset(self, "_ax", self._axes_list or false)
  rawset(self, "_sh", self.shape or false)
end

function InputSpec:get_config()
  local axes
  if self.axes then axes = {} for k, v in pairs(self.axes) do axes[tostring(k)] = v end end
  return { dtype = self.dtype, shape = self.shape and self.shape:as_list() or nil, ndim = self.ndim,
           max_ndim = self.max_ndim, min_ndim = self.min_ndim, axes = axes }
end

function InputSpec:__tostring()
  local parts = {}
  for _, k in ipairs({ "dtype", "ndim", "min_ndim", "max_ndim" }) do
    if self[k] ~= nil then parts[#parts + 1] = k .. "=" .. tostring(self[k]) end
  end
  if self.shape then parts[#parts + 1] = "shape=" .. tostring(self.shape) end
  if self.axes then
    local a = {}
    for k, v in pairs(self.axes) do a[#a + 1] = ("[%d]=%d"):format(k, v) end
    table.sort(a)
    parts[#parts + 1] = "axes={" .. table.concat(a, ", ") .. "}"
  end
  return "InputSpec(" .. table.concat(parts, ", ") .. ")"
end

local function who(layer)
  return ("%s '%s'"):format(getmetatable(layer).class_name, rawget(layer, "name"))
end
M.who = who

local function where_of(idx) return idx and (" (input %d)"):format(idx) or "" end

local function dtype_name(dt) return type(dt) == "string" and dt or dt.name end

-- x: a tensor or a KerasTensor (a table with .shape and .dtype).
local function check_one(layer, spec, x, idx)
  local r = x.ndim or #x.shape
  local nd, mn, mx, dt = spec._nd, spec._min, spec._max, spec._dt
  if nd and r ~= nd then
    raise("InvalidArgument", ("%s: expected input of rank %d%s, got %s"):format(who(layer), nd, where_of(idx), describe(x)))
  end
  if mn and r < mn then
    raise("InvalidArgument", ("%s: expected input of rank at least %d%s, got %s"):format(who(layer), mn, where_of(idx), describe(x)))
  end
  if mx and r > mx then
    raise("InvalidArgument", ("%s: expected input of rank at most %d%s, got %s"):format(who(layer), mx, where_of(idx), describe(x)))
  end
  if dt and dtype_name(x.dtype) ~= dt then
    raise("InvalidArgument", ("%s: expected input of dtype %s%s, got %s"):format(who(layer), dt, where_of(idx), describe(x)))
  end
  local axes, s = spec._ax, spec._sh
  if not (axes or s) then return end
  local shape = x.shape
  if axes then
    local dims = rawget(shape, "_dims") -- tlua.shape's dimension list (1-based, nil = unknown)
    for j = 1, #axes, 2 do
      local ax, want = axes[j], axes[j + 1]
      local d = dims[(ax < 0 and ax + r or ax) + 1]
      if d ~= nil and d ~= want then
        local what = ax == -1 and ("last dimension " .. want) or ("dimension %d at axis %d"):format(want, ax)
        raise("InvalidArgument", ("%s: expected input with %s%s, got %s"):format(who(layer), what, where_of(idx), describe(x)))
      end
    end
  end
  if s then
    for i = 0, r - 1 do
      local want, d = s[i], shape[i]
      if want ~= nil and d ~= nil and want ~= d then
        raise("InvalidArgument", ("%s: expected input of shape %s%s, got %s"):format(who(layer), describe_shape(s), where_of(idx), describe(x)))
      end
    end
  end
end

-- Check inputs (a tensor, a KerasTensor or a list of them) against spec
-- (an InputSpec or a list of them, one per input).
function M.check_input_spec(layer, spec, inputs)
  if getmetatable(spec) == InputSpec then
    if type(inputs) == "table" and not inputs._keras_tensor then
      if #inputs ~= 1 then
        raise("InvalidArgument", ("%s: expected 1 input, got a list of %d"):format(who(layer), #inputs))
      end
      inputs = inputs[1]
    end
    check_one(layer, spec, inputs)
    return
  end
  local list = (type(inputs) == "table" and not inputs._keras_tensor) and inputs or { inputs }
  if #list ~= #spec then
    raise("InvalidArgument", ("%s: expected %d inputs, got %d"):format(who(layer), #spec, #list))
  end
  for i, s in ipairs(spec) do
    if s then check_one(layer, s, list[i], i - 1) end
  end
end


M.check_one = check_one
M.describe_list = describe_list
return M
