#!/usr/bin/python3
"""mlchaos-tensorgen and mlchaos-tensorcat against each other, against the library's
recognisers (unit-tensormap) and against numpy: same seed, same bytes; headers past one 4 KiB
page; the reader's offsets and values are the recogniser's ranges and numpy's decoding of
them; a damaged header is refused, damaged tensor bytes load and show exactly where they are.

usage: tensorfiles.py TENSORGEN TENSORCAT TENSORMAP
Exit 0 all checks held, 1 a check failed, 77 numpy is missing (Debian: python3-numpy)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mctest import check, finish, skip  # noqa: E402

try:
    import numpy as np
except ImportError:
    skip("numpy is not importable by /usr/bin/python3 (Debian: python3-numpy)")

GEN, CAT, MAP = sys.argv[1:4]


def gen(path, fmt, *args):
    subprocess.run([GEN, "--format", fmt, "-o", path, "--quiet", *args], check=True)
    with open(path, "rb") as f:
        return f.read()


def cat(path, *args, tensor=None):
    cmd = [CAT, "--json", *args, path] + ([tensor] if tensor else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    tensors = [json.loads(line) for line in r.stdout.splitlines()] if r.returncode == 0 else []
    return r.returncode, tensors, r.stderr


def tensormap(path):
    out = subprocess.run([MAP, path], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def decode(raw, dtype, n):
    """numpy's reading of n elements of a tensor's bytes."""
    if dtype == "F32":
        return np.frombuffer(raw, "<f4").astype(np.float64)
    if dtype == "F16":
        return np.frombuffer(raw, "<f2").astype(np.float64)
    if dtype == "BF16":
        bits = np.frombuffer(raw, "<u2").astype(np.uint32) << 16
        return bits.view("<f4").astype(np.float64)
    if dtype == "I8":
        return np.frombuffer(raw, "i1").astype(np.float64)
    if dtype == "Q8_0":
        blocks = np.frombuffer(raw, np.uint8).reshape(-1, 34)
        scale = blocks[:, :2].copy().view("<f2").astype(np.float64)
        quants = blocks[:, 2:].copy().view("i1").astype(np.float64)
        return (scale * quants).reshape(-1)[:n]
    raise ValueError(dtype)


def check_file(tmp, fmt):
    what = f"{fmt}"
    path = os.path.join(tmp, "model." + fmt)
    data = gen(path, fmt, "--seed", "7")
    again = gen(os.path.join(tmp, "again." + fmt), fmt, "--seed", "7")
    other = gen(os.path.join(tmp, "other." + fmt), fmt, "--seed", "8")
    check(data == again, f"{what}: the same seed writes the same bytes")
    check(len(other) == len(data) and other != data, f"{what}: another seed, other values")

    rc, tensors, err = cat(path, "--values")
    check(rc == 0, f"{what}: tensorcat loads it ({err.strip()})")
    names = [t["name"] for t in tensors]
    dtypes = {t["dtype"] for t in tensors}
    want = {"F32", "F16", "BF16", "I8"} | ({"Q8_0"} if fmt == "gguf" else set())
    check(dtypes == want, f"{what}: types {sorted(dtypes)}")
    check("embed.weight" in names and "head.weight" in names, f"{what}: names {names}")

    m = tensormap(path)
    check(m["result"] == 1 and m["format"] == fmt, f"{what}: the recogniser knows it ({m['why']})")
    header = min(t["off"] for t in m["tensors"]) if m["tensors"] else 0
    check(header > 4096, f"{what}: the header spans more than one page ({header} bytes)")
    by_name = {t["name"]: t for t in m["tensors"]}
    for t in tensors:
        r = by_name.get(t["name"])
        check(r is not None and r["off"] == t["offset"] and r["len"] == t["bytes"],
              f"{what} {t['name']}: reader and recogniser agree on its bytes")
        raw = data[t["offset"]:t["offset"] + t["bytes"]]
        want_values = decode(raw, t["dtype"], len(t["values"]))
        got = np.array([float(v) for v in t["values"]])  # "nan", "inf" too
        check(len(got) == len(want_values) and np.allclose(got, want_values, rtol=1e-7, atol=0),
              f"{what} {t['name']}: values are numpy's decoding of its bytes")
        if t["dtype"] in ("F32", "F16", "BF16"):
            check(np.all(np.abs(got) <= 1.0) and np.any(got != 0), f"{what} {t['name']}: in [-1, 1]")

    small = gen(os.path.join(tmp, "small." + fmt), fmt, "--metadata", "0")
    m_small = tensormap(os.path.join(tmp, "small." + fmt))
    check(min(t["off"] for t in m_small["tensors"]) < header,
          f"{what}: --metadata 0 writes a smaller header ({len(small)} bytes)")
    return path, data, tensors


def write(tmp, name, data):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def check_damage(tmp, fmt, path, data, tensors):
    what = f"{fmt} damaged"
    by_name = {t["name"]: t for t in tensors}
    embed = by_name["embed.weight"]
    # A NaN written over element 5 of embed.weight, and one byte of head.weight flipped.
    damaged = bytearray(data)
    at = embed["offset"] + 5 * 4
    damaged[at:at + 4] = np.array([np.nan], "<f4").tobytes()
    head = by_name["head.weight"]
    damaged[head["offset"] + 3] ^= 0x40
    bad = write(tmp, "damaged." + fmt, bytes(damaged))
    for load in ("read", "mmap"):
        rc, got, err = cat(bad, "--values", "--load", load)
        check(rc == 0, f"{what} ({load}): still loads ({err.strip()})")
        after = {t["name"]: t for t in got}
        for name, t in by_name.items():
            a = after.get(name, {})
            changed = a.get("xxh64") != t["xxh64"]
            check(changed == (name in ("embed.weight", "head.weight")),
                  f"{what} ({load}) {name}: checksum changed only where the bytes did")
        check(after["embed.weight"]["nan"] == 1 and after["embed.weight"]["values"][5] == "nan",
              f"{what} ({load}): the NaN shows at element 5")
        diff = [i for i, (x, y) in enumerate(zip(after["head.weight"]["values"],
                                                  by_name["head.weight"]["values"])) if x != y]
        check(diff == [0], f"{what} ({load}): head.weight differs at element 0 only ({diff})")

    # One filter, and a name that is not there.
    rc, got, _ = cat(bad, tensor="head.weight")
    check(rc == 0 and [t["name"] for t in got] == ["head.weight"], f"{what}: one tensor by name")
    rc, _, err = cat(bad, tensor="no.such.tensor")
    check(rc == 1 and "no tensor named" in err, f"{what}: an unknown name fails")

    # Damaged headers are refused, as a strict loader would.
    header = bytearray(data)
    if fmt == "safetensors":
        i = data.index(b'"dtype":"F16"')
        header[i + 10] = ord("X")
        reason = "unsupported dtype"
    else:
        i = data.index(b"layers.0.attn.weight")
        header[i + len("layers.0.attn.weight") + 4 + 16 + 4] ^= 0x01  # its offset
        reason = "expected"
    rc, _, err = cat(write(tmp, "header." + fmt, bytes(header)))
    check(rc == 1 and "refused" in err and reason in err,
          f"{fmt}: a damaged header is refused ({err.strip()})")
    rc, _, err = cat(write(tmp, "short." + fmt, data[:-1]))
    check(rc == 1 and "refused" in err, f"{fmt}: a truncated file is refused ({err.strip()})")


def main():
    with tempfile.TemporaryDirectory(prefix="mlchaos-tensorfiles-") as tmp:
        for fmt in ("safetensors", "gguf"):
            path, data, tensors = check_file(tmp, fmt)
            check_damage(tmp, fmt, path, data, tensors)
    return finish("tensorfiles")


if __name__ == "__main__":
    sys.exit(main())
