"""Reading what `mlchaos trace` reports, for the preload and real test suites.

The JSON file holds one object per traced process:
  {"pid":N,"ppid":N,"argv0":"..","calls":[{"fn":"read","target":"file:/abs",
   "calls":N,"bytes":N}, ...], "models":[...], "sockets":[...], "memory":[...],
   "other_files":{...}, "syscalls":[...]}
and stderr holds, per process, a header line
  mlchaos trace: pid N ppid N (argv0): K rows
followed by a column header and sections: "model files:" (a line per file, "  file:PATH:
FORMAT, N tensors", then its rows), "sockets:" (a line per target, "  socket:tcp:PORT: N
requests", then its rows), "memory:" and "through syscall(), ...:" (rows), and one folded
line each for the other files and the rest ("other files: N files, ...; `mlchaos trace --all`
lists them"), which --all turns into titled rows. A row is "  FN CALLS BYTES TARGET"; FN is
"NAME (via syscall)" for a call made through syscall(), whose JSON row is "fn":"syscall".
"""

import difflib
import json
import re

HEADER = re.compile(r"^mlchaos trace: pid (\d+) ppid (\d+) \((.*)\): (\d+) rows?$")
ROW = re.compile(r"^  (\S.*?) +(\d+) +(\d+)  (\S.*)$")
# Lines of a table that are neither rows nor the header: section titles and folded lines.
SECTION_STARTS = ("model files:", "sockets:", "memory:", "other files", "through syscall()",
                  "other (")
FOLDED = re.compile(r"^other files: (\d+) files?, (\d+) reads? \(.*\), (\d+) other calls?")


def diff(a, b, name_a, name_b):
    return "\n".join(difflib.unified_diff(a, b, name_a, name_b, lineterm="", n=2))


def load_json(path, fail):
    """The objects of a trace JSON file, one per line; reports malformed lines."""
    objs = []
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        fail(f"no trace JSON: {e}")
        return objs
    for n, line in enumerate(lines, 1):
        try:
            obj = json.loads(line)
        except ValueError as e:
            fail(f"{path}:{n}: not JSON ({e}): {line[:200]!r}")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("calls"), list):
            fail(f"{path}:{n}: not a trace object: {line[:200]!r}")
            continue
        for row in obj["calls"]:
            keys = set(row) if isinstance(row, dict) else set()
            if keys != {"fn", "target", "calls", "bytes"}:
                fail(f"{path}:{n}: malformed row {row!r}")
        objs.append(obj)
    return objs


def index_by_pid(objs, fail):
    by_pid = {}
    for obj in objs:
        pid = obj.get("pid")
        if pid in by_pid:
            fail(f"two trace objects for pid {pid}")
        by_pid[pid] = obj
    return by_pid


def find_row(obj, fn, target):
    for row in (obj or {}).get("calls", []):
        if row.get("fn") == fn and row.get("target") == target:
            return row
    return None


def rows_for_target(obj, target):
    return [r for r in (obj or {}).get("calls", []) if r.get("target") == target]


def show_rows(obj):
    return "\n".join(f"  {r.get('fn')} {r.get('target')} calls={r.get('calls')} "
                     f"bytes={r.get('bytes')}" for r in (obj or {}).get("calls", []))


def parse_table(stderr):
    """pid -> (ppid, name, nrows, [(fn, calls, bytes, target)], [section and folded lines],
    [group head lines]) from the human tables; a syscall row's fn is "syscall", as in the
    JSON."""
    tables = {}
    current = None
    for line in stderr.splitlines():
        m = HEADER.match(line)
        if m:
            current = ([], [], [])
            tables[int(m.group(1))] = (int(m.group(2)), m.group(3), int(m.group(4))) + current
            continue
        if current is None:
            continue
        rows, titles, heads = current
        if line.startswith("  "):
            r = ROW.match(line)
            if r:
                fn, target = r.group(1), r.group(4)
                if target.startswith("syscall:") and fn.endswith(" (via syscall)"):
                    fn = "syscall"
                rows.append((fn, int(r.group(2)), int(r.group(3)), target))
            elif not line.startswith("  FUNCTION "):
                heads.append(line[2:])
        elif line.startswith(SECTION_STARTS):
            titles.append(line)
        else:
            current = None
    return tables


def folded_targets(obj):
    """The targets the table folds without --all: files that are no model file, and "other"."""
    models = {"file:" + m["path"] for m in obj.get("models", [])}
    return {r["target"] for r in obj["calls"]
            if (r["target"].startswith("file:") and r["target"] not in models)
            or r["target"] == "other"}


def check_table(stderr, by_pid, fail, all_rows=False):
    """The human table on stderr shows the same processes as the JSON, each row of the model
    files, sockets, memory and syscalls, and the other files folded into one line whose counts
    are the JSON's (with all_rows, as `mlchaos trace --all`: every row)."""
    tables = parse_table(stderr)
    for pid, obj in by_pid.items():
        if pid not in tables:
            fail(f"no 'mlchaos trace: pid {pid} ...' table on stderr")
            continue
        ppid, _name, nrows, rows, titles, _heads = tables[pid]
        want = sorted((r["fn"], r["calls"], r["bytes"], r["target"]) for r in obj["calls"])
        folded = set() if all_rows else folded_targets(obj)
        want_shown = sorted(r for r in want if r[3] not in folded)
        shown = sorted(rows)
        ok = ppid == obj.get("ppid") and nrows == len(want) and shown == want_shown
        files = {r[3] for r in want if r[3] in folded and r[3].startswith("file:")}
        line = [t for t in titles if t.startswith("other files:")]
        if files and not all_rows:
            m = FOLDED.match(line[0]) if line else None
            if not (m and int(m.group(1)) == len(files)):
                fail(f"pid {pid}: the folded line {line!r} does not count {len(files)} other "
                     "files")
        if not ok:
            fail(f"pid {pid}: the stderr table ({nrows} rows) differs from the JSON "
                 f"({len(want)} rows, {len(want_shown)} shown):\n"
                 + diff([" ".join(map(str, r)) for r in want_shown],
                        [" ".join(map(str, r)) for r in shown], "json", "table"))
