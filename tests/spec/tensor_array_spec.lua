-- tf.TensorArray: eager semantics, errors, gradients, and the graph form in
-- tf.trace and tf.while_loop. Expected values from TensorFlow 2
-- (fixtures/tensor_array_ref.py) or by hand; where TensorFlow is lax
-- (writing twice, reading an unwritten element) tlua raises, as issue 10 asks.
local tf = require("tlua")
local helpers = require("helpers")
local gradcheck = require("gradcheck")

local same = assert.are.same
local f32 = tf.float32

local function ta3(opts)
  local o = { dtype = f32, size = 3 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return tf.TensorArray(o)
end

describe("tf.TensorArray eagerly", function()
  it("writes, reads and stacks; write returns the same (mutated) array", function()
    local ta = ta3()
    assert.are.equal("<tf.TensorArray size=3 dtype=float32 element_shape=<unknown>>", tostring(ta))
    assert.is_nil(ta.element_shape)
    local ta2 = ta:write(0, { 1, 2 })
    assert.are.equal(ta, ta2)
    ta:write(2, tf.constant({ 5.0, 6.0 }))
    assert.are.equal("<tf.TensorArray size=3 dtype=float32 element_shape=[2]>", tostring(ta))
    same({ 2 }, ta.element_shape:as_list())
    assert.are.equal(f32, ta.dtype)
    assert.is_false(ta.dynamic_size)
    assert.are.equal(3, ta:size():item())
    -- never-written elements stack as zeros (TensorFlow's rule)
    same({ { 1, 2 }, { 0, 0 }, { 5, 6 } }, ta:stack():totable())
    same({ 5, 6 }, ta:read(2):totable())
  end)

  it("accepts TensorFlow's positional form and keyword names", function()
    local ta = tf.TensorArray(f32, 2, false, false, { element_shape = { 2 } })
    same({ { 0, 0 }, { 0, 0 } }, ta:stack():totable())
    ta = tf.TensorArray(tf.int32, { size = 1, element_shape = tf.TensorShape({ 3 }) })
    ta:write(0, { 1, 2, 3 })
    same({ { 1, 2, 3 } }, ta:stack():totable())
    assert.are.equal(tf.int32, ta:read(0).dtype)
  end)

  it("reads return the written tensor itself (a tape follows it)", function()
    local x = tf.constant({ 1.0, 2.0 })
    local ta = ta3({ clear_after_read = false })
    local tape = tf.GradientTape()
    tape:watch(x)
    ta:write(1, x)
    local r = ta:read(1)
    same({ 1, 2 }, ta:read(1):totable()) -- readable again without clear_after_read
    same({ 1, 1 }, tape:gradient(tf.reduce_sum(r), x):totable())
  end)

  it("raises on writing twice, reading unwritten or cleared elements, and out-of-range indices", function()
    local ta = ta3()
    ta:write(0, { 1.0, 2.0 })
    helpers.assert_error("InvalidArgument", { "Could not write to TensorArray index 0", "already been written" },
      ta.write, ta, 0, { 3.0, 4.0 })
    helpers.assert_error("InvalidArgument", { "index 1", "not yet been written" }, ta.read, ta, 1)
    helpers.assert_error("OutOfRange", { "Tried to write to index 5", "not resizeable and size is: 3" },
      ta.write, ta, 5, { 1.0, 2.0 })
    helpers.assert_error("OutOfRange", { "Writing to negative indices (index -1)" }, ta.write, ta, -1, { 1.0, 2.0 })
    helpers.assert_error("OutOfRange", { "Tried to read from index 3 but array size is: 3" }, ta.read, ta, 3)
    helpers.assert_error("OutOfRange", { "Reading from negative indices (index -1)" }, ta.read, ta, -1)
    same({ 1, 2 }, ta:read(0):totable())
    helpers.assert_error("InvalidArgument", { "Could not read index 0 twice", "clear_after_read" }, ta.read, ta, 0)
    helpers.assert_error("InvalidArgument", { "index 0", "already been read" }, ta.write, ta, 0, { 1.0, 2.0 })
    -- a cleared element is not silently zero in stack (TensorFlow gives zeros)
    helpers.assert_error("InvalidArgument", { "Could not read index 0 twice" }, ta.stack, ta)
  end)

  it("enforces the dtype and the element shape (the first write fixes it)", function()
    local ta = ta3()
    helpers.assert_error("InvalidArgument", { "TensorArray dtype is float32 but Op is trying to write dtype int32" },
      ta.write, ta, 0, tf.constant({ 1, 2 }))
    ta:write(0, { 1.0, 2.0 })
    helpers.assert_error("InvalidArgument", { "Incompatible shape for value ([3]), expected ([2])" },
      ta.write, ta, 1, { 1.0, 2.0, 3.0 })
    local given = ta3({ element_shape = { nil, 2, n = 2 } })
    helpers.assert_error("InvalidArgument", { "Incompatible shape for value ([1,3]), expected ([?,2])" },
      given.write, given, 0, { { 1.0, 2.0, 3.0 } })
    given:write(0, { { 1.0, 2.0 } })
    same({ 1, 2 }, given.element_shape:as_list())
    -- infer_shape=false: elements may differ
    local free = ta3({ infer_shape = false })
    free:write(0, { 1.0 })
    free:write(1, { 1.0, 2.0 })
    assert.is_nil(free.element_shape)
    helpers.assert_error("InvalidArgument", { "never written", "not fully known" }, free.stack, free)
  end)

  it("grows with dynamic_size", function()
    local ta = tf.TensorArray{ dtype = f32, size = 0, dynamic_size = true }
    ta:write(4, 1.0)
    assert.are.equal(5, ta:size():item())
    same({ 0, 0, 0, 0, 1 }, ta:stack():totable())
    assert.is_true(ta.dynamic_size)
    helpers.assert_error("InvalidArgument", { "size is required" }, tf.TensorArray, { dtype = f32 })
  end)

  it("unstacks, gathers, scatters, concatenates and splits (TensorFlow's values)", function()
    local ta = ta3():unstack({ { 1, 2 }, { 3, 4 }, { 5, 6 } })
    same({ { 5, 6 }, { 1, 2 } }, ta:gather({ 2, 0 }):totable())
    same({ { 5, 6 } }, ta:gather(tf.constant({ 2 })):totable())
    same({ 1, 2, 3, 4, 5, 6 }, ta:concat():totable())
    same({ { 5, 6 }, { 0, 0 }, { 1, 2 } }, ta3():scatter({ 2, 0 }, { { 1, 2 }, { 5, 6 } }):stack():totable())
    local s = tf.TensorArray{ dtype = f32, size = 2 }:split({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, { 1, 2 })
    same({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, s:concat():totable())
    same({ { 3, 4 }, { 5, 6 } }, s:read(1):totable())
    -- unstack of fewer rows sets the size (TensorFlow: size 2)
    assert.are.equal(2, ta3():unstack({ 1, 2 }):size():item())
    helpers.assert_error("InvalidArgument", { "Cannot unstack 3 tensors into a TensorArray of static size 2" },
      function() tf.TensorArray{ dtype = f32, size = 2 }:unstack({ 1, 2, 3 }) end)
    helpers.assert_error("InvalidArgument", { "sum of lengths is 2", "first dimension is 3" },
      function() tf.TensorArray{ dtype = f32, size = 2 }:split({ 1, 2, 3 }, { 1, 1 }) end)
    helpers.assert_error("InvalidArgument", { "size is not equal to the size of lengths (3 vs. 2)" },
      function() ta3():split({ 1, 2, 3 }, { 1, 2 }) end)
    helpers.assert_error("InvalidArgument", { "index 1", "not yet been written" },
      function() ta3():write(0, 1.0):gather({ 0, 1 }) end)
    helpers.assert_error("InvalidArgument", { "index 2", "already been written" },
      function() ta3():scatter({ 2, 2 }, { 1, 2 }) end)
    helpers.assert_error("InvalidArgument", { "Concat saw a scalar shape at index 0" },
      function() ta3():unstack({ 1, 2, 3 }):concat() end)
    -- empty arrays
    same({ 0, 2 }, tf.TensorArray{ dtype = f32, size = 0, element_shape = { 2 } }:stack().shape:as_list())
    ta:close()
    assert.are.equal(0, ta:size():item())
  end)

  it("rejects bad arguments with tf.errors values", function()
    helpers.assert_error("InvalidArgument", { "size must be >= 0" }, tf.TensorArray, { dtype = f32, size = -1 })
    helpers.assert_error("InvalidArgument", { "element_shape", "dimension 0" }, tf.TensorArray,
      { dtype = f32, size = 1, element_shape = { -3 } })
    helpers.assert_error("InvalidArgument", { "unknown option 'bogus'" }, tf.TensorArray, { dtype = f32, size = 1, bogus = 1 })
    helpers.assert_error("InvalidArgument", { "dtype is required" }, tf.TensorArray, { size = 1 })
    local ta = ta3()
    helpers.assert_error("InvalidArgument", { "index must be an integer" }, ta.write, ta, 0.5, 1.0)
    helpers.assert_error("InvalidArgument", { "gather" }, ta.gather, ta, "x")
    helpers.assert_error("InvalidArgument", { "lengths must be >= 0" }, function() ta3():split({ 1, 2 }, { 3, -1, 0 }) end)
    -- the graph ops called directly check what they are given
    local raw = tf.raw_ops
    local st = raw.tensor_array_state(tf.constant(3))
    helpers.assert_error("InvalidArgument", { "tensor_array_write", "buffer and state differ in size (4 vs 3)" },
      raw.tensor_array_write, tf.zeros({ 4, 2 }), st, tf.constant(0), tf.zeros({ 2 }))
    helpers.assert_error("InvalidArgument", { "state must be an int8 vector" },
      raw.tensor_array_write, tf.zeros({ 3, 2 }), tf.zeros({ 3 }), tf.constant(0), tf.zeros({ 2 }))
    helpers.assert_error("InvalidArgument", { "does not fit the elements" },
      raw.tensor_array_write, tf.zeros({ 3, 2 }), st, tf.constant(0), tf.zeros({ 2, 2 }))
    helpers.assert_error("InvalidArgument", { "index must be an integer scalar or vector" },
      raw.tensor_array_read, tf.zeros({ 3, 2 }), st, tf.constant({ { 0 } }))
    helpers.assert_error("OutOfRange", { "index 9" }, raw.tensor_array_rows, tf.zeros({ 3, 2 }), tf.constant(9))
    helpers.assert_error("OutOfRange", { "index 9" }, raw.tensor_array_put_rows, tf.zeros({ 2 }), tf.constant(9), tf.zeros({ 3, 2 }))
    helpers.assert_error("InvalidArgument", { "size must be >= 0" }, raw.tensor_array_state, tf.constant(-2))
    helpers.assert_error("Unimplemented", { "gradients of string (float32 and float64 only)" }, raw.tensor_array_unwrite,
      tf.constant({ "a" }), tf.constant(0), tf.constant({ "b" }))
    helpers.assert_error("Unimplemented", { "gradients of int32" }, raw.tensor_array_put_rows, tf.constant({ 1 }),
      tf.constant(0), tf.constant({ 2 }))
    -- scalars are not buffers (found by the robustness spec under UBSan)
    helpers.assert_error("InvalidArgument", { "rank >= 1" }, raw.tensor_array_unwrite, tf.constant(1.0), tf.constant(0),
      tf.constant(2.0))
    helpers.assert_error("InvalidArgument", { "rank >= 1" }, raw.tensor_array_put_rows, tf.constant(1.0), tf.constant(0),
      tf.constant(2.0))
  end)

  it("help lists its methods", function()
    local text = require("tlua.help").text(ta3())
    for _, m in ipairs({ "write", "read", "stack", "unstack", "gather", "scatter", "concat", "split", "size", "close" }) do
      assert.truthy(text:find(m, 1, true), m)
    end
    assert.truthy(require("tlua.help").text(tf.TensorArray):find("split", 1, true))
  end)
end)

describe("tf.TensorArray gradients (float64 central differences)", function()
  local x = tf.constant({ { 0.5, -1.2 }, { 2.0, 0.3 }, { -0.7, 1.1 } }, tf.float64)
  local y = tf.constant({ 0.9, -0.4 }, tf.float64)

  it("flow through write, read and stack", function()
    gradcheck.assert_grad(function(a, b)
      local ta = tf.TensorArray{ dtype = tf.float64, size = 3 }
      ta:write(0, a[0] * b)
      ta:write(2, tf.sin(b))
      return ta:stack(), ta:read(0) * a[1]
    end, { x, y })
  end)

  it("flow through unstack, gather, scatter, concat and split", function()
    gradcheck.assert_grad(function(a, b)
      local ta = tf.TensorArray{ dtype = tf.float64, size = 3 }:unstack(a * a)
      local g = ta:gather({ 2, 0 })
      local s = tf.TensorArray{ dtype = tf.float64, size = 3 }:scatter({ 1, 0 }, g * b)
      local parts = tf.TensorArray{ dtype = tf.float64, size = 2 }:split(tf.reshape(a, { 6 }), { 2, 4 })
      return s:stack(), parts:concat() * 3, parts:read(1)
    end, { x, y })
  end)

  it("flow through the graph form's ops in a traced function", function()
    gradcheck.assert_grad(tf.trace(function(a, b)
      local ta = tf.TensorArray{ dtype = tf.float64, size = 3 }:unstack(a * a)
      local g = ta:gather({ 2, 0 })
      local s = tf.TensorArray{ dtype = tf.float64, size = 3 }:scatter({ 1, 0 }, g * b)
      local parts = tf.TensorArray{ dtype = tf.float64, size = 3 }:split(tf.reshape(a, { 6 }), { 2, 2, 2 })
      local w = tf.TensorArray{ dtype = tf.float64, size = 0, dynamic_size = true }:write(2, tf.sin(b)):write(0, b * b)
      return s:stack(), parts:concat() * 3, parts:read(1), ta:read(1) * b, w:stack()
    end), { x, y })
  end)

  it("flow through a tf.while_loop, eagerly and traced", function()
    local function f(a)
      local ta = tf.TensorArray{ dtype = tf.float64, size = 3 }
      local r = tf.while_loop(function(i) return tf.less(i, 3) end,
        function(i, t) return i + 1, t:write(i, a[i] * a[i] * tf.cast(i + 1, tf.float64)) end, { 0, ta })
      return r[2]:stack()
    end
    gradcheck.assert_grad(f, { x })
    gradcheck.assert_grad(tf.trace(f), { x })
    -- TensorFlow: sum over the loop of x[i]^2 (i+1) for x = {1,2,3}: 36, gradient {2, 8, 18}
    local v = tf.constant({ 1.0, 2.0, 3.0 })
    for _, fn in ipairs({ function(a) return f(tf.cast(a, tf.float64)) end,
      tf.trace(function(a) return f(tf.cast(a, tf.float64)) end) }) do
      local tape = tf.GradientTape()
      tape:watch(v)
      local s = tf.reduce_sum(fn(v))
      assert.are.equal(36, s:item())
      same({ 2, 8, 18 }, tape:gradient(s, v):totable())
    end
  end)

  it("stop at an eager tf.while_loop with back_prop=false", function()
    local v = tf.constant({ 1.0, 2.0 })
    local tape = tf.GradientTape()
    tape:watch(v)
    local r = tf.while_loop(function(i) return tf.less(i, 2) end,
      function(i, t) return i + 1, t:write(i, v * 2) end, { 0, tf.TensorArray{ dtype = f32, size = 2 } },
      { back_prop = false })
    same({ { 2, 4 }, { 2, 4 } }, r[2]:stack():totable())
    same({ 0, 0 }, tape:gradient(tf.reduce_sum(r[2]:stack()), v, { unconnected_gradients = "zero" }):totable())
  end)

  it("flow from a tape inside a traced function, and second order", function()
    local g = tf.trace(function(a)
      local tape = tf.GradientTape()
      tape:watch(a)
      local ta = tf.TensorArray{ dtype = tf.float64, size = 2 }
      ta = ta:write(0, a * a):write(1, a * 3)
      local loss = tf.reduce_sum(ta:stack())
      return tape:gradient(loss, a)
    end)
    same({ 2 * 0.9 + 3, 2 * -0.4 + 3 }, g(y):totable())
    local outer = tf.GradientTape()
    outer:watch(y)
    local inner = tf.GradientTape()
    inner:watch(y)
    local ta = tf.TensorArray{ dtype = tf.float64, size = 1, clear_after_read = false }
    ta:write(0, y * y * y)
    local gy = inner:gradient(tf.reduce_sum(ta:read(0)), y)
    local h = outer:gradient(tf.reduce_sum(gy), y)
    helpers.assert_close(h, { 6 * 0.9, 6 * -0.4 }, 1e-12)
  end)
end)

describe("tf.TensorArray in graphs", function()
  it("is written, read and stacked inside tf.trace, and returned as an eager array", function()
    local seen
    local f = tf.trace(function(x)
      local ta = tf.TensorArray{ dtype = f32, size = 3 }
      ta = ta:write(0, x):write(1, x * 2)
      seen = tostring(ta)
      return ta:stack(), ta:read(1), ta
    end)
    local s, r, ta = f(tf.constant({ 1.0, 2.0 }))
    assert.are.equal("<tf.TensorArray size=3 dtype=float32 element_shape=[2] (graph)>", seen)
    same({ { 1, 2 }, { 2, 4 }, { 0, 0 } }, s:totable())
    same({ 2, 4 }, r:totable())
    assert.are.equal("<tf.TensorArray size=3 dtype=float32 element_shape=[2]>", tostring(ta))
    same({ 1, 2 }, ta:read(0):totable())
    ta:write(2, { 7.0, 8.0 }) -- eager again: still checked
    helpers.assert_error("InvalidArgument", { "already been written" }, ta.write, ta, 1, { 0.0, 0.0 })
  end)

  it("checks indices and the state when the graph runs", function()
    local read = tf.trace(function(i)
      return ta3():write(0, { 1.0, 2.0 }):read(i)
    end)
    same({ 1, 2 }, read(tf.constant(0)):totable())
    helpers.assert_error("InvalidArgument", { "tensor_array_read", "index 1", "not yet been written" }, read, tf.constant(1))
    helpers.assert_error("OutOfRange", { "Tried to read from index 7 but array size is: 3" }, read, tf.constant(7))
    local write = tf.trace(function(i)
      return ta3():write(0, { 1.0, 2.0 }):write(i, { 3.0, 4.0 }):stack()
    end)
    same({ { 1, 2 }, { 0, 0 }, { 3, 4 } }, write(tf.constant(2)):totable())
    helpers.assert_error("InvalidArgument", { "index 0", "already been written" }, write, tf.constant(0))
    helpers.assert_error("OutOfRange", { "Tried to write to index 3" }, write, tf.constant(3))
    helpers.assert_error("InvalidArgument", { "Incompatible shape for value ([3]), expected ([2])" }, tf.trace(function()
      return ta3():write(0, { 1.0, 2.0 }):write(1, { 1.0, 2.0, 3.0 }):stack()
    end))
    helpers.assert_error("InvalidArgument", { "float32 but Op is trying to write dtype int32" }, tf.trace(function(v)
      return ta3():write(0, v):stack()
    end), tf.constant({ 1, 2 }))
  end)

  it("does unstack, gather, scatter, concat and split in a graph", function()
    local f = tf.trace(function(x)
      local ta = ta3():unstack(x)
      local sc = ta3():scatter({ 2, 0 }, ta:gather({ 0, 2 }))
      local sp = tf.TensorArray{ dtype = f32, size = 3 }:split(tf.reshape(x, { 6 }), { 2, 2, 2 })
      return ta:gather(tf.constant({ 2, 0 })), sc:stack(), ta:concat(), sp:read(1), ta:size()
    end)
    local g, sc, c, r, n = f(tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 }, { 5.0, 6.0 } }))
    same({ { 5, 6 }, { 1, 2 } }, g:totable())
    same({ { 5, 6 }, { 0, 0 }, { 1, 2 } }, sc:totable())
    same({ 1, 2, 3, 4, 5, 6 }, c:totable())
    same({ 3, 4 }, r:totable())
    assert.are.equal(3, n:item())
    helpers.assert_error("Unimplemented", { "equal lengths" }, tf.trace(function(x)
      return ta3():split(x, { 1, 2, 3 }):concat()
    end), tf.constant({ 1.0, 2.0, 3.0, 4.0, 5.0, 6.0 }))
  end)

  it("goes into a traced function as an argument without changing the caller's array", function()
    local ta = tf.TensorArray{ dtype = f32, size = 2 }
    ta:write(0, { 1.0, 2.0 })
    local traces = 0
    local k = tf.trace(function(t) traces = traces + 1 return t:write(1, { 5.0, 6.0 }) end)
    local out = k(ta)
    same({ { 1, 2 }, { 5, 6 } }, out:stack():totable())
    helpers.assert_error("InvalidArgument", { "not yet been written" }, ta.read, ta, 1)
    local other = tf.TensorArray{ dtype = f32, size = 2 }
    other:write(0, { 3.0, 4.0 })
    same({ { 3, 4 }, { 5, 6 } }, k(other):stack():totable())
    assert.are.equal(1, traces)
  end)

  it("refuses an eager array captured by a traced function (its contents would freeze)", function()
    local ta = tf.TensorArray{ dtype = f32, size = 2 }
    ta:write(0, { 1.0, 2.0 })
    helpers.assert_error("InvalidArgument", { "made eagerly", "pass it as an argument" },
      tf.trace(function() return ta:stack() end))
  end)

  it("is a tf.while_loop variable: the usual pattern, without element_shape", function()
    local traces = 0
    local g = tf.trace(function(n)
      traces = traces + 1
      local ta = tf.TensorArray{ dtype = f32, size = n }
      local r = tf.while_loop(function(i) return tf.less(i, n) end,
        function(i, t) return i + 1, t:write(i, tf.ones({ 2 }) * tf.cast(i, f32)) end, { 0, ta })
      local out = r[2]:stack()
      same({ nil, 2, n = 2 }, out.shape:as_list())
      return out
    end)
    same({ { 0, 0 }, { 1, 1 }, { 2, 2 } }, g(tf.constant(3)):totable())
    same({ { 0, 0 }, { 1, 1 } }, g(tf.constant(2)):totable())
    assert.are.equal(1, traces)
    -- eagerly the same code (the array passes through the Lua loop)
    local ta = tf.TensorArray{ dtype = f32, size = 3 }
    local r = tf.while_loop(function(i) return tf.less(i, 3) end,
      function(i, t) return i + 1, t:write(i, tf.ones({ 2 }) * tf.cast(i, f32)) end, { 0, ta })
    assert.are.equal(ta, r[2])
    same({ { 0, 0 }, { 1, 1 }, { 2, 2 } }, ta:stack():totable())
  end)

  it("grows inside a traced tf.while_loop with dynamic_size (TensorFlow's values)", function()
    local h = tf.trace(function(n)
      local ta = tf.TensorArray{ dtype = f32, size = 0, dynamic_size = true }
      local r = tf.while_loop(function(i) return tf.less(i, n) end,
        function(i, t) return i + 1, t:write(i, tf.cast(i, f32) * 2) end, { 0, ta })
      return r[2]:stack(), r[2]:size()
    end)
    local s, n = h(tf.constant(5))
    same({ 0, 2, 4, 6, 8 }, s:totable())
    assert.are.equal(5, n:item())
    same({ 0, 2 }, (h(tf.constant(2))):totable())
  end)

  it("reads an unstacked input inside a loop body and keeps a partly known element shape", function()
    local f = tf.trace(function(x)
      local inp = tf.TensorArray{ dtype = f32, size = 3 }:unstack(x)
      local acc = tf.TensorArray{ dtype = f32, size = 3, element_shape = { nil, n = 1 } }
      local r = tf.while_loop(function(i) return tf.less(i, 3) end,
        function(i, t, s)
          local row = inp:read(i)
          return i + 1, t:write(i, tf.cumsum(row)), s + row
        end, { 0, acc, tf.zeros({ 2 }) })
      return r[2]:stack(), r[3]
    end)
    local s, total = f(tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 }, { 5.0, 6.0 } }))
    same({ { 1, 3 }, { 3, 7 }, { 5, 11 } }, s:totable())
    same({ 9, 12 }, total:totable())
  end)

  it("accumulates an RNN's states in a traced loop; values and dW match TensorFlow", function()
    local W = tf.Variable(tf.constant({ { 0.5, -0.2 }, { 0.1, 0.3 } }))
    local f = tf.trace(function(x)
      local n = tf.shape(x)[0]
      local r = tf.while_loop(function(i) return tf.less(i, n) end, function(i, h, acc)
        h = tf.tanh(tf.matmul(tf.reshape(h, { 1, 2 }), W)[0] + x[i])
        return i + 1, h, acc:write(i, h)
      end, { 0, tf.zeros({ 2 }), tf.TensorArray{ dtype = f32, size = n } })
      return r[3]:stack()
    end)
    local x = tf.constant({ { 1.0, 0.0 }, { 0.0, 1.0 }, { 0.5, 0.5 }, { -1.0, 1.0 } })
    local tape = tf.GradientTape()
    local s = f(x)
    local g = tape:gradient(tf.reduce_sum(tf.square(s)), W)
    -- fixtures/tensor_array_ref.py's companion: TensorFlow 2.x, tf.function + tf.while_loop
    helpers.assert_close(s, { { 0.7615942, 0 }, { 0.3633995, 0.6898561 }, { 0.63555765, 0.5609902 },
      { -0.55537623, 0.7783558 } }, 1e-5, 1e-6)
    helpers.assert_close(g, { { 0.19699323, 1.3658693 }, { -0.11663496, 0.92534906 } }, 1e-5, 1e-6)
  end)

  it("survives a saved model round trip (its ops are registry ops)", function()
    local f = tf.trace(function(x)
      local n = tf.shape(x)[0]
      local r = tf.while_loop(function(i) return tf.less(i, n) end,
        function(i, acc) return i + 1, acc:write(i, x[i] * 2) end, { 0, tf.TensorArray{ dtype = f32, size = n } })
      return r[2]:stack()
    end, { input_signature = { tf.TensorSpec({ nil, 2 }, f32) } })
    local path = os.tmpname()
    os.remove(path)
    tf.saved_model.save(f, path)
    local m = tf.saved_model.load(path)
    os.remove(path)
    same({ { 2, 4 }, { 1, -2 }, { 0, 6 } }, m(tf.constant({ { 1.0, 2.0 }, { 0.5, -1.0 }, { 0.0, 3.0 } })):totable())
  end)

  it("holds strings, eagerly and in a traced loop", function()
    local t = tf.TensorArray{ dtype = tf.string, size = 2 }
    t:write(0, "ab")
    t:write(1, "c")
    same({ "ab", "c" }, t:stack():totable())
    local g = tf.trace(function(s, n)
      local ta = tf.TensorArray{ dtype = tf.string, size = 0, dynamic_size = true }:write(0, s)
      return tf.while_loop(function(i) return tf.less(i, n) end,
        function(i, a) return i + 1, a:write(i, "w") end, { 1, ta })[2]:stack()
    end)
    same({ "hello", "w", "w" }, g(tf.constant("hello"), tf.constant(3)):totable())
  end)

  it("is a tf.cond result; branches must agree on its spec", function()
    local f = tf.trace(function(p)
      local ta = tf.TensorArray{ dtype = f32, size = 2, element_shape = { 2 } }:write(0, { 1.0, 2.0 })
      return tf.cond(p, function() return ta:write(1, { 3.0, 4.0 }) end, function() return ta:write(1, { 5.0, 6.0 }) end):stack()
    end)
    same({ { 1, 2 }, { 3, 4 } }, f(tf.constant(true)):totable())
    same({ { 1, 2 }, { 5, 6 } }, f(tf.constant(false)):totable())
    -- one branch writes, the other passes the array on: both are traced again
    -- with the array in the merged spec
    local g = tf.trace(function(p)
      local ta = tf.TensorArray{ dtype = f32, size = 2 }
      return tf.cond(p, function() return ta:write(1, { 3.0, 4.0 }) end, function() return ta end):stack()
    end)
    same({ { 0, 0 }, { 3, 4 } }, g(tf.constant(true)):totable())
    same({ { 0, 0 }, { 0, 0 } }, g(tf.constant(false)):totable())
    -- the same inside a loop body, with no element_shape anywhere
    local h = tf.trace(function(n)
      local r = tf.while_loop(function(i) return tf.less(i, n) end, function(i, t)
        t = tf.cond(tf.equal(i % 2, 0), function() return t:write(i, tf.ones({ 2 }) * tf.cast(i, f32)) end,
          function() return t end)
        return i + 1, t
      end, { 0, tf.TensorArray{ dtype = f32, size = n } })
      return r[2]:stack()
    end)
    same({ { 0, 0 }, { 0, 0 }, { 2, 2 }, { 0, 0 }, { 4, 4 } }, h(tf.constant(5)):totable())
    -- element shapes of different ranks cannot merge
    helpers.assert_error("InvalidArgument", { "tf.cond", "element=[2]", "element=[1,1]" }, tf.trace(function(p)
      local ta = tf.TensorArray{ dtype = f32, size = 2 }
      return tf.cond(p, function() return ta:write(1, { 3.0, 4.0 }) end, function() return ta:write(0, { { 1.0 } }) end):stack()
    end), tf.constant(true))
  end)

  it("raises when a loop body changes the array's dtype rules", function()
    assert.has_error(function()
      tf.trace(function()
        local ta = tf.TensorArray{ dtype = f32, size = 2, element_shape = { 2 } }
        return tf.while_loop(function(i) return tf.less(i, 2) end,
          function(i, t) return i + 1, t:write(i, { 1.0, 2.0, 3.0 }) end, { 0, ta })[2]:stack()
      end)()
    end)
  end)
end)
