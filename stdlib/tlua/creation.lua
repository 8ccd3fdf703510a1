-- tlua.creation: Lua-side sugar over the creation and random ops where
-- TensorFlow's calling forms do not fit the generic dispatcher: tf.fill's
-- dims given as a TensorShape or as integral floats, tf.one_hot's dtype
-- inferred from on_value / off_value, and tf.random.set_seed. The ops themselves are C (ops/create.c,
-- random.c); these wrappers only reshape arguments and call core.ops.
local core = require("tlua.core")

local M = {}

local is_options = core.is_options -- the one rule (lua/lbinding.c)

-- Splits (positional..., opts?) into one table of named arguments.
local function named_args(names, ...)
  local n = select("#", ...)
  local args = { ... }
  local opts = {}
  if n > 0 and is_options(args[n]) then
    for k, v in pairs(args[n]) do opts[k] = v end
    n = n - 1
  end
  if n > #names then
    core.raise("InvalidArgument", ("%s: too many arguments (%d given)"):format(names.op, n))
  end
  for i = 1, n do
    if args[i] ~= nil then opts[names[i]] = args[i] end
  end
  return opts
end

local function shape_list(s)
  if type(s) == "table" and type(s.as_list) == "function" and rawget(s, "_dims") then
    return s:as_list()
  end
  return s
end

-- The dtype TensorFlow's one_hot infers from on_value/off_value.
local function value_dtype(tf, v)
  if v == nil then return nil end
  if math.type(v) == "integer" then return tf.int32 end
  if math.type(v) == "float" then return tf.float32 end
  if type(v) == "boolean" then return tf.bool end
  if core.is_tensor(v) then return v.dtype end
  return nil
end

function M.install(tf)
  local ops = core.ops

  local fill_names = { op = "fill", "dims", "value" }
  function tf.fill(...)
    local a = named_args(fill_names, ...)
    a.dims = shape_list(a.dims)
    if type(a.dims) == "table" and not core.is_tensor(a.dims) then
      if #a.dims == 0 then
        a.dims = tf.constant({}, tf.int32)
      else
        -- integral floats (6/2, 2^10) are sizes, as in every other shape
        local dims = {}
        for i, d in ipairs(a.dims) do dims[i] = math.type(d) == "float" and math.tointeger(d) or d end
        a.dims = dims
      end
    end
    return ops.fill(a)
  end

  local one_hot_names = { op = "one_hot", "indices", "depth", "on_value", "off_value", "axis", "dtype" }
  function tf.one_hot(...)
    local a = named_args(one_hot_names, ...)
    if a.dtype == nil then
      a.dtype = value_dtype(tf, a.on_value) or value_dtype(tf, a.off_value) or tf.float32
    end
    for _, k in ipairs({ "on_value", "off_value" }) do
      if type(a[k]) == "boolean" then a[k] = a[k] and 1 or 0 end
    end
    return ops.one_hot(a)
  end

  tf.random = tf.random or {}
  function tf.random.set_seed(seed)
    if math.type(seed) ~= "integer" then
      local ok = type(seed) == "number" and seed == math.floor(seed)
      if not ok then
        core.raise("InvalidArgument", ("random.set_seed: seed must be an integer (got %s)"):format(tostring(seed)))
      end
      seed = math.tointeger(seed)
    end
    core.random_set_seed(seed)
  end

  -- TensorFlow's tf.*_initializer classes have Keras's initializers' options,
  -- defaults and call form (init(shape, dtype)); keras loads on first use, so
  -- these forward at call time.
  local initializers = {
    zeros_initializer = "Zeros", ones_initializer = "Ones", constant_initializer = "Constant",
    random_normal_initializer = "RandomNormal", random_uniform_initializer = "RandomUniform",
  }
  local help = require("tlua.help")
  for tf_name, keras_name in pairs(initializers) do
    tf[tf_name] = help.register(function(...) return tf.keras.initializers[keras_name](...) end,
      ("tf.%s(...): keras.initializers.%s(...), same options and defaults; init(shape, dtype) "
        .. "returns the values. Example: tf.%s()({2, 3})"):format(tf_name, keras_name, tf_name))
  end
end

return M
