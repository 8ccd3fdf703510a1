-- tf.GradientTape, tf.custom_gradient and numeric checking.
--
-- The recording and the backward walk are in C (src/autodiff/tape.c); this module
-- gives them TensorFlow's shape: a tape records from creation until
-- tape:stop(), until it is closed (`local tape <close> = tf.GradientTape()`),
-- or, when not persistent, until its first gradient call. Sources and
-- results keep the caller's structure (one tensor, or a Lua list, nested).
local core = require("tlua.core")

local M = {}

local GradientTape = {}
GradientTape.__index = GradientTape
GradientTape.__name = "tf.GradientTape"

local function is_tensorish(x) return core.is_tensor(x) end

-- Flattens nested Lua lists of tensors/variables into `flat`, returning a
-- function that rebuilds the structure from a list of results.
local function flatten(x, flat)
  if is_tensorish(x) then
    flat[#flat + 1] = x
    local i = #flat
    return function(res) return res[i] end
  end
  if type(x) ~= "table" then
    error(("gradient: a source must be a tf.Tensor, tf.Variable or a list of them, got %s"):format(type(x)), 3)
  end
  local builders, keys = {}, {}
  for k, v in pairs(x) do
    keys[#keys + 1] = k
    builders[#builders + 1] = flatten(v, flat)
  end
  return function(res)
    local out = {}
    for i, k in ipairs(keys) do out[k] = builders[i](res) end
    return out
  end
end

function M.GradientTape(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("tf.GradientTape: options must be a table", 2) end
  local self = setmetatable({
    persistent = opts.persistent or false,
    watch_accessed_variables = opts.watch_accessed_variables ~= false,
  }, GradientTape)
  self._tape = core.tape_new(self.persistent, self.watch_accessed_variables)
  self._tape:start()
  return self
end

function GradientTape:stop() self._tape:stop() return self end
function GradientTape:start() self._tape:start() return self end
GradientTape.__close = function(self) self._tape:stop() end
function GradientTape:recording() return self._tape:recording() end

-- tape:stop_recording() returns a closable guard: `do local _ <close> = tape:stop_recording() ... end`
function GradientTape:stop_recording()
  local tape = self._tape
  tape:stop()
  return setmetatable({}, { __close = function() tape:start() end })
end

function GradientTape:watch(x)
  local flat = {}
  flatten(x, flat)
  for _, t in ipairs(flat) do self._tape:watch(t) end
end

function GradientTape:reset() self._tape:reset() end
function GradientTape:watched_variables() return self._tape:watched_variables() end

local function target_list(target)
  if is_tensorish(target) then return { target } end
  local flat = {}
  flatten(target, flat)
  return flat
end

-- gradient(target, sources, {output_gradients=, unconnected_gradients="none"|"zero"})
function GradientTape:gradient(target, sources, opts)
  opts = opts or {}
  if target == nil then error("gradient: target is nil", 2) end
  if sources == nil then error("gradient: sources is nil", 2) end
  local zero = opts.unconnected_gradients == "zero" or opts.unconnected_gradients == "ZERO"
  local flat = {}
  local rebuild = flatten(sources, flat)
  local targets = target_list(target)
  local ogs = opts.output_gradients
  if ogs ~= nil and is_tensorish(ogs) then ogs = { ogs } end
  local total
  for i, t in ipairs(targets) do
    local last = i == #targets
    local og = ogs and ogs[i]
    if og ~= nil and not core.is_tensor(og) then og = core.constant(og, t.dtype) end
    local res = self._tape:gradient(t, flat, og, zero, not last)
    if not total then
      total = res
    else
      for k = 1, #flat do
        if res[k] ~= nil then total[k] = total[k] and (total[k] + res[k]) or res[k] end
      end
    end
  end
  return rebuild(total or {})
end

-- jacobian(target, source): d target[i...] / d source[j...], shape
-- target.shape .. source.shape. One backward pass per target element.
function GradientTape:jacobian(target, source, opts)
  local tf = require("tlua")
  opts = opts or {}
  local n = tf.size(target):item()
  local tshape = target.shape:as_list()
  local rows = {}
  local flat = {}
  local rebuild = flatten(source, flat)
  local zero = opts.unconnected_gradients == "zero"
  local per_source = {}
  for k = 1, #flat do per_source[k] = {} end
  for i = 0, n - 1 do
    local og = tf.reshape(tf.one_hot(i, n, { dtype = target.dtype }), tshape)
    local res = self._tape:gradient(target, flat, og, true, true)
    for k = 1, #flat do per_source[k][i + 1] = res[k] end
  end
  if not self.persistent then self._tape:consume() end
  local out = {}
  for k, src in ipairs(flat) do
    local sshape = src.shape:as_list()
    local full = {}
    for _, d in ipairs(tshape) do full[#full + 1] = d end
    for _, d in ipairs(sshape) do full[#full + 1] = d end
    local connected = false
    for i = 1, n do connected = connected or tf.reduce_any(tf.not_equal(per_source[k][i], 0)):item() end
    if n == 0 then
      out[k] = tf.zeros(full, src.dtype)
    elseif not connected and not zero then
      out[k] = nil
    else
      out[k] = tf.reshape(tf.stack(per_source[k]), full)
    end
    rows[k] = out[k]
  end
  return rebuild(out)
end

-- batch_jacobian(target [b, ...], source [b, ...]) -> [b, target..., source...]
function GradientTape:batch_jacobian(target, source)
  local tf = require("tlua")
  local tshape = target.shape:as_list()
  local sshape = source.shape:as_list()
  local b = tshape[1]
  if sshape[1] ~= b then
    core.raise("InvalidArgument", ("batch_jacobian: target batch %d differs from source batch %d"):format(b, sshape[1] or -1))
  end
  local m = 1
  for i = 2, #tshape do m = m * tshape[i] end
  local cols = {}
  for j = 0, m - 1 do
    local og = tf.reshape(tf.tile(tf.reshape(tf.one_hot(j, m, { dtype = target.dtype }), { 1, m }), { b, 1 }), tshape)
    local res = self._tape:gradient(target, { source }, og, true, true)
    cols[j + 1] = res[1]
  end
  if not self.persistent then self._tape:consume() end
  local full = { b }
  for i = 2, #tshape do full[#full + 1] = tshape[i] end
  for i = 2, #sshape do full[#full + 1] = sshape[i] end
  if m == 0 then return tf.zeros(full, source.dtype) end
  return tf.reshape(tf.stack(cols, 1), full)
end

-- tf.custom_gradient(f): f(...) returns result(s) and a function that maps
-- the result gradients to the input gradients. Inside f nothing is recorded.
function M.custom_gradient(f)
  return function(...)
    local args = table.pack(...)
    core.tape_pause()
    local res = table.pack(pcall(f, ...))
    core.tape_resume()
    if not res[1] then error(res[2], 0) end
    local grad_fn = res[res.n]
    if type(grad_fn) ~= "function" then
      error("custom_gradient: f must return its result(s) and then a gradient function", 2)
    end
    local outs = {}
    for i = 2, res.n - 1 do outs[#outs + 1] = res[i] end
    local ins = {}
    for i = 1, args.n do
      if core.is_tensor(args[i]) then ins[#ins + 1] = args[i] end
    end
    if core.tapes_active() then
      core.record_custom(ins, outs, function(...)
        local g = table.pack(grad_fn(...))
        return table.unpack(g, 1, #ins)
      end)
    end
    return table.unpack(outs)
  end
end

function M.install(tf)
  tf.GradientTape = M.GradientTape
  tf.custom_gradient = M.custom_gradient
  tf.debugging.enable_check_numerics = function() core.set_check_numerics(true) end
  tf.debugging.disable_check_numerics = function() core.set_check_numerics(false) end
  tf.debugging.is_check_numerics_enabled = core.get_check_numerics
  tf.GradientTapeClass = GradientTape
end

return M
