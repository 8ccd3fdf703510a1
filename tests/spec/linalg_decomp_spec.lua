-- tf.linalg decompositions (src/ops/decomp.c) and the functions built on them
-- (stdlib/tlua/linalg_decomp.lua), against numpy. Eigenvectors and singular
-- vectors are defined up to sign: those are checked through reconstruction,
-- orthonormality and absolute values.
local tf = require("tlua")
local helpers = require("helpers")
local assert_error, assert_close = helpers.assert_error, helpers.assert_close

local spd = { { { 4.0, 2.0, 0.6 }, { 2.0, 5.0, 1.0 }, { 0.6, 1.0, 3.0 } },
              { { 2.0, -0.5, 0.0 }, { -0.5, 1.5, 0.3 }, { 0.0, 0.3, 1.0 } } }
local m43 = { { 1.0, 2.0, -1.0 }, { 0.5, -3.0, 2.0 }, { 4.0, 0.25, 1.0 }, { -2.0, 1.0, 0.75 } }
local rhs = { { { 1.0, -1.0 }, { 2.0, 0.5 }, { 3.0, 0.0 } }, { { 0.5, 1.0 }, { -1.0, 2.0 }, { 0.0, 1.0 } } }

local function lit(t)
  if type(t) ~= "table" then return ("%.17g"):format(t) end
  local parts = {}
  for i, v in ipairs(t) do parts[i] = lit(v) end
  return "[" .. table.concat(parts, ",") .. "]"
end

local ref = helpers.numpy(([[
S=np.array(%s); A=np.array(%s); B=np.array(%s); L=np.linalg
C=L.cholesky(S)
import itertools
def tri(M,b,lower,adj):
  T=np.tril(M) if lower else np.triu(M)
  T=np.swapaxes(T,-1,-2) if adj else T
  return L.solve(T,b)
out=[C.tolist(), tri(C,B,True,False), tri(C,B,True,True), tri(S,B,False,False), L.solve(S,B),
     L.eigvalsh(S), L.svd(A,compute_uv=False), np.abs(np.linalg.qr(A)[1]), L.pinv(A), [int(L.matrix_rank(A))],
     list(L.slogdet(S)), np.abs(L.eigh(S)[1]), np.abs(L.svd(A)[0][:, :3])]
]]):format(lit(spd), lit(m43), lit(rhs)))

local function T(x, dt) return tf.constant(x, dt or tf.float64) end

describe("tf.linalg.cholesky and solves", function()
  it("cholesky matches numpy, batched, float32 and float64", function()
    assert_close(tf.linalg.cholesky(T(spd)), ref[1], 1e-12, 1e-12)
    local c32 = tf.linalg.cholesky(T(spd, tf.float32))
    assert.equal(tf.float32, c32.dtype)
    assert_close(c32, ref[1], 1e-5, 1e-6)
  end)
  it("reads only the lower triangle", function()
    local up = T({ { 4.0, 99.0 }, { 2.0, 5.0 } })
    assert_close(tf.linalg.cholesky(up), { { 2, 0 }, { 1, 2 } }, 1e-12, 1e-12)
  end)
  it("rejects non positive definite, non-square, integer input", function()
    assert_error("InvalidArgument", { "cholesky", "not successful" },
      function() return tf.linalg.cholesky(T({ { 1.0, 2.0 }, { 2.0, 1.0 } })) end)
    assert_error("InvalidArgument", { "cholesky", "square" }, function() return tf.linalg.cholesky(tf.zeros({ 2, 3 })) end)
    assert_error("InvalidArgument", { "cholesky", "rank >= 2" }, function() return tf.linalg.cholesky(tf.zeros({ 3 })) end)
    assert_error("Unimplemented", { "cholesky", "int32" }, function() return tf.linalg.cholesky(tf.constant({ { 1 } })) end)
  end)
  it("triangular_solve: lower, upper, adjoint", function()
    local C = tf.linalg.cholesky(T(spd))
    assert_close(tf.linalg.triangular_solve(C, T(rhs)), ref[2], 1e-10, 1e-12)
    assert_close(tf.linalg.triangular_solve(C, T(rhs), { adjoint = true }), ref[3], 1e-10, 1e-12)
    assert_close(tf.linalg.triangular_solve(C, T(rhs), true, true), ref[3], 1e-10, 1e-12)
    assert_close(tf.linalg.triangular_solve(T(spd), T(rhs), { lower = false }), ref[4], 1e-10, 1e-12)
    assert_close(tf.linalg.triangular_solve(T(spd, tf.float32), T(rhs, tf.float32), { lower = false }), ref[4], 1e-4, 1e-5)
    assert_error("InvalidArgument", { "rhs has 2 rows" },
      function() return tf.linalg.triangular_solve(tf.zeros({ 3, 3 }), tf.zeros({ 2, 1 })) end)
    assert_error("Unimplemented", { "float32[2,3,3], float32[4,3,1]: the batch dimensions must agree" },
      function() return tf.linalg.triangular_solve(tf.zeros({ 2, 3, 3 }), tf.zeros({ 4, 3, 1 })) end)
    assert_error("InvalidArgument", { "qr: float32[3]: input must have rank >= 2" },
      function() return tf.linalg.qr(tf.zeros({ 3 })) end)
    assert_error("Unimplemented", { "int32[1,2]: dtype int32 is not supported" },
      function() return tf.linalg.svd(tf.constant({ { 1, 2 } })) end)
  end)
  it("cholesky_solve solves A x = b", function()
    assert_close(tf.linalg.cholesky_solve(tf.linalg.cholesky(T(spd)), T(rhs)), ref[5], 1e-10, 1e-12)
  end)
end)

describe("tf.linalg eigh, qr, svd", function()
  it("eigh: ascending eigenvalues, orthonormal eigenvectors that reconstruct", function()
    local e, v = tf.linalg.eigh(T(spd))
    assert_close(e, ref[6], 1e-12, 1e-12)
    assert_close(tf.linalg.eigvalsh(T(spd)), ref[6], 1e-12, 1e-12)
    assert_close(tf.abs(v), ref[12], 1e-10, 1e-10)
    local rec = tf.matmul(tf.multiply(v, tf.expand_dims(e, -2)), v, { transpose_b = true })
    assert_close(rec, spd, 1e-12, 1e-12)
    local e32 = tf.linalg.eigvalsh(T(spd, tf.float32))
    assert.equal(tf.float32, e32.dtype)
    assert_close(e32, ref[6], 1e-5, 1e-6)
  end)
  it("qr: reduced and full shapes, q r = input, |r| as numpy", function()
    local q, r = tf.linalg.qr(T(m43))
    assert.same({ 4, 3 }, q.shape:as_list())
    assert.same({ 3, 3 }, r.shape:as_list())
    assert_close(tf.abs(r), ref[8], 1e-12, 1e-12)
    assert_close(tf.matmul(q, r), m43, 1e-12, 1e-12)
    assert_close(tf.matmul(q, q, { transpose_a = true }), tf.eye(3, nil, { dtype = tf.float64 }), 1e-12, 1e-12)
    local qf, rf = tf.linalg.qr(T(m43), { full_matrices = true })
    assert.same({ 4, 4 }, qf.shape:as_list())
    assert.same({ 4, 3 }, rf.shape:as_list())
    assert_close(tf.matmul(qf, rf), m43, 1e-12, 1e-12)
    assert_close(tf.matmul(qf, qf, { transpose_a = true }), tf.eye(4, nil, { dtype = tf.float64 }), 1e-12, 1e-12)
    local qw, rw = tf.linalg.qr(tf.transpose(T(m43)))
    assert.same({ 3, 3 }, qw.shape:as_list())
    assert.same({ 3, 4 }, rw.shape:as_list())
    assert_close(tf.matmul(qw, rw), tf.transpose(T(m43)), 1e-12, 1e-12)
  end)
  it("svd: descending s, u diag(s) vᵀ = input, full matrices, compute_uv=false", function()
    local s, u, v = tf.linalg.svd(T(m43))
    assert_close(s, ref[7], 1e-12, 1e-12)
    assert.same({ 4, 3 }, u.shape:as_list())
    assert.same({ 3, 3 }, v.shape:as_list())
    assert_close(tf.abs(u), ref[13], 1e-10, 1e-10)
    assert_close(tf.matmul(tf.multiply(u, tf.expand_dims(s, -2)), v, { transpose_b = true }), m43, 1e-12, 1e-12)
    local s2, uf, vf = tf.linalg.svd(T(m43), { full_matrices = true })
    assert.same({ 4, 4 }, uf.shape:as_list())
    assert.same({ 3, 3 }, vf.shape:as_list())
    assert_close(tf.matmul(uf, uf, { transpose_a = true }), tf.eye(4, nil, { dtype = tf.float64 }), 1e-12, 1e-12)
    local only = { tf.linalg.svd(T(m43, tf.float32), { compute_uv = false }) }
    assert.equal(1, #only)
    assert_close(only[1], ref[7], 1e-5, 1e-5)
    local sb = tf.linalg.svd(tf.stack({ T(m43), T(m43) }), false, false)
    assert.same({ 2, 3 }, sb.shape:as_list())
  end)
end)

describe("tf.linalg composites", function()
  it("pinv, matrix_rank, slogdet match numpy", function()
    assert_close(tf.linalg.pinv(T(m43)), ref[9], 1e-10, 1e-12)
    assert.equal(ref[10][1], tf.linalg.matrix_rank(T(m43)):item())
    assert.equal(1, tf.linalg.matrix_rank(T({ { 1.0, 2.0 }, { 2.0, 4.0 } })):item())
    local sign, logabs = tf.linalg.slogdet(T(spd))
    assert_close(sign, ref[11][1], 0, 0)
    assert_close(logabs, ref[11][2], 1e-12, 1e-12)
  end)
  it("band_part keeps the band (TensorFlow's documented example)", function()
    local x = T({ { 0, 1, 2, 3 }, { -1, 0, 1, 2 }, { -2, -1, 0, 1 }, { -3, -2, -1, 0 } })
    assert.same({ { 0, 1, 0, 0 }, { -1, 0, 1, 0 }, { -2, -1, 0, 1 }, { 0, -2, -1, 0 } },
      tf.linalg.band_part(x, 2, 1):totable())
    assert.same({ { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, { 0, 0, 0, 0 } }, tf.linalg.band_part(x, 0, 0):totable())
    assert.same({ { 0, 1, 2, 3 }, { 0, 0, 1, 2 }, { 0, 0, 0, 1 }, { 0, 0, 0, 0 } }, tf.linalg.band_part(x, 0, -1):totable())
  end)
  it("matvec and cross", function()
    assert.same({ 5, 11 }, tf.linalg.matvec(T({ { 1, 2 }, { 3, 4 } }), T({ 1, 2 })):totable())
    assert.same({ 7, 10 }, tf.linalg.matvec(T({ { 1, 2 }, { 3, 4 } }), T({ 1, 2 }), { transpose_a = true }):totable())
    assert.same({ { -3, 6, -3 } }, tf.linalg.cross(T({ { 1, 2, 3 } }), T({ { 4, 5, 6 } })):totable())
    assert_error("InvalidArgument", { "cross", "must be 3" }, function() return tf.linalg.cross(T({ 1, 2 }), T({ 3, 4 })) end)
  end)
  it("empty matrices give empty factors (identities where full q, u, v have columns)", function()
    assert.same({ 2, 0, 0 }, tf.linalg.cholesky(tf.zeros({ 2, 0, 0 })).shape:as_list())
    local s, u, v = tf.linalg.svd(tf.zeros({ 0, 3 }), { full_matrices = true })
    assert.same({ 0 }, s.shape:as_list())
    assert.same({ 0, 0 }, u.shape:as_list())
    assert.same({ { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } }, v:totable())
    local q, r = tf.linalg.qr(tf.zeros({ 3, 0 }), { full_matrices = true })
    assert.same({ { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } }, q:totable())
    assert.same({ 3, 0 }, r.shape:as_list())
    local e = tf.linalg.eigh(tf.zeros({ 0, 0 }))
    assert.same({ 0 }, e.shape:as_list())
  end)
  it("trace: the ops run inside tf.trace", function()
    local f = tf.trace(function(a) local e = tf.linalg.eigvalsh(a) return tf.reduce_sum(e, { axis = -1 }) end)
    assert_close(f(T(spd)), { 12, 4.5 }, 1e-12, 1e-12)
    local g = tf.trace(function(a) local q, r = tf.linalg.qr(a) return tf.matmul(q, r) end)
    assert_close(g(T(m43)), m43, 1e-12, 1e-12)
  end)
end)
