-- Conformance cases for src/ops_index.c
local tf = require("tlua")
local m34 = { { 0.5, -1.0, 2.0, 0.1 }, { 1.5, 0.25, -0.75, 3.0 }, { -2.5, 1.25, 0.6, -0.2 } }
return {
  slice = { { fn = function(x) return tf.slice(x, { 1, 1 }, { 2, -1 }) end, inputs = { m34 } } },
  strided_slice = {
    { fn = function(x) return x["::-1, 1::2"] end, inputs = { m34 } },
    { fn = function(x) return x["1, newaxis, ..., 0:3"] end, inputs = { m34 } },
  },
  tensor_strided_slice_update = {
    { fn = function(x, v) return tf.raw_ops.tensor_strided_slice_update(x, v, { 0, 1 }, { 0, 3 }, { 1, 1 }, 1) end,
      inputs = { m34, { 10.0, 20.0 } } },
  },
  gather = {
    { fn = function(x) return tf.gather(x, tf.constant({ 2, 0, 2 }), 0) end, inputs = { m34 } },
    { fn = function(x) return tf.gather(x, tf.constant({ { 3 }, { 1 } }), 1) end, inputs = { m34 } },
  },
  gather_nd = { { fn = function(x) return tf.gather_nd(x, tf.constant({ { 1, 2 }, { 1, 2 }, { 0, 0 } })) end, inputs = { m34 } } },
  boolean_mask = { { fn = function(x) return tf.boolean_mask(x, tf.constant({ true, false, true })) end, inputs = { m34 } } },
  where = {
    { fn = function(x, y) return tf.where(tf.constant({ true, false, false, true }), x, y) end,
      inputs = { m34, { 9.0, 8.0, 7.0, 6.0 } } },
  },
  scatter_nd = {
    { fn = function(u) return tf.scatter_nd(tf.constant({ { 1 }, { 1 }, { 3 } }), u, { 5 }) end, inputs = { { 1.5, -2.0, 0.5 } } },
  },
  tensor_scatter_nd_update = {
    { fn = function(x, u) return tf.tensor_scatter_nd_update(x, tf.constant({ { 0 }, { 2 } }), u) end,
      inputs = { m34, { { 1.0, 2.0, 3.0, 4.0 }, { 5.0, 6.0, 7.0, 8.0 } } } },
  },
  tensor_scatter_nd_add = {
    { fn = function(x, u) return tf.tensor_scatter_nd_add(x, tf.constant({ { 1, 1 }, { 1, 1 } }), u) end,
      inputs = { m34, { 1.0, 2.0 } } },
  },
  tensor_scatter_nd_sub = {
    { fn = function(x, u) return tf.tensor_scatter_nd_sub(x, tf.constant({ { 2 } }), u) end,
      inputs = { m34, { { 1.0, 2.0, 3.0, 4.0 } } } },
  },
}
