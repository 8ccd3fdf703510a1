-- keras.layers.merge: layers that combine a list of tensors: Add, Subtract,
-- Multiply, Average, Maximum, Minimum (element-wise) and Concatenate, with
-- the functional forms keras.layers.add(inputs, opts), subtract, multiply,
-- average, maximum, minimum, concatenate(inputs, axis, opts).
--
--   local y = keras.layers.Add()({a, b, c})
--   local y = keras.layers.Concatenate{axis = 1}({a, b})
--   local y = keras.layers.concatenate({a, b}, -1)
--
-- Shapes follow Keras 3: every input has the same batch size; the other
-- dimensions broadcast like NumPy's from the right (1 against n, None
-- against anything), and an input of lower rank gets size-1 dimensions
-- inserted after the batch axis (axis 1) before the operation, as Keras does.
-- Concatenate needs equal ranks and equal dimensions except on its axis.
-- Incompatible shapes are InvalidArgument errors that name the layer and
-- the shapes, raised when the layer is built (first call) or asked for
-- compute_output_shape.
--
-- Masks (opts.mask, a list with one mask or nil per input, what Keras
-- reads from the tensors): Multiply, Maximum and Minimum leave masked
-- entries out as Keras does; Add, Subtract and Average ignore them (as
-- Keras); compute_mask ORs them (Concatenate: per position, as Keras).
local core = require("tlua.core")
local tf = require("tlua")
local Shape = require("tlua.shape").Shape
local layer_mod = require("keras.layer")
local Layer = layer_mod.Layer

local function raise(kind, msg) core.raise(kind, msg) end

local layer_options = layer_mod.options

local who_of = layer_mod.who

-- A list of shapes (TensorShapes or Lua lists) -> list of TensorShapes, or
-- an InvalidArgument when `shapes` is one shape rather than a list of them.
local function shape_list(who, shapes)
  if type(shapes) ~= "table" or getmetatable(shapes) == Shape or type(shapes[1]) ~= "table" then
    raise("InvalidArgument", ("%s: a merge layer must be called on a list of tensors, got %s")
      :format(who, type(shapes) == "table" and ("one tensor of shape " .. tostring(tf.TensorShape(shapes))) or type(shapes)))
  end
  local out = {}
  for i, s in ipairs(shapes) do out[i] = tf.TensorShape(s) end
  return out
end

local function shapes_text(shapes)
  local parts = {}
  for i, s in ipairs(shapes) do parts[i] = tostring(s) end
  return table.concat(parts, ", ")
end

local function dims(s)
  local d = {}
  for i = 1, #s do d[i] = s[i - 1] end
  return d, #s
end

-- ---------------------------------------------------------------------------
-- Merge: the element-wise base class. Subclasses define merge(list).

local Merge = Layer:extend("Merge")

function Merge:init(...)
  local cls = getmetatable(self)
  local o = layer_options(cls.class_name, {}, ...)
  Merge.super.init(self, o)
  self.supports_masking = true
end

-- The output shape of the element-wise merge of `shapes` (a list of
-- TensorShapes), checking batch sizes and broadcasting; also returns how
-- many size-1 axes each input needs after its batch axis.
local function elementwise_shape(layer, shapes)
  local who = who_of(layer)
  if #shapes < 1 then raise("InvalidArgument", who .. ": a merge layer needs at least 1 input, got 0") end
  local batch, max_rank = nil, 0
  for _, s in ipairs(shapes) do
    if #s < 1 then
      raise("InvalidArgument", ("%s: inputs must have a batch dimension, got shapes %s"):format(who, shapes_text(shapes)))
    end
    local b = s[0]
    if b ~= nil then
      if batch ~= nil and b ~= batch then
        raise("InvalidArgument", ("%s: cannot merge tensors with different batch sizes, got shapes %s")
          :format(who, shapes_text(shapes)))
      end
      batch = b
    end
    if #s > max_rank then max_rank = #s end
  end
  -- Broadcast the non-batch dimensions from the right.
  local out = {}
  local n = max_rank - 1
  for i = 1, n do out[i] = 1 end
  local expand = {}
  for k, s in ipairs(shapes) do
    local d, r = dims(s)
    expand[k] = max_rank - r
    for j = 2, r do
      local oi = n - (r - j)
      local a, b = out[oi], d[j]
      local v
      if a == nil or b == nil then
        v = nil
      elseif a == 1 then
        v = b
      elseif b == 1 or a == b then
        v = a
      else
        raise("InvalidArgument", ("%s: inputs have incompatible shapes %s (dimension %d: %d vs %d)")
          :format(who, shapes_text(shapes), oi, a, b))
      end
      out[oi] = v
    end
  end
  local full = { batch }
  for i = 1, n do full[i + 1] = out[i] end
  return tf.TensorShape(full, max_rank), expand
end

function Merge:build(input_shape)
  local shapes = shape_list(who_of(self), input_shape)
  local _, expand = elementwise_shape(self, shapes)
  local need = false
  for _, e in ipairs(expand) do
    if e > 0 then need = true end
  end
  self._expand = need and expand or false
end

-- opts.mask: a list with one mask (or nil) per input, as Keras's masks
-- on the tensors; [batch, ...] booleans of rank one less than the input, or
-- the input's rank.
local function check_masks(layer, inputs, masks)
  if masks == nil then return nil end
  if type(masks) ~= "table" or tf.is_tensor(masks) then
    raise("InvalidArgument", ("%s: mask must be a list with one mask (or nil) per input"):format(who_of(layer)))
  end
  local n = masks.n or #masks
  if n > #inputs then
    raise("InvalidArgument", ("%s: %d masks for %d inputs"):format(who_of(layer), n, #inputs))
  end
  for i = 1, #inputs do
    if masks[i] ~= nil then return masks end
  end
  return nil
end

-- A mask broadcastable against x: a trailing size-1 axis when it has one
-- dimension less than x.
local function mask_for(m, x)
  if m == nil then return nil end
  if not tf.is_tensor(m) then m = tf.constant(m) end
  if m.dtype ~= tf.bool then m = tf.cast(m, tf.bool) end
  if #m.shape < #x.shape then m = tf.expand_dims(m, -1) end
  return m
end

function Merge:call(inputs, opts)
  if type(inputs) ~= "table" or tf.is_tensor(inputs) then
    raise("InvalidArgument", who_of(self) .. ": a merge layer must be called on a list of tensors")
  end
  local expand = self._expand
  local masks = opts and check_masks(self, inputs, opts.mask)
  if masks and not expand and self.masked_merge then return self:masked_merge(inputs, masks) end
  if expand then
    local xs = {}
    for i, x in ipairs(inputs) do
      local e = expand[i]
      if e and e > 0 then
        local d = x.shape:as_list()
        local nd = { d[1] }
        for _ = 1, e do nd[#nd + 1] = 1 end
        for j = 2, #d do nd[#nd + 1] = d[j] end
        x = tf.reshape(x, nd)
      end
      xs[i] = x
    end
    inputs = xs
  end
  return self:merge(inputs)
end

-- The output mask: the element-wise OR of the input masks (nil when any
-- input has none), as Keras.
function Merge:compute_mask(inputs, mask)
  if mask == nil then return nil end
  if type(mask) ~= "table" or tf.is_tensor(mask) then
    raise("InvalidArgument", who_of(self) .. ": mask must be a list with one mask (or nil) per input")
  end
  local n = type(inputs) == "table" and not tf.is_tensor(inputs) and #inputs or 1
  if (mask.n or #mask) > n then -- shorter: the last inputs have no mask (nil)
    raise("InvalidArgument", ("%s: %d masks for %d inputs"):format(who_of(self), mask.n or #mask, n))
  end
  local out
  for i = 1, n do
    local m = mask[i]
    if m == nil then return nil end
    out = out and tf.logical_or(out, m) or m
  end
  return out
end

function Merge:compute_output_shape(input_shape)
  local shapes = shape_list(who_of(self), input_shape)
  return (elementwise_shape(self, shapes))
end

local function fold(op)
  return function(_, xs)
    local out = xs[1]
    for i = 2, #xs do out = op(out, xs[i]) end
    return out
  end
end

local Add = Merge:extend("Add")
Add.merge = fold(tf.add)

local Multiply = Merge:extend("Multiply")
Multiply.merge = fold(tf.multiply)

-- Masked positions of an input are ones; the result is 0 where every
-- input is masked when all inputs have masks (Keras's Multiply).
function Multiply:masked_merge(xs, masks)
  local all = true
  for i = 1, #xs do
    if masks[i] == nil then all = false end
  end
  local out, omask
  for i, x in ipairs(xs) do
    local m = mask_for(masks[i], x)
    if m then
      x = tf.where(m, x, tf.ones_like(x))
      if all then omask = omask and tf.logical_or(omask, m) or m end
    end
    out = out and out * x or x
  end
  if all then out = tf.where(omask, out, tf.zeros_like(out)) end
  return out
end

-- Keras's _apply_merge_op_and_or_mask: a masked input takes the running
-- result's value and a masked running result takes the input's, so masked
-- entries do not take part.
local function masked_fold(op)
  return function(_, xs, masks)
    local out, omask
    for i, x in ipairs(xs) do
      local m = mask_for(masks[i], x)
      if out == nil then
        out, omask = x, m
      else
        if m then x = tf.where(m, x, out) end
        if omask then out = tf.where(omask, out, x) end
        if m and omask then omask = tf.logical_or(omask, m) else omask = nil end
        out = op(out, x)
      end
    end
    return out
  end
end

local Maximum = Merge:extend("Maximum")
Maximum.merge = fold(tf.maximum)
Maximum.masked_merge = masked_fold(tf.maximum)

local Minimum = Merge:extend("Minimum")
Minimum.merge = fold(tf.minimum)
Minimum.masked_merge = masked_fold(tf.minimum)

local Average = Merge:extend("Average")
local add_all = fold(tf.add)
function Average:merge(xs) return add_all(self, xs) / #xs end

local Subtract = Merge:extend("Subtract")
function Subtract:build(input_shape)
  local shapes = shape_list(who_of(self), input_shape)
  if #shapes ~= 2 then
    raise("InvalidArgument", ("%s: expected exactly 2 inputs, got %d (shapes %s)")
      :format(who_of(self), #shapes, shapes_text(shapes)))
  end
  Subtract.super.build(self, input_shape)
end
function Subtract:merge(xs)
  if #xs ~= 2 then
    raise("InvalidArgument", ("%s: expected exactly 2 inputs, got %d"):format(who_of(self), #xs))
  end
  return xs[1] - xs[2]
end

-- ---------------------------------------------------------------------------
-- Concatenate

local Concatenate = Layer:extend("Concatenate")

function Concatenate:init(...)
  local o = layer_options("Concatenate", { positional = { "axis" }, defaults = { axis = -1 } }, ...)
  Concatenate.super.init(self, o)
  if math.type(o.axis) ~= "integer" then
    raise("InvalidArgument", ("%s: axis must be an integer, got %s"):format(who_of(self), tostring(o.axis)))
  end
  self.axis = o.axis
  self.supports_masking = true
end

-- Checks the shapes and returns the output shape.
local function concat_shape(layer, shapes)
  local who = who_of(layer)
  if #shapes < 1 then raise("InvalidArgument", who .. ": needs at least 1 input, got 0") end
  local rank = #shapes[1]
  for _, s in ipairs(shapes) do
    if #s ~= rank then
      raise("InvalidArgument", ("%s: inputs must have the same rank, got shapes %s"):format(who, shapes_text(shapes)))
    end
  end
  local a = layer.axis < 0 and layer.axis + rank or layer.axis
  if a < 0 or a >= rank then
    raise("InvalidArgument", ("%s: axis %d is out of bounds for inputs of rank %d (shapes %s)")
      :format(who, layer.axis, rank, shapes_text(shapes)))
  end
  local out = {}
  for i = 0, rank - 1 do
    local v
    if i == a then
      v = 0
      for _, s in ipairs(shapes) do
        local d = s[i]
        if d == nil or v == nil then v = nil else v = v + d end
      end
    else
      for _, s in ipairs(shapes) do
        local d = s[i]
        if d ~= nil then
          if v ~= nil and v ~= d then
            raise("InvalidArgument", ("%s: inputs must have matching shapes except for the concatenation axis %d, got shapes %s (dimension %d: %d vs %d)")
              :format(who, layer.axis, shapes_text(shapes), i, v, d))
          end
          v = d
        end
      end
    end
    out[i + 1] = v
  end
  return tf.TensorShape(out, rank)
end

function Concatenate:build(input_shape)
  concat_shape(self, shape_list(who_of(self), input_shape))
end

function Concatenate:call(inputs)
  if type(inputs) ~= "table" or tf.is_tensor(inputs) then
    raise("InvalidArgument", who_of(self) .. ": must be called on a list of tensors")
  end
  return tf.concat(inputs, self.axis)
end

-- The output mask as Keras: each input's mask (all true when it has none)
-- broadcast to the input's shape, concatenated along the axis, then any()
-- over the last axis.
function Concatenate:compute_mask(inputs, mask)
  if mask == nil then return nil end
  if type(mask) ~= "table" or tf.is_tensor(mask) or type(inputs) ~= "table" or tf.is_tensor(inputs) then
    raise("InvalidArgument", who_of(self) .. ": inputs and mask must be lists of the same length")
  end
  local any = false
  for i = 1, #inputs do
    if mask[i] ~= nil then any = true end
  end
  if not any then return nil end
  local full = {}
  for i, x in ipairs(inputs) do
    local m = mask_for(mask[i], x)
    if m == nil then
      full[i] = tf.ones_like(x, { dtype = tf.bool })
    else
      full[i] = tf.logical_or(m, tf.zeros_like(x, { dtype = tf.bool }))
    end
  end
  return tf.reduce_any(tf.concat(full, self.axis), -1)
end

function Concatenate:compute_output_shape(input_shape)
  return concat_shape(self, shape_list(who_of(self), input_shape))
end

function Concatenate:get_config()
  local cfg = Concatenate.super.get_config(self)
  cfg.axis = self.axis
  return cfg
end

-- ---------------------------------------------------------------------------
-- Functional forms: keras.layers.add(inputs, opts) == keras.layers.Add(opts)(inputs).

local function functional(cls)
  return function(inputs, opts)
    local layer = opts and cls(opts) or cls()
    return layer(inputs)
  end
end

local function concatenate(inputs, axis, opts)
  if type(axis) == "table" then axis, opts = nil, axis end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  if axis ~= nil then
    if o.axis ~= nil then raise("InvalidArgument", "concatenate: axis given both as argument 2 and as an option") end
    o.axis = axis
  end
  local layer = next(o) and Concatenate(o) or Concatenate()
  return layer(inputs)
end

return {
  Add = Add,
  Subtract = Subtract,
  Multiply = Multiply,
  Average = Average,
  Maximum = Maximum,
  Minimum = Minimum,
  Concatenate = Concatenate,
  add = functional(Add),
  subtract = functional(Subtract),
  multiply = functional(Multiply),
  average = functional(Average),
  maximum = functional(Maximum),
  minimum = functional(Minimum),
  concatenate = concatenate,
}
