#!/usr/bin/python3
"""numpy loading weights under corrupt, short and fail rules: the program observes each.

A 1 MiB float32 .npy file is loaded four ways by load_weights.py (open().read(), one
os.read(), np.fromfile through stdio's fread, np.load with mmap_mode='r') under
`mlchaos run`, with four configs. What each way must see:

  corrupt    (read and mmap rules sharing one damage name, offsets past the header's page)
             every way gets the same damaged bytes: one sha256, not the file's
  short      (read, max_bytes = 4 KiB) open().read() and np.load loop: the file's bytes;
             one os.read() sees a short count; np.fromfile keeps the array it sized from the
             file and ignores the short fread (numpy 1.24): bytes that are not the file's
  fail-read  (read, EIO) open().read(), os.read() and np.load raise OSError(EIO);
             np.fromfile ignores the failed fread, as above: not the file's bytes
  fail-mmap  (mmap, ENOMEM) np.load raises OSError(ENOMEM); the read ways are untouched

and in every case the file on disk keeps its sha256, and each run's log has the rule's
faults. Exit 77 when numpy is missing.
"""

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mctest  # noqa: E402

PY = "/usr/bin/python3"
LOADER = os.path.join(HERE, "load_weights.py")
N_WEIGHTS = 1 << 18
DATA_BYTES = N_WEIGHTS * 4
TIMEOUT_S = 120

HEAD = "[mlchaos]\nseed = 11\nrequest_key = none\nlog = {log}\n"
CONFIGS = {
    "corrupt": """
[fault.rot-read]
hook = read
action = corrupt
path = */model.npy
damage = rot
count = 2
offset = 4096-
select = call

[fault.rot-map]
hook = mmap
action = corrupt
path = */model.npy
damage = rot
count = 2
offset = 4096-
select = call
""",
    "short": """
[fault.trickle]
hook = read
action = short
max_bytes = 4KiB
path = */model.npy
select = call
""",
    "fail-read": """
[fault.eio]
hook = read
action = fail
errno = EIO
path = */model.npy
select = call
""",
    "fail-mmap": """
[fault.nomap]
hook = mmap
action = fail
errno = ENOMEM
path = */model.npy
select = call
""",
}
MODES = ("readall", "osread", "fromfile", "mmap")
# case -> mode -> outcome: clean (the file's bytes), damaged (the corrupt rules' bytes),
# short (fewer bytes), garbage (all the bytes, not the file's), EIO, ENOMEM (raised).
EXPECT = {
    "corrupt": dict.fromkeys(MODES, "damaged"),
    "short": {"readall": "clean", "osread": "short", "fromfile": "garbage", "mmap": "clean"},
    "fail-read": {"readall": "EIO", "osread": "EIO", "fromfile": "garbage", "mmap": "EIO"},
    "fail-mmap": {"readall": "clean", "osread": "clean", "fromfile": "clean", "mmap": "ENOMEM"},
}
# case -> the rule whose faults each run's log must show, by mode (None: no fault expected)
RULES = {
    "corrupt": {"readall": "rot-read", "osread": "rot-read", "fromfile": "rot-read",
                "mmap": "rot-map"},
    "short": dict.fromkeys(MODES, "trickle"),
    "fail-read": dict.fromkeys(MODES, "eio"),
    "fail-mmap": {"readall": None, "osread": None, "fromfile": None, "mmap": "nomap"},
}


class Numpy:
    def __init__(self, a, tmp):
        self.a = a
        self.tmp = tmp
        self.env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
        self.model = os.path.join(tmp, "model.npy")
        self.runs = 0

    def load(self, mode, config=None):
        """Runs the loader; returns its JSON answer and the objects of its log."""
        self.runs += 1
        argv = [PY, LOADER, mode, self.model, str(DATA_BYTES)]
        logdir = os.path.join(self.tmp, f"run-{self.runs}")
        os.mkdir(logdir)
        if config is not None:
            cfg = os.path.join(logdir, "chaos.ini")
            with open(cfg, "w") as f:
                f.write(HEAD.format(log=os.path.join(logdir, "log-%p.jsonl")) + config)
            argv = [self.a.mlchaos, "run", "-c", cfg, "--"] + argv
        try:
            p = subprocess.run(argv, env=self.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            mctest.fail(f"{mode}: no exit within {TIMEOUT_S} s")
            return None, []
        if p.returncode != 0 or mctest.sanitizer_report(p.stderr):
            mctest.fail(f"{mode}: exit {p.returncode}\n{p.stderr[-4000:]}")
            return None, []
        lines = []
        for path in sorted(glob.glob(os.path.join(logdir, "log-*.jsonl"))):
            lines += mctest.read_log(path, mctest.fail)
        return json.loads(p.stdout.strip().splitlines()[-1]), lines

    def outcome(self, got, clean):
        if got is None:
            return "no answer"
        if not got["ok"]:
            return {5: "EIO", 12: "ENOMEM"}.get(got["errno"], got["error"])
        # np.load returns the data alone, the other ways the whole file
        if got["sha_tail"] == clean["sha_tail"] and got["bytes"] in (clean["bytes"], DATA_BYTES):
            return "clean"
        if got["bytes"] < DATA_BYTES:
            return "short"
        return "other bytes"

    def main(self):
        import numpy as np

        weights = np.random.default_rng(20240601).standard_normal(N_WEIGHTS).astype(np.float32)
        np.save(self.model, weights)
        disk = sha256_file(self.model)
        clean, _ = self.load("readall")
        if clean is None or not clean["ok"]:
            mctest.fail(f"clean load failed: {clean}")
            return
        print(f"clean: {clean}")
        damaged = set()
        for case, config in CONFIGS.items():
            for mode in MODES:
                got, lines = self.load(mode, config)
                seen = self.outcome(got, clean)
                want = EXPECT[case][mode]
                if seen == "other bytes" and want in ("damaged", "garbage"):
                    seen = want
                    if want == "damaged":
                        damaged.add(got["sha_tail"])
                mctest.check(seen == want, f"{case} {mode}: {seen} (expected {want}) {got}")
                rule = RULES[case][mode]
                hits = [l for l in lines if l.get("rule") == rule]
                if rule:
                    # a corrupt read that held none of the rule's positions (the header,
                    # before offset 4096; the read at the end of the file) is no fault: it
                    # is logged as no_effect, not applied
                    applied = [l for l in hits if l["applied"]]
                    mctest.check(applied and all(l["applied"] or l.get("no_effect")
                                                 for l in hits),
                                 f"{case} {mode}: {len(applied)} '{rule}' faults in the log "
                                 f"({len(hits) - len(applied)} without effect)")
                else:
                    mctest.check(not lines, f"{case} {mode}: no fault logged ({len(lines)})")
                if case == "corrupt" and rule:
                    changed = sum(l.get("changed", 0) for l in hits)
                    mctest.check(changed > 0, f"{case} {mode}: {changed} positions changed")
        # One damage, whatever the way the bytes came: read, fread or mmap.
        mctest.check(len(damaged) == 1, f"corrupt: every way saw the same damage "
                                        f"({len(damaged)} distinct sha256)")
        again, _ = self.load("readall", CONFIGS["corrupt"])
        mctest.check(again is not None and again.get("sha_tail") in damaged,
                     "corrupt: the same damage in another run")
        mctest.check(sha256_file(self.model) == disk, "the file on disk is unchanged")


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    a = ap.parse_args()
    probe = subprocess.run([PY, "-c", "import numpy"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        mctest.skip(f"{PY} cannot import numpy (Debian: apt-get install python3-numpy)")
    tmp = tempfile.mkdtemp(prefix="mlchaos-rs-numpy-")
    try:
        n = Numpy(a, tmp)
        n.main()
        return mctest.finish()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
