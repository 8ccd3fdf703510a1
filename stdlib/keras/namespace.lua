-- keras.namespace: builds the get/serialize/deserialize trio shared by the
-- class-based Keras namespaces (keras.constraints, keras.regularizers,
-- keras.initializers), so the three stay alike and their messages identical.
--
--   namespace.define(M, {
--     kind = "constraint", plural = "constraints",  -- used in messages and as saving's kind
--     base = Constraint,          -- instances of it serialize to {class_name=, config=}
--     by_name = by_name,          -- names and aliases -> class (or function)
--     serialize_hint = " (register it with keras.saving)",  -- appended to serialize's error
--     no_config = { l1_l2 = M.l1_l2 },  -- optional: name given without a config -> fn()
--     copy_config = true,         -- optional: the class gets a copy of the config table
--     get_fallback = function(identifier) ... end,  -- optional: last try in get, nil = no
--   })
--
-- It sets M.serialize, M.deserialize and M.get; get goes through M.deserialize.
-- Names not in by_name (nor custom_objects) are looked up in keras.saving's
-- registry (required lazily: saving requires these namespaces). Activations
-- are plain functions and keep their own trio in activations.lua.
--
-- namespace.from_class_spec and namespace.getter are the {class_name=}
-- branch of deserialize and the get of keras.losses / keras.metrics, whose
-- name lookups differ (functions, aliases, "accuracy").
--
-- namespace.serializer(plural, base, fn_names, what) is the serialize of
-- keras.losses / keras.metrics (builtin functions serialize to their name,
-- fn_names: function -> name; `what` names the expected object in the error).

local class = require("tlua.class")
local core = require("tlua.core")

local raise = core.raise

local M = {}

function M.define(ns, spec)
  local kind, plural, base, by_name = spec.kind, spec.plural, spec.base, spec.by_name
  local hint, no_config, copy_config, get_fallback =
    spec.serialize_hint or "", spec.no_config or {}, spec.copy_config, spec.get_fallback
  local serialize_msg = "keras." .. plural .. ".serialize: cannot serialize %s" .. hint
  local deserialize_msg = "keras." .. plural .. ".deserialize: expected a name or {class_name=, config=}, got %s"
  local unknown_msg = "Unknown " .. kind .. ": '%s'"
  local get_msg = "keras." .. plural .. ".get: could not interpret " .. kind .. " identifier: %s"

  function ns.serialize(obj)
    if obj == nil then return nil end
    if class.is_instance(obj, base) then
      return { class_name = getmetatable(obj).class_name, config = obj:get_config() }
    end
    local ok, saving = pcall(require, "keras.saving")
    if ok and type(saving) == "table" and saving.serialize_keras_object then return saving.serialize_keras_object(obj) end
    raise("InvalidArgument", serialize_msg:format(tostring(obj)))
  end

  function ns.deserialize(spec_, custom_objects)
    local name, cfg = spec_, nil
    if type(spec_) == "table" and getmetatable(spec_) == nil then name, cfg = spec_.class_name, spec_.config end
    if type(name) ~= "string" then
      raise("InvalidArgument", deserialize_msg:format(type(spec_)))
    end
    local cls = (custom_objects and custom_objects[name]) or by_name[name]
    if cls == nil then
      local ok, saving = pcall(require, "keras.saving")
      if ok and type(saving) == "table" and saving.deserialize_keras_object then
        local found, v = pcall(saving.deserialize_keras_object, spec_, { custom_objects = custom_objects, kind = kind })
        if found and v then return v end
      end
      raise("InvalidArgument", unknown_msg:format(name))
    end
    if type(cls) == "function" then return cls end
    if not cfg and no_config[name] then return no_config[name]() end
    if cfg and next(cfg) ~= nil then
      if copy_config then
        local clean = {}
        for k, v in pairs(cfg) do clean[k] = v end
        cfg = clean
      end
      return cls(cfg)
    end
    return cls()
  end

  function ns.get(identifier)
    if identifier == nil then return nil end
    local t = type(identifier)
    if t == "string" or (t == "table" and getmetatable(identifier) == nil) then return ns.deserialize(identifier) end
    if t == "function" then return identifier end
    if t == "table" and getmetatable(identifier) and getmetatable(identifier).__call then return identifier end
    if get_fallback then
      local v = get_fallback(identifier)
      if v ~= nil then return v end
    end
    raise("InvalidArgument", get_msg:format(tostring(identifier)))
  end

  return ns
end

-- The {class_name=, config=} branch of keras.losses / keras.metrics
-- deserialize: custom_objects first, then the namespace's classes; a
-- function found is returned as it is. what: "loss" or "metric".
function M.from_class_spec(what, spec, custom_objects, by_class_name)
  local cls = (custom_objects and custom_objects[spec.class_name]) or by_class_name[spec.class_name]
  if not cls then
    raise("InvalidArgument", ("Unknown %s: '%s'; pass custom %ss in custom_objects"):format(what, spec.class_name, what))
  end
  if type(cls) == "function" then return cls end
  return cls.from_config(spec.config or {})
end

-- The get of keras.losses / keras.metrics: nil -> nil; functions, instances
-- of base and callable objects pass through; names and {class_name=, config=}
-- go through deserialize.
function M.getter(what, base, deserialize)
  local msg = "Could not interpret " .. what .. " identifier: %s"
  return function(identifier)
    if identifier == nil then return nil end
    local t = type(identifier)
    if t == "function" or class.is_instance(identifier, base) then return identifier end
    if t == "string" or (t == "table" and getmetatable(identifier) == nil and identifier.class_name) then
      return deserialize(identifier)
    end
    if t == "table" and getmetatable(identifier) and getmetatable(identifier).__call then return identifier end
    raise("InvalidArgument", msg:format(tostring(identifier)))
  end
end

function M.serializer(plural, base, fn_names, what)
  local fn_msg = "keras." .. plural .. ".serialize: cannot serialize an unregistered function"
  local type_msg = "keras." .. plural .. ".serialize: expected " .. what .. " or function, got %s"
  return function(obj)
    if type(obj) == "function" then
      local n = fn_names[obj]
      if n then return n end
      local ok, saving = pcall(require, "keras.saving")
      if ok and saving.serialize_keras_object then return saving.serialize_keras_object(obj) end
      raise("InvalidArgument", fn_msg)
    end
    if class.is_instance(obj, base) then
      return { class_name = getmetatable(obj).class_name, config = obj:get_config() }
    end
    raise("InvalidArgument", type_msg:format(type(obj)))
  end
end

return M
