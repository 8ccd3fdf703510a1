-- Conformance cases for src/ops/slice.c, index.c and select.c. Gathers and scatters are checked
-- with repeated indices (gradients add up), axes and batch_dims; slices
-- with masks, negative steps, new and shrunk axes; where with broadcast
-- operands (the condition gets no gradient); the internal gradient ops
-- (strided_slice_grad, gather_grad, gather_nd_grad) with their own rules.
-- Second derivatives: grad_shape_spec.lua.
local tf = require("tlua")
local raw = tf.raw_ops

local m34 = { { 0.5, -1.0, 2.0, 0.1 }, { 1.5, 0.25, -0.75, 3.0 }, { -2.5, 1.25, 0.6, -0.2 } }
local t234 = require("gradcheck").t234
local function ints(v) return tf.constant(v, tf.int64) end
local function tview(x) return tf.transpose(x) end

return {
  slice = {
    { fn = function(x) return tf.slice(x, { 1, 1 }, { 2, -1 }) end, inputs = { m34 } },
    { fn = function(x) return tf.slice(x, { 0, 2, 1 }, { 2, 1, 2 }) end, inputs = { t234 } },
    { fn = function(x) return tf.slice(tview(x), { 1, 0 }, { 2, 2 }) end, inputs = { m34 } },
    { fn = function(x) return tf.slice(x, { 1, 4 }, { 2, 0 }) * 1.0 end, inputs = { m34 } },
  },
  strided_slice = {
    { fn = function(x) return x["::-1, 1::2"] end, inputs = { m34 } },
    { fn = function(x) return x["1, newaxis, ..., 0:3"] end, inputs = { m34 } },
    -- begin/end masks with negative steps, a shrunk axis, an ellipsis
    { fn = function(x) return raw.strided_slice(x, { 0, -1, 3 }, { 0, 0, 0 }, { 1, -1, -2 }, 1, 1) end, inputs = { t234 } },
    { fn = function(x) return raw.strided_slice(x, { 1, 2 }, { 2, 0 }, { 1, -1 }, 0, 0, 0, 0, 1) end, inputs = { m34 } },
    { fn = function(x) return x["..., -1"] end, inputs = { t234 } },
    { fn = function(x) return x[":, 2:0"] * 1.0 end, inputs = { m34 } },
    { fn = function(x) return tview(x)["1:, ::-2"] end, inputs = { m34 } },
  },
  strided_slice_grad = {
    { fn = function(dy) return raw.strided_slice_grad(dy, { 3, 4 }, { 0, 1 }, { 0, 0 }, { 1, 2 }, 1, 3) end,
      inputs = { { { 1.0, 2.0 }, { 3.0, 4.0 }, { 5.0, 6.0 } } } },
    { fn = function(dy) return raw.strided_slice_grad(dy, { 2, 3, 4 }, { 1, -1 }, { 0, 0 }, { 1, -1 }, 0, 2, 0, 0, 1) end,
      inputs = { { { 1.0, 2.0, 3.0, 4.0 }, { 5.0, 6.0, 7.0, 8.0 }, { 9.0, 10.0, 11.0, 12.0 } } } },
  },
  tensor_strided_slice_update = {
    { fn = function(x, v) return raw.tensor_strided_slice_update(x, v, { 0, 1 }, { 0, 3 }, { 1, 1 }, 1) end,
      inputs = { m34, { 10.0, 20.0 } } },
    -- a broadcast value: its gradient sums over the slice
    { fn = function(x, v) return raw.tensor_strided_slice_update(x, v, { 0, 3 }, { 0, 0 }, { 1, -2 }, 1, 1) end,
      inputs = { m34, { 7.0 } } },
    { fn = function(x, v) return raw.tensor_strided_slice_update(x, v, { 1 }, { 3 }, { 1 }, 0, 0, 0, 0, 0) end,
      inputs = { t234, { { 1.0, 2.0, 3.0, 4.0 } } } },
  },
  gather = {
    { fn = function(x) return tf.gather(x, tf.constant({ 2, 0, 2 }), 0) end, inputs = { m34 } },
    { fn = function(x) return tf.gather(x, tf.constant({ { 3 }, { 1 } }), 1) end, inputs = { m34 } },
    { fn = function(x) return tf.gather(x, ints({ { 1, 1 }, { 0, 3 } }), -1) end, inputs = { t234 } },
    -- batch_dims: one list of indices per batch row
    { fn = function(x) return tf.gather(x, tf.constant({ { 2, 2, 0 }, { 1, 0, 1 } }), 1, { batch_dims = 1 }) end,
      inputs = { t234 } },
    { fn = function(x) return tf.gather(x, tf.constant({ { 3, 3 }, { 0, 1 }, { 2, 2 } }), { axis = 1, batch_dims = -1 }) end,
      inputs = { m34 } },
    { fn = function(x) return tf.gather(tview(x), tf.constant({ 0, 0 })) end, inputs = { m34 } },
    { fn = function(x) return tf.gather(x, tf.zeros({ 0 }, tf.int32)) * 1.0 end, inputs = { m34 } },
  },
  gather_grad = {
    { fn = function(dy) return raw.gather_grad(dy, tf.constant({ 1, 1, 0 }), { 3, 2 }, 0) end,
      inputs = { { { 1.0, 2.0 }, { 3.0, 4.0 }, { 5.0, 6.0 } } } },
    { fn = function(dy) return raw.gather_grad(dy, tf.constant({ { 2, 2 }, { 0, 1 } }), { shape = { 2, 3 }, axis = 1, batch_dims = 1 }) end,
      inputs = { { { 1.5, -2.0 }, { 0.5, 4.0 } } } },
  },
  gather_nd = {
    { fn = function(x) return tf.gather_nd(x, tf.constant({ { 1, 2 }, { 1, 2 }, { 0, 0 } })) end, inputs = { m34 } },
    -- partial indices address whole rows
    { fn = function(x) return tf.gather_nd(x, ints({ { { 1 }, { 0 } }, { { 1 }, { 1 } } })) end, inputs = { t234 } },
    { fn = function(x) return tf.gather_nd(x, tf.constant({ { { 2, 1 }, { 2, 1 } }, { { 0, 3 }, { 1, 0 } } }), { batch_dims = 1 }) end,
      inputs = { t234 } },
    { fn = function(x) return tf.gather_nd(tview(x), tf.constant({ { 3 }, { 0 }, { 3 } })) end, inputs = { m34 } },
  },
  gather_nd_grad = {
    { fn = function(dy) return raw.gather_nd_grad(dy, tf.constant({ { 1, 0 }, { 1, 0 }, { 0, 2 } }), { 2, 3 }) end,
      inputs = { { 1.0, 2.0, 3.0 } } },
    { fn = function(dy) return raw.gather_nd_grad(dy, tf.constant({ { { 1 }, { 1 } }, { { 0 }, { 2 } } }), { 2, 3, 2 }, 1) end,
      inputs = { { { { 1.0, 2.0 }, { 3.0, 4.0 } }, { { 5.0, 6.0 }, { 7.0, 8.0 } } } } },
  },
  boolean_mask = {
    { fn = function(x) return tf.boolean_mask(x, tf.constant({ true, false, true })) end, inputs = { m34 } },
    { fn = function(x) return tf.boolean_mask(x, tf.constant({ { true, false, true, true }, { false, false, true, false }, { true, true, false, false } }), { axis = 1 }) end,
      inputs = { t234 } },
    { fn = function(x) return tf.boolean_mask(tview(x), tf.constant({ false, true, true, false }), { axis = 0 }) end, inputs = { m34 } },
    { fn = function(x) return tf.boolean_mask(x, tf.constant({ false, false, false })) * 1.0 end, inputs = { m34 } },
  },
  where = {
    { fn = function(x, y) return tf.where(tf.constant({ true, false, false, true }), x, y) end,
      inputs = { m34, { 9.0, 8.0, 7.0, 6.0 } } },
    { fn = function(x, y) return tf.where(tf.constant({ { true }, { false }, { true } }), x, y) end,
      inputs = { { 1.5, -2.0, 0.5, 4.0 }, { { 3.0 }, { -1.0 }, { 2.0 } } } },
    { fn = function(x, y) return tf.where(tf.constant({ { true, false }, { false, true } }), x, y) end,
      inputs = { { { 1.5, -2.0 }, { 0.5, 4.0 } }, { 3.0 } } },
  },
  scatter_nd = {
    { fn = function(u) return tf.scatter_nd(tf.constant({ { 1 }, { 1 }, { 3 } }), u, { 5 }) end, inputs = { { 1.5, -2.0, 0.5 } } },
    { fn = function(u) return tf.scatter_nd(tf.constant({ { 0, 1 }, { 2, 0 }, { 0, 1 } }), u, { 3, 2, 2 }) end,
      inputs = { { { 1.0, 2.0 }, { 3.0, 4.0 }, { 5.0, 6.0 } } } },
  },
  tensor_scatter_nd_update = {
    { fn = function(x, u) return tf.tensor_scatter_nd_update(x, tf.constant({ { 0 }, { 2 } }), u) end,
      inputs = { m34, { { 1.0, 2.0, 3.0, 4.0 }, { 5.0, 6.0, 7.0, 8.0 } } } },
    { fn = function(x, u) return tf.tensor_scatter_nd_update(tview(x), tf.constant({ { 3, 2 }, { 0, 1 } }), u) end,
      inputs = { m34, { -1.0, 2.0 } } },
  },
  tensor_scatter_nd_add = {
    { fn = function(x, u) return tf.tensor_scatter_nd_add(x, tf.constant({ { 1, 1 }, { 1, 1 } }), u) end,
      inputs = { m34, { 1.0, 2.0 } } },
    { fn = function(x, u) return tf.tensor_scatter_nd_add(x, tf.constant({ { 1 }, { 0 } }), u) end,
      inputs = { t234, { { { 1.0, 2.0, 3.0, 4.0 }, { 1.0, 2.0, 3.0, 4.0 }, { 1.0, 2.0, 3.0, 4.0 } }, t234[2] } } },
  },
  tensor_scatter_nd_sub = {
    { fn = function(x, u) return tf.tensor_scatter_nd_sub(x, tf.constant({ { 2 } }), u) end,
      inputs = { m34, { { 1.0, 2.0, 3.0, 4.0 } } } },
    { fn = function(x, u) return tf.tensor_scatter_nd_sub(x, tf.constant({ { 0, 3 }, { 0, 3 } }), u) end,
      inputs = { m34, { 1.0, 2.0 } } },
  },
}
