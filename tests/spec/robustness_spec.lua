-- Every registered op and every Lua-side tf function, called with bad, odd
-- and extreme arguments (malformed nested tables, numbers out of each
-- dtype's range, bad dtype names, bad option tables), either returns or
-- raises a tf.errors value: never a crash (run this spec under the
-- sanitizer build too), never a plain Lua error string. Conversions of Lua
-- values are also checked against a reference model written in Lua, so a
-- silent wrong answer (a wrapped integer, a dropped key) fails too.
-- Deterministic: TLUA_FUZZ_SEED picks the seed (default 12345).
local tf = require("tlua")
local core = tf.core

local nan = 0 / 0
local values = {
  function() return nil end,
  function() return "text" end,
  function() return {} end,
  function() return { { 1, 2 }, { 3 } } end,
  function() return print end,
  function() return true end,
  function() return 0 end,
  function() return -1 end,
  function() return 2 ^ 62 // 1 end,
  function() return math.mininteger end,
  function() return nan end,
  function() return math.huge end,
  function() return tf.constant(1.5) end,
  function() return tf.constant({ 1.0, nan, -math.huge }) end,
  function() return tf.constant({ 1, 2, 3 }) end,
  function() return tf.constant({ -1, 5, 100 }) end,
  function() return tf.constant({ true, false }) end,
  function() return tf.zeros({ 0, 3 }) end,
  function() return tf.zeros({ 2, 0 }, tf.int32) end,
  function() return tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 } }) end,
  function() return tf.transpose(tf.constant({ { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 } })) end,
  function() return tf.constant({ { { 1.0 } } }, tf.float64) end,
  function() return tf.constant({ 1, 2 }, tf.uint8) end,
  function() return tf.constant({ 1, 2 }, tf.float16) end,
  function() return tf.Variable({ 1.0, 2.0 }) end,
  function() return { 1 << 40, 1 << 40, 1 << 40 } end,
  function() return { -3, 2 } end,
  function() return { axis = 7 } end,
  function() return { axis = -9, keepdims = true } end,
  -- malformed nested tables and out-of-range numbers
  function() return { 1, { 2 } } end,
  function() return { 1, {} } end,
  function() return { {}, { 1 } } end,
  function() return { 1, 2, x = 3 } end,
  function() return { 1, nil, 3 } end,
  function() return { 300, -1 } end,
  function() return { 2 ^ 63 } end,
  function() return { 1.5, 1e40 } end,
  function() return { 1, tf.constant(2) } end,
  -- bad dtypes and option tables
  function() return "flaot32" end,
  function() return tf.string end,
  function() return { enum = 99 } end,
  function() return { bogus = 1 } end,
  function() return { dtype = "int33" } end,
  function() return { axis = "x", keepdims = 3 } end,
  function() return { name = 5, dtype = tf.int8 } end,
}

local function is_tf_error(e)
  return type(e) == "table" and getmetatable(e) == core.ErrorMeta
end

-- Deterministic pseudo-random choice so failures reproduce.
local seed = tonumber(os.getenv("TLUA_FUZZ_SEED") or "") or 12345
local function rnd(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n + 1
end

-- Ops whose valid calls allocate from the given sizes can be slow with
-- extreme arguments; the huge-shape values above must be refused quickly.
describe("robustness", function()
  local names = core.op_names()
  table.sort(names)
  for _, name in ipairs(names) do
    it(name .. " survives bad arguments", function()
      local f = core.ops[name]
      local bad = {}
      for trial = 1, 200 do
        local nargs = rnd(5) - 1
        local args = {}
        for i = 1, nargs do args[i] = values[rnd(#values)]() end
        local ok, err = pcall(f, table.unpack(args, 1, nargs))
        if not ok and not is_tf_error(err) then
          bad[#bad + 1] = ("trial %d: %s"):format(trial, tostring(err))
        end
      end
      assert(#bad == 0, name .. " raised non-tf.errors errors:\n" .. table.concat(bad, "\n"))
    end)
  end
end)

-- Bytes from outside: tf.io.parse_tensor and Checkpoint:read given random
-- strings and valid ones with random bytes changed, inserted or cut off.
describe("robustness of stored data", function()
  local function mutate(s)
    if #s == 0 then return string.char(rnd(256) - 1) end
    local kind, i = rnd(3), rnd(#s)
    if kind == 1 then return s:sub(1, i - 1) .. string.char(rnd(256) - 1) .. s:sub(i + 1) end
    if kind == 2 then return s:sub(1, i) .. string.char(rnd(256) - 1) .. s:sub(i + 1) end
    return s:sub(1, i - 1)
  end
  local samples = {
    tf.io.serialize_tensor(tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 } })),
    tf.io.serialize_tensor(tf.constant({ true, false, true })),
    tf.io.serialize_tensor(tf.zeros({ 0, 5 }, tf.int64)),
    tf.io.serialize_tensor(tf.constant(7, tf.int16)),
  }

  it("parse_tensor returns a tensor or raises a tf.errors value", function()
    local bad = {}
    for trial = 1, 3000 do
      local s
      if trial % 4 == 0 then
        local n, parts = rnd(40) - 1, {}
        for j = 1, n do parts[j] = string.char(rnd(256) - 1) end
        s = "TLT1" .. table.concat(parts)
      else
        s = samples[rnd(#samples)]
        for _ = 1, rnd(3) do s = mutate(s) end
      end
      local ok, err = pcall(tf.io.parse_tensor, s)
      if ok then
        assert(tf.is_tensor(err))
        err:totable()
      elseif not is_tf_error(err) then
        bad[#bad + 1] = ("trial %d: %s"):format(trial, tostring(err))
      end
    end
    assert(#bad == 0, table.concat(bad, "\n"))
  end)

  it("Checkpoint:read restores or raises a tf.errors value, never half", function()
    local path = os.tmpname()
    local w = tf.Variable({ { 1.0, 2.0 } })
    local opt = tf.keras.optimizers.Adam(0.1)
    opt:apply_gradients({ tf.constant({ { 0.5, 0.5 } }) }, { w })
    local ck = tf.train.Checkpoint({ w = w, opt = opt })
    ck:write(path)
    local f = assert(io.open(path, "rb"))
    local good = f:read("a")
    f:close()
    local before = w:totable()
    local bad = {}
    for trial = 1, 300 do
      local s = good
      for _ = 1, rnd(3) do s = mutate(s) end
      f = assert(io.open(path, "wb"))
      f:write(s)
      f:close()
      local ok, err = pcall(ck.read, ck, path)
      if not ok and not is_tf_error(err) then bad[#bad + 1] = ("trial %d: %s"):format(trial, tostring(err)) end
      -- a refused file leaves w as it was; an accepted one held w's own value
      assert.are.same(before, w:totable())
    end
    os.remove(path)
    assert(#bad == 0, table.concat(bad, "\n"))
  end)
end)

-- Lua values to tensors, against a reference model of the rules: the shape
-- comes from the first entry at each level and every entry must match it,
-- only list entries 1..n become elements, a number must fit the dtype
-- (integers exactly, floats may overflow to inf), booleans never mix with
-- numbers, strings never mix with numbers or booleans and make a string
-- tensor (and only strings, or no leaves at all, make one), and the default
-- dtype is string / bool / float32 / int64 when an integer does not fit
-- int32 / int32.
local INT_RANGE = {
  int8 = { -128, 127 }, uint8 = { 0, 255 }, int16 = { -32768, 32767 },
  int32 = { -2147483648, 2147483647 }, int64 = { math.mininteger, math.maxinteger },
}

local function reference(v, dtype)
  local shape, x = {}, v
  while type(x) == "table" and not tf.is_tensor(x) do
    if #shape == 8 then return nil end
    shape[#shape + 1] = #x
    if #x == 0 then break end
    x = x[1]
  end
  local leaves = {}
  local function walk(y, depth)
    if depth <= #shape then
      if type(y) ~= "table" or tf.is_tensor(y) or #y ~= shape[depth] then return false end
      for k in pairs(y) do
        if math.type(k) ~= "integer" or k < 1 or k > #y then return false end
      end
      for i = 1, #y do if not walk(y[i], depth + 1) then return false end end
      return true
    end
    if type(y) ~= "number" and type(y) ~= "boolean" and type(y) ~= "string" then return false end
    leaves[#leaves + 1] = y
    return true
  end
  if not walk(v, 1) then return nil end
  local any_bool, any_float, big, any_string = false, false, false, false
  for _, l in ipairs(leaves) do
    if type(l) == "string" then any_string = true
    elseif type(l) == "boolean" then any_bool = true
    elseif math.type(l) == "float" then any_float = true
    elseif l > 2147483647 or l < -2147483648 then big = true end
  end
  if any_bool and #leaves > 0 then
    for _, l in ipairs(leaves) do if type(l) ~= "boolean" then return nil end end
  end
  if any_string then
    for _, l in ipairs(leaves) do if type(l) ~= "string" then return nil end end
    if dtype and dtype ~= "string" then return nil end
    return { dtype = "string", shape = shape, leaves = leaves }
  end
  if dtype == "string" and #leaves == 0 then return { dtype = "string", shape = shape, leaves = leaves } end
  local d = dtype or (any_bool and "bool" or any_float and "float32" or big and "int64" or
    (#leaves > 0 and "int32" or "float32"))
  if d == "string" or d == "complex64" or d == "resource" then return nil end
  if any_bool and d ~= "bool" then return nil end
  local r = INT_RANGE[d]
  if r then
    for _, l in ipairs(leaves) do
      if l ~= math.floor(l) or l ~= l or l == math.huge or l == -math.huge then return nil end
      if math.type(l) == "integer" and (l < r[1] or l > r[2]) then return nil end
      if math.type(l) == "float" and (l < r[1] or l >= (d == "int64" and 2 ^ 63 or r[2] + 1)) then return nil end
    end
  end
  return { dtype = d, shape = shape, leaves = leaves }
end

-- Does tensor t hold what the reference expects?
local function matches(t, want)
  if t.dtype.name ~= want.dtype then return false, "dtype " .. t.dtype.name end
  local got = t.shape:as_list()
  if #got ~= #want.shape then return false, "rank" end
  for i = 1, #got do if got[i] ~= want.shape[i] then return false, "shape" end end
  local flat = tf.reshape(t, { -1 }):totable()
  for i, l in ipairs(want.leaves) do
    local g = flat[i]
    if INT_RANGE[want.dtype] then
      if g ~= l then return false, ("element %d: %s became %s"):format(i, l, g) end
    elseif want.dtype == "float32" or want.dtype == "float64" then
      local ok = (g ~= g and l ~= l) or g == l or math.abs(g - l) <= 1e-6 * math.abs(l) or
        (want.dtype == "float32" and math.abs(l) > 3.4e38 and math.abs(g) == math.huge)
      if not ok then return false, ("element %d: %s became %s"):format(i, l, g) end
    elseif want.dtype == "bool" and type(l) == "boolean" and g ~= l then
      return false, ("element %d"):format(i)
    end
  end
  return true
end

local LEAVES = {
  0, 1, -1, 7, 127, 128, -128, -129, 255, 256, 32767, 32768, -32769, 2147483647, 2147483648,
  -2147483649, math.maxinteger, math.mininteger, 0.5, -2.5, 2.0, 255.0, 256.0, 2.0 ^ 31, 2 ^ 63,
  -2 ^ 63, 1e40, 65504.0, 65520.0, nan, math.huge, -math.huge, true, false,
}
local DTYPES = {
  false, false, false, "float32", "float64", "float16", "bfloat16", "int8", "uint8", "int16", "int32",
  "int64", "bool", "string", "complex64", "half", "double",
}
local BAD_DTYPES = { "flaot32", "", "int33", 5, {}, { enum = 99 }, { enum = -1 }, true }

-- A well-formed nested list of leaves of one kind, then maybe broken.
local function gen_value()
  local rank, dims = rnd(4) - 1, {}
  for i = 1, rank do dims[i] = rnd(4) - 1 end
  local kind = rnd(4) -- 1 small ints, 2 any number, 3 booleans, 4 anything
  local function leaf()
    if kind == 1 then return rnd(21) - 11 end
    if kind == 3 then return rnd(2) == 1 end
    local l = LEAVES[rnd(#LEAVES)]
    if kind == 2 and type(l) == "boolean" then return 3 end
    return l
  end
  local tables = {}
  local function build(depth)
    if depth > rank then return leaf() end
    local t = {}
    for i = 1, dims[depth] do t[i] = build(depth + 1) end
    tables[#tables + 1] = t
    return t
  end
  local v = build(1)
  if rnd(2) == 1 and #tables > 0 then
    local t = tables[rnd(#tables)]
    local m, n = rnd(9), #t
    if m == 1 then t[rnd(n + 1)] = { 1 }
    elseif m == 2 then t[rnd(n + 1)] = {}
    elseif m == 3 then t[rnd(n + 1)] = 5
    elseif m == 4 then t.x = 3
    elseif m == 5 then t[n + 2] = 1
    elseif m == 6 then t[0] = 1
    elseif m == 7 then t[rnd(n + 1)] = "s"
    elseif m == 8 then t[rnd(n + 1)] = tf.constant(1)
    else t[rnd(n + 1)] = LEAVES[rnd(#LEAVES)] end
  end
  return v
end

local function describe_value(v)
  if type(v) ~= "table" or tf.is_tensor(v) then return tostring(v) end
  local parts = {}
  for k, x in pairs(v) do
    parts[#parts + 1] = (math.type(k) == "integer" and "" or ("[" .. tostring(k) .. "]=")) .. describe_value(x)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

describe("robustness of conversions", function()
  it("tf.constant, tf.Variable and op inputs convert exactly as the reference says, or raise", function()
    local bad = {}
    local function check(what, v, dname, f)
      local ok, res = pcall(f)
      local want = reference(v, dname)
      if not ok then
        if not tf.errors.is(res, "InvalidArgument") then
          bad[#bad + 1] = ("%s(%s, %s): not a tf.errors InvalidArgument: %s"):format(what, describe_value(v), tostring(dname), tostring(res))
        elseif want then
          bad[#bad + 1] = ("%s(%s, %s): refused a valid value: %s"):format(what, describe_value(v), tostring(dname), tostring(res))
        elseif not tostring(res.where):find("robustness_spec", 1, true) then
          bad[#bad + 1] = ("%s: error names %s, not the caller"):format(what, tostring(res.where))
        end
      elseif not want then
        bad[#bad + 1] = ("%s(%s, %s): accepted an invalid value, got %s"):format(what, describe_value(v), tostring(dname), tostring(res))
      elseif dname ~= "float16" and dname ~= "bfloat16" and dname ~= "half" then
        local same, why = matches(res, want)
        if not same then
          bad[#bad + 1] = ("%s(%s, %s): wrong result (%s)"):format(what, describe_value(v), tostring(dname), why)
        end
      end
    end
    for _ = 1, 2500 do
      local v = gen_value()
      local dt = DTYPES[rnd(#DTYPES)] or nil
      local canon = dt == "half" and "float16" or dt == "double" and "float64" or dt
      check("constant", v, canon, function() return tf.constant(v, dt) end)
      local n = rnd(3)
      if n == 1 then
        check("Variable", v, canon, function() return tf.Variable(v, { dtype = dt }):read_value() end)
      elseif n == 2 and canon and canon ~= "bool" and canon ~= "string" and canon ~= "complex64" then
        -- a Lua value beside a tensor takes the tensor's dtype
        check("add", v, canon, function() return tf.zeros({}, canon) + v end)
      end
    end
    assert(#bad == 0, #bad .. " bad conversions:\n" .. table.concat(bad, "\n", 1, math.min(#bad, 30)))
  end)

  it("bad dtype arguments are InvalidArgument errors everywhere", function()
    local fns = {
      function(d) return tf.constant({ 1 }, d) end,
      function(d) return tf.Variable({ 1 }, { dtype = d }) end,
      function(d) return tf.zeros({ 2 }, d) end,
      function(d) return tf.ones({ 2 }, { dtype = d }) end,
      function(d) return tf.cast(tf.constant(1), d) end,
      function(d) return tf.range(3, { dtype = d }) end,
      function(d) return tf.fill({ 2 }, 1, { dtype = d }) end,
      function(d) return tf.one_hot({ 0 }, 2, { dtype = d }) end,
      function(d) return tf.eye(2, { dtype = d }) end,
      function(d) return tf.random.normal({ 2 }, { dtype = d }) end,
      function(d) return tf.as_dtype(d) end,
      function(d) return tf.io.parse_tensor(tf.io.serialize_tensor(tf.constant(1)), { out_type = d }) end,
    }
    local bad = {}
    for i, f in ipairs(fns) do
      for _, d in ipairs(BAD_DTYPES) do
        local ok, err = pcall(f, d)
        if ok or not tf.errors.is(err, "InvalidArgument") then
          bad[#bad + 1] = ("function %d with dtype %s: %s"):format(i, describe_value(d), ok and "accepted" or tostring(err))
        end
      end
    end
    assert(#bad == 0, table.concat(bad, "\n"))
  end)
end)

-- The Lua-side parts of tf (wrappers, classes, methods) under random
-- arguments, and unknown option names refused by every function that
-- takes an options table.
describe("robustness of Lua-side functions", function()
  local pool = {
    nil, "text", 0, -1, 3, 2.5, nan, math.huge, true, {}, { 1, { 2 } }, { 1, 2, x = 3 }, { 300 },
    { bogus = 1 }, { axis = 9 }, { dtype = "flaot" }, { { 1.0, 2.0 }, { 3.0, 4.0 } }, print,
  }
  local function arg()
    local k = rnd(#pool + 4)
    if k == #pool + 1 then return tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 } }) end
    if k == #pool + 2 then return tf.constant({ 1, 2, 3 }) end
    if k == #pool + 3 then return tf.Variable({ 1.0, 2.0 }) end
    if k == #pool + 4 then return BAD_DTYPES[rnd(#BAD_DTYPES)] end
    return pool[k]
  end
  local targets = {
    constant = tf.constant, convert_to_tensor = tf.convert_to_tensor, Variable = tf.Variable,
    fill = tf.fill, one_hot = tf.one_hot, tensordot = tf.tensordot, norm = tf.norm, where = tf.where,
    as_dtype = tf.as_dtype, GradientTape = tf.GradientTape, set_seed = tf.random.set_seed,
    serialize_tensor = tf.io.serialize_tensor, parse_tensor = tf.io.parse_tensor,
    TensorShape = tf.TensorShape, Checkpoint = tf.train.Checkpoint, custom_gradient = tf.custom_gradient,
    SGD = function(...) return tf.keras.optimizers.SGD(...) end,
    Adam = function(...) return tf.keras.optimizers.Adam(...) end,
    ExponentialDecay = function(...) return tf.keras.optimizers.schedules.ExponentialDecay(...) end,
    apply_gradients = function(g, v) return tf.keras.optimizers.SGD(0.1):apply_gradients(g, v) end,
    exclude_from_weight_decay = function(o) return tf.keras.optimizers.AdamW():exclude_from_weight_decay(o) end,
    gradient = function(t, s, o)
      local x = tf.Variable({ 1.0, 2.0 })
      local tape = tf.GradientTape()
      local _ = x * x
      return tape:gradient(t, s, o)
    end,
    jacobian = function(t, s, o)
      local tape = tf.GradientTape({ persistent = true })
      return tape:jacobian(t, s, o)
    end,
    watch = function(x) return tf.GradientTape():watch(x) end,
    item = function(x) return tf.constant({ { 1.0 } }):item(x) end,
    method_norm = function(a, b) return tf.constant({ 3.0, 4.0 }):norm(a, b) end,
    method_tensordot = function(a, b) return tf.constant({ 3.0, 4.0 }):tensordot(a, b) end,
    index = function(a, b) local t = tf.constant({ { 1, 2 }, { 3, 4 } }); return t[a], t[a] and b end,
    shape_index = function(a) return tf.zeros({ 2, 3 }).shape[a] end,
    shape_index_large = function() return tf.zeros({ 2, 3 }).shape[rnd(7) - 4] end,
  }
  local names = {}
  for k in pairs(targets) do names[#names + 1] = k end
  table.sort(names)

  it("return or raise a tf.errors value naming the caller's line", function()
    local bad = {}
    for _, name in ipairs(names) do
      for trial = 1, 60 do
        local n = rnd(4) - 1
        local args = {}
        for i = 1, n do args[i] = arg() end
        local ok, err = pcall(targets[name], table.unpack(args, 1, n))
        if not ok then
          if not is_tf_error(err) then
            bad[#bad + 1] = ("%s trial %d: %s"):format(name, trial, tostring(err))
          elseif not tostring(err.where):find("robustness_spec", 1, true) then
            bad[#bad + 1] = ("%s trial %d: error names %s: %s"):format(name, trial, tostring(err.where), tostring(err))
          end
        end
      end
    end
    assert(#bad == 0, #bad .. " bad calls:\n" .. table.concat(bad, "\n", 1, math.min(#bad, 30)))
  end)

  it("refuse unknown option names", function()
    local x = tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 } })
    local calls = {
      fill = function(o) return tf.fill({ 2 }, 1.0, o) end,
      one_hot = function(o) return tf.one_hot({ 0 }, 2, o) end,
      tensordot = function(o) return tf.tensordot(x, x, 1, o) end,
      tensordot_only_options = function(o) o.axes = 1; return tf.tensordot(x, x, o) end,
      norm = function(o) return tf.norm(x, o) end,
      where = function(o) return tf.where(tf.constant({ true }), 1.0, 2.0, o) end,
      Variable = function(o) return tf.Variable(1.0, o) end,
      GradientTape = function(o) return tf.GradientTape(o) end,
      gradient = function(o)
        local v = tf.Variable(1.0)
        local tape = tf.GradientTape()
        local y = v * v
        return tape:gradient(y, v, o)
      end,
      jacobian = function(o)
        local v = tf.Variable({ 1.0 })
        local tape = tf.GradientTape()
        local y = v * v
        return tape:jacobian(y, v, o)
      end,
      SGD = function(o) return tf.keras.optimizers.SGD(o) end,
      exclude_from_weight_decay = function(o) return tf.keras.optimizers.AdamW():exclude_from_weight_decay(o) end,
      reduce_sum = function(o) return tf.reduce_sum(x, o) end,
      parse_tensor = function(o) return tf.io.parse_tensor(tf.io.serialize_tensor(x), o) end,
      zeros = function(o) return tf.zeros({ 2 }, o) end,
    }
    local bad = {}
    for name, f in pairs(calls) do
      local ok, err = pcall(f, { bogus_option = 1 })
      if ok or not tf.errors.is(err, "InvalidArgument") or not tostring(err):find("bogus_option", 1, true) then
        bad[#bad + 1] = ("%s: %s"):format(name, ok and "ignored the unknown option" or tostring(err))
      end
    end
    table.sort(bad)
    assert(#bad == 0, table.concat(bad, "\n"))
  end)

  it("name the user's line for errors raised inside the keras library", function()
    local ok, err = pcall(function()
      local opt = tf.keras.optimizers.SGD({ learning_rate = 0.1, bogus = 1 })
      return opt
    end)
    assert.is_false(ok)
    assert.is_true(tf.errors.is(err, "InvalidArgument"))
    assert.truthy(tostring(err):find("robustness_spec.lua:%d+: SGD: unknown option 'bogus'"), tostring(err))
    local w = tf.Variable({ 1.0, 2.0 })
    ok, err = pcall(function()
      local r = tf.keras.optimizers.SGD(0.1):apply_gradients({ tf.constant({ 1.0, 2.0, 3.0 }) }, { w })
      return r
    end)
    assert.is_false(ok)
    assert.truthy(tostring(err.where):find("robustness_spec.lua", 1, true), tostring(err))
  end)
end)
