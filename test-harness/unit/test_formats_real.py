#!/usr/bin/python3
"""The recognisers (shim/formats/) on files numpy and torch wrote, against what numpy and torch
say: for .npy the data starts where numpy's header reader stops and holds arr.tobytes(); for a
torch.save checkpoint each storage's bytes, read at the range the map gives, equal the
storage's own bytes, named after the first state-dict key that uses it; for an ONNX model
torch.onnx.export wrote, each parameter's bytes lie at the range of the initializer named
after it.

usage: test_formats_real.py TENSORMAP   (the unit-tensormap program)
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

TENSORMAP = sys.argv[1]


def tensormap(path):
    out = subprocess.run([TENSORMAP, path], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def file_bytes(path, off, n):
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(n)


# ---- npy ----

def npy_dtype_name(dtype):
    """The name formats/tensors.h gives numpy's dtype: f32, i8, u16, bool, ... or other."""
    bits = dtype.itemsize * 8
    if dtype.kind == "f" and bits in (16, 32, 64):
        return f"f{bits}"
    if dtype.kind in "iu" and bits in (8, 16, 32, 64):
        return f"{dtype.kind}{bits}"
    return "bool" if dtype.kind == "b" else "other"


def npy_data_offset(path):
    """Where numpy's own header reader says the data starts."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        np.lib.format._read_array_header(f, version)
        return f.tell()


def write_npy(path, arr, version):
    with open(path, "wb") as f:
        if version is None:
            np.save(f, arr)
        else:
            np.lib.format.write_array(f, arr, version=version)


def check_npy(tmp, label, arr, version=None):
    path = os.path.join(tmp, label + ".npy")
    write_npy(path, arr, version)
    m = tensormap(path)
    what = f"npy {label}"
    check(m["result"] == 1 and m["format"] == "npy", f"{what}: recognised ({m})")
    if arr.nbytes == 0:
        check(m["tensors"] == [], f"{what}: an empty array has no tensor")
        return
    check(len(m["tensors"]) == 1, f"{what}: one tensor")
    if len(m["tensors"]) != 1:
        return
    t = m["tensors"][0]
    off = npy_data_offset(path)
    order = "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"
    check(t["name"] == "array", f"{what}: named 'array'")
    check(t["off"] == off, f"{what}: data at {t['off']}, numpy says {off}")
    check(t["len"] == arr.nbytes, f"{what}: {t['len']} bytes, numpy says {arr.nbytes}")
    check(t["off"] + t["len"] == os.path.getsize(path), f"{what}: data ends the file")
    want = npy_dtype_name(arr.dtype)
    check(t["dtype"] == want, f"{what}: dtype {t['dtype']}, expected {want}")
    big = arr.dtype.byteorder == ">" and arr.dtype.itemsize > 1
    check(t["big_endian"] == big, f"{what}: big_endian {t['big_endian']}")
    check(t["shape"] == list(arr.shape), f"{what}: shape {t['shape']}, numpy says {arr.shape}")
    check(file_bytes(path, t["off"], t["len"]) == arr.tobytes(order=order),
          f"{what}: the range holds the array's bytes")


def test_npy(tmp):
    rng = np.random.default_rng(7)
    base = rng.standard_normal((5, 7))
    for dt in ["float32", "float16", "float64", "int8", ">f4", ">f8", "<i4", "bool", "complex64"]:
        arr = base.astype(dt)
        check_npy(tmp, dt.replace(">", "be-").replace("<", "le-"), arr)
        check_npy(tmp, dt.replace(">", "be-").replace("<", "le-") + "-fortran",
                  np.asfortranarray(arr))
    check_npy(tmp, "v2", base.astype("float32"), version=(2, 0))
    check_npy(tmp, "v3", base.astype("float16"), version=(3, 0))
    check_npy(tmp, "scalar", np.array(3.5, dtype="float32"))
    check_npy(tmp, "empty", np.zeros((0, 4), dtype="float32"))
    check_npy(tmp, "3d", rng.standard_normal((3, 4, 5)).astype("float32"))
    check_npy(tmp, "unicode", np.array(["ab", "cde"]))
    check_npy(tmp, "32-dims", np.zeros((1,) * 31 + (3,), dtype="float64"), version=(2, 0))

    path = os.path.join(tmp, "object.npy")
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    m = tensormap(path)
    check(m["result"] == -1 and "object array" in m["why"],
          f"npy object array: refused as a pickle ({m})")


# ---- torch ----

TORCH_DTYPE = {}


def storage_key(t):
    return t.storage().data_ptr()


def expected_storages(state):
    """(first key, tensor) per storage, in the pickle's order: an inner dict is built, and
    its keys seen, before the outer dict's entry that holds it."""
    import torch

    seen = {}
    for k, v in state.items():
        if isinstance(v, torch.Tensor):
            seen.setdefault(storage_key(v), (k, v))
        elif isinstance(v, dict):
            for sk, sv in expected_storages(v).items():
                seen.setdefault(sk, sv)
    return seen


def check_torch_file(path, label, storages):
    m = tensormap(path)
    what = f"torch {label}"
    check(m["result"] == 1 and m["format"] == "torch-zip", f"{what}: recognised ({m})")
    by_name = {t["name"]: t for t in m["tensors"]}
    check(len(m["tensors"]) == len(storages),
          f"{what}: {len(m['tensors'])} tensors, {len(storages)} storages")
    for name, tensor in storages.values():
        t = by_name.get(name)
        check(t is not None, f"{what}: storage named '{name}' ({sorted(by_name)})")
        if t is None:
            continue
        s = tensor.storage()
        want = bytes(s.untyped().tolist())
        check(t["len"] == len(want), f"{what} {name}: {t['len']} bytes, torch says {len(want)}")
        check(file_bytes(path, t["off"], t["len"]) == want,
              f"{what} {name}: the range holds the storage's bytes")
        check(t["dtype"] == TORCH_DTYPE.get(s.dtype, "other"),
              f"{what} {name}: dtype {t['dtype']} for {s.dtype}")
        check(not t["big_endian"], f"{what} {name}: little-endian")
        # the shape of the tensor that names the storage, when it covers the whole storage
        whole = (tensor.storage_offset() == 0
                 and tensor.numel() * tensor.element_size() == len(want))
        if whole and t["dtype"] != "other":
            check(t["shape"] == list(tensor.shape),
                  f"{what} {name}: shape {t['shape']}, torch says {list(tensor.shape)}")


def test_torch(tmp):
    try:
        import torch
    except ImportError:
        print("skip torch: not importable by /usr/bin/python3 (Debian: python3-torch)")
        return
    TORCH_DTYPE.update({torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16",
                        torch.float64: "f64", torch.int64: "i64", torch.int32: "i32",
                        torch.int16: "i16", torch.int8: "i8", torch.uint8: "u8",
                        torch.bool: "bool"})
    torch.manual_seed(3)

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = torch.nn.Linear(8, 8)
            self.norm = torch.nn.LayerNorm(8)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(16, 8)
            self.layers = torch.nn.ModuleList([Block(), Block()])
            self.head = torch.nn.Linear(8, 16, bias=False)
            self.head.weight = self.embed.weight  # tied: one storage, two keys
            self.half = torch.nn.Linear(4, 4).half()
            self.bf = torch.nn.Linear(4, 2).to(torch.bfloat16)
            self.register_buffer("steps", torch.arange(5, dtype=torch.int64))
            self.register_buffer("mask", torch.ones(6, dtype=torch.int8))
            self.register_buffer("scale", torch.tensor([0.5, 2.0], dtype=torch.float64))

    model = Model()
    sd = model.state_dict()
    sd["view_of_attn"] = model.layers[0].attn.weight.detach()[2:5]  # a view: same storage
    path = os.path.join(tmp, "model.pt")
    torch.save(sd, path)
    check_torch_file(path, "state_dict", expected_storages(sd))

    bare = torch.randn(3, 4)
    path = os.path.join(tmp, "bare.pt")
    torch.save(bare, path)
    check_torch_file(path, "bare tensor", {storage_key(bare): ("data/0", bare)})

    ckpt = {"model": model.state_dict(), "epoch": 3, "note": "nested"}
    path = os.path.join(tmp, "checkpoint.pt")
    torch.save(ckpt, path)
    check_torch_file(path, "nested checkpoint", expected_storages(ckpt))


def test_onnx(tmp):
    """torch.onnx.export (no onnx package needed): every parameter is an initializer whose
    raw_data the map gives, named after the parameter, f32."""
    try:
        import torch
    except ImportError:
        print("skip onnx: torch is not importable by /usr/bin/python3 (Debian: python3-torch)")
        return
    torch.manual_seed(5)
    # 64 x 256 weights: 64 KiB of raw_data, past the recogniser's 16 KiB window
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 8))
    path = os.path.join(tmp, "model.onnx")
    torch.onnx.export(model, (torch.ones(1, 64),), path, do_constant_folding=False)
    got = tensormap(path)
    if not check(got["result"] == 1 and got["format"] == "onnx", f"onnx: recognised ({got})"):
        return
    by_name = {t["name"]: t for t in got["tensors"]}
    for name, p in model.state_dict().items():
        t = by_name.get(name)
        want = p.detach().numpy().astype("<f4").tobytes()
        if not check(t is not None, f"onnx {name}: an initializer of the map"):
            continue
        check(t["len"] == len(want) and file_bytes(path, t["off"], t["len"]) == want,
              f"onnx {name}: its bytes at offset {t['off']} ({t['len']} bytes)")
        check(t["dtype"] == "f32", f"onnx {name}: f32 ({t['dtype']})")


def main():
    with tempfile.TemporaryDirectory(prefix="mlchaos-formats-") as tmp:
        test_npy(tmp)
        test_torch(tmp)
        test_onnx(tmp)
    return finish("formats-real")


if __name__ == "__main__":
    sys.exit(main())
