#!/usr/bin/python3
"""End-to-end tests of the reference model server, its generator and its load client.

    harness.py --server BIN --load BIN --gen BIN CASE

Each case runs real processes on 127.0.0.1 with port 0, reads the port from --ready-file
(polled against a deadline, never a fixed sleep), and asserts what the server answered.
Every server started here is killed by pid when the case ends, whatever happened.
Exit status: 0 passed, 1 failed, 77 skipped.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402
from mctest import Failed, require, run_case, skip, wait_for  # noqa: E402

DEADLINE_S = 10.0
ARGS = None
STARTED = []  # every Popen of a server, killed at the end


# ---- files ----

def gen(tmp, name, seed=1, version=1, dataset=None, samples=256):
    model = os.path.join(tmp, name)
    cmd = [ARGS.gen, "--quiet", "--seed", str(seed), "--version", str(version), "-o", model]
    if dataset:
        cmd += ["--dataset", os.path.join(tmp, dataset), "--samples", str(samples)]
    subprocess.run(cmd, check=True)
    return model


def replace(tmp, src, dst):
    """Put src in place of dst by rename, as a deployment does."""
    staging = os.path.join(tmp, "staging")
    shutil.copyfile(src, staging)
    os.rename(staging, dst)


def flip(src, dst, offsets_masks):
    """Copy src to dst with the bits of mask flipped at each offset."""
    data = bytearray(open(src, "rb").read())
    for off, mask in offsets_masks:
        data[off] ^= mask
    with open(dst, "wb") as f:
        f.write(data)


def flip_exponents(src, dst, weights):
    """Flip the top exponent bit (bit 30) of the given weights: each becomes ~1e38 times
    larger, a corruption that must show as wrong answers."""
    flip(src, dst, [(64 + 4 * w + 3, 0x40) for w in weights])


# ---- the server ----

class Server:
    count = 0

    def __init__(self, tmp, model, *extra, expect_ready=True):
        Server.count += 1
        n = Server.count
        self.ready = os.path.join(tmp, "ready-%d" % n)
        self.err_path = os.path.join(tmp, "server-%d.err" % n)
        self.out_path = os.path.join(tmp, "server-%d.out" % n)
        cmd = [ARGS.server, "--model", model, "--port", "0", "--ready-file", self.ready]
        cmd += list(extra)
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        STARTED.append(self.proc)
        self.port = None
        if expect_ready:
            wait_for(lambda: os.path.exists(self.ready) or self.proc.poll() is not None,
                     "the ready file")
            require(self.proc.poll() is None, "server exited at start: " + self.stderr())
            self.port = int(open(self.ready).read())
            listening = wait_for(lambda: open(self.out_path).read(), "the Listening line")
            require(listening == "Listening on 127.0.0.1:%d\n" % self.port,
                    "stdout: %r" % listening)

    def stderr(self):
        return open(self.err_path).read()

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        return self.wait_exit()

    def wait_exit(self):
        try:
            status = self.proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            raise Failed("server did not exit")
        # In a sanitizer build the server's own reports land in its stderr: they fail the case.
        err = self.stderr()
        for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer"):
            require(mark not in err, "sanitizer report from the server:\n" + err)
        return status

    def get(self, path):
        status, _, body = request(self.port, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path)
        return status, json.loads(body) if body else None

    def model(self):
        status, doc = self.get("/model")
        require(status == 200, "GET /model: %d" % status)
        return doc


def kill_all():
    for p in STARTED:
        if p.poll() is None:
            p.kill()
            p.wait()


# ---- HTTP by hand (malformed requests included) ----

class Conn:
    """A client connection that keeps what it read past one response for the next."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def sendall(self, data):
        self.sock.sendall(data)

    def recv(self, n):
        if self.buf:
            data, self.buf = self.buf[:n], self.buf[n:]
            return data
        return self.sock.recv(n)

    def _more(self, what):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Failed("connection closed %s: %r" % (what, self.buf[:200]))
        self.buf += chunk

    def response(self):
        """One response: (status, headers dict lower-cased, body bytes)."""
        while b"\r\n\r\n" not in self.buf:
            self._more("before a response head")
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers["content-length"])
        while len(self.buf) < length:
            self._more("inside a body")
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body


def connect(port):
    return Conn(port)


def request(port, raw, body=b""):
    if isinstance(raw, str):
        raw = raw.encode()
    with connect(port) as c:
        c.sendall(raw + body)
        return c.response()


def predict_raw(body, extra=""):
    if isinstance(body, str):
        body = body.encode()
    head = ("POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n%s\r\n"
            % (len(body), extra))
    return head.encode() + body


def load(port, tmp, *extra):
    """Run mlchaos-load --json; its report."""
    cmd = [ARGS.load, "--port", str(port), "--json"] + list(extra)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    require(res.returncode == 0, "mlchaos-load exit %d: %s" % (res.returncode, res.stderr))
    return json.loads(res.stdout)


def assert_perfect(rep, n):
    require(rep["requests"] == n and rep["ok"] == n and rep["error_total"] == 0,
            "not all requests ok: %s" % rep)
    require(rep["accuracy"] == 1.0 and rep["checked"] == n, "accuracy: %s" % rep)
    require(rep["id_mismatch"] == 0, "ids not echoed: %s" % rep)


# ---- cases ----

def case_load_methods(tmp):
    """Every way of reading the model gives the same, fully correct answers."""
    model = gen(tmp, "m.bin", seed=3, dataset="d.jsonl", samples=300)
    data = os.path.join(tmp, "d.jsonl")
    for method in ["read", "pread", "fread", "mmap"]:
        srv = Server(tmp, model, "--load", method, "--threads", "3")
        assert_perfect(load(srv.port, tmp, "-n", "600", "-c", "4", "--dataset", data), 600)
        require(srv.model()["load_method"] == method, "load_method is not " + method)
        require(srv.stop() == 0, "exit status after SIGTERM")
    # On a regular file one read(2) happens to return everything: the naive loader works
    # here, and only short reads (injected) expose it.
    srv = Server(tmp, model, "--naive-loader")
    assert_perfect(load(srv.port, tmp, "-n", "300", "--dataset", data), 300)
    require(srv.model()["load_method"] == "read-naive", "naive loader not reported")
    srv.stop()


def case_corrupt(tmp):
    """Flipped weight bits: wrong answers without --verify, refusal with it."""
    good = gen(tmp, "m.bin", seed=5, dataset="d.jsonl", samples=400)
    data = os.path.join(tmp, "d.jsonl")
    bad = os.path.join(tmp, "bad.bin")
    flip_exponents(good, bad, [17, 300])
    srv = Server(tmp, bad)
    rep = load(srv.port, tmp, "-n", "400", "-c", "2", "--dataset", data)
    require(rep["success_rate"] == 1.0, "a corrupt model still answers: %s" % rep)
    require(rep["accuracy"] <= 0.95, "accuracy loss not measurable: %s" % rep["accuracy"])
    info = srv.model()
    require(info["checksum_ok"] is False and info["checksum"] != info["checksum_actual"],
            "GET /model does not show the mismatch: %s" % info)
    srv.stop()
    srv = Server(tmp, bad, "--verify", expect_ready=False)
    require(srv.wait_exit() == 1, "--verify did not refuse the corrupt model")
    require("checksum mismatch" in srv.stderr(), "no reason given: " + srv.stderr())
    require(not os.path.exists(srv.ready), "ready file written for a refused model")
    require(open(srv.out_path).read() == "", "Listening printed for a refused model")


def case_header_flip(tmp):
    """A flipped header bit makes a bad file, with or without --verify."""
    good = gen(tmp, "m.bin", seed=6)
    for off, mask in [(16, 0x01), (21, 0x10), (40, 0x80)]:
        bad = os.path.join(tmp, "bad.bin")
        flip(good, bad, [(off, mask)])
        srv = Server(tmp, bad, expect_ready=False)
        require(srv.wait_exit() == 1, "header flip at %d was accepted" % off)
        require("corrupt header" in srv.stderr(), "reason: " + srv.stderr())


def case_reload(tmp):
    """A new version is picked up on change and on SIGHUP, atomically under load."""
    model = gen(tmp, "m.bin", seed=8, version=1, dataset="d.jsonl")
    data = os.path.join(tmp, "d.jsonl")
    versions = {v: gen(tmp, "v%d.bin" % v, seed=8, version=v) for v in range(2, 7)}
    srv = Server(tmp, model, "--watch-ms", "20", "--load", "mmap")
    replace(tmp, versions[2], model)
    wait_for(lambda: srv.model()["version"] == 2, "version 2 after the file changed")
    info = srv.model()
    require(info["reloads"] == 1 and info["checksum_ok"], "after reload: %s" % info)
    # Under load: same seed, new versions, so every answer must stay right throughout.
    client = subprocess.Popen([ARGS.load, "--port", str(srv.port), "--json", "-n", "6000",
                               "-c", "4", "--dataset", data],
                              stdout=subprocess.PIPE, text=True)
    for v in range(3, 7):
        replace(tmp, versions[v], model)
        wait_for(lambda: srv.model()["version"] == v, "version %d" % v)
    out, _ = client.communicate(timeout=60)
    assert_perfect(json.loads(out), 6000)
    srv.stop()
    # --watch-ms 0: only SIGHUP reloads.
    gen(tmp, "m.bin", seed=8, version=1)
    srv = Server(tmp, model, "--watch-ms", "0")
    replace(tmp, versions[4], model)
    time.sleep(0.2)  # a poll would have happened by now; none must
    require(srv.model()["version"] == 1, "reloaded without a signal")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: srv.model()["version"] == 4, "version 4 after SIGHUP")
    require("reloaded (SIGHUP), version 1 -> 4" in srv.stderr(), "log: " + srv.stderr())
    srv.stop()


def case_reload_fail(tmp):
    """A bad update keeps the old model serving, says so, and a good one still gets in."""
    model = gen(tmp, "m.bin", seed=9, version=1, dataset="d.jsonl")
    data = os.path.join(tmp, "d.jsonl")
    v2 = gen(tmp, "v2.bin", seed=9, version=2)
    bad = os.path.join(tmp, "bad.bin")
    flip_exponents(v2, bad, [40])
    short = os.path.join(tmp, "short.bin")
    with open(short, "wb") as f:
        f.write(open(v2, "rb").read()[:1000])
    srv = Server(tmp, model, "--verify", "--watch-ms", "20")
    for n, broken in enumerate([bad, short], start=1):
        replace(tmp, broken, model)
        wait_for(lambda: srv.model()["reload_failures"] == n, "failure %d recorded" % n)
        info = srv.model()
        require(info["version"] == 1 and info["last_error"], "old model not kept: %s" % info)
        assert_perfect(load(srv.port, tmp, "-n", "200", "--dataset", data), 200)
    err = srv.stderr()
    require("failed: weights checksum mismatch" in err and "still serving version 1" in err,
            "log: " + err)
    require("truncated" in err, "log: " + err)
    replace(tmp, v2, model)
    wait_for(lambda: srv.model()["version"] == 2, "version 2 after a good update")
    require(srv.model()["last_error"] is None, "last_error not cleared")
    srv.stop()


def children(pid):
    path = "/proc/%d/task/%d/children" % (pid, pid)
    if not os.path.exists(path):
        return None
    return [int(p) for p in open(path).read().split()]


def thread_state(pid, tid):
    """The one-letter state of a thread (R, S, T, Z...)."""
    try:
        stat = open("/proc/%d/task/%s/stat" % (pid, tid)).read()
    except FileNotFoundError:
        return "gone"
    return stat.rsplit(")", 1)[-1].split()[0]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    return thread_state(pid, str(pid)) not in ("Z", "gone")


def case_workers(tmp):
    """--workers 2: two processes serve, reload on SIGHUP, a dead one is replaced."""
    model = gen(tmp, "m.bin", seed=10, version=1, dataset="d.jsonl")
    data = os.path.join(tmp, "d.jsonl")
    srv = Server(tmp, model, "--workers", "2", "--threads", "2", "--watch-ms", "0")
    kids = children(srv.proc.pid)
    if kids is None:
        srv.stop()
        skip("no /proc/PID/task/PID/children on this kernel")
    kids = wait_for(lambda: len(children(srv.proc.pid)) == 2 and children(srv.proc.pid),
                    "two workers")
    assert_perfect(load(srv.port, tmp, "-n", "800", "-c", "8", "--dataset", data), 800)
    replace(tmp, gen(tmp, "v2.bin", seed=10, version=2), model)
    srv.proc.send_signal(signal.SIGHUP)
    # Each fresh connection may land on either worker: both must have reloaded.
    wait_for(lambda: all(srv.model()["version"] == 2 for _ in range(20)), "both at version 2")
    os.kill(kids[0], signal.SIGKILL)
    wait_for(lambda: len(children(srv.proc.pid)) == 2 and kids[0] not in children(srv.proc.pid),
             "a replacement worker")
    require("killed by signal 9" in srv.stderr(), "death not logged: " + srv.stderr())
    assert_perfect(load(srv.port, tmp, "-n", "400", "-c", "4", "--dataset", data), 400)
    kids = children(srv.proc.pid)
    require(srv.stop() == 0, "supervisor exit status")
    require(not any(alive(k) for k in kids), "a worker outlived the supervisor")


def case_request_id(tmp):
    """X-Request-Id comes back on every answer, errors included; P-i ids are deterministic."""
    model = gen(tmp, "m.bin", seed=11, dataset="d.jsonl", samples=50)
    data = os.path.join(tmp, "d.jsonl")
    srv = Server(tmp, model)
    body = json.dumps({"features": [0.5] * 16})
    for raw, want in [(predict_raw(body, "X-Request-Id: abc-123\r\n"), 200),
                      (predict_raw("{bad", "X-Request-Id: abc-123\r\n"), 400),
                      (b"GET /nope HTTP/1.1\r\nX-Request-Id: abc-123\r\n\r\n", 404)]:
        status, headers, _ = request(srv.port, raw)
        require(status == want and headers.get("x-request-id") == "abc-123",
                "status %d, headers %s" % (status, headers))
    status, headers, _ = request(srv.port, predict_raw(body))
    require(status == 200 and "x-request-id" not in headers, "an id made up: %s" % headers)
    per = os.path.join(tmp, "per.jsonl")
    rep = load(srv.port, tmp, "-n", "120", "-c", "3", "--dataset", data, "--id-prefix", "run7",
               "--per-request", per)
    assert_perfect(rep, 120)
    lines = [json.loads(line) for line in open(per)]
    require([r["id"] for r in lines] == ["run7-%d" % i for i in range(120)], "ids not P-i")
    require(all(r["id_echoed"] and r["correct"] is True and r["status"] == 200 for r in lines),
            "per-request lines: %s" % lines[:3])
    srv.stop()


def case_errors(tmp):
    """4xx for the client's mistakes, with the connection kept when it can be."""
    model = gen(tmp, "m.bin", seed=12)
    srv = Server(tmp, model)
    good = json.dumps({"features": [0.25] * 16})
    with connect(srv.port) as s:
        # A bad body leaves the stream in sync: the same connection goes on.
        for body, want in [("{\"features\":[1,2", 400), ("{\"features\":[1,2,3]}", 400),
                           ("{\"x\":1}", 400), ("not json", 400), (good, 200)]:
            s.sendall(predict_raw(body))
            status, headers, text = s.response()
            require(status == want, "%r: %d %s" % (body, status, text))
            require(headers["connection"] == "keep-alive", "closed after %r" % body)
            require("error" in json.loads(text) if want != 200 else "class" in json.loads(text),
                    "body: %s" % text)
    for raw, want in [
            (predict_raw("x" * 70000), 413),
            (b"GET /model HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
            (b"GET /nope HTTP/1.1\r\n\r\n", 404),
            (b"GET /predict HTTP/1.1\r\n\r\n", 405),
            (b"POST /predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
            (b"BLAH\r\n\r\n", 400),
            (b"GET / HTTP/3.0\r\n\r\n", 505)]:
        status, headers, _ = request(srv.port, raw)
        require(status == want, "%r...: %d, expected %d" % (raw[:40], status, want))
    # Pipelined requests are answered in order on one connection.
    with connect(srv.port) as s:
        s.sendall(predict_raw(good, "X-Request-Id: p1\r\n") + predict_raw(good, "X-Request-Id: p2\r\n")
                  + b"GET /health HTTP/1.1\r\nX-Request-Id: p3\r\n\r\n")
        ids = [s.response()[1]["x-request-id"] for _ in range(3)]
        require(ids == ["p1", "p2", "p3"], "pipelined answers: %s" % ids)
    # Expect: 100-continue gets its interim answer before the body is sent.
    with connect(srv.port) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n"
                  % len(good))
        require(s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n", "no 100 Continue")
        s.sendall(good.encode())
        require(s.response()[0] == 200, "no answer after 100 Continue")
    require(srv.get("/health")[0] == 200, "server unwell after bad requests")
    srv.stop()


def case_sigterm(tmp):
    """SIGTERM and SIGINT stop the server cleanly: exit 0, ready file removed."""
    model = gen(tmp, "m.bin", seed=13, dataset="d.jsonl")
    data = os.path.join(tmp, "d.jsonl")
    for sig in [signal.SIGTERM, signal.SIGINT]:
        srv = Server(tmp, model)
        load(srv.port, tmp, "-n", "200", "--dataset", data)
        idle = connect(srv.port)  # an idle keep-alive connection must not hold the stop up
        require(srv.stop(sig) == 0, "exit status after %s" % sig.name)
        idle.close()
        require(not os.path.exists(srv.ready), "ready file left behind")
        require("stopping" in srv.stderr(), "no stop logged")


def case_fallback(tmp):
    """The fallback serves while the primary cannot load; the primary takes over once it can."""
    model = gen(tmp, "m.bin", seed=14, version=3, dataset="d.jsonl")
    data = os.path.join(tmp, "d.jsonl")
    fallback = gen(tmp, "fb.bin", seed=14, version=1)
    primary = os.path.join(tmp, "primary.bin")
    flip(model, primary, [(30, 0x04)])
    srv = Server(tmp, primary, "--fallback", fallback, "--watch-ms", "20")
    info = srv.model()
    require(info["fallback"] is True and info["version"] == 1, "not the fallback: %s" % info)
    status, health = srv.get("/health")
    require(status == 200 and health["fallback"] is True, "health: %s" % health)
    assert_perfect(load(srv.port, tmp, "-n", "200", "--dataset", data), 200)
    replace(tmp, model, primary)
    wait_for(lambda: srv.model()["fallback"] is False, "the primary back")
    require(srv.model()["version"] == 3, "primary version")
    srv.stop()
    # Without a fallback nothing can serve: the server does not start.
    srv = Server(tmp, os.path.join(tmp, "missing.bin"), expect_ready=False)
    require(srv.wait_exit() == 1, "started without any model")


def case_no_model(tmp):
    """--allow-no-model: 503 until a model appears, then it serves."""
    model = os.path.join(tmp, "later.bin")
    srv = Server(tmp, model, "--allow-no-model", "--watch-ms", "20")
    require(srv.get("/health")[0] == 503, "health without a model")
    status, _, _ = request(srv.port, predict_raw(json.dumps({"features": [0] * 16})))
    require(status == 503, "predict without a model: %d" % status)
    gen(tmp, "later.bin", seed=15, version=7)
    wait_for(lambda: srv.get("/health")[0] == 200, "the model to appear")
    require(srv.model()["version"] == 7, "version of the late model")
    srv.stop()


def case_load_client(tmp):
    """The load client's exit codes, text report, keep-alive and errors by kind."""
    def run(*a):
        return subprocess.run([ARGS.load] + list(a), capture_output=True, text=True,
                              timeout=60)
    require(run("--help").returncode == 0, "--help")
    require(run("-n", "5").returncode == 2, "no --url/--port is a usage error")
    require(run("--url", "ftp://x:1").returncode == 2, "bad url")
    require(run("--port", "1", "-c", "0").returncode == 2, "zero concurrency")
    bad_data = os.path.join(tmp, "bad.jsonl")
    with open(bad_data, "w") as f:
        f.write('{"features":[1],"class":0}\n{"features":oops}\n')
    res = run("--port", "1", "--dataset", bad_data)
    require(res.returncode == 2 and "bad.jsonl:2:" in res.stderr, "dataset error: %s" % res.stderr)
    # Nothing listens on a port just released: exit 1, every request a connect error.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    res = run("--port", str(free_port), "-n", "10", "--json")
    require(res.returncode == 1, "no server: exit %d" % res.returncode)
    rep = json.loads(res.stdout)
    require(rep["errors"]["connect"] == 10 and rep["ok"] == 0 and rep["p50_ms"] is None,
            "report: %s" % rep)
    model = gen(tmp, "m.bin", seed=16, dataset="d.jsonl", samples=64)
    data = os.path.join(tmp, "d.jsonl")
    srv = Server(tmp, model)
    rep = load(srv.port, tmp, "-n", "300", "-c", "3", "--dataset", data)
    # keep-alive: at most one connection per client thread for 300 requests (on a busy
    # machine one thread may serve them all before the others connect)
    require(1 <= rep["connections"] <= 3, "keep-alive: %d connections" % rep["connections"])
    require(rep["model_versions"] == {"1": 300}, "versions: %s" % rep["model_versions"])
    require(0 < rep["p50_ms"] <= rep["p95_ms"] <= rep["p99_ms"] <= rep["max_ms"], "latency order")
    require(rep["rps"] > 0 and rep["duration_s"] > 0, "throughput")
    res = run("--url", "http://127.0.0.1:%d/predict" % srv.port, "-n", "50", "--dataset", data)
    require(res.returncode == 0 and "accuracy 100.00% (50 checked)" in res.stdout,
            "text report: %s" % res.stdout)
    # Without a data set: answers are counted, nothing is checked.
    rep = load(srv.port, tmp, "-n", "20")
    require(rep["ok"] == 20 and rep["checked"] == 0 and rep["accuracy"] is None, "%s" % rep)
    # A wrong feature count is a 4xx, counted as such.
    rep = load(srv.port, tmp, "-n", "10", "--inputs", "3")
    require(rep["errors"]["4xx"] == 10 and rep["success_rate"] == 0, "%s" % rep)
    # A server that stops answering: timeouts, not a hang.
    srv.proc.send_signal(signal.SIGSTOP)
    # kill(2) returns before every thread has stopped: wait until all of them have.
    wait_for(lambda: all(thread_state(srv.proc.pid, t) == "T"
                         for t in os.listdir("/proc/%d/task" % srv.proc.pid)),
             "the server's threads to stop")
    try:
        rep = load(srv.port, tmp, "-n", "4", "-c", "2", "--timeout-ms", "200")
    finally:
        srv.proc.send_signal(signal.SIGCONT)
    require(rep["errors"]["timeout"] == 4, "stopped server: %s" % rep)
    srv.stop()


def case_server_cli(tmp):
    """Usage errors exit 2, --help 0, an unloadable model 1."""
    def run(*a):
        return subprocess.run([ARGS.server] + list(a), capture_output=True, text=True,
                              timeout=DEADLINE_S)
    res = run("--help")
    require(res.returncode == 0 and "--model FILE" in res.stdout, "--help")
    model = gen(tmp, "m.bin")
    for bad in [[], ["--model", model, "--bogus"], ["--model", model, "--load", "dma"],
                ["--model", model, "--threads", "0"], ["--model", model, "--port", "70000"],
                ["--model", model, "--host", "example.com"], ["--model", model, "extra"]]:
        res = run(*bad)
        require(res.returncode == 2 and "--help" in res.stderr, "%s: %d" % (bad, res.returncode))
    res = run("--model", os.path.join(tmp, "none.bin"), "--port", "0")
    require(res.returncode == 1 and "cannot load model" in res.stderr, "missing model")
    # A port already taken: exit 1 with the reason.
    srv = Server(tmp, model)
    res = run("--model", model, "--port", str(srv.port))
    require(res.returncode == 1 and "cannot listen" in res.stderr, "port in use")
    srv.stop()
    res = subprocess.run([ARGS.gen, "--shape", "16-32"], capture_output=True, timeout=10)
    require(res.returncode == 2, "gen usage error")


CASES = {
    "load-methods": case_load_methods,
    "corrupt": case_corrupt,
    "header-flip": case_header_flip,
    "reload": case_reload,
    "reload-fail": case_reload_fail,
    "workers": case_workers,
    "request-id": case_request_id,
    "errors": case_errors,
    "sigterm": case_sigterm,
    "fallback": case_fallback,
    "no-model": case_no_model,
    "load-client": case_load_client,
    "server-cli": case_server_cli,
}


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True)
    p.add_argument("--load", required=True)
    p.add_argument("--gen", required=True)
    p.add_argument("case", choices=sorted(CASES))
    ARGS = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="mc-harness-")

    def cleanup():
        """Kills the servers; after a failure, shows what they said on stderr."""
        kill_all()
        if mctest.failures():
            for name in sorted(os.listdir(tmp)):
                if name.endswith(".err"):
                    print("--- %s:\n%s" % (name, open(os.path.join(tmp, name)).read()),
                          file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    return run_case(ARGS.case, lambda: CASES[ARGS.case](tmp), cleanup)


if __name__ == "__main__":
    sys.exit(main())
