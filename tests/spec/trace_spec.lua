-- tf.trace: signatures, retracing, captures, symbolic values, variables,
-- tapes, nesting, errors, inspection (stdlib/tlua/trace.lua, src/graph/).
local tf = require("tlua")
local H = require("helpers")

local function close(a, b, tol)
  local d = tf.reduce_max(tf.abs(tf.cast(a, tf.float64) - tf.cast(b, tf.float64))):item()
  assert.is_true(d <= (tol or 1e-5), "max difference " .. d)
end

local function capture_log()
  local lines = {}
  tf.config.set_trace_logging(function(msg) lines[#lines + 1] = msg end)
  return lines
end

local function expect_error(kind, pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  assert.is_true(tf.errors.is(err, kind), "expected " .. kind .. ", got " .. tostring(err))
  if pattern then
    assert.is_truthy(tostring(err):find(pattern), ("message %q lacks %q"):format(tostring(err), pattern))
  end
  return err
end

describe("tf.trace", function()
  after_each(function()
    tf.config.set_trace_logging(true)
    tf.config.run_functions_eagerly(false)
  end)

  it("traces on the first call and runs the graph afterwards", function()
    local calls = 0
    local w = tf.Variable(tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 } }))
    local f = tf.trace(function(x)
      calls = calls + 1 -- a Lua side effect: at trace time only
      return tf.nn.relu(tf.matmul(x, w) - 5)
    end)
    local x = tf.constant({ { 1.0, 1.0 }, { 2.0, -1.0 } })
    local want = tf.nn.relu(tf.matmul(x, w) - 5)
    for _ = 1, 3 do close(f(x), want) end
    assert.equals(1, calls)
    assert.equals(1, f:experimental_get_tracing_count())
    assert.equals("tf.trace", tostring(f):match("^tf.Function") and "tf.trace")
    assert.equals(tf.trace, trace or tf.trace) -- the global exists under tlua
  end)

  it("traces callable objects and C functions", function()
    local obj = setmetatable({ k = 3 }, { __call = function(self, x) return x * self.k end })
    local f = tf.trace(obj)
    close(f(tf.constant(2.0)), tf.constant(6.0))
    close(f(tf.constant(2.0)), tf.constant(6.0))
    assert.equals(1, f:experimental_get_tracing_count())
    assert.same({}, f:captures())
    local g = tf.trace(tf.exp) -- an op function (a C closure)
    close(g(tf.constant(0.0)), tf.constant(1.0))
  end)

  it("is also tf['function'] and returns an already traced function as is", function()
    local f = tf["function"](function(x) return x + 1 end)
    assert.equals(f, tf.trace(f))
    close(f(tf.constant(1.0)), tf.constant(2.0))
  end)

  it("retraces for a new shape or dtype and says why in one line", function()
    local lines = capture_log()
    local f = tf.trace(function(a, b) return a + b end, { name = "addf" })
    f(tf.zeros({ 32, 10 }), tf.zeros({ 10 }))
    f(tf.zeros({ 32, 10 }), tf.zeros({ 10 }))
    assert.equals(0, #lines)
    f(tf.zeros({ 17, 10 }), tf.zeros({ 10 }))
    assert.equals(1, #lines)
    assert.is_truthy(lines[1]:find("retracing addf: arg 1: float32[32,10] -> float32[17,10]", 1, true), lines[1])
    f(tf.zeros({ 17, 10 }, tf.float64), tf.zeros({ 10 }, tf.float64))
    assert.is_truthy(lines[2]:find("arg 1: float32[17,10] -> float64[17,10]", 1, true), lines[2])
    assert.is_truthy(lines[2]:find("arg 2: float32[10] -> float64[10]", 1, true), lines[2])
    local sigs = f:signatures()
    assert.equals(3, #sigs)
    assert.equals("first call", sigs[1].reason)
    assert.equals("float32", sigs[2].input_signature[1].dtype.name)
    assert.equals(17, sigs[2].input_signature[1].shape[0])
  end)

  it("keys Lua numbers, strings and booleans by value and objects by identity", function()
    local traces = 0
    local f = tf.trace(function(x, k, mode, obj)
      traces = traces + 1
      if mode == "double" then x = x * 2 end -- a Lua if on a Lua value picks a branch at trace time
      return x * k + obj.bias
    end)
    local o1, o2 = setmetatable({ bias = 1 }, {}), setmetatable({ bias = 100 }, {})
    local x = tf.constant(1.0)
    close(f(x, 3, "double", o1), tf.constant(7.0))
    close(f(x, 3, "double", o1), tf.constant(7.0))
    assert.equals(1, traces)
    close(f(x, 4, "double", o1), tf.constant(9.0))
    close(f(x, 4, "plain", o1), tf.constant(5.0))
    close(f(x, 4, "plain", o2), tf.constant(104.0))
    assert.equals(4, traces)
    f(x, 4.0, "plain", o2) -- a float is not the integer 4 (Lua tells them apart)
    assert.equals(5, traces)
  end)

  it("walks plain tables of tensors in the arguments and the results", function()
    local f = tf.trace(function(batch)
      return { sum = batch.a + batch.b, parts = { batch.a, 3 } }, "tag"
    end)
    local r, tag = f({ a = tf.constant(1.0), b = tf.constant(2.0) })
    close(r.sum, tf.constant(3.0))
    close(r.parts[1], tf.constant(1.0))
    assert.equals(3, r.parts[2])
    assert.equals("tag", tag)
    -- many keys: the tensors must reach the right names whatever pairs() order is
    local g = tf.trace(function(t) return t.z * 1000 + t.a * 100 + t.m * 10 + t[1] + t[2] * 0.1 end)
    for _ = 1, 2 do
      close(g({ z = tf.constant(1.0), a = tf.constant(2.0), m = tf.constant(3.0), tf.constant(4.0), tf.constant(5.0) }),
        tf.constant(1234.5), 1e-3)
    end
  end)

  it("takes dynamic dimensions from input_signature and checks calls against it", function()
    local traces = 0
    local f = tf.trace(function(x)
      traces = traces + 1
      assert.is_nil(x.shape[0]) -- unknown while tracing
      assert.equals(3, x.shape[1])
      return tf.reduce_sum(x, 1)
    end, { input_signature = { tf.TensorSpec({ nil, 3 }, tf.float32) } })
    for n = 1, 4 do close(f(tf.ones({ n, 3 })), tf.fill({ n }, 3.0)) end
    assert.equals(1, traces)
    expect_error("InvalidArgument", "does not fit its input_signature float32%[%?,3%]", f, tf.ones({ 2, 4 }))
    expect_error("InvalidArgument", "input_signature", f, tf.ones({ 2, 3 }, tf.float64))
    expect_error("InvalidArgument", "2 arguments", f, tf.ones({ 2, 3 }), tf.ones({ 2, 3 }))
    expect_error("InvalidArgument", "must be a tensor", f, 3)
    local cf = f:get_concrete_function()
    assert.is_truthy(tostring(cf):find("float32[?,3]", 1, true))
    assert.is_truthy(tostring(tf.TensorSpec({ nil, 3 })):find("TensorSpec"))
  end)

  it("generalises shapes with reduce_retracing", function()
    local lines = capture_log()
    local f = tf.trace(function(x) return x * 2 end, { reduce_retracing = true })
    f(tf.ones({ 2, 5 }))
    f(tf.ones({ 3, 5 })) -- retraced with dimension 0 unknown
    f(tf.ones({ 7, 5 })) -- fits the generalised trace
    f(tf.ones({ 9, 5 }))
    assert.equals(2, f:experimental_get_tracing_count())
    assert.equals(1, #lines)
    local sig = f:signatures()[2].input_signature[1]
    assert.is_nil(sig.shape[0])
    assert.equals(5, sig.shape[1])
    close(f(tf.ones({ 4, 5 })), tf.fill({ 4, 5 }, 2.0))
  end)

  it("warns after repeated retracing and suggests a dynamic dimension", function()
    local lines = capture_log()
    local f = tf.trace(function(x) return x + 1 end, { name = "g" })
    for n = 1, 6 do f(tf.ones({ n })) end
    local warned = false
    for _, l in ipairs(lines) do
      if l:find("has been traced 5 times") and l:find("input_signature") and l:find("reduce_retracing") then warned = true end
    end
    assert.is_true(warned)
  end)

  it("lists captures and retraces when a captured Lua number changes", function()
    local lines = capture_log()
    local scale = 2
    local counter = 0
    local w = tf.Variable(1.0)
    local f = tf.trace(function(x)
      counter = counter + 1
      return x * scale * w + math.floor(0.5)
    end, { name = "scaled" })
    close(f(tf.constant(3.0)), tf.constant(6.0))
    local caps = {}
    for _, c in ipairs(f:captures()) do caps[c.name] = c end
    assert.equals("upvalue", caps.scale.kind)
    assert.is_true(caps.scale.frozen)
    assert.equals("userdata", caps.w.type)
    assert.equals("global", caps.math.kind)
    scale = 5
    close(f(tf.constant(3.0)), tf.constant(15.0)) -- not silently frozen
    assert.is_truthy(lines[#lines]:find("upvalue 'scale': 2 -> 5", 1, true), lines[#lines])
    -- the counter the function itself changes is a side effect, not part of the key
    close(f(tf.constant(3.0)), tf.constant(15.0))
    assert.equals(2, f:experimental_get_tracing_count())
    assert.equals(2, counter)
  end)

  it("captures globals read and retraces when a global number changes", function()
    local lines = capture_log()
    local env = setmetatable({ factor = 3 }, { __index = _G })
    local f = tf.trace(load("return function(x) return x * factor end", "=chunk", "t", env)())
    close(f(tf.constant(2.0)), tf.constant(6.0))
    env.factor = 4
    close(f(tf.constant(2.0)), tf.constant(8.0))
    assert.is_truthy(lines[#lines]:find("global 'factor': 3 -> 4", 1, true), lines[#lines])
    -- the function's globals are its own again after tracing
    local getter = load("return function() return factor end", "=c2", "t", env)()
    assert.equals(4, getter())
  end)

  it("reads variables by reference and assigns them on every call", function()
    local v = tf.Variable(1.0)
    local count = tf.Variable(0, { trainable = false })
    local f = tf.trace(function(x)
      count:assign_add(1)
      return x * v
    end)
    close(f(tf.constant(2.0)), tf.constant(2.0))
    v:assign(10.0)
    close(f(tf.constant(2.0)), tf.constant(20.0))
    f(tf.constant(2.0))
    assert.equals(3, count:value():item())
  end)

  it("lets a function create variables on its first call only", function()
    local made
    local f = tf.trace(function(x)
      made = tf.Variable(function() return tf.ones({ 2 }) end)
      return x + made
    end, { name = "maker" })
    close(f(tf.zeros({ 2 })), tf.ones({ 2 }))
    expect_error("FailedPrecondition", "maker created a tf.Variable on a call other than its first", f, tf.zeros({ 3 }))
    -- guarded creation (the usual pattern) is fine
    local v
    local g = tf.trace(function(x)
      if not v then v = tf.Variable(function() return tf.constant(2.0) end) end
      return x * v
    end)
    close(g(tf.constant(1.0)), tf.constant(2.0))
    close(g(tf.constant({ 1.0, 2.0 })), tf.constant({ 2.0, 4.0 }))
    -- a variable initialised from a traced value has no value: a clear error
    local h = tf.trace(function(x) return tf.Variable(x * 2) end)
    expect_error("FailedPrecondition", "initial value", h, tf.constant(1.0))
  end)

  it("refuses to read values while tracing and names the line", function()
    local f = tf.trace(function(x) return x:item() end)
    local err = expect_error("FailedPrecondition", "not known while tracing", f, tf.constant(1.0))
    assert.is_truthy(tostring(err):find("trace_spec.lua:%d+"))
    assert.is_truthy(tostring(err):find("tf.cond"))
    expect_error("FailedPrecondition", "tf.print", tf.trace(function(x) return tostring(x) end), tf.constant(1.0))
    expect_error("FailedPrecondition", "totable", tf.trace(function(x) return x:totable() end), tf.constant({ 1.0 }))
    expect_error("InvalidArgument", "tf.cond", tf.trace(function(x) if x > 0 then return x end return -x end),
      tf.constant(1.0))
  end)

  it("records gradient tapes inside the trace", function()
    local w = tf.Variable(tf.constant({ 0.5, -1.0, 2.0 }))
    local function step(x)
      local tape = tf.GradientTape()
      local y = tf.reduce_sum(tf.square(w * x) + tf.sin(w))
      return y, tape:gradient(y, w)
    end
    local x = tf.constant({ 1.0, 2.0, 3.0 })
    local ye, ge = step(x)
    local yt, gt = tf.trace(step)(x)
    close(yt, ye)
    close(gt, ge)
  end)

  it("records a traced call on a tape outside it", function()
    local w = tf.Variable(3.0)
    local f = tf.trace(function(x) return x * x * w end)
    local x = tf.constant(2.0)
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = f(x)
    local gx, gw = table.unpack(tape:gradient(y, { x, w }))
    close(gx, tf.constant(12.0))
    close(gw, tf.constant(4.0))
  end)

  it("inlines other traced functions called while tracing", function()
    local inner_traces = 0
    local inner = tf.trace(function(x)
      inner_traces = inner_traces + 1
      return x * 3
    end)
    local outer = tf.trace(function(x) return inner(x) + inner(x + 1) end)
    close(outer(tf.constant(1.0)), tf.constant(9.0))
    close(outer(tf.constant(2.0)), tf.constant(15.0))
    assert.equals(2, inner_traces) -- once per inlined call, while outer traced
    assert.equals(0, inner:experimental_get_tracing_count())
  end)

  it("recovers from an error raised while tracing", function()
    local f = tf.trace(function(x, bad)
      if bad then error("boom") end
      return x + 1
    end)
    local ok, err = pcall(f, tf.constant(1.0), true)
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("boom"))
    assert.is_false(tf.core.graph.in_trace())
    close(tf.constant(1.0) + 1, tf.constant(2.0)) -- eager again
    close(f(tf.constant(1.0), false), tf.constant(2.0))
  end)

  it("rejects a symbolic tensor used after its trace", function()
    local leaked
    local f = tf.trace(function(x)
      leaked = x * 2
      return x
    end)
    f(tf.constant(1.0))
    expect_error("FailedPrecondition", "after its trace ended", function() return leaked + 1 end)
    expect_error("FailedPrecondition", "not known while tracing", function() return leaked:item() end)
  end)

  it("names the Lua line of the node that fails at run time", function()
    local f = tf.trace(function(params, idx)
      return tf.gather(params, idx)
    end)
    close(f(tf.constant({ 1.0, 2.0 }), tf.constant({ 1 })), tf.constant({ 2.0 }))
    local err = expect_error("InvalidArgument", nil, f, tf.constant({ 1.0, 2.0 }), tf.constant({ 5 }))
    assert.is_truthy(tostring(err):find("trace_spec.lua:%d+: gather"), tostring(err))
  end)

  it("inspects graphs: listing, DOT, source lines, stats", function()
    local w = tf.Variable(tf.ones({ 3, 2 }), { name = "w" })
    local f = tf.trace(function(x) return tf.nn.relu(tf.matmul(x, w)) end)
    local x = tf.ones({ 4, 3 })
    local g = f:graph(x)
    local text = tostring(g)
    assert.is_truthy(text:find("matmul"))
    assert.is_truthy(text:find("float32[4,2]", 1, true))
    assert.is_truthy(text:find("variable 'w'", 1, true))
    assert.is_truthy(text:find("trace_spec.lua:%d+"))
    assert.is_truthy(g:dot():find("^digraph"))
    local found = false
    for _, n in ipairs(g:nodes()) do
      if n.op == "matmul" then
        found = true
        assert.is_truthy(n.where:find("trace_spec.lua:%d+"))
        assert.same({ "float32[4,2]" }, n.outputs)
      end
    end
    assert.is_true(found)
    local st = g:stats()
    assert.is_true(st.nodes > 0)
    assert.is_true(st.nodes_before >= st.nodes)
    assert.equals(1, #g:variables())
    local path = os.tmpname()
    g:write_dot(path)
    local fh = io.open(path)
    assert.is_truthy(fh:read("a"):find("digraph"))
    fh:close()
    os.remove(path)
    assert.equals(1, f:experimental_get_tracing_count()) -- graph() traced through the cache
  end)

  it("drops dead code by default and keeps it with optimize=false", function()
    local body = function(x)
      local _unused = tf.exp(x) * 3
      return x + 1
    end
    local g1 = tf.trace(body):graph(tf.ones({ 2 }))
    local g2 = tf.trace(body, { optimize = false }):graph(tf.ones({ 2 }))
    assert.is_true(g1:info().n_nodes < g2:info().n_nodes)
    assert.is_true(g1:stats().dce_removed >= 2)
    close(tf.trace(body, { optimize = { fuse = false } })(tf.ones({ 2 })), tf.fill({ 2 }, 2.0))
    expect_error("InvalidArgument", "unknown optimization 'fusion'", tf.trace, body, { optimize = { fusion = false } })
    expect_error("InvalidArgument", "unknown option 'jitcompile'", tf.trace, body, { jitcompile = true })
    expect_error("InvalidArgument", "expected a function", tf.trace, 3)
  end)

  it("runs eagerly under tf.config.run_functions_eagerly", function()
    local calls = 0
    local f = tf.trace(function(x)
      calls = calls + 1
      assert.is_true(tf.executing_eagerly())
      return x:item() -- values are readable eagerly
    end)
    tf.config.run_functions_eagerly(true)
    assert.is_true(tf.config.functions_run_eagerly())
    assert.equals(2.0, f(tf.constant(2.0)))
    assert.equals(3.0, f(tf.constant(3.0)))
    assert.equals(2, calls)
    tf.config.run_functions_eagerly(false)
    local g = tf.trace(function(x)
      assert.is_false(tf.executing_eagerly())
      assert.is_true(tf.is_symbolic_tensor(x))
      return x
    end)
    g(tf.constant(1.0))
  end)

  it("returns variables as their values and Lua values as traced", function()
    local v = tf.Variable(tf.constant({ 1.0, 2.0 }))
    local f = tf.trace(function() return v, 42, nil, "x" end)
    local a, b, c, d = f()
    assert.is_true(tf.is_tensor(a))
    close(a, tf.constant({ 1.0, 2.0 }))
    v:assign({ 5.0, 6.0 })
    close(f(), tf.constant({ 5.0, 6.0 })) -- read at every call
    assert.equals(42, b)
    assert.is_nil(c)
    assert.equals("x", d)
  end)

  it("traces random ops as nodes that draw new numbers on every call", function()
    local f = tf.trace(function() return tf.random.uniform({ 4 }) end)
    local a, b = f(), f()
    assert.is_true(tf.reduce_max(tf.abs(a - b)):item() > 0)
  end)

  it("runs tf.init_scope code eagerly inside a trace", function()
    local seen
    local f = tf.trace(function(x)
      seen = tf.init_scope(function() return (tf.ones({ 2 }) * 3):totable() end)
      return x
    end)
    f(tf.constant(1.0))
    assert.same({ 3.0, 3.0 }, seen)
    expect_error("FailedPrecondition", "eagerly", tf.trace(function(x)
      return tf.init_scope(function() return x + 1 end)
    end), tf.constant(1.0))
  end)

  it("traces from TensorSpecs without values", function()
    local f = tf.trace(function(x) return x * 2 end)
    local cf = f:get_concrete_function(tf.TensorSpec({ nil, 2 }, tf.float32))
    assert.is_nil(cf.input_signature[1].shape[0])
    close(cf(tf.ones({ 5, 2 })), tf.fill({ 5, 2 }, 2.0))
    close(cf:call_flat({ tf.ones({ 1, 2 }) })[1], tf.fill({ 1, 2 }, 2.0))
  end)

  it("trains with an unknown batch dimension (gradients from run-time shapes)", function()
    local keras = tf.keras
    local function make()
      tf.random.set_seed(3)
      local model = keras.Sequential{ keras.layers.Dense(8, { activation = "relu", input_shape = { 4 } }), keras.layers.Dense(3) }
      local opt = keras.optimizers.Adam{ learning_rate = 0.05 }
      local loss_fn = keras.losses.SparseCategoricalCrossentropy{ from_logits = true }
      local function step(x, y)
        local tape = tf.GradientTape()
        local out = model(x, { training = true })
        local loss = loss_fn(y, out) + tf.reduce_mean(tf.reduce_sum(tf.square(out), 1)) * 0.01
        opt:apply_gradients(tape:gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss
      end
      model(tf.zeros({ 1, 4 }))
      return model, step
    end
    local m1, eager = make()
    local m2, step = make()
    step = tf.trace(step, { input_signature = { tf.TensorSpec({ false, 4 }), tf.TensorSpec({ false }, tf.int32) } })
    for i, n in ipairs({ 5, 3, 7, 3 }) do
      local x = tf.random.normal({ n, 4 }, 0, 1, { seed = i })
      local y = tf.constant((function() local t = {} for k = 1, n do t[k] = (k + i) % 3 end return t end)())
      close(step(x, y), eager(x, y), 1e-5)
    end
    assert.equals(1, step:experimental_get_tracing_count())
    for i, w in ipairs(m1.weights) do close(w:value(), m2.weights[i]:value(), 1e-5) end
  end)

  it("traces per device: the same function on CPU and TEST tensors", function()
    local lines = capture_log()
    local f = tf.trace(function(x) return tf.exp(x) * 2 end, { name = "dev" })
    local x = tf.constant({ 0.0, 1.0 })
    local cpu = f(x)
    local xt = tf.copy_to_device(x, "TEST:0")
    local test = f(xt)
    assert.truthy(test.device:find("TEST"))
    assert.truthy(cpu.device:find("CPU"))
    close(tf.copy_to_device(test, "CPU:0"), cpu)
    assert.equals(2, f:experimental_get_tracing_count())
    assert.is_truthy(lines[#lines]:find("arg 1: float32[2] -> float32[2]@TEST", 1, true), lines[#lines])
  end)

  it("checks graph arguments when a graph is run directly", function()
    local G = tf.core.graph
    local tr = G.trace_begin()
    local x = G.trace_arg(tr, tf.float32, { n = 2, [2] = 3 })
    local g = G.trace_end(tr, { x * 2 })
    close(G.run(g, { tf.ones({ 4, 3 }) })[1], tf.fill({ 4, 3 }, 2.0))
    expect_error("InvalidArgument", "argument 1: expected float32%[%?,3%], got float32%[4,2%]", G.run, g, { tf.ones({ 4, 2 }) })
    expect_error("InvalidArgument", "takes 1 arguments, got 0", G.run, g, {})
  end)
end)

H = H -- helpers loaded for their side effects (paths) only
