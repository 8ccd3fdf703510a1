-- keras.functional: the graph of a functional keras.Model{inputs=, outputs=}.
-- Part of keras.models (Model's functional half): finding the nodes
-- between the inputs and the outputs (topological order, computed once),
-- running them eagerly, and Keras's get_config/from_config form
-- ("layers" with "inbound_nodes", "input_layers", "output_layers").
--
-- Invariants: node.index is the node's position among its layer's nodes
-- (0-based, creation order); a model's config renumbers each layer's nodes
-- among those the model uses (as Keras does), so a config read back
-- rebuilds the same graph. Structures: inputs and outputs may be one
-- KerasTensor, a list, or a name-keyed table (keys in sorted order when
-- flattened). Not done: masks; nested structures deeper than one level.
local class = require("tlua.class")
local core = require("tlua.core")

local M = {}
local raise = core.raise

local function is_plain(t) return type(t) == "table" and getmetatable(t) == nil end
local function is_kt(x) return type(x) == "table" and x._keras_tensor == true end
local function models() return require("keras.models") end

-- inputs/outputs -> {flat list, kind ("single"|"list"|"dict"), keys}.
local function structure(x, what, model_name)
  if is_kt(x) then return { x }, "single", nil end
  if not is_plain(x) then
    raise("InvalidArgument", ("Model '%s': %s must be a KerasTensor (keras.Input or a layer output), a list or a name-keyed table of them, got %s")
      :format(model_name, what, type(x)))
  end
  local flat, keys, kind = {}, nil, "list"
  if x[1] == nil and next(x) ~= nil then
    kind = "dict"
    keys = models()._sorted_keys(x)
    for i, k in ipairs(keys) do flat[i] = x[k] end
  else
    for i, v in ipairs(x) do flat[i] = v end
  end
  for i, v in ipairs(flat) do
    if not is_kt(v) then
      raise("InvalidArgument", ("Model '%s': %s[%s] is a %s, not a KerasTensor (keras.Input or a layer output)")
        :format(model_name, what, tostring(keys and keys[i] or i), type(v)))
    end
  end
  if #flat == 0 then raise("InvalidArgument", ("Model '%s': %s is empty"):format(model_name, what)) end
  return flat, kind, keys
end

-- Sets up self as a functional model of inputs -> outputs.
function M.init_graph(self, inputs, outputs)
  local name = self.name
  if inputs == nil or outputs == nil then
    raise("InvalidArgument", ("Model '%s': a functional model needs both inputs= and outputs="):format(name))
  end
  local flat_in, in_kind, in_keys = structure(inputs, "inputs", name)
  local flat_out, out_kind, out_keys = structure(outputs, "outputs", name)
  local is_input = {}
  for i, kt in ipairs(flat_in) do
    local node = kt._node
    if not node or not class.is_instance(node.layer, models().InputLayer) then
      raise("InvalidArgument", ("Model '%s': inputs[%d] must come from keras.Input (got the output of layer '%s')")
        :format(name, i, node and node.layer.name or "?"))
    end
    is_input[kt] = true
  end
  -- Depth-first from the outputs: nodes in topological order.
  local order, state = {}, {}
  local visited_layers = {}
  local function visit(kt)
    local node = kt._node
    if state[node] == "done" then return end
    if state[node] == "active" then raise("InvalidArgument", ("Model '%s': the graph has a cycle at layer '%s'"):format(name, node.layer.name)) end
    if class.is_instance(node.layer, models().InputLayer) then
      if not is_input[kt] then
        local seen = {}
        for _, n in ipairs(order) do seen[#seen + 1] = n.layer.name end
        raise("InvalidArgument", ("Model '%s': Graph disconnected: cannot obtain value for tensor %s at layer \"%s\". "
          .. "The following previous layers were accessed without issue: [%s]"):format(
          name, tostring(kt), node.layer.name, table.concat(seen, ", ")))
      end
      state[node] = "done"
      order[#order + 1] = node
      return
    end
    state[node] = "active"
    for _, x in ipairs(node.flat_inputs) do visit(x) end
    state[node] = "done"
    order[#order + 1] = node
  end
  -- Inputs first (in the given order), so layers list them first as Keras.
  for _, kt in ipairs(flat_in) do visit(kt) end
  for _, kt in ipairs(flat_out) do visit(kt) end
  local layers = {}
  for _, node in ipairs(order) do
    if not visited_layers[node.layer] then
      visited_layers[node.layer] = true
      layers[#layers + 1] = node.layer
      if node.layer == self then raise("InvalidArgument", ("Model '%s': a model cannot contain itself"):format(name)) end
    end
  end
  local names = {}
  for _, l in ipairs(layers) do
    if names[l.name] then
      raise("InvalidArgument", ("Model '%s': The name \"%s\" is used %s times in the model. All layer names should be unique.")
        :format(name, l.name, "2"))
    end
    names[l.name] = true
  end
  -- Per-node scratch: the argument structure is rebuilt in place per call.
  for _, node in ipairs(order) do
    if node.inputs ~= nil and not is_kt(node.inputs) then
      node.scratch = {}
    end
    node.call_opts = {}
  end
  local g = {
    inputs = inputs, outputs = outputs,
    flat_in = flat_in, in_kind = in_kind, in_keys = in_keys,
    flat_out = flat_out, out_kind = out_kind, out_keys = out_keys,
    nodes = order, values = {},
  }
  rawset(self, "_graph", g)
  rawset(self, "_graph_layers", layers)
  rawset(self, "inputs", flat_in)
  rawset(self, "outputs", flat_out)
  -- Output names (for per-output losses and metrics): the dict keys or the
  -- names of the layers that produce them.
  local out_names = {}
  for i, kt in ipairs(flat_out) do out_names[i] = out_keys and out_keys[i] or kt._node.layer.name end
  rawset(self, "output_names", out_names)
  local in_names = {}
  for i, kt in ipairs(flat_in) do in_names[i] = in_keys and in_keys[i] or kt._node.layer.name end
  rawset(self, "input_names", in_names)
  self.built = true
end

local function convert(x)
  if core.is_tensor(x) then return x end
  if type(x) == "table" or type(x) == "number" then return require("tlua").constant(x) end
  return x
end

-- Runs the graph on eager inputs (same structure as model.inputs).
function M.run(self, inputs, opts)
  local g = rawget(self, "_graph")
  local values = g.values
  local flat_in = g.flat_in
  if g.in_kind == "single" then
    if is_plain(inputs) then
      if #inputs == 1 and core.is_tensor(inputs[1]) then
        inputs = inputs[1]
      elseif #inputs > 1 and core.is_tensor(inputs[1]) then
        raise("InvalidArgument", ("Model '%s' expects 1 input, got %d"):format(self.name, #inputs))
      else
        local k = next(inputs)
        if type(k) == "string" then
          local names = rawget(self, "input_names") or {}
          raise("InvalidArgument", ("Model '%s': no input named '%s' (its input: %s)")
            :format(self.name, k, table.concat(names, ", ")))
        end
      end
    end
    values[flat_in[1]] = convert(inputs)
  elseif g.in_kind == "list" then
    if not is_plain(inputs) or (#inputs ~= #flat_in and not (#flat_in == 1)) then
      raise("InvalidArgument", ("Model '%s' expects %d inputs, got %s"):format(self.name, #flat_in,
        is_plain(inputs) and tostring(#inputs) or "1"))
    end
    if #flat_in == 1 and not core.is_tensor(inputs[1]) then
      values[flat_in[1]] = convert(inputs)
    else
      for i = 1, #flat_in do values[flat_in[i]] = convert(inputs[i]) end
    end
  else
    if not is_plain(inputs) then
      raise("InvalidArgument", ("Model '%s' expects a table with inputs {%s}"):format(self.name, table.concat(g.in_keys, ", ")))
    end
    for k in pairs(inputs) do
      if type(k) == "string" then
        local known = false
        for _, name in ipairs(g.in_keys) do known = known or name == k end
        if not known then
          raise("InvalidArgument", ("Model '%s': no input named '%s' (its inputs: %s)"):format(self.name, k, table.concat(g.in_keys, ", ")))
        end
      end
    end
    for i, k in ipairs(g.in_keys) do
      local v = inputs[k]
      if v == nil then v = inputs[i] end
      if v == nil then raise("InvalidArgument", ("Model '%s': missing input '%s'"):format(self.name, k)) end
      values[flat_in[i]] = convert(v)
    end
  end
  local training = opts and opts.training
  local nodes = g.nodes
  for ni = 1, #nodes do
    local node = nodes[ni]
    if node.inputs ~= nil then
      local args
      local ins = node.inputs
      if is_kt(ins) then
        args = values[ins]
      else
        args = node.scratch
        for k, kt in pairs(ins) do args[k] = values[kt] end
      end
      local copts = node.call_opts
      for k, v in pairs(node.opts) do copts[k] = v end
      if node.opts.training == nil then copts.training = training end
      local out = node.layer(args, copts)
      local fo = node.flat_outputs
      if #fo == 1 and core.is_tensor(out) then
        values[fo[1]] = out
      else
        for i = 1, #fo do values[fo[i]] = out[i] end
      end
    end
  end
  local result
  local flat_out = g.flat_out
  if g.out_kind == "single" then
    result = values[flat_out[1]]
  elseif g.out_kind == "list" then
    result = {}
    for i = 1, #flat_out do result[i] = values[flat_out[i]] end
  else
    result = {}
    for i, k in ipairs(g.out_keys) do result[k] = values[flat_out[i]] end
  end
  for k in pairs(values) do values[k] = nil end
  for _, node in ipairs(nodes) do
    if node.scratch then for k in pairs(node.scratch) do node.scratch[k] = nil end end
  end
  return result
end

-- Output shape per layer (its first node in this model), for summary.
function M.layer_output_shapes(self)
  local g = rawget(self, "_graph")
  local map = {}
  for _, node in ipairs(g.nodes) do
    if map[node.layer] == nil then
      local fo = node.flat_outputs
      if #fo == 1 then map[node.layer] = fo[1].shape
      else
        local list = {}
        for i, kt in ipairs(fo) do list[i] = kt.shape end
        map[node.layer] = list
      end
    end
  end
  return map
end

-- node -> its index among the nodes of its layer that this model uses.
local function node_numbering(g)
  local per_layer, num = {}, {}
  for _, node in ipairs(g.nodes) do
    local l = node.layer
    per_layer[l] = per_layer[l] or {}
    table.insert(per_layer[l], node)
  end
  for _, list in pairs(per_layer) do
    table.sort(list, function(a, b) return a.index < b.index end)
    for i, node in ipairs(list) do num[node] = i - 1 end
  end
  return num, per_layer
end

-- Inbound connections of layer in this model: {{name, node, tensor}, ...} per node.
function M.connections(self, layer)
  local g = rawget(self, "_graph")
  local num, per_layer = node_numbering(g)
  local out = {}
  for _, node in ipairs(per_layer[layer] or {}) do
    for _, kt in ipairs(node.flat_inputs) do
      out[#out + 1] = ("%s[%d][%d]"):format(kt._node.layer.name, num[kt._node], kt._tensor_index)
    end
  end
  return out
end

local function plain_opts(o)
  local out = {}
  for k, v in pairs(o or {}) do
    local t = type(v)
    if t == "boolean" or t == "number" or t == "string" then out[k] = v end
  end
  return out
end

local function ref(kt, num) return { kt._node.layer.name, num[kt._node], kt._tensor_index } end

function M.get_config(self)
  local g = rawget(self, "_graph")
  local num, per_layer = node_numbering(g)
  local layers = {}
  for _, l in ipairs(rawget(self, "_graph_layers")) do
    local spec = models()._serialize_layer(l)
    local inbound = {}
    for _, node in ipairs(per_layer[l]) do
      if node.inputs ~= nil then
        local entry = {}
        for _, kt in ipairs(node.flat_inputs) do
          local r = ref(kt, num)
          r[4] = plain_opts(node.opts)
          entry[#entry + 1] = r
        end
        inbound[#inbound + 1] = entry
      end
    end
    layers[#layers + 1] = { class_name = spec.class_name, config = spec.config, name = l.name, inbound_nodes = inbound,
                            module = spec.module, registered_name = spec.registered_name }
  end
  local input_layers, output_layers = {}, {}
  for i, kt in ipairs(g.flat_in) do input_layers[i] = ref(kt, num) end
  for i, kt in ipairs(g.flat_out) do output_layers[i] = ref(kt, num) end
  local cfg = { name = self.name, trainable = self.trainable, layers = layers,
                input_layers = input_layers, output_layers = output_layers }
  if g.in_keys then cfg.input_keys = g.in_keys end
  if g.out_keys then cfg.output_keys = g.out_keys end
  if g.in_kind == "single" then cfg.single_input = true end
  if g.out_kind == "single" then cfg.single_output = true end
  return cfg
end

-- Rebuilds a functional model from get_config's form (Keras 2's).
function M.from_config(cfg, custom_objects)
  local mm = models()
  if type(cfg) ~= "table" or type(cfg.layers) ~= "table" or type(cfg.input_layers) ~= "table" then
    raise("InvalidArgument", "Model.from_config: expected a functional config with layers, input_layers and output_layers")
  end
  local by_name, outputs_of = {}, {}   -- layer name -> layer; name -> {node index -> output structure}
  local pending = {}
  for _, spec in ipairs(cfg.layers) do
    local layer = mm._deserialize_layer({ class_name = spec.class_name, config = spec.config,
                                          module = spec.module, registered_name = spec.registered_name }, custom_objects)
    by_name[spec.name or layer.name] = layer
    outputs_of[spec.name or layer.name] = {}
    if class.is_instance(layer, mm.InputLayer) then
      outputs_of[spec.name or layer.name][0] = layer._output
    end
    for _, entry in ipairs(spec.inbound_nodes or {}) do
      pending[#pending + 1] = { name = spec.name or layer.name, layer = layer, entry = entry }
    end
  end
  local function lookup(r)
    local outs = outputs_of[r[1]]
    if not outs then raise("InvalidArgument", ("Model.from_config: unknown layer '%s' in a node"):format(tostring(r[1]))) end
    local o = outs[r[2]]
    if o == nil then return nil end
    if is_kt(o) then return r[3] == 0 and o or nil end
    return o[r[3] + 1]
  end
  while #pending > 0 do
    local progressed = false
    local rest = {}
    for _, p in ipairs(pending) do
      local args, ready = {}, true
      local kwargs = nil
      for i, r in ipairs(p.entry) do
        local kt = lookup(r)
        if kt == nil then ready = false break end
        args[i] = kt
        kwargs = r[4]
      end
      local outs = outputs_of[p.name]
      local n = 0
      for _ in pairs(outs) do n = n + 1 end
      if ready then
        local arg = #args == 1 and args[1] or args
        local opts = (kwargs and next(kwargs)) and kwargs or nil
        local out = p.layer(arg, opts)
        outs[n] = out
        progressed = true
      else
        rest[#rest + 1] = p
      end
    end
    if not progressed then
      raise("InvalidArgument", ("Model.from_config: could not connect layer '%s' (its inputs never appear)"):format(rest[1].name))
    end
    pending = rest
  end
  local function collect(list, keys, single)
    local flat = {}
    for i, r in ipairs(list) do
      flat[i] = lookup(r)
      if flat[i] == nil then raise("InvalidArgument", ("Model.from_config: unknown tensor %s[%s][%s]"):format(tostring(r[1]), tostring(r[2]), tostring(r[3]))) end
    end
    if keys then
      local d = {}
      for i, k in ipairs(keys) do d[k] = flat[i] end
      return d
    end
    if single and #flat == 1 then return flat[1] end
    return flat
  end
  local inputs = collect(cfg.input_layers, cfg.input_keys, cfg.single_input)
  local outputs = collect(cfg.output_layers, cfg.output_keys, cfg.single_output)
  local model = mm.Model{ inputs = inputs, outputs = outputs, name = cfg.name }
  if cfg.trainable == false then model.trainable = false end
  return model
end

return M
