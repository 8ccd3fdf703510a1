-- Gradient checking against float64 central differences, shared by the
-- op-conformance spec and any spec that wants it.
local tf = require("tlua")

local M = {}

local function flat_values(t)
  local out = {}
  local function walk(x)
    if type(x) == "table" then for _, v in ipairs(x) do walk(v) end else out[#out + 1] = x end
  end
  walk(t:totable())
  return out
end
M.flat_values = flat_values

local function from_flat(vals, shape, dtype)
  return tf.reshape(tf.constant(vals, dtype), shape)
end

-- Deterministic weights so the scalar loss sees every output element with
-- a different sensitivity.
local function weights_like(t)
  local n = tf.size(t):item()
  local vals = {}
  for i = 1, n do vals[i] = math.sin(i * 1.3) + 0.5 end
  return from_flat(vals, t.shape:as_list(), t.dtype)
end

-- check(fn, inputs, opts): fn(...) returns a tensor (or several; all are
-- weighted into the loss). inputs: list of float64 tensors (non-float ones
-- are passed through and not differentiated). opts.wrt = {} runs fn once
-- and checks nothing more (cases that cover other dtypes). Returns max relative error
-- and a description of the worst element.
function M.check(fn, inputs, opts)
  opts = opts or {}
  local eps = opts.eps or 1e-6
  local which = opts.wrt -- list of input positions to differentiate (default: float inputs)
  if not which then
    which = {}
    for i, x in ipairs(inputs) do if x.dtype.is_floating then which[#which + 1] = i end end
  end
  if #which == 0 then
    -- nothing to differentiate (integer inputs, or wrt = {} for a case that
    -- covers a dtype central differences cannot check): the forward alone
    fn(table.unpack(inputs, 1, #inputs))
    return 0, "no differentiated input"
  end
  local function loss_of(args)
    local outs = table.pack(fn(table.unpack(args, 1, #inputs)))
    local total
    for i = 1, outs.n do
      local o = outs[i]
      if tf.is_tensor(o) and o.dtype.is_floating then
        local term = tf.reduce_sum(o * weights_like(o))
        total = total and total + term or term
      end
    end
    return total
  end
  -- analytic
  local tape = tf.GradientTape()
  for _, i in ipairs(which) do tape:watch(inputs[i]) end
  local loss = loss_of(inputs)
  local srcs = {}
  for k, i in ipairs(which) do srcs[k] = inputs[i] end
  local grads = tape:gradient(loss, srcs, { unconnected_gradients = "zero" })
  local worst, where = 0, "none"
  for k, i in ipairs(which) do
    local x = inputs[i]
    local vals = flat_values(x)
    local shape = x.shape:as_list()
    local g = flat_values(grads[k])
    for e = 1, #vals do
      local args = { table.unpack(inputs) }
      local orig = vals[e]
      vals[e] = orig + eps
      args[i] = from_flat(vals, shape, x.dtype)
      local lp = loss_of(args):item()
      vals[e] = orig - eps
      args[i] = from_flat(vals, shape, x.dtype)
      local lm = loss_of(args):item()
      vals[e] = orig
      local num = (lp - lm) / (2 * eps)
      local err = math.abs(num - g[e]) / math.max(1, math.abs(num))
      if err > worst then
        worst = err
        where = ("input %d element %d: analytic %.9g, numeric %.9g"):format(i, e, g[e], num)
      end
    end
  end
  return worst, where
end

function M.assert_grad(fn, inputs, opts)
  local err, where = M.check(fn, inputs, opts)
  local tol = (opts and opts.tol) or 1e-5
  assert(err <= tol, ("gradient mismatch %.3g > %.3g at %s"):format(err, tol, where))
end

-- Second order with nested tapes: g = d<w, f(x)>/dx and h = d<v, g>/dx
-- (a Hessian-vector product), for checks against PyTorch's double backward.
function M.hvp(f, x, w, v)
  local outer = tf.GradientTape()
  outer:watch(x)
  local inner = tf.GradientTape()
  inner:watch(x)
  local y = f(x)
  local g = inner:gradient(y, x, { output_gradients = w })
  local h = outer:gradient(g, x, { output_gradients = v })
  return g, h
end

-- A 2x3x4 nested table of distinct smooth values (no ties, no zeros), the
-- rank-3 input of the op_cases files. Treat it as read-only.
M.t234 = {}
for i = 1, 2 do
  M.t234[i] = {}
  for j = 1, 3 do
    M.t234[i][j] = {}
    for k = 1, 4 do M.t234[i][j][k] = math.sin(i * 7 + j * 3 + k) * 2 end
  end
end

return M
