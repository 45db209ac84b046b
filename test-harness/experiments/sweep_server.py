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

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpbase  # noqa: E402

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


class Handler(httpbase.Handler):
    model = None

    def do_GET(self):
        self.reply(200 if self.path == "/health" else 404, {"ok": self.path == "/health"})

    def do_POST(self):
        try:
            tokens = torch.tensor(self.body()["tokens"], dtype=torch.long)
            with torch.no_grad():
                cls = self.model(tokens)
        except Exception as e:  # answered 500; the server keeps serving
            self.error(500, f"{type(e).__name__}: {e}")
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
    return httpbase.serve(Handler, 0, ready)


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
