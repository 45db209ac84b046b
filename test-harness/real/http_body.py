"""The body the test server sends for request number n: 0 to 19,999 bytes, derived from n
alone, so the client can check every byte and two runs can be compared."""

import hashlib


def body(n):
    size = (n * 7919) % 20000
    block = hashlib.sha256(str(n).encode()).digest()
    return (block * (size // len(block) + 1))[:size]
