#!/usr/bin/python3
"""A model server as `mlchaos trace` meets them: it loads a safetensors file with read(), a
GGUF file with numpy.fromfile() (fread), a .npy file with numpy.load(mmap_mode="r") (mmap),
reads every file of a directory (its "sources"), then answers GET requests on 127.0.0.1 (a
port the kernel picks) and exits after --requests of them.

usage: model_server.py SAFETENSORS GGUF NPY SOURCES_DIR --requests N
Prints "port PORT pid PID" on stdout once listening.
"""

import argparse
import http.server
import os
import sys

import numpy


def load(args):
    with open(args.safetensors, "rb") as f:
        weights = f.read()
    table = numpy.fromfile(args.gguf, dtype=numpy.uint8)
    mapped = float(numpy.load(args.npy, mmap_mode="r").sum())
    sources = 0
    for name in sorted(os.listdir(args.sources)):
        with open(os.path.join(args.sources, name), "rb") as f:
            sources += len(f.read())
    return f"{len(weights)} {table.size} {mapped} {sources}\n".encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("safetensors")
    ap.add_argument("gguf")
    ap.add_argument("npy")
    ap.add_argument("sources")
    ap.add_argument("--requests", type=int, required=True)
    args = ap.parse_args()
    answer = load(args)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, fmt, *a):
            pass  # the trace table is what stderr is for

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print(f"port {srv.server_address[1]} pid {os.getpid()}", flush=True)
    for _ in range(args.requests):
        srv.handle_request()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
