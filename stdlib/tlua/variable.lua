-- tlua.variable: tf.Variable's Lua side.
--
--   local v = tf.Variable({1, 2, 3}, {name = "w", trainable = true, dtype = tf.float32})
--   v:assign(x); v:assign_add(d); v:assign_sub(d)   (d: the variable's shape)
--   v:scatter_update(indices, updates)   (and _add _sub _mul _div _min _max: rows)
--   v:scatter_nd_update(indices, updates)   (and scatter_nd_add / scatter_nd_sub)
--   v[{0, "1:"}] = x; v["::2"] = 0; v[1] = {4, 5}
--   v.name, v.trainable, v.shape, v.dtype, v:value(), v:read_value()
--
-- The C core holds the value with copy-on-write: a tensor read from a
-- variable (v:value(), v[0], v + 1) never changes after a later assign.
-- Lua values given to assign* convert to the variable's dtype; tensors must
-- already have it (tf.cast), and shapes must match exactly, as in TensorFlow.
-- Reads and writes are ops (read_variable, assign, assign_add, scatter_*;
-- src/ops/state.c), never a side channel.
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
  local trace = require("tlua.trace")
  trace.check_variable_creation()
  -- An initializer runs eagerly even inside a traced function: a variable
  -- needs a value when it is made.
  if type(initial) == "function" then initial = trace.init_scope(initial) end
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

  -- Every write is one op on the variable (ops/state.c), so an observer of
  -- op calls (a tape, a tracer) sees it. Lua values convert to the
  -- variable's dtype; tensors must have it (tf.cast); the value must have
  -- the variable's shape exactly, as in TensorFlow (no broadcasting).
  local function check_dtype(v, value, what)
    if core.is_tensor(value) and value.dtype ~= v.dtype then
      raise("InvalidArgument", ("%s: cannot assign a %s value to variable '%s' of dtype %s (use tf.cast)")
        :format(what, value.dtype.name, v.name, v.dtype.name))
    end
  end

  function Variable.assign(v, value)
    check_dtype(v, value, "assign")
    return v:_assign_raw(value)
  end

  local function updater(op)
    local f = ops[op]
    return function(v, delta)
      check_dtype(v, delta, op)
      f(v, delta)
      return v
    end
  end
  Variable.assign_add = updater("assign_add")
  Variable.assign_sub = updater("assign_sub")

  -- v:scatter_add(indices, updates) or v:scatter_add({indices=, values=})
  -- (tf.IndexedSlices' fields): rows of the first axis, as tf.Variable's.
  local function row_scatter(op)
    local f = ops[op]
    return function(v, indices, updates)
      if updates == nil and type(indices) == "table" and getmetatable(indices) == nil and indices.indices ~= nil then
        indices, updates = indices.indices, indices.values
      end
      check_dtype(v, updates, op)
      f(v, indices, updates)
      return v
    end
  end
  for _, op in ipairs({ "scatter_update", "scatter_add", "scatter_sub", "scatter_mul", "scatter_div",
                        "scatter_min", "scatter_max" }) do
    Variable[op] = row_scatter(op)
  end

  -- The n-dimensional scatters compose the functional op with assign.
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
