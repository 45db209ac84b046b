#!/usr/bin/python3
"""Instructions the library adds to one request of the reference server under `select = request`
rules (a delay rule on read and one on send, at 0.0001%: the key is looked for, hashed and
decided on every request, and next to none is selected), counted exactly under valgrind's
callgrind. The server (--threads 2) runs natively and preloaded, each time for N1 and for N2
requests of `mlchaos-load -c 1`; the difference of the two runs' totals over N2 - N1 cancels
the start and the end, so the figure is per request. Valgrind runs one thread at a time; with
its fair scheduling a request costs the server one read and one send, as natively (strace
-c), where its default one lets a worker sometimes read again before the next request is
there (a read that finds nothing, a decision more). Prints the native count, the library's,
the extra, and the extra by part of the library (user space only: the kernel's share of a system
call is not counted). The request head scan and the decisions are shown with what they call
in libc; the rest is the library's own instructions.

    per_request.py [--build-dir build] [--lib LIB] [--requests N1,N2]
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

RULE = """
[fault.bench-{hook}]
hook = {hook}
action = delay
delay = 1us
rate = 0.0001%
select = request
"""
RULES = "[mlchaos]\nseed = 42\nlog = {log}\n" + "".join(RULE.format(hook=h) for h in ("send", "read"))

# Entry points whose inclusive cost is reported on its own (libc calls they make included).
ENTRIES = [("request head scan", "mc_reqkey_scan"), ("decisions", "mc_engine_decide")]
LIBRARY = "libmlchaos.so"


def run(tmp, build, lib, n):
    """Total instructions of one server run that answered n requests."""
    out = os.path.join(tmp, f"cg-{'lib' if lib else 'native'}-{n}.out")
    ready = os.path.join(tmp, "ready")
    if os.path.exists(ready):
        os.unlink(ready)
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith("MLCHAOS_")}
    if lib:
        env.update(LD_PRELOAD=lib, MLCHAOS_CONFIG=os.path.join(tmp, "rules.ini"))
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--fair-sched=yes", f"--callgrind-out-file={out}",
         os.path.join(build, "test-harness", "mlchaos-model-server"), "--model",
         os.path.join(tmp, "model.bin"), "--port", "0", "--threads", "2", "--ready-file", ready,
         "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (os.path.exists(ready) and open(ready).read().strip().isdigit()):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("per_request.py: the server did not start under callgrind")
            time.sleep(0.1)
        port = open(ready).read().strip()
        subprocess.run([os.path.join(build, "test-harness", "mlchaos-load"), "--port", port,
                        "-n", str(n), "-c", "1", "--json"], check=True,
                       stdout=subprocess.DEVNULL)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
    return out


def annotate(path, inclusive):
    """{(file:function, object): instructions} of a callgrind file, self or inclusive."""
    args = ["callgrind_annotate", "--threshold=100"] + (["--inclusive=yes"] if inclusive else [])
    text = subprocess.run(args + [path], stdout=subprocess.PIPE, text=True, check=True).stdout
    return {(m.group(2), m.group(3)): int(m.group(1).replace(",", ""))
            for m in re.finditer(r"^\s*([\d,]+) \([ \d.]+%\)\s+(\S+) \[(\S+)\]$", text, re.M)}


def total(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return int(re.search(r"^totals: (\d+)", f.read(), re.M).group(1))


def calls_of(path, function):
    """Calls of function recorded in a callgrind file (names are compressed: "(id) name" once,
    "(id)" after)."""
    names, count, target = {}, 0, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if m:
                if m.group(3):
                    names[m.group(2)] = m.group(3)
                target = names.get(m.group(2)) if m.group(1) == "cfn" else None
            elif line.startswith("calls=") and target == function:
                count += int(line[6:].split()[0])
    return count


def difference(a, b, n):
    """What run b did more than run a, over n requests: the total, the inclusive cost and the
    calls of each entry point, and the library's own instructions outside them."""
    out = {"total": (total(b) - total(a)) / n}
    incl = [annotate(p, True) for p in (a, b)]
    selfc = [annotate(p, False) for p in (a, b)]

    def lib_sum(table, pick):
        return sum(v for (fn, obj), v in table.items() if obj.endswith(LIBRARY) and pick(fn))

    for title, fn in ENTRIES:
        inc = [lib_sum(t, lambda f, fn=fn: f.endswith(":" + fn)) for t in incl]
        out[title] = (inc[1] - inc[0]) / n
        out[title + " calls"] = (calls_of(b, fn) - calls_of(a, fn)) / n
    inside = ("shim/reqkey.c:", "shim/engine/", "xxhash.h:")
    rest = [lib_sum(t, lambda f: not any(mark in f for mark in inside)) for t in selfc]
    out["the rest of the library"] = (rest[1] - rest[0]) / n
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--lib", help="the library (default BUILD/shim/libmlchaos.so)")
    ap.add_argument("--requests", default="500,2500")
    a = ap.parse_args()
    build = os.path.abspath(a.build_dir)
    lib = os.path.abspath(a.lib or os.path.join(build, "shim", "libmlchaos.so"))
    n1, n2 = (int(x) for x in a.requests.split(","))
    with tempfile.TemporaryDirectory(prefix="mc-per-request-") as tmp:
        subprocess.run([os.path.join(build, "test-harness", "mlchaos-gen"), "-o",
                        os.path.join(tmp, "model.bin"), "--quiet"], check=True)
        with open(os.path.join(tmp, "rules.ini"), "w") as f:
            f.write(RULES.replace("{log}", os.path.join(tmp, "events-%p.jsonl")))
        native = difference(run(tmp, build, None, n1), run(tmp, build, None, n2), n2 - n1)
        lib_runs = (run(tmp, build, lib, n1), run(tmp, build, lib, n2))
        with_lib = difference(*lib_runs, n2 - n1)
    extra = with_lib["total"] - native["total"]
    print(f"instructions per request: native {native['total']:,.0f}, with the library "
          f"{with_lib['total']:,.0f}, extra {extra:,.0f}")
    for title, fn in ENTRIES:
        print(f"  {with_lib[title]:8,.0f}  {title} ({fn}, inclusive; "
              f"{with_lib[title + ' calls']:.2f} calls a request)")
    print(f"  {with_lib['the rest of the library']:8,.0f}  the rest of the library (its own "
          f"instructions: hooks, glue, request keys)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
