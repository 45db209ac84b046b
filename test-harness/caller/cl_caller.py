#!/usr/bin/python3
"""caller = / not_caller = and the dynamic loader's allocations, through the real library.

cl_prog (cl_prog.c) dlopens libfoo.so and libbar.so (one source, cl_lib.c) and allocates
10000 bytes 8 times from each and from itself; then dlcloses libfoo.so and dlopens libbaz.so,
which tends to land at the same address. Under `caller = libfoo*` only libfoo's allocations
fail, and every fault line of the log names libfoo.so as its caller; libbaz.so, even where
libfoo.so was, is itself. Under `not_caller = libfoo*`, the others fail and libfoo's do not.
Sleeps too: under a sleep rule with `caller = libfoo*`, libfoo's nanosleep fails and no
other does. Then libcltls.so, whose thread-local block is 9000 bytes: a new thread's first touch makes the
loader allocate it with malloc. A rule without caller that would fail it spares it (glibc
aborts the process over it) and says so in one log line; `caller = ld-linux*` aims at the
loader on purpose, and the process dies as glibc makes it.
"""

import argparse
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mctest import check, clean_env, finish, note, preload, read_log  # noqa: E402
from mctest import fail as mc_fail  # noqa: E402

RULE = """[mlchaos]
log = {log}

[fault.aimed]
hook = {hook}
action = fail
select = call
{extra}
"""


def run(a, tmp, name, extra, command, lo=10000, hi=10000, hook="malloc"):
    """Runs cl_prog COMMAND LIBDIR under one rule (a malloc rule: of sizes lo to hi):
    (returncode, {word: number}, stderr, the log's lines)."""
    if hook == "malloc":
        extra = f"min_size = {lo}\nmax_size = {hi}\n{extra}"
    log = os.path.join(tmp, name + ".log")
    cfg = os.path.join(tmp, name + ".ini")
    with open(cfg, "w") as f:
        f.write(RULE.format(log=log, hook=hook, extra=extra))
    env = clean_env({"LD_PRELOAD": preload(a.lib, a.preload_before), "MLCHAOS_CONFIG": cfg})
    env.update(dict(kv.partition("=")[::2] for kv in a.env))
    p = subprocess.run([a.prog, command, a.libdir], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    said = {}
    for line in p.stdout.splitlines():
        w = line.split()
        if len(w) == 2:
            said[w[0]] = int(w[1])
    return p.returncode, said, p.stderr, read_log(log, mc_fail)


def faults(lines):
    return [e for e in lines if e.get("event") == "fault"]


def aimed(a, tmp):
    rc, said, err, lines = run(a, tmp, "aimed", "caller = libfoo*", "libs")
    check(rc == 0, f"caller = libfoo*: cl_prog exits 0 (got {rc}: {err.strip()})")
    check(said.get("foo") == 8, f"caller = libfoo*: libfoo's 8 allocations fail: {said}")
    check(said.get("bar") == 0, f"caller = libfoo*: libbar's allocations pass: {said}")
    check(said.get("prog") == 0, f"caller = libfoo*: the program's allocations pass: {said}")
    check(said.get("baz") == 0,
          f"caller = libfoo*: libbaz.so, loaded after libfoo.so was closed, passes: {said}")
    note(f"libbaz.so loaded where libfoo.so was: {bool(said.get('same_address'))}")
    got = faults(lines)
    check(len(got) == 8, f"caller = libfoo*: 8 fault lines (got {len(got)})")
    callers = {e.get("caller") for e in got}
    check(callers == {"libfoo.so"}, f"caller = libfoo*: every fault line's caller is "
                                    f"libfoo.so (got {callers})")


def not_aimed(a, tmp):
    rc, said, err, lines = run(a, tmp, "not", "not_caller = libfoo*", "libs")
    check(rc == 0, f"not_caller = libfoo*: cl_prog exits 0 (got {rc}: {err.strip()})")
    check(said.get("foo") == 0, f"not_caller = libfoo*: libfoo's allocations pass: {said}")
    check(said.get("bar") == 8 and said.get("prog") == 8 and said.get("baz") == 8,
          f"not_caller = libfoo*: libbar's, the program's and libbaz's fail: {said}")
    callers = {e.get("caller") for e in faults(lines)}
    check(callers == {"libbar.so", "cl_prog", "libbaz.so"},
          f"not_caller = libfoo*: the fault lines name libbar.so, cl_prog and libbaz.so "
          f"(got {callers})")


def naps(a, tmp):
    rc, said, err, lines = run(a, tmp, "naps", "caller = libfoo*", "naps", hook="sleep")
    check(rc == 0, f"sleep, caller = libfoo*: cl_prog exits 0 (got {rc}: {err.strip()})")
    check(said.get("foo") == 8 and said.get("bar") == 0 and said.get("prog") == 0,
          f"sleep, caller = libfoo*: libfoo's 8 sleeps fail, no other: {said}")
    callers = {e.get("caller") for e in faults(lines)}
    check(callers == {"libfoo.so"}, f"sleep, caller = libfoo*: the fault lines name libfoo.so "
                                    f"(got {callers})")


def loader_spared(a, tmp):
    rc, said, err, lines = run(a, tmp, "spared", "", "tls", lo="8KiB", hi="12KiB")
    check(rc == 0, f"no caller: the process lives through its thread's TLS block (got {rc}: "
                   f"{err.strip()})")
    check(said.get("tls") == 42, f"no caller: the thread touched its TLS block: {said}")
    check(said.get("prog") == 8, f"no caller: the program's own allocations fail: {said}")
    spared = [e for e in lines if e.get("event") == "loader_spared"]
    check(len(spared) == 1, f"no caller: one loader_spared line (got {len(spared)})")
    if spared:
        check(spared[0].get("caller", "").startswith("ld-linux") and
              spared[0].get("rule") == "aimed" and spared[0].get("size", 0) >= 9000,
              f"no caller: the loader_spared line names the loader, rule and size: {spared[0]}")
    callers = {e.get("caller") for e in faults(lines)}
    check(callers == {"cl_prog"}, f"no caller: only the program's allocations failed "
                                  f"(got {callers})")


def loader_aimed(a, tmp):
    rc, said, err, lines = run(a, tmp, "loader", "caller = ld-linux*", "tls", lo="8KiB",
                               hi="12KiB")
    check(rc != 0 and "thread-local data" in err,
          f"caller = ld-linux*: the loader's allocation fails and glibc ends the process "
          f"(got {rc}: {err.strip()})")
    callers = {e.get("caller", "") for e in faults(lines)}
    check(len(callers) == 1 and callers.pop().startswith("ld-linux"),
          f"caller = ld-linux*: the fault line names the loader")
    check(not [e for e in lines if e.get("event") == "loader_spared"],
          "caller = ld-linux*: nothing spared")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--prog", required=True)
    ap.add_argument("--libdir", required=True)
    ap.add_argument("--preload-before", default="", help="a sanitizer's runtime, first")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    ap.add_argument("--no-malloc", metavar="WHY",
                    help="run only the sleep case: no allocation reaches the library")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mc-caller-") as tmp:
        naps(a, tmp)
        if a.no_malloc:
            note(f"the malloc cases are not run: {a.no_malloc}")
        else:
            aimed(a, tmp)
            not_aimed(a, tmp)
            loader_spared(a, tmp)
            loader_aimed(a, tmp)
    return finish("caller")


if __name__ == "__main__":
    sys.exit(main())
