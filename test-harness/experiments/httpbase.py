"""What the experiment servers written in this harness share: a threading HTTP/1.1 server on
127.0.0.1 (a fixed port, or 0), the port written to a ready file once listening, SIGTERM as a
clean stop, JSON replies, and request bodies read tolerantly (bytes that are not UTF-8 are
replaced, control characters are accepted in strings), so that damaged input gives a
different answer rather than an error: the silent kind of damage the experiments look for."""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked answers for streaming

    def log_message(self, fmt, *args):  # quiet: stderr is for errors
        pass

    def reply(self, code, obj, ctype="application/json"):
        body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, code, message):
        self.reply(code, {"error": {"message": message, "code": code}})

    def body(self):
        """The request's JSON object; raises ValueError when there is none."""
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace")
        doc = json.loads(raw, strict=False)
        if not isinstance(doc, dict):
            raise ValueError("the body is not a JSON object")
        return doc

    def start_chunks(self, ctype="text/event-stream"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True  # (HTTPServer reuses the address: a restart on the same port)


def serve(handler, port, ready):
    """Listens on 127.0.0.1:port, writes the port to ready (atomically), serves until
    SIGTERM. Returns the exit status."""
    srv = Server(("127.0.0.1", port), handler)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    if ready:
        with open(ready + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(ready + ".tmp", ready)
    try:
        srv.serve_forever(poll_interval=0.1)
    finally:
        srv.server_close()
    return 0
