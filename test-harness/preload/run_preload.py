#!/usr/bin/python3
"""Runs one preload test program three ways and compares them.

1. plain, 2. with libmlchaos.so in LD_PRELOAD and no config, 3. under
`mlchaos trace --json FILE`. Each run gets a fresh work directory (same path)
holding data.bin. The program's transcript (stdout without its "proc",
"expect" and "absent" lines) and its stderr must be identical in runs 1 and 2,
and the transcript identical in run 3. Then the JSON of run 3 must hold one
object per process the program declared ("proc PID PPID"), with exactly the
calls and bytes it declared ("expect PID FN TARGET CALLS BYTES") and none of
the rows it declared absent ("absent PID FN|* TARGET"), and the human table on
stderr must show the same rows.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctrace  # noqa: E402
from mctest import check, clean_env, fail, finish, skip  # noqa: E402

DATA_SIZE = 65536
TIMEOUT_S = 60


def pattern(n):
    return bytes(((i * 131 + 7 + (i >> 8)) & 0xFF) for i in range(n))


def fresh_workdir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(os.path.join(path, "sub"))
    with open(os.path.join(path, "data.bin"), "wb") as f:
        f.write(pattern(DATA_SIZE))


def split_output(stdout):
    transcript, procs, expects, absents = [], {}, [], []
    for line in stdout.decode("utf-8", "replace").splitlines():
        w = line.split(" ")
        if w[0] == "proc" and len(w) == 3:
            procs[int(w[1])] = int(w[2])
        elif w[0] == "expect" and len(w) >= 6:
            pid, fn = int(w[1]), w[2]
            target = " ".join(w[3:-2])
            expects.append((pid, fn, target, int(w[-2]), int(w[-1])))
        elif w[0] == "absent" and len(w) >= 4:
            absents.append((int(w[1]), w[2], " ".join(w[3:])))
        else:
            transcript.append(line)
    return transcript, procs, expects, absents


def status_text(rc):
    if rc < 0:
        return f"killed by {signal.Signals(-rc).name}"
    return f"exit {rc}"


class Runner:
    def __init__(self, args):
        self.args = args
        self.base_env = clean_env(dict(kv.partition("=")[::2] for kv in args.env))

    def run(self, label, argv, env, workdir, want_rc):
        fresh_workdir(workdir)
        try:
            p = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            fail(f"{label}: no exit within {TIMEOUT_S} s")
            return None
        err = p.stderr.decode("utf-8", "replace")
        check(p.returncode in want_rc,
              f"{label}: {status_text(p.returncode)}, expected "
              + " or ".join(status_text(r) for r in want_rc)
              + f"\n--- stderr of {label}:\n{err}")
        return p

    def preload_env(self):
        env = dict(self.base_env)
        env["LD_PRELOAD"] = ":".join(self.args.preload_before + [self.args.lib])
        return env

    def trace_env(self):
        env = dict(self.base_env)
        if self.args.preload_before:
            env["LD_PRELOAD"] = ":".join(self.args.preload_before)
        return env

    def main(self):
        a = self.args
        prog = os.path.abspath(a.prog)
        tmp = tempfile.mkdtemp(prefix="mlchaos-preload-")
        try:
            workdir = os.path.join(tmp, "wd")
            argv = [prog, workdir] + a.arg
            want = [a.status]
            # `mlchaos trace` reports a child killed by signal N as 128+N.
            want_trace = [a.status] + ([128 - a.status] if a.status < 0 else [])
            plain = self.run("plain run", argv, self.base_env, workdir, want)
            pre = self.run("preloaded run", argv, self.preload_env(), workdir, want)
            jpath = os.path.join(tmp, "trace.json")
            tr = self.run("traced run",
                          [a.mlchaos, "trace", "--json", jpath, "--"] + argv,
                          self.trace_env(), workdir, want_trace)
            if None in (plain, pre, tr):
                return finish()
            self.compare(plain, pre, tr)
            self.check_trace(tr, jpath, prog)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return finish(f"{os.path.basename(prog)} {' '.join(a.arg)}".rstrip())

    def compare(self, plain, pre, tr):
        t_plain = split_output(plain.stdout)[0]
        t_pre = split_output(pre.stdout)[0]
        t_tr = split_output(tr.stdout)[0]
        check(t_plain, "the program printed a transcript")
        for label, t in (("preloaded", t_pre), ("traced", t_tr)):
            check(t == t_plain, f"{label} transcript differs from the plain one:\n"
                  + mctrace.diff(t_plain, t, "plain", label))
        check(pre.stderr == plain.stderr,
              "stderr differs with the library preloaded (it must be silent "
              "without a config):\n" + mctrace.diff(
                  plain.stderr.decode(errors="replace").splitlines(),
                  pre.stderr.decode(errors="replace").splitlines(),
                  "plain", "preloaded"))

    def check_trace(self, tr, jpath, prog):
        _, procs, expects, absents = split_output(tr.stdout)
        if not check(procs, "the traced program declared a process"):
            return
        objs = mctrace.load_json(jpath, fail)
        by_pid = mctrace.index_by_pid(objs, fail)
        check(set(by_pid) == set(procs),
              f"trace JSON has processes {sorted(by_pid)}, the program ran {sorted(procs)}")
        name = os.path.basename(prog)
        for pid, ppid in procs.items():
            obj = by_pid.get(pid)
            if obj is None:
                continue
            check(ppid == 0 or obj.get("ppid") == ppid,  # 0: reparented before its exit
                  f"pid {pid}: ppid {obj.get('ppid')}, expected {ppid}")
            check(str(obj.get("argv0", "")).endswith(name),
                  f"pid {pid}: argv0 {obj.get('argv0')!r}, expected {name!r}")
        for pid, fn, target, calls, nbytes in expects:
            row = mctrace.find_row(by_pid.get(pid), fn, target)
            if check(row is not None, f"pid {pid}: no row fn={fn} target={target} (expected "
                     f"calls={calls} bytes={nbytes}); rows:\n"
                     + mctrace.show_rows(by_pid.get(pid))):
                check((row.get("calls"), row.get("bytes")) == (calls, nbytes),
                      f"pid {pid}: {fn} {target}: calls={row.get('calls')} "
                      f"bytes={row.get('bytes')}, expected calls={calls} bytes={nbytes}")
        for pid, fn, target in absents:
            for row in (by_pid.get(pid) or {}).get("calls", []):
                check(row.get("target") != target or fn not in ("*", row.get("fn")),
                      f"pid {pid}: unexpected row {json.dumps(row)} (it belongs "
                      "to another process)")
        mctrace.check_table(tr.stderr.decode("utf-8", "replace"), by_pid, fail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", required=True, help="libmlchaos.so")
    ap.add_argument("--mlchaos", required=True, help="the mlchaos command")
    ap.add_argument("--arg", action="append", default=[],
                    help="extra argument for the program, after the work directory")
    ap.add_argument("--status", type=int, default=0,
                    help="expected exit status (negative: killed by that signal)")
    ap.add_argument("--preload-before", action="append", default=[],
                    help="library to put before libmlchaos.so in LD_PRELOAD "
                         "(the ASan runtime in sanitizer builds)")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    ap.add_argument("--skip", metavar="REASON", help="skip (exit 77), saying why")
    ap.add_argument("prog")
    a = ap.parse_args()
    if a.skip:
        skip(a.skip)
    sys.exit(Runner(a).main())


if __name__ == "__main__":
    main()
