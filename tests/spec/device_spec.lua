-- Devices in Lua: t.device, tf.device scopes, placement of constants, Lua
-- values and variables, explicit copies, and host code that reads values
-- (printing, totable, item, serialization, attributes, indexing) through
-- copies. The test device keeps its memory PROT_NONE outside its kernels,
-- so any of these reading device memory in place would kill this process
-- with SIGSEGV instead of passing.
local tf = require("tlua")
local H = require("helpers")

local CPU = "/job:localhost/replica:0/task:0/device:CPU:0"
local TEST = "/job:localhost/replica:0/task:0/device:TEST:0"

local function on_test(x, dtype) return tf.copy_to_device(tf.constant(x, dtype), "TEST:0") end

describe("t.device", function()
  it("is TensorFlow's full device name", function()
    assert.equal(CPU, tf.constant({ 1, 2 }).device)
    assert.equal(TEST, on_test({ 1, 2 }).device)
    assert.equal(CPU, tf.Variable({ 1.0 }).device)
  end)

  it("follows the inputs of an op", function()
    local x = on_test({ 1.5, 2.5 })
    assert.equal(TEST, (x * 2).device)
    assert.equal(TEST, tf.reduce_sum(x).device)
    assert.equal(CPU, tf.copy_to_device(x, "CPU:0").device)
  end)
end)

describe("tf.device scopes", function()
  it("set the default device while open, as a to-be-closed variable", function()
    do
      local d <close> = tf.device("TEST:0")
      assert.equal(TEST, tf.core.default_device())
      assert.equal(TEST, tf.constant({ 1, 2 }).device)
      assert.equal(TEST, tf.zeros({ 2, 2 }).device) -- a creation op (no tensor input)
      assert.equal(TEST, tf.add(1, 2).device)       -- Lua values of an op without tensors
    end
    assert.equal(CPU, tf.core.default_device())
    assert.equal(CPU, tf.constant({ 1, 2 }).device)
  end)

  it("start and stop, nest, and restore what was there before", function()
    local outer = tf.device("TEST:0")
    local inner = tf.device("CPU:0")
    assert.equal(CPU, tf.constant(1).device)
    inner:stop()
    assert.equal(TEST, tf.constant(1).device)
    outer:stop()
    assert.equal(CPU, tf.constant(1).device)
    outer:stop() -- stopping twice does nothing
    assert.equal(CPU, tf.core.default_device())
    outer:start()
    assert.equal(TEST, tf.core.default_device())
    H.assert_error("FailedPrecondition", { "already started" }, outer.start, outer)
    outer:stop()
  end)

  it("stopping an outer scope also leaves scopes left open inside it", function()
    local outer = tf.device("TEST:0")
    tf.device("CPU:0") -- never stopped (as when code inside raised)
    outer:stop()
    assert.equal(CPU, tf.core.default_device())
  end)

  it("run a function inside and return its results, restoring on errors", function()
    local a, b = tf.device("TEST:0", function(x) return tf.constant(x), 7 end, { 1, 2 })
    assert.equal(TEST, a.device)
    assert.equal(7, b)
    local ok = pcall(tf.device, "TEST:0", function() error("boom") end)
    assert.is_false(ok)
    assert.equal(CPU, tf.core.default_device())
  end)

  it("accept TensorFlow's spellings and reject unknown devices", function()
    for _, name in ipairs({ "TEST", "test:0", "/device:TEST:0", TEST }) do
      local d <close> = tf.device(name)
      assert.equal(TEST, tf.core.default_device())
    end
    H.assert_error("InvalidArgument", { "unknown or unavailable device 'FOO:0'" }, tf.device, "FOO:0")
    H.assert_error("InvalidArgument", { "GPU:0" }, tf.device, "GPU:0") -- no CUDA backend
    H.assert_error("InvalidArgument", { "TEST:1" }, tf.device, "TEST:1")
    H.assert_error("InvalidArgument", { "must be a string" }, tf.device, 3)
    assert.equal(CPU, tf.core.default_device())
  end)

  it("do not move ops whose inputs live elsewhere", function()
    local x = tf.constant({ 1.0, 2.0 })
    local d <close> = tf.device("TEST:0")
    assert.equal(CPU, (x + 1).device) -- the Lua number follows x
  end)
end)

describe("variables", function()
  it("created in a scope live there", function()
    local v
    do
      local d <close> = tf.device("TEST:0")
      v = tf.Variable({ 1.0, 2.0, 3.0 })
      local w = tf.Variable(tf.constant({ 4.0 }, tf.float32))
      assert.equal(TEST, w.device)
    end
    assert.equal(TEST, v.device)
    assert.equal(TEST, v:value().device)
    assert.same({ 2, 4, 6 }, (v * 2):totable())
    assert.equal(2, v[1]:item())
    assert.truthy(tostring(v):find("numpy=[1. 2. 3.]", 1, true))
  end)

  it("outside scopes keep a tensor's device (Lua values go to the CPU)", function()
    assert.equal(TEST, tf.Variable(on_test({ 1.0 })).device)
    assert.equal(CPU, tf.Variable({ 1.0 }).device)
  end)

  it("in a scope take the scope's device even from a CPU tensor, as TensorFlow places them", function()
    local init = tf.constant({ 1.0 })
    local d <close> = tf.device("TEST:0")
    assert.equal(TEST, tf.Variable(init).device)
  end)
end)

describe("host reads of TEST tensors go through copies", function()
  local values = { { 1.5, -2.25, 3 }, { 0.125, 0.5, -7 } }
  local cpu = tf.constant(values)
  local dev = on_test(values)

  it("totable and item give the CPU's values", function()
    assert.same(cpu:totable(), dev:totable())
    assert.equal(cpu[1][2]:item(), dev[1][2]:item())
    assert.same({ 3, -7 }, dev[{ {}, 2 }]:totable()) -- a strided view
    assert.same({ true, false }, on_test({ true, false }):totable())
    assert.equal(5, on_test(5, tf.int64):item())
  end)

  it("printing gives the CPU's text", function()
    assert.equal(tostring(cpu), tostring(dev))
    assert.equal(tostring(cpu[1]), tostring(dev[1]))
    local big = tf.range(0, 2000)
    assert.equal(tostring(big), tostring(tf.copy_to_device(big, "TEST:0"))) -- summarised
  end)

  it("serialize_tensor gives the CPU's bytes", function()
    assert.equal(tf.core.io.serialize_tensor(cpu), tf.core.io.serialize_tensor(dev))
    assert.equal(tf.core.io.serialize_tensor(cpu[1]), tf.core.io.serialize_tensor(dev[1]))
  end)

  it("attribute values read from tensors (int, float, ints)", function()
    local x = on_test({ { 1.0, -2.0 }, { 3.0, -4.0 } })
    local axis = on_test(1, tf.int32)
    assert.same({ -1, -1 }, tf.reduce_sum(x, axis):totable())          -- ints from a scalar
    assert.same({ 4 }, tf.reshape(x, on_test({ 4 }, tf.int32)).shape:as_list()) -- ints from a vector
    assert.same({ { 1, -0.5 }, { 3, -1 } }, tf.nn.leaky_relu(x, on_test(0.25)):totable()) -- a float
    assert.same({ 2 }, tf.one_hot(on_test(1, tf.int32), on_test(2, tf.int32)).shape:as_list())
  end)

  it("indexing with tensor indices and masks on the device", function()
    local x = on_test({ 10, 20, 30 })
    assert.same({ 30, 10 }, x[on_test({ 2, 0 }, tf.int32)]:totable())
    assert.same({ 20 }, x[on_test({ false, true, false })]:totable())
    assert.equal(TEST, x[on_test({ 2, 0 }, tf.int32)].device)
  end)

  it("tf.constant of a device tensor casts on the device", function()
    local y = tf.constant(dev, tf.float64)
    assert.equal(TEST, y.device)
    assert.equal(tf.float64, y.dtype)
    assert.same(tf.constant(values, tf.float64):totable(), y:totable())
  end)

  it("a single tensor given as a list is split on its device", function()
    assert.same({ 1.625, -1.75, -4 }, tf.add_n(dev):totable())
    assert.equal(TEST, tf.stack(dev).device)
  end)
end)

describe("Lua values beside a device tensor in stdlib wrappers", function()
  it("go to that tensor's device (where, tensordot, variable assignment values)", function()
    local x = on_test({ 1.0, 2.0 })
    local w = tf.where(on_test({ true, false }), x, 0)
    assert.equal(TEST, w.device)
    assert.same({ 1, 0 }, w:totable())
    local m = on_test({ { 1.0, 2.0 }, { 3.0, 4.0 } })
    assert.same({ { 3, 3 }, { 7, 7 } }, tf.tensordot(m, { { 1, 1 }, { 1, 1 } }, 1):totable())
    local v = tf.device("TEST:0", tf.Variable, { 1.0, 2.0 })
    assert.equal(TEST, require("tlua.indexing").value_as(v, { 5, 6 }, "assign").device)
    H.assert_error("InvalidArgument", { "unknown or unavailable device" }, tf.core.constant_on, 1, nil, "FOO")
  end)
end)

describe("mixing devices", function()
  it("is an error naming both devices, never a silent copy", function()
    local a, b = tf.constant({ 1.0, 2.0 }), on_test({ 3.0, 4.0 })
    H.assert_error("InvalidArgument", { "add", "on CPU", "on TEST", "tf.copy_to_device" }, tf.add, a, b)
    H.assert_error("InvalidArgument", { "on CPU", "on TEST" }, function() return b - a end)
    H.assert_error("InvalidArgument", { "concat", "on CPU", "on TEST" }, tf.concat, { a, b }, 0)
  end)

  it("is resolved with an explicit copy, x:cpu() included", function()
    local a, b = tf.constant({ 1.0, 2.0 }), on_test({ 3.0, 4.0 })
    assert.same({ 4, 6 }, tf.add(a, b:cpu()):totable())
    assert.equal(CPU, b:cpu().device)
    assert.equal(TEST, tf.add(tf.copy_to_device(a, "TEST:0"), b).device)
    H.assert_error("InvalidArgument", { "GPU:0" }, b.gpu, b) -- no CUDA backend here
  end)

  it("copies are recorded: gradients flow back across devices", function()
    local x = tf.constant({ 1.0, 2.0 })
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = tf.reduce_sum(tf.copy_to_device(x, "TEST:0") * 3):cpu()
    local g = tape:gradient(y, x)
    assert.equal(CPU, g.device)
    assert.same({ 3, 3 }, g:totable())
  end)
end)

describe("gradients on the test device", function()
  it("start from a seed on the target's device and equal the CPU's", function()
    local vals = { 1.5, -2.0, 0.25 }
    local function grad_on(x)
      local tape = tf.GradientTape()
      tape:watch(x)
      local y = tf.reduce_sum(x * x * 3)
      return tape:gradient(y, x)
    end
    local g = grad_on(on_test(vals))
    assert.equal(TEST, g.device)
    assert.same(grad_on(tf.constant(vals)):totable(), g:totable())
  end)

  it("take Lua output_gradients on the target's device", function()
    local x = on_test({ 1.0, 2.0 })
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = tf.reduce_sum(x * x)
    local g = tape:gradient(y, x, { output_gradients = { 2.0 } })
    assert.equal(TEST, g.device)
    assert.same({ 4, 8 }, g:totable())
  end)

  it("numeric checking reads outputs and gradients through host copies", function()
    local x = on_test({ 1.0, 4.0 })
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = tf.reduce_sum(tf.debugging.check_numerics(tf.sqrt(x), "sqrt"))
    assert.same({ 0.5, 0.25 }, tape:gradient(y, x):totable())
    tf.debugging.enable_check_numerics()
    local ok, err = pcall(tf.math.log, on_test({ -1.0 }))
    tf.debugging.disable_check_numerics()
    assert.is_false(ok)
    assert.is_true(tf.errors.is(err, "InvalidArgument"))
    assert.truthy(tostring(err):find("NaN", 1, true))
  end)
end)

