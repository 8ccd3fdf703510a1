-- Gradient checking against float64 central differences, shared by the
-- op-conformance spec and any spec that wants it; M.analytic alone gives the
-- tape's gradients (the conformance runner compares them across devices).
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
-- Deterministic weights on t's device (an output may live elsewhere than
-- the scope's default: a case that copies back to the CPU).
local function weights_like(t)
  local n = t.shape:num_elements()
  local vals = {}
  for i = 1, n do vals[i] = math.sin(i * 1.3) + 0.5 end
  return tf.device(t.device, from_flat, vals, t.shape:as_list(), t.dtype)
end

-- Positions of the inputs to differentiate: opts.wrt, or every float input.
local function positions(inputs, which)
  if which then return which end
  which = {}
  for i, x in ipairs(inputs) do
    if tf.is_tensor(x) and x.dtype.is_floating then which[#which + 1] = i end
  end
  return which
end

-- The scalar loss the checks differentiate: every float output weighted
-- element-wise (weights made where the output lives, so on the test device
-- under a tf.device scope too). opts.seed reseeds the global generator
-- before each call, so random ops draw the same values every time.
local function loss_of(fn, args, n, seed)
  if seed then tf.random.set_seed(seed) end
  local outs = table.pack(fn(table.unpack(args, 1, n)))
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

-- analytic(fn, inputs, opts) -> the tape's gradients of that loss with
-- respect to the inputs at positions(inputs, opts.wrt), and those positions.
-- With nothing to differentiate (integer inputs, or wrt = {} for a case that
-- covers a dtype central differences cannot check) it gives no gradients.
function M.analytic(fn, inputs, opts)
  opts = opts or {}
  local which = positions(inputs, opts.wrt)
  if #which == 0 then return {}, which end
  local tape = tf.GradientTape()
  for _, i in ipairs(which) do tape:watch(inputs[i]) end
  local loss = loss_of(fn, inputs, #inputs, opts.seed)
  tape:stop()
  if loss == nil then error("the function returned no floating-point tensor to differentiate") end
  local srcs = {}
  for k, i in ipairs(which) do srcs[k] = inputs[i] end
  return tape:gradient(loss, srcs, { unconnected_gradients = "zero" }), which
end

-- check(fn, inputs, opts): fn(...) returns a tensor (or several; all are
-- weighted into the loss). inputs: list of float64 tensors (non-float ones
-- are passed through and not differentiated; opts.wrt = {} runs fn once
-- and checks nothing more, for cases that cover other dtypes). opts.grads:
-- the analytic gradients when the caller has them already. Returns max relative error
-- and a description of the worst element.
function M.check(fn, inputs, opts)
  opts = opts or {}
  local eps = opts.eps or 1e-6
  local which = positions(inputs, opts.wrt)
  if #which == 0 then
    if not opts.grads then fn(table.unpack(inputs, 1, #inputs)) end -- the forward alone
    return 0, "no differentiated input"
  end
  local grads = opts.grads or M.analytic(fn, inputs, opts)
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
      local lp = loss_of(fn, args, #inputs, opts.seed):item()
      vals[e] = orig - eps
      args[i] = from_flat(vals, shape, x.dtype)
      local lm = loss_of(fn, args, #inputs, opts.seed):item()
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
