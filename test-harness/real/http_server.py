#!/usr/bin/python3
"""A ThreadingHTTPServer on 127.0.0.1, on a port the kernel picks.

Prints "port PORT pid PID" on stdout once listening, then answers
GET /item/N with http_body.body(N) (HTTP/1.1, keep-alive) until killed.
"""

import http.server
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_body  # noqa: E402


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two send() calls; with Nagle's algorithm the second waits
    # for the client's delayed ACK, 40 ms per request.
    disable_nagle_algorithm = True

    def do_GET(self):
        try:
            n = int(self.path.rsplit("/", 1)[1])
        except ValueError:
            self.send_error(404)
            return
        data = http_body.body(n)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass  # one line per request on stderr would bury the trace table


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"port {srv.server_address[1]} pid {os.getpid()}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
