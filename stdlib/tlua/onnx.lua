-- tlua/onnx.lua — tf.onnx.export: a traced function or a Keras model as a
-- standard ONNX file (src/graph/onnx.c writes it with protobuf-c).
--
--   tf.onnx.export(step, "model.onnx", {input_signature = {tf.TensorSpec({nil, 784})}})
--   tf.onnx.export(keras_model, "model.onnx")            -- its call, training=false
--   tf.onnx.export(concrete_fn, path) / tf.onnx.export(core_graph, path)
--
-- opts: input_signature (tf.TensorSpec list, or {shape=, dtype=, name=}
-- tables; a nil dimension is a symbolic ONNX dimension), input_names,
-- output_names, opset (13..17, default 17). Variables are written as
-- initializers holding their current values; the graph must be an
-- inference function (no assignments or optimizer updates). Fused nodes
-- are expanded back into their ops by the exporter.
local core = require("tlua.core")

local M = {}
local tf -- set by install

local function raise(kind, msg) core.raise(kind, msg) end

local function mt_name(x)
  local mt = getmetatable(x)
  return type(mt) == "table" and rawget(mt, "__name") or nil
end

local function is_keras_layer(x)
  if type(x) ~= "table" then return false end
  local ok, layer = pcall(require, "keras.layer")
  return ok and require("tlua.class").is_instance(x, layer.Layer)
end

local known = { input_signature = true, input_names = true, output_names = true, opset = true }

-- opts.input_signature as tf.TensorSpecs.
local function specs_of(sig)
  if sig == nil then return nil end
  if type(sig) ~= "table" then raise("InvalidArgument", "tf.onnx.export: input_signature must be a list of tf.TensorSpec") end
  local out = {}
  for i, s in ipairs(sig) do
    if mt_name(s) == "tf.TensorSpec" then out[i] = s
    elseif type(s) == "table" then out[i] = tf.TensorSpec(s)
    else raise("InvalidArgument", ("tf.onnx.export: input_signature[%d] must be a tf.TensorSpec, got %s"):format(i, type(s))) end
  end
  return out
end

-- The input specs of a Keras model: its Input tensors (functional), or the
-- shape it was built with (the batch made dynamic).
local function model_specs(model)
  local inputs = rawget(model, "inputs")
  if type(inputs) == "table" and #inputs > 0 then
    local out = {}
    for i, kt in ipairs(inputs) do
      local dims = {}
      for d = 1, #kt.shape do dims[d] = kt.shape[d - 1] end
      dims[1] = nil
      out[i] = tf.TensorSpec({ shape = tf.TensorShape(dims, #kt.shape), dtype = kt.dtype, name = kt.name })
    end
    return out
  end
  local s = rawget(model, "_build_input_shape")
  if s ~= nil and getmetatable(s) ~= nil and #s > 0 then
    local dims = {}
    for d = 2, #s do dims[d] = s[d - 1] end
    return { tf.TensorSpec({ shape = tf.TensorShape(dims, #s), dtype = "float32", name = "input" }) }
  end
  raise("InvalidArgument", ("tf.onnx.export: model '%s' has no known input shape: build it (call it once) or give input_signature")
    :format(tostring(model.name)))
end

local function trace_opts(specs)
  -- no fusion: the exporter would expand the fused nodes again
  return { input_signature = specs, optimize = { fuse = false } }
end

-- The core graph and its default names for what export was given.
local function resolve(f, opts)
  if mt_name(f) == "tl.Graph" then return f, {} end
  local specs = specs_of(opts.input_signature)
  local cf
  if mt_name(f) == "tf.ConcreteFunction" then
    cf = f
  elseif mt_name(f) == "tf.Function" then
    if not specs and rawget(f, "_signature") == nil then
      raise("InvalidArgument", "tf.onnx.export: the tf.trace function has no input_signature: give opts.input_signature "
        .. "(or export one of its concrete functions)")
    end
    cf = specs and f:get_concrete_function(table.unpack(specs)) or f:get_concrete_function()
  elseif is_keras_layer(f) then
    specs = specs or model_specs(f)
    local model = f
    local fn = function(...)
      local args = table.pack(...)
      if args.n == 1 then return model(args[1], { training = false }) end
      return model({ table.unpack(args, 1, args.n) }, { training = false })
    end
    cf = tf.trace(fn, trace_opts(specs)):get_concrete_function()
  elseif type(f) == "function" then
    if not specs then raise("InvalidArgument", "tf.onnx.export: a plain function needs opts.input_signature") end
    cf = tf.trace(f, trace_opts(specs)):get_concrete_function()
  else
    raise("InvalidArgument", ("tf.onnx.export: expected a tf.trace function, a concrete function, a Keras model or a graph, got %s")
      :format(mt_name(f) or type(f)))
  end
  local names = {}
  for i, s in ipairs(cf.input_signature or specs or {}) do
    local given = specs and specs[i]
    if given and type(given.name) == "string" then names[i] = given.name
    elseif type(s) == "table" and type(s.name) == "string" then names[i] = s.name end
  end
  return cf.graph, names
end

function M.export(f, path, opts)
  opts = opts or {}
  if type(path) ~= "string" then raise("InvalidArgument", ("tf.onnx.export: path must be a string, got %s"):format(type(path))) end
  if type(opts) ~= "table" then raise("InvalidArgument", "tf.onnx.export: options must be a table") end
  for k in pairs(opts) do
    if not known[k] then raise("InvalidArgument", ("tf.onnx.export: unknown option '%s'"):format(tostring(k))) end
  end
  if not core.onnx.available() then
    raise("Unimplemented", "tf.onnx.export: this tlua was built without protobuf-c (install libprotobuf-c-dev, "
      .. "protobuf-c-compiler and libonnx-dev, then rebuild)")
  end
  local g, names = resolve(f, opts)
  core.onnx.export(g, path, {
    arg_names = opts.input_names or names,
    output_names = opts.output_names,
    opset = opts.opset,
  })
  return path
end

function M.install(t)
  tf = t
  t.onnx = { export = M.export, available = core.onnx.available }
  local help = require("tlua.help")
  help.register(M.export, "tf.onnx.export(fn, path, {input_signature=, input_names=, output_names=, opset=17}): "
    .. "writes fn (a tf.trace function, a concrete function, a Keras model or a plain function with input_signature) "
    .. "as a standard ONNX model; variables become initializers with their current values; an op without an ONNX "
    .. "rendering, an assignment or a random op is an error naming it and its Lua line (docs/file-formats.md)")
  help.register(core.onnx.available, "tf.onnx.available(): whether this tlua was built with protobuf-c (ONNX export)")
end

return M
