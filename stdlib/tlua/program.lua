-- The tlua program's Lua side: argument handling, script runner, REPL.
-- (minimal; the REPL part extends it)
local M = {}

function M.main(argv)
  local tf = require("tlua")
  _G.tf = tf
  _G.keras = tf.keras
  local script = argv[1]
  if script == "-e" then
    local chunk = assert(load(argv[2], "=(command line)"))
    chunk()
    return 0
  end
  if script then
    _G.arg = {}
    for i = 0, #argv do _G.arg[i - 1] = argv[i] end
    local chunk, err = loadfile(script)
    if not chunk then error(err, 0) end
    chunk(table.unpack(_G.arg))
  end
  return 0
end

return M
