-- Conformance cases of the sparse and set ops (src/ops/sparse.c,
-- sparse_matmul.c, sets.c). Components are passed as the raw ops take
-- them; index and shape inputs are int64 tensors, values Lua tables (float64
-- for the gradient checks); index tensors are made inside fn (in the device
-- scope of the run). Expected values are in tests/spec/sparse_spec.lua.
local tf = require("tlua")
local R = tf.raw_ops
local I = function(t) return tf.constant(t, tf.int64) end

local function ind() return I({ { 0, 0 }, { 0, 2 }, { 1, 1 } }) end
local function unordered() return I({ { 1, 1 }, { 0, 2 }, { 0, 0 } }) end
local function shp() return I({ 2, 3 }) end
local function ind3() return I({ { 0, 1, 0 }, { 1, 0, 1 }, { 1, 2, 1 }, { 0, 1, 1 } }) end
local function shp3() return I({ 2, 3, 2 }) end
local function bind() return I({ { 0, 0 }, { 0, 1 }, { 1, 1 } }) end
local function empty() return tf.zeros({ 0, 2 }, tf.int64) end

return {
  sparse_to_dense = {
    { fn = function(v) return R.sparse_to_dense(ind(), v, shp()) end, inputs = { { 1.5, -2.0, 3.0 } } },
    { fn = function(v, d) return R.sparse_to_dense(ind3(), v, shp3(), d, { validate_indices = false }) end,
      inputs = { { 1.0, 2.0, 3.0, 4.0 }, 0.5 } },
    { fn = function(v) return R.sparse_to_dense(unordered(), v, shp(), nil, { validate_indices = false }) end,
      inputs = { { 1.0, 2.0, 3.0 } } },
    { fn = function(v) return R.sparse_to_dense(ind(), v, shp()) end, inputs = { tf.constant({ 1, 2, 3 }) }, wrt = {} },
    { fn = function(v, d) return R.sparse_to_dense(ind(), v, shp(), d) end,
      inputs = { tf.constant({ "a", "", "ccc" }), tf.constant("?") }, wrt = {}, device = false,
      device_reason = "string tensors live on the CPU only" },
  },
  sparse_reorder_perm = {
    nograd = "integer positions",
    { fn = function(i, s) return R.sparse_reorder_perm(i, s) end, inputs = { unordered(), shp() } },
    { fn = function(i, s) return R.sparse_reorder_perm(i, s) end, inputs = { ind3(), shp3() } },
    { fn = function(i, s) return R.sparse_reorder_perm(i, s) end, inputs = { empty(), shp() } },
  },
  sparse_reshape = {
    nograd = "integer indices (values pass through unchanged)",
    { fn = function(i, s) return R.sparse_reshape(i, s, { shape = { -1, 2 } }) end, inputs = { ind(), shp() } },
    { fn = function(i, s) return R.sparse_reshape(i, s, { shape = { 12 } }) end, inputs = { ind3(), shp3() } },
  },
  sparse_add = {
    { fn = function(a, b) return select(2, R.sparse_add(ind(), a, shp(), bind(), b, shp())) end,
      inputs = { { 1.0, 2.0, 3.0 }, { -1.5, 0.25, 4.0 } } },
    { fn = function(a, b) return select(2, R.sparse_add(unordered(), a, shp(), bind(), b, shp(), { threshold = 0.5 })) end,
      inputs = { { 1.0, 2.0, 3.0 }, { -1.5, 0.25, -3.25 } } },
    { fn = function(a, b) return R.sparse_add(ind(), a, shp(), bind(), b, shp()) end,
      inputs = { tf.constant({ 1, 2, 3 }), tf.constant({ 4, 5, 6 }) }, wrt = {} },
  },
  sparse_add_grad = {
    nograd = "the gradient of sparse_add (a selection of dsum); not differentiated again",
    { fn = function(g) return R.sparse_add_grad(g, ind(), bind(), I({ { 0, 0 }, { 0, 1 }, { 0, 2 }, { 1, 1 } }), shp()) end,
      inputs = { tf.constant({ 1.0, 2.0, 3.0, 4.0 }) } },
  },
  sparse_maximum = {
    nograd = "no gradient in TensorFlow either",
    { fn = function(a, b) return R.sparse_maximum(ind(), a, shp(), bind(), b, shp()) end,
      inputs = { tf.constant({ -1.0, 2.0, 3.0 }), tf.constant({ -3.0, -2.0, 5.0 }) } },
    { fn = function(a, b) return R.sparse_maximum(ind(), a, shp(), bind(), b, shp()) end,
      inputs = { tf.constant({ -1, 2, 3 }, tf.int64), tf.constant({ -3, -2, 5 }, tf.int64) } },
  },
  sparse_minimum = {
    nograd = "no gradient in TensorFlow either",
    { fn = function(a, b) return R.sparse_minimum(ind(), a, shp(), bind(), b, shp()) end,
      inputs = { tf.constant({ -1.0, 2.0, 3.0 }), tf.constant({ -3.0, -2.0, 5.0 }) } },
  },
  sparse_slice = {
    nograd = "integer positions and indices (the values are gathered in Lua)",
    { fn = function(i, s) return R.sparse_slice(i, s, { start = { 0, 1 }, size = { 2, 5 } }) end, inputs = { ind(), shp() } },
    { fn = function(i, s) return R.sparse_slice(i, s, { start = { 1, 0, 1 }, size = { 1, 2, 1 } }) end,
      inputs = { ind3(), shp3() } },
  },
  sparse_reduce_sum = {
    { fn = function(v) return R.sparse_reduce_sum(ind(), v, shp(), { axis = 1 }) end, inputs = { { 1.5, -2.0, 3.0 } } },
    { fn = function(v) return R.sparse_reduce_sum(ind3(), v, shp3(), { axis = { 0, -1 }, keepdims = true }) end,
      inputs = { { 1.0, 2.0, 3.0, 4.0 } } },
    { fn = function(v) return R.sparse_reduce_sum(ind(), v, shp()) end, inputs = { { 1.0, 2.0, 3.0 } } },
    { fn = function(v) return R.sparse_reduce_sum(ind(), v, shp(), { axis = 0 }) end,
      inputs = { tf.constant({ 1, 2, 3 }, tf.int64) }, wrt = {} },
  },
  sparse_reduce_sum_grad = {
    { fn = function(g) return R.sparse_reduce_sum_grad(g, ind(), shp(), { axis = 1 }) end, inputs = { { 0.5, -1.0 } } },
    { fn = function(g) return R.sparse_reduce_sum_grad(g, ind3(), shp3(), { axis = { 0, 2 }, keepdims = true }) end,
      inputs = { { { { 1.0 }, { 2.0 }, { 3.0 } } } } },
  },
  sparse_reduce_max = {
    nograd = "no gradient in TensorFlow either",
    { fn = function(v) return R.sparse_reduce_max(ind(), v, shp(), { axis = 1 }) end,
      inputs = { tf.constant({ -1.0, -2.0, 3.0 }) } },
    { fn = function(v) return R.sparse_reduce_max(ind3(), v, shp3(), { axis = { 1 } }) end,
      inputs = { tf.constant({ 4, 2, 7, 1 }) } },
  },
  sparse_bincount = {
    nograd = "counts",
    { fn = function(v) return R.sparse_bincount(ind(), v, shp()) end, inputs = { tf.constant({ 1, 3, 1 }) } },
    { fn = function(v, w) return R.sparse_bincount(ind(), v, shp(), w, { axis = -1, minlength = 5 }) end,
      inputs = { tf.constant({ 1, 3, 1 }, tf.int64), tf.constant({ 0.5, 2.0, 4.0 }) } },
    { fn = function(v) return R.sparse_bincount(ind(), v, shp(), nil, { binary_output = true, maxlength = 2 }) end,
      inputs = { tf.constant({ 1, 1, 3 }) } },
  },
  sparse_fill_empty_rows = {
    nograd = "integer indices and positions (the values are gathered in Lua)",
    { fn = function(i, s) return R.sparse_fill_empty_rows(i, s) end, inputs = { I({ { 1, 0 }, { 3, 1 } }), I({ 5, 2 }) } },
  },
  sparse_dense_matmul = {
    { fn = function(v, b) return R.sparse_dense_matmul(ind(), v, shp(), b) end,
      inputs = { { 1.5, -2.0, 3.0 }, { { 1.0, 2.0 }, { -1.0, 0.5 }, { 0.25, 3.0 } } } },
    { fn = function(v, b) return R.sparse_dense_matmul(unordered(), v, shp(), b, { adjoint_a = true }) end,
      inputs = { { 1.5, -2.0, 3.0 }, { { 1.0, 2.0, 0.5 }, { -1.0, 0.5, 2.0 } } } },
    { fn = function(v, b) return R.sparse_dense_matmul(ind(), v, shp(), b, { adjoint_b = true }) end,
      inputs = { { 1.5, -2.0, 3.0 }, { { 1.0, 2.0, -0.5 }, { -1.0, 0.5, 0.75 } } } },
    { fn = function(v, b) return R.sparse_dense_matmul(ind(), v, shp(), b, { adjoint_a = true, adjoint_b = true }) end,
      inputs = { { 1.5, -2.0, 3.0 }, { { 1.0, 2.0 }, { -1.0, 0.5 } } } },
    { fn = function(v, b) return R.sparse_dense_matmul(ind(), v, shp(), b) end,
      inputs = { tf.constant({ 1.0, 2.0, 3.0 }), tf.ones({ 3, 4 }) }, wrt = {} },
  },
  sparse_segment_reduce = {
    { fn = function(x) return R.sparse_segment_reduce(x, tf.constant({ 0, 2, 0 }), tf.constant({ 0, 0, 2 })) end,
      inputs = { { { 1.0, 2.0 }, { -1.0, 0.5 }, { 3.0, -2.0 } } } },
    { fn = function(x)
        return R.sparse_segment_reduce(x, tf.constant({ 1, 2, 2 }, tf.int64), tf.constant({ 0, 1, 1 }),
          { mode = "mean", num_segments = 3 })
      end, inputs = { { 1.0, 2.0, -3.0 } } },
    { fn = function(x) return R.sparse_segment_reduce(x, tf.constant({ 0, 1, 2 }), tf.constant({ 1, 1, 1 }), { mode = "sqrt_n" }) end,
      inputs = { { { 1.0 }, { 2.0 }, { 4.0 } } } },
  },
  set_operation = {
    nograd = "set results",
    { fn = function(a, b)
        return R.set_operation(ind(), a, shp(), bind(), b, shp(), { set_operation = "intersection" })
      end, inputs = { tf.constant({ 1, 2, 3 }), tf.constant({ 2, 1, 3 }) } },
    { fn = function(a, b) return R.set_operation(ind(), a, shp(), bind(), b, shp(), { set_operation = "union" }) end,
      inputs = { tf.constant({ 1, 2, 3 }, tf.int64), tf.constant({ 2, 1, 4 }, tf.int64) } },
    { fn = function(a, b) return R.set_operation(ind(), a, shp(), bind(), b, shp(), { set_operation = "a-b" }) end,
      inputs = { tf.constant({ 1, 2, 3 }, tf.int8), tf.constant({ 2, 1, 4 }, tf.int8) } },
    { fn = function(a, b) return R.set_operation(ind(), a, shp(), bind(), b, shp(), { set_operation = "b-a" }) end,
      inputs = { tf.constant({ 1, 2, 3 }, tf.uint8), tf.constant({ 2, 1, 4 }, tf.uint8) } },
    { fn = function(a, b) return R.set_operation(ind(), a, shp(), bind(), b, shp(), { set_operation = "union" }) end,
      inputs = { tf.constant({ "b", "", "ab" }), tf.constant({ "a", "b", "ab" }) }, device = false,
      device_reason = "string tensors live on the CPU only" },
  },
  set_size = {
    nograd = "counts",
    { fn = function(v) return R.set_size(ind3(), v, shp3(), { validate_indices = false }) end,
      inputs = { tf.constant({ 5, 5, 6, 7 }) } },
    { fn = function(v) return R.set_size(ind3(), v, shp3(), { validate_indices = false }) end,
      inputs = { tf.constant({ "x", "x", "y", "" }) }, device = false,
      device_reason = "string tensors live on the CPU only" },
  },
}
