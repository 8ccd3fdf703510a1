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

return M
