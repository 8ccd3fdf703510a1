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
--    are the common case); json.empty_object, or any table made with
--    json.object(t), is written as an object even when empty;
--  * json.null is null; functions, userdata and tensors are errors naming
--    the key path (configs must be plain data).
-- Decoding (cjson.decode, exact strtod): null inside an array becomes a hole
-- with the array's length kept in `n` (the inverse of the rule above); null
-- in an object drops the key; integral numbers with |v| <= 2^53 come back
-- as Lua integers, the rest as floats (JSON does not tell 1 from 1.0, and
-- lua-cjson reads every number as a double: integers beyond 2^53 lose
-- precision, so the encoder refuses them). Bad JSON is a DataLoss error
-- naming `what`.
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

local function fmt_float(v)
  local s = ("%.15g"):format(v)
  if tonumber(s) ~= v then
    s = ("%.16g"):format(v)
    if tonumber(s) ~= v then s = ("%.17g"):format(v) end
  end
  if not s:find("[%.eEn]") then s = s .. ".0" end
  return s
end
M._fmt_float = fmt_float

local function fail(path, msg)
  core.raise("InvalidArgument", ("json.encode: %s%s"):format(path == "" and "" or ("at " .. path .. ": "), msg))
end

local encode_value

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

local function encode_table(t, out, path, opts, seen)
  if seen[t] then fail(path, "the value contains itself (a cycle)") end
  seen[t] = true
  local n = array_len(t)
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
      out[#out + 1] = cjson.encode(tostring(k))
      out[#out + 1] = ":"
      encode_value(t[k], out, key_path(path, k), opts, seen)
    end
    out[#out + 1] = "}"
  end
  seen[t] = nil
end

function encode_value(v, out, path, opts, seen)
  local tv = type(v)
  if tv == "string" then
    out[#out + 1] = cjson.encode(v)
  elseif tv == "number" then
    if math.type(v) == "integer" then
      if v > BIG or v < -BIG then
        fail(path, ("the integer %d is beyond 2^53 and would not read back exactly"):format(v))
      end
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
    encode_table(v, out, path, opts, seen)
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

local function fix(v)
  if type(v) == "table" then
    local has_null, max = false, 0
    for k, x in pairs(v) do
      if x == null then
        has_null = true
        if math.type(k) == "integer" and k > max then max = k end
      elseif type(x) == "table" then
        fix(x)
      elseif math.type(x) == "float" and x >= -BIG and x <= BIG and x == math.floor(x)
          and (x >= 1 or x <= -1 or string.pack("d", x) == ZERO) then
        -- (with flush-to-zero on, a denormal compares equal to 0: the
        -- bytes tell a true +0.0, and -0.0 stays a float)
        v[k] = math.tointeger(x)
      end
      if math.type(k) == "integer" and k > max then max = k end
    end
    if has_null then
      for k, x in pairs(v) do
        if x == null then v[k] = nil end
      end
      if max > 0 then v.n = max end
    end
  end
  return v
end

function M.decode(s, what)
  if type(s) ~= "string" then
    core.raise("InvalidArgument", ("json.decode: expected a string, got %s"):format(type(s)))
  end
  local ok, v = pcall(cjson.decode, s)
  if not ok then
    core.raise("DataLoss", ("%s: invalid JSON (%s)"):format(what or "json.decode", tostring(v):gsub("^.-:%d+: ", "")))
  end
  if v == null then return nil end
  if math.type(v) == "float" then return fix({ v })[1] end
  return fix(v)
end

return M
