-- TensorShape: what t.shape returns. 0-based and negative indexing like
-- TensorFlow (s[0], s[-1]), #s for the rank, s:as_list() for a Lua list.
local M = {}

local Shape = {}
Shape.__name = "TensorShape"

local function dims_of(s) return rawget(s, "_dims") end

Shape.__index = function(s, k)
  if math.type(k) == "integer" then
    local d = dims_of(s)
    local n = #d
    local i = k < 0 and k + n or k
    if i < 0 or i >= n then
      require("tlua.core").raise("OutOfRange", ("TensorShape index %d is out of range for rank %d"):format(k, n))
    end
    return d[i + 1]
  end
  return Shape[k]
end
Shape.__len = function(s) return #dims_of(s) end
Shape.__eq = function(a, b)
  local da, db = dims_of(a), dims_of(b)
  if not da or not db or #da ~= #db then return false end
  for i = 1, #da do if da[i] ~= db[i] then return false end end
  return true
end
Shape.__tostring = function(s)
  local d = dims_of(s)
  local parts = {}
  for i = 1, #d do parts[i] = tostring(d[i]) end
  return "(" .. table.concat(parts, ", ") .. (#d == 1 and ",)" or ")")
end
Shape.__ipairs = nil

function Shape.as_list(s)
  local d, out = dims_of(s), {}
  for i = 1, #d do out[i] = d[i] end
  return out
end
function Shape.num_elements(s)
  local n = 1
  for _, v in ipairs(dims_of(s)) do n = n * v end
  return n
end
Shape.rank = function(s) return #dims_of(s) end
function Shape.equals(a, b)
  if getmetatable(b) ~= Shape then b = M.new(b) end
  return a == b
end

function M.new(dims)
  return setmetatable({ _dims = dims }, Shape)
end
M.Shape = Shape

function M.install(tf)
  tf._hooks = tf._hooks or {}
  tf._hooks.shape = M.new
  tf.TensorShape = M.new
end

return M
