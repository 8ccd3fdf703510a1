-- tf.io.serialize_tensor / parse_tensor and tf.train.Checkpoint: round trips
-- for every dtype, every damaged byte string rejected, exact resumption of
-- every optimizer from a file (in this process and in a new one), strict and
-- all-or-nothing restores.
local tf = require("tlua")
local helpers = require("helpers")
local K = tf.keras.optimizers

local tmp = os.tmpname()
os.remove(tmp)
local dir = tmp .. "_ckpt"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

teardown(function() os.execute('rm -rf "' .. dir .. '"') end)

describe("tf.io.serialize_tensor / parse_tensor", function()
  local cases = {
    { { { 1.5, -2.25 }, { 1e-30, 3e38 } }, tf.float32 },
    { { 1 / 3, -1e300, 5e-324 }, tf.float64 },
    { { 0.5, -2, 65504 }, tf.float16 },
    { { 0.5, -2, 3.0e38 }, tf.bfloat16 },
    { { -128, 0, 127 }, tf.int8 },
    { { 0, 200, 255 }, tf.uint8 },
    { { -32768, 7, 32767 }, tf.int16 },
    { { { -2147483648, 1 }, { 2, 2147483647 } }, tf.int32 },
    { { math.mininteger, -1, math.maxinteger }, tf.int64 },
    { { true, false, true }, tf.bool },
  }
  for _, c in ipairs(cases) do
    it("round-trips " .. c[2].name .. " exactly", function()
      local t = tf.constant(c[1], c[2])
      local s = tf.io.serialize_tensor(t)
      assert.are.equal("string", type(s))
      local back = tf.io.parse_tensor(s, c[2])
      assert.are.equal(c[2], back.dtype)
      assert.are.same(t.shape:as_list(), back.shape:as_list())
      assert.are.same(t:totable(), back:totable())
    end)
  end

  it("round-trips scalars, empty and zero-sized tensors, views and variables", function()
    local s = tf.io.parse_tensor(tf.io.serialize_tensor(tf.constant(7.5)))
    assert.are.equal(0, s.ndim)
    assert.are.equal(7.5, s:item())
    local e = tf.io.parse_tensor(tf.io.serialize_tensor(tf.zeros({ 0, 3 })))
    assert.are.same({ 0, 3 }, e.shape:as_list())
    -- a transposed view is written in its own row-major order
    local m = tf.transpose(tf.constant({ { 1, 2, 3 }, { 4, 5, 6 } }))
    assert.are.same({ { 1, 4 }, { 2, 5 }, { 3, 6 } }, tf.io.parse_tensor(tf.io.serialize_tensor(m)):totable())
    local v = tf.Variable({ 1.0, 2.0 })
    assert.are.same({ 1.0, 2.0 }, tf.io.parse_tensor(tf.io.serialize_tensor(v)):totable())
    -- Lua values convert as tf.constant does
    assert.are.same({ 1, 2 }, tf.io.parse_tensor(tf.io.serialize_tensor({ 1, 2 }), tf.int32):totable())
    -- the layout is the documented one: "TLT1", dtype name, rank, shape, values
    local raw = tf.io.serialize_tensor(tf.constant({ 1, 2 }, tf.int16))
    assert.are.equal("TLT1\5int16\1" .. string.pack("<i8", 2) .. string.pack("<i2i2", 1, 2), raw)
  end)

  it("rejects every truncation, padding and a wrong out_type", function()
    local s = tf.io.serialize_tensor(tf.constant({ { 1.0, 2.0 }, { 3.0, 4.0 } }))
    for n = 0, #s - 1 do
      helpers.assert_error("InvalidArgument", { "parse_tensor" }, tf.io.parse_tensor, s:sub(1, n))
    end
    helpers.assert_error("InvalidArgument", { "parse_tensor", "needs 16 bytes", "17" }, tf.io.parse_tensor, s .. "x")
    helpers.assert_error("InvalidArgument", { "parse_tensor", "float32", "int32" }, tf.io.parse_tensor, s, tf.int32)
    helpers.assert_error("InvalidArgument", { "parse_tensor", "int64" }, tf.io.parse_tensor, s, { out_type = tf.int64 })
    helpers.assert_error("InvalidArgument", { "parse_tensor", "string", "number" }, tf.io.parse_tensor, 42)
    helpers.assert_error("InvalidArgument", { "serialize_tensor" }, tf.io.serialize_tensor, print)
  end)

  it("rejects headers that lie: unknown dtype, rank, negative or huge shapes", function()
    local function hdr(name, rank, dims, tail)
      local parts = { "TLT1", string.char(#name), name, string.char(rank) }
      for _, d in ipairs(dims) do parts[#parts + 1] = string.pack("<i8", d) end
      return table.concat(parts) .. (tail or "")
    end
    helpers.assert_error("InvalidArgument", { "unknown dtype 'float99'" }, tf.io.parse_tensor, hdr("float99", 1, { 1 }, "\0\0\0\0"))
    helpers.assert_error("InvalidArgument", { "rank 9" }, tf.io.parse_tensor, hdr("float32", 9, {}))
    helpers.assert_error("InvalidArgument", { "negative" }, tf.io.parse_tensor, hdr("float32", 1, { -1 }))
    helpers.assert_error("ResourceExhausted", { "parse_tensor", "too large" }, tf.io.parse_tensor,
      hdr("float32", 2, { 1 << 40, 1 << 40 }))
    helpers.assert_error("InvalidArgument", { "needs 4000 bytes", "has 4" }, tf.io.parse_tensor,
      hdr("float32", 1, { 1000 }, "\0\0\0\0"))
    helpers.assert_error("InvalidArgument", { "not a serialized tensor" }, tf.io.parse_tensor, "TLT2\7float32\0\0\0\0\0")
    -- bool bytes other than 0/1 read as true
    assert.are.same({ true, false }, tf.io.parse_tensor(hdr("bool", 1, { 2 }, "\7\0")):totable())
  end)

  it("crc32 is zlib's", function()
    assert.are.equal(0xCBF43926, tf.core.io.crc32("123456789"))
    assert.are.equal(0, tf.core.io.crc32(""))
    -- incremental equals one pass
    assert.are.equal(tf.core.io.crc32("hello world"), tf.core.io.crc32(" world", tf.core.io.crc32("hello")))
  end)
end)

-- A fixed quadratic problem: loss = mean((x w + b - y)^2).
local function problem()
  local x = tf.constant({ { 1.0, 2.0, -1.0 }, { 0.5, -0.5, 2.0 }, { -1.0, 1.0, 0.25 }, { 2.0, 0.0, 1.0 } })
  local y = tf.constant({ { 1.0, 0.0 }, { -1.0, 2.0 }, { 0.5, 0.5 }, { 0.0, -2.0 } })
  local w = tf.Variable({ { 0.1, -0.2 }, { 0.3, 0.4 }, { -0.5, 0.6 } }, { name = "w" })
  local b = tf.Variable({ 0.0, 0.1 }, { name = "b" })
  local function step(opt)
    local tape = tf.GradientTape()
    local loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    opt:apply_gradients(tape:gradient(loss, { w, b }), { w, b })
  end
  return w, b, step
end

local OPTIMIZERS = {
  { "SGD", { learning_rate = 0.05, momentum = 0.9, nesterov = true } },
  { "RMSprop", { learning_rate = 0.01, momentum = 0.5, centered = true } },
  { "Adam", { learning_rate = 0.05, amsgrad = true } },
  { "Nadam", { learning_rate = 0.05 } },
  { "Adamax", { learning_rate = 0.05 } },
  { "Adagrad", { learning_rate = 0.1 } },
  { "Adadelta", { learning_rate = 1.0 } },
  { "AdamW", { learning_rate = 0.05, weight_decay = 0.01 } },
  { "Ftrl", { learning_rate = 0.1, l1_regularization_strength = 0.01 } },
  { "Lion", { learning_rate = 0.01 } },
}

describe("tf.train.Checkpoint", function()
  for _, o in ipairs(OPTIMIZERS) do
    it(o[1] .. ": 5 steps, write, new objects, read, 5 steps == 10 steps bit for bit", function()
      local w1, b1, step1 = problem()
      local full = K[o[1]](o[2])
      for _ = 1, 10 do step1(full) end

      local w2, b2, step2 = problem()
      local opt2 = K[o[1]](o[2])
      for _ = 1, 5 do step2(opt2) end
      local path = dir .. "/" .. o[1] .. "/ck"
      assert.are.equal(path, tf.train.Checkpoint({ optimizer = opt2, model = { w = w2, b = b2 } }):write(path))

      local w3, b3, step3 = problem()
      local opt3 = K[o[1]](o[2])
      tf.train.Checkpoint({ optimizer = opt3, model = { w = w3, b = b3 } }):read(path)
      assert.are.equal(5, opt3.iterations:item())
      assert.are.same(w2:totable(), w3:totable())
      for _ = 1, 5 do step3(opt3) end
      assert.are.equal(10, opt3.iterations:item())
      assert.are.same(w1:totable(), w3:totable())
      assert.are.same(b1:totable(), b3:totable())
    end)
  end

  it("resumes exactly in a new tlua process (save, latest_checkpoint, restore)", function()
    local tlua = os.getenv("TLUA")
    local script = dir .. "/resume.lua"
    os.execute('mkdir -p "' .. dir .. '"')
    write(script, [[
      local mode, steps, where = arg[1], tonumber(arg[2]), arg[3]
      local x = tf.constant({ { 1.0, 2.0 }, { -1.0, 0.5 }, { 0.25, -2.0 } })
      local y = tf.constant({ { 1.0 }, { -1.0 }, { 2.0 } })
      local w = tf.Variable({ { 0.1 }, { -0.3 } })
      local opt = keras.optimizers.Nadam({ learning_rate = 0.05 })
      local ckpt = tf.train.Checkpoint({ optimizer = opt, w = w })
      if mode == "resume" then ckpt:restore(tf.train.latest_checkpoint(where)) end
      for _ = 1, steps do
        local tape = tf.GradientTape()
        local loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
        opt:apply_gradients(tape:gradient(loss, { w }), { w })
      end
      if mode == "save" then ckpt:save(where .. "/run") end
      io.write(string.format("%d %d %.9g %.9g\n", opt.iterations:item(), ckpt.save_counter, w:value()[0][0]:item(), w:value()[1][0]:item()))
    ]])
    local function run(args)
      local h = io.popen(tlua .. " " .. script .. " " .. args .. " 2>&1")
      local out = h:read("a")
      h:close()
      return out
    end
    local where = dir .. "/proc"
    local full = run("full 10 " .. where)
    assert.matches("^10 0 ", full)
    assert.matches("^5 1 ", run("save 5 " .. where))
    assert.are.equal(where .. "/run-1", tf.train.latest_checkpoint(where))
    local resumed = run("resume 5 " .. where)
    assert.are.equal(full:gsub("^10 0", "10 1"), resumed)
  end)

  it("save numbers the files, restore sets the counter", function()
    local v = tf.Variable({ 1.0, 2.0 })
    local ckpt = tf.train.Checkpoint({ v = v })
    local p = dir .. "/count/model"
    assert.are.equal(p .. "-1", ckpt:save(p))
    v:assign({ 3.0, 4.0 })
    assert.are.equal(p .. "-2", ckpt:save(p))
    assert.are.equal(p .. "-2", tf.train.latest_checkpoint(dir .. "/count"))
    local other = tf.train.Checkpoint({ v = v })
    other:restore(p .. "-1")
    assert.are.same({ 1.0, 2.0 }, v:totable())
    assert.are.equal(1, other.save_counter)
    assert.are.equal(p .. "-2", other:save(p))
    assert.is_nil(tf.train.latest_checkpoint(dir .. "/nowhere"))
    assert.matches("save_counter=2", tostring(other))
  end)

  it("tracks nested tables with any string keys and restores a part of a bigger checkpoint", function()
    local a, b, c = tf.Variable({ 1 }), tf.Variable({ 2.0 }), tf.Variable(true)
    local p = dir .. "/nested"
    tf.train.Checkpoint({ layers = { { kernel = a }, { ["odd/key#%"] = b } }, flag = c }):write(p)
    a:assign({ 0 }); b:assign({ 0.0 }); c:assign(false)
    tf.train.Checkpoint({ layers = { { kernel = a } } }):read(p) -- only a part
    assert.are.same({ 1 }, a:totable())
    assert.are.same({ 0.0 }, b:totable())
    tf.train.Checkpoint({ layers = { [2] = { ["odd/key#%"] = b } }, flag = c }):read(p)
    assert.are.same({ 2.0 }, b:totable())
    assert.is_true(c:item())
  end)

  it("restores nothing when one variable does not match", function()
    local w, b = tf.Variable({ 1.0, 2.0 }), tf.Variable({ 3.0 })
    local p = dir .. "/strict"
    tf.train.Checkpoint({ w = w, b = b }):write(p)
    w:assign({ 9.0, 9.0 })
    local wrong = tf.Variable({ 1.0, 2.0 })
    helpers.assert_error("InvalidArgument", { "'b'", "float32[1]", "float32[2]" },
      tf.train.Checkpoint({ w = w, b = wrong }).read, tf.train.Checkpoint({ w = w, b = wrong }), p)
    assert.are.same({ 9.0, 9.0 }, w:totable()) -- w was not assigned either
    local wrong_dtype = tf.Variable({ 1, 2 })
    helpers.assert_error("InvalidArgument", { "'w'", "float32", "int32" },
      function() tf.train.Checkpoint({ w = wrong_dtype }):read(p) end)
    helpers.assert_error("NotFound", { "no value for variable 'extra'" },
      function() tf.train.Checkpoint({ w = w, extra = tf.Variable(1.0) }):read(p) end)
    helpers.assert_error("NotFound", { "no state for 'opt'" },
      function() tf.train.Checkpoint({ opt = K.Adam() }):read(p) end)
    assert.are.same({ 9.0, 9.0 }, w:totable())
  end)

  it("reports damaged, truncated, foreign and missing files", function()
    local p = dir .. "/damage"
    tf.train.Checkpoint({ w = tf.Variable({ 1.0, 2.0, 3.0 }) }):write(p)
    local good = read(p)
    local w = tf.Variable({ 0.0, 0.0, 0.0 })
    local ck = tf.train.Checkpoint({ w = w })
    -- one flipped bit anywhere, and every truncation, is DataLoss
    for _, i in ipairs({ 1, 12, 20, #good // 2, #good - 6, #good }) do
      local bad = good:sub(1, i - 1) .. string.char(good:byte(i) ~ 1) .. good:sub(i + 1)
      write(p .. ".bad", bad)
      helpers.assert_error("DataLoss", {}, ck.read, ck, p .. ".bad")
    end
    for n = 0, #good - 1, 7 do
      write(p .. ".bad", good:sub(1, n))
      helpers.assert_error("DataLoss", {}, ck.read, ck, p .. ".bad")
    end
    assert.are.same({ 0.0, 0.0, 0.0 }, w:totable())
    write(p .. ".bad", "just some text that is long enough")
    helpers.assert_error("DataLoss", { "not a tlua checkpoint" }, ck.read, ck, p .. ".bad")
    helpers.assert_error("NotFound", { "cannot open" }, ck.read, ck, dir .. "/does/not/exist")
    helpers.assert_error("InvalidArgument", { "path" }, ck.read, ck, 42)
    ck:read(p)
    assert.are.same({ 1.0, 2.0, 3.0 }, w:totable())
    -- a write never leaves a half file behind under the final name
    assert.is_nil(io.open(p .. ".tmp", "rb"))
  end)

  it("rejects what it cannot track when it is made", function()
    helpers.assert_error("InvalidArgument", { "'x'", "tf.Tensor", "tf.Variable instead" },
      tf.train.Checkpoint, { x = tf.constant(1.0) })
    helpers.assert_error("InvalidArgument", { "'list/#2'", "number" },
      tf.train.Checkpoint, { list = { tf.Variable(1.0), 5 } })
    helpers.assert_error("InvalidArgument", { "named by strings" }, tf.train.Checkpoint, { tf.Variable(1.0) })
    helpers.assert_error("InvalidArgument", { "save_counter" }, tf.train.Checkpoint, { save_counter = tf.Variable(1) })
    helpers.assert_error("InvalidArgument", { "expected a table" }, tf.train.Checkpoint, nil)
    local loop = {}
    loop.self = loop
    helpers.assert_error("InvalidArgument", { "refers back" }, tf.train.Checkpoint, { loop = loop })
    helpers.assert_error("NotFound", { "cannot" }, function()
      tf.train.Checkpoint({ v = tf.Variable(1.0) }):write("/proc/no/such/dir/file")
    end)
  end)
end)

-- tests/spec/fixtures/optimizers_v0.ckpt was written by the pre-issue-7
-- binary (Lua-number step state, the fused optim.apply binding), with
-- make_optimizer_checkpoint.lua; the expected values are that run's own.
describe("checkpoints written before the step state became variables", function()
  local src = os.getenv("TLUA_SOURCE_DIR") or "."
  local fixtures = src .. "/tests/spec/fixtures"
  local F = dofile(fixtures .. "/optimizer_fixture_common.lua")
  local expected = dofile(fixtures .. "/optimizers_v0_expected.lua")

  it("load and continue to the old code's numbers exactly", function()
    local run = F.build(tf, tf.keras)
    tf.train.Checkpoint(run.tracked):read(fixtures .. "/optimizers_v0.ckpt")
    assert.are.same(expected.at_save, F.values(run))
    for _, name in ipairs({ "nadam", "adam", "sgd" }) do
      local it = run.opts[name].iterations
      assert.is_true(tf.is_variable(it))
      assert.are.equal(tf.int64, it.dtype)
      assert.are.equal(F.SAVED_STEP, it:item())
    end
    for t = F.SAVED_STEP + 1, F.SAVED_STEP + F.MORE_STEPS do F.step(tf, run, t) end
    assert.are.same(expected.continued, F.values(run))
  end)

  it("are written the same way today (the file is byte-identical)", function()
    local out = dir .. "_fixture"
    os.execute("mkdir -p '" .. out .. "'")
    local cmd = ("%q %q %q"):format(os.getenv("TLUA") or "tlua", fixtures .. "/make_optimizer_checkpoint.lua", out)
    assert(os.execute(cmd .. " >/dev/null"), "the fixture script failed")
    assert.are.equal(read(fixtures .. "/optimizers_v0.ckpt"), read(out .. "/optimizers_v0.ckpt"))
    assert.are.same(expected, dofile(out .. "/optimizers_v0_expected.lua"))
    os.remove(out .. "/optimizers_v0.ckpt")
    os.remove(out .. "/optimizers_v0_expected.lua")
    os.remove(out)
  end)
end)

-- Issue 7: checkpoint files stream, clean up after themselves, quote their
-- index and say what is wrong with a path that is not a checkpoint.
describe("checkpoint files", function()
  local function exists(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
  end
  local function kib(field) -- this process's /proc/self/status figure
    for line in io.lines("/proc/self/status") do
      local n = line:match("^" .. field .. ":%s*(%d+)")
      if n then return tonumber(n) end
    end
  end

  it("streams: saving a 32 MiB variable does not build the file in memory", function()
    local v = tf.Variable(tf.fill({ 8 * 1024 * 1024 }, 0.5))
    collectgarbage()
    collectgarbage()
    local f = io.open("/proc/self/clear_refs", "w") -- resets VmHWM to the current RSS
    if not f then return pending("/proc/self/clear_refs is not writable here") end
    f:write("5")
    f:close()
    local before = kib("VmHWM")
    local p = tf.train.Checkpoint({ v = v }):save(dir .. "/stream/big")
    local grown = kib("VmHWM") - before
    -- building the file as Lua strings held 4 copies of it (+128 MiB)
    assert.is_true(grown < 8 * 1024, ("peak RSS grew by %d KiB while saving"):format(grown))
    local w = tf.Variable(tf.zeros({ 8 * 1024 * 1024 }))
    tf.train.Checkpoint({ v = w }):restore(p)
    assert.are.equal(0.5 * 8 * 1024 * 1024, tf.reduce_sum(w:value()):item())
  end)

  it("an interrupted save leaves no .tmp file, no checkpoint and the counter as it was", function()
    local v = tf.Variable({ 1.0, 2.0 })
    local ck = tf.train.Checkpoint({ v = v })
    local prefix = dir .. "/interrupt/run"
    assert.are.equal(prefix .. "-1", ck:save(prefix))
    -- Stand in for the REPL's Ctrl-C hook: raise as soon as the partial file exists.
    local tmp = prefix .. "-2.tmp"
    debug.sethook(function()
      if debug.getinfo(2, "S").source:find("checkpoint.lua", 1, true) and exists(tmp) then
        debug.sethook()
        error("interrupted", 0)
      end
    end, "l")
    local ok, err = pcall(ck.save, ck, prefix)
    debug.sethook()
    assert.is_false(ok)
    assert.are.equal("interrupted", err)
    assert.is_false(exists(tmp))
    assert.is_false(exists(prefix .. "-2"))
    assert.are.equal(1, ck.save_counter)
    assert.are.equal(prefix .. "-1", tf.train.latest_checkpoint(dir .. "/interrupt"))
  end)

  it("a write that fails on the disk (file size limit) is ResourceExhausted and removes the .tmp file", function()
    local where = dir .. "/full"
    os.execute('mkdir -p "' .. where .. '"')
    write(where .. "/save.lua", [[
      local ck = tf.train.Checkpoint({ v = tf.Variable(tf.ones({ 1024 * 1024 })) })
      local ok, err = pcall(ck.save, ck, arg[1] .. "/run")
      local f = io.open(arg[1] .. "/run-1.tmp", "rb")
      if f then f:close() end
      print(ok, tf.errors.is(err, "ResourceExhausted"), f ~= nil, ck.save_counter, tostring(err))
    ]])
    -- SIGXFSZ ignored, so the write past the limit fails with EFBIG instead of killing the process.
    local h = io.popen(("sh -c 'trap \"\" XFSZ; ulimit -f 64; exec \"%s\" \"%s/save.lua\" \"%s\"' 2>&1")
      :format(os.getenv("TLUA"), where, where))
    local out = h:read("a")
    h:close()
    assert.matches("^false\ttrue\tfalse\t0\t", out)
    assert.truthy(out:find("run-1.tmp", 1, true), out)
    assert.is_false(exists(where .. "/run-1"))
  end)

  it("core.io's writer reports a full disk when it flushes, and refuses use after close", function()
    local cio = tf.core.io
    local w = assert(cio.open_writer("/dev/full"))
    w:write("some bytes") -- buffered: the failure shows when they reach the device
    w:write_tensor(tf.ones({ 4 }))
    helpers.assert_error("ResourceExhausted", { "writing /dev/full failed", "No space left" }, w.finish, w)
    helpers.assert_error("FailedPrecondition", { "closed" }, w.write, w, "more")
    w:close() -- idempotent
    local nope, msg = cio.open_writer(dir .. "/no/such/dir/file")
    assert.is_nil(nope)
    assert.truthy(msg:find("No such file", 1, true), msg)
    local big = assert(cio.open_writer("/dev/null"))
    helpers.assert_error("InvalidArgument", { "write_tensor" }, big.write_tensor, big, print)
    big:close()
  end)

  it("quotes the prefix in the index, so any prefix comes back from latest_checkpoint", function()
    local ck = tf.train.Checkpoint({ v = tf.Variable({ 3.0 }) })
    for i, name in ipairs({ 'say "hi"', [[back\slash]], "new\nline", "it's", "tab\tand\1ctrl", "\"" }) do
      local where = dir .. "/quote" .. i
      local p = ck:save(where .. "/" .. name)
      assert.are.equal(p, tf.train.latest_checkpoint(where))
      local w = tf.Variable({ 0.0 })
      tf.train.Checkpoint({ v = w }):restore(tf.train.latest_checkpoint(where))
      assert.are.same({ 3.0 }, w:totable())
    end
    -- the index as TensorFlow writes it (C escapes, octal included), and single quotes
    local where = dir .. "/tfindex"
    local p = ck:write(where .. '/x"y-7')
    for _, text in ipairs({
      'model_checkpoint_path: "x\\"y-7"\nall_model_checkpoint_paths: "x\\"y-7"\n',
      'model_checkpoint_path: "x\\042y-7"\n',
      "all_model_checkpoint_paths: 'old'\nmodel_checkpoint_path: 'x\"y-7'\n",
    }) do
      write(where .. "/checkpoint", text)
      assert.are.equal(p, tf.train.latest_checkpoint(where))
    end
    write(where .. "/checkpoint", 'model_checkpoint_path: "unterminated\n')
    assert.is_nil(tf.train.latest_checkpoint(where))
  end)

  it("reading a directory is NotFound and says it is a directory", function()
    local ck = tf.train.Checkpoint({ v = tf.Variable({ 1.0 }) })
    ck:save(dir .. "/isdir/run")
    helpers.assert_error("NotFound", { "is a directory", "latest_checkpoint" }, ck.restore, ck, dir .. "/isdir")
    helpers.assert_error("NotFound", { "is a directory" }, ck.read, ck, dir)
  end)
end)
