-- Keras inside traced functions: a full training step (forward, loss with
-- a regularizer, Dropout, gradients, Nadam, metrics) traced equals eager;
-- metrics and optimizers built on the first trace; learning rates that
-- change between calls; Sequential, functional and subclassed models
-- called in a trace; fit traced by default, and run_eagerly /
-- run_functions_eagerly / dynamic=true keeping it eager.
local tf = require("tlua")
local keras = tf.keras
local L = keras.layers

local function max_diff(a, b)
  return tf.reduce_max(tf.abs(tf.cast(a, tf.float64) - tf.cast(b, tf.float64))):item()
end

local function weights_diff(m1, m2)
  local d = 0
  for i, w in ipairs(m1.weights) do d = math.max(d, max_diff(w:value(), m2.weights[i]:value())) end
  return d
end

local function expect_error(kind, pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  assert.is_true(tf.errors.is(err, kind), "expected " .. kind .. ", got " .. tostring(err))
  if pattern then
    assert.is_truthy(tostring(err):find(pattern, 1, true), ("message %q lacks %q"):format(tostring(err), pattern))
  end
end

local function data(n, seed)
  tf.random.set_seed(seed)
  local x = tf.random.uniform({ n, 20 })
  local y = tf.cast(tf.random.uniform({ n }, 0, 5), tf.int32)
  return x, y
end

-- The seed's custom training step on a small classifier with an L2
-- regularizer and Dropout.
local function make_step()
  tf.random.set_seed(1)
  local model = keras.Sequential{
    L.Dense(16, { activation = "relu", input_shape = { 20 }, kernel_regularizer = keras.regularizers.l2(0.01) }),
    L.Dropout(0.3),
    L.Dense(5, { activation = "softmax" }),
  }
  local opt = keras.optimizers.Nadam{ learning_rate = 0.01 }
  local loss_fn = keras.losses.SparseCategoricalCrossentropy()
  local mean_loss = keras.metrics.Mean{ name = "mean_loss" }
  local acc = keras.metrics.SparseCategoricalAccuracy{ name = "accuracy" }
  local function step(x, y)
    local tape = tf.GradientTape()
    local p = model(x, { training = true })
    local loss = tf.add_n({ loss_fn(y, p), table.unpack(model.losses) })
    local grads = tape:gradient(loss, model.trainable_variables)
    opt:apply_gradients(grads, model.trainable_variables)
    mean_loss(loss)
    acc(y, p)
    return loss
  end
  return { model = model, step = step, opt = opt, mean_loss = mean_loss, acc = acc }
end

local function make_classifier(opts)
  tf.random.set_seed(2)
  local m = keras.Sequential{
    L.Dense(16, { activation = "relu", input_shape = { 20 }, kernel_regularizer = keras.regularizers.l2(0.01) }),
    L.Dense(5, { activation = "softmax" }),
  }
  local c = { optimizer = keras.optimizers.Nadam{ learning_rate = 0.01 }, loss = "sparse_categorical_crossentropy",
              metrics = { "accuracy" } }
  for k, v in pairs(opts or {}) do c[k] = v end
  m:compile(c)
  return m
end

describe("Keras in traced functions", function()
  before_each(function() tf.config.set_trace_logging(false) end)
  after_each(function()
    tf.config.set_trace_logging(true)
    tf.config.run_functions_eagerly(false)
  end)

  it("a full training step (Nadam, metrics, regularizer, Dropout) traced equals eager after 10 steps", function()
    local batches = {}
    for i = 1, 10 do batches[i] = { data(32, 100 + i) } end
    local eager, traced = make_step(), make_step()
    local step = tf.trace(traced.step)
    tf.random.set_seed(11)
    for i = 1, 10 do eager.step(batches[i][1], batches[i][2]) end
    tf.random.set_seed(11) -- the Dropout draws line up: tracing draws nothing
    for i = 1, 10 do step(batches[i][1], batches[i][2]) end
    assert.are.equal(1, #step:signatures())
    assert.is_true(weights_diff(eager.model, traced.model) <= 1e-5)
    assert.is_true(math.abs(eager.mean_loss:result():item() - traced.mean_loss:result():item()) <= 1e-5)
    assert.are.equal(eager.acc:result():item(), traced.acc:result():item())
    assert.are.equal(10, traced.opt.iterations:item())
    -- the graph keeps the random node: a new mask on every call
    local x = batches[1][1]
    local drop = tf.trace(function(v) return traced.model.layers[2](v, { training = true }) end)
    assert.is_true(max_diff(drop(x), drop(x)) > 0)
  end)

  it("builds metrics and optimizers on the first trace, and refuses on a later one", function()
    local m, opt
    local v = tf.Variable({ 1.0, 2.0 })
    local f = tf.trace(function(g)
      if not m then m = keras.metrics.Mean() end
      if not opt then opt = keras.optimizers.Adam{ learning_rate = 0.1 } end
      opt:apply_gradients({ g }, { v })
      m(g)
      return m:result()
    end)
    f(tf.constant({ 1.0, 1.0 }))
    f(tf.constant({ 3.0, 3.0 }))
    assert.are.equal(2.0, m:result():item())
    assert.are.equal(2, opt.iterations:item())
    m:reset_state() -- its initial value was kept eagerly
    assert.are.equal(0.0, m:result():item())
    local h = tf.trace(function(x)
      local mm = keras.metrics.Mean()
      mm(x)
      return mm:result()
    end, { name = "metric_maker" })
    assert.are.equal(1.0, h(tf.constant({ 1.0 })):item())
    expect_error("FailedPrecondition", "metric_maker created a tf.Variable on a call other than its first",
      h, tf.constant({ 1.0, 2.0 }))
    local o = tf.trace(function(g)
      local sgd = keras.optimizers.SGD()
      sgd:apply_gradients({ g }, { v })
      return v:value()
    end, { name = "optimizer_maker" })
    o(tf.constant({ 1.0, 1.0 }))
    expect_error("FailedPrecondition", "optimizer_maker created a tf.Variable", o, tf.constant({ 1.0 }))
  end)

  it("learning-rate schedules and changed learning rates advance across traced calls", function()
    local w = tf.Variable(0.0)
    local sched = keras.optimizers.schedules.PiecewiseConstantDecay({ 1, 2 }, { 1.0, 0.1, 0.01 })
    local opt = keras.optimizers.SGD{ learning_rate = sched }
    local step = tf.trace(function(g) opt:apply_gradients({ g }, { w }) return w:value() end)
    local seen = {}
    for i = 1, 4 do seen[i] = step(tf.constant(1.0)):item() end
    local expected = { -1.0, -2.0, -2.1, -2.11 } -- lr 1, 1, 0.1, 0.01
    for i = 1, 4 do assert.is_true(math.abs(seen[i] - expected[i]) < 1e-6, "step " .. i) end
    assert.are.equal(1, #step:signatures())
    local v = tf.Variable(0.0)
    local opt2 = keras.optimizers.SGD{ learning_rate = 1.0 }
    local s2 = tf.trace(function(g) opt2:apply_gradients({ g }, { v }) return v:value() end)
    s2(tf.constant(1.0))
    opt2.learning_rate = 0.5 -- assigned to its variable before the next call
    assert.are.equal(-1.5, s2(tf.constant(1.0)):item())
    assert.are.equal(1, #s2:signatures())
    assert.are.equal(0.5, opt2:current_learning_rate())
  end)

  it("Sequential, functional and subclassed models called inside a traced function", function()
    local x = data(8, 5)
    tf.random.set_seed(3)
    local seq = keras.Sequential{ L.Dense(4, { activation = "tanh", input_shape = { 20 } }), L.Dense(2) }
    local inp = keras.Input({ 20 })
    local fun = keras.Model{ inputs = inp, outputs = L.Dense(3)(L.Dense(4, { activation = "relu" })(inp)) }
    local Sub = keras.Model:extend("TraceSub")
    function Sub:init(opts)
      Sub.super.init(self, opts)
      self.a = L.Dense(4, { activation = "relu" })
      self.b = L.Dense(1)
    end
    function Sub:call(v) return self.b(self.a(v)) end
    local sub = Sub()
    for _, m in ipairs({ seq, fun, sub }) do
      local f = tf.trace(function(v) return m(v) end)
      local got = f(x) -- the subclassed model is built by its first (traced) call
      assert.is_true(max_diff(got, m(x)) <= 1e-6)
    end
  end)

  it("fit traces its train step and matches eager fit", function()
    local x, y = data(100, 9)
    local eager = make_classifier({ run_eagerly = true })
    local traced = make_classifier()
    assert.is_true(eager.run_eagerly)
    assert.is_false(traced.run_eagerly)
    local he = eager:fit(x, y, { epochs = 3, batch_size = 32, verbose = 0, shuffle = false })
    local ht = traced:fit(x, y, { epochs = 3, batch_size = 32, verbose = 0, shuffle = false })
    assert.is_nil(eager.train_function)
    -- full batches and the last partial one: two traces for three epochs
    assert.are.equal(2, #traced.train_function:signatures())
    assert.is_true(weights_diff(eager, traced) <= 1e-5)
    for i = 1, 3 do
      assert.is_true(math.abs(he.history.loss[i] - ht.history.loss[i]) <= 1e-5)
      assert.is_true(math.abs(he.history.accuracy[i] - ht.history.accuracy[i]) <= 1e-6)
    end
    local ee = eager:evaluate(x, y, { verbose = 0 })
    local et = traced:evaluate(x, y, { verbose = 0 })
    assert.is_true(math.abs(ee[1] - et[1]) <= 1e-5)
    assert.is_true(max_diff(eager:predict(x), traced:predict(x)) <= 1e-5)
    assert.is_not_nil(traced.test_function)
    assert.is_not_nil(traced.predict_function)
  end)

  it("fit traces a subclassed model's add_loss and add_metric, and leaves no traced values on it", function()
    local Recon = keras.Model:extend("TraceRecon")
    function Recon:init(o)
      Recon.super.init(self, o)
      self.a = L.Dense(4)
      self.b = L.Dense(1)
    end
    function Recon:call(v)
      local z = self.a(v)
      self:add_loss(tf.reduce_mean(tf.square(z)) * 0.01)
      self:add_metric(tf.reduce_mean(z), { name = "zmean" })
      return self.b(z)
    end
    local function run(eager)
      tf.random.set_seed(12)
      local m = Recon()
      m:compile{ optimizer = "sgd", loss = "mse", run_eagerly = eager }
      tf.random.set_seed(13)
      local x, y = tf.random.uniform({ 48, 3 }), tf.random.uniform({ 48, 1 })
      return m, m:fit(x, y, { epochs = 2, verbose = 0, batch_size = 16, shuffle = false })
    end
    local me, he = run(true)
    local mt, ht = run(false)
    assert.are.equal(1, #mt.train_function:signatures())
    for i = 1, 2 do
      assert.is_true(math.abs(he.history.loss[i] - ht.history.loss[i]) <= 1e-6)
      assert.is_true(math.abs(he.history.zmean[i] - ht.history.zmean[i]) <= 1e-6)
    end
    assert.is_true(weights_diff(me, mt) <= 1e-6)
    assert.are.equal(0, #mt.losses)
  end)

  it("callbacks run between traced steps and a LearningRateScheduler takes effect", function()
    local x, y = data(64, 4)
    local seen = {}
    local cb = keras.callbacks.LambdaCallback{ on_train_batch_end = function(batch, logs) seen[#seen + 1] = logs.loss end }
    local sched = keras.callbacks.LearningRateScheduler(function(epoch) return epoch == 0 and 0.01 or 0.0 end)
    local m = make_classifier()
    m:fit(x, y, { epochs = 2, batch_size = 32, verbose = 0, shuffle = false, callbacks = { cb, sched } })
    assert.are.equal(4, #seen)
    for _, l in ipairs(seen) do assert.are.equal("number", type(l)) end
    -- epoch 2 runs with learning rate 0: the weights stop moving
    local before = {}
    for i, w in ipairs(m.weights) do before[i] = w:value() end
    m:fit(x, y, { epochs = 2, initial_epoch = 1, batch_size = 32, verbose = 0, shuffle = false, callbacks = { sched } })
    local moved = 0
    for i, w in ipairs(m.weights) do moved = math.max(moved, max_diff(w:value(), before[i])) end
    assert.are.equal(0, moved)
  end)

  it("compile{run_eagerly=true}, model.run_eagerly and tf.config.run_functions_eagerly(true) run fit eagerly", function()
    local x, y = data(40, 6)
    local m = make_classifier()
    m.run_eagerly = true
    assert.is_true(m.run_eagerly)
    m:fit(x, y, { epochs = 1, batch_size = 20, verbose = 0 })
    assert.is_nil(m.train_function)
    m.run_eagerly = false
    m:fit(x, y, { epochs = 1, batch_size = 20, verbose = 0 })
    assert.are.equal(1, #m.train_function:signatures())
    expect_error("InvalidArgument", "run_eagerly must be a boolean", function() m.run_eagerly = "yes" end)
    local m2 = make_classifier()
    tf.config.run_functions_eagerly(true)
    m2:fit(x, y, { epochs = 1, batch_size = 20, verbose = 0 })
    assert.are.equal(0, #m2.train_function:signatures()) -- the function exists, nothing was traced
    tf.config.run_functions_eagerly(false)
    m2:fit(x, y, { epochs = 1, batch_size = 20, verbose = 0 })
    assert.are.equal(1, #m2.train_function:signatures())
  end)

  it("dynamic=true keeps a model with value-dependent Lua code eager in fit", function()
    local Gate = L.Layer:extend("ValueGate")
    function Gate:call(v)
      -- a Lua `if` on a value: needs eager execution
      if tf.reduce_mean(v):item() > 1e9 then return v * 0 end
      return v
    end
    local function build(dynamic)
      tf.random.set_seed(8)
      local m = keras.Sequential{ L.Dense(4, { input_shape = { 20 } }), Gate{ dynamic = dynamic }, L.Dense(5, { activation = "softmax" }) }
      m:compile{ optimizer = "sgd", loss = "sparse_categorical_crossentropy" }
      return m
    end
    local x, y = data(20, 7)
    local dyn = build(true)
    assert.is_true(dyn.run_eagerly)
    dyn:fit(x, y, { epochs = 1, batch_size = 10, verbose = 0 })
    assert.is_nil(dyn.train_function)
    expect_error("InvalidArgument", "dynamic=true", function() dyn.run_eagerly = false end)
    local static = build(false)
    expect_error("FailedPrecondition", nil, static.fit, static, x, y, { epochs = 1, batch_size = 10, verbose = 0 })
  end)
end)
