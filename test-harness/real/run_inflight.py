#!/usr/bin/python3
"""Requests in flight, step by step, in one real process: a Python program (Debian's python3,
under `mlchaos run`) that is its own server and client on 127.0.0.1, on one thread, under
`hook = read, action = fail, select = request, path = */probe.bin`. Between the steps it
reads 1 KiB of that file (a call not on a socket, which the library sees in the sanitizer
build too, where ASan's allocator shadows the library's malloc) and notes whether that
failed. Keys A and B are
ones the rule selects, C one it does not (`mlchaos select` picks them). The steps:

  head A read                              A alone in flight: fails
  head B read on a second connection       A and B: ambiguous, does not fail
  B's response sent (Content-Length)       A alone again: fails
  A's chunked response, but its last chunk A still: fails
  the last chunk                           none in flight, no key: does not fail
  head C read                              C, not selected: does not fail
  mlchaos_request_key(A) set               the server's key wins: fails
  cleared                                  C again: does not fail
  KeyedExecutor, submitted under A's key   the pool's thread: fails
  KeyedExecutor, submitted with no key     the pool's thread, no key: does not fail

and the log has one ambiguous line, with B's key (the one read last), and its faults on A
alone.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import mctest  # noqa: E402
import rsnet  # noqa: E402

PY = "/usr/bin/python3"
CONFIG = """\
[mlchaos]
seed = 9
log = {log}

[fault.alloc]
hook = read
action = fail
rate = 50%
select = request
path = */probe.bin
"""
PROGRAM = r'''
import os, socket, sys
sys.path.insert(0, os.path.join(sys.argv[1], "shim", "adapters"))
import mlchaos_request
A, B, C = sys.argv[2:5]
probe = os.open(sys.argv[5], os.O_RDONLY)

def head(key):
    return f"POST /p HTTP/1.1\r\nHost: x\r\nX-Request-Id: {key}\r\nContent-Length: 0\r\n\r\n".encode()

def fails():
    try:
        os.pread(probe, 1024, 0)
        return False
    except OSError:
        return True

out = []
def step(name):
    out.append(f"{name} {'failed' if fails() else 'ok'}")

ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(4)
c1 = socket.create_connection(ls.getsockname())
s1, _ = ls.accept()
c2 = socket.create_connection(ls.getsockname())
s2, _ = ls.accept()
c1.sendall(head(A)); s1.recv(4096); step("a-read")
c2.sendall(head(B)); s2.recv(4096); step("b-read")
s2.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); step("b-answered")
s1.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"); step("a-part")
s1.sendall(b"0\r\n\r\n"); step("a-answered")
c1.sendall(head(C)); s1.recv(4096); step("c-read")
mlchaos_request.set_key(A); step("api-a")
mlchaos_request.set_key(None); step("api-cleared")
import contextvars
pool = mlchaos_request.KeyedExecutor(1)
def keyed_submit():
    mlchaos_request.current_key.set(A.encode())
    return pool.submit(fails).result()
out.append("pool-a " + ("failed" if contextvars.copy_context().run(keyed_submit) else "ok"))
out.append("pool-none " + ("failed" if pool.submit(fails).result() else "ok"))
print("\n".join(out))
'''
WANT = {"a-read": "failed", "b-read": "ok", "b-answered": "failed", "a-part": "failed",
        "a-answered": "ok", "c-read": "ok", "api-a": "failed", "api-cleared": "ok", "pool-a": "failed",
        "pool-none": "ok"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    a = ap.parse_args()
    env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
    tmp = tempfile.mkdtemp(prefix="mlchaos-inflight-")
    try:
        log = os.path.join(tmp, "log-%p.jsonl")
        cfg = os.path.join(tmp, "c.ini")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(log=log))
        candidates = [f"key-{i}" for i in range(40)]
        chosen = rsnet.selected_keys(a.mlchaos, cfg, "alloc", candidates, env)
        sel = [k for k in candidates if k in chosen]
        other = [k for k in candidates if k not in chosen]
        mctest.require(len(sel) >= 2 and other, "keys selected and not among 40")
        keys = [sel[0], sel[1], other[0]]
        probe = os.path.join(tmp, "probe.bin")
        with open(probe, "wb") as f:
            f.write(b"\0" * 4096)
        script = os.path.join(tmp, "prog.py")
        with open(script, "w") as f:
            f.write(PROGRAM)
        p = subprocess.run([a.mlchaos, "run", "-c", cfg, "--", PY, script,
                            os.path.join(HERE, "..", "..")] + keys + [probe], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env, timeout=120)
        mctest.require(p.returncode == 0, f"the program: exit {p.returncode}: {p.stderr[-800:]}")
        got = dict(l.split() for l in p.stdout.splitlines())
        for name, want in WANT.items():
            mctest.check(got.get(name) == want, f"{name}: the read {want} "
                                                f"(it {got.get(name)})")
        lines = []
        for name in os.listdir(tmp):
            if name.startswith("log-"):
                lines += mctest.read_log(os.path.join(tmp, name), mctest.fail)
        amb = [l for l in lines if l.get("event") == "ambiguous"]
        faults = {l.get("key") for l in lines if l.get("event") == "fault"}
        mctest.check(len(amb) == 1 and amb[0].get("key") == keys[1],
                     f"one ambiguous line, with B's key: {amb}")
        mctest.check(faults == {keys[0]}, f"the faults are on A's key alone: {faults}")
        return mctest.finish()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
