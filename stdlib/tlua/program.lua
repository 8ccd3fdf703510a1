-- tlua.program: the `tlua` program's Lua side (lua/main.c calls main(argv)).
-- Options follow lua.c: `tlua [options] [script [args]]`, -e/-l run in
-- order, then the script, then the REPL for -i; no script and no -e/-v
-- opens the REPL on a terminal and runs stdin as a script otherwise.
-- Globals `tf`, `keras`, `help` and `breakpoint` are set here (stdlib
-- modules set none). Returns the exit status.
local M = {}

local USAGE = [==[
usage: %s [options] [script [args]]
Available options are:
  -e stat   execute string 'stat'
  -i        enter interactive mode after executing 'script'
  -l mod    require library 'mod' into global 'mod'
  -l g=mod  require library 'mod' into global 'g'
  -v        show version information (also --version)
  -W        turn warnings on
  -h        show this help (also --help)
  --        stop handling options
  -         stop handling options and execute stdin
Environment:
  TLUA_HISTORY        REPL history file (default ~/.tlua_history)
  TLUA_HISTORY_SIZE   lines kept in it (default 1000)
  TLUA_TRACEBACK=1    show a traceback for tf.errors values too
  TLUA_NO_BREAKPOINT=1  skip breakpoint() when stdin is not a terminal
]==]

local function version_text(tf)
  return ("tlua %s (%s)"):format(tf and tf.__version__ or "?", _VERSION)
end

local function report(progname, msg)
  io.stdout:flush()
  io.stderr:write(progname, ": ", msg, "\n")
  io.stderr:flush()
end

-- Parses argv as lua.c does. Returns opts or nil, message.
function M.parse(argv)
  local o = { actions = {}, script = nil }
  local i = 1
  while argv[i] ~= nil do
    local a = argv[i]
    if a == "--" then
      if argv[i + 1] ~= nil then o.script = i + 1 end
      break
    elseif a == "-" or a:sub(1, 1) ~= "-" then
      o.script = i
      break
    elseif a == "-i" then
      o.interactive = true
      o.version = true
    elseif a == "-v" or a == "--version" then
      o.version = true
    elseif a == "-h" or a == "--help" then
      o.help = true
    elseif a == "-E" then
      o.ignore_env = true
    elseif a == "-W" then
      o.warnings = true
    elseif a:sub(1, 2) == "-e" or a:sub(1, 2) == "-l" then
      local val = a:sub(3)
      if val == "" then
        i = i + 1
        val = argv[i]
        if val == nil or val:sub(1, 1) == "-" and a == "-l" then
          return nil, ("'%s' needs argument"):format(a)
        end
      end
      o.actions[#o.actions + 1] = { a:sub(2, 2), val }
      if a:sub(2, 2) == "e" then o.has_e = true end
    else
      return nil, ("unrecognized option '%s'"):format(a)
    end
    i = i + 1
  end
  return o
end

-- The arg table: arg[0] the script, arg[1..] its arguments, the interpreter
-- and its options at negative indices (no script: all negative).
local function make_arg(argv, script)
  local n = #argv
  local base = script or n + 1
  local t = {}
  for i = 0, n do t[i - base] = argv[i] end
  return t
end

local function read_source(path)
  local f, err
  if path == "-" then f = io.stdin else f, err = io.open(path, "rb") end
  if not f then return nil, ("cannot open %s"):format(err or path) end
  local src = f:read("a")
  if f ~= io.stdin then f:close() end
  src = src:gsub("^\239\187\191", ""):gsub("^#[^\n]*", "") -- BOM, #! line
  return src
end

local function chunkname(path)
  return path == "-" and "=stdin" or "@" .. path
end

function M.main(argv)
  local progname = argv[0] and argv[0]:match("[^/]*$") or "tlua"
  if progname == "" then progname = "tlua" end
  local o, perr = M.parse(argv)
  if not o then
    report(progname, perr)
    io.stderr:write(USAGE:format(progname))
    return 1
  end
  if o.help then
    io.stdout:write(USAGE:format(progname))
    return 0
  end
  if o.warnings then warn("@on") end

  local tf = require("tlua")
  local repl = require("tlua.repl")
  _G.tf = tf
  _G.keras = tf.keras
  _G.help = tf.help
  _G.trace = tf.trace
  _G.breakpoint = repl.breakpoint
  _G.arg = make_arg(argv, o.script)

  if o.version then io.stdout:write(version_text(tf), "\n") end

  local function run(f, ...)
    local res = table.pack(repl.call(f, ...))
    if not res[1] then
      report(progname, repl.error_text(res[2]))
      return false
    end
    return true
  end

  for _, act in ipairs(o.actions) do
    if act[1] == "e" then
      local f, err = load(act[2], "=(command line)")
      if not f then report(progname, err) return 1 end
      if not run(f) then return 1 end
    else
      local g, mod = act[2]:match("^([^=]+)=(.+)$")
      mod = mod or act[2]
      g = g or mod
      local ok = run(function() _G[g] = require(mod) end)
      if not ok then return 1 end
    end
  end

  local sess
  if o.script then
    local path = argv[o.script]
    local src, err = read_source(path)
    if not src then report(progname, err) return 1 end
    local f
    if o.interactive then
      sess = repl.session()
      f, err = repl.load(sess, src, chunkname(path))
    else
      f, err = load(src, chunkname(path))
    end
    if not f then report(progname, err) return 1 end
    local args = {}
    for i = 1, #argv - o.script do args[i] = argv[o.script + i] end
    if not run(f, table.unpack(args, 1, #argv - o.script)) then return 1 end
  end

  local interactive_stdin = false
  do
    local ok, rl = pcall(require, "tlua.readline")
    interactive_stdin = ok and rl.isatty(0)
  end
  if o.interactive or (not o.script and not o.has_e and not o.version) then
    if o.interactive or interactive_stdin then
      local banner
      if not o.version and interactive_stdin then
        banner = version_text(tf) .. " — tf and keras are loaded; help() for help, Ctrl-D to exit"
      elseif interactive_stdin then
        banner = "tf and keras are loaded; help() for help, Ctrl-D to exit"
      end
      repl.run({ session = sess, banner = banner })
    else
      local src = read_source("-")
      local f, err = load(src, "=stdin")
      if not f then report(progname, err) return 1 end
      if not run(f) then return 1 end
    end
  end
  return 0
end

return M
