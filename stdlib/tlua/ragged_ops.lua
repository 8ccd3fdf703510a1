-- tlua/ragged_ops.lua — the math of tf.RaggedTensor (stdlib/tlua/ragged.lua
-- has the type, constructors, indexing and printing): element-wise ops and
-- map_flat_values, reductions over ragged axes, concat and stack,
-- boolean_mask, tf.ragged.range, and the dispatch of registry ops given a
-- RaggedTensor (composite.dispatch). Everything is written with registry
-- ops on the components, so it traces.
--
-- Not a tf module of its own: ragged.lua binds it to its helpers (bind).
local M = {}

local core = require("tlua.core")
local ops = core.ops
local raise = core.raise
local is_options = core.is_options
local new = core.ragged.new
local is_ragged = core.ragged.is_ragged

-- ragged.lua's helpers and tf, set by bind
local tf, int64, methods, RT, wrap, i64, as_tensor, gather_rows, shape_of, nrows_int

function M.bind(H)
  tf, int64, methods, RT = H.tf, H.tf.int64, H.methods, H.RT
  wrap, i64, as_tensor, gather_rows, shape_of, nrows_int = H.wrap, H.i64, H.as_tensor, H.gather_rows, H.shape_of, H.nrows_int
  return M
end

-- ---- element-wise math -------------------------------------------------------------

local function same_splits(a, b, what)
  local sa, sb = a.nested_row_splits, b.nested_row_splits
  if #sa ~= #sb then
    raise("InvalidArgument", ("%s: ragged tensors have different ragged_rank (%d vs %d)"):format(what, #sa, #sb))
  end
  local out = {}
  for i = 1, #sa do
    out[i] = rawequal(sa[i], sb[i]) and sa[i] or ops.ragged_splits_equal(sa[i], sb[i])
  end
  return out
end

-- A dense operand in the shape of rt's flat_values, or as given when it
-- broadcasts against flat_values' inner dimensions.
local function dense_for(rt, d, what)
  if type(d) == "number" or type(d) == "boolean" or type(d) == "string" then return d end
  d = as_tensor(d)
  local fs = rt.flat_values.shape
  local inner_rank = #fs - 1
  local drank = #d.shape
  if drank <= inner_rank then return d end
  local k = rt.ragged_rank
  local rank = k + 1 + inner_rank
  -- leading size-1 dimensions beyond the inner ones can be dropped
  local ds = d.shape
  local lead = drank - inner_rank
  local ones = true
  for i = 0, lead - 1 do ones = ones and ds[i] == 1 end
  if ones then
    local sq = {}
    for i = 0, lead - 1 do sq[#sq + 1] = i end
    return ops.squeeze(d, sq)
  end
  if k == 1 and drank == rank and ds[1] == 1 then
    -- [nrows, 1, inner...]: each row's entry repeated over the row
    return ops.gather(ops.squeeze(d, { 1 }), methods.value_rowids(rt))
  end
  raise("Unimplemented", ("%s: a dense operand of shape %s does not broadcast to the ragged shape %s "
    .. "(it must fit the uniform inner dimensions, or have size 1 along the ragged one)")
    :format(what, tostring(d.shape), tostring(shape_of(rt))))
end

local function elementwise(name, a, b, ...)
  local f = ops[name]
  local ra, rb = is_ragged(a), is_ragged(b)
  if ra and rb then
    local splits = same_splits(a, b, name)
    return new(f(a.flat_values, b.flat_values, ...), splits)
  elseif ra then
    return new(f(a.flat_values, dense_for(a, b, name), ...), a.nested_row_splits)
  else
    return new(f(dense_for(b, a, name), b.flat_values, ...), b.nested_row_splits)
  end
end
M.elementwise = elementwise

local function map_flat_values(fn, ...)
  local args = table.pack(...)
  local splits
  for i = 1, args.n do
    local v = args[i]
    if is_ragged(v) then
      if splits == nil then splits = v.nested_row_splits
      else
        local tmp = new(v.flat_values, splits)
        splits = same_splits(tmp, v, "map_flat_values")
      end
      args[i] = v.flat_values
    end
  end
  if splits == nil then raise("InvalidArgument", "map_flat_values: no RaggedTensor among the arguments") end
  local out = fn(table.unpack(args, 1, args.n))
  if not core.is_tensor(out) then
    raise("InvalidArgument", ("map_flat_values: the function must return a tensor (got %s)"):format(type(out)))
  end
  return new(out, splits)
end
M.map_flat_values = map_flat_values

-- ---- reductions -------------------------------------------------------------------

local SEG = { reduce_sum = "unsorted_segment_sum", reduce_prod = "unsorted_segment_prod",
              reduce_max = "unsorted_segment_max", reduce_min = "unsorted_segment_min" }

-- TensorFlow's _ragged_segment_aggregate: rows of data (dense or ragged)
-- combined per segment id.
local function segment_aggregate(seg, data, ids, num)
  if not is_ragged(data) then return ops[seg](data, ids, num) end
  local lengths = methods.row_lengths(data)
  local out_lengths = ops.maximum(ops.unsorted_segment_max(lengths, ids, num), core.constant(0, int64))
  local out_splits = ops.concat({ core.constant({ 0 }, int64), ops.cumsum(out_lengths) }, 0)
  local starts = ops.gather(out_splits, ids)
  local _, positions = ops.ragged_range(starts, ops.add(starts, lengths), core.constant(1, int64))
  local values = segment_aggregate(seg, data.values, positions, out_splits[-1])
  return wrap(values, out_splits)
end

local function reduce_axis(name, rt, axis)
  local k = rt.ragged_rank
  if axis > k then
    return new(ops[name](rt.flat_values, { axis - k }), rt.nested_row_splits)
  end
  local seg = SEG[name]
  if axis == 0 then
    local lengths = methods.row_lengths(rt)
    local _, cols = ops.ragged_range(core.constant(0, int64), lengths, core.constant(1, int64))
    local num = ops.maximum(ops.reduce_max(ops.concat({ core.constant({ 0 }, int64), lengths }, 0)), core.constant(0, int64))
    return segment_aggregate(seg, rt.values, cols, num)
  elseif axis == 1 then
    return segment_aggregate(seg, rt.values, methods.value_rowids(rt), ops.size(methods.row_lengths(rt), int64))
  end
  return methods.with_values(rt, reduce_axis(name, rt.values, axis - 1))
end

local function reduce(name, rt, axis, keepdims)
  if is_options(axis) then axis, keepdims = axis.axis, axis.keepdims end
  if type(keepdims) == "table" then keepdims = keepdims.keepdims end
  local rank = rt.ragged_rank + #rt.flat_values.shape
  if name == "reduce_mean" then
    local total = reduce("reduce_sum", rt, axis, keepdims)
    local ones = new(ops.ones_like(rt.flat_values), rt.nested_row_splits)
    local count = reduce("reduce_sum", ones, axis, keepdims)
    if is_ragged(total) then return elementwise("divide", total, count) end
    return ops.divide(total, count)
  end
  if name == "reduce_any" or name == "reduce_all" then
    local as_int = new(ops.cast(rt.flat_values, tf.int32), rt.nested_row_splits)
    local r = reduce(name == "reduce_any" and "reduce_max" or "reduce_min", as_int, axis, keepdims)
    -- an empty row reduces to the int32 extreme: > 0 maps it to false (any)
    -- and true (all), as TensorFlow's identities for or / and
    if is_ragged(r) then return new(ops.greater(r.flat_values, 0), r.nested_row_splits) end
    return ops.greater(r, 0)
  end
  if not SEG[name] then raise("Unimplemented", ("%s: not supported for RaggedTensor"):format(name)) end
  if axis == nil then
    local r = ops[name](rt.flat_values)
    if keepdims then
      local sh = {}
      for i = 1, rank do sh[i] = 1 end
      r = ops.reshape(r, sh)
    end
    return r
  end
  local axes = type(axis) == "table" and { table.unpack(axis) } or { axis }
  if core.is_tensor(axis) then axes = axis:totable() end
  for i, a in ipairs(axes) do
    if math.type(a) ~= "integer" or a < -rank or a >= rank then
      raise("InvalidArgument", ("%s: axis %s is out of range for a rank-%d RaggedTensor"):format(name, tostring(a), rank))
    end
    axes[i] = a < 0 and a + rank or a
  end
  table.sort(axes, function(x, y) return x > y end)
  local r = rt
  for i, a in ipairs(axes) do
    if i > 1 and axes[i - 1] == a then raise("InvalidArgument", ("%s: axis %d given twice"):format(name, a)) end
    if is_ragged(r) then r = reduce_axis(name, r, a) else r = ops[name](r, { a }) end
  end
  if keepdims then
    for i = #axes, 1, -1 do
      if is_ragged(r) then
        raise("Unimplemented", ("%s: keepdims with a ragged result is not supported"):format(name))
      end
      r = ops.expand_dims(r, axes[i])
    end
  end
  return r
end
M.reduce = reduce

-- ---- concat and stack ------------------------------------------------------------------

local function to_ragged_like(x, k, what)
  if is_ragged(x) then
    if x.ragged_rank ~= k then
      raise("Unimplemented", ("%s: inputs have different ragged_rank (%d vs %d)"):format(what, x.ragged_rank, k))
    end
    return x
  end
  return RT.from_tensor(as_tensor(x), { ragged_rank = k })
end

local function check_inputs(list, what)
  if type(list) ~= "table" or #list == 0 then raise("InvalidArgument", what .. ": needs a non-empty list of inputs") end
  local k, dtype, rank
  for _, x in ipairs(list) do
    if is_ragged(x) then k = math.max(k or 0, x.ragged_rank) end
  end
  local out = {}
  for i, x in ipairs(list) do
    out[i] = to_ragged_like(x, k, what)
    local r = out[i].ragged_rank + #out[i].flat_values.shape
    if dtype and out[i].dtype ~= dtype then
      raise("InvalidArgument", ("%s: inputs must have one dtype (input 0 is %s, input %d is %s)")
        :format(what, dtype.name, i - 1, out[i].dtype.name))
    end
    if rank and r ~= rank then
      raise("InvalidArgument", ("%s: inputs must have one rank (input 0 has rank %d, input %d has rank %d)")
        :format(what, rank, i - 1, r))
    end
    dtype, rank = out[i].dtype, r
  end
  return out, k, rank
end

local function concat_axis0(rts)
  local k = rts[1].ragged_rank
  local fvs, nested = {}, {}
  for l = 1, k do nested[l] = {} end
  local offs = {}
  for i, rt in ipairs(rts) do
    fvs[i] = rt.flat_values
    local ns = rt.nested_row_splits
    for l = 1, k do
      local s = ns[l]
      if i == 1 then nested[l][1] = s
      else nested[l][i] = ops.add(s["1:"], offs[l]) end
      offs[l] = i == 1 and s[-1] or ops.add(offs[l], s[-1])
    end
  end
  local splits = {}
  for l = 1, k do splits[l] = #rts == 1 and nested[l][1] or ops.concat(nested[l], 0) end
  return new(#fvs == 1 and fvs[1] or ops.concat(fvs, 0), splits)
end

-- TensorFlow's _ragged_stack_concat_axis_1: the inputs' rows interleaved
-- (row i of every input, for each i), then merged (concat) or grouped
-- (stack).
local function interleave_rows(rts, what)
  local n = #rts
  local nrows = nrows_int(rts[1])
  for i, rt in ipairs(rts) do
    local r = nrows_int(rt)
    if r == nil or r ~= nrows then
      raise("InvalidArgument", ("%s: inputs must have the same number of rows along axis 0 (input 0 has %s, input %d has %s)")
        :format(what, tostring(nrows), i - 1, tostring(r)))
    end
  end
  local all = concat_axis0(rts)
  -- row r of input i is row i * nrows + r of `all`; taken r-major
  local perm = ops.reshape(ops.transpose(ops.reshape(ops.range(0, n * nrows, 1, int64), { n, nrows })), { -1 })
  return gather_rows(all, perm), nrows
end

-- concat/stack along an axis past the outer ragged one: the inputs' rows
-- must line up; past every ragged dimension the dense op joins the flat
-- values, else the same function recurses into .values (one level in).
local function along_values(rts, axis, k, what, dense_op, recurse)
  local first = rts[1]
  for i = 2, #rts do same_splits(first, rts[i], what) end
  if axis > k then
    local fvs = {}
    for i, rt in ipairs(rts) do fvs[i] = rt.flat_values end
    return new(dense_op(fvs, axis - k), first.nested_row_splits)
  end
  local vals = {}
  for i, rt in ipairs(rts) do vals[i] = rt.values end
  return wrap(recurse(vals, axis - 1), first.row_splits)
end

local function concat(values, axis)
  if is_options(axis) then axis = axis.axis end
  local rts, k, rank = check_inputs(values, "concat")
  if math.type(axis) ~= "integer" or axis < -rank or axis >= rank then
    raise("InvalidArgument", ("concat: axis %s is out of range for rank %d"):format(tostring(axis), rank))
  end
  if axis < 0 then axis = axis + rank end
  if #rts == 1 then return rts[1] end
  if axis == 0 then return concat_axis0(rts) end
  if axis == 1 then
    local permuted = interleave_rows(rts, "concat")
    local splits = permuted.row_splits[("::%d"):format(#rts)]
    return wrap(permuted.values, splits)
  end
  -- deeper axes: the rows line up, the values are concatenated
  return along_values(rts, axis, k, "concat", ops.concat, concat)
end
M.concat = concat

local function stack(values, axis)
  if is_options(axis) then axis = axis.axis end
  axis = axis or 0
  local rts, k, rank = check_inputs(values, "stack")
  if math.type(axis) ~= "integer" or axis < -(rank + 1) or axis > rank then
    raise("InvalidArgument", ("stack: axis %s is out of range for rank %d"):format(tostring(axis), rank + 1))
  end
  if axis < 0 then axis = axis + rank + 1 end
  if axis == 0 then
    local expanded = {}
    for i, rt in ipairs(rts) do
      expanded[i] = wrap(rt, ops.stack({ core.constant(0, int64), ops.size(methods.row_lengths(rt), int64) }))
    end
    return concat_axis0(expanded)
  end
  if axis == 1 then
    local permuted, nrows = interleave_rows(rts, "stack")
    local n = #rts
    return wrap(permuted, ops.range(0, nrows * n + 1, n, int64))
  end
  return along_values(rts, axis, k, "stack", ops.stack, stack)
end
M.stack = stack

-- ---- boolean_mask ------------------------------------------------------------------------

function M.boolean_mask(data, mask, opts)
  if is_options(mask) then mask, opts = mask.mask, mask end
  if not is_ragged(mask) then
    mask = as_tensor(mask)
    if mask.dtype ~= tf.bool then
      raise("InvalidArgument", ("boolean_mask: mask must be bool (got %s)"):format(mask.dtype.name))
    end
    local mrank = #mask.shape
    if mrank == 0 then raise("InvalidArgument", "boolean_mask: mask must have rank at least 1") end
    if mrank == 1 then
      if not is_ragged(data) then return ops.boolean_mask(as_tensor(data), mask) end
      local keep = ops.reshape(ops.where(mask), { -1 })
      return gather_rows(data, keep)
    end
    mask = RT.from_tensor(mask, { ragged_rank = mrank - 1 })
  end
  if mask.dtype ~= tf.bool then
    raise("InvalidArgument", ("boolean_mask: mask must be bool (got %s)"):format(mask.dtype.name))
  end
  if #mask.flat_values.shape ~= 1 then
    raise("Unimplemented", "boolean_mask: a ragged mask must have no uniform inner dimensions")
  end
  local km = mask.ragged_rank
  if not is_ragged(data) then data = RT.from_tensor(as_tensor(data), { ragged_rank = km }) end
  local k = data.ragged_rank
  if k < km then
    raise("InvalidArgument", ("boolean_mask: mask has rank %d, more than the data's ragged dimensions allow"):format(km + 1))
  end
  local ds, ms = data.nested_row_splits, mask.nested_row_splits
  local splits = {}
  for l = 1, km do
    splits[l] = rawequal(ds[l], ms[l]) and ds[l] or ops.ragged_splits_equal(ds[l], ms[l])
  end
  local mv = mask.flat_values
  local new_splits = {}
  for l = 1, km - 1 do new_splits[l] = splits[l] end
  new_splits[km] = ops.ragged_mask_splits(mv, splits[km])
  if k == km then
    return new(ops.boolean_mask(data.flat_values, mv), new_splits)
  end
  -- the mask picks rows of the next level: gather them with their subtrees
  local below = {}
  for l = km + 1, k do below[#below + 1] = ds[l] end
  local keep = ops.reshape(ops.where(mv), { -1 })
  local res = ops.ragged_gather_indices(keep, below)
  local pos = table.remove(res)
  for _, s in ipairs(res) do new_splits[#new_splits + 1] = s end
  return new(ops.gather(data.flat_values, pos), new_splits)
end

-- ---- tf.ragged.range ------------------------------------------------------------------------

function M.range(starts, limits, deltas, opts)
  if is_options(limits) then limits, deltas, opts = nil, nil, limits
  elseif is_options(deltas) then deltas, opts = nil, deltas end
  opts = opts or {}
  if limits == nil then starts, limits = 0, starts end
  deltas = deltas or opts.deltas or 1
  local dtype = opts.dtype
  if dtype == nil then
    for _, v in ipairs({ starts, limits, deltas }) do
      if core.is_tensor(v) then dtype = v.dtype break end
    end
  end
  if dtype == nil then
    local float = false
    for _, v in ipairs({ starts, limits, deltas }) do
      local function scan(x)
        if type(x) == "table" then for _, e in ipairs(x) do scan(e) end
        elseif math.type(x) == "float" then float = true end
      end
      scan(v)
    end
    dtype = float and tf.float32 or tf.int32
  end
  local function conv(v)
    if core.is_tensor(v) then return v.dtype == dtype and v or ops.cast(v, dtype) end
    return core.constant(v, dtype)
  end
  local splits, values = ops.ragged_range(conv(starts), conv(limits), conv(deltas))
  return new(values, { splits })
end

-- ---- dispatch of registry ops given RaggedTensors ---------------------------------------------

local UNARY = {}
M.UNARY = UNARY
for name in ([[cast negative abs sign square relu relu6 round floor ceil sqrt rsqrt exp expm1 log log1p tanh
  sigmoid softplus log_sigmoid softsign elu selu reciprocal sin cos tan asin acos atan sinh cosh erf is_nan
  is_inf is_finite logical_not leaky_relu gelu clip_by_value identity zeros_like ones_like stop_gradient]]):gmatch("%S+") do
  UNARY[name] = true
end
local BINARY = {}
M.BINARY = BINARY
for name in ([[add subtract multiply divide truediv divide_no_nan floordiv truncatediv floormod truncatemod pow
  maximum minimum squared_difference equal not_equal less less_equal greater greater_equal logical_and
  logical_or logical_xor]]):gmatch("%S+") do
  BINARY[name] = true
end
M.REDUCE = { reduce_sum = true, reduce_mean = true, reduce_max = true, reduce_min = true, reduce_prod = true,
                 reduce_any = true, reduce_all = true }

function M.dispatch(name, ...)
  local a = ...
  if UNARY[name] and is_ragged(a) then
    return new(ops[name](a.flat_values, select(2, ...)), a.nested_row_splits)
  end
  if BINARY[name] then return elementwise(name, ...) end
  if M.REDUCE[name] and is_ragged(a) then return reduce(name, ...) end
  if name == "where" and select("#", ...) >= 3 then
    -- tf.where(cond, x, y) element-wise: ragged operands share a partition
    local args, rt = { ... }, nil
    for i = 1, 3 do if is_ragged(args[i]) then rt = rt and new(rt.flat_values, same_splits(rt, args[i], "where")) or args[i] end end
    for i = 1, 3 do args[i] = is_ragged(args[i]) and args[i].flat_values or dense_for(rt, args[i], "where") end
    return new(ops.where(args[1], args[2], args[3]), rt.nested_row_splits)
  end
  if name == "size" and is_ragged(a) then return ops.size(a.flat_values, select(2, ...)) end
  if name == "rank" and is_ragged(a) then
    return core.constant(a.ragged_rank + #a.flat_values.shape, tf.int32)
  end
  if name == "shape" and is_ragged(a) then
    raise("Unimplemented", "shape: TensorFlow's DynamicRaggedShape is not provided; use rt.shape (static), "
      .. "rt:nrows(), rt:row_lengths() or rt:bounding_shape()")
  end
  if name == "concat" then return concat(...) end
  if name == "stack" then return stack(...) end
  if name == "boolean_mask" then return M.boolean_mask(...) end
  if name == "gather" and is_ragged(a) then
    local _, idx, o = ...
    if o ~= nil and not (is_options(o) and o.axis == 0) and o ~= 0 then
      raise("Unimplemented", "gather: a RaggedTensor is gathered along axis 0 only")
    end
    local i = i64(idx, "gather: indices")
    if #i.shape > 1 then raise("Unimplemented", "gather: indices of a RaggedTensor must be a scalar or a vector") end
    return gather_rows(a, i)
  end
  raise("InvalidArgument", ("%s: tf.RaggedTensor inputs are not supported; use tf.ragged.map_flat_values(f, rt) "
    .. "for a function of the values, or rt:to_tensor()"):format(name))
end


return M
