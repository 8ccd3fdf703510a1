-- help() for Keras: classes (own __doc, keras/docs.lua entries found under
-- any of their paths, optimizer signatures from their spec), instances
-- (class and config), user subclasses (where they are defined, what they
-- extend), namespace listings. Also: every public class of the Keras
-- namespaces has text, and every keras/docs.lua entry names an object that
-- exists (no documented API that is not there).
local tf = require("tlua")
local keras = tf.keras
local help = require("tlua.help")
local kdocs = require("keras.docs")

-- tlua installs help when the program starts; under busted it may not be yet.
if not tf.help then help.install(tf) end

local function has(text, s) assert.truthy(text:find(s, 1, true), ("%q not in:\n%s"):format(s, text)) end

local function resolve(path)
  local v = keras
  for part in path:gsub("^keras%.", ""):gmatch("[^.]+") do
    if type(v) ~= "table" then return nil end
    v = v[part]
  end
  return v
end

before_each(function() keras.backend.clear_session() end)

describe("help for Keras classes", function()
  it("describes keras.layers.Dense with its signature, defaults and base class", function()
    local text = help.text(keras.layers.Dense)
    assert.truthy(text:find("^keras%.layers%.Dense: class Dense, a subclass of keras%.layers%.Layer"), text)
    has(text, "keras.layers.Dense(units, {activation=, use_bias=true, kernel_initializer='glorot_uniform'")
    has(text, "inputs @ kernel + bias")
    has(text, "methods:")
    has(text, "compute_output_shape")
  end)

  it("describes keras.losses.Huber from its module's __doc", function()
    local text = help.text(keras.losses.Huber)
    assert.truthy(text:find("^keras%.losses%.Huber: class Huber, a subclass of keras%.losses%.Loss"), text)
    has(text, "delta=1.0")
    has(text, "reduction='sum_over_batch_size'")
    has(text, "sample_weight")
  end)

  it("describes keras.Sequential, also reached as keras.models.Sequential", function()
    local text = help.text(keras.Sequential)
    assert.truthy(text:find("^keras%.Sequential: class Sequential, a subclass of keras%.Model"), text)
    has(text, "model:add(layer)")
    has(text, "compile")
    assert.equal(text, help.text(keras.models.Sequential))
    has(help.text(keras.Model), "keras.Model{inputs=, outputs=, name=}")
    has(help.text(keras.Input), "A symbolic KerasTensor")
  end)

  it("builds optimizer signatures from the class's spec", function()
    local text = help.text(keras.optimizers.Adam)
    has(text, "keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=false, {")
    has(text, "clipnorm=")
    has(text, "adaptive first and second moments")
  end)

  it("finds aliases under their canonical name", function()
    assert.equal(keras.layers.MaxPool2D, keras.layers.MaxPooling2D)
    has(help.text(keras.layers.MaxPool2D), "keras.layers.MaxPooling2D(pool_size=2")
  end)

  it("describes an instance by its class and config", function()
    local text = help.text(keras.layers.Dense(3, { activation = "relu" }))
    has(text, "<Dense name=dense, built=false>: an instance of keras.layers.Dense")
    has(text, "units=3")
    has(text, 'activation="relu"')
    has(text, "help(keras.layers.Dense) describes the class.")
    has(help.text(keras.losses.Huber{ delta = 2.0 }), "delta=2.0")
    has(help.text(keras.metrics.Mean{ name = "mean_loss" }), 'name="mean_loss"')
  end)

  it("says where a user subclass is defined and what it extends, not the base's doc as its own", function()
    local HuberLoss = keras.losses.Loss:extend("HuberLoss")
    function HuberLoss:init(opts) HuberLoss.super.init(self, opts) end
    function HuberLoss:call(y_true, y_pred) return tf.abs(y_true - y_pred) end
    local text = help.text(HuberLoss)
    has(text, "HuberLoss: class HuberLoss, a subclass of keras.losses.Loss")
    has(text, "defined in Lua at ")
    has(text, "keras_help_spec.lua")
    has(text, "inherits: keras.losses.Loss: base of loss classes")
    has(text, "call  init")
    local MyDense = keras.layers.Layer:extend("MyDense")
    function MyDense:init(opts) MyDense.super.init(self, opts) end
    text = help.text(MyDense)
    has(text, "a subclass of keras.layers.Layer")
    has(text, "inherits: keras.layers.Layer{name=")
    has(help.text(MyDense()), "an instance of MyDense")
  end)

  it("lists a namespace's classes with their description", function()
    local text = help.text(keras.layers)
    assert.truthy(text:find("\n    Dense%s+class: activation%(inputs @ kernel %+ bias%)"), text)
    text = help.text(keras.losses)
    assert.truthy(text:find("\n    Huber%s+class: keras%.losses%.Huber{delta=1%.0"), text)
  end)

  it("keeps tables with a plain __doc as before", function()
    has(help.text({ __doc = "A thing that does things.", fit = function() end }), "A thing that does things.")
  end)
end)

describe("keras.docs", function()
  it("documents only objects that exist", function()
    for path in pairs(kdocs) do
      assert.is_not_nil(resolve(path), path .. " is documented but does not exist")
    end
  end)

  it("gives every public class of the Keras namespaces some text", function()
    local missing = {}
    for _, ns in ipairs({ "layers", "losses", "metrics", "initializers", "regularizers", "constraints",
                          "optimizers", "callbacks", "models", "utils" }) do
      for name, v in pairs(keras[ns]) do
        if type(v) == "table" and rawget(v, "class_name") and rawget(v, "super") and name:match("^%u") then
          local text = help.text(v)
          if text:find("defined in Lua at", 1, true) then missing[#missing + 1] = "keras." .. ns .. "." .. name end
        end
      end
    end
    table.sort(missing)
    assert.are.same({}, missing)
  end)
end)
