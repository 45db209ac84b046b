"""A tiny deterministic language model for the experiment servers written in this harness
(openai_server.py, cache_server.py, lying_server.py): words in, words out, computed from
weights read from a file at start, so that damaged weights change the answers silently.

Weights file: raw little-endian float32, VOCAB x DIM embeddings then DIM x VOCAB output
weights (8 KiB). `python3 tinylm.py make PATH` writes the file the tests use.
A prompt's words ([a-z]+) are hashed (crc32) to token ids; the state is the mean of their
embeddings plus the embedding of the prompt's fingerprint (the crc32 of all its words), so
that any change to a word changes the answer, as it mostly does with a real model; each step picks the word with the largest logit (first one on ties, a NaN never
wins) and folds its embedding into the state. No randomness: the same weights and prompt give
the same words in every process. Like a real server's key/value cache, generation first
reserves its working memory, 64 KiB per word asked for, in one allocation: when that fails
(MemoryError), the request fails, not the process.
"""

import math
import random
import re
import struct
import sys
import zlib

VOCAB, DIM = 64, 16
WORDS = [a + b for a in ("ka", "lo", "mi", "nu", "pe", "ri", "so", "tu")
         for b in ("n", "m", "r", "s", "t", "l", "k", "z")]
N_FLOATS = VOCAB * DIM * 2
WORK_BYTES_PER_TOKEN = 64 * 1024


def make(path, seed=7):
    rng = random.Random(seed)
    vals = [rng.uniform(-1.0, 1.0) for _ in range(N_FLOATS)]
    with open(path, "wb") as f:
        f.write(struct.pack("<%df" % N_FLOATS, *vals))


class Model:
    def __init__(self, path):
        with open(path, "rb") as f:
            raw = f.read()
        if len(raw) != N_FLOATS * 4:
            raise ValueError("%s: %d bytes, want %d" % (path, len(raw), N_FLOATS * 4))
        w = struct.unpack("<%df" % N_FLOATS, raw)
        self.emb = [w[i * DIM:(i + 1) * DIM] for i in range(VOCAB)]
        out = w[VOCAB * DIM:]
        self.out = [out[d * VOCAB:(d + 1) * VOCAB] for d in range(DIM)]

    def encode(self, text):
        """The state of a prompt: its fingerprint's embedding plus its words' mean one."""
        words = re.findall(r"[a-z]+", text.lower())
        state = list(self.emb[zlib.crc32(" ".join(words).encode()) % VOCAB])
        for word in words:
            e = self.emb[zlib.crc32(word.encode()) % VOCAB]
            state = [s + x / len(words) for s, x in zip(state, e)]
        return state

    def step(self, state):
        """(the next word's id, the new state)."""
        best, best_v = 0, -math.inf
        for v in range(VOCAB):
            logit = sum(state[d] * self.out[d][v] for d in range(DIM))
            if logit > best_v:  # False for NaN: a NaN logit never wins
                best, best_v = v, logit
        return best, [0.5 * s + x for s, x in zip(state, self.emb[best])]

    def generate(self, text, max_tokens, state=None):
        """The words that follow text (or a state from encode()), one per step."""
        work = bytearray(WORK_BYTES_PER_TOKEN * max_tokens)  # noqa: F841 (reserved)
        state = self.encode(text) if state is None else state
        words = []
        for _ in range(max_tokens):
            tok, state = self.step(state)
            words.append(WORDS[tok])
        return words


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
        sys.exit(0)
    print("usage: tinylm.py make PATH", file=sys.stderr)
    sys.exit(2)


def load(path):
    """(the model in path, None), or (None, why) when it cannot be read as one: what every
    server here says when its weights are missing or damaged."""
    try:
        return Model(path), None
    except (OSError, ValueError) as e:
        return None, "load failed: %s: %s" % (type(e).__name__, e)
