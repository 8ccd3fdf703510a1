-- Attention scores with tf.einsum, a masked mean over padded sequences with
-- tf.sequence_mask, per-segment averages, and gradient clipping: the
-- issue-11 compositions together. Run: tlua examples/math_extra.lua
local q = tf.reshape(tf.range(24.0), { 1, 2, 3, 4 })       -- batch, heads, queries, depth
local k = tf.ones({ 1, 2, 5, 4 })                           -- batch, heads, keys, depth
local scores = tf.einsum("bhqd,bhkd->bhqk", q, k)
print("scores shape:", scores.shape)                        --> (1, 2, 3, 5)

local lengths = tf.constant({ 2, 4, 1 })
local mask = tf.sequence_mask(lengths, 4, tf.float32)
local x = tf.reshape(tf.range(12.0), { 3, 4 })
local mean = tf.divide(tf.reduce_sum(tf.multiply(x, mask), 1), tf.cast(lengths, tf.float32))
print("masked means:", mean)                                --> [0.5 5.5 8.]

print("segment means:", tf.math.segment_mean(tf.constant({ 1.0, 3.0, 10.0 }), tf.constant({ 0, 0, 1 })))
print("rolled:", tf.roll(tf.range(5), 2, 0), "repeated:", tf["repeat"](tf.constant({ 1, 2 }), 2))

local w = tf.Variable(tf.constant({ 3.0, 4.0 }))
local tape = tf.GradientTape()
local loss = tf.reduce_sum(tf.square(w))
local g = tape:gradient(loss, w)
local clipped, norm = tf.clip_by_global_norm({ g }, 1.0)
print("global norm:", norm, "clipped:", clipped[1])         --> 10, [0.6 0.8]
