-- tlua.help: help(x) for any API object. tf.help(x) prints what
-- M.text(x) returns; the `tlua` program makes it the global `help`.
--
-- Ops are described from the registry (core.op_info: inputs, attributes,
-- doc), found by function identity through a reverse map of core.ops.
-- Other values: namespaces list their members, tensors and variables show
-- shape/dtype/methods, dtypes their traits, tables with a `__doc`/`doc`
-- string print it, Lua functions say where they are defined. Lua-side
-- functions can be given a doc string with M.register(f, text).
local core = require("tlua.core")

local M = {}

local docs = setmetatable({}, { __mode = "k" })
function M.register(value, text) docs[value] = text; return value end

local tf_root -- set by install

-- ---- names of things ----------------------------------------------------

local op_of -- function -> op name
local function op_name_of(f)
  if not op_of then
    op_of = {}
    for name, fn in pairs(core.ops) do op_of[fn] = name end
  end
  return op_of[f]
end

-- value -> list of paths ("tf.math.add"), shortest first; built lazily
-- (modules may still add members after install) and rebuilt on a miss.
local paths_cache
local function build_paths()
  local paths, seen = {}, {}
  local queue = {}
  local function visit(v, path)
    if (type(v) == "table" or type(v) == "function" or type(v) == "userdata") then
      paths[v] = paths[v] or {}
      local list = paths[v]
      if #list < 8 then list[#list + 1] = path end
    end
  end
  local roots = { { tf_root, "tf" } }
  local keras = rawget(tf_root, "keras")
  if keras then
    -- keras loads its namespaces on first use: name the ones already loaded
    -- (keras.Sequential loads keras.models without keras.models being read)
    for ns, mod in pairs(rawget(keras, "_namespaces") or {}) do
      if package.loaded[mod] ~= nil and rawget(keras, ns) == nil then local _ = keras[ns] end
    end
    if package.loaded["keras.models"] ~= nil then local _ = keras.Sequential, keras.Model, keras.Input end
    roots[#roots + 1] = { keras, "keras" }
  end
  for _, r in ipairs(roots) do queue[#queue + 1] = r; visit(r[1], r[2]) end
  local qi = 1
  while qi <= #queue do
    local t, path = queue[qi][1], queue[qi][2]
    qi = qi + 1
    if not seen[t] then
      seen[t] = true
      local keys = {}
      for k in pairs(t) do if type(k) == "string" then keys[#keys + 1] = k end end
      table.sort(keys)
      for _, k in ipairs(keys) do
        if k ~= "core" and k ~= "_hooks" and k:sub(1, 2) ~= "__" then
          local v = rawget(t, k)
          local p = path .. "." .. k
          visit(v, p)
          if type(v) == "table" and getmetatable(v) == nil and not seen[v] then
            queue[#queue + 1] = { v, p }
          end
        end
      end
    end
  end
  -- tf.raw_ops.x only when there is nothing else
  for _, list in pairs(paths) do
    table.sort(list, function(a, b)
      local ra, rb = a:find("raw_ops", 1, true) ~= nil, b:find("raw_ops", 1, true) ~= nil
      if ra ~= rb then return rb end
      local da, db = select(2, a:gsub("%.", "")), select(2, b:gsub("%.", ""))
      if da ~= db then return da < db end
      return a < b
    end)
  end
  return paths
end

local function paths_of(v)
  if not paths_cache or not paths_cache[v] then paths_cache = build_paths() end
  return paths_cache[v]
end

-- ---- formatting helpers ---------------------------------------------------

local function wrap(words, indent, width)
  width = width or 78
  local lines, cur = {}, indent
  for _, w in ipairs(words) do
    if #cur + #w + 2 > width and cur ~= indent then
      lines[#lines + 1] = cur
      cur = indent
    end
    cur = cur == indent and cur .. w or cur .. "  " .. w
  end
  if cur ~= indent then lines[#lines + 1] = cur end
  return table.concat(lines, "\n")
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do if type(k) == "string" then keys[#keys + 1] = k end end
  table.sort(keys)
  return keys
end

local function parse_inputs(spec)
  local out = {}
  for item in spec:gmatch("[^,%s][^,]*") do
    item = item:match("^%s*(.-)%s*$")
    local name, mark = item:match("^([%w_]+)(.*)$")
    out[#out + 1] = { name = name, list = mark == "[]", optional = mark == "?" }
  end
  return out
end

local function parse_attrs(spec)
  local out = {}
  for item in spec:gmatch("[^,%s][^,]*") do
    item = item:match("^%s*(.-)%s*$")
    local name, typ, rest = item:match("^([%w_]+):([%w_]+)(.*)$")
    if name then
      local a = { name = name, type = typ }
      if rest:sub(1, 1) == "?" then a.optional = true; rest = rest:sub(2) end
      if rest:sub(1, 1) == "=" then a.default = rest:sub(2) end
      out[#out + 1] = a
    end
  end
  return out
end

local function op_text(name, path)
  local info = core.op_info(name)
  if not info then return nil end
  local inputs, attrs = parse_inputs(info.inputs), parse_attrs(info.attrs)
  local params = {}
  for _, i in ipairs(inputs) do
    params[#params + 1] = i.list and "{" .. i.name .. "...}" or (i.optional and i.name .. "=nil" or i.name)
  end
  for _, a in ipairs(attrs) do
    params[#params + 1] = a.name .. "=" .. (a.default or "nil")
  end
  local lines = {}
  lines[#lines + 1] = ("%s(%s)"):format(path or ("tf." .. name), table.concat(params, ", "))
  if info.doc ~= "" then lines[#lines + 1] = "  " .. info.doc end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "  op: " .. name .. (info.has_gradient and " (differentiable)" or "")
  if #inputs > 0 then
    lines[#lines + 1] = "  inputs:"
    for _, i in ipairs(inputs) do
      lines[#lines + 1] = ("    %s%s"):format(i.name,
        i.list and "  (list of tensors)" or i.optional and "  (optional)" or "")
    end
  end
  if #attrs > 0 then
    lines[#lines + 1] = "  attributes:"
    for _, a in ipairs(attrs) do
      local d = a.default and ("default " .. a.default) or (a.optional and "optional" or "required")
      lines[#lines + 1] = ("    %s: %s, %s"):format(a.name, a.type, d)
    end
  end
  if #attrs > 0 then
    lines[#lines + 1] = "  Call: inputs positionally, then attributes positionally, then an options"
    lines[#lines + 1] = "  table by name, e.g. " .. (path or ("tf." .. name)) .. "(x, {" .. attrs[1].name .. "=...})."
  end
  if info.api ~= "" and info.api ~= "-" then
    lines[#lines + 1] = "  Also: " .. info.api:gsub("%s+", ", ") .. ", and the method x:" .. name .. "(...)."
  else
    lines[#lines + 1] = "  Also the method x:" .. name .. "(...)."
  end
  return table.concat(lines, "\n")
end

-- ---- classes (tlua.class: Keras layers, losses, models, ...) ---------------
-- A class is a table with its own class_name and super; an instance is a
-- table whose metatable is one. A class's text is its own __doc (extend
-- copies __doc into subclasses, so an inherited one does not count), else
-- the entry for its path in keras.docs (loaded only here), else where it is
-- defined and what it extends (user subclasses).
local function is_class(v)
  return type(v) == "table" and rawget(v, "class_name") ~= nil and rawget(v, "super") ~= nil
end

-- The keras.docs entry for v: under any of its paths (keras.Sequential is
-- also keras.models.Sequential, MaxPool2D is MaxPooling2D). Returns the
-- entry and the path it was found under.
local keras_docs
local function keras_doc(v, path)
  if keras_docs == nil then
    local ok, d = pcall(require, "keras.docs")
    keras_docs = ok and type(d) == "table" and d or false
  end
  if not keras_docs then return nil end
  if path and keras_docs[path] then return keras_docs[path], path end
  for _, p in ipairs(paths_of(v) or {}) do
    local q = p:gsub("^tf%.", "")
    if keras_docs[q] then return keras_docs[q], q end
    q = q:gsub("^keras%.models%.", "keras.") -- keras.Sequential is keras.models.Sequential
    if keras_docs[q] then return keras_docs[q], q end
  end
  return nil
end

-- Optimizers keep their options in cls.spec: the signature comes from it.
local function spec_signature(cls, path)
  local spec = rawget(cls, "spec")
  if type(spec) ~= "table" or type(spec.positional) ~= "table" then return nil end
  local args = {}
  for _, k in ipairs(spec.positional) do
    local d = spec.defaults and spec.defaults[k]
    args[#args + 1] = d ~= nil and (k .. "=" .. tostring(d)) or k
  end
  local opt = {}
  for _, k in ipairs(spec.optional or {}) do opt[#opt + 1] = k .. "=" end
  if #opt > 0 then args[#args + 1] = "{" .. table.concat(opt, ", ") .. "}" end
  return ("%s(%s)"):format(path, table.concat(args, ", "))
end

local function class_doc(cls, path)
  local d = rawget(cls, "__doc")
  local super = rawget(cls, "super")
  if type(d) == "string" and not (type(super) == "table" and rawget(super, "__doc") == d) then return d end
  local found
  d, found = keras_doc(cls, path)
  if d and not d:find("\n") then
    local sig = spec_signature(cls, found)
    if sig then d = sig .. "\n  " .. d end
  end
  return d
end

local function one_line_doc(v, path)
  if is_class(v) then
    -- keras.docs entries: the description (second line), as a listing shows
    -- the name already; a module's own __doc: its first line
    local d = class_doc(v, path)
    if not d then return "" end
    local own = rawget(v, "__doc") == d
    return (not own and d:match("^[^\n]*\n%s*([^\n]*)") or d:match("^[^\n]*"))
  end
  local name = type(v) == "function" and op_name_of(v)
  if name then
    local info = core.op_info(name)
    return info and info.doc or ""
  end
  if docs[v] then return (docs[v]:match("^[^\n]*")) end
  if type(v) == "function" and path and path:find("keras%.") then
    local d = keras_doc(v, path)
    if d then return (d:match("^[^\n]*")) end
  end
  if type(v) == "table" then
    local d = rawget(v, "__doc") or rawget(v, "doc")
    if type(d) == "string" then return (d:match("^[^\n]*")) end
  end
  return ""
end

local function is_dtype(v)
  return type(v) == "table" and getmetatable(v) ~= nil and getmetatable(v) == getmetatable(tf_root.float32)
end

local function tensor_kind(v)
  local mt = getmetatable(v)
  if type(v) ~= "userdata" then return nil end
  if mt == core.Tensor then return "tf.Tensor" end
  if mt == core.VariableMeta then return "tf.Variable" end
  return nil
end

local function methods_text(mt)
  local names = sorted_keys(mt.methods or {})
  return wrap(names, "    ")
end

local function namespace_text(t, path)
  local subs, funcs, others = {}, {}, {}
  for _, k in ipairs(sorted_keys(t)) do
    local v = t[k]
    if k:sub(1, 1) ~= "_" then
      if type(v) == "table" and getmetatable(v) == nil and not (rawget(v, "__doc") or rawget(v, "doc")) then
        subs[#subs + 1] = k
      elseif type(v) == "function" then
        funcs[#funcs + 1] = k
      else
        others[#others + 1] = k
      end
    end
  end
  local lines = { (path or "table") .. ": namespace with " .. (#subs + #funcs + #others) .. " members" }
  if #subs > 0 then
    lines[#lines + 1] = "  namespaces:"
    lines[#lines + 1] = wrap(subs, "    ")
  end
  if #funcs > 0 then
    lines[#lines + 1] = "  functions:"
    for _, k in ipairs(funcs) do
      local d = one_line_doc(t[k], (path or "t") .. "." .. k)
      lines[#lines + 1] = d ~= "" and ("    %-24s %s"):format(k, d) or ("    " .. k)
    end
  end
  if #others > 0 then
    lines[#lines + 1] = "  values:"
    for _, k in ipairs(others) do
      local v = t[k]
      local desc = is_dtype(v) and "dtype" or tensor_kind(v) or (is_class(v) and "class") or type(v)
      local d = one_line_doc(v, (path or "t") .. "." .. k)
      lines[#lines + 1] = ("    %-24s %s%s"):format(k, desc, d ~= "" and (": " .. d) or "")
    end
  end
  lines[#lines + 1] = "  help(" .. (path or "t") .. ".<name>) describes one member."
  return table.concat(lines, "\n")
end

-- "print", "string.format": where a function lives among Lua's globals.
local function global_name(f)
  for k, v in pairs(_G) do
    if v == f and type(k) == "string" then return k end
  end
  for _, lib in ipairs({ "string", "table", "math", "io", "os", "coroutine", "utf8", "debug", "package" }) do
    local t = rawget(_G, lib)
    if type(t) == "table" then
      for k, v in pairs(t) do
        if v == f and type(k) == "string" then return lib .. "." .. k end
      end
    end
  end
  return nil
end

local function function_text(f, path)
  path = path or global_name(f)
  local info = debug.getinfo(f, "Su")
  if info.what == "C" then
    -- C functions registered with a doc (tf.as_dtype, tf.io.serialize_tensor) show it
    if docs[f] then return docs[f] end
    return ("%s: built-in function (C)%s"):format(path or tostring(f),
      path and not path:find("^tf") and not path:find("^keras") and " from Lua's standard library" or "")
  end
  local params = {}
  for i = 1, info.nparams do params[i] = debug.getlocal(f, i) end
  if info.isvararg then params[#params + 1] = "..." end
  local head = ("%s(%s)"):format(path or "function", table.concat(params, ", "))
  local text = head .. "\n  Lua function defined at " .. info.short_src .. ":" .. info.linedefined
  local doc = docs[f] or keras_doc(f, path)
  if doc then text = text .. "\n  " .. doc:gsub("\n", "\n  ") end
  return text
end

local function own_methods(cls)
  local methods = {}
  for k, v in pairs(cls) do
    if type(k) == "string" and type(v) == "function" and k:sub(1, 1) ~= "_" and k ~= "from_config" then
      methods[#methods + 1] = k
    end
  end
  table.sort(methods)
  return methods
end

local function class_text(cls, path)
  local name = rawget(cls, "class_name")
  local super = rawget(cls, "super")
  local spaths = type(super) == "table" and paths_of(super)
  local sname = spaths and spaths[1] or (type(super) == "table" and rawget(super, "class_name")) or "?"
  local lines = { ("%s: class %s, a subclass of %s"):format(path or name, name, sname) }
  local doc = class_doc(cls, path)
  if doc then
    lines[#lines + 1] = "  " .. doc:gsub("\n", "\n  ")
  else
    local init = rawget(cls, "init") or rawget(cls, "call") or rawget(cls, "build")
    if type(init) == "function" then
      local info = debug.getinfo(init, "S")
      lines[#lines + 1] = ("  defined in Lua at %s:%d"):format(info.short_src, info.linedefined)
    end
    local sdoc = type(super) == "table" and class_doc(super, spaths and spaths[1])
    if sdoc then lines[#lines + 1] = "  inherits: " .. sdoc:match("^[^\n]*") end
  end
  local methods = own_methods(cls)
  if #methods > 0 then
    lines[#lines + 1] = "  methods:"
    lines[#lines + 1] = wrap(methods, "    ")
  end
  if spaths then lines[#lines + 1] = ("  help(%s) for what it inherits."):format(spaths[1]) end
  return table.concat(lines, "\n")
end

local function short_value(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "table" then
    if getmetatable(v) == nil and type(v.class_name) == "string" then return v.class_name .. "{...}" end
    local parts = {}
    for i, x in ipairs(v) do
      if i > 6 then parts[#parts + 1] = "..." break end
      parts[#parts + 1] = type(x) == "table" and "{...}" or tostring(x)
    end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return tostring(v)
end

-- An instance: its class, the class's first doc line, its config.
local function instance_text(x, cls)
  local cpaths = paths_of(cls)
  local cpath = cpaths and cpaths[1] or rawget(cls, "class_name")
  local lines = { ("%s: an instance of %s"):format(tostring(x), cpath) }
  local doc = class_doc(cls, cpaths and cpaths[1])
  if doc then lines[#lines + 1] = "  " .. doc:match("^[^\n]*") end
  local get_config = x.get_config
  if type(get_config) == "function" then
    local ok, cfg = pcall(get_config, x)
    if ok and type(cfg) == "table" then
      local parts = {}
      for _, k in ipairs(sorted_keys(cfg)) do parts[#parts + 1] = k .. "=" .. short_value(cfg[k]) end
      lines[#lines + 1] = "  config:"
      lines[#lines + 1] = wrap(parts, "    ")
    end
  end
  lines[#lines + 1] = ("  help(%s) describes the class."):format(cpath)
  return table.concat(lines, "\n")
end

local OVERVIEW = [[
tlua: TensorFlow-style tensors for Lua 5.4.
  tf        the TensorFlow namespace: tf.constant, tf.Variable, tf.math, tf.nn, ...
  keras     the Keras library (tf.keras)
  help(x)   describes x: an op (tf.matmul), a namespace (tf.math), a tensor,
            a dtype (tf.float32), a class; help("reduce_sum") looks an op up by name.
Namespaces in tf: %s
REPL: expressions print their value (a trailing ';' silences), locals survive
between lines, Tab completes names, fields and tensor methods (x:<Tab>),
Ctrl-C interrupts a computation, Ctrl-D exits. breakpoint() in a script opens
this REPL over the caller's locals; `cont` or Ctrl-D continues.
Indices are 0-based; element-wise comparisons are tf.equal/tf.less or x:eq(y).]]

-- The help text for x (the argument count distinguishes help() from help(nil)).
function M.text(...)
  if select("#", ...) == 0 then
    local ns = {}
    for _, k in ipairs(sorted_keys(tf_root)) do
      local v = tf_root[k]
      if type(v) == "table" and getmetatable(v) == nil and k ~= "core" and k:sub(1, 1) ~= "_"
          and rawget(v, "__index") == nil and k:find("^%l") then
        ns[#ns + 1] = k
      end
    end
    return OVERVIEW:format(table.concat(ns, " "))
  end
  local x = ...
  if type(x) == "string" then
    if core.op_info(x) then return op_text(x, nil) end
    local v = tf_root
    local path = x:gsub("^tf%.", "")
    for part in path:gmatch("[^.]+") do
      v = type(v) == "table" and v[part] or nil
    end
    if v ~= nil and v ~= tf_root then
      return M.text(v)
    end
    return ("%q: a string (%d bytes); help(\"name\") finds ops by name and tf paths " ..
      "such as \"tf.math.add\"."):format(x, #x)
  end
  local paths = (type(x) == "function" or type(x) == "table" or type(x) == "userdata") and paths_of(x)
  local path = paths and paths[1]
  if type(x) == "function" then
    local op = op_name_of(x)
    if op then return op_text(op, path) end
    return function_text(x, path)
  end
  local tk = tensor_kind(x)
  if tk then
    local lines = {}
    local shape = {}
    for i, d in ipairs(x.shape:as_list()) do shape[i] = tostring(d) end
    lines[1] = ("%s: dtype %s, shape [%s], ndim %d, device %s"):format(tk, x.dtype.name,
      table.concat(shape, ","), x.ndim, x.device)
    if tk == "tf.Variable" then
      lines[#lines + 1] = ("  name %q, trainable %s; read with v:value(), write with v:assign(x)")
        :format(x.name, tostring(x.trainable))
    else
      lines[#lines + 1] = "  immutable; x[i] indexes (0-based), x:numpy-like methods below, x:totable()"
    end
    lines[#lines + 1] = "  properties: shape, dtype, ndim, device"
    lines[#lines + 1] = "  methods (x:name(...); help(tf.<name>) for an op):"
    lines[#lines + 1] = methods_text(getmetatable(x))
    return table.concat(lines, "\n")
  end
  if is_dtype(x) then
    local traits = {}
    for _, k in ipairs({ "is_floating", "is_integer", "is_unsigned", "is_bool", "is_complex" }) do
      if x[k] then traits[#traits + 1] = k end
    end
    return ("tf.%s: dtype, %d bytes per element%s"):format(x.name, x.size,
      #traits > 0 and (", " .. table.concat(traits, ", ")) or "")
  end
  if docs[x] then
    return (path and path .. ": " or "") .. docs[x]
  end
  if is_class(x) then return class_text(x, path) end
  if type(x) == "table" and is_class(getmetatable(x)) then return instance_text(x, getmetatable(x)) end
  if type(x) == "table" then
    local d = rawget(x, "__doc") or rawget(x, "doc")
    if type(d) == "string" then
      local lines = { (path or rawget(x, "__name") or rawget(x, "name") or "class") .. ":", "  " .. d:gsub("\n", "\n  ") }
      local methods = {}
      for k, v in pairs(x) do
        if type(k) == "string" and type(v) == "function" and k:sub(1, 1) ~= "_" then methods[#methods + 1] = k end
      end
      table.sort(methods)
      if #methods > 0 then
        lines[#lines + 1] = "  methods:"
        lines[#lines + 1] = wrap(methods, "    ")
      end
      return table.concat(lines, "\n")
    end
    local mt = getmetatable(x)
    if mt == nil then return namespace_text(x, path) end
    local name = rawget(mt, "__name")
    return ("%s: %s%s"):format(tostring(x), name and ("a " .. tostring(name) .. " value") or "a table with a metatable",
      mt.__tostring and "" or "")
  end
  if type(x) == "userdata" and getmetatable(x) and rawget(getmetatable(x), "__help") then
    return getmetatable(x).__help(x) -- a userdata type's own text (tf.TensorArray)
  end
  if x == nil then return "nil: no value (help() gives an overview)" end
  return ("%s: a %s%s"):format(tostring(x), math.type(x) or type(x), "")
end

function M.help(...)
  io.stdout:write(M.text(...), "\n")
  io.stdout:flush()
end

function M.install(tf)
  tf_root = tf
  tf.help = M.help
  M.register(tf.as_dtype, "tf.as_dtype(x): the DType for a DType or a dtype name (\"float32\", \"half\"); "
    .. "anything else is an InvalidArgument error.")
end

return M
