-- examples/queues.lua — tf.queue: the four queue kinds, a C producer thread
-- feeding a Lua consumer, timeouts and close. Run: build/tlua examples/queues.lua
-- (TLUA_EXAMPLE_QUICK=1 moves fewer elements through the threaded part).
local tf = tf or require("tlua")
local quick = os.getenv("TLUA_EXAMPLE_QUICK") == "1"

-- FIFOQueue with two named components: enqueue a table, dequeue a table.
local q = tf.queue.FIFOQueue{capacity = 8, dtypes = {tf.int32, tf.string}, shapes = {{}, {}}, names = {"id", "word"}}
for i, w in ipairs({"alpha", "beta", "gamma"}) do q:enqueue{id = i, word = w} end
print(q)
local first = q:dequeue()
print("first:", first.id:item(), first.word:item())
local rest = q:dequeue_many(2)
print("rest:", rest.id, rest.word)

-- A timeout returns nil and says what was waiting and who was blocked.
local v, why = q:dequeue{timeout = 0.01}
print("timed out:", v, why)

-- PriorityQueue: an int64 priority first; smallest first, FIFO among equals.
local pq = tf.queue.PriorityQueue(10, {tf.string}, {{}})
pq:enqueue_many({{3, 1, 2, 1}, {"c", "a1", "b", "a2"}})
local byprio = pq:dequeue_many(4)
print("priorities:", byprio[1], byprio[2])

-- RandomShuffleQueue: reproducible with a seed; keeps min_after_dequeue
-- elements back until closed.
local rq = tf.queue.RandomShuffleQueue(16, 2, tf.int32, {{}}, {seed = 7})
rq:enqueue_many({tf.range(8)})
print("shuffled:", rq:dequeue_many(6))
rq:close()
print("the rest after close:", rq:dequeue_up_to(10))

-- PaddingFIFOQueue: unknown dimensions (-1) are padded per batch.
local padq = tf.queue.PaddingFIFOQueue(4, {tf.int32}, {{-1}})
padq:enqueue({{1, 2, 3}})
padq:enqueue({{4}})
print("padded:", padq:dequeue_many(2))

-- A C producer thread (a test and benchmark helper) feeding this thread;
-- dequeue blocks until elements arrive, and close ends the stream with
-- OutOfRange after the last element.
local n = quick and 10000 or 200000
local fq = tf.queue.FIFOQueue(256, tf.int64, {{}})
local t0 = tf.core.now()
local producer = tf.core.queue._spawn_producer(fq, n, {close = true})
local sum, count = 0, 0
while true do
  local ok, batch = pcall(fq.dequeue_up_to, fq, 100)
  if not ok then
    assert(tf.errors.is(batch, "OutOfRange"), tostring(batch))
    break
  end
  sum = sum + tf.reduce_sum(batch):item()
  count = count + batch.shape[0]
end
producer:join()
print(("moved %d elements from a C thread in %.3f s; sum %d (expected %d)"):format(count, tf.core.now() - t0, sum,
  n * (n - 1) // 2))
assert(sum == n * (n - 1) // 2 and count == n)
