"""HTTP on 127.0.0.1 for the real-process tests: one request per connection, bounded by a
timeout, the X-Request-Id header set, the outcome and the latency returned; and a server
process started with a ready file (or a port in its output) and stopped by pid."""

import http.client
import json
import os
import socket
import subprocess
import time

import mctest

TIMEOUT_S = 30


def request(port, method, path, key=None, body=None, timeout_s=TIMEOUT_S):
    """Returns (status or an error name, parsed JSON body or text, seconds)."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    headers = {"Connection": "close"}
    if key is not None:
        headers["X-Request-Id"] = key
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        status = resp.status
        try:
            out = json.loads(raw)
        except ValueError:
            out = raw.decode("utf-8", "replace")
    except (ConnectionError, http.client.HTTPException, socket.timeout, OSError) as e:
        status, out = type(e).__name__, str(e)
    finally:
        conn.close()
    return status, out, time.monotonic() - t0


def start_server(argv, env, tmp, name, ready, deadline_s=120):
    """Starts a server whose port appears in the file ready. Returns (Proc, port or None)."""
    p = mctest.Proc(argv, env, os.path.join(tmp, name + ".stderr"))

    def port():
        if os.path.exists(ready):
            with open(ready) as f:
                text = f.read().strip()
            return int(text) if text.isdigit() else None
        return None if p.alive() else -1

    got = mctest.poll(port, deadline_s)
    if got in (None, -1):
        return p, None
    return p, got


def selected_keys(mlchaos, config, rule, keys, env):
    """The keys `mlchaos select` says rule selects."""
    p = subprocess.run([mlchaos, "select", "-c", config, rule, "-"], input="\n".join(keys) + "\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"mlchaos select: exit {p.returncode}: {p.stderr}")
    out = set()
    for line in p.stdout.splitlines():
        k, _, verdict = line.rpartition(" ")
        if verdict == "selected":
            out.add(k)
    return out


def check_late(latencies, want, delay_s, what="requests"):
    """Checks that the late answers are the delayed ones, in a way a busy machine cannot fake:
    each of want (the keys a delay rule selects) took at least delay_s, which no delay can
    skip; an answer not selected but as slow was slowed by the machine, not by the library
    (its log says which it delayed), and at most one in ten of them may be. latencies: key ->
    seconds. Returns the slow unselected keys."""
    late = {k for k, s in latencies.items() if s >= delay_s}
    others = set(latencies) - want
    extra = late - want
    mctest.check(want <= late, f"every delayed {what[:-1]} took {delay_s} s or more (missing "
                          f"{sorted(want - late)})")
    mctest.check(len(extra) * 10 <= len(others),
                 f"few {what} not delayed were as slow ({len(extra)} of {len(others)}: "
                 f"{sorted(extra)[:5]})")
    if extra:
        print(f"{len(extra)} {what} not delayed took {delay_s} s or more (a busy machine): "
              f"{sorted(extra)[:10]}")
    return extra
