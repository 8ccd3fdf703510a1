-- Conformance cases for src/ops_shape.c
local tf = require("tlua")
local m23 = { { 0.5, -1.0, 2.0 }, { 1.5, 0.25, -0.75 } }
return {
  reshape = { { fn = function(x) return tf.reshape(x, { 3, -1 }) end, inputs = { m23 } } },
  transpose = {
    { fn = function(x) return tf.transpose(x) end, inputs = { m23 } },
    { fn = function(x) return tf.transpose(tf.reshape(x, { 1, 2, 3 }), { 2, 0, 1 }) end, inputs = { m23 } },
  },
  expand_dims = { { fn = function(x) return tf.expand_dims(x, -1) end, inputs = { m23 } } },
  squeeze = { { fn = function(x) return tf.squeeze(x) end, inputs = { { { 1.5 }, { -2.0 } } } } },
  concat = { { fn = function(a, b) return tf.concat({ a, b }, 1) end, inputs = { m23, { { 3.0 }, { 4.0 } } } } },
  stack = { { fn = function(a, b) return tf.stack({ a, b }, 1) end, inputs = { m23, m23 } } },
  unstack = { { fn = function(x) return table.unpack(tf.unstack(x, { axis = 1 })) end, inputs = { m23 } } },
  split = { { fn = function(x) return table.unpack(tf.split(x, { 1, 2 }, 1)) end, inputs = { m23 } } },
  tile = { { fn = function(x) return tf.tile(x, { 2, 2 }) end, inputs = { m23 } } },
  pad = {
    { fn = function(x) return tf.pad(x, { { 1, 0 }, { 0, 2 } }) end, inputs = { m23 } },
    { fn = function(x) return tf.pad(x, { { 1, 1 }, { 2, 2 } }, "REFLECT") end, inputs = { m23 } },
    { fn = function(x) return tf.pad(x, { { 1, 1 }, { 2, 2 } }, "SYMMETRIC") end, inputs = { m23 } },
  },
  reverse = { { fn = function(x) return tf.reverse(x, { 0, 1 }) end, inputs = { m23 } } },
  broadcast_to = { { fn = function(x) return tf.broadcast_to(x, { 4, 2, 3 }) end, inputs = { m23 } } },
  identity = { { fn = function(x) return tf.identity(x) end, inputs = { m23 } } },
  size = { nograd = "returns an integer count" },
  rank = { nograd = "returns an integer rank" },
  shape = { nograd = "returns integer dimensions" },
}
