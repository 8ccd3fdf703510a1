-- Conformance cases for src/ops/tensor_array.c: tf.TensorArray's graph
-- form (a buffer [size, element...] and an int8 state). Each case builds
-- the state it needs from the ops themselves.
local tf = require("tlua")
local raw = tf.raw_ops

local buf = { { 0.5, -1.5 }, { 2.0, 0.25 }, { -0.75, 1.25 } }
local row = { 0.3, -0.9 }
local rows2 = { { 0.3, -0.9 }, { 1.1, 0.4 } }
local function idx(v) return tf.constant(v, tf.int32) end

return {
  tensor_array_state = {
    nograd = "an int8 state vector of zeros",
    { fn = function(n) return raw.tensor_array_state(n, { static_size = 3 }) end, inputs = { idx(3) } },
    { fn = function(n) return raw.tensor_array_state(n) end, inputs = { idx(0) } },
  },
  tensor_array_buffer = {
    nograd = "a zero buffer",
    { fn = function(n) return raw.tensor_array_buffer(raw.tensor_array_state(n), { dtype = tf.float64, element_shape = { 2, -1 } }) end,
      inputs = { idx(3) } },
  },
  tensor_array_write = {
    { fn = function(b, v)
        return raw.tensor_array_write(b, raw.tensor_array_state(idx(3), { static_size = 3 }), idx(1), v)
      end, inputs = { buf, row } },
    -- a vector of indices (scatter), and growth with dynamic_size
    { fn = function(b, v)
        return raw.tensor_array_write(b, raw.tensor_array_state(idx(3)), idx({ 4, 0 }), v, { dynamic_size = true })
      end, inputs = { buf, rows2 } },
  },
  tensor_array_read = {
    { fn = function(b)
        local b2, s = raw.tensor_array_unstack(b)
        return raw.tensor_array_read(b2, s, idx({ 2, 0, 2 }))
      end, inputs = { buf } },
    { fn = function(b)
        local b2, s = raw.tensor_array_write(b, raw.tensor_array_state(idx(3)), idx(1), b[0])
        return raw.tensor_array_read(b2, s, { unwritten_zeros = true }), raw.tensor_array_read(b2, s, idx(1))
      end, inputs = { buf } },
  },
  tensor_array_rows = {
    { fn = function(b) return raw.tensor_array_rows(b, idx({ 1, 1, 0 })) end, inputs = { buf } },
    { fn = function(b) return raw.tensor_array_rows(b, idx(2)) end, inputs = { buf } },
  },
  tensor_array_put_rows = {
    { fn = function(v, like) return raw.tensor_array_put_rows(v, idx({ 2, 2 }), like) end, inputs = { rows2, buf },
      wrt = { 1 } },
    { fn = function(v, like) return raw.tensor_array_put_rows(v, idx(0), like) end, inputs = { row, buf }, wrt = { 1 } },
  },
  tensor_array_unwrite = {
    -- cropped to like's 2 rows, and padded to 4
    { fn = function(g, like) return raw.tensor_array_unwrite(g, idx(1), like) end,
      inputs = { buf, rows2 }, wrt = { 1 } },
    { fn = function(g, like) return raw.tensor_array_unwrite(g, idx({ 0 }), like) end,
      inputs = { rows2, buf }, wrt = { 1 } },
  },
  tensor_array_unstack = {
    { fn = function(v) return raw.tensor_array_unstack(v) end, inputs = { buf } },
  },
}
