-- keras.layers.rnn: the LSTM and GRU layers (Keras 3's formulas, gate
-- order, weight shapes, defaults and options).
--
--   local lstm = keras.layers.LSTM(64, {return_sequences = true})
--   local y = lstm(x)                           -- x: [batch, time, features]
--   local r = keras.layers.GRU(32, {return_state = true})(x)   -- {output, h}
--   local y = lstm(x, {initial_state = {h0, c0}, training = true, mask = m})
--
-- Weights (Keras's order and names): kernel [features, G*units],
-- recurrent_kernel [units, G*units], bias; G = 4 for LSTM (gates i, f, c, o;
-- bias [4*units], with unit_forget_bias the forget slice starts at 1) and
-- 3 for GRU (gates z, r, h; bias [2, 3*units] with reset_after = true, the
-- Keras 2/3 default, whose rows are the input and the recurrent bias;
-- [3*units] with reset_after = false).
--
-- The computation is eager TensorFlow's: the input projection of every time
-- step is one matmul before the loop, then a Lua loop over the time steps
-- runs a few ops per step (one matmul with the recurrent kernel, a split,
-- the gate activations, the element-wise state update). Gradients come from
-- the tape through those ops. go_backwards walks the steps from the last;
-- with return_sequences the outputs are in that processing order, as Keras.
-- return_state returns a Lua list {output, h, c} (LSTM) or {output, h} (GRU).
-- dropout / recurrent_dropout (training only) use one mask per call for the
-- inputs and one for the recurrent state, as Keras's implementation 2.
-- A mask ([batch, time], true = keep) carries the state (and the output,
-- or zeros with zero_output_for_mask) over masked steps, as Keras.
--
-- Not supported: stateful = true, the generic keras.layers.RNN(cell) API.
-- unroll is accepted and has no effect (eager execution is unrolled).
local core = require("tlua.core")
local tf = require("tlua")
local layer_mod = require("keras.layer")
local Layer = layer_mod.Layer
local InputSpec = layer_mod.InputSpec
local activations = require("keras.activations")
local initializers = require("keras.initializers")
local regularizers = require("keras.regularizers")
local constraints = require("keras.constraints")

local function raise(kind, msg) core.raise(kind, msg) end

local layer_options = layer_mod.options

local who_of = layer_mod.who

-- ---------------------------------------------------------------------------
-- RNNBase: options, shapes and the time loop driver shared by LSTM and GRU.
-- A subclass sets `gates` (4 or 3), `n_states` (2 or 1), `cell_name`,
-- defines `bias_shape`, `make_bias_initializer`, `step_context` (per-call
-- constants: activations, kernels, ctx.ib the bias added to the input
-- projection) and `step(ctx, x_t, states, rec_mask)` -> new states (h first).

local RNNBase = Layer:extend("RNNBase")

local common_defaults = {
  activation = "tanh", recurrent_activation = "sigmoid", use_bias = true,
  kernel_initializer = "glorot_uniform", recurrent_initializer = "orthogonal", bias_initializer = "zeros",
  dropout = 0.0, recurrent_dropout = 0.0,
  return_sequences = false, return_state = false, go_backwards = false, stateful = false,
  unroll = false, zero_output_for_mask = false,
}
local common_optional = {
  "units", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
  "kernel_constraint", "recurrent_constraint", "bias_constraint", "seed", "implementation", "use_cudnn",
}

function RNNBase:init(...)
  local cls = getmetatable(self)
  local spec = rawget(cls, "_spec")
  if not spec then
    local defaults = {}
    for k, v in pairs(common_defaults) do defaults[k] = v end
    for k, v in pairs(rawget(cls, "extra_defaults") or {}) do defaults[k] = v end
    spec = { positional = { "units" }, defaults = defaults, optional = common_optional }
    rawset(cls, "_spec", spec)
  end
  local o = layer_options(cls.class_name, spec, ...)
  RNNBase.super.init(self, o)
  local who = who_of(self)
  local units = o.units
  if math.type(units) ~= "integer" or units <= 0 then
    raise("InvalidArgument", ("%s: units must be a positive integer, got %s"):format(who, tostring(units)))
  end
  for _, k in ipairs({ "dropout", "recurrent_dropout" }) do
    local r = o[k]
    if type(r) ~= "number" or r < 0 or r >= 1 then
      raise("InvalidArgument", ("%s: %s must be a number in [0, 1), got %s"):format(who, k, tostring(r)))
    end
  end
  if o.stateful then raise("Unimplemented", who .. ": stateful=true is not supported") end
  self.units = units
  self.activation = activations.get(o.activation)
  self.recurrent_activation = activations.get(o.recurrent_activation)
  self.use_bias = o.use_bias
  self.kernel_initializer = initializers.get(o.kernel_initializer)
  self.recurrent_initializer = initializers.get(o.recurrent_initializer)
  self.bias_initializer = initializers.get(o.bias_initializer)
  self.kernel_regularizer = regularizers.get(o.kernel_regularizer)
  self.recurrent_regularizer = regularizers.get(o.recurrent_regularizer)
  self.bias_regularizer = regularizers.get(o.bias_regularizer)
  self.kernel_constraint = constraints.get(o.kernel_constraint)
  self.recurrent_constraint = constraints.get(o.recurrent_constraint)
  self.bias_constraint = constraints.get(o.bias_constraint)
  self.dropout = o.dropout
  self.recurrent_dropout = o.recurrent_dropout
  self.seed = o.seed
  self.return_sequences = o.return_sequences
  self.return_state = o.return_state
  self.go_backwards = o.go_backwards
  self.unroll = o.unroll
  self.zero_output_for_mask = o.zero_output_for_mask
  self.supports_masking = true
  self.input_spec = InputSpec{ ndim = 3 }
  for k in pairs(rawget(cls, "extra_defaults") or {}) do self[k] = o[k] end
end

function RNNBase:build(input_shape)
  local who = who_of(self)
  if #input_shape ~= 3 then
    raise("InvalidArgument", ("%s: expected input of rank 3 [batch, time, features], got shape %s")
      :format(who, tostring(input_shape)))
  end
  local d = input_shape[2]
  if d == nil then
    raise("InvalidArgument", ("%s: the feature dimension of input shape %s must be known"):format(who, tostring(input_shape)))
  end
  local u, g = self.units, self.gates
  local cell = self.cell_name
  self.kernel = self:add_weight{ name = cell .. "/kernel", shape = { d, g * u }, initializer = self.kernel_initializer,
    regularizer = self.kernel_regularizer, constraint = self.kernel_constraint, dtype = self.dtype }
  self.recurrent_kernel = self:add_weight{ name = cell .. "/recurrent_kernel", shape = { u, g * u },
    initializer = self.recurrent_initializer, regularizer = self.recurrent_regularizer,
    constraint = self.recurrent_constraint, dtype = self.dtype }
  if self.use_bias then
    self.bias = self:add_weight{ name = cell .. "/bias", shape = self:bias_shape(), initializer = self:make_bias_initializer(),
      regularizer = self.bias_regularizer, constraint = self.bias_constraint, dtype = self.dtype }
  end
  self.input_spec = InputSpec{ ndim = 3, axes = { [-1] = d } }
  self._input_dim = d
end

-- A dropout mask of ones scaled 1/(1-rate) with zeros at rate, shape dims.
local function dropout_mask(dims, rate, seed, dtype)
  local opts = seed and { seed = seed } or nil
  return tf.nn.dropout(tf.ones(dims, { dtype = dtype }), rate, opts)
end

local function check_state(who, s, batch, units, i)
  if not tf.is_tensor(s) then s = tf.constant(s) end
  local sh = s.shape
  if #sh ~= 2 or sh[0] ~= batch or sh[1] ~= units then
    raise("InvalidArgument", ("%s: initial_state[%d] must have shape (%d, %d), got %s")
      :format(who, i, batch, units, tostring(sh)))
  end
  return s
end

function RNNBase:call(inputs, opts)
  local training, initial_state, mask
  if opts then training, initial_state, mask = opts.training, opts.initial_state, opts.mask end
  local shape = inputs.shape
  local batch, steps, d = shape[0], shape[1], shape[2]
  local u = self.units
  local who
  if steps == 0 then
    who = who_of(self)
    raise("InvalidArgument", ("%s: the input has no time steps (shape %s)"):format(who, tostring(shape)))
  end
  -- States.
  local states
  if initial_state ~= nil then
    who = who_of(self)
    if tf.is_tensor(initial_state) then initial_state = { initial_state } end
    if #initial_state ~= self.n_states then
      raise("InvalidArgument", ("%s: initial_state must be a list of %d tensors of shape (batch, %d), got %d")
        :format(who, self.n_states, u, #initial_state))
    end
    states = {}
    for i = 1, self.n_states do states[i] = check_state(who, initial_state[i], batch, u, i) end
  end
  local x = inputs
  local rec_mask = nil
  if training then
    if self.dropout > 0 then
      x = x * tf.reshape(dropout_mask({ batch, d }, self.dropout, self.seed, x.dtype), { batch, 1, d })
    end
    if self.recurrent_dropout > 0 then
      rec_mask = dropout_mask({ batch, u }, self.recurrent_dropout, self.seed, x.dtype)
    end
  end
  -- Input projection of every time step at once, time-major so that the
  -- per-step slices are contiguous: [T*B, D] @ [D, G*U].
  local xt = tf.reshape(tf.transpose(x, { 1, 0, 2 }), { steps * batch, d })
  local ctx = self:step_context()
  local proj = tf.matmul(xt, self.kernel)
  if ctx.ib then proj = proj + ctx.ib end
  local xs = tf.unstack(tf.reshape(proj, { steps, batch, self.gates * u }), { axis = 0 })
  local masks, out
  if mask ~= nil then
    if type(mask) == "table" and tf.is_tensor(mask[1]) then mask = mask[1] end -- {mask} as Keras's list form
    if not tf.is_tensor(mask) then mask = tf.constant(mask) end
    local ms = mask.shape
    if #ms ~= 2 or ms[0] ~= batch or ms[1] ~= steps then
      raise("InvalidArgument", ("%s: mask must have shape (%d, %d), got %s")
        :format(who_of(self), batch, steps, tostring(ms)))
    end
    masks = tf.unstack(tf.reshape(tf.transpose(tf.cast(mask, "bool"), { 1, 0 }), { steps, batch, 1 }), { axis = 0 })
    -- Masked steps keep the previous states and output (zeros before the
    -- first step, as Keras's TensorFlow backend).
    local zero = tf.zeros({ batch, u }, { dtype = proj.dtype })
    if states == nil then
      states = {}
      for i = 1, self.n_states do states[i] = zero end
    end
    out = zero
    ctx.zero = zero
  end
  local outputs = self.return_sequences and {} or nil
  local first, last, inc = 1, steps, 1
  if self.go_backwards then first, last, inc = steps, 1, -1 end
  local n = 0
  for t = first, last, inc do
    local new = self:step(ctx, xs[t], states, rec_mask)
    if masks then
      local m = masks[t]
      out = tf.where(m, new[1], self.zero_output_for_mask and ctx.zero or out)
      for i = 1, #new do new[i] = tf.where(m, new[i], states[i]) end
    else
      out = new[1]
    end
    states = new
    n = n + 1
    if outputs then outputs[n] = out end
  end
  local output = outputs and tf.stack(outputs, 1) or out
  if self.return_state then
    local r = { output }
    for i = 1, self.n_states do r[i + 1] = states[i] end
    return r
  end
  return output
end

-- The output mask: the input's with return_sequences, else nil; with
-- return_state a list {output mask, nil...} (field n = 1 + states), as Keras.
function RNNBase:compute_mask(_, mask)
  if type(mask) == "table" and not tf.is_tensor(mask) then mask = mask[1] end
  local out = self.return_sequences and mask or nil
  if self.return_state then return { out, n = 1 + self.n_states } end
  return out
end

function RNNBase:compute_output_shape(input_shape)
  input_shape = tf.TensorShape(input_shape)
  if #input_shape ~= 3 then
    raise("InvalidArgument", ("%s: expected input of rank 3 [batch, time, features], got shape %s")
      :format(who_of(self), tostring(input_shape)))
  end
  local b, t = input_shape[0], input_shape[1]
  local out
  if self.return_sequences then out = tf.TensorShape({ b, t, self.units }, 3) else out = tf.TensorShape({ b, self.units }, 2) end
  if self.return_state then
    local r = { out }
    for i = 1, self.n_states do r[i + 1] = tf.TensorShape({ b, self.units }, 2) end
    return r
  end
  return out
end

function RNNBase:get_config()
  local cfg = RNNBase.super.get_config(self)
  cfg.return_sequences = self.return_sequences
  cfg.return_state = self.return_state
  cfg.go_backwards = self.go_backwards
  cfg.stateful = false
  cfg.unroll = self.unroll
  cfg.zero_output_for_mask = self.zero_output_for_mask
  cfg.units = self.units
  cfg.activation = activations.serialize(self.activation)
  cfg.recurrent_activation = activations.serialize(self.recurrent_activation)
  cfg.use_bias = self.use_bias
  cfg.kernel_initializer = initializers.serialize(self.kernel_initializer)
  cfg.recurrent_initializer = initializers.serialize(self.recurrent_initializer)
  cfg.bias_initializer = initializers.serialize(self.bias_initializer)
  cfg.kernel_regularizer = regularizers.serialize(self.kernel_regularizer)
  cfg.recurrent_regularizer = regularizers.serialize(self.recurrent_regularizer)
  cfg.bias_regularizer = regularizers.serialize(self.bias_regularizer)
  cfg.kernel_constraint = constraints.serialize(self.kernel_constraint)
  cfg.recurrent_constraint = constraints.serialize(self.recurrent_constraint)
  cfg.bias_constraint = constraints.serialize(self.bias_constraint)
  cfg.dropout = self.dropout
  cfg.recurrent_dropout = self.recurrent_dropout
  cfg.seed = self.seed
  for k in pairs(rawget(getmetatable(self), "extra_defaults") or {}) do cfg[k] = self[k] end
  return cfg
end

-- ---------------------------------------------------------------------------
-- LSTM: z = x W + h U + b; i, f, o = rec_act(z_i, z_f, z_o); g = act(z_c);
-- c' = f c + i g; h' = o act(c').

local LSTM = RNNBase:extend("LSTM")
LSTM.gates = 4
LSTM.n_states = 2
LSTM.cell_name = "lstm_cell"
LSTM.extra_defaults = { unit_forget_bias = true }

function LSTM:bias_shape() return { 4 * self.units } end

function LSTM:make_bias_initializer()
  if not self.unit_forget_bias then return self.bias_initializer end
  local init, u = self.bias_initializer, self.units
  local ones = initializers.get("ones")
  return function(_, dtype)
    return tf.concat({ init({ u }, dtype), ones({ u }, dtype), init({ 2 * u }, dtype) }, 0)
  end
end

function LSTM:step_context()
  return { rk = self.recurrent_kernel, act = self.activation, ract = self.recurrent_activation, ib = self.bias }
end

function LSTM:step(ctx, xz, states, rec_mask)
  local z, c
  if states then
    local h = states[1]
    if rec_mask then h = h * rec_mask end
    z = xz + tf.matmul(h, ctx.rk)
    c = states[2]
  else
    z = xz -- zero initial state: h @ U and f * c vanish
  end
  local p = tf.split(z, 4, 1)
  local ract, act = ctx.ract, ctx.act
  local i, o = ract(p[1]), ract(p[4])
  local ig = i * act(p[3])
  if c then c = ract(p[2]) * c + ig else c = ig end
  return { o * act(c), c }
end

-- ---------------------------------------------------------------------------
-- GRU (reset_after = true): xz = x W + b_in, hz = h U + b_rec;
-- z, r = rec_act(xz_zr + hz_zr); hh = act(xz_h + r * hz_h); h' = z h + (1 - z) hh.
-- reset_after = false: hh = act(xz_h + (r h) U_h), one bias added to xz.

local GRU = RNNBase:extend("GRU")
GRU.gates = 3
GRU.n_states = 1
GRU.cell_name = "gru_cell"
GRU.extra_defaults = { reset_after = true }

function GRU:bias_shape()
  if self.reset_after then return { 2, 3 * self.units } end
  return { 3 * self.units }
end

function GRU:make_bias_initializer() return self.bias_initializer end

function GRU:step_context()
  local u = self.units
  local ctx = { act = self.activation, ract = self.recurrent_activation, u = u }
  local b = self.bias
  if self.reset_after then
    ctx.rk = self.recurrent_kernel
    if b then
      local rows = tf.unstack(b, { axis = 0 })
      ctx.ib, ctx.rb = rows[1], rows[2]
    end
  else
    ctx.ib = b
    local parts = tf.split(self.recurrent_kernel, { 2 * u, u }, 1)
    ctx.rk_zr, ctx.rk_h = parts[1], parts[2]
  end
  return ctx
end

function GRU:step(ctx, xz, states, rec_mask)
  local u = ctx.u
  local h
  if states then
    h = states[1]
  else
    h = tf.zeros({ xz.shape[0], u }, { dtype = xz.dtype })
  end
  local hin = rec_mask and h * rec_mask or h
  local xp = tf.split(xz, { 2 * u, u }, 1)
  local zr, hh
  if ctx.rk then
    local inner = tf.matmul(hin, ctx.rk)
    if ctx.rb then inner = inner + ctx.rb end
    local ip = tf.split(inner, { 2 * u, u }, 1)
    zr = tf.split(ctx.ract(xp[1] + ip[1]), 2, 1)
    hh = ctx.act(xp[2] + zr[2] * ip[2])
  else
    zr = tf.split(ctx.ract(xp[1] + tf.matmul(hin, ctx.rk_zr)), 2, 1)
    hh = ctx.act(xp[2] + tf.matmul(zr[2] * hin, ctx.rk_h))
  end
  local z = zr[1]
  return { z * h + (1 - z) * hh }
end

return {
  LSTM = LSTM,
  GRU = GRU,
}
