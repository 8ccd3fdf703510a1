-- Conformance cases for src/ops/fused.c (made by graph fusion; tested
-- against unfused graphs in trace_fuse_spec).
local tf = require("tlua")
local fe = tf.raw_ops.fused_elementwise
return {
  fused_elementwise = {
    { fn = function(x, y) return fe({ x, y }, { program = "multiply 0 1;exp 2;add 3 1", outputs = { 4 } }) end,
      inputs = { { { 1.5, -2.0, 0.25 } }, { 0.5, 1.0, -1.0 } } },
    { fn = function(x) return fe({ x }, { program = "square 0;tanh 1", outputs = { 1, 2 } }) end,
      inputs = { { { 0.5 }, { -4.0 } } } },
    { fn = function(x) return fe({ x }, { program = "sin 0;multiply 1 0", outputs = { 2 }, reduce = "mean", axis = { -1 } }) end,
      inputs = { { { 0.5, -1.5 }, { 2.0, 3.0 } } } },
    { fn = function(x, y) return fe({ x, y }, { program = "subtract 0 1;relu 2;square 3", outputs = { 3, 4 }, reduce = "sum" }) end,
      inputs = { { 0.5, -1.5, 2.0 }, { 0.25 } } },
  },
}
