-- tlua: the `tf` namespace. Assembles the C core's op registry into
-- TensorFlow's namespaces and installs the Lua-side parts, one module per
-- concern. `require("tlua")` returns tf; `tf.keras` is the Keras library.
local core = require("tlua.core")

local tf = { core = core, __version__ = "0.1.0" }

local namespaces = {
  "math", "linalg", "nn", "random", "sparse", "ragged", "strings", "sets",
  "queue", "data", "image", "signal", "io", "debugging", "errors", "dtypes",
  "raw_ops", "config", "train",
}
for _, ns in ipairs(namespaces) do tf[ns] = tf[ns] or {} end

-- dtypes: tf.float32, ... (DType objects compare by identity)
for _, d in ipairs(core.dtypes) do
  tf[d.name] = d
  tf.dtypes[d.name] = d
end
getmetatable(core.dtypes[1]).__tostring = function(d) return "tf." .. d.name end
-- tf.as_dtype(x): the DType for a DType or a name ("float32", "half");
-- anything else is an InvalidArgument error.
tf.as_dtype = core.as_dtype
tf.dtypes.as_dtype = core.as_dtype

-- Every registered op appears where its declaration's `api` says, as a
-- tensor method of its own name, and under tf.raw_ops.
local function set_path(root, path, value)
  local parts = {}
  for p in path:gmatch("[^.]+") do parts[#parts + 1] = p end
  assert(parts[1] == "tf", "api path must start with tf.: " .. path)
  local t = root
  for i = 2, #parts - 1 do
    t[parts[i]] = t[parts[i]] or {}
    t = t[parts[i]]
  end
  t[parts[#parts]] = value
end

local Tensor = core.Tensor
local Variable = core.VariableMeta
for _, name in ipairs(core.op_names()) do
  local info = core.op_info(name)
  local f = core.ops[name]
  tf.raw_ops[name] = f
  if info.api == "" then
    tf[name] = f
    Tensor.methods[name] = f
  elseif info.api ~= "-" then
    for path in info.api:gmatch("%S+") do set_path(tf, path, f) end
    Tensor.methods[name] = f
  end
end
for k, f in pairs(Tensor.methods) do
  if Variable.methods[k] == nil then Variable.methods[k] = f end
end

tf.constant = core.constant
tf.convert_to_tensor = core.constant
tf.is_tensor = core.is_tensor
-- tf.math.rint: round half to even, which tf.round already is (docs/api_coverage.md)
tf.math.rint = tf.math.round
tf.Tensor = core.Tensor

-- Lua-side modules, one per concern. Each returns {install = function(tf)}.
local modules = {
  "tlua.errors", "tlua.composite", "tlua.shape", "tlua.operators", "tlua.variable",
  "tlua.indexing", "tlua.creation", "tlua.help", "tlua.tape",
  "tlua.linalg", "tlua.checkpoint", "tlua.device", "tlua.conv", "tlua.trace",
  "tlua.control", "tlua.saved_model", "tlua.onnx",
  "tlua.hostcalls",
  "tlua.sparse",
  "tlua.tensor_array",
  "tlua.ragged",
  "tlua.strings",
  "tlua.queue",
  "tlua.math_extra",
}
for _, m in ipairs(modules) do require(m).install(tf) end

-- Methods added by modules also reach variables.
for k, f in pairs(Tensor.methods) do
  if Variable.methods[k] == nil then Variable.methods[k] = f end
end

-- Errors name the user's line, not tlua's: the binding skips frames of
-- files in the tlua/ and keras/ folders beside this one.
tf._hooks.library_root = debug.getinfo(1, "S").source:match("^@(.*)tlua[/\\]init%.lua$")
core.set_hooks(tf._hooks)

-- Eager code makes a short-lived tensor userdata (with a __gc) per op. The
-- incremental collector lets them pile up between cycles, and freeing them in
-- bulk costs ~1 us per op in malloc churn and cache misses; the generational
-- collector frees them young (a 10-element add: 1.5 us -> 0.5 us per call).
collectgarbage("generational")
tf.keras = require("keras") -- stdlib/keras: loads its namespaces on first use
return tf
