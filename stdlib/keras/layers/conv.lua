-- keras.layers convolutions: Conv1D, Conv2D, Conv2DTranspose and
-- DepthwiseConv2D (aliases Convolution1D/2D, Convolution2DTranspose).
--
--   keras.layers.Conv2D(32, 3, {activation = "relu", padding = "same"})
--   keras.layers.Conv2D{filters = 64, kernel_size = {3, 3}, strides = 2}
--   keras.layers.Conv1D(16, 5, {padding = "causal", dilation_rate = 2})
--   keras.layers.Conv2DTranspose(8, 3, {strides = 2, padding = "same"})
--   keras.layers.DepthwiseConv2D(3, {depth_multiplier = 2})
--
-- Options are Keras 3's get_config keys (plus the base layer options of
-- keras/layer.lua); the leading positional arguments are sugar. Kernels
-- are HWIO as Keras's: Conv2D (kh, kw, in, filters), Conv2DTranspose
-- (kh, kw, filters, in), DepthwiseConv2D "depthwise_kernel" (kh, kw, in,
-- depth_multiplier); Conv1D (k, in, filters). The numerics are the C ops
-- (tf.nn.conv2d and friends, src/ops/conv.c) plus bias_add and the
-- activation. data_format "channels_first" transposes to channels-last
-- around the op (the CPU ops are NHWC only). Not here: groups > 1,
-- Conv3D, SeparableConv, strides > 1 together with dilation_rate > 1
-- (Keras refuses it too).
local core = require("tlua.core")
local tf = require("tlua")
local layer_mod = require("keras.layer")
local activations = require("keras.activations")
local initializers = require("keras.initializers")
local regularizers = require("keras.regularizers")
local constraints = require("keras.constraints")

local Layer, InputSpec = layer_mod.Layer, layer_mod.InputSpec
local who = layer_mod.who
local raise = core.raise
local ops = core.ops
local bias_add, transpose = ops.bias_add, ops.transpose
local args = require("keras.layers.args")
local tuple, data_format_of, shape_list, as_shape = args.tuple, args.data_format_of, args.shape_list, args.as_shape

local M = {}

local function positive_int(self_name, key, v)
  if type(v) == "number" and v == math.floor(v) then v = math.tointeger(v) end
  if math.type(v) ~= "integer" or v <= 0 then
    raise("InvalidArgument", ("%s: %s must be a positive integer, got %s"):format(self_name, key, tostring(v)))
  end
  return v
end

local function padding_of(self_name, p, allowed)
  if type(p) == "string" then
    local l = p:lower()
    for _, a in ipairs(allowed) do if l == a then return l end end
  end
  raise("InvalidArgument", ("%s: padding must be one of %s, got %s"):format(self_name,
    "'" .. table.concat(allowed, "', '") .. "'", type(p) == "string" and ("'" .. p .. "'") or tostring(p)))
end

-- Keras's output length of one convolution dimension (nil stays unknown).
local function conv_length(n, k, s, d, padding)
  if n == nil then return nil end
  local dk = (k - 1) * d + 1
  if padding == "same" or padding == "causal" then return (n + s - 1) // s end
  if n < dk then return 0 end
  return (n - dk) // s + 1
end

-- Keras's deconv_output_length.
local function deconv_length(n, k, s, d, padding, output_padding)
  if n == nil then return nil end
  local dk = (k - 1) * d + 1
  if output_padding == nil then
    if padding == "valid" then return n * s + math.max(dk - s, 0) end
    return n * s
  end
  local pad = padding == "same" and dk // 2 or 0
  return (n - 1) * s + dk - 2 * pad + output_padding
end

-- channels_first <-> channels_last permutations for rank r.
local function perms(r)
  local to_last, to_first = { 0 }, { 0, r - 1 }
  for i = 2, r - 1 do to_last[#to_last + 1] = i end
  to_last[#to_last + 1] = 1
  for i = 1, r - 2 do to_first[#to_first + 1] = i end
  return to_last, to_first
end

-- ---------------------------------------------------------------------------
-- The shared base: rank-n convolution options, weights, bias and activation.
-- ---------------------------------------------------------------------------
local Conv = Layer:extend("Conv")

local COMMON_OPTIONAL = { "activation", "kernel_regularizer", "bias_regularizer", "kernel_constraint",
                          "bias_constraint", "groups", "data_format" }

local function conv_spec(rank, extra_defaults, extra_optional, positional)
  local defaults = { strides = 1, padding = "valid", dilation_rate = 1, use_bias = true,
                     kernel_initializer = "glorot_uniform", bias_initializer = "zeros" }
  for k, v in pairs(extra_defaults or {}) do defaults[k] = v end
  local optional = { "filters", "kernel_size" }
  for _, k in ipairs(COMMON_OPTIONAL) do optional[#optional + 1] = k end
  for _, k in ipairs(extra_optional or {}) do optional[#optional + 1] = k end
  return { positional = positional or { "filters", "kernel_size", "strides", "padding" }, defaults = defaults,
           optional = optional, rank = rank }
end

-- Reads the options every convolution has (rank = spatial dimensions).
function Conv:_init_common(o, rank, paddings, kernel_key)
  local name = who(self)
  self.rank = rank
  self.kernel_size = tuple(name, "kernel_size", o.kernel_size, rank)
  self.strides = tuple(name, "strides", o.strides, rank)
  self.dilation_rate = tuple(name, "dilation_rate", o.dilation_rate, rank)
  self.padding = padding_of(name, o.padding, paddings)
  self.data_format = data_format_of(name, o.data_format)
  self.groups = o.groups or 1
  if self.groups ~= 1 then
    raise("Unimplemented", ("%s: groups = %s is not supported (only 1)"):format(name, tostring(self.groups)))
  end
  local s_gt, d_gt = false, false
  for i = 1, rank do
    s_gt = s_gt or self.strides[i] > 1
    d_gt = d_gt or self.dilation_rate[i] > 1
  end
  if s_gt and d_gt then
    raise("InvalidArgument", ("%s: strides > 1 is not supported together with dilation_rate > 1 (strides=%s, dilation_rate=%s)")
      :format(name, table.concat(self.strides, ","), table.concat(self.dilation_rate, ",")))
  end
  self.activation = activations.get(o.activation)
  self.use_bias = o.use_bias and true or false
  self[kernel_key .. "_initializer"] = initializers.get(o[kernel_key .. "_initializer"])
  self.bias_initializer = initializers.get(o.bias_initializer)
  self[kernel_key .. "_regularizer"] = regularizers.get(o[kernel_key .. "_regularizer"])
  self.bias_regularizer = regularizers.get(o.bias_regularizer)
  self[kernel_key .. "_constraint"] = constraints.get(o[kernel_key .. "_constraint"])
  self.bias_constraint = constraints.get(o.bias_constraint)
  self._kernel_key = kernel_key
  self._act = self.activation ~= activations.linear and self.activation or false
  self._pad_op = self.padding == "causal" and "VALID" or self.padding:upper()
  self._to_last, self._to_first = perms(rank + 2)
  self.input_spec = InputSpec { ndim = rank + 2 }
end

-- The channel count of an input shape, which must be known.
function Conv:_channels(input_shape)
  local ax = self.data_format == "channels_first" and 1 or -1
  local c = input_shape[ax]
  if c == nil then
    raise("InvalidArgument", ("%s: the channel dimension of the inputs should be defined, got %s"):format(
      who(self), tostring(input_shape)))
  end
  return c, ax
end

function Conv:_add_kernel(shape, name)
  local k = self._kernel_key
  return self:add_weight { name = name, shape = shape, initializer = self[k .. "_initializer"],
                           regularizer = self[k .. "_regularizer"], constraint = self[k .. "_constraint"] }
end

function Conv:_add_bias(n)
  if not self.use_bias then return false end
  return self:add_weight { name = "bias", shape = { n }, initializer = self.bias_initializer,
                           regularizer = self.bias_regularizer, constraint = self.bias_constraint }
end

-- Runs f on the channels-last input and finishes with bias and activation.
function Conv:_apply(inputs, f)
  local first = self.data_format == "channels_first"
  if first then inputs = transpose(inputs, self._to_last) end
  local y = f(inputs)
  if self.bias then y = bias_add(y, self.bias) end
  if self._act then y = self._act(y) end
  if first then y = transpose(y, self._to_first) end
  return y
end

function Conv:_base_config(extra)
  local k = self._kernel_key
  local cfg = Layer.get_config(self)
  cfg.kernel_size = { table.unpack(self.kernel_size) }
  cfg.strides = { table.unpack(self.strides) }
  cfg.padding = self.padding
  cfg.data_format = self.data_format
  cfg.dilation_rate = { table.unpack(self.dilation_rate) }
  cfg.activation = activations.serialize(self.activation)
  cfg.use_bias = self.use_bias
  cfg[k .. "_initializer"] = initializers.serialize(self[k .. "_initializer"])
  cfg.bias_initializer = initializers.serialize(self.bias_initializer)
  cfg[k .. "_regularizer"] = regularizers.serialize(self[k .. "_regularizer"])
  cfg.bias_regularizer = regularizers.serialize(self.bias_regularizer)
  cfg[k .. "_constraint"] = constraints.serialize(self[k .. "_constraint"])
  cfg.bias_constraint = constraints.serialize(self.bias_constraint)
  for key, v in pairs(extra) do cfg[key] = v end
  return cfg
end

-- The output shape of a forward convolution with out_channels channels.
function Conv:_conv_output_shape(input_shape, out_channels)
  input_shape = as_shape(input_shape)
  local d, n = shape_list(input_shape)
  if n ~= self.rank + 2 then
    raise("InvalidArgument", ("%s: expected an input of rank %d, got %s"):format(who(self), self.rank + 2, tostring(input_shape)))
  end
  local first = self.data_format == "channels_first"
  for i = 1, self.rank do
    local j = first and i + 2 or i + 1
    d[j] = conv_length(d[j], self.kernel_size[i], self.strides[i], self.dilation_rate[i], self.padding)
  end
  d[first and 2 or n] = out_channels
  return tf.TensorShape(d, n)
end

-- ---------------------------------------------------------------------------
-- Conv1D / Conv2D
-- ---------------------------------------------------------------------------
local Conv2D = Conv:extend("Conv2D")
M.Conv2D = Conv2D
M.Convolution2D = Conv2D
local conv2d_spec = conv_spec(2)

function Conv2D:init(...)
  local o = layer_mod.options("Conv2D", conv2d_spec, ...)
  Conv2D.super.init(self, o)
  self.filters = positive_int(who(self), "filters", o.filters)
  self:_init_common(o, 2, { "valid", "same" }, "kernel")
end

function Conv2D:build(input_shape)
  local c, ax = self:_channels(input_shape)
  self.kernel = self:_add_kernel({ self.kernel_size[1], self.kernel_size[2], c, self.filters }, "kernel")
  self.bias = self:_add_bias(self.filters)
  self.input_spec = InputSpec { ndim = 4, axes = { [ax] = c } }
end

function Conv2D:call(inputs)
  local kernel, strides, pad, dil = self.kernel, self.strides, self._pad_op, self.dilation_rate
  return self:_apply(inputs, function(x) return ops.conv2d(x, kernel, strides, pad, nil, dil) end)
end

function Conv2D:compute_output_shape(input_shape) return self:_conv_output_shape(input_shape, self.filters) end

function Conv2D:get_config()
  return self:_base_config({ filters = self.filters, groups = self.groups })
end

local Conv1D = Conv:extend("Conv1D")
M.Conv1D = Conv1D
M.Convolution1D = Conv1D
local conv1d_spec = conv_spec(1)

function Conv1D:init(...)
  local o = layer_mod.options("Conv1D", conv1d_spec, ...)
  Conv1D.super.init(self, o)
  self.filters = positive_int(who(self), "filters", o.filters)
  self:_init_common(o, 1, { "valid", "same", "causal" }, "kernel")
  if self.padding == "causal" and self.data_format == "channels_first" then
    raise("InvalidArgument", ("%s: causal padding is only supported with data_format 'channels_last'"):format(who(self)))
  end
  -- conv2d over an inserted height of 1
  self._strides2 = { 1, self.strides[1] }
  self._dil2 = { 1, self.dilation_rate[1] }
  if self.padding == "causal" then
    self._pad_op = "EXPLICIT"
    self._explicit = { 0, 0, 0, 0, self.dilation_rate[1] * (self.kernel_size[1] - 1), 0, 0, 0 }
  end
end

function Conv1D:build(input_shape)
  local c, ax = self:_channels(input_shape)
  self.kernel = self:_add_kernel({ self.kernel_size[1], c, self.filters }, "kernel")
  self.bias = self:_add_bias(self.filters)
  self.input_spec = InputSpec { ndim = 3, axes = { [ax] = c } }
end

function Conv1D:call(inputs)
  local kernel, strides, pad, dil, ex = self.kernel, self._strides2, self._pad_op, self._dil2, self._explicit
  return self:_apply(inputs, function(x)
    local y = ops.conv2d(ops.expand_dims(x, 1), ops.expand_dims(kernel, 0), strides, pad, nil, dil, ex)
    return ops.squeeze(y, { 1 })
  end)
end

function Conv1D:compute_output_shape(input_shape) return self:_conv_output_shape(input_shape, self.filters) end

function Conv1D:get_config()
  return self:_base_config({ filters = self.filters, groups = self.groups })
end

-- ---------------------------------------------------------------------------
-- Conv2DTranspose
-- ---------------------------------------------------------------------------
local Conv2DTranspose = Conv:extend("Conv2DTranspose")
M.Conv2DTranspose = Conv2DTranspose
M.Convolution2DTranspose = Conv2DTranspose
local convt_spec = conv_spec(2, nil, { "output_padding" })

function Conv2DTranspose:init(...)
  local o = layer_mod.options("Conv2DTranspose", convt_spec, ...)
  Conv2DTranspose.super.init(self, o)
  self.filters = positive_int(who(self), "filters", o.filters)
  self:_init_common(o, 2, { "valid", "same" }, "kernel")
  if o.output_padding ~= nil then
    self.output_padding = tuple(who(self), "output_padding", o.output_padding, 2, true)
    for i = 1, 2 do
      if self.output_padding[i] >= self.strides[i] then
        raise("InvalidArgument", ("%s: output_padding must be smaller than strides, got output_padding=%s and strides=%s")
          :format(who(self), table.concat(self.output_padding, ","), table.concat(self.strides, ",")))
      end
    end
  else
    self.output_padding = false
  end
end

function Conv2DTranspose:build(input_shape)
  local c, ax = self:_channels(input_shape)
  self.kernel = self:_add_kernel({ self.kernel_size[1], self.kernel_size[2], self.filters, c }, "kernel")
  self.bias = self:_add_bias(self.filters)
  self.input_spec = InputSpec { ndim = 4, axes = { [ax] = c } }
end

function Conv2DTranspose:_out_hw(h, w)
  local op = self.output_padding or {}
  return deconv_length(h, self.kernel_size[1], self.strides[1], self.dilation_rate[1], self.padding, op[1]),
         deconv_length(w, self.kernel_size[2], self.strides[2], self.dilation_rate[2], self.padding, op[2])
end

function Conv2DTranspose:call(inputs)
  local kernel, strides, pad, dil = self.kernel, self.strides, self._pad_op, self.dilation_rate
  return self:_apply(inputs, function(x)
    local s = x.shape
    local oh, ow = self:_out_hw(s[1], s[2])
    return ops.conv2d_backprop_input(kernel, x, { s[0], oh, ow, self.filters }, strides, pad, nil, dil)
  end)
end

function Conv2DTranspose:compute_output_shape(input_shape)
  input_shape = as_shape(input_shape)
  local d, n = shape_list(input_shape)
  if n ~= 4 then
    raise("InvalidArgument", ("%s: expected an input of rank 4, got %s"):format(who(self), tostring(input_shape)))
  end
  local first = self.data_format == "channels_first"
  local hi = first and 3 or 2
  d[hi], d[hi + 1] = self:_out_hw(d[hi], d[hi + 1])
  d[first and 2 or 4] = self.filters
  return tf.TensorShape(d, n)
end

function Conv2DTranspose:get_config()
  return self:_base_config({ filters = self.filters, groups = self.groups,
                             output_padding = self.output_padding and { table.unpack(self.output_padding) } or nil })
end

-- ---------------------------------------------------------------------------
-- DepthwiseConv2D
-- ---------------------------------------------------------------------------
local DepthwiseConv2D = Conv:extend("DepthwiseConv2D")
M.DepthwiseConv2D = DepthwiseConv2D
local dw_spec = {
  positional = { "kernel_size", "strides", "padding" },
  defaults = { strides = 1, padding = "valid", dilation_rate = 1, use_bias = true, depth_multiplier = 1,
               depthwise_initializer = "glorot_uniform", bias_initializer = "zeros" },
  optional = { "kernel_size", "activation", "depthwise_regularizer", "bias_regularizer", "depthwise_constraint",
               "bias_constraint", "data_format" },
}

function DepthwiseConv2D:init(...)
  local o = layer_mod.options("DepthwiseConv2D", dw_spec, ...)
  DepthwiseConv2D.super.init(self, o)
  self.depth_multiplier = positive_int(who(self), "depth_multiplier", o.depth_multiplier)
  self:_init_common(o, 2, { "valid", "same" }, "depthwise")
end

function DepthwiseConv2D:build(input_shape)
  local c, ax = self:_channels(input_shape)
  self.depthwise_kernel = self:_add_kernel({ self.kernel_size[1], self.kernel_size[2], c, self.depth_multiplier },
    "depthwise_kernel")
  self.bias = self:_add_bias(c * self.depth_multiplier)
  self.input_spec = InputSpec { ndim = 4, axes = { [ax] = c } }
end

function DepthwiseConv2D:call(inputs)
  local kernel, strides, pad, dil = self.depthwise_kernel, self.strides, self._pad_op, self.dilation_rate
  return self:_apply(inputs, function(x) return ops.depthwise_conv2d_native(x, kernel, strides, pad, nil, dil) end)
end

function DepthwiseConv2D:compute_output_shape(input_shape)
  input_shape = as_shape(input_shape)
  local c = self:_channels(input_shape)
  return self:_conv_output_shape(input_shape, c * self.depth_multiplier)
end

function DepthwiseConv2D:get_config()
  local cfg = self:_base_config({ depth_multiplier = self.depth_multiplier })
  return cfg
end

return M
