"""What run_experiments.py expects of each server and each case: one place to adjust.

SERVERS: per server, its experiment file, the model files it loads, what it needs
installed, how the direct check reads its answers, and the faults of each case:

  silent   rules that damage what the server loads at start (run with restart = true): the
           answers change, every request still succeeds
  halt     a rule on the predict path that makes the server answer 5xx, for the watchdog
           (HALT_KEYS below)
  input    (some) rules that damage request bodies: the answers change silently

A server's "path" is where its requests go when neither the line nor the URL names one (the
preset's), and "shape" the preset that shapes each line into a body, as mlchaos does.

REPORT: where the figures, the verdict and the JUnit testcases are found in what
`mlchaos experiment --json` / `--junit` write. `${EXP_PORT}`, `${EXP_MODELS}` and
`${EXP_SK_COEF}` are set by the driver in the environment of mlchaos.
"""

# Every file read at start is damaged in every process: bits flipped (64 per 4 KiB page).
def rot(glob):
    return f"""
[fault.weights-rot]
hook = read
action = corrupt
path = {glob}
mode = bitflip
count = 64
select = call
"""


# Rule name: tensor values of the files matching glob turned negative as hook brings them.
def signs(name, hook, glob):
    return f"""
[fault.{name}]
hook = {hook}
action = corrupt
path = {glob}
region = tensors
mode = sign
count = 64
damage = signs
select = call
"""


# Half the requests, by X-Request-Id, fail one allocation of the sizes given while serving.
def no_memory(min_size, max_size=None):
    bound = f"max_size = {max_size}\n" if max_size else ""
    return f"""
[fault.no-memory]
hook = malloc
action = fail
phase = serve
min_size = {min_size}
{bound}rate = 50%
select = request
"""


# A flipped bit in a quarter of the request bodies: between bytes 512 and 1024 of what a read
# of the socket brought (headers and body, or the body alone), which is inside the long texts
# of requests/, never in the headers or the JSON around the texts; a text survives the flip.
INPUT_DAMAGE = """
[fault.garble]
hook = read
action = corrupt
port = ${EXP_PORT}
offset = 512-1024
mode = bitflip
count = 1
rate = 25%
select = request
"""

TINY_SILENT = rot("*/tiny.bin")
TINY_HALT = no_memory("256KiB")  # tinylm's working memory: 64 KiB per word

SERVERS = {
    "sklearn": {
        "ini": "sklearn.ini", "models": ["sklearn"],
        "needs": ["/usr/bin/gunicorn", "python3:sklearn"],
        "answer": "/proba",
        # the pickle is no format the library knows: zero the coefficients' bytes
        "silent": """
[fault.coef-zero]
hook = read
action = corrupt
path = */sk-model.pkl
offset = ${EXP_SK_COEF}
mode = zero
count = 4096
select = call
""",
        # its body and its features as numbers (100 rows): over 9000 bytes, inside sk_app's
        # try; gunicorn's own reads are 8 KiB
        "halt": no_memory("9000"),
    },
    "torch": {
        "ini": "torch.ini", "models": ["torch"], "needs": ["python3:torch"],
        "answer": "/pred",
        # values of the tensors turned negative, in whatever way torch.load reads the file
        "silent": signs("sign-read", "read", "*/model.pt")
        + signs("sign-map", "mmap", "*/model.pt"),
        "halt": no_memory("32KiB"),  # the hidden activations (2 x 8192 float32)
    },
    "node": {
        "ini": "node.ini", "models": ["node"], "needs": ["/usr/bin/node"],
        "answer": "/outputs",
        "silent": rot("*/node.bin"),
        "halt": no_memory("48000", "48000"),  # the hidden activations (2 x 3000 float64)
    },
    "kserve": {
        "ini": "kserve.ini", "models": ["kserve"], "needs": ["python3:numpy"],
        "answer": "/outputs/0/data", "path": "/v2/models/perceptron/infer",
        "shape": "kserve-v2",
        "silent": rot("*/kserve.bin"),
        "halt": no_memory("48000", "48000"),  # two rows' hidden activations (2 x 3000 float64)
    },
    "openai-completions": {
        "ini": "openai-completions.ini", "models": ["tiny"], "needs": [],
        "answer": "/choices/0/text",
        "silent": TINY_SILENT, "halt": TINY_HALT, "input": INPUT_DAMAGE,
    },
    "openai-chat-stream": {
        "ini": "openai-chat-stream.ini", "models": ["tiny"], "needs": [],
        "answer": "/choices/0/message/content", "stream": True,
        "silent": TINY_SILENT, "halt": TINY_HALT,
    },
    "cache": {
        "ini": "cache.ini", "models": ["tiny"], "needs": [],
        "answer": "/text",
        "silent": TINY_SILENT, "halt": TINY_HALT, "input": INPUT_DAMAGE,
    },
    "lying": {
        "ini": "lying.ini", "models": ["tiny"], "needs": [],
        "answer": "/text",
        "silent": TINY_SILENT, "halt": TINY_HALT,
        # its weights cannot be read at start: it serves on without them
        "unreadable": """
[fault.weights-eio]
hook = read
action = fail
errno = EIO
path = */tiny.bin
select = call
""",
    },
}

# The transport cases (tls, http2): the models they load and what they need installed.
TRANSPORTS = {
    "tls": {"models": ["sklearn"], "needs": ["/usr/bin/gunicorn", "python3:sklearn",
                                             "/usr/bin/openssl"]},
    "http2": {"models": [], "needs": ["/usr/sbin/nghttpd", "/usr/bin/openssl"]},
    "sweep": {"models": ["sweep"], "needs": ["python3:torch"]},
}

# The sweeps of sweep.ini (sweep_server.py): per swept key, its values (damage growing) and
# the fault keys that go with it. Switching the curve to another key is one entry here.
SWEEPS = {
    "count": {"values": "1 64 512 4096", "keys": []},
    # Gaussian noise on every value of the table, its std swept over six decades
    "std": {"values": "0.0001 0.01 1 100",
            "keys": ["mode = noise", "std = 0.0001", "count = all"]},
}
# The curve: agreement at the smallest value at least SWEEP_TOP, at the largest at most
# SWEEP_BOTTOM (sweep_server.py's 4 classes: a random answer agrees one time in four).
SWEEP_TOP, SWEEP_BOTTOM = 0.95, 0.5
# per = tensor (count = 16 NaNs per tensor): the output layer's tensors change most answers,
# the tensor no request reads none.
RANKING_FIRST = {"head.weight", "head.bias"}
RANKING_HARMLESS = "unused"

# The watchdog of the halt cases: more than 10 % of the last 10 responses 5xx.
HALT_KEYS = {"mlchaos": ["halt_on_error_rate = 10%", "halt_window = 10"]}
RESTART_KEYS = {"experiment": ["restart = true"]}

# Exit statuses of `mlchaos experiment`, and the verdicts as the report spells them
# (compared without regard to case).
EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
VERDICT_HALTED = "halted"
# Where a phase's figure for a metric may be, in that order, under doc["phases"][PHASE].
FIGURE_PLACES = [(), ("figures",), ("metrics",), ("load",)]
# How a JUnit testcase names the hypothesis and the phase it checked: both strings must be
# found in "classname name" of a testcase with a <failure> (or <error>).
JUNIT_PHASE_TEXT = {"before": "before", "during": "during", "after": "after"}
# What bad input must print on stderr (regular expressions; {file} and {line} filled in).
MSG_BROKEN_LINE = r"{file}:{line}:"
MSG_NO_POINTER = r"/no/such/member"
MSG_NOT_JSON = r"(?i)json"
