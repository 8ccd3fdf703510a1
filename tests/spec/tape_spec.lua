-- tf.GradientTape semantics: recording window, sources structure, variables,
-- unconnected and non-differentiable sources, persistence, higher order,
-- custom gradients, stop_gradient, jacobians, numeric checks.
local tf = require("tlua")
local H = require("helpers")

describe("GradientTape", function()
  it("differentiates watched tensors", function()
    local x = tf.constant({ 1.0, 2.0, 3.0 })
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = tf.reduce_sum(x * x)
    H.assert_close(tape:gradient(y, x), { 2, 4, 6 })
  end)

  it("watches trainable variables automatically, not constants or non-trainable ones", function()
    local w = tf.Variable({ 1.0, 2.0 })
    local frozen = tf.Variable({ 5.0, 5.0 }, { trainable = false })
    local c = tf.constant({ 3.0, 4.0 })
    local tape = tf.GradientTape()
    local y = tf.reduce_sum(w * c + frozen * w)
    local g = tape:gradient(y, { w, frozen, c })
    H.assert_close(g[1], { 8, 9 })
    assert.is_nil(g[2])
    assert.is_nil(g[3])
  end)

  it("honours watch_accessed_variables=false", function()
    local w = tf.Variable(2.0)
    local tape = tf.GradientTape({ watch_accessed_variables = false })
    local y = w * w
    assert.is_nil(tape:gradient(y, w))
    local tape2 = tf.GradientTape({ watch_accessed_variables = false })
    tape2:watch(w)
    local y2 = w * w
    H.assert_close(tape2:gradient(y2, w), 4)
  end)

  it("keeps the structure of the sources", function()
    local a, b = tf.Variable(1.0), tf.Variable(2.0)
    local tape = tf.GradientTape()
    local y = a * b
    local g = tape:gradient(y, { first = a, rest = { b } })
    H.assert_close(g.first, 2)
    H.assert_close(g.rest[1], 1)
  end)

  it("gives nil (or zeros on request) for unconnected sources", function()
    local a, b = tf.Variable(1.0), tf.Variable({ 2.0, 3.0 })
    local tape = tf.GradientTape({ persistent = true })
    local y = a * 3.0
    assert.is_nil(tape:gradient(y, { a, b })[2])
    H.assert_close(tape:gradient(y, { a, b }, { unconnected_gradients = "zero" })[2], { 0, 0 })
  end)

  it("gives nil for integer sources", function()
    local i = tf.constant({ 1, 2 })
    local tape = tf.GradientTape()
    tape:watch(i)
    local y = i * 2
    assert.is_nil(tape:gradient(y, i))
  end)

  it("answers once when not persistent, and says so", function()
    local x = tf.Variable(2.0)
    local tape = tf.GradientTape()
    local y = x * x
    tape:gradient(y, x)
    H.assert_error("FailedPrecondition", { "persistent" }, function() return tape:gradient(y, x) end)
  end)

  it("stops recording after the first gradient call when not persistent", function()
    local x = tf.Variable(2.0)
    local tape = tf.GradientTape()
    local y = x * x
    tape:gradient(y, x)
    assert.is_false(tape:recording())
  end)

  it("answers twice when persistent (two groups of variables)", function()
    local a, b = tf.Variable(3.0), tf.Variable(4.0)
    local tape = tf.GradientTape({ persistent = true })
    local y = a * a + b * b
    H.assert_close(tape:gradient(y, a), 6)
    H.assert_close(tape:gradient(y, { b })[1], 8)
  end)

  it("stops recording at stop() and at <close>", function()
    local x = tf.Variable(1.0)
    local tape = tf.GradientTape()
    tape:stop()
    local y = x * 2.0
    assert.is_nil(tape:gradient(y, x))
    local z
    local t2
    do
      local tape2 <close> = tf.GradientTape()
      t2 = tape2
    end
    z = x * 2.0
    assert.is_nil(t2:gradient(z, x))
  end)

  it("reduces gradients of broadcast operands to their shapes", function()
    local m = tf.Variable({ { 1.0, 2.0 }, { 3.0, 4.0 }, { 5.0, 6.0 } })
    local b = tf.Variable({ 10.0, 20.0 })
    local s = tf.Variable(2.0)
    local tape = tf.GradientTape()
    local y = tf.reduce_sum((m + b) * s)
    local g = tape:gradient(y, { m, b, s })
    H.assert_close(g[1], { { 2, 2 }, { 2, 2 }, { 2, 2 } })
    H.assert_close(g[2], { 6, 6 })
    H.assert_close(g[3], 111)
  end)

  it("computes second derivatives with nested tapes (x^3 at 3: 27 and 18)", function()
    local x = tf.Variable(3.0)
    local outer = tf.GradientTape()
    local inner = tf.GradientTape()
    local y = x * x * x
    local dy = inner:gradient(y, x)
    local d2 = outer:gradient(dy, x)
    H.assert_close(dy, 27)
    H.assert_close(d2, 18)
  end)

  it("uses output_gradients", function()
    local x = tf.constant({ 1.0, 2.0 })
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = x * 3.0
    H.assert_close(tape:gradient(y, x, { output_gradients = tf.constant({ 1.0, 10.0 }) }), { 3, 30 })
  end)

  it("blocks gradients at tf.stop_gradient", function()
    local x = tf.Variable(2.0)
    local tape = tf.GradientTape()
    local y = x * tf.stop_gradient(x)
    H.assert_close(tape:gradient(y, x), 2)
  end)

  it("supports tf.custom_gradient (a numerically stable softplus)", function()
    local softplus = tf.custom_gradient(function(x)
      local y = tf.math.log(1.0 + tf.exp(-tf.abs(x))) + tf.maximum(x, 0.0)
      return y, function(dy) return dy * tf.sigmoid(x) end
    end)
    local x = tf.constant({ -100.0, 0.0, 100.0 })
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = softplus(x)
    H.assert_close(y, { 0, math.log(2), 100 }, 1e-6)
    H.assert_close(tape:gradient(y, x), { 0, 0.5, 1 }, 1e-6)
  end)

  it("computes jacobians and batch jacobians", function()
    local x = tf.constant({ 1.0, 2.0 })
    local tape = tf.GradientTape({ persistent = true })
    tape:watch(x)
    local y = x * x
    H.assert_close(tape:jacobian(y, x), { { 2, 0 }, { 0, 4 } })
    local xb = tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 } })
    local tb = tf.GradientTape()
    tb:watch(xb)
    local yb = xb * xb
    H.assert_close(tb:batch_jacobian(yb, xb), { { { 2, 0 }, { 0, 4 } }, { { 6, 0 }, { 0, 8 } } })
  end)

  it("tf.debugging.check_numerics names the message", function()
    local bad = tf.constant({ 1.0, 0 / 0 })
    H.assert_error("InvalidArgument", { "check_numerics", "bad input", "NaN" },
      tf.debugging.check_numerics, bad, "bad input")
  end)

  it("the numerics switch reports the op that produced NaN, forward and backward", function()
    tf.debugging.enable_check_numerics()
    local ok, err = pcall(function() return tf.math.log(tf.constant({ -1.0 })) end)
    local ok2, err2 = pcall(function()
      local x = tf.Variable({ 0.0 })
      local tape = tf.GradientTape()
      local y = tf.sqrt(x)
      return tape:gradient(y, x)
    end)
    tf.debugging.disable_check_numerics()
    assert.is_false(ok)
    assert.truthy(tostring(err):find("log", 1, true), tostring(err))
    assert.truthy(tostring(err):find("tape_spec.lua", 1, true), tostring(err))
    assert.is_false(ok2)
    assert.truthy(tostring(err2):find("NaN", 1, true) or tostring(err2):find("Inf", 1, true), tostring(err2))
  end)

  -- tf.custom_gradient and variables (TensorFlow's rules: a variable argument
  -- is read, so the custom rule's gradient for it reaches the variable; a
  -- variable read inside f but not passed in is given to the gradient
  -- function, which returns its gradient after the argument gradients).
  it("custom_gradient sends the rule's gradient to a variable argument", function()
    local scale3 = tf.custom_gradient(function(x)
      return x * 2.0, function(dy) return dy * 3.0 end -- deliberately not the true derivative
    end)
    local v = tf.Variable({ 1.0, 2.0 })
    local tape = tf.GradientTape()
    local y = tf.reduce_sum(scale3(v))
    local g = tape:gradient(y, v)
    assert.is_not_nil(g)
    H.assert_close(g, { 3, 3 })
  end)

  it("custom_gradient passes variables read inside f to the gradient function", function()
    local w = tf.Variable({ 2.0, -1.0 })
    local seen
    local f = tf.custom_gradient(function(x)
      local y = x * w
      return y, function(dy, variables)
        seen = variables
        return dy * w, { dy * x * 10.0 } -- 10x marks the custom rule
      end
    end)
    local x = tf.constant({ 3.0, 4.0 })
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = tf.reduce_sum(f(x))
    local gx, gw = table.unpack(tape:gradient(y, { x, w }))
    H.assert_close(gx, { 2, -1 })
    H.assert_close(gw, { 30, 40 })
    assert.equals(1, #seen)
    assert.equals(w, seen[1])
  end)

  it("custom_gradient survives the collection of another tape that recorded the same call", function()
    -- every recording tape shares the gradient function's context; an outer
    -- tape left recording and then collected used to free it under the rest
    local f = tf.custom_gradient(function(x) return x * 2, function(dy) return dy * 10 end end)
    local x = tf.constant({ 1.0, 2.0 })
    do local outer = tf.GradientTape{ persistent = true }; outer:watch(x) end
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = tf.reduce_sum(f(x))
    collectgarbage()
    collectgarbage()
    H.assert_close(tape:gradient(y, x), { 10, 10 })
  end)

  it("custom_gradient says what is missing when variable gradients are not returned", function()
    local w = tf.Variable(2.0)
    local f = tf.custom_gradient(function(x)
      return x * w, function(dy) return dy * w end
    end)
    local x = tf.constant(3.0)
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = f(x)
    H.assert_error("InvalidArgument", { "custom_gradient", "variable" }, function() return tape:gradient(y, { x, w }) end)
  end)

  it("custom_gradient may return its input unchanged", function()
    local ident = tf.custom_gradient(function(x) return x, function(dy) return dy * 5.0 end end)
    local x = tf.constant({ 1.0, 2.0 })
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = ident(x)
    H.assert_close(tape:gradient(y, x), { 5, 5 })
  end)

  it("takes output_gradients and unconnected_gradients by position, as TensorFlow", function()
    local x = tf.constant({ 1.0, 2.0 })
    local u = tf.constant({ 5.0 })
    local tape = tf.GradientTape({ persistent = true })
    tape:watch({ x, u })
    local y = x * 3.0
    H.assert_close(tape:gradient(y, x, tf.constant({ 1.0, 10.0 })), { 3, 30 })
    H.assert_close(tape:gradient(y, u, nil, "zero"), { 0 })
    assert.is_nil(tape:gradient(y, u, nil, "none"))
    H.assert_error("InvalidArgument", { "both by position and by name" }, function()
      return tape:gradient(y, x, tf.constant({ 1.0, 1.0 }), { output_gradients = tf.constant({ 1.0, 1.0 }) })
    end)
    H.assert_error("InvalidArgument", { "unconnected_gradients", "none", "zero" }, function()
      return tape:gradient(y, x, nil, "sometimes")
    end)
    H.assert_error("InvalidArgument", { "unknown option", "output_gradient" }, function()
      return tape:gradient(y, x, { output_gradient = tf.constant({ 1.0, 1.0 }) })
    end)
  end)

  it("names the argument that is wrong", function()
    local w = tf.Variable(1.0)
    local tape = tf.GradientTape()
    local _ = w * 2.0
    H.assert_error("InvalidArgument", { "target" }, function() return tape:gradient(5, w) end)
    local ok, err = pcall(function() return tape:gradient(5, w) end)
    assert.is_false(ok)
    assert.is_nil(tostring(err):find("source", 1, true), tostring(err))
    H.assert_error("InvalidArgument", { "watch" }, function() return tape:watch(5) end)
    H.assert_error("InvalidArgument", { "a source", "string" }, function() return tape:gradient(w * 1.0, "w") end)
    H.assert_error("InvalidArgument", { "GradientTape", "options" }, tf.GradientTape, "persistent")
    H.assert_error("InvalidArgument", { "unknown option", "persistant" }, tf.GradientTape, { persistant = true })
  end)
end)
