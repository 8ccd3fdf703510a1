-- bench/tensor_array_bench.lua — tf.TensorArray write + stack, eagerly and
-- in a traced tf.while_loop (with and without a gradient); prints
-- "case seconds" per case (median of a few runs). Peer:
-- bench/tensor_array_bench.py; runner: bench/tensor_array.sh.
local n = tonumber(arg and arg[1]) or 1000
local d = tonumber(os.getenv("TA_D") or 64)
local reps = 5
local function median(f)
  local t = {}
  for r = 1, reps do
    local t0 = os.clock()
    f()
    t[r] = os.clock() - t0
  end
  table.sort(t)
  return t[(reps + 1) // 2]
end
local v = tf.ones({ d })
local eager = function()
  local ta = tf.TensorArray{ dtype = tf.float32, size = n }
  for i = 0, n - 1 do ta:write(i, v) end
  return ta:stack()
end
local loop = tf.trace(function(x, k)
  local ta = tf.TensorArray{ dtype = tf.float32, size = k }
  local r = tf.while_loop(function(i) return tf.less(i, k) end,
    function(i, t) return i + 1, t:write(i, x * tf.cast(i, tf.float32)) end, { 0, ta })
  return r[2]:stack()
end)
local grad = tf.trace(function(x, k)
  local tape = tf.GradientTape()
  tape:watch(x)
  local ta = tf.TensorArray{ dtype = tf.float32, size = k }
  local r = tf.while_loop(function(i) return tf.less(i, k) end,
    function(i, t) return i + 1, t:write(i, x * tf.cast(i, tf.float32)) end, { 0, ta })
  return tape:gradient(tf.reduce_sum(r[2]:stack()), x)
end)
local k = tf.constant(n)
loop(v, k)
grad(v, k)
print(("eager_write_stack %.6f"):format(median(eager)))
print(("traced_loop_write_stack %.6f"):format(median(function() return loop(v, k) end)))
print(("traced_loop_gradient %.6f"):format(median(function() return grad(v, k) end)))
