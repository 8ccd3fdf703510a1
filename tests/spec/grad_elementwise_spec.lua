-- Gradient rules of src/ops/elementwise.c and src/ops/unary.c beyond the
-- central-difference checks of op_conformance_spec: values TensorFlow
-- defines by convention (ties, kinks, pow at x <= 0, divide_no_nan at 0,
-- clip bounds, casts), the fused relu/sigmoid/tanh backward ops against
-- their unfused compositions, second derivatives (nested tapes) against
-- hand formulas and PyTorch's double backward, and the tape's per-step
-- overhead staying flat in memory.
local tf = require("tlua")
local H = require("helpers")

local function t64(v) return tf.constant(v, tf.float64) end

-- d f / dx with one tape (sum of f(x) when f is not scalar).
local function grad(f, x, opts)
  local tape = tf.GradientTape()
  tape:watch(x)
  local y = f(x)
  return tape:gradient(y, x, opts)
end

local function grads(f, xs)
  local tape = tf.GradientTape()
  for _, x in ipairs(xs) do tape:watch(x) end
  local y = f(table.unpack(xs))
  return tape:gradient(y, xs)
end

-- f' and f'' element-wise, by nested tapes.
local function d2(f, x)
  local outer = tf.GradientTape()
  outer:watch(x)
  local inner = tf.GradientTape()
  inner:watch(x)
  local y = f(x)
  local g = inner:gradient(y, x)
  return g, outer:gradient(g, x)
end

local function map(xs, f)
  local out = {}
  for i, v in ipairs(xs) do out[i] = f(v) end
  return out
end

local function pylist(vals)
  local p = {}
  for i, v in ipairs(vals) do p[i] = ("%.17g"):format(v) end
  return "[" .. table.concat(p, ",") .. "]"
end

local XS = { -1.3, -0.2, 0.4, 2.1 }
local function sigm(v) return 1 / (1 + math.exp(-v)) end

describe("second derivatives match hand formulas", function()
  local cases = {
    { "x^3 (pow)", function(x) return tf.pow(x, 3.0) end,
      function(v) return 3 * v * v end, function(v) return 6 * v end },
    { "x^3 (products)", function(x) return x * x * x end,
      function(v) return 3 * v * v end, function(v) return 6 * v end },
    { "exp", tf.exp, math.exp, math.exp },
    { "tanh", tf.tanh,
      function(v) local t = math.tanh(v) return 1 - t * t end,
      function(v) local t = math.tanh(v) return -2 * t * (1 - t * t) end },
    { "sigmoid", tf.sigmoid,
      function(v) local s = sigm(v) return s * (1 - s) end,
      function(v) local s = sigm(v) return s * (1 - s) * (1 - 2 * s) end },
    { "softplus", tf.nn.softplus, sigm, function(v) local s = sigm(v) return s * (1 - s) end },
    { "log_sigmoid", tf.math.log_sigmoid,
      function(v) return 1 - sigm(v) end, function(v) local s = sigm(v) return -s * (1 - s) end },
    { "sin", tf.sin, math.cos, function(v) return -math.sin(v) end },
    { "elu", tf.nn.elu,
      function(v) return v > 0 and 1 or math.exp(v) end, function(v) return v > 0 and 0 or math.exp(v) end },
    { "relu", tf.nn.relu, function(v) return v > 0 and 1 or 0 end, function() return 0 end },
    { "atan", tf.atan,
      function(v) return 1 / (1 + v * v) end, function(v) return -2 * v / (1 + v * v) ^ 2 end },
    { "erf", tf.math.erf,
      function(v) return 2 / math.sqrt(math.pi) * math.exp(-v * v) end,
      function(v) return -4 * v / math.sqrt(math.pi) * math.exp(-v * v) end },
    { "gelu (exact)", tf.nn.gelu,
      function(v)
        local phi = math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
        local cdf = 0.5 * (1 + tf.math.erf(t64(v / math.sqrt(2))):item())
        return cdf + v * phi
      end,
      function(v) return (2 - v * v) * math.exp(-v * v / 2) / math.sqrt(2 * math.pi) end },
  }
  for _, c in ipairs(cases) do
    local name, f, d1f, d2f = table.unpack(c)
    it(name, function()
      local g, h = d2(f, t64(XS))
      H.assert_close(g, map(XS, d1f), 1e-12, 1e-14)
      H.assert_close(h, map(XS, d2f), 1e-10, 1e-12)
    end)
  end

  it("third derivative of tanh through the fused tanh_grad's own rule", function()
    local x = t64(XS)
    local t3 = tf.GradientTape()
    t3:watch(x)
    local _, h = d2(tf.tanh, x)
    local g3 = t3:gradient(h, x)
    H.assert_close(g3, map(XS, function(v)
      local t = math.tanh(v)
      local s = 1 - t * t
      return -2 * s * s + 4 * t * t * s
    end), 1e-10, 1e-12)
  end)

  it("d^2/dy^2 of x^y is finite where x <= 0 (TF's log(x) := 0 there)", function()
    local x = t64({ 0.0, -2.0, 1.5 })
    local y = t64({ 2.0, 3.0, 0.5 })
    local outer = tf.GradientTape()
    outer:watch(y)
    local inner = tf.GradientTape()
    inner:watch(y)
    local z = tf.pow(x, y)
    local gy = inner:gradient(z, y)
    local hy = outer:gradient(gy, y)
    H.assert_close(gy, { 0, 0, 1.5 ^ 0.5 * math.log(1.5) })
    H.assert_close(hy, { 0, 0, 1.5 ^ 0.5 * math.log(1.5) ^ 2 })
  end)
end)

describe("a composite expression matches PyTorch's double backward", function()
  it("gradient and Hessian-vector product of a broadcast composite in x [2,3] and y [3]", function()
    local XV = { 0.7, -1.1, 1.9, 0.3, 1.4, -0.45 }
    local YV = { 0.6, -0.8, 1.3 }
    local VX = { 0.3, -0.7, 1.1, 0.5, -0.2, 0.9 }
    local VY = { -0.4, 0.8, 0.25 }
    local x = tf.reshape(t64(XV), { 2, 3 })
    local y = t64(YV)
    local function f(a, b)
      local t = tf.tanh(a * b) + tf.sigmoid(a) / (b * b + 1.0)
      t = t + tf.square(tf.nn.softplus(a - b)) + tf.pow(tf.abs(b) + 0.5, a)
      t = t + tf.maximum(a, b) * tf.nn.elu(a) + tf.nn.gelu(a, true) * tf.exp(b * 0.5)
      t = t + tf.math.squared_difference(a, b) * tf.sin(b) - tf.sqrt(a * a + 1.0) / tf.cosh(b)
      return tf.reduce_sum(t)
    end
    local outer = tf.GradientTape()
    outer:watch({ x, y })
    local inner = tf.GradientTape()
    inner:watch({ x, y })
    local loss = f(x, y)
    local g = inner:gradient(loss, { x, y })
    local s = tf.reduce_sum(g[1] * tf.reshape(t64(VX), { 2, 3 })) + tf.reduce_sum(g[2] * t64(VY))
    local h = outer:gradient(s, { x, y })
    local ref = H.python(table.concat({
      "import torch, math",
      "x = torch.tensor(" .. pylist(XV) .. ", dtype=torch.float64).reshape(2, 3).requires_grad_()",
      "y = torch.tensor(" .. pylist(YV) .. ", dtype=torch.float64).requires_grad_()",
      "vx = torch.tensor(" .. pylist(VX) .. ", dtype=torch.float64).reshape(2, 3)",
      "vy = torch.tensor(" .. pylist(VY) .. ", dtype=torch.float64)",
      "F = torch.nn.functional",
      "def f(a, b):",
      "  t = torch.tanh(a * b) + torch.sigmoid(a) / (b * b + 1.0)",
      "  t = t + F.softplus(a - b) ** 2 + torch.pow(b.abs() + 0.5, a)",
      "  t = t + torch.maximum(a, b) * F.elu(a) + F.gelu(a, approximate='tanh') * torch.exp(b * 0.5)",
      "  t = t + (a - b) ** 2 * torch.sin(b) - torch.sqrt(a * a + 1.0) / torch.cosh(b)",
      "  return t.sum()",
      "gx, gy = torch.autograd.grad(f(x, y), (x, y), create_graph=True)",
      "hx, hy = torch.autograd.grad((gx * vx).sum() + (gy * vy).sum(), (x, y))",
      "out = [gx.detach().numpy(), gy.detach().numpy(), hx.numpy(), hy.numpy()]",
    }, "\n"))
    H.assert_close(g[1], ref[1], 1e-10, 1e-12)
    H.assert_close(g[2], ref[2], 1e-10, 1e-12)
    H.assert_close(h[1], ref[3], 1e-9, 1e-11)
    H.assert_close(h[2], ref[4], 1e-9, 1e-11)
  end)
end)

describe("gradient conventions (as TensorFlow)", function()
  it("maximum and minimum give the gradient to x at ties", function()
    local x, y = t64({ 1.0, 2.0, 3.0 }), t64({ 1.0, 5.0, -1.0 })
    local g = grads(function(a, b) return tf.maximum(a, b) end, { x, y })
    H.assert_close(g[1], { 1, 0, 1 })
    H.assert_close(g[2], { 0, 1, 0 })
    g = grads(function(a, b) return tf.minimum(a, b) end, { x, y })
    H.assert_close(g[1], { 1, 1, 0 })
    H.assert_close(g[2], { 0, 0, 1 })
  end)

  it("pow: d/dx at a negative base with an integer exponent, d/dy is 0 where x <= 0", function()
    local g = grads(function(a, b) return tf.pow(a, b) end, { t64({ -2.0, 0.0, 2.0 }), t64({ 3.0, 2.0, 0.5 }) })
    H.assert_close(g[1], { 12, 0, 0.5 / math.sqrt(2) })
    H.assert_close(g[2], { 0, 0, math.sqrt(2) * math.log(2) })
  end)

  it("divide_no_nan has zero gradients where y is 0", function()
    local g = grads(function(a, b) return tf.math.divide_no_nan(a, b) end, { t64({ 3.0, 2.0 }), t64({ 0.0, 4.0 }) })
    H.assert_close(g[1], { 0, 0.25 })
    H.assert_close(g[2], { 0, -2 / 16 })
  end)

  it("floormod: dx = g, dy = -g floor(x / y)", function()
    local g = grads(function(a, b) return tf.math.floormod(a, b) end, { t64({ 7.5, -7.5 }), t64({ 2.0, 2.0 }) })
    H.assert_close(g[1], { 1, 1 })
    H.assert_close(g[2], { -3, 4 })
  end)

  it("kinks: relu(0), relu6(6), abs(0) give 0; leaky_relu(0) gives alpha; elu(0) gives 1", function()
    local z = t64({ 0.0 })
    H.assert_close(grad(tf.nn.relu, z), { 0 })
    H.assert_close(grad(tf.nn.relu6, t64({ 0.0, 6.0, 3.0 })), { 0, 0, 1 })
    H.assert_close(grad(tf.abs, z), { 0 })
    H.assert_close(grad(function(x) return tf.nn.leaky_relu(x, 0.3) end, z), { 0.3 })
    H.assert_close(grad(tf.nn.elu, z), { 1 })
  end)

  it("sign has a zero gradient, not none", function()
    H.assert_close(grad(tf.sign, t64({ -1.0, 2.0 })), { 0, 0 })
  end)

  it("clip_by_value: t inside the bounds, each bound where t went past it", function()
    local t, lo, hi = t64({ -3.0, 0.5, 4.0, 1.0 }), t64(-1.0), t64(2.0)
    local g = grads(function(a, b, c) return tf.clip_by_value(a, b, c) end, { t, lo, hi })
    H.assert_close(g[1], { 0, 1, 0, 1 })
    H.assert_close(g[2], 1)
    H.assert_close(g[3], 1)
  end)

  it("cast: float to float casts the gradient back; to or from integers there is none", function()
    local x = tf.constant({ 1.5, -2.0 })
    local g = grad(function(a) return tf.cast(a, tf.float64) * 3.0 end, x)
    assert.are.equal(tf.float32, g.dtype)
    H.assert_close(g, { 3, 3 })
    assert.is_nil(grad(function(a) return tf.cast(tf.cast(a, tf.int32), tf.float32) end, x))
    local h = grad(function(a) return tf.cast(a, tf.float32) end, x)
    H.assert_close(h, { 1, 1 })
  end)

  it("add_n gives each input the gradient (twice for a repeated input)", function()
    local x, y = t64({ 1.0, 2.0 }), t64({ 3.0, 4.0 })
    local g = grads(function(a, b) return tf.add_n({ a, b, a }) end, { x, y })
    H.assert_close(g[1], { 2, 2 })
    H.assert_close(g[2], { 1, 1 })
  end)

  it("integer operands get no gradient and cost no error", function()
    local i = tf.constant({ 1, 2, 3 })
    local x = tf.constant({ 0.5, 1.5, 2.5 })
    local tape = tf.GradientTape({ persistent = true })
    tape:watch(i)
    tape:watch(x)
    local y = tf.reduce_sum(tf.cast(i * i + tf.abs(i), tf.float32) * x)
    local g = tape:gradient(y, { i, x })
    assert.is_nil(g[1])
    H.assert_close(g[2], { 2, 6, 12 })
    assert.is_nil(tape:gradient(i / 2, i))
  end)

  it("float32 gradients of the hot activations use the fused ops and keep float32", function()
    local x = tf.constant({ -1.5, 0.25, 2.0 })
    for _, f in ipairs({ tf.nn.relu, tf.sigmoid, tf.tanh }) do
      local g = grad(f, x)
      assert.are.equal(tf.float32, g.dtype)
    end
    H.assert_close(grad(tf.tanh, x), map({ -1.5, 0.25, 2.0 }, function(v) return 1 - math.tanh(v) ^ 2 end), 1e-6)
  end)
end)

describe("fused backward ops equal their unfused compositions", function()
  local n = 70001 -- several parallel chunks and a vector tail
  local function vals(f)
    local t = {}
    for i = 1, n do t[i] = f(i) end
    return t
  end
  local G = vals(function(i) return math.sin(i * 0.37) * 3 end)
  local F = vals(function(i) return math.cos(i * 0.91) * 2 end)
  local P = vals(function(i) return (math.sin(i * 1.3) + 1) / 2 end)
  for _, dt in ipairs({ tf.float32, tf.float64 }) do
    it("relu_grad, sigmoid_grad, tanh_grad in " .. dt.name, function()
      local g, f, p = tf.constant(G, dt), tf.constant(F, dt), tf.constant(P, dt)
      local zero, one = tf.constant(0, dt), tf.constant(1, dt)
      H.assert_close(tf.raw_ops.relu_grad(g, f), g * tf.cast(tf.greater(f, zero), dt), 0, 0)
      H.assert_close(tf.raw_ops.sigmoid_grad(p, g), g * p * (one - p), 1e-6, 1e-6)
      H.assert_close(tf.raw_ops.tanh_grad(f, g), g * (one - f * f), 1e-6, 1e-5)
    end)
  end
end)

describe("tape overhead", function()
  local function live() return tf.core.memory_stats().live_bytes end

  it("a 10-element step under a fresh tape 10,000 times keeps memory flat", function()
    local x = tf.constant({ 0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, -1.0 })
    local function step(take_gradient)
      local tape <close> = tf.GradientTape() -- closed: stops recording even when unused
      tape:watch(x)
      local y = tf.reduce_sum(tf.tanh(x) * x + tf.nn.relu(x))
      if take_gradient then return tape:gradient(y, x) end
    end
    for _ = 1, 200 do step(true) end
    collectgarbage()
    collectgarbage()
    local base_live, base_kb = live(), collectgarbage("count")
    local t0 = os.clock()
    for i = 1, 10000 do step(i % 2 == 0) end
    local per_step = (os.clock() - t0) / 10000
    collectgarbage()
    collectgarbage()
    local grew_live, grew_kb = live() - base_live, collectgarbage("count") - base_kb
    print(("tape step: %.1f us; live tensor bytes %+d; Lua heap %+.0f KiB"):format(per_step * 1e6, grew_live, grew_kb))
    assert(grew_live <= 4096, "tensor bytes grew by " .. grew_live)
    assert(grew_kb < 512, ("Lua heap grew by %.0f KiB"):format(grew_kb))
    H.assert_close(step(true), map({ 0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, -1.0 }, function(v)
      local t = math.tanh(v)
      return t + v * (1 - t * t) + (v > 0 and 1 or 0)
    end), 1e-5)
  end)
end)
