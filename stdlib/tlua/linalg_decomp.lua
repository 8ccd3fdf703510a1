-- tlua.linalg_decomp: the tf.linalg functions built from the decomposition
-- ops of src/ops/decomp.c (cholesky, matrix_triangular_solve, eigh, qr,
-- svd_full) and ordinary ops, so they trace and differentiate wherever their
-- parts do. TensorFlow's argument order; options tables as everywhere.
-- Static matrix dimensions are needed by band_part, matvec and the mask
-- helpers (a symbolic -1 dimension raises InvalidArgument).
local M = {}

function M.install(tf)
  local core = tf.core
  local ops = core.ops
  local check_options = require("tlua.errors").check_options
  local function raise(msg) core.raise("InvalidArgument", msg) end

  local function tensor(x, like)
    if core.is_tensor(x) then return x end
    if like then return core.constant_on(x, like.dtype, like.device) end
    return core.constant(x)
  end

  -- Trailing options table (and positional arguments before it).
  local function opts_of(name, allowed, ...)
    local args = table.pack(...)
    local o = {}
    for i = 1, args.n do
      local v = args[i]
      if core.is_options(v) then
        for k, val in pairs(v) do o[k] = val end
        for k = i, args.n do args[k] = nil end
        args.n = i - 1
        break
      end
    end
    check_options(name, o, allowed)
    return o, args
  end

  local function dim(x, i, name)
    local d = x.shape[i]
    if d == nil or d < 0 then raise(name .. ": needs static matrix dimensions") end
    return d
  end

  -- band_part(input, num_lower, num_upper): keeps the entries with
  -- -num_lower <= j - i <= num_upper (a negative count keeps that whole side).
  local function band_part(input, num_lower, num_upper, opts)
    check_options("band_part", core.is_options(opts) and opts or nil, { name = true })
    input = tensor(input)
    if input.ndim < 2 then raise("band_part: input must have rank >= 2") end
    if math.type(num_lower) ~= "integer" or math.type(num_upper) ~= "integer" then
      raise("band_part: num_lower and num_upper must be integers")
    end
    return ops.matrix_band_part(input, num_lower, num_upper)
  end

  local function triangular_solve(matrix, rhs, ...)
    local o, a = opts_of("triangular_solve", { lower = true, adjoint = true, name = true }, ...)
    local lower, adjoint = a[1], a[2]
    if lower == nil then lower = o.lower end
    if adjoint == nil then adjoint = o.adjoint end
    if lower == nil then lower = true end
    matrix = tensor(matrix)
    return ops.matrix_triangular_solve(matrix, tensor(rhs, matrix), { lower = lower, adjoint = adjoint or false })
  end

  -- cholesky_solve(chol, rhs): solves A x = rhs given chol = cholesky(A).
  local function cholesky_solve(chol, rhs, opts)
    check_options("cholesky_solve", core.is_options(opts) and opts or nil, { name = true })
    chol = tensor(chol)
    local y = ops.matrix_triangular_solve(chol, tensor(rhs, chol), { lower = true })
    return ops.matrix_triangular_solve(chol, y, { lower = true, adjoint = true })
  end

  local function eigvalsh(t, opts)
    check_options("eigvalsh", core.is_options(opts) and opts or nil, { name = true })
    local e = ops.eigh(tensor(t))
    return e
  end

  -- svd(tensor, full_matrices=false, compute_uv=true): s, u, v (or s).
  local function svd(t, ...)
    local o, a = opts_of("svd", { full_matrices = true, compute_uv = true, name = true }, ...)
    local full, uv = a[1], a[2]
    if full == nil then full = o.full_matrices or false end
    if uv == nil then uv = o.compute_uv end
    if uv == nil then uv = true end
    local s, u, v = ops.svd_full(tensor(t), { full_matrices = full })
    if not uv then return s end
    return s, u, v
  end

  local function qr(t, ...)
    local o, a = opts_of("qr", { full_matrices = true, name = true }, ...)
    local full = a[1]
    if full == nil then full = o.full_matrices or false end
    return ops.qr(tensor(t), { full_matrices = full })
  end

  -- matvec(a, b, transpose_a, adjoint_a): matmul with b as a column.
  local function matvec(a, b, ...)
    local o, args = opts_of("matvec", { transpose_a = true, adjoint_a = true, a_is_sparse = true,
      b_is_sparse = true, name = true }, ...)
    local ta = args[1]
    if ta == nil then ta = o.transpose_a or o.adjoint_a or false end
    a = tensor(a)
    b = tensor(b, a)
    local r = tf.matmul(a, tf.expand_dims(b, -1), { transpose_a = ta })
    return tf.squeeze(r, { -1 })
  end

  -- cross(a, b): the cross product of the last dimension (size 3).
  local function cross(a, b, opts)
    check_options("cross", core.is_options(opts) and opts or nil, { name = true })
    a = tensor(a)
    b = tensor(b, a)
    if a.ndim < 1 or a.shape[-1] ~= 3 or b.ndim < 1 or b.shape[-1] ~= 3 then
      raise("cross: the last dimension of both arguments must be 3")
    end
    local ax, bx = tf.unstack(a, { axis = -1 }), tf.unstack(b, { axis = -1 })
    local c1 = tf.subtract(tf.multiply(ax[2], bx[3]), tf.multiply(ax[3], bx[2]))
    local c2 = tf.subtract(tf.multiply(ax[3], bx[1]), tf.multiply(ax[1], bx[3]))
    local c3 = tf.subtract(tf.multiply(ax[1], bx[2]), tf.multiply(ax[2], bx[1]))
    return tf.stack({ c1, c2, c3 }, { axis = -1 })
  end

  -- slogdet(input): sign(det) and log|det|, log|det| from qr's R diagonal
  -- (no overflow), the sign from det's sign.
  local function slogdet(input, opts)
    check_options("slogdet", core.is_options(opts) and opts or nil, { name = true })
    input = tensor(input)
    local _, r = ops.qr(input)
    local logabs = tf.reduce_sum(tf.math.log(tf.abs(tf.linalg.diag_part(r))), { axis = -1 })
    return tf.sign(tf.linalg.det(input)), logabs
  end

  -- Singular values above rcond * max(s) (default rcond: 10 eps max(m, n)).
  local function cutoff(s, m, n, rcond, dtype)
    if rcond == nil then
      local eps = dtype == tf.float64 and 2.220446049250313e-16 or 1.1920929e-07
      rcond = 10 * eps * math.max(m, n)
    end
    local smax = tf.reduce_max(s, { axis = -1, keepdims = true })
    return tf.multiply(smax, rcond)
  end

  local function pinv(a, ...)
    local o, args = opts_of("pinv", { rcond = true, validate_args = true, name = true }, ...)
    local rcond = args[1]
    if rcond == nil then rcond = o.rcond end
    a = tensor(a)
    local m, n = dim(a, -2, "pinv"), dim(a, -1, "pinv")
    local s, u, v = ops.svd_full(a)
    local tol = cutoff(s, m, n, rcond, a.dtype)
    local big = tf.greater(s, tol)
    local sinv = tf.where(big, tf.divide(tf.ones_like(s), tf.where(big, s, tf.ones_like(s))), tf.zeros_like(s))
    return tf.matmul(tf.multiply(v, tf.expand_dims(sinv, -2)), u, { transpose_b = true })
  end

  local function matrix_rank(a, ...)
    local o, args = opts_of("matrix_rank", { tol = true, validate_args = true, name = true }, ...)
    local tol = args[1]
    if tol == nil then tol = o.tol end
    a = tensor(a)
    local m, n = dim(a, -2, "matrix_rank"), dim(a, -1, "matrix_rank")
    local s = ops.svd_full(a)
    local t = tol ~= nil and tensor(tol, s) or cutoff(s, m, n, nil, a.dtype)
    return tf.reduce_sum(tf.cast(tf.greater(s, t), tf.int32), { axis = -1 })
  end

  local L = tf.linalg
  L.band_part, L.triangular_solve, L.cholesky_solve = band_part, triangular_solve, cholesky_solve
  L.eigvalsh, L.svd, L.qr, L.matvec, L.cross = eigvalsh, svd, qr, matvec, cross
  L.slogdet, L.pinv, L.matrix_rank = slogdet, pinv, matrix_rank
  tf.linalg.matrix_band_part = band_part
  tf.linalg.matrix_triangular_solve = triangular_solve
end

return M
