-- tf.saved_model: a traced function, or a Keras model's traced call, in one
-- data-only file (docs/file-formats.md, "tlua saved model"), and back.
--
--   tf.saved_model.save(obj, "model.tlsm", opts)
--   local m = tf.saved_model.load("model.tlsm")
--   local y = m(x)                               -- the "serving_default" function
--   local y = m.signatures.serving_default(x)    -- the same, by name
--   m.variables, m.trainable_variables           -- real tf.Variables (fine-tuning works)
--
-- What `obj` may be:
--   * a tf.Function (tf.trace(fn)): each of its concrete functions (the
--     traces made so far, or the one opts.input_signature / opts.args asks
--     for), the first as "serving_default";
--   * a Keras model: its call(x, {training=false}) traced on its input shape
--     with a dynamic batch dimension (or opts.input_signature);
--   * a Lua function with opts.input_signature (a list of tf.TensorSpec or
--     {shape=, dtype=} tables; nil dimensions are dynamic);
--   * a core graph, or a table {name = graph | tf.Function | ConcreteFunction}.
-- opts: input_signature, args (example arguments for a tf.Function),
-- signatures (same as a table obj), arg_names, output_names (lists).
--
-- A loaded function runs its graph through the executor: every op goes
-- through the dispatcher, so a GradientTape around the call records it and
-- gradients reach the loaded variables; inside tf.trace the call is traced
-- too (its ops are inlined into the new graph). The file holds no Lua code.
local core = require("tlua.core")
local G = core.graph

local M = {}

local function raise(kind, fmt, ...) core.raise(kind, select("#", ...) > 0 and fmt:format(...) or fmt) end

local Function, Loaded = {}, {} -- loaded objects (below)

local SAVE_OPTS = { input_signature = true, args = true, signatures = true, arg_names = true, output_names = true }

local function graph_of(x)
  local mt = type(x) == "userdata" and getmetatable(x)
  return (mt and mt.__name == "tl.Graph") and x or nil
end

-- A spec as (dtype, dims table with .n): tf.TensorSpec, {shape=, dtype=}, or a tensor.
local function spec_dims(tf, spec, who, i)
  local dtype, shape
  if core.is_tensor(spec) then
    dtype, shape = spec.dtype, spec.shape:as_list()
  elseif type(spec) == "table" then
    dtype = spec.dtype or tf.float32
    shape = spec.shape
  else
    raise("InvalidArgument", "%s: input_signature[%d] must be a tf.TensorSpec, {shape=, dtype=} or a tensor, got %s", who, i,
      type(spec))
  end
  if type(dtype) == "string" then dtype = tf.as_dtype(dtype) end
  local dims = { n = 0 }
  if type(shape) == "table" and shape.as_list then
    local ok, l = pcall(shape.as_list, shape)
    shape = ok and l or nil
  end
  if shape == nil then raise("InvalidArgument", "%s: input_signature[%d] has no known rank", who, i) end
  local n = shape.n or #shape
  for k = 1, n do
    dims[k] = shape[k] ~= nil and shape[k] >= 0 and shape[k] or nil
  end
  dims.n = n
  return dtype, dims
end

-- Traces fn on symbolic arguments with the raw tracer: the graph of one call.
local function trace_with_specs(tf, fn, specs, who)
  local tr = G.trace_begin()
  local ok, res = pcall(function()
    local args = {}
    for i, spec in ipairs(specs) do
      local dtype, dims = spec_dims(tf, spec, who, i)
      args[i] = G.trace_arg(tr, dtype, dims)
    end
    local outs = table.pack(fn(table.unpack(args, 1, #specs)))
    local list = {}
    for i = 1, outs.n do
      local o = outs[i]
      if type(o) == "table" and not core.is_tensor(o) then
        for _, v in ipairs(o) do list[#list + 1] = v end -- a list of outputs
      else
        list[#list + 1] = o
      end
    end
    return G.trace_end(tr, list)
  end)
  if not ok then
    G.trace_abort(tr)
    error(res, 0)
  end
  return res
end

local function is_keras_model(obj)
  if type(obj) ~= "table" then return false end
  local ok, r = pcall(function() return obj.get_build_config ~= nil and obj.call ~= nil and obj.layers ~= nil end)
  return ok and r
end

-- The model's input specs: its build config or first layer's declared shape, batch dimension dynamic.
local function model_specs(tf, model)
  local shape
  local cfg = model:get_build_config()
  if cfg and cfg.input_shape then shape = cfg.input_shape end
  if not shape then
    local first = model.layers and model.layers[1]
    local s = first and (rawget(first, "_input_batch_shape") or rawget(first, "_batch_input_shape"))
    if s and s.as_list then s = s:as_list() end
    shape = s
  end
  if not shape then
    raise("InvalidArgument", "saved_model.save: model '%s' has no known input shape; call it once, build it, or pass "
      .. "{input_signature = {tf.TensorSpec{shape = {nil, ...}, dtype = ...}}}", tostring(model.name))
  end
  local function one(s)
    local dims = { n = s.n or #s }
    for k = 2, dims.n do dims[k] = s[k] end
    return { shape = dims, dtype = tf.float32 }
  end
  if type(shape[1]) == "table" then
    local specs = {}
    for i, s in ipairs(shape) do specs[i] = one(s) end
    return specs, true
  end
  return { one(shape) }, false
end

-- The concrete functions of a tf.Function to save, as {graph=, input_signature=} tables.
local function as_specs(tf, list)
  local specs = {}
  for i, s in ipairs(list) do
    specs[i] = (type(s) == "table" and getmetatable(s) == nil) and tf.TensorSpec(s) or s
  end
  return specs
end

local function concrete_functions(tf, f, opts)
  local cfs = {}
  if opts.input_signature then
    cfs[1] = f:get_concrete_function(table.unpack(as_specs(tf, opts.input_signature)))
  elseif opts.args then
    cfs[1] = f:get_concrete_function(table.unpack(opts.args))
  elseif rawget(f, "_signature") then
    cfs[1] = f:get_concrete_function()
  else
    for _, s in ipairs(f:signatures()) do cfs[#cfs + 1] = s.concrete end
  end
  if #cfs == 0 then
    raise("InvalidArgument", "saved_model.save: the traced function has no trace yet; call it once, or pass "
      .. "{input_signature = {...}} or {args = {...}}")
  end
  return cfs
end

local function graph_from(tf, x, opts, who)
  local g = graph_of(x)
  if g then return g end
  if type(x) == "table" and not is_keras_model(x) and not x.get_concrete_function then
    local ok, gg = pcall(function() return x.graph end) -- a ConcreteFunction
    if ok and graph_of(gg) then return gg end
  end
  if is_keras_model(x) then
    local specs, multi = opts.input_signature or nil, false
    if not specs then specs, multi = model_specs(tf, x) end
    if not x.built then
      -- variables are made eagerly (on zeros, unknown dimensions 1) before the call is traced
      local zs = {}
      for i, spec in ipairs(specs) do
        local dtype, dims = spec_dims(tf, spec, who, i)
        local concrete = {}
        for k = 1, dims.n do concrete[k] = dims[k] or 1 end
        zs[i] = tf.zeros(concrete, dtype)
      end
      x((multi or #zs > 1) and zs or zs[1], { training = false })
    end
    return trace_with_specs(tf, function(...)
      local args = table.pack(...)
      local input = (multi or args.n > 1) and { ... } or args[1]
      return x(input, { training = false })
    end, specs, who)
  end
  if type(x) == "table" and x.get_concrete_function then
    return concrete_functions(tf, x, opts)[1].graph
  end
  if type(x) == "function" then
    if not opts.input_signature then
      raise("InvalidArgument", "%s: a plain Lua function needs {input_signature = {...}} (or trace it with tf.trace)", who)
    end
    return trace_with_specs(tf, x, opts.input_signature, who)
  end
  raise("InvalidArgument", "%s: cannot save a %s (a traced function, a Keras model, a graph, or a table of them)", who,
    type(x))
end

local function fn_entry(name, g, arg_names, output_names)
  return { name = name, graph = g, arg_names = arg_names or {}, output_names = output_names or {} }
end

function M.save(tf, obj, path, opts)
  local who = "saved_model.save"
  opts = require("tlua.errors").check_options(who, opts, SAVE_OPTS)
  if type(path) ~= "string" then raise("InvalidArgument", "%s: path must be a string, got %s", who, type(path)) end
  local fns, variables = {}, nil
  local sigs = opts.signatures
  if sigs == nil and type(obj) == "table" and getmetatable(obj) == nil and not obj.get_concrete_function then sigs = obj end
  if getmetatable(obj) == Loaded then -- a loaded model saved again
    for i, f in ipairs(obj._functions) do fns[i] = fn_entry(f.name, f.graph, f.arg_names, f.output_names) end
    variables = obj.variables
  elseif sigs ~= nil then
    local names = {}
    for k in pairs(sigs) do
      if type(k) ~= "string" then raise("InvalidArgument", "%s: signatures must be a table {name = function}", who) end
      names[#names + 1] = k
    end
    table.sort(names, function(a, b)
      if a == "serving_default" then return b ~= "serving_default" end
      if b == "serving_default" then return false end
      return a < b
    end)
    for _, k in ipairs(names) do fns[#fns + 1] = fn_entry(k, graph_from(tf, sigs[k], {}, who)) end
  elseif type(obj) == "table" and obj.get_concrete_function and not is_keras_model(obj) then
    for i, cf in ipairs(concrete_functions(tf, obj, opts)) do
      fns[#fns + 1] = fn_entry(i == 1 and "serving_default" or ("serving_default_" .. (i - 1)), cf.graph)
    end
  else
    fns[1] = fn_entry("serving_default", graph_from(tf, obj, opts, who), opts.arg_names, opts.output_names)
  end
  if is_keras_model(obj) then
    variables = {}
    for i, v in ipairs(obj.variables or obj.weights or {}) do variables[i] = v end
  end
  if opts.arg_names then fns[1].arg_names = opts.arg_names end
  if opts.output_names then fns[1].output_names = opts.output_names end
  G.save_model(path, fns, variables)
end

-- ---- loading ------------------------------------------------------------

Function.__index = Function
Function.__name = "tf.saved_model.LoadedFunction"

local function to_arg(tf, self, i, x)
  if core.is_tensor(x) then return x end
  local spec = self.input_signature[i]
  return tf.constant(x, spec and spec.dtype or nil)
end

-- f(x, ...) -> outputs (one value per output)
function Function.__call(self, ...)
  local outs = self:call_flat(table.pack(...))
  return table.unpack(outs, 1, self.n_outputs)
end

-- f:call_flat({args}) -> {outputs}
function Function:call_flat(args)
  local n = args.n or #args
  if n ~= #self.input_signature then
    raise("InvalidArgument", "%s takes %d argument%s (%s), got %d", self.name, #self.input_signature,
      #self.input_signature == 1 and "" or "s", self:_describe_args(), n)
  end
  local list = {}
  for i = 1, n do list[i] = to_arg(self._tf, self, i, args[i]) end
  return G.call(self.graph, list)
end

-- f:call_named(args) -> {output_name = tensor} (unnamed outputs: "output_<i>", 0-based)
function Function:call_named(...)
  local outs = self:call_flat(table.pack(...))
  local r = {}
  for i, t in ipairs(outs) do
    local name = self.output_names[i]
    r[name or ("output_" .. (i - 1))] = t
  end
  return r
end

function Function:_describe_args()
  local parts = {}
  for i, s in ipairs(self.input_signature) do parts[i] = (self.arg_names[i] or ("arg" .. i)) .. ": " .. s.text end
  return table.concat(parts, ", ")
end

function Function.__tostring(self)
  return ("<LoadedFunction %s(%s)>"):format(self.name, self:_describe_args())
end

local function parse_meta(tf, text)
  local dt, dims = text:match("^(%w+)%[(.*)%]$")
  if not dt then return { text = text } end
  local shape = { n = 0 }
  if dims ~= "..." then
    for d in dims:gmatch("[^,]+") do
      shape.n = shape.n + 1
      shape[shape.n] = tonumber(d)
    end
  else
    shape = nil
  end
  return { dtype = tf.as_dtype(dt), shape = shape, text = text }
end

Loaded.__index = Loaded
Loaded.__name = "tf.saved_model.Loaded"

function Loaded.__call(self, ...)
  local f = self.signatures.serving_default or self._functions[1]
  return f(...)
end

function Loaded.__tostring(self)
  local names = {}
  for i, f in ipairs(self._functions) do names[i] = f.name end
  return ("<tf.saved_model: %s; %d variables>"):format(table.concat(names, ", "), #self.variables)
end

function M.load(tf, path, opts)
  if type(path) ~= "string" then raise("InvalidArgument", "saved_model.load: path must be a string, got %s", type(path)) end
  require("tlua.errors").check_options("saved_model.load", opts, {})
  local raw = G.load_model(path)
  local obj = setmetatable({ variables = raw.variables, trainable_variables = {}, signatures = {}, _functions = {},
    _path = path }, Loaded)
  for _, v in ipairs(raw.variables) do
    if v.trainable then obj.trainable_variables[#obj.trainable_variables + 1] = v end
  end
  for i, rf in ipairs(raw.functions) do
    local info = rf.graph:info()
    local f = setmetatable({ name = rf.name, graph = rf.graph, _tf = tf, input_signature = {}, output_signature = {},
      arg_names = {}, output_names = {}, n_outputs = info.n_outputs }, Function)
    for k, text in ipairs(info.args) do f.input_signature[k] = parse_meta(tf, text) end
    for k, text in ipairs(info.outputs) do f.output_signature[k] = parse_meta(tf, text) end
    for k = 1, info.n_args do f.arg_names[k] = rf.arg_names[k] or nil end
    for k = 1, info.n_outputs do f.output_names[k] = rf.output_names[k] or nil end
    obj._functions[i] = f
    obj.signatures[rf.name] = f
    if obj[rf.name] == nil then obj[rf.name] = f end
  end
  return obj
end

function M.install(tf)
  tf.saved_model = tf.saved_model or {}
  tf.saved_model.save = function(obj, path, opts) return M.save(tf, obj, path, opts) end
  tf.saved_model.load = function(path, opts) return M.load(tf, path, opts) end
  local help = require("tlua.help")
  help.register(tf.saved_model.save, "tf.saved_model.save(obj, path, {input_signature=, args=, signatures=, "
    .. "arg_names=, output_names=}): a tf.trace function (its traces), a Keras model (its call, batch dimension "
    .. "dynamic), a Lua function with input_signature, or {name = function} as one data-only file with the "
    .. "variables' values. Layout: docs/file-formats.md; tlua-run runs it without Lua.")
  help.register(tf.saved_model.load, "tf.saved_model.load(path): m(x) calls 'serving_default', "
    .. "m.signatures.NAME(x) any function; m.variables are tf.Variables (fine-tune them with a GradientTape); "
    .. "inside tf.trace the calls are traced. A damaged file is a DataLoss error.")
  tf.saved_model.SERVING = "serve"
  tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY = "serving_default"
end

return M
