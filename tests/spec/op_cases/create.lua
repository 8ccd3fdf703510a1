-- Conformance cases for src/ops/create.c and the random ops of src/ops/random.c
-- (values, dtypes and errors are in create_spec.lua and random_spec.lua).
-- None is differentiable: they make constants or random draws from shapes
-- and integer indices.
local values = "values are checked in create_spec.lua"
local draws = "random draws: values are checked statistically in random_spec.lua"
return {
  zeros = { nograd = "has no tensor input; " .. values },
  ones = { nograd = "has no tensor input; " .. values },
  eye = { nograd = "has no tensor input; " .. values },
  fill = { nograd = "not differentiable here (TensorFlow sums the gradient into value); " .. values },
  zeros_like = { nograd = "output does not depend on the input's values; " .. values },
  ones_like = { nograd = "output does not depend on the input's values; " .. values },
  range = { nograd = "piecewise constant in its arguments, as in TensorFlow; " .. values },
  linspace = { nograd = "not differentiable in TensorFlow either; " .. values },
  one_hot = { nograd = "integer indices in; " .. values },
  random_uniform = { nograd = draws },
  random_normal = { nograd = draws },
  truncated_normal = { nograd = draws },
  random_shuffle = { nograd = "a permutation of the input; TensorFlow has no gradient for it" },
  categorical = { nograd = "integer samples out; " .. draws },
}
