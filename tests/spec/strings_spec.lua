-- String tensors and tf.strings. Reference values marked "TF" come from
-- TensorFlow 2 (tests/spec/fixtures/strings_ref.py prints them).
local tf = require("tlua")
local helpers = require("helpers")

local function list(t) return t:totable() end
local function ragged(r) return { r.values:totable(), r.row_splits:totable() } end

describe("string tensors in the core", function()
  it("convert from Lua strings and nested tables, and back", function()
    local t = tf.constant({ { "a", "bc" }, { "", "x\0y" } })
    assert.equal(tf.string, t.dtype)
    assert.same({ 2, 2 }, t.shape:as_list())
    assert.same({ { "a", "bc" }, { "", "x\0y" } }, t:totable())
    assert.equal(3, #t:totable()[2][2]) -- embedded NUL kept
    assert.equal("hello", tf.constant("hello"):item())
    assert.same({}, tf.constant({}, tf.string):totable())
    assert.same({ "x" }, tf.convert_to_tensor({ "x" }):totable())
    local big = ("z"):rep(5 * 1024 * 1024)
    assert.equal(#big, #tf.constant(big):item())
  end)

  it("refuse mixed or mistyped values", function()
    helpers.assert_error("InvalidArgument", { "cannot mix strings and numbers" }, tf.constant, { "a", 1 })
    helpers.assert_error("InvalidArgument", { "cannot mix strings and booleans" }, tf.constant, { "a", true })
    helpers.assert_error("InvalidArgument", { "cannot convert strings to float32", "to_number" }, tf.constant, "1", tf.float32)
    helpers.assert_error("InvalidArgument", { "cannot make a string tensor from numbers" }, tf.constant, { 1 }, tf.string)
    helpers.assert_error("InvalidArgument", { "ragged nesting" }, tf.constant, { { "a" }, "b" })
  end)

  it("print as TensorFlow 2 does (b'...')", function()
    assert.equal("tf.Tensor([b'a' b'bc' b''], shape=(3,), dtype=string)", tostring(tf.constant({ "a", "bc", "" })))
    assert.equal("tf.Tensor(b'hi', shape=(), dtype=string)", tostring(tf.constant("hi")))
    assert.equal([[tf.Tensor([b"it's" b'say "x"' b'\x00\xc3\xa9\n'], shape=(3,), dtype=string)]],
      tostring(tf.constant({ "it's", 'say "x"', "\0\u{e9}\n" })))
  end)

  it("print through tf.print as TensorFlow does (C escapes in double quotes)", function()
    local path = os.tmpname()
    tf.print("hello", tf.constant({ "a", "b\1" }), tf.constant("x"), tf.constant({ { "q" } }), tf.constant("it's"),
      { output_stream = "file://" .. path })
    local f = assert(io.open(path, "rb"))
    local text = f:read("a")
    f:close()
    os.remove(path)
    assert.equal([=[hello ["a" "b\001"] "x" [["q"]] "it\'s"]=] .. "\n", text) -- TF
  end)

  it("move through every movement and selection op, owning their bytes", function()
    local t = tf.constant({ { "a", "bb", "ccc" }, { "dddd", "", "f\0g" } })
    assert.same({ { "a", "bb" }, { "ccc", "dddd" }, { "", "f\0g" } }, list(tf.reshape(t, { 3, 2 })))
    assert.same({ { "a", "dddd" }, { "bb", "" }, { "ccc", "f\0g" } }, list(tf.transpose(t)))
    assert.same({ { "dddd", "", "f\0g" }, { "a", "bb", "ccc" } }, list(tf.gather(t, { 1, 0 })))
    assert.same({ { "ccc", "a" }, { "f\0g", "dddd" } }, list(tf.gather(t, { 2, 0 }, { axis = 1 })))
    assert.same({ "bb", "f\0g" }, list(tf.gather_nd(t, { { 0, 1 }, { 1, 2 } })))
    assert.same({ "a", "bb", "ccc", "a" }, list(tf.concat({ t[0], tf.constant({ "a" }) }, 0)))
    assert.same({ { "a", "bb", "ccc" }, { "a", "bb", "ccc" } }, list(tf.stack({ t[0], t[0] })))
    assert.same({ "dddd", "", "f\0g" }, list(tf.unstack(t)[2]))
    assert.same({ { "bb" }, { "" } }, list(tf.split(t, 3, 1)[2]))
    assert.same({ { "bb", "ccc" }, { "", "f\0g" } }, list(tf.slice(t, { 0, 1 }, { 2, 2 })))
    assert.equal("f\0g", t[{ 1, 2 }]:item())
    assert.same({ { "a", "ccc" }, { "dddd", "f\0g" } }, list(tf.strided_slice(t, { 0, 0 }, { 2, 3 }, { 1, 2 })))
    assert.same({ "a", "bb", "ccc", "a", "bb", "ccc" }, list(tf.tile(t[0], { 2 })))
    assert.same({ "", "a", "bb", "ccc" }, list(tf.pad(t[0], { { 1, 0 } })))
    assert.same({ "ccc", "bb", "a" }, list(tf.reverse(t[0], { 0 })))
    assert.same({ "a", "z", "ccc" }, list(tf.where(tf.constant({ true, false, true }), t[0], "z")))
    assert.same({ { "a", "bb", "ccc" } }, list(tf.expand_dims(t[0], 0)))
    assert.same({ "a", "bb", "ccc" }, list(tf.squeeze(tf.expand_dims(t[0], 0))))
    assert.same({ "a", "bb", "ccc" }, list(tf.identity(t[0])))
    assert.same({ { "a", "b" }, { "a", "b" } }, list(tf.broadcast_to(tf.constant({ "a", "b" }), { 2, 2 })))
    assert.same({ "a", "ccc", "f\0g" },
      list(tf.boolean_mask(t, tf.constant({ { true, false, true }, { false, false, true } }))))
    assert.same({ "q", "q" }, list(tf.fill({ 2 }, "q")))
    assert.same({ "", "" }, list(tf.zeros_like(tf.constant({ "a", "b" }))))
    assert.same({ "Z", "bb", "ccc" }, list(tf.tensor_scatter_nd_update(t[0], { { 0 } }, { "Z" })))
    assert.same({ "a", "bb", "ccc" }, list(tf.stop_gradient(t[0])))
    assert.same({ 2, 3 }, list(tf.shape(t)))
    local u, ui = tf.unique(tf.constant({ "b", "a", "b", "", "a", "c", "" })) -- TF
    assert.same({ "b", "a", "", "c" }, u:totable())
    assert.same({ 0, 1, 0, 2, 1, 3, 2 }, ui:totable())
    -- results outlive their sources: the bytes were copied into their own storage
    local kept = {}
    for i = 1, 20 do
      local src = tf.constant({ ("s%d"):format(i), ("x"):rep(i) })
      kept[i] = tf.concat({ tf.reverse(src, { 0 }), tf.gather(src, { 0 }) }, 0)
    end
    collectgarbage()
    collectgarbage()
    for i = 1, 20 do assert.same({ ("x"):rep(i), ("s%d"):format(i), ("s%d"):format(i) }, kept[i]:totable()) end
  end)

  it("make variables that own their bytes: assign and checkpoints work, scatter does not", function()
    local vars = {}
    for i = 1, 5 do vars[i] = tf.Variable(tf.constant({ ("v%d"):format(i) .. ("y"):rep(200), "b" })) end
    collectgarbage()
    collectgarbage()
    for i = 1, 5 do assert.equal(("v%d"):format(i) .. ("y"):rep(200), vars[i]:read_value():totable()[1]) end
    local v = vars[1]
    for i = 1, 200 do v:assign(tf.constant({ ("x"):rep(i), "y" })) end
    collectgarbage()
    assert.same({ ("x"):rep(200), "y" }, v:read_value():totable())
    local path = os.tmpname()
    local ck = tf.train.Checkpoint({ v = v })
    local saved = ck:write(path)
    v:assign(tf.constant({ "zz", "" }))
    ck:read(saved)
    assert.same({ ("x"):rep(200), "y" }, v:read_value():totable())
    os.remove(path)
    os.remove(saved)
    helpers.assert_error("Unimplemented", { "scatter_update", "string variables" }, tf.raw_ops.scatter_update, v,
      tf.constant({ 0 }), tf.constant({ "q" }))
    helpers.assert_error("Unimplemented", { "assign_add", "string" }, function() v:assign_add(tf.constant({ "a", "b" })) end)
  end)

  it("compare with tf.equal / not_equal; other math and casts are errors", function()
    local t = tf.constant({ "a", "", "f\0g" })
    assert.same({ true, false, false }, list(tf.equal(t, "a")))
    assert.same({ false, true, true }, list(tf.not_equal(t, tf.constant({ "a", "b", "f\0h" }))))
    assert.same({ { true, false }, { false, true } }, list(tf.equal(tf.constant({ { "a" }, { "b" } }), tf.constant({ "a", "b" }))))
    helpers.assert_error("Unimplemented", { "less", "string" }, tf.less, t, t)
    helpers.assert_error("Unimplemented", { "add", "string" }, tf.add, t, t)
    helpers.assert_error("Unimplemented", { "cast", "string to float32", "tf.strings" }, tf.cast, t, tf.float32)
    helpers.assert_error("Unimplemented", { "cast", "float32 to string" }, tf.cast, tf.constant({ 1.0 }), tf.string)
    helpers.assert_error("InvalidArgument", { "different dtypes" }, tf.equal, t, tf.constant({ 1, 2, 3 }))
    -- Lua's == on tensors is identity (DESIGN: == and < cannot be element-wise)
    assert.is_false(tf.constant("a") == tf.constant("a"))
  end)

  it("serialize and parse, rejecting lying lengths", function()
    local t = tf.constant({ { "a", "bb" }, { "", ("q"):rep(300) .. "\0" } })
    local s = tf.io.serialize_tensor(t)
    assert.same(t:totable(), tf.io.parse_tensor(s, tf.string):totable())
    assert.equal("TLT1\6string\1" .. string.pack("<i8", 2) .. string.pack("<i8i8", 1, 0) .. "x",
      tf.io.serialize_tensor(tf.constant({ "x", "" })))
    for n = 0, #s - 1, 7 do
      helpers.assert_error("InvalidArgument", { "parse_tensor" }, tf.io.parse_tensor, s:sub(1, n))
    end
    local head = "TLT1\6string\1" .. string.pack("<i8", 1)
    helpers.assert_error("InvalidArgument", { "bad length" }, tf.io.parse_tensor, head .. string.pack("<i8", -1))
    helpers.assert_error("InvalidArgument", { "hold 5 bytes", "has 2" }, tf.io.parse_tensor, head .. string.pack("<i8", 5) .. "ab")
    helpers.assert_error("InvalidArgument", { "hold 2 bytes" }, tf.io.parse_tensor, head .. string.pack("<i8", 2) .. "abc")
    helpers.assert_error("InvalidArgument", { "byte lengths" }, tf.io.parse_tensor,
      "TLT1\6string\1" .. string.pack("<i8", 1 << 40))
    -- random damage: an error value or a tensor, never a crash
    math.randomseed(7)
    for _ = 1, 300 do
      local b = { s:byte(1, -1) }
      for _ = 1, math.random(3) do b[math.random(#b)] = math.random(0, 255) end
      local ok, r = pcall(tf.io.parse_tensor, string.char(table.unpack(b)))
      assert(ok or tf.errors.is(r, "InvalidArgument") or tf.errors.is(r, "ResourceExhausted"), tostring(r))
    end
  end)

  it("flow through tf.trace as constants and arguments, and through saved models", function()
    local f = tf.trace(function(x)
      return tf.equal(tf.reshape(x, { -1 }), "a"), tf.concat({ tf.reshape(x, { -1 }), tf.constant({ "k" }) }, 0)
    end)
    local a, b = f(tf.constant({ { "a", "b" }, { "", "a" } }))
    assert.same({ true, false, false, true }, a:totable())
    assert.same({ "a", "b", "", "a", "k" }, b:totable())
    a = f(tf.constant({ { "x", "a" }, { "a", "a" } }))
    assert.same({ false, true, true, true }, a:totable())
    local g = tf.trace(function(x) return tf.strings.upper(tf.strings.join({ x, "!" })) end)
    local path = os.tmpname()
    g(tf.constant({ "ab", "c" }))
    tf.saved_model.save(g, path)
    local m = tf.saved_model.load(path)
    os.remove(path)
    assert.same({ "AB!", "C!" }, m(tf.constant({ "ab", "c" })):totable())
  end)
end)

describe("tf.strings", function()
  it("length, substr (bytes and UTF-8 characters)", function()
    local x = tf.constant({ "caf\u{e9}", "\u{65e5}\u{672c}\u{8a9e}", "\xff" })
    assert.same({ 5, 9, 1 }, list(tf.strings.length(x)))
    assert.same({ 4, 3, 1 }, list(tf.strings.length(x, "UTF8_CHAR"))) -- TF
    assert.same({ "af", "\u{672c}\u{8a9e}" }, -- TF
      list(tf.strings.substr(tf.constant({ "caf\u{e9}s", "\u{65e5}\u{672c}\u{8a9e}" }), 1, 2, "UTF8_CHAR")))
    assert.same({ "ll", "rl" }, list(tf.strings.substr(tf.constant({ "hello", "world" }), -3, 2))) -- TF
    assert.same({ "he", "or" }, list(tf.strings.substr(tf.constant({ "hello", "world" }), tf.constant({ 0, 1 }), 2)))
    assert.same({ "llo" }, list(tf.strings.substr(tf.constant({ "hello" }), 2, 100)))
    helpers.assert_error("InvalidArgument", { "substr", "pos 6 out of range", "index 0" },
      tf.strings.substr, tf.constant({ "hello" }), 6, 1)
    helpers.assert_error("InvalidArgument", { "unit must be" }, tf.strings.length, x, "CHAR")
    helpers.assert_error("InvalidArgument", { "must be a string tensor", "float32" }, tf.strings.length, tf.constant({ 1.0 }))
  end)

  it("join and reduce_join", function()
    assert.same({ "a-x", "b-x" }, list(tf.strings.join({ tf.constant({ "a", "b" }), "x" }, { separator = "-" })))
    assert.same({ "ab" }, list(tf.strings.join({ tf.constant({ "a" }), tf.constant({ "b" }) })))
    local m = tf.constant({ { "a", "b" }, { "c", "d" } })
    assert.equal("abcd", tf.strings.reduce_join(m):item())
    assert.same({ "ac", "bd" }, list(tf.strings.reduce_join(m, 0)))
    assert.same({ { "a,b" }, { "c,d" } }, list(tf.strings.reduce_join(m, 1, { keepdims = true, separator = "," })))
    assert.equal("", tf.strings.reduce_join(tf.constant({}, tf.string)):item())
    helpers.assert_error("InvalidArgument", { "axis 2 is out of range" }, tf.strings.reduce_join, m, 2)
    helpers.assert_error("InvalidArgument", { "incompatible" }, tf.strings.join, { tf.constant({ "a", "b" }), tf.constant({ "a", "b", "c" }) })
  end)

  it("upper, lower (ASCII, or utf-8 through ICU), strip", function()
    local x = tf.constant({ "Stra\u{df}e", "\u{e9}t\u{e9}" })
    assert.same({ "STRA\u{df}E", "\u{e9}T\u{e9}" }, list(tf.strings.upper(x)))
    assert.same({ "STRASSE", "\u{c9}T\u{c9}" }, list(tf.strings.upper(x, { encoding = "utf-8" }))) -- TF
    assert.same({ "stra\u{df}e", "\u{e9}t\u{e9}" }, list(tf.strings.lower(x, { encoding = "utf-8" })))
    assert.same({ "a b", "", "x" }, list(tf.strings.strip(tf.constant({ " \ta b\n ", "   ", "x" }))))
    helpers.assert_error("InvalidArgument", { "encoding" }, tf.strings.upper, x, { encoding = "latin1" })
  end)

  it("to_number and as_string", function()
    local f = tf.strings.to_number(tf.constant({ "1.5", " 2", "-3e2", "inf", "nan" })):totable()
    assert.same({ 1.5, 2, -300, math.huge }, { f[1], f[2], f[3], f[4] })
    assert.is_true(f[5] ~= f[5])
    assert.same({ 12, -7, 8 }, list(tf.strings.to_number(tf.constant({ "12", "-7", " 8 " }), tf.int32)))
    for _, bad in ipairs({ "abc", "1.5x", "", "0x10", "99999999999" }) do
      helpers.assert_error("InvalidArgument", { "StringToNumberOp could not correctly convert string" },
        tf.strings.to_number, tf.constant({ bad }), tf.int32)
    end
    helpers.assert_error("InvalidArgument", { "out_type" }, tf.strings.to_number, tf.constant({ "1" }), tf.bool)
    -- TF
    assert.same({ "1.500000", "-2.000000", "10000000000.000000", "0.000000" },
      list(tf.strings.as_string(tf.constant({ 1.5, -2.0, 1e10, 1e-7 }))))
    assert.same({ "1.500000e+00", "1.234568e+04" }, list(tf.strings.as_string(tf.constant({ 1.5, 12345.678 }), { scientific = true })))
    assert.same({ "1.5", "12345.7", "1e-07" }, list(tf.strings.as_string(tf.constant({ 1.5, 12345.678, 1e-7 }), { shortest = true })))
    assert.same({ "3.14" }, list(tf.strings.as_string(tf.constant({ 3.14159 }), { precision = 2 })))
    assert.same({ "    3", "  -42" }, list(tf.strings.as_string(tf.constant({ 3, -42 }), { width = 5 })))
    assert.same({ "00003", "-0042" }, list(tf.strings.as_string(tf.constant({ 3, -42 }), { width = 5, fill = "0" })))
    assert.same({ "true", "false" }, list(tf.strings.as_string(tf.constant({ true, false }))))
    helpers.assert_error("InvalidArgument", { "both scientific and shortest" }, tf.strings.as_string,
      tf.constant({ 1.0 }), { scientific = true, shortest = true })
    helpers.assert_error("InvalidArgument", { "Fill argument not supported" }, tf.strings.as_string, tf.constant({ 1 }), { fill = "x" })
  end)

  it("to_hash_bucket_fast equals TensorFlow's Fingerprint64 buckets", function()
    local words = { "", "a", "ab", "abc", "abcd", "hello", "hello world", "0123456789abcdef", "0123456789abcdefg",
      ("x"):rep(31), ("y"):rep(32), ("z"):rep(33), ("w"):rep(64), ("v"):rep(65), ("u"):rep(100),
      ("The quick brown fox jumps over the lazy dog"):rep(3), "caf\u{e9}", "\u{65e5}\u{672c}\u{8a9e}", "a\0b" }
    -- TF
    assert.same({ 1936946117179621455, 3694432073954588131, 3066228220894225694, 2640714258260161385,
      1897425971756105985, 3786372426573024488, 1769834696496558107, 1493332391325024359, 2800675501336285770,
      653807226908884511, 2351315479247125839, 1983000239170337647, 4555407945498560506, 978096718525207200,
      3460128499407698756, 3331362670556783903, 2156005646011579779, 1846174170784512071, 2415236925292848376 },
      list(tf.strings.to_hash_bucket_fast(tf.constant(words), 1 << 62)))
    assert.same({ 3, 9, 2, 5, 5, 6, 1, 3, 8, 3, 3, 9, 6, 8, 0, 7, 7, 3, 0 },
      list(tf.strings.to_hash_bucket_fast(tf.constant(words), 10)))
    helpers.assert_error("InvalidArgument", { "num_buckets must be at least 1" }, tf.strings.to_hash_bucket_fast, tf.constant({ "a" }), 0)
  end)

  it("regex_full_match and regex_replace (RE2)", function()
    assert.same({ true, false, false }, list(tf.strings.regex_full_match(tf.constant({ "abc", "abcd", "" }), "a.c"))) -- TF
    assert.same({ "<aaa> bbb", "<a>b<a>b", "" }, list(tf.strings.regex_replace(tf.constant({ "aaa bbb", "abab", "" }), "a+", "<\\0>")))
    assert.same({ "X bbb aa" }, list(tf.strings.regex_replace(tf.constant({ "aaa bbb aa" }), "a+", "X", { replace_global = false })))
    assert.same({ "smith, john" }, list(tf.strings.regex_replace(tf.constant({ "john smith" }), "(\\w+) (\\w+)", "\\2, \\1")))
    assert.same({ "-a-b-c-" }, list(tf.strings.regex_replace(tf.constant({ "abc" }), "x*", "-"))) -- TF: empty matches
    assert.same({ "Xbc abc" }, list(tf.strings.regex_replace(tf.constant({ "abc abc" }), "^a", "X"))) -- TF
    -- linear time: a pattern that backtracks catastrophically elsewhere
    local t0 = tf.core.now()
    assert.same({ false }, list(tf.strings.regex_full_match(tf.constant({ ("a"):rep(5000) .. "b" }), "(a+)+$")))
    assert.is_true(tf.core.now() - t0 < 2)
    helpers.assert_error("InvalidArgument", { "invalid pattern", "missing )" }, tf.strings.regex_full_match, tf.constant({ "a" }), "(a")
    helpers.assert_error("InvalidArgument", { "invalid rewrite" }, tf.strings.regex_replace, tf.constant({ "a" }), "a", "\\3")
    -- many strings run on the pool: same as one at a time
    local many = {}
    for i = 1, 20000 do many[i] = ("k%deee%d"):format(i, i % 7) end
    local got = tf.strings.regex_replace(tf.constant(many), "e+", "E"):totable()
    for i = 1, 20000, 997 do assert.equal((many[i]:gsub("e+", "E")), got[i]) end
  end)

  it("split: whitespace or a separator, maxsplit, any rank (TF)", function()
    assert.same({ { "a", "b", "c", "d", "x", "y" }, { 0, 3, 3, 4, 6 } },
      ragged(tf.strings.split(tf.constant({ "a b  c", "", " d ", "\tx\ny " }))))
    assert.same({ { "a", "", "b", "", "", "", "abc" }, { 0, 3, 4, 6, 7 } },
      ragged(tf.strings.split(tf.constant({ "a,,b", "", ",", "abc" }), ",")))
    assert.same({ { "a", "b", "", "c", "", "" }, { 0, 4, 6 } }, ragged(tf.strings.split(tf.constant({ "a<>b<><>c", "<>" }), "<>")))
    assert.same({ { "a", "b c d", "a", "b  c " }, { 0, 2, 4 } },
      ragged(tf.strings.split(tf.constant({ "a b c d", "  a  b  c " }), { maxsplit = 1 })))
    assert.same({ { "a", "b", "c,d" }, { 0, 3 } }, ragged(tf.strings.split(tf.constant({ "a,b,c,d" }), ",", 2)))
    assert.same({ "a", "b" }, list(tf.strings.split("a b")))
    local r = tf.strings.split(tf.constant({ { "a b", "c" }, { "d e f", "" } }))
    assert.same({ 0, 2, 4 }, r.row_splits:totable())
    assert.same({ { "a", "b", "c", "d", "e", "f" }, { 0, 2, 3, 6, 6 } }, ragged(r.values))
    assert.matches("<tf.RaggedTensor %[%[b'a', b'b'%], %[%]%]>", tostring(tf.strings.split(tf.constant({ "a b", "" }))))
    helpers.assert_error("InvalidArgument", { "must be a string tensor" }, tf.strings.split, tf.constant({ 1 }))
    -- many rows are split on the pool: the same pieces as one row at a time
    local lines = {}
    for i = 1, 40000 do lines[i] = ("w%d  x%d y"):rep(i % 3):format(i, i % 5, i, i % 5, i, i % 5) end
    local big = tf.strings.split(tf.constant(lines))
    local vals, sp = big.values:totable(), big.row_splits:totable()
    assert.equal(40001, #sp)
    for i = 1, 40000, 1237 do
      local want = {}
      for w in lines[i]:gmatch("%S+") do want[#want + 1] = w end
      assert.same(want, { table.unpack(vals, sp[i] + 1, sp[i + 1]) })
    end
  end)

  it("bytes_split and ngrams (TF)", function()
    assert.same({ { "a", "b", "c" }, { 0, 2, 2, 3 } }, ragged(tf.strings.bytes_split(tf.constant({ "ab", "", "c" }))))
    local rows = tf.strings.split(tf.constant({ "a b c", "d", "" }))
    assert.same({ { "a b", "b c" }, { 0, 2, 2, 2 } }, ragged(tf.strings.ngrams(rows, 2)))
    assert.same({ { "L a b", "a b c", "b c R", "L d R" }, { 0, 3, 4 } },
      ragged(tf.strings.ngrams(tf.strings.split(tf.constant({ "a b c", "d" })), 3, { pad_values = { "L", "R" }, padding_width = 1 })))
    assert.same({ { "a b", "d" }, { 0, 1, 2 } },
      ragged(tf.strings.ngrams(tf.strings.split(tf.constant({ "a b", "d" })), 3, { preserve_short_sequences = true })))
    assert.same({ "a_b", "b_c", "c_d" }, list(tf.strings.ngrams(tf.constant({ "a", "b", "c", "d" }), 2, { separator = "_" })))
    assert.same({ { "a b" }, { "c d" } }, list(tf.strings.ngrams(tf.constant({ { "a", "b" }, { "c", "d" } }), 2)))
    helpers.assert_error("InvalidArgument", { "ngram_width must be at least 1" }, tf.strings.ngrams, tf.constant({ "a" }), 0)
    helpers.assert_error("InvalidArgument", { "row_splits must start at 0" }, tf.raw_ops.string_ngrams,
      tf.constant({ "a" }), tf.constant({ 0, 2 }, tf.int64), 1)
  end)

  it("unicode_decode / split / encode / transcode / script, with the errors policy (TF)", function()
    local bad = tf.constant({ "a\xffb", "\xe6\x97", "\u{1F600}" })
    assert.same({ { 97, 65533, 98, 65533, 128512 }, { 0, 3, 4, 5 } }, ragged(tf.strings.unicode_decode(bad, "UTF-8")))
    assert.same({ { 97, 98, 99 }, { 0, 3 } },
      ragged(tf.strings.unicode_decode(tf.constant({ "a\xffb\xe6\x97c" }), "UTF-8", { errors = "ignore" })))
    assert.same({ { 97, 63, 98 }, { 0, 3 } },
      ragged(tf.strings.unicode_decode(tf.constant({ "a\xffb" }), "UTF-8", { replacement_char = 63 })))
    helpers.assert_error("InvalidArgument", { "string 0 is not valid", "strict" }, tf.strings.unicode_decode, bad, "UTF-8",
      { errors = "strict" })
    assert.same({ 32, 32, 32 }, list(tf.strings.unicode_decode(tf.constant("\x01 \x07"), "UTF-8",
      { replace_control_characters = true, replacement_char = 32 })))
    assert.same({ { "h", "\u{e9}" }, { 0, 2 } }, ragged(tf.strings.unicode_split(tf.constant({ "h\u{e9}" }), "UTF-8")))
    local cps = tf.strings.unicode_decode(tf.constant({ "hi", "\u{65e5}", "" }), "UTF-8")
    assert.same({ "hi", "\u{65e5}", "" }, list(tf.strings.unicode_encode(cps, "UTF-8")))
    assert.same({ "\0h\xd8=\xde\0" }, list(tf.strings.unicode_encode(tf.constant({ { 104, 0x1F600 } }), "UTF-16-BE")))
    assert.equal("hi", tf.strings.unicode_encode(tf.constant({ 104, 105 }), "UTF-8"):item())
    assert.same({ "a\u{fffd}" }, list(tf.strings.unicode_encode(tf.constant({ { 97, 0xD800 } }), "UTF-8")))
    helpers.assert_error("InvalidArgument", { "code point -5", "strict" }, tf.strings.unicode_encode,
      tf.constant({ { -5 } }), "UTF-8", { errors = "strict" })
    assert.same({ "\0h\0\xe9" }, list(tf.strings.unicode_transcode(tf.constant({ "h\u{e9}" }), "UTF-8", "UTF-16-BE")))
    assert.same({ "h\u{e9}" }, list(tf.strings.unicode_transcode(tf.constant({ "\0h\0\xe9" }), "UTF-16-BE", "UTF-8")))
    assert.same({ 25, 14, 8, 17, 2, 0, -1 }, list(tf.strings.unicode_script(tf.constant({ 72, 0x3b1, 0x416, 0x65e5, 0x627, 48, -3 }))))
    -- other input encodings through ICU (TF)
    assert.same({ { 97, 65533, 65533, 65533, 98 }, { 0, 2, 5 } },
      ragged(tf.strings.unicode_decode(tf.constant({ "a\x82", "\xff\xfeb" }), "Shift_JIS")))
    assert.same({ { 99, 97, 102, 233 }, { 0, 4 } }, ragged(tf.strings.unicode_decode(tf.constant({ "caf\xe9" }), "ISO-8859-1")))
    assert.same({ "caf\u{e9}" }, list(tf.strings.unicode_transcode(tf.constant({ "caf\xe9" }), "latin1", "UTF-8")))
    helpers.assert_error("InvalidArgument", { "strict" }, tf.strings.unicode_decode, tf.constant({ "\x82" }), "Shift_JIS",
      { errors = "strict" })
    helpers.assert_error("InvalidArgument", { "input_encoding", "ICU" }, tf.strings.unicode_decode, bad, "NOPE-9")
    helpers.assert_error("InvalidArgument", { "output_encoding", "not supported" }, tf.strings.unicode_transcode, bad,
      "UTF-8", "latin1")
  end)

  it("format (TF)", function()
    assert.equal('x=[1 2] y="s"', tf.strings.format("x={} y={}", { tf.constant({ 1, 2 }), tf.constant("s") }):item())
    assert.equal("[[1.5 2]]", tf.strings.format("{}", tf.constant({ { 1.5, 2.0 } })):item())
    assert.equal('["a" "b"]', tf.strings.format("{}", tf.constant({ "a", "b" })):item())
    assert.equal("[0 1 2 ... 7 8 9]", tf.strings.format("{}", tf.range(10)):item())
    helpers.assert_error("InvalidArgument", { "num placeholders", "2 vs 1" }, tf.strings.format, "{} {}", { tf.constant(1) })
  end)

  it("are listed by help()", function()
    local text = require("tlua.help").text(tf.strings)
    for _, name in ipairs({ "split", "join", "length", "regex_replace", "to_hash_bucket_fast", "unicode_decode", "ngrams" }) do
      assert.matches(name, text, 1, true)
    end
  end)
end)

describe("tf.strings inside tf.trace and tf.while_loop", function()
  it("traces split and hashing on component tensors", function()
    local f = tf.trace(function(x)
      local r = tf.strings.split(x)
      return tf.strings.to_hash_bucket_fast(r.values, 10), r.row_splits
    end)
    local h, sp = f(tf.constant({ "a b", "c" }))
    assert.same({ 9, 2, 2 }, h:totable()) -- TF: buckets of "a", "b", "c"
    assert.same({ 0, 2, 3 }, sp:totable())
    h, sp = f(tf.constant({ "a b c", "", "d" }))
    assert.same({ 0, 3, 3, 4 }, sp:totable())
  end)

  it("a ragged result goes into and out of tf.trace and through tf.while_loop", function()
    local g = tf.trace(function(x) return tf.strings.split(x) end)
    assert.same({ { "a", "b" }, { "c" } }, g(tf.constant({ "a b", "c" })):to_list())
    assert.same({ { "a", "b", "c" }, {}, { "d" } }, g(tf.constant({ "a b c", "", "d" })):to_list())
    local h = tf.trace(function(r) return tf.strings.ngrams(r, 2) end)
    assert.same({ { "a b" }, {} }, h(tf.strings.split(tf.constant({ "a b", "c" }))):to_list())
    local out = tf.while_loop(function(i) return tf.less(i, 2) end, function(i, r) return i + 1, r end,
      { tf.constant(0), tf.strings.split(tf.constant({ "a b", "c" })) })
    assert.equal(2, out[1]:item())
    assert.same({ { "a", "b" }, { "c" } }, out[2]:to_list())
  end)
end)
