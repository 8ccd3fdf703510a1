-- tlua.repl: the interactive loop of the `tlua` program, and breakpoint().
--
-- Structure follows lua.c: read a line, try it as `return <line>` so an
-- expression prints its value, else compile it as a statement and, while
-- the compiler reports an error at "<eof>", read more lines with ">> ".
--
-- Locals that survive from one line to the next: each chunk runs with its
-- own _ENV = a session table whose misses fall back to _G. Before compiling,
-- the chunk's top-level `local` statements are rewritten into plain
-- assignments (`local x, y = 1, 2` -> `x, y = 1, 2`, `local function f` ->
-- `function f`) and their names are declared in the session; assignments to
-- declared names land in the session table, all others in _G. Since nothing
-- stays a real local, a function defined on one line and the variables it
-- uses on another see the same storage. `local x <close>` is left as a real
-- local (closed at the end of its chunk). `tlua -i script` runs the script
-- through the same rewrite, so its top-level locals are there afterwards.
--
-- Works without the C readline glue (plain lua5.4: lines come from stdin).
local M = {}

local has_rl, rl = pcall(require, "tlua.readline")
if not has_rl then rl = nil end

local INTERRUPTED = rl and rl.INTERRUPTED or "interrupted"
M.INTERRUPTED = INTERRUPTED

-- ---- the top-level local rewrite ------------------------------------------

-- Lua tokens by position: calls fn(kind, text, s, e) with kind "name",
-- "string", "number" or "sym" (comments and blanks are skipped).
local function tokens(src, fn)
  local i, n = 1, #src
  while i <= n do
    local s, e = src:find("^%s+", i)
    if s then
      i = e + 1
    else
      local c = src:sub(i, i)
      if c == "-" and src:sub(i + 1, i + 1) == "-" then
        local eqs = src:match("^%[(=*)%[", i + 2)
        local close
        if eqs then
          close = select(2, src:find("]" .. eqs .. "]", i + 2, true))
        else
          close = src:find("\n", i + 2, true)
        end
        i = (close or n) + 1
      elseif c == "[" and src:find("^%[=*%[", i) then
        local eqs = src:match("^%[(=*)%[", i)
        local _, close = src:find("]" .. eqs .. "]", i, true)
        fn("string", nil, i, close or n)
        i = (close or n) + 1
      elseif c == '"' or c == "'" then
        local j = i + 1
        while j <= n do
          local ch = src:sub(j, j)
          if ch == "\\" then j = j + 2
          elseif ch == c or ch == "\n" then break
          else j = j + 1 end
        end
        fn("string", nil, i, j)
        i = j + 1
      elseif c:find("[%a_]") then
        s, e = src:find("^[%a_][%w_]*", i)
        fn("name", src:sub(s, e), s, e)
        i = e + 1
      elseif c:find("%d") or (c == "." and src:find("^%.%d", i)) then
        s, e = src:find("^[%w_%.]+", i)
        fn("number", nil, s, e)
        i = e + 1
      else
        fn("sym", c, i, i)
        i = i + 1
      end
    end
  end
end

local openers = { ["function"] = true, ["do"] = true, ["if"] = true, ["repeat"] = true }
local closers = { ["end"] = true, ["until"] = true }

-- Rewrites the top-level local declarations of src into assignments.
-- Returns the new source (same line numbers) and the declared names.
function M.rewrite_locals(src)
  local toks = {}
  tokens(src, function(kind, text, s, e) toks[#toks + 1] = { kind, text, s, e } end)
  local edits, names = {}, {}
  local depth, k = 0, 1
  while k <= #toks do
    local t = toks[k]
    local kind, text = t[1], t[2]
    if kind == "name" and text == "local" and depth == 0 then
      local nxt = toks[k + 1]
      if nxt and nxt[2] == "function" then
        local nm = toks[k + 2]
        if nm and nm[1] == "name" then
          names[#names + 1] = nm[2]
          edits[#edits + 1] = { t[3], t[4], "" }
        end
      else
        -- namelist: Name [<attrib>] {, Name [<attrib>]}
        local j, list, attribs, close = k + 1, {}, {}, false
        while toks[j] and toks[j][1] == "name" do
          list[#list + 1] = toks[j][2]
          local last = j
          if toks[j + 1] and toks[j + 1][2] == "<" and toks[j + 2] and toks[j + 3]
              and toks[j + 3][2] == ">" then
            if toks[j + 2][2] == "close" then close = true end
            attribs[#attribs + 1] = { toks[j + 1][3], toks[j + 3][4] }
            last = j + 3
          end
          j = last + 1
          if toks[j] and toks[j][2] == "," then j = j + 1 else break end
        end
        if #list > 0 and not close then
          for _, nm in ipairs(list) do names[#names + 1] = nm end
          edits[#edits + 1] = { t[3], t[4], "" }
          for _, a in ipairs(attribs) do edits[#edits + 1] = { a[1], a[2], "" } end
          local after = toks[j]
          if not (after and after[2] == "=" and not (toks[j + 1] and toks[j + 1][2] == "=")) then
            local prev = toks[j - 1]
            edits[#edits + 1] = { prev[4] + 1, prev[4], " = nil" }
          end
        end
        k = j - 1
      end
    elseif kind == "name" then
      if openers[text] then depth = depth + 1
      elseif closers[text] then depth = depth - 1 end
    end
    k = k + 1
  end
  table.sort(edits, function(a, b) return a[1] > b[1] end)
  for _, ed in ipairs(edits) do
    src = src:sub(1, ed[1] - 1) .. ed[3] .. src:sub(ed[2] + 1)
  end
  return src, names
end

-- ---- sessions -------------------------------------------------------------

-- A session: `vars` holds the surviving locals, `decl` their names, `env`
-- (= vars) is the _ENV of every chunk; misses read from `fallback` (_G or a
-- breakpoint caller's _ENV), assignments to undeclared names go there too.
function M.session(fallback)
  fallback = fallback or _G
  local decl = {}
  local vars = setmetatable({}, {
    __index = fallback,
    __newindex = function(t, key, v)
      if decl[key] then rawset(t, key, v) else fallback[key] = v end
    end,
  })
  return { vars = vars, decl = decl, env = vars, fallback = fallback }
end

-- Compiles src for the session (top-level locals rewritten and declared).
function M.load(sess, src, chunkname)
  local code, names = M.rewrite_locals(src)
  local f, err = load(code, chunkname, "t", sess.env)
  if f then
    for _, nm in ipairs(names) do sess.decl[nm] = true end
  end
  return f, err
end

-- ---- running and reporting ------------------------------------------------

local function is_tf_error(e)
  local ok, core = pcall(require, "tlua.core")
  return ok and type(e) == "table" and getmetatable(e) == core.ErrorMeta
end

-- Drops the frames below the innermost "in main chunk" (the REPL and the
-- runner themselves) from a traceback.
local function trim_traceback(tb)
  local out, seen_header = {}, false
  for line in (tb .. "\n"):gmatch("(.-)\n") do
    out[#out + 1] = line
    if line == "stack traceback:" then seen_header = true end
    if seen_header and line:find("in main chunk", 1, true) then break end
  end
  return table.concat(out, "\n")
end

-- The message handler for user code: tf.errors values stay values (their
-- text already says where); anything else gets a traceback.
function M.msghandler(e)
  if e == INTERRUPTED then return e end
  if is_tf_error(e) then
    if os.getenv("TLUA_TRACEBACK") == "1" then
      return tostring(e) .. "\n" .. trim_traceback(debug.traceback("", 2):sub(2))
    end
    return e
  end
  local msg
  if type(e) == "string" or type(e) == "number" then
    msg = tostring(e)
  else
    local mt = getmetatable(e)
    if mt and mt.__tostring then msg = tostring(e)
    else msg = ("(error object is a %s value)"):format(type(e)) end
  end
  return trim_traceback(debug.traceback(msg, 2))
end

-- Runs f(...) with Ctrl-C interrupting it; returns ok, results... / false, msg.
function M.call(f, ...)
  if rl then return rl.pcall(M.msghandler, f, ...) end
  return xpcall(f, M.msghandler, ...)
end

function M.error_text(e)
  if e == INTERRUPTED then return "interrupted" end
  return tostring(e)
end

-- Compact display of plain tables ({1, 2, 3}, {a = 1}); others via tostring.
local function show(v, depth)
  if type(v) ~= "table" or getmetatable(v) ~= nil then
    if type(v) == "string" and depth > 0 then return ("%q"):format(v) end
    return tostring(v)
  end
  if depth >= 2 then return tostring(v) end
  local parts, n = {}, 0
  for i, x in ipairs(v) do
    n = n + 1
    if n > 20 then parts[#parts + 1] = "..." break end
    parts[#parts + 1] = show(x, depth + 1)
  end
  local len = #v
  local keys = {}
  for key in pairs(v) do
    if not (math.type(key) == "integer" and key >= 1 and key <= len) then keys[#keys + 1] = key end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, key in ipairs(keys) do
    n = n + 1
    if n > 20 then parts[#parts + 1] = "..." break end
    local ks = (type(key) == "string" and key:find("^[%a_][%w_]*$")) and key
      or "[" .. show(key, depth + 1) .. "]"
    parts[#parts + 1] = ks .. " = " .. show(v[key], depth + 1)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end
M.show = show

local function print_results(n, ...)
  if n == 0 then return end
  local parts = {}
  for i = 1, n do parts[i] = show((select(i, ...)), 0) end
  io.stdout:write(table.concat(parts, "\t"), "\n")
  io.stdout:flush()
end

-- ---- completion -------------------------------------------------------------

local lua_keywords = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then",
  "true", "until", "while",
}

local function tensor_like(v)
  local ok, core = pcall(require, "tlua.core")
  if not ok then return nil end
  local mt = getmetatable(v)
  if type(v) == "userdata" and (mt == core.Tensor or mt == core.VariableMeta) then return mt end
  if type(v) == "userdata" and core.ragged and mt == core.ragged.Meta then return mt end
  return nil
end

-- Field names of v for completion after "." (all) or ":" (methods only).
local function members(v, colon)
  local out = {}
  local function add(k, val)
    if type(k) == "string" and k:find("^[%a_][%w_]*$") and (not colon or type(val) == "function"
        or val == true) then
      out[k] = true
    end
  end
  local mt = tensor_like(v)
  if mt then
    for k, f in pairs(mt.methods or {}) do add(k, f) end
    if not colon and mt == require("tlua.core").ragged.Meta then
      for _, k in ipairs({ "flat_values", "values", "row_splits", "nested_row_splits", "ragged_rank", "dtype",
                           "shape" }) do out[k] = true end
    elseif not colon then
      for _, k in ipairs({ "shape", "dtype", "ndim", "device" }) do out[k] = true end
      if mt ~= require("tlua.core").Tensor then
        for _, k in ipairs({ "trainable", "name", "id" }) do out[k] = true end
      end
    end
  elseif type(v) == "string" then
    for k, f in pairs(string) do add(k, f) end
  elseif type(v) == "table" then
    local seen = {}
    local t = v
    while type(t) == "table" and not seen[t] do
      seen[t] = true
      for k, val in pairs(t) do add(k, val) end
      local m = getmetatable(t)
      t = m and rawget(m, "__index")
    end
  end
  return out
end

-- Candidates replacing `text` (a word without break characters, such as
-- "tf.ma", "x:resh" or "pri").
function M.complete(sess, text)
  local prefix, sep, part = text:match("^(.*)([%.:])([%a_]?[%w_]*)$")
  local names = {}
  if not prefix then
    if not text:find("^[%a_]?[%w_]*$") then return {} end
    part = text
    for k in pairs(sess.decl) do names[k] = true end
    local t, seen = sess.env, {}
    while type(t) == "table" and not seen[t] do
      seen[t] = true
      for k in pairs(t) do if type(k) == "string" and k:find("^[%a_][%w_]*$") then names[k] = true end end
      local m = getmetatable(t)
      t = m and rawget(m, "__index")
    end
    for _, kw in ipairs(lua_keywords) do names[kw] = true end
    prefix, sep = "", ""
  else
    -- only plain name chains are evaluated: completion must not run code
    if not prefix:find("^[%a_][%w_]*$") and not prefix:find("^[%a_][%w_]*[%.%w_]*[%w_]$") then
      return {}
    end
    local v = sess.env
    for nm in prefix:gmatch("[^.]+") do
      if type(v) ~= "table" and not tensor_like(v) then return {} end
      local ok, x = pcall(function() return v[nm] end)
      if not ok then return {} end
      v = x
    end
    if v == nil then return {} end
    names = members(v, sep == ":")
  end
  local out = {}
  for k in pairs(names) do
    if k:sub(1, #part) == part then out[#out + 1] = prefix .. sep .. k end
  end
  table.sort(out)
  return out
end

-- ---- the loop ---------------------------------------------------------------

local function history_file()
  local h = os.getenv("TLUA_HISTORY")
  if h and h ~= "" then return h end
  local home = os.getenv("HOME")
  return home and home .. "/.tlua_history" or nil
end

local history_ready = false

-- Line reader: readline on a terminal, else stdin (prompts written like lua.c).
local function make_reader(sess)
  if rl and rl.isatty(0) then
    if not history_ready then
      local path = history_file()
      if path then rl.history_init(path, tonumber(os.getenv("TLUA_HISTORY_SIZE")) or 1000) end
      history_ready = true
    end
    return function(prompt)
      rl.set_completer(function(text) return M.complete(sess, text) end)
      local line = rl.readline(prompt)
      if line then rl.history_add(line) end
      return line
    end, true
  end
  return function(prompt)
    io.stdout:write(prompt)
    io.stdout:flush()
    return io.stdin:read("l")
  end, false
end

local function incomplete(err)
  return err:sub(-5) == "<eof>"
end

-- Reads one complete chunk. Returns a function and whether to print, or
-- nil at end of input, or false after Ctrl-C / a syntax error.
local function read_chunk(sess, read, opts)
  local line = read(opts.prompt)
  if line == nil or line == false then return line end
  if opts.commands and opts.commands[line:match("^%s*(.-)%s*$")] then
    return opts.commands[line:match("^%s*(.-)%s*$")]
  end
  line = line:gsub("^=", "") -- "=expr", a Lua 5.1 habit
  local silent = line:find(";%s*$") ~= nil
  local f = load("return " .. line, "=stdin", "t", sess.env)
  if f then return f, not silent end
  local buf = line
  while true do
    local err
    f, err = M.load(sess, buf, "=stdin")
    if f then return f, false end
    if not incomplete(err) then
      io.stderr:write(err, "\n")
      return false
    end
    local more = read(opts.prompt2)
    if more == nil or more == false then
      if more == nil then io.stderr:write(err, "\n") end
      return false
    end
    buf = buf .. "\n" .. more
  end
end

-- Runs the loop until end of input (or a command returns "exit").
-- opts: session, prompt, prompt2, banner, commands = {word = "exit"}.
function M.run(opts)
  opts = opts or {}
  local sess = opts.session or M.session()
  opts.prompt = opts.prompt or "> "
  opts.prompt2 = opts.prompt2 or ">> "
  local read, tty = make_reader(sess)
  if opts.banner then io.stdout:write(opts.banner, "\n") end
  while true do
    local f, show_results = read_chunk(sess, read, opts)
    if f == nil then
      io.stdout:write("\n")
      break
    end
    if f == "exit" then break end
    if f then
      local function report(ok, ...)
        if not ok then
          io.stdout:flush()
          io.stderr:write(M.error_text((...)), "\n")
          io.stderr:flush()
        elseif show_results then
          print_results(select("#", ...), ...)
        end
      end
      report(M.call(f))
      io.stdout:flush()
    end
  end
  return sess
end

-- ---- breakpoint() -----------------------------------------------------------

-- Opens a REPL over the caller's locals and upvalues; writes changes back
-- when the user leaves it (Ctrl-D, `cont` or `continue`).
function M.breakpoint()
  local tty = rl and rl.isatty(0)
  if not tty and os.getenv("TLUA_NO_BREAKPOINT") == "1" then
    io.stderr:write("tlua: breakpoint() skipped (TLUA_NO_BREAKPOINT=1)\n")
    return
  end
  local info = debug.getinfo(2, "Slnf")
  -- Locals: the innermost declaration of each name wins.
  local locals, order = {}, {}
  local i = 1
  while true do
    local name, value = debug.getlocal(2, i)
    if not name then break end
    if not name:find("^%(") then
      if not locals[name] then order[#order + 1] = name end
      locals[name] = { index = i, value = value }
    end
    i = i + 1
  end
  local upvals, fallback = {}, _G
  if info.func then
    i = 1
    while true do
      local name, value = debug.getupvalue(info.func, i)
      if not name then break end
      if name == "_ENV" then
        if type(value) == "table" then fallback = value end
      elseif not locals[name] and not upvals[name] then
        upvals[name] = { index = i, value = value }
        order[#order + 1] = name
      end
      i = i + 1
    end
  end
  local sess = M.session(fallback)
  for name, l in pairs(locals) do sess.decl[name] = true; rawset(sess.vars, name, l.value) end
  for name, u in pairs(upvals) do sess.decl[name] = true; rawset(sess.vars, name, u.value) end
  local where = ("%s:%d"):format(info.short_src, info.currentline)
  if info.name then where = where .. " in function '" .. info.name .. "'" end
  io.stdout:write(("breakpoint at %s\nlocals: %s\n`cont` or Ctrl-D continues the script\n")
    :format(where, #order > 0 and table.concat(order, ", ") or "(none)"))
  io.stdout:flush()
  M.run({
    session = sess, prompt = "(bp)> ", prompt2 = "(bp)>> ",
    commands = { cont = "exit", continue = "exit" },
  })
  for name, l in pairs(locals) do debug.setlocal(2, l.index, rawget(sess.vars, name)) end
  for name, u in pairs(upvals) do debug.setupvalue(info.func, u.index, rawget(sess.vars, name)) end
end

return M
