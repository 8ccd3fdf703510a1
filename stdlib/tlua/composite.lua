-- tlua/composite.lua — composite values (tf.SparseTensor, tf.RaggedTensor,
-- tf.TensorArray): values made of component tensors, which tf.trace,
-- tf.cond and tf.while_loop take apart into their tensors and put back
-- together (TensorFlow's CompositeTensor / TypeSpec, in Lua terms).
--
-- A composite type registers its metatable once:
--
--   composite.register(mt, {
--     name = "SparseTensor",
--     -- the component tensors in a fixed order, and a string naming what
--     -- is static about x (dtype, ragged_rank, ...): two values with the
--     -- same spec text can share a trace
--     flatten = function(x) return {x.indices, x.values, x.dense_shape}, "float32" end,
--     -- a value of the type from its spec text and (maybe symbolic) components
--     unflatten = function(spec, comps) return M.SparseTensor(...) end,
--     -- optional: per component, the 0-based dimensions a trace keeps
--     -- unknown (nnz, nvals: they change from call to call)
--     dynamic = function(spec, i) return {0} end,
--     -- optional (tf.TensorArray): a loop variable whose spec the body
--     -- changes, or tf.cond branches that return it in two specs.
--     -- merge(a, b) is the spec both fit (nil: none); cast makes a value
--     -- of spec from x (the loop's entry value, a branch's result)
--     merge = function(a, b) ... end, cast = function(spec, x) ... end,
--     -- optional: an eager tf.while_loop passes values of the type through
--     -- as they are (type checked only), without flatten/unflatten
--     pass_eager = true,
--   })
--
-- Users never see this module; it is the contract between the types and
-- the tracer.
local M = {}

local registry = setmetatable({}, { __mode = "k" }) -- metatable -> handler

function M.register(mt, handler)
  assert(type(mt) == "table" and type(handler) == "table", "composite.register(mt, handler)")
  assert(type(handler.flatten) == "function" and type(handler.unflatten) == "function",
    "composite handlers need flatten and unflatten")
  handler.name = handler.name or tostring(mt.__name)
  registry[mt] = handler
end

-- The handler of x when x is a composite value, else nil.
function M.handler(x)
  local mt = getmetatable(x)
  return mt ~= nil and registry[mt] or nil
end

function M.is_composite(x) return M.handler(x) ~= nil end

-- comps, spec text (with the type's name), handler.
function M.flatten(x)
  local h = M.handler(x)
  local comps, spec = h.flatten(x)
  return comps, h.name .. "<" .. tostring(spec or "") .. ">", h, spec
end

-- The dynamic dimensions (a set of 0-based indices) of component i.
function M.dynamic(h, spec, i)
  if not h.dynamic then return nil end
  local d = h.dynamic(spec, i)
  if not d or #d == 0 then return nil end
  local set = {}
  for _, k in ipairs(d) do set[k] = true end
  return set
end

function M.unflatten(h, spec, comps) return h.unflatten(spec, comps) end

function M.cast(h, spec, x) return h.cast(spec, x) end

function M.install(tf)
  tf._composite = M
end

return M
