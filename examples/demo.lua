-- examples/demo.lua — the core at work: tensors, dtypes, broadcasting,
-- reductions, indexing, linear algebra, variables, gradients and errors.
-- (A later issue turns the main job into a real training run.)
print("tlua " .. tf.__version__ .. " — " .. tf.core.num_threads() .. " compute threads")

-- Tensors and dtypes (Lua floats are float32, integers int32, as in TF)
local t = tf.constant({ { 1., 2., 3. }, { 4., 5., 6. } })
print(t)
print("shape", t.shape, "dtype", t.dtype, "t[0] =", t[0])
print("t + 10 =", t + 10)
print("t @ t^T =", tf.matmul(t, tf.transpose(t)))
print("square root of the sum of squares along axis 1:", tf.sqrt(tf.reduce_sum(tf.square(t), 1)))

-- Broadcasting and slicing (0-based, numpy-like)
local row = tf.constant({ 100., 200., 300. })
print("t + row =", t + row)
print('t["0:2, ::-1"] =', t["0:2, ::-1"])

-- tf.range is int32 by default; mixing dtypes is an error, tf.cast converts
local r = tf.range(10)
print("range", r, r.dtype)
local ok, err = pcall(function() return r + tf.constant(1.5) end)
print("mixing dtypes ->", tostring(err))
print("cast:", tf.cast(r, tf.float32) * 0.5)

-- Variables change; tensors read from them keep their value
local v = tf.Variable({ 1., 2., 3. }, { name = "v" })
local before = v:value()
v:assign_add({ 10., 10., 10. })
print("variable", v, "earlier read", before)

-- Gradients: d/dx of x^3 at 3 is 27, the second derivative 18
local x = tf.Variable(3.0)
local outer = tf.GradientTape()
local inner = tf.GradientTape()
local y = x * x * x
local dy = inner:gradient(y, x)
local d2y = outer:gradient(dy, x)
print(("dy/dx = %g, d2y/dx2 = %g"):format(dy:item(), d2y:item()))

-- Linear algebra and neural-network ops
local a = tf.constant({ { 4., 1. }, { 2., 3. } })
print("det", tf.linalg.det(a), "inverse", tf.linalg.inv(a))
print("softmax", tf.nn.softmax(tf.constant({ 1., 2., 3. })))
local values, indices = tf.math.top_k(tf.constant({ 3., 1., 4., 1., 5., 9., 2., 6. }), 3)
print("top 3", values, indices)

-- Random numbers are reproducible with a seed
tf.random.set_seed(42)
print("uniform", tf.random.uniform({ 3 }))

-- A large tensor prints summarised
print(tf.reshape(tf.range(10000), { 100, 100 }))
