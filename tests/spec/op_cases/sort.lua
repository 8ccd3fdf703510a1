-- Conformance cases for src/ops/sort.c (values are checked against numpy in
-- sort_spec.lua). Inputs have no ties, so the sorted order is locally fixed.
local tf = require("tlua")
local m = { { 0.5, -1.0, 2.0, 0.75 }, { 1.5, 0.25, -0.75, 3.0 } }
return {
  sort = {
    { fn = function(x) return tf.sort(x) end, inputs = { m } },
    { fn = function(x) return tf.sort(x, 0, "DESCENDING") end, inputs = { m } },
  },
  top_k = {
    { fn = function(x) return (tf.math.top_k(x, 2)) end, inputs = { m } },
    { fn = function(x) return (tf.math.top_k(tf.transpose(x), 1)) end, inputs = { m } },
    { fn = function(x) return (tf.math.top_k(x, 0)) * 1.0 end, inputs = { m } },
  },
  argsort = {
    nograd = "returns integer indices",
    { fn = function(x) return tf.argsort(x), tf.argsort(x, 0, "DESCENDING") end, inputs = { tf.constant({ { 3, 1, 2, 1 }, { 0, 5, 5, -1 } }) } },
    { fn = function(x) return tf.argsort(tf.transpose(x), -2) end, inputs = { tf.constant({ { 0.5, -1.0 }, { 0.0, -0.0 } }) } },
    { fn = function(x) return tf.argsort(x) end, inputs = { tf.zeros({ 3, 0 }, tf.int64) } },
  },
  unique = {
    nograd = "not differentiable in TensorFlow either (its output is a selection with a data-dependent size)",
    { fn = function(x) return tf.unique(x) end, inputs = { tf.constant({ 3, 1, 3, 2, 1 }) } },
    { fn = function(x) return tf.unique(x["::-1"], tf.int64) end, inputs = { tf.constant({ 0.5, -0.0, 0.0, 0.5 }) } },
    { fn = function(x) return tf.unique(x) end, inputs = { tf.zeros({ 0 }, tf.bool) } },
  },
}
