-- tlua side of bench/run.sh --suite conv: a 3x3 Conv2D (SAME, stride 1) on a
-- 32x28x28x32 float32 NHWC batch with 32 output channels: the forward alone,
-- and forward + backward (input and filter gradients through the tape, for
-- a given output gradient). Also a 2x2 max pool and its gradient. The
-- PyTorch peer (conv_bench.py) runs NCHW and channels_last (the _cl cases).
-- Prints "case seconds_per_iteration" lines.
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/common.lua")
local function timeit(fn) return bench.timeit(fn, 1.0, 3) end

tf.random.set_seed(1)
local x = tf.random.normal({ 32, 28, 28, 32 })
local w = tf.random.normal({ 3, 3, 32, 32 }, { stddev = 0.1 })
local dy = tf.random.normal({ 32, 28, 28, 32 })

local cases = {}
cases.conv3x3_fwd = function()
  return timeit(function() return tf.nn.conv2d(x, w, 1, "SAME") end)
end
cases.conv3x3_fwd_bwd = function()
  return timeit(function()
    local tape = tf.GradientTape()
    tape:watch(x)
    tape:watch(w)
    local y = tf.nn.conv2d(x, w, 1, "SAME")
    tape:stop()
    return tape:gradient(y, { x, w }, dy)
  end)
end
cases.maxpool2x2_fwd_bwd = function()
  local g = tf.random.normal({ 32, 14, 14, 32 })
  return timeit(function()
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = tf.nn.max_pool2d(x, 2, 2, "VALID")
    tape:stop()
    return tape:gradient(y, { x }, g)
  end)
end

-- The same computation (tlua is NHWC, i.e. channels_last) under the names
-- of the PyTorch channels_last cases, so run.sh prints both ratios.
cases.conv3x3_fwd_cl = cases.conv3x3_fwd
cases.conv3x3_fwd_bwd_cl = cases.conv3x3_fwd_bwd

bench.run(cases, { "conv3x3_fwd", "conv3x3_fwd_cl", "conv3x3_fwd_bwd", "conv3x3_fwd_bwd_cl", "maxpool2x2_fwd_bwd" })
