-- Convolution and pooling (src/ops/conv.c, src/ops/pool.c, the tf.nn
-- wrappers of stdlib/tlua/conv.lua) against PyTorch at run time: values and
-- the input/filter gradients for a given output gradient, in float64, over
-- TensorFlow's padding rules (SAME puts the odd row/column after; average
-- pooling does not count the padding), strides, dilations, explicit
-- padding, depthwise filters, conv1d, conv2d_transpose, 1-D pools; the
-- multi-threaded paths (a batch large enough to be split); and the error
-- messages. The conformance cases (op_cases/conv.lua, pool.lua) check the
-- shape rules, the test device and f64 gradients by finite differences.
local tf = require("tlua")
local helpers = require("helpers")
local assert_error = helpers.assert_error

local function vals(n, seed)
  local v = {}
  for i = 1, n do v[i] = math.sin(i * 0.731 + seed) * 1.5 + 0.001 * i end
  return v
end
local function pylist(v)
  local p = {}
  for i, x in ipairs(v) do p[i] = ("%.17g"):format(x) end
  return "[" .. table.concat(p, ",") .. "]"
end
local function numel(shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  return n
end
-- A float64 tensor of shape with values from seed, and its Python literal.
local function make(shape, seed)
  local v = vals(numel(shape), seed)
  local t = tf.reshape(tf.constant(v, tf.float64), shape)
  local py = ("torch.tensor(%s, dtype=torch.float64).reshape(%s)"):format(pylist(v), pylist(shape))
  return t, py
end

-- TF's SAME padding of one dimension: (before, after).
local PY_PRELUDE = [[
import torch, math
import torch.nn.functional as F
def same(n, k, s, d=1):
    out = -(-n // s); dk = (k - 1) * d + 1
    tot = max((out - 1) * s + dk - n, 0)
    return tot // 2, tot - tot // 2
def pads(x, k, s, d, padding):
    # x NCHW; k, s, d pairs; padding 'SAME' / 'VALID' / [(t, b), (l, r)]
    if padding == 'VALID': return (0, 0, 0, 0)
    if padding == 'SAME':
        t, b = same(x.shape[2], k[0], s[0], d[0]); l, r = same(x.shape[3], k[1], s[1], d[1])
        return (l, r, t, b)
    (t, b), (l, r) = padding
    return (l, r, t, b)
def conv(x, w, s, padding, d=(1, 1), groups=1):
    # x NHWC, w HWIO (depthwise: HW C M) -> NHWC output and a closure for grads
    xn = x.permute(0, 3, 1, 2).clone().requires_grad_(True)
    if groups == 1: wn = w.permute(3, 2, 0, 1)
    else: wn = w.permute(2, 3, 0, 1).reshape(w.shape[2] * w.shape[3], 1, w.shape[0], w.shape[1])
    wn = wn.clone().requires_grad_(True)
    p = pads(xn, (w.shape[0], w.shape[1]), s, d, padding)
    y = F.conv2d(F.pad(xn, p), wn, stride=s, dilation=d, groups=groups)
    return xn, wn, y
def conv_grads(x, w, dy, s, padding, d=(1, 1), groups=1):
    xn, wn, y = conv(x, w, s, padding, d, groups)
    gx, gw = torch.autograd.grad(y, (xn, wn), dy.permute(0, 3, 1, 2))
    gx = gx.permute(0, 2, 3, 1)
    if groups == 1: gw = gw.permute(2, 3, 1, 0)
    else: gw = gw.reshape(w.shape[2], w.shape[3], w.shape[0], w.shape[1]).permute(2, 3, 0, 1)
    return [y.permute(0, 2, 3, 1), gx, gw]
def pool(x, k, s, padding, kind):
    xn = x.permute(0, 3, 1, 2).clone().requires_grad_(True)
    p = pads(xn, k, s, (1, 1), padding)
    if kind == 'max':
        y = F.max_pool2d(F.pad(xn, p, value=-math.inf), k, s)
    else:
        ones = torch.ones_like(xn)
        y = F.avg_pool2d(F.pad(xn, p), k, s, divisor_override=1) / F.avg_pool2d(F.pad(ones, p), k, s, divisor_override=1)
    return xn, y
def pool_grads(x, dy, k, s, padding, kind):
    xn, y = pool(x, k, s, padding, kind)
    gx, = torch.autograd.grad(y, (xn,), dy.permute(0, 3, 1, 2))
    return [y.permute(0, 2, 3, 1), gx.permute(0, 2, 3, 1)]
]]

local function grads_of(f, x, w, dy)
  local tape = tf.GradientTape()
  tape:watch(x)
  if w then tape:watch(w) end
  local y = f(x, w)
  tape:stop()
  local g = tape:gradient(y, w and { x, w } or { x }, dy)
  return y, g[1], g[2]
end

local function check_conv(xs, ws, strides, padding, opts, py_s, py_pad, py_d, groups)
  local x, px = make(xs, 1)
  local w, pw = make(ws, 2)
  local y0 = (groups and tf.nn.depthwise_conv2d or tf.nn.conv2d)(x, w, strides, padding, opts)
  local dy, pdy = make(y0.shape:as_list(), 3)
  local f = function(a, b) return (groups and tf.nn.depthwise_conv2d or tf.nn.conv2d)(a, b, strides, padding, opts) end
  local y, gx, gw = grads_of(f, x, w, dy)
  local ref = helpers.python(PY_PRELUDE .. ("out = conv_grads(%s, %s, %s, %s, %s, %s, %d)"):format(
    px, pw, pdy, py_s, py_pad, py_d or "(1, 1)", groups or 1))
  helpers.assert_close(y, ref[1], 1e-10, 1e-10)
  helpers.assert_close(gx, ref[2], 1e-10, 1e-10)
  helpers.assert_close(gw, ref[3], 1e-10, 1e-10)
end

describe("tf.nn.conv2d against PyTorch", function()
  it("SAME and VALID, strides 1 and 2 (SAME's odd pad goes after)", function()
    check_conv({ 2, 7, 6, 3 }, { 3, 3, 3, 4 }, 1, "SAME", nil, "(1, 1)", "'SAME'")
    check_conv({ 2, 7, 6, 3 }, { 3, 3, 3, 4 }, 2, "SAME", nil, "(2, 2)", "'SAME'")
    check_conv({ 2, 8, 8, 3 }, { 2, 2, 3, 2 }, 2, "SAME", nil, "(2, 2)", "'SAME'")
    check_conv({ 2, 7, 6, 3 }, { 3, 3, 3, 4 }, { 2, 1 }, "VALID", nil, "(2, 1)", "'VALID'")
  end)
  it("rectangular filters, NHWC 4-list strides, dilations, explicit padding, 1x1", function()
    check_conv({ 1, 6, 9, 2 }, { 2, 4, 2, 3 }, { 1, 2, 3, 1 }, "SAME", nil, "(2, 3)", "'SAME'")
    check_conv({ 2, 9, 8, 2 }, { 3, 3, 2, 3 }, 1, "SAME", { dilations = 2 }, "(1, 1)", "'SAME'", "(2, 2)")
    check_conv({ 2, 9, 8, 2 }, { 3, 2, 2, 3 }, 2, "VALID", { dilations = { 2, 3 } }, "(2, 2)", "'VALID'", "(2, 3)")
    check_conv({ 2, 5, 6, 3 }, { 3, 3, 3, 2 }, { 1, 2 }, { { 0, 0 }, { 2, 0 }, { 1, 3 }, { 0, 0 } }, nil, "(1, 2)",
      "[(2, 0), (1, 3)]")
    check_conv({ 2, 5, 6, 3 }, { 1, 1, 3, 5 }, 1, "VALID", nil, "(1, 1)", "'VALID'")
    check_conv({ 2, 5, 6, 3 }, { 1, 1, 3, 5 }, 2, "SAME", nil, "(2, 2)", "'SAME'")
  end)
  it("splits a large batch over the threads with the same results", function()
    check_conv({ 8, 16, 16, 8 }, { 3, 3, 8, 8 }, 1, "SAME", nil, "(1, 1)", "'SAME'")
    check_conv({ 3, 40, 40, 4 }, { 5, 5, 4, 8 }, 1, "VALID", nil, "(1, 1)", "'VALID'")
  end)
  it("float32 agrees with float64 and keeps its dtype; float16 goes through float32", function()
    local x, w = make({ 2, 6, 6, 3 }, 1), make({ 3, 3, 3, 4 }, 2)
    local y64 = tf.nn.conv2d(x, w, 1, "SAME")
    local y32 = tf.nn.conv2d(tf.cast(x, tf.float32), tf.cast(w, tf.float32), 1, "SAME")
    assert.are.equal(tf.float32, y32.dtype)
    helpers.assert_close(y32, y64, 1e-5, 1e-5)
    local y16 = tf.nn.conv2d(tf.cast(x, tf.float16), tf.cast(w, tf.float16), 1, "SAME")
    assert.are.equal(tf.float16, y16.dtype)
    helpers.assert_close(tf.cast(y16, tf.float64), y64, 2e-2, 5e-2)
  end)
  it("an empty batch gives an empty output", function()
    local y = tf.nn.conv2d(tf.zeros({ 0, 5, 5, 3 }), tf.ones({ 3, 3, 3, 2 }), 1, "SAME")
    assert.are.same({ 0, 5, 5, 2 }, y.shape:as_list())
  end)
end)

describe("tf.nn.depthwise_conv2d against PyTorch (groups = channels)", function()
  it("multipliers 1 and 2, strides, dilations", function()
    check_conv({ 2, 7, 6, 3 }, { 3, 3, 3, 2 }, { 1, 1, 1, 1 }, "SAME", nil, "(1, 1)", "'SAME'", nil, 3)
    check_conv({ 2, 7, 6, 3 }, { 2, 2, 3, 1 }, { 1, 2, 2, 1 }, "VALID", nil, "(2, 2)", "'VALID'", nil, 3)
    check_conv({ 2, 7, 6, 3 }, { 3, 3, 3, 1 }, 1, "SAME", { dilations = { 2, 2 } }, "(1, 1)", "'SAME'", "(2, 2)", 3)
    check_conv({ 4, 20, 20, 6 }, { 3, 3, 6, 2 }, 1, "SAME", nil, "(1, 1)", "'SAME'", nil, 6)
  end)
end)

describe("tf.nn.conv2d_transpose", function()
  it("is the gradient of conv2d with respect to its input", function()
    for _, case in ipairs({ { 1, "SAME", { 2, 7, 6, 3 } }, { 2, "SAME", { 2, 7, 6, 3 } }, { 2, "VALID", { 2, 7, 6, 3 } } }) do
      local s, pad, xs = case[1], case[2], case[3]
      local x = make(xs, 1)
      local w = make({ 3, 3, 3, 4 }, 2)
      local dy = make(tf.nn.conv2d(x, w, s, pad).shape:as_list(), 3)
      local _, gx = grads_of(function(a, b) return tf.nn.conv2d(a, b, s, pad) end, x, w, dy)
      helpers.assert_close(tf.nn.conv2d_transpose(dy, w, xs, s, pad), gx, 1e-12, 1e-12)
      -- output_shape as a tensor too
      helpers.assert_close(tf.nn.conv2d_transpose(dy, w, tf.constant(xs), s, pad), gx, 1e-12, 1e-12)
    end
  end)
  it("matches torch's conv_transpose2d", function()
    local y, py = make({ 2, 4, 5, 3 }, 4)
    local w, pw = make({ 3, 3, 2, 3 }, 5) -- [h, w, out, in]
    local out = tf.nn.conv2d_transpose(y, w, { 2, 9, 11, 2 }, 2, "VALID")
    local ref = helpers.python(PY_PRELUDE .. ("out = F.conv_transpose2d(%s.permute(0,3,1,2), %s.permute(3,2,0,1), stride=2).permute(0,2,3,1)")
      :format(py, pw))
    helpers.assert_close(out, ref, 1e-12, 1e-12)
  end)
end)

describe("tf.nn.conv1d", function()
  it("matches torch's conv1d with TF's SAME padding", function()
    local x, px = make({ 2, 9, 3 }, 1)
    local w, pw = make({ 3, 3, 4 }, 2)
    local y = tf.nn.conv1d(x, w, 2, "SAME")
    assert.are.same({ 2, 5, 4 }, y.shape:as_list())
    local ref = helpers.python(PY_PRELUDE .. ([[
l, r = same(9, 3, 2)
out = F.conv1d(F.pad(%s.permute(0, 2, 1), (l, r)), %s.permute(2, 1, 0), stride=2).permute(0, 2, 1)]]):format(px, pw))
    helpers.assert_close(y, ref, 1e-12, 1e-12)
    local y2 = tf.nn.conv1d(x, w, 1, { { 0, 0 }, { 2, 1 }, { 0, 0 } }, { dilations = 2 })
    local ref2 = helpers.python(PY_PRELUDE ..
      ("out = F.conv1d(F.pad(%s.permute(0, 2, 1), (2, 1)), %s.permute(2, 1, 0), dilation=2).permute(0, 2, 1)"):format(px, pw))
    helpers.assert_close(y2, ref2, 1e-12, 1e-12)
  end)
end)

local function check_pool(kind, xs, k, s, padding, py_k, py_s)
  local f = kind == "max" and tf.nn.max_pool2d or tf.nn.avg_pool2d
  local x, px = make(xs, 1)
  local dy, pdy = make(f(x, k, s, padding).shape:as_list(), 3)
  local y, gx = grads_of(function(a) return f(a, k, s, padding) end, x, nil, dy)
  local ref = helpers.python(PY_PRELUDE .. ("out = pool_grads(%s, %s, %s, %s, '%s', '%s')"):format(
    px, pdy, py_k, py_s, padding, kind))
  helpers.assert_close(y, ref[1], 1e-12, 1e-12)
  helpers.assert_close(gx, ref[2], 1e-12, 1e-12)
end

describe("max_pool2d and avg_pool2d against PyTorch", function()
  it("VALID and SAME (average over the real elements only), strides, rectangular windows", function()
    for _, kind in ipairs({ "max", "avg" }) do
      check_pool(kind, { 2, 7, 6, 3 }, 2, 2, "VALID", "(2, 2)", "(2, 2)")
      check_pool(kind, { 2, 7, 6, 3 }, 2, 2, "SAME", "(2, 2)", "(2, 2)")
      check_pool(kind, { 2, 7, 6, 3 }, 3, 2, "SAME", "(3, 3)", "(2, 2)")
      check_pool(kind, { 2, 7, 6, 3 }, { 3, 2 }, { 1, 2 }, "SAME", "(3, 2)", "(1, 2)")
      check_pool(kind, { 2, 7, 6, 3 }, { 1, 3, 3, 1 }, { 1, 1, 1, 1 }, "VALID", "(3, 3)", "(1, 1)")
      check_pool(kind, { 6, 30, 30, 8 }, 3, 2, "SAME", "(3, 3)", "(2, 2)") -- the threaded path
    end
  end)
  it("avg SAME divides by the number of real elements (a corner window of 1)", function()
    local x = tf.reshape(tf.range(1, 10, 1, tf.float32), { 1, 3, 3, 1 })
    local y = tf.nn.avg_pool2d(x, 2, 2, "SAME")
    helpers.assert_close(tf.reshape(y, { 4 }), { 3, 4.5, 7.5, 9 })
    helpers.assert_close(tf.reshape(tf.nn.max_pool2d(x, 2, 2, "SAME"), { 4 }), { 5, 6, 8, 9 })
  end)
  it("max_pool sends the gradient to the first maximum of a tie, and propagates NaN", function()
    local x = tf.constant({ { { { 1.0 }, { 1.0 } }, { { 1.0 }, { 0.0 } } } })
    local _, gx = grads_of(function(a) return tf.nn.max_pool2d(a, 2, 2, "VALID") end, x, nil, tf.ones({ 1, 1, 1, 1 }))
    assert.are.same({ 1, 0, 0, 0 }, tf.reshape(gx, { 4 }):totable())
    local n = tf.nn.max_pool2d(tf.constant({ { { { 1.0 }, { 0 / 0 } }, { { 3.0 }, { 0.0 } } } }), 2, 2, "VALID")
    local v = tf.reshape(n, { 1 }):totable()[1]
    assert.is_true(v ~= v)
  end)
  it("the 1-D pools and tf.nn.max_pool / avg_pool by rank", function()
    local x, px = make({ 2, 9, 3 }, 1)
    local ref = helpers.python(PY_PRELUDE .. ([=[
x = %s.permute(0, 2, 1)
l, r = same(9, 3, 2)
m = F.max_pool1d(F.pad(x, (l, r), value=-math.inf), 3, 2).permute(0, 2, 1)
a = (F.avg_pool1d(F.pad(x, (l, r)), 3, 2) / F.avg_pool1d(F.pad(torch.ones_like(x), (l, r)), 3, 2)).permute(0, 2, 1)
out = [m, a]]=]):format(px))
    helpers.assert_close(tf.nn.max_pool1d(x, 3, 2, "SAME"), ref[1], 1e-12, 1e-12)
    helpers.assert_close(tf.nn.avg_pool1d(x, 3, 2, "SAME"), ref[2], 1e-12, 1e-12)
    helpers.assert_close(tf.nn.max_pool(x, { 1, 3, 1 }, { 1, 2, 1 }, "SAME"), ref[1], 1e-12, 1e-12)
    helpers.assert_close(tf.nn.avg_pool(x, 3, 2, "SAME"), ref[2], 1e-12, 1e-12)
    local x4 = make({ 1, 4, 4, 2 }, 2)
    helpers.assert_close(tf.nn.max_pool(x4, 2, 2, "VALID"), tf.nn.max_pool2d(x4, 2, 2, "VALID"))
  end)
end)

describe("second-order gradients", function()
  it("flow through conv2d's gradient (d/dw of |dL/dx|^2 vs finite differences)", function()
    local x = make({ 1, 4, 4, 2 }, 1)
    local w0 = make({ 3, 3, 2, 2 }, 2)
    local function inner(w)
      local t = tf.GradientTape()
      t:watch(x)
      local y = tf.reduce_sum(tf.nn.conv2d(x, w, 1, "SAME") ^ 2)
      t:stop()
      local gx = t:gradient(y, { x })[1]
      return tf.reduce_sum(gx * gx)
    end
    local outer = tf.GradientTape()
    outer:watch(w0)
    local z = inner(w0)
    outer:stop()
    local gw = outer:gradient(z, { w0 })[1]
    local flat = tf.reshape(w0, { -1 }):totable()
    local g = tf.reshape(gw, { -1 }):totable()
    for _, i in ipairs({ 1, 7, 20, 36 }) do
      local e = 1e-5
      local p, m = { table.unpack(flat) }, { table.unpack(flat) }
      p[i], m[i] = p[i] + e, m[i] - e
      local fd = (inner(tf.reshape(tf.constant(p, tf.float64), { 3, 3, 2, 2 })):totable() -
        inner(tf.reshape(tf.constant(m, tf.float64), { 3, 3, 2, 2 })):totable()) / (2 * e)
      assert(math.abs(fd - g[i]) <= 1e-5 * math.max(1, math.abs(fd)), ("entry %d: %g vs %g"):format(i, g[i], fd))
    end
  end)
end)

describe("errors", function()
  local x = tf.zeros({ 2, 5, 5, 3 })
  local w = tf.zeros({ 3, 3, 3, 4 })
  it("name the op, the operands and what is wrong", function()
    assert_error("InvalidArgument", { "conv2d", "float32[2,5,5,3], float32[3,3,4,4]", "input depth 3 does not match the filter's in_channels 4" },
      tf.nn.conv2d, x, tf.zeros({ 3, 3, 4, 4 }), 1, "SAME")
    assert_error("InvalidArgument", { "conv2d", "filter's height 7 is larger than the input's height 5 plus padding 0", "'VALID'" },
      tf.nn.conv2d, x, tf.zeros({ 7, 3, 3, 4 }), 1, "VALID")
    assert_error("InvalidArgument", { "conv2d", "filter's width 3 (5 dilated) is larger than the input's width 2 plus padding 1" },
      tf.nn.conv2d, tf.zeros({ 1, 5, 2, 3 }), w, 1, { { 0, 0 }, { 0, 0 }, { 1, 0 }, { 0, 0 } }, { dilations = 2 })
    assert_error("InvalidArgument", { "conv2d", "padding must be 'SAME', 'VALID' or a list of explicit paddings, got 'FULL'" },
      tf.nn.conv2d, x, w, 1, "FULL")
    assert_error("InvalidArgument", { "conv2d", "strides must have 1, 2 or 4 entries, got 3" },
      tf.nn.conv2d, x, w, { 1, 1, 1 }, "SAME")
    assert_error("InvalidArgument", { "conv2d", "strides [2,1,1,1]: the batch and channel entries must be 1" },
      tf.nn.conv2d, x, w, { 2, 1, 1, 1 }, "SAME")
    assert_error("InvalidArgument", { "conv2d", "strides must be positive, got [0]" }, tf.nn.conv2d, x, w, 0, "SAME")
    assert_error("InvalidArgument", { "conv2d", "dilations must be at most 2147483647" },
      tf.nn.conv2d, x, w, 1, "SAME", { dilations = { 1, 1 << 40 } })
    assert_error("InvalidArgument", { "conv2d", "explicit_paddings [0,0,-1,1,0,0,0,0] must be between 0 and 2^31-1" },
      tf.nn.conv2d, x, w, 1, { { 0, 0 }, { -1, 1 }, { 0, 0 }, { 0, 0 } })
    assert_error("InvalidArgument", { "conv2d", "input must be 4-D [batch, height, width, channels], got float32[5,5,3]" },
      tf.nn.conv2d, tf.zeros({ 5, 5, 3 }), w, 1, "SAME")
    assert_error("InvalidArgument", { "conv2d", "filter must be 4-D" }, tf.nn.conv2d, x, tf.zeros({ 3, 3, 3 }), 1, "SAME")
    assert_error("Unimplemented", { "conv2d", "data_format 'NCHW' is not supported on the CPU" },
      tf.nn.conv2d, x, w, 1, "SAME", "NCHW")
    assert_error("Unimplemented", { "conv2d", "int32", "input must be a float tensor" },
      tf.nn.conv2d, tf.zeros({ 2, 5, 5, 3 }, tf.int32), tf.zeros({ 3, 3, 3, 4 }, tf.int32), 1, "SAME")
    assert_error("InvalidArgument", { "conv2d", "float32", "float64" }, tf.nn.conv2d, x, tf.zeros({ 3, 3, 3, 4 }, tf.float64), 1, "SAME")
    assert_error("InvalidArgument", { "conv2d: explicit padding must have 4 [before, after] pairs", "got 2" },
      tf.nn.conv2d, x, w, 1, { { 1, 1 }, { 1, 1 } })
    assert_error("InvalidArgument", { "conv2d", "the batch and channel paddings must be 0" },
      tf.nn.conv2d, x, w, 1, { { 1, 0 }, { 1, 1 }, { 1, 1 }, { 0, 0 } })
    assert_error("InvalidArgument", { "conv2d: unknown option 'dilation'" }, tf.nn.conv2d, x, w, 1, "SAME", { dilation = 2 })
    assert_error("InvalidArgument", { "conv2d", "strides is required" }, tf.raw_ops.conv2d, x, w)
  end)
  it("conv2d_transpose and the backprops check out_backprop against the output shape", function()
    assert_error("InvalidArgument", { "conv2d_backprop_input", "out_backprop is float32[2,4,4,4], but the convolution's output is float32[2,5,5,4]" },
      tf.nn.conv2d_transpose, tf.zeros({ 2, 4, 4, 4 }), w, { 2, 5, 5, 3 }, 1, "SAME")
    assert_error("InvalidArgument", { "conv2d_backprop_input", "input_sizes must have 4 entries, got 3" },
      tf.nn.conv2d_transpose, tf.zeros({ 2, 5, 5, 4 }), w, { 5, 5, 3 }, 1, "SAME")
    assert_error("InvalidArgument", { "conv2d_backprop_filter", "out_backprop is" },
      tf.raw_ops.conv2d_backprop_filter, x, tf.zeros({ 2, 5, 5, 5 }), { 3, 3, 3, 4 }, 1, "SAME")
    assert_error("InvalidArgument", { "depthwise_conv2d_native", "input depth 3 does not match the filter's in_channels 2",
      "channel_multiplier" }, tf.nn.depthwise_conv2d, x, tf.zeros({ 3, 3, 2, 1 }), 1, "SAME")
  end)
  it("pooling: windows, padding and ranks", function()
    assert_error("InvalidArgument", { "max_pool", "window's height 6 is larger than the input's height 5" },
      tf.nn.max_pool2d, x, 6, 1, "VALID")
    assert_error("InvalidArgument", { "avg_pool", "ksize [1,2,2,2]: the batch and channel entries must be 1" },
      tf.nn.avg_pool2d, x, { 1, 2, 2, 2 }, 1, "VALID")
    assert_error("InvalidArgument", { "max_pool2d: padding must be 'SAME' or 'VALID'" },
      tf.nn.max_pool2d, x, 2, 2, { { 0, 0 }, { 1, 1 }, { 1, 1 }, { 0, 0 } })
    assert_error("InvalidArgument", { "max_pool", "padding 'EXPLICIT' is not supported by this op" },
      tf.raw_ops.max_pool, x, 2, 2, "EXPLICIT")
    assert_error("Unimplemented", { "max_pool: input must be 3-D (NWC) or 4-D (NHWC), got rank 2" },
      tf.nn.max_pool, tf.zeros({ 3, 3 }), 2, 2, "VALID")
    assert_error("InvalidArgument", { "max_pool_grad", "orig_output is float32[2,2,2,3], but max_pool's output is float32[2,3,3,3]" },
      tf.raw_ops.max_pool_grad, x, tf.zeros({ 2, 2, 2, 3 }), tf.zeros({ 2, 3, 3, 3 }), 2, 2, "SAME")
    assert_error("InvalidArgument", { "max_pool1d: input [batch, width, channels] must be 3-D, got float32[2,5,5,3]" },
      tf.nn.max_pool1d, x, 2, 2, "VALID")
  end)
end)
