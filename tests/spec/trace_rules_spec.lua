-- The seed's "rules for TF Functions" (its list of eight, translated to Lua
-- and tf.trace), one describe block per rule: what tracing captures, when
-- Lua side effects happen, calls, variable creation and assignment, source
-- availability, loops, vectorisation.
local tf = require("tlua")

local function expect_error(kind, pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  assert.is_true(tf.errors.is(err, kind), "expected " .. kind .. ", got " .. tostring(err))
  if pattern then
    assert.is_truthy(tostring(err):find(pattern, 1, true), ("message %q lacks %q"):format(tostring(err), pattern))
  end
  return err
end

-- Graphs as traced, before optimization (common-subexpression elimination,
-- simplification and fusion would merge or fuse the nodes the rules count).
local RAW = { optimize = false }

-- The op names of a traced graph, in order (constants and arguments left out).
local function op_names(f, ...)
  local out = {}
  for _, n in ipairs(f:graph(...):nodes()) do
    if n.kind == "op" then out[#out + 1] = n.op end
  end
  return out
end

local function count(list, name)
  local n = 0
  for _, v in ipairs(list) do if v == name then n = n + 1 end end
  return n
end

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local function read_lines(path)
  local lines = {}
  local fh = io.open(path, "r")
  if not fh then return lines end
  for l in fh:lines() do lines[#lines + 1] = l end
  fh:close()
  return lines
end

describe("rules for traced functions", function()
  before_each(function() tf.config.set_trace_logging(false) end)
  after_each(function()
    tf.config.set_trace_logging(true)
    tf.config.run_functions_eagerly(false)
  end)

  describe("1. tf ops become the graph; Lua library code runs at trace time only", function()
    it("records tf ops as nodes and freezes what Lua computed while tracing", function()
      local f = tf.trace(function(x)
        local sorted = { 3, 1, 2 }
        table.sort(sorted)                                  -- Lua library code: trace time only
        local k = tonumber(string.format("%d", sorted[2])) -- 2
        return tf.reduce_sum(tf.sort(x)) * k + math.max(sorted[1], sorted[3])
      end, RAW)
      local x = tf.constant({ 3.0, 1.0, 2.0 })
      assert.are.equal(15.0, f(x):item())
      assert.are.equal(41.0, f(tf.constant({ 10.0, 4.0, 5.0 })):item())
      local ops = op_names(f, x)
      assert.are.same({ "sort", "reduce_sum", "multiply", "add" }, { ops[1], ops[2], ops[3], ops[4] })
      assert.are.equal(4, #ops) -- nothing for table.sort, string.format, math.max
    end)

    it("a Lua random number is drawn once, while tracing; tf.random draws on every call", function()
      local f = tf.trace(function(x)
        return x + math.random(), tf.random.uniform({})
      end)
      local x = tf.constant(0.0)
      local a1, r1 = f(x)
      local a2, r2 = f(x)
      assert.are.equal(a1:item(), a2:item())
      assert.are_not.equal(r1:item(), r2:item())
    end)
  end)

  describe("2. Lua side effects happen while tracing only; tf.print on every call", function()
    it("counters, table writes and Lua print run once; tf.print prints every call", function()
      local counter, log, printed = 0, {}, 0
      local real_print = print
      local path = tmpname()
      local f = tf.trace(function(x)
        counter = counter + 1
        log[#log + 1] = "traced"
        printed = printed + 1
        tf.print("x:", x, { output_stream = "file://" .. path })
        return x * 2
      end)
      assert.are.equal(real_print, print)
      for i = 1, 3 do f(tf.constant(i)) end
      assert.are.equal(1, counter)
      assert.are.same({ "traced" }, log)
      assert.are.equal(1, printed)
      assert.are.same({ "x: 1", "x: 2", "x: 3" }, read_lines(path))
      os.remove(path)
    end)

    it("tf.print stays in the graph although nothing uses it (stateful, kept by DCE)", function()
      local path = tmpname()
      local f = tf.trace(function(x)
        tf.print(x * 10, { output_stream = "file://" .. path })
        return x
      end)
      local x = tf.constant({ 1, 2 })
      f(x)
      f(x)
      assert.are.same({ "[10 20]", "[10 20]" }, read_lines(path))
      local ops = op_names(f, x)
      assert.are.equal(1, count(ops, "print_v2"))
      os.remove(path)
    end)
  end)

  describe("3. calling other Lua functions and traced functions", function()
    it("inlines plain Lua helpers and other traced functions into one graph", function()
      local function helper(x) return tf.square(x) + 1 end
      local inner = tf.trace(function(x) return helper(x) * 3 end)
      local outer = tf.trace(function(x) return inner(x) - helper(x) end, RAW)
      local x = tf.constant({ 1.0, 2.0 })
      local got = outer(x):totable()
      assert.are.same({ 4.0, 10.0 }, got) -- 3(x^2+1) - (x^2+1)
      assert.are.equal(0, #inner:signatures()) -- inlined, not traced on its own
      for _, n in ipairs(outer:graph(x):nodes()) do assert.are_not.equal("call", n.kind) end
      assert.are.equal(2, count(op_names(outer, x), "square"))
    end)
  end)

  describe("4. variables are created on the first call only", function()
    it("allows creation on the first trace and names the function on a later one", function()
      local v
      local f = tf.trace(function(x)
        if not v then v = tf.Variable(0.0) end -- guarded: once
        v:assign_add(tf.reduce_sum(x))
        return v:value()
      end, { name = "accumulate" })
      f(tf.constant({ 1.0, 2.0 }))
      f(tf.constant({ 1.0, 2.0 }))
      assert.are.equal(6.0, v:value():item())
      f(tf.constant({ 1.0, 2.0, 3.0 })) -- a retrace: the guard keeps the variable
      assert.are.equal(12.0, v:value():item())
      local g = tf.trace(function(x)
        local w = tf.Variable(x) -- unguarded: every trace makes one
        return w:value()
      end, { name = "make_var" })
      local ok = pcall(g, tf.constant(1.0))
      assert.is_false(ok) -- its initial value is traced: no value to give it
      local h = tf.trace(function(x)
        local w = tf.Variable(tf.init_scope(function() return tf.ones({}) end))
        return w:value() + x
      end, { name = "make_var" })
      assert.are.equal(2.0, h(tf.constant(1.0)):item())
      expect_error("FailedPrecondition", "make_var created a tf.Variable on a call other than its first",
        h, tf.constant({ 1.0, 2.0 }))
    end)
  end)

  describe("5. assign to variables with :assign, not with Lua =", function()
    it(":assign runs on every call; rebinding a Lua name happens once and leaves the variable alone", function()
      local v = tf.Variable(0.0)
      local f = tf.trace(function() v:assign_add(1.0) return v:value() end)
      for _ = 1, 3 do f() end
      assert.are.equal(3.0, v:value():item())
      local w = tf.Variable(0.0)
      local name = w
      local g = tf.trace(function()
        name = name + 1 -- rebinds the Lua upvalue to a traced tensor; w is never written
        return name
      end)
      assert.are.equal(1.0, g():item())
      assert.are.equal(1.0, g():item()) -- the graph reads w (0) and adds 1: no accumulation
      assert.are.equal(0.0, w:value():item())
      assert.is_true(tf.is_symbolic_tensor(name)) -- the rebinding left a traced value behind
      expect_error("FailedPrecondition", nil, function() return name:item() end)
    end)
  end)

  describe("6. source availability", function()
    it("traces functions made by load() and stripped binary chunks (tracing is not source based)", function()
      local from_text = load("local tf = ... return function(x) return tf.nn.relu(x) * 2 end")(tf)
      local f = tf.trace(from_text)
      assert.are.same({ 0.0, 4.0 }, f(tf.constant({ -1.0, 2.0 })):totable())
      local function src(x) return x * x + 1 end
      local stripped = load(string.dump(src, true), "=stripped", "b")
      local g = tf.trace(stripped, RAW)
      assert.are.same({ 5.0, 10.0 }, g(tf.constant({ 2.0, 3.0 })):totable())
      assert.are.same({ "multiply", "add" }, op_names(g, tf.constant({ 2.0, 3.0 })))
    end)
  end)

  describe("7. loops", function()
    it("a Lua for loop over Lua numbers unrolls at trace time", function()
      local function unrolled(n)
        return tf.trace(function(x)
          for _ = 1, n do x = x * 2 end
          return x
        end, RAW)
      end
      local x = tf.constant(1.0)
      assert.are.equal(8.0, unrolled(3)(x):item())
      assert.are.equal(3, count(op_names(unrolled(3), x), "multiply"))
      assert.are.equal(10, count(op_names(unrolled(10), x), "multiply"))
    end)

    it("tf.while_loop / tf.range_loop become graph control flow", function()
      if not tf.while_loop or not tf.range_loop then
        pending("tf.while_loop / tf.range_loop (stdlib/tlua/control.lua, helper 'control') have not landed yet")
        return
      end
      local f = tf.trace(function(x, n)
        return tf.range_loop(n, function(_, acc) return acc * 2 end, x)
      end)
      local x = tf.constant(1.0)
      assert.are.equal(8.0, f(x, tf.constant(3)):item())
      assert.are.equal(32.0, f(x, tf.constant(5)):item()) -- same graph, another count
      assert.are.equal(1, #f:signatures())
      local kinds = {}
      for _, n in ipairs(f:graph(x, tf.constant(3)):nodes()) do kinds[n.kind] = (kinds[n.kind] or 0) + 1 end
      assert.are.equal(1, kinds.while_loop or kinds["while"])
      assert.are.equal(0, count(op_names(f, x, tf.constant(3)), "multiply")) -- the body is in the loop node
      local w = tf.trace(function(v)
        return tf.while_loop(function(a) return tf.less(a, 100.0) end, function(a) return a * 3 end, v)
      end)
      assert.are.equal(243.0, w(tf.constant(1.0)):item())
      assert.are.equal(108.0, w(tf.constant(4.0)):item())
      assert.are.equal(1, #w:signatures())
    end)
  end)

  describe("8. vectorised code", function()
    it("a vectorised step is a few nodes; the same computed by a Lua loop over elements is many", function()
      local vec = tf.trace(function(x) return tf.reduce_sum(x * x) end, RAW)
      local loop = tf.trace(function(x)
        local total = tf.constant(0.0)
        for i = 0, x.shape[0] - 1 do total = total + x[i] * x[i] end
        return total
      end, RAW)
      local x = tf.range(16.0)
      assert.are.equal(vec(x):item(), loop(x):item())
      local nv, nl = #op_names(vec, x), #op_names(loop, x)
      assert.are.equal(2, nv)
      assert.is_true(nl >= 16 * 3, "loop nodes " .. nl)
    end)
  end)
end)
