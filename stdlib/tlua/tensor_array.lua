-- tlua/tensor_array.lua — tf.TensorArray (docs/tensor_array.md).
--
-- The object is the C userdata of lua/tensor_array_binding.c in one of two
-- forms. Eagerly it is a checked list of element tensors
-- (src/core/tensor_array.c): write mutates it and returns it (TensorFlow 2
-- returns a new Python wrapper around the same storage), read returns the
-- stored tensor, so a gradient tape follows it. While tracing (tf.trace,
-- the body of tf.while_loop) it is a buffer and a state tensor, and write
-- returns a new array over the outputs of the tensor_array_write op
-- (src/ops/tensor_array.c), as TensorFlow's graph TensorArray returns a new
-- flow: `ta = ta:write(i, v)` is the form that works everywhere.
--
-- It is a composite value (tlua/composite.lua): its components are the
-- buffer and the state, so it goes into and out of traced functions and
-- is a tf.while_loop variable; a loop whose body fixes the element shape
-- (the usual `TensorArray{size=n}` without element_shape) is traced again
-- with the entry's buffer made for that shape (merge/cast).
local core = require("tlua.core")
local composite = require("tlua.composite")
local G = core.graph
local TA = core.tensor_array
local ops = core.ops

local M = {}
local tf_root

local mt = TA.metatable
local methods = mt.__index
local int32 = core.as_dtype("int32")

local function raise(kind, fmt, ...) core.raise(kind, fmt:format(...)) end
local function tracing() return G.in_trace() and G.tracing() end
local function is_symbolic(t) return core.is_tensor(t) and G.is_symbolic(t) end

-- ---- element shapes: {n=rank, dims with nil holes} or nil (unknown rank) ----

local function shape_list(s, what)
  if s == nil then return nil end
  if type(s) == "table" and getmetatable(s) and s.as_list then
    local l = s:as_list()
    l.n = l.n or #s
    return l
  end
  if type(s) ~= "table" then raise("InvalidArgument", "%s must be a list of dimensions (nil for unknown) or a TensorShape, got %s", what, type(s)) end
  local n = s.n or #s
  local out = { n = n }
  for i = 1, n do
    local d = s[i]
    if d ~= nil and d ~= -1 then
      if math.type(d) ~= "integer" or d < 0 then raise("InvalidArgument", "%s: dimension %d must be a non-negative integer or nil, got %s", what, i - 1, tostring(d)) end
      out[i] = d
    end
  end
  return out
end

local function shape_text(e)
  if e == nil then return "<unknown>" end
  local parts = {}
  for i = 1, e.n do parts[i] = e[i] == nil and "?" or tostring(e[i]) end
  return "[" .. table.concat(parts, ",") .. "]"
end

local function meta_list(t, from)
  local l = t.shape:as_list()
  local out = { n = #t.shape - (from or 0) }
  for i = 1, out.n do out[i] = l[i + (from or 0)] end
  return out
end

-- -1 for unknown, as the ops' attributes want
local function attr_dims(e)
  local out = {}
  for i = 1, e.n do out[i] = e[i] or -1 end
  return out
end

-- ---- the two forms --------------------------------------------------------

local function info(ta) return TA.info(ta) end

local function new_dense(i, element, buffer, state)
  return TA.new_dense(i.dtype, i.dynamic_size, i.clear_after_read, i.infer_shape, element, buffer, state)
end

-- The element shape once value (rows from dimension `from`) is written:
-- the array's, with its unknown dimensions filled (infer_shape).
local function merged_element(i, v, from)
  local e = i.element_shape
  local vs = meta_list(v, from)
  if not i.infer_shape then return e end
  if e == nil then return vs end
  local out = { n = e.n }
  for k = 1, e.n do out[k] = e[k] or vs[k] end
  return out
end

local function as_value(ta, v, i, what)
  if core.is_variable(v) then v = v:value() end
  if not core.is_tensor(v) then
    local ok, t = pcall(core.constant, v, i.dtype)
    if not ok then raise("InvalidArgument", "TensorArray.%s: value: %s", what, tostring(t)) end
    v = t
  end
  return v
end

local function as_index(x, what, vector)
  if core.is_variable(x) then x = x:value() end
  if core.is_tensor(x) then
    if not x.dtype.is_integer then raise("InvalidArgument", "TensorArray.%s: index must be an integer tensor, got %s", what, x.dtype.name) end
    if vector then
      if #x.shape > 1 then raise("InvalidArgument", "TensorArray.%s: indices must be a vector", what) end
      return #x.shape == 0 and ops.reshape(x, { 1 }) or x
    end
    if #x.shape ~= 0 then x = ops.reshape(x, {}) end
    return x
  end
  if vector then
    if type(x) ~= "table" then raise("InvalidArgument", "TensorArray.%s: indices must be a list or an integer tensor", what) end
    if #x == 0 then return core.constant({}, int32) end
    return core.constant(x, int32)
  end
  if math.type(x) ~= "integer" and not (type(x) == "number" and math.tointeger(x)) then
    raise("InvalidArgument", "TensorArray.%s: index must be an integer, got %s", what, tostring(x))
  end
  return core.constant(math.tointeger(x), int32)
end

-- A dense array's buffer, made for value's rows when it has none yet.
local function buffer_for(ta, i, v, from)
  local buffer, state = TA.components(ta)
  if buffer ~= nil then return buffer, state end
  local e = merged_element(i, v, from) or meta_list(v, from)
  return ops.tensor_array_buffer(state, { dtype = i.dtype, element_shape = attr_dims(e) }), state
end

-- The eager form of a dense array whose components are concrete (the
-- results of a traced call).
local function to_eager(i, buffer, state)
  local ta = TA.new(i.dtype, 0, i.dynamic_size, i.clear_after_read, i.infer_shape, i.element_shape)
  return TA.from_dense(ta, buffer, state)
end

-- An eager array seen while tracing was captured (arguments arrive in the
-- graph form): its contents would be frozen into the graph although the
-- array can change, so that is an error, as in TensorFlow.
local function refuse_captured()
  raise("InvalidArgument", "tf.TensorArray: an array made eagerly cannot be used inside a traced function it was not "
    .. "passed to (its contents would be frozen into the graph); pass it as an argument, or create it inside the function")
end

local function dense_of(ta)
  local i = info(ta)
  if i.dense then return ta, i end
  if tracing() then refuse_captured() end
  local buffer, state = TA.to_dense(ta)
  ta = new_dense(i, i.element_shape, buffer, state)
  return ta, info(ta)
end

-- ---- methods ----------------------------------------------------------------

function methods.write(ta, index, value)
  local i = info(ta)
  if not i.dense and not tracing() then return TA.write(ta, index, as_value(ta, value, i, "write")) end
  ta, i = dense_of(ta)
  local v = as_value(ta, value, i, "write")
  TA.check_value(ta, v, false)
  local buffer, state = buffer_for(ta, i, v, 0)
  local b, s = ops.tensor_array_write(buffer, state, as_index(index, "write"), v, { dynamic_size = i.dynamic_size })
  return new_dense(i, merged_element(i, v, 0), b, s)
end

function methods.read(ta, index)
  local i = info(ta)
  if not i.dense and not tracing() then return TA.read(ta, index) end
  ta, i = dense_of(ta)
  local buffer, state = TA.components(ta)
  if buffer == nil then
    local _ = as_index(index, "read")
    raise("InvalidArgument", "TensorArray.read: nothing has been written to this TensorArray (its element shape is unknown)")
  end
  return ops.tensor_array_read(buffer, state, as_index(index, "read"))
end

local function dense_zeros(i, state)
  local e = i.element_shape
  if e == nil then
    raise("InvalidArgument", "TensorArray.stack: nothing was written and the element shape is unknown; give element_shape")
  end
  return ops.tensor_array_buffer(state, { dtype = i.dtype, element_shape = attr_dims(e) })
end

function methods.stack(ta)
  local i = info(ta)
  if not i.dense and not tracing() then return TA.stack(ta) end
  ta, i = dense_of(ta)
  local buffer, state = TA.components(ta)
  if buffer == nil then return dense_zeros(i, state) end
  return ops.tensor_array_read(buffer, state, { unwritten_zeros = true })
end

function methods.gather(ta, indices)
  local i = info(ta)
  if not i.dense and not tracing() then
    if core.is_variable(indices) then indices = indices:value() end
    return TA.gather(ta, indices)
  end
  ta, i = dense_of(ta)
  local buffer, state = TA.components(ta)
  local idx = as_index(indices, "gather", true)
  if buffer == nil then buffer = dense_zeros(i, state) end
  return ops.tensor_array_read(buffer, state, idx)
end

function methods.concat(ta)
  local i = info(ta)
  if not i.dense and not tracing() then return TA.concat(ta) end
  local s = methods.stack(ta)
  local dims = s.shape:as_list()
  if #s.shape < 2 then raise("InvalidArgument", "TensorArray.concat: the elements are scalars; concat requires at least vectors") end
  local target = { -1 }
  for k = 3, #s.shape do
    if dims[k] == nil then raise("Unimplemented", "TensorArray.concat in a graph needs the element dimensions after the first known, got %s", tostring(s.shape)) end
    target[#target + 1] = dims[k]
  end
  return ops.reshape(s, target)
end

function methods.unstack(ta, value)
  local i = info(ta)
  if not i.dense and not tracing() then return TA.unstack(ta, as_value(ta, value, i, "unstack")) end
  ta, i = dense_of(ta)
  local v = as_value(ta, value, i, "unstack")
  if v.dtype ~= i.dtype then
    raise("InvalidArgument", "TensorArray dtype is %s but Op is trying to write dtype %s", i.dtype.name, v.dtype.name)
  end
  if #v.shape < 1 then raise("InvalidArgument", "TensorArray.unstack: value must have rank >= 1 (it is a scalar)") end
  local _, state = TA.components(ta)
  local n, k = state.shape[0], v.shape[0]
  if not i.dynamic_size and n ~= nil and k ~= nil and k > n then
    raise("InvalidArgument", "Cannot unstack %d tensors into a TensorArray of static size %d", k, n)
  end
  local e = merged_element(i, v, 1)
  if i.element_shape ~= nil then
    local probe = TA.new_dense(i.dtype, false, false, false, i.element_shape, nil, state)
    local row = ops.tensor_array_rows(v, core.constant(0, int32))
    TA.check_value(probe, row, false) -- only the shape rule runs while tracing
  end
  local b, s = ops.tensor_array_unstack(v)
  return new_dense(i, e, b, s)
end

function methods.scatter(ta, indices, value)
  local i = info(ta)
  if not i.dense and not tracing() then
    if core.is_variable(indices) then indices = indices:value() end
    return TA.scatter(ta, indices, as_value(ta, value, i, "scatter"))
  end
  ta, i = dense_of(ta)
  local v = as_value(ta, value, i, "scatter")
  local idx = as_index(indices, "scatter", true)
  if #v.shape < 1 then raise("InvalidArgument", "TensorArray.scatter: value must have a row per index") end
  local row = ops.tensor_array_rows(v, core.constant(0, int32))
  TA.check_value(ta, row, false)
  local buffer, state = buffer_for(ta, i, v, 1)
  local b, s = ops.tensor_array_write(buffer, state, idx, v, { dynamic_size = i.dynamic_size })
  return new_dense(i, merged_element(i, v, 1), b, s)
end

function methods.split(ta, value, lengths)
  local i = info(ta)
  if not i.dense and not tracing() then
    if core.is_variable(lengths) then lengths = lengths:value() end
    return TA.split(ta, as_value(ta, value, i, "split"), lengths)
  end
  -- in a graph every element has one shape: equal, known lengths only
  if core.is_tensor(lengths) then
    if is_symbolic(lengths) then
      raise("Unimplemented", "TensorArray.split in a graph needs lengths known while tracing (a Lua list); elements of one TensorArray in a graph have one shape")
    end
    lengths = lengths:totable()
  end
  if type(lengths) ~= "table" or #lengths == 0 then raise("InvalidArgument", "TensorArray.split: lengths must be a non-empty list") end
  for k = 2, #lengths do
    if lengths[k] ~= lengths[1] then
      raise("Unimplemented", "TensorArray.split in a graph needs equal lengths (got %d and %d); elements of one TensorArray in a graph have one shape (split eagerly for pieces of different lengths)", lengths[1], lengths[k])
    end
  end
  local v = as_value(ta, value, i, "split")
  if #v.shape < 1 then raise("InvalidArgument", "Expected value to be at least a vector, but received shape: []") end
  local dims = v.shape:as_list()
  if dims[1] ~= nil and dims[1] ~= lengths[1] * #lengths then
    raise("InvalidArgument", "Expected sum of lengths to be equal to values.shape[0], but sum of lengths is %d and value's first dimension is %d", lengths[1] * #lengths, dims[1])
  end
  local target = { #lengths, lengths[1] }
  for k = 2, #v.shape do
    if dims[k] == nil then raise("Unimplemented", "TensorArray.split in a graph needs the value's dimensions after the first known") end
    target[#target + 1] = dims[k]
  end
  local _, state = TA.components(select(1, dense_of(ta)))
  local n = state.shape[0]
  if not i.dynamic_size and n ~= nil and n ~= #lengths then
    raise("InvalidArgument", "TensorArray's size is not equal to the size of lengths (%d vs. %d), and the TensorArray is not marked as dynamically resizeable", n, #lengths)
  end
  local fresh = new_dense(i, nil, nil, state)
  return methods.unstack(fresh, ops.reshape(v, target))
end

function methods.size(ta)
  local i = info(ta)
  if not i.dense then return core.constant(i.size, int32) end
  local _, state = TA.components(ta)
  return ops.size(state)
end

function methods.close(ta)
  TA.close(ta)
end

function methods.identity(ta) return ta end

-- properties
local props = {
  dtype = function(i) return i.dtype end,
  dynamic_size = function(i) return i.dynamic_size end,
  element_shape = function(i)
    local e = i.element_shape
    if e == nil then return nil end -- unknown rank (TensorFlow's TensorShape(None))
    return tf_root.TensorShape(e, e.n)
  end,
}

mt.__index = function(ta, k)
  local m = methods[k]
  if m then return m end
  local p = props[k]
  if p then return p(info(ta)) end
  return nil
end

mt.__tostring = function(ta)
  local i = info(ta)
  local size
  if i.dense then
    local _, state = TA.components(ta)
    size = state.shape[0] ~= nil and tostring(state.shape[0]) or "?"
  else
    size = tostring(i.size)
  end
  return ("<tf.TensorArray size=%s dtype=%s element_shape=%s%s%s>"):format(size, i.dtype.name, shape_text(i.element_shape),
    i.dynamic_size and " dynamic_size" or "", i.dense and " (graph)" or "")
end

local METHOD_NAMES = { "write", "read", "stack", "unstack", "gather", "scatter", "concat", "split", "size", "close",
  "identity" }

local DOC = "tf.TensorArray{dtype=, size=, dynamic_size=false, clear_after_read=true, element_shape=, infer_shape=true}: "
  .. "a list of tensors of one dtype and element shape. ta = ta:write(i, v) (eagerly the same object, mutated); "
  .. "ta:read(i); ta:stack(); ta:unstack(x); ta:gather(indices); ta:scatter(indices, x); ta:concat(); "
  .. "ta:split(x, lengths); ta:size(); ta:close(); properties dtype, element_shape, dynamic_size. Writing an element "
  .. "twice, reading one never written (or cleared by an earlier read with clear_after_read) and indices out of "
  .. "range are errors. Works in tf.trace and as a tf.while_loop variable; gradients flow through (docs/tensor_array.md)."

mt.__help = function(ta)
  return tostring(ta) .. ": a tf.TensorArray\n  methods (ta:name(...)): " .. table.concat(METHOD_NAMES, " ")
    .. "\n  properties: dtype, element_shape, dynamic_size\n  " .. DOC
end

-- ---- construction -------------------------------------------------------------

local OPTIONS = { dtype = true, size = true, dynamic_size = true, clear_after_read = true, element_shape = true,
  infer_shape = true, name = true, tensor_array_name = true, handle = true, flow = true,
  colocate_with_first_write_call = true }

-- tf.TensorArray{dtype=, size=, ...} or tf.TensorArray(dtype, size, dynamic_size, clear_after_read, opts)
function M.TensorArray(dtype, size, dynamic_size, clear_after_read, opts)
  local o
  if type(dtype) == "table" and core.is_options(dtype) then
    o = dtype
  else
    local given = opts
    if type(size) == "table" and core.is_options(size) then given, size = size, nil end
    o = {}
    for k, v in pairs(given or {}) do o[k] = v end
    if dtype ~= nil then o.dtype = dtype end
    if size ~= nil then o.size = size end
    if dynamic_size ~= nil then o.dynamic_size = dynamic_size end
    if clear_after_read ~= nil then o.clear_after_read = clear_after_read end
  end
  o = require("tlua.errors").check_options("tf.TensorArray", o, OPTIONS)
  if o.handle ~= nil or o.flow ~= nil then
    raise("InvalidArgument", "tf.TensorArray: handle and flow are not supported (TensorFlow's eager TensorArray does not take them either)")
  end
  if o.dtype == nil then raise("InvalidArgument", "tf.TensorArray: dtype is required") end
  local dt = core.as_dtype(o.dtype)
  local element = shape_list(o.element_shape, "tf.TensorArray: element_shape")
  local dyn = o.dynamic_size == true
  local clear = o.clear_after_read ~= false
  local infer = o.infer_shape ~= false
  local size = o.size
  if size == nil then
    if not dyn then raise("InvalidArgument", "tf.TensorArray: size is required (or dynamic_size=true)") end
    size = 0
  end
  if core.is_variable(size) then size = size:value() end
  if core.is_tensor(size) then
    if not size.dtype.is_integer or size.shape:num_elements() ~= 1 then
      raise("InvalidArgument", "tf.TensorArray: size must be an integer scalar, got %s%s", size.dtype.name, tostring(size.shape))
    end
    if not is_symbolic(size) then size = ops.reshape(size, {}):item() end
  elseif math.type(size) ~= "integer" and not (type(size) == "number" and math.tointeger(size)) then
    raise("InvalidArgument", "tf.TensorArray: size must be an integer, got %s", tostring(size))
  else
    size = math.tointeger(size)
  end
  if type(size) == "number" and size < 0 then raise("InvalidArgument", "tf.TensorArray: size must be >= 0, got %d", size) end
  if dt.name == "resource" then raise("InvalidArgument", "tf.TensorArray: dtype resource is not supported") end
  if not tracing() then
    return TA.new(dt, size, dyn, clear, infer, element)
  end
  local st
  if type(size) == "number" then
    st = ops.tensor_array_state(core.constant(size, int32), { static_size = size })
  else
    st = ops.tensor_array_state(ops.cast(ops.reshape(size, {}), { dtype = int32 }))
  end
  local buffer
  if element ~= nil then buffer = ops.tensor_array_buffer(st, { dtype = dt, element_shape = attr_dims(element) }) end
  return TA.new_dense(dt, dyn, clear, infer, element, buffer, st)
end

-- ---- composite: components, specs, loops --------------------------------------

-- The spec: what is static about an array. Its text keys traces and is
-- compared across a loop body.
local Spec = {}
Spec.__index = Spec
Spec.__tostring = function(s)
  return ("%s,dyn=%s,clear=%s,infer=%s,element=%s,buffer=%s"):format(s.dtype.name, tostring(s.dynamic_size),
    tostring(s.clear_after_read), tostring(s.infer_shape), shape_text(s.element_shape), tostring(s.buffer))
end

local function spec_of(i, has_buffer)
  return setmetatable({ dtype = i.dtype, dynamic_size = i.dynamic_size, clear_after_read = i.clear_after_read,
    infer_shape = i.infer_shape, element_shape = i.element_shape, buffer = has_buffer }, Spec)
end

local function flatten(ta)
  local i = info(ta)
  local buffer, state
  if i.dense then
    buffer, state = TA.components(ta)
  else
    -- (also while tracing: trace.lua flattens a traced function's arguments
    -- after the trace began, and a captured array given to tf.while_loop as
    -- a loop variable comes here too, its contents frozen: not detected)
    buffer, state = TA.to_dense(ta)
    i = info(ta)
  end
  if buffer ~= nil and i.element_shape == nil then
    -- an eager array with written elements but no inferred shape (infer_shape=false)
    i.element_shape = meta_list(buffer, 1)
  end
  local comps = buffer ~= nil and { buffer, state } or { state }
  return comps, spec_of(i, buffer ~= nil)
end

local function unflatten(spec, comps)
  local buffer, state
  if spec.buffer then buffer, state = comps[1], comps[2] else state = comps[1] end
  local i = { dtype = spec.dtype, dynamic_size = spec.dynamic_size, clear_after_read = spec.clear_after_read,
    infer_shape = spec.infer_shape, element_shape = spec.element_shape }
  if not tracing() and not is_symbolic(state) and not (buffer and is_symbolic(buffer)) then
    return to_eager(i, buffer, state)
  end
  return new_dense(i, spec.element_shape, buffer, state)
end

-- the 0-based dimensions a trace keeps unknown: the size with dynamic_size,
-- and the element dimensions the spec does not know
local function dynamic(spec, k)
  local d = {}
  if spec.dynamic_size then d[1] = 0 end
  if spec.buffer and k == 1 then
    local e = spec.element_shape
    for j = 1, e.n do if e[j] == nil then d[#d + 1] = j end end
  end
  return d
end

-- The spec a loop variable needs when the body returns b for entry a.
local function merge(a, b)
  if a.dtype ~= b.dtype or a.dynamic_size ~= b.dynamic_size or a.clear_after_read ~= b.clear_after_read
      or a.infer_shape ~= b.infer_shape then
    return nil
  end
  local ea, eb = a.element_shape, b.element_shape
  local e
  if ea == nil then
    e = eb
  elseif eb == nil then
    e = ea
  else
    if ea.n ~= eb.n then return nil end
    e = { n = ea.n }
    for k = 1, ea.n do if ea[k] == eb[k] then e[k] = ea[k] end end
  end
  return setmetatable({ dtype = a.dtype, dynamic_size = a.dynamic_size, clear_after_read = a.clear_after_read,
    infer_shape = a.infer_shape, element_shape = e, buffer = a.buffer or b.buffer }, Spec)
end

-- x (a loop's entry value) as a value of spec: a buffer made when the spec
-- has one and x not (zeros; unknown element dimensions 0 until written).
local function cast(spec, x)
  local ta, i = dense_of(x)
  local buffer, state = TA.components(ta)
  if spec.buffer and buffer == nil then
    buffer = ops.tensor_array_buffer(state, { dtype = i.dtype, element_shape = attr_dims(spec.element_shape) })
  end
  return new_dense(i, spec.element_shape, buffer, state)
end

composite.register(mt, { name = "TensorArray", flatten = flatten, unflatten = unflatten, dynamic = dynamic,
  merge = merge, cast = cast, pass_eager = true })

function M.install(tf)
  tf_root = tf
  local help = require("tlua.help")
  local ctor = setmetatable({ __doc = DOC }, { __call = function(_, ...) return M.TensorArray(...) end,
    __name = "tf.TensorArray" })
  for _, k in ipairs(METHOD_NAMES) do ctor[k] = methods[k] end
  tf.TensorArray = ctor
  tf.is_tensor_array = help.register(function(x) return TA.is(x) end, "tf.is_tensor_array(x): whether x is a tf.TensorArray.")
end

return M
