-- Gradient rules of src/ops/reduce.c and src/ops/nn.c beyond the central
-- difference checks of op_conformance_spec: values TensorFlow defines by
-- convention (ties of max/min, zeros in products, dropout where x is 0),
-- the fused sparse cross-entropy backward against its unfused composition,
-- and second derivatives (nested tapes) against PyTorch's double backward.
local tf = require("tlua")
local H = require("helpers")

local function pylist(vals)
  local p = {}
  for i, v in ipairs(vals) do p[i] = ("%.17g"):format(v) end
  return "[" .. table.concat(p, ",") .. "]"
end

local function seq(n, f)
  local t = {}
  for i = 1, n do t[i] = f(i) end
  return t
end

local X = seq(24, function(i) return math.sin(i * 1.7) * 2 end)          -- logits-like, no ties
local W = seq(24, function(i) return math.cos(i * 0.9) + 0.25 end)       -- upstream gradients
local V = seq(24, function(i) return math.sin(i * 0.37 + 1) end)         -- second-order directions
local Z = seq(24, function(i) return (math.cos(i * 2.3) + 1) / 2 end)    -- probability-like labels
local XZ = { 0.5, 0.0, 2.0, 0.0, 1.5, -1.0, 1.25, -0.75, 0.0, 3.0, -2.0, 0.5,
             0.0, 1.0, 1.0, 2.0, -1.5, 0.0, 0.0, 0.0, 0.0, 4.0, 0.5, 0.25 } -- zeros in every row

local function t64(vals, shape) return tf.reshape(tf.constant(vals, tf.float64), shape) end

local hvp = require("gradcheck").hvp -- nested tapes: g = d<w, f(x)>/dx, h = d<v, g>/dx

-- The same with PyTorch (create_graph=True); torch_f is Python code of a
-- function f(x); returns {g, h}.
local function torch_hvp(torch_f, xvals, shape, wvals, wshape, vvals, extra)
  return H.python(table.concat({
    "import torch",
    "import torch.nn.functional as F",
    extra or "",
    "x = torch.tensor(" .. pylist(xvals) .. ", dtype=torch.float64).reshape(" .. pylist(shape) .. ").requires_grad_()",
    "w = torch.tensor(" .. pylist(wvals) .. ", dtype=torch.float64).reshape(" .. pylist(wshape) .. ")",
    "v = torch.tensor(" .. pylist(vvals) .. ", dtype=torch.float64).reshape(" .. pylist(shape) .. ")",
    "def f(x): return " .. torch_f,
    "g, = torch.autograd.grad(f(x), x, grad_outputs=w, create_graph=True)",
    "h, = torch.autograd.grad(g, x, grad_outputs=v)",
    "out = [g.detach().numpy(), h.numpy()]",
  }, "\n"))
end

-- One table row per op: tlua function, PyTorch expression, input, output shape.
local S234, S46 = { 2, 3, 4 }, { 4, 6 }
local LABELS = { 3, 0, 5, 2 }
local cases = {
  { "reduce_logsumexp over axis 1", function(x) return tf.reduce_logsumexp(x, 1) end,
    "torch.logsumexp(x, 1)", X, S234, { 2, 4 } },
  { "reduce_logsumexp over all axes, keepdims", function(x) return tf.reduce_logsumexp(x, nil, { keepdims = true }) end,
    "torch.logsumexp(x.reshape(-1), 0).reshape(1, 1, 1)", X, S234, { 1, 1, 1 } },
  { "reduce_mean over {0, 2}", function(x) return tf.reduce_mean(tf.exp(x), { 0, 2 }) end,
    "torch.exp(x).mean((0, 2))", X, S234, { 3 } },
  { "reduce_max over axis -1", function(x) return tf.reduce_max(x * x, -1) end,
    "(x * x).amax(-1)", X, S234, { 2, 3 } },
  { "reduce_variance over {0, 2}", function(x) return tf.math.reduce_variance(x, { 0, 2 }) end,
    "x.var((0, 2), unbiased=False)", X, S234, { 3 } },
  { "reduce_std over axis 1", function(x) return tf.math.reduce_std(x, 1) end,
    "x.std(1, unbiased=False)", X, S234, { 2, 4 } },
  { "moments variance over {1}", function(x) return select(2, tf.nn.moments(x, { 1 })) end,
    "x.var(1, unbiased=False)", X, S234, { 2, 4 } },
  { "reduce_prod over axis 1 (one zero and two zeros per row)", function(x) return tf.reduce_prod(x, 1) end,
    "x.prod(1)", XZ, S46, { 4 } },
  { "reduce_prod over all axes", function(x) return tf.reduce_prod(x) end,
    "x.prod()", seq(6, function(i) return 0.5 + i / 4 end), { 2, 3 }, {} },
  { "cumprod with zeros", function(x) return tf.math.cumprod(x, 1) end,
    "x.cumprod(1)", XZ, S46, S46 },
  { "cumprod with zeros, reverse", function(x) return tf.math.cumprod(x, 1, { reverse = true }) end,
    "x.flip(1).cumprod(1).flip(1)", XZ, S46, S46 },
  { "cumsum exclusive", function(x) return tf.cumsum(x * x, 1, { exclusive = true }) end,
    "torch.cat([torch.zeros(4, 1, dtype=x.dtype), (x * x).cumsum(1)[:, :-1]], 1)", X, S46, S46 },
  { "softmax over the last axis", function(x) return tf.nn.softmax(x) end,
    "torch.softmax(x, -1)", X, S234, S234 },
  { "softmax over axis 1", function(x) return tf.nn.softmax(x, 1) end,
    "torch.softmax(x, 1)", X, S234, S234 },
  { "log_softmax", function(x) return tf.nn.log_softmax(x) end,
    "torch.log_softmax(x, -1)", X, S234, S234 },
  { "sparse_softmax_cross_entropy_with_logits", function(x)
      return tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant(LABELS), x)
    end, "F.cross_entropy(x, torch.tensor(" .. pylist(LABELS) .. "), reduction='none')", X, S46, { 4 } },
  { "softmax_cross_entropy_with_logits (labels not summing to 1)", function(x)
      return tf.nn.softmax_cross_entropy_with_logits(t64(Z, S46), x)
    end, "-(z * torch.log_softmax(x, -1)).sum(-1)", X, S46, { 4 },
    "z = torch.tensor(" .. pylist(Z) .. ", dtype=torch.float64).reshape(4, 6)" },
  { "sigmoid_cross_entropy_with_logits", function(x)
      return tf.nn.sigmoid_cross_entropy_with_logits(t64(Z, S46), x)
    end, "F.binary_cross_entropy_with_logits(x, z, reduction='none')", X, S46, S46,
    "z = torch.tensor(" .. pylist(Z) .. ", dtype=torch.float64).reshape(4, 6)" },
  { "l2_loss", function(x) return tf.nn.l2_loss(x * x) end,
    "(x ** 4).sum() / 2", X, S46, {} },
  { "bias_add", function(x) return tf.nn.bias_add(x * x, tf.constant({ 1.0, 2.0, 3.0, 4.0, 5.0, 6.0 }, tf.float64)) end,
    "x * x + torch.arange(1, 7, dtype=x.dtype)", X, S46, S46 },
}

local function count(shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  return n
end

describe("gradient rules: conventions", function()
  it("reduce_max and reduce_min share the gradient equally among ties (as TensorFlow)", function()
    local x = tf.constant({ { 1.0, 3.0, 3.0, 2.0 }, { 5.0, 5.0, 5.0, -1.0 } }, tf.float64)
    local tape = tf.GradientTape({ persistent = true })
    tape:watch(x)
    local mx = tf.reduce_max(x, 1)
    local mn = tf.reduce_min(x)
    H.assert_close(tape:gradient(mx, x), { { 0, 0.5, 0.5, 0 }, { 1 / 3, 1 / 3, 1 / 3, 0 } })
    H.assert_close(tape:gradient(mn, x), { { 0, 0, 0, 0 }, { 0, 0, 0, 1 } })
  end)

  it("reduce_prod is exact with one zero (the product of the others) and with two (all zero)", function()
    local x = tf.constant({ { 2.0, 0.0, 3.0 }, { 0.0, 4.0, 0.0 }, { 2.0, -1.0, 0.5 } }, tf.float64)
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = tf.reduce_prod(x, 1)
    H.assert_close(tape:gradient(y, x), { { 0, 6, 0 }, { 0, 0, 0 }, { -0.5, 1, -2 } })
  end)

  it("cumprod is exact with zeros (no 0/0)", function()
    local x = tf.constant({ 2.0, 0.0, 3.0, 0.0, 5.0 }, tf.float64)
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = tf.math.cumprod(x)
    -- d sum(y) / dx_1 = 1 + 0 ...; at the first zero: 2 + 2*3 + 0 + 0 = 8; after it: 0
    H.assert_close(tape:gradient(y, x), { 1, 8, 0, 0, 0 })
  end)

  it("dropout's gradient is its mask scaled by 1/(1-rate), also where x is 0", function()
    tf.random.set_seed(11)
    local ones = tf.nn.dropout(tf.ones({ 64 }, tf.float64), 0.5, { seed = 5 })
    tf.random.set_seed(11)
    local x = tf.concat({ tf.zeros({ 32 }, tf.float64), tf.ones({ 32 }, tf.float64) }, 0)
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = tf.nn.dropout(x, 0.5, { seed = 5 })
    H.assert_close(tape:gradient(y, x), ones)
    local kept = tf.reduce_sum(ones):item()
    assert.is_true(kept > 0 and kept < 128)
  end)

  it("dropout returns one value in Lua (its mask stays hidden)", function()
    assert.equal(1, select("#", tf.nn.dropout(tf.ones({ 4 }), 0.5)))
  end)

  it("bias_add's bias gradient sums every axis but the channel one", function()
    local v = tf.reshape(tf.range(24.0), { 2, 3, 4 })
    local b3, b4 = tf.zeros({ 3 }), tf.zeros({ 4 })
    local tape = tf.GradientTape({ persistent = true })
    tape:watch(b3)
    tape:watch(b4)
    local yc = tf.nn.bias_add(v, b3, "NCHW")
    local yl = tf.nn.bias_add(v, b4)
    H.assert_close(tape:gradient(yc, b3), { 8, 8, 8 })
    H.assert_close(tape:gradient(yl, b4), { 6, 6, 6, 6 })
  end)

  it("softmax_cross_entropy_with_logits: TF's softmax - labels for normalised labels; -log_softmax for labels", function()
    local x = t64(X, S46)
    local z = tf.nn.softmax(t64(Z, S46))
    local tape = tf.GradientTape()
    tape:watch(x)
    tape:watch(z)
    local loss = tf.nn.softmax_cross_entropy_with_logits(z, x)
    local g = tape:gradient(loss, { x, z })
    H.assert_close(g[1], tf.nn.softmax(x) - z, 1e-12, 1e-14)
    H.assert_close(g[2], -tf.nn.log_softmax(x), 1e-12, 1e-14)
  end)

  for _, dt in ipairs({ "float32", "float64" }) do
    it("the fused sparse cross-entropy backward equals (softmax - one_hot) * g in " .. dt, function()
      local x = tf.reshape(tf.constant(X, tf[dt]), S46)
      local labels = tf.constant(LABELS, tf.int64)
      local g = tf.constant({ 0.5, -1.0, 2.0, 0.25 }, tf[dt])
      local fused = tf.raw_ops.sparse_softmax_cross_entropy_grad(labels, x, g)
      local composed = (tf.nn.softmax(x) - tf.one_hot(labels, 6, { dtype = tf[dt] })) * tf.expand_dims(g, -1)
      assert.equal(dt, fused.dtype.name)
      H.assert_close(fused, composed, dt == "float32" and 1e-6 or 1e-14, 1e-7)
      local tape = tf.GradientTape()
      tape:watch(x)
      local loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, x))
      H.assert_close(tape:gradient(loss, x), (tf.nn.softmax(x) - tf.one_hot(labels, 6, { dtype = tf[dt] })) / 4,
        dt == "float32" and 1e-6 or 1e-14, 1e-7)
    end)
  end

  it("the fused sparse cross-entropy backward rejects bad labels and shapes", function()
    local x = tf.zeros({ 2, 3 })
    H.assert_error("InvalidArgument", { "sparse_softmax_cross_entropy_grad", "label value of 3" },
      tf.raw_ops.sparse_softmax_cross_entropy_grad, tf.constant({ 0, 3 }), x, tf.ones({ 2 }))
    H.assert_error("InvalidArgument", { "sparse_softmax_cross_entropy_grad", "grad" },
      tf.raw_ops.sparse_softmax_cross_entropy_grad, tf.constant({ 0, 1 }), x, tf.ones({ 3 }))
  end)
end)

describe("second derivatives match PyTorch's double backward", function()
  for _, c in ipairs(cases) do
    local name, f, torch_f, xvals, shape, oshape, extra = table.unpack(c)
    it(name, function()
      local n = count(oshape)
      local wvals = { table.unpack(W, 1, n) }
      local x = t64(xvals, shape)
      local w = #oshape == 0 and tf.constant(W[1], tf.float64) or t64(wvals, oshape)
      local vvals = { table.unpack(V, 1, count(shape)) }
      local g, h = hvp(f, x, w, t64(vvals, shape))
      local ref = torch_hvp(torch_f, xvals, shape, #oshape == 0 and { W[1] } or wvals, oshape, vvals, extra)
      H.assert_close(g, ref[1], 1e-10, 1e-12)
      H.assert_close(h, ref[2], 1e-9, 1e-11)
    end)
  end

  it("logsumexp's Hessian is diag(p) - p p^T (hand-derived)", function()
    local xs = { 0.5, -1.0, 2.0 }
    local x = tf.constant(xs, tf.float64)
    local outer = tf.GradientTape({ persistent = true })
    outer:watch(x)
    local inner = tf.GradientTape()
    inner:watch(x)
    local y = tf.reduce_logsumexp(x)
    local g = inner:gradient(y, x)
    local hess = outer:jacobian(g, x)
    local e, s = {}, 0
    for i, v in ipairs(xs) do e[i] = math.exp(v); s = s + e[i] end
    local want = {}
    for i = 1, 3 do
      want[i] = {}
      for j = 1, 3 do want[i][j] = (i == j and e[i] / s or 0) - e[i] * e[j] / (s * s) end
    end
    H.assert_close(hess, want, 1e-12, 1e-14)
  end)
end)
