-- examples/seed_07_dynamic.lua — the seed chapter's dynamic models:
-- a layer and a model made with dynamic = true, and compile{run_eagerly = true}.
-- tlua runs eagerly (there is no graph tracing yet), so both are recorded and
-- reported (layer.dynamic, model.dynamic, model.run_eagerly) and the point of
-- them holds by construction: arbitrary Lua code in call() runs at every
-- step, including value-dependent control flow and side effects.
-- Asserts: the flags are reported; the layer's Lua side effect ran once per
-- training step (a traced function would run it only while tracing); the
-- value-dependent branch takes both sides; training lowers the loss.
-- TLUA_EXAMPLE_QUICK=1 trains for fewer epochs.
local quick = os.getenv("TLUA_EXAMPLE_QUICK") == "1"
tf.random.set_seed(8)

local MyDynamicLayer = keras.layers.Layer:extend("MyDynamicLayer")
function MyDynamicLayer:init(opts)
  local o = { dynamic = true }
  for k, v in pairs(opts or {}) do o[k] = v end
  MyDynamicLayer.super.init(self, o)
  self.calls, self.all_calls, self.flipped = 0, 0, 0
end
function MyDynamicLayer:call(inputs, opts)
  -- Plain Lua on values: counts training calls, branches on the batch mean.
  if opts and opts.training then self.calls = self.calls + 1 end
  self.all_calls = self.all_calls + 1
  if tf.reduce_mean(inputs):item() < 0 then
    self.flipped = self.flipped + 1
    return -inputs
  end
  return inputs
end
function MyDynamicLayer:compute_output_shape(s) return s end

local MyDynamicModel = keras.Model:extend("MyDynamicModel")
function MyDynamicModel:init(opts)
  local o = { dynamic = true }
  for k, v in pairs(opts or {}) do o[k] = v end
  MyDynamicModel.super.init(self, o)
  self.flip = MyDynamicLayer()
  self.hidden = keras.layers.Dense(16, { activation = "relu" })
  self.out = keras.layers.Dense(1)
end
function MyDynamicModel:call(inputs, opts)
  return self.out(self.hidden(self.flip(inputs, opts)))
end

local n, batch, epochs = 256, 32, quick and 2 or 10
-- Batches whose mean sign alternates, so the branch goes both ways.
local offsets = tf.reshape(tf.tile(tf.constant({ 1.5, -1.5 }), { n // (2 * batch) }), { n // batch, 1 })
local X = tf.random.normal({ n, 4 }) + tf.reshape(tf.tile(offsets, { 1, batch }), { n, 1 })
local y = tf.reduce_sum(tf.abs(X), -1, { keepdims = true })

local model = MyDynamicModel()
assert(model.dynamic == true and model.flip.dynamic == true, "dynamic=true is recorded on the model and the layer")
model:compile{ loss = "mse", optimizer = "adam", run_eagerly = true }
assert(model.run_eagerly == true, "compile{run_eagerly=true} is reported by model.run_eagerly")
local history = model:fit(X, y, { epochs = epochs, batch_size = batch, shuffle = false, verbose = 0 })
local steps = epochs * (n // batch)
print(("dynamic layer: %d training calls for %d steps, %d batches flipped; loss %.3f -> %.3f"):format(
  model.flip.calls, steps, model.flip.flipped, history.history.loss[1], history.history.loss[epochs]))
assert(model.flip.calls == steps, ("the Lua code in call() should run at every step: %d calls, %d steps"):format(model.flip.calls, steps))
assert(model.flip.flipped > 0 and model.flip.flipped < model.flip.all_calls, "the branch should go both ways")
assert(history.history.loss[epochs] < history.history.loss[1], "the loss should go down")

-- A Sequential model compiled to run eagerly, as the chapter's second way.
local seq = keras.Sequential{ keras.layers.Dense(8, { activation = "relu", input_shape = { 4 } }), keras.layers.Dense(1) }
seq:compile{ loss = "mse", optimizer = "adam", run_eagerly = true }
assert(seq.run_eagerly == true, "Sequential run_eagerly")
seq:fit(X, y, { epochs = 1, verbose = 0 })
print("Sequential with run_eagerly = true: trained one epoch")
