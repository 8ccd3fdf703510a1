-- tlua.indexing: numpy-style indexing of tensors and variables.
--
--   t[i]                      integer i (0-based, negative from the end) on axis 0
--   t["1:3, ::2, ..., newaxis"]   a string slice, parsed once and cached
--   t[{1, {1,3}, tf.newaxis, tf.ellipsis, {nil,nil,-1}}]   the same as a table
--   t[mask]                   a bool tensor: tf.boolean_mask(t, mask)
--   t[idx]                    an integer tensor: tf.gather(t, idx) on axis 0
--   v[key] = x                the same keys assign into a tf.Variable
--
-- Every slice lowers to one strided_slice (tensor_strided_slice_update for
-- assignment) with TensorFlow's masks, so errors and semantics are TF's.
-- See docs/indexing.md.
local core = require("tlua.core")

local M = {}

local ops = core.ops
local raise = core.raise

local newaxis = setmetatable({}, { __name = "tf.newaxis", __tostring = function() return "tf.newaxis" end })
local ellipsis = setmetatable({}, { __name = "tf.ellipsis", __tostring = function() return "tf.ellipsis" end })
M.newaxis, M.ellipsis = newaxis, ellipsis

-- A spec is the argument list of strided_slice after the tensor:
-- { begin, end, strides, begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask }.
local function new_builder()
  return { b = {}, e = {}, s = {}, bm = 0, em = 0, elm = 0, nam = 0, sm = 0, n = 0 }
end

local function add_int(sp, v)
  local i = sp.n
  sp.n = i + 1
  sp.b[i + 1], sp.e[i + 1], sp.s[i + 1] = v, v + 1, 1
  sp.sm = sp.sm | (1 << i)
end

local function add_range(sp, start, stop, step, where)
  if step == 0 then raise("InvalidArgument", ("index: slice step cannot be zero%s"):format(where)) end
  local i = sp.n
  sp.n = i + 1
  sp.b[i + 1], sp.e[i + 1], sp.s[i + 1] = start or 0, stop or 0, step or 1
  if start == nil then sp.bm = sp.bm | (1 << i) end
  if stop == nil then sp.em = sp.em | (1 << i) end
end

local function add_newaxis(sp)
  local i = sp.n
  sp.n = i + 1
  sp.b[i + 1], sp.e[i + 1], sp.s[i + 1] = 0, 0, 1
  sp.nam = sp.nam | (1 << i)
end

local function add_ellipsis(sp, where)
  if sp.elm ~= 0 then raise("InvalidArgument", ("index: an index can only have a single ellipsis%s"):format(where)) end
  local i = sp.n
  sp.n = i + 1
  sp.b[i + 1], sp.e[i + 1], sp.s[i + 1] = 0, 0, 1
  sp.elm = 1 << i
end

local function finish(sp)
  if sp.n > 30 then raise("InvalidArgument", ("index: too many items (%d)"):format(sp.n)) end
  return { sp.b, sp.e, sp.s, sp.bm, sp.em, sp.elm, sp.nam, sp.sm }
end

-- ---- the string form ------------------------------------------------------

local function parse_int(s, whole)
  if s == "" then return nil end
  local v = s:match("^[+-]?%d+$") and math.tointeger(tonumber(s))
  if not v then raise("InvalidArgument", ("index: %q is not an integer in slice %q"):format(s, whole)) end
  return v
end

local function parse_item(sp, item, whole)
  local where = (" in %q"):format(whole)
  if item == "..." then return add_ellipsis(sp, where) end
  if item == "newaxis" or item == "None" then return add_newaxis(sp) end
  if item == "" then raise("InvalidArgument", ("index: empty item in slice %q"):format(whole)) end
  if not item:find(":", 1, true) then return add_int(sp, parse_int(item, whole)) end
  local parts = {}
  for p in (item .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p:match("^%s*(.-)%s*$") end
  if #parts > 3 then raise("InvalidArgument", ("index: %q has too many colons in slice %q"):format(item, whole)) end
  add_range(sp, parse_int(parts[1], whole), parse_int(parts[2] or "", whole), parse_int(parts[3] or "", whole), where)
end

local function parse_string_into(sp, s)
  for item in (s .. ","):gmatch("([^,]*),") do
    parse_item(sp, item:match("^%s*(.-)%s*$"), s)
  end
end

local cache, cache_size = {}, 0
local function parse_string(s)
  local spec = cache[s]
  if spec then return spec end
  local sp = new_builder()
  if s:match("^%s*$") then raise("InvalidArgument", "index: empty slice string") end
  parse_string_into(sp, s)
  spec = finish(sp)
  if cache_size >= 4096 then cache, cache_size = {}, 0 end
  cache[s], cache_size = spec, cache_size + 1
  return spec
end
M.parse = parse_string

-- ---- the table form -------------------------------------------------------

local function as_int(v, what)
  if math.type(v) == "integer" then return v end
  if math.type(v) == "float" and v == math.floor(v) and v == v and math.abs(v) < 2^53 then return math.tointeger(v) end
  raise("InvalidArgument", ("index: %s must be an integer, got %s"):format(what, tostring(v)))
end

local function parse_table(key)
  local sp = new_builder()
  for k = 1, #key do
    local item = key[k]
    local where = (" (item %d)"):format(k)
    local ty = type(item)
    if ty == "number" then
      add_int(sp, as_int(item, "item " .. k))
    elseif item == newaxis then
      add_newaxis(sp)
    elseif item == ellipsis then
      add_ellipsis(sp, where)
    elseif ty == "string" then
      parse_string_into(sp, item)
    elseif ty == "table" and getmetatable(item) == nil then
      local start, stop, step = rawget(item, 1), rawget(item, 2), rawget(item, 3)
      if start == nil and stop == nil and step == nil then
        start, stop, step = item.start, item.stop, item.step
      end
      add_range(sp, start ~= nil and as_int(start, "slice start" .. where) or nil,
        stop ~= nil and as_int(stop, "slice stop" .. where) or nil,
        step ~= nil and as_int(step, "slice step" .. where) or nil, where)
    elseif core.is_tensor(item) then
      raise("InvalidArgument", ("index: a tensor inside a slice is not supported%s; index with the tensor alone "
        .. "(t[idx], t[mask]) or use tf.gather / tf.boolean_mask"):format(where))
    else
      raise("InvalidArgument", ("index: item %d has unsupported type %s (expected an integer, {start, stop, step}, "
        .. "a slice string, tf.newaxis or tf.ellipsis)"):format(k, ty))
    end
  end
  return finish(sp)
end

-- ---- dispatch -------------------------------------------------------------

local int_cache = {}
local function int_spec(i)
  local spec = int_cache[i]
  if not spec then
    spec = { { i }, { i + 1 }, { 1 }, 0, 0, 0, 0, 1 }
    if i >= -64 and i < 1024 then int_cache[i] = spec end
  end
  return spec
end

local is_identifier = function(s) return s:match("^[%a_][%w_]*$") and s ~= "newaxis" and s ~= "None" end

-- The spec for a key, or nil for identifier strings (unknown fields).
local function spec_of(key)
  local ty = math.type(key)
  if ty == "integer" then return int_spec(key) end
  if ty == "float" then return int_spec(as_int(key, "an index")) end
  local t = type(key)
  if t == "string" then
    if is_identifier(key) then return nil end
    return parse_string(key)
  end
  if t == "table" and getmetatable(key) == nil then return parse_table(key) end
  if key == newaxis or key == ellipsis then return parse_table({ key }) end
  raise("InvalidArgument", ("index: cannot index a tensor with a %s (use an integer, a slice string, "
    .. "a table of slice items, or a bool/integer tensor)"):format(t))
end

M.spec_of = spec_of

local function index(t, key)
  if core.is_tensor(key) then
    if key.dtype.is_bool then return ops.boolean_mask(t, key) end
    return ops.gather(t, key, 0)
  end
  local spec = spec_of(key)
  if spec == nil then return nil end
  return ops.strided_slice(t, spec[1], spec[2], spec[3], spec[4], spec[5], spec[6], spec[7], spec[8])
end
M.index = index

-- ---- assignment into variables -------------------------------------------

-- value as a tensor of dtype (Lua values convert; tensors must match).
local function value_as(v, value, what)
  local dt = v.dtype
  if core.is_tensor(value) then
    if value.dtype ~= dt then
      raise("InvalidArgument", ("%s: cannot assign a %s value to variable '%s' of dtype %s (use tf.cast)")
        :format(what, value.dtype.name, v.name, dt.name))
    end
    return value
  end
  local ok, t = pcall(core.constant_on, value, dt, v.device) -- beside the variable, whatever the scope
  if not ok then
    -- name the write, not the conversion inside it
    local msg = tostring(type(t) == "table" and t.message or t):gsub("^.-constant: ", "")
    raise("InvalidArgument", ("%s: variable '%s' %s[%s]: the value cannot become a tensor: %s")
      :format(what, v.name, dt.name, table.concat(v.shape:as_list(), ","), msg))
  end
  return t
end
M.value_as = value_as

local function setitem(v, key, value)
  if type(key) == "string" and is_identifier(key) then
    raise("InvalidArgument", ("cannot set field '%s' of tf.Variable '%s' (use v:assign(x) to change its value)")
      :format(key, v.name))
  end
  local cur = v:value()
  local x = value_as(v, value, "assign")
  local new
  if core.is_tensor(key) then
    -- numpy's v[mask] = x and v[idx] = x: scatter rows of x (broadcast to
    -- [selected] + trailing dims) at the selected coordinates.
    local idx, lead = nil, nil
    if key.dtype.is_bool then
      idx, lead = ops.where(key), key.ndim
    else
      idx, lead = ops.expand_dims(key, -1), 1
    end
    local shape = idx.shape:as_list()
    shape[#shape] = nil
    local vs = cur.shape
    for d = lead, #vs - 1 do shape[#shape + 1] = vs[d] end
    new = ops.tensor_scatter_nd_update(cur, idx, ops.broadcast_to(x, shape))
  else
    local s = spec_of(key)
    new = ops.tensor_strided_slice_update(cur, x, s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8])
  end
  v:_assign_raw(new)
end
M.setitem = setitem

function M.install(tf)
  tf._hooks = tf._hooks or {}
  tf._hooks.index = index
  tf._hooks.variable_setitem = setitem
  tf.newaxis = newaxis
  tf.ellipsis = ellipsis
  -- tf.where(c, x, y): a Lua number beside a tensor takes the tensor's dtype.
  local raw_where = ops.where
  local function where(c, x, y, opts)
    if x == nil and core.is_options(c) then -- tf.where{condition=, x=, y=}
      c, x, y = c.condition, c.x, c.y
    end
    if core.is_tensor(x) and y ~= nil and not core.is_tensor(y) then
      y = core.constant_on(y, x.dtype, x.device)
    elseif core.is_tensor(y) and x ~= nil and not core.is_tensor(x) then
      x = core.constant_on(x, y.dtype, y.device)
    end
    if opts ~= nil then return raw_where(c, x, y, opts) end
    return raw_where(c, x, y)
  end
  tf.where = where
  core.Tensor.methods.where = where
end

return M
