-- The issue-11 compositions in tlua.math_extra and tlua.einsum: einsum
-- against numpy (every equation form), the segment reductions, roll,
-- repeat, sequence_mask, meshgrid, the x*/no_nan family, polyval,
-- l2_normalize, the clipping helpers; float64 gradchecks; error paths.
-- Expected values are numpy's (run at test time) or hand-computed.
local tf = require("tlua")
local helpers = require("helpers")
local gradcheck = require("gradcheck")
local assert_close, assert_error = helpers.assert_close, helpers.assert_error

local function rand(shape, seed)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  local v, s = {}, seed
  for i = 1, n do
    s = (s * 1103515245 + 12345) % 2147483648
    v[i] = s / 1073741824 - 1
  end
  return tf.reshape(tf.constant(v, tf.float64), shape)
end

local function py(x)
  if type(x) == "userdata" then x = x:totable() end
  if type(x) ~= "table" then return ("%.17g"):format(x) end
  local p = {}
  for i, v in ipairs(x) do p[i] = py(v) end
  return "[" .. table.concat(p, ",") .. "]"
end

local function grad_ok(fn, inputs, tol)
  local err, where = gradcheck.check(fn, inputs)
  assert(err < (tol or 1e-6), ("gradient error %g at %s"):format(err, tostring(where)))
end

describe("tf.einsum", function()
  local cases = {
    { "ij,jk->ik", { { 2, 3 }, { 3, 4 } } }, { "ij,jk", { { 2, 3 }, { 3, 4 } } },
    { "ij->ji", { { 2, 3 } } }, { "ij->", { { 2, 3 } } }, { "ij", { { 2, 3 } } }, { "ji", { { 2, 3 } } },
    { "ii->i", { { 3, 3 } } }, { "ii", { { 3, 3 } } }, { "iij->ij", { { 2, 2, 3 } } },
    { "bij,bjk->bik", { { 2, 2, 3 }, { 2, 3, 4 } } },
    { "...ij,...jk->...ik", { { 5, 2, 2, 3 }, { 2, 3, 4 } } },
    { "...ij,...jk", { { 5, 2, 2, 3 }, { 2, 3, 4 } } },
    { "...i,...i->...", { { 1, 3, 4 }, { 2, 1, 4 } } },
    { "i...->...", { { 3, 2, 2 } } },
    { "i,j->ij", { { 3 }, { 4 } } }, { "i,i->", { { 3 }, { 3 } } }, { "i,i", { { 3 }, { 3 } } },
    { "bhqd,bhkd->bhqk", { { 2, 3, 4, 5 }, { 2, 3, 6, 5 } } },
    { "ij,jk,kl->il", { { 2, 3 }, { 3, 4 }, { 4, 5 } } },
    { "ba,ca->bc", { { 2, 3 }, { 4, 3 } } }, { "ijk->kij", { { 2, 3, 4 } } },
    { "ab,cd->abcd", { { 2, 1 }, { 1, 3 } } }, { "ij,ij->ij", { { 2, 3 }, { 2, 3 } } },
    { "ij,ij->i", { { 2, 3 }, { 2, 3 } } }, { "ij,k->", { { 2, 3 }, { 4 } } },
    { "b i j , b j k -> b i k", { { 2, 2, 3 }, { 2, 3, 4 } } },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. " matches numpy", function()
      local args, lits = {}, {}
      for i, s in ipairs(c[2]) do
        args[i] = rand(s, i * 7 + #c[1])
        lits[i] = "np.array(" .. py(args[i]) .. ").reshape(" .. py(s) .. ")"
      end
      local got = tf.einsum(c[1], table.unpack(args))
      local want = helpers.python(("out = np.einsum(%q, %s)"):format(c[1], table.concat(lits, ",")))
      local shape = helpers.python(("out = list(np.einsum(%q, %s).shape)"):format(c[1], table.concat(lits, ",")))
      assert.are.same(shape, got.shape:as_list())
      assert_close(got, want, 1e-12, 1e-12)
    end)
  end

  it("has matmul/transpose gradients (float64 gradcheck)", function()
    grad_ok(function(a, b) return tf.einsum("bij,bjk->bik", a, b) end, { rand({ 2, 2, 3 }, 1), rand({ 2, 3, 4 }, 2) })
    grad_ok(function(a, b) return tf.einsum("...i,...i->...", a, b) end, { rand({ 1, 3, 4 }, 3), rand({ 2, 1, 4 }, 4) })
    grad_ok(function(a) return tf.einsum("ii->i", a) end, { rand({ 3, 3 }, 5) })
    grad_ok(function(a, b, c) return tf.einsum("ij,jk,kl->il", a, b, c) end,
      { rand({ 2, 3 }, 6), rand({ 3, 4 }, 7), rand({ 4, 2 }, 8) })
  end)

  it("works on float32 and takes Lua operands", function()
    local r = tf.einsum("i,i->", tf.constant({ 1.0, 2.0 }), { 3.0, 4.0 })
    assert.are.equal(tf.float32, r.dtype)
    assert.are.equal(11, r:item())
  end)

  it("rejects bad equations", function()
    local a = tf.ones({ 2, 3 })
    assert_error("InvalidArgument", { "einsum", "2 inputs but 1 operands" }, tf.einsum, "ij,jk->ik", a)
    assert_error("InvalidArgument", { "einsum", "rank 2", "3 labels" }, tf.einsum, "ijk->i", a)
    assert_error("InvalidArgument", { "einsum", "label j has sizes 3 and 2" }, tf.einsum, "ij,jk->ik", a, a)
    assert_error("InvalidArgument", { "output label z appears in no input" }, tf.einsum, "ij->z", a)
    assert_error("InvalidArgument", { "output label i appears more than once" }, tf.einsum, "ij->ii", a)
    assert_error("InvalidArgument", { "invalid character" }, tf.einsum, "i1->i", a)
    assert_error("InvalidArgument", { "more than one ellipsis" }, tf.einsum, "......->", a)
    assert_error("InvalidArgument", { "at least one operand" }, tf.einsum, "ij")
  end)
end)

describe("segment reductions", function()
  local d = tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 }, { 5.0, 6.0 } })
  local ids = tf.constant({ 0, 0, 2 })
  it("sorted: sum/mean/prod/max/min with an empty segment", function()
    assert_close(tf.math.segment_sum(d, ids), { { 4, 6 }, { 0, 0 }, { 5, 6 } })
    assert_close(tf.math.segment_mean(d, ids), { { 2, 3 }, { 0, 0 }, { 5, 6 } })
    assert_close(tf.math.segment_prod(d, ids), { { 3, 8 }, { 1, 1 }, { 5, 6 } })
    assert_close(tf.math.segment_max(d, ids), { { 3, 4 }, { 0, 0 }, { 5, 6 } })
    assert_close(tf.math.segment_min(d, ids), { { 1, 2 }, { 0, 0 }, { 5, 6 } })
    assert_close(tf.math.segment_sum(tf.constant({ 1, 2, 3, 4 }), tf.constant({ 0, 1, 1, 1 })), { 1, 9 })
  end)
  it("sorted: errors", function()
    assert_error("InvalidArgument", { "segment_sum", "not increasing", "index 2" }, tf.math.segment_sum, d, tf.constant({ 0, 1, 0 }))
    assert_error("InvalidArgument", { "segment_max", "negative" }, tf.math.segment_max, d, tf.constant({ -1, 0, 0 }))
    assert_error("InvalidArgument", { "segment_mean", "same size as dimension 0" }, tf.math.segment_mean, d, tf.constant({ 0, 0 }))
  end)
  it("unsorted mean and sqrt_n", function()
    local u = tf.constant({ 1, 1, 0 })
    assert_close(tf.math.unsorted_segment_mean(d, u, 3), { { 5, 6 }, { 2, 3 }, { 0, 0 } })
    assert_close(tf.math.unsorted_segment_sqrt_n(d, u, 2), { { 5, 6 }, { 4 / math.sqrt(2), 6 / math.sqrt(2) } })
  end)
  it("gradients (float64)", function()
    local x = rand({ 4, 2 }, 11)
    local s = tf.constant({ 0, 0, 1, 3 })
    grad_ok(function(a) return tf.math.segment_sum(a, s) end, { x })
    grad_ok(function(a) return tf.math.segment_mean(a, s) end, { x })
    grad_ok(function(a) return tf.math.segment_max(a, s) end, { x })
    grad_ok(function(a) return tf.math.unsorted_segment_mean(a, tf.constant({ 2, 0, 2, 1 }), 3) end, { x })
    grad_ok(function(a) return tf.math.unsorted_segment_sqrt_n(a, tf.constant({ 2, 0, 2, 1 }), 3) end, { x })
  end)
end)

describe("roll, repeat, sequence_mask, meshgrid", function()
  it("roll matches numpy", function()
    local x = tf.reshape(tf.range(12), { 3, 4 })
    assert.are.same(helpers.python("out = np.roll(np.arange(12).reshape(3,4), (1,-1), axis=(0,1))"),
      tf.roll(x, { 1, -1 }, { 0, 1 }):totable())
    assert.are.same(helpers.python("out = np.roll(np.arange(12).reshape(3,4), 7, axis=1)"), tf.roll(x, 7, 1):totable())
    assert.are.same(helpers.python("out = np.roll(np.arange(12).reshape(3,4), 5, axis=-1)"), tf.roll(x, { 2, 3 }, { 1, 1 }):totable())
    assert.are.same({ 3, 4, 0, 1, 2 }, tf.roll(tf.range(5), 2, 0):totable())
    assert_error("InvalidArgument", { "roll", "same size" }, tf.roll, x, { 1, 2 }, { 0 })
    assert_error("InvalidArgument", { "roll", "axis 2 is out of range" }, tf.roll, x, 1, 2)
    grad_ok(function(a) return tf.roll(a, { 1, 2 }, { 0, 1 }) end, { rand({ 3, 4 }, 3) })
  end)
  it("repeat (tf[\"repeat\"]) matches numpy", function()
    local x = tf.constant({ { 1, 2 }, { 3, 4 } })
    assert.are.same(helpers.python("out = np.repeat(np.array([[1,2],[3,4]]), 2)"), tf["repeat"](x, 2):totable())
    assert.are.same(helpers.python("out = np.repeat(np.array([[1,2],[3,4]]), [1,2], axis=0)"), tf["repeat"](x, { 1, 2 }, 0):totable())
    assert.are.same(helpers.python("out = np.repeat(np.array([[1,2],[3,4]]), [0,3], axis=1)"), tf["repeat"](x, { 0, 3 }, { axis = 1 }):totable())
    assert_error("InvalidArgument", { "repeat", "3 entries", "size 2" }, tf["repeat"], x, { 1, 2, 3 }, 0)
    assert_error("InvalidArgument", { "repeat", "negative" }, tf["repeat"], x, { 1, -2 }, 0)
    grad_ok(function(a) return tf["repeat"](a, { 2, 0, 1 }, 1) end, { rand({ 2, 3 }, 4) })
  end)
  it("sequence_mask", function()
    -- TensorFlow's documented example
    assert.are.same({ { true, false, false, false, false }, { true, true, true, false, false }, { true, true, false, false, false } },
      tf.sequence_mask(tf.constant({ 1, 3, 2 }), 5):totable())
    local m = tf.sequence_mask(tf.constant({ { 1, 3 }, { 2, 0 } }), { dtype = tf.float32 })
    assert.are.same({ 2, 2, 3 }, m.shape:as_list())
    assert.are.same({ { { 1, 0, 0 }, { 1, 1, 1 } }, { { 1, 1, 0 }, { 0, 0, 0 } } }, m:totable())
    assert_error("InvalidArgument", { "sequence_mask", "non-negative" }, tf.sequence_mask, tf.constant({ 1 }), -1)
  end)
  it("meshgrid xy and ij match numpy", function()
    local a, b = tf.constant({ 1, 2, 3 }), tf.constant({ 4, 5 })
    local g = tf.meshgrid(a, b)
    local want = helpers.python("out = np.meshgrid([1,2,3],[4,5])")
    assert.are.same(want[1], g[1]:totable()); assert.are.same(want[2], g[2]:totable())
    g = tf.meshgrid(a, b, tf.constant({ 7, 8, 9, 10 }), { indexing = "ij" })
    want = helpers.python("out = np.meshgrid([1,2,3],[4,5],[7,8,9,10], indexing='ij')")
    for i = 1, 3 do assert.are.same(want[i], g[i]:totable()) end
    g = tf.meshgrid(a, b, tf.constant({ 7, 8, 9, 10 }))
    want = helpers.python("out = np.meshgrid([1,2,3],[4,5],[7,8,9,10])")
    for i = 1, 3 do assert.are.same(want[i], g[i]:totable()) end
    assert_error("InvalidArgument", { "meshgrid", "indexing" }, tf.meshgrid, a, { indexing = "yx" })
    grad_ok(function(x, y) local r = tf.meshgrid(x, y); return tf.add(r[1], tf.multiply(r[2], r[2])) end,
      { rand({ 3 }, 1), rand({ 2 }, 2) })
  end)
end)

describe("x*y / x/y family", function()
  local x = tf.constant({ 0.0, 2.0, 3.0, 0.0 }, tf.float64)
  local y = tf.constant({ 0.0, 4.0, 0.5, -1.0 }, tf.float64)
  it("values (0 where x is 0, even for y = 0)", function()
    assert_close(tf.math.xdivy(x, y), { 0, 0.5, 6, 0 }, 1e-12)
    assert_close(tf.math.xlogy(x, y), { 0, 2 * math.log(4), 3 * math.log(0.5), 0 }, 1e-12)
    assert_close(tf.math.xlog1py(x, y), { 0, 2 * math.log(5), 3 * math.log(1.5), 0 }, 1e-12)
    assert_close(tf.math.multiply_no_nan(tf.constant({ math.huge, 0 / 0, 2.0 }), tf.constant({ 0.0, 0.0, 3.0 })), { 0, 0, 6 })
  end)
  it("gradients are finite at the zeros and match differences elsewhere", function()
    local xs = tf.constant({ 0.5, 2.0, 3.0 }, tf.float64)
    local ys = tf.constant({ 0.7, 4.0, 0.5 }, tf.float64)
    grad_ok(tf.math.xdivy, { xs, ys }); grad_ok(tf.math.xlogy, { xs, ys })
    grad_ok(tf.math.xlog1py, { xs, ys }); grad_ok(tf.math.multiply_no_nan, { xs, ys })
    local g = gradcheck.analytic(tf.math.xlogy, { x, y })
    for _, t in ipairs(g) do
      for _, v in ipairs(t:totable()) do assert(v == v and v ~= math.huge and v ~= -math.huge, "non-finite gradient") end
    end
  end)
end)

describe("polyval, l2_normalize, clipping, identity_n, timestamp", function()
  it("polyval", function()
    assert_close(tf.math.polyval({ 3.0, 2.0, 1.0 }, tf.constant({ 1.0, 2.0 })), { 6, 17 })
    assert_close(tf.math.polyval({}, tf.constant({ 1.0, 2.0 })), { 0, 0 })
    grad_ok(function(x) return tf.math.polyval({ 1.0, -2.0, 0.5, 3.0 }, x) end, { rand({ 4 }, 9) })
  end)
  it("l2_normalize", function()
    assert_close(tf.nn.l2_normalize(tf.constant({ 3.0, 4.0 })), { 0.6, 0.8 })
    assert_close(tf.math.l2_normalize(tf.constant({ { 3.0, 4.0 }, { 0.0, 0.0 } }), 1), { { 0.6, 0.8 }, { 0, 0 } })
    grad_ok(function(x) return tf.nn.l2_normalize(x, 0) end, { rand({ 3, 2 }, 2) })
  end)
  it("clip_by_norm and clip_by_global_norm", function()
    assert_close(tf.clip_by_norm(tf.constant({ 3.0, 4.0 }), 1.0), { 0.6, 0.8 })
    assert_close(tf.clip_by_norm(tf.constant({ 3.0, 4.0 }), 10.0), { 3, 4 })
    assert_close(tf.clip_by_norm(tf.constant({ { 3.0, 0.0 }, { 4.0, 1.0 } }), 2.5, { 0 }), { { 1.5, 0 }, { 2, 1 } })
    local l, n = tf.clip_by_global_norm({ tf.constant({ 3.0 }), tf.constant({ 4.0 }) }, 1.0)
    assert_close(l[1], { 0.6 }); assert_close(l[2], { 0.8 }); assert_close(n, 5)
    l = tf.clip_by_global_norm({ tf.constant({ 3.0 }) }, 10.0)
    assert_close(l[1], { 3 })
    grad_ok(function(x) return tf.clip_by_norm(x, 0.5) end, { rand({ 4 }, 3) })
    local g = gradcheck.analytic(function(x) return tf.clip_by_norm(x, 1.0) end, { tf.zeros({ 3 }, tf.float64) })
    for _, v in ipairs(g[1]:totable()) do assert(v == v, "NaN gradient at 0") end
  end)
  it("identity_n and timestamp", function()
    local r = tf.identity_n({ tf.constant({ 1, 2 }), tf.constant(3.0) })
    assert.are.same({ 1, 2 }, r[1]:totable()); assert.are.equal(3, r[2]:item())
    local t1 = tf.timestamp(); local t2 = tf.timestamp()
    assert.are.equal(tf.float64, t1.dtype)
    assert(math.abs(t1:item() - os.time()) < 5, "timestamp is not epoch seconds")
    assert(t2:item() >= t1:item())
  end)
end)

describe("tf.unique_with_counts", function()
  it("gives TensorFlow's documented example", function()
    local y, idx, count = tf.unique_with_counts(tf.constant({ 1, 1, 2, 4, 4, 4, 7, 8, 8 }))
    assert.are.same({ 1, 2, 4, 7, 8 }, y:totable())
    assert.are.same({ 0, 0, 1, 2, 2, 2, 3, 4, 4 }, idx:totable())
    assert.are.same({ 2, 1, 3, 1, 2 }, count:totable())
    assert.are.equal(idx.dtype, count.dtype)
  end)
end)
