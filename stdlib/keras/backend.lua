-- keras.backend: the few global settings Keras layers share.
--
--   keras.backend.get_uid("dense")     -- 1, 2, 3, ... per prefix (layer names)
--   keras.backend.clear_session()      -- resets the name counters (dense, dense_1, ...)
--   keras.backend.floatx() / set_floatx("float64"), epsilon() / set_epsilon(1e-7),
--   keras.backend.image_data_format()  -- "channels_last"
--
-- Invariant: uids count from 1 per prefix, exactly as Keras's backend.get_uid;
-- clear_session() also runs the hooks other modules register with
-- on_clear_session(fn) (for example a models-side cache). It does not free
-- tensors or variables: Lua's collector owns them.
local M = {}

local uids = {}
local floatx = "float32"
local epsilon = 1e-7
local image_data_format = "channels_last"
local clear_hooks = {}

local function raise(kind, msg) require("tlua.core").raise(kind, msg) end

-- The next uid for prefix (1 on the first call after clear_session).
function M.get_uid(prefix)
  prefix = prefix or ""
  local n = (uids[prefix] or 0) + 1
  uids[prefix] = n
  return n
end

-- Reset the uid of one prefix (nil: all of them), as Keras's reset_uids.
function M.reset_uids(prefix)
  if prefix == nil then uids = {} else uids[prefix] = nil end
end

function M.on_clear_session(fn) clear_hooks[#clear_hooks + 1] = fn end

function M.clear_session()
  uids = {}
  for _, fn in ipairs(clear_hooks) do fn() end
end

function M.floatx() return floatx end
function M.set_floatx(v)
  if v ~= "float16" and v ~= "bfloat16" and v ~= "float32" and v ~= "float64" then
    raise("InvalidArgument", ("keras.backend.set_floatx: unknown float type '%s' (float16, bfloat16, float32 or float64)"):format(tostring(v)))
  end
  floatx = v
end

function M.epsilon() return epsilon end
function M.set_epsilon(v)
  if type(v) ~= "number" then raise("InvalidArgument", "keras.backend.set_epsilon: expected a number") end
  epsilon = v
end

function M.image_data_format() return image_data_format end
function M.set_image_data_format(v)
  if v ~= "channels_last" and v ~= "channels_first" then
    raise("InvalidArgument", ("keras.backend.set_image_data_format: expected 'channels_last' or 'channels_first', got '%s'"):format(tostring(v)))
  end
  image_data_format = v
end

return M
