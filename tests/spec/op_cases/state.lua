-- Conformance cases for src/ops/state.c: the ops that read and write
-- variables. Writes have no gradient (TensorFlow's neither); each case
-- returns what the variable reads afterwards, and a read taken before the
-- write, which must not change (value semantics).
local tf = require("tlua")

-- The cases' variables are made inside fn from its (tensor) arguments, so
-- they live on the device the runner chose.
local function var(x) return tf.is_variable(x) and x or tf.Variable(x) end

local function write_case(op, x, y)
  return {
    fn = function(a, b)
      local v = tf.Variable(a)
      local before = v:read_value()
      tf.raw_ops[op](v, b)
      return before, v:read_value()
    end,
    inputs = { x, y },
  }
end

local function scatter_case(op, x, idx, upd)
  return {
    fn = function(a, i, u)
      local v = tf.Variable(a)
      local before = v:read_value()
      tf.raw_ops[op](v, i, u)
      return before, v:read_value()
    end,
    inputs = { x, idx, upd },
  }
end

local why = "writes a variable (no gradient, as TensorFlow's resource writes)"
local m32 = function() return tf.constant({ { 1.0, -2.0, 3.0 }, { 4.0, 5.0, -6.0 }, { 0.5, 8.0, 9.0 } }) end

return {
  read_variable = {
    -- the gradient reaches the variable through the read (identity); the
    -- numeric pass gets a plain tensor and wraps it
    { fn = function(v) return tf.raw_ops.read_variable(var(v)) * 3 end,
      inputs = { tf.Variable(tf.constant({ { 1.0, 2.0 }, { -3.0, 0.5 } }, tf.float64)) },
      device = false, device_reason = "its input is a tf.Variable on the CPU: the gradient w.r.t. a variable needs the variable itself" },
    -- the same read on any device: a tensor argument made a variable in fn
    -- (its gradient then stops at the variable's creation, so none is checked)
    { fn = function(x) return tf.raw_ops.read_variable(var(x)) end, inputs = { tf.constant({ 1.5, -2.0, 3.25 }) },
      wrt = {} },
  },
  assign = { nograd = why,
    write_case("assign", m32(), tf.constant({ { 0.0, 1, 2 }, { 3, 4, 5 }, { 6, 7, 8 } })),
    write_case("assign", tf.constant({ 1, 2 }, tf.int32), tf.constant({ -7, 9 }, tf.int32)),
    write_case("assign", tf.constant({ true, false }), tf.constant({ false, true })),
    write_case("assign", tf.constant(1.5, tf.float16), tf.constant(2.25, tf.float16)),
  },
  assign_add = { nograd = why,
    write_case("assign_add", m32(), tf.constant({ { 0.5, 1, 1.5 }, { 2, 2.5, 3 }, { -1, -2, -3 } })),
    write_case("assign_add", tf.constant({ 100, -3 }, tf.int8), tf.constant({ 100, 1 }, tf.int8)), -- wraps as int8
    write_case("assign_add", tf.constant({ 1.0, 2.0 }, tf.bfloat16), tf.constant({ 0.5, 0.25 }, tf.bfloat16)),
  },
  assign_sub = { nograd = why,
    write_case("assign_sub", m32(), tf.ones({ 3, 3 })),
    write_case("assign_sub", tf.constant({ 5, 7 }, tf.int64), tf.constant({ 6, 1 }, tf.int64)),
  },
  scatter_update = { nograd = why,
    scatter_case("scatter_update", m32(), tf.constant({ 2, 0 }), tf.constant({ { 9.0, 9, 9 }, { 7, 7, 7 } })),
    scatter_case("scatter_update", m32(), tf.constant({ 1 }, tf.int64), tf.constant(0.0)), -- a scalar update
    scatter_case("scatter_update", tf.constant({ true, true, false }), tf.constant({ { 0, 2 } }), tf.constant({ { false, true } })),
  },
  scatter_add = { nograd = why,
    scatter_case("scatter_add", m32(), tf.constant({ 1, 1, 0 }), tf.constant({ { 1.0, 1, 1 }, { 2, 2, 2 }, { 3, 3, 3 } })), -- duplicates sum
    scatter_case("scatter_add", tf.constant({ 1, 2, 3, 4 }), tf.constant(3), tf.constant(10)), -- a scalar index
  },
  scatter_sub = { nograd = why,
    scatter_case("scatter_sub", m32(), tf.constant({ { 0, 2 } }), tf.constant({ { { 1.0, 1, 1 }, { 2, 2, 2 } } })), -- rank-2 indices
  },
  scatter_mul = { nograd = why,
    scatter_case("scatter_mul", m32(), tf.constant({ 0, 0 }), tf.constant({ { 2.0, 2, 2 }, { -1, 3, 0.5 } })),
  },
  scatter_div = { nograd = why,
    scatter_case("scatter_div", m32(), tf.constant({ 2 }), tf.constant({ { 2.0, 4, -8 } })),
    scatter_case("scatter_div", tf.constant({ 7, -7, 9 }), tf.constant({ 0, 1 }), tf.constant({ 2, 2 })), -- truncates as C
  },
  scatter_min = { nograd = why,
    scatter_case("scatter_min", m32(), tf.constant({ 0, 1 }), tf.constant({ { 0.0, 0, 0 }, { 10, -10, 10 } })),
  },
  scatter_max = { nograd = why,
    scatter_case("scatter_max", tf.constant({ 1, 5, 3 }, tf.int16), tf.constant({ 0, 1, 0 }), tf.constant({ 4, 2, 9 }, tf.int16)),
  },
}
