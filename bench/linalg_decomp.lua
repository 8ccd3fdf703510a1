-- Times cholesky, qr, svd and eigh on a batch of 32 well-conditioned 64x64
-- float64 matrices; prints one "name seconds" line per op (median of 5).
local tf = require("tlua")
local n, b = 64, 32
local r = tf.random.uniform({ b, n, n }, { dtype = tf.float64, seed = 1 })
local spd = tf.add(tf.matmul(r, r, { transpose_b = true }), tf.multiply(n, tf.eye(n, nil, { dtype = tf.float64 })))
local function time(name, f)
  f()
  local ts = {}
  for i = 1, 5 do
    local t0 = os.clock()
    f()
    ts[i] = os.clock() - t0
  end
  table.sort(ts)
  print(("%s %.6f"):format(name, ts[3]))
end
time("cholesky", function() return tf.linalg.cholesky(spd) end)
time("qr", function() return tf.linalg.qr(r) end)
time("svd", function() return tf.linalg.svd(r) end)
time("eigh", function() return tf.linalg.eigh(spd) end)
