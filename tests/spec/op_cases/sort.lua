-- Conformance cases for src/ops/sort.c (values are checked against numpy in
-- sort_spec.lua). Inputs have no ties, so the sorted order is locally fixed.
local tf = require("tlua")
local m = { { 0.5, -1.0, 2.0, 0.75 }, { 1.5, 0.25, -0.75, 3.0 } }
return {
  sort = {
    { fn = function(x) return tf.sort(x) end, inputs = { m } },
    { fn = function(x) return tf.sort(x, 0, "DESCENDING") end, inputs = { m } },
  },
  top_k = { { fn = function(x) return (tf.math.top_k(x, 2)) end, inputs = { m } } },
  argsort = { nograd = "returns integer indices" },
  unique = { nograd = "not differentiable in TensorFlow either (its output is a selection with a data-dependent size)" },
}
