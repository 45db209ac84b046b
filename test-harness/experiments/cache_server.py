#!/usr/bin/python3
"""A completion server with a per-session prefix cache: the experiments' server where damage
to one request's answer leaks into the answers of others (`contaminated`).

Written in this harness because the leak has to be known and deterministic. Each request
carries a session id, a long system text and a short question. The first request of a
session computes the system text's state (tinylm.py) and caches it under the session id;
every later request of that session reuses the cached state without looking at its own
system text again (a cache keyed by a name that stands for the content). So when the first
request of a session arrives damaged, its own answer is wrong, and so is every later answer
of that session, though none of those requests was touched.

usage: cache_server.py --weights FILE [--port N] [--ready FILE]

  POST /generate  {"session": S, "system": TEXT, "question": TEXT, "max_tokens": N}
                  -> {"text": WORDS, "session": S, "cached": BOOL}
  GET  /health    {"status": "ok", "sessions": N}
A body that is not a JSON object: 400. SIGTERM stops it (exit 0).
"""

import argparse
import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpbase  # noqa: E402
import tinylm  # noqa: E402


class Handler(httpbase.Handler):
    model = None
    cache = {}  # session id -> the state of its system text
    lock = threading.Lock()

    def do_GET(self):
        if self.path == "/health":
            with self.lock:
                self.reply(200, {"status": "ok", "sessions": len(self.cache)})
        else:
            self.error(404, "not found: " + self.path)

    def do_POST(self):
        if self.path != "/generate":
            self.error(404, "not found: " + self.path)
            return
        try:
            req = self.body()
            session = str(req["session"])
            with self.lock:
                prefix = self.cache.get(session)
                cached = prefix is not None
                if not cached:
                    prefix = self.model.encode(str(req["system"]))
                    self.cache[session] = prefix
            state = [p + q for p, q in zip(prefix, self.model.encode(str(req["question"])))]
            words = self.model.generate("", int(req.get("max_tokens", 6)), state=state)
        except (ValueError, KeyError, TypeError) as e:
            self.error(400, "%s: %s" % (type(e).__name__, e))
            return
        except MemoryError:
            self.error(500, "out of memory")
            return
        self.reply(200, {"text": " ".join(words), "session": session, "cached": cached})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready")
    a = ap.parse_args()
    Handler.model, why = tinylm.load(a.weights)
    if why:
        print(why, file=sys.stderr)
        return 3
    return httpbase.serve(Handler, a.port, a.ready)


if __name__ == "__main__":
    sys.exit(main())
