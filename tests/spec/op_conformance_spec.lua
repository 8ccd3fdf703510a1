-- The op-conformance test, driven by the registry. Every registered op needs
-- an entry in tests/spec/op_cases/*.lua: a table whose array part holds
-- cases {fn =, inputs =, tol =, eps =, wrt =, device =, device_reason =} and
-- which may say nograd = "reason". inputs are Lua values (float64 tensors
-- for differentiable ops, passed as given for nograd ones), tensors or
-- variables; fn uses only its arguments and tf functions. A case that truly
-- cannot run on the test device says device = false, device_reason = "...".
--
-- Every case runs with the dispatcher's shape-rule check on
-- (core.set_check_infer): once on the CPU, and once with its tensor inputs
-- copied to the test device and fn called inside tf.device("TEST:0"), whose
-- memory faults when host code reads it. The two runs must give
-- bit-identical outputs (serialized bytes, read back through host copies).
-- For differentiable ops the tape's gradients must be bit-identical on both
-- devices too, and match float64 central differences on the CPU. At the end
-- every op must have a shape rule that at least one call checked.
local tf = require("tlua")
local core = tf.core
local gradcheck = require("gradcheck")

local TEST = "TEST:0"

local case_dir = (os.getenv("TLUA_SOURCE_DIR") or ".") .. "/tests/spec/op_cases"
local cases, origin = {}, {}
local p = io.popen('ls "' .. case_dir .. '"/*.lua 2>/dev/null')
for file in p:lines() do
  local chunk = assert(loadfile(file))
  for name, c in pairs(chunk()) do
    assert(cases[name] == nil, "op " .. name .. " has cases in two files: " .. tostring(origin[name]) .. " and " .. file)
    cases[name] = c
    origin[name] = file
  end
end
p:close()

-- ---- values: inputs per device, outputs as bytes ----------------------------

-- A case's input for one run. Lua tables become float64 tensors for the
-- gradient cases (as the central differences need) and stay Lua values for
-- nograd ops; tensors are copied to the device; variables are remade from
-- the value they had when the spec loaded (a case may assign to them).
local function prepare(x, device, float64, snapshots)
  if core.is_variable(x) then
    local init = snapshots[x]
    if not init then
      init = x:value()
      snapshots[x] = init
    end
    if device then
      local d <close> = tf.device(device)
      return tf.Variable(tf.copy_to_device(init, device), { trainable = x.trainable, name = x.name })
    end
    return tf.Variable(init, { trainable = x.trainable, name = x.name })
  end
  if float64 and not tf.is_tensor(x) and type(x) ~= "boolean" then x = tf.constant(x, tf.float64) end
  if tf.is_tensor(x) and device then return tf.copy_to_device(x, device) end
  return x
end

local function inputs_for(case, device, float64, snapshots)
  local out = {}
  for i = 1, #case.inputs do out[i] = prepare(case.inputs[i], device, float64, snapshots) end
  return out
end

-- The exact bytes of a value, leaf by leaf ({path, bytes, text}): tensors
-- serialized (after a host copy, which serialize_tensor makes), variables by
-- value, tables entry by entry in key order, Lua numbers by bit pattern (so
-- NaN compares with itself and -0 differs from 0).
local function leaves(v, path, out)
  if core.is_variable(v) then v = v:value() end
  if tf.is_tensor(v) then
    local ok, s = pcall(core.io.serialize_tensor, v)
    if not ok then -- string tensors: their values, exactly
      local parts = {}
      local function walk(x)
        if type(x) == "table" then for _, e in ipairs(x) do walk(e) end else parts[#parts + 1] = ("%q"):format(x) end
      end
      walk(v:totable())
      s = v.dtype.name .. tostring(v.shape) .. table.concat(parts, ",")
    end
    out[#out + 1] = { path = path, bytes = s, text = tostring(v) }
  elseif type(v) == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(x, y) return tostring(x) < tostring(y) end)
    out[#out + 1] = { path = path, bytes = "table#" .. #keys, text = "a table of " .. #keys .. " entries" }
    for _, k in ipairs(keys) do leaves(v[k], path .. "[" .. tostring(k) .. "]", out) end
  else
    local bytes = math.type(v) == "float" and string.pack("<d", v) or type(v) .. ":" .. tostring(v)
    out[#out + 1] = { path = path, bytes = bytes, text = tostring(v) }
  end
  return out
end

-- nil when a and b (leaves) are identical, else where they first differ.
local function difference(a, b)
  for i = 1, math.max(#a, #b) do
    local x, y = a[i], b[i]
    if not x or not y or x.path ~= y.path or x.bytes ~= y.bytes then
      local short = function(l) return l and (l.path .. " = " .. l.text):sub(1, 300) or "nothing" end
      local hint = x and y and x.text == y.text and " (the bits differ beyond the printed digits)" or ""
      return ("CPU gives %s; TEST gives %s%s"):format(short(x), short(y), hint)
    end
  end
  return nil
end

local function run(fn, args, n, seed)
  tf.random.set_seed(seed)
  return table.pack(fn(table.unpack(args, 1, n)))
end

-- A call with the error as a string tagged with the phase.
local function try(phase, f, ...)
  local ok, res = pcall(f, ...)
  if not ok then error(("%s: %s"):format(phase, tostring(res)), 0) end
  return res
end

-- ---- one case ---------------------------------------------------------------

local function check_case(name, c, k, case)
  local where = ("%s case %d"):format(name, k)
  assert(type(case.fn) == "function", where .. ": fn must be a function")
  assert(type(case.inputs) == "table", where .. ": inputs must be a list")
  local on_device = case.device ~= false
  if not on_device then
    assert(type(case.device_reason) == "string" and #case.device_reason > 0,
      where .. ": device = false needs a device_reason")
  end
  local differentiable = not c.nograd
  local seed = 1000 + k
  local snapshots = {}
  local n = #case.inputs

  local cpu_in = try(where .. " (CPU inputs)", inputs_for, case, nil, differentiable, snapshots)
  local cpu_out = try(where .. " (CPU)", run, case.fn, cpu_in, n, seed)
  local cpu_leaves = leaves(cpu_out, "results", {})

  if on_device then
    local test_in = try(where .. " (TEST inputs)", inputs_for, case, TEST, differentiable, snapshots)
    local test_out = try(where .. " (TEST)", tf.device, TEST, run, case.fn, test_in, n, seed)
    local diff = difference(cpu_leaves, leaves(test_out, "results", {}))
    assert(not diff, ("%s: outputs on TEST are not bit-identical to the CPU's: %s"):format(where, diff))
  end

  if not differentiable then return end
  local opts = { tol = case.tol, eps = case.eps, wrt = case.wrt, seed = seed }
  local grads = try(where .. " (CPU gradient)", gradcheck.analytic, case.fn, cpu_in, opts)
  if on_device then
    local test_in = try(where .. " (TEST inputs)", inputs_for, case, TEST, true, snapshots)
    local test_grads = try(where .. " (TEST gradient)", tf.device, TEST, gradcheck.analytic, case.fn, test_in, opts)
    local diff = difference(leaves(grads, "gradients", {}), leaves(test_grads, "gradients", {}))
    assert(not diff, ("%s: gradients on TEST are not bit-identical to the CPU's: %s"):format(where, diff))
  end
  opts.grads = grads
  local err, worst = try(where .. " (central differences)", gradcheck.check, case.fn, cpu_in, opts)
  local tol = case.tol or 1e-5
  assert(err <= tol, ("%s: gradient mismatch %.3g > %.3g at %s"):format(where, err, tol, worst))
end

-- ---- the spec ---------------------------------------------------------------

-- TLUA_CONFORMANCE_ONLY=add,matmul runs those ops' cases alone (while
-- working on them); the registry-wide checks then fail, as they should.
local only
if os.getenv("TLUA_CONFORMANCE_ONLY") then
  only = {}
  for n in os.getenv("TLUA_CONFORMANCE_ONLY"):gmatch("[^,%s]+") do only[n] = true end
end

-- A host read of device memory kills the process (that is the test
-- device's job), so the case being run is kept in a file that names it.
local trace_path = (os.getenv("TLUA_BUILD_DIR") or "/tmp") .. "/op_conformance_current_case.txt"
io.stderr:write(("op_conformance: if this spec dies of a signal, %s names the case that was running\n")
  :format(trace_path))
local function trace(text)
  local f = io.open(trace_path, "w")
  if f then
    f:write(text, "\n")
    f:close()
  end
end

describe("op registry conformance", function()
  local names = core.op_names()
  table.sort(names)
  setup(function() core.set_check_infer(true) end)
  teardown(function() core.set_check_infer(false) end)

  it("has a case entry for every registered op", function()
    local missing = {}
    for _, name in ipairs(names) do
      if cases[name] == nil then missing[#missing + 1] = name end
    end
    assert(#missing == 0, "ops without a conformance entry: " .. table.concat(missing, ", "))
  end)

  it("has no cases for ops that do not exist", function()
    local known = {}
    for _, n in ipairs(names) do known[n] = true end
    for name in pairs(cases) do assert(known[name], "case for unknown op " .. name) end
  end)

  it("has at least one runnable case (inputs in the array part) for every op", function()
    local missing = {}
    for _, name in ipairs(names) do
      local c = cases[name]
      if c ~= nil and #c == 0 then missing[#missing + 1] = name end
    end
    assert(#missing == 0, ("%d ops have no runnable case (only nograd=, no {fn=, inputs=} entries): %s"):format(
      #missing, table.concat(missing, ", ")))
  end)

  for _, name in ipairs(names) do
    local c = cases[name]
    if c and c.nograd then
      it(name .. " is declared not differentiable: " .. tostring(c.nograd), function()
        assert(type(c.nograd) == "string" and #c.nograd > 0, name .. ": nograd must be a reason string")
      end)
    elseif c then
      it(name .. " has a gradient rule", function()
        assert(core.op_info(name).has_gradient, name .. " has no gradient rule (or mark it nograd = \"reason\")")
      end)
    end
    if c and #c > 0 and (not only or only[name]) then
      local what = c.nograd and "" or ", gradients bit-identical and equal to float64 central differences"
      it(("%s: every case passes its shape rule, gives bit-identical outputs on CPU and TEST%s"):format(name, what),
        function()
          for k, case in ipairs(c) do
            trace(("%s case %d (%s)"):format(name, k, origin[name]))
            check_case(name, c, k, case)
          end
          trace("(none: the last case finished)")
        end)
    end
  end

  -- These two run last: the cases above (and every op they call) count.
  it("every registered op has a shape rule", function()
    local missing = {}
    for _, name in ipairs(names) do
      if not core.op_info(name).has_infer then missing[#missing + 1] = name end
    end
    assert(#missing == 0, ("%d ops have no shape rule (infer): %s"):format(#missing, table.concat(missing, ", ")))
  end)

  it("every registered op passed at least one shape-rule check", function()
    local missing = {}
    for _, name in ipairs(names) do
      if core.infer_checks(name) == 0 then missing[#missing + 1] = name end
    end
    assert(#missing == 0, ("%d ops were never checked against their shape rule (no case reached them, or the "
      .. "check failed): %s"):format(#missing, table.concat(missing, ", ")))
  end)
end)
