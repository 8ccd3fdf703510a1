-- tlua side of bench/lstm.sh: keras.layers.LSTM(64) / GRU(64) on a
-- [32, 20, 16] batch, forward only and forward + backward (gradients of
-- sum(last output) w.r.t. the three weights), through the Keras layer
-- exactly as a user calls it. Prints "case seconds_per_step" lines.
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/common.lua")
local function timeit(fn) return bench.timeit(fn, 1.0, 5) end

local B, T, D, U = 32, 20, 16, 64

local function case(cls, backward)
  return function()
    tf.random.set_seed(1)
    local layer = keras.layers[cls](U)
    local x = tf.random.normal({ B, T, D })
    layer(x)
    local vars = layer.trainable_variables
    if not backward then return timeit(function() return layer(x) end) end
    return timeit(function()
      local tape = tf.GradientTape()
      local loss = tf.reduce_sum(layer(x))
      return tape:gradient(loss, vars)
    end)
  end
end

local cases = {
  lstm_fwd = case("LSTM", false), lstm_fwd_bwd = case("LSTM", true),
  gru_fwd = case("GRU", false), gru_fwd_bwd = case("GRU", true),
}
bench.run(cases, { "lstm_fwd", "lstm_fwd_bwd", "gru_fwd", "gru_fwd_bwd" })
