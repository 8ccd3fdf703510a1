-- tf.saved_model: round trips of traced functions and Keras models (same
-- outputs), restored variables (values, names, trainable flags) that can be
-- fine-tuned, loaded functions traced again, tlua-run and the C example on
-- .npy and .tlt inputs checked against tlua and numpy, and damaged files
-- (DataLoss), unknown ops and format versions (Unimplemented).
local tf = require("tlua")
local keras = tf.keras
local helpers = require("helpers")

local build = os.getenv("TLUA_BUILD_DIR")
local tmp = os.tmpname()
os.remove(tmp)
local dir = tmp .. "_saved"
os.execute('mkdir -p "' .. dir .. '"')
teardown(function() os.execute('rm -rf "' .. dir .. '"') end)

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end
-- The header made right again after an edit of the body (length and CRC).
local function fix_header(s)
  local body = s:sub(21)
  return s:sub(1, 8) .. string.pack("<I8I4", #body, tf.core.io.crc32(body)) .. body
end
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function mlp(seed)
  tf.random.set_seed(seed or 1)
  local m = keras.Sequential{
    keras.layers.Dense(8, { activation = "relu", input_shape = { 4 } }),
    keras.layers.Dense(3, { activation = "softmax" }),
  }
  return m
end

describe("tf.saved_model round trips", function()
  it("a traced function: same outputs, variables captured by reference after loading", function()
    local w = tf.Variable(tf.constant({ { 1.0, -2.0 }, { 0.5, 3.0 } }), { name = "w" })
    local b = tf.constant({ 0.25, -0.5 })
    local f = tf.trace(function(x) return tf.nn.relu(tf.matmul(x, w) + b), tf.reduce_sum(x, 1) end)
    local x = tf.constant({ { 1.0, 2.0 }, { -3.0, 0.5 }, { 0.0, 1.0 } })
    local y1, s1 = f(x)
    local path = dir .. "/fn.tlsm"
    tf.saved_model.save(f, path)
    local m = tf.saved_model.load(path)
    local y2, s2 = m(x)
    assert.same(y1:totable(), y2:totable())
    assert.same(s1:totable(), s2:totable())
    assert.same(y1:totable(), m.signatures.serving_default(x):totable())
    -- the loaded variable is a tf.Variable with the saved value, name and flag
    assert.equal(1, #m.variables)
    assert.is_true(tf.core.is_variable(m.variables[1]))
    assert.equal("w", m.variables[1].name)
    assert.is_true(m.variables[1].trainable)
    assert.same(w:value():totable(), m.variables[1]:value():totable())
    -- assigning it changes what the loaded function computes; the original is untouched
    m.variables[1]:assign(tf.zeros({ 2, 2 }))
    helpers.assert_close(m(x), tf.nn.relu(tf.zeros({ 3, 2 }) + b))
    assert.same(y1:totable(), f(x):totable())
  end)

  it("a Keras model: its call traced with a dynamic batch dimension", function()
    local model = mlp(3)
    local x = tf.random.normal({ 5, 4 })
    local y = model(x)
    local path = dir .. "/mlp.tlsm"
    tf.saved_model.save(model, path)
    local m = tf.saved_model.load(path)
    helpers.assert_close(m(x), y, 1e-6, 1e-7)
    helpers.assert_close(m(x[{ { 0, 2 } }]), model(x[{ { 0, 2 } }]), 1e-6, 1e-7) -- another batch size
    assert.equal(4, #m.variables)
    assert.equal(4, #m.trainable_variables)
    for i, v in ipairs(model.trainable_variables) do
      assert.same(v:value():totable(), m.variables[i]:value():totable())
      assert.equal(v.name, m.variables[i].name)
    end
    assert.equal("float32[?,4]", m.signatures.serving_default.input_signature[1].text)
  end)

  it("an unbuilt subclassed model with an input_signature is built eagerly, then traced", function()
    local Net = keras.Model:extend("SavedNet")
    function Net:init(opts)
      Net.super.init(self, opts)
      self.d = keras.layers.Dense(2)
    end
    function Net:call(x) return self.d(x) * 2 end
    local net = Net()
    tf.saved_model.save(net, dir .. "/net.tlsm", { input_signature = { tf.TensorSpec({ nil, 3 }) } })
    local m = tf.saved_model.load(dir .. "/net.tlsm")
    local x = tf.ones({ 2, 3 })
    helpers.assert_close(m(x), net(x))
    assert.equal(2, #m.variables)
  end)

  it("input_signature for a tf.Function, a Lua function, a raw graph, and named signatures", function()
    local f = tf.trace(function(a) return a * 2 end, { input_signature = { tf.TensorSpec({ nil, 3 }, tf.float32) } })
    tf.saved_model.save(f, dir .. "/sig.tlsm")
    local m = tf.saved_model.load(dir .. "/sig.tlsm")
    assert.equal("float32[?,3]", m.serving_default.input_signature[1].text)
    assert.same({ { 2, 4, 6 } }, m({ { 1, 2, 3 } }):totable()) -- Lua tables convert to the arg's dtype

    tf.saved_model.save(function(a, c) return a * c + 1 end, dir .. "/lua.tlsm",
      { input_signature = { { shape = { n = 1 }, dtype = tf.float32 }, tf.TensorSpec({ n = 1 }) } })
    local l = tf.saved_model.load(dir .. "/lua.tlsm")
    assert.same({ 4, 9 }, l(tf.constant({ 1.0, 2.0 }), tf.constant({ 3.0, 4.0 })):totable())

    local G = tf.core.graph
    local tr = G.trace_begin()
    local x = G.trace_arg(tr, tf.float32, { 2 })
    local g = G.trace_end(tr, { x + 1, x * 3 })
    tf.saved_model.save({ plus = g, serving_default = g }, dir .. "/two.tlsm")
    local t = tf.saved_model.load(dir .. "/two.tlsm")
    assert.equal("serving_default", t._functions[1].name)
    local a, c = t.signatures.plus(tf.constant({ 1.0, 2.0 }))
    assert.same({ 2, 3 }, a:totable())
    assert.same({ 3, 6 }, c:totable())
    local named = t.plus:call_named(tf.constant({ 1.0, 2.0 }))
    assert.same({ 3, 6 }, named.output_1:totable())
  end)

  it("control flow (tf.cond, tf.while_loop) round-trips; eager gradients flow through it", function()
    local v = tf.Variable(3.0, { name = "scale" })
    local g = tf.trace(function(x)
      local y = tf.cond(tf.greater(tf.reduce_sum(x), 0), function() return x * v end, function() return -x end)
      local r = tf.while_loop(function(i, a) return tf.less(i, 3) end, function(i, a) return i + 1, a + y end,
        { tf.constant(0), tf.zeros_like(y) })
      return r[2]
    end)
    local x = tf.ones({ 2, 3 })
    local y = g(x)
    tf.saved_model.save(g, dir .. "/cf.tlsm")
    local m = tf.saved_model.load(dir .. "/cf.tlsm")
    assert.same(y:totable(), m(x):totable())
    assert.same((y / 3):totable(), m(-x):totable()) -- the else branch: 3 x -(-x)
    local tape = tf.GradientTape()
    local out = tf.reduce_sum(m(x))
    assert.equal(18, tape:gradient(out, m.variables[1]):item()) -- 3 iterations x 6 elements
    -- inside tf.trace it becomes one call node, which a tape could not see: an error, not a nil gradient
    local h = tf.trace(function(a) return m(a) + 1 end)
    assert.same((y + 1):totable(), h(x):totable())
    local hg = tf.trace(function(a)
      local t = tf.GradientTape()
      return t:gradient(tf.reduce_sum(m(a)), m.variables[1])
    end)
    helpers.assert_error("Unimplemented", "cannot be differentiated inside a traced function", hg, x)
  end)

  it("a whole traced training step (tape and optimizer) keeps training after loading", function()
    local model = mlp(5)
    local opt = keras.optimizers.SGD{ learning_rate = 0.1 }
    local loss_fn = keras.losses.SparseCategoricalCrossentropy()
    local x = tf.random.normal({ 6, 4 })
    local y = tf.constant({ 0, 1, 2, 0, 1, 2 })
    local step = tf.trace(function(xb, yb)
      local tape = tf.GradientTape()
      local loss = loss_fn(yb, model(xb, { training = true }))
      local grads = tape:gradient(loss, model.trainable_variables)
      opt:apply_gradients(grads, model.trainable_variables)
      return loss
    end)
    step(x, y)
    local path = dir .. "/step.tlsm"
    tf.saved_model.save(step, path)
    local before = {}
    for i, v in ipairs(model.trainable_variables) do before[i] = v:value():totable() end
    local m = tf.saved_model.load(path)
    local l1 = m(x, y):item()
    local l2 = m(x, y):item()
    assert.is_true(l2 < l1, ("loss %g then %g"):format(l1, l2))
    -- the original model's variables were not touched by the loaded copy
    for i, v in ipairs(model.trainable_variables) do assert.same(before[i], v:value():totable()) end
  end)

  it("fine-tuning a loaded model with a GradientTape changes its variables", function()
    local model = mlp(7)
    tf.saved_model.save(model, dir .. "/ft.tlsm")
    local m = tf.saved_model.load(dir .. "/ft.tlsm")
    local x = tf.random.normal({ 8, 4 })
    local y = tf.constant({ 0, 1, 2, 0, 1, 2, 0, 1 })
    local loss_fn = keras.losses.SparseCategoricalCrossentropy()
    local opt = keras.optimizers.Adam{ learning_rate = 0.05 }
    local first
    local w0 = m.variables[1]:value():totable()
    for i = 1, 20 do
      local tape = tf.GradientTape()
      local loss = loss_fn(y, m(x))
      local grads = tape:gradient(loss, m.trainable_variables)
      for k = 1, #grads do assert.is_not_nil(grads[k], "no gradient for variable " .. k) end
      opt:apply_gradients(grads, m.trainable_variables)
      first = first or loss:item()
      if i == 20 then assert.is_true(loss:item() < first) end
    end
    assert.are_not.same(w0, m.variables[1]:value():totable())
    -- the original model is unchanged
    assert.same(w0, model.trainable_variables[1]:value():totable())
  end)

  it("a loaded function traces again inside tf.trace (its ops inlined), and gradients flow through it", function()
    local model = mlp(9)
    tf.saved_model.save(model, dir .. "/re.tlsm")
    local m = tf.saved_model.load(dir .. "/re.tlsm")
    local x = tf.random.normal({ 3, 4 })
    local g = tf.trace(function(a) return m(a) * 2 end)
    helpers.assert_close(g(x), m(x) * 2, 1e-6, 1e-7)
    local conc = g:get_concrete_function(x)
    local ops = {}
    for _, n in ipairs(conc.graph:nodes()) do ops[n.op or n.kind] = true end
    assert.is_true(ops.matmul and ops.softmax ~= nil or ops.matmul)
    local vars = conc.graph:variables()
    assert.equal(4, #vars)
    assert.equal(m.variables[1], vars[1]) -- the loaded variables, captured by reference
    -- a traced step over the loaded model
    local opt = keras.optimizers.SGD{ learning_rate = 0.5 }
    local step = tf.trace(function(a)
      local tape = tf.GradientTape()
      local loss = tf.reduce_mean(tf.square(m(a)))
      opt:apply_gradients(tape:gradient(loss, m.trainable_variables), m.trainable_variables)
      return loss
    end)
    local l1 = step(x):item()
    local l2 = step(x):item()
    assert.is_true(l2 < l1)
  end)
end)

describe("tlua-run and the C example", function()
  local model_path = dir .. "/run.tlsm"
  local x

  setup(function()
    local model = mlp(11)
    x = tf.random.normal({ 4, 4 })
    tf.saved_model.save(model, model_path)
  end)

  it("runs the model on .npy and .tlt inputs with tlua's outputs (numpy reads them back)", function()
    local m = tf.saved_model.load(model_path)
    local y = m(x)
    -- .tlt input: tf.io.serialize_tensor's bytes
    write(dir .. "/x.tlt", tf.io.serialize_tensor(x))
    local out, code = sh(("%s/tlua-run %s %s/x.tlt -o %s/o1"):format(build, model_path, dir, dir))
    assert.equal(0, code, out)
    assert.truthy(out:find("out0.npy", 1, true))
    -- .npy input written by numpy; outputs read back by numpy
    local rows = {}
    for _, r in ipairs(x:totable()) do
      local c = {}
      for k, v in ipairs(r) do c[k] = ("%.9g"):format(v) end
      rows[#rows + 1] = "[" .. table.concat(c, ",") .. "]"
    end
    local ref = helpers.python(("np.save(%q, np.array([%s], dtype=np.float32))\nout = 0"):format(dir .. "/x.npy",
      table.concat(rows, ",")))
    assert.equal(0, ref)
    out, code = sh(("%s/tlua-run %s %s/x.npy -o %s/o2"):format(build, model_path, dir, dir))
    assert.equal(0, code, out)
    out, code = sh(("%s/tlua-run %s %s/x.npy -o %s/o3 --format tlt"):format(build, model_path, dir, dir))
    assert.equal(0, code, out)
    local got = helpers.python(("out = [np.load(%q).tolist(), np.load(%q).tolist(), str(np.load(%q).dtype), list(np.load(%q).shape)]")
      :format(dir .. "/o1/out0.npy", dir .. "/o2/out0.npy", dir .. "/o1/out0.npy", dir .. "/o2/out0.npy"))
    helpers.assert_close(got[1], y:totable(), 1e-6, 1e-7)
    helpers.assert_close(got[2], y:totable(), 1e-6, 1e-7)
    assert.equal("float32", got[3])
    assert.same({ 4, 3 }, got[4])
    local tlt = tf.io.parse_tensor(read(dir .. "/o3/out0.tlt"), tf.float32)
    assert.same(y:totable(), tlt:totable())
  end)

  it("--list names the signatures; usage and input errors are clear", function()
    local out, code = sh(("%s/tlua-run %s --list"):format(build, model_path))
    assert.equal(0, code, out)
    assert.truthy(out:find("serving_default(arg1: float32[?,4]) -> (float32[?,3])", 1, true), out)
    assert.truthy(out:find("4 variables", 1, true), out)
    out, code = sh(("%s/tlua-run %s"):format(build, model_path))
    assert.equal(1, code)
    assert.truthy(out:find("takes 1 input, 0 given", 1, true), out)
    out, code = sh(("%s/tlua-run %s --function nope %s/x.tlt"):format(build, model_path, dir))
    assert.equal(1, code)
    assert.truthy(out:find("NotFoundError", 1, true) and out:find("no function 'nope'", 1, true), out)
    local dict = "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n"
    write(dir .. "/bad.npy", "\147NUMPY\1\0" .. string.pack("<I2", #dict) .. dict .. ("\0"):rep(8))
    out, code = sh(("%s/tlua-run %s %s/bad.npy"):format(build, model_path, dir))
    assert.equal(1, code)
    assert.truthy(out:find("big-endian", 1, true), out)
    out, code = sh(("%s/tlua-run"):format(build))
    assert.equal(2, code)
    assert.truthy(out:find("usage", 1, true))
    -- a wrong input shape names the argument
    write(dir .. "/x3.tlt", tf.io.serialize_tensor(tf.zeros({ 2, 3 })))
    out, code = sh(("%s/tlua-run %s %s/x3.tlt"):format(build, model_path, dir))
    assert.equal(1, code)
    assert.truthy(out:find("argument 1: expected float32[?,4], got float32[2,3]", 1, true), out)
  end)

  it("examples/c/run_model prints what tlua computes", function()
    local m = tf.saved_model.load(model_path)
    local vals = {}
    for _, r in ipairs(x:totable()) do for _, v in ipairs(r) do vals[#vals + 1] = ("%.9g"):format(v) end end
    local out, code = sh(("%s/examples/run_model %s 4 4 %s"):format(build, model_path, table.concat(vals, " ")))
    assert.equal(0, code, out)
    assert.truthy(out:find("shape=(4, 3), dtype=float32", 1, true), out)
    local first = tostring(m(x)):match("%[%[([^%]]+)%]")
    assert.truthy(out:find(first, 1, true), out .. " lacks " .. first)
  end)
end)

describe("damaged and foreign files", function()
  local path = dir .. "/good.tlsm"
  local good
  setup(function()
    local w = tf.Variable(tf.ones({ 3, 2 }), { name = "w" })
    local f = tf.trace(function(a) return tf.nn.relu(tf.matmul(a, w)) end)
    f(tf.ones({ 1, 3 }))
    tf.saved_model.save(f, path)
    good = read(path)
  end)

  local function load_bytes(s)
    local p = dir .. "/damaged.tlsm"
    write(p, s)
    return tf.saved_model.load(p)
  end

  it("a missing file is NotFound", function()
    helpers.assert_error("NotFound", { "cannot open", "nope.tlsm" }, tf.saved_model.load, dir .. "/nope.tlsm")
  end)

  it("truncation, padding and any flipped byte are DataLoss", function()
    helpers.assert_error("DataLoss", "truncated or padded", load_bytes, good:sub(1, #good - 1))
    helpers.assert_error("DataLoss", "truncated or padded", load_bytes, good .. "x")
    helpers.assert_error("DataLoss", "header is truncated", load_bytes, good:sub(1, 10))
    helpers.assert_error("DataLoss", "not a tlua saved model", load_bytes, "hello")
    helpers.assert_error("DataLoss", "not a tlua saved model", load_bytes, "")
    for _, at in ipairs({ 25, #good // 2, #good - 3 }) do
      local s = good:sub(1, at - 1) .. string.char(good:byte(at) ~ 0x40) .. good:sub(at + 1)
      helpers.assert_error("DataLoss", "checksum", load_bytes, s)
    end
  end)

  it("a structurally bad body with a right checksum is DataLoss naming the problem", function()
    -- the function's node count made huge
    local at = good:find("serving_default", 1, true)
    assert.truthy(at)
    local s = good:sub(1, at + 14) .. string.pack("<I4", 0x7fffffff) .. good:sub(at + 19)
    helpers.assert_error("DataLoss", "larger than the file allows", load_bytes, fix_header(s))
    -- a body cut short inside a section
    helpers.assert_error("DataLoss", {}, load_bytes, fix_header(good:sub(1, #good - 7)))
  end)

  it("an unknown op and a newer format version are Unimplemented with a clear message", function()
    local s, n = good:gsub("\4\0\0\0relu", "\4\0\0\0relv")
    assert.equal(1, n)
    helpers.assert_error("Unimplemented", { "op 'relv'", "serving_default", "newer" }, load_bytes, fix_header(s))
    local v = good:sub(1, 4) .. string.pack("<I4", 2) .. good:sub(9)
    helpers.assert_error("Unimplemented", { "format version 2", "reads version 1", "newer tlua" }, load_bytes, v)
  end)

  it("save refuses what it cannot store, naming it", function()
    helpers.assert_error("InvalidArgument", "a plain Lua function needs", tf.saved_model.save, function(a) return a end,
      dir .. "/x.tlsm")
    helpers.assert_error("InvalidArgument", "no trace yet", tf.saved_model.save, tf.trace(function(a) return a end),
      dir .. "/x.tlsm")
    helpers.assert_error("InvalidArgument", "unknown option 'signature'", tf.saved_model.save, tf.trace(function(a) return a end),
      dir .. "/x.tlsm", { signature = {} })
    local unbuilt = keras.Sequential{ keras.layers.Dense(2) }
    helpers.assert_error("InvalidArgument", "no known input shape", tf.saved_model.save, unbuilt, dir .. "/x.tlsm")
    helpers.assert_error("NotFound", "cannot write", tf.saved_model.save, tf.saved_model.load(path), "/nonexistent/dir/x.tlsm")
  end)

  it("tf.io.parse_tensor refuses a resource dtype (its bytes would be a pointer)", function()
    local bytes = "TLT1\8resource\0" .. ("\1"):rep(8)
    helpers.assert_error("InvalidArgument", "cannot come from bytes", tf.io.parse_tensor, bytes, tf.float32)
  end)

  it("a loaded function checks its arguments", function()
    local m = tf.saved_model.load(path)
    helpers.assert_error("InvalidArgument", "takes 1 argument", m, tf.ones({ 1, 3 }), tf.ones({ 1, 3 }))
    helpers.assert_error("InvalidArgument", "argument 1: expected float32[1,3], got float32[2,2]", m, tf.ones({ 2, 2 }))
  end)
end)
