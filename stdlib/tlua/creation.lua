-- tlua.creation (to be filled)
local M = {}
function M.install(tf) end
return M
