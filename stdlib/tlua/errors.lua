-- tf.errors: error kinds as values scripts can test.
local core = require("tlua.core")

local M = {}

local kinds = {
  "InvalidArgument", "OutOfRange", "FailedPrecondition", "NotFound",
  "ResourceExhausted", "Unimplemented", "Cancelled", "DeadlineExceeded", "Internal", "DataLoss",
}

function M.install(tf)
  local errors = tf.errors
  for _, k in ipairs(kinds) do
    errors[k .. "Error"] = k
    errors[k] = k
  end
  -- tf.errors.is(err, "OutOfRange") or tf.errors.is(err, tf.errors.OutOfRangeError)
  function errors.is(err, kind)
    if type(err) ~= "table" or getmetatable(err) ~= core.ErrorMeta then return false end
    if kind == nil then return true end
    kind = kind:gsub("Error$", "")
    return err.kind == kind
  end
  function errors.kind(err)
    if type(err) == "table" and getmetatable(err) == core.ErrorMeta then return err.kind end
    return nil
  end
  -- raise(kind, fmt, ...): the same error values from Lua code
  function errors.raise(kind, fmt, ...)
    core.raise((kind:gsub("Error$", "")), select("#", ...) > 0 and fmt:format(...) or fmt)
  end
end

return M
