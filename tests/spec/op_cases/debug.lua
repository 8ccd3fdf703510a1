-- Conformance cases for src/ops/debug.c
local tf = require("tlua")
return {
  stop_gradient = { nograd = "stops gradients by definition (tested in tape_spec)",
    { fn = function(x) return tf.stop_gradient(x) end, inputs = { tf.constant({ { 1.5, -2.0 } }) } },
  },
  check_numerics = {
    { fn = function(x) return tf.debugging.check_numerics(x, "x") end, inputs = { { 1.5, -2.0, 3.25 } } },
    { fn = function(x) return tf.debugging.check_numerics(x) end, inputs = { { { 0.5 }, { -4.0 } } } },
  },
  -- There and back: the gradient of a copy is the copy back to the source.
  copy_to_device = {
    { fn = function(x) return tf.copy_to_device(tf.copy_to_device(x, "TEST:0") * 2, "CPU:0") end,
      inputs = { { 1.5, -2.0, 3.25 } } },
    { fn = function(x) return tf.copy_to_device(tf.copy_to_device(x, "TEST:0"), "CPU:0") end,
      inputs = { { { 0.5, -1.0 } } } },
  },
}
