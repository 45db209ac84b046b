#!/usr/bin/python3
"""A minimal OpenAI-compatible model server for the load client's tests: /v1/completions and
/v1/chat/completions (whole or streamed as server-sent events), /health, and /text (an answer
that is not JSON). Written in the harness because no Debian package provides an
OpenAI-compatible server that runs here without downloading a model.

    openai_stub.py --ready-file PATH [--token-ms N] [--honest-health]

Answers are deterministic: the completion of a prompt is "echo:" followed by its words, one
token per word, streamed --token-ms apart. SIGUSR1 toggles a broken mode (what the
experiment's `signal = USR1` sends when chaos starts and again when it stops): while broken,
every completion answers 500, and /health still answers 200 (a liar) unless
--honest-health, when it answers 503. The port goes to the ready file once listening."""

import argparse
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
BROKEN = False


def toggle(signum, frame):
    global BROKEN
    BROKEN = not BROKEN


def words_of(body, chat):
    if chat:
        text = " ".join(m.get("content", "") for m in body.get("messages", []))
    else:
        text = body.get("prompt", "")
    return ["echo:"] + str(text).split()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body, ctype="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            ok = not (BROKEN and ARGS.honest_health)
            self.answer(200 if ok else 503, '{"status":"%s"}' % ("ok" if ok else "broken"))
        else:
            self.answer(404, '{"error":"not found"}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        if self.path == "/text":
            self.answer(200, "plain text, not JSON", "text/plain")
            return
        chat = self.path == "/v1/chat/completions"
        if self.path not in ("/v1/completions", "/v1/chat/completions"):
            self.answer(404, '{"error":"not found"}')
            return
        if BROKEN:
            self.answer(500, '{"error":"broken"}')
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self.answer(400, '{"error":"bad json"}')
            return
        words = words_of(body, chat)[: int(body.get("max_tokens", 16))]
        if body.get("stream"):
            self.stream(words, chat)
        else:
            text = " ".join(words)
            choice = {"message": {"role": "assistant", "content": text}} if chat \
                else {"text": text}
            self.answer(200, json.dumps({"object": "completion", "choices": [choice]}))

    def stream(self, words, chat):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for i, w in enumerate(words):
            piece = (" " if i else "") + w
            choice = {"delta": {"content": piece}} if chat else {"text": piece}
            self.wfile.write(b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n")
            self.wfile.flush()
            time.sleep(ARGS.token_ms / 1000.0)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--token-ms", type=float, default=2.0)
    ap.add_argument("--honest-health", action="store_true")
    ARGS = ap.parse_args()
    signal.signal(signal.SIGUSR1, toggle)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = ARGS.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, ARGS.ready_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
