-- tf.RaggedTensor and tf.ragged (lua/lragged.c, stdlib/tlua/ragged.lua,
-- src/ops/ragged.c). Expected values come from TensorFlow: the cases of
-- tests/spec/fixtures/ragged_ref.py, its output committed as
-- fixtures/ragged_ref.lua; each case below computes the same expression.
local tf = require("tlua")
local helpers = require("helpers")

local src = os.getenv("TLUA_SOURCE_DIR") or "."
local REF = dofile(src .. "/tests/spec/fixtures/ragged_ref.lua")

local rc = tf.ragged.constant
local RT = tf.RaggedTensor

local function strings_supported() return (pcall(tf.constant, { "a" })) end

-- the same values as ragged_ref.py's a, b, f, n2, inner
local function A() return rc({ { 1, 2 }, { 3 } }) end
local function B() return rc({ { 3, 1, 4, 1 }, {}, { 5, 9, 2 }, { 6 }, {} }) end
local function F() return rc({ { 1.5, 2.0 }, {}, { 3.25, -1.0, 4.0 } }) end
local function N2() return rc({ { { 1, 2 }, { 3 } }, {}, { { 4, 5, 6 } } }) end
local function INNER() return rc({ { { 1, 2 }, { 3, 4 } }, { { 5, 6 } } }, { ragged_rank = 1 }) end
local T, Fa = true, false

local cases = {
  constant = function() return B() end,
  constant_nested = function() return N2() end,
  constant_empty_rows = function() return rc({ {} }) end,
  constant_empty_nested = function() return rc({ { {} }, {} }) end,
  constant_mixed_numbers = function() return rc({ { 1, 2 }, { 3.5 } }) end,
  constant_inner = function() return INNER() end,
  constant_rr1 = function() return rc({ { 1, 2 }, { 3, 4 } }, { ragged_rank = 1 }) end,
  constant_inner_shape = function() return rc({ { { 1, 2 }, { 3, 4 } }, { { 5, 6 } } }, { inner_shape = { 2 } }) end,
  from_row_splits = function() return RT.from_row_splits({ 3, 1, 4, 1, 5, 9, 2, 6 }, { 0, 4, 4, 7, 8, 8 }) end,
  from_row_lengths = function() return RT.from_row_lengths({ 3, 1, 4, 1, 5, 9, 2, 6 }, { 4, 0, 3, 1, 0 }) end,
  from_value_rowids = function()
    return RT.from_value_rowids({ 3, 1, 4, 1, 5, 9, 2, 6 }, { 0, 0, 0, 0, 2, 2, 2, 3 }, 5)
  end,
  from_value_rowids_no_nrows = function()
    return RT.from_value_rowids({ 3, 1, 4, 1, 5, 9, 2, 6 }, { 0, 0, 0, 0, 2, 2, 2, 3 })
  end,
  from_nested_row_splits = function()
    return RT.from_nested_row_splits({ 3, 1, 4, 1, 5, 9, 2, 6 }, { { 0, 1, 3, 4 }, { 0, 2, 2, 5, 8 } })
  end,
  from_tensor = function() return RT.from_tensor({ { 1, 2, 0 }, { 3, 0, 0 }, { 4, 5, 6 } }) end,
  from_tensor_padding = function() return RT.from_tensor({ { 1, 2, 0 }, { 3, 0, 0 }, { 4, 0, 6 } }, { padding = 0 }) end,
  from_tensor_lengths = function()
    return RT.from_tensor({ { 1, 2, 0 }, { 3, 0, 0 }, { 4, 5, 6 } }, { lengths = { 2, 0, 3 } })
  end,
  from_tensor_rr2 = function() return RT.from_tensor(tf.reshape(tf.range(12), { 2, 3, 2 }), { ragged_rank = 2 }) end,
  from_tensor_padding_inner = function()
    return RT.from_tensor({ { { 1, 1 }, { 0, 0 } }, { { 0, 0 }, { 0, 2 } } }, { padding = { 0, 0 } })
  end,
  to_tensor = function() return B():to_tensor() end,
  to_tensor_default = function() return B():to_tensor(-1) end,
  to_tensor_shape = function() return B():to_tensor({ shape = { 3, 2 } }) end,
  to_tensor_shape_pad = function() return B():to_tensor({ shape = { 6, 5 } }) end,
  to_tensor_nested = function() return N2():to_tensor() end,
  to_tensor_inner = function() return INNER():to_tensor() end,
  to_tensor_float_default = function() return F():to_tensor({ default_value = 0.5 }) end,
  values = function() return B().values end,
  row_splits = function() return B().row_splits end,
  row_lengths = function() return B():row_lengths() end,
  nrows = function() return B():nrows() end,
  value_rowids = function() return B():value_rowids() end,
  flat_values_nested = function() return N2().flat_values end,
  row_lengths_axis2 = function() return N2():row_lengths(2) end,
  index_row = function() return B()[2] end,
  index_neg = function() return B()[-2] end,
  slice_rows = function() return B()["1:3"] end,
  slice_step = function() return B()[{ { nil, nil, 2 } }] end,
  slice_rev = function() return B()["::-1"] end,
  slice_neg_step = function() return B()["4:1:-2"] end,
  slice_empty = function() return B()[{ { 3, 1 } }] end,
  slice_clamped = function() return B()["-10:10:3"] end,
  index_nested_row = function() return N2()[0] end,
  index_two = function() return N2()[{ 0, 1 }] end,
  index_elem = function() return B()[{ 2, 1 }] end,
  slice_inner = function() return INNER()[":, :, 1"] end,
  slice_ragged_dim = function() return B()[":, 1:3"] end,
  slice_ragged_dim_neg = function() return B()[":, -2:"] end,
  slice_ragged_dim_step = function() return B()["1:, ::2"] end,
  slice_ragged_dim_stop_neg = function() return B()[{ ":", { nil, -1 } }] end,
  slice_nested_inner = function() return N2()[":, :, 1:"] end,
  slice_nested_outer = function() return N2()[":, 1:"] end,
  slice_inner_uniform = function() return INNER()[":, 1:, 0"] end,
  slice_row_then_ragged = function() return N2()["2, :, :2"] end,
  add_scalar = function() return B() + 1 end,
  mul_ragged = function() local b = B() return b * b end,
  sub_dense_inner = function() return INNER() - tf.constant({ 1, 2 }) end,
  div_float = function() return F() / 2.0 end,
  add_rowwise = function() return A() + tf.constant({ { 10 }, { 20 } }) end,
  math_abs = function() return tf.abs(rc({ { -1, 2 }, { -3 } })) end,
  math_sqrt = function() local f = F() return tf.sqrt(f * f) end,
  math_exp = function() return tf.exp(rc({ { 0.0 }, { 1.0, 2.0 } })) end,
  maximum = function() return tf.maximum(B(), 3) end,
  equal = function() return tf.equal(B(), 1) end,
  where = function() local b = B() return tf.where(tf.greater(b, 2), b, b * 100) end,
  where_scalar = function() local b = B() return tf.where(tf.greater(b, 2), b, 0) end,
  map_flat_values = function() local b = B() return tf.ragged.map_flat_values(tf.multiply, b, b) end,
  map_flat_values_square = function() return tf.ragged.map_flat_values(tf.square, F()) end,
  sum_axis1 = function() return tf.reduce_sum(B(), 1) end,
  sum_axis0 = function() return tf.reduce_sum(B(), 0) end,
  sum_none = function() return tf.reduce_sum(B()) end,
  mean_axis1 = function() return tf.reduce_mean(F(), 1) end,
  mean_axis0 = function() return tf.reduce_mean(F(), { axis = 0 }) end,
  mean_none = function() return tf.reduce_mean(F()) end,
  mean_int_axis1 = function() return tf.reduce_mean(A(), 1) end,
  mean_float64_axis0 = function() return tf.reduce_mean(tf.cast(B(), tf.float64), 0) end,
  max_axis1 = function() return tf.reduce_max(B(), 1) end,
  max_axis0 = function() return tf.reduce_max(B(), 0) end,
  max_float_axis1 = function() return tf.reduce_max(F(), 1) end,
  min_axis1 = function() return tf.reduce_min(B(), 1) end,
  min_axis0 = function() return tf.math.reduce_min(B(), 0) end,
  prod_axis1 = function() return tf.reduce_prod(B(), 1) end,
  prod_axis0 = function() return B():reduce_prod(0) end,
  sum_nested_axis0 = function() return tf.reduce_sum(N2(), 0) end,
  sum_nested_axis1 = function() return tf.reduce_sum(N2(), 1) end,
  sum_nested_axis2 = function() return tf.reduce_sum(N2(), 2) end,
  sum_nested_axis_neg1 = function() return tf.reduce_sum(N2(), -1) end,
  sum_nested_axes01 = function() return tf.reduce_sum(N2(), { 0, 1 }) end,
  sum_inner_axis2 = function() return tf.reduce_sum(INNER(), 2) end,
  sum_inner_axis1 = function() return tf.reduce_sum(INNER(), 1) end,
  max_nested_axis1 = function() return tf.reduce_max(N2(), 1) end,
  sum_keepdims = function() return tf.reduce_sum(B(), 1, { keepdims = true }) end,
  any_axis1 = function() return tf.reduce_any(tf.equal(B(), 1), 1) end,
  all_axis1 = function() return tf.reduce_all(tf.equal(B(), 1), 1) end,
  concat0 = function() return tf.concat({ A(), B() }, 0) end,
  concat1 = function() local b = B() return tf.concat({ b, b * 10 }, 1) end,
  concat0_dense = function() return tf.concat({ A(), tf.constant({ { 7, 8 } }) }, 0) end,
  concat1_dense = function() return tf.concat({ A(), tf.constant({ { 7, 8 }, { 9, 10 } }) }, 1) end,
  concat0_nested = function() local n = N2() return tf.concat({ n, n }, 0) end,
  concat1_nested = function() local n = N2() return tf.concat({ n, n }, 1) end,
  concat2_nested = function() local n = N2() return tf.concat({ n, n }, 2) end,
  concat_inner = function() local x = INNER() return tf.concat({ x, x }, 2) end,
  stack0 = function() local b = B() return tf.stack({ b, b }, 0) end,
  stack1 = function() local a = A() return tf.stack({ a, a * 2 }, 1) end,
  stack0_dense = function() return tf.stack({ A(), tf.constant({ { 7, 8 } }) }) end,
  mask_dense = function()
    return tf.ragged.boolean_mask({ { 1, 2, 3 }, { 4, 5, 6 }, { 7, 8, 9 } }, { { T, Fa, T }, { Fa, Fa, Fa }, { T, T, Fa } })
  end,
  mask_ragged = function() local b = B() return tf.ragged.boolean_mask(b, tf.greater(b, 2)) end,
  mask_rows = function() return tf.ragged.boolean_mask(B(), { T, Fa, T, Fa, T }) end,
  mask_dense_1d = function() return tf.ragged.boolean_mask({ 1, 2, 3 }, { T, Fa, T }) end,
  mask_nested_level1 = function() return tf.ragged.boolean_mask(N2(), rc({ { T, Fa }, {}, { T } })) end,
  mask_inner = function() return tf.ragged.boolean_mask(INNER(), rc({ { T, Fa }, { T } })) end,
  range = function() return tf.ragged.range({ 3, 5, 2 }) end,
  range_full = function() return tf.ragged.range({ 0, 5, 8 }, { 3, 3, 12 }) end,
  range_delta = function() return tf.ragged.range({ 0, 5, 8 }, { 3, 3, 12 }, 2) end,
  range_neg_delta = function() return tf.ragged.range(10, { 0, 5, 8 }, -3) end,
  range_float = function() return tf.ragged.range({ 0.0, 1.0 }, { 1.0, 2.0 }, 0.25) end,
  gather_rows = function() return tf.gather(B(), { 2, 0, 2 }) end,
  strings = function() return RT.from_row_splits(tf.constant({ "a", "bc", "d" }), { 0, 2, 3 }) end,
  strings_constant = function() return rc({ { "a", "b" }, {}, { "c" } }) end,
  to_tensor_strings = function() return rc({ { "a", "b" }, {}, { "c" } }):to_tensor() end,
  segment_sum = function() return tf.math.unsorted_segment_sum({ 1.0, 2.0, 3.0, 4.0 }, { 0, 2, 0, -1 }, 3) end,
  segment_max = function() return tf.math.unsorted_segment_max({ 1, 5, 3, 4 }, { 1, 1, 0, 1 }, 3) end,
  segment_min_2d = function() return tf.math.unsorted_segment_min({ { 1, 2 }, { 0, 5 }, { 3, -4 } }, { 1, 1, 0 }, 2) end,
  segment_prod = function() return tf.math.unsorted_segment_prod({ 2, 3, 4 }, { 0, 0, 2 }, 3) end,
}
-- TensorFlow gives from_tensor's uniform rows a uniform_row_length, so its
-- shape knows them; tlua's row partitions are always row_splits, and a
-- ragged dimension is None.
local shape_differs = { from_tensor = "(3, None)", from_tensor_rr2 = "(2, None, None)" }
local needs_strings = { strings = true, strings_constant = true, to_tensor_strings = true }

local function check(name, got, want)
  assert(want, "no reference value for " .. name)
  if want.ragged then
    assert(tf.ragged.is_ragged(got), name .. ": expected a RaggedTensor, got " .. tostring(got))
    helpers.assert_close(got:to_list(), want.value)
  else
    assert(tf.is_tensor(got), name .. ": expected a tensor, got " .. tostring(got))
    local v = got:totable()
    if type(v) ~= "table" then v = got:item() end
    helpers.assert_close(v, want.value)
  end
  assert.are.equal(shape_differs[name] or want.shape, tostring(got.shape), name .. ": shape")
  assert.are.equal(want.dtype, got.dtype.name, name .. ": dtype")
end

describe("tf.RaggedTensor against TensorFlow", function()
  local names = {}
  for k in pairs(REF) do names[#names + 1] = k end
  table.sort(names)
  for _, name in ipairs(names) do
    local run = it
    if needs_strings[name] and not strings_supported() then run = pending end
    run(name, function()
      assert(cases[name], "no tlua case for reference " .. name)
      check(name, cases[name](), REF[name])
    end)
  end
  it("has a reference for every case", function()
    for name in pairs(cases) do assert(REF[name], "no reference for " .. name) end
  end)
end)

describe("tf.RaggedTensor", function()
  it("prints as TensorFlow's REPL does, and a structure when symbolic", function()
    assert.are.equal("<tf.RaggedTensor [[1, 2], [3]]>", tostring(A()))
    assert.are.equal("<tf.RaggedTensor [[[1, 2], [3]], [], [[4, 5, 6]]]>", tostring(N2()))
    assert.are.equal("<tf.RaggedTensor [[1.5, 2.0], [], [3.25, -1.0, 4.0]]>", tostring(F()))
    assert.are.equal("<tf.RaggedTensor [[true, false]]>", tostring(rc({ { true, false } })))
    assert.are.equal("(3, None, None)", tostring(N2().shape))
    assert.are.equal("(2, None, 2)", tostring(INNER().shape))
    local seen
    tf.trace(function(x) seen = tostring(x) return x end)(A())
    assert.are.equal("tf.RaggedTensor(values=Tensor(shape=(None,), dtype=int32), "
      .. "row_splits=Tensor(shape=(3,), dtype=int64))", seen)
  end)

  it("prints large values summarized, one row per line, with their shape", function()
    local big = RT.from_row_lengths(tf.range(3000), tf.fill({ 1000 }, 3))
    local text = tostring(big)
    assert.are.equal(table.concat({
      "<tf.RaggedTensor [[0, 1, 2],",
      " [3, 4, 5],",
      " [6, 7, 8],",
      " ...,",
      " [2991, 2992, 2993],",
      " [2994, 2995, 2996],",
      " [2997, 2998, 2999]]",
      " shape=(1000, None), dtype=int32, nvals=3000>" }, "\n"), text)
    -- long rows are elided too
    local long = RT.from_row_lengths(tf.range(2000), { 1000, 1000 })
    assert.truthy(tostring(long):find("[0, 1, 2, ..., 997, 998, 999],", 1, true))
    -- a long value that is not large: one row per line, nothing elided
    local wide = rc({ { 100000, 200000, 300000, 400000 }, { 500000, 600000, 700000, 800000 }, { 1, 2, 3, 4, 5, 6, 7, 8 } })
    assert.are.equal("<tf.RaggedTensor [[100000, 200000, 300000, 400000],\n [500000, 600000, 700000, 800000],\n"
      .. " [1, 2, 3, 4, 5, 6, 7, 8]]>", tostring(wide))
  end)

  it("has TensorFlow's fields", function()
    local n = N2()
    assert.are.equal(2, n.ragged_rank)
    assert.are.equal(tf.int32, n.dtype)
    assert.are.equal(3, #n)
    assert.are.equal(2, #n.nested_row_splits)
    assert.are.same({ 0, 2, 2, 3 }, n.nested_row_splits[1]:totable())
    assert.are.same({ 0, 2, 3, 6 }, n.nested_row_splits[2]:totable())
    assert.are.equal(1, n.values.ragged_rank)
    assert.are.same({ { 1, 2 }, { 3 }, { 4, 5, 6 } }, n.values:to_list())
    assert.is_true(rawequal(n.flat_values, n.flat_values), "components keep their identity")
    assert.is_nil(n.no_such_field)
    local rl = n:nested_row_lengths()
    assert.are.same({ 2, 0, 1 }, rl[1]:totable())
    assert.are.same({ 2, 1, 3 }, rl[2]:totable())
    assert.are.same({ 0, 2, 2 }, n:row_starts():totable())
    assert.are.same({ { 10, 20 }, { 30 } }, A():with_flat_values(tf.constant({ 10, 20, 30 })):to_list())
    assert.are.same({ 5, 4 }, B():bounding_shape():totable())
    assert.are.equal(8, tf.size(B()):item()) -- the number of values, as TensorFlow's tf.size
    assert.are.equal(6, tf.size(INNER()):item())
    assert.are.equal(3, tf.rank(INNER()):item())
    helpers.assert_error("Unimplemented", { "bounding_shape" }, tf.shape, B())
  end)

  it("takes numbers and dense tensors on either side of an operator", function()
    assert.are.same({ { 9, 8 }, { 7 } }, (10 - A()):to_list())
    assert.are.same({ { 9, 8 }, { 7 } }, (tf.constant(10) - A()):to_list())
    assert.are.same({ { { 1, 4 }, { 3, 8 } }, { { 5, 12 } } }, (tf.constant({ 1, 2 }) * INNER()):to_list())
    assert.are.same({ { true, false }, { false } }, A():eq(1):to_list())
    assert.are.same({ { -1, -2 }, { -3 } }, (-A()):to_list())
    assert.are.same({ { 1.0, 2.0 }, { 3.0 } }, A():cast(tf.float32):to_list())
    assert.are.equal(tf.float32, tf.cast(A(), tf.float32).dtype)
    assert.are.same({ { 1, 4 }, { 9 } }, (A() ^ 2):to_list())
  end)

  it("validates row partitions with clear InvalidArgument errors, never a crash", function()
    helpers.assert_error("InvalidArgument", { "row_splits 0 must start with 0", "starts with 1" },
      RT.from_row_splits, { 1, 2, 3 }, { 1, 2, 3 })
    helpers.assert_error("InvalidArgument", { "non-decreasing", "entry 2 is 1, after 2" },
      RT.from_row_splits, { 1, 2, 3 }, { 0, 2, 1, 3 })
    helpers.assert_error("InvalidArgument", { "must end with the number of values", "3", "ends with 5" },
      RT.from_row_splits, { 1, 2, 3 }, { 0, 2, 5 })
    helpers.assert_error("InvalidArgument", { "at least one entry" }, RT.from_row_splits, { 1, 2, 3 }, tf.zeros({ 0 }, tf.int64))
    helpers.assert_error("InvalidArgument", { "row_lengths must be non-negative", "entry 1 is -1" },
      RT.from_row_lengths, { 1, 2, 3 }, { 4, -1 })
    helpers.assert_error("InvalidArgument", { "must end with the number of values" }, RT.from_row_lengths, { 1, 2, 3 }, { 1, 1 })
    helpers.assert_error("InvalidArgument", { "value_rowids must be non-decreasing" },
      RT.from_value_rowids, { 1, 2, 3 }, { 1, 0, 2 })
    helpers.assert_error("InvalidArgument", { "outside [0, nrows=2)" }, RT.from_value_rowids, { 1, 2, 3 }, { 0, 0, 2 }, 2)
    helpers.assert_error("InvalidArgument", { "row_splits", "must be int32 or int64" },
      RT.from_row_splits, { 1, 2 }, tf.constant({ 0.0, 2.0 }))
    -- nested: the inner splits must end at nvals, the outer at the inner's rows
    helpers.assert_error("InvalidArgument", { "must end with the number of values" },
      RT.from_nested_row_splits, { 1, 2, 3 }, { { 0, 1, 3 }, { 0, 1, 3 } })
    -- validate=false skips the check; the ops that read the splits still refuse bad ones
    local bad = RT.from_row_splits({ 1, 2, 3 }, { 0, 5, 3 }, { validate = false })
    helpers.assert_error("InvalidArgument", { "non-decreasing" }, function() return bad:to_tensor() end)
    helpers.assert_error("InvalidArgument", { "non-decreasing" }, function() return bad[0] end)
    helpers.assert_error("InvalidArgument", { "non-decreasing" }, function() return bad:value_rowids() end)
    local short = RT.from_row_splits({ 1, 2, 3 }, { 0, 1, 9 }, { validate = false })
    helpers.assert_error("InvalidArgument", { "must end with the number of values" }, function() return short:to_tensor() end)
    helpers.assert_error("InvalidArgument", { "must start with 0" }, function()
      return tf.reduce_sum(RT.from_row_splits({ 1, 2, 3 }, { -1, 1, 3 }, { validate = false }), 1)
    end)
    -- raw ops given garbage
    helpers.assert_error("InvalidArgument", { "out of range" }, tf.raw_ops.ragged_gather_indices,
      tf.constant({ 5 }, tf.int64), { tf.constant({ 0, 1 }, tf.int64) })
    helpers.assert_error("InvalidArgument", { "must be int64" }, tf.raw_ops.ragged_row_ids, tf.constant({ 0, 1 }))
    helpers.assert_error("InvalidArgument", { "not below num_segments" }, tf.math.unsorted_segment_sum, { 1, 2 }, { 0, 3 }, 2)
    helpers.assert_error("InvalidArgument", { "one entry per row" }, tf.math.unsorted_segment_sum, { 1, 2 }, { 0 }, 2)
    helpers.assert_error("InvalidArgument", { "delta != 0" }, tf.ragged.range, { 1 }, { 3 }, { 0 })
    helpers.assert_error("InvalidArgument", { "same length" }, tf.ragged.range, { 1, 2 }, { 3, 4, 5 })
    helpers.assert_error("InvalidArgument", { "lengths entry 0 is 4, outside [0, 2]" },
      RT.from_tensor, { { 1, 2 } }, { lengths = { 4 } })
  end)

  it("survives random (mostly malformed) row partitions in every ragged op: errors, never a crash", function()
    local raw = tf.raw_ops
    math.randomseed(7)
    local function rnd_splits(rows)
      local n = rows or math.random(0, 6)
      local t = { 0 }
      for i = 1, n do t[i + 1] = t[i] + math.random(0, 3) end
      if math.random() < 0.3 then
        for i = 1, #t do if math.random() < 0.3 then t[i] = math.random(-3, 9) end end
      end
      if math.random() < 0.05 then t = {} end
      return tf.constant(t, tf.int64)
    end
    local function vec(n) return tf.zeros({ n }) end
    local calls = 0
    local OK = {}
    for _ = 1, 300 do
      local a = rnd_splits()
      local last = a.shape[0] > 0 and a[-1]:item() or 0
      local b = rnd_splits(math.random() < 0.8 and math.max(last, 0) or nil)
      local idx = tf.constant({ math.random(-2, 6), math.random(0, 3) }, tf.int64)
      local fs = {
        function() return raw.ragged_validate_splits(a, vec(math.random(0, 8))) end,
        function() return raw.ragged_lengths_to_splits(a) end,
        function() return raw.ragged_rowids_to_splits(a, tf.constant(math.random(-1, 8), tf.int64)) end,
        function() return raw.ragged_row_ids(a) end,
        function() return raw.ragged_splits_equal(a, b) end,
        function() return raw.ragged_gather_indices(idx, { a }) end,
        function() return raw.ragged_gather_indices(idx, { a, b }) end,
        function() return raw.ragged_gather_indices(idx[0], { a, b }) end,
        function() return raw.ragged_to_dense_indices(vec(math.random(0, 9)), { a }) end,
        function() return raw.ragged_to_dense_indices(vec(math.random(0, 9)), { a, b }, { math.random(-1, 3), math.random(-1, 3), math.random(-1, 3) }) end,
        function() return raw.ragged_from_dense_indices(tf.zeros({ 3, math.random(0, 4) }), tf.constant({ math.random(-1, 5), 0, 1 }, tf.int64)) end,
        function() return raw.ragged_mask_splits(tf.constant({ true, false, true }), a) end,
        function() return raw.ragged_range(a, b, tf.constant(math.random(-2, 2), tf.int64)) end,
        function() return tf.math.unsorted_segment_max(vec(a.shape[0]), a, math.random(-1, 9)) end,
        function() return tf.RaggedTensor.from_row_splits(vec(math.random(0, 9)), a):to_tensor() end,
        function() local rt = tf.RaggedTensor.from_row_splits(vec(math.random(0, 9)), a, { validate = false }) return tf.reduce_sum(rt, math.random(0, 1)), rt[0], tf.concat({ rt, rt }, 1) end,
      }
      for k, f in ipairs(fs) do local ok, e = pcall(f) calls = calls + 1 OK[k] = (OK[k] or 0) + (ok and 1 or 0)  end
    end
    -- every op both succeeded and failed at least once
    for k = 1, 16 do
      assert.truthy((OK[k] or 0) > 0, "case " .. k .. " never succeeded")
      assert.truthy((OK[k] or 0) < 300, "case " .. k .. " never failed")
    end
  end)

  it("reports bad calls as errors of the right kind", function()
    helpers.assert_error("InvalidArgument", { "identical ragged splits" }, function() return A() + rc({ { 1 }, { 2, 3 } }) end)
    helpers.assert_error("InvalidArgument", { "identical ragged splits", "2 rows vs 3 rows" },
      function() return A() + rc({ { 1 }, { 2 }, { 3 } }) end)
    helpers.assert_error("Unimplemented", { "does not broadcast" }, function() return A() + tf.constant({ { 1, 2 }, { 3, 4 } }) end)
    helpers.assert_error("InvalidArgument", { "index 2 is out of bounds for 2 rows" }, function() return A()[2] end)
    helpers.assert_error("InvalidArgument", { "concat", "one dtype", "int32", "float32" },
      tf.concat, { A(), F() }, 0)
    helpers.assert_error("InvalidArgument", { "same number of rows" }, tf.concat, { A(), B() }, 1)
    helpers.assert_error("InvalidArgument", { "axis 2 is out of range" }, tf.reduce_sum, A(), 2)
    helpers.assert_error("InvalidArgument", { "matmul", "RaggedTensor inputs are not supported", "map_flat_values" },
      tf.matmul, A(), A())
    helpers.assert_error("InvalidArgument", { "same nesting depth" }, rc, { { 1, 2 }, 3 })
    helpers.assert_error("InvalidArgument", { "ragged_rank=2 requires scalar value depth greater than 2" }, rc,
      { { 1, 2 } }, { ragged_rank = 2 })
    helpers.assert_error("InvalidArgument", { "uniform tensor" }, rc, { { { 1, 2 }, { 3 } } }, { ragged_rank = 1 })
    helpers.assert_error("InvalidArgument", { "immutable" }, function() local a = A() a[0] = 1 end)
    helpers.assert_error("InvalidArgument", { "row_splits 0 must be an int64 vector" }, tf.core.ragged.new,
      tf.constant({ 1 }), { tf.constant({ 0, 1 }) })
    helpers.assert_error("InvalidArgument", { "indexes into a ragged dimension with an integer" },
      function() return B()[":, 0"] end)
    helpers.assert_error("Unimplemented", { "only positive steps" }, function() return B()[":, ::-1"] end)
  end)

  it("handles empty values and empty rows", function()
    local e = rc({ {}, {} })
    assert.are.equal("(2, None)", tostring(e.shape))
    assert.are.equal(tf.float32, e.dtype)
    assert.are.same({ 0, 0 }, tf.reduce_sum(e, 1):totable())
    assert.are.same({ 2, 0 }, e:to_tensor().shape:as_list())
    local z = RT.from_row_splits(tf.zeros({ 0 }), { 0 })
    assert.are.equal(0, #z)
    assert.are.same({}, z:to_list())
    assert.are.same({}, tf.reduce_sum(z, 0):totable())
  end)

  it("flows through tf.trace without retracing for new row lengths", function()
    local traces = 0
    local f = tf.trace(function(x, y)
      traces = traces + 1
      return x * 2 + y, tf.reduce_sum(x, 1), x:to_tensor(), tf.concat({ x, y }, 1)
    end)
    local a, b, c, d = f(A(), A())
    assert.are.same({ { 3, 6 }, { 9 } }, a:to_list())
    assert.are.same({ 3, 3 }, b:totable())
    assert.are.same({ { 1, 2 }, { 3, 0 } }, c:totable())
    assert.are.same({ { 1, 2, 1, 2 }, { 3, 3 } }, d:to_list())
    local x = rc({ { 1, 2, 5 }, { 3, 4 } })
    a, b, c, d = f(x, x)
    assert.are.same({ { 3, 6, 15 }, { 9, 12 } }, a:to_list())
    assert.are.same({ 8, 7 }, b:totable())
    assert.are.same({ { 1, 2, 5 }, { 3, 4, 0 } }, c:totable())
    assert.are.equal(1, traces)
    -- another number of rows or ragged_rank is another signature
    f(B(), B())
    assert.are.equal(2, traces)
    local gtraces = 0
    local g = tf.trace(function(n) gtraces = gtraces + 1 return n.values, tf.reduce_sum(n, 2) end)
    assert.are.same({ { 1, 2 }, { 3 }, { 4, 5, 6 } }, g(N2()):to_list())
    -- the inner level's row count is dynamic too
    local v, s = g(rc({ { { 1 } }, { { 2 }, { 3 }, { 4 } }, {} }))
    assert.are.same({ { 1 }, { 2 }, { 3 }, { 4 } }, v:to_list())
    assert.are.same({ { 1 }, { 2, 3, 4 }, {} }, s:to_list())
    assert.are.equal(1, gtraces)
    -- ragged values made inside a trace
    local h = tf.trace(function(v, s) return RT.from_row_splits(v, s):to_tensor() end)
    assert.are.same({ { 1 }, { 2 } }, h(tf.constant({ 1, 2 }), tf.constant({ 0, 1, 2 }, tf.int64)):totable())
    helpers.assert_error("InvalidArgument", { "non-decreasing" }, h, tf.constant({ 1, 2 }), tf.constant({ 0, 2, 1 }, tf.int64))
  end)

  it("is a tf.while_loop variable whose rows grow, eagerly and traced", function()
    local function run(n)
      return tf.while_loop(function(i) return tf.less(i, n) end,
        function(i, x) return i + 1, tf.concat({ x, rc({ { 7 }, { 8, 9 } }) }, 1) end,
        { tf.constant(0), A() })
    end
    local r = run(2)
    assert.are.equal(2, r[1]:item())
    assert.are.same({ { 1, 2, 7, 7 }, { 3, 8, 9, 8, 9 } }, r[2]:to_list())
    local g = tf.trace(function(n) return run(n)[2] end)
    assert.are.same({ { 1, 2, 7, 7, 7 }, { 3, 8, 9, 8, 9, 8, 9 } }, g(tf.constant(3)):to_list())
  end)

  it("runs on the test device (no host read of device memory)", function()
    local d <close> = tf.device("TEST:0")
    local rt = rc({ { 1.0, 2.0 }, {}, { 3.0 } })
    assert.truthy(rt.flat_values.device:find("TEST", 1, true))
    assert.are.same({ 3, 0, 3 }, tf.reduce_sum(rt, 1):totable())
    assert.are.same({ 3, 2 }, tf.reduce_max(rt, 0):totable())
    assert.are.same({ { 1, 2 }, { 0, 0 }, { 3, 0 } }, rt:to_tensor():totable())
    assert.are.same({ { 1, 2, 1, 2 }, {}, { 3, 3 } }, tf.concat({ rt, rt }, 1):to_list())
    assert.are.same({ { 3 }, {}, { 1, 2 } }, rt["::-1"]:to_list())
    assert.are.same({ { 2 }, {}, { 3 } }, tf.ragged.boolean_mask(rt, tf.greater(rt, 1.5)):to_list())
    assert.are.same({ { 1, 2 }, {}, { 3 } }, RT.from_tensor(rt:to_tensor(), { padding = 0.0 }):to_list())
    assert.are.same({ { { 1, 2 }, { 1, 2 } }, { {}, {} }, { { 3 }, { 3 } } }, tf.stack({ rt, rt }, 1):to_list())
  end)

  it("passes through tf.cond, eagerly and traced", function()
    local function pick(p, x)
      return tf.cond(p, function() return x * 2 end, function() return x - 1 end)
    end
    assert.are.same({ { 2, 4 }, { 6 } }, pick(tf.constant(true), A()):to_list())
    local f = tf.trace(pick)
    assert.are.same({ { 0, 1 }, { 2 } }, f(tf.constant(false), A()):to_list())
    assert.are.same({ { 2, 4, 10 }, {} }, f(tf.constant(true), rc({ { 1, 2, 5 }, {} })):to_list())
  end)

  it("carries gradients to flat_values through to_tensor, reductions and element-wise math", function()
    local v = tf.Variable({ 1.0, 2.0, 3.0 })
    local tape = tf.GradientTape()
    local rt = RT.from_row_splits(v, { 0, 2, 3 })
    local loss = tf.reduce_sum(tf.reduce_sum(rt * rt, 1)) + tf.reduce_sum(rt:to_tensor() * 2.0)
      + tf.reduce_sum(tf.reduce_max(rt, 1))
    local g = tape:gradient(loss, { v })
    -- d/dv of sum v^2 = 2v, to_tensor*2 = 2, max of rows [1,2],[3]: 0,1,1
    helpers.assert_close(g[1], { 4.0, 7.0, 9.0 })
  end)

  it("completes its fields and methods in the REPL", function()
    local repl = require("tlua.repl")
    local sess = repl.session(setmetatable({ tf = tf }, { __index = _G }))
    repl.load(sess, "rt = tf.ragged.constant({{1}})")()
    local function has(list, x) for _, v in ipairs(list) do if v == x then return true end end return false end
    assert.is_true(has(repl.complete(sess, "rt.fl"), "rt.flat_values"))
    assert.is_true(has(repl.complete(sess, "rt.ro"), "rt.row_splits"))
    assert.is_true(has(repl.complete(sess, "rt:to_"), "rt:to_tensor"))
  end)

  it("is listed by help()", function()
    local text = require("tlua.help").text(tf.ragged)
    for _, name in ipairs({ "constant", "map_flat_values", "boolean_mask", "range" }) do
      assert.truthy(text:find(name, 1, true), "help(tf.ragged) lacks " .. name)
    end
    assert.truthy(require("tlua.help").text(tf.RaggedTensor):find("from_row_splits", 1, true))
    local inst = require("tlua.help").text(A())
    assert.truthy(inst:find("tf.RaggedTensor: dtype int32, shape (2, None), ragged_rank 1", 1, true), inst)
    assert.truthy(inst:find("to_tensor", 1, true))
  end)

  it("keeps string values intact (once string tensors exist)", function()
    if not strings_supported() then return pending("string tensors are not in this tree yet") end
    local rt = RT.from_row_splits(tf.constant({ "a", "bc", "d" }), { 0, 2, 3 })
    assert.are.same({ { "a", "bc" }, { "d" } }, rt:to_list())
    assert.are.same({ "d" }, rt[1]:totable())
    assert.are.equal("<tf.RaggedTensor [[b'a', b'bc'], [b'd']]>", tostring(rt))
    assert.are.equal([=[<tf.RaggedTensor [[b"it's", b'x\ny', b'\xff']]>]=], tostring(rc({ { "it's", "x\ny", "\xff" } })))
    assert.are.same({ { "bc" }, {} }, tf.ragged.boolean_mask(rt, tf.equal(rt, "bc")):to_list())
    assert.are.same({ { "d" }, { "a", "bc" } }, tf.gather(rt, { 1, 0 }):to_list())
    assert.are.same({ { "a", "bc", "a", "bc" }, { "d", "d" } }, tf.concat({ rt, rt }, 1):to_list())
    assert.are.same({ { "a", "bc" }, { "d", "" } }, rt:to_tensor():totable())
  end)
end)
