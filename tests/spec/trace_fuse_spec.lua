-- Element-wise fusion (src/graph/fuse.c, src/ops/fused.c) and the executor's
-- memory plan (src/graph/exec.c): fused and in-place graphs give what the
-- same functions give eagerly, to 1e-5.
local tf = require("tlua")
local G = require("tlua.core").graph
local helpers = require("helpers")

local DCE, FUSE, MEMORY = 1, 32, 64

-- Traces f over args given as {dtype, shape} and returns the graph.
local function build(f, metas)
  local tr = G.trace_begin()
  local args = {}
  for i, m in ipairs(metas) do args[i] = G.trace_arg(tr, m[1], m[2]) end
  local ok, res = pcall(function() return table.pack(f(table.unpack(args))) end)
  if not ok then
    G.trace_abort(tr)
    error(res, 0)
  end
  return G.trace_end(tr, res)
end

local function max_rel_err(a, b)
  local d = tf.reduce_max(tf.abs(a - b)):item()
  local m = tf.reduce_max(tf.abs(b)):item()
  return d / math.max(1, m)
end

local function count_op(g, name)
  local n = 0
  for _, node in ipairs(g:nodes()) do
    if node.op == name then n = n + 1 end
  end
  return n
end

-- Runs f eagerly on the values, then traced with `mask`; every output must
-- agree to tol. Returns the optimized graph.
local function check(f, metas, values, mask, tol)
  local want = table.pack(f(table.unpack(values)))
  local g = build(f, metas)
  g:optimize(mask or (DCE + FUSE))
  local got = G.run(g, values)
  assert.are.equal(want.n, #got)
  for i = 1, want.n do
    assert.are.same(want[i].shape:as_list(), got[i].shape:as_list())
    assert.are.equal(want[i].dtype, got[i].dtype)
    local e = max_rel_err(got[i], want[i])
    assert(e <= (tol or 1e-5), ("output %d differs by %g"):format(i, e))
  end
  return g, got
end

local function u(shape, dtype, lo, hi)
  return tf.random.uniform(shape, lo or -2, hi or 2, dtype or tf.float32)
end

describe("element-wise fusion", function()
  before_each(function() tf.random.set_seed(7) end)

  it("fuses a chain into one node that equals eager", function()
    local f = function(x) return tf.exp(tf.nn.relu(x * 1.5 - 0.25) * -1) + x end
    local g = check(f, { { tf.float32, { 5000 } } }, { u({ 5000 }) })
    assert.are.equal(1, count_op(g, "fused_elementwise"))
    local st = g:stats()
    assert.are.equal(1, st.fused_groups)
    assert.are.equal(6, st.fused_ops)
  end)

  it("handles broadcasting: rows, columns, scalars, and a strided view", function()
    local f = function(x, b, c, s) return tf.tanh(x * b + c) * s - tf.sigmoid(x) end
    local metas = { { tf.float32, { 37, 129 } }, { tf.float32, { 129 } }, { tf.float32, { 37, 1 } }, { tf.float32, {} } }
    check(f, metas, { u({ 37, 129 }), u({ 129 }), u({ 37, 1 }), tf.constant(0.75) })
    -- a transposed (non-contiguous) argument
    local xt = tf.transpose(u({ 129, 37 }))
    check(f, metas, { xt, u({ 129 }), u({ 37, 1 }), tf.constant(-1.25) })
  end)

  it("runs many unary and binary ops fused, in float32 and float64", function()
    local unary = { "abs", "negative", "square", "exp", "tanh", "sigmoid", "softplus", "elu", "selu", "softsign", "sin",
      "cos", "atan", "erf", "relu6", "floor", "ceil", "round", "sign", "expm1" }
    for _, dt in ipairs({ tf.float32, tf.float64 }) do
      for _, name in ipairs(unary) do
        local op = tf.raw_ops[name]
        local f = function(x, y) return op(x * y + 0.5) - y end
        check(f, { { dt, { 300 } }, { dt, { 300 } } }, { u({ 300 }, dt), u({ 300 }, dt) })
      end
      local binary = { "add", "subtract", "multiply", "divide", "maximum", "minimum", "squared_difference", "pow" }
      for _, name in ipairs(binary) do
        local op = tf.raw_ops[name]
        local f = function(x, y) return op(tf.abs(x) + 0.5, y * 0.5) * 2 end
        check(f, { { dt, { 4, 77 } }, { dt, { 77 } } }, { u({ 4, 77 }, dt), u({ 77 }, dt) })
      end
      local g = check(function(x) return tf.nn.leaky_relu(x * 3, 0.3) + tf.nn.gelu(x, true) + tf.nn.gelu(x) end,
        { { dt, { 999 } } }, { u({ 999 }, dt) })
      assert.are.equal(1, count_op(g, "fused_elementwise"))
    end
  end)

  it("keeps a multi-use intermediate as an extra output", function()
    local f = function(x)
      local y = tf.exp(x * 0.5)
      local z = tf.matmul(tf.reshape(y, { 1, 64 }), tf.ones({ 64, 1 }))
      return (y + 1) * y, z
    end
    local g = check(f, { { tf.float32, { 64 } } }, { u({ 64 }) })
    assert.are.equal(1, count_op(g, "fused_elementwise"))
    -- the intermediate that is also a graph output
    check(function(x) local y = tf.exp(x); return y, tf.sqrt(y + 1) * 2 end, { { tf.float32, { 100 } } }, { u({ 100 }) })
  end)

  it("never fuses around a node it depends on (no cycle)", function()
    -- y -> reduce (not fusable) -> back into the chain
    local f = function(x)
      local y = tf.exp(x) * 2
      local m = tf.reduce_max(y)
      return (y - m) * 3
    end
    check(f, { { tf.float32, { 50, 20 } } }, { u({ 50, 20 }) })
    local f2 = function(x)
      local y = tf.exp(x) * 2
      return tf.nn.softmax(y) + y
    end
    check(f2, { { tf.float32, { 8, 20 } } }, { u({ 8, 20 }) })
  end)

  it("fuses into a consuming sum or mean over all axes or the last one", function()
    for _, dt in ipairs({ tf.float32, tf.float64 }) do
      for _, shape in ipairs({ { 7, 5 }, { 3, 5000 }, { 100000 }, { 2, 3, 4 }, { 1 } }) do
        local metas = { { dt, shape } }
        local vals = { u(shape, dt) }
        local g = check(function(x) return tf.reduce_sum(tf.square(x * 2 - 1)) end, metas, vals, nil, 1e-5)
        assert.are.equal(0, count_op(g, "reduce_sum"))
        check(function(x) return tf.reduce_mean(tf.exp(x) * x, -1) end, metas, vals)
        check(function(x) return tf.reduce_sum(tf.abs(x) + 1, -1, { keepdims = true }) end, metas, vals)
        check(function(x) return tf.reduce_mean(tf.nn.relu(x), nil, { keepdims = true }) end, metas, vals)
      end
    end
    -- a reduction over the first axis stays a reduction
    local g = check(function(x) return tf.reduce_sum(tf.exp(x) * 2, 0) end, { { tf.float32, { 6, 9 } } }, { u({ 6, 9 }) })
    assert.are.equal(1, count_op(g, "reduce_sum"))
  end)

  it("absorbs the reduction and still returns the intermediates others need", function()
    local f = function(x) local y = tf.exp(x) - 1; return tf.reduce_sum(y * y, -1), y end
    local g = check(f, { { tf.float32, { 4, 3000 } } }, { u({ 4, 3000 }) })
    assert.are.equal(0, count_op(g, "reduce_sum"))
    assert.are.equal(1, count_op(g, "fused_elementwise"))
  end)

  it("combines with every other pass, and optimizing again changes nothing", function()
    local w = tf.Variable(u({ 16, 8 }))
    local f = function(x)
      local h = tf.nn.relu(tf.matmul(x * 1, w:read_value()) + 0.5)
      local k = tf.nn.relu(tf.matmul(x, w:read_value()) + 0.5) -- the same again (CSE)
      return tf.reduce_mean(tf.square(h - k * 2) + tf.exp(h)), h * (2 * 3)
    end
    local x = u({ 4, 16 })
    local g = check(f, { { tf.float32, { 4, 16 } } }, { x }, 255)
    local n = #g:nodes()
    assert.is_true(g:stats().fused_groups >= 1)
    g:optimize(255)
    assert.are.equal(n, #g:nodes())
    local want = table.pack(f(x))
    local got = G.run(g, { x })
    for i = 1, 2 do assert(max_rel_err(got[i], want[i]) < 1e-5) end
  end)

  it("leaves random and stateful ops alone", function()
    local v = tf.Variable(tf.zeros({ 10 }))
    local g = build(function(x)
      local r = tf.random.uniform({ 10 })
      local y = (x + r) * 2
      v:assign(y)
      return y + 1
    end, { { tf.float32, { 10 } } })
    g:optimize(DCE + FUSE)
    local names = {}
    for _, node in ipairs(g:nodes()) do names[#names + 1] = node.op end
    assert.is_true(count_op(g, "random_uniform") == 1 or count_op(g, "random_uniform_float") >= 0)
    assert.are.equal(1, count_op(g, "assign"))
  end)

  it("fuses integer chains and reports integer division by zero", function()
    check(function(x, y) return (x * y + 3) - x end, { { tf.int32, { 40 } }, { tf.int32, { 40 } } },
      { tf.range(40), tf.range(40) * 3 })
    local g = build(function(x, y) return tf.math.floordiv(x * 2, y) + 1 end, { { tf.int32, { 4 } }, { tf.int32, { 4 } } })
    g:optimize(DCE + FUSE)
    assert.are.equal(1, count_op(g, "fused_elementwise"))
    helpers.assert_error("InvalidArgument", "division by zero", function() G.run(g, { tf.constant({ 1, 2, 3, 4 }), tf.constant({ 1, 0, 1, 1 }) }) end)
  end)

  it("survives copies, and a dynamic dimension that broadcasts differently than traced", function()
    local f = function(x, y) return tf.exp(x * y) + y end
    local g = build(f, { { tf.float32, { n = 2, [2] = 8 } }, { tf.float32, { n = 2, [2] = 8 } } })
    g:optimize(DCE + FUSE)
    local g2 = g:copy()
    local x, y = u({ 5, 8 }), u({ 1, 8 })
    local want = f(x, y)
    for _, gg in ipairs({ g, g2 }) do
      assert(max_rel_err(G.run(gg, { x, y })[1], want) < 1e-5)
      assert(max_rel_err(G.run(gg, { y, x })[1], f(y, x)) < 1e-5)
    end
  end)

  it("falls back to op by op when an output is smaller than the broadcast at run time", function()
    local f = function(x, y) local a = tf.exp(x) * 2; return a, a + y end
    local g = build(f, { { tf.float32, { n = 2, [2] = 8 } }, { tf.float32, { n = 2, [2] = 8 } } })
    g:optimize(DCE + FUSE + MEMORY)
    assert.are.equal(1, count_op(g, "fused_elementwise"))
    for _, xy in ipairs({ { u({ 1, 8 }), u({ 5, 8 }) }, { u({ 5, 8 }), u({ 1, 8 }) }, { u({ 3, 8 }), u({ 3, 8 }) } }) do
      local want = table.pack(f(xy[1], xy[2]))
      local got = G.run(g, xy)
      for i = 1, 2 do
        assert.are.same(want[i].shape:as_list(), got[i].shape:as_list())
        assert(max_rel_err(got[i], want[i]) < 1e-6)
      end
    end
  end)

  it("rejects a bad program with an error, never a crash", function()
    local x = tf.constant({ 1.0, 2.0 })
    local fe = tf.raw_ops.fused_elementwise
    helpers.assert_error("InvalidArgument", "no op named", function() fe({ x }, { program = "nosuchop 0", outputs = { 1 } }) end)
    helpers.assert_error("InvalidArgument", "bad operand", function() fe({ x }, { program = "exp 5", outputs = { 1 } }) end)
    helpers.assert_error("InvalidArgument", "operands", function() fe({ x }, { program = "add 0", outputs = { 1 } }) end)
    helpers.assert_error("InvalidArgument", "not an instruction", function() fe({ x }, { program = "exp 0", outputs = { 0 } }) end)
    helpers.assert_error("InvalidArgument", "cannot be fused", function() fe({ x }, { program = "less 0 0", outputs = { 1 } }) end)
    helpers.assert_error("InvalidArgument", "reduce must", function() fe({ x }, { program = "exp 0", outputs = { 1 }, reduce = "max" }) end)
    local y = fe({ x, tf.constant(3.0) }, { program = "multiply 0 1;exp 2", outputs = { 3 } })
    assert(max_rel_err(y, tf.exp(x * 3)) < 1e-6)
  end)
end)

describe("memory planning", function()
  before_each(function() tf.random.set_seed(3) end)

  it("writes in place without corrupting outputs, arguments or live values", function()
    local f = function(x)
      local a = tf.exp(x)         -- a graph output: must survive
      local b = a * 2
      local c = tf.nn.relu(b - 1) -- b dies here: in place
      local d = c * x             -- x is an argument: never written
      return d, a, c + 0          -- c is read again later
    end
    local x = u({ 1000 })
    local x_before = x:totable()
    local g = check(f, { { tf.float32, { 1000 } } }, { x }, DCE + MEMORY)
    assert.are.same(x_before, x:totable())
    local st = g:stats()
    assert.is_true(st.in_place >= 2)
    assert.is_true(st.planned_bytes > 0 and st.planned_bytes <= st.unplanned_bytes)
    -- run twice: nothing carried over between runs
    local r1 = G.run(g, { x })
    local r2 = G.run(g, { x })
    for i = 1, 3 do assert.are.same(r1[i]:totable(), r2[i]:totable()) end
  end)

  it("combines with fusion and keeps variables' values intact", function()
    local v = tf.Variable(u({ 256 }))
    local before = v:value():totable()
    local f = function(x) return tf.sigmoid(tf.nn.relu(x + v:value()) * 0.5) - v:value() end
    check(f, { { tf.float32, { 256 } } }, { u({ 256 }) }, DCE + FUSE + MEMORY)
    assert.are.same(before, v:value():totable())
  end)

  it("does not write in place while a tape records the run", function()
    local f = function(x) local y = x * 3; return tf.exp(y - 1) end
    local g = build(f, { { tf.float32, { 16 } } })
    g:optimize(DCE + MEMORY)
    local x = u({ 16 })
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = G.run(g, { x })[1]
    local dx = tape:gradient(y, x)
    tape:stop()
    local want = tf.exp(x * 3 - 1) * 3
    assert(max_rel_err(dx, want) < 1e-5)
  end)
end)

describe("independent nodes in parallel", function()
  local PARALLEL = 128
  -- batches run with three or more pool threads (exec.c: on two they did
  -- not pay); four threads on any machine run them here
  local saved
  before_each(function()
    tf.random.set_seed(5)
    saved = tf.core.num_threads()
    tf.core.set_num_threads(4)
  end)
  after_each(function() tf.core.set_num_threads(saved) end)

  it("runs large independent nodes at once with the serial results", function()
    -- products too small to split themselves (1M multiply-adds each)
    local f = function(a, b, c)
      return tf.matmul(a, b), tf.matmul(a, c, { transpose_a = true }), tf.reduce_sum(a, 0), tf.exp(b) * 2
    end
    local metas = { { tf.float32, { 32, 128 } }, { tf.float32, { 128, 256 } }, { tf.float32, { 32, 256 } } }
    local vals = { u({ 32, 128 }), u({ 128, 256 }), u({ 32, 256 }) }
    local g = check(f, metas, vals, DCE + PARALLEL)
    assert.is_true(g:stats().parallel_levels >= 1)
    -- with fusion and memory planning too
    check(f, metas, vals, DCE + FUSE + MEMORY + PARALLEL)
  end)

  it("leaves small nodes, and nodes that split themselves, serial", function()
    local g0 = check(function(a, b) return tf.matmul(a, b), tf.matmul(b, a) end,
      { { tf.float32, { 128, 256 } }, { tf.float32, { 256, 128 } } }, { u({ 128, 256 }), u({ 256, 128 }) }, DCE + PARALLEL)
    assert.are.equal(0, g0:stats().parallel_levels)
    local g = check(function(a, b) return a * 2, b + 1, tf.exp(a) end, { { tf.float32, { 10 } }, { tf.float32, { 10 } } },
      { u({ 10 }), u({ 10 }) }, DCE + PARALLEL)
    assert.are.equal(0, g:stats().parallel_levels)
  end)

  it("reports an error from a node run on another thread", function()
    local g = build(function(a, b) return tf.math.floordiv(a, b), a * a end,
      { { tf.int32, { 120, 120 } }, { tf.int32, { 120, 120 } } })
    g:optimize(DCE + PARALLEL)
    local a = tf.ones({ 120, 120 }, tf.int32)
    helpers.assert_error("InvalidArgument", "division by zero", function() G.run(g, { a, tf.zeros({ 120, 120 }, tf.int32) }) end)
    assert.is_true(g:stats().parallel_levels >= 1)
    local r = G.run(g, { a, a })
    assert.are.equal(14400, tf.reduce_sum(r[1]):item())
  end)

  it("gives a recording tape every op (runs serially then), and fused nodes differentiate", function()
    local g = build(function(a, b) return tf.reduce_sum(tf.matmul(a, b)) + tf.reduce_sum(tf.exp(b)) end,
      { { tf.float32, { 64, 512 } }, { tf.float32, { 512, 64 } } })
    g:optimize(DCE + FUSE + MEMORY + PARALLEL)
    local a, b = u({ 64, 512 }), u({ 512, 64 })
    local tape = tf.GradientTape()
    tape:watch(b)
    local y = G.run(g, { a, b })[1]
    tape:stop()
    local grad = tape:gradient(y, b) -- through the fused node's rule
    local tape2 = tf.GradientTape()
    tape2:watch(b)
    local y2 = tf.reduce_sum(tf.matmul(a, b)) + tf.reduce_sum(tf.exp(b))
    tape2:stop()
    assert(max_rel_err(grad, tape2:gradient(y2, b)) < 1e-5)
  end)
end)
