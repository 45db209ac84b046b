#!/usr/bin/python3
"""action = truncate against real loaders: each loads a model file under rules that make it
end at 50 % (hook = read, mmap and stat, at = 50%), and loads a copy really cut there without
the library; the loader must refuse both the same way (the same exception, the same message).

  torch.load       a checkpoint (zip) read through a file object
  np.load          an .npy file: the header by read(), the data by fread()
  np.load mmap     the same file with mmap_mode = "r" (Python's mmap sizes it by fstat)
  safetensors      the format's own check, as the safetensors library makes it: the file is
                   mapped whole (its size from fstat) and must cover the header's offsets
  raw mmap         ctypes mmap of the file's full real length: a byte before the cut reads as
                   in the file, the rest of the page holding the cut reads 0, and touching a
                   page past it kills the process with SIGBUS, as with the cut copy

The file on disk is unchanged. Exit 77 without numpy; torch's case is skipped without torch.
"""

import argparse
import glob
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mctest  # noqa: E402

PY = "/usr/bin/python3"

CONFIG = """\
[mlchaos]
seed = 3
request_key = none
log = {log}

[fault.cut-read]
hook = read
action = truncate
path = */{name}
at = 50%

[fault.cut-map]
hook = mmap
action = truncate
path = */{name}
at = 50%

[fault.cut-size]
hook = stat
action = truncate
path = */{name}
at = 50%
"""

# Each loader prints one JSON line: {"ok": true, ...} or {"ok": false, "error": "Type: msg"}.
LOADER = r"""
import json, mmap, os, struct, sys
way, path = sys.argv[1], sys.argv[2]

def safetensors(path):
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise ValueError("HeaderTooSmall")
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        n = struct.unpack("<Q", m[:8])[0]
        if 8 + n > len(m):
            raise ValueError("InvalidHeaderLength")
        header = json.loads(m[8:8 + n])
        end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
        if 8 + n + end != len(m):
            raise ValueError("MetadataIncompleteBuffer")
        return len(header)

try:
    if way == "torch":
        import torch
        r = len(torch.load(path))
    elif way == "npy":
        import numpy as np
        r = int(np.load(path).size)
    elif way == "npy-mmap":
        import numpy as np
        r = int(np.load(path, mmap_mode="r").size)
    elif way == "safetensors":
        r = safetensors(path)
    print(json.dumps({"ok": True, "result": r}))
except Exception as e:
    print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
"""

# Maps the whole real length by ctypes, prints bytes before the cut and in the cut's page,
# then touches a page past the cut: SIGBUS for a cut file.
RAW_MAP = r"""
import ctypes, os, sys
path, length, before, in_page, past = sys.argv[1], *map(int, sys.argv[2:6])
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
fd = os.open(path, os.O_RDONLY)
addr = libc.mmap(None, length, 1, 2, fd, 0)  # PROT_READ, MAP_PRIVATE
print(ctypes.string_at(addr + before, 1)[0], ctypes.string_at(addr + in_page, 1)[0], flush=True)
ctypes.string_at(addr + past, 1)
print("touched", flush=True)
"""


def make_files(tmp, sanitize):
    """{way: path} of the model files, written by their own libraries."""
    files = {}
    import numpy as np
    arr = (np.arange(1 << 20, dtype=np.float32) % 251) + 1
    files["npy"] = os.path.join(tmp, "weights.npy")
    np.save(files["npy"], arr)
    files["npy-mmap"] = files["npy"]
    header = json.dumps({"w": {"dtype": "F32", "shape": [1 << 20],
                               "data_offsets": [0, 4 << 20]}}).encode()
    header += b" " * (-len(header) % 8)
    files["safetensors"] = os.path.join(tmp, "model.safetensors")
    with open(files["safetensors"], "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + arr.tobytes())
    probe = subprocess.run([PY, "-c", "import torch"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if sanitize:
        mctest.note("torch: not checked in the sanitizer build: ASan's __cxa_throw "
                    "interceptor aborts on the exception libtorch throws for the cut copy "
                    "itself, without the library (the normal build checks it)")
    elif probe.returncode == 0:
        files["torch"] = os.path.join(tmp, "model.pt")
        subprocess.run([PY, "-c", "import sys, torch; torch.save({'w': torch.arange(1 << 20, "
                        "dtype=torch.float32) % 251 + 1}, sys.argv[1])", files["torch"]],
                       check=True, timeout=120)
    else:
        mctest.note("torch: skipped, /usr/bin/python3 cannot import torch")
    return files


def cut_copy(path, tmp):
    """A copy of path really cut at 50 %, in its own directory (the rules' globs miss it)."""
    d = os.path.join(tmp, "cut")
    os.makedirs(d, exist_ok=True)
    out = os.path.join(d, os.path.basename(path))
    with open(path, "rb") as f:
        data = f.read()
    with open(out, "wb") as f:
        f.write(data[:len(data) // 2])
    return out


def config(tmp, path):
    cfg = os.path.join(tmp, "cut-%s.ini" % os.path.basename(path))
    with open(cfg, "w") as f:
        f.write(CONFIG.format(log=os.path.join(tmp, "log-%p.jsonl"),
                              name=os.path.basename(path)))
    return cfg


def run_json(argv, env):
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=180)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        mctest.fail(f"{argv[-2:]}: exit {p.returncode}: {p.stdout[-300:]} {p.stderr[-1500:]}")
        return None


def loaders(a, tmp, env, files):
    prog = os.path.join(tmp, "loader.py")
    with open(prog, "w") as f:
        f.write(LOADER)
    for way, path in files.items():
        whole = run_json([PY, prog, way, path], env)
        real = run_json([PY, prog, way, cut_copy(path, tmp)], env)
        chaos = run_json([a.mlchaos, "run", "-c", config(tmp, path), "--", PY, prog, way, path],
                         env)
        if whole is None or real is None or chaos is None:
            continue
        mctest.note(f"{way}: whole {whole}; cut copy {real.get('error')}; "
                    f"under truncate {chaos.get('error')}")
        mctest.check(whole["ok"], f"{way}: the whole file loads: {whole}")
        mctest.check(not real["ok"], f"{way}: the cut copy is refused: {real}")
        mctest.check(chaos == real, f"{way}: refused as the cut copy is: {chaos} vs {real}")


def raw_map(a, tmp, env, path):
    prog = os.path.join(tmp, "rawmap.py")
    with open(prog, "w") as f:
        f.write(RAW_MAP)
    size = os.path.getsize(path)
    cut = size // 2
    page = os.sysconf("SC_PAGE_SIZE")
    end_page = (cut + page - 1) // page * page
    past = end_page + page
    with open(path, "rb") as f:
        data = f.read()
    before = cut - 1
    in_page = next((i for i in range(cut, end_page) if data[i]), None)
    mctest.require(in_page is not None, "the page holding the cut has nonzero bytes after it")
    args = [str(size), str(before), str(in_page), str(past)]
    outcomes = {}
    for what, argv in (("cut copy", [PY, prog, cut_copy(path, tmp)] + args),
                       ("truncate", [a.mlchaos, "run", "-c", config(tmp, path), "--", PY, prog,
                                     path] + args)):
        p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60)
        outcomes[what] = (p.returncode, p.stdout.split())
        mctest.note(f"raw mmap, {what}: exit {p.returncode}, printed {p.stdout.split()}")
    want = (-signal.SIGBUS, [str(data[before]), "0"])
    mctest.check(outcomes["cut copy"] == want, f"the cut copy: {outcomes['cut copy']}")
    # mlchaos run exits 128 + N when its command was killed by signal N
    got = outcomes["truncate"]
    mctest.check(got[0] in (-signal.SIGBUS, 128 + signal.SIGBUS) and got[1] == want[1],
                 f"under truncate: SIGBUS past the cut, the bytes as the cut copy's: {got}")


def beyond(a, tmp, env, path):
    """at past the end: `mlchaos check` refuses it for a literal path (FILE:LINE), and the
    library, which cannot know the file before it opens it, loads it whole and says why in
    its log."""
    size = os.path.getsize(path)
    cfg = os.path.join(tmp, "beyond.ini")
    with open(cfg, "w") as f:
        f.write("[mlchaos]\nrequest_key = none\nlog = %s\n\n[fault.far]\nhook = read\n"
                "action = truncate\npath = %s\nat = %d\n"
                % (os.path.join(tmp, "far-%p.jsonl"), path, size + 1))
    p = subprocess.run([a.mlchaos, "check", cfg], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    mctest.check(p.returncode == 1 and f"{cfg}:9: at = {size + 1} is at or past the end of "
                 f"{path} ({size} bytes)" in p.stderr, f"mlchaos check: {p.stderr.strip()}")
    prog = os.path.join(tmp, "loader.py")
    got = run_json([a.mlchaos, "run", "-c", cfg, "--", PY, prog, "npy", path], env)
    mctest.check(got is not None and got["ok"], f"at past the end: the file loads: {got}")
    lines = []
    for log in glob.glob(os.path.join(tmp, "far-*.jsonl")):
        lines += [l for l in mctest.read_log(log, mctest.fail) if l.get("rule") == "far"]
    mctest.check(lines and all(l.get("no_effect") and not l["applied"] and
                               "nothing cut" in l.get("note", "") for l in lines),
                 f"the log says why nothing was cut: {lines[:2]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    ap.add_argument("--sanitize", action="store_true", help="the sanitizer build's runs")
    a = ap.parse_args()
    probe = subprocess.run([PY, "-c", "import numpy"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        mctest.skip(f"{PY} cannot import numpy (Debian: apt-get install python3-numpy)")
    env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
    tmp = tempfile.mkdtemp(prefix="mlchaos-rs-truncate-")
    try:
        sys.path.insert(0, "/usr/lib/python3/dist-packages")
        files = make_files(tmp, a.sanitize)
        if a.sanitize:  # ASan reports a SIGBUS as its own error: let the signal kill it
            opts = env.get("ASAN_OPTIONS", "")
            env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "handle_sigbus=0"

        digest = {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in files.values()}
        loaders(a, tmp, env, files)
        raw_map(a, tmp, env, files["safetensors"])
        beyond(a, tmp, env, files["npy"])
        lines = []
        for log in glob.glob(os.path.join(tmp, "log-*.jsonl")):
            lines += [l for l in mctest.read_log(log, mctest.fail)
                      if l.get("action") == "truncate"]
        applied = {l["rule"] for l in lines if l.get("applied")}
        mctest.note(f"log: {len(lines)} truncate lines, rules applied {sorted(applied)}")
        mctest.check(applied == {"cut-read", "cut-map", "cut-size"},
                     f"every rule applied at least once: {sorted(applied)}")
        mctest.check(all(l["at"] == l["file_size"] // 2 for l in lines if l.get("applied")),
                     "every applied line cuts at half the file")
        for p, h in digest.items():
            mctest.check(hashlib.sha256(open(p, "rb").read()).hexdigest() == h,
                         f"{os.path.basename(p)} unchanged on disk")
        return mctest.finish()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
