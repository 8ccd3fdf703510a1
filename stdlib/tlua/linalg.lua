-- tlua.linalg: the parts of tf.linalg whose TensorFlow arguments do not fit
-- an op declaration. tf.tensordot's `axes` is an integer or a pair of axis
-- lists; tf.norm's `ord` is a string or a number (math.huge for inf). Both
-- translate their arguments here and call the C ops (tensordot, norm).
local M = {}

function M.install(tf)
  local core = tf.core
  local raw_tensordot, raw_norm = core.ops.tensordot, core.ops.norm

  local function raise(msg) core.raise("InvalidArgument", msg) end
  local check_options = require("tlua.errors").check_options

  local function as_list(x, what)
    if math.type(x) == "integer" then return { x } end
    if type(x) == "table" and not core.is_tensor(x) then
      for i, v in ipairs(x) do
        if math.type(v) ~= "integer" then
          raise(("tensordot: %s entry %d must be an integer"):format(what, i))
        end
      end
      return x
    end
    if core.is_tensor(x) then return x:totable() end
    raise(("tensordot: %s must be an integer or a list of integers"):format(what))
  end

  -- tf.tensordot(a, b, axes): axes = n (last n of a with first n of b),
  -- {a_axis, b_axis} or {{a_axes...}, {b_axes...}}.
  local function tensordot(a, b, axes, opts)
    if core.is_options(axes) then
      opts, axes = axes, nil
    elseif opts ~= nil and not core.is_options(opts) then
      raise("tensordot: the argument after axes must be an options table")
    end
    check_options("tensordot", opts, { axes = true, name = true })
    if axes == nil and type(opts) == "table" then axes = opts.axes end
    if axes == nil then raise("tensordot: argument 'axes' is required") end
    -- a Lua value takes the other operand's dtype and device
    if not core.is_tensor(a) then a = core.is_tensor(b) and core.constant_on(a, b.dtype, b.device) or core.constant(a) end
    if not core.is_tensor(b) then b = core.constant_on(b, a.dtype, a.device) end
    local a_axes, b_axes
    if math.type(axes) == "integer" then
      if axes < 0 then raise(("tensordot: axes must be non-negative (got %d)"):format(axes)) end
      if axes > a.ndim or axes > b.ndim then
        raise(("tensordot: axes=%d but the ranks are %d and %d"):format(axes, a.ndim, b.ndim))
      end
      a_axes, b_axes = {}, {}
      for i = 1, axes do
        a_axes[i] = a.ndim - axes + i - 1
        b_axes[i] = i - 1
      end
    elseif type(axes) == "table" or core.is_tensor(axes) then
      if core.is_tensor(axes) then axes = axes:totable() end
      if #axes ~= 2 then raise("tensordot: axes must be an integer or a pair {a_axes, b_axes}") end
      a_axes, b_axes = as_list(axes[1], "a's axes"), as_list(axes[2], "b's axes")
    else
      raise("tensordot: axes must be an integer or a pair {a_axes, b_axes}")
    end
    return raw_tensordot(a, b, a_axes, b_axes)
  end

  -- ord: "euclidean", "fro", 1, 2, math.huge (inf) or a positive number.
  local function ord_string(ord)
    if ord == nil then return nil end
    if type(ord) == "string" then
      if ord == "inf" or ord == "np.inf" then return "inf" end
      return ord
    end
    if type(ord) == "number" then
      if ord == math.huge then return "inf" end
      if ord == -math.huge then return "-inf" end
      if math.type(ord) == "integer" then return tostring(ord) end
      return ("%.17g"):format(ord)
    end
    raise("norm: argument 'ord' must be a string or a number")
  end

  local function norm(tensor, ord, axis, keepdims, opts)
    local args = { ord, axis, keepdims, opts }
    -- the options table may come in any trailing position
    for i = 1, 4 do
      local v = args[i]
      if core.is_options(v) then
        opts = v
        for k = i, 4 do args[k] = nil end
        break
      end
    end
    ord, axis, keepdims = args[1], args[2], args[3]
    local o = {}
    if opts then for k, v in pairs(opts) do o[k] = v end end
    if ord ~= nil then o.ord = ord end
    if axis ~= nil then o.axis = axis end
    if keepdims ~= nil then o.keepdims = keepdims end
    o.ord = ord_string(o.ord)
    if next(o) == nil then return raw_norm(tensor) end
    return raw_norm(tensor, o)
  end

  tf.tensordot, tf.linalg.tensordot = tensordot, tensordot
  tf.norm, tf.linalg.norm = norm, norm
  -- variables got the C op as a method before this module ran: replace both
  for _, meta in ipairs({ core.Tensor, core.VariableMeta }) do
    meta.methods.tensordot = tensordot
    meta.methods.norm = norm
  end
  require("tlua.linalg_decomp").install(tf)
end

return M
