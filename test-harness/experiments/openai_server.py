#!/usr/bin/python3
"""An OpenAI-compatible completion server for the experiments: /v1/completions and
/v1/chat/completions, each with "stream": false (one JSON answer) or true (server-sent
events: `data: {chunk}` per word, then `data: [DONE]`).

Written in this harness because Debian 12 packages no OpenAI-compatible server (no
llama.cpp, no vLLM) and no model can be downloaded here. Its answers come from tinylm.py: a
deterministic function of the prompt and of weights read from a file at start, so damaged
weights (or a damaged prompt) change the answers and nothing else.

usage: openai_server.py --weights FILE [--port N] [--ready FILE] [--token-delay-ms MS]

  POST /v1/completions        {"prompt": TEXT, "max_tokens": N, "stream": BOOL, "model": M}
  POST /v1/chat/completions   {"messages": [{"role", "content"}...], "max_tokens", "stream"}
  GET  /v1/models, GET /health
A body that is not a JSON object: 400. Any model name is served (and echoed). SIGTERM stops
it (exit 0).
"""

import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpbase  # noqa: E402
import tinylm  # noqa: E402

MODEL_ID = "tinylm"
MAX_TOKENS = 64


class Handler(httpbase.Handler):
    model = None
    token_delay_s = 0.0

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, {"status": "ok"})
        elif self.path == "/v1/models":
            self.reply(200, {"object": "list",
                             "data": [{"id": MODEL_ID, "object": "model", "owned_by": "mlchaos"}]})
        else:
            self.error(404, "not found: " + self.path)

    def do_POST(self):
        chat = self.path == "/v1/chat/completions"
        if not chat and self.path != "/v1/completions":
            self.error(404, "not found: " + self.path)
            return
        try:
            req = self.body()
            if chat:
                prompt = "\n".join(str(m.get("content", "")) for m in req["messages"])
            else:
                prompt = str(req["prompt"])
            n = max(1, min(int(req.get("max_tokens", 8)), MAX_TOKENS))
            words = self.model.generate(prompt, n)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            self.error(400, "%s: %s" % (type(e).__name__, e))
            return
        except MemoryError:
            self.error(500, "out of memory")
            return
        rid = "cmpl-%s" % self.headers.get("X-Request-Id", "none")[:64]
        model = str(req.get("model") or MODEL_ID)[:64]
        kind = "chat.completion" if chat else "text_completion"
        if req.get("stream"):
            self.stream(rid, model, kind, chat, words)
            return
        text = " ".join(words)
        choice = {"index": 0, "finish_reason": "length"}
        if chat:
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
            choice["logprobs"] = None
        self.reply(200, {"id": rid, "object": kind, "created": int(time.time()), "model": model,
                         "choices": [choice],
                         "usage": {"prompt_tokens": len(prompt.split()),
                                   "completion_tokens": len(words),
                                   "total_tokens": len(prompt.split()) + len(words)}})

    def stream(self, rid, model, kind, chat, words):
        self.start_chunks()
        kind += ".chunk" if chat else ""
        for i, w in enumerate(words):
            piece = w if i == 0 else " " + w
            choice = {"index": 0, "finish_reason": None}
            if chat:
                choice["delta"] = {"role": "assistant", "content": piece} if i == 0 \
                    else {"content": piece}
            else:
                choice["text"] = piece
            if self.token_delay_s:
                time.sleep(self.token_delay_s)
            self.event({"id": rid, "object": kind, "created": int(time.time()),
                        "model": model, "choices": [choice]})
        last = {"index": 0, "finish_reason": "length"}
        last["delta" if chat else "text"] = {} if chat else ""
        self.event({"id": rid, "object": kind, "created": int(time.time()), "model": model,
                    "choices": [last]})
        self.chunk(b"data: [DONE]\n\n")
        self.end_chunks()

    def event(self, obj):
        self.chunk(b"data: " + json.dumps(obj).encode() + b"\n\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready")
    ap.add_argument("--token-delay-ms", type=float, default=0.0)
    a = ap.parse_args()
    Handler.model, why = tinylm.load(a.weights)
    if why:
        print(why, file=sys.stderr)
        return 3
    Handler.token_delay_s = a.token_delay_ms / 1000.0
    return httpbase.serve(Handler, a.port, a.ready)


if __name__ == "__main__":
    sys.exit(main())
