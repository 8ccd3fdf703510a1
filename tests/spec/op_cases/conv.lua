-- Conformance cases for src/ops/conv.c: conv2d, its two backprops and the
-- depthwise family, reached through tf.nn (stdlib/tlua/conv.lua) and
-- tf.raw_ops. The gradient checks of the backprop ops exercise the
-- gradients of the gradients (each op's rule is the others). Geometry
-- covered: SAME / VALID / explicit padding, strides as int, pair and NHWC
-- 4-list, dilations, a 1x1 filter (the no-copy path), rectangular filters,
-- an empty batch, float32 and float16 value cases. Values against PyTorch
-- are in conv_spec.lua.
local tf = require("tlua")

-- A nested Lua table of the given shape with distinct smooth values.
local function arr(shape, seed, d, k)
  d, k = d or 1, k or { 0 }
  local t = {}
  for i = 1, shape[d] do
    if d == #shape then
      k[1] = k[1] + 1
      t[i] = math.sin(k[1] * 0.731 + seed) * 1.5 + 0.01 * k[1]
    else
      t[i] = arr(shape, seed, d + 1, k)
    end
  end
  return t
end

local x = arr({ 2, 5, 6, 3 }, 1)
local w = arr({ 3, 3, 3, 2 }, 2)
local w1 = arr({ 1, 1, 3, 4 }, 3)
local w23 = arr({ 2, 3, 3, 2 }, 4)
local dwf = arr({ 3, 3, 3, 2 }, 5) -- multiplier 2
local dwf1 = arr({ 2, 2, 3, 1 }, 6)
local function c(v, dt) return tf.constant(v, dt) end
local NONE = {}

local conv2d = {
  { fn = function(a, b) return tf.nn.conv2d(a, b, 1, "SAME") end, inputs = { x, w } },
  { fn = function(a, b) return tf.nn.conv2d(a, b, 2, "VALID") end, inputs = { x, w } },
  { fn = function(a, b) return tf.nn.conv2d(a, b, { 2, 1 }, "SAME") end, inputs = { x, w23 } },
  { fn = function(a, b) return tf.nn.conv2d(a, b, { 1, 1, 2, 1 }, { { 0, 0 }, { 1, 2 }, { 0, 1 }, { 0, 0 } }) end,
    inputs = { x, w } },
  { fn = function(a, b) return tf.nn.conv2d(a, b, 1, "SAME", { dilations = 2 }) end, inputs = { x, w } },
  { fn = function(a, b) return tf.nn.conv2d(a, b, 1, "VALID") end, inputs = { x, w1 } },
  { fn = function(a, b) return tf.nn.conv2d(a, b, 2, "SAME") end, inputs = { x, w1 } },
  { fn = function(a, b) return tf.nn.conv2d(a, b, 1, "SAME") end, inputs = { tf.zeros({ 0, 5, 6, 3 }, tf.float64), w },
    wrt = NONE },
  { fn = function(a, b) return tf.nn.conv2d(a, b, 1, "SAME") end, inputs = { c(x), c(w) }, wrt = NONE },
  { fn = function(a, b) return tf.nn.conv2d(a, b, 1, "SAME") end, inputs = { c(x, tf.float16), c(w, tf.float16) },
    wrt = NONE },
  -- conv1d is conv2d over an inserted height of 1
  { fn = function(a, b) return tf.nn.conv1d(a, b, 2, "SAME") end, inputs = { arr({ 2, 7, 3 }, 7), arr({ 3, 3, 2 }, 8) } },
}

local dy_same = arr({ 2, 5, 6, 2 }, 9)  -- conv2d(x, w, 1, SAME)'s shape
local dy_s2 = arr({ 2, 2, 2, 2 }, 10)   -- conv2d(x, w, 2, VALID)'s shape
local bpi = {
  { fn = function(f, g) return tf.raw_ops.conv2d_backprop_input(f, g, { 2, 5, 6, 3 }, 1, "SAME") end,
    inputs = { w, dy_same } },
  { fn = function(f, g) return tf.raw_ops.conv2d_backprop_input(f, g, { 2, 5, 6, 3 }, 2, "VALID") end,
    inputs = { w, dy_s2 } },
  { fn = function(f, g) return tf.nn.conv2d_transpose(g, f, { 2, 5, 6, 3 }, 1, "SAME", { dilations = 2 }) end,
    inputs = { w, dy_same } },
  { fn = function(f, g) return tf.nn.conv2d_transpose(g, f, { 2, 5, 6, 3 }, 1, "VALID") end,
    inputs = { w1, arr({ 2, 5, 6, 4 }, 11) } },
  { fn = function(f, g) return tf.nn.conv2d_transpose(g, f, { 2, 5, 6, 3 }, 2, "SAME") end,
    inputs = { c(w), c(arr({ 2, 3, 3, 2 }, 12)) }, wrt = NONE },
}

local bpf = {
  { fn = function(a, g) return tf.raw_ops.conv2d_backprop_filter(a, g, { 3, 3, 3, 2 }, 1, "SAME") end,
    inputs = { x, dy_same } },
  { fn = function(a, g) return tf.raw_ops.conv2d_backprop_filter(a, g, { 3, 3, 3, 2 }, 2, "VALID") end,
    inputs = { x, dy_s2 } },
  { fn = function(a, g)
      return tf.raw_ops.conv2d_backprop_filter(a, g, { 3, 3, 3, 2 }, 1, "EXPLICIT",
        { explicit_paddings = { 0, 0, 1, 1, 1, 1, 0, 0 } })
    end, inputs = { x, dy_same } },
  { fn = function(a, g) return tf.raw_ops.conv2d_backprop_filter(a, g, { 1, 1, 3, 4 }, 1, "VALID") end,
    inputs = { x, arr({ 2, 5, 6, 4 }, 13) } },
  { fn = function(a, g) return tf.raw_ops.conv2d_backprop_filter(a, g, { 3, 3, 3, 2 }, 1, "SAME") end,
    inputs = { c(x), c(dy_same) }, wrt = NONE },
}

local dw = {
  { fn = function(a, b) return tf.nn.depthwise_conv2d(a, b, { 1, 1, 1, 1 }, "SAME") end, inputs = { x, dwf } },
  { fn = function(a, b) return tf.nn.depthwise_conv2d(a, b, { 1, 2, 2, 1 }, "VALID") end, inputs = { x, dwf1 } },
  { fn = function(a, b) return tf.nn.depthwise_conv2d(a, b, 1, "SAME", { dilations = { 2, 2 } }) end,
    inputs = { x, dwf1 } },
  { fn = function(a, b) return tf.nn.depthwise_conv2d(a, b, 1, "SAME") end, inputs = { c(x), c(dwf) }, wrt = NONE },
}

local dw_dy = arr({ 2, 5, 6, 6 }, 14)
local dw_bpi = {
  { fn = function(f, g) return tf.raw_ops.depthwise_conv2d_native_backprop_input(f, g, { 2, 5, 6, 3 }, 1, "SAME") end,
    inputs = { dwf, dw_dy } },
  { fn = function(f, g) return tf.raw_ops.depthwise_conv2d_native_backprop_input(f, g, { 2, 5, 6, 3 }, 2, "VALID") end,
    inputs = { dwf1, arr({ 2, 2, 3, 3 }, 15) } },
}
local dw_bpf = {
  { fn = function(a, g) return tf.raw_ops.depthwise_conv2d_native_backprop_filter(a, g, { 3, 3, 3, 2 }, 1, "SAME") end,
    inputs = { x, dw_dy } },
  { fn = function(a, g) return tf.raw_ops.depthwise_conv2d_native_backprop_filter(a, g, { 2, 2, 3, 1 }, 2, "VALID") end,
    inputs = { x, arr({ 2, 2, 3, 3 }, 16) } },
}

return {
  conv2d = conv2d,
  conv2d_backprop_input = bpi,
  conv2d_backprop_filter = bpf,
  depthwise_conv2d_native = dw,
  depthwise_conv2d_native_backprop_input = dw_bpi,
  depthwise_conv2d_native_backprop_filter = dw_bpf,
}
