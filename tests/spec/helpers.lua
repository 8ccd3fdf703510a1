-- Shared spec helpers: reference values from numpy/PyTorch, approximate
-- comparison of nested tables, error assertions.
local M = {}

local function json_decode(s)
  -- Minimal JSON reader for numbers, booleans, null, strings and arrays/objects
  -- of them (enough for reference values); NaN/Infinity as Python prints them.
  local pos = 1
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local value
  local function arr()
    pos = pos + 1
    local out = {}
    ws()
    if s:sub(pos, pos) == "]" then pos = pos + 1 return out end
    while true do
      out[#out + 1] = value()
      ws()
      local c = s:sub(pos, pos)
      pos = pos + 1
      if c == "]" then return out end
    end
  end
  local function obj()
    pos = pos + 1
    local out = {}
    ws()
    if s:sub(pos, pos) == "}" then pos = pos + 1 return out end
    while true do
      ws()
      local k = value()
      ws()
      pos = pos + 1 -- :
      out[k] = value()
      ws()
      local c = s:sub(pos, pos)
      pos = pos + 1
      if c == "}" then return out end
    end
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "[" then return arr() end
    if c == "{" then return obj() end
    if c == '"' then
      local e = s:find('"', pos + 1, true)
      local str = s:sub(pos + 1, e - 1)
      pos = e + 1
      return str
    end
    for lit, v in pairs({ ["true"] = true, ["false"] = false, ["null"] = M.null,
                          ["NaN"] = 0 / 0, ["Infinity"] = math.huge, ["-Infinity"] = -math.huge }) do
      if s:sub(pos, pos + #lit - 1) == lit then pos = pos + #lit return v end
    end
    local num = s:match("^-?[%d.eE+-]+", pos)
    pos = pos + #num
    return math.tointeger(tonumber(num)) or tonumber(num)
  end
  return value()
end
M.null = setmetatable({}, { __tostring = function() return "null" end })
M.json_decode = json_decode

-- Runs Python code (numpy imported as np, torch lazily as torch) whose last
-- statement assigns `out`; returns out decoded from JSON. Arrays become lists.
function M.python(code)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("import json, numpy as np\n")
  f:write("def _conv(o):\n  if hasattr(o, 'tolist'): return o.tolist()\n  if isinstance(o,(list,tuple)): return [_conv(x) for x in o]\n  return o\n")
  f:write(code, "\n")
  f:write("print(json.dumps(_conv(out)))\n")
  f:close()
  -- References run without the sanitizer runtimes preloaded for tlua.
  local p = assert(io.popen("env -u LD_PRELOAD /usr/bin/python3 " .. path .. " 2>&1"))
  local text = p:read("a")
  p:close()
  os.remove(path)
  local ok, v = pcall(json_decode, text)
  if not ok then error("python reference failed:\n" .. text, 2) end
  return v
end
M.numpy = M.python

-- Compares nested tables of numbers within rtol/atol; NaN equals NaN.
function M.close(a, b, rtol, atol, path)
  rtol, atol, path = rtol or 1e-5, atol or 1e-6, path or ""
  if type(a) == "table" and type(b) == "table" then
    if #a ~= #b then return false, ("length differs at %s: %d vs %d"):format(path, #a, #b) end
    for i = 1, #a do
      local ok, why = M.close(a[i], b[i], rtol, atol, path .. "[" .. i .. "]")
      if not ok then return false, why end
    end
    return true
  end
  if type(a) == "number" and type(b) == "number" then
    if a ~= a and b ~= b then return true end
    if a == b then return true end
    if math.abs(a - b) <= atol + rtol * math.abs(b) then return true end
    return false, ("at %s: %.9g vs %.9g"):format(path, a, b)
  end
  if a == b then return true end
  return false, ("at %s: %s vs %s"):format(path, tostring(a), tostring(b))
end

function M.assert_close(actual, expected, rtol, atol)
  if type(actual) == "userdata" then actual = actual:totable() end
  if type(expected) == "userdata" then expected = expected:totable() end
  local ok, why = M.close(actual, expected, rtol, atol)
  assert(ok, why)
end

-- Asserts fn raises a tf.errors value of `kind` whose text contains every
-- pattern in `patterns` (plain substrings).
function M.assert_error(kind, patterns, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, got success")
  local text = tostring(err)
  assert(type(err) == "table" and err.kind == kind,
    ("expected %s error, got: %s"):format(kind, text))
  for _, p in ipairs(type(patterns) == "table" and patterns or { patterns }) do
    assert(text:find(p, 1, true), ("error text lacks %q: %s"):format(p, text))
  end
  return err
end

return M
