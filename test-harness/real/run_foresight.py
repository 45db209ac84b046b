#!/usr/bin/python3
"""select = request decided once a request gives what deciding every call gives: Python's
ThreadingHTTPServer (http_server.py; Debian's python3, keep-alive HTTP/1.1) under two
`select = request` rules, one on read and one on send (shadow, so every selected call is
logged and nothing changes), and then under the same rules with `max_size = 1TiB` added.
The first pair is decided once per request, when its key is found (each rule alone on its
family, nothing but the key to test: the library keeps the verdict for the request's calls);
the size limit, which no call here comes near, makes every call ask the rules instead. The
same requests (connections of several requests each, one thread each in the server, which
reads with recv and answers with two sends) must give the same log in both runs: the same
(rule, key, function, thread, call number) lines, where the call number counts every call
the rule matched on its thread, the ones let through unasked included. The keys logged are
those `mlchaos select` names, and the answers are the server's own. The server is stopped
by pid.
"""

import argparse
import collections
import os
import shutil
import socket
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import http_body  # noqa: E402
import mctest  # noqa: E402
import rsnet  # noqa: E402

PY = "/usr/bin/python3"
CONNECTIONS = 6
PER_CONNECTION = 25
START_DEADLINE_S = 60
CONFIG = """\
[mlchaos]
seed = 11
log = {log}

[fault.reads]
hook = read
action = delay
delay = 1us
rate = 30%
shadow = true
{extra}
[fault.sends]
hook = send
action = delay
delay = 1us
rate = 40%
shadow = true
{extra}"""


def request(s, key, n):
    """One GET on connection s; the body, or None when the answer did not come whole."""
    s.sendall(f"GET /item/{n} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: {key}\r\n\r\n"
              .encode())
    return mctest.http_answer(s)


def one_run(a, tmp, label, extra):
    """Serves the requests under the rules (extra: lines added to each); returns the keys
    sent, the log's lines and the config's path."""
    log = os.path.join(tmp, f"{label}-%p.jsonl")
    cfg = os.path.join(tmp, f"{label}.ini")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(log=log, extra=extra))
    env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
    p = mctest.Proc([a.mlchaos, "run", "-c", cfg, "--", PY, os.path.join(HERE, "http_server.py")],
                    env, os.path.join(tmp, f"{label}.stderr"))
    keys, bad = [], []
    try:
        line = p.wait_line("port ", START_DEADLINE_S)
        mctest.require(line is not None, f"{label}: the server did not start: {p.stderr()}")
        port, pid = int(line.split()[1]), int(line.split()[3])
        for c in range(CONNECTIONS):
            with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
                for i in range(PER_CONNECTION):
                    key = f"req-{c}-{i}"
                    keys.append(key)
                    n = c * PER_CONNECTION + i
                    if request(s, key, n) != http_body.body(n):
                        bad.append(key)
                # The server's thread reads the end of the connection (a read decided with
                # the last key, logged when selected) and closes: wait for that, so that
                # the stop below never comes before it.
                s.shutdown(socket.SHUT_WR)
                mctest.check(s.recv(1) == b"", f"{label}: connection {c} closed by the server")
    finally:
        p.stop(30)
    mctest.check(not bad, f"{label}: the server's own answers: {bad[:5]} differ")
    lines = mctest.read_log(log.replace("%p", str(pid)), mctest.fail)
    return keys, lines, cfg, env


def summary(lines):
    return collections.Counter((l["rule"], l["key"], l["fn"], l["thread"], l["call"])
                               for l in lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mlchaos-foresight-")
    try:
        keys, once, cfg, env = one_run(a, tmp, "once", "")
        _, every, _, _ = one_run(a, tmp, "every", "max_size = 1TiB\n")
        for rule in ("reads", "sends"):
            want = rsnet.selected_keys(a.mlchaos, cfg, rule, keys, env)
            got = {l["key"] for l in once if l["rule"] == rule}
            mctest.check(0 < len(want) < len(keys), f"{rule}: {len(want)} of {len(keys)} "
                                                     "requests selected")
            mctest.check(got == want, f"{rule}: the keys logged are those `mlchaos select` "
                                      f"names: {sorted(got ^ want)[:10]} differ")
        a_once, a_every = summary(once), summary(every)
        print(f"{len(keys)} requests: {len(once)} calls logged when decided once a request, "
              f"{len(every)} when every call is decided")
        mctest.check(a_once == a_every,
                     "the same (rule, key, function, thread, call) lines either way: "
                     f"only once {sorted(a_once - a_every)[:5]}, "
                     f"only every call {sorted(a_every - a_once)[:5]}")
        mctest.check(any(l["rule"] == "reads" and l["call"] > 1 for l in once),
                     "call numbers past a thread's first call of the rule")
        return mctest.finish()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
