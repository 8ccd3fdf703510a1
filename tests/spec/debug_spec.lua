-- Numeric checking (tf.debugging.check_numerics and the dispatcher's
-- enable_check_numerics switch) on the CPU and on the test device, whose
-- memory the host cannot read outside kernels: the check must run as a
-- kernel on the tensor's device.
local tf = require("tlua")
local helpers = require("helpers")

local function on_test(v) return tf.copy_to_device(tf.constant(v), "TEST:0") end

-- Runs fn with numeric checking on and turns it off whatever happens.
local function checking(fn)
  tf.debugging.enable_check_numerics()
  local ok, err = pcall(fn)
  tf.debugging.disable_check_numerics()
  return ok, err
end

describe("tf.debugging.check_numerics", function()
  it("passes finite tensors through and names the message for NaN and Inf, on either device", function()
    for _, dev in ipairs({ "CPU:0", "TEST:0" }) do
      local good = tf.copy_to_device(tf.constant({ 1.0, -2.0 }), dev)
      local same = tf.debugging.check_numerics(good, "fine")
      assert.equal(tf.copy_to_device(same, "CPU:0"):totable()[2], -2)
      local bad = tf.copy_to_device(tf.constant({ 1.0, 0 / 0, 1 / 0 }), dev)
      helpers.assert_error("InvalidArgument", { "check_numerics", "bad input", "1 NaN and 1 Inf" },
        tf.debugging.check_numerics, bad, "bad input")
    end
  end)

  it("ignores integer tensors", function()
    assert.same({ 1, 2 }, tf.debugging.check_numerics(tf.constant({ 1, 2 }), "ints"):totable())
  end)

  it("checks the gradient flowing back through it", function()
    local x = tf.Variable({ 0.0, 1.0 })
    local tape = tf.GradientTape()
    local y = tf.debugging.check_numerics(x:read_value(), "x") -- finite forward
    local z = tf.sqrt(y)
    helpers.assert_error("InvalidArgument", { "x (gradient)", "Inf" }, function() return tape:gradient(z, x) end)
  end)
end)

describe("tf.debugging.enable_check_numerics", function()
  it("reports the op whose output has NaN on the test device, without reading device memory", function()
    local ok, err = checking(function() return tf.math.log(on_test({ -1.0, 2.0 })) end)
    assert.is_false(ok)
    assert.truthy(tf.errors.is(err, "InvalidArgument"), tostring(err))
    assert.truthy(tostring(err):find("output 0 of log: 1 NaN", 1, true), tostring(err))
    assert.truthy(tostring(err):find("debug_spec.lua", 1, true), tostring(err))
  end)

  it("lets finite results through on the test device", function()
    local y
    local ok, err = checking(function() y = tf.math.exp(on_test({ -1.0, 2.0 })) end)
    assert(ok, tostring(err))
    helpers.assert_close(tf.copy_to_device(y, "CPU:0"), { math.exp(-1), math.exp(2) }, 1e-6)
  end)

  it("checks what gradient rules produce", function()
    local ok, err = checking(function()
      local x = tf.constant({ 0.0, 4.0 })
      local tape = tf.GradientTape()
      tape:watch(x)
      local y = tf.sqrt(x)
      return tape:gradient(y, x)
    end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("gradient of sqrt", 1, true), tostring(err))
    assert.truthy(tostring(err):find("Inf", 1, true), tostring(err))
  end)

  it("is off again after disable_check_numerics", function()
    checking(function() end)
    assert.is_false(tf.debugging.is_check_numerics_enabled())
    local y = tf.math.log(on_test({ -1.0 }))
    assert.is_true(tf.copy_to_device(y, "CPU:0"):totable()[1] ~= tf.copy_to_device(y, "CPU:0"):totable()[1])
  end)
end)
