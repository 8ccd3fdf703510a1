-- tf.queue: the four queue kinds from Lua (stdlib/tlua/queue.lua over
-- lua/queue_binding.c and src/structs/queue.c): components as a tensor, a
-- list or a table by names; dtype and shape checks; close, OutOfRange and
-- Cancelled; timeouts (nil, reason; the queue intact); interrupts; C
-- producer and consumer threads (core.queue._spawn_*). Expected values
-- are hand-computed or TensorFlow's (tests/spec/fixtures/queue_ref.py).
local tf = require("tlua")
local helpers = require("helpers")
local assert_error = helpers.assert_error
local Q = tf.core.queue

local function list(t) return t:totable() end

describe("tf.queue.FIFOQueue", function()
  it("keeps first-in first-out order for one component", function()
    local q = tf.queue.FIFOQueue(3, tf.int32, { {} })
    assert.is_true(q:enqueue(1))
    q:enqueue(tf.constant(2, tf.int32))
    q:enqueue({ 3 }) -- TensorFlow's list of components
    assert.are.equal(3, #q)
    assert.are.equal(3, q:size():item())
    assert.are.equal("int32", q:size().dtype.name)
    assert.are.equal(1, q:dequeue():item())
    assert.are.same({ 2, 3 }, list(q:dequeue_many(2)))
    assert.are.equal(0, #q)
  end)

  it("splits enqueue_many along dimension 0 and stacks dequeue_many", function()
    local q = tf.queue.FIFOQueue(10, { tf.int32, tf.float32 }, { { 2 }, {} })
    q:enqueue_many({ { { 1, 2 }, { 3, 4 }, { 5, 6 } }, { 0.5, 1.5, 2.5 } })
    assert.are.equal(3, #q)
    local a = q:dequeue()
    assert.are.same({ 1, 2 }, list(a[1]))
    assert.are.equal(0.5, a[2]:item())
    local b = q:dequeue_many(2)
    assert.are.same({ { 3, 4 }, { 5, 6 } }, list(b[1]))
    assert.are.same({ 1.5, 2.5 }, list(b[2]))
    assert_error("InvalidArgument", { "enqueue_many: every component needs the same size in dimension 0: component 1 has 1, component 0 has 2" },
      q.enqueue_many, q, { { { 1, 2 }, { 3, 4 } }, { 1.0 } })
  end)

  it("takes and gives tables keyed by names", function()
    local q = tf.queue.FIFOQueue { capacity = 2, dtypes = { tf.int32, tf.string }, names = { "id", "text" } }
    q:enqueue { id = 7, text = "seven" }
    local d = q:dequeue()
    assert.are.equal(7, d.id:item())
    assert.are.equal("seven", d.text:item())
    assert.are.same({ "id", "text" }, q.names)
    assert_error("InvalidArgument", { "'idd' is not a component name" }, q.enqueue, q, { idd = 1, text = "x" })
    assert_error("InvalidArgument", { "component 'text' is missing" }, q.enqueue, q, { id = 1 })
    assert_error("InvalidArgument", { "a queue with names takes a table keyed by its names" }, q.enqueue, q, 3)
  end)

  it("checks dtypes and shapes with clear messages and leaves the queue as it was", function()
    local q = tf.queue.FIFOQueue(3, { tf.int32, tf.float32 }, { { 2 }, {} }, { name = "q" })
    assert_error("InvalidArgument", { "FIFOQueue 'q': enqueue: component 0 must have shape [2], got int32[3]" },
      q.enqueue, q, { { 1, 2, 3 }, 1.0 })
    assert_error("InvalidArgument", { "FIFOQueue 'q': enqueue: component 1 must be float32, got int32[]" },
      q.enqueue, q, { { 1, 2 }, tf.constant(1) })
    assert_error("InvalidArgument", { "expected a list of 2 components" }, q.enqueue, q, { { 1, 2 } })
    assert_error("InvalidArgument", { "component 0: a non-integer number cannot become int32" },
      q.enqueue, q, { { 1.5, 2 }, 1.0 })
    assert.are.equal(0, #q)
    assert_error("InvalidArgument", { "unknown option 'timeut'" }, q.dequeue, q, { timeut = 1 })
    assert_error("InvalidArgument", { "tf.queue.FIFOQueue: shapes must give one shape per dtype: 2 dtypes, 1 shapes" },
      tf.queue.FIFOQueue, 3, { tf.int32, tf.float32 }, { { 2 } })
    assert_error("InvalidArgument", { "unknown option 'capcity'" }, tf.queue.FIFOQueue, { capcity = 3, dtypes = tf.int32 })
    assert_error("InvalidArgument", { "dtypes is required" }, tf.queue.FIFOQueue, 3)
  end)

  it("stacks elements of equal shape when shapes are not given, and says why otherwise", function()
    local q = tf.queue.FIFOQueue(4, tf.int32)
    q:enqueue(tf.constant({ 1, 2 }))
    q:enqueue(tf.constant({ 3, 4 }))
    assert.are.same({ { 1, 2 }, { 3, 4 } }, list(q:dequeue_many(2)))
    q:enqueue(tf.constant({ 1, 2 }))
    q:enqueue(tf.constant({ 3 }))
    assert_error("InvalidArgument", { "component 0 of element 1 is int32[1] but element 0's is int32[2]", "PaddingFIFOQueue pads" },
      q.dequeue_many, q, 2)
    assert.are.equal(2, #q) -- put back, in order
    assert.are.same({ 1, 2 }, list(q:dequeue()))
  end)

  it("after close, drains what is left, then raises OutOfRange; enqueue raises Cancelled", function()
    local q = tf.queue.FIFOQueue(5, tf.int32, { {} })
    q:enqueue_many({ { 1, 2, 3 } })
    assert.is_false(q:is_closed())
    q:close()
    assert.is_true(q:is_closed())
    assert_error("Cancelled", { "FIFOQueue 'fifo_queue' is closed" }, q.enqueue, q, 4)
    -- TensorFlow's message (fixtures/queue_ref.py)
    assert_error("OutOfRange", { "is closed and has insufficient elements (requested 4, current size 3)" },
      q.dequeue_many, q, 4)
    assert.are.equal(1, q:dequeue():item())
    assert.are.same({ 2, 3 }, list(q:dequeue_up_to(5)))
    assert_error("OutOfRange", { "requested 1, current size 0" }, q.dequeue, q)
    assert_error("OutOfRange", { "requested 2, current size 0" }, q.dequeue_up_to, q, 2)
    assert.is_true(tf.errors.is(select(2, pcall(q.dequeue, q)), "OutOfRange"))
  end)

  it("times out with nil and a reason saying what waits and who is blocked, the queue intact", function()
    local q = tf.queue.FIFOQueue(2, tf.int32, { {} }, { name = "t" })
    local v, why = q:dequeue { timeout = 0.05 }
    assert.is_nil(v)
    assert.are.equal("FIFOQueue 't': dequeue timed out after 0.05 s: 0 elements waiting (capacity 2); blocked: 0 producers, 1 consumer", why)
    q:enqueue(1)
    q:enqueue(2)
    local ok, why2 = q:enqueue(3, { timeout = 0 })
    assert.is_nil(ok)
    assert.truthy(why2:find("enqueue would block (timeout 0): 2 elements waiting (capacity 2); blocked: 1 producer, 0 consumers", 1, true), why2)
    local b, why3 = q:dequeue_many(3, { timeout = 0.01 })
    assert.is_nil(b)
    assert.truthy(why3:find("dequeue_many timed out", 1, true))
    assert.are.equal(2, #q)
    assert.are.same({ 1, 2 }, list(q:dequeue_many(2)))
  end)

  it("an interrupt (the REPL's Ctrl-C) cancels a blocking wait", function()
    local q = tf.queue.FIFOQueue(2, tf.int32, { {} })
    tf.core.interrupt() -- what the REPL's SIGINT handler does
    assert_error("Cancelled", { "dequeue interrupted while waiting: 0 elements waiting" }, q.dequeue, q)
    -- consumed: the next wait is a normal one
    assert.is_nil((q:dequeue { timeout = 0 }))
  end)

  it("prints readably and exposes TensorFlow's properties", function()
    local q = tf.queue.FIFOQueue(4, { tf.int32, tf.float32 }, { { 2 }, { -1, 3 } }, { name = "pairs" })
    assert.are.equal("<tf.queue.FIFOQueue 'pairs' size=0 capacity=4 (int32[2], float32[?,3])>", tostring(q))
    assert.are.equal("pairs", q.name)
    assert.are.equal(tf.int32, q.dtypes[1])
    assert.are.equal(tf.float32, q.dtypes[2])
    assert.are.equal("(None, 3)", tostring(q.shapes[2]))
    assert.is_nil(q.names)
    assert.are.equal(4, q.capacity)
    q:close()
    assert.truthy(tostring(q):find("closed>$"))
    local u = tf.queue.FIFOQueue(-1, tf.string)
    assert.are.equal("<tf.queue.FIFOQueue 'fifo_queue' size=0 unbounded (string[...])>", tostring(u))
    for i = 1, 100 do u:enqueue("s" .. i) end
    assert.are.equal(100, #u)
    assert.are.equal("s1", u:dequeue():item())
  end)

  it("refuses symbolic tensors inside tf.trace", function()
    local q = tf.queue.FIFOQueue(2, tf.float32, { {} })
    local f = tf.trace(function(x) q:enqueue(x); return x end)
    assert_error("FailedPrecondition", { "is symbolic (inside tf.trace)" }, f, tf.constant(1.0))
  end)
end)

describe("tf.queue.PriorityQueue", function()
  it("gives the smallest priority first and FIFO among equal priorities", function()
    local q = tf.queue.PriorityQueue(10, { tf.string }, { {} })
    q:enqueue({ 3, "c" })
    q:enqueue({ tf.constant(1, tf.int64), "a" })
    q:enqueue({ 1, "b" })
    q:enqueue({ 0, "z" })
    assert.are.equal(tf.int64, q.dtypes[1])
    local first = q:dequeue()
    assert.are.equal(0, first[1]:item())
    assert.are.equal("z", first[2]:item())
    local rest = q:dequeue_many(3)
    assert.are.same({ 1, 1, 3 }, list(rest[1]))
    assert.are.same({ "a", "b", "c" }, list(rest[2]))
    q:enqueue_many({ { 5, 4, 4 }, { "x", "y", "w" } })
    assert.are.same({ "y", "w", "x" }, list(q:dequeue_many(3)[2]))
    assert_error("InvalidArgument", { "component 0 must be int64, got int32[]" }, q.enqueue, q, { tf.constant(1), "a" })
  end)
end)

describe("tf.queue.RandomShuffleQueue", function()
  local function run(seed)
    local q = tf.queue.RandomShuffleQueue(20, 3, tf.int32, { {} }, { seed = seed })
    q:enqueue_many({ tf.range(10) })
    local a = list(q:dequeue_many(7))
    local v, why = q:dequeue { timeout = 0 }
    assert.is_nil(v)
    assert.truthy(why:find("3 elements waiting (capacity 20, min_after_dequeue 3)", 1, true), why)
    q:close() -- min_after_dequeue no longer holds
    assert_error("OutOfRange", { "requested 4, current size 3" }, q.dequeue_many, q, 4)
    local b = list(q:dequeue_up_to(4))
    for _, x in ipairs(b) do a[#a + 1] = x end
    return a
  end

  it("is reproducible with a seed, honours min_after_dequeue until closed, and loses nothing", function()
    local a, b, c = run(7), run(7), run(8)
    assert.are.same(a, b)
    assert.are_not.same(a, c)
    local sorted = { table.unpack(a) }
    table.sort(sorted)
    assert.are.same({ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, sorted)
    assert.are_not.same(sorted, a)
  end)

  it("rejects a min_after_dequeue that could never be met", function()
    assert_error("InvalidArgument", { "min_after_dequeue (5) must be less than capacity (5)" },
      tf.queue.RandomShuffleQueue, 5, 5, tf.int32)
  end)
end)

describe("tf.queue.PaddingFIFOQueue", function()
  it("pads unknown dimensions per batch with zeros and empty strings (TensorFlow's example)", function()
    local q = tf.queue.PaddingFIFOQueue(5, { tf.int32, tf.string }, { { -1 }, { -1 } })
    q:enqueue({ { 1, 2, 3 }, { "a" } })
    q:enqueue({ { 4 }, { "b", "cd" } })
    local b = q:dequeue_many(2)
    assert.are.same({ { 1, 2, 3 }, { 4, 0, 0 } }, list(b[1]))
    assert.are.same({ { "a", "" }, { "b", "cd" } }, list(b[2]))
    q:enqueue({ { 9, 9 }, { "x" } })
    q:close()
    local c = q:dequeue_up_to(3)
    assert.are.same({ { 9, 9 } }, list(c[1]))
    assert_error("InvalidArgument", { "shapes is required" }, tf.queue.PaddingFIFOQueue, 5, tf.int32)
  end)
end)

describe("tf.queue across threads", function()
  it("a C producer thread feeds a blocking Lua consumer", function()
    local q = tf.queue.FIFOQueue(8, tf.int64, { {} })
    local w = Q._spawn_producer(q, 1000, { start = 5, close = true })
    local want = 5
    while true do
      local ok, v = pcall(q.dequeue, q)
      if not ok then
        assert.is_true(tf.errors.is(v, "OutOfRange"))
        break
      end
      assert.are.equal(want, v:item())
      want = want + 1
    end
    assert.are.equal(1005, want)
    assert.are.equal(1000, w:join())
  end)

  it("several producers and consumers move 100,000 elements, nothing lost or duplicated, FIFO per producer", function()
    local q = tf.queue.FIFOQueue(64, tf.int64, { {} })
    local P, C, N = 3, 3, 33334
    local prods, cons = {}, {}
    for i = 1, C do cons[i] = Q._spawn_consumer(q, -1, { batch = i == 1 and 0 or 5 * i, up_to = true }) end
    for i = 1, P do prods[i] = Q._spawn_producer(q, N, { start = i * 1000000, batch = i == 2 and 7 or 0 }) end
    for i = 1, P do assert.are.equal(N, prods[i]:join()) end
    q:close()
    local seen, total = {}, 0
    for i = 1, C do
      local last = {}
      for _, v in ipairs(cons[i]:join():totable()) do
        local p = v // 1000000
        assert.is_nil(seen[v], "duplicate " .. v)
        seen[v] = true
        assert.is_true((last[p] or -1) < v, "out of order")
        last[p] = v
        total = total + 1
      end
    end
    assert.are.equal(P * N, total)
  end)

  it("a blocked producer is cancelled by close{cancel_pending_enqueues=true}", function()
    local q = tf.queue.FIFOQueue(2, tf.int64, { {} })
    local w = Q._spawn_producer(q, 3, { timeout = 30 })
    while #q < 2 do end
    -- the third waits for room; give it time to block
    local t0 = tf.core.now()
    while tf.core.now() - t0 < 0.05 do end
    q:close { cancel_pending_enqueues = true }
    assert_error("Cancelled", { "closed with cancel_pending_enqueues" }, w.join, w)
    assert.are.equal(2, #q)
  end)

  it("a Lua producer feeds a C consumer with dequeue_many", function()
    local q = tf.queue.FIFOQueue(16, { tf.int32, tf.float32 }, { {}, { 2 } })
    local c = Q._spawn_consumer(q, 90, { batch = 9 })
    for i = 1, 90 do q:enqueue({ i, { 0.5, 1.5 } }) end
    local got = c:join():totable()
    assert.are.equal(90, #got)
    for i = 1, 90 do assert.are.equal(i, got[i]) end
  end)
end)

describe("help", function()
  it("lists tf.queue's members", function()
    local text = tf.help and require("tlua.help").text(tf.queue)
    for _, k in ipairs({ "FIFOQueue", "PaddingFIFOQueue", "PriorityQueue", "RandomShuffleQueue" }) do
      assert.truthy(text:find(k, 1, true), text)
    end
    local q = tf.queue.PriorityQueue(3, tf.int32)
    local qtext = require("tlua.help").text(q)
    assert.truthy(qtext:find("a tf.queue.PriorityQueue", 1, true), qtext)
    assert.truthy(qtext:find("dequeue_up_to(n)", 1, true), qtext)
  end)
end)

describe("tf.queue in the REPL", function()
  -- Driven through a real terminal (tmux), as repl_spec does: Ctrl-C
  -- interrupts a dequeue blocked on an empty queue and the prompt returns.
  local TLUA = os.getenv("TLUA")
  local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
  local socket = "tlua_queue_spec_" .. tostring(os.time()) .. "_" .. tostring(math.random(1e6))
  local function tmux(args)
    local p = assert(io.popen("env -u LD_PRELOAD tmux -L " .. socket .. " -f /dev/null " .. args .. " 2>/dev/null"))
    local out = p:read("a")
    p:close()
    return out
  end
  local function screen() return tmux("capture-pane -p -t qs -S -200") end
  local function wait_for(text, secs)
    local deadline = os.time() + (secs or 20)
    repeat
      local s = screen()
      if s:find(text, 1, true) then return s end
      os.execute("sleep 0.05")
    until os.time() > deadline
    error("timed out waiting for " .. text .. "; screen:\n" .. screen())
  end

  it("Ctrl-C interrupts a blocking dequeue and the prompt returns", function()
    if not TLUA or os.execute("command -v tmux >/dev/null 2>&1") ~= true then
      pending("tmux or $TLUA missing")
      return
    end
    local env = "TLUA_HISTORY=" .. os.tmpname()
    for _, k in ipairs({ "ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS" }) do
      if os.getenv(k) then env = env .. " " .. k .. "=" .. q(os.getenv(k)) end
    end
    tmux(("new-session -d -s qs -x 160 -y 40 %s"):format(q("env -u LD_PRELOAD " .. env .. " " .. q(TLUA))))
    local ok, err = pcall(function()
      wait_for("Ctrl-D to exit")
      os.execute("sleep 0.2")
      tmux("send-keys -t qs -l " .. q("qq = tf.queue.FIFOQueue(1, tf.int32)"))
      tmux("send-keys -t qs Enter")
      tmux("send-keys -t qs -l " .. q("print('got', qq:dequeue())"))
      tmux("send-keys -t qs Enter")
      os.execute("sleep 0.5")
      tmux("send-keys -t qs C-c")
      -- the wait returns Cancelled at once; the REPL's interrupt hook then
      -- reports it as its own "interrupted" (lua/repl.c)
      wait_for("interrupted")
      -- the session goes on; the queue still works
      tmux("send-keys -t qs -l " .. q("qq:enqueue(5); print('after=' .. qq:dequeue():item())"))
      tmux("send-keys -t qs Enter")
      wait_for("after=5")
    end)
    tmux("kill-server")
    assert(ok, err)
  end)
end)
