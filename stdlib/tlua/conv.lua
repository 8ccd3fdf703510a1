-- tlua.conv: tf.nn's convolution and pooling functions, in TensorFlow's
-- argument order, over the C ops of src/ops/conv.c and src/ops/pool.c.
-- What does not fit an op declaration is translated here: padding given as
-- a list of pairs ({{0,0},{top,bottom},{left,right},{0,0}}) becomes
-- padding "EXPLICIT" with 8 explicit_paddings; the 1-D forms (conv1d,
-- max_pool1d, avg_pool1d, and max_pool/avg_pool on rank-3 input) insert a
-- height of 1 and call the 2-D ops, as TensorFlow does; conv2d_transpose is
-- conv2d_backprop_input. Shapes, dtypes and geometry are checked by the
-- ops' shape rules, so errors name the op and its operands.
-- Not here: NCHW (the ops say Unimplemented), 3-D convolutions and pools.
local M = {}

function M.install(tf)
  local core = tf.core
  local ops = core.ops
  local check_options = require("tlua.errors").check_options
  local is_options = core.is_options

  local function raise(msg) core.raise("InvalidArgument", msg) end

  -- The trailing arguments of a wrapper: positional values for names (in
  -- order) and/or one options table; returns a table of the values.
  local function trailing(who, names, known, ...)
    local n = select("#", ...)
    local opts
    local args = { ... }
    if n > 0 and is_options(args[n]) then
      opts = args[n]
      args[n] = nil
      n = n - 1
    end
    local o = {}
    for k, v in pairs(check_options(who, opts, known)) do o[k] = v end
    for i = 1, n do
      if args[i] ~= nil then
        if names[i] == nil then raise(("%s: too many arguments"):format(who)) end
        o[names[i]] = args[i]
      end
    end
    return o
  end

  local function is_list(v) return type(v) == "table" and not is_options(v) and getmetatable(v) == nil end

  -- padding: a string, or pairs for every dimension of the input (npairs).
  local function padding_of(who, padding, npairs)
    if type(padding) == "string" then return padding, nil end
    if not is_list(padding) then
      raise(("%s: padding must be 'SAME', 'VALID' or a list of %d [before, after] pairs, got %s")
        :format(who, npairs, type(padding)))
    end
    if #padding ~= npairs then
      raise(("%s: explicit padding must have %d [before, after] pairs (one per input dimension), got %d")
        :format(who, npairs, #padding))
    end
    local flat = {}
    for i, p in ipairs(padding) do
      if not is_list(p) or #p ~= 2 or math.type(p[1]) ~= "integer" or math.type(p[2]) ~= "integer" then
        raise(("%s: explicit padding entry %d must be a pair of integers"):format(who, i))
      end
      flat[#flat + 1], flat[#flat + 2] = p[1], p[2]
    end
    if npairs == 3 then -- NWC: add the height pair
      table.insert(flat, 3, 0)
      table.insert(flat, 3, 0)
    end
    return "EXPLICIT", flat
  end

  local function as_ints(v)
    if core.is_tensor(v) then return v:totable() end
    if type(v) == "table" and getmetatable(v) ~= nil and v.as_list then return v:as_list() end
    return v
  end

  -- A 1-D window attribute (an int, [w] or [1, w, 1]) as the 2-D [1, w].
  local function one_d(who, what, v)
    if v == nil then return nil end
    v = as_ints(v)
    if math.type(v) == "integer" then return { 1, v } end
    if is_list(v) then
      if #v == 1 then return { 1, v[1] } end
      if #v == 3 then
        if v[1] ~= 1 or v[3] ~= 1 then
          raise(("%s: %s in the batch and channel dimensions must be 1"):format(who, what))
        end
        return { 1, v[2] }
      end
    end
    raise(("%s: %s must be an int or a list of 1 or 3 ints"):format(who, what))
  end

  local CONV_KNOWN = { data_format = true, dilations = true, name = true }

  local function conv2d(input, filters, strides, padding, ...)
    local o = trailing("conv2d", { "data_format", "dilations" }, CONV_KNOWN, ...)
    local pad, explicit = padding_of("conv2d", padding, 4)
    return ops.conv2d(input, filters, as_ints(strides), pad, o.data_format, as_ints(o.dilations), explicit)
  end

  local function depthwise_conv2d(input, filter, strides, padding, ...)
    local o = trailing("depthwise_conv2d", { "data_format", "dilations" }, CONV_KNOWN, ...)
    local pad, explicit = padding_of("depthwise_conv2d", padding, 4)
    return ops.depthwise_conv2d_native(input, filter, as_ints(strides), pad, o.data_format, as_ints(o.dilations),
      explicit)
  end

  local function conv2d_transpose(input, filters, output_shape, strides, padding, ...)
    local o = trailing("conv2d_transpose", { "data_format", "dilations" }, CONV_KNOWN, ...)
    local pad, explicit = padding_of("conv2d_transpose", padding, 4)
    if output_shape == nil then raise("conv2d_transpose: argument 'output_shape' is required") end
    return ops.conv2d_backprop_input(filters, input, as_ints(output_shape), as_ints(strides), pad, o.data_format,
      as_ints(o.dilations), explicit)
  end

  local function check_nwc(who, fmt)
    if fmt ~= nil and fmt ~= "NWC" then
      if fmt == "NCW" then core.raise("Unimplemented", who .. ": data_format 'NCW' is not supported on the CPU (use 'NWC')") end
      raise(("%s: data_format must be 'NWC' or 'NCW', got '%s'"):format(who, tostring(fmt)))
    end
  end

  local function need_rank(who, x, r, what)
    if not core.is_tensor(x) then x = tf.constant(x) end
    if x.ndim ~= r then
      raise(("%s: %s must be %d-D, got %s[%s]"):format(who, what, r, x.dtype.name, table.concat(x.shape:as_list(), ",")))
    end
    return x
  end

  local function conv1d(input, filters, stride, padding, ...)
    local o = trailing("conv1d", { "data_format", "dilations" }, CONV_KNOWN, ...)
    check_nwc("conv1d", o.data_format)
    input = need_rank("conv1d", input, 3, "input [batch, width, channels]")
    filters = need_rank("conv1d", filters, 3, "filters [width, in_channels, out_channels]")
    local pad, explicit = padding_of("conv1d", padding, 3)
    local y = ops.conv2d(tf.expand_dims(input, 1), tf.expand_dims(filters, 0), one_d("conv1d", "stride", stride), pad,
      nil, one_d("conv1d", "dilations", o.dilations), explicit)
    return tf.squeeze(y, { 1 })
  end

  local POOL_KNOWN = { data_format = true, name = true }

  local function pool2d(who, raw)
    return function(input, ksize, strides, padding, ...)
      local o = trailing(who, { "data_format" }, POOL_KNOWN, ...)
      if type(padding) ~= "string" then raise(who .. ": padding must be 'SAME' or 'VALID'") end
      return raw(input, as_ints(ksize), as_ints(strides), padding, o.data_format)
    end
  end

  local function pool1d(who, raw)
    return function(input, ksize, strides, padding, ...)
      local o = trailing(who, { "data_format" }, POOL_KNOWN, ...)
      check_nwc(who, o.data_format)
      if type(padding) ~= "string" then raise(who .. ": padding must be 'SAME' or 'VALID'") end
      input = need_rank(who, input, 3, "input [batch, width, channels]")
      local y = raw(tf.expand_dims(input, 1), one_d(who, "ksize", ksize), one_d(who, "strides", strides), padding)
      return tf.squeeze(y, { 1 })
    end
  end

  -- tf.nn.max_pool / avg_pool: the rank of the input picks 1-D or 2-D.
  local function pool_nd(who, p1, p2)
    return function(input, ...)
      if not core.is_tensor(input) then input = tf.constant(input) end
      if input.ndim == 3 then return p1(input, ...) end
      if input.ndim == 4 then return p2(input, ...) end
      core.raise("Unimplemented", ("%s: input must be 3-D (NWC) or 4-D (NHWC), got rank %d"):format(who, input.ndim))
    end
  end

  local nn = tf.nn
  nn.conv2d, nn.conv1d, nn.conv2d_transpose, nn.depthwise_conv2d = conv2d, conv1d, conv2d_transpose, depthwise_conv2d
  nn.max_pool2d = pool2d("max_pool2d", ops.max_pool)
  nn.avg_pool2d = pool2d("avg_pool2d", ops.avg_pool)
  nn.max_pool1d = pool1d("max_pool1d", ops.max_pool)
  nn.avg_pool1d = pool1d("avg_pool1d", ops.avg_pool)
  nn.max_pool = pool_nd("max_pool", nn.max_pool1d, nn.max_pool2d)
  nn.avg_pool = pool_nd("avg_pool", nn.avg_pool1d, nn.avg_pool2d)
end

return M
