-- Random ops: statistics, bounds, dtypes, reproducibility and errors.
local tf = require("tlua")
local helpers = require("helpers")

local N = 100000

local function flat(t)
  local out = {}
  local function walk(v)
    if type(v) == "table" then
      for _, x in ipairs(v) do walk(x) end
    else
      out[#out + 1] = v
    end
  end
  walk(t:totable())
  return out
end

local function stats(v)
  local s, ss, lo, hi = 0, 0, math.huge, -math.huge
  for _, x in ipairs(v) do
    s = s + x
    if x < lo then lo = x end
    if x > hi then hi = x end
  end
  local mean = s / #v
  for _, x in ipairs(v) do ss = ss + (x - mean) ^ 2 end
  return mean, math.sqrt(ss / #v), lo, hi
end

local function same_values(a, b)
  local x, y = flat(a), flat(b)
  if #x ~= #y then return false end
  for i = 1, #x do if x[i] ~= y[i] then return false end end
  return true
end

describe("tf.random.uniform", function()
  it("is uniform on [0, 1) in float32 by default", function()
    local t = tf.random.uniform({ N })
    assert.equal("float32", t.dtype.name)
    local mean, sd, lo, hi = stats(flat(t))
    assert.is_true(math.abs(mean - 0.5) < 0.01, "mean " .. mean)
    assert.is_true(math.abs(sd - math.sqrt(1 / 12)) < 0.01, "sd " .. sd)
    assert.is_true(lo >= 0 and hi < 1)
  end)

  it("scales to [minval, maxval) in float64 too", function()
    local t = tf.random.uniform({ 200, 500 }, -2, 3, tf.float64)
    assert.equal("float64", t.dtype.name)
    assert.same({ 200, 500 }, t.shape:as_list())
    local mean, sd, lo, hi = stats(flat(t))
    assert.is_true(math.abs(mean - 0.5) < 0.05, "mean " .. mean)
    assert.is_true(math.abs(sd - 5 / math.sqrt(12)) < 0.03, "sd " .. sd)
    assert.is_true(lo >= -2 and hi < 3)
    -- float64 values use 53 random bits: most are not float32 values
    local v, not_f32 = flat(t), 0
    for i = 1, 100 do
      if string.pack("f", v[i]) and string.unpack("f", string.pack("f", v[i])) ~= v[i] then not_f32 = not_f32 + 1 end
    end
    assert.is_true(not_f32 > 90)
  end)

  it("draws unbiased integers in [minval, maxval)", function()
    local t = tf.random.uniform({ N }, 0, 10, tf.int32)
    assert.equal("int32", t.dtype.name)
    local counts = {}
    for _, x in ipairs(flat(t)) do
      assert.is_true(math.type(x) == "integer" and x >= 0 and x < 10)
      counts[x] = (counts[x] or 0) + 1
    end
    for k = 0, 9 do
      assert.is_true(math.abs(counts[k] / N - 0.1) < 0.006, "count of " .. k .. ": " .. tostring(counts[k]))
    end
    local neg = flat(tf.random.uniform({ 1000 }, -3, -1, { dtype = tf.int64 }))
    local seen = {}
    for _, x in ipairs(neg) do
      assert.is_true(x == -3 or x == -2)
      seen[x] = true
    end
    assert.is_true(seen[-3] and seen[-2])
    -- a range that is not a power of two, where modulo reduction would bias
    local third = (1 << 32) // 3 * 2
    local big = flat(tf.random.uniform({ N }, 0, third, tf.int64))
    local below = 0
    for _, x in ipairs(big) do
      assert.is_true(x >= 0 and x < third)
      if x < third // 2 then below = below + 1 end
    end
    assert.is_true(math.abs(below / N - 0.5) < 0.01, "below half: " .. below)
  end)

  it("covers small integer dtypes and wide int64 ranges", function()
    local u8 = flat(tf.random.uniform({ 5000 }, 0, 256, tf.uint8))
    local lo, hi = math.huge, -math.huge
    for _, x in ipairs(u8) do lo, hi = math.min(lo, x), math.max(hi, x) end
    assert.equal(0, lo)
    assert.equal(255, hi)
    local i8 = flat(tf.random.uniform({ 5000 }, -128, 128, tf.int8))
    lo, hi = math.huge, -math.huge
    for _, x in ipairs(i8) do lo, hi = math.min(lo, x), math.max(hi, x) end
    assert.equal(-128, lo)
    assert.equal(127, hi)
    local w = flat(tf.random.uniform({ 1000 }, -(1 << 40), 1 << 40, tf.int64))
    local m = stats(w)
    assert.is_true(math.abs(m) < 0.1 * (1 << 40))
  end)

  it("covers float16 and bfloat16", function()
    for _, d in ipairs({ tf.float16, tf.bfloat16 }) do
      local t = tf.random.uniform({ 10000 }, { dtype = d })
      assert.equal(d.name, t.dtype.name)
      local mean, _, lo, hi = stats(flat(t))
      assert.is_true(math.abs(mean - 0.5) < 0.02 and lo >= 0 and hi <= 1)
    end
  end)

  it("accepts a TensorShape, zero sizes and scalars", function()
    local x = tf.zeros({ 3, 4 })
    assert.same({ 3, 4 }, tf.random.uniform(x.shape).shape:as_list())
    assert.same({ 0, 4 }, tf.random.uniform({ 0, 4 }).shape:as_list())
    assert.same({}, tf.random.uniform({}).shape:as_list())
  end)

  it("reports bad arguments", function()
    helpers.assert_error("InvalidArgument", { "random_uniform:", "maxval must be given", "int32" },
      tf.random.uniform, { 2 }, 0, nil, tf.int32)
    helpers.assert_error("InvalidArgument", { "random_uniform:", "minval < maxval" },
      tf.random.uniform, { 2 }, 5, 5, tf.int32)
    helpers.assert_error("InvalidArgument", { "random_uniform:", "integers" },
      tf.random.uniform, { 2 }, 0, 2.5, tf.int32)
    helpers.assert_error("InvalidArgument", { "random_uniform:", "does not fit in uint8" },
      tf.random.uniform, { 2 }, 0, 300, tf.uint8)
    helpers.assert_error("Unimplemented", { "random_uniform:", "bool" },
      tf.random.uniform, { 2 }, { dtype = tf.bool })
    helpers.assert_error("InvalidArgument", { "random_uniform:", "negative" }, tf.random.uniform, { -2 })
    helpers.assert_error("ResourceExhausted", { "random_uniform:", "too large" },
      tf.random.uniform, { 1 << 40, 1 << 40 })
    helpers.assert_error("InvalidArgument", { "random_uniform", "seed", "integer" },
      tf.random.uniform, { 2 }, { seed = 1.5 })
  end)
end)

describe("tf.random.normal", function()
  it("has mean 0 and stddev 1 by default", function()
    local t = tf.random.normal({ N })
    assert.equal("float32", t.dtype.name)
    local mean, sd = stats(flat(t))
    assert.is_true(math.abs(mean) < 0.02, "mean " .. mean)
    assert.is_true(math.abs(sd - 1) < 0.02, "sd " .. sd)
  end)

  it("scales by mean and stddev, in float64 as well", function()
    local t = tf.random.normal({ N }, 5, 0.5, tf.float64)
    assert.equal("float64", t.dtype.name)
    local v = flat(t)
    local mean, sd = stats(v)
    assert.is_true(math.abs(mean - 5) < 0.01, "mean " .. mean)
    assert.is_true(math.abs(sd - 0.5) < 0.01, "sd " .. sd)
    -- about 68.3% within one stddev, 95.4% within two
    local one, two = 0, 0
    for _, x in ipairs(v) do
      if math.abs(x - 5) < 0.5 then one = one + 1 end
      if math.abs(x - 5) < 1 then two = two + 1 end
    end
    assert.is_true(math.abs(one / N - 0.6827) < 0.01)
    assert.is_true(math.abs(two / N - 0.9545) < 0.005)
  end)

  it("works for odd sizes and many dims", function()
    local t = tf.random.normal({ 3, 5, 7 })
    assert.same({ 3, 5, 7 }, t.shape:as_list())
    for _, x in ipairs(flat(t)) do assert.is_true(x == x and math.abs(x) < 10) end
  end)

  it("rejects integer dtypes", function()
    helpers.assert_error("InvalidArgument", { "random_normal:", "floating", "int32" },
      tf.random.normal, { 2 }, { dtype = tf.int32 })
  end)
end)

describe("tf.random.truncated_normal", function()
  it("stays within two stddev of the mean", function()
    local t = tf.random.truncated_normal({ N }, 1, 2)
    local v = flat(t)
    local mean, sd, lo, hi = stats(v)
    assert.is_true(lo >= 1 - 4 - 1e-6 and hi <= 1 + 4 + 1e-6, ("range %g..%g"):format(lo, hi))
    assert.is_true(math.abs(mean - 1) < 0.03, "mean " .. mean)
    -- the stddev of a standard normal truncated at +-2 is 0.8796
    assert.is_true(math.abs(sd - 2 * 0.8796) < 0.03, "sd " .. sd)
    local t64 = flat(tf.random.truncated_normal({ 1000 }, { dtype = tf.float64 }))
    for _, x in ipairs(t64) do assert.is_true(math.abs(x) <= 2) end
  end)
end)

describe("tf.random.shuffle", function()
  it("permutes along axis 0", function()
    local x = tf.range(1000)
    local s = tf.random.shuffle(x)
    assert.equal("int32", s.dtype.name)
    local v = flat(s)
    local seen, moved = {}, 0
    for i, e in ipairs(v) do
      assert.is_nil(seen[e])
      seen[e] = true
      if e ~= i - 1 then moved = moved + 1 end
    end
    assert.equal(1000, #v)
    assert.is_true(moved > 900)
  end)

  it("keeps rows together", function()
    local m = tf.constant({ { 1, 1, 1 }, { 2, 2, 2 }, { 3, 3, 3 }, { 4, 4, 4 } }, tf.float64)
    local s = tf.random.shuffle(m, 3)
    local rows = s:totable()
    local seen = {}
    for _, r in ipairs(rows) do
      assert.is_true(r[1] == r[2] and r[2] == r[3])
      seen[r[1]] = true
    end
    assert.same({ true, true, true, true }, seen)
  end)

  it("passes scalars and single rows through", function()
    assert.equal(5, tf.random.shuffle(tf.constant(5)):item())
    assert.same({ { 1, 2 } }, tf.random.shuffle({ { 1, 2 } }):totable())
    assert.same({ 0, 2 }, tf.random.shuffle(tf.zeros({ 0, 2 })).shape:as_list())
  end)

  it("visits every permutation of 3 items about equally", function()
    tf.random.set_seed(3)
    local counts, n = {}, 6000
    for _ = 1, n do
      local k = table.concat(flat(tf.random.shuffle({ 1, 2, 3 })))
      counts[k] = (counts[k] or 0) + 1
    end
    local kinds = 0
    for _, c in pairs(counts) do
      kinds = kinds + 1
      assert.is_true(math.abs(c / n - 1 / 6) < 0.03)
    end
    assert.equal(6, kinds)
  end)
end)

describe("tf.random.categorical", function()
  it("samples with softmax probabilities", function()
    local p = { 0.1, 0.2, 0.7 }
    local logits = tf.constant({ { math.log(p[1]), math.log(p[2]), math.log(p[3]) },
                                 { 0, 0, 0 } })
    local s = tf.random.categorical(logits, N // 2)
    assert.equal("int64", s.dtype.name)
    assert.same({ 2, N // 2 }, s.shape:as_list())
    local rows = s:totable()
    for r = 1, 2 do
      local counts = { [0] = 0, 0, 0 }
      for _, k in ipairs(rows[r]) do counts[k] = counts[k] + 1 end
      for k = 0, 2 do
        local want = r == 1 and p[k + 1] or 1 / 3
        assert.is_true(math.abs(counts[k] / (N // 2) - want) < 0.01, ("row %d class %d: %d"):format(r, k, counts[k]))
      end
    end
  end)

  it("never picks -inf classes and honours dtype", function()
    local s = tf.random.categorical({ { -1 / 0, 0.0, -1 / 0, 1.0 } }, 2000, { dtype = tf.int32 })
    assert.equal("int32", s.dtype.name)
    for _, k in ipairs(flat(s)) do assert.is_true(k == 1 or k == 3) end
  end)

  it("accepts integer logits and zero samples", function()
    assert.same({ 1, 0 }, tf.random.categorical({ { 0, 0 } }, 0).shape:as_list())
    assert.same({ 0, 4 }, tf.random.categorical(tf.zeros({ 0, 3 }), 4).shape:as_list())
  end)

  it("reports bad arguments", function()
    helpers.assert_error("InvalidArgument", { "categorical:", "rank 2", "rank 1" },
      tf.random.categorical, { 0.0, 1.0 }, 3)
    helpers.assert_error("InvalidArgument", { "categorical:", "num_samples must be non-negative" },
      tf.random.categorical, { { 0.0, 1.0 } }, -1)
    helpers.assert_error("InvalidArgument", { "categorical:", "int32 or int64" },
      tf.random.categorical, { { 0.0, 1.0 } }, 1, tf.float32)
    helpers.assert_error("InvalidArgument", { "categorical:", "no finite value" },
      tf.random.categorical, { { -1 / 0, -1 / 0 } }, 1)
    helpers.assert_error("InvalidArgument", { "categorical:", "nan" },
      tf.random.categorical, { { 0 / 0, 1.0 } }, 1)
    helpers.assert_error("InvalidArgument", { "categorical:", "num_classes" },
      tf.random.categorical, tf.zeros({ 2, 0 }), 1)
  end)
end)

describe("random seeds", function()
  it("repeat the same sequence of calls after set_seed", function()
    tf.random.set_seed(42)
    local a1, b1, c1 = tf.random.uniform({ 5 }), tf.random.normal({ 3, 3 }), tf.random.shuffle(tf.range(10))
    local d1 = tf.random.categorical({ { 0.0, 0.0, 0.0 } }, 20)
    tf.random.set_seed(42)
    local a2, b2, c2 = tf.random.uniform({ 5 }), tf.random.normal({ 3, 3 }), tf.random.shuffle(tf.range(10))
    local d2 = tf.random.categorical({ { 0.0, 0.0, 0.0 } }, 20)
    assert.is_true(same_values(a1, a2))
    assert.is_true(same_values(b1, b2))
    assert.is_true(same_values(c1, c2))
    assert.is_true(same_values(d1, d2))
    assert.is_false(same_values(a1, tf.random.uniform({ 5 })))
    tf.random.set_seed(43)
    assert.is_false(same_values(a1, tf.random.uniform({ 5 })))
  end)

  it("give per-call streams for op seeds: different per call, repeated after set_seed", function()
    tf.random.set_seed(7)
    local x1 = tf.random.uniform({ 4 }, { seed = 1 })
    local x2 = tf.random.uniform({ 4 }, { seed = 1 })
    local y1 = tf.random.uniform({ 4 }, { seed = 2 })
    assert.is_false(same_values(x1, x2))
    assert.is_false(same_values(x1, y1))
    tf.random.set_seed(7)
    assert.is_true(same_values(x1, tf.random.uniform({ 4 }, { seed = 1 })))
    assert.is_true(same_values(x2, tf.random.uniform({ 4 }, { seed = 1 })))
    assert.is_true(same_values(y1, tf.random.uniform({ 4 }, { seed = 2 })))
    -- an op-seeded stream does not depend on unseeded calls in between
    tf.random.set_seed(7)
    tf.random.normal({ 100 })
    assert.is_true(same_values(x1, tf.random.uniform({ 4 }, 0, 1, tf.float32, 1)))
  end)

  it("make large outputs independent of the thread count", function()
    local n = tf.core.num_threads()
    tf.random.set_seed(11)
    local a = tf.random.normal({ 50000 })
    local at = tf.random.truncated_normal({ 30000 })
    tf.core.set_num_threads(1)
    tf.random.set_seed(11)
    local b = tf.random.normal({ 50000 })
    local bt = tf.random.truncated_normal({ 30000 })
    tf.core.set_num_threads(n)
    assert.is_true(same_values(a, b))
    assert.is_true(same_values(at, bt))
  end)

  it("set_seed wants an integer", function()
    helpers.assert_error("InvalidArgument", { "set_seed", "integer" }, tf.random.set_seed, 1.5)
    helpers.assert_error("InvalidArgument", { "set_seed", "integer" }, tf.random.set_seed, "x")
    tf.random.set_seed(3.0)
  end)
end)
