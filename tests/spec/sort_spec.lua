-- sort, argsort, top_k and unique against numpy: axes, directions, dtypes,
-- stability, NaN placement, ties, views, zero-sized inputs and errors.
local tf = require("tlua")
local helpers = require("helpers")
local assert_error, assert_close = helpers.assert_error, helpers.assert_close

local nan = 0 / 0

local function py(t)
  if type(t) ~= "table" then
    if math.type(t) == "integer" then return tostring(t) end
    if t ~= t then return "float('nan')" end
    if t == math.huge then return "float('inf')" end
    if t == -math.huge then return "float('-inf')" end
    return ("%.17g"):format(t)
  end
  local parts = {}
  for i, v in ipairs(t) do parts[i] = py(v) end
  return "[" .. table.concat(parts, ",") .. "]"
end

local function rand_ints(shape, seed, mod)
  local state = seed
  local function build(d)
    local t = {}
    for i = 1, shape[d] do
      if d == #shape then
        state = (state * 1103515245 + 12345) % 2147483648
        t[i] = state % mod
      else
        t[i] = build(d + 1)
      end
    end
    return t
  end
  return build(1)
end

describe("sort and argsort", function()
  local x = rand_ints({ 3, 4, 5 }, 7, 6) -- many ties
  local ref = helpers.python(("x=np.array(%s)\nout=[np.sort(x,-1), np.sort(x,0), np.sort(x,1), "
    .. "np.argsort(x,-1,kind='stable'), np.argsort(x,0,kind='stable'), np.argsort(-x,1,kind='stable'), -np.sort(-x,1)]")
    :format(py(x)))

  it("match numpy along every axis, ints and floats", function()
    local X = tf.constant(x)
    assert.same(ref[1], tf.sort(X):totable())
    assert.same(ref[2], tf.sort(X, 0):totable())
    assert.same(ref[3], tf.sort(X, { axis = 1 }):totable())
    assert.same(ref[7], tf.sort(X, 1, "DESCENDING"):totable())
    assert.same(ref[1], tf.sort(tf.cast(X, tf.float64)):totable())
    assert.same(ref[2], tf.sort(tf.cast(X, tf.float32), -3):totable())
    for _, d in ipairs({ tf.int8, tf.uint8, tf.int16, tf.int64, tf.float16, tf.bfloat16 }) do
      assert.same(ref[1], tf.cast(tf.sort(tf.cast(X, d)), tf.int32):totable(), d.name)
    end
  end)

  it("argsort is stable in both directions and returns int32", function()
    local X = tf.constant(x)
    local i = tf.argsort(X)
    assert.equal(tf.int32, i.dtype)
    assert.same(ref[4], i:totable())
    assert.same(ref[5], tf.argsort(X, 0):totable())
    assert.same(ref[6], tf.argsort(X, 1, "DESCENDING"):totable())
    assert.same(ref[4], tf.argsort(X, { stable = true }):totable())
    -- ties keep their original order
    assert.same({ 1, 3, 0, 2, 4 }, tf.argsort(tf.constant({ 2, 1, 2, 1, 2 })):totable())
    assert.same({ 0, 2, 4, 1, 3 }, tf.argsort(tf.constant({ 2, 1, 2, 1, 2 }), { direction = "DESCENDING" }):totable())
  end)

  it("places NaN last ascending and first descending", function()
    local v = { 3.0, nan, -1.0, math.huge, nan, -math.huge, 0.0 }
    local asc = tf.sort(tf.constant(v)):totable()
    local ref_asc = helpers.python(("out=np.sort(np.array(%s)).tolist()"):format(py(v)))
    assert_close(asc, ref_asc)
    assert.is_true(asc[6] ~= asc[6] and asc[7] ~= asc[7])
    local desc = tf.sort(tf.constant(v), { direction = "DESCENDING" }):totable()
    assert.is_true(desc[1] ~= desc[1] and desc[2] ~= desc[2])
    assert.same({ math.huge, 3.0, 0.0, -1.0, -math.huge }, { desc[3], desc[4], desc[5], desc[6], desc[7] })
    assert.same({ 5, 2, 6, 0, 3, 1, 4 }, tf.argsort(tf.constant(v)):totable())
    assert.same({ 1, 4, 3, 0, 6, 2, 5 }, tf.argsort(tf.constant(v), -1, "DESCENDING"):totable())
    -- -0.0 and 0.0 are equal (stable), and come back bit for bit
    local z = tf.sort(tf.constant({ 0.0, -0.0, -1.0 })):totable()
    assert.equal(-1.0, z[1])
    assert.equal("0.0", tostring(z[2]))
    assert.equal("-0.0", tostring(z[3]))
  end)

  it("sorts long rows, views and zero-sized tensors", function()
    local long = rand_ints({ 3000 }, 11, 1000)
    local r = helpers.python(("x=np.array(%s)\nout=[np.sort(x), np.argsort(x,kind='stable')]"):format(py(long)))
    assert.same(r[1], tf.sort(tf.constant(long)):totable())
    assert.same(r[2], tf.argsort(tf.constant(long)):totable())
    local X = tf.constant(x)
    -- sorting a transposed view along its last axis = sorting x along axis 0
    assert.same(ref[2], tf.transpose(tf.sort(tf.transpose(X, { 2, 1, 0 }), -1), { 2, 1, 0 }):totable())
    assert.same({ 3, 0 }, tf.sort(tf.zeros({ 3, 0 })).shape:as_list())
    assert.same({ 0, 4 }, tf.argsort(tf.zeros({ 0, 4 })).shape:as_list())
    assert.same({ 1 }, tf.sort(tf.constant({ 1 })):totable())
  end)

  it("sorts long rows of every key kind (radix path) like a stable reference", function()
    local v, state = {}, 3
    for i = 1, 700 do
      state = (state * 1103515245 + 12345) % 2147483648
      local r = state % 1000
      v[i] = (r < 20) and nan or (r < 40) and -0.0 or (r < 60) and 0.0 or (r < 70) and math.huge
        or (r < 80) and -math.huge or (r - 500) / 7
    end
    local ref = helpers.python(("import math\nx=%s\nn=len(x)\n"
      .. "asc=sorted(range(n), key=lambda i: (1,0,i) if math.isnan(x[i]) else (0,x[i],i))\n"
      .. "desc=sorted(range(n), key=lambda i: (0,0,i) if math.isnan(x[i]) else (1,-x[i],i))\n"
      .. "out=[asc, desc]"):format(py(v)))
    for _, d in ipairs({ tf.float32, tf.float64 }) do
      local X = tf.constant(v, d)
      local a = tf.argsort(X):totable()
      local b = tf.argsort(X, -1, "DESCENDING"):totable()
      assert.same(ref[1], a, d.name)
      assert.same(ref[2], b, d.name)
    end
    local ints = {}
    for i = 1, 300 do ints[i] = ((i * 7919) % 601 - 300) * ((i % 3 == 0) and 10000000000 or 1) end
    local iref = helpers.python(("x=np.array(%s)\nout=[np.argsort(x,kind='stable'), np.argsort(-x,kind='stable')]"):format(py(ints)))
    assert.same(iref[1], tf.argsort(tf.constant(ints, tf.int64)):totable())
    assert.same(iref[2], tf.argsort(tf.constant(ints, tf.int64), -1, "DESCENDING"):totable())
    local small = {}
    for i = 1, 300 do small[i] = (i * 37) % 255 - 127 end
    iref = helpers.python(("x=np.array(%s)\nout=[np.argsort(x,kind='stable'), np.argsort(-x,kind='stable')]"):format(py(small)))
    for _, d in ipairs({ tf.int8, tf.int16, tf.int32 }) do
      assert.same(iref[1], tf.argsort(tf.constant(small, d)):totable(), d.name)
      assert.same(iref[2], tf.argsort(tf.constant(small, d), { direction = "DESCENDING" }):totable(), d.name)
    end
  end)

  it("report bad arguments", function()
    assert_error("InvalidArgument", { "sort", "direction must be 'ASCENDING' or 'DESCENDING' (got 'up')" },
      function() return tf.sort(tf.constant({ 1, 2 }), -1, "up") end)
    assert_error("InvalidArgument", { "sort", "axis 2 is out of range" },
      function() return tf.sort(tf.constant({ 1, 2 }), 2) end)
    assert_error("InvalidArgument", { "argsort", "scalar" }, function() return tf.argsort(tf.constant(1)) end)
    assert_error("Unimplemented", { "sort", "complex64" }, function()
      return tf.sort(tf.cast(tf.constant({ 1.0 }), tf.complex64))
    end)
  end)
end)

describe("top_k", function()
  it("returns the k largest with lower indices first among ties", function()
    local v, i = tf.math.top_k(tf.constant({ 1, 3, 2, 3, 1, 5 }), 3)
    assert.same({ 5, 3, 3 }, v:totable())
    assert.same({ 5, 1, 3 }, i:totable())
    assert.equal(tf.int32, i.dtype)
    v, i = tf.nn.top_k(tf.constant({ { 0.5, 0.25, 0.75 }, { 2.0, 2.0, -1.0 } }), { k = 2 })
    assert.same({ { 0.75, 0.5 }, { 2.0, 2.0 } }, v:totable())
    assert.same({ { 2, 0 }, { 0, 1 } }, i:totable())
    v, i = tf.math.top_k(tf.constant({ 4, 9, 1 }))
    assert.same({ 9 }, v:totable())
    assert.same({ 1 }, i:totable())
    v = tf.math.top_k(tf.constant({ 4, 9, 1 }), 3, { sorted = false })
    assert.same({ 9, 4, 1 }, v:totable())
  end)

  it("matches numpy on random rows and treats NaN as largest", function()
    local x = rand_ints({ 4, 50 }, 3, 20)
    local ref = helpers.python(("x=np.array(%s)\ni=np.argsort(-x,axis=-1,kind='stable')[:,:7]\n"
      .. "out=[np.take_along_axis(x,i,-1), i]"):format(py(x)))
    local v, i = tf.math.top_k(tf.constant(x), 7)
    assert.same(ref[1], v:totable())
    assert.same(ref[2], i:totable())
    local fv, fi = tf.math.top_k(tf.constant({ 1.0, nan, 3.0 }), 2)
    local t = fv:totable()
    assert.is_true(t[1] ~= t[1])
    assert.equal(3.0, t[2])
    assert.same({ 1, 2 }, fi:totable())
    local ev, ei = tf.math.top_k(tf.zeros({ 2, 3 }), 0)
    assert.same({ 2, 0 }, ev.shape:as_list())
    assert.same({ 2, 0 }, ei.shape:as_list())
  end)

  it("reports bad k", function()
    assert_error("InvalidArgument", { "top_k", "int32[3]", "at least k=5 columns", "it has 3" },
      function() return tf.math.top_k(tf.constant({ 1, 2, 3 }), 5) end)
    assert_error("InvalidArgument", { "top_k", "k must be non-negative" },
      function() return tf.math.top_k(tf.constant({ 1, 2, 3 }), -1) end)
    assert_error("InvalidArgument", { "top_k", "rank >= 1" }, function() return tf.math.top_k(tf.constant(1)) end)
  end)
end)

describe("unique", function()
  it("keeps the order of first occurrence", function()
    local y, idx = tf.unique(tf.constant({ 1, 1, 2, 4, 4, 4, 7, 8, 8 }))
    assert.same({ 1, 2, 4, 7, 8 }, y:totable())
    assert.same({ 0, 0, 1, 2, 2, 2, 3, 4, 4 }, idx:totable())
    assert.equal(tf.int32, idx.dtype)
    y, idx = tf.unique(tf.constant({ 3.5, -1.0, 3.5, 2.0, -1.0 }), { out_idx = tf.int64 })
    assert.same({ 3.5, -1.0, 2.0 }, y:totable())
    assert.same({ 0, 1, 0, 2, 1 }, idx:totable())
    assert.equal(tf.int64, idx.dtype)
    y, idx = tf.unique(tf.constant({ true, false, true }))
    assert.same({ true, false }, y:totable())
    assert.same({ 0, 1, 0 }, idx:totable())
  end)

  it("matches numpy on random data, views and empty input", function()
    local x = rand_ints({ 500 }, 5, 37)
    local ref = helpers.python(("x=np.array(%s)\nu,f,inv=np.unique(x,return_index=True,return_inverse=True)\n"
      .. "order=np.argsort(f)\nrank=np.empty_like(order);rank[order]=np.arange(len(order))\n"
      .. "out=[u[order], rank[inv]]"):format(py(x)))
    local y, idx = tf.unique(tf.constant(x))
    assert.same(ref[1], y:totable())
    assert.same(ref[2], idx:totable())
    y, idx = tf.unique(tf.constant({ 5, 0, 5, 1, 5, 2 })["::2"])
    assert.same({ 5 }, y:totable())
    assert.same({ 0, 0, 0 }, idx:totable())
    y, idx = tf.unique(tf.zeros({ 0 }))
    assert.same({ 0 }, y.shape:as_list())
    assert.same({ 0 }, idx.shape:as_list())
  end)

  it("treats every NaN as distinct and -0.0 as 0.0", function()
    local y, idx = tf.unique(tf.constant({ nan, 1.0, nan, 0.0, -0.0 }))
    local t = y:totable()
    assert.equal(4, #t)
    assert.is_true(t[1] ~= t[1] and t[3] ~= t[3])
    assert.same({ 0, 1, 2, 3, 3 }, idx:totable())
  end)

  it("reports bad input", function()
    assert_error("InvalidArgument", { "unique", "int32[2,2]", "1-D" },
      function() return tf.unique(tf.constant({ { 1, 2 }, { 3, 4 } })) end)
    assert_error("InvalidArgument", { "unique", "out_idx must be int32 or int64" },
      function() return tf.unique(tf.constant({ 1 }), tf.float32) end)
  end)
end)

describe("gradients", function()
  -- <w, f(x)> with fixed weights as output_gradients, against central differences.
  local function flat(t)
    local out = {}
    local function walk(x)
      if type(x) == "table" then for _, v in ipairs(x) do walk(v) end else out[#out + 1] = x end
    end
    walk(type(t) == "table" and t or t:totable())
    return out
  end
  local function gradcheck(fn, input)
    local x = tf.constant(input, tf.float64)
    local y0 = fn(x)
    local n = #flat(y0)
    local wv = {}
    for i = 1, n do wv[i] = math.sin(i * 1.3) + 0.5 end
    local w = tf.reshape(tf.constant(wv, tf.float64), y0.shape:as_list())
    local tape = tf.GradientTape()
    tape:watch(x)
    local g = flat(tape:gradient(fn(x), x, { output_gradients = w }))
    local vals, shape, eps = flat(x), x.shape:as_list(), 1e-6
    local function loss(v)
      local f, s = flat(fn(tf.reshape(tf.constant(v, tf.float64), shape))), 0
      for i = 1, n do s = s + f[i] * wv[i] end
      return s
    end
    for e = 1, #vals do
      local orig = vals[e]
      vals[e] = orig + eps
      local lp = loss(vals)
      vals[e] = orig - eps
      local lm = loss(vals)
      vals[e] = orig
      local num = (lp - lm) / (2 * eps)
      assert(math.abs(num - g[e]) <= 1e-6 * math.max(1, math.abs(num)),
        ("element %d: analytic %.10g vs numeric %.10g"):format(e, g[e], num))
    end
  end
  local m = { { 0.5, -1.0, 2.0, 0.75 }, { 1.5, 0.25, -0.75, 3.0 } }

  it("of sort flow back through the permutation on any axis", function()
    gradcheck(function(x) return tf.sort(x) end, m)
    gradcheck(function(x) return tf.sort(x, 0, "DESCENDING") end, m)
    gradcheck(function(x) return tf.sort(x, -1, "DESCENDING") end, { { m, m } })
  end)

  it("of top_k reach the selected entries only", function()
    gradcheck(function(x) return (tf.math.top_k(x, 2)) end, m)
    gradcheck(function(x) return (tf.math.top_k(x, 4)) end, { 3.0, -1.0, 2.5, 0.5 })
  end)

  it("do not flow through argsort and unique", function()
    local x = tf.constant({ 3.0, 1.0, 2.0 }, tf.float64)
    local tape = tf.GradientTape({ persistent = true })
    tape:watch(x)
    local i = tf.argsort(x)
    local y = tf.unique(x)
    assert.is_nil(tape:gradient(i, x))
    assert.is_nil(tape:gradient(y, x))
  end)
end)

-- With core.set_check_infer(true) the dispatcher runs every op's shape rule
-- beside its kernel and fails (InternalError) when it is missing or
-- disagrees; unique's y has as many elements as there are distinct values,
-- which its rule leaves unknown.
describe("shape rules agree with the kernels", function()
  local rules = require("shape_rules")
  before_each(rules.on)
  after_each(rules.off)
  local checked = rules.checked
  local t = tf.transpose(tf.constant({ { 3, 1, 2 }, { 0, 5, 5 } })) -- [3,2], not contiguous

  it("on views, negative axes and zero-sized tensors", function()
    assert.same({ { 0, 3 }, { 1, 5 }, { 2, 5 } }, checked("sort", function() return tf.sort(t, -1) end):totable())
    assert.same({ { 3, 5 }, { 2, 5 }, { 1, 0 } }, checked("sort", function() return tf.sort(t, -2, "DESCENDING") end):totable())
    assert.same({ 0, 2 }, checked("sort", function() return tf.sort(tf.reshape(tf.constant({}), { 0, 2 }), 0) end).shape:as_list())
    local idx = checked("argsort", function() return tf.argsort(t, 0) end)
    assert.equal(tf.int32, idx.dtype)
    assert.same({ { 1, 0 }, { 2, 1 }, { 0, 2 } }, idx:totable())
    local v, i = checked("top_k", function() return tf.math.top_k(t, 1) end)
    assert.same({ { 3 }, { 5 }, { 5 } }, v:totable())
    assert.same({ { 0 }, { 1 }, { 1 } }, i:totable())
    local v0, i0 = checked("top_k", function() return tf.math.top_k(t, 0) end)
    assert.same({ 3, 0 }, v0.shape:as_list())
    assert.same({ 3, 0 }, i0.shape:as_list())
  end)

  it("for unique, whose length depends on the values", function()
    local y, idx = checked("unique", function() return tf.unique(t[{ tf.ellipsis, 1 }]) end)
    assert.same({ 0, 5 }, y:totable())
    assert.same({ 0, 1, 1 }, idx:totable())
    local e, ei = checked("unique", function() return tf.unique(tf.constant({}, tf.int64), tf.int64) end)
    assert.same({ 0 }, e.shape:as_list())
    assert.equal(tf.int64, ei.dtype)
  end)
end)
