-- tlua.einsum: tf.einsum(equation, a, b, ...) in TensorFlow's equation forms:
-- explicit ("ij,jk->ik") and implicit ("ij,jk": the labels seen once, sorted)
-- outputs, "..." for broadcast batch dimensions, one or more operands
-- (contracted left to right), repeated labels within an operand (a
-- diagonal: "ii->i", "ii->"). A pair is contracted as TensorFlow does:
-- labels only one side needs are summed first, then both operands are
-- transposed to [batch, free, contracted] and reshaped to 3-D for one batched
-- matmul, so the gradient is that of transpose/reshape/matmul.
local M = {}

function M.make(tf)
  local core = tf.core
  local function raise(msg) core.raise("InvalidArgument", "einsum: " .. msg) end

  -- ellipsis dimensions get labels from this reserved range (never letters)
  local ELL = {}
  for i = 1, 26 do ELL[i] = string.char(i) end

  -- "ab...c" -> list of labels, with ellipsis expanded to the operand's extra rank
  local function parse_term(term, rank, what)
    local labels, ell_at = {}, nil
    local i = 1
    while i <= #term do
      local c = term:sub(i, i)
      if term:sub(i, i + 2) == "..." then
        if ell_at then raise(what .. " has more than one ellipsis") end
        ell_at = #labels + 1
        i = i + 3
      elseif c:match("%a") then
        labels[#labels + 1] = c
        i = i + 1
      elseif c == " " then
        i = i + 1
      else
        raise(("invalid character %q in %s"):format(c, what))
      end
    end
    return labels, ell_at
  end

  local function expand(labels, ell_at, ne)
    if not ell_at then return labels end
    local out = {}
    for k = 1, ell_at - 1 do out[#out + 1] = labels[k] end
    for k = 1, ne do out[#out + 1] = ELL[26 - ne + k] end -- right-aligned
    for k = ell_at, #labels do out[#out + 1] = labels[k] end
    return out
  end

  local function index_of(list)
    local m = {}
    for i, l in ipairs(list) do m[l] = i end
    return m
  end

  local function prod(dims)
    local p = 1
    for _, d in ipairs(dims) do p = p * d end
    return p
  end

  -- take diagonals for labels repeated within one operand: gather the
  -- flattened positions where the repeated indices agree
  local function diagonalize(x, labels)
    local seen, uniq = {}, {}
    for _, l in ipairs(labels) do
      if not seen[l] then seen[l] = true; uniq[#uniq + 1] = l end
    end
    if #uniq == #labels then return x, labels end
    local dims = x.shape:as_list()
    local size = {}
    for i, l in ipairs(labels) do
      if size[l] and size[l] ~= dims[i] then
        raise(("label %s has sizes %d and %d in one operand"):format(l, size[l], dims[i]))
      end
      size[l] = dims[i]
    end
    local strides, s = {}, 1
    for i = #labels, 1, -1 do strides[i] = s; s = s * dims[i] end
    local udims = {}
    for i, l in ipairs(uniq) do udims[i] = size[l] end
    local n = prod(udims)
    local idx = {}
    local cur = {}
    for i = 1, #uniq do cur[i] = 0 end
    local upos = index_of(uniq)
    for e = 1, n do
      local off = 0
      for i, l in ipairs(labels) do off = off + cur[upos[l]] * strides[i] end
      idx[e] = off
      for i = #uniq, 1, -1 do
        cur[i] = cur[i] + 1
        if cur[i] < udims[i] then break end
        cur[i] = 0
      end
    end
    local flat = tf.reshape(x, { -1 })
    local g = tf.gather(flat, tf.constant(idx, tf.int32, { #idx }))
    return tf.reshape(g, udims), uniq
  end

  local function transpose_to(x, labels, order)
    local pos = index_of(labels)
    local perm, identity = {}, true
    for i, l in ipairs(order) do
      perm[i] = pos[l] - 1
      if perm[i] ~= i - 1 then identity = false end
    end
    if identity then return x end
    return tf.transpose(x, perm)
  end

  -- sum the labels of x not in keep
  local function reduce_unneeded(x, labels, keep)
    local axes, rest = {}, {}
    for i, l in ipairs(labels) do
      if keep[l] then rest[#rest + 1] = l else axes[#axes + 1] = i - 1 end
    end
    if #axes == 0 then return x, labels end
    return tf.reduce_sum(x, axes), rest
  end

  -- contract two operands into the label order `out`
  local function contract(a, la, b, lb, out, sizes)
    local ina, inb, ino = index_of(la), index_of(lb), index_of(out)
    local keep_a, keep_b = {}, {}
    for _, l in ipairs(la) do keep_a[l] = inb[l] ~= nil or ino[l] ~= nil end
    for _, l in ipairs(lb) do keep_b[l] = ina[l] ~= nil or ino[l] ~= nil end
    a, la = reduce_unneeded(a, la, keep_a)
    b, lb = reduce_unneeded(b, lb, keep_b)
    ina, inb = index_of(la), index_of(lb)
    local batch, afree, bfree, con = {}, {}, {}, {}
    for _, l in ipairs(la) do
      if inb[l] then
        if ino[l] then batch[#batch + 1] = l else con[#con + 1] = l end
      else
        afree[#afree + 1] = l
      end
    end
    for _, l in ipairs(lb) do if not ina[l] then bfree[#bfree + 1] = l end end
    local function sz(list)
      local d = {}
      for i, l in ipairs(list) do d[i] = sizes[l] end
      return d
    end
    local orda, ordb = {}, {}
    for _, l in ipairs(batch) do orda[#orda + 1] = l; ordb[#ordb + 1] = l end
    for _, l in ipairs(afree) do orda[#orda + 1] = l end
    for _, l in ipairs(con) do orda[#orda + 1] = l; ordb[#ordb + 1] = l end
    for _, l in ipairs(bfree) do ordb[#ordb + 1] = l end
    a = transpose_to(a, la, orda)
    b = transpose_to(b, lb, ordb)
    -- broadcast size-1 batch dimensions (from an ellipsis) to the common size
    local da, db = a.shape:as_list(), b.shape:as_list()
    local need_a, need_b = false, false
    for i = 1, #batch do
      if da[i] ~= sizes[batch[i]] then da[i] = sizes[batch[i]]; need_a = true end
      if db[i] ~= sizes[batch[i]] then db[i] = sizes[batch[i]]; need_b = true end
    end
    if need_a then a = tf.broadcast_to(a, da) end
    if need_b then b = tf.broadcast_to(b, db) end
    local nb, nf, nc, ng = prod(sz(batch)), prod(sz(afree)), prod(sz(con)), prod(sz(bfree))
    local r = tf.matmul(tf.reshape(a, { nb, nf, nc }), tf.reshape(b, { nb, nc, ng }))
    local rl, rd = {}, {}
    for _, list in ipairs({ batch, afree, bfree }) do
      for _, l in ipairs(list) do rl[#rl + 1] = l; rd[#rd + 1] = sizes[l] end
    end
    r = tf.reshape(r, rd)
    return r, rl
  end

  return function(equation, ...)
    if type(equation) ~= "string" then raise("the equation must be a string") end
    local ops = table.pack(...)
    if ops.n > 0 and core.is_options(ops[ops.n]) then ops.n = ops.n - 1 end
    if ops.n == 0 then raise("at least one operand is required") end
    for i = 1, ops.n do
      if not core.is_tensor(ops[i]) then
        ops[i] = core.is_tensor(ops[1]) and core.constant_on(ops[i], ops[1].dtype, ops[1].device) or core.constant(ops[i])
      end
    end
    local eq = equation:gsub("%s", "")
    local lhs, rhs = eq:match("^(.-)%->(.*)$")
    if not lhs then lhs = eq end
    local terms = {}
    for t in (lhs .. ","):gmatch("([^,]*),") do terms[#terms + 1] = t end
    if #terms ~= ops.n then
      raise(("the equation %q has %d inputs but %d operands were given"):format(equation, #terms, ops.n))
    end
    -- parse inputs, expand ellipses, record sizes
    local labels, max_ne, sizes, count = {}, 0, {}, {}
    local has_ell = false
    for i, t in ipairs(terms) do
      local l, ell = parse_term(t, ops[i].ndim, ("input %d"):format(i - 1))
      local ne = ops[i].ndim - #l
      if ell then
        has_ell = true
        if ne < 0 then raise(("input %d has rank %d, fewer than its %d labels"):format(i - 1, ops[i].ndim, #l)) end
      elseif ne ~= 0 then
        raise(("input %d has rank %d but the equation gives it %d labels"):format(i - 1, ops[i].ndim, #l))
      end
      if ne > max_ne then max_ne = ne end
      labels[i] = expand(l, ell, ne)
      local dims = ops[i].shape:as_list()
      for k, lab in ipairs(labels[i]) do
        local d = dims[k]
        local prev = sizes[lab]
        if prev and prev ~= d then
          if lab:byte() < 32 and (prev == 1 or d == 1) then
            d = math.max(prev, d)
          else
            raise(("label %s has sizes %d and %d"):format(lab:byte() < 32 and "..." or lab, prev, d))
          end
        end
        sizes[lab] = d
        count[lab] = (count[lab] or 0) + 1
      end
    end
    -- the output labels
    local out
    if rhs then
      local l, ell = parse_term(rhs, 0, "the output")
      if ell and not has_ell and max_ne > 0 then raise("the output has an ellipsis but no input does") end
      local seen = {}
      for _, lab in ipairs(l) do
        if seen[lab] then raise(("output label %s appears more than once"):format(lab)) end
        if not sizes[lab] then raise(("output label %s appears in no input"):format(lab)) end
        seen[lab] = true
      end
      if has_ell and not ell and max_ne > 0 then
        -- TensorFlow: "..." dimensions are summed when the output omits them
        ell = nil
      end
      out = expand(l, ell, ell and max_ne or 0)
    else
      local once = {}
      for lab, c in pairs(count) do
        if c == 1 and lab:byte() >= 32 then once[#once + 1] = lab end
      end
      table.sort(once)
      out = {}
      for k = 1, max_ne do out[#out + 1] = ELL[26 - max_ne + k] end
      for _, lab in ipairs(once) do out[#out + 1] = lab end
    end
    -- diagonals, then contract left to right; the intermediate keeps every
    -- label a later operand or the output needs
    local x, lx = diagonalize(ops[1], labels[1])
    for i = 2, ops.n do
      local y, ly = diagonalize(ops[i], labels[i])
      local need, target = {}, {}
      for _, lab in ipairs(out) do need[lab] = true end
      for j = i + 1, ops.n do for _, lab in ipairs(labels[j]) do need[lab] = true end end
      for _, lab in ipairs(out) do target[#target + 1] = lab end
      local tset = index_of(target)
      for _, list in ipairs({ lx, ly }) do
        for _, lab in ipairs(list) do
          if need[lab] and not tset[lab] then target[#target + 1] = lab; tset[lab] = #target end
        end
      end
      x, lx = contract(x, lx, y, ly, target, sizes)
    end
    -- single operand (or the last result): sum what the output lacks, order it
    local keep = index_of(out)
    x, lx = reduce_unneeded(x, lx, keep)
    -- a label the output keeps that is broadcast (ellipsis, size 1) grows
    local r = transpose_to(x, lx, out)
    local want, dims, grow = {}, r.shape:as_list(), false
    for i, lab in ipairs(out) do
      want[i] = sizes[lab]
      if dims[i] ~= want[i] then grow = true end
    end
    if grow then r = tf.broadcast_to(r, want) end
    return r
  end
end

return M
