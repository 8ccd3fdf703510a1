-- keras.optimizers: 10-step trajectories of every optimizer against an
-- independent implementation (PyTorch where it runs the same algorithm,
-- float64 NumPy transcriptions of the tf.keras 2 formulas otherwise), in
-- float32 and float64; clipping, weight decay, schedules, nil gradients,
-- configs, state save/restore, in-place updates, errors.
local tf = require("tlua")
local helpers = require("helpers")
local keras = tf.keras
local core = tf.core
local K = keras.optimizers

-- Two variables (a 2x3 matrix and a 3-vector) with a quadratic loss whose
-- gradient is computed by hand from the value read back each step, plus a
-- step-dependent shift: g = 2*(w - target) + 0.1*t*c.
local W0 = { { 0.5, -1.0, 2.0, 0.1, 0.3, -0.7 }, { 0.3, -0.2, 0.9 } }
local TG = { { 1.0, -2.0, 0.5, 3.0, -0.5, 0.25 }, { -1.0, 0.4, 0.6 } }
local CS = { { 1.0, -1.0, 0.5, -0.5, 2.0, -2.0 }, { 0.5, 1.5, -1.0 } }
local SHAPES = { { 2, 3 }, { 3 } }

local function flat(t, out)
  out = out or {}
  if type(t) ~= "table" then out[#out + 1] = t return out end
  for _, x in ipairs(t) do flat(x, out) end
  return out
end

local function nest(list, shape)
  if #shape == 1 then return list end
  local out = {}
  for r = 1, shape[1] do
    local row = {}
    for c = 1, shape[2] do row[c] = list[(r - 1) * shape[2] + c] end
    out[r] = row
  end
  return out
end

local function make_vars(dtype)
  local vars = {}
  for i = 1, 2 do vars[i] = tf.Variable(nest(W0[i], SHAPES[i]), { dtype = dtype, name = "w" .. i }) end
  return vars
end

local function grads_for(vars, t, dtype)
  local gs = {}
  for i, v in ipairs(vars) do
    local w = flat(v:totable())
    local g = {}
    for k = 1, #w do g[k] = 2 * (w[k] - TG[i][k]) + 0.1 * t * CS[i][k] end
    gs[i] = tf.constant(nest(g, SHAPES[i]), dtype)
  end
  return gs
end

local function trajectory(opt, dtype, steps, vars)
  vars = vars or make_vars(dtype)
  local out = {}
  for t = 1, steps or 10 do
    opt:apply_gradients(grads_for(vars, t, dtype), vars)
    out[t] = { flat(vars[1]:totable()), flat(vars[2]:totable()) }
  end
  return out, vars
end

-- The references, computed once.
local REF = helpers.python([[
import torch
torch.set_default_dtype(torch.float64)
W0 = [np.array([0.5, -1.0, 2.0, 0.1, 0.3, -0.7]), np.array([0.3, -0.2, 0.9])]
TG = [np.array([1.0, -2.0, 0.5, 3.0, -0.5, 0.25]), np.array([-1.0, 0.4, 0.6])]
CS = [np.array([1.0, -1.0, 0.5, -0.5, 2.0, -2.0]), np.array([0.5, 1.5, -1.0])]
def grad(i, w, t): return 2 * (w - TG[i]) + 0.1 * t * CS[i]

def run_torch(make, steps=10):
    ps = [torch.tensor(w.copy(), requires_grad=True) for w in W0]
    opt = make(ps)
    out = []
    for t in range(1, steps + 1):
        for i, p in enumerate(ps):
            p.grad = torch.tensor(grad(i, p.detach().numpy().copy(), t))
        opt.step()
        out.append([p.detach().numpy().copy().tolist() for p in ps])
    return out

# tf.keras 2 formulas, float64. opt(i, w, g, t, st) -> new w; st: per-variable dict.
def run_np(opt, steps=10, clip=None, lr=None):
    ws = [w.copy() for w in W0]
    sts = [{} for _ in ws]
    out = []
    for t in range(1, steps + 1):
        gs = [grad(i, ws[i], t) for i in range(len(ws))]
        if clip: gs = clip(gs)
        ws = [opt(i, ws[i], gs[i], t, sts[i]) for i in range(len(ws))]
        out.append([w.tolist() for w in ws])
    return out

def sgd(lr=0.01, wd=0.0, lr_fn=None):
    def f(i, w, g, t, st):
        a = lr_fn(t - 1) if lr_fn else lr
        w = w - w * wd * a
        return w - g * a
    return f
def adam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False, wd=0.0):
    def f(i, w, g, t, st):
        w = w - w * wd * lr
        m = st['m'] = st.get('m', 0) + (g - st.get('m', 0)) * (1 - b1)
        v = st['v'] = st.get('v', 0) + (g * g - st.get('v', 0)) * (1 - b2)
        if amsgrad:
            v = st['vh'] = np.maximum(st.get('vh', 0), v)
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return w - m * alpha / (np.sqrt(v) + eps)
    return f
def rmsprop(lr=0.001, rho=0.9, mom=0.0, eps=1e-7, centered=False):
    def f(i, w, g, t, st):
        v = st['v'] = rho * st.get('v', 0) + (1 - rho) * g * g
        if centered:
            a = st['a'] = rho * st.get('a', 0) + (1 - rho) * g
            denom = v - a * a + eps
        else:
            denom = v + eps
        inc = g * lr / np.sqrt(denom)
        if mom > 0:
            mo = st['mo'] = mom * st.get('mo', 0) + inc
            return w - mo
        return w - inc
    return f
def adagrad(lr=0.001, init=0.1, eps=1e-7):
    def f(i, w, g, t, st):
        acc = st['acc'] = st.get('acc', init) + g * g
        return w - lr * g / np.sqrt(acc + eps)
    return f
def adamax(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    def f(i, w, g, t, st):
        m = st['m'] = st.get('m', 0) + (g - st.get('m', 0)) * (1 - b1)
        u = st['u'] = np.maximum(b2 * st.get('u', 0), np.abs(g))
        return w - (lr * m) / ((1 - b1 ** t) * (u + eps))
    return f
def adadelta(lr=0.001, rho=0.95, eps=1e-7):
    def f(i, w, g, t, st):
        ag = st['ag'] = rho * st.get('ag', 0) + (1 - rho) * g * g
        adv = st.get('adv', 0)
        dv = -np.sqrt(adv + eps) * g / np.sqrt(ag + eps)
        st['adv'] = rho * adv + (1 - rho) * dv * dv
        return w + lr * dv
    return f
def ftrl(lr=0.001, lrp=-0.5, init=0.1, l1=0.0, l2=0.0, shrink=0.0, beta=0.0):
    def f(i, w, g, t, st):
        acc = st.get('acc', init + 0 * w); lin = st.get('lin', 0 * w)
        l2r = l2 + beta / (2 * lr)
        gu = g + 2 * shrink * w
        na = acc + g * g
        lin = lin + gu - (na ** (-lrp) - acc ** (-lrp)) / lr * w
        quad = na ** (-lrp) / lr + 2 * l2r
        lc = np.clip(lin, -l1, l1)
        st['acc'], st['lin'] = na, lin
        return (lc - lin) / quad
    return f
# Nadam (tf.keras 2 legacy / Keras 3 with schedule_decay=1): the product of
# mu is optimizer state, advanced once per step. (PyTorch 1.13's NAdam counts
# mu twice in mu_product_next, fixed in 2.0, so it is not the reference.)
def nadam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7, sd=0.004):
    prod = {'p': 1.0, 't': 0}
    def f(i, w, g, t, st):
        mu = b1 * (1 - 0.5 * 0.96 ** (sd * t))
        mun = b1 * (1 - 0.5 * 0.96 ** (sd * (t + 1)))
        if prod['t'] != t:
            prod['p'] *= mu
            prod['t'] = t
        P = prod['p']
        m = st['m'] = b1 * st.get('m', 0) + (1 - b1) * g
        v = st['v'] = b2 * st.get('v', 0) + (1 - b2) * g * g
        mbar = (1 - mu) * g / (1 - P) + mun * m / (1 - P * mun)
        return w - lr * mbar / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return f
def lion(lr=1e-4, b1=0.9, b2=0.99):
    def f(i, w, g, t, st):
        m = st.get('m', 0 * w)
        w = w - lr * np.sign(m * b1 + g * (1 - b1))
        st['m'] = m * b2 + g * (1 - b2)
        return w
    return f
def clipnorm(c):
    return lambda gs: [g * c / max(np.sqrt(np.sum(g * g)), c) for g in gs]
def global_clipnorm(c):
    def f(gs):
        n = np.sqrt(sum(np.sum(g * g) for g in gs))
        return [g * c * min(1 / n, 1 / c) for g in gs]
    return f
def clipvalue(c): return lambda gs: [np.clip(g, -c, c) for g in gs]

O = torch.optim
out = {
  # PyTorch: same algorithm (epsilon 0 where PyTorch places it differently).
  'sgd': run_torch(lambda p: O.SGD(p, lr=0.1)),
  'sgd_momentum': run_torch(lambda p: O.SGD(p, lr=0.05, momentum=0.9)),
  'sgd_nesterov': run_torch(lambda p: O.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
  'adam_eps0': run_torch(lambda p: O.Adam(p, lr=0.05, eps=0)),
  'adam_amsgrad_eps0': run_torch(lambda p: O.Adam(p, lr=0.05, eps=0, amsgrad=True)),
  'adamw_eps0': run_torch(lambda p: O.AdamW(p, lr=0.05, eps=0, weight_decay=0.1)),
  'rmsprop_eps0': run_torch(lambda p: O.RMSprop(p, lr=0.01, alpha=0.9, eps=0)),
  'rmsprop_centered_momentum_eps0': run_torch(lambda p: O.RMSprop(p, lr=0.01, alpha=0.9, eps=0, momentum=0.9, centered=True)),
  'adagrad_eps0': run_torch(lambda p: O.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=0)),
  'adadelta': run_torch(lambda p: O.Adadelta(p, lr=1.0, rho=0.95, eps=1e-7)),
  'adamax_eps0': run_torch(lambda p: O.Adamax(p, lr=0.05, eps=0)),
  # NumPy transcriptions of tf.keras 2 (epsilon large enough to tell its placement).
  'adam': run_np(adam(lr=0.05, eps=0.1)),
  'adam_amsgrad': run_np(adam(lr=0.05, eps=0.01, amsgrad=True)),
  'adamw': run_np(adam(lr=0.05, eps=0.1, wd=0.1)),
  'rmsprop': run_np(rmsprop(lr=0.01, eps=0.1)),
  'rmsprop_centered_momentum': run_np(rmsprop(lr=0.01, mom=0.9, eps=0.1, centered=True)),
  'rmsprop_momentum': run_np(rmsprop(lr=0.01, mom=0.5, eps=1e-7)),
  'rmsprop_centered': run_np(rmsprop(lr=0.01, eps=1e-3, centered=True)),
  'adagrad': run_np(adagrad(lr=0.1, init=0.1, eps=0.1)),
  'adamax': run_np(adamax(lr=0.05, eps=0.1)),
  'nadam': run_np(nadam(lr=0.05)),
  'nadam_eps': run_np(nadam(lr=0.05, eps=0.1)),
  'nadam_keras3': run_np(nadam(lr=0.05, sd=1.0)),
  'adadelta_np': run_np(adadelta(lr=1.0, eps=0.1)),
  'ftrl': run_np(ftrl(lr=0.1)),
  'ftrl_reg': run_np(ftrl(lr=0.1, lrp=-0.7, init=0.2, l1=0.01, l2=0.02, shrink=0.03, beta=0.1)),
  'lion': run_np(lion(lr=0.01)),
  'lion_wide': run_np(lion(lr=0.03, b1=0.5, b2=0.9)),
  'sgd_clipnorm': run_np(sgd(lr=0.1), clip=clipnorm(1.0)),
  'sgd_global_clipnorm': run_np(sgd(lr=0.1), clip=global_clipnorm(2.0)),
  'sgd_clipvalue': run_np(sgd(lr=0.1), clip=clipvalue(0.5)),
  'sgd_weight_decay': run_np(sgd(lr=0.1, wd=0.2)),
  'sgd_exponential_decay': run_np(sgd(lr_fn=lambda s: 0.1 * 0.5 ** (s / 3))),
  'sgd_function_lr': run_np(sgd(lr_fn=lambda s: 0.1 / (1 + s))),
}
]])

local S = K.schedules
local CASES = {
  sgd = function() return K.SGD(0.1) end,
  sgd_momentum = function() return K.SGD(0.05, { momentum = 0.9 }) end,
  sgd_nesterov = function() return K.SGD{ learning_rate = 0.05, momentum = 0.9, nesterov = true } end,
  adam_eps0 = function() return K.Adam{ learning_rate = 0.05, epsilon = 0 } end,
  adam_amsgrad_eps0 = function() return K.Adam{ learning_rate = 0.05, epsilon = 0, amsgrad = true } end,
  adamw_eps0 = function() return K.AdamW{ learning_rate = 0.05, epsilon = 0, weight_decay = 0.1 } end,
  rmsprop_eps0 = function() return K.RMSprop{ learning_rate = 0.01, epsilon = 0 } end,
  rmsprop_centered_momentum_eps0 = function()
    return K.RMSprop{ learning_rate = 0.01, epsilon = 0, momentum = 0.9, centered = true }
  end,
  adagrad_eps0 = function() return K.Adagrad{ learning_rate = 0.1, epsilon = 0 } end,
  adadelta = function() return K.Adadelta{ learning_rate = 1.0 } end,
  nadam = function() return K.Nadam{ learning_rate = 0.05 } end,
  nadam_eps = function() return K.Nadam{ learning_rate = 0.05, epsilon = 0.1 } end,
  nadam_keras3 = function() return K.Nadam{ learning_rate = 0.05, schedule_decay = 1 } end,
  adamax_eps0 = function() return K.Adamax{ learning_rate = 0.05, epsilon = 0 } end,
  adam = function() return K.Adam(0.05, { epsilon = 0.1 }) end,
  adam_amsgrad = function() return K.Adam{ learning_rate = 0.05, epsilon = 0.01, amsgrad = true } end,
  adamw = function() return K.AdamW{ learning_rate = 0.05, epsilon = 0.1, weight_decay = 0.1 } end,
  rmsprop = function() return K.RMSprop{ learning_rate = 0.01, epsilon = 0.1 } end,
  rmsprop_centered_momentum = function()
    return K.RMSprop{ learning_rate = 0.01, momentum = 0.9, epsilon = 0.1, centered = true }
  end,
  rmsprop_momentum = function() return K.RMSprop{ learning_rate = 0.01, momentum = 0.5 } end,
  rmsprop_centered = function() return K.RMSprop{ learning_rate = 0.01, epsilon = 1e-3, centered = true } end,
  adagrad = function() return K.Adagrad{ learning_rate = 0.1, epsilon = 0.1 } end,
  adamax = function() return K.Adamax{ learning_rate = 0.05, epsilon = 0.1 } end,
  adadelta_np = function() return K.Adadelta{ learning_rate = 1.0, epsilon = 0.1 } end,
  ftrl = function() return K.Ftrl{ learning_rate = 0.1 } end,
  ftrl_reg = function()
    return K.Ftrl{ learning_rate = 0.1, learning_rate_power = -0.7, initial_accumulator_value = 0.2,
                   l1_regularization_strength = 0.01, l2_regularization_strength = 0.02,
                   l2_shrinkage_regularization_strength = 0.03, beta = 0.1 }
  end,
  lion = function() return K.Lion{ learning_rate = 0.01 } end,
  lion_wide = function() return K.Lion{ learning_rate = 0.03, beta_1 = 0.5, beta_2 = 0.9 } end,
  sgd_clipnorm = function() return K.SGD{ learning_rate = 0.1, clipnorm = 1.0 } end,
  sgd_global_clipnorm = function() return K.SGD{ learning_rate = 0.1, global_clipnorm = 2.0 } end,
  sgd_clipvalue = function() return K.SGD{ learning_rate = 0.1, clipvalue = 0.5 } end,
  sgd_weight_decay = function() return K.SGD{ learning_rate = 0.1, weight_decay = 0.2 } end,
  sgd_exponential_decay = function() return K.SGD(S.ExponentialDecay(0.1, 3, 0.5)) end,
  sgd_function_lr = function() return K.SGD(function(step) return 0.1 / (1 + step) end) end,
}

describe("keras.optimizers trajectories", function()
  local names = {}
  for name in pairs(CASES) do names[#names + 1] = name end
  table.sort(names)
  it("has a reference for every case", function()
    for _, name in ipairs(names) do assert(REF[name], "no reference for " .. name) end
    assert.are.equal(#names, (function() local n = 0 for _ in pairs(REF) do n = n + 1 end return n end)())
  end)
  for _, name in ipairs(names) do
    for _, dt in ipairs({ "float32", "float64" }) do
      it(("%s (%s) follows the reference for 10 steps"):format(name, dt), function()
        local dtype = tf[dt]
        local got = trajectory(CASES[name](), dtype)
        local tol = dt == "float32" and 1e-5 or 1e-9
        for t = 1, 10 do
          local ok, why = helpers.close(got[t], REF[name][t], tol, tol)
          assert(ok, ("%s %s step %d: %s"):format(name, dt, t, tostring(why)))
        end
      end)
    end
  end
end)

describe("keras.optimizers API", function()
  it("has Keras's defaults", function()
    local function cfg(c) return c:get_config() end
    local a = cfg(K.Adam())
    assert.are.same({ 0.001, 0.9, 0.999, 1e-7, false }, { a.learning_rate, a.beta_1, a.beta_2, a.epsilon, a.amsgrad })
    local r = cfg(K.RMSprop())
    assert.are.same({ 0.001, 0.9, 0.0, 1e-7, false }, { r.learning_rate, r.rho, r.momentum, r.epsilon, r.centered })
    assert.are.equal(0.01, cfg(K.SGD()).learning_rate)
    assert.are.equal(0.001, cfg(K.Nadam()).learning_rate)
    local ag = cfg(K.Adagrad())
    assert.are.same({ 0.001, 0.1, 1e-7 }, { ag.learning_rate, ag.initial_accumulator_value, ag.epsilon })
    local ad = cfg(K.Adadelta())
    assert.are.same({ 0.001, 0.95, 1e-7 }, { ad.learning_rate, ad.rho, ad.epsilon })
    local l = cfg(K.Lion())
    assert.are.same({ 1e-4, 0.9, 0.99 }, { l.learning_rate, l.beta_1, l.beta_2 })
    assert.are.equal(0.004, cfg(K.AdamW()).weight_decay)
    local f = cfg(K.Ftrl())
    assert.are.same({ 0.001, -0.5, 0.1, 0.0, 0.0, 0.0, 0.0 }, { f.learning_rate, f.learning_rate_power,
      f.initial_accumulator_value, f.l1_regularization_strength, f.l2_regularization_strength,
      f.l2_shrinkage_regularization_strength, f.beta })
    assert.are.equal("Adam", K.Adam().name)
  end)

  it("round-trips get_config through from_config for every optimizer", function()
    for _, n in ipairs({ "SGD", "RMSprop", "Adam", "AdamW", "Nadam", "Adamax", "Adagrad", "Adadelta", "Ftrl", "Lion" }) do
      local opt = K[n]{ learning_rate = 0.0123, clipnorm = 2.5, name = "my" .. n }
      local cfg = opt:get_config()
      assert.are.equal(0.0123, cfg.learning_rate)
      assert.are.equal(2.5, cfg.clipnorm)
      assert.are.same(cfg, K[n].from_config(cfg):get_config())
      assert.are.same(cfg, K[n](cfg):get_config())
      local copy = K.deserialize(K.serialize(opt))
      assert.are.equal(K[n], getmetatable(copy))
      assert.are.same(cfg, copy:get_config())
    end
  end)

  it("serializes a schedule learning rate", function()
    local opt = K.Adam(S.ExponentialDecay(0.1, 10, 0.5, { staircase = true }))
    local cfg = opt:get_config()
    assert.are.equal("ExponentialDecay", cfg.learning_rate.class_name)
    local back = K.Adam.from_config(cfg)
    assert.is_true(S.is_schedule(back.learning_rate))
    assert.are.equal(0.05, back.learning_rate(10))
    assert.are.equal(0.1, back.learning_rate(9))
  end)

  it("accepts positional sugar", function()
    local opt = K.SGD(0.1, { momentum = 0.9 })
    assert.are.equal(0.1, opt.learning_rate)
    assert.are.equal(0.9, opt.momentum)
    local a = K.Adam(0.01, 0.8, 0.99)
    assert.are.same({ 0.01, 0.8, 0.99 }, { a.learning_rate, a.beta_1, a.beta_2 })
  end)

  it("resolves names, configs and instances with get", function()
    for name, cls in pairs({ adam = "Adam", sgd = "SGD", rmsprop = "RMSprop", nadam = "Nadam", adamw = "AdamW",
                             adamax = "Adamax", adagrad = "Adagrad", adadelta = "Adadelta", ftrl = "Ftrl", lion = "Lion" }) do
      local opt = K.get(name)
      assert.are.equal(K[cls], getmetatable(opt))
      assert.are.equal(K[cls], getmetatable(K.get(name:upper())))
    end
    local inst = K.Adam()
    assert.are.equal(inst, K.get(inst))
    local from_cfg = K.get({ class_name = "SGD", config = { learning_rate = 0.5 } })
    assert.are.equal(0.5, from_cfg.learning_rate)
    helpers.assert_error("InvalidArgument", { "Unknown optimizer: 'adamz'" }, K.get, "adamz")
  end)

  it("is reachable as tf.keras.optimizers", function()
    assert.are.equal(K, tf.keras.optimizers)
    assert.are.equal(K, require("keras").optimizers)
  end)

  it("counts iterations and accepts {grad, var} pairs", function()
    local opt = K.SGD(0.5)
    local v = tf.Variable({ 1.0, 2.0 })
    assert.are.equal(0, opt.iterations:item())
    opt:apply_gradients({ { tf.constant({ 1.0, 1.0 }), v } })
    opt:apply_gradients({ tf.constant({ 1.0, -1.0 }) }, { v })
    assert.are.equal(2, opt.iterations:item())
    helpers.assert_close(v, { 0.0, 2.0 })
  end)

  it("skips nil gradients with one warning per variable", function()
    local opt = K.SGD(1.0)
    local a, b = tf.Variable({ 1.0 }, { name = "a" }), tf.Variable({ 5.0 }, { name = "lonely" })
    local written = {}
    local saved = io.stderr
    io.stderr = { write = function(_, s) written[#written + 1] = s end }
    local ok, err = pcall(function()
      opt:apply_gradients({ tf.constant({ 1.0 }), nil }, { a, b })
      opt:apply_gradients({ tf.constant({ 1.0 }), nil }, { a, b })
    end)
    io.stderr = saved
    assert(ok, tostring(err))
    assert.are.equal(1, #written)
    assert.truthy(written[1]:find("Gradients do not exist for variables lonely", 1, true))
    helpers.assert_close(a, { -1.0 })
    helpers.assert_close(b, { 5.0 })
    assert.are.equal(2, opt.iterations:item())
    -- only the variables that got a gradient have slots
    local m = K.Adam()
    io.stderr = { write = function() end }
    m:apply_gradients({ tf.constant({ 1.0 }), nil }, { a, b })
    io.stderr = saved
    assert.are.equal(2, #m:variables())
  end)

  it("lists slot variables and finds them by name", function()
    local opt = K.Adam{ amsgrad = true }
    local v = tf.Variable({ 1.0, 2.0, 3.0 }, { name = "w" })
    opt:apply_gradients({ tf.constant({ 1.0, 1.0, 1.0 }) }, { v })
    local vars = opt:variables()
    assert.are.equal(3, #vars)
    for _, s in ipairs(vars) do assert.is_false(s.trainable) end
    assert.are.same({ "m", "v", "vhat" }, opt:get_slot_names())
    assert.are.equal(vars[1], opt:get_slot(v, "m"))
    helpers.assert_close(opt:get_slot(v, "m"), { 0.1, 0.1, 0.1 })
    assert.are.equal(0, #K.SGD():get_slot_names())
    assert.are.equal(1, #K.SGD{ momentum = 0.5 }:get_slot_names())
  end)

  it("builds slots ahead with build", function()
    local opt = K.Adagrad()
    local v = tf.Variable({ { 1.0, 2.0 } })
    opt:build({ v })
    helpers.assert_close(opt:variables()[1], { { 0.1, 0.1 } })
  end)

  it("excludes variables from weight decay", function()
    local opt = K.SGD{ learning_rate = 0.1, weight_decay = 0.5 }
    local a, b = tf.Variable({ 1.0 }, { name = "kernel" }), tf.Variable({ 1.0 }, { name = "bias" })
    opt:exclude_from_weight_decay{ var_names = { "bias" } }
    opt:apply_gradients({ tf.constant({ 0.0 }), tf.constant({ 0.0 }) }, { a, b })
    helpers.assert_close(a, { 0.95 })
    helpers.assert_close(b, { 1.0 })
  end)

  it("changes hyperparameters between steps", function()
    local opt = K.SGD(0.1)
    local v = tf.Variable({ 1.0 })
    opt:apply_gradients({ tf.constant({ 1.0 }) }, { v })
    opt.learning_rate = 0.5
    opt:apply_gradients({ tf.constant({ 1.0 }) }, { v })
    helpers.assert_close(v, { 0.4 })
    assert.are.equal(0.5, opt:current_learning_rate())
  end)

  it("minimizes a loss function through tf.GradientTape", function()
    local ok = tf.GradientTape and pcall(function()
      local x = tf.Variable({ 1.0 })
      local tape = tf.GradientTape()
      local y = tf.tensordot(x, x, 1)
      assert(tape:gradient(y, { x })[1])
    end)
    if not ok then
      pending("needs tf.GradientTape and the gradient of tensordot")
      return
    end
    local w = tf.Variable({ 1.0, -2.0 })
    local opt = K.SGD(0.25)
    local loss = opt:minimize(function() return tf.tensordot(w, w, 1) end, { w })
    helpers.assert_close(loss, 5.0)
    helpers.assert_close(w, { 0.5, -1.0 })
    assert.are.equal(1, opt.iterations:item())
    -- with a tape and a loss tensor
    local tape = tf.GradientTape()
    local l2 = tf.tensordot(w, w, 1) -- sum of squares
    opt:minimize(l2, { w }, tape)
    helpers.assert_close(w, { 0.25, -0.5 })
  end)
end)

describe("keras.optimizers state", function()
  for _, n in ipairs({ "Adam", "Nadam", "Ftrl", "RMSprop", "SGD", "Adadelta", "Lion" }) do
    it(n .. ": 5 steps, save, new optimizer, restore, 5 steps == 10 steps exactly", function()
      local opts = { learning_rate = 0.05 }
      if n == "RMSprop" then opts.centered = true opts.momentum = 0.5 end
      if n == "SGD" then opts.momentum = 0.9 end
      local full = trajectory(K[n](opts), tf.float32, 10)
      local first = K[n](opts)
      local vars = make_vars(tf.float32)
      for t = 1, 5 do first:apply_gradients(grads_for(vars, t, tf.float32), vars) end
      local state = first:get_state()
      local second = K[n](opts)
      second:set_state(state)
      assert.are.equal(5, second.iterations:item())
      -- the saved tensors are snapshots: more steps of `first` do not change them
      local before = state.slots[1][second:get_slot_names()[1]]:totable()
      first:apply_gradients(grads_for(vars, 6, tf.float32), vars)
      assert.are.same(before, state.slots[1][second:get_slot_names()[1]]:totable())
      local resumed = make_vars(tf.float32)
      for i = 1, 2 do resumed[i]:assign(tf.constant(nest(full[5][i], SHAPES[i]), tf.float32)) end
      for t = 6, 10 do
        second:apply_gradients(grads_for(resumed, t, tf.float32), resumed)
        assert.are.same(full[t][1], flat(resumed[1]:totable()))
        assert.are.same(full[t][2], flat(resumed[2]:totable()))
      end
    end)
  end

  it("restores into an already built optimizer", function()
    local a, b = K.Adam(0.1), K.Adam(0.1)
    local v = tf.Variable({ 1.0, 2.0 })
    a:apply_gradients({ tf.constant({ 1.0, 2.0 }) }, { v })
    b:build({ v })
    b:set_state(a:get_state())
    assert.are.same(a:get_slot(v, "m"):totable(), b:get_slot(v, "m"):totable())
    assert.are.same(a:get_slot(v, "v"):totable(), b:get_slot(v, "v"):totable())
    helpers.assert_error("InvalidArgument", { "set_state" }, b.set_state, b, { bogus = true })
  end)
end)

describe("keras.optimizers fused updates", function()
  it("leave tensors read from a variable unchanged", function()
    local v = tf.Variable({ 1.0, 2.0 })
    local before = v:value()
    K.SGD(1.0):apply_gradients({ tf.constant({ 1.0, 1.0 }) }, { v })
    helpers.assert_close(before, { 1.0, 2.0 })
    helpers.assert_close(v, { 0.0, 1.0 })
  end)

  it("update in place without allocating", function()
    local vars, grads = {}, {}
    for i = 1, 3 do
      vars[i] = tf.Variable(tf.fill({ 2, 2 }, 0.5))
      grads[i] = tf.constant({ { 0.1, 0.2 }, { 0.3, 0.4 } })
    end
    for _, name in ipairs({ "Nadam", "Adam", "SGD", "RMSprop", "Ftrl", "Lion" }) do
      local opts = { clipnorm = 1.0 }
      if name == "SGD" or name == "RMSprop" then opts.momentum = 0.9 end
      local opt = K[name](opts)
      opt:apply_gradients(grads, vars) -- builds the slots
      collectgarbage()
      local before = core.memory_stats().alloc_count
      for _ = 1, 5 do opt:apply_gradients(grads, vars) end
      assert.are.equal(before, core.memory_stats().alloc_count, name .. " allocated during steps")
    end
  end)

  it("are one op per variable: the raw apply_adam op gives the optimizer's values", function()
    local v = tf.Variable({ 1.0, -2.0, 3.0 })
    local opt = K.Adam{ learning_rate = 0.1, amsgrad = true }
    local g = tf.constant({ 0.5, -1.0, 2.0 })
    local w = tf.Variable({ 1.0, -2.0, 3.0 })
    local m, s, vh = tf.Variable(tf.zeros({ 3 })), tf.Variable(tf.zeros({ 3 })), tf.Variable(tf.zeros({ 3 }))
    local it = tf.Variable(0, { dtype = tf.int64 })
    local lr = tf.constant(0.1, tf.float64)
    tf.raw_ops.apply_adam(w, g, lr, it, nil, { m, s, vh }, { amsgrad = true })
    opt:apply_gradients({ g }, { v })
    assert.are.same(v:totable(), w:totable())
    assert.are.same(opt:get_slot(v, "m"):totable(), m:totable())
    assert.are.same(opt:get_slot(v, "v"):totable(), s:totable())
    assert.are.same(opt:get_slot(v, "vhat"):totable(), vh:totable())
    helpers.assert_error("InvalidArgument", { "apply_adam", "expected 2 slot variable(s) (m, v)" },
      tf.raw_ops.apply_adam, w, g, lr, it, nil, { m })
    helpers.assert_error("InvalidArgument", { "apply_adam", "input 'var' must be a tf.Variable" },
      tf.raw_ops.apply_adam, w:value(), g, lr, it, nil, { m, s })
    helpers.assert_error("InvalidArgument", { "apply_adam", "learning_rate must be a float scalar" },
      tf.raw_ops.apply_adam, w, g, tf.constant({ 0.1, 0.1 }), it, nil, { m, s })
  end)

  it("are fast for an MLP (784-256-128-10) with Nadam", function()
    local shapes = { { 784, 256 }, { 256 }, { 256, 128 }, { 128 }, { 128, 10 }, { 10 } }
    local vars, grads = {}, {}
    for i, s in ipairs(shapes) do
      vars[i] = tf.Variable(tf.zeros(s))
      grads[i] = tf.fill(s, 0.01)
    end
    local opt = K.Nadam{ learning_rate = 0.01 }
    opt:apply_gradients(grads, vars)
    local t0 = os.clock()
    local n = 20
    for _ = 1, n do opt:apply_gradients(grads, vars) end
    local per_step = (os.clock() - t0) / n
    -- ~235k parameters, one pass: well under a millisecond when optimised;
    -- generous for sanitizer builds and loaded machines.
    local limit = os.getenv("TLUA_SANITIZE") and 0.2 or 0.02
    assert(per_step < limit, ("Nadam step took %.2f ms"):format(per_step * 1000))
  end)
end)

describe("keras.optimizers errors", function()
  it("rejects unknown options and bad values", function()
    helpers.assert_error("InvalidArgument", { "Adam", "unknown option 'lr'" }, K.Adam, { lr = 0.1 })
    helpers.assert_error("InvalidArgument", { "clipnorm and global_clipnorm" }, K.SGD, { clipnorm = 1, global_clipnorm = 1 })
    helpers.assert_error("InvalidArgument", { "SGD", "momentum" }, K.SGD, { momentum = 1.5 })
    helpers.assert_error("InvalidArgument", { "too many positional arguments" }, K.Lion, 1, 2, 3, 4)
    helpers.assert_error("InvalidArgument", { "learning_rate must be" }, K.Adam, { learning_rate = "fast" })
    helpers.assert_error("InvalidArgument", { "clipvalue must be a non-negative number" }, K.Adam, { clipvalue = -1 })
  end)

  it("rejects gradients that do not fit their variable, changing nothing", function()
    local opt = K.Adam()
    local a = tf.Variable({ { 1.0, 2.0, 3.0 } }, { name = "w" })
    local b = tf.Variable({ 1.0, 2.0 }, { name = "b" })
    helpers.assert_error("InvalidArgument", { "apply_gradients", "'b'", "float32[3]", "float32[2]" },
      opt.apply_gradients, opt, { tf.constant({ { 1.0, 1.0, 1.0 } }), tf.constant({ 1.0, 2.0, 3.0 }) }, { a, b })
    helpers.assert_close(a, { { 1.0, 2.0, 3.0 } })
    assert.are.equal(0, opt.iterations:item())
    helpers.assert_error("InvalidArgument", { "float64[2]", "float32[2]" },
      opt.apply_gradients, opt, { tf.constant({ 1.0, 2.0 }, tf.float64) }, { b })
    helpers.assert_error("InvalidArgument", { "not a tf.Variable" }, opt.apply_gradients, opt, { tf.constant({ 1.0 }) }, { tf.constant({ 1.0 }) })
    local saved = io.stderr
    io.stderr = { write = function() end } -- the nil-gradient warning
    local ok, err = pcall(helpers.assert_error, "InvalidArgument", { "no gradients provided for any variable", "w, b" },
      opt.apply_gradients, opt, {}, { a, b })
    io.stderr = saved
    assert(ok, tostring(err))
    local iv = tf.Variable({ 1, 2 }, { name = "count" })
    helpers.assert_error("Unimplemented", { "'count'", "int32" }, opt.apply_gradients, opt, { tf.constant({ 1, 2 }) }, { iv })
  end)
end)

describe("keras.optimizers.schedules", function()
  it("ExponentialDecay", function()
    local s = S.ExponentialDecay(0.1, 10, 0.5)
    helpers.assert_close(s(0), 0.1, 1e-12)
    helpers.assert_close(s(5), 0.1 * 0.5 ^ 0.5, 1e-12)
    helpers.assert_close(S.ExponentialDecay(0.1, 10, 0.5, true)(15), 0.05, 1e-12)
    helpers.assert_close(s(tf.constant(10)), 0.05, 1e-12)
  end)
  it("PiecewiseConstantDecay", function()
    local s = S.PiecewiseConstantDecay({ 100, 200 }, { 1.0, 0.5, 0.1 })
    assert.are.same({ 1.0, 1.0, 0.5, 0.5, 0.1 }, { s(0), s(100), s(101), s(200), s(201) })
    helpers.assert_error("InvalidArgument", { "one more element" }, S.PiecewiseConstantDecay, { 1 }, { 1.0 })
  end)
  it("PolynomialDecay", function()
    local s = S.PolynomialDecay(0.1, 10, 0.01, { power = 2 })
    helpers.assert_close(s(5), (0.1 - 0.01) * 0.25 + 0.01, 1e-12)
    helpers.assert_close(s(20), 0.01, 1e-12)
    local c = S.PolynomialDecay{ initial_learning_rate = 0.1, decay_steps = 10, cycle = true }
    helpers.assert_close(c(15), (0.1 - 0.0001) * (1 - 15 / 20) + 0.0001, 1e-12)
    helpers.assert_close(c(0), 0.1, 1e-12)
  end)
  it("InverseTimeDecay", function()
    helpers.assert_close(S.InverseTimeDecay(0.1, 10, 0.5)(5), 0.1 / 1.25, 1e-12)
    helpers.assert_close(S.InverseTimeDecay(0.1, 10, 0.5, true)(15), 0.1 / 1.5, 1e-12)
  end)
  it("CosineDecay with and without warmup", function()
    local s = S.CosineDecay(0.1, 100, 0.1)
    helpers.assert_close(s(0), 0.1, 1e-12)
    helpers.assert_close(s(50), 0.1 * (0.9 * 0.5 + 0.1), 1e-12)
    helpers.assert_close(s(500), 0.01, 1e-12)
    local w = S.CosineDecay{ initial_learning_rate = 0.0, decay_steps = 100, warmup_target = 0.2, warmup_steps = 10 }
    helpers.assert_close(w(5), 0.1, 1e-12)
    helpers.assert_close(w(10), 0.2, 1e-12)
    helpers.assert_close(w(60), 0.1, 1e-12)
    helpers.assert_close(w(1000), 0.0, 1e-12, 1e-12)
  end)
  it("CosineDecayRestarts", function()
    local s = S.CosineDecayRestarts(1.0, 10)
    helpers.assert_close(s(0), 1.0, 1e-12)
    helpers.assert_close(s(5), 0.5, 1e-12)
    helpers.assert_close(s(10), 1.0, 1e-12) -- restart; next period is 20 steps
    helpers.assert_close(s(20), 0.5, 1e-12)
  end)
  it("round-trips configs", function()
    for _, s in ipairs({ S.ExponentialDecay(0.1, 10, 0.5), S.PiecewiseConstantDecay({ 1 }, { 1.0, 2.0 }),
                         S.PolynomialDecay(0.1, 10), S.InverseTimeDecay(0.1, 10, 0.5),
                         S.CosineDecay(0.1, 10, 0, { warmup_target = 0.2, warmup_steps = 3 }),
                         S.CosineDecayRestarts(0.1, 10) }) do
      local cls = getmetatable(s)
      local back = cls.from_config(s:get_config())
      assert.are.same(s:get_config(), back:get_config())
      for step = 0, 30, 3 do assert.are.equal(s(step), back(step)) end
      assert.are.same(s:get_config(), S.deserialize(S.serialize(s)):get_config())
    end
    helpers.assert_error("InvalidArgument", { "ExponentialDecay", "'decay_rate' is required" }, S.ExponentialDecay, 0.1, 10)
  end)
end)

describe("schedules evaluated by ops", function()
  -- Given a tensor or variable step a schedule computes with float64 ops
  -- (what a traced step records); the numbers equal the Lua formulas'.
  it("give the Lua-number results as float64 tensors", function()
    local all = { S.ExponentialDecay(0.1, 10, 0.5), S.ExponentialDecay(0.1, 10, 0.5, true),
                  S.PiecewiseConstantDecay({ 4, 9 }, { 1.0, 0.5, 0.1 }), S.PolynomialDecay(0.1, 10, 0.01, { power = 2 }),
                  S.PolynomialDecay{ initial_learning_rate = 0.1, decay_steps = 7, cycle = true },
                  S.InverseTimeDecay(0.1, 10, 0.5, true), S.CosineDecay(0.1, 20, 0.1),
                  S.CosineDecay{ initial_learning_rate = 0.0, decay_steps = 10, warmup_target = 0.2, warmup_steps = 5 },
                  S.CosineDecayRestarts(1.0, 4), S.CosineDecayRestarts(1.0, 4, { t_mul = 1.0, m_mul = 0.5 }) }
    for k, s in ipairs(all) do
      for step = 0, 25 do
        local want = s(step)
        local got = s(tf.constant(step, tf.int64))
        assert.is_true(tf.is_tensor(got))
        assert.are.equal(tf.float64, got.dtype)
        helpers.assert_close(got:item(), want, 1e-15, 1e-15)
        local v = tf.Variable(step, { dtype = tf.int64 })
        assert.are.equal(got:item(), s(v):item(), ("schedule %d at step %d"):format(k, step))
      end
    end
  end)
end)

describe("a training step is ops", function()
  local trace = tf.core.trace_ops
  local function count(names, op)
    local n = 0
    for _, x in ipairs(names) do if x == op then n = n + 1 end end
    return n
  end

  it("Nadam: one fused op per variable, the step state in variables", function()
    local w = tf.Variable({ { 1.0, 2.0 }, { 3.0, 4.0 } }, { name = "w" })
    local b = tf.Variable({ 0.5, -0.5 }, { name = "b" })
    local opt = K.Nadam({ learning_rate = 0.01 })
    assert.is_true(tf.is_variable(opt.iterations))
    assert.are.equal(tf.int64, opt.iterations.dtype)
    local function step()
      local tape = tf.GradientTape()
      local loss = tf.reduce_sum(tf.matmul(w, tf.reshape(b, { 2, 1 })))
      opt:apply_gradients(tape:gradient(loss, { w, b }), { w, b })
    end
    step() -- builds the slots
    local names = trace(step)
    assert.are.equal(2, count(names, "apply_nadam"))
    assert.are.equal(1, count(names, "nadam_advance"))
    assert.are.equal(1, count(names, "assign_add"))       -- iterations
    assert.are.equal(3, count(names, "read_variable"))    -- w, b, the learning rate
    assert.are.equal("assign_add", names[#names])
    assert.are.equal(2, opt.iterations:item())
    -- the learning rate is a variable: changing it is an assign op
    opt.learning_rate = 0.5
    names = trace(step)
    assert.are.equal(1, count(names, "assign"))
    assert.are.equal(0.5, opt:current_learning_rate())
  end)

  it("every optimizer updates through its apply op only", function()
    for _, n in ipairs({ "SGD", "RMSprop", "Adam", "AdamW", "Adamax", "Adagrad", "Adadelta", "Ftrl", "Lion" }) do
      local v = tf.Variable({ 1.0, -1.0 })
      local opt = K[n]()
      opt:apply_gradients({ tf.constant({ 0.5, 0.5 }) }, { v })
      local names = trace(function() opt:apply_gradients({ tf.constant({ 0.5, 0.5 }) }, { v }) end)
      assert.are.equal(1, count(names, "apply_" .. getmetatable(opt).rule), n)
      assert.are.equal(1, count(names, "assign_add"), n)
    end
  end)

  it("a schedule is evaluated by ops from iterations", function()
    local v = tf.Variable({ 1.0 })
    local opt = K.SGD(S.ExponentialDecay(1.0, 1, 0.5))
    local names = trace(function() opt:apply_gradients({ tf.constant({ 1.0 }) }, { v }) end)
    assert.are.equal(1, count(names, "pow"))
    assert.are.equal(1, count(names, "apply_sgd"))
    helpers.assert_close(v, { 0.0 })    -- lr 1 at step 0
    opt:apply_gradients({ tf.constant({ 1.0 }) }, { v })
    helpers.assert_close(v, { -0.5 })   -- lr 0.5 at step 1
    -- a Lua function of the step gets the step as a float64 tensor
    local f = K.SGD(function(step) return 0.1 / (step + 1) end)
    local u = tf.Variable({ 0.0 })
    for _ = 1, 2 do f:apply_gradients({ tf.constant({ 1.0 }) }, { u }) end
    helpers.assert_close(u, { -0.1 - 0.05 })
  end)

  it("global_clipnorm is an op over the step's gradients", function()
    local a, b = tf.Variable({ 0.0, 0.0 }), tf.Variable({ 0.0 })
    local opt = K.SGD({ learning_rate = 1.0, global_clipnorm = 1.0 })
    local names = trace(function() opt:apply_gradients({ tf.constant({ 3.0, 0.0 }), tf.constant({ 4.0 }) }, { a, b }) end)
    assert.are.equal(1, count(names, "clip_scale"))
    helpers.assert_close(a, { -0.6, 0.0 })
    helpers.assert_close(b, { -0.8 })
  end)
end)

describe("apply_gradients pairs gradients with variables", function()
  it("rejects more gradients than variables, and counted lists of another length", function()
    local a, b = tf.Variable({ 1.0 }, { name = "a" }), tf.Variable({ 2.0 }, { name = "b" })
    local opt = K.SGD(1.0)
    helpers.assert_error("InvalidArgument", { "SGD.apply_gradients: 3 gradients for 2 variables" },
      opt.apply_gradients, opt, { tf.constant({ 1.0 }), tf.constant({ 1.0 }), tf.constant({ 1.0 }) }, { a, b })
    helpers.assert_error("InvalidArgument", { "1 gradients for 2 variables" },
      opt.apply_gradients, opt, table.pack(tf.constant({ 1.0 })), { a, b })
    helpers.assert_error("InvalidArgument", { "3 gradients for 2 variables" }, -- a hole does not hide the extra one
      opt.apply_gradients, opt, { tf.constant({ 1.0 }), nil, tf.constant({ 1.0 }) }, { a, b })
    helpers.assert_close(a, { 1.0 })
    helpers.assert_close(b, { 2.0 })
    assert.are.equal(0, opt.iterations:item())
  end)

  it("skips None gradients as Keras does, counted lists included", function()
    local a, b = tf.Variable({ 1.0 }, { name = "a" }), tf.Variable({ 2.0 }, { name = "lonely_b" })
    local opt = K.SGD(1.0)
    local saved = io.stderr
    local written = {}
    io.stderr = { write = function(_, s) written[#written + 1] = s end }
    local ok, err = pcall(function()
      opt:apply_gradients(table.pack(nil, tf.constant({ 1.0 })), { a, b })
      local tape = tf.GradientTape()
      local y = a * 3 -- b is unconnected: tape:gradient gives {g, nil} with n = 2
      opt:apply_gradients(tape:gradient(y, { a, b }), { a, b })
    end)
    io.stderr = saved
    assert(ok, tostring(err))
    helpers.assert_close(a, { -2.0 })
    helpers.assert_close(b, { 1.0 })
    assert.are.equal(2, #written) -- one warning per variable: a, then lonely_b
    assert.are.equal(2, opt.iterations:item())
  end)
end)

describe("tlua.class", function()
  local class = require("tlua.class")
  it("supports single inheritance, init, super and metamethods", function()
    local A = class("A")
    function A:init(x) self.x = x end
    function A:get() return self.x end
    function A:__tostring() return "A(" .. self.x .. ")" end
    local B = A:extend("B")
    function B:init(x, y) B.super.init(self, x) self.y = y end
    function B:get() return A.get(self) + self.y end
    local b = B(1, 2)
    assert.are.equal(3, b:get())
    assert.are.equal("A(1)", tostring(b))
    assert.is_true(class.is_instance(b, A))
    assert.is_false(class.is_instance(A(1), B))
    assert.are.equal(A, B.super)
    assert.are.equal("B", B.class_name)
    assert.are.equal(B, class.class_of(b))
    assert.are.equal(5, B.from_config and B(5, 0):get())
  end)
end)
