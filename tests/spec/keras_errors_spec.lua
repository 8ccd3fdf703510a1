-- Bad input to every public Keras entry point: each case must raise a
-- tf.errors value of the right kind whose text names the layer / loss /
-- metric / model / file and says what was expected -- never a Lua index
-- error from inside stdlib, never a crash, never a silent wrong answer.
-- (Cases once `pending` here are tests now.) Cases that still fail would be `pending` with the
-- exact reproduction.
local tf = require("tlua")
local helpers = require("helpers")
local core = require("tlua.core")
local keras = tf.keras
local L = keras.layers
local E = helpers.assert_error

local tmpbase = os.tmpname()
os.remove(tmpbase)
local dir = tmpbase .. "_errors"
core.io.makedirs(dir)
teardown(function() os.execute('rm -rf "' .. dir .. '"') end)

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end
local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function mlp()
  return keras.Sequential{ L.Dense(4, { activation = "relu", input_shape = { 3 } }), L.Dense(2) }
end
local function compiled()
  local m = mlp()
  m:compile{ optimizer = "adam", loss = "mse" }
  return m
end
local x3, y2 = tf.ones({ 4, 3 }), tf.ones({ 4, 2 })

before_each(function() keras.backend.clear_session() end)

describe("layers called on the wrong input", function()
  it("Dense: rank and feature size name the layer and the expected shape", function()
    E("InvalidArgument", { "Dense 'dense'", "rank at least 2", "float32[4]" }, function() L.Dense(3)(tf.ones({ 4 })) end)
    local d = L.Dense(3)
    d(tf.ones({ 2, 4 }))
    E("InvalidArgument", { "Dense 'dense_1'", "last dimension 4", "float32[2,5]" }, d, tf.ones({ 2, 5 }))
    local m = keras.Sequential{ L.Dense(3, { input_shape = { 4 } }) }
    E("InvalidArgument", { "Dense 'dense_2'", "last dimension 4", "float32[2,5]" }, m, tf.ones({ 2, 5 }))
  end)

  it("Dense: integer input is a dtype error, not a wrong answer", function()
    E("InvalidArgument", { "int32", "float32" }, L.Dense(3), tf.constant({ { 1, 2 } }, "int32"))
  end)

  it("float64 input to float32 layers is cast (Keras autocast), not a dtype error from inside the layer", function()
    local x = tf.random.normal({ 2, 3 }, { dtype = "float64" })
    local d = L.Dense(2)
    local y = d(x)
    assert.equal("float32", y.dtype.name)
    helpers.assert_close(y, tf.matmul(tf.cast(x, "float32"), d.kernel:value()) + d.bias:value(), 1e-6, 1e-6)
    assert.equal("float32", L.Add()({ tf.ones({ 2, 3 }), tf.ones({ 2, 3 }, "float64") }).dtype.name)
    assert.equal("float64", L.Dense(2, { dtype = "float64" })(tf.ones({ 1, 3 })).dtype.name)
    E("InvalidArgument", { "float64", "float32" }, L.Dense(2, { autocast = false }), tf.ones({ 1, 3 }, "float64"))
    -- Sequential and functional models leave the cast to their layers (Keras 3): float64 layers keep float64 data
    local x64 = tf.constant({ { 1 + 1e-10, 2, 3 } }, "float64")
    local s64 = keras.Sequential{ L.Dense(2, { dtype = "float64", input_shape = { 3 } }) }
    local k = s64.layers[1]
    assert.equal(0, tf.reduce_max(tf.abs(s64(x64) - (tf.matmul(x64, k.kernel:value()) + k.bias:value()))):item())
    local i64 = keras.Input{ shape = { 3 }, dtype = "float64" }
    local d64 = L.Dense(2, { dtype = "float64" })
    local f64 = keras.Model{ inputs = i64, outputs = d64(i64) }
    assert.equal(0, tf.reduce_max(tf.abs(f64(x64) - (tf.matmul(x64, d64.kernel:value()) + d64.bias:value()))):item())
    local g = keras.Sequential{ L.Dense(2, { input_shape = { 3 } }) }
    local tape = tf.GradientTape()
    local loss = tf.reduce_sum(g(x))
    local grads = tape:gradient(loss, g.trainable_variables)
    -- d/db sum(xW + b) = batch size, d/dW = column sums of x
    helpers.assert_close(grads[2], { 2, 2 })
    helpers.assert_close(grads[1], tf.matmul(tf.transpose(tf.cast(x, "float32")), tf.ones({ 2, 2 })), 1e-6, 1e-6)
  end)

  it("Conv2D / Conv1D / MaxPooling2D: rank, channels, too small an input", function()
    E("InvalidArgument", { "Conv2D 'conv2d'", "rank 4", "float32[2,5,5]" }, L.Conv2D(2, 3), tf.ones({ 2, 5, 5 }))
    local c = L.Conv2D(2, 3)
    c(tf.ones({ 1, 5, 5, 3 }))
    E("InvalidArgument", { "Conv2D 'conv2d_1'", "last dimension 3", "float32[1,5,5,4]" }, c, tf.ones({ 1, 5, 5, 4 }))
    E("InvalidArgument", { "filter's height 3", "input's height 2" }, L.Conv2D(2, 3), tf.ones({ 1, 2, 2, 1 }))
    E("InvalidArgument", { "Conv1D 'conv1d'", "rank 3" }, L.Conv1D(2, 3), tf.ones({ 2, 5 }))
    E("InvalidArgument", { "MaxPooling2D 'max_pooling2d'", "rank 4" }, L.MaxPooling2D(2), tf.ones({ 2, 4, 4 }))
  end)

  it("LSTM / GRU: rank and feature size", function()
    E("InvalidArgument", { "LSTM 'lstm'", "rank 3", "float32[2,5]" }, L.LSTM(2), tf.ones({ 2, 5 }))
    local l = L.LSTM(2)
    l(tf.ones({ 2, 3, 5 }))
    E("InvalidArgument", { "LSTM 'lstm_1'", "last dimension 5", "float32[2,3,4]" }, l, tf.ones({ 2, 3, 4 }))
    E("InvalidArgument", { "GRU 'gru'", "rank 3" }, L.GRU(2), tf.ones({ 2, 5 }))
  end)

  it("BatchNormalization / LayerNormalization: feature size and axis", function()
    local b = L.BatchNormalization()
    b(tf.ones({ 2, 5 }))
    E("InvalidArgument", { "BatchNormalization 'batch_normalization'", "last dimension 5", "float32[2,4]" }, b, tf.ones({ 2, 4 }))
    E("InvalidArgument", { "BatchNormalization", "axis 5 is out of bounds", "(2, 5)" },
      L.BatchNormalization({ axis = 5 }), tf.ones({ 2, 5 }))
    local ln = L.LayerNormalization()
    ln(tf.ones({ 2, 5 }))
    E("InvalidArgument", { "LayerNormalization 'layer_normalization'", "dimension 5 at axis 1", "float32[2,4]" },
      ln, tf.ones({ 2, 4 }))
    local ln2 = L.LayerNormalization({ axis = { 1, 2 } })
    ln2(tf.ones({ 2, 3, 5 }))
    E("InvalidArgument", { "LayerNormalization", "dimension 3 at axis 1", "float32[2,4,5]" }, ln2, tf.ones({ 2, 4, 5 }))
    -- a non-normalised axis may change
    assert.same({ 7, 3, 6 }, L.LayerNormalization({ axis = 1 })(tf.ones({ 7, 3, 6 })).shape:as_list())
  end)

  it("Embedding: fractional float, out-of-range and non-numeric indices", function()
    local e = L.Embedding(10, 3)
    E("InvalidArgument", { "Embedding 'embedding'", "integer indices", "float32[1,2]", "non-integer" },
      e, tf.constant({ { 1.5, 2 } }))
    E("InvalidArgument", { "Embedding 'embedding'", "[0, input_dim=10)", "from 1 to 12" }, e, tf.constant({ { 1, 12 } }, "int32"))
    E("InvalidArgument", { "Embedding 'embedding'", "from -1 to 2" }, e, tf.constant({ { -1, 2 } }, "int32"))
    E("InvalidArgument", { "Embedding 'embedding'", "integer indices", "bool[1,1]" }, e, tf.constant({ { true } }))
    -- integral floats and uint8 (keras.datasets) are indices, as Keras casts them
    local w = e:get_weights()[1]
    helpers.assert_close(e(tf.constant({ { 1, 9 } })), { { w:totable()[2], w:totable()[10] } })
    helpers.assert_close(e(tf.constant({ { 1, 9 } }, "uint8")), { { w:totable()[2], w:totable()[10] } })
    assert.same({ 0, 2, 3 }, e(tf.zeros({ 0, 2 }, "int32")).shape:as_list())
  end)

  it("merge layers: mismatched shapes and a single tensor", function()
    E("InvalidArgument", { "Concatenate 'concatenate'", "matching shapes except for the concatenation axis", "(2, 3), (3, 3)" },
      L.Concatenate(), { tf.ones({ 2, 3 }), tf.ones({ 3, 3 }) })
    E("InvalidArgument", { "Concatenate 'concatenate_1'", "list of tensors" }, L.Concatenate(), tf.ones({ 2, 3 }))
    E("InvalidArgument", { "Add 'add'", "incompatible shapes (2, 3), (2, 4)" }, L.Add(), { tf.ones({ 2, 3 }), tf.ones({ 2, 4 }) })
  end)

  it("Reshape: element count", function()
    E("InvalidArgument", { "Reshape 'reshape", "more than any tensor can" }, L.Reshape({ 1 << 62, 4 }), tf.ones({ 1, 8 }))
    E("InvalidArgument", { "Reshape 'reshape_1'", "target_shape (5)", "float32[2,4]" }, L.Reshape({ 5 }), tf.ones({ 2, 4 }))
  end)

  it("inputs that are not tensors", function()
    E("InvalidArgument", { "Dense 'dense'", "expected a tensor", "got string" }, L.Dense(3), "abc")
    E("InvalidArgument", { "Dense 'dense_1'", "got nil" }, L.Dense(3), nil)
    E("InvalidArgument", { "ragged nesting" }, L.Dense(3), { { 1, 2 }, { 3 } })
  end)

  it("layer.call(x) with a dot, and call with no inputs", function()
    local d = L.Dense(3)
    d(tf.ones({ 1, 2 }))
    E("InvalidArgument", { "Dense.call", "without a layer as self", "layer:call(x)" }, function() d.call(tf.ones({ 1, 2 })) end)
    E("InvalidArgument", { "Dense.call", "without a layer as self" }, function() L.Dense.call(tf.ones({ 1, 2 })) end)
    E("InvalidArgument", { "Dense 'dense'", "no inputs" }, function() d:call() end)
    E("InvalidArgument", { "build: called without a layer as self", "layer:build(shape)" }, function()
      L.Dense(2).build(tf.TensorShape({ nil, 3 }, 2))
    end)
    -- the colon form still works
    helpers.assert_close(d:call(tf.ones({ 1, 2 })), d(tf.ones({ 1, 2 })))
  end)

  it("weights too large to allocate are a ResourceExhausted error, not a crash", function()
    E("ResourceExhausted", { "is too large to allocate" }, L.Dense(math.maxinteger), tf.ones({ 1, 2 }))
    E("ResourceExhausted", { "too large to allocate" }, L.Embedding(1 << 31, 1 << 31), tf.constant({ 1 }, "int32"))
  end)

  it("NaN input propagates (no error, as Keras) rather than being hidden", function()
    local y = L.Dense(3)(tf.constant({ { 0 / 0, 1 } }))
    for _, v in ipairs(y:totable()[1]) do assert.is_true(v ~= v) end
  end)
end)

describe("layer options", function()
  it("units, rate, kernel sizes, strides, padding", function()
    for _, u in ipairs({ -1, 0, 1.5, "a" }) do
      E("InvalidArgument", { "Dense", "units must be a positive integer", tostring(u) }, L.Dense, u)
    end
    E("InvalidArgument", { "units must be a positive integer, got nil" }, L.Dense)
    E("InvalidArgument", { "units must be a positive integer, got a table", "Dense{units = 3}" }, L.Dense, { 3 })
    for _, r in ipairs({ 1.5, -0.1, "x" }) do
      E("InvalidArgument", { "Dropout", "rate must be a number in [0, 1]", tostring(r) }, L.Dropout, r)
    end
    E("InvalidArgument", { "Conv2D", "padding must be one of 'valid', 'same', got 'samee'" }, L.Conv2D, 3, 3, { padding = "samee" })
    E("InvalidArgument", { "Conv2D", "kernel_size must be positive" }, L.Conv2D, 3, 0)
    E("InvalidArgument", { "Conv2D", "strides must be positive" }, L.Conv2D, 3, 3, { strides = 0 })
    E("InvalidArgument", { "LSTM", "units must be a positive integer, got -1" }, L.LSTM, -1)
    E("InvalidArgument", { "Embedding", "input_dim must be a positive integer, got 0" }, L.Embedding, 0, 3)
    E("InvalidArgument", { "input_shape must be a list of dimensions, got string" }, function()
      keras.Sequential{ L.Dense(2, { input_shape = "x" }) }
    end)
  end)

  it("base options: name, trainable, dtype", function()
    E("InvalidArgument", { "Dense: name must be a string, got number" }, L.Dense, 3, { name = 5 })
    E("InvalidArgument", { "Dense 'dense'", "trainable must be a boolean, got yes" }, L.Dense, 3, { trainable = "yes" })
    E("InvalidArgument", { "Dense 'dense_1'", "dtype must be a dtype name", "float33" }, L.Dense, 3, { dtype = "float33" })
    E("InvalidArgument", { "dtype must be a dtype name", "got 5" }, L.Dense, 3, { dtype = 5 })
    assert.equal("float64", L.Dense(3, { dtype = tf.float64 }).dtype)
    E("InvalidArgument", { "GlorotUniform: expected a floating dtype, got int32" }, L.Dense(3, { dtype = "int32" }), tf.ones({ 1, 2 }))
  end)

  it("call options: training must be a boolean, opts a table", function()
    local d = L.Dropout(0.5)
    E("InvalidArgument", { "Dropout 'dropout'", "training=true|false", "training=yes" }, d, tf.ones({ 2, 2 }), { training = "yes" })
    E("InvalidArgument", { "Dropout 'dropout'", "must be a table", "got string" }, d, tf.ones({ 2, 2 }), "x")
    helpers.assert_close(d(tf.ones({ 1, 2 }), { training = false }), { { 1, 1 } })
  end)

  it("unknown option keys of builtin layers are named", function()
    E("InvalidArgument", { "Dense: unknown option 'activaton'", "activation" }, L.Dense, 3, { activaton = "relu" })
    E("InvalidArgument", { "Conv2D: unknown option 'padd'", "padding" }, L.Conv2D, 3, 3, { padd = "same" })
  end)

  it("unknown activation / initializer / regularizer / constraint names", function()
    E("InvalidArgument", { "Dense 'dense", "Unknown activation: 'relux'" }, L.Dense, 3, { activation = "relux" })
    E("InvalidArgument", { "LSTM 'lstm", "Unknown initializer: 'foo'" }, L.LSTM, 3, { recurrent_initializer = "foo" })
    local MyD = L.Dense:extend("MyD")
    E("InvalidArgument", { "MyD 'my_d", "Unknown activation: 'relux'" }, MyD, 3, { activation = "relux" })
    local U = L.Layer:extend("UserAct")
    function U:init(o) U.super.init(self, o) self.act = keras.activations.get(o.act) end
    E("InvalidArgument", { "UserAct 'user_act", "Unknown activation: 'relux'" }, U, { act = "relux" })
    E("InvalidArgument", { "Unknown activation: 'foo'" }, L.Activation, "foo")
    E("InvalidArgument", { "Unknown initializer: 'glorot'" }, L.Dense, 3, { kernel_initializer = "glorot" })
    E("InvalidArgument", { "Unknown initializer: 'Foo'" }, keras.initializers.get, { class_name = "Foo", config = {} })
    E("InvalidArgument", { "Unknown regularizer: 'l3'" }, L.Dense, 3, { kernel_regularizer = "l3" })
    E("InvalidArgument", { "Unknown constraint: 'maxnormm'" }, L.Dense, 3, { kernel_constraint = "maxnormm" })
    E("InvalidArgument", { "could not interpret activation identifier: 5" }, keras.activations.get, 5)
  end)
end)

describe("weights", function()
  it("set_weights with the wrong count, shapes or type names the layer", function()
    local d = L.Dense(3)
    d(tf.ones({ 1, 2 }))
    E("InvalidArgument", { "Dense 'dense'", "expected 2 weights", "dense/kernel:0:float32[2,3]", "got 1" },
      d.set_weights, d, { tf.ones({ 2, 3 }) })
    E("InvalidArgument", { "Dense 'dense'", "weight 1 ('dense/kernel:0') has shape (2, 3)", "(2, 4)" },
      d.set_weights, d, { tf.ones({ 2, 4 }), tf.ones({ 3 }) })
    E("InvalidArgument", { "Dense 'dense'", "list of tensors, got number" }, d.set_weights, d, 5)
    local u = L.Dense(3)
    E("InvalidArgument", { "Dense 'dense_1'", "expected 0 weights" }, u.set_weights, u, { tf.ones({ 2, 3 }), tf.ones({ 3 }) })
    local m = mlp()
    E("InvalidArgument", { "Sequential 'sequential'", "expected 4 weights, got 1" }, m.set_weights, m, { tf.ones({ 3, 4 }) })
    local w = m:get_weights()
    w[1] = tf.ones({ 4, 3 })
    E("InvalidArgument", { "Sequential 'sequential", "/kernel:0'", "(3, 4), got (4, 3)" }, m.set_weights, m, w)
  end)

  it("add_weight with a bad initializer or shape names the layer", function()
    local A = L.Layer:extend("BadInit")
    function A:build() self.k = self:add_weight{ name = "k", shape = { 2, 2 }, initializer = "foo" } end
    E("InvalidArgument", { "Unknown initializer: 'foo'" }, A(), tf.ones({ 1, 2 }))
    local B = L.Layer:extend("BadShape")
    function B:build() self.k = self:add_weight{ name = "k", shape = { 2, -1 } } end
    E("InvalidArgument", { "BadShape 'bad_shape'", "add_weight 'k'", "(2, -1)" }, B(), tf.ones({ 1, 2 }))
  end)

  it("add_weight dtype, trainable setter, add_loss functions, InputSpec fields", function()
    local A = L.Layer:extend("BadDtype")
    function A:build() self.k = self:add_weight{ name = "k", shape = { 2 }, dtype = "foo" } end
    E("InvalidArgument", { "BadDtype 'bad_dtype'", "add_weight 'k'", "dtype must be a dtype name", "foo" }, A(), tf.ones({ 1, 2 }))
    local d = L.Dense(2)
    E("InvalidArgument", { "Dense 'dense'", "trainable must be a boolean, got x" }, function() d.trainable = "x" end)
    assert.is_true(d.trainable)
    local B = L.Layer:extend("LossFn")
    function B:call(x) self:add_loss(function() return "x" end) return x end
    local b = B()
    b(tf.ones({ 1, 2 }))
    E("InvalidArgument", { "LossFn 'loss_fn'", "add_loss returned string" }, function() return b.losses end)
    E("InvalidArgument", { "InputSpec: ndim must be a non-negative integer, got x" }, L.InputSpec, { ndim = "x" })
    E("InvalidArgument", { "InputSpec: axes maps integer axes to integer sizes" }, L.InputSpec, { axes = { [-1] = "x" } })
    E("InvalidArgument", { "InputSpec: unknown option 'ndimm'" }, L.InputSpec, { ndimm = 2 })
  end)

  it("count_params of an unbuilt layer", function()
    E("FailedPrecondition", { "Dense 'dense'", "count_params needs a built layer" }, function() L.Dense(2):count_params() end)
  end)
end)

describe("custom layers", function()
  it("init that forgets super.init", function()
    local N = L.Layer:extend("NoSuper")
    function N:init() self.w = 1 end
    function N:call(x) return x end
    E("FailedPrecondition", { "NoSuper", "NoSuper.super.init(self, opts)" }, N(), tf.ones({ 1, 2 }))
  end)

  it("assigning to a computed property (weights, layers, losses) is an error, not a silent shadow", function()
    for _, k in ipairs({ "weights", "layers", "losses", "trainable_variables" }) do
      local N = L.Layer:extend("Shadow_" .. k)
      function N:init(o) N.super.init(self, o) self[k] = {} end
      E("InvalidArgument", { ": " .. k .. " is a read-only property", "another name" }, N)
    end
  end)

  it("build that forgets super.build still marks the layer built", function()
    local N = L.Layer:extend("NoSuperBuild")
    function N:build(s) self.k = self:add_weight{ name = "k", shape = { s[-1], 2 } } end
    function N:call(x) return tf.matmul(x, self.k) end
    local n = N()
    n(tf.ones({ 1, 2 }))
    assert.is_true(n.built)
    assert.equal(1, #n.weights)
  end)

  it("call that returns nil, eagerly, in Sequential and on symbolic input", function()
    local N = L.Layer:extend("Forgetful")
    function N:call(x) end
    E("InvalidArgument", { "Forgetful 'forgetful'", "call returned nil", "Forgetful:call", "return" }, N(), tf.ones({ 1, 2 }))
    E("InvalidArgument", { "Forgetful 'forgetful_1'", "call returned nil" }, keras.Sequential{ N(), L.Dense(2) }, tf.ones({ 1, 2 }))
    E("InvalidArgument", { "Forgetful 'forgetful_2'", "call returned nil" }, N(), keras.Input{ shape = { 2 } })
    local M = keras.Model:extend("ForgetfulModel")
    function M:call(x) end
    E("InvalidArgument", { "ForgetfulModel 'forgetful_model'", "call returned nil" }, M(), tf.ones({ 1, 2 }))
  end)
end)

describe("losses and metrics", function()
  it("losses given mismatched shapes name the loss and both shapes", function()
    E("InvalidArgument", { "MeanSquaredError 'mean_squared_error'", "float32[2,3]", "float32[2,4]", "not broadcast-compatible" },
      keras.losses.MeanSquaredError(), tf.ones({ 2, 3 }), tf.ones({ 2, 4 }))
    E("InvalidArgument", { "mean_squared_error:", "float32[3,3]" }, keras.losses.mean_squared_error, tf.ones({ 2, 3 }), tf.ones({ 3, 3 }))
    E("InvalidArgument", { "CategoricalCrossentropy 'categorical_crossentropy'", "same shape", "float32[2,4]" },
      keras.losses.CategoricalCrossentropy(), tf.ones({ 2, 3 }), tf.ones({ 2, 4 }))
    E("InvalidArgument", { "BinaryCrossentropy 'binary_crossentropy'", "same shape" },
      keras.losses.BinaryCrossentropy(), tf.ones({ 2, 3 }), tf.ones({ 4 }))
    E("InvalidArgument", { "SparseCategoricalCrossentropy 'sparse_categorical_crossentropy'", "int32[3]", "float32[2,3]" },
      keras.losses.SparseCategoricalCrossentropy(), tf.constant({ 0, 1, 2 }, "int32"), tf.ones({ 2, 3 }))
    E("InvalidArgument", { "SparseCategoricalCrossentropy 'sparse_categorical_crossentropy", "non-integer class indices", "float32[2]" },
      keras.losses.SparseCategoricalCrossentropy(), tf.constant({ 0.5, 1 }), tf.ones({ 2, 2 }))
    E("InvalidArgument", { "sparse_categorical_crossentropy", "non-integer" },
      keras.losses.sparse_categorical_crossentropy, tf.constant({ 0 / 0, 1 }), tf.ones({ 2, 2 }))
    -- integral float labels are class numbers, as Keras
    helpers.assert_close(keras.losses.SparseCategoricalCrossentropy()(tf.constant({ 1, 0 }), tf.constant({ { 0.2, 0.8 }, { 0.5, 0.5 } })),
      (-math.log(0.8) - math.log(0.5)) / 2, 1e-6)
    E("InvalidArgument", { "label value of 5", "[0, 3)" },
      keras.losses.SparseCategoricalCrossentropy(), tf.constant({ 0, 5 }, "int32"), tf.ones({ 2, 3 }))
    E("InvalidArgument", { "MeanSquaredError", "sample_weight float32[5]" },
      keras.losses.MeanSquaredError(), tf.ones({ 2, 3 }), tf.ones({ 2, 3 }), tf.ones({ 5 }))
  end)

  it("custom losses and metrics that return nothing or skip super.init", function()
    local LL = keras.losses.Loss:extend("Forgets")
    function LL:call() end
    E("InvalidArgument", { "Forgets 'forgets'", "call returned nil", "must return a tensor" }, LL(), tf.ones({ 1 }), tf.ones({ 1 }))
    local m = mlp()
    m:compile{ optimizer = "sgd", loss = function() return "x" end }
    E("InvalidArgument", { "call returned string", "must return a tensor" }, m.fit, m, x3, y2, { verbose = 0 })
    local w = keras.metrics.MeanMetricWrapper(function() end, { name = "nothing" })
    E("InvalidArgument", { "MeanMetricWrapper 'nothing'", "returned nil" }, w.update_state, w, tf.ones({ 1 }), tf.ones({ 1 }))
    local MM = keras.metrics.Metric:extend("NoSuperMetric")
    function MM:init() self.total = self:add_weight("total", { initializer = "zeros" }) end
    E("FailedPrecondition", { "NoSuperMetric", "NoSuperMetric.super.init(self, opts)" }, MM)
    local M2 = keras.metrics.Metric:extend("NoResult")
    function M2:init(o) M2.super.init(self, o) end
    E("Unimplemented", { "NoResult 'no_result'", "must define result" }, function() M2():result() end)
    E("Unimplemented", { "must define update_state" }, function() M2():update_state(1, 2) end)
    E("Unimplemented", { "NoCall: a Loss subclass must define call" }, keras.losses.Loss:extend("NoCall")(), tf.ones({ 1 }), tf.ones({ 1 }))
  end)

  it("loss options", function()
    E("InvalidArgument", { "MeanSquaredError", "invalid reduction 'foo'", "sum_over_batch_size" },
      keras.losses.MeanSquaredError, { reduction = "foo" })
    E("InvalidArgument", { "Huber", "delta must be a positive number, got -1" }, keras.losses.Huber, { delta = -1 })
  end)

  it("metrics given mismatched shapes name the metric or its function", function()
    local function upd(m, a, b) return function() m:update_state(a, b) end end
    E("InvalidArgument", { "accuracy:", "float32[2,3]", "float32[2,4]" }, upd(keras.metrics.Accuracy(), tf.ones({ 2, 3 }), tf.ones({ 2, 4 })))
    E("InvalidArgument", { "binary_accuracy:" }, upd(keras.metrics.BinaryAccuracy(), tf.ones({ 2, 3 }), tf.ones({ 2, 4 })))
    E("InvalidArgument", { "categorical_accuracy:" }, upd(keras.metrics.CategoricalAccuracy(), tf.ones({ 2, 3 }), tf.ones({ 3, 3 })))
    E("InvalidArgument", { "sparse_categorical_accuracy:", "y_true float32[3]" },
      upd(keras.metrics.SparseCategoricalAccuracy(), tf.ones({ 3 }), tf.ones({ 2, 3 })))
    E("InvalidArgument", { "SparseCategoricalAccuracy 'sparse_categorical_accuracy'", "3 labels", "2 rows" },
      upd(keras.metrics.SparseCategoricalAccuracy(), tf.constant({ 1, 2, 0 }, "int32"), tf.ones({ 2, 3 })))
    E("InvalidArgument", { "mean_absolute_error:" }, upd(keras.metrics.MeanAbsoluteError(), tf.ones({ 2, 3 }), tf.ones({ 3, 3 })))
    E("InvalidArgument", { "AUC 'auc'", "float32[3]", "float32[2]" }, upd(keras.metrics.AUC(), tf.ones({ 3 }), tf.ones({ 2 })))
    E("InvalidArgument", { "Precision 'precision'" }, upd(keras.metrics.Precision(), tf.ones({ 3 }), tf.ones({ 2 })))
    E("InvalidArgument", { "Precision 'precision", "class_id 5 is out of range", "3 classes" },
      upd(keras.metrics.Precision({ class_id = 5 }), tf.ones({ 2, 3 }), tf.ones({ 2, 3 })))
  end)

  it("metric, initializer, regularizer, constraint options", function()
    local m = keras.metrics.TopKCategoricalAccuracy({ k = 0 })
    E("InvalidArgument", { "k must be a positive integer, got 0" }, m.update_state, m, tf.ones({ 2, 3 }), tf.ones({ 2, 3 }))
    E("InvalidArgument", { "Precision 'precision", "thresholds must be numbers in [0, 1], got 2" }, keras.metrics.Precision, { thresholds = 2 })
    E("InvalidArgument", { "AUC 'auc", "curve must be 'ROC' or 'PR', got XX" }, keras.metrics.AUC, { curve = "XX" })
    E("InvalidArgument", { "MeanMetricWrapper: fn must be a function, got number" }, keras.metrics.MeanMetricWrapper, 5)
    E("InvalidArgument", { "keras.losses: expected a tensor, got nil" }, function() keras.metrics.Mean():update_state(nil) end)
    E("InvalidArgument", { "Constant: value must be a number", "'a'" }, keras.initializers.Constant, "a")
    E("InvalidArgument", { "RandomNormal: unknown option 'stdev'" }, keras.initializers.RandomNormal, { stdev = 1 })
    E("InvalidArgument", { "VarianceScaling: mode must be", "fan_x" }, keras.initializers.VarianceScaling, { mode = "fan_x" })
    E("InvalidArgument", { "GlorotUniform: shape must be fully defined", "-1" }, function() keras.initializers.GlorotUniform()({ -1, 2 }) end)
    E("InvalidArgument", { "L2: l2 must be a non-negative number, got -1" }, keras.regularizers.L2, -1)
    E("InvalidArgument", { "L1L2: unknown option 'l3'" }, keras.regularizers.L1L2, { l3 = 1 })
    E("InvalidArgument", { "MaxNorm: unknown option 'max_valu'" }, keras.constraints.MaxNorm, { max_valu = 2 })
  end)

  it("unknown loss / metric / optimizer names", function()
    E("InvalidArgument", { "Unknown loss: 'msee'", "custom_objects" }, keras.losses.get, "msee")
    E("InvalidArgument", { "Unknown metric: 'acc2'" }, keras.metrics.get, "acc2")
    E("InvalidArgument", { "Unknown optimizer: 'nadamm'", "nadam" }, keras.optimizers.get, "nadamm")
    E("InvalidArgument", { "could not interpret optimizer identifier: 5" }, keras.optimizers.get, 5)
    E("InvalidArgument", { "Could not interpret loss identifier: 5" }, keras.losses.get, 5)
  end)

  it("optimizer options and gradients", function()
    E("InvalidArgument", { "Adam: learning_rate must be a number" }, keras.optimizers.Adam, { learning_rate = "a" })
    E("InvalidArgument", { "Adam: unknown option 'learnin_rate'" }, keras.optimizers.Adam, { learnin_rate = 0.1 })
    local v = tf.Variable(tf.ones({ 2 }))
    local a = keras.optimizers.Adam()
    a.learning_rate = "x"
    E("InvalidArgument", { "Adam: learning_rate must be a number", "'x'" }, a.apply_gradients, a, { { tf.ones({ 2 }), v } })
    E("InvalidArgument", { "keras.optimizers.serialize: expected an optimizer, got number" }, keras.optimizers.serialize, 5)
    E("InvalidArgument", { "SGD: clipvalue must be a non-negative number, got x" }, keras.optimizers.SGD, { clipvalue = "x" })
    E("InvalidArgument", { "vars[1] is a userdata, not a tf.Variable" }, function()
      keras.optimizers.Adam():apply_gradients({ { v, tf.ones({ 2 }) } })
    end)
    local o = keras.optimizers.SGD()
    E("InvalidArgument", { "SGD.apply_gradients", "float32[3]", "float32[2]" }, o.apply_gradients, o, { { tf.ones({ 3 }), v } })
  end)
end)

describe("models", function()
  local Sub = keras.Model:extend("Sub")
  function Sub:init(o) Sub.super.init(self, o); self.d = L.Dense(2) end
  function Sub:call(x) return self.d(x) end

  it("an unbuilt subclassed model or Sequential without input_shape", function()
    local function unbuilt(pat, f) E("FailedPrecondition", { pat, "has not yet been built" }, f) end
    unbuilt("Sub 'sub'", function() Sub():summary() end)
    unbuilt("Sub 'sub_1'", function() return Sub().weights end)
    unbuilt("count_params", function() Sub():count_params() end)
    unbuilt("Sequential 'sequential'", function() keras.Sequential{ L.Dense(2) }:summary() end)
    unbuilt("count_params", function() keras.Sequential{ L.Dense(2) }:count_params() end)
    unbuilt("Sequential", function() return keras.Sequential{ L.Dense(2) }.weights end)
    unbuilt("get_weights", function() keras.Sequential{ L.Dense(2) }:get_weights() end)
    unbuilt("Sequential", function() keras.Sequential{ L.Dense(2) }:save(dir .. "/u.keras") end)
  end)

  it("Sequential, Input and Model construction", function()
    E("InvalidArgument", { "Sequential 'sequential'.add", "instance of class Layer", "5" }, function() keras.Sequential{ 5 } end)
    E("InvalidArgument", { ".add", "Received: nil" }, function() keras.Sequential():add(nil) end)
    E("InvalidArgument", { "dimension 1 must be a non-negative integer", "-3" }, function() keras.Input{ shape = { -3 } } end)
    E("InvalidArgument", { "Model 'model'", "outputs must be a KerasTensor", "number" }, function()
      keras.Model{ inputs = keras.Input{ shape = { 3 } }, outputs = 5 }
    end)
    E("InvalidArgument", { "No such layer: nope", "dense, dense_1" }, function() mlp():get_layer("nope") end)
  end)

  it("keras.Input: a shape that is not a list of dimensions", function()
    E("InvalidArgument", { "InputLayer", "shape must be a list of dimensions", "string abc" }, function() keras.Input{ shape = "abc" } end)
    E("InvalidArgument", { "InputLayer", "shape must be a list of dimensions", "1.5" }, function() keras.Input{ shape = { 1.5 } } end)
  end)

  it("functional models: wrong feature size and input count", function()
    local i = keras.Input{ shape = { 3 } }
    local m = keras.Model{ inputs = i, outputs = L.Dense(2)(i) }
    E("InvalidArgument", { "Dense 'dense'", "last dimension 3", "float32[2,4]" }, m, tf.ones({ 2, 4 }))
    local a, b = keras.Input{ shape = { 3 } }, keras.Input{ shape = { 3 } }
    local m2 = keras.Model{ inputs = { a, b }, outputs = L.Add()({ a, b }) }
    E("InvalidArgument", { "Model 'model_1' expects 2 inputs, got 1" }, m2, tf.ones({ 2, 3 }))
  end)

  it("compile: unknown names and keys", function()
    E("InvalidArgument", { "Unknown optimizer: 'nadamm'" }, function() mlp():compile{ optimizer = "nadamm", loss = "mse" } end)
    E("InvalidArgument", { "Unknown loss: 'msee'" }, function() mlp():compile{ optimizer = "adam", loss = "msee" } end)
    E("InvalidArgument", { "could not interpret optimizer identifier: 5" }, function() mlp():compile{ optimizer = 5, loss = "mse" } end)
    E("InvalidArgument", { "compile: unknown option 'metric'" }, function() mlp():compile{ optimizer = "adam", loss = "mse", metric = { "mae" } } end)
    E("InvalidArgument", { "loss_weights has 2 entries for 1 outputs" }, function()
      local m = mlp()
      m:compile{ optimizer = "adam", loss = "mse", loss_weights = { 1, 2 } }
      m:fit(x3, y2, { verbose = 0 })
    end)
    -- an unknown metric name surfaces at the first fit (Keras builds metrics lazily too)
    E("InvalidArgument", { "Unknown metric: 'acc2'" }, function()
      local m = mlp()
      m:compile{ optimizer = "adam", loss = "mse", metrics = { "acc2" } }
      m:fit(x3, y2, { verbose = 0 })
    end)
  end)

  it("fit / evaluate / predict / train_on_batch misuse", function()
    E("FailedPrecondition", { "Sequential 'sequential'.fit", "must compile your model" }, function() mlp():fit(x3, y2, { verbose = 0 }) end)
    E("FailedPrecondition", { ".evaluate", "must compile" }, function() mlp():evaluate(x3, y2, { verbose = 0 }) end)
    E("FailedPrecondition", { ".train_on_batch", "must compile" }, function() mlp():train_on_batch(x3, y2) end)
    local m = compiled()
    E("InvalidArgument", { "Data cardinality is ambiguous", "x sizes: 4; y sizes: 5" }, m.fit, m, x3, tf.ones({ 5, 2 }), { verbose = 0 })
    E("InvalidArgument", { "x sizes: 4; y sizes: 3" }, m.evaluate, m, x3, tf.ones({ 3, 2 }), { verbose = 0 })
    E("InvalidArgument", { "sample_weight sizes: 5" }, m.fit, m, x3, y2, { verbose = 0, sample_weight = tf.ones({ 5 }) })
    E("InvalidArgument", { "compiled with a loss but no y was given" }, m.fit, m, x3, nil, { verbose = 0 })
    E("InvalidArgument", { ".fit: x is required" }, m.fit, m, nil, y2, { verbose = 0 })
    E("InvalidArgument", { "x must be a tensor", "got string" }, m.fit, m, "abc", y2, { verbose = 0 })
    E("InvalidArgument", { "Dense 'dense_", "last dimension 3", "float32[4,5]" }, m.fit, m, tf.ones({ 4, 5 }), y2, { verbose = 0 })
    E("InvalidArgument", { "MeanSquaredError", "float32[4,3]", "float32[4,2]" }, m.fit, m, x3, tf.ones({ 4, 3 }), { verbose = 0 })
    E("InvalidArgument", { ".fit: unknown option 'epoch'" }, m.fit, m, x3, y2, { verbose = 0, epoch = 3 })
    E("InvalidArgument", { "batch_size must be a positive integer, got 0" }, m.fit, m, x3, y2, { verbose = 0, batch_size = 0 })
    E("InvalidArgument", { "epochs must be a positive integer, got -1" }, m.fit, m, x3, y2, { verbose = 0, epochs = -1 })
    E("InvalidArgument", { "epochs must be a positive integer, got a" }, m.fit, m, x3, y2, { verbose = 0, epochs = "a" })
    E("InvalidArgument", { "validation_split must be a number in (0, 1), got 1.5" }, m.fit, m, x3, y2, { verbose = 0, validation_split = 1.5 })
    E("InvalidArgument", { "validation_data must be {x_val, y_val}" }, m.fit, m, x3, y2, { verbose = 0, validation_data = x3 })
    E("InvalidArgument", { "Dense 'dense_", "float32[4,5]" }, m.fit, m, x3, y2, { verbose = 0, validation_data = { tf.ones({ 4, 5 }), y2 } })
    E("InvalidArgument", { "callbacks: expected keras.callbacks.Callback objects, got 5" }, m.fit, m, x3, y2, { verbose = 0, callbacks = { 5 } })
    E("InvalidArgument", { "verbose must be", "loud" }, m.fit, m, x3, y2, { verbose = "loud" })
    E("InvalidArgument", { "Dense 'dense_", "last dimension 3", "float32[4,5]" }, m.predict, m, tf.ones({ 4, 5 }), { verbose = 0 })
    E("InvalidArgument", { "Dense 'dense_", "rank at least 2" }, m.predict, m, tf.ones({ 4 }), { verbose = 0 })
    E("InvalidArgument", { ".predict: batch_size must be a positive integer, got 0" }, m.predict, m, x3, { batch_size = 0 })
    local n = mlp()
    n:compile{ optimizer = "adam" }
    E("InvalidArgument", { "No loss to compute" }, n.fit, n, x3, y2, { verbose = 0 })
  end)

  it("functional models: input count and input names", function()
    local i = keras.Input{ shape = { 3 }, name = "a" }
    local m = keras.Model{ inputs = i, outputs = L.Dense(2)(i) }
    E("InvalidArgument", { "Model 'model' expects 1 input, got 2" }, m, { tf.ones({ 1, 3 }), tf.ones({ 1, 3 }) })
    m:compile{ optimizer = "sgd", loss = "mse" }
    E("InvalidArgument", { "x is a name-keyed table (keys: b)", "not name-keyed (input: a)" },
      function() m:fit({ b = tf.ones({ 2, 3 }) }, tf.ones({ 2, 2 }), { verbose = 0 }) end)
    local a, b = keras.Input{ shape = { 3 }, name = "a" }, keras.Input{ shape = { 2 }, name = "b" }
    local m2 = keras.Model{ inputs = { a = a, b = b }, outputs = L.Dense(1)(L.Concatenate()({ a, b })) }
    E("InvalidArgument", { "no input named 'c'", "its inputs: a, b" }, m2, { a = tf.ones({ 2, 3 }), b = tf.ones({ 2, 2 }), c = tf.ones({ 2, 1 }) })
    assert.same({ 2, 1 }, m2({ a = tf.ones({ 2, 3 }), b = tf.ones({ 2, 2 }) }).shape:as_list())
  end)

  it("model methods called with a dot name the slip", function()
    local m = keras.Sequential{ L.Dense(2, { input_shape = { 3 } }) }
    E("InvalidArgument", { "Model.predict: called without a model as self", "model:predict(...) with a colon" }, m.predict, tf.ones({ 1, 3 }))
    E("InvalidArgument", { "Model.compile: called without a model as self" }, m.compile, { loss = "mse" })
    E("InvalidArgument", { "Model.fit: called without a model as self" }, m.fit, tf.ones({ 1, 3 }), tf.ones({ 1, 2 }))
    E("InvalidArgument", { "Sequential.add: called without a model as self (got the class)" },
      function() keras.Sequential:add(L.Dense(2)) end)
    E("InvalidArgument", { "Sequential.add: called without a model as self" }, m.add, L.Dense(2))
    assert.same({ 1, 2 }, m:predict(tf.ones({ 1, 3 })).shape:as_list())
  end)

  it("fit: class_weight must be a table", function()
    local m = keras.Sequential{ L.Dense(2, { activation = "softmax", input_shape = { 3 } }) }
    m:compile{ optimizer = "sgd", loss = "sparse_categorical_crossentropy" }
    E("InvalidArgument", { ".fit: class_weight must be a table", "number" }, function()
      m:fit(tf.ones({ 4, 3 }), tf.constant({ 0, 1, 0, 1 }), { class_weight = 5, verbose = 0 })
    end)
  end)

  it("fit with NaN in x reports a NaN loss (as Keras) rather than a number", function()
    local m = compiled()
    local h = m:fit(tf.constant({ { 0 / 0, 1, 2 } }), tf.ones({ 1, 2 }), { verbose = 0 })
    local l = h.history.loss[1]
    assert.is_true(l ~= l)
  end)
end)

describe("callbacks", function()
  -- Keras warns (and carries on) for an unknown monitor or mode; tlua does the same.
  it("unknown options are errors; scheduler output is checked", function()
    E("InvalidArgument", { "EarlyStopping: unknown option 'monitr'" }, keras.callbacks.EarlyStopping, { monitr = "loss" })
    local m = compiled()
    E("InvalidArgument", { "LearningRateScheduler", "should be a number, got string" }, m.fit, m, x3, y2,
      { verbose = 0, callbacks = { keras.callbacks.LearningRateScheduler(function() return "x" end) } })
    E("InvalidArgument", { "LearningRateScheduler", "got nil" }, m.fit, m, x3, y2,
      { verbose = 0, callbacks = { keras.callbacks.LearningRateScheduler(function() end) } })
    E("NotFound", { "CSVLogger", "/proc/nope/x.csv" }, m.fit, m, x3, y2,
      { verbose = 0, callbacks = { keras.callbacks.CSVLogger("/proc/nope/x.csv") } })
  end)

  it("a monitor that is not logged warns (as Keras) naming it and the available metrics, and training goes on", function()
    local captured = {}
    local real = io.stderr
    io.stderr = { write = function(_, ...) for _, v in ipairs({ ... }) do captured[#captured + 1] = v end end }
    local ok, err = pcall(function()
      local m = compiled()
      local h = m:fit(x3, y2, { verbose = 0, epochs = 3, callbacks = {
        keras.callbacks.EarlyStopping({ monitor = "val_losss", patience = 0 }),
        keras.callbacks.ModelCheckpoint(dir .. "/never.keras", { monitor = "foo", save_best_only = true }),
      } })
      assert.equal(3, #h.history.loss)
    end)
    io.stderr = real
    assert(ok, tostring(err))
    local text = table.concat(captured)
    assert.truthy(text:find("Early stopping conditioned on metric `val_losss` which is not available. Available metrics are: loss", 1, true))
    assert.truthy(text:find("Can save best model only with foo available, skipping.", 1, true))
    assert.is_nil(io.open(dir .. "/never.keras", "rb"))
  end)

  it("Progbar and EarlyStopping check their numbers", function()
    E("InvalidArgument", { "Progbar:update: current must be the number of steps done, got string" },
      function() keras.utils.Progbar(10, { verbose = 0 }):update("x") end)
    E("InvalidArgument", { "Progbar: target must be a non-negative number", "a" }, function() keras.utils.Progbar("a") end)
    E("InvalidArgument", { "EarlyStopping: patience must be a non-negative integer", "a" },
      function() keras.callbacks.EarlyStopping{ patience = "a" } end)
  end)
end)

describe("files", function()
  local good
  setup(function()
    keras.backend.clear_session()
    good = dir .. "/good.keras"
    mlp():save(good)
  end)

  it("missing, empty, truncated, foreign and corrupt files", function()
    E("NotFound", { dir .. "/nope.keras", "cannot open" }, keras.models.load_model, dir .. "/nope.keras")
    local s = read(good)
    write(dir .. "/empty.keras", "")
    E("DataLoss", { "empty.keras", "not a safetensors file", "0 bytes" }, keras.models.load_model, dir .. "/empty.keras")
    write(dir .. "/t5.keras", s:sub(1, 5))
    E("DataLoss", { "t5.keras", "shorter than the 8-byte header" }, keras.models.load_model, dir .. "/t5.keras")
    write(dir .. "/half.keras", s:sub(1, #s // 2))
    E("DataLoss", { "half.keras", "truncated" }, keras.models.load_model, dir .. "/half.keras")
    local n = string.unpack("<I8", s)
    write(dir .. "/short.keras", s:sub(1, #s - 4))
    E("DataLoss", { "short.keras" }, keras.models.load_model, dir .. "/short.keras")
    write(dir .. "/zip.keras", "PK\3\4 a zip (a Keras 3 .keras file) is foreign here")
    E("DataLoss", { "zip.keras", "not a safetensors file" }, keras.models.load_model, dir .. "/zip.keras")
    write(dir .. "/huge.keras", string.pack("<I8", 1 << 60) .. "{}")
    E("DataLoss", { "huge.keras", "does not fit" }, keras.models.load_model, dir .. "/huge.keras")
    local j = "{not json"
    write(dir .. "/json.keras", string.pack("<I8", #j) .. j)
    E("DataLoss", { "json.keras", "invalid JSON" }, keras.models.load_model, dir .. "/json.keras")
    local h = s:sub(9, 8 + n):gsub('"F32"', '"Q99"', 1)
    write(dir .. "/dtype.keras", s:sub(1, 8) .. h .. s:sub(9 + n))
    E("DataLoss", { "dtype.keras", "dtype Q99" }, keras.models.load_model, dir .. "/dtype.keras")
    j = '{"__metadata__":{},"w":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}}'
    write(dir .. "/off.keras", string.pack("<I8", #j) .. j .. string.pack("<f", 1))
    E("DataLoss", { "off.keras", "tensor 'w'" }, keras.models.load_model, dir .. "/off.keras")
    j = '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    write(dir .. "/plain.keras", string.pack("<I8", #j) .. j .. string.pack("<f", 1))
    E("InvalidArgument", { "plain.keras", "without a saved tlua model" }, keras.models.load_model, dir .. "/plain.keras")
    E("DataLoss", { "cannot read" }, keras.models.load_model, dir)
    E("InvalidArgument", { "path must be a string, got nil" }, keras.models.load_model, nil)
  end)

  it("weights files and models do not mix", function()
    local w = dir .. "/w.weights.h5"
    mlp():save_weights(w)
    E("InvalidArgument", { "w.weights.h5", "weights only", "load_weights" }, keras.models.load_model, w)
    local m2 = keras.Sequential{ L.Dense(5, { input_shape = { 3 } }) }
    E("InvalidArgument", { "w.weights.h5", "holds 4 weights", "has 2" }, m2.load_weights, m2, w)
    E("NotFound", { "nope.h5" }, m2.load_weights, m2, dir .. "/nope.h5")
  end)

  it("unknown custom objects on load name the class and custom_objects", function()
    local Sub = keras.Model:extend("Sub2")
    function Sub:init(o) Sub.super.init(self, o); self.d = L.Dense(2) end
    function Sub:call(x) return self.d(x) end
    local m = keras.Sequential{ Sub() }
    m(tf.ones({ 1, 3 }))
    m:save(dir .. "/sub.keras")
    E("InvalidArgument", { "Unknown layer: 'Sub2'", "custom_objects", "Sub2 = Sub2" }, keras.models.load_model, dir .. "/sub.keras")
    local s = read(good)
    local n = string.unpack("<I8", s)
    local h = s:sub(9, 8 + n):gsub("Dense", "Dxnse", 1)
    write(dir .. "/renamed.keras", string.pack("<I8", #h) .. h .. s:sub(9 + n))
    E("InvalidArgument", { "Unknown layer: 'Dxnse'", "custom_objects" }, keras.models.load_model, dir .. "/renamed.keras")
    local function huber_fn(a, b) return keras.losses.mse(a, b) end
    local c = mlp()
    c:compile{ optimizer = "adam", loss = huber_fn }
    c:save(dir .. "/fn.keras")
    E("InvalidArgument", { "Unknown loss: 'huber_fn'", "custom_objects = {huber_fn = huber_fn}" },
      keras.models.load_model, dir .. "/fn.keras")
  end)

  it("a custom layer without get_config: options survive, what cannot is an error at save", function()
    local S = L.Layer:extend("ScaleBy")
    function S:init(o) S.super.init(self, o) self.k = o.k or 1 end
    function S:call(x) return x * self.k end
    local m = keras.Sequential{ L.Dense(2, { input_shape = { 3 } }), S{ k = 3 } }
    m:save(dir .. "/scale.keras")
    local m2 = keras.models.load_model(dir .. "/scale.keras", { custom_objects = { ScaleBy = S } })
    assert.equal(3, m2.layers[2].k)
    helpers.assert_close(m2(tf.ones({ 1, 3 })), m(tf.ones({ 1, 3 })))
    local f = keras.Sequential{ L.Dense(2, { input_shape = { 3 } }), S{ k = 3, fn = function() end } }
    E("Unimplemented", { "ScaleBy 'scale_by_1'", "option 'fn' (a function)", "override ScaleBy:get_config" },
      f.save, f, dir .. "/scale2.keras")
    local P = L.Layer:extend("Positional")
    function P:init(u, o) P.super.init(self, o) self.u = u end
    function P:call(x) return x * self.u end
    local p = keras.Sequential{ L.Dense(2, { input_shape = { 3 } }), P(3) }
    E("Unimplemented", { "Positional 'positional'", "Positional:init takes the parameters (u, o)", "override Positional:get_config" },
      p.save, p, dir .. "/pos.keras")
  end)

  it("unknown layer names in configs", function()
    E("InvalidArgument", { "Unknown layer: 'Densse'", "custom_objects" }, keras.Sequential.from_config,
      { name = "s", layers = { { class_name = "Densse", config = { units = 2 } } } })
    E("InvalidArgument", { "Unknown layer: 'Dense2'", "custom_objects" }, keras.saving.deserialize_keras_object,
      { class_name = "Dense2", config = {} }, { kind = "layer", module_objects = keras.layers })
    E("InvalidArgument", { "Dense: unknown option 'foo'" }, keras.saving.deserialize_keras_object,
      { class_name = "Dense", config = { units = 2, foo = 1 } }, { kind = "layer", module_objects = keras.layers })
    E("InvalidArgument", { "deserialize_keras_object: expected a name or {class_name=, config=}, got 5" },
      keras.saving.deserialize_keras_object, 5, { kind = "layer" })
  end)

  it("deserialize finds builtin classes without module_objects; a custom object must be a class or function", function()
    local d = keras.saving.deserialize_keras_object({ class_name = "Dense", config = { units = 2 } }, { kind = "layer" })
    assert.equal(2, d.units)
    local NC = L.Layer:extend("NC")
    function NC:call(x) return x end
    local m = keras.Sequential{ L.Dense(2, { input_shape = { 3 } }), NC() }
    local path = dir .. "/nc.safetensors"
    m:save(path)
    E("InvalidArgument", { "custom_objects.NC must be a class or a function", "layer 'NC'", "number" },
      function() keras.models.load_model(path, { custom_objects = { NC = 5 } }) end)
    local back = keras.models.load_model(path, { custom_objects = { NC = NC } })
    assert.equal(2, #back.layers)
  end)
  it("load_model: custom_objects must be a table", function()
    E("InvalidArgument", { "load_model: custom_objects must be a table", "number" },
      function() keras.models.load_model(dir .. "/any.safetensors", { custom_objects = 5 }) end)
  end)
  it("keras.layers.serialize / deserialize round trip; unknown names are errors", function()
    local spec = L.serialize(L.Dense(3, { activation = "relu" }))
    assert.equal("Dense", spec.class_name)
    local d = L.deserialize(spec)
    assert.equal(3, d.units)
    assert.equal(keras.activations.relu, d.activation)
    E("InvalidArgument", { "Unknown layer: 'Dense2'", "custom_objects" }, L.deserialize, { class_name = "Dense2", config = {} })
    local C = L.Layer:extend("CustomForDeser")
    assert.equal("c", L.deserialize({ class_name = "CustomForDeser", config = { name = "c" } }, { CustomForDeser = C }).name)
  end)
end)
