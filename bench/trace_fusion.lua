-- bench/trace_fusion.lua — a chain of 8 element-wise ops on 1e7 float32
-- values, eager against the same function traced and fused (one pass over
-- memory instead of eight). Prints both times and the ratio traced/eager
-- (the issue's target: at most 0.35).
-- Usage: build/tlua bench/trace_fusion.lua [n]
local G = require("tlua.core").graph
local n = tonumber(arg[1]) or 10000000

local function chain(x, b)
  local y = x * 1.5 + b         -- multiply, add (b: a broadcast scalar tensor)
  y = tf.nn.relu(y - 0.25)      -- subtract, relu
  y = y * y + x                 -- multiply, add
  return tf.exp(-y)             -- negative, exp
end

tf.random.set_seed(1)
local x = tf.random.uniform({ n })
local b = tf.constant(0.5)

local tr = G.trace_begin()
local ok, res = pcall(function()
  return chain(G.trace_arg(tr, tf.float32, { n }), G.trace_arg(tr, tf.float32, {}))
end)
if not ok then G.trace_abort(tr); error(res) end
local g = G.trace_end(tr, { res })
g:optimize(1 + 32 + 64) -- DCE, FUSE, MEMORY
local st = g:stats()
assert(st.fused_groups == 1 and st.fused_ops == 8, "expected one fused group of 8 ops")

local want, got = chain(x, b), G.run(g, { x, b })[1]
local err = tf.reduce_max(tf.abs(want - got)):item()
assert(err < 1e-6, "fused result differs from eager by " .. err)

-- Interleaved rounds, best of each: this machine is shared.
local now = tf.core.now
local te, tg = math.huge, math.huge
for _ = 1, 15 do
  local t0 = now()
  local _ = chain(x, b)
  te = math.min(te, now() - t0)
  t0 = now()
  local _ = G.run(g, { x, b })
  tg = math.min(tg, now() - t0)
end
print(("trace_fusion n=%d eager %.2f ms traced+fused %.2f ms ratio %.3f (target <= 0.35)"):format(
  n, te * 1e3, tg * 1e3, tg / te))
