-- keras.layers.LSTM and GRU against Keras 3 (fixtures from
-- tools/keras_fixtures/norm_rnn.py): outputs, states and gradients w.r.t.
-- inputs, initial states and weights to 1e-5; options, shapes, configs,
-- initialisation facts, masks, dropout and errors.
local tf = require("tlua")
local helpers = require("helpers")
local fixture = require("keras_fixture")
local gradcheck = require("gradcheck")
local keras = tf.keras
local L = keras.layers

local U = 5

describe("keras.layers.LSTM against Keras", function()
  it("last output", function()
    fixture.replay("lstm_last", L.LSTM(U))
  end)
  it("return_sequences", function()
    fixture.replay("lstm_seq", L.LSTM(U, { return_sequences = true }))
  end)
  it("return_state gives {sequences, h, c}", function()
    local _, outs = fixture.replay("lstm_state", L.LSTM(U, { return_sequences = true, return_state = true }))
    assert.are.equal(3, #outs)
    assert.are.same({ 3, 6, 5 }, outs[1].shape:as_list())
    -- h is the last output
    helpers.assert_close(outs[2], tf.squeeze(tf.slice(outs[1], { 0, 5, 0 }, { -1, 1, -1 }), { 1 }), 0, 0)
  end)
  it("go_backwards (outputs in processing order, as Keras)", function()
    fixture.replay("lstm_back", L.LSTM(U, { return_sequences = true, go_backwards = true }))
  end)
  it("use_bias=false, relu activation, hard_sigmoid recurrent activation", function()
    fixture.replay("lstm_nobias_relu", L.LSTM(U, { use_bias = false, activation = "relu",
      recurrent_activation = "hard_sigmoid", return_state = true }))
  end)
  it("initial_state: outputs and gradients w.r.t. h0 and c0", function()
    local c = fixture.cases().lstm_initial_state
    local layer = L.LSTM(U, { return_state = true })
    local x, h0, c0 = tf.constant(c.inputs[1]), tf.constant(c.inputs[2]), tf.constant(c.inputs[3])
    layer(x)
    layer:set_weights(c.weights)
    local tape = tf.GradientTape({ persistent = true })
    tape:watch({ x, h0, c0 })
    local outs = layer(x, { initial_state = { h0, c0 } })
    local loss = tf.add_n({ tf.reduce_sum(outs[1] * tf.constant(c.coefs[1])),
      tf.reduce_sum(outs[2] * tf.constant(c.coefs[2])), tf.reduce_sum(outs[3] * tf.constant(c.coefs[3])) })
    local gi = tape:gradient(loss, { x, h0, c0 })
    local gw = tape:gradient(loss, layer.trainable_weights)
    for i = 1, 3 do
      fixture.close(outs[i], c.outputs[i], "output " .. i)
      fixture.close(gi[i], c.grad_inputs[i], "grad input " .. i)
      fixture.close(gw[i], c.grad_weights[i], "grad weight " .. i)
    end
  end)
end)

describe("keras.layers.GRU against Keras", function()
  it("last output (reset_after=true, the default)", function()
    local layer = fixture.replay("gru_last", L.GRU(U))
    assert.are.same({ 2, 15 }, layer.weights[3].shape:as_list())
  end)
  it("return_sequences and return_state gives {sequences, h}", function()
    local _, outs = fixture.replay("gru_seq_state", L.GRU(U, { return_sequences = true, return_state = true }))
    assert.are.equal(2, #outs)
  end)
  it("go_backwards", function()
    fixture.replay("gru_back", L.GRU(U, { return_sequences = true, go_backwards = true }))
  end)
  it("reset_after=false", function()
    local layer = fixture.replay("gru_before", L.GRU(U, { reset_after = false, return_sequences = true }))
    assert.are.same({ 15 }, layer.weights[3].shape:as_list())
  end)
  it("use_bias=false with relu", function()
    fixture.replay("gru_nobias", L.GRU(U, { use_bias = false, activation = "relu", return_state = true }))
  end)
end)

describe("keras.layers.LSTM / GRU: weights, shapes, config", function()
  it("weights have Keras's names, shapes and order", function()
    local layer = L.LSTM(7, { name = "enc" })
    layer(tf.zeros({ 2, 3, 4 }))
    local w = layer.weights
    assert.are.equal(3, #w)
    assert.are.equal("enc/lstm_cell/kernel:0", w[1].name)
    assert.are.equal("enc/lstm_cell/recurrent_kernel:0", w[2].name)
    assert.are.equal("enc/lstm_cell/bias:0", w[3].name)
    assert.are.same({ 4, 28 }, w[1].shape:as_list())
    assert.are.same({ 7, 28 }, w[2].shape:as_list())
    assert.are.same({ 28 }, w[3].shape:as_list())
    assert.are.equal(4 * 28 + 7 * 28 + 28, layer:count_params())
  end)
  it("unit_forget_bias puts ones on the forget gate slice (Keras's layout)", function()
    local layer = L.LSTM(U)
    layer(tf.zeros({ 3, 6, 4 }))
    helpers.assert_close(layer.weights[3]:read_value(), fixture.cases().lstm_default_bias, 0, 0)
    local nofb = L.LSTM(U, { unit_forget_bias = false })
    nofb(tf.zeros({ 3, 6, 4 }))
    helpers.assert_close(nofb.weights[3]:read_value(), tf.zeros({ 20 }), 0, 0)
  end)
  it("the recurrent kernel is orthogonal by default", function()
    local layer = L.GRU(6)
    layer(tf.zeros({ 2, 3, 4 }))
    local rk = layer.weights[2]:read_value() -- [6, 18]: U U^T = I for a wide orthogonal matrix
    helpers.assert_close(tf.matmul(rk, rk, { transpose_b = true }), tf.eye(6), 1e-4, 1e-4)
  end)
  it("compute_output_shape with an unknown batch", function()
    local s = tf.TensorShape({ nil, 10, 4 }, 3)
    assert.are.equal("(None, 5)", tostring(L.LSTM(U):compute_output_shape(s)))
    assert.are.equal("(None, 10, 5)", tostring(L.GRU(U, { return_sequences = true }):compute_output_shape(s)))
    local r = L.LSTM(U, { return_state = true }):compute_output_shape(s)
    assert.are.equal(3, #r)
    assert.are.equal("(None, 5)", tostring(r[3]))
    assert.are.equal(2, #L.GRU(U, { return_state = true }):compute_output_shape({ 2, 10, 4 }))
  end)
  it("get_config has Keras's keys and values; from_config rebuilds", function()
    for _, cls in ipairs({ "LSTM", "GRU" }) do
      local ref = fixture.cases()[cls:lower() .. "_config"]
      local layer = L[cls](U)
      local cfg = layer:get_config()
      for k, v in pairs(ref) do
        if k ~= "name" and k ~= "dtype" and type(v) ~= "table" and v ~= helpers.null then
          assert.are.equal(v, cfg[k], cls .. " config key " .. k)
        end
      end
      assert.is_not_nil(cfg.kernel_initializer)
      assert.is_not_nil(cfg.recurrent_initializer)
      local copy = L[cls].from_config(cfg)
      assert.are.same(cfg.units, copy.units)
      assert.are.equal(cfg.return_sequences, copy:get_config().return_sequences)
    end
    local cfg = L.GRU(3, { reset_after = false, go_backwards = true, dropout = 0.25 }):get_config()
    assert.is_false(cfg.reset_after)
    assert.is_true(cfg.go_backwards)
    assert.are.equal(0.25, cfg.dropout)
  end)
end)

describe("keras.layers.LSTM / GRU: masks against Keras", function()
  it("LSTM with a mask (state and output carried over masked steps)", function()
    local layer = fixture.replay("lstm_mask", L.LSTM(U, { return_sequences = true, return_state = true }))
    local m = tf.constant({ { true, false } })
    local cm = layer:compute_mask(nil, m)
    assert.are.equal(m, cm[1])
    assert.are.equal(3, cm.n)
    assert.is_nil(L.LSTM(U):compute_mask(nil, m))
  end)
  it("GRU with a mask, go_backwards and zero_output_for_mask", function()
    fixture.replay("gru_mask_zero_back", L.GRU(U, { return_sequences = true, return_state = true,
      go_backwards = true, zero_output_for_mask = true }))
  end)
end)

describe("keras.layers.LSTM / GRU: masks and dropout", function()
  it("a mask carries the state over masked steps (as Keras)", function()
    local layer = L.LSTM(4, { return_sequences = true, return_state = true })
    local x = tf.random.normal({ 2, 5, 3 }, { seed = 1 })
    layer(x)
    -- Sample 0: all steps; sample 1: steps 2 and 4 masked (0-based 1, 3).
    local mask = tf.constant({ { true, true, true, true, true }, { true, false, true, false, true } })
    local r = layer(x, { mask = mask })
    -- Reference: run sample 1 on its kept steps only.
    local kept = tf.gather(tf.slice(x, { 1, 0, 0 }, { 1, -1, -1 }), { 0, 2, 4 }, { axis = 1 })
    local ref = layer(kept)
    helpers.assert_close(tf.slice(r[2], { 1, 0 }, { 1, -1 }), ref[2], 1e-6, 1e-6)
    helpers.assert_close(tf.slice(r[3], { 1, 0 }, { 1, -1 }), ref[3], 1e-6, 1e-6)
    -- The masked step's output repeats the previous one.
    local seq = r[1]:totable()
    helpers.assert_close(seq[2][2], seq[2][1], 0, 0)
    helpers.assert_close(seq[2][4], seq[2][3], 0, 0)
    -- zero_output_for_mask puts zeros there instead.
    helpers.assert_close(layer(x, { mask = { mask } })[1], r[1], 0, 0) -- Keras's list form
    local z = L.GRU(4, { return_sequences = true, zero_output_for_mask = true })
    local zs = z(x, { mask = mask }):totable()
    helpers.assert_close(zs[2][2], { 0, 0, 0, 0 }, 0, 0)
  end)
  it("dropout acts only with training=true", function()
    local layer = L.LSTM(8, { dropout = 0.5, recurrent_dropout = 0.5 })
    local x = tf.random.normal({ 4, 6, 3 }, { seed = 2 })
    local a = layer(x)
    helpers.assert_close(layer(x), a, 0, 0)
    helpers.assert_close(layer(x, { training = false }), a, 0, 0)
    local t = layer(x, { training = true })
    assert.is_true(tf.reduce_max(tf.abs(t - a)):totable() > 1e-3)
    -- Gradients flow with dropout on.
    local tape = tf.GradientTape()
    local loss = tf.reduce_sum(layer(x, { training = true }))
    local g = tape:gradient(loss, layer.trainable_weights)
    assert.are.equal(3, #g)
  end)
end)

describe("keras.layers.LSTM / GRU: float64 gradients against central differences", function()
  local x = tf.random.normal({ 2, 4, 3 }, { dtype = "float64", seed = 7 })
  local h0 = tf.random.normal({ 2, 3 }, { dtype = "float64", seed = 8 })
  local mask = tf.constant({ { true, false, true, true }, { false, true, true, false } })
  it("LSTM: inputs and initial states, with a mask, sequences and states", function()
    local layer = L.LSTM(3, { dtype = "float64", return_sequences = true, return_state = true })
    gradcheck.assert_grad(function(xx, h, c)
      local r = layer(xx, { initial_state = { h, c }, mask = mask })
      return r[1], r[2], r[3]
    end, { x, h0, h0 * 0.5 })
  end)
  it("GRU (both reset_after variants), go_backwards", function()
    for _, ra in ipairs({ true, false }) do
      local layer = L.GRU(3, { dtype = "float64", reset_after = ra, go_backwards = true, return_sequences = true,
        activation = "softsign" })
      gradcheck.assert_grad(function(xx, h) return layer(xx, { initial_state = { h } }) end, { x, h0 })
    end
  end)
end)

describe("configs written by Keras load with from_config", function()
  it("LSTM", function()
    local cfg = fixture.keras_config("lstm_config")
    local layer = L.LSTM.from_config(cfg)
    local mine = layer:get_config()
    for k, v in pairs(cfg) do
      if type(v) ~= "table" then assert.are.equal(v, mine[k], "LSTM " .. k) end
    end
  end)
  it("GRU", function()
    local cfg = fixture.keras_config("gru_config")
    local layer = L.GRU.from_config(cfg)
    local mine = layer:get_config()
    for k, v in pairs(cfg) do
      if type(v) ~= "table" then assert.are.equal(v, mine[k], "GRU " .. k) end
    end
  end)
end)

describe("keras.layers.LSTM / GRU: errors", function()
  it("rejects bad options", function()
    helpers.assert_error("InvalidArgument", { "LSTM", "units must be a positive integer, got 0" },
      function() return L.LSTM(0) end)
    helpers.assert_error("InvalidArgument", { "GRU", "dropout must be a number in [0, 1), got 1.5" },
      function() return L.GRU(3, { dropout = 1.5 }) end)
    helpers.assert_error("InvalidArgument", { "LSTM", "unknown option 'return_sequence'" },
      function() return L.LSTM(3, { return_sequence = true }) end)
    helpers.assert_error("Unimplemented", { "stateful=true is not supported" },
      function() return L.LSTM(3, { stateful = true }) end)
    helpers.assert_error("InvalidArgument", { "Unknown activation" },
      function() return L.GRU(3, { activation = "nope" }) end)
  end)
  it("rejects inputs of the wrong rank or feature size", function()
    helpers.assert_error("InvalidArgument", { "LSTM 'lstm_rank'", "expected input of rank 3", "float32[4,3]" },
      function() return L.LSTM(3, { name = "lstm_rank" })(tf.zeros({ 4, 3 })) end)
    local layer = L.GRU(3, { name = "gru_feat" })
    layer(tf.zeros({ 2, 5, 4 }))
    helpers.assert_error("InvalidArgument", { "GRU 'gru_feat'", "expected input with last dimension 4", "float32[2,5,7]" },
      function() return layer(tf.zeros({ 2, 5, 7 })) end)
  end)
  it("rejects initial states and masks of the wrong shape", function()
    local layer = L.LSTM(3, { name = "lstm_st" })
    local x = tf.zeros({ 2, 5, 4 })
    helpers.assert_error("InvalidArgument", { "LSTM 'lstm_st'", "initial_state must be a list of 2 tensors" },
      function() return layer(x, { initial_state = { tf.zeros({ 2, 3 }) } }) end)
    helpers.assert_error("InvalidArgument", { "initial_state[2] must have shape (2, 3), got (2, 4)" },
      function() return layer(x, { initial_state = { tf.zeros({ 2, 3 }), tf.zeros({ 2, 4 }) } }) end)
    helpers.assert_error("InvalidArgument", { "mask must have shape (2, 5), got (2, 4)" },
      function() return layer(x, { mask = tf.ones({ 2, 4 }) }) end)
  end)
end)
