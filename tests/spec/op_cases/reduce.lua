-- Conformance cases for the reduction family: src/ops/reduce.c (plain
-- reductions, count_nonzero), moments.c (logsumexp, variance, std,
-- moments) and scan.c (argmax/argmin, cumsum/cumprod). Values are checked
-- against numpy in reduce_spec.lua; second derivatives in
-- grad_reduce_spec.lua. Float64 table inputs are gradient-checked; the
-- cases with tensor inputs (wrt = {}) cover the other dtypes each op takes,
-- forward only. Inputs have no ties where max/min are taken, and the
-- cumprod/reduce_prod cases include zeros (one and several along an axis).
local tf = require("tlua")

local m23 = { { 0.5, -1.25, 2.0 }, { 1.5, 0.75, -0.5 } }
local t234 = require("gradcheck").t234
local zeros = { { 0.5, 0.0, 2.0, 0.0, 1.5 }, { 1.25, -0.75, 0.0, 3.0, -2.0 } }
local im23 = { { 1, 5, 2 }, { 7, 0, 3 } } -- non-negative: fits every integer dtype

local ints = { tf.int8, tf.uint8, tf.int16, tf.int32, tf.int64 }
local halves = { tf.float32, tf.float16, tf.bfloat16 }

-- Forward-only cases of fn on value in each of dtypes (appended to list).
local function in_dtypes(list, fn, value, dtypes)
  return require("case_devices").in_dtypes(list, fn, dtypes, value)
end

-- An empty [0, 3] tensor of dtype dt (float64: gradient-checked, trivially).
local function empty(dt) return tf.reshape(tf.constant({}, dt or tf.float64), { 0, 3 }) end

-- Reductions of an empty [0, 3] input: over the empty axis (the identity),
-- over the other one (an empty result) and over both.
local function empty_cases(list, reduce)
  list[#list + 1] = { fn = function(x) return reduce(x, 0) end, inputs = { empty() } }
  list[#list + 1] = { fn = function(x) return reduce(x, -1, { keepdims = true }) end, inputs = { empty() } }
  list[#list + 1] = { fn = function(x) return reduce(x) end, inputs = { empty() } }
  return list
end

-- The float cases shared by the plain reductions, then the other dtypes.
local function reduction(reduce, with_ints)
  local list = {
    { fn = function(x) return reduce(x) end, inputs = { m23 } },
    { fn = function(x) return reduce(x, 1, { keepdims = true }) end, inputs = { m23 } },
    { fn = function(x) return reduce(x, { 0, 2 }) end, inputs = { t234 } },
    { fn = function(x) return reduce(x, { -1, 0 }, { keepdims = true }) end, inputs = { t234 } },
    { fn = function(x) return reduce(x, -2) end, inputs = { t234 } },
    -- a strided view: the axes are not one run of memory
    { fn = function(x) return reduce(tf.transpose(x, { 2, 0, 1 }), { 0, 2 }) end, inputs = { t234 } },
  }
  empty_cases(list, reduce)
  in_dtypes(list, function(x) return reduce(x, -1) end, m23, halves)
  in_dtypes(list, function(x) return reduce(x, 0, { keepdims = true }) end, m23, halves)
  if with_ints then
    in_dtypes(list, function(x) return reduce(x, -1) end, im23, ints)
    in_dtypes(list, function(x) return reduce(x) end, im23, ints)
  end
  return list
end

local bools = tf.constant({ { true, false, true }, { false, false, true } })

local function logical(reduce)
  return {
    nograd = "logical reduction of a bool tensor",
    { fn = function(x) return reduce(x) end, inputs = { bools } },
    { fn = function(x) return reduce(x, -1) end, inputs = { bools } },
    { fn = function(x) return reduce(x, 0, { keepdims = true }) end, inputs = { bools } },
    { fn = function(x) return reduce(x, 0) end, inputs = { empty(tf.bool) } },
  }
end

local function arg(f)
  local list = {
    nograd = "an integer index (piecewise constant in the input)",
    { fn = function(x) return f(x) end, inputs = { tf.constant(m23, tf.float64) } },
    { fn = function(x) return f(x, -1, { output_type = tf.int32 }) end, inputs = { tf.constant(t234, tf.float64) } },
    { fn = function(x) return f(x, 1) end, inputs = { tf.constant(t234, tf.float32) } },
    -- an empty kept dimension: an empty result
    { fn = function(x) return f(x, 1) end, inputs = { empty(tf.float32) } },
    { fn = function(x) return f(x, 0) end, inputs = { tf.constant({ 1.0, 0 / 0, 3.0, 0 / 0 }, tf.float64) } },
    { fn = function(x) return f(x, 0) end, inputs = { tf.constant({ true, false, true }) } },
  }
  in_dtypes(list, function(x) return f(x, -1) end, m23, halves)
  in_dtypes(list, function(x) return f(x, 0) end, im23, ints)
  return list
end

local function scan(f, with_zeros)
  local list = {
    { fn = function(x) return f(x, 1) end, inputs = { t234 } },
    { fn = function(x) return f(x, 0, { exclusive = true }) end, inputs = { t234 } },
    { fn = function(x) return f(x, -1, { reverse = true }) end, inputs = { t234 } },
    { fn = function(x) return f(x, -1, { exclusive = true, reverse = true }) end, inputs = { t234 } },
    { fn = function(x) return f(x, 0) end, inputs = { empty() } },
    { fn = function(x) return f(tf.transpose(x), 0) end, inputs = { m23 } },
  }
  if with_zeros then
    list[#list + 1] = { fn = function(x) return f(x, 1) end, inputs = { zeros } }
    for _, o in ipairs({ { exclusive = true }, { reverse = true }, { exclusive = true, reverse = true } }) do
      list[#list + 1] = { fn = function(x) return f(x, -1, o) end, inputs = { zeros } }
    end
  end
  in_dtypes(list, function(x) return f(x, -1) end, m23, halves)
  in_dtypes(list, function(x) return f(x, 0, { reverse = true }) end, im23, ints)
  return list
end

-- logsumexp, variance, std: float dtypes only.
local function two_pass(reduce)
  local list = {
    { fn = function(x) return reduce(x) end, inputs = { m23 } },
    { fn = function(x) return reduce(x, 1) end, inputs = { t234 } },
    { fn = function(x) return reduce(x, { 0, 2 }, { keepdims = true }) end, inputs = { t234 } },
    { fn = function(x) return reduce(x, { -1 }) end, inputs = { t234 } },
    { fn = function(x) return reduce(tf.transpose(x, { 1, 0, 2 }), { 0, 2 }) end, inputs = { t234 } },
  }
  empty_cases(list, reduce)
  in_dtypes(list, function(x) return reduce(x, -1, { keepdims = true }) end, m23, halves)
  return list
end

local reduce_prod = reduction(tf.reduce_prod, true)
reduce_prod[#reduce_prod + 1] = { fn = function(x) return tf.reduce_prod(x, 1) end, inputs = { zeros } }
reduce_prod[#reduce_prod + 1] = { fn = function(x) return tf.reduce_prod(x, 0) end, inputs = { zeros } }

local count = {
  nograd = "an integer count (piecewise constant in the input)",
  { fn = function(x) return tf.math.count_nonzero(x) end, inputs = { tf.constant(zeros, tf.float64) } },
  { fn = function(x) return tf.math.count_nonzero(x, -1, { keepdims = true }) end, inputs = { tf.constant(zeros, tf.float32) } },
  { fn = function(x) return tf.math.count_nonzero(x, 0, { dtype = tf.int32 }) end, inputs = { bools } },
  { fn = function(x) return tf.math.count_nonzero(x, 1, { dtype = tf.int8 }) end, inputs = { empty(tf.float32) } },
}
in_dtypes(count, function(x) return tf.math.count_nonzero(x, 1) end, zeros, { tf.float16, tf.bfloat16 })
in_dtypes(count, function(x) return tf.math.count_nonzero(x, { 0, 1 }) end, im23, ints)

local moments = {
  { fn = function(x) return tf.nn.moments(x, { 0, 2 }) end, inputs = { t234 } },
  { fn = function(x) return tf.nn.moments(x, { 1 }, { keepdims = true }) end, inputs = { t234 } },
  { fn = function(x) return (tf.nn.moments(x, { 0 })) end, inputs = { m23 } },
  { fn = function(x) return select(2, tf.nn.moments(x, { -1 })) end, inputs = { m23 } },
  { fn = function(x) return tf.nn.moments(x, { 0 }) end, inputs = { empty() } },
}
in_dtypes(moments, function(x) return tf.nn.moments(x, { -1 }, { keepdims = true }) end, m23, halves)

return {
  reduced_count = {
    nograd = "returns a count",
    { fn = function(x) return tf.raw_ops.reduced_count(x), tf.raw_ops.reduced_count(x, { axis = { 0, 2 }, dtype = tf.int64 }) end,
      inputs = { tf.zeros({ 2, 3, 4 }) } },
    { fn = function(x) return tf.raw_ops.reduced_count(x, { axis = -1, dtype = tf.float64 }) end, inputs = { tf.zeros({ 5, 0 }) } },
  },
  reduce_sum = reduction(tf.reduce_sum, true),
  reduce_mean = reduction(tf.reduce_mean, true),
  reduce_max = reduction(tf.reduce_max, true),
  reduce_min = reduction(tf.reduce_min, true),
  reduce_prod = reduce_prod,
  reduce_logsumexp = two_pass(tf.reduce_logsumexp),
  reduce_variance = two_pass(tf.math.reduce_variance),
  reduce_std = two_pass(tf.math.reduce_std),
  cumsum = scan(tf.cumsum, false),
  cumprod = scan(tf.math.cumprod, true),
  moments = moments,
  reduce_any = logical(tf.reduce_any),
  reduce_all = logical(tf.reduce_all),
  count_nonzero = count,
  argmax = arg(tf.argmax),
  argmin = arg(tf.argmin),
}
