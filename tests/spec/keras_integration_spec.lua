-- Keras across modules: what a user strings together in one script — uint8
-- labels from keras.datasets through compile/fit, convolution, recurrent and
-- functional models saved and loaded with identical predictions (weights,
-- architecture and optimizer state together).
local tf = require("tlua")
local keras = tf.keras
local L = keras.layers

local helpers = require("helpers")

local function maxdiff(a, b) return tf.reduce_max(tf.abs(a - b)):item() end
local function tmp(name) return os.tmpname() .. "_" .. name .. ".safetensors" end

describe("keras integration", function()
  it("fits with uint8 labels, as keras.datasets returns them", function()
    tf.random.set_seed(5)
    local x = tf.random.uniform({ 64, 8 })
    local y8 = tf.cast(tf.random.uniform({ 64 }, 0, 3, tf.int32), tf.uint8)
    local function run(labels)
      tf.random.set_seed(7)
      local m = keras.Sequential{ L.Dense(3, { activation = "softmax", input_shape = { 8 } }) }
      m:compile{ optimizer = "sgd", loss = "sparse_categorical_crossentropy", metrics = { "accuracy" } }
      local h = m:fit(x, labels, { epochs = 2, batch_size = 16, verbose = 0, shuffle = false })
      return h.history.loss[2], h.history.accuracy[2]
    end
    local l8, a8 = run(y8)
    local l32, a32 = run(tf.cast(y8, tf.int32))
    assert.are.equal(l32, l8)
    assert.are.equal(a32, a8)
  end)

  it("saves and loads a CNN after training: same predictions, same next step", function()
    tf.random.set_seed(3)
    local m = keras.Sequential{
      L.Conv2D(4, 3, { activation = "relu", padding = "same", input_shape = { 8, 8, 1 } }),
      L.MaxPooling2D(2), L.Flatten(), L.Dense(3, { activation = "softmax" }),
    }
    m:compile{ optimizer = "nadam", loss = "sparse_categorical_crossentropy" }
    local x = tf.random.uniform({ 16, 8, 8, 1 })
    local y = tf.random.uniform({ 16 }, 0, 3, tf.int32)
    m:fit(x, y, { epochs = 1, batch_size = 8, verbose = 0 })
    local path = tmp("cnn")
    m:save(path)
    local m2 = keras.models.load_model(path)
    os.remove(path)
    assert.are.equal(0, maxdiff(m:predict(x, { verbose = 0 }), m2:predict(x, { verbose = 0 })))
    -- the optimizer state came back too: one more identical step on both
    m:train_on_batch(x, y)
    m2:train_on_batch(x, y)
    local w1, w2 = m:get_weights(), m2:get_weights()
    for i = 1, #w1 do assert.are.equal(0, maxdiff(w1[i], w2[i])) end
  end)

  it("builds an LSTM from input_shape in Sequential", function()
    local m = keras.Sequential{ L.LSTM(8, { input_shape = { 6, 4 } }), L.Dense(1) }
    assert.are.equal(425, m:count_params())
    assert.are.same({ 2, 1 }, m(tf.ones({ 2, 6, 4 })).shape:as_list())
  end)

  it("round-trips a functional model with a skip connection and two outputs", function()
    tf.random.set_seed(11)
    local inp = keras.Input{ shape = { 4 } }
    local a = L.Dense(3, { name = "a" })(inp)
    local b = L.Dense(3, { name = "b" })(a)
    local out = L.Add()({ a, b })
    local f = keras.Model{ inputs = inp, outputs = { out, b } }
    f:compile{ optimizer = "sgd", loss = { "mse", "mae" }, loss_weights = { 1, 0.5 } }
    f:fit(tf.ones({ 8, 4 }), { tf.zeros({ 8, 3 }), tf.zeros({ 8, 3 }) }, { epochs = 1, verbose = 0 })
    local path = tmp("functional")
    f:save(path)
    local f2 = keras.models.load_model(path)
    os.remove(path)
    local x = tf.random.normal({ 5, 4 })
    local p1, p2 = f:predict(x, { verbose = 0 }), f2:predict(x, { verbose = 0 })
    assert.are.equal(0, maxdiff(p1[1], p2[1]))
    assert.are.equal(0, maxdiff(p1[2], p2[2]))
    -- out = a + b, computed by hand from the layers' weights
    local wa, ba = table.unpack(f:get_layer("a"):get_weights())
    local wb, bb = table.unpack(f:get_layer("b"):get_weights())
    local ha = tf.matmul(x, wa) + ba
    assert.is_true(maxdiff(p1[1], ha + tf.matmul(ha, wb) + bb) < 1e-6)
  end)

  it("names option typos in keras.Input and CSVLogger, and refuses what it cannot do", function()
    helpers.assert_error("InvalidArgument", { "keras.Input", "unknown option 'dtyp'" },
      function() return keras.Input({ 784 }, { dtyp = "float64" }) end)
    helpers.assert_error("Unimplemented", { "keras.Input", "sparse inputs" },
      function() return keras.Input{ shape = { 3 }, sparse = true } end)
    helpers.assert_error("InvalidArgument", { "CSVLogger", "unknown option 'seperator'" },
      function() return keras.callbacks.CSVLogger("/tmp/x.csv", { seperator = ";" }) end)
    assert.equal("float64", keras.Input({ 3 }, { dtype = "float64" }).dtype.name or keras.Input({ 3 }, { dtype = "float64" }).dtype)
  end)
end)

describe("keras options and names", function()
  local helpers = require("helpers")
  it("refuses Keras options it does not implement instead of ignoring them", function()
    helpers.assert_error("Unimplemented", { "Dense 'dense", "option 'lora_rank' is not supported" },
      function() return keras.layers.Dense(3, { lora_rank = 4 }) end)
    helpers.assert_error("Unimplemented", { "Embedding", "option 'sparse' is not supported" },
      function() return keras.layers.Embedding(10, 3, { sparse = true }) end)
  end)
  it("clear_session restarts metric names as it does layer names", function()
    keras.metrics.Precision()
    keras.backend.clear_session()
    assert.equal("precision", keras.metrics.Precision().name)
    assert.equal("precision_1", keras.metrics.Precision().name)
  end)
end)

describe("activation layers", function()
  local helpers = require("helpers")
  it("ReLU, LeakyReLU, ELU, Softmax against hand values, with their configs", function()
    local x = tf.constant({ { -2.0, 0.5, 8.0 } })
    local function close(t, want) for i, v in ipairs(t:totable()[1]) do assert.is_true(math.abs(v - want[i]) < 1e-6, tostring(v)) end end
    close(keras.layers.ReLU{ max_value = 6 }(x), { 0, 0.5, 6 })
    close(keras.layers.ReLU{ negative_slope = 0.1, threshold = 1 }(x), { -0.3, -0.05, 8 })
    close(keras.layers.LeakyReLU()(x), { -0.6, 0.5, 8 })
    close(keras.layers.ELU()(x), { math.exp(-2) - 1, 0.5, 8 })
    local e = { math.exp(-2), math.exp(0.5), math.exp(8) }
    local z = e[1] + e[2] + e[3]
    close(keras.layers.Softmax()(x), { e[1] / z, e[2] / z, e[3] / z })
    assert.equal(6, keras.layers.ReLU(6):get_config().max_value)
    assert.equal(0.3, keras.layers.LeakyReLU():get_config().negative_slope)
    local r = keras.layers.ReLU.from_config(keras.layers.ReLU{ max_value = 2 }:get_config())
    close(r(x), { 0, 0.5, 2 })
    helpers.assert_error("InvalidArgument", { "ReLU", "max_value must be a number >= 0", "-1" },
      function() return keras.layers.ReLU{ max_value = -1 } end)
    helpers.assert_error("InvalidArgument", { "Softmax", "axis must be an integer" },
      function() return keras.layers.Softmax{ axis = "x" } end)
  end)
end)

describe("saving custom metrics", function()
  it("restores a Metric subclass's get_config hyperparameters through custom_objects", function()
    local HM = keras.metrics.Metric:extend("HuberMetricSpec")
    function HM:init(opts)
      opts = opts or {}
      HM.super.init(self, opts)
      self.threshold = opts.threshold or 1.0
      self.total = self:add_weight("total", { initializer = "zeros" })
      self.count = self:add_weight("count", { initializer = "zeros" })
    end
    function HM:update_state(yt, yp)
      self.total:assign_add(tf.reduce_sum(tf.abs(yt - yp)))
      self.count:assign_add(tf.cast(tf.size(yt), tf.float32))
    end
    function HM:result() return self.total / self.count end
    function HM:get_config()
      local c = HM.super.get_config(self)
      c.threshold = self.threshold
      return c
    end
    local m = keras.Sequential{ L.Dense(1, { input_shape = { 2 } }) }
    m:compile{ optimizer = "sgd", loss = "mse", metrics = { HM{ threshold = 2.5 } } }
    m:fit(tf.ones({ 4, 2 }), tf.ones({ 4, 1 }), { verbose = 0 })
    local path = tmp("metric")
    m:save(path)
    local m2 = keras.models.load_model(path, { custom_objects = { HuberMetricSpec = HM } })
    os.remove(path)
    local r1 = m:evaluate(tf.ones({ 4, 2 }), tf.ones({ 4, 1 }), { verbose = 0, return_dict = true })
    local r2 = m2:evaluate(tf.ones({ 4, 2 }), tf.ones({ 4, 1 }), { verbose = 0, return_dict = true })
    assert.equal(r1.huber_metric_spec, r2.huber_metric_spec)
    local found
    for _, x in ipairs(m2.metrics) do if getmetatable(x).class_name == "HuberMetricSpec" then found = x end end
    assert.equal(2.5, found.threshold)
  end)
end)

describe("keras.losses.get / keras.metrics.get", function()
  it("pass callable objects through in both namespaces", function()
    local callable = setmetatable({}, { __call = function(_, a, b) return a - b end })
    assert.equal(callable, keras.losses.get(callable))
    assert.equal(callable, keras.metrics.get(callable))
    assert.has_error(function() keras.metrics.get(5) end)
  end)
end)

describe("keras.models.clone_model", function()
  local helpers = require("helpers")
  it("rebuilds Sequential and functional models with new, freshly initialized layers", function()
    tf.random.set_seed(2)
    local m = keras.Sequential{ L.Dense(4, { activation = "relu", input_shape = { 3 } }), L.Dense(1) }
    local c = keras.models.clone_model(m)
    assert.equal(m:count_params(), c:count_params())
    assert.are_not.equal(m.layers[1], c.layers[1])
    assert.is_true(maxdiff(m.weights[1], c.weights[1]) > 0) -- new initial values
    c:set_weights(m:get_weights())
    assert.equal(0, maxdiff(m(tf.ones({ 2, 3 })), c(tf.ones({ 2, 3 }))))
    local i = keras.Input{ shape = { 3 } }
    local f = keras.Model{ inputs = i, outputs = L.Dense(2)(L.Dense(3)(i)) }
    local fc = keras.models.clone_model(f)
    assert.equal(f:count_params(), fc:count_params())
    assert.same({ 2, 2 }, fc(tf.ones({ 2, 3 })).shape:as_list())
    local S = keras.Model:extend("SubForClone")
    function S:init(o) S.super.init(self, o) self.d = L.Dense(2) end
    function S:call(x) return self.d(x) end
    helpers.assert_error("InvalidArgument", { "clone_model", "subclassed model" }, keras.models.clone_model, S())
  end)
end)
