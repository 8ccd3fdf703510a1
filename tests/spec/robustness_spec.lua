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
