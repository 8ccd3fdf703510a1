-- The graph optimization passes through core.graph: for each pass alone,
-- the optimized graph's results equal eager execution to 1e-5 and
-- g:stats() reports what the pass did; stateful and random ops are never
-- folded, merged or dropped; graphs run on the TEST device unchanged.
local tf = require("tlua")
local H = require("helpers")
local G = require("tlua.core").graph
local P = G.passes

-- Traces fn on symbolic arguments shaped like the example tensors.
local function trace(fn, examples)
  local tr = G.trace_begin()
  local args = {}
  for i, e in ipairs(examples) do args[i] = G.trace_arg(tr, e.dtype, e.shape:as_list()) end
  local ok, outs = pcall(function() return { fn(table.unpack(args)) } end)
  if not ok then
    G.trace_abort(tr)
    error(outs, 0)
  end
  return G.trace_end(tr, outs)
end

local function count_ops(g, name)
  local n = 0
  for _, node in ipairs(g:nodes()) do
    if node.op == name then n = n + 1 end
  end
  return n
end

-- Traces fn, optimizes with mask, checks the results against eager ones
-- and returns the graph.
local function check_pass(fn, examples, mask)
  local eager = { fn(table.unpack(examples)) }
  local g = trace(fn, examples)
  local before = #g:nodes()
  g:optimize(mask)
  local outs = G.run(g, examples)
  assert.equal(#eager, #outs)
  for i = 1, #eager do H.assert_close(outs[i], eager[i], 1e-5, 1e-6) end
  local st = g:stats()
  assert.equal(before, st.nodes_before)
  assert.equal(#g:nodes(), st.nodes_after)
  return g, st, before
end

local x23 = tf.constant({ { 1, -2, 3 }, { 4.5, 5, -6 } }, tf.float32)

describe("core.graph.passes", function()
  it("names the TL_OPT_* bits", function()
    assert.same({ dce = 1, cse = 2, fold = 4, noop = 8, simplify = 16, fuse = 32, memory = 64, parallel = 128, all = 255 }, P)
  end)
end)

describe("dead-code elimination", function()
  it("drops what no output needs, and nothing else", function()
    local g, st, before = check_pass(function(x)
      local _ = tf.exp(x) * 3 -- dead
      return x + 1
    end, { x23 }, P.dce)
    assert.equal(3, st.dce_removed)
    assert.equal(before - 3, st.nodes_after)
    assert.equal(0, count_ops(g, "exp"))
    assert.equal(0, st.cse_merged + st.folded + st.noops_removed + st.simplified)
  end)

  it("keeps variable writes and random draws whose results nobody reads", function()
    local v = tf.Variable({ 0.0, 0.0 })
    local g = trace(function(x)
      v:assign_add(x)
      local _ = tf.random.uniform({ 2 })
      return x * 2
    end, { tf.constant({ 1.0, 2.0 }) })
    g:optimize(P.all)
    assert.equal(1, count_ops(g, "assign_add"))
    assert.equal(1, count_ops(g, "random_uniform"))
    G.run(g, { tf.constant({ 1.0, 2.0 }) })
    G.run(g, { tf.constant({ 1.0, 2.0 }) })
    H.assert_close(v:read_value(), { 2, 4 })
  end)
end)

describe("common-subexpression elimination", function()
  it("merges equal ops on equal inputs (and equal constants)", function()
    local g, st = check_pass(function(x)
      local a = tf.exp(x) * 2
      local b = tf.exp(x) * 2
      return a + b, tf.reduce_sum(x, 1), tf.reduce_sum(x, 1), tf.reduce_sum(x, 0)
    end, { x23 }, P.cse)
    assert.equal(4, st.cse_merged) -- the constant 2, exp, *2, reduce_sum axis 1
    assert.equal(1, count_ops(g, "exp"))
    assert.equal(1, count_ops(g, "multiply"))
    assert.equal(2, count_ops(g, "reduce_sum"))
    assert.equal(0, st.dce_removed + st.folded + st.noops_removed + st.simplified)
  end)

  it("merges x+y with y+x and x*y with y*x, not x-y with y-x", function()
    local g, st = check_pass(function(x, y)
      return x + y, y + x, x * y, y * x, x - y, y - x, tf.maximum(x, y), tf.maximum(y, x)
    end, { x23, tf.constant({ 0.5, -1, 2 }) }, P.cse)
    assert.equal(2, st.cse_merged)
    assert.equal(1, count_ops(g, "add"))
    assert.equal(1, count_ops(g, "multiply"))
    assert.equal(2, count_ops(g, "subtract"))
    assert.equal(2, count_ops(g, "maximum"))
  end)

  it("merges reads of a variable only while nothing writes", function()
    local v = tf.Variable({ 1.0, 2.0 })
    local fn = function(x)
      local a, b = v:read_value(), v:read_value()
      v:assign_add(x)
      local c = v:read_value()
      return a, b, c
    end
    local g = trace(fn, { tf.constant({ 1.0, 1.0 }) })
    g:optimize(P.cse)
    assert.equal(1, g:stats().cse_merged)
    assert.equal(2, count_ops(g, "read_variable"))
    local o = G.run(g, { tf.constant({ 1.0, 1.0 }) })
    H.assert_close(o[1], { 1, 2 })
    H.assert_close(o[2], { 1, 2 })
    H.assert_close(o[3], { 2, 3 })
  end)

  it("never merges random ops", function()
    local g = trace(function() return tf.random.uniform({ 64 }), tf.random.uniform({ 64 }) end, {})
    g:optimize(P.all)
    assert.equal(2, count_ops(g, "random_uniform"))
    assert.equal(0, g:stats().cse_merged)
    local o = G.run(g, {})
    assert.is_false(H.close(o[1]:totable(), o[2]:totable()))
  end)
end)

describe("constant folding", function()
  it("computes ops on constants once", function()
    local c = tf.constant({ { 1, 2, 3 }, { 4, 5, 6 } }, tf.float32)
    local g, st = check_pass(function(x)
      return x + tf.exp(c * 0.5), tf.reduce_sum(tf.transpose(c))
    end, { x23 }, P.fold)
    assert.equal(4, st.folded) -- multiply, exp, transpose, reduce_sum
    assert.equal(0, count_ops(g, "exp"))
    assert.equal(1, count_ops(g, "add"))
    assert.equal(0, st.dce_removed + st.cse_merged + st.noops_removed + st.simplified)
  end)

  it("leaves results over 1 MiB, random ops and variable reads to run", function()
    local big = tf.ones({ 300000 })
    local v = tf.Variable({ 1.0, 2.0 })
    local c = tf.range(0, 100)
    local g = trace(function(x) return big * 2, tf.random.shuffle(c), v:read_value() * 2, x end,
      { tf.constant(1.0) })
    g:optimize(P.fold)
    local st = g:stats()
    assert.equal(0, st.folded)
    assert.equal(1, count_ops(g, "random_shuffle"))
    v:assign({ 5.0, 6.0 })
    local o1 = G.run(g, { tf.constant(1.0) })
    local o2 = G.run(g, { tf.constant(1.0) })
    H.assert_close(o1[3], { 10, 12 })
    assert.is_false(H.close(o1[2]:totable(), o2[2]:totable()))
  end)

  it("leaves an op that fails to fail when the graph runs, naming its line", function()
    local line
    local g = trace(function(x)
      line = debug.getinfo(1, "l").currentline; return x + tf.debugging.check_numerics(tf.constant({ 1.0, 0 / 0 }), "nan here")
    end, { tf.constant({ 1.0, 2.0 }) })
    g:optimize(P.all)
    assert.equal(0, g:stats().folded)
    H.assert_error("InvalidArgument", { "trace_opt_spec.lua:" .. line, "nan here" }, G.run, g, { tf.constant({ 1.0, 2.0 }) })
  end)
end)

describe("no-op views and casts", function()
  it("are removed when they change nothing", function()
    local g, st, before = check_pass(function(x)
      local a = tf.cast(x, tf.float32)
      a = tf.reshape(a, { 2, 3 })
      a = tf.identity(a)
      a = tf.transpose(a, { 0, 1 })
      a = tf.broadcast_to(a, { 2, 3 })
      a = tf.tile(a, { 1, 1 })
      a = tf.squeeze(tf.expand_dims(a, 0), { 0 })
      return tf.exp(a), tf.cast(x, tf.float64), tf.transpose(x), tf.reshape(x, { 3, 2 })
    end, { x23 }, P.noop)
    assert.equal(7, st.noops_removed) -- expand_dims is left dead (DCE's job)
    assert.equal(before - 7, st.nodes_after)
    assert.equal(1, count_ops(g, "cast"))
    assert.equal(1, count_ops(g, "transpose"))
    assert.equal(1, count_ops(g, "reshape"))
    assert.equal(0, count_ops(g, "identity") + count_ops(g, "tile") + count_ops(g, "squeeze"))
    assert.equal(0, st.dce_removed + st.cse_merged + st.folded + st.simplified)
  end)
end)

describe("algebraic simplification", function()
  it("drops x*1, 1*x, x+0, 0+x, x-0, x/1, x^1, -(-x), transposes that cancel", function()
    local g, st = check_pass(function(x)
      local a = 1 * (x * 1)
      a = 0 + (a + 0)
      a = (a - 0) / 1
      a = tf.pow(a, 1)
      a = -(-a)
      a = tf.transpose(tf.transpose(a))
      a = a * tf.ones_like(a) + tf.zeros({ 3 })
      return tf.exp(a)
    end, { x23 }, P.simplify)
    assert.equal(11, st.simplified)
    assert.equal(0, count_ops(g, "multiply") + count_ops(g, "add") + count_ops(g, "subtract")
      + count_ops(g, "divide") + count_ops(g, "pow"))
    assert.equal(0, st.dce_removed + st.cse_merged + st.folded + st.noops_removed)
  end)

  it("drops casts to a wider dtype and back, and keeps lossy ones", function()
    local i8 = tf.constant({ -128, 5, 127 }, tf.int8)
    local g, st = check_pass(function(x, i, b)
      return tf.cast(tf.cast(x, tf.float64), tf.float32), tf.cast(tf.cast(i, tf.int32), tf.int8),
          tf.cast(tf.cast(i, tf.float32), tf.int8), tf.cast(tf.cast(b, tf.float32), tf.bool),
          tf.cast(tf.cast(x, tf.float16), tf.float32), tf.cast(tf.cast(x, tf.int32), tf.float32),
          tf.cast(tf.cast(i, tf.uint8), tf.int8)
    end, { tf.constant({ 1.1, -2.7, 70000.5 }), i8, tf.constant({ true, false, true }) }, P.simplify)
    assert.equal(4, st.simplified)
    assert.equal(3 * 2 + 4, count_ops(g, "cast")) -- the inner casts stay (dead) without DCE
  end)

  it("keeps a broadcast that grows an unknown dimension", function()
    local tr = G.trace_begin()
    local x = G.trace_arg(tr, tf.float32, { n = 2, [2] = 3 })
    local g = G.trace_end(tr, { x * tf.ones({ 2, 3 }), x + tf.zeros({ 1, 3 }) })
    g:optimize(P.simplify)
    assert.equal(1, g:stats().simplified)
    local o = G.run(g, { tf.constant({ { 1, 2, 3 } }, tf.float32) })
    assert.same({ 2, 3 }, o[1].shape:as_list())
    assert.same({ 1, 3 }, o[2].shape:as_list())
  end)

  it("keeps what would change the dtype, shape or value", function()
    local g, st = check_pass(function(x, i)
      return x * tf.ones({ 4, 2, 3 }), 0 - x, x * 2, i / 1, x + tf.constant(-0.0) * 0 + 1e-3
    end, { x23, tf.constant({ 1, 2 }, tf.int32) }, P.simplify)
    assert.equal(0, st.simplified)
    assert.equal(2, count_ops(g, "divide") + count_ops(g, "subtract"))
  end)
end)

describe("all passes together", function()
  it("reach a fixpoint and keep the results of a small network", function()
    local w1 = tf.Variable(tf.random.normal({ 3, 4 }, 0, 0.5, tf.float32, 1))
    local w2 = tf.Variable(tf.random.normal({ 4, 2 }, 0, 0.5, tf.float32, 2))
    local g, st = check_pass(function(x)
      local h = tf.nn.relu(tf.matmul(x * 1, w1:read_value()) + 0)
      local h2 = tf.nn.relu(tf.matmul(x, w1:read_value()))
      local y = tf.matmul(tf.reshape(h + h2, { 2, 4 }), w2:read_value())
      return tf.nn.softmax(y), tf.reduce_sum(tf.constant({ 1.0, 2.0 }) * 2)
    end, { x23 }, P.all & ~P.fuse) -- op counts before fusion (trace_fuse_spec)
    assert.is_true(st.simplified >= 2)
    assert.is_true(st.cse_merged >= 2)
    assert.is_true(st.folded >= 2)
    assert.is_true(st.noops_removed >= 1)
    assert.is_true(st.dce_removed >= 1)
    assert.equal(1, count_ops(g, "relu"))
    -- Optimizing again changes nothing more.
    local n = st.nodes_after
    g:optimize(P.all & ~P.fuse)
    assert.equal(n, #g:nodes())
  end)
end)

describe("graphs on the TEST device", function()
  local function on_test(t) return tf.copy_to_device(t, "TEST:0") end

  it("run unchanged on arguments placed there", function()
    local fn = function(x, y) return tf.reduce_sum(tf.exp(x) * y, 1), tf.matmul(x, tf.transpose(y)) end
    local a, b = x23, tf.constant({ { 0.5, 1, 2 }, { 3, -1, 0 } }, tf.float32)
    local eager = { fn(a, b) }
    local g = trace(fn, { a, b })
    g:optimize(P.all)
    local outs = G.run(g, { on_test(a), on_test(b) })
    for i = 1, #eager do
      assert.truthy(outs[i].device:find("TEST"))
      H.assert_close(outs[i], eager[i])
    end
  end)

  it("fold and simplify constants made there", function()
    local fn = function(x) return (x + tf.exp(tf.constant({ 1.0, 2.0, 3.0 }))) * 1 end
    local eager = fn(x23)
    local g
    do
      local d <close> = tf.device("TEST:0")
      g = trace(fn, { on_test(x23) })
    end
    g:optimize(P.all)
    local st = g:stats()
    assert.equal(1, st.folded)
    assert.equal(1, st.simplified)
    local out = G.run(g, { on_test(x23) })[1]
    assert.truthy(out.device:find("TEST"))
    H.assert_close(out, eager)
  end)
end)

describe("tf.trace with every pass", function()
  it("runs a training step (tape, Nadam) like eager, step after step", function()
    local W1, W2 = tf.random.normal({ 20, 16 }, 0, 0.3), tf.random.normal({ 16, 4 }, 0, 0.3)
    local function make()
      local w1, b1, w2, b2 = tf.Variable(W1), tf.Variable(tf.zeros({ 16 })), tf.Variable(W2), tf.Variable(tf.zeros({ 4 }))
      local vars = { w1, b1, w2, b2 }
      local opt = tf.keras.optimizers.Nadam(1e-2)
      local function step(x, y)
        local tape = tf.GradientTape()
        local h = tf.nn.relu(tf.matmul(x * 1, w1) + b1)
        local logits = tf.matmul(tf.reshape(h, { 8, 16 }), w2) + b2
        local loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        local g = tape:gradient(loss, vars)
        opt:apply_gradients({ { g[1], w1 }, { g[2], b1 }, { g[3], w2 }, { g[4], b2 } })
        return loss
      end
      return step, vars
    end
    local x = tf.random.normal({ 8, 20 })
    local y = tf.constant({ 0, 1, 2, 3, 0, 1, 2, 3 }, tf.int32)
    local eager_step, ve = make()
    local traced_step, vt = make()
    local f = tf.trace(traced_step)
    for _ = 1, 3 do H.assert_close(f(x, y), eager_step(x, y), 1e-5, 1e-6) end
    for i = 1, 4 do H.assert_close(vt[i]:read_value(), ve[i]:read_value(), 1e-5, 1e-6) end
    local st = f:get_concrete_function(x, y).graph:stats()
    assert.is_true(st.folded >= 1)
    assert.is_true(st.simplified + st.noops_removed >= 2)
    assert.is_true(st.nodes_after < st.nodes_before)
  end)
end)
