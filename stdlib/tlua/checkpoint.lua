-- tf.train.Checkpoint: variables and optimizer state on disk, so a training
-- run stopped at step k and resumed in a new process continues exactly as if
-- it had never stopped.
--
--   local ckpt = tf.train.Checkpoint({ optimizer = opt, weights = { w, b }, step = step })
--   local path = ckpt:save("ckpts/run")      -- "ckpts/run-1" (save_counter + 1)
--   ...                                       -- in a new process, same objects built again:
--   ckpt:restore(tf.train.latest_checkpoint("ckpts"))
--   ckpt:write("exact/path"); ckpt:read("exact/path")   -- no counter, no index file
--
-- What can be tracked: tf.Variable (its value), any object with get_state()
-- and set_state(state) (keras optimizers; their slots are created on the
-- first apply_gradients after a restore, as TensorFlow's deferred restore
-- does), and plain Lua tables of those, nested (each key becomes part of the
-- value's path: "weights/#1", "optimizer/slots/#2/m"). Anything else is an
-- error when the Checkpoint is made, not when it is saved.
--
-- Restoring is strict and all-or-nothing for variables: every tracked
-- variable must be in the file with its dtype and shape, or nothing is
-- assigned and the error names the path (NotFound / InvalidArgument). Values
-- in the file that no tracked object asks for are ignored (a checkpoint of a
-- bigger model restores into a part of it). A file that is truncated or
-- altered fails its CRC-32 and raises DataLoss.
--
-- File: "TLUACKPT" version 1, u32 entry count, the entries (key, kind,
-- payload; tensors in tf.io.serialize_tensor's layout), then the CRC-32 of
-- everything before it. save() also writes a "checkpoint" file next to it,
-- like TensorFlow's, naming the latest save for tf.train.latest_checkpoint.
local core = require("tlua.core")
local cio = core.io

local M = {}

local MAGIC = "TLUACKPT\1"
local K_TENSOR, K_INT, K_FLOAT, K_STRING, K_BOOL = 1, 2, 3, 4, 5

local function raise(kind, fmt, ...) core.raise(kind, select("#", ...) > 0 and fmt:format(...) or fmt) end

local function is_stateful(x)
  if type(x) ~= "table" then return false end
  local mt = getmetatable(x)
  return mt ~= nil and type(x.get_state) == "function" and type(x.set_state) == "function"
end

-- Path segments: string keys as they are (with '/' and '%' escaped),
-- integer keys as "#n", so nested tables round-trip with their key types.
local function seg(k)
  if math.type(k) == "integer" then return "#" .. k end
  if type(k) ~= "string" then return nil end
  return (k:gsub("%%", "%%25"):gsub("/", "%%2F"):gsub("^#", "%%23"))
end
local function unseg(s)
  local n = s:match("^#(%-?%d+)$")
  if n then return math.tointeger(tonumber(n)) end
  return (s:gsub("%%2F", "/"):gsub("%%23", "#"):gsub("%%25", "%%"))
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    return a < b
  end)
  return keys
end

-- Walks the tracked objects: visit(path, kind, obj) with kind "variable" or
-- "stateful"; the first problem raises, naming the path.
local function walk(obj, path, visit, seen)
  if core.is_variable(obj) then return visit(path, "variable", obj) end
  if is_stateful(obj) then return visit(path, "stateful", obj) end
  if type(obj) == "table" and getmetatable(obj) == nil then
    if seen[obj] then raise("InvalidArgument", "Checkpoint: '%s' refers back to a table that contains it", path) end
    seen[obj] = true
    for _, k in ipairs(sorted_keys(obj)) do
      local s = seg(k)
      if not s then
        raise("InvalidArgument", "Checkpoint: '%s' has a key of type %s; keys must be strings or integers", path, type(k))
      end
      walk(obj[k], path == "" and s or path .. "/" .. s, visit, seen)
    end
    seen[obj] = nil
    return
  end
  local what = core.is_tensor(obj) and "a tf.Tensor (immutable: track a tf.Variable instead)" or ("a " .. type(obj))
  raise("InvalidArgument", "Checkpoint: '%s' is %s; a checkpoint tracks tf.Variable, optimizers "
    .. "(objects with get_state/set_state) and tables of them", path == "" and "(root)" or path, what)
end

-- A state table (numbers, strings, booleans, tensors, nested tables) as
-- path -> value entries.
local function flatten(state, path, out)
  local ty = type(state)
  if core.is_tensor(state) or core.is_variable(state) then
    out[#out + 1] = { path, K_TENSOR, state } -- serialized as it is written
  elseif ty == "number" then
    if math.type(state) == "integer" then out[#out + 1] = { path, K_INT, string.pack("<j", state) }
    else out[#out + 1] = { path, K_FLOAT, string.pack("<d", state) } end
  elseif ty == "string" then
    out[#out + 1] = { path, K_STRING, state }
  elseif ty == "boolean" then
    out[#out + 1] = { path, K_BOOL, state and "\1" or "\0" }
  elseif ty == "table" then
    for _, k in ipairs(sorted_keys(state)) do
      local s = seg(k)
      if s then flatten(state[k], path .. "/" .. s, out) end
    end
  else
    raise("InvalidArgument", "Checkpoint: the state at '%s' holds a %s, which cannot be saved", path, ty)
  end
end

local function decode(kind, payload, key, file)
  if kind == K_TENSOR then return cio.parse_tensor(payload) end
  if kind == K_INT and #payload == 8 then return (string.unpack("<j", payload)) end
  if kind == K_FLOAT and #payload == 8 then return (string.unpack("<d", payload)) end
  if kind == K_STRING then return payload end
  if kind == K_BOOL and #payload == 1 then return payload ~= "\0" end
  raise("DataLoss", "Checkpoint: '%s' in %s has an unknown kind %d", key, file, kind)
end

-- Writes a file the way every tlua file writer does: the body goes to
-- path.tmp through core.io's writer (bytes stream from tensor memory, the
-- writer keeps the running CRC, appended when crc is true) and is renamed
-- into place, so a reader sees the old file or the whole new one. Everything
-- from opening the .tmp file to the rename is protected, so an error
-- anywhere in between (a full disk, an interrupt from the REPL's Ctrl-C
-- hook) removes the partial file before it is raised again. who prefixes
-- the messages. keras/saving.lua writes safetensors files with it too.
function M.write_atomic(path, who, crc, body)
  local dir = path:match("^(.*)/[^/]*$")
  if dir and dir ~= "" then
    local ok, err = cio.makedirs(dir)
    if not ok then raise("NotFound", "%s: %s", who, err) end
  end
  local tmp, w = path .. ".tmp", nil
  local ok, err = pcall(function()
    local oerr
    w, oerr = cio.open_writer(tmp)
    if not w then raise("NotFound", "%s: cannot write %s", who, oerr) end
    body(w)
    if crc then w:finish() else w:finish(false) end
    local rok, rerr = os.rename(tmp, path)
    if not rok then raise("NotFound", "%s: cannot move %s into place: %s", who, tmp, rerr) end
  end)
  if not ok then
    if w then w:close() end
    os.remove(tmp)
    error(err, 0)
  end
end

-- Streams the entries to path, each tensor's bytes straight from its memory,
-- so saving needs no second copy of the model.
local function write_file(path, entries)
  M.write_atomic(path, "Checkpoint", true, function(w)
    w:write(MAGIC, string.pack("<I4", #entries))
    for _, e in ipairs(entries) do
      if type(e[3]) == "string" then
        w:write(string.pack("<s4Bs4", e[1], e[2], e[3]))
      else -- a tensor or variable, serialized as it is written
        w:write(string.pack("<s4B", e[1], e[2]))
        w:write_tensor(e[3])
      end
    end
  end)
end

-- Reads the entries of path as key -> { kind, payload string }, checking
-- every length against the file's size as it goes (a damaged length is
-- DataLoss, never a huge read) and the CRC-32 before anything is returned.
local EISDIR = 21
local function read_file(path)
  if type(path) ~= "string" then
    raise("InvalidArgument", "Checkpoint: expected a checkpoint path (string), got %s", type(path))
  end
  local f, err = io.open(path, "rb")
  if not f then raise("NotFound", "Checkpoint: cannot open %s: %s", path, err) end
  local head, rerr, code = f:read(#MAGIC + 4)
  if rerr then
    f:close()
    if code == EISDIR then -- a directory opens, but does not read
      raise("NotFound", "Checkpoint: %s is a directory, not a checkpoint file; pass the path save() "
        .. "returned, or tf.train.latest_checkpoint(%q)", path, path)
    end
    raise("DataLoss", "Checkpoint: cannot read %s: %s", path, rerr)
  end
  local size = f:seek("end")
  if not head or size < #MAGIC + 8 or head:sub(1, #MAGIC) ~= MAGIC then
    f:close()
    raise("DataLoss", "Checkpoint: %s is not a tlua checkpoint (no TLUACKPT header)", path)
  end
  f:seek("set", #head)
  local body_end, pos, crc = size - 4, #head, cio.crc32(head)
  local function damaged(why)
    f:close()
    raise("DataLoss", "Checkpoint: %s is damaged (%s; truncated or altered)", path, why)
  end
  local function take(n)
    if n > body_end - pos then damaged("an entry runs past the end of the file") end
    local s = n > 0 and f:read(n) or ""
    if not s or #s ~= n then damaged("a short read") end
    pos = pos + n
    crc = cio.crc32(s, crc)
    return s
  end
  local function u32() return (string.unpack("<I4", take(4))) end
  local n = string.unpack("<I4", head, #MAGIC + 1)
  local values = {}
  for _ = 1, n do
    local key = take(u32())
    local kind = take(1):byte()
    values[key] = { kind, take(u32()) }
  end
  if pos ~= body_end then damaged("bytes after its last entry") end
  local stored = f:read(4)
  f:close()
  if not stored or #stored ~= 4 or string.unpack("<I4", stored) ~= crc then
    raise("DataLoss", "Checkpoint: %s is damaged (CRC-32 mismatch; truncated or altered)", path)
  end
  return values
end

-- The "checkpoint" index file is a CheckpointState text proto, as
-- TensorFlow writes it: the string is C-escaped (quotes, backslashes,
-- control bytes as octal), so any prefix round-trips through
-- latest_checkpoint.
local ESCAPES = { ['"'] = '\\"', ["'"] = "\\'", ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function proto_quote(s)
  return '"' .. s:gsub("[%c\"'\\]", function(c) return ESCAPES[c] or ("\\%03o"):format(c:byte()) end) .. '"'
end

local UNESCAPES = { n = "\n", r = "\r", t = "\t", a = "\a", b = "\b", f = "\f", v = "\v",
  ["\\"] = "\\", ["'"] = "'", ['"'] = '"', ["?"] = "?" }
-- The value of the first `field: "..."` (or '...') in text, unescaped; nil
-- when it is missing or its string is malformed.
local function proto_string(text, field)
  local start = text:find("%f[%w_]" .. field .. "%s*:%s*[\"']")
  if not start then return nil end
  local q = text:find("[\"']", start)
  local quote, i, out = text:sub(q, q), q + 1, {}
  while i <= #text do
    local c = text:sub(i, i)
    if c == quote then return table.concat(out) end
    if c == "\n" then return nil end
    if c == "\\" then
      local nxt = text:sub(i + 1, i + 1)
      local oct = text:match("^[0-7][0-7]?[0-7]?", i + 1)
      local hex = text:match("^[xX](%x%x?)", i + 1)
      if oct then
        out[#out + 1] = string.char(tonumber(oct, 8) % 256)
        i = i + 1 + #oct
      elseif hex then
        out[#out + 1] = string.char(tonumber(hex, 16))
        i = i + 2 + #hex
      elseif UNESCAPES[nxt] then
        out[#out + 1] = UNESCAPES[nxt]
        i = i + 2
      else
        return nil
      end
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return nil
end

-- Writes dir/checkpoint naming base as the latest save (via a .tmp file
-- and a rename, like the checkpoint itself).
local function write_index(dir, base)
  local index, tmp = dir .. "/checkpoint", dir .. "/checkpoint.tmp"
  local ok, err = pcall(function()
    local f, oerr = io.open(tmp, "w")
    if not f then raise("NotFound", "Checkpoint: cannot write the index %s", oerr) end
    local wok, werr = f:write("model_checkpoint_path: " .. proto_quote(base) .. "\n",
      "all_model_checkpoint_paths: " .. proto_quote(base) .. "\n")
    local cok, cerr = f:close()
    if not wok or not cok then
      raise("ResourceExhausted", "Checkpoint: writing the index %s failed: %s", tmp, tostring(werr or cerr))
    end
    local rok, rerr = os.rename(tmp, index)
    if not rok then raise("NotFound", "Checkpoint: cannot move %s into place: %s", tmp, rerr) end
  end)
  if not ok then
    os.remove(tmp)
    error(err, 0)
  end
end

-- Entries under prefix (a stateful object's state) as a nested table.
local function unflatten(values, prefix, file)
  local state, found = {}, false
  local plen = #prefix
  for key, e in pairs(values) do
    if key:sub(1, plen + 1) == prefix .. "/" then
      found = true
      local t, parts = state, {}
      for p in key:sub(plen + 2):gmatch("[^/]+") do parts[#parts + 1] = unseg(p) end
      for i = 1, #parts - 1 do
        t[parts[i]] = t[parts[i]] or {}
        t = t[parts[i]]
      end
      t[parts[#parts]] = decode(e[1], e[2], key, file)
    end
  end
  return found and state or nil
end

local function describe(t) -- float32[2,3], as the core's messages write it
  return ("%s[%s]"):format(t.dtype.name, table.concat(t.shape:as_list(), ","))
end

local function same_shape(a, b)
  local x, y = a.shape:as_list(), b.shape:as_list()
  if #x ~= #y then return false end
  for i = 1, #x do if x[i] ~= y[i] then return false end end
  return true
end

local Checkpoint = {}
Checkpoint.__index = Checkpoint
Checkpoint.__name = "tf.train.Checkpoint"

function M.Checkpoint(objects)
  if type(objects) ~= "table" or getmetatable(objects) ~= nil then
    raise("InvalidArgument", "tf.train.Checkpoint: expected a table of named objects, e.g. "
      .. "{ optimizer = opt, weights = { w, b } }, got %s", type(objects))
  end
  for k in pairs(objects) do
    if type(k) ~= "string" then
      raise("InvalidArgument", "tf.train.Checkpoint: objects are named by strings, got a %s key", type(k))
    end
    if k == "save_counter" then
      raise("InvalidArgument", "tf.train.Checkpoint: 'save_counter' is the checkpoint's own counter; pick another name")
    end
  end
  walk(objects, "", function() end, {}) -- every object is trackable, now
  return setmetatable({ _objects = objects, save_counter = 0 }, Checkpoint)
end

function Checkpoint:__tostring()
  local names = sorted_keys(self._objects)
  return ("<tf.train.Checkpoint %s, save_counter=%d>"):format(table.concat(names, ", "), self.save_counter)
end

local function collect(self)
  local entries = {}
  entries[1] = { "save_counter", K_INT, string.pack("<j", self.save_counter) }
  walk(self._objects, "", function(path, kind, obj)
    if kind == "variable" then entries[#entries + 1] = { path, K_TENSOR, obj:value() }
    else flatten(obj:get_state(), path, entries) end
  end, {})
  return entries
end

-- write(path): exactly this file; returns path.
local function check_path(method, what, p)
  if type(p) ~= "string" or p == "" then
    raise("InvalidArgument", "Checkpoint:%s: expected a file %s, got %s", method, what, type(p) == "string" and "''" or type(p))
  end
end

function Checkpoint:write(path)
  check_path("write", "path", path)
  write_file(path, collect(self))
  return path
end

-- save(prefix): prefix-N with N = save_counter + 1, and the directory's
-- "checkpoint" index names it; returns the path.
function Checkpoint:save(prefix)
  check_path("save", "prefix", prefix)
  self.save_counter = self.save_counter + 1
  local path = ("%s-%d"):format(prefix, self.save_counter)
  local ok, err = pcall(self.write, self, path)
  if not ok then
    self.save_counter = self.save_counter - 1
    error(err, 0)
  end
  local dir, base = path:match("^(.*)/([^/]*)$")
  dir, base = dir or ".", base or path
  write_index(dir, base)
  return path
end

-- read(path) / restore(path): all-or-nothing for variables; optimizer state
-- goes through set_state. restore also sets save_counter from the file.
function Checkpoint:read(path)
  local values = read_file(path)
  local plan = {}
  walk(self._objects, "", function(key, kind, obj)
    if kind == "variable" then
      local e = values[key]
      if not e then raise("NotFound", "Checkpoint: %s has no value for variable '%s'", path, key) end
      if e[1] ~= K_TENSOR then raise("DataLoss", "Checkpoint: '%s' in %s is not a tensor", key, path) end
      local t = cio.parse_tensor(e[2])
      local want = obj:value()
      if t.dtype ~= want.dtype or not same_shape(t, want) then
        raise("InvalidArgument", "Checkpoint: '%s' is %s in %s but the variable is %s", key,
          describe(t), path, describe(want))
      end
      plan[#plan + 1] = { obj, t }
    else
      local state = unflatten(values, key, path)
      if not state then raise("NotFound", "Checkpoint: %s has no state for '%s'", path, key) end
      plan[#plan + 1] = { obj, state, stateful = true }
    end
  end, {})
  for _, p in ipairs(plan) do
    if not p.stateful then p[1]:assign(p[2]) end
  end
  for _, p in ipairs(plan) do
    if p.stateful then p[1]:set_state(p[2]) end
  end
  return values
end

function Checkpoint:restore(path)
  local values = self:read(path)
  local sc = values.save_counter
  if sc and sc[1] == K_INT then self.save_counter = string.unpack("<j", sc[2]) end
  return self
end

-- The path save() wrote last in dir, or nil when there is none.
function M.latest_checkpoint(dir)
  if type(dir) ~= "string" then
    raise("InvalidArgument", "latest_checkpoint: expected a directory, got %s", type(dir))
  end
  local f = io.open(dir .. "/checkpoint", "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  local base = proto_string(text, "model_checkpoint_path")
  if not base or base == "" then return nil end
  local path = base:sub(1, 1) == "/" and base or (dir .. "/" .. base)
  local g = io.open(path, "rb")
  if not g then return nil end
  g:close()
  return path
end

function M.install(tf)
  local help = require("tlua.help")
  help.register(M.Checkpoint, "tf.train.Checkpoint({name = object, ...}): variables, optimizers and tables "
    .. "of them, saved to one file and restored exactly.\n  ckpt:save(prefix) -> prefix-N   ckpt:restore(path)\n"
    .. "  ckpt:write(path)   ckpt:read(path)   tf.train.latest_checkpoint(dir)")
  help.register(M.latest_checkpoint, "tf.train.latest_checkpoint(dir): the path the last Checkpoint:save wrote in dir, or nil.")
  tf.train = tf.train or {}
  tf.train.Checkpoint = M.Checkpoint
  tf.train.latest_checkpoint = M.latest_checkpoint
  tf.io.serialize_tensor = help.register(cio.serialize_tensor,
    "tf.io.serialize_tensor(t): the tensor as a Lua string (dtype, shape, values; see src/core/serialize.c).")
  -- parse_tensor(s, out_type?) or parse_tensor(s, {out_type = ...})
  tf.io.parse_tensor = function(s, out_type)
    if type(out_type) == "table" and out_type.enum == nil then
      out_type = require("tlua.errors").check_options("parse_tensor", out_type, { out_type = true, name = true }).out_type
    end
    return cio.parse_tensor(s, out_type)
  end
  help.register(tf.io.parse_tensor, "tf.io.parse_tensor(s, out_type?): the tensor serialize_tensor wrote; "
    .. "with out_type, another dtype is an InvalidArgument error.")
end

return M
