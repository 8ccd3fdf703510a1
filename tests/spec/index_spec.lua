-- Indexing ops and Lua slicing, against numpy's same indexing.
local tf = require("tlua")
local helpers = require("helpers")
local assert_error = helpers.assert_error

local function same(t, expected, shape)
  helpers.assert_close(t:totable(), expected)
  if shape then assert.same(shape, t.shape:as_list()) end
end

-- Python list literal of Lua strings.
local function pylist(strs)
  local q = {}
  for i, s in ipairs(strs) do q[i] = ("%q"):format(s) end
  return "[" .. table.concat(q, ",") .. "]"
end

local function arange(...)
  local dims = { ... }
  local n = 1
  for _, d in ipairs(dims) do n = n * d end
  local flat = {}
  for i = 1, n do flat[i] = i - 1 end
  return tf.reshape(tf.constant(flat), dims)
end

describe("Lua slicing", function()
  local cases = {
    "1", "-1", "0:2", "::2", "::-1", "1:-1", "-2:", ":, 1", ":, ::-2", "..., 0", "..., ::-1",
    "newaxis", "newaxis, ..., newaxis", "1, newaxis, 2", "0:0", "5:", "-100:100", "2:0:-1",
    "::3, 1:3, -1", "..., 1:3", "1, ..., 2", ":, newaxis, :, 0", "-1, -1, -1", "1:2, 2:3, 3:4",
    ":, :, ::-1", "::-1, ::-1, ::-1", "2:-4:-1", "-1:-4:-2, 3", "None, 0", "..., None",
    "0, 0:4:3, 4:0:-2", "1:100:7", ":, -3:", "...", ":", "::-2, ..., 1::2",
  }

  it("string slices match numpy on a contiguous tensor", function()
    local ref = helpers.python(([[
newaxis = None
a = np.arange(60).reshape(3, 4, 5)
out = [[eval("a[" + s + "]").tolist(), list(eval("a[" + s + "]").shape)] for s in %s]
]]):format(pylist(cases)))
    local a = arange(3, 4, 5)
    for i, s in ipairs(cases) do
      local r = a[s]
      local ok, why = helpers.close(r:totable(), ref[i][1])
      assert(ok, ("slice %q: %s"):format(s, tostring(why)))
      assert.same(ref[i][2], r.shape:as_list(), "shape of " .. s)
    end
  end)

  it("string slices match numpy on a transposed (strided) tensor", function()
    local ref = helpers.python(([[
newaxis = None
a = np.arange(60).reshape(5, 3, 4).transpose(1, 2, 0)
out = [eval("a[" + s + "]").tolist() for s in %s]
]]):format(pylist(cases)))
    local a = tf.transpose(arange(5, 3, 4), { 1, 2, 0 })
    for i, s in ipairs(cases) do
      local ok, why = helpers.close(a[s]:totable(), ref[i])
      assert(ok, ("slice %q of transposed: %s"):format(s, tostring(why)))
    end
  end)

  it("slices of slices compose", function()
    local a = arange(6, 6)
    local ref = helpers.python("a = np.arange(36).reshape(6,6)\nout = a[::-1][1:5:2][:, 1::2][::-1]")
    same(a["::-1"]["1:5:2"][":, 1::2"]["::-1"], ref)
  end)

  it("table form is the same as the string form", function()
    local a = arange(3, 4, 5)
    local pairs_ = {
      { { 1 }, "1" },
      { { -1, 2 }, "-1, 2" },
      { { { nil, nil, -1 } }, "::-1" },
      { { tf.newaxis, tf.ellipsis, 0 }, "newaxis, ..., 0" },
      { { 0, { 1, 3 }, { nil, nil, 2 } }, "0, 1:3, ::2" },
      { { ":", 1 }, ":, 1" },
      { { "1:", tf.ellipsis, { -1, 0, -1 } }, "1:, ..., -1:0:-1" },
      { { { start = 1, step = 2 } }, "1::2" },
      { {}, "..." },
      { { 2.0 }, "2" },
    }
    for _, p in ipairs(pairs_) do
      local x, y = a[p[1]], a[p[2]]
      helpers.assert_close(x:totable(), y:totable())
      assert.same(y.shape:as_list(), x.shape:as_list(), p[2])
    end
    helpers.assert_close(a[tf.newaxis].shape:as_list(), { 1, 3, 4, 5 })
    helpers.assert_close(a[tf.ellipsis].shape:as_list(), { 3, 4, 5 })
  end)

  it("integer keys select along axis 0, negative from the end", function()
    local a = arange(3, 2)
    same(a[0], { 0, 1 })
    same(a[-1], { 4, 5 })
    assert.equal(5, a[2][1]:item())
    assert.equal(3, a[-2][-1]:item())
    assert.same({}, a[1][0].shape:as_list())
  end)

  it("tensor keys gather and mask", function()
    local a = arange(4, 2)
    same(a[tf.constant({ 3, 0, 3 })], { { 6, 7 }, { 0, 1 }, { 6, 7 } })
    same(a[tf.constant({ true, false, false, true })], { { 0, 1 }, { 6, 7 } })
  end)

  it("slices zero-sized tensors", function()
    local z = tf.reshape(tf.constant({}), { 0, 3 })
    assert.same({ 0, 2 }, z[":, 1:"].shape:as_list())
    assert.same({ 0 }, z["..., 0"].shape:as_list())
    assert.same({ 0, 3 }, z["::-1"].shape:as_list())
    assert.same({ 0, 3 }, arange(4, 3)["2:2"].shape:as_list())
  end)

  it("unknown identifier fields are nil, not slices", function()
    local a = arange(2)
    assert.is_nil(a.no_such_method)
    assert.is_nil(a.numpyy)
  end)

  it("reports bad slices", function()
    local a = arange(3, 4)
    assert_error("InvalidArgument", { "strided_slice", "int32[3,4]", "index 3 is out of bounds for dimension 0 with size 3",
      "[-3, 3)" }, function() return a[3] end)
    assert_error("InvalidArgument", { "index -4 is out of bounds for dimension 0" }, function() return a[-4] end)
    assert_error("InvalidArgument", { "index 4 is out of bounds for dimension 1 with size 4" }, function() return a["0, 4"] end)
    assert_error("InvalidArgument", { "too many indices for a tensor of rank 2 (3 given)" }, function() return a["0, 0, 0"] end)
    assert_error("InvalidArgument", { "step cannot be zero" }, function() return a["::0"] end)
    assert_error("InvalidArgument", { "step cannot be zero" }, function() return a[{ { 0, 1, 0 } }] end)
    assert_error("InvalidArgument", { "single ellipsis" }, function() return a["..., 0, ..."] end)
    assert_error("InvalidArgument", { '"x"', "not an integer" }, function() return a["0:x"] end)
    assert_error("InvalidArgument", { "too many colons" }, function() return a["1:2:3:4"] end)
    assert_error("InvalidArgument", { "empty item" }, function() return a["1,,2"] end)
    assert_error("InvalidArgument", { "must be an integer" }, function() return a[0.5] end)
    assert_error("InvalidArgument", { "unsupported type boolean" }, function() return a[{ true }] end)
    assert_error("InvalidArgument", { "cannot index a tensor with a boolean" }, function() return a[true] end)
    assert_error("InvalidArgument", { "tensor inside a slice" }, function() return a[{ tf.constant(1) }] end)
    assert_error("InvalidArgument", { "a tf.Tensor is immutable", "tf.Variable" }, function() a[0] = 1 end)
  end)
end)

describe("strided_slice and slice ops", function()
  it("follows TensorFlow's masks", function()
    local a = arange(3, 4, 5)
    -- begin_mask on dim 0, end_mask on dim 1, shrink on dim 2: a[:, 2:, 1]
    same(tf.strided_slice(a, { 1, 2, 1 }, { 0, 0, 2 }, { 1, 1, 1 }, 1, 3, 0, 0, 4),
      helpers.python("out = np.arange(60).reshape(3,4,5)[:, 2:, 1]"))
    -- ellipsis then new axis: a[..., None]
    assert.same({ 3, 4, 5, 1 }, tf.strided_slice(a, { 0, 0 }, { 0, 0 }, { 1, 1 }, 0, 0, 1, 2, 0).shape:as_list())
    -- strides optional
    same(tf.strided_slice(arange(5), { 1 }, { 4 }), { 1, 2, 3 })
    assert_error("InvalidArgument", { "same length" }, function() return tf.strided_slice(a, { 0 }, { 1, 2 }) end)
    assert_error("InvalidArgument", { "strides[0] is 0" }, function() return tf.strided_slice(a, { 0 }, { 1 }, { 0 }) end)
    assert_error("InvalidArgument", { "only one ellipsis" }, function() return tf.strided_slice(a, { 0, 0 }, { 0, 0 }, { 1, 1 }, 0, 0, 3) end)
  end)

  it("slice takes begin and size with -1", function()
    local a = arange(3, 4)
    same(tf.slice(a, { 1, 1 }, { 2, -1 }), { { 5, 6, 7 }, { 9, 10, 11 } })
    same(tf.slice(tf.transpose(a), { 1, 0 }, { 2, 2 }), { { 1, 5 }, { 2, 6 } })
    assert.same({ 0, 4 }, tf.slice(a, { 3, 0 }, { 0, -1 }).shape:as_list())
    assert_error("InvalidArgument", { "slice", "begin[0] is 4, outside [0, 3]" }, function() return tf.slice(a, { 4, 0 }, { 1, 1 }) end)
    assert_error("InvalidArgument", { "size[1] is 5" }, function() return tf.slice(a, { 0, 0 }, { 1, 5 }) end)
    assert_error("InvalidArgument", { "one entry per dimension" }, function() return tf.slice(a, { 0 }, { 1 }) end)
  end)
end)

describe("gather", function()
  it("matches numpy take on every axis, including strided params", function()
    local ref = helpers.python([==[
a = np.arange(24).reshape(2,3,4)
i = np.array([[2,0],[1,1]])
out = [np.take(a, [1,0,1], axis=0), np.take(a, i, axis=1), np.take(a, [3], axis=-1), np.take(a.transpose(2,0,1), [3,0], axis=0)]
]==])
    local a = arange(2, 3, 4)
    same(tf.gather(a, { 1, 0, 1 }), ref[1])
    same(tf.gather(a, { { 2, 0 }, { 1, 1 } }, 1), ref[2], { 2, 2, 2, 4 })
    same(tf.gather(a, { 3 }, { axis = -1 }), ref[3])
    same(tf.gather(tf.transpose(a, { 2, 0, 1 }), tf.constant({ 3, 0 }, tf.int64)), ref[4])
    same(tf.gather(tf.constant({ 1.5, 2.5 }), 1), 2.5)
  end)

  it("supports batch_dims", function()
    local ref = helpers.python([==[
a = np.arange(24).reshape(2,3,4); i = np.array([[0,2],[1,0]])
out = [np.stack([np.take(a[b], i[b], axis=1) for b in range(2)]), np.stack([np.take(a[b], i[b], axis=0) for b in range(2)])]
]==])
    local a = arange(2, 3, 4)
    same(tf.gather(a, { { 0, 2 }, { 1, 0 } }, 2, 1), ref[1])
    same(tf.gather(a, { { 0, 2 }, { 1, 0 } }, { batch_dims = 1 }), ref[2])
  end)

  it("handles zero-sized params and indices", function()
    assert.same({ 0, 3 }, tf.gather(arange(4, 3), tf.constant({}, tf.int32)).shape:as_list())
    assert.same({ 0, 0 }, tf.gather(tf.reshape(tf.constant({}), { 0, 3 }), tf.constant({}, tf.int32), 1).shape:as_list())
  end)

  it("rejects out-of-range and negative indices, naming index and position", function()
    local a = arange(5, 2)
    assert_error("InvalidArgument", { "gather", "indices[1] = 7 is not in [0, 5)" }, function() return tf.gather(a, { 0, 7 }) end)
    assert_error("InvalidArgument", { "indices[1,0] = -1 is not in [0, 5)" }, function() return tf.gather(a, { { 0 }, { -1 } }) end)
    assert_error("InvalidArgument", { "indices[0] = 2 is not in [0, 2)" }, function() return tf.gather(a, { 2 }, 1) end)
    assert_error("InvalidArgument", { "axis 2 is out of range" }, function() return tf.gather(a, { 0 }, 2) end)
    assert_error("InvalidArgument", { "indices must be int32 or int64, got float32" }, function() return tf.gather(a, { 0.5 }) end)
  end)
end)

describe("gather_nd", function()
  it("matches numpy, with and without batch_dims", function()
    local ref = helpers.python([==[
a = np.arange(24).reshape(2,3,4)
out = [a[[1,0],[2,1]], a[[1],[2],[3]], np.stack([a[b][[2,0]] for b in range(2)]), a[[1,0]]]
]==])
    local a = arange(2, 3, 4)
    same(tf.gather_nd(a, { { 1, 2 }, { 0, 1 } }), ref[1])
    same(tf.gather_nd(a, { { 1, 2, 3 } }), ref[2])
    same(tf.gather_nd(a, { { { 2 }, { 0 } }, { { 2 }, { 0 } } }, 1), ref[3])
    same(tf.gather_nd(tf.transpose(tf.transpose(a)), { { 1 }, { 0 } }), ref[4])
  end)

  it("rejects bad indices", function()
    local a = arange(2, 2)
    assert_error("InvalidArgument", { "gather_nd", "indices[1] = [3,0] does not index into shape [2,2]" },
      function() return tf.gather_nd(a, { { 0, 0 }, { 3, 0 } }) end)
    assert_error("InvalidArgument", { "last dimension of indices (3)" }, function() return tf.gather_nd(a, { { 0, 0, 0 } }) end)
  end)
end)

describe("boolean_mask", function()
  it("selects along axis, matching numpy", function()
    local ref = helpers.python([==[
a = np.arange(24).reshape(2,3,4)
out = [a[np.array([[True,False,True],[False,False,True]])], a[:, np.array([False,True,True])], a[np.array([True,False])]]
]==])
    local a = arange(2, 3, 4)
    same(tf.boolean_mask(a, { { true, false, true }, { false, false, true } }), ref[1])
    same(tf.boolean_mask(a, { false, true, true }, 1), ref[2])
    same(tf.boolean_mask(tf.transpose(tf.transpose(a)), { true, false }), ref[3])
    assert.same({ 0, 3, 4 }, tf.boolean_mask(a, { false, false }).shape:as_list())
  end)

  it("rejects mismatched masks", function()
    local a = arange(4, 2)
    assert_error("InvalidArgument", { "boolean_mask", "mask shape [3] does not match tensor shape [4,2]" },
      function() return tf.boolean_mask(a, { true, false, true }) end)
    assert_error("InvalidArgument", { "mask must be bool" }, function() return tf.boolean_mask(a, { 1, 0, 1, 0 }) end)
    assert_error("InvalidArgument", { "does not fit" }, function() return tf.boolean_mask(a, { { true, true } }, 1) end)
  end)
end)

describe("where", function()
  it("with one argument gives int64 coordinates of true elements", function()
    local r = tf.where(tf.constant({ { true, false }, { false, true }, { true, true } }))
    assert.equal(tf.int64, r.dtype)
    same(r, { { 0, 0 }, { 1, 1 }, { 2, 0 }, { 2, 1 } })
    same(tf.where(tf.constant({ 0.0, 2.0, 0.0, -1.0 })), { { 1 }, { 3 } })
    assert.same({ 0, 2 }, tf.where(tf.constant({ { false }, { false } })).shape:as_list())
    assert.same({ 0, 1 }, tf.where(tf.constant({ false, false })).shape:as_list())
  end)

  it("with three arguments selects with broadcasting", function()
    local ref = helpers.python([==[
c = np.array([True, False, True]); x = np.arange(6).reshape(2,3); y = np.array([[10],[20]])
out = np.where(c, x, y)
]==])
    same(tf.where(tf.constant({ true, false, true }), arange(2, 3), tf.constant({ { 10 }, { 20 } })), ref)
    same(tf.where(tf.constant({ true, false }), tf.constant({ 1.5, 2.5 }), 0), { 1.5, 0 })
    same(tf.where(tf.constant({ true, false }), 7, tf.constant({ 1, 2 })), { 7, 2 })
    same(tf.constant({ true, false }):where(tf.constant({ 1, 2 }), tf.constant({ 3, 4 })), { 1, 4 })
  end)

  it("reports bad arguments", function()
    assert_error("InvalidArgument", { "x and y must both be given" },
      function() return tf.where(tf.constant({ true }), tf.constant({ 1 })) end)
    assert_error("InvalidArgument", { "condition must be bool" },
      function() return tf.where(tf.constant({ 1 }), tf.constant({ 1 }), tf.constant({ 2 })) end)
    assert_error("InvalidArgument", { "different dtypes", "int32", "float32" },
      function() return tf.where(tf.constant({ true }), tf.constant({ 1 }), tf.constant({ 2.5 })) end)
    assert_error("InvalidArgument", { "incompatible for broadcasting" },
      function() return tf.where(tf.constant({ true, false, true }), tf.constant({ 1, 2 }), tf.constant({ 2, 3 })) end)
  end)
end)

describe("scatter", function()
  it("scatter_nd adds duplicates", function()
    same(tf.scatter_nd({ { 4 }, { 3 }, { 1 }, { 7 }, { 1 } }, { 9, 10, 11, 12, 5 }, { 8 }), { 0, 16, 0, 10, 9, 0, 0, 12 })
    local ref = helpers.python([==[
out = np.zeros((4,4,4)); u = np.array([[5,5,5,5],[6,6,6,6],[7,7,7,7],[8,8,8,8]])
out[0] += u; out[2] += u * 2
]==])
    local u = tf.constant({ { 5.0, 5, 5, 5 }, { 6, 6, 6, 6 }, { 7, 7, 7, 7 }, { 8, 8, 8, 8 } })
    same(tf.scatter_nd({ { 0 }, { 2 } }, tf.stack({ u, tf.constant({ { 10.0, 10, 10, 10 }, { 12, 12, 12, 12 }, { 14, 14, 14, 14 }, { 16, 16, 16, 16 } }) }), { 4, 4, 4 }), ref)
    assert.same({ 0, 3 }, tf.scatter_nd(tf.reshape(tf.constant({}, tf.int32), { 0, 1 }), tf.reshape(tf.constant({}), { 0, 3 }), { 0, 3 }).shape:as_list())
  end)

  it("tensor_scatter_nd_update/add/sub", function()
    local t = arange(3, 2)
    same(tf.tensor_scatter_nd_update(t, { { 0 }, { 2 } }, { { -1, -2 }, { -3, -4 } }), { { -1, -2 }, { 2, 3 }, { -3, -4 } })
    same(tf.tensor_scatter_nd_update(t, { { 1, 1 } }, { 99 }), { { 0, 1 }, { 2, 99 }, { 4, 5 } })
    same(tf.tensor_scatter_nd_add(t, { { 1, 1 }, { 1, 1 } }, { 10, 20 }), { { 0, 1 }, { 2, 33 }, { 4, 5 } })
    same(tf.tensor_scatter_nd_sub(tf.transpose(t), { { 0 } }, { { 1, 1, 1 } }), { { -1, 1, 3 }, { 1, 3, 5 } })
    same(tf.tensor_scatter_nd_add(tf.constant({ 1.5, 2.5 }, tf.float64), { { 1 } }, tf.constant({ 1.0 }, tf.float64)), { 1.5, 3.5 })
    same(t, { { 0, 1 }, { 2, 3 }, { 4, 5 } }) -- the input is unchanged
  end)

  it("reports bad indices and shapes", function()
    local t = arange(4, 2)
    assert_error("InvalidArgument", { "tensor_scatter_nd_update", "indices[1] = [5] does not index into shape [4,2]" },
      function() return tf.tensor_scatter_nd_update(t, { { 0 }, { 5 } }, { { 1, 1 }, { 1, 1 } }) end)
    assert_error("InvalidArgument", { "[-1] does not index" },
      function() return tf.tensor_scatter_nd_add(t, { { -1 } }, { { 1, 1 } }) end)
    assert_error("InvalidArgument", { "updates have shape [2] but indices [2,1] and shape [4,2] require [2,2]" },
      function() return tf.tensor_scatter_nd_update(t, { { 0 }, { 1 } }, { 1, 1 }) end)
    assert_error("InvalidArgument", { "updates have dtype float32 but the tensor is int32" },
      function() return tf.tensor_scatter_nd_update(t, { { 0 } }, { { 1.5, 1 } }) end)
    assert_error("InvalidArgument", { "scatter_nd", "indices[0] = [8] does not index into shape [8]" },
      function() return tf.scatter_nd({ { 8 } }, { 1 }, { 8 }) end)
  end)
end)

-- With core.set_check_infer(true) the dispatcher runs every op's shape rule
-- beside its kernel and fails (InternalError) when the rule is missing or
-- disagrees. boolean_mask and where(c) have value-dependent shapes: their
-- rules leave the count unknown, and the kernel's output must fit the rest.
describe("shape rules agree with the kernels", function()
  local rules = require("shape_rules")
  before_each(rules.on)
  after_each(rules.off)
  local checked = rules.checked
  local function i64(v) return tf.constant(v, tf.int64) end
  local empty_ints = function(...) return tf.reshape(tf.constant({}, tf.int32), { ... }) end

  it("for slices of views, with negative steps and empty ranges", function()
    local t = tf.transpose(arange(3, 4)) -- [4,3], not contiguous
    same(checked("strided_slice", function() return t["::-1, 1:"] end), { { 7, 11 }, { 6, 10 }, { 5, 9 }, { 4, 8 } })
    same(checked("strided_slice", function() return t["-1, newaxis"] end), { { 3, 7, 11 } }, { 1, 3 })
    assert.same({ 0, 3 }, checked("strided_slice", function() return t["2:0"] end).shape:as_list())
    same(checked("slice", function() return tf.slice(t, { 1, 1 }, { -1, 2 }) end), { { 5, 9 }, { 6, 10 }, { 7, 11 } })
    assert.same({ 0, 3 }, checked("slice", function() return tf.slice(t, { 4, 0 }, { 0, -1 }) end).shape:as_list())
    same(checked("tensor_strided_slice_update", function()
      return tf.raw_ops.tensor_strided_slice_update(t, tf.constant({ -1, -2 }), { 0, 1 }, { 0, 3 }, { 1, 1 }, 1, 1)
    end), { { 0, -1, -2 }, { 1, -1, -2 }, { 2, -1, -2 }, { 3, -1, -2 } })
    same(checked("strided_slice_grad", function()
      return tf.raw_ops.strided_slice_grad(tf.constant({ { 1.5 }, { 2.5 } }), { 3, 2 }, { -1, 0 }, { 0, 1 }, { -2, 1 }, 0, 1)
    end), { { 2.5, 0 }, { 0, 0 }, { 1.5, 0 } })
  end)

  it("for gathers and scatters, with negative axes and zero-sized indices", function()
    local p = tf.transpose(arange(3, 4))
    same(checked("gather", function() return tf.gather(p, i64({ { 2, 0 } }), -1) end), { { { 8, 0 } }, { { 9, 1 } }, { { 10, 2 } }, { { 11, 3 } } })
    assert.same({ 0, 3 }, checked("gather", function() return tf.gather(p, empty_ints(0)) end).shape:as_list())
    same(checked("gather", function() return tf.gather(p, tf.constant({ { 1 }, { 2 }, { 0 }, { 0 } }), 1, { batch_dims = -1 }) end),
      { { 4 }, { 9 }, { 2 }, { 3 } })
    same(checked("gather_nd", function() return tf.gather_nd(p, tf.constant({ { 3, 2 }, { 0, 1 } })) end), { 11, 4 })
    assert.same({ 0, 3 }, checked("gather_nd", function() return tf.gather_nd(p, empty_ints(0, 1)) end).shape:as_list())
    same(checked("gather_grad", function() return tf.raw_ops.gather_grad(tf.constant({ 1.5, 2.5 }), tf.constant({ 1, 1 }), { 3 }, 0) end),
      { 0, 4, 0 })
    same(checked("gather_nd_grad", function()
      return tf.raw_ops.gather_nd_grad(tf.constant({ 1.5, 2.5 }), tf.constant({ { 0, 1 }, { 0, 1 } }), { 2, 2 })
    end), { { 0, 4 }, { 0, 0 } })
    same(checked("scatter_nd", function() return tf.scatter_nd(tf.constant({ { 1 }, { 1 } }), p[{ { 0, 2 } }], { 3, 3 }) end),
      { { 0, 0, 0 }, { 1, 9, 17 }, { 0, 0, 0 } })
    assert.same({ 2, 0 }, checked("scatter_nd", function() return tf.scatter_nd(empty_ints(0, 1), empty_ints(0, 0), { 2, 0 }) end)
      .shape:as_list())
    same(checked("tensor_scatter_nd_update", function() return tf.tensor_scatter_nd_update(p, tf.constant({ { 0, 0 } }), tf.constant({ 7 })) end)[0],
      { 7, 4, 8 })
    same(checked("tensor_scatter_nd_add", function() return tf.tensor_scatter_nd_add(p, tf.constant({ { 3 } }), tf.constant({ { 1, 1, 1 } })) end)[3],
      { 4, 8, 12 })
    same(checked("tensor_scatter_nd_sub", function() return tf.tensor_scatter_nd_sub(p, empty_ints(0, 2), empty_ints(0)) end), p:totable())
    -- index values are checked by the kernels (the rule cannot see them)
    assert_error("InvalidArgument", { "gather", "indices[0,1] = 3 is not in [0, 3)" }, function() return tf.gather(p, tf.constant({ { 0, 3 } }), 1) end)
    assert_error("InvalidArgument", { "tensor_scatter_nd_add", "indices[0] = [4] does not index into shape [4,3]" },
      function() return tf.tensor_scatter_nd_add(p, tf.constant({ { 4 } }), tf.constant({ { 1, 1, 1 } })) end)
  end)

  it("for value-dependent outputs: boolean_mask and where", function()
    local t = tf.transpose(arange(3, 4))
    same(checked("boolean_mask", function() return tf.boolean_mask(t, tf.constant({ false, true, false, true })) end), { { 1, 5, 9 }, { 3, 7, 11 } })
    same(checked("boolean_mask", function() return tf.boolean_mask(t, tf.constant({ true, false, true }), { axis = -1 }) end),
      { { 0, 8 }, { 1, 9 }, { 2, 10 }, { 3, 11 } })
    assert.same({ 0, 3 }, checked("boolean_mask", function() return tf.boolean_mask(t, tf.constant({ false, false, false, false })) end)
      .shape:as_list())
    same(checked("where", function() return tf.where(tf.transpose(tf.constant({ { true, false }, { false, true }, { true, true } }))) end),
      { { 0, 0 }, { 0, 2 }, { 1, 1 }, { 1, 2 } })
    local none = checked("where", function() return tf.where(tf.constant({ 0.0, 0.0 })) end)
    assert.same({ 0, 1 }, none.shape:as_list())
    assert.equal(tf.int64, none.dtype)
    same(checked("where", function() return tf.where(tf.constant({ { true }, { false } }), t[{ { 0, 1 } }], tf.constant(-1)) end),
      { { 0, 4, 8 }, { -1, -1, -1 } })
  end)
end)
