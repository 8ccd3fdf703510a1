-- examples/sparse.lua — sparse tensors and sets.
--
-- A user-item matrix of ratings as a tf.SparseTensor: scores for every user
-- by a sparse-dense product (with gradients for the dense factors and the
-- ratings), a traced training step, row statistics, and tf.sets on the
-- items users rated. Run: tlua examples/sparse.lua
-- (TLUA_EXAMPLE_QUICK=1: fewer steps, as the test suite runs it).
local quick = os.getenv("TLUA_EXAMPLE_QUICK") == "1"

-- 4 users x 5 items, 8 ratings (0-based indices, row-major order)
local ratings = tf.SparseTensor{
  indices = { { 0, 0 }, { 0, 3 }, { 1, 1 }, { 1, 3 }, { 2, 0 }, { 2, 4 }, { 3, 2 }, { 3, 4 } },
  values = { 5.0, 1.0, 4.0, 2.0, 3.0, 5.0, 4.0, 1.0 },
  dense_shape = { 4, 5 },
}
print(ratings)
print("as dense:")
print(tf.sparse.to_dense(ratings))

-- per-user mean rating: sum over the row / count of entries in the row
local sums = tf.sparse.reduce_sum(ratings, 1)
local counts = tf.sparse.reduce_sum(ratings:with_values(tf.ones_like(ratings.values)), 1)
print("mean rating per user:", sums / counts)
print("best rating per user:", tf.sparse.reduce_max(ratings, 1))

-- matrix factorisation: ratings ~ U V^T at the rated entries only
tf.random.set_seed(7)
local k = 3
local U = tf.Variable(tf.random.normal({ 4, k }, { stddev = 0.5 }))
local V = tf.Variable(tf.random.normal({ 5, k }, { stddev = 0.5 }))
local rows = tf.gather(ratings.indices, 0, { axis = 1 })
local cols = tf.gather(ratings.indices, 1, { axis = 1 })

local step = tf.trace(function(r)
  local tape = tf.GradientTape()
  local pred = tf.reduce_sum(tf.gather(U:value(), rows) * tf.gather(V:value(), cols), 1)
  local loss = tf.reduce_mean(tf.square(pred - r.values))
  local gu, gv = table.unpack(tape:gradient(loss, { U, V }))
  U:assign_sub(gu * 0.5)
  V:assign_sub(gv * 0.5)
  return loss
end)
local steps = quick and 50 or 500
local loss
for i = 1, steps do loss = step(ratings) end
print(("loss after %d steps: %.4f"):format(steps, loss:item()))
assert(loss:item() < 1, "the factorisation should fit the 8 ratings")

-- each user's ratings-weighted profile over the item factors (a sparse
-- product), scored against every item
local profile = tf.sparse.sparse_dense_matmul(ratings, V:value())            -- [4, k]
local scores = tf.matmul(profile, V:value(), { transpose_b = true })          -- [4, 5]
print("profile scores:")
print(scores)

-- the gradient of a sparse product reaches the values and the dense operand
local tape = tf.GradientTape()
tape:watch(ratings.values)
local w = tf.ones({ 5, 2 })
tape:watch(w)
local y = tf.reduce_sum(tf.sparse.sparse_dense_matmul(ratings, w))
local dv, dw = table.unpack(tape:gradient(y, { ratings.values, w }))
print("d/dvalues:", dv)
print("d/dW (the sum of each item's ratings, per column):", dw)
assert(dv:totable()[1] == 2 and dw:totable()[1][1] == 8)

-- sets: which items did users 0 and 2 both rate, and which did either rate?
local items = tf.SparseTensor(ratings.indices, cols, ratings.dense_shape)
local u0 = tf.sparse.slice(items, { 0, 0 }, { 1, 5 })
local u2 = tf.sparse.slice(items, { 2, 0 }, { 1, 5 })
print("rated by both 0 and 2:", tf.sets.intersection(u0, u2).values)
print("rated by 0 or 2:", tf.sets.union(u0, u2).values)
print("rated by 0, not by 2:", tf.sets.difference(u0, u2).values)
print("distinct items per user:", tf.sets.size(items))

-- item popularity with bincount, and a one-hot indicator of rated items
print("ratings per item:", tf.sparse.to_dense(tf.sparse.bincount(cols, { minlength = 5 })))
print("rated?")
print(tf.sparse.to_indicator(items, 5))
