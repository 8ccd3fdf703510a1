-- Every registered op, called with bad, odd and extreme arguments, either
-- returns or raises a tf.errors value: never a crash (run this spec under
-- the sanitizer build too), never a plain Lua error string.
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
