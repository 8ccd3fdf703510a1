-- keras.datasets and core.io.read_idx: the committed IDX fixtures
-- (tools/keras_fixtures/make_idx_fixtures.py wrote them), every damaged
-- case an error naming the file, and the real Fashion-MNIST files when
-- Debian's dataset-fashion-mnist package is installed.
local tf = require("tlua")
local helpers = require("helpers")
local core = require("tlua.core")
local datasets = require("keras.datasets")

local src = os.getenv("TLUA_SOURCE_DIR") or "."
local FIX = src .. "/tests/spec/fixtures/keras/idx"

-- The fixture's image values: (i*7 + r*28 + c) % 256.
local function expected_images(n)
  local out = {}
  for i = 0, n - 1 do
    local img = {}
    for r = 0, 27 do
      local row = {}
      for c = 0, 27 do row[c + 1] = (i * 7 + r * 28 + c) % 256 end
      img[r + 1] = row
    end
    out[i + 1] = img
  end
  return out
end

describe("core.io.read_idx", function()
  it("reads a gzipped IDX3 file with its dims as uint8", function()
    local t = core.io.read_idx(FIX .. "/good/train-images-idx3-ubyte.gz")
    assert.are.equal("uint8", t.dtype.name)
    assert.are.same({ 5, 28, 28 }, t.shape:as_list())
    assert.are.same(expected_images(5), t:totable())
  end)

  it("reads labels (IDX1) and plain, not gzipped files", function()
    local t = core.io.read_idx(FIX .. "/plain/train-labels-idx1-ubyte")
    assert.are.same({ 0, 1, 2, 3, 4 }, t:totable())
    local g = core.io.read_idx(FIX .. "/plain/t10k-images-idx3-ubyte")
    assert.are.same(expected_images(3), g:totable())
  end)

  it("names the file for a missing one (NotFound)", function()
    helpers.assert_error("NotFound", { FIX .. "/nope.gz", "cannot open" }, core.io.read_idx, FIX .. "/nope.gz")
    helpers.assert_error("NotFound", { FIX .. "/good", "is a directory" }, core.io.read_idx, FIX .. "/good")
  end)

  it("rejects a non-uint8 IDX type code", function()
    local f = FIX .. "/bad_type/train-images-idx3-ubyte.gz"
    helpers.assert_error("DataLoss", { f, "magic 00 00 0d 03" }, core.io.read_idx, f)
  end)

  it("rejects truncated values, naming the dims the header gives", function()
    local f = FIX .. "/truncated_data/train-images-idx3-ubyte.gz"
    helpers.assert_error("DataLoss", { f, "truncated", "[5,28,28]" }, core.io.read_idx, f)
  end)

  it("rejects a cut gzip stream and flipped compressed bytes", function()
    local f = FIX .. "/truncated_gz/train-images-idx3-ubyte.gz"
    helpers.assert_error("DataLoss", { f }, core.io.read_idx, f)
    f = FIX .. "/corrupt_gz/train-images-idx3-ubyte.gz"
    helpers.assert_error("DataLoss", { f }, core.io.read_idx, f)
  end)

  it("rejects bytes past what the dims hold", function()
    local f = FIX .. "/trailing/train-labels-idx1-ubyte.gz"
    helpers.assert_error("DataLoss", { f, "more bytes than the dimensions [5] hold" }, core.io.read_idx, f)
  end)

  it("rejects a file too short for its magic, and a non-IDX file", function()
    local p = os.tmpname()
    local fh = assert(io.open(p, "wb")) fh:write("\0\0") fh:close()
    helpers.assert_error("DataLoss", { p, "shorter than its 4-byte magic" }, core.io.read_idx, p)
    fh = assert(io.open(p, "wb")) fh:write("hello world, not idx") fh:close()
    helpers.assert_error("DataLoss", { p, "not an IDX file" }, core.io.read_idx, p)
    -- a header with dims whose product is absurd is refused before allocating
    fh = assert(io.open(p, "wb")) fh:write("\0\0\8\3\255\255\255\255\255\255\255\255\0\0\0\2") fh:close()
    helpers.assert_error("DataLoss", { p, "implausible dimensions" }, core.io.read_idx, p)
    os.remove(p)
  end)
end)

describe("core.io.read_idx on damaged bytes (fuzz)", function()
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local b = f:read("a")
    f:close()
    return b
  end
  local function check(p, bytes, what)
    local f = assert(io.open(p, "wb"))
    f:write(bytes)
    f:close()
    local ok, err = pcall(core.io.read_idx, p)
    if not ok then
      assert.are.equal("DataLoss", type(err) == "table" and err.kind, what .. ": " .. tostring(err))
      assert.truthy(tostring(err):find(p, 1, true), tostring(err))
    end
    return ok
  end

  it("a gzipped file cut at every byte, and a plain one: DataLoss naming the file, never a crash", function()
    local p = os.tmpname()
    for _, name in ipairs({ "good/train-labels-idx1-ubyte.gz", "good/t10k-images-idx3-ubyte.gz", "plain/t10k-images-idx3-ubyte" }) do
      local bytes = read(FIX .. "/" .. name)
      for cut = 0, #bytes - 1 do
        -- (a gzip stream cut inside its 8-byte CRC/length trailer too)
        assert.is_false(check(p, bytes:sub(1, cut), name .. " cut at " .. cut), name .. " cut at " .. cut .. " read")
      end
    end
    os.remove(p)
  end)

  it("flipped bytes: a clean error or a valid read", function()
    local p = os.tmpname()
    math.randomseed(7)
    local bytes = read(FIX .. "/good/t10k-images-idx3-ubyte.gz")
    local errors = 0
    for _ = 1, 300 do
      local pos = math.random(1, #bytes)
      local b = string.char(bytes:byte(pos) ~ (1 << math.random(0, 7)))
      if not check(p, bytes:sub(1, pos - 1) .. b .. bytes:sub(pos + 1), "flip at " .. pos) then errors = errors + 1 end
    end
    assert.is_true(errors > 100, "errors " .. errors)
    os.remove(p)
  end)
end)

describe("keras.datasets.fashion_mnist / mnist", function()
  it("load_data{path=} returns X_train, y_train, X_test, y_test", function()
    local X, y, Xt, yt = datasets.fashion_mnist.load_data{ path = FIX .. "/good" }
    assert.are.same({ 5, 28, 28 }, X.shape:as_list())
    assert.are.same({ 0, 1, 2, 3, 4 }, y:totable())
    assert.are.same({ 3, 28, 28 }, Xt.shape:as_list())
    assert.are.same({ 0, 1, 2 }, yt:totable())
    assert.are.same(expected_images(3), Xt:totable())
    assert.are.equal("uint8", y.dtype.name)
  end)

  it("reads plain files too and mnist shares the loader", function()
    local X, y = datasets.mnist.load_data{ path = FIX .. "/plain" }
    assert.are.same(expected_images(5), X:totable())
    assert.are.same({ 0, 1, 2, 3, 4 }, y:totable())
  end)

  it("a missing folder names the file and the package to install", function()
    helpers.assert_error("NotFound", { "/nonexistent/train-images-idx3-ubyte.gz", "apt-get install dataset-fashion-mnist" },
      datasets.fashion_mnist.load_data, { path = "/nonexistent" })
    helpers.assert_error("NotFound", { "/nonexistent/train-images-idx3-ubyte.gz", "Debian has no MNIST package", "TLUA_MNIST" },
      datasets.mnist.load_data, { path = "/nonexistent" })
  end)

  it("damaged files are DataLoss errors naming the file", function()
    local cases = {
      { "bad_magic", { "train-images-idx3-ubyte.gz", "uint8(5, 28, 28, 1)", "expected images [N,28,28]" } },
      { "bad_type", { "train-images-idx3-ubyte.gz", "not an IDX file" } },
      { "truncated_data", { "train-images-idx3-ubyte.gz", "truncated" } },
      { "truncated_gz", { "train-images-idx3-ubyte.gz" } },
      { "corrupt_gz", { "train-images-idx3-ubyte.gz" } },
      { "wrong_dims", { "train-images-idx3-ubyte.gz", "uint8(5, 27, 28)", "expected images [N,28,28]" } },
      { "count_mismatch", { "has 5 images but 4 labels" } },
      { "trailing", { "train-labels-idx1-ubyte.gz", "more bytes" } },
      { "bad_label", { "train-labels-idx1-ubyte", "label above 9" } },
    }
    for _, c in ipairs(cases) do
      local e = helpers.assert_error("DataLoss", c[2], datasets.fashion_mnist.load_data, { path = FIX .. "/" .. c[1] })
      assert.truthy(tostring(e):find(c[1], 1, true), c[1] .. ": " .. tostring(e))
    end
  end)

  it("TLUA_FASHION_MNIST is used when no path is given", function()
    -- os.getenv cannot be set from Lua: run a child with the variable set
    local cmd = ('TLUA_FASHION_MNIST=%q lua5.4 -e \'local X, y = require("keras.datasets").fashion_mnist.load_data(); io.write(table.concat(y:totable(), ","))\''):format(FIX .. "/good")
    local p = assert(io.popen(cmd .. " 2>&1"))
    local out = p:read("a")
    p:close()
    assert.are.equal("0,1,2,3,4", out)
  end)

  it("rejects unknown options", function()
    helpers.assert_error("InvalidArgument", { "unknown option 'dir'" }, datasets.fashion_mnist.load_data, { dir = "x" })
  end)

  local real = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
  local fh = io.open(real, "rb")
  if fh then fh:close() end
  local it_real = fh and it or pending
  it_real("loads the real Fashion-MNIST files (dataset-fashion-mnist) quickly and exactly", function()
    local t0 = os.clock()
    local X, y, Xt, yt = datasets.fashion_mnist.load_data()
    local secs = os.clock() - t0
    assert.are.same({ 60000, 28, 28 }, X.shape:as_list())
    assert.are.same({ 60000 }, y.shape:as_list())
    assert.are.same({ 10000, 28, 28 }, Xt.shape:as_list())
    assert.are.same({ 10000 }, yt.shape:as_list())
    assert.is_true(secs < 3, ("load_data took %.2f s of CPU"):format(secs))
    -- sums against numpy reading the same gzip files
    local ref = helpers.python([[
import gzip
d = '/usr/share/datasets/fashion-mnist/'
X = np.frombuffer(gzip.open(d + 'train-images-idx3-ubyte.gz').read(), np.uint8, offset=16)
y = np.frombuffer(gzip.open(d + 'train-labels-idx1-ubyte.gz').read(), np.uint8, offset=8)
Xt = np.frombuffer(gzip.open(d + 't10k-images-idx3-ubyte.gz').read(), np.uint8, offset=16).reshape(-1, 28, 28)
out = [int(X.astype(np.int64).sum()), int(y.astype(np.int64).sum()), int(Xt[1234].astype(np.int64).sum()), Xt[9999, 14].tolist()]
]])
    assert.are.equal(ref[1], tf.reduce_sum(tf.cast(X, "int64")):item())
    assert.are.equal(ref[2], tf.reduce_sum(tf.cast(y, "int64")):item())
    assert.are.equal(ref[3], tf.reduce_sum(tf.cast(Xt[1234], "int64")):item())
    assert.are.same(ref[4], Xt[9999][14]:totable())
  end)
end)
