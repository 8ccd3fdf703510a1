-- Linear algebra against numpy: the BLAS loader (kernel choice, no link-time
-- OpenBLAS), matmul (transposes, batch broadcasting, dtypes, views,
-- zero-sized, the parallel split), tensordot, norm, inv/solve/det, and the
-- small matrix helpers; with the error messages.
local tf = require("tlua")
local helpers = require("helpers")
local assert_error, assert_close = helpers.assert_error, helpers.assert_close

-- Deterministic pseudo-random nested tables (values in [-1, 1)).
local function rand(shape, seed, int)
  local state = seed or 1
  local function nxt()
    state = (state * 1103515245 + 12345) % 2147483648
    return state
  end
  local function build(d)
    local t = {}
    for i = 1, shape[d] do
      if d == #shape then
        t[i] = int and (nxt() % 19 - 9) or (nxt() / 1073741824.0 - 1.0)
      else
        t[i] = build(d + 1)
      end
    end
    return t
  end
  return build(1)
end

-- A Lua nested table as a Python literal.
local function py(t)
  if type(t) ~= "table" then
    if math.type(t) == "integer" then return tostring(t) end
    if t ~= t then return "float('nan')" end
    if t == math.huge then return "float('inf')" end
    if t == -math.huge then return "float('-inf')" end
    return ("%.17g"):format(t)
  end
  local parts = {}
  for i, v in ipairs(t) do parts[i] = py(v) end
  return "[" .. table.concat(parts, ",") .. "]"
end

local function shape_of(t) return t.shape:as_list() end

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  p:close()
  return out
end

describe("BLAS loading", function()
  it("loads OpenBLAS at run time with a fast kernel for this CPU", function()
    local info = tf.core.blas_info()
    assert.is_true(info.loaded)
    assert.truthy(info.library:find("blas"), info.library)
    -- On an AVX2/AVX-512 machine the chosen kernel is never the generic
    -- fallback (Prescott/Core2/...), which is ten times slower.
    local flags = sh("grep -m1 '^flags' /proc/cpuinfo")
    if os.getenv("OPENBLAS_CORETYPE") == nil and flags:find(" avx2 ") and flags:find(" fma ") then
      local want = (flags:find(" avx512f ") and flags:find(" avx512bw ") and flags:find(" avx512vl ")
        and flags:find(" avx512dq ")) and "SkylakeX" or "Haswell"
      assert.equal(want, info.coretype)
      assert.equal(want, info.corename)
    end
  end)

  it("respects OPENBLAS_CORETYPE set by the user", function()
    local tlua = os.getenv("TLUA")
    if not tlua then pending("TLUA not set") return end
    local code = "local i = tf.core.blas_info() io.write(i.coretype, ' ', i.corename)"
    local out = sh("OPENBLAS_CORETYPE=Haswell " .. tlua .. " -e \"" .. code .. "\"")
    assert.equal("Haswell Haswell", out)
    out = sh("OPENBLAS_CORETYPE=Sandybridge " .. tlua .. " -e \"" .. code .. "\"")
    assert.equal("Sandybridge Sandybridge", out)
  end)

  it("is not linked at build time", function()
    local tlua = os.getenv("TLUA")
    if not tlua then pending("TLUA not set") return end
    local out = sh("ldd " .. tlua)
    assert.falsy(out:find("openblas"), out)
    assert.falsy(out:find("libblas"), out)
  end)
end)

describe("matmul", function()
  it("matches numpy for float32 with every transpose combination", function()
    local a, b = rand({ 5, 7 }, 1), rand({ 7, 3 }, 2)
    local at, bt = rand({ 7, 5 }, 3), rand({ 3, 7 }, 4)
    local ref = helpers.python(("a=np.array(%s);b=np.array(%s);at=np.array(%s);bt=np.array(%s)\n"
      .. "out=[a@b, at.T@b, a@bt.T, at.T@bt.T]"):format(py(a), py(b), py(at), py(bt)))
    local A, B, AT, BT = tf.constant(a), tf.constant(b), tf.constant(at), tf.constant(bt)
    local c = tf.matmul(A, B)
    assert.equal(tf.float32, c.dtype)
    assert.same({ 5, 3 }, shape_of(c))
    assert_close(c, ref[1], 1e-5, 1e-5)
    assert_close(tf.matmul(AT, B, { transpose_a = true }), ref[2], 1e-5, 1e-5)
    assert_close(tf.matmul(A, BT, { transpose_b = true }), ref[3], 1e-5, 1e-5)
    assert_close(tf.matmul(AT, BT, true, true), ref[4], 1e-5, 1e-5)
    assert_close(tf.linalg.matmul(AT, BT, { adjoint_a = true, adjoint_b = true }), ref[4], 1e-5, 1e-5)
    assert_close(A:matmul(B), ref[1], 1e-5, 1e-5)
  end)

  it("broadcasts batch dimensions", function()
    local a, b = rand({ 2, 1, 3, 4 }, 5), rand({ 5, 4, 2 }, 6)
    local ref = helpers.python(("out=np.matmul(np.array(%s), np.array(%s))"):format(py(a), py(b)))
    local c = tf.matmul(tf.constant(a), tf.constant(b))
    assert.same({ 2, 5, 3, 2 }, shape_of(c))
    assert_close(c, ref, 1e-5, 1e-5)
    -- a batch against one matrix (folded into one tall product), and the reverse
    local x, w = rand({ 3, 4, 6 }, 7), rand({ 6, 5 }, 8)
    ref = helpers.python(("x=np.array(%s);w=np.array(%s)\nout=[x@w, w.T@x.transpose(0,2,1)]"):format(py(x), py(w)))
    assert_close(tf.matmul(tf.constant(x), tf.constant(w)), ref[1], 1e-5, 1e-5)
    assert_close(tf.matmul(tf.constant(w), tf.constant(x), true, true), ref[2], 1e-5, 1e-5)
  end)

  it("computes float64 in double precision", function()
    local a, b = rand({ 4, 6 }, 9), rand({ 6, 3 }, 10)
    local ref = helpers.python(("out=np.array(%s)@np.array(%s)"):format(py(a), py(b)))
    local c = tf.matmul(tf.constant(a, tf.float64), tf.constant(b, tf.float64))
    assert.equal(tf.float64, c.dtype)
    assert_close(c, ref, 1e-13, 1e-14)
  end)

  it("multiplies int32 and int64 exactly, with wrap-around", function()
    local a, b = rand({ 3, 5 }, 11, true), rand({ 5, 4 }, 12, true)
    local ref = helpers.python(("out=np.array(%s)@np.array(%s)"):format(py(a), py(b)))
    local c = tf.matmul(tf.constant(a), tf.constant(b))
    assert.equal(tf.int32, c.dtype)
    assert.same(ref, c:totable())
    assert.same(ref, tf.matmul(tf.constant(a, tf.int64), tf.constant(b, tf.int64)):totable())
    assert.same(ref, tf.matmul(tf.transpose(tf.constant(a)), tf.constant(b), { transpose_a = true }):totable())
    -- 2^31 - 1 + 1 wraps as in TensorFlow (two's complement)
    local big = tf.matmul(tf.constant({ { 2147483647, 1 } }), tf.constant({ { 1 }, { 1 } }))
    assert.same({ { -2147483648 } }, big:totable())
  end)

  it("computes float16 through float32", function()
    local c = tf.matmul(tf.constant({ { 1, 2 }, { 3, 4 } }, tf.float16), tf.constant({ { 1 }, { 1 } }, tf.float16))
    assert.equal(tf.float16, c.dtype)
    assert.same({ { 3 }, { 7 } }, c:totable())
  end)

  it("gives zeros or empty results for zero-sized dimensions", function()
    local z = tf.matmul(tf.zeros({ 3, 0 }), tf.zeros({ 0, 4 }))
    assert.same({ 3, 4 }, shape_of(z))
    assert.same({ { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, { 0, 0, 0, 0 } }, z:totable())
    assert.same({ 0, 4 }, shape_of(tf.matmul(tf.zeros({ 0, 2 }), tf.zeros({ 2, 4 }))))
    assert.same({ 0, 2, 4 }, shape_of(tf.matmul(tf.zeros({ 0, 2, 2 }), tf.zeros({ 2, 4 }))))
    assert.same({ 2, 0 }, shape_of(tf.matmul(tf.zeros({ 2, 3 }, tf.int32), tf.zeros({ 3, 0 }, tf.int32))))
  end)

  it("reads non-contiguous views (transposed, strided, broadcast)", function()
    local a, b = rand({ 6, 8 }, 13), rand({ 8, 6 }, 14)
    local ref = helpers.python(("a=np.array(%s);b=np.array(%s)\nout=[a.T@b.T, a[::2,1::3]@b[::3,::2], "
      .. "np.broadcast_to(a[:1], (4,8))@b]"):format(py(a), py(b)))
    local A, B = tf.constant(a), tf.constant(b)
    assert_close(tf.matmul(tf.transpose(A), tf.transpose(B)), ref[1], 1e-5, 1e-5)
    assert_close(tf.matmul(A["::2, 1::3"], B["::3, ::2"]), ref[2], 1e-5, 1e-5)
    assert_close(tf.matmul(tf.broadcast_to(A["0:1"], { 4, 8 }), B), ref[3], 1e-5, 1e-5)
    -- transposed float64 views and batch views
    local x = rand({ 2, 3, 4 }, 15)
    ref = helpers.python(("x=np.array(%s)\nout=x.transpose(0,2,1)@x"):format(py(x)))
    local X = tf.constant(x, tf.float64)
    assert_close(tf.matmul(tf.transpose(X, { 0, 2, 1 }), X), ref, 1e-12, 1e-12)
  end)

  it("splits large products across threads with the same result", function()
    local a, b = rand({ 150, 70 }, 16), rand({ 70, 260 }, 17)
    local ref = helpers.python(("out=(np.array(%s,dtype=np.float64)@np.array(%s)).tolist()"):format(py(a), py(b)))
    local A, B = tf.constant(a), tf.constant(b)
    local n = tf.core.num_threads()
    for _, t in ipairs({ 1, 2, 3 }) do
      tf.core.set_num_threads(t)
      assert_close(tf.matmul(A, B), ref, 1e-4, 1e-4)
      assert_close(tf.matmul(B, A, true, true), helpers.python(("out=np.array(%s).T"):format(py(ref))), 1e-4, 1e-4)
    end
    tf.core.set_num_threads(n)
  end)

  it("reports bad operands naming both shapes", function()
    assert_error("InvalidArgument", { "matmul: float32[32,10] @ float32[20,5]: inner dimensions differ (10 vs 20)" },
      function() return tf.matmul(tf.zeros({ 32, 10 }), tf.zeros({ 20, 5 })) end)
    assert_error("InvalidArgument", { "matmul", "float32[3]", "rank >= 2" },
      function() return tf.matmul(tf.zeros({ 3 }), tf.zeros({ 3, 2 })) end)
    assert_error("InvalidArgument", { "matmul", "different dtypes", "float32", "float64" },
      function() return tf.matmul(tf.zeros({ 2, 2 }), tf.zeros({ 2, 2 }, tf.float64)) end)
    assert_error("InvalidArgument", { "matmul", "batch dimensions", "float32[2,2,2] @ float32[3,2,2]" },
      function() return tf.matmul(tf.zeros({ 2, 2, 2 }), tf.zeros({ 3, 2, 2 })) end)
    assert_error("InvalidArgument", { "transpose_a and adjoint_a" },
      function() return tf.matmul(tf.zeros({ 2, 2 }), tf.zeros({ 2, 2 }), { transpose_a = true, adjoint_a = true }) end)
    assert_error("InvalidArgument", { "(a transposed)", "inner dimensions differ (2 vs 3)" },
      function() return tf.matmul(tf.zeros({ 2, 4 }), tf.zeros({ 3, 4 }), { transpose_a = true }) end)
    assert_error("Unimplemented", { "matmul", "bool" },
      function() return tf.matmul(tf.constant({ { true } }), tf.constant({ { true } })) end)
  end)
end)

describe("tensordot", function()
  it("matches numpy for integer and paired axes", function()
    local a, b = rand({ 3, 4, 5 }, 20), rand({ 4, 5, 2 }, 21)
    local c = rand({ 5, 3 }, 22)
    local ref = helpers.python(("a=np.array(%s);b=np.array(%s);c=np.array(%s)\n"
      .. "out=[np.tensordot(a,b,2), np.tensordot(a,c,[[0,2],[1,0]]), np.tensordot(a,c,0).shape, np.tensordot(a,b,[1,0])]")
      :format(py(a), py(b), py(c)))
    local A, B, C = tf.constant(a), tf.constant(b), tf.constant(c)
    assert_close(tf.tensordot(A, B, 2), ref[1], 1e-5, 1e-5)
    assert_close(tf.linalg.tensordot(A, C, { { 0, 2 }, { 1, 0 } }), ref[2], 1e-5, 1e-5)
    assert.same(ref[3], shape_of(tf.tensordot(A, C, 0)))
    assert_close(A:tensordot(B, { 1, 0 }), ref[4], 1e-5, 1e-5)
    assert_close(tf.tensordot(A, B, { axes = 2 }), ref[1], 1e-5, 1e-5)
    assert_close(tf.tensordot(tf.transpose(A), B, { { 1, 0 }, { 0, 1 } }),
      helpers.python(("a=np.array(%s);b=np.array(%s)\nout=np.tensordot(a.T,b,[[1,0],[0,1]])"):format(py(a), py(b))),
      1e-5, 1e-5)
  end)

  it("reports mismatched axes", function()
    local A, B = tf.zeros({ 3, 4 }), tf.zeros({ 5, 2 })
    assert_error("InvalidArgument", { "tensordot", "float32[3,4], float32[5,2]", "contracted dimensions differ" },
      function() return tf.tensordot(A, B, 1) end)
    assert_error("InvalidArgument", { "tensordot", "axes=3" }, function() return tf.tensordot(A, B, 3) end)
    assert_error("InvalidArgument", { "tensordot", "differ in length" },
      function() return tf.tensordot(A, B, { { 0, 1 }, { 0 } }) end)
    assert_error("InvalidArgument", { "tensordot", "axis 5 is out of range" },
      function() return tf.tensordot(A, B, { 5, 0 }) end)
  end)
end)

describe("norm", function()
  local x = rand({ 3, 4 }, 30)
  local ref = helpers.python(("x=np.array(%s);L=np.linalg\nout=[L.norm(x), L.norm(x,1,axis=1), L.norm(x,np.inf,axis=0), "
    .. "L.norm(x,3,axis=-1), L.norm(x,'fro',axis=(0,1)), L.norm(x,1,axis=(0,1)), L.norm(x,np.inf,axis=(0,1)), "
    .. "L.norm(x,axis=1,keepdims=True), L.norm(x,np.inf,axis=(1,0))]"):format(py(x)))

  it("computes vector and matrix norms like numpy", function()
    local X = tf.constant(x)
    assert_close(tf.norm(X), ref[1], 1e-5, 1e-6)
    assert.same({}, shape_of(tf.norm(X)))
    assert_close(tf.norm(X, 1, 1), ref[2], 1e-5, 1e-6)
    assert_close(tf.linalg.norm(X, math.huge, 0), ref[3], 1e-5, 1e-6)
    assert_close(tf.norm(X, 3, -1), ref[4], 1e-5, 1e-6)
    assert_close(tf.norm(X, "fro", { 0, 1 }), ref[5], 1e-5, 1e-6)
    assert_close(tf.norm(X, "euclidean", { 0, 1 }), ref[5], 1e-5, 1e-6)
    assert_close(tf.norm(X, 1, { 0, 1 }), ref[6], 1e-5, 1e-6)
    assert_close(tf.norm(X, "inf", { 0, 1 }), ref[7], 1e-5, 1e-6)
    assert_close(tf.norm(X, { axis = 1, keepdims = true }), ref[8], 1e-5, 1e-6)
    assert_close(tf.norm(X, math.huge, { 1, 0 }), ref[9], 1e-5, 1e-6)
    assert_close(X:norm(), ref[1], 1e-5, 1e-6)
    assert_close(tf.Variable(X):norm(1, 1), ref[2], 1e-5, 1e-6)
    assert_close(tf.Variable(X):tensordot(X, { { 0, 1 }, { 0, 1 } }), ref[1] * ref[1], 1e-5, 1e-6)
    assert.same({ 1, 1 }, shape_of(tf.norm(X, { keepdims = true })))
    assert_close(tf.norm(tf.constant(x, tf.float64)), ref[1], 1e-12, 1e-12)
    assert_close(tf.norm(tf.transpose(X), 1, 0), ref[2], 1e-5, 1e-6)
    assert.same({ 0, 0, 0 }, tf.norm(tf.zeros({ 3, 0 }), { axis = 1 }):totable())
  end)

  it("rejects unsupported orders and axes", function()
    local X = tf.zeros({ 2, 2 })
    assert_error("InvalidArgument", { "norm", "'fro' is a matrix norm" }, function() return tf.norm(X, "fro") end)
    assert_error("InvalidArgument", { "norm", "ord '-1'" }, function() return tf.norm(X, -1) end)
    assert_error("InvalidArgument", { "norm", "ord 'max'" }, function() return tf.norm(X, "max") end)
    assert_error("InvalidArgument", { "norm", "pair of axes" }, function() return tf.norm(tf.zeros({ 2, 2, 2 }), 2, { 0, 1, 2 }) end)
    assert_error("InvalidArgument", { "norm", "axes must differ" }, function() return tf.norm(X, 1, { 1, 1 }) end)
    assert_error("Unimplemented", { "norm", "int32" }, function() return tf.norm(tf.constant({ 1, 2 })) end)
  end)
end)

describe("matrix 2-norm (largest singular value, LAPACK dgesvd)", function()
  local b = rand({ 2, 3, 5, 4 }, 31)
  local ref = helpers.python(("b=np.array(%s);import torch\n"
    .. "t=torch.tensor(b,requires_grad=True);n=torch.linalg.matrix_norm(t,2,dim=(-2,-1));n.sum().backward()\n"
    .. "t2=torch.tensor(b,requires_grad=True);n2=torch.linalg.matrix_norm(t2,2,dim=(1,3));(n2*torch.arange(1.0,11.0,dtype=torch.float64).reshape(2,5)).sum().backward()\n"
    .. "out=[n.tolist(), t.grad.tolist(), n2.tolist(), t2.grad.tolist(), np.linalg.norm(b[0,0],2), np.linalg.norm(b[0,0].T,2)]"):format(py(b)))

  it("matches numpy/PyTorch for batches, any pair of axes, float32 and float64", function()
    local B = tf.constant(b, tf.float64)
    assert_close(tf.norm(B, 2, { -2, -1 }), ref[1], 1e-12, 1e-12)
    assert_close(tf.norm(tf.constant(b), 2, { 2, 3 }), ref[1], 1e-5, 1e-6)
    assert_close(tf.norm(B, 2, { 1, 3 }), ref[3], 1e-12, 1e-12)
    assert_close(tf.norm(B[0][0], 2, { 0, 1 }), ref[5], 1e-12, 1e-12)
    assert_close(tf.norm(B[0][0], 2, { 1, 0 }), ref[6], 1e-12, 1e-12)
    assert.same({ 2, 1, 1, 4 }, shape_of(tf.norm(B, 2, { 1, 2 }, true)))
    -- a row, a column, a zero matrix, zero-sized, NaN and inf
    assert_close(tf.norm(tf.constant({ { 3.0, 4.0 } }), 2, { 0, 1 }), 5.0, 1e-6, 0)
    assert_close(tf.norm(tf.constant({ { 3.0 }, { 4.0 } }), 2, { 0, 1 }), 5.0, 1e-6, 0)
    assert.same(0.0, tf.norm(tf.zeros({ 3, 2 }), 2, { 0, 1 }):item())
    assert.same({ 0.0, 0.0 }, tf.norm(tf.zeros({ 2, 0, 3 }), 2, { 1, 2 }):totable())
    assert.is_true(tf.math.is_nan(tf.norm(tf.constant({ { 0 / 0, 1.0 }, { 1.0, 1.0 } }), 2, { 0, 1 })):item())
    assert.same(math.huge, tf.norm(tf.constant({ { -1 / 0, 1.0 }, { 1.0, 1.0 } }), 2, { 0, 1 }):item())
    assert.is_true(tf.math.is_nan(tf.norm(tf.constant({ { 1 / 0, 0 / 0 } }), 2, { 0, 1 })):item())
  end)

  it("has the gradient u1 v1' (PyTorch's; central differences below)", function()
    local V = tf.Variable(b, { dtype = tf.float64 })
    local tape = tf.GradientTape({ persistent = true })
    local n = tf.norm(V, 2, { -2, -1 })
    local w = tf.reshape(tf.range(1, 11, 1, tf.float64), { 2, 5 })
    local n2 = tf.norm(V, 2, { 1, 3 })
    assert_close(tape:gradient(n, V), ref[2], 1e-9, 1e-9)
    assert_close(tape:gradient(n2, V, { output_gradients = w }), ref[4], 1e-9, 1e-9)
    -- the zero matrix gets the zero subgradient
    local Z = tf.Variable(tf.zeros({ 2, 2 }))
    local tz = tf.GradientTape()
    assert.same({ { 0.0, 0.0 }, { 0.0, 0.0 } }, tz:gradient(tf.norm(Z, 2, { 0, 1 }), Z):totable())
    -- a second derivative is refused, not silently wrong
    local outer = tf.GradientTape()
    local inner = tf.GradientTape()
    local g = inner:gradient(tf.norm(V, 2, { -2, -1 }), V)
    assert_error("Unimplemented", { "second derivative of the matrix 2-norm" },
      function() return outer:gradient(tf.reduce_sum(g), V) end)
  end)
end)

describe("inv, solve, det", function()
  local m = rand({ 2, 4, 4 }, 40)
  local r = rand({ 2, 4, 3 }, 41)
  local ref = helpers.python(("m=np.array(%s);r=np.array(%s);L=np.linalg\n"
    .. "out=[L.inv(m), L.solve(m,r), L.det(m), L.inv(m.transpose(0,2,1)), L.solve(m.transpose(0,2,1),r), L.solve(m,r[0][None])]")
    :format(py(m), py(r)))

  it("match numpy in float32 and float64, batched", function()
    local M, R = tf.constant(m), tf.constant(r)
    assert_close(tf.linalg.inv(M), ref[1], 1e-3, 1e-4)
    assert_close(tf.linalg.solve(M, R), ref[2], 1e-3, 1e-4)
    assert_close(tf.linalg.det(M), ref[3], 1e-4, 1e-5)
    local M64, R64 = tf.constant(m, tf.float64), tf.constant(r, tf.float64)
    assert_close(tf.linalg.inv(M64), ref[1], 1e-10, 1e-11)
    assert_close(tf.linalg.solve(M64, R64), ref[2], 1e-10, 1e-11)
    assert_close(tf.linalg.det(M64), ref[3], 1e-12, 1e-12)
    assert.equal(tf.float64, tf.linalg.det(M64).dtype)
    assert.same({ 2 }, shape_of(tf.linalg.det(M64)))
  end)

  it("take adjoint, transposed views and broadcast batches", function()
    local M, R = tf.constant(m, tf.float64), tf.constant(r, tf.float64)
    assert_close(tf.linalg.inv(M, { adjoint = true }), ref[4], 1e-10, 1e-11)
    assert_close(tf.linalg.inv(tf.transpose(M, { 0, 2, 1 })), ref[4], 1e-10, 1e-11)
    assert_close(tf.linalg.solve(M, R, { adjoint = true }), ref[5], 1e-10, 1e-11)
    assert_close(tf.linalg.solve(M, R[0]), ref[6], 1e-10, 1e-11)
    assert_close(tf.linalg.det(tf.transpose(M, { 0, 2, 1 })), ref[3], 1e-12, 1e-12)
  end)

  it("handle the identity, 1x1 and empty matrices", function()
    assert.same({ { 1, 0 }, { 0, 1 } }, tf.linalg.inv(tf.constant({ { 1.0, 0 }, { 0, 1 } })):totable())
    assert.same({ { 0.5 } }, tf.linalg.inv(tf.constant({ { 2.0 } })):totable())
    assert.equal(-2, tf.linalg.det(tf.constant({ { 1.0, 2 }, { 3, 4 } }, tf.float64)):item())
    assert.same({ 0, 0 }, shape_of(tf.linalg.inv(tf.zeros({ 0, 0 }))))
    assert.equal(1, tf.linalg.det(tf.zeros({ 0, 0 })):item())
    assert.same({ 0, 3, 3 }, shape_of(tf.linalg.inv(tf.zeros({ 0, 3, 3 }))))
  end)

  it("report singular matrices and bad shapes", function()
    local S = tf.constant({ { 1.0, 2 }, { 2, 4 } })
    assert_error("InvalidArgument", { "inv: float32[2,2]: matrix is not invertible" }, function() return tf.linalg.inv(S) end)
    assert_error("InvalidArgument", { "solve", "matrix is not invertible" },
      function() return tf.linalg.solve(S, tf.constant({ { 1.0 }, { 1.0 } })) end)
    assert_error("InvalidArgument", { "batch entry 1" },
      function() return tf.linalg.inv(tf.stack({ tf.constant({ { 1.0, 0 }, { 0, 1 } }), S })) end)
    assert.equal(0, tf.linalg.det(S):item())
    assert_error("InvalidArgument", { "inv", "float32[2,3]", "square" }, function() return tf.linalg.inv(tf.zeros({ 2, 3 })) end)
    assert_error("InvalidArgument", { "det", "rank >= 2" }, function() return tf.linalg.det(tf.zeros({ 3 })) end)
    assert_error("InvalidArgument", { "solve", "rhs has 3 rows" },
      function() return tf.linalg.solve(tf.zeros({ 2, 2 }), tf.zeros({ 3, 1 })) end)
    assert_error("Unimplemented", { "inv", "int32" }, function() return tf.linalg.inv(tf.constant({ { 1 } })) end)
  end)
end)

describe("matrix helpers", function()
  it("transpose, trace, diag and diag_part match numpy", function()
    local x = rand({ 2, 3, 4 }, 50)
    local ref = helpers.python(("x=np.array(%s)\nout=[x.transpose(0,2,1), np.trace(x,axis1=1,axis2=2), "
      .. "np.diagonal(x,axis1=1,axis2=2)]"):format(py(x)))
    local X = tf.constant(x)
    assert_close(tf.linalg.matrix_transpose(X), ref[1])
    assert_close(tf.linalg.trace(X), ref[2], 1e-5, 1e-6)
    assert_close(tf.linalg.diag_part(X), ref[3])
    assert.same({ { 1, 0 }, { 0, 2 } }, tf.linalg.diag(tf.constant({ 1, 2 })):totable())
    assert.same({ { { 1, 0 }, { 0, 2 } }, { { 3, 0 }, { 0, 4 } } }, tf.linalg.diag(tf.constant({ { 1, 2 }, { 3, 4 } })):totable())
    assert.same(12, tf.linalg.trace(tf.constant({ { 5, 1 }, { 2, 7 } })):item())
    assert_error("InvalidArgument", { "trace", "rank >= 2" }, function() return tf.linalg.trace(tf.zeros({ 3 })) end)
  end)
end)

-- Gradients against float64 central differences. The loss is <w, f(x)> with
-- fixed weights w passed as output_gradients, so only the rules of the ops
-- under test are involved (the shared gradcheck needs reduce_sum's rule).
local function flat(t)
  local out = {}
  local function walk(x)
    if type(x) == "table" then for _, v in ipairs(x) do walk(v) end else out[#out + 1] = x end
  end
  walk(type(t) == "table" and t or t:totable())
  return out
end

local function gradcheck(fn, inputs, tol)
  local xs = {}
  for i, v in ipairs(inputs) do xs[i] = tf.constant(v, tf.float64) end
  local y0 = fn(table.unpack(xs))
  local n = #flat(y0)
  local wv = {}
  for i = 1, n do wv[i] = math.sin(i * 1.3) + 0.5 end
  local w = tf.reshape(tf.constant(wv, tf.float64), y0.shape:as_list())
  local tape = tf.GradientTape()
  for _, x in ipairs(xs) do tape:watch(x) end
  local y = fn(table.unpack(xs))
  local grads = tape:gradient(y, xs, { output_gradients = w })
  local function loss(args)
    local f, s = flat(fn(table.unpack(args))), 0
    for i = 1, n do s = s + f[i] * wv[i] end
    return s
  end
  local eps = 1e-6
  for i, x in ipairs(xs) do
    local vals, shape = flat(x), x.shape:as_list()
    local g = flat(grads[i])
    assert.equal(#vals, #g)
    for e = 1, #vals do
      local args = { table.unpack(xs) }
      local orig = vals[e]
      vals[e] = orig + eps
      args[i] = tf.reshape(tf.constant(vals, tf.float64), shape)
      local lp = loss(args)
      vals[e] = orig - eps
      args[i] = tf.reshape(tf.constant(vals, tf.float64), shape)
      local lm = loss(args)
      vals[e] = orig
      local num = (lp - lm) / (2 * eps)
      assert(math.abs(num - g[e]) <= (tol or 1e-6) * math.max(1, math.abs(num)),
        ("input %d element %d: analytic %.10g vs numeric %.10g"):format(i, e, g[e], num))
    end
  end
end

describe("gradients", function()
  local m23 = { { 0.5, -1.0, 2.0 }, { 1.5, 0.25, -0.75 } }
  local m32 = { { 1.0, -0.5 }, { 0.75, 2.0 }, { -1.25, 0.5 } }
  local sq = { { 2.0, 0.5, -0.25 }, { 0.3, 1.5, 0.4 }, { -0.2, 0.1, 1.8 } }
  local rhs = { { 1.0, -0.5 }, { 0.25, 2.0 }, { -1.0, 0.75 } }

  it("of matmul for every transpose and with batch broadcasting", function()
    gradcheck(function(a, b) return tf.matmul(a, b) end, { m23, m32 })
    gradcheck(function(a, b) return tf.matmul(a, b, true, false) end, { m32, m32 })
    gradcheck(function(a, b) return tf.matmul(a, b, false, true) end, { m23, m23 })
    gradcheck(function(a, b) return tf.matmul(a, b, { adjoint_a = true, adjoint_b = true }) end, { m32, m23 })
    gradcheck(function(a, b) return tf.matmul(a, b) end, { { m23, m23 }, m32 })
    gradcheck(function(a, b) return tf.matmul(a, b) end, { m23, { m32, m32 } })
  end)

  it("of tensordot", function()
    gradcheck(function(a, b) return tf.tensordot(a, b, 1) end, { m23, m32 })
    gradcheck(function(a, b) return tf.tensordot(a, b, { { 0, 1 }, { 1, 0 } }) end, { m23, m32 })
    gradcheck(function(a, b) return tf.tensordot(a, b, { { 0 }, { 1 } }) end, { { m23, m23 }, m32 })
    gradcheck(function(a, b) return tf.tensordot(a, b, 0) end, { { 1.0, 2.0 }, m23 })
  end)

  it("of inv, det and solve (and their adjoints)", function()
    gradcheck(function(x) return tf.linalg.inv(x) end, { sq }, 1e-5)
    gradcheck(function(x) return tf.linalg.inv(x, { adjoint = true }) end, { sq }, 1e-5)
    gradcheck(function(x) return tf.linalg.det(x) end, { sq }, 1e-5)
    gradcheck(function(x) return tf.linalg.det(x) end, { { sq, sq } }, 1e-5)
    gradcheck(function(a, b) return tf.linalg.solve(a, b) end, { sq, rhs }, 1e-5)
    gradcheck(function(a, b) return tf.linalg.solve(a, b, { adjoint = true }) end, { sq, rhs }, 1e-5)
  end)

  it("of norm (p-norms and Frobenius)", function()
    gradcheck(function(x) return tf.norm(x) end, { m23 })
    gradcheck(function(x) return tf.norm(x, 1, 1) end, { m23 })
    gradcheck(function(x) return tf.norm(x, 3, 0, true) end, { m23 })
    gradcheck(function(x) return tf.norm(x, "fro", { 0, 1 }) end, { { m23, m23 } })
    -- norms that are maxima (each maximum unique in m23)
    gradcheck(function(x) return tf.norm(x, math.huge) end, { m23 })
    gradcheck(function(x) return tf.norm(x, math.huge, 1, true) end, { m23 })
    gradcheck(function(x) return tf.norm(x, 1, { 0, 1 }) end, { { m23, m23 } })
    gradcheck(function(x) return tf.norm(x, math.huge, { -1, -2 }, true) end, { m23 })
    -- the matrix 2-norm (u1 v1')
    gradcheck(function(x) return tf.norm(x, 2, { 0, 1 }) end, { m23 })
    gradcheck(function(x) return tf.norm(x, 2, { 2, 0 }, true) end, { { { { 0.5, -1.0 } }, { { 1.5, 0.25 } } } })
    -- ties share the gradient equally, as TensorFlow's reduce_max does
    local X = tf.Variable({ { 2.0, -2.0 }, { 1.0, 1.0 } }, { dtype = tf.float64 })
    local outer = tf.GradientTape()
    local tape = tf.GradientTape()
    local y = tf.norm(X, math.huge)
    local g = tape:gradient(y, X)
    assert.same({ { 0.5, -0.5 }, { 0.0, 0.0 } }, g:totable())
    -- columns 0 and 1 both sum to 3: ord 1 shares between them
    local g1 = tf.GradientTape()
    local y1 = tf.norm(X, 1, { 0, 1 })
    assert.same({ { 0.5, -0.5 }, { 0.5, 0.5 } }, g1:gradient(y1, X):totable())
    -- the rule is made of ops, so it can be differentiated again (zero a.e.)
    local gg = outer:gradient(tf.reduce_sum(tf.square(g)), X)
    assert.same({ { 0.0, 0.0 }, { 0.0, 0.0 } }, gg:totable())
  end)

  it("of matrix_transpose, trace, diag and diag_part", function()
    gradcheck(function(x) return tf.linalg.matrix_transpose(x) end, { m23 })
    gradcheck(function(x) return tf.linalg.trace(x) end, { m23 })
    gradcheck(function(x) return tf.linalg.trace(x) end, { { sq, sq } })
    gradcheck(function(x) return tf.linalg.diag_part(x) end, { m32 })
    gradcheck(function(x) return tf.linalg.diag(x) end, { { 0.5, -1.5, 2.0 } })
    gradcheck(function(x) return tf.linalg.diag(x, { num_rows = 4 }) end, { { 0.5, -1.5, 2.0 } })
  end)
end)

describe("norm shape rules", function()
  require("case_devices").spec(it, "norm")

  it("rejects what the kernel rejects, before it runs", function()
    local x = tf.zeros({ 2, 3 })
    assert_error("InvalidArgument", { "norm", "axis must be one axis (vector norm) or a pair of axes" },
      tf.norm, x, "euclidean", { 0, 1, 0 })
    assert_error("InvalidArgument", { "norm: axis 2 is out of range for a tensor of rank 2" }, tf.norm, x, 1, 2)
    assert_error("InvalidArgument", { "norm", "the two axes must differ" }, tf.norm, x, "fro", { 1, -1 })
    assert_error("InvalidArgument", { "norm", "ord 'fro' is a matrix norm" }, tf.norm, x, "fro", 0)
    assert_error("InvalidArgument", { "norm", "ord '3' is not supported for matrices" }, tf.norm, x, 3, { 0, 1 })
    assert_error("Unimplemented", { "norm", "int32", "floating-point" }, tf.norm, tf.constant({ 1, 2 }))
    assert_error("Unimplemented", { "norm2_direction", "float16", "float32 or float64" },
      tf.raw_ops.norm2_direction, tf.zeros({ 2, 2 }, tf.float16), { 0, 1 })
    assert_error("InvalidArgument", { "norm2_direction", "axis must be a pair of axes, got 1" },
      tf.raw_ops.norm2_direction, x, { 0 })
  end)
end)
