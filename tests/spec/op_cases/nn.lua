-- Conformance cases for src/ops/nn.c (values are checked against PyTorch in
-- nn_spec.lua; second derivatives in grad_reduce_spec.lua). Integer labels
-- are passed as tensors so only the float inputs are differentiated; the
-- probability labels of softmax_cross_entropy_with_logits deliberately do
-- not sum to 1, and dropout reseeds so every evaluation draws one mask.
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

return {
  softmax = {
    { fn = function(x) return tf.nn.softmax(x) end, inputs = { t234 } },
    { fn = function(x) return tf.nn.softmax(x, 1) end, inputs = { t234 } },
    { fn = function(x) return tf.nn.softmax(x, 0) end, inputs = { logits } },
  },
  log_softmax = {
    { fn = function(x) return tf.nn.log_softmax(x) end, inputs = { t234 } },
    { fn = function(x) return tf.nn.log_softmax(x, 0) end, inputs = { t234 } },
  },
  sparse_softmax_cross_entropy_with_logits = {
    { fn = function(l, x) return tf.nn.sparse_softmax_cross_entropy_with_logits(l, x) end,
      inputs = { tf.constant({ 3, 0, 2 }), logits } },
    { fn = function(l, x) return tf.nn.sparse_softmax_cross_entropy_with_logits(l, x) end,
      inputs = { tf.constant({ { 0, 3, 1 }, { 2, 2, 0 } }, tf.int64), t234 } },
  },
  sparse_softmax_cross_entropy_grad = {
    { fn = function(l, x, g) return tf.raw_ops.sparse_softmax_cross_entropy_grad(l, x, g) end,
      inputs = { tf.constant({ 3, 0, 2 }), logits, { 0.5, -1.5, 2.0 } } },
    { fn = function(l, x, g) return tf.raw_ops.sparse_softmax_cross_entropy_grad(l, x, g) end,
      inputs = { tf.constant({ { 0, 3, 1 }, { 2, 2, 0 } }, tf.int64), t234, { { 1.0, 0.25, -0.5 }, { 2.0, 1.5, -1.0 } } } },
  },
  softmax_cross_entropy_with_logits = {
    { fn = function(z, x) return tf.nn.softmax_cross_entropy_with_logits(z, x) end, inputs = { z234, t234 } },
    { fn = function(z, x) return tf.nn.softmax_cross_entropy_with_logits(z, x, 1) end, inputs = { z234, t234 } },
    { fn = function(z, x) return tf.nn.softmax_cross_entropy_with_logits(z, x) end,
      inputs = { { 0.1, 0.2, 0.3, 0.4 }, logits } },
  },
  sigmoid_cross_entropy_with_logits = {
    { fn = function(z, x) return tf.nn.sigmoid_cross_entropy_with_logits(z, x) end, inputs = { z234, t234 } },
  },
  l2_loss = {
    { fn = function(x) return tf.nn.l2_loss(x) end, inputs = { t234 } },
  },
  dropout = {
    { fn = function(x) tf.random.set_seed(7); return tf.nn.dropout(x, 0.5, { seed = 3 }) end, inputs = { t234 } },
    { fn = function(x) tf.random.set_seed(7); return tf.nn.dropout(x, 0.25, { seed = 3, noise_shape = { 2, 1, 4 } }) end,
      inputs = { t234 } },
    { fn = function(x) tf.random.set_seed(7); return tf.nn.dropout(x, 0.0, { seed = 3 }) end, inputs = { logits } },
  },
  bias_add = {
    { fn = function(v, b) return tf.nn.bias_add(v, b) end, inputs = { t234, { 0.5, -1.0, 2.0, 3.0 } } },
    { fn = function(v, b) return tf.nn.bias_add(v, b, "NCHW") end, inputs = { t234, { 0.5, -1.0, 2.0 } } },
    { fn = function(v, b) return tf.nn.bias_add(v, b) end, inputs = { logits, { 0.5, -1.0, 2.0, 3.0 } } },
  },
}
