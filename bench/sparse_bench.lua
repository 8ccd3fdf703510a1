-- bench/sparse_bench.lua — tf.sparse.sparse_dense_matmul of a 10,000 x
-- 10,000 matrix with 0.1% non-zeros (100,000 entries, random positions,
-- seed 1) by a 10,000 x 64 dense matrix, against tf.matmul of the same
-- matrices made dense. Prints "name seconds" lines (the best of rounds, as bench/common.lua
-- does: the machine is shared);
-- bench/sparse.sh compares them with TensorFlow's.
-- Usage: tlua bench/sparse_bench.lua [n] [density] [cols] [rounds]
local n = tonumber(arg[1]) or 10000
local density = tonumber(arg[2]) or 0.001
local cols = tonumber(arg[3]) or 64
local rounds = tonumber(arg[4]) or 20
local now = tf.core.now

local nnz = math.floor(n * n * density)
tf.random.set_seed(1)
-- distinct random positions, sorted (TensorFlow's benchmark feeds them sorted too)
math.randomseed(1)
local seen, keys = {}, {}
while #keys < nnz do
  local k = math.random(0, n * n - 1)
  if not seen[k] then seen[k] = true; keys[#keys + 1] = k end
end
table.sort(keys)
local ind = {}
for i, k in ipairs(keys) do ind[i] = { k // n, k % n } end
local indices = tf.constant(ind, tf.int64)
local values = tf.random.uniform({ nnz })
local a = tf.SparseTensor(indices, values, { n, n })
local b = tf.random.uniform({ n, cols })

local function best(t) table.sort(t); return t[1] end
local function time(f, r)
  f() -- warm up
  local ts = {}
  for i = 1, r do
    local t0 = now()
    local y = f()
    y = y + 0 -- materialised
    ts[i] = now() - t0
  end
  return best(ts)
end

local ts = time(function() return tf.sparse.sparse_dense_matmul(a, b) end, rounds)
print(("sparse_dense_matmul %.6f"):format(ts))
local dense = tf.sparse.to_dense(a)
local td = time(function() return tf.matmul(dense, b) end, math.max(3, rounds // 5))
print(("dense_matmul %.6f"):format(td))
-- the two agree
local diff = tf.reduce_max(tf.abs(tf.sparse.sparse_dense_matmul(a, b) - tf.matmul(dense, b))):item()
print(("max_abs_diff %.3g"):format(diff))
