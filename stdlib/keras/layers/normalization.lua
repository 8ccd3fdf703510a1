-- keras.layers.normalization: BatchNormalization and LayerNormalization,
-- with Keras 3's formulas, defaults, weight order and training semantics.
--
--   local bn = keras.layers.BatchNormalization{momentum = 0.9}
--   local y = bn(x, {training = true})   -- batch statistics; moving stats updated
--   local y = bn(x)                      -- moving statistics (inference)
--   local ln = keras.layers.LayerNormalization{axis = {1, 2}}
--
-- BatchNormalization: weights gamma, beta (trainable), moving_mean,
-- moving_variance (non-trainable), in that order. With training=true and a
-- trainable layer, the output uses the batch mean and the biased batch
-- variance (as Keras 3's ops.moments) and the moving statistics become
-- moving * momentum + batch * (1 - momentum); otherwise (training false or
-- nil, or layer.trainable == false, as Keras) the moving statistics are
-- used and nothing is updated. The normalisation is tf.nn.batch_normalization's:
-- inv = rsqrt(var + eps) * gamma; y = x * inv + (beta - mean * inv).
-- LayerNormalization normalises over `axis` (an integer or a list) per
-- example with the same formula; gamma and beta have the shape of the
-- normalised dimensions.
--
-- BatchNormalization's opts.mask (one dimension less than the input, as
-- Keras) restricts the batch statistics to the unmasked positions.
-- Not supported: renorm, synchronized, LayerNormalization's deprecated
-- rms_scaling.
local core = require("tlua.core")
local tf = require("tlua")
local layer_mod = require("keras.layer")
local Layer = layer_mod.Layer
local InputSpec = layer_mod.InputSpec
local initializers = require("keras.initializers")
local regularizers = require("keras.regularizers")
local constraints = require("keras.constraints")

local function raise(kind, msg) core.raise(kind, msg) end

-- class.options with the base layer options (name, trainable, dtype, ...) allowed.
local layer_options = layer_mod.options

local function describe_shape(s)
  return tostring(tf.TensorShape(s))
end

-- The axis (0-based, negative from the end) as a non-negative index for a
-- rank, or an InvalidArgument naming the layer.
local function resolve_axis(who, axis, rank, shape)
  if math.type(axis) ~= "integer" then
    raise("InvalidArgument", ("%s: axis must be an integer or a list of integers, got %s"):format(who, tostring(axis)))
  end
  local a = axis < 0 and axis + rank or axis
  if a < 0 or a >= rank then
    raise("InvalidArgument", ("%s: axis %d is out of bounds for input shape %s"):format(who, axis, describe_shape(shape)))
  end
  return a
end

local who_of = layer_mod.who

-- ---------------------------------------------------------------------------
-- BatchNormalization

local BatchNormalization = Layer:extend("BatchNormalization")

local bn_spec = {
  positional = { "axis" },
  defaults = {
    axis = -1, momentum = 0.99, epsilon = 1e-3, center = true, scale = true,
    beta_initializer = "zeros", gamma_initializer = "ones",
    moving_mean_initializer = "zeros", moving_variance_initializer = "ones",
    synchronized = false, renorm = false, renorm_momentum = 0.99,
  },
  optional = { "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint", "renorm_clipping" },
}

function BatchNormalization:init(...)
  local o = layer_options("BatchNormalization", bn_spec, ...)
  BatchNormalization.super.init(self, o)
  local who = who_of(self)
  if math.type(o.axis) ~= "integer" then
    raise("InvalidArgument", ("%s: axis must be an integer, got %s"):format(who, tostring(o.axis)))
  end
  if o.renorm then raise("Unimplemented", who .. ": renorm=true is not supported") end
  if o.synchronized then raise("Unimplemented", who .. ": synchronized=true is not supported (one device)") end
  if type(o.momentum) ~= "number" or type(o.epsilon) ~= "number" or o.epsilon <= 0 then
    raise("InvalidArgument", ("%s: momentum and epsilon must be numbers (epsilon > 0), got %s and %s")
      :format(who, tostring(o.momentum), tostring(o.epsilon)))
  end
  self.axis = o.axis
  self.momentum = o.momentum
  self.epsilon = o.epsilon
  self.center = o.center
  self.scale = o.scale
  self.beta_initializer = initializers.get(o.beta_initializer)
  self.gamma_initializer = initializers.get(o.gamma_initializer)
  self.moving_mean_initializer = initializers.get(o.moving_mean_initializer)
  self.moving_variance_initializer = initializers.get(o.moving_variance_initializer)
  self.beta_regularizer = regularizers.get(o.beta_regularizer)
  self.gamma_regularizer = regularizers.get(o.gamma_regularizer)
  self.beta_constraint = constraints.get(o.beta_constraint)
  self.gamma_constraint = constraints.get(o.gamma_constraint)
  self.renorm_momentum = o.renorm_momentum
  self.supports_masking = true
end

function BatchNormalization:build(input_shape)
  local who = who_of(self)
  local rank = #input_shape
  local a = resolve_axis(who, self.axis, rank, input_shape)
  local c = input_shape[a]
  if c == nil then
    raise("InvalidArgument", ("%s: the normalised axis %d of input shape %s must be known")
      :format(who, self.axis, describe_shape(input_shape)))
  end
  local shape = { c }
  local dtype = self.dtype
  if self.scale then
    self.gamma = self:add_weight{ name = "gamma", shape = shape, initializer = self.gamma_initializer,
      regularizer = self.gamma_regularizer, constraint = self.gamma_constraint, trainable = true, dtype = dtype }
  end
  if self.center then
    self.beta = self:add_weight{ name = "beta", shape = shape, initializer = self.beta_initializer,
      regularizer = self.beta_regularizer, constraint = self.beta_constraint, trainable = true, dtype = dtype }
  end
  self.moving_mean = self:add_weight{ name = "moving_mean", shape = shape,
    initializer = self.moving_mean_initializer, trainable = false, dtype = dtype }
  self.moving_variance = self:add_weight{ name = "moving_variance", shape = shape,
    initializer = self.moving_variance_initializer, trainable = false, dtype = dtype }
  self.input_spec = InputSpec{ ndim = rank, axes = { [self.axis] = c } }
  local axes = {}
  for i = 0, rank - 1 do
    if i ~= a then axes[#axes + 1] = i end
  end
  self._reduction_axes = axes
  self._axis = a
  -- Statistics of shape [C] broadcast against the input as they are when
  -- the axis is the last one; otherwise they are reshaped to [1, C, 1, ...].
  if a ~= rank - 1 then
    local b = {}
    for i = 1, rank do b[i] = 1 end
    b[a + 1] = c
    self._broadcast_shape = b
  else
    self._broadcast_shape = false
  end
end

-- Keras's masked statistics: mean and biased variance over the unmasked
-- positions only (mask: one dimension less than the input), each sum
-- divided by (count + 1e-7) as Keras does.
local MASK_EPSILON = 1e-7
local function masked_moments(layer, x, mask)
  if not tf.is_tensor(mask) then mask = tf.constant(mask) end
  if #mask.shape ~= #x.shape - 1 then
    raise("InvalidArgument", ("%s: the mask must have one dimension less than the input, got mask %s for input %s")
      :format(who_of(layer), describe_shape(mask.shape), describe_shape(x.shape)))
  end
  local axes = layer._reduction_axes
  local w = tf.broadcast_to(tf.expand_dims(tf.cast(mask, x.dtype), -1), x.shape)
  local count = tf.reduce_sum(w, axes, { keepdims = true }) + MASK_EPSILON
  local mean = tf.reduce_sum(x * w, axes, { keepdims = true }) / count
  local variance = tf.reduce_sum(tf.square((x - mean) * w), axes, { keepdims = true }) / count
  local c = { x.shape[layer._axis] }
  return tf.reshape(mean, c), tf.reshape(variance, c)
end

function BatchNormalization:call(inputs, opts)
  local training = opts and opts.training
  local mean, variance
  if training and self.trainable then
    local mask = opts.mask
    if mask == nil then
      mean, variance = tf.nn.moments(inputs, self._reduction_axes)
    else
      mean, variance = masked_moments(self, inputs, mask)
    end
    local m = self.momentum
    local mm, mv = self.moving_mean, self.moving_variance
    mm:assign(mm * m + mean * (1.0 - m))
    mv:assign(mv * m + variance * (1.0 - m))
  else
    mean, variance = self.moving_mean, self.moving_variance
  end
  local gamma, beta = self.gamma, self.beta
  local b = self._broadcast_shape
  if b then
    mean, variance = tf.reshape(mean, b), tf.reshape(variance, b)
    if gamma then gamma = tf.reshape(gamma, b) end
    if beta then beta = tf.reshape(beta, b) end
  end
  local inv = tf.math.rsqrt(variance + self.epsilon)
  if gamma then inv = inv * gamma end
  local shift = mean * inv
  shift = beta and (beta - shift) or -shift
  return inputs * inv + shift
end

function BatchNormalization:compute_output_shape(input_shape)
  input_shape = tf.TensorShape(input_shape)
  resolve_axis(who_of(self), self.axis, #input_shape, input_shape)
  return input_shape
end

function BatchNormalization:get_config()
  local cfg = BatchNormalization.super.get_config(self)
  cfg.axis = self.axis
  cfg.momentum = self.momentum
  cfg.epsilon = self.epsilon
  cfg.center = self.center
  cfg.scale = self.scale
  cfg.beta_initializer = initializers.serialize(self.beta_initializer)
  cfg.gamma_initializer = initializers.serialize(self.gamma_initializer)
  cfg.moving_mean_initializer = initializers.serialize(self.moving_mean_initializer)
  cfg.moving_variance_initializer = initializers.serialize(self.moving_variance_initializer)
  cfg.beta_regularizer = regularizers.serialize(self.beta_regularizer)
  cfg.gamma_regularizer = regularizers.serialize(self.gamma_regularizer)
  cfg.beta_constraint = constraints.serialize(self.beta_constraint)
  cfg.gamma_constraint = constraints.serialize(self.gamma_constraint)
  cfg.synchronized = false
  cfg.renorm = false
  cfg.renorm_momentum = self.renorm_momentum
  return cfg
end

-- ---------------------------------------------------------------------------
-- LayerNormalization

local LayerNormalization = Layer:extend("LayerNormalization")

local ln_spec = {
  positional = { "axis" },
  defaults = { axis = -1, epsilon = 1e-3, center = true, scale = true,
               beta_initializer = "zeros", gamma_initializer = "ones", rms_scaling = false },
  optional = { "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint" },
}

function LayerNormalization:init(...)
  local o = layer_options("LayerNormalization", ln_spec, ...)
  LayerNormalization.super.init(self, o)
  local who = who_of(self)
  local axis = o.axis
  if type(axis) == "table" then
    if #axis == 0 then raise("InvalidArgument", who .. ": axis must not be an empty list") end
    local copy = {}
    for i, a in ipairs(axis) do
      if math.type(a) ~= "integer" then
        raise("InvalidArgument", ("%s: axis must be an integer or a list of integers, got %s at position %d")
          :format(who, tostring(a), i))
      end
      copy[i] = a
    end
    axis = copy
  elseif math.type(axis) ~= "integer" then
    raise("InvalidArgument", ("%s: axis must be an integer or a list of integers, got %s"):format(who, tostring(axis)))
  end
  if o.rms_scaling then
    raise("Unimplemented", who .. ": rms_scaling is deprecated in Keras and not supported (use RMS normalisation by hand)")
  end
  if type(o.epsilon) ~= "number" or o.epsilon <= 0 then
    raise("InvalidArgument", ("%s: epsilon must be a positive number, got %s"):format(who, tostring(o.epsilon)))
  end
  self.axis = axis
  self.epsilon = o.epsilon
  self.center = o.center
  self.scale = o.scale
  self.beta_initializer = initializers.get(o.beta_initializer)
  self.gamma_initializer = initializers.get(o.gamma_initializer)
  self.beta_regularizer = regularizers.get(o.beta_regularizer)
  self.gamma_regularizer = regularizers.get(o.gamma_regularizer)
  self.beta_constraint = constraints.get(o.beta_constraint)
  self.gamma_constraint = constraints.get(o.gamma_constraint)
  self.supports_masking = true
end

-- The normalised axes, non-negative, sorted, without repeats.
local function ln_axes(layer, shape)
  local who = who_of(layer)
  local list = type(layer.axis) == "table" and layer.axis or { layer.axis }
  local rank = #shape
  local axes, seen = {}, {}
  for _, a in ipairs(list) do
    local r = resolve_axis(who, a, rank, shape)
    if seen[r] then raise("InvalidArgument", ("%s: axis %d is given twice"):format(who, a)) end
    seen[r] = true
    axes[#axes + 1] = r
  end
  table.sort(axes)
  return axes
end

function LayerNormalization:build(input_shape)
  local who = who_of(self)
  local axes = ln_axes(self, input_shape)
  local rank = #input_shape
  local pshape = {}
  for i, a in ipairs(axes) do
    local d = input_shape[a]
    if d == nil then
      raise("InvalidArgument", ("%s: the normalised axis %d of input shape %s must be known")
        :format(who, a, describe_shape(input_shape)))
    end
    pshape[i] = d
  end
  if self.scale then
    self.gamma = self:add_weight{ name = "gamma", shape = pshape, initializer = self.gamma_initializer,
      regularizer = self.gamma_regularizer, constraint = self.gamma_constraint, trainable = true, dtype = self.dtype }
  end
  if self.center then
    self.beta = self:add_weight{ name = "beta", shape = pshape, initializer = self.beta_initializer,
      regularizer = self.beta_regularizer, constraint = self.beta_constraint, trainable = true, dtype = self.dtype }
  end
  self._axes = axes
  -- gamma/beta broadcast as they are when the axes are the trailing
  -- dimensions; otherwise they are reshaped to 1 everywhere else.
  local trailing = true
  for i, a in ipairs(axes) do
    if a ~= rank - #axes + i - 1 then trailing = false end
  end
  if trailing then
    self._broadcast_shape = false
  else
    local b = {}
    for i = 1, rank do b[i] = 1 end
    for i, a in ipairs(axes) do b[a + 1] = pshape[i] end
    self._broadcast_shape = b
  end
  local spec_axes = {}
  for i, a in ipairs(axes) do spec_axes[a] = pshape[i] end
  self.input_spec = InputSpec{ ndim = rank, axes = spec_axes }
end

function LayerNormalization:call(inputs)
  local mean, variance = tf.nn.moments(inputs, self._axes, { keepdims = true })
  local inv = tf.math.rsqrt(variance + self.epsilon)
  local gamma, beta = self.gamma, self.beta
  local b = self._broadcast_shape
  if gamma then
    if b then gamma = tf.reshape(gamma, b) end
    inv = inv * gamma
  end
  local shift = mean * inv
  if beta then
    if b then beta = tf.reshape(beta, b) end
    shift = beta - shift
  else
    shift = -shift
  end
  return inputs * inv + shift
end

function LayerNormalization:compute_output_shape(input_shape)
  input_shape = tf.TensorShape(input_shape)
  ln_axes(self, input_shape)
  return input_shape
end

function LayerNormalization:get_config()
  local cfg = LayerNormalization.super.get_config(self)
  cfg.axis = self.axis
  cfg.epsilon = self.epsilon
  cfg.center = self.center
  cfg.scale = self.scale
  cfg.rms_scaling = false
  cfg.beta_initializer = initializers.serialize(self.beta_initializer)
  cfg.gamma_initializer = initializers.serialize(self.gamma_initializer)
  cfg.beta_regularizer = regularizers.serialize(self.beta_regularizer)
  cfg.gamma_regularizer = regularizers.serialize(self.gamma_regularizer)
  cfg.beta_constraint = constraints.serialize(self.beta_constraint)
  cfg.gamma_constraint = constraints.serialize(self.gamma_constraint)
  return cfg
end

return {
  BatchNormalization = BatchNormalization,
  LayerNormalization = LayerNormalization,
}
