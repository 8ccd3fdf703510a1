-- Conformance cases for src/ops/fused.c (made by graph fusion; tested
-- against unfused graphs in trace_fuse_spec).
local tf = require("tlua")
local fe = tf.raw_ops.fused_elementwise
return {
  fused_elementwise = { nograd = "runs on finished graphs only, after the tape wrote the backward pass",
    { fn = function(x, y) return fe({ x, y }, { program = "multiply 0 1;exp 2;add 3 1", outputs = { 4 } }) end,
      inputs = { tf.constant({ { 1.5, -2.0, 0.25 } }), tf.constant({ 0.5, 1.0, -1.0 }) } },
    { fn = function(x) return fe({ x }, { program = "square 0;tanh 1", outputs = { 1, 2 } }) end,
      inputs = { tf.constant({ { 0.5 }, { -4.0 } }, tf.float64) } },
    { fn = function(x) return fe({ x }, { program = "abs 0", outputs = { 1 }, reduce = "mean", axis = { -1 } }) end,
      inputs = { tf.constant({ { 0.5, -1.5 }, { 2.0, 3.0 } }) } },
    { fn = function(x) return fe({ x }, { program = "relu 0", outputs = { 1 }, reduce = "sum" }) end,
      inputs = { tf.constant({ 0.5, -1.5, 2.0 }) } },
  },
}
