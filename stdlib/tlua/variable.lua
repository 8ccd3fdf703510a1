-- tlua.variable: tf.Variable's Lua side.
--
--   local v = tf.Variable({1, 2, 3}, {name = "w", trainable = true, dtype = tf.float32})
--   v:assign(x); v:assign_add(d); v:assign_sub(d)
--   v:scatter_nd_update(indices, updates)   (and scatter_nd_add / scatter_nd_sub)
--   v[{0, "1:"}] = x; v["::2"] = 0; v[1] = {4, 5}
--   v.name, v.trainable, v.shape, v.dtype, v:value(), v:read_value()
--
-- The C core holds the value with copy-on-write: a tensor read from a
-- variable (v:value(), v[0], v + 1) never changes after a later assign.
-- Lua values given to assign* convert to the variable's dtype; tensors must
-- already have it (tf.cast), and shapes must match exactly, as in TensorFlow.
local core = require("tlua.core")
local indexing = require("tlua.indexing")

local M = {}

local ops = core.ops
local raise = core.raise
local value_as = indexing.value_as

local known_options = {
  trainable = true, name = true, dtype = true, initial_value = true,
  validate_shape = true, shape = true,
}

local function check_shape(v, x, what)
  local a, b = v.shape, x.shape
  if a ~= b then
    raise("InvalidArgument", ("%s: variable '%s' has shape %s but the value has shape %s"):format(
      what, v.name, tostring(a), tostring(b)))
  end
end

local function new_variable(initial, opts, ...)
  if select("#", ...) > 0 then
    raise("InvalidArgument", "tf.Variable(initial_value, {trainable=, name=, dtype=}): too many arguments")
  end
  if type(initial) == "table" and getmetatable(initial) == nil and initial.initial_value ~= nil and opts == nil then
    opts, initial = initial, initial.initial_value
  end
  if type(opts) == "boolean" then opts = { trainable = opts } end
  opts = opts or {}
  if type(opts) ~= "table" then
    raise("InvalidArgument", ("tf.Variable: options must be a table, got %s"):format(type(opts)))
  end
  for k in pairs(opts) do
    if not known_options[k] then
      raise("InvalidArgument", ("tf.Variable: unknown option '%s'"):format(tostring(k)))
    end
  end
  if type(initial) == "function" then initial = initial() end
  if initial == nil then raise("InvalidArgument", "tf.Variable: initial_value is required") end
  local name = opts.name
  if name ~= nil and type(name) ~= "string" then
    raise("InvalidArgument", "tf.Variable: name must be a string")
  end
  local trainable = opts.trainable
  if trainable == nil then trainable = true end
  return core.Variable(initial, trainable, name, opts.dtype)
end

function M.install(tf)
  tf.Variable = new_variable
  tf.is_variable = core.is_variable
  local Tensor, Variable = core.Tensor.methods, core.VariableMeta.methods
  -- t.shape is a TensorShape field; the op tf.shape must not shadow it on
  -- variables (whose method table is looked up before the value's fields).
  Tensor.shape, Variable.shape = nil, nil

  function Variable.assign(v, value)
    local x = value_as(v, value, "assign")
    check_shape(v, x, "assign")
    return v:_assign_raw(x)
  end

  local function updater(op, what)
    return function(v, delta)
      local x = value_as(v, delta, what)
      local cur = v:value()
      if x.shape ~= cur.shape then
        local ok, b = pcall(ops.broadcast_to, x, cur.shape)
        if not ok then
          raise("InvalidArgument", ("%s: variable '%s' has shape %s; the value's shape %s does not broadcast to it")
            :format(what, v.name, tostring(cur.shape), tostring(x.shape)))
        end
        x = b
      end
      -- The whole tensor is one scatter row (indices of shape [1,0]): one
      -- typed add/sub over the elements, for every dtype.
      return v:_assign_raw(ops[op](cur, core.constant({ {} }, "int32"), ops.expand_dims(x, 0)))
    end
  end
  Variable.assign_add = updater("tensor_scatter_nd_add", "assign_add")
  Variable.assign_sub = updater("tensor_scatter_nd_sub", "assign_sub")

  local function scatter(op, what)
    return function(v, indices, updates)
      local u = value_as(v, updates, what)
      return v:_assign_raw(ops[op](v:value(), indices, u))
    end
  end
  Variable.scatter_nd_update = scatter("tensor_scatter_nd_update", "scatter_nd_update")
  Variable.scatter_nd_add = scatter("tensor_scatter_nd_add", "scatter_nd_add")
  Variable.scatter_nd_sub = scatter("tensor_scatter_nd_sub", "scatter_nd_sub")
end

return M
