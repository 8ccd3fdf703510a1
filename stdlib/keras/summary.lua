-- keras.summary: model:summary(), the table tf.keras 2 prints
-- (Layer (type) / Output Shape / Param #, plus Connected to for functional
-- models that are not a simple chain; totals with thousands separators).
--
--   model:summary()                          -- prints
--   model:summary{print_fn = function(line) ... end, line_length = 80, positions = {...}}
--   local text = model:summary{print_fn = false}   -- returns the text, prints nothing
--
-- Column layout and wrapping follow Keras 2's layer_utils.print_summary
-- (line_length 65 with positions .45/.85/1 for chains, 98 with
-- .33/.55/.67/1 otherwise); a row longer than its column continues on the
-- next line. Output shapes come from the symbolic graph (None for the
-- batch); a subclassed model's layers show "multiple", as Keras 2 does.
local core = require("tlua.core")

local M = {}

local function group3(n)
  local s = tostring(math.tointeger(n) or n)
  local neg = s:sub(1, 1) == "-"
  if neg then s = s:sub(2) end
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  if out:sub(1, 1) == "," then out = out:sub(2) end
  return (neg and "-" or "") .. out
end
M.group3 = group3

local function any_left(left)
  for _, s in ipairs(left) do if s ~= "" then return true end end
  return false
end

-- One row; a field longer than its column continues on the next lines.
local function print_row(emit, fields, positions)
  local left = {}
  for i, f in ipairs(fields) do left[i] = tostring(f) end
  repeat
    local line = ""
    for col = 1, #left do
      local start_pos = col > 1 and positions[col - 1] or 0
      local end_pos = positions[col]
      local space = col ~= #positions and 2 or 0
      local cutoff = end_pos - start_pos - space
      if col ~= #positions then cutoff = cutoff - 1 end -- room for the leading space
      if col == 1 then line = line .. " " end
      line = line .. left[col]:sub(1, cutoff) .. (" "):rep(space)
      left[col] = left[col]:sub(cutoff + 1)
      if #line < end_pos then line = line .. (" "):rep(end_pos - #line) end
    end
    emit(line)
  until not any_left(left)
end

local function count_of(vars)
  local n = 0
  for _, v in ipairs(vars) do n = n + (v.shape:num_elements() or 0) end
  return n
end

local function layer_params(layer)
  local ok, n = pcall(function() return layer:count_params() end)
  if ok and type(n) == "number" then return n end
  return 0
end

function M.summary(model, opts)
  opts = opts or {}
  local models = require("keras.models")
  local functional = require("keras.functional")
  if not model.built then
    core.raise("FailedPrecondition", ("%s '%s': %s"):format(getmetatable(model).class_name, model.name, models._UNBUILT))
  end
  local lines = {}
  local emit = function(line) lines[#lines + 1] = line end
  local graph = rawget(model, "_graph")
  local layers = model.layers
  local shapes
  if graph then shapes = functional.layer_output_shapes(model)
  elseif rawget(model, "_seq_layers") then shapes = model:_layer_output_shapes() end
  -- A functional model is "sequential-like" when every layer has one node
  -- with one input coming from the previous layer.
  local sequential_like = true
  if graph then
    local prev = nil
    for _, node in ipairs(graph.nodes) do
      if node.inputs ~= nil then
        if #node.flat_inputs ~= 1 or #node.flat_outputs ~= 1 or (prev and node.flat_inputs[1] ~= prev) then sequential_like = false end
      end
      if #node.flat_outputs ~= 1 then sequential_like = false end
      prev = node.flat_outputs[1]
    end
    if #graph.flat_in ~= 1 or #graph.flat_out ~= 1 then sequential_like = false end
    local count = {}
    for _, node in ipairs(graph.nodes) do
      count[node.layer] = (count[node.layer] or 0) + 1
      if count[node.layer] > 1 then sequential_like = false end
    end
  end
  local line_length, positions, header
  if sequential_like then
    line_length = opts.line_length or 65
    positions = opts.positions or { 0.45, 0.85, 1.0 }
    header = { "Layer (type)", "Output Shape", "Param #" }
  else
    line_length = opts.line_length or 98
    positions = opts.positions or { 0.33, 0.55, 0.67, 1.0 }
    header = { "Layer (type)", "Output Shape", "Param #", "Connected to" }
  end
  if positions[#positions] <= 1 then
    local p = {}
    for i, x in ipairs(positions) do p[i] = math.floor(line_length * x) end
    positions = p
  end
  emit(('Model: "%s"'):format(model.name))
  emit(("_"):rep(line_length))
  print_row(emit, header, positions)
  emit(("="):rep(line_length))
  for _, layer in ipairs(layers) do
    local shape = "multiple"
    if shapes and shapes[layer] then
      shape = models._shape_str(shapes[layer])
      if getmetatable(layer) == models.InputLayer and graph then shape = "[" .. shape .. "]" end
    end
    local fields = { ("%s (%s)"):format(layer.name, getmetatable(layer).class_name), shape, layer_params(layer) }
    if sequential_like then
      print_row(emit, fields, positions)
    else
      local conns = functional.connections(model, layer)
      fields[4] = conns[1] and ("['" .. conns[1] .. "'" .. (#conns == 1 and "]" or ",")) or "[]"
      print_row(emit, fields, positions)
      for j = 2, #conns do
        print_row(emit, { "", "", "", " '" .. conns[j] .. "'" .. (j == #conns and "]" or ",") }, positions)
      end
    end
    emit((" "):rep(line_length))
  end
  emit(("="):rep(line_length))
  local trainable = count_of(model.trainable_weights)
  local non_trainable = count_of(model.non_trainable_weights)
  emit("Total params: " .. group3(trainable + non_trainable))
  emit("Trainable params: " .. group3(trainable))
  emit("Non-trainable params: " .. group3(non_trainable))
  emit(("_"):rep(line_length))
  local text = table.concat(lines, "\n")
  local pf = opts.print_fn
  if pf == nil then
    io.stdout:write(text, "\n")
  elseif pf then
    for _, l in ipairs(lines) do pf(l) end
  end
  return text
end

function M.mixin(Model)
  Model.summary = M.summary
end

return M
