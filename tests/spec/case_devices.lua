-- Runs the cases of an op_cases file the way the conformance suite does
-- for the record's shape rules and the test device: every case under
-- tf.core.set_check_infer(true) (each kernel's outputs checked against its
-- op's shape rule) on the CPU and again with the inputs copied to the test
-- device, requiring bit-identical outputs and, for differentiable cases,
-- bit-identical gradients of the sum of the float outputs; and every op of
-- the file must have passed at least one shape-rule check.
local tf = require("tlua")

local M = {}
-- Cases skipped because an op of another family has no shape rule yet.
M.pending = {}

local function bytes(t)
  return tf.io.serialize_tensor(tf.copy_to_device(t, "CPU:0"))
end

-- Whether err says that an op outside cases (another family, whose own
-- conversion is under way) has no shape rule yet: then what used it cannot
-- run under the check, and is listed in M.pending instead of failing.
function M.foreign(cases, err, where)
  local other = tostring(err):match("InternalError: .*: ([%w_]+) has no shape rule")
  if not other or cases[other] then return false end
  M.pending[#M.pending + 1] = where .. " (uses " .. other .. ")"
  return true
end

-- fn() under the shape-rule check; false and the error on failure, true
-- when it ran or could not run only for a foreign op (M.foreign).
function M.checked(cases, where, fn)
  tf.core.set_check_infer(true)
  local ok, err = pcall(fn)
  tf.core.set_check_infer(false)
  return ok or M.foreign(cases, err, where), err
end

-- Inputs as the runner makes them: float64 for tables of differentiable
-- cases, tensors as given.
local function make_inputs(entry, case)
  local list = {}
  for i, x in ipairs(case.inputs) do
    list[i] = tf.is_tensor(x) and x or tf.constant(x, (not entry.nograd) and tf.float64 or nil)
  end
  return list
end

local function to_device(list)
  local out = {}
  for i, x in ipairs(list) do out[i] = tf.copy_to_device(x, "TEST:0") end
  return out
end

-- The outputs of fn(inputs) and, when grads, the gradients of the sum of
-- its float outputs with respect to the float inputs (nil where none).
local function evaluate(case, inputs, grads)
  local tape = grads and tf.GradientTape({ persistent = true }) or nil
  if tape then for _, x in ipairs(inputs) do if x.dtype.is_floating then tape:watch(x) end end end
  tf.core.set_check_infer(true)
  local ok, outs = pcall(function() return table.pack(case.fn(table.unpack(inputs, 1, #inputs))) end)
  tf.core.set_check_infer(false)
  if not ok then error(outs, 0) end
  local loss
  for i = 1, outs.n do
    local o = outs[i]
    if tape and tf.is_tensor(o) and o.dtype.is_floating then
      local term = tf.reduce_sum(o)
      loss = loss and loss + term or term
    end
  end
  local g = {}
  if tape and loss then
    -- the seed made from loss, so it lives on loss's device
    local seed = tf.ones_like(loss)
    for i, x in ipairs(inputs) do
      if x.dtype.is_floating then g[i] = tape:gradient(loss, x, { output_gradients = seed }) end
    end
  end
  if tape then tape:stop() end
  return outs, g
end

-- check_op(cases, name): runs every case of op `name` (cases: what an
-- op_cases file returns, see load).
function M.check_op(cases, name)
  local entry = assert(cases[name], "no cases for " .. name)
  local before = tf.core.infer_checks(name)
  assert(#entry > 0, name .. " has no runnable case")
  for k, case in ipairs(entry) do
    local where = ("%s case %d"):format(name, k)
    local grads = not entry.nograd and case.wrt == nil
    local cpu_in = make_inputs(entry, case)
    local ok, outs, g = pcall(evaluate, case, cpu_in, grads)
    if not ok and M.foreign(cases, outs, where) then goto next_case end
    assert(ok, where .. " on the CPU: " .. tostring(outs))
    local ok2, douts, dg = pcall(evaluate, case, to_device(cpu_in), grads)
    assert(ok2, where .. " on the test device: " .. tostring(douts))
    assert(outs.n == douts.n, where .. ": output counts differ")
    for i = 1, outs.n do
      if tf.is_tensor(outs[i]) then
        assert(bytes(outs[i]) == bytes(douts[i]), ("%s: output %d differs on the test device"):format(where, i))
      end
    end
    for i in pairs(g) do
      assert(dg[i], ("%s: no gradient for input %d on the test device"):format(where, i))
      assert(bytes(g[i]) == bytes(dg[i]), ("%s: gradient of input %d differs on the test device"):format(where, i))
    end
    ::next_case::
  end
  assert(tf.core.infer_checks(name) > before, name .. " passed no shape-rule check")
end

function M.load(family)
  local dir = (os.getenv("TLUA_SOURCE_DIR") or ".") .. "/tests/spec/op_cases/"
  return assert(loadfile(dir .. family .. ".lua"))()
end

-- Inside a describe block: one test (busted's `it`, passed in: a spec's
-- globals are not a module's) per op of op_cases/<family>.lua that runs its
-- cases with check_op. Returns the loaded cases.
function M.spec(it, family)
  local cases = M.load(family)
  local names = {}
  for name in pairs(cases) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    it(name .. ": every conformance case agrees with the shape rule, on the CPU and the test device", function()
      M.check_op(cases, name)
    end)
  end
  return cases
end

-- For op_cases files: appends to list a forward-only case (wrt = {}) of fn
-- per dtype of dtypes, its first input value as that dtype and the others
-- (rest) as given or, with cast_rest, as that dtype too. These cover the
-- dtypes that float64 central differences cannot check.
function M.in_dtypes(list, fn, dtypes, value, rest, cast_rest)
  for _, dt in ipairs(dtypes) do
    local inputs = { tf.constant(value, dt) }
    for i, r in ipairs(rest or {}) do inputs[i + 1] = cast_rest and tf.constant(r, dt) or r end
    list[#list + 1] = { fn = fn, inputs = inputs, wrt = {} }
  end
  return list
end

return M
