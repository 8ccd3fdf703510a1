-- bench/ragged_bench.lua — tf.RaggedTensor operations on 100,000 rows of
-- 0..20 float32 values (about 1,000,000 values), eager; the peer is
-- bench/ragged_bench.py (TensorFlow). Prints "case seconds" per case
-- (median of the repetitions). Run through bench/ragged.sh.
local tf = tf or require("tlua")
local nrows = tonumber(os.getenv("RAGGED_ROWS") or "100000")
local reps = tonumber(os.getenv("RAGGED_REPS") or "7")

-- the same lengths as the peer: (i * 7919) % 21
local lens = {}
for i = 0, nrows - 1 do lens[i + 1] = (i * 7919) % 21 end
local lengths = tf.constant(lens, tf.int64)
local nvals = tf.reduce_sum(lengths):item()
local values = tf.cast(tf.range(nvals), tf.float32) * 0.001
local rt = tf.RaggedTensor.from_row_lengths(values, lengths)
local dense = rt:to_tensor()
local mask = tf.greater(rt, 0.5)

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end
local function bench(name, fn)
  fn() -- warm up
  local ts = {}
  for i = 1, reps do
    local t0 = tf.core.now()
    fn()
    ts[i] = tf.core.now() - t0
  end
  print(("%s %.6f"):format(name, median(ts)))
end

bench("from_row_lengths", function() return tf.RaggedTensor.from_row_lengths(values, lengths) end)
bench("to_tensor", function() return rt:to_tensor() end)
bench("from_tensor_lengths", function() return tf.RaggedTensor.from_tensor(dense, { lengths = lengths }) end)
bench("reduce_sum_1", function() return tf.reduce_sum(rt, 1) end)
bench("reduce_max_0", function() return tf.reduce_max(rt, 0) end)
bench("reduce_mean_1", function() return tf.reduce_mean(rt, 1) end)
bench("add_same_splits", function() return rt + rt end)
bench("concat_1", function() return tf.concat({ rt, rt }, 1) end)
bench("boolean_mask", function() return tf.ragged.boolean_mask(rt, mask) end)
bench("gather_rows", function() return rt["::2"] end)
