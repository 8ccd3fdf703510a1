-- keras.layers.BatchNormalization, LayerNormalization and the merge layers
-- (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate and their
-- functional forms) against Keras 3 (fixtures from
-- tools/keras_fixtures/norm_rnn.py): outputs, gradients w.r.t. inputs and
-- weights, moving statistics after the call, all to 1e-5; training
-- semantics, shapes, configs and errors.
local tf = require("tlua")
local helpers = require("helpers")
local fixture = require("keras_fixture")
local gradcheck = require("gradcheck")
local keras = tf.keras
local L = keras.layers

describe("keras.layers.BatchNormalization against Keras", function()
  it("training=true: batch statistics, moving statistics updated", function()
    fixture.replay("bn_train", L.BatchNormalization{ momentum = 0.9 }, { training = true })
  end)
  it("training=false: moving statistics, nothing updated", function()
    fixture.replay("bn_infer", L.BatchNormalization{ momentum = 0.9 }, { training = false })
  end)
  it("default momentum 0.99", function()
    fixture.replay("bn_default_momentum", L.BatchNormalization(), { training = true })
  end)
  it("axis=1 on a rank-3 input, epsilon", function()
    fixture.replay("bn_axis1_train", L.BatchNormalization(1, { epsilon = 1e-2 }), { training = true })
  end)
  it("rank-3 input, last axis (statistics over batch and time)", function()
    fixture.replay("bn_rank3_train", L.BatchNormalization(), { training = true })
  end)
  it("training=true with a mask: statistics over the unmasked positions", function()
    fixture.replay("bn_mask_train", L.BatchNormalization{ momentum = 0.9 }, { training = true })
    helpers.assert_error("InvalidArgument", { "BatchNormalization 'bn_m'", "one dimension less than the input" },
      function() return L.BatchNormalization{ name = "bn_m" }(tf.zeros({ 2, 3 }), { training = true, mask = tf.constant({ { true, false, true }, { true, true, true } }) }) end)
  end)
  it("center=false, scale=false: only the moving statistics", function()
    local layer = fixture.replay("bn_nocenter_noscale",
      L.BatchNormalization{ center = false, scale = false, momentum = 0.8 }, { training = true })
    assert.are.equal(2, #layer.weights)
    assert.are.equal(0, #layer.trainable_weights)
  end)
  it("a frozen layer (trainable=false) runs in inference mode even with training=true", function()
    local c = fixture.cases().bn_frozen_train
    local layer = L.BatchNormalization{ momentum = 0.9 }
    local x = tf.constant(c.inputs[1])
    layer(x)
    layer:set_weights(c.weights)
    layer.trainable = false
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = layer(x, { training = true })
    local g = tape:gradient(tf.reduce_sum(y * tf.constant(c.coefs[1])), x)
    fixture.close(y, c.outputs[1], "output")
    fixture.close(g, c.grad_inputs[1], "grad input")
    for i, w in ipairs(layer.weights) do fixture.close(w:read_value(), c.weights[i], "weight " .. i .. " unchanged") end
    assert.are.equal(0, #layer.trainable_weights)
  end)
  it("training=nil is inference (moving statistics)", function()
    local c = fixture.cases().bn_infer
    local layer = L.BatchNormalization{ momentum = 0.9 }
    local x = tf.constant(c.inputs[1])
    layer(x)
    layer:set_weights(c.weights)
    fixture.close(layer(x), c.outputs[1], "output")
    fixture.close(layer(x, {}), c.outputs[1], "output with empty options")
  end)
end)

describe("keras.layers.BatchNormalization: weights, shapes, config", function()
  it("weights: gamma, beta, moving_mean, moving_variance (Keras's order, names, initial values)", function()
    local layer = L.BatchNormalization{ name = "bn" }
    layer(tf.zeros({ 2, 3 }))
    local w = layer.weights
    local names = {}
    for i, v in ipairs(w) do names[i] = v.name end
    assert.are.same({ "bn/gamma:0", "bn/beta:0", "bn/moving_mean:0", "bn/moving_variance:0" }, names)
    assert.are.equal(2, #layer.trainable_weights)
    assert.are.equal(2, #layer.non_trainable_weights)
    assert.are.equal("bn/moving_mean:0", layer.non_trainable_weights[1].name)
    helpers.assert_close(w[1]:read_value(), { 1, 1, 1 }, 0, 0)
    helpers.assert_close(w[2]:read_value(), { 0, 0, 0 }, 0, 0)
    helpers.assert_close(w[3]:read_value(), { 0, 0, 0 }, 0, 0)
    helpers.assert_close(w[4]:read_value(), { 1, 1, 1 }, 0, 0)
  end)
  it("the moving statistics converge to the data's with repeated training calls", function()
    local layer = L.BatchNormalization{ momentum = 0.5 }
    local x = tf.constant({ { 1.0, 10.0 }, { 3.0, 14.0 } }) -- mean {2, 12}, biased variance {1, 4}
    for _ = 1, 40 do layer(x, { training = true }) end
    helpers.assert_close(layer.moving_mean:read_value(), { 2, 12 }, 1e-5, 1e-5)
    helpers.assert_close(layer.moving_variance:read_value(), { 1, 4 }, 1e-5, 1e-5)
  end)
  it("compute_output_shape and an unknown batch", function()
    local s = L.BatchNormalization():compute_output_shape(tf.TensorShape({ nil, 7 }, 2))
    assert.are.equal("(None, 7)", tostring(s))
    assert.are.equal("(2, 3, 4)", tostring(L.BatchNormalization(1):compute_output_shape({ 2, 3, 4 })))
  end)
  it("get_config has Keras's keys and values; from_config rebuilds", function()
    local ref = fixture.cases().bn_config
    local cfg = L.BatchNormalization():get_config()
    for k, v in pairs(ref) do
      if k ~= "name" and k ~= "dtype" and type(v) ~= "table" and v ~= helpers.null then
        assert.are.equal(v, cfg[k], "config key " .. k)
      end
    end
    local copy = L.BatchNormalization.from_config(L.BatchNormalization{ axis = 1, momentum = 0.8, epsilon = 0.01,
      center = false }:get_config())
    local c2 = copy:get_config()
    assert.are.equal(1, c2.axis)
    assert.are.equal(0.8, c2.momentum)
    assert.are.equal(0.01, c2.epsilon)
    assert.is_false(c2.center)
    assert.is_true(c2.scale)
  end)
  it("errors", function()
    helpers.assert_error("InvalidArgument", { "BatchNormalization 'bn_axis'", "axis 3 is out of bounds for input shape (2, 4)" },
      function() return L.BatchNormalization(3, { name = "bn_axis" })(tf.zeros({ 2, 4 })) end)
    helpers.assert_error("InvalidArgument", { "BatchNormalization", "axis must be an integer" },
      function() return L.BatchNormalization{ axis = { 1, 2 } } end)
    helpers.assert_error("InvalidArgument", { "BatchNormalization", "unknown option 'moment'" },
      function() return L.BatchNormalization{ moment = 0.9 } end)
    helpers.assert_error("Unimplemented", { "renorm=true is not supported" },
      function() return L.BatchNormalization{ renorm = true } end)
    helpers.assert_error("InvalidArgument", { "must be known" },
      function() return L.BatchNormalization():build(tf.TensorShape({ 2, nil }, 2)) end)
    local layer = L.BatchNormalization{ name = "bn_feat" }
    layer(tf.zeros({ 2, 4 }))
    helpers.assert_error("InvalidArgument", { "BatchNormalization 'bn_feat'", "expected input with last dimension 4", "float32[2,5]" }, function() return layer(tf.zeros({ 2, 5 })) end)
  end)
end)

describe("normalization: float64 input gradients against central differences", function()
  local x = tf.random.normal({ 4, 3, 2 }, { dtype = "float64", seed = 11 })
  it("BatchNormalization in training mode (gradient through the batch statistics)", function()
    local layer = L.BatchNormalization(1, { dtype = "float64" })
    gradcheck.assert_grad(function(xx) return layer(xx, { training = true }) end, { x })
  end)
  it("LayerNormalization over axes {1, 2}", function()
    local layer = L.LayerNormalization{ axis = { 1, 2 }, dtype = "float64" }
    gradcheck.assert_grad(function(xx) return layer(xx) end, { x })
  end)
end)

describe("keras.layers.LayerNormalization against Keras", function()
  it("last axis", function()
    fixture.replay("ln_last", L.LayerNormalization())
  end)
  it("axis={1, 2}, epsilon=1e-5 (gamma and beta of shape [3, 5])", function()
    local layer = fixture.replay("ln_axes12", L.LayerNormalization{ axis = { 1, 2 }, epsilon = 1e-5 })
    assert.are.same({ 3, 5 }, layer.weights[1].shape:as_list())
  end)
  it("center=false, scale=false: no weights", function()
    local layer = fixture.replay("ln_plain", L.LayerNormalization{ center = false, scale = false })
    assert.are.equal(0, #layer.weights)
  end)
  it("a middle axis (gamma and beta broadcast along it)", function()
    fixture.replay("ln_axis1", L.LayerNormalization(1))
  end)
  it("negative axes and a list in any order are the same axes", function()
    local x = tf.random.normal({ 2, 3, 4 }, { seed = 3 })
    local a = L.LayerNormalization{ axis = { -1, 1 } }(x)
    local b = L.LayerNormalization{ axis = { 1, 2 } }(x)
    helpers.assert_close(a, b, 0, 0)
  end)
  it("compute_output_shape, get_config, from_config", function()
    assert.are.equal("(None, 3, 4)",
      tostring(L.LayerNormalization():compute_output_shape(tf.TensorShape({ nil, 3, 4 }, 3))))
    local ref = fixture.cases().ln_config
    local cfg = L.LayerNormalization():get_config()
    for k, v in pairs(ref) do
      if k ~= "name" and k ~= "dtype" and type(v) ~= "table" and v ~= helpers.null then
        assert.are.equal(v, cfg[k], "config key " .. k)
      end
    end
    local c2 = L.LayerNormalization.from_config(L.LayerNormalization{ axis = { 1, 2 }, epsilon = 1e-6 }:get_config())
      :get_config()
    assert.are.same({ 1, 2 }, c2.axis)
    assert.are.equal(1e-6, c2.epsilon)
  end)
  it("errors", function()
    helpers.assert_error("InvalidArgument", { "LayerNormalization 'ln_axis'", "axis -4 is out of bounds for input shape (2, 3, 4)" },
      function() return L.LayerNormalization(-4, { name = "ln_axis" })(tf.zeros({ 2, 3, 4 })) end)
    helpers.assert_error("InvalidArgument", { "LayerNormalization", "axis -1 is given twice" },
      function() return L.LayerNormalization{ axis = { 2, -1 } }(tf.zeros({ 2, 3, 4 })) end)
    helpers.assert_error("InvalidArgument", { "axis must be an integer or a list of integers, got x" },
      function() return L.LayerNormalization{ axis = "x" } end)
    helpers.assert_error("InvalidArgument", { "epsilon must be a positive number" },
      function() return L.LayerNormalization{ epsilon = 0 } end)
  end)
end)

describe("configs written by Keras load with from_config", function()
  it("BatchNormalization", function()
    local cfg = fixture.keras_config("bn_config")
    local layer = L.BatchNormalization.from_config(cfg)
    local mine = layer:get_config()
    for k, v in pairs(cfg) do
      if type(v) ~= "table" then assert.are.equal(v, mine[k], "BatchNormalization " .. k) end
    end
  end)
  it("LayerNormalization", function()
    local cfg = fixture.keras_config("ln_config")
    local layer = L.LayerNormalization.from_config(cfg)
    local mine = layer:get_config()
    for k, v in pairs(cfg) do
      if type(v) ~= "table" then assert.are.equal(v, mine[k], "LayerNormalization " .. k) end
    end
  end)
end)

describe("keras merge layers against Keras", function()
  for _, cls in ipairs({ "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum" }) do
    it(cls, function()
      local layer = fixture.replay("merge_" .. cls, L[cls](), nil, true)
      assert.are.equal(0, #layer.weights)
    end)
  end
  it("Add broadcasts (3, 1, 4) with (3, 5, 4)", function()
    fixture.replay("merge_Add_broadcast", L.Add(), nil, true)
  end)
  it("Multiply of ranks 2 and 3 inserts an axis after the batch (as Keras)", function()
    fixture.replay("merge_Multiply_rank", L.Multiply(), nil, true)
  end)
  it("Concatenate on the last axis and on axis 1", function()
    fixture.replay("concat_last", L.Concatenate(), nil, true)
    fixture.replay("concat_axis1", L.Concatenate{ axis = 1 }, nil, true)
  end)
  for _, cls in ipairs({ "Add", "Multiply", "Maximum", "Minimum", "Average" }) do
    it(cls .. " with masks (values and compute_mask as Keras)", function()
      fixture.replay("merge_mask_" .. cls, L[cls](), nil, true)
    end)
  end
  it("Concatenate compute_mask with masks (one missing) on axis 1 and on the last axis", function()
    fixture.replay("concat_mask", L.Concatenate(1), nil, true)
    fixture.replay("concat_mask_last", L.Concatenate(), nil, true)
    assert.is_nil(L.Concatenate():compute_mask({ tf.zeros({ 1, 2 }) }, nil))
    assert.is_nil(L.Add():compute_mask({ tf.zeros({ 1, 2 }), tf.zeros({ 1, 2 }) }, { tf.constant({ { true, false } }) }))
  end)
  it("functional forms equal the layers", function()
    local a, b = tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 } }), tf.constant({ { 5.0, -6.0 }, { 7.0, 0.5 } })
    helpers.assert_close(L.add({ a, b }), a + b, 0, 0)
    helpers.assert_close(L.subtract({ a, b }), a - b, 0, 0)
    helpers.assert_close(L.multiply({ a, b }), a * b, 0, 0)
    helpers.assert_close(L.average({ a, b }), (a + b) / 2, 0, 0)
    helpers.assert_close(L.maximum({ a, b }), tf.maximum(a, b), 0, 0)
    helpers.assert_close(L.minimum({ a, b }, { name = "mn" }), tf.minimum(a, b), 0, 0)
    assert.are.same({ 2, 4 }, L.concatenate({ a, b }).shape:as_list())
    assert.are.same({ 4, 2 }, L.concatenate({ a, b }, 0).shape:as_list())
    assert.are.same({ 4, 2 }, L.concatenate({ a, b }, { axis = 0 }).shape:as_list())
  end)
end)

describe("keras merge layers: shapes, config, errors", function()
  local S = function(d, n) return tf.TensorShape(d, n) end
  it("compute_output_shape", function()
    assert.are.equal("(None, 5, 4)", tostring(L.Add():compute_output_shape({ S({ nil, 1, 4 }, 3), S({ nil, 5, 4 }, 3) })))
    assert.are.equal("(3, 5, 4)", tostring(L.Multiply():compute_output_shape({ { 3, 4 }, { 3, 5, 4 } })))
    assert.are.equal("(None, 6)", tostring(L.Concatenate():compute_output_shape({ S({ nil, 2 }, 2), S({ nil, 4 }, 2) })))
    assert.are.equal("(2, None, 4)", tostring(L.Concatenate(1):compute_output_shape({ S({ 2, nil, 4 }, 3), S({ 2, 3, 4 }, 3) })))
    assert.are.equal("(2, 5, 4)", tostring(L.Concatenate(-2):compute_output_shape({ { 2, 2, 4 }, { 2, 3, 4 } })))
  end)
  it("get_config / from_config", function()
    local cfg = L.Concatenate{ axis = 1, name = "cat" }:get_config()
    assert.are.equal(1, cfg.axis)
    assert.are.equal("cat", cfg.name)
    assert.are.equal(1, L.Concatenate.from_config(cfg).axis)
    assert.are.equal("sum_it", L.Add.from_config(L.Add{ name = "sum_it" }:get_config()).name)
  end)
  it("incompatible shapes name the layer and the shapes", function()
    local a, b = tf.zeros({ 3, 4 }), tf.zeros({ 3, 5 })
    helpers.assert_error("InvalidArgument", { "Add 'add_bad'", "incompatible shapes (3, 4), (3, 5)" },
      function() return L.Add{ name = "add_bad" }({ a, b }) end)
    helpers.assert_error("InvalidArgument", { "Multiply 'mul_batch'", "different batch sizes", "(3, 4), (2, 4)" },
      function() return L.Multiply{ name = "mul_batch" }({ a, tf.zeros({ 2, 4 }) }) end)
    helpers.assert_error("InvalidArgument", { "Subtract 'sub3'", "expected exactly 2 inputs, got 3" },
      function() return L.Subtract{ name = "sub3" }({ a, a, a }) end)
    helpers.assert_error("InvalidArgument", { "Average 'avg1'", "must be called on a list of tensors", "(3, 4)" },
      function() return L.Average{ name = "avg1" }(a) end)
    helpers.assert_error("InvalidArgument", { "Concatenate 'cat_bad'",
      "matching shapes except for the concatenation axis -1", "(3, 4), (2, 5)" },
      function() return L.Concatenate{ name = "cat_bad" }({ a, tf.zeros({ 2, 5 }) }) end)
    helpers.assert_error("InvalidArgument", { "Concatenate 'cat_rank'", "same rank", "(3, 4), (3, 4, 1)" },
      function() return L.Concatenate{ name = "cat_rank" }({ a, tf.zeros({ 3, 4, 1 }) }) end)
    helpers.assert_error("InvalidArgument", { "Concatenate 'cat_axis'", "axis 2 is out of bounds for inputs of rank 2" },
      function() return L.Concatenate(2, { name = "cat_axis" })({ a, a }) end)
    helpers.assert_error("InvalidArgument", { "Concatenate", "axis must be an integer" },
      function() return L.Concatenate{ axis = "last" } end)
    helpers.assert_error("InvalidArgument", { "Add", "unknown option 'axis'" },
      function() return L.Add{ axis = 1 } end)
  end)
end)
