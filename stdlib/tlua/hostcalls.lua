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

function M.install(tf)
  tf.print = M.print
  M.tf = tf
end

return M
