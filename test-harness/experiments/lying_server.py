#!/usr/bin/python3
"""A prediction server whose /health says "ok" while every prediction fails: the
experiments' server for `health_lies`.

Written in this harness because the packaged servers here either exit when their model
cannot be loaded or answer their health check from the same state as their predictions.
This one is a common pattern: a model that cannot be loaded at start (a failed read of its
weights), or that fails once while serving (an allocation that fails: MemoryError), is
dropped; the process keeps running, answers every /predict with 500, and its /health, which
only says that the process is up, keeps answering 200. With --honest, /health answers 503
while there is no model: the same failures, and no lie.

usage: lying_server.py --weights FILE [--port N] [--ready FILE] [--honest] [--text]

  POST /predict  {"prompt": TEXT, "max_tokens": N} -> {"text": WORDS}
                 (--text: the answer as text/plain, "text: WORDS", not JSON)
  GET  /health   200 {"status": "ok"}  (--honest: 503 {"status": "no model"} without one)
SIGTERM stops it (exit 0).
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpbase  # noqa: E402
import tinylm  # noqa: E402


class Handler(httpbase.Handler):
    model = None
    why = "not loaded"
    honest = False
    text = False

    def do_GET(self):
        if self.path != "/health":
            self.error(404, "not found: " + self.path)
        elif self.honest and Handler.model is None:
            self.reply(503, {"status": "no model", "why": Handler.why})
        else:
            self.reply(200, {"status": "ok"})

    def do_POST(self):
        if self.path != "/predict":
            self.error(404, "not found: " + self.path)
            return
        model = Handler.model
        if model is None:
            self.error(500, "no model: " + Handler.why)
            return
        try:
            req = self.body()
            words = model.generate(str(req["prompt"]), int(req.get("max_tokens", 6)))
        except (ValueError, KeyError, TypeError) as e:
            self.error(400, "%s: %s" % (type(e).__name__, e))
            return
        except MemoryError:
            # the bug on purpose: the model is dropped, the process serves on without it
            Handler.model, Handler.why = None, "an allocation failed while serving"
            self.error(500, "no model: " + Handler.why)
            return
        if self.text:
            self.reply(200, ("text: %s\n" % " ".join(words)).encode(), "text/plain")
        else:
            self.reply(200, {"text": " ".join(words)})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready")
    ap.add_argument("--honest", action="store_true")
    ap.add_argument("--text", action="store_true")
    a = ap.parse_args()
    Handler.honest, Handler.text = a.honest, a.text
    Handler.model, why = tinylm.load(a.weights)
    if why:  # the bug on purpose: serve on without a model
        Handler.why = why
        print(why, file=sys.stderr)
    return httpbase.serve(Handler, a.port, a.ready)


if __name__ == "__main__":
    sys.exit(main())
