-- Conformance cases for src/ops/debug.c
local tf = require("tlua")
return {
  stop_gradient = { nograd = "stops gradients by definition (tested in tape_spec)" },
  check_numerics = {
    { fn = function(x) return tf.debugging.check_numerics(x, "x") end, inputs = { { 1.5, -2.0, 3.25 } } },
  },
  -- There and back: the gradient of a copy is the copy back to the source.
  copy_to_device = {
    { fn = function(x) return tf.copy_to_device(tf.copy_to_device(x, "TEST:0") * 2, "CPU:0") end,
      inputs = { { 1.5, -2.0, 3.25 } } },
  },
}
