# idem_check.py - checks the idempotency property test's streams.
#
#   idem_check.py DIR NCONN
#
# For each connection I in 1..NCONN: DIR/recv-I.bin (what the server got) must
# be DIR/sent-I.bin (what the client wrote) with exactly one line
# "Idempotency-Key: <UUIDv4>" inserted at each offset listed in DIR/sent-I.off
# (the blank line ending a POST/PATCH header block), ended as that blank line
# begins (CRLF or LF), and nothing else changed. Every key is distinct.
# Prints a summary line; exits 1 at the first difference, showing where.
import re, sys

LINE = re.compile(rb"Idempotency-Key: ([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})(\r\n|\n)")
d, nconn = sys.argv[1], int(sys.argv[2])
keys = set()
total = 0


def bad(i, what, recv, rpos):
    print("connection %d: %s at received byte %d: %r" % (i, what, rpos, bytes(recv[max(0, rpos - 80):rpos + 120])))
    sys.exit(1)


for i in range(1, nconn + 1):
    sent = open("%s/sent-%d.bin" % (d, i), "rb").read()
    recv = open("%s/recv-%d.bin" % (d, i), "rb").read()
    offs = [int(x) for x in open("%s/sent-%d.off" % (d, i)).read().split()]
    rpos = spos = 0
    for off in offs:
        seg = sent[spos:off]
        if recv[rpos:rpos + len(seg)] != seg:
            k = next((j for j in range(min(len(seg), len(recv) - rpos)) if recv[rpos + j] != seg[j]), None)
            bad(i, "program bytes differ (first at +%s of %d)" % (k, len(seg)), recv, rpos + (k or 0))
        rpos += len(seg)
        m = LINE.match(recv, rpos)
        if not m:
            bad(i, "no well-formed key line before the blank line at sent offset %d" % off, recv, rpos)
        want_eol = b"\r\n" if sent[off:off + 1] == b"\r" else b"\n"
        if m.group(2) != want_eol:
            bad(i, "key line ends with %r, blank line with %r" % (m.group(2), want_eol), recv, rpos)
        if m.group(1) in keys:
            bad(i, "key used twice", recv, rpos)
        keys.add(m.group(1))
        rpos = m.end()
        spos = off
    if recv[rpos:] != sent[spos:]:
        rest, srest = recv[rpos:], sent[spos:]
        k = next((j for j in range(min(len(rest), len(srest))) if rest[j] != srest[j]), min(len(rest), len(srest)))
        bad(i, "stream differs after the last key (sent %d more bytes, received %d)" % (len(srest), len(rest)), recv, rpos + k)
    total += len(recv)
print("checked %d connections, %d bytes received, %d keys, all distinct UUIDv4" % (nconn, total, len(keys)))
