-- keras.layer (the Layer base class, InputSpec), keras.backend (names) and
-- keras.initializers: build-once calls, add_weight, tracked sublayers and
-- their weight order, trainable freezing, losses, metrics, get/set_weights,
-- configs, symbolic delegation, input checks; initializer statistics on
-- large samples (mean/std against the Keras formulas), fans (Keras 3
-- fixture), seeds, orthogonality.
local tf = require("tlua")
local helpers = require("helpers")
local keras = tf.keras
local layer_mod = require("keras.layer")
local Layer = layer_mod.Layer
local InputSpec = layer_mod.InputSpec
local I = keras.initializers

local src = os.getenv("TLUA_SOURCE_DIR") or "."
local function fixture(name)
  local f = assert(io.open(src .. "/tests/spec/fixtures/keras/" .. name, "r"))
  local text = f:read("a")
  f:close()
  return helpers.json_decode(text)
end
local F = fixture("core_layers.json")

local function close(a, b, rtol, atol) helpers.assert_close(a, b, rtol or 1e-5, atol or 1e-6) end

local function mean_std(t)
  local m = tf.reduce_mean(t):item()
  local s = tf.sqrt(tf.reduce_mean(tf.square(t - m))):item()
  return m, s
end

-- A small layer with a kernel and a non-trainable counter.
local Lin = Layer:extend("Lin")
function Lin:init(opts)
  Lin.super.init(self, opts)
  self.units = opts and opts.units or 2
  self.builds = 0
end
function Lin:build(shape)
  self.builds = self.builds + 1
  self.seen_shape = shape
  self.w = self:add_weight { name = "w", shape = { shape[-1], self.units } }
  self.count = self:add_weight("count", { shape = {}, initializer = "zeros", trainable = false })
end
function Lin:call(x, opts)
  self.last_opts = opts
  return tf.matmul(x, self.w)
end

before_each(function() keras.backend.clear_session() end)

describe("Layer names", function()
  it("come from the class name in snake case with per-prefix counters", function()
    assert.equal("my_dense", layer_mod.to_snake_case("MyDense"))
    assert.equal("global_average_pooling2d", layer_mod.to_snake_case("GlobalAveragePooling2D"))
    assert.equal("lstm", layer_mod.to_snake_case("LSTM"))
    assert.equal("re_lu", layer_mod.to_snake_case("ReLU"))
    assert.equal("conv2d_transpose", layer_mod.to_snake_case("Conv2DTranspose"))
    assert.equal("lin", Lin().name)
    assert.equal("lin_1", Lin().name)
    assert.equal("mine", Lin { name = "mine" }.name)
    assert.equal("lin_2", Lin().name)
    assert.equal("dense", keras.layers.Dense(2).name)
    assert.equal("dense_1", keras.layers.Dense(2).name)
    keras.backend.clear_session()
    assert.equal("dense", keras.layers.Dense(2).name)
    assert.equal("lin", Lin().name)
    assert.equal(1, keras.backend.get_uid("foo"))
    assert.equal(2, keras.backend.get_uid("foo"))
    helpers.assert_error("InvalidArgument", { "Lin", "name must be a string" }, function() Lin { name = 3 } end)
  end)
end)

describe("Layer calls", function()
  it("build once, with a TensorShape, then call with optional opts", function()
    local l = Lin { units = 3 }
    assert.is_false(l.built)
    local y = l(tf.ones({ 2, 4 }))
    assert.same({ 2, 3 }, y.shape:as_list())
    assert.is_true(l.built)
    assert.equal(1, l.builds)
    assert.equal("TensorShape", getmetatable(l.seen_shape).__name)
    assert.same({ 2, 4 }, l.seen_shape:as_list())
    assert.is_nil(l.last_opts)
    l(tf.ones({ 5, 4 }), { training = true })
    assert.equal(1, l.builds)
    assert.is_true(l.last_opts.training)
  end)

  it("convert Lua number tables in the layer's dtype and pass lists of tensors", function()
    local l = Lin { units = 1 }
    local y = l({ { 1, 2 } })
    assert.equal("float32", y.dtype.name)
    local l64 = Lin { units = 1, dtype = "float64" }
    assert.equal("float64", l64({ { 1, 2 } }).dtype.name)
    assert.equal("float64", l64.w.dtype.name)
    local Sum = Layer:extend("Sum")
    function Sum:build(shapes) self.shapes = shapes end
    function Sum:call(xs) return xs[1] + xs[2] end
    local s = Sum()
    close(s({ tf.ones({ 2 }), tf.constant({ 1.0, 2.0 }) }), { 2, 3 })
    assert.equal(2, #s.shapes)
    assert.same({ 2 }, s.shapes[2]:as_list())
    helpers.assert_error("InvalidArgument", { "Sum 'sum'", "expected a tensor", "boolean" }, function() s(true) end)
  end)

  it("delegate symbolic (KerasTensor) inputs to keras.models._call_symbolic", function()
    local saved = package.loaded["keras.models"]
    local calls = {}
    package.loaded["keras.models"] = { _call_symbolic = function(layer, inputs, opts)
      calls[#calls + 1] = { layer, inputs, opts }
      return "symbolic"
    end }
    local ok, err = pcall(function()
      local l = Lin()
      local kt = { _keras_tensor = true, shape = tf.TensorShape({ nil, 3 }, 2), dtype = tf.float32 }
      assert.equal("symbolic", l(kt, { training = false }))
      assert.equal("symbolic", l({ kt, kt }))
      assert.equal(2, #calls)
      assert.equal(l, calls[1][1])
      assert.equal(kt, calls[1][2])
      assert.is_false(calls[1][3].training)
      assert.is_false(l.built)
    end)
    package.loaded["keras.models"] = saved
    assert(ok, err)
  end)

  it("record dynamic and refuse an uninitialised subclass clearly", function()
    assert.is_true(Lin { dynamic = true }.dynamic)
    assert.is_false(Lin().dynamic)
    local Bad = Layer:extend("Bad")
    function Bad:init() end
    function Bad:build() self.k = self:add_weight { name = "k", shape = { 1 } } end
    helpers.assert_error("FailedPrecondition", { "Bad", "super.init" }, function() Bad()(tf.ones({ 1 })) end)
  end)
end)

describe("add_weight", function()
  it("names variables layer/name:0 with Keras's defaults", function()
    local l = Lin { name = "lin" }
    l(tf.ones({ 1, 3 }))
    assert.equal("lin/w:0", l.w.name)
    assert.equal("lin/count:0", l.count.name)
    assert.is_true(l.w.trainable)
    assert.is_false(l.count.trainable)
    -- glorot_uniform by default for float weights, zeros for others
    local lim = math.sqrt(6 / (3 + 2))
    assert.is_true(tf.reduce_max(tf.abs(l.w)):item() <= lim)
    local Int = Layer:extend("Int")
    function Int:build() self.n = self:add_weight { name = "n", shape = { 3 }, dtype = "int32" } end
    local il = Int()
    il(tf.ones({ 1 }))
    assert.same({ 0, 0, 0 }, il.n:totable())
    assert.is_false(il.n.trainable)
    assert.equal(0, #il.trainable_weights)
  end)

  it("checks its options and shape", function()
    local l = Lin()
    helpers.assert_error("InvalidArgument", { "Lin 'lin'", "add_weight", "unknown option 'shap'" },
      function() l:add_weight { name = "x", shap = { 2 } } end)
    helpers.assert_error("InvalidArgument", { "Lin 'lin'", "shape must be fully defined" },
      function() l:add_weight { name = "x", shape = { 2.5 } } end)
    helpers.assert_error("InvalidArgument", { "Unknown initializer: 'nope'" },
      function() l:add_weight { name = "x", shape = { 2 }, initializer = "nope" } end)
    local v = l:add_weight("c", { shape = { 2 }, initializer = I.Constant(3) })
    assert.same({ 3, 3 }, v:totable())
  end)
end)

describe("tracked sublayers and weight order", function()
  local Block = Layer:extend("Block")
  function Block:init(opts)
    Block.super.init(self, opts)
    self.first = Lin { units = 3 }
    self.hidden = { Lin { units = 3 }, Lin { units = 2 } }
    self.misc = { 1, 2, 3 }              -- not layers: ignored
    self.later = {}
  end
  function Block:build(shape)
    self.scale = self:add_weight { name = "scale", shape = { 1 }, initializer = "ones" }
  end
  function Block:call(x)
    x = self.first(x)
    for _, l in ipairs(self.hidden) do x = l(x) end
    for _, l in ipairs(self.later) do x = l(x) end
    return x * self.scale
  end

  it("follow attribute assignment order, lists included", function()
    local b = Block()
    b.later[1] = Lin { units = 2, name = "late" }
    local y = b(tf.ones({ 4, 5 }))
    assert.same({ 4, 2 }, y.shape:as_list())
    local names = {}
    for i, l in ipairs(b.layers) do names[i] = l.name end
    assert.same({ "lin", "lin_1", "lin_2", "late" }, names)
    local wn = {}
    for i, w in ipairs(b.weights) do wn[i] = w.name end
    assert.same({ "block/scale:0", "lin/w:0", "lin_1/w:0", "lin_2/w:0", "late/w:0",
                  "lin/count:0", "lin_1/count:0", "lin_2/count:0", "late/count:0" }, wn)
    assert.equal(5, #b.trainable_variables)
    assert.equal(4, #b.non_trainable_variables)
    assert.equal(#b.weights, #b.variables)
    assert.equal(1 + (15 + 1) + (9 + 1) + (6 + 1) + (4 + 1), b:count_params())
  end)

  it("keeps a reassigned attribute's place and deduplicates shared layers", function()
    local P = Layer:extend("P")
    function P:call(x) return x end
    local p = P()
    local shared = Lin { name = "shared" }
    p.a = Lin { name = "a" }
    p.b = shared
    p.c = { shared, Lin { name = "c" } }
    p.a = Lin { name = "a2" }
    local names = {}
    for i, l in ipairs(p.layers) do names[i] = l.name end
    assert.same({ "a2", "shared", "c" }, names)
    p.dict = { z = Lin { name = "z" }, y = Lin { name = "y" } }
    names = {}
    for i, l in ipairs(p.layers) do names[i] = l.name end
    assert.same({ "a2", "shared", "c", "y", "z" }, names)
    p.nested = { { Lin { name = "n1" } }, { inner = { Lin { name = "n2" } } } }
    names = {}
    for i, l in ipairs(p.layers) do names[i] = l.name end
    assert.same({ "a2", "shared", "c", "y", "z", "n1", "n2" }, names)
  end)

  it("freeze a layer and all its sublayers with trainable = false", function()
    local b = Block { trainable = false }
    b(tf.ones({ 1, 5 }))
    assert.is_false(b.trainable)
    -- as Keras: the flag given at construction is the layer's own; its
    -- sublayers' weights are non-trainable through it
    assert.is_true(b.first.trainable)
    assert.equal(0, #b.trainable_weights)
    assert.equal(7, #b.non_trainable_weights)
    assert.equal("block/scale:0", b.non_trainable_weights[1].name)
    b.trainable = true
    assert.is_true(b.hidden[2].trainable)
    assert.equal(4, #b.trainable_weights)
    b.hidden[1].trainable = false
    assert.equal(3, #b.trainable_weights)
    assert.equal(4, #b.non_trainable_weights)
    b.trainable = false
    assert.is_false(b.first.trainable) -- the setter reaches every sublayer
    assert.equal(0, #b.trainable_weights)
    assert.is_true(b.hidden[1].w.trainable) -- the variable keeps its own flag
    assert.is_false(b:get_config().trainable)
  end)
end)

describe("losses and metrics", function()
  local Act = Layer:extend("Act")
  function Act:call(x)
    self:add_loss(tf.reduce_sum(x))
    return x * 2
  end
  local Two = Layer:extend("Two")
  function Two:init(o) Two.super.init(self, o) self.inner = Act() end
  function Two:call(x)
    self:add_metric(tf.reduce_mean(x), { name = "mean_x" })
    return self.inner(self.inner(x))
  end

  it("collect add_loss tensors of the last outermost call, sublayers included", function()
    local t = Two()
    t(tf.ones({ 2 }))
    local l = t.losses
    assert.equal(2, #l)
    close({ l[1]:item(), l[2]:item() }, { 2, 4 })
    t(tf.ones({ 3 }))
    assert.equal(2, #t.losses)
    close(t.losses[1]:item(), 3)
    -- an inner layer called on its own clears its own losses only
    t.inner(tf.ones({ 1 }))
    assert.equal(1, #t.inner.losses)
    assert.equal(1, #t.losses)
  end)

  it("evaluate callable losses and regularizers at each access", function()
    local l = Lin()
    local v = tf.Variable(2.0)
    l:add_loss(function() return v * 3 end)
    close(l.losses[1]:item(), 6)
    v:assign(1.0)
    close(l.losses[1]:item(), 3)
    local R = Layer:extend("R")
    function R:build() self.k = self:add_weight { name = "k", shape = { 2 }, initializer = "ones", regularizer = "l2" } end
    local r = R()
    r(tf.ones({ 1 }))
    close(r.losses[1]:item(), 0.02)
    r.k:assign({ 2.0, 0.0 })
    close(r.losses[1]:item(), 0.04)
    helpers.assert_error("InvalidArgument", { "add_loss expects a scalar tensor" }, function() r:add_loss("x") end)
  end)

  it("record add_metric values and tracked metric objects", function()
    local t = Two()
    t(tf.constant({ 1.0, 3.0 }))
    close(t._metric_values.mean_x:item(), 2)
    helpers.assert_error("InvalidArgument", { "add_metric needs a name" }, function() t:add_metric(tf.constant(1.0)) end)
    local FakeMetric = require("tlua.class")("FakeMetric")
    function FakeMetric:update_state() end
    function FakeMetric:result() end
    function FakeMetric:reset_state() end
    local m = FakeMetric()
    t.acc = m
    local found = false
    for _, x in ipairs(t.metrics) do if x == m then found = true end end
    assert.is_true(found)
  end)
end)

describe("get_weights / set_weights / count_params", function()
  it("round-trip values and check counts and shapes", function()
    local l = Lin()
    helpers.assert_error("FailedPrecondition", { "Lin 'lin'", "count_params needs a built layer" }, function() l:count_params() end)
    l(tf.ones({ 1, 2 }))
    local w = l:get_weights()
    assert.equal(2, #w)
    assert.same({ 2, 2 }, w[1].shape:as_list())
    l:set_weights({ { { 1, 2 }, { 3, 4 } }, 5 })
    close(l.w, { { 1, 2 }, { 3, 4 } })
    close(l.count:item(), 5)
    l:set_weights({ tf.ones({ 2, 2 }, "float64"), tf.constant(1.0) })
    close(l.w, { { 1, 1 }, { 1, 1 } })
    helpers.assert_error("InvalidArgument", { "Lin 'lin'", "set_weights expected 2 weights", "lin/w:0:float32[2,2]", "got 1" },
      function() l:set_weights({ tf.ones({ 2, 2 }) }) end)
    helpers.assert_error("InvalidArgument", { "Lin 'lin'", "weight 1 ('lin/w:0') has shape (2, 2)", "(3, 2)" },
      function() l:set_weights({ tf.ones({ 3, 2 }), tf.constant(1.0) }) end)
    -- nothing was assigned by the failed call
    close(l.w, { { 1, 1 }, { 1, 1 } })
    assert.equal(5, l:count_params())
  end)
end)

describe("configs", function()
  it("hold the base keys and round-trip", function()
    local l = Lin { name = "n1", trainable = false, dtype = "float64", input_shape = { 3 } }
    local cfg = l:get_config()
    assert.equal("n1", cfg.name)
    assert.is_false(cfg.trainable)
    assert.equal("float64", cfg.dtype)
    assert.equal(2, cfg.batch_input_shape.n)
    assert.is_nil(cfg.batch_input_shape[1])
    assert.equal(3, cfg.batch_input_shape[2])
    assert.equal("(None, 3)", tostring(l._batch_input_shape))
    local l2 = Lin.from_config(cfg)
    assert.equal("n1", l2.name)
    assert.equal("float64", l2.dtype)
    assert.equal("(None, 7)", tostring(Lin { input_dim = 7 }._batch_input_shape))
    assert.equal("(32, 7)", tostring(Lin { batch_input_shape = { 32, 7 } }._batch_input_shape))
    assert.same({ name = "plain", trainable = true, dtype = "float32" }, Lin { name = "plain" }:get_config())
    helpers.assert_error("Unimplemented", { "Lin 'lin_1'", "compute_output_shape is not implemented" },
      function() Lin { name = "lin_1" }:compute_output_shape({ 1, 2 }) end)
    local built = Lin()
    built(tf.ones({ 2, 3 }))
    assert.same({ input_shape = { 2, 3 } }, built:get_build_config())
    local fresh = Lin()
    fresh:build_from_config({ input_shape = { 4, 3 } })
    assert.is_true(fresh.built)
    assert.same({ 3, 2 }, fresh.w.shape:as_list())
  end)
end)

describe("InputSpec", function()
  local Chk = Layer:extend("Chk")
  function Chk:call(x) return x end
  it("checks rank, axes, dtype and shape with messages naming the layer", function()
    local c = Chk { name = "c" }
    c.input_spec = InputSpec { min_ndim = 2, axes = { [-1] = 784 } }
    c(tf.ones({ 3, 784 }))
    helpers.assert_error("InvalidArgument", "Chk 'c': expected input with last dimension 784, got float32[32,100]",
      function() c(tf.ones({ 32, 100 })) end)
    helpers.assert_error("InvalidArgument", "Chk 'c': expected input of rank at least 2, got float32[784]",
      function() c(tf.ones({ 784 })) end)
    c.input_spec = InputSpec { ndim = 3, axes = { [1] = 2 } }
    helpers.assert_error("InvalidArgument", "expected input of rank 3, got float32[2,2]", function() c(tf.ones({ 2, 2 })) end)
    helpers.assert_error("InvalidArgument", "expected input with dimension 2 at axis 1, got float32[1,3,4]",
      function() c(tf.ones({ 1, 3, 4 })) end)
    c.input_spec = InputSpec { max_ndim = 1, dtype = "int32" }
    helpers.assert_error("InvalidArgument", "rank at most 1", function() c(tf.ones({ 1, 1 }, "int32")) end)
    helpers.assert_error("InvalidArgument", "expected input of dtype int32, got float32[3]", function() c(tf.ones({ 3 })) end)
    c.input_spec = InputSpec { shape = { nil, 4, n = 2 } }
    c(tf.ones({ 9, 4 }))
    helpers.assert_error("InvalidArgument", "expected input of shape [None,4], got float32[9,5]", function() c(tf.ones({ 9, 5 })) end)
    c.input_spec = { InputSpec { ndim = 1 }, InputSpec { ndim = 2 } }
    c({ tf.ones({ 2 }), tf.ones({ 2, 2 }) })
    helpers.assert_error("InvalidArgument", "expected input of rank 2 (input 1), got float32[2]",
      function() c({ tf.ones({ 2 }), tf.ones({ 2 }) }) end)
    helpers.assert_error("InvalidArgument", "expected 2 inputs, got 1", function() c(tf.ones({ 2 })) end)
    assert.equal("InputSpec(min_ndim=2, axes={[-1]=784})", tostring(InputSpec { min_ndim = 2, axes = { [-1] = 784 } }))
    helpers.assert_error("InvalidArgument", "InputSpec: unknown option 'rank'", function() InputSpec { rank = 2 } end)
  end)
end)

describe("keras.backend", function()
  it("keeps floatx and epsilon", function()
    assert.equal("float32", keras.backend.floatx())
    assert.equal(1e-7, keras.backend.epsilon())
    assert.equal("channels_last", keras.backend.image_data_format())
    helpers.assert_error("InvalidArgument", "unknown float type 'float8'", function() keras.backend.set_floatx("float8") end)
  end)
end)

describe("keras.initializers", function()
  local N = 200000

  it("Zeros, Ones, Constant, Identity", function()
    assert.same({ 0, 0 }, I.Zeros()({ 2 }):totable())
    assert.same({ { 1, 1 } }, I.get("ones")({ 1, 2 }):totable())
    assert.same({ 2.5, 2.5 }, I.Constant(2.5)({ 2 }):totable())
    assert.same({ { 1, 2 }, { 1, 2 } }, I.Constant({ 1, 2 })({ 2, 2 }):totable())
    assert.equal("float64", I.Ones()({ 2 }, "float64").dtype.name)
    assert.equal("float64", I.Ones()({ 2 }, { dtype = "float64" }).dtype.name)
    close(I.Identity { gain = 2 }({ 2, 3 }), { { 2, 0, 0 }, { 0, 2, 0 } })
    helpers.assert_error("InvalidArgument", { "Identity", "exactly 2 dimensions" }, function() I.Identity()({ 2, 2, 2 }) end)
  end)

  it("RandomNormal, RandomUniform, TruncatedNormal have Keras's defaults and statistics", function()
    local m, s = mean_std(I.RandomNormal()({ N }))
    assert.is_true(math.abs(m) < 0.001 and math.abs(s - 0.05) < 0.001, ("RandomNormal %g %g"):format(m, s))
    m, s = mean_std(I.RandomNormal { mean = 1, stddev = 2 }({ N }))
    assert.is_true(math.abs(m - 1) < 0.03 and math.abs(s - 2) < 0.03)
    local u = I.RandomUniform()({ N })
    assert.is_true(tf.reduce_max(u):item() <= 0.05 and tf.reduce_min(u):item() >= -0.05)
    m, s = mean_std(u)
    assert.is_true(math.abs(m) < 0.001 and math.abs(s - 0.1 / math.sqrt(12)) < 0.001)
    local t = I.TruncatedNormal { stddev = 1.0 }({ N })
    assert.is_true(tf.reduce_max(tf.abs(t)):item() <= 2.0)
    m, s = mean_std(t)
    -- a normal cut at two standard deviations keeps 0.8796 of its stddev
    assert.is_true(math.abs(m) < 0.01 and math.abs(s - 0.87962566103423978) < 0.01, ("trunc std %g"):format(s))
    assert.same({ mean = 0.0, stddev = 0.05 }, I.RandomNormal():get_config())
    assert.same({ minval = -0.05, maxval = 0.05, seed = 3 }, I.RandomUniform { seed = 3 }:get_config())
    helpers.assert_error("InvalidArgument", { "RandomNormal", "floating dtype", "int32" }, function() I.RandomNormal()({ 2 }, "int32") end)
  end)

  it("compute fans as Keras (conv kernels: receptive field times channels)", function()
    for key, want in pairs(F.fans) do
      local shape = {}
      if key ~= "scalar" then for d in key:gmatch("%d+") do shape[#shape + 1] = tonumber(d) end end
      local fi, fo = I.compute_fans(shape)
      assert.same(want, { fi, fo }, key)
    end
  end)

  local cases = {
    -- class, scale, mode, distribution
    { "GlorotUniform", 1, "fan_avg", "uniform" }, { "GlorotNormal", 1, "fan_avg", "truncated_normal" },
    { "HeUniform", 2, "fan_in", "uniform" }, { "HeNormal", 2, "fan_in", "truncated_normal" },
    { "LecunUniform", 1, "fan_in", "uniform" }, { "LecunNormal", 1, "fan_in", "truncated_normal" },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. " follows VarianceScaling(" .. c[2] .. ", " .. c[3] .. ", " .. c[4] .. ")", function()
      local shape = { 3, 3, 40, 60 }   -- fan_in 360, fan_out 540
      local fan = ({ fan_in = 360, fan_out = 540, fan_avg = 450 })[c[3]]
      local var = c[2] / fan
      local init = I[c[1]]()
      local x = init(shape)
      local m, s = mean_std(x)
      assert.is_true(math.abs(m) < 0.003 * math.sqrt(var) * 10)
      -- both distributions end with variance scale / fan
      assert.is_true(math.abs(s - math.sqrt(var)) < 0.02 * math.sqrt(var), ("%s std %g want %g"):format(c[1], s, math.sqrt(var)))
      if c[4] == "uniform" then
        assert.is_true(tf.reduce_max(tf.abs(x)):item() <= math.sqrt(3 * var) + 1e-7)
      else
        close(init:parameter(shape), math.sqrt(var) / 0.87962566103423978, 1e-12)
        assert.is_true(tf.reduce_max(tf.abs(x)):item() <= 2 * math.sqrt(var) / 0.87962566103423978 + 1e-6)
      end
      assert.same({ class_name = c[1], config = {} }, I.serialize(init))
      assert.same({ class_name = c[1], config = { seed = 5 } }, I.serialize(I[c[1]](5)))
      assert.equal(I[c[1]], getmetatable(I.get(layer_mod.to_snake_case(c[1]))))
    end)
  end

  it("VarianceScaling checks its options and accepts untruncated_normal", function()
    local vs = I.VarianceScaling { scale = 2, mode = "fan_out", distribution = "untruncated_normal" }
    local _, s = mean_std(vs({ 100, 1000 }))
    assert.is_true(math.abs(s - math.sqrt(2 / 1000)) < 0.01 * math.sqrt(2 / 1000))
    assert.same({ scale = 2, mode = "fan_out", distribution = "untruncated_normal" }, vs:get_config())
    helpers.assert_error("InvalidArgument", { "VarianceScaling", "mode must be" }, function() I.VarianceScaling { mode = "avg" } end)
    helpers.assert_error("InvalidArgument", { "VarianceScaling", "distribution must be" },
      function() I.VarianceScaling { distribution = "cauchy" } end)
    helpers.assert_error("InvalidArgument", { "VarianceScaling", "scale must be a positive number" },
      function() I.VarianceScaling { scale = 0 } end)
  end)

  it("are deterministic with a seed and differ without", function()
    local a = I.GlorotUniform { seed = 42 }({ 4, 4 })
    local b = I.GlorotUniform { seed = 42 }({ 4, 4 })
    local a2 = I.GlorotUniform { seed = 42 }({ 4, 4 })
    assert.same(a:totable(), b:totable())
    assert.same(a:totable(), a2:totable())
    assert.are_not.same(a:totable(), I.GlorotUniform { seed = 43 }({ 4, 4 }):totable())
    local g = I.GlorotUniform()
    assert.are_not.same(g({ 4, 4 }):totable(), g({ 4, 4 }):totable())
    assert.same(I.RandomNormal { seed = 1 }({ 3 }):totable(), I.RandomNormal { seed = 1 }({ 3 }):totable())
    helpers.assert_error("InvalidArgument", { "GlorotUniform", "seed must be an integer" }, function() I.GlorotUniform { seed = 1.5 } end)
  end)

  it("Orthogonal gives orthonormal rows or columns, with gain", function()
    for _, shape in ipairs({ { 6, 6 }, { 10, 4 }, { 4, 10 }, { 3, 3, 2, 8 } }) do
      local q = I.Orthogonal { gain = 2 }(shape)
      assert.same(shape, q.shape:as_list())
      local cols = shape[#shape]
      local rows = 1
      for i = 1, #shape - 1 do rows = rows * shape[i] end
      local m = tf.reshape(q, { rows, cols }) / 2
      local g = rows >= cols and tf.matmul(m, m, { transpose_a = true }) or tf.matmul(m, m, { transpose_b = true })
      local n = math.min(rows, cols)
      close(g, tf.eye(n):totable(), 1e-5, 1e-5)
    end
    helpers.assert_error("InvalidArgument", { "Orthogonal", "at least 2 dimensions" }, function() I.Orthogonal()({ 3 }) end)
  end)

  it("get, serialize and deserialize", function()
    assert.is_nil(I.get(nil))
    local f = function(shape) return tf.zeros(shape) end
    assert.equal(f, I.get(f))
    local c = I.get({ class_name = "RandomUniform", config = { minval = -1, maxval = 1, seed = 2 } })
    assert.same({ minval = -1, maxval = 1, seed = 2 }, c:get_config())
    assert.same({ class_name = "Constant", config = { value = 3 } }, I.serialize(I.Constant(3)))
    assert.equal(I.RandomUniform, getmetatable(I.get("uniform")))
    assert.equal(I.RandomNormal, getmetatable(I.get("normal")))
    helpers.assert_error("InvalidArgument", "Unknown initializer: 'foo'", function() I.get("foo") end)
  end)
end)

describe("build", function()
  it("called directly marks the layer built, takes plain lists and is not repeated by __call", function()
    local l = Lin { units = 3 }
    l:build({ nil, 4, n = 2 })
    assert.is_true(l.built)
    assert.equal("(None, 4)", tostring(l.seen_shape))
    l(tf.ones({ 2, 4 }))
    assert.equal(1, l.builds)
    assert.equal(2, #l.weights)
    local Sub = Lin:extend("SubLin")
    function Sub:build(shape)
      Sub.super.build(self, shape)
      self.extra = self:add_weight { name = "extra", shape = { 1 } }
    end
    local s = Sub()
    s(tf.ones({ 1, 2 }))
    assert.equal(1, s.builds)
    assert.equal(3, #s.weights)
    assert.equal("sub_lin/extra:0", s.extra.name)
    local Multi = Layer:extend("Multi")
    function Multi:build(shapes) self.got = shapes end
    local m = Multi()
    m:build({ { nil, 2, n = 2 }, { 3, 4 } })
    assert.equal("(None, 2)", tostring(m.got[1]))
    assert.equal("(3, 4)", tostring(m.got[2]))
  end)
end)

describe("Keras 3 configs", function()
  it("are accepted: a DTypePolicy dtype, initializer axes keys", function()
    local l = Lin { dtype = { class_name = "DTypePolicy", config = { name = "float64" } } }
    assert.equal("float64", l.dtype)
    local g = I.get({ class_name = "GlorotUniform", config = { seed = 3, input_axes = nil } })
    assert.same({ seed = 3 }, g:get_config())
    assert.equal(3, I.GlorotUniform { seed = 3, input_axes = {} }.seed)
  end)
end)

describe("check_input_spec on symbolic inputs", function()
  it("reads a KerasTensor's shape and dtype (for keras.models)", function()
    local Chk = Layer:extend("Chk2")
    local c = Chk { name = "c2" }
    local kt = { _keras_tensor = true, shape = tf.TensorShape({ nil, 5 }, 2), dtype = tf.float32 }
    layer_mod.check_input_spec(c, InputSpec { ndim = 2, axes = { [-1] = 5 }, dtype = "float32" }, kt)
    helpers.assert_error("InvalidArgument", "Chk2 'c2': expected input with last dimension 4, got float32[None,5]",
      function() layer_mod.check_input_spec(c, InputSpec { axes = { [-1] = 4 } }, kt) end)
    local kt2 = { _keras_tensor = true, shape = tf.TensorShape({ nil, 5 }, 2), dtype = "int32" }
    helpers.assert_error("InvalidArgument", "expected input of dtype float32, got int32[None,5]",
      function() layer_mod.check_input_spec(c, InputSpec { dtype = "float32" }, kt2) end)
  end)
end)
