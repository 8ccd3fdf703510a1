-- Conformance cases for src/ops/decomp.c (values against numpy in
-- linalg_decomp_spec.lua). cholesky is differentiated through a
-- symmetrisation, as TensorFlow's own tests do: its rule returns the
-- symmetric gradient while the kernel reads the lower triangle only.
local tf = require("tlua")
local spd = { { 4.0, 2.0, 0.6 }, { 2.0, 5.0, 1.0 }, { 0.6, 1.0, 3.0 } }
local low = { { 2.0, 0.0, 0.0 }, { 0.5, 1.5, 0.0 }, { -0.3, 0.2, 1.8 } }
local up = { { 2.0, 0.4, -0.3 }, { 0.0, 1.5, 0.6 }, { 0.0, 0.0, 1.8 } }
local rhs = { { 1.0, -0.5 }, { 0.25, 2.0 }, { -1.0, 0.75 } }
local m32 = { { 1.0, -0.5 }, { 0.75, 2.0 }, { -1.25, 0.5 } }
local function sym(x) return tf.multiply(0.5, tf.add(x, tf.linalg.matrix_transpose(x))) end
local pending = "gradient not implemented yet (TensorFlow's rule is on the list in docs/linalg.md)"
return {
  matrix_band_part = {
    { fn = function(x) return tf.linalg.band_part(x, 1, 0) end, inputs = { spd } },
    { fn = function(x) return tf.linalg.band_part(x, -1, 0) end, inputs = { m32 } },
    { fn = function(x) return tf.linalg.band_part(x, 0, -1) end, inputs = { tf.constant({ { 1, 2 }, { 3, 4 } }, tf.int32) }, wrt = {} },
  },
  cholesky = {
    { fn = function(x) return tf.linalg.cholesky(sym(x)) end, inputs = { spd } },
    { fn = function(x) return tf.linalg.cholesky(sym(tf.stack({ x, tf.multiply(2.0, x) }))) end, inputs = { spd } },
  },
  matrix_triangular_solve = {
    { fn = function(a, b) return tf.linalg.triangular_solve(a, b) end, inputs = { low, rhs } },
    { fn = function(a, b) return tf.linalg.triangular_solve(a, b, { adjoint = true }) end, inputs = { low, rhs } },
    { fn = function(a, b) return tf.linalg.triangular_solve(a, b, { lower = false }) end, inputs = { up, rhs } },
    { fn = function(a, b) return tf.linalg.triangular_solve(a, b, { lower = false, adjoint = true }) end, inputs = { up, rhs } },
    -- a batch-less matrix against a batched rhs: the matrix's gradient sums the batch
    { fn = function(a, b) return tf.linalg.triangular_solve(a, tf.stack({ b, tf.multiply(2.0, b) })) end, inputs = { low, rhs } },
  },
  eigh = {
    { fn = function(x) return tf.linalg.eigh(x) end, inputs = { spd } },
    { fn = function(x) return tf.linalg.eigvalsh(x) end, inputs = { spd } },
    { fn = function(x) local _, v = tf.linalg.eigh(tf.stack({ x, tf.add(x, 1.0) })) return v end, inputs = { spd } },
  },
  qr = { nograd = pending,
    { fn = function(x) return tf.linalg.qr(x) end, inputs = { m32 } },
    { fn = function(x) return tf.linalg.qr(x, { full_matrices = true }) end, inputs = { m32 } },
  },
  svd_full = { nograd = pending,
    { fn = function(x) return tf.core.ops.svd_full(x) end, inputs = { m32 } },
    { fn = function(x) return tf.core.ops.svd_full(x, { full_matrices = true }) end, inputs = { m32 } },
  },
}
