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
-- function that rebuilds the structure from a list of results. `what`
-- names the argument in errors ("source", "target", "watch").
local function flatten(x, flat, what)
  if is_tensorish(x) then
    flat[#flat + 1] = x
    local i = #flat
    return function(res) return res[i] end
  end
  if type(x) ~= "table" or getmetatable(x) ~= nil then
    core.raise("InvalidArgument", ("%s must be a tf.Tensor, tf.Variable or a list of them, got %s"):format(
      what, type(x) == "table" and (getmetatable(x).__name or "an object") or type(x)))
  end
  local builders, keys = {}, {}
  for k, v in pairs(x) do
    keys[#keys + 1] = k
    builders[#builders + 1] = flatten(v, flat, what)
  end
  return function(res)
    local out = {}
    for i, k in ipairs(keys) do out[k] = builders[i](res) end
    return out
  end
end

-- Unknown option names are errors, not silently ignored (tlua.errors).
local check_options = require("tlua.errors").check_options

local TAPE_OPTIONS = { persistent = true, watch_accessed_variables = true }

function M.GradientTape(opts)
  opts = opts or {}
  if type(opts) ~= "table" or not (next(opts) == nil or core.is_options(opts)) then
    core.raise("InvalidArgument", ("tf.GradientTape: expected an options table {persistent=, watch_accessed_variables=}, got %s"):format(type(opts)))
  end
  check_options("tf.GradientTape", opts, TAPE_OPTIONS)
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
  flatten(x, flat, "watch: the argument")
  for _, t in ipairs(flat) do self._tape:watch(t) end
end

function GradientTape:reset() self._tape:reset() end
function GradientTape:watched_variables() return self._tape:watched_variables() end

local function target_list(target)
  if is_tensorish(target) then return { target } end
  local flat = {}
  flatten(target, flat, "gradient: the target")
  return flat
end

local GRADIENT_OPTIONS = { output_gradients = true, unconnected_gradients = true }
local UNCONNECTED = { none = false, NONE = false, zero = true, ZERO = true }

-- gradient(target, sources, output_gradients?, unconnected_gradients?, {output_gradients=,
-- unconnected_gradients="none"|"zero"}): TensorFlow's argument order, then
-- the options table.
function GradientTape:gradient(target, sources, ...)
  local rest = table.pack(...)
  local opts = {}
  if rest.n > 0 and type(rest[rest.n]) == "table" and not core.is_tensor(rest[rest.n])
      and next(rest[rest.n]) ~= nil and core.is_options(rest[rest.n]) then
    opts = rest[rest.n]
    rest[rest.n] = nil
    rest.n = rest.n - 1
  end
  check_options("gradient", opts, GRADIENT_OPTIONS)
  if rest.n > 2 then core.raise("InvalidArgument", ("gradient: too many arguments (%d given)"):format(rest.n + 2)) end
  local function pick(i, name)
    if rest[i] ~= nil and opts[name] ~= nil then
      core.raise("InvalidArgument", ("gradient: %s given both by position and by name"):format(name))
    end
    if rest[i] ~= nil then return rest[i] end
    return opts[name]
  end
  local ogs = pick(1, "output_gradients")
  local unconnected = pick(2, "unconnected_gradients")
  if target == nil then core.raise("InvalidArgument", "gradient: the target is nil") end
  if sources == nil then core.raise("InvalidArgument", "gradient: the sources are nil") end
  local zero = false
  if unconnected ~= nil then
    zero = UNCONNECTED[unconnected]
    if zero == nil then
      core.raise("InvalidArgument", ("gradient: unconnected_gradients must be \"none\" or \"zero\", got %s"):format(tostring(unconnected)))
    end
  end
  local targets = target_list(target)
  local flat = {}
  local rebuild = flatten(sources, flat, "gradient: a source")
  if ogs ~= nil and is_tensorish(ogs) then ogs = { ogs } end
  if ogs ~= nil and (type(ogs) ~= "table" or #ogs ~= #targets) then
    core.raise("InvalidArgument", ("gradient: output_gradients must give one gradient per target (%d targets, got %s)"):format(
      #targets, type(ogs) == "table" and tostring(#ogs) or type(ogs)))
  end
  local total
  for i, t in ipairs(targets) do
    local last = i == #targets
    local og = ogs and ogs[i]
    if og ~= nil and not core.is_tensor(og) then og = core.constant_on(og, t.dtype, t.device) end
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
  opts = check_options("jacobian", opts, { unconnected_gradients = true, parallel_iterations = true, experimental_use_pfor = true })
  if not is_tensorish(target) then
    core.raise("InvalidArgument", ("jacobian: the target must be a tf.Tensor, got %s"):format(type(target)))
  end
  local n = tf.size(target):item()
  local tshape = target.shape:as_list()
  local rows = {}
  local flat = {}
  local rebuild = flatten(source, flat, "jacobian: a source")
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

-- tf.custom_gradient(f): f(...) returns its result(s) and then a gradient
-- function. Inside f nothing is recorded; the tape records one application
-- whose backward is that Lua function: this is the one place where Lua code
-- runs inside a backward pass (the tape calls back into Lua, so a graph
-- exported from a trace cannot contain it).
--
-- Variables work as in TensorFlow: a tf.Variable passed as an argument is
-- read (a read the tape sees), so the gradient function's result for that
-- argument flows to the variable. Variables that f reads but that are not
-- arguments are found by watching variable reads during f; the gradient
-- function is then called as grad_fn(dy1, ..., dyn, variables) with
-- `variables` the list of them, and must return the argument gradients
-- followed by one list with a gradient per variable (TensorFlow's
-- `grad_fn(*dys, variables=None) -> (input_grads, variable_grads)`).
function M.custom_gradient(f)
  if type(f) ~= "function" then
    core.raise("InvalidArgument", ("custom_gradient: expected a function, got %s"):format(type(f)))
  end
  return function(...)
    local args = table.pack(...)
    core.variable_watch_begin()
    core.tape_pause()
    local res = table.pack(pcall(f, ...))
    core.tape_resume()
    local used = core.variable_watch_end()
    if not res[1] then error(res[2], 0) end
    local grad_fn = res[res.n]
    if type(grad_fn) ~= "function" then
      core.raise("InvalidArgument", "custom_gradient: f must return its result(s) and then a gradient function")
    end
    -- The recorded inputs: the tensor arguments (variables as reads), then
    -- the variables read inside f that were not arguments.
    local ins, is_arg = {}, {}
    for i = 1, args.n do
      local a = args[i]
      if core.is_variable(a) then
        is_arg[a] = true
        ins[#ins + 1] = a:value()
      elseif core.is_tensor(a) then
        ins[#ins + 1] = a
      end
    end
    local n_args = #ins
    local vars = {}
    for _, v in ipairs(used) do
      if not is_arg[v] then
        vars[#vars + 1] = v
        ins[#ins + 1] = v:value()
      end
    end
    local outs, seen = {}, {}
    for _, x in ipairs(ins) do seen[x] = true end
    for i = 2, res.n - 1 do
      local o = res[i]
      -- An output that is one of the inputs gets its own tensor, so the
      -- record's output is not its input (identity, as TensorFlow does).
      if seen[o] then
        core.tape_pause()
        o = core.ops.identity(o)
        core.tape_resume()
      end
      outs[#outs + 1] = o
    end
    if core.tapes_active() then
      core.record_custom(ins, outs, function(...)
        local dys = table.pack(...)
        if #vars == 0 then
          local g = table.pack(grad_fn(table.unpack(dys, 1, dys.n)))
          return table.unpack(g, 1, n_args)
        end
        dys.n = dys.n + 1
        dys[dys.n] = vars
        local g = table.pack(grad_fn(table.unpack(dys, 1, dys.n)))
        local vg = g[n_args + 1]
        if type(vg) ~= "table" or core.is_tensor(vg) or #vg ~= #vars then
          core.raise("InvalidArgument", ("custom_gradient: f reads %d variable(s) that are not arguments, so the gradient function must return the %d argument gradient(s) followed by a list of %d variable gradient(s)"):format(
            #vars, n_args, #vars))
        end
        local all = {}
        for i = 1, n_args do all[i] = g[i] end
        for i = 1, #vars do all[n_args + i] = vg[i] end
        return table.unpack(all, 1, n_args + #vars)
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
