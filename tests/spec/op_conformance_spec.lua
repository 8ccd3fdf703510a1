-- The op-conformance test, driven by the registry: every registered op must
-- have a case in tests/spec/op_cases/*.lua; each differentiable case is
-- checked against float64 central differences; an op whose case says it is
-- not differentiable must not claim a gradient rule it does not test.
-- An op with no case fails this spec.
local tf = require("tlua")
local core = tf.core
local gradcheck = require("gradcheck")

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

describe("op registry conformance", function()
  local names = core.op_names()
  table.sort(names)

  it("has a case for every registered op", function()
    local missing = {}
    for _, name in ipairs(names) do
      if cases[name] == nil then missing[#missing + 1] = name end
    end
    assert(#missing == 0, "ops without a conformance case: " .. table.concat(missing, ", "))
  end)

  it("has no cases for ops that do not exist", function()
    local known = {}
    for _, n in ipairs(names) do known[n] = true end
    for name in pairs(cases) do assert(known[name], "case for unknown op " .. name) end
  end)

  for _, name in ipairs(names) do
    local c = cases[name]
    if c and not c.nograd then
      it("gradient of " .. name .. " matches float64 central differences", function()
        assert(core.op_info(name).has_gradient, name .. " has no gradient rule")
        for k, case in ipairs(c) do
          local inputs = {}
          for i, x in ipairs(case.inputs) do
            inputs[i] = tf.is_tensor(x) and x or tf.constant(x, tf.float64)
          end
          local ok, err = pcall(gradcheck.assert_grad, case.fn, inputs, { tol = case.tol, eps = case.eps, wrt = case.wrt })
          assert(ok, ("%s case %d: %s"):format(name, k, tostring(err)))
        end
      end)
    elseif c and c.nograd then
      it(name .. " is declared not differentiable: " .. c.nograd, function()
        assert(type(c.nograd) == "string" and #c.nograd > 0)
      end)
    end
  end
end)
