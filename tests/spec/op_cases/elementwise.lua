-- Conformance cases for src/ops/elementwise.c and src/ops/unary.c.
-- Inputs stay away from kinks (0 for abs/relu, bounds for relu6/clip, ties
-- for maximum/minimum) so central differences are meaningful. The value
-- cases (wrt = {}: compared CPU against the test device and checked against
-- the shape rule, not differentiated) cover the other dtype families, the
-- half types through the dispatcher's float32 path, broadcasting, scalars
-- and zero-sized shapes.
local tf = require("tlua")
local a = { { 0.5, -1.25, 2.0 }, { 1.5, 0.75, -0.6 } }
local b = { { 1.3, 0.4, -2.5 }, { -0.7, 2.2, 1.1 } }
local row = { 0.9, -1.7, 0.35 }
local pos = { { 0.5, 1.25, 2.0 }, { 1.5, 0.75, 3.1 } }
local unit = { { 0.5, -0.25, 0.1 }, { -0.6, 0.75, 0.3 } }
local col = { { 0.8 }, { -1.3 } }
local prob = { { 0.2, 0.55, 0.9 }, { 0.35, 0.7, 0.05 } } -- sigmoid outputs

local function c(v, dt) return tf.constant(v, dt) end
local NONE = {} -- wrt: differentiate nothing (a value case)
local empty = tf.zeros({ 0, 3 })
local ints = { { c({ { 7, -7, 3 }, { -4, 5, 9 } }, tf.int32), c({ 2, -3, 4 }, tf.int32) },
               { c({ 200, 7, 0 }, tf.uint8), c(3, tf.uint8) },
               { c({ { 5 }, { -6 } }, tf.int8), c({ 2, -3 }, tf.int8) },
               { c({ 9, -9 }, tf.int16), c({ 4, 4 }, tf.int16) },
               { c({ 2 ^ 40, -3 }, tf.int64), c({ 7, 2 }, tf.int64) } }

-- Values of a binary op: half types with a broadcast row and a scalar,
-- zero-sized against a row, and (ints = true) every integer dtype.
local function binary_values(f, with_ints)
  local cases = {
    { fn = f, inputs = { c(a, tf.float16), c(row, tf.float16) }, wrt = NONE },
    { fn = f, inputs = { c(2.5, tf.bfloat16), c(b, tf.bfloat16) }, wrt = NONE },
    { fn = f, inputs = { empty, c(row, tf.float32) }, wrt = NONE },
    { fn = f, inputs = { c(pos, tf.float32), c(0.75, tf.float32) }, wrt = NONE },
  }
  if with_ints then
    for _, p in ipairs(ints) do cases[#cases + 1] = { fn = f, inputs = p, wrt = NONE } end
  end
  return cases
end

local function add_all(list, more)
  for _, x in ipairs(more) do list[#list + 1] = x end
  return list
end

-- Unary: the float64 gradient case, then values in float32, float16,
-- bfloat16 and zero-sized.
local function unary(f, x)
  x = x or a
  return { { fn = f, inputs = { x } },
           { fn = f, inputs = { c(x, tf.float16) }, wrt = NONE },
           { fn = f, inputs = { c(x, tf.bfloat16) }, wrt = NONE },
           { fn = f, inputs = { c(x, tf.float32) }, wrt = NONE },
           { fn = f, inputs = { empty }, wrt = NONE } }
end
-- Unary ops that also take integers.
local function unary_int(f, x)
  local cases = unary(f, x)
  for _, p in ipairs(ints) do cases[#cases + 1] = { fn = f, inputs = { p[1] }, wrt = NONE } end
  return cases
end
-- Broadcast cases: the tape reduces each operand's gradient to its shape
-- (row [3], column [2,1], scalar, and the broadcast operand first).
local function binary(f, with_ints) return add_all({
  { fn = f, inputs = { a, b } },
  { fn = f, inputs = { a, row } },
  { fn = f, inputs = { a, col } },
  { fn = f, inputs = { a, 2.5 } },
  { fn = f, inputs = { row, b } },
}, binary_values(f, with_ints)) end

-- nograd binary ops: as given, floats (half too), ints, broadcasting.
local function nograd_binary(reason, f, with_ints, with_bool)
  local cases = { nograd = reason,
    { fn = f, inputs = { c(a, tf.float32), c(row, tf.float32) } },
    { fn = f, inputs = { c(a, tf.float64), c(col, tf.float64) } },
    { fn = f, inputs = { c(a, tf.float16), c(0.5, tf.float16) } },
    { fn = f, inputs = { c(b, tf.bfloat16), c(row, tf.bfloat16) } },
    { fn = f, inputs = { empty, c(row, tf.float32) } } }
  if with_ints then
    for _, p in ipairs(ints) do cases[#cases + 1] = { fn = f, inputs = p } end
  end
  if with_bool then
    cases[#cases + 1] = { fn = f, inputs = { c({ true, false, true }), c({ { true }, { false } }) } }
  end
  return cases
end

local bools = { { c({ true, false, true, false }), c({ true, true, false, false }) },
                { c({ { true }, { false } }), c({ true, false, true }) },
                { c(true), c({ false, true }) },
                { c({ true, false, true }), c({}, tf.bool) } }
local function logical(f)
  local cases = { nograd = "bool only" }
  for i, p in ipairs(bools) do cases[i] = { fn = f, inputs = i == 4 and { tf.zeros({ 0, 3 }, tf.bool), p[1] } or p } end
  return cases
end

local specials = { 1.0, 0 / 0, math.huge, -math.huge, -0.0, 3.5 }
local function predicate(f)
  return { nograd = "returns bool",
    { fn = f, inputs = { c(specials, tf.float32) } },
    { fn = f, inputs = { c(specials, tf.float64) } },
    { fn = f, inputs = { c(specials, tf.float16) } },
    { fn = f, inputs = { c(specials, tf.bfloat16) } },
    { fn = f, inputs = { empty } } }
end

local halves = { -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -0.7, 3.2 }
local function rounding(f, with_ints)
  local cases = { nograd = "piecewise constant (TF registers no gradient)",
    { fn = f, inputs = { c(halves, tf.float32) } },
    { fn = f, inputs = { c(halves, tf.float64) } },
    { fn = f, inputs = { c(halves, tf.float16) } },
    { fn = f, inputs = { c(halves, tf.bfloat16) } },
    { fn = f, inputs = { empty } } }
  if with_ints then
    for _, p in ipairs(ints) do cases[#cases + 1] = { fn = f, inputs = { p[1] } } end
  end
  return cases
end

local cases = {
  add = binary(function(x, y) return tf.add(x, y) end, true),
  subtract = binary(function(x, y) return tf.subtract(x, y) end, true),
  multiply = binary(function(x, y) return tf.multiply(x, y) end, true),
  -- integers divide in float32 (8/16-bit) or float64 (32/64-bit)
  divide = binary(function(x, y) return tf.divide(x, y) end, true),
  truediv = binary(function(x, y) return tf.truediv(x, y) end, true),
  divide_no_nan = add_all(binary(function(x, y) return tf.math.divide_no_nan(x, y) end),
    { { fn = function(x, y) return tf.math.divide_no_nan(x, y) end,
        inputs = { c({ 1.0, -2.0, 0.0 }, tf.float16), c({ 0.0, 4.0, 0.0 }, tf.float16) }, wrt = NONE } }),
  floormod = {
    { fn = function(x, y) return tf.math.floormod(x, y) end, inputs = { a, { { 0.3, 0.7, -0.9 }, { 0.4, -0.65, 0.25 } } } },
    { fn = function(x, y) return tf.math.floormod(x, y) end, inputs = { a, row } },
    { fn = function(x, y) return tf.math.floormod(x, y) end, inputs = { 2.3, row } },
    { fn = function(x, y) return tf.math.floormod(x, y) end, inputs = { c(a, tf.float16), c(row, tf.float16) }, wrt = NONE },
    { fn = function(x, y) return tf.math.floormod(x, y) end, inputs = ints[1], wrt = NONE },
    { fn = function(x, y) return tf.math.floormod(x, y) end, inputs = ints[3], wrt = NONE },
    { fn = function(x, y) return tf.math.floormod(x, y) end, inputs = ints[5], wrt = NONE },
    { fn = function(x, y) return tf.math.floormod(x, y) end, inputs = { empty, c(row, tf.float32) }, wrt = NONE },
  },
  pow = {
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { pos, b } },
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { pos, row } },
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { pos, 2.5 } },
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { 1.7, b } },
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { c(pos, tf.float16), c(2.0, tf.float16) }, wrt = NONE },
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { c(pos, tf.bfloat16), c(row, tf.bfloat16) }, wrt = NONE },
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { c({ { 3, -2 }, { 5, 7 } }, tf.int32), c({ 2, 3 }, tf.int32) }, wrt = NONE },
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { c({ 3, 2 }, tf.int64), c({ 40, 62 }, tf.int64) }, wrt = NONE },
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { c({ 3, 2 }, tf.uint8), c(5, tf.uint8) }, wrt = NONE },
    { fn = function(x, y) return tf.pow(x, y) end, inputs = { empty, c(row, tf.float32) }, wrt = NONE },
  },
  maximum = binary(function(x, y) return tf.maximum(x, y) end, true),
  minimum = binary(function(x, y) return tf.minimum(x, y) end, true),
  squared_difference = binary(function(x, y) return tf.math.squared_difference(x, y) end, true),
  floordiv = nograd_binary("piecewise constant (TF registers no gradient)",
    function(x, y) return tf.math.floordiv(x, y) end, true),
  truncatediv = nograd_binary("piecewise constant (TF registers no gradient)",
    function(x, y) return tf.truncatediv(x, y) end, true),
  truncatemod = nograd_binary("TF registers no gradient for TruncateMod",
    function(x, y) return tf.truncatemod(x, y) end, true),
  equal = nograd_binary("returns bool", function(x, y) return tf.equal(x, y) end, true, true),
  not_equal = nograd_binary("returns bool", function(x, y) return tf.not_equal(x, y) end, true, true),
  less = nograd_binary("returns bool", function(x, y) return tf.less(x, y) end, true),
  less_equal = nograd_binary("returns bool", function(x, y) return tf.less_equal(x, y) end, true),
  greater = nograd_binary("returns bool", function(x, y) return tf.greater(x, y) end, true),
  greater_equal = nograd_binary("returns bool", function(x, y) return tf.greater_equal(x, y) end, true),
  logical_and = logical(function(x, y) return tf.logical_and(x, y) end),
  logical_or = logical(function(x, y) return tf.logical_or(x, y) end),
  logical_xor = logical(function(x, y) return tf.math.logical_xor(x, y) end),
  logical_not = { nograd = "bool only",
    { fn = function(x) return tf.logical_not(x) end, inputs = { c({ { true, false }, { false, true } }) } },
    { fn = function(x) return tf.logical_not(x) end, inputs = { c(true) } },
    { fn = function(x) return tf.logical_not(x) end, inputs = { tf.zeros({ 0 }, tf.bool) } } },
  is_nan = predicate(function(x) return tf.math.is_nan(x) end),
  is_inf = predicate(function(x) return tf.math.is_inf(x) end),
  is_finite = predicate(function(x) return tf.math.is_finite(x) end),
  round = rounding(function(x) return tf.round(x) end, true),
  floor = rounding(function(x) return tf.floor(x) end),
  ceil = rounding(function(x) return tf.math.ceil(x) end),
  -- cast is linear: a wide step keeps float32 rounding out of the difference
  cast = {
    { fn = function(x) return tf.cast(tf.cast(x, tf.float32), tf.float64) end, inputs = { a }, eps = 1e-2, tol = 1e-4 },
    { fn = function(x) return tf.cast(x, tf.float64) end, inputs = { a } },
    -- values between the families: truncation toward zero, half rounding, bool
    { fn = function(x) return tf.cast(x, tf.int32), tf.cast(x, tf.uint8), tf.cast(x, tf.bool) end,
      inputs = { c({ -2.7, -0.5, 0.0, 0.5, 2.7, 300.25 }, tf.float32) }, wrt = NONE },
    -- (one float dtype per case: the gradient pass adds the float outputs)
    { fn = function(x) return tf.cast(x, tf.float16), tf.cast(x, tf.int8) end,
      inputs = { c({ { 1.0009765625, 65504.0, 1e-8, 100.7 } }, tf.float64) }, wrt = NONE },
    { fn = function(x) return tf.cast(x, tf.bfloat16), tf.cast(x, tf.int16) end,
      inputs = { c({ 1.00390625, 3e38, -1e-8, -300.5 }, tf.float32) }, wrt = NONE },
    { fn = function(x) return tf.cast(x, tf.float32), tf.cast(x, tf.uint8) end,
      inputs = { c({ 1.5, -2.5, 6.0 }, tf.float16) }, wrt = NONE },
    { fn = function(x) return tf.cast(x, tf.float32), tf.cast(x, tf.int64) end, inputs = { c({ true, false }) }, wrt = NONE },
    { fn = function(x) return tf.cast(x, tf.float16) end, inputs = { c({ true, false }) }, wrt = NONE },
    { fn = function(x) return tf.cast(x, tf.float64), tf.cast(x, tf.int32) end, inputs = { c({ -5, 7 }, tf.int8) }, wrt = NONE },
    { fn = function(x) return tf.cast(x, tf.float32) end, inputs = { empty }, wrt = NONE },
  },
  clip_by_value = {
    { fn = function(x) return tf.clip_by_value(x, -1.0, 1.0) end, inputs = { a } },
    -- tensor bounds: each gets the gradient where t went past it
    { fn = function(x, lo, hi) return tf.clip_by_value(x, lo, hi) end, inputs = { a, { -1.0, 0.8, -0.7 }, 1.2 } },
    { fn = function(x, lo, hi) return tf.clip_by_value(x, lo, hi) end,
      inputs = { c(a, tf.float16), c(-1.0, tf.float16), c({ 1.0, 0.5, 1.5 }, tf.float16) }, wrt = NONE },
    { fn = function(x) return tf.clip_by_value(x, -1.0, 1.0) end, inputs = { c(b, tf.bfloat16) }, wrt = NONE },
    { fn = function(x, lo, hi) return tf.clip_by_value(x, lo, hi) end,
      inputs = { c({ { 7, -7, 3 }, { -4, 5, 9 } }, tf.int32), c({ { -5 }, { 0 } }, tf.int32), c(4, tf.int32) }, wrt = NONE },
    { fn = function(x) return tf.clip_by_value(x, 2, 100) end, inputs = { c({ 0, 50, 255 }, tf.uint8) }, wrt = NONE },
    { fn = function(x) return tf.clip_by_value(x, -1.0, 1.0) end, inputs = { empty }, wrt = NONE },
  },
  add_n = {
    { fn = function(x, y, z) return tf.add_n({ x, y, z }) end, inputs = { a, b, pos } },
    { fn = function(x) return tf.add_n({ x, x }) end, inputs = { a } },
    { fn = function(x) return tf.add_n({ x }) end, inputs = { a } },
    -- half sums round after each addition
    { fn = function(x, y) return tf.add_n({ x, y, y }) end,
      inputs = { c({ 1.0, 2.0 }, tf.float16), c({ 2 ^ -11, 2 ^ -10 }, tf.float16) }, wrt = NONE },
    { fn = function(x, y) return tf.add_n({ x, y, x }) end, inputs = { c(a, tf.bfloat16), c(b, tf.bfloat16) }, wrt = NONE },
    { fn = function(x, y) return tf.add_n({ x, y, x, y }) end, inputs = { ints[1][1], ints[1][1] }, wrt = NONE },
    { fn = function(x, y) return tf.add_n({ x, y, y }) end, inputs = ints[5], wrt = NONE },
    { fn = function(x) return tf.add_n({ x, x, x }) end, inputs = { c({ 100, 200 }, tf.uint8) }, wrt = NONE },
    { fn = function(x) return tf.add_n({ x, x }) end, inputs = { c(3.5, tf.float32) }, wrt = NONE },
    { fn = function(x) return tf.add_n({ x, x }) end, inputs = { empty }, wrt = NONE },
  },
  relu_grad = {
    { fn = function(g, f) return tf.raw_ops.relu_grad(g, f) end, inputs = { b, a } },
    { fn = function(g, f) return tf.raw_ops.relu_grad(g, f) end, inputs = { c(b, tf.float16), c(a, tf.float16) }, wrt = NONE },
    { fn = function(g, f) return tf.raw_ops.relu_grad(g, f) end, inputs = { c(2.0, tf.float32), c(a, tf.float32) }, wrt = NONE },
  },
  sigmoid_grad = {
    { fn = function(y, g) return tf.raw_ops.sigmoid_grad(y, g) end, inputs = { prob, b } },
    { fn = function(y, g) return tf.raw_ops.sigmoid_grad(y, g) end, inputs = { c(prob, tf.bfloat16), c(row, tf.bfloat16) }, wrt = NONE },
  },
  tanh_grad = {
    { fn = function(y, g) return tf.raw_ops.tanh_grad(y, g) end, inputs = { unit, b } },
    { fn = function(y, g) return tf.raw_ops.tanh_grad(y, g) end, inputs = { c(unit, tf.float16), c(b, tf.float16) }, wrt = NONE },
    { fn = function(y, g) return tf.raw_ops.tanh_grad(y, g) end, inputs = { empty, c(row, tf.float32) }, wrt = NONE },
  },
  negative = unary_int(function(x) return tf.negative(x) end),
  abs = unary_int(function(x) return tf.abs(x) end),
  sign = unary_int(function(x) return tf.sign(x) end),
  square = unary_int(function(x) return tf.square(x) end),
  relu = unary_int(function(x) return tf.nn.relu(x) end),
  relu6 = add_all(unary(function(x) return tf.nn.relu6(x * 3.5) end), -- below 0, inside, above 6
    { { fn = function(x) return tf.nn.relu6(x) end, inputs = { ints[1][1] }, wrt = NONE },
      { fn = function(x) return tf.nn.relu6(x) end, inputs = { ints[2][1] }, wrt = NONE } }),
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
    { fn = function(x) return tf.nn.leaky_relu(x, 0.3) end, inputs = { c(a, tf.float16) }, wrt = NONE },
    { fn = function(x) return tf.nn.leaky_relu(x) end, inputs = { c(a, tf.bfloat16) }, wrt = NONE },
  },
  gelu = {
    { fn = function(x) return tf.nn.gelu(x) end, inputs = { a } },
    { fn = function(x) return tf.nn.gelu(x, true) end, inputs = { a } },
    { fn = function(x) return tf.nn.gelu(x, true) end, inputs = { c(a, tf.float16) }, wrt = NONE },
    { fn = function(x) return tf.nn.gelu(x) end, inputs = { c(a, tf.bfloat16) }, wrt = NONE },
    { fn = function(x) return tf.nn.gelu(x) end, inputs = { empty }, wrt = NONE },
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

-- The gradient pass of a value case (wrt = NONE) still needs a float output
-- to form its loss: an integer or bool result is returned with its float64
-- copy (outputs are compared leaf by leaf, so the integer one still counts).
for _, entry in pairs(cases) do
  if not entry.nograd then
    for _, case in ipairs(entry) do
      if case.wrt == NONE then
        local f = case.fn
        case.fn = function(...)
          local r = table.pack(f(...))
          for i = 1, r.n do
            if r[i].dtype.is_floating then return table.unpack(r, 1, r.n) end
          end
          r[r.n + 1] = tf.cast(r[1], tf.float64)
          return table.unpack(r, 1, r.n + 1)
        end
      end
    end
  end
end
return cases
