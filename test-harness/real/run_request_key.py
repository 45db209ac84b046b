#!/usr/bin/python3
"""mlchaos_request_key, the library's entry point for servers that know their requests, through
the C example (shim/adapters/request_key.c) and the WSGI adapter (shim/adapters/
mlchaos_request.py on wsgiref's threaded server):

  C     the example sets each of 300 keys in turn and reads 1 KiB of a model file under it,
        in a process that reads no socket (no key could be sniffed), under `hook = read,
        action = fail, select = request, rate = 10%, path = */weights.bin`: the reads that
        fail are exactly those of the keys `mlchaos select` names. Without the library
        preloaded the example runs and every read succeeds.
  WSGI  wsgiref with a thread per request, behind RequestKeyWSGI, whose application reads
        1 KiB of the file per request: the requests answered 500 are exactly the selected
        ones, at 8 clients at once.
A file read rather than an allocation: the sanitizer build's ASan allocator shadows the
library's malloc, not its reads.
"""

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import mctest  # noqa: E402
import rsnet  # noqa: E402

PY = "/usr/bin/python3"
CONFIG = """\
[mlchaos]
seed = 3
log = {log}

[fault.alloc]
hook = read
action = fail
rate = 10%
select = request
path = */weights.bin
"""
WSGI_APP = r'''
import os, sys
from wsgiref.simple_server import WSGIServer, make_server, WSGIRequestHandler
from socketserver import ThreadingMixIn
sys.path.insert(0, os.path.join(sys.argv[1], "shim", "adapters"))
import mlchaos_request

MODEL = sys.argv[3]

def app(environ, start_response):
    try:
        with open(MODEL, "rb", buffering=0) as f:
            buf = os.pread(f.fileno(), 1024, 0)  # the request's own work
        body, status = b"ok %d" % len(buf), "200 OK"
    except OSError:
        body, status = b"failed", "500 Internal Server Error"
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True

class Quiet(WSGIRequestHandler):
    def log_message(self, *a):
        pass

if not mlchaos_request.available():
    sys.exit("mlchaos_request_key is not in the process")
httpd = make_server("127.0.0.1", 0, mlchaos_request.RequestKeyWSGI(app), Server, Quiet)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(httpd.server_address[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
httpd.serve_forever()
'''


def check_exact(what, failed, want, keys):
    mctest.check(0 < len(want) < len(keys), f"{what}: {len(want)} of {len(keys)} selected")
    mctest.check(failed == want, f"{what}: failed exactly where selected: not selected "
                                 f"{sorted(failed - want)[:5]}, not failed "
                                 f"{sorted(want - failed)[:5]}")
    print(f"{what}: {len(keys)} requests, {len(want)} selected, {len(failed)} failed")


def weights(tmp):
    path = os.path.join(tmp, "weights.bin")
    with open(path, "wb") as f:
        f.write(bytes(range(256)) * 16)
    return path


def c_example(a, tmp, env):
    keys = [f"job-{i}" for i in range(300)]
    cfg = os.path.join(tmp, "c.ini")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(log=os.path.join(tmp, "c-%p.jsonl")))
    model = weights(tmp)
    plain = subprocess.run([a.example, model] + keys, stdout=subprocess.PIPE, text=True, timeout=120)
    mctest.check(plain.returncode == 0 and plain.stdout.count(" ok\n") == len(keys),
                 "without the library the example runs, every read succeeds")
    p = subprocess.run([a.mlchaos, "run", "-c", cfg, "--", a.example, model] + keys,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                       timeout=120)
    mctest.check(p.returncode == 0, f"the example under the library: exit {p.returncode}: "
                                    f"{p.stderr[-500:]}")
    failed = {l.split()[0] for l in p.stdout.splitlines() if l.endswith(" failed")}
    check_exact("C example", failed, rsnet.selected_keys(a.mlchaos, cfg, "alloc", keys, env),
                keys)


def wsgi(a, tmp, env):
    cfg = os.path.join(tmp, "w.ini")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(log=os.path.join(tmp, "w-%p.jsonl")))
    script = os.path.join(tmp, "wsgi_app.py")
    with open(script, "w") as f:
        f.write(WSGI_APP)
    ready = os.path.join(tmp, "w.ready")
    root = os.path.join(HERE, "..", "..")
    p, port = rsnet.start_server([a.mlchaos, "run", "-c", cfg, "--", PY, script, root, ready,
                                  weights(tmp)],
                                 env, tmp, "wsgi", ready)
    keys = [f"wsgi-{i}" for i in range(200)]
    results, lock = {}, threading.Lock()
    jobs = list(keys)

    def client():
        while True:
            with lock:
                if not jobs:
                    return
                key = jobs.pop()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                conn.request("GET", "/", headers={"X-Request-Id": key})
                status = conn.getresponse().status
            except (OSError, http.client.HTTPException) as e:
                status = type(e).__name__
            finally:
                conn.close()
            with lock:
                results[key] = status

    try:
        mctest.require(port is not None, f"wsgi: the server did not start: {p.stderr()[-1000:]}")
        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        p.stop(30)
    mctest.check(all(s in (200, 500) for s in results.values()),
                 f"wsgi: every request answered: {sorted(set(results.values()), key=str)}")
    failed = {k for k, s in results.items() if s != 200}
    check_exact("WSGI adapter", failed, rsnet.selected_keys(a.mlchaos, cfg, "alloc", keys, env),
                keys)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--example", required=True, help="the built request_key.c")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    a = ap.parse_args()
    env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
    tmp = tempfile.mkdtemp(prefix="mlchaos-request-key-")
    try:
        c_example(a, tmp, env)
        wsgi(a, tmp, env)
        return mctest.finish()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
