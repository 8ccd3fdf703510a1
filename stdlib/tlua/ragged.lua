-- tlua/ragged.lua — tf.RaggedTensor and tf.ragged: the constructors,
-- fields and methods, indexing, printing and the composite contract of the
-- tl.RaggedTensor userdata (lua/lragged.c); its math (element-wise ops,
-- reductions, concat/stack, boolean_mask, range, op dispatch) is
-- stdlib/tlua/ragged_ops.lua.
--
-- A ragged value is flat_values plus one int64 row_splits vector per
-- ragged dimension (outermost first); uniform inner dimensions live in
-- flat_values. Everything here is written with registry ops on those
-- components (the ragged_* index ops of src/ops/ragged.c, gather to move
-- values, unsorted_segment_* to reduce rows), so ragged code runs the same
-- inside tf.trace and tf.while_loop, where the components are symbolic.
-- Host reads (a Lua integer from a tensor) happen only for eager
-- conveniences: printing, to_list, Lua-side index normalisation.
--
-- Not here: ragged tensors with int32 row_splits (TensorFlow's
-- row_splits_dtype; splits are always int64), uniform_row_length, and
-- ragged broadcasting beyond a dense operand that fits flat_values' inner
-- dimensions or has size 1 along the ragged dimension.
local core = require("tlua.core")
local composite = require("tlua.composite")
local shape_mod = require("tlua.shape")

local M = {}

local R = core.ragged
local Meta = R.Meta
local methods = Meta.methods
local ops = core.ops
local raise = core.raise
local is_options = core.is_options
local new = R.new
local is_ragged = R.is_ragged

local tf -- set by install
local int64

local function i64(x, what)
  if is_ragged(x) then raise("InvalidArgument", ("%s must be a tensor, got a tf.RaggedTensor"):format(what)) end
  if type(x) == "table" or type(x) == "number" then return core.constant(x, int64) end
  if not core.is_tensor(x) and not core.is_variable(x) then
    raise("InvalidArgument", ("%s must be an integer tensor or a list of integers, got %s"):format(what, type(x)))
  end
  if x.dtype ~= int64 then
    if x.dtype ~= tf.int32 and x.dtype ~= tf.int64 then
      raise("InvalidArgument", ("%s must be int32 or int64, got %s"):format(what, x.dtype.name))
    end
    return ops.cast(x, int64)
  end
  return x
end

local function as_tensor(x, dtype)
  if core.is_tensor(x) and (dtype == nil or x.dtype == dtype) then return x end
  return core.constant(x, dtype)
end

-- The number of rows as a Lua integer (the outer splits' static length,
-- known eagerly and in traces alike), or nil when unknown.
local function nrows_int(rt)
  local n = rt.row_splits.shape[0]
  return n and n - 1
end

local function splits_of(rt) return rt.nested_row_splits end

-- A ragged value with values (a tensor or a RaggedTensor) and outer splits.
local function wrap(values, splits)
  if is_ragged(values) then
    local nested = { splits }
    for _, s in ipairs(values.nested_row_splits) do nested[#nested + 1] = s end
    return new(values.flat_values, nested)
  end
  return new(values, { splits })
end

local function opts_of(t, n)
  local o = t[n]
  if o ~= nil and is_options(o) then return o end
  return nil
end

-- ---- constructors -------------------------------------------------------------

-- The number of values that outer splits of `values` must end with: a
-- vector of that length (a view), so the validation op reads the count
-- from its shape, also while tracing.
local function nvals_probe(values)
  if is_ragged(values) then return values.row_splits["1:"] end
  return values
end

local function validate(splits, values, validate_flag)
  if validate_flag == false then return splits end
  return ops.ragged_validate_splits(splits, nvals_probe(values))
end

local function values_arg(v)
  if is_ragged(v) then return v end
  if core.is_variable(v) then return ops.identity(v) end -- a read the tape records
  return as_tensor(v)
end

local RT = {}

function RT.from_row_splits(values, row_splits, opts)
  opts = opts or {}
  values = values_arg(values)
  local splits = validate(i64(row_splits, "from_row_splits: row_splits"), values, opts.validate)
  return wrap(values, splits)
end

function RT.from_row_lengths(values, row_lengths, opts)
  opts = opts or {}
  values = values_arg(values)
  local splits = ops.ragged_lengths_to_splits(i64(row_lengths, "from_row_lengths: row_lengths"))
  return wrap(values, validate(splits, values, opts.validate))
end

function RT.from_value_rowids(values, value_rowids, nrows, opts)
  if opts == nil and is_options(nrows) then nrows, opts = nil, nrows end
  opts = opts or {}
  nrows = nrows or opts.nrows
  values = values_arg(values)
  local ids = i64(value_rowids, "from_value_rowids: value_rowids")
  if nrows == nil then
    -- one more than the largest row id (0 rows for no values)
    nrows = ops.add(ops.reduce_max(ops.concat({ core.constant({ -1 }, int64), ids }, 0)), 1)
  end
  local splits = ops.ragged_rowids_to_splits(ids, i64(nrows, "from_value_rowids: nrows"))
  return wrap(values, validate(splits, values, opts.validate))
end

-- The innermost partition first: from(values, partition, opts) per level.
local function nested(from)
  return function(flat_values, partitions, opts)
    opts = opts or {}
    local v = values_arg(flat_values)
    for i = #partitions, 1, -1 do v = from(v, partitions[i], opts) end
    return v
  end
end
RT.from_nested_row_splits = nested(function(...) return RT.from_row_splits(...) end)
RT.from_nested_row_lengths = nested(function(...) return RT.from_row_lengths(...) end)

local function static_dims(t, what, from)
  local s = t.shape
  local dims = {}
  for i = 0, #s - 1 do
    dims[i + 1] = s[i]
    if s[i] == nil and i >= (from or 0) then
      raise("InvalidArgument", ("%s: dimension %d of %s must be known"):format(what, i, tostring(s)))
    end
  end
  return dims
end

-- Row lengths of a dense [nrows, ncols, ...] tensor with trailing padding
-- stripped: one past the last column whose entries are not all padding.
local function padding_lengths(t, padding)
  local pad = as_tensor(padding, t.dtype)
  local keep = ops.not_equal(t, pad)
  local rank = #t.shape
  if rank > 2 then
    local axes = {}
    for a = 2, rank - 1 do axes[#axes + 1] = a end
    keep = ops.reduce_any(keep, axes)
  end
  local ncols = t.shape[1]
  local pos = ops.range(1, ncols + 1, 1, int64)
  return ops.reduce_max(ops.multiply(ops.cast(keep, int64), pos), { 1 })
end

function RT.from_tensor(tensor, opts)
  opts = opts or {}
  local t = as_tensor(tensor)
  local rr = opts.ragged_rank or 1
  local rank = #t.shape
  if math.type(rr) ~= "integer" or rr < 1 or rr >= rank then
    raise("InvalidArgument", ("from_tensor: ragged_rank must be in [1, %d) for a rank-%d tensor (got %s)")
      :format(rank, rank, tostring(rr)))
  end
  if opts.lengths ~= nil and opts.padding ~= nil then
    raise("InvalidArgument", "from_tensor: give lengths or padding, not both")
  end
  if opts.lengths ~= nil or opts.padding ~= nil then
    if rr ~= 1 then raise("Unimplemented", "from_tensor: lengths and padding need ragged_rank 1") end
    local lengths = opts.lengths ~= nil and i64(opts.lengths, "from_tensor: lengths") or padding_lengths(t, opts.padding)
    local splits, pos = ops.ragged_from_dense_indices(t, lengths)
    local dims = static_dims(t, "from_tensor", 2)
    local flat = { -1 }
    for i = 3, #dims do flat[#flat + 1] = dims[i] end
    local values = ops.gather(ops.reshape(t, flat), pos)
    return new(values, { splits })
  end
  -- uniform rows: splits 0, n, 2n, ... at each ragged level
  local dims = static_dims(t, "from_tensor")
  local nested, rows = {}, dims[1]
  for l = 1, rr do
    local ncols = dims[l + 1]
    nested[l] = ops.range(0, rows * ncols + 1, ncols > 0 and ncols or 1, int64)
    if ncols == 0 then nested[l] = ops.zeros({ rows + 1 }, int64) end
    rows = rows * ncols
  end
  local vshape = { rows }
  for i = rr + 2, #dims do vshape[#vshape + 1] = dims[i] end
  return new(ops.reshape(t, vshape), nested)
end

-- tf.ragged.constant: nested Lua tables of varying lengths.
local function scalar_depth(x, depth, path)
  if type(x) ~= "table" or getmetatable(x) ~= nil then return depth end
  local d
  for i = 1, #x do
    local di = scalar_depth(x[i], depth + 1, path)
    if di then
      if d and d ~= di then
        raise("InvalidArgument", "ragged.constant: all scalar values must have the same nesting depth")
      end
      d = di
    end
  end
  return d
end

local function ragged_constant(pylist, opts)
  opts = opts or {}
  if type(pylist) ~= "table" or getmetatable(pylist) ~= nil then
    raise("InvalidArgument", "ragged.constant: pylist must be a (nested) Lua list")
  end
  local inner_shape = opts.inner_shape
  local depth = scalar_depth(pylist, 0) -- nil: no scalars at all (empty lists only)
  local rr = opts.ragged_rank
  if rr == nil then
    if depth == nil then
      -- no scalars at all: every level of list nesting is ragged (TensorFlow's rule)
      local function list_depth(x)
        local d = 0
        for i = 1, #x do
          if type(x[i]) == "table" and getmetatable(x[i]) == nil then d = math.max(d, list_depth(x[i])) end
        end
        return d + 1
      end
      rr = math.max(1, list_depth(pylist) - 1 - (inner_shape and #inner_shape or 0))
    else
      rr = math.max(1, depth - 1 - (inner_shape and #inner_shape or 0))
    end
  end
  if math.type(rr) ~= "integer" or rr < 1 then
    raise("InvalidArgument", ("ragged.constant: ragged_rank must be a positive integer (got %s)"):format(tostring(rr)))
  end
  if depth ~= nil and rr >= depth then
    raise("InvalidArgument", ("ragged.constant: pylist has scalar values depth %d, but ragged_rank=%d requires scalar value depth greater than %d")
      :format(depth, rr, rr))
  end
  local level = pylist
  local nested = {}
  for l = 1, rr do
    local splits, nxt = { 0 }, {}
    for i = 1, #level do
      local row = level[i]
      if type(row) ~= "table" or getmetatable(row) ~= nil then
        raise("InvalidArgument", ("ragged.constant: expected a list at depth %d, got %s"):format(l, type(row)))
      end
      for j = 1, #row do nxt[#nxt + 1] = row[j] end
      splits[#splits + 1] = splits[#splits] + #row
    end
    nested[l] = core.constant(splits, int64)
    level = nxt
  end
  local values
  if #level == 0 then
    local shape = { 0 }
    for _, d in ipairs(inner_shape or {}) do shape[#shape + 1] = d end
    if depth and inner_shape == nil then
      for _ = rr + 2, depth do shape[#shape + 1] = 0 end
    end
    values = ops.zeros(shape, opts.dtype or tf.float32)
  else
    local ok, v = pcall(core.constant, level, opts.dtype)
    if not ok then
      raise("InvalidArgument", ("ragged.constant: the values below ragged_rank %d must form a uniform tensor: %s"):format(rr, tostring(v)))
    end
    values = v
    if inner_shape then
      local want = { #level }
      for _, d in ipairs(inner_shape) do want[#want + 1] = d end
      local got = static_dims(values, "ragged.constant")
      if #got ~= #want then
        raise("InvalidArgument", ("ragged.constant: inner values have shape %s, not inner_shape %s")
          :format(tostring(values.shape), tostring(shape_mod.new(inner_shape))))
      end
      for i = 2, #want do
        if got[i] ~= want[i] then
          raise("InvalidArgument", ("ragged.constant: inner values have shape %s, not inner_shape %s")
            :format(tostring(values.shape), tostring(shape_mod.new(inner_shape))))
        end
      end
    end
  end
  return new(values, nested)
end

-- ---- fields and simple methods -----------------------------------------------

function methods.row_lengths(rt, axis)
  if is_options(axis) then axis = axis.axis end
  axis = axis or 1
  if axis < 0 then axis = axis + rt.ragged_rank + #rt.flat_values.shape end
  local s = rt.row_splits
  if axis == 1 then return ops.subtract(s["1:"], s[":-1"]) end
  if axis < 1 or axis > rt.ragged_rank then
    raise("InvalidArgument", ("row_lengths: axis %d is not a ragged axis (1..%d)"):format(axis, rt.ragged_rank))
  end
  return wrap(methods.row_lengths(rt.values, axis - 1), s)
end

function methods.nrows(rt, opts)
  local out_type = opts and opts.out_type or int64
  return ops.cast(ops.subtract(ops.size(rt.row_splits, int64), 1), out_type)
end

function methods.value_rowids(rt) return ops.ragged_row_ids(rt.row_splits) end
function methods.row_starts(rt) return rt.row_splits[":-1"] end
function methods.row_limits(rt) return rt.row_splits["1:"] end
function methods.nested_row_lengths(rt)
  local out, v = {}, rt
  while is_ragged(v) do
    out[#out + 1] = methods.row_lengths(v)
    v = v.values
  end
  return out
end

function methods.with_values(rt, values) return wrap(values_arg(values), rt.row_splits) end
function methods.with_flat_values(rt, fv)
  fv = as_tensor(fv)
  return new(fv, rt.nested_row_splits)
end

local function shape_of(rt)
  local dims, n = { nrows_int(rt) }, 1
  for _ = 1, rt.ragged_rank do
    n = n + 1
    dims[n] = nil
  end
  local fs = rt.flat_values.shape
  for i = 1, #fs - 1 do
    n = n + 1
    dims[n] = fs[i]
  end
  return shape_mod.new(dims, n)
end

function methods.get_shape(rt) return shape_of(rt) end

-- The dense tensor: rows padded with default_value (0, false or "") to
-- the longest row (or to shape's dimensions, truncating longer rows).
function methods.to_tensor(rt, default_value, opts)
  if opts == nil and is_options(default_value) then default_value, opts = nil, default_value end
  opts = opts or {}
  if default_value == nil then default_value = opts.default_value end
  local fv, k = rt.flat_values, rt.ragged_rank
  local inner = static_dims(fv, "to_tensor", 1)
  table.remove(inner, 1)
  local shape_attr
  if opts.shape ~= nil then
    local sh = opts.shape
    if getmetatable(sh) ~= nil then sh = sh:as_list() end
    local n = sh.n or #sh
    if n ~= k + 1 + #inner then
      raise("InvalidArgument", ("to_tensor: shape must have rank %d (got %d)"):format(k + 1 + #inner, n))
    end
    shape_attr = {}
    for i = 1, k + 1 do
      local d = sh[i]
      shape_attr[i] = (d == nil or d == -1) and -1 or d
    end
    for i = 1, #inner do
      local d = sh[k + 1 + i]
      if d ~= nil and d ~= -1 and d ~= inner[i] then
        raise("Unimplemented", ("to_tensor: shape dimension %d is %d, but the uniform inner dimension is %d")
          :format(k + i, d, inner[i]))
      end
    end
  end
  local idx = ops.ragged_to_dense_indices(fv, rt.nested_row_splits, shape_attr)
  local dv
  if default_value == nil then
    local one = { 1 }
    for _, d in ipairs(inner) do one[#one + 1] = d end
    dv = ops.zeros(one, fv.dtype)
  else
    dv = as_tensor(default_value, fv.dtype)
    local one = { 1 }
    for _, d in ipairs(inner) do one[#one + 1] = d end
    if #dv.shape > #inner then
      raise("InvalidArgument", ("to_tensor: default_value of shape %s must broadcast to the inner shape %s")
        :format(tostring(dv.shape), tostring(shape_mod.new(inner))))
    end
    dv = ops.broadcast_to(dv, one)
  end
  return ops.gather(ops.concat({ fv, dv }, 0), idx)
end

-- Nested Lua lists (1-based), like TensorFlow's to_list().
local function to_list(rt)
  local fv = rt.flat_values:totable()
  local nested = {}
  for i, s in ipairs(rt.nested_row_splits) do nested[i] = s:totable() end
  local k = #nested
  local function build(level, lo, hi)
    local out = {}
    if level > k then
      for j = lo, hi - 1 do out[#out + 1] = fv[j + 1] end
      return out
    end
    local s = nested[level]
    for r = lo, hi - 1 do out[#out + 1] = build(level + 1, s[r + 1], s[r + 2]) end
    return out
  end
  local out, s = {}, nested[1]
  for r = 0, #s - 2 do out[#out + 1] = build(2, s[r + 1], s[r + 2]) end
  return out
end
methods.to_list = to_list
methods.totable = to_list
methods.numpy = to_list

function methods.bounding_shape(rt)
  local dense = methods.to_tensor(rt)
  return ops.shape(dense, int64)
end

-- ---- printing ------------------------------------------------------------------

local function fmt_float32(x)
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" end
  if x == -math.huge then return "-inf" end
  for p = 1, 9 do
    local s = ("%." .. p .. "g"):format(x)
    if string.unpack("f", string.pack("f", tonumber(s))) == x then
      if not s:find("[%.eninf]") then s = s .. ".0" end
      return s
    end
  end
  return ("%.9g"):format(x)
end

local function fmt_float64(x)
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" end
  if x == -math.huge then return "-inf" end
  for p = 1, 17 do
    local s = ("%." .. p .. "g"):format(x)
    if tonumber(s) == x then
      if not s:find("[%.eninf]") then s = s .. ".0" end
      return s
    end
  end
  return ("%.17g"):format(x)
end

-- Python's repr of bytes, as TensorFlow prints a string element (and
-- src/core/format.c does for string tensors): b'...', or b"..." when the
-- bytes hold ' and no ", other bytes outside printable ASCII as \xNN.
local function bytes_repr(s)
  local q = (s:find("'", 1, true) and not s:find('"', 1, true)) and '"' or "'"
  local body = s:gsub("[%c\\'\"\128-\255]", function(c)
    if c == q or c == "\\" then return "\\" .. c end
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    if c == "\r" then return "\\r" end
    local b = c:byte()
    if b < 32 or b >= 127 then return ("\\x%02x"):format(b) end
    return c
  end)
  return "b" .. q .. body .. q
end

local SUMMARY_THRESHOLD, EDGE = 1000, 3

local function element_formatter(dtype)
  local name = dtype.name
  if name == "float32" or name == "float16" or name == "bfloat16" then return fmt_float32 end
  if name == "float64" then return fmt_float64 end
  if name == "string" then return bytes_repr end
  return tostring
end

-- The value text: one line when it fits (as TensorFlow prints short
-- values), else one outer row per line; rows beyond 2*EDGE and long rows
-- are elided with "..." when the value has more than SUMMARY_THRESHOLD
-- elements (numpy's rule, which TensorFlow's printing follows).
local function value_text(rt)
  local list = to_list(rt)
  local fmt = element_formatter(rt.dtype)
  local summarize = rt.flat_values:size():item() > SUMMARY_THRESHOLD
  local function text(x)
    if type(x) ~= "table" then return fmt(x) end
    local parts = {}
    local n = #x
    if summarize and n > 2 * EDGE then
      for i = 1, EDGE do parts[#parts + 1] = text(x[i]) end
      parts[#parts + 1] = "..."
      for i = n - EDGE + 1, n do parts[#parts + 1] = text(x[i]) end
    else
      for i = 1, n do parts[i] = text(x[i]) end
    end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  local one = text(list)
  if #one <= 72 and not summarize then return one, false end
  local rows = {}
  local n = #list
  local function add(i) rows[#rows + 1] = text(list[i]) end
  if summarize and n > 2 * EDGE then
    for i = 1, EDGE do add(i) end
    rows[#rows + 1] = "..."
    for i = n - EDGE + 1, n do add(i) end
  else
    for i = 1, n do add(i) end
  end
  return "[" .. table.concat(rows, ",\n ") .. "]", summarize
end

local function component_text(t)
  return ("Tensor(shape=%s, dtype=%s)"):format(tostring(t.shape), t.dtype.name)
end

local function ragged_tostring(rt)
  local ok, body, summarized = pcall(value_text, rt)
  if not ok then
    -- symbolic components (inside tf.trace): the structure, as TensorFlow
    -- prints a graph-mode RaggedTensor
    local v = is_ragged(rt.values) and tostring(rt.values) or component_text(rt.values)
    return ("tf.RaggedTensor(values=%s, row_splits=%s)"):format(v, component_text(rt.row_splits))
  end
  if summarized then
    return ("<tf.RaggedTensor %s\n shape=%s, dtype=%s, nvals=%d>"):format(body, tostring(shape_of(rt)),
      rt.dtype.name, rt.flat_values.shape[0])
  end
  return ("<tf.RaggedTensor %s>"):format(body)
end

-- ---- rows: indexing and gathering ------------------------------------------------

-- Rows picked by an int64 index tensor (a scalar: that row, one ragged
-- level fewer; a vector: a ragged value with those rows).
local function gather_rows(rt, indices)
  local res = ops.ragged_gather_indices(indices, rt.nested_row_splits)
  local pos = table.remove(res)
  local values = ops.gather(rt.flat_values, pos)
  if #res == 0 then return values end
  return new(values, res)
end
M.gather_rows = gather_rows

local function norm_index(i, n, what)
  local j = i < 0 and i + n or i
  if n and (j < 0 or j >= n) then
    raise("InvalidArgument", ("%s: index %d is out of bounds for %d rows (valid range [-%d, %d))"):format(what, i, n, n, n))
  end
  return j
end

-- The rows of a slice (Python's slice.indices) as an int64 range tensor.
local function slice_rows(b, e, s, bm, em, n)
  local lo, hi
  if s > 0 then
    lo = bm and 0 or (b < 0 and math.max(b + n, 0) or math.min(b, n))
    hi = em and n or (e < 0 and math.max(e + n, 0) or math.min(e, n))
  else
    lo = bm and n - 1 or (b < 0 and math.max(b + n, -1) or math.min(b, n - 1))
    hi = em and -1 or (e < 0 and math.max(e + n, -1) or math.min(e, n - 1))
  end
  local count = s > 0 and (hi - lo + s - 1) // s or (lo - hi - s - 1) // -s
  if count < 0 then count = 0 end
  return ops.range(lo, lo + count * s, s, int64)
end

local indexing -- tlua.indexing, set by install

-- items: the parsed key as a list of {int=} / {b,e,s,bm,em} entries.
local function items_of(spec)
  local b, e, s, bm, em, elm, nam, sm = table.unpack(spec)
  if elm ~= 0 or nam ~= 0 then
    raise("Unimplemented", "RaggedTensor indexing: tf.newaxis and the ellipsis are not supported (index the rows, "
      .. "or use :to_tensor())")
  end
  local items = {}
  for i = 1, #b do
    local bit = 1 << (i - 1)
    if sm & bit ~= 0 then items[i] = { int = b[i] }
    else items[i] = { b = b[i], e = e[i], s = s[i], bm = bm & bit ~= 0, em = em & bit ~= 0 } end
  end
  return items
end

local function dense_spec(items, from)
  local b, e, s, bm, em, sm = {}, {}, {}, 0, 0, 0
  local n = 0
  for i = from, #items do
    local it = items[i]
    n = n + 1
    local bit = 1 << (n - 1)
    if it.int then b[n], e[n], s[n], sm = it.int, it.int + 1, 1, sm | bit
    else
      b[n], e[n], s[n] = it.b, it.e, it.s
      if it.bm then bm = bm | bit end
      if it.em then em = em | bit end
    end
  end
  return b, e, s, bm, em, 0, 0, sm
end

local function is_full(it) return not it.int and it.bm and it.em and it.s == 1 end

-- items[i], items[i+1], ... applied to dimensions 1, 2, ... of v (its rows
-- kept): a slice of a ragged dimension takes that part of every row, as
-- TensorFlow's ragged __getitem__; an integer there is an error (the rows
-- differ in length), as in TensorFlow.
local index_below
index_below = function(v, items, i)
  if items[i] == nil then return v end
  if not is_ragged(v) then
    local spec = { { bm = true, em = true, s = 1, b = 0, e = 0 } }
    for j = i, #items do spec[#spec + 1] = items[j] end
    return ops.strided_slice(v, dense_spec(spec, 1))
  end
  local it = items[i]
  if it.int then
    raise("InvalidArgument", ("RaggedTensor indexing: item %d indexes into a ragged dimension with an integer, "
      .. "which rows of different lengths do not allow (slice it, index rows first as rt[i][j], or use :to_tensor())")
      :format(i))
  end
  local values, splits = v.values, v.row_splits
  if not is_full(it) then
    if it.s <= 0 then
      raise("Unimplemented", ("RaggedTensor indexing: item %d slices a ragged dimension with step %d (only positive steps)")
        :format(i, it.s))
    end
    local zero = core.constant(0, int64)
    local lens = methods.row_lengths(v)
    local function bound(x, default)
      if x == nil then return default end
      local c = core.constant(x, int64)
      if x >= 0 then return ops.minimum(c, lens) end
      return ops.maximum(ops.add(lens, c), zero)
    end
    local lo_off = bound(not it.bm and it.b or nil, zero)
    local hi_off = ops.maximum(bound(not it.em and it.e or nil, lens), lo_off)
    local starts = splits[":-1"]
    local pos
    splits, pos = ops.ragged_range(ops.add(starts, lo_off), ops.add(starts, hi_off), core.constant(it.s, int64))
    values = is_ragged(values) and gather_rows(values, pos) or ops.gather(values, pos)
  end
  return wrap(index_below(values, items, i + 1), splits)
end

local function index_items(rt, items, from)
  local it = items[from]
  if it == nil then return rt end
  local n = nrows_int(rt)
  local rows
  if it.int then
    local i = norm_index(it.int, n, "RaggedTensor index")
    rows = gather_rows(rt, core.constant(i, int64))
    if from == #items then return rows end
    if is_ragged(rows) then return index_items(rows, items, from + 1) end
    return ops.strided_slice(rows, dense_spec(items, from + 1))
  end
  if n == nil then raise("InvalidArgument", "RaggedTensor slicing: the number of rows is not known") end
  if is_full(it) then rows = rt
  else rows = gather_rows(rt, slice_rows(it.b, it.e, it.s, it.bm, it.em, n)) end
  return index_below(rows, items, from + 1)
end

local function ragged_index(rt, key)
  if key == "shape" then return shape_of(rt) end
  local ty = type(key)
  if ty == "string" and key:match("^[%a_][%w_]*$") and key ~= "newaxis" and key ~= "None" then return nil end
  if core.is_tensor(key) then
    if key.dtype == tf.bool then return M.boolean_mask(rt, key) end
    if #key.shape > 1 then raise("Unimplemented", "RaggedTensor indexing: index tensors must be scalars or vectors") end
    return gather_rows(rt, i64(key, "index"))
  end
  if is_ragged(key) then return M.boolean_mask(rt, key) end
  return index_items(rt, items_of(indexing.spec_of(key)), 1)
end

-- ---- the composite contract (tf.trace, tf.while_loop) ---------------------------------------

local function flatten(rt)
  local comps = { rt.flat_values }
  for _, s in ipairs(rt.nested_row_splits) do comps[#comps + 1] = s end
  local fs = rt.flat_values.shape
  local inner = {}
  for i = 1, #fs - 1 do inner[i] = fs[i] == nil and "?" or tostring(fs[i]) end
  return comps, ("%s,ragged_rank=%d,inner=[%s]"):format(rt.dtype.name, rt.ragged_rank, table.concat(inner, ","))
end

local function unflatten(_, comps)
  local splits = {}
  for i = 2, #comps do splits[i - 1] = comps[i] end
  return new(comps[1], splits)
end

-- flat_values' rows and the inner splits' lengths change from call to
-- call; the outer splits' length is nrows + 1, part of the signature.
local function dynamic(_, i)
  if i == 1 or i >= 3 then return { 0 } end
  return nil
end

-- ---- install ------------------------------------------------------------------------------------

function M.install(t)
  tf = t
  int64 = tf.int64
  local O = require("tlua.ragged_ops").bind({ tf = tf, methods = methods, RT = RT, wrap = wrap, i64 = i64,
    as_tensor = as_tensor, gather_rows = gather_rows, shape_of = shape_of, nrows_int = nrows_int })
  local elementwise, reduce, stack, map_flat_values = O.elementwise, O.reduce, O.stack, O.map_flat_values
  local UNARY, BINARY, REDUCE, dispatch = O.UNARY, O.BINARY, O.REDUCE, O.dispatch
  for _, k in ipairs({ "elementwise", "map_flat_values", "reduce", "concat", "stack", "boolean_mask", "range" }) do
    M[k] = O[k]
  end
  indexing = require("tlua.indexing")
  tf._hooks = tf._hooks or {}
  tf._hooks.ragged_index = ragged_index
  tf._hooks.ragged_tostring = ragged_tostring

  composite.register(Meta, { name = "RaggedTensor", flatten = flatten, unflatten = unflatten, dynamic = dynamic,
                             dispatch = dispatch })

  -- Lua operators: the same element-wise ops as on tensors
  local bin = { __add = "add", __sub = "subtract", __mul = "multiply", __div = "divide", __mod = "floormod",
                __pow = "pow", __idiv = "floordiv", __band = "logical_and", __bor = "logical_or", __bxor = "logical_xor" }
  for mm, op in pairs(bin) do Meta[mm] = function(a, b) return elementwise(op, a, b) end end
  Meta.__unm = function(a) return new(ops.negative(a.flat_values), a.nested_row_splits) end
  Meta.__bnot = function(a) return new(ops.logical_not(a.flat_values), a.nested_row_splits) end
  local short = { eq = "equal", ne = "not_equal", lt = "less", le = "less_equal", gt = "greater", ge = "greater_equal" }
  for k, v in pairs(short) do methods[k] = function(a, b) return elementwise(v, a, b) end end
  for name in pairs(UNARY) do
    if methods[name] == nil then
      methods[name] = function(x, ...) return new(ops[name](x.flat_values, ...), x.nested_row_splits) end
    end
  end
  for name in pairs(BINARY) do
    if methods[name] == nil then methods[name] = function(a, b) return elementwise(name, a, b) end end
  end
  for name in pairs(REDUCE) do
    methods[name] = function(x, ...) return reduce(name, x, ...) end
  end

  Meta.__help = function(x)
    local names = {}
    for k in pairs(methods) do names[#names + 1] = k end
    table.sort(names)
    return table.concat({
      ("tf.RaggedTensor: dtype %s, shape %s, ragged_rank %d, %s flat values"):format(x.dtype.name,
        tostring(shape_of(x)), x.ragged_rank, tostring(x.flat_values.shape[0] or "?")),
      "  immutable; fields flat_values, values, row_splits, nested_row_splits, ragged_rank, dtype, shape;",
      "  rt[i] is row i (0-based), rt[\"a:b\"] rows a..b-1; + - * / and tf.math functions act on the values;",
      "  tf.reduce_*, tf.concat, tf.stack, tf.gather and tf.boolean_mask accept it. Methods:",
      "    " .. table.concat(names, " "),
      "  help(tf.RaggedTensor) lists the constructors, help(tf.ragged) the namespace." }, "\n")
  end
  local help = require("tlua.help")
  local ragged = tf.ragged
  local RTt = tf.RaggedTensor or {}
  for k, f in pairs(RT) do RTt[k] = f end
  tf.RaggedTensor = RTt
  ragged.constant = ragged_constant
  ragged.map_flat_values = map_flat_values
  ragged.boolean_mask = M.boolean_mask
  ragged.range = M.range
  ragged.stack = stack
  ragged.is_ragged = is_ragged
  ragged.row_splits_to_segment_ids = function(s) return ops.ragged_row_ids(i64(s, "row_splits")) end
  ragged.segment_ids_to_row_splits = function(ids, num)
    local i = i64(ids, "segment_ids")
    num = num or ops.add(ops.reduce_max(ops.concat({ core.constant({ -1 }, int64), i }, 0)), 1)
    return ops.ragged_rowids_to_splits(i, i64(num, "num_segments"))
  end
  local docs = {
    [ragged_constant] = "tf.ragged.constant(pylist, {dtype=, ragged_rank=, inner_shape=}): a RaggedTensor from nested Lua lists of varying lengths.",
    [map_flat_values] = "tf.ragged.map_flat_values(fn, ...): fn applied to the flat_values of the RaggedTensor arguments (same row partitions), rewrapped.",
    [M.boolean_mask] = "tf.ragged.boolean_mask(data, mask): the entries of data where mask is true, as a RaggedTensor (mask dense or ragged, a prefix of data's shape).",
    [M.range] = "tf.ragged.range(starts, limits, deltas, {dtype=}): row i is range(starts[i], limits[i], deltas[i]) (scalars broadcast).",
    [stack] = "tf.ragged.stack(values, axis): stacks RaggedTensors (and dense tensors) along axis; tf.stack does the same when given a RaggedTensor.",
    [is_ragged] = "tf.ragged.is_ragged(x): whether x is a tf.RaggedTensor.",
    [ragged.row_splits_to_segment_ids] = "tf.ragged.row_splits_to_segment_ids(splits): the row of each value (int64).",
    [ragged.segment_ids_to_row_splits] = "tf.ragged.segment_ids_to_row_splits(ids, num_segments): row_splits from sorted segment ids.",
    [RT.from_row_splits] = "tf.RaggedTensor.from_row_splits(values, row_splits, {validate=true}): rows values[splits[i]:splits[i+1]].",
    [RT.from_row_lengths] = "tf.RaggedTensor.from_row_lengths(values, row_lengths, {validate=true}).",
    [RT.from_value_rowids] = "tf.RaggedTensor.from_value_rowids(values, value_rowids, nrows, {validate=true}): sorted row ids per value.",
    [RT.from_tensor] = "tf.RaggedTensor.from_tensor(tensor, {lengths=, padding=, ragged_rank=1}): a dense tensor's rows, trimmed to lengths or of trailing padding.",
    [RT.from_nested_row_splits] = "tf.RaggedTensor.from_nested_row_splits(flat_values, {splits, ...}, {validate=true}).",
    [RT.from_nested_row_lengths] = "tf.RaggedTensor.from_nested_row_lengths(flat_values, {lengths, ...}, {validate=true}).",
  }
  for f, text in pairs(docs) do help.register(f, text) end
  M.RaggedTensor = RTt
end

return M
