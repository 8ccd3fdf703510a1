-- Shape ops against numpy and hand values: views, zero-sized dims, negative
-- axes, non-contiguous inputs, and every error message.
local tf = require("tlua")
local helpers = require("helpers")
local assert_error = helpers.assert_error

local function same(t, expected, shape)
  helpers.assert_close(t:totable(), expected)
  if shape then assert.same(shape, t.shape:as_list()) end
end

local function arange(...)
  local dims = { ... }
  local n = 1
  for _, d in ipairs(dims) do n = n * d end
  local flat = {}
  for i = 1, n do flat[i] = i - 1 end
  return tf.reshape(tf.constant(flat), dims)
end

local function empty(...)
  return tf.reshape(tf.constant({}), { ... })
end

describe("reshape", function()
  it("reshapes and infers one -1", function()
    same(tf.reshape(arange(6), { 2, 3 }), { { 0, 1, 2 }, { 3, 4, 5 } })
    same(tf.reshape(arange(6), { -1, 2 }), { { 0, 1 }, { 2, 3 }, { 4, 5 } })
    same(tf.reshape(arange(2, 3), { -1 }), { 0, 1, 2, 3, 4, 5 })
    same(tf.reshape(tf.constant({ 7 }), {}), 7)
    assert.same({ 2, 0, 5 }, tf.reshape(empty(0, 10), { 2, -1, 5 }).shape:as_list())
    same(arange(2, 3):reshape({ 3, 2 }), { { 0, 1 }, { 2, 3 }, { 4, 5 } })
    -- shape from a TensorShape or an integer tensor
    same(tf.reshape(arange(6), arange(3, 2).shape), { { 0, 1 }, { 2, 3 }, { 4, 5 } })
    same(tf.reshape(arange(6), tf.constant({ 3, 2 })), { { 0, 1 }, { 2, 3 }, { 4, 5 } })
  end)

  it("reshapes a transposed (non-contiguous) tensor in logical order", function()
    same(tf.reshape(tf.transpose(arange(2, 3)), { -1 }), { 0, 3, 1, 4, 2, 5 })
  end)

  it("reports size mismatches naming both shapes", function()
    assert_error("InvalidArgument", { "reshape", "int32[2,3]", "6 elements", "shape [4,2]" },
      function() return tf.reshape(arange(2, 3), { 4, 2 }) end)
    assert_error("InvalidArgument", { "int32[6]", "shape [4,-1]" }, function() return tf.reshape(arange(6), { 4, -1 }) end)
    assert_error("InvalidArgument", { "more than one -1" }, function() return tf.reshape(arange(6), { -1, -1 }) end)
    assert_error("InvalidArgument", { "dimension 0 of shape [-2,-3] is negative" }, function() return tf.reshape(arange(6), { -2, -3 }) end)
    assert_error("InvalidArgument", { "cannot infer the -1" }, function() return tf.reshape(empty(0), { 0, -1 }) end)
  end)
end)

describe("transpose", function()
  it("reverses dims by default and permutes by perm", function()
    local ref = helpers.python("a = np.arange(24).reshape(2,3,4)\nout = [a.T, a.transpose(1,0,2), a.transpose(2,0,1)]")
    local a = arange(2, 3, 4)
    same(tf.transpose(a), ref[1], { 4, 3, 2 })
    same(tf.transpose(a, { 1, 0, 2 }), ref[2])
    same(tf.transpose(a, { perm = { 2, 0, 1 } }), ref[3])
    same(tf.transpose(tf.transpose(a)), a:totable())
    same(tf.transpose(tf.constant(3)), 3)
    assert.same({ 5, 0 }, tf.transpose(empty(0, 5)).shape:as_list())
  end)

  it("feeds non-contiguous views to consumers correctly", function()
    local t = tf.transpose(arange(2, 3))
    same(tf.concat({ t, t }, 0), { { 0, 3 }, { 1, 4 }, { 2, 5 }, { 0, 3 }, { 1, 4 }, { 2, 5 } })
    same(tf.tile(t, { 1, 2 }), { { 0, 3, 0, 3 }, { 1, 4, 1, 4 }, { 2, 5, 2, 5 } })
    same(tf.reverse(t, { 0 }), { { 2, 5 }, { 1, 4 }, { 0, 3 } })
    same(tf.pad(t, { { 0, 1 }, { 0, 0 } }), { { 0, 3 }, { 1, 4 }, { 2, 5 }, { 0, 0 } })
    same(tf.stack({ t, t }), { t:totable(), t:totable() })
    same(tf.broadcast_to(tf.transpose(tf.constant({ { 1, 2 } })), { 2, 3 }), { { 1, 1, 1 }, { 2, 2, 2 } })
    local v = tf.Variable(t)
    same(v, { { 0, 3 }, { 1, 4 }, { 2, 5 } })
  end)

  it("rejects bad perms", function()
    local a = arange(2, 3)
    assert_error("InvalidArgument", { "transpose", "int32[2,3]", "perm [0,0] is not a permutation" },
      function() return tf.transpose(a, { 0, 0 }) end)
    assert_error("InvalidArgument", { "perm [0] has 1 entries but the tensor has rank 2" }, function() return tf.transpose(a, { 0 }) end)
    assert_error("InvalidArgument", { "entry 1 is 2, outside [0, 2)" }, function() return tf.transpose(a, { 0, 2 }) end)
    assert_error("InvalidArgument", { "entry 0 is -1" }, function() return tf.transpose(a, { -1, 0 }) end)
  end)
end)

describe("expand_dims and squeeze", function()
  it("inserts and removes size-1 dims", function()
    local a = arange(2, 3)
    assert.same({ 1, 2, 3 }, tf.expand_dims(a, 0).shape:as_list())
    assert.same({ 2, 3, 1 }, tf.expand_dims(a, -1).shape:as_list())
    assert.same({ 2, 1, 3 }, tf.expand_dims(a, -2).shape:as_list())
    assert.same({ 1 }, tf.expand_dims(tf.constant(5), 0).shape:as_list())
    same(tf.expand_dims(tf.transpose(a), 1), { { { 0, 3 } }, { { 1, 4 } }, { { 2, 5 } } })
    local b = tf.reshape(arange(6), { 1, 2, 1, 3, 1 })
    assert.same({ 2, 3 }, tf.squeeze(b).shape:as_list())
    assert.same({ 2, 1, 3 }, tf.squeeze(b, { 0, -1 }).shape:as_list())
    assert.same({ 1, 2, 3, 1 }, tf.squeeze(b, 2).shape:as_list())
    same(tf.squeeze(b), a:totable())
    assert.same({ 0 }, tf.squeeze(empty(1, 0)).shape:as_list())
  end)

  it("reports bad axes", function()
    local a = arange(2, 3)
    assert_error("InvalidArgument", { "expand_dims", "axis 3 is out of range", "[-3, 2]" }, function() return tf.expand_dims(a, 3) end)
    assert_error("InvalidArgument", { "axis -4 is out of range" }, function() return tf.expand_dims(a, -4) end)
    assert_error("InvalidArgument", { "squeeze", "cannot squeeze axis 1: its size is 3, not 1" }, function() return tf.squeeze(a, 1) end)
    assert_error("InvalidArgument", { "axis 2 is out of range" }, function() return tf.squeeze(a, 2) end)
  end)
end)

describe("concat, stack, unstack, split", function()
  it("concat joins along an axis (negative too)", function()
    local a, b = arange(2, 2), tf.constant({ { 9 }, { 8 } })
    same(tf.concat({ a, b }, 1), { { 0, 1, 9 }, { 2, 3, 8 } })
    same(tf.concat({ a, b }, -1), { { 0, 1, 9 }, { 2, 3, 8 } })
    same(tf.concat({ a, a }, 0), { { 0, 1 }, { 2, 3 }, { 0, 1 }, { 2, 3 } })
    same(tf.concat({ a, tf.reshape(tf.constant({}, tf.int32), { 0, 2 }) }, 0), a:totable())
    assert.same({ 0, 3 }, tf.concat({ empty(0, 1), empty(0, 2) }, 1).shape:as_list())
    same(tf.concat({ a }, 0), a:totable())
  end)

  it("concat reports ragged shapes and mixed dtypes", function()
    local a = arange(2, 3)
    assert_error("InvalidArgument", { "concat", "dimension 1 of values[1] is 4, expected 3", "[2,3]", "[2,4]" },
      function() return tf.concat({ a, arange(2, 4) }, 0) end)
    assert_error("InvalidArgument", { "values[1] has rank 1" }, function() return tf.concat({ a, arange(3) }, 0) end)
    assert_error("InvalidArgument", { "axis 2 is out of range" }, function() return tf.concat({ a, a }, 2) end)
    assert_error("InvalidArgument", { "different dtypes" }, function() return tf.concat({ a, tf.constant({ { 1.5, 2, 3 } }) }, 0) end)
    assert_error("InvalidArgument", { "cannot concatenate scalars" }, function() return tf.concat({ tf.constant(1), tf.constant(2) }, 0) end)
  end)

  it("stack and unstack are inverses", function()
    local ref = helpers.python("a = np.arange(6).reshape(2,3); b = a + 10\nout = [np.stack([a,b]), np.stack([a,b], 1), np.stack([a,b], -1)]")
    local a = arange(2, 3)
    local b = tf.constant({ { 10, 11, 12 }, { 13, 14, 15 } })
    same(tf.stack({ a, b }), ref[1])
    same(tf.stack({ a, b }, 1), ref[2])
    same(tf.stack({ a, b }, -1), ref[3], { 2, 3, 2 })
    same(tf.stack({ tf.constant(1), tf.constant(2) }), { 1, 2 })
    local parts = tf.unstack(tf.stack({ a, b }, 1), { axis = 1 })
    assert.equal(2, #parts)
    same(parts[1], a:totable())
    same(parts[2], b:totable())
    local cols = tf.unstack(a, 3, -1)
    same(cols[3], { 2, 5 })
    assert.equal(0, #tf.unstack(empty(0, 3)))
    assert_error("InvalidArgument", { "stack", "values[1] has shape [3,2]" }, function() return tf.stack({ a, tf.transpose(a) }) end)
    assert_error("InvalidArgument", { "axis 3 is out of range" }, function() return tf.stack({ a, a }, 3) end)
    assert_error("InvalidArgument", { "unstack", "num is 4 but dimension 0 has size 2" }, function() return tf.unstack(a, 4) end)
  end)

  it("split into equal parts or sizes", function()
    local a = arange(2, 6)
    local p = tf.split(a, 3, 1)
    assert.equal(3, #p)
    same(p[2], { { 2, 3 }, { 8, 9 } })
    p = tf.split(a, { 1, -1, 2 }, -1)
    same(p[1], { { 0 }, { 6 } })
    same(p[2], { { 1, 2, 3 }, { 7, 8, 9 } })
    same(p[3], { { 4, 5 }, { 10, 11 } })
    p = tf.split(a, { 0, 6 }, 1)
    assert.same({ 2, 0 }, p[1].shape:as_list())
    p = tf.split(tf.transpose(a), 2)
    same(p[2], { { 3, 9 }, { 4, 10 }, { 5, 11 } })
    assert_error("InvalidArgument", { "split", "cannot split dimension 1 of size 6 into 4 equal parts" },
      function() return tf.split(a, 4, 1) end)
    assert_error("InvalidArgument", { "must sum to the size of dimension 1 (6), got 5" }, function() return tf.split(a, { 2, 3 }, 1) end)
    assert_error("InvalidArgument", { "more than one -1" }, function() return tf.split(a, { -1, -1 }, 1) end)
    assert_error("InvalidArgument", { "must be positive" }, function() return tf.split(a, 0, 1) end)
  end)
end)

describe("tile, pad, reverse, broadcast_to", function()
  it("tile matches numpy", function()
    local ref = helpers.python("a = np.arange(6).reshape(2,3)\nout = [np.tile(a, (2,3)), np.tile(a, (1,1)), np.tile(a.T, (3,1))]")
    local a = arange(2, 3)
    same(tf.tile(a, { 2, 3 }), ref[1])
    same(tf.tile(a, { 1, 1 }), ref[2])
    same(tf.tile(tf.transpose(a), { 3, 1 }), ref[3])
    assert.same({ 0, 3 }, tf.tile(a, { 0, 1 }).shape:as_list())
    assert_error("InvalidArgument", { "tile", "multiples [2] has 1 entries but the tensor has rank 2" }, function() return tf.tile(a, { 2 }) end)
    assert_error("InvalidArgument", { "negative entry" }, function() return tf.tile(a, { 1, -1 }) end)
  end)

  it("pad matches numpy in every mode", function()
    local ref = helpers.python([==[
a = np.arange(12).reshape(3,4).astype(np.float32)
p = ((1,2),(2,1))
out = [np.pad(a, p), np.pad(a, p, constant_values=-1.5), np.pad(a, p, mode='reflect'), np.pad(a, p, mode='symmetric'),
       np.pad(a, ((2,2),(3,3)), mode='symmetric'), np.pad(a, ((2,2),(3,3)), mode='reflect')]
]==])
    local a = tf.reshape(tf.constant({ 0.0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 }), { 3, 4 })
    local p = { { 1, 2 }, { 2, 1 } }
    same(tf.pad(a, p), ref[1])
    same(tf.pad(a, p, { constant_values = -1.5 }), ref[2])
    same(tf.pad(a, p, "REFLECT"), ref[3])
    same(tf.pad(a, p, "symmetric"), ref[4])
    same(tf.pad(a, { 2, 2, 3, 3 }, "SYMMETRIC"), ref[5])
    same(tf.pad(a, tf.constant({ { 2, 2 }, { 3, 3 } }, tf.int64), "REFLECT"), ref[6])
    assert.same({ 2, 3 }, tf.pad(empty(0, 3), { { 1, 1 }, { 0, 0 } }).shape:as_list())
    assert_error("InvalidArgument", { "pad", "paddings must have shape [2,2] for a rank 2 tensor, got [3,2]" },
      function() return tf.pad(a, { { 1, 1 }, { 1, 1 }, { 1, 1 } }) end)
    assert_error("InvalidArgument", { "REFLECT padding of dimension 0 (size 3) must be at most 2" },
      function() return tf.pad(a, { { 3, 0 }, { 0, 0 } }, "REFLECT") end)
    assert_error("InvalidArgument", { "SYMMETRIC padding of dimension 1 (size 4) must be at most 4" },
      function() return tf.pad(a, { { 0, 0 }, { 0, 5 } }, "SYMMETRIC") end)
    assert_error("InvalidArgument", { "must be non-negative" }, function() return tf.pad(a, { { -1, 0 }, { 0, 0 } }) end)
    assert_error("InvalidArgument", { "mode must be CONSTANT, REFLECT or SYMMETRIC, got 'WRAP'" }, function() return tf.pad(a, p, "WRAP") end)
  end)

  it("reverse matches numpy", function()
    local ref = helpers.python("a = np.arange(24).reshape(2,3,4)\nout = [a[:, ::-1], a[::-1, :, ::-1], a]")
    local a = arange(2, 3, 4)
    same(tf.reverse(a, { 1 }), ref[1])
    same(tf.reverse(a, { 0, -1 }), ref[2])
    same(tf.reverse(a, {}), ref[3])
    assert.same({ 0, 2 }, tf.reverse(empty(0, 2), { 0 }).shape:as_list())
    assert_error("InvalidArgument", { "reverse", "axis 1 is given more than once" }, function() return tf.reverse(a, { 1, -2 }) end)
    assert_error("InvalidArgument", { "axis 3 is out of range" }, function() return tf.reverse(a, { 3 }) end)
  end)

  it("broadcast_to follows numpy rules", function()
    same(tf.broadcast_to(tf.constant({ 1, 2, 3 }), { 2, 3 }), { { 1, 2, 3 }, { 1, 2, 3 } })
    same(tf.broadcast_to(tf.constant(7), { 2 }), { 7, 7 })
    assert.same({ 0, 3 }, tf.broadcast_to(tf.constant({ { 1, 2, 3 } }), { 0, 3 }).shape:as_list())
    assert_error("InvalidArgument", { "broadcast_to", "cannot broadcast shape [3] to shape [2,4]" },
      function() return tf.broadcast_to(tf.constant({ 1, 2, 3 }), { 2, 4 }) end)
    assert_error("InvalidArgument", { "cannot broadcast" }, function() return tf.broadcast_to(arange(2, 3), { 3 }) end)
  end)
end)

describe("size, rank, shape, identity", function()
  it("describe tensors as int32 tensors", function()
    local a = arange(2, 3, 4)
    local s = tf.size(a)
    assert.equal(tf.int32, s.dtype)
    assert.equal(24, s:item())
    assert.equal(tf.int64, tf.size(a, tf.int64).dtype)
    assert.equal(3, tf.rank(a):item())
    assert.equal(0, tf.rank(tf.constant(1)):item())
    same(tf.shape(a), { 2, 3, 4 })
    assert.equal(tf.int32, tf.shape(a).dtype)
    assert.equal(tf.int64, tf.shape(a, { out_type = tf.int64 }).dtype)
    same(tf.shape(empty(0, 3)), { 0, 3 })
    assert.same({ 0 }, tf.shape(tf.constant(1)).shape:as_list())
    assert.equal(0, tf.size(empty(5, 0)):item())
    same(tf.identity(a), a:totable())
    assert.same({ 2, 3, 4 }, a.shape:as_list()) -- the field, not the op
    assert_error("InvalidArgument", { "out_type must be int32 or int64" }, function() return tf.shape(a, tf.float32) end)
  end)
end)

-- With core.set_check_infer(true) the dispatcher runs every op's shape rule
-- beside its kernel and fails (InternalError) when the rule is missing or
-- disagrees; value-dependent outputs (pad) only fix what the rule says.
describe("shape rules agree with the kernels", function()
  local rules = require("shape_rules")
  before_each(rules.on)
  after_each(rules.off)
  local checked = rules.checked

  it("on views, negative axes and zero-sized dimensions", function()
    local a, t = arange(2, 3, 4), tf.transpose(arange(2, 3, 4)) -- t: a non-contiguous view
    same(checked("reshape", function() return tf.reshape(t, { -1, 6 }) end), tf.reshape(t, { 4, 6 }):totable(), { 4, 6 })
    assert.same({ 0, 5 }, checked("reshape", function() return tf.reshape(empty(0, 5), { -1, 5 }) end).shape:as_list())
    assert.same({ 3, 4, 2 }, checked("transpose", function() return tf.transpose(t, { 1, 0, 2 }) end).shape:as_list())
    assert.same({ 4, 3, 2, 1 }, checked("expand_dims", function() return tf.expand_dims(t, -1) end).shape:as_list())
    assert.same({ 0, 1, 3 }, checked("expand_dims", function() return tf.expand_dims(empty(0, 3), -2) end).shape:as_list())
    local v = tf.transpose(tf.reshape(a, { 2, 3, 1, 4 }), { 0, 2, 1, 3 }) -- [2,1,3,4], not contiguous
    same(checked("squeeze", function() return tf.squeeze(v, { -3 }) end), a:totable(), { 2, 3, 4 })
    assert.same({ 3 }, checked("squeeze", function() return tf.squeeze(tf.reshape(arange(3), { 1, 3, 1 })) end).shape:as_list())
    same(checked("identity", function() return tf.identity(t) end), t:totable())
    assert.same({ 2, 0, 3 }, checked("broadcast_to", function() return tf.broadcast_to(empty(0, 1), { 2, 0, 3 }) end).shape:as_list())
    same(checked("broadcast_to", function() return tf.broadcast_to(t[{ { 0, 1 } }], { 2, 3, 2 }) end),
      tf.broadcast_to(tf.constant({ { { 0, 12 }, { 4, 16 }, { 8, 20 } } }), { 2, 3, 2 }):totable())
    assert.equal(0, checked("size", function() return tf.size(empty(2, 0), tf.int64) end):item())
    assert.equal(3, checked("rank", function() return tf.rank(t) end):item())
    same(checked("shape", function() return tf.shape(t) end), { 4, 3, 2 })
    same(checked("shape", function() return tf.shape(empty(0, 7), tf.int64) end), { 0, 7 })
  end)

  it("for joins and cuts with zero-sized pieces", function()
    local a, t = arange(2, 3), tf.transpose(arange(3, 2))
    same(checked("concat", function() return tf.concat({ a, tf.reshape(tf.constant({}, tf.int32), { 0, 3 }), t }, -2) end), { { 0, 1, 2 }, { 3, 4, 5 }, { 0, 2, 4 }, { 1, 3, 5 } })
    same(checked("concat", function() return tf.concat({ t }, 0) end), t:totable())
    assert.same({ 2, 0 }, checked("concat", function() return tf.concat({ empty(2, 0), empty(2, 0) }, -1) end).shape:as_list())
    same(checked("stack", function() return tf.stack({ a, t }, -1) end), tf.stack({ a, t }, 2):totable(), { 2, 3, 2 })
    assert.same({ 0, 2, 3 }, checked("stack", function() return tf.stack({ empty(0, 3), empty(0, 3) }, 1) end).shape:as_list())
    local rows = checked("unstack", function() return tf.unstack(t, { axis = -1 }) end)
    assert.equal(3, #rows)
    same(rows[3], { 4, 5 })
    assert.equal(0, #checked("unstack", function() return tf.unstack(empty(0, 4)) end))
    local parts = checked("split", function() return tf.split(t, { 0, -1, 1 }, -1) end)
    assert.same({ { 2, 0 }, { 2, 2 }, { 2, 1 } }, { parts[1].shape:as_list(), parts[2].shape:as_list(), parts[3].shape:as_list() })
    same(parts[2], { { 0, 2 }, { 1, 3 } })
    same(checked("tile", function() return tf.tile(t, { 1, 2 }) end), { { 0, 2, 4, 0, 2, 4 }, { 1, 3, 5, 1, 3, 5 } })
    assert.same({ 0, 6 }, checked("tile", function() return tf.tile(t, { 0, 2 }) end).shape:as_list())
    same(checked("reverse", function() return tf.reverse(t, { -1, 0 }) end), { { 5, 3, 1 }, { 4, 2, 0 } })
  end)

  it("for pad, whose output shape comes from the paddings' values", function()
    local t = tf.transpose(arange(3, 2))
    same(checked("pad", function() return tf.pad(t, { { 1, 0 }, { 0, 2 } }) end), { { 0, 0, 0, 0, 0 }, { 0, 2, 4, 0, 0 }, { 1, 3, 5, 0, 0 } })
    same(checked("pad", function() return tf.pad(t, tf.constant({ 0, 1, 2, 0 }, tf.int64), "SYMMETRIC") end),
      { { 2, 0, 0, 2, 4 }, { 3, 1, 1, 3, 5 }, { 3, 1, 1, 3, 5 } })
    assert.same({ 2, 2 }, checked("pad", function() return tf.pad(empty(0, 2), { { 1, 1 }, { 0, 0 } }) end).shape:as_list())
    -- the amounts are checked by the kernel, which reads them
    assert_error("InvalidArgument", { "pad", "REFLECT padding of dimension 1 (size 3) must be at most 2" },
      function() return tf.pad(t, { { 0, 0 }, { 3, 0 } }, "REFLECT") end)
    assert_error("InvalidArgument", { "paddings for dimension 0 must be non-negative" },
      function() return tf.pad(t, { { -1, 0 }, { 0, 0 } }) end)
    assert_error("InvalidArgument", { "paddings must have shape [2,2] for a rank 2 tensor, got [3]" },
      function() return tf.pad(t, { 1, 2, 3 }) end)
  end)

  it("for pad_grad (pad's gradient op), which checks dy against the amounts it reads", function()
    local pg = tf.raw_ops.pad_grad
    local dy = tf.constant({ { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 } })
    same(checked("pad_grad", function() return pg(dy, tf.constant({ { 1, 0 }, { 0, 1 } }), { 1, 2 }) end), { { 4, 5 } })
    same(checked("pad_grad", function() return pg(dy, tf.constant({ { 0, 0 }, { 1, 0 } }), { 2, 2 }, "REFLECT") end), { { 2, 4 }, { 5, 10 } })
    assert_error("InvalidArgument", { "pad_grad", "dy has shape [2,3] but padding shape [1,2] gives 4 in dimension 1" },
      function() return pg(dy, tf.constant({ { 1, 0 }, { 1, 1 } }), { 1, 2 }) end)
    assert_error("Unimplemented", { "dy must be a float or complex tensor, got int32" },
      function() return pg(tf.constant({ { 1, 2 } }), tf.constant({ { 0, 0 }, { 0, 0 } }), { 1, 2 }) end)
  end)
end)

describe("TensorShape", function()
  it("keeps unknown dimensions (nil) with the rank apart", function()
    local s = tf.TensorShape({ nil, 784 }, 2)
    assert.equal(2, #s)
    assert.equal(784, s[-1])
    assert.is_nil(s[0])
    assert.equal("(None, 784)", tostring(s))
    assert.is_nil(s:num_elements())
    assert.is_false(s:is_fully_defined())
    local l = s:as_list()
    assert.equal(2, l.n)
    assert.is_nil(l[1])
    assert.equal(s, tf.TensorShape(l)) -- as_list().n carries the rank back
    assert.are_not.equal(s, tf.TensorShape({ 1, 784 }))
    assert.same({ 2, 3 }, tf.zeros({ 2, 3 }).shape:as_list()) -- no n on a full shape
    assert.is_true(tf.zeros({ 2, 3 }).shape:is_fully_defined())
  end)

  it("takes integral floats and refuses anything else, naming the dimension", function()
    local dims = { 2.0, 3 }
    local s = tf.TensorShape(dims)
    assert.equal("integer", math.type(s[0]))
    assert.equal("float", math.type(dims[1])) -- the caller's list is not changed
    assert_error("InvalidArgument", { "tf.TensorShape", "dimension 0", "2.5" }, function() return tf.TensorShape({ 2.5 }) end)
    assert_error("InvalidArgument", { "dimension 1", "-1" }, function() return tf.TensorShape({ 1, -1 }) end)
    assert_error("InvalidArgument", { "dims must be a list", "boolean" }, function() return tf.TensorShape(true) end)
    assert_error("InvalidArgument", { "rank must be a non-negative integer" }, function() return tf.TensorShape({}, -2) end)
  end)
end)
