-- Conformance cases for src/ops/optim.c: optimizer updates are state
-- transitions, not differentiated; their values are checked against
-- PyTorch and float64 references in optimizers_spec.lua.
local why = "optimizer update (values tested in optimizers_spec)"
return {
  apply_sgd = { nograd = why },
  apply_rmsprop = { nograd = why },
  apply_adam = { nograd = why },
  apply_nadam = { nograd = why },
  apply_adamax = { nograd = why },
  apply_adagrad = { nograd = why },
  apply_adadelta = { nograd = why },
  apply_ftrl = { nograd = why },
  apply_lion = { nograd = why },
}
