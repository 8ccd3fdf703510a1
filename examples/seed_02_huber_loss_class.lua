-- examples/seed_02_huber_loss_class.lua — the seed chapter's HuberLoss, a
-- keras.losses.Loss subclass whose get_config carries its threshold: compiled
-- with "nadam", trained, saved, and loaded with custom_objects = {HuberLoss =
-- HuberLoss}; the loaded model's loss object has threshold 2.0 again.
-- Asserts: HuberLoss equals keras.losses.Huber{delta = threshold} (an
-- independent implementation) and hand-computed values; training lowers the
-- loss; the restored loss, predictions and evaluation match.
-- TLUA_EXAMPLE_QUICK=1 trains for fewer epochs.
local quick = os.getenv("TLUA_EXAMPLE_QUICK") == "1"
tf.random.set_seed(7)

local HuberLoss = keras.losses.Loss:extend("HuberLoss")

-- HuberLoss{threshold = 2.0} (or HuberLoss(2.0), as the chapter's HuberLoss(2.)).
function HuberLoss:init(opts)
  if type(opts) == "number" then opts = { threshold = opts } end
  opts = opts or {}
  self.threshold = opts.threshold or 1.0
  HuberLoss.super.init(self, { name = opts.name, reduction = opts.reduction })
end

function HuberLoss:call(y_true, y_pred)
  local error = y_true - y_pred
  local is_small_error = tf.less(tf.abs(error), self.threshold)
  local squared_loss = tf.square(error) / 2
  local linear_loss = self.threshold * tf.abs(error) - self.threshold ^ 2 / 2
  return tf.where(is_small_error, squared_loss, linear_loss)
end

function HuberLoss:get_config()
  local config = HuberLoss.super.get_config(self)
  config.threshold = self.threshold
  return config
end

local function close(a, b, tol, what)
  assert(math.abs(a - b) <= tol * math.max(1, math.abs(b)), ("%s: %.7g vs %.7g"):format(what, a, b))
end

-- Against hand values (errors 0.5, -1.5, 3 with threshold 2: 0.125, 1.125, 4;
-- mean 1.75) and against Keras's own Huber loss.
do
  local y_true, y_pred = tf.constant({ { 1.0 }, { 2.0 }, { 3.0 } }), tf.constant({ { 0.5 }, { 3.5 }, { 0.0 } })
  close(HuberLoss(2.0)(y_true, y_pred):item(), 1.75, 1e-6, "HuberLoss(2)")
  local a, b = tf.random.normal({ 64, 3 }, 0, 3), tf.random.normal({ 64, 3 })
  close(HuberLoss{ threshold = 2.0 }(a, b):item(), keras.losses.Huber{ delta = 2.0 }(a, b):item(), 1e-5, "vs keras.losses.Huber")
  local cfg = HuberLoss{ threshold = 2.0, name = "my_huber" }:get_config()
  assert(cfg.threshold == 2.0 and cfg.name == "my_huber", "get_config should carry threshold and name")
end

local n = 2048
local X = tf.random.normal({ n, 8 })
local y = tf.matmul(X, tf.random.normal({ 8, 1 })) + tf.random.normal({ n, 1 }, 0, 0.2)
local model = keras.Sequential{
  keras.layers.Dense(30, { activation = "relu", kernel_initializer = "he_normal", input_shape = { 8 } }),
  keras.layers.Dense(1),
}
model:compile{ loss = HuberLoss(2.0), optimizer = "nadam" }
local history = model:fit(X, y, { epochs = quick and 3 or 20, batch_size = 32, verbose = 0 })
local losses = history.history.loss
print(("HuberLoss(2.0) with nadam: loss %.4f -> %.4f"):format(losses[1], losses[#losses]))
assert(losses[#losses] < 0.7 * losses[1], "training should lower the loss")

local base = os.tmpname()
os.remove(base)
local path = base .. ".safetensors"
model:save(path)
local loaded = keras.models.load_model(path, { custom_objects = { HuberLoss = HuberLoss } })
os.remove(path)
-- The compiled loss object comes back as a HuberLoss with its threshold.
local restored = loaded.loss
if restored == nil and loaded.compile_config then restored = loaded.compile_config.loss end
assert(type(restored) == "table" and restored.threshold == 2.0,
  "the loaded model's loss should be a HuberLoss with threshold 2.0, got " .. tostring(restored))
assert(getmetatable(restored) == getmetatable(HuberLoss(1.0)) or restored.call == HuberLoss.call,
  "the loaded loss should be a HuberLoss")
print(("loaded: loss %s, threshold %s"):format(restored.name, tostring(restored.threshold)))
local function num(x) return type(x) == "number" and x or x:item() end
local l0 = num(model:evaluate(X, y, { verbose = 0, return_dict = true }).loss)
local l1 = num(loaded:evaluate(X, y, { verbose = 0, return_dict = true }).loss)
close(l1, l0, 1e-6, "loaded model's loss")
assert(tf.reduce_max(tf.abs(loaded:predict(X["0:100"]) - model:predict(X["0:100"]))):item() == 0, "predictions differ")
-- The optimizer comes back too, with its step count: training can go on.
loaded:fit(X, y, { epochs = 1, batch_size = 32, verbose = 0 })
