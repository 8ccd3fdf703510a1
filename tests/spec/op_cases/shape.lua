-- Conformance cases for src/ops/shape.c, concat.c and pad.c. Each differentiable op is checked
-- with its attributes (perm, axes, negative axes, padding modes, size
-- splits), on non-contiguous inputs (a transposed view) and zero-sized
-- pieces where the op allows them; unstack/split cases that use only some
-- outputs check that the unused ones count as zeros. Second derivatives:
-- grad_shape_spec.lua.
local tf = require("tlua")

local m23 = { { 0.5, -1.0, 2.0 }, { 1.5, 0.25, -0.75 } }
local t234 = require("gradcheck").t234
local function vals(n)
  local v = {}
  for i = 1, n do v[i] = math.cos(i * 0.7) end
  return v
end
-- A view with non-unit strides: the forward and the rule must not assume
-- contiguous storage.
local function tview(x) return tf.transpose(x) end

return {
  reshape = {
    { fn = function(x) return tf.reshape(x, { 3, -1 }) end, inputs = { m23 } },
    { fn = function(x) return tf.reshape(tview(x), { 6 }) end, inputs = { m23 } },
    { fn = function(x) return tf.reshape(x, { 4, 1, 6 }) end, inputs = { t234 } },
  },
  transpose = {
    { fn = function(x) return tf.transpose(x) end, inputs = { m23 } },
    { fn = function(x) return tf.transpose(tf.reshape(x, { 1, 2, 3 }), { 2, 0, 1 }) end, inputs = { m23 } },
    { fn = function(x) return tf.transpose(x, { 1, 2, 0 }) end, inputs = { t234 } },
    { fn = function(x) return tf.transpose(x) end, inputs = { t234 } },
  },
  expand_dims = {
    { fn = function(x) return tf.expand_dims(x, -1) end, inputs = { m23 } },
    { fn = function(x) return tf.expand_dims(tview(x), 1) end, inputs = { m23 } },
  },
  squeeze = {
    { fn = function(x) return tf.squeeze(x) end, inputs = { { { 1.5 }, { -2.0 } } } },
    { fn = function(x) return tf.squeeze(tf.reshape(x, { 1, 2, 1, 3 }), { 2 }) end, inputs = { m23 } },
    { fn = function(x) return tf.squeeze(tf.reshape(x, { 1, 2, 1, 3 }), { -2, 0 }) end, inputs = { m23 } },
  },
  concat = {
    { fn = function(a, b) return tf.concat({ a, b }, 1) end, inputs = { m23, { { 3.0 }, { 4.0 } } } },
    { fn = function(a, b, c) return tf.concat({ a, b, c }, 0) end,
      inputs = { m23, tf.zeros({ 0, 3 }, tf.float64), { { 1.0, 2.0, 3.0 } } } },
    { fn = function(a, b) return tf.concat({ tview(a), b }, -1) end, inputs = { m23, { { 1.0 }, { 2.0 }, { 3.0 } } } },
    { fn = function(a) return tf.concat({ a }, 0) end, inputs = { m23 } },
    -- the same tensor twice: both gradients add up
    { fn = function(a) return tf.concat({ a, a }, 1) end, inputs = { m23 } },
  },
  stack = {
    { fn = function(a, b) return tf.stack({ a, b }, 1) end, inputs = { m23, m23 } },
    { fn = function(a, b, c) return tf.stack({ a, b, c }, -1) end, inputs = { { 1.0, 2.0 }, { 3.0, 4.0 }, { 5.0, 6.0 } } },
    { fn = function(a, b) return tf.stack({ tview(a), b }) end, inputs = { m23, { { 1.0, 2.0 }, { 3.0, 4.0 }, { 5.0, 6.0 } } } },
  },
  unstack = {
    { fn = function(x) return table.unpack(tf.unstack(x, { axis = 1 })) end, inputs = { m23 } },
    -- only the second slice used: the others' gradients are NULL
    { fn = function(x) return tf.unstack(x, { axis = -1 })[2] end, inputs = { t234 } },
    { fn = function(x) return tf.unstack(tview(x))[1] * tf.unstack(tview(x))[3] end, inputs = { m23 } },
  },
  split = {
    { fn = function(x) return table.unpack(tf.split(x, { 1, 2 }, 1)) end, inputs = { m23 } },
    { fn = function(x) return tf.split(x, { 2, -1, 1 }, -1)[2] end, inputs = { t234 } },
    { fn = function(x) return table.unpack(tf.split(x, 2, 0)) end, inputs = { t234 } },
    { fn = function(x) return tf.split(x, 3, 1)[3] end, inputs = { t234 } },
    { fn = function(x) return table.unpack(tf.split(x, { 0, 3 }, 1)) end, inputs = { m23 } },
    { fn = function(x) return tf.split(x, 1, 0)[1] end, inputs = { m23 } },
  },
  tile = {
    { fn = function(x) return tf.tile(x, { 2, 2 }) end, inputs = { m23 } },
    { fn = function(x) return tf.tile(x, { 1, 3, 1 }) end, inputs = { t234 } },
    { fn = function(x) return tf.tile(tview(x), { 2, 1 }) end, inputs = { m23 } },
    { fn = function(x) return tf.tile(x, { 0, 2 }) * 1.0 end, inputs = { m23 } },
    -- rank 5 with every multiple > 1: [m, d] pairs would need 10 dimensions
    { fn = function(x) return tf.tile(tf.reshape(x, { 2, 1, 2, 1, 2 }), { 2, 3, 1, 2, 2 }) end, inputs = { vals(8) } },
  },
  pad = {
    { fn = function(x) return tf.pad(x, { { 1, 0 }, { 0, 2 } }) end, inputs = { m23 } },
    { fn = function(x) return tf.pad(x, { { 1, 1 }, { 2, 2 } }, "REFLECT") end, inputs = { m23 } },
    { fn = function(x) return tf.pad(x, { { 1, 1 }, { 2, 2 } }, "SYMMETRIC") end, inputs = { m23 } },
    { fn = function(x) return tf.pad(x, { { 0, 1 }, { 2, 0 }, { 1, 3 } }, "CONSTANT", 2.5) end, inputs = { t234 } },
    { fn = function(x) return tf.pad(x, { { 1, 0 }, { 0, 2 }, { 3, 2 } }, "reflect") end, inputs = { t234 } },
    { fn = function(x) return tf.pad(x, { { 2, 1 }, { 3, 0 }, { 0, 4 } }, "SYMMETRIC") end, inputs = { t234 } },
    { fn = function(x) return tf.pad(tview(x), { { 2, 2 }, { 0, 1 } }, "REFLECT") end, inputs = { m23 } },
    { fn = function(x) return tf.pad(x, tf.constant({ 0, 0, 1, 1 }, tf.int64), "SYMMETRIC") end, inputs = { m23 } },
  },
  pad_grad = {
    { fn = function(dy) return tf.raw_ops.pad_grad(dy, tf.constant({ { 1, 0 }, { 2, 1 } }), { 2, 3 }, "REFLECT") end,
      inputs = { { { 1.0, 2.0, 3.0, 4.0, 5.0, 6.0 }, { -1.0, 0.5, 2.5, -3.0, 1.5, 4.0 }, { 0.25, -2.0, 3.5, 1.0, -0.5, 2.0 } } } },
    { fn = function(dy) return tf.raw_ops.pad_grad(tview(dy), tf.constant({ 0, 1, 1, 1 }, tf.int64), { 2, 2 }, "SYMMETRIC") end,
      inputs = { { { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 }, { 7.0, 8.0, 9.0 }, { 0.5, 1.5, 2.5 } } } },
    { fn = function(dy) return tf.raw_ops.pad_grad(dy, tf.constant({ { 1, 1 }, { 0, 0 } }), { 0, 3 }) end,
      inputs = { { { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 } } } },
  },
  reverse = {
    { fn = function(x) return tf.reverse(x, { 0, 1 }) end, inputs = { m23 } },
    { fn = function(x) return tf.reverse(x, { -1 }) end, inputs = { t234 } },
    { fn = function(x) return tf.reverse(tview(x), { 0 }) end, inputs = { m23 } },
  },
  broadcast_to = {
    { fn = function(x) return tf.broadcast_to(x, { 4, 2, 3 }) end, inputs = { m23 } },
    { fn = function(x) return tf.broadcast_to(x, { 3, 2, 4 }) end, inputs = { { { 1.5 }, { -0.5 } } } },
    { fn = function(x) return tf.broadcast_to(x, { 2, 3 }) end, inputs = { m23 } },
    { fn = function(x) return tf.broadcast_to(x, { 0, 3 }) * 1.0 end, inputs = { { { 1.0, 2.0, 3.0 } } } },
  },
  broadcast_like = {
    { fn = function(x) return tf.raw_ops.broadcast_like(x, tf.zeros({ 4, 2, 3 })) end, inputs = { m23 } },
    { fn = function(x) return tf.raw_ops.broadcast_like(x, tf.zeros({ 2, 3 })) end, inputs = { { { 1.5 }, { -0.5 } } } },
    { fn = function(x) return tf.raw_ops.broadcast_like(x, tf.zeros({ 3 }, tf.int32)) * 1.0 end, inputs = { { 2.0 } } },
  },
  identity = {
    { fn = function(x) return tf.identity(x) end, inputs = { m23 } },
    { fn = function(x) return tf.identity(x) * x end, inputs = { m23 } },
  },
  size = {
    nograd = "returns an integer count",
    { fn = function(x) return tf.size(x), tf.size(tf.transpose(x), tf.int64) end, inputs = { tf.constant({ { 1, 2, 3 }, { 4, 5, 6 } }) } },
    { fn = function(x) return tf.size(x) end, inputs = { tf.zeros({ 2, 0, 3 }, tf.bool) } },
  },
  rank = {
    nograd = "returns an integer rank",
    { fn = function(x) return tf.rank(x), tf.rank(x[0]) end, inputs = { tf.constant({ { true, false } }) } },
  },
  shape = {
    nograd = "returns integer dimensions",
    { fn = function(x) return tf.shape(x), tf.shape(tf.transpose(x), tf.int64) end, inputs = { tf.zeros({ 2, 0, 3 }, tf.int32) } },
    { fn = function(x) return tf.shape(x) end, inputs = { tf.constant(1.5) } },
  },
}
