# prom_check.py - a strict checker of the Prometheus text exposition format
# 0.0.4 as node_exporter's textfile collector reads it: reads stdin, exits 1
# with a reason on the first problem, else prints "ok FAMILIES SAMPLES".
# Checks: HELP and TYPE once per family and before its samples; valid metric
# and label names; label values with only \\ \" \n escapes; numeric values;
# each family's samples contiguous; no duplicate series; counters end in _total;
# a histogram's samples are NAME_bucket (with an le label: increasing bounds,
# non-decreasing counts, +Inf last), NAME_sum and NAME_count (= its +Inf bucket).
import re, sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(?:\{((?:%s=%s)(?:,%s=%s)*)?,?\})? (\S+)(?: -?\d+)?$"
                    % (NAME, LABEL, VALUE, LABEL, VALUE))
PAIR = re.compile(r"(%s)=(%s)" % (LABEL, VALUE))
NUM = re.compile(r"^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?Inf|NaN)$")

def fail(n, msg, line):
    print("line %d: %s: %r" % (n, msg, line))
    sys.exit(1)

helps, types, done, seen, hist = {}, {}, set(), set(), {}
current = None
samples = 0
text = sys.stdin.read()
if text and not text.endswith("\n"):
    fail(0, "no final newline", text[-40:])
for n, line in enumerate(text.split("\n")[:-1], 1):
    if line.startswith("#"):
        m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % NAME, line)
        if not m:
            if re.match(r"^#\s*(HELP|TYPE)\b", line):
                fail(n, "malformed HELP/TYPE", line)
            continue
        kind, fam, rest = m.groups()
        table = helps if kind == "HELP" else types
        if fam in table:
            fail(n, "second " + kind, line)
        if fam in done:
            fail(n, kind + " after the family's samples", line)
        if kind == "TYPE" and rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
            fail(n, "bad type", line)
        if kind == "TYPE" and rest == "counter" and not fam.endswith("_total"):
            fail(n, "counter not ending in _total", line)
        if kind == "HELP" and re.search(r"\\[^\\n]", rest):
            fail(n, "bad escape in HELP", line)
        table[fam] = rest
        if current is not None and current != fam:
            done.add(current)
        current = fam
        continue
    if not line.strip():
        fail(n, "empty line", line)
    m = SAMPLE.match(line)
    if not m:
        fail(n, "malformed sample", line)
    name, labels, value = m.groups()
    suffix = None
    for suf in ("_bucket", "_sum", "_count"):
        base = name[:-len(suf)]
        if name.endswith(suf) and types.get(base) == "histogram":
            name, suffix = base, suf
    if types.get(name) == "histogram" and suffix is None:
        fail(n, "histogram sample without _bucket, _sum or _count", line)
    if name not in types or name not in helps:
        fail(n, "sample before its HELP and TYPE", line)
    if name in done or name != current:
        fail(n, "samples of the family are not contiguous", line)
    if not NUM.match(value):
        fail(n, "value is not a number", line)
    pairs = PAIR.findall(labels or "")
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        fail(n, "repeated label name", line)
    if suffix:
        others = tuple(sorted(p for p in pairs if p[0] != "le"))
        h = hist.setdefault((name, others), {"bounds": [], "counts": [], "count": None})
        if suffix == "_bucket":
            les = [v for k, v in pairs if k == "le"]
            if not les:
                fail(n, "bucket without le", line)
            bound = float(les[0].strip('"'))
            if h["bounds"] and bound <= h["bounds"][-1]:
                fail(n, "bucket bounds not increasing", line)
            if h["counts"] and float(value) < h["counts"][-1]:
                fail(n, "bucket counts decrease", line)
            h["bounds"].append(bound)
            h["counts"].append(float(value))
        elif suffix == "_count":
            h["count"] = float(value)
        if suffix != "_bucket" and any(k == "le" for k, _ in pairs):
            fail(n, "le label outside a bucket", line)
    series = (name, suffix, tuple(sorted(pairs)))
    if series in seen:
        fail(n, "duplicate series", line)
    seen.add(series)
    samples += 1
for fam in types:
    if fam not in helps:
        fail(0, "TYPE without HELP", fam)
for (fam, labels), h in hist.items():
    if not h["bounds"] or h["bounds"][-1] != float("inf"):
        fail(0, "histogram without a last +Inf bucket", fam)
    if h["count"] is None or h["count"] != h["counts"][-1]:
        fail(0, "histogram _count differs from its +Inf bucket", fam)
print("ok", len(types), samples)
