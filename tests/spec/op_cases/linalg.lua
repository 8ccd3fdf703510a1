-- Conformance cases for src/ops/linalg.c (values are checked against numpy
-- in linalg_spec.lua). Matrices are well conditioned so central differences
-- of inv/solve/det are accurate.
local tf = require("tlua")
local m23 = { { 0.5, -1.0, 2.0 }, { 1.5, 0.25, -0.75 } }
local m32 = { { 1.0, -0.5 }, { 0.75, 2.0 }, { -1.25, 0.5 } }
local sq = { { 2.0, 0.5, -0.25 }, { 0.3, 1.5, 0.4 }, { -0.2, 0.1, 1.8 } }
local rhs = { { 1.0, -0.5 }, { 0.25, 2.0 }, { -1.0, 0.75 } }
return {
  matmul = {
    { fn = function(a, b) return tf.matmul(a, b) end, inputs = { m23, m32 } },
    { fn = function(a, b) return tf.matmul(a, b, { transpose_a = true, transpose_b = true }) end, inputs = { m32, m23 } },
    { fn = function(a, b) return tf.matmul(tf.reshape(a, { 1, 2, 3 }), b) end, inputs = { m23, m32 } },
    { fn = function(a, b) return tf.matmul(a, b, { adjoint_b = true }) end, inputs = { m23, m23 } },
  },
  tensordot = {
    { fn = function(a, b) return tf.tensordot(a, b, 1) end, inputs = { m23, m32 } },
    { fn = function(a, b) return tf.tensordot(a, b, { { 0, 1 }, { 1, 0 } }) end, inputs = { m23, m32 } },
  },
  inv = {
    { fn = function(x) return tf.linalg.inv(x) end, inputs = { sq } },
    { fn = function(x) return tf.linalg.inv(x, { adjoint = true }) end, inputs = { sq } },
  },
  det = { { fn = function(x) return tf.linalg.det(x) end, inputs = { sq } } },
  solve = {
    { fn = function(a, b) return tf.linalg.solve(a, b) end, inputs = { sq, rhs } },
    { fn = function(a, b) return tf.linalg.solve(a, b, { adjoint = true }) end, inputs = { sq, rhs } },
  },
  matrix_transpose = { { fn = function(x) return tf.linalg.matrix_transpose(x) end, inputs = { m23 } } },
  trace = { { fn = function(x) return tf.linalg.trace(x) end, inputs = { sq } } },
  diag_part = { { fn = function(x) return tf.linalg.diag_part(x) end, inputs = { m23 } } },
  diag = {
    { fn = function(x) return tf.linalg.diag(x) end, inputs = { { 0.5, -1.5, 2.0 } } },
    { fn = function(x) return tf.linalg.diag(x, { num_rows = 2, num_cols = 4 }) end, inputs = { { { 0.5, -1.5 } } } },
  },
}
