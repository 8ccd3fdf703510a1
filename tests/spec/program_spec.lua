-- The tlua program as a script runner: arguments, -e, exit codes, error
-- text, stdin scripts, breakpoint() and -i driven through a pipe.
local TLUA = assert(os.getenv("TLUA"), "TLUA (the program path) is set by ctest")

local function tmpfile(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local function slurp(path)
  local f = io.open(path, "r")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  os.remove(path)
  return s
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs `tlua args` (args: a shell word string) with optional stdin text and
-- environment prefix; returns stdout, stderr, exit code.
local function run(args, input, env)
  local inpath = tmpfile(input or "")
  local out, err = os.tmpname(), os.tmpname()
  local cmd = ("%s %s %s < %s > %s 2> %s"):format(env or "", q(TLUA), args, q(inpath), q(out), q(err))
  local _, _, code = os.execute(cmd)
  os.remove(inpath)
  return slurp(out), slurp(err), code
end

local function script(text)
  return tmpfile(text)
end

describe("tlua program", function()
  it("passes arguments in arg and ... as lua does", function()
    local s = script([[
print(arg[0]:match("[^/]*$"), arg[1], arg[2], #arg, select("#", ...), (...))
print(arg[-1] == os.getenv("TLUA") or arg[-1])
]])
    local out, err, code = run(q(s) .. " one two")
    assert.are.equal(0, code, err)
    local name = s:match("[^/]*$")
    assert.are.equal(name .. "\tone\ttwo\t2\t2\tone\ntrue\n", out)
    os.remove(s)
  end)

  it("puts interpreter options at negative indices of arg", function()
    local s = script("print(arg[-2], arg[-1]:match('^%-e') and 'e' or arg[-1], arg[0] ~= nil)\n")
    local out, err, code = run("-e 'x=1' " .. q(s))
    assert.are.equal(0, code, err)
    assert.are.equal("-e\tx=1\ttrue\n", out)
    os.remove(s)
  end)

  it("runs -e chunks in order, then the script", function()
    local s = script("print('script', x)\n")
    local out, err, code = run("-e 'x = 1' -e 'x = x + 1; print(x)' " .. q(s))
    assert.are.equal(0, code, err)
    assert.are.equal("2\nscript\t2\n", out)
    os.remove(s)
  end)

  it("with -e alone does not read stdin or open a REPL", function()
    local out, err, code = run("-e 'print(40 + 2)'", "print('from stdin')\n")
    assert.are.equal(0, code, err)
    assert.are.equal("42\n", out)
  end)

  it("accepts -eCODE and -l mod", function()
    local out, err, code = run("-lstring -e'print(string.rep(\"ab\", 2))' -l s=string -e 'print(s.upper(\"x\"))'")
    assert.are.equal(0, code, err)
    assert.are.equal("abab\nX\n", out)
  end)

  it("exits 0 on success and with os.exit's code", function()
    local _, _, code = run("-e 'local a = 1'")
    assert.are.equal(0, code)
    _, _, code = run("-e 'os.exit(3)'")
    assert.are.equal(3, code)
    _, _, code = run("-e 'os.exit(false)'")
    assert.are.equal(1, code)
  end)

  it("exits non-zero on an error and prints it with a traceback", function()
    local s = script("local function inner()\n  error('boom')\nend\ninner()\n")
    local out, err, code = run(q(s))
    assert.are.equal(1, code)
    assert.are.equal("", out)
    local name = s:match("[^/]*$")
    assert.truthy(err:find(name .. ":2: boom", 1, true), err)
    assert.truthy(err:find("stack traceback:", 1, true), err)
    assert.truthy(err:find("in main chunk", 1, true), err)
    -- the runner's own frames are not shown
    assert.falsy(err:find("program.lua", 1, true), err)
    assert.falsy(err:find("repl.lua", 1, true), err)
    os.remove(s)
  end)

  it("prints a failing op's tf.errors value with file:line and no traceback", function()
    local s = script("local a = tf.constant({1, 2})\nlocal b = tf.constant({1, 2, 3})\n\nlocal c = a + b\n")
    local out, err, code = run(q(s))
    assert.are.equal(1, code)
    assert.are.equal("", out)
    local name = s:match("[^/]*$")
    assert.truthy(err:find("InvalidArgumentError: ", 1, true), err)
    assert.truthy(err:find(name .. ":4: add: ", 1, true), err)
    assert.falsy(err:find("stack traceback", 1, true), err)
    -- TLUA_TRACEBACK=1 adds it
    out, err, code = run(q(s), nil, "TLUA_TRACEBACK=1")
    assert.are.equal(1, code)
    assert.truthy(err:find(name .. ":4: add: ", 1, true), err)
    assert.truthy(err:find("stack traceback", 1, true), err)
    os.remove(s)
  end)

  it("reports syntax errors with the file name and exits 1", function()
    local s = script("local x = = 1\n")
    local _, err, code = run(q(s))
    assert.are.equal(1, code)
    assert.truthy(err:find(s:match("[^/]*$") .. ":1:", 1, true), err)
    os.remove(s)
    _, err, code = run(q("/nonexistent/nope.lua"))
    assert.are.equal(1, code)
    assert.truthy(err:find("nope.lua", 1, true), err)
  end)

  it("runs a script from stdin with - and when stdin is not a terminal", function()
    local out, err, code = run("- a b", "print('stdin', arg[0], ...)\n")
    assert.are.equal(0, code, err)
    assert.are.equal("stdin\t-\ta\tb\n", out)
    out, err, code = run("", "#!/usr/bin/env tlua\nprint(tf ~= nil, 1 + 1)\n")
    assert.are.equal(0, code, err)
    assert.are.equal("true\t2\n", out)
    out, err, code = run("", "error('from stdin')\n")
    assert.are.equal(1, code)
    assert.truthy(err:find("stdin:1: from stdin", 1, true), err)
  end)

  it("sets the globals tf, keras, help and breakpoint", function()
    local out, err, code = run("-e " .. q([[
print(type(tf), type(tf.constant), keras == tf.keras, type(help), type(breakpoint))]]))
    assert.are.equal(0, code, err)
    assert.are.equal("table\tfunction\ttrue\tfunction\tfunction\n", out)
  end)

  it("prints the version and the usage", function()
    local out, _, code = run("-v")
    assert.are.equal(0, code)
    assert.truthy(out:find("^tlua %d+%.%d+%.%d+ %(Lua 5%.4%)\n$"), out)
    local out2 = run("--version")
    assert.are.equal(out, out2)
    out, _, code = run("-h")
    assert.are.equal(0, code)
    assert.truthy(out:find("usage: tlua [options] [script [args]]", 1, true), out)
    assert.truthy(out:find("-i ", 1, true))
    out = run("--help")
    assert.truthy(out:find("usage:", 1, true))
    local err
    out, err, code = run("--bogus")
    assert.are.equal(1, code)
    assert.truthy(err:find("unrecognized option '--bogus'", 1, true), err)
    assert.truthy(err:find("usage:", 1, true), err)
  end)

  it("help works in scripts", function()
    local out, err, code = run("-e 'help(tf.add)'")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("tf.add(x, y)", 1, true), out)
    assert.truthy(out:find("op: add", 1, true), out)
  end)

  it("-i runs the script, then a REPL over its locals and globals", function()
    local s = script([[
local secret = 41
counter = 7
local function bump() secret = secret + 1; return secret end
]])
    local out, err, code = run("-i " .. q(s), "secret\nbump()\nsecret\ncounter\nlocal z = secret * 2\nz\n")
    assert.are.equal(0, code, err)
    local values = {}
    for v in out:gmatch("> (%d+)") do values[#values + 1] = tonumber(v) end
    assert.are.same({ 41, 42, 42, 7, 84 }, values)
    os.remove(s)
  end)

  it("breakpoint() reads commands from stdin and writes locals back", function()
    local s = script([[
local up = 10
local function train(n)
  local loss = n * 2
  breakpoint()
  print("after", loss, up, n)
end
train(3)
print("done")
]])
    local out, err, code = run(q(s), "print('seen', loss, n, up)\nloss = 99\nup = 7\nlocal tmp = 1\ncont\n")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("breakpoint at ", 1, true), out)
    assert.truthy(out:find("in function 'train'", 1, true), out)
    assert.truthy(out:find("seen\t6\t3\t10", 1, true), out)
    assert.truthy(out:find("after\t99\t7\t3\n", 1, true), out)
    assert.truthy(out:find("done\n", 1, true), out)
    -- end of input continues the script as well
    out, err, code = run(q(s), "loss = 1\n")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("after\t1\t10\t3\n", 1, true), out)
    -- TLUA_NO_BREAKPOINT=1 skips it with a warning
    out, err, code = run(q(s), "loss = 5\ncont\n", "TLUA_NO_BREAKPOINT=1")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("after\t6\t10\t3\n", 1, true), out)
    assert.truthy(err:find("breakpoint() skipped", 1, true), err)
    os.remove(s)
  end)

  it("errors inside a breakpoint REPL do not end the script", function()
    local s = script("local v = 1\nbreakpoint()\nprint('v', v)\n")
    local out, err, code = run(q(s), "error('oops')\nv = v + 1\ncontinue\n")
    assert.are.equal(0, code, err)
    assert.truthy(err:find("oops", 1, true), err)
    assert.truthy(out:find("v\t2\n", 1, true), out)
    os.remove(s)
  end)

  it("leaves plain lua5.4 usable without the program", function()
    local cmd = "lua5.4 -e 'local tf = require(\"tlua\"); assert(tf.help); " ..
      "assert(type(require(\"tlua.help\").text(tf.add)) == \"string\"); print(\"ok\")' 2>&1"
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    assert.are.equal("ok\n", out)
  end)
end)
