#!/usr/bin/python3
"""A fleet on one machine: three replicas of gunicorn serving scikit-learn, each under
libmlchaos.so with its own `mlchaos metrics --tree PID --listen ... --control-token-file`
endpoint, behind haproxy (round-robin), scraped by a real Prometheus loaded with
config/fleet/mlchaos-rules.yml.

  fleet.py ... local   the fleet: the same request ids get faults whichever replica serves
                       them (as `mlchaos select` says); `mlchaos halt --fleet` under load
                       confirms all three within a second (its own measured time) and nothing
                       is injected after it returns (event logs: no line, none later in time);
                       Prometheus's sum of faults equals the event logs'; resume --fleet
                       brings the faults back; a wrong token is refused and named.
  fleet.py ... control the endpoints against hostile and wrong requests (no token, a wrong
                       one, two Authorization headers, a body, an endless head, GET, a bad
                       query; control off without a token file), --tree keeping another
                       process out, and the usage errors of metrics, halt --fleet and
                       experiment files with url and [fleet].
  fleet.py ... rules   promtool check rules and promtool test rules on config/fleet, and the
                       dashboard's JSON: every panel's query names series the rules record or
                       `mlchaos metrics` exports.
Exit 77 when gunicorn, scikit-learn, haproxy or prometheus is missing.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "real"))
import mctest  # noqa: E402
import rsnet  # noqa: E402

PY = "/usr/bin/python3"
GUNICORN = "/usr/bin/gunicorn"
HAPROXY = "/usr/sbin/haproxy"
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
FLEET_DIR = os.path.join(HERE, "..", "..", "config", "fleet")
RULES = os.path.join(FLEET_DIR, "mlchaos-rules.yml")
REPLICAS = 3
START_S = 180      # three interpreters importing scikit-learn on a busy 2-core machine
HALT_LIMIT_S = 1.0  # the halt command's own confirmed time
TOKEN = "fleet-test-token-7f3a9c"
CONFIG = """\
[mlchaos]
seed = 17
log = {log}

[fault.slow]
hook = send
action = delay
delay = 20ms
rate = 30%
select = request
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def train(path):
    import pickle

    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(n_samples=200, n_features=16, random_state=0)
    with open(path, "wb") as f:
        pickle.dump(LogisticRegression(max_iter=300).fit(x, y), f)
    return x[:2].tolist()


def prom_get(port, path, params):
    url = "http://127.0.0.1:%d%s?%s" % (port, path, urllib.parse.urlencode(params))
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def prom_value(port, query):
    doc = prom_get(port, "/api/v1/query", {"query": query})
    res = (doc or {}).get("data", {}).get("result", [])
    return float(res[0]["value"][1]) if res else None


class Fleet:
    def __init__(self, a, tmp):
        self.a = a
        self.tmp = tmp
        self.procs = []
        self.env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
        self.cfg = os.path.join(tmp, "chaos.ini")
        self.log = os.path.join(tmp, "ev-%p.jsonl")
        with open(self.cfg, "w") as f:
            f.write(CONFIG.format(log=self.log))
        self.token_file = os.path.join(tmp, "token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(self.token_file, 0o600)

    def spawn(self, name, argv, env=None):
        p = mctest.Proc(argv, env or self.env, os.path.join(self.tmp, name + ".stderr"))
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop(30)

    # ---- the replicas ---------------------------------------------------------------------
    def start_replica(self, i, model):
        env = dict(self.env, SK_MODEL=model, PYTHONDONTWRITEBYTECODE="1")
        p = self.spawn("gunicorn-%d" % i, [
            self.a.mlchaos, "run", "-c", self.cfg, "--", GUNICORN, "--workers", "1",
            "--bind", "127.0.0.1:0", "--chdir", os.path.join(HERE, "..", "real"),
            "--timeout", "300", "--graceful-timeout", "5", "sk_app:app"], env)
        return p

    def replica_ready(self, p):
        def ready():
            err = p.stderr()
            m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", err)
            w = re.search(r"Booting worker with pid: (\d+)", err)
            if m and w:
                return int(m.group(1)), int(w.group(1))
            return None if p.alive() else "dead"
        got = mctest.poll(ready, START_S)
        return got if isinstance(got, tuple) else None

    def start_sidecar(self, i, root):
        p = self.spawn("metrics-%d" % i, [
            self.a.mlchaos, "metrics", "--tree", str(root), "--listen", "127.0.0.1:0",
            "--control-token-file", self.token_file])
        got = mctest.poll(lambda: re.search(r"http://127\.0\.0\.1:(\d+)/metrics", p.stderr())
                          or (None if p.alive() else "dead"), 30)
        return int(got.group(1)) if got and got != "dead" else None

    def start_haproxy(self, ports):
        port = free_port()
        servers = "".join("    server r%d 127.0.0.1:%d\n" % (i, p) for i, p in enumerate(ports))
        cfg = os.path.join(self.tmp, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("global\n    maxconn 256\ndefaults\n    mode http\n"
                    "    timeout connect 10s\n    timeout client 120s\n"
                    "    timeout server 120s\n    option http-server-close\n"
                    "frontend fleet\n    bind 127.0.0.1:%d\n    default_backend replicas\n"
                    "backend replicas\n    balance roundrobin\n%s" % (port, servers))
        self.spawn("haproxy", [HAPROXY, "-db", "-f", cfg], mctest.clean_env())
        ok = mctest.poll(lambda: rsnet.request(port, "GET", "/health", timeout_s=5)[0] == 200,
                         60)
        return port if ok else None

    def start_prometheus(self, sidecars):
        port = free_port()
        targets = ", ".join("'127.0.0.1:%d'" % p for p in sidecars)
        yml = os.path.join(self.tmp, "prometheus.yml")
        with open(yml, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "rule_files:\n  - '%s'\nscrape_configs:\n  - job_name: mlchaos-fleet\n"
                    "    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n"
                    "      - targets: [%s]\n" % (os.path.abspath(RULES), targets))
        tsdb = os.path.join(self.tmp, "tsdb")
        os.mkdir(tsdb)
        # neither gets the sanitizer build's preloads (--env): they are not ours
        self.spawn("prometheus", [PROMETHEUS, "--config.file=" + yml,
                                  "--storage.tsdb.path=" + tsdb,
                                  "--web.listen-address=127.0.0.1:%d" % port,
                                  "--log.level=warn"], mctest.clean_env())
        up = mctest.poll(lambda: prom_value(port, 'count(up{job="mlchaos-fleet"} == 1)')
                         == REPLICAS, 60, 0.5)
        return port if up else None

    # ---- what the logs say -------------------------------------------------------------
    def events(self, roots):
        """replica index -> its fault events (every process of its tree)."""
        out = {}
        for i, root in enumerate(roots):
            out[i] = []
            for name in os.listdir(self.tmp):
                m = re.fullmatch(r"ev-(\d+)\.jsonl", name)
                if m and self.in_tree(int(m.group(1)), root):
                    out[i] += [e for e in mctest.read_log(os.path.join(self.tmp, name),
                                                          mctest.fail)
                               if e.get("rule") == "slow"]
        return out

    def in_tree(self, pid, root):
        return pid in self.trees.get(root, ())

    def fleet_cmd(self, cmd, urls, token_file=None, extra=()):
        t0 = time.monotonic()
        p = subprocess.run([self.a.mlchaos, cmd, "--fleet", "--token-file",
                            token_file or self.token_file, "--timeout", "20", *extra, *urls],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=120)
        return p, time.monotonic() - t0

    # ---- the case ----------------------------------------------------------------------
    def main(self):
        model = os.path.join(self.tmp, "model.pkl")
        inputs = train(model)
        reps = [self.start_replica(i, model) for i in range(REPLICAS)]
        started = [self.replica_ready(p) for p in reps]
        if not mctest.check(all(started), "three gunicorn replicas listening: %s"
                            % [p.stderr()[-800:] for p, s in zip(reps, started) if not s]):
            return
        roots = [p.pid for p in reps]
        self.started = started
        self.trees = {}
        for (port, worker), root in zip(started, roots):
            self.trees[root] = {root, worker}
        # the master of `mlchaos run` may be the gunicorn master itself or its parent
        for p, root in zip(reps, roots):
            m = re.search(r"Listening at: \S+ \((\d+)\)", p.stderr())
            if m:
                self.trees[root].add(int(m.group(1)))
        sidecars = [self.start_sidecar(i, root) for i, root in enumerate(roots)]
        if not mctest.check(all(sidecars), "a metrics sidecar per replica: %s" % sidecars):
            return
        urls = ["http://127.0.0.1:%d" % p for p in sidecars]
        lb = self.start_haproxy([s[0] for s in started])
        if not mctest.check(lb, "haproxy answers /health"):
            return
        prom = self.start_prometheus(sidecars)
        if not mctest.check(prom, "prometheus scrapes the three sidecars"):
            return
        mctest.note("replicas %s, sidecars %s, haproxy %d, prometheus %d"
                    % ([s[0] for s in started], sidecars, lb, prom))
        self.scopes(sidecars, roots)
        self.same_faults(lb, inputs, roots)
        self.halt_under_load(lb, inputs, urls, roots, prom)
        self.experiments(lb, urls, roots)

    def scopes(self, sidecars, roots):
        """Each sidecar covers its own replica's processes only."""
        for port, root in zip(sidecars, roots):
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                        timeout=10) as r:
                text = r.read().decode()
            pids = {int(x) for x in re.findall(r'mlchaos_process_info\{pid="(\d+)"', text)}
            mctest.check(pids and pids <= self.trees[root],
                         "sidecar %d covers processes %s of its replica %s only"
                         % (port, sorted(pids), sorted(self.trees[root])))

    def same_faults(self, lb, inputs, roots):
        keys = ["fleet-%d" % i for i in range(60)]
        served = {}
        for k in keys:
            st, out, _ = rsnet.request(lb, "POST", "/predict", key=k, body={"inputs": inputs})
            served[k] = out.get("pid") if st == 200 and isinstance(out, dict) else None
        mctest.check(all(served.values()), "haproxy answered all %d requests: %s"
                     % (len(keys), [k for k, v in served.items() if not v][:5]))
        want = rsnet.selected_keys(self.a.mlchaos, self.cfg, "slow", keys, self.env)
        mctest.check(want, "`mlchaos select` names some of the keys")
        ev = self.events(roots)
        for i, root in enumerate(roots):
            mine = {k for k, pid in served.items() if pid in self.trees[root]}
            got = {e["key"] for e in ev[i] if e.get("key") in served}
            mctest.check(mine, "replica %d served some requests (round-robin)" % i)
            mctest.check(mine & want, "replica %d served some selected ids" % i)
            mctest.check(got == mine & want,
                         "replica %d faulted exactly the selected ids it served: %s vs %s"
                         % (i, sorted(got), sorted(mine & want)))

    def load(self, lb, inputs, stop, counts):
        n = 0
        while not stop.is_set():
            st, _, _ = rsnet.request(lb, "POST", "/predict", key="load-%d-%d" % (
                threading.get_ident() % 1000, n), body={"inputs": inputs})
            counts.append(st)
            n += 1

    def halt_under_load(self, lb, inputs, urls, roots, prom):
        stop, counts = threading.Event(), []
        threads = [threading.Thread(target=self.load, args=(lb, inputs, stop, counts))
                   for _ in range(4)]
        for t in threads:
            t.start()
        try:
            # the load injects faults in every replica before the halt
            before = mctest.poll(lambda: all(len(v) > 40 for v in self.events(roots).values()),
                                 120, 0.5)
            mctest.check(before, "every replica injects under load: %s"
                         % [len(v) for v in self.events(roots).values()])
            wrong = os.path.join(self.tmp, "wrong-token")
            with open(wrong, "w") as f:
                f.write("not-the-token\n")
            p, _ = self.fleet_cmd("halt", urls, wrong)
            mctest.check(p.returncode == 1 and all("%s: NOT confirmed: HTTP 401" % u in p.stdout
                                                   for u in urls),
                         "a wrong token is refused by every replica, each named (exit %d):\n%s"
                         % (p.returncode, p.stdout))
            p, took = self.fleet_cmd("halt", urls)
            halted_at = time.monotonic_ns()
            m = re.search(r"confirmed halted in ([0-9.]+) s", p.stdout)
            mctest.note("halt --fleet: exit %d after %.3f s\n%s%s"
                        % (p.returncode, took, p.stdout, p.stderr))
            mctest.check(p.returncode == 0 and m, "halt --fleet: every replica confirmed")
            if m:
                mctest.check(float(m.group(1)) < HALT_LIMIT_S,
                             "the halt was confirmed by all three in %s s (< %g s)"
                             % (m.group(1), HALT_LIMIT_S))
            at_halt = {i: len(v) for i, v in self.events(roots).items()}
            n0 = len(counts)
            mctest.poll(lambda: len(counts) >= n0 + 60, 60, 0.1)
            after = self.events(roots)
            mctest.check(len(counts) >= n0 + 30, "the load went on after the halt: %d requests"
                         % (len(counts) - n0))
            mctest.check(all(len(after[i]) == at_halt[i] for i in after),
                         "no fault after halt --fleet returned: %s then %s"
                         % (at_halt, {i: len(v) for i, v in after.items()}))
            late = [e for v in after.values() for e in v if e["mono_ns"] > halted_at]
            mctest.check(not late, "no event is later than the halt's return: %s" % late[:3])
            self.prometheus_agrees(prom, after)
            p, _ = self.fleet_cmd("resume", urls)
            mctest.check(p.returncode == 0, "resume --fleet: every replica confirmed:\n%s"
                         % p.stdout)
            back = mctest.poll(lambda: all(len(v) > at_halt[i] for i, v in
                                           self.events(roots).items()), 120, 0.5)
            mctest.check(back, "faults come back in every replica after resume --fleet")
        finally:
            stop.set()
            for t in threads:
                t.join(60)

    def prometheus_agrees(self, prom, events):
        total = sum(len(v) for v in events.values())
        query = 'sum(mlchaos_faults_injected_total{job="mlchaos-fleet",rule="slow"})'
        got = mctest.poll(lambda: prom_value(prom, query) == total, 60, 0.5)
        mctest.note("prometheus: %s = %s; the three event logs: %d"
                    % (query, prom_value(prom, query), total))
        mctest.check(got, "prometheus's sum of faults equals the event logs'")
        rec = mctest.poll(lambda: prom_value(prom, 'rule:mlchaos_faults_injected:sum{rule="slow"}')
                          == total, 60, 0.5)
        mctest.check(rec, "the recording rule rule:mlchaos_faults_injected:sum agrees")
        halted = mctest.poll(lambda: prom_value(
            prom, "fleet:mlchaos_replicas_halted_by_command:count") == REPLICAS, 60, 0.5)
        mctest.check(halted, "the recording rule counts %d replicas halted" % REPLICAS)
        doc = prom_get(prom, "/api/v1/rules", {}) or {}
        rules = [r for g in doc.get("data", {}).get("groups", []) for r in g["rules"]]
        mctest.check(len(rules) >= 10 and all(r.get("health") == "ok" for r in rules),
                     "prometheus loaded the rules, all healthy: %s"
                     % [(r.get("name"), r.get("health"), r.get("lastError")) for r in rules
                        if r.get("health") != "ok"])
        with open(os.path.join(FLEET_DIR, "mlchaos-dashboard.json")) as f:
            dash = json.load(f)
        for panel in dash["panels"]:
            for t in panel["targets"]:
                doc = prom_get(prom, "/api/v1/query", {"query": t["expr"]}) or {}
                mctest.check(doc.get("status") == "success" and doc["data"]["result"],
                             "dashboard panel '%s': %s has data" % (panel["title"], t["expr"]))


EXPERIMENT = """\
[experiment]
name = fleet {name}
url = http://127.0.0.1:{lb}

[fleet]
control = {control}
token_file = {token}

[load]
url = http://127.0.0.1:{lb}/predict
protocol = http-json
requests_file = {requests}
answer = /proba
requests = 90
concurrency = 2
timeout = 60s
id_prefix = {name}

[steady_state]
success_rate >= 99%
agreement >= 100%

{chaos}"""

RESET_RULE = """
[fault.reset]
hook = send
action = fail
errno = ECONNRESET
rate = 40%
select = request
"""


def experiment_text(self, name, lb, urls, chaos):
    return EXPERIMENT.format(
        name=name, lb=lb, control=" ".join(urls), token=self.token_file, chaos=chaos,
        requests=os.path.join(HERE, "..", "experiments", "requests", "sklearn.jsonl"))


def run_experiment(self, name, text):
    path = os.path.join(self.tmp, name + ".ini")
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([self.a.mlchaos, "experiment", "--json", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600, env=self.env)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = {}
    mctest.note("experiment %s: exit %d, result %s, faults %s\n%s"
                % (name, p.returncode, doc.get("result"), doc.get("faults"), p.stderr[-2000:]))
    return p.returncode, doc


def verdicts(doc, metric):
    for h in doc.get("hypotheses", []):
        if h["metric"] == metric:
            return {ph: v["verdict"] for ph, v in h["phases"].items()}
    return {}


def halted_everywhere(urls):
    """Whether every sidecar shows each of its processes halted by a command."""
    for u in urls:
        with urllib.request.urlopen(u + "/metrics", timeout=10) as r:
            text = r.read().decode()
        flags = re.findall(r'mlchaos_halted\{pid="\d+",reason="command"\} (\d)', text)
        if not flags or flags != ["1"] * len(flags):
            return False
    return True


def experiments(self, lb, urls, roots):
    """`mlchaos experiment` against the haproxy URL, chaos through the three endpoints: with
    the delay rule the replicas run it passes and counts their faults; after a reload of
    every replica (POST /reload) with a rule that resets connections, success_rate fails
    during chaos and holds before and after, as with one server."""
    chaos = CONFIG.replace("log = {log}\n", "")
    before = sum(len(v) for v in self.events(roots).values())
    rc, doc = self.run_experiment("pass", self.experiment_text("pass", lb, urls, chaos))
    grown = sum(len(v) for v in self.events(roots).values()) - before
    mctest.check(rc == 0 and doc.get("result") == "passed",
                 "the experiment against the fleet passes (exit %d, %s)" % (rc, doc.get("result")))
    faults = doc.get("faults", {})
    slow = [r["injected"] for r in faults.get("rules", []) if r["name"] == "slow"]
    mctest.check(faults.get("total", 0) > 0 and slow == [faults["total"]],
                 "its faults come from the replicas' counters, by rule: %s" % faults)
    mctest.check(faults.get("total") == grown,
                 "the counters' growth is what the event logs gained: %s vs %d"
                 % (faults.get("total"), grown))
    mctest.check(halted_everywhere(urls), "the experiment leaves the fleet halted")
    # the fleet runs a config with a rule that breaks requests: reloaded through the endpoints
    with open(self.cfg, "w") as f:
        f.write(CONFIG.format(log=self.log) + RESET_RULE)
    stop, counts = threading.Event(), []
    drive = threading.Thread(target=self.load, args=(lb, [[0.0] * 16], stop, counts))
    drive.start()  # a process reloads at its next hooked call: requests make them come
    try:
        for u, (port, worker) in zip(urls, self.started):
            req = urllib.request.Request(u + "/reload?timeout=15", method="POST", data=b"",
                                         headers={"Authorization": "Bearer " + TOKEN})
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    code, body = r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                code, body = e.code, e.read().decode()
            # The worker serves, so it reaches a send, the safe point where a process reloads;
            # gunicorn's master never sends: it is named as pending, and the answer says so.
            pending = re.findall(r"process (\d+) has not reloaded", body)
            mctest.check(re.search(r"process %d: reloaded .*: 2 rule\(s\)" % worker, body)
                         and code == (504 if pending else 200)
                         and str(worker) not in pending,
                         "POST /reload on %s: the worker %d reloaded; %d\n%s"
                         % (u, worker, code, body))
    finally:
        stop.set()
        drive.join(120)
    rc, doc = self.run_experiment("fail", self.experiment_text("fail", lb, urls,
                                                               chaos + RESET_RULE))
    v = verdicts(doc, "success_rate")
    mctest.check(rc == 1 and doc.get("result") == "failed",
                 "with connections reset the experiment fails (exit %d, %s)"
                 % (rc, doc.get("result")))
    mctest.check(v == {"before": "held", "during": "failed", "after": "held"},
                 "success_rate holds before and after chaos and fails during it: %s" % v)
    resets = [r["injected"] for r in doc.get("faults", {}).get("rules", [])
              if r["name"] == "reset"]
    mctest.check(resets and resets[0] > 0, "the reset rule's faults are counted: %s" % resets)


for _f in (experiment_text, run_experiment, experiments):
    setattr(Fleet, _f.__name__, _f)


LOOP = ("import os, time\n"
        "while True:\n"
        "    fd = os.open('/etc/hostname', os.O_RDONLY)\n"
        "    os.read(fd, 8)\n"
        "    os.close(fd)\n"
        "    time.sleep(0.002)\n")
LOOP_CONFIG = "[mlchaos]\nseed = 3\n\n[fault.eio]\nhook = read\naction = fail\nerrno = EIO\n" \
              "rate = 1%\npath = /etc/hostname\n"


def segments_under(root):
    """The pids of the segments in /dev/shm whose process is root or a descendant of it."""
    def parent(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return int(f.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            return 0
    out = set()
    for name in os.listdir("/dev/shm"):
        m = re.fullmatch(r"mlchaos\.(\d+)", name)
        pid = int(m.group(1)) if m else 0
        while pid > 1 and m:
            if pid == root:
                out.add(int(m.group(1)))
                break
            pid = parent(pid)
    return out


def raw_http(port, data):
    """Sends data as it is; the status code of the answer and its body."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    out = b""
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.1 (\d+)", head)
    return (int(m.group(1)) if m else None), body.decode("utf-8", "replace")


def control_case(a, tmp):
    env = mctest.clean_env(dict(kv.partition("=")[::2] for kv in a.env))
    cfg = os.path.join(tmp, "loop.ini")
    with open(cfg, "w") as f:
        f.write(LOOP_CONFIG)
    token = os.path.join(tmp, "token")
    with open(token, "w") as f:
        f.write(TOKEN + "\n")
    procs = []

    def spawn(name, argv):
        p = mctest.Proc(argv, env, os.path.join(tmp, name + ".stderr"))
        procs.append(p)
        return p

    def mlchaos(*args):
        return subprocess.run([a.mlchaos, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=60, env=env)

    try:
        mine = spawn("mine", [a.mlchaos, "run", "-c", cfg, "--", PY, "-c", LOOP])
        other = spawn("other", [a.mlchaos, "run", "-c", cfg, "--", PY, "-c", LOOP])
        mine_pids = mctest.poll(lambda: segments_under(mine.pid), 60)
        other_pids = mctest.poll(lambda: segments_under(other.pid), 60)
        if not mctest.check(mine_pids and other_pids, "both loops publish their segments"):
            return

        def sidecar(name, *extra):
            p = spawn(name, [a.mlchaos, "metrics", "--tree", str(mine.pid), "--listen",
                             "127.0.0.1:0", *extra])
            got = mctest.poll(lambda: re.search(r":(\d+)/metrics", p.stderr()), 30)
            return int(got.group(1)) if got else None
        on, off = sidecar("on", "--control-token-file", token), sidecar("off")
        if not mctest.check(on and off, "two sidecars listening"):
            return
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % on, timeout=10) as r:
            text = r.read().decode()
        pids = {int(x) for x in re.findall(r'mlchaos_process_info\{pid="(\d+)"', text)}
        mctest.check(pids == mine_pids, "--tree %d covers its processes %s alone, not %s: %s"
                     % (mine.pid, mine_pids, other_pids, pids))
        good = "Authorization: Bearer %s\r\n" % TOKEN
        cases = [
            (off, "POST /halt HTTP/1.1\r\n%s\r\n" % good, 403, "control is off"),
            (on, "POST /halt HTTP/1.1\r\n\r\n", 401, "Bearer"),
            (on, "POST /halt HTTP/1.1\r\nAuthorization: Bearer %sx\r\n\r\n" % TOKEN, 401,
             "wrong token"),
            (on, "POST /halt HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n" % TOKEN[:-1], 401,
             "wrong token"),
            (on, "POST /halt HTTP/1.1\r\nAuthorization: Basic %s\r\n\r\n" % TOKEN, 401, "Bearer"),
            (on, "POST /halt HTTP/1.1\r\n%s%s\r\n" % (good, good), 400, "more than one"),
            (on, "GET /halt HTTP/1.1\r\n%s\r\n" % good, 405, "POST only"),
            (on, "POST /halt HTTP/1.1\r\n%sContent-Length: 4\r\n\r\nabcd" % good, 413, "no body"),
            (on, "POST /halt HTTP/1.1\r\n%sTransfer-Encoding: chunked\r\n\r\n" % good, 400,
             "no body"),
            (on, "POST /halt?timeout=999 HTTP/1.1\r\n%s\r\n" % good, 400, "timeout="),
            (on, "POST /halt?x=%s HTTP/1.1\r\n%s\r\n" % ("a" * 300, good), 400, "query"),
            (on, "POST /halt HTTP/1.1\r\nX: %s\r\n%s\r\n" % ("a" * 9000, good), 431, "too long"),
            (on, "POST /metrics HTTP/1.1\r\n%s\r\n" % good, 405, "only GET"),
            (on, "POST /halt HTTP/1.1\r\n%s\r\n" % good, 200, "process %d" % min(mine_pids)),
            (on, "POST /resume?watchdog=1 HTTP/1.1\r\n%s\r\n" % good, 200,
             "process %d" % min(mine_pids)),
        ]
        for port, req, want, says in cases:
            code, body = raw_http(port, req.encode())
            mctest.check(code == want and says in body, "%r...: %s %r (want %d, '%s')"
                         % (req[:40], code, body[:120], want, says))
        # the other process was not halted by its neighbour's endpoint
        code, body = raw_http(on, ("POST /halt HTTP/1.1\r\n%s\r\n" % good).encode())
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % off, timeout=10) as r:
            text = r.read().decode()
        p = subprocess.run([a.mlchaos, "metrics", "--tree", str(other.pid)], env=env,
                           stdout=subprocess.PIPE, text=True, timeout=60)
        mctest.check(code == 200 and all(str(x) not in body for x in other_pids)
                     and re.search(r'mlchaos_halted\{pid="\d+",reason="command"\} 1', text)
                     and re.search(r'mlchaos_halted\{pid="\d+",reason="command"\} 0', p.stdout),
                     "its own process halted, the other not: %s" % p.stdout[-600:])
        # usage errors
        empty = os.path.join(tmp, "empty")
        open(empty, "w").close()
        bad_list = os.path.join(tmp, "replicas.txt")
        with open(bad_list, "w") as f:
            f.write("# replicas\nhttp://127.0.0.1:1\nnot a url\n")
        for args, says in (
                (["metrics", "--control-token-file", token], "go with --listen"),
                (["metrics", "--listen", "127.0.0.1:0", "--control-token-file", empty], "empty"),
                (["metrics", "--tree", "x"], "--tree 'x'"),
                (["halt", "--fleet", "http://127.0.0.1:1"], "--token-file"),
                (["halt", "--fleet", "--token-file", token, "ftp://x"], "not a replica's URL"),
                (["halt", "--fleet", "--token-file", token], "give the replicas' URLs"),
                (["resume", "--fleet-file", bad_list, "--token-file", token],
                 bad_list + ":3: one URL a line"),
                (["halt", "--all", "--fleet", "--token-file", token, "http://x"], "--all")):
            p = mlchaos(*args)
            mctest.check(p.returncode == 2 and says in p.stderr,
                         "mlchaos %s: exit %d, %r" % (" ".join(args), p.returncode, p.stderr))
        # ":PORT", as a pod's sidecar is started: every interface, to be scraped from outside
        wide = spawn("wide", [a.mlchaos, "metrics", "--listen", ":0", "--max-requests", "1"])
        got = mctest.poll(lambda: re.search(r"serving http://(\S+):(\d+)/metrics", wide.stderr()),
                          30)
        mctest.check(got and got.group(1) in ("0.0.0.0", "[::]"),
                     "--listen :0 serves every interface: %s" % wide.stderr())
        spec_errors(a, tmp, token, mlchaos)
    finally:
        for p in reversed(procs):
            p.stop(30)


def spec_errors(a, tmp, token, mlchaos):
    base = ("[experiment]\nurl = http://127.0.0.1:1\n%s\n[load]\nrequests = 1\n"
            "[steady_state]\nsuccess_rate >= 99%%\n%s")
    fleet = "[fleet]\ncontrol = http://127.0.0.1:2\ntoken_file = %s\n" % token
    for name, text, says in (
            ("no-fleet", base % ("", ""), ":2: [experiment] url needs [fleet] control"),
            ("command", base % ("command = /bin/true\n", fleet),
             ":3: 'command' starts or stops a target"),
            ("no-token", base % ("", "[fleet]\ncontrol = http://127.0.0.1:2\n"),
             "[fleet] needs token_file"),
            ("not-url", base % ("", fleet.replace("http://127.0.0.1:2", "127.0.0.1:2")),
             "control: '127.0.0.1:2' is not a URL"),
            ("fleet-with-command",
             base.replace("url = http://127.0.0.1:1", "command = /bin/true\nready = /x")
             % ("", fleet), "[fleet] goes with [experiment] url")):
        path = os.path.join(tmp, name + ".ini")
        with open(path, "w") as f:
            f.write(text)
        p = mlchaos("experiment", path)
        mctest.check(p.returncode == 2 and says in p.stderr,
                     "experiment %s: exit %d, %r" % (name, p.returncode, p.stderr[-600:]))


def check_rules():
    for argv in ([PROMTOOL, "check", "rules", RULES],
                 [PROMTOOL, "test", "rules", "mlchaos-rules.test.yml"]):
        p = subprocess.run(argv, cwd=FLEET_DIR, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=120)
        mctest.check(p.returncode == 0 and "SUCCESS" in p.stdout,
                     "%s: exit %d\n%s" % (" ".join(argv[1:]), p.returncode, p.stdout))
    with open(os.path.join(FLEET_DIR, "mlchaos-dashboard.json")) as f:
        dash = json.load(f)
    with open(RULES) as f:
        recorded = set(re.findall(r"record: (\S+)", f.read()))
    ids = [p["id"] for p in dash["panels"]]
    mctest.check(len(ids) == len(set(ids)) and dash.get("uid"), "panel ids unique, a uid")
    for panel in dash["panels"]:
        for t in panel["targets"]:
            names = set(re.findall(r"[a-z0-9_:]*mlchaos[a-z0-9_:]*", t["expr"]))
            unknown = {n for n in names if ":" in n and n not in recorded}
            mctest.check(names and not unknown, "panel '%s' reads %s (recorded or exported)"
                         % (panel["title"], sorted(names)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlchaos", required=True)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    ap.add_argument("case", choices=["local", "rules", "control"])
    a = ap.parse_args()
    need = {"rules": [PROMTOOL], "control": []}.get(a.case, [GUNICORN, HAPROXY, PROMETHEUS])
    for exe in need:
        if not os.access(exe, os.X_OK):
            mctest.skip("%s is not installed (scripts/setup installs it)" % exe)
    if a.case == "rules":
        check_rules()
        return mctest.finish()
    if a.case == "control":
        return mctest.in_tmpdir("mlchaos-fleet-control-", lambda tmp: control_case(a, tmp))
    if subprocess.run([PY, "-c", "import sklearn"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        mctest.skip("%s cannot import sklearn (Debian: python3-sklearn)" % PY)
    mctest.fail_on_sigterm()
    tmp = tempfile.mkdtemp(prefix="mlchaos-fleet-")
    f = Fleet(a, tmp)
    try:
        return mctest.run_case("fleet-local", f.main, f.stop_all)
    finally:
        if not os.environ.get("FT_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
