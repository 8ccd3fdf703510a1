#!/usr/bin/env python3
"""Writes the small IDX fixtures of tests/spec/keras_datasets_spec.lua.

tests/spec/fixtures/keras/idx/<case>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
  good            5 train and 3 test images (value (i*7 + r*28 + c) % 256), labels i % 10
  plain           the same, not gzipped (read_idx reads plain files too)
  bad_magic       train images start 00 00 08 04 (a valid 4-dim [5,28,28,1] file) -> rank error
  bad_type        train images start 00 00 0D 03 (float32 IDX)  -> magic error
  truncated_data  train images with the last 100 value bytes cut
  truncated_gz    train images: a gzip stream cut in half
  corrupt_gz      train images: compressed bytes flipped in the middle
  wrong_dims      train images 5x27x28
  count_mismatch  4 train labels for 5 images
  trailing        train labels with 3 bytes more than the header says
  bad_label       a train label of 12
Deterministic (gzip mtime 0). Run: python3 tools/keras_fixtures/make_idx_fixtures.py
"""
import gzip
import os
import struct

import numpy as np

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "spec", "fixtures", "keras", "idx")


def images(n, h=28, w=28):
    i, r, c = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), indexing="ij")
    return ((i * 7 + r * 28 + c) % 256).astype(np.uint8)


def idx_bytes(a, type_code=0x08, ndims=None):
    ndims = a.ndim if ndims is None else ndims
    head = bytes([0, 0, type_code, ndims]) + b"".join(struct.pack(">I", d) for d in a.shape)
    return head + a.tobytes()


def gz(b):
    return gzip.compress(b, mtime=0)


def write_case(case, files, compress=True):
    d = os.path.join(ROOT, case)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        path = os.path.join(d, name + (".gz" if compress else ""))
        with open(path, "wb") as f:
            f.write(gz(data) if compress else data)


def base():
    return {
        "train-images-idx3-ubyte": idx_bytes(images(5)),
        "train-labels-idx1-ubyte": idx_bytes((np.arange(5) % 10).astype(np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(images(3)),
        "t10k-labels-idx1-ubyte": idx_bytes((np.arange(3) % 10).astype(np.uint8)),
    }


def main():
    write_case("good", base())
    write_case("plain", base(), compress=False)
    f = base()
    f["train-images-idx3-ubyte"] = idx_bytes(images(5).reshape(5, 28, 28, 1))
    write_case("bad_magic", f)
    f = base()
    f["train-images-idx3-ubyte"] = bytes([0, 0, 0x0D, 3]) + f["train-images-idx3-ubyte"][4:]
    write_case("bad_type", f)
    f = base()
    f["train-images-idx3-ubyte"] = f["train-images-idx3-ubyte"][:-100]
    write_case("truncated_data", f)
    f = base()
    write_case("truncated_gz", f)
    z = gz(f["train-images-idx3-ubyte"])
    with open(os.path.join(ROOT, "truncated_gz", "train-images-idx3-ubyte.gz"), "wb") as fh:
        fh.write(z[: len(z) // 2])
    write_case("corrupt_gz", f)
    z = bytearray(gz(f["train-images-idx3-ubyte"]))
    for k in range(len(z) // 2, len(z) // 2 + 8):
        z[k] ^= 0xFF
    with open(os.path.join(ROOT, "corrupt_gz", "train-images-idx3-ubyte.gz"), "wb") as fh:
        fh.write(bytes(z))
    f = base()
    f["train-images-idx3-ubyte"] = idx_bytes(images(5, 27, 28))
    write_case("wrong_dims", f)
    f = base()
    f["train-labels-idx1-ubyte"] = idx_bytes((np.arange(4) % 10).astype(np.uint8))
    write_case("count_mismatch", f)
    f = base()
    f["train-labels-idx1-ubyte"] += b"\1\2\3"
    write_case("trailing", f)
    f = base()
    f["train-labels-idx1-ubyte"] = idx_bytes(np.array([0, 1, 12, 3, 4], np.uint8))
    write_case("bad_label", f)


if __name__ == "__main__":
    main()
