-- tlua side of bench/run.sh: prints "case seconds_per_iteration" lines.
-- Usage: tlua bench/tlua_bench.lua [case ...]
local now = tf.core.now

local function timeit(fn, min_time)
  min_time = min_time or 0.3
  fn(); fn() -- warm up (allocator cache, BLAS load, pool threads)
  local best = math.huge
  for _ = 1, 5 do
    local iters, t0 = 0, now()
    local elapsed
    repeat
      fn()
      iters = iters + 1
      elapsed = now() - t0
    until elapsed >= min_time / 5
    best = math.min(best, elapsed / iters)
  end
  return best
end

local cases = {}
cases.add_10 = function()
  local a, b = tf.random.uniform({ 10 }), tf.random.uniform({ 10 })
  local add = tf.add
  return timeit(function() for _ = 1, 1000 do local _ = add(a, b) end end) / 1000
end
cases.add_1e7 = function()
  local a, b = tf.random.uniform({ 10000000 }), tf.random.uniform({ 10000000 })
  return timeit(function() local _ = a + b end)
end
cases.bcast_add = function()
  local a, b = tf.random.uniform({ 1000, 1000 }), tf.random.uniform({ 1000 })
  return timeit(function() local _ = a + b end)
end
cases.sum_1e7 = function()
  local a = tf.random.uniform({ 10000000 })
  return timeit(function() local _ = tf.reduce_sum(a) end)
end
cases.softmax_1000 = function()
  local a = tf.random.normal({ 1000, 1000 })
  return timeit(function() local _ = tf.nn.softmax(a) end)
end
for _, n in ipairs({ 256, 1024, 2048 }) do
  cases["matmul_" .. n] = function()
    local a, b = tf.random.normal({ n, n }), tf.random.normal({ n, n })
    return timeit(function() local _ = tf.matmul(a, b) end, n >= 2048 and 1.0 or 0.3)
  end
end

local order = { "add_10", "add_1e7", "bcast_add", "sum_1e7", "softmax_1000", "matmul_256", "matmul_1024", "matmul_2048" }
local want = {}
for i = 1, #arg do want[arg[i]] = true end
for _, name in ipairs(order) do
  if next(want) == nil or want[name] then
    local ok, t = pcall(cases[name])
    if ok then print(("%s %.9g"):format(name, t)) else print(("%s error %s"):format(name, tostring(t))) end
    io.stdout:flush()
  end
end
