-- Per-call cost of the seed loop's loss and metrics (batch 32 x 10 softmax
-- probabilities, int labels): SparseCategoricalCrossentropy()(y, p),
-- Mean:update_state(loss), SparseCategoricalAccuracy:update_state(y, p),
-- against the same work in PyTorch eager (clamp/log/nll_loss; running sums in
-- tensors), measured in the same run.
--   TLUA_STDLIB=$PWD/stdlib tlua bench/keras_loss_metric.lua [iterations]
local N = tonumber(arg and arg[1]) or 20000

local function time(f)
  for _ = 1, 200 do f() end
  local t0 = os.clock()
  for _ = 1, N do f() end
  return (os.clock() - t0) / N * 1e6
end

tf.random.set_seed(1)
local p = tf.nn.softmax(tf.random.normal({ 32, 10 }))
local labels = {}
for i = 1, 32 do labels[i] = (i * 7) % 10 end
local y = tf.constant(labels, "int64")
local loss_fn = keras.losses.SparseCategoricalCrossentropy()
local mean_loss = keras.metrics.Mean{ name = "mean_loss" }
local accuracy = keras.metrics.SparseCategoricalAccuracy{ name = "accuracy" }
local loss = loss_fn(y, p)

local rows = {
  { "SparseCategoricalCrossentropy()(y, p)", time(function() return loss_fn(y, p) end) },
  { "Mean:update_state(loss)", time(function() mean_loss:update_state(loss) end) },
  { "SparseCategoricalAccuracy:update_state(y, p)", time(function() accuracy:update_state(y, p) end) },
  { "mean_loss:result()", time(function() return mean_loss:result() end) },
  { "mean_loss(loss)  (update + result)", time(function() return mean_loss(loss) end) },
  { "accuracy(y, p)  (update + result)", time(function() return accuracy(y, p) end) },
}

local peer = io.popen(([[/usr/bin/python3 - <<'PY' 2>&1
import time, torch
torch.set_num_threads(1)
N = %d
p = torch.softmax(torch.randn(32, 10), -1); y = torch.tensor([(i * 7) %% 10 for i in range(1, 33)])
tot, cnt, atot, acnt = torch.zeros(()), torch.zeros(()), torch.zeros(()), torch.zeros(())
def scce(): return torch.nn.functional.nll_loss(torch.log(torch.clamp(p, 1e-7, 1 - 1e-7)), y)
loss = scce()
def mean_upd(): tot.add_(loss); cnt.add_(1.0)
def acc_upd(): atot.add_((p.argmax(-1) == y).float().sum()); acnt.add_(32.0)
def t(f):
    for _ in range(200): f()
    t0 = time.perf_counter()
    for _ in range(N): f()
    return (time.perf_counter() - t0) / N * 1e6
def mean_call(): mean_upd(); return tot / cnt
def acc_call(): acc_upd(); return atot / acnt
print(t(scce), t(mean_upd), t(acc_upd), t(lambda: tot / cnt), t(mean_call), t(acc_call))
PY]]):format(N))
local text = peer:read("a")
peer:close()
local ref = {}
for v in text:gmatch("[%d.]+") do ref[#ref + 1] = tonumber(v) end
print(("%-48s %10s %10s %8s"):format("call (batch 32 x 10)", "tlua us", "torch us", "ratio"))
for i, r in ipairs(rows) do
  local t = ref[i]
  print(("%-48s %10.2f %10s %8s"):format(r[1], r[2], t and ("%.2f"):format(t) or "-", t and ("%.2f"):format(r[2] / t) or "-"))
end
if #ref < #rows then print("(torch peer unavailable: " .. text:sub(1, 200) .. ")") end
