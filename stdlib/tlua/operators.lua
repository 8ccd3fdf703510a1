-- Lua operators on tensors and variables: + - * / % ^ // and unary -,
-- element-wise with broadcasting; & | ~ on booleans are logical ops.
local core = require("tlua.core")

local M = {}

function M.install(tf)
  local ops = core.ops
  -- The op functions themselves: a binary metamethod receives exactly
  -- (a, b), so no Lua wrapper (and its call frame) is needed.
  local function bin(name) return ops[name] end
  for _, mt in ipairs({ core.Tensor, core.VariableMeta }) do
    mt.__add = bin("add")
    mt.__sub = bin("subtract")
    mt.__mul = bin("multiply")
    mt.__div = bin("divide")
    mt.__mod = bin("floormod")
    mt.__pow = bin("pow")
    mt.__idiv = bin("floordiv")
    mt.__band = bin("logical_and")
    mt.__bor = bin("logical_or")
    mt.__bxor = bin("logical_xor")
    if ops.negative then mt.__unm = function(a) return ops.negative(a) end end
    if ops.logical_not then mt.__bnot = function(a) return ops.logical_not(a) end end
  end
  -- short comparison methods (Lua's == and < must return booleans)
  local m = core.Tensor.methods
  local short = { eq = "equal", ne = "not_equal", lt = "less", le = "less_equal",
                  gt = "greater", ge = "greater_equal" }
  for k, v in pairs(short) do m[k] = ops[v] end
end

return M
