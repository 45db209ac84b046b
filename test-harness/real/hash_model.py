#!/usr/bin/python3
"""Loads a model file one way and prints a digest of what it got.

usage: hash_model.py read|fromfile|mmap PATH

  read      open(PATH, 'rb').read()              (the bytes, then a float32 view)
  fromfile  numpy.fromfile(PATH, dtype=float32)
  mmap      numpy.load(PATH, mmap_mode='r')      (PATH is an .npy file)

The output (sha256 of the bytes, element count, float64 sum) must be the same
with and without the shim.
"""

import hashlib
import sys


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("read", "fromfile", "mmap"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    mode, path = sys.argv[1], sys.argv[2]
    import numpy as np

    if mode == "read":
        with open(path, "rb") as f:
            raw = f.read()
        weights = np.frombuffer(raw, dtype=np.float32)
    elif mode == "fromfile":
        weights = np.fromfile(path, dtype=np.float32)
        raw = weights.tobytes()
    else:
        weights = np.load(path, mmap_mode="r")
        raw = weights.tobytes()
    digest = hashlib.sha256(raw).hexdigest()
    total = float(np.sum(weights, dtype=np.float64))
    print(f"{mode}: {len(raw)} bytes, {weights.size} weights, sha256 {digest}, sum {total!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
