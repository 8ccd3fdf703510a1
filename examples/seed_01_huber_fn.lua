-- examples/seed_01_huber_fn.lua — the seed chapter's custom loss as a plain
-- function: `huber_fn` compiled as a model's loss, the `create_huber(threshold)`
-- factory, and a saved model loaded back with custom_objects.
--
-- A function loss is saved by name only ("huber_fn"): loading needs
-- custom_objects = {huber_fn = ...}, and a factory's threshold is not in the
-- file (the chapter's point), so it is given again: create_huber(2.0).
-- Asserts: huber_fn against hand-computed values; training lowers the loss;
-- the loaded models predict exactly as the saved ones and evaluate to the same
-- loss; loading without custom_objects is an error naming huber_fn.
-- TLUA_EXAMPLE_QUICK=1 trains for fewer epochs.
local quick = os.getenv("TLUA_EXAMPLE_QUICK") == "1"
tf.random.set_seed(42)

local function huber_fn(y_true, y_pred)
  local error = y_true - y_pred
  local is_small_error = tf.less(tf.abs(error), 1)
  local squared_loss = tf.square(error) / 2
  local linear_loss = tf.abs(error) - 0.5
  return tf.where(is_small_error, squared_loss, linear_loss)
end

-- The factory. The chapter's Python writes `self.threshold**2` inside this
-- plain function, where there is no `self` (a NameError when it runs); the
-- threshold captured by the closure is what it means, so that is used here.
local function create_huber(threshold)
  threshold = threshold or 1.0
  local function huber_fn(y_true, y_pred) -- luacheck: ignore (same name on purpose: it is the saved name)
    local error = y_true - y_pred
    local is_small_error = tf.less(tf.abs(error), threshold)
    local squared_loss = tf.square(error) / 2
    local linear_loss = threshold * tf.abs(error) - threshold ^ 2 / 2
    return tf.where(is_small_error, squared_loss, linear_loss)
  end
  return huber_fn
end

local function close(a, b, tol, what)
  assert(math.abs(a - b) <= tol * math.max(1, math.abs(b)), ("%s: %.7g vs %.7g"):format(what, a, b))
end

-- Hand-computed values: errors 0.5, -1.5, 3 -> 0.125, 1.0, 2.5 (threshold 1)
-- and 0.125, 1.125, 4.0 (threshold 2: 2*3 - 2 = 4).
do
  local y_true, y_pred = tf.constant({ 1.0, 2.0, 3.0 }), tf.constant({ 0.5, 3.5, 0.0 })
  local h1, h2 = huber_fn(y_true, y_pred):totable(), create_huber(2.0)(y_true, y_pred):totable()
  for i, want in ipairs({ 0.125, 1.0, 2.5 }) do close(h1[i], want, 1e-6, "huber_fn") end
  for i, want in ipairs({ 0.125, 1.125, 4.0 }) do close(h2[i], want, 1e-6, "create_huber(2.0)") end
end

-- A California-housing-like regression: 8 standardized features, a target
-- that is linear plus a bump, with a few outliers (where Huber helps).
local n = 2048
local X = tf.random.normal({ n, 8 })
local w = tf.constant({ { 0.8 }, { -0.5 }, { 0.3 }, { 0.0 }, { 0.2 }, { -0.1 }, { 0.6 }, { -0.4 } })
local y = tf.matmul(X, w) + 0.5 * tf.tanh(X[{ ":", { 0, 1 } }] * X[{ ":", { 1, 2 } }]) + tf.random.normal({ n, 1 }, 0, 0.1)
y = y + tf.cast(tf.greater(tf.random.uniform({ n, 1 }), 0.98), tf.float32) * 5.0 -- outliers

local function build_model()
  return keras.Sequential{
    keras.layers.Dense(30, { activation = "relu", kernel_initializer = "he_normal", input_shape = { 8 } }),
    keras.layers.Dense(1),
  }
end

local function tmp_path(ext)
  local base = os.tmpname() -- creates the file: keep only the name
  os.remove(base)
  return base .. ext
end

local function num(x) return type(x) == "number" and x or x:item() end
local function eval_loss(model) return num(model:evaluate(X, y, { batch_size = 256, verbose = 0, return_dict = true }).loss) end
local epochs = quick and 3 or 20

-- 1. huber_fn as the loss --------------------------------------------------
local model = build_model()
model:compile{ loss = huber_fn, optimizer = "nadam" }
local before = eval_loss(model)
local history = model:fit(X, y, { epochs = epochs, batch_size = 32, verbose = 0 })
local after = eval_loss(model)
print(("huber_fn: loss %.4f before training, %.4f after %d epochs (history: %.4f -> %.4f)"):format(
  before, after, epochs, history.history.loss[1], history.history.loss[#history.history.loss]))
assert(after < 0.7 * before, "training with huber_fn should lower the loss")

-- The loss fit reports is huber_fn's mean over the data.
close(after, tf.reduce_mean(huber_fn(y, model:predict(X, { batch_size = 256 }))):item(), 1e-4, "evaluate vs huber_fn mean")

local path = tmp_path(".safetensors")
model:save(path)
local ok, err = pcall(keras.models.load_model, path)
assert(not ok and tostring(err):find("huber_fn", 1, true) and tostring(err):find("custom_objects", 1, true),
  "loading without custom_objects should name huber_fn and custom_objects: " .. tostring(err))
print("without custom_objects: " .. tostring(err))
local loaded = keras.models.load_model(path, { custom_objects = { huber_fn = huber_fn } })
local probe = X["0:100"]
assert(tf.reduce_max(tf.abs(loaded:predict(probe) - model:predict(probe))):item() == 0, "loaded predictions differ")
close(eval_loss(loaded), after, 1e-6, "loaded model's loss")
os.remove(path)

-- 2. create_huber(2.0): the threshold is given again when loading ----------
local model2 = build_model()
model2:compile{ loss = create_huber(2.0), optimizer = "nadam" }
model2:fit(X, y, { epochs = epochs, batch_size = 32, verbose = 0 })
local loss2 = eval_loss(model2)
path = tmp_path(".safetensors")
model2:save(path)
local loaded2 = keras.models.load_model(path, { custom_objects = { huber_fn = create_huber(2.0) } })
close(eval_loss(loaded2), loss2, 1e-6, "loaded create_huber(2.0) model's loss")
-- Given the wrong threshold the same weights evaluate differently: the
-- threshold really is not in the file.
local wrong = keras.models.load_model(path, { custom_objects = { huber_fn = create_huber(1.0) } })
local loss_wrong = eval_loss(wrong)
assert(math.abs(loss_wrong - loss2) > 1e-4, "threshold 1.0 and 2.0 should give different losses")
print(("create_huber(2.0): loss %.4f; loaded with create_huber(2.0) %.4f, with create_huber(1.0) %.4f"):format(
  loss2, eval_loss(loaded2), loss_wrong))
os.remove(path)
