-- tlua.device: tf.device scopes and the tensor methods that move data.
--
--   local d <close> = tf.device("TEST:0")    -- until d is closed
--   local d = tf.device("CPU:0"):start() ... d:stop()
--   tf.device("TEST:0", function() ... end)  -- fn runs inside, results returned
--   x:cpu(), x:gpu()                         -- TensorFlow's EagerTensor copies
--
-- A scope sets the default device (core.device_enter, a per-thread stack in
-- lua/core.c): tf.constant, Lua values converted for ops without tensor
-- inputs, creation ops and tf.Variable place their tensors there. Ops with
-- tensor inputs run where their inputs are, whatever the scope says; mixing
-- devices is an error and tf.copy_to_device is the explicit copy.
-- Stopping a scope restores the device that was the default when it
-- started (and closes scopes opened inside it that were left open).
local core = require("tlua.core")

local M = {}

local Scope = {}
Scope.__index = Scope
Scope.__name = "tf.device"

function Scope:start()
  if self._level then
    core.raise("FailedPrecondition", ("tf.device('%s'): the scope is already started"):format(self.name))
  end
  self._level = core.device_enter(self.name)
  return self
end

function Scope:stop()
  if self._level then
    core.device_exit(self._level)
    self._level = nil
  end
  return self
end

Scope.__close = function(self) self:stop() end
Scope.__tostring = function(self) return ("<tf.device %s>"):format(self.device) end

-- tf.device(name): a started scope; tf.device(name, fn): fn(...) inside it.
local function device(name, fn, ...)
  if type(name) ~= "string" then
    core.raise("InvalidArgument", ("tf.device: the device name must be a string such as \"CPU:0\", got %s")
      :format(type(name)))
  end
  local full = core.device_name(name) -- InvalidArgument for unknown names, before anything changes
  local scope = setmetatable({ name = name, device = full }, Scope)
  if fn == nil then return scope:start() end
  if type(fn) ~= "function" then
    core.raise("InvalidArgument", ("tf.device: the second argument must be a function, got %s"):format(type(fn)))
  end
  local s <close> = scope:start()
  return fn(...)
end
M.device = device

function M.install(tf)
  tf.device = device
  local copy = core.ops.copy_to_device
  local methods = core.Tensor.methods
  -- EagerTensor.cpu() / .gpu(): explicit copies (through the op, so tapes
  -- and tracers see them).
  function methods.cpu(x) return copy(x, "CPU:0") end
  function methods.gpu(x, index)
    return copy(x, ("GPU:%d"):format(index or 0))
  end
end

return M
