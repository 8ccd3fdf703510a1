-- examples/seed_03_huber_metric.lua — custom metrics from the seed chapter:
-- a function metric (create_huber(2.0) in compile's metrics, averaged by
-- Keras over the epoch) and the streaming HuberMetric subclass (add_weight
-- total/count, update_state, result, get_config), then the chapter's
-- precision argument: a metric averaged batch by batch is not the metric of
-- the whole epoch when the metric is a ratio.
-- Asserts: the function metric and HuberMetric agree over an epoch (both
-- weigh every sample once); HuberMetric's state after two updates is exactly
-- the hand-computed total/count; batch-averaged precision = 0.4 while the
-- streaming keras.metrics.Precision = 0.5 on the chapter's kind of example;
-- HuberMetric's config comes back through from_config.
-- TLUA_EXAMPLE_QUICK=1 trains for fewer epochs.
local quick = os.getenv("TLUA_EXAMPLE_QUICK") == "1"
tf.random.set_seed(3)

-- The chapter's factory (its `self.threshold` typo fixed: see seed_01).
local function create_huber(threshold)
  threshold = threshold or 1.0
  local function huber_fn(y_true, y_pred)
    local error = y_true - y_pred
    local is_small_error = tf.less(tf.abs(error), threshold)
    local squared_loss = tf.square(error) / 2
    local linear_loss = threshold * tf.abs(error) - threshold ^ 2 / 2
    return tf.where(is_small_error, squared_loss, linear_loss)
  end
  return huber_fn
end

local HuberMetric = keras.metrics.Metric:extend("HuberMetric")
function HuberMetric:init(opts)
  opts = opts or {}
  HuberMetric.super.init(self, { name = opts.name, dtype = opts.dtype }) -- handles base args (e.g. dtype)
  self.threshold = opts.threshold or 1.0
  self.huber_fn = create_huber(self.threshold)
  self.total = self:add_weight("total", { initializer = "zeros" })
  self.count = self:add_weight("count", { initializer = "zeros" })
end
function HuberMetric:update_state(y_true, y_pred, sample_weight) -- luacheck: ignore sample_weight
  local metric = self.huber_fn(y_true, y_pred)
  self.total:assign_add(tf.reduce_sum(metric))
  self.count:assign_add(tf.cast(tf.size(y_true), tf.float32))
end
function HuberMetric:result() return self.total / self.count end
function HuberMetric:get_config()
  local config = HuberMetric.super.get_config(self)
  config.threshold = self.threshold
  return config
end

local function close(a, b, tol, what)
  assert(math.abs(a - b) <= tol * math.max(1, math.abs(b)), ("%s: %.7g vs %.7g"):format(what, a, b))
end
local function num(x) return type(x) == "number" and x or x:item() end

-- The streaming state by hand: batch 1 errors 0.5, 3 -> 0.125 + 4 = 4.125;
-- batch 2 error 1 -> 0.5; total 4.625 over 3 values.
do
  local m = HuberMetric{ threshold = 2.0 }
  m(tf.constant({ { 1.0 }, { 3.0 } }), tf.constant({ { 0.5 }, { 0.0 } }))
  local r = m(tf.constant({ { 2.0 } }), tf.constant({ { 1.0 } }))
  close(num(r), 4.625 / 3, 1e-6, "HuberMetric after two batches")
  close(m.total:item(), 4.625, 1e-6, "total")
  m:reset_state()
  assert(m.count:item() == 0 and m.total:item() == 0, "reset_state zeroes the state")
  local cfg = m:get_config()
  assert(cfg.threshold == 2.0, "get_config carries threshold")
  local again = HuberMetric.from_config and HuberMetric.from_config(cfg) or HuberMetric(cfg)
  assert(again.threshold == 2.0 and again.name == m.name, "from_config restores threshold and name")
end

-- In compile: the function metric next to the streaming one.
local n = 1000 -- not a multiple of 32: the last batch is smaller
local X = tf.random.normal({ n, 8 })
local y = tf.matmul(X, tf.random.normal({ 8, 1 })) + tf.random.normal({ n, 1 }, 0, 0.5)
local model = keras.Sequential{
  keras.layers.Dense(30, { activation = "relu", input_shape = { 8 } }),
  keras.layers.Dense(1),
}
model:compile{ loss = "mse", optimizer = "nadam", metrics = { create_huber(2.0), HuberMetric{ threshold = 2.0, name = "huber_metric" } } }
local history = model:fit(X, y, { epochs = quick and 2 or 10, batch_size = 32, verbose = 0 })
local h = history.history
local keys = {}
for k in pairs(h) do keys[#keys + 1] = k end
assert(h.huber_fn and h.huber_metric, "history should have huber_fn and huber_metric, has " .. table.concat(keys, ", "))
for e = 1, #h.loss do
  print(("epoch %d: loss %.4f  huber_fn %.4f  huber_metric %.4f"):format(e, h.loss[e], h.huber_fn[e], h.huber_metric[e]))
  -- Keras averages a function metric over samples (its per-sample values
  -- weigh one each), which is what HuberMetric's total/count does.
  close(h.huber_fn[e], h.huber_metric[e], 1e-4, "function metric vs streaming metric")
end

-- The chapter's precision point. Two batches of binary predictions:
--   batch 1: 5 predicted positive, 4 of them right  -> precision 0.8
--   batch 2: 3 predicted positive, none right       -> precision 0.0
-- The mean of the batch precisions is 0.4; the precision over both batches
-- (a streaming metric: true and false positives kept) is 4 / 8 = 0.5.
local function precision_fn(y_true, y_pred) -- one value per batch, like a function metric
  local pred = tf.cast(tf.greater(y_pred, 0.5), tf.float32)
  return tf.reduce_sum(pred * y_true) / tf.reduce_sum(pred)
end
local batches = {
  { tf.constant({ 1, 1, 1, 1, 0, 1, 0, 0 }, tf.float32), tf.constant({ 1, 1, 1, 1, 1, 0, 0, 0 }, tf.float32) },
  { tf.constant({ 0, 0, 0, 1, 1, 0, 0, 0 }, tf.float32), tf.constant({ 1, 1, 1, 0, 0, 0, 0, 0 }, tf.float32) },
}
local averaged = keras.metrics.MeanMetricWrapper(precision_fn, { name = "batch_precision" })
local streaming = keras.metrics.Precision()
for _, b in ipairs(batches) do
  averaged:update_state(b[1], b[2])
  streaming:update_state(b[1], b[2])
end
local pa, ps = num(averaged:result()), num(streaming:result())
print(("precision: averaged over batches %.4f, streaming %.4f"):format(pa, ps))
close(pa, 0.4, 1e-6, "batch-averaged precision")
close(ps, 0.5, 1e-6, "streaming precision")
