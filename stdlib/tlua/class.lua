-- tlua.class: the one small class helper of the stdlib (single inheritance).
--
--   local class = require("tlua.class")
--   local Base = class("Base")              -- same as class.Object:extend("Base")
--   function Base:init(opts) self.x = opts.x end
--   local Sub = Base:extend("Sub")
--   function Sub:init(opts) Sub.super.init(self, opts) self.y = 2 end
--   local obj = Sub{x = 1}                  -- Class(...) makes an instance and calls init(...)
--   class.is_instance(obj, Base)            -- true
--   Sub.from_config(cfg)                    -- Sub(cfg): every class gets its own
--
-- A class is the metatable of its instances, so metamethods are ordinary
-- fields (function Base:__tostring() ... end, Base.__call for callable
-- instances). extend copies the parent's metamethods into the child once,
-- so define them on a class before extending it. Methods are looked up
-- through the chain at call time. Classes carry their name in __name (Lua
-- uses it in error messages) and class_name.
local M = {}

local Object = {}
Object.__index = Object
Object.__name = "Object"
Object.class_name = "Object"

local function construct(cls, ...)
  local obj = setmetatable({}, cls)
  obj:init(...)
  return obj
end

local function class_tostring(cls) return ("<class %s>"):format(rawget(cls, "__name")) end

setmetatable(Object, { __call = construct, __tostring = class_tostring })

function Object:init() end

function Object:__tostring() return ("<%s>"):format(getmetatable(self).__name) end

-- Class:extend(name) -> a new class whose super is Class.
function Object:extend(name)
  assert(type(name) == "string", "extend: the class needs a name")
  local cls = {}
  for k, v in pairs(self) do
    if type(k) == "string" and k:sub(1, 2) == "__" then cls[k] = v end
  end
  -- Instances look methods up in their class; a class with a custom
  -- __index function keeps it.
  if rawget(self, "__index") == self then cls.__index = cls end
  cls.__name = name
  cls.class_name = name
  cls.super = self
  -- Class.from_config(config) == Class(config) (a dot call: no self). An
  -- empty config is no options at all ({} alone would be an empty list
  -- under the options rule).
  cls.from_config = function(config)
    if type(config) == "table" and next(config) == nil then return cls() end
    return cls(config)
  end
  return setmetatable(cls, { __index = self, __call = construct, __tostring = class_tostring })
end

Object.from_config = function(config)
  if type(config) == "table" and next(config) == nil then return Object() end
  return Object(config)
end

-- Is cls (a class) the same as or derived from base?
function M.is_subclass(cls, base)
  while cls do
    if cls == base then return true end
    cls = rawget(cls, "super")
  end
  return false
end

-- Is obj an instance of cls or of a class derived from it?
function M.is_instance(obj, cls)
  if type(obj) ~= "table" then return false end
  local mt = getmetatable(obj)
  return type(mt) == "table" and M.is_subclass(mt, cls)
end

-- The class of an instance made by this helper (nil otherwise).
function M.class_of(obj)
  local mt = type(obj) == "table" and getmetatable(obj)
  if type(mt) == "table" and M.is_subclass(mt, Object) then return mt end
  return nil
end

-- The one options rule (lua/lbinding.c, shared with the op dispatcher): a
-- table without metatable whose keys are all strings, at least one; a table
-- mixing list entries and named keys is an InvalidArgument error; {} is an
-- empty list, not options.
M.is_options = require("tlua.core").is_options

-- The option convention of stdlib classes: leading positional arguments as
-- sugar, then one options table whose keys are the get_config names.
--   spec = { positional = {"learning_rate"}, defaults = {learning_rate = 0.001},
--            optional = {"clipnorm"} }       -- keys without a default
-- Returns a new table of the options with defaults filled in. Unknown keys,
-- too many positional arguments and a key given twice are InvalidArgument
-- errors naming `who`.
function M.options(who, spec, ...)
  local raise = require("tlua.core").raise
  local n = select("#", ...)
  local args = { ... }
  local opts = {}
  if n > 0 and M.is_options(args[n]) then
    opts = args[n]
    n = n - 1
  end
  local positional = spec.positional or {}
  if n > #positional then
    raise("InvalidArgument", ("%s: too many positional arguments (%d given, at most %d: %s)"):format(
      who, n, #positional, table.concat(positional, ", ")))
  end
  local known = {}
  for k in pairs(spec.defaults or {}) do known[k] = true end
  for _, k in ipairs(spec.optional or {}) do known[k] = true end
  for _, k in ipairs(positional) do known[k] = true end
  require("tlua.errors").check_options(who, opts, known)
  local out = {}
  for k, v in pairs(opts) do out[k] = v end
  for i = 1, n do
    local k = positional[i]
    if out[k] ~= nil then
      raise("InvalidArgument", ("%s: '%s' given both as argument %d and as an option"):format(who, k, i))
    end
    out[k] = args[i]
  end
  for k, v in pairs(spec.defaults or {}) do
    if out[k] == nil then out[k] = v end
  end
  return out
end

M.Object = Object
return setmetatable(M, { __call = function(_, name) return Object:extend(name) end })
