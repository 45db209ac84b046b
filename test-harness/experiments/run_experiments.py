#!/usr/bin/python3
"""`mlchaos experiment` against real model servers, and the servers themselves.

    run_experiments.py --mlchaos BIN [--env KEY=VALUE]... CASE

Cases (the expectations per server are in table.py):

  server-NAME         the server alone, under `mlchaos run`, answered by this script: every
                      request of its file answered 2xx with an answer at its pointer, the
                      same answers in a second start; its silent faults change answers and
                      fail none; its halt fault makes 5xx; plus what its special cases need
                      (cache: damage leaks into requests not selected; lying: /health 200
                      while every prediction fails, 503 with --honest). Needs no more than
                      `mlchaos run`.
  NAME-clean          no fault: exit 0, agreement 100% in every phase, no failed testcase
  NAME-silent         load-time damage with restart = true: agreement fails during chaos
                      and holds after it, success_rate holds; JUnit names the failing case
  NAME-halt           the watchdog halts injection during chaos: verdict HALTED, exit 1
  allow-halt          the same with allow_halt = true: not HALTED
  openai-input        request bodies damaged: agreement fails, success_rate holds, nothing
                      contaminated (no shared state)
  cache-contaminated  damage to a session's first request: contaminated > 0 during chaos
  lying-health-lies   a server that lost its model answers /health 200: health_lies > 0
  honest-health       the same server saying 503: health_lies == 0
  bad-line            a requests file with a broken line: FILE:LINE:, exit 2
  bad-pointer         an answer pointer that matches nothing: per-request messages, a report
  not-json            a server answering text: per-request messages, a report
  worker-crash        config/worker-crash.ini in gunicorn's workers: SIGKILL in half of
                      them; success_rate dips during chaos, is whole after; replacements ran
  tls                 gunicorn + scikit-learn serving HTTPS (a self-signed certificate made
                      with openssl): the experiment over https, readiness and health probed
                      over https, `insecure = true`: exit 0, agreement 100%; without
                      `insecure` every request fails and says why (the certificate)
  sweep-count         sweep.ini: [sweep] of fault.weights.count (NaNs in an embedding table,
                      a fresh start per value): agreement falls as the count grows (near
                      100% first, low last), success_rate holds, a JUnit testcase per value,
                      the CSV and SVG written (one row, one point per value; the axes
                      labelled), the same curve in a second run
  sweep-std           the same with fault.weights.std (mode = noise); skips while `mlchaos
                      check` rejects mode = noise
  sweep-ranking       per = tensor, gate = none: the output layer's tensors rank first, the
                      unused tensor changes nothing; exit 0 (reported, not judged); CSV in
                      rank order, a bar per tensor
  sweep-until         until = failure: the values after the first that fails a hypothesis
                      are not run (JSON not_run), exit 1
  sweep-bad           a value the config parser refuses: FILE:LINE: at the values line, exit 2
  http2               nghttpd (Debian nghttp2-server) serving a JSON file: `mlchaos load
                      --http 2` over TLS multiplexes its 4 requests in flight on one
                      connection; over plain http (prior knowledge) every request is
                      answered too (a connection each where libcurl cannot reuse one, said
                      on stderr)

Every server listens on 127.0.0.1 only and is stopped by pid. The experiment cases skip
(exit 77) when `mlchaos experiment --help` does not mention --junit (a tree without the
experiment features they test); a case whose server is not installed skips too.
Exit status: 0 passed, 1 failed, 77 skipped.
"""

import argparse
import configparser
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mctest  # noqa: E402
import table  # noqa: E402
from table import SERVERS  # noqa: E402

PY = "/usr/bin/python3"
OPENSSL = "/usr/bin/openssl"
NGHTTPD = "/usr/sbin/nghttpd"
PHASES = ("before", "during", "after")
EXPERIMENT_TIMEOUT_S = 400
START_TIMEOUT_S = 90
REQUEST_TIMEOUT_S = 30
MISSING = object()


class Skip(Exception):
    pass


# ---- files: the experiment files of this directory, derived per case ----

def ini_text(server):
    name = SERVERS[server]["ini"] if server in SERVERS else server + ".ini"
    with open(os.path.join(HERE, name)) as f:
        return f.read().replace("${EXPERIMENT_DIR}", HERE)


def ini_get(text, section, key):
    cp = configparser.ConfigParser(interpolation=None, comment_prefixes=(";", "#"),
                                   inline_comment_prefixes=None, strict=False)
    cp.read_string(text)
    return cp.get(section, key, fallback=None)


def with_keys(text, keys):
    """text with the lines of keys ({section: ["key = value", ...]}) set in their sections:
    a key already there is replaced, a section not there is added."""
    for section, lines in keys.items():
        for line in lines:
            key = line.split("=", 1)[0].strip()
            m = re.search(r"(?ms)^\[%s\]\n(.*?)(?=^\[|\Z)" % re.escape(section), text)
            if not m:
                text = text.rstrip("\n") + "\n\n[%s]\n%s\n" % (section, line)
                continue
            body = m.group(1)
            if re.search(r"(?m)^%s\s*=" % re.escape(key), body):
                body = re.sub(r"(?m)^%s\s*=.*$" % re.escape(key), line, body)
            else:
                body = line + "\n" + body
            text = text[:m.start(1)] + body + text[m.end(1):]
    return text


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def expand(value, env, run_dir):
    def var(m):
        name = m.group(1)
        if name == "RUN_DIR":
            return run_dir
        return env[name]
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", var, value)


def requests_of(path):
    """(method, path or None, headers, body) of each line of a requests file."""
    out = []
    with open(path) as f:
        for line in f:
            doc = json.loads(line)
            if "body" in doc and set(doc) <= {"body", "method", "path", "headers", "expect"}:
                out.append((doc.get("method", "POST"), doc.get("path"), doc.get("headers", {}),
                            doc["body"]))
            else:
                out.append(("POST", None, {}, doc))
    return out


def kserve_body(body):
    """A requests line as the kserve-v2 preset sends it (config/experiments/README.md)."""
    if isinstance(body, dict) and isinstance(body.get("inputs"), list):
        return body
    if isinstance(body, list):
        tensor = {"name": "input-0", "shape": [1, len(body)], "datatype": "FP32", "data": body}
    else:
        tensor = {"name": "input-0", "shape": [1, len(body["data"])], "datatype": "FP32"}
        tensor.update(body)
    return {"inputs": [tensor]}


SHAPERS = {None: lambda body: body, "kserve-v2": kserve_body}


def pointer(doc, ptr):
    """RFC 6901: the member of doc at ptr, or MISSING."""
    if ptr == "":
        return doc
    for tok in ptr.split("/")[1:]:
        tok = tok.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, dict) and tok in doc:
            doc = doc[tok]
        elif isinstance(doc, list) and tok.isdigit() and int(tok) < len(doc):
            doc = doc[int(tok)]
        else:
            return MISSING
    return doc


# ---- the server alone, under `mlchaos run` ----

class Direct:
    """Starts a server with the command of its experiment file under `mlchaos run` with
    rules (or none), sends the requests of its file, stops it by pid."""

    def __init__(self, a, env, tmp, server):
        self.a, self.env, self.tmp, self.server = a, env, tmp, server
        self.spec = SERVERS[server]
        self.text = ini_text(server)
        self.n = 0

    def start(self, faults="", extra_args=()):
        self.n += 1
        run_dir = os.path.join(self.tmp, "direct-%d" % self.n)
        os.mkdir(run_dir)
        cfg = write(run_dir, "chaos.ini", "[mlchaos]\nseed = 42\nlog = %s/events-%%p.jsonl\n"
                    % run_dir + expand(faults, self.env, run_dir))
        argv = shlex.split(expand(ini_get(self.text, "experiment", "command"), self.env,
                                  run_dir)) + list(extra_args)
        p = mctest.Proc([self.a.mlchaos, "run", "-q", "-c", cfg, "--"] + argv, self.env,
                        os.path.join(run_dir, "stderr"))
        ready = expand(ini_get(self.text, "experiment", "ready"), self.env, run_dir)
        port = int(self.env["EXP_PORT"])

        def is_ready():
            if not p.alive():
                return "dead"
            if ready.startswith("http://"):
                return self.get(port, "/health")[0] == 200
            return os.path.exists(ready)
        got = mctest.poll(is_ready, START_TIMEOUT_S, 0.1)
        if got is not True:
            p.stop(10)
            raise AssertionError("%s did not get ready: %s" % (self.server, p.stderr()[-3000:]))
        return p, cfg

    def stop(self, p):
        rc = p.stop(15)
        mctest.check(rc == 0 and not p.alive(), "%s stopped by SIGTERM to pid %d, exit %s"
                     % (self.server, p.pid, rc))
        time.sleep(0.2)  # the port is free for the next start

    def get(self, port, path):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException) as e:
            return type(e).__name__, b""
        finally:
            conn.close()

    def send_all(self, limit=None):
        """{request id: (status, answer or MISSING)} for the lines of the requests file."""
        url = ini_get(self.text, "load", "url")
        default_path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else \
            self.spec.get("path", "/")
        shape = SHAPERS[self.spec.get("shape")]
        prefix = ini_get(self.text, "load", "id_prefix")
        reqs = requests_of(expand(ini_get(self.text, "load", "requests_file"), self.env, ""))
        out = {}
        for i, (method, path, headers, body) in enumerate(reqs[:limit]):
            key = "%s-%d" % (prefix, i)
            body = shape(body)
            if self.spec.get("stream"):
                body = dict(body, stream=True)
            out[key] = self.send(method, path or default_path, headers, body, key)
        return out

    def send(self, method, path, headers, body, key):
        port = int(self.env["EXP_PORT"])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        hdrs = {"Content-Type": "application/json", "X-Request-Id": key, "Connection": "close"}
        hdrs.update(headers)
        try:
            conn.request(method, path, body=json.dumps(body).encode(), headers=hdrs)
            r = conn.getresponse()
            raw = r.read()
            status = r.status
        except (OSError, http.client.HTTPException) as e:
            return type(e).__name__, MISSING
        finally:
            conn.close()
        if status // 100 != 2:
            return status, MISSING
        try:
            if self.spec.get("stream"):
                return status, sse_text(raw)
            return status, pointer(json.loads(raw), self.spec["answer"])
        except ValueError:
            return status, MISSING

    def run(self, faults="", extra_args=(), limit=None):
        p, cfg = self.start(faults, extra_args)
        try:
            return self.send_all(limit), p, cfg
        finally:
            self.stop(p)


def sse_text(raw):
    """The text of a streamed chat answer: its events' delta contents, in order."""
    text, done = "", False
    for line in raw.decode().split("\n"):
        if line == "data: [DONE]":
            done = True
        elif line.startswith("data: "):
            for ch in json.loads(line[6:])["choices"]:
                text += ch.get("delta", {}).get("content", "") or ch.get("text", "")
    if not done:
        raise ValueError("no [DONE] event")
    return text


def selected(a, env, cfg, rule, keys):
    p = subprocess.run([a.mlchaos, "select", "-c", cfg, rule, "-"], input="\n".join(keys),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                       timeout=60)
    if p.returncode != 0:
        raise AssertionError("mlchaos select: %s" % p.stderr)
    return {l.rpartition(" ")[0] for l in p.stdout.splitlines() if l.endswith(" selected")}


def case_server(a, env, tmp, server):
    d = Direct(a, env, tmp, server)
    spec = SERVERS[server]
    clean, _, _ = d.run()
    ok = {k: v for k, v in clean.items() if v[0] == 200 and v[1] is not MISSING}
    mctest.check(len(ok) == len(clean) > 0, "%s: %d of %d requests answered 200 with an answer at "
                 "%s (%s)" % (server, len(ok), len(clean), spec["answer"],
                              sorted({str(v[0]) for v in clean.values()})))
    answers = [json.dumps(v[1]) for v in clean.values()]
    mctest.check(len(set(answers)) >= 2, "%s: %d different answers" % (server, len(set(answers))))
    again, _, _ = d.run()
    mctest.check(again == clean, "%s: the same answers in a second start (agreement can be 100%%)"
                 % server)
    silent, _, _ = d.run(spec["silent"])
    changed = [k for k in clean if silent[k][1] != clean[k][1]]
    mctest.check(all(v[0] == 200 for v in silent.values()) and changed,
                 "%s: damaged at load, every request answered 200 (%s) and %d answers changed"
                 % (server, sorted({str(v[0]) for v in silent.values()}), len(changed)))
    halt, p, _ = d.run(spec["halt"])
    e5 = [k for k, v in halt.items() if isinstance(v[0], int) and v[0] >= 500]
    mctest.check(len(e5) >= len(halt) // 5, "%s: the halt fault makes 5xx answers: %d of %d (%s)"
                 % (server, len(e5), len(halt), sorted({str(v[0]) for v in halt.values()})))
    if "input" in spec:
        damaged, _, cfg = d.run(spec["input"])
        chosen = selected(a, env, cfg, "garble", list(clean))
        changed = {k for k in clean if damaged[k][1] != clean[k][1]}
        mctest.check(all(v[0] == 200 for v in damaged.values()) and changed,
                     "%s: damaged bodies, every request answered 200 (%s), %d answers changed"
                     % (server, sorted({str(v[0]) for v in damaged.values()}), len(changed)))
        leaked = changed - chosen
        if server == "cache":
            mctest.check(leaked, "cache: answers changed in %d requests not selected (%s...)"
                         % (len(leaked), sorted(leaked)[:4]))
        else:
            mctest.check(not leaked, "%s: only selected requests changed (extra %s)"
                         % (server, sorted(leaked)))
    if server == "lying":
        for honest, want in ((False, 200), (True, 503)):
            p, _ = d.start(spec["unreadable"], ["--honest"] if honest else [])
            try:
                res = d.send_all(limit=5)
                health = d.get(int(env["EXP_PORT"]), "/health")[0]
            finally:
                d.stop(p)
            mctest.check(all(v[0] == 500 for v in res.values()) and health == want,
                         "lying%s: weights unreadable, predictions %s, /health %s (want %d)"
                         % (" --honest" if honest else "", sorted({str(v[0]) for v in res.values()}),
                            health, want))


# ---- `mlchaos experiment` ----

def experiment_supported(a, env):
    p = subprocess.run([a.mlchaos, "experiment", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, env=env, timeout=60)
    return "--junit" in p.stdout


class Run:
    """One `mlchaos experiment --json --junit` run and what it reported."""

    def __init__(self, a, env, tmp, text, name="exp.ini", extra=()):
        self.path = write(tmp, name, text)
        self.junit = os.path.join(tmp, name + ".junit.xml")
        p = subprocess.run([a.mlchaos, "experiment", "--json", "--junit", self.junit] +
                           list(extra) + [self.path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE,
                           text=True, env=env, timeout=EXPERIMENT_TIMEOUT_S)
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr
        print("exit %d\n--- stderr\n%s\n--- stdout\n%s" % (self.rc, self.err[-4000:],
                                                            self.out[-6000:]))
        try:
            self.doc = json.loads(self.out)
        except ValueError:
            self.doc = None

    def figure(self, phase, metric):
        """The phase's figure for metric (a share as 0..1), or None."""
        ph = (self.doc or {}).get("phases", {}).get(phase, {})
        for place in table.FIGURE_PLACES:
            where = ph
            for k in place:
                where = where.get(k, {}) if isinstance(where, dict) else {}
            if isinstance(where, dict) and metric in where:
                return share(metric, where[metric])
        for h in (self.doc or {}).get("hypotheses", []):
            if h.get("metric", h.get("text", "").split(" ")[0]) == metric:
                v = h.get("phases", {}).get(phase, {}).get("value")
                if v is not None:
                    return share(metric, v)
        return None

    def verdict(self):
        return str((self.doc or {}).get("result", "")).lower()

    def testcases(self):
        """[(classname name, failed)] of the JUnit file."""
        root = ET.parse(self.junit).getroot()
        return [("%s %s" % (t.get("classname", ""), t.get("name", "")),
                 t.find("failure") is not None or t.find("error") is not None)
                for t in root.iter("testcase")]


def share(metric, v):
    if isinstance(v, (int, float)) and metric in ("agreement", "success_rate", "error_rate") \
            and v > 1:
        return v / 100.0
    return v


def junit_failed(run, metric, phase):
    return [n for n, failed in run.testcases()
            if failed and metric in n and table.JUNIT_PHASE_TEXT[phase] in n]


def case_clean(a, env, tmp, server):
    r = Run(a, env, tmp, ini_text(server))
    if not mctest.check(r.rc == table.EXIT_PASSED and r.doc,
                        "%s: no fault: exit %d" % (server, r.rc)):
        return
    for ph in PHASES:
        ag = r.figure(ph, "agreement")
        mctest.check(ag == 1.0 or (ph == "before" and ag is None),
                     "%s: agreement %s in phase %s" % (server, ag, ph))
        mctest.check(r.figure(ph, "success_rate") == 1.0, "%s: success_rate %s in phase %s"
                     % (server, r.figure(ph, "success_rate"), ph))
    cases = r.testcases()
    mctest.check(cases and not any(f for _, f in cases), "%s: JUnit: %d testcases, none failed"
                 % (server, len(cases)))
    hyps = len((r.doc or {}).get("hypotheses", []))
    # one per hypothesis and phase, and "chaos not halted @during"
    mctest.check(len(cases) == 3 * hyps + 1, "%s: JUnit: one testcase per hypothesis and phase, "
                 "and one for halts (%d for %d hypotheses)" % (server, len(cases), hyps))
    if SERVERS[server].get("stream"):
        for m in ("ttft_p50", "ttft_p99", "itl_p50", "itl_p99"):
            v = r.figure("before", m)
            mctest.check(isinstance(v, (int, float)) and v > 0, "%s: %s = %s" % (server, m, v))


def case_silent(a, env, tmp, server):
    text = with_keys(ini_text(server), table.RESTART_KEYS) + SERVERS[server]["silent"]
    r = Run(a, env, tmp, text)
    mctest.check(r.rc == table.EXIT_FAILED, "%s: damaged weights: exit %d" % (server, r.rc))
    during = r.figure("during", "agreement")
    mctest.check(during is not None and during < 1.0, "%s: agreement %s during chaos"
                 % (server, during))
    mctest.check(r.figure("after", "agreement") == 1.0, "%s: agreement %s after (a fresh start "
                 "without faults)" % (server, r.figure("after", "agreement")))
    for ph in PHASES:
        mctest.check(r.figure(ph, "success_rate") == 1.0, "%s: success_rate %s in phase %s: the "
                     "damage is silent" % (server, r.figure(ph, "success_rate"), ph))
    mctest.check(junit_failed(r, "agreement", "during"), "%s: JUnit names agreement failing during"
                 % server)
    mctest.check(not junit_failed(r, "success_rate", "during"),
                 "%s: JUnit: success_rate did not fail" % server)


def case_halt(a, env, tmp, server, allow=False):
    text = with_keys(ini_text(server), table.HALT_KEYS)
    if allow:
        text = with_keys(text, {"experiment": ["allow_halt = true"]})
    r = Run(a, env, tmp, text + SERVERS[server]["halt"])
    mctest.check(r.rc == table.EXIT_FAILED, "%s: halted by the watchdog: exit %d" % (server, r.rc))
    if allow:
        mctest.check(r.verdict() and r.verdict() != table.VERDICT_HALTED,
                     "%s: allow_halt = true: verdict %r, not HALTED" % (server, r.verdict()))
    else:
        mctest.check(r.verdict() == table.VERDICT_HALTED, "%s: verdict %r" % (server, r.verdict()))


def scenario_faults(name):
    """The [fault.*] sections of a scenario of config/, to append to an experiment."""
    with open(os.path.join(HERE, "..", "..", "config", name)) as f:
        text = f.read()
    return "\n" + text[text.index("[fault."):]


def case_worker_crash(a, env, tmp):
    """config/worker-crash.ini's rule in gunicorn's workers (sklearn.ini, 2 sync workers): in
    half the workers, chosen by fork order and seed, the 10th answer raises SIGKILL. gunicorn
    starts a new worker for each that died, so during chaos a few requests are lost (the
    success rate shows the gap: below 100%, far above 0) and after it every request succeeds;
    the experiment's event logs count the kills, and more worker processes ran than the two
    gunicorn keeps (the replacements)."""
    server = "sklearn"
    r = Run(a, env, tmp, ini_text(server) + scenario_faults("worker-crash.ini"),
            extra=["--keep"])
    during, after = r.figure("during", "success_rate"), r.figure("after", "success_rate")
    mctest.check(r.rc == table.EXIT_FAILED, "worker-crash: exit %d, not 1 (success_rate below "
                 "99%% during chaos)" % r.rc)
    mctest.check(r.figure("before", "success_rate") == 1.0, "worker-crash: success_rate %s "
                 "before chaos" % r.figure("before", "success_rate"))
    mctest.check(during is not None and 0.5 <= during < 1.0, "worker-crash: success_rate %s "
                 "during chaos: some requests lost with their worker, most served" % during)
    mctest.check(after == 1.0, "worker-crash: success_rate %s after chaos: the workers "
                 "restarted serve every request" % after)
    run_dir = re.search(r"run directory kept: (\S+)", r.err)
    kills, workers = 0, set()
    if mctest.check(run_dir is not None, "worker-crash: --keep named no run directory"):
        d = run_dir.group(1)
        for name in os.listdir(d):
            if not (name.startswith("events-") and name.endswith(".jsonl")):
                continue
            for line in open(os.path.join(d, name)):
                ev = json.loads(line)
                if ev.get("event") == "fault" and ev.get("action") == "signal":
                    kills += ev.get("applied") is True and ev.get("signal") == "KILL"
                if ev.get("event") == "rules":
                    workers.add(ev.get("pid"))
        shutil.rmtree(d, ignore_errors=True)
    mctest.check(kills >= 1, "worker-crash: %d SIGKILL faults in the event logs" % kills)
    # the arbiter, its two workers, and one replacement per kill at least
    mctest.check(len(workers) >= 3 + kills, "worker-crash: %d processes loaded the rules for "
                 "%d kills: gunicorn did not start replacements" % (len(workers), kills))
    print("worker-crash: success_rate before 100%%, during %.1f%%, after %.1f%%; %d workers "
          "killed, %d processes in all" % (100 * during, 100 * after, kills, len(workers)))


def case_openai_input(a, env, tmp):
    server = "openai-completions"
    r = Run(a, env, tmp, ini_text(server) + SERVERS[server]["input"])
    mctest.check(r.rc == table.EXIT_FAILED, "damaged bodies: exit %d" % r.rc)
    mctest.check((r.figure("during", "agreement") or 1.0) < 1.0, "agreement %s during chaos"
                 % r.figure("during", "agreement"))
    mctest.check(r.figure("during", "success_rate") == 1.0, "success_rate %s during chaos"
                 % r.figure("during", "success_rate"))
    mctest.check(r.figure("during", "contaminated") == 0, "contaminated %s: no shared state"
                 % r.figure("during", "contaminated"))
    mctest.check(junit_failed(r, "agreement", "during"), "JUnit names agreement failing during")


def case_cache_contaminated(a, env, tmp):
    text = with_keys(ini_text("cache"), table.RESTART_KEYS) + SERVERS["cache"]["input"]
    cfg = write(tmp, "select.ini", "[mlchaos]\nseed = 42\n" +
                SERVERS["cache"]["input"].replace("${EXP_PORT}", env["EXP_PORT"]))
    first = selected(a, env, cfg, "garble", ["cache-%d" % i for i in range(8)])
    if not mctest.check(first,
                        "the rule selects some sessions' first request (%s)" % sorted(first)):
        return
    r = Run(a, env, tmp, text)
    n = r.figure("during", "contaminated")
    mctest.check(isinstance(n, (int, float)) and n > 0, "contaminated %s during chaos" % n)
    for ph in ("before", "after"):
        mctest.check(r.figure(ph, "contaminated") in (0, None), "contaminated %s %s chaos"
                     % (r.figure(ph, "contaminated"), ph))
    mctest.check(r.rc == table.EXIT_FAILED, "exit %d" % r.rc)


def case_health(a, env, tmp, honest):
    text = with_keys(ini_text("lying"), table.RESTART_KEYS)
    if honest:
        text = re.sub(r"(?m)^(command = .*)$", r"\1 --honest", text)
    r = Run(a, env, tmp, text + SERVERS["lying"]["unreadable"])
    mctest.check(r.rc == table.EXIT_FAILED, "exit %d" % r.rc)
    sr = r.figure("during", "success_rate")
    mctest.check(sr is not None and sr < 0.5, "success_rate %s during chaos: no model" % sr)
    lies = {ph: r.figure(ph, "health_lies") for ph in PHASES}
    if honest:
        mctest.check(all(v == 0 for v in lies.values()), "honest /health: health_lies %s" % lies)
    else:
        mctest.check(isinstance(lies["during"], (int, float)) and lies["during"] > 0
                     and lies["before"] == 0 and lies["after"] == 0,
                     "lying /health: health_lies %s" % lies)
        mctest.check(junit_failed(r, "success_rate", "during"), "JUnit names success_rate failing")


def case_bad_line(a, env, tmp):
    src = expand(ini_get(ini_text("lying"), "load", "requests_file"), env, "")
    lines = open(src).read().splitlines()
    lines[2] = lines[2][:len(lines[2]) // 2]  # line 3 cut in the middle
    bad = write(tmp, "broken.jsonl", "\n".join(lines) + "\n")
    text = re.sub(r"(?m)^requests_file = .*$", "requests_file = " + bad, ini_text("lying"))
    r = Run(a, env, tmp, text)
    mctest.check(r.rc == table.EXIT_ERROR, "a broken requests line: exit %d" % r.rc)
    want = table.MSG_BROKEN_LINE.format(file=re.escape(bad), line=3)
    mctest.check(re.search(want, r.err), "stderr names %s:3:" % bad)


def measured(r, what):
    mctest.check(r.rc in (table.EXIT_PASSED, table.EXIT_FAILED) and r.doc is not None,
                 "%s: exit %d with a report" % (what, r.rc))
    # an answer that cannot be read is a failed request (a protocol error), counted apart as
    # answer_errors; the load's own figures (latency, rate) are still measured
    load = (((r.doc or {}).get("phases") or {}).get("before") or {}).get("load") or {}
    mctest.check(load.get("answer_errors", 0) > 0 and load.get("p99_ms") is not None and
                 r.figure("before", "success_rate") == 0.0,
                 "%s: the report has what it measured (answer_errors %s, p99 %s ms, success_rate "
                 "%s before)" % (what, load.get("answer_errors"), load.get("p99_ms"),
                                 r.figure("before", "success_rate")))


def case_bad_pointer(a, env, tmp):
    text = re.sub(r"(?m)^answer = .*$", "answer = /no/such/member", ini_text("lying"))
    r = Run(a, env, tmp, text)
    measured(r, "a pointer that matches nothing")
    mctest.check(re.search(table.MSG_NO_POINTER, r.err), "stderr says the pointer matched nothing")


def case_not_json(a, env, tmp):
    text = re.sub(r"(?m)^(command = .*)$", r"\1 --text", ini_text("lying"))
    r = Run(a, env, tmp, text)
    measured(r, "answers that are not JSON")
    mctest.check(re.search(table.MSG_NOT_JSON, r.err), "stderr says the answers are not JSON")


def make_certificate(tmp):
    """A self-signed certificate for 127.0.0.1: (certificate, key)."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)
    return cert, key


def case_tls(a, env, tmp):
    cert, key = make_certificate(tmp)
    text = ini_text("sklearn").replace("http://", "https://")
    text = text.replace("/usr/bin/gunicorn ", "/usr/bin/gunicorn --certfile %s --keyfile %s "
                        % (cert, key))
    text = with_keys(text, {"load": ["insecure = true"],
                            "health": ["url = https://127.0.0.1:${EXP_PORT}/health"]})
    r = Run(a, env, tmp, text)
    if mctest.check(r.rc == table.EXIT_PASSED and r.doc, "tls: exit %d" % r.rc):
        for ph in PHASES:
            ag = r.figure(ph, "agreement")
            mctest.check(ag == 1.0 or (ph == "before" and ag is None),
                         "tls: agreement %s in phase %s" % (ag, ph))
            mctest.check(r.figure(ph, "success_rate") == 1.0, "tls: success_rate %s in phase %s"
                         % (r.figure(ph, "success_rate"), ph))
        probes = (((r.doc.get("phases") or {}).get("during") or {}).get("load") or {}).get(
            "health") or {}
        mctest.check(probes.get("probes", 0) > 0 and probes.get("ok") == probes.get("probes"),
                     "tls: health probed over https: %s" % probes)
    # the certificate checked: the target never counts as ready (the probe is refused the
    # certificate, which is what stderr must say), so the wait is cut to 20 s, over ten
    # times what gunicorn takes to listen on a busy machine
    text = with_keys(text, {"load": ["insecure = false"],
                            "experiment": ["ready_timeout = 20s"]})
    r = Run(a, env, tmp, text, "checked.ini")
    mctest.check(r.rc != table.EXIT_PASSED, "tls: certificate checked: exit %d" % r.rc)
    mctest.check(re.search(r"(?i)certificate", r.err), "tls: stderr names the certificate")


def load_json(a, env, argv):
    p = subprocess.run([a.mlchaos, "load", "--json"] + argv, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    print("mlchaos load %s: exit %d\n%s%s" % (" ".join(argv), p.returncode, p.stderr[-2000:],
                                               p.stdout[-2000:]))
    return (json.loads(p.stdout) if p.returncode == 0 else {}), p.stderr


def case_http2(a, env, tmp):
    cert, key = make_certificate(tmp)
    docs = os.path.join(tmp, "docs")
    os.mkdir(docs)
    answer = {"class": 3, "scores": [0.1, 0.2, 0.7]}
    with open(os.path.join(docs, "answer.json"), "w") as f:
        json.dump(answer, f)
    reqs = write(tmp, "get.jsonl", json.dumps(
        {"method": "GET", "path": "/answer.json", "body": {}, "expect": answer}) + "\n")
    tls_port, plain_port = int(env["EXP_PORT"]), free_port()
    servers = [mctest.Proc([NGHTTPD, "-d", docs, str(tls_port), key, cert], env,
                           os.path.join(tmp, "nghttpd-tls.err")),
               mctest.Proc([NGHTTPD, "--no-tls", "-d", docs, str(plain_port)], env,
                           os.path.join(tmp, "nghttpd-plain.err"))]
    try:
        for port in (tls_port, plain_port):
            mctest.poll(lambda port=port: port_open(port), START_TIMEOUT_S, 0.1)
        common = ["-n", "200", "-c", "4", "--requests-file", reqs, "--http", "2"]
        res, _ = load_json(a, env, common + ["--insecure", "https://127.0.0.1:%d" % tls_port])
        mctest.check(res.get("ok") == 200 and res.get("accuracy") == 1.0,
                     "http2 over TLS: %s of 200 answered, accuracy %s" % (res.get("ok"),
                                                                    res.get("accuracy")))
        mctest.check(res.get("connections") == 1, "http2 over TLS: 4 requests in flight on %s "
                     "connection(s) (multiplexed: 1)" % res.get("connections"))
        res, err = load_json(a, env, common + ["http://127.0.0.1:%d" % plain_port])
        mctest.check(res.get("ok") == 200 and res.get("accuracy") == 1.0,
                     "http2 with prior knowledge: %s of 200 answered" % res.get("ok"))
        mctest.check(res.get("connections") == 1 or "curl issue 10634" in err,
                     "http2 with prior knowledge: %s connection(s), or stderr says why more"
                     % res.get("connections"))
    finally:
        for p in servers:
            mctest.check(p.stop(10) is not None and not p.alive(), "nghttpd stopped by pid %d"
                         % p.pid)


# ---- sweeps (sweep.ini, sweep_server.py) ----

def sweep_text(key):
    """sweep.ini with fault.weights.KEY swept over table.SWEEPS[key]."""
    sw = table.SWEEPS[key]
    text = ini_text("sweep")
    text = with_keys(text, {"sweep": ["key = fault.weights." + key, "values = " + sw["values"]],
                            "fault.weights": sw["keys"]})
    return text


def sweep_run(a, env, tmp, text, name):
    svg, csv = os.path.join(tmp, name + ".svg"), os.path.join(tmp, name + ".csv")
    r = Run(a, env, tmp, text, name + ".ini", ["--plot", svg, "--csv", csv])
    sweep = (r.doc or {}).get("sweep") or {}
    return r, sweep, svg, csv


def point_figures(sweep, metric):
    return [(p.get("figures") or {}).get(metric) for p in sweep.get("points", [])]


def csv_rows(path):
    with open(path) as f:
        lines = f.read().splitlines()
    head = lines[0].split(",")
    return [dict(zip(head, l.split(","))) for l in lines[1:]]


def svg_of(path):
    """(root, [class attribute of each element], all its text) of an SVG that must parse."""
    root = ET.parse(path).getroot()
    classes = [e.get("class") for e in root.iter()]
    text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    return root, classes, text


def check_mode_known(a, env, tmp, key):
    """Skip when this mlchaos does not know the keys of the sweep of key (mode = noise)."""
    keys = table.SWEEPS[key]["keys"]
    if not keys:
        return
    cfg = write(tmp, "mode.ini", "[fault.w]\nhook = read\naction = corrupt\nregion = tensors\n"
                + "\n".join(keys) + "\n")
    p = subprocess.run([a.mlchaos, "check", cfg], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, env=env, timeout=60)
    if p.returncode != 0:
        mctest.skip("`mlchaos check` rejects %s: %s" % (", ".join(keys), p.stdout.strip()))


def during_cases(r, key):
    """The JUnit testcases of the sweep's values: (name, failed)."""
    return [(n, f) for n, f in r.testcases() if "@during %s=" % key in n]


def case_sweep(a, env, tmp, key):
    check_mode_known(a, env, tmp, key)
    values = table.SWEEPS[key]["values"].split()
    r, sweep, svg, csv = sweep_run(a, env, tmp, sweep_text(key), "curve")
    mctest.check(r.rc == table.EXIT_FAILED, "sweep of %s: agreement >= 90%% fails at the large "
                 "values (gate = all): exit %d" % (key, r.rc))
    mctest.check([p.get("value") for p in sweep.get("points", [])] == values,
                 "a point per value: %s" % [p.get("value") for p in sweep.get("points", [])])
    ag = point_figures(sweep, "agreement")
    if not mctest.check(len(ag) == len(values) and None not in ag, "agreement per %s: %s"
                        % (key, ag)):
        return
    mctest.check(all(x >= y for x, y in zip(ag, ag[1:])), "agreement falls as %s grows: %s"
                 % (key, ag))
    mctest.check(ag[0] >= table.SWEEP_TOP and ag[-1] <= table.SWEEP_BOTTOM,
                 "agreement %s at %s = %s, %s at %s" % (ag[0], key, values[0], ag[-1], values[-1]))
    mctest.check(all(x == 1.0 for x in point_figures(sweep, "success_rate")),
                 "every request answered at every value (the damage is silent)")
    rows = csv_rows(csv)
    mctest.check([row["value"] for row in rows] == values and
                 [float(row["agreement"]) for row in rows] == ag,
                 "CSV: one row per value, the report's agreement (%s)" % rows)
    _, classes, text = svg_of(svg)
    mctest.check(classes.count("point") == len(values), "SVG: %d points for %d values"
                 % (classes.count("point"), len(values)))
    mctest.check("curve" in classes and "threshold" in classes, "SVG: a curve and the threshold")
    mctest.check("fault.weights." + key in text and "agreement" in text and
                 "(log scale)" in text, "SVG: the axes say fault.weights.%s (log scale) and "
                 "agreement: %r" % (key, text[:300]))
    during = [n for n, _ in during_cases(r, key)]
    failed = [n for n, f in during_cases(r, key) if f and "agreement" in n]
    mctest.check(len(during) == 2 * len(values) and failed and
                 all(("%s=%s" % (key, v)) in " ".join(during) for v in values),
                 "JUnit: a testcase per hypothesis and value (%s), failing at %s" % (during, failed))
    again, sweep2, _, _ = sweep_run(a, env, tmp, sweep_text(key), "again")
    mctest.check(point_figures(sweep2, "agreement") == ag, "the same seed, the same curve: %s "
                 "then %s" % (ag, point_figures(sweep2, "agreement")))


def case_sweep_ranking(a, env, tmp):
    text = ini_text("sweep")
    text = re.sub(r"(?ms)^\[sweep\]\n.*?(?=^\[)",
                  "[sweep]\nfault = weights\nper = tensor\ngate = none\n\n", text)
    text = re.sub(r"(?m)^tensor = .*\n", "", text)
    text = with_keys(text, {"fault.weights": ["count = 16"]})
    r, sweep, svg, csv = sweep_run(a, env, tmp, text, "ranking")
    mctest.check(r.rc == table.EXIT_PASSED and r.verdict() == "passed",
                 "gate = none: the ranking is reported, not judged: exit %d, %r"
                 % (r.rc, r.verdict()))
    rank = sweep.get("ranking", [])
    ag = {p["label"]: (p.get("figures") or {}).get("agreement") for p in sweep.get("points", [])}
    if not mctest.check(sorted(rank) == sorted(["emb.weight", "head.weight", "head.bias",
                                                "unused"]),
                        "one start per tensor of the model: %s" % rank):
        return
    mctest.check(set(rank[:2]) == table.RANKING_FIRST, "the output layer ranks first: %s (%s)"
                 % (rank, ag))
    mctest.check(ag[table.RANKING_HARMLESS] == 1.0 and
                 all(ag[t] < 1.0 for t in table.RANKING_FIRST),
                 "damaging the unused tensor changes nothing, the output layer's change "
                 "answers: %s" % ag)
    rows = csv_rows(csv)
    mctest.check([row["tensor"] for row in rows] == rank, "CSV rows in rank order: %s" % rows)
    _, classes, text = svg_of(svg)
    mctest.check(classes.count("bar") == 4 and all(t in text for t in rank),
                 "SVG: a bar per tensor, named (%d bars)" % classes.count("bar"))


def case_sweep_until(a, env, tmp):
    text = with_keys(ini_text("sweep"), {"sweep": ["values = 1 4096 64", "until = failure"]})
    r, sweep, _, _ = sweep_run(a, env, tmp, text, "until")
    ran = [p.get("value") for p in sweep.get("points", [])]
    mctest.check(ran == ["1", "4096"] and sweep.get("not_run") == ["64"],
                 "until = failure: the sweep stops after 4096, where agreement fails: ran %s, "
                 "not run %s" % (ran, sweep.get("not_run")))
    mctest.check(r.rc == table.EXIT_FAILED, "exit %d (agreement failed at 4096)" % r.rc)


def case_sweep_bad(a, env, tmp):
    text = with_keys(ini_text("sweep"), {"sweep": ["values = 1 sixteen 256"]})
    r = Run(a, env, tmp, text)
    line = text.splitlines().index("values = 1 sixteen 256") + 1
    mctest.check(r.rc == table.EXIT_ERROR, "a bad value: exit %d" % r.rc)
    mctest.check(re.search(r"%s:%d: count = 'sixteen'" % (re.escape(r.path), line), r.err),
                 "stderr names %s:%d and the value" % (r.path, line))
    mctest.check(re.search(r"not a valid experiment", r.err), "the run stops before it starts")


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def cases():
    out = {}
    for s in SERVERS:
        out["server-" + s] = (s, lambda a, e, t, s=s: case_server(a, e, t, s), False)
        out[s + "-clean"] = (s, lambda a, e, t, s=s: case_clean(a, e, t, s), True)
        out[s + "-silent"] = (s, lambda a, e, t, s=s: case_silent(a, e, t, s), True)
        out[s + "-halt"] = (s, lambda a, e, t, s=s: case_halt(a, e, t, s), True)
    out.update({
        "allow-halt": ("openai-completions",
                       lambda a, e, t: case_halt(a, e, t, "openai-completions", True), True),
        "openai-input": ("openai-completions", case_openai_input, True),
        "cache-contaminated": ("cache", case_cache_contaminated, True),
        "lying-health-lies": ("lying", lambda a, e, t: case_health(a, e, t, False), True),
        "honest-health": ("lying", lambda a, e, t: case_health(a, e, t, True), True),
        "bad-line": ("lying", case_bad_line, True),
        "bad-pointer": ("lying", case_bad_pointer, True),
        "not-json": ("lying", case_not_json, True),
        "tls": ("tls", case_tls, True),
        "http2": ("http2", case_http2, False),
        "sweep-count": ("sweep", lambda a, e, t: case_sweep(a, e, t, "count"), True),
        "sweep-std": ("sweep", lambda a, e, t: case_sweep(a, e, t, "std"), True),
        "sweep-ranking": ("sweep", case_sweep_ranking, True),
        "sweep-bad": ("sweep", case_sweep_bad, True),
        "sweep-until": ("sweep", case_sweep_until, True),
        "worker-crash": ("sklearn", case_worker_crash, True),
    })
    return out


def needs_of(server):
    """What a case's server needs: its models and its packages."""
    return SERVERS.get(server) or table.TRANSPORTS[server]


def missing(server):
    for need in needs_of(server)["needs"]:
        if need.startswith("python3:"):
            mod = need.split(":", 1)[1]
            if subprocess.run([PY, "-c", "import " + mod], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode != 0:
                return "%s cannot import %s" % (PY, mod)
        elif not os.access(need, os.X_OK):
            return "%s is not installed" % need
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    all_cases = cases()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    ap.add_argument("case", choices=sorted(all_cases))
    a = ap.parse_args()
    a.mlchaos = os.path.abspath(a.mlchaos)
    server, fn, needs_experiment = all_cases[a.case]
    why = missing(server)
    if why:
        mctest.skip(why)
    env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
    if needs_experiment and not experiment_supported(a, env):
        mctest.skip("`mlchaos experiment --help` does not mention --junit: this mlchaos has "
                    "no requests_file, agreement, verdicts or JUnit to test")
    tmp = tempfile.mkdtemp(prefix="mlchaos-exp-")
    signal.signal(signal.SIGTERM, lambda *x: sys.exit(1))  # meson's timeout: clean up
    try:
        models = os.path.join(tmp, "models")
        names = needs_of(server)["models"]
        made = subprocess.run([PY, os.path.join(HERE, "make_models.py"), models] + names,
                              stdout=subprocess.PIPE, text=True, env=env,
                              timeout=300) if names else None
        if made and made.returncode != 0:
            mctest.fail("make_models.py %s: exit %d" % (names, made.returncode))
            return 1
        env["EXP_MODELS"] = models
        env["EXP_PORT"] = str(free_port())
        info = os.path.join(models, "sk-model.json")
        if os.path.exists(info):
            env["EXP_SK_COEF"] = json.load(open(info))["coef_range"]
        try:
            fn(a, env, tmp)
        except (AssertionError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
            mctest.fail("%s: %s: %s" % (a.case, type(e).__name__, e))
    finally:
        if not os.environ.get("EXP_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    return mctest.finish(a.case)


if __name__ == "__main__":
    sys.exit(main())
