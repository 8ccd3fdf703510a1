-- Reductions, arg-reductions, scans and moments against numpy.
local tf = require("tlua")
local helpers = require("helpers")
local assert_error = helpers.assert_error

local function shape_of(t) return t.shape:as_list() end

-- A Python list literal of Lua numbers.
local function pylist(vals)
  local p = {}
  for i, v in ipairs(vals) do p[i] = ("%.17g"):format(v) end
  return "[" .. table.concat(p, ",") .. "]"
end

-- 2x3x4 values with distinct magnitudes and signs (exact in float32).
local VALS = {}
for i = 1, 24 do VALS[i] = ((i * 7) % 24 - 11) * 0.5 end
local function cube(dtype) return tf.reshape(tf.constant(VALS, dtype), { 2, 3, 4 }) end

local function pyaxis(a)
  if a == nil then return "None" end
  if type(a) == "number" then return tostring(a) end
  local p = {}
  for i, v in ipairs(a) do p[i] = tostring(v) end
  return "(" .. table.concat(p, ",") .. (#p == 1 and ",)" or ")")
end

local AXES = { nil, 0, 1, 2, -1, -3, { 0, 2 }, { 2, 0 }, { -1, 1 }, { 0, 1, 2 }, {} }
local NAXES = 11

describe("float reductions", function()
  local ops = {
    { "reduce_sum", "np.sum" }, { "reduce_mean", "np.mean" }, { "reduce_max", "np.max" },
    { "reduce_min", "np.min" }, { "reduce_prod", "np.prod" },
  }
  for _, dt in ipairs({ "float32", "float64" }) do
    it("match numpy over every axis pattern, with and without keepdims (" .. dt .. ")", function()
      local code = { "x = np.array(" .. pylist(VALS) .. ", dtype=np." .. dt .. ").reshape(2,3,4)", "out = []" }
      for _, op in ipairs(ops) do
        for k = 1, NAXES do
          for _, kd in ipairs({ "False", "True" }) do
            code[#code + 1] = ("r = %s(x, axis=%s, keepdims=%s); out.append([np.asarray(r).tolist(), list(np.shape(r))])")
                :format(op[2], pyaxis(AXES[k]), kd)
          end
        end
      end
      local ref = helpers.python(table.concat(code, "\n"))
      local x = cube(tf[dt])
      local i = 0
      for _, op in ipairs(ops) do
        for k = 1, NAXES do
          for _, kd in ipairs({ false, true }) do
            i = i + 1
            local r = tf[op[1]](x, AXES[k], { keepdims = kd })
            assert.equal(dt, r.dtype.name)
            local ok, why = helpers.close(r:totable(), ref[i][1], 1e-6, 1e-6)
            assert(ok, ("%s axis=%s keepdims=%s: %s"):format(op[1], pyaxis(AXES[k]), tostring(kd), why))
            assert.same(ref[i][2], shape_of(r))
          end
        end
      end
    end)
  end

  it("are reachable under tf.math and as methods", function()
    local x = cube()
    assert.equal(tf.reduce_sum(x):item(), tf.math.reduce_sum(x):item())
    assert.equal(tf.reduce_sum(x, 1):totable()[1][1], x:reduce_sum(1):totable()[1][1])
    assert.same(tf.reduce_sum(x, { axis = -1, keepdims = true }):totable(), tf.reduce_sum(x, -1, { keepdims = true }):totable())
  end)

  it("accept an axis tensor", function()
    local x = cube()
    assert.same(tf.reduce_max(x, { 0, 2 }):totable(), tf.reduce_max(x, tf.constant({ 0, 2 })):totable())
  end)

  it("propagate NaN through max and min", function()
    local x = tf.constant({ { 1.0, 0 / 0, 3 }, { 4, 5, 6 } })
    local mx = tf.reduce_max(x, 0):totable()
    assert.equal(4, mx[1]); assert(mx[2] ~= mx[2]); assert.equal(6, mx[3])
    local mn = tf.reduce_min(x, 1):totable()
    assert(mn[1] ~= mn[1]); assert.equal(4, mn[2])
    local all = tf.reduce_max(x):item()
    assert(all ~= all)
  end)

  it("handle float16 through float32", function()
    local x = tf.constant({ { 1.5, 2.5 }, { 3, 4 } }, tf.float16)
    local r = tf.reduce_sum(x, 0)
    assert.equal("float16", r.dtype.name)
    assert.same({ 4.5, 6.5 }, r:totable())
    assert.equal(2.75, tf.reduce_mean(x):item())
  end)
end)

describe("integer reductions", function()
  it("keep the dtype and match numpy", function()
    local ints = {}
    for i = 1, 24 do ints[i] = (i * 5) % 17 - 8 end
    local ref = helpers.python("x = np.array(" .. pylist(ints) .. ", dtype=np.int32).reshape(2,3,4)\n" ..
      "out = [np.sum(x, 1), np.max(x, (0, 2)), np.min(x), np.prod(x[0], 1), np.sum(x, -1, keepdims=True)]")
    for _, dt in ipairs({ "int32", "int64", "int16", "int8" }) do
      local x = tf.reshape(tf.constant(ints, tf[dt]), { 2, 3, 4 })
      local s = tf.reduce_sum(x, 1)
      assert.equal(dt, s.dtype.name)
      assert.same(ref[1], s:totable())
      assert.same(ref[2], tf.reduce_max(x, { 0, 2 }):totable())
      assert.equal(ref[3], tf.reduce_min(x):item())
      local prod = ref[4]
      if dt == "int8" then -- wraps in the dtype as TensorFlow's does
        prod = {}
        for i, v in ipairs(ref[4]) do prod[i] = (v + 128) % 256 - 128 end
      end
      assert.same(prod, tf.reduce_prod(x[0], 1):totable())
      assert.same(ref[5], tf.reduce_sum(x, -1, { keepdims = true }):totable())
    end
  end)

  it("take the integer mean (truncating) as TensorFlow does", function()
    assert.equal(1, tf.reduce_mean(tf.constant({ 1, 2 })):item())
    assert.equal(-1, tf.reduce_mean(tf.constant({ -1, -2 })):item())
    assert.same({ 2, 5 }, tf.reduce_mean(tf.constant({ { 1, 2, 4 }, { 4, 5, 7 } }), 1):totable())
    assert.equal("int32", tf.reduce_mean(tf.constant({ 1, 2 })).dtype.name)
  end)

  it("wrap on overflow like the dtype", function()
    assert.equal(-56, tf.reduce_sum(tf.constant({ 100, 100 }, tf.int8)):item())
    assert.equal(44, tf.reduce_sum(tf.constant({ 200, 100 }, tf.uint8)):item())
    assert.equal(-2147483648, tf.reduce_sum(tf.constant({ 2147483647, 1 })):item())
    assert.equal(255, tf.reduce_max(tf.constant({ 3, 255, 7 }, tf.uint8)):item())
  end)

  it("use exact int64 arithmetic", function()
    local big = 1 << 62
    assert.equal(big + 3, tf.reduce_sum(tf.constant({ big, 1, 2 }, tf.int64)):item())
    assert.equal(big, tf.reduce_max(tf.constant({ big, big - 1 }, tf.int64)):item())
  end)
end)

describe("bool reductions", function()
  local b = tf.constant({ { true, false, true }, { false, false, true } })
  it("any/all over axes", function()
    assert.same({ true, false, true }, tf.reduce_any(b, 0):totable())
    assert.same({ false, false, true }, tf.reduce_all(b, 0):totable())
    assert.same({ { false }, { false } }, tf.reduce_all(b, 1, { keepdims = true }):totable())
    assert.equal(true, tf.reduce_any(b):item())
    assert.equal(false, tf.reduce_all(b):item())
    assert.equal("bool", tf.math.reduce_any(b, 1).dtype.name)
  end)
  it("identities when empty", function()
    local e = tf.cast(tf.zeros({ 0 }), tf.bool)
    assert.same({ 0 }, shape_of(e))
    assert.equal(false, tf.reduce_any(e):item())
    assert.equal(true, tf.reduce_all(e):item())
  end)
  it("need a bool input", function()
    assert_error("Unimplemented", { "reduce_any", "float32[3]", "float32", "bool" }, tf.reduce_any, tf.constant({ 1.0, 0, 1 }))
    assert_error("Unimplemented", { "reduce_all", "int32" }, tf.reduce_all, tf.constant({ 1, 0 }))
  end)
end)

describe("empty and zero-sized reductions", function()
  it("give the identity", function()
    local e = tf.zeros({ 0 })
    assert.equal(0, tf.reduce_sum(e):item())
    assert.equal(1, tf.reduce_prod(e):item())
    assert.equal(-math.huge, tf.reduce_max(e):item())
    assert.equal(math.huge, tf.reduce_min(e):item())
    local m = tf.reduce_mean(e):item()
    assert(m ~= m, "mean of empty is NaN")
    assert.equal(-math.huge, tf.reduce_logsumexp(e):item())
    local v = tf.math.reduce_variance(e):item()
    assert(v ~= v)
    assert.equal(0, tf.reduce_sum(tf.zeros({ 0 }, tf.int32)):item())
    assert.equal(-2147483648, tf.reduce_max(tf.zeros({ 0 }, tf.int32)):item())
  end)

  it("over zero-sized dims keep the other dims", function()
    local z = tf.zeros({ 2, 0, 3 })
    local s = tf.reduce_sum(z, 1)
    assert.same({ 2, 3 }, shape_of(s))
    assert.same({ { 0, 0, 0 }, { 0, 0, 0 } }, s:totable())
    assert.same({ 0, 3 }, shape_of(tf.reduce_sum(z, 0)))
    assert.same({ 2, 0 }, shape_of(tf.reduce_max(z, -1)))
    assert.same({ 1, 0, 1 }, shape_of(tf.reduce_mean(z, { 0, 2 }, { keepdims = true })))
    assert.same({ 2, 0 }, shape_of(tf.cumsum(tf.zeros({ 2, 0 }), 1)))
    assert.same({ 0 }, shape_of(tf.argmax(tf.zeros({ 3, 0 }), 0)))
    assert.same({ 2, 3 }, shape_of(tf.math.count_nonzero(z, 1)))
  end)

  it("of a scalar over no axes is the scalar", function()
    assert.equal(5, tf.reduce_sum(tf.constant(5)):item())
    assert.equal(2.5, tf.reduce_max(tf.constant(2.5)):item())
  end)
end)

describe("non-contiguous inputs", function()
  it("transposed and sliced views reduce like their copies", function()
    local x = tf.reshape(tf.range(60), { 3, 4, 5 })
    local t = tf.transpose(x, { 2, 0, 1 })
    local ref = helpers.python("x = np.arange(60).reshape(3,4,5).transpose(2,0,1)\n" ..
      "out = [x.sum(0), x.sum((0, 2)), x.max(-1), x.sum(), x[:, ::2].sum(1)]")
    assert.same(ref[1], tf.reduce_sum(t, 0):totable())
    assert.same(ref[2], tf.reduce_sum(t, { 0, 2 }):totable())
    assert.same(ref[3], tf.reduce_max(t, -1):totable())
    assert.equal(ref[4], tf.reduce_sum(t):item())
    assert.same(ref[5], tf.reduce_sum(t[":, ::2"], 1):totable())
  end)
end)

describe("large reductions", function()
  it("sum 1e7 float32 values accurately (vs float64)", function()
    local x = tf.random.uniform({ 10000000 }, { seed = 7 })
    local s = tf.reduce_sum(x):item()
    local ref = tf.reduce_sum(tf.cast(x, tf.float64)):item()
    assert(math.abs(s - ref) / ref < 2e-7, ("relative error %g"):format(math.abs(s - ref) / ref))
    local m = tf.reduce_mean(x):item()
    assert(math.abs(m - ref / 1e7) / (ref / 1e7) < 2e-7)
  end)

  it("axis-0 and inner sums of 1e7 values (chunked, parallel) stay accurate", function()
    local x = tf.random.uniform({ 2500000, 4 }, { seed = 8 })
    local s = tf.reduce_sum(x, 0):totable()
    local ref = tf.reduce_sum(tf.cast(x, tf.float64), 0):totable()
    for i = 1, 4 do assert(math.abs(s[i] - ref[i]) / ref[i] < 2e-7) end
    local y = tf.reshape(x, { 2, 5000000 })
    local s2 = tf.reduce_sum(y, 1):totable()
    local r2 = tf.reduce_sum(tf.cast(y, tf.float64), 1):totable()
    for i = 1, 2 do assert(math.abs(s2[i] - r2[i]) / r2[i] < 2e-7) end
  end)

  it("match a plain Lua loop on every reduction layout", function()
    local x = tf.random.uniform({ 300, 70, 9 }, { seed = 9 })
    local v = x:totable()
    local function naive(axes, op)
      -- axes: set of 1-based dims reduced
      local out = {}
      for i = 1, 300 do for j = 1, 70 do for k = 1, 9 do
        local key = (axes[1] and 0 or i) .. ":" .. (axes[2] and 0 or j) .. ":" .. (axes[3] and 0 or k)
        local e = v[i][j][k]
        if out[key] == nil then out[key] = e
        elseif op == "max" then out[key] = math.max(out[key], e)
        else out[key] = out[key] + e end
      end end end
      return out
    end
    for _, case in ipairs({ { 0 }, { 1 }, { 2 }, { 0, 2 }, { 0, 1 }, { 1, 2 } }) do
      local set = {}
      for _, a in ipairs(case) do set[a + 1] = true end
      for _, op in ipairs({ "sum", "max" }) do
        local ref = naive(set, op)
        local r = tf["reduce_" .. op](x, case, { keepdims = true })
        local t = r:totable()
        local sh = shape_of(r)
        for i = 1, sh[1] do for j = 1, sh[2] do for k = 1, sh[3] do
          local key = (set[1] and 0 or i) .. ":" .. (set[2] and 0 or j) .. ":" .. (set[3] and 0 or k)
          local a, b = t[i][j][k], ref[key]
          assert(math.abs(a - b) <= 1e-5 * math.abs(b) + 1e-5, ("%s %s: %g vs %g"):format(op, pyaxis(case), a, b))
        end end end
      end
    end
  end)
end)

describe("logsumexp, variance, std, moments", function()
  it("match numpy", function()
    local ref = helpers.python("x = np.array(" .. pylist(VALS) .. ").reshape(2,3,4)\n" ..
      "def lse(a, ax=None, kd=False):\n  m = np.max(a, axis=ax, keepdims=True)\n  r = np.log(np.sum(np.exp(a - m), axis=ax, keepdims=True)) + m\n  return r if kd else np.squeeze(r, axis=ax)\n" ..
      "out = [lse(x), lse(x, 1), lse(x, (0, 2), True), np.var(x), np.var(x, 0), np.std(x, -1), np.std(x, (1, 2), keepdims=True), np.mean(x, (0, 1)), np.var(x, (0, 1))]")
    local x = cube()
    helpers.assert_close(tf.reduce_logsumexp(x):item(), ref[1], 1e-6)
    helpers.assert_close(tf.reduce_logsumexp(x, 1), ref[2], 1e-6)
    helpers.assert_close(tf.math.reduce_logsumexp(x, { 0, 2 }, { keepdims = true }), ref[3], 1e-6)
    helpers.assert_close(tf.math.reduce_variance(x):item(), ref[4], 1e-6)
    helpers.assert_close(tf.math.reduce_variance(x, 0), ref[5], 1e-6)
    helpers.assert_close(tf.math.reduce_std(x, -1), ref[6], 1e-6)
    helpers.assert_close(tf.math.reduce_std(x, { 1, 2 }, { keepdims = true }), ref[7], 1e-6)
    local mean, var = tf.nn.moments(x, { 0, 1 })
    helpers.assert_close(mean, ref[8], 1e-6)
    helpers.assert_close(var, ref[9], 1e-6)
    local m2, v2 = tf.nn.moments(tf.cast(x, tf.float64), { 0, 1 }, { keepdims = true })
    assert.same({ 1, 1, 4 }, shape_of(m2))
    assert.equal("float64", v2.dtype.name)
  end)

  it("logsumexp is stable for large and infinite values", function()
    helpers.assert_close(tf.reduce_logsumexp(tf.constant({ 1000.0, 1000.0 })):item(), 1000 + math.log(2), 1e-6)
    helpers.assert_close(tf.reduce_logsumexp(tf.constant({ -1000.0, -1000.0 })):item(), -1000 + math.log(2), 1e-6)
    assert.equal(-math.huge, tf.reduce_logsumexp(tf.constant({ -math.huge, -math.huge })):item())
    assert.equal(math.huge, tf.reduce_logsumexp(tf.constant({ math.huge, 1.0 })):item())
  end)

  it("variance is accurate around a large mean", function()
    local v = tf.math.reduce_variance(tf.constant({ 1e4 + 1, 1e4 + 2, 1e4 + 3 }, tf.float32)):item()
    helpers.assert_close(v, 2 / 3, 1e-5)
  end)

  it("need float inputs", function()
    assert_error("Unimplemented", { "reduce_variance", "int32" }, tf.math.reduce_variance, tf.constant({ 1, 2 }))
    assert_error("Unimplemented", { "reduce_logsumexp", "int32" }, tf.reduce_logsumexp, tf.constant({ 1, 2 }))
    assert_error("InvalidArgument", { "moments", "axis 2 is out of range", "rank 1" }, tf.nn.moments, tf.constant({ 1.0 }), { 2 })
  end)
end)

describe("argmax and argmin", function()
  it("match numpy along every axis with first-index ties", function()
    local ints = {}
    for i = 1, 24 do ints[i] = (i * 5) % 7 end
    local ref = helpers.python("x = np.array(" .. pylist(ints) .. ").reshape(2,3,4)\n" ..
      "out = [x.argmax(0), x.argmax(1), x.argmax(-1), x.argmin(0), x.argmin(2), x.argmin(-2)]")
    for _, dt in ipairs({ "int32", "float32", "float64", "int64", "uint8" }) do
      local x = tf.reshape(tf.constant(ints, tf[dt]), { 2, 3, 4 })
      assert.same(ref[1], tf.argmax(x):totable())
      assert.same(ref[2], tf.argmax(x, 1):totable())
      assert.same(ref[3], tf.math.argmax(x, -1):totable())
      assert.same(ref[4], tf.argmin(x, 0):totable())
      assert.same(ref[5], tf.argmin(x, 2):totable())
      assert.same(ref[6], x:argmin(-2):totable())
    end
  end)

  it("return int64 by default and int32 on request", function()
    local x = tf.constant({ 3.0, 9, 1 })
    assert.equal("int64", tf.argmax(x).dtype.name)
    local r = tf.argmax(x, 0, { output_type = tf.int32 })
    assert.equal("int32", r.dtype.name)
    assert.equal(1, r:item())
    assert.equal(2, tf.argmin(x, { output_type = "int32" }):item())
  end)

  it("treat NaN as the extreme, first NaN wins", function()
    local x = tf.constant({ 1.0, 0 / 0, 5, 0 / 0 })
    assert.equal(1, tf.argmax(x):item())
    assert.equal(1, tf.argmin(x):item())
  end)

  it("report bad arguments", function()
    assert_error("InvalidArgument", { "argmax", "output_type must be int32 or int64", "float32" },
      tf.argmax, tf.constant({ 1.0 }), 0, { output_type = tf.float32 })
    assert_error("InvalidArgument", { "argmax", "axis 2 is out of range", "rank 2" }, tf.argmax, tf.zeros({ 2, 2 }), 2)
    assert_error("InvalidArgument", { "argmin", "reduction axis 0 is empty", "[0,3]" }, tf.argmin, tf.zeros({ 0, 3 }), 0)
    assert_error("InvalidArgument", { "argmax", "scalar" }, tf.argmax, tf.constant(1.0))
  end)
end)

describe("cumsum and cumprod", function()
  it("match numpy with exclusive and reverse", function()
    local ref = helpers.python("x = np.array(" .. pylist(VALS) .. ", dtype=np.float64).reshape(2,3,4)\n" ..
      "def cs(a, ax, excl, rev, f):\n  if rev: a = np.flip(a, ax)\n  r = f(a, axis=ax)\n  if excl:\n    r = np.concatenate([np.ones_like(np.take(r, [0], ax)) * (1 if f is np.cumprod else 0), np.delete(r, -1, ax)], ax)\n  if rev: r = np.flip(r, ax)\n  return r\n" ..
      "out = [[cs(x, ax, e, r, f) for f in (np.cumsum, np.cumprod) for e in (False, True) for r in (False, True)] for ax in (0, 1, 2)]")
    local x = cube(tf.float64)
    for ai, ax in ipairs({ 0, 1, -1 }) do
      local k = 0
      for _, f in ipairs({ tf.cumsum, tf.math.cumprod }) do
        for _, e in ipairs({ false, true }) do
          for _, r in ipairs({ false, true }) do
            k = k + 1
            local got = f(x, ax, { exclusive = e, reverse = r })
            helpers.assert_close(got, ref[ai][k], 1e-12, 1e-12)
          end
        end
      end
    end
  end)

  it("keeps integer dtypes and takes axis 0 by default", function()
    local r = tf.cumsum(tf.constant({ { 1, 2 }, { 3, 4 } }))
    assert.equal("int32", r.dtype.name)
    assert.same({ { 1, 2 }, { 4, 6 } }, r:totable())
    assert.same({ 1, 2, 6, 24 }, tf.math.cumprod(tf.constant({ 1, 2, 3, 4 }, tf.int64)):totable())
  end)

  it("report bad axes and dtypes", function()
    assert_error("InvalidArgument", { "cumsum", "axis 2 is out of range", "rank 2" }, tf.cumsum, tf.zeros({ 2, 2 }), 2)
    assert_error("InvalidArgument", { "cumsum", "scalar" }, tf.cumsum, tf.constant(1.0))
    assert_error("Unimplemented", { "cumsum", "bool" }, tf.cumsum, tf.constant({ true }))
  end)
end)

describe("count_nonzero", function()
  it("counts per axis in int64", function()
    local x = tf.constant({ { 0.0, 1, 2 }, { 0, 0, 0 / 0 } })
    local r = tf.math.count_nonzero(x, 1)
    assert.equal("int64", r.dtype.name)
    assert.same({ 2, 1 }, r:totable())
    assert.equal(3, tf.math.count_nonzero(x):item())
    assert.same({ { 0, 1, 2 } }, tf.math.count_nonzero(x, 0, { keepdims = true }):totable())
    assert.equal(2, tf.math.count_nonzero(tf.constant({ true, false, true })):item())
    assert.equal("int32", tf.math.count_nonzero(x, { dtype = tf.int32 }).dtype.name)
  end)
end)

describe("reduction errors", function()
  local x = tf.zeros({ 2, 3 })
  it("name the axis, the rank, the op and the operand", function()
    assert_error("InvalidArgument", { "reduce_sum: float32[2,3]: ", "axis 2 is out of range", "rank 2" }, tf.reduce_sum, x, 2)
    assert_error("InvalidArgument", { "reduce_mean", "axis -3 is out of range" }, tf.reduce_mean, x, -3)
    assert_error("InvalidArgument", { "reduce_max", "axis 0 is out of range", "scalar" }, tf.reduce_max, tf.constant(1.0), 0)
    assert_error("InvalidArgument", { "reduce_sum", "axis -1 is given twice" }, tf.reduce_sum, x, { 1, -1 })
    assert_error("InvalidArgument", { "reduce_sum", "must be an integer" }, tf.reduce_sum, x, 0.5)
  end)
  it("name unsupported dtypes", function()
    assert_error("Unimplemented", { "reduce_sum", "bool" }, tf.reduce_sum, tf.constant({ true, false }))
    assert_error("Unimplemented", { "reduce_prod", "bool" }, tf.reduce_prod, tf.constant({ true }))
  end)
end)

describe("reduction shape rules", function()
  local case_devices = require("case_devices")
  local cases = case_devices.spec(it, "reduce")

  -- Every axis choice of AXES with and without keepdims, in every dtype an
  -- op takes, with the dispatcher checking each kernel against its rule.
  local ints = { tf.int8, tf.uint8, tf.int16, tf.int32, tf.int64 }
  local floats = { tf.float32, tf.float64, tf.float16, tf.bfloat16 }
  local function all_of(...)
    local out = {}
    for _, l in ipairs({ ... }) do for _, v in ipairs(l) do out[#out + 1] = v end end
    return out
  end
  local families = {
    { { "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod" }, all_of(floats, ints) },
    { { "reduce_logsumexp", "reduce_variance", "reduce_std" }, floats },
    { { "count_nonzero" }, all_of(floats, ints, { tf.bool }) },
    { { "reduce_any", "reduce_all" }, { tf.bool } },
  }
  for _, fam in ipairs(families) do
    for _, name in ipairs(fam[1]) do
      it(name .. " over every axis choice, keepdims and dtype", function()
        local op = tf.raw_ops[name]
        local before = tf.core.infer_checks(name)
        local n = 0
        for _, dt in ipairs(fam[2]) do
          local x = dt == tf.bool and tf.cast(cube(tf.float32), tf.bool) or tf.cast(tf.abs(cube(tf.float32)), dt)
          local empty = tf.zeros({ 2, 0, 4 }, dt)
          for k = 1, NAXES do
            for _, keep in ipairs({ false, true }) do
              local where = ("%s %s axis %s keepdims %s"):format(name, dt.name, pyaxis(AXES[k]), tostring(keep))
              local ok, err = case_devices.checked(cases, where, function()
                op(x, AXES[k], { keepdims = keep })
                op(empty, AXES[k], { keepdims = keep })
                n = n + 2
              end)
              assert(ok, where .. ": " .. tostring(err))
            end
          end
        end
        assert.equal(n, tf.core.infer_checks(name) - before)
        assert(n > 0)
      end)
    end
  end

  it("argmax/argmin/cumsum/cumprod over every axis and dtype", function()
    for _, name in ipairs({ "argmax", "argmin", "cumsum", "cumprod" }) do
      local op, before, n = tf.raw_ops[name], tf.core.infer_checks(name), 0
      local dts = all_of(floats, ints, name:sub(1, 3) == "arg" and { tf.bool } or {})
      for _, dt in ipairs(dts) do
        local x = dt == tf.bool and tf.cast(cube(tf.float32), tf.bool) or tf.cast(tf.abs(cube(tf.float32)), dt)
        for axis = -3, 2 do
          local where = ("%s %s axis %d"):format(name, dt.name, axis)
          local ok, err = case_devices.checked(cases, where, function()
            op(x, axis)
            n = n + 1
          end)
          assert(ok, where .. ": " .. tostring(err))
        end
      end
      assert.equal(n, tf.core.infer_checks(name) - before)
    end
  end)

  it("reject what the kernels reject, before any kernel runs", function()
    local x = tf.zeros({ 2, 3 })
    -- the shape rule's errors, with the dispatcher's op and operand prefix
    assert_error("InvalidArgument", { "argmax: float32[2,0]: ", "reduction axis 1 is empty in shape [2,0]" },
      tf.argmax, tf.zeros({ 2, 0 }), 1)
    assert_error("InvalidArgument", { "argmin", "a scalar has no axis to reduce" }, tf.argmin, tf.constant(1.0))
    assert_error("InvalidArgument", { "argmax", "output_type must be int32 or int64, got int16" },
      tf.argmax, tf.zeros({ 2 }), 0, { output_type = tf.int16 })
    assert_error("InvalidArgument", { "cumsum", "a scalar has no axis to scan" }, tf.cumsum, tf.constant(1.0))
    assert_error("InvalidArgument", { "cumprod: float32[2,3]: ", "axis 2 is out of range" }, tf.math.cumprod, x, 2)
    assert_error("Unimplemented", { "cumsum", "bool" }, tf.cumsum, tf.constant({ true }))
    assert_error("Unimplemented", { "reduce_any", "must be bool" }, tf.reduce_any, x)
    assert_error("Unimplemented", { "reduce_variance", "int32", "must be a float tensor" },
      tf.math.reduce_variance, tf.constant({ 1, 2 }))
    assert_error("InvalidArgument", { "count_nonzero", "dtype must be an integer dtype, got float32" },
      tf.math.count_nonzero, x, { dtype = tf.float32 })
    assert_error("InvalidArgument", { "moments", "axis 5 is out of range" }, tf.nn.moments, x, { 5 })
  end)
end)
