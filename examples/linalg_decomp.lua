-- tf.linalg decompositions: least squares through qr, a Gaussian
-- log-likelihood through cholesky (with its gradient), and a low-rank
-- approximation through svd.
local tf = require("tlua")
local A = tf.constant({ { 1.0, 1.0 }, { 1.0, 2.0 }, { 1.0, 3.0 }, { 1.0, 4.0 } }, tf.float64)
local y = tf.constant({ { 6.0 }, { 5.0 }, { 7.0 }, { 10.0 } }, tf.float64)

-- least squares: A = q r, then r x = qᵀ y
local q, r = tf.linalg.qr(A)
local x = tf.linalg.triangular_solve(r, tf.matmul(q, y, { transpose_a = true }), { lower = false })
print("least squares fit (intercept, slope):", x)

-- log N(y; 0, S) up to a constant, and its gradient with respect to S
local S = tf.Variable(tf.constant({ { 2.0, 0.3 }, { 0.3, 1.0 } }, tf.float64))
local v = tf.constant({ { 0.5 }, { -1.0 } }, tf.float64)
local tape = tf.GradientTape()
local L = tf.linalg.cholesky(S)
local z = tf.linalg.triangular_solve(L, v)
local logdet = tf.multiply(2.0, tf.reduce_sum(tf.math.log(tf.linalg.diag_part(L))))
local nll = tf.multiply(0.5, tf.add(tf.reduce_sum(tf.square(z)), logdet))
print("negative log-likelihood:", nll:item())
print("d nll / d S:", tape:gradient(nll, S))

-- rank-1 approximation of A
local s, u, vv = tf.linalg.svd(A)
local a1 = tf.multiply(s[0], tf.matmul(u[{ {}, { 0, 1 } }], vv[{ {}, { 0, 1 } }], { transpose_b = true }))
print("singular values:", s, "rank:", tf.linalg.matrix_rank(A):item())
print("rank-1 approximation:", a1)
