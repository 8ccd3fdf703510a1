-- keras.training: compile, fit, evaluate, predict, train_on_batch,
-- test_on_batch, predict_on_batch — mixed into keras.Model by keras.models.
--
--   model:compile{optimizer = "nadam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
--   local history = model:fit(x, y, {epochs = 5, batch_size = 32, validation_split = 0.1})
--   model:evaluate(x_test, y_test)  -> loss, or {loss, metric...}, or a table with return_dict=true
--
-- The train step is the custom loop's: a tape, the forward pass with
-- training=true, the compiled loss (per output, with sample weights and
-- loss_weights) added to the model's losses with tf.add_n, gradients,
-- optimizer:apply_gradients, then keras.constraints.apply on the variables
-- (when that module has it), then the loss tracker (a Mean weighted by the
-- batch size, as Keras) and the compiled metrics. Batch logs are lazy:
-- metric results are read only by whoever asks (the progress bar every
-- 0.05 s on a terminal; nobody with verbose=2), so a step costs no
-- result() ops and no formatting. Data: tensors (or Lua number tables,
-- converted once), lists for several inputs/outputs, name-keyed tables for
-- named ones; each epoch slices (shuffle=false) or gathers (shuffle=true,
-- a tf.random.shuffle permutation per epoch) batches of batch_size rows,
-- the last one smaller. validation_split takes the last fraction before
-- shuffling, as Keras. With steps_per_epoch, batches continue from where
-- the previous epoch stopped and the data is reshuffled at each pass.
--
-- Tracing: fit, evaluate, predict and the *_on_batch methods run the
-- model's train_step / test_step / predict_step through tf.trace (one
-- tf.Function each per model and compile, model.train_function ...;
-- each batch size traces once, so the last partial batch costs one more
-- trace per fit; not reduce_retracing: gradients through a trace with an
-- unknown batch dimension fail in some grad rules today). Callbacks, logs and
-- the progress bar stay in Lua between steps. compile{run_eagerly=true},
-- model.run_eagerly = true, a dynamic=true model or layer, and
-- tf.config.run_functions_eagerly(true) run the steps eagerly.
-- Not done: tf.data inputs, generators, distribution.
local class = require("tlua.class")
local core = require("tlua.core")

local M = {}
local raise = core.raise
local function tf() return require("tlua") end

local TRAIN = { training = true }
local INFER = { training = false }

local function is_plain(t) return type(t) == "table" and getmetatable(t) == nil end

local function who(model) return ("%s '%s'"):format(getmetatable(model).class_name, model.name) end

-- ---- compile -------------------------------------------------------------------------

local function output_names(model)
  local n = rawget(model, "output_names")
  if n then return n end
  return nil
end

-- A loss spec -> fn(y_true, y_pred, sample_weight) -> scalar tensor.
local function resolve_loss(spec, model)
  if spec == nil then return nil end
  local losses = require("keras.losses")
  if losses.as_loss then
    -- builtin names and functions -> their Loss class (its fast paths);
    -- other functions -> LossFunctionWrapper; Loss objects as they are
    local obj = losses.as_loss(spec)
    if type(obj) == "table" and getmetatable(obj) and getmetatable(obj).__call then return obj end
    raise("InvalidArgument", ("%s.compile: could not interpret loss %s"):format(who(model), tostring(spec)))
  end
  local obj = spec
  if type(spec) == "string" or (is_plain(spec) and spec.class_name) then obj = losses.get(spec) end
  if type(obj) == "function" then
    local name = type(spec) == "string" and spec or nil
    if losses.LossFunctionWrapper then
      return losses.LossFunctionWrapper(obj, { name = name })
    end
    local fn = obj
    return function(y, p, sw)
      local per = fn(y, p)
      if sw ~= nil then
        return tf().reduce_mean(per * tf().cast(sw, per.dtype))
      end
      return tf().reduce_mean(per)
    end
  end
  if type(obj) == "table" and getmetatable(obj) and getmetatable(obj).__call then return obj end
  raise("InvalidArgument", ("%s.compile: could not interpret loss %s"):format(who(model), tostring(spec)))
end

-- Per-output list from a single spec, a list or a name-keyed table.
local function per_output(spec, names, what, model, broadcast)
  local n = #names
  local out = {}
  if spec == nil then return out end
  if is_plain(spec) and spec[1] == nil and next(spec) ~= nil and not spec.class_name then
    for k in pairs(spec) do
      local found = false
      for _, nm in ipairs(names) do if nm == k then found = true end end
      if not found then
        raise("InvalidArgument", ("%s.compile: unknown output '%s' in %s (outputs: %s)"):format(
          who(model), tostring(k), what, table.concat(names, ", ")))
      end
    end
    for i, nm in ipairs(names) do out[i] = spec[nm] end
    return out
  end
  if is_plain(spec) and spec[1] ~= nil and not broadcast then
    if #spec ~= n then
      raise("InvalidArgument", ("%s.compile: %s has %d entries for %d outputs"):format(who(model), what, #spec, n))
    end
    for i = 1, n do out[i] = spec[i] end
    return out
  end
  for i = 1, n do out[i] = spec end
  return out
end

function M.compile(self, opts)
  opts = require("tlua.errors").check_options(who(self) .. ".compile", opts or {}, {
    optimizer = true, loss = true, metrics = true, loss_weights = true, run_eagerly = true,
    weighted_metrics = true, steps_per_execution = true, jit_compile = true })
  local optimizers = require("keras.optimizers")
  local optimizer = optimizers.get(opts.optimizer == nil and "rmsprop" or opts.optimizer)
  local names = output_names(self) or { "output_1" }
  local n = #names
  local loss_specs
  if n == 1 then loss_specs = { opts.loss }
  else loss_specs = per_output(opts.loss, names, "loss", self, false) end
  local loss_fns = {}
  for i = 1, n do loss_fns[i] = resolve_loss(loss_specs[i], self) or false end
  local weights = {}
  local lw = opts.loss_weights
  if lw ~= nil then
    if type(lw) == "number" then lw = { lw } end
    local w = per_output(lw, names, "loss_weights", self, false)
    for i = 1, n do weights[i] = w[i] == nil and 1.0 or w[i] end
  else
    for i = 1, n do weights[i] = 1.0 end
  end
  local function metric_lists(spec, what)
    local out = {}
    if spec == nil then
      for i = 1, n do out[i] = {} end
      return out
    end
    if n == 1 then
      out[1] = is_plain(spec) and spec[1] ~= nil and spec or (is_plain(spec) and next(spec) == nil and {} or { spec })
      if is_plain(spec) and spec[1] == nil and next(spec) ~= nil then
        out[1] = spec[names[1]] or {}
        if not is_plain(out[1]) or out[1][1] == nil and next(out[1]) ~= nil then out[1] = { out[1] } end
      end
      return out
    end
    if is_plain(spec) and spec[1] == nil and next(spec) ~= nil then
      local p = per_output(spec, names, what, self, false)
      for i = 1, n do
        local m = p[i]
        if m == nil then out[i] = {}
        elseif is_plain(m) and (m[1] ~= nil or next(m) == nil) then out[i] = m
        else out[i] = { m } end
      end
      return out
    end
    -- a flat list applies to every output (Keras)
    for i = 1, n do out[i] = spec end
    return out
  end
  local compiled = {
    optimizer = optimizer,
    output_names = names,
    n_out = n,
    loss_fns = loss_fns,
    loss_weights = weights,
    metric_specs = metric_lists(opts.metrics, "metrics"),
    weighted_specs = metric_lists(opts.weighted_metrics, "weighted_metrics"),
    run_eagerly = opts.run_eagerly or false,
    metrics_ready = false,
    bs_const = {},
    _y1 = {}, _yp1 = {}, _sw1 = {},   -- per-step scratch lists (single output)
  }
  local has_loss = false
  for i = 1, n do if loss_fns[i] then has_loss = true end end
  compiled.has_loss = has_loss
  local cfg = {}
  for k, v in pairs(opts) do cfg[k] = v end
  rawset(self, "compile_config", cfg)
  rawset(self, "optimizer", optimizer)
  rawset(self, "loss", opts.loss)
  rawset(self, "_compiled", compiled)
  rawset(self, "_run_eagerly", nil) -- compile decides again (Keras)
  rawset(self, "_step_fns", nil)
  rawset(self, "_train_vars", nil)
  rawset(self, "stop_training", false)
end

-- ---- metrics (built at the first batch, when y shapes are known) ------------------------

local function function_name(fn)
  local ok, saving = pcall(require, "keras.saving")
  if ok and saving.function_name then
    local ok2, n = pcall(saving.function_name, fn)
    if ok2 and n then return n end
  end
  return "metric"
end

local function is_loss_kind(loss, names)
  local losses = package.loaded["keras.losses"]
  if not loss or not losses then return false end
  for _, nm in ipairs(names) do
    local f = losses[nm]
    if f ~= nil and (loss == f or (type(f) == "table" and class.is_instance(loss, f))) then return true end
  end
  if type(loss) == "table" and loss.fn then
    for _, nm in ipairs(names) do if loss.fn == losses[nm] then return true end end
  end
  return false
end

local function make_metric(spec, y, yp, loss, prefix)
  local metrics = require("keras.metrics")
  local obj
  if (spec == "accuracy" or spec == "acc") and metrics.get_for_loss then
    -- decided by the loss, else by the shapes (keras.metrics.get_for_loss)
    obj = metrics.get_for_loss(spec, loss, y.shape, yp.shape)
    obj.name = prefix .. spec
    return obj
  end
  if spec == "accuracy" or spec == "acc" or spec == "crossentropy" or spec == "ce" then
    local yt_rank, yp_rank = #y.shape, #yp.shape
    local yt_last = yt_rank > 0 and y.shape[-1] or nil
    local yp_last = yp_rank > 0 and yp.shape[-1] or nil
    local is_binary = yp_last == 1 or is_loss_kind(loss, { "binary_crossentropy", "BinaryCrossentropy" })
    local is_sparse = yt_rank < yp_rank or (yt_last == 1 and yp_last ~= nil and yp_last > 1)
      or is_loss_kind(loss, { "sparse_categorical_crossentropy", "SparseCategoricalCrossentropy" })
    local acc = spec == "accuracy" or spec == "acc"
    local fn_name
    if is_binary then fn_name = acc and "binary_accuracy" or "binary_crossentropy"
    elseif is_sparse then fn_name = acc and "sparse_categorical_accuracy" or "sparse_categorical_crossentropy"
    else fn_name = acc and "categorical_accuracy" or "categorical_crossentropy" end
    local fn = metrics[fn_name] or (not acc and require("keras.losses")[fn_name])
    if not fn then raise("Unimplemented", "keras.metrics." .. fn_name .. " is not available") end
    obj = metrics.MeanMetricWrapper(fn, { name = prefix .. spec })
    return obj
  end
  if type(spec) == "string" then
    local got = metrics.get(spec)
    if type(got) == "function" then return metrics.MeanMetricWrapper(got, { name = prefix .. spec }) end
    obj = got
  elseif type(spec) == "function" then
    return metrics.MeanMetricWrapper(spec, { name = prefix .. function_name(spec) })
  else
    obj = spec
  end
  if type(obj) == "table" and getmetatable(obj) == nil and obj.class_name then obj = metrics.get(obj) end
  if class.is_subclass(obj, metrics.Metric) then obj = obj() end
  if not (type(obj) == "table" and obj.update_state and obj.result) then
    raise("InvalidArgument", ("compile: could not interpret metric %s"):format(tostring(spec)))
  end
  -- a metric given by name is reported under that name ("mae"), as Keras
  if type(spec) == "string" then obj.name = prefix .. spec
  elseif prefix ~= "" then obj.name = prefix .. obj.name end
  return obj
end

-- The loss trackers (before the first loss is computed).
local function make_trackers(c)
  local metrics = require("keras.metrics")
  c.loss_tracker = metrics.Mean{ name = "loss" }
  c.out_trackers = {}
  if c.n_out > 1 then
    for i, nm in ipairs(c.output_names) do
      if c.loss_fns[i] then c.out_trackers[i] = metrics.Mean{ name = nm .. "_loss" } end
    end
  end
end

local function build_metrics(self, c, ys, yps)
  local all = { c.loss_tracker }
  for i = 1, c.n_out do
    if c.out_trackers[i] then all[#all + 1] = c.out_trackers[i] end
  end
  local entries = {}
  for i = 1, c.n_out do
    local prefix = c.n_out > 1 and (c.output_names[i] .. "_") or ""
    for _, spec in ipairs(c.metric_specs[i]) do
      local m = make_metric(spec, ys[i], yps[i], c.loss_fns[i], prefix)
      entries[#entries + 1] = { m = m, out = i, weighted = false }
      all[#all + 1] = m
    end
    for _, spec in ipairs(c.weighted_specs[i]) do
      local m = make_metric(spec, ys[i], yps[i], c.loss_fns[i], prefix)
      if c.metric_specs[i] and type(spec) == "string" then
        for _, e in ipairs(entries) do
          if e.m.name == m.name then m.name = prefix .. "weighted_" .. (type(spec) == "string" and spec or m.name) end
        end
      end
      entries[#entries + 1] = { m = m, out = i, weighted = true }
      all[#all + 1] = m
    end
  end
  c.metric_entries = entries
  c.all_metrics = all
  c.metrics_ready = true
end

local data_adapter = require("keras.data_adapter")
local structure, rebuild, n_inputs, in_keys = data_adapter.structure, data_adapter.rebuild, data_adapter.n_inputs, data_adapter.in_keys
local cardinality, slicer, new_data = data_adapter.cardinality, data_adapter.slicer, data_adapter.new_data
local prepare, class_weight_fn = data_adapter.prepare, data_adapter.class_weight_fn

-- ---- steps -----------------------------------------------------------------------------

local function flat_outputs(c, y_pred)
  if c.n_out == 1 then
    if core.is_tensor(y_pred) then
      local l = c._yp1
      l[1] = y_pred
      return l
    end
    return { y_pred[1] or y_pred[c.output_names[1]] }
  end
  local out = {}
  if y_pred[1] ~= nil then
    for i = 1, c.n_out do out[i] = y_pred[i] end
  else
    for i, nm in ipairs(c.output_names) do out[i] = y_pred[nm] end
  end
  return out
end

local function as_list(c, s, scratch)
  if s == nil then return nil end
  if core.is_tensor(s) then
    scratch[1] = s
    return scratch
  end
  if s[1] ~= nil then return s end
  local out = {}
  for i, nm in ipairs(c.output_names) do out[i] = s[nm] end
  return out
end

local function bs_tensor(c, bs, x)
  if bs == nil then
    -- a trace with an unknown batch dimension: the size is computed
    local t = tf()
    if not core.is_tensor(x) then for _, v in pairs(x) do x = v break end end
    return t.cast(t.gather(t.shape(x), 0), "float32")
  end
  local t = c.bs_const[bs]
  if not t then
    t = tf().constant(bs, "float32")
    c.bs_const[bs] = t
  end
  return t
end

-- The compiled loss of a batch (+ the model's losses); updates the trackers.
local function compute_loss(self, c, y, y_pred, sw)
  local t = tf()
  local ys = as_list(c, y, c._y1)
  local yps = flat_outputs(c, y_pred)
  local sws = as_list(c, sw, c._sw1)
  local total
  if c.n_out == 1 then
    local fn = c.loss_fns[1]
    if fn then
      if ys == nil then raise("InvalidArgument", ("%s: the model was compiled with a loss but no y was given"):format(who(self))) end
      total = fn(ys[1], yps[1], sws and sws[1])
      local w = c.loss_weights[1]
      if w ~= 1 then total = total * w end
    end
  else
    for i = 1, c.n_out do
      local fn = c.loss_fns[i]
      if fn then
        if ys == nil or ys[i] == nil then
          raise("InvalidArgument", ("%s: no target given for output '%s'"):format(who(self), c.output_names[i]))
        end
        local li = fn(ys[i], yps[i], sws and sws[i])
        c.out_trackers[i]:update_state(li, c.cur_bs)
        local w = c.loss_weights[i]
        if w ~= 1 then li = li * w end
        total = total == nil and li or total + li
      end
    end
  end
  local extra = self.losses
  if #extra > 0 then
    if total then total = t.add_n({ total, table.unpack(extra) })
    else total = t.add_n(extra) end
  end
  if total == nil then
    raise("InvalidArgument", ("%s: No loss to compute. Provide a `loss` argument in `compile()`."):format(who(self)))
  end
  return total, ys, yps, sws
end

local function update_metrics(c, ys, yps, sws)
  local entries = c.metric_entries
  for i = 1, #entries do
    local e = entries[i]
    local yi = ys and ys[e.out]
    if yi ~= nil then
      e.m:update_state(yi, yps[e.out], e.weighted and sws and sws[e.out] or nil)
    end
  end
end

local function batch_size_of(x)
  if core.is_tensor(x) then return x.shape[0] end
  for _, v in pairs(x) do return v.shape[0] end
end

local constraints_apply = false -- resolved once
local function apply_constraints(vars)
  if constraints_apply == false then
    local ok, cm = pcall(require, "keras.constraints")
    constraints_apply = ok and type(cm) == "table" and cm.apply or nil
  end
  if constraints_apply then constraints_apply(vars) end
end

-- One optimization step on a batch; returns the loss tensor.
function M.train_step(self, x, y, sw)
  local c = rawget(self, "_compiled")
  local t = tf()
  c.cur_bs = bs_tensor(c, batch_size_of(x), x)
  if not c.loss_tracker then make_trackers(c) end
  local tape = t.GradientTape()
  local y_pred = self(x, TRAIN)
  local loss, ys, yps, sws = compute_loss(self, c, y, y_pred, sw)
  local vars = rawget(self, "_train_vars")
  if not vars then
    vars = self.trainable_variables
    rawset(self, "_train_vars", vars)
  end
  local grads = tape:gradient(loss, vars)
  c.optimizer:apply_gradients(grads, vars)
  apply_constraints(vars)
  if not c.metrics_ready then build_metrics(self, c, ys or {}, yps) end
  c.loss_tracker:update_state(loss, c.cur_bs)
  update_metrics(c, ys, yps, sws)
  return loss
end

function M.test_step(self, x, y, sw)
  local c = rawget(self, "_compiled")
  c.cur_bs = bs_tensor(c, batch_size_of(x), x)
  if not c.loss_tracker then make_trackers(c) end
  local y_pred = self(x, INFER)
  local loss, ys, yps, sws = compute_loss(self, c, y, y_pred, sw)
  if not c.metrics_ready then build_metrics(self, c, ys or {}, yps) end
  c.loss_tracker:update_state(loss, c.cur_bs)
  update_metrics(c, ys, yps, sws)
  return loss
end

function M.predict_step(self, x)
  return self(x, INFER)
end

-- ---- traced steps ---------------------------------------------------------------------------

-- Does the model run its steps eagerly (model.run_eagerly: set on the
-- model, or compile{run_eagerly=true}, or a dynamic model or layer)?
local function dynamic_layer(self)
  local found = false
  require("keras.layer").each_layer(self, function(l)
    if rawget(l, "dynamic") then found = true end
  end)
  return found
end
M.dynamic_layer = dynamic_layer

function M.runs_eagerly(self)
  local own = rawget(self, "_run_eagerly")
  if own ~= nil then return own end
  local c = rawget(self, "_compiled")
  if c and c.run_eagerly then return true end
  return dynamic_layer(self)
end

local var_ids, next_var_id = setmetatable({}, { __mode = "k" }), 0
local function var_id(v)
  local id = var_ids[v]
  if not id then
    next_var_id = next_var_id + 1
    id = next_var_id
    var_ids[v] = id
  end
  return id
end

local STEP_NAMES = { train = "train_function", test = "test_function", predict = "predict_function" }
local STEP_METHODS = { train = "train_step", test = "test_step", predict = "predict_step" }
-- The traced bodies; the losses and metric values a traced call leaves on
-- the layers are symbolic, so they are cleared once the step is traced
-- (model.losses after fit is empty rather than unreadable).
local function traced_done(model, ...)
  if require("tlua.trace").tracing() then require("keras.layer").clear_call_state(model) end
  return ...
end
local step_bodies = {
  train = function(model, x, y, sw) return traced_done(model, model:train_step(x, y, sw)) end,
  test = function(model, x, y, sw) return traced_done(model, model:test_step(x, y, sw)) end,
  predict = function(model, x) return traced_done(model, model:predict_step(x)) end,
}

-- The step function fit/evaluate/predict call: the model's step method,
-- traced once per model and compile (kept on the compiled state, or on the
-- model for predict), or the method itself when the model runs eagerly.
-- A model whose trainable variables changed since the trace (layers
-- added, trainable flipped) gets a fresh tf.Function.
local function step_function(self, kind)
  local method = self[STEP_METHODS[kind]]
  if M.runs_eagerly(self) then return method end
  local holder = kind == "predict" and self or rawget(self, "_compiled")
  local fns = rawget(holder, "_step_fns")
  if not fns then
    fns = {}
    rawset(holder, "_step_fns", fns)
  end
  local vkey = false -- an unbuilt model: its first trace builds it
  if self.built then
    local ids = {}
    for i, v in ipairs(self.trainable_variables) do ids[i] = var_id(v) end
    vkey = table.concat(ids, ",")
  end
  local entry = fns[kind]
  if entry and entry.vkey == false and entry.method == method then entry.vkey = vkey end
  if not entry or entry.vkey ~= vkey or entry.method ~= method then
    local f = tf().trace(step_bodies[kind], {
      name = ("%s '%s'.%s"):format(getmetatable(self).class_name, self.name, STEP_NAMES[kind]),
      log_retraces = false })
    entry = { f = f, vkey = vkey, method = method }
    fns[kind] = entry
    rawset(self, STEP_NAMES[kind], f)
  end
  return entry.f
end
M.step_function = step_function

-- ---- logs ---------------------------------------------------------------------------------

-- Metrics reported in logs: compiled ones and those added with add_metric.
local function reported(self)
  local c = rawget(self, "_compiled")
  local list = {}
  if c and c.metrics_ready then
    for _, m in ipairs(c.all_metrics) do list[#list + 1] = m end
  end
  for _, m in ipairs(require("keras.models")._added_metrics(self)) do list[#list + 1] = m end
  return list
end

local function result_number(m)
  local r = m:result()
  if core.is_tensor(r) then return r:item() end
  return r
end

-- Lazy batch logs: logs.loss computes the loss tracker's result when read.
local LazyLogs = {}
LazyLogs.__index = function(self, k)
  local src = rawget(self, "_src")
  local m = src.by_name[k]
  if m == nil then return nil end
  local v = result_number(m)
  rawset(self, k, v)
  src.cached[#src.cached + 1] = k
  return v
end
LazyLogs.__pairs = function(self)
  local src = rawget(self, "_src")
  local i = 0
  return function()
    i = i + 1
    local k = src.names[i]
    if k == nil then return nil end
    return k, self[k]
  end, self, nil
end

local function new_lazy_logs()
  return setmetatable({ _src = { by_name = {}, names = {}, cached = {}, metrics = nil } }, LazyLogs)
end

-- Forgets the cached values of the lazy logs; with `rescan`, also points
-- them at the model's current metrics (fit rescans after the first batch
-- of an epoch, when compiled and add_metric metrics exist).
local function refresh_logs(self, logs, rescan)
  local src = rawget(logs, "_src")
  local cached = src.cached
  for i = #cached, 1, -1 do rawset(logs, cached[i], nil) cached[i] = nil end
  if rescan then
    local ms = reported(self)
    src.by_name, src.names = {}, {}
    for i, m in ipairs(ms) do src.by_name[m.name] = m src.names[i] = m.name end
  end
end

local function results(self, prefix)
  local out = {}
  for _, m in ipairs(reported(self)) do out[(prefix or "") .. m.name] = result_number(m) end
  return out
end

local function reset_metrics(self)
  for _, m in ipairs(reported(self)) do
    if m.reset_state then m:reset_state() else m:reset_states() end
  end
end
M.reset_metrics = reset_metrics

-- ---- fit / evaluate / predict -----------------------------------------------------------------

local function check_compiled(self, what)
  if not rawget(self, "_compiled") then
    raise("FailedPrecondition", ("%s.%s: You must compile your model before training/testing. Use `model:compile{optimizer=, loss=}`.")
      :format(who(self), what))
  end
end

local function resolve_verbose(v)
  if v == nil or v == "auto" then return require("keras.utils").is_terminal() and 1 or 2 end
  if v ~= 0 and v ~= 1 and v ~= 2 then raise("InvalidArgument", ("verbose must be \"auto\", 0, 1 or 2, got %s"):format(tostring(v))) end
  return v
end

local FIT_OPTS = { "batch_size", "epochs", "verbose", "callbacks", "validation_split", "validation_data", "shuffle",
  "class_weight", "sample_weight", "initial_epoch", "steps_per_epoch", "validation_steps", "validation_batch_size",
  "validation_freq", "x", "y" }
local function set_of(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end
local FIT_SET = set_of(FIT_OPTS)

local function positive_int(self, what, name, v)
  if v ~= nil and (math.type(v) ~= "integer" or v < 1) then
    raise("InvalidArgument", ("%s.%s: %s must be a positive integer, got %s"):format(who(self), what, name, tostring(v)))
  end
end

-- Runs `steps` test steps over data; returns nothing (metrics hold the results).
local function run_eval(self, data, batch_size, cbs, logs)
  local n = data.n
  local steps = math.ceil(n / batch_size)
  local test_fn = step_function(self, "test")
  for step = 0, steps - 1 do
    local a = step * batch_size
    local len = math.min(batch_size, n - a)
    if cbs then cbs:on_test_batch_begin(step, nil) end
    local x, y, sw = data:split(data:take(a, len))
    test_fn(self, x, y, sw)
    if cbs then
      refresh_logs(self, logs, step == 0)
      cbs:on_test_batch_end(step, logs)
    end
  end
end

function M.fit(self, x, y, opts)
  if is_plain(x) and opts == nil and y == nil and (x.x ~= nil) then opts = x x, y = opts.x, opts.y end
  opts = require("tlua.errors").check_options(who(self) .. ".fit", opts, FIT_SET)
  check_compiled(self, "fit")
  local c = rawget(self, "_compiled")
  local batch_size = opts.batch_size or 32
  local epochs = opts.epochs or 1
  local initial_epoch = opts.initial_epoch or 0
  positive_int(self, "fit", "batch_size", batch_size)
  positive_int(self, "fit", "epochs", epochs)
  positive_int(self, "fit", "steps_per_epoch", opts.steps_per_epoch)
  local verbose = resolve_verbose(opts.verbose)
  local shuffle = opts.shuffle ~= false
  local data = prepare(self, x, y, opts.sample_weight, "fit")
  local val = nil
  local vs = opts.validation_split
  if opts.validation_data ~= nil then
    local vd = opts.validation_data
    if not is_plain(vd) or vd[1] == nil then
      raise("InvalidArgument", ("%s.fit: validation_data must be {x_val, y_val} or {x_val, y_val, val_sample_weight}"):format(who(self)))
    end
    val = prepare(self, vd[1], vd[2], vd[3], "fit")
  elseif vs ~= nil and vs ~= 0 then
    if type(vs) ~= "number" or vs <= 0 or vs >= 1 then
      raise("InvalidArgument", ("%s.fit: validation_split must be a number in (0, 1), got %s"):format(who(self), tostring(vs)))
    end
    local split_at = math.floor(data.n * (1 - vs))
    if split_at == 0 or split_at == data.n then
      raise("InvalidArgument", ("%s.fit: Training data contains %d samples, which is not sufficient to split it into a validation and training set as specified by `validation_split=%s`.")
        :format(who(self), data.n, tostring(vs)))
    end
    val = data:slice_rows(split_at, data.n)
    data = data:slice_rows(0, split_at)
  end
  local n = data.n
  if n == 0 then raise("InvalidArgument", ("%s.fit: the training data is empty"):format(who(self))) end
  local cw = class_weight_fn(self, opts.class_weight, c)
  local steps_per_pass = math.ceil(n / batch_size)
  local steps = opts.steps_per_epoch or steps_per_pass
  local freq = opts.validation_freq or 1
  local function do_validate(epoch)
    if not val then return false end
    if type(freq) == "number" then return (epoch + 1) % freq == 0 end
    for _, e in ipairs(freq) do if e == epoch + 1 then return true end end
    return false
  end
  local val_bs = opts.validation_batch_size or batch_size
  local cbs = require("keras.callbacks").CallbackList(opts.callbacks, { add_history = true, add_progbar = verbose ~= 0 })
  cbs:set_model(self)
  cbs:set_params({ verbose = verbose, epochs = epochs, steps = steps, batch_size = batch_size, samples = n })
  rawset(self, "stop_training", false)
  rawset(self, "_train_vars", nil)
  local logs = new_lazy_logs()
  local t = tf()
  local perm_slicer = nil
  local pos = steps_per_pass -- position in the current pass (forces a fresh pass first)
  cbs:on_train_begin(nil)
  local epoch_logs = {}
  local train_fn = step_function(self, "train")
  for epoch = initial_epoch, epochs - 1 do
    reset_metrics(self)
    cbs:on_epoch_begin(epoch, nil)
    local ran = 0
    for step = 0, steps - 1 do
      if pos >= steps_per_pass then
        pos = 0
        if shuffle then perm_slicer = slicer(t.random.shuffle(t.range(n))) end
      end
      local a = pos * batch_size
      local len = math.min(batch_size, n - a)
      pos = pos + 1
      cbs:on_train_batch_begin(step, nil)
      local bx, by, bsw = data:split(data:take(a, len, perm_slicer))
      if cw then
        local w = cw(by)
        bsw = bsw and bsw * w or w
      end
      train_fn(self, bx, by, bsw)
      ran = ran + 1
      refresh_logs(self, logs, step == 0)
      cbs:on_train_batch_end(step, logs)
      if rawget(self, "stop_training") then break end
    end
    if not opts.steps_per_epoch then pos = steps_per_pass end
    epoch_logs = results(self)
    if ran > 0 and do_validate(epoch) then
      reset_metrics(self)
      run_eval(self, val, val_bs, nil, nil)
      for k, v in pairs(results(self, "val_")) do epoch_logs[k] = v end
    end
    cbs:on_epoch_end(epoch, epoch_logs)
    if rawget(self, "stop_training") then break end
  end
  cbs:on_train_end(epoch_logs)
  local h = cbs.history
  h.params = cbs.params
  rawset(self, "history", h)
  return h
end

local EVAL_SET = set_of({ "batch_size", "verbose", "sample_weight", "steps", "callbacks", "return_dict", "x", "y" })

function M.evaluate(self, x, y, opts)
  opts = require("tlua.errors").check_options(who(self) .. ".evaluate", opts, EVAL_SET)
  check_compiled(self, "evaluate")
  local batch_size = opts.batch_size or 32
  positive_int(self, "evaluate", "batch_size", batch_size)
  local verbose = resolve_verbose(opts.verbose)
  local data = prepare(self, x, y, opts.sample_weight, "evaluate")
  if opts.steps then data = data:slice_rows(0, math.min(data.n, opts.steps * batch_size)) end
  local steps = math.ceil(data.n / batch_size)
  local cbs = require("keras.callbacks").CallbackList(opts.callbacks, { add_progbar = verbose ~= 0 })
  cbs:set_model(self)
  cbs:set_params({ verbose = verbose, steps = steps })
  if cbs.progbar then cbs.progbar._in_eval = true end
  reset_metrics(self)
  local logs = new_lazy_logs()
  cbs:on_test_begin(nil)
  run_eval(self, data, batch_size, cbs, logs)
  local res = results(self)
  cbs:on_test_end(res)
  if opts.return_dict then return res end
  local names = {}
  for _, m in ipairs(reported(self)) do names[#names + 1] = m.name end
  if #names == 1 then return res[names[1]] end
  local out = {}
  for i, nm in ipairs(names) do out[i] = res[nm] end
  return out
end

local PRED_SET = set_of({ "batch_size", "verbose", "steps", "callbacks", "x" })

local function concat_outputs(chunks)
  local t = tf()
  local first = chunks[1]
  if #chunks == 1 then return first end
  if core.is_tensor(first) then return t.concat(chunks, 0) end
  local out = {}
  for k in pairs(first) do
    local parts = {}
    for i, ch in ipairs(chunks) do parts[i] = ch[k] end
    out[k] = t.concat(parts, 0)
  end
  return out
end

function M.predict(self, x, opts)
  opts = require("tlua.errors").check_options(who(self) .. ".predict", opts, PRED_SET)
  local batch_size = opts.batch_size or 32
  positive_int(self, "predict", "batch_size", batch_size)
  local verbose = opts.verbose == nil and 0 or resolve_verbose(opts.verbose)
  local xs = structure(self, x, "x", n_inputs(self), in_keys(self))
  if xs == nil then raise("InvalidArgument", ("%s.predict: x is required"):format(who(self))) end
  local n = cardinality(self, { { name = "x", s = xs } })
  local data = new_data(xs, nil, nil, n)
  local steps = math.ceil(n / batch_size)
  if opts.steps then steps = math.min(steps, opts.steps) end
  local cbs = require("keras.callbacks").CallbackList(opts.callbacks, {})
  cbs:set_model(self)
  cbs:set_params({ verbose = verbose, steps = steps })
  local bar = verbose ~= 0 and require("keras.utils").Progbar(steps, { verbose = verbose }) or nil
  cbs:on_predict_begin(nil)
  local chunks = {}
  local predict_fn = step_function(self, "predict")
  for step = 0, steps - 1 do
    local a = step * batch_size
    local len = math.min(batch_size, n - a)
    cbs:on_predict_batch_begin(step, nil)
    local bx = data:split(data:take(a, len))
    if is_plain(bx) then
      local copy = {}
      for k, v in pairs(bx) do copy[k] = v end
      bx = copy
    end
    local out = predict_fn(self, bx)
    chunks[#chunks + 1] = out
    cbs:on_predict_batch_end(step, { outputs = out })
    if bar then bar:update(step + 1) end
  end
  cbs:on_predict_end(nil)
  if #chunks == 0 then raise("InvalidArgument", ("%s.predict: no samples in x"):format(who(self))) end
  return concat_outputs(chunks)
end

local BATCH_SET = set_of({ "sample_weight", "class_weight", "reset_metrics", "return_dict" })

local function batch_result(self, return_dict)
  local res = results(self)
  if return_dict then return res end
  local names = {}
  for _, m in ipairs(reported(self)) do names[#names + 1] = m.name end
  if #names == 1 then return res[names[1]] end
  local out = {}
  for i, nm in ipairs(names) do out[i] = res[nm] end
  return out
end

function M.train_on_batch(self, x, y, opts)
  opts = require("tlua.errors").check_options(who(self) .. ".train_on_batch", opts, BATCH_SET)
  check_compiled(self, "train_on_batch")
  local c = rawget(self, "_compiled")
  local data = prepare(self, x, y, opts.sample_weight, "train_on_batch")
  if opts.reset_metrics ~= false then reset_metrics(self) end
  local bx, by, bsw = data:split(data.tensors)
  local cw = class_weight_fn(self, opts.class_weight, c)
  if cw then
    local w = cw(by)
    bsw = bsw and bsw * w or w
  end
  step_function(self, "train")(self, bx, by, bsw)
  return batch_result(self, opts.return_dict)
end

function M.test_on_batch(self, x, y, opts)
  opts = require("tlua.errors").check_options(who(self) .. ".test_on_batch", opts, BATCH_SET)
  check_compiled(self, "test_on_batch")
  local data = prepare(self, x, y, opts.sample_weight, "test_on_batch")
  if opts.reset_metrics ~= false then reset_metrics(self) end
  local bx, by, bsw = data:split(data.tensors)
  step_function(self, "test")(self, bx, by, bsw)
  return batch_result(self, opts.return_dict)
end

function M.predict_on_batch(self, x)
  local xs = structure(self, x, "x", n_inputs(self), in_keys(self))
  return self(rebuild(xs, xs.list), INFER)
end

function M.reset_metrics_method(self) reset_metrics(self) end

function M.mixin(Model)
  Model.compile = M.compile
  Model.fit = M.fit
  Model.evaluate = M.evaluate
  Model.predict = M.predict
  Model.train_on_batch = M.train_on_batch
  Model.test_on_batch = M.test_on_batch
  Model.predict_on_batch = M.predict_on_batch
  Model.train_step = M.train_step
  Model.test_step = M.test_step
  Model.predict_step = M.predict_step
  Model.reset_metrics = M.reset_metrics_method
end

return M
