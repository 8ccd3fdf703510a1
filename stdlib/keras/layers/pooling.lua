-- keras.layers pooling: MaxPooling1D/2D, AveragePooling1D/2D,
-- GlobalMaxPooling1D/2D, GlobalAveragePooling1D/2D, with Keras's aliases
-- (MaxPool2D, AvgPool2D, GlobalAvgPool2D, ...).
--
--   keras.layers.MaxPooling2D()                      -- 2x2 windows, strides 2
--   keras.layers.MaxPooling2D({3, 3}, {strides = 2, padding = "same"})
--   keras.layers.GlobalAveragePooling2D({keepdims = true})
--
-- Options are Keras 3's get_config keys plus the base layer options;
-- strides default to pool_size. Windows are the C ops max_pool / avg_pool
-- (src/ops/pool.c: "same" averages over the real elements only, as TF);
-- the 1-D layers insert a height of 1; the global ones are reduce_max /
-- reduce_mean over the spatial axes (GlobalAveragePooling1D honours a mask:
-- the mean over unmasked steps). data_format "channels_first" transposes
-- around the window ops. Not here: 3-D pooling.
local core = require("tlua.core")
local tf = require("tlua")
local layer_mod = require("keras.layer")

local Layer, InputSpec = layer_mod.Layer, layer_mod.InputSpec
local who = layer_mod.who
local raise = core.raise
local ops = core.ops
local args = require("keras.layers.args")
local tuple, data_format_of, shape_list, as_shape = args.tuple, args.data_format_of, args.shape_list, args.as_shape

local M = {}

local function need_rank(self, input_shape, r)
  input_shape = as_shape(input_shape)
  if #input_shape ~= r then
    raise("InvalidArgument", ("%s: expected an input of rank %d, got %s"):format(who(self), r, tostring(input_shape)))
  end
  return input_shape
end

-- ---------------------------------------------------------------------------
-- Windowed pooling (1-D and 2-D)
-- ---------------------------------------------------------------------------
local Pooling = Layer:extend("Pooling")

local function pool_spec(rank)
  return { positional = { "pool_size", "strides", "padding", "data_format" },
           defaults = { pool_size = 2, padding = "valid" }, optional = { "strides", "data_format" }, rank = rank }
end

function Pooling:_init_pool(o, rank, op)
  local name = who(self)
  self.rank = rank
  self.pool_size = tuple(name, "pool_size", o.pool_size, rank)
  self.strides = o.strides ~= nil and tuple(name, "strides", o.strides, rank) or { table.unpack(self.pool_size) }
  local p = type(o.padding) == "string" and o.padding:lower() or nil
  if p ~= "valid" and p ~= "same" then
    raise("InvalidArgument", ("%s: padding must be 'valid' or 'same', got %s"):format(name, tostring(o.padding)))
  end
  self.padding = p
  self.data_format = data_format_of(name, o.data_format)
  self._op = op
  self._pad_op = p:upper()
  if rank == 1 then
    self._k, self._s = { 1, self.pool_size[1] }, { 1, self.strides[1] }
  else
    self._k, self._s = self.pool_size, self.strides
  end
  self.input_spec = InputSpec { ndim = rank + 2 }
end

function Pooling:call(inputs)
  local first = self.data_format == "channels_first"
  local x = inputs
  if first then x = ops.transpose(x, self.rank == 1 and { 0, 2, 1 } or { 0, 2, 3, 1 }) end
  local y
  if self.rank == 1 then
    y = ops.squeeze(self._op(ops.expand_dims(x, 1), self._k, self._s, self._pad_op), { 1 })
  else
    y = self._op(x, self._k, self._s, self._pad_op)
  end
  if first then y = ops.transpose(y, self.rank == 1 and { 0, 2, 1 } or { 0, 3, 1, 2 }) end
  return y
end

function Pooling:compute_output_shape(input_shape)
  input_shape = need_rank(self, input_shape, self.rank + 2)
  local d, n = shape_list(input_shape)
  local first = self.data_format == "channels_first"
  for i = 1, self.rank do
    local j = first and i + 2 or i + 1
    local len, k, s = d[j], self.pool_size[i], self.strides[i]
    if len ~= nil then
      if self.padding == "same" then d[j] = (len + s - 1) // s
      else d[j] = len >= k and (len - k) // s + 1 or 0 end
    end
  end
  return tf.TensorShape(d, n)
end

function Pooling:get_config()
  local cfg = Layer.get_config(self)
  cfg.pool_size = { table.unpack(self.pool_size) }
  cfg.strides = { table.unpack(self.strides) }
  cfg.padding = self.padding
  cfg.data_format = self.data_format
  return cfg
end

-- A pooling class `name` (and its aliases) under base: init reads the
-- options of spec, then the base's setup method takes (o, rank, fn).
local function define(base, setup, spec, name, rank, fn, aliases)
  local cls = base:extend(name)
  function cls:init(...)
    local o = layer_mod.options(name, spec, ...)
    cls.super.init(self, o)
    self[setup](self, o, rank, fn)
  end
  M[name] = cls
  for _, a in ipairs(aliases) do M[a] = cls end
  return cls
end

local function pool_class(name, rank, op, aliases)
  return define(Pooling, "_init_pool", pool_spec(rank), name, rank, op, aliases)
end

pool_class("MaxPooling2D", 2, ops.max_pool, { "MaxPool2D" })
pool_class("AveragePooling2D", 2, ops.avg_pool, { "AvgPool2D" })
pool_class("MaxPooling1D", 1, ops.max_pool, { "MaxPool1D" })
pool_class("AveragePooling1D", 1, ops.avg_pool, { "AvgPool1D" })

-- ---------------------------------------------------------------------------
-- Global pooling
-- ---------------------------------------------------------------------------
local GlobalPooling = Layer:extend("GlobalPooling")
local global_spec = { positional = { "data_format" }, defaults = { keepdims = false }, optional = { "data_format" } }

function GlobalPooling:_init_global(o, rank, reduce)
  self.rank = rank
  self.data_format = data_format_of(who(self), o.data_format)
  self.keepdims = o.keepdims and true or false
  self._reduce = reduce
  local first = self.data_format == "channels_first"
  self._axes = {}
  for i = 1, rank do self._axes[i] = first and i + 1 or i end
  self.input_spec = InputSpec { ndim = rank + 2 }
end

function GlobalPooling:call(inputs, opts)
  local mask = opts and opts.mask
  if mask ~= nil and self._masked then return self:_masked(inputs, mask) end
  return self._reduce(inputs, self._axes, { keepdims = self.keepdims })
end

function GlobalPooling:compute_output_shape(input_shape)
  input_shape = need_rank(self, input_shape, self.rank + 2)
  local d, n = shape_list(input_shape)
  local first = self.data_format == "channels_first"
  if self.keepdims then
    for _, ax in ipairs(self._axes) do d[ax + 1] = 1 end
    return tf.TensorShape(d, n)
  end
  return tf.TensorShape({ d[1], first and d[2] or d[n] }, 2)
end

function GlobalPooling:get_config()
  local cfg = Layer.get_config(self)
  cfg.data_format = self.data_format
  cfg.keepdims = self.keepdims
  return cfg
end

local function global_class(name, rank, reduce, aliases)
  return define(GlobalPooling, "_init_global", global_spec, name, rank, reduce, aliases)
end

global_class("GlobalMaxPooling2D", 2, ops.reduce_max, { "GlobalMaxPool2D" })
global_class("GlobalAveragePooling2D", 2, ops.reduce_mean, { "GlobalAvgPool2D" })
global_class("GlobalMaxPooling1D", 1, ops.reduce_max, { "GlobalMaxPool1D" })
local GAP1 = global_class("GlobalAveragePooling1D", 1, ops.reduce_mean, { "GlobalAvgPool1D" })

-- The mean over the steps where mask ([batch, steps], bool or 0/1) is set.
function GAP1:_masked(inputs, mask)
  local first = self.data_format == "channels_first"
  local m = tf.cast(mask, inputs.dtype)
  m = ops.expand_dims(m, first and 1 or 2)
  local ax = first and 2 or 1
  local s = ops.reduce_sum(inputs * m, ax, { keepdims = self.keepdims })
  return s / ops.reduce_sum(m, ax, { keepdims = self.keepdims })
end

return M
