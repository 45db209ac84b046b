#!/usr/bin/python3
"""node's `http` server under mlchaos (node_server.js): libuv answers with writev(2) on the
socket, not send(2), and the library's send family must reach it.

Two rules on its responses, both select = request on X-Request-Id: a reset (fail with
ECONNRESET, rate 20 %) first, then a 300 ms delay (rate 30 %). The client sees exactly the
requests `mlchaos select` names for the reset lose their answer (the connection closes
without a response), exactly the delayed ones (selected by the delay and not by the reset)
answered late, the others answered at once; the log shows write/writev faults with those keys;
node keeps serving and stops on SIGTERM. Exit 77 when /usr/bin/node is missing.
"""

import argparse
import glob
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import mctest  # noqa: E402
import rsnet  # noqa: E402

NODE = "/usr/bin/node"
DELAY_S = 0.3
CONFIG = """\
[mlchaos]
seed = 13
log = {log}

[fault.reset]
hook = send
action = fail
errno = ECONNRESET
rate = 20%
select = request

[fault.slow]
hook = send
action = delay
delay = 300ms
rate = 30%
select = request
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    a = ap.parse_args()
    if not os.access(NODE, os.X_OK):
        mctest.skip(f"{NODE} is not installed (Debian: apt-get install nodejs)")
    return mctest.in_tmpdir("mlchaos-rs-node-", lambda tmp: run(a, tmp))


def run(a, tmp):
    env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
    cfg = os.path.join(tmp, "chaos.ini")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(log=os.path.join(tmp, "node-%p.jsonl")))
    ready = os.path.join(tmp, "ready")
    argv = [a.mlchaos, "run", "-c", cfg, "--", NODE, os.path.join(HERE, "node_server.js"), ready]
    p, port = rsnet.start_server(argv, env, tmp, "node", ready)
    keys = [f"n-{i}" for i in range(50)]
    results = {}
    try:
        if not mctest.check(port is not None, f"node listening under mlchaos run: "
                                         f"{p.stderr()[-2000:]}"):
            return
        rsnet.request(port, "GET", "/warm")  # no key: no rule below 100 % selects it
        for k in keys:
            results[k] = rsnet.request(port, "POST", "/predict", key=k, body={"x": k})
        health = rsnet.request(port, "GET", "/health")
    finally:
        rc = p.stop(30)
    err = p.stderr()
    mctest.check(rc == 0 and not mctest.sanitizer_report(err),
                 f"node stopped by SIGTERM, exit {rc}")
    if rc != 0:
        print(err[-4000:], file=sys.stderr)
    reset = rsnet.selected_keys(a.mlchaos, cfg, "reset", keys, env)
    slow = rsnet.selected_keys(a.mlchaos, cfg, "slow", keys, env) - reset
    print(f"selected: reset {sorted(reset)}; delay {sorted(slow)}")
    mctest.check(reset and slow and len(reset | slow) < len(keys),
                 f"each rule selects some keys, not all: {len(reset)} reset, {len(slow)} delayed")
    lost = {k for k, r in results.items() if r[0] != 200}
    mctest.check(lost == reset, f"the requests without an answer are the reset ones (extra "
                           f"{sorted(lost - reset)}, missing {sorted(reset - lost)}): "
                           f"{sorted(set(str(results[k][0]) for k in lost))}")
    rsnet.check_late({k: r[2] for k, r in results.items() if r[0] == 200}, slow, DELAY_S,
                     "answers")
    mctest.check(all(results[k][1].get("key") == k for k in set(keys) - lost),
                 "every answer is for its own request")
    mctest.check(health[0] == 200, f"node still serves: /health {health[0]}")
    lines = []
    for path in glob.glob(os.path.join(tmp, "node-*.jsonl")):
        lines += mctest.read_log(path, mctest.fail)
    fns = sorted({l["fn"] for l in lines})
    mctest.check(lines and set(fns) <= {"write", "writev"},
                 f"faults on node's write/writev on the socket ({fns})")
    mctest.check({l["key"] for l in lines if l["rule"] == "reset"} == reset,
                 "the log's reset keys are the selected ones")
    mctest.check({l["key"] for l in lines if l["rule"] == "slow"} == slow,
                 "the log's delayed keys are the selected ones")


if __name__ == "__main__":
    sys.exit(main())
