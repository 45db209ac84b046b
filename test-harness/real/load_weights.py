#!/usr/bin/python3
"""Loads a weights file one way and prints, as one JSON line, what the program got.

usage: load_weights.py readall|osread|fromfile|mmap PATH DATA_BYTES

  readall   open(PATH, 'rb').read()                 FileIO.readall: read() until EOF
  osread    os.read(fd, size) once                  a loader that trusts one read()
  fromfile  numpy.fromfile(PATH, dtype=uint8)       stdio: fread()
  mmap      numpy.load(PATH, mmap_mode='r')         the header by read(), the data by mmap()

Output: {"ok": true, "bytes": N, "sha_tail": sha256 of the last DATA_BYTES bytes (the .npy
data), "sum": float64 sum of them as float32} or {"ok": false, "error": "Type: message",
"errno": N}. Exit 0 either way: the fault is the program's to observe.
"""

import hashlib
import json
import os
import sys


def load(mode, path):
    import numpy as np

    if mode == "readall":
        with open(path, "rb") as f:
            return f.read()
    if mode == "osread":
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.read(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
    if mode == "fromfile":
        return np.fromfile(path, dtype=np.uint8).tobytes()
    arr = np.load(path, mmap_mode="r")
    return arr.tobytes()


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("readall", "osread", "fromfile", "mmap"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    mode, path, data_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    import numpy as np

    try:
        raw = load(mode, path)
    except Exception as e:  # the program observes the fault: report it, do not crash
        out = {"ok": False, "error": f"{type(e).__name__}: {e}",
               "errno": getattr(e, "errno", None)}
    else:
        tail = raw[-data_bytes:] if len(raw) >= data_bytes else raw
        usable = len(tail) - len(tail) % 4
        total = float(np.frombuffer(tail[:usable], dtype=np.float32).sum(dtype=np.float64))
        out = {"ok": True, "bytes": len(raw), "sha_tail": hashlib.sha256(tail).hexdigest(),
               "sum": total}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
