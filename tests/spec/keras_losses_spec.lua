-- keras.losses: every loss class and function against Keras 3's own values
-- (tests/spec/fixtures/keras/losses_metrics.json, written by
-- tools/keras_fixtures/losses_metrics.py) in the three reductions, with
-- per-sample, scalar and column sample weights; configs, get/serialize,
-- error messages, gradients through the loss.
local tf = require("tlua")
local helpers = require("helpers")
local keras = tf.keras
local L = keras.losses

local function load_fixture()
  local path = (os.getenv("TLUA_SOURCE_DIR") or ".") .. "/tests/spec/fixtures/keras/losses_metrics.json"
  local f = assert(io.open(path, "r"))
  local text = f:read("a")
  f:close()
  return helpers.json_decode(text)
end
local FX = load_fixture()

local function input(name)
  local v = FX.inputs[name]
  if name == "labels" or name == "labels_col" or name == "seq_labels" then return tf.constant(v, "int32") end
  return tf.constant(v, "float32")
end

local function cfg_of(c)
  local o = {}
  for k, v in pairs(c) do o[k] = v end
  return o
end
local function make(cls, c)
  if next(c) == nil then return cls() end
  return cls(c)
end

describe("keras.losses classes against Keras", function()
  for i, row in ipairs(FX.losses) do
    local label = ("%d %s %s(%s, %s)"):format(i, row.class_name, require("helpers") and "", row.y_true, row.y_pred)
    it(label, function()
      local cls = L[row.class_name]
      local yt, yp, sw = input(row.y_true), input(row.y_pred), input("sw")
      for _, red in ipairs({ "sum_over_batch_size", "sum", "none" }) do
        local c = cfg_of(row.config)
        c.reduction = red
        local obj = cls(c)
        helpers.assert_close(obj(yt, yp), row[red], 1e-5, 1e-6)
        local want = row[red .. "_sw"]
        if want == "error" then
          helpers.assert_error("InvalidArgument", { row.class_name, "sample_weight" }, function() return obj(yt, yp, sw) end)
        else
          helpers.assert_close(obj(yt, yp, sw), want, 1e-5, 1e-6)
        end
      end
      if row.scalar_sw ~= "error" then
        helpers.assert_close(make(cls, cfg_of(row.config))(yt, yp, 0.5), row.scalar_sw, 1e-5, 1e-6)
      end
      if row.col_sw_none ~= "error" then
        local c = cfg_of(row.config)
        c.reduction = "none"
        helpers.assert_close(cls(c)(yt, yp, tf.reshape(sw, { -1, 1 })), row.col_sw_none, 1e-5, 1e-6)
      end
    end)
  end
end)

describe("keras.losses shape variants against Keras", function()
  for i, row in ipairs(FX.loss_variants) do
    it(("%d %s(%s, %s) weighted by %s"):format(i, row.class_name, row.y_true, row.y_pred, row.sw), function()
      local yt, yp, sw = input(row.y_true), input(row.y_pred), input(row.sw)
      for _, red in ipairs({ "sum_over_batch_size", "sum", "none" }) do
        local obj = L[row.class_name]{ reduction = red }
        helpers.assert_close(obj(yt, yp), row[red], 1e-5, 1e-6)
        if row[red .. "_sw"] == "error" then
          helpers.assert_error("InvalidArgument", { row.class_name, "sample_weight", "not broadcast-compatible" },
            function() return obj(yt, yp, sw) end)
        else
          helpers.assert_close(obj(yt, yp, sw), row[red .. "_sw"], 1e-5, 1e-6)
        end
      end
    end)
  end
end)

describe("keras.losses functions against Keras", function()
  for _, row in ipairs(FX.loss_functions) do
    it(row.fn, function()
      local kw = next(row.kwargs) and cfg_of(row.kwargs) or nil
      helpers.assert_close(L[row.fn](input(row.y_true), input(row.y_pred), kw), row.value, 1e-5, 1e-6)
    end)
  end
  it("aliases and positional options", function()
    local yt, yp = input("reg_true"), input("reg_pred")
    assert.are.equal(L.mse, L.mean_squared_error)
    assert.are.equal(L.mae, L.mean_absolute_error)
    assert.are.equal(L.mape, L.mean_absolute_percentage_error)
    assert.are.equal(L.msle, L.mean_squared_logarithmic_error)
    assert.are.equal(L.kld, L.kl_divergence)
    helpers.assert_close(L.huber(yt, yp, 0.7), L.huber(yt, yp, { delta = 0.7 }):totable())
    local lg = input("logits")
    helpers.assert_close(L.sparse_categorical_crossentropy(input("labels"), lg, true),
      L.sparse_categorical_crossentropy(input("labels"), lg, { from_logits = true }):totable())
  end)
  it("Lua tables are accepted as inputs", function()
    helpers.assert_close(L.mse({ { 1, 2 } }, { { 0, 0 } }), { 2.5 })
    helpers.assert_close(L.MeanSquaredError()({ { 1, 2 } }, { { 0, 0 } }), 2.5)
  end)
end)

describe("keras.losses reductions", function()
  it("default is sum_over_batch_size; auto is its alias; invalid is an error", function()
    assert.are.equal("sum_over_batch_size", L.MeanSquaredError().reduction)
    assert.are.equal("sum_over_batch_size", L.MeanSquaredError{ reduction = "auto" }.reduction)
    helpers.assert_error("InvalidArgument", { "MeanSquaredError 'mean_squared_error'", "invalid reduction 'avg'" },
      function() return L.MeanSquaredError{ reduction = "avg" } end)
  end)
  it("mean_with_sample_weight divides by the sum of the weights", function()
    local l = L.MeanAbsoluteError{ reduction = "mean_with_sample_weight" }
    -- per-sample |e| = {1, 3}; weights {1, 3}: (1 + 9) / 4
    helpers.assert_close(l({ { 0 }, { 0 } }, { { 1 }, { 3 } }, { 1, 3 }), 2.5)
  end)
  it("sparse labels of shape [N,1], float labels and the fast path agree", function()
    local s = L.SparseCategoricalCrossentropy()
    local p = input("probs")
    local a = s(input("labels"), p):item()
    assert.is_near(a, s(input("labels_col"), p):item(), 1e-6)
    assert.is_near(a, s(tf.cast(input("labels"), "float32"), p):item(), 1e-6)
    assert.is_near(a, s(input("labels"), p, tf.ones({ 6 })):item(), 1e-6)
  end)
  it("the gradient flows through the loss", function()
    local w = tf.Variable(FX.inputs.logits)
    local tape = tf.GradientTape()
    local loss = L.SparseCategoricalCrossentropy{ from_logits = true }(input("labels"), w:value() * 1)
    local g = tape:gradient(loss, { w })[1]
    -- d/dlogits mean xent = (softmax - onehot) / N
    local want = ((tf.nn.softmax(input("logits")) - input("onehot")) / 6):totable()
    helpers.assert_close(g, want, 1e-5, 1e-6)
  end)
end)

describe("keras.losses gradient of the seed loop's loss", function()
  it("SparseCategoricalCrossentropy on probabilities: d/dp = (1/sum(p) - onehot/p) / N", function()
    -- Keras computes sparse_softmax_xent(log(clip(p))) = -log p_y + log sum p.
    local p0 = input("probs")
    local w = tf.Variable(p0)
    local tape = tf.GradientTape()
    local loss = L.SparseCategoricalCrossentropy()(input("labels"), w:value() * 1)
    local g = tape:gradient(loss, { w })[1]
    local want = ((1 / tf.reduce_sum(p0, -1, { keepdims = true }) - input("onehot") / p0) / 6):totable()
    helpers.assert_close(g, want, 1e-4, 1e-6)
  end)
end)

describe("keras.losses errors", function()
  it("mismatched shapes name the loss and both shapes", function()
    helpers.assert_error("InvalidArgument",
      { "MeanSquaredError 'mean_squared_error'", "y_true float32[4,3]", "y_pred float32[4,5]", "not broadcast-compatible" },
      function() return L.MeanSquaredError()(tf.zeros({ 4, 3 }), tf.zeros({ 4, 5 })) end)
    helpers.assert_error("InvalidArgument", { "mean_absolute_error:", "float32[2,3]", "float32[3,2]" },
      function() return L.mae(tf.zeros({ 2, 3 }), tf.zeros({ 3, 2 })) end)
    helpers.assert_error("InvalidArgument",
      { "BinaryCrossentropy 'binary_crossentropy'", "same shape", "float32[4,2]", "float32[4,3]" },
      function() return L.BinaryCrossentropy()(tf.zeros({ 4, 2 }), tf.zeros({ 4, 3 })) end)
    helpers.assert_error("InvalidArgument", { "CategoricalCrossentropy 'cce'", "float32[4]", "float32[4,3]" },
      function() return L.CategoricalCrossentropy{ name = "cce" }(tf.zeros({ 4 }), tf.zeros({ 4, 3 })) end)
  end)
  it("sparse labels whose shape does not match", function()
    helpers.assert_error("InvalidArgument",
      { "SparseCategoricalCrossentropy 'sparse_categorical_crossentropy'", "y_true int32[5]", "y_pred float32[6,4]" },
      function() return L.SparseCategoricalCrossentropy()(tf.constant({ 0, 1, 2, 3, 0 }), input("probs")) end)
    helpers.assert_error("InvalidArgument", { "sparse_categorical_crossentropy:", "int32[6,2]", "float32[6,4]" },
      function() return L.sparse_categorical_crossentropy(tf.zeros({ 6, 2 }, "int32"), input("probs")) end)
    helpers.assert_error("InvalidArgument", { "outside the valid range" },
      function() return L.SparseCategoricalCrossentropy()(tf.constant({ 0, 1, 2, 3, 0, 9 }), input("probs")) end)
  end)
  it("sample weights that do not broadcast", function()
    helpers.assert_error("InvalidArgument", { "MeanSquaredError", "losses float32[6]", "sample_weight float32[4]" },
      function() return L.MeanSquaredError()(input("reg_true"), input("reg_pred"), tf.ones({ 4 })) end)
  end)
  it("bad options", function()
    helpers.assert_error("InvalidArgument", { "Huber", "delta must be a positive number" },
      function() return L.Huber{ delta = -1 } end)
    helpers.assert_error("InvalidArgument", { "BinaryCrossentropy", "label_smoothing" },
      function() return L.BinaryCrossentropy{ label_smoothing = 2 } end)
    helpers.assert_error("InvalidArgument", { "MeanSquaredError", "deltaa" },
      function() return L.MeanSquaredError{ deltaa = 1 } end)
  end)
end)

describe("keras.losses config and lookup", function()
  it("default get_config matches Keras (plus hyperparameters)", function()
    for _, row in ipairs(FX.losses) do
      local cfg = L[row.class_name]():get_config()
      for k, v in pairs(row.default_config) do
        if v ~= helpers.null then assert.are.same(v, cfg[k], row.class_name .. "." .. k) end
      end
    end
  end)
  it("get_config / from_config round trip", function()
    for _, name in ipairs({ "Huber", "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
                            "CosineSimilarity", "MeanSquaredError" }) do
      local a = L[name]{ name = "x", reduction = "sum" }
      local b = L[name].from_config(a:get_config())
      assert.are.same(a:get_config(), b:get_config())
      local d = L.deserialize(L.serialize(a))
      assert.are.same(a:get_config(), d:get_config())
    end
    local h = L.Huber{ delta = 2.5 }
    assert.are.equal(2.5, L.Huber.from_config(h:get_config()).delta)
    local s = L.SparseCategoricalCrossentropy{ from_logits = true, ignore_class = 1 }
    local s2 = L.deserialize(L.serialize(s))
    assert.is_true(s2.from_logits)
    assert.are.equal(1, s2.ignore_class)
  end)
  it("get resolves names as Keras", function()
    assert.are.equal(L.mean_squared_error, L.get("mse"))
    assert.are.equal(L.mean_squared_error, L.get("mean_squared_error"))
    assert.are.equal(L.sparse_categorical_crossentropy, L.get("sparse_categorical_crossentropy"))
    assert.is_true(require("tlua.class").is_instance(L.get("MeanSquaredError"), L.MeanSquaredError))
    assert.is_true(require("tlua.class").is_instance(L.get("SparseCategoricalCrossentropy"), L.SparseCategoricalCrossentropy))
    local h = L.Huber()
    assert.are.equal(h, L.get(h))
    assert.is_nil(L.get(nil))
    assert.are.equal("mean_squared_error", L.serialize(L.mse))
    helpers.assert_error("InvalidArgument", { "Unknown loss: 'msee'" }, function() return L.get("msee") end)
  end)
  it("a user subclass of Loss", function()
    local HuberLoss = L.Loss:extend("HuberLoss")
    function HuberLoss:init(opts)
      opts = opts or {}
      self.threshold = opts.threshold or 1.0
      HuberLoss.super.init(self, opts)
    end
    function HuberLoss:call(yt, yp)
      local err = yt - yp
      local small = tf.less(tf.abs(err), self.threshold)
      return tf.where(small, tf.square(err) / 2, self.threshold * tf.abs(err) - self.threshold ^ 2 / 2)
    end
    local l = HuberLoss{ threshold = 1.0 }
    assert.are.equal("huber_loss", l.name)
    helpers.assert_close(l(input("reg_true"), input("reg_pred")),
      L.Huber{ reduction = "sum_over_batch_size" }(input("reg_true"), input("reg_pred")):item(), 1e-5)
  end)
  it("LossFunctionWrapper wraps a function", function()
    local w = L.LossFunctionWrapper(L.mae, { reduction = "sum" })
    assert.are.equal("mean_absolute_error", w.name)
    helpers.assert_close(w(input("reg_true"), input("reg_pred")),
      L.MeanAbsoluteError{ reduction = "sum" }(input("reg_true"), input("reg_pred")):item(), 1e-6)
    local w2 = L.LossFunctionWrapper.from_config(w:get_config())
    assert.are.equal(L.mae, w2.fn)
    -- the sparse crossentropy wrapper gives the class's values, options included
    local s = L.LossFunctionWrapper(L.sparse_categorical_crossentropy, { from_logits = true })
    local lg, lab = input("logits"), input("labels")
    assert.is_near(L.SparseCategoricalCrossentropy{ from_logits = true }(lab, lg):item(), s(lab, lg):item(), 1e-7)
    s.reduction = "sum"
    assert.is_near(L.SparseCategoricalCrossentropy{ from_logits = true, reduction = "sum" }(lab, lg):item(), s(lab, lg):item(), 1e-6)
  end)
  it("as_loss gives a Loss object for compile", function()
    local is = require("tlua.class").is_instance
    assert.is_true(is(L.as_loss("sparse_categorical_crossentropy"), L.SparseCategoricalCrossentropy))
    assert.is_true(is(L.as_loss(L.mse), L.MeanSquaredError))
    assert.is_true(is(L.as_loss("Huber"), L.Huber))
    local function my_loss(yt, yp) return tf.reduce_mean(tf.abs(yt - yp), -1) end
    local w = L.as_loss(my_loss)
    assert.is_true(is(w, L.LossFunctionWrapper))
    helpers.assert_close(w(input("reg_true"), input("reg_pred")),
      L.MeanAbsoluteError()(input("reg_true"), input("reg_pred")):item(), 1e-6)
    assert.is_nil(L.as_loss(nil))
    assert.are.equal("sum", L.Reduction.SUM)
  end)
  it("dtype: inputs are cast to the loss dtype", function()
    local a = L.MeanSquaredError()(tf.cast(input("reg_true"), "float64"), tf.cast(input("reg_pred"), "float64"))
    assert.are.equal("float32", a.dtype.name)
    local b = L.MeanSquaredError{ dtype = "float64" }(input("reg_true"), input("reg_pred"))
    assert.are.equal("float64", b.dtype.name)
    assert.is_near(a:item(), b:item(), 1e-6)
  end)
end)
