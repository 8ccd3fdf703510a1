-- keras.losses: Keras 3's losses as classes and functions.
--
--   local loss_fn = keras.losses.SparseCategoricalCrossentropy()
--   local loss = loss_fn(y_true, y_pred)                 -- scalar (sum_over_batch_size)
--   loss_fn(y_true, y_pred, sample_weight)               -- weighted, then reduced
--   keras.losses.Huber{delta = 2.0, reduction = "none"}  -- per-sample losses
--   keras.losses.mse(y_true, y_pred)                     -- per-sample: mean over the last axis
--   keras.losses.get("mse") / serialize(obj) / deserialize{class_name=, config=}
--
-- A class's call(y_true, y_pred) returns per-sample (or per-element) losses
-- and optionally a mask; __call converts both inputs to the loss dtype
-- (float32), weights and reduces them as keras.losses.Loss.__call__ does
-- (reduce_weighted_values: squeeze_or_expand_to_same_rank of losses and
-- sample_weight, multiply, then sum / number of elements). Reductions:
-- "sum_over_batch_size" (default; "auto" is its tf.keras 2 alias), "sum",
-- "none", "mean", "mean_with_sample_weight".
--
-- Everything is composed of tf ops (the gradient comes for free). What it
-- does not do: Keras's _get_logits trick (recovering logits from a softmax
-- output) — tensors here do not remember the op that made them; masks
-- attached to tensors (only ignore_class makes a mask).
local class = require("tlua.class")
local core = require("tlua.core")
local tf = require("tlua")

local M = {}

local raise = core.raise
local is_tensor = core.is_tensor
local EPS = 1e-7
local LOG2 = math.log(2.0)

-- ---- helpers ------------------------------------------------------------------

local function describe(t)
  local dims = t.shape:as_list()
  local parts = {}
  for i = 1, (dims.n or #dims) do parts[i] = dims[i] == nil and "?" or tostring(dims[i]) end
  return ("%s[%s]"):format(t.dtype.name, table.concat(parts, ","))
end
M._describe = describe

-- A tensor of `dtype` (a name): Lua tables become constants, other dtypes are cast.
local function as_tensor(x, dtype)
  if not is_tensor(x) then
    if x == nil then raise("InvalidArgument", "keras.losses: expected a tensor, got nil") end
    return tf.constant(x, dtype)
  end
  if dtype and x.dtype.name ~= dtype then return tf.cast(x, dtype) end
  return x
end
M._as_tensor = as_tensor

local function rank(t) return #t.shape end

-- Keras's squeeze_or_expand_to_same_rank (expand_rank_1 = true).
local function same_rank(x1, x2)
  local s1, s2 = x1.shape, x2.shape
  local r1, r2 = #s1, #s2
  if r1 == r2 then return x1, x2 end
  if r1 == r2 + 1 and s1[-1] == 1 then
    if r2 == 1 then x2 = tf.expand_dims(x2, -1) else x1 = tf.squeeze(x1, -1) end
  elseif r2 == r1 + 1 and s2[-1] == 1 then
    if r1 == 1 then x1 = tf.expand_dims(x1, -1) else x2 = tf.squeeze(x2, -1) end
  end
  return x1, x2
end
M._squeeze_or_expand_to_same_rank = same_rank

-- Raises unless a and b broadcast (numpy rules, unknown dims pass).
local function check_broadcast(who, a, b, what_a, what_b)
  local sa, sb = a.shape, b.shape
  local ra, rb = #sa, #sb
  for i = 1, (ra < rb and ra or rb) do
    local da, db = sa[ra - i], sb[rb - i]
    if da ~= db and da ~= 1 and db ~= 1 and da ~= nil and db ~= nil then
      raise("InvalidArgument", ("%s: %s %s and %s %s are not broadcast-compatible (dimension %d from the end: %d vs %d)")
        :format(who, what_a or "y_true", describe(a), what_b or "y_pred", describe(b), i, da, db))
    end
  end
end
M._check_broadcast = check_broadcast

local function check_same_shape(who, a, b)
  local sa, sb = a.shape, b.shape
  local ok = #sa == #sb
  if ok then
    for i = 0, #sa - 1 do
      if sa[i] ~= sb[i] and sa[i] ~= nil and sb[i] ~= nil then ok = false break end
    end
  end
  if not ok then
    raise("InvalidArgument", ("%s: y_true and y_pred must have the same shape, got y_true %s and y_pred %s")
      :format(who, describe(a), describe(b)))
  end
end

-- Converts (y_true, y_pred) as the Keras functions do: y_pred to a float
-- tensor, y_true to y_pred's dtype.
local function inputs(y_true, y_pred)
  if not is_tensor(y_pred) then y_pred = as_tensor(y_pred, "float32") end
  return as_tensor(y_true, y_pred.dtype.name), y_pred
end

local function opt(opts, key, default)
  if opts == nil then return default end
  local v = opts[key]
  if v == nil then return default end
  return v
end

-- ---- loss functions (internal: `who` names the caller in errors) -----------------

local impl = {}

function impl.mean_squared_error(who, yt, yp)
  yt, yp = same_rank(inputs(yt, yp))
  if yt.shape ~= yp.shape then check_broadcast(who, yt, yp) end
  return tf.reduce_mean(tf.square(yt - yp), -1)
end

function impl.mean_absolute_error(who, yt, yp)
  yt, yp = same_rank(inputs(yt, yp))
  if yt.shape ~= yp.shape then check_broadcast(who, yt, yp) end
  return tf.reduce_mean(tf.abs(yt - yp), -1)
end

function impl.mean_absolute_percentage_error(who, yt, yp)
  yt, yp = same_rank(inputs(yt, yp))
  check_broadcast(who, yt, yp)
  local diff = tf.abs((yt - yp) / tf.maximum(tf.abs(yt), EPS))
  return tf.reduce_mean(diff, -1) * 100
end

function impl.mean_squared_logarithmic_error(who, yt, yp)
  yt, yp = same_rank(inputs(yt, yp))
  check_broadcast(who, yt, yp)
  local a = tf.math.log(tf.maximum(yp, EPS) + 1)
  local b = tf.math.log(tf.maximum(yt, EPS) + 1)
  return tf.reduce_mean(tf.square(a - b), -1)
end

function impl.huber(who, yt, yp, opts)
  local delta = opt(opts, "delta", 1.0)
  yt, yp = same_rank(inputs(yt, yp))
  check_broadcast(who, yt, yp)
  local err = yp - yt
  local abs_err = tf.abs(err)
  local quad = tf.square(err) * 0.5
  local lin = abs_err * delta - 0.5 * delta * delta
  return tf.reduce_mean(tf.where(tf.less_equal(abs_err, delta), quad, lin), -1)
end

function impl.log_cosh(who, yt, yp)
  yt, yp = same_rank(inputs(yt, yp))
  check_broadcast(who, yt, yp)
  local x = yp - yt
  return tf.reduce_mean(x + tf.nn.softplus(x * -2) - LOG2, -1)
end

function impl.kl_divergence(who, yt, yp)
  yt, yp = same_rank(inputs(yt, yp))
  check_broadcast(who, yt, yp)
  yt = tf.clip_by_value(yt, EPS, 1)
  yp = tf.clip_by_value(yp, EPS, 1)
  return tf.reduce_sum(yt * tf.math.log(yt / yp), -1)
end

function impl.poisson(who, yt, yp)
  yt, yp = same_rank(inputs(yt, yp))
  check_broadcast(who, yt, yp)
  return tf.reduce_mean(yp - yt * tf.math.log(yp + EPS), -1)
end

-- Labels in {0, 1} become {-1, 1} (a cond in Keras; a where on a scalar here).
local function hinge_labels(yt)
  local binary = tf.reduce_all(tf.logical_or(tf.equal(yt, 0), tf.equal(yt, 1)))
  return tf.where(binary, yt * 2 - 1, yt)
end

function impl.hinge(who, yt, yp)
  yt, yp = inputs(yt, yp)
  check_broadcast(who, yt, yp)
  yt = hinge_labels(yt)
  return tf.reduce_mean(tf.maximum(1 - yt * yp, 0), -1)
end

function impl.squared_hinge(who, yt, yp)
  yt, yp = inputs(yt, yp)
  check_broadcast(who, yt, yp)
  yt = hinge_labels(yt)
  return tf.reduce_mean(tf.square(tf.maximum(1 - yt * yp, 0)), -1)
end

function impl.categorical_hinge(who, yt, yp)
  yt, yp = inputs(yt, yp)
  check_broadcast(who, yt, yp)
  local pos = tf.reduce_sum(yt * yp, -1)
  local neg = tf.reduce_max((1 - yt) * yp, -1)
  return tf.maximum(neg - pos + 1, 0)
end

local function l2_normalize(x, axis)
  return x * tf.math.rsqrt(tf.maximum(tf.reduce_sum(tf.square(x), axis, { keepdims = true }), 1e-12))
end

function impl.cosine_similarity(who, yt, yp, opts)
  local axis = opt(opts, "axis", -1)
  yt, yp = same_rank(inputs(yt, yp))
  check_broadcast(who, yt, yp)
  return -tf.reduce_sum(l2_normalize(yt, axis) * l2_normalize(yp, axis), axis)
end

function impl.binary_crossentropy(who, yt, yp, opts)
  local from_logits = opt(opts, "from_logits", false)
  local ls = opt(opts, "label_smoothing", 0.0)
  local axis = opt(opts, "axis", -1)
  yt, yp = inputs(yt, yp)
  check_same_shape(who, yt, yp)
  if ls ~= 0 then yt = yt * (1 - ls) + 0.5 * ls end
  local bce
  if from_logits then
    bce = tf.nn.sigmoid_cross_entropy_with_logits(yt, yp)
  else
    local p = tf.clip_by_value(yp, EPS, 1 - EPS)
    bce = -(yt * tf.math.log(p) + (1 - yt) * tf.math.log(1 - p))
  end
  return tf.reduce_mean(bce, axis)
end

function impl.categorical_crossentropy(who, yt, yp, opts)
  local from_logits = opt(opts, "from_logits", false)
  local ls = opt(opts, "label_smoothing", 0.0)
  local axis = opt(opts, "axis", -1)
  yt, yp = inputs(yt, yp)
  if rank(yp) < 1 then raise("InvalidArgument", who .. ": y_pred must have rank >= 1, got " .. describe(yp)) end
  check_same_shape(who, yt, yp)
  if ls ~= 0 then yt = yt * (1 - ls) + ls / yt.shape[-1] end
  local last = axis == -1 or axis == rank(yp) - 1
  if from_logits then
    if last then return tf.nn.softmax_cross_entropy_with_logits(yt, yp) end
    return -tf.reduce_sum(yt * tf.nn.log_softmax(yp, axis), axis)
  end
  local p = yp / tf.reduce_sum(yp, axis, { keepdims = true })
  p = tf.clip_by_value(p, EPS, 1 - EPS)
  return -tf.reduce_sum(yt * tf.math.log(p), axis)
end

-- Label dtypes the crossentropy op takes as they are; other labels (uint8
-- from keras.datasets, float labels) are cast to int32 first, as Keras does.
local int_dtypes = { int32 = true, int64 = true }

-- Integer labels of shape [N] (or [N,1]) against y_pred [N, C]. Returns the
-- per-sample losses and, with ignore_class, the mask of valid samples.
function impl.sparse_categorical_crossentropy(who, yt, yp, opts)
  local from_logits = opt(opts, "from_logits", false)
  local ignore_class = opt(opts, "ignore_class", nil)
  local axis = opt(opts, "axis", -1)
  if not is_tensor(yp) then yp = as_tensor(yp, "float32") end
  if not is_tensor(yt) then yt = tf.constant(yt) end
  local st, sp = yt.shape, yp.shape
  local rt, rp = #st, #sp
  if rp < 1 then raise("InvalidArgument", who .. ": y_pred must have rank >= 1, got " .. describe(yp)) end
  if axis ~= -1 and axis ~= rp - 1 then
    raise("InvalidArgument", ("%s: only axis=-1 is supported, got axis=%s"):format(who, tostring(axis)))
  end
  if rt == rp and st[-1] == 1 then
    yt = tf.squeeze(yt, -1)
    st, rt = yt.shape, rt - 1
  end
  local ok = rt == rp - 1
  if ok then
    for i = 0, rt - 1 do
      if st[i] ~= sp[i] and st[i] ~= nil and sp[i] ~= nil then ok = false break end
    end
  end
  if not ok then
    raise("InvalidArgument", ("%s: labels must have the shape of y_pred without its last axis (or with a last axis of 1), got y_true %s and y_pred %s")
      :format(who, describe(yt), describe(yp)))
  end
  local ydt = yt.dtype.name
  if not int_dtypes[ydt] then
    if (ydt == "float32" or ydt == "float64" or ydt == "float16" or ydt == "bfloat16")
        and not (tf.reduce_max(tf.abs(yt - tf.floor(yt))):item() == 0) then
      -- Keras truncates; a fractional or NaN class index is a wrong answer
      raise("InvalidArgument", ("%s: y_true %s holds non-integer class indices (fractional or NaN); sparse labels "
        .. "are class numbers 0..C-1 (use CategoricalCrossentropy for one-hot or soft labels)"):format(who, describe(yt)))
    end
    yt = tf.cast(yt, "int32")
  end
  local mask
  if ignore_class ~= nil then
    mask = tf.not_equal(yt, ignore_class)
    local fmask = tf.cast(mask, yt.dtype.name)
    yt = yt * fmask
    yp = yp * tf.expand_dims(tf.cast(mask, yp.dtype.name), -1)
  end
  local logits = yp
  if not from_logits then logits = tf.math.log(tf.clip_by_value(yp, EPS, 1 - EPS)) end
  local res = tf.nn.sparse_softmax_cross_entropy_with_logits(yt, logits)
  if mask then res = tf.where(mask, res, 0) end
  return res, mask
end

-- ---- public functions ----------------------------------------------------------

local function_names = {
  "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
  "mean_squared_logarithmic_error", "huber", "log_cosh", "kl_divergence", "poisson", "hinge",
  "squared_hinge", "categorical_hinge", "cosine_similarity", "binary_crossentropy",
  "categorical_crossentropy", "sparse_categorical_crossentropy",
}
-- Leading positional options after (y_true, y_pred), as Keras's functions.
local fn_positional = {
  huber = { "delta" },
  cosine_similarity = { "axis" },
  binary_crossentropy = { "from_logits", "label_smoothing", "axis" },
  categorical_crossentropy = { "from_logits", "label_smoothing", "axis" },
  sparse_categorical_crossentropy = { "from_logits", "ignore_class", "axis" },
}

local fn_by_value = {}  -- function -> its canonical name
for _, name in ipairs(function_names) do
  local f = impl[name]
  local pos = fn_positional[name]
  local g
  if pos then
    g = function(yt, yp, a, ...)
      if a ~= nil and not class.is_options(a) then
        local o = {}
        local args = { a, ... }
        for i, k in ipairs(pos) do o[k] = args[i] end
        a = o
      end
      return (f(name, yt, yp, a))
    end
  else
    g = function(yt, yp) return (f(name, yt, yp)) end
  end
  M[name] = g
  fn_by_value[g] = name
  require("tlua.help").register(g, ("keras.losses.%s(y_true, y_pred%s) -> per-sample losses (mean/sum over the last axis), as Keras")
    :format(name, pos and (", {" .. table.concat(pos, "=, ") .. "=}") or ""))
end

local aliases = {
  mse = "mean_squared_error", MSE = "mean_squared_error",
  mae = "mean_absolute_error", MAE = "mean_absolute_error",
  mape = "mean_absolute_percentage_error", MAPE = "mean_absolute_percentage_error",
  msle = "mean_squared_logarithmic_error", MSLE = "mean_squared_logarithmic_error",
  kld = "kl_divergence", KLD = "kl_divergence", kullback_leibler_divergence = "kl_divergence",
  logcosh = "log_cosh", huber_loss = "huber",
}
for a, n in pairs(aliases) do M[a] = M[n] end

-- ---- reduction -------------------------------------------------------------------

local reductions = {
  sum_over_batch_size = "sum_over_batch_size", auto = "sum_over_batch_size",
  sum = "sum", none = "none", mean = "mean", mean_with_sample_weight = "mean_with_sample_weight",
}

local function standardize_reduction(who, r)
  local s = reductions[r == nil and "sum_over_batch_size" or r]
  if not s then
    raise("InvalidArgument", ("%s: invalid reduction '%s' (expected one of: sum_over_batch_size, sum, none, mean, mean_with_sample_weight)")
      :format(who, tostring(r)))
  end
  return s
end

local function num_elements(t)
  local n = 1
  local s = t.shape
  for i = 0, #s - 1 do n = n * s[i] end
  return n
end

-- Keras's apply_mask: the mask becomes (part of) the sample weight.
local function apply_mask(sw, mask, dtype, reduction)
  mask = tf.cast(mask, dtype)
  if reduction == "mean" or reduction == "sum_over_batch_size" then
    local total = num_elements(mask)
    mask = mask * (total / (tf.reduce_sum(mask) + EPS))
  end
  if sw ~= nil then
    mask, sw = same_rank(mask, sw)
    return sw * mask
  end
  return mask
end
M._apply_mask = apply_mask

-- Keras's reduce_weighted_values.
local function reduce_weighted(who, values, sw, mask, reduction)
  local dtype = values.dtype.name
  if sw ~= nil then sw = as_tensor(sw, dtype) end
  if mask ~= nil then sw = apply_mask(sw, mask, dtype, reduction) end
  if sw ~= nil then
    values, sw = same_rank(values, sw)
    if values.shape ~= sw.shape then check_broadcast(who, values, sw, "losses", "sample_weight") end
    values = values * sw
  end
  if reduction == "none" then return values end
  local s = values.shape
  if #s == 0 then return values end
  if reduction == "sum" then return tf.reduce_sum(values) end
  if reduction == "mean_with_sample_weight" and sw ~= nil then
    return tf.math.divide_no_nan(tf.reduce_sum(values), tf.cast(tf.reduce_sum(sw), dtype))
  end
  local n = num_elements(values)
  if n == 0 then return tf.zeros({}, dtype) end
  return tf.reduce_mean(values)
end
M._reduce_weighted_values = reduce_weighted

-- ---- classes ---------------------------------------------------------------------

local function snake(name)
  return (name:gsub("(%l)(%u)", "%1_%2"):gsub("(%u)(%u%l)", "%1_%2"):lower())
end

local Loss = class("Loss")
M.Loss = Loss
Loss.__doc = "keras.losses.Loss: base of loss classes. Subclass: Loss:extend(name), init(opts) reads its options then\n"
  .. "  calls super init (name=, reduction=); call(y_true, y_pred) returns per-sample losses; loss(y_true, y_pred[, sample_weight])"

-- Base options: name, reduction, dtype. Unknown keys are left to subclasses.
function Loss:init(opts)
  if opts ~= nil and type(opts) ~= "table" then
    raise("InvalidArgument", ("%s: options must be a table, got %s"):format(getmetatable(self).class_name, type(opts)))
  end
  opts = opts or {}
  local cls = getmetatable(self)
  self.name = opts.name or rawget(cls, "default_name") or snake(cls.class_name)
  self._who = ("%s '%s'"):format(cls.class_name, self.name)
  self.reduction = standardize_reduction(self._who, opts.reduction)
  self.dtype = opts.dtype or "float32"
end

-- Subclasses return per-sample losses (and optionally a mask).
function Loss:call()
  raise("Unimplemented", getmetatable(self).class_name .. ": a Loss subclass must define call(y_true, y_pred)")
end

function Loss:__call(y_true, y_pred, sample_weight)
  local dtype = self.dtype
  if not is_tensor(y_pred) or y_pred.dtype.name ~= dtype then y_pred = as_tensor(y_pred, dtype) end
  if not rawget(getmetatable(self), "keeps_labels") then
    if not is_tensor(y_true) or y_true.dtype.name ~= dtype then y_true = as_tensor(y_true, dtype) end
  end
  local losses, mask = self:call(y_true, y_pred)
  if not is_tensor(losses) then
    if type(losses) == "number" then
      losses = as_tensor(losses, dtype)
    else
      raise("InvalidArgument", ("%s: call returned %s; a loss (its call, or the wrapped function) must return a tensor "
        .. "of per-sample losses"):format(self._who or getmetatable(self).class_name, type(losses)))
    end
  end
  return reduce_weighted(self._who, losses, sample_weight, mask, self.reduction)
end

function Loss:get_config()
  local cfg = { name = self.name, reduction = self.reduction }
  local cls = getmetatable(self)
  for _, k in ipairs(rawget(cls, "hyper") or {}) do cfg[k] = self[k] end
  return cfg
end

function Loss:__tostring()
  return ("<keras.losses.%s name=%s reduction=%s>"):format(getmetatable(self).class_name, self.name, self.reduction)
end

local classes = {}

-- A builtin loss class wrapping impl[fname]; hyper = {key = default, ...} in
-- positional order.
local function define(cname, fname, default_name, hyper, defaults)
  local cls = Loss:extend(cname)
  cls.default_name = default_name
  cls.hyper = hyper
  local f = impl[fname]
  local positional = {}
  for i, k in ipairs(hyper) do positional[i] = k end
  local spec = { positional = positional, defaults = defaults, optional = { "name", "reduction", "dtype" } }
  cls.keeps_labels = fname == "sparse_categorical_crossentropy"
  function cls:init(...)
    local o = class.options(cname, spec, ...)
    Loss.init(self, o)
    for _, k in ipairs(hyper) do self[k] = o[k] end
    self._fn_opts = {}
    for _, k in ipairs(hyper) do self._fn_opts[k] = o[k] end
    if cls.validate then cls.validate(self) end
  end
  if fname == "sparse_categorical_crossentropy" or fname == "binary_crossentropy"
     or fname == "categorical_crossentropy" or fname == "hinge" or fname == "squared_hinge"
     or fname == "categorical_hinge" then
    function cls:call(yt, yp)
      if fname ~= "sparse_categorical_crossentropy" then yt, yp = same_rank(yt, yp) end
      return f(self._who, yt, yp, self._fn_opts)
    end
  else
    function cls:call(yt, yp) return (f(self._who, yt, yp, self._fn_opts)) end
  end
  local args = {}
  for _, k in ipairs(hyper) do args[#args + 1] = ("%s=%s"):format(k, tostring(defaults[k])) end
  args[#args + 1] = ("name='%s', reduction='sum_over_batch_size'"):format(default_name)
  cls.__doc = ("keras.losses.%s{%s}\n  loss(y_true, y_pred[, sample_weight]) -> the reduced loss (per-sample losses: keras.losses.%s)")
    :format(cname, table.concat(args, ", "), fname)
  M[cname] = cls
  classes[#classes + 1] = cls
  return cls
end

define("MeanSquaredError", "mean_squared_error", "mean_squared_error", {}, {})
define("MeanAbsoluteError", "mean_absolute_error", "mean_absolute_error", {}, {})
define("MeanAbsolutePercentageError", "mean_absolute_percentage_error", "mean_absolute_percentage_error", {}, {})
define("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", "mean_squared_logarithmic_error", {}, {})
define("Huber", "huber", "huber_loss", { "delta" }, { delta = 1.0 }).validate = function(self)
  if type(self.delta) ~= "number" or self.delta <= 0 then
    raise("InvalidArgument", ("%s: delta must be a positive number, got %s"):format(self._who, tostring(self.delta)))
  end
end
define("LogCosh", "log_cosh", "log_cosh", {}, {})
local function check_ls(self)
  local ls = self.label_smoothing
  if type(ls) ~= "number" or ls < 0 or ls > 1 then
    raise("InvalidArgument", ("%s: label_smoothing must be a number in [0, 1], got %s"):format(self._who, tostring(ls)))
  end
end
define("BinaryCrossentropy", "binary_crossentropy", "binary_crossentropy",
  { "from_logits", "label_smoothing", "axis" }, { from_logits = false, label_smoothing = 0.0, axis = -1 }).validate = check_ls
define("CategoricalCrossentropy", "categorical_crossentropy", "categorical_crossentropy",
  { "from_logits", "label_smoothing", "axis" }, { from_logits = false, label_smoothing = 0.0, axis = -1 }).validate = check_ls
define("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", "sparse_categorical_crossentropy",
  { "from_logits", "ignore_class" }, { from_logits = false })
define("KLDivergence", "kl_divergence", "kl_divergence", {}, {})
define("Hinge", "hinge", "hinge", {}, {})
define("SquaredHinge", "squared_hinge", "squared_hinge", {}, {})
define("CategoricalHinge", "categorical_hinge", "categorical_hinge", {}, {})
define("Poisson", "poisson", "poisson", {}, {})
define("CosineSimilarity", "cosine_similarity", "cosine_similarity", { "axis" }, { axis = -1 })

-- The seed loop's loss: y_pred are softmax probabilities, y_true int labels.
-- Fast path: no label conversion, the 3 ops of the probabilities path plus
-- one reduction (clip, log, sparse_softmax_cross_entropy_with_logits, mean).
do
  local SCCE = M.SparseCategoricalCrossentropy
  local log, clip, reduce_mean = core.ops.log, core.ops.clip_by_value, core.ops.reduce_mean
  local sparse_xent = core.ops.sparse_softmax_cross_entropy_with_logits
  local base_call = Loss.__call
  function SCCE:__call(y_true, y_pred, sample_weight)
    -- t.ndim and #t (the first dimension) are cheaper than t.shape.
    if sample_weight == nil and is_tensor(y_pred) and is_tensor(y_true) and y_pred.ndim == 2 and y_true.ndim == 1
       and #y_true == #y_pred and self.ignore_class == nil and self.reduction == "sum_over_batch_size"
       and int_dtypes[y_true.dtype.name] and y_pred.dtype.name == self.dtype then
      local logits = y_pred
      if not self.from_logits then logits = log(clip(y_pred, EPS, 1 - EPS)) end
      return reduce_mean(sparse_xent(y_true, logits))
    end
    return base_call(self, y_true, y_pred, sample_weight)
  end
end

local function user_function_name(fn, who)
  local ok, saving = pcall(require, "keras.saving")
  local name = ok and type(saving) == "table" and saving.function_name and saving.function_name(fn)
  if not name then
    raise("InvalidArgument", who .. ": get_config cannot name the wrapped function (register it with keras.saving)")
  end
  return name
end

-- A user function as a loss class (Keras's LossFunctionWrapper).
local LossFunctionWrapper = Loss:extend("LossFunctionWrapper")
M.LossFunctionWrapper = LossFunctionWrapper
LossFunctionWrapper.__doc = "keras.losses.LossFunctionWrapper(fn, {name=, reduction=, <options of fn>}): a function of\n"
  .. "  (y_true, y_pred) returning per-sample losses, reduced as a Loss"
function LossFunctionWrapper:init(fn, opts)
  if type(fn) ~= "function" then
    raise("InvalidArgument", ("LossFunctionWrapper: fn must be a function, got %s"):format(type(fn)))
  end
  opts = opts or {}
  local base = { name = opts.name or fn_by_value[fn] or "loss", reduction = opts.reduction, dtype = opts.dtype }
  Loss.init(self, base)
  self.fn = fn
  self._fn_kwargs = {}
  for k, v in pairs(opts) do
    if k ~= "name" and k ~= "reduction" and k ~= "dtype" then self._fn_kwargs[k] = v end
  end
  if next(self._fn_kwargs) == nil then self._fn_kwargs = nil end
  -- The builtin sparse crossentropy delegates to its class (same values, and
  -- the class's fast path): compile("sparse_categorical_crossentropy").
  if fn == M.sparse_categorical_crossentropy then
    local c = { name = self.name, reduction = self.reduction, dtype = self.dtype }
    for k, v in pairs(self._fn_kwargs or {}) do c[k] = v end
    local ok, d = pcall(M.SparseCategoricalCrossentropy, c)
    if ok then self._delegate = d end
  end
end

do
  local base_call = Loss.__call
  function LossFunctionWrapper:__call(y_true, y_pred, sample_weight)
    local d = self._delegate
    if d and d.reduction == self.reduction then return d(y_true, y_pred, sample_weight) end
    return base_call(self, y_true, y_pred, sample_weight)
  end
end
function LossFunctionWrapper:call(yt, yp)
  yt, yp = same_rank(yt, yp)
  return self.fn(yt, yp, self._fn_kwargs)
end
function LossFunctionWrapper:get_config()
  local cfg = Loss.get_config(self)
  cfg.fn = fn_by_value[self.fn] or user_function_name(self.fn, self._who)
  for k, v in pairs(self._fn_kwargs or {}) do cfg[k] = v end
  return cfg
end
LossFunctionWrapper.from_config = function(cfg)
  local c = {}
  for k, v in pairs(cfg) do c[k] = v end
  local fn = M[c.fn]
  if type(fn) ~= "function" then raise("InvalidArgument", ("LossFunctionWrapper.from_config: unknown function '%s'"):format(tostring(c.fn))) end
  c.fn = nil
  return LossFunctionWrapper(fn, c)
end

-- ---- get / serialize / deserialize --------------------------------------------

local by_class_name = {}
for _, cls in ipairs(classes) do
  by_class_name[cls.class_name] = cls
  by_class_name[snake(cls.class_name)] = by_class_name[snake(cls.class_name)] or cls
end
by_class_name.LossFunctionWrapper = LossFunctionWrapper
M._by_class_name = by_class_name

local function known_names()
  local names = {}
  for k in pairs(by_class_name) do names[#names + 1] = k end
  for _, k in ipairs(function_names) do names[#names + 1] = k end
  for k in pairs(aliases) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

-- The name of a builtin loss function (nil for others).
function M.function_name(fn) return fn_by_value[fn] end

-- Builtin functions serialize to their name; objects to {class_name=, config=}.
local namespace = require("keras.namespace")
M.serialize = namespace.serializer("losses", Loss, fn_by_value, "a loss object")

function M.deserialize(spec, custom_objects)
  if type(spec) == "string" then
    if custom_objects and custom_objects[spec] then return custom_objects[spec] end
    local f = M[spec]
    if type(f) == "function" and (fn_by_value[f]) then return f end
    local cls = by_class_name[spec]
    if cls then return cls() end
    raise("InvalidArgument", ("Unknown loss: '%s' (known: %s); pass custom losses in custom_objects"):format(spec, known_names()))
  end
  if type(spec) == "table" and type(spec.class_name) == "string" then
    return namespace.from_class_spec("loss", spec, custom_objects, by_class_name)
  end
  raise("InvalidArgument", ("keras.losses.deserialize: expected a name or {class_name=, config=}, got %s"):format(type(spec)))
end

-- get("mse") -> the function; get("MeanSquaredError") -> an instance; objects
-- and functions pass through; nil -> nil.
M.get = namespace.getter("loss", Loss, M.deserialize)

-- A Loss object for compile/fit: builtin function names and functions map
-- to their class (so "sparse_categorical_crossentropy" gets the class's
-- fast path and the default reduction), other functions are wrapped in
-- LossFunctionWrapper, Loss objects pass through.
local class_of_function = {
  mean_squared_error = "MeanSquaredError", mean_absolute_error = "MeanAbsoluteError",
  mean_absolute_percentage_error = "MeanAbsolutePercentageError",
  mean_squared_logarithmic_error = "MeanSquaredLogarithmicError", huber = "Huber", log_cosh = "LogCosh",
  binary_crossentropy = "BinaryCrossentropy", categorical_crossentropy = "CategoricalCrossentropy",
  sparse_categorical_crossentropy = "SparseCategoricalCrossentropy", kl_divergence = "KLDivergence",
  hinge = "Hinge", squared_hinge = "SquaredHinge", categorical_hinge = "CategoricalHinge",
  poisson = "Poisson", cosine_similarity = "CosineSimilarity",
}
function M.as_loss(identifier)
  local obj = M.get(identifier)
  if obj == nil then return nil end
  if type(obj) == "function" then
    local n = fn_by_value[obj]
    if n then return M[class_of_function[n]]() end
    return LossFunctionWrapper(obj)
  end
  return obj
end

-- tf.keras 2's reduction names.
M.Reduction = { AUTO = "auto", NONE = "none", SUM = "sum", SUM_OVER_BATCH_SIZE = "sum_over_batch_size" }

return M
