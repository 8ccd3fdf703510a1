-- tf.Variable: construction, assign*, sliced assignment, scatter updates,
-- value semantics of tensors read before an assign, and errors.
local tf = require("tlua")
local helpers = require("helpers")
local assert_error = helpers.assert_error

local function same(t, expected)
  if type(t) == "userdata" then t = t:totable() end
  helpers.assert_close(t, expected)
end

describe("tf.Variable construction", function()
  it("takes Lua values, tensors and options", function()
    local v = tf.Variable({ 1.0, 2.0, 3.0 })
    assert.is_true(tf.is_variable(v))
    assert.is_true(tf.is_tensor(v))
    assert.equal(tf.float32, v.dtype)
    assert.same({ 3 }, v.shape:as_list())
    assert.equal(1, v.ndim)
    assert.is_true(v.trainable)
    assert.equal("Variable", v.name)
    assert.equal(3, #v)

    local w = tf.Variable({ { 1, 2 } }, { name = "w", trainable = false, dtype = tf.float64 })
    assert.equal("w", w.name)
    assert.is_false(w.trainable)
    assert.equal(tf.float64, w.dtype)
    same(w, { { 1, 2 } })

    local u = tf.Variable({ initial_value = tf.constant({ 4, 5 }), name = "u" })
    assert.equal("u", u.name)
    assert.equal(tf.int32, u.dtype)
    assert.is_false(tf.Variable(1, false).trainable)
    same(tf.Variable(function() return tf.constant({ 7 }) end), { 7 })
    same(tf.Variable(2.5, { dtype = "float64" }), 2.5)
    assert.is_true(v.id ~= w.id)
    assert.is_truthy(tostring(w):find("tf.Variable 'w'", 1, true))
  end)

  it("reports bad construction arguments", function()
    assert_error("InvalidArgument", { "unknown option 'trainabel'" }, function() return tf.Variable(1, { trainabel = true }) end)
    assert_error("InvalidArgument", { "initial_value is required" }, function() return tf.Variable(nil) end)
    assert_error("InvalidArgument", { "Variable", "ragged" }, function() return tf.Variable({ { 1, 2 }, { 3 } }) end)
    assert_error("InvalidArgument", { "name must be a string" }, function() return tf.Variable(1, { name = 3 }) end)
  end)

  it("reads like a tensor: methods, slicing, ops", function()
    local v = tf.Variable({ { 1, 2, 3 }, { 4, 5, 6 } })
    same(v[1], { 4, 5, 6 })
    same(v["::-1, 0"], { 4, 1 })
    same(tf.reshape(v, { -1 }), { 1, 2, 3, 4, 5, 6 })
    same(v:transpose(), { { 1, 4 }, { 2, 5 }, { 3, 6 } })
    same(v:value(), { { 1, 2, 3 }, { 4, 5, 6 } })
    same(v:read_value(), { { 1, 2, 3 }, { 4, 5, 6 } })
    assert.equal(tf.int32, tf.shape(v).dtype)
  end)
end)

describe("assign", function()
  it("assign, assign_add and assign_sub convert Lua values to the variable's dtype", function()
    local v = tf.Variable({ 1.0, 2.0 })
    assert.equal(v, v:assign({ 5, 6 }))
    same(v, { 5, 6 })
    assert.equal(tf.float32, v.dtype)
    v:assign(tf.constant({ 0.5, 0.25 }))
    same(v, { 0.5, 0.25 })
    v:assign_add({ 1, 2 })
    same(v, { 1.5, 2.25 })
    v:assign_sub(tf.constant({ 0.5, 0.25 }))
    same(v, { 1, 2 })
    v:assign_add({ 10, 10 })
    same(v, { 11, 12 })
    local n = tf.Variable(0)
    for _ = 1, 5 do n:assign_add(1) end
    assert.equal(5, n:item())
    n:assign_sub(7)
    assert.equal(-2, n:item())
    local d = tf.Variable({ 1, 2 }, { dtype = tf.float64 })
    d:assign_add({ 0.5, 0.5 })
    same(d, { 1.5, 2.5 })
  end)

  it("keeps tensors read earlier unchanged (value semantics)", function()
    local v = tf.Variable({ 1, 2, 3 })
    local before = v:value()
    local row = v[0]
    local sliced = v["1:"]
    v:assign({ 7, 8, 9 })
    same(before, { 1, 2, 3 })
    assert.equal(1, row:item())
    same(sliced, { 2, 3 })
    local mid = v:read_value()
    v:assign_add({ 1, 1, 1 })
    v[0] = 100
    v:scatter_nd_update({ { 2 } }, { -1 })
    same(mid, { 7, 8, 9 })
    same(v, { 100, 9, -1 })
    -- in-place updates when nobody else holds the value still work
    local w = tf.Variable({ 0, 0 })
    for i = 1, 3 do w:assign({ i, -i }) end
    same(w, { 3, -3 })
  end)

  it("reports wrong shapes and dtypes", function()
    local v = tf.Variable({ 1.0, 2.0 }, { name = "v" })
    -- the assign op names itself, the variable and both shapes
    assert_error("InvalidArgument", { "assign: variable 'v' float32[2]", "float32[3]", "shapes must be equal" },
      function() v:assign({ 1, 2, 3 }) end)
    assert_error("InvalidArgument", { "cannot assign a int32 value to variable 'v' of dtype float32", "tf.cast" },
      function() v:assign(tf.constant({ 1, 2 })) end)
    assert_error("InvalidArgument", { "assign_add: variable 'v' float32[2]", "float32[3]", "shapes must be equal" },
      function() v:assign_add({ 1, 2, 3 }) end)
    -- as in TensorFlow, the value is not broadcast: a scalar for a vector is an error
    assert_error("InvalidArgument", { "assign_sub: variable 'v' float32[2]", "float32[]", "shapes must be equal" },
      function() v:assign_sub(1) end)
    assert_error("InvalidArgument", { "assign_sub", "int32" }, function() v:assign_sub(tf.constant({ 1, 2 })) end)
    local i = tf.Variable({ 1, 2 })
    assert_error("InvalidArgument", { "assign: variable 'Variable' int32[2]", "non-integer number cannot become int32" },
      function() i:assign({ 1.5, 2 }) end)
    local ok, err = pcall(i.assign, i, { 1.5, 2 })
    assert.is_false(ok)
    assert.is_nil(tostring(err):find("constant:", 1, true)) -- the write is named, not the conversion inside it
    same(v, { 1, 2 }) -- failed assigns change nothing
  end)

  it("points tensor assignment at tf.Variable", function()
    local t = tf.constant({ 1, 2 })
    assert_error("InvalidArgument", { "immutable", "tf.Variable" }, function() t[0] = 5 end)
    assert_error("InvalidArgument", { "immutable" }, function() t["0:1"] = 5 end)
  end)
end)

describe("sliced assignment", function()
  local cases = {
    { "0", "5" }, { "-1", "7" }, { "1:3", "-1" }, { "::2", "[9, 8, 7, 6, 5]" }, { "::-1", "np.arange(5)" },
    { ":, 1", "0" }, { "1:, ::-2", "[[1, 2, 3]]" }, { "..., 4", "[10, 20, 30, 40]" }, { "0, 1:4:2", "[5, 6]" },
    { "-2:, :", "np.full((2, 5), 3)" }, { "3:1:-1, 0", "[50, 60]" }, { "0:0", "1" }, { "newaxis, 0", "2" },
  }

  it("matches numpy's setitem", function()
    local py = {}
    for i, c in ipairs(cases) do
      py[i] = ("b = a.copy(); b[%s] = %s; res.append(b.tolist())"):format(c[1]:gsub("newaxis", "None"), c[2])
    end
    local ref = helpers.python("a = np.arange(20).reshape(4, 5)\nres = []\n" .. table.concat(py, "\n") .. "\nout = res")
    for i, c in ipairs(cases) do
      local v = tf.Variable(tf.reshape(tf.constant({ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19 }), { 4, 5 }))
      local val = helpers.python("out = np.array(" .. c[2] .. ")")
      v[c[1]] = val
      local ok, why = helpers.close(v:totable(), ref[i])
      assert(ok, ("v[%q] = %s: %s"):format(c[1], c[2], tostring(why)))
    end
  end)

  it("accepts table keys, integer keys, masks and index tensors", function()
    local v = tf.Variable({ { 0.0, 0, 0 }, { 0, 0, 0 } })
    v[{ 0, { 1, nil } }] = { 1, 2 }
    same(v, { { 0, 1, 2 }, { 0, 0, 0 } })
    v[1] = tf.constant({ 3.0, 4, 5 })
    same(v, { { 0, 1, 2 }, { 3, 4, 5 } })
    v[{ tf.ellipsis, { nil, nil, -1 } }] = tf.constant({ 10.0, 20, 30 })
    same(v, { { 30, 20, 10 }, { 30, 20, 10 } })
    v[tf.constant({ { true, false, true }, { false, true, false } })] = -1
    same(v, { { -1, 20, -1 }, { 30, -1, 10 } })
    v[tf.constant({ false, true })] = 0
    same(v, { { -1, 20, -1 }, { 0, 0, 0 } })
    v[tf.constant({ 1, 0 })] = tf.constant({ { 1.0, 1, 1 }, { 2, 2, 2 } })
    same(v, { { 2, 2, 2 }, { 1, 1, 1 } })
  end)

  it("reports bad assignments", function()
    local v = tf.Variable({ { 1, 2 }, { 3, 4 } }, { name = "m" })
    assert_error("InvalidArgument", { "value of shape [3] cannot be broadcast to the slice shape [2]" },
      function() v[0] = { 1, 2, 3 } end)
    assert_error("InvalidArgument", { "index 2 is out of bounds for dimension 0 with size 2" }, function() v[2] = 0 end)
    assert_error("InvalidArgument", { "cannot assign a float32 value to variable 'm' of dtype int32" },
      function() v[0] = tf.constant({ 1.5, 2 }) end)
    assert_error("InvalidArgument", { "cannot set field 'foo' of tf.Variable 'm'", "assign" }, function() v.foo = 1 end)
    assert_error("InvalidArgument", { "step cannot be zero" }, function() v["::0"] = 1 end)
    same(v, { { 1, 2 }, { 3, 4 } })
  end)
end)

describe("scatter updates", function()
  it("scatter_nd_update / add / sub write rows and elements", function()
    local v = tf.Variable({ { 1, 2 }, { 3, 4 }, { 5, 6 } })
    v:scatter_nd_update({ { 2 }, { 0 } }, { { 0, 0 }, { 9, 9 } })
    same(v, { { 9, 9 }, { 3, 4 }, { 0, 0 } })
    v:scatter_nd_update(tf.constant({ { 1, 1 } }, tf.int64), tf.constant({ 40 }))
    same(v, { { 9, 9 }, { 3, 40 }, { 0, 0 } })
    v:scatter_nd_add({ { 0, 0 }, { 0, 0 } }, { 1, 1 })
    same(v, { { 11, 9 }, { 3, 40 }, { 0, 0 } })
    v:scatter_nd_sub({ { 1 } }, { { 3, 40 } })
    same(v, { { 11, 9 }, { 0, 0 }, { 0, 0 } })
  end)

  it("reports bad indices", function()
    local v = tf.Variable({ 1.0, 2.0 })
    assert_error("InvalidArgument", { "indices[0] = [2] does not index into shape [2]" },
      function() v:scatter_nd_update({ { 2 } }, { 1 }) end)
    assert_error("InvalidArgument", { "updates have shape [2] but indices [1,1] and shape [2] require [1]" },
      function() v:scatter_nd_update({ { 0 } }, { 1, 2 }) end)
    same(v, { 1, 2 })
  end)
end)

describe("printing a variable", function()
  it("reads like TensorFlow's repr", function()
    local tf = require("tlua")
    assert.equal("<tf.Variable 'w' shape=(2,) dtype=float32, numpy=[1.5 2. ]>",
      tostring(tf.Variable({ 1.5, 2 }, { name = "w" })))
    assert.equal("<tf.Variable 'Variable' shape=() dtype=int32, numpy=3>", tostring(tf.Variable(3)))
    assert.equal("<tf.Variable 'm' shape=(2, 2) dtype=float32, numpy=\n[[0. 0.]\n [0. 0.]]>",
      tostring(tf.Variable(tf.zeros({ 2, 2 }), { name = "m" })))
  end)
end)

-- Every read and write is an op (src/ops/state.c), so whatever observes op
-- calls sees it: core.trace_ops lists the depth-0 ops a function ran.
describe("variable reads and writes are ops", function()
  local trace = tf.core.trace_ops

  it("reads run read_variable", function()
    local v = tf.Variable({ 1.0, 2.0 })
    assert.are.same({ "read_variable" }, (trace(function() return v:value() end)))
    assert.are.same({ "read_variable" }, (trace(function() return v:read_value() end)))
    assert.are.same({ "read_variable", "add" }, (trace(function() return v + 1 end)))
    local m = tf.Variable({ { 1.0, 0.0 }, { 0.0, 1.0 } })
    assert.are.same({ "read_variable", "read_variable", "matmul" }, (trace(function() return tf.matmul(m, m) end)))
    -- metadata is not a read
    assert.are.same({}, (trace(function() return v.shape, v.dtype, v.ndim end)))
  end)

  it("writes run assign, assign_add, assign_sub and scatter ops", function()
    local v = tf.Variable({ 1.0, 2.0, 3.0 })
    assert.are.same({ "assign" }, (trace(function() v:assign({ 4, 5, 6 }) end)))
    assert.are.same({ "assign_add" }, (trace(function() v:assign_add({ 1, 1, 1 }) end)))
    assert.are.same({ "assign_sub" }, (trace(function() v:assign_sub(tf.constant({ 1.0, 1.0, 1.0 })) end)))
    assert.are.same({ "scatter_update" }, (trace(function() v:scatter_update({ 0 }, { 9.0 }) end)))
    assert.are.same({ "scatter_max" }, (trace(function() v:scatter_max({ 1, 2 }, { 0.0, 7.0 }) end)))
    local names = trace(function() v[0] = 3 end)
    assert.are.equal("read_variable", names[1])
    assert.are.equal("assign", names[#names])
    same(v, { 3, 5, 7 })
  end)

  it("lets the tape learn of reads from the read_variable op", function()
    local w = tf.Variable({ 1.0, 2.0 }, { name = "w" })
    local tape = tf.GradientTape()
    local names, y = trace(function() return tf.reduce_sum(w * w) end)
    assert.are.same({ "read_variable", "read_variable", "multiply", "reduce_sum" }, names) -- one read per operand
    same(tape:gradient(y, w), { 2, 4 })
    -- two reads: their gradients add up under the variable
    tape = tf.GradientTape()
    y = tf.reduce_sum(w:value() * 3) + tf.reduce_sum(w[1])
    same(tape:gradient(y, w), { 3, 4 })
    -- a read made before the tape started is a constant to it
    local early = w:value()
    tape = tf.GradientTape()
    assert.is_nil(tape:gradient(tf.reduce_sum(early * 2), w))
    -- watch_accessed_variables=false: only explicitly watched variables
    local u = tf.Variable({ 5.0 }, { name = "u" })
    tape = tf.GradientTape({ watch_accessed_variables = false })
    tape:watch(u)
    y = tf.reduce_sum(w * u)
    assert.is_nil(tape:gradient(y, { w, u })[1])
    tape = tf.GradientTape({ watch_accessed_variables = false, persistent = true })
    tape:watch(u)
    y = tf.reduce_sum(w * u)
    same(tape:gradient(y, u), { 3 })
    -- a non-trainable variable is not watched by reading it
    local frozen = tf.Variable({ 2.0 }, { trainable = false })
    tape = tf.GradientTape()
    assert.is_nil(tape:gradient(tf.reduce_sum(frozen * 2), frozen))
  end)

  it("writes in place when nobody holds the value, and copy otherwise", function()
    local core = tf.core
    local v = tf.Variable(tf.fill({ 64 }, 1.0))
    local one, row, inc = tf.ones({ 64 }), tf.constant({ 3 }), tf.constant({ 1.0 })
    v:assign_add(one)
    collectgarbage()
    local before = core.memory_stats().alloc_count
    for _ = 1, 5 do v:assign_add(one); v:scatter_add(row, inc) end
    assert.are.equal(before, core.memory_stats().alloc_count)
    local held = v:value()
    v:assign_sub(one)
    v:scatter_mul({ 0 }, { 10.0 })
    assert.are.equal(7, held[0]:item()) -- the read kept its value
    assert.are.equal(12, held[3]:item())
    assert.are.equal(60, v[0]:item())
  end)
end)

describe("scatter_update / add / sub / mul / div / min / max", function()
  it("update rows of the first axis as tf.Variable's do", function()
    local v = tf.Variable({ { 1.0, 2.0 }, { 3.0, 4.0 }, { 5.0, 6.0 } })
    v:scatter_add({ 0, 0, 2 }, { { 1.0, 1.0 }, { 10.0, 10.0 }, { -5.0, -6.0 } }) -- duplicates sum
    same(v, { { 12, 13 }, { 3, 4 }, { 0, 0 } })
    v:scatter_sub(tf.constant({ 1 }, tf.int64), { { 3.0, 3.0 } })
    same(v, { { 12, 13 }, { 0, 1 }, { 0, 0 } })
    v:scatter_mul({ 0 }, 0.5) -- a scalar update applies to every selected row
    same(v, { { 6, 6.5 }, { 0, 1 }, { 0, 0 } })
    v:scatter_div({ 0 }, { { 2.0, -6.5 } })
    same(v, { { 3, -1 }, { 0, 1 }, { 0, 0 } })
    v:scatter_min({ 0, 1 }, { { 1.0, 1.0 }, { -1.0, 5.0 } })
    same(v, { { 1, -1 }, { -1, 1 }, { 0, 0 } })
    v:scatter_max({ 2 }, { { 4.0, -4.0 } })
    same(v, { { 1, -1 }, { -1, 1 }, { 4, 0 } })
    v:scatter_update({ indices = tf.constant({ 1 }), values = tf.constant({ { 7.0, 8.0 } }) }) -- tf.IndexedSlices' fields
    same(v, { { 1, -1 }, { 7, 8 }, { 4, 0 } })
    v:scatter_update({ { 0, 2 } }, { { { 0.0, 0.0 }, { 9.0, 9.0 } } }) -- indices of any rank
    same(v, { { 0, 0 }, { 7, 8 }, { 9, 9 } })
    local i = tf.Variable({ 7, -7, 5 })
    i:scatter_div({ 0, 1 }, { 2, 2 })
    same(i, { 3, -3, 5 })
  end)

  it("reports bad indices, updates and dtypes, changing nothing", function()
    local v = tf.Variable({ { 1.0, 2.0 }, { 3.0, 4.0 } }, { name = "m" })
    assert_error("InvalidArgument", { "scatter_update: variable 'm' float32[2,2]", "indices[1] = 2 is not in [0, 2)" },
      function() v:scatter_update({ 0, 2 }, { { 5.0, 5.0 }, { 6.0, 6.0 } }) end)
    assert_error("InvalidArgument", { "scatter_add", "indices[0] = -1 is not in [0, 2)" },
      function() v:scatter_add({ -1 }, { { 1.0, 1.0 } }) end)
    assert_error("InvalidArgument", { "scatter_add", "updates float32[1,3] must have shape indices.shape + variable.shape[1:]" },
      function() v:scatter_add({ 0 }, { { 1.0, 1.0, 1.0 } }) end)
    assert_error("InvalidArgument", { "scatter_sub", "cannot assign a int32 value to variable 'm' of dtype float32" },
      function() v:scatter_sub({ 0 }, tf.constant({ { 1, 1 } })) end)
    assert_error("InvalidArgument", { "scatter_update", "indices must be int32 or int64, got float32" },
      function() v:scatter_update(tf.constant({ 0.0 }), { { 1.0, 1.0 } }) end)
    local i = tf.Variable({ 4, 6 })
    assert_error("InvalidArgument", { "scatter_div", "integer division by zero" }, function() i:scatter_div({ 0, 1 }, { 2, 0 }) end)
    same(i, { 4, 6 })
    local b = tf.Variable({ true, false })
    assert_error("Unimplemented", { "scatter_add is not supported for bool variables" },
      function() b:scatter_add({ 0 }, { true }) end)
    assert_error("InvalidArgument", { "cannot scatter into a scalar variable" },
      function() tf.Variable(1.0):scatter_update({ 0 }, 2.0) end)
    assert_error("InvalidArgument", { "scatter_update", "input 'var' must be a tf.Variable" },
      function() tf.raw_ops.scatter_update(tf.constant({ 1.0 }), { 0 }, { 2.0 }) end)
    same(v, { { 1, 2 }, { 3, 4 } })
  end)
end)
