"""Reading what `mlchaos trace` reports, for the preload and real test suites.

The JSON file holds one object per traced process:
  {"pid":N,"ppid":N,"argv0":"..","calls":[{"fn":"read","target":"file:/abs",
   "calls":N,"bytes":N}, ...]}
and stderr holds, per process, a header line
  mlchaos trace: pid N ppid N (argv0): K rows
followed by a column header and K rows "FN CALLS BYTES TARGET".
"""

import difflib
import json
import re

# Rows the stderr table shows per process; the JSON holds them all.
TABLE_MAX_ROWS = 60
HEADER = re.compile(r"^mlchaos trace: pid (\d+) ppid (\d+) \((.*)\): (\d+) rows?$")


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
    """pid -> (ppid, name, [(fn, calls, bytes, target)]) from the human tables."""
    tables = {}
    current = None
    for line in stderr.splitlines():
        m = HEADER.match(line)
        if m:
            current = []
            tables[int(m.group(1))] = (int(m.group(2)), m.group(3), int(m.group(4)), current)
            continue
        if current is None:
            continue
        w = line.split(None, 3)
        if len(w) == 4 and w[1].isdigit() and w[2].isdigit():
            current.append((w[0], int(w[1]), int(w[2]), w[3]))
        elif not line.startswith("  "):
            current = None
    return tables


def check_table(stderr, by_pid, fail, max_rows=TABLE_MAX_ROWS):
    """The human table on stderr shows the same processes and rows as the JSON (the table
    shows at most max_rows rows, the JSON all of them)."""
    tables = parse_table(stderr)
    for pid, obj in by_pid.items():
        if pid not in tables:
            fail(f"no 'mlchaos trace: pid {pid} ...' table on stderr")
            continue
        ppid, _name, nrows, rows = tables[pid]
        want = sorted((r["fn"], r["calls"], r["bytes"], r["target"]) for r in obj["calls"])
        shown = sorted(rows)
        ok = ppid == obj.get("ppid") and nrows == len(want)
        if len(want) <= max_rows:
            ok = ok and shown == want
        else:
            ok = ok and len(shown) == max_rows and set(shown) <= set(want)
        if not ok:
            fail(f"pid {pid}: the stderr table ({nrows} rows) differs from the JSON "
                 f"({len(want)} rows):\n"
                 + diff([" ".join(map(str, r)) for r in want],
                        [" ".join(map(str, r)) for r in shown], "json", "table"))
