#!/usr/bin/python3
"""Transparency of the shim for numpy model loading, and what `mlchaos trace` sees.

Makes a 4 MiB model.bin and an .npy file of 1 Mi float32 weights in a temp
dir, then for each way of loading (open().read(), np.fromfile, np.load with
mmap_mode='r') runs hash_model.py plain, under `mlchaos run` (no config) and
under `mlchaos trace --json`: the three outputs must be byte-identical, and the
trace must show the model file under the function Python really used for it,
having moved exactly the file's bytes. Exit 77 when numpy is missing.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "preload"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctrace  # noqa: E402
from mctest import check, clean_env, fail, finish, skip  # noqa: E402

PY = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_S = 120

# What Debian's python3 (3.11) and numpy (1.24) call, as `mlchaos trace` shows it:
# FileIO.readall() reads with read(); np.fromfile() with fread() on a FILE* it
# opens over the descriptor; np.load(mmap_mode='r') maps the file with mmap()
# (Python's mmap module; glibc's mmap and mmap64 are one function on x86-64 and
# Python, built with _FILE_OFFSET_BITS=64, calls the name mmap64).
EXPECT = {"read": ("read", "model.bin"), "fromfile": ("fread", "model.bin"),
          "mmap": ("mmap64", "model.npy")}


class Numpy:
    def __init__(self, a):
        self.a = a
        self.env = clean_env(dict(kv.partition("=")[::2] for kv in a.env))

    def run(self, label, argv):
        try:
            p = subprocess.run(argv, env=self.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            fail(f"{label}: no exit within {TIMEOUT_S} s")
            return None
        if not check(p.returncode == 0,
                     f"{label}: exit {p.returncode}\n{p.stderr.decode(errors='replace')}"):
            return None
        return p

    def make_models(self, tmp):
        import numpy as np

        rng = np.random.default_rng(20240601)
        weights = rng.standard_normal(1 << 20, dtype=np.float32)
        paths = {"model.bin": os.path.join(tmp, "model.bin"),
                 "model.npy": os.path.join(tmp, "model.npy")}
        weights.tofile(paths["model.bin"])
        np.save(paths["model.npy"], weights[::-1].copy())
        return paths

    def one(self, mode, path, tmp):
        argv = [PY, os.path.join(HERE, "hash_model.py"), mode, path]
        plain = self.run(f"{mode}: plain", argv)
        shim = self.run(f"{mode}: mlchaos run", [self.a.mlchaos, "run", "--"] + argv)
        jpath = os.path.join(tmp, f"trace-{mode}.json")
        traced = self.run(f"{mode}: mlchaos trace",
                          [self.a.mlchaos, "trace", "--json", jpath, "--"] + argv)
        if None in (plain, shim, traced):
            return
        print(plain.stdout.decode().strip())
        for label, p in (("mlchaos run", shim), ("mlchaos trace", traced)):
            check(p.stdout == plain.stdout,
                  f"{mode}: output under {label} differs:\n{plain.stdout!r}\n{p.stdout!r}")
        objs = mctrace.load_json(jpath, fail)
        if not check(len(objs) == 1, f"{mode}: {len(objs)} trace objects, expected 1"):
            return
        obj = objs[0]
        fn, _ = EXPECT[mode]
        target = "file:" + os.path.realpath(path)
        row = mctrace.find_row(obj, fn, target)
        size = os.path.getsize(path)
        seen = ", ".join(f"{r['fn']} calls={r['calls']} bytes={r['bytes']}"
                         for r in mctrace.rows_for_target(obj, target))
        if (check(row is not None, f"{mode}: no '{fn}' row for {target}; its rows: "
                  f"{seen or 'none'}")
                and check(row["bytes"] == size, f"{mode}: '{fn}' on {target} moved "
                          f"{row['bytes']} bytes, the file has {size}")):
            print(f"  trace: {target}: {seen}")
        mctrace.check_table(traced.stderr.decode("utf-8", "replace"),
                            mctrace.index_by_pid(objs, fail), fail)

    def main(self):
        probe = subprocess.run([PY, "-c", "import numpy"], env=self.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if probe.returncode != 0:
            skip(f"{PY} cannot import numpy (Debian: apt-get install python3-numpy, "
                 "which scripts/setup does)")
        tmp = tempfile.mkdtemp(prefix="mlchaos-numpy-")
        try:
            paths = self.make_models(tmp)
            for mode, (_, name) in EXPECT.items():
                self.one(mode, paths[name], tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return finish()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    sys.exit(Numpy(ap.parse_args()).main())


if __name__ == "__main__":
    main()
