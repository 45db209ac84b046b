#!/usr/bin/python3
"""Sends N requests to the test server on 127.0.0.1:PORT and digests the answers.

usage: http_client.py PORT N

Keep-alive, with a new connection every 100 requests (so the server accepts
several). Every body is checked against http_body.body(n); prints the count,
the bytes and one sha256 over statuses and bodies. Exit 1 on any mismatch.
"""

import hashlib
import http.client
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_body  # noqa: E402

PER_CONNECTION = 100


def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    digest = hashlib.sha256()
    total = 0
    bad = 0
    conn = None
    for n in range(count):
        if n % PER_CONNECTION == 0:
            if conn:
                conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", f"/item/{n}")
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200 or data != http_body.body(n):
            bad += 1
        digest.update(f"{resp.status} {len(data)}\n".encode())
        digest.update(data)
        total += len(data)
    conn.close()
    print(f"{count} requests, {total} body bytes, {bad} wrong, sha256 {digest.hexdigest()}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
