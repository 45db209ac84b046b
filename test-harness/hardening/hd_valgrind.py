#!/usr/bin/python3
"""valgrind (memcheck) on the reference model server under the library, rules armed, load from
mlchaos-load: no memcheck error whose stack passes through the library, no definite leak of
memory the library itself allocated, and the server answers and stops cleanly.

The server (build/test-harness/mlchaos-model-server) runs under memcheck with libmlchaos.so
preloaded and five rules on different families (a send delay selected by request, short socket
reads, failed allocations while serving, an open delay on the model, an mmap rule for sizes
the server never maps); memcheck replaces malloc in libc only (somalloc=nouserintercepts), so the
library's malloc hooks stay in the path. 1,000 requests on 2 connections: scaled down from the
harness's loads, memcheck runs threads one at a time some 50 times slower.
"""

import argparse
import json
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402

CONFIG = """\
[mlchaos]
seed = 21
log = {log}

[fault.slow-send]
hook = send
action = delay
delay = 1ms
rate = 10%
select = request

[fault.short-recv]
hook = read
action = short
max_bytes = 64
rate = 2%
select = call

[fault.alloc]
hook = malloc
action = fail
min_size = 1KiB
rate = 1%
phase = serve
select = call

[fault.open-model]
hook = open
action = delay
delay = 1ms
path = */model.bin

[fault.huge-maps]
hook = mmap
action = fail
min_size = 1GiB
"""
ALLOCATORS = ("malloc", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
              "memalign", "valloc", "pvalloc")
REQUESTS = 1000


def records(text):
    """memcheck's error and loss records: blocks separated by a bare '==PID== ' line."""
    return [b for b in re.split(r"\n==\d+== \n", text) if re.search(r"(at|by) 0x", b)]


def frames(block):
    return re.findall(r"(?:at|by) 0x[0-9A-F]+: (\S+) \((?:in )?([^)]*)\)", block)


def in_library(where):
    return "libmlchaos" in where or re.search(r"/(shim|config)/", where) is not None


def library_errors(text):
    """Error records (not loss records) with a frame in the library."""
    return [b for b in records(text) if "loss record" not in b
            and any(in_library(w) for _, w in frames(b))]


def library_leaks(text):
    """Definite loss records of memory the library's own code allocated: a library frame that
    is not one of the interposed allocator entry points (through which every allocation of the
    server passes)."""
    out = []
    for b in records(text):
        if "definitely lost" not in b:
            continue
        if any(in_library(w) and fn not in ALLOCATORS for fn, w in frames(b)):
            out.append(b)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--valgrind", default="")
    ap.add_argument("--sanitize", action="store_true")
    a = ap.parse_args()
    if a.sanitize:
        mctest.skip("valgrind cannot run ASan-instrumented programs; the normal build runs this")
    if not a.valgrind or not os.access(a.valgrind, os.X_OK):
        mctest.skip("valgrind is not installed (Debian: apt-get install valgrind)")
    return mctest.in_tmpdir("mlchaos-hd-valgrind-", lambda tmp: run(a, tmp))


def run(a, tmp):
    model, data = os.path.join(tmp, "model.bin"), os.path.join(tmp, "data.jsonl")
    subprocess.run([a.gen, "-o", model, "--dataset", data, "--samples", "64", "--quiet"],
                   check=True, timeout=60)
    cfg, log = os.path.join(tmp, "chaos.ini"), os.path.join(tmp, "vg-%p.jsonl")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(log=log))
    vglog, ready = os.path.join(tmp, "memcheck.log"), os.path.join(tmp, "ready")
    argv = [a.valgrind, "--tool=memcheck", "--error-exitcode=99",
            "--soname-synonyms=somalloc=nouserintercepts", "--leak-check=full",
            "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
            "--num-callers=40", "--fullpath-after=", "--log-file=" + vglog,
            a.server, "--model", model, "--port", "0", "--ready-file", ready,
            "--threads", "2", "--watch-ms", "0", "--quiet"]
    env = mctest.clean_env({"LD_PRELOAD": os.path.abspath(a.lib),
                            "MLCHAOS_CONFIG": cfg})
    p = mctest.Proc(argv, env, os.path.join(tmp, "server.stderr"))
    try:
        port = mctest.poll(lambda: os.path.exists(ready) and open(ready).read().strip(), 120)
        if not mctest.check(bool(port), "the server under memcheck is listening"):
            print(p.stderr()[-3000:], file=sys.stderr)
            return
        ld = subprocess.run([a.load, "--port", port, "-n", str(REQUESTS), "-c", "2",
                             "--dataset", data, "--timeout-ms", "30000", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        rc = p.stop(120)
    rep = json.loads(ld.stdout) if ld.returncode == 0 and ld.stdout.strip() else {}
    print(f"load: {ld.stdout.strip()[:400]}")
    mctest.check(rep.get("ok", 0) + rep.get("error_total", 0) == REQUESTS and rep.get("ok", 0) > 0,
                 f"the load ran: {rep.get('ok')} answered, {rep.get('error_total')} errors")
    text = open(vglog, encoding="utf-8", errors="replace").read() if os.path.exists(vglog) else ""
    summary = re.findall(r"ERROR SUMMARY: .*", text)
    print(f"memcheck: {summary[-1] if summary else 'no summary'}; server exit {rc}")
    mctest.check(bool(summary), "memcheck finished and summarized")
    mctest.check(rc in (0, 99), f"the server stopped on SIGTERM (exit {rc})")
    errs, leaks = library_errors(text), library_leaks(text)
    for b in errs + leaks:
        print(b, file=sys.stderr)
    mctest.check(not errs, f"no memcheck error through the library ({len(errs)})")
    mctest.check(not leaks, f"no definite leak of the library's own memory ({len(leaks)})")
    if rc == 99 and not errs and not leaks:
        print("note: memcheck reported errors outside the library:\n" + text[-4000:])
    lines = []
    for name in os.listdir(tmp):
        if name.startswith("vg-") and name.endswith(".jsonl"):
            lines += mctest.read_log(os.path.join(tmp, name), mctest.fail)
    rules = sorted({l["rule"] for l in lines})
    print(f"faults logged: {len(lines)} ({rules})")
    mctest.check({"slow-send", "short-recv", "open-model"} <= set(rules),
                 "the rules acted under memcheck")


if __name__ == "__main__":
    sys.exit(main())
