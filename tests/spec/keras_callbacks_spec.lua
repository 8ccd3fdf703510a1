-- keras.callbacks and keras.utils: EarlyStopping (patience, restoring the
-- best weights), ReduceLROnPlateau, LearningRateScheduler, CSVLogger's
-- file, TerminateOnNaN, ModelCheckpoint (save_best_only writes only on
-- improvement; the model's save methods are replaced by recorders so the
-- test does not depend on keras.saving), LambdaCallback and Callback
-- subclasses, History and its plot, Progbar, to_categorical.
-- Monitored values are injected by a LambdaCallback placed before the
-- callback under test (both see the same epoch logs), so each scenario is
-- exact rather than depending on how a loss happens to move.
local tf = require("tlua")
local helpers = require("helpers")
local keras = tf.keras
local L = keras.layers
local C = keras.callbacks

local function data(n)
  tf.random.set_seed(3)
  local x = tf.random.normal({ n, 3 })
  return x, tf.reduce_sum(x, -1, { keepdims = true })
end

local function model_(lr)
  tf.random.set_seed(1)
  local m = keras.Sequential{ L.Dense(4, { activation = "relu", input_shape = { 3 } }), L.Dense(1) }
  m:compile{ optimizer = keras.optimizers.SGD{ learning_rate = lr or 0.05 }, loss = "mse", metrics = { "mae" } }
  return m
end

-- A callback that sets logs[name] = values[epoch + 1] at each epoch end.
local function inject(name, values)
  return C.LambdaCallback{ on_epoch_end = function(epoch, logs) logs[name] = values[epoch + 1] end }
end

local function maxdiff_weights(a, b)
  local worst = 0
  for i = 1, #a do worst = math.max(worst, tf.reduce_max(tf.abs(a[i] - b[i])):item()) end
  return worst
end

describe("keras.callbacks", function()
  before_each(function() keras.backend.clear_session() end)

  it("EarlyStopping stops after `patience` epochs without improvement and restores the best weights", function()
    local x, y = data(32)
    local m = model_()
    local snapshots = {}
    local snap = C.LambdaCallback{ on_epoch_end = function(epoch) snapshots[epoch + 1] = m:get_weights() end }
    local es = C.EarlyStopping{ monitor = "score", patience = 2, restore_best_weights = true, mode = "min" }
    local h = m:fit(x, y, { epochs = 10, batch_size = 8, verbose = 0,
      callbacks = { snap, inject("score", { 1.0, 0.5, 0.7, 0.8, 0.1 }), es } })
    assert.equal(4, #h.epoch)          -- epochs 0..3: two without improvement after epoch 1
    assert.equal(3, es.stopped_epoch)
    assert.equal(1, es.best_epoch)
    assert.equal(0, maxdiff_weights(m:get_weights(), snapshots[2]))
    assert.is_true(maxdiff_weights(m:get_weights(), snapshots[4]) > 0)
  end)

  it("EarlyStopping: 'auto' mode maximizes accuracy names, min_delta and baseline", function()
    local es = C.EarlyStopping{ monitor = "val_accuracy" }
    assert.equal("max", es.mode)
    local m = model_()
    local x, y = data(16)
    local h = m:fit(x, y, { epochs = 6, verbose = 0,
      callbacks = { inject("val_accuracy", { 0.5, 0.505, 0.9, 0.9 }), C.EarlyStopping{ monitor = "val_accuracy", min_delta = 0.01 } } })
    assert.equal(2, #h.epoch)          -- 0.505 is not an improvement of at least 0.01
    -- with a baseline, improvements that stay above it do not reset the wait (Keras)
    local scores = { 0.5, 0.4, 0.45, 0.45, 0.45, 0.45 }
    local es2 = C.EarlyStopping{ monitor = "score", baseline = 0.2, patience = 2 }
    h = model_():fit(x, y, { epochs = 6, verbose = 0, callbacks = { inject("score", scores), es2 } })
    assert.equal(3, #h.epoch)
    h = model_():fit(x, y, { epochs = 6, verbose = 0,
      callbacks = { inject("score", scores), C.EarlyStopping{ monitor = "score", patience = 2 } } })
    assert.equal(4, #h.epoch)
  end)

  it("ReduceLROnPlateau multiplies the learning rate by factor after `patience` flat epochs", function()
    local x, y = data(16)
    local m = model_(0.1)
    local rl = C.ReduceLROnPlateau{ monitor = "score", factor = 0.5, patience = 2, min_lr = 0.02 }
    local h = m:fit(x, y, { epochs = 7, verbose = 0, callbacks = { inject("score", { 1, 1, 1, 1, 1, 1, 1 }), rl } })
    -- learning rate at the end of each epoch (before its own reduction is recorded next epoch)
    local lrs = h.history.learning_rate
    helpers.assert_close(lrs, { 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025 }, 1e-9)
    helpers.assert_close(m.optimizer.learning_rate, 0.02, 1e-9) -- floored at min_lr
    helpers.assert_error("InvalidArgument", { "does not support a factor >= 1.0" },
      function() C.ReduceLROnPlateau{ factor = 1.0 } end)
  end)

  it("LearningRateScheduler sets the rate at each epoch start and training uses it", function()
    local x, y = data(16)
    local m = model_(0.1)
    local seen = {}
    local sched = C.LearningRateScheduler(function(epoch, lr) return epoch == 0 and lr or lr * 0.5 end)
    local probe = C.LambdaCallback{ on_epoch_begin = function() seen[#seen + 1] = m.optimizer:current_learning_rate() end }
    local h = m:fit(x, y, { epochs = 3, verbose = 0, callbacks = { sched, probe } })
    helpers.assert_close(seen, { 0.1, 0.05, 0.025 }, 1e-9)
    helpers.assert_close(h.history.learning_rate, { 0.1, 0.05, 0.025 }, 1e-9)
    helpers.assert_error("InvalidArgument", { "should be a number" }, function()
      model_():fit(x, y, { epochs = 1, verbose = 0, callbacks = { C.LearningRateScheduler(function() return "x" end) } })
    end)
  end)

  it("CSVLogger writes a header and one row per epoch with the logged values", function()
    local path = os.tmpname()
    local x, y = data(16)
    local h = model_():fit(x, y, { epochs = 3, verbose = 0, validation_data = { x, y }, callbacks = { C.CSVLogger(path) } })
    local f = assert(io.open(path))
    local lines = {}
    for l in f:lines() do lines[#lines + 1] = l end
    f:close()
    assert.equal(4, #lines)
    assert.equal("epoch,loss,mae,val_loss,val_mae", lines[1])
    for e = 0, 2 do
      local fields = {}
      for v in lines[e + 2]:gmatch("[^,]+") do fields[#fields + 1] = v end
      assert.equal(tostring(e), fields[1])
      assert.equal(h.history.loss[e + 1], tonumber(fields[2]))   -- shortest repr reads back exactly
      assert.equal(h.history.val_mae[e + 1], tonumber(fields[5]))
    end
    -- append=true keeps the rows and writes no second header
    model_():fit(x, y, { epochs = 1, verbose = 0, validation_data = { x, y }, callbacks = { C.CSVLogger(path, { append = true }) } })
    f = assert(io.open(path))
    local n = 0
    for _ in f:lines() do n = n + 1 end
    f:close()
    os.remove(path)
    assert.equal(5, n)
  end)

  it("TerminateOnNaN stops at the first batch whose loss is NaN", function()
    local x, y = data(32)
    local bad = tf.concat({ tf.slice(y, { 0, 0 }, { 8, -1 }), tf.fill({ 24, 1 }, 0 / 0) }, 0)
    local batches = 0
    local count = C.LambdaCallback{ on_batch_end = function() batches = batches + 1 end }
    local m = model_()
    local out = {}
    local old = keras.utils._write
    keras.utils._write = function(s) out[#out + 1] = s end
    local ok, h = pcall(m.fit, m, x, bad, { epochs = 3, batch_size = 8, shuffle = false, verbose = 0,
      callbacks = { count, C.TerminateOnNaN() } })
    keras.utils._write = old
    assert.is_true(ok, tostring(h))
    assert.equal(2, batches)
    assert.equal(1, #h.epoch)
    assert.truthy(table.concat(out):find("Batch 1: Invalid loss, terminating training", 1, true))
  end)

  it("ModelCheckpoint with save_best_only saves only on improvement, formatting the path", function()
    local x, y = data(16)
    local m = model_()
    local saved = {}
    rawset(m, "save_weights", function(_, path) saved[#saved + 1] = "w:" .. path end)
    rawset(m, "save", function(_, path) saved[#saved + 1] = "m:" .. path end)
    local ck = C.ModelCheckpoint("ckpt_{epoch:02d}_{score:.2f}.weights", { monitor = "score", save_best_only = true,
      save_weights_only = true, mode = "min" })
    m:fit(x, y, { epochs = 4, verbose = 0, callbacks = { inject("score", { 1.0, 0.5, 0.7, 0.4 }), ck } })
    assert.same({ "w:ckpt_01_1.00.weights", "w:ckpt_02_0.50.weights", "w:ckpt_04_0.40.weights" }, saved)
    saved = {}
    m:fit(x, y, { epochs = 2, verbose = 0, callbacks = { C.ModelCheckpoint("model_{epoch}.keras") } })
    assert.same({ "m:model_1.keras", "m:model_2.keras" }, saved)
    helpers.assert_error("InvalidArgument", { "no value for 'nope'" }, function()
      m:fit(x, y, { epochs = 1, verbose = 0, callbacks = { C.ModelCheckpoint("x_{nope}.keras") } })
    end)
  end)

  it("calls every hook of a Callback subclass, batch hooks through on_batch_* aliases", function()
    local Rec = C.Callback:extend("Recorder")
    function Rec:init() Rec.super.init(self) self.calls = {} end
    local function rec(name) return function(self, a) self.calls[#self.calls + 1] = name .. (type(a) == "number" and a or "") end end
    Rec.on_train_begin = rec("train_begin")
    Rec.on_epoch_begin = rec("epoch_begin")
    Rec.on_batch_end = rec("batch_end")
    Rec.on_epoch_end = rec("epoch_end")
    Rec.on_train_end = rec("train_end")
    local r = Rec()
    local x, y = data(16)
    model_():fit(x, y, { epochs = 2, batch_size = 8, verbose = 0, callbacks = { r } })
    assert.same({ "train_begin", "epoch_begin0", "batch_end0", "batch_end1", "epoch_end0",
                  "epoch_begin1", "batch_end0", "batch_end1", "epoch_end1", "train_end" }, r.calls)
    assert.equal(2, r.params.epochs)
    assert.equal(2, r.params.steps)
  end)

  it("batch logs are lazy numbers that match the epoch's final values", function()
    local x, y = data(16)
    local last
    local cb = C.LambdaCallback{ on_train_batch_end = function(_, logs) last = { loss = logs.loss, mae = logs.mae } end }
    local h = model_():fit(x, y, { epochs = 1, batch_size = 8, verbose = 0, callbacks = { cb } })
    assert.equal(h.history.loss[1], last.loss)
    assert.equal(h.history.mae[1], last.mae)
    local keys = {}
    local cb2 = C.LambdaCallback{ on_train_batch_end = function(_, logs) keys = {} for k, v in pairs(logs) do keys[#keys + 1] = k .. "=" .. type(v) end end }
    model_():fit(x, y, { epochs = 1, verbose = 0, callbacks = { cb2 } })
    assert.same({ "loss=number", "mae=number" }, keys)
  end)

  it("rejects things that are not callbacks", function()
    local x, y = data(4)
    helpers.assert_error("InvalidArgument", { "expected keras.callbacks.Callback objects" },
      function() model_():fit(x, y, { verbose = 0, callbacks = { 42 } }) end)
  end)
end)

describe("keras.utils", function()
  local function capture(fn)
    local out = {}
    local old = keras.utils._write
    keras.utils._write = function(s) out[#out + 1] = s end
    local ok, err = pcall(fn)
    keras.utils._write = old
    assert(ok, tostring(err))
    return table.concat(out)
  end

  it("Progbar draws Keras's bar, averages plain values and shows stateful ones as given", function()
    local text = capture(function()
      local bar = keras.utils.Progbar(10, { interval = 0, stateful_metrics = { "acc" } })
      bar._dynamic = true
      bar:update(1, { { "loss", 1.0 }, { "acc", 0.5 } })
      bar:update(10, { { "loss", 0.5 }, { "acc", 0.75 } })
    end)
    assert.truthy(text:find("\r 1/10 [==>" .. ("."):rep(27) .. "] - ETA: ", 1, true), text)
    -- loss averaged over the 10 steps: (1*1 + 0.5*9)/10
    assert.truthy(text:find("\r10/10 %[==============================%] %- 0s %d+[mu]?s/step %- loss: 0%.5500 %- acc: 0%.7500\n$"), text)
  end)

  it("Progbar verbose=2 writes only the final line; tensors are read as numbers", function()
    local text = capture(function()
      local bar = keras.utils.Progbar(4, { verbose = 2 })
      for i = 1, 4 do bar:update(i, { { "loss", tf.constant(0.25) } }) end
    end)
    assert.truthy(text:match("^4/4 %- 0s %- loss: 0%.2500 %- %d+[mu]?s/epoch %- %d+[mu]?s/step\n$"), text)
  end)

  it("history:plot draws losses and metrics as text charts", function()
    local h = C.History()
    h:on_train_begin()
    for e, v in ipairs({ 1.0, 0.6, 0.4, 0.3 }) do h:on_epoch_end(e - 1, { loss = v, val_loss = v + 0.1, accuracy = 1 - v }) end
    assert.same({ 0, 1, 2, 3 }, h.epoch)
    local text = h:plot{ print_fn = false, width = 20, height = 6 }
    assert.truthy(text:find("* loss   o val_loss", 1, true), text)
    assert.truthy(text:find("* accuracy", 1, true), text)
    assert.truthy(text:find("1.1 |", 1, true), text)   -- top of the loss axis: max(val_loss)
    assert.truthy(text:find("0.3 |", 1, true), text)
    local rows = 0
    for _ in text:gmatch("|") do rows = rows + 1 end
    assert.equal(12, rows)
  end)

  it("to_categorical one-hot encodes 0-based labels", function()
    local oh = keras.utils.to_categorical({ 0, 2, 1 }, 3)
    assert.same({ { 1, 0, 0 }, { 0, 0, 1 }, { 0, 1, 0 } }, oh:totable())
    assert.equal("float32", oh.dtype.name)
    assert.same({ 2, 2 }, keras.utils.to_categorical(tf.constant({ { 1 }, { 0 } })).shape:as_list())
    helpers.assert_error("InvalidArgument", { "labels must be in [0, 2)" }, function() keras.utils.to_categorical({ 3 }, 2) end)
  end)

  it("set_random_seed makes tf.random repeatable", function()
    keras.utils.set_random_seed(7)
    local a = tf.random.normal({ 3 })
    keras.utils.set_random_seed(7)
    assert.same(a:totable(), tf.random.normal({ 3 }):totable())
  end)
end)
