# prom_check.py - a strict checker of the Prometheus text exposition format
# 0.0.4 as node_exporter's textfile collector reads it: reads stdin, exits 1
# with a reason on the first problem, else prints "ok FAMILIES SAMPLES".
# Checks: HELP and TYPE once per family and before its samples; valid metric
# and label names; label values with only \\ \" \n escapes; numeric values;
# each family's samples contiguous; no duplicate series; counters end in _total.
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

helps, types, done, seen = {}, {}, set(), set()
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
    series = (name, tuple(sorted(pairs)))
    if series in seen:
        fail(n, "duplicate series", line)
    seen.add(series)
    samples += 1
for fam in types:
    if fam not in helps:
        fail(0, "TYPE without HELP", fam)
print("ok", len(types), samples)
