-- tlua.math_extra: TensorFlow functions that are compositions of existing
-- ops (issue 11): einsum, the sorted segment reductions, the mean/sqrt_n
-- unsorted ones, roll, repeat, sequence_mask, meshgrid, the x*/no_nan
-- family, polyval, l2_normalize, clip_by_norm/clip_by_global_norm,
-- identity_n and timestamp. Each is built from registry ops, so its
-- gradient comes from theirs (matmul/transpose/reshape for einsum).
--
-- What it deliberately does not do: functions whose output size depends on
-- values (segment_*: num_segments = last id + 1; repeat: the repeat counts;
-- sequence_mask without maxlen) read those values on the host, so they run
-- eagerly only (inside tf.trace they raise like any host read).
local M = {}

function M.install(tf)
  local core = tf.core
  local check_options = require("tlua.errors").check_options

  local function raise(kind, msg) core.raise(kind, msg) end

  -- a Lua value becomes a tensor; like: a tensor whose dtype/device it takes
  local function T(x, like)
    if core.is_tensor(x) then return x end
    if like ~= nil and core.is_tensor(like) then return core.constant_on(x, like.dtype, like.device) end
    return core.constant(x)
  end

  local function ints_of(x, what, fname)
    if core.is_tensor(x) then x = x:totable() end
    if math.type(x) == "integer" then return { x }, true end
    if type(x) ~= "table" then raise("InvalidArgument", ("%s: %s must be an integer or a list of integers"):format(fname, what)) end
    for i, v in ipairs(x) do
      if math.type(v) ~= "integer" then
        raise("InvalidArgument", ("%s: %s entry %d must be an integer"):format(fname, what, i))
      end
    end
    return x, false
  end

  local function split_opts(fname, opts, allowed)
    if opts ~= nil and not core.is_options(opts) then
      raise("InvalidArgument", fname .. ": expected an options table as the last argument")
    end
    check_options(fname, opts, allowed)
    return opts or {}
  end

  -- ---- the x*y / x/y family: 0 where x (or y) is 0, NaN-free gradients ---
  -- The unselected branch is computed on safe operands so its gradient is
  -- finite (a where() passes zero to it, and 0 * inf would be NaN).
  -- f(x, y), and 0 where the masking operand (x, or y with mask_y) is 0;
  -- the other operand is first made safe there so the branch tf.where
  -- drops, and its gradient, stay finite
  local function zero_where(x, y, mask_y, safe, f)
    x = T(x, y); y = T(y, x)
    local zero = tf.equal(mask_y and y or x, 0)
    local r
    if mask_y then r = f(tf.where(zero, safe(x), x), y) else r = f(x, tf.where(zero, safe(y), y)) end
    return tf.where(zero, tf.zeros_like(r), r)
  end
  local function xdivy(x, y) return zero_where(x, y, false, tf.ones_like, tf.divide) end
  local function xlogy(x, y)
    return zero_where(x, y, false, tf.ones_like, function(a, b) return tf.multiply(a, tf.math.log(b)) end)
  end
  local function xlog1py(x, y)
    return zero_where(x, y, false, tf.zeros_like, function(a, b) return tf.multiply(a, tf.math.log1p(b)) end)
  end
  local function multiply_no_nan(x, y) return zero_where(x, y, true, tf.zeros_like, tf.multiply) end

  -- ---- segment reductions ----------------------------------------------
  -- counts per segment, shaped [n, 1, ..., 1] to divide data's rows
  local function seg_counts(data, ids, n)
    local c = tf.math.unsorted_segment_sum(tf.ones_like(ids, data.dtype), ids, n)
    local shape = { -1 }
    for _ = ids.ndim + 1, data.ndim do shape[#shape + 1] = 1 end
    return tf.reshape(c, shape)
  end
  local function unsorted_mean(data, ids, n)
    data = T(data); ids = T(ids)
    local s = tf.math.unsorted_segment_sum(data, ids, n)
    return tf.divide(s, tf.maximum(seg_counts(data, ids, n), 1))
  end
  local function unsorted_sqrt_n(data, ids, n)
    data = T(data); ids = T(ids)
    local s = tf.math.unsorted_segment_sum(data, ids, n)
    return tf.divide(s, tf.sqrt(tf.maximum(seg_counts(data, ids, n), 1)))
  end

  -- sorted: ids must be non-decreasing and non-negative; the output has
  -- last id + 1 rows, an empty segment gives 0 (1 for prod) as in TensorFlow.
  local function sorted(name, unsorted, empty_fix)
    local fname = "segment_" .. name
    return function(data, ids)
      data = T(data); ids = T(ids)
      if ids.ndim ~= 1 then
        raise("InvalidArgument", ("%s: segment_ids must be a vector (got shape %s)"):format(fname, tostring(ids.shape)))
      end
      if data.ndim < 1 or data.shape:as_list()[1] ~= ids.shape:as_list()[1] then
        raise("InvalidArgument", ("%s: segment_ids should be the same size as dimension 0 of data (%s vs %s)")
          :format(fname, tostring(ids.shape), tostring(data.shape)))
      end
      local v = ids:totable()
      local prev = 0
      for i, id in ipairs(v) do
        if id < 0 then raise("InvalidArgument", ("%s: segment id %d at index %d is negative"):format(fname, id, i - 1)) end
        if id < prev then
          raise("InvalidArgument", ("%s: segment ids are not increasing (%d after %d at index %d)"):format(fname, id, prev, i - 1))
        end
        prev = id
      end
      local n = #v > 0 and v[#v] + 1 or 0
      local r = unsorted(data, ids, n)
      if empty_fix then
        local nonempty = tf.greater(seg_counts(data, ids, n), 0)
        r = tf.where(tf.broadcast_to(nonempty, r.shape:as_list()), r, tf.zeros_like(r))
      end
      return r
    end
  end

  -- ---- shape helpers ------------------------------------------------------
  local function roll(input, shift, axis)
    input = T(input)
    local shifts, s1 = ints_of(shift, "shift", "roll")
    local axes, a1 = ints_of(axis, "axis", "roll")
    if #shifts ~= #axes or s1 ~= a1 then
      raise("InvalidArgument", ("roll: shift and axis must have the same size (%d vs %d)"):format(#shifts, #axes))
    end
    local dims = input.shape:as_list()
    local total = {}
    for i, a in ipairs(axes) do
      local ax = a < 0 and a + input.ndim or a
      if ax < 0 or ax >= input.ndim then
        raise("InvalidArgument", ("roll: axis %d is out of range for a rank-%d input"):format(a, input.ndim))
      end
      total[ax] = (total[ax] or 0) + shifts[i]
    end
    local out = input
    for ax = 0, input.ndim - 1 do
      local n = dims[ax + 1]
      local s = total[ax]
      if s and n > 0 and s % n ~= 0 then
        s = s % n -- the last s elements move to the front
        local b1, z1, b2, z2 = {}, {}, {}, {}
        for d = 1, input.ndim do b1[d], z1[d], b2[d], z2[d] = 0, -1, 0, -1 end
        b1[ax + 1], z1[ax + 1] = n - s, s
        z2[ax + 1] = n - s
        out = tf.concat({ tf.slice(out, b1, z1), tf.slice(out, b2, z2) }, ax)
      end
    end
    return out
  end

  -- tf.repeat(input, repeats, axis): repeats a scalar or one count per slice
  -- along axis; axis nil flattens first.
  local function repeat_(input, repeats, axis, opts)
    if core.is_options(axis) then opts, axis = axis, nil end
    opts = split_opts("repeat", opts, { axis = true, name = true })
    if axis == nil then axis = opts.axis end
    input = T(input)
    if axis == nil then input = tf.reshape(input, { -1 }); axis = 0 end
    if math.type(axis) ~= "integer" then raise("InvalidArgument", "repeat: axis must be an integer") end
    local ax = axis < 0 and axis + input.ndim or axis
    if ax < 0 or ax >= input.ndim then
      raise("InvalidArgument", ("repeat: axis %d is out of range for a rank-%d input"):format(axis, input.ndim))
    end
    local n = input.shape:as_list()[ax + 1]
    local reps, scalar = ints_of(repeats, "repeats", "repeat")
    if scalar or #reps == 1 then
      local r = reps[1]; reps = {}
      for i = 1, n do reps[i] = r end
    end
    if #reps ~= n then
      raise("InvalidArgument", ("repeat: repeats has %d entries but axis %d has size %d"):format(#reps, axis, n))
    end
    local idx = {}
    for i, r in ipairs(reps) do
      if r < 0 then raise("InvalidArgument", ("repeat: repeats entry %d is negative (%d)"):format(i - 1, r)) end
      for _ = 1, r do idx[#idx + 1] = i - 1 end
    end
    return tf.gather(input, tf.constant(idx, tf.int32, { #idx }), { axis = ax })
  end

  local function sequence_mask(lengths, maxlen, dtype, opts)
    if core.is_options(maxlen) then opts, maxlen = maxlen, nil
    elseif core.is_options(dtype) then opts, dtype = dtype, nil end
    opts = split_opts("sequence_mask", opts, { maxlen = true, dtype = true, name = true })
    if maxlen == nil then maxlen = opts.maxlen end
    if dtype == nil then dtype = opts.dtype end
    lengths = T(lengths)
    if maxlen == nil then
      maxlen = lengths.shape:num_elements() == 0 and 0 or tf.reduce_max(lengths):item()
    elseif core.is_tensor(maxlen) then
      maxlen = maxlen:item()
    end
    if maxlen < 0 then raise("InvalidArgument", ("sequence_mask: maxlen must be non-negative (got %s)"):format(tostring(maxlen))) end
    local r = tf.range(0, math.tointeger(maxlen) or maxlen, 1, { dtype = lengths.dtype })
    local m = tf.less(r, tf.expand_dims(lengths, -1))
    if dtype ~= nil and tostring(tf.as_dtype and tf.as_dtype(dtype) or dtype) ~= "tf.bool" then m = tf.cast(m, dtype) end
    return m
  end

  -- tf.meshgrid(x1, x2, ..., {indexing="xy"|"ij"}): list of N-D grids
  local function meshgrid(...)
    local args = table.pack(...)
    local opts
    if args.n > 0 and core.is_options(args[args.n]) then opts = args[args.n]; args.n = args.n - 1 end
    opts = split_opts("meshgrid", opts, { indexing = true, name = true })
    local indexing = opts.indexing or "xy"
    if indexing ~= "xy" and indexing ~= "ij" then
      raise("InvalidArgument", ("meshgrid: indexing must be 'xy' or 'ij' (got %s)"):format(tostring(indexing)))
    end
    local xs, sizes = {}, {}
    for i = 1, args.n do
      xs[i] = tf.reshape(T(args[i]), { -1 })
      sizes[i] = xs[i].shape:as_list()[1]
    end
    local n = args.n
    local pos = {}
    for i = 1, n do pos[i] = i end
    if indexing == "xy" and n >= 2 then pos[1], pos[2] = 2, 1 end
    local outshape = {}
    for i = 1, n do outshape[pos[i]] = sizes[i] end
    local out = {}
    for i = 1, n do
      local shape = {}
      for d = 1, n do shape[d] = 1 end
      shape[pos[i]] = -1
      out[i] = tf.broadcast_to(tf.reshape(xs[i], shape), outshape)
    end
    return out
  end

  -- ---- numeric helpers ----------------------------------------------------
  local function polyval(coeffs, x)
    x = T(x)
    if type(coeffs) ~= "table" or core.is_tensor(coeffs) then
      raise("InvalidArgument", "polyval: coeffs must be a list of tensors or numbers")
    end
    if #coeffs == 0 then return tf.zeros_like(x) end
    local p = tf.add(tf.zeros_like(x), T(coeffs[1], x))
    for i = 2, #coeffs do p = tf.add(tf.multiply(p, x), T(coeffs[i], x)) end
    return p
  end

  local function l2_normalize(x, axis, epsilon, opts)
    if core.is_options(axis) then opts, axis = axis, nil
    elseif core.is_options(epsilon) then opts, epsilon = epsilon, nil end
    opts = split_opts("l2_normalize", opts, { axis = true, epsilon = true, name = true, dim = true })
    if axis == nil then axis = opts.axis or opts.dim end
    if epsilon == nil then epsilon = opts.epsilon or 1e-12 end
    x = T(x)
    local ss = axis == nil and tf.reduce_sum(tf.square(x), { axis = nil, keepdims = true })
      or tf.reduce_sum(tf.square(x), { axis = axis, keepdims = true })
    return tf.multiply(x, tf.math.rsqrt(tf.maximum(ss, epsilon)))
  end

  -- TensorFlow's clip_by_norm: t * clip / max(||t||, clip), with the norm's
  -- gradient kept finite at t = 0.
  local function clip_by_norm(t, clip_norm, axes, opts)
    if core.is_options(axes) then opts, axes = axes, nil end
    opts = split_opts("clip_by_norm", opts, { axes = true, name = true })
    if axes == nil then axes = opts.axes end
    t = T(t)
    local ss = tf.reduce_sum(tf.multiply(t, t), { axis = axes, keepdims = true })
    local pos = tf.greater(ss, 0)
    local norm = tf.where(pos, tf.sqrt(tf.where(pos, ss, tf.ones_like(ss))), ss)
    local c = T(clip_norm, t)
    return tf.divide(tf.multiply(t, c), tf.maximum(norm, c))
  end

  local function global_norm(list)
    local parts = {}
    for i, t in ipairs(list) do
      if t ~= nil then parts[#parts + 1] = tf.reduce_sum(tf.square(T(t))) end
    end
    if #parts == 0 then raise("InvalidArgument", "global_norm: the list has no tensors") end
    return tf.sqrt(#parts == 1 and parts[1] or tf.add_n(parts))
  end

  -- returns the clipped list and the global norm (Python's pair)
  local function clip_by_global_norm(list, clip_norm, use_norm, opts)
    if core.is_options(use_norm) then opts, use_norm = use_norm, nil end
    opts = split_opts("clip_by_global_norm", opts, { use_norm = true, name = true })
    if use_norm == nil then use_norm = opts.use_norm end
    if type(list) ~= "table" or core.is_tensor(list) then
      raise("InvalidArgument", "clip_by_global_norm: t_list must be a list of tensors")
    end
    local gn = use_norm and T(use_norm) or global_norm(list)
    local c = T(clip_norm, gn)
    local scale = tf.multiply(c, tf.minimum(tf.divide(1, gn), tf.divide(1, c)))
    local out = {}
    for i, t in ipairs(list) do out[i] = tf.multiply(T(t), tf.cast(scale, T(t).dtype)) end
    return out, gn
  end

  local function identity_n(list)
    local out = {}
    for i, t in ipairs(list) do out[i] = tf.identity(T(t)) end
    return out
  end

  -- seconds since the epoch as a float64 scalar: os.time() anchors the
  -- monotonic clock once, so successive stamps never go backwards.
  local epoch0 = os.time() - core.now()
  local function timestamp() return core.constant(epoch0 + core.now(), tf.float64) end

  local help = require("tlua.help")
  local function reg(f, doc) return help.register(f, doc) end
  tf.math.xdivy = reg(xdivy, "tf.math.xdivy(x, y): x / y, 0 where x is 0. Example: tf.math.xdivy(tf.constant({0.0, 1.0}), tf.constant({0.0, 2.0}))")
  tf.math.xlogy = reg(xlogy, "tf.math.xlogy(x, y): x * log(y), 0 where x is 0. Example: tf.math.xlogy(tf.constant({0.0, 2.0}), tf.constant({0.0, 4.0}))")
  tf.math.xlog1py = reg(xlog1py, "tf.math.xlog1py(x, y): x * log1p(y), 0 where x is 0. Example: tf.math.xlog1py(tf.constant({0.0, 2.0}), tf.constant({-1.0, 1.0}))")
  tf.math.multiply_no_nan = reg(multiply_no_nan, "tf.math.multiply_no_nan(x, y): x * y, 0 where y is 0 even if x is inf or NaN. Example: tf.math.multiply_no_nan(tf.constant({math.huge}), tf.constant({0.0}))")
  tf.math.unsorted_segment_mean = reg(unsorted_mean, "tf.math.unsorted_segment_mean(data, segment_ids, num_segments): mean of data's rows per id (0 for an empty segment). Example: tf.math.unsorted_segment_mean(tf.constant({1.0, 2.0, 4.0}), tf.constant({1, 1, 0}), 2)")
  tf.math.unsorted_segment_sqrt_n = reg(unsorted_sqrt_n, "tf.math.unsorted_segment_sqrt_n(data, segment_ids, num_segments): sum per id / sqrt(count). Example: tf.math.unsorted_segment_sqrt_n(tf.constant({1.0, 2.0}), tf.constant({0, 0}), 1)")
  local sdoc = "(data, segment_ids): %s of data's rows per sorted segment id; the output has last id + 1 rows (eager only: it reads the ids). Example: tf.math.segment_%s(tf.constant({1.0, 2.0, 3.0}), tf.constant({0, 0, 1}))"
  tf.math.segment_sum = reg(sorted("sum", tf.math.unsorted_segment_sum), "tf.math.segment_sum" .. sdoc:format("sum", "sum"))
  tf.math.segment_mean = reg(sorted("mean", unsorted_mean), "tf.math.segment_mean" .. sdoc:format("mean (0 if empty)", "mean"))
  tf.math.segment_prod = reg(sorted("prod", tf.math.unsorted_segment_prod), "tf.math.segment_prod" .. sdoc:format("product (1 if empty)", "prod"))
  tf.math.segment_max = reg(sorted("max", tf.math.unsorted_segment_max, true), "tf.math.segment_max" .. sdoc:format("maximum (0 if empty)", "max"))
  tf.math.segment_min = reg(sorted("min", tf.math.unsorted_segment_min, true), "tf.math.segment_min" .. sdoc:format("minimum (0 if empty)", "min"))
  tf.roll = reg(roll, "tf.roll(input, shift, axis): elements shifted along axis (ints or lists), wrapping around. Example: tf.roll(tf.range(5), 2, 0)")
  tf["repeat"] = reg(repeat_, "tf[\"repeat\"](input, repeats, axis?): each slice along axis repeated (a count or one per slice); no axis: flattened first. Example: tf[\"repeat\"](tf.constant({1, 2}), {2, 1}, 0)")
  tf.sequence_mask = reg(sequence_mask, "tf.sequence_mask(lengths, maxlen?, dtype?): mask[..., j] = j < lengths[...] (bool unless dtype). Example: tf.sequence_mask(tf.constant({1, 3}), 4)")
  tf.meshgrid = reg(meshgrid, "tf.meshgrid(x1, x2, ..., {indexing = \"xy\"|\"ij\"}): a list of N-D coordinate grids. Example: tf.meshgrid(tf.constant({1, 2, 3}), tf.constant({4, 5}))")
  tf.math.polyval = reg(polyval, "tf.math.polyval(coeffs, x): coeffs[1] * x^(n-1) + ... + coeffs[n] (Horner). Example: tf.math.polyval({3.0, 2.0, 1.0}, tf.constant({2.0}))")
  local l2 = reg(l2_normalize, "l2_normalize(x, axis?, epsilon = 1e-12): x / sqrt(max(sum(x^2, axis), epsilon)). Example: tf.nn.l2_normalize(tf.constant({3.0, 4.0}))")
  tf.math.l2_normalize, tf.nn.l2_normalize = l2, l2
  tf.clip_by_norm = reg(clip_by_norm, "tf.clip_by_norm(t, clip_norm, axes?): t * clip_norm / max(l2norm(t, axes), clip_norm). Example: tf.clip_by_norm(tf.constant({3.0, 4.0}), 1.0)")
  tf.clip_by_global_norm = reg(clip_by_global_norm, "tf.clip_by_global_norm(t_list, clip_norm, use_norm?): the list scaled by clip_norm / max(global_norm, clip_norm), and the global norm (two results). Example: tf.clip_by_global_norm({tf.constant({3.0}), tf.constant({4.0})}, 1.0)")
  tf.identity_n = reg(identity_n, "tf.identity_n(list): a list of identities of the tensors. Example: tf.identity_n({tf.constant(1), tf.constant(2)})")
  tf.timestamp = reg(timestamp, "tf.timestamp(): seconds since the epoch, a float64 scalar (monotonic within a run). Example: tf.timestamp()")
  -- tf.unique_with_counts(x, out_idx?): y, idx and the count of each y
  local unique = tf.unique
  tf.unique_with_counts = reg(function(x, out_idx)
    local y, idx = unique(x, out_idx)
    local n = y.shape:as_list()[1]
    local counts = tf.math.unsorted_segment_sum(tf.ones_like(idx), idx, n)
    return y, idx, counts
  end, "tf.unique_with_counts(x, out_idx?): the unique values y (first-seen order), idx with y[idx] = x, and each value's count. Example: tf.unique_with_counts(tf.constant({1, 1, 2, 4, 4, 4}))")
  tf.einsum = reg(require("tlua.einsum").make(tf), "tf.einsum(equation, a, b, ...): Einstein summation: \"ij,jk->ik\", implicit outputs (\"ij,jk\"), \"...\" broadcast batch dims, diagonals (\"ii->i\"); pairs contract through one matmul. Example: tf.einsum(\"ij,jk->ik\", tf.ones({2, 3}), tf.ones({3, 4}))")
  tf.linalg.einsum = tf.einsum
  -- a Lua keyword keeps its own name and gets a trailing underscore (docs/api_coverage.md)
  tf.repeat_ = tf["repeat"]
end

return M
