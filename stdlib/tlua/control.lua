-- Control flow: tf.cond, tf.case, tf.switch_case, tf.while_loop and
-- tf.range_loop (docs/trace.md, "Control flow").
--
-- Eagerly (no trace recording) these are Lua: the predicate is read and one
-- branch runs, a loop is a Lua loop, and the tape sees the ops as usual.
-- While tracing, each branch (or a loop's cond and body) is traced into a
-- subgraph with a nested trace, and one COND / WHILE node is added to the
-- enclosing graph (lua/control_binding.c, src/graph/control_grad.c): its
-- inputs are the predicate or loop variables and the enclosing tensors the
-- branches use (captures); a recording tape gets the node with a gradient.
-- A Lua boolean or number predicate picks its branch at trace time, as a
-- Python bool does for tf.cond in tf.function.
local core = require("tlua.core")
local G = core.graph
local composite = require("tlua.composite")
local C = core.control

local M = {}

local function raise(kind, fmt, ...) core.raise(kind, fmt:format(...)) end

local function tracing() return G.in_trace() and G.tracing() end

-- ---- structures ---------------------------------------------------------
-- A structure is a tensor, nil, or a plain Lua table of structures. flatten
-- returns a spec (to compare and rebuild) and appends the leaves to flat;
-- Lua numbers and booleans become tensors, variables their values.
local function describe(x)
  if core.is_tensor(x) then return ("%s%s tensor"):format(x.dtype.name, tostring(x.shape)) end
  return type(x)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta == "number" end
    return a < b
  end)
  return keys
end

-- Paths in messages are built only when an error needs them: `where` is a
-- string or {parent, key}.
local function path_text(where)
  if type(where) == "string" then return where end
  return ("%s[%s]"):format(path_text(where[1]), tostring(where[2]))
end

-- eager: a Lua loop's variables, where a composite type that asks for it
-- (handler.pass_eager: tf.TensorArray, whose element shape becomes known
-- while the loop runs and whose contents are not copied) passes through
-- as the object itself, only its type compared.
local function flatten(x, flat, where, eager)
  if core.is_variable(x) then x = x:value() end
  local h = composite.handler(x)
  if h and eager and h.pass_eager then return { comp = h, opaque = x, text = h.name, kids = {} } end
  if h then
    -- a composite value (tf.SparseTensor, tf.RaggedTensor, tf.TensorArray):
    -- its component tensors are leaves; its spec text must match
    local comps, text, _, raw = composite.flatten(x)
    local kids = {}
    for i = 1, #comps do kids[i] = flatten(comps[i], flat, { where, h.name .. " component " .. i }) end
    return { comp = h, raw = raw, text = text, kids = kids }
  end
  if type(x) == "number" or type(x) == "boolean" then x = core.constant(x) end
  if core.is_tensor(x) then
    flat[#flat + 1] = x
    return { leaf = #flat }
  end
  if x == nil then return { none = true } end
  if type(x) == "table" and getmetatable(x) == nil then
    local keys, kids = sorted_keys(x), {}
    for i, k in ipairs(keys) do kids[i] = flatten(x[k], flat, { where, k }, eager) end
    return { keys = keys, kids = kids }
  end
  raise("InvalidArgument", "%s must be a tensor, a number, a boolean, a composite value (SparseTensor, RaggedTensor, TensorArray) or a Lua table of them, got %s", path_text(where),
    describe(x))
end

local function rebuild(spec, flat)
  if spec.leaf then return flat[spec.leaf] end
  if spec.none then return nil end
  if spec.opaque ~= nil then return spec.opaque end
  if spec.comp then
    local comps = {}
    for i, k in ipairs(spec.kids) do comps[i] = rebuild(k, flat) end
    return composite.unflatten(spec.comp, spec.raw, comps)
  end
  local out = {}
  for i, k in ipairs(spec.keys) do out[k] = rebuild(spec.kids[i], flat) end
  return out
end

local function spec_text(s)
  if s.leaf then return "a tensor" end
  if s.none then return "nil" end
  if s.comp then return "a " .. s.text end
  local parts = {}
  for i, k in ipairs(s.keys) do parts[i] = tostring(k) end
  return "a table with keys {" .. table.concat(parts, ", ") .. "}"
end

-- nil when a and b have the same structure, else where they differ. widen
-- (tf.while_loop's body check) is called for composite values of one type
-- whose spec texts differ; when it returns true they count as the same.
local widen_loop_var
local function spec_diff(a, b, where, widen)
  if a.leaf and b.leaf then return nil end
  if a.none and b.none then return nil end
  if a.comp and b.comp then
    if a.comp == b.comp and (a.text ~= b.text or #a.kids ~= #b.kids) and widen and widen(a, b) then return nil end
    if a.text ~= b.text or #a.kids ~= #b.kids then
      return ("%s: %s vs %s"):format(path_text(where), spec_text(a), spec_text(b))
    end
    return nil
  end
  if a.keys and b.keys then
    local n = math.max(#a.keys, #b.keys)
    for i = 1, n do
      if a.keys[i] ~= b.keys[i] then return ("%s: %s vs %s"):format(path_text(where), spec_text(a), spec_text(b)) end
      local d = spec_diff(a.kids[i], b.kids[i], { where, a.keys[i] }, widen)
      if d then return d end
    end
    return nil
  end
  return ("%s: %s vs %s"):format(path_text(where), spec_text(a), spec_text(b))
end

-- The path of leaf i in spec (for messages), e.g. "output 2" or "loop var 1[x]".
local function leaf_path(spec, i, where)
  if spec.leaf then return spec.leaf == i and where or nil end
  if spec.comp then
    for j, k in ipairs(spec.kids) do
      local p = leaf_path(k, i, ("%s(%s component %d)"):format(where, spec.comp.name, j))
      if p then return p end
    end
  end
  if spec.keys then
    for j, k in ipairs(spec.keys) do
      local p = leaf_path(spec.kids[j], i, ("%s[%s]"):format(where, tostring(k)))
      if p then return p end
    end
  end
  return nil
end

local function dims_of(t)
  local d = t.shape:as_list()
  d.n = #t.shape
  return d
end

local function shape_text(d)
  local parts = {}
  for i = 1, d.n do parts[i] = d[i] == nil and "?" or tostring(d[i]) end
  return "[" .. table.concat(parts, ",") .. "]"
end

-- ---- predicates -----------------------------------------------------------

local function check_fn(what, f)
  if type(f) ~= "function" and not (type(f) == "table" and getmetatable(f) and getmetatable(f).__call) then
    raise("InvalidArgument", "%s must be a function, got %s", what, type(f))
  end
end

-- A predicate's truth now: a Lua value, or an eager tensor's value.
local function truth(p, what)
  if type(p) == "boolean" then return p end
  if type(p) == "number" then return p ~= 0 end
  if core.is_variable(p) then p = p:value() end
  if not core.is_tensor(p) then raise("InvalidArgument", "%s must be a boolean tensor or a Lua boolean, got %s", what, type(p)) end
  -- a tensor must be boolean, as it must be when traced (TensorFlow's graph rule)
  if p.dtype.name ~= "bool" then
    raise("InvalidArgument", "%s must be a boolean scalar tensor, got %s", what, describe(p))
  end
  local v
  if p.ndim == 0 then
    v = p:item()
  elseif p.shape:num_elements() ~= 1 then
    raise("InvalidArgument", "%s must be a scalar, got shape %s", what, tostring(p.shape))
  else
    v = core.ops.reshape(p, {}):item()
  end
  if type(v) == "boolean" then return v end
  return v ~= 0
end

-- ---- tracing a function into a subgraph -------------------------------------

-- Traces fn(args built from metas) in a nested trace. Returns the graph, the
-- enclosing tensors it uses, the spec of its results and the flat results.
local function trace_sub(fn, what, metas)
  local tr = G.trace_begin()
  local args = {}
  local ok, err = pcall(function()
    for i, m in ipairs(metas or {}) do args[i] = G.trace_arg(tr, m[1], m[2]) end
  end)
  if not ok then G.trace_abort(tr) error(err, 0) end
  local lvl = C.watch_begin(args)
  local res, flat, spec
  ok, err = pcall(function()
    res = table.pack(fn(table.unpack(args, 1, #(metas or {}))))
    flat = {}
    -- the spec of what fn returned: its values by position
    local kids, keys = {}, {}
    for i = 1, res.n do
      keys[i] = i
      kids[i] = flatten(res[i], flat, ("%s: result %d"):format(what, i))
    end
    spec = { keys = keys, kids = kids }
  end)
  if not ok then
    C.watch_end(lvl, {})
    G.trace_abort(tr)
    error(err, 0)
  end
  local g
  ok, err = pcall(function() g = G.trace_end(tr, flat) end)
  local seen = C.watch_end(lvl, ok and flat or {})
  if not ok then G.trace_abort(tr) error(err, 0) end
  return g, seen, spec, flat
end

-- ---- tf.cond ------------------------------------------------------------------

local function traced_cond(pred, true_fn, false_fn, what)
  if core.is_variable(pred) then pred = pred:value() end
  if pred.dtype.name ~= "bool" then
    raise("InvalidArgument", "%s: pred must be a boolean scalar tensor, got %s", what, describe(pred))
  end
  local n = pred.shape:num_elements()
  if n ~= nil and n ~= 1 then raise("InvalidArgument", "%s: pred must be a scalar, got shape %s", what, tostring(pred.shape)) end
  local gt, seen_t, spec_t, flat_t = trace_sub(true_fn, what .. " true_fn")
  local gf, seen_f, spec_f, flat_f = trace_sub(false_fn, what .. " false_fn")
  -- composite results whose specs differ but merge (a tf.TensorArray one
  -- branch writes and the other passes on): both branches are traced again
  -- with those results cast to the merged spec
  local casts = {}
  local function find(a, b, path)
    if a.comp and b.comp and a.comp == b.comp and (a.text ~= b.text or #a.kids ~= #b.kids) and a.comp.merge then
      local m = a.comp.merge(a.raw, b.raw)
      if m ~= nil then casts[#casts + 1] = { path = path, comp = a.comp, raw = m } end
    elseif a.keys and b.keys then
      for i, k in ipairs(a.keys) do
        if b.keys[i] == k then
          local p = { table.unpack(path) }
          p[#p + 1] = k
          find(a.kids[i], b.kids[i], p)
        end
      end
    end
  end
  if #spec_t.keys == #spec_f.keys then find(spec_t, spec_f, {}) end
  if #casts > 0 then
    local function wrap(fn)
      return function()
        local r = table.pack(fn())
        for _, c in ipairs(casts) do
          local parent, key = r, c.path[1]
          for j = 2, #c.path do parent, key = parent[key], c.path[j] end
          parent[key] = composite.cast(c.comp, c.raw, parent[key])
        end
        return table.unpack(r, 1, r.n)
      end
    end
    gt, seen_t, spec_t, flat_t = trace_sub(wrap(true_fn), what .. " true_fn")
    gf, seen_f, spec_f, flat_f = trace_sub(wrap(false_fn), what .. " false_fn")
  end
  if #spec_t.keys ~= #spec_f.keys then
    raise("InvalidArgument", "%s: true_fn and false_fn must return the same structure; true_fn returns %d results and false_fn %d",
      what, #spec_t.keys, #spec_f.keys)
  end
  local d = spec_diff(spec_t, spec_f, "result")
  if d then
    raise("InvalidArgument", "%s: true_fn and false_fn must return the same structure; they differ at %s", what,
      d:gsub("^result%[(%d+)%]", "result %1"))
  end
  local metas = {}
  for i = 1, #flat_t do
    local a, b = flat_t[i], flat_f[i]
    local path = (leaf_path(spec_t, i, "result") or ("result " .. i)):gsub("^result%[(%d+)%]", "result %1")
    if a.dtype ~= b.dtype then
      raise("InvalidArgument", "%s: true_fn and false_fn return different dtypes for %s: %s vs %s", what, path,
        a.dtype.name, b.dtype.name)
    end
    local da, db = dims_of(a), dims_of(b)
    if da.n ~= db.n then
      raise("InvalidArgument", "%s: true_fn and false_fn return different ranks for %s: %s%s vs %s%s", what, path,
        a.dtype.name, shape_text(da), b.dtype.name, shape_text(db))
    end
    local m = { n = da.n }
    for k = 1, da.n do if da[k] == db[k] then m[k] = da[k] end end
    metas[i] = { a.dtype, m }
  end
  local ins = { pred }
  local ct = C.captures(gt, seen_t, 0)
  local cf = C.captures(gf, seen_f, 0)
  for _, t in ipairs(ct) do ins[#ins + 1] = t end
  for _, t in ipairs(cf) do ins[#ins + 1] = t end
  local outs = C.emit("cond", ins, { gt, gf }, metas, #ct)
  local res = rebuild(spec_t, outs)
  return table.unpack(res, 1, #spec_t.keys)
end

local function is_symbolic(x)
  if core.is_variable(x) then return false end
  return core.is_tensor(x) and G.is_symbolic(x)
end

-- tf.cond(pred, true_fn, false_fn, name): the results of the branch pred
-- selects (all of them: a branch may return several values).
function M.cond(pred, true_fn, false_fn, name)
  if type(pred) == "table" and not core.is_tensor(pred) and core.is_options(pred) then
    local o = require("tlua.errors").check_options("tf.cond", pred, { pred = true, true_fn = true, false_fn = true, name = true })
    pred, true_fn, false_fn, name = o.pred, o.true_fn, o.false_fn, o.name
  end
  check_fn("tf.cond: true_fn", true_fn)
  check_fn("tf.cond: false_fn", false_fn)
  if pred == nil then raise("InvalidArgument", "tf.cond: pred is nil") end
  local _ = name
  if tracing() and (core.is_tensor(pred) or core.is_variable(pred)) then
    return traced_cond(pred, true_fn, false_fn, "tf.cond")
  end
  if truth(pred, "tf.cond: pred") then return true_fn() end
  return false_fn()
end

-- ---- tf.switch_case and tf.case --------------------------------------------------

-- branch_fns: a Lua list (index i runs branch_fns[i + 1], as TensorFlow's
-- 0-based list), a table keyed by the integer indices (starting at 0), or a
-- list of {index, fn} pairs.
local function branch_table(branch_fns)
  if type(branch_fns) ~= "table" then
    raise("InvalidArgument", "tf.switch_case: branch_fns must be a list of functions, got %s", type(branch_fns))
  end
  local keyed = branch_fns[0] ~= nil
  local out, keys = {}, {}
  local first = branch_fns[1]
  if not keyed and type(first) == "table" and not getmetatable(first) and math.type(first[1]) == "integer" then
    -- a list of {index, fn} pairs
    for i, pair in ipairs(branch_fns) do
      if type(pair) ~= "table" or math.type(pair[1]) ~= "integer" then
        raise("InvalidArgument", "tf.switch_case: branch_fns[%d] must be an {index, fn} pair", i)
      end
      check_fn(("tf.switch_case: the fn of branch_fns[%d]"):format(i), pair[2])
      if out[pair[1]] then raise("InvalidArgument", "tf.switch_case: index %d is given twice", pair[1]) end
      out[pair[1]] = pair[2]
      keys[#keys + 1] = pair[1]
    end
    table.sort(keys)
    return out, keys
  end
  for k, f in pairs(branch_fns) do
    if math.type(k) ~= "integer" then
      raise("InvalidArgument", "tf.switch_case: branch_fns keys must be integers, got %s", tostring(k))
    end
    check_fn(("tf.switch_case: branch_fns[%d]"):format(k), f)
    local idx = keyed and k or k - 1
    out[idx] = f
    keys[#keys + 1] = idx
  end
  if #keys == 0 then raise("InvalidArgument", "tf.switch_case: branch_fns is empty") end
  table.sort(keys)
  return out, keys
end

function M.switch_case(branch_index, branch_fns, default, name)
  if type(branch_index) == "table" and not core.is_tensor(branch_index) and core.is_options(branch_index) then
    local o = require("tlua.errors").check_options("tf.switch_case", branch_index,
      { branch_index = true, branch_fns = true, default = true, name = true })
    branch_index, branch_fns, default, name = o.branch_index, o.branch_fns, o.default, o.name
  end
  local _ = name
  local fns, keys = branch_table(branch_fns)
  if default ~= nil then check_fn("tf.switch_case: default", default) end
  local fallback = default or fns[keys[#keys]] -- TensorFlow: the last branch when there is no default
  if core.is_variable(branch_index) then branch_index = branch_index:value() end
  if tracing() and core.is_tensor(branch_index) then
    if not branch_index.dtype.is_integer then
      raise("InvalidArgument", "tf.switch_case: branch_index must be an integer scalar, got %s", describe(branch_index))
    end
    local idx = core.ops.cast(core.ops.reshape(branch_index, {}), { dtype = core.as_dtype("int32") })
    -- a chain of conds: index == k0 ? f_k0 : (index == k1 ? f_k1 : ... default)
    local function chain(j)
      if j > #keys then return fallback() end
      local k = keys[j]
      if j == #keys and default == nil then return fns[k]() end
      return traced_cond(core.ops.equal(idx, core.constant(k, core.as_dtype("int32"))), fns[k],
        function() return chain(j + 1) end, "tf.switch_case")
    end
    return chain(1)
  end
  local i
  if core.is_tensor(branch_index) then
    if not branch_index.dtype.is_integer then
      raise("InvalidArgument", "tf.switch_case: branch_index must be an integer scalar, got %s", describe(branch_index))
    end
    if branch_index.shape:num_elements() ~= 1 then
      raise("InvalidArgument", "tf.switch_case: branch_index must be a scalar, got shape %s", tostring(branch_index.shape))
    end
    i = core.ops.reshape(branch_index, {}):item()
  elseif math.type(branch_index) == "integer" or (type(branch_index) == "number" and math.tointeger(branch_index)) then
    i = math.tointeger(branch_index)
  else
    raise("InvalidArgument", "tf.switch_case: branch_index must be an integer, got %s", describe(branch_index))
  end
  local f = fns[i] or fallback
  return f()
end

-- tf.case(pred_fn_pairs, default, exclusive, strict, name): pred_fn_pairs
-- is a list of {pred, fn} pairs; the first pair whose pred is true runs
-- (with exclusive=true, more than one true pred is an error). Without a
-- default, no true pred is an error.
function M.case(pred_fn_pairs, default, exclusive, strict, name)
  if type(default) == "table" and core.is_options(default) then
    local o = require("tlua.errors").check_options("tf.case", default,
      { default = true, exclusive = true, strict = true, name = true })
    default, exclusive, strict, name = o.default, o.exclusive, o.strict, o.name
  end
  local _ = { strict, name }
  if type(pred_fn_pairs) ~= "table" or core.is_tensor(pred_fn_pairs) or #pred_fn_pairs == 0 then
    raise("InvalidArgument", "tf.case: pred_fn_pairs must be a non-empty list of {pred, fn} pairs")
  end
  local preds, fns = {}, {}
  for i, pair in ipairs(pred_fn_pairs) do
    if type(pair) ~= "table" or core.is_tensor(pair) or pair[1] == nil then
      raise("InvalidArgument", "tf.case: pred_fn_pairs[%d] must be a {pred, fn} pair", i)
    end
    check_fn(("tf.case: the fn of pred_fn_pairs[%d]"):format(i), pair[2])
    preds[i], fns[i] = pair[1], pair[2]
  end
  if default ~= nil then check_fn("tf.case: default", default) end
  local symbolic = false
  for _, p in ipairs(preds) do symbolic = symbolic or is_symbolic(p) end
  if not (tracing() and symbolic) then
    local chosen, count = nil, 0
    for i, p in ipairs(preds) do
      if truth(p, ("tf.case: the pred of pred_fn_pairs[%d]"):format(i)) then
        count = count + 1
        chosen = chosen or i
        if not exclusive then break end
      end
    end
    if exclusive and count > 1 then
      raise("InvalidArgument", "tf.case: exclusive=true but %d predicates are true (only one may be)", count)
    end
    if chosen then return fns[chosen]() end
    if default == nil then
      raise("InvalidArgument", "tf.case: none of the predicates is true and no default was given")
    end
    return default()
  end
  -- Traced: the index of the first true pred (or #preds when none), checked
  -- at run time as TensorFlow's Assert would, then a switch_case on it.
  local ops = core.ops
  local int32 = core.as_dtype("int32")
  local idx = core.constant(#preds, int32)
  local count = core.constant(0, int32)
  for i = #preds, 1, -1 do
    local p = preds[i]
    if type(p) == "boolean" or type(p) == "number" then p = core.constant(truth(p, "tf.case: a pred")) end
    if core.is_variable(p) then p = p:value() end
    p = ops.reshape(p, {})
    idx = ops.where(p, core.constant(i - 1, int32), idx)
    count = count + ops.cast(p, { dtype = int32 })
  end
  local function check(bad, message)
    -- check_numerics fails at run time on a NaN: the graph's assertion
    local f32 = core.as_dtype("float32")
    local x = ops.where(bad, core.constant(0 / 0, f32), core.constant(0, f32))
    x = ops.check_numerics(x, { message = message })
    idx = idx + ops.cast(x, { dtype = int32 })
  end
  if exclusive then check(ops.greater(count, core.constant(1, int32)), "tf.case: exclusive=true but more than one predicate is true") end
  local branches = {}
  for i, f in ipairs(fns) do branches[i] = f end
  if default ~= nil then
    branches[#branches + 1] = default
  else
    check(ops.equal(count, core.constant(0, int32)), "tf.case: none of the predicates is true and no default was given")
    -- idx is #preds only when none is true, which the check refuses
    branches[#branches + 1] = fns[#fns]
  end
  return M.switch_case(idx, branches)
end

-- ---- tf.while_loop -------------------------------------------------------------

local WHILE_OPTIONS = {
  shape_invariants = true, parallel_iterations = true, back_prop = true, swap_memory = true,
  maximum_iterations = true, name = true, return_same_structure = true,
}

local function all_tensors(t, n)
  for i = 1, n do
    if not core.is_tensor(t[i]) or core.is_variable(t[i]) then return false end
  end
  return true
end

-- The body's results as a list of loop variables.
local function body_results(res, n_vars)
  if res.n == 1 and n_vars ~= 1 and type(res[1]) == "table" and not core.is_tensor(res[1]) then
    return res[1]
  end
  local out = {}
  for i = 1, res.n do out[i] = res[i] end
  return out
end

local function max_iters(opts)
  local m = opts.maximum_iterations
  if m == nil then return nil end
  if core.is_variable(m) then m = m:value() end
  if core.is_tensor(m) then
    if G.is_symbolic(m) then return m end
    m = core.ops.reshape(m, {}):item()
  end
  if math.type(m) ~= "integer" and not (type(m) == "number" and math.tointeger(m)) then
    raise("InvalidArgument", "tf.while_loop: maximum_iterations must be an integer, got %s", describe(m))
  end
  m = math.tointeger(m)
  if m < 0 then raise("InvalidArgument", "tf.while_loop: maximum_iterations must be >= 0, got %d", m) end
  return m
end

-- The shape of loop variable i under the invariants (a TensorShape or a list
-- with nil / holes for unknown dims), checked against its initial value.
local function invariant_dims(inv, t, path)
  local d = dims_of(t)
  if inv == nil then return d end
  if getmetatable(inv) then inv = inv:as_list() end
  local rank = inv.n or #inv
  for k = 1, rank do
    if inv[k] ~= nil and inv[k] ~= -1 and math.type(inv[k]) ~= "integer" then
      raise("InvalidArgument", "tf.while_loop: shape_invariants for %s must be a shape, got %s", path, tostring(inv[k]))
    end
  end
  local m = { n = rank }
  for k = 1, rank do if inv[k] ~= nil and inv[k] ~= -1 then m[k] = inv[k] end end
  if rank ~= d.n then
    raise("InvalidArgument", "tf.while_loop: %s has shape %s, incompatible with its shape invariant %s", path,
      shape_text(d), shape_text(m))
  end
  for k = 1, rank do
    if m[k] ~= nil and d[k] ~= nil and m[k] ~= d[k] then
      raise("InvalidArgument", "tf.while_loop: %s has shape %s, incompatible with its shape invariant %s", path,
        shape_text(d), shape_text(m))
    end
  end
  return m
end

local function compatible(want, got)
  if want.n ~= got.n then return false end
  for k = 1, want.n do
    if want[k] ~= nil and got[k] ~= want[k] then return false end
  end
  return true
end

-- A composite loop variable whose body result has another spec (a
-- tf.TensorArray whose element shape the body's first write fixes):
-- handler.merge(entry raw, body raw) gives the spec the variable needs, or
-- nil when they cannot be one; when that is the entry's own, the body's
-- value fits; else the loop is traced again with the entry value cast to
-- it (handler.cast), signalled by a WIDEN error that tf.while_loop catches.
local WIDEN = {}
widen_loop_var = function(a, b)
  local h = a.comp
  if not h.merge then return false end
  local m = h.merge(a.raw, b.raw)
  if m == nil then return false end
  if h.name .. "<" .. tostring(m) .. ">" == a.text then return true end
  error({ [WIDEN] = true, spec = a, raw = m }, 0)
end

-- Compares the body's new loop vars (flat) with the loop's (metas).
local function check_body(spec, new_spec, flat_new, metas, path_of)
  local d = spec_diff(spec, new_spec, "loop_vars", widen_loop_var)
  if d then
    raise("InvalidArgument", "tf.while_loop: body must return the same structure as loop_vars; they differ at %s", d)
  end
  for i, t in ipairs(flat_new) do
    local m = metas[i]
    if t.dtype ~= m[1] then
      raise("InvalidArgument", "tf.while_loop: body changes the dtype of %s from %s to %s", path_of(i), m[1].name,
        t.dtype.name)
    end
    local got = dims_of(t)
    if not compatible(m[2], got) then
      raise("InvalidArgument",
        "tf.while_loop: body changes the shape of %s from %s to %s; give a shape_invariants entry with unknown (nil) dimensions to allow it",
        path_of(i), shape_text(m[2]), shape_text(got))
    end
  end
end

local function traced_while(cond, body, spec, flat, opts, max)
  local int32 = core.as_dtype("int32")
  local inv_flat = {}
  if opts.shape_invariants ~= nil then
    local inv = opts.shape_invariants
    -- one loop variable: its shape alone is accepted too
    if #spec.keys == 1 and (getmetatable(inv) or not (type(inv) == "table" and type(inv[1]) == "table")) then
      inv = { inv }
    end
    -- invariants follow loop_vars' structure; a leaf is a shape (list or TensorShape)
    local function walk(s, x, path)
      if s.leaf then inv_flat[s.leaf] = x return end
      if s.keys then
        for j, k in ipairs(s.keys) do walk(s.kids[j], type(x) == "table" and not getmetatable(x) and x[k] or nil, path) end
      end
    end
    walk(spec, inv, "shape_invariants")
  end
  local function path_of(i) return (leaf_path(spec, i, "loop_vars") or ("loop var " .. i)) end
  local metas = {}
  for i, t in ipairs(flat) do
    metas[i] = { t.dtype, invariant_dims(inv_flat[i], t, path_of(i)) }
  end
  -- composite values: the dimensions their type keeps dynamic (nnz, nvals)
  -- may change from one iteration to the next
  local function relax(s)
    if s.comp then
      for j, k in ipairs(s.kids) do
        local dyn = k.leaf and composite.dynamic(s.comp, s.raw, j)
        if dyn then for d in pairs(dyn) do metas[k.leaf][2][d + 1] = nil end end
      end
    elseif s.kids then
      for _, k in ipairs(s.kids) do relax(k) end
    end
  end
  relax(spec)
  -- maximum_iterations: a counter loop variable in front when it is a tensor
  local counted = max ~= nil and type(max) ~= "number"
  local all_metas, nlead = {}, counted and 2 or 0
  if counted then
    all_metas[1] = { int32, {} }
    all_metas[2] = { int32, {} }
  end
  for i, m in ipairs(metas) do all_metas[nlead + i] = m end
  local function user_args(args)
    local mine = {}
    for i = 1, #flat do mine[i] = args[nlead + i] end
    return rebuild(spec, mine)
  end
  local gc, seen_c = trace_sub(function(...)
    local args = { ... }
    local vals = user_args(args)
    local c = cond(table.unpack(vals, 1, #spec.keys))
    if type(c) == "boolean" or type(c) == "number" then
      c = core.constant(truth(c, "tf.while_loop: cond's result"))
    end
    if core.is_variable(c) then c = c:value() end
    if not core.is_tensor(c) then
      raise("InvalidArgument", "tf.while_loop: cond must return a boolean scalar, got %s", describe(c))
    end
    if c.dtype.name ~= "bool" then
      raise("InvalidArgument", "tf.while_loop: cond must return a boolean scalar, got %s", describe(c))
    end
    if #c.shape ~= 0 then c = core.ops.reshape(c, {}) end
    if counted then c = core.ops.logical_and(core.ops.less(args[1], args[2]), c) end
    return c
  end, "tf.while_loop cond", all_metas)
  local gb, seen_b, _, flat_b = trace_sub(function(...)
    local args = { ... }
    local vals = user_args(args)
    local res = body_results(table.pack(body(table.unpack(vals, 1, #spec.keys))), #spec.keys)
    local new_flat = {}
    local new_spec = flatten(res, new_flat, "tf.while_loop: body result")
    check_body(spec, new_spec, new_flat, metas, path_of)
    if counted then
      return args[1] + core.constant(1, int32), args[2], table.unpack(new_flat)
    end
    return table.unpack(new_flat)
  end, "tf.while_loop body", all_metas)
  local n = #all_metas
  assert(#flat_b == n)
  C.align(gc, gb, n)
  local ins = {}
  if counted then
    ins[1] = core.constant(0, int32)
    ins[2] = core.ops.cast(core.ops.reshape(max, {}), { dtype = int32 })
  end
  for i, t in ipairs(flat) do ins[nlead + i] = t end
  -- the captures of either graph (they share their args now)
  local both = {}
  for _, t in ipairs(seen_c) do both[#both + 1] = t end
  for _, t in ipairs(seen_b) do both[#both + 1] = t end
  local extra = C.captures(gb, both, n)
  for _, t in ipairs(extra) do ins[#ins + 1] = t end
  local outs = C.emit("while", ins, { gc, gb }, all_metas, n, type(max) == "number" and max or -1)
  local mine = {}
  for i = 1, #flat do mine[i] = outs[nlead + i] end
  return rebuild(spec, mine)
end

-- tf.while_loop(cond, body, loop_vars, opts): loop_vars is a Lua list (of
-- tensors, numbers or nested tables); cond and body receive its elements as
-- arguments; body returns the new values (several results, or one list).
-- Returns the final loop_vars (a list, or a single value when loop_vars is
-- not a list). opts: shape_invariants, maximum_iterations,
-- parallel_iterations, back_prop, swap_memory, name (TensorFlow's).
function M.while_loop(cond, body, loop_vars, opts, ...)
  if select("#", ...) > 0 or (opts ~= nil and not (type(opts) == "table" and (next(opts) == nil or core.is_options(opts)))) then
    raise("InvalidArgument", "tf.while_loop(cond, body, loop_vars, opts): the options come as one table {shape_invariants=, maximum_iterations=, ...}")
  end
  opts = require("tlua.errors").check_options("tf.while_loop", opts or {}, WHILE_OPTIONS)
  check_fn("tf.while_loop: cond", cond)
  check_fn("tf.while_loop: body", body)
  if loop_vars == nil then raise("InvalidArgument", "tf.while_loop: loop_vars is nil") end
  local single = not (type(loop_vars) == "table" and not getmetatable(loop_vars))
  local vars = single and { loop_vars } or loop_vars
  if #vars == 0 then raise("InvalidArgument", "tf.while_loop: loop_vars is empty") end
  local max = max_iters(opts)
  local pi = opts.parallel_iterations
  if pi ~= nil and (math.type(pi) ~= "integer" or pi < 1) then
    raise("InvalidArgument", "tf.while_loop: parallel_iterations must be a positive integer, got %s", tostring(pi))
  end
  local flat = {}
  local eager = not tracing()
  local spec = flatten(vars, flat, "tf.while_loop: loop_vars", eager)
  local result
  if not eager then
    -- a composite loop variable may need a wider spec than its entry value
    -- has (WIDEN): cast the entry and trace again, a few times at most
    for attempt = 1, 8 do
      local ok, res = pcall(traced_while, cond, body, spec, flat, opts, max)
      if ok then
        result = res
        break
      end
      if type(res) ~= "table" or not res[WIDEN] or attempt == 8 then error(res, 0) end
      local function cast(s)
        if s == res.spec then return composite.cast(s.comp, res.raw, rebuild(s, flat)) end
        if s.keys then
          local out = {}
          for i, k in ipairs(s.keys) do out[k] = cast(s.kids[i]) end
          return out
        end
        return rebuild(s, flat)
      end
      vars = cast(spec)
      flat = {}
      spec = flatten(vars, flat, "tf.while_loop: loop_vars")
    end
  else
    -- Eagerly a Lua loop; as TensorFlow's eager while_loop, only the
    -- structure of the new values is checked (dtypes and shapes are checked
    -- when traced, where the graph fixes them).
    vars = rebuild(spec, flat)
    local n = #spec.keys
    local it = 0
    local flat_list = true -- loop_vars is a list of tensors
    for i = 1, n do flat_list = flat_list and spec.kids[i].leaf ~= nil end
    while max == nil or it < max do
      local c = cond(table.unpack(vars, 1, n))
      if not truth(c, "tf.while_loop: cond's result") then break end
      local res = body_results(table.pack(body(table.unpack(vars, 1, n))), n)
      if flat_list and #res == n and next(res, n > 0 and n or nil) == nil and all_tensors(res, n) then
        vars = res -- the common case: a list of tensors, as loop_vars
      else
        local new_flat = {}
        local new_spec = flatten(res, new_flat, "tf.while_loop: body result", true)
        local d = spec_diff(spec, new_spec, "loop_vars")
        if d then
          raise("InvalidArgument", "tf.while_loop: body must return the same structure as loop_vars; they differ at %s", d)
        end
        vars = rebuild(new_spec, new_flat)
      end
      it = it + 1
    end
    result = vars
  end
  if opts.back_prop == false then
    -- no gradient flows through the loop (TensorFlow's back_prop=False)
    local out_flat = {}
    local out_spec = flatten(result, out_flat, "tf.while_loop: result")
    for i, t in ipairs(out_flat) do out_flat[i] = core.ops.stop_gradient(t) end
    result = rebuild(out_spec, out_flat)
  end
  if single then return result[1] end
  return result
end

-- tf.range_loop(n, body, ...init) / tf.range_loop({start, limit, delta}, body, ...init):
-- the graph form of `for i in tf.range(n)` (Lua cannot overload `for`).
-- body(i, ...state) returns the new state; the final state is returned
-- (several values, as many as init). i is an int32 scalar tensor.
function M.range_loop(range, body, ...)
  check_fn("tf.range_loop: body", body)
  local start, limit, delta
  if type(range) == "table" and not core.is_tensor(range) and not getmetatable(range) then
    start, limit, delta = range[1], range[2], range[3]
    if limit == nil then start, limit = 0, start end
  else
    start, limit = 0, range
  end
  delta = delta or 1
  if start == nil or limit == nil then raise("InvalidArgument", "tf.range_loop: the range needs a limit") end
  local init = table.pack(...)
  local int32 = core.as_dtype("int32")
  local function to_i(x, what)
    if core.is_variable(x) then x = x:value() end
    if core.is_tensor(x) then return core.ops.cast(core.ops.reshape(x, {}), { dtype = int32 }) end
    if math.type(x) ~= "integer" and not (type(x) == "number" and math.tointeger(x)) then
      raise("InvalidArgument", "tf.range_loop: %s must be an integer, got %s", what, describe(x))
    end
    return core.constant(math.tointeger(x), int32)
  end
  if type(delta) == "number" and delta == 0 then raise("InvalidArgument", "tf.range_loop: delta must not be 0") end
  local s, l, d = to_i(start, "start"), to_i(limit, "limit"), to_i(delta, "delta")
  -- trip count: max(0, ceil((limit - start) / delta))
  local ops = core.ops
  local span = l - s
  local count = ops.floordiv(span + d - ops.sign(d), d)
  count = ops.maximum(count, core.constant(0, int32))
  local vars = { core.constant(0, int32) }
  for i = 1, init.n do vars[i + 1] = init[i] end
  local out = M.while_loop(function(k) return ops.less(k, count) end, function(k, ...)
    local res = table.pack(body(s + k * d, ...))
    if res.n == 1 and init.n ~= 1 and type(res[1]) == "table" and not core.is_tensor(res[1]) then
      res = table.pack(table.unpack(res[1]))
    end
    if res.n ~= init.n then
      raise("InvalidArgument", "tf.range_loop: body must return the %d state value(s) it is given, returned %d", init.n, res.n)
    end
    return k + core.constant(1, int32), table.unpack(res, 1, res.n)
  end, vars)
  return table.unpack(out, 2, init.n + 1)
end

function M.install(tf)
  local help = require("tlua.help")
  tf.cond = help.register(M.cond, "tf.cond(pred, true_fn, false_fn): the results of true_fn() when pred (a boolean "
    .. "scalar tensor, or a Lua boolean) is true, else of false_fn(). Traced: one graph cond node over both branches, "
    .. "which must return the same structure and dtypes (docs/trace.md, Control flow).")
  tf.case = help.register(M.case, "tf.case({{pred, fn}, ...}, {default=, exclusive=}): runs the fn of the first true "
    .. "pred, else default; exclusive=true makes more than one true pred an error, and no true pred without a default is one.")
  tf.switch_case = help.register(M.switch_case, "tf.switch_case(branch_index, branch_fns, default?): runs "
    .. "branch_fns[branch_index + 1] (a 0-based index over a Lua list, or a table keyed by the indices); an index "
    .. "out of range runs default, or the last branch.")
  tf.while_loop = help.register(M.while_loop, "tf.while_loop(cond, body, loop_vars, {maximum_iterations=, "
    .. "shape_invariants=, parallel_iterations=}): while cond(vars...) is true, vars = body(vars...); returns the final "
    .. "loop_vars (a list; a single tensor for a single tensor). Traced: one graph while node (its trip count can "
    .. "depend on tensor values), differentiable.")
  tf.range_loop = help.register(M.range_loop, "tf.range_loop(n | {start, limit, delta}, body, init...): the graph form "
    .. "of `for i in tf.range(...)`: state = body(i, state...) for each i; returns the final state values.")
end

return M
