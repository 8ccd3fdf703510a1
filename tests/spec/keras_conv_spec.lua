-- keras.layers convolution and pooling layers (stdlib/keras/layers/conv.lua,
-- pooling.lua) against Keras itself: tests/spec/fixtures/keras/conv_layers.json
-- (written by tools/keras_fixtures/conv_layers.py) holds per case the
-- layer's options, an input, the weights set on the built layer, Keras's
-- output, compute_output_shape for an unknown batch and get_config
-- entries. Also: positional sugar, from_config round trips, gradients
-- reaching the weights, channels_first, masks for GlobalAveragePooling1D
-- and the error messages.
local tf = require("tlua")
local keras = require("keras")
local helpers = require("helpers")
local assert_error = helpers.assert_error
local L = keras.layers

local function fixture()
  local path = (os.getenv("TLUA_SOURCE_DIR") or ".") .. "/tests/spec/fixtures/keras/conv_layers.json"
  local f = assert(io.open(path))
  local text = f:read("a")
  f:close()
  return helpers.json_decode(text)
end

local function tensor(values, shape) return tf.reshape(tf.constant(values, tf.float32), shape) end

local function as_list(shape)
  local out = {}
  for i = 0, #shape - 1 do out[i + 1] = shape[i] == nil and helpers.null or shape[i] end
  return out
end

describe("keras conv and pooling layers against Keras", function()
  for i, case in ipairs(fixture().cases) do
    local opts = {}
    for k, v in pairs(case.options) do opts[k] = v end
    it(("%d: %s"):format(i, case.cls), function()
      local layer = next(opts) and L[case.cls](opts) or L[case.cls]()
      local x = tensor(case.x, case.input_shape)
      layer:build(tf.TensorShape(case.input_shape))
      layer.built = true
      local ws = {}
      for j, w in ipairs(case.weights) do ws[j] = tensor(w.values, w.shape) end
      assert.are.equal(#case.weights, #layer.weights)
      if #ws > 0 then layer:set_weights(ws) end
      local y = layer(x)
      assert.are.same(case.y_shape, y.shape:as_list())
      helpers.assert_close(tf.reshape(y, { -1 }), case.y, 1e-4, 1e-5)
      -- compute_output_shape with an unknown batch
      local s = { n = #case.input_shape }
      for k = 2, #case.input_shape do s[k] = case.input_shape[k] end
      local out = layer:compute_output_shape(tf.TensorShape(s, #case.input_shape))
      assert.are.same(case.output_shape, as_list(out))
      -- get_config agrees with Keras's, and from_config rebuilds the same layer
      local cfg = layer:get_config()
      for k, v in pairs(case.config) do
        if v == helpers.null then v = nil end
        assert.are.same(v, cfg[k], k)
      end
      local again = L[case.cls].from_config(cfg)
      assert.are.same(case.output_shape, as_list(again:compute_output_shape(tf.TensorShape(s, #case.input_shape))))
    end)
  end
end)

describe("keras conv layers", function()
  it("take positional sugar and name their weights", function()
    local c = L.Conv2D(8, 3, 2, "same", { name = "c1" })
    assert.are.same({ 8, { 3, 3 }, { 2, 2 }, "same" }, { c.filters, c.kernel_size, c.strides, c.padding })
    c(tf.zeros({ 1, 6, 6, 2 }))
    assert.are.equal("c1/kernel:0", c.kernel.name)
    assert.are.equal("c1/bias:0", c.bias.name)
    assert.are.same({ 3, 3, 2, 8 }, c.kernel.shape:as_list())
    local t = L.Conv2DTranspose(5, { 2, 3 })
    t(tf.zeros({ 1, 4, 4, 2 }))
    assert.are.same({ 2, 3, 5, 2 }, t.kernel.shape:as_list())
    local d = L.DepthwiseConv2D(3, { depth_multiplier = 2, use_bias = false })
    d(tf.zeros({ 1, 4, 4, 3 }))
    assert.are.same({ 3, 3, 3, 2 }, d.depthwise_kernel.shape:as_list())
    assert.are.equal(1, #d.weights)
  end)
  it("train: gradients reach kernel and bias", function()
    local c = L.Conv2D(2, 3, { padding = "same" })
    local x = tf.random.normal({ 2, 5, 5, 3 }, { seed = 3 })
    local tape = tf.GradientTape()
    local loss = tf.reduce_sum(c(x) ^ 2)
    local g = tape:gradient(loss, c.trainable_weights)
    assert.are.same({ 3, 3, 3, 2 }, g[1].shape:as_list())
    assert.are.same({ 2 }, g[2].shape:as_list())
    -- the bias gradient is 2 * sum(y) per channel
    local y = c(x)
    helpers.assert_close(g[2], tf.reduce_sum(y * 2, { 0, 1, 2 }), 1e-4, 1e-4)
  end)
  it("a small CNN (Conv2D, MaxPooling2D, DepthwiseConv2D, GlobalAveragePooling2D) trains with a tape", function()
    tf.random.set_seed(5)
    local x = tf.random.normal({ 8, 8, 8, 1 })
    local y = tf.reduce_mean(x, { 1, 2 }) * 3 + 1 -- a target the net can fit
    local c1, p1 = L.Conv2D(4, 3, { padding = "same", activation = "relu" }), L.MaxPooling2D()
    local d1, g1 = L.DepthwiseConv2D(3, { padding = "same" }), L.GlobalAveragePooling2D()
    local head = L.Conv2D(1, 1)
    local opt = keras.optimizers.Adam(0.05)
    local function loss_of()
      local h = g1(d1(p1(c1(x))))
      local out = head(tf.reshape(h, { 8, 1, 1, 4 }))
      return tf.reduce_mean((tf.reshape(out, { 8, 1 }) - y) ^ 2)
    end
    local first
    for step = 1, 60 do
      local tape = tf.GradientTape()
      local loss = loss_of()
      local vars = {}
      for _, l in ipairs({ c1, d1, head }) do for _, v in ipairs(l.trainable_weights) do vars[#vars + 1] = v end end
      opt:apply_gradients(tape:gradient(loss, vars), vars)
      if step == 1 then first = loss:totable() end
    end
    assert.is_true(loss_of():totable() < first * 0.2)
  end)
  it("channels_first transposes around the NHWC op", function()
    local x = tf.random.normal({ 2, 6, 5, 3 }, { seed = 4 })
    local last = L.Conv2D(4, 3, { padding = "same" })
    local first = L.Conv2D(4, 3, { padding = "same", data_format = "channels_first" })
    local yl = last(x)
    first(tf.transpose(x, { 0, 3, 1, 2 }))
    first:set_weights(last:get_weights())
    local yf = first(tf.transpose(x, { 0, 3, 1, 2 }))
    helpers.assert_close(tf.transpose(yf, { 0, 2, 3, 1 }), yl, 1e-5, 1e-5)
    assert.are.equal("(None, 4, 6, 5)", tostring(first:compute_output_shape(tf.TensorShape({ nil, 3, 6, 5 }, 4))))
    local p = L.MaxPooling2D(2, { data_format = "channels_first" })
    helpers.assert_close(tf.transpose(p(tf.transpose(x, { 0, 3, 1, 2 })), { 0, 2, 3, 1 }), L.MaxPooling2D(2)(x))
  end)
  it("GlobalAveragePooling1D averages over unmasked steps", function()
    local x = tf.reshape(tf.range(0, 12, 1, tf.float32), { 2, 3, 2 })
    local mask = tf.constant({ { true, true, false }, { true, false, false } })
    local y = L.GlobalAveragePooling1D()(x, { mask = mask })
    helpers.assert_close(y, { { 1, 2 }, { 6, 7 } })
  end)
  it("errors name the layer and what is wrong", function()
    assert_error("InvalidArgument", { "Conv2D 'bad': padding must be one of 'valid', 'same', got 'causal'" },
      L.Conv2D, 2, 3, { padding = "causal", name = "bad" })
    assert_error("InvalidArgument", { "Conv2D 'bad2': kernel_size must be an integer or a list of 2 integers, got a list of 3" },
      L.Conv2D, 2, { 3, 3, 3 }, { name = "bad2" })
    assert_error("InvalidArgument", { "Conv2D 'bad3': filters must be a positive integer, got 0" },
      L.Conv2D, 0, 3, { name = "bad3" })
    assert_error("InvalidArgument", { "Conv1D: unknown option 'filter'" }, L.Conv1D, { filter = 3, kernel_size = 2 })
    assert_error("InvalidArgument", { "strides > 1 is not supported together with dilation_rate > 1" },
      L.Conv2D, 2, 3, { strides = 2, dilation_rate = 2 })
    assert_error("Unimplemented", { "groups = 2 is not supported" }, L.Conv2D, 2, 3, { groups = 2 })
    assert_error("InvalidArgument", { "Conv2DTranspose", "output_padding must be smaller than strides" },
      L.Conv2DTranspose, 2, 3, { output_padding = 1 })
    assert_error("InvalidArgument", { "MaxPooling2D 'mp': padding must be 'valid' or 'same', got full" },
      L.MaxPooling2D, 2, { padding = "full", name = "mp" })
    local c = L.Conv2D(2, 3, { name = "cc" })
    c(tf.zeros({ 1, 5, 5, 3 }))
    assert_error("InvalidArgument", { "Conv2D 'cc': expected input with last dimension 3, got float32[1,5,5,4]" }, c,
      tf.zeros({ 1, 5, 5, 4 }))
    assert_error("InvalidArgument", { "Conv2D 'cc': expected input of rank 4, got float32[5,5,3]" }, c, tf.zeros({ 5, 5, 3 }))
    assert_error("InvalidArgument", { "conv2d", "filter's height 3 is larger than the input's height 2" },
      L.Conv2D(2, 3), tf.zeros({ 1, 2, 5, 3 }))
    assert_error("InvalidArgument", { "Conv2D", "the channel dimension of the inputs should be defined" },
      function() L.Conv2D(2, 3):build(tf.TensorShape({ nil, 5, 5, nil }, 4)) end)
  end)
end)
