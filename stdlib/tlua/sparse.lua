-- tlua/sparse.lua — tf.SparseTensor, tf.sparse and tf.sets.
--
-- A SparseTensor is the userdata of lua/sparse_binding.c holding three
-- tensors: indices (int64 [nnz, rank], 0-based), values ([nnz]) and
-- dense_shape (int64 [rank]). Every function here is a composition of
-- registry ops on those components (src/ops/sparse.c, sparse_matmul.c,
-- sets.c, and ordinary gather/where/concat), so all of them work inside
-- tf.trace and tf.while_loop (the type is registered with tlua.composite)
-- and gradients reach values and dense operands through the ops' rules.
--
-- What is static: a SparseTensor's dtype and rank. nnz and the dense shape's
-- values may change from call to call of a traced function.
local core = require("tlua.core")
local composite = require("tlua.composite")

local M = {}

local ops = core.ops
local S = core.sparse
local meta = S.meta

local function raise(kind, msg) core.raise(kind, msg) end

local function is_sparse(x) return S.is(x) end

-- Options last: (a, b, {k=v}) or ({a=, b=}) per TensorFlow's keyword names.
local function args(names, ...)
  local n = select("#", ...)
  local a = { ... }
  local o = {}
  if n > 0 and type(a[n]) == "table" and not core.is_tensor(a[n]) and not is_sparse(a[n]) and core.is_options(a[n]) then
    o = a[n]
    n = n - 1
  end
  local r = {}
  local known = {}
  for i, k in ipairs(names) do
    known[k] = true
    if i <= n then r[k] = a[i] end
  end
  for k, v in pairs(o) do
    if not known[k] then raise("InvalidArgument", ("unknown option '%s'"):format(tostring(k))) end
    r[k] = v
  end
  return r
end

local function int64(x, what)
  if core.is_tensor(x) then
    if x.dtype ~= core.as_dtype("int64") then
      if not (x.dtype.is_integer) then
        raise("InvalidArgument", ("%s must be an integer tensor, got %s"):format(what, x.dtype.name))
      end
      return ops.cast(x, core.as_dtype("int64"))
    end
    return x
  end
  return core.constant(x, core.as_dtype("int64"))
end

local function static_dim(t, i) -- 1-based dimension of t's static shape, or nil
  local s = t.shape:as_list()
  return s[i]
end

-- ---- the type --------------------------------------------------------------

local function new(indices, values, dense_shape)
  if indices == nil or values == nil or dense_shape == nil then
    raise("InvalidArgument", "tf.SparseTensor needs indices, values and dense_shape")
  end
  dense_shape = int64(dense_shape, "dense_shape")
  if type(indices) == "table" and not core.is_tensor(indices) and #indices == 0 then
    indices = ops.zeros({ 0, static_dim(dense_shape, 1) or 0 }, { dtype = core.as_dtype("int64") })
  end
  indices = int64(indices, "indices")
  if not core.is_tensor(values) then values = core.constant(values) end
  local ir, vr, sr = #indices.shape, #values.shape, #dense_shape.shape
  if ir ~= 2 then raise("InvalidArgument", ("SparseTensor: indices must be a matrix [nnz, rank], got shape %s"):format(tostring(indices.shape))) end
  if vr ~= 1 then raise("InvalidArgument", ("SparseTensor: values must be a vector, got shape %s"):format(tostring(values.shape))) end
  if sr ~= 1 then raise("InvalidArgument", ("SparseTensor: dense_shape must be a vector, got shape %s"):format(tostring(dense_shape.shape))) end
  local n1, n2 = static_dim(indices, 1), static_dim(values, 1)
  if n1 and n2 and n1 ~= n2 then
    raise("InvalidArgument", ("SparseTensor: indices have %d rows but values have %d elements"):format(n1, n2))
  end
  local r1, r2 = static_dim(indices, 2), static_dim(dense_shape, 1)
  if r1 and r2 and r1 ~= r2 then
    raise("InvalidArgument", ("SparseTensor: indices have %d columns but dense_shape has %d elements"):format(r1, r2))
  end
  return S.new(indices, values, dense_shape)
end

local function SparseTensor(a, b, c)
  if type(a) == "table" and not core.is_tensor(a) and b == nil and (a.indices ~= nil or a.values ~= nil) then
    return new(a.indices, a.values, a.dense_shape)
  end
  return new(a, b, c)
end

local function check_sparse(x, fn, arg)
  if not is_sparse(x) then
    raise("InvalidArgument", ("%s: %s must be a SparseTensor, got %s"):format(fn, arg or "sp_input",
      core.is_tensor(x) and "a dense tensor" or type(x)))
  end
  return x
end

local function rank_of(sp)
  return static_dim(sp.indices, 2) or static_dim(sp.dense_shape, 1)
end

-- dense_shape's values as a Lua list, when known (eager), else nil.
local function shape_values(sp, tf)
  if tf.is_symbolic_tensor and tf.is_symbolic_tensor(sp.dense_shape) then return nil end
  return sp.dense_shape:totable()
end

-- Components of a dense operand holding all of its elements (for tf.sets
-- and bincount, which count every element of a dense row).
local function dense_components(x)
  local shape = ops.shape(x, { out_type = core.as_dtype("int64") })
  local all = ops.fill(shape, true)
  return ops.where(all), ops.reshape(x, { -1 }), shape
end

function M.install(tf)
  local i64 = tf.int64
  local sp = tf.sparse
  local help = require("tlua.help")
  local function reg(name, f, doc, ns)
    (ns or sp)[name] = f
    help.register(f, doc)
  end

  tf.SparseTensor = SparseTensor
  sp.SparseTensor = SparseTensor
  help.register(SparseTensor, "tf.SparseTensor{indices=, values=, dense_shape=} (or positional): a sparse tensor "
    .. "from int64 indices [nnz, rank] (0-based), values [nnz] and dense_shape [rank]; fields indices, values, "
    .. "dense_shape, shape, dtype; st * dense, st * number, st / x, -st; methods are tf.sparse's functions")
  tf.is_sparse = is_sparse
  sp.is_sparse = is_sparse
  help.register(is_sparse, "tf.is_sparse(x): whether x is a tf.SparseTensor")

  meta.getters.dtype = function(s) return s.values.dtype end
  meta.getters.shape = function(s)
    local vals = shape_values(s, tf)
    if vals then return tf.TensorShape(vals) end
    local r = rank_of(s)
    return tf.TensorShape({}, r)
  end
  meta.getters.nnz = function(s) return static_dim(s.indices, 1) end
  meta.__name = "tl.SparseTensor"
  meta.__tostring = function(s)
    return ("SparseTensor(indices=%s, values=%s, dense_shape=%s)"):format(tostring(s.indices), tostring(s.values),
      tostring(s.dense_shape))
  end

  -- ---- conversion ------------------------------------------------------------

  reg("from_dense", function(x)
    if not core.is_tensor(x) then x = tf.constant(x) end
    local mask
    if x.dtype == tf.bool then mask = x
    elseif x.dtype == tf.string then mask = tf.not_equal(x, tf.constant("")) -- the empty string is the zero
    else mask = tf.not_equal(x, tf.zeros_like(x)) end
    local idx = ops.where(mask)
    return new(idx, ops.gather_nd(x, idx), ops.shape(x, { out_type = i64 }))
  end, "tf.sparse.from_dense(tensor): the non-zero elements of a dense tensor as a SparseTensor")

  local function to_dense(...)
    local a = args({ "sp_input", "default_value", "validate_indices" }, ...)
    local s = check_sparse(a.sp_input, "tf.sparse.to_dense")
    local dv = a.default_value
    if dv ~= nil and not core.is_tensor(dv) then dv = tf.constant(dv, s.dtype) end
    local v = a.validate_indices
    if v == nil then v = true end
    return ops.sparse_to_dense(s.indices, s.values, s.dense_shape, dv, { validate_indices = v })
  end
  reg("to_dense", to_dense, "tf.sparse.to_dense(sp_input, default_value=0, validate_indices=true): the dense tensor "
    .. "(indices must be sorted and unique when validate_indices)")

  local function reorder(s)
    check_sparse(s, "tf.sparse.reorder")
    local perm = ops.sparse_reorder_perm(s.indices, s.dense_shape)
    return new(ops.gather(s.indices, perm), ops.gather(s.values, perm), s.dense_shape)
  end
  reg("reorder", reorder, "tf.sparse.reorder(sp_input): the entries in row-major (canonical) order")

  reg("reshape", function(...)
    local a = args({ "sp_input", "shape" }, ...)
    local s = check_sparse(a.sp_input, "tf.sparse.reshape")
    local shape = a.shape
    if core.is_tensor(shape) then shape = shape:totable() end
    local ind, shp = ops.sparse_reshape(s.indices, s.dense_shape, { shape = shape })
    return new(ind, s.values, shp)
  end, "tf.sparse.reshape(sp_input, shape): the same entries in a new dense shape (one -1 inferred)")

  reg("transpose", function(...)
    local a = args({ "sp_input", "perm" }, ...)
    local s = check_sparse(a.sp_input, "tf.sparse.transpose")
    local r = rank_of(s)
    local perm = a.perm
    if core.is_tensor(perm) then perm = perm:totable() end
    if perm == nil then
      perm = {}
      for i = 1, r do perm[i] = r - i end
    end
    if #perm ~= r then
      raise("InvalidArgument", ("tf.sparse.transpose: perm has %d entries for rank %d"):format(#perm, r))
    end
    local seen = {}
    for _, p in ipairs(perm) do
      if math.type(p) ~= "integer" or p < 0 or p >= r or seen[p] then
        raise("InvalidArgument", ("tf.sparse.transpose: perm must be a permutation of 0..%d, got {%s}"):format(r - 1,
          table.concat(perm, ", ")))
      end
      seen[p] = true
    end
    local pt = tf.constant(perm, i64)
    return reorder(new(ops.gather(s.indices, pt, { axis = 1 }), s.values, ops.gather(s.dense_shape, pt)))
  end, "tf.sparse.transpose(sp_input, perm=reversed): dimensions permuted; the result is reordered")

  -- ---- combining -------------------------------------------------------------

  reg("add", function(...)
    local a = args({ "a", "b", "threshold" }, ...)
    local x, y = a.a, a.b
    if is_sparse(x) and is_sparse(y) then
      local ind, val = ops.sparse_add(x.indices, x.values, x.dense_shape, y.indices, y.values, y.dense_shape,
        { threshold = a.threshold or 0 })
      return new(ind, val, x.dense_shape)
    end
    if is_sparse(y) then x, y = y, x end
    check_sparse(x, "tf.sparse.add", "a or b")
    if not core.is_tensor(y) then y = tf.constant(y, x.dtype) end
    return ops.tensor_scatter_nd_add(y, x.indices, x.values)
  end, "tf.sparse.add(a, b, threshold=0): sparse + sparse (sums with |x| < threshold dropped) or sparse + dense "
    .. "(a dense tensor)")

  local function minmax(name, op)
    reg(name, function(a, b)
      check_sparse(a, "tf.sparse." .. name, "sp_a")
      check_sparse(b, "tf.sparse." .. name, "sp_b")
      local ind, val = op(a.indices, a.values, a.dense_shape, b.indices, b.values, b.dense_shape)
      return new(ind, val, a.dense_shape)
    end, ("tf.sparse.%s(sp_a, sp_b): element-wise %s of two sparse tensors of one shape (missing entries are 0)")
      :format(name, name))
  end
  minmax("maximum", ops.sparse_maximum)
  minmax("minimum", ops.sparse_minimum)

  reg("concat", function(...)
    local a = args({ "axis", "sp_inputs", "expand_nonconcat_dims" }, ...)
    local list = a.sp_inputs
    if type(list) ~= "table" or #list == 0 then
      raise("InvalidArgument", "tf.sparse.concat: sp_inputs must be a non-empty list of SparseTensors")
    end
    for i, s in ipairs(list) do check_sparse(s, "tf.sparse.concat", ("sp_inputs[%d]"):format(i)) end
    local r = rank_of(list[1])
    local axis = a.axis
    if math.type(axis) ~= "integer" or axis < -r or axis >= r then
      raise("InvalidArgument", ("tf.sparse.concat: axis %s is out of range for rank %d"):format(tostring(axis), r))
    end
    if axis < 0 then axis = axis + r end
    local hot = {}
    for d = 1, r do hot[d] = d - 1 == axis and 1 or 0 end
    local onehot = tf.constant(hot, i64)
    local ax = tf.constant(axis, i64)
    local off = tf.constant(0, i64)
    local inds, vals, shapes = {}, {}, {}
    for i, s in ipairs(list) do
      if rank_of(s) ~= r then
        raise("InvalidArgument", ("tf.sparse.concat: sp_inputs[%d] has rank %s, sp_inputs[1] has %d"):format(i,
          tostring(rank_of(s)), r))
      end
      inds[i] = s.indices + off * onehot
      vals[i] = s.values
      shapes[i] = s.dense_shape
      off = off + ops.gather(s.dense_shape, ax)
    end
    local out_shape
    if a.expand_nonconcat_dims then
      out_shape = ops.reduce_max(ops.stack(shapes), { axis = 0 })
    else
      out_shape = shapes[1]
      local first = shape_values(list[1], tf)
      for i = 2, #list do
        local other = shape_values(list[i], tf)
        if first and other then
          for d = 1, r do
            if d - 1 ~= axis and first[d] ~= other[d] then
              raise("InvalidArgument", ("tf.sparse.concat: sp_inputs[%d]'s dimension %d is %d but sp_inputs[1]'s is %d "
                .. "(pass expand_nonconcat_dims=true to take the largest)"):format(i, d - 1, other[d], first[d]))
            end
          end
        end
      end
    end
    out_shape = out_shape * (1 - onehot) + off * onehot
    return reorder(new(ops.concat(inds, { axis = 0 }), ops.concat(vals, { axis = 0 }), out_shape))
  end, "tf.sparse.concat(axis, sp_inputs, expand_nonconcat_dims=false): sparse tensors joined along axis")

  reg("slice", function(...)
    local a = args({ "sp_input", "start", "size" }, ...)
    local s = check_sparse(a.sp_input, "tf.sparse.slice")
    local start, size = a.start, a.size
    if core.is_tensor(start) then start = start:totable() end
    if core.is_tensor(size) then size = size:totable() end
    local pos, ind, shp = ops.sparse_slice(s.indices, s.dense_shape, { start = start, size = size })
    return new(ind, ops.gather(s.values, pos), shp)
  end, "tf.sparse.slice(sp_input, start, size): the entries in [start, start + size), re-based at start")

  reg("retain", function(s, to_retain)
    check_sparse(s, "tf.sparse.retain")
    if not core.is_tensor(to_retain) then to_retain = tf.constant(to_retain, tf.bool) end
    if to_retain.dtype ~= tf.bool then
      raise("InvalidArgument", ("tf.sparse.retain: to_retain must be bool, got %s"):format(to_retain.dtype.name))
    end
    return new(ops.boolean_mask(s.indices, to_retain), ops.boolean_mask(s.values, to_retain), s.dense_shape)
  end, "tf.sparse.retain(sp_input, to_retain): the entries where the bool vector to_retain is true")

  -- ---- reductions ------------------------------------------------------------

  local function reducer(name, op)
    local function f(...)
      local a = args({ "sp_input", "axis", "keepdims", "output_is_sparse" }, ...)
      local s = check_sparse(a.sp_input, "tf.sparse." .. name)
      local o = { keepdims = a.keepdims or false }
      if a.axis ~= nil then o.axis = core.is_tensor(a.axis) and a.axis:totable() or a.axis end
      local dense = op(s.indices, s.values, s.dense_shape, o)
      if not a.output_is_sparse then return dense end
      -- the groups that hold entries, as TensorFlow's *_sparse ops give them
      local count = ops.sparse_reduce_sum(s.indices, tf.ones_like(s.values, { dtype = tf.int32 }), s.dense_shape, o)
      local idx = ops.where(tf.greater(count, 0))
      return new(idx, ops.gather_nd(dense, idx), ops.shape(dense, { out_type = i64 }))
    end
    reg(name, f, ("tf.sparse.%s(sp_input, axis=all, keepdims=false, output_is_sparse=false): the %s over axis; a "
      .. "dense tensor, or a SparseTensor of the groups holding entries"):format(name, name:match("reduce_(%a+)")))
    reg(name .. "_sparse", function(s, axis, keepdims)
      return f(s, { axis = axis, keepdims = keepdims, output_is_sparse = true })
    end, ("tf.sparse.%s_sparse(sp_input, axis, keepdims): %s with output_is_sparse=true"):format(name, name))
  end
  reducer("reduce_sum", ops.sparse_reduce_sum)
  reducer("reduce_max", ops.sparse_reduce_max)

  -- ---- products --------------------------------------------------------------

  local function matmul(...)
    local a = args({ "sp_a", "b", "adjoint_a", "adjoint_b" }, ...)
    local x, y = a.sp_a, a.b
    local adj_a, adj_b = a.adjoint_a or false, a.adjoint_b or false
    if is_sparse(x) then
      if not core.is_tensor(y) then y = tf.constant(y, x.dtype) end
      return ops.sparse_dense_matmul(x.indices, x.values, x.dense_shape, y, { adjoint_a = adj_a, adjoint_b = adj_b })
    end
    check_sparse(y, "tf.sparse.sparse_dense_matmul", "sp_a or b")
    if not core.is_tensor(x) then x = tf.constant(x, y.dtype) end
    -- op(A) op(B) = (op(B)^T op(A)^T)^T with B sparse
    local t = ops.sparse_dense_matmul(y.indices, y.values, y.dense_shape, x, { adjoint_a = not adj_b, adjoint_b = not adj_a })
    return ops.transpose(t, { perm = { 1, 0 } })
  end
  reg("sparse_dense_matmul", matmul, "tf.sparse.sparse_dense_matmul(sp_a, b, adjoint_a=false, adjoint_b=false): "
    .. "op(sp_a) @ op(b) for a sparse and a dense matrix (either may be the sparse one); gradients for the dense "
    .. "operand and the sparse values")
  sp.matmul = matmul

  -- values * dense[index] with dense broadcast to the sparse shape
  local function mul_dense(s, d, op)
    if not core.is_tensor(d) then d = tf.constant(d, s.dtype) end
    local ds, nd = d.shape:as_list(), #d.shape
    local r = rank_of(s)
    if nd == 0 then return new(s.indices, op(s.values, d), s.dense_shape) end
    if nd > r then
      raise("InvalidArgument", ("SparseTensor * dense: the dense operand's rank %d is over the sparse rank %d"):format(nd, r))
    end
    local cols, keep = {}, {}
    for k = 1, nd do
      cols[k] = r - nd + k - 1
      if ds[k] == nil then raise("InvalidArgument", "SparseTensor * dense: the dense operand's shape must be known") end
      keep[k] = ds[k] == 1 and 0 or 1
    end
    local idx = ops.gather(s.indices, tf.constant(cols, i64), { axis = 1 }) * tf.constant(keep, i64)
    return new(s.indices, op(s.values, ops.gather_nd(d, idx)), s.dense_shape)
  end
  reg("multiply", function(s, d)
    check_sparse(s, "tf.sparse.multiply")
    return mul_dense(s, d, ops.multiply)
  end, "tf.sparse.multiply(sp, dense): sp * dense element-wise, dense broadcast to sp's shape (a SparseTensor; "
    .. "also sp * dense)")
  meta.__mul = function(a, b)
    if is_sparse(a) and is_sparse(b) then
      raise("InvalidArgument", "SparseTensor * SparseTensor is not supported (multiply by a dense tensor)")
    end
    if is_sparse(a) then return mul_dense(a, b, ops.multiply) end
    return mul_dense(b, a, function(v, g) return ops.multiply(g, v) end)
  end
  meta.__div = function(a, b)
    if not is_sparse(a) or is_sparse(b) then raise("InvalidArgument", "only SparseTensor / dense is supported") end
    return mul_dense(a, b, ops.divide)
  end
  meta.__unm = function(a) return new(a.indices, ops.negative(a.values), a.dense_shape) end

  reg("to_indicator", function(s, vocab_size)
    check_sparse(s, "tf.sparse.to_indicator")
    local r = rank_of(s)
    if not s.dtype.is_integer then
      raise("InvalidArgument", ("tf.sparse.to_indicator: values must be integers, got %s"):format(s.dtype.name))
    end
    local lead = ops.gather(s.indices, ops.range(0, r - 1, 1, { dtype = i64 }), { axis = 1 })
    local ind = ops.concat({ lead, ops.reshape(ops.cast(s.values, i64), { -1, 1 }) }, { axis = 1 })
    local shp = ops.concat({ ops.gather(s.dense_shape, ops.range(0, r - 1, 1, { dtype = i64 })),
      tf.constant({ vocab_size }, i64) }, { axis = 0 })
    local ones = tf.ones_like(s.values, { dtype = tf.bool })
    return ops.sparse_to_dense(reorder(new(ind, ones, shp)).indices, ones, shp, nil, { validate_indices = false })
  end, "tf.sparse.to_indicator(sp_input, vocab_size): a dense bool tensor [..., vocab_size], true at each row's "
    .. "values")

  reg("bincount", function(...)
    local a = args({ "values", "weights", "axis", "minlength", "maxlength", "binary_output" }, ...)
    local ind, val, shp
    if is_sparse(a.values) then
      ind, val, shp = a.values.indices, a.values.values, a.values.dense_shape
    else
      local x = a.values
      if not core.is_tensor(x) then x = tf.constant(x) end
      ind, val, shp = dense_components(x)
    end
    local w = a.weights
    if is_sparse(w) then w = w.values
    elseif w ~= nil then
      if not core.is_tensor(w) then w = tf.constant(w) end
      w = ops.reshape(w, { -1 })
    end
    local axis = a.axis or 0
    local oi, ov, os = ops.sparse_bincount(ind, val, shp, w, { minlength = a.minlength or -1,
      maxlength = a.maxlength or -1, binary_output = a.binary_output or false, axis = axis })
    return new(oi, ov, os)
  end, "tf.sparse.bincount(values, weights, axis=0, minlength, maxlength, binary_output=false): counts (or weight "
    .. "sums) per value as a SparseTensor, overall (axis 0) or per row of a 2-D input (axis -1)")

  -- ---- extras ------------------------------------------------------------------

  reg("eye", function(num_rows, num_columns, dtype)
    if core.is_options(num_columns) then num_columns, dtype = num_columns.num_columns, num_columns.dtype end
    num_columns = num_columns or num_rows
    local n = math.min(num_rows, num_columns)
    local r = ops.range(0, n, 1, { dtype = i64 })
    return new(ops.stack({ r, r }, { axis = 1 }), tf.ones({ n }, dtype or tf.float32),
      tf.constant({ num_rows, num_columns }, i64))
  end, "tf.sparse.eye(num_rows, num_columns=num_rows, dtype=float32): a sparse identity matrix")

  reg("fill_empty_rows", function(s, default_value)
    check_sparse(s, "tf.sparse.fill_empty_rows")
    local ind, src, empty = ops.sparse_fill_empty_rows(s.indices, s.dense_shape)
    local dv = core.is_tensor(default_value) and default_value or tf.constant(default_value, s.dtype)
    local ext = ops.concat({ s.values, ops.reshape(dv, { 1 }) }, { axis = 0 })
    local nnz = ops.size(s.values, { out_type = i64 })
    local at = ops.where(tf.greater_equal(src, 0), src, ops.fill(ops.shape(src, { out_type = i64 }), nnz))
    return new(ind, ops.gather(ext, at), s.dense_shape), empty
  end, "tf.sparse.fill_empty_rows(sp_input, default_value): (sp, empty_row_indicator): an entry [row, 0, ...] "
    .. "holding default_value added to each empty row")

  reg("softmax", function(s)
    check_sparse(s, "tf.sparse.softmax")
    local dense = ops.sparse_to_dense(s.indices, s.values, s.dense_shape, tf.constant(-math.huge, s.dtype),
      { validate_indices = false })
    return new(s.indices, ops.gather_nd(tf.nn.softmax(dense), s.indices), s.dense_shape)
  end, "tf.sparse.softmax(sp_input): softmax over each row's (last dimension's) entries; missing entries take no part")

  for _, mode in ipairs({ "sum", "mean", "sqrt_n" }) do
    reg("segment_" .. mode, function(...)
      local a = args({ "data", "indices", "segment_ids", "num_segments" }, ...)
      local data = core.is_tensor(a.data) and a.data or tf.constant(a.data)
      local n = a.num_segments
      if core.is_tensor(n) then n = n:item() end
      return ops.sparse_segment_reduce(data, a.indices, a.segment_ids, { mode = mode, num_segments = n or -1 })
    end, ("tf.sparse.segment_%s(data, indices, segment_ids, num_segments): per sorted segment id, the %s of the "
      .. "rows data[indices] (0 for an empty segment)"):format(mode, mode == "sqrt_n" and "sum / sqrt(count)" or mode))
  end

  -- methods: st:to_dense(), st:reorder(), ...
  for k, f in pairs(sp) do
    if type(f) == "function" and k ~= "SparseTensor" and k ~= "is_sparse" and k ~= "eye" and not k:match("^segment_") then meta.methods[k] = f end
  end
  meta.methods.with_values = function(s, v) return new(s.indices, v, s.dense_shape) end
  meta.methods.get_shape = function(s) return s.shape end
  meta.methods.consumers = nil

  -- ---- tf.sets -------------------------------------------------------------------

  local function set_components(x, what)
    if is_sparse(x) then return x.indices, x.values, x.dense_shape end
    if not core.is_tensor(x) then x = tf.constant(x) end
    if #x.shape < 2 then
      raise("InvalidArgument", ("tf.sets: %s must have rank at least 2 (rows of elements), got shape %s"):format(what,
        tostring(x.shape)))
    end
    return dense_components(x)
  end
  local function set_op(kind, a, b, validate)
    if validate == nil then validate = true end
    local ai, av, as = set_components(a, "a")
    local bi, bv, bs = set_components(b, "b")
    local oi, ov, os = ops.set_operation(ai, av, as, bi, bv, bs, { set_operation = kind, validate_indices = validate })
    return new(oi, ov, os)
  end
  local sets = tf.sets
  local function vflag(x)
    if core.is_options(x) then x = x.validate_indices end
    if x == nil then return true end
    return x
  end
  reg("intersection", function(a, b, validate_indices)
    return set_op("intersection", a, b, vflag(validate_indices))
  end, "tf.sets.intersection(a, b, validate_indices=true): per row (last dimension), the elements in both, sorted; "
    .. "a SparseTensor", sets)
  reg("union", function(a, b, validate_indices)
    return set_op("union", a, b, vflag(validate_indices))
  end, "tf.sets.union(a, b, validate_indices=true): per row, the elements in either, sorted; a SparseTensor", sets)
  reg("difference", function(a, b, aminusb, validate_indices)
    if core.is_options(aminusb) then aminusb, validate_indices = aminusb.aminusb, aminusb end
    if aminusb == nil then aminusb = true end
    return set_op(aminusb and "a-b" or "b-a", a, b, vflag(validate_indices))
  end, "tf.sets.difference(a, b, aminusb=true, validate_indices=true): per row, the elements of a not in b (b not "
    .. "in a with aminusb=false), sorted; a SparseTensor", sets)
  reg("size", function(a, validate_indices)
    validate_indices = vflag(validate_indices)
    if not is_sparse(a) then
      raise("InvalidArgument", "tf.sets.size: a must be a SparseTensor (tf.sparse.from_dense converts a dense one)")
    end
    return ops.set_size(a.indices, a.values, a.dense_shape, { validate_indices = validate_indices })
  end, "tf.sets.size(a, validate_indices=true): the number of distinct elements per row of a SparseTensor (int32)",
    sets)
  sets.set_intersection, sets.set_union, sets.set_difference, sets.set_size =
    sets.intersection, sets.union, sets.difference, sets.size

  -- ---- tracing ---------------------------------------------------------------------

  composite.register(meta, {
    name = "SparseTensor",
    flatten = function(s)
      return { s.indices, s.values, s.dense_shape }, s.dtype.name .. "," .. tostring(rank_of(s))
    end,
    unflatten = function(_, c) return new(c[1], c[2], c[3]) end,
    -- nnz changes from call to call; the rank does not
    dynamic = function(_, i) if i == 1 or i == 2 then return { 0 } end end,
  })
end

return M
