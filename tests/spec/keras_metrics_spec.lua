-- keras.metrics: every streaming metric against Keras 3's own results after
-- each of three batches, unweighted and with sample weights
-- (tests/spec/fixtures/keras/losses_metrics.json, written by
-- tools/keras_fixtures/losses_metrics.py); the metric functions; a
-- batch-averaged precision (MeanMetricWrapper) against the streaming
-- Precision, by hand; user metrics; configs, lookup, errors.
local tf = require("tlua")
local helpers = require("helpers")
local keras = tf.keras
local Mt = keras.metrics
local class = require("tlua.class")

local FX
do
  local path = (os.getenv("TLUA_SOURCE_DIR") or ".") .. "/tests/spec/fixtures/keras/losses_metrics.json"
  local f = assert(io.open(path, "r"))
  FX = helpers.json_decode(f:read("a"))
  f:close()
end

local function arg(batch, name, cname)
  local v = batch[name]
  if name == "labels" or name == "labels_col" then return tf.constant(v, "int32") end
  local t = tf.constant(v, "float32")
  if name == "reg_pred" and cname == "AUC" then t = tf.gather(t, { 0 }, { axis = 1 }) end
  return t
end

local function make(cls, cfg)
  if next(cfg) == nil then return cls() end
  local c = {}
  for k, v in pairs(cfg) do c[k] = v end
  return cls(c)
end

describe("keras.metrics classes against Keras", function()
  for i, row in ipairs(FX.metrics) do
    local cfgtext = {}
    for k, v in pairs(row.config) do cfgtext[#cfgtext + 1] = k .. "=" .. tostring(type(v) == "table" and "{...}" or v) end
    it(("%d %s{%s}(%s)"):format(i, row.class_name, table.concat(cfgtext, ","), table.concat(row.args, ", ")), function()
      local cls = Mt[row.class_name]
      for _, weighted in ipairs({ false, true }) do
        local m = make(cls, row.config)
        local want = weighted and row.weighted or row.plain
        for b, batch in ipairs(FX.batches) do
          local args = {}
          for j, n in ipairs(row.args) do args[j] = arg(batch, n, row.class_name) end
          if weighted then args[#args + 1] = tf.constant(batch.sw, "float32") end
          m:update_state(table.unpack(args, 1, #row.args + (weighted and 1 or 0)))
          helpers.assert_close(m:result(), want[b], 1e-5, 1e-6)
        end
        m:reset_state()
        helpers.assert_close(m:result(), row.after_reset, 0, 0)
      end
    end)
  end
end)

describe("keras.metrics functions against Keras", function()
  for _, row in ipairs(FX.metric_functions) do
    it(row.fn, function()
      local b = FX.batches[1]
      local kw = next(row.kwargs) and row.kwargs or nil
      helpers.assert_close(Mt[row.fn](arg(b, row.args[1]), arg(b, row.args[2]), kw), row.value, 1e-6, 1e-6)
    end)
  end
  it("sparse labels of shape [N,1] keep their shape", function()
    local r = Mt.sparse_categorical_accuracy(tf.constant({ { 1 }, { 0 } }), tf.constant({ { 0.2, 0.8 }, { 0.3, 0.7 } }))
    assert.are.same({ { 1 }, { 0 } }, r:totable())
  end)
  it("in_top_k counts ties in, as TensorFlow", function()
    local r = Mt.sparse_top_k_categorical_accuracy(tf.constant({ 2 }), tf.constant({ { 0.4, 0.3, 0.3 } }), { k = 2 })
    assert.are.same({ 1 }, r:totable())
    r = Mt.sparse_top_k_categorical_accuracy(tf.constant({ 2 }), tf.constant({ { 0.4, 0.35, 0.25 } }), 2)
    assert.are.same({ 0 }, r:totable())
  end)
end)

describe("batch-averaged precision is not the streaming precision", function()
  -- Precision computed on each batch and averaged over batches (what a
  -- plain function metric gives) against Precision's running counts.
  local b1_true, b1_pred = { 0, 1, 1, 1, 1, 0, 0, 0 }, { 1, 1, 0, 1, 0, 1, 0, 0 } -- TP 2, FP 2: 0.5
  local b2_true, b2_pred = { 0, 1, 1, 1, 0, 0, 0, 0 }, { 0, 1, 0, 0, 0, 0, 0, 0 } -- TP 1, FP 0: 1.0
  local function batch_precision(y_true, y_pred)
    local pred = tf.cast(tf.greater(y_pred, 0.5), "float32")
    return tf.math.divide_no_nan(tf.reduce_sum(y_true * pred), tf.reduce_sum(pred))
  end
  it("MeanMetricWrapper averages per-batch values, Precision streams the counts", function()
    local averaged = Mt.MeanMetricWrapper(batch_precision, { name = "batch_precision" })
    local streaming = Mt.Precision()
    local t1, p1 = tf.constant(b1_true, "float32"), tf.constant(b1_pred, "float32")
    local t2, p2 = tf.constant(b2_true, "float32"), tf.constant(b2_pred, "float32")
    helpers.assert_close(averaged(t1, p1), 0.5, 0, 0)
    helpers.assert_close(streaming(t1, p1), 0.5, 0, 0)
    -- after batch 2: mean of batch precisions (0.5 + 1.0) / 2 = 0.75;
    -- streaming (2 + 1) / (2 + 2 + 1 + 0) = 0.6
    helpers.assert_close(averaged(t2, p2), 0.75, 0, 0)
    helpers.assert_close(streaming(t2, p2), 0.6, 1e-7, 0)
    assert.are.same({ 3 }, streaming.true_positives:totable())
    assert.are.same({ 2 }, streaming.false_positives:totable())
    assert.are.equal(2, averaged.count:item())
  end)
end)

describe("keras.metrics.Metric base and user metrics", function()
  it("Mean streams a weighted mean; Sum a sum; reset_state and reset_states", function()
    local m = Mt.Mean{ name = "mean_loss" }
    m(tf.constant(2.0))
    helpers.assert_close(m(tf.constant(4.0)), 3.0)
    helpers.assert_close(m(tf.constant({ 1.0, 3.0 }), tf.constant({ 3.0, 1.0 })), (2 + 4 + 3 + 3) / 6)
    m:reset_states()
    helpers.assert_close(m:result(), 0.0)
    assert.are.equal("mean_loss/total", m.variables[1].name)
    assert.is_false(m.variables[1].trainable)
    assert.are.equal(2, #m.variables)
    local s = Mt.Sum()
    s({ 1, 2 }); s(tf.constant(3.0))
    helpers.assert_close(s:result(), 6)
    assert.are.equal("<keras.metrics.Sum name=sum>", tostring(s))
  end)
  it("the seed loop: updates while a tape records leave the gradient intact", function()
    local b = FX.batches[1]
    local w = tf.Variable(tf.zeros({ 4, 4 }))
    local x = arg(b, "probs")
    local mean_loss, acc = Mt.Mean{ name = "mean_loss" }, Mt.SparseCategoricalAccuracy{ name = "accuracy" }
    local tape = tf.GradientTape()
    local y_pred = tf.nn.softmax(tf.matmul(x, w:value()) + x)
    local loss = keras.losses.SparseCategoricalCrossentropy()(arg(b, "labels"), y_pred)
    mean_loss(loss)
    acc(arg(b, "labels"), y_pred)
    local g = tape:gradient(loss, { w })[1]
    assert.are.same({ 4, 4 }, g.shape:as_list())
    helpers.assert_close(mean_loss:result(), loss:item(), 1e-7)
    helpers.assert_close(acc:result(), tf.reduce_mean(Mt.sparse_categorical_accuracy(arg(b, "labels"), y_pred)):item(), 1e-7)
  end)
  it("dtype option: float64 state", function()
    local m = Mt.Mean{ dtype = "float64" }
    m(tf.constant({ 1.0, 2.0 }))
    assert.are.equal("float64", m.total.dtype.name)
    assert.are.equal("float64", m:result().dtype.name)
    helpers.assert_close(m:result(), 1.5)
  end)
  it("SparseCategoricalAccuracy's fast path equals the general path", function()
    local b = FX.batches[1]
    local a, w = Mt.SparseCategoricalAccuracy(), Mt.SparseCategoricalAccuracy()
    a(arg(b, "labels"), arg(b, "probs"))
    w(arg(b, "labels"), arg(b, "probs"), tf.ones({ 8 }))
    assert.are.equal(w:result():item(), a:result():item())
    a(tf.cast(arg(b, "labels"), "int64"), arg(b, "probs"))
    w(tf.cast(arg(b, "labels"), "float32"), arg(b, "probs"))
    assert.are.equal(w:result():item(), a:result():item())
    local mw = Mt.MeanMetricWrapper(Mt.sparse_categorical_accuracy, { name = "acc" })
    mw(arg(b, "labels"), arg(b, "probs"))
    mw(tf.cast(arg(b, "labels"), "int64"), arg(b, "probs"), tf.ones({ 8 }))
    assert.are.equal(w:result():item(), mw:result():item())
  end)
  it("a user subclass with add_weight in both forms", function()
    local HuberMetric = Mt.Metric:extend("HuberMetric")
    function HuberMetric:init(opts)
      HuberMetric.super.init(self, opts)
      self.total = self:add_weight("total", { initializer = "zeros" })
      self.count = self:add_weight{ name = "count", initializer = "zeros" }
      self.scale = self:add_weight("scale", { shape = { 2 }, initializer = "ones" })
    end
    function HuberMetric:update_state(yt, yp)
      local l = keras.losses.huber(yt, yp)
      self.total:assign_add(tf.reduce_sum(l))
      self.count:assign_add(tf.cast(tf.size(l), "float32"))
    end
    function HuberMetric:result() return self.total:value() / self.count:value() end
    local m = HuberMetric()
    assert.are.equal("huber_metric", m.name)
    assert.are.equal(3, #m.variables)
    m(tf.constant({ { 0.0 }, { 0.0 } }), tf.constant({ { 0.5 }, { 3.0 } }))
    helpers.assert_close(m:result(), (0.125 + 2.5) / 2)
    m:reset_state()
    helpers.assert_close(m.scale, { 1, 1 })
    helpers.assert_close(m.total, 0)
    assert.are.same({ name = "huber_metric", dtype = "float32" }, m:get_config())
    assert.are.equal("huber_metric_1", HuberMetric().name)
  end)
  it("MeanMetricWrapper passes options to its function and weights samples", function()
    local m = Mt.MeanMetricWrapper(Mt.binary_accuracy, { threshold = 0.7 })
    assert.are.equal("binary_accuracy", m.name)
    -- per-sample {1, 0, 1} weighted {1, 2, 1}: 2 / 4
    helpers.assert_close(m({ { 1 }, { 1 }, { 0 } }, { { 0.8 }, { 0.6 }, { 0.1 } }, { 1, 2, 1 }), 0.5)
    local m2 = Mt.MeanMetricWrapper.from_config(m:get_config())
    assert.are.equal(0.7, m2:get_config().threshold)
    assert.are.equal("binary_accuracy", m2:get_config().fn)
  end)
end)

describe("keras.metrics config and lookup", function()
  it("default get_config has Keras's keys and values", function()
    for _, row in ipairs(FX.metrics) do
      local cfg = Mt[row.class_name]():get_config()
      for k, v in pairs(row.default_config) do
        if v ~= helpers.null and not (k == "name" and v:match("_%d+$")) then
          assert.are.same(v, cfg[k], row.class_name .. "." .. k)
        end
      end
    end
  end)
  it("get_config / from_config / serialize round trips", function()
    for _, row in ipairs(FX.metrics) do
      local a = make(Mt[row.class_name], row.config)
      local b = Mt[row.class_name].from_config(a:get_config())
      assert.are.same(a:get_config(), b:get_config())
      local c = Mt.deserialize(Mt.serialize(a))
      assert.are.same(a:get_config(), c:get_config())
    end
    local p = Mt.Precision{ thresholds = { 0.3, 0.6 }, class_id = 1, name = "p" }
    local q = Mt.Precision.from_config(p:get_config())
    assert.are.same({ 0.3, 0.6 }, q.thresholds)
    assert.are.equal(1, q.class_id)
  end)
  it("get resolves names as Keras", function()
    for name, want in pairs(FX.lookups) do
      local got = Mt.get(name)
      assert.are.equal(want, getmetatable(got).class_name, name)
    end
    assert.are.equal(Mt.sparse_categorical_accuracy, Mt.deserialize("sparse_categorical_accuracy") and Mt.sparse_categorical_accuracy)
    assert.are.equal("sparse_categorical_accuracy", Mt.serialize(Mt.sparse_categorical_accuracy))
    assert.is_nil(Mt.get(nil))
    local m = Mt.Mean()
    assert.are.equal(m, Mt.get(m))
    helpers.assert_error("InvalidArgument", { "Unknown metric: 'acc'" }, function() return Mt.get("acc") end)
  end)
  it("get_for_loss picks the accuracy for the loss, then by shapes", function()
    local function kind(...) return getmetatable(Mt.get_for_loss(...)).class_name end
    assert.are.equal("SparseCategoricalAccuracy", kind("accuracy", "sparse_categorical_crossentropy"))
    assert.are.equal("SparseCategoricalAccuracy", kind("acc", keras.losses.SparseCategoricalCrossentropy()))
    assert.are.equal("BinaryAccuracy", kind("accuracy", keras.losses.binary_crossentropy))
    assert.are.equal("CategoricalAccuracy", kind("accuracy", "categorical_crossentropy"))
    assert.are.equal("BinaryAccuracy", kind("accuracy", "mse", { 32, 1 }, { 32, 1 }))
    assert.are.equal("SparseCategoricalAccuracy", kind("accuracy", nil, { 32 }, { 32, 10 }))
    assert.are.equal("SparseCategoricalAccuracy", kind("accuracy", nil, tf.TensorShape({ nil, 1 }, 2), tf.TensorShape({ nil, 10 }, 2)))
    assert.are.equal("CategoricalAccuracy", kind("accuracy", nil, { 32, 10 }, { 32, 10 }))
    assert.are.equal("acc", Mt.get_for_loss("acc", "sparse_categorical_crossentropy").name)
    assert.are.equal("MeanSquaredError", kind("mse", "sparse_categorical_crossentropy"))
  end)
end)

describe("keras.metrics errors", function()
  it("bad options", function()
    helpers.assert_error("InvalidArgument", { "Precision 'precision", "thresholds must be numbers in [0, 1], got 1.5" },
      function() return Mt.Precision{ thresholds = { 0.5, 1.5 } } end)
    helpers.assert_error("InvalidArgument", { "AUC 'auc", "curve must be 'ROC' or 'PR', got XY" },
      function() return Mt.AUC{ curve = "XY" } end)
    helpers.assert_error("InvalidArgument", { "num_thresholds must be an integer > 1, got 1" },
      function() return Mt.AUC{ num_thresholds = 1 } end)
    helpers.assert_error("Unimplemented", { "multi_label" }, function() return Mt.AUC{ multi_label = true } end)
    helpers.assert_error("InvalidArgument", { "MeanMetricWrapper: fn must be a function, got string" },
      function() return Mt.MeanMetricWrapper("mse") end)
    helpers.assert_error("InvalidArgument", { "SparseCategoricalAccuracy", "thresh" },
      function() return Mt.SparseCategoricalAccuracy{ thresh = 1 } end)
    helpers.assert_error("InvalidArgument", { "Recall 'r'", "top_k must be a positive integer, got 0" },
      function() return Mt.Recall{ top_k = 0, name = "r" } end)
  end)
  it("mismatched shapes and weights", function()
    helpers.assert_error("InvalidArgument", { "mean_squared_error", "float32[4,3]", "float32[4,5]" },
      function() return Mt.MeanSquaredError()(tf.zeros({ 4, 3 }), tf.zeros({ 4, 5 })) end)
    helpers.assert_error("InvalidArgument", { "Mean 'm'", "values float32[4]", "sample_weight float32[3]" },
      function() return Mt.Mean{ name = "m" }(tf.zeros({ 4 }), tf.ones({ 3 })) end)
    helpers.assert_error("InvalidArgument", { "Precision 'p'", "float32[4,2]", "float32[4,3]" },
      function() return Mt.Precision{ name = "p" }(tf.zeros({ 4, 2 }), tf.zeros({ 4, 3 })) end)
    helpers.assert_error("InvalidArgument", { "class_id needs y_pred of shape [num_samples, num_classes], got float32[4]" },
      function() return Mt.Precision{ class_id = 1 }(tf.zeros({ 4 }), tf.zeros({ 4 })) end)
  end)
  it("an abstract Metric names what is missing", function()
    local Bare = Mt.Metric:extend("Bare")
    local b = Bare()
    helpers.assert_error("Unimplemented", { "Bare 'bare'", "update_state" }, function() return b:update_state(1) end)
    helpers.assert_error("InvalidArgument", { "add_weight needs a name" }, function() return b:add_weight({}) end)
  end)
end)
