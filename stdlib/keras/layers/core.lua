-- keras.layers core: Dense, Dropout, Flatten, Reshape, Activation, Embedding,
-- GaussianNoise, Lambda, plus RepeatVector, Permute, Masking,
-- ActivityRegularization and Identity.
--
--   keras.layers.Dense(256, {activation = "relu", input_shape = {784}})
--   keras.layers.Dense{units = 10, activation = "softmax", kernel_regularizer = "l2"}
--   keras.layers.Dropout(0.5)            -- active only under {training = true}
--   keras.layers.Embedding(1000, 64, {mask_zero = true})
--   keras.layers.Lambda(function(x) return x * 2 end, {output_shape = {10}})
--
-- Every layer takes one options table with its get_config keys (Keras 3's
-- names) plus the base layer options (keras/layer.lua), and its leading
-- positional arguments as sugar; unknown options are errors. Each defines
-- compute_output_shape (tf.TensorShape in, tf.TensorShape out; the batch
-- dimension may be unknown) and checks its inputs with an InputSpec or
-- its own test, naming itself in errors. Numerics are ops: Dense is one
-- matmul, one bias_add and the activation op (rank > 2 inputs are reshaped
-- to 2-D and back, Keras's result for x @ kernel over the last axis).
-- InputLayer lives in keras.models.
local core = require("tlua.core")
local tf = require("tlua")
local layer_mod = require("keras.layer")
local activations = require("keras.activations")
local initializers = require("keras.initializers")
local regularizers = require("keras.regularizers")
local constraints = require("keras.constraints")

local Layer, InputSpec = layer_mod.Layer, layer_mod.InputSpec
local who, describe = layer_mod.who, layer_mod.describe
local raise = core.raise
local ops = core.ops
local matmul, bias_add, reshape = ops.matmul, ops.bias_add, ops.reshape

local M = {}

-- A shape argument (TensorShape or list) as a TensorShape.
local function as_shape(s)
  if type(s) == "table" and getmetatable(s) == nil then return tf.TensorShape(s, s.n or #s) end
  return s
end

local function dims(shape)
  local out = {}
  for i = 0, #shape - 1 do out[i + 1] = shape[i] end
  return out, #shape
end

local function positive_int(self_name, key, v)
  if math.type(v) ~= "integer" then
    if type(v) == "number" and v == math.floor(v) then v = math.tointeger(v) end
  end
  if math.type(v) ~= "integer" or v <= 0 then
    local got = type(v) == "table" and "a table (is the options table in the place of the number? "
      .. "e.g. Dense(3, {activation = 'relu'}) or Dense{units = 3})" or tostring(v)
    raise("InvalidArgument", ("%s: %s must be a positive integer, got %s"):format(self_name, key, got))
  end
  return v
end

-- Base config plus the layer's own keys.
local function config(self, extra)
  local cfg = Layer.get_config(self)
  for k, v in pairs(extra) do cfg[k] = v end
  return cfg
end

-- ---------------------------------------------------------------------------
-- Dense
-- ---------------------------------------------------------------------------
-- Keras options tlua accepts for config compatibility but does not
-- implement: given a value, they are an error rather than silently ignored.
local function refuse_unimplemented(self, o, keys)
  for _, k in ipairs(keys) do
    if o[k] ~= nil and o[k] ~= false then
      raise("Unimplemented", ("%s: option '%s' is not supported"):format(who(self), k))
    end
  end
end

local Dense = Layer:extend("Dense")
M.Dense = Dense

local dense_spec = {
  positional = { "units" },
  defaults = { use_bias = true, kernel_initializer = "glorot_uniform", bias_initializer = "zeros" },
  optional = { "units", "activation", "kernel_regularizer", "bias_regularizer", "kernel_constraint",
               "bias_constraint", "lora_rank", "lora_alpha", "quantization_config" },
}

function Dense:init(...)
  local o = layer_mod.options("Dense", dense_spec, ...)
  Dense.super.init(self, o)
  refuse_unimplemented(self, o, { "lora_rank", "lora_alpha", "quantization_config" })
  self.units = positive_int(who(self), "units", o.units)
  self.activation = activations.get(o.activation)
  self.use_bias = o.use_bias and true or false
  self.kernel_initializer = initializers.get(o.kernel_initializer)
  self.bias_initializer = initializers.get(o.bias_initializer)
  self.kernel_regularizer = regularizers.get(o.kernel_regularizer)
  self.bias_regularizer = regularizers.get(o.bias_regularizer)
  self.kernel_constraint = constraints.get(o.kernel_constraint)
  self.bias_constraint = constraints.get(o.bias_constraint)
  self.input_spec = InputSpec { min_ndim = 2 }
  self.supports_masking = true
  -- the activation's op, skipped when linear
  self._act = self.activation ~= activations.linear and self.activation or false
end

function Dense:build(input_shape)
  local last = input_shape[-1]
  if last == nil then
    raise("InvalidArgument", ("%s: the last dimension of the inputs must be known to build the layer, got %s")
      :format(who(self), tostring(input_shape)))
  end
  self.kernel = self:add_weight { name = "kernel", shape = { last, self.units }, initializer = self.kernel_initializer,
                                  regularizer = self.kernel_regularizer, constraint = self.kernel_constraint }
  if self.use_bias then
    self.bias = self:add_weight { name = "bias", shape = { self.units }, initializer = self.bias_initializer,
                                  regularizer = self.bias_regularizer, constraint = self.bias_constraint }
  else
    self.bias = false
  end
  self.input_spec = InputSpec { min_ndim = 2, axes = { [-1] = last } }
end

function Dense:call(inputs)
  local kernel, bias, act = self.kernel, self.bias, self._act
  local y
  if inputs.ndim == 2 then
    y = matmul(inputs, kernel)
  else
    local d, n = dims(inputs.shape)
    local flat = reshape(inputs, { -1, d[n] })
    y = matmul(flat, kernel)
    d[n] = self.units
    if bias then y = bias_add(y, bias) bias = false end
    if act then y = act(y) act = false end
    y = reshape(y, d)
  end
  if bias then y = bias_add(y, bias) end
  if act then y = act(y) end
  return y
end

function Dense:compute_output_shape(input_shape)
  input_shape = as_shape(input_shape)
  local d, n = dims(input_shape)
  if n < 1 then raise("InvalidArgument", ("%s: expected an input of rank at least 2, got %s"):format(who(self), tostring(input_shape))) end
  d[n] = self.units
  return tf.TensorShape(d, n)
end

function Dense:get_config()
  return config(self, {
    units = self.units,
    activation = activations.serialize(self.activation),
    use_bias = self.use_bias,
    kernel_initializer = initializers.serialize(self.kernel_initializer),
    bias_initializer = initializers.serialize(self.bias_initializer),
    kernel_regularizer = regularizers.serialize(self.kernel_regularizer),
    bias_regularizer = regularizers.serialize(self.bias_regularizer),
    kernel_constraint = constraints.serialize(self.kernel_constraint),
    bias_constraint = constraints.serialize(self.bias_constraint),
  })
end

-- ---------------------------------------------------------------------------
-- Dropout
-- ---------------------------------------------------------------------------
local Dropout = Layer:extend("Dropout")
M.Dropout = Dropout

local function check_rate(self, rate)
  if type(rate) ~= "number" or rate < 0 or rate > 1 then
    raise("InvalidArgument", ("%s: rate must be a number in [0, 1], got %s"):format(who(self), tostring(rate)))
  end
  return rate
end

local function check_seed(self, seed)
  if seed ~= nil and (type(seed) ~= "number" or seed ~= math.floor(seed)) then
    raise("InvalidArgument", ("%s: seed must be an integer, got %s"):format(who(self), tostring(seed)))
  end
  return seed and math.tointeger(seed)
end

local dropout_spec = { positional = { "rate", "noise_shape", "seed" }, defaults = {}, optional = { "rate", "noise_shape", "seed" } }
function Dropout:init(...)
  local o = layer_mod.options("Dropout", dropout_spec, ...)
  Dropout.super.init(self, o)
  self.rate = check_rate(self, o.rate)
  self.noise_shape = o.noise_shape
  self.seed = check_seed(self, o.seed)
  self.supports_masking = true
end

function Dropout:call(inputs, opts)
  if not (opts and opts.training) or self.rate == 0 then return inputs end
  if self.rate == 1 then return inputs * 0 end
  local ns = self.noise_shape
  if ns then
    local shape = inputs.shape
    local n = ns.n or #ns
    if n ~= #shape then
      raise("InvalidArgument", ("%s: noise_shape has %d dimensions, the input %s has %d"):format(who(self), n, describe(inputs), #shape))
    end
    local full = {}
    for i = 1, n do full[i] = ns[i] or shape[i - 1] end
    return ops.dropout(inputs, { rate = self.rate, noise_shape = full, seed = self.seed })
  end
  if self.seed then return ops.dropout(inputs, { rate = self.rate, seed = self.seed }) end
  return ops.dropout(inputs, self.rate)
end

function Dropout:compute_output_shape(input_shape) return as_shape(input_shape) end

function Dropout:get_config()
  return config(self, { rate = self.rate, seed = self.seed, noise_shape = self.noise_shape })
end

-- ---------------------------------------------------------------------------
-- GaussianNoise
-- ---------------------------------------------------------------------------
local GaussianNoise = Layer:extend("GaussianNoise")
M.GaussianNoise = GaussianNoise

local noise_spec = { positional = { "stddev", "seed" }, defaults = {}, optional = { "stddev", "seed" } }
function GaussianNoise:init(...)
  local o = layer_mod.options("GaussianNoise", noise_spec, ...)
  GaussianNoise.super.init(self, o)
  if type(o.stddev) ~= "number" or o.stddev < 0 then
    raise("InvalidArgument", ("%s: stddev must be a non-negative number, got %s"):format(who(self), tostring(o.stddev)))
  end
  self.stddev = o.stddev
  self.seed = check_seed(self, o.seed)
  self.supports_masking = true
end

function GaussianNoise:call(inputs, opts)
  if not (opts and opts.training) or self.stddev == 0 then return inputs end
  local d = dims(inputs.shape)
  return inputs + tf.random.normal(d, { mean = 0, stddev = self.stddev, dtype = inputs.dtype, seed = self.seed })
end

function GaussianNoise:compute_output_shape(input_shape) return as_shape(input_shape) end
function GaussianNoise:get_config() return config(self, { stddev = self.stddev, seed = self.seed }) end

-- ---------------------------------------------------------------------------
-- Flatten
-- ---------------------------------------------------------------------------
local Flatten = Layer:extend("Flatten")
M.Flatten = Flatten

local flatten_spec = { positional = { "data_format" }, defaults = { data_format = "channels_last" } }
function Flatten:init(...)
  local o = layer_mod.options("Flatten", flatten_spec, ...)
  Flatten.super.init(self, o)
  if o.data_format ~= "channels_last" and o.data_format ~= "channels_first" then
    raise("InvalidArgument", ("%s: data_format must be 'channels_last' or 'channels_first', got '%s'"):format(who(self), tostring(o.data_format)))
  end
  self.data_format = o.data_format
  self.input_spec = InputSpec { min_ndim = 1 }
end

function Flatten:call(inputs)
  local shape = inputs.shape
  local r = #shape
  if self.data_format == "channels_first" and r > 2 then
    local perm = { 0 }
    for i = 2, r - 1 do perm[#perm + 1] = i end
    perm[#perm + 1] = 1
    inputs = tf.transpose(inputs, perm)
  end
  if r == 1 then return reshape(inputs, { shape[0] or -1, 1 }) end
  if shape[0] == nil then
    -- An unknown batch (a traced input): the other dimensions give the
    -- width, and the batch is the -1 that reshape infers.
    local n = 1
    for i = 1, r - 1 do
      if shape[i] == nil then n = nil break end
      n = n * shape[i]
    end
    if n then return reshape(inputs, { -1, n }) end
  end
  return reshape(inputs, { shape[0], -1 })
end

function Flatten:compute_output_shape(input_shape)
  input_shape = as_shape(input_shape)
  local n = 1
  for i = 1, #input_shape - 1 do
    local d = input_shape[i]
    if d == nil then n = nil break end
    n = n * d
  end
  return tf.TensorShape({ input_shape[0], n }, 2)
end

function Flatten:get_config() return config(self, { data_format = self.data_format }) end

-- ---------------------------------------------------------------------------
-- Reshape
-- ---------------------------------------------------------------------------
local Reshape = Layer:extend("Reshape")
M.Reshape = Reshape

local reshape_spec = { positional = { "target_shape" }, defaults = {}, optional = { "target_shape" } }
function Reshape:init(...)
  local o = layer_mod.options("Reshape", reshape_spec, ...)
  Reshape.super.init(self, o)
  local t = o.target_shape
  if type(t) == "table" and getmetatable(t) ~= nil and t.as_list then t = t:as_list() end
  if type(t) ~= "table" then
    raise("InvalidArgument", ("%s: target_shape must be a list of dimensions (one may be -1), got %s"):format(who(self), tostring(t)))
  end
  local n_unknown = 0
  local out = {}
  for i = 1, #t do
    local d = t[i]
    if type(d) ~= "number" or d ~= math.floor(d) or (d < 1 and d ~= -1) then
      raise("InvalidArgument", ("%s: target_shape entries must be positive integers or -1, got %s at position %d"):format(who(self), tostring(d), i))
    end
    if d == -1 then n_unknown = n_unknown + 1 end
    out[i] = math.tointeger(d)
  end
  if n_unknown > 1 then
    raise("InvalidArgument", ("%s: target_shape may contain at most one -1, got {%s}"):format(who(self), table.concat(out, ", ")))
  end
  self.target_shape = out
end

-- The target shape with -1 resolved for n elements per sample (n may be nil).
local function resolve_target(self, n, input_desc)
  local t = self.target_shape
  local known, unknown_at = 1, nil
  local knownf = 1.0 -- float product: the integer one wraps for huge targets
  for i, d in ipairs(t) do
    if d == -1 then unknown_at = i else known = known * d knownf = knownf * d end
  end
  if knownf > 2 ^ 53 then
    raise("InvalidArgument", ("%s: target_shape (%s) holds %.4g elements per sample, more than any tensor can"):format(
      who(self), table.concat(t, ", "), knownf))
  end
  local out = {}
  for i, d in ipairs(t) do out[i] = d end
  if n == nil then
    if unknown_at then out[unknown_at] = nil end
    return out, #t
  end
  if unknown_at then
    if known == 0 or n % known ~= 0 then
      raise("InvalidArgument", ("%s: cannot reshape %s into (batch, %s): %d elements per sample do not divide into %d")
        :format(who(self), input_desc, table.concat(t, ", "), n, known))
    end
    out[unknown_at] = n // known
  elseif known ~= n then
    raise("InvalidArgument", ("%s: total size of the new array must be unchanged: cannot reshape %s (%d elements per sample) into target_shape (%s) (%d elements)")
      :format(who(self), input_desc, n, table.concat(t, ", "), known))
  end
  return out, #t
end

local function per_sample(shape)
  local n = 1
  for i = 1, #shape - 1 do
    local d = shape[i]
    if d == nil then return nil end
    n = n * d
  end
  return n
end

function Reshape:call(inputs)
  local shape = inputs.shape
  local t, n = resolve_target(self, per_sample(shape), describe(inputs))
  local full, batch, free = {}, shape[0], false
  for i = 1, n do
    full[i + 1] = t[i]
    if t[i] == nil or t[i] < 0 then free = true end
  end
  -- An unknown batch (a traced input) is the one -1 that reshape infers.
  if batch == nil and free then
    raise("InvalidArgument", ("%s: cannot reshape %s with an unknown batch to a target with an unknown dimension")
      :format(who(self), describe(inputs)))
  end
  full[1] = batch or -1
  return reshape(inputs, full)
end

function Reshape:compute_output_shape(input_shape)
  input_shape = as_shape(input_shape)
  local t, n = resolve_target(self, per_sample(input_shape), "input of shape " .. tostring(input_shape))
  local full = { input_shape[0] }
  for i = 1, n do full[i + 1] = t[i] end
  return tf.TensorShape(full, n + 1)
end

function Reshape:get_config()
  local t = {}
  for i, d in ipairs(self.target_shape) do t[i] = d end
  return config(self, { target_shape = t })
end

-- ---------------------------------------------------------------------------
-- Activation
-- ---------------------------------------------------------------------------
local Activation = Layer:extend("Activation")
M.Activation = Activation

local activation_spec = { positional = { "activation" }, defaults = {}, optional = { "activation" } }
function Activation:init(...)
  local o = layer_mod.options("Activation", activation_spec, ...)
  Activation.super.init(self, o)
  if o.activation == nil then
    raise("InvalidArgument", ("%s: an activation is required (a name such as 'relu' or a function)"):format(who(self)))
  end
  self.activation = activations.get(o.activation)
  self.supports_masking = true
end
function Activation:call(inputs) return self.activation(inputs) end
function Activation:compute_output_shape(input_shape) return as_shape(input_shape) end
function Activation:get_config() return config(self, { activation = activations.serialize(self.activation) }) end

-- ---------------------------------------------------------------------------
-- Embedding
-- ---------------------------------------------------------------------------
local Embedding = Layer:extend("Embedding")
M.Embedding = Embedding

local embedding_spec = {
  positional = { "input_dim", "output_dim" },
  defaults = { embeddings_initializer = "uniform", mask_zero = false },
  optional = { "input_dim", "output_dim", "embeddings_regularizer", "embeddings_constraint", "input_length",
               "lora_rank", "lora_alpha", "quantization_config", "sparse", "weights" },
}
local int_dtypes = { int8 = true, int16 = true, int32 = true, int64 = true, uint8 = true }

function Embedding:init(...)
  local o = layer_mod.options("Embedding", embedding_spec, ...)
  if o.input_length ~= nil and o.input_shape == nil and o.batch_input_shape == nil then
    o.input_shape = { o.input_length }
  end
  Embedding.super.init(self, o)
  refuse_unimplemented(self, o, { "lora_rank", "lora_alpha", "quantization_config", "sparse" })
  self.input_dim = positive_int(who(self), "input_dim", o.input_dim)
  self.output_dim = positive_int(who(self), "output_dim", o.output_dim)
  self.embeddings_initializer = initializers.get(o.embeddings_initializer)
  self.embeddings_regularizer = regularizers.get(o.embeddings_regularizer)
  self.embeddings_constraint = constraints.get(o.embeddings_constraint)
  self.mask_zero = o.mask_zero and true or false
  self.supports_masking = self.mask_zero
  self._autocast = false
  self._initial_weights = o.weights
end

function Embedding:build(input_shape)
  self.embeddings = self:add_weight { name = "embeddings", shape = { self.input_dim, self.output_dim },
    initializer = self.embeddings_initializer, regularizer = self.embeddings_regularizer,
    constraint = self.embeddings_constraint }
  if self._initial_weights then
    self:set_weights(self._initial_weights)
    self._initial_weights = nil
  end
end

function Embedding:call(inputs)
  local dt = inputs.dtype.name
  if dt ~= "int32" and dt ~= "int64" then
    if dt == "float32" or dt == "float64" or dt == "float16" or dt == "bfloat16" then
      -- Keras casts float indices; a fractional (or NaN) one would be
      -- truncated silently, so it is an error here.
      if not core.graph.is_symbolic(inputs) -- traced: no values to check
        and not (ops.reduce_max(ops.abs(inputs - ops.floor(inputs))):item() == 0) then
        raise("InvalidArgument", ("%s: expected integer indices, got %s holding non-integer values; "
          .. "cast to int32 (tf.cast(x, 'int32')) if truncation is meant"):format(who(self), describe(inputs)))
      end
      inputs = tf.cast(inputs, "int32")
    elseif int_dtypes[dt] then
      inputs = tf.cast(inputs, "int32") -- gather takes int32/int64 (uint8 from keras.datasets)
    else
      raise("InvalidArgument", ("%s: expected integer indices, got %s"):format(who(self), describe(inputs)))
    end
  end
  if not core.graph.is_symbolic(inputs) then -- an empty input gives lo > hi and passes (traced: gather checks at run time)
    local lo, hi = ops.reduce_min(inputs):item(), ops.reduce_max(inputs):item()
    if lo <= hi and (lo < 0 or hi >= self.input_dim) then
      raise("InvalidArgument", ("%s: indices must be in [0, input_dim=%d), got values from %d to %d in %s")
        :format(who(self), self.input_dim, lo, hi, describe(inputs)))
    end
  end
  return ops.gather(self.embeddings, inputs)
end

function Embedding:compute_mask(inputs, mask)
  if not self.mask_zero then return nil end
  return tf.not_equal(inputs, 0)
end

function Embedding:compute_output_shape(input_shape)
  input_shape = as_shape(input_shape)
  local d, n = dims(input_shape)
  d[n + 1] = self.output_dim
  return tf.TensorShape(d, n + 1)
end

function Embedding:get_config()
  return config(self, {
    input_dim = self.input_dim, output_dim = self.output_dim,
    embeddings_initializer = initializers.serialize(self.embeddings_initializer),
    embeddings_regularizer = regularizers.serialize(self.embeddings_regularizer),
    embeddings_constraint = constraints.serialize(self.embeddings_constraint),
    mask_zero = self.mask_zero,
  })
end

-- ---------------------------------------------------------------------------
-- Lambda
-- ---------------------------------------------------------------------------
local Lambda = Layer:extend("Lambda")
M.Lambda = Lambda

local lambda_spec = { positional = { "function" }, defaults = {}, optional = { "function", "output_shape", "mask", "arguments" } }

local function resolve_function(self, fn, custom_objects)
  if type(fn) == "function" or (type(fn) == "table" and getmetatable(fn) and getmetatable(fn).__call) then return fn end
  local name = fn
  if type(fn) == "table" and fn.class_name then name = type(fn.config) == "string" and fn.config or fn.class_name end
  if type(name) == "string" then
    if custom_objects and custom_objects[name] then return custom_objects[name] end
    local ok, saving = pcall(require, "keras.saving")
    if ok and type(saving) == "table" and saving.deserialize_keras_object then
      return saving.deserialize_keras_object(name, { custom_objects = custom_objects, kind = "function" })
    end
    raise("InvalidArgument", ("%s: cannot find the function '%s' (keras.saving is not available; pass the function itself)"):format(who(self), name))
  end
  raise("InvalidArgument", ("%s: function must be a Lua function, got %s"):format(who(self), type(fn)))
end

function Lambda:init(...)
  local o = layer_mod.options("Lambda", lambda_spec, ...)
  Lambda.super.init(self, o)
  if o["function"] == nil then raise("InvalidArgument", ("%s: a function is required"):format(who(self))) end
  self["function"] = resolve_function(self, o["function"], rawget(o, "_custom_objects"))
  self.output_shape = o.output_shape
  self.mask = o.mask
  self.arguments = o.arguments
  self.supports_masking = o.mask ~= nil
end

function Lambda.from_config(cfg, custom_objects)
  local c = {}
  for k, v in pairs(cfg) do c[k] = v end
  c["function"] = (function()
    local fn = cfg["function"]
    if type(fn) == "function" then return fn end
    local name = type(fn) == "table" and (type(fn.config) == "string" and fn.config or fn.class_name) or fn
    if custom_objects and custom_objects[name] then return custom_objects[name] end
    local ok, saving = pcall(require, "keras.saving")
    if ok and type(saving) == "table" and saving.deserialize_keras_object then
      return saving.deserialize_keras_object(name, { custom_objects = custom_objects, kind = "function" })
    end
    raise("InvalidArgument", ("Lambda.from_config: cannot find the function '%s': pass it in custom_objects"):format(tostring(name)))
  end)()
  return Lambda(c)
end

function Lambda:call(inputs, opts)
  local fn = self["function"]
  if self.arguments then return fn(inputs, self.arguments) end
  return fn(inputs)
end

function Lambda:compute_mask(inputs, mask)
  local m = self.mask
  if type(m) == "function" then return m(inputs, mask) end
  if m ~= nil then return m end
  return nil
end

function Lambda:compute_output_shape(input_shape)
  input_shape = as_shape(input_shape)
  local os = self.output_shape
  if type(os) == "function" then return as_shape(os(input_shape)) end
  if type(os) == "table" then
    if getmetatable(os) ~= nil and os.as_list then os = os:as_list() end
    local n = os.n or #os
    local d = { input_shape[0] }
    for i = 1, n do d[i + 1] = os[i] end
    return tf.TensorShape(d, n + 1)
  end
  -- run the function on zeros (batch 1 when unknown) and read the shape
  local d, n = dims(input_shape)
  local batch_unknown = d[1] == nil
  for i = 1, n do
    if d[i] == nil then
      if i == 1 then d[i] = 1 else
        raise("InvalidArgument", ("%s: cannot infer the output shape for input shape %s: give output_shape"):format(who(self), tostring(input_shape)))
      end
    end
  end
  local out = self:call(tf.zeros(d, rawget(self, "dtype")))
  local s = out.shape
  local od, on = dims(s)
  if batch_unknown and on > 0 then od[1] = nil end
  return tf.TensorShape(od, on)
end

function Lambda:get_config()
  local fn = self["function"]
  local ok, saving = pcall(require, "keras.saving")
  local name
  if ok and type(saving) == "table" and saving.function_name then name = saving.function_name(fn) end
  if name == nil then
    raise("InvalidArgument", ("%s: cannot serialize its function: give it a name (local function my_fn(x) ... end) or register it with keras.saving.register_keras_serializable%s")
      :format(who(self), ok and "" or " (keras.saving is not available)"))
  end
  local os = self.output_shape
  if type(os) == "function" then
    os = ok and saving.function_name(os) or nil
  elseif type(os) == "table" and getmetatable(os) ~= nil and os.as_list then
    os = os:as_list()
  end
  return config(self, { ["function"] = name, output_shape = os, arguments = self.arguments })
end

-- ---------------------------------------------------------------------------
-- Small shape layers
-- ---------------------------------------------------------------------------
local RepeatVector = Layer:extend("RepeatVector")
M.RepeatVector = RepeatVector
local repeat_spec = { positional = { "n" }, defaults = {}, optional = { "n" } }
function RepeatVector:init(...)
  local o = layer_mod.options("RepeatVector", repeat_spec, ...)
  RepeatVector.super.init(self, o)
  self.n = positive_int(who(self), "n", o.n)
  self.input_spec = InputSpec { ndim = 2 }
end
function RepeatVector:call(inputs)
  return tf.tile(tf.expand_dims(inputs, 1), { 1, self.n, 1 })
end
function RepeatVector:compute_output_shape(s)
  s = as_shape(s)
  return tf.TensorShape({ s[0], self.n, s[1] }, 3)
end
function RepeatVector:get_config() return config(self, { n = self.n }) end

local Permute = Layer:extend("Permute")
M.Permute = Permute
local permute_spec = { positional = { "dims" }, defaults = {}, optional = { "dims" } }
function Permute:init(...)
  local o = layer_mod.options("Permute", permute_spec, ...)
  Permute.super.init(self, o)
  local d = o.dims
  if type(d) ~= "table" or #d == 0 then
    raise("InvalidArgument", ("%s: dims must be a list such as {2, 1} (1-based axes after the batch, as Keras)"):format(who(self)))
  end
  local seen = {}
  for i, a in ipairs(d) do
    if math.type(a) ~= "integer" or a < 1 or a > #d or seen[a] then
      raise("InvalidArgument", ("%s: dims must be a permutation of 1..%d, got {%s}"):format(who(self), #d, table.concat(d, ", ")))
    end
    seen[a] = true
  end
  self.dims = d
  self.input_spec = InputSpec { ndim = #d + 1 }
end
function Permute:call(inputs)
  local perm = { 0 }
  for i, a in ipairs(self.dims) do perm[i + 1] = a end
  return tf.transpose(inputs, perm)
end
function Permute:compute_output_shape(s)
  s = as_shape(s)
  local d = { s[0] }
  for i, a in ipairs(self.dims) do d[i + 1] = s[a] end
  return tf.TensorShape(d, #self.dims + 1)
end
function Permute:get_config()
  local d = {}
  for i, a in ipairs(self.dims) do d[i] = a end
  return config(self, { dims = d })
end

local Masking = Layer:extend("Masking")
M.Masking = Masking
local masking_spec = { positional = { "mask_value" }, defaults = { mask_value = 0.0 } }
function Masking:init(...)
  local o = layer_mod.options("Masking", masking_spec, ...)
  Masking.super.init(self, o)
  self.mask_value = o.mask_value
  self.supports_masking = true
end
function Masking:compute_mask(inputs)
  return tf.reduce_any(tf.not_equal(inputs, self.mask_value), -1)
end
function Masking:call(inputs)
  local keep = tf.reduce_any(tf.not_equal(inputs, self.mask_value), -1, { keepdims = true })
  return inputs * tf.cast(keep, inputs.dtype)
end
function Masking:compute_output_shape(s) return as_shape(s) end
function Masking:get_config() return config(self, { mask_value = self.mask_value }) end

local ActivityRegularization = Layer:extend("ActivityRegularization")
M.ActivityRegularization = ActivityRegularization
local actreg_spec = { positional = { "l1", "l2" }, defaults = { l1 = 0.0, l2 = 0.0 } }
function ActivityRegularization:init(...)
  local o = layer_mod.options("ActivityRegularization", actreg_spec, ...)
  o.activity_regularizer = regularizers.L1L2 { l1 = o.l1, l2 = o.l2 }
  ActivityRegularization.super.init(self, o)
  self.l1, self.l2 = o.l1, o.l2
  self.supports_masking = true
end
function ActivityRegularization:compute_output_shape(s) return as_shape(s) end
function ActivityRegularization:get_config()
  local cfg = config(self, { l1 = self.l1, l2 = self.l2 })
  cfg.activity_regularizer = nil
  return cfg
end

local Identity = Layer:extend("Identity")
M.Identity = Identity
function Identity:init(...)
  local o = layer_mod.options("Identity", { defaults = {} }, ...)
  Identity.super.init(self, o)
  self.supports_masking = true
end
function Identity:compute_output_shape(s) return as_shape(s) end

-- ---------------------------------------------------------------------------
-- Activation layers with hyperparameters: ReLU, LeakyReLU, ELU, Softmax
-- (keras.layers.ReLU{max_value=6} etc.), each the activation function of
-- keras.activations with its options, Keras's defaults and config keys.
-- ---------------------------------------------------------------------------
local function activation_layer(name, keys, defaults, check, apply)
  local cls = Layer:extend(name)
  local spec = { positional = { keys[1] }, defaults = defaults, optional = keys }
  function cls:init(...)
    local o = layer_mod.options(name, spec, ...)
    cls.super.init(self, o)
    for _, k in ipairs(keys) do self[k] = o[k] end
    check(self)
    self.supports_masking = true
  end
  function cls:call(inputs) return apply(self, inputs) end
  function cls:compute_output_shape(input_shape) return as_shape(input_shape) end
  function cls:get_config()
    local extra = {}
    for _, k in ipairs(keys) do extra[k] = self[k] end
    return config(self, extra)
  end
  M[name] = cls
  return cls
end

local function number_option(self, key, lo)
  local v = self[key]
  if v ~= nil and (type(v) ~= "number" or v ~= v or (lo and v < lo)) then
    raise("InvalidArgument", ("%s: %s must be a number%s, got %s"):format(who(self), key, lo and (" >= " .. lo) or "", tostring(v)))
  end
end

activation_layer("ReLU", { "max_value", "negative_slope", "threshold" }, { negative_slope = 0, threshold = 0 },
  function(self)
    number_option(self, "max_value", 0)
    number_option(self, "negative_slope", 0)
    number_option(self, "threshold")
  end,
  function(self, x)
    if self.max_value == nil and self.negative_slope == 0 and self.threshold == 0 then return activations.relu(x) end
    return activations.relu(x, { max_value = self.max_value, negative_slope = self.negative_slope, threshold = self.threshold })
  end)
activation_layer("LeakyReLU", { "negative_slope" }, { negative_slope = 0.3 },
  function(self) number_option(self, "negative_slope", 0) end,
  function(self, x) return activations.leaky_relu(x, self.negative_slope) end)
activation_layer("ELU", { "alpha" }, { alpha = 1.0 },
  function(self) number_option(self, "alpha") end,
  function(self, x) return activations.elu(x, self.alpha) end)
activation_layer("Softmax", { "axis" }, { axis = -1 },
  function(self)
    if math.type(self.axis) ~= "integer" then
      raise("InvalidArgument", ("%s: axis must be an integer, got %s"):format(who(self), tostring(self.axis)))
    end
  end,
  function(self, x) return activations.softmax(x, self.axis) end)

return M
