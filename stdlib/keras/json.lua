-- keras.json: JSON for Keras configs and safetensors headers, on lua-cjson.
--
--   local json = require("keras.json")
--   json.encode(value [, {allow_nan = true}]) -> string
--   json.decode(s [, what]) -> value   (what names the source in errors)
--   json.null, json.empty_object, json.object(t), json.array(t)
--
-- Encoding (a small Lua walker; cjson only escapes strings):
--  * floats round-trip exactly: the shortest of %.15g/%.16g/%.17g that reads
--    back to the same double (lua-cjson 2.1.0 stops at 14 digits), always
--    with a '.' or an exponent ("1.0"), as Python's json writes them;
--  * integers stay integers ("3");
--  * NaN and +-Inf are written as Python's json.dumps writes them (NaN,
--    Infinity, -Infinity), which Keras reads back; {allow_nan = false}
--    makes them an InvalidArgument error naming the key path instead;
--  * keys are sorted (strings; integer-keyed tables are arrays), so the
--    same table always gives the same bytes;
--  * a table whose keys are exactly 1..#t is an array; a table carrying an
--    integer `n` with integer keys in 1..n is an array with nulls in the
--    holes (tf.TensorShape's as_list() form: {nil, 784, n = 2});
--  * an EMPTY table is an array `[]` (shapes of scalars, empty layer lists
--    are the common case), except under the key "config", where it is an
--    object (Keras's {"class_name": "Zeros", "config": {}}); json.empty_object,
--    or any table made with json.object(t), is an object even when empty;
--  * "/" is not escaped (tensor names read "dense/kernel:0");
--  * json.null is null; functions, userdata and tensors are errors naming
--    the key path (configs must be plain data).
-- Decoding (cjson.decode, exact strtod): null inside an array becomes a hole
-- with the array's length kept in `n` (the inverse of the rule above); null
-- in an object drops the key. Number literals keep their Lua type: `3` is
-- an integer (exact to 64 bits), `3.0` / `1e5` are floats. lua-cjson reads
-- every number as a double, so a scan of the text first rewrites float
-- literals and long integer literals into marked strings ("\u0000F1.5",
-- "\u0000I12345678901234567") that the post-pass turns back into numbers
-- with Lua's tonumber (strtod, exact); a document whose own strings
-- contain \u0000 escapes skips the rewrite and integral doubles within
-- 2^53 become integers. Bad JSON is a DataLoss error naming `what`.
-- Denormals (|x| < 2.2e-308) are written exactly, but read back only
-- approximately in a process with flush-to-zero on (tlua sets it; strtod
-- is not exact under it); tensors flush them anyway.
-- A cjson.new() instance is used, so global cjson settings never change.
local cjson = require("cjson").new()
local core = require("tlua.core")

local M = {}

M.null = cjson.null

local object_mt = { __name = "json.object" }
M.object_mt = object_mt
M.empty_object = setmetatable({}, object_mt)

-- json.object(t): t marked to be written as an object (even when empty).
function M.object(t) return setmetatable(t or {}, object_mt) end
-- json.array(t): t as it is (arrays are the default for empties).
function M.array(t) return t or {} end

local BIG = 2 ^ 53

-- Compared by bits: with denormals-are-zero on (tlua sets it) every
-- denormal compares equal to 0 and to every other denormal, and strtod of
-- one is not exact, so a denormal always gets %.17g (printf is exact).
local function same_double(s, v) return string.pack("d", tonumber(s) or 0 / 0) == string.pack("d", v) end

local function fmt_float(v)
  local s = ("%.15g"):format(v)
  if not same_double(s, v) then
    s = ("%.16g"):format(v)
    if not same_double(s, v) then s = ("%.17g"):format(v) end
  end
  if not s:find("[%.eEn]") then s = s .. ".0" end
  return s
end
M._fmt_float = fmt_float

local function fail(path, msg)
  core.raise("InvalidArgument", ("json.encode: %s%s"):format(path == "" and "" or ("at " .. path .. ": "), msg))
end

local encode_value

-- cjson's string escaping, without its "\/" for "/" (valid either way; a
-- "\/" in its output is always an escaped "/": a backslash is "\\").
local function encode_string(s)
  local e = cjson.encode(s)
  if e:find("\\/", 1, true) then e = e:gsub("\\/", "/") end
  return e
end

local function key_path(path, k)
  if type(k) == "number" then return ("%s[%d]"):format(path, k) end
  return path == "" and tostring(k) or (path .. "." .. tostring(k))
end

-- Is t an array? Returns its length (0 for empty non-object tables), or nil.
local function array_len(t)
  if getmetatable(t) == object_mt then return nil end
  local n = rawget(t, "n")
  local count, max = 0, 0
  for k in pairs(t) do
    if math.type(k) == "integer" and k >= 1 then
      count = count + 1
      if k > max then max = k end
    elseif not (k == "n" and math.type(n) == "integer") then
      return nil
    end
  end
  if math.type(n) == "integer" then
    if max > n or n < 0 then return nil end
    if count == 0 and n > 0 then return n end
    if count == 0 then return nil end -- {n = 0}: an object with key n
    return n
  end
  if count ~= max then return nil end
  return max
end

local function encode_table(t, out, path, opts, seen, key)
  if seen[t] then fail(path, "the value contains itself (a cycle)") end
  seen[t] = true
  local n = array_len(t)
  if n == 0 and key == "config" and rawget(t, "n") == nil then n = nil end
  if n then
    out[#out + 1] = "["
    for i = 1, n do
      if i > 1 then out[#out + 1] = "," end
      local v = t[i]
      if v == nil then out[#out + 1] = "null" else encode_value(v, out, key_path(path, i), opts, seen) end
    end
    out[#out + 1] = "]"
  else
    local keys = {}
    for k in pairs(t) do
      if type(k) ~= "string" and math.type(k) ~= "integer" then
        fail(path, ("a key of type %s (keys must be strings)"):format(type(k)))
      end
      keys[#keys + 1] = k
    end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = encode_string(tostring(k))
      out[#out + 1] = ":"
      encode_value(t[k], out, key_path(path, k), opts, seen, k)
    end
    out[#out + 1] = "}"
  end
  seen[t] = nil
end

function encode_value(v, out, path, opts, seen, key)
  local tv = type(v)
  if tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif tv == "number" then
    if math.type(v) == "integer" then
      out[#out + 1] = ("%d"):format(v)
    elseif v ~= v or v == math.huge or v == -math.huge then
      if opts and opts.allow_nan == false then
        fail(path, ("%s is not valid JSON (allow_nan = false)"):format(tostring(v)))
      end
      out[#out + 1] = v ~= v and "NaN" or (v > 0 and "Infinity" or "-Infinity")
    else
      out[#out + 1] = fmt_float(v)
    end
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif v == cjson.null then
    out[#out + 1] = "null"
  elseif tv == "table" and (getmetatable(v) == nil or getmetatable(v) == object_mt) then
    encode_table(v, out, path, opts, seen, key)
  else
    local what = tv
    if tv == "table" then what = "an object (" .. tostring(getmetatable(v).__name or "table with a metatable") .. ")" end
    if tv == "userdata" then what = "userdata (" .. tostring(v) .. ")" end
    fail(path, ("%s cannot be written as JSON (configs hold numbers, strings, booleans and tables)"):format(what))
  end
end

function M.encode(v, opts)
  local out = {}
  encode_value(v, out, "", opts, {})
  return table.concat(out)
end

local null = cjson.null
local ZERO = string.pack("d", 0.0)

-- Rewrites float literals and integer literals of 16+ digits into marked
-- strings; returns the new text, or nil when the document's strings hold
-- \u0000 escapes (the marks could clash) or it does not scan.
local function mark_numbers(s)
  local out, n, pos, last = {}, 0, 1, 1
  while true do
    local i = s:find('["%-%d]', pos)
    if not i then break end
    if s:byte(i) == 34 then -- a string: skip it, escapes included
      local j = i + 1
      while true do
        local k = s:find('["\\]', j)
        if not k then return nil end
        if s:byte(k) == 92 then
          if s:sub(k + 1, k + 5) == "u0000" then return nil end
          j = k + 2
        else
          j = k + 1
          break
        end
      end
      pos = j
    else
      local tok = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
      if not tok then
        pos = i + 1 -- "-Infinity"
      else
        local e = i + #tok
        local mark
        if tok:find("[.eE]") then mark = "F" elseif #tok >= 16 then mark = "I" end
        if mark then
          n = n + 1
          out[n] = s:sub(last, i - 1)
          n = n + 1
          out[n] = '"\\u0000' .. mark .. tok .. '"'
          last = e
        end
        pos = e
      end
    end
  end
  if last == 1 then return s end
  out[n + 1] = s:sub(last)
  return table.concat(out)
end

local function unmark(x, marked)
  if marked and type(x) == "string" and x:byte(1) == 0 then
    local m = x:byte(2)
    if m == 70 then -- F
      local v = tonumber(x:sub(3))
      return math.type(v) == "integer" and v + 0.0 or v
    elseif m == 73 then -- I
      local v = tonumber(x:sub(3))
      return math.tointeger(v) or v
    end
  elseif math.type(x) == "float" and x >= -BIG and x <= BIG and x == math.floor(x) then
    if marked or x >= 1 or x <= -1 or string.pack("d", x) == ZERO then
      -- (unmarked: with flush-to-zero on, a denormal compares equal to 0;
      -- the bytes tell a true +0.0, and -0.0 stays a float)
      return math.tointeger(x)
    end
  end
  return x
end

local function fix(v, marked)
  local has_null, max = false, 0
  for k, x in pairs(v) do
    if x == null then
      has_null = true
    elseif type(x) == "table" then
      fix(x, marked)
    else
      local y = unmark(x, marked)
      if y ~= x or math.type(y) ~= math.type(x) then v[k] = y end
    end
    if math.type(k) == "integer" and k > max then max = k end
  end
  if has_null then
    for k, x in pairs(v) do
      if x == null then v[k] = nil end
    end
    if max > 0 then v.n = max end
  end
  return v
end

function M.decode(s, what)
  if type(s) ~= "string" then
    core.raise("InvalidArgument", ("json.decode: expected a string, got %s"):format(type(s)))
  end
  local text = mark_numbers(s)
  local marked = text ~= nil
  local ok, v = pcall(cjson.decode, text or s)
  if not ok then
    -- report against the original text (positions in the rewritten one differ)
    if marked and text ~= s then
      local ok2, v2 = pcall(cjson.decode, s)
      if not ok2 then v = v2 end
    end
    core.raise("DataLoss", ("%s: invalid JSON (%s)"):format(what or "json.decode", (tostring(v):gsub("^.-:%d+: ", ""))))
  end
  if v == null then return nil end
  if type(v) ~= "table" then return unmark(v, marked) end
  return fix(v, marked)
end

return M
