-- Control flow (stdlib/tlua/control.lua, src/graph/control*.c): tf.cond,
-- tf.case, tf.switch_case, tf.while_loop and tf.range_loop give the same
-- results eagerly and traced (graph control-flow nodes), gradients through
-- them match float64 central differences in both modes, and the errors name
-- what differs.
local tf = require("tlua")
local H = require("helpers")
local GC = require("gradcheck")
local G = require("tlua.core").graph

local f64 = tf.float64

-- Traces fn over symbolic args {dtype, dims} and returns a runner: a
-- function of concrete tensors returning the graph's outputs (several
-- values), and the graph.
local function traced(fn, specs)
  local tr = G.trace_begin()
  local ok, res = pcall(function()
    local args = {}
    for i, s in ipairs(specs) do args[i] = G.trace_arg(tr, s[1], s[2] or {}) end
    return table.pack(fn(table.unpack(args, 1, #specs)))
  end)
  if not ok then
    G.trace_abort(tr)
    error(res, 0)
  end
  local outs = {}
  for i = 1, res.n do outs[i] = res[i] end
  local g = G.trace_end(tr, outs)
  return function(...) return table.unpack(G.run(g, { ... })) end, g
end

local function kinds(g)
  local out = {}
  for _, n in ipairs(g:nodes()) do out[n.kind] = (out[n.kind] or 0) + 1 end
  return out
end

local function scalar(v, dt) return tf.constant(v, dt or tf.float32) end

-- gradcheck's loss weights a scalar output by this (its first weight), so
-- gradients of the plain scalar are scaled by it before comparing
local W1 = math.sin(1.3) + 0.5
local function check_scalar(f, ins, grads)
  local scaled = {}
  for i, g in ipairs(grads) do scaled[i] = g * W1 end
  local err, where = GC.check(f, ins, { grads = scaled })
  assert(err < 1e-6, where)
end

describe("tf.cond", function()
  local function f(x)
    return tf.cond(tf.greater(tf.reduce_sum(x), 0), function() return x * 2 end, function() return x - 1 end)
  end

  it("runs one branch eagerly and as a graph node when traced", function()
    local run, g = traced(f, { { tf.float32, { 3 } } })
    assert.equal(1, kinds(g).cond)
    for _, v in ipairs({ { 1.0, 2.0, 3.0 }, { -1.0, -2.0, 0.5 } }) do
      local x = tf.constant(v)
      H.assert_close(run(x), f(x))
    end
    H.assert_close(run(tf.constant({ 1.0, 2.0, 3.0 })), { 2, 4, 6 })
    H.assert_close(run(tf.constant({ -1.0, -2.0, 0.5 })), { -2, -3, -0.5 })
  end)

  it("picks the branch at trace time for a Lua boolean or number", function()
    for _, p in ipairs({ true, false, 1, 0 }) do
      local run, g = traced(function(x)
        return tf.cond(p, function() return x + 10 end, function() return x - 10 end)
      end, { { tf.float32, {} } })
      assert.is_nil(kinds(g).cond)
      local want = (p == true or p == 1) and 11 or -9
      H.assert_close(run(scalar(1)), want)
    end
    assert.equal(5, tf.cond(true, function() return 5 end, function() return 6 end))
  end)

  it("returns several results and nested tables, with merged shapes", function()
    local function h(x, p)
      return tf.cond(p, function() return x, { a = x * 2, b = { x + 1 } } end,
        function() return x * 0, { a = x, b = { x - 1 } } end)
    end
    local run = traced(function(x, p)
      local a, t = h(x, p)
      return a, t.a, t.b[1]
    end, { { tf.float32, { 2 } }, { tf.bool, {} } })
    for _, p in ipairs({ true, false }) do
      local x = tf.constant({ 1.0, 2.0 })
      local a, t = h(x, tf.constant(p))
      local ra, rb, rc = run(x, tf.constant(p))
      H.assert_close(ra, a)
      H.assert_close(rb, t.a)
      H.assert_close(rc, t.b[1])
    end
    -- dims that differ between the branches become unknown
    local _, g = traced(function(p)
      return tf.cond(p, function() return tf.zeros({ 2, 3 }) end, function() return tf.zeros({ 4, 3 }) end)
    end, { { tf.bool, {} } })
    assert.equal("float32[?,3]", g:info().outputs[1])
  end)

  it("nests, and captures enclosing values and variables by reference", function()
    local v = tf.Variable(10.0)
    local function h(x, y)
      return tf.cond(tf.greater(x, 0), function()
        return tf.cond(tf.greater(y, 0), function() return x * y + v end, function() return x - y end)
      end, function() return y * v end)
    end
    local run, g = traced(h, { { tf.float32, {} }, { tf.float32, {} } })
    assert.equal(1, kinds(g).cond)
    for _, xy in ipairs({ { 2, 3 }, { 2, -3 }, { -2, 3 } }) do
      H.assert_close(run(scalar(xy[1]), scalar(xy[2])), h(scalar(xy[1]), scalar(xy[2])))
    end
    v:assign(1.0)
    H.assert_close(run(scalar(2), scalar(3)), 7)
    H.assert_close(run(scalar(-2), scalar(3)), 3)
  end)

  it("names what differs between the branches", function()
    local function trace_err(t, f)
      return function() traced(function(p) return tf.cond(p, t, f) end, { { tf.bool, {} } }) end
    end
    H.assert_error("InvalidArgument", { "tf.cond", "different dtypes", "result 1", "float32 vs int32" },
      trace_err(function() return tf.zeros({ 2 }) end, function() return tf.zeros({ 2 }, tf.int32) end))
    H.assert_error("InvalidArgument", { "tf.cond", "true_fn returns 2 results and false_fn 1" },
      trace_err(function() return tf.zeros({ 2 }), tf.zeros({}) end, function() return tf.zeros({ 2 }) end))
    H.assert_error("InvalidArgument", { "tf.cond", "same structure", "keys {a}", "keys {b}" },
      trace_err(function() return { a = tf.zeros({}) } end, function() return { b = tf.zeros({}) } end))
    H.assert_error("InvalidArgument", { "tf.cond", "different ranks", "float32[2] vs float32[2,2]" },
      trace_err(function() return tf.zeros({ 2 }) end, function() return tf.zeros({ 2, 2 }) end))
    H.assert_error("InvalidArgument", { "pred must be a boolean scalar" }, function()
      traced(function(x) return tf.cond(x, function() return x end, function() return x end) end, { { tf.float32, {} } })
    end)
    H.assert_error("InvalidArgument", { "pred must be a scalar" }, function()
      tf.cond(tf.constant({ true, false }), function() return 1 end, function() return 2 end)
    end)
    H.assert_error("InvalidArgument", { "pred must be a boolean scalar tensor, got float32" }, function()
      tf.cond(tf.constant(1.0), function() return 1 end, function() return 2 end)
    end)
    H.assert_error("InvalidArgument", { "tf.cond: true_fn must be a function" }, function()
      tf.cond(true, 1, function() end)
    end)
    -- an error inside a branch leaves no trace open
    assert.has_error(trace_err(function() error("boom") end, function() return 1 end))
    assert.is_false(G.in_trace())
  end)
end)

describe("tf.switch_case and tf.case", function()
  local fns = {
    function() return scalar(10) end,
    function() return scalar(20) end,
    function() return scalar(30) end,
  }

  it("switch_case picks by index, out of range gives the default or the last branch", function()
    local function sw(i, default) return tf.switch_case(i, fns, default) end
    local run_d = traced(function(i) return sw(i, function() return scalar(-1) end) end, { { tf.int32, {} } })
    local run_n = traced(function(i) return sw(i) end, { { tf.int32, {} } })
    for _, i in ipairs({ 0, 1, 2, 3, -1 }) do
      local it = tf.constant(i, tf.int32)
      local want_d = ({ [0] = 10, 20, 30 })[i] or -1
      local want_n = ({ [0] = 10, 20, 30 })[i] or 30
      H.assert_close(sw(it, function() return scalar(-1) end), want_d)
      H.assert_close(run_d(it), want_d)
      H.assert_close(sw(i), want_n)
      H.assert_close(run_n(it), want_n)
    end
    -- a table keyed by the indices
    local keyed = { [0] = fns[1], [5] = fns[3] }
    H.assert_close(tf.switch_case(5, keyed), 30)
    local run_k = traced(function(i) return tf.switch_case(i, keyed) end, { { tf.int32, {} } })
    H.assert_close(run_k(tf.constant(0, tf.int32)), 10)
    H.assert_close(run_k(tf.constant(5, tf.int32)), 30)
    -- a list of {index, fn} pairs
    local pairs_ = { { 3, fns[1] }, { 7, fns[2] } }
    H.assert_close(tf.switch_case(7, pairs_), 20)
    H.assert_close(tf.switch_case(1, pairs_), 20) -- out of range: the last branch
    local run_p = traced(function(i) return tf.switch_case(i, pairs_, function() return scalar(0) end) end,
      { { tf.int32, {} } })
    H.assert_close(run_p(tf.constant(3, tf.int32)), 10)
    H.assert_close(run_p(tf.constant(4, tf.int32)), 0)
    H.assert_error("InvalidArgument", "index 3 is given twice", function() tf.switch_case(3, { { 3, fns[1] }, { 3, fns[2] } }) end)
    H.assert_error("InvalidArgument", "branch_index must be an integer", function() tf.switch_case(scalar(1), fns) end)
    H.assert_error("InvalidArgument", "branch_fns is empty", function() tf.switch_case(0, {}) end)
  end)

  it("case runs the first true pred, or the default; exclusive refuses two", function()
    local function c(x, opts)
      return tf.case({
        { tf.less(x, 0), function() return x * -1 end },
        { tf.less(x, 10), function() return x * 2 end },
      }, opts)
    end
    local run = traced(function(x) return c(x, { default = function() return x + 100 end }) end, { { tf.float32, {} } })
    for _, v in ipairs({ -3, 4, 50 }) do
      local want = v < 0 and -v or v < 10 and 2 * v or v + 100
      H.assert_close(c(scalar(v), { default = function() return scalar(v) + 100 end }), want)
      H.assert_close(run(scalar(v)), want)
    end
    -- exclusive: -3 satisfies both preds
    H.assert_error("InvalidArgument", "exclusive=true but 2 predicates are true", function()
      c(scalar(-3), { exclusive = true, default = function() return scalar(0) end })
    end)
    local run_x = traced(function(x) return c(x, { exclusive = true, default = function() return x end }) end,
      { { tf.float32, {} } })
    H.assert_close(run_x(scalar(4)), 8)
    H.assert_error("InvalidArgument", "exclusive=true but more than one predicate is true", function()
      run_x(scalar(-3))
    end)
    -- no default and no true pred
    H.assert_error("InvalidArgument", "none of the predicates is true and no default", function() c(scalar(50)) end)
    local run_n = traced(function(x) return c(x) end, { { tf.float32, {} } })
    H.assert_close(run_n(scalar(4)), 8)
    H.assert_error("InvalidArgument", "none of the predicates is true and no default", function() run_n(scalar(50)) end)
    H.assert_error("InvalidArgument", "pred_fn_pairs[1] must be a {pred, fn} pair", function() tf.case({ 1 }) end)
  end)
end)

describe("tf.while_loop", function()
  it("counts and accumulates, eagerly and traced, with a trip count from a tensor value", function()
    local function f(n)
      return tf.while_loop(function(i) return tf.less(i, n) end,
        function(i, s) return i + 1, s + tf.cast(i, tf.float32) end,
        { tf.constant(0, tf.int32), tf.constant(0.0) })
    end
    local run, g = traced(function(n)
      local r = f(n)
      return r[1], r[2]
    end, { { tf.int32, {} } })
    assert.equal(1, kinds(g)["while"])
    for _, n in ipairs({ 0, 1, 5, 100 }) do
      local r = f(tf.constant(n, tf.int32))
      local i, s = run(tf.constant(n, tf.int32))
      H.assert_close(i, n)
      H.assert_close(r[1], n)
      H.assert_close(s, n * (n - 1) / 2)
      H.assert_close(r[2], n * (n - 1) / 2)
    end
  end)

  it("stops at maximum_iterations (a number or a tensor)", function()
    local function f(max)
      return tf.while_loop(function(i) return tf.less(i, 100) end, function(i) return i + 1 end,
        { tf.constant(0, tf.int32) }, { maximum_iterations = max })
    end
    H.assert_close(f(7)[1], 7)
    local run = traced(function() return f(7)[1] end, {})
    H.assert_close(run(), 7)
    local run_t = traced(function(m) return f(m)[1] end, { { tf.int32, {} } })
    H.assert_close(run_t(tf.constant(3, tf.int32)), 3)
    H.assert_close(run_t(tf.constant(500, tf.int32)), 100)
    H.assert_close(f(tf.constant(4, tf.int32))[1], 4)
    H.assert_error("InvalidArgument", "maximum_iterations must be >= 0", function() f(-1) end)
    H.assert_error("InvalidArgument", "parallel_iterations must be a positive integer", function()
      tf.while_loop(function() return false end, function(a) return a end, { 1 }, { parallel_iterations = 0 })
    end)
    -- back_prop=false: no gradient through the loop
    local x = tf.constant(2.0)
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = tf.while_loop(function(i) return tf.less(i, 2) end, function(i, a) return i + 1, a * x end,
      { tf.constant(0), x }, { back_prop = false, parallel_iterations = 4 })[2]
    H.assert_close(y, 8)
    assert.is_nil(tape:gradient(y, x))
  end)

  it("takes a single tensor, nested tables and captures", function()
    local v = tf.Variable(2.0)
    local function f(x)
      return tf.while_loop(function(s) return tf.less(s.total, 50) end,
        function(s) return { total = s.total * v + x, steps = { s.steps[1] + 1 } } end,
        { { total = x, steps = { tf.constant(0) } } })
    end
    local run = traced(function(x)
      local r = f(x)[1]
      return r.total, r.steps[1]
    end, { { tf.float32, {} } })
    local r = f(scalar(1))[1]
    local t, s = run(scalar(1))
    H.assert_close(t, r.total)
    H.assert_close(s, r.steps[1])
    H.assert_close(t, 63)
    -- a single tensor as loop_vars gives a single tensor back
    local one = tf.while_loop(function(x) return tf.less(x, 10) end, function(x) return x * 3 end, scalar(1))
    assert.is_true(tf.is_tensor(one))
    H.assert_close(one, 27)
  end)

  it("lets shapes change under shape_invariants", function()
    local function grow(n)
      return tf.while_loop(function(i) return tf.less(i, n) end,
        function(i, acc) return i + 1, tf.concat({ acc, tf.reshape(tf.cast(i, tf.float32), { 1 }) }, 0) end,
        { tf.constant(0), tf.zeros({ 0 }) }, { shape_invariants = { {}, { nil, n = 1 } } })
    end
    local run, g = traced(function(n) return grow(n)[2] end, { { tf.int32, {} } })
    assert.equal("float32[?]", g:info().outputs[1])
    H.assert_close(run(tf.constant(4)), { 0, 1, 2, 3 })
    H.assert_close(grow(tf.constant(3))[2], { 0, 1, 2 })
    -- a TensorShape works as an invariant; eagerly (as in TensorFlow) shapes may change without one
    local function double(x, inv)
      return tf.while_loop(function(a) return tf.less(tf.reduce_sum(a), 100) end,
        function(a) return tf.concat({ a, a }, 0) end, { x }, { shape_invariants = inv })[1]
    end
    local run_d = traced(function(x) return double(x, tf.TensorShape({ nil }, 1)) end, { { tf.float32, { 2 } } })
    H.assert_close(run_d(tf.constant({ 10.0, 20.0 })), { 10, 20, 10, 20, 10, 20, 10, 20 })
    assert.equal(8, double(tf.constant({ 10.0, 20.0 })).shape[0])
    H.assert_error("InvalidArgument", { "body changes the shape of loop_vars[2] from [0] to [1]", "shape_invariants" },
      function()
        traced(function(n)
          return tf.while_loop(function(i) return tf.less(i, n) end,
            function(i, acc) return i + 1, tf.concat({ acc, tf.zeros({ 1 }) }, 0) end,
            { tf.constant(0), tf.zeros({ 0 }) })[2]
        end, { { tf.int32, {} } })
      end)
  end)

  it("names the loop var a body changes", function()
    local function trace_body(body, vars)
      return function()
        traced(function(x) return tf.while_loop(function() return tf.less(x, 1) end, body, vars or { x, x })[1] end,
          { { tf.float32, {} } })
      end
    end
    H.assert_error("InvalidArgument", { "body must return the same structure", "loop_vars" },
      trace_body(function(a) return a end))
    H.assert_error("InvalidArgument", { "body changes the dtype of loop_vars[2] from float32 to int32" },
      trace_body(function(a) return a, tf.constant(1) end))
    H.assert_error("InvalidArgument", { "body must return the same structure" }, function()
      tf.while_loop(function(i) return tf.less(i, 3) end, function(i) return { i + 1 } end, { tf.constant(0) })
    end)
    H.assert_error("InvalidArgument", { "cond must return a boolean scalar" }, function()
      traced(function(x) return tf.while_loop(function(a) return a end, function(a) return a end, { x })[1] end,
        { { tf.float32, {} } })
    end)
    H.assert_error("InvalidArgument", { "unknown option", "maximum_iteration" }, function()
      tf.while_loop(function() return false end, function(a) return a end, { 1 }, { maximum_iteration = 3 })
    end)
  end)

  it("range_loop is the graph form of for i in tf.range(...)", function()
    local function f(n, x)
      return tf.range_loop(n, function(i, s, p) return s + tf.cast(i, tf.float32) * x, p * x end, scalar(0), scalar(1))
    end
    local s, p = f(4, scalar(2))
    H.assert_close(s, (0 + 1 + 2 + 3) * 2)
    H.assert_close(p, 16)
    local run = traced(function(n, x) return f(n, x) end, { { tf.int32, {} }, { tf.float32, {} } })
    local rs, rp = run(tf.constant(4), scalar(2))
    H.assert_close(rs, s)
    H.assert_close(rp, p)
    rs = run(tf.constant(0), scalar(2))
    H.assert_close(rs, 0)
    -- start, limit, delta (also negative)
    local function seq(r)
      return tf.range_loop(r, function(i, acc) return acc * 10 + tf.cast(i, tf.float32) end, scalar(0))
    end
    H.assert_close(seq({ 1, 7, 2 }), 135)
    H.assert_close(seq({ 5, 0, -2 }), 531)
    local run_s = traced(function() return seq({ 5, 0, -2 }) end, {})
    H.assert_close(run_s(), 531)
    H.assert_error("InvalidArgument", "must return the 1 state value(s)", function()
      tf.range_loop(3, function(i, a) return a, a end, scalar(0))
    end)
  end)
end)

describe("gradients through control flow", function()
  local function cond_fn(x, y)
    return tf.cond(tf.greater(tf.reduce_sum(x), 0), function() return tf.sin(x) * y end,
      function() return x * x + y end)
  end
  local function while_fn(x, y)
    local r = tf.while_loop(function(i) return tf.less(i, 3) end,
      function(i, a, b) return i + 1, a * x + b, tf.tanh(b * y) end,
      { tf.constant(0), tf.ones_like(x), y })
    return r[2] + r[3]
  end
  local inputs = {
    { tf.constant({ 0.3, -0.2, 0.5 }, f64), tf.constant({ 0.7, 1.1, -0.4 }, f64) },
    { tf.constant({ -0.3, -0.2, 0.1 }, f64), tf.constant({ 0.7, 1.1, -0.4 }, f64) },
  }

  it("match central differences eagerly", function()
    for _, ins in ipairs(inputs) do
      GC.assert_grad(cond_fn, ins)
      GC.assert_grad(while_fn, ins)
    end
  end)

  -- The tape inside the traced function (a training step's case): gradients
  -- come from the graph's vector-Jacobian-product nodes.
  local function traced_grads(fn)
    return traced(function(x, y)
      local tape = tf.GradientTape()
      tape:watch(x)
      tape:watch(y)
      local out = fn(x, y)
      local w = tf.constant({ 1.5, -0.5, 2.0 }, f64)
      local loss = tf.reduce_sum(out * w)
      local g = tape:gradient(loss, { x, y })
      return loss, g[1], g[2]
    end, { { f64, { 3 } }, { f64, { 3 } } })
  end

  it("match central differences inside a trace", function()
    for _, fn in ipairs({ cond_fn, while_fn }) do
      local run = traced_grads(fn)
      for _, ins in ipairs(inputs) do
        local loss, gx, gy = run(ins[1], ins[2])
        local w = tf.constant({ 1.5, -0.5, 2.0 }, f64)
        H.assert_close(loss, tf.reduce_sum(fn(ins[1], ins[2]) * w), 1e-12)
        -- gradcheck's loss weights each output element; ours is w: compare
        -- against differences of the same loss
        local f = function(x, y) return tf.reduce_sum(fn(x, y) * w) end
        check_scalar(f, ins, { gx, gy })
      end
    end
  end)

  it("reach variables read inside a traced loop, and a loop whose trip count is a tensor", function()
    local v = tf.Variable(tf.constant({ 0.5, -0.25 }, f64))
    local function f(x, n)
      local r = tf.while_loop(function(i) return tf.less(i, n) end,
        function(i, a) return i + 1, tf.sin(a * v) + x end, { tf.constant(0), x })
      return tf.reduce_sum(r[2])
    end
    local run = traced(function(x, n)
      local tape = tf.GradientTape()
      tape:watch(x)
      local loss = f(x, n)
      local g = tape:gradient(loss, { x, v })
      return g[1], g[2]
    end, { { f64, { 2 } }, { tf.int32, {} } })
    local x = tf.constant({ 0.9, 0.4 }, f64)
    for _, n in ipairs({ 1, 4 }) do
      local gx, gv = run(x, tf.constant(n))
      local tape = tf.GradientTape()
      tape:watch(x)
      local loss = f(x, tf.constant(n))
      local e = tape:gradient(loss, { x, v })
      H.assert_close(gx, e[1], 1e-10)
      H.assert_close(gv, e[2], 1e-10)
      check_scalar(function(xx) return f(xx, tf.constant(n)) end, { x }, { gx })
    end
  end)

  it("reach variables when only variables are differentiated (a training step)", function()
    local v = tf.Variable(3.0)
    local f = tf.trace(function(p)
      local tape = tf.GradientTape()
      local loss = tf.cond(p, function() return v * v end, function() return v * 3 end)
      local r = tf.while_loop(function(i) return tf.less(i, 2) end, function(i, a) return i + 1, a * v end,
        { tf.constant(0), tf.constant(1.0) })[2]
      return tape:gradient(loss + r, v)
    end)
    H.assert_close(f(tf.constant(true)), 2 * 3 + 2 * 3)
    H.assert_close(f(tf.constant(false)), 3 + 2 * 3)
  end)

  it("flow through nested control flow in a trace", function()
    local function fn(x, y)
      return tf.cond(tf.greater(tf.reduce_sum(y), 0), function()
        return tf.range_loop(2, function(_, a) return tf.cond(tf.greater(tf.reduce_sum(a), 0),
          function() return a * x end, function() return a - x end) end, y)
      end, function() return y * 3 end)
    end
    local run = traced_grads(fn)
    for _, ins in ipairs(inputs) do
      local _, gx, gy = run(ins[1], ins[2])
      local w = tf.constant({ 1.5, -0.5, 2.0 }, f64)
      check_scalar(function(x, y) return tf.reduce_sum(fn(x, y) * w) end, ins, { gx, gy })
    end
  end)

  it("reach a tape around a call of the traced graph", function()
    local run = traced(cond_fn, { { f64, { 3 } }, { f64, { 3 } } })
    local run_w = traced(while_fn, { { f64, { 3 } }, { f64, { 3 } } })
    for _, r in ipairs({ { run, cond_fn }, { run_w, while_fn } }) do
      for _, ins in ipairs(inputs) do
        local tape = tf.GradientTape()
        tape:watch(ins[1])
        tape:watch(ins[2])
        local out = r[1](ins[1], ins[2])
        local g = tape:gradient(tf.reduce_sum(out), { ins[1], ins[2] })
        check_scalar(function(x, y) return tf.reduce_sum(r[2](x, y)) end, ins, g)
      end
    end
  end)

  it("pass through branches that return their captures, and do not repeat unused state changes", function()
    local v = tf.Variable(0.0)
    local run = traced(function(x, y, p)
      local tape = tf.GradientTape()
      tape:watch(x)
      tape:watch(y)
      local o = tf.cond(p, function() v:assign_add(1.0) return x end, function() return y end)
      local g = tape:gradient(o * 2, { x, y }, { unconnected_gradients = "zero" })
      return o, g[1], g[2]
    end, { { f64, {} }, { f64, {} }, { tf.bool, {} } })
    local o, gx, gy = run(tf.constant(1.0, f64), tf.constant(2.0, f64), tf.constant(true))
    H.assert_close(o, 1)
    H.assert_close(gx, 2)
    H.assert_close(gy, 0)
    H.assert_close(v, 1) -- once: the gradient's recompute drops the assign
    o, gx, gy = run(tf.constant(1.0, f64), tf.constant(2.0, f64), tf.constant(false))
    H.assert_close(o, 2)
    H.assert_close(gx, 0)
    H.assert_close(gy, 2)
    H.assert_close(v, 1)
    -- a branch that reads what it assigns cannot be recomputed faithfully
    local w = tf.Variable(tf.constant(1.0, f64))
    H.assert_error("Unimplemented", { "gradient of tf.cond", "reads variable", "also assigns" }, function()
      traced(function(x, p)
        local tape = tf.GradientTape()
        tape:watch(x)
        local o2 = tf.cond(p, function() w:assign_add(1.0) return x * w end, function() return x end)
        return tape:gradient(o2, x)
      end, { { f64, {} }, { tf.bool, {} } })
    end)
  end)

  it("work with a tape used inside a loop body", function()
    local function f(x)
      return tf.while_loop(function(i) return tf.less(i, 3) end, function(i, a)
        local t = tf.GradientTape()
        t:watch(a)
        local l = tf.reduce_sum(a * a)
        return i + 1, a - 0.1 * t:gradient(l, a)
      end, { tf.constant(0), x })[2]
    end
    local run = traced(f, { { tf.float32, { 2 } } })
    H.assert_close(run(tf.constant({ 1.0, -2.0 })), f(tf.constant({ 1.0, -2.0 })))
    H.assert_close(run(tf.constant({ 1.0, -2.0 })), { 0.512, -1.024 })
  end)

  it("give second derivatives inside a trace (nested tapes)", function()
    local function second(fn)
      return traced(function(x, n)
        local outer = tf.GradientTape()
        outer:watch(x)
        local inner = tf.GradientTape()
        inner:watch(x)
        local g = inner:gradient(fn(x, n), x)
        return g, outer:gradient(g, x)
      end, { { f64, {} }, { tf.int32, {} } })
    end
    local run_c = second(function(x)
      return tf.cond(tf.greater(x, 0), function() return x * x * x end, function() return x * x end)
    end)
    local g, h = run_c(tf.constant(2.0, f64), tf.constant(0))
    H.assert_close(g, 12)
    H.assert_close(h, 12)
    g, h = run_c(tf.constant(-2.0, f64), tf.constant(0))
    H.assert_close(g, -4)
    H.assert_close(h, 2)
    local run_w = second(function(x, n)
      return tf.while_loop(function(i) return tf.less(i, n) end, function(i, a) return i + 1, a * x end,
        { tf.constant(0), tf.constant(1.0, f64) })[2]
    end)
    g, h = run_w(tf.constant(2.0, f64), tf.constant(4)) -- x^4
    H.assert_close(g, 32)
    H.assert_close(h, 48)
  end)

  it("refuse to recompute a loop that draws random numbers", function()
    H.assert_error("Unimplemented", { "gradient of tf.while_loop", "random_uniform", "running it again" }, function()
      traced(function(x)
        local tape = tf.GradientTape()
        tape:watch(x)
        local r = tf.while_loop(function(i) return tf.less(i, 2) end,
          function(i, a) return i + 1, a * tf.random.uniform({}, 0, 1, f64) end, { tf.constant(0), x })
        return tape:gradient(r[2], x)
      end, { { f64, {} } })
    end)
    assert.is_false(G.in_trace())
  end)
end)

describe("graphs with control flow", function()
  it("run inside another trace (the node is traced again)", function()
    local inner = traced(function(x)
      return tf.while_loop(function(a) return tf.less(tf.reduce_sum(a), 100) end, function(a) return a * 2 end, { x })[1]
    end, { { tf.float32, { 2 } } })
    local outer, g = traced(function(x) return inner(x) + 1 end, { { tf.float32, { 2 } } })
    assert.equal(1, kinds(g)["while"])
    H.assert_close(outer(tf.constant({ 1.0, 2.0 })), { 65, 129 })
  end)
end)

describe("control flow in tf.trace", function()
  local function make_step(w)
    return function(x, n)
      local tape = tf.GradientTape()
      local y = tf.while_loop(function(i) return tf.less(i, n) end,
        function(i, a) return i + 1, tf.tanh(a * w) end, { tf.constant(0), x })[2]
      local loss = tf.cond(tf.greater(n, 2), function() return tf.reduce_sum(y * y) end,
        function() return tf.reduce_sum(tf.abs(y)) end)
      local g = tape:gradient(loss, { w })
      w:assign_sub(g[1] * 0.1)
      return loss
    end
  end

  it("a training step with a loop and a cond is one graph, equal to the eager step", function()
    local w1 = tf.Variable(tf.constant({ 0.5, -0.3 }, f64))
    local w2 = tf.Variable(tf.constant({ 0.5, -0.3 }, f64))
    local step = tf.trace(make_step(w1))
    local eager = make_step(w2)
    local x = tf.constant({ 1.0, 2.0 }, f64)
    for k = 1, 4 do
      local n = tf.constant(k)
      H.assert_close(step(x, n), eager(x, n), 1e-12)
      H.assert_close(w1, w2, 1e-12)
    end
    assert.equal(1, step:experimental_get_tracing_count())
  end)

  it("a tape around a call of a traced function differentiates its loop", function()
    local f = tf.trace(function(x, n)
      return tf.while_loop(function(i) return tf.less(i, n) end, function(i, a) return i + 1, tf.sin(a) * x end,
        { tf.constant(0), x })[2]
    end)
    local x = tf.constant({ 0.3, -0.7 }, f64)
    for _, n in ipairs({ 0, 3 }) do
      local tape = tf.GradientTape()
      tape:watch(x)
      local y = f(x, tf.constant(n))
      local g = tape:gradient(tf.reduce_sum(y), x)
      check_scalar(function(xx) return tf.reduce_sum(f(xx, tf.constant(n))) end, { x }, { g })
    end
  end)

  it("a Keras training step with a cond on the loss equals the eager step", function()
    local keras = tf.keras
    local function make()
      tf.random.set_seed(1)
      local m = keras.Sequential({ keras.layers.Dense(4, { activation = "tanh" }), keras.layers.Dense(1) })
      m:build({ nil, 3 })
      return m, keras.optimizers.SGD({ learning_rate = 0.3 })
    end
    local function step_fn(m, opt)
      return function(x, y)
        local tape = tf.GradientTape()
        local loss = tf.reduce_mean(tf.square(m(x) - y))
        loss = tf.cond(tf.greater(loss, 1.0), function() return tf.sqrt(loss) end, function() return loss end)
        opt:apply_gradients(tape:gradient(loss, m.trainable_variables), m.trainable_variables)
        return loss
      end
    end
    local m1, o1 = make()
    local m2, o2 = make()
    local traced_step, eager_step = tf.trace(step_fn(m1, o1)), step_fn(m2, o2)
    local x = tf.constant({ { 1.0, 2.0, 3.0 }, { -1.0, 0.5, 2.0 } })
    local y = tf.constant({ { 2.0 }, { -0.2 } })
    local below = false
    for _ = 1, 12 do
      local a = traced_step(x, y)
      H.assert_close(a, eager_step(x, y), 1e-5)
      below = below or a:item() < 1
    end
    assert.is_true(below) -- both branches ran
    for i, v in ipairs(m1.trainable_variables) do H.assert_close(v, m2.trainable_variables[i], 1e-5) end
    assert.equal(1, traced_step:experimental_get_tracing_count())
  end)

  it("traced functions with control flow call each other", function()
    local inner = tf.trace(function(x)
      return tf.cond(tf.greater(tf.reduce_sum(x), 0), function() return x * 2 end, function() return -x end)
    end)
    local outer = tf.trace(function(x) return inner(x) + 1 end)
    H.assert_close(outer(tf.constant({ 1.0, 2.0 })), { 3, 5 })
    H.assert_close(outer(tf.constant({ -1.0, -2.0 })), { 2, 3 })
  end)
end)

describe("control flow on the test device", function()
  it("runs and differentiates there as on the CPU", function()
    local function step(x, n)
      local tape = tf.GradientTape()
      tape:watch(x)
      local y = tf.while_loop(function(i) return tf.less(i, n) end,
        function(i, a) return i + 1, tf.sin(a) * x end, { tf.constant(0), x })[2]
      local z = tf.cond(tf.greater(tf.reduce_sum(y), 0), function() return y * 2 end, function() return y end)
      return z, tape:gradient(tf.reduce_sum(z), x)
    end
    local zc, gc = step(tf.constant({ 0.3, 0.8 }, f64), tf.constant(3))
    local d <close> = tf.device("TEST:0")
    local f = tf.trace(step)
    local x = tf.constant({ 0.3, 0.8 }, f64)
    local z, g = f(x, tf.constant(3))
    assert.truthy(z.device:find("TEST"))
    assert.truthy(g.device:find("TEST"))
    H.assert_close(z, zc, 1e-12)
    H.assert_close(g, gc, 1e-12)
  end)
end)
