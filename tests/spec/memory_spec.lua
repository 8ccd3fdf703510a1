-- The collector learns about tensor bytes: a loop that creates and drops
-- large tensors runs in flat memory with no collectgarbage() in user code.
local tlua = os.getenv("TLUA")

local function run(code)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(code)
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
      local function rss_kb(field)
        for line in io.lines("/proc/self/status") do
          local v = line:match("^" .. field .. ":%s+(%d+)")
          if v then return tonumber(v) end
        end
      end
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
end)
