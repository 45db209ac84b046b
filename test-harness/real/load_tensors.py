#!/usr/bin/python3
"""Loads a model file with its normal loader, one way, and keeps the bits of every tensor.

usage: load_tensors.py npy|torch WAY PATH OUT.npz

  npy    load   numpy.load(PATH)                       the header by read(), the data by fread()
         mmap   numpy.load(PATH, mmap_mode='r')        the header by read(), the data by mmap()
         read   numpy.load of open(PATH).read()        read()
         pread  numpy.load of os.pread() chunks        pread()
         readv  numpy.load of one os.readv()           readv()
  torch  load   torch.load(PATH)                       read() through the file object
         pread  torch.load of os.pread() chunks        pread()

OUT gets, per tensor (.npy: "array"; a checkpoint: its state-dict keys), the bits of its
elements as unsigned integers of the element's width, in the element's own byte order undone
(so that 1.0f is 0x3f800000 whatever the file's order), flattened. Prints one JSON line:
{"ok": true, "tensors": {NAME: [DTYPE, N]}} or {"ok": false, "error": "Type: message"}.
Exit 0 either way: a loader that refuses the file is what the caller observes.
"""

import io
import json
import os
import sys

CHUNK = 64 * 1024


def bits(arr):
    """The elements' bits as numbers: a view as unsigned integers of the same width and byte
    order, converted to native order."""
    import numpy as np

    arr = np.ascontiguousarray(arr)
    order = arr.dtype.byteorder if arr.dtype.byteorder in "<>" else "="
    u = arr.view(np.dtype(f"{order}u{arr.dtype.itemsize}"))
    return u.astype(np.dtype(f"=u{arr.dtype.itemsize}")).ravel()


def whole_file(path, way):
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if way == "pread":
            parts = []
            for off in range(0, size, CHUNK):
                parts.append(os.pread(fd, min(CHUNK, size - off), off))
            return b"".join(parts)
        # readv: three buffers of uneven sizes, one call
        cuts = [size // 3 + 1, size // 3 - 5]
        bufs = [bytearray(cuts[0]), bytearray(cuts[1]), bytearray(size - cuts[0] - cuts[1])]
        got = os.readv(fd, bufs)
        return b"".join(bytes(b) for b in bufs)[:got]
    finally:
        os.close(fd)


def load_npy(way, path):
    import numpy as np

    if way == "load":
        arr = np.load(path)
    elif way == "mmap":
        arr = np.load(path, mmap_mode="r")
    elif way == "read":
        with open(path, "rb") as f:
            arr = np.load(io.BytesIO(f.read()))
    else:
        arr = np.load(io.BytesIO(whole_file(path, way)))
    return {"array": arr}


def load_torch(way, path):
    import torch

    if way == "load":
        sd = torch.load(path)
    else:
        sd = torch.load(io.BytesIO(whole_file(path, way)))
    return {k: v.detach().cpu().numpy() for k, v in sd.items()}


def main():
    ways = {"npy": ("load", "mmap", "read", "pread", "readv"), "torch": ("load", "pread")}
    if len(sys.argv) != 5 or sys.argv[2] not in ways.get(sys.argv[1], ()):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    kind, way, path, out = sys.argv[1:]
    import numpy as np

    try:
        tensors = (load_npy if kind == "npy" else load_torch)(way, path)
        kept = {name: bits(a) for name, a in tensors.items()}
    except Exception as e:  # the loader refused the file: report it, do not crash
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"[:500]}))
        return 0
    np.savez(out, **kept)
    print(json.dumps({"ok": True,
                      "tensors": {n: [str(a.dtype), int(a.size)] for n, a in tensors.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
