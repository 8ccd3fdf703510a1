-- The tlua REPL, driven through a real terminal (tmux): results, `;`,
-- multi-line input, surviving locals, errors, Ctrl-C, Tab completion,
-- history, help, -i and breakpoint(). Also the Lua parts on their own
-- (local rewriting, completion, help text) under plain lua5.4.
local TLUA = assert(os.getenv("TLUA"), "TLUA (the program path) is set by ctest")

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>/dev/null"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local function sleep(s) os.execute("sleep " .. s) end

local function tmpfile(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

-- One tmux server per spec run, on its own socket; the sanitizer preload
-- (for lua5.4) is kept away from tmux itself.
local SOCKET = "tlua_spec_" .. tostring(os.time()) .. "_" .. tostring(math.random(1e6))
local function tmux(args)
  return sh("env -u LD_PRELOAD tmux -L " .. SOCKET .. " -f /dev/null " .. args)
end

local Term = {}
Term.__index = Term
local counter = 0

-- Starts `tlua args` in a 120x50 terminal; env: table of extra variables.
function Term.start(args, env)
  counter = counter + 1
  local name = "s" .. counter
  local vars = { "TLUA_HISTORY=" .. (env and env.TLUA_HISTORY or os.tmpname()) }
  for k, v in pairs(env or {}) do
    if k ~= "TLUA_HISTORY" then vars[#vars + 1] = k .. "=" .. v end
  end
  for _, k in ipairs({ "ASAN_OPTIONS", "UBSAN_OPTIONS" }) do
    if os.getenv(k) then vars[#vars + 1] = k .. "=" .. os.getenv(k) end
  end
  local cmd = "env -u LD_PRELOAD " .. table.concat(vars, " ") .. " " .. q(TLUA) .. " " .. (args or "")
  tmux(("new-session -d -s %s -x 120 -y 50 %s"):format(name, q(cmd)))
  tmux(("set-option -t %s remain-on-exit off"):format(name))
  local t = setmetatable({ name = name }, Term)
  return t
end

function Term:screen()
  return (tmux(("capture-pane -p -t %s -S -1000"):format(self.name)))
end

-- Polls the screen until fn(screen) (or a plain substring) holds.
function Term:wait(what, timeout)
  local deadline = os.time() + (timeout or 20)
  local screen
  while true do
    screen = self:screen()
    local ok
    if type(what) == "function" then ok = what(screen) else ok = screen:find(what, 1, true) end
    if ok then return screen end
    if os.time() > deadline then
      error(("timed out waiting for %q; screen:\n%s"):format(tostring(what), screen), 2)
    end
    sleep(0.05)
  end
end

-- Counts occurrences of a plain substring on the screen.
local function count(screen, s)
  local n, i = 0, 1
  while true do
    local a, b = screen:find(s, i, true)
    if not a then return n end
    n, i = n + 1, b + 1
  end
end

-- Waits until the number of prompts "> " at line starts reaches n.
function Term:prompts()
  local n = 0
  for line in (self:screen() .. "\n"):gmatch("(.-)\n") do
    if line:find("^> ") or line == ">" then n = n + 1 end
  end
  return n
end

-- tmux ends a command at an argument's trailing ';', so that one goes as hex.
function Term:type(text)
  local body, semis = text:match("^(.-)(;*)$")
  if body ~= "" then tmux(("send-keys -t %s -l %s"):format(self.name, q(body))) end
  for _ = 1, #semis do tmux(("send-keys -t %s -H 3b"):format(self.name)) end
end
function Term:key(k) tmux(("send-keys -t %s %s"):format(self.name, q(k))) end

-- Sends a line and waits for the next prompt.
function Term:line(text)
  local before = self:prompts()
  self:type(text)
  self:key("Enter")
  self:wait(function() return self:prompts() > before end)
  return self:screen()
end

function Term:alive()
  local _, ok = tmux("has-session -t " .. self.name)
  return ok
end

function Term:wait_exit(timeout)
  local deadline = os.time() + (timeout or 20)
  while self:alive() do
    if os.time() > deadline then error("terminal did not exit:\n" .. self:screen(), 2) end
    sleep(0.05)
  end
end

function Term:close()
  if self:alive() then tmux("kill-session -t " .. self.name) end
end

-- Waits for a screen line matching a Lua pattern (tmux drops trailing blanks).
function Term:wait_line(pattern, timeout)
  return self:wait(function(screen)
    for line in (screen .. "\n"):gmatch("(.-)\n") do
      if line:find(pattern) then return true end
    end
  end, timeout)
end

-- The last line printed before the newest prompt (tabs become blanks on
-- the terminal: compare with blanks squeezed, see `norm`).
local function output_lines(screen)
  local lines = {}
  for line in (screen .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  while #lines > 0 and lines[#lines]:find("^%s*$") do lines[#lines] = nil end
  return lines
end

local function last_output(screen)
  local lines = output_lines(screen)
  return (lines[#lines - 1]:gsub("%s+", " "))
end

local have_tmux = os.execute("command -v tmux >/dev/null 2>&1")

describe("tlua REPL in a terminal", function()
  if not have_tmux then
    pending("tmux is not installed")
    return
  end
  local t

  setup(function()
    t = Term.start()
    t:wait("help() for help")
    t:wait(function() return t:prompts() >= 1 end)
  end)
  teardown(function()
    t:close()
    tmux("kill-server")
  end)
  -- each test starts at an empty prompt, whatever the last one left behind
  before_each(function()
    local before = t:prompts()
    t:key("C-c")
    t:wait(function() return t:prompts() > before end)
  end)

  it("prints expression results without =", function()
    local screen = t:line("1 + 2")
    assert.are.equal("3", last_output(screen))
    screen = t:line("'a', 2, nil")
    assert.are.equal("a 2 nil", last_output(screen))
    screen = t:line("{1, 2, x = 'y'}")
    assert.are.equal('{1, 2, x = "y"}', last_output(screen))
    screen = t:line("=10 * 2")
    assert.are.equal("20", last_output(screen))
  end)

  it("silences a line that ends with ;", function()
    t:line("40 + 2;")
    local screen = t:line("'marker-after-semicolon'")
    assert.are.equal("marker-after-semicolon", last_output(screen))
    assert.are.equal(0, count(screen, "\n42\n"))
  end)

  it("continues incomplete chunks with >>", function()
    t:type("function double(n)")
    t:key("Enter")
    t:wait_line("^>>")
    t:type("  return n * 2")
    t:key("Enter")
    t:type("end")
    t:key("Enter")
    local screen = t:line("double(21)")
    assert.truthy(screen:find(">> end", 1, true), screen)
    assert.are.equal("42", last_output(screen))
  end)

  it("keeps locals from one line to the next", function()
    t:line("local y = 5")
    assert.are.equal("15", last_output(t:line("y * 3")))
    t:line("local function sq(v) return v * v end")
    assert.are.equal("25", last_output(t:line("sq(y)")))
    t:line("local a, b <const> = 1, 2")
    assert.are.equal("1 2", last_output(t:line("a, b")))
    -- a function defined on one line sees later assignments to the local
    t:line("local n = 0; function incr() n = n + 1; return n end")
    t:line("incr(); incr()")
    assert.are.equal("2", last_output(t:line("n")))
    -- the locals did not leak into _G
    assert.are.equal("nil", last_output(t:line("rawget(_G, 'y')")))
  end)

  it("reports errors and keeps the session", function()
    local screen = t:line("error('boom')")
    assert.truthy(screen:find("stdin:1: boom", 1, true), screen)
    screen = t:line("tf.constant({1, 2}) + tf.constant({1, 2, 3})")
    assert.truthy(screen:find("InvalidArgumentError: stdin:1: add:", 1, true), screen)
    screen = t:line("x = = 1")
    assert.truthy(screen:find("stdin:1:", 1, true), screen)
    assert.are.equal("4", last_output(t:line("2 + 2")))
  end)

  it("interrupts a running loop with Ctrl-C and returns to the prompt", function()
    local before = t:prompts()
    t:type("while true do end")
    t:key("Enter")
    sleep(0.3)
    t:key("C-c")
    local screen = t:wait(function() return t:prompts() > before end)
    assert.truthy(screen:find("interrupted", 1, true), screen)
    before = t:prompts()
    t:type("local function spin() local i = 0; while true do i = i + 1 end end; spin()")
    t:key("Enter")
    sleep(0.3)
    t:key("C-c")
    t:wait(function() return t:prompts() > before end)
    -- an interrupted op-heavy loop too (the dispatcher or the hook stops it)
    before = t:prompts()
    t:type("local z = tf.constant({1.5, 2}); while true do z = tf.add(z, z) end")
    t:key("Enter")
    sleep(0.3)
    t:key("C-c")
    t:wait(function() return t:prompts() > before end)
    assert.are.equal("alive", last_output(t:line("'alive'")))
    -- and ops work afterwards (no interrupt left pending)
    assert.are.equal("3", last_output(t:line("tf.add(tf.constant(1), tf.constant(2)):item()")))
  end)

  it("clears the line on Ctrl-C at the prompt", function()
    local before = t:prompts()
    t:type("this is not lua")
    t:key("C-c")
    t:wait(function() return t:prompts() > before end)
    assert.are.equal("ok", last_output(t:line("'ok'")))
    -- also inside a multi-line chunk
    t:type("for i = 1, 3 do")
    t:key("Enter")
    t:wait_line("^>>")
    before = t:prompts()
    t:key("C-c")
    t:wait(function() return t:prompts() > before end)
    assert.are.equal("ok2", last_output(t:line("'ok2'")))
  end)

  it("completes globals, fields and tensor methods with Tab", function()
    -- tf.ma<Tab> lists tf.math among the candidates
    t:type("tf.ma")
    t:key("Tab")
    t:wait_line("tf%.math%s")
    t:key("C-u")
    t:line("")
    -- a unique completion is inserted
    t:type("tf.errors.CancelledE")
    t:key("Tab")
    t:wait("tf.errors.CancelledError")
    t:key("C-u")
    t:line("")
    t:type("string.forma")
    t:key("Tab")
    t:key("(")
    t:wait("string.format(")
    t:type("'%d', 7)")
    assert.are.equal("7", last_output(t:line("")))
    -- methods of a tensor after ':' and properties after '.'
    t:line("local x = tf.constant({1.5, 2})")
    t:type("x:tota")
    t:key("Tab")
    t:wait("x:totable")
    t:type("()")
    assert.are.equal("{1.5, 2.0}", last_output(t:line("")))
    t:type("x.nd")
    t:key("Tab")
    t:wait("x.ndim")
    assert.are.equal("1", last_output(t:line("")))
    -- session locals complete too
    t:line("local my_long_local_name = 123")
    t:type("my_long_lo")
    t:key("Tab")
    t:wait("my_long_local_name")
    assert.are.equal("123", last_output(t:line("")))
  end)

  it("shows help for API objects", function()
    local screen = t:line("help(tf.add)")
    assert.truthy(screen:find("tf.add(x, y)", 1, true), screen)
    assert.truthy(screen:find("op: add", 1, true), screen)
    screen = t:line("help(tf.constant({1.5, 2}))")
    assert.truthy(screen:find("tf.Tensor: dtype float32, shape [2]", 1, true), screen)
    screen = t:line("help()")
    assert.truthy(screen:find("Namespaces in tf:", 1, true), screen)
  end)

  it("exits on Ctrl-D", function()
    local t2 = Term.start()
    t2:wait(function() return t2:prompts() >= 1 end)
    t2:key("C-d")
    t2:wait_exit()
  end)
end)

describe("tlua REPL history", function()
  if not have_tmux then return end
  teardown(function() tmux("kill-server") end)
  it("persists across sessions in $TLUA_HISTORY", function()
    local hist = os.tmpname()
    os.remove(hist)
    local t = Term.start(nil, { TLUA_HISTORY = hist })
    t:wait(function() return t:prompts() >= 1 end)
    t:line("history_marker_17 = 17")
    t:key("C-d")
    t:wait_exit()
    local f = assert(io.open(hist))
    local text = f:read("a")
    f:close()
    assert.truthy(text:find("history_marker_17 = 17", 1, true), text)
    local t2 = Term.start(nil, { TLUA_HISTORY = hist })
    t2:wait(function() return t2:prompts() >= 1 end)
    t2:key("Up")
    t2:wait("> history_marker_17 = 17")
    t2:close()
    os.remove(hist)
  end)

  it("keeps the history file bounded", function()
    local hist = os.tmpname()
    os.remove(hist)
    local t = Term.start(nil, { TLUA_HISTORY = hist, TLUA_HISTORY_SIZE = "3" })
    t:wait(function() return t:prompts() >= 1 end)
    for i = 1, 5 do t:line("h" .. i .. " = " .. i) end
    t:key("C-d")
    t:wait_exit()
    local f = assert(io.open(hist))
    local text = f:read("a")
    f:close()
    assert.are.equal("h3 = 3\nh4 = 4\nh5 = 5\n", text)
    os.remove(hist)
  end)
end)

describe("tlua -i and breakpoint() in a terminal", function()
  if not have_tmux then return end
  teardown(function() tmux("kill-server") end)
  it("-i opens the REPL in the script's state", function()
    local s = tmpfile("local secret = 41\ncounter = 7\nlocal function bump() secret = secret + 1; return secret end\n")
    local t = Term.start("-i " .. q(s))
    t:wait(function() return t:prompts() >= 1 end)
    assert.are.equal("41", last_output(t:line("secret")))
    assert.are.equal("42", last_output(t:line("bump()")))
    assert.are.equal("42 7", last_output(t:line("secret, counter")))
    t:close()
    os.remove(s)
  end)

  it("breakpoint() sees and changes the caller's locals, then continues", function()
    local s = tmpfile([[
local up = 10
local function train(n)
  local loss = n * 2
  breakpoint()
  print("after", loss, up, n)
end
train(3)
print("script done")
io.read("l")
]])
    local t = Term.start(q(s))
    t:wait_line("^%(bp%)>")
    local screen = t:screen()
    assert.truthy(screen:find("locals: n, loss, up", 1, true), screen)
    t:type("loss, n, up")
    t:key("Enter")
    t:wait_line("^6%s+3%s+10$")
    t:type("loss = 99; up = 7")
    t:key("Enter")
    t:type("cont")
    t:key("Enter")
    screen = t:wait("script done")
    assert.truthy(screen:find("after%s+99%s+7%s+3"), screen)
    t:close()
    os.remove(s)
  end)
end)

-- The same pieces without a terminal, under plain lua5.4.
describe("tlua.repl", function()
  local repl = require("tlua.repl")
  local tf = require("tlua")

  it("rewrites top-level locals into session assignments", function()
    local src, names = repl.rewrite_locals("local a, b = 1, 2")
    assert.are.equal(" a, b = 1, 2", src)
    assert.are.same({ "a", "b" }, names)
    src, names = repl.rewrite_locals("local function f() local x = 1 return x end")
    assert.are.equal(" function f() local x = 1 return x end", src)
    assert.are.same({ "f" }, names)
    src, names = repl.rewrite_locals("local c <const> = 3 local d")
    assert.are.equal(" c  = 3  d = nil", src)
    assert.are.same({ "c", "d" }, names)
    -- nested blocks, strings and comments are left alone
    src = "for i = 1, 2 do local k = i end\nlocal s = 'local q' -- local r\nif x then local m end"
    local out, nm = repl.rewrite_locals(src)
    assert.are.equal("for i = 1, 2 do local k = i end\n s = 'local q' -- local r\nif x then local m end", out)
    assert.are.same({ "s" }, nm)
    -- to-be-closed variables stay real locals
    src = "local h <close> = nil"
    assert.are.equal(src, (repl.rewrite_locals(src)))
    -- line numbers are kept
    out = repl.rewrite_locals("local a = [[\n\n]]\nlocal b = 1")
    assert.are.equal(select(2, ("local a = [[\n\n]]\nlocal b = 1"):gsub("\n", "")), select(2, out:gsub("\n", "")))
  end)

  it("runs chunks in a session whose locals persist and whose globals go to _G", function()
    local sess = repl.session()
    assert(repl.load(sess, "local v = 10; function get_v() return v end; spec_global_w = 1"))()
    assert.are.equal(10, sess.vars.v)
    assert(repl.load(sess, "v = v + 1"))()
    assert.are.equal(11, _G.get_v())
    assert.is_nil(rawget(_G, "v"))
    assert.are.equal(1, rawget(_G, "spec_global_w"))
    _G.get_v, _G.spec_global_w = nil, nil
  end)

  it("completes names, fields and methods", function()
    local sess = repl.session(setmetatable({ tf = tf }, { __index = _G }))
    local c = repl.complete(sess, "tf.ma")
    assert.truthy(#c >= 1)
    local found = false
    for _, s in ipairs(c) do if s == "tf.math" then found = true end end
    assert.truthy(found)
    rawset(sess.vars, "x", tf.constant({ 1.5 }))
    sess.decl.x = true
    assert.are.same({ "x:totable" }, repl.complete(sess, "x:tota"))
    assert.are.same({ "x.ndim" }, repl.complete(sess, "x.nd"))
    assert.are.same({ "x.dtype" }, repl.complete(sess, "x.dty"))
    assert.are.same({}, repl.complete(sess, "x:dty")) -- properties are not methods
    assert.are.same({ "string.format" }, repl.complete(sess, "string.forma"))
    assert.are.same({ "function" }, repl.complete(sess, "functio"))
    assert.are.same({}, repl.complete(sess, "f(x).y")) -- never runs code
  end)
end)

describe("help", function()
  local tf = require("tlua")
  local help = require("tlua.help")

  it("describes ops from the registry", function()
    local text = help.text(tf.add)
    assert.truthy(text:find("^tf.add%(x, y%)"), text)
    assert.truthy(text:find("op: add", 1, true))
    assert.truthy(text:find("inputs:", 1, true))
    assert.are.equal(text, help.text(tf.math.add))
    assert.are.equal(text, help.text("add"))
  end)

  it("describes namespaces, tensors, dtypes and functions", function()
    assert.truthy(help.text(tf.math):find("^tf.math: namespace"))
    assert.truthy(help.text(tf.math):find("add", 1, true))
    local text = help.text(tf.constant({ { 1, 2 } }))
    assert.truthy(text:find("tf.Tensor: dtype int32, shape [1,2], ndim 2", 1, true), text)
    assert.truthy(text:find("totable", 1, true), text)
    assert.truthy(help.text(tf.float32):find("tf.float32: dtype, 4 bytes", 1, true))
    assert.truthy(help.text(print):find("print: built-in function", 1, true))
    local function my_fn(alpha, beta) return alpha + beta end
    text = help.text(my_fn)
    assert.truthy(text:find("function(alpha, beta)", 1, true), text)
    assert.truthy(text:find("Lua function defined at", 1, true), text)
    assert.truthy(help.text(42):find("integer", 1, true))
    assert.truthy(help.text():find("Namespaces in tf:", 1, true))
  end)

  it("prints __doc of classes and registered docs", function()
    local Class = { __doc = "A thing that does things.", fit = function() end }
    local text = help.text(Class)
    assert.truthy(text:find("A thing that does things.", 1, true), text)
    assert.truthy(text:find("fit", 1, true), text)
    local f = help.register(function() end, "Adds one.")
    assert.truthy(help.text(f):find("Adds one.", 1, true))
  end)
end)
