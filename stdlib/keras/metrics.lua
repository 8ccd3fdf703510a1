-- keras.metrics: streaming metrics with Keras 3's semantics.
--
--   local acc = keras.metrics.SparseCategoricalAccuracy{name = "accuracy"}
--   acc:update_state(y_true, y_pred[, sample_weight]); acc:result(); acc:reset_state()
--   acc(y_true, y_pred)                      -- update_state, then result
--   keras.metrics.Mean{name = "mean_loss"}(loss)
--   keras.metrics.MeanMetricWrapper(fn, {name = "my_metric"})   -- weighted mean of fn's per-sample values
--   keras.metrics.get("accuracy") / serialize(m) / deserialize{class_name=, config=}
--   keras.metrics.get_for_loss("accuracy", loss, y_true_shape, y_pred_shape)
--
-- State lives in non-trainable tf.Variables made by add_weight (listed in
-- m.variables); an update is a few ops ending in assign_add, so a tracer
-- that records op calls sees all of it. Precision, Recall and AUC live in
-- keras/metrics_confusion.lua and are re-exported here.
--
-- Not here: masks attached to tensors (Keras's _keras_mask), multi_label
-- AUC, the IoU / F-score / correlation metrics of Keras 3.
local class = require("tlua.class")
local core = require("tlua.core")
local tf = require("tlua")
local losses = require("keras.losses")

local M = {}

local raise = core.raise
local is_tensor = core.is_tensor
local as_tensor = losses._as_tensor
local same_rank = losses._squeeze_or_expand_to_same_rank
local describe = losses._describe
local ops = core.ops

local function snake(name)
  return (name:gsub("(%l)(%u)", "%1_%2"):gsub("(%u)(%u%l)", "%1_%2"):lower())
end

-- Keras's auto_name: "precision", "precision_1", ... (per-process counter).
local uids = {}
local function auto_name(base)
  local n = uids[base]
  uids[base] = (n or 0) + 1
  if n == nil then return base end
  return base .. "_" .. n
end
M._auto_name = auto_name
function M._reset_uids() uids = {} end
require("keras.backend").on_clear_session(M._reset_uids) -- as Keras: clear_session restarts metric names too

-- ---- Metric ----------------------------------------------------------------------

local Metric = class("Metric")
M.Metric = Metric
Metric.__doc = "keras.metrics.Metric: base of streaming metrics. Subclass: Metric:extend(name), init(opts) calls\n"
  .. "  super init then self:add_weight(name, {shape=, initializer=, dtype=}); define update_state and result"

-- Base options: name, dtype. Unknown keys are left to subclasses.
function Metric:init(opts)
  if opts ~= nil and type(opts) ~= "table" then
    raise("InvalidArgument", ("%s: options must be a table, got %s"):format(getmetatable(self).class_name, type(opts)))
  end
  opts = opts or {}
  local cls = getmetatable(self)
  local name = opts.name
  if name == nil then
    name = rawget(cls, "default_name") or auto_name(snake(cls.class_name))
  elseif type(name) ~= "string" then
    raise("InvalidArgument", ("%s: name must be a string, got %s"):format(cls.class_name, type(name)))
  end
  self.name = name
  self.dtype = opts.dtype or "float32"
  if type(self.dtype) ~= "string" then self.dtype = self.dtype.name end
  self.variables = {}
  self._initial = {}
  self._who = ("%s '%s'"):format(cls.class_name, name)
end

-- add_weight(name, {shape=, initializer=, dtype=}) or add_weight{name=, ...}:
-- a non-trainable variable named "<metric>/<name>", reset by reset_state to
-- its initial value.
function Metric:add_weight(name, opts)
  if type(name) == "table" then name, opts = name.name, name end
  opts = opts or {}
  if rawget(self, "_who") == nil then
    local cname = getmetatable(self).class_name
    raise("FailedPrecondition", ("%s: the metric was not initialised (did %s:init call %s.super.init(self, opts) "
      .. "before add_weight?)"):format(cname, cname, cname))
  end
  if type(name) ~= "string" then
    raise("InvalidArgument", ("%s: add_weight needs a name (a string), got %s"):format(self._who, type(name)))
  end
  local dtype = opts.dtype or self.dtype
  if type(dtype) ~= "string" then dtype = dtype.name end
  local shape = opts.shape or {}
  if class.is_instance(shape, tf.TensorShape) or type(shape) == "userdata" then shape = shape:as_list() end
  local init = opts.initializer or "zeros"
  -- Inside a traced function (its first call builds metrics) the variable
  -- and its initial value are made eagerly: a variable needs a value when
  -- it is made, and reset_state assigns that value later.
  local trace = require("tlua.trace")
  trace.check_variable_creation()
  return trace.init_scope(function()
  local value
  if init == "zeros" then value = tf.zeros(shape, dtype)
  elseif init == "ones" then value = tf.ones(shape, dtype)
  elseif type(init) == "number" then value = tf.fill(shape, tf.constant(init, dtype))
  elseif is_tensor(init) then value = tf.cast(init, dtype)
  elseif type(init) == "function" or (type(init) == "table" and getmetatable(init) and getmetatable(init).__call) then
    value = init(shape, dtype)
  elseif type(init) == "string" then
    local ok, inits = pcall(require, "keras.initializers")
    if not ok or not inits.get then
      raise("InvalidArgument", ("%s: unknown initializer '%s' for weight '%s'"):format(self._who, init, name))
    end
    value = inits.get(init)(shape, dtype)
  else
    raise("InvalidArgument", ("%s: bad initializer for weight '%s': %s"):format(self._who, name, tostring(init)))
  end
  local v = core.Variable(value, false, self.name .. "/" .. name, dtype)
  self.variables[#self.variables + 1] = v
  self._initial[#self._initial + 1] = value
  return v
  end)
end

function Metric:update_state()
  raise("Unimplemented", self._who .. ": a Metric subclass must define update_state")
end

function Metric:result()
  raise("Unimplemented", self._who .. ": a Metric subclass must define result")
end

function Metric:reset_state()
  for i, v in ipairs(self.variables) do v:assign(self._initial[i]) end
end
function Metric:reset_states() return self:reset_state() end

function Metric:__call(...)
  self:update_state(...)
  return self:result()
end

function Metric:get_config() return { name = self.name, dtype = self.dtype } end

function Metric:__tostring()
  return ("<keras.metrics.%s name=%s>"):format(getmetatable(self).class_name, self.name)
end

-- ---- Mean / Sum --------------------------------------------------------------------


-- Keras's reduce_to_samplewise_values: values and sample weight of the same
-- rank, values reduced to it, weight broadcast; then values reduced to one per sample.
local function samplewise(who, values, sw, reduce_fn, dtype)
  if not is_tensor(values) or values.dtype.name ~= dtype then values = as_tensor(values, dtype) end
  if sw ~= nil then
    sw = as_tensor(sw, dtype)
    values, sw = same_rank(values, sw)
    local wr, vr = #sw.shape, #values.shape
    if vr > wr then
      local axes = {}
      for a = wr, vr - 1 do axes[#axes + 1] = a end
      values = reduce_fn(values, axes)
    end
    losses._check_broadcast(who, values, sw, "values", "sample_weight")
    if #sw.shape > #values.shape then
      raise("InvalidArgument", ("%s: sample_weight %s does not broadcast to values %s"):format(who, describe(sw), describe(values)))
    end
    sw = tf.broadcast_to(sw, values.shape:as_list())
    values = values * sw
    if wr > 1 then
      local axes = {}
      for a = 1, wr - 1 do axes[#axes + 1] = a end
      sw = reduce_fn(sw, axes)
    end
  end
  local vr = #values.shape
  if vr > 1 then
    local axes = {}
    for a = 1, vr - 1 do axes[#axes + 1] = a end
    values = reduce_fn(values, axes)
  end
  return values, sw
end
M._samplewise = samplewise

local Mean = Metric:extend("Mean")
M.Mean = Mean
Mean.__doc = "keras.metrics.Mean{name='mean', dtype='float32'}\n  m:update_state(values[, sample_weight]); m:result() -> the weighted mean so far; m(values)"
Mean.default_name = "mean"

local mean_spec = { optional = { "name", "dtype" } }
function Mean:init(...)
  -- Builtin classes check their options; a user's subclass passes its own through.
  local cls = getmetatable(self)
  local o = ...
  if cls == Mean or rawget(cls, "spec") then o = class.options(cls.class_name, rawget(cls, "spec") or mean_spec, ...) end
  Metric.init(self, o)
  self.total = self:add_weight("total", { initializer = "zeros" })
  self.count = self:add_weight("count", { initializer = "zeros" })
  self._counts = {}  -- batch size -> its count as a constant (no allocation per step)
end

local function count_const(self, n)
  local c = self._counts[n]
  if not c then
    c = tf.constant(n, self.dtype)
    self._counts[n] = c
  end
  return c
end

local mean_fn = tf.reduce_mean
function Mean:update_state(values, sample_weight)
  local dtype = self.dtype
  if sample_weight == nil and is_tensor(values) and values.dtype.name == dtype then
    -- The seed loop's path: a scalar loss or a vector of per-sample values.
    local r = values.ndim
    if r == 0 then
      ops.assign_add(self.total, values)
      ops.assign_add(self.count, count_const(self, 1))
      return
    elseif r == 1 then
      ops.assign_add(self.total, ops.reduce_sum(values))
      ops.assign_add(self.count, count_const(self, #values))
      return
    end
  end
  local v, sw = samplewise(self._who, values, sample_weight, mean_fn, dtype)
  ops.assign_add(self.total, tf.reduce_sum(v))
  if sw ~= nil then
    ops.assign_add(self.count, tf.reduce_sum(sw))
  else
    local s = v.shape
    ops.assign_add(self.count, count_const(self, #s >= 1 and s[0] or 1))
  end
end

local divide_no_nan = ops.divide_no_nan
function Mean:result() return divide_no_nan(self.total, self.count) end

local Sum = Metric:extend("Sum")
M.Sum = Sum
Sum.__doc = "keras.metrics.Sum{name='sum', dtype='float32'}\n  m:update_state(values[, sample_weight]); m:result() -> the weighted sum so far"
Sum.default_name = "sum"
function Sum:init(...)
  local o = class.options("Sum", mean_spec, ...)
  Metric.init(self, o)
  self.total = self:add_weight("total", { initializer = "zeros" })
end
function Sum:update_state(values, sample_weight)
  local v = samplewise(self._who, values, sample_weight, tf.reduce_sum, self.dtype)
  ops.assign_add(self.total, tf.reduce_sum(v))
end
function Sum:result() return self.total:value() end

-- ---- metric functions --------------------------------------------------------------

local F = {}

local function float_inputs(yt, yp)
  if not is_tensor(yp) then yp = as_tensor(yp, "float32") end
  return as_tensor(yt, yp.dtype.name), yp
end

local check_broadcast = losses._check_broadcast

function F.accuracy(yt, yp)
  yt, yp = same_rank(float_inputs(yt, yp))
  check_broadcast("accuracy", yt, yp)
  return tf.cast(tf.equal(yt, yp), "float32")
end

function F.binary_accuracy(yt, yp, opts)
  local threshold = 0.5
  if type(opts) == "number" then threshold = opts elseif opts and opts.threshold then threshold = opts.threshold end
  yt, yp = same_rank(float_inputs(yt, yp))
  check_broadcast("binary_accuracy", yt, yp)
  local pred = tf.cast(tf.greater(yp, threshold), yt.dtype.name)
  return tf.cast(tf.equal(yt, pred), "float32")
end

function F.categorical_accuracy(yt, yp)
  if not is_tensor(yp) then yp = as_tensor(yp, "float32") end
  if not is_tensor(yt) then yt = as_tensor(yt, yp.dtype.name) end
  check_broadcast("categorical_accuracy", yt, yp)
  local t = tf.argmax(yt, -1)
  local p = tf.argmax(yp, -1)
  return tf.cast(tf.equal(t, p), "float32")
end

-- Labels [N] (or [N,1], kept as [N,1] in the result) against y_pred [N, C].
function F.sparse_categorical_accuracy(yt, yp)
  if not is_tensor(yp) then yp = as_tensor(yp, "float32") end
  if not is_tensor(yt) then yt = tf.constant(yt) end
  local st, sp = yt.shape, yp.shape
  local reshape
  if #st == #sp and st[-1] == 1 then
    reshape = st:as_list()
    yt = tf.squeeze(yt, -1)
  end
  local p = tf.argmax(yp, -1)
  if yt.dtype.name ~= "int64" then p = tf.cast(p, yt.dtype.name) end
  check_broadcast("sparse_categorical_accuracy", yt, p, "y_true", "argmax(y_pred)")
  local m = tf.cast(tf.equal(yt, p), "float32")
  if reshape then m = tf.reshape(m, reshape) end
  return m
end

-- TF's in_top_k: the target's score is among the k largest (ties count in).
local function in_top_k(targets, preds, k)
  local pt = tf.gather(preds, targets, { axis = 1, batch_dims = 1 })
  local above = tf.reduce_sum(tf.cast(tf.greater(preds, tf.expand_dims(pt, -1)), "int32"), -1)
  return tf.less(above, k)
end

local function topk_opt(opts)
  local k = 5
  if type(opts) == "number" then k = opts elseif opts and opts.k ~= nil then k = opts.k end
  if math.type(k) ~= "integer" and not (type(k) == "number" and k == math.floor(k)) or k < 1 then
    raise("InvalidArgument", ("top_k accuracy: k must be a positive integer, got %s"):format(tostring(k)))
  end
  return k
end

-- Whether integer labels t (any leading shape) are in the top k of yp's
-- last axis, as float32 of t's shape.
local function top_k_hits(t, yp, k)
  local shape = t.shape:as_list()
  if #yp.shape > 2 then yp = tf.reshape(yp, { -1, yp.shape[-1] }) end
  if #t.shape > 1 then t = tf.reshape(t, { -1 }) end
  local m = tf.cast(in_top_k(t, yp, k), "float32")
  if #shape > 1 then m = tf.reshape(m, shape) end
  return m
end

function F.top_k_categorical_accuracy(yt, yp, opts)
  local k = topk_opt(opts)
  if not is_tensor(yp) then yp = as_tensor(yp, "float32") end
  if not is_tensor(yt) then yt = as_tensor(yt, yp.dtype.name) end
  return top_k_hits(tf.argmax(yt, -1), yp, k)
end

function F.sparse_top_k_categorical_accuracy(yt, yp, opts)
  local k = topk_opt(opts)
  if not is_tensor(yp) then yp = as_tensor(yp, "float32") end
  if not is_tensor(yt) then yt = tf.constant(yt) end
  if not (yt.dtype.name == "int32" or yt.dtype.name == "int64") then yt = tf.cast(yt, "int32") end
  return top_k_hits(yt, yp, k)
end

-- keras.metrics.cosine_similarity is the positive similarity (the loss is its negative).
function F.cosine_similarity(yt, yp, opts)
  return -losses.cosine_similarity(yt, yp, opts)
end

for k, f in pairs(F) do M[k] = f end
-- The loss functions are metric functions too, as in Keras.
for _, n in ipairs({ "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
                     "mean_squared_logarithmic_error", "log_cosh", "kl_divergence", "poisson", "hinge",
                     "squared_hinge", "categorical_hinge", "binary_crossentropy", "categorical_crossentropy",
                     "sparse_categorical_crossentropy", "huber" }) do
  M[n] = losses[n]
end
M.mse, M.mae, M.mape, M.msle, M.kld, M.logcosh = M.mean_squared_error, M.mean_absolute_error,
  M.mean_absolute_percentage_error, M.mean_squared_logarithmic_error, M.kl_divergence, M.log_cosh

local fn_names = {}
for k, f in pairs(M) do if type(f) == "function" and k:sub(1, 1) ~= "_" then fn_names[f] = fn_names[f] or k end end
for k, f in pairs(F) do fn_names[f] = k end
for _, n in ipairs({ "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
                     "mean_squared_logarithmic_error", "kl_divergence", "log_cosh" }) do fn_names[M[n]] = n end

-- ---- MeanMetricWrapper ---------------------------------------------------------------

local function user_function_name(fn, who)
  local ok, saving = pcall(require, "keras.saving")
  local name = ok and type(saving) == "table" and saving.function_name and saving.function_name(fn)
  if not name then
    raise("InvalidArgument", who .. ": get_config cannot name the wrapped function (register it with keras.saving)")
  end
  return name
end

local MeanMetricWrapper = Mean:extend("MeanMetricWrapper")
M.MeanMetricWrapper = MeanMetricWrapper
-- fn -> an update_state with a fast path (filled below), so that
-- MeanMetricWrapper(sparse_categorical_accuracy) is as fast as the class.
local fast_updates = {}
MeanMetricWrapper.__doc = "keras.metrics.MeanMetricWrapper(fn, {name=, dtype=, <options of fn>})\n"
  .. "  the weighted mean over all samples of fn(y_true, y_pred[, options])'s per-sample values"

-- MeanMetricWrapper(fn, {name=, dtype=, <fn options>...}): the weighted mean
-- of fn(y_true, y_pred[, fn options])'s per-sample values over all samples seen.
function MeanMetricWrapper:init(fn, opts)
  local cls = getmetatable(self)
  if cls.fn == nil then
    if type(fn) ~= "function" and not (type(fn) == "table" and getmetatable(fn) and getmetatable(fn).__call) then
      raise("InvalidArgument", ("MeanMetricWrapper: fn must be a function, got %s"):format(type(fn)))
    end
  else
    fn, opts = rawget(cls, "fn"), fn
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    raise("InvalidArgument", ("%s: options must be a table, got %s"):format(cls.class_name, type(opts)))
  end
  local base = { name = opts.name, dtype = opts.dtype }
  if base.name == nil and cls == MeanMetricWrapper then base.name = fn_names[fn] or auto_name("mean_metric_wrapper") end
  Metric.init(self, base)
  self.total = self:add_weight("total", { initializer = "zeros" })
  self.count = self:add_weight("count", { initializer = "zeros" })
  self._counts = {}
  self._fn = fn
  local kw
  for k, v in pairs(opts) do
    if k ~= "name" and k ~= "dtype" then kw = kw or {}; kw[k] = v end
  end
  self._fn_kwargs = kw
  if kw == nil and fast_updates[fn] then self.update_state = fast_updates[fn] end
end

function MeanMetricWrapper:update_state(y_true, y_pred, sample_weight)
  local values = self._fn(y_true, y_pred, self._fn_kwargs)
  if not is_tensor(values) and type(values) ~= "number" then
    raise("InvalidArgument", ("%s: the metric function returned %s, expected a tensor of per-sample values")
      :format(self._who, type(values)))
  end
  return Mean.update_state(self, values, sample_weight)
end

function MeanMetricWrapper:get_config()
  local cfg = Metric.get_config(self)
  for k, v in pairs(self._fn_kwargs or {}) do cfg[k] = v end
  if getmetatable(self) == MeanMetricWrapper then
    cfg.fn = fn_names[self._fn] or user_function_name(self._fn, self._who)
  end
  return cfg
end

MeanMetricWrapper.from_config = function(cfg)
  local c = {}
  for k, v in pairs(cfg) do c[k] = v end
  local fn = c.fn
  if type(fn) == "string" then fn = M[fn] end
  if type(fn) ~= "function" then
    raise("InvalidArgument", ("MeanMetricWrapper.from_config: unknown function '%s'"):format(tostring(c.fn)))
  end
  c.fn = nil
  return MeanMetricWrapper(fn, c)
end

local classes = { Mean, Sum, MeanMetricWrapper }

-- A builtin wrapper class: fixed fn, default name, hyperparameters (with defaults, in positional order).
local function wrapper(cname, fn, default_name, hyper, defaults)
  local cls = MeanMetricWrapper:extend(cname)
  cls.fn = fn
  cls.default_name = default_name
  local positional = {}
  for i, k in ipairs(hyper or {}) do positional[i] = k end
  local spec = { positional = positional, defaults = defaults or {}, optional = { "name", "dtype" } }
  function cls:init(...)
    local o = class.options(cname, spec, ...)
    MeanMetricWrapper.init(self, o)
    for _, k in ipairs(hyper or {}) do self[k] = o[k] end
  end
  cls.from_config = function(cfg)
    if type(cfg) == "table" and next(cfg) == nil then return cls() end
    return cls(cfg)
  end
  local args = {}
  for _, k in ipairs(hyper or {}) do args[#args + 1] = ("%s=%s"):format(k, tostring(defaults[k])) end
  args[#args + 1] = ("name='%s', dtype='float32'"):format(default_name)
  cls.__doc = ("keras.metrics.%s{%s}\n  m:update_state(y_true, y_pred[, sample_weight]); m:result(); m:reset_state(); m(y_true, y_pred)")
    :format(cname, table.concat(args, ", "))
  M[cname] = cls
  classes[#classes + 1] = cls
  return cls
end

wrapper("Accuracy", F.accuracy, "accuracy")
wrapper("BinaryAccuracy", F.binary_accuracy, "binary_accuracy", { "threshold" }, { threshold = 0.5 })
wrapper("CategoricalAccuracy", F.categorical_accuracy, "categorical_accuracy")
local SCA = wrapper("SparseCategoricalAccuracy", F.sparse_categorical_accuracy, "sparse_categorical_accuracy")
wrapper("TopKCategoricalAccuracy", F.top_k_categorical_accuracy, "top_k_categorical_accuracy", { "k" }, { k = 5 })
wrapper("SparseTopKCategoricalAccuracy", F.sparse_top_k_categorical_accuracy, "sparse_top_k_categorical_accuracy",
  { "k" }, { k = 5 })
wrapper("MeanSquaredError", losses.mean_squared_error, "mean_squared_error")
wrapper("MeanAbsoluteError", losses.mean_absolute_error, "mean_absolute_error")
wrapper("MeanAbsolutePercentageError", losses.mean_absolute_percentage_error, "mean_absolute_percentage_error")
wrapper("MeanSquaredLogarithmicError", losses.mean_squared_logarithmic_error, "mean_squared_logarithmic_error")
wrapper("LogCoshError", losses.log_cosh, "logcosh")
wrapper("KLDivergence", losses.kl_divergence, "kl_divergence")
wrapper("Poisson", losses.poisson, "poisson")
wrapper("Hinge", losses.hinge, "hinge")
wrapper("SquaredHinge", losses.squared_hinge, "squared_hinge")
wrapper("CategoricalHinge", losses.categorical_hinge, "categorical_hinge")
wrapper("CosineSimilarity", F.cosine_similarity, "cosine_similarity", { "axis" }, { axis = -1 })
wrapper("BinaryCrossentropy", losses.binary_crossentropy, "binary_crossentropy",
  { "from_logits", "label_smoothing" }, { from_logits = false, label_smoothing = 0.0 })
wrapper("CategoricalCrossentropy", losses.categorical_crossentropy, "categorical_crossentropy",
  { "from_logits", "label_smoothing", "axis" }, { from_logits = false, label_smoothing = 0.0, axis = -1 })
wrapper("SparseCategoricalCrossentropy", losses.sparse_categorical_crossentropy, "sparse_categorical_crossentropy",
  { "from_logits", "ignore_class", "axis" }, { from_logits = false, axis = -1 })

-- The seed loop's metric: int labels [N] against probabilities [N, C]; five
-- ops (argmax, cast, equal, cast, sum) and two assign_adds.
local argmax, cast, equal, reduce_sum, assign_add = ops.argmax, ops.cast, ops.equal, ops.reduce_sum, ops.assign_add
function SCA:update_state(y_true, y_pred, sample_weight)
  if sample_weight == nil and is_tensor(y_true) and is_tensor(y_pred) and y_true.ndim == 1 and y_pred.ndim == 2 then
    local dt = y_true.dtype.name
    if dt ~= "int64" and dt ~= "int32" and dt ~= "float32" and dt ~= "float64" then
      y_true, dt = cast(y_true, "int32"), "int32" -- uint8 labels from keras.datasets
    end
    if dt == "int64" or dt == "int32" then
      if #y_true ~= #y_pred then
        raise("InvalidArgument", ("%s: y_true %s has %d labels, y_pred %s has %d rows"):format(
          self._who, losses._describe(y_true), #y_true, losses._describe(y_pred), #y_pred))
      end
      local p = argmax(y_pred, -1)
      if dt == "int32" then p = cast(p, "int32") end
      assign_add(self.total, reduce_sum(cast(equal(y_true, p), self.dtype)))
      assign_add(self.count, count_const(self, #y_true))
      return
    end
  end
  return MeanMetricWrapper.update_state(self, y_true, y_pred, sample_weight)
end

fast_updates[F.sparse_categorical_accuracy] = SCA.update_state

-- RootMeanSquaredError: sqrt of the weighted mean of squared errors.
local RMSE = Mean:extend("RootMeanSquaredError")
M.RootMeanSquaredError = RMSE
RMSE.default_name = "root_mean_squared_error"
RMSE.__doc = "keras.metrics.RootMeanSquaredError{name='root_mean_squared_error', dtype='float32'}\n"
  .. "  sqrt of the weighted mean of squared errors over all samples seen"
RMSE.spec = mean_spec
function RMSE:update_state(y_true, y_pred, sample_weight)
  local yt, yp = same_rank(as_tensor(y_true, self.dtype), as_tensor(y_pred, self.dtype))
  losses._check_broadcast(self._who, yt, yp)
  return Mean.update_state(self, tf.square(yp - yt), sample_weight)
end
function RMSE:result() return tf.sqrt(Mean.result(self)) end
classes[#classes + 1] = RMSE

-- Precision, Recall, AUC.
local confusion = require("keras.metrics_confusion")
confusion.install(M, Metric)
for _, n in ipairs({ "Precision", "Recall", "AUC" }) do classes[#classes + 1] = M[n] end

-- ---- get / serialize / deserialize ----------------------------------------------

local by_name = {}
for _, cls in ipairs(classes) do
  by_name[cls.class_name] = cls
  by_name[snake(cls.class_name)] = cls
end
by_name.mse, by_name.MSE = M.MeanSquaredError, M.MeanSquaredError
by_name.mae, by_name.MAE = M.MeanAbsoluteError, M.MeanAbsoluteError
by_name.mape, by_name.MAPE = M.MeanAbsolutePercentageError, M.MeanAbsolutePercentageError
by_name.msle, by_name.MSLE = M.MeanSquaredLogarithmicError, M.MeanSquaredLogarithmicError
by_name.bce, by_name.BCE = M.BinaryCrossentropy, M.BinaryCrossentropy
by_name.auc = M.AUC
M._by_name = by_name

local function known()
  local t = {}
  for k in pairs(by_name) do t[#t + 1] = k end
  table.sort(t)
  return table.concat(t, ", ")
end

local namespace = require("keras.namespace")
M.serialize = namespace.serializer("metrics", Metric, fn_names, "a metric")

function M.deserialize(spec, custom_objects)
  if type(spec) == "string" then
    if custom_objects and custom_objects[spec] then
      local o = custom_objects[spec]
      if type(o) == "table" and rawget(o, "class_name") then return o() end
      return o
    end
    local cls = by_name[spec]
    if cls then return cls() end
    if fn_names[M[spec]] then return M[spec] end
    raise("InvalidArgument", ("Unknown metric: '%s' (known: %s); pass custom metrics in custom_objects"):format(spec, known()))
  end
  if type(spec) == "table" and type(spec.class_name) == "string" then
    return namespace.from_class_spec("metric", spec, custom_objects, by_name)
  end
  raise("InvalidArgument", ("keras.metrics.deserialize: expected a name or {class_name=, config=}, got %s"):format(type(spec)))
end

-- get("accuracy") -> Accuracy(), get("mse") -> MeanSquaredError(), get(fn) -> fn
-- (callable objects pass through too, as in keras.losses).
M.get = namespace.getter("metric", Metric, M.deserialize)

-- The accuracy a model should use for "accuracy"/"acc" given its loss (as
-- tf.keras 2's compile: binary/sparse/categorical crossentropy decide), or
-- else given the shapes of y_true and y_pred (as Keras 3's compile_utils:
-- y_pred last dim 1 -> binary; y_true of lower rank or last dim 1 ->
-- sparse; otherwise categorical). Other names go through get(). The metric
-- keeps the name given ("acc" stays "acc"). Shapes are TensorShapes or
-- Lua lists; without a deciding loss or shapes it is CategoricalAccuracy.
function M.get_for_loss(identifier, loss, y_true_shape, y_pred_shape)
  if type(identifier) ~= "string" or (identifier:lower() ~= "accuracy" and identifier:lower() ~= "acc") then
    return M.get(identifier)
  end
  local lname
  if type(loss) == "string" then
    local ok, obj = pcall(losses.get, loss)
    loss = ok and obj or loss
  end
  if type(loss) == "function" then lname = losses.function_name(loss)
  elseif class.is_instance(loss, losses.Loss) then lname = snake(getmetatable(loss).class_name) end
  local opts = { name = identifier }
  if lname == "binary_crossentropy" then return M.BinaryAccuracy(opts) end
  if lname == "sparse_categorical_crossentropy" then return M.SparseCategoricalAccuracy(opts) end
  if lname == "categorical_crossentropy" then return M.CategoricalAccuracy(opts) end
  if y_true_shape and y_pred_shape then
    local function list(s) if type(s) == "table" and getmetatable(s) == nil then return s, #s end
      local l = s:as_list() return l, l.n or #l end
    local t, tr = list(y_true_shape)
    local p, pr = list(y_pred_shape)
    local tl, pl = t[tr], p[pr]
    if pl == 1 then return M.BinaryAccuracy(opts) end
    if tr < pr or (tl == 1 and pl and pl > 1) then return M.SparseCategoricalAccuracy(opts) end
  end
  return M.CategoricalAccuracy(opts)
end

return M
