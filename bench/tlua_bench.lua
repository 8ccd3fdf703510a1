-- tlua side of bench/run.sh: prints "case seconds_per_iteration" lines.
-- Usage: tlua bench/tlua_bench.lua [case ...]
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/common.lua")
local timeit = bench.timeit

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
bench.run(cases, order)
