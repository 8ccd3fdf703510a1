-- keras.utils: Progbar (Keras's progress bar, for fit and custom loops),
-- the text chart behind history:plot(), to_categorical, set_random_seed.
--
--   local bar = keras.utils.Progbar(1718)
--   bar:update(step, {{"loss", 0.51}, {"accuracy", 0.82}})
--   --> 32/1718 [>.............................] - ETA: 3s - loss: 0.5100 - accuracy: 0.8200
--
-- Display: on a terminal the bar is redrawn in place with \r, at most every
-- `interval` seconds (0.05) and at the end; when stdout is not a terminal
-- and verbose=1 each redraw is a new line (as Keras), and with verbose=2
-- only the final line is written. fit's verbose="auto" is 1 on a terminal
-- and 2 otherwise (one line per epoch).
-- Terminal detection: TLUA_PROGBAR=tty|lines forces it; otherwise the
-- tlua program's isatty(1) (tlua.readline); under a plain lua5.4, the
-- shell's `[ -t 1 ]` once per process.
-- A value given as a tensor is read with :item(); values named in
-- stateful_metrics (or all, with stateful_metrics=true) are shown as given,
-- others are averaged over the steps since the start, as Keras.
local core = require("tlua.core")

local M = {}
local raise = core.raise
local now = core.now

-- ---- output ------------------------------------------------------------------------

function M._write(s)
  io.stdout:write(s)
  io.stdout:flush()
end

-- The shortest decimal text that reads back as the same double (Python's repr).
function M._repr(v)
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  if math.type(v) == "integer" then return tostring(v) end
  for p = 1, 17 do
    local s = ("%." .. p .. "g"):format(v)
    if tonumber(s) == v then
      if not s:find("[%.eEn]") then s = s .. ".0" end
      return s
    end
  end
  return ("%.17g"):format(v)
end

local tty_cache = nil
function M.is_terminal()
  local forced = os.getenv("TLUA_PROGBAR")
  if forced == "tty" then return true end
  if forced == "lines" then return false end
  if tty_cache == nil then
    local ok, rl = pcall(require, "tlua.readline")
    if ok and type(rl) == "table" and rl.isatty then
      tty_cache = rl.isatty(1) and true or false
    else
      local r = os.execute("[ -t 1 ]")
      tty_cache = r == true
    end
  end
  return tty_cache
end

-- ---- Progbar -------------------------------------------------------------------------

local Progbar = require("tlua.class")("Progbar")
M.Progbar = Progbar

-- Progbar(target, {width=30, verbose=1, interval=0.05, stateful_metrics=, unit_name="step"});
-- target nil = unknown.
function Progbar:init(target, opts)
  if type(target) == "table" then opts, target = target, target.target end
  opts = require("tlua.errors").check_options("Progbar", opts,
    { target = true, width = true, verbose = true, interval = true, stateful_metrics = true, unit_name = true })
  if target ~= nil and (type(target) ~= "number" or target < 0) then
    raise("InvalidArgument", ("Progbar: target must be a non-negative number of steps (or nil when unknown), got %s"):format(tostring(target)))
  end
  self.target = target
  self.width = opts.width or 30
  self.verbose = opts.verbose or 1
  self.interval = opts.interval or 0.05
  self.unit_name = opts.unit_name or "step"
  local sm = opts.stateful_metrics
  if sm == true then self._all_stateful = true
  else
    self._stateful = {}
    for _, k in ipairs(sm or {}) do self._stateful[k] = true end
  end
  self._dynamic = M.is_terminal()
  self._total_width = 0
  self._seen_so_far = 0
  self._values = {}        -- name -> {sum, count} or {value}
  self._order = {}
  self._start = now()
  self._last_update = 0
  self._time_after_first_step = nil
  self._time_at_epoch_start = self._start
end

-- True when the next update would draw (so callers can skip building values).
function Progbar:_due()
  return self.verbose == 1 and now() - self._last_update >= self.interval
end

local function num(v)
  if type(v) == "number" then return v end
  if core.is_tensor(v) then return v:item() end
  if type(v) == "table" and v.result then return v:result():item() end
  return v
end

function Progbar:_record(current, values)
  if values == nil then return end
  local vals = self._values
  local function put(k, v)
    v = num(v)
    if vals[k] == nil then self._order[#self._order + 1] = k end
    if self._all_stateful or self._stateful[k] or type(v) ~= "number" then
      local e = vals[k]
      if e and e.state then e[1] = v else vals[k] = { v, state = true } end
    else
      local base = math.max(current - self._seen_so_far, 1)
      local e = vals[k]
      if e == nil or e.state then vals[k] = { v * base, base }
      else e[1], e[2] = e[1] + v * base, e[2] + base end
    end
  end
  if values[1] ~= nil then
    for _, pair in ipairs(values) do put(pair[1], pair[2]) end
  else
    local keys = {}
    for k in pairs(values) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do put(k, values[k]) end
  end
end

local function fmt_time(t, unit)
  if t >= 1 or t == 0 then return (" %.0fs/%s"):format(t, unit) end
  if t >= 1e-3 then return (" %.0fms/%s"):format(t * 1e3, unit) end
  return (" %.0fus/%s"):format(t * 1e6, unit)
end

function Progbar:_estimate(current, t)
  if current and current > 0 then
    if self._time_after_first_step and current > 1 then
      return (t - self._time_after_first_step) / (current - 1)
    end
    local per = (t - self._start) / current
    if current == 1 then self._time_after_first_step = t end
    return per
  end
  return 0
end

function Progbar:_metrics_text()
  local parts = {}
  for _, k in ipairs(self._order) do
    local e = self._values[k]
    local v = e.state and e[1] or e[1] / math.max(1, e[2])
    if type(v) == "number" then
      if math.abs(v) > 1e-3 then parts[#parts + 1] = (" - %s: %.4f"):format(k, v)
      else parts[#parts + 1] = (" - %s: %.4e"):format(k, v) end
    else
      parts[#parts + 1] = (" - %s: %s"):format(k, tostring(v))
    end
  end
  return table.concat(parts)
end

-- update(current, values, finalize): values a list of {name, value} pairs
-- or a name -> value table; finalize defaults to current >= target.
function Progbar:update(current, values, finalize)
  if type(current) ~= "number" then
    raise("InvalidArgument", ("Progbar:update: current must be the number of steps done, got %s"):format(type(current)))
  end
  if finalize == nil then finalize = self.target ~= nil and current >= self.target end
  self:_record(current, values)
  self._seen_so_far = current
  if self.verbose == 0 then return end
  local t = now()
  if self.verbose == 1 then
    if t - self._last_update < self.interval and not finalize then return end
    local prev = self._total_width
    local msg = self._dynamic and "\r" or (self._printed and "\n" or "")
    self._printed = true
    local bar
    if self.target ~= nil then
      local digits = math.floor(math.log(math.max(self.target, 1), 10)) + 1
      bar = ("%" .. digits .. "d/%d ["):format(current, self.target)
      local prog = self.target > 0 and current / self.target or 1
      local w = math.floor(self.width * prog)
      if w > 0 then
        bar = bar .. ("="):rep(w - 1) .. (current < self.target and ">" or "=")
      end
      bar = bar .. ("."):rep(self.width - w) .. "]"
    else
      bar = ("%7d/Unknown"):format(current)
    end
    self._total_width = #bar
    local per = self:_estimate(current, t)
    local info
    if self.target == nil or finalize then
      info = (" - %.0fs"):format(t - self._start) .. fmt_time(per, self.unit_name)
    else
      local eta = per * (self.target - current)
      local e
      if eta > 3600 then e = ("%d:%02d:%02d"):format(eta // 3600, (eta % 3600) // 60, eta % 60)
      elseif eta > 60 then e = ("%d:%02d"):format(eta // 60, eta % 60)
      else e = ("%ds"):format(math.floor(eta)) end
      info = " - ETA: " .. e
    end
    info = info .. self:_metrics_text()
    self._total_width = self._total_width + #info
    if self._dynamic and prev > self._total_width then info = info .. (" "):rep(prev - self._total_width) end
    if finalize then
      info = info .. "\n"
      self._printed = false
    end
    M._write(msg .. bar .. info)
  elseif self.verbose == 2 and finalize then
    local target = self.target or current
    local digits = math.floor(math.log(math.max(target, 1), 10)) + 1
    local info = ("%" .. digits .. "d/%d - %.0fs"):format(current, target, t - self._start)
    info = info .. self:_metrics_text()
    local epoch_time = t - self._time_at_epoch_start
    info = info .. " -" .. fmt_time(epoch_time, "epoch") .. " -" .. fmt_time(epoch_time / math.max(target, 1), self.unit_name)
    self._time_at_epoch_start = t
    M._write(info .. "\n")
  end
  self._last_update = t
end

function Progbar:add(n, values) return self:update(self._seen_so_far + n, values) end

-- ---- history:plot ------------------------------------------------------------------------

local MARKS = { "*", "o", "+", "x", "#", "@", "%", "&" }

-- One chart of several series (lists of numbers, one per epoch).
local function chart(title, names, series, width, height)
  local lo, hi, n = math.huge, -math.huge, 0
  for _, s in ipairs(series) do
    for _, v in ipairs(s) do
      if v == v and v ~= math.huge and v ~= -math.huge then
        lo, hi = math.min(lo, v), math.max(hi, v)
      end
    end
    n = math.max(n, #s)
  end
  if n == 0 or lo == math.huge then return title .. ": no values\n" end
  if hi == lo then hi, lo = hi + 0.5 * math.max(math.abs(hi), 1e-3), lo - 0.5 * math.max(math.abs(lo), 1e-3) end
  local grid = {}
  for r = 1, height do
    grid[r] = {}
    for c = 1, width do grid[r][c] = " " end
  end
  local function col_of(i) return n == 1 and 1 or math.floor((i - 1) * (width - 1) / (n - 1) + 0.5) + 1 end
  local function row_of(v) return height - math.floor((v - lo) / (hi - lo) * (height - 1) + 0.5) end
  for si, s in ipairs(series) do
    local mark = MARKS[(si - 1) % #MARKS + 1]
    local pc, pr
    for i, v in ipairs(s) do
      if v == v and v ~= math.huge and v ~= -math.huge then
        local c, r = col_of(i), row_of(v)
        if pc then   -- a dotted line between consecutive epochs
          local steps = math.max(math.abs(c - pc), math.abs(r - pr))
          for k = 1, steps - 1 do
            local cc = pc + math.floor((c - pc) * k / steps + 0.5)
            local rr = pr + math.floor((r - pr) * k / steps + 0.5)
            if grid[rr][cc] == " " then grid[rr][cc] = "." end
          end
        end
        grid[r][c] = mark
        pc, pr = c, r
      end
    end
  end
  local lines = { title }
  local labw = math.max(#("%.4g"):format(hi), #("%.4g"):format(lo))
  for r = 1, height do
    local label = ""
    if r == 1 then label = ("%.4g"):format(hi)
    elseif r == height then label = ("%.4g"):format(lo)
    elseif r == math.floor((height + 1) / 2) then label = ("%.4g"):format((hi + lo) / 2) end
    lines[#lines + 1] = (" "):rep(labw - #label) .. label .. " |" .. table.concat(grid[r])
  end
  lines[#lines + 1] = (" "):rep(labw) .. " +" .. ("-"):rep(width)
  local axis = (" "):rep(labw + 2) .. "1" .. (" "):rep(math.max(width - #tostring(n) - 1, 1)) .. tostring(n)
  lines[#lines + 1] = axis
  lines[#lines + 1] = (" "):rep(labw + 2) .. ("epoch"):rep(1)
  local legend = {}
  for i, nm in ipairs(names) do legend[i] = MARKS[(i - 1) % #MARKS + 1] .. " " .. nm end
  lines[#lines + 1] = (" "):rep(labw + 2) .. table.concat(legend, "   ")
  return table.concat(lines, "\n") .. "\n"
end

-- plot_history(history, {keys=, width=60, height=12, print_fn=}) -> text.
-- Losses (names ending in "loss") share one chart, other metrics another.
function M.plot_history(history, opts)
  opts = require("tlua.errors").check_options("history:plot", opts,
    { keys = true, width = true, height = true, print_fn = true })
  local h = history.history or history
  local keys = opts.keys
  if not keys then
    keys = {}
    for k in pairs(h) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b)
      local av, bv = a:match("^val_") ~= nil, b:match("^val_") ~= nil
      if av ~= bv then return bv end
      return a < b
    end)
  end
  local loss_names, loss_series, met_names, met_series = {}, {}, {}, {}
  for _, k in ipairs(keys) do
    local s = h[k]
    if type(s) == "table" then
      if k:match("loss$") then loss_names[#loss_names + 1] = k loss_series[#loss_series + 1] = s
      else met_names[#met_names + 1] = k met_series[#met_series + 1] = s end
    end
  end
  local width, height = opts.width or 60, opts.height or 12
  local text = ""
  if #loss_names > 0 then text = text .. chart("loss", loss_names, loss_series, width, height) end
  if #met_names > 0 then text = text .. (text ~= "" and "\n" or "") .. chart("metrics", met_names, met_series, width, height) end
  if text == "" then text = "history: nothing to plot\n" end
  local pf = opts.print_fn
  if pf == nil then M._write(text)
  elseif pf then pf(text) end
  return text
end

-- ---- small helpers --------------------------------------------------------------------

-- to_categorical(y, num_classes, {dtype="float32"}): one-hot rows (labels 0-based).
function M.to_categorical(y, num_classes, opts)
  local tf = require("tlua")
  if type(num_classes) == "table" then opts, num_classes = num_classes, num_classes.num_classes end
  opts = opts or {}
  if not core.is_tensor(y) then y = tf.constant(y, "int32") end
  local s = y.shape
  if #s > 1 and s[-1] == 1 then y = tf.reshape(y, { -1 }) end
  if y.dtype.name ~= "int32" and y.dtype.name ~= "int64" then y = tf.cast(y, "int32") end
  if num_classes == nil then num_classes = tf.reduce_max(y):item() + 1 end
  local bad = tf.reduce_any(tf.logical_or(tf.less(y, 0), tf.greater_equal(y, num_classes))):item()
  if bad then
    raise("InvalidArgument", ("to_categorical: labels must be in [0, %d), got values outside"):format(num_classes))
  end
  local oh = tf.one_hot(y, num_classes)
  local dt = opts.dtype or "float32"
  if oh.dtype.name ~= dt then oh = tf.cast(oh, dt) end
  return oh
end

-- set_random_seed(seed): tf.random.set_seed and Lua's math.randomseed.
function M.set_random_seed(seed)
  if math.type(seed) ~= "integer" then raise("InvalidArgument", ("set_random_seed: expected an integer seed, got %s"):format(tostring(seed))) end
  require("tlua").random.set_seed(seed)
  math.randomseed(seed)
end

return M
