-- bench/seed_loop.lua — tlua side of bench/seed_run.sh for the seed's custom
-- loop: runs examples/seed_09_custom_loop.lua itself (the benchmark is the
-- example, not a copy of it) with the options given here plus
-- `--report tlua_loop`, which makes it print RESULT lines (time per epoch,
-- validation and test accuracy, peak RSS).
--   tlua bench/seed_loop.lua [--epochs 5] [--seed 42] [--steps N] [--quiet]
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local script = here .. "/../examples/seed_09_custom_loop.lua"
local args = { [0] = script }
for i = 1, #arg do args[i] = arg[i] end
args[#args + 1] = "--report"
args[#args + 1] = "tlua_loop"
arg = args -- luacheck: ignore (the example reads the global `arg`, as any script)
dofile(script)
