-- bench/queue_bench.lua — tf.queue throughput, one producer and one
-- consumer thread (bench/queue.sh runs it beside bench/queue_tf.py).
-- Prints "case elements_per_second" lines:
--   c_to_lua       a C producer thread (core.queue._spawn_producer) and the
--                  Lua main thread dequeuing one scalar int64 at a time
--   c_to_lua_shared the same, the producer enqueuing one tensor n times (as
--                  the TensorFlow peer does: no allocation per element)
--   c_to_lua_b100  c_to_lua with dequeue_many(100)
--   c_to_c         a C producer and a C consumer thread (the C API alone,
--                  as tf.data workers use it)
--   lua_to_c       the Lua main thread enqueuing scalars, a C consumer thread
-- Usage: tlua bench/queue_bench.lua [n] [case ...]   (n: elements, 1,000,000)
local Q = tf.core.queue
local now = tf.core.now
local n = tonumber(arg[1]) or 1000000
local want = {}
for i = 2, #arg do want[arg[i]] = true end

local function queue() return tf.queue.FIFOQueue(1024, tf.int64, { {} }) end

local cases = {}
function cases.c_to_lua()
  local q = queue()
  local t0 = now()
  local w = Q._spawn_producer(q, n)
  local deq = q.dequeue
  for _ = 1, n do deq(q) end
  local dt = now() - t0
  assert(w:join() == n)
  return n / dt
end
function cases.c_to_lua_shared()
  local q = queue()
  local t0 = now()
  local w = Q._spawn_producer(q, n, { reuse = true })
  local deq = q.dequeue
  for _ = 1, n do deq(q) end
  local dt = now() - t0
  assert(w:join() == n)
  return n / dt
end
function cases.c_to_lua_b100()
  local q = queue()
  local t0 = now()
  local w = Q._spawn_producer(q, n)
  local deq = q.dequeue_many
  for _ = 1, n // 100 do deq(q, 100) end
  local dt = now() - t0
  assert(w:join() == n)
  return (n // 100 * 100) / dt
end
function cases.c_to_c()
  local q = queue()
  local t0 = now()
  local c = Q._spawn_consumer(q, n)
  local w = Q._spawn_producer(q, n)
  w:join()
  local got = c:join()
  local dt = now() - t0
  assert(got.shape[0] == n)
  return n / dt
end
function cases.lua_to_c()
  local q = queue()
  local one = tf.constant(1, tf.int64)
  local t0 = now()
  local c = Q._spawn_consumer(q, n)
  local enq = q.enqueue
  for _ = 1, n do enq(q, one) end
  local got = c:join()
  local dt = now() - t0
  assert(got.shape[0] == n)
  return n / dt
end

for _, name in ipairs({ "c_to_lua", "c_to_lua_shared", "c_to_lua_b100", "c_to_c", "lua_to_c" }) do
  if next(want) == nil or want[name] then
    collectgarbage()
    print(("%s %.0f"):format(name, cases[name]()))
    io.stdout:flush()
  end
end
