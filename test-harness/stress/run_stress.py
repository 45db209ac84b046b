#!/usr/bin/python3
"""Runs the stress program (8 threads of mixed hooked calls) with libmlchaos.so.

--mode preload: plain, then preloaded with no config, then traced
  (MLCHAOS_TRACE=1): the three outputs must be identical (the program's counts
  depend only on its seeds), and the trace must count exactly the reads,
  preads, sends, recvs and mmaps the program made, and at least its
  allocations (libc allocates too). In a sanitizer build the program and the
  library carry ASan+UBSan, so this is the ASan+UBSan run.
--mode valgrind: the same program under memcheck, preloaded and then traced,
  with a smaller count (valgrind runs threads one at a time, ~50x slower),
  memcheck's allocator beneath the shim's malloc (somalloc=nouserintercepts):
  no memory error, no leak, and no loss record of any kind whose allocation
  was made by the library's own code.

ASan and the preload order: ASan's runtime must come first among a process's
libraries (it maps its shadow memory in its own initialiser; instrumented
shim code run earlier, e.g. the shim's malloc called by ld.so while ASan's
interceptors are being resolved, faults on the shadow). So the runs preload
"libasan.so:libmlchaos.so". ASan's interceptors find the shim's read, send,
mmap... through their RTLD_NEXT lookups, so those calls do pass through the
shim; ASan's own allocator shadows the shim's malloc family, so under ASan
the allocation counts are not checked against the trace.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mctest import (SANITIZER_ENV, check, clean_env, cpu_ticks, fail, failures,  # noqa: E402
                    finish, skip)

# Under a sanitizer on a busy machine a run takes minutes: it is waited for as long as it
# uses CPU, and a hang is a minute without any; meson's timeout bounds the rest.
IDLE_S = 60


class Stress:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="mlchaos-stress-")
        self.data = os.path.join(self.tmp, "data.bin")
        self.env = clean_env(SANITIZER_ENV if a.sanitize else None)

    def argv(self):
        return [self.a.prog, "-t", str(self.a.threads), "-n", str(self.a.calls), self.data]

    def run(self, label, argv, extra_env):
        env = dict(self.env)
        env.update(extra_env)
        p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        last, since = cpu_ticks(p.pid), time.monotonic()
        while True:
            try:
                out, err = p.communicate(timeout=5)
                break
            except subprocess.TimeoutExpired:
                now = cpu_ticks(p.pid)
                if now != last:
                    last, since = now, time.monotonic()
                elif time.monotonic() - since > IDLE_S:
                    p.kill()
                    p.communicate()
                    fail(f"{label}: no CPU time used for {IDLE_S} s: hung")
                    return None
        p = subprocess.CompletedProcess(argv, p.returncode, out, err)
        if not check(p.returncode == 0, f"{label}: exit {p.returncode}\n--- stdout:\n{p.stdout}"
                     f"--- stderr:\n{p.stderr[-6000:]}"):
            return None
        print(f"{label}: {p.stdout.splitlines()[0] if p.stdout else '(no output)'}")
        return p

    def preload(self):
        first = [self.a.asan_runtime] if self.a.sanitize and self.a.asan_runtime else []
        return ":".join(first + [self.a.lib])

    def traced_env(self, jpath):
        return {"LD_PRELOAD": self.preload(), "MLCHAOS_TRACE": "1",
                "MLCHAOS_TRACE_JSON": jpath}

    @staticmethod
    def ops(stdout):
        """op name -> (calls, bytes) from the program's "op NAME CALLS BYTES" lines."""
        out = {}
        for line in stdout.splitlines():
            w = line.split()
            if len(w) == 4 and w[0] == "op":
                out[w[1]] = (int(w[2]), int(w[3]))
        return out

    def check_trace(self, jpath, stdout):
        ops = self.ops(stdout)
        try:
            with open(jpath, encoding="utf-8") as f:
                objs = [json.loads(line) for line in f if line.strip()]
        except (OSError, ValueError) as e:
            fail(f"trace JSON {jpath}: {e}")
            return
        if not check(len(objs) == 1, f"trace JSON: {len(objs)} objects, expected 1 (one process)"):
            return
        before = failures()
        rows = {(r["fn"], r["target"]): (r["calls"], r["bytes"]) for r in objs[0]["calls"]}
        path = "file:" + os.path.realpath(self.data)
        exact = [("read", path, "read"), ("pread", path, "pread"),
                 ("send", "socket:unix", "send"), ("recv", "socket:unix", "recv"),
                 ("mmap", "anon", "mmap"), ("mmap", path, "mmap_file")]
        for fn, target, op in exact:
            got = rows.get((fn, target), (0, 0))
            check(got == ops.get(op), f"trace {fn} {target}: calls, bytes = {got}; the "
                  f"program made {ops.get(op)}")
        if self.a.sanitize:
            print("trace: allocations not compared: ASan's allocator, preloaded first, "
                  "serves them")
        else:
            # libc allocates too (stdio buffers, thread start-up): at least the program's.
            for fn in ("malloc", "calloc", "realloc"):
                got = rows.get((fn, "anon"), (0, 0))
                want = ops.get(fn, (0, 0))
                check(got[0] >= want[0] and got[1] >= want[1],
                      f"trace {fn} anon: calls, bytes = {got}, fewer than the program's {want}")
        if failures() == before:
            print(f"trace: {len(rows)} rows, counts match the program's")

    def mode_preload(self):
        plain = self.run("plain", self.argv(), {})
        pre = self.run("preloaded", self.argv(), {"LD_PRELOAD": self.preload()})
        jpath = os.path.join(self.tmp, "trace.json")
        tr = self.run("traced", self.argv(), self.traced_env(jpath))
        if None in (plain, pre, tr):
            return
        for label, p in (("preloaded", pre), ("traced", tr)):
            check(p.stdout == plain.stdout, f"{label} output differs from the plain run:\n"
                  f"{plain.stdout}\n---\n{p.stdout}")
        self.check_trace(jpath, tr.stdout)

    def valgrind(self, label, extra_env):
        log = os.path.join(self.tmp, label + ".vg.log")
        # somalloc=nouserintercepts: memcheck replaces malloc only in libc, not in every
        # object defining one; else it takes over the shim's own malloc and the program's
        # allocations would never pass through the shim.
        argv = [self.a.valgrind, "--tool=memcheck", "--error-exitcode=99",
                "--soname-synonyms=somalloc=nouserintercepts",
                "--leak-check=full", "--show-leak-kinds=all",
                "--errors-for-leak-kinds=definite,indirect", "--num-callers=40",
                "--fullpath-after=",
                "--log-file=" + log] + self.argv()
        p = self.run("valgrind " + label, argv, extra_env)
        text = open(log, encoding="utf-8", errors="replace").read() if os.path.exists(log) else ""
        if p is None:
            print(text[-8000:], file=sys.stderr)
            return None
        shim_records = self.shim_loss_records(text)
        check(not shim_records, f"valgrind {label}: memory allocated by libmlchaos itself is "
              "left at exit:\n" + "\n".join(shim_records))
        summary = re.findall(r"ERROR SUMMARY: .*", text)
        print(f"valgrind {label}: {summary[-1] if summary else 'no summary'}; "
              f"{len(shim_records)} loss records from the library")
        return p

    @staticmethod
    def shim_loss_records(text):
        """Loss records (any kind) whose allocation was made by the library's own code.

        Every allocation of the program passes through the library's interposed malloc, so
        a libmlchaos frame right above the allocator is expected; a record is the library's
        when a libmlchaos frame is not one of the interposed allocation entry points, i.e.
        the shim itself called malloc."""
        entries = ("malloc", "calloc", "realloc", "reallocarray", "posix_memalign",
                   "aligned_alloc", "memalign", "valloc", "pvalloc")
        records = []
        for block in re.split(r"\n==\d+== \n", text):
            if "loss record" not in block:
                continue
            for line in block.splitlines():
                m = re.search(r"(?:at|by) 0x[0-9A-F]+: (\S+) \((?:in )?([^)]*)\)", line)
                if not m:
                    continue
                fn, where = m.groups()
                in_shim = "libmlchaos" in where or re.search(r"/(shim|config)/", where)
                if in_shim and fn not in entries:
                    records.append(block)
                    break
        return records

    def mode_valgrind(self):
        if self.a.sanitize:
            skip("valgrind cannot run ASan-instrumented programs; the sanitizer "
                 "build runs stress-preload under ASan+UBSan instead")
        if not self.a.valgrind or not os.access(self.a.valgrind, os.X_OK):
            skip("valgrind is not installed (scripts/setup installs it)")
        self.valgrind("preloaded", {"LD_PRELOAD": self.a.lib})
        jpath = os.path.join(self.tmp, "trace.json")
        p = self.valgrind("traced", self.traced_env(jpath))
        if p is not None:
            self.check_trace(jpath, p.stdout)

    def main(self):
        try:
            if self.a.mode == "valgrind":
                self.mode_valgrind()
            else:
                self.mode_preload()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return finish()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--prog", required=True)
    ap.add_argument("--mode", choices=("preload", "valgrind"), required=True)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--calls", type=int, default=1000000, help="calls per thread")
    ap.add_argument("--sanitize", action="store_true", help="ASan+UBSan build")
    ap.add_argument("--asan-runtime", default="", help="the ASan runtime to preload first")
    ap.add_argument("--valgrind", default="")
    sys.exit(Stress(ap.parse_args()).main())


if __name__ == "__main__":
    main()
