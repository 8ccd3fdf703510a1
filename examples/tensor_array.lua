-- examples/tensor_array.lua — tf.TensorArray: a list of tensors of one
-- dtype and element shape, eagerly, in a traced function, as a
-- tf.while_loop variable (the RNN-style accumulation TensorFlow code uses
-- it for), and with gradients through it (docs/tensor_array.md).

-- Eagerly: write returns the same array (mutated), as TensorFlow 2's does
local ta = tf.TensorArray{ dtype = tf.float32, size = 3 }
ta = ta:write(0, { 1, 2 })
ta = ta:write(2, { 5, 6 })
print(ta)                         -- <tf.TensorArray size=3 dtype=float32 element_shape=[2]>
print("stack (never-written rows are zeros):", ta:stack())
print("read(2):", ta:read(2))
-- mistakes TensorFlow lets pass are errors here
local ok, err = pcall(ta.write, ta, 0, { 9, 9 })
print("writing index 0 twice:", ok, tostring(err):match("Could not write.*"))
ok, err = pcall(ta.read, ta, 1)
print("reading index 1 (never written):", ok, tostring(err):match("Could not read.*"))

-- unstack / gather / scatter / concat / split
local rows = tf.TensorArray{ dtype = tf.float32, size = 3 }:unstack({ { 1, 2 }, { 3, 4 }, { 5, 6 } })
print("gather({2, 0}):", rows:gather({ 2, 0 }))
print("concat:", rows:concat())
local pieces = tf.TensorArray{ dtype = tf.float32, size = 2 }:split({ 1, 2, 3, 4, 5 }, { 2, 3 })
print("split piece 1:", pieces:read(1))

-- A traced function with a tf.while_loop: a running sum over the rows of x,
-- each step written to a TensorArray; no element_shape needed
local W = tf.Variable(tf.constant({ { 0.5, -0.2 }, { 0.1, 0.3 } }))
local function scan_rnn(x)
  local n = tf.shape(x)[0]
  local states = tf.TensorArray{ dtype = tf.float32, size = n }
  local out = tf.while_loop(function(i) return tf.less(i, n) end,
    function(i, h, acc)
      h = tf.tanh(tf.matmul(tf.reshape(h, { 1, 2 }), W)[0] + x[i])
      return i + 1, h, acc:write(i, h)
    end, { 0, tf.zeros({ 2 }), states })
  return out[3]:stack()
end
local traced = tf.trace(scan_rnn)
local x = tf.constant({ { 1.0, 0.0 }, { 0.0, 1.0 }, { 0.5, 0.5 }, { -1.0, 1.0 } })
print("states (traced):", traced(x))

-- Gradients flow through the array: d loss / d W, eagerly and traced agree
local function grads(fn)
  local tape = tf.GradientTape()
  local loss = tf.reduce_sum(tf.square(fn(x)))
  return tape:gradient(loss, W)
end
local ge, gt = grads(scan_rnn), grads(traced)
print("dloss/dW eager :", ge)
print("dloss/dW traced:", gt)
assert(tf.reduce_max(tf.abs(ge - gt)):item() < 1e-5)

-- dynamic_size: the array grows inside the traced loop
local evens = tf.trace(function(n)
  local t = tf.TensorArray{ dtype = tf.int32, size = 0, dynamic_size = true }
  return tf.while_loop(function(i) return tf.less(i, n) end,
    function(i, acc) return i + 1, acc:write(i, i * 2) end, { 0, t })[2]:stack()
end)
print("evens(6):", evens(tf.constant(6)))
