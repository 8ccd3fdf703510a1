-- Conformance cases for src/ops/softmax.c (softmax, log_softmax, the cross
-- entropies) and src/ops/nn.c (sigmoid loss, l2_loss, dropout, bias_add).
-- Values are checked against PyTorch in nn_spec.lua; second derivatives in
-- grad_reduce_spec.lua. Integer labels are passed as tensors so only the
-- float inputs are differentiated; the probability labels of
-- softmax_cross_entropy_with_logits deliberately do not sum to 1, and
-- dropout reseeds so every evaluation draws one mask. The cases with tensor
-- inputs (wrt = {}) run forward only: float32 reaches the vectorised paths
-- (rows shorter than 64, long rows, a non-last axis), float16/bfloat16 go
-- through float32, and empty inputs.
local tf = require("tlua")

local t234 = {}
local z234 = {}
for i = 1, 2 do
  t234[i], z234[i] = {}, {}
  for j = 1, 3 do
    t234[i][j], z234[i][j] = {}, {}
    for k = 1, 4 do
      t234[i][j][k] = math.sin(i * 7 + j * 3 + k) * 2
      z234[i][j][k] = (math.cos(i * 5 + j * 2 + k) + 1) / 2
    end
  end
end
local logits = { { 0.5, -1.0, 2.0, 0.25 }, { 1.5, 0.3, -0.7, -2.0 }, { 0.0, 0.1, 0.2, 3.0 } }
-- 3 rows of 70 classes: past the short-row blocks
local wide = {}
for r = 1, 3 do
  wide[r] = {}
  for c = 1, 70 do wide[r][c] = math.sin(r * 11 + c * 0.7) * 3 end
end
local wide_labels = tf.constant({ 69, 0, 35 }, tf.int64)
local lab3 = tf.constant({ 3, 0, 2 })

local halves = { tf.float32, tf.float16, tf.bfloat16 }
local function f32(v) return tf.constant(v, tf.float32) end
local function empty(cols, dt) return tf.reshape(tf.constant({}, dt or tf.float64), { 0, cols }) end

-- Forward-only cases of fn(x, rest...) with x (the first input) in each
-- float dtype of halves, appended to list; rest as given or (cast_rest) in
-- that dtype too.
local function in_dtypes(list, fn, value, rest, cast_rest)
  return require("case_devices").in_dtypes(list, fn, halves, value, rest, cast_rest)
end

local function softmax_like(f)
  local list = {
    { fn = function(x) return f(x) end, inputs = { t234 } },
    { fn = function(x) return f(x, 1) end, inputs = { t234 } },
    { fn = function(x) return f(x, 0) end, inputs = { logits } },
    { fn = function(x) return f(x, -3) end, inputs = { t234 } },
    { fn = function(x) return f(x) end, inputs = { empty(4) } },
    { fn = function(x) return f(x, 0) end, inputs = { empty(4) } },
    -- float32: short rows, long rows, a non-last axis (column statistics)
    { fn = function(x) return f(x) end, inputs = { f32(t234) }, wrt = {} },
    { fn = function(x) return f(x) end, inputs = { f32(wide) }, wrt = {} },
    { fn = function(x) return f(x, 0) end, inputs = { f32(wide) }, wrt = {} },
    { fn = function(x) return f(x, 1) end, inputs = { f32(t234) }, wrt = {} },
    { fn = function(x) return f(x, -1) end, inputs = { f32({ 1.0, 0 / 0, 2.0 }) }, wrt = {} },
  }
  in_dtypes(list, function(x) return f(x, 0) end, t234)
  return in_dtypes(list, function(x) return f(x) end, wide)
end

local sparse = {
  { fn = function(l, x) return tf.nn.sparse_softmax_cross_entropy_with_logits(l, x) end,
    inputs = { lab3, logits } },
  { fn = function(l, x) return tf.nn.sparse_softmax_cross_entropy_with_logits(l, x) end,
    inputs = { tf.constant({ { 0, 3, 1 }, { 2, 2, 0 } }, tf.int64), t234 } },
  { fn = function(l, x) return tf.nn.sparse_softmax_cross_entropy_with_logits(l, x) end,
    inputs = { wide_labels, wide } },
  { fn = function(l, x) return tf.nn.sparse_softmax_cross_entropy_with_logits(l, x) end,
    inputs = { tf.constant({}, tf.int32), empty(4) } },
}
in_dtypes(sparse, function(x, l) return tf.nn.sparse_softmax_cross_entropy_with_logits(l, x) end, logits, { lab3 })
in_dtypes(sparse, function(x, l) return tf.nn.sparse_softmax_cross_entropy_with_logits(l, x) end, wide, { wide_labels })

local sparse_grad = {
  { fn = function(l, x, g) return tf.raw_ops.sparse_softmax_cross_entropy_grad(l, x, g) end,
    inputs = { lab3, logits, { 0.5, -1.5, 2.0 } } },
  { fn = function(l, x, g) return tf.raw_ops.sparse_softmax_cross_entropy_grad(l, x, g) end,
    inputs = { tf.constant({ { 0, 3, 1 }, { 2, 2, 0 } }, tf.int64), t234, { { 1.0, 0.25, -0.5 }, { 2.0, 1.5, -1.0 } } } },
  { fn = function(l, x, g) return tf.raw_ops.sparse_softmax_cross_entropy_grad(l, x, g) end,
    inputs = { wide_labels, wide, { 1.0, -2.0, 0.5 } } },
}
in_dtypes(sparse_grad, function(x, l, g) return tf.raw_ops.sparse_softmax_cross_entropy_grad(l, x, g) end, logits,
  { lab3, { 0.5, -1.5, 2.0 } })
in_dtypes(sparse_grad, function(x, l, g) return tf.raw_ops.sparse_softmax_cross_entropy_grad(l, x, g) end, wide,
  { wide_labels, { 1.0, -2.0, 0.5 } })
-- the grad operand in the logits' dtype
for _, c in ipairs(sparse_grad) do
  if c.wrt then c.inputs[3] = tf.constant(c.inputs[3], c.inputs[1].dtype) end
end

local dense = {
  { fn = function(z, x) return tf.nn.softmax_cross_entropy_with_logits(z, x) end, inputs = { z234, t234 } },
  { fn = function(z, x) return tf.nn.softmax_cross_entropy_with_logits(z, x, 1) end, inputs = { z234, t234 } },
  { fn = function(z, x) return tf.nn.softmax_cross_entropy_with_logits(z, x) end,
    inputs = { { 0.1, 0.2, 0.3, 0.4 }, logits } },
  { fn = function(z, x) return tf.nn.softmax_cross_entropy_with_logits(z, x, -3) end, inputs = { z234, t234 } },
  { fn = function(z, x) return tf.nn.softmax_cross_entropy_with_logits(z, x) end, inputs = { empty(4), empty(4) } },
  -- no classes: the loss is 0
  { fn = function(z, x) return tf.nn.softmax_cross_entropy_with_logits(z, x) end,
    inputs = { tf.zeros({ 2, 0 }, tf.float64), tf.zeros({ 2, 0 }, tf.float64) } },
}
in_dtypes(dense, function(x, z) return tf.nn.softmax_cross_entropy_with_logits(z, x) end, t234, { z234 }, true)
in_dtypes(dense, function(x, z) return tf.nn.softmax_cross_entropy_with_logits(z, x, 0) end, t234, { z234 }, true)

local sigmoid = {
  { fn = function(z, x) return tf.nn.sigmoid_cross_entropy_with_logits(z, x) end, inputs = { z234, t234 } },
  { fn = function(z, x) return tf.nn.sigmoid_cross_entropy_with_logits(z, x) end, inputs = { empty(4), empty(4) } },
}
in_dtypes(sigmoid, function(x, z) return tf.nn.sigmoid_cross_entropy_with_logits(z, x) end, t234, { z234 }, true)

local l2 = {
  { fn = function(x) return tf.nn.l2_loss(x) end, inputs = { t234 } },
  { fn = function(x) return tf.nn.l2_loss(x) end, inputs = { empty(3) } },
  { fn = function(x) return tf.nn.l2_loss(tf.transpose(x)) end, inputs = { f32(wide) }, wrt = {} },
}
in_dtypes(l2, function(x) return tf.nn.l2_loss(x) end, wide)

local dropout = {
  { fn = function(x) tf.random.set_seed(7); return tf.nn.dropout(x, 0.5, { seed = 3 }) end, inputs = { t234 } },
  { fn = function(x) tf.random.set_seed(7); return tf.nn.dropout(x, 0.25, { seed = 3, noise_shape = { 2, 1, 4 } }) end,
    inputs = { t234 } },
  { fn = function(x) tf.random.set_seed(7); return tf.nn.dropout(x, 0.0, { seed = 3 }) end, inputs = { logits } },
  { fn = function(x) tf.random.set_seed(7); return tf.nn.dropout(x, 0.5, { seed = 3 }) end, inputs = { empty(2) } },
}
in_dtypes(dropout, function(x) tf.random.set_seed(7); return tf.nn.dropout(x, 0.5, { seed = 5 }) end, wide)

local bias = {
  { fn = function(v, b) return tf.nn.bias_add(v, b) end, inputs = { t234, { 0.5, -1.0, 2.0, 3.0 } } },
  { fn = function(v, b) return tf.nn.bias_add(v, b, "NCHW") end, inputs = { t234, { 0.5, -1.0, 2.0 } } },
  { fn = function(v, b) return tf.nn.bias_add(v, b) end, inputs = { logits, { 0.5, -1.0, 2.0, 3.0 } } },
  { fn = function(v, b) return tf.nn.bias_add(v, b) end, inputs = { empty(4), { 0.5, -1.0, 2.0, 3.0 } } },
  { fn = function(v, b) return tf.nn.bias_add(v, b) end,
    inputs = { f32(logits), f32({ 0.5, -1.0, 2.0, 3.0 }) }, wrt = {} },
}
for _, dt in ipairs({ tf.int8, tf.uint8, tf.int16, tf.int32, tf.int64 }) do
  bias[#bias + 1] = { fn = function(v, b) return tf.nn.bias_add(v, b, "NCHW") end,
    inputs = { tf.constant({ { { 1, 2 }, { 3, 4 } } }, dt), tf.constant({ 5, 100 }, dt) }, wrt = {} }
end

return {
  softmax = softmax_like(tf.nn.softmax),
  log_softmax = softmax_like(tf.nn.log_softmax),
  sparse_softmax_cross_entropy_with_logits = sparse,
  sparse_softmax_cross_entropy_grad = sparse_grad,
  softmax_cross_entropy_with_logits = dense,
  sigmoid_cross_entropy_with_logits = sigmoid,
  l2_loss = l2,
  dropout = dropout,
  bias_add = bias,
}
