-- Conformance cases for src/ops/optim.c: optimizer updates are state
-- transitions, not differentiated; their values are checked against
-- PyTorch and float64 references in optimizers_spec.lua. Each case runs
-- two steps of the raw op on variables made inside fn (on the runner's
-- device) and returns the variable and its slots.
local tf = require("tlua")

local why = "optimizer update: writes its variables (values tested in optimizers_spec)"
local x0 = function(dt) return tf.constant({ { 1.0, -2.0, 3.0 }, { 0.25, 4.0, -0.5 } }, dt or tf.float32) end
local g0 = function(dt) return tf.constant({ { 0.5, -1.0, 2.0 }, { -0.125, 0.75, 3.0 } }, dt or tf.float32) end

-- op(var, grad, lr, [iterations, mu_product,] grad_scale, slots, attrs).
-- Everything fn makes derives from its arguments, so it lands on their
-- device: the step state comes in as tensors (iterations 0, mu_product 1,
-- the learning rate).
local function case(op, nslots, opts)
  opts = opts or {}
  return {
    fn = function(x, g, it0, mu0, lr)
      local v = tf.Variable(x)
      local slots = {}
      for i = 1, nslots do slots[i] = tf.Variable(tf.zeros_like(x) + (opts.init or 0)) end
      local it, mu, one = tf.Variable(it0), tf.Variable(mu0), tf.ones_like(it0)
      local scale = opts.scale and lr * 5 or nil
      local before = v:read_value()
      for _ = 1, 2 do
        local args = { v, g, lr }
        if opts.step then args[#args + 1] = it end
        if opts.mu then args[#args + 1] = mu end
        local n = #args + 1
        args[n] = scale
        args[n + 1] = slots
        if opts.attrs then args[n + 2] = opts.attrs end
        tf.raw_ops[op](table.unpack(args, 1, opts.attrs and n + 2 or n + 1))
        if opts.mu then tf.raw_ops.nadam_advance(mu, it) end
        it:assign_add(one)
      end
      local out = { before, v:read_value() }
      for i = 1, nslots do out[#out + 1] = slots[i]:read_value() end
      return table.unpack(out)
    end,
    inputs = { opts.x or x0(), opts.g or g0(), tf.constant(0, tf.int64), tf.constant(1.0, tf.float64),
               tf.constant(0.1, tf.float64) },
  }
end

return {
  apply_sgd = { nograd = why, case("apply_sgd", 0), case("apply_sgd", 1, { attrs = { momentum = 0.9, nesterov = true } }),
    case("apply_sgd", 1, { attrs = { momentum = 0.9 }, x = x0(tf.float64), g = g0(tf.float64), scale = true }) },
  apply_rmsprop = { nograd = why, case("apply_rmsprop", 3, { attrs = { momentum = 0.5, centered = true } }) },
  apply_adam = { nograd = why, case("apply_adam", 2, { step = true, attrs = { clipnorm = 1.0 } }),
    case("apply_adam", 3, { step = true, attrs = { amsgrad = true, weight_decay = 0.01 } }) },
  apply_nadam = { nograd = why, case("apply_nadam", 2, { step = true, mu = true }),
    case("apply_nadam", 2, { step = true, mu = true, x = x0(tf.float64), g = g0(tf.float64), attrs = { clipvalue = 0.6 } }) },
  apply_adamax = { nograd = why, case("apply_adamax", 2, { step = true }) },
  apply_adagrad = { nograd = why, case("apply_adagrad", 1, { init = 0.1 }) },
  apply_adadelta = { nograd = why, case("apply_adadelta", 2) },
  apply_ftrl = { nograd = why, case("apply_ftrl", 2, { init = 0.1, attrs = { l1 = 0.01, l2 = 0.01 } }),
    case("apply_ftrl", 2, { init = 0.1, attrs = { lr_power = -0.7 } }) },
  apply_lion = { nograd = why, case("apply_lion", 1) },
  nadam_advance = { nograd = why,
    { fn = function(x, it0)
        local mu, it = tf.Variable(x), tf.Variable(it0)
        for _ = 1, 3 do
          tf.raw_ops.nadam_advance(mu, it, { beta_1 = 0.9, schedule_decay = 0.004 })
          it:assign_add(tf.ones_like(it0))
        end
        return mu:read_value()
      end, inputs = { tf.constant(1.0, tf.float64), tf.constant(0, tf.int64) } } },
  clip_scale = { nograd = "a scale factor computed from gradient values, as tf.clip_by_global_norm's",
    { fn = function(a, b) return tf.raw_ops.clip_scale({ a, b }, 1.0) end,
      inputs = { tf.constant({ 3.0, 4.0 }), tf.constant({ { 12.0 } }, tf.float32) } },
    { fn = function(a) return tf.raw_ops.clip_scale({ a }, 100.0) end, inputs = { tf.constant({ 0.5, 0.5 }, tf.float64) } } },
}
