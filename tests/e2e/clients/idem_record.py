# idem_record.py - reads bw_httpd's request record for the idempotency tests.
#
#   idem_record.py RECORD TARGET HEADER
#       prints "METHOD CONN SEQ BODY_LEN BODY_SHA256 COUNT [VALUE...]" for the
#       one request to TARGET: COUNT fields named HEADER (any case) and their
#       values. Exits 1 when TARGET was requested other than exactly once.
#   idem_record.py uuid VALUE VERSION [T0_MS T1_MS]
#       exits 0 when VALUE is a lower-case RFC 9562 UUID of that version with
#       the RFC variant bits, and for version 7 a timestamp in [T0_MS, T1_MS].
import re, sys


def unescape(s):
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "r": "\r", "n": "\n"}.get(m.group(1), m.group(1)), s)


def uuid_ok(v, ver, t0=None, t1=None):
    m = re.fullmatch(r"([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f])[0-9a-f]{3}-([0-9a-f])[0-9a-f]{3}-[0-9a-f]{12}", v)
    if not m or m.group(3) != ver or m.group(4) not in "89ab":
        return False
    if ver == "7" and t0 is not None:
        ms = int(m.group(1) + m.group(2), 16)
        return int(t0) <= ms <= int(t1)
    return True


if sys.argv[1] == "uuid":
    sys.exit(0 if uuid_ok(*sys.argv[2:]) else 1)
record, target, header = sys.argv[1], sys.argv[2], sys.argv[3].lower()
hits = []
for line in open(record, encoding="utf-8", errors="replace"):
    f = line.rstrip("\n").split("\t")
    if len(f) >= 6 and unescape(f[3]) == target:
        vals = []
        for h in f[6:]:
            name, _, val = unescape(h).partition(":")
            if name.lower() == header:
                vals.append(val.strip(" "))
        hits.append(" ".join([f[2], f[0], f[1], f[4], f[5], str(len(vals))] + vals))
if len(hits) != 1:
    print("%d requests to %s" % (len(hits), target))
    sys.exit(1)
print(hits[0])
