-- The collector learns about tensor bytes: a loop that creates and drops
-- large tensors runs in flat memory with no collectgarbage() in user code,
-- and a training loop's memory tracks its working set (the binding's
-- backstop, tlb_steer_collector in lua/lbinding.c).
local tlua = os.getenv("TLUA")

-- Each script gets rss_kb(field): a /proc/self/status figure in KiB.
local PRELUDE = [[
local function rss_kb(field)
  for line in io.lines("/proc/self/status") do
    local v = line:match("^" .. field .. ":%s+(%d+)")
    if v then return tonumber(v) end
  end
end
]]

local function run(code)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(PRELUDE, code)
  f:close()
  local p = assert(io.popen(tlua .. " " .. path .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  os.remove(path)
  return ok, out
end

describe("memory", function()
  it("stays flat over 100,000 iterations of allocating 256 KiB tensors", function()
    local ok, out = run([[
      -- A large live Lua heap makes Lua's own collector run rarely, as in a
      -- real program; only tensor-byte accounting can keep memory flat.
      local keep = {}
      for i = 1, 200000 do keep[i] = ("x"):rep(200) .. i end
      local x = tf.constant({1.0}) -- warm the module
      local base = tf.core.memory_stats()
      local ones = tf.reshape(tf.cast(tf.constant({1}), tf.float32), {1})
      local big = tf.tile(ones, {65536})        -- 256 KiB float32
      local before = rss_kb("VmRSS")
      for i = 1, 100000 do
        local y = big + 1.0                      -- a fresh 256 KiB tensor each time
      end
      local after = rss_kb("VmHWM")
      local stats = tf.core.memory_stats()
      print(("rss_before_kb=%d peak_kb=%d live=%d peak_live=%d"):format(before, after, stats.live_bytes, stats.peak_bytes))
      assert(after - before < 300 * 1024, "peak RSS grew by more than 300 MiB")
      assert(stats.peak_bytes < 200 * 1024 * 1024, "tensor bytes peaked above 200 MiB")
      print("ok", #keep)
    ]])
    assert(ok, out)
    assert(out:find("ok\t200000", 1, true), out)
  end)

  -- A model-like step (matmul, relu, tape, gradient, SGD) allocates several
  -- 256 KiB blocks, so its intermediates outlive several minor collections
  -- and die old: only full collections free them. The working set is
  -- measured in the same run by collecting after every step; the loop
  -- without collectgarbage() must stay within a small multiple of it (it
  -- peaked at 256 MiB, 70 times it, when the backstop was fixed there).
  it("keeps a training loop's tensor memory within a small multiple of its working set", function()
    local ok, out = run([[
      tf.random.set_seed(7)
      local W1 = tf.Variable(tf.random.normal({512, 512}, 0, 0.02))
      local W2 = tf.Variable(tf.random.normal({512, 10}, 0, 0.02))
      local x = tf.random.normal({128, 512})
      local y = tf.random.normal({128, 10})
      local opt = keras.optimizers.SGD(0.01)
      local function step()
        local tape = tf.GradientTape()
        local h = tf.nn.relu(tf.matmul(x, W1))
        local loss = tf.reduce_mean(tf.square(tf.matmul(h, W2) - y))
        opt:apply_gradients(tape:gradient(loss, { W1, W2 }), { W1, W2 })
      end
      for _ = 1, 5 do step(); collectgarbage() end
      local working_set = tf.core.memory_stats().peak_bytes
      local rss = rss_kb("VmRSS")
      for _ = 1, 150 do step() end
      local peak = tf.core.memory_stats().peak_bytes
      local rss_growth = rss_kb("VmHWM") - rss
      print(("working_set=%d peak=%d ratio=%.2f rss_growth_kb=%d"):format(working_set, peak, peak / working_set, rss_growth))
      assert(peak <= 3 * working_set, "tensor bytes peaked above 3x the working set")
      assert(rss_growth < 64 * 1024, "RSS grew by more than 64 MiB")
      print("ok")
    ]])
    assert(ok, out)
    assert(out:find("\nok\n", 1, true), out)
  end)
end)
