#!/usr/bin/python3
"""A small PyTorch model server: torch.load at start, a ThreadingHTTPServer on 127.0.0.1.

usage: torch_server.py make MODEL          save a small model (torch.save of a state_dict)
       torch_server.py serve MODEL READY [PORT]
                                           serve it (on PORT, default any); the port is
                                           written to READY once listening

  POST /predict  {"inputs": [[16 floats], ...]} -> {"pred": [[4 floats], ...]}
                 {"batch": N} -> a forward pass on N zero rows -> {"rows": N, "sum": s}
  GET /health    {"ok": true, "pid": PID}
An exception while serving (PyTorch's allocation error among them) is answered 500 with
{"error": "..."}; the server keeps serving. A model that cannot be loaded: "load failed:
..." on stderr, exit 3. SIGTERM stops it (exit 0).
"""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

IN, HIDDEN, OUT = 16, 8192, 4


def build():
    return torch.nn.Sequential(torch.nn.Linear(IN, HIDDEN), torch.nn.ReLU(),
                               torch.nn.Linear(HIDDEN, OUT))


def make(path):
    torch.manual_seed(1234)
    torch.save(build().state_dict(), path)


class Handler(BaseHTTPRequestHandler):
    model = None

    def log_message(self, fmt, *args):  # quiet: the test reads stderr for errors only
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, {"ok": True, "pid": os.getpid()})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        try:
            n = int(self.headers.get("Content-Length", "0"))
            req = json.loads(self.rfile.read(n) or b"{}")
            with torch.no_grad():
                if "batch" in req:
                    x = torch.zeros((int(req["batch"]), IN))
                    y = self.model(x)
                    out = {"rows": int(y.shape[0]), "sum": float(y.sum())}
                else:
                    y = self.model(torch.tensor(req["inputs"], dtype=torch.float32))
                    out = {"pred": y.tolist()}
        except Exception as e:  # the server answers 500 and keeps serving
            self.reply(500, {"error": f"{type(e).__name__}: {e}"})
            return
        self.reply(200, out)


def serve(path, ready, port=0):
    torch.set_num_threads(1)
    model = build()
    try:
        model.load_state_dict(torch.load(path))
    except Exception as e:
        print(f"load failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 3
    model.eval()
    Handler.model = model
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    with open(ready + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(ready + ".tmp", ready)
    try:
        srv.serve_forever(poll_interval=0.1)
    finally:
        srv.server_close()
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
        return 0
    if len(sys.argv) in (4, 5) and sys.argv[1] == "serve":
        return serve(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) == 5 else 0)
    print(__doc__.strip().splitlines()[2], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
