-- tf.SparseTensor, tf.sparse and tf.sets (stdlib/tlua/sparse.lua over
-- src/ops/sparse.c, sparse_matmul.c, sets.c). Expected values come from
-- TensorFlow 2 (tests/spec/fixtures/sparse_ref.py prints them) or by hand.
local tf = require("tlua")
local helpers = require("helpers")
local gradcheck = require("gradcheck")

local function st(ind, vals, shape, dtype)
  return tf.SparseTensor(ind, dtype and tf.constant(vals, dtype) or vals, shape)
end
local function same(want, t)
  if tf.is_tensor(want) then want = want:totable() end
  assert.are.same(want, t:totable())
end
local function same_sp(s, ind, vals, shape)
  assert.is_true(tf.is_sparse(s))
  same(ind, s.indices)
  same(vals, s.values)
  same(shape, s.dense_shape)
end

-- the running example of TensorFlow's docs: [[1, 0, 2], [0, 3, 0]]
local function A() return st({ { 0, 0 }, { 0, 2 }, { 1, 1 } }, { 1.0, 2.0, 3.0 }, { 2, 3 }) end

describe("tf.SparseTensor", function()
  it("holds int64 indices, values and an int64 dense shape, with shape and dtype", function()
    local s = A()
    assert.are.equal(tf.int64, s.indices.dtype)
    assert.are.equal(tf.int64, s.dense_shape.dtype)
    assert.are.equal(tf.float32, s.dtype)
    assert.are.same({ 2, 3 }, s.shape:as_list())
    local p = tf.SparseTensor(tf.constant({ { 1 } }), tf.constant({ 7 }), tf.constant({ 4 }))
    assert.are.equal(tf.int64, p.indices.dtype) -- int32 indices are cast, as TensorFlow's constructor does
    local e = tf.SparseTensor({}, tf.zeros({ 0 }), { 3, 3 })
    assert.are.same({ 0, 2 }, e.indices.shape:as_list())
    same({ { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 0 } }, tf.sparse.to_dense(e))
  end)

  it("prints like TensorFlow's repr", function()
    local text = tostring(A())
    assert.truthy(text:find("^SparseTensor%(indices=tf.Tensor%("))
    assert.truthy(text:find("values=tf.Tensor([1. 2. 3.], shape=(3,), dtype=float32)", 1, true))
    assert.truthy(text:find("dense_shape=tf.Tensor([2 3], shape=(2,), dtype=int64))", 1, true))
  end)

  it("checks its components' shapes and is immutable", function()
    helpers.assert_error("InvalidArgument", { "indices have 2 rows but values have 3" },
      tf.SparseTensor, { { 0, 0 }, { 1, 1 } }, { 1.0, 2.0, 3.0 }, { 2, 2 })
    helpers.assert_error("InvalidArgument", { "indices have 2 columns but dense_shape has 3" },
      tf.SparseTensor, { { 0, 0 } }, { 1.0 }, { 2, 2, 2 })
    helpers.assert_error("InvalidArgument", { "values must be a vector" },
      tf.SparseTensor, { { 0, 0 } }, { { 1.0 } }, { 2, 2 })
    helpers.assert_error("InvalidArgument", { "indices must be an integer tensor" },
      tf.SparseTensor, tf.constant({ { 0.5 } }), { 1.0 }, { 2 })
    assert.has_error(function() A().values = tf.constant({ 1 }) end)
  end)

  it("has tf.sparse's functions as methods", function()
    same({ { 1, 0, 2 }, { 0, 3, 0 } }, A():to_dense())
    same({ 3, 3 }, A():reduce_sum(1))
  end)
end)

describe("tf.sparse conversion", function()
  it("hold strings (the empty string is the zero of from_dense)", function()
    local s = tf.sparse.from_dense(tf.constant({ { "a", "" }, { "", "bc" } }))
    same_sp(s, { { 0, 0 }, { 1, 1 } }, { "a", "bc" }, { 2, 2 })
    same({ { "a", "?" }, { "?", "bc" } }, tf.sparse.to_dense(s, "?"))
    local r = tf.sparse.reorder(tf.SparseTensor({ { 1, 1 }, { 0, 0 } }, tf.constant({ "x", "y" }), { 2, 2 }))
    same({ { "y", "" }, { "", "x" } }, tf.sparse.to_dense(r))
    same({ "a", "bc", "a", "bc" }, tf.sparse.concat(0, { s, s }).values)
  end)

  it("from_dense and to_dense round-trip; to_dense takes a default value", function()
    local s = tf.sparse.from_dense(tf.constant({ { 0, 1 }, { 2, 0 } }))
    same_sp(s, { { 0, 1 }, { 1, 0 } }, { 1, 2 }, { 2, 2 })
    same({ { 9, 1 }, { 2, 9 } }, tf.sparse.to_dense(s, 9))
    same({ { 9, 1 }, { 2, 9 } }, tf.sparse.to_dense(s, { default_value = 9 }))
    same_sp(tf.sparse.from_dense(tf.constant({ true, false, true })), { { 0 }, { 2 } }, { true, true }, { 3 })
  end)

  it("to_dense rejects bad indices with TensorFlow's messages", function()
    helpers.assert_error("InvalidArgument", { "sparse_to_dense", "indices[0] = [0,5] is out of bounds: need 0 <= index < [2,3]" },
      tf.sparse.to_dense, st({ { 0, 5 } }, { 1.0 }, { 2, 3 }))
    helpers.assert_error("InvalidArgument", { "indices[1] = [0,1] is out of order", "tf.sparse.reorder" },
      tf.sparse.to_dense, st({ { 1, 0 }, { 0, 1 } }, { 1.0, 2.0 }, { 2, 3 }))
    helpers.assert_error("InvalidArgument", { "indices[1] = [1,0] is repeated" },
      tf.sparse.to_dense, st({ { 1, 0 }, { 1, 0 } }, { 1.0, 2.0 }, { 2, 3 }))
    helpers.assert_error("InvalidArgument", { "indices[0] = [-1,0] is out of bounds" },
      tf.sparse.to_dense, st({ { -1, 0 } }, { 1.0 }, { 2, 3 }))
    helpers.assert_error("InvalidArgument", { "dense_shape[1] = -3 is negative" },
      tf.sparse.to_dense, st({ { 0, 0 } }, { 1.0 }, { 2, -3 }))
    -- without validation order is free (last write wins on a repeat)
    same({ { 0, 2, 0 }, { 1, 0, 0 } }, tf.sparse.to_dense(st({ { 1, 0 }, { 0, 1 } }, { 1.0, 2.0 }, { 2, 3 }),
      { validate_indices = false }))
    helpers.assert_error("InvalidArgument", { "default_value is float64 but values are float32" },
      tf.sparse.to_dense, A(), tf.constant(1.0, tf.float64))
  end)

  it("reorder sorts row-major; reshape infers -1; transpose permutes and reorders", function()
    same_sp(tf.sparse.reorder(st({ { 1, 0 }, { 0, 1 } }, { 1.0, 2.0 }, { 2, 3 })), { { 0, 1 }, { 1, 0 } }, { 2, 1 }, { 2, 3 })
    -- TensorFlow: tf.sparse.reshape(A, [-1, 2])
    same_sp(tf.sparse.reshape(A(), { -1, 2 }), { { 0, 0 }, { 1, 0 }, { 2, 0 } }, { 1, 2, 3 }, { 3, 2 })
    same_sp(tf.sparse.transpose(A()), { { 0, 0 }, { 1, 1 }, { 2, 0 } }, { 1, 3, 2 }, { 3, 2 })
    local t3 = st({ { 0, 1, 2 }, { 1, 0, 0 } }, { 5.0, 6.0 }, { 2, 3, 4 })
    same_sp(tf.sparse.transpose(t3, { 2, 0, 1 }), { { 0, 1, 0 }, { 2, 0, 1 } }, { 6, 5 }, { 4, 2, 3 })
    helpers.assert_error("InvalidArgument", { "Input to reshape is a tensor with 6 dense values, but the requested shape has 4" },
      tf.sparse.reshape, A(), { 2, 2 })
    helpers.assert_error("InvalidArgument", { "at most one dimension of shape may be -1" }, tf.sparse.reshape, A(), { -1, -1 })
    helpers.assert_error("InvalidArgument", { "perm must be a permutation of 0..1" }, tf.sparse.transpose, A(), { 0, 0 })
  end)
end)

describe("tf.sparse combining", function()
  it("add: sparse + sparse with a threshold, and sparse + dense", function()
    local b = st({ { 0, 0 }, { 0, 1 } }, { -1.0, 0.05 }, { 2, 3 })
    -- TensorFlow: threshold=0.1 drops the 0 at [0,0] and the 0.05 at [0,1]
    same_sp(tf.sparse.add(A(), b, 0.1), { { 0, 2 }, { 1, 1 } }, { 2, 3 }, { 2, 3 })
    local s = tf.sparse.add(A(), b)
    same({ { 0, 0 }, { 0, 1 }, { 0, 2 }, { 1, 1 } }, s.indices)
    helpers.assert_close(s.values, { 0, 0.05, 2, 3 }, 1e-6)
    same({ { 2, 1, 3 }, { 1, 4, 1 } }, tf.sparse.add(A(), tf.ones({ 2, 3 })))
    same({ { 2, 1, 3 }, { 1, 4, 1 } }, tf.sparse.add(tf.ones({ 2, 3 }), A()))
    helpers.assert_error("InvalidArgument", { "operands' shapes do not match: [2,3] vs [3,3]" },
      tf.sparse.add, A(), st({ { 0, 0 } }, { 1.0 }, { 3, 3 }))
    helpers.assert_error("InvalidArgument", { "values of a are float32 but values of b are int32" },
      tf.sparse.add, A(), st({ { 0, 0 } }, { 1 }, { 2, 3 }))
  end)

  it("maximum / minimum over the union, missing entries 0 (TensorFlow's values)", function()
    local a = st({ { 0, 0 }, { 1, 1 } }, { -1.0, 2.0 }, { 2, 3 })
    local b = st({ { 0, 0 }, { 0, 2 } }, { -3.0, -2.0 }, { 2, 3 })
    same_sp(tf.sparse.maximum(a, b), { { 0, 0 }, { 0, 2 }, { 1, 1 } }, { -1, 0, 2 }, { 2, 3 })
    same_sp(tf.sparse.minimum(a, b), { { 0, 0 }, { 0, 2 }, { 1, 1 } }, { -3, -2, 0 }, { 2, 3 })
  end)

  it("concat along an axis, with expand_nonconcat_dims (TensorFlow's values)", function()
    local b = st({ { 0, 0 }, { 2, 1 } }, { 5.0, 6.0 }, { 3, 2 })
    same_sp(tf.sparse.concat(1, { A(), b }, true), { { 0, 0 }, { 0, 2 }, { 0, 3 }, { 1, 1 }, { 2, 4 } },
      { 1, 2, 5, 3, 6 }, { 3, 5 })
    same_sp(tf.sparse.concat(0, { A(), A() }), { { 0, 0 }, { 0, 2 }, { 1, 1 }, { 2, 0 }, { 2, 2 }, { 3, 1 } },
      { 1, 2, 3, 1, 2, 3 }, { 4, 3 })
    same_sp(tf.sparse.concat(-1, { A(), A() }), { { 0, 0 }, { 0, 2 }, { 0, 3 }, { 0, 5 }, { 1, 1 }, { 1, 4 } },
      { 1, 2, 1, 2, 3, 3 }, { 2, 6 })
    helpers.assert_error("InvalidArgument", { "dimension 0 is 3 but sp_inputs[1]'s is 2", "expand_nonconcat_dims" },
      tf.sparse.concat, 1, { A(), b })
  end)

  it("slice and retain", function()
    same_sp(tf.sparse.slice(A(), { 0, 1 }, { 2, 5 }), { { 0, 1 }, { 1, 0 } }, { 2, 3 }, { 2, 2 })
    same_sp(tf.sparse.slice(A(), { 1, 0 }, { 5, 1 }), tf.zeros({ 0, 2 }, tf.int64):totable(), {}, { 1, 1 })
    same_sp(tf.sparse.retain(A(), { true, false, true }), { { 0, 0 }, { 1, 1 } }, { 1, 3 }, { 2, 3 })
    helpers.assert_error("InvalidArgument", { "start and size need 2 entries" }, tf.sparse.slice, A(), { 0 }, { 1 })
    helpers.assert_error("InvalidArgument", { "to_retain must be bool" }, tf.sparse.retain, A(), tf.constant({ 1, 0, 1 }))
  end)

  it("multiplies by a dense tensor, broadcast to the sparse shape", function()
    same_sp(A() * tf.constant({ 10.0, 100.0, 1000.0 }), { { 0, 0 }, { 0, 2 }, { 1, 1 } }, { 10, 2000, 300 }, { 2, 3 })
    same_sp(tf.sparse.multiply(A(), tf.constant({ { 2.0 }, { 3.0 } })), { { 0, 0 }, { 0, 2 }, { 1, 1 } }, { 2, 4, 9 }, { 2, 3 })
    same_sp(A() * 2.0, { { 0, 0 }, { 0, 2 }, { 1, 1 } }, { 2, 4, 6 }, { 2, 3 })
    same(A():to_dense() / 2, (A() / 2.0):to_dense())
    same({ -1, -2, -3 }, (-A()).values)
    helpers.assert_error("InvalidArgument", { "SparseTensor * SparseTensor" }, function() return A() * A() end)
    helpers.assert_error("InvalidArgument", { "rank 3 is over the sparse rank 2" }, function() return A() * tf.ones({ 1, 1, 3 }) end)
  end)

  it("gives the values gradients through add, multiply, to_dense and reduce_sum", function()
    local ind = { { 0, 0 }, { 0, 2 }, { 1, 1 } }
    local function f(v, d)
      local s = tf.SparseTensor(ind, v, { 2, 3 })
      local t = tf.sparse.add(s * d, tf.SparseTensor({ { 0, 1 }, { 1, 1 } }, v[{ { 0, 2 } }] * 2.0, { 2, 3 }))
      return tf.sparse.to_dense(t, -1.0) + tf.expand_dims(tf.sparse.reduce_sum(s, 1), 1)
    end
    gradcheck.assert_grad(f, { tf.constant({ 1.5, -2.0, 3.0 }, tf.float64), tf.constant({ 2.0, 0.5, -1.0 }, tf.float64) })
  end)
end)

describe("tf.sparse reductions", function()
  it("reduce_sum and reduce_max over axes (TensorFlow's values, reduce_max skips missing entries)", function()
    same({ 3, 3 }, tf.sparse.reduce_sum(A(), 1))
    same({ { 3 }, { 3 } }, tf.sparse.reduce_sum(A(), { axis = 1, keepdims = true }))
    same({ 1, 3, 2 }, tf.sparse.reduce_sum(A(), 0))
    assert.are.equal(6, tf.sparse.reduce_sum(A()):item())
    local n = st({ { 0, 0 }, { 0, 2 } }, { -1.0, -2.0 }, { 2, 3 })
    same({ -1, 0 }, tf.sparse.reduce_max(n, 1))
    assert.are.equal(-1, tf.sparse.reduce_max(n):item())
    same({ 7, 4 }, tf.sparse.reduce_max(st({ { 0, 0 }, { 0, 1 }, { 1, 0 } }, { 7, 5, 4 }, { 2, 2 }, tf.int64), 1))
    helpers.assert_error("InvalidArgument", { "axis 2 is out of range" }, tf.sparse.reduce_sum, A(), 2)
  end)

  it("output_is_sparse gives the groups holding entries", function()
    local s = tf.sparse.reduce_sum(A(), { axis = 1, output_is_sparse = true })
    same_sp(s, { { 0 }, { 1 } }, { 3, 3 }, { 2 })
    -- a group whose entries sum to 0 is still there
    local z = tf.sparse.reduce_sum_sparse(st({ { 0, 0 }, { 0, 1 } }, { 1.0, -1.0 }, { 2, 2 }), 1)
    same_sp(z, { { 0 } }, { 0 }, { 2 })
    same_sp(tf.sparse.reduce_max_sparse(A(), 0), { { 0 }, { 1 }, { 2 } }, { 1, 3, 2 }, { 3 })
  end)

  it("sparse + dense passes gradients to both", function()
    gradcheck.assert_grad(function(v, d)
      return tf.square(tf.sparse.add(tf.SparseTensor({ { 0, 1 }, { 1, 0 } }, v, { 2, 2 }), d))
    end, { tf.constant({ 1.5, -2.0 }, tf.float64), tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 } }, tf.float64) })
  end)

  it("reduce_sum's gradient, and its gradient's gradient", function()
    local ind3 = tf.constant({ { 0, 1, 0 }, { 1, 0, 1 }, { 1, 2, 1 }, { 0, 1, 1 } }, tf.int64)
    gradcheck.assert_grad(function(v)
      local s = tf.SparseTensor(ind3, v, { 2, 3, 2 })
      return tf.square(tf.sparse.reduce_sum(s, { 0, 2 }))
    end, { tf.constant({ 1.0, 2.0, -3.0, 0.5 }, tf.float64) })
    local v = tf.constant({ 1.0, 2.0, 3.0 }, tf.float64)
    local outer = tf.GradientTape()
    outer:watch(v)
    local inner = tf.GradientTape()
    inner:watch(v)
    local y = tf.reduce_sum(tf.square(tf.sparse.reduce_sum(tf.SparseTensor({ { 0, 0 }, { 0, 2 }, { 1, 1 } }, v, { 2, 3 }), 1)))
    local g = inner:gradient(y, v) -- 2 * rowsum at each entry: {6, 6, 6}
    same({ 6, 6, 6 }, g)
    local h = outer:gradient(tf.reduce_sum(g), v) -- d/dv of 2*(v1+v2) + 2*(v1+v2) + 2*v3
    same({ 4, 4, 2 }, h)
  end)
end)

describe("tf.sparse.sparse_dense_matmul", function()
  local ind = { { 0, 0 }, { 0, 2 }, { 1, 1 } }
  it("multiplies (either side adjointed) as the dense product does", function()
    local a, d = A(), A():to_dense()
    local b = tf.constant({ { 1.0, 2.0 }, { -1.0, 0.5 }, { 0.25, 3.0 } })
    same(tf.matmul(d, b), tf.sparse.sparse_dense_matmul(a, b))
    local c = tf.constant({ { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 } })
    same(tf.matmul(d, c, { transpose_a = true }), tf.sparse.sparse_dense_matmul(a, c, { adjoint_a = true }))
    same(tf.matmul(d, c, { transpose_b = true }), tf.sparse.sparse_dense_matmul(a, c, false, true))
    local e = tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 }, { 5.0, 6.0 } })
    same(tf.matmul(e, d), tf.sparse.sparse_dense_matmul(e, a)) -- the sparse one second: dense @ sparse
    same(tf.matmul(c, d, { transpose_a = true }), tf.sparse.sparse_dense_matmul(c, a, true))
    same(tf.matmul(d, tf.transpose(c), { transpose_a = true, transpose_b = true }),
      tf.sparse.sparse_dense_matmul(a, tf.transpose(c), true, true))
    -- unordered and repeated indices add up
    local u = st({ { 1, 1 }, { 0, 0 }, { 0, 0 } }, { 3.0, 0.5, 0.5 }, { 2, 3 })
    same({ { 1, 2 }, { -3, 1.5 } }, tf.sparse.sparse_dense_matmul(u, b))
  end)

  it("rejects bad indices and shapes (TensorFlow's messages)", function()
    helpers.assert_error("InvalidArgument", { "k (7) from index[0,1] out of bounds (>=3)" },
      tf.sparse.sparse_dense_matmul, st({ { 1, 7 } }, { 1.0 }, { 2, 3 }), tf.ones({ 3, 2 }))
    helpers.assert_error("InvalidArgument", { "row index (5) from index[0,0] out of bounds (>=2)" },
      tf.sparse.sparse_dense_matmul, st({ { 5, 0 } }, { 1.0 }, { 2, 3 }), tf.ones({ 3, 2 }))
    helpers.assert_error("InvalidArgument", { "inner dimension does not match: 3 vs. 4" },
      tf.sparse.sparse_dense_matmul, A(), tf.ones({ 4, 2 }))
    helpers.assert_error("InvalidArgument", { "a's values are float32 but b is float64" },
      tf.sparse.sparse_dense_matmul, A(), tf.ones({ 3, 2 }, tf.float64))
    helpers.assert_error("InvalidArgument", { "a must be a sparse matrix, got rank 3" },
      tf.sparse.sparse_dense_matmul, st({ { 0, 0, 0 } }, { 1.0 }, { 1, 1, 1 }), tf.ones({ 1, 1 }))
  end)

  for _, adj in ipairs({ { false, false }, { true, false }, { false, true }, { true, true } }) do
    it(("has gradients for the values and the dense operand (adjoint_a=%s, adjoint_b=%s)"):format(adj[1], adj[2]),
      function()
        local bshape = { adj[1] and 2 or 3, 4 }
        if adj[2] then bshape = { bshape[2], bshape[1] } end
        local bvals = {}
        for i = 1, bshape[1] do
          bvals[i] = {}
          for j = 1, bshape[2] do bvals[i][j] = math.sin(i * 3 + j) end
        end
        gradcheck.assert_grad(function(v, b)
          return tf.sparse.sparse_dense_matmul(tf.SparseTensor(ind, v, { 2, 3 }), b, adj[1], adj[2])
        end, { tf.constant({ 1.5, -2.0, 3.0 }, tf.float64), tf.constant(bvals, tf.float64) })
      end)
  end

  it("has second-order gradients (its gradient is made of ops)", function()
    local v = tf.constant({ 1.0, 2.0, 3.0 }, tf.float64)
    gradcheck.assert_grad(function(b)
      local t = tf.GradientTape()
      t:watch(b)
      local y = tf.reduce_sum(tf.square(tf.sparse.sparse_dense_matmul(tf.SparseTensor(ind, v, { 2, 3 }), b)))
      return t:gradient(y, b)
    end, { tf.constant({ { 1.0, 2.0 }, { -1.0, 0.5 }, { 0.25, 3.0 } }, tf.float64) })
  end)
end)

describe("tf.sparse extras", function()
  it("to_indicator and bincount (TensorFlow's values)", function()
    local s = st({ { 0, 0 }, { 0, 1 }, { 1, 0 } }, { 0, 3, 2 }, { 2, 2 }, tf.int64)
    same({ { true, false, false, true }, { false, false, true, false } }, tf.sparse.to_indicator(s, 4))
    local x = tf.constant({ { 1, 1, 2 }, { 0, 3, 3 } })
    same_sp(tf.sparse.bincount(x, { axis = -1 }), { { 0, 1 }, { 0, 2 }, { 1, 0 }, { 1, 3 } }, { 2, 1, 1, 2 }, { 2, 4 })
    same_sp(tf.sparse.bincount(x), { { 0 }, { 1 }, { 2 }, { 3 } }, { 1, 2, 1, 2 }, { 4 })
    same_sp(tf.sparse.bincount(x, tf.constant({ { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 } }), -1, 5),
      { { 0, 1 }, { 0, 2 }, { 1, 0 }, { 1, 3 } }, { 3, 3, 4, 11 }, { 2, 5 })
    same_sp(tf.sparse.bincount(x, { binary_output = true, maxlength = 2 }), { { 0 }, { 1 } }, { 1, 1 }, { 2 })
    same_sp(tf.sparse.bincount(tf.sparse.from_dense(x)), { { 1 }, { 2 }, { 3 } }, { 2, 1, 2 }, { 4 })
    helpers.assert_error("InvalidArgument", { "values must be non-negative" }, tf.sparse.bincount, tf.constant({ 1, -1 }))
    helpers.assert_error("InvalidArgument", { "axis=-1 needs a 2-D input" }, tf.sparse.bincount, tf.constant({ 1 }), { axis = -1 })
  end)

  it("eye, fill_empty_rows and softmax (TensorFlow's values)", function()
    same_sp(tf.sparse.eye(3), { { 0, 0 }, { 1, 1 }, { 2, 2 } }, { 1, 1, 1 }, { 3, 3 })
    same_sp(tf.sparse.eye(2, 3, tf.int32), { { 0, 0 }, { 1, 1 } }, { 1, 1 }, { 2, 3 })
    local f, empty = tf.sparse.fill_empty_rows(st({ { 1, 0 } }, { 5.0 }, { 3, 2 }), -1.0)
    same_sp(f, { { 0, 0 }, { 1, 0 }, { 2, 0 } }, { -1, 5, -1 }, { 3, 2 })
    same({ true, false, true }, empty)
    local g = tf.sparse.fill_empty_rows(tf.SparseTensor({}, tf.zeros({ 0 }), { 2, 2 }), 7.0)
    same_sp(g, { { 0, 0 }, { 1, 0 } }, { 7, 7 }, { 2, 2 })
    local sm = tf.sparse.softmax(A())
    helpers.assert_close(sm.values, { 0.26894143, 0.7310586, 1 }, 1e-6)
  end)
end)

describe("tf.sparse segment reductions", function()
  local c = tf.constant({ { 1.0, 2, 3, 4 }, { -1, -2, -3, -4 }, { 5, 6, 7, 8 } })
  it("sum, mean and sqrt_n (TensorFlow's values)", function()
    same({ { 0, 0, 0, 0 } }, tf.sparse.segment_sum(c, tf.constant({ 0, 1 }), tf.constant({ 0, 0 })))
    same({ { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, { 5, 6, 7, 8 } },
      tf.sparse.segment_sum(c, tf.constant({ 0, 1, 2 }), tf.constant({ 0, 0, 2 })))
    same({ { 1, 2, 3, 4 }, { 5, 6, 7, 8 }, { 0, 0, 0, 0 }, { 0, 0, 0, 0 } },
      tf.sparse.segment_mean(c, tf.constant({ 0, 2, 2 }), tf.constant({ 0, 1, 1 }), 4))
    same({ { 0, 0, 0, 0 }, { 5, 6, 7, 8 } }, tf.sparse.segment_sqrt_n(c, tf.constant({ 0, 1, 2 }), tf.constant({ 0, 0, 1 })))
    helpers.assert_close(tf.sparse.segment_sqrt_n(tf.constant({ 1.0, 2.0 }), tf.constant({ 0, 1 }), tf.constant({ 0, 0 })),
      { 3 / math.sqrt(2) }, 1e-6)
  end)

  it("rejects bad indices and unsorted segment ids", function()
    helpers.assert_error("InvalidArgument", { "indices[1] = 5 is not in range [0, 3)" },
      tf.sparse.segment_sum, c, tf.constant({ 0, 5 }), tf.constant({ 0, 0 }))
    helpers.assert_error("InvalidArgument", { "segment ids are not increasing" },
      tf.sparse.segment_sum, c, tf.constant({ 0, 1 }), tf.constant({ 1, 0 }))
    helpers.assert_error("InvalidArgument", { "segment_ids[1] = 4 is out of range [0, 2)" },
      tf.sparse.segment_mean, c, tf.constant({ 0, 1 }), tf.constant({ 0, 4 }), { num_segments = 2 })
    helpers.assert_error("InvalidArgument", { "indices have 2 elements but segment_ids have 1" },
      tf.sparse.segment_sum, c, tf.constant({ 0, 1 }), tf.constant({ 0 }))
  end)

  it("pass gradients to data (repeated rows add up)", function()
    for _, f in ipairs({ tf.sparse.segment_sum, tf.sparse.segment_mean, tf.sparse.segment_sqrt_n }) do
      gradcheck.assert_grad(function(x) return f(x, tf.constant({ 0, 2, 2, 1 }), tf.constant({ 0, 0, 1, 3 })) end,
        { tf.constant({ { 1.0, 2.0 }, { -1.0, 0.5 }, { 3.0, -2.0 } }, tf.float64) })
    end
  end)
end)

describe("tf.sets", function()
  local a = tf.constant({ { 1, 2, 3 }, { 4, 5, 6 } })
  local b = tf.constant({ { 1, 9, 3, 3 }, { 7, 4, 4, 2 } })
  it("intersection, union and difference of dense rows (TensorFlow's values and order)", function()
    same_sp(tf.sets.intersection(a, b), { { 0, 0 }, { 0, 1 }, { 1, 0 } }, { 1, 3, 4 }, { 2, 2 })
    same_sp(tf.sets.union(a, b), { { 0, 0 }, { 0, 1 }, { 0, 2 }, { 0, 3 }, { 1, 0 }, { 1, 1 }, { 1, 2 }, { 1, 3 }, { 1, 4 } },
      { 1, 2, 3, 9, 2, 4, 5, 6, 7 }, { 2, 5 })
    same_sp(tf.sets.difference(a, b), { { 0, 0 }, { 1, 0 }, { 1, 1 } }, { 2, 5, 6 }, { 2, 2 })
    same_sp(tf.sets.difference(a, b, false), { { 0, 0 }, { 1, 0 }, { 1, 1 } }, { 9, 2, 7 }, { 2, 2 })
    same_sp(tf.sets.difference(a, b, { aminusb = false }), { { 0, 0 }, { 1, 0 }, { 1, 1 } }, { 9, 2, 7 }, { 2, 2 })
  end)

  it("takes sparse operands (only their entries are elements) and sizes sparse sets", function()
    local sa = st({ { 0, 0 }, { 0, 1 }, { 1, 0 } }, { 3, 1, 2 }, { 2, 2 })
    same_sp(tf.sets.union(sa, tf.constant({ { 1, 5 }, { 2, 2 } })), { { 0, 0 }, { 0, 1 }, { 0, 2 }, { 1, 0 } }, { 1, 3, 5, 2 },
      { 2, 3 })
    same({ 2, 1 }, tf.sets.size(sa))
    same({ 3, 3 }, tf.sets.size(tf.sparse.from_dense(b)))
    same_sp(tf.sets.intersection(sa, sa), { { 0, 0 }, { 0, 1 }, { 1, 0 } }, { 1, 3, 2 }, { 2, 2 })
    -- int64 and 3-D (two batch dimensions)
    local x = tf.constant({ { { 1, 2 }, { 3, 3 } } }, tf.int64)
    same_sp(tf.sets.intersection(x, tf.constant({ { { 2, 2 }, { 3, 4 } } }, tf.int64)), { { 0, 0, 0 }, { 0, 1, 0 } }, { 2, 3 },
      { 1, 2, 1 })
  end)

  it("work on strings, ordered by bytes then length (TensorFlow's values)", function()
    local function strs(t) return t:totable() end
    local a = tf.constant({ { "a", "b" }, { "c", "b" } })
    local b = tf.constant({ { "b", "a" }, { "d", "d" } })
    local i = tf.sets.intersection(a, b)
    same({ { 0, 0 }, { 0, 1 } }, i.indices)
    assert.are.same({ "a", "b" }, strs(i.values))
    same({ 2, 2 }, i.dense_shape)
    local u = tf.sets.union(a, b)
    same({ { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 }, { 1, 2 } }, u.indices)
    assert.are.same({ "a", "b", "b", "c", "d" }, strs(u.values))
    same({ 2, 3 }, tf.sets.size(u))
    assert.are.same({ "b", "c" }, strs(tf.sets.difference(a, b).values))
    local c = tf.constant({ { "ab", "a", "abc", "" } })
    local d = tf.constant({ { "b", "a\0", "", "ab" } })
    assert.are.same({ "", "a", "a\0", "ab", "abc", "b" }, strs(tf.sets.union(c, d).values))
    assert.are.same({ "", "ab" }, strs(tf.sets.intersection(c, d).values))
  end)

  it("validates indices, dtypes and shapes", function()
    helpers.assert_error("InvalidArgument", { "set_size", "indices[1] = [0,1] is out of order" },
      tf.sets.size, st({ { 1, 0 }, { 0, 1 } }, { 1, 2 }, { 2, 2 }))
    same({ 1, 1 }, tf.sets.size(st({ { 1, 0 }, { 0, 1 } }, { 1, 2 }, { 2, 2 }), false))
    helpers.assert_error("InvalidArgument", { "Mismatched shapes [1] vs [2]" },
      tf.sets.intersection, tf.constant({ { 1, 2 } }), tf.constant({ { 1, 2 }, { 3, 4 } }))
    helpers.assert_error("InvalidArgument", { "set values must be integers or strings, got float32" },
      tf.sets.union, tf.constant({ { 1.0 } }), tf.constant({ { 1.0 } }))
    helpers.assert_error("InvalidArgument", { "a's values are int32 but b's are int64" },
      tf.sets.union, tf.constant({ { 1 } }), tf.constant({ { 1 } }, tf.int64))
    helpers.assert_error("InvalidArgument", { "rank at least 2" }, tf.sets.union, tf.constant({ 1 }), tf.constant({ 1 }))
    helpers.assert_error("InvalidArgument", { "a must be a SparseTensor" }, tf.sets.size, a)
  end)
end)

describe("SparseTensor through tf.trace and tf.while_loop", function()
  it("goes into and out of a traced function, nnz free to change", function()
    local traces = 0
    local f = tf.trace(function(s, b)
      traces = traces + 1
      local t = tf.sparse.reorder(tf.sparse.transpose(s))
      return tf.sparse.sparse_dense_matmul(s, b), t, tf.sparse.reduce_sum(s, 1)
    end)
    local b = tf.constant({ { 1.0 }, { 2.0 }, { 3.0 } })
    local y, t, r = f(A(), b)
    same({ { 7 }, { 6 } }, y)
    assert.is_true(tf.is_sparse(t))
    same_sp(t, { { 0, 0 }, { 1, 1 }, { 2, 0 } }, { 1, 3, 2 }, { 3, 2 })
    same({ 3, 3 }, r)
    y = f(st({ { 1, 2 } }, { 4.0 }, { 2, 3 }), b)
    same({ { 0 }, { 12 } }, y)
    assert.are.equal(1, traces)
  end)

  it("is a tf.while_loop variable whose nnz changes", function()
    local function run(n)
      return tf.while_loop(function(i) return tf.less(i, n) end,
        function(i, s)
          local e = tf.SparseTensor(tf.reshape(tf.stack({ tf.cast(i, tf.int64), tf.cast(i, tf.int64) }), { 1, 2 }),
            tf.reshape(tf.cast(i, tf.float32) + 1, { 1 }), { 4, 4 })
          return i + 1, tf.sparse.add(s, e)
        end,
        { tf.constant(0), tf.SparseTensor({}, tf.zeros({ 0 }), { 4, 4 }) })
    end
    local r = run(3)
    same({ { 1, 0, 0, 0 }, { 0, 2, 0, 0 }, { 0, 0, 3, 0 }, { 0, 0, 0, 0 } }, tf.sparse.to_dense(r[2]))
    local g = tf.trace(function(n) return run(n)[2] end)
    local s = g(tf.constant(4))
    assert.is_true(tf.is_sparse(s))
    same({ 1, 2, 3, 4 }, s.values)
  end)

  it("traces sets and the values' gradient", function()
    local f = tf.trace(function(x, y) return tf.sets.intersection(x, y) end)
    same_sp(f(tf.constant({ { 1, 2, 3 } }), tf.constant({ { 3, 1, 5 } })), { { 0, 0 }, { 0, 1 } }, { 1, 3 }, { 1, 2 })
    local ind = tf.constant({ { 0, 0 }, { 0, 2 }, { 1, 1 } }, tf.int64)
    local grad = tf.trace(function(v, b)
      local tape = tf.GradientTape()
      tape:watch(v)
      local y = tf.reduce_sum(tf.sparse.sparse_dense_matmul(tf.SparseTensor(ind, v, { 2, 3 }), b))
      return tape:gradient(y, v)
    end)
    same({ 2, 2, 2 }, grad(tf.constant({ 1.0, 2.0, 3.0 }), tf.ones({ 3, 2 })))
  end)
end)

describe("the raw sparse ops", function()
  local R = tf.raw_ops
  local I = function(t) return tf.constant(t, tf.int64) end
  it("reject malformed components with errors, never crashes", function()
    helpers.assert_error("InvalidArgument", { "indices must be int64, got int32" },
      R.sparse_to_dense, tf.constant({ { 0 } }), tf.constant({ 1.0 }), I({ 2 }))
    helpers.assert_error("InvalidArgument", { "indices have 2 rows but values have 1 elements" },
      R.sparse_reduce_sum, I({ { 0 }, { 1 } }), tf.constant({ 1.0 }), I({ 2 }))
    helpers.assert_error("InvalidArgument", { "indices have 1 columns but dense_shape has 2 dimensions" },
      R.sparse_dense_matmul, I({ { 0 } }), tf.constant({ 1.0 }), I({ 2, 2 }), tf.ones({ 2, 2 }))
    helpers.assert_error("InvalidArgument", { "dense_shape must be a vector" },
      R.sparse_reorder_perm, I({ { 0 } }), I({ { 2 } }))
    helpers.assert_error("InvalidArgument", { "start[0] = -1 and size[0] = 2 must not be negative" },
      R.sparse_slice, I({ { 0 } }), I({ 2 }), { start = { -1 }, size = { 2 } })
    helpers.assert_error("InvalidArgument", { "indices[0] = [3] is out of bounds" },
      R.sparse_slice, I({ { 3 } }), I({ 2 }), { start = { 0 }, size = { 2 } })
    helpers.assert_error("InvalidArgument", { "indices[0] = [9] is out of bounds" },
      R.sparse_fill_empty_rows, I({ { 9 } }), I({ 2 }))
    helpers.assert_error("InvalidArgument", { "dense_shape", "more elements than int64 holds" },
      R.sparse_reorder_perm, I({ { 0, 0, 0 } }), I({ 4611686018427387904, 4611686018427387904, 3 }))
    helpers.assert_error("InvalidArgument", { "set_operation must be intersection, union, a-b or b-a" },
      R.set_operation, I({ { 0, 0 } }), tf.constant({ 1 }), I({ 1, 1 }), I({ { 0, 0 } }), tf.constant({ 1 }), I({ 1, 1 }),
      { set_operation = "xor" })
    helpers.assert_error("Unimplemented", { "float16" },
      R.sparse_reduce_sum, I({ { 0 } }), tf.constant({ 1.0 }, tf.float16), I({ 2 }))
    helpers.assert_error("InvalidArgument", { "weights have 2 elements but values have 1" },
      R.sparse_bincount, I({ { 0 } }), tf.constant({ 1 }), I({ 2 }), tf.constant({ 1.0, 2.0 }))
    -- empty inputs are fine everywhere
    local e, ev, es = tf.zeros({ 0, 2 }, tf.int64), tf.zeros({ 0 }), I({ 0, 3 })
    same({}, R.sparse_to_dense(e, ev, es))
    same({ {}, {}, {} }, R.sparse_dense_matmul(e, ev, I({ 3, 0 }), tf.zeros({ 0, 0 })))
    same({ 0, 0, 0 }, R.sparse_reduce_sum(e, ev, es, { axis = 0 }))
  end)
end)

describe("help", function()
  it("lists tf.sparse and tf.sets members", function()
    local text = require("tlua.help").text(tf.sparse)
    for _, k in ipairs({ "sparse_dense_matmul", "to_dense", "reorder", "bincount", "SparseTensor" }) do
      assert.truthy(text:find(k, 1, true), k)
    end
    local st_text = require("tlua.help").text(tf.sets)
    for _, k in ipairs({ "intersection", "union", "difference", "size" }) do assert.truthy(st_text:find(k, 1, true), k) end
    assert.truthy(require("tlua.help").text(tf.sparse.to_dense):find("default_value", 1, true))
  end)
end)
