-- bench/strings_bench.lua — the tlua side of bench/strings.sh: over
-- 1,000,000 short strings (bench/strings_tf.py makes the same ones),
--   split_hash:    tf.strings.split on whitespace, then to_hash_bucket_fast
--                  of every piece (1000 buckets)
--   regex_replace: regex_replace("[aeiou]+", "_") on the whole strings
-- Prints "case seconds" (best of several runs) per case.
package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local common = require("common")
local n = tonumber(os.getenv("STRINGS_N") or "") or 1000000
local words = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa" }
local lines, x = {}, 12345
for i = 1, n do
  -- a small LCG both peers share: 2 to 4 words per line
  local parts = {}
  x = (x * 1103515245 + 12345) % 2147483648
  local k = 2 + x % 3
  for j = 1, k do
    x = (x * 1103515245 + 12345) % 2147483648
    parts[j] = words[1 + x % 10] .. (x % 97)
  end
  lines[i] = table.concat(parts, " ")
end
local t = tf.constant(lines)
lines = nil
collectgarbage()
local cases = {}
function cases.split_hash()
  return common.timeit(function()
    local r = tf.strings.split(t)
    local h = tf.strings.to_hash_bucket_fast(r.values, 1000)
    return h
  end, 2, 1)
end
function cases.regex_replace()
  return common.timeit(function() return tf.strings.regex_replace(t, "[aeiou]+", "_") end, 2, 1)
end
common.run(cases, { "split_hash", "regex_replace" })
