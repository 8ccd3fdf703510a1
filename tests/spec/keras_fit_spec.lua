-- keras Model.compile/fit/evaluate/predict/train_on_batch/test_on_batch/
-- predict_on_batch: convergence, fit equal bit for bit to the same loop
-- written by hand (same ops, same order, same seed), validation_split and
-- shuffle semantics, sample/class weights, loss_weights, add_loss,
-- batched predict, the progress bar on stdout in both modes (a
-- subprocess), and the error messages.
local tf = require("tlua")
local helpers = require("helpers")
local keras = tf.keras
local L = keras.layers

local function maxdiff(a, b) return tf.reduce_max(tf.abs(a - b)):item() end

local function regression_data(n, seed)
  tf.random.set_seed(seed or 3)
  local x = tf.random.normal({ n, 3 })
  local w = tf.constant({ { 1.5 }, { -2.0 }, { 0.5 } })
  local y = tf.matmul(x, w) + 0.25
  return x, y
end

local function small_model(seed)
  tf.random.set_seed(seed or 1)
  return keras.Sequential{ L.Dense(8, { activation = "relu", input_shape = { 3 } }), L.Dense(1) }
end

local function same_weights(a, b)
  local wa, wb = a:get_weights(), b:get_weights()
  local worst = 0
  for i = 1, #wa do worst = math.max(worst, maxdiff(wa[i], wb[i])) end
  return worst
end

describe("Model.fit", function()
  before_each(function() keras.backend.clear_session() end)

  it("converges on a small regression problem", function()
    local x, y = regression_data(256)
    local model = small_model()
    model:compile{ optimizer = keras.optimizers.Adam{ learning_rate = 0.02 }, loss = "mse" }
    local h = model:fit(x, y, { epochs = 30, batch_size = 32, verbose = 0 })
    assert.equal(30, #h.history.loss)
    assert.same({ 0, 1, 2 }, { h.epoch[1], h.epoch[2], h.epoch[3] })
    assert.is_true(h.history.loss[30] < 0.05 * h.history.loss[1], "loss did not fall enough")
    assert.is_true(model:evaluate(x, y, { verbose = 0 }) < 0.05)
  end)

  it("matches a hand-written loop bit for bit (shuffled batches, same seed)", function()
    local x, y = regression_data(100)
    local a, b = small_model(5), small_model(6)
    b:set_weights(a:get_weights())
    a:compile{ optimizer = keras.optimizers.SGD{ learning_rate = 0.05, momentum = 0.9 }, loss = keras.losses.MeanSquaredError() }
    tf.random.set_seed(42)
    a:fit(x, y, { epochs = 3, batch_size = 16, verbose = 0 })
    -- the same steps by hand
    local opt = keras.optimizers.SGD{ learning_rate = 0.05, momentum = 0.9 }
    local loss_fn = keras.losses.MeanSquaredError()
    tf.random.set_seed(42)
    local n, bs = 100, 16
    for _ = 1, 3 do
      local perm = tf.random.shuffle(tf.range(n))
      for s = 0, math.ceil(n / bs) - 1 do
        local len = math.min(bs, n - s * bs)
        local idx = tf.slice(perm, { s * bs }, { len })
        local xb, yb = tf.gather(x, idx), tf.gather(y, idx)
        local tape = tf.GradientTape()
        local yp = b(xb, { training = true })
        local loss = loss_fn(yb, yp)
        local vars = b.trainable_variables
        opt:apply_gradients(tape:gradient(loss, vars), vars)
      end
    end
    assert.equal(0, same_weights(a, b))
  end)

  it("matches the hand loop without shuffling, and shuffling changes the result", function()
    local x, y = regression_data(40)
    local a, b, c = small_model(5), small_model(6), small_model(7)
    b:set_weights(a:get_weights())
    c:set_weights(a:get_weights())
    a:compile{ optimizer = keras.optimizers.SGD{ learning_rate = 0.1 }, loss = "mse" }
    c:compile{ optimizer = keras.optimizers.SGD{ learning_rate = 0.1 }, loss = "mse" }
    a:fit(x, y, { epochs = 2, batch_size = 16, shuffle = false, verbose = 0 })
    c:fit(x, y, { epochs = 2, batch_size = 16, shuffle = true, verbose = 0 })
    local opt = keras.optimizers.SGD{ learning_rate = 0.1 }
    local loss_fn = keras.losses.get("mse")
    for _ = 1, 2 do
      for s = 0, 2 do
        local len = math.min(16, 40 - s * 16)
        local xb, yb = tf.slice(x, { s * 16, 0 }, { len, -1 }), tf.slice(y, { s * 16, 0 }, { len, -1 })
        local tape = tf.GradientTape()
        local yp = b(xb, { training = true })
        local loss = tf.reduce_mean(loss_fn(yb, yp))
        local vars = b.trainable_variables
        opt:apply_gradients(tape:gradient(loss, vars), vars)
      end
    end
    assert.is_true(same_weights(a, b) < 1e-6)
    assert.is_true(same_weights(a, c) > 1e-4)
  end)

  it("validation_split holds out the last fraction, before shuffling", function()
    local x, y = regression_data(100)
    local model = small_model()
    model:compile{ optimizer = "sgd", loss = "mse" }
    local h = model:fit(x, y, { epochs = 1, batch_size = 10, validation_split = 0.2, verbose = 0 })
    assert.equal(8, h.params.steps)        -- 80 training samples
    local xv, yv = tf.slice(x, { 80, 0 }, { 20, -1 }), tf.slice(y, { 80, 0 }, { 20, -1 })
    helpers.assert_close(h.history.val_loss[1], model:evaluate(xv, yv, { batch_size = 10, verbose = 0 }), 1e-6)
    helpers.assert_error("InvalidArgument", { "validation_split must be a number in (0, 1)" },
      function() model:fit(x, y, { validation_split = 1.5, verbose = 0 }) end)
  end)

  it("validation_data, validation_freq, initial_epoch and steps_per_epoch", function()
    local x, y = regression_data(64)
    local model = small_model()
    model:compile{ optimizer = "sgd", loss = "mse", metrics = { "mae" } }
    local steps = 0
    local counter = keras.callbacks.LambdaCallback{ on_train_batch_end = function() steps = steps + 1 end }
    local h = model:fit(x, y, { epochs = 4, initial_epoch = 1, batch_size = 16, validation_data = { x, y },
      validation_freq = 2, steps_per_epoch = 3, callbacks = { counter }, verbose = 0 })
    assert.same({ 1, 2, 3 }, h.epoch)
    assert.equal(9, steps)
    assert.equal(3, #h.history.loss)
    assert.equal(3, #h.history.mae)
    assert.equal(2, #h.history.val_loss)  -- epochs 2 and 4 (1-based) validate
  end)

  it("reports the loss as the batch-size weighted running mean, like Keras", function()
    local x, y = regression_data(50)
    local model = small_model()
    model:compile{ optimizer = keras.optimizers.SGD{ learning_rate = 0.0 }, loss = "mse" }
    local h = model:fit(x, y, { epochs = 1, batch_size = 16, shuffle = false, verbose = 0 })
    -- with a zero learning rate the running mean is the mean over all samples
    local ref = tf.reduce_mean(tf.square(model(x) - y)):item()
    helpers.assert_close(h.history.loss[1], ref, 1e-5)
  end)

  it("applies sample_weight, class_weight and loss_weights in the loss", function()
    local model = small_model()
    model:compile{ optimizer = keras.optimizers.SGD{ learning_rate = 0.0 }, loss = "mse" }
    local x, y = regression_data(8)
    local sw = tf.constant({ 1, 0, 2, 0, 1, 0, 1, 3 }, "float32")
    local per = tf.reduce_mean(tf.square(model(x) - y), -1)
    local got = model:train_on_batch(x, y, { sample_weight = sw })
    helpers.assert_close(got, tf.reduce_mean(per * sw):item(), 1e-5)
    -- class weights are sample weights looked up by label
    local clf = keras.Sequential{ L.Dense(3, { activation = "softmax", input_shape = { 3 } }) }
    clf:compile{ optimizer = keras.optimizers.SGD{ learning_rate = 0.0 }, loss = "sparse_categorical_crossentropy" }
    local labels = tf.constant({ 0, 1, 2, 1, 0, 2, 2, 1 })
    local cw = clf:train_on_batch(x, labels, { class_weight = { [0] = 1.0, [1] = 2.0, [2] = 0.5 } })
    local sw2 = tf.constant({ 1.0, 2.0, 0.5, 2.0, 1.0, 0.5, 0.5, 2.0 })
    helpers.assert_close(cw, clf:test_on_batch(x, labels, { sample_weight = sw2 }), 1e-6)
    helpers.assert_error("InvalidArgument", { "Expected `class_weight` to be a dict with keys from 0" },
      function() clf:train_on_batch(x, labels, { class_weight = { [0] = 1.0, [2] = 1.0 } }) end)
  end)

  it("trains several outputs with per-output losses, loss_weights and metrics", function()
    local inp = keras.Input{ shape = { 3 } }
    local h = L.Dense(4, { activation = "relu" })(inp)
    local model = keras.Model{ inputs = inp, outputs = { L.Dense(1, { name = "p" })(h), L.Dense(1, { name = "q" })(h) } }
    model:compile{ optimizer = keras.optimizers.SGD{ learning_rate = 0.0 }, loss = { "mse", "mae" },
      loss_weights = { 1.0, 0.5 }, metrics = { q = { "mse" } } }
    local x, y = regression_data(16)
    local res = model:test_on_batch(x, { y, y * 2 }, { return_dict = true })
    local out = model(x)
    local lp = tf.reduce_mean(tf.square(out[1] - y)):item()
    local lq = tf.reduce_mean(tf.abs(out[2] - y * 2)):item()
    helpers.assert_close(res.p_loss, lp, 1e-5)
    helpers.assert_close(res.q_loss, lq, 1e-5)
    helpers.assert_close(res.loss, lp + 0.5 * lq, 1e-5)
    helpers.assert_close(res.q_mse, tf.reduce_mean(tf.square(out[2] - y * 2)):item(), 1e-5)
    assert.same({ "loss", "p_loss", "q_loss", "q_mse" }, model.metrics_names)
    local hist = model:fit(x, { y, y }, { epochs = 1, verbose = 0 })
    assert.is_not_nil(hist.history.q_mse)
  end)

  it("adds the model's losses (add_loss) to the compiled loss and reports add_metric", function()
    local Reg = L.Layer:extend("ActivityPenalty")
    function Reg:call(x)
      self:add_loss(tf.reduce_sum(tf.square(x)) * 0.01)
      return x
    end
    local model = keras.Sequential{ L.Dense(2, { input_shape = { 3 } }), Reg() }
    model:compile{ optimizer = keras.optimizers.SGD{ learning_rate = 0.0 }, loss = "mse" }
    local x, y = regression_data(8)
    y = tf.concat({ y, y }, -1)
    local got = model:test_on_batch(x, y)
    local out = model(x)
    local ref = tf.reduce_mean(tf.square(out - y)):item() + 0.01 * tf.reduce_sum(tf.square(out)):item()
    helpers.assert_close(got, ref, 1e-5)
  end)

  it("reports metrics added with add_metric and weighted_metrics", function()
    local Probe = L.Layer:extend("MeanProbe")
    function Probe:call(x)
      self:add_metric(tf.reduce_mean(x), { name = "act_mean" })
      return x
    end
    local model = keras.Sequential{ L.Dense(1, { input_shape = { 3 } }), Probe() }
    model:compile{ optimizer = keras.optimizers.SGD{ learning_rate = 0.0 }, loss = "mse",
      metrics = { "mae" }, weighted_metrics = { "mae" } }
    local x, y = regression_data(8)
    local sw = tf.constant({ 1, 0, 2, 0, 1, 0, 1, 3 }, "float32")
    local res = model:test_on_batch(x, y, { sample_weight = sw, return_dict = true })
    local out = model(x)
    local err = tf.reshape(tf.abs(out - y), { -1 })
    helpers.assert_close(res.mae, tf.reduce_mean(err):item(), 1e-5)
    helpers.assert_close(res.weighted_mae, (tf.reduce_sum(err * sw) / tf.reduce_sum(sw)):item(), 1e-5)
    helpers.assert_close(res.act_mean, tf.reduce_mean(out):item(), 1e-5)
    local h = model:fit(x, y, { epochs = 2, verbose = 0 })
    assert.equal(2, #h.history.act_mean)
  end)

  it("trains a subclassed model with its own add_loss and add_metric (reconstruction loss)", function()
    local Recon = keras.Model:extend("ReconstructingRegressor")
    function Recon:init(opts)
      Recon.super.init(self, opts)
      self.hidden = { L.Dense(8, { activation = "relu" }), L.Dense(8, { activation = "relu" }) }
      self.out = L.Dense(1)
      self.reconstruct = L.Dense(3)
    end
    function Recon:call(x)
      local z = x
      for _, l in ipairs(self.hidden) do z = l(z) end
      local recon = self.reconstruct(z)
      local recon_loss = tf.reduce_mean(tf.square(recon - x))
      self:add_loss(recon_loss * 0.05)
      self:add_metric(recon_loss, { name = "reconstruction_error" })
      return self.out(z)
    end
    local x, y = regression_data(64)
    local m = Recon()
    m:compile{ optimizer = keras.optimizers.SGD{ learning_rate = 0.0 }, loss = "mse" }
    local res = m:test_on_batch(x, y, { return_dict = true })
    local yp = m(x)
    local rl = tf.reduce_mean(tf.square(m.reconstruct(m.hidden[2](m.hidden[1](x))) - x)):item()
    helpers.assert_close(res.loss, tf.reduce_mean(tf.square(yp - y)):item() + 0.05 * rl, 1e-5)
    helpers.assert_close(res.reconstruction_error, rl, 1e-5)
    m:compile{ optimizer = keras.optimizers.Adam{ learning_rate = 0.01 }, loss = "mse" }
    local h = m:fit(x, y, { epochs = 5, batch_size = 16, verbose = 0 })
    assert.equal(5, #h.history.reconstruction_error)
    assert.is_true(h.history.loss[5] < h.history.loss[1])
    assert.equal(8, #m.trainable_variables)
  end)

  it("takes Lua number tables as data (x in float32)", function()
    local model = keras.Sequential{ L.Dense(1, { input_shape = { 2 } }) }
    model:compile{ optimizer = "sgd", loss = "mse" }
    local h = model:fit({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, { { 1 }, { 2 }, { 3 } }, { epochs = 2, verbose = 0 })
    assert.equal(2, #h.history.loss)
    assert.same({ 3, 1 }, model:predict({ { 1, 2 }, { 3, 4 }, { 5, 6 } }).shape:as_list())
  end)

  it("accepts optimizer and loss names and objects, and resolves 'accuracy' from the shapes", function()
    local x = tf.random.normal({ 32, 3 })
    local labels = tf.cast(tf.argmax(x, -1), "int32")
    local clf = keras.Sequential{ L.Dense(3, { activation = "softmax", input_shape = { 3 } }) }
    clf:compile{ optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = { "accuracy" } }
    local res = clf:evaluate(x, labels, { verbose = 0, return_dict = true })
    local pred = tf.cast(tf.argmax(clf(x), -1), "int32")
    local acc = tf.reduce_mean(tf.cast(tf.equal(pred, labels), "float32")):item()
    helpers.assert_close(res.accuracy, acc, 1e-6)
    local list = clf:evaluate(x, labels, { verbose = 0 })
    assert.equal(2, #list)
    assert.same({ "loss", "accuracy" }, clf.metrics_names)
    -- one-hot targets: categorical accuracy
    clf:compile{ optimizer = keras.optimizers.Nadam(), loss = "categorical_crossentropy", metrics = { "accuracy" } }
    local res2 = clf:evaluate(x, keras.utils.to_categorical(labels, 3), { verbose = 0, return_dict = true })
    helpers.assert_close(res2.accuracy, acc, 1e-6)
    -- binary crossentropy on 3 independent labels: binary accuracy (by the loss)
    local ml = keras.Sequential{ L.Dense(3, { activation = "sigmoid", input_shape = { 3 } }) }
    ml:compile{ optimizer = "sgd", loss = "binary_crossentropy", metrics = { "accuracy" } }
    local targets = tf.cast(tf.greater(x, 0), "float32")
    local res3 = ml:evaluate(x, targets, { verbose = 0, return_dict = true })
    local bin = tf.reduce_mean(tf.cast(tf.equal(tf.cast(tf.greater(ml(x), 0.5), "float32"), targets), "float32")):item()
    helpers.assert_close(res3.accuracy, bin, 1e-6)
  end)

  it("predicts in batches and concatenates, with several outputs", function()
    local model = small_model()
    local x = tf.random.normal({ 20, 3 })
    assert.is_true(maxdiff(model:predict(x, { batch_size = 7 }), model(x)) < 1e-6)
    assert.equal(0, maxdiff(model:predict_on_batch(x), model(x)))
    local inp = keras.Input{ shape = { 3 } }
    local two = keras.Model{ inputs = inp, outputs = { L.Dense(2)(inp), L.Dense(1)(inp) } }
    local out = two:predict(x, { batch_size = 8 })
    assert.same({ 20, 2 }, out[1].shape:as_list())
    assert.same({ 20, 1 }, out[2].shape:as_list())
  end)

  it("raises clear errors", function()
    local model = small_model()
    local x, y = regression_data(10)
    helpers.assert_error("FailedPrecondition", { "You must compile your model before training/testing" },
      function() model:fit(x, y, { verbose = 0 }) end)
    helpers.assert_error("InvalidArgument", { "Unknown optimizer: 'fancy'" },
      function() model:compile{ optimizer = "fancy", loss = "mse" } end)
    helpers.assert_error("InvalidArgument", { "no_such_loss" },
      function() model:compile{ optimizer = "sgd", loss = "no_such_loss" } end)
    model:compile{ optimizer = "sgd", loss = "mse" }
    helpers.assert_error("InvalidArgument", { "Data cardinality is ambiguous", "x sizes: 10", "y sizes: 9" },
      function() model:fit(x, tf.slice(y, { 0, 0 }, { 9, -1 }), { verbose = 0 }) end)
    helpers.assert_error("InvalidArgument", { "unknown option 'epoch'" },
      function() model:fit(x, y, { epoch = 3 }) end)
    helpers.assert_error("InvalidArgument", { "batch_size must be a positive integer" },
      function() model:fit(x, y, { batch_size = 0, verbose = 0 }) end)
  end)
end)

-- The progress bar as the user sees it: a tlua subprocess's stdout.
local function run_script(code, env)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(code)
  f:close()
  local p = assert(io.popen(("%s lua5.4 %s 2>&1"):format(env, path)))
  local out = p:read("a")
  p:close()
  os.remove(path)
  return out
end

local FIT_SCRIPT = [[
local tf = require("tlua")
local keras = tf.keras
tf.random.set_seed(1)
local model = keras.Sequential{ keras.layers.Dense(4, {activation = "relu", input_shape = {3}}), keras.layers.Dense(1) }
model:compile{ optimizer = "sgd", loss = "mse", metrics = {"mae"} }
local x = tf.random.normal({96, 3})
local y = tf.reduce_sum(x, -1, {keepdims = true})
model:fit(x, y, { epochs = 2, batch_size = 32, validation_split = 0.25 })
]]

describe("fit's progress bar", function()
  it("writes one line per epoch when stdout is not a terminal", function()
    local out = run_script(FIT_SCRIPT, "TLUA_PROGBAR=lines")
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(4, #lines, out)
    assert.equal("Epoch 1/2", lines[1])
    assert.equal("Epoch 2/2", lines[3])
    assert.is_nil(out:find("\r", 1, true))
    local pat = "^3/3 %- %d+s %- loss: %d+%.%d%d%d%d %- mae: %d+%.%d%d%d%d %- val_loss: %d+%.%d%d%d%d %- val_mae: %d+%.%d%d%d%d %- %d+[mu]?s/epoch %- %d+[mu]?s/step$"
    assert.truthy(lines[2]:match(pat), lines[2])
    assert.truthy(lines[4]:match(pat), lines[4])
  end)

  it("redraws in place with \\r on a terminal and ends each epoch with the full bar", function()
    local out = run_script(FIT_SCRIPT, "TLUA_PROGBAR=tty")
    assert.truthy(out:find("\r", 1, true), out)
    assert.truthy(out:find("Epoch 1/2\n", 1, true))
    -- the first step draws an ETA, the last the full bar with time per step
    assert.truthy(out:find("1/3 %[=========>%.+%] %- ETA: %d+s %- loss: "), out)
    assert.truthy(out:find("3/3 %[==============================%] %- %d+s %d+[mu]?s/step %- loss: [%d.]+ %- mae: [%d.]+ %- val_loss: [%d.]+ %- val_mae: [%d.]+ *\n"), out)
  end)

  it("prints nothing with verbose=0", function()
    local out = run_script(FIT_SCRIPT:gsub("validation_split = 0.25", "verbose = 0"), "TLUA_PROGBAR=tty")
    assert.equal("", out)
  end)
end)
