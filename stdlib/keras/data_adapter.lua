-- keras.data_adapter: the arrays given to fit/evaluate/predict (part of
-- keras.training). Structures (one tensor, a list for several inputs or
-- outputs, a name-keyed table), the sample-count check, row slicing with
-- reused begin/size tables, shuffled gathers, validation splits, and
-- class_weight as sample weights. Lua number tables become tensors once,
-- up front; nothing here runs per element.
local core = require("tlua.core")

local M = {}
local raise = core.raise
local function tf() return require("tlua") end
local function is_plain(t) return type(t) == "table" and getmetatable(t) == nil end
local function who(model) return ("%s '%s'"):format(getmetatable(model).class_name, model.name) end


local function convert(x, dtype)
  if x == nil or core.is_tensor(x) then return x end
  if type(x) == "table" or type(x) == "number" then return tf().constant(x, dtype) end
  raise("InvalidArgument", ("expected a tensor or a Lua table of numbers, got %s"):format(type(x)))
end

-- x (or y) -> {kind, list of tensors, keys} matching the model's structure.
-- Lua number tables become tensors (x and sample weights in float32, as
-- Keras's floatx; y keeps Lua's types: integer labels are int32).
local function structure(model, x, what, n_expected, keys_expected)
  local dtype = (what == "x" or what == "sample_weight") and "float32" or nil
  local function convert_(v) return convert(v, dtype) end
  if x == nil then return nil end
  if core.is_tensor(x) then return { kind = "single", list = { x } } end
  if is_plain(x) then
    if x[1] == nil and next(x) ~= nil then
      if what == "x" and keys_expected == nil then
        local names = rawget(model, "input_names")
        raise("InvalidArgument", ("%s: x is a name-keyed table (keys: %s) but the model's inputs are not name-keyed%s; pass the tensor itself")
          :format(who(model), table.concat(require("keras.models")._sorted_keys(x), ", "),
            names and (" (input: " .. table.concat(names, ", ") .. ")") or ""))
      end
      local keys = keys_expected or require("keras.models")._sorted_keys(x)
      local list = {}
      for i, k in ipairs(keys) do
        if x[k] == nil then raise("InvalidArgument", ("%s: %s has no entry '%s'"):format(who(model), what, k)) end
        list[i] = convert_(x[k])
      end
      return { kind = "dict", list = list, keys = keys }
    end
    if (n_expected or 1) > 1 or core.is_tensor(x[1]) then
      local list = {}
      for i, v in ipairs(x) do list[i] = convert_(v) end
      if n_expected and #list ~= n_expected and n_expected > 1 then
        raise("InvalidArgument", ("%s: %s has %d arrays for a model with %d %s"):format(who(model), what, #list, n_expected,
          what == "x" and "inputs" or "outputs"))
      end
      return { kind = #list == 1 and n_expected == 1 and "single" or "list", list = list }
    end
    return { kind = "single", list = { convert_(x) } }
  end
  raise("InvalidArgument", ("%s: %s must be a tensor, a list or a name-keyed table of tensors, got %s"):format(who(model), what, type(x)))
end

local function rebuild(s, list)
  if s.kind == "single" then return list[1] end
  if s.kind == "list" then return list end
  local d = {}
  for i, k in ipairs(s.keys) do d[k] = list[i] end
  return d
end

local function n_inputs(model)
  local g = rawget(model, "_graph")
  return g and #g.flat_in or 1
end
local function in_keys(model)
  local g = rawget(model, "_graph")
  return g and g.in_keys
end

local function rows_of(t) return #t.shape > 0 and t.shape[0] or nil end

-- Checks that every array has the same number of rows; returns it.
local function cardinality(model, parts)
  local n, sizes, bad = nil, {}, false
  for _, p in ipairs(parts) do
    local s = p.s
    if s then
      local rs = {}
      for i, t in ipairs(s.list) do
        local r = rows_of(t)
        if r == nil then raise("InvalidArgument", ("%s: %s[%d] is a scalar; expected arrays with a leading sample dimension"):format(who(model), p.name, i)) end
        rs[#rs + 1] = tostring(r)
        if n == nil then n = r elseif r ~= n then bad = true end
      end
      sizes[#sizes + 1] = ("%s sizes: %s"):format(p.name, table.concat(rs, ", "))
    end
  end
  if bad then
    raise("InvalidArgument", ("%s: Data cardinality is ambiguous: %s. Make sure all arrays contain the same number of samples.")
      :format(who(model), table.concat(sizes, "; ")))
  end
  return n
end

-- Row slicer with reused begin/size tables per tensor.
local function slicer(t)
  local r = #t.shape
  local begin, size = {}, {}
  for i = 1, r do begin[i], size[i] = 0, -1 end
  local slice = tf().slice
  return function(a, len)
    begin[1], size[1] = a, len
    return slice(t, begin, size)
  end
end

-- A dataset over aligned arrays: x, y, sample_weight structures.
local Data = {}
Data.__index = Data

local function all_lists(d)
  local out = {}
  for _, s in ipairs({ d.x, d.y, d.sw }) do
    if s then for _, t in ipairs(s.list) do out[#out + 1] = t end end
  end
  return out
end

local function new_data(x, y, sw, n)
  local d = setmetatable({ x = x, y = y, sw = sw, n = n }, Data)
  d.tensors = all_lists(d)
  d.slicers = {}
  for i, t in ipairs(d.tensors) do d.slicers[i] = slicer(t) end
  d.batch = {}
  return d
end

-- The rows [a, a+len) of every array (perm: a permutation to gather through).
function Data:take(a, len, perm_slicer)
  local out = self.batch
  if perm_slicer then
    local idx = perm_slicer(a, len)
    local gather = tf().gather
    for i, t in ipairs(self.tensors) do out[i] = gather(t, idx) end
  else
    for i, s in ipairs(self.slicers) do out[i] = s(a, len) end
  end
  return out
end

-- Splits the batch list back into x, y, sw structures (reused tables).
function Data:split(list)
  local k = 0
  local function part(s, cache)
    if not s then return nil end
    if s.kind == "single" then k = k + 1 return list[k] end
    local l = cache
    for i = 1, #s.list do k = k + 1 l[i] = list[k] end
    if s.kind == "list" then return l end
    local dct = {}
    for i, key in ipairs(s.keys) do dct[key] = l[i] end
    return dct
  end
  self._xc, self._yc, self._sc = self._xc or {}, self._yc or {}, self._sc or {}
  return part(self.x, self._xc), part(self.y, self._yc), part(self.sw, self._sc)
end

function Data:slice_rows(a, b)
  local function sub(s)
    if not s then return nil end
    local list = {}
    for i, t in ipairs(s.list) do list[i] = slicer(t)(a, b - a) end
    return { kind = s.kind, list = list, keys = s.keys }
  end
  return new_data(sub(self.x), sub(self.y), sub(self.sw), b - a)
end

local function prepare(self, x, y, sw, what)
  local c = rawget(self, "_compiled")
  local nout = c and c.n_out or 1
  local xs = structure(self, x, "x", n_inputs(self), in_keys(self))
  if xs == nil then raise("InvalidArgument", ("%s.%s: x is required"):format(who(self), what)) end
  local ys = structure(self, y, "y", nout, nil)
  local sws = nil
  if sw ~= nil then
    sws = structure(self, sw, "sample_weight", nout, nil)
  end
  local n = cardinality(self, { { name = "x", s = xs }, { name = "y", s = ys }, { name = "sample_weight", s = sws } })
  return new_data(xs, ys, sws, n)
end

-- class_weight {[class] = weight} -> sample weights for y (sparse labels or one-hot rows).
local function class_weight_fn(self, class_weight, c)
  if class_weight == nil then return nil end
  if type(class_weight) ~= "table" then
    raise("InvalidArgument", ("%s.fit: class_weight must be a table {[class] = weight}, got %s"):format(who(self), type(class_weight)))
  end
  if c.n_out > 1 then
    raise("InvalidArgument", ("%s.fit: `class_weight` is only supported for Models with a single output."):format(who(self)))
  end
  local max = -1
  for k in pairs(class_weight) do
    if math.type(k) ~= "integer" or k < 0 then
      raise("InvalidArgument", ("%s.fit: class_weight keys must be class indices (integers >= 0), got %s"):format(who(self), tostring(k)))
    end
    max = math.max(max, k)
  end
  local list = {}
  for k = 0, max do
    if class_weight[k] == nil then
      local keys = {}
      for kk in pairs(class_weight) do keys[#keys + 1] = kk end
      table.sort(keys)
      raise("InvalidArgument", ("%s.fit: Expected `class_weight` to be a dict with keys from 0 to one less than the number of classes, found {%s}")
        :format(who(self), table.concat(keys, ", ")))
    end
    list[k + 1] = class_weight[k]
  end
  local weights = tf().constant(list, "float32")
  return function(y)
    local t = tf()
    local labels
    if #y.shape == 2 and (y.shape[1] or 1) > 1 then labels = t.argmax(y, -1)
    elseif #y.shape == 2 then labels = t.reshape(y, { -1 })
    else labels = y end
    return t.gather(weights, t.cast(labels, "int32"))
  end
end


M.structure = structure
M.rebuild = rebuild
M.n_inputs = n_inputs
M.in_keys = in_keys
M.cardinality = cardinality
M.slicer = slicer
M.new_data = new_data
M.prepare = prepare
M.class_weight_fn = class_weight_fn

return M
