-- keras.callbacks: the Callback base, CallbackList (what fit/evaluate/predict
-- call), History, ProgbarLogger, EarlyStopping, ModelCheckpoint,
-- LearningRateScheduler, ReduceLROnPlateau, CSVLogger, TerminateOnNaN,
-- LambdaCallback — with tf.keras 2's options and semantics.
--
--   local Cb = keras.callbacks.Callback:extend("MyCallback")
--   function Cb:on_epoch_end(epoch, logs) print(epoch, logs.loss) end
--   model:fit(x, y, {callbacks = {Cb(), keras.callbacks.EarlyStopping{patience = 2}}})
--
-- Epochs and batches are 0-based (as Keras passes them); `logs` at the end
-- of a batch is a lazy table: a value (a Lua number) is computed from its
-- metric only when read, so callbacks that ignore batch logs cost nothing.
-- CallbackList calls the batch hooks only of callbacks that override them.
-- Not done: BackupAndRestore, TensorBoard, RemoteMonitor; save_freq as a
-- number of batches in ModelCheckpoint (only "epoch").
local class = require("tlua.class")
local core = require("tlua.core")

local M = {}
local raise = core.raise

local function check(who, opts, known)
  local set = {}
  for _, k in ipairs(known) do set[k] = true end
  return require("tlua.errors").check_options(who, opts, set)
end

-- ---- Callback ----------------------------------------------------------------------

local Callback = class("Callback")
M.Callback = Callback

function Callback:init() self.model = nil self.params = {} end
function Callback:set_model(model) self.model = model end
function Callback:set_params(params) self.params = params end
function Callback:on_train_begin(logs) end
function Callback:on_train_end(logs) end
function Callback:on_epoch_begin(epoch, logs) end
function Callback:on_epoch_end(epoch, logs) end
function Callback:on_test_begin(logs) end
function Callback:on_test_end(logs) end
function Callback:on_predict_begin(logs) end
function Callback:on_predict_end(logs) end
function Callback:on_batch_begin(batch, logs) end
function Callback:on_batch_end(batch, logs) end
function Callback:on_train_batch_begin(batch, logs) self:on_batch_begin(batch, logs) end
function Callback:on_train_batch_end(batch, logs) self:on_batch_end(batch, logs) end
function Callback:on_test_batch_begin(batch, logs) end
function Callback:on_test_batch_end(batch, logs) end
function Callback:on_predict_batch_begin(batch, logs) end
function Callback:on_predict_batch_end(batch, logs) end

-- ---- CallbackList --------------------------------------------------------------------

local CallbackList = class("CallbackList")
M.CallbackList = CallbackList

local batch_hooks = {
  on_train_batch_begin = "on_batch_begin", on_train_batch_end = "on_batch_end",
  on_test_batch_begin = false, on_test_batch_end = false,
  on_predict_batch_begin = false, on_predict_batch_end = false,
}

-- CallbackList(callbacks, {add_history=, add_progbar=, verbose=, model=, params=})
function CallbackList:init(callbacks, opts)
  opts = opts or {}
  local list = {}
  for _, cb in ipairs(callbacks or {}) do
    if not (type(cb) == "table" and type(cb.on_epoch_end) == "function") then
      raise("InvalidArgument", ("callbacks: expected keras.callbacks.Callback objects, got %s"):format(tostring(cb)))
    end
    list[#list + 1] = cb
  end
  self.history, self.progbar = nil, nil
  for _, cb in ipairs(list) do
    if class.is_instance(cb, M.History) then self.history = cb end
    if class.is_instance(cb, M.ProgbarLogger) then self.progbar = cb end
  end
  if opts.add_history and not self.history then
    self.history = M.History()
    list[#list + 1] = self.history
  end
  if opts.add_progbar and not self.progbar then
    self.progbar = M.ProgbarLogger()
    list[#list + 1] = self.progbar
  end
  self.callbacks = list
  if opts.model then self:set_model(opts.model) end
  if opts.params then self:set_params(opts.params) end
end

function CallbackList:append(cb) table.insert(self.callbacks, cb) self._hooked = nil end

function CallbackList:set_model(model)
  self.model = model
  for _, cb in ipairs(self.callbacks) do cb:set_model(model) end
end

function CallbackList:set_params(params)
  self.params = params
  for _, cb in ipairs(self.callbacks) do cb:set_params(params) end
  self._hooked = nil
end

-- Which callbacks override each batch hook (computed once per set_params).
function CallbackList:_hooks(name)
  local hooked = self._hooked
  if not hooked then
    hooked = {}
    for hook, alias in pairs(batch_hooks) do
      local l = {}
      for _, cb in ipairs(self.callbacks) do
        if cb[hook] ~= Callback[hook] or (alias and cb[alias] ~= Callback[alias]) then l[#l + 1] = cb end
      end
      hooked[hook] = l
    end
    self._hooked = hooked
  end
  return hooked[name]
end

local function each(self, name, a, b)
  for _, cb in ipairs(self.callbacks) do cb[name](cb, a, b) end
end

function CallbackList:on_train_begin(logs) each(self, "on_train_begin", logs) end
function CallbackList:on_train_end(logs) each(self, "on_train_end", logs) end
function CallbackList:on_epoch_begin(epoch, logs) each(self, "on_epoch_begin", epoch, logs) end
function CallbackList:on_epoch_end(epoch, logs) each(self, "on_epoch_end", epoch, logs) end
function CallbackList:on_test_begin(logs) each(self, "on_test_begin", logs) end
function CallbackList:on_test_end(logs) each(self, "on_test_end", logs) end
function CallbackList:on_predict_begin(logs) each(self, "on_predict_begin", logs) end
function CallbackList:on_predict_end(logs) each(self, "on_predict_end", logs) end

for hook in pairs(batch_hooks) do
  CallbackList[hook] = function(self, batch, logs)
    local l = self:_hooks(hook)
    for i = 1, #l do
      local cb = l[i]
      cb[hook](cb, batch, logs)
    end
  end
end
CallbackList.on_batch_begin = CallbackList.on_train_batch_begin
CallbackList.on_batch_end = CallbackList.on_train_batch_end

-- ---- History --------------------------------------------------------------------------

local History = Callback:extend("History")
M.History = History

function History:init()
  History.super.init(self)
  self.history = {}
  self.epoch = {}
end
function History:on_train_begin() self.epoch = {} end
function History:on_epoch_end(epoch, logs)
  self.epoch[#self.epoch + 1] = epoch
  for k, v in pairs(logs or {}) do
    local list = self.history[k]
    if not list then
      list = {}
      -- a key that appears late (e.g. val_loss with validation_freq) is
      -- padded with nothing: its list holds only the epochs that had it
      self.history[k] = list
    end
    list[#list + 1] = v
  end
  if self.model then rawset(self.model, "history", self) end
end

-- history:plot{keys=, width=, height=, print_fn=} draws the curves as a
-- text chart (losses in one chart, other metrics in another); returns the text.
function History:plot(opts) return require("keras.utils").plot_history(self, opts) end

-- ---- ProgbarLogger --------------------------------------------------------------------

local ProgbarLogger = Callback:extend("ProgbarLogger")
M.ProgbarLogger = ProgbarLogger

function ProgbarLogger:init(opts)
  ProgbarLogger.super.init(self)
  opts = check("ProgbarLogger", opts, { "count_mode", "stateful_metrics" })
  self.count_mode = opts.count_mode or "steps"
end

function ProgbarLogger:set_params(params)
  self.params = params
  self.verbose = params.verbose or 1
  self.epochs = params.epochs or 1
  self.target = params.steps
  if self.verbose ~= 1 then
    -- one line per epoch: no per-batch work at all
    rawset(self, "on_train_batch_end", Callback.on_train_batch_end)
    rawset(self, "on_test_batch_end", Callback.on_test_batch_end)
  else
    rawset(self, "on_train_batch_end", nil)
    rawset(self, "on_test_batch_end", nil)
  end
end

-- The order of the values shown: the model's metrics, validation ones, then the rest.
local function ordered_keys(self, logs)
  local names = self.model and self.model.metrics_names or {}
  local out, seen = {}, {}
  for _, n in ipairs(names) do
    if logs[n] ~= nil and not seen[n] then out[#out + 1] = n seen[n] = true end
  end
  for _, n in ipairs(names) do
    local v = "val_" .. n
    if logs[v] ~= nil and not seen[v] then out[#out + 1] = v seen[v] = true end
  end
  local rest = {}
  for k in pairs(logs) do
    if not seen[k] and type(k) == "string" then rest[#rest + 1] = k end
  end
  table.sort(rest)
  for _, k in ipairs(rest) do out[#out + 1] = k end
  return out
end
M._ordered_keys = ordered_keys

function ProgbarLogger:_values(logs)
  local keys = self._keys
  if not keys or #keys == 0 then
    keys = ordered_keys(self, logs)
    self._keys = keys
  end
  local vals = self._vals or {}
  self._vals = vals
  local n = 0
  for _, k in ipairs(keys) do
    local v = logs[k]
    if v ~= nil then
      n = n + 1
      local pair = vals[n] or {}
      pair[1], pair[2] = k, v
      vals[n] = pair
    end
  end
  for i = n + 1, #vals do vals[i] = nil end
  return vals
end

function ProgbarLogger:on_train_begin() self._seen = 0 end

function ProgbarLogger:on_epoch_begin(epoch)
  local utils = require("keras.utils")
  if self.verbose ~= 0 and self.epochs > 1 then
    utils._write(("Epoch %d/%d\n"):format(epoch + 1, self.epochs))
  end
  self._keys = nil
  self.progbar = utils.Progbar(self.target, { verbose = self.verbose, stateful_metrics = true, unit_name = "step" })
  self._seen = 0
end

function ProgbarLogger:on_train_batch_end(batch, logs)
  self._seen = batch + 1
  local pb = self.progbar
  if pb:_due() then pb:update(batch + 1, self:_values(logs)) end
end

function ProgbarLogger:on_epoch_end(epoch, logs)
  self._keys = nil
  local pb = self.progbar
  pb:update(self.target or self._seen, self:_values(logs or {}), true)
end

function ProgbarLogger:on_test_begin()
  if not self.params.epochs or self._in_eval then
    self.progbar = require("keras.utils").Progbar(self.target, { verbose = self.verbose, stateful_metrics = true })
  end
end
function ProgbarLogger:on_test_batch_end(batch, logs)
  if self._in_eval and self.progbar:_due() then self.progbar:update(batch + 1, self:_values(logs)) end
end
function ProgbarLogger:on_test_end(logs)
  if self._in_eval then self.progbar:update(self.target, self:_values(logs or {}), true) end
end

-- ---- monitor helpers ------------------------------------------------------------------

local function auto_max(monitor)
  return monitor:match("acc$") ~= nil or monitor:match("accuracy$") ~= nil or monitor:match("auc$") ~= nil
end

local function monitor_mode(who, mode, monitor)
  if mode ~= "auto" and mode ~= "min" and mode ~= "max" then
    io.stderr:write(("WARNING: %s mode %s is unknown, fallback to auto mode.\n"):format(who, tostring(mode)))
    mode = "auto"
  end
  if mode == "auto" then mode = auto_max(monitor) and "max" or "min" end
  return mode
end

local function warn_missing(who, monitor, logs)
  local keys = {}
  for k in pairs(logs or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  io.stderr:write(("WARNING: %s conditioned on metric `%s` which is not available. Available metrics are: %s\n")
    :format(who, monitor, table.concat(keys, ",")))
end

local function say(fmt, ...) require("keras.utils")._write(fmt:format(...)) end

-- The optimizer's learning rate as a Lua number, and setting it.
local function get_lr(model, who)
  local opt = model and model.optimizer
  if not opt then raise("FailedPrecondition", who .. ": the model has no optimizer (call compile first)") end
  if opt.current_learning_rate then return opt:current_learning_rate() end
  local lr = opt.learning_rate
  if type(lr) == "number" then return lr end
  return lr:item()
end
local function set_lr(model, who, value)
  local opt = model.optimizer
  local lr = opt.learning_rate
  if type(lr) ~= "number" and not (core.is_tensor(lr)) then
    raise("InvalidArgument", ("%s: This optimizer was created with a `LearningRateSchedule` object (or a function) as its "
      .. "`learning_rate` constructor argument, hence its learning rate is not settable."):format(who))
  end
  if core.is_variable(lr) then lr:assign(value) else opt.learning_rate = value end
end
M._get_lr, M._set_lr = get_lr, set_lr

-- ---- EarlyStopping ----------------------------------------------------------------

local EarlyStopping = Callback:extend("EarlyStopping")
M.EarlyStopping = EarlyStopping

function EarlyStopping:init(opts)
  EarlyStopping.super.init(self)
  opts = check("EarlyStopping", opts, { "monitor", "min_delta", "patience", "verbose", "mode", "baseline",
    "restore_best_weights", "start_from_epoch" })
  self.monitor = opts.monitor or "val_loss"
  self.patience = opts.patience or 0
  if math.type(self.patience) ~= "integer" or self.patience < 0 then
    raise("InvalidArgument", ("EarlyStopping: patience must be a non-negative integer, got %s"):format(tostring(self.patience)))
  end
  self.verbose = opts.verbose or 0
  self.baseline = opts.baseline
  self.min_delta = math.abs(opts.min_delta or 0)
  self.restore_best_weights = opts.restore_best_weights or false
  self.start_from_epoch = opts.start_from_epoch or 0
  self.mode = monitor_mode("EarlyStopping", opts.mode or "auto", self.monitor)
  if self.mode == "min" then self.min_delta = -self.min_delta end
  self.wait, self.stopped_epoch, self.best_weights, self.best_epoch = 0, 0, nil, 0
end

function EarlyStopping:_is_improvement(value, ref)
  if self.mode == "max" then return value - self.min_delta > ref end
  return value - self.min_delta < ref
end

function EarlyStopping:on_train_begin()
  self.wait, self.stopped_epoch, self.best_weights, self.best_epoch = 0, 0, nil, 0
  self.best = self.mode == "max" and -math.huge or math.huge
end

function EarlyStopping:on_epoch_end(epoch, logs)
  local current = logs and logs[self.monitor]
  if current == nil then warn_missing("Early stopping", self.monitor, logs) return end
  if epoch < self.start_from_epoch then return end
  if self.restore_best_weights and self.best_weights == nil then self.best_weights = self.model:get_weights() end
  self.wait = self.wait + 1
  if self:_is_improvement(current, self.best) then
    self.best, self.best_epoch = current, epoch
    if self.restore_best_weights then self.best_weights = self.model:get_weights() end
    if self.baseline == nil or self:_is_improvement(current, self.baseline) then self.wait = 0 end
    return
  end
  if self.wait >= self.patience and epoch > 0 then
    self.stopped_epoch = epoch
    self.model.stop_training = true
    if self.restore_best_weights and self.best_weights ~= nil then
      if self.verbose > 0 then say("Restoring model weights from the end of the best epoch: %d.\n", self.best_epoch + 1) end
      self.model:set_weights(self.best_weights)
    end
  end
end

function EarlyStopping:on_train_end()
  if self.stopped_epoch > 0 and self.verbose > 0 then say("Epoch %d: early stopping\n", self.stopped_epoch + 1) end
end

-- ---- ModelCheckpoint ------------------------------------------------------------------

local ModelCheckpoint = Callback:extend("ModelCheckpoint")
M.ModelCheckpoint = ModelCheckpoint

function ModelCheckpoint:init(filepath, opts)
  ModelCheckpoint.super.init(self)
  if type(filepath) == "table" then opts, filepath = filepath, filepath.filepath end
  opts = opts or {}
  local o = {}
  for k, v in pairs(opts) do if k ~= "filepath" then o[k] = v end end
  check("ModelCheckpoint", o, { "monitor", "verbose", "save_best_only", "save_weights_only", "mode", "save_freq",
    "initial_value_threshold", "options" })
  if type(filepath) ~= "string" then raise("InvalidArgument", "ModelCheckpoint: filepath must be a string") end
  self.filepath = filepath
  self.monitor = o.monitor or "val_loss"
  self.verbose = o.verbose or 0
  self.save_best_only = o.save_best_only or false
  self.save_weights_only = o.save_weights_only or false
  self.save_freq = o.save_freq or "epoch"
  if self.save_freq ~= "epoch" then
    raise("Unimplemented", ("ModelCheckpoint: save_freq=%s is not supported (only \"epoch\")"):format(tostring(self.save_freq)))
  end
  self.mode = monitor_mode("ModelCheckpoint", o.mode or "auto", self.monitor)
  self.best = o.initial_value_threshold or (self.mode == "max" and -math.huge or math.huge)
end

-- Python str.format-style placeholders: {epoch:02d}, {val_loss:.2f}, {loss}.
local function format_path(path, epoch, logs)
  return (path:gsub("{([%w_]+):?([^}]*)}", function(key, spec)
    local v
    if key == "epoch" then v = epoch + 1 else v = logs and logs[key] end
    if v == nil then
      raise("InvalidArgument", ("ModelCheckpoint: failed to format filepath \"%s\": no value for '%s' in logs"):format(path, key))
    end
    if spec == "" then
      if math.type(v) == "integer" then return tostring(v) end
      return require("keras.utils")._repr(v)
    end
    return ("%" .. spec):format(spec:match("d$") and math.tointeger(v) or v)
  end))
end
M._format_path = format_path

function ModelCheckpoint:_save(path)
  if self.save_weights_only then self.model:save_weights(path, { overwrite = true })
  else self.model:save(path, { overwrite = true }) end
end

function ModelCheckpoint:on_epoch_end(epoch, logs)
  local path = format_path(self.filepath, epoch, logs)
  if not self.save_best_only then
    if self.verbose > 0 then say("\nEpoch %d: saving model to %s\n", epoch + 1, path) end
    self:_save(path)
    return
  end
  local current = logs and logs[self.monitor]
  if current == nil then
    io.stderr:write(("WARNING: Can save best model only with %s available, skipping.\n"):format(self.monitor))
    return
  end
  local better = (self.mode == "max" and current > self.best) or (self.mode == "min" and current < self.best)
  if better then
    if self.verbose > 0 then
      say("\nEpoch %d: %s improved from %s to %.5f, saving model to %s\n", epoch + 1, self.monitor,
        (self.best == math.huge and "inf") or (self.best == -math.huge and "-inf") or ("%.5f"):format(self.best), current, path)
    end
    self.best = current
    self:_save(path)
  elseif self.verbose > 0 then
    say("\nEpoch %d: %s did not improve from %.5f\n", epoch + 1, self.monitor, self.best)
  end
end

-- ---- LearningRateScheduler ------------------------------------------------------------

local LearningRateScheduler = Callback:extend("LearningRateScheduler")
M.LearningRateScheduler = LearningRateScheduler

-- LearningRateScheduler(schedule, {verbose=}) with schedule(epoch, lr) -> new lr (epoch 0-based).
function LearningRateScheduler:init(schedule, opts)
  LearningRateScheduler.super.init(self)
  if type(schedule) == "table" and getmetatable(schedule) == nil then opts, schedule = schedule, schedule.schedule end
  if type(schedule) ~= "function" and not (type(schedule) == "table" and getmetatable(schedule) and getmetatable(schedule).__call) then
    raise("InvalidArgument", "LearningRateScheduler: schedule must be a function(epoch, lr) -> lr")
  end
  self.schedule = schedule
  self.verbose = (opts and opts.verbose) or 0
end

function LearningRateScheduler:on_epoch_begin(epoch)
  local lr = get_lr(self.model, "LearningRateScheduler")
  local new = self.schedule(epoch, lr)
  if core.is_tensor(new) then new = new:item() end
  if type(new) ~= "number" then
    raise("InvalidArgument", ("LearningRateScheduler: the output of the \"schedule\" function should be a number, got %s"):format(type(new)))
  end
  set_lr(self.model, "LearningRateScheduler", new)
  if self.verbose > 0 then
    say("\nEpoch %d: LearningRateScheduler setting learning rate to %s.\n", epoch + 1, require("keras.utils")._repr(new))
  end
end

function LearningRateScheduler:on_epoch_end(_, logs)
  if logs then logs.learning_rate = get_lr(self.model, "LearningRateScheduler") end
end

-- ---- ReduceLROnPlateau -----------------------------------------------------------------

local ReduceLROnPlateau = Callback:extend("ReduceLROnPlateau")
M.ReduceLROnPlateau = ReduceLROnPlateau

function ReduceLROnPlateau:init(opts)
  ReduceLROnPlateau.super.init(self)
  opts = check("ReduceLROnPlateau", opts, { "monitor", "factor", "patience", "verbose", "mode", "min_delta",
    "cooldown", "min_lr" })
  self.monitor = opts.monitor or "val_loss"
  self.factor = opts.factor or 0.1
  if self.factor >= 1.0 then
    raise("InvalidArgument", ("ReduceLROnPlateau does not support a factor >= 1.0. Got %s"):format(tostring(self.factor)))
  end
  self.patience = opts.patience or 10
  self.verbose = opts.verbose or 0
  self.min_delta = opts.min_delta or 1e-4
  self.cooldown = opts.cooldown or 0
  self.min_lr = opts.min_lr or 0
  self.mode = opts.mode or "auto"
  if self.mode ~= "auto" and self.mode ~= "min" and self.mode ~= "max" then
    io.stderr:write(("WARNING: Learning rate reduction mode %s is unknown, fallback to auto mode.\n"):format(tostring(self.mode)))
    self.mode = "auto"
  end
  self:_reset()
end

function ReduceLROnPlateau:_reset()
  -- Keras: "auto" is max only when the monitor name contains "acc"
  self._max = self.mode == "max" or (self.mode == "auto" and self.monitor:find("acc", 1, true) ~= nil)
  self.best = self._max and -math.huge or math.huge
  self.cooldown_counter, self.wait = 0, 0
end

function ReduceLROnPlateau:on_train_begin() self:_reset() end

function ReduceLROnPlateau:on_epoch_end(epoch, logs)
  logs = logs or {}
  logs.learning_rate = get_lr(self.model, "ReduceLROnPlateau")
  local current = logs[self.monitor]
  if current == nil then warn_missing("Learning rate reduction", self.monitor, logs) return end
  if self.cooldown_counter > 0 then
    self.cooldown_counter = self.cooldown_counter - 1
    self.wait = 0
  end
  local better
  if self._max then better = current > self.best + self.min_delta else better = current < self.best - self.min_delta end
  if better then
    self.best, self.wait = current, 0
  elseif self.cooldown_counter <= 0 then
    self.wait = self.wait + 1
    if self.wait >= self.patience then
      local old = get_lr(self.model, "ReduceLROnPlateau")
      if old > self.min_lr then
        local new = math.max(old * self.factor, self.min_lr)
        set_lr(self.model, "ReduceLROnPlateau", new)
        if self.verbose > 0 then
          say("\nEpoch %d: ReduceLROnPlateau reducing learning rate to %s.\n", epoch + 1, require("keras.utils")._repr(new))
        end
        self.cooldown_counter, self.wait = self.cooldown, 0
      end
    end
  end
end

-- ---- CSVLogger ---------------------------------------------------------------------------

local CSVLogger = Callback:extend("CSVLogger")
M.CSVLogger = CSVLogger

function CSVLogger:init(filename, opts)
  CSVLogger.super.init(self)
  if type(filename) == "table" then opts, filename = filename, filename.filename end
  if type(filename) ~= "string" then raise("InvalidArgument", "CSVLogger: filename must be a string") end
  check("CSVLogger", opts, { "filename", "separator", "append" })
  self.filename = filename
  self.separator = (opts and opts.separator) or ","
  self.append = (opts and opts.append) or false
end

function CSVLogger:on_train_begin()
  local write_header = true
  if self.append then
    local f = io.open(self.filename, "r")
    if f then
      write_header = f:read(1) == nil
      f:close()
    end
  end
  local f, err = io.open(self.filename, self.append and "a" or "w")
  if not f then raise("NotFound", ("CSVLogger: cannot open '%s': %s"):format(self.filename, tostring(err))) end
  self.file, self.keys, self._write_header = f, nil, write_header
end

local function csv_field(v, sep)
  if type(v) == "number" then return math.type(v) == "integer" and tostring(v) or require("keras.utils")._repr(v) end
  local s = tostring(v)
  if s:find(sep, 1, true) or s:find('"', 1, true) or s:find("\n", 1, true) then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

function CSVLogger:on_epoch_end(epoch, logs)
  logs = logs or {}
  if not self.keys then
    local keys = {}
    for k in pairs(logs) do keys[#keys + 1] = k end
    table.sort(keys)
    self.keys = keys
    if self._write_header then
      local h = { "epoch" }
      for _, k in ipairs(keys) do h[#h + 1] = k end
      self.file:write(table.concat(h, self.separator), "\n")
    end
  end
  local row = { tostring(epoch) }
  for _, k in ipairs(self.keys) do
    local v = logs[k]
    row[#row + 1] = v == nil and "NA" or csv_field(v, self.separator)
  end
  self.file:write(table.concat(row, self.separator), "\n")
  self.file:flush()
end

function CSVLogger:on_train_end()
  if self.file then self.file:close() self.file = nil end
end

-- ---- TerminateOnNaN -----------------------------------------------------------------------

local TerminateOnNaN = Callback:extend("TerminateOnNaN")
M.TerminateOnNaN = TerminateOnNaN

function TerminateOnNaN:on_batch_end(batch, logs)
  local loss = logs and logs.loss
  if loss ~= nil and (loss ~= loss or loss == math.huge or loss == -math.huge) then
    say("Batch %d: Invalid loss, terminating training\n", batch)
    self.model.stop_training = true
  end
end

-- ---- LambdaCallback ---------------------------------------------------------------------

local LambdaCallback = Callback:extend("LambdaCallback")
M.LambdaCallback = LambdaCallback

local lambda_hooks = { "on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end", "on_train_begin",
  "on_train_end", "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
  "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
  "on_predict_batch_begin", "on_predict_batch_end" }

-- LambdaCallback{on_epoch_end = function(epoch, logs) ... end, ...}: the
-- functions get the hook's arguments (no self), as Keras's lambdas.
function LambdaCallback:init(opts)
  LambdaCallback.super.init(self)
  opts = check("LambdaCallback", opts, lambda_hooks)
  for _, h in ipairs(lambda_hooks) do
    local f = opts[h]
    if f ~= nil then
      if type(f) ~= "function" then raise("InvalidArgument", ("LambdaCallback: %s must be a function"):format(h)) end
      rawset(self, h, function(_, a, b) return f(a, b) end)
    end
  end
end

return M
