-- Shared by keras_norm_merge_spec.lua and keras_rnn_spec.lua: loads the
-- Keras reference cases (tests/spec/fixtures/keras/norm_rnn.json, written
-- by tools/keras_fixtures/norm_rnn.py) and replays one: same weights in
-- (set_weights), same inputs, then outputs, gradients of
-- loss = sum(output_i * coef_i) w.r.t. the inputs and the trainable weights,
-- and the weights after the call, all compared with Keras's to 1e-5.
-- Cases with masks pass them as opts.mask (a list for merge layers) and
-- check compute_mask against Keras's.
local tf = require("tlua")
local helpers = require("helpers")

local M = {}

local cases
function M.cases()
  if not cases then
    local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
    local f = assert(io.open(dir .. "/fixtures/keras/norm_rnn.json", "r"))
    cases = helpers.json_decode(f:read("a")).cases
    f:close()
  end
  return cases
end

-- A Keras get_config() from the fixture as a tlua config: JSON nulls
-- dropped, and Keras 3's DTypePolicy dtype replaced by its name.
function M.keras_config(key)
  local function clean(t)
    if type(t) ~= "table" then return t end
    local o = {}
    for k, v in pairs(t) do
      if v ~= helpers.null then o[k] = clean(v) end
    end
    return o
  end
  local cfg = clean(M.cases()[key])
  if type(cfg.dtype) == "table" then cfg.dtype = cfg.dtype.config.name end
  return cfg
end

local function close(actual, expected, what)
  if type(actual) == "userdata" then actual = actual:totable() end
  local ok, why = helpers.close(actual, expected, 1e-5, 1e-5)
  assert(ok, what .. ": " .. tostring(why))
end
M.close = close

-- Replays case `name` on `layer` (unbuilt). opts: call options (training,
-- initial_state is read from the case when `n_inputs` > 1 for RNN states),
-- multi = true when the layer takes the list of inputs.
function M.replay(name, layer, call_opts, multi)
  local c = M.cases()[name]
  assert(c, "no fixture case " .. name)
  local xs = {}
  for i, x in ipairs(c.inputs) do xs[i] = tf.constant(x) end
  local arg = multi and xs or xs[1]
  local masks
  if c.masks then
    masks = { n = #c.masks }
    for i, m in ipairs(c.masks) do
      if m ~= helpers.null then masks[i] = tf.constant(m) end
    end
    local o = {}
    for k, v in pairs(call_opts or {}) do o[k] = v end
    o.mask = multi and masks or masks[1]
    call_opts = o
  end
  -- First call builds the layer (inference mode: no statistics update);
  -- then the reference weights go in.
  layer(arg)
  layer:set_weights(c.weights)
  local tape = tf.GradientTape({ persistent = true })
  tape:watch(xs)
  local out = layer(arg, call_opts)
  local outs = tf.is_tensor(out) and { out } or out
  assert(#outs == #c.outputs, ("%s: %d outputs, Keras has %d"):format(name, #outs, #c.outputs))
  local terms = {}
  for i, o in ipairs(outs) do terms[i] = tf.reduce_sum(o * tf.constant(c.coefs[i])) end
  local loss = #terms == 1 and terms[1] or tf.add_n(terms)
  local g_in = tape:gradient(loss, xs)
  local tw = layer.trainable_weights
  assert(#tw == #c.grad_weights, ("%s: %d trainable weights, Keras has %d"):format(name, #tw, #c.grad_weights))
  local g_w = #tw > 0 and tape:gradient(loss, tw) or {}
  tape:stop()
  for i, o in ipairs(outs) do close(o, c.outputs[i], name .. " output " .. i) end
  assert(math.abs(loss:totable() - c.loss) <= 1e-5 * (1 + math.abs(c.loss)), name .. " loss")
  for i, g in ipairs(g_in) do close(g, c.grad_inputs[i], name .. " d/d input " .. i) end
  for i, g in ipairs(g_w) do close(g, c.grad_weights[i], name .. " d/d " .. tw[i].name) end
  if c.output_mask ~= nil then
    local m = layer:compute_mask(xs, masks)
    if c.output_mask == helpers.null then
      assert(m == nil, name .. ": compute_mask should be nil")
    else
      local ok, why = helpers.close(m:totable(), c.output_mask, 0, 0)
      assert(ok, name .. " compute_mask: " .. tostring(why))
    end
  end
  if c.weights_after then
    local ws = layer.weights
    for i, w in ipairs(ws) do close(w:read_value(), c.weights_after[i], name .. " " .. w.name .. " after the call") end
  end
  return layer, outs
end

return M
