-- tf.print (the print_v2 op) and tf.lua_function (the lua_function op):
-- formatting, options, streams, running on every graph call, results,
-- errors (stdlib/tlua/hostcalls.lua, src/ops/print.c, src/ops/callback.c,
-- lua/hostcall_binding.c).
local tf = require("tlua")

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local function slurp(path)
  local fh = io.open(path, "r")
  if not fh then return nil end
  local s = fh:read("a")
  fh:close()
  os.remove(path)
  return s
end

-- What tf.print(...) writes (to a file stream).
local function printed(...)
  local path = tmpname()
  local args = table.pack(...)
  local opts = args[args.n]
  if type(opts) == "table" and getmetatable(opts) == nil and (opts.sep or opts["end"] or opts.summarize) then
    opts.output_stream = "file://" .. path
  else
    args.n = args.n + 1
    args[args.n] = { output_stream = "file://" .. path }
  end
  tf.print(table.unpack(args, 1, args.n))
  return slurp(path)
end

local function expect_error(kind, pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  assert.is_true(tf.errors.is(err, kind), "expected " .. kind .. ", got " .. tostring(err))
  if pattern then
    assert.is_truthy(tostring(err):find(pattern, 1, true), ("message %q lacks %q"):format(tostring(err), pattern))
  end
end

describe("tf.print", function()
  before_each(function() tf.config.set_trace_logging(false) end)
  after_each(function() tf.config.set_trace_logging(true) end)

  it("prints values without the tf.Tensor wrapper, Lua values as text, sep and end", function()
    assert.are.equal("[1 2 3]\n", printed(tf.constant({ 1, 2, 3 })))
    assert.are.equal("loss: 2.5 step 3\n", printed("loss:", tf.constant(2.5), "step", 3))
    assert.are.equal("[[1 2]\n [3 4]]\n", printed(tf.constant({ { 1, 2 }, { 3, 4 } })))
    assert.are.equal("a,[ true false],true|", printed("a", tf.constant({ true, false }), true, { sep = ",", ["end"] = "|" }))
    assert.are.equal("{braces} [1, x] {k: 2}\n", printed("{braces}", { tf.constant(1), "x" }, { k = tf.constant(2) }))
    local v = tf.Variable({ 1.5, 2.0 })
    assert.are.equal("[1.5 2. ]\n", printed(v))
    assert.are.equal("\n", printed())
  end)

  it("summarizes each dimension to its first and last `summarize` items", function()
    assert.are.equal("[0 1 2 ... 7 8 9]\n", printed(tf.range(10)))
    assert.are.equal("[0 ... 9]\n", printed(tf.range(10), { summarize = 1 }))
    assert.are.equal("[0 1 2 3 4 5 6 7 8 9]\n", printed(tf.range(10), { summarize = -1 }))
    assert.are.equal("[0 1 2 3 4 5]\n", printed(tf.range(6)))
  end)

  it("runs on every call of a traced function (Lua print at trace time only)", function()
    local path = tmpname()
    local traces = 0
    local f = tf.trace(function(x)
      traces = traces + 1
      tf.print("x =", x, { output_stream = "file://" .. path })
      return x + 1
    end)
    for i = 1, 3 do f(tf.constant(i)) end
    assert.are.equal(1, traces)
    assert.are.equal("x = 1\nx = 2\nx = 3\n", slurp(path))
  end)

  it("checks its options", function()
    expect_error("InvalidArgument", "output_stream must be", tf.print, "x", { output_stream = 5 })
    expect_error("InvalidArgument", "output_stream must be", tf.print, "x", { output_stream = "nowhere" })
    expect_error("InvalidArgument", "summarize must be an integer", tf.print, "x", { summarize = 1.5 })
    expect_error("InvalidArgument", "summarize must be -1", tf.print, "x", { summarize = -2 })
    expect_error("InvalidArgument", "sep must be a string", tf.print, "x", { sep = 1 })
    expect_error("InvalidArgument", "end must be a string", tf.print, "x", { ["end"] = false })
    expect_error("NotFound", "cannot open", tf.print, "x", { output_stream = "file:///nonexistent/dir/f.txt" })
  end)

  it("the op checks its template against its inputs", function()
    expect_error("InvalidArgument", "template has 1 '{}' for 0 inputs", tf.core.ops.print_v2, {}, "{}")
    expect_error("InvalidArgument", "a lone '{'", tf.core.ops.print_v2, {}, "{")
  end)
end)

describe("tf.lua_function", function()
  before_each(function() tf.config.set_trace_logging(false) end)
  after_each(function() tf.config.set_trace_logging(true) end)

  it("calls Lua on the inputs eagerly, with results of the declared dtype", function()
    local y = tf.lua_function(function(x) return x * 2 end, { tf.constant({ 1.0, 2.0 }) }, tf.float32)
    assert.are.same({ 2.0, 4.0 }, y:totable())
    local n = tf.lua_function(function() return 7 end, {}, tf.int64) -- a Lua number made an int64 tensor
    assert.are.equal(tf.int64, n.dtype)
    assert.are.equal(7, n:item())
    assert.are.equal(0, tf.core.hostcall.count()) -- eager calls leave nothing registered
  end)

  it("runs on every call of a traced function, with several results and TensorSpec shapes", function()
    local calls = { n = 0 }
    local f = tf.trace(function(x)
      local a, b = tf.lua_function(function(v)
        calls.n = calls.n + 1
        return v + 1, { 1, 2, 3 }
      end, { x }, { tf.TensorSpec(tf.TensorShape({}, 1), tf.float32), tf.int32 })
      return a * 10, b
    end)
    local a1, b1 = f(tf.constant({ 1.0 }))
    local a2 = f(tf.constant({ 5.0 }))
    assert.are.same({ 20.0 }, a1:totable())
    assert.are.same({ 60.0 }, a2:totable())
    assert.are.same({ 1, 2, 3 }, b1:totable())
    assert.are.equal(2, calls.n)
    assert.are.equal(1, #f:signatures())
    local ops = {}
    for _, node in ipairs(f:graph(tf.constant({ 1.0 })):nodes()) do if node.op then ops[#ops + 1] = node.op end end
    assert.are.same({ "lua_function", "multiply" }, ops)
  end)

  it("callbacks may run traced functions (their ops are user ops) and graphs may run inside coroutines", function()
    local inner = tf.trace(function(x) return tf.lua_function(function(v) return v + 100 end, { x }, tf.float32) end)
    local f = tf.trace(function(x) return tf.lua_function(function(v) return inner(v) * 2 end, { x }, tf.float32) end)
    local co = coroutine.wrap(function()
      coroutine.yield(f(tf.constant(1.0)):item())
      return f(tf.constant(2.0)):item()
    end)
    assert.are.equal(202.0, co())
    assert.are.equal(204.0, co())
    assert.are.equal(1, #inner:signatures())
    local ok, err = coroutine.wrap(function()
      return pcall(tf.lua_function, function() coroutine.yield(1) end, {}, tf.float32)
    end)()
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("yield across", 1, true))
  end)

  it("has no gradient: a tape treats its results as constants", function()
    local x = tf.Variable(3.0)
    local tape = tf.GradientTape()
    local z = tf.lua_function(function(v) return v * v end, { x }, tf.float32) * x
    assert.are.equal(27.0, z:item())
    assert.are.equal(9.0, tape:gradient(z, x):item())
  end)

  it("reports results that do not fit Tout and errors raised by the function", function()
    local lf = tf.lua_function
    local registered = tf.core.hostcall.count()
    expect_error("InvalidArgument", "result 1 is int32[], declared float32", lf, function() return tf.constant(1) end, {}, tf.float32)
    expect_error("InvalidArgument", "dimension 0 should be 3", lf, function() return tf.constant({ 1.0, 2.0 }) end, {},
      tf.TensorSpec({ 3 }, tf.float32))
    expect_error("InvalidArgument", "declared rank 1", lf, function() return tf.constant(1.0) end, {}, tf.TensorSpec({ 3 }, tf.float32))
    expect_error("InvalidArgument", "fn returned 2 values, Tout declares 1", lf, function() return 1, 2 end, {}, tf.float32)
    expect_error("Internal", "boom", lf, function() error("boom") end, {}, tf.float32)
    expect_error("OutOfRange", "custom", lf, function() tf.core.raise("OutOfRange", "custom") end, {}, tf.float32)
    expect_error("InvalidArgument", "fn must be a function", lf, 5, {}, tf.float32)
    expect_error("InvalidArgument", "Tout[1] must be a dtype", lf, function() end, {}, { 5 })
    expect_error("InvalidArgument", "inputs must be a list", lf, function() end, "x", tf.float32)
    expect_error("InvalidArgument", "too many arguments", lf, function() end, {}, tf.float32, 1)
    expect_error("NotFound", "no Lua function is registered as callback", tf.core.ops.lua_function, {}, 123456, { 0 }, { 0 })
    assert.are.equal(registered, tf.core.hostcall.count()) -- failed eager calls unregister too
  end)
end)
