-- Gradient rules of the data-movement ops (src/ops/shape.c, concat.c, pad.c,
-- slice.c, index.c, select.c, sort.c) beyond the central difference checks
-- of op_conformance_spec: second derivatives (nested tapes) through chains
-- of data-movement ops against hand values, the gradient ops' own gradients
-- (gather_grad -> gather, gather_nd_grad -> gather_nd, strided_slice_grad ->
-- strided_slice), unused outputs of list ops, repeated indices, Lua's
-- indexing syntax on a tape, and every rule run on the test device.
local tf = require("tlua")
local H = require("helpers")
local gradcheck = require("gradcheck")
local flat = gradcheck.flat_values

local function seq(n, f)
  local t = {}
  for i = 1, n do t[i] = f(i) end
  return t
end
local function t64(vals, shape) return tf.reshape(tf.constant(vals, tf.float64), shape) end

-- Every op here is a selection: each output element is one input element
-- (or a constant). Running `sel` on the positions 1..n tells which: m[j]
-- is the input position of output j, 0 for a constant (padding).
local function selection(sel, shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  return flat(sel(t64(seq(n, function(i) return i end), shape))), n
end

-- f(x) = sel(x)^3 weighted by w: gradient g = S^T(3 w (Sx)^2) and the
-- Hessian-vector product h = S^T(6 w (Sx) (Sv)), by hand from the map.
local function hand_hvp(m, n, x, w, v)
  local g, h = seq(n, function() return 0 end), seq(n, function() return 0 end)
  for j, i in ipairs(m) do
    if i ~= 0 then
      g[i] = g[i] + 3 * w[j] * x[i] ^ 2
      h[i] = h[i] + 6 * w[j] * x[i] * v[i]
    end
  end
  return g, h
end

local tape_hvp = require("gradcheck").hvp -- nested tapes: g = d<w, f(x)>/dx, h = d<v, g>/dx

local function check_chain(sel, shape)
  local m, n = selection(sel, shape)
  local X = seq(n, function(i) return math.sin(i * 1.7) * 2 end)
  local V = seq(n, function(i) return math.sin(i * 0.37 + 1) end)
  local x = t64(X, shape)
  local out_shape = sel(x).shape:as_list()
  local W = seq(#m, function(j) return math.cos(j * 0.9) + 0.25 end)
  local g, h = tape_hvp(function(t) return sel(t) ^ 3 end, x, t64(W, out_shape), t64(V, shape))
  local eg, eh = hand_hvp(m, n, X, W, V)
  H.assert_close(flat(g), eg, 1e-12, 1e-12)
  H.assert_close(flat(h), eh, 1e-12, 1e-12)
end

describe("second derivatives through data movement (hand values)", function()
  local chains = {
    { "reshape, transpose, gather", { 2, 6 }, function(x)
      return tf.gather(tf.transpose(tf.reshape(x, { 3, 4 })), tf.constant({ 3, 0, 3, 1 }), 0)
    end },
    { "expand_dims, tile, squeeze, reverse", { 2, 3 }, function(x)
      return tf.reverse(tf.squeeze(tf.tile(tf.expand_dims(x, 1), { 1, 1, 2 }), { 1 }), { 0, 1 })
    end },
    { "strided_slice with masks and negative steps", { 3, 4 }, function(x) return x["::-1, 3:0:-2"] end },
    { "pad REFLECT then SYMMETRIC", { 2, 3 }, function(x)
      return tf.pad(tf.pad(x, { { 1, 1 }, { 2, 0 } }, "REFLECT"), { { 0, 2 }, { 1, 1 } }, "SYMMETRIC")
    end },
    { "pad CONSTANT, slice", { 2, 3 }, function(x)
      return tf.slice(tf.pad(x, { { 1, 1 }, { 1, 1 } }), { 0, 1 }, { 3, 3 })
    end },
    { "concat, split (one part unused), stack", { 2, 3 }, function(x)
      local parts = tf.split(tf.concat({ x, tf.reverse(x, { 1 }) }, 1), { 2, 1, 3 }, 1)
      return tf.stack({ parts[1], parts[3]["..., 1:"] }, 0)
    end },
    { "unstack (one slice unused), broadcast_to", { 3, 2 }, function(x)
      local rows = tf.unstack(x)
      return tf.broadcast_to(tf.concat({ rows[1], rows[3] }, 0), { 2, 4 })
    end },
    { "gather with batch_dims, gather_nd", { 2, 3, 2 }, function(x)
      local g = tf.gather(x, tf.constant({ { 2, 0, 2 }, { 1, 1, 0 } }), { axis = 1, batch_dims = 1 })
      return tf.gather_nd(g, tf.constant({ { 0, 2 }, { 1, 0 }, { 0, 2 } }))
    end },
    { "boolean_mask, where", { 3, 4 }, function(x)
      local mx = tf.boolean_mask(x, tf.constant({ true, false, true, true }), { axis = 1 })
      return tf.where(tf.constant({ { true, false, true }, { false, false, true }, { true, true, false } }), mx,
        tf.reverse(mx, { 0 }))
    end },
    { "scatter_nd, tensor scatters", { 2, 3 }, function(x)
      local s = tf.scatter_nd(tf.constant({ { 2 }, { 0 } }), x, { 4, 3 })
      return tf.tensor_scatter_nd_update(s, tf.constant({ { 1, 1 }, { 3, 0 } }), tf.gather_nd(x, tf.constant({ { 0, 2 }, { 1, 1 } })))
    end },
  }
  for _, c in ipairs(chains) do
    it(c[1], function() check_chain(c[3], c[2]) end)
  end
end)

-- d/dw <v, dL/dx> for L = <w, sel(x)>: dL/dx = S^T w is the gradient op
-- applied to w, and its derivative in w is S applied to v (the gradient
-- op's own rule).
local function mixed(sel, xshape, wshape, v)
  local x = t64(seq(24, function(i) return i * 0.5 end), xshape)
  local nw = 1
  for _, d in ipairs(wshape) do nw = nw * d end
  local w = t64(seq(nw, function(i) return math.cos(i) end), wshape)
  local outer = tf.GradientTape()
  outer:watch(w)
  local inner = tf.GradientTape()
  inner:watch(x)
  local l = tf.reduce_sum(w * sel(x))
  local gx = inner:gradient(l, x)
  local hw = outer:gradient(tf.reduce_sum(gx * v), w)
  return gx, hw
end

describe("gradient ops differentiated (second order in the upstream gradient)", function()
  local v = t64(seq(24, function(i) return math.sin(i * 0.37 + 1) end), { 4, 6 })

  it("gather_grad's gradient is gather (axis 1, repeated indices)", function()
    local idx = tf.constant({ 5, 0, 5, 2 })
    local gx, hw = mixed(function(x) return tf.gather(x, idx, 1) end, { 4, 6 }, { 4, 4 }, v)
    H.assert_close(gx, tf.raw_ops.gather_grad(t64(seq(16, math.cos), { 4, 4 }), idx, { 4, 6 }, 1))
    H.assert_close(hw, tf.gather(v, idx, 1))
  end)

  it("gather_nd_grad's gradient is gather_nd (batch_dims 1)", function()
    local idx = tf.constant({ { { 5 }, { 5 } }, { { 0 }, { 1 } }, { { 2 }, { 3 } }, { { 4 }, { 0 } } })
    local gx, hw = mixed(function(x) return tf.gather_nd(x, idx, { batch_dims = 1 }) end, { 4, 6 }, { 4, 2 }, v)
    local wv = flat(t64(seq(8, math.cos), { 4, 2 }))
    local eg = seq(24, function() return 0 end)
    local iv = flat(idx)
    for b = 0, 3 do
      for j = 1, 2 do
        local p = b * 6 + iv[b * 2 + j] + 1
        eg[p] = eg[p] + wv[b * 2 + j]
      end
    end
    H.assert_close(flat(gx), eg, 1e-12, 1e-12)
    H.assert_close(hw, tf.gather_nd(v, idx, { batch_dims = 1 }))
  end)

  it("strided_slice_grad's gradient is strided_slice (negative step, shrink axis)", function()
    local sel = function(x) return x["2, ::-2"] end
    local gx, hw = mixed(sel, { 4, 6 }, { 3 }, v)
    local w = flat(t64(seq(3, math.cos), { 3 }))
    local eg = seq(24, function() return 0 end)
    eg[2 * 6 + 6], eg[2 * 6 + 4], eg[2 * 6 + 2] = w[1], w[2], w[3]
    H.assert_close(flat(gx), eg, 1e-12, 1e-12)
    H.assert_close(hw, sel(v))
  end)

  it("scatter_nd's gradient (gather_nd) differentiated back to a scatter", function()
    local idx = tf.constant({ { 1, 2 }, { 3, 3 }, { 1, 2 } })
    local u = tf.constant({ 1.5, -2.0, 0.5 }, tf.float64)
    local w = t64(seq(24, math.cos), { 4, 6 })
    local outer = tf.GradientTape()
    outer:watch(w)
    local inner = tf.GradientTape()
    inner:watch(u)
    local l = tf.reduce_sum(w * tf.scatter_nd(idx, u, { 4, 6 }))
    local gu = inner:gradient(l, u)
    H.assert_close(gu, tf.gather_nd(w, idx))
    local hw = outer:gradient(tf.reduce_sum(gu * tf.constant({ 1.0, 10.0, 100.0 }, tf.float64)), w)
    local e = seq(24, function() return 0 end)
    e[1 * 6 + 2 + 1], e[3 * 6 + 3 + 1] = 101, 10
    H.assert_close(flat(hw), e)
  end)
end)

describe("conventions", function()
  it("tensor_scatter_nd_update: replaced positions get no gradient; updates get theirs", function()
    local x = tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 } }, tf.float64)
    local u = tf.constant({ 5.0, 6.0 }, tf.float64)
    local tape = tf.GradientTape()
    tape:watch(x)
    tape:watch(u)
    local y = tf.tensor_scatter_nd_update(x, tf.constant({ { 0, 1 }, { 1, 0 } }), u)
    local g = tape:gradient(tf.reduce_sum(y * tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 } }, tf.float64)), { x, u })
    H.assert_close(g[1], { { 1, 0 }, { 0, 4 } })
    H.assert_close(g[2], { 2, 3 })
  end)

  it("where: the condition gets no gradient, broadcast operands are reduced", function()
    local x = tf.constant({ 1.0, 2.0, 3.0 }, tf.float64)
    local y = tf.constant(10.0, tf.float64)
    local tape = tf.GradientTape()
    tape:watch(x)
    tape:watch(y)
    local z = tf.where(tf.constant({ { true, false, true }, { false, false, true } }), x, y)
    local g = tape:gradient(tf.reduce_sum(z), { x, y })
    H.assert_close(g[1], { 1, 0, 2 })
    H.assert_close(g[2], 3)
  end)

  it("split and unstack: unused outputs count as zeros", function()
    local x = tf.constant({ { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 } }, tf.float64)
    local tape = tf.GradientTape({ persistent = true })
    tape:watch(x)
    local parts = tf.split(x, 3, 1)
    local rows = tf.unstack(x)
    H.assert_close(tape:gradient(tf.reduce_sum(parts[2] * 2.0), x), { { 0, 2, 0 }, { 0, 2, 0 } })
    H.assert_close(tape:gradient(tf.reduce_sum(rows[2]), x), { { 0, 0, 0 }, { 1, 1, 1 } })
  end)

  it("identity is a new tensor: its gradient is not counted twice", function()
    local x = tf.constant({ 1.0, 2.0 }, tf.float64)
    local tape = tf.GradientTape()
    tape:watch(x)
    local y = tf.identity(x)
    H.assert_close(tape:gradient(tf.reduce_sum(y * 3.0), x), { 3, 3 })
  end)

  it("Lua indexing of a variable is differentiable", function()
    local v = tf.Variable({ { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 } })
    local tape = tf.GradientTape()
    -- [1, 2] . [3, 6]
    local y = tf.reduce_sum(v["0, :2"] * v[":, -1"])
    H.assert_close(tape:gradient(y, v), { { 3, 6, 1 }, { 0, 0, 2 } })
  end)

  it("zero-sized selections give zero gradients of the input's shape", function()
    local x = tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 } }, tf.float64)
    local tape = tf.GradientTape({ persistent = true })
    tape:watch(x)
    local cases = {
      tf.gather(x, tf.zeros({ 0 }, tf.int32)),
      x["1:1"],
      tf.boolean_mask(x, tf.constant({ false, false })),
      tf.tile(x, { 0, 1 }),
    }
    for _, y in ipairs(cases) do
      H.assert_close(tape:gradient(tf.reduce_sum(y), x, { unconnected_gradients = "zero" }), { { 0, 0 }, { 0, 0 } })
    end
  end)
end)

-- The gradient rules run on the test device, whose memory faults when host
-- code reads it: a rule that read the paddings of pad on the host, or made
-- its constants (zeros for unused pieces, the zero of where and of a slice
-- update) or index tensors (slice's paddings) on the CPU would crash or mix
-- devices. Every input, the upstream gradient included, is copied to the
-- device; the gradients must be bit-identical to the CPU's.
describe("gradient rules on the test device", function()
  local TEST = "TEST:0"
  local function to(dev, x) return dev and tf.copy_to_device(x, dev) or x end
  local function bytes(t) return tf.io.serialize_tensor(tf.copy_to_device(t, "CPU:0")) end

  -- f(xs..., consts...): gradients of <w, f> with respect to the xs.
  local function grads_on(dev, f, xs, consts)
    local args = {}
    for i, x in ipairs(xs) do args[i] = to(dev, x) end
    for _, c in ipairs(consts or {}) do args[#args + 1] = to(dev, c) end
    local tape = tf.GradientTape({ persistent = true })
    for i = 1, #xs do tape:watch(args[i]) end
    local y = f(table.unpack(args))
    tape:stop()
    local n = tf.copy_to_device(tf.size(y), "CPU:0"):item()
    local w = to(dev, tf.reshape(tf.constant(seq(n, function(i) return math.cos(i) + 0.5 end), tf.float64), y.shape:as_list()))
    local out = {}
    for i = 1, #xs do
      local g = tape:gradient(y, args[i], { output_gradients = w })
      assert(g, "no gradient for input " .. i)
      out[i] = bytes(g)
    end
    return out
  end

  local x = t64(seq(12, function(i) return math.sin(i * 1.3) end), { 3, 4 })
  local v = t64({ 0.5, -1.5 }, { 2 })
  local cases = {
    { "pad REFLECT", function(a, p) return tf.pad(a, p, "REFLECT") end, { x }, { tf.constant({ { 2, 1 }, { 1, 3 } }) } },
    { "pad SYMMETRIC (int64 paddings)", function(a, p) return tf.pad(tf.transpose(a), p, "SYMMETRIC") end, { x },
      { tf.constant({ 1, 0, 3, 2 }, tf.int64) } },
    { "pad CONSTANT", function(a, p) return tf.pad(a, p, "CONSTANT", 2) end, { x }, { tf.constant({ { 0, 1 }, { 2, 0 } }) } },
    { "slice", function(a) return tf.slice(a, { 1, 1 }, { 2, -1 }) end, { x } },
    { "strided_slice", function(a) return a["::-1, 1::2"] end, { x } },
    { "tensor_strided_slice_update", function(a, b)
      return tf.raw_ops.tensor_strided_slice_update(a, b, { 0, 1 }, { 0, 3 }, { 1, 1 }, 1, 1)
    end, { x, v } },
    { "where", function(a, b, c) return tf.where(c, a, b) end, { x, t64({ 1, 2, 3, 4 }, { 4 }) },
      { tf.constant({ { true }, { false }, { true } }) } },
    { "unstack, one slice unused", function(a) return tf.unstack(a, { axis = 1 })[3] end, { x } },
    { "split, pieces unused", function(a) return tf.split(a, { 1, -1 }, 0)[2] end, { x } },
    { "concat, stack", function(a) return tf.stack({ tf.concat({ a, a }, -1), tf.concat({ a, tf.reverse(a, { 0 }) }, 1) }, 0) end, { x } },
    { "tile, broadcast_to", function(a) return tf.broadcast_to(tf.tile(a, { 2, 1 }), { 2, 6, 4 }) end, { x } },
    { "gather, gather_nd", function(a, i, j) return tf.gather_nd(tf.gather(a, i, 1), j) end, { x },
      { tf.constant({ 3, 0, 3 }), tf.constant({ { 2, 1 }, { 0, 0 }, { 2, 1 } }) } },
    { "boolean_mask", function(a, m) return tf.boolean_mask(a, m, { axis = 1 }) end, { x }, { tf.constant({ true, false, true, true }) } },
    { "tensor_scatter_nd_update, scatter_nd", function(a, b, i)
      return tf.tensor_scatter_nd_update(a, i, b) + tf.scatter_nd(i, b, { 3, 4 })
    end, { x, v }, { tf.constant({ { 2, 3 }, { 0, 1 } }) } },
    { "tensor_scatter_nd_sub", function(a, b, i) return tf.tensor_scatter_nd_sub(a, i, b) end, { x, v }, { tf.constant({ { 1, 1 }, { 1, 1 } }) } },
    { "sort, top_k", function(a) return tf.sort(a, 0, "DESCENDING") * tf.math.top_k(a, 4) end, { x } },
    { "reshape, transpose, expand_dims, squeeze, identity", function(a)
      return tf.identity(tf.squeeze(tf.expand_dims(tf.transpose(tf.reshape(a, { 2, 6 })), 1)))
    end, { x } },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      local cpu, dev = grads_on(nil, c[2], c[3], c[4]), grads_on(TEST, c[2], c[3], c[4])
      for i = 1, #cpu do assert(cpu[i] == dev[i], c[1] .. ": gradient " .. i .. " differs on the test device") end
    end)
  end
end)
