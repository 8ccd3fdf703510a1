-- Per-call overhead of keras.layers.Dense over the raw ops it runs
-- (matmul + bias_add + relu), on a [32, 256] input, Dense(128).
--   TLUA_STDLIB=$PWD/stdlib tlua bench/keras_dense_overhead.lua [calls]
local n = tonumber(arg and arg[1]) or 10000
local core = require("tlua.core")
local x = tf.random.normal({ 32, 256 })
local layer = keras.layers.Dense(128, { activation = "relu" })
layer(x)
local k, b = layer.kernel, layer.bias
local matmul, bias_add, relu = core.ops.matmul, core.ops.bias_add, core.ops.relu
local clock = os.clock

local function raw()
  local t0 = clock()
  for _ = 1, n do local _ = relu(bias_add(matmul(x, k), b)) end
  return clock() - t0
end
local function lay()
  local t0 = clock()
  for _ = 1, n do local _ = layer(x) end
  return clock() - t0
end
raw() lay()
local best_raw, best_layer = math.huge, math.huge
for _ = 1, 3 do
  best_raw = math.min(best_raw, raw())
  best_layer = math.min(best_layer, lay())
end
print(("raw ops: %.2f us/call, Dense: %.2f us/call, overhead %.2f us/call (%.1f%%)"):format(
  best_raw / n * 1e6, best_layer / n * 1e6, (best_layer - best_raw) / n * 1e6, (best_layer / best_raw - 1) * 100))
