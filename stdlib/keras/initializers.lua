-- keras.initializers: weight initializers with Keras's names, defaults and
-- distributions.
--
--   local init = keras.initializers.GlorotUniform{seed = 42}
--   local t = init({784, 256})              -- a tensor (float32 unless a dtype is given)
--   init({3, 3}, "float64")                 -- or init(shape, {dtype = "float64"})
--   keras.initializers.get("he_normal")     -- name, {class_name=, config=}, object, function
--   keras.initializers.serialize(init)      -- {class_name = "GlorotUniform", config = {seed = 42}}
--
-- VarianceScaling (scale, mode fan_in|fan_out|fan_avg, distribution
-- truncated_normal|untruncated_normal|uniform) is the base of Glorot*, He*,
-- Lecun*: scale / max(1, fan); truncated normal stddev = sqrt(scale) /
-- 0.87962566103423978 (cut at two standard deviations), uniform limit =
-- sqrt(3 * scale). Fans: rank 0 -> 1, 1; rank 1 -> n, n; rank 2 -> rows,
-- cols; rank > 2 (conv kernels) -> prod(receptive field) * in, * out.
--
-- Seeds: a seeded initializer gives the same values at every call with the
-- same shape and dtype (Keras 3's rule), in every run: each (class, config,
-- shape, dtype) draws once from its own op seed derived from the seed, and
-- the tensor is kept (tensors are immutable) for later calls. Values depend
-- on tf.random.set_seed as TensorFlow's op seeds do. Unseeded initializers
-- draw from the global generator. Values differ from Keras's (another
-- generator); distributions and parameters are the same.
-- Orthogonal uses the polar factor of a Gaussian matrix (Newton-Schulz
-- iteration in float64): orthogonal and Haar distributed like Keras's QR
-- factor, but not the same matrix for the same numbers.
local class = require("tlua.class")
local core = require("tlua.core")
local tf = require("tlua")

local M = {}
local raise = core.raise

local Initializer = class("Initializer")
M.Initializer = Initializer

local function dtype_name(dtype)
  if dtype == nil then return require("keras.backend").floatx() end
  if type(dtype) == "table" and getmetatable(dtype) == nil then return dtype_name(dtype.dtype) end
  if type(dtype) == "string" then return dtype end
  return dtype.name
end

local function dims_of(shape, who)
  if type(shape) == "number" then return { math.tointeger(shape) } end
  if type(shape) == "table" and getmetatable(shape) ~= nil and shape.as_list then shape = shape:as_list() end
  if type(shape) ~= "table" then
    raise("InvalidArgument", ("%s: shape must be a list of dimensions, got %s"):format(who, type(shape)))
  end
  local n = shape.n or #shape
  local out = {}
  for i = 1, n do
    local d = shape[i]
    if type(d) ~= "number" or d ~= math.floor(d) or d < 0 then
      raise("InvalidArgument", ("%s: shape must be fully defined non-negative integers, got %s at position %d"):format(who, tostring(d), i))
    end
    out[i] = math.tointeger(d)
  end
  return out
end
M._dims_of = dims_of

function Initializer:__call(shape, dtype)
  local cls = getmetatable(self)
  return self:call(dims_of(shape, cls.class_name), dtype_name(dtype))
end

function Initializer:call(shape, dtype)
  raise("Unimplemented", getmetatable(self).class_name .. ": call(shape, dtype) is not implemented")
end

function Initializer:get_config() return {} end

function Initializer:__tostring()
  return ("<keras.initializers.%s>"):format(getmetatable(self).class_name)
end

-- Options rule of the builtin initializers.
local function opts_of(self, spec, ...)
  return class.options(getmetatable(self).class_name, spec, ...)
end

local function check_seed(self)
  local s = self.seed
  if s ~= nil and (type(s) ~= "number" or s ~= math.floor(s)) then
    raise("InvalidArgument", ("%s: seed must be an integer or nil, got %s"):format(getmetatable(self).class_name, tostring(s)))
  end
  if s ~= nil then self.seed = math.tointeger(s) end
end

-- Seeded draws: one op seed per (initializer config, shape, dtype), drawn once.
local seeded_cache = {}
local function fnv(str)
  local h = 2166136261
  for i = 1, #str do
    h = ((h ~ str:byte(i)) * 16777619) & 0xffffffff
  end
  return h & 0x7fffffff
end

local function draw(self, key, shape, dtype, fn)
  local seed = self.seed
  if seed == nil then return fn(nil) end
  local k = table.concat({ getmetatable(self).class_name, key, tostring(seed), table.concat(shape, "x"), dtype }, "|")
  local t = seeded_cache[k]
  if t == nil then
    t = fn(fnv(k))
    seeded_cache[k] = t
  end
  return t
end

local function is_float(dtype)
  return dtype == "float32" or dtype == "float64" or dtype == "float16" or dtype == "bfloat16"
end

local function need_float(self, dtype)
  if not is_float(dtype) then
    raise("InvalidArgument", ("%s: expected a floating dtype, got %s"):format(getmetatable(self).class_name, dtype))
  end
end

-- ---- constants ------------------------------------------------------------
local Zeros = Initializer:extend("Zeros")
function Zeros:init(...) opts_of(self, { defaults = {} }, ...) end
function Zeros:call(shape, dtype) return tf.zeros(shape, dtype) end
M.Zeros = Zeros

local Ones = Initializer:extend("Ones")
function Ones:init(...) opts_of(self, { defaults = {} }, ...) end
function Ones:call(shape, dtype) return tf.ones(shape, dtype) end
M.Ones = Ones

local Constant = Initializer:extend("Constant")
function Constant:init(...)
  local o = opts_of(self, { positional = { "value" }, defaults = { value = 0 } }, ...)
  local v = o.value
  if type(v) ~= "number" and not (type(v) == "table" and getmetatable(v) == nil) and not core.is_tensor(v) then
    core.raise("InvalidArgument", ("Constant: value must be a number, a nested number table or a tensor, got %s")
      :format(type(v) == "string" and ("'" .. v .. "'") or type(v)))
  end
  self.value = v
end
function Constant:call(shape, dtype)
  local v = self.value
  if type(v) == "number" then return tf.ones(shape, dtype) * v end
  if type(v) == "table" and getmetatable(v) == nil then v = tf.constant(v, dtype) end
  if core.is_tensor(v) then
    if v.dtype.name ~= dtype then v = tf.cast(v, dtype) end
    return tf.broadcast_to(v, shape)
  end
  raise("InvalidArgument", ("Constant: value must be a number, a list or a tensor, got %s"):format(type(v)))
end
function Constant:get_config()
  local v = self.value
  if core.is_tensor(v) then v = v:totable() end
  return { value = v }
end
M.Constant = Constant

-- ---- random ---------------------------------------------------------------
local RandomNormal = Initializer:extend("RandomNormal")
function RandomNormal:init(...)
  local o = opts_of(self, { positional = { "mean", "stddev", "seed" }, defaults = { mean = 0.0, stddev = 0.05 }, optional = { "seed" } }, ...)
  self.mean, self.stddev, self.seed = o.mean, o.stddev, o.seed
  check_seed(self)
end
function RandomNormal:call(shape, dtype)
  need_float(self, dtype)
  return draw(self, self.mean .. ":" .. self.stddev, shape, dtype, function(seed)
    return tf.random.normal(shape, { mean = self.mean, stddev = self.stddev, dtype = dtype, seed = seed })
  end)
end
function RandomNormal:get_config() return { mean = self.mean, stddev = self.stddev, seed = self.seed } end
M.RandomNormal = RandomNormal

local TruncatedNormal = Initializer:extend("TruncatedNormal")
TruncatedNormal.init = RandomNormal.init
function TruncatedNormal:call(shape, dtype)
  need_float(self, dtype)
  return draw(self, self.mean .. ":" .. self.stddev, shape, dtype, function(seed)
    return tf.random.truncated_normal(shape, { mean = self.mean, stddev = self.stddev, dtype = dtype, seed = seed })
  end)
end
TruncatedNormal.get_config = RandomNormal.get_config
M.TruncatedNormal = TruncatedNormal

local RandomUniform = Initializer:extend("RandomUniform")
function RandomUniform:init(...)
  local o = opts_of(self, { positional = { "minval", "maxval", "seed" }, defaults = { minval = -0.05, maxval = 0.05 }, optional = { "seed" } }, ...)
  self.minval, self.maxval, self.seed = o.minval, o.maxval, o.seed
  check_seed(self)
end
function RandomUniform:call(shape, dtype)
  if not is_float(dtype) then
    if dtype:match("^u?int") then
      return draw(self, self.minval .. ":" .. self.maxval, shape, dtype, function(seed)
        return tf.cast(tf.floor(tf.random.uniform(shape, { minval = self.minval, maxval = self.maxval, dtype = "float64", seed = seed })), dtype)
      end)
    end
    need_float(self, dtype)
  end
  return draw(self, self.minval .. ":" .. self.maxval, shape, dtype, function(seed)
    return tf.random.uniform(shape, { minval = self.minval, maxval = self.maxval, dtype = dtype, seed = seed })
  end)
end
function RandomUniform:get_config() return { minval = self.minval, maxval = self.maxval, seed = self.seed } end
M.RandomUniform = RandomUniform

-- ---- variance scaling -------------------------------------------------------
function M.compute_fans(shape)
  local n = #shape
  if n < 1 then return 1, 1 end
  if n == 1 then return shape[1], shape[1] end
  if n == 2 then return shape[1], shape[2] end
  local rf = 1
  for i = 1, n - 2 do rf = rf * shape[i] end
  return shape[n - 1] * rf, shape[n] * rf
end

local VarianceScaling = Initializer:extend("VarianceScaling")
local modes = { fan_in = true, fan_out = true, fan_avg = true }
local distributions = { truncated_normal = true, untruncated_normal = true, uniform = true, normal = "truncated_normal" }
function VarianceScaling:init(...)
  local cls = getmetatable(self)
  local d = cls._vs_defaults or { scale = 1.0, mode = "fan_in", distribution = "truncated_normal" }
  -- input_axes / output_axes: keys of Keras 3.15's configs, accepted and unused
  local spec = cls._vs_defaults and { positional = { "seed" }, defaults = {}, optional = { "seed", "input_axes", "output_axes" } }
    or { positional = { "scale", "mode", "distribution", "seed" }, defaults = d, optional = { "seed", "input_axes", "output_axes" } }
  local o = opts_of(self, spec, ...)
  self.scale = o.scale or d.scale
  self.mode = o.mode or d.mode
  self.distribution = o.distribution or d.distribution
  self.seed = o.seed
  check_seed(self)
  if type(self.scale) ~= "number" or self.scale <= 0 then
    raise("InvalidArgument", ("%s: scale must be a positive number, got %s"):format(cls.class_name, tostring(self.scale)))
  end
  if not modes[self.mode] then
    raise("InvalidArgument", ("%s: mode must be 'fan_in', 'fan_out' or 'fan_avg', got '%s'"):format(cls.class_name, tostring(self.mode)))
  end
  local dist = distributions[self.distribution]
  if not dist then
    raise("InvalidArgument", ("%s: distribution must be 'truncated_normal', 'untruncated_normal' or 'uniform', got '%s'")
      :format(cls.class_name, tostring(self.distribution)))
  end
  if type(dist) == "string" then self.distribution = dist end
end

-- The parameter of the distribution for shape: stddev (normals) or limit (uniform).
function VarianceScaling:parameter(shape)
  local fan_in, fan_out = M.compute_fans(shape)
  local scale = self.scale
  if self.mode == "fan_in" then scale = scale / math.max(1, fan_in)
  elseif self.mode == "fan_out" then scale = scale / math.max(1, fan_out)
  else scale = scale / math.max(1, (fan_in + fan_out) / 2) end
  if self.distribution == "truncated_normal" then return math.sqrt(scale) / 0.87962566103423978 end
  if self.distribution == "untruncated_normal" then return math.sqrt(scale) end
  return math.sqrt(3 * scale)
end

function VarianceScaling:call(shape, dtype)
  need_float(self, dtype)
  local p = self:parameter(shape)
  local dist = self.distribution
  return draw(self, self.scale .. ":" .. self.mode .. ":" .. dist, shape, dtype, function(seed)
    if dist == "truncated_normal" then
      return tf.random.truncated_normal(shape, { mean = 0, stddev = p, dtype = dtype, seed = seed })
    elseif dist == "untruncated_normal" then
      return tf.random.normal(shape, { mean = 0, stddev = p, dtype = dtype, seed = seed })
    end
    return tf.random.uniform(shape, { minval = -p, maxval = p, dtype = dtype, seed = seed })
  end)
end

function VarianceScaling:get_config()
  if getmetatable(self)._vs_defaults then return { seed = self.seed } end
  return { scale = self.scale, mode = self.mode, distribution = self.distribution, seed = self.seed }
end
M.VarianceScaling = VarianceScaling

local function vs_class(name, scale, mode, distribution)
  local cls = VarianceScaling:extend(name)
  cls._vs_defaults = { scale = scale, mode = mode, distribution = distribution }
  M[name] = cls
  return cls
end
vs_class("GlorotUniform", 1.0, "fan_avg", "uniform")
vs_class("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
vs_class("HeUniform", 2.0, "fan_in", "uniform")
vs_class("HeNormal", 2.0, "fan_in", "truncated_normal")
vs_class("LecunUniform", 1.0, "fan_in", "uniform")
vs_class("LecunNormal", 1.0, "fan_in", "truncated_normal")

-- ---- orthogonal / identity -----------------------------------------------------
local Orthogonal = Initializer:extend("Orthogonal")
function Orthogonal:init(...)
  local o = opts_of(self, { positional = { "gain", "seed" }, defaults = { gain = 1.0 }, optional = { "seed" } }, ...)
  self.gain, self.seed = o.gain, o.seed
  check_seed(self)
end

-- The orthogonal polar factor of a (rows >= cols), float64.
local function polar(a, cols)
  local x = a / tf.norm(a)
  local eye = tf.eye(cols, cols, { dtype = "float64" })
  for _ = 1, 200 do
    local xtx = tf.matmul(x, x, { transpose_a = true })
    x = tf.matmul(x, eye * 1.5 - xtx * 0.5)
    if tf.reduce_max(tf.abs(xtx - eye)):item() < 1e-12 then break end
  end
  return x
end

function Orthogonal:call(shape, dtype)
  need_float(self, dtype)
  if #shape < 2 then
    raise("InvalidArgument", ("Orthogonal: the shape must have at least 2 dimensions, got %d"):format(#shape))
  end
  local rows = 1
  for i = 1, #shape - 1 do rows = rows * shape[i] end
  local cols = shape[#shape]
  return draw(self, tostring(self.gain), shape, dtype, function(seed)
    local big, small = math.max(rows, cols), math.min(rows, cols)
    local a = tf.random.normal({ big, small }, { dtype = "float64", seed = seed })
    local q = polar(a, small)
    if rows < cols then q = tf.transpose(q) end
    q = tf.reshape(q * self.gain, shape)
    return tf.cast(q, dtype)
  end)
end
function Orthogonal:get_config() return { gain = self.gain, seed = self.seed } end
M.Orthogonal = Orthogonal

local Identity = Initializer:extend("Identity")
function Identity:init(...)
  local o = opts_of(self, { positional = { "gain" }, defaults = { gain = 1.0 } }, ...)
  self.gain = o.gain
end
function Identity:call(shape, dtype)
  need_float(self, dtype)
  if #shape ~= 2 then
    raise("InvalidArgument", ("Identity: the shape must have exactly 2 dimensions, got %d (%s)"):format(#shape, table.concat(shape, "x")))
  end
  return tf.eye(shape[1], shape[2], { dtype = dtype }) * self.gain
end
function Identity:get_config() return { gain = self.gain } end
M.Identity = Identity

-- ---- names ------------------------------------------------------------------
local by_name = {
  zeros = Zeros, ones = Ones, constant = Constant, random_normal = RandomNormal, normal = RandomNormal,
  random_uniform = RandomUniform, uniform = RandomUniform, truncated_normal = TruncatedNormal,
  variance_scaling = VarianceScaling, glorot_uniform = M.GlorotUniform, glorot_normal = M.GlorotNormal,
  he_uniform = M.HeUniform, he_normal = M.HeNormal, lecun_uniform = M.LecunUniform, lecun_normal = M.LecunNormal,
  orthogonal = Orthogonal, identity = Identity,
  Zeros = Zeros, Ones = Ones, Constant = Constant, RandomNormal = RandomNormal, RandomUniform = RandomUniform,
  TruncatedNormal = TruncatedNormal, VarianceScaling = VarianceScaling, GlorotUniform = M.GlorotUniform,
  GlorotNormal = M.GlorotNormal, HeUniform = M.HeUniform, HeNormal = M.HeNormal, LecunUniform = M.LecunUniform,
  LecunNormal = M.LecunNormal, Orthogonal = Orthogonal, Identity = Identity, IdentityInitializer = Identity,
}
M._by_name = by_name

require("keras.namespace").define(M, {
  kind = "initializer", plural = "initializers", base = Initializer, by_name = by_name,
  copy_config = true,
  get_fallback = function(identifier)   -- a number is a Constant initializer
    if type(identifier) == "number" then return Constant(identifier) end
  end,
})

-- Keras's lower-case function aliases: keras.initializers.glorot_uniform(...) makes one.
for name, cls in pairs(by_name) do
  if name:match("^%l") and M[name] == nil then M[name] = cls end
end

return M
