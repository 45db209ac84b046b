#!/usr/bin/python3
"""`mlchaos inspect` on files this test writes: a safetensors and a GGUF file built byte by
byte, a .npy from numpy, a torch.save checkpoint (when torch imports), a truncated model
file, a file that is no model, and a headerless dump under --format raw. The JSON output is
parsed and held against what was written (format, names, dtypes, shapes, byte ranges); the
table names the same; --glob marks what tensor = PATTERN selects; exit status 0 for files
read, 1 for a malformed one, 2 for usage errors. And `mlchaos check` on format = raw rules
whose path names one file: an error when the file ends before the declared offset, a warning
when it is a model file the recognisers know, nothing for a glob.

    inspect-files.py --mlchaos BIN

(Not inspect.py: that name would hide the standard library's inspect module from numpy.)
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mctest import check, finish  # noqa: E402


def inspect(mlchaos, *args):
    p = subprocess.run([mlchaos, "inspect"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def inspect_json(mlchaos, *args):
    rc, out, err = inspect(mlchaos, "--json", *args)
    try:
        return rc, json.loads(out)["files"]
    except (ValueError, KeyError) as e:
        check(False, f"inspect --json {args}: not JSON ({e}): {out[:300]} {err[:300]}")
        return rc, []


def write_safetensors(path):
    """Two tensors; returns where the data starts."""
    header = json.dumps({
        "__metadata__": {"format": "pt"},
        "layers.0.attn.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "layers.0.ids": {"dtype": "I64", "shape": [4], "data_offsets": [24, 56]},
        "layers.1.attn.bias": {"dtype": "BF16", "shape": [], "data_offsets": [56, 58]},
    }).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + bytes(range(58)))
    return 8 + len(header)


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(path):
    """GGUF v3, no key-values, two tensors (ne innermost first), alignment 32."""
    infos = [("tok_embd.weight", [8, 4], 0, 0),   # F32, 4 rows of 8: 128 bytes at 0
             ("out.weight", [16], 1, 128)]        # F16, 16 elements: 32 bytes at 128
    body = b"GGUF" + struct.pack("<IQQ", 3, len(infos), 0)
    for name, ne, typ, off in infos:
        body += gguf_string(name) + struct.pack("<I", len(ne))
        body += b"".join(struct.pack("<Q", n) for n in ne) + struct.pack("<IQ", typ, off)
    body += bytes((32 - len(body) % 32) % 32)
    data = len(body)
    with open(path, "wb") as f:
        f.write(body + bytes(160))
    return data


def by_name(entry):
    return {t["name"]: t for t in entry.get("tensors", [])}


def check_safetensors(mlchaos, tmp):
    path = os.path.join(tmp, "model.safetensors")
    data = write_safetensors(path)
    rc, files = inspect_json(mlchaos, path)
    check(rc == 0 and len(files) == 1, f"safetensors: exit {rc}, {len(files)} entries")
    if not files:
        return path
    f = files[0]
    check(f["status"] == "ok" and f["format"] == "safetensors", f"safetensors: {f}")
    t = by_name(f)
    want = {"layers.0.attn.weight": ("f32", "little", [2, 3], data, 24),
            "layers.0.ids": ("i64", "little", [4], data + 24, 32),
            "layers.1.attn.bias": ("bf16", "little", [], data + 56, 2)}
    for name, (dt, order, shape, off, n) in want.items():
        got = t.get(name, {})
        check((got.get("dtype"), got.get("byte_order"), got.get("shape"), got.get("offset"),
               got.get("end"), got.get("bytes")) == (dt, order, shape, off, off + n, n),
              f"safetensors {name}: {got}")
    check(f["tensor_count"] == 3 and f["tensor_bytes"] == 58 and f["size"] == data + 58,
          f"safetensors summary: {f['tensor_count']} tensors, {f['tensor_bytes']} bytes")
    check(abs(f["percent_of_file"] - 100.0 * 58 / (data + 58)) < 1e-6,
          f"safetensors: {f['percent_of_file']}% of the file")
    rc, out, _ = inspect(mlchaos, path)
    check(rc == 0 and "safetensors" in out and "layers.0.attn.weight" in out
          and "[2, 3]" in out and "f32le" in out and "i64le" in out
          and "3 tensors, 58 bytes of tensor data" in out, f"safetensors table:\n{out}")
    return path


def check_glob(mlchaos, path):
    rc, files = inspect_json(mlchaos, "--glob", "*.attn.*", path)
    sel = {t["name"]: t.get("selected") for t in files[0].get("tensors", [])} if files else {}
    check(rc == 0 and sel == {"layers.0.attn.weight": True, "layers.0.ids": False,
                              "layers.1.attn.bias": True}, f"--glob *.attn.*: {sel}")
    rc, out, _ = inspect(mlchaos, path, "--glob", "layers.0.*")
    marked = [l.split()[1] for l in out.splitlines() if l.startswith("* ")]
    check(rc == 0 and marked == ["layers.0.attn.weight", "layers.0.ids"]
          and "tensor = layers.0.* selects 2 of them (56 bytes)" in out,
          f"--glob layers.0.* marks {marked}:\n{out}")


def check_gguf(mlchaos, tmp):
    path = os.path.join(tmp, "model.gguf")
    data = write_gguf(path)
    rc, files = inspect_json(mlchaos, path)
    f = files[0] if files else {}
    t = by_name(f)
    check(rc == 0 and f.get("format") == "gguf", f"gguf: exit {rc}, {f}")
    # shapes outermost first: ne [8, 4] (rows of 8) is shape [4, 8]
    check(t.get("tok_embd.weight", {}).get("shape") == [4, 8]
          and t["tok_embd.weight"]["offset"] == data and t["tok_embd.weight"]["bytes"] == 128
          and t["tok_embd.weight"]["dtype"] == "f32", f"gguf tok_embd.weight: {t}")
    check(t.get("out.weight", {}).get("shape") == [16] and t["out.weight"]["dtype"] == "f16"
          and t["out.weight"]["offset"] == data + 128, f"gguf out.weight: {t}")


def check_npy(mlchaos, tmp):
    try:
        import numpy as np
    except ImportError:
        print("skip npy: numpy is not importable")
        return
    path = os.path.join(tmp, "big.npy")
    arr = np.arange(24, dtype=">f4").reshape(2, 3, 4)
    np.save(path, arr)
    rc, files = inspect_json(mlchaos, path)
    f = files[0] if files else {}
    t = by_name(f).get("array", {})
    size = os.path.getsize(path)
    check(rc == 0 and f.get("format") == "npy" and t.get("shape") == [2, 3, 4]
          and t.get("dtype") == "f32" and t.get("byte_order") == "big"
          and t.get("end") == size and t.get("bytes") == arr.nbytes, f"npy: {f}")


def check_torch(mlchaos, tmp):
    try:
        import torch
    except ImportError:
        print("skip torch: torch is not importable")
        return
    path = os.path.join(tmp, "model.pt")
    model = torch.nn.Linear(4, 3)
    torch.save(model.state_dict(), path)
    rc, files = inspect_json(mlchaos, path)
    f = files[0] if files else {}
    t = by_name(f)
    check(rc == 0 and f.get("format") == "torch-zip"
          and set(t) == {"weight", "bias"}, f"torch: {f}")
    check(t.get("weight", {}).get("bytes") == 48 and t.get("weight", {}).get("dtype") == "f32"
          and t.get("bias", {}).get("bytes") == 12, f"torch sizes: {t}")
    check(t.get("weight", {}).get("shape") == [3, 4] and t.get("bias", {}).get("shape") == [3],
          f"torch shapes: {t}")


def check_bad_files(mlchaos, tmp, good):
    bad = os.path.join(tmp, "cut.safetensors")
    with open(good, "rb") as f:
        blob = f.read()
    with open(bad, "wb") as f:
        f.write(blob[:40])
    text = os.path.join(tmp, "notes.txt")
    with open(text, "w") as f:
        f.write("no tensors here\n")
    rc, out, _ = inspect(mlchaos, bad)
    check(rc == 1 and "malformed: safetensors: " in out, f"truncated: exit {rc}: {out}")
    rc, out, _ = inspect(mlchaos, text)
    check(rc == 0 and "not a model file we know" in out, f"text file: exit {rc}: {out}")
    rc, files = inspect_json(mlchaos, text, bad, good)
    status = [f.get("status") for f in files]
    check(rc == 1 and status == ["not-a-model", "malformed", "ok"]
          and "safetensors: " in files[1].get("reason", ""), f"json statuses {status}")
    rc, _, err = inspect(mlchaos, os.path.join(tmp, "missing.bin"))
    check(rc == 1 and "missing.bin" in err, f"missing file: exit {rc}: {err}")


def check_raw(mlchaos, tmp):
    path = os.path.join(tmp, "dump.bin")
    with open(path, "wb") as f:
        f.write(bytes(64) + struct.pack("<100f", *range(100)))
    rc, files = inspect_json(mlchaos, "--format", "raw", "--dtype", "f32", "--offset", "64",
                             path)
    f = files[0] if files else {}
    t = by_name(f).get("raw", {})
    check(rc == 0 and f.get("format") == "raw" and t.get("shape") == [100]
          and t.get("offset") == 64 and t.get("end") == 464 and t.get("dtype") == "f32",
          f"raw f32 at 64: {f}")
    rc, files = inspect_json(mlchaos, "--format", "raw", "--dtype", "i16", "--offset",
                             "64-164", path)
    t = by_name(files[0]).get("raw", {}) if files else {}
    check(rc == 0 and t.get("shape") == [50] and t.get("bytes") == 100, f"raw i16 64-164: {t}")
    rc, out, _ = inspect(mlchaos, "--format", "raw", "--dtype", "u8", "--offset", "1KiB",
                         path)
    check(rc == 1 and "raw: " in out and "offset 1024" in out, f"raw past the end: {out}")


RAW_RULE = """[mlchaos]
seed = 1
[fault.raw]
hook = read
action = corrupt
path = {path}
region = tensors
format = raw
dtype = f32
offset = {offset}
"""


def check_config_check(mlchaos, tmp, model):
    dump = os.path.join(tmp, "dump.bin")  # 464 bytes, written by check_raw
    cfg = os.path.join(tmp, "raw.ini")
    cases = [(dump, "1KiB-", 1, f"raw.ini:10: format = raw: {dump} is 464 bytes and ends "
                                "before the declared data (offset = 1024-)"),
             (model, "8-", 0, f"raw.ini:8: warning: format = raw on {model}, a safetensors "
                              "file: its header is ignored"),
             (dump, "64-", 0, None),
             (os.path.join(tmp, "dump.*"), "1KiB-", 0, None)]
    for path, offset, want_rc, want_err in cases:
        with open(cfg, "w") as f:
            f.write(RAW_RULE.format(path=path, offset=offset))
        p = subprocess.run([mlchaos, "check", cfg], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        said = want_err in p.stderr if want_err else p.stderr == ""
        check(p.returncode == want_rc and said,
              f"check {path} offset {offset}: exit {p.returncode}: {p.stderr}")


def check_usage(mlchaos):
    for args in (["--dtype", "f32", "x"], ["--format", "raw", "x"], ["--format", "onnx", "x"],
                 ["--format", "raw", "--dtype", "f33", "x"], ["--offset", "1-", "x"],
                 ["--glob", "[ab", "x"], [], ["--bogus", "x"]):
        rc, _, err = inspect(mlchaos, *args)
        check(rc == 2 and err.startswith("mlchaos inspect: "), f"usage {args}: exit {rc}: {err}")
    rc, out, _ = inspect(mlchaos, "--help")
    check(rc == 0 and "--glob" in out, f"--help: exit {rc}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlchaos-inspect-") as tmp:
        good = check_safetensors(a.mlchaos, tmp)
        check_glob(a.mlchaos, good)
        check_gguf(a.mlchaos, tmp)
        check_npy(a.mlchaos, tmp)
        check_torch(a.mlchaos, tmp)
        check_bad_files(a.mlchaos, tmp, good)
        check_raw(a.mlchaos, tmp)
        check_config_check(a.mlchaos, tmp, good)
        check_usage(a.mlchaos)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
