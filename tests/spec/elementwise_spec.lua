-- Element-wise ops against numpy/PyTorch: every binary and unary op, every
-- dtype family, broadcasting, integer division semantics, NaN/inf, the Lua
-- operators, cast/clip_by_value/add_n, zero-sized and non-contiguous inputs,
-- the parallel paths, and the error messages.
local tf = require("tlua")
local helpers = require("helpers")
local assert_error, assert_close = helpers.assert_error, helpers.assert_close

local nan, inf = 0 / 0, math.huge

local function py(t)
  if type(t) == "boolean" then return t and "True" or "False" end
  if type(t) ~= "table" then
    if math.type(t) == "integer" then return tostring(t) end
    if t ~= t then return "float('nan')" end
    if t == inf then return "float('inf')" end
    if t == -inf then return "float('-inf')" end
    return ("%.17g"):format(t)
  end
  local parts = {}
  for i, v in ipairs(t) do parts[i] = py(v) end
  return "[" .. table.concat(parts, ",") .. "]"
end

local function same(expected, t, msg)
  assert.same(expected, t:totable(), msg)
end

-- float32 results within 2 ulp-ish of a float64 reference
local F32_RTOL, F32_ATOL = 4e-7, 1e-37

describe("binary float ops", function()
  local x = { -3.5, -1.0, -0.5, 0.0, 0.5, 2.0, 7.25, 1e-3 }
  local y = { 2.0, -1.5, 0.25, 3.0, -4.0, 0.5, 2.0, 7.0 }
  local ref = helpers.python(([==[
x=np.array(%s,dtype=np.float32); y=np.array(%s,dtype=np.float32)
with np.errstate(all='ignore'):
  r={'add':x+y,'subtract':x-y,'multiply':x*y,'divide':x/y,'floordiv':np.floor(x/y),
   'floormod':np.mod(x,y),'truncatemod':np.fmod(x,y),'truncatediv':np.trunc(x/y),
   'pow':np.power(np.abs(x),y),'maximum':np.maximum(x,y),'minimum':np.minimum(x,y),
   'squared_difference':(x-y)**2,'equal':x==y,'not_equal':x!=y,'less':x<y,'less_equal':x<=y,
   'greater':x>y,'greater_equal':x>=y,
   'add64':(x.astype(np.float64)+y.astype(np.float64)),'div64':x.astype(np.float64)/y.astype(np.float64),
   'pow64':np.power(np.abs(x.astype(np.float64)),y.astype(np.float64))}
out={k:v.tolist() for k,v in r.items()}
]==]):format(py(x), py(y)))
  local X, Y = tf.constant(x), tf.constant(y)

  it("match numpy in float32", function()
    for _, name in ipairs({ "add", "subtract", "multiply", "divide", "floordiv", "floormod",
                            "truncatemod", "truncatediv", "maximum", "minimum", "squared_difference" }) do
      local r = tf.raw_ops[name](X, Y)
      assert.equal(tf.float32, r.dtype, name)
      assert_close(r, ref[name], F32_RTOL, 1e-30)
    end
    assert_close(tf.pow(tf.abs(X), Y), ref.pow, 1e-6, 1e-30)
    for _, name in ipairs({ "equal", "not_equal", "less", "less_equal", "greater", "greater_equal" }) do
      local r = tf.raw_ops[name](X, Y)
      assert.equal(tf.bool, r.dtype, name)
      same(ref[name], r, name)
    end
  end)

  it("match numpy in float64", function()
    local X64, Y64 = tf.cast(X, tf.float64), tf.cast(Y, tf.float64)
    assert_close(X64 + Y64, ref.add64, 1e-15, 0)
    assert_close(X64 / Y64, ref.div64, 1e-15, 0)
    assert_close(tf.pow(tf.abs(X64), Y64), ref.pow64, 1e-14, 0)
    assert.equal(tf.float64, (X64 * Y64).dtype)
  end)

  it("have TF api paths", function()
    assert.equal(tf.raw_ops.add, tf.math.add)
    assert.equal(tf.raw_ops.floormod, tf.math.mod)
    assert.equal(tf.raw_ops.floormod, tf.math.floormod)
    assert.equal(tf.raw_ops.truediv, tf.math.truediv)
    assert.equal(tf.raw_ops.squared_difference, tf.math.squared_difference)
    assert.equal(tf.raw_ops.logical_xor, tf.math.logical_xor)
    assert.is_function(tf.floordiv)
    assert.is_function(tf.truncatediv)
    assert.is_function(tf.truncatemod)
    assert.is_function(tf.math.divide_no_nan)
  end)

  it("follow IEEE for division by zero, NaN and inf", function()
    local r = tf.constant({ 1.0, -1.0, 0.0, inf }) / tf.constant({ 0.0, 0.0, 0.0, inf })
    local t = r:totable()
    assert.equal(inf, t[1])
    assert.equal(-inf, t[2])
    assert.is_true(t[3] ~= t[3])
    assert.is_true(t[4] ~= t[4])
    local a, b = tf.constant({ nan, 1.0, nan }), tf.constant({ 1.0, nan, nan })
    for _, f in ipairs({ tf.maximum, tf.minimum, tf.add, tf.multiply }) do
      for _, v in ipairs(f(a, b):totable()) do assert.is_true(v ~= v) end
    end
    same({ false, false, false }, tf.equal(a, b))
    same({ true, true, true }, tf.not_equal(a, b))
    same({ false, false, false }, tf.less(a, b))
    same({ false, false, false }, tf.greater_equal(a, b))
    assert_close(tf.math.floormod(tf.constant({ 5.0, -5.0 }), tf.constant({ 0.0, 0.0 })), { nan, nan })
    same({ 0.0, 2.0 }, tf.math.divide_no_nan(tf.constant({ 1.0, 4.0 }), tf.constant({ 0.0, 2.0 })))
    same({ inf, 0.0 }, tf.pow(tf.constant({ 0.0, 2.0 }), tf.constant({ -1.0, -inf })))
  end)

  it("compute float16 and bfloat16 through float32", function()
    for _, d in ipairs({ tf.float16, tf.bfloat16 }) do
      local a, b = tf.constant({ 1.5, -2.0, 3.0 }, d), tf.constant({ 0.25, 4.0, -1.0 }, d)
      local r = a + b
      assert.equal(d, r.dtype)
      same({ 1.75, 2.0, 2.0 }, r)
      same({ 6.0, -0.5, -3.0 }, a / b)
      same({ false, true, false }, tf.less(a, b))
      same({ 1.5, 4.0, 3.0 }, tf.maximum(a, b))
    end
  end)
end)

describe("integer ops", function()
  local x = { 7, -7, 7, -7, 0, 1, -1, 100, -100, 5 }
  local y = { 2, 2, -2, -2, 3, -3, 5, -7, 7, 1 }
  local ref = helpers.python(([==[
x=np.array(%s,dtype=np.int64); y=np.array(%s,dtype=np.int64)
r={'floordiv':x//y,'floormod':x%%y,'truncatediv':np.sign(x)*np.sign(y)*(np.abs(x)//np.abs(y)),
     'truncatemod':np.fmod(x,y),'add':x+y,'subtract':x-y,'multiply':x*y,'maximum':np.maximum(x,y),
     'minimum':np.minimum(x,y),'sqd':(x-y)**2,'div':x/y}
out={k:v.tolist() for k,v in r.items()}
]==]):format(py(x), py(y)))

  it("floordiv/floormod round like Python, truncate* like C, for every int dtype", function()
    for _, d in ipairs({ tf.int8, tf.int16, tf.int32, tf.int64 }) do
      local X, Y = tf.constant(x, d), tf.constant(y, d)
      same(ref.floordiv, tf.math.floordiv(X, Y), d.name)
      same(ref.floormod, tf.math.floormod(X, Y), d.name)
      same(ref.truncatediv, tf.truncatediv(X, Y), d.name)
      same(ref.truncatemod, tf.truncatemod(X, Y), d.name)
      same(ref.floordiv, X // Y, d.name)
      same(ref.floormod, X % Y, d.name)
      same(ref.add, X + Y, d.name)
      same(ref.subtract, X - Y, d.name)
      same(ref.maximum, tf.maximum(X, Y), d.name)
      same(ref.minimum, tf.minimum(X, Y), d.name)
      if d ~= tf.int8 then -- the products overflow int8
        same(ref.multiply, X * Y, d.name)
        same(ref.sqd, tf.math.squared_difference(X, Y), d.name)
      end
      assert.equal(d, (X // Y).dtype)
    end
  end)

  it("uint8 works and wraps", function()
    local a, b = tf.constant({ 250, 3, 0 }, tf.uint8), tf.constant({ 10, 2, 1 }, tf.uint8)
    same({ 4, 5, 1 }, a + b)
    same({ 240, 1, 255 }, a - b)
    same({ 25, 1, 0 }, a // b)
    same({ 0, 1, 0 }, a % b)
    same({ 196, 6, 0 }, a * b)
  end)

  it("wraps on overflow like TF (no undefined behaviour)", function()
    same({ -128 }, tf.constant({ 127 }, tf.int8) + tf.constant({ 1 }, tf.int8))
    same({ -2147483648 }, tf.constant({ 2147483647 }) + 1)
    same({ math.mininteger }, tf.constant({ math.maxinteger }, tf.int64) + 1)
    same({ 0 }, tf.constant({ 65536 }) * tf.constant({ 65536 }))
    -- INT_MIN / -1 traps in C; TF/numpy give INT_MIN
    same({ -2147483648 }, tf.math.floordiv(tf.constant({ -2147483648 }), -1))
    same({ 0 }, tf.math.floormod(tf.constant({ -2147483648 }), -1))
    same({ math.mininteger }, tf.truncatediv(tf.constant({ math.mininteger }, tf.int64), -1))
    same({ -2147483648 }, -tf.constant({ -2147483648 }))
    same({ -2147483648 }, tf.abs(tf.constant({ -2147483648 })))
  end)

  it("divide is true division: int32/int64 -> float64, small ints -> float32", function()
    local r = tf.constant(x) / tf.constant(y)
    assert.equal(tf.float64, r.dtype)
    assert_close(r, ref.div, 1e-15, 0)
    assert.equal(tf.float64, tf.divide(tf.constant(x, tf.int64), tf.constant(y, tf.int64)).dtype)
    assert.equal(tf.float64, tf.truediv(tf.constant(x), tf.constant(y)).dtype)
    for _, d in ipairs({ tf.int8, tf.int16, tf.uint8 }) do
      local q = tf.divide(tf.constant({ 7, 9 }, d), tf.constant({ 2, 4 }, d))
      assert.equal(tf.float32, q.dtype, d.name)
      same({ 3.5, 2.25 }, q, d.name)
    end
    same({ inf }, tf.constant({ 1 }) / 0)
  end)

  it("pow on integers is exact integer power", function()
    same({ 1, 8, -27, 1024, 0, 1 }, tf.pow(tf.constant({ 5, 2, -3, 2, 0, -1 }), tf.constant({ 0, 3, 3, 10, 5, 4 })))
    same({ 8, 9 }, tf.constant({ 2, 3 }) ^ tf.constant({ 3, 2 }))
    same({ 4, 9 }, tf.constant({ 2, 3 }) ^ 2)
    same({ 1099511627776 }, tf.pow(tf.constant({ 2 }, tf.int64), tf.constant({ 40 }, tf.int64)))
  end)

  it("comparisons on ints and bools", function()
    local a, b = tf.constant({ 1, 2, 3 }), tf.constant({ 3, 2, 1 })
    same({ true, false, false }, tf.less(a, b))
    same({ true, true, false }, a:le(b))
    same({ false, false, true }, a:gt(b))
    same({ false, true, true }, a:ge(b))
    same({ false, true, false }, a:eq(b))
    same({ true, false, true }, a:ne(b))
    local p, q = tf.constant({ true, true, false, false }), tf.constant({ true, false, true, false })
    same({ true, false, false, true }, tf.equal(p, q))
    same({ false, true, true, false }, tf.not_equal(p, q))
  end)
end)

describe("logical ops", function()
  local p, q = tf.constant({ true, true, false, false }), tf.constant({ true, false, true, false })
  it("and/or/xor/not, also as & | ~", function()
    same({ true, false, false, false }, tf.logical_and(p, q))
    same({ true, true, true, false }, tf.logical_or(p, q))
    same({ false, true, true, false }, tf.math.logical_xor(p, q))
    same({ false, false, true, true }, tf.logical_not(p))
    same({ true, false, false, false }, p & q)
    same({ true, true, true, false }, p | q)
    same({ false, true, true, false }, p ~ q)
    same({ false, false, true, true }, ~p)
    same({ false, false, false, false }, p & false)
    same({ true, true, true, true }, true | q)
  end)
end)

describe("unary ops", function()
  local x = { -5.0, -1.5, -0.5, -1e-4, 0.0, 1e-4, 0.3, 1.0, 2.5, 10.0 }
  local pos = { 1e-30, 1e-4, 0.3, 1.0, 2.5, 10.0, 1e20 }
  local unit = { -0.9, -0.5, 0.0, 0.25, 0.75 }
  local ref = helpers.python(([==[
import torch
x=np.array(%s,dtype=np.float64); p=np.array(%s,dtype=np.float64); u=np.array(%s,dtype=np.float64)
xs=np.float32(x).astype(np.float64); ps=np.float32(p).astype(np.float64); us=np.float32(u).astype(np.float64)
T=lambda a: torch.tensor(a,dtype=torch.float64)
import math
r={'negative':-xs,'abs':np.abs(xs),'sign':np.sign(xs),'square':xs*xs,'exp':np.exp(xs),'expm1':np.expm1(xs),
 'tanh':np.tanh(xs),'sigmoid':torch.sigmoid(T(xs)).numpy(),'relu':np.maximum(xs,0),
 'relu6':np.minimum(np.maximum(xs,0),6),'elu':np.where(xs>0,xs,np.expm1(xs)),
 'selu':1.0507009873554804934193349852946*np.where(xs>0,xs,1.6732632423543772848170429916717*np.expm1(xs)),
 # torch's gelu forms cancel for negative x (1 + erf, 1 + tanh): use the stable identities
 'gelu':0.5*xs*np.vectorize(math.erfc)(-xs/math.sqrt(2)),
 'gelu_tanh':xs/(1+np.exp(-2*math.sqrt(2/math.pi)*(xs+0.044715*xs**3))),
 'gelu_torch':torch.nn.functional.gelu(T(xs)).numpy(),
 'softplus':torch.nn.functional.softplus(T(xs)).numpy(),'softsign':torch.nn.functional.softsign(T(xs)).numpy(),
 'log_sigmoid':torch.nn.functional.logsigmoid(T(xs)).numpy(),
 'leaky_relu':torch.nn.functional.leaky_relu(T(xs),0.2).numpy(),
 'leaky_relu_01':torch.nn.functional.leaky_relu(T(xs),0.1).numpy(),
 'sin':np.sin(xs),'cos':np.cos(xs),'tan':np.tan(xs),'atan':np.arctan(xs),'sinh':np.sinh(xs),'cosh':np.cosh(xs),
 'erf':torch.erf(T(xs)).numpy(),'floor':np.floor(xs),'ceil':np.ceil(xs),
 'sqrt':np.sqrt(ps),'rsqrt':1/np.sqrt(ps),'log':np.log(ps),'log1p':np.log1p(xs[xs>-1]),'reciprocal':1/ps,
 'asin':np.arcsin(us),'acos':np.arccos(us)}
out={k:np.asarray(v).tolist() for k,v in r.items()}
]==]):format(py(x), py(pos), py(unit)))
  local X, P, U = tf.constant(x), tf.constant(pos), tf.constant(unit)
  local X64 = tf.cast(X, tf.float64)

  local on_x = { "negative", "abs", "sign", "square", "exp", "expm1", "tanh", "sigmoid", "relu", "relu6",
                 "elu", "selu", "gelu", "softplus", "softsign", "log_sigmoid", "leaky_relu", "sin", "cos",
                 "tan", "atan", "sinh", "cosh", "erf", "floor", "ceil" }
  local on_p = { "sqrt", "rsqrt", "log", "reciprocal" }
  local on_u = { "asin", "acos" }

  it("match numpy/PyTorch in float32 (within a few ulp) and float64", function()
    local function check(names, T, T64)
      for _, name in ipairs(names) do
        local f = tf.raw_ops[name]
        local r = f(T)
        assert.equal(tf.float32, r.dtype, name)
        local ok, why = helpers.close(r:totable(), ref[name], 1e-6, 1e-37)
        assert(ok, name .. " float32: " .. tostring(why))
        ok, why = helpers.close(f(T64):totable(), ref[name], 1e-13, 1e-300)
        assert(ok, name .. " float64: " .. tostring(why))
      end
    end
    check(on_x, X, X64)
    check(on_p, P, tf.cast(P, tf.float64))
    check(on_u, U, tf.cast(U, tf.float64))
    local lp = tf.constant({ -0.5, -1e-4, 0.0, 1e-4, 0.3, 1.0, 2.5, 10.0 })
    assert_close(tf.math.log1p(lp), ref.log1p, 1e-6, 1e-37)
  end)

  it("have attributes: leaky_relu alpha, gelu approximate", function()
    assert_close(tf.nn.leaky_relu(X, 0.1), ref.leaky_relu_01, 1e-6, 1e-37)
    assert_close(tf.nn.leaky_relu(X, { alpha = 0.1 }), ref.leaky_relu_01, 1e-6, 1e-37)
    assert_close(tf.nn.gelu(X, { approximate = true }), ref.gelu_tanh, 1e-6, 1e-37)
    assert_close(tf.nn.gelu(X64, true), ref.gelu_tanh, 1e-13, 1e-300)
    assert_close(tf.nn.gelu(X, false), ref.gelu, 1e-6, 1e-37)
    assert_close(tf.nn.gelu(X64), ref.gelu_torch, 1e-9, 1e-300) -- PyTorch agrees where it does not cancel
  end)

  it("are exposed where TF has them", function()
    assert.equal(tf.raw_ops.sigmoid, tf.nn.sigmoid)
    assert.equal(tf.raw_ops.sigmoid, tf.math.sigmoid)
    assert.equal(tf.raw_ops.sigmoid, tf.sigmoid)
    assert.equal(tf.raw_ops.tanh, tf.tanh)
    for _, n in ipairs({ "relu", "relu6", "elu", "selu", "softplus", "softsign", "gelu", "leaky_relu" }) do
      assert.equal(tf.raw_ops[n], tf.nn[n], n)
    end
    for _, n in ipairs({ "log", "log1p", "expm1", "rsqrt", "erf", "ceil", "is_nan", "is_inf", "is_finite",
                         "reciprocal", "softplus", "log_sigmoid" }) do
      assert.equal(tf.raw_ops[n], tf.math[n], n)
    end
    assert.is_function(X.exp)
    assert_close(X:exp(), ref.exp, 1e-6, 1e-37)
  end)

  it("round is banker's rounding; integers pass through", function()
    same({ 0.0, 2.0, 2.0, -0.0, -2.0, 3.0, -3.0 }, tf.round(tf.constant({ 0.5, 1.5, 2.5, -0.5, -1.5, 2.6, -2.7 })))
    same({ 0.0, 2.0, 2.0, -2.0 }, tf.round(tf.constant({ 0.5, 1.5, 2.5, -2.5 }, tf.float64)))
    same({ 3, -4 }, tf.round(tf.constant({ 3, -4 })))
  end)

  it("integer versions of negative/abs/sign/square/relu/relu6", function()
    for _, d in ipairs({ tf.int8, tf.int16, tf.int32, tf.int64 }) do
      local a = tf.constant({ -7, -1, 0, 3, 9 }, d)
      same({ 7, 1, 0, -3, -9 }, -a, d.name)
      same({ 7, 1, 0, 3, 9 }, tf.abs(a), d.name)
      same({ -1, -1, 0, 1, 1 }, tf.sign(a), d.name)
      same({ 49, 1, 0, 9, 81 }, tf.square(a), d.name)
      same({ 0, 0, 0, 3, 9 }, tf.nn.relu(a), d.name)
      same({ 0, 0, 0, 3, 6 }, tf.nn.relu6(a), d.name)
      assert.equal(d, tf.abs(a).dtype)
    end
    same({ 0, 3, 200 }, tf.nn.relu(tf.constant({ 0, 3, 200 }, tf.uint8)))
  end)

  it("handle NaN and inf", function()
    local s = tf.constant({ nan, inf, -inf, 0.0, -0.0 })
    same({ true, false, false, false, false }, tf.math.is_nan(s))
    same({ false, true, true, false, false }, tf.math.is_inf(s))
    same({ false, false, false, true, true }, tf.math.is_finite(s))
    local function chk(f, expected)
      local got = f(s):totable()
      for i = 1, #expected do
        if expected[i] ~= expected[i] then assert.is_true(got[i] ~= got[i], i)
        elseif math.abs(expected[i]) == inf then assert.equal(expected[i], got[i], i)
        else assert.is_true(math.abs(expected[i] - got[i]) <= 1e-7 * math.abs(expected[i]), i) end
      end
    end
    chk(tf.exp, { nan, inf, 0.0, 1.0, 1.0 })
    chk(tf.math.expm1, { nan, inf, -1.0, 0.0, -0.0 })
    chk(tf.math.log, { nan, inf, nan, -inf, -inf })
    chk(tf.math.log1p, { nan, inf, nan, 0.0, -0.0 })
    chk(tf.tanh, { nan, 1.0, -1.0, 0.0, -0.0 })
    chk(tf.sigmoid, { nan, 1.0, 0.0, 0.5, 0.5 })
    chk(tf.nn.softplus, { nan, inf, 0.0, math.log(2), math.log(2) })
    chk(tf.sqrt, { nan, inf, nan, 0.0, -0.0 })
    chk(tf.nn.relu, { nan, inf, 0.0, 0.0, -0.0 })
    chk(tf.sign, { nan, 1.0, -1.0, 0.0, -0.0 })
    chk(tf.abs, { nan, inf, inf, 0.0, 0.0 })
    same({ -inf, -inf }, tf.math.log(tf.constant({ 0.0, -0.0 })))
    same({ -inf }, tf.math.log1p(tf.constant({ -1.0 })))
    local big = tf.exp(tf.constant({ 88.0, 89.0, -87.0, -104.0 })):totable()
    assert.is_true(big[1] > 1e38 and big[1] < inf)
    assert.equal(inf, big[2])
    assert.is_true(big[3] > 0)
    assert.equal(0.0, big[4])
  end)

  it("compute float16/bfloat16 in float32 and round back", function()
    for _, d in ipairs({ tf.float16, tf.bfloat16 }) do
      local r = tf.sqrt(tf.constant({ 4.0, 9.0, 0.25 }, d))
      assert.equal(d, r.dtype)
      same({ 2.0, 3.0, 0.5 }, r)
      assert.equal(tf.bool, tf.math.is_nan(tf.constant({ 1.0 }, d)).dtype)
      same({ 0.0, 3.0 }, tf.nn.relu(tf.constant({ -2.0, 3.0 }, d)))
    end
  end)
end)

describe("broadcasting", function()
  local a23 = { { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 } }
  local ref = helpers.python(([==[
a=np.array(%s,dtype=np.float32)
b=np.array([10,20,30],dtype=np.float32); c=np.array([[1],[2]],dtype=np.float32)
d=np.arange(24,dtype=np.float32).reshape(2,3,4); e=np.arange(4,dtype=np.float32)
f=np.arange(3,dtype=np.float32).reshape(3,1)
out=[a+b, a*c, c-b, d+e, d*f, a.T+np.float32(1), a.T*c.T, d.transpose(2,0,1)-e.reshape(4,1,1), 5-a]
]==]):format(py(a23)))

  it("follows numpy rules", function()
    local A = tf.constant(a23)
    local B, C = tf.constant({ 10.0, 20.0, 30.0 }), tf.constant({ { 1.0 }, { 2.0 } })
    local D = tf.reshape(tf.range(24.0), { 2, 3, 4 })
    local E = tf.range(4.0)
    local F = tf.reshape(tf.range(3.0), { 3, 1 })
    same(ref[1], A + B)
    same(ref[2], A * C)
    same(ref[3], C - B)
    same(ref[4], D + E)
    same(ref[5], D * F)
    same(ref[9], 5 - A)
    same(ref[1], B + A)
    assert.same({ 2, 3 }, (C - B).shape:as_list())
    assert.same({ 2, 3 }, (tf.constant(1.0) + A).shape:as_list())
    assert.same({ 1, 2, 3 }, (tf.constant({ { { 1.0 } } }) + A).shape:as_list())
  end)

  it("reads non-contiguous inputs", function()
    local A = tf.constant(a23)
    local At = tf.transpose(A)
    same(ref[6], At + 1)
    same(ref[6], 1 + At)
    same(ref[7], At * tf.transpose(tf.constant({ { 1.0 }, { 2.0 } })))
    local D = tf.reshape(tf.range(24.0), { 2, 3, 4 })
    same(ref[8], tf.transpose(D, { 2, 0, 1 }) - tf.reshape(tf.range(4.0), { 4, 1, 1 }))
    same({ { -1.0, -4.0 }, { -2.0, -5.0 }, { -3.0, -6.0 } }, -At)
    same({ { 1.0, 16.0 }, { 4.0, 25.0 }, { 9.0, 36.0 } }, tf.square(At))
    same({ { true, false }, { true, false }, { true, false } }, tf.less(At, 3.5))
    same({ { false, false }, { false, true }, { false, true } }, tf.greater(At, tf.constant({ 3.5, 4.5 })))
  end)

  it("handles zero-sized tensors", function()
    local z = tf.zeros({ 0, 3 })
    local r = z + tf.constant({ 1.0, 2.0, 3.0 })
    assert.same({ 0, 3 }, r.shape:as_list())
    assert.same({ 0, 3 }, tf.exp(z).shape:as_list())
    assert.same({ 0, 3 }, tf.less(z, 1.0).shape:as_list())
    assert.same({ 0 }, (tf.zeros({ 0 }) * tf.constant({ 2.0 })).shape:as_list())
    assert.same({ 2, 0 }, (tf.zeros({ 2, 1 }) + tf.zeros({ 0 })).shape:as_list())
    assert.same({ 0 }, tf.math.floordiv(tf.zeros({ 0 }, tf.int32), tf.zeros({ 0 }, tf.int32)).shape:as_list())
    assert.same({ 0, 3 }, tf.add_n({ z, z, z }).shape:as_list())
    assert.same({ 0, 3 }, tf.clip_by_value(z, 0.0, 1.0).shape:as_list())
  end)

  it("splits large work across threads with the same results", function()
    local n = 150000
    local xs, ys = {}, {}
    for i = 1, n do xs[i] = (i % 97) - 48 ; ys[i] = (i % 13) + 1 end
    local X, Y = tf.constant(xs, tf.float32), tf.constant(ys, tf.float32)
    local s = (X * Y):totable()
    local q = (tf.cast(X, tf.int32) // tf.cast(Y, tf.int32)):totable()
    local e = tf.exp(X * 0.01):totable()
    for i = 1, n, 997 do
      assert.equal(xs[i] * ys[i], s[i])
      assert.equal(xs[i] // ys[i], q[i])
      assert.is_true(math.abs(e[i] - math.exp(xs[i] * 0.01)) <= 1e-6 * e[i])
    end
    -- broadcast rows path: [300,500] + [500]
    local M = tf.reshape(tf.range(150000.0), { 300, 500 })
    local v = tf.range(500.0)
    local r = (M + v):totable()
    for i = 1, 300, 37 do
      for j = 1, 500, 41 do assert.equal((i - 1) * 500 + (j - 1) + (j - 1), r[i][j]) end
    end
    -- column broadcast: [300,500] * [300,1]
    local c = (M * tf.reshape(tf.range(300.0), { 300, 1 })):totable()
    for i = 1, 300, 37 do
      local want = ((i - 1) * 500 + 7) * (i - 1)
      assert.is_true(math.abs(c[i][8] - want) <= 1e-7 * want)
    end
    -- division by zero found in a parallel chunk
    local zi = {}
    for i = 1, n do zi[i] = i == n - 3 and 0 or 1 end
    assert_error("InvalidArgument", "integer division by zero",
      function() return tf.ones({ n }, tf.int32) // tf.constant(zi) end)
  end)
end)

-- A coalesced rank-2 broadcast ([M, N] with [N], [M, 1], scalars, views)
-- runs as one kernel call over a block of rows; rank 3 runs row by row.
describe("two-dimensional broadcast blocks", function()
  it("match numpy for every stride pattern, threaded and not", function()
    for _, shp in ipairs({ { 300, 257 }, { 7, 5 }, { 1000, 1 } }) do
      local m, n = shp[1], shp[2]
      local ref = helpers.python(([==[
m, n = %d, %d
a = (np.arange(m * n, dtype=np.float32).reshape(m, n) %% 23 - 11) / np.float32(4)
a[0, 0] = np.nan
r = np.arange(n, dtype=np.float32) - n / 2
c = (np.arange(m, dtype=np.float32) %% 5 - 2).reshape(m, 1)
t = np.ascontiguousarray(a.T).T  # same values, transposed storage
out = [a + r, a - c, c * r, r / (c + np.float32(0.5)), np.maximum(a, r), (t - r) * 2, t + c, (a < r).tolist(),
       np.arange(2 * m * n, dtype=np.float32).reshape(2, m, n) + r.reshape(1, 1, n) * c.reshape(1, m, 1)]
]==]):format(m, n))
      local av = {}
      for i = 1, m * n do av[i] = ((i - 1) % 23 - 11) / 4 end
      av[1] = 0 / 0
      local a = tf.reshape(tf.constant(av, tf.float32), { m, n })
      local r = tf.cast(tf.range(n), tf.float32) - n / 2
      local c = tf.reshape((tf.cast(tf.range(m), tf.float32) % 5) - 2, { m, 1 })
      local t = tf.transpose(tf.identity(tf.transpose(a)))
      local close = function(want, got) helpers.assert_close(got, want, 1e-6, 0) end
      close(ref[1], a + r)
      close(ref[2], a - c)
      close(ref[3], c * r)
      close(ref[4], r / (c + 0.5))
      close(ref[5], tf.maximum(a, r))
      close(ref[6], (t - r) * 2)
      close(ref[7], t + c)
      assert.same(ref[8], tf.less(a, r):totable())
      local d = tf.reshape(tf.cast(tf.range(2 * m * n), tf.float32), { 2, m, n })
      close(ref[9], d + tf.reshape(r, { 1, 1, n }) * tf.reshape(c, { 1, m, 1 }))
    end
  end)

  it("report integer division by zero from any row of a block", function()
    local a = tf.ones({ 400, 300 }, tf.int32)
    local col = {}
    for i = 1, 400 do col[i] = { i == 399 and 0 or 2 } end
    assert_error("InvalidArgument", "integer division by zero", function() return a // tf.constant(col) end)
    local q = (tf.fill({ 400, 300 }, 7) // tf.fill({ 400, 1 }, 2)):totable()
    assert.equal(3, q[400][300])
  end)
end)

describe("Lua operators", function()
  it("map to the element-wise ops with scalars following the tensor dtype", function()
    local a = tf.constant({ 1.0, 2.0, 4.0 })
    same({ 3.0, 4.0, 6.0 }, a + 2)
    same({ 2.0, 4.0, 8.0 }, 2 * a)
    same({ 1.0, 0.0, -2.0 }, 2 - a)
    same({ 2.0, 1.0, 0.5 }, 2 / a)
    same({ -1.0, -2.0, -4.0 }, -a)
    same({ 1.0, 4.0, 16.0 }, a ^ 2)
    same({ 2.0, 4.0, 16.0 }, 2 ^ a)
    same({ 0.0, 1.0, 2.0 }, a // 2)
    same({ 1.0, 0.0, 0.0 }, a % 2)
    local i = tf.constant({ 7, -7 })
    same({ 3, -4 }, i // 2)
    same({ 1, 1 }, i % 2)
    same({ -1, -1 }, i % -2)
    same({ 49, 49 }, i ^ 2)
    assert.equal(tf.int32, (i * 3).dtype)
    assert.equal(tf.int32, (i * 3.0).dtype) -- integral float follows the tensor
    assert.equal(tf.float64, (i / 2).dtype)
    local d = tf.constant({ 1.5 }, tf.float64)
    assert.equal(tf.float64, (d + 1).dtype)
  end)

  it("works on variables", function()
    local v = tf.Variable({ 1.0, 2.0 })
    same({ 2.0, 4.0 }, v * 2)
    same({ 2.0, 3.0 }, v + tf.constant({ 1.0, 1.0 }))
    same({ -1.0, -2.0 }, -v)
  end)
end)

describe("cast, clip_by_value, add_n", function()
  it("cast converts between dtypes", function()
    same({ 1, -1, 2, 0 }, tf.cast(tf.constant({ 1.7, -1.7, 2.0, 0.2 }), tf.int32))
    same({ true, false, true }, tf.cast(tf.constant({ 2, 0, -1 }), tf.bool))
    same({ 1.0, 0.0 }, tf.cast(tf.constant({ true, false }), tf.float32))
    same({ 0.5, 1.5 }, tf.cast(tf.constant({ 0.5, 1.5 }), tf.float16))
    assert.equal(tf.float64, tf.cast(tf.constant({ 1 }), "float64").dtype)
    assert.equal(tf.int64, tf.cast(tf.constant({ 1 }), { dtype = tf.int64 }).dtype)
  end)

  it("clip_by_value clips with scalar or broadcast bounds", function()
    local t = tf.constant({ { -2.0, 0.5, 3.0 }, { 1.0, -0.5, 9.0 } })
    same({ { -1.0, 0.5, 1.0 }, { 1.0, -0.5, 1.0 } }, tf.clip_by_value(t, -1, 1))
    same({ { -1.0, 0.5, 2.0 }, { 1.0, -0.5, 2.0 } }, tf.clip_by_value(t, tf.constant(-1.0), tf.constant(2.0)))
    same({ { 0.0, 0.5, 3.0 }, { 1.0, 0.0, 4.0 } },
      tf.clip_by_value(t, tf.constant({ 0.0, 0.0, 0.0 }), tf.constant({ 1.0, 1.0, 4.0 })))
    same({ 0, 5, 10 }, tf.clip_by_value(tf.constant({ -3, 5, 99 }), 0, 10))
    same({ 0, 5, 10 }, tf.clip_by_value(tf.constant({ -3, 5, 99 }), { clip_value_min = 0, clip_value_max = 10 }))
    local r = tf.clip_by_value(tf.constant({ nan, 2.0 }), 0.0, 1.0):totable()
    assert.is_true(r[1] ~= r[1])
    assert.equal(1.0, r[2])
    assert_error("InvalidArgument", { "clip_by_value", "[2,2]", "[2]" },
      function() return tf.clip_by_value(tf.constant({ 1.0, 2.0 }), tf.constant({ { 0.0, 0.0 }, { 0.0, 0.0 } }), 1.0) end)
  end)

  it("add_n sums a list of same-shape tensors", function()
    local a, b, c = tf.constant({ 1.0, 2.0 }), tf.constant({ 10.0, 20.0 }), tf.constant({ 100.0, 200.0 })
    same({ 111.0, 222.0 }, tf.add_n({ a, b, c }))
    same({ 11.0, 22.0 }, tf.math.add_n({ a, b }))
    same({ 1.0, 2.0 }, tf.add_n({ a }))
    same({ 3, 5 }, tf.add_n({ tf.constant({ 1, 2 }), tf.constant({ 2, 3 }) }))
    same({ 3.0, 6.0 }, tf.add_n({ a, a, a }, { name = "s" }))
    same({ 2.0, 4.0 }, tf.add_n({ tf.constant({ 1.0, 2.0 }, tf.float16), tf.constant({ 1.0, 2.0 }, tf.float16) }))
    local n = 100000
    local big = tf.ones({ n })
    local s = tf.add_n({ big, big, big, big }):totable()
    assert.equal(4.0, s[1])
    assert.equal(4.0, s[n])
    assert_error("InvalidArgument", { "add_n", "same shape", "float32[2]", "float32[3]" },
      function() return tf.add_n({ a, tf.constant({ 1.0, 2.0, 3.0 }) }) end)
    assert_error("InvalidArgument", { "add_n", "float32", "int32" },
      function() return tf.add_n({ a, tf.constant({ 1, 2 }) }) end)
  end)
end)

describe("errors", function()
  it("mismatched dtypes name both dtypes", function()
    assert_error("InvalidArgument", { "add", "float32", "int32", "tf.cast" },
      function() return tf.constant({ 1.0 }) + tf.constant({ 1 }) end)
    assert_error("InvalidArgument", { "less", "float64", "float32" },
      function() return tf.less(tf.constant({ 1.0 }, tf.float64), tf.constant({ 1.0 })) end)
  end)

  it("incompatible broadcast names both shapes", function()
    assert_error("InvalidArgument", { "add", "[2,3]", "[4]", "broadcast" },
      function() return tf.ones({ 2, 3 }) + tf.ones({ 4 }) end)
    assert_error("InvalidArgument", { "multiply", "[2,3]", "[3,2]" },
      function() return tf.ones({ 2, 3 }) * tf.ones({ 3, 2 }) end)
  end)

  it("float-only ops reject integer tensors naming the dtype", function()
    for _, f in ipairs({ tf.sqrt, tf.exp, tf.math.log, tf.sigmoid, tf.tanh, tf.nn.softplus, tf.floor,
                         tf.math.is_nan, tf.nn.gelu }) do
      assert_error("InvalidArgument", { "int32", "floating-point" }, f, tf.constant({ 4 }))
    end
    assert_error("InvalidArgument", { "sqrt", "int64" }, tf.sqrt, tf.constant({ 4 }, tf.int64))
    assert_error("InvalidArgument", { "divide_no_nan", "int32" }, tf.math.divide_no_nan, tf.constant({ 4 }), tf.constant({ 2 }))
  end)

  it("bool tensors are rejected by arithmetic and non-bool by logical ops", function()
    local b = tf.constant({ true })
    assert_error("InvalidArgument", { "add", "bool" }, function() return b + b end)
    assert_error("InvalidArgument", { "less", "bool" }, tf.less, b, b)
    assert_error("InvalidArgument", { "negative", "bool" }, function() return -b end)
    assert_error("InvalidArgument", { "divide", "bool" }, function() return b / b end)
    assert_error("InvalidArgument", { "logical_and", "bool", "float32" },
      function() return tf.constant({ 1.0 }) & tf.constant({ 1.0 }) end)
    assert_error("InvalidArgument", { "logical_not", "int32" }, tf.logical_not, tf.constant({ 1 }))
  end)

  it("integer division by zero is an error for every division op", function()
    local a, z = tf.constant({ 1, 2 }), tf.constant({ 1, 0 })
    for _, f in ipairs({ tf.math.floordiv, tf.math.floormod, tf.truncatediv, tf.truncatemod }) do
      assert_error("InvalidArgument", "integer division by zero", f, a, z)
    end
    assert_error("InvalidArgument", { "floordiv", "int32[2]", "integer division by zero" },
      function() return a // 0 end)
    assert_error("InvalidArgument", { "floormod", "integer division by zero" }, function() return a % 0 end)
    assert_error("InvalidArgument", "integer division by zero",
      function() return tf.constant({ 5 }, tf.uint8) // tf.constant({ 0 }, tf.uint8) end)
  end)

  it("negative integer exponents are an error", function()
    assert_error("InvalidArgument", { "pow", "negative integer powers" },
      function() return tf.constant({ 2, 3 }) ^ tf.constant({ 1, -1 }) end)
  end)

  it("non-integral Lua numbers do not silently become integers", function()
    assert_error("InvalidArgument", { "add", "non-integer", "int32" },
      function() return tf.constant({ 1, 2 }) + 0.5 end)
    assert_error("InvalidArgument", { "multiply", "int64" },
      function() return 2.5 * tf.constant({ 1 }, tf.int64) end)
  end)

  it("wrong arity and unknown options are reported", function()
    assert_error("InvalidArgument", { "add", "y" }, tf.add, tf.constant({ 1.0 }))
    assert_error("InvalidArgument", { "leaky_relu", "bogus" }, tf.nn.leaky_relu, tf.constant({ 1.0 }), { bogus = 1 })
  end)
end)

describe("cast fast paths", function()
  -- The typed loops (u8/i8/i16/i32/f64 -> f32, u8/i32/f32 -> f64, u8 -> i32,
  -- u8/i32 -> i64) against the values computed by hand, contiguous and
  -- strided (a transposed view), small and large enough for several runs.
  local pairs_ = {
    { "uint8", "float32", { 0, 7, 255 } }, { "int8", "float32", { -128, 0, 127 } },
    { "int16", "float32", { -32768, 5, 32767 } }, { "int32", "float32", { -2147483647, 16777217, 3 } },
    { "float64", "float32", { 1.5, -2.7, 1e300 } }, { "uint8", "float64", { 0, 1, 255 } },
    { "int32", "float64", { -2147483648, 0, 2147483647 } }, { "float32", "float64", { 0.1, -3.25, 0.0 } },
    { "uint8", "int32", { 0, 128, 255 } }, { "uint8", "int64", { 0, 200, 255 } },
    { "int32", "int64", { -2147483648, 1, 2147483647 } },
  }
  local function expect(v, to)
    if to == "float32" then return string.unpack("f", string.pack("f", v)) end
    return v
  end
  for _, c in ipairs(pairs_) do
    local from, to, vals = c[1], c[2], c[3]
    it(from .. " -> " .. to, function()
      local src = tf.constant(vals, tf[from])
      local got = tf.cast(src, tf[to]):totable()
      for i, v in ipairs(vals) do
        local want = expect(from == "float32" and string.unpack("f", string.pack("f", v)) or v, to)
        if want == math.huge or want ~= want then assert.equal(tostring(want), tostring(got[i]))
        else assert.equal(want, got[i]) end
      end
      -- strided: a [3, 200] transposed view of repeated values
      local big = tf.reshape(tf.tile(src, { 200 }), { 200, 3 })
      local tb = tf.cast(tf.transpose(big), tf[to])
      local row = tb[1]:totable()
      for j = 1, 200 do assert.equal(got[2], row[j]) end
    end)
  end
end)
