#!/usr/bin/env python3
"""Writes tests/spec/fixtures/keras/reference.safetensors with the reference
safetensors implementation (run with /work/venv-tf/bin/python, which has it),
and prints the values the spec expects. keras_saving_spec.lua reads the file
and checks every tensor against the same formulas.

  a_f32   float32 [2,3]   arange(6) / 4 - 0.5
  b_f64   float64 [3]     [1/3, -1e300, 5e-324]
  c_f16   float16 [2,2]   [[0.5, -2], [65504, 0.000061035]]
  d_bf16  bfloat16 [3]    [1, -0.5, 3.0e38] (written through torch-free uint16 bits)
  e_i64   int64 [2]       [-(2**62), 2**40 + 3]
  f_i32   int32 [2,2]     [[-7, 8], [2**31 - 1, -(2**31)]]
  g_i16   int16 [3]       [-32768, 0, 32767]
  h_i8    int8 [4]        [-128, -1, 0, 127]
  i_u8    uint8 [2,2]     [[0, 1], [254, 255]]
  j_bool  bool [3]        [True, False, True]
  k_scalar float32 []     2.5
  l_empty float32 [0,4]
  __metadata__ {"format": "pt", "note": "written by safetensors.numpy"}
"""
import os
import sys

import numpy as np
from safetensors.numpy import save_file

out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "spec", "fixtures", "keras", "reference.safetensors")
t = {
    "a_f32": (np.arange(6, dtype=np.float32) / 4 - 0.5).reshape(2, 3),
    "b_f64": np.array([1 / 3, -1e300, 5e-324], np.float64),
    "c_f16": np.array([[0.5, -2], [65504, 0.000061035]], np.float16),
    "e_i64": np.array([-(2**62), 2**40 + 3], np.int64),
    "f_i32": np.array([[-7, 8], [2**31 - 1, -(2**31)]], np.int32),
    "g_i16": np.array([-32768, 0, 32767], np.int16),
    "h_i8": np.array([-128, -1, 0, 127], np.int8),
    "i_u8": np.array([[0, 1], [254, 255]], np.uint8),
    "j_bool": np.array([True, False, True]),
    "k_scalar": np.array(2.5, np.float32),
    "l_empty": np.zeros((0, 4), np.float32),
}
save_file(t, out, metadata={"format": "pt", "note": "written by safetensors.numpy"})
# numpy has no bfloat16: patch one in by hand (the same layout the reference
# writes for torch.bfloat16: the top 16 bits of the float32).
import json
import struct

with open(out, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
bf = np.array([1, -0.5, 3.0e38], np.float32).view(np.uint32) >> 16
header["d_bf16"] = {"dtype": "BF16", "shape": [3], "data_offsets": [len(data), len(data) + 6]}
data += bf.astype("<u2").tobytes()
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + data)
from safetensors import safe_open

with safe_open(out, "np") as f:  # the reference reads it back (bf16 aside)
    print(sorted(f.keys()), f.metadata(), file=sys.stderr)
