-- Neural-network ops against numpy/PyTorch: softmax family, cross entropies,
-- l2_loss, dropout statistics and seeding, bias_add.
local tf = require("tlua")
local helpers = require("helpers")
local assert_error = helpers.assert_error

local function shape_of(t) return t.shape:as_list() end

local function pylist(vals)
  local p = {}
  for i, v in ipairs(vals) do p[i] = ("%.17g"):format(v) end
  return "[" .. table.concat(p, ",") .. "]"
end

local VALS = {}
for i = 1, 60 do VALS[i] = math.sin(i * 1.7) * 4 end
local function logits(dtype) return tf.reshape(tf.constant(VALS, dtype), { 3, 4, 5 }) end

describe("softmax and log_softmax", function()
  for _, dt in ipairs({ "float32", "float64" }) do
    it("match PyTorch along every axis (" .. dt .. ")", function()
      local ref = helpers.python("import torch\nx = torch.tensor(" .. pylist(VALS) .. ", dtype=torch.float64).reshape(3,4,5)\n" ..
        "out = [[torch.softmax(x, a).numpy(), torch.log_softmax(x, a).numpy()] for a in (-1, 0, 1)]")
      local x = logits(tf[dt])
      local tol = dt == "float32" and 2e-6 or 1e-12
      for i, ax in ipairs({ -1, 0, 1 }) do
        local s = tf.nn.softmax(x, ax)
        assert.equal(dt, s.dtype.name)
        helpers.assert_close(s, ref[i][1], tol, 1e-7)
        helpers.assert_close(tf.nn.log_softmax(x, { axis = ax }), ref[i][2], tol, 1e-6)
      end
      helpers.assert_close(tf.math.softmax(x), ref[1][1], tol, 1e-7)
      helpers.assert_close(x:log_softmax(), ref[1][2], tol, 1e-6)
    end)
  end

  it("rows of a large matrix sum to one and match PyTorch", function()
    local x = tf.random.normal({ 300, 1000 }, { seed = 3 }) * 5
    local s = tf.nn.softmax(x)
    local sums = tf.reduce_sum(s, 1):totable()
    for i = 1, 300 do assert(math.abs(sums[i] - 1) < 1e-5) end
    local first = x[0]:totable()
    local ref = helpers.python("import torch\nout = torch.softmax(torch.tensor(" .. pylist(first) .. ", dtype=torch.float64), 0).numpy()")
    helpers.assert_close(s[0], ref, 1e-5, 1e-9)
    local col = tf.nn.softmax(x, 0)
    local csum = tf.reduce_sum(col, 0):totable()
    for i = 1, 1000, 97 do assert(math.abs(csum[i] - 1) < 1e-5) end
  end)

  it("is stable for large logits and gives 0 for -inf", function()
    helpers.assert_close(tf.nn.softmax(tf.constant({ 1000.0, 1001, 1002 })), { 0.09003057, 0.24472847, 0.66524096 }, 1e-6)
    helpers.assert_close(tf.nn.log_softmax(tf.constant({ -1000.0, -1001 })), { -0.31326169, -1.31326169 }, 1e-6)
    assert.same({ 0, 1, 0 }, tf.nn.softmax(tf.constant({ -math.huge, 3.0, -math.huge })):totable())
    local r = tf.nn.softmax(tf.constant({ 0 / 0, 1.0 })):totable()
    assert(r[1] ~= r[1] and r[2] ~= r[2], "NaN spreads over its row")
  end)

  it("handles float16, empty and size-one axes", function()
    local h = tf.nn.softmax(tf.constant({ 0.0, 0 }, tf.float16))
    assert.equal("float16", h.dtype.name)
    assert.same({ 0.5, 0.5 }, h:totable())
    assert.same({ 0, 3 }, shape_of(tf.nn.softmax(tf.zeros({ 0, 3 }))))
    assert.same({ { 1 }, { 1 } }, tf.nn.softmax(tf.zeros({ 2, 1 })):totable())
    assert.same({ 2, 0 }, shape_of(tf.nn.log_softmax(tf.zeros({ 2, 0 }))))
  end)

  it("works on non-contiguous views", function()
    local x = logits()
    local t = tf.transpose(x, { 2, 0, 1 })
    helpers.assert_close(tf.nn.softmax(t), tf.transpose(tf.nn.softmax(x, 1), { 2, 0, 1 }), 1e-6, 1e-7)
  end)

  it("reports bad axes and dtypes", function()
    assert_error("InvalidArgument", { "softmax: float32[2,3]: ", "axis 2 is out of range", "rank 2" }, tf.nn.softmax, tf.zeros({ 2, 3 }), 2)
    assert_error("InvalidArgument", { "log_softmax", "scalar" }, tf.nn.log_softmax, tf.constant(1.0))
    assert_error("Unimplemented", { "softmax", "int32" }, tf.nn.softmax, tf.constant({ 1, 2 }))
  end)
end)

describe("sparse_softmax_cross_entropy_with_logits", function()
  it("matches PyTorch cross_entropy per example", function()
    local labels = { 2, 0, 4, 1, 3, 3, 0, 1, 2, 4, 4, 0 }
    local ref = helpers.python("import torch\nx = torch.tensor(" .. pylist(VALS) .. ", dtype=torch.float64).reshape(12, 5)\n" ..
      "out = torch.nn.functional.cross_entropy(x, torch.tensor(" .. pylist(labels) .. "), reduction='none').reshape(3, 4).numpy()")
    local lab = tf.reshape(tf.constant(labels), { 3, 4 })
    for _, dt in ipairs({ "float32", "float64" }) do
      local loss = tf.nn.sparse_softmax_cross_entropy_with_logits(lab, logits(tf[dt]))
      assert.equal(dt, loss.dtype.name)
      assert.same({ 3, 4 }, shape_of(loss))
      helpers.assert_close(loss, ref, dt == "float32" and 1e-6 or 1e-12, 1e-6)
    end
    local l64 = tf.nn.sparse_softmax_cross_entropy_with_logits({ labels = tf.cast(lab, tf.int64), logits = logits() })
    helpers.assert_close(l64, ref, 1e-6, 1e-6)
  end)

  it("is stable for large logits", function()
    local l = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant({ 0, 1 }), tf.constant({ { 1000.0, 0 }, { 1000, 0 } }))
    helpers.assert_close(l, { 0, 1000 }, 1e-6)
  end)

  it("rejects labels out of range and mismatched shapes", function()
    local x = tf.zeros({ 2, 3 })
    assert_error("InvalidArgument", { "sparse_softmax_cross_entropy_with_logits", "int32[2], float32[2,3]",
      "label value of 3", "[0, 3)" }, tf.nn.sparse_softmax_cross_entropy_with_logits, tf.constant({ 0, 3 }), x)
    assert_error("InvalidArgument", { "label value of -1" }, tf.nn.sparse_softmax_cross_entropy_with_logits, tf.constant({ -1, 0 }), x)
    assert_error("InvalidArgument", { "labels shape [3]", "[2,3]" }, tf.nn.sparse_softmax_cross_entropy_with_logits, tf.constant({ 0, 1, 2 }), x)
    assert_error("InvalidArgument", { "labels must be int32 or int64", "float32" },
      tf.nn.sparse_softmax_cross_entropy_with_logits, tf.constant({ 0.0, 1 }), x)
  end)
end)

describe("softmax_cross_entropy_with_logits", function()
  it("matches numpy for probability labels, on the last and a middle axis", function()
    local probs = {}
    for i = 1, 60 do probs[i] = ((i * 7) % 5) / 10 end
    local ref = helpers.python("x = np.array(" .. pylist(VALS) .. ").reshape(3,4,5)\nz = np.array(" .. pylist(probs) .. ").reshape(3,4,5)\n" ..
      "def ls(a, ax):\n  m = a.max(ax, keepdims=True)\n  return a - m - np.log(np.exp(a - m).sum(ax, keepdims=True))\n" ..
      "out = [-(z * ls(x, -1)).sum(-1), -(z * ls(x, 1)).sum(1)]")
    local z = tf.reshape(tf.constant(probs), { 3, 4, 5 })
    helpers.assert_close(tf.nn.softmax_cross_entropy_with_logits(z, logits()), ref[1], 1e-5, 1e-6)
    helpers.assert_close(tf.nn.softmax_cross_entropy_with_logits(z, logits(), 1), ref[2], 1e-5, 1e-6)
    local z64 = tf.reshape(tf.constant(probs, tf.float64), { 3, 4, 5 })
    helpers.assert_close(tf.nn.softmax_cross_entropy_with_logits({ labels = z64, logits = logits(tf.float64), axis = 1 }),
      ref[2], 1e-12, 1e-12)
  end)

  it("reports mismatched shapes and dtypes", function()
    assert_error("InvalidArgument", { "softmax_cross_entropy_with_logits", "[2,4]", "[2,3]" },
      tf.nn.softmax_cross_entropy_with_logits, tf.zeros({ 2, 4 }), tf.zeros({ 2, 3 }))
    assert_error("InvalidArgument", { "different dtypes" }, tf.nn.softmax_cross_entropy_with_logits,
      tf.zeros({ 2, 3 }, tf.float64), tf.zeros({ 2, 3 }))
  end)
end)

describe("sigmoid_cross_entropy_with_logits", function()
  it("matches the stable formula in float64 numpy, including large logits", function()
    local x = { -100.0, -3, -0.5, 0, 0.5, 3, 100, 20 }
    local z = { 0.0, 1, 0.25, 1, 0, 0.5, 0, 1 }
    local ref = helpers.python("import torch\nout = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(" .. pylist(x) ..
      ", dtype=torch.float64), torch.tensor(" .. pylist(z) .. ", dtype=torch.float64), reduction='none').numpy()")
    helpers.assert_close(tf.nn.sigmoid_cross_entropy_with_logits(tf.constant(z), tf.constant(x)), ref, 1e-6, 1e-6)
    helpers.assert_close(tf.nn.sigmoid_cross_entropy_with_logits({ labels = tf.constant(z, tf.float64), logits = tf.constant(x, tf.float64) }), ref, 1e-12, 1e-12)
  end)

  it("requires equal shapes", function()
    assert_error("InvalidArgument", { "sigmoid_cross_entropy_with_logits", "same shape", "[2]", "[3]" },
      tf.nn.sigmoid_cross_entropy_with_logits, tf.zeros({ 3 }), tf.zeros({ 2 }))
  end)
end)

describe("l2_loss", function()
  it("is sum(x^2)/2 as a scalar", function()
    local r = tf.nn.l2_loss(tf.constant({ { 1.0, 2 }, { 3, 4 } }))
    assert.same({}, shape_of(r))
    assert.equal(15, r:item())
    assert.equal(0, tf.nn.l2_loss(tf.zeros({ 0 })):item())
    local x = tf.random.uniform({ 100000 }, { seed = 5 })
    local ref = tf.reduce_sum(tf.cast(x, tf.float64) * tf.cast(x, tf.float64)):item() / 2
    assert(math.abs(tf.nn.l2_loss(x):item() - ref) / ref < 1e-6)
    assert.equal(7.5, tf.nn.l2_loss(tf.transpose(tf.constant({ { 1.0, 2 }, { 1, 3 } }))):item())
    assert_error("Unimplemented", { "l2_loss", "int32" }, tf.nn.l2_loss, tf.constant({ 1, 2 }))
  end)
end)

describe("dropout", function()
  it("keeps about 1-rate of the elements, scaled by 1/(1-rate)", function()
    local n = 200000
    local x = tf.ones({ n })
    for _, rate in ipairs({ 0.1, 0.5, 0.8 }) do
      local y = tf.nn.dropout(x, rate)
      local kept = tf.math.count_nonzero(y):item()
      assert(math.abs(kept / n - (1 - rate)) < 0.01, ("rate %g kept %g"):format(rate, kept / n))
      helpers.assert_close(tf.reduce_max(y):item(), 1 / (1 - rate), 1e-6)
      helpers.assert_close(tf.reduce_min(y):item(), 0)
      -- the expectation is preserved
      assert(math.abs(tf.reduce_mean(y):item() - 1) < 0.03)
    end
  end)

  it("scales the kept values of x, zeroes the others", function()
    local x = tf.reshape(tf.range(1, 1001, 1, { dtype = tf.float32 }), { 10, 100 })
    local y = tf.nn.dropout(x, 0.25):totable()
    local xs = x:totable()
    for i = 1, 10 do for j = 1, 100 do
      assert(y[i][j] == 0 or math.abs(y[i][j] - xs[i][j] / 0.75) < 1e-4)
    end end
  end)

  it("is reproducible with the global seed and an op seed", function()
    local x = tf.ones({ 1000 })
    tf.random.set_seed(42)
    local a1, a2 = tf.nn.dropout(x, 0.5, { seed = 1 }), tf.nn.dropout(x, 0.5, { seed = 1 })
    tf.random.set_seed(42)
    local b1, b2 = tf.nn.dropout(x, 0.5, { seed = 1 }), tf.nn.dropout(x, 0.5, { seed = 1 })
    assert.same(a1:totable(), b1:totable())
    assert.same(a2:totable(), b2:totable())
    assert.are_not.same(a1:totable(), a2:totable())
    tf.random.set_seed(42)
    local g1 = tf.nn.dropout(x, 0.5)
    tf.random.set_seed(42)
    assert.same(g1:totable(), tf.nn.dropout(x, 0.5):totable())
  end)

  it("does not depend on the thread count", function()
    local x = tf.ones({ 50000 })
    local n = tf.core.num_threads()
    tf.random.set_seed(9)
    local a = tf.nn.dropout(x, 0.3, { seed = 2 })
    tf.core.set_num_threads(1)
    tf.random.set_seed(9)
    local b = tf.nn.dropout(x, 0.3, { seed = 2 })
    tf.core.set_num_threads(n)
    assert.equal(0, tf.reduce_sum(tf.abs(a - b)):item())
  end)

  it("broadcasts the mask along noise_shape dims of size 1", function()
    local x = tf.ones({ 50, 8 })
    local y = tf.nn.dropout(x, 0.5, { noise_shape = { 50, 1 } }):totable()
    local zeros = 0
    for i = 1, 50 do
      for j = 2, 8 do assert.equal(y[i][1], y[i][j]) end
      if y[i][1] == 0 then zeros = zeros + 1 end
    end
    assert(zeros > 5 and zeros < 45)
  end)

  it("is the identity at rate 0 and supports float64", function()
    local x = tf.constant({ 1.0, 2, 3 })
    assert.same({ 1, 2, 3 }, tf.nn.dropout(x, 0):totable())
    assert.equal("float64", tf.nn.dropout(tf.ones({ 4 }, tf.float64), 0.5).dtype.name)
    assert.same({ 0 }, shape_of(tf.nn.dropout(tf.zeros({ 0 }), 0.5)))
  end)

  it("rejects bad rates, noise shapes and dtypes", function()
    local x = tf.ones({ 4, 2 })
    assert_error("InvalidArgument", { "dropout", "rate must be", "[0, 1)", "got 1" }, tf.nn.dropout, x, 1.0)
    assert_error("InvalidArgument", { "rate must be", "-0.1" }, tf.nn.dropout, x, -0.1)
    assert_error("InvalidArgument", { "noise_shape [4,3]", "[4,2]" }, tf.nn.dropout, x, 0.5, { noise_shape = { 4, 3 } })
    assert_error("Unimplemented", { "dropout", "int32" }, tf.nn.dropout, tf.constant({ 1, 2 }), 0.5)
  end)
end)

describe("bias_add", function()
  it("adds along the channel axis (NHWC and NCHW)", function()
    local x = tf.reshape(tf.range(24, nil, nil, { dtype = tf.float32 }), { 2, 3, 4 })
    local ref = helpers.python("x = np.arange(24, dtype=np.float32).reshape(2,3,4)\n" ..
      "out = [x + np.array([1, 2, 3, 4]), x + np.array([10, 20, 30]).reshape(3, 1)]")
    assert.same(ref[1], tf.nn.bias_add(x, tf.constant({ 1.0, 2, 3, 4 })):totable())
    assert.same(ref[2], tf.nn.bias_add(x, tf.constant({ 10.0, 20, 30 }), "NCHW"):totable())
    assert.same({ { 2, 4 } }, tf.nn.bias_add(tf.constant({ { 1, 2 } }), tf.constant({ 1, 2 })):totable())
    assert_error("InvalidArgument", { "bias_add", "bias must be a vector of the 4 channels" },
      tf.nn.bias_add, x, tf.constant({ 1.0, 2 }))
  end)
end)

-- float32 rows shorter than 64 along the last axis take a blocked path (rows
-- in blocks, one flat exp loop); padding a row with -inf columns to 64 or
-- more sends the same values through the row-at-a-time path.
describe("short rows (blocked float32 path)", function()
  local function padded(x, width)
    local n, c = x.shape[0], x.shape[1]
    return tf.concat({ x, tf.fill({ n, width - c }, -math.huge) }, 1), n, c
  end
  local function head(t, n, c) return tf.slice(t, { 0, 0 }, { n, c }) end
  local function with_specials(n, c, seed)
    local v = (tf.random.normal({ n, c }, { seed = seed }) * 4):totable()
    v[1][1] = 0 / 0                                  -- NaN row
    for j = 1, c do v[2][j] = -math.huge end         -- all -inf: NaN row
    v[3][1] = -math.huge                             -- one -inf: probability 0
    v[4][c] = 1e30                                   -- one huge logit
    if c > 1 then v[5][1], v[5][2] = 88, -88 end
    return tf.constant(v)
  end

  for _, shp in ipairs({ { 256, 10 }, { 32, 10 }, { 7, 1 }, { 20000, 3 }, { 300, 63 }, { 50, 2 } }) do
    local n, c = shp[1], shp[2]
    it(("matches the row path and float64 (%dx%d)"):format(n, c), function()
      local x = n >= 5 and c >= 2 and with_specials(n, c, n + c) or tf.random.normal({ n, c }, { seed = 7 })
      local xp = padded(x, 64 + c)
      local lab = tf.random.uniform({ n }, 0, c, tf.int32, { seed = 11 })
      local z = tf.nn.softmax(tf.random.normal({ n, c }, { seed = 12 }))
      local zp = tf.concat({ z, tf.zeros({ n, 64 }) }, 1)
      local x64 = tf.cast(x, tf.float64)
      -- (log_softmax near 0 is (x - m) - log(s): one ulp of s is ~1e-7 absolute)
      for f, atol in pairs({ [tf.nn.softmax] = 1e-7, [tf.nn.log_softmax] = 1e-6 }) do
        local s = f(x)
        helpers.assert_close(s, head(f(xp), n, c), 2e-6, atol)
        helpers.assert_close(s, tf.cast(f(x64), tf.float32), 2e-6, 1e-6)
      end
      local sx = tf.nn.sparse_softmax_cross_entropy_with_logits(lab, x)
      helpers.assert_close(sx, tf.nn.sparse_softmax_cross_entropy_with_logits(lab, xp), 2e-6, 1e-6)
      helpers.assert_close(sx, tf.cast(tf.nn.sparse_softmax_cross_entropy_with_logits(lab, x64), tf.float32), 2e-6, 1e-6)
      local dx = tf.nn.softmax_cross_entropy_with_logits(z, x)
      helpers.assert_close(dx, tf.nn.softmax_cross_entropy_with_logits(zp, xp), 2e-6, 1e-6)
      -- the fused backward of the sparse loss
      local g = tf.random.uniform({ n }, { seed = 13 })
      local gr = tf.raw_ops.sparse_softmax_cross_entropy_grad(lab, x, g)
      helpers.assert_close(gr, head(tf.raw_ops.sparse_softmax_cross_entropy_grad(lab, xp, g), n, c), 2e-6, 1e-6)
      helpers.assert_close(gr, tf.cast(tf.raw_ops.sparse_softmax_cross_entropy_grad(lab, x64, tf.cast(g, tf.float64)),
        tf.float32), 2e-6, 1e-6)
    end)
  end

  it("matches numpy on the MLP's logits shape", function()
    local x = tf.random.normal({ 256, 10 }, { seed = 5 }) * 3
    local vals = x:totable()
    local flat = {}
    for i = 1, 256 do for j = 1, 10 do flat[#flat + 1] = vals[i][j] end end
    local ref = helpers.numpy("x = np.array(" .. pylist(flat) .. ", dtype=np.float64).reshape(256, 10)\n" ..
      "m = x.max(1, keepdims=True); e = np.exp(x - m); s = e.sum(1, keepdims=True)\n" ..
      "out = [e / s, (x - m) - np.log(s)]")
    helpers.assert_close(tf.nn.softmax(x), ref[1], 2e-6, 1e-7)
    helpers.assert_close(tf.nn.log_softmax(x), ref[2], 2e-6, 1e-6)
  end)
end)

describe("nn shape rules", function()
  require("case_devices").spec(it, "nn")
end)
