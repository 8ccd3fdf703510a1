-- Conformance cases for src/ops/print.c and src/ops/callback.c: print_v2
-- writes to a file (its output checked in hostcalls_spec) and returns
-- nothing, so the cases return their input alongside; lua_function calls
-- back into Lua.
local tf = require("tlua")

local sink = "file://" .. os.tmpname()
return {
  print_v2 = { nograd = "prints; it has no outputs",
    { fn = function(x) tf.raw_ops.print_v2({ x }, "x={}", sink) return x end, inputs = { { 1.5, -2.0 } } },
    { fn = function(x, y) tf.print("two:", x, y, { output_stream = sink, summarize = 1 }) return x end,
      inputs = { { { 1.0, 2.0, 3.0 } }, { 4, 5, 6 } } },
  },
  lua_function = { nograd = "no gradient by definition (TensorFlow's py_function has none through the graph)",
    { fn = function(x) return tf.lua_function(function(v) return v * 2 end, { x }, tf.float32) end,
      inputs = { tf.constant({ 1.5, -2.0 }) } },
    { fn = function(x, y)
        return tf.lua_function(function(a, b) return a + b, tf.reduce_sum(b) end, { x, y },
          { tf.float32, tf.TensorSpec({}, tf.float32) })
      end,
      inputs = { tf.constant({ 1.0, 2.0 }), tf.constant({ 3.0, 4.0 }) } },
  },
}
