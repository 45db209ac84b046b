#!/usr/bin/python3
"""A model server speaking the KServe v2 inference protocol (the Open Inference Protocol of
KServe, Triton and Seldon MLServer): the experiments' server for `protocol = kserve-v2`.

Written in this harness because Debian packages none of those servers and none can be
downloaded here. The model is a two-layer perceptron (16 inputs, 3000 hidden units, 4
outputs, the layout of node_model.js) computed with numpy; its weights are read from a file
at start (one read(2) of the whole file), so that damaged weights change the answers
silently.

usage: kserve_server.py --weights FILE [--model NAME] [--port N] [--ready FILE]
       kserve_server.py --make FILE        write the weights the tests use

  GET  /v2                        server metadata
  GET  /v2/health/live            {"live": true}
  GET  /v2/health/ready           {"ready": true}
  GET  /v2/models/NAME            model metadata (inputs, outputs)
  GET  /v2/models/NAME/ready      {"name": NAME, "ready": true}
  POST /v2/models/NAME/infer      {"id"?, "inputs": [{"name", "shape": [ROWS, 16],
                                   "datatype": "FP32"|"FP64", "data": [...]}]}
                                  -> {"model_name", "id"?, "outputs": [{"name": "output-0",
                                   "shape": [ROWS, 4], "datatype": "FP32", "data": [...]}]}
"data" is row-major, flat or nested. Outputs are rounded to 6 decimals; a non-finite one is
null. The hidden activations of a request are one numpy array of ROWS x 3000 float64 (48000
bytes for two rows: a malloc rule can aim at it); when it cannot be had the answer is 500,
a malformed request 400, an unknown model 404; the server goes on. SIGTERM stops it.
"""

import argparse
import math
import os
import sys

import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpbase  # noqa: E402

IN, HIDDEN, OUT = 16, 3000, 4
N = IN * HIDDEN + HIDDEN + HIDDEN * OUT + OUT


def make(path):
    """The weights: a fixed linear congruential sequence, the same file everywhere."""
    w = np.empty(N, dtype=np.float32)
    s = 12345
    for i in range(N):
        s = (s * 1103515245 + 12345) % 2147483648
        w[i] = (s / 2147483648 - 0.5) / 4
    with open(path, "wb") as f:
        f.write(w.astype("<f4").tobytes())


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) != N * 4:
        raise ValueError("%s: %d bytes, want %d" % (path, len(raw), N * 4))
    w = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    o = 0
    parts = []
    for n in (IN * HIDDEN, HIDDEN, HIDDEN * OUT, OUT):
        parts.append(w[o:o + n])
        o += n
    w1, b1, w2, b2 = parts
    return w1.reshape(IN, HIDDEN), b1, w2.reshape(HIDDEN, OUT), b2


class BadRequest(ValueError):
    pass


def flatten(data):
    out = []
    stack = [data]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(reversed(v))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(float(v))
        else:
            raise BadRequest("data holds %r, not a number" % (v,))
    return out


def rows_of(req):
    """The input tensor of an infer request as a ROWS x 16 float64 array."""
    inputs = req.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise BadRequest("want \"inputs\": one tensor")
    t = inputs[0]
    if t.get("datatype") not in ("FP32", "FP64"):
        raise BadRequest("datatype %r: want FP32 or FP64" % (t.get("datatype"),))
    shape = t.get("shape")
    if not (isinstance(shape, list) and len(shape) == 2 and shape[1] == IN
            and isinstance(shape[0], int) and shape[0] > 0):
        raise BadRequest("shape %r: want [ROWS, %d]" % (shape, IN))
    data = flatten(t.get("data"))
    if len(data) != shape[0] * IN:
        raise BadRequest("%d numbers for shape %r" % (len(data), shape))
    return np.array(data, dtype=np.float64).reshape(shape[0], IN)


def finite(v):
    return round(v, 6) if math.isfinite(v) else None


class Handler(httpbase.Handler):
    model = None
    name = "perceptron"

    def metadata(self):
        return {"name": self.name, "versions": ["1"], "platform": "numpy",
                "inputs": [{"name": "input-0", "datatype": "FP32", "shape": [-1, IN]}],
                "outputs": [{"name": "output-0", "datatype": "FP32", "shape": [-1, OUT]}]}

    def do_GET(self):
        base = "/v2/models/" + self.name
        routes = {
            "/v2": lambda: {"name": "mlchaos-harness-kserve", "version": "1",
                            "extensions": []},
            "/v2/health/live": lambda: {"live": True},
            "/v2/health/ready": lambda: {"ready": True},
            base: self.metadata,
            base + "/ready": lambda: {"name": self.name, "ready": True},
        }
        if self.path in routes:
            self.reply(200, routes[self.path]())
        else:
            self.reply(404, {"error": "not found: " + self.path})

    def do_POST(self):
        if self.path != "/v2/models/%s/infer" % self.name:
            self.reply(404, {"error": "no model at " + self.path})
            return
        try:
            req = self.body()
            x = rows_of(req)
            w1, b1, w2, b2 = self.model
            h = x @ w1  # the ROWS x HIDDEN activations: the allocation a malloc rule fails
            h += b1
            np.maximum(h, 0, out=h)
            y = h @ w2 + b2
        except (BadRequest, ValueError, TypeError) as e:
            self.reply(400, {"error": str(e)})
            return
        except MemoryError:
            self.reply(500, {"error": "out of memory"})
            return
        out = {"model_name": self.name, "model_version": "1",
               "outputs": [{"name": "output-0", "shape": [x.shape[0], OUT], "datatype": "FP32",
                            "data": [finite(float(v)) for v in y.ravel()]}]}
        if "id" in req:
            out["id"] = req["id"]
        self.reply(200, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights")
    ap.add_argument("--make", metavar="FILE")
    ap.add_argument("--model", default="perceptron")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready")
    a = ap.parse_args()
    if a.make:
        make(a.make)
        return 0
    if not a.weights:
        ap.error("--weights FILE is needed")
    try:
        Handler.model = load(a.weights)
    except (OSError, ValueError) as e:
        print("kserve_server.py: cannot load the model: %s" % e, file=sys.stderr)
        return 3
    Handler.name = a.model
    return httpbase.serve(Handler, a.port, a.ready)


if __name__ == "__main__":
    sys.exit(main())
