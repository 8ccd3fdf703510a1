-- Shared by the tlua sides of bench/run.sh.
--   M.timeit(fn, min_time, warmup): runs fn `warmup` times, then five batches
--     of about min_time/5 seconds each; the best seconds per call.
--   M.run(cases, order): runs the cases named on the command line (all when
--     none are) in `order`, printing "case seconds" or "case error message".
local now = tf.core.now
local M = {}

function M.timeit(fn, min_time, warmup)
  min_time = min_time or 0.3
  for _ = 1, warmup or 2 do fn() end -- allocator cache, BLAS load, pool threads
  local best = math.huge
  for _ = 1, 5 do
    local iters, t0 = 0, now()
    local elapsed
    repeat
      fn()
      iters = iters + 1
      elapsed = now() - t0
    until elapsed >= min_time / 5
    best = math.min(best, elapsed / iters)
  end
  return best
end

function M.run(cases, order)
  local want = {}
  for i = 1, #arg do want[arg[i]] = true end
  for _, name in ipairs(order) do
    if next(want) == nil or want[name] then
      local ok, t = pcall(cases[name])
      if ok then print(("%s %.9g"):format(name, t)) else print(("%s error %s"):format(name, tostring(t))) end
      io.stdout:flush()
    end
  end
end

return M
