-- keras.saving: the (de)serialization registry, safetensors files, and
-- model:save / keras.models.load_model / save_weights / load_weights.
--
--   saving.register_keras_serializable{package = "Custom", name = "huber"}(cls_or_fn)
--   saving.get_registered_object(name [, custom_objects [, module_objects]])
--   saving.get_registered_name(obj)        -- "Custom>huber", or the plain name
--   saving.serialize_keras_object(obj)     -- {class_name=, config=}; a function: its name
--   saving.deserialize_keras_object(spec, {module_objects=, custom_objects=, kind=})
--   saving.function_name(fn)               -- "huber_fn", or nil
--   saving.write_safetensors(path, {{name, tensor}, ...}, metadata)
--   saving.read_safetensors(path) -> {tensors = {name = t}, names = {in file order}, metadata = {}}
--   saving.save_model(model, path) / saving.load_model(path, {custom_objects=, compile=true})
--   saving.save_weights(model, path) / saving.load_weights(model, path)
--
-- Lookup order for a name: custom_objects, then the registry, then
-- module_objects (each tried with the full "package>name" and the bare
-- name). Loading never runs code from the file: a file names classes and
-- functions, and only objects already known to the program (builtins, the
-- registry, custom_objects) are used for them.
--
-- The file format is safetensors (8-byte little-endian header length N,
-- N bytes of JSON header padded with spaces to a multiple of 8, then the
-- raw little-endian row-major values); tensor names are the variable names
-- ("dense/kernel:0") and optimizer slots ("optimizer/<var name>/<slot>").
-- Data offsets follow the save order (model weights, then optimizer slots),
-- with no gaps, as the reference implementation requires. __metadata__
-- (strings only, as the format says) holds JSON: format = "tlua.keras",
-- keras_config, compile_config, optimizer (its config and non-tensor
-- state), weight_names (the model's weights in order), build_config
-- ({input_shape=}: the model is built from it when from_config left it
-- unbuilt), tlua_version. Everything read is checked (sizes, JSON, dtypes, shapes,
-- offsets in range and not overlapping); damage is a DataLoss error naming
-- the file, a valid file of another kind an InvalidArgument one.
-- save_weights files carry format = "tlua.keras.weights" and weight_names;
-- load_weights goes by position (weight_names' order, else the data-offset
-- order without "optimizer/" entries, so other programs' files load) and
-- checks the count and every shape before assigning anything. On
-- load_model, loss and metric names of builtins stay names (compile
-- resolves them); other names come from custom_objects or the registry.
-- Files are written to path.tmp and renamed into place.
local core = require("tlua.core")
local json = require("keras.json")
local cio = core.io

local M = {}

local function raise(kind, msg, ...)
  core.raise(kind, select("#", ...) > 0 and msg:format(...) or msg)
end

-- ---- the registry ------------------------------------------------------------

local registry = {}                              -- "package>name" -> class or function
local registered_names = setmetatable({}, { __mode = "k" }) -- class or function -> "package>name"
M._registry = registry

local function is_class(x)
  return type(x) == "table" and rawget(x, "class_name") ~= nil and rawget(x, "__index") ~= nil
end

-- function_name(fn): the registered name, else the name in the line that
-- defines fn (local function NAME( / function NAME( / function a.b.NAME( /
-- NAME = function( / local NAME = function( at the start of the line).
-- nil for C functions and anonymous ones.
local source_lines = {} -- source -> list of lines (false when unreadable)

local function lines_of(source)
  local lines = source_lines[source]
  if lines ~= nil then return lines or nil end
  local text
  if source:sub(1, 1) == "@" then
    local f = io.open(source:sub(2), "rb")
    if f then text = f:read("a") f:close() end
  elseif source:sub(1, 1) ~= "=" then
    text = source
  end
  if not text then source_lines[source] = false return nil end
  lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  source_lines[source] = lines
  return lines
end

local function name_in_line(line)
  local n = line:match("local%s+function%s+([%a_][%w_]*)%s*%(")
  if n then return n end
  n = line:match("^%s*function%s+([%a_][%w_.:]*)%s*%(")
  if n then return n:match("([%a_][%w_]*)$") end
  n = line:match("^%s*local%s+([%a_][%w_]*)%s*=%s*function%s*%(")
  if n then return n end
  n = line:match("^%s*([%a_][%w_.]*)%s*=%s*function%s*%(")
  if n then return n:match("([%a_][%w_]*)$") end
  return nil
end

function M.function_name(fn)
  if type(fn) ~= "function" then return nil end
  local reg = registered_names[fn]
  if reg then return reg end
  local info = debug.getinfo(fn, "S")
  if not info or info.what == "C" or not info.linedefined or info.linedefined < 1 then return nil end
  local lines = lines_of(info.source)
  local line = lines and lines[info.linedefined]
  return line and name_in_line(line) or nil
end

-- register_keras_serializable{package = "Custom", name = nil} -> function(obj)
-- registering obj (a class or function) as "package>name" (name defaults
-- to the class's class_name or the function's name); returns obj.
function M.register_keras_serializable(opts)
  if opts ~= nil and type(opts) ~= "table" then
    raise("InvalidArgument", "register_keras_serializable: expected an options table {package=, name=}, got %s", type(opts))
  end
  opts = require("tlua.errors").check_options("register_keras_serializable", opts or {}, { package = true, name = true })
  local package = opts.package or "Custom"
  if type(package) ~= "string" or package:find(">", 1, true) then
    raise("InvalidArgument", "register_keras_serializable: package must be a string without '>', got %s", tostring(package))
  end
  return function(obj)
    local name = opts.name
    if name == nil then
      if is_class(obj) then name = obj.class_name
      elseif type(obj) == "function" then
        local info = debug.getinfo(obj, "S")
        local lines = info and info.what ~= "C" and lines_of(info.source)
        name = lines and lines[info.linedefined] and name_in_line(lines[info.linedefined])
      end
    end
    if type(obj) ~= "function" and not is_class(obj) then
      raise("InvalidArgument", "register_keras_serializable: expected a class or a function, got %s", type(obj))
    end
    if type(name) ~= "string" or name == "" then
      raise("InvalidArgument", "register_keras_serializable: cannot tell the name of this %s; pass name=",
        type(obj) == "function" and "function" or "class")
    end
    local key = package .. ">" .. name
    registry[key] = obj
    registered_names[obj] = key
    return obj
  end
end

-- get_registered_name(obj): "package>name" when registered, else the
-- class's name or the function's name.
function M.get_registered_name(obj)
  local reg = registered_names[obj]
  if reg then return reg end
  if is_class(obj) then return obj.class_name end
  if type(obj) == "function" then return M.function_name(obj) end
  return nil
end

local function bare(name) return name:match(">(.*)$") end

local function lookup_in(t, name)
  if type(t) ~= "table" then return nil end
  local v = t[name]
  if v == nil and bare(name) then v = t[bare(name)] end
  return v
end

function M.get_registered_object(name, custom_objects, module_objects)
  if type(name) ~= "string" then return nil end
  local v = lookup_in(custom_objects, name)
  if v ~= nil then return v end
  v = registry[name]
  if v ~= nil then return v end
  if not bare(name) then
    -- a bare name matches a registered "package>name" when only one does
    local found
    for k, obj in pairs(registry) do
      if bare(k) == name then
        if found ~= nil then found = false break end
        found = obj
      end
    end
    if found then return found end
  end
  return lookup_in(module_objects, name)
end

-- A kind's builtin classes, when a caller gives no module_objects (as Keras
-- finds its own classes by name).
local default_modules = {
  layer = "keras.layers", loss = "keras.losses", metric = "keras.metrics", optimizer = "keras.optimizers",
  activation = "keras.activations", initializer = "keras.initializers", regularizer = "keras.regularizers",
  constraint = "keras.constraints", callback = "keras.callbacks",
}

-- The error for a name nothing knows.
function M.unknown_object_error(kind, name)
  local key = bare(name) or name
  local lua_key = key:match("^[%a_][%w_]*$") and key or ("[%q]"):format(key)
  raise("InvalidArgument",
    "Unknown %s: '%s'. Pass it in custom_objects: keras.models.load_model(path, {custom_objects = {%s = %s}})",
    kind or "object", name, lua_key, key:match("^[%a_][%w_]*$") and key or "...")
end

-- serialize_keras_object(obj): nil -> nil; strings, numbers, booleans as
-- they are; a function -> its name (registered, else from its source; an
-- anonymous function is an error); an object with get_config ->
-- {class_name = registered or class name, config = obj:get_config()};
-- a plain table -> each value serialized.
function M.serialize_keras_object(obj)
  local t = type(obj)
  if obj == nil or t == "string" or t == "number" or t == "boolean" then return obj end
  if t == "function" then
    local name = M.function_name(obj)
    if not name then
      raise("InvalidArgument",
        "serialize_keras_object: cannot name this function (%s); define it as `local function NAME(` or register it with keras.saving.register_keras_serializable{name = ...}",
        tostring(obj))
    end
    return name
  end
  if t == "table" then
    local mt = getmetatable(obj)
    if mt == nil or mt == json.object_mt then
      local out = {}
      for k, v in pairs(obj) do out[k] = M.serialize_keras_object(v) end
      return out
    end
    if is_class(obj) then return M.get_registered_name(obj) end
    if type(obj.get_config) == "function" then
      return { class_name = registered_names[mt] or mt.class_name, config = obj:get_config() }
    end
  end
  raise("InvalidArgument", "serialize_keras_object: cannot serialize %s (it has no get_config)", tostring(obj))
end

-- deserialize_keras_object(spec, {module_objects=, custom_objects=, kind=}):
-- spec a name or {class_name=, config=}. A class found for it is built
-- with from_config(config, custom_objects) (a bare name: from_config({})),
-- a function or another value found is returned as it is.
function M.deserialize_keras_object(spec, opts)
  opts = opts or {}
  if spec == nil then return nil end
  local name, config
  if type(spec) == "string" then
    name = spec
  elseif type(spec) == "table" and type(spec.class_name) == "string" then
    name, config = spec.class_name, spec.config
  else
    raise("InvalidArgument", "deserialize_keras_object: expected a name or {class_name=, config=}, got %s", tostring(spec))
  end
  local custom = opts.custom_objects
  if custom ~= nil and type(custom) ~= "table" then
    raise("InvalidArgument", "deserialize_keras_object: custom_objects must be a table {name = class or function}, got %s", type(custom))
  end
  local from_custom = custom ~= nil and lookup_in(custom, name)
  if from_custom ~= nil and from_custom ~= false and type(from_custom) ~= "table" and type(from_custom) ~= "function" then
    raise("InvalidArgument", "custom_objects.%s must be a class or a function for the saved %s '%s', got %s",
      name, opts.kind or "object", name, type(from_custom))
  end
  local module_objects = opts.module_objects
  if module_objects == nil and default_modules[opts.kind] then module_objects = require(default_modules[opts.kind]) end
  local obj = M.get_registered_object(name, custom, module_objects)
  if obj == nil then M.unknown_object_error(opts.kind, name) end
  if is_class(obj) then
    local from_config = obj.from_config
    if type(from_config) ~= "function" then return obj(config) end
    return from_config(config or {}, opts.custom_objects)
  end
  return obj
end

-- ---- safetensors -------------------------------------------------------------

local ST_DTYPE = {
  float64 = "F64", float32 = "F32", float16 = "F16", bfloat16 = "BF16", int64 = "I64", int32 = "I32",
  int16 = "I16", int8 = "I8", uint8 = "U8", bool = "BOOL",
}
local TL_DTYPE, ST_SIZE = {}, { F64 = 8, F32 = 4, F16 = 2, BF16 = 2, I64 = 8, I32 = 4, I16 = 2, I8 = 1, U8 = 1, BOOL = 1 }
for k, v in pairs(ST_DTYPE) do TL_DTYPE[v] = k end
M.safetensors_dtypes = ST_DTYPE

local MAX_HEADER = 100000000 -- the reference implementation's limit

local function is_tensorlike(x)
  return type(x) == "userdata" and (core.is_variable(x) or core.is_tensor(x))
end

local function dtype_name(t) return tostring(t.dtype.name or t.dtype) end

-- Writes path atomically (path.tmp, then a rename); metadata values must be strings.
function M.write_safetensors(path, entries, metadata)
  if type(path) ~= "string" then raise("InvalidArgument", "write_safetensors: path must be a string, got %s", type(path)) end
  local header, seen, offset = {}, {}, 0
  for i, e in ipairs(entries) do
    local name, t = e[1], e[2]
    if type(name) ~= "string" or name == "__metadata__" then
      raise("InvalidArgument", "write_safetensors: entry %d has an invalid name %s", i, tostring(name))
    end
    if seen[name] then raise("InvalidArgument", "write_safetensors: two tensors are named '%s'", name) end
    seen[name] = true
    if not is_tensorlike(t) then
      raise("InvalidArgument", "write_safetensors: '%s' is a %s, not a tensor or variable", name, type(t))
    end
    local dn = dtype_name(t)
    local st = ST_DTYPE[dn]
    if not st then raise("InvalidArgument", "write_safetensors: '%s' is %s, which safetensors cannot hold", name, dn) end
    local shape = t.shape:as_list()
    local n = ST_SIZE[st]
    for _, d in ipairs(shape) do n = n * d end
    header[name] = { dtype = st, shape = shape, data_offsets = { offset, offset + n } }
    offset = offset + n
  end
  if metadata and next(metadata) then
    for k, v in pairs(metadata) do
      if type(k) ~= "string" or type(v) ~= "string" then
        raise("InvalidArgument", "write_safetensors: __metadata__ maps strings to strings (got %s = %s)", tostring(k), type(v))
      end
    end
    header.__metadata__ = json.object(metadata)
  end
  local h = json.encode(json.object(header), { allow_nan = false })
  h = h .. (" "):rep((8 - #h % 8) % 8)
  require("tlua.checkpoint").write_atomic(path, "write_safetensors", false, function(w)
    w:write(string.pack("<I8", #h), h)
    for _, e in ipairs(entries) do w:write_raw(e[2]) end
  end)
end

local function bad(path, msg, ...)
  raise("DataLoss", "%s: %s", path, select("#", ...) > 0 and msg:format(...) or msg)
end

-- read_safetensors(path) -> {tensors = {name = tensor}, names = {...} (in
-- data-offset order), metadata = {string = string}, header = {...}}.
function M.read_safetensors(path)
  if type(path) ~= "string" then raise("InvalidArgument", "read_safetensors: path must be a string, got %s", type(path)) end
  local f, oerr = io.open(path, "rb")
  if not f then raise("NotFound", "%s: cannot open: %s", path, tostring(oerr):gsub("^[^:]*: ", "")) end
  local data = f:read("a")
  f:close()
  if not data then bad(path, "cannot read the file") end
  local size = #data
  if size < 8 then bad(path, "not a safetensors file (%d bytes, shorter than the 8-byte header length)", size) end
  local n = string.unpack("<i8", data)
  if n < 2 or n > size - 8 then
    bad(path, "not a safetensors file, or truncated: header length %d does not fit the %d-byte file", n, size)
  end
  if n > MAX_HEADER then bad(path, "header length %d exceeds the %d-byte limit", n, MAX_HEADER) end
  local htext = data:sub(9, 8 + n)
  if htext:sub(1, 1) ~= "{" then bad(path, "not a safetensors file (the header does not start with '{')") end
  local header = json.decode(htext, path .. ": safetensors header")
  if type(header) ~= "table" then bad(path, "the safetensors header is not a JSON object") end
  local buffer_len = size - 8 - n
  local metadata = {}
  local list = {}
  for name, e in pairs(header) do
    if name == "__metadata__" then
      if type(e) ~= "table" then bad(path, "__metadata__ is not an object") end
      for k, v in pairs(e) do
        if type(k) ~= "string" or type(v) ~= "string" then bad(path, "__metadata__ must map strings to strings ('%s')", tostring(k)) end
        metadata[k] = v
      end
    else
      if type(name) ~= "string" or type(e) ~= "table" then bad(path, "tensor entry '%s' is not an object", tostring(name)) end
      local st = e.dtype
      local dn = type(st) == "string" and TL_DTYPE[st]
      if not dn then bad(path, "tensor '%s' has dtype %s (known: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)", name, tostring(st)) end
      local shape = e.shape
      if type(shape) ~= "table" or (shape.n and shape.n ~= #shape) or #shape > 8 then
        bad(path, "tensor '%s' has an invalid shape", name)
      end
      local numel = 1
      for i, d in ipairs(shape) do
        if math.type(d) ~= "integer" or d < 0 then bad(path, "tensor '%s': dimension %d of its shape is not a non-negative integer", name, i - 1) end
        numel = numel * d
        if numel > buffer_len then bad(path, "tensor '%s': its shape holds more values than the file has bytes", name) end
      end
      local off = e.data_offsets
      local b, en = type(off) == "table" and off[1], type(off) == "table" and off[2]
      if math.type(b) ~= "integer" or math.type(en) ~= "integer" or #off ~= 2 then
        bad(path, "tensor '%s' has invalid data_offsets", name)
      end
      if b < 0 or en < b or en > buffer_len then
        bad(path, "tensor '%s': data_offsets [%d, %d] are outside the %d-byte data section (truncated file?)", name, b, en, buffer_len)
      end
      if en - b ~= numel * ST_SIZE[st] then
        bad(path, "tensor '%s': %s%s needs %d bytes, data_offsets [%d, %d] hold %d", name, st,
          json.encode(shape), numel * ST_SIZE[st], b, en, en - b)
      end
      list[#list + 1] = { name = name, dtype = dn, shape = shape, b = b, e = en }
    end
  end
  table.sort(list, function(x, y) if x.b ~= y.b then return x.b < y.b end return x.e < y.e end)
  local pos = 0
  for _, x in ipairs(list) do
    if x.b < pos then bad(path, "tensors overlap: '%s' starts at byte %d, before the end of the previous one (%d)", x.name, x.b, pos) end
    if x.b > pos then bad(path, "bytes %d..%d of the data section belong to no tensor", pos, x.b) end
    pos = x.e
  end
  if pos ~= buffer_len then bad(path, "the data section has %d bytes, the tensors cover %d", buffer_len, pos) end
  local tensors, names = {}, {}
  local base = 8 + n
  for i, x in ipairs(list) do
    tensors[x.name] = cio.tensor_from_bytes(data, x.dtype, x.shape, base + x.b, x.e - x.b)
    names[i] = x.name
  end
  return { tensors = tensors, names = names, metadata = metadata, header = header }
end

-- ---- models ------------------------------------------------------------------

local FORMAT = "tlua.keras"

local function tf() return require("tlua") end

local function shape_str(t) return tostring(t.shape) end

local function unique(name, used)
  local n, k = name, 1
  while used[n] do k = k + 1 n = ("%s_%d"):format(name, k) end
  used[n] = true
  return n
end

local function model_weights(model)
  local w = model.weights
  if type(w) == "function" then w = w(model) end
  return w or {}
end

local function weight_entries(model, used)
  local entries, names = {}, {}
  for i, v in ipairs(model_weights(model)) do
    local name = unique(type(v.name) == "string" and v.name or ("weight_" .. i), used)
    entries[#entries + 1] = { name, v }
    names[i] = name
  end
  return entries, names
end

-- save_weights(model, path): the model's weights, in order.
function M.save_weights(model, path)
  local used = {}
  local entries, names = weight_entries(model, used)
  M.write_safetensors(path, entries, {
    format = FORMAT .. ".weights", weight_names = json.encode(names), tlua_version = tf().__version__ or "?",
  })
end

local function model_label(model)
  return ("'%s'"):format(tostring(model.name))
end

-- Assigns tensors (a list, in the model's weight order) to model's weights.
local function assign_weights(model, values, names, path)
  local weights = model_weights(model)
  if #weights ~= #values then
    raise("InvalidArgument", "%s: the file holds %d weights, model %s has %d", path, #values, model_label(model), #weights)
  end
  for i, v in ipairs(weights) do
    local t = values[i]
    if tostring(v.shape) ~= tostring(t.shape) then
      raise("InvalidArgument", "%s: weight %d ('%s') of model %s has shape %s, the file's '%s' has shape %s",
        path, i, tostring(v.name), model_label(model), shape_str(v), names[i], shape_str(t))
    end
  end
  for i, v in ipairs(weights) do
    local t = values[i]
    if dtype_name(t) ~= dtype_name(v) then t = tf().cast(t, v.dtype) end
    v:assign(t)
  end
end

local function file_weights(st, path)
  local names
  if st.metadata.weight_names then
    names = json.decode(st.metadata.weight_names, path .. ": weight_names")
    if type(names) ~= "table" then bad(path, "weight_names is not a list") end
    for _, nm in ipairs(names) do
      if not st.tensors[nm] then bad(path, "weight_names lists '%s', which the file does not hold", tostring(nm)) end
    end
  else
    names = {}
    for _, nm in ipairs(st.names) do
      if not nm:find("^optimizer/") then names[#names + 1] = nm end
    end
  end
  local values = {}
  for i, nm in ipairs(names) do values[i] = st.tensors[nm] end
  return values, names
end

-- load_weights(model, path): by position and shape (a safetensors file of
-- another program works when it holds the same tensors in the same order).
function M.load_weights(model, path)
  local st = M.read_safetensors(path)
  local values, names = file_weights(st, path)
  if not model.built and #model_weights(model) == 0 and #values > 0 then
    raise("FailedPrecondition", "%s: model %s is not built yet (no weights to load into); call it on data or build it first", path, model_label(model))
  end
  assign_weights(model, values, names, path)
end

-- A loss or metric (or a list/dict of them) as plain data: the
-- namespace's serialize first (it knows its builtins' names), then
-- serialize_keras_object.
local function serialize_in(ns_name, v)
  if type(v) == "table" and getmetatable(v) == nil then
    local out = {}
    for k, x in pairs(v) do out[k] = serialize_in(ns_name, x) end
    return out
  end
  if type(v) == "function" or type(v) == "table" then
    local has, ns = pcall(require, ns_name)
    if has and type(ns) == "table" and type(ns.serialize) == "function" then
      local ok, r = pcall(ns.serialize, v)
      if ok and r ~= nil then return r end
    end
  end
  return M.serialize_keras_object(v)
end

local COMPILE_NS = { loss = "keras.losses", metrics = "keras.metrics", weighted_metrics = "keras.metrics" }

-- The compile settings as plain data.
local function serialize_compile(cc)
  if cc == nil then return nil end
  local out = {}
  for k, v in pairs(cc) do
    if k == "optimizer" then
      if type(v) ~= "string" then out[k] = require("keras.optimizers").serialize(v) else out[k] = v end
    elseif COMPILE_NS[k] then
      out[k] = serialize_in(COMPILE_NS[k], v)
    else
      out[k] = M.serialize_keras_object(v)
    end
  end
  return out
end

local function optimizer_state(opt, used, entries)
  if type(opt.get_state) ~= "function" then return nil end
  local state = opt:get_state()
  local plain = {}
  for k, v in pairs(state) do
    if k ~= "slots" then plain[k] = v end
  end
  plain.slots = {}
  for i, entry in ipairs(state.slots or {}) do
    local rec = { variable = entry.variable, tensors = json.object() }
    local slots = {}
    for slot in pairs(entry) do
      if slot ~= "variable" then slots[#slots + 1] = slot end
    end
    table.sort(slots) -- the same file bytes for the same state
    for _, slot in ipairs(slots) do
      local name = unique(("optimizer/%s/%s"):format(tostring(entry.variable), slot), used)
      entries[#entries + 1] = { name, entry[slot] }
      rec.tensors[slot] = name
    end
    plain.slots[i] = rec
  end
  return plain
end

local function class_name_of(obj)
  local mt = getmetatable(obj)
  return registered_names[mt] or (mt and mt.class_name)
end

local function build_shape(model)
  for _, k in ipairs({ "_build_input_shape", "build_input_shape" }) do
    local s = model[k]
    if s ~= nil then
      if type(s) == "table" and s.as_list then
        local l = s:as_list()
        return l
      end
      if type(s) == "table" then return s end
    end
  end
  return nil
end

-- save_model(model, path): architecture, weights, compile settings and
-- optimizer state in one safetensors file.
function M.save_model(model, path)
  if type(path) ~= "string" then raise("InvalidArgument", "save_model: path must be a string, got %s", type(path)) end
  if type(model) ~= "table" or type(model.get_config) ~= "function" then
    raise("InvalidArgument", "save_model: expected a keras Model, got %s", tostring(model))
  end
  local ok, cfg = pcall(model.get_config, model)
  if not ok then
    raise("Unimplemented", "save_model: model %s (%s) cannot give its config (%s); define get_config, or save only its weights with model:save_weights(path)",
      model_label(model), tostring(class_name_of(model)), tostring(cfg))
  end
  local used = {}
  local entries, names = weight_entries(model, used)
  local meta = {
    format = FORMAT,
    keras_config = json.encode({ class_name = class_name_of(model), config = cfg }),
    weight_names = json.encode(names),
    tlua_version = tf().__version__ or "?",
  }
  if type(model.get_build_config) == "function" then
    local bok, bc = pcall(model.get_build_config, model)
    if bok and type(bc) == "table" then meta.build_config = json.encode(bc) end
  end
  if not meta.build_config then
    local bs = build_shape(model)
    if bs then meta.build_config = json.encode({ input_shape = bs }) end
  end
  local cc = rawget(model, "compile_config") or model.compile_config
  if type(cc) == "function" then cc = cc(model) end
  if cc then meta.compile_config = json.encode(serialize_compile(cc)) end
  local opt = model.optimizer
  if type(opt) == "table" and type(opt.get_config) == "function" then
    local ocfg = require("keras.optimizers").serialize(opt)
    local state = optimizer_state(opt, used, entries)
    meta.optimizer = json.encode({ class_name = ocfg.class_name, config = ocfg.config, state = state })
  end
  M.write_safetensors(path, entries, meta)
end

-- Resolves a loss or metric spec for compile: custom_objects and the
-- registry first; a builtin name stays the string it was (compile resolves
-- it, so the loaded model's compile settings read as the saved ones); a
-- {class_name=, config=} goes through the namespace's deserialize. A name
-- nothing knows gets the custom_objects message.
local function resolve(spec, kind, namespace, custom_objects)
  if spec == nil then return nil end
  if type(spec) == "table" and spec.class_name == nil then
    local out = {}
    for k, v in pairs(spec) do out[k] = resolve(v, kind, namespace, custom_objects) end
    return out
  end
  if type(spec) ~= "string" and type(spec) ~= "table" then return spec end
  local name = type(spec) == "string" and spec or spec.class_name
  if M.get_registered_object(name, custom_objects) ~= nil then
    return M.deserialize_keras_object(spec, { custom_objects = custom_objects, kind = kind })
  end
  local has, ns = pcall(require, namespace)
  if not has then return spec end -- the namespace is not there: compile will say
  local ok, v
  if type(spec) == "string" then
    ok, v = pcall(ns.get, spec)
    if ok and v ~= nil then return spec end
  else
    ok, v = pcall(ns.deserialize, spec, custom_objects)
    if ok and v ~= nil then return v end
  end
  local msg = tostring(type(v) == "table" and v.message or v)
  if not ok and not msg:lower():find("unknown") then error(v, 0) end
  M.unknown_object_error(kind, name)
end

local function model_class(kc, custom_objects)
  local has, models = pcall(require, "keras.models")
  if not has then models = nil end
  local name = kc.class_name
  if models and name == "Sequential" then return models.Sequential end
  if models and (name == "Functional" or name == "Model") then return models.Model end
  local cls = M.get_registered_object(name, custom_objects, models)
  if cls == nil then M.unknown_object_error("model class", name) end
  if not is_class(cls) or type(cls.from_config) ~= "function" then
    raise("InvalidArgument", "load_model: '%s' names %s, not a model class with from_config", name, type(cls))
  end
  return cls
end

-- load_model(path, {custom_objects=, compile=true}) -> the model.
function M.load_model(path, opts)
  opts = require("tlua.errors").check_options("load_model", opts or {}, { custom_objects = true, compile = true, safe_mode = true })
  local custom = opts.custom_objects
  if custom ~= nil and type(custom) ~= "table" then
    raise("InvalidArgument", "load_model: custom_objects must be a table {name = class or function}, got %s", type(custom))
  end
  local st = M.read_safetensors(path)
  local meta = st.metadata
  if meta.format ~= FORMAT or not meta.keras_config then
    raise("InvalidArgument", "%s: a safetensors file without a saved tlua model (__metadata__.format is %s, expected '%s'); %s",
      path, meta.format and ("'" .. meta.format .. "'") or "missing", FORMAT,
      meta.format == FORMAT .. ".weights" and "it holds weights only: build the model and call model:load_weights(path)"
        or "load tensors from it with keras.saving.read_safetensors")
  end
  local kc = json.decode(meta.keras_config, path .. ": keras_config")
  if type(kc) ~= "table" or type(kc.class_name) ~= "string" then bad(path, "keras_config has no class_name") end
  local cls = model_class(kc, custom)
  local model = cls.from_config(kc.config or {}, custom)
  local values, names = file_weights(st, path)
  if model.built == false and #values > 0 and meta.build_config then
    -- built from the saved input shape (Keras 3's build_config) before the
    -- weights are assigned
    local bc = json.decode(meta.build_config, path .. ": build_config")
    if type(model.build_from_config) == "function" then
      model:build_from_config(bc)
    elseif type(model.build) == "function" and type(bc) == "table" and type(bc.input_shape) == "table" then
      local s = bc.input_shape
      model:build(tf().TensorShape(s, s.n or #s))
    end
  end
  assign_weights(model, values, names, path)
  if opts.compile ~= false and meta.compile_config then
    local cc = json.decode(meta.compile_config, path .. ": compile_config")
    local args = {}
    for k, v in pairs(cc) do args[k] = v end
    local ostate
    if meta.optimizer then
      local o = json.decode(meta.optimizer, path .. ": optimizer")
      args.optimizer = require("keras.optimizers").deserialize({ class_name = o.class_name, config = o.config })
      ostate = o.state
    elseif cc.optimizer then
      args.optimizer = require("keras.optimizers").get(cc.optimizer)
    end
    args.loss = resolve(cc.loss, "loss", "keras.losses", custom)
    args.metrics = resolve(cc.metrics, "metric", "keras.metrics", custom)
    args.weighted_metrics = resolve(cc.weighted_metrics, "metric", "keras.metrics", custom)
    model:compile(args)
    if ostate and model.optimizer then
      local state = {}
      for k, v in pairs(ostate) do if k ~= "slots" then state[k] = v end end
      state.slots = {}
      for i, rec in ipairs(ostate.slots or {}) do
        local entry = { variable = rec.variable }
        for slot, tname in pairs(rec.tensors or {}) do
          local t = st.tensors[tname]
          if not t then bad(path, "optimizer slot '%s' is not in the file", tostring(tname)) end
          entry[slot] = t
        end
        state.slots[i] = entry
      end
      model.optimizer:set_state(state)
    end
  end
  return model
end

return M
