-- tlua/strings.lua — the parts of tf.strings that are Lua over C ops:
-- results that are ragged (split, bytes_split, unicode_decode,
-- unicode_split, ngrams over rows), unicode_encode from ragged or dense
-- rows, and format. The element-wise ops (length, substr, join,
-- reduce_join, upper, lower, strip, regex_*, to_number, as_string,
-- to_hash_bucket_fast, unicode_transcode, unicode_script) are registry ops
-- placed in tf.strings by their records (src/ops/strings*.c).
--
-- Ragged results go through make_ragged(values, row_splits), a
-- tf.RaggedTensor. Ragged inputs are anything with values and row_splits
-- (fields or methods).
local core = require("tlua.core")
local errors = require("tlua.errors")

local M = {}

local tf -- set by install

-- The one place that builds ragged results: the C ops give valid splits,
-- so they are not validated again.
function M.make_ragged(values, row_splits)
  return tf.RaggedTensor.from_row_splits(values, row_splits, { validate = false })
end

-- values, row_splits of a ragged value (ragged_rank 1), or nil.
local function ragged_parts(x)
  if type(x) ~= "table" and type(x) ~= "userdata" then return nil end
  if tf.is_tensor(x) then return nil end
  local ok, v = pcall(function() return x.values end)
  local ok2, s = pcall(function() return x.row_splits end)
  if not (ok and ok2) or v == nil or s == nil then return nil end
  if type(v) == "function" then v = v(x) end
  if type(s) == "function" then s = s(x) end
  return v, s
end
M.ragged_parts = ragged_parts

-- positional arguments after the first, then an options table
local function args(who, names, ...)
  local n = select("#", ...)
  local a = { ... }
  local opts = {}
  if n > 0 and core.is_options(a[n]) then
    opts = a[n]
    a[n] = nil
    n = n - 1
  end
  local known = {}
  for _, k in ipairs(names) do known[k] = true end
  known.name = true
  errors.check_options(who, opts, known)
  for i = 1, n do
    if opts[names[i]] ~= nil then core.raise("InvalidArgument", who .. ": " .. names[i] .. " given twice") end
    opts[names[i]] = a[i]
  end
  return opts
end

local function as_strings(who, x)
  local t = tf.convert_to_tensor(x)
  if t.dtype ~= tf.string then
    core.raise("InvalidArgument", who .. ": input must be a string tensor, got " .. t.dtype.name)
  end
  return t
end

-- Applies a vector -> (values, row_splits) op to any rank: a scalar gives
-- the values (a dense vector), a vector one ragged level, rank k > 1 the
-- uniform outer dimensions as ragged levels above it (TensorFlow's result).
local function by_rows(x, run)
  local rank = #x.shape
  if rank == 0 then
    local v = run(tf.reshape(x, { 1 }))
    return v
  end
  local dims = x.shape:as_list()
  local flat = rank == 1 and x or tf.reshape(x, { -1 })
  local v, sp = run(flat)
  local r = M.make_ragged(v, sp)
  for d = rank - 1, 1, -1 do
    -- rows of level d + 1 grouped dims[d + 1] at a time
    local below = 1
    for k = 1, d + 1 do below = below * dims[k] end
    local step = dims[d + 1]
    local splits
    if step == 0 then
      local above = 1
      for k = 1, d do above = above * dims[k] end
      splits = tf.zeros({ above + 1 }, tf.int64)
    else
      splits = tf.range(0, below + 1, step, { dtype = tf.int64 })
    end
    r = M.make_ragged(r, splits)
  end
  return r
end

function M.split(input, ...)
  local o = args("split", { "sep", "maxsplit" }, ...)
  local x = as_strings("split", input)
  return by_rows(x, function(flat)
    return tf.raw_ops.string_split(flat, o.sep or "", o.maxsplit or -1)
  end)
end

function M.bytes_split(input, ...)
  args("bytes_split", {}, ...)
  local x = as_strings("bytes_split", input)
  return by_rows(x, function(flat) return tf.raw_ops.string_bytes_split(flat) end)
end

local function decode_opts(who, ...)
  local o = args(who, { "input_encoding", "errors", "replacement_char", "replace_control_characters" }, ...)
  if o.input_encoding == nil then core.raise("InvalidArgument", who .. ": input_encoding is required") end
  return o
end

function M.unicode_decode(input, ...)
  local o = decode_opts("unicode_decode", ...)
  local x = as_strings("unicode_decode", input)
  return by_rows(x, function(flat)
    return tf.raw_ops.unicode_decode(flat, o.input_encoding, o.errors or "replace", o.replacement_char or 0xFFFD,
      o.replace_control_characters or false)
  end)
end

function M.unicode_split(input, ...)
  local o = decode_opts("unicode_split", ...)
  local x = as_strings("unicode_split", input)
  return by_rows(x, function(flat)
    return tf.raw_ops.unicode_split(flat, o.input_encoding, o.errors or "replace", o.replacement_char or 0xFFFD,
      o.replace_control_characters or false)
  end)
end

function M.unicode_encode(input, ...)
  local o = args("unicode_encode", { "output_encoding", "errors", "replacement_char" }, ...)
  if o.output_encoding == nil then core.raise("InvalidArgument", "unicode_encode: output_encoding is required") end
  local function enc(v, sp)
    return tf.raw_ops.unicode_encode(tf.cast(v, tf.int32), tf.cast(sp, tf.int64), o.output_encoding,
      o.errors or "replace", o.replacement_char or 0xFFFD)
  end
  local v, sp = ragged_parts(input)
  if v then
    local inner_v, inner_sp = ragged_parts(v)
    if inner_v then return M.make_ragged(enc(inner_v, inner_sp), sp) end
    return enc(v, sp)
  end
  local x = tf.convert_to_tensor(input)
  local rank = #x.shape
  if rank == 1 then
    return tf.reshape(enc(x, tf.constant({ 0, x.shape[0] }, tf.int64)), {})
  end
  if rank < 1 then core.raise("InvalidArgument", "unicode_encode: input must have rank 1 or more") end
  local dims = x.shape:as_list()
  local width = dims[rank]
  local flat = tf.reshape(x, { -1 })
  local rows = flat.shape[0] // math.max(width, 1)
  if width == 0 then rows = 1; for k = 1, rank - 1 do rows = rows * dims[k] end end
  local out = enc(flat, tf.range(0, rows * width + 1, math.max(width, 1), { dtype = tf.int64 }))
  local shape = {}
  for k = 1, rank - 1 do shape[k] = dims[k] end
  return tf.reshape(out, shape)
end

function M.ngrams(data, ngram_width, ...)
  local o = args("ngrams", { "separator", "pad_values", "padding_width", "preserve_short_sequences" }, ...)
  if math.type(ngram_width) ~= "integer" then
    core.raise("InvalidArgument", "ngrams: ngram_width must be an integer (a list of widths is not supported)")
  end
  local lp, rp = "", ""
  if type(o.pad_values) == "string" then lp, rp = o.pad_values, o.pad_values
  elseif type(o.pad_values) == "table" then lp, rp = o.pad_values[1], o.pad_values[2] end
  local pw = o.padding_width or -1
  if o.pad_values == nil and o.padding_width ~= nil then
    core.raise("InvalidArgument", "ngrams: padding_width needs pad_values")
  end
  local function run(v, sp)
    return tf.raw_ops.string_ngrams(v, sp, ngram_width, o.separator or " ", lp, rp, pw,
      o.preserve_short_sequences or false)
  end
  local v, sp = ragged_parts(data)
  if v then
    local nv, nsp = run(v, sp)
    return M.make_ragged(nv, nsp)
  end
  local x = as_strings("ngrams", data)
  local rank = #x.shape
  if rank == 1 then
    local nv = run(x, tf.constant({ 0, x.shape[0] }, tf.int64))
    return nv
  end
  if rank == 2 then
    local n, w = x.shape[0], x.shape[1]
    local nv, nsp = run(tf.reshape(x, { -1 }), tf.range(0, n * w + 1, math.max(w, 1), { dtype = tf.int64 }))
    if w == 0 then return M.make_ragged(nv, nsp) end
    return tf.reshape(nv, { n, -1 })
  end
  core.raise("InvalidArgument", "ngrams: data must be a vector, a matrix or ragged, got rank " .. rank)
end

-- tf.strings.format: each placeholder becomes its input's summary as
-- TensorFlow writes it ([1 2], "s" quoted, ... past summarize per axis).
local function fmt_number(v, dtype)
  if dtype.is_integer or dtype.is_bool then return tostring(v) end
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  local single = dtype.name ~= "float64"
  for p = 1, 17 do
    local s = string.format("%." .. p .. "g", v)
    local back = tonumber(s)
    if single then
      if string.unpack("f", string.pack("f", back)) == string.unpack("f", string.pack("f", v)) then return s end
    elseif back == v then return s end
  end
  return string.format("%.17g", v)
end

local function summarize(t, n)
  local list = t:totable()
  local function item(v)
    if type(v) == "string" then return '"' .. v .. '"' end
    if type(v) == "boolean" then return tostring(v) end
    return fmt_number(v, t.dtype)
  end
  local function walk(v)
    if type(v) ~= "table" then return item(v) end
    local parts = {}
    if n >= 0 and #v > 2 * n then
      for i = 1, n do parts[#parts + 1] = walk(v[i]) end
      parts[#parts + 1] = "..."
      for i = #v - n + 1, #v do parts[#parts + 1] = walk(v[i]) end
    else
      for i = 1, #v do parts[#parts + 1] = walk(v[i]) end
    end
    return "[" .. table.concat(parts, " ") .. "]"
  end
  return walk(list)
end

function M.format(template, inputs, ...)
  local o = args("format", { "placeholder", "summarize" }, ...)
  local ph = o.placeholder or "{}"
  local n = o.summarize or 3
  if type(template) ~= "string" then core.raise("InvalidArgument", "format: template must be a Lua string") end
  if ph == "" then core.raise("InvalidArgument", "format: placeholder must not be empty") end
  if tf.is_tensor(inputs) or type(inputs) ~= "table" then inputs = { inputs } end
  local pieces, start = {}, 1
  while true do
    local a, b = template:find(ph, start, true)
    if not a then break end
    pieces[#pieces + 1] = template:sub(start, a - 1)
    start = b + 1
  end
  if #pieces ~= #inputs then
    core.raise("InvalidArgument", ("format: num placeholders in template and num inputs must match: %d vs %d")
      :format(#pieces, #inputs))
  end
  local out = {}
  for i, p in ipairs(pieces) do
    out[#out + 1] = p
    out[#out + 1] = summarize(tf.convert_to_tensor(inputs[i]), n)
  end
  out[#out + 1] = template:sub(start)
  return tf.constant(table.concat(out))
end

function M.install(tfm)
  tf = tfm
  local help = require("tlua.help")
  local S = tf.strings
  local docs = {
    split = "tf.strings.split(input, sep?, maxsplit?): pieces of each string (ragged; a scalar gives a vector). "
      .. "No sep: runs of whitespace, empty pieces dropped; a sep: every occurrence, empty pieces kept.",
    bytes_split = "tf.strings.bytes_split(input): the bytes of each string (ragged).",
    unicode_decode = "tf.strings.unicode_decode(input, input_encoding, {errors=, replacement_char=, "
      .. "replace_control_characters=}): int32 code points (ragged).",
    unicode_split = "tf.strings.unicode_split(input, input_encoding, {errors=, replacement_char=}): characters (ragged).",
    unicode_encode = "tf.strings.unicode_encode(input, output_encoding, {errors=, replacement_char=}): "
      .. "strings from rows of code points (ragged or dense).",
    ngrams = "tf.strings.ngrams(data, ngram_width, {separator=' ', pad_values=, padding_width=, "
      .. "preserve_short_sequences=}): ngrams of each row (dense or ragged).",
    format = "tf.strings.format(template, inputs, {placeholder='{}', summarize=3}): a scalar string.",
  }
  for name, doc in pairs(docs) do S[name] = help.register(M[name], doc) end
  tf.strings.make_ragged = help.register(M.make_ragged, "tf.strings.make_ragged(values, row_splits): the ragged result of tf.strings ops (tf.RaggedTensor when present).")
end

return M
