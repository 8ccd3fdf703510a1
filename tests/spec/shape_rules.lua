-- Helpers for specs that run ops with the dispatcher's shape-rule check on
-- (core.set_check_infer): every kernel's outputs are compared with the op's
-- shape rule, and a missing or disagreeing rule is an InternalError.
local tf = require("tlua")
local core = tf.core

local M = {}

-- For before_each / after_each (busted's, which a module cannot see).
function M.on() core.set_check_infer(true) end
function M.off() core.set_check_infer(false) end

-- Runs f and returns its results, after checking that op `name` was
-- verified against its shape rule while f ran.
function M.checked(name, f)
  local before = core.infer_checks(name)
  local r = table.pack(f())
  assert(core.infer_checks(name) > before, name .. " was not checked against its shape rule")
  return table.unpack(r, 1, r.n)
end

return M
