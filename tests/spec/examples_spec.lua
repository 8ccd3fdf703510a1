-- Every script in examples/ runs in the suite (with TLUA_EXAMPLE_QUICK=1 so
-- long ones take their small-step path) and exits 0.
local tlua = os.getenv("TLUA")
local src = os.getenv("TLUA_SOURCE_DIR") or "."

describe("examples", function()
  local p = io.popen('ls "' .. src .. '/examples/"*.lua 2>/dev/null')
  local files = {}
  for f in p:lines() do files[#files + 1] = f end
  p:close()
  it("exist", function() assert(#files > 0, "no examples found") end)
  for _, file in ipairs(files) do
    it("runs " .. file:match("[^/]+$"), function()
      local h = io.popen("TLUA_EXAMPLE_QUICK=1 " .. tlua .. " " .. file .. " 2>&1; echo \"exit=$?\"")
      local out = h:read("a")
      h:close()
      assert(out:find("exit=0\n", 1, true), out)
    end)
  end
end)
