#!/usr/bin/python3
"""The HTTP server the watchdog tests run under libmlchaos.so.

ThreadingHTTPServer on 127.0.0.1, port 0. GET reads DATA_FILE with os.read (read(2), where
the test's fault rules act) and answers 200 with its bytes, or 500 when the read fails: the
shape of a model server whose weights read fails. Prints "port P pid N" once listening, and
serves until its stdin closes (then exits 0). Never decides anything by timing.
"""

import http.server
import os
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree


class Handler(http.server.BaseHTTPRequestHandler):
    data_file = ""

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        try:
            fd = os.open(self.data_file, os.O_RDONLY)
            try:
                body = os.read(fd, 4096)
            finally:
                os.close(fd)
        except OSError as e:
            body = ("read failed: %s\n" % e.strerror).encode()
            self.send_response(500)
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass  # quiet: the test reads statuses, not logs


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: wd_server.py DATA_FILE\n")
        return 2
    Handler.data_file = sys.argv[1]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdout.write("port %d pid %d\n" % (server.server_address[1], os.getpid()))
    sys.stdout.flush()
    sys.stdin.read()  # until the test closes our stdin
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
