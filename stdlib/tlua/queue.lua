-- tlua.queue: tf.queue's constructors (FIFOQueue, PaddingFIFOQueue,
-- PriorityQueue, RandomShuffleQueue) with TensorFlow's arguments, positional
-- or as an options table, and the queues' properties (name, names, dtypes,
-- shapes, capacity, min_after_dequeue). The queues themselves are C objects
-- (src/structs/queue.c; methods in lua/queue_binding.c). docs/queues.md.
local core = require("tlua.core")
local errors = require("tlua.errors")
local shape = require("tlua.shape")
local help = require("tlua.help")

local M = {}

local function raise(fmt, ...) core.raise("InvalidArgument", fmt:format(...)) end

local dtype_mt = getmetatable(core.dtypes[1])
local function is_dtype(x) return type(x) == "string" or (type(x) == "table" and getmetatable(x) == dtype_mt) end

local function dtype_list(who, dtypes)
  if dtypes == nil then raise("%s: dtypes is required (a dtype or a list of dtypes)", who) end
  if is_dtype(dtypes) then return { core.as_dtype(dtypes) } end
  if type(dtypes) ~= "table" or #dtypes == 0 then
    raise("%s: dtypes must be a dtype or a non-empty list of dtypes, got %s", who, type(dtypes))
  end
  local out = {}
  for i, d in ipairs(dtypes) do
    if not is_dtype(d) then raise("%s: dtypes[%d] is not a dtype (%s)", who, i, tostring(d)) end
    out[i] = core.as_dtype(d)
  end
  return out
end

-- One shape: a TensorShape, a list of dimensions (-1 or a nil hole with
-- field n for unknown), or nil/false (any shape). -> dims with -1, or false.
local function one_shape(who, i, s)
  if s == nil or s == false then return false end
  if getmetatable(s) == shape.Shape then s = s:as_list() end
  if type(s) ~= "table" then raise("%s: shapes[%d] must be a list of dimensions, got %s", who, i, type(s)) end
  local n = s.n or #s
  local dims = {}
  for k = 1, n do
    local d = s[k]
    if d == nil then d = -1 end
    if math.type(d) ~= "integer" or d < -1 then
      raise("%s: shapes[%d]: dimension %d must be an integer >= 0 (or -1 / nil for unknown), got %s", who, i, k - 1, tostring(d))
    end
    dims[k] = d
  end
  return dims
end

local function is_dim_list(s)
  if type(s) ~= "table" or getmetatable(s) ~= nil then return false end
  for k = 1, s.n or #s do
    local d = s[k]
    if d ~= nil and type(d) ~= "number" then return false end
  end
  return true
end

local function shape_list(who, shapes, n)
  local out = {}
  if shapes == nil then
    for i = 1, n do out[i] = false end
    return out
  end
  -- one component: a single shape may be given bare ({2, 3}, {} or a TensorShape)
  if n == 1 and (getmetatable(shapes) == shape.Shape or is_dim_list(shapes)) then
    return { one_shape(who, 1, shapes) }
  end
  if type(shapes) ~= "table" then raise("%s: shapes must be a list of shapes, got %s", who, type(shapes)) end
  local len = shapes.n or #shapes
  if len ~= n then raise("%s: shapes must give one shape per dtype: %d dtypes, %d shapes", who, n, len) end
  for i = 1, n do out[i] = one_shape(who, i, shapes[i]) end
  return out
end

local function name_list(who, names, n)
  if names == nil then return nil end
  if type(names) == "string" then names = { names } end
  if type(names) ~= "table" or #names ~= n then
    raise("%s: names must list one name per component (%d), got %s", who, n, type(names) == "table" and #names or type(names))
  end
  local seen = {}
  for i, s in ipairs(names) do
    if type(s) ~= "string" then raise("%s: names[%d] must be a string", who, i) end
    if seen[s] then raise("%s: names must be unique ('%s' appears twice)", who, s) end
    seen[s] = true
  end
  return names
end

-- Positional arguments in `params` order, then an optional options table.
local function args_of(who, params, ...)
  local args = table.pack(...)
  local opts = {}
  local last = args.n
  if last > 0 and core.is_options(args[last]) then
    for k, v in pairs(args[last]) do opts[k] = v end
    last = last - 1
  end
  if last > #params then raise("%s: too many arguments (%d; takes %s)", who, last, table.concat(params, ", ")) end
  for i = 1, last do
    if args[i] ~= nil then
      if opts[params[i]] ~= nil then raise("%s: %s given both positionally and as an option", who, params[i]) end
      opts[params[i]] = args[i]
    end
  end
  local known = {}
  for _, p in ipairs(params) do known[p] = true end
  errors.check_options(who, opts, known)
  return opts
end

local function capacity_of(who, c)
  if math.type(c) ~= "integer" then raise("%s: capacity must be an integer (negative for no limit), got %s", who, tostring(c)) end
  return c
end

local function make(kind, who, o, dtypes, shapes, default_name)
  local n = #dtypes
  local names = name_list(who, o.names, n)
  local q = core.queue.new(kind, capacity_of(who, o.capacity), dtypes, shapes, names, o.min_after_dequeue,
    o.seed, o.seed2, o.name or default_name)
  help.register(q, ("a tf.queue.%s (%s)\n"):format(kind, tostring(q))
    .. "  methods: enqueue, enqueue_many, dequeue, dequeue_many(n), dequeue_up_to(n), size, close, is_closed\n"
    .. "  (blocking ones take {timeout=seconds}: nil, reason when it expires; #q is the size)\n"
    .. "  properties: name, names, dtypes, shapes, capacity, min_after_dequeue; docs/queues.md")
  return q
end

local FIFO_PARAMS = { "capacity", "dtypes", "shapes", "names", "shared_name", "name" }

local function FIFOQueue(...)
  local who = "tf.queue.FIFOQueue"
  local o = args_of(who, FIFO_PARAMS, ...)
  local dtypes = dtype_list(who, o.dtypes)
  return make("FIFOQueue", who, o, dtypes, shape_list(who, o.shapes, #dtypes), "fifo_queue")
end

local function PaddingFIFOQueue(...)
  local who = "tf.queue.PaddingFIFOQueue"
  local o = args_of(who, FIFO_PARAMS, ...)
  local dtypes = dtype_list(who, o.dtypes)
  if o.shapes == nil then raise("%s: shapes is required (use -1 or nil for the dimensions to pad)", who) end
  local shapes = shape_list(who, o.shapes, #dtypes)
  for i, s in ipairs(shapes) do
    if s == false then raise("%s: shapes[%d] must give the rank (dimensions may be unknown)", who, i) end
  end
  return make("PaddingFIFOQueue", who, o, dtypes, shapes, "padding_fifo_queue")
end

local function PriorityQueue(...)
  local who = "tf.queue.PriorityQueue"
  local o = args_of(who, { "capacity", "types", "shapes", "names", "shared_name", "name" }, ...)
  local user = dtype_list(who, o.types or o.dtypes)
  local shapes = shape_list(who, o.shapes, #user)
  local dtypes, all_shapes = { core.as_dtype("int64") }, { {} }
  for i = 1, #user do
    dtypes[i + 1] = user[i]
    all_shapes[i + 1] = shapes[i]
  end
  return make("PriorityQueue", who, o, dtypes, all_shapes, "priority_queue")
end

local function RandomShuffleQueue(...)
  local who = "tf.queue.RandomShuffleQueue"
  local o = args_of(who, { "capacity", "min_after_dequeue", "dtypes", "shapes", "names", "seed", "shared_name",
    "name", "seed2" }, ...)
  local dtypes = dtype_list(who, o.dtypes)
  local m = o.min_after_dequeue
  if math.type(m) ~= "integer" then raise("%s: min_after_dequeue must be an integer, got %s", who, tostring(m)) end
  for _, k in ipairs({ "seed", "seed2" }) do
    if o[k] ~= nil and math.type(o[k]) ~= "integer" then raise("%s: %s must be an integer, got %s", who, k, tostring(o[k])) end
  end
  -- no seed: a fresh one per queue (TensorFlow is nondeterministic then too)
  if o.seed == nil and o.seed2 == nil then o.seed = math.random(0, math.maxinteger) end
  return make("RandomShuffleQueue", who, o, dtypes, shape_list(who, o.shapes, #dtypes), "random_shuffle_queue")
end

-- q.name, q.names, q.dtypes, q.shapes, q.capacity, q.min_after_dequeue
local info_cache = setmetatable({}, { __mode = "k" })
local function property(q, key)
  local info = info_cache[q]
  if not info then
    local kind, name, capacity, min_after, dtypes, shapes, names = q:_info()
    local tshapes = { n = #shapes }
    for i, s in ipairs(shapes) do
      if s then
        local dims = {}
        for k, d in ipairs(s) do dims[k] = d >= 0 and d or nil end
        tshapes[i] = shape.new(dims, #s)
      end
    end
    local list = {}
    if names then for i, s in ipairs(names) do list[i] = s end end
    info = { kind = kind, name = name, capacity = capacity, min_after_dequeue = min_after, dtypes = dtypes,
      shapes = tshapes, names = names and list or nil }
    info_cache[q] = info
  end
  if key == "kind" or key == "name" or key == "capacity" or key == "min_after_dequeue" then return info[key] end
  -- fresh tables: a caller may change what it gets
  if key == "dtypes" or key == "shapes" or (key == "names" and info.names) then
    local src = info[key]
    local c = { n = src.n }
    for i = 1, src.n or #src do c[i] = src[i] end
    if c.n == #c then c.n = nil end
    return c
  end
  return nil
end

function M.install(tf)
  local q = tf.queue
  q.FIFOQueue = FIFOQueue
  q.PaddingFIFOQueue = PaddingFIFOQueue
  q.PriorityQueue = PriorityQueue
  q.RandomShuffleQueue = RandomShuffleQueue
  tf._hooks.queue_property = property
  help.register(FIFOQueue, "tf.queue.FIFOQueue(capacity, dtypes, shapes?, names?, shared_name?, name?): a first-in "
    .. "first-out queue of tensor tuples, safe across threads. Methods: enqueue, enqueue_many, dequeue, dequeue_many, "
    .. "dequeue_up_to, size, close{cancel_pending_enqueues=}, is_closed; blocking ones take {timeout=seconds} and "
    .. "then return nil, reason. docs/queues.md")
  help.register(PaddingFIFOQueue, "tf.queue.PaddingFIFOQueue(capacity, dtypes, shapes, names?, shared_name?, name?): "
    .. "a FIFOQueue whose dequeue_many/dequeue_up_to pad the dimensions left unknown (-1) in shapes to the batch's "
    .. "largest, with zeros or empty strings.")
  help.register(PriorityQueue, "tf.queue.PriorityQueue(capacity, types, shapes?, names?, shared_name?, name?): "
    .. "elements are (int64 priority, values...); dequeue gives the smallest priority first, FIFO among equals.")
  help.register(RandomShuffleQueue, "tf.queue.RandomShuffleQueue(capacity, min_after_dequeue, dtypes, shapes?, "
    .. "names?, seed?, shared_name?, name?): dequeues a random element, keeping at least min_after_dequeue "
    .. "until closed; reproducible with seed (and seed2).")
end

return M
