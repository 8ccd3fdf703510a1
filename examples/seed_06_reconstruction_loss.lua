-- examples/seed_06_reconstruction_loss.lua — a model with an auxiliary
-- reconstruction loss (the chapter's "model with an auxiliary output and a
-- reconstruction loss"; the book's ReconstructingRegressor): five hidden
-- layers, an output, and a `reconstruct` Dense layer created in build() with
-- as many units as the input has features. call() adds
-- 0.05 * mean((reconstruction - inputs)^2) with add_loss and reports the
-- reconstruction error with add_metric, so fit trains on both and shows
-- both.
-- Asserts: model.losses after a call holds exactly 0.05 * the hand-computed
-- reconstruction MSE; fit's reported loss is the MSE plus that term; the
-- reconstruction_error metric is in the history and goes down.
-- TLUA_EXAMPLE_QUICK=1 trains for fewer epochs.
local quick = os.getenv("TLUA_EXAMPLE_QUICK") == "1"
tf.random.set_seed(6)

local ReconstructingRegressor = keras.Model:extend("ReconstructingRegressor")
function ReconstructingRegressor:init(opts)
  ReconstructingRegressor.super.init(self, { name = opts.name })
  local hidden = {}
  for i = 1, 5 do
    hidden[i] = keras.layers.Dense(30, { activation = "selu", kernel_initializer = "lecun_normal" })
  end
  self.hidden = hidden
  self.out = keras.layers.Dense(opts.output_dim)
end
function ReconstructingRegressor:build(batch_input_shape)
  local n_inputs = batch_input_shape[-1]
  self.reconstruct = keras.layers.Dense(n_inputs)
  ReconstructingRegressor.super.build(self, batch_input_shape)
end
function ReconstructingRegressor:call(inputs, opts) -- luacheck: ignore opts
  local Z = inputs
  for _, layer in ipairs(self.hidden) do Z = layer(Z) end
  local reconstruction = self.reconstruct(Z)
  local recon_loss = tf.reduce_mean(tf.square(reconstruction - inputs))
  self:add_loss(0.05 * recon_loss)
  self:add_metric(recon_loss, { name = "reconstruction_error" })
  self.last_recon_loss = recon_loss -- for the check below (plain Lua field)
  return self.out(Z)
end

local function close(a, b, tol, what)
  assert(math.abs(a - b) <= tol * math.max(1, math.abs(b)), ("%s: %.7g vs %.7g"):format(what, a, b))
end
local function num(x) return type(x) == "number" and x or x:item() end

local n = 2048
local latent = tf.random.normal({ n, 3 })
local X = tf.matmul(latent, tf.random.normal({ 3, 8 })) + tf.random.normal({ n, 8 }, 0, 0.05) -- 8 features, 3 factors
local y = tf.matmul(tf.tanh(latent), tf.constant({ { 1.0 }, { -0.5 }, { 0.25 } }))

local model = ReconstructingRegressor{ output_dim = 1 }
-- One call: the auxiliary loss is 0.05 * the reconstruction MSE by hand.
local x = X["0:64"]
local y_pred = model(x)
local by_hand = tf.reduce_mean(tf.square(model.reconstruct(model.hidden[5](model.hidden[4](model.hidden[3](
  model.hidden[2](model.hidden[1](x)))))) - x)):item()
local losses = model.losses
assert(#losses == 1, ("model.losses should hold the one auxiliary loss, got %d"):format(#losses))
close(num(losses[1]), 0.05 * by_hand, 1e-5, "auxiliary loss")
assert(model.reconstruct.kernel.shape[1] == 8, "reconstruct has one unit per input feature")

model:compile{ loss = "mse", optimizer = "nadam" }
local history = model:fit(X, y, { epochs = quick and 3 or 20, batch_size = 32, verbose = 0 })
local h = history.history
assert(h.reconstruction_error, "history should carry reconstruction_error")
for e = 1, #h.loss do
  print(("epoch %d: loss %.4f  reconstruction_error %.4f"):format(e, h.loss[e], h.reconstruction_error[e]))
end
assert(h.reconstruction_error[#h.loss] < h.reconstruction_error[1], "the reconstruction error should go down")
assert(h.loss[#h.loss] < h.loss[1], "the loss should go down")

-- evaluate's loss is the MSE of the output plus the auxiliary term.
local res = model:evaluate(X, y, { batch_size = n, verbose = 0, return_dict = true })
local pred = model(X)
local mse = tf.reduce_mean(tf.square(pred - y)):item()
close(num(res.loss), mse + 0.05 * model.last_recon_loss:item(), 1e-4, "loss = mse + 0.05 * reconstruction")
close(num(res.reconstruction_error), model.last_recon_loss:item(), 1e-4, "reconstruction_error metric")
print(("evaluate: loss %.4f = mse %.4f + 0.05 * reconstruction %.4f"):format(num(res.loss), mse, model.last_recon_loss:item()))
local _ = y_pred
