#!/usr/bin/python3
"""format = raw under a real loader: numpy's np.fromfile on a headerless float32 dump (written
by np.tofile after a 64-byte header of our own) under `mlchaos run` with

  region = tensors, format = raw, dtype = f32, offset = 64-, mode = nan

  values     the elements that differ from a clean load are exactly those the event log
             lists (tensor "raw", element index), each now a NaN, with the logged bits
  header     the 64 bytes before the declared data, read by the same process, never change
  short      a rule whose offset lies past the end of the file damages nothing and says so
             in one no_effect line
  checksum   no file changed on disk

Exit 77 when numpy is missing.
"""

import argparse
import hashlib
import os
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mctest  # noqa: E402

PY = "/usr/bin/python3"
TIMEOUT_S = 120
HEADER_BYTES = 64
ELEMENTS = 4096
COUNT = 6

# The loader: the header as plain bytes, then the data as numpy reads a raw dump; both saved
# for the test to compare.
LOADER = r"""
import sys, numpy as np
path, out = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    header = np.frombuffer(f.read(%d), dtype=np.uint8)
data = np.fromfile(path, dtype="<f4", offset=%d)
np.savez(out, header=header, data=data)
print("ok")
""" % (HEADER_BYTES, HEADER_BYTES)

CONFIG = """[mlchaos]
seed = {seed}
request_key = none
log = {{log}}

[fault.raw-dump]
hook = read
action = corrupt
path = */dump.bin
region = tensors
format = raw
dtype = f32
offset = {offset}
mode = nan
count = {count}
select = call
"""


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class RawDump(mctest.ChaosRuns):
    def load(self, path, config=None):
        """(header, data) as the loader read them, or None; and the log's lines."""
        import numpy as np

        out = os.path.join(self.tmp, f"got-{self.runs + 1}.npz")
        p, lines, _ = self.run([PY, "-c", LOADER, path, out], config, TIMEOUT_S)
        if p is None or p.returncode != 0 or "ok" not in p.stdout:
            mctest.fail(f"the loader failed: {p and p.returncode}: {p and p.stderr[-300:]}")
            return None, lines
        with np.load(out) as z:
            got = (z["header"].copy(), z["data"].copy())
        os.unlink(out)
        return got, lines

    def corrupt_lines(self, lines):
        return [l for l in lines if l.get("action") == "corrupt"]

    def case_values(self, path, header, data):
        import numpy as np

        cfg = CONFIG.format(seed=5, offset=f"{HEADER_BYTES}-", count=COUNT)
        got, lines = self.load(path, cfg)
        if got is None:
            return
        got_header, got_data = got
        mctest.check(np.array_equal(got_header, header),
                     "header: the 64 bytes before the declared data are unchanged")
        mctest.check(got_data.shape == data.shape, f"values: {got_data.shape} elements read")
        if got_data.shape != data.shape:
            return
        diff = {int(i) for i in np.nonzero(got_data.view(np.uint32) != data.view(np.uint32))[0]}
        logged = {}
        for l in self.corrupt_lines(lines):
            mctest.check(l.get("format") == "raw", f"values: the line names format raw ({l})")
            for ch in l.get("changes", []):
                mctest.check(ch.get("tensor") == "raw", f"values: a change of tensor raw ({ch})")
                logged[int(ch["index"])] = (int(ch["before"], 16), int(ch["after"], 16))
        mctest.check(len(diff) == COUNT and set(logged) == diff,
                     f"values: {len(diff)} elements differ from the clean data, the log lists "
                     f"{sorted(logged)}: {sorted(diff)}")
        mctest.check(all(np.isnan(got_data[i]) for i in diff),
                     "values: every changed element is a NaN")
        bits = data.view(np.uint32)
        got_bits = got_data.view(np.uint32)
        wrong = [i for i, (b, a) in logged.items()
                 if i < len(bits) and (int(bits[i]) != b or int(got_bits[i]) != a)]
        mctest.check(not wrong, f"values: the logged bits are the loaded ones ({wrong[:3]})")

    def case_short(self, path, data):
        import numpy as np

        cfg = CONFIG.format(seed=5, offset="1MiB-", count=COUNT)
        got, lines = self.load(path, cfg)
        if got is None:
            return
        mctest.check(np.array_equal(got[1].view(np.uint32), data.view(np.uint32)),
                     "short: the file ends before offset 1MiB: nothing changed")
        notes = [l for l in lines if "ends before the declared data" in str(l.get("note", ""))]
        applied = [l for l in self.corrupt_lines(lines) if l.get("applied")]
        mctest.check(len(notes) == 1 and not applied,
                     f"short: one line says the file ends before the data, none applied "
                     f"({len(notes)} notes, {len(applied)} applied)")

    def main(self):
        import numpy as np

        rng = np.random.default_rng(20261207)
        data = rng.standard_normal(ELEMENTS).astype("<f4")
        header = np.arange(1, HEADER_BYTES + 1, dtype=np.uint8)
        path = os.path.join(self.tmp, "dump.bin")
        with open(path, "wb") as f:
            f.write(header.tobytes())
            data.tofile(f)
        before = sha256_file(path)
        clean, _ = self.load(path)
        if clean is not None:
            mctest.check(np.array_equal(clean[1], data) and np.array_equal(clean[0], header),
                         "clean: np.fromfile reads back what np.tofile wrote")
        self.case_values(path, header, data)
        self.case_short(path, data)
        mctest.check(sha256_file(path) == before, "dump.bin: unchanged on disk")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    a = ap.parse_args()
    probe = subprocess.run([PY, "-c", "import numpy"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        mctest.skip(f"{PY} cannot import numpy (Debian: apt-get install python3-numpy)")
    return RawDump.run_all("mlchaos-rs-raw-", a.mlchaos, a.env)


if __name__ == "__main__":
    sys.exit(main())
