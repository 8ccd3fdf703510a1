-- Conformance cases for src/ops/elementwise.c and src/ops/unary.c.
-- Inputs stay away from kinks (0 for abs/relu, bounds for relu6/clip, ties
-- for maximum/minimum) so central differences are meaningful.
local tf = require("tlua")
local a = { { 0.5, -1.25, 2.0 }, { 1.5, 0.75, -0.6 } }
local b = { { 1.3, 0.4, -2.5 }, { -0.7, 2.2, 1.1 } }
local row = { 0.9, -1.7, 0.35 }
local pos = { { 0.5, 1.25, 2.0 }, { 1.5, 0.75, 3.1 } }
local unit = { { 0.5, -0.25, 0.1 }, { -0.6, 0.75, 0.3 } }
local col = { { 0.8 }, { -1.3 } }
local prob = { { 0.2, 0.55, 0.9 }, { 0.35, 0.7, 0.05 } } -- sigmoid outputs

local function unary(f, x) return { { fn = f, inputs = { x or a } } } end
-- Broadcast cases: the tape reduces each operand's gradient to its shape
-- (row [3], column [2,1], scalar, and the broadcast operand first).
local function binary(f) return {
  { fn = f, inputs = { a, b } },
  { fn = f, inputs = { a, row } },
  { fn = f, inputs = { a, col } },
  { fn = f, inputs = { a, 2.5 } },
  { fn = f, inputs = { row, b } },
} end

return {
  add = binary(function(x, y) return tf.add(x, y) end),
  subtract = binary(function(x, y) return tf.subtract(x, y) end),
  multiply = binary(function(x, y) return tf.multiply(x, y) end),
  divide = binary(function(x, y) return tf.divide(x, y) end),
  truediv = binary(function(x, y) return tf.truediv(x, y) end),
  divide_no_nan = binary(function(x, y) return tf.math.divide_no_nan(x, y) end),
  floormod = {
    { fn = function(x, y) return tf.math.floormod(x, y) end, inputs = { a, { { 0.3, 0.7, -0.9 }, { 0.4, -0.65, 0.25 } } } },
    { fn = function(x, y) return tf.math.floormod(x, y) end, inputs = { a, row } },
    { fn = function(x, y) return tf.math.floormod(x, y) end, inputs = { 2.3, row } },
  },
  pow = {
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { pos, b } },
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { pos, row } },
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { pos, 2.5 } },
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { 1.7, b } },
  },
  maximum = binary(function(x, y) return tf.maximum(x, y) end),
  minimum = binary(function(x, y) return tf.minimum(x, y) end),
  squared_difference = binary(function(x, y) return tf.math.squared_difference(x, y) end),
  floordiv = { nograd = "piecewise constant (TF registers no gradient)" },
  truncatediv = { nograd = "piecewise constant (TF registers no gradient)" },
  truncatemod = { nograd = "TF registers no gradient for TruncateMod" },
  equal = { nograd = "returns bool" },
  not_equal = { nograd = "returns bool" },
  less = { nograd = "returns bool" },
  less_equal = { nograd = "returns bool" },
  greater = { nograd = "returns bool" },
  greater_equal = { nograd = "returns bool" },
  logical_and = { nograd = "bool only" },
  logical_or = { nograd = "bool only" },
  logical_xor = { nograd = "bool only" },
  logical_not = { nograd = "bool only" },
  is_nan = { nograd = "returns bool" },
  is_inf = { nograd = "returns bool" },
  is_finite = { nograd = "returns bool" },
  round = { nograd = "piecewise constant (TF registers no gradient)" },
  floor = { nograd = "piecewise constant (TF registers no gradient)" },
  ceil = { nograd = "piecewise constant (TF registers no gradient)" },
  -- cast is linear: a wide step keeps float32 rounding out of the difference
  cast = {
    { fn = function(x) return tf.cast(tf.cast(x, tf.float32), tf.float64) end, inputs = { a }, eps = 1e-2, tol = 1e-4 },
    { fn = function(x) return tf.cast(x, tf.float64) end, inputs = { a } },
  },
  clip_by_value = {
    { fn = function(x) return tf.clip_by_value(x, -1.0, 1.0) end, inputs = { a } },
    -- tensor bounds: each gets the gradient where t went past it
    { fn = function(x, lo, hi) return tf.clip_by_value(x, lo, hi) end, inputs = { a, { -1.0, 0.8, -0.7 }, 1.2 } },
  },
  add_n = {
    { fn = function(x, y, z) return tf.add_n({ x, y, z }) end, inputs = { a, b, pos } },
    { fn = function(x) return tf.add_n({ x, x }) end, inputs = { a } },
  },
  relu_grad = {
    { fn = function(g, f) return tf.raw_ops.relu_grad(g, f) end, inputs = { b, a } },
  },
  sigmoid_grad = {
    { fn = function(y, g) return tf.raw_ops.sigmoid_grad(y, g) end, inputs = { prob, b } },
  },
  tanh_grad = {
    { fn = function(y, g) return tf.raw_ops.tanh_grad(y, g) end, inputs = { unit, b } },
  },
  negative = unary(function(x) return tf.negative(x) end),
  abs = unary(function(x) return tf.abs(x) end),
  sign = unary(function(x) return tf.sign(x) end),
  square = unary(function(x) return tf.square(x) end),
  relu = unary(function(x) return tf.nn.relu(x) end),
  relu6 = unary(function(x) return tf.nn.relu6(x * 3.5) end), -- below 0, inside, above 6
  sqrt = unary(function(x) return tf.sqrt(x) end, pos),
  rsqrt = unary(function(x) return tf.math.rsqrt(x) end, pos),
  exp = unary(function(x) return tf.exp(x) end),
  expm1 = unary(function(x) return tf.math.expm1(x) end),
  log = unary(function(x) return tf.math.log(x) end, pos),
  log1p = unary(function(x) return tf.math.log1p(x) end, pos),
  tanh = unary(function(x) return tf.tanh(x) end),
  sigmoid = unary(function(x) return tf.sigmoid(x) end),
  softplus = unary(function(x) return tf.nn.softplus(x) end),
  log_sigmoid = unary(function(x) return tf.math.log_sigmoid(x) end),
  softsign = unary(function(x) return tf.nn.softsign(x) end),
  elu = unary(function(x) return tf.nn.elu(x) end),
  selu = unary(function(x) return tf.nn.selu(x) end),
  leaky_relu = {
    { fn = function(x) return tf.nn.leaky_relu(x, 0.1) end, inputs = { a } },
    { fn = function(x) return tf.nn.leaky_relu(x) end, inputs = { a } },
  },
  gelu = {
    { fn = function(x) return tf.nn.gelu(x) end, inputs = { a } },
    { fn = function(x) return tf.nn.gelu(x, true) end, inputs = { a } },
  },
  reciprocal = unary(function(x) return tf.math.reciprocal(x) end),
  sin = unary(function(x) return tf.sin(x) end),
  cos = unary(function(x) return tf.cos(x) end),
  tan = unary(function(x) return tf.tan(x) end, unit),
  asin = unary(function(x) return tf.asin(x) end, unit),
  acos = unary(function(x) return tf.acos(x) end, unit),
  atan = unary(function(x) return tf.atan(x) end),
  sinh = unary(function(x) return tf.sinh(x) end),
  cosh = unary(function(x) return tf.cosh(x) end),
  erf = unary(function(x) return tf.math.erf(x) end),
}
