-- keras.layers: the layer classes, gathered from the files of this folder.
-- Each file returns a table of classes (name -> class); the Layer base class
-- lives in keras/layer.lua. Add a new file to `parts`.
local M = {}

local parts = { "core", "normalization", "merge", "conv", "pooling", "rnn" }

M.Layer = require("keras.layer").Layer
M.InputSpec = require("keras.layer").InputSpec
for _, part in ipairs(parts) do
  for name, cls in pairs(require("keras.layers." .. part)) do
    assert(M[name] == nil, "keras.layers: " .. name .. " defined twice")
    M[name] = cls
  end
end

-- keras.layers.serialize(layer) -> {class_name=, config=};
-- keras.layers.deserialize(spec, custom_objects) -> a layer (builtin classes
-- found here, others through custom_objects; an unknown name is an error).
local classes = {}
for k, v in pairs(M) do if type(v) == "table" then classes[k] = v end end
function M.serialize(layer)
  return require("keras.saving").serialize_keras_object(layer)
end
function M.deserialize(spec, custom_objects)
  return require("keras.saving").deserialize_keras_object(spec,
    { module_objects = classes, custom_objects = custom_objects, kind = "layer" })
end

return M
