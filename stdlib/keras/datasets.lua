-- keras.datasets: Fashion-MNIST and MNIST from local IDX files (no downloads).
--
--   local X_train, y_train, X_test, y_test = keras.datasets.fashion_mnist.load_data()
--   keras.datasets.mnist.load_data{path = "/data/mnist"}
--
-- Returns uint8 tensors [60000,28,28], [60000], [10000,28,28], [10000]
-- (Keras returns (x_train, y_train), (x_test, y_test); Lua returns the four
-- values in that order). The files are the four gzipped (or plain) IDX
-- files {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz], read by
-- core.io.read_idx (zlib, in C). Where they are looked for, first found wins:
-- load_data{path = dir}, then $TLUA_FASHION_MNIST / $TLUA_MNIST, then the
-- Debian package's folder (/usr/share/datasets/fashion-mnist from
-- `apt-get install dataset-fashion-mnist`; Debian ships no MNIST package,
-- so /usr/share/datasets/mnist is only tried). A missing or damaged file is
-- an error naming the file and what to do; the images and labels must have
-- the expected ranks, image size and matching counts (any counts, so small
-- subsets work), and labels must be below 10.
local core = require("tlua.core")

local M = {}

local FILES = {
  { "train-images-idx3-ubyte", 3 }, { "train-labels-idx1-ubyte", 1 },
  { "t10k-images-idx3-ubyte", 3 }, { "t10k-labels-idx1-ubyte", 1 },
}

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() return true end
  return false
end

local function raise(kind, msg, ...) core.raise(kind, msg:format(...)) end

local function loader(title, env, default_dir, install_hint)
  local ds = {}
  function ds.load_data(opts)
    if opts ~= nil and type(opts) ~= "table" then
      raise("InvalidArgument", "keras.datasets.%s.load_data: expected an options table {path=}, got %s", title, type(opts))
    end
    opts = require("tlua.errors").check_options("keras.datasets." .. title .. ".load_data", opts or {}, { path = true })
    require("tlua") -- tensor methods (t.shape) come with the tlua module
    local dir = opts.path or os.getenv(env) or default_dir
    local how = opts.path and "the path given" or (os.getenv(env) and ("$" .. env)) or "the default folder"
    local out = {}
    for i, spec in ipairs(FILES) do
      local base = dir .. "/" .. spec[1]
      local file = exists(base .. ".gz") and (base .. ".gz") or (exists(base) and base) or nil
      if not file then
        raise("NotFound", "keras.datasets.%s: %s.gz not found (in %s, %s)%s", title, base, dir, how,
          install_hint and (". " .. install_hint) or "")
      end
      local ok, t = pcall(core.io.read_idx, file)
      if not ok then
        local msg = type(t) == "table" and t.message or tostring(t)
        raise("DataLoss", "keras.datasets.%s: %s%s", title, msg,
          (install_hint and not opts.path and not os.getenv(env)) and (" (" .. install_hint .. ")") or "")
      end
      local shape = t.shape:as_list()
      if #shape ~= spec[2] or (spec[2] == 3 and (shape[2] ~= 28 or shape[3] ~= 28)) then
        raise("DataLoss", "keras.datasets.%s: %s holds uint8%s, expected %s", title, file, tostring(t.shape),
          spec[2] == 3 and "images [N,28,28]" or "labels [N]")
      end
      out[i] = t
    end
    for k = 1, 3, 2 do
      local n_img, n_lab = out[k].shape[0], out[k + 1].shape[0]
      if n_img ~= n_lab then
        raise("DataLoss", "keras.datasets.%s: %s has %d images but %d labels", title,
          dir .. "/" .. FILES[k][1], n_img, n_lab)
      end
      if n_lab > 0 and require("tlua").reduce_max(out[k + 1]):item() > 9 then
        raise("DataLoss", "keras.datasets.%s: %s/%s holds a label above 9", title, dir, FILES[k + 1][1])
      end
    end
    return out[1], out[2], out[3], out[4]
  end
  return ds
end

M.fashion_mnist = loader("fashion_mnist", "TLUA_FASHION_MNIST", "/usr/share/datasets/fashion-mnist",
  "Install it: apt-get install dataset-fashion-mnist, or pass load_data{path = dir} / set TLUA_FASHION_MNIST")
M.mnist = loader("mnist", "TLUA_MNIST", "/usr/share/datasets/mnist",
  "Debian has no MNIST package: put the four IDX files in a folder and pass load_data{path = dir} or set TLUA_MNIST")

return M
