-- tf.errors: error kinds as values scripts can test, and the options check
-- that Lua-side wrappers share (require("tlua.errors").check_options).
local core = require("tlua.core")

local M = {}

local kinds = {
  "InvalidArgument", "OutOfRange", "FailedPrecondition", "NotFound",
  "ResourceExhausted", "Unimplemented", "Cancelled", "DeadlineExceeded", "Internal", "DataLoss",
}

-- check_options(who, opts, known): the options table of a Lua-side wrapper
-- may hold only the names in the set `known` (as the C dispatcher insists
-- for ops); anything else is an InvalidArgument error naming the key, so a
-- misspelt option is never silently ignored. Returns opts ({} for nil).
function M.check_options(who, opts, known)
  if opts == nil then return {} end
  if type(opts) ~= "table" or getmetatable(opts) ~= nil then
    core.raise("InvalidArgument", ("%s: options must be a table, got %s"):format(who, type(opts)))
  end
  for k in pairs(opts) do
    if not known[k] then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      core.raise("InvalidArgument", ("%s: unknown option '%s' (known: %s)"):format(who, tostring(k), table.concat(names, ", ")))
    end
  end
  return opts
end

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
