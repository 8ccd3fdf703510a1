-- keras.layers.args: argument normalisation shared by the convolution and
-- pooling layers (keras/layers/conv.lua, keras/layers/pooling.lua). Not a
-- part of keras.layers (layers/init.lua does not merge it): it holds no
-- classes. Errors are InvalidArgument naming the layer (self_name) and key.
local core = require("tlua.core")
local tf = require("tlua")

local raise = core.raise

local M = {}

-- An int or a list of n positive ints as a list of n (Keras's tuples);
-- allow_zero accepts 0 too (non-negative).
function M.tuple(self_name, key, v, n, allow_zero)
  if type(v) == "number" and math.type(v) ~= "integer" and v == math.floor(v) then v = math.tointeger(v) end
  local out = {}
  if math.type(v) == "integer" then
    for i = 1, n do out[i] = v end
  elseif type(v) == "table" and getmetatable(v) == nil and #v == n then
    for i = 1, n do out[i] = v[i] end
  else
    raise("InvalidArgument", ("%s: %s must be an integer or a list of %d integers, got %s"):format(
      self_name, key, n, type(v) == "table" and ("a list of " .. #v) or tostring(v)))
  end
  for i = 1, n do
    local x = out[i]
    if math.type(x) ~= "integer" or x < (allow_zero and 0 or 1) then
      raise("InvalidArgument", ("%s: %s must be %s integers, got %s"):format(self_name, key,
        allow_zero and "non-negative" or "positive", tostring(x)))
    end
  end
  return out
end

-- nil -> "channels_last"; else "channels_last" or "channels_first".
function M.data_format_of(self_name, f)
  if f == nil then return "channels_last" end
  if f == "channels_last" or f == "channels_first" then return f end
  raise("InvalidArgument", ("%s: data_format must be 'channels_last' or 'channels_first', got %s"):format(
    self_name, tostring(f)))
end

-- A TensorShape's dims as a 1-based list (nil for unknown), and its rank.
function M.shape_list(shape)
  local out = {}
  for i = 0, #shape - 1 do out[i + 1] = shape[i] end
  return out, #shape
end

-- A shape argument (TensorShape or list) as a TensorShape.
function M.as_shape(s)
  if type(s) == "table" and getmetatable(s) == nil then return tf.TensorShape(s, s.n or #s) end
  return s
end

return M
