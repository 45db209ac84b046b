#!/usr/bin/python3
"""Writes the request files of requests/ (JSON Lines, one request per line): run it again
after changing it, and commit what it wrote. Deterministic (a fixed seed).

Texts are lowercase words without the letter 'b', joined by '-': a flipped bit in them makes
another letter, a '-' another punctuation mark, or a byte that is not UTF-8, but never a '"'
or a '\\' (b is 0x62, one bit from '"'): damaged texts stay valid JSON strings, so input
damage changes answers without making requests fail. They are long (over 1 KiB) so that
damage to bytes 512 to 1024 of a read lands in them, whether the read brought the headers
too or the body alone.
"""

import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "requests")
SYLLABLES = [c + v for c in "dfghklmnprstvz" for v in "aeiou"]


def text(rng, min_bytes):
    words = []
    while sum(len(w) + 1 for w in words) < min_bytes:
        words.append("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))))
    return "-".join(words)


def rows(rng, n, digits=4):
    return [[round(rng.uniform(-2, 2), digits) for _ in range(16)] for _ in range(n)]


def write(name, lines):
    with open(os.path.join(OUT, name), "w") as f:
        for obj in lines:
            f.write(json.dumps(obj, separators=(",", ":")) + "\n")


def main():
    rng = random.Random(2024)
    os.makedirs(OUT, exist_ok=True)
    # reference JSON APIs: a body per line
    # batches of 100 rows: the allocations of a request's body and features (over 9000 bytes)
    # are apart from gunicorn's own (8 KiB reads), for a malloc rule to aim at
    write("sklearn.jsonl", [{"inputs": rows(rng, 100, 2)} for _ in range(40)])
    write("torch.jsonl", [{"inputs": rows(rng, 2)} for _ in range(40)])
    # node: the long form, method, path and headers given
    write("node.jsonl", [{"method": "POST", "path": "/predict",
                          "headers": {"Content-Type": "application/json"},
                          "body": {"inputs": rows(rng, 2)}} for _ in range(40)])
    write("openai-completions.jsonl",
          [{"prompt": text(rng, 1200), "max_tokens": 8} for _ in range(40)])
    write("openai-chat.jsonl",
          [{"messages": [{"role": "system", "content": text(rng, 800)},
                         {"role": "user", "content": text(rng, 400)}], "max_tokens": 8}
           for _ in range(40)])
    # eight sessions, six rounds, interleaved: each session's first request comes early
    systems = [text(rng, 1500) for _ in range(8)]
    write("cache.jsonl", [{"session": "s%d" % s, "system": systems[s],
                           "question": text(rng, 40), "max_tokens": 6}
                          for _ in range(6) for s in range(8)])
    write("lying.jsonl", [{"prompt": text(rng, 1200), "max_tokens": 6} for _ in range(40)])
    # kserve-v2, the three forms the preset shapes, in turn: a bare array (one row), an
    # object with "data" (two rows, flat), a whole "inputs" request (two rows, nested)
    kserve = []
    for i in range(40):
        if i % 4 == 0:
            kserve.append(rows(rng, 1)[0])
        elif i % 4 in (1, 2):
            kserve.append({"name": "input-0", "shape": [2, 16],
                           "data": [v for r in rows(rng, 2) for v in r]})
        else:
            kserve.append({"id": "batch-%d" % i, "inputs": [
                {"name": "input-0", "shape": [2, 16], "datatype": "FP32",
                 "data": rows(rng, 2)}]})
    write("kserve.jsonl", kserve)


if __name__ == "__main__":
    main()
