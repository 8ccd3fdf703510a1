-- tf.trace: a Lua function captured as graphs, TensorFlow's tf.function
-- rules in Lua.
--
--   local step = tf.trace(function(x, y) ... end, {input_signature=..., reduce_retracing=...})
--   step(x, y)             -- the first call with a new signature traces, every call runs the graph
--
-- The signature of a call is the dtype and shape of each tensor argument,
-- the value of each Lua number/string/boolean, and the identity of anything
-- else (tables with metatables, functions, userdata); plain tables are
-- walked. Tracing runs the Lua function once on symbolic tensors (the core
-- records ops instead of running them, src/graph/trace.c): Lua side effects
-- happen then only; Lua `if` and loops run at trace time. Variables are
-- captured by reference. The upvalues and globals the function reads are
-- listed by f:captures(); a captured Lua number, string or boolean that
-- changes between calls triggers a retrace that says so, instead of being
-- silently frozen. Every retrace prints one line saying why.
local core = require("tlua.core")
local composite = require("tlua.composite")
local G = core.graph

local M = {}
local raise = core.raise

local PASSES = {}
for k, v in pairs(G.passes) do if k ~= "all" then PASSES[k] = v end end
local ALL_PASSES = G.passes.all
local RETRACE_WARN_AFTER = 5

local run_eagerly = false
local log_retraces = true

-- The traces in progress (innermost last): variable creation checks them.
local tracing_stack = {}

-- ---- tf.TensorSpec -------------------------------------------------------

local TensorSpec = {}
TensorSpec.__index = TensorSpec
TensorSpec.__name = "tf.TensorSpec"

local function new_spec(shape, dtype, name)
  if type(shape) == "table" and getmetatable(shape) == nil and (shape.shape ~= nil or shape.dtype ~= nil) and dtype == nil then
    shape, dtype, name = shape.shape, shape.dtype, shape.name
  end
  local tf = M.tf
  -- Lua cannot hold nil in {nil}: an unknown dimension may also be written
  -- false or -1 (tf.TensorSpec({false}, tf.int32) is a vector of any length).
  if type(shape) == "table" and getmetatable(shape) == nil then
    local n = shape.n or 0
    for k in pairs(shape) do
      if math.type(k) == "integer" and k > n then n = k end
    end
    local dims = { n = n }
    for i = 1, n do
      local d = shape[i]
      if d ~= false and d ~= -1 then dims[i] = d end
    end
    shape = dims
  end
  local s = tf.TensorShape(shape or {})
  return setmetatable({ shape = s, dtype = tf.as_dtype(dtype or "float32"), name = name }, TensorSpec)
end

function TensorSpec:dims_table()
  local dims, n = {}, #self.shape
  for i = 0, n - 1 do dims[i + 1] = self.shape[i] end
  dims.n = n
  return dims
end

-- Does tensor t fit the spec (dtype equal, known dimensions equal)?
function TensorSpec:is_compatible_with(t)
  if not core.is_tensor(t) and not core.is_variable(t) then return false end
  if t.dtype ~= self.dtype then return false end
  local shape = t.shape
  if #shape ~= #self.shape then return false end
  for i = 0, #shape - 1 do
    local d = self.shape[i]
    if d ~= nil and d ~= shape[i] then return false end
  end
  return true
end

local function spec_text(spec)
  local parts = {}
  for i = 0, #spec.shape - 1 do parts[#parts + 1] = spec.shape[i] == nil and "?" or tostring(spec.shape[i]) end
  return spec.dtype.name .. "[" .. table.concat(parts, ",") .. "]"
end
TensorSpec.__tostring = function(s)
  return ("TensorSpec(shape=%s, dtype=tf.%s%s)"):format(tostring(s.shape), s.dtype.name,
    s.name and (", name='" .. s.name .. "'") or "")
end

-- ---- signatures ----------------------------------------------------------

-- Identity numbers for objects in keys (weak: an object that goes away
-- frees its number, and a later object can never collide with a live one).
local ids = setmetatable({}, { __mode = "k" })
local next_id = 0
local function identity(x)
  local id = ids[x]
  if not id then
    next_id = next_id + 1
    id = next_id
    ids[x] = id
  end
  return id
end

local MAX_DEPTH = 16

-- A plain table's keys in a fixed order: the order of its tensors in a
-- call's flat argument list (key_of and symbolize must agree).
local function sorted_keys(x)
  local keys = {}
  for k in pairs(x) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return keys
end

-- Appends the key text of value x to parts and its tensors to flat.
local function key_of(x, parts, flat, depth)
  local tx = type(x)
  local h = composite.handler(x)
  if h then
    -- a composite value: its spec text, then its component tensors, with
    -- the dimensions its type keeps dynamic (nnz) unknown in key and trace
    local comps, text, _, raw = composite.flatten(x)
    parts[#parts + 1] = text .. "("
    for i, t in ipairs(comps) do
      local dyn = composite.dynamic(h, raw, i)
      if dyn then
        if core.is_variable(t) then t = t:value() end
        flat[#flat + 1] = t
        flat.dyn = flat.dyn or {}
        flat.dyn[#flat] = dyn
        local s = t.shape
        local d = {}
        for k = 0, #s - 1 do d[k + 1] = dyn[k] and "?" or tostring(s[k]) end
        parts[#parts + 1] = t.dtype.name .. "[" .. table.concat(d, ",") .. "]"
      else
        key_of(t, parts, flat, depth + 1)
      end
    end
    parts[#parts + 1] = ")"
    return
  end
  if tx == "userdata" then
    local d = G.signature_part(x)
    if d then
      flat[#flat + 1] = x
      parts[#parts + 1] = d
      return
    end
    if core.is_variable(x) then
      parts[#parts + 1] = "var#" .. identity(x)
      return
    end
    parts[#parts + 1] = "obj#" .. identity(x)
  elseif tx == "number" then
    parts[#parts + 1] = (math.type(x) == "integer" and "int " or "num ") .. string.format("%.17g", x)
  elseif tx == "string" then
    parts[#parts + 1] = string.format("%q", x)
  elseif tx == "boolean" or tx == "nil" then
    parts[#parts + 1] = tostring(x)
  elseif tx == "table" and getmetatable(x) == nil then
    if depth > MAX_DEPTH then raise("InvalidArgument", "tf.trace: arguments nest deeper than 16 tables") end
    local keys = sorted_keys(x)
    parts[#parts + 1] = "{"
    for _, k in ipairs(keys) do
      parts[#parts + 1] = type(k) == "string" and k .. "=" or ("[" .. tostring(k) .. "]=")
      key_of(x[k], parts, flat, depth + 1)
    end
    parts[#parts + 1] = "}"
  else
    parts[#parts + 1] = tx .. "#" .. identity(x)
  end
end

-- ---- captures --------------------------------------------------------------

local function is_scalar(v)
  local t = type(v)
  return t == "number" or t == "string" or t == "boolean"
end

local function value_text(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "number" or type(v) == "boolean" or v == nil then return tostring(v) end
  return type(v)
end

-- The upvalues of fn: {index, name, value} (its _ENV is the globals).
local function upvalues(fn)
  local out, env_index = {}, nil
  if type(fn) ~= "function" then return out, nil end -- a callable object: its __call is Lua code we do not inspect
  for i = 1, 255 do
    local name, value = debug.getupvalue(fn, i)
    if name == nil then break end
    if name == "_ENV" then env_index = i
    else out[#out + 1] = { index = i, name = name, value = value } end
  end
  return out, env_index
end

-- Runs body() with fn's globals seen through a recording proxy: returns
-- body's results packed and the names read (name -> value at the read).
local function with_global_reads(fn, env_index, body)
  if not env_index then return body(), {} end
  local _, env = debug.getupvalue(fn, env_index)
  if type(env) ~= "table" then return body(), {} end
  local reads = {}
  local proxy = setmetatable({}, {
    __index = function(_, k)
      local v = env[k]
      if type(k) == "string" and reads[k] == nil then reads[k] = { value = v } end
      return v
    end,
    __newindex = function(_, k, v) env[k] = v end,
    __pairs = function() return next, env, nil end,
  })
  -- fn alone reads through the proxy: its _ENV upvalue is joined to a
  -- private cell, then joined back to the original one.
  local saved = function() return env end
  debug.upvaluejoin(saved, 1, fn, env_index)
  local holder_value = proxy
  local holder = function() return holder_value end
  debug.upvaluejoin(fn, env_index, holder, 1)
  local ok, res = pcall(body)
  debug.upvaluejoin(fn, env_index, saved, 1)
  if not ok then error(res, 0) end
  return res, reads
end

-- ---- Function --------------------------------------------------------------

local Function = {}
Function.__index = Function
Function.__name = "tf.Function"

local known_options = {
  input_signature = true, reduce_retracing = true, optimize = true, name = true,
  jit_compile = true, autograph = true, experimental_relax_shapes = true, log_retraces = true,
}

local function passes_of(opt)
  if opt == nil or opt == true then return ALL_PASSES end
  if opt == false then return 0 end
  if type(opt) ~= "table" then raise("InvalidArgument", "tf.trace: optimize must be a boolean or a table of pass names") end
  local mask = ALL_PASSES
  for k, v in pairs(opt) do
    local bit = PASSES[k]
    if not bit then
      local names = {}
      for n in pairs(PASSES) do names[#names + 1] = n end
      table.sort(names)
      raise("InvalidArgument", ("tf.trace: unknown optimization '%s' (known: %s)"):format(tostring(k), table.concat(names, ", ")))
    end
    if v then mask = mask | bit else mask = mask & ~bit end
  end
  return mask
end

local function where_of(fn)
  local info = debug.getinfo(fn, "S")
  return info and info.short_src .. ":" .. (info.linedefined or 0) or "?"
end

function M.trace(fn, opts)
  if type(fn) ~= "function" and not (type(fn) == "table" and getmetatable(fn) and getmetatable(fn).__call) then
    raise("InvalidArgument", ("tf.trace: expected a function, got %s"):format(type(fn)))
  end
  if fn ~= nil and getmetatable(fn) == Function then return fn end
  opts = opts or {}
  if type(opts) ~= "table" then raise("InvalidArgument", "tf.trace: options must be a table") end
  for k in pairs(opts) do
    if not known_options[k] then raise("InvalidArgument", ("tf.trace: unknown option '%s'"):format(tostring(k))) end
  end
  local sig = opts.input_signature
  if sig ~= nil then
    if type(sig) ~= "table" then raise("InvalidArgument", "tf.trace: input_signature must be a list of tf.TensorSpec") end
    local specs = {}
    for i, s in ipairs(sig) do
      if getmetatable(s) ~= TensorSpec then
        raise("InvalidArgument", ("tf.trace: input_signature[%d] must be a tf.TensorSpec, got %s"):format(i, type(s)))
      end
      specs[i] = s
    end
    sig = specs
  end
  local self = setmetatable({
    _fn = fn,
    _passes = passes_of(opts.optimize),
    _signature = sig,
    _reduce = opts.reduce_retracing or opts.experimental_relax_shapes or false,
    _log = opts.log_retraces,
    _cache = {},        -- key -> concrete function
    _fast = {},         -- call_key(...) key -> concrete function (tensors and Lua scalars only)
    _traces = {},       -- concrete functions in trace order
    _captures = nil,    -- what the last trace read from outside
    _frozen = {},       -- captured Lua scalars: {kind, name, index, value}
    _warned = false,
    name = opts.name or (type(fn) == "function" and debug.getinfo(fn, "n") and nil) or nil,
    _where = type(fn) == "function" and where_of(fn) or "?",
  }, Function)
  self.name = self.name or ("function at " .. self._where)
  return self
end

-- The value a capture has now: the upvalue, or the global in fn's _ENV.
local function capture_now(fn, c)
  if c.kind == "upvalue" then
    local _, v = debug.getupvalue(fn, c.index)
    return v
  end
  local _, env = debug.getupvalue(fn, c.env_index)
  return type(env) == "table" and env[c.name] or nil
end

-- The captured scalars' current values as text: for retrace messages, or
-- (for_key) telling a float from the equal integer, as Lua does.
local function frozen_values(self, for_key)
  local out = {}
  for i, f in ipairs(self._frozen) do
    local v = capture_now(self._fn, f)
    out[i] = value_text(v) .. (for_key and math.type(v) == "float" and "." or "")
  end
  return out
end

-- The same as key text ("" when nothing is captured).
local function frozen_key(self)
  if #self._frozen == 0 then return "" end
  return "|" .. table.concat(frozen_values(self, true), ",")
end

-- Replaces the tensors of x by symbolic arguments of trace tr (in flat
-- order), copying plain tables.
local function symbolize(x, tr, specs, counter, depth)
  local tx = type(x)
  local h = composite.handler(x)
  if h then
    local comps, _, _, raw = composite.flatten(x)
    local sym = {}
    for i, t in ipairs(comps) do sym[i] = symbolize(t, tr, specs, counter, depth + 1) end
    return composite.unflatten(h, raw, sym)
  end
  if tx == "userdata" and G.signature_part(x) then
    counter.n = counter.n + 1
    local spec = specs[counter.n]
    return G.trace_arg(tr, spec.dtype, spec.dims, spec.device or x)
  elseif tx == "table" and getmetatable(x) == nil and depth <= MAX_DEPTH then
    local c = {}
    for _, k in ipairs(sorted_keys(x)) do c[k] = symbolize(x[k], tr, specs, counter, depth + 1) end
    return c
  end
  return x
end

-- Flattens results: tensors (variables read) go to outs; the template
-- rebuilds the structure.
local OUT = {}
local function flatten_results(x, outs, depth)
  local h = composite.handler(x)
  if h then
    local comps, _, _, raw = composite.flatten(x)
    local kids = {}
    for i, t in ipairs(comps) do kids[i] = flatten_results(t, outs, depth + 1) end
    return { [OUT] = 0, composite = h, raw = raw, kids = kids }
  end
  if type(x) == "userdata" then
    if core.is_variable(x) then x = x:value() end
    if core.is_tensor(x) then
      outs[#outs + 1] = x
      return { [OUT] = #outs }
    end
    return x
  elseif type(x) == "table" and getmetatable(x) == nil and depth <= MAX_DEPTH then
    local c = {}
    for k, v in pairs(x) do c[k] = flatten_results(v, outs, depth + 1) end
    return { [OUT] = 0, table = c }
  end
  return x
end

local function rebuild(t, outs)
  if type(t) ~= "table" then return t end
  local i = t[OUT]
  if i == nil then return t end
  if i > 0 then return outs[i] end
  if t.composite then
    local comps = {}
    for k, v in ipairs(t.kids) do comps[k] = rebuild(v, outs) end
    return composite.unflatten(t.composite, t.raw, comps)
  end
  local c = {}
  for k, v in pairs(t.table) do c[k] = rebuild(v, outs) end
  return c
end

-- The specs of a call's tensors: from input_signature, the call itself,
-- or (reduce_retracing) generalised against earlier traces.
local function dims_of(t)
  local s = t.shape
  local dims = { n = #s }
  for i = 0, #s - 1 do dims[i + 1] = s[i] end
  return dims
end

local function call_specs(flat)
  local specs = {}
  for i, t in ipairs(flat) do
    local dims = dims_of(t)
    local dyn = flat.dyn and flat.dyn[i]
    if dyn then for d in pairs(dyn) do dims[d + 1] = nil end end
    specs[i] = { dtype = t.dtype, dims = dims }
  end
  return specs
end

-- reduce_retracing: the first earlier trace whose tensors have the same
-- dtypes and ranks as this call; its differing dimensions become unknown.
local function generalise(self, specs, nonkey)
  for i = #self._traces, 1, -1 do
    local c = self._traces[i]
    if c.nonkey == nonkey and #c.specs == #specs then
      local ok, out = true, {}
      for k, s in ipairs(specs) do
        local o = c.specs[k]
        if o.dtype ~= s.dtype or o.dims.n ~= s.dims.n then ok = false break end
        local dims = { n = s.dims.n }
        for d = 1, s.dims.n do
          if o.dims[d] == s.dims[d] then dims[d] = s.dims[d] end
        end
        out[k] = { dtype = s.dtype, dims = dims }
      end
      if ok then return out end
    end
  end
  return specs
end

local function spec_key(specs)
  local parts = {}
  for i, s in ipairs(specs) do
    local d = {}
    for k = 1, s.dims.n do d[k] = s.dims[k] == nil and "?" or tostring(s.dims[k]) end
    parts[i] = s.dtype.name .. "[" .. table.concat(d, ",") .. "]"
  end
  return table.concat(parts, ";")
end

-- Do the call's tensors fit a trace's specs (for generalised traces)?
local function fits(specs, flat)
  if #specs ~= #flat then return false end
  for i, t in ipairs(flat) do
    local s, shape = specs[i], t.shape
    if s.dtype ~= t.dtype or s.dims.n ~= #shape then return false end
    for d = 1, s.dims.n do
      if s.dims[d] ~= nil and s.dims[d] ~= shape[d - 1] then return false end
    end
  end
  return true
end

-- Retrace lines go to stderr, or to the function given to
-- tf.config.set_trace_logging (false silences them).
local function log(self, msg)
  if self._log == false or not log_retraces then return end
  if type(log_retraces) == "function" then return log_retraces("tf.trace: " .. msg) end
  io.stderr:write("tf.trace: ", msg, "\n")
end

-- Why a new trace was needed, in one line: what differs from the closest
-- earlier trace (same number of arguments, most recent first).
local function differences(self, last, arg_desc, frozen_desc)
  local diffs = {}
  local n = math.max(#arg_desc, #last.arg_desc)
  for i = 1, n do
    if arg_desc[i] ~= last.arg_desc[i] then
      diffs[#diffs + 1] = ("arg %d: %s -> %s"):format(i, last.arg_desc[i] or "none", arg_desc[i] or "none")
    end
  end
  for i, f in ipairs(self._frozen) do
    local a, b = last.frozen_desc[i], frozen_desc[i]
    if a ~= nil and a ~= b then
      diffs[#diffs + 1] = ("%s '%s': %s -> %s (a captured Lua value; pass it as an argument or use a tf.Variable)")
        :format(f.kind, f.name, a, b)
    end
  end
  return diffs
end

-- Compared with the closest earlier trace (fewest differences, the most
-- recent among equals).
local function retrace_reason(self, arg_desc, frozen_desc)
  local best
  for i = #self._traces, 1, -1 do
    local d = differences(self, self._traces[i], arg_desc, frozen_desc)
    if not best or #d < #best then best = d end
  end
  if not best then return nil end
  if #best == 0 then best[1] = "new signature" end
  return table.concat(best, "; ")
end

-- Results straight from the graph's outputs (no tables among them)?
local function simple_template(c)
  if c.n_results ~= #c.template then return false end
  for i = 1, c.n_results do
    local t = c.template[i]
    if type(t) ~= "table" or t[OUT] ~= i then return false end
  end
  return true
end

local function error_handler(e)
  if type(e) == "table" or type(e) == "userdata" then return e end
  return debug.traceback(tostring(e), 2)
end

-- Traces self._fn for a call (args packed) with tensor specs; returns the
-- concrete function.
local function trace_call(self, key, nonkey, specs, args, arg_desc)
  local frozen_desc = frozen_values(self)
  local reason = retrace_reason(self, arg_desc, frozen_desc)
  local t0 = core.now()
  local tr = G.trace_begin()
  local state = { fn = self, first = #self._traces == 0 }
  tracing_stack[#tracing_stack + 1] = state
  local counter = { n = 0 }
  local sym = {}
  local ok, err = pcall(function()
    for i = 1, args.n do sym[i] = symbolize(args[i], tr, specs, counter, 0) end
  end)
  local results, reads
  if ok then
    local ups, env_index = upvalues(self._fn)
    ok, err = xpcall(function()
      results, reads = with_global_reads(self._fn, env_index, function()
        return table.pack(self._fn(table.unpack(sym, 1, args.n)))
      end)
    end, error_handler)
    if ok then
      local caps = {}
      for _, u in ipairs(ups) do caps[#caps + 1] = { kind = "upvalue", name = u.name, index = u.index, value = u.value } end
      local gnames = {}
      for name in pairs(reads) do gnames[#gnames + 1] = name end
      table.sort(gnames)
      for _, name in ipairs(gnames) do
        caps[#caps + 1] = { kind = "global", name = name, env_index = env_index, value = reads[name].value }
      end
      self._captures = caps
      -- Scalars captured from outside become part of the key from now on,
      -- except those the function itself changes while tracing (counters:
      -- Lua side effects, which happen at trace time only).
      local known = {}
      for _, f in ipairs(self._frozen) do known[f.kind .. ":" .. f.name] = true end
      self._mutated = self._mutated or {}
      local added = false
      for _, c in ipairs(caps) do
        local id = c.kind .. ":" .. c.name
        if capture_now(self._fn, c) ~= c.value then self._mutated[id] = true end
        if is_scalar(c.value) and not known[id] and not self._mutated[id] then
          self._frozen[#self._frozen + 1] = c
          added = true
        end
      end
      if #self._frozen > 0 then
        local keep = {}
        for _, f in ipairs(self._frozen) do
          if not self._mutated[f.kind .. ":" .. f.name] then keep[#keep + 1] = f end
        end
        if #keep ~= #self._frozen then added = true end
        self._frozen = keep
      end
      if added then frozen_desc = frozen_values(self) end
    end
  end
  tracing_stack[#tracing_stack] = nil
  if not ok then
    G.trace_abort(tr)
    error(err, 0)
  end
  local outs = {}
  local template
  ok, err = pcall(function()
    template = {}
    for i = 1, results.n do template[i] = flatten_results(results[i], outs, 0) end
  end)
  if not ok then
    G.trace_abort(tr)
    error(err, 0)
  end
  local graph = G.trace_end(tr, outs)
  local traced_nodes = graph:info().n_nodes
  if self._passes ~= 0 then graph:optimize(self._passes) end
  local c = {
    graph = graph, key = key, nonkey = nonkey, specs = specs, template = template, n_results = results.n,
    arg_desc = arg_desc, frozen_desc = frozen_desc, reason = reason, traced_nodes = traced_nodes,
    trace_seconds = core.now() - t0, hooks = state.hooks,
  }
  c.simple = simple_template(c)
  local input_signature = {}
  for i, s in ipairs(specs) do
    local dims = {}
    for d = 1, s.dims.n do dims[d] = s.dims[d] end
    input_signature[i] = new_spec(M.tf.TensorShape(dims, s.dims.n), s.dtype)
  end
  c.input_signature = input_signature
  self._traces[#self._traces + 1] = c
  local full_key = key .. frozen_key(self)
  self._cache[full_key] = c
  if reason then
    log(self, ("retracing %s: %s"):format(self.name, reason))
    if #self._traces >= RETRACE_WARN_AFTER and not self._warned then
      self._warned = true
      log(self, ("%s has been traced %d times; if a tensor dimension changes between calls, give it as nil in "
        .. "input_signature (tf.TensorSpec) or pass reduce_retracing=true"):format(self.name, #self._traces))
    end
  end
  return c
end

-- Finds (or traces) the concrete function for a call; also returns the
-- call's tensors in flat order.
local function concrete_for(self, args)
  local flat, parts = {}, {}
  local arg_desc = {}
  if self._signature then
    local sig = self._signature
    for i = 1, args.n do
      local x = args[i]
      if G.signature_part(x) == nil and not core.is_variable(x) then
        raise("InvalidArgument", ("%s: with an input_signature every argument must be a tensor; arg %d is a %s")
          :format(self.name, i, type(x)))
      end
      local spec = sig[i]
      if not spec then
        raise("InvalidArgument", ("%s: called with %d arguments, its input_signature has %d"):format(self.name, args.n, #sig))
      end
      if core.is_variable(x) then x = x:value() end
      if not spec:is_compatible_with(x) then
        raise("InvalidArgument", ("%s: arg %d is %s, which does not fit its input_signature %s")
          :format(self.name, i, G.signature_part(x), spec_text(spec)))
      end
      flat[i] = x
      arg_desc[i] = spec_text(spec)
    end
    if args.n < #sig then
      raise("InvalidArgument", ("%s: called with %d arguments, its input_signature has %d"):format(self.name, args.n, #sig))
    end
    local key = "sig" .. frozen_key(self)
    local c = self._cache[key]
    if c then return c, flat end
    local specs = {}
    for i, s in ipairs(sig) do specs[i] = { dtype = s.dtype, dims = s:dims_table() } end
    return trace_call(self, "sig", "sig", specs, args, arg_desc), flat
  end
  for i = 1, args.n do
    local mark = #parts
    key_of(args[i], parts, flat, 0)
    parts[#parts + 1] = ","
    local d = table.concat(parts, " ", mark + 1, #parts - 1)
    arg_desc[i] = #d > 80 and d:sub(1, 77) .. "..." or d
  end
  local key = table.concat(parts)
  local full_key = key .. frozen_key(self)
  local c = self._cache[full_key]
  if c then return c, flat end
  -- reduce_retracing: a generalised trace may fit.
  local nonkey = key:gsub("%a+%d*%[[%d,?]*%]", "T")
  if self._reduce then
    for i = #self._traces, 1, -1 do
      local t = self._traces[i]
      if t.nonkey == nonkey and t.generalised and fits(t.specs, flat) then
        self._cache[full_key] = t
        return t, flat
      end
    end
  end
  local specs = call_specs(flat)
  local generalised = false
  if self._reduce and #self._traces > 0 then
    local g = generalise(self, specs, nonkey)
    generalised = spec_key(g) ~= spec_key(specs)
    specs = g
  end
  local c2 = trace_call(self, key, nonkey, specs, args, arg_desc)
  c2.generalised = generalised
  return c2, flat
end

local call_key = G.call_key
local unpack = table.unpack

-- Hooks run eagerly before each call of a graph (trace.before_each_call).
local function run_hooks(c)
  local hooks = c.hooks
  if hooks then for i = 1, #hooks do hooks[i]() end end
end

-- Runs concrete function c on the call's tensors; returns its results in
-- the structure the Lua function returned.
local function run_concrete(c, flat)
  run_hooks(c)
  local outs = G.run(c.graph, flat)
  if c.simple then return unpack(outs, 1, c.n_results) end
  local template = c.template
  if c.n_results == 1 then return rebuild(template[1], outs) end
  local res = {}
  for i = 1, c.n_results do res[i] = rebuild(template[i], outs) end
  return unpack(res, 1, c.n_results)
end

function Function:__call(...)
  if run_eagerly or G.in_trace() then return self._fn(...) end
  -- Fast path: tensors and Lua scalars only, keyed in C.
  local fast, flat = nil, nil
  if not self._signature then
    fast, flat = call_key(...)
    if fast then
      if #self._frozen > 0 then fast = fast .. frozen_key(self) end
      local c = self._fast[fast]
      if c then return run_concrete(c, flat) end
    end
  end
  local args = table.pack(...)
  local c
  c, flat = concrete_for(self, args)
  if fast then
    -- the frozen captures may have grown with this trace: key them afresh
    local k = call_key(...)
    if #self._frozen > 0 then k = k .. frozen_key(self) end
    self._fast[k] = c
  end
  return run_concrete(c, flat)
end

Function.__tostring = function(self)
  return ("tf.Function(%s, %d trace%s)"):format(self.name, #self._traces, #self._traces == 1 and "" or "s")
end

-- ---- ConcreteFunction: one trace -----------------------------------------

local Concrete = {}
Concrete.__index = Concrete
Concrete.__name = "tf.ConcreteFunction"

local function wrap_concrete(self, c)
  return setmetatable({ graph = c.graph, input_signature = c.input_signature, _c = c, _f = self,
                        structured_outputs = c.template, name = self.name }, Concrete)
end

-- Runs the graph on its flat tensor arguments, returning the flat outputs.
function Concrete:call_flat(tensors)
  run_hooks(self._c)
  return G.run(self.graph, tensors)
end

function Concrete:__call(...)
  local args = table.pack(...)
  local flat = {}
  for i = 1, args.n do key_of(args[i], {}, flat, 0) end
  return run_concrete(self._c, flat)
end

Concrete.__tostring = function(self)
  local parts = {}
  for i, s in ipairs(self.input_signature) do parts[i] = spec_text(s) end
  return ("tf.ConcreteFunction(%s(%s))"):format(self.name, table.concat(parts, ", "))
end

function Function:get_concrete_function(...)
  local args = table.pack(...)
  if args.n == 0 and self._signature then
    local key = "sig" .. frozen_key(self)
    local c = self._cache[key]
    if not c then
      local specs = {}
      for i, s in ipairs(self._signature) do specs[i] = { dtype = s.dtype, dims = s:dims_table() } end
      local descs = {}
      for i, s in ipairs(self._signature) do descs[i] = spec_text(s) end
      local sargs = { n = #self._signature }
      for i, s in ipairs(self._signature) do sargs[i] = M.tf.zeros({}, s.dtype) end
      c = trace_call(self, "sig", "sig", specs, sargs, descs)
    end
    return wrap_concrete(self, c)
  end
  -- TensorSpec arguments trace without values.
  for i = 1, args.n do
    if getmetatable(args[i]) == TensorSpec then
      local s = args[i]
      local dims = s:dims_table()
      local concrete_dims = {}
      for d = 1, dims.n do concrete_dims[d] = dims[d] or 1 end
      args[i] = M.tf.zeros(concrete_dims, s.dtype)
      args[i] = { __spec = s, __tensor = args[i] }
    end
  end
  local has_spec = false
  for i = 1, args.n do
    if type(args[i]) == "table" and args[i].__spec then has_spec = true end
  end
  if has_spec then
    local flat, parts, descs = {}, {}, {}
    local specs = {}
    local real = { n = args.n }
    for i = 1, args.n do
      if type(args[i]) == "table" and args[i].__spec then
        real[i] = args[i].__tensor
      else
        real[i] = args[i]
      end
    end
    for i = 1, real.n do
      local mark = #parts
      key_of(real[i], parts, flat, 0)
      descs[i] = table.concat(parts, " ", mark + 1, #parts)
    end
    local k = 0
    for i = 1, args.n do
      if type(args[i]) == "table" and args[i].__spec then
        k = k + 1
        specs[k] = { dtype = args[i].__spec.dtype, dims = args[i].__spec:dims_table() }
        descs[i] = spec_text(args[i].__spec)
      elseif G.signature_part(real[i]) then
        k = k + 1
        specs[k] = { dtype = real[i].dtype, dims = dims_of(real[i]) }
      end
    end
    local key = spec_key(specs) .. "#spec"
    local c = self._cache[key .. frozen_key(self)] or trace_call(self, key, key, specs, real, descs)
    return wrap_concrete(self, c)
  end
  local c = concrete_for(self, args)
  return wrap_concrete(self, c)
end

-- The traces so far: {input_signature=, reason=, nodes=, traced_nodes=, trace_seconds=}.
function Function:signatures()
  local out = {}
  for i, c in ipairs(self._traces) do
    out[i] = { input_signature = c.input_signature, args = c.arg_desc, reason = c.reason or "first call",
               nodes = c.graph:info().n_nodes, traced_nodes = c.traced_nodes, trace_seconds = c.trace_seconds,
               concrete = wrap_concrete(self, c) }
  end
  return out
end
Function.experimental_get_tracing_count = function(self) return #self._traces end

-- What the function reads from outside: upvalues and globals (as of the
-- last trace; before any trace, the upvalues alone).
function Function:captures()
  local caps = self._captures
  if not caps then
    caps = {}
    if type(self._fn) == "function" then
      local ups = upvalues(self._fn)
      for _, u in ipairs(ups) do caps[#caps + 1] = { kind = "upvalue", name = u.name, value = u.value } end
    end
  end
  local out = {}
  for i, c in ipairs(caps) do
    out[i] = { kind = c.kind, name = c.name, value = c.value, type = type(c.value),
               frozen = is_scalar(c.value) }
  end
  return out
end

-- ---- the graph object (step:graph(args...)) ------------------------------

local Graph = {}
Graph.__index = Graph
Graph.__name = "tf.Graph"

function M.wrap_graph(g, name)
  return setmetatable({ _g = g, name = name }, Graph)
end
Graph.__tostring = function(self) return self._g:describe() end
function Graph:dot() return self._g:dot() end
function Graph:stats() return self._g:stats() end
function Graph:nodes() return self._g:nodes() end
function Graph:info() return self._g:info() end
function Graph:variables() return self._g:variables() end
-- The Lua file and line each node comes from: a list parallel to nodes().
function Graph:where()
  local out = {}
  for i, n in ipairs(self._g:nodes()) do out[i] = n.where or false end
  return out
end
function Graph:write_dot(path)
  local f, err = io.open(path, "w")
  if not f then raise("NotFound", ("graph:write_dot: %s"):format(err)) end
  f:write(self._g:dot())
  f:close()
end

function Function:graph(...)
  local conc = self:get_concrete_function(...)
  return M.wrap_graph(conc.graph, self.name)
end
function Concrete:graph_object() return M.wrap_graph(self.graph, self.name) end

-- ---- scopes and configuration --------------------------------------------

-- tf.init_scope(fn, ...): runs fn with ops eager even while tracing (for
-- variable initializers: a variable needs a value when it is made).
function M.init_scope(fn, ...)
  G.pause()
  local res = table.pack(pcall(fn, ...))
  G.resume()
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

-- Called by tf.Variable: variables may be made on a function's first trace
-- only (as tf.function allows), and their initial value is computed
-- eagerly.
function M.check_variable_creation()
  local top = tracing_stack[#tracing_stack]
  if not top or not G.in_trace() then return end
  if not top.first then
    raise("FailedPrecondition", ("tf.trace: %s created a tf.Variable on a call other than its first (trace %d); "
      .. "a traced function may create variables on its first call only: create them outside it, "
      .. "or once, guarded by a Lua check such as `if not v then v = tf.Variable(...) end`")
      :format(top.fn.name, #top.fn._traces + 1))
  end
end

-- Is a tf.trace trace in progress (not paused by tf.init_scope)?
function M.tracing() return tracing_stack[1] ~= nil and G.in_trace() end

-- Registers fn (no arguments) to run eagerly before every later call of
-- the graph being traced, e.g. Keras optimizers assigning a learning rate
-- changed with `opt.learning_rate = x` between calls. Once per fn per trace;
-- outside a trace, nothing.
function M.before_each_call(fn)
  local top = tracing_stack[#tracing_stack]
  if not top or not G.in_trace() then return end
  local hooks = top.hooks
  if not hooks then hooks = {} top.hooks = hooks end
  for i = 1, #hooks do if hooks[i] == fn then return end end
  hooks[#hooks + 1] = fn
end

function M.install(tf)
  M.tf = tf
  tf.trace = M.trace
  tf["function"] = M.trace -- tf.function as TensorFlow spells it (a Lua keyword: tf["function"])
  tf.function_ = M.trace -- the keyword rule: a trailing underscore (docs/api_coverage.md)
  tf.TensorSpec = new_spec
  tf.init_scope = M.init_scope
  tf.Function = Function
  tf.config.run_functions_eagerly = function(on) run_eagerly = on and true or false end
  tf.config.functions_run_eagerly = function() return run_eagerly end
  tf.config.set_trace_logging = function(on)
    if type(on) == "function" then log_retraces = on else log_retraces = on and true or false end
  end
  tf.is_symbolic_tensor = G.is_symbolic
  tf.executing_eagerly = function() return not G.in_trace() end
  local help = require("tlua.help")
  help.register(M.trace, "tf.trace(fn, {input_signature=, reduce_retracing=, optimize=, name=}): fn as a tf.Function. "
    .. "The first call with a new signature (tensor dtypes and shapes, Lua values, object identity) traces fn into a "
    .. "graph; every call runs the graph. Lua side effects happen while tracing only; variables are read by "
    .. "reference. f:signatures(), f:captures(), f:graph(args...) inspect it. Also the global `trace`. See docs/trace.md.")
  help.register(new_spec, "tf.TensorSpec(shape, dtype?, name?): describes a tensor argument; nil dimensions are "
    .. "dynamic (one trace for every size).")
  help.register(M.init_scope, "tf.init_scope(fn, ...): runs fn with ops executed eagerly even inside a traced function "
    .. "(variable initializers).")
  help.register(tf.config.run_functions_eagerly, "tf.config.run_functions_eagerly(true): every tf.trace function "
    .. "(and Keras fit's step) runs its Lua code eagerly, for debugging.")
end

M.TensorSpec = TensorSpec
M.Function = Function
M.Concrete = Concrete
M.PASSES = PASSES
return M
