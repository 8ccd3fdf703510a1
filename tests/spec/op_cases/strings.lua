-- Conformance cases for the tf.strings ops (src/ops/strings*.c); values
-- against TensorFlow are in strings_spec.lua. None is differentiable, and
-- string tensors live on the CPU only, so the cases with a string input or
-- output stay off the test device.
local tf = require("tlua")
local NG = "string ops have no gradient"
local CPU = "string tensors live on the CPU only"
local s = tf.constant({ { "Hello", "w\u{f6}rld" }, { "", " a b " } })
local v = tf.constant({ "a b", "", "c,d" })
local function case(fn, inputs) return { fn = fn, inputs = inputs, device = false, device_reason = CPU } end
return {
  string_length = { nograd = NG,
    case(function(x) return tf.strings.length(x) end, { s }),
    case(function(x) return tf.strings.length(x, "UTF8_CHAR") end, { s }) },
  substr = { nograd = NG,
    case(function(x) return tf.strings.substr(x, 0, 2) end, { s }),
    case(function(x) return tf.strings.substr(x, tf.constant({ 0, 1 }), 3, "UTF8_CHAR") end,
      { tf.constant({ { "ab" }, { "c\u{e9}d" }, { "xyz" } }) }) },
  string_join = { nograd = NG, case(function(x, y) return tf.strings.join({ x, y }, { separator = "-" }) end, { s, "!" }) },
  reduce_join = { nograd = NG,
    case(function(x) return tf.strings.reduce_join(x) end, { s }),
    case(function(x) return tf.strings.reduce_join(x, 1, { keepdims = true, separator = "|" }) end, { s }) },
  string_upper = { nograd = NG, case(function(x) return tf.strings.upper(x) end, { s }),
    case(function(x) return tf.strings.upper(x, { encoding = "utf-8" }) end, { s }) },
  string_lower = { nograd = NG, case(function(x) return tf.strings.lower(x) end, { s }),
    case(function(x) return tf.strings.lower(x, { encoding = "utf-8" }) end, { s }) },
  string_strip = { nograd = NG, case(function(x) return tf.strings.strip(x) end, { s }) },
  string_to_number = { nograd = NG,
    case(function(x) return tf.strings.to_number(x) end, { tf.constant({ "1.5", "-2e3" }) }),
    case(function(x) return tf.strings.to_number(x, tf.int64) end, { tf.constant({ { "7" }, { " -9 " } }) }) },
  as_string = { nograd = NG,
    case(function(x) return tf.strings.as_string(x) end, { tf.constant({ 1.5, -2 }) }),
    case(function(x) return tf.strings.as_string(x, { width = 4, fill = "0" }) end, { tf.constant({ 3, -4 }) }) },
  string_to_hash_bucket_fast = { nograd = NG, case(function(x) return tf.strings.to_hash_bucket_fast(x, 97) end, { s }) },
  string_split = { nograd = NG,
    case(function(x) return tf.raw_ops.string_split(x) end, { v }),
    case(function(x) return tf.raw_ops.string_split(x, ",", 1) end, { v }) },
  string_bytes_split = { nograd = NG, case(function(x) return tf.raw_ops.string_bytes_split(x) end, { v }) },
  string_ngrams = { nograd = NG,
    case(function(x, sp) return tf.raw_ops.string_ngrams(x, sp, 2, " ", "", "", -1, false) end,
      { tf.constant({ "a", "b", "c", "d" }), tf.constant({ 0, 3, 4 }, tf.int64) }),
    case(function(x, sp) return tf.raw_ops.string_ngrams(x, sp, 3, "_", "<", ">", 1, true) end,
      { tf.constant({ "a", "b", "c", "d" }), tf.constant({ 0, 3, 4 }, tf.int64) }) },
  regex_full_match = { nograd = NG, case(function(x) return tf.strings.regex_full_match(x, "[a-z ]*") end, { s }) },
  regex_replace = { nograd = NG,
    case(function(x) return tf.strings.regex_replace(x, "l+", "<\\0>") end, { s }),
    case(function(x) return tf.strings.regex_replace(x, "[aeiou]", "", false) end, { s }) },
  unicode_decode = { nograd = NG,
    case(function(x) return tf.raw_ops.unicode_decode(x, "UTF-8") end, { tf.constant({ "h\u{e9}", "a\xffb" }) }) },
  unicode_split = { nograd = NG,
    case(function(x) return tf.raw_ops.unicode_split(x, "UTF-8", "ignore") end, { tf.constant({ "h\u{e9}", "a\xffb" }) }) },
  unicode_encode = { nograd = NG,
    case(function(x, sp) return tf.raw_ops.unicode_encode(x, sp, "UTF-16-BE") end,
      { tf.constant({ 104, 233, 0x1F600 }), tf.constant({ 0, 2, 3 }, tf.int64) }) },
  unicode_transcode = { nograd = NG,
    case(function(x) return tf.strings.unicode_transcode(x, "UTF-8", "UTF-32-BE") end, { s }) },
  unicode_script = { nograd = NG,
    { fn = function(x) return tf.strings.unicode_script(x) end, inputs = { tf.constant({ 72, 0x3b1, 0x65e5, -1 }) } } },
}
