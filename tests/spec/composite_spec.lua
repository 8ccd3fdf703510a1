-- Composite values (stdlib/tlua/composite.lua): a value made of component
-- tensors goes into and out of tf.trace, tf.cond and tf.while_loop as its
-- components, and comes back as a value of its type. A toy type (Pair: a
-- dynamic-length vector `a` and a fixed tensor `b`) stands for
-- SparseTensor, RaggedTensor and TensorArray here.
local tf = require("tlua")
local composite = require("tlua.composite")

local Pair = { __name = "Pair" }
Pair.__index = Pair
local function pair(a, b) return setmetatable({ a = a, b = b }, Pair) end
composite.register(Pair, {
  name = "Pair",
  flatten = function(p) return { p.a, p.b }, p.a.dtype.name end,
  unflatten = function(spec, c)
    assert(c[1].dtype.name == spec, "spec text comes back to unflatten")
    return pair(c[1], c[2])
  end,
  dynamic = function(_, i) if i == 1 then return { 0 } end end,
})

local function close(t, want) assert.are.same(want, t:totable()) end

describe("composite values", function()
  it("go into and out of a traced function, rebuilt as their type", function()
    local traces = 0
    local f = tf.trace(function(p, k)
      traces = traces + 1
      return pair(p.a * k, p.b + 1), tf.reduce_sum(p.a)
    end)
    local r, s = f(pair(tf.constant({ 1, 2, 3 }), tf.constant({ 10 })), 2)
    assert.are.equal(Pair, getmetatable(r))
    close(r.a, { 2, 4, 6 })
    close(r.b, { 11 })
    assert.are.equal(6, s:item())
    -- a dynamic dimension of a component: no retrace for a new length
    r = f(pair(tf.constant({ 1, 2, 3, 4, 5 }), tf.constant({ 0 })), 2)
    close(r.a, { 2, 4, 6, 8, 10 })
    assert.are.equal(1, traces)
    -- a static one retraces
    f(pair(tf.constant({ 1 }), tf.constant({ 0, 1 })), 2)
    assert.are.equal(2, traces)
    -- the spec text (here the dtype) is part of the key
    f(pair(tf.constant({ 1 }, tf.float64), tf.constant({ 0, 1 })), 2)
    assert.are.equal(3, traces)
  end)

  it("pass through tf.cond in a traced function", function()
    local f = tf.trace(function(x, p)
      return tf.cond(tf.greater(x, 0), function() return pair(p.a + 1, p.b) end, function() return pair(p.a - 1, p.b) end)
    end)
    local p = pair(tf.constant({ 1, 2 }), tf.constant(5))
    close(f(tf.constant(1), p).a, { 2, 3 })
    close(f(tf.constant(-1), p).a, { 0, 1 })
  end)

  it("are tf.while_loop variables, eagerly and traced, their dynamic dimensions free to change", function()
    local function run(n)
      return tf.while_loop(function(i) return tf.less(i, n) end,
        function(i, p) return i + 1, pair(tf.concat({ p.a, tf.reshape(tf.cast(i, tf.float32), { 1 }) }, 0), p.b * 2) end,
        { tf.constant(0), pair(tf.constant({ 9 }, tf.float32), tf.constant(1)) })
    end
    local r = run(3)
    local i, p = r[1], r[2]
    assert.are.equal(3, i:item())
    close(p.a, { 9, 0, 1, 2 })
    close(p.b, 8)
    local g = tf.trace(function(n) return run(n)[2] end)
    local q = g(tf.constant(4))
    assert.are.equal(Pair, getmetatable(q))
    close(q.a, { 9, 0, 1, 2, 3 })
    close(q.b, 16)
  end)

  it("must keep their spec text through a loop body", function()
    assert.has_error(function()
      tf.while_loop(function(i) return tf.less(i, 2) end,
        function(i, p) return i + 1, pair(tf.cast(p.a, tf.float64), p.b) end,
        { tf.constant(0), pair(tf.constant({ 1 }), tf.constant(1)) })
    end)
  end)
end)
