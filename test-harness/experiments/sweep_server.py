#!/usr/bin/python3
"""A PyTorch server whose damage grows with the number of weights damaged: each request looks
up one row of an embedding table, so a damaged row changes the answers of the requests that
use it and no other (the degradation curve of a sweep); a tensor no request uses shows what
an unused tensor's damage does (nothing: the bottom of a vulnerability ranking).

usage: sweep_server.py make MODEL          save the model (torch.save of a state_dict)
       sweep_server.py serve MODEL READY   serve it on a free port, written to READY

  POST /predict  {"tokens": [t, ...]} -> {"cls": [c, ...]}: per token, the class with the
                 largest logit of head(emb[t]) (a NaN logit wins, as torch.argmax says)
  GET /health    {"ok": true}
Tensors: emb.weight (256 x 4), head.weight (4 x 4), head.bias (4), unused (64), all float32.
A model that cannot be loaded: "load failed: ..." on stderr, exit 3. SIGTERM stops it.
"""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

VOCAB, DIM, CLASSES, UNUSED = 256, 4, 4, 64


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(VOCAB, DIM)
        self.head = torch.nn.Linear(DIM, CLASSES)
        self.unused = torch.nn.Parameter(torch.zeros(UNUSED))  # in the file, never read

    def forward(self, tokens):
        return self.head(self.emb(tokens)).argmax(dim=-1)


def make(path):
    torch.manual_seed(99)
    m = Model()
    with torch.no_grad():
        m.unused.normal_()
    torch.save(m.state_dict(), path)


class Handler(BaseHTTPRequestHandler):
    model = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(200 if self.path == "/health" else 404, {"ok": self.path == "/health"})

    def do_POST(self):
        try:
            n = int(self.headers.get("Content-Length", "0"))
            req = json.loads(self.rfile.read(n) or b"{}")
            with torch.no_grad():
                cls = self.model(torch.tensor(req["tokens"], dtype=torch.long))
        except Exception as e:  # answered 500; the server keeps serving
            self.reply(500, {"error": f"{type(e).__name__}: {e}"})
            return
        self.reply(200, {"cls": cls.tolist()})


def serve(path, ready):
    torch.set_num_threads(1)
    model = Model()
    try:
        model.load_state_dict(torch.load(path))
    except Exception as e:
        print(f"load failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 3
    model.eval()
    Handler.model = model
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        return serve(sys.argv[2], sys.argv[3])
    print(__doc__.strip().splitlines()[5], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
