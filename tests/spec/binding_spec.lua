-- The Lua binding: conversions, the generic op dispatcher's argument
-- handling, error values, immutability, dtypes and shapes.
local tf = require("tlua")
local H = require("helpers")

describe("tf.constant", function()
  it("picks TensorFlow's default dtypes", function()
    assert.equal(tf.int32, tf.constant(3).dtype)
    assert.equal(tf.float32, tf.constant(3.5).dtype)
    assert.equal(tf.float32, tf.constant({ 1, 2.5 }).dtype)
    assert.equal(tf.int64, tf.constant(1 << 40).dtype)
    assert.equal(tf.bool, tf.constant({ true, false }).dtype)
    assert.equal(tf.float64, tf.constant({ 1, 2 }, tf.float64).dtype)
    assert.equal(tf.float64, tf.constant({ 1, 2 }, "float64").dtype)
  end)

  it("round-trips nested tables", function()
    local v = { { 1, 2, 3 }, { 4, 5, 6 } }
    local t = tf.constant(v)
    assert.same(v, t:totable())
    assert.same({ 2, 3 }, t.shape:as_list())
    assert.equal(2, t.ndim)
    assert.equal(2, #t)
    assert.same({ { true }, { false } }, tf.constant({ { true }, { false } }):totable())
    assert.same({}, tf.constant({}):totable())
    assert.same({ 0 }, tf.constant({}).shape:as_list())
  end)

  it("converts every supported dtype exactly for small integers", function()
    for _, name in ipairs({ "float32", "float64", "float16", "bfloat16", "int8", "uint8", "int16", "int32", "int64" }) do
      local t = tf.constant({ 0, 1, 2, 100 }, tf[name])
      assert.equal(name, t.dtype.name)
      local got = t:totable()
      for i, want in ipairs({ 0, 1, 2, 100 }) do assert.equal(want, got[i]) end
    end
  end)

  it("names the position of ragged nesting", function()
    H.assert_error("InvalidArgument", { "constant", "ragged", "[2]" }, tf.constant, { { 1, 2 }, { 3 } })
    H.assert_error("InvalidArgument", { "ragged" }, tf.constant, { { 1, 2 }, 3 })
  end)

  it("rejects mixed booleans and numbers, strings, functions", function()
    H.assert_error("InvalidArgument", "booleans", tf.constant, { true, 1 })
    H.assert_error("InvalidArgument", "unsupported value", tf.constant, { "a" })
    H.assert_error("InvalidArgument", "function", tf.constant, print)
  end)

  it("rejects non-integral numbers for integer dtypes but accepts integral floats", function()
    H.assert_error("InvalidArgument", "non-integer", tf.constant, { 1.5 }, tf.int32)
    assert.same({ 2 }, tf.constant({ 2.0 }, tf.int32):totable())
  end)

  it("item() needs exactly one element", function()
    assert.equal(7, tf.constant(7):item())
    assert.equal(7, tf.constant({ { 7 } }):item())
    H.assert_error("InvalidArgument", { "item", "int32[2]" }, function() return tf.constant({ 1, 2 }):item() end)
  end)
end)

describe("the op dispatcher", function()
  local a = tf.constant({ 1.0, 2.0 })

  it("lets Lua numbers take the tensor's dtype", function()
    assert.same({ 2.5, 3.5 }, (a + 1.5):totable())
    assert.same({ 2.5, 3.5 }, (1.5 + a):totable())
    assert.equal(tf.float32, (a + 1).dtype)
    local i = tf.constant({ 1, 2 })
    assert.equal(tf.int32, (i + 1).dtype)
    H.assert_error("InvalidArgument", { "add", "non-integer" }, function() return i + 1.5 end)
  end)

  it("never converts two tensors silently", function()
    local err = H.assert_error("InvalidArgument", { "add", "float32[2]", "int32[2]", "different dtypes" },
      function() return a + tf.constant({ 1, 2 }) end)
    assert.equal("InvalidArgument", err.kind)
  end)

  it("reports missing inputs, extra arguments and unknown options", function()
    H.assert_error("InvalidArgument", { "add", "'y'", "missing" }, tf.add, a)
    H.assert_error("InvalidArgument", { "add", "'x'", "missing" }, tf.add, nil, a)
    H.assert_error("InvalidArgument", { "add", "too many arguments" }, tf.add, a, a, a)
    H.assert_error("InvalidArgument", { "add", "unknown option 'bogus'" }, tf.add, a, a, { bogus = 1 })
    H.assert_error("InvalidArgument", { "add", "input 'x'" }, tf.add, "str", a)
  end)

  it("accepts inputs by name in the options table", function()
    assert.same({ 2.0, 4.0 }, tf.add({ x = a, y = a }):totable())
  end)

  it("formats errors like TensorFlow with the caller's position", function()
    local ok, err = pcall(function() return a + tf.constant({ 1, 2 }) end)
    assert.is_false(ok)
    local text = tostring(err)
    assert.truthy(text:match("^InvalidArgumentError: [^:]*binding_spec%.lua:%d+: add: "), text)
    assert.is_true(tf.errors.is(err, "InvalidArgument"))
    assert.is_true(tf.errors.is(err, tf.errors.InvalidArgumentError))
    assert.is_false(tf.errors.is(err, "OutOfRange"))
    assert.is_false(tf.errors.is("plain string", "InvalidArgument"))
  end)
end)

describe("tensors", function()
  it("are immutable", function()
    local t = tf.constant({ 1, 2 })
    H.assert_error("InvalidArgument", { "immutable", "tf.Variable" }, function() t[0] = 5 end)
  end)

  it("refuse < and <= with a pointer to tf.less", function()
    local t = tf.constant({ 1, 2 })
    H.assert_error("InvalidArgument", "tf.less", function() return t < t end)
    assert.is_true(t == t)
    assert.is_false(t == tf.constant({ 1, 2 }))
  end)

  it("have shapes with 0-based and negative indexing", function()
    local s = tf.constant({ { 1, 2, 3 }, { 4, 5, 6 } }).shape
    assert.equal(2, s[0])
    assert.equal(3, s[1])
    assert.equal(3, s[-1])
    assert.equal(2, #s)
    assert.equal("(2, 3)", tostring(s))
    assert.equal(6, s:num_elements())
    assert.is_true(s == tf.TensorShape({ 2, 3 }))
    assert.has_error(function() return s[2] end)
  end)

  it("expose dtype objects", function()
    local d = tf.constant(1.5).dtype
    assert.equal("float32", d.name)
    assert.is_true(d.is_floating)
    assert.equal(4, d.size)
    assert.equal(tf.complex64.name, "complex64")
    assert.equal(tf.string.name, "string")
  end)

  it("support <close>", function()
    do
      local t <close> = tf.constant({ 1, 2, 3 })
      assert.equal(3, #t)
    end
  end)
end)

describe("long list inputs", function()
  it("concatenate hundreds of tensors and differentiate through them", function()
    local xs = {}
    for i = 1, 300 do xs[i] = tf.constant({ i * 1.0 }) end
    local c = tf.concat(xs, 0)
    assert.same({ 300 }, c.shape:as_list())
    assert.equal(300, c[-1]:item())
    local tape = tf.GradientTape()
    tape:watch(xs)
    local y = tf.reduce_sum(tf.concat(xs, 0) ^ 2)
    local g = tape:gradient(y, xs)
    assert.equal(2, g[1]:item())
    assert.equal(600, g[300]:item())
  end)

  it("take a tensor as the list of its rows, however many", function()
    H.assert_close(tf.add_n(tf.ones({ 100, 3 })), { 100, 100, 100 })
    assert.equal(150, #tf.split(tf.range(300.0, nil, nil, tf.float32), 150))
  end)
end)

describe("the module under a plain lua5.4", function()
  it("closes the state cleanly after heavy use (allocator layer, C library unload)", function()
    local code = [[
      local tf = require("tlua")
      for i = 1, 20000 do local t = tf.constant({ i * 1.0 }) + 1.0 end
      local tape = tf.GradientTape()
      local x = tf.Variable({ 1.0, 2.0 })
      local y = tf.reduce_sum(x * x)
      assert(tape:gradient(y, x):totable()[2] == 4)
      os.exit(0, true) -- close the state: finalizers, then every block freed
    ]]
    local cmd = ("LUA_PATH=%q LUA_CPATH=%q lua5.4 -e %q; echo exit=$?"):format(package.path, package.cpath, code)
    local p = io.popen(cmd .. " 2>&1")
    local out = p:read("a")
    p:close()
    assert.truthy(out:find("exit=0", 1, true), out)
  end)
end)
