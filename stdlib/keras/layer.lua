-- keras.layer: the Layer base class and InputSpec (keras.layers.Layer).
--
--   local Layer = require("keras.layer").Layer
--   local MyDense = Layer:extend("MyDense")
--   function MyDense:init(opts)
--     MyDense.super.init(self, opts)          -- name, trainable, dtype, dynamic, input_shape...
--     self.units = opts.units
--   end
--   function MyDense:build(input_shape)        -- a tf.TensorShape (a list of them for list inputs)
--     self.kernel = self:add_weight{name = "kernel", shape = {input_shape[-1], self.units}}
--   end
--   function MyDense:call(inputs, opts)        -- opts = {training=, mask=} or nil
--     return tf.matmul(inputs, self.kernel)
--   end
--   local layer = MyDense{units = 3}; local y = layer(x, {training = true})
--
-- Invariants:
-- * build runs once, on the first call (or _ensure_built(shape) from models);
--   then `built` is true. Every build method a class defines is wrapped (by
--   the class's __newindex, set up in Layer:extend) so that a direct
--   layer:build({nil, 784}) also marks the layer built and build always
--   receives TensorShapes (plain lists are converted). Every call checks
--   `input_spec` (before build, as Keras) when one is set.
-- * Weights are tf.Variables named "<layer.name>/<name>:0", kept in creation
--   order, trainable ones apart from non-trainable ones. Sublayers are found
--   through the attributes assigned on the instance (self.x = Dense(...),
--   self.xs = {Dense(...), ...}, also tables filled in later), in the order
--   the attributes were first assigned (keys are tracked by __newindex, values
--   are read when a property is asked for, so a reassigned attribute keeps its
--   place). Properties (weights, trainable_variables, losses, layers, ...) are
--   computed at each access by the class's __index function; they are never
--   raw fields. Internal state lives in raw fields starting with "_".
-- * weights = trainable_weights .. non_trainable_weights (Keras 2's order:
--   own weights, then the tracked sublayers' in order, deduplicated).
--   trainable = false moves every weight of the layer and its sublayers to
--   non_trainable_weights (the variables themselves keep their flag).
-- * losses: tensors given to add_loss during the last outermost call (and
--   the activity regularizer's), plus callable losses and weight
--   regularizer penalties evaluated at each access, plus the sublayers'.
--   An outermost __call (not inside another layer's call) clears the
--   tensor losses of the layer and its sublayers, as Keras does.
-- * `training` given to an outer call reaches inner layer calls that are
--   given no `training` of their own (Keras's call-context propagation).
-- * Symbolic inputs: a table with `_keras_tensor == true` (keras.models'
--   KerasTensor, also inside a list of inputs) makes __call return
--   require("keras.models")._call_symbolic(layer, inputs, opts).
-- * add_metric(value, {name=, aggregation=}): the value of the last call is in
--   layer._metric_values[name]; when keras.metrics has Mean, a Mean metric per
--   name is updated too and listed by `metrics`.
-- * Floating tensor inputs are cast to a floating layer dtype (Keras's
--   autocast; autocast = false in the options, or self._autocast = false,
--   keeps them). Every call method is wrapped like build, so that
--   layer.call(x) (a dot for a colon) or a call with no inputs is an error
--   naming the class; a call that returns nil is an error too. init is
--   wrapped so that an error while constructing names the layer.
-- * The base get_config of a class without its own returns the plain options
--   its init was given (Keras 3's auto config); positional init parameters or
--   options holding functions/objects are an Unimplemented error there.
-- * InputSpec and the input checks live in keras/input_spec.lua (re-exported).
-- Not done here: masks are passed through opts.mask but not propagated
-- automatically (models does), InputLayer (keras.models).
local class = require("tlua.class")
local core = require("tlua.core")
local backend = require("keras.backend")
local tf = require("tlua")

local M = {}

local raise = core.raise
local is_tensor = core.is_tensor
local is_variable = core.is_variable

-- "GlobalAveragePooling2D" -> "global_average_pooling2d", "MyDense" -> "my_dense"
-- (Keras's to_snake_case).
local function to_snake_case(name)
  local s = name:gsub("(.)(%u%l+)", "%1_%2")
  s = s:gsub("(%l)(%u)", "%1_%2"):lower()
  if s:sub(1, 1) == "_" then s = "private" .. s end
  return s
end
M.to_snake_case = to_snake_case

local spec_mod = require("keras.input_spec")
local InputSpec, who, describe, describe_shape = spec_mod.InputSpec, spec_mod.who, spec_mod.describe, spec_mod.describe_shape
local check_one, describe_list = spec_mod.check_one, spec_mod.describe_list
M.InputSpec, M.who, M.describe, M.describe_shape = InputSpec, who, describe, describe_shape
M.check_input_spec = spec_mod.check_input_spec

-- ---------------------------------------------------------------------------
-- Layer
-- ---------------------------------------------------------------------------
local Layer = class("Layer")
M.Layer = Layer

-- Layer.__index looks up the class chain, then the properties.
local properties = {}
local setters = {}
Layer._properties = properties
Layer._setters = setters

-- Add (or override) a property on cls: getter(self) is called for cls.name.
function M.define_property(cls, name, getter, setter)
  local p = rawget(cls, "_properties")
  if not p then
    p = setmetatable({}, { __index = cls.super._properties })
    rawset(cls, "_properties", p)
  end
  p[name] = getter
  if setter then
    local s = rawget(cls, "_setters")
    if not s then
      s = setmetatable({}, { __index = cls.super._setters })
      rawset(cls, "_setters", s)
    end
    s[name] = setter
  end
end

Layer.__index = function(self, k)
  local cls = getmetatable(self)
  local v = cls[k]
  if v ~= nil then return v end
  local p = cls._properties[k]
  if p then return p(self) end
  return nil
end

local function is_layer(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt._properties ~= nil and class.is_subclass(mt, Layer)
end
M.is_layer = is_layer

local function is_metric(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.update_state ~= nil and mt.result ~= nil and mt.reset_state ~= nil
end

Layer.__newindex = function(self, k, v)
  local cls = getmetatable(self)
  local s = cls._setters[k]
  if s then s(self, v) return end
  if cls._properties[k] then
    -- a raw field would hide the computed property (weights, layers, losses...)
    raise("InvalidArgument", ("%s '%s': %s is a read-only property of a layer (computed from its variables and "
      .. "sublayers); store your own value under another name"):format(cls.class_name, tostring(rawget(self, "name")), tostring(k)))
  end
  if type(v) == "table" and type(k) == "string" then
    local tracked = rawget(self, "_tracked")
    if not tracked then
      tracked = {}
      rawset(self, "_tracked", tracked)
      rawset(self, "_tracked_set", {})
    end
    local set = rawget(self, "_tracked_set")
    if not set[k] then
      set[k] = true
      tracked[#tracked + 1] = k
    end
  end
  rawset(self, k, v)
end

-- Base options every layer accepts (builtin layers check the rest).
M.base_options = { "name", "trainable", "dtype", "dynamic", "input_shape", "batch_input_shape",
                   "input_dim", "batch_size", "activity_regularizer", "autocast" }
M.base_option_set = {}
for _, k in ipairs(M.base_options) do M.base_option_set[k] = true end

-- class.options with the base layer options allowed: builtin layers use
--   local o = layer_mod.options("Dense", spec, ...)
local spec_cache = setmetatable({}, { __mode = "k" })
function M.options(who_name, spec, ...)
  local full = spec_cache[spec]
  if not full then
    local optional = {}
    for _, k in ipairs(spec.optional or {}) do optional[#optional + 1] = k end
    for _, k in ipairs(M.base_options) do
      if not (spec.defaults and spec.defaults[k] ~= nil) then optional[#optional + 1] = k end
    end
    full = { positional = spec.positional, defaults = spec.defaults, optional = optional }
    spec_cache[spec] = full
  end
  return class.options(who_name, full, ...)
end

local function to_dims(shape, what, layer_name)
  if type(shape) == "table" and getmetatable(shape) ~= nil and shape.as_list then return shape:as_list() end
  if type(shape) == "number" then return { shape } end
  if type(shape) ~= "table" then
    raise("InvalidArgument", ("Layer '%s': %s must be a list of dimensions, got %s"):format(layer_name, what, type(shape)))
  end
  return shape
end

local float_dtype_objs = {}
for _, n in ipairs({ "float16", "bfloat16", "float32", "float64" }) do float_dtype_objs[tf.as_dtype(n)] = n end

function Layer:init(opts)
  if opts ~= nil and type(opts) ~= "table" then
    raise("InvalidArgument", ("%s: options must be a table, got %s"):format(getmetatable(self).class_name, type(opts)))
  end
  opts = opts or {}
  local cls = getmetatable(self)
  if cls.get_config == Layer.get_config then
    -- no get_config of its own: keep the options for the base get_config
    -- (Keras 3's auto config), so that they survive save/load
    local copy = {}
    for k, v in pairs(opts) do copy[k] = v end
    rawset(self, "_init_opts", copy)
  end
  local name = opts.name
  if name == nil then
    local prefix = to_snake_case(cls.class_name)
    local uid = backend.get_uid(prefix)
    name = uid == 1 and prefix or (prefix .. "_" .. (uid - 1))
  elseif type(name) ~= "string" then
    raise("InvalidArgument", ("%s: name must be a string, got %s"):format(cls.class_name, type(name)))
  end
  rawset(self, "name", name)
  local trainable = opts.trainable
  if trainable == nil then trainable = true
  elseif type(trainable) ~= "boolean" then
    raise("InvalidArgument", ("%s '%s': trainable must be a boolean, got %s"):format(cls.class_name, name, tostring(trainable)))
  end
  rawset(self, "_trainable", trainable)
  local dtype = opts.dtype
  if dtype == nil then dtype = backend.floatx()
  elseif type(dtype) == "table" and getmetatable(dtype) == nil and type(dtype.config) == "table" then
    dtype = dtype.config.name   -- Keras 3's DTypePolicy config {class_name=, config={name=}}
  elseif type(dtype) == "table" or type(dtype) == "userdata" then dtype = dtype.name end
  if type(dtype) ~= "string" or not pcall(tf.as_dtype, dtype) then
    raise("InvalidArgument", ("%s '%s': dtype must be a dtype name such as 'float32', got %s")
      :format(cls.class_name, name, tostring(dtype)))
  end
  rawset(self, "dtype", dtype)
  -- Keras's autocast: floating inputs are cast to a floating layer dtype
  -- (not Sequential/functional models, which leave each input to its layers, as Keras 3's Functional)
  local dobj = tf.as_dtype(dtype)
  local cast = opts.autocast ~= false and float_dtype_objs[dobj] ~= nil
  if cast then
    local c = cls
    while c and c ~= Layer do
      local n = rawget(c, "class_name")
      if n == "Sequential" or n == "Functional" then cast = false break end
      c = c.super
    end
  end
  rawset(self, "_autocast_dtype", cast and dobj or false)
  rawset(self, "dynamic", opts.dynamic and true or false)
  if rawget(self, "built") == nil then rawset(self, "built", false) end
  if rawget(self, "input_spec") == nil then rawset(self, "input_spec", false) end
  if rawget(self, "supports_masking") == nil then rawset(self, "supports_masking", false) end
  rawset(self, "_own_trainable", {})
  rawset(self, "_own_non_trainable", {})
  rawset(self, "_eager_losses", {})
  rawset(self, "_callable_losses", {})
  rawset(self, "_metric_values", {})
  rawset(self, "_metric_objects", {})
  rawset(self, "_metric_order", {})
  if not rawget(self, "_tracked") then
    rawset(self, "_tracked", {})
    rawset(self, "_tracked_set", {})
  end
  -- input shape options (recorded for Sequential; batch dim unknown)
  local bis = opts.batch_input_shape
  if bis == nil and opts.input_shape ~= nil then
    local d = to_dims(opts.input_shape, "input_shape", name)
    local n = d.n or #d
    local out = { n = n + 1 }
    out[1] = opts.batch_size
    for i = 1, n do out[i + 1] = d[i] end
    bis = out
  elseif bis == nil and opts.input_dim ~= nil then
    bis = { n = 2, opts.batch_size, opts.input_dim }
  elseif bis ~= nil then
    bis = to_dims(bis, "batch_input_shape", name)
  end
  if bis ~= nil then
    local shape = tf.TensorShape(bis, bis.n or #bis)
    rawset(self, "_batch_input_shape", shape)
    rawset(self, "batch_input_shape", shape)
  end
  if opts.activity_regularizer ~= nil then
    rawset(self, "activity_regularizer", require("keras.regularizers").get(opts.activity_regularizer))
  elseif rawget(self, "activity_regularizer") == nil then
    rawset(self, "activity_regularizer", false)
  end
end

function Layer:__tostring()
  return ("<%s name=%s, built=%s>"):format(getmetatable(self).class_name, rawget(self, "name"), tostring(rawget(self, "built")))
end

-- Default build: nothing to create.
-- A build argument as TensorShape(s): plain lists ({nil, 5, n = 2}, {32, 5})
-- become TensorShapes, a list of shapes becomes a list of TensorShapes.
local Shape = require("tlua.shape").Shape
local function normalize_shape(shape)
  if type(shape) ~= "table" or getmetatable(shape) == Shape then return shape end
  if getmetatable(shape) ~= nil then
    if shape.as_list then return tf.TensorShape(shape:as_list()) end
    return shape
  end
  local n = shape.n or #shape
  for i = 1, n do
    if type(shape[i]) == "table" then
      local out = {}
      for j = 1, n do out[j] = normalize_shape(shape[j]) end
      return out
    end
  end
  return tf.TensorShape(shape, n)
end
M.normalize_shape = normalize_shape

-- Every build method (the base one and the ones subclasses define) is
-- wrapped so that calling layer:build(shape) directly, as Keras users do,
-- also marks the layer built, and build always sees TensorShapes.
local function wrap_build(fn)
  return function(self, input_shape, ...)
    if type(self) ~= "table" or not is_layer(self) then
      raise("InvalidArgument", ("build: called without a layer as self (got %s); use layer:build(shape) with a colon, "
        .. "not layer.build(shape)"):format(type(self)))
    end
    input_shape = normalize_shape(input_shape)
    if rawget(self, "_own_trainable") == nil then
      local cname = getmetatable(self).class_name
      raise("FailedPrecondition", ("%s: the layer was not initialised (did %s:init call %s.super.init(self, opts)?)")
        :format(cname, cname, cname))
    end
    local r = fn(self, input_shape, ...)
    if rawget(self, "_build_input_shape") == nil then rawset(self, "_build_input_shape", input_shape) end
    rawset(self, "built", true)
    return r
  end
end

-- Every call method is wrapped too, so that the common slip of calling it
-- with a dot (layer.call(x), keras.layers.Dense.call(x)) or with no inputs is
-- an error naming the class rather than an index error deep inside call.
local function wrap_call(fn, cname)
  return function(self, inputs, ...)
    if type(self) ~= "table" or rawget(self, "_own_trainable") == nil then
      raise("InvalidArgument", ("%s.call: called without a layer as self (got %s); call the layer itself, "
        .. "layer(x), or use layer:call(x) with a colon, not layer.call(x)"):format(cname, type(self)))
    end
    if inputs == nil then
      raise("InvalidArgument", ("%s: call got no inputs (nil); expected a tensor or a list of tensors"):format(who(self)))
    end
    return fn(self, inputs, ...)
  end
end

-- And init: an error raised while a layer is constructed (an unknown
-- activation or initializer name, a bad option) gets the layer's class and
-- name in front unless its text already names the class, so
-- Dense(3, {activation = "relux"}) says which layer. Only the outermost init
-- (not a super.init inside it) catches.
local init_depth = 0
local unwrapped_init = setmetatable({}, { __mode = "k" }) -- wrapper -> the init it wraps (auto_config reads its parameters)
local function wrap_init(fn)
  local w
  w = function(self, ...)
    if init_depth > 0 then return fn(self, ...) end
    init_depth = 1
    local r = table.pack(pcall(fn, self, ...))
    init_depth = 0
    if r[1] then return table.unpack(r, 2, r.n) end
    local err = r[2]
    if type(err) == "table" and type(err.message) == "string" and err.kind and type(self) == "table" then
      local cname = getmetatable(self).class_name
      if not err.message:find(cname, 1, true) then
        local lname = rawget(self, "name")
        err.message = (lname and ("%s '%s'"):format(cname, lname) or cname) .. ": " .. err.message
      end
    end
    error(err, 0)
  end
  unwrapped_init[w] = fn
  return w
end

function Layer:extend(name)
  local cls = class.Object.extend(self, name)
  getmetatable(cls).__newindex = function(c, k, v)
    if type(v) == "function" then
      if k == "build" then v = wrap_build(v)
      elseif k == "call" then v = wrap_call(v, name)
      elseif k == "init" then v = wrap_init(v) end
    end
    rawset(c, k, v)
  end
  return cls
end

Layer.build = wrap_build(function(self, input_shape) end)

function Layer:call(inputs, opts)
  return inputs
end

function Layer:compute_output_shape(input_shape)
  raise("Unimplemented", ("%s: compute_output_shape is not implemented for this layer (override compute_output_shape)"):format(who(self)))
end

function Layer:compute_mask(inputs, mask)
  if rawget(self, "supports_masking") then return mask end
  return nil
end

-- Build from a shape (models calls this for symbolic inputs).
function Layer:_ensure_built(shape)
  if rawget(self, "built") then return end
  self:build(shape)
end

local function shape_of(inputs)
  if type(inputs) == "table" and not inputs._keras_tensor then
    local shapes = {}
    for i, x in ipairs(inputs) do shapes[i] = x.shape end
    return shapes
  end
  return inputs.shape
end

-- Symbolic tensors: a table flagged _keras_tensor (keras.models).
local function has_keras_tensor(inputs)
  if type(inputs) ~= "table" then return false end
  if inputs._keras_tensor then return true end
  if getmetatable(inputs) == nil then
    for _, x in ipairs(inputs) do
      if type(x) == "table" and x._keras_tensor then return true end
    end
  end
  return false
end
M.is_keras_tensor = function(x) return type(x) == "table" and x._keras_tensor == true end

-- Lua values to tensors: numbers and nested number tables become constants
-- (in the layer's dtype unless the layer keeps its input dtype, _autocast
-- == false); a list whose first entry is a tensor is a list of inputs.
local function convert_inputs(self, inputs)
  local t = type(inputs)
  if t == "number" then
    if rawget(self, "_autocast") == false then return tf.constant(inputs) end
    return tf.constant(inputs, rawget(self, "dtype"))
  end
  if t == "table" and getmetatable(inputs) == nil then
    local first = inputs[1]
    if is_tensor(first) or is_variable(first) or (type(first) == "table" and getmetatable(first) ~= nil) then
      local out = {}
      for i, x in ipairs(inputs) do
        if type(x) == "number" or (type(x) == "table" and getmetatable(x) == nil) then
          out[i] = convert_inputs(self, x)
        else
          out[i] = x
        end
      end
      return out
    end
    if rawget(self, "_autocast") == false then return tf.constant(inputs) end
    return tf.constant(inputs, rawget(self, "dtype"))
  end
  if is_variable(inputs) then return inputs:read_value() end
  if t == "userdata" and is_tensor(inputs) then return inputs end
  raise("InvalidArgument", ("%s: expected a tensor, a Lua number table or a list of tensors as input, got %s")
    :format(who(self), t))
end

-- Call bookkeeping: depth of nested layer calls, the training flag of the
-- outermost call, the layers holding tensor losses.
local depth = 0
local ctx_training = nil
local dirty = setmetatable({}, { __mode = "k" }) -- layer -> true while it holds tensor losses/metric values
local n_dirty = 0
local guard = setmetatable({}, { __close = function() depth = depth - 1 end })

local function each_layer(layer, fn, seen)
  seen = seen or {}
  if seen[layer] then return end
  seen[layer] = true
  fn(layer)
  for _, sub in ipairs(layer.layers) do each_layer(sub, fn, seen) end
end
M.each_layer = each_layer

local function clear_call_state(layer)
  if not dirty[layer] then return end
  dirty[layer] = nil
  n_dirty = n_dirty - 1
  local l = rawget(layer, "_eager_losses")
  for i = #l, 1, -1 do l[i] = nil end
  local mv = rawget(layer, "_metric_values")
  for k in pairs(mv) do mv[k] = nil end
end

local function mark_dirty(layer)
  if not dirty[layer] then dirty[layer] = true n_dirty = n_dirty + 1 end
end

function Layer:__call(inputs, opts)
  if type(inputs) ~= "userdata" or not is_tensor(inputs) then
    if has_keras_tensor(inputs) then
      return require("keras.models")._call_symbolic(self, inputs, opts)
    end
    inputs = convert_inputs(self, inputs)
  end
  local adt = rawget(self, "_autocast_dtype")
  if adt and rawget(self, "_autocast") ~= false and not rawget(self, "_graph") then -- _graph: a functional model
    if type(inputs) == "userdata" then
      local idt = inputs.dtype
      if idt ~= adt and float_dtype_objs[idt] then inputs = tf.cast(inputs, float_dtype_objs[adt]) end
    elseif type(inputs) == "table" and getmetatable(inputs) == nil then
      local copy
      for i, x in ipairs(inputs) do
        if type(x) == "userdata" and is_tensor(x) then
          local idt = x.dtype
          if idt ~= adt and float_dtype_objs[idt] then
            if not copy then copy = {} for j, y in ipairs(inputs) do copy[j] = y end end
            copy[i] = tf.cast(x, float_dtype_objs[adt])
          end
        end
      end
      if copy then inputs = copy end
    end
  end
  local spec = self.input_spec
  if spec then
    if getmetatable(spec) == InputSpec and type(inputs) == "userdata" then check_one(self, spec, inputs)
    else M.check_input_spec(self, spec, inputs) end
  end
  if not self.built then self:_ensure_built(shape_of(inputs)) end
  if opts ~= nil then
    local tr = type(opts) == "table" and opts.training
    if tr == false and type(opts) ~= "table" or tr ~= nil and tr ~= false and tr ~= true then
      raise("InvalidArgument", ("%s: the call options must be a table {training=true|false, mask=}, got %s")
        :format(who(self), type(opts) == "table" and ("training=" .. tostring(tr)) or type(opts)))
    end
  end
  local outer = depth == 0
  if outer then
    if n_dirty > 0 then each_layer(self, clear_call_state) end
    ctx_training = opts and opts.training
  elseif ctx_training ~= nil and (opts == nil or opts.training == nil) then
    if opts == nil then
      opts = { training = ctx_training }
    else
      local o = {}
      for k, v in pairs(opts) do o[k] = v end
      o.training = ctx_training
      opts = o
    end
  end
  depth = depth + 1
  local _ <close> = guard
  local outputs = self:call(inputs, opts)
  if outputs == nil then
    local cname = getmetatable(self).class_name
    raise("InvalidArgument", ("%s: call returned nil; %s:call must return its output tensor (a missing `return`?)")
      :format(who(self), cname))
  end
  local reg = self.activity_regularizer
  if reg then
    local list = (type(outputs) == "table") and outputs or { outputs }
    for _, out in ipairs(list) do
      local loss = reg(out)
      local n = out.shape[0]
      if n and n > 0 then loss = loss / n end
      self:add_loss(loss)
    end
  end
  if outer then ctx_training = nil end
  return outputs
end

-- add_weight{name=, shape=, initializer=, regularizer=, constraint=, trainable=, dtype=}
-- or add_weight("total", {...}).
local weight_keys = {
  name = true, shape = true, initializer = true, regularizer = true, constraint = true, trainable = true,
  dtype = true, aggregation = true, synchronization = true, use_resource = true, autocast = true,
}

local float_dtypes = { float16 = true, bfloat16 = true, float32 = true, float64 = true }

function Layer:add_weight(a, b)
  local o, name
  if type(a) == "string" then
    o = b or {}
    name = a
    if o.name ~= nil and o.name ~= a then
      raise("InvalidArgument", ("%s: add_weight: name given twice ('%s' and '%s')"):format(who(self), a, tostring(o.name)))
    end
  else
    o = a or {}
    name = o.name
  end
  require("tlua.errors").check_options(who(self) .. ": add_weight", o, weight_keys)
  if rawget(self, "_own_trainable") == nil then
    raise("FailedPrecondition", ("%s: add_weight before the layer was initialised (call %s.super.init(self, opts) first)")
      :format(getmetatable(self).class_name, getmetatable(self).class_name))
  end
  name = name or ("weight_" .. (#rawget(self, "_own_trainable") + #rawget(self, "_own_non_trainable")))
  if type(name) ~= "string" then raise("InvalidArgument", ("%s: add_weight: name must be a string"):format(who(self))) end
  local dtype = o.dtype or rawget(self, "dtype")
  if type(dtype) == "table" or type(dtype) == "userdata" then dtype = dtype.name end
  if type(dtype) ~= "string" or not pcall(tf.as_dtype, dtype) then
    raise("InvalidArgument", ("%s: add_weight '%s': dtype must be a dtype name such as 'float32', got %s")
      :format(who(self), tostring(name), tostring(dtype)))
  end
  local shape = o.shape or {}
  if type(shape) == "table" and getmetatable(shape) ~= nil and shape.as_list then shape = shape:as_list() end
  if type(shape) == "number" then shape = { shape } end
  if type(shape) ~= "table" then raise("InvalidArgument", ("%s: add_weight '%s': shape must be a list"):format(who(self), name)) end
  local n = shape.n or #shape
  for i = 1, n do
    local d = shape[i]
    if math.type(d) ~= "integer" and not (type(d) == "number" and d == math.floor(d)) or d < 0 then
      raise("InvalidArgument", ("%s: add_weight '%s': shape must be fully defined non-negative integers, got %s")
        :format(who(self), name, describe_list(shape, n)))
    end
    shape[i] = math.tointeger(d)
  end
  local initializers = require("keras.initializers")
  local init = o.initializer
  if init == nil then init = float_dtypes[dtype] and "glorot_uniform" or "zeros" end
  init = initializers.get(init)
  local trainable = o.trainable
  if trainable == nil then trainable = float_dtypes[dtype] or false end
  -- Eager even inside a traced function (its first call builds layers).
  local value = tf.init_scope(function()
    local v = init(shape, dtype)
    if is_tensor(v) and v.dtype.name ~= dtype then v = tf.cast(v, dtype) end
    return v
  end)
  local var = tf.Variable(value, { name = rawget(self, "name") .. "/" .. name .. ":0", trainable = trainable and true or false, dtype = dtype })
  if trainable then
    local l = rawget(self, "_own_trainable")
    l[#l + 1] = var
  else
    local l = rawget(self, "_own_non_trainable")
    l[#l + 1] = var
  end
  if o.regularizer ~= nil then
    local reg = require("keras.regularizers").get(o.regularizer)
    if reg then
      local l = rawget(self, "_callable_losses")
      l[#l + 1] = function() return reg(var) end
    end
  end
  if o.constraint ~= nil then
    local c = require("keras.constraints").get(o.constraint)
    if c then require("keras.constraints").set(var, c) end
  end
  return var
end

-- add_loss(tensor) during call (cleared at the next outermost call) or
-- add_loss(fn): fn() is evaluated at each access of `losses`.
function Layer:add_loss(loss)
  if type(loss) == "function" or (type(loss) == "table" and getmetatable(loss) and getmetatable(loss).__call) then
    local l = rawget(self, "_callable_losses")
    l[#l + 1] = loss
    return
  end
  if type(loss) == "number" then loss = tf.constant(loss, rawget(self, "dtype")) end
  if is_variable(loss) then loss = loss:read_value() end
  if not is_tensor(loss) then
    raise("InvalidArgument", ("%s: add_loss expects a scalar tensor or a function returning one, got %s"):format(who(self), type(loss)))
  end
  if #loss.shape ~= 0 then loss = tf.reduce_sum(loss) end
  local l = rawget(self, "_eager_losses")
  l[#l + 1] = loss
  mark_dirty(self)
end

-- add_metric(value, {name=, aggregation="mean"})
function Layer:add_metric(value, opts)
  if type(opts) == "string" then opts = { name = opts } end
  opts = opts or {}
  local name = opts.name
  if type(name) ~= "string" then
    raise("InvalidArgument", ("%s: add_metric needs a name: add_metric(value, {name='...'})"):format(who(self)))
  end
  local agg = opts.aggregation or "mean"
  if agg ~= "mean" then
    raise("InvalidArgument", ("%s: add_metric '%s': aggregation must be 'mean', got '%s'"):format(who(self), name, tostring(agg)))
  end
  if type(value) == "number" then value = tf.constant(value) end
  rawget(self, "_metric_values")[name] = value
  mark_dirty(self)
  local objs = rawget(self, "_metric_objects")
  local m = objs[name]
  if m == nil then
    local ok, metrics = pcall(require, "keras.metrics")
    if ok and type(metrics) == "table" and metrics.Mean then
      m = metrics.Mean { name = name }
      objs[name] = m
      local order = rawget(self, "_metric_order")
      order[#order + 1] = name
    else
      objs[name] = false
    end
  end
  if m then m:update_state(value) end
end

-- ---- properties ---------------------------------------------------------
-- Calls fn(v) for every object held by a tracked attribute: the value
-- itself, or the entries of a plain table (list entries in order, then
-- string keys sorted), nested plain tables included.
local function walk_table(t, fn, seen)
  if seen[t] then return end
  seen[t] = true
  local function visit(x)
    if type(x) == "table" then
      if getmetatable(x) == nil then walk_table(x, fn, seen) else fn(x) end
    end
  end
  for _, x in ipairs(t) do visit(x) end
  local keys
  for key in pairs(t) do
    if type(key) == "string" then keys = keys or {} keys[#keys + 1] = key end
  end
  if keys then
    table.sort(keys)
    for _, key in ipairs(keys) do visit(t[key]) end
  end
end

local function tracked_values(self, fn)
  local tracked = rawget(self, "_tracked")
  if not tracked then return end
  local seen
  for _, k in ipairs(tracked) do
    local v = rawget(self, k)
    if type(v) == "table" then
      if getmetatable(v) == nil then
        seen = seen or {}
        walk_table(v, fn, seen)
      else
        fn(v)
      end
    end
  end
end

local function sublayers(self)
  local out, seen = {}, {}
  tracked_values(self, function(v)
    if v ~= self and is_layer(v) and not seen[v] then
      seen[v] = true
      out[#out + 1] = v
    end
  end)
  return out
end
properties.layers = sublayers
properties.submodules = sublayers

local function append_unique(out, seen, list)
  for _, v in ipairs(list) do
    if not seen[v] then
      seen[v] = true
      out[#out + 1] = v
    end
  end
end

local function trainable_weights(self)
  if not rawget(self, "_trainable") then return {} end
  local out, seen = {}, {}
  append_unique(out, seen, rawget(self, "_own_trainable"))
  for _, l in ipairs(self.layers) do append_unique(out, seen, l.trainable_weights) end
  return out
end

local function non_trainable_weights(self)
  local out, seen = {}, {}
  if rawget(self, "_trainable") then
    append_unique(out, seen, rawget(self, "_own_non_trainable"))
    for _, l in ipairs(self.layers) do append_unique(out, seen, l.non_trainable_weights) end
  else
    append_unique(out, seen, rawget(self, "_own_trainable"))
    append_unique(out, seen, rawget(self, "_own_non_trainable"))
    for _, l in ipairs(self.layers) do append_unique(out, seen, l.weights) end
  end
  return out
end

local function weights(self)
  local out, seen = {}, {}
  append_unique(out, seen, self.trainable_weights)
  append_unique(out, seen, self.non_trainable_weights)
  return out
end

properties.trainable_weights = trainable_weights
properties.trainable_variables = trainable_weights
properties.non_trainable_weights = non_trainable_weights
properties.non_trainable_variables = non_trainable_weights
properties.weights = weights
properties.variables = weights

properties.trainable = function(self) return rawget(self, "_trainable") end
setters.trainable = function(self, v)
  if type(v) ~= "boolean" then
    raise("InvalidArgument", ("%s: trainable must be a boolean, got %s"):format(who(self), tostring(v)))
  end
  each_layer(self, function(l) rawset(l, "_trainable", v) end)
end

local function collect_losses(self, out, seen)
  if seen[self] then return end
  seen[self] = true
  for _, l in ipairs(rawget(self, "_eager_losses") or {}) do out[#out + 1] = l end
  for _, fn in ipairs(rawget(self, "_callable_losses") or {}) do
    local v = fn()
    if v ~= nil then
      if type(v) == "number" then v = tf.constant(v, rawget(self, "dtype")) end
      if not is_tensor(v) then
        raise("InvalidArgument", ("%s: a loss function given to add_loss returned %s, expected a scalar tensor")
          :format(who(self), type(v)))
      end
      out[#out + 1] = v
    end
  end
  for _, l in ipairs(self.layers) do collect_losses(l, out, seen) end
end
properties.losses = function(self)
  local out = {}
  collect_losses(self, out, {})
  return out
end

properties.metrics = function(self)
  local out, seen = {}, {}
  each_layer(self, function(l)
    local objs, order = rawget(l, "_metric_objects"), rawget(l, "_metric_order")
    if order then
      for _, name in ipairs(order) do
        local m = objs[name]
        if m and not seen[m] then seen[m] = true out[#out + 1] = m end
      end
    end
    tracked_values(l, function(v)
      if is_metric(v) and not seen[v] then seen[v] = true out[#out + 1] = v end
    end)
  end)
  return out
end

-- ---- weights as values ----------------------------------------------------
function Layer:get_weights()
  local out = {}
  for i, v in ipairs(self.weights) do out[i] = v:read_value() end
  return out
end

local function weight_list_text(ws)
  local parts = {}
  for i, w in ipairs(ws) do parts[i] = w.name .. ":" .. describe(w) end
  return table.concat(parts, ", ")
end

function Layer:set_weights(list)
  if type(list) ~= "table" or getmetatable(list) ~= nil then
    raise("InvalidArgument", ("%s: set_weights expects a list of tensors, got %s"):format(who(self), type(list)))
  end
  local ws = self.weights
  if #list ~= #ws then
    raise("InvalidArgument", ("%s: set_weights expected %d weights (%s), got %d"):format(
      who(self), #ws, weight_list_text(ws), #list))
  end
  local values = {}
  for i, w in ipairs(ws) do
    local v = list[i]
    if is_variable(v) then v = v:read_value() end
    if not is_tensor(v) then v = tf.constant(v, w.dtype) end
    if v.dtype ~= w.dtype then v = tf.cast(v, w.dtype) end
    if not (v.shape == w.shape) then
      raise("InvalidArgument", ("%s: set_weights: weight %d ('%s') has shape %s, the value given has shape %s"):format(
        who(self), i, w.name, tostring(w.shape), tostring(v.shape)))
    end
    values[i] = v
  end
  for i, w in ipairs(ws) do w:assign(values[i]) end
end

function Layer:count_params()
  if not rawget(self, "built") then
    raise("FailedPrecondition", ("%s: count_params needs a built layer (call it on an input or build it first)"):format(who(self)))
  end
  local n = 0
  for _, w in ipairs(self.weights) do n = n + (w.shape:num_elements() or 0) end
  return n
end

-- ---- config ---------------------------------------------------------------
local function plain_value(v, depth)
  local t = type(v)
  if t == "number" or t == "string" or t == "boolean" then return true end
  if t ~= "table" or getmetatable(v) ~= nil or depth > 20 then return false end
  for k, x in pairs(v) do
    if (type(k) ~= "string" and math.type(k) ~= "integer") or not plain_value(x, depth + 1) then return false end
  end
  return true
end

-- The base get_config of a class that has none of its own also returns the
-- options its init was given (plain values only); an init with positional
-- parameters, or an option holding a function or object, cannot be rebuilt
-- from that, so it is an error naming what to override rather than a model
-- that loads with its hyperparameters silently dropped.
local function auto_config(self, cfg)
  local cls = getmetatable(self)
  local cname = cls.class_name
  local init = cls.init
  init = unwrapped_init[init] or init
  if init ~= Layer.init and type(init) == "function" then
    local info = debug.getinfo(init, "u")
    if info.nparams > 2 then
      local names = {}
      for i = 2, info.nparams do names[#names + 1] = debug.getlocal(init, i) end
      raise("Unimplemented", ("%s: %s:init takes the parameters (%s), which the base get_config cannot save; "
        .. "override %s:get_config to return them (and %s.from_config if Class(config) cannot rebuild it)")
        :format(who(self), cname, table.concat(names, ", "), cname, cname))
    end
  end
  local opts = rawget(self, "_init_opts")
  if not opts then return end
  local base = M.base_option_set
  local keys = {}
  for k in pairs(opts) do if not base[k] then keys[#keys + 1] = k end end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local v = opts[k]
    if type(k) ~= "string" or not plain_value(v, 0) then
      raise("Unimplemented", ("%s: option '%s' (a %s) cannot be saved by the base get_config; override %s:get_config "
        .. "to serialize it (e.g. keras.activations.serialize, keras.saving.serialize_keras_object)")
        :format(who(self), tostring(k), type(v), cname))
    end
    if cfg[k] == nil then cfg[k] = v end
  end
end

function Layer:get_config()
  local cfg = { name = rawget(self, "name"), trainable = rawget(self, "_trainable"), dtype = rawget(self, "dtype") }
  if getmetatable(self).get_config == Layer.get_config then auto_config(self, cfg) end
  local bis = rawget(self, "_batch_input_shape")
  if bis then cfg.batch_input_shape = bis:as_list() end
  local reg = rawget(self, "activity_regularizer")
  if reg then cfg.activity_regularizer = require("keras.regularizers").serialize(reg) end
  return cfg
end

-- Keras 3's build config (saving uses it to build before loading weights).
function Layer:get_build_config()
  local s = rawget(self, "_build_input_shape")
  if not s then return nil end
  if getmetatable(s) ~= nil and s.as_list then return { input_shape = s:as_list() } end
  local list = {}
  for i, x in ipairs(s) do list[i] = x:as_list() end
  return { input_shape = list }
end

function Layer:build_from_config(cfg)
  if cfg and cfg.input_shape and not rawget(self, "built") then
    local s = cfg.input_shape
    local shape
    if type(s[1]) == "table" then
      shape = {}
      for i, x in ipairs(s) do shape[i] = tf.TensorShape(x, x.n or #x) end
    else
      shape = tf.TensorShape(s, s.n or #s)
    end
    self:_ensure_built(shape)
  end
end

return M
