-- Conformance cases for src/ops/reduce.c (values are checked against numpy
-- in reduce_spec.lua; second derivatives in grad_reduce_spec.lua). Inputs
-- have no ties where max/min are taken, and the cumprod/reduce_prod cases
-- include zeros (one and several along an axis).
local tf = require("tlua")

local m23 = { { 0.5, -1.25, 2.0 }, { 1.5, 0.75, -0.5 } }
local t234 = require("gradcheck").t234
local zeros = { { 0.5, 0.0, 2.0, 0.0, 1.5 }, { 1.25, -0.75, 0.0, 3.0, -2.0 } }

return {
  reduce_sum = {
    { fn = function(x) return tf.reduce_sum(x) end, inputs = { m23 } },
    { fn = function(x) return tf.reduce_sum(x, 1, { keepdims = true }) end, inputs = { m23 } },
    { fn = function(x) return tf.reduce_sum(x, { 0, 2 }) end, inputs = { t234 } },
    { fn = function(x) return tf.reduce_sum(x, { -1, 0 }, { keepdims = true }) end, inputs = { t234 } },
  },
  reduce_mean = {
    { fn = function(x) return tf.reduce_mean(x) end, inputs = { t234 } },
    { fn = function(x) return tf.reduce_mean(x, -1) end, inputs = { t234 } },
    { fn = function(x) return tf.reduce_mean(x, { 0, 1 }, { keepdims = true }) end, inputs = { t234 } },
  },
  reduce_max = {
    { fn = function(x) return tf.reduce_max(x) end, inputs = { m23 } },
    { fn = function(x) return tf.reduce_max(x, 1) end, inputs = { t234 } },
    { fn = function(x) return tf.reduce_max(x, { 0, 2 }, { keepdims = true }) end, inputs = { t234 } },
  },
  reduce_min = {
    { fn = function(x) return tf.reduce_min(x, 0) end, inputs = { m23 } },
    { fn = function(x) return tf.reduce_min(x, { 0, 2 }) end, inputs = { t234 } },
  },
  reduce_prod = {
    { fn = function(x) return tf.reduce_prod(x) end, inputs = { m23 } },
    { fn = function(x) return tf.reduce_prod(x, { 0, 2 }) end, inputs = { t234 } },
    { fn = function(x) return tf.reduce_prod(x, 1, { keepdims = true }) end, inputs = { t234 } },
    { fn = function(x) return tf.reduce_prod(x, 1) end, inputs = { zeros } },
    { fn = function(x) return tf.reduce_prod(x, 0) end, inputs = { zeros } },
  },
  reduce_logsumexp = {
    { fn = function(x) return tf.reduce_logsumexp(x) end, inputs = { t234 } },
    { fn = function(x) return tf.reduce_logsumexp(x, 1) end, inputs = { t234 } },
    { fn = function(x) return tf.reduce_logsumexp(x, { 0, 2 }, { keepdims = true }) end, inputs = { t234 } },
  },
  reduce_variance = {
    { fn = function(x) return tf.math.reduce_variance(x) end, inputs = { m23 } },
    { fn = function(x) return tf.math.reduce_variance(x, { 0, 2 }) end, inputs = { t234 } },
    { fn = function(x) return tf.math.reduce_variance(x, 1, { keepdims = true }) end, inputs = { t234 } },
  },
  reduce_std = {
    { fn = function(x) return tf.math.reduce_std(x) end, inputs = { m23 } },
    { fn = function(x) return tf.math.reduce_std(x, { -1 }) end, inputs = { t234 } },
    { fn = function(x) return tf.math.reduce_std(x, { 0, 1 }, { keepdims = true }) end, inputs = { t234 } },
  },
  cumsum = {
    { fn = function(x) return tf.cumsum(x, 1) end, inputs = { t234 } },
    { fn = function(x) return tf.cumsum(x, 0, { exclusive = true }) end, inputs = { t234 } },
    { fn = function(x) return tf.cumsum(x, -1, { reverse = true }) end, inputs = { t234 } },
    { fn = function(x) return tf.cumsum(x, -1, { exclusive = true, reverse = true }) end, inputs = { t234 } },
  },
  cumprod = {
    { fn = function(x) return tf.math.cumprod(x, 1) end, inputs = { t234 } },
    { fn = function(x) return tf.math.cumprod(x, 2, { exclusive = true }) end, inputs = { t234 } },
    { fn = function(x) return tf.math.cumprod(x, 0, { reverse = true }) end, inputs = { t234 } },
    { fn = function(x) return tf.math.cumprod(x, 1) end, inputs = { zeros } },
    { fn = function(x) return tf.math.cumprod(x, 1, { exclusive = true }) end, inputs = { zeros } },
    { fn = function(x) return tf.math.cumprod(x, 1, { reverse = true }) end, inputs = { zeros } },
    { fn = function(x) return tf.math.cumprod(x, -1, { exclusive = true, reverse = true }) end, inputs = { zeros } },
  },
  moments = {
    { fn = function(x) return tf.nn.moments(x, { 0, 2 }) end, inputs = { t234 } },
    { fn = function(x) return tf.nn.moments(x, { 1 }, { keepdims = true }) end, inputs = { t234 } },
    { fn = function(x) return (tf.nn.moments(x, { 0 })) end, inputs = { m23 } },
    { fn = function(x) return select(2, tf.nn.moments(x, { -1 })) end, inputs = { m23 } },
  },
  reduce_any = { nograd = "logical reduction of a bool tensor" },
  reduce_all = { nograd = "logical reduction of a bool tensor" },
  count_nonzero = { nograd = "an integer count (piecewise constant in the input)" },
  argmax = { nograd = "an integer index (piecewise constant in the input)" },
  argmin = { nograd = "an integer index (piecewise constant in the input)" },
}
