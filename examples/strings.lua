-- examples/strings.lua — string tensors and tf.strings: a tiny text
-- pipeline (normalise, tokenize, hash into buckets, count), regular
-- expressions, Unicode. Run: build/tlua examples/strings.lua
local lines = tf.constant({
  "The quick brown fox", "  jumps over\tthe lazy dog  ", "Café, naïve & résumé", "",
})
print(lines)

-- normalise: strip, lower case (utf-8 aware), punctuation to spaces
local clean = tf.strings.regex_replace(tf.strings.lower(tf.strings.strip(lines), { encoding = "utf-8" }),
  "[[:punct:]&]+", " ")
print(clean)

-- tokenize (a ragged result: one row of words per line) and hash the words
local words = tf.strings.split(clean)
print(words)
local ids = tf.strings.to_hash_bucket_fast(words.values, 1000)
print("bucket ids", ids)
print("words per line", words.row_splits[{ { 1, nil } }] - words.row_splits[{ { nil, -1 } }])

-- bigrams of each line, joined back
print(tf.strings.ngrams(words, 2, { separator = "_" }))
print(tf.strings.reduce_join(words.values, { separator = "|" }))

-- numbers in and out of strings
local prices = tf.constant({ "3.50", "12", " 0.25 " })
local total = tf.reduce_sum(tf.strings.to_number(prices))
print(tf.strings.format("total: {}", total), tf.strings.as_string(total, { precision = 2 }))

-- Unicode: characters, code points and scripts
local word = tf.constant("naïve 日本")
print(tf.strings.length(word), tf.strings.length(word, "UTF8_CHAR"))
print(tf.strings.unicode_split(word, "UTF-8"))
local cps = tf.strings.unicode_decode(word, "UTF-8")
print(cps, tf.strings.unicode_script(cps))
print(tf.strings.unicode_encode(cps, "UTF-8"))

-- string tensors are tensors: movement ops, comparisons, tf.trace
local t = tf.reshape(tf.constant({ "a", "b", "c", "d" }), { 2, 2 })
print(tf.transpose(t), tf.equal(t, "b"))
local greet = tf.trace(function(names) return tf.strings.join({ "hello, ", names, "!" }) end)
print(greet(tf.constant({ "world", "tlua" })))
