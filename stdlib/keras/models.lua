-- keras.models: Model (subclassed and functional), Sequential, keras.Input
-- (KerasTensor, InputLayer), the functional node graph, summary(),
-- get_layer, get_config/from_config, and model:save/save_weights/load_weights
-- (delegated to keras.saving). compile/fit/evaluate/predict live in
-- keras/training.lua and are mixed into Model.
--
--   local model = keras.Sequential{ keras.layers.Dense(10, {input_shape = {4}}) }
--   local x = keras.Input{shape = {4}}; local y = keras.layers.Dense(2)(x)
--   local m = keras.Model{inputs = x, outputs = y}
--   local M = keras.Model:extend("MyModel")   -- init calls M.super.init(self, opts); defines call
--
-- Invariants: a KerasTensor (`_keras_tensor == true`) is symbolic: it holds
-- a TensorShape with nil for unknown dims (the batch), a dtype name and the
-- node that produced it. Calling a layer on KerasTensors goes through
-- _call_symbolic, which builds the layer, computes the output shape with
-- layer:compute_output_shape or, if the layer has none (Unimplemented or
-- missing), by calling it eagerly on zeros whose unknown dims are 1, with
-- training=false, and records a node {layer, inputs, outputs}. A functional
-- model runs its nodes in topological order (computed once). Containers
-- (Sequential, functional) keep their layers in raw fields, not in the
-- Layer base's attribute tracking; their weights/layers/losses/metrics
-- properties are computed here, in layer order (Keras's order).
-- keras.Model{inputs=, outputs=} returns a Functional (a Model subclass, so
-- configs say "Functional" as Keras's do); the graph code is keras/functional.lua,
-- summary() is keras/summary.lua.
-- Not done: KerasTensor arithmetic (x + y): use keras.layers.Add()({x, y});
-- masks; graph tracing (everything runs eagerly; run_eagerly/dynamic are
-- only recorded); clone_model.
local class = require("tlua.class")
local core = require("tlua.core")
local Layer = require("keras.layer").Layer

local M = {}

local raise = core.raise
local function tf() return require("tlua") end

local function dtype_name(d)
  if d == nil then return "float32" end
  if type(d) == "string" then return d end
  return d.name or tostring(d)
end

local function is_plain(t) return type(t) == "table" and getmetatable(t) == nil end
local function is_kt(x) return type(x) == "table" and x._keras_tensor == true end

-- Shape (TensorShape, a list with holes, or a list of shapes) -> "(None, 784)".
local ShapeMeta = require("tlua.shape").Shape
local function shape_str(s)
  if s == nil then return "?" end
  if is_plain(s) and (getmetatable(s[1]) == ShapeMeta or is_plain(s[1])) then
    local parts = {}
    for i, x in ipairs(s) do parts[i] = shape_str(x) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  return tostring(tf().TensorShape(s))
end
M._shape_str = shape_str

-- ---- KerasTensor -------------------------------------------------------------

local KerasTensor = class("KerasTensor")
M.KerasTensor = KerasTensor
KerasTensor._keras_tensor = true

function KerasTensor:init(shape, dtype, name)
  self.shape = tf().TensorShape(shape)
  self.ndim = #self.shape
  self.dtype = tf().as_dtype(dtype_name(dtype)) -- a DType, as a tensor's
  self.name = name
  self._node = nil        -- the node that produced it
  self._tensor_index = 0  -- its position among that node's outputs (0-based)
end

function KerasTensor:__tostring()
  return ("<KerasTensor shape=%s, dtype=%s, name=%s>"):format(tostring(self.shape), self.dtype.name, tostring(self.name))
end

local function no_arith()
  raise("Unimplemented", "KerasTensor arithmetic is not supported: use keras.layers.Add()({a, b}), "
    .. "Multiply, Concatenate or a Lambda layer")
end
for _, mm in ipairs({ "__add", "__sub", "__mul", "__div", "__unm", "__pow", "__mod", "__idiv" }) do
  KerasTensor[mm] = no_arith
end

-- Flattens a KerasTensor structure (one, a list, or a name-keyed table)
-- into a list; keys of a name-keyed table in sorted order.
local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end
M._sorted_keys = sorted_keys

local function flatten(x, out)
  out = out or {}
  if x == nil then return out end
  if is_kt(x) or core.is_tensor(x) then out[#out + 1] = x return out end
  if is_plain(x) then
    if x[1] ~= nil then
      for _, v in ipairs(x) do flatten(v, out) end
    else
      for _, k in ipairs(sorted_keys(x)) do flatten(x[k], out) end
    end
    return out
  end
  out[#out + 1] = x
  return out
end
M._flatten = flatten

-- ---- InputLayer and keras.Input -------------------------------------------------

local InputLayer = Layer:extend("InputLayer")
M.InputLayer = InputLayer

function InputLayer:init(opts)
  opts = opts or {}
  local shape = opts.batch_input_shape or opts.batch_shape
  if getmetatable(shape) == ShapeMeta then shape = shape:as_list() end
  if shape == nil then
    local s = opts.input_shape or opts.shape
    if s == nil then raise("InvalidArgument", "InputLayer: give shape= (without the batch) or batch_input_shape=") end
    if getmetatable(s) == ShapeMeta then s = s:as_list() end
    if type(s) ~= "table" then
      raise("InvalidArgument", ("InputLayer: shape must be a list of dimensions (nil for unknown), got %s %s"):format(type(s), tostring(s)))
    end
    if type(s) == "number" then s = { s } end
    local n = s.n or #s
    shape = { n = n + 1 }
    for i = 1, n do shape[i + 1] = s[i] end
    if opts.batch_size then shape[1] = opts.batch_size end
  end
  local base = { name = opts.name, dtype = dtype_name(opts.dtype), trainable = false }
  InputLayer.super.init(self, base)
  if type(shape) ~= "table" then
    raise("InvalidArgument", ("InputLayer: batch_input_shape must be a list of dimensions, got %s"):format(type(shape)))
  end
  for k, d in pairs(shape) do
    if k ~= "n" and d ~= nil and (math.type(d) ~= "integer" or d < 0) then
      raise("InvalidArgument", ("InputLayer: shape must be a list of dimensions: dimension %s must be a non-negative integer (nil for unknown), got %s")
        :format(math.type(k) == "integer" and tostring(k - 1) or tostring(k), tostring(d)))
    end
  end
  local n = shape.n or #shape
  local dims = { n = n }
  for i = 1, n do dims[i] = shape[i] end
  rawset(self, "_input_batch_shape", dims)
  rawset(self, "_input_dtype", dtype_name(opts.dtype))
  self.built = true
  local kt = KerasTensor(tf().TensorShape(dims, n), dtype_name(opts.dtype), self.name)
  local node = { layer = self, inputs = nil, flat_inputs = {}, outputs = kt, flat_outputs = { kt }, opts = {} }
  rawset(self, "_nodes", { node })
  node.index = 0
  kt._node = node
  rawset(self, "_output", kt)
end

function InputLayer:call(x) return x end
function InputLayer:compute_output_shape(s) return s end

function InputLayer:get_config()
  local s = self._input_batch_shape
  local list = { n = s.n }
  for i = 1, s.n do list[i] = s[i] end
  return { batch_input_shape = list, dtype = self._input_dtype, name = self.name, sparse = false, ragged = false }
end
InputLayer.from_config = function(cfg) return InputLayer(cfg) end

-- keras.Input{shape=, dtype=, name=, batch_size=} / keras.Input({784}) -> KerasTensor.
function M.Input(shape, opts)
  if is_plain(shape) and (shape.shape or shape.batch_shape or shape.batch_input_shape or shape.name or shape.dtype) then
    opts = shape
  else
    local o = { shape = shape }
    for k, v in pairs(opts or {}) do o[k] = v end -- every key, so check_options names a typo
    opts = o
  end
  require("tlua.errors").check_options("keras.Input", opts,
    { shape = true, dtype = true, name = true, batch_size = true, batch_shape = true, batch_input_shape = true, sparse = true, ragged = true })
  if opts.sparse or opts.ragged then
    raise("Unimplemented", ("keras.Input: %s inputs are not supported yet (sparse and ragged tensors come with the structured-types issue)")
      :format(opts.sparse and "sparse" or "ragged"))
  end
  return InputLayer(opts)._output
end

-- ---- symbolic calls ---------------------------------------------------------------

local function nodes_of(layer)
  local n = rawget(layer, "_nodes")
  if not n then
    n = {}
    rawset(layer, "_nodes", n)
  end
  return n
end

-- Builds layer (once) for input shape(s), as the Layer base's first call does.
local function ensure_built(layer, shape)
  if rawget(layer, "built") then return end
  layer:_ensure_built(shape)
end
M._ensure_built = ensure_built

local function shapes_of(inputs)
  if is_kt(inputs) then return inputs.shape end
  local out = {}
  if inputs[1] ~= nil then
    for i, x in ipairs(inputs) do out[i] = x.shape end
  else
    for k, x in pairs(inputs) do out[k] = x.shape end
  end
  return out
end

-- A concrete zeros stand-in for a KerasTensor (unknown dims = 1).
local function probe_value(kt)
  local s = kt.shape
  local dims = {}
  for i = 1, #s do dims[i] = s[i - 1] or 1 end
  return tf().zeros(dims, kt.dtype.name)
end

local function map_structure(x, fn)
  if is_kt(x) or core.is_tensor(x) then return fn(x) end
  local out = {}
  for k, v in pairs(x) do out[k] = map_structure(v, fn) end
  return out
end

-- The output shape(s) of layer on inputs: compute_output_shape, else an
-- eager probe on zeros (dims that were unknown in the first input come
-- back unknown at the same position).
local function output_spec(layer, inputs, in_shape, opts)
  local ok, out = false, nil
  if layer.compute_output_shape then
    ok, out = pcall(layer.compute_output_shape, layer, in_shape)
    if not ok then
      local err = out
      if not (type(err) == "table" and err.kind == "Unimplemented") then error(err, 0) end
    end
  end
  if ok and out ~= nil then
    local dt = dtype_name(layer.dtype)
    if getmetatable(out) == ShapeMeta or (is_plain(out) and type(out[1]) ~= "table") then
      return { shape = tf().TensorShape(out), dtype = dt }
    end
    local list = {}
    for i, s in ipairs(out) do list[i] = { shape = tf().TensorShape(s), dtype = dt } end
    list.multi = true
    return list
  end
  -- probe eagerly
  local args = map_structure(inputs, probe_value)
  local popts = { training = false }
  if opts then for k, v in pairs(opts) do popts[k] = v end popts.training = false end
  local y = layer(args, popts)
  local first = flatten(inputs)[1]
  local unknown = {}
  for i = 1, #first.shape do unknown[i] = first.shape[i - 1] == nil end
  local function spec_of(t)
    local s = t.shape
    local dims = { n = #s }
    for i = 1, #s do
      if unknown[i] then dims[i] = nil else dims[i] = s[i - 1] end
    end
    return { shape = tf().TensorShape(dims, #s), dtype = dtype_name(t.dtype) }
  end
  if core.is_tensor(y) then return spec_of(y) end
  local list = {}
  for i, t in ipairs(y) do list[i] = spec_of(t) end
  list.multi = true
  return list
end

-- Called by the Layer base's __call when an input is a KerasTensor.
function M._call_symbolic(layer, inputs, opts)
  local flat = flatten(inputs)
  for i, x in ipairs(flat) do
    if not is_kt(x) then
      raise("InvalidArgument", ("%s '%s': a functional call mixes KerasTensors with %s (input %d); "
        .. "make every input a keras.Input or layer output"):format(getmetatable(layer).class_name, layer.name, type(x), i))
    end
  end
  local in_shape = shapes_of(inputs)
  local spec_ = rawget(layer, "input_spec")
  if spec_ then require("keras.layer").check_input_spec(layer, spec_, inputs) end
  ensure_built(layer, in_shape)
  local spec = output_spec(layer, inputs, in_shape, opts)
  local node_opts = {}
  if opts then for k, v in pairs(opts) do node_opts[k] = v end end
  local nodes = nodes_of(layer)
  local node = { layer = layer, inputs = inputs, flat_inputs = flat, opts = node_opts, index = #nodes }
  local outputs, flat_out
  if spec.multi then
    outputs, flat_out = {}, {}
    for i, s in ipairs(spec) do
      local kt = KerasTensor(s.shape, s.dtype, layer.name .. "/" .. (i - 1))
      kt._node, kt._tensor_index = node, i - 1
      outputs[i], flat_out[i] = kt, kt
    end
  else
    outputs = KerasTensor(spec.shape, spec.dtype, layer.name)
    outputs._node = node
    flat_out = { outputs }
  end
  node.outputs, node.flat_outputs = outputs, flat_out
  nodes[#nodes + 1] = node
  return outputs
end

-- ---- Model ----------------------------------------------------------------------

local Model = Layer:extend("Model")
M.Model = Model

local layer_call = rawget(Layer, "__call")
local define_property = require("keras.layer").define_property
local base_props = Layer._properties

-- Base property (as the Layer base computes it) for self.
local function base_prop(self, k) return base_props[k](self) end

local UNBUILT = "This model has not yet been built. Build the model first by calling `build()` "
  .. "or by calling the model on a batch of data."
M._UNBUILT = UNBUILT

local function container_layers(self)
  return rawget(self, "_graph_layers") or rawget(self, "_seq_layers")
end

local function check_built(self, what)
  if not self.built then
    raise("FailedPrecondition", ("%s '%s': %s%s"):format(getmetatable(self).class_name, self.name,
      what and (what .. ": ") or "", UNBUILT))
  end
end

local function subclass_guard(self)
  -- An unbuilt subclassed model (or Sequential without input shape) has no weights yet.
  if not self.built and not rawget(self, "_graph_layers") then
    local seq = rawget(self, "_seq_layers")
    if seq == nil or #seq > 0 then raise("FailedPrecondition", ("%s '%s': %s"):format(getmetatable(self).class_name, self.name, UNBUILT)) end
  end
end

-- Model weights are in layer order (Keras's Model.weights: each layer's
-- variables in turn, then the model's own), deduplicated.
local function model_weights(self)
  subclass_guard(self)
  local out, seen = {}, {}
  local function add(list)
    for _, v in ipairs(list) do
      if not seen[v] then seen[v] = true out[#out + 1] = v end
    end
  end
  for _, l in ipairs(self.layers) do add(l.weights) end
  add(rawget(self, "_own_trainable"))
  add(rawget(self, "_own_non_trainable"))
  return out
end
define_property(Model, "weights", model_weights)
define_property(Model, "variables", model_weights)
local function tw(self) subclass_guard(self) return base_prop(self, "trainable_weights") end
local function ntw(self) subclass_guard(self) return base_prop(self, "non_trainable_weights") end
define_property(Model, "trainable_weights", tw)
define_property(Model, "trainable_variables", tw)
define_property(Model, "non_trainable_weights", ntw)
define_property(Model, "non_trainable_variables", ntw)

define_property(Model, "layers", function(self)
  local l = container_layers(self)
  if not l then return base_prop(self, "layers") end
  local out = {}
  local hide_input = rawget(self, "_seq_layers") ~= nil
  for _, x in ipairs(l) do
    if not (hide_input and class.is_instance(x, InputLayer)) then out[#out + 1] = x end
  end
  return out
end)

-- Metrics added with add_metric (by the model and its layers: the base
-- walks `layers`).
local function added_metrics(self) return base_prop(self, "metrics") end
M._added_metrics = added_metrics

-- Keras's model.metrics: the loss tracker and compiled metrics (once
-- compiled and used), then metrics added with add_metric.
local function model_metrics(self)
  local out = {}
  local c = rawget(self, "_compiled")
  if c and c.metrics_ready then
    for _, m in ipairs(c.all_metrics) do out[#out + 1] = m end
  end
  for _, m in ipairs(added_metrics(self)) do out[#out + 1] = m end
  return out
end
define_property(Model, "metrics", model_metrics)
define_property(Model, "metrics_names", function(self)
  local out = {}
  for i, m in ipairs(model_metrics(self)) do out[i] = m.name end
  return out
end)
-- model.run_eagerly: true when compile{run_eagerly=true}, set on the
-- model, or the model or one of its layers is dynamic=true; fit, evaluate
-- and predict then run their steps eagerly instead of traced (training.lua).
define_property(Model, "run_eagerly", function(self)
  return require("keras.training").runs_eagerly(self)
end, function(self, v)
  if v ~= nil and type(v) ~= "boolean" then
    raise("InvalidArgument", ("%s '%s': run_eagerly must be a boolean, got %s"):format(
      getmetatable(self).class_name, self.name, type(v)))
  end
  if v == false and require("keras.training").dynamic_layer(self) then
    raise("InvalidArgument", ("%s '%s': the model has dynamic=true layers, which run eagerly only; "
      .. "it cannot be set to run_eagerly=false"):format(getmetatable(self).class_name, self.name))
  end
  rawset(self, "_run_eagerly", v)
end)

function Model:init(opts)
  opts = opts or {}
  local base = {}
  if is_plain(opts) then
    for k, v in pairs(opts) do
      if k ~= "inputs" and k ~= "outputs" then base[k] = v end
    end
  end
  Model.super.init(self, base)
  rawset(self, "stop_training", false)
  rawset(self, "history", nil)
  if is_plain(opts) and (opts.inputs ~= nil or opts.outputs ~= nil) then
    require("keras.functional").init_graph(self, opts.inputs, opts.outputs)
    -- keras.Model{inputs=, outputs=} is a Functional model, as in Keras
    if getmetatable(self) == Model then setmetatable(self, M.Functional) end
  end
end

-- The first eager call builds through the Layer base (Model.build then has
-- nothing left to probe: _build_by_call). Name-keyed inputs (a functional model with dict inputs) go to the Layer
-- base as the list in the model's key order (the base converts only lists),
-- or straight to the graph builder when they are KerasTensors.
Model.__call = function(self, inputs, opts)
  if type(inputs) == "table" and getmetatable(inputs) == nil and inputs[1] == nil and next(inputs) ~= nil then
    for _, v in pairs(inputs) do
      if is_kt(v) then return M._call_symbolic(self, inputs, opts) end
    end
    local g = rawget(self, "_graph")
    if g and g.in_keys then
      for k in pairs(inputs) do
        local known = false
        for _, name in ipairs(g.in_keys) do known = known or name == k end
        if not known then
          raise("InvalidArgument", ("%s '%s': no input named '%s' (its inputs: %s)"):format(
            getmetatable(self).class_name, self.name, tostring(k), table.concat(g.in_keys, ", ")))
        end
      end
      local list = {}
      for i, k in ipairs(g.in_keys) do
        if inputs[k] == nil then
          raise("InvalidArgument", ("%s '%s': missing input '%s' (inputs: %s)"):format(
            getmetatable(self).class_name, self.name, k, table.concat(g.in_keys, ", ")))
        end
        list[i] = inputs[k]
      end
      inputs = list
    end
  end
  if not rawget(self, "built") then rawset(self, "_build_by_call", true) end
  return layer_call(self, inputs, opts)
end

-- build(input_shape) of a subclassed model: calls the model on zeros (unknown
-- dims = 1, training=false) so every sublayer makes its weights, as Keras's
-- Model.build does with placeholders.
function Model:build(input_shape)
  if rawget(self, "_build_by_call") then
    rawset(self, "_build_by_call", nil)
    rawset(self, "_build_input_shape", input_shape)
    return
  end
  if self.built then return end
  if input_shape == nil then raise("InvalidArgument", ("Model '%s': build needs an input_shape"):format(self.name)) end
  local function zeros_for(s)
    if is_plain(s) and (is_plain(s[1]) or getmetatable(s[1]) == ShapeMeta) then
      local out = {}
      for i, x in ipairs(s) do out[i] = zeros_for(x) end
      return out
    end
    local sh = tf().TensorShape(s)
    local dims = {}
    for i = 1, #sh do dims[i] = sh[i - 1] or 1 end
    return tf().zeros(dims)
  end
  local single = not (is_plain(input_shape) and (is_plain(input_shape[1]) or getmetatable(input_shape[1]) == ShapeMeta))
  rawset(self, "_build_input_shape", single and tf().TensorShape(input_shape) or input_shape)
  self.built = true
  self:call(zeros_for(input_shape), { training = false })
end

function Model:call(inputs, opts)
  if rawget(self, "_graph") then return require("keras.functional").run(self, inputs, opts) end
  raise("Unimplemented", ("%s '%s': a subclassed Model must define call(inputs, opts)"):format(
    getmetatable(self).class_name, self.name))
end

function Model:compute_output_shape(input_shape)
  local g = rawget(self, "_graph")
  if not g then
    raise("Unimplemented", ("%s '%s': compute_output_shape of a subclassed model"):format(getmetatable(self).class_name, self.name))
  end
  if #g.flat_out == 1 then return g.flat_out[1].shape end
  local out = {}
  for i, kt in ipairs(g.flat_out) do out[i] = kt.shape end
  return out
end

function Model:get_config()
  if rawget(self, "_graph") then return require("keras.functional").get_config(self) end
  local base = rawget(Layer, "get_config")
  local cfg = base and base(self) or { name = self.name, trainable = self.trainable }
  return cfg
end

-- Functional configs (layers + input_layers) rebuild the graph; anything
-- else is the model class's own options.
Model.from_config = function(cfg, custom_objects)
  if type(cfg) == "table" and cfg.layers and cfg.input_layers then
    return require("keras.functional").from_config(cfg, custom_objects)
  end
  return Model(cfg)
end

-- get_layer(name) / get_layer{index=} (0-based, as Keras) / get_layer(nil, index).
function Model:get_layer(name, index)
  if is_plain(name) then name, index = name.name, name.index end
  local layers = self.layers
  if index ~= nil then
    if math.type(index) ~= "integer" or index < 0 or index >= #layers then
      raise("InvalidArgument", ("%s '%s'.get_layer: was asked to retrieve layer at index %s but model only has %d layers.")
        :format(getmetatable(self).class_name, self.name, tostring(index), #layers))
    end
    return layers[index + 1]
  end
  if name ~= nil then
    for _, l in ipairs(layers) do
      if l.name == name then return l end
    end
    local names = {}
    for i, l in ipairs(layers) do names[i] = l.name end
    raise("InvalidArgument", ("%s '%s'.get_layer: No such layer: %s. Existing layers are: [%s]."):format(
      getmetatable(self).class_name, self.name, tostring(name), table.concat(names, ", ")))
  end
  raise("InvalidArgument", "get_layer: provide either a layer name or a layer index")
end

function Model:count_params()
  check_built(self, "count_params")
  local n = 0
  for _, v in ipairs(self.weights) do n = n + v.shape:num_elements() end
  return n
end

function Model:get_weights()
  check_built(self, "get_weights")
  local out = {}
  for i, v in ipairs(self.weights) do out[i] = v:value() end
  return out
end

function Model:set_weights(list)
  local ws = self.weights
  if type(list) ~= "table" or #list ~= #ws then
    raise("InvalidArgument", ("%s '%s'.set_weights: expected %d weights, got %s"):format(
      getmetatable(self).class_name, self.name, #ws, type(list) == "table" and tostring(#list) or type(list)))
  end
  for i, v in ipairs(ws) do
    local w = list[i]
    if not core.is_tensor(w) then w = tf().constant(w, v.dtype) end
    if not (w.shape == v.shape) then
      raise("InvalidArgument", ("%s '%s'.set_weights: weight %d ('%s') has shape %s, got %s"):format(
        getmetatable(self).class_name, self.name, i, v.name, tostring(v.shape), tostring(w.shape)))
    end
    v:assign(w)
  end
end

function Model:save(path, opts) return require("keras.saving").save_model(self, path, opts) end
function Model:save_weights(path, opts)
  check_built(self, "save_weights")
  return require("keras.saving").save_weights(self, path, opts)
end
function Model:load_weights(path, opts) return require("keras.saving").load_weights(self, path, opts) end

function Model:__tostring()
  return ("<keras.%s '%s'>"):format(getmetatable(self).class_name, self.name)
end

-- The class of keras.Model{inputs=, outputs=} (class_name "Functional" in configs).
local Functional = Model:extend("Functional")
M.Functional = Functional
Functional.from_config = function(cfg, custom_objects) return Model.from_config(cfg, custom_objects) end

-- ---- Sequential -----------------------------------------------------------------

local Sequential = Model:extend("Sequential")
M.Sequential = Sequential

-- The first layer's recorded batch input shape (input_shape/batch_input_shape/input_dim), or nil.
local function declared_batch_shape(layer)
  if class.is_instance(layer, InputLayer) then return rawget(layer, "_input_batch_shape") end
  local s = rawget(layer, "_batch_input_shape")
  if s == nil then return nil end
  if getmetatable(s) == ShapeMeta then
    local list = { n = #s }
    for i = 1, #s do list[i] = s[i - 1] end
    return list
  end
  return s
end

-- Sequential{l1, l2, ...} / Sequential({l1, ...}, {name=}) / Sequential{layers={...}, name=}.
function Sequential:init(layers, opts)
  local base = {}
  if is_plain(layers) then
    for k, v in pairs(layers) do
      if type(k) == "string" and k ~= "layers" then base[k] = v end
    end
  end
  if is_plain(opts) then for k, v in pairs(opts) do if k ~= "layers" then base[k] = v end end end
  Model.init(self, base)
  rawset(self, "_seq_layers", {})
  local list = (is_plain(layers) and layers.layers) or (is_plain(opts) and opts.layers) or layers
  if is_plain(list) then
    for _, l in ipairs(list) do self:add(l) end
  elseif list ~= nil then
    self:add(list)
  end
end

-- (Re)builds the symbolic graph from the input shape through every layer.
function Sequential:_build_graph(batch_shape)
  local seq = rawget(self, "_seq_layers")
  local input_layer
  if class.is_instance(seq[1], InputLayer) then
    input_layer = seq[1]
  else
    input_layer = InputLayer{ batch_input_shape = batch_shape, name = (seq[1] and seq[1].name or self.name) .. "_input" }
  end
  local x = input_layer._output
  local outs = {}
  for i, l in ipairs(seq) do
    if l ~= input_layer then x = l(x) end
    outs[i] = x
  end
  rawset(self, "_input_layer", input_layer)
  rawset(self, "_seq_outputs", outs)
  rawset(self, "_seq_batch_shape", batch_shape)
  self.built = true
end

function Sequential:add(layer)
  if is_kt(layer) and layer._node then layer = layer._node.layer end
  if not class.is_instance(layer, Layer) then
    raise("InvalidArgument", ("Sequential '%s'.add: the added layer must be an instance of class Layer. Received: %s")
      :format(self.name, tostring(layer)))
  end
  local seq = rawget(self, "_seq_layers")
  for _, l in ipairs(seq) do
    if l.name == layer.name then
      raise("InvalidArgument", ("Sequential '%s'.add: All layers added to a Sequential model should have unique names. "
        .. "Name '%s' is already the name of a layer in this model. Update the `name` argument to pass a unique name.")
        :format(self.name, layer.name))
    end
  end
  if class.is_instance(layer, InputLayer) and #seq > 0 then
    raise("InvalidArgument", ("Sequential '%s'.add: an InputLayer can only be the first layer"):format(self.name))
  end
  seq[#seq + 1] = layer
  local outs = rawget(self, "_seq_outputs")
  if outs then
    local prev = outs[#outs]
    outs[#outs + 1] = layer(prev)
  elseif #seq == 1 then
    local bs = declared_batch_shape(layer)
    if bs then self:_build_graph(bs) end
  end
end

function Sequential:pop()
  local seq = rawget(self, "_seq_layers")
  if #seq == 0 then raise("InvalidArgument", ("Sequential '%s'.pop: there are no layers in the model."):format(self.name)) end
  local l = table.remove(seq)
  local outs = rawget(self, "_seq_outputs")
  if outs then
    outs[#outs] = nil
    if #seq == 0 then
      rawset(self, "_seq_outputs", nil)
      self.built = false
    end
  end
  return l
end

-- From the Layer base's first eager call: build with that shape, batch unknown.
function Sequential:build(input_shape)
  rawset(self, "_build_by_call", nil)
  if rawget(self, "_seq_outputs") then self.built = true return end
  local seq = rawget(self, "_seq_layers")
  if #seq == 0 then raise("FailedPrecondition", ("Sequential '%s': the model has no layers"):format(self.name)) end
  local bs = declared_batch_shape(seq[1])
  if not bs then
    if input_shape == nil then raise("InvalidArgument", ("Sequential '%s': build needs an input_shape"):format(self.name)) end
    local s = tf().TensorShape(input_shape)
    bs = { n = #s }
    for i = 2, #s do bs[i] = s[i - 1] end
  end
  self:_build_graph(bs)
end

function Sequential:call(x, opts)
  local seq = rawget(self, "_seq_layers")
  for i = 1, #seq do
    local l = seq[i]
    if not (i == 1 and getmetatable(l) == InputLayer) then x = l(x, opts) end
  end
  return x
end

function Sequential:compute_output_shape(s)
  for _, l in ipairs(rawget(self, "_seq_layers")) do
    if getmetatable(l) ~= InputLayer then s = l:compute_output_shape(s) end
  end
  return s
end

-- Output shape per layer (for summary), or nil when not built.
function Sequential:_layer_output_shapes()
  local outs = rawget(self, "_seq_outputs")
  if not outs then return nil end
  local map = {}
  for i, l in ipairs(rawget(self, "_seq_layers")) do map[l] = outs[i] and outs[i].shape end
  return map
end

local function serialize_layer(layer)
  local ok, saving = pcall(require, "keras.saving")
  if ok and saving.serialize_keras_object then return saving.serialize_keras_object(layer) end
  return { class_name = getmetatable(layer).class_name, config = layer:get_config() }
end
M._serialize_layer = serialize_layer

function Sequential:get_config()
  local layers = {}
  for i, l in ipairs(rawget(self, "_seq_layers")) do
    local spec = serialize_layer(l)
    if i == 1 and not class.is_instance(l, InputLayer) then
      local bs = rawget(self, "_seq_batch_shape") or declared_batch_shape(l)
      if bs and spec.config.batch_input_shape == nil then
        local list = { n = bs.n or #bs }
        for j = 1, list.n do list[j] = bs[j] end
        spec.config.batch_input_shape = list
      end
    end
    layers[i] = spec
  end
  return { name = self.name, layers = layers, trainable = self.trainable }
end

-- module_objects for deserializing layers: keras.layers plus this module's classes.
local function layer_objects()
  local objs = {}
  for k, v in pairs(require("keras.layers")) do objs[k] = v end
  objs.InputLayer = InputLayer
  objs.Sequential = Sequential
  objs.Model = Model
  objs.Functional = Functional
  return objs
end
M._layer_objects = layer_objects

function M._deserialize_layer(spec, custom_objects)
  local objs = layer_objects()
  local ok, saving = pcall(require, "keras.saving")
  if ok and saving.deserialize_keras_object then
    return saving.deserialize_keras_object(spec, { module_objects = objs, custom_objects = custom_objects, kind = "layer" })
  end
  -- fallback until keras.saving exists
  local name = spec.class_name
  local cls = (custom_objects and custom_objects[name]) or objs[name]
  if not cls then
    raise("InvalidArgument", ("Unknown layer: '%s'. Please ensure you are using a `keras.utils.custom_object_scope` "
      .. "and that this object is included in the scope, or pass it in custom_objects."):format(tostring(name)))
  end
  if cls.from_config then return cls.from_config(spec.config or {}, custom_objects) end
  return cls(spec.config)
end

Sequential.from_config = function(cfg, custom_objects)
  local model = Sequential({}, { name = cfg.name })
  for _, spec in ipairs(cfg.layers or {}) do
    model:add(M._deserialize_layer(spec, custom_objects))
  end
  if cfg.trainable == false then model.trainable = false end
  return model
end

require("keras.training").mixin(Model, M)

-- A dot for a colon (m.fit(x, y), m.predict(x), Sequential.add(layer)) is the
-- common slip: each public method checks its self and says so, rather than
-- failing on an index deep inside.
local function guard(cls, names)
  for _, name in ipairs(names) do
    local fn = rawget(cls, name)
    if fn then
      cls[name] = function(self, ...)
        if type(self) ~= "table" or getmetatable(self) == nil or not class.is_instance(self, Model) then
          raise("InvalidArgument", ("%s.%s: called without a model as self (got %s); use model:%s(...) with a colon")
            :format(cls.class_name, name, self == cls and "the class" or type(self), name))
        end
        return fn(self, ...)
      end
    end
  end
end
guard(Model, { "compile", "fit", "evaluate", "predict", "train_on_batch", "test_on_batch", "predict_on_batch",
  "summary", "save", "save_weights", "load_weights", "get_layer", "count_params", "get_weights", "set_weights" })
guard(Sequential, { "add", "pop" })
require("keras.summary").mixin(Model, M)

function M.load_model(path, opts) return require("keras.saving").load_model(path, opts) end
-- clone_model(model): the same architecture with new layers and freshly
-- initialized weights (Keras's default clone_function), rebuilt from the
-- model's config; a subclassed model has no architecture config, as in Keras.
function M.clone_model(model, opts)
  require("tlua.errors").check_options("keras.models.clone_model", opts, { custom_objects = true })
  if not class.is_instance(model, Model) then
    raise("InvalidArgument", ("keras.models.clone_model: expected a keras.Model, got %s"):format(type(model)))
  end
  local cls = getmetatable(model)
  if cls ~= Sequential and not rawget(model, "_graph") then
    raise("InvalidArgument", ("keras.models.clone_model: %s '%s' is a subclassed model; only Sequential and functional models can be cloned (build a new instance of the class instead)")
      :format(cls.class_name, model.name))
  end
  return cls.from_config(model:get_config(), opts and opts.custom_objects)
end

return M
