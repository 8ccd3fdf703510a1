-- TensorShape: what t.shape returns. 0-based and negative indexing like
-- TensorFlow (s[0], s[-1]), #s for the rank, s:as_list() for a Lua list.
-- An unknown dimension (Keras's None, e.g. the batch of keras.Input) is nil;
-- the rank is stored apart (_rank) because a Lua list with nil holes has no
-- reliable length, and as_list() of such a shape
-- carries its length in field n.
local M = {}

local Shape = {}
Shape.__name = "TensorShape"

local function dims_of(s) return rawget(s, "_dims") end

Shape.__index = function(s, k)
  if math.type(k) == "integer" then
    local d = dims_of(s)
    local n = rawget(s, "_rank")
    local i = k < 0 and k + n or k
    if i < 0 or i >= n then
      require("tlua.core").raise("OutOfRange", ("TensorShape index %d is out of range for rank %d"):format(k, n))
    end
    return d[i + 1]
  end
  return Shape[k]
end
local function rank_of(s) return rawget(s, "_rank") end
Shape.__len = rank_of
Shape.__eq = function(a, b)
  local da, db = dims_of(a), dims_of(b)
  if not da or not db or rank_of(a) ~= rank_of(b) then return false end
  for i = 1, rank_of(a) do if da[i] ~= db[i] then return false end end
  return true
end
Shape.__tostring = function(s)
  local d = dims_of(s)
  local parts = {}
  for i = 1, rank_of(s) do parts[i] = d[i] == nil and "None" or tostring(d[i]) end
  return "(" .. table.concat(parts, ", ") .. (rank_of(s) == 1 and ",)" or ")")
end
Shape.__ipairs = nil

function Shape.as_list(s)
  local d, n = dims_of(s), rank_of(s)
  local out, holes = {}, false
  for i = 1, n do
    out[i] = d[i]
    holes = holes or d[i] == nil
  end
  if holes then out.n = n end -- a plain list when every dimension is known
  return out
end
-- nil when a dimension is unknown, as TensorFlow's None.
function Shape.num_elements(s)
  local d, n = dims_of(s), 1
  for i = 1, rank_of(s) do
    if d[i] == nil then return nil end
    n = n * d[i]
  end
  return n
end
Shape.rank = rank_of
-- True when every dimension is known.
function Shape.is_fully_defined(s) return Shape.num_elements(s) ~= nil end
function Shape.equals(a, b)
  if getmetatable(b) ~= Shape then b = M.new(b) end
  return a == b
end

-- dims: a list (nil for an unknown dimension); rank: its length, needed
-- when the list has nil holes (or dims.n, as as_list() and table.pack give).
function M.new(dims, rank)
  if getmetatable(dims) == Shape then return dims end
  local core = require("tlua.core")
  if type(dims) ~= "table" then
    core.raise("InvalidArgument", ("tf.TensorShape: dims must be a list of integers (nil for unknown), got %s"):format(type(dims)))
  end
  rank = rank or dims.n or #dims
  if math.type(rank) ~= "integer" or rank < 0 then
    core.raise("InvalidArgument", ("tf.TensorShape: rank must be a non-negative integer, got %s"):format(tostring(rank)))
  end
  local copied = false
  for i = 1, rank do
    local d = dims[i]
    if d ~= nil and math.type(d) ~= "integer" then
      local int = math.type(d) == "float" and math.tointeger(d)
      if not int then
        core.raise("InvalidArgument", ("tf.TensorShape: dimension %d must be a non-negative integer or nil, got %s"):format(i - 1, tostring(d)))
      end
      if not copied then -- integral floats become integers in a copy, never in the caller's list
        local c = {}
        for j = 1, rank do c[j] = dims[j] end
        dims, copied = c, true
      end
      dims[i], d = int, int
    end
    if d ~= nil and d < 0 then
      core.raise("InvalidArgument", ("tf.TensorShape: dimension %d must be a non-negative integer or nil, got %d"):format(i - 1, d))
    end
  end
  return setmetatable({ _dims = dims, _rank = rank }, Shape)
end
M.Shape = Shape

function M.install(tf)
  tf._hooks = tf._hooks or {}
  tf._hooks.shape = M.new
  tf.TensorShape = M.new
end

return M
