-- tlua.help (to be filled)
local M = {}
function M.install(tf) end
return M
