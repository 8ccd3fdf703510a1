-- The element-wise ops' shape rules against their kernels: with
-- core.set_check_infer(true) the dispatcher checks every output against the
-- op's rule, so each call below fails (InternalError) if the rule and the
-- kernel disagree on dtype or shape, or if the op has no rule. Every op of
-- ops/elementwise.c and ops/unary.c runs over every dtype family (half
-- types through the dispatcher's float32 path), broadcast patterns, scalars,
-- zero-sized and strided inputs. Also: half results are rounded correctly,
-- the small add allocates only its output, and the ops and their
-- gradients run on the test device.
local tf = require("tlua")
local helpers = require("helpers")
local core = tf.core
local assert_error = helpers.assert_error

local dtypes = { tf.float32, tf.float64, tf.float16, tf.bfloat16, tf.int8, tf.uint8, tf.int16, tf.int32,
                 tf.int64, tf.bool }

local binary = { "add", "subtract", "multiply", "divide", "truediv", "divide_no_nan", "floordiv",
                 "truncatediv", "floormod", "truncatemod", "pow", "maximum", "minimum", "squared_difference",
                 "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
                 "logical_or", "logical_xor", "relu_grad", "sigmoid_grad", "tanh_grad" }
local unary = { "negative", "abs", "sign", "square", "relu", "relu6", "round", "floor", "ceil", "sqrt", "rsqrt",
                "exp", "expm1", "log", "log1p", "tanh", "sigmoid", "softplus", "log_sigmoid", "softsign", "elu",
                "selu", "leaky_relu", "gelu", "reciprocal", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
                "cosh", "erf", "is_nan", "is_inf", "is_finite", "logical_not" }

-- Shape pairs: equal, row and column broadcast, scalars either side, rank
-- growth both ways, zero-sized (against a row and a one-element operand).
-- Each: x's shape, y's shape, the result's.
local pairs_ = { { { 2, 3 }, { 2, 3 }, { 2, 3 } }, { { 2, 3 }, { 3 }, { 2, 3 } }, { { 2, 1 }, { 1, 3 }, { 2, 3 } },
                 { {}, { 2, 3 }, { 2, 3 } }, { { 2, 3 }, {}, { 2, 3 } }, { { 4, 1, 3 }, { 2, 1 }, { 4, 2, 3 } },
                 { { 3 }, { 2, 2, 3 }, { 2, 2, 3 } }, { { 0, 3 }, { 3 }, { 0, 3 } }, { { 0 }, { 1 }, { 0 } },
                 { {}, {}, {} } }

-- Inputs are made before checking starts (creation ops are not ours); 2s
-- and 3s keep integer division and powers defined.
local function make(shape, dt, v)
  return tf.cast(tf.fill(shape, v or 2.0), dt)
end

-- Runs f with infer checking on; an InternalError (rule and kernel
-- disagree) fails the test, other errors (dtype not accepted) are returned.
local function checked(f, ...)
  core.set_check_infer(true)
  local ok, r = pcall(f, ...)
  core.set_check_infer(false)
  if not ok then
    assert(not tf.errors.is(r, "Internal"), tostring(r))
    assert(tf.errors.is(r, "InvalidArgument") or tf.errors.is(r, "Unimplemented"), tostring(r))
    return nil, r
  end
  return r
end

describe("element-wise shape rules agree with the kernels", function()
  it("for every binary op, dtype and broadcast pattern", function()
    local inputs = {}
    for _, dt in ipairs(dtypes) do
      inputs[dt] = {}
      for k, p in ipairs(pairs_) do inputs[dt][k] = { make(p[1], dt, 3.0), make(p[2], dt) } end
    end
    for _, name in ipairs(binary) do
      local before, accepted = core.infer_checks(name), 0
      for _, dt in ipairs(dtypes) do
        for k, p in ipairs(pairs_) do
          local r = checked(tf.raw_ops[name], inputs[dt][k][1], inputs[dt][k][2])
          if r then
            accepted = accepted + 1
            assert.same(p[3], r.shape:as_list(), name)
          end
        end
      end
      assert(accepted > 0, name .. " accepted no dtype")
      assert.equal(before + accepted, core.infer_checks(name), name)
    end
  end)

  it("for strided operands", function()
    local x = tf.transpose(tf.reshape(tf.range(6.0), { 2, 3 })) -- [3,2], not contiguous
    local y = tf.transpose(tf.reshape(tf.range(6.0, 12.0), { 2, 3 }))
    local row = tf.constant({ 1.0, 2.0 })
    assert.same({ { 6, 12 }, { 8, 14 }, { 10, 16 } }, checked(tf.add, x, y):totable())
    assert.same({ { 1, 5 }, { 2, 6 }, { 3, 7 } }, checked(tf.add, x, row):totable())
    assert.same({ { 0, 9 }, { 1, 16 }, { 4, 25 } }, checked(tf.square, x):totable())
    assert.same({ { 1, 3 }, { 1, 3 }, { 2, 3 } }, checked(tf.clip_by_value, x, 1.0, 3.0):totable())
    assert.same({ { 0, 3 }, { 1, 4 }, { 2, 5 } }, checked(tf.add_n, { x }):totable())
  end)

  it("for every unary op and dtype", function()
    local inputs = {}
    for _, dt in ipairs(dtypes) do inputs[dt] = { make({ 2, 3 }, dt, 0.5), make({}, dt, 0.5), make({ 0, 2 }, dt) } end
    for _, name in ipairs(unary) do
      local before, accepted = core.infer_checks(name), 0
      for _, dt in ipairs(dtypes) do
        for _, x in ipairs(inputs[dt]) do
          local r = checked(tf.raw_ops[name], x)
          if r then
            accepted = accepted + 1
            assert.same(x.shape:as_list(), r.shape:as_list())
            local bool_out = name:match("^is_") or name == "logical_not"
            assert.equal(bool_out and tf.bool or dt, r.dtype, name)
          end
        end
      end
      assert(accepted > 0, name .. " accepted no dtype")
      assert.equal(before + accepted, core.infer_checks(name), name)
    end
    -- the attribute variants
    local x = make({ 3 }, tf.float16, -0.5)
    assert.equal(tf.float16, checked(tf.nn.leaky_relu, x, 0.1).dtype)
    assert.equal(tf.float16, checked(tf.nn.gelu, x, true).dtype)
  end)

  it("for cast between every pair of dtypes", function()
    local before, n = core.infer_checks("cast"), 0
    for _, from in ipairs(dtypes) do
      local x, z = make({ 2, 3 }, from, 1.0), make({ 0 }, from)
      for _, to in ipairs(dtypes) do
        local r = checked(tf.cast, x, to)
        assert.equal(to, r.dtype)
        assert.same({ 2, 3 }, r.shape:as_list())
        assert.same({ 0 }, checked(tf.cast, z, to).shape:as_list())
        n = n + 2
      end
    end
    assert.equal(before + n, core.infer_checks("cast"))
    -- a cast to the same dtype is a new tensor with the same values
    local x = tf.constant({ 1.5, 2.5 })
    local y = checked(tf.cast, x, tf.float32)
    assert.same({ 1.5, 2.5 }, y:totable())
  end)

  it("for clip_by_value and add_n over dtypes and shapes", function()
    for _, dt in ipairs(dtypes) do
      if dt ~= tf.bool then
        local t, lo, hi = make({ 2, 3 }, dt, 3.0), make({ 3 }, dt, 1.0), make({}, dt, 2.0)
        assert.same({ { 2, 2, 2 }, { 2, 2, 2 } }, checked(tf.clip_by_value, t, lo, hi):totable())
        assert.same({ { 2, 2, 2 }, { 2, 2, 2 } }, checked(tf.clip_by_value, t, make({ 2, 1 }, dt, 1.0), hi):totable())
        assert.same({ 0, 3 }, checked(tf.clip_by_value, make({ 0, 3 }, dt), lo, hi).shape:as_list())
        local a = make({ 2, 3 }, dt, 1.0)
        assert.same({ { 3, 3, 3 }, { 3, 3, 3 } }, checked(tf.add_n, { a, a, a }):totable())
        assert.same({ 0, 2 }, checked(tf.add_n, { make({ 0, 2 }, dt), make({ 0, 2 }, dt) }).shape:as_list())
      end
    end
    assert(core.infer_checks("clip_by_value") >= 27)
    assert(core.infer_checks("add_n") >= 18)
  end)
end)

describe("element-wise shape rules reject what the kernels did", function()
  it("with the same messages", function()
    local f = tf.ones({ 2, 3 })
    local _, e = checked(tf.add, f, tf.ones({ 4 }))
    assert(tostring(e):find("add: float32%[2,3%], float32%[4%]: shapes %[2,3%] and %[4%] are incompatible for broadcasting"), tostring(e))
    _, e = checked(tf.math.divide_no_nan, tf.constant({ 1 }), tf.constant({ 1 }))
    assert(tf.errors.is(e, "InvalidArgument") and tostring(e):find("divide_no_nan needs a floating%-point tensor, got int32"))
    _, e = checked(tf.logical_and, f, f)
    assert(tostring(e):find("logical_and expects bool tensors, got float32"))
    _, e = checked(tf.clip_by_value, tf.ones({ 3 }), tf.ones({ 2, 3 }), 1.0)
    assert(tostring(e):find("must broadcast to t's shape %[3%]"))
    _, e = checked(tf.add_n, { tf.ones({ 2 }), tf.ones({ 3 }) })
    assert(tostring(e):find("same shape: input 0 is float32%[2%], input 1 is float32%[3%]"))
    _, e = checked(tf.add_n, { tf.constant({ true }) })
    assert(tostring(e):find("add_n is not defined for bool tensors"))
    _, e = checked(tf.cast, tf.constant({ 1.0 }), tf.string)
    assert(tf.errors.is(e, "Unimplemented") and tostring(e):find("float32 to string"))
    _, e = checked(tf.sqrt, tf.constant({ 4 }))
    assert(tostring(e):find("sqrt needs a floating%-point tensor, got int32"))
  end)

  it("data-dependent errors still come from the kernels", function()
    local _, e = checked(tf.math.floordiv, tf.constant({ 1, 2 }), tf.constant({ 1, 0 }))
    assert(tostring(e):find("integer division by zero"))
    _, e = checked(tf.pow, tf.constant({ 2 }), tf.constant({ -1 }))
    assert(tostring(e):find("negative integer powers"))
  end)
end)

describe("half precision through float32", function()
  -- 1 + (2^-11 + 2^-20) is exact in float32 and lies just above the midpoint
  -- of 1 and 1 + 2^-10: correctly rounded it is 1 + 2^-10; truncation, or
  -- summing in half, would give 1.
  it("rounds float16 results to nearest", function()
    local a = tf.constant({ 1.0, 1.0, 3.0, 2.0 }, tf.float16)
    local b = tf.constant({ 2 ^ -11 + 2 ^ -20, 2 ^ -11, 7.0, 3.0 }, tf.float16)
    assert.same({ 1 + 2 ^ -10, 1.0, 10.0, 5.0 }, (a + b):totable()) -- 2^-11 alone ties to even: 1
    -- 1/3 in float16 is 0x3555 = 0.333251953125 (nearest of 0.33325 and 0.33350)
    assert.same({ 0.333251953125 }, (tf.constant({ 1.0 }, tf.float16) / tf.constant({ 3.0 }, tf.float16)):totable())
    -- sqrt(2) -> 1.4140625 (0x3DA8), correctly rounded from float32
    assert.same({ 1.4140625 }, tf.sqrt(tf.constant({ 2.0 }, tf.float16)):totable())
    -- bfloat16: 1 + (2^-8 + 2^-15) rounds up to 1 + 2^-7
    local c = tf.constant({ 1.0 }, tf.bfloat16) + tf.constant({ 2 ^ -8 + 2 ^ -15 }, tf.bfloat16)
    assert.same({ 1 + 2 ^ -7 }, c:totable())
  end)

  it("keeps add_n's per-addition rounding (TF's half AddN)", function()
    -- 1 + 2^-11 rounds to 1 at each step; one float32 sum would give 1 + 2^-10
    local one, e = tf.constant({ 1.0 }, tf.float16), tf.constant({ 2 ^ -11 }, tf.float16)
    assert.same({ 1.0 }, tf.add_n({ one, e, e }):totable())
    assert.equal(tf.float16, tf.add_n({ one, e }).dtype)
  end)

  it("compares halves and truediv keeps the half dtype", function()
    local a, b = tf.constant({ 1.0, 2.0 }, tf.float16), tf.constant({ 2.0, 2.0 }, tf.float16)
    assert.equal(tf.bool, checked(tf.less, a, b).dtype)
    assert.equal(tf.float16, checked(tf.truediv, a, b).dtype)
    assert.equal(tf.float64, checked(tf.truediv, tf.constant({ 1 }), tf.constant({ 2 })).dtype)
    assert.equal(tf.float32, checked(tf.truediv, tf.constant({ 1 }, tf.int16), tf.constant({ 2 }, tf.int16)).dtype)
  end)
end)

describe("element-wise allocation", function()
  it("a 10-element add allocates only its output", function()
    local x = tf.range(10.0)
    local y = tf.range(10.0)
    local _ = x + y -- warm up
    local before = core.memory_stats().alloc_count
    local z = x + y
    assert.equal(before + 1, core.memory_stats().alloc_count)
    assert.equal(18, z:totable()[10])
  end)
end)

describe("element-wise ops on the test device", function()
  local function dev(t) return tf.copy_to_device(t, "TEST:0") end
  local function host(t) return tf.copy_to_device(t, "CPU:0"):totable() end

  it("run every family and the half path there", function()
    local x, y = dev(tf.constant({ { 1.0, -2.0 }, { 3.0, 4.0 } })), dev(tf.constant({ 0.5, 2.0 }))
    assert.same({ { 1.5, 0.0 }, { 3.5, 6.0 } }, host(x + y))
    assert.same({ { 1.0, 0.0 }, { 3.0, 4.0 } }, host(tf.nn.relu(x)))
    assert.same({ { false, true }, { false, false } }, host(tf.less(x, y)))
    assert.same({ { 1, -2 }, { 3, 4 } }, host(tf.cast(x, tf.int32)))
    assert.same({ { 1.0, 0.0 }, { 2.0, 2.0 } }, host(tf.clip_by_value(x, 0.0, 2.0)))
    assert.same({ { 2.0, -4.0 }, { 6.0, 8.0 } }, host(tf.add_n({ x, x })))
    local h = dev(tf.constant({ 1.0, 4.0 }, tf.float16))
    assert.same({ 1.0, 2.0 }, host(tf.sqrt(h)))
    assert.same({ 0.5, 2.0 }, host(tf.truediv(h, dev(tf.constant({ 2.0, 2.0 }, tf.float16)))))
    assert.same({ 0.5, 2.0 }, host(tf.truediv(dev(tf.constant({ 1, 4 })), dev(tf.constant({ 2, 2 })))))
  end)

  it("gradients that are zeros are made there (sign, relu_grad)", function()
    local x = dev(tf.constant({ -1.5, 2.0 }, tf.float64))
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = tf.sign(x)
    local gs = tape:gradient(y, x, { output_gradients = dev(tf.ones({ 2 }, tf.float64)) })
    assert.are_not.equal("cpu", gs.device) -- made on x's device, not the host
    assert.same({ 0.0, 0.0 }, host(gs))
    -- relu's second derivative: relu_grad's gradient wrt its features is zeros
    local outer = tf.GradientTape()
    outer:watch(x)
    local inner = tf.GradientTape()
    inner:watch(x)
    local r = tf.nn.relu(x)
    local seed = dev(tf.ones({ 2 }, tf.float64)) -- the tape's own seed is made on the CPU
    local g = inner:gradient(r, x, { output_gradients = seed })
    assert.same({ 0.0, 1.0 }, host(g))
    local gg = outer:gradient(g, x, { output_gradients = seed })
    assert.are_not.equal("cpu", gg.device)
    assert.same({ 0.0, 0.0 }, host(gg))
  end)
end)
