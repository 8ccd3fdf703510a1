-- tlua.hostcalls: ops that reach the host while a graph runs — tf.print
-- (the print_v2 op, src/ops/print.c) and tf.lua_function (TensorFlow's
-- tf.py_function: the lua_function op, src/ops/callback.c, calling back
-- into Lua).
--
--   tf.print("loss:", loss, "step", step, {sep = " ", summarize = 3, output_stream = "stderr"})
--   local y = tf.lua_function(function(x) return x * 2 end, {x}, tf.float32)
--
-- Both are ops, so inside a traced function they run on every call of the
-- graph (Lua's own print runs only while tracing). tf.print's Lua strings,
-- numbers, booleans and plain tables become a template with "{}" where
-- each tensor goes; a last plain table whose keys are all options
-- (sep, end, summarize, output_stream, name) is the options.
local core = require("tlua.core")

local M = {}
local raise = core.raise

local PRINT_OPTS = { sep = true, ["end"] = true, summarize = true, output_stream = true, name = true }

local function is_options(t)
  if type(t) ~= "table" or getmetatable(t) ~= nil or next(t) == nil then return false end
  for k in pairs(t) do
    if type(k) ~= "string" or not PRINT_OPTS[k] then return false end
  end
  return true
end

local function escape(s) return (s:gsub("[{}]", { ["{"] = "{{", ["}"] = "}}" })) end

-- Appends the template text of x to parts and its tensors to tensors.
local function template_of(x, parts, tensors, depth)
  local tx = type(x)
  if tx == "userdata" and (core.is_tensor(x) or core.is_variable(x)) then
    if core.is_variable(x) then x = x:read_value() end
    tensors[#tensors + 1] = x
    parts[#parts + 1] = "{}"
  elseif tx == "string" then
    parts[#parts + 1] = escape(x)
  elseif tx == "table" and getmetatable(x) == nil and depth < 16 then
    local items = {}
    if #x > 0 or next(x) == nil then
      for i = 1, #x do
        local p = {}
        template_of(x[i], p, tensors, depth + 1)
        items[i] = table.concat(p)
      end
      parts[#parts + 1] = "[" .. table.concat(items, ", ") .. "]"
    else
      local keys = {}
      for k in pairs(x) do keys[#keys + 1] = k end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      for i, k in ipairs(keys) do
        local p = {}
        template_of(x[k], p, tensors, depth + 1)
        items[i] = escape(tostring(k)) .. ": " .. table.concat(p)
      end
      parts[#parts + 1] = "{{" .. table.concat(items, ", ") .. "}}"
    end
  else
    parts[#parts + 1] = escape(tostring(x))
  end
end

local function stream_name(s)
  if s == nil then return "stderr" end -- TensorFlow's default (sys.stderr)
  if s == io.stdout then return "stdout" end
  if s == io.stderr then return "stderr" end
  if type(s) == "string" then return s end
  raise("InvalidArgument", ("tf.print: output_stream must be \"stdout\", \"stderr\", io.stdout, io.stderr, "
    .. "\"log(info)\" or \"file://PATH\", got %s"):format(type(s)))
end

-- tf.print(...): prints on every run, eagerly and from graphs.
function M.print(...)
  local args = table.pack(...)
  local opts = {}
  if args.n > 0 and is_options(args[args.n]) then
    opts = args[args.n]
    args.n = args.n - 1
  end
  local sep = opts.sep
  if sep == nil then sep = " " end
  if type(sep) ~= "string" then raise("InvalidArgument", "tf.print: sep must be a string") end
  local fin = opts["end"]
  if fin == nil then fin = "\n" end
  if type(fin) ~= "string" then raise("InvalidArgument", "tf.print: end must be a string") end
  local summarize = opts.summarize
  if summarize == nil then summarize = 3 end
  if math.type(summarize) ~= "integer" then
    raise("InvalidArgument", ("tf.print: summarize must be an integer (-1 for everything), got %s"):format(tostring(summarize)))
  end
  local parts, tensors = {}, {}
  for i = 1, args.n do
    if i > 1 then parts[#parts + 1] = escape(sep) end
    template_of(args[i], parts, tensors, 0)
  end
  core.ops.print_v2(tensors, table.concat(parts), stream_name(opts.output_stream), fin, summarize)
end

-- ---- tf.lua_function ---------------------------------------------------------

-- One declared output: a dtype (any shape) or a tf.TensorSpec (its shape,
-- nil dimensions unknown).
local function output_spec(tf, x, i)
  local mt = getmetatable(x)
  if type(x) == "string" or (mt and mt.__name == "tl.DType") then
    local ok, dt = pcall(tf.as_dtype, x)
    if ok and dt then return dt, -1, {} end
  end
  if type(x) == "table" and getmetatable(x) == require("tlua.trace").TensorSpec then
    local dims = {}
    local n = #x.shape
    for d = 0, n - 1 do dims[d + 1] = x.shape[d] or -1 end
    return x.dtype, n, dims
  end
  raise("InvalidArgument", ("tf.lua_function: Tout[%d] must be a dtype or a tf.TensorSpec, got %s"):format(i, type(x)))
end

-- tf.lua_function(fn, inputs, Tout): an op that calls the Lua function fn
-- on its inputs' values whenever it runs (eagerly now; in a traced function
-- on every call of the graph). Tout: a dtype or tf.TensorSpec (one result),
-- or a list of them (as many results, returned as several values; {} for
-- none). fn may return tensors, variables, Lua numbers or tables (made
-- tensors of the declared dtype). No gradient flows through it (its
-- outputs are constants to a tape), it runs on the thread owning the Lua
-- state only, and a graph that holds one is not portable (it needs this
-- Lua state; tf.saved_model / ONNX export refuse it).
function M.lua_function(fn, inputs, Tout, ...)
  local tf = M.tf
  if select("#", ...) > 0 then raise("InvalidArgument", "tf.lua_function(fn, inputs, Tout): too many arguments") end
  if type(fn) ~= "function" and not (type(fn) == "table" and getmetatable(fn) and getmetatable(fn).__call) then
    raise("InvalidArgument", ("tf.lua_function: fn must be a function, got %s"):format(type(fn)))
  end
  if inputs == nil then inputs = {} end
  if type(inputs) == "userdata" then inputs = { inputs } end
  if type(inputs) ~= "table" or getmetatable(inputs) ~= nil then
    raise("InvalidArgument", "tf.lua_function: inputs must be a list of tensors")
  end
  local ins = {}
  for i = 1, #inputs do
    local x = inputs[i]
    if core.is_variable(x) then x = x:read_value()
    elseif not core.is_tensor(x) then x = tf.constant(x) end
    ins[i] = x
  end
  local single = Tout ~= nil and not (type(Tout) == "table" and getmetatable(Tout) == nil)
  local outs = single and { Tout } or (Tout or {})
  local dtypes, ranks, dims = {}, {}, {}
  for i = 1, #outs do
    local dt, r, ds = output_spec(tf, outs[i], i)
    dtypes[i], ranks[i] = dt.enum, r
    for _, d in ipairs(ds) do dims[#dims + 1] = d end
  end
  local declared = {}
  for i = 1, #outs do declared[i] = output_spec(tf, outs[i], i) end
  local function callback(...)
    local res = table.pack(fn(...))
    for i = 1, res.n do
      local r = res[i]
      if r ~= nil and not core.is_tensor(r) and not core.is_variable(r) and declared[i] then
        res[i] = tf.constant(r, declared[i])
      end
    end
    if res.n ~= #declared then
      raise("InvalidArgument", ("tf.lua_function: fn returned %d values, Tout declares %d"):format(res.n, #declared))
    end
    return table.unpack(res, 1, res.n)
  end
  local hc = core.hostcall
  local id = hc.register(callback)
  local tracing = require("tlua.trace").tracing()
  local ok, res = pcall(core.ops.lua_function, ins, id, dtypes, ranks, #dims > 0 and dims or nil)
  if not tracing then hc.unregister(id) end -- a graph keeps its callback for its lifetime
  if not ok then error(res, 0) end
  if single then return res[1] end
  return table.unpack(res, 1, #outs)
end

function M.install(tf)
  tf.print = M.print
  tf.lua_function = M.lua_function
  tf.py_function = M.lua_function -- TensorFlow's name
  local help = require("tlua.help")
  help.register(M.print, "tf.print(...values, {sep=' ', end='\\n', summarize=3, output_stream='stderr'}): prints "
    .. "tensors' values (numpy-like, no tf.Tensor wrapper) and Lua values; an op, so a traced function prints on "
    .. "every call. output_stream: 'stdout', 'stderr', io.stdout/io.stderr, 'log(info)' or 'file:///path'.")
  help.register(M.lua_function, "tf.lua_function(fn, inputs, Tout): an op calling the Lua function fn on the "
    .. "inputs' values whenever it runs (TensorFlow's tf.py_function); Tout: a dtype or tf.TensorSpec, or a list of "
    .. "them (several results). No gradient; runs on the Lua state's own thread only.")
  M.tf = tf
end

return M
