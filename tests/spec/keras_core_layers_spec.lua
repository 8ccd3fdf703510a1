-- keras.layers core (Dense, Dropout, GaussianNoise, Flatten, Reshape,
-- Activation, Embedding, Lambda, RepeatVector, Permute, Masking,
-- ActivityRegularization, Identity), keras.activations, keras.regularizers
-- and keras.constraints against Keras 3 fixtures: the same weights in, the
-- same outputs out (tests/spec/fixtures/keras/core_layers.json, written by
-- tools/keras_fixtures/core_layers.py); statistics of the random layers;
-- shapes, configs and error messages.
local tf = require("tlua")
local helpers = require("helpers")
local keras = tf.keras
local L = keras.layers

local src = os.getenv("TLUA_SOURCE_DIR") or "."
local function fixture(name)
  local f = assert(io.open(src .. "/tests/spec/fixtures/keras/" .. name, "r"))
  local text = f:read("a")
  f:close()
  return helpers.json_decode(text)
end
local F = fixture("core_layers.json")

local function close(actual, expected, rtol, atol)
  helpers.assert_close(actual, expected, rtol or 1e-5, atol or 1e-6)
end

local function dense_with_fixture_weights(opts)
  local layer = L.Dense(3, opts)
  layer(tf.zeros({ 1, 5 }))
  if opts and opts.use_bias == false then
    layer:set_weights({ F.kernel })
  else
    layer:set_weights({ F.kernel, F.bias })
  end
  return layer
end

local function mean_std(t)
  local m = tf.reduce_mean(t):item()
  local s = tf.sqrt(tf.reduce_mean(tf.square(t - m))):item()
  return m, s
end

before_each(function() keras.backend.clear_session() end)

describe("Dense", function()
  for _, act in ipairs({ "linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign",
                         "swish", "silu", "gelu", "exponential", "leaky_relu", "relu6", "hard_sigmoid",
                         "log_softmax", "hard_silu", "mish" }) do
    it("matches Keras with activation " .. act, function()
      local layer = dense_with_fixture_weights({ activation = act })
      close(layer(tf.constant(F.x)), F.dense[act], 1e-5, 1e-6)
    end)
  end

  it("matches Keras without a bias and with rank-3 inputs", function()
    local layer = dense_with_fixture_weights({ use_bias = false })
    assert.equal(1, #layer.weights)
    close(layer(tf.constant(F.x)), F.dense_no_bias)
    local l3 = L.Dense(3, { activation = "relu" })
    l3(tf.zeros({ 1, 3, 5 }))
    l3:set_weights({ F.kernel, F.bias })
    local y = l3(tf.constant(F.x3))
    assert.same({ 2, 3, 3 }, y.shape:as_list())
    close(y, F.dense_rank3)
  end)

  it("has Keras's weights, names, shapes and default initializers", function()
    local d = L.Dense(4)
    assert.is_false(d.built)
    d(tf.ones({ 2, 3 }))
    assert.is_true(d.built)
    assert.equal("dense", d.name)
    assert.equal("dense/kernel:0", d.kernel.name)
    assert.equal("dense/bias:0", d.bias.name)
    assert.same({ 3, 4 }, d.kernel.shape:as_list())
    assert.same({ 0, 0, 0, 0 }, d.bias:totable())
    assert.equal(16, d:count_params())
    assert.equal(d.kernel, d.trainable_variables[1])
    assert.equal(d.bias, d.trainable_variables[2])
    -- glorot_uniform limit sqrt(6 / (3 + 4))
    local limit = math.sqrt(6 / 7)
    assert.is_true(tf.reduce_max(tf.abs(d.kernel)):item() <= limit)
  end)

  it("accepts positional units, an options table, objects and functions", function()
    local d = L.Dense { units = 2, activation = keras.activations.tanh, kernel_initializer = keras.initializers.Ones(),
                        bias_initializer = "ones" }
    close(d(tf.constant({ { 1.0, 2.0 } })), { { math.tanh(4), math.tanh(4) } })
    local f = L.Dense(2, { activation = function(x) return x * 10 end, kernel_initializer = "zeros" })
    close(f(tf.constant({ { 1.0, 2.0 } })), { { 0, 0 } })
  end)

  it("accepts a leading unknown batch dimension in compute_output_shape", function()
    local d = L.Dense(7)
    local s = d:compute_output_shape(tf.TensorShape({ nil, 3, 5 }, 3))
    assert.equal(3, #s)
    assert.is_nil(s[0])
    assert.equal(7, s[-1])
    assert.equal("(None, 3, 7)", tostring(s))
    local s2 = d:compute_output_shape({ nil, 5, n = 2 })
    assert.equal("(None, 7)", tostring(s2))
  end)

  it("has Keras's config keys and round-trips through from_config", function()
    local d = L.Dense(3, { activation = "relu", kernel_regularizer = keras.regularizers.L2(0.05),
                           kernel_constraint = keras.constraints.MaxNorm(2), name = "d1" })
    local cfg = d:get_config()
    for _, k in ipairs(F.dense_config_keys) do
      if k ~= "quantization_config" and k ~= "kernel_regularizer" and k ~= "kernel_constraint"
        and k ~= "bias_regularizer" and k ~= "bias_constraint" then
        assert.is_not_nil(cfg[k], "missing config key " .. k)
      end
    end
    assert.equal("relu", cfg.activation)
    assert.equal("float32", cfg.dtype)
    assert.same({ class_name = "GlorotUniform", config = {} }, cfg.kernel_initializer)
    assert.same({ class_name = "L2", config = { l2 = 0.05 } }, cfg.kernel_regularizer)
    assert.same({ class_name = "MaxNorm", config = { max_value = 2, axis = 0 } }, cfg.kernel_constraint)
    local d2 = L.Dense.from_config(cfg)
    assert.equal("d1", d2.name)
    assert.equal(3, d2.units)
    assert.equal(keras.activations.relu, d2.activation)
    assert.same(cfg, d2:get_config())
  end)

  it("names Dense in its errors", function()
    local d = L.Dense(3)
    d(tf.ones({ 2, 4 }))
    helpers.assert_error("InvalidArgument", { "Dense 'dense'", "expected input with last dimension 4", "float32[2,5]" },
      function() d(tf.ones({ 2, 5 })) end)
    helpers.assert_error("InvalidArgument", { "Dense 'dense_1'", "rank at least 2", "float32[4]" },
      function() L.Dense(3)(tf.ones({ 4 })) end)
    helpers.assert_error("InvalidArgument", { "Dense", "units must be a positive integer", "0" }, function() L.Dense(0) end)
    helpers.assert_error("InvalidArgument", { "Dense", "unknown option 'unit'" }, function() L.Dense { unit = 3 } end)
    helpers.assert_error("InvalidArgument", { "Unknown activation: 'rellu'" }, function() L.Dense(3, { activation = "rellu" }) end)
    helpers.assert_error("InvalidArgument", { "Unknown initializer: 'glorot'" },
      function() L.Dense(3, { kernel_initializer = "glorot" }) end)
  end)

  it("records regularizer losses and the activity regularizer as Keras", function()
    local d = dense_with_fixture_weights({ kernel_regularizer = keras.regularizers.L2(0.05),
      bias_regularizer = keras.regularizers.L1(0.1), activity_regularizer = keras.regularizers.L1(0.01) })
    d(tf.constant(F.x))
    local losses = d.losses
    assert.equal(3, #losses)
    -- Keras's order: the activity loss of the call (L1 of the outputs over
    -- the batch size), then the kernel and bias penalties
    close({ losses[1]:item(), losses[2]:item(), losses[3]:item() }, F.dense_losses, 1e-5)
    -- the activity loss is replaced at the next call, the penalties follow the weights
    d(tf.constant(F.x))
    assert.equal(3, #d.losses)
    d.kernel:assign(tf.zeros({ 5, 3 }))
    close(d.losses[2]:item(), 0)
    close(d.losses[3]:item(), F.dense_losses[3], 1e-5)
  end)

  it("records constraints for keras.constraints.apply", function()
    local d = L.Dense(3, { kernel_constraint = keras.constraints.NonNeg(), kernel_initializer = "ones" })
    d(tf.ones({ 1, 2 }))
    assert.is_not_nil(keras.constraints.of(d.kernel))
    assert.is_nil(keras.constraints.of(d.bias))
    d.kernel:assign(tf.constant({ { -1.0, 2.0, -3.0 }, { 4.0, -5.0, 6.0 } }))
    keras.constraints.apply(d.trainable_variables)
    close(d.kernel, { { 0, 2, 0 }, { 4, 0, 6 } })
  end)

  it("takes gradients through kernel and bias", function()
    local d = dense_with_fixture_weights({ activation = "tanh" })
    local tape = tf.GradientTape()
    local loss = tf.reduce_sum(d(tf.constant(F.x)))
    local g = tape:gradient(loss, d.trainable_variables)
    assert.equal(2, #g)
    assert.same({ 5, 3 }, g[1].shape:as_list())
    -- d/db sum(tanh(xW+b)) = sum over the batch of 1 - y^2
    local y = tf.constant(F.dense.tanh)
    close(g[2], tf.reduce_sum(1 - y * y, 0), 1e-5, 1e-5)
  end)
end)

describe("keras.activations", function()
  local A = keras.activations
  it("match Keras with options", function()
    local v = tf.constant(F.v)
    close(A.relu(v, { negative_slope = 0.1 }), F.act.relu_slope)
    close(A.relu(v, { max_value = 2.0 }), F.act.relu_max)
    close(A.relu(v, { threshold = 0.7 }), F.act.relu_threshold)
    close(A.relu(v, { negative_slope = 0.1, max_value = 2.0, threshold = 0.5 }), F.act.relu_all)
    close(A.elu(v, 0.5), F.act.elu_alpha)
    close(A.gelu(v, true), F.act.gelu_approx, 1e-5, 1e-6)
    close(A.gelu(v), F.act.gelu, 1e-5, 1e-6)
    close(A.leaky_relu(v), F.act.leaky_relu)
    close(A.leaky_relu(v, 0.3), F.act.leaky_relu_03)
    close(A.hard_sigmoid(v), F.act.hard_sigmoid)
  end)

  it("get/serialize/deserialize by name", function()
    assert.equal(A.linear, A.get(nil))
    assert.equal(A.relu, A.get("relu"))
    assert.equal(A.relu, A.get({ class_name = "relu", config = {} }))
    local f = function(x) return x end
    assert.equal(f, A.get(f))
    for _, n in ipairs({ "linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign",
                         "gelu", "exponential", "leaky_relu", "relu6", "hard_sigmoid", "log_softmax", "silu" }) do
      assert.equal(n, A.serialize(A.get(n)))
      assert.equal(A.get(n), A.deserialize(n))
    end
    assert.equal("silu", A.serialize(A.get("swish")))
    helpers.assert_error("InvalidArgument", "Unknown activation: 'foo'", function() A.get("foo") end)
  end)
end)

describe("keras.regularizers", function()
  local R = keras.regularizers
  it("match Keras's penalties and defaults", function()
    local k = tf.constant(F.kernel)
    close(R.L1(0.01)(k):item(), F.reg.l1, 1e-5)
    close(R.L2(0.01)(k):item(), F.reg.l2, 1e-5)
    close(R.L1L2 { l1 = 0.02, l2 = 0.03 }(k):item(), F.reg.l1l2, 1e-5)
    assert.same(F.reg.l2_default_config, R.get("l2"):get_config())
    assert.same(F.reg.l1l2_class_default, R.L1L2():get_config())
    -- the l1_l2 function: tf.keras 2's defaults (0.01 each; Keras 3 uses 0)
    assert.same({ l1 = 0.01, l2 = 0.01 }, R.l1_l2():get_config())
    assert.same({ l1 = 0.01 }, R.l1():get_config())
    assert.same({ l2 = 0.001 }, R.l2(0.001):get_config())
    local v = tf.Variable(F.kernel)
    close(R.L2(0.01)(v):item(), F.reg.l2, 1e-5)
  end)
  it("serialize and deserialize", function()
    local s = R.serialize(R.L1L2(0.1, 0.2))
    assert.same({ class_name = "L1L2", config = { l1 = 0.1, l2 = 0.2 } }, s)
    assert.same({ l1 = 0.1, l2 = 0.2 }, R.deserialize(s):get_config())
    assert.same({ l2 = 0.01 }, R.get({ class_name = "L2", config = { l2 = 0.01 } }):get_config())
    helpers.assert_error("InvalidArgument", "Unknown regularizer: 'l3'", function() R.get("l3") end)
    helpers.assert_error("InvalidArgument", { "L2", "non-negative" }, function() R.L2(-1) end)
  end)
end)

describe("keras.constraints", function()
  local C = keras.constraints
  it("match Keras", function()
    local w = tf.constant(F.constraints.w)
    close(C.MaxNorm { max_value = 1.5 }(w), F.constraints.max_norm, 1e-5, 1e-6)
    close(C.MaxNorm { max_value = 1.0, axis = 1 }(w), F.constraints.max_norm_axis1, 1e-5, 1e-6)
    close(C.NonNeg()(w), F.constraints.non_neg)
    close(C.UnitNorm()(w), F.constraints.unit_norm, 1e-5, 1e-6)
    close(C.UnitNorm { axis = 1 }(w), F.constraints.unit_norm_axis1, 1e-5, 1e-6)
    close(C.MinMaxNorm { min_value = 0.5, max_value = 1.2, rate = 0.7 }(w), F.constraints.min_max_norm, 1e-5, 1e-6)
  end)
  it("apply projects only constrained variables and keeps get/serialize", function()
    local a = tf.Variable({ -1.0, 2.0 })
    local b = tf.Variable({ -1.0, 2.0 })
    C.set(a, C.get("non_neg"))
    C.apply({ a, b })
    close(a, { 0, 2 })
    close(b, { -1, 2 })
    assert.same({ class_name = "MaxNorm", config = { max_value = 3, axis = 0 } }, C.serialize(C.MaxNorm(3)))
    helpers.assert_error("InvalidArgument", "Unknown constraint: 'maxnorm2'", function() C.get("maxnorm2") end)
    helpers.assert_error("InvalidArgument", { "MinMaxNorm", "greater than max_value" },
      function() C.MinMaxNorm { min_value = 2, max_value = 1 } end)
  end)
end)

describe("Dropout", function()
  it("is the identity unless training", function()
    local x = tf.ones({ 4, 8 })
    local d = L.Dropout(0.5)
    close(d(x), x:totable())
    close(d(x, { training = false }), x:totable())
    close(L.Dropout(0.0)(x, { training = true }), x:totable())
    assert.same({ 4, 8 }, d:compute_output_shape({ 4, 8 }):as_list())
  end)

  it("drops about `rate` of the entries and scales the rest by 1/(1-rate)", function()
    local x = tf.ones({ 200, 500 })
    local y = L.Dropout(0.3)(x, { training = true })
    local kept = tf.reduce_mean(tf.cast(tf.greater(y, 0), "float32")):item()
    assert.is_true(math.abs(kept - 0.7) < 0.01, "kept fraction " .. kept)
    close(tf.reduce_max(y):item(), 1 / 0.7, 1e-5)
    local m = tf.reduce_mean(y):item()
    assert.is_true(math.abs(m - 1) < 0.02, "mean " .. m)
  end)

  it("broadcasts its mask along noise_shape's unit and unknown dimensions", function()
    local x = tf.ones({ 6, 50 })
    local y = L.Dropout(0.5, { noise_shape = { 1, 50 } })(x, { training = true }):totable()
    for r = 2, 6 do assert.same(y[1], y[r]) end
    local y2 = L.Dropout { rate = 0.5, noise_shape = { nil, 1, n = 2 } }(x, { training = true }):totable()
    for r = 1, 6 do for c = 2, 50 do assert.equal(y2[r][1], y2[r][c]) end end
  end)

  it("inherits training from an outer layer call", function()
    local Outer = keras.layers.Layer:extend("Outer")
    function Outer:init(o) Outer.super.init(self, o) self.drop = L.Dropout(0.99) end
    function Outer:call(x) return self.drop(x) end
    local o = Outer()
    local x = tf.ones({ 10, 10 })
    close(o(x), x:totable())
    assert.is_true(tf.reduce_sum(tf.cast(tf.equal(o(x, { training = true }), 0), "float32")):item() > 50)
  end)

  it("checks rate and noise_shape, and has Keras's config", function()
    helpers.assert_error("InvalidArgument", { "Dropout 'dropout'", "rate must be a number in [0, 1]", "1.5" },
      function() L.Dropout(1.5) end)
    helpers.assert_error("InvalidArgument", { "Dropout", "noise_shape has 1 dimensions", "float32[2,3]" },
      function() L.Dropout(0.5, { noise_shape = { 3 } })(tf.ones({ 2, 3 }), { training = true }) end)
    local cfg = L.Dropout(0.25, { seed = 7, name = "dr" }):get_config()
    assert.same({ name = "dr", trainable = true, dtype = "float32", rate = 0.25, seed = 7 }, cfg)
  end)
end)

describe("GaussianNoise", function()
  it("adds noise of stddev only when training", function()
    local x = tf.zeros({ 300, 300 })
    local g = L.GaussianNoise(0.5)
    close(g(x), x:totable())
    local m, s = mean_std(g(x, { training = true }))
    assert.is_true(math.abs(m) < 0.01, "mean " .. m)
    assert.is_true(math.abs(s - 0.5) < 0.01, "std " .. s)
    assert.same({ name = "gaussian_noise", trainable = true, dtype = "float32", stddev = 0.5 }, g:get_config())
    helpers.assert_error("InvalidArgument", { "GaussianNoise", "stddev" }, function() L.GaussianNoise(-1) end)
  end)
end)

describe("Flatten, Reshape, RepeatVector, Permute", function()
  it("compute Keras's shapes", function()
    assert.equal("(None, 12)", tostring(L.Flatten():compute_output_shape(tf.TensorShape({ nil, 3, 4 }, 3))))
    assert.equal("(None, 2, 6)", tostring(L.Reshape({ 2, -1 }):compute_output_shape(tf.TensorShape({ nil, 3, 4 }, 3))))
    assert.equal("(None, 7, 4)", tostring(L.Embedding(6, 4):compute_output_shape(tf.TensorShape({ nil, 7 }, 2))))
    assert.equal("(None, 3, 7)", tostring(L.Dense(7):compute_output_shape(tf.TensorShape({ nil, 3, 5 }, 3))))
    assert.same({ 12 }, { F.shapes.flatten[2] })
    assert.same({ 2, 6 }, { F.shapes.reshape[2], F.shapes.reshape[3] })
  end)

  it("reshape values as Keras", function()
    local x = tf.reshape(tf.range(24), { 2, 3, 4 })
    local f = L.Flatten()(x)
    assert.same({ 2, 12 }, f.shape:as_list())
    assert.same(tf.reshape(tf.range(24), { 2, 12 }):totable(), f:totable())
    assert.same({ 2, 1 }, L.Flatten()(tf.ones({ 2 })).shape:as_list())
    -- channels_first moves the channels last before flattening
    local cf = L.Flatten { data_format = "channels_first" }(x)
    assert.same(tf.reshape(tf.transpose(x, { 0, 2, 1 }), { 2, 12 }):totable(), cf:totable())
    assert.same({ 2, 6, 2 }, L.Reshape({ -1, 2 })(x).shape:as_list())
    assert.same({ 2, 4, 3 }, L.Reshape { target_shape = { 4, 3 } }(x).shape:as_list())
    local r = L.RepeatVector(3)(tf.constant({ { 1, 2 } }))
    assert.same({ { { 1, 2 }, { 1, 2 }, { 1, 2 } } }, r:totable())
    assert.same({ 2, 4, 3 }, L.Permute({ 2, 1 })(x).shape:as_list())
    assert.equal("(None, 4, 3)", tostring(L.Permute({ 2, 1 }):compute_output_shape(tf.TensorShape({ nil, 3, 4 }, 3))))
  end)

  it("report bad shapes naming the layer", function()
    helpers.assert_error("InvalidArgument", { "Reshape 'reshape'", "total size of the new array must be unchanged", "float32[2,3,4]", "(5, 2)" },
      function() L.Reshape({ 5, 2 })(tf.ones({ 2, 3, 4 })) end)
    helpers.assert_error("InvalidArgument", { "Reshape", "do not divide" }, function() L.Reshape({ 5, -1 })(tf.ones({ 2, 3, 4 })) end)
    helpers.assert_error("InvalidArgument", { "Reshape", "at most one -1" }, function() L.Reshape({ -1, -1 }) end)
    helpers.assert_error("InvalidArgument", { "Reshape", "positive integers or -1" }, function() L.Reshape({ 0, 2 }) end)
    helpers.assert_error("InvalidArgument", { "Flatten", "data_format" }, function() L.Flatten("nchw") end)
    helpers.assert_error("InvalidArgument", { "RepeatVector 'repeat_vector'", "rank 2", "float32[2,3,4]" },
      function() L.RepeatVector(2)(tf.ones({ 2, 3, 4 })) end)
    helpers.assert_error("InvalidArgument", { "Permute", "permutation of 1..2" }, function() L.Permute({ 0, 1 }) end)
    assert.same({ 4, -1 }, L.Reshape({ 4, -1 }):get_config().target_shape)
  end)
end)

describe("Activation", function()
  it("applies its activation and serializes it by name", function()
    local a = L.Activation("relu")
    close(a(tf.constant({ -1.0, 2.0 })), { 0, 2 })
    assert.equal("relu", a:get_config().activation)
    assert.equal("activation", a.name)
    assert.equal("activation_1", L.Activation("tanh").name)
    helpers.assert_error("InvalidArgument", { "Activation", "an activation is required" }, function() L.Activation() end)
  end)
end)

describe("Embedding", function()
  it("matches Keras's lookups and mask", function()
    local e = L.Embedding(6, 4, { mask_zero = true })
    e(tf.constant({ { 0 } }))
    e:set_weights({ F.embedding.weights })
    local idx = tf.constant(F.embedding.indices)
    local y = e(idx)
    assert.same({ 2, 3, 4 }, y.shape:as_list())
    close(y, F.embedding.output)
    assert.same(F.embedding.mask, e:compute_mask(idx):totable())
    assert.equal("embedding/embeddings:0", e.embeddings.name)
    assert.is_nil(L.Embedding(3, 2):compute_mask(idx))
  end)

  it("uses uniform(-0.05, 0.05) by default, accepts Lua index tables and float indices", function()
    local e = L.Embedding(1000, 50)
    local y = e({ { 1, 2, 3 } })
    assert.same({ 1, 3, 50 }, y.shape:as_list())
    assert.equal("int32", tf.constant({ { 1 } }).dtype.name)
    local w = e.embeddings
    assert.is_true(tf.reduce_max(tf.abs(w)):item() <= 0.05)
    local m, s = mean_std(w)
    assert.is_true(math.abs(m) < 0.002)
    close(s, 0.1 / math.sqrt(12), 0.02)
    close(e(tf.constant({ { 1.0, 2.0 } })), e(tf.constant({ { 1, 2 } })):totable())
    local cfg = e:get_config()
    assert.same({ class_name = "RandomUniform", config = { minval = -0.05, maxval = 0.05 } }, cfg.embeddings_initializer)
    assert.equal(1000, cfg.input_dim)
    assert.is_false(cfg.mask_zero)
  end)

  it("reports bad indices and options", function()
    local e = L.Embedding(5, 2)
    assert.has_error(function() e(tf.constant({ { 7 } })) end)
    helpers.assert_error("InvalidArgument", { "Embedding 'embedding_1'", "expected integer indices", "bool" },
      function() L.Embedding(5, 2)(tf.constant({ true })) end)
    helpers.assert_error("InvalidArgument", { "Embedding", "output_dim must be a positive integer" },
      function() L.Embedding(5) end)
  end)
end)

describe("Lambda", function()
  it("calls its function, with arguments, and infers output shapes", function()
    local lam = L.Lambda(function(x) return x * 2 end)
    close(lam(tf.constant({ { 1.0, 2.0 } })), { { 2, 4 } })
    assert.equal("(None, 5)", tostring(lam:compute_output_shape(tf.TensorShape({ nil, 5 }, 2))))
    local cut = L.Lambda { ["function"] = function(x, args) return x * args.k end, arguments = { k = 3 }, output_shape = { 2 } }
    close(cut(tf.constant({ { 1.0, 2.0 } })), { { 3, 6 } })
    assert.equal("(None, 2)", tostring(cut:compute_output_shape(tf.TensorShape({ nil, 9 }, 2))))
  end)
  it("serializes its function only by name", function()
    local lam = L.Lambda(function(x) return x end)
    local ok_saving = pcall(require, "keras.saving")
    if not ok_saving then
      helpers.assert_error("InvalidArgument", { "Lambda 'lambda'", "cannot serialize its function" }, function() lam:get_config() end)
    end
    helpers.assert_error("InvalidArgument", { "Lambda", "a function is required" }, function() L.Lambda() end)
    local id = function(x) return x + 1 end
    local back = L.Lambda.from_config({ name = "l", ["function"] = "plus_one" }, { plus_one = id })
    close(back(tf.constant({ 1.0 })), { 2 })
  end)
end)

describe("Masking, ActivityRegularization, Identity", function()
  it("work as Keras", function()
    local x = tf.constant({ { { 1.0, 2.0 }, { 0.0, 0.0 } } })
    local m = L.Masking(0.0)
    assert.same({ { true, false } }, m:compute_mask(x):totable())
    close(m(x), x:totable())
    local ar = L.ActivityRegularization { l1 = 0.1, l2 = 0.0 }
    close(ar(x), x:totable())
    close(ar.losses[1]:item(), 0.3, 1e-6)
    assert.same({ name = "activity_regularization", trainable = true, dtype = "float32", l1 = 0.1, l2 = 0.0 }, ar:get_config())
    close(L.Identity()(x), x:totable())
  end)
end)
