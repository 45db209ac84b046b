#!/usr/bin/python3
"""action = throttle on real loaders, under `mlchaos run`, timed by the loader's own process:

--case torch  torch.load of a 100 MiB checkpoint behind a read rule of bandwidth = 50MiB/s
              takes the file's size at that rate (2 s): never less, since the library sleeps
              until the bucket has paid for every byte, and not much more than that plus the
              unthrottled load; the log's throttle lines add up to the file's bytes.
--case mmap   np.load(mmap_mode = "r") of a 20 MiB .npy behind an mmap rule of 50MiB/s: the
              mapping is paid for when it is made (0.4 s), and the data read is unchanged.
--case iops   200 reads of 4 KiB behind iops = 100 take 2 s: calls are paced, not bytes.

Bounds: the lower bound is exact (the sleep); the upper one allows 10 % over the asked time
plus three times the unthrottled run plus 0.5 s, for a busy 2-core machine. Exit 77 when the
loader's package is missing.
"""

import argparse
import glob
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
MiB = 1024 * 1024

# Each loader prints "elapsed_s <seconds> <digest>" of the work timed, nothing before it.
TORCH = """\
import sys, time, torch
if sys.argv[1] == "make":
    torch.save({"w": torch.arange(100 * 1024 * 1024 // 4, dtype=torch.float32)}, sys.argv[2])
    sys.exit()
t = time.monotonic()
m = torch.load(sys.argv[2])
print("elapsed_s %.4f %.1f" % (time.monotonic() - t, float(m["w"][-1])))
"""

NUMPY = """\
import sys, time, numpy as np
if sys.argv[1] == "make":
    np.save(sys.argv[2], np.arange(20 * 1024 * 1024 // 4, dtype=np.float32))
    sys.exit()
t = time.monotonic()
a = np.load(sys.argv[2], mmap_mode="r")
s = float(a[-1]) + float(a[0])
print("elapsed_s %.4f %.1f" % (time.monotonic() - t, s))
"""

CHUNKS = """\
import os, sys, time
if sys.argv[1] == "make":
    with open(sys.argv[2], "wb") as f:
        f.write(bytes(range(256)) * (200 * 4096 // 256))
    sys.exit()
t = time.monotonic()
fd = os.open(sys.argv[2], os.O_RDONLY)
n = 0
for _ in range(200):
    n += len(os.read(fd, 4096))
os.close(fd)
print("elapsed_s %.4f %d" % (time.monotonic() - t, n))
"""

CONFIG = """\
[mlchaos]
seed = 7
request_key = none
log = {log}

[fault.slow-volume]
hook = {hook}
action = throttle
path = */{name}
{pace}
"""

CASES = {
    # script, file name, hook, pace, seconds the pace asks for the file (None: from its size)
    "torch": (TORCH, "model.pt", "read", "bandwidth = 50MiB/s", None, "torch"),
    "mmap": (NUMPY, "weights.npy", "mmap", "bandwidth = 50MiB/s", None, "numpy"),
    "iops": (CHUNKS, "chunks.bin", "read", "iops = 100", 2.0, None),
}
BANDWIDTH = 50 * MiB


def timed(argv, env, what):
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=300)
    words = p.stdout.split()
    if not mctest.check(p.returncode == 0 and len(words) == 3 and words[0] == "elapsed_s",
                        f"{what}: exit {p.returncode}, {p.stdout.strip()!r} "
                        f"{p.stderr.strip()[-1500:]}"):
        return None, None
    return float(words[1]), words[2]


def run(a, tmp):
    script, name, hook, pace, asked_s, module = CASES[a.case]
    if module:
        probe = subprocess.run([PY, "-c", f"import {module}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        if probe.returncode != 0:
            mctest.skip(f"{PY} cannot import {module} (Debian: python3-{module})")
    env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
    prog = os.path.join(tmp, "load.py")
    with open(prog, "w") as f:
        f.write(script)
    path = os.path.join(tmp, name)
    subprocess.run([PY, prog, "make", path], env=env, check=True, timeout=300)
    size = os.path.getsize(path)
    if asked_s is None:
        asked_s = size / BANDWIDTH
    cfg = os.path.join(tmp, "slow.ini")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(log=os.path.join(tmp, "log-%p.jsonl"), hook=hook, name=name,
                              pace=pace))
    clean_s, clean_digest = timed([PY, prog, "load", path], env, "unthrottled load")
    slow_s, slow_digest = timed([a.mlchaos, "run", "-c", cfg, "--", PY, prog, "load", path],
                                env, "throttled load")
    if clean_s is None or slow_s is None:
        return
    upper = asked_s * 1.10 + 3 * clean_s + 0.5
    mctest.note(f"{a.case}: {size} bytes, {pace}: asked {asked_s:.3f} s; unthrottled "
                f"{clean_s:.3f} s, throttled {slow_s:.3f} s ({slow_s / asked_s:.3f} x asked); "
                f"bound [{asked_s * 0.999:.3f}, {upper:.3f}]")
    mctest.check(slow_s >= asked_s * 0.999,
                 f"the throttled load took at least the asked {asked_s:.3f} s: {slow_s:.3f} s")
    mctest.check(slow_s <= upper, f"the throttled load took at most {upper:.3f} s: {slow_s:.3f} s")
    mctest.check(slow_digest == clean_digest,
                 f"the same data, throttled or not: {slow_digest} vs {clean_digest}")
    lines = []
    for log in glob.glob(os.path.join(tmp, "log-*.jsonl")):
        lines += [l for l in mctest.read_log(log, mctest.fail) if l.get("rule") == "slow-volume"]
    applied = [l for l in lines if l.get("action") == "throttle" and l.get("applied")]
    paid = sum(l.get("bytes", 0) for l in applied)
    waited = sum(l.get("slept_ns", 0) for l in applied) / 1e9
    mctest.note(f"{a.case}: {len(applied)} throttle lines, {paid} bytes, {waited:.3f} s waited")
    if a.case == "iops":
        mctest.check(len(applied) >= 200, f"every read paced: {len(applied)} lines")
    else:
        mctest.check(paid >= size, f"the log's throttled bytes cover the file: {paid} of {size}")
    mctest.check(waited >= asked_s * 0.999, f"the log says {waited:.3f} s waited")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--case", choices=sorted(CASES), required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mlchaos-rs-throttle-")
    try:
        run(a, tmp)
        return mctest.finish()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
