-- Creation ops: zeros, ones, fill, zeros_like, ones_like, eye, range,
-- linspace, one_hot — values, dtypes, shape forms and errors.
local tf = require("tlua")
local helpers = require("helpers")

local function shape(t) return t.shape:as_list() end

describe("tf.zeros / tf.ones", function()
  it("default to float32", function()
    local z = tf.zeros({ 2, 3 })
    assert.equal("float32", z.dtype.name)
    assert.same({ 2, 3 }, shape(z))
    assert.same({ { 0, 0, 0 }, { 0, 0, 0 } }, z:totable())
    local o = tf.ones({ 3 })
    assert.equal("float32", o.dtype.name)
    assert.same({ 1, 1, 1 }, o:totable())
  end)

  it("take a dtype positionally, by name or as a string", function()
    assert.equal("int32", tf.zeros({ 2 }, tf.int32).dtype.name)
    assert.equal("int64", tf.ones({ 2 }, { dtype = tf.int64 }).dtype.name)
    assert.equal("float64", tf.ones({ 2 }, "float64").dtype.name)
    assert.same({ 1, 1 }, tf.ones({ 2 }, tf.int64):totable())
  end)

  it("fill every dtype", function()
    for _, name in ipairs({ "float32", "float64", "float16", "bfloat16", "int8", "uint8", "int16",
                            "int32", "int64" }) do
      local o = tf.ones({ 2, 2 }, tf[name])
      assert.equal(name, o.dtype.name)
      assert.same({ { 1, 1 }, { 1, 1 } }, o:totable())
      assert.same({ { 0, 0 }, { 0, 0 } }, tf.zeros({ 2, 2 }, tf[name]):totable())
    end
    assert.same({ true, true }, tf.ones({ 2 }, tf.bool):totable())
    assert.same({ false, false }, tf.zeros({ 2 }, tf.bool):totable())
    assert.equal("complex64", tf.ones({ 2 }, tf.complex64).dtype.name)
  end)

  it("accept a Lua list, a number, a TensorShape, an int tensor and {} for a scalar", function()
    local x = tf.zeros({ 4, 5 })
    assert.same({ 4, 5 }, shape(tf.ones(x.shape)))
    assert.same({ 3 }, shape(tf.zeros(3)))
    assert.same({ 2, 3 }, shape(tf.zeros(tf.constant({ 2, 3 }))))
    assert.same({ 2, 3 }, shape(tf.zeros(tf.constant({ 2, 3 }, tf.int64))))
    local s = tf.ones({})
    assert.same({}, shape(s))
    assert.equal(1, s:item())
  end)

  it("allow zero-sized dimensions", function()
    local z = tf.zeros({ 0, 3 })
    assert.same({ 0, 3 }, shape(z))
    assert.same({}, z:totable())
    assert.same({ 2, 0 }, shape(tf.ones({ 2, 0 })))
  end)

  it("reject negative dimensions", function()
    helpers.assert_error("InvalidArgument", { "zeros:", "negative", "-1" }, tf.zeros, { 2, -1 })
    helpers.assert_error("InvalidArgument", { "ones:", "negative" }, tf.ones, { -3 })
  end)

  it("reject shapes whose byte size overflows", function()
    helpers.assert_error("ResourceExhausted", { "zeros:", "too large" }, tf.zeros,
      { 1000000000, 1000000000, 1000000000 })
    helpers.assert_error("ResourceExhausted", { "ones:", "too large" }, tf.ones,
      { 4611686018427387904, 4 })
    helpers.assert_error("ResourceExhausted", { "too large" }, tf.zeros, { 1 << 40, 1 << 20 }, tf.float64)
    -- no elements, but the strides of the other dimensions would overflow
    helpers.assert_error("ResourceExhausted", { "zeros:", "too large" }, tf.zeros,
      { 3, 4611686018427387904, 0 })
    helpers.assert_error("ResourceExhausted", { "reshape:", "too large" }, tf.reshape,
      tf.zeros({ 0 }), { 0, 4611686018427387904, 3 })
    -- a zero-sized tensor with large (representable) other dimensions is fine
    assert.are.same({ 0, 1 << 30, 4 }, tf.zeros({ 0, 1 << 30, 4 }).shape:as_list())
  end)

  it("reject too many dimensions, non-integer dims and a bad dtype", function()
    helpers.assert_error("InvalidArgument", { "zeros:", "at most 8" }, tf.zeros, { 1, 1, 1, 1, 1, 1, 1, 1, 1 })
    helpers.assert_error("InvalidArgument", { "zeros:", "shape" }, tf.zeros, { 2.5 })
    helpers.assert_error("InvalidArgument", { "zeros:", "dtype" }, tf.zeros, { 2 }, "float99")
    helpers.assert_error("InvalidArgument", { "shape", "required" }, tf.zeros)
  end)

  it("make empty strings but no string ones", function()
    assert.equal("string", tf.zeros({ 2 }, tf.string).dtype.name)
    helpers.assert_error("InvalidArgument", { "ones:", "string" }, tf.ones, { 2 }, tf.string)
  end)
end)

describe("tf.fill", function()
  it("takes its dtype from the value", function()
    local a = tf.fill({ 2, 3 }, 9)
    assert.equal("int32", a.dtype.name)
    assert.same({ { 9, 9, 9 }, { 9, 9, 9 } }, a:totable())
    local b = tf.fill({ 2 }, 1.5)
    assert.equal("float32", b.dtype.name)
    assert.same({ 1.5, 1.5 }, b:totable())
    local c = tf.fill({ 2 }, tf.constant(2.25, tf.float64))
    assert.equal("float64", c.dtype.name)
    assert.same({ 2.25, 2.25 }, c:totable())
    local d = tf.fill({ 3 }, true)
    assert.equal("bool", d.dtype.name)
    assert.same({ true, true, true }, d:totable())
    assert.equal("int64", tf.fill({ 2 }, 1 << 40).dtype.name)
  end)

  it("accepts a TensorShape, an int tensor, {} and named arguments", function()
    local x = tf.zeros({ 3, 2 })
    assert.same({ 3, 2 }, shape(tf.fill(x.shape, 1)))
    assert.same({ 2, 2 }, shape(tf.fill(tf.constant({ 2, 2 }, tf.int64), 1)))
    local s = tf.fill({}, 7)
    assert.same({}, shape(s))
    assert.equal(7, s:item())
    assert.same({ 4, 4 }, tf.fill({ dims = { 2 }, value = 4 }):totable())
    assert.same({ 0, 3 }, shape(tf.fill({ 0, 3 }, 1.0)))
  end)

  it("fills large tensors completely", function()
    local t = tf.fill({ 1000, 37 }, 3)
    local v = t:totable()
    assert.equal(3, v[1][1])
    assert.equal(3, v[1000][37])
    assert.equal(3, v[517][12])
  end)

  it("rejects a non-scalar value and bad dims", function()
    helpers.assert_error("InvalidArgument", { "fill:", "value must be a scalar" }, tf.fill, { 2 }, { 1, 2 })
    helpers.assert_error("InvalidArgument", { "fill:", "dims must hold integers" }, tf.fill, { 2.5 }, 1)
    helpers.assert_error("InvalidArgument", { "fill:", "vector" }, tf.fill, { { 2 } }, 1)
    helpers.assert_error("InvalidArgument", { "fill:", "negative" }, tf.fill, { -2 }, 1)
    helpers.assert_error("ResourceExhausted", { "fill:", "too large" }, tf.fill, { 1 << 62, 1 << 3 }, 1)
    helpers.assert_error("InvalidArgument", { "fill", "value" }, tf.fill, { 2 })
  end)
end)

describe("tf.zeros_like / tf.ones_like", function()
  it("keep shape and dtype unless a dtype is given", function()
    local x = tf.constant({ { 1, 2, 3 }, { 4, 5, 6 } })
    local z = tf.zeros_like(x)
    assert.equal("int32", z.dtype.name)
    assert.same({ { 0, 0, 0 }, { 0, 0, 0 } }, z:totable())
    local o = tf.ones_like(x, tf.float64)
    assert.equal("float64", o.dtype.name)
    assert.same({ { 1, 1, 1 }, { 1, 1, 1 } }, o:totable())
    assert.same({ 1, 1 }, tf.ones_like({ 5.5, 6.5 }):totable())
    assert.equal("bool", tf.ones_like(tf.constant({ true, false })).dtype.name)
    assert.same({ 0, 2 }, shape(tf.zeros_like(tf.zeros({ 0, 2 }))))
    assert.same({ { 1, 1, 1 }, { 1, 1, 1 } }, x:zeros_like():ones_like():totable())
  end)

  it("work on variables and scalars", function()
    local v = tf.Variable({ 1.5, 2.5 })
    assert.same({ 0, 0 }, tf.zeros_like(v):totable())
    assert.equal(1, tf.ones_like(tf.constant(3)):item())
  end)
end)

describe("tf.eye", function()
  it("makes square and rectangular identities", function()
    assert.same({ { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } }, tf.eye(3):totable())
    assert.same({ { 1, 0, 0 }, { 0, 1, 0 } }, tf.eye(2, 3):totable())
    assert.same({ { 1, 0 }, { 0, 1 }, { 0, 0 } }, tf.eye(3, 2):totable())
    assert.equal("float32", tf.eye(2).dtype.name)
    local i = tf.eye(2, { dtype = tf.int32 })
    assert.equal("int32", i.dtype.name)
    assert.same({ { 1, 0 }, { 0, 1 } }, i:totable())
    assert.same({ { true, false }, { false, true } }, tf.eye(2, { dtype = tf.bool }):totable())
    assert.equal(tf.linalg.eye, tf.eye)
  end)

  it("makes batches", function()
    local b = tf.eye(2, 2, { 3 })
    assert.same({ 3, 2, 2 }, shape(b))
    for k = 1, 3 do assert.same({ { 1, 0 }, { 0, 1 } }, b:totable()[k]) end
    local c = tf.eye(2, { batch_shape = { 2, 1 }, dtype = tf.float64 })
    assert.same({ 2, 1, 2, 2 }, shape(c))
    assert.same({ 0, 2, 3 }, shape(tf.eye(2, 3, { 0 })))
    assert.same({ 0, 0 }, shape(tf.eye(0)))
  end)

  it("matches numpy", function()
    local ref = helpers.python("out = np.eye(4, 6, dtype=np.float32)")
    helpers.assert_close(tf.eye(4, 6), ref)
  end)

  it("rejects negative sizes", function()
    helpers.assert_error("InvalidArgument", { "eye:", "non-negative", "-2" }, tf.eye, -2)
    helpers.assert_error("InvalidArgument", { "eye:", "non-negative" }, tf.eye, 2, -1)
    helpers.assert_error("InvalidArgument", { "eye:", "negative" }, tf.eye, 2, 2, { -1 })
    helpers.assert_error("InvalidArgument", { "eye", "num_rows", "integer" }, tf.eye, 2.5)
  end)
end)

describe("tf.range", function()
  it("takes limit alone, start and limit, or all three", function()
    assert.same({ 0, 1, 2, 3, 4 }, tf.range(5):totable())
    assert.same({ 2, 3, 4 }, tf.range(2, 5):totable())
    assert.same({ 1, 4, 7 }, tf.range(1, 10, 3):totable())
    assert.same({ 3, 6, 9 }, tf.range(3, 10, 3):totable())
    assert.same({}, tf.range(0):totable())
    assert.same({}, tf.range(4, 4):totable())
  end)

  it("is int32 for Lua integers and float32 when an argument is a float", function()
    assert.equal("int32", tf.range(5).dtype.name)
    assert.equal("int32", tf.range(1, 5, 2).dtype.name)
    assert.equal("float32", tf.range(5.0).dtype.name)
    assert.equal("float32", tf.range(0, 1, 0.25).dtype.name)
    assert.same({ 0, 0.25, 0.5, 0.75 }, tf.range(0, 1, 0.25):totable())
    assert.equal("int64", tf.range(tf.constant(4, tf.int64)).dtype.name)
    assert.equal("float64", tf.range(0, tf.constant(2.0, tf.float64), 0.5).dtype.name)
    assert.equal("int64", tf.range(1 << 40, (1 << 40) + 3).dtype.name)
    assert.same({ 1 << 40, (1 << 40) + 1, (1 << 40) + 2 }, tf.range(1 << 40, (1 << 40) + 3):totable())
  end)

  it("honours dtype", function()
    local r = tf.range(3, { dtype = tf.float64 })
    assert.equal("float64", r.dtype.name)
    assert.same({ 0, 1, 2 }, r:totable())
    assert.equal("int64", tf.range(0, 3, 1, tf.int64).dtype.name)
    assert.same({ 0, 1, 2 }, tf.range(0, 3, 1, tf.uint8):totable())
    assert.same({ 0, 2, 4 }, tf.range({ limit = 6, delta = 2 }):totable())
  end)

  it("counts down with a negative delta", function()
    assert.same({ 5, 3, 1 }, tf.range(5, 0, -2):totable())
    assert.same({ 10, 9, 8 }, tf.range(10, 7, -1):totable())
    helpers.assert_close(tf.range(1, 0, -0.25), { 1, 0.75, 0.5, 0.25 })
  end)

  it("matches numpy.arange", function()
    local ref = helpers.python([[out = [np.arange(-3, 17, 4).tolist(), np.arange(0.5, 3.2, 0.25, dtype=np.float32).tolist(),
      np.arange(0.1, 2.9, 0.3).tolist(),
      np.arange(7, -8, -3).tolist()] ]])
    assert.same(ref[1], tf.range(-3, 17, 4):totable())
    helpers.assert_close(tf.range(0.5, 3.2, 0.25), ref[2], 1e-6)
    local f64 = function(v) return tf.constant(v, tf.float64) end
    helpers.assert_close(tf.range(f64(0.1), f64(2.9), f64(0.3)), ref[3], 1e-12)
    assert.same(ref[4], tf.range(7, -8, -3):totable())
  end)

  it("rejects a zero delta, a wrong direction and bad arguments", function()
    helpers.assert_error("InvalidArgument", { "range:", "delta must not be zero" }, tf.range, 0, 5, 0)
    helpers.assert_error("InvalidArgument", { "range:", "delta must not be zero" }, tf.range, 0, 1, 0.0)
    helpers.assert_error("InvalidArgument", { "range:", "start <= limit", "delta > 0" }, tf.range, 5, 1)
    helpers.assert_error("InvalidArgument", { "range:", "start >= limit", "delta < 0" }, tf.range, 1, 5, -1)
    helpers.assert_error("InvalidArgument", { "range:", "scalar" }, tf.range, { 1, 2 })
    helpers.assert_error("InvalidArgument", { "range:", "finite" }, tf.range, 0, 1 / 0)
    helpers.assert_error("InvalidArgument", { "range:", "limit is required" }, tf.range)
    helpers.assert_error("InvalidArgument", { "range:", "bool" }, tf.range, true)
    helpers.assert_error("InvalidArgument", { "range:", "dtype string" }, tf.range, 3, { dtype = tf.string })
    helpers.assert_error("ResourceExhausted", { "range" }, tf.range, 0, tf.constant(1e300, tf.float64), 1e-10)
  end)
end)

describe("tf.range limits", function()
  -- TensorFlow converts the arguments to the output dtype first and raises
  -- when one does not fit (tf.range(300, dtype=tf.uint8) is an error), so
  -- no element can wrap: they all lie between start and limit.
  it("refuses arguments its dtype cannot hold instead of wrapping", function()
    helpers.assert_error("InvalidArgument", { "range:", "limit 300", "uint8" }, tf.range, 300, { dtype = tf.uint8 })
    helpers.assert_error("InvalidArgument", { "range:", "limit 2147483650", "int32" }, tf.range,
      tf.constant(2147483640, tf.int64), tf.constant(2147483650, tf.int64), 3, tf.int32)
    helpers.assert_error("InvalidArgument", { "range:", "start 0.5", "int32" }, tf.range, 0.5, 3, 1, tf.int32)
    helpers.assert_error("InvalidArgument", { "range:", "delta -1", "uint8" }, tf.range, 5, 0, -1, tf.uint8)
    assert.same({ 2147483640, 2147483643, 2147483646 }, tf.range(2147483640, 2147483647, 3):totable())
    assert.same({ 250, 252, 254 }, tf.range(250, 255, 2, tf.uint8):totable())
    assert.same({ 0, 1, 2 }, tf.range(0.0, 3.0, 1.0, tf.int32):totable())
  end)

  it("computes huge int64 ranges without signed overflow", function()
    local lo, hi = math.mininteger, math.maxinteger
    local L, H = tf.constant(lo, tf.int64), tf.constant(hi, tf.int64)
    assert.same({ lo, -1, hi - 1 }, tf.range(L, H, H):totable())
    assert.same({ hi, -1 }, tf.range(H, L, L):totable())
    assert.same({ hi - 2, hi - 1 }, tf.range(tf.constant(hi - 2, tf.int64), H):totable())
    -- 2^64 - 1 elements: too many, not a negative size
    helpers.assert_error("ResourceExhausted", { "range:", "too many" }, tf.range, L, H)
  end)
end)

describe("tf.linspace", function()
  it("spaces num values evenly, both ends included", function()
    local l = tf.linspace(0, 1, 5)
    assert.equal("float32", l.dtype.name)
    assert.same({ 0, 0.25, 0.5, 0.75, 1 }, l:totable())
    assert.same({ 10, 5, 0 }, tf.linspace(10.0, 0.0, 3):totable())
    assert.same({ 3 }, tf.linspace(3, 7, 1):totable())
    assert.same({}, tf.linspace(3, 7, 0):totable())
    assert.equal(tf.lin_space, tf.linspace)
  end)

  it("matches numpy", function()
    local ref = helpers.python([[out = [np.linspace(-1.5, 2.25, 17, dtype=np.float32).tolist(),
      np.linspace(0, 1, 10).tolist()] ]])
    helpers.assert_close(tf.linspace(-1.5, 2.25, 17), ref[1], 1e-6, 1e-7)
    local d = tf.linspace(tf.constant(0, tf.float64), tf.constant(1, tf.float64), 10)
    assert.equal("float64", d.dtype.name)
    helpers.assert_close(d, ref[2], 1e-15, 0)
  end)

  it("broadcasts tensor endpoints along a new axis", function()
    local l = tf.linspace({ 0.0, 10.0 }, { 1.0, 20.0 }, 3)
    assert.same({ 3, 2 }, shape(l))
    assert.same({ { 0, 10 }, { 0.5, 15 }, { 1, 20 } }, l:totable())
    local m = tf.linspace({ 0.0, 10.0 }, { 1.0, 20.0 }, 3, { axis = -1 })
    assert.same({ { 0, 0.5, 1 }, { 10, 15, 20 } }, m:totable())
    -- a float64 end broadcast against a larger one (it used to be read as
    -- if contiguous, past its own elements)
    local f64 = function(v) return tf.constant(v, tf.float64) end
    local w = tf.linspace(f64({ 0.0, 1.0 }), f64({ { 1.0, 3.0 }, { 2.0, 5.0 } }), 3, { axis = -1 })
    assert.same({ { { 0, 0.5, 1 }, { 1, 2, 3 } }, { { 0, 1, 2 }, { 1, 3, 5 } } }, w:totable())
  end)

  it("starts exactly at start when stop is NaN or infinite, as TensorFlow", function()
    local l = tf.linspace(0.0, 0 / 0, 3):totable()
    assert.equal(0, l[1])
    assert.is_true(l[2] ~= l[2] and l[3] ~= l[3])
    assert.same({ 1, math.huge, math.huge }, tf.linspace(1.0, math.huge, 3):totable())
    local d = tf.linspace(tf.constant({ -2.0, 1.0 }, tf.float64), tf.constant({ 0 / 0, 2.0 }, tf.float64), 2):totable()
    assert.equal(-2, d[1][1])
    assert.same({ 1, 2 }, { d[1][2], d[2][2] })
  end)

  it("rejects a negative num and a bad axis", function()
    helpers.assert_error("InvalidArgument", { "linspace:", "num must be non-negative" }, tf.linspace, 0, 1, -1)
    helpers.assert_error("InvalidArgument", { "linspace:", "axis 2" }, tf.linspace, 0, 1, 3, { axis = 2 })
    helpers.assert_error("InvalidArgument", { "linspace:", "incompatible" }, tf.linspace, { 1, 2 }, { 1, 2, 3 }, 3)
    helpers.assert_error("InvalidArgument", { "linspace", "num", "required" }, tf.linspace, 0, 1)
  end)
end)

describe("tf.one_hot", function()
  it("encodes along the last axis with float32 by default", function()
    local o = tf.one_hot({ 0, 2, 1 }, 3)
    assert.equal("float32", o.dtype.name)
    assert.same({ { 1, 0, 0 }, { 0, 0, 1 }, { 0, 1, 0 } }, o:totable())
  end)

  it("gives all-off rows for out-of-range indices", function()
    assert.same({ { 0, 0, 0 }, { 0, 0, 0 }, { 0, 1, 0 } }, tf.one_hot({ -1, 3, 1 }, 3):totable())
  end)

  it("takes on/off values, with the dtype inferred from them", function()
    local a = tf.one_hot({ 1, 0 }, 2, 5, -1)
    assert.equal("int32", a.dtype.name)
    assert.same({ { -1, 5 }, { 5, -1 } }, a:totable())
    local b = tf.one_hot({ 1 }, 3, 0.5, 0.25)
    assert.equal("float32", b.dtype.name)
    assert.same({ { 0.25, 0.5, 0.25 } }, b:totable())
    local c = tf.one_hot({ 1 }, 2, { on_value = tf.constant(2, tf.int64) })
    assert.equal("int64", c.dtype.name)
    assert.same({ { 0, 2 } }, c:totable())
    local d = tf.one_hot({ 0 }, 2, true, false)
    assert.equal("bool", d.dtype.name)
    assert.same({ { true, false } }, d:totable())
    local e = tf.one_hot({ 0 }, 2, { dtype = tf.float64 })
    assert.equal("float64", e.dtype.name)
  end)

  it("places the new axis where asked", function()
    local o = tf.one_hot({ 0, 2 }, 3, { axis = 0 })
    assert.same({ 3, 2 }, shape(o))
    assert.same({ { 1, 0 }, { 0, 0 }, { 0, 1 } }, o:totable())
    local m = tf.one_hot({ { 0, 1 }, { 1, 1 } }, 2, { axis = 1 })
    assert.same({ 2, 2, 2 }, shape(m))
    local ref = helpers.python([=[
idx = np.array([[0, 1], [1, 1]]); out = np.moveaxis(np.eye(2)[idx], -1, 1)]=])
    assert.same(ref, m:totable())
    assert.same({ 3 }, shape(tf.one_hot(tf.constant(1), 3)))
    assert.same({ 0, 4 }, shape(tf.one_hot(tf.zeros({ 0 }, tf.int32), 4)))
  end)

  it("accepts every integer index dtype", function()
    for _, n in ipairs({ "int8", "uint8", "int16", "int32", "int64" }) do
      assert.same({ { 0, 1 } }, tf.one_hot(tf.constant({ 1 }, tf[n]), 2):totable())
    end
  end)

  it("rejects float indices, negative depth and a bad axis", function()
    helpers.assert_error("InvalidArgument", { "one_hot:", "indices must be integers", "float32" },
      tf.one_hot, { 0.5 }, 2)
    helpers.assert_error("InvalidArgument", { "one_hot:", "depth must be non-negative" }, tf.one_hot, { 0 }, -2)
    helpers.assert_error("InvalidArgument", { "one_hot:", "axis 3" }, tf.one_hot, { 0 }, 2, { axis = 3 })
    helpers.assert_error("InvalidArgument", { "one_hot", "too many arguments" }, tf.one_hot, { 0 }, 2, 1, 0, -1,
      tf.float32, 7)
  end)
end)

-- Lua values to tensors (lbinding.c): the shape comes from the first entry
-- at each level and every other entry must match it; only list entries
-- become elements; numbers must fit the dtype.
describe("conversion of Lua values", function()
  local E = helpers.assert_error

  it("refuses a number and a list at the same level, naming the position", function()
    -- {1, {2}} used to crash the scanner; {1, {}} gave a (2, 0) tensor
    E("InvalidArgument", { "constant:", "ragged", "[2]", "a list where a number" }, tf.constant, { 1, { 2 } })
    E("InvalidArgument", { "constant:", "ragged", "[2]" }, tf.constant, { 1, {} })
    E("InvalidArgument", { "ragged", "[1][3]" }, tf.constant, { { 1, 2, { 3 } } })
    E("InvalidArgument", { "ragged", "[2]", "a number where a list of 1" }, tf.constant, { { 1 }, 2 })
    E("InvalidArgument", { "ragged", "[2]", "expected 0 elements, got 1" }, tf.constant, { {}, { 1 } })
    E("InvalidArgument", { "ragged", "[2][1]" }, tf.constant, { { { 1 } }, { 2 } })
    E("InvalidArgument", { "add:", "ragged", "[2]" }, function() return tf.constant({ 1.0, 2.0 }) + { 1.0, { 2.0 } } end)
    local cycle = {}
    cycle[1] = cycle
    E("InvalidArgument", { "nesting deeper than 8" }, tf.constant, cycle)
    assert.same({ 2, 0 }, tf.constant({ {}, {} }).shape:as_list())
    assert.same({ 1, 1, 0 }, tf.constant({ { {} } }).shape:as_list())
  end)

  it("refuses keys that are not list entries", function()
    E("InvalidArgument", { "constant:", "key 'x'", "the top level" }, tf.constant, { 1, 2, x = 3 })
    E("InvalidArgument", { "key 'y'", "[2]" }, tf.constant, { { 1 }, { 2, y = 0 } })
    E("InvalidArgument", { "key 5", "1..2" }, tf.constant, { 1, 2, [5] = 3 })
    E("InvalidArgument", { "key 0" }, tf.constant, { [0] = 1, 2 })
    E("InvalidArgument", { "key 1.5" }, tf.constant, { 1, [1.5] = 2 })
    E("InvalidArgument", { "boolean key" }, tf.constant, { 1, [true] = 2 })
    E("InvalidArgument", { "nil", "[2]" }, tf.constant, { 1, nil, 3 })
  end)

  it("refuses integers outside the dtype's range, naming the value and dtype", function()
    local ranges = {
      int8 = { -128, 127 }, uint8 = { 0, 255 }, int16 = { -32768, 32767 },
      int32 = { -2147483648, 2147483647 }, int64 = { math.mininteger, math.maxinteger },
    }
    for name, r in pairs(ranges) do
      local lo, hi = r[1], r[2]
      assert.same({ lo, hi }, tf.constant({ lo, hi }, tf[name]):totable())
      if name ~= "int64" then
        E("InvalidArgument", { tostring(hi + 1), name, "out of range" }, tf.constant, { hi + 1 }, tf[name])
        E("InvalidArgument", { tostring(lo - 1), name, "out of range" }, tf.constant, { { 0, lo - 1 } }, tf[name])
        -- integral floats are checked too
        E("InvalidArgument", { name, "out of range" }, tf.constant, { (hi + 1) * 1.0 }, tf[name])
        assert.same({ hi }, tf.constant({ hi * 1.0 }, tf[name]):totable())
      end
    end
    E("InvalidArgument", { "constant:", "300", "uint8" }, tf.constant, { 300 }, tf.uint8)
    E("InvalidArgument", { "1099511627776", "int32" }, tf.constant, { 1 << 40 }, tf.int32)
    -- 2^63 is a float just past int64's range (it used to clamp to maxinteger)
    E("InvalidArgument", { "9.2233720368547758e+18", "int64" }, tf.constant, { 2 ^ 63 }, tf.int64)
    assert.same({ math.mininteger }, tf.constant({ -2 ^ 63 }, tf.int64):totable())
    E("InvalidArgument", { "non-integer" }, tf.constant, { 0 / 0 }, tf.int32)
    E("InvalidArgument", { "non-integer" }, tf.constant, { math.huge }, tf.int64)
    -- the default dtype widens instead: int64 when an integer does not fit int32
    assert.equal(tf.int64, tf.constant({ 1, 1 << 40 }).dtype)
  end)

  it("checks Lua numbers that follow a tensor's dtype", function()
    local u = tf.constant({ 1, 2 }, tf.uint8)
    E("InvalidArgument", { "add:", "300", "uint8" }, function() return u + 300 end)
    E("InvalidArgument", { "subtract:", "-1", "uint8" }, function() return u - (-1) end)
    assert.same({ 2, 3 }, (u + 1):totable())
    local i8 = tf.constant({ 1 }, tf.int8)
    E("InvalidArgument", { "multiply:", "128", "int8" }, function() return i8 * 128 end)
  end)

  it("lets floats overflow to inf in float dtypes, as TensorFlow does", function()
    assert.same({ math.huge }, tf.constant({ 1e40 }, tf.float32):totable())
    assert.same({ -math.huge }, tf.constant({ -70000.0 }, tf.float16):totable())
    assert.same({ math.huge }, tf.constant({ 70000 }, tf.float16):totable())
    assert.same({ 65504 }, tf.constant({ 65504 }, tf.float16):totable())
  end)

  it("converts a TensorShape as its dims", function()
    local s = tf.zeros({ 2, 3 }).shape
    assert.same({ 2, 3 }, tf.constant(s):totable())
    assert.same({ 3, 2 }, tf.reshape(tf.zeros({ 6 }), tf.zeros({ 3, 2 }).shape).shape:as_list())
  end)

  it("refuses tensors inside tables with a pointer to tf.stack", function()
    E("InvalidArgument", { "tensor inside a table", "[2]", "tf.stack" }, tf.constant, { 1, tf.constant(2) })
  end)

  it("raises tf.errors values for bad dtype arguments", function()
    E("InvalidArgument", { "unknown dtype 'foo'" }, tf.constant, 1, "foo")
    E("InvalidArgument", { "dtype expected, got number" }, tf.constant, 1, 5)
    E("InvalidArgument", { "unknown dtype 'flaot32'" }, tf.Variable, 1, { dtype = "flaot32" })
    E("InvalidArgument", { "zeros:", "dtype" }, tf.zeros, { 2 }, "foo")
    E("InvalidArgument", { "cast:", "dtype" }, tf.cast, tf.constant(1), "int33")
  end)
end)

describe("tf.as_dtype", function()
  it("returns the DType for a DType or a name, as TensorFlow does", function()
    assert.equal(tf.float32, tf.as_dtype("float32"))
    assert.equal(tf.int8, tf.as_dtype(tf.int8))
    assert.equal(tf.float16, tf.as_dtype("half"))
    assert.equal(tf.float64, tf.as_dtype("double"))
    assert.equal(tf.as_dtype, tf.dtypes.as_dtype)
  end)

  it("raises InvalidArgument for anything else", function()
    helpers.assert_error("InvalidArgument", { "unknown dtype 'foo'" }, tf.as_dtype, "foo")
    helpers.assert_error("InvalidArgument", { "dtype expected, got nil" }, tf.as_dtype, nil)
    helpers.assert_error("InvalidArgument", { "dtype expected, got number" }, tf.as_dtype, 3)
    helpers.assert_error("InvalidArgument", { "dtype expected, got table" }, tf.as_dtype, {})
  end)

  it("has help, as C functions with a registered doc do", function()
    local help = require("tlua.help")
    assert.truthy(help.text(tf.as_dtype):find("^tf%.as_dtype%(x%): the DType"), help.text(tf.as_dtype))
    assert.truthy(help.text(tf.io.serialize_tensor):find("^tf%.io%.serialize_tensor%(t%)"))
  end)
end)

describe("shapes given as integral floats", function()
  it("are accepted wherever a creation op takes a shape, as indexing accepts them", function()
    assert.same({ 3 }, shape(tf.ones({ 6 / 2 })))
    assert.same({ 1024 }, shape(tf.zeros({ 2 ^ 10 })))
    assert.same({ 8 }, shape(tf.ones(2 ^ 3)))
    assert.same({ 2, 3 }, shape(tf.random.uniform({ 4 / 2, 3.0 })))
    assert.same({ 2, 2 }, shape(tf.random.normal({ 2.0, 2 })))
    assert.same({ 3, 2, 2 }, shape(tf.eye(2.0, 2, { batch_shape = { 3.0 } })))
    assert.same({ 3, 2 }, shape(tf.fill({ 6 / 2, 2.0 }, 1)))
    assert.same({ 2, 3 }, shape(tf.reshape(tf.range(6), { 2.0, 3 })))
  end)

  it("still refuse fractions and numbers beyond int64", function()
    helpers.assert_error("InvalidArgument", { "ones:", "shape", "integer" }, tf.ones, { 2.5 })
    helpers.assert_error("InvalidArgument", { "zeros:", "shape", "integer" }, tf.zeros, 2 ^ 70)
    helpers.assert_error("InvalidArgument", { "fill:", "dims must hold integers" }, tf.fill, { 2.5 }, 1)
  end)
end)

-- Every case of the linalg, creation, random and debug ops (tests/spec/
-- op_cases) with the dispatcher checking each kernel against its shape
-- rule, on the CPU and again with the inputs on the test device, whose
-- results must be bit-identical. Ops of other families that have no shape
-- rule yet make a case pending here (the registry-wide conformance spec
-- covers them once they do).
describe("shape rules and the test device: linalg, creation, random and debug ops", function()
  local dir = (os.getenv("TLUA_SOURCE_DIR") or ".") .. "/tests/spec/op_cases/"
  local cases = {}
  for _, f in ipairs({ "linalg", "create", "debug" }) do
    for name, c in pairs(dofile(dir .. f .. ".lua")) do cases[name] = c end
  end
  local mine = {
    "matmul", "tensordot", "inv", "det", "solve", "matrix_transpose", "trace", "diag_part", "diag",
    "zeros", "ones", "fill", "zeros_like", "ones_like", "eye", "range", "linspace", "one_hot",
    "random_uniform", "random_normal", "truncated_normal", "random_shuffle", "categorical",
    "stop_gradient", "check_numerics", "copy_to_device",
  }
  local is_mine = {}
  for _, n in ipairs(mine) do is_mine[n] = true end

  local function on_host(r)
    if not tf.is_tensor(r) then return r end
    return { r.dtype.name, r.shape:as_list(), tf.copy_to_device(r, "CPU:0"):totable() }
  end

  local function run(case, device)
    local args = {}
    for i, x in ipairs(case.inputs) do
      args[i] = tf.is_tensor(x) and x or tf.constant(x, tf.float64)
      if device then args[i] = tf.copy_to_device(args[i], device) end
    end
    return on_host(case.fn(table.unpack(args)))
  end

  for _, name in ipairs(mine) do
    it(name .. " agrees with its shape rule, on the CPU and the test device alike", function()
      assert(#cases[name] > 0, name .. " has no runnable case")
      local before, pending = tf.core.infer_checks(name), {}
      tf.core.set_check_infer(true)
      local ok_all, failure = pcall(function()
        for k, case in ipairs(cases[name]) do
          local ok, cpu = pcall(run, case)
          local ok2, dev = true, nil
          if ok then ok2, dev = pcall(run, case, "TEST:0") end
          local err = tostring(ok and dev or cpu)
          local other = (not ok or not ok2) and err:match("(%S+) has no shape rule")
          if other and not is_mine[other] then
            pending[#pending + 1] = other
          else
            assert(ok and ok2, ("%s case %d: %s"):format(name, k, err))
            assert.same(cpu, dev, ("%s case %d differs on the test device"):format(name, k))
          end
        end
      end)
      tf.core.set_check_infer(false)
      if not ok_all then error(failure, 0) end
      if #pending < #cases[name] then
        assert(tf.core.infer_checks(name) > before, name .. " was never checked against its shape rule")
      end
    end)
  end
end)
