#!/usr/bin/python3
"""Transparency of the shim for a Python HTTP server, and what `mlchaos trace` sees.

Three rounds, each starting http_server.py (ThreadingHTTPServer, 127.0.0.1,
port 0) and sending it 1,000 requests with http_client.py: plain, both under
`mlchaos run` (no config), both under `mlchaos trace --json`. The client's
digest of statuses and bodies must be identical in the three rounds. The
traces must show the server's accepted sockets and the client's connected ones
as socket:tcp:PORT under the functions Python uses, and the bytes one side
sent must be the bytes the other received.

The server is killed by its pid (SIGTERM, then SIGKILL after a deadline) in
every case, including when this script is itself interrupted.
"""

import argparse
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import shutil

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "preload"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctrace  # noqa: E402
from mctest import check, clean_env, fail, finish  # noqa: E402

PY = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
REQUESTS = 1000
START_DEADLINE_S = 30
CLIENT_TIMEOUT_S = 300
STOP_DEADLINE_S = 10

# What Debian's python3 (3.11) calls on a TCP socket, as `mlchaos trace` shows it:
# socket.recv_into() (under makefile().readline/read) calls recv(), sendall() calls send().
SERVER_READ, SERVER_SEND = "recv", "send"
CLIENT_READ, CLIENT_SEND = "recv", "send"
READ_FNS = {"read", "readv", "recv", "recvfrom", "recvmsg", "recvmmsg", "__read_chk",
            "__recv_chk", "__recvfrom_chk"}
SEND_FNS = {"write", "writev", "send", "sendto", "sendmsg", "sendmmsg"}


class Server:
    """The server process: started here, always killed here, by pid."""

    def __init__(self, argv, env, stderr_path):
        self.stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        self.pid = None  # the python process itself, as it reports

    def wait_port(self):
        """Reads "port P pid N" with a deadline; no fixed sleeps."""
        deadline = time.monotonic() + START_DEADLINE_S
        line = b""
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 256)
                if not chunk:
                    return None
                line += chunk
        w = line.decode().split()
        if len(w) != 4 or w[0] != "port" or w[2] != "pid":
            return None
        self.pid = int(w[3])
        return int(w[1])

    def stop(self):
        """SIGTERM to the server's own pid (the launcher, `mlchaos run` or `trace`, ends with
        it; it would also forward a SIGTERM of its own, and a second SIGTERM is not what
        this test is about), then SIGKILL to both when it has not ended by the deadline.
        Returns the launcher's exit status."""
        try:
            os.kill(self.pid or self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            status = self.proc.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            for pid in {self.pid, self.proc.pid} - {None}:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            status = self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()
        return status


class Http:
    def __init__(self, a):
        self.a = a
        self.servers = []
        self.env = clean_env(dict(kv.partition("=")[::2] for kv in a.env))

    def round(self, label, wrap_server, wrap_client, tmp):
        srv = Server(wrap_server + [PY, os.path.join(HERE, "http_server.py")], self.env,
                     os.path.join(tmp, label.replace(" ", "-") + ".server.err"))
        self.servers.append(srv)
        try:
            port = srv.wait_port()
            if not check(port is not None, f"{label}: the server did not report its port "
                         f"within {START_DEADLINE_S} s"):
                return None, None
            try:
                client = subprocess.run(
                    wrap_client + [PY, os.path.join(HERE, "http_client.py"), str(port),
                                   str(REQUESTS)],
                    env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    timeout=CLIENT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                fail(f"{label}: the client did not finish within {CLIENT_TIMEOUT_S} s")
                return None, port
        finally:
            status = srv.stop()
            self.servers.remove(srv)
        check(status in (-signal.SIGTERM, 128 + signal.SIGTERM),
              f"{label}: server ended with status {status}, expected death by SIGTERM")
        if not check(client.returncode == 0, f"{label}: client exit {client.returncode}\n"
                     f"{client.stderr.decode(errors='replace')}"):
            return None, port
        print(f"{label}: port {port}: {client.stdout.decode().strip()}")
        return client, port

    def sum_bytes(self, obj, target, fns):
        return sum(r["bytes"] for r in mctrace.rows_for_target(obj, target) if r["fn"] in fns)

    def check_side(self, who, obj, target, read_fn, send_fn):
        rows = mctrace.rows_for_target(obj, target)
        shown = ", ".join(f"{r['fn']} calls={r['calls']} bytes={r['bytes']}" for r in rows)
        print(f"  trace {who}: {target}: {shown or 'no rows'}")
        for fn in (read_fn, send_fn):
            row = mctrace.find_row(obj, fn, target)
            check(row is not None and row["calls"] >= REQUESTS,
                  f"{who}: expected at least {REQUESTS} '{fn}' calls on {target}; "
                  f"rows: {shown or 'none'}")

    def check_traces(self, sjson, cjson, port, tmp):
        target = f"socket:tcp:{port}"
        sobjs = mctrace.load_json(sjson, fail)
        cobjs = mctrace.load_json(cjson, fail)
        err = open(os.path.join(tmp, "mlchaos-trace.server.err"), encoding="utf-8",
                   errors="replace").read()
        if not check(len(sobjs) == 1 and len(cobjs) == 1,
                     f"trace objects: server {len(sobjs)}, client {len(cobjs)}; expected 1 "
                     f"each\n--- the traced server's stderr:\n{err[-4000:]}"):
            return
        s, c = sobjs[0], cobjs[0]
        self.check_side("server", s, target, SERVER_READ, SERVER_SEND)
        self.check_side("client", c, target, CLIENT_READ, CLIENT_SEND)
        s_sent, c_got = self.sum_bytes(s, target, SEND_FNS), self.sum_bytes(c, target, READ_FNS)
        c_sent, s_got = self.sum_bytes(c, target, SEND_FNS), self.sum_bytes(s, target, READ_FNS)
        check(s_sent == c_got and c_sent == s_got,
              f"bytes on {target}: server sent {s_sent}, client received {c_got}; "
              f"client sent {c_sent}, server received {s_got}")
        mctrace.check_table(err, mctrace.index_by_pid(sobjs, fail), fail)

    def main(self):
        tmp = tempfile.mkdtemp(prefix="mlchaos-http-")
        try:
            plain, _ = self.round("plain", [], [], tmp)
            run = [self.a.mlchaos, "run", "--"]
            shim, _ = self.round("mlchaos run", run, run, tmp)
            sjson, cjson = os.path.join(tmp, "server.json"), os.path.join(tmp, "client.json")
            traced, port = self.round("mlchaos trace",
                                      [self.a.mlchaos, "trace", "--json", sjson, "--"],
                                      [self.a.mlchaos, "trace", "--json", cjson, "--"], tmp)
            if None not in (plain, shim, traced):
                for label, p in (("mlchaos run", shim), ("mlchaos trace", traced)):
                    check(p.stdout == plain.stdout,
                          f"client output under {label} differs from the plain run")
                self.check_traces(sjson, cjson, port, tmp)
        finally:
            for srv in list(self.servers):
                srv.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        return finish()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    a = ap.parse_args()

    # meson's timeout (or a ^C) must still reach the finally that kills the server.
    def interrupted(sig, _frame):
        raise SystemExit(128 + sig)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    sys.exit(Http(a).main())


if __name__ == "__main__":
    main()
