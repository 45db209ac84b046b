#!/usr/bin/python3
"""Instructions the library adds to one request of the reference server under `select = request`
rules (a delay rule on read and one on send, at 0.0001%: the key is looked for, hashed and
decided on every request, and next to none is selected), counted exactly under valgrind's
callgrind. The server (one worker thread: with two, how often a worker reads again before
the next request is there moves from run to run) runs natively, with the library idle
(preloaded, its one rule on a family no request uses and keys taken from threads: what any
rule costs the request's other calls, malloc and free among them), and with the two rules;
each for N1 and for N2 requests of `mlchaos-load -c 1`: the difference of the two runs'
totals over N2 - N1 cancels the start and the end, so the figure is per request. A request
costs the server a read that brings it, a send and a read that finds nothing more, as
natively (strace -c). The path of `select = request` is what the rules add over the idle
library, counted in the library's own instructions: those executed in its code (inlined
parts included) and in the libc string functions and errno look-ups it calls, read from
callgrind's call graph, not what its real calls do (the server's own work moves the totals by
a few hundred between runs, not those). Prints the counts, the path's cost and its parts
(user space only: the kernel's share of a system call is not counted): the key (the head
scanned, the key kept for the connection and the thread), the decisions made once a request
when the key is new, those made per call, and the rest (the hooks' own instructions: the
express memo each call is let through by). Each setup runs --runs times; the run whose path
is the median is shown, and every run's path.

    per_request.py [--build-dir build] [--lib LIB] [--requests N1,N2] [--runs N]
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
# The library idle: a rule on a family the server does not use per request, keys not scanned.
IDLE = "[mlchaos]\nseed = 42\nrequest_key = thread\nlog = {log}\n" + RULE.format(hook="sleep")

# Entry points whose inclusive cost is reported on its own (libc calls they make included).
ENTRIES = [("the key: head scanned, key kept", "mc_request_on_read"),
           ("decisions once a request, when the key is new", "mc_fault_foresee"),
           ("decisions per call", "mc_engine_decide")]
LIBRARY = "libmlchaos.so"


def run(tmp, build, lib, rules, n):
    """Total instructions of one server run that answered n requests under rules."""
    with open(os.path.join(tmp, "rules.ini"), "w") as f:
        f.write(rules.replace("{log}", os.path.join(tmp, "events-%p.jsonl")))
    out = os.path.join(tmp, f"cg-{'native' if not lib else 'idle' if rules is IDLE else 'lib'}-{n}.out")
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
         os.path.join(tmp, "model.bin"), "--port", "0", "--threads", "1", "--ready-file", ready,
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
    """{(file:function, object): instructions} of a callgrind file, self or inclusive. Entries
    without an object come as ""."""
    args = ["callgrind_annotate", "--threshold=100"] + (["--inclusive=yes"] if inclusive else [])
    text = subprocess.run(args + [path], stdout=subprocess.PIPE, text=True, check=True).stdout
    return {(m.group(2), m.group(3) or ""): int(m.group(1).replace(",", ""))
            for m in re.finditer(r"^\s*([\d,]+) \([ \d.]+%\)\s+(\S+)(?: \[(\S+)\])?$", text,
                                 re.M)}


# libc functions the library calls for its own work (its real calls are the host's work).
HELPERS = re.compile(r"^_*(mem(cmp|cpy|move|set|chr|rchr)|str(n?len|n?cmp|r?chr|n?casecmp)"
                     r"|errno_location)")


def records(path):
    """The cost lines of a callgrind file: (object, function, None, 0, cost) for a line of the
    function's own, and (object, function, (callee object, callee), calls, cost) for a call,
    whose inclusive cost is the line after its `calls=`. Names are compressed: "(id) name"
    once, "(id)" after; a call's cob= names the callee's object, else the caller's."""
    names = {"ob": {}, "fn": {}}
    ob = fn = cob = cfn = None
    calls = None
    spec = re.compile(r"^(c?)(ob|fn)=\((\d+)\)(?: (.*))?$")
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = spec.match(line.rstrip("\n"))
            if m:
                callee, kind, ident, name = m.groups()
                if name:
                    names[kind][ident] = name
                value = names[kind].get(ident)
                if kind == "ob":
                    cob, ob = (value, ob) if callee else (None, value)
                elif callee:
                    cfn = value
                else:
                    fn = value
                continue
            if line.startswith("calls="):
                calls = int(line[6:].split()[0])
                continue
            if not line[:1].isdigit() and line[:1] not in ("+", "-", "*"):
                continue
            cost = int(line.split()[-1])
            if calls is None:
                yield ob, fn, None, 0, cost
            else:
                yield ob, fn, (cob if cob is not None else ob, cfn), calls, cost
                calls, cob = None, None


def library_cost(path):
    """Instructions executed in the library's code in a callgrind file, and in the libc helpers
    it called."""
    cost = 0
    for ob, _, callee, _, c in records(path):
        if not (ob or "").endswith(LIBRARY):
            continue
        if callee is None:
            cost += c
        elif not (callee[0] or "").endswith(LIBRARY) and HELPERS.match(callee[1] or ""):
            cost += c
    return cost


def total(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return int(re.search(r"^totals: (\d+)", f.read(), re.M).group(1))


def calls_of(path, function):
    """Calls of function recorded in a callgrind file."""
    return sum(n for _, _, callee, n, _ in records(path) if callee and callee[1] == function)


def difference(a, b, n):
    """What run b did more than run a, over n requests: the total, and the inclusive cost and
    the calls of each entry point."""
    out = {"total": (total(b) - total(a)) / n,
           "library": (library_cost(b) - library_cost(a)) / n}
    incl = [annotate(p, True) for p in (a, b)]

    def inclusive(table, fn):
        """A function's inclusive cost. One with lines from a header's inline functions gets
        an entry per file, and one for them all, under its file's full path and no object:
        the largest is the whole (the entry points' names are the library's alone)."""
        return max((v for (name, obj), v in table.items()
                    if (obj.endswith(LIBRARY) or not obj) and name.endswith(":" + fn)), default=0)

    for title, fn in ENTRIES:
        inc = [inclusive(t, fn) for t in incl]
        out[title] = (inc[1] - inc[0]) / n
        out[title + " calls"] = (calls_of(b, fn) - calls_of(a, fn)) / n
    return out


def median(values):
    return sorted(values)[len(values) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--lib", help="the library (default BUILD/shim/libmlchaos.so)")
    ap.add_argument("--requests", default="500,2500")
    ap.add_argument("--runs", type=int, default=3, help="runs of each setup; medians shown")
    a = ap.parse_args()
    build = os.path.abspath(a.build_dir)
    lib = os.path.abspath(a.lib or os.path.join(build, "shim", "libmlchaos.so"))
    n1, n2 = (int(x) for x in a.requests.split(","))
    runs = []
    with tempfile.TemporaryDirectory(prefix="mc-per-request-") as tmp:
        subprocess.run([os.path.join(build, "test-harness", "mlchaos-gen"), "-o",
                        os.path.join(tmp, "model.bin"), "--quiet"], check=True)

        def per_request(lib_or_none, rules):
            return difference(run(tmp, build, lib_or_none, rules, n1),
                              run(tmp, build, lib_or_none, rules, n2), n2 - n1)

        for _ in range(max(1, a.runs)):
            runs.append({"native": per_request(None, RULES), "idle": per_request(lib, IDLE),
                         "ruled": per_request(lib, RULES)})
    for r in runs:
        r["path"] = r["ruled"]["library"] - r["idle"]["library"]
    # the run whose path is the median stands for all: its parts add up to its path
    mid = sorted(runs, key=lambda r: r["path"])[len(runs) // 2]
    native, idle, ruled, path = mid["native"], mid["idle"], mid["ruled"], mid["path"]
    print(f"instructions per request: native {native['total']:,.0f}, the library idle "
          f"{idle['total']:,.0f} (+{idle['total'] - native['total']:,.0f}), with the two "
          f"select = request rules {ruled['total']:,.0f} "
          f"(+{ruled['total'] - native['total']:,.0f})")
    print(f"the library's own: idle {idle['library']:,.0f}, with the rules "
          f"{ruled['library']:,.0f} a request")
    print(f"the path of select = request: {path:,.0f} a request, over the idle library")
    parts = 0.0
    for title, fn in ENTRIES:
        parts += ruled[title]
        print(f"  {ruled[title]:8,.0f}  {title} ({fn}, inclusive; "
              f"{ruled[title + ' calls']:.2f} calls a request)")
    print(f"  {path - parts:8,.0f}  the rest: the hooks, their express memo, the pipeline")
    print(f"the median of {len(runs)} runs; the path in each: "
          + ", ".join(f"{r['path']:,.0f}" for r in runs) + "; the rules over native: "
          + ", ".join(f"+{r['ruled']['total'] - r['native']['total']:,.0f}" for r in runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
