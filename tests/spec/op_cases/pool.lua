-- Conformance cases for src/ops/pool.c: max_pool, avg_pool and their
-- backprops, through tf.nn (stdlib/tlua/conv.lua) and tf.raw_ops. Inputs
-- have distinct values (no ties: max pooling is differentiable there).
-- max_pool_grad and max_pool_grad_grad are differentiated in their grad
-- input only (the window maxima are piecewise constant in orig_input).
-- Values against PyTorch are in conv_spec.lua.
local tf = require("tlua")

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
local NONE = {}
local function c(v, dt) return tf.constant(v, dt) end

local function pools(f)
  return {
    { fn = function(a) return f(a, 2, 2, "VALID") end, inputs = { x } },
    { fn = function(a) return f(a, 2, 2, "SAME") end, inputs = { x } },
    { fn = function(a) return f(a, { 3, 2 }, { 1, 2 }, "SAME") end, inputs = { x } },
    { fn = function(a) return f(a, { 1, 3, 3, 1 }, { 1, 2, 2, 1 }, "SAME") end, inputs = { x } },
    { fn = function(a) return f(a, 3, 1, "VALID") end, inputs = { x } },
    { fn = function(a) return f(a, 2, 2, "SAME") end, inputs = { c(x) }, wrt = NONE },
    { fn = function(a) return f(a, 2, 2, "SAME") end, inputs = { c(x, tf.bfloat16) }, wrt = NONE },
    { fn = function(a) return f(a, 2, 2, "SAME") end, inputs = { tf.zeros({ 0, 5, 6, 3 }, tf.float64) }, wrt = NONE },
  }
end

local max_pool = pools(tf.nn.max_pool2d)
-- the 1-D forms insert a height of 1
max_pool[#max_pool + 1] = { fn = function(a) return tf.nn.max_pool1d(a, 3, 2, "SAME") end, inputs = { arr({ 2, 7, 3 }, 2) } }
max_pool[#max_pool + 1] = { fn = function(a) return tf.nn.max_pool(a, 2, 1, "VALID") end, inputs = { arr({ 2, 7, 3 }, 3) } }
local avg_pool = pools(tf.nn.avg_pool2d)
avg_pool[#avg_pool + 1] = { fn = function(a) return tf.nn.avg_pool1d(a, 3, 2, "SAME") end, inputs = { arr({ 2, 7, 3 }, 4) } }
avg_pool[#avg_pool + 1] = { fn = function(a) return tf.nn.avg_pool(a, 2, 1, "VALID") end, inputs = { arr({ 2, 7, 3 }, 5) } }

local g_same = arr({ 2, 3, 3, 3 }, 6) -- the shape of a 2x2 / 2 SAME pool of x
local g_valid = arr({ 2, 3, 4, 3 }, 7) -- 3x3 / 1 VALID
local max_grad = {
  { fn = function(a, g) return tf.raw_ops.max_pool_grad(a, tf.raw_ops.max_pool(a, 2, 2, "SAME"), g, 2, 2, "SAME") end,
    inputs = { x, g_same }, wrt = { 2 } },
  { fn = function(a, g) return tf.raw_ops.max_pool_grad(a, tf.raw_ops.max_pool(a, 3, 1, "VALID"), g, 3, 1, "VALID") end,
    inputs = { x, g_valid }, wrt = { 2 } },
}
local max_grad_grad = {
  { fn = function(a, g) return tf.raw_ops.max_pool_grad_grad(a, tf.raw_ops.max_pool(a, 2, 2, "SAME"), g, 2, 2, "SAME") end,
    inputs = { x, arr({ 2, 5, 6, 3 }, 8) }, wrt = { 2 } },
  { fn = function(a, g) return tf.raw_ops.max_pool_grad_grad(a, tf.raw_ops.max_pool(a, 3, 1, "VALID"), g, 3, 1, "VALID") end,
    inputs = { x, arr({ 2, 5, 6, 3 }, 9) }, wrt = { 2 } },
}
local avg_grad = {
  { fn = function(g) return tf.raw_ops.avg_pool_grad(g, { 2, 5, 6, 3 }, 2, 2, "SAME") end, inputs = { g_same } },
  { fn = function(g) return tf.raw_ops.avg_pool_grad(g, { 2, 5, 6, 3 }, 3, 1, "VALID") end, inputs = { g_valid } },
  { fn = function(g) return tf.raw_ops.avg_pool_grad(g, { 2, 5, 6, 3 }, 3, 1, "VALID") end, inputs = { c(g_valid) },
    wrt = NONE },
}

return {
  max_pool = max_pool,
  avg_pool = avg_pool,
  max_pool_grad = max_grad,
  max_pool_grad_grad = max_grad_grad,
  avg_pool_grad = avg_grad,
}
