-- Conformance cases for src/ops/ragged.c: the index ops of ragged tensors
-- (int64 positions and splits, no gradient: they compute indices, and the
-- values move through gather, which has one) and the unsorted segment
-- reductions (values against TensorFlow in ragged_spec.lua). Splits include
-- empty rows; the segment ids include a dropped negative id and ties.
local tf = require("tlua")
local raw = tf.raw_ops
local function i64(v) return tf.constant(v, tf.int64) end
local splits = i64({ 0, 2, 2, 5 })
local inner = i64({ 0, 1, 3, 3, 4, 6 })
local INDEX = "computes int64 positions and row partitions; values move through gather"

return {
  ragged_validate_splits = {
    nograd = INDEX,
    { fn = function(s, v) return raw.ragged_validate_splits(s, v) end, inputs = { splits, tf.zeros({ 5, 2 }) } },
  },
  ragged_lengths_to_splits = {
    nograd = INDEX,
    { fn = function(l) return raw.ragged_lengths_to_splits(l) end, inputs = { tf.constant({ 2, 0, 3 }) } },
    { fn = function(l) return raw.ragged_lengths_to_splits(l) end, inputs = { i64({}) } },
  },
  ragged_rowids_to_splits = {
    nograd = INDEX,
    { fn = function(r, n) return raw.ragged_rowids_to_splits(r, n) end, inputs = { i64({ 0, 0, 2, 2, 2 }), i64(4) } },
  },
  ragged_row_ids = {
    nograd = INDEX,
    { fn = function(s) return raw.ragged_row_ids(s) end, inputs = { splits } },
  },
  ragged_splits_equal = {
    nograd = INDEX,
    { fn = function(a, b) return raw.ragged_splits_equal(a, b) end, inputs = { splits, i64({ 0, 2, 2, 5 }) } },
  },
  ragged_gather_indices = {
    nograd = INDEX,
    { fn = function(i, s) return table.unpack(raw.ragged_gather_indices(i, { s })) end, inputs = { i64({ 2, 0, 2 }), splits } },
    { fn = function(i, a, b) return table.unpack(raw.ragged_gather_indices(i, { a, b })) end, inputs = { i64({ 2, 1 }), splits, inner } },
    { fn = function(i, a, b) return table.unpack(raw.ragged_gather_indices(i, { a, b })) end, inputs = { i64(0), splits, inner } },
  },
  ragged_to_dense_indices = {
    nograd = INDEX,
    { fn = function(v, s) return raw.ragged_to_dense_indices(v, { s }) end, inputs = { tf.zeros({ 5 }), splits } },
    { fn = function(v, a, b) return raw.ragged_to_dense_indices(v, { a, b }) end, inputs = { tf.zeros({ 6, 2 }), splits, inner } },
    { fn = function(v, s) return raw.ragged_to_dense_indices(v, { s }, { 2, 4 }) end, inputs = { tf.zeros({ 5 }), splits } },
  },
  ragged_from_dense_indices = {
    nograd = INDEX,
    { fn = function(d, l) return raw.ragged_from_dense_indices(d, l) end, inputs = { tf.zeros({ 3, 4, 2 }), i64({ 1, 0, 4 }) } },
  },
  ragged_mask_splits = {
    nograd = INDEX,
    { fn = function(m, s) return raw.ragged_mask_splits(m, s) end,
      inputs = { tf.constant({ true, false, true, true, false }), splits } },
  },
  ragged_range = {
    nograd = "its values are ranges of its inputs' values (integer-valued steps); TensorFlow has no gradient either",
    { fn = function(a, b, d) return raw.ragged_range(a, b, d) end, inputs = { i64({ 0, 5, 8 }), i64({ 3, 3, 12 }), i64(2) } },
    { fn = function(a, b, d) return raw.ragged_range(a, b, d) end,
      inputs = { tf.constant({ 0.0, 1.0 }), tf.constant(2.0), tf.constant({ 0.5, -0.25 }) } },
  },
  unsorted_segment_sum = {
    { fn = function(x) return tf.math.unsorted_segment_sum(x, { 0, 2, 0, -1 }, 3) end,
      inputs = { { { 0.5, 1.0 }, { -2.0, 3.0 }, { 0.25, 4.0 }, { 7.0, 1.5 } } } },
    { fn = function(x) return tf.math.unsorted_segment_sum(x, tf.constant({ 1, 1, 0 }, tf.int64), 4) end,
      inputs = { { 0.5, -1.0, 2.0 } } },
  },
  unsorted_segment_prod = {
    nograd = "TensorFlow's gradient divides by the inputs; not implemented yet",
    { fn = function(x) return tf.math.unsorted_segment_prod(x, { 0, 2, 0 }, 3) end, inputs = { tf.constant({ 0.5, -2.0, 3.0 }) } },
  },
  unsorted_segment_max = {
    { fn = function(x) return tf.math.unsorted_segment_max(x, { 0, 1, 0, 1 }, 3) end,
      inputs = { { { 0.5, 1.0 }, { -2.0, 3.0 }, { 0.25, 4.0 }, { 7.0, 1.5 } } } },
  },
  unsorted_segment_min = {
    { fn = function(x) return tf.math.unsorted_segment_min(x, { 1, 1, 0 }, 2) end, inputs = { { 0.5, -1.0, 2.0 } } },
  },
}
