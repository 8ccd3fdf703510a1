-- Conformance cases for src/ops/norm.c: vector and matrix norms and the
-- internal norm2_direction (values are checked against numpy and PyTorch
-- in linalg_spec.lua). Float64 tables are gradient-checked; tensor inputs
-- with wrt = {} cover float32 and float16/bfloat16 (through float32),
-- forward only.
local tf = require("tlua")
local m23 = { { 0.5, -1.0, 2.0 }, { 1.5, 0.25, -0.75 } }
local m32 = { { 1.0, -0.5 }, { 0.75, 2.0 }, { -1.25, 0.5 } }
local t234 = require("gradcheck").t234

local norm = {
  { fn = function(x) return tf.norm(x) end, inputs = { m23 } },
  { fn = function(x) return tf.norm(x, 1, 1) end, inputs = { m23 } },
  { fn = function(x) return tf.norm(x, 3, 0) end, inputs = { m23 } },
  { fn = function(x) return tf.norm(x, "fro", { 0, 1 }) end, inputs = { m23 } },
  -- the maxima (ties share the gradient; here each maximum is unique)
  { fn = function(x) return tf.norm(x, math.huge) end, inputs = { m23 } },
  { fn = function(x) return tf.norm(x, math.huge, 1) end, inputs = { m23 } },
  { fn = function(x) return tf.norm(x, 1, { 0, 1 }) end, inputs = { m23 } },
  { fn = function(x) return tf.norm(x, math.huge, { 0, 1 }) end, inputs = { m23 } },
  { fn = function(x) return tf.norm(x, 1, { 1, 0 }) end, inputs = { m23 } },
  { fn = function(x) return tf.norm(tf.reshape(x, { 1, 2, 3 }), math.huge, { 2, 1 }) end, inputs = { m23 } },
  { fn = function(x) return tf.norm(x, 2, { 0, 1 }) end, inputs = { m23 } },
  { fn = function(x) return tf.norm(x, 2, { 1, 0 }) end, inputs = { m32 } },
  -- keepdims and negative axes
  { fn = function(x) return tf.norm(x, "euclidean", -1, { keepdims = true }) end, inputs = { t234 } },
  { fn = function(x) return tf.norm(x, "fro", { -1, -3 }, { keepdims = true }) end, inputs = { t234 } },
  { fn = function(x) return tf.norm(x, 2, { -2, -1 }) end, inputs = { t234 } },
  { fn = function(x) return tf.norm(x, "euclidean", nil, { keepdims = true }) end, inputs = { t234 } },
  -- empty: the norm of nothing is 0
  { fn = function(x) return tf.norm(x, "euclidean", 0) end, inputs = { tf.zeros({ 0, 3 }, tf.float64) } },
  { fn = function(x) return tf.norm(x, 2, { 0, 1 }) end, inputs = { tf.zeros({ 0, 3 }, tf.float64) } },
}
for _, dt in ipairs({ tf.float32, tf.float16, tf.bfloat16 }) do
  norm[#norm + 1] = { fn = function(x) return tf.norm(x, "euclidean", 1) end, inputs = { tf.constant(m23, dt) }, wrt = {} }
  norm[#norm + 1] = { fn = function(x) return tf.norm(x, 2, { 1, 2 }) end, inputs = { tf.constant(t234, dt) }, wrt = {} }
end

return {
  norm = norm,
  norm2_direction = {
    nograd = "its gradient would be the matrix 2-norm's second derivative (needs the full SVD); "
      .. "it raises Unimplemented, checked in linalg_spec; values checked there through norm's gradient",
    { fn = function(x) return tf.raw_ops.norm2_direction(x, { 0, 1 }) end, inputs = { tf.constant(m23, tf.float64) } },
    { fn = function(x) return tf.raw_ops.norm2_direction(x, { 2, 0 }) end, inputs = { tf.constant(t234, tf.float32) } },
    -- a zero matrix (0 is a subgradient) and a non-finite one (NaN)
    { fn = function(x) return tf.raw_ops.norm2_direction(x, { -2, -1 }) end,
      inputs = { tf.constant({ { { 0, 0 }, { 0, 0 } }, { { 1, 0 / 0 }, { 2, 3 } } }, tf.float64) } },
    { fn = function(x) return tf.raw_ops.norm2_direction(x, { 0, 1 }) end, inputs = { tf.zeros({ 0, 3 }, tf.float64) } },
  },
}
