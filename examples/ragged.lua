-- Ragged tensors: sentences of different lengths as one tf.RaggedTensor,
-- the usual operations on them, and a traced function and a while loop
-- that take ragged values. Run: tlua examples/ragged.lua
local RT = tf.RaggedTensor

-- Word ids of four sentences (0-based ids, lengths 4, 0, 3, 1).
local ids = tf.ragged.constant({ { 3, 1, 4, 1 }, {}, { 5, 9, 2 }, { 6 } })
print("ids:", ids)                        --> <tf.RaggedTensor [[3, 1, 4, 1], [], [5, 9, 2], [6]]>
print("shape:", ids.shape)                --> (4, None)
print("row_splits:", ids.row_splits)
print("row_lengths:", ids:row_lengths())
print("sentence 2:", ids[2], "last two:", ids["-2:"])

-- The same value from its components, and back to a padded dense batch.
local same = RT.from_row_splits({ 3, 1, 4, 1, 5, 9, 2, 6 }, { 0, 4, 4, 7, 8 })
assert(tf.reduce_all(tf.equal(same.flat_values, ids.flat_values)):item())
local padded = ids:to_tensor(-1)
print("padded:", padded)
print("from padded:", RT.from_tensor(padded, { padding = -1 }))

-- An embedding lookup per word, then a mean per sentence: ragged in, dense out.
local embedding = tf.reshape(tf.range(0.0, 20.0), { 10, 2 })
local vectors = tf.ragged.map_flat_values(function(v) return tf.gather(embedding, v) end, ids)
print("vectors shape:", vectors.shape)     --> (4, None, 2)
print("mean per sentence:", tf.reduce_mean(vectors, 1)) -- the empty sentence gives NaN, as in TensorFlow
print("sum over sentences:", tf.reduce_sum(ids, 0))

-- Element-wise math, masks, concatenation and stacking.
print("ids * 2 + 1:", ids * 2 + 1)
print("ids > 2:", tf.ragged.boolean_mask(ids, tf.greater(ids, 2)))
print("concat rows:", tf.concat({ ids, ids }, 0).shape, "concat columns:", tf.concat({ ids, ids * 10 }, 1))
print("stack:", tf.stack({ ids, ids }, 1).shape)
print("ranges:", tf.ragged.range({ 3, 0, 2 }))

-- Two ragged dimensions: paragraphs of sentences of words.
local doc = tf.ragged.constant({ { { 1, 2 }, { 3 } }, {}, { { 4, 5, 6 } } })
print("doc:", doc, "shape:", doc.shape, "words per paragraph:", tf.reduce_sum(doc:row_lengths(2), 1))

-- Traced: one graph for every batch with this many sentences, whatever
-- their lengths (the number of values is a dynamic dimension).
local traces = 0
local bag_of_words = tf.trace(function(x)
  traces = traces + 1
  return tf.reduce_sum(tf.cast(x, tf.float32) * 0.5, 1)
end)
print("traced:", bag_of_words(ids), bag_of_words(tf.ragged.constant({ { 1 }, { 2, 3 }, {}, { 4, 5, 6, 7 } })))
assert(traces == 1)

-- A while loop whose ragged variable grows.
local grown = tf.while_loop(function(i) return tf.less(i, 3) end,
  function(i, x) return i + 1, tf.concat({ x, tf.ragged.constant({ { 0 }, {}, { 7 }, {} }) }, 1) end,
  { tf.constant(0), ids })[2]
print("grown:", grown)

-- Any dtype: strings split into words, as tf.strings.split returns them.
local words = RT.from_row_splits(tf.constant({ "the", "cat", "sat", "hello" }), { 0, 3, 3, 4 })
print("words:", words)
print("padded words:", words:to_tensor(""))

-- Bad row partitions are errors, never crashes.
local ok, err = pcall(RT.from_row_splits, { 1, 2, 3 }, { 0, 2, 1, 3 })
print("invalid splits:", ok, tostring(err):match("row_splits.*"))
