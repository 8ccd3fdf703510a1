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

local now = core.now or os.clock
local rounds, per = 40, math.max(1, n // 40)
local function raw()
  local t0 = now()
  for _ = 1, per do local _ = relu(bias_add(matmul(x, k), b)) end
  return now() - t0
end
local function lay()
  local t0 = now()
  for _ = 1, per do local _ = layer(x) end
  return now() - t0
end
raw() lay()
-- alternate short blocks and keep the fastest of each (the machine is shared)
local best_raw, best_layer = math.huge, math.huge
for _ = 1, rounds do
  best_raw = math.min(best_raw, raw())
  best_layer = math.min(best_layer, lay())
end
print(("raw ops: %.2f us/call, Dense: %.2f us/call, overhead %.2f us/call (%.1f%%)"):format(
  best_raw / per * 1e6, best_layer / per * 1e6, (best_layer - best_raw) / per * 1e6, (best_layer / best_raw - 1) * 100))
