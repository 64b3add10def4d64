#!/bin/bash
# t_failover_psql.sh - failover with libpq (issue 15): svc.bwtest has two
# addresses in a private /etc/hosts (mount namespace), 127.0.0.2 dead and
# 127.0.0.3 where PostgreSQL listens. libpq tries each address in turn, so
# psql succeeds either way; under the shim, once the dead address's breaker
# opened (2 refusals), no psql connect reaches it any more: getaddrinfo lists
# it last and a connect to it goes to the sibling.
. "$(dirname "$0")/lib.sh"
require_shim
PGBIN=/usr/lib/postgresql/15/bin
[ -x $PGBIN/initdb ] || fail "postgresql missing (tests/deps.sh test installs it)"
[ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 || fail "needs root and the postgres user"
chmod 711 "$T"
mkdir "$T/pg" "$T/st"; chown postgres: "$T/pg"
as_pg() { (cd "$T/pg" && setpriv --reuid=postgres --regid=postgres --init-groups "$@"); }
as_pg $PGBIN/initdb -D "$T/pg/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 \
    >"$T/initdb.log" 2>&1 || { tail "$T/initdb.log" >&2; fail "initdb failed"; }
PORT=$(free_port)
bg bash -c "cd '$T/pg' && exec setpriv --reuid=postgres --regid=postgres --init-groups \
    $PGBIN/postgres -D '$T/pg/data' -p $PORT -c listen_addresses=127.0.0.3 \
    -c unix_socket_directories= -c fsync=off" 2>>"$T/pg.log"
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.3/$PORT) 2>/dev/null && break; sleep 0.1; done
printf '127.0.0.1 localhost\n127.0.0.2 svc.bwtest\n127.0.0.3 svc.bwtest\n' >"$T/hosts"
write_config "$T/bw.ini" <<INI
[global]
state_dir = $T/st
[destination pg]
host = svc.bwtest
port = $PORT
retries = 0
breaker_consecutive_failures = 2
breaker_open_ms = 60000
INI
inns() { unshare -m bash -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T/hosts" "$@"; }
q() { inns "$@" $PGBIN/psql -X -w -h svc.bwtest -p "$PORT" -U postgres -d postgres -At -c 'select 6*7'; }
dead_calls() {
    "$BW_CLI" status -c "$T/bw.ini" --json | "$PYTHON3" -c '
import json, sys
print(sum(a["window_calls"] for x in json.load(sys.stdin)["destinations"]
          for a in x["addresses"] if a["address"].startswith("127.0.0.2:")))'
}
assert_eq "plain psql (libpq tries the second address itself)" 42 "$(q env -u LD_PRELOAD 2>/dev/null)"
for i in 1 2 3 4 5 6; do
    assert_eq "psql call $i under the shim" 42 "$(q env BREAKWATER_CONFIG="$T/bw.ini" LD_PRELOAD="$BW_PRELOAD" 2>>"$T/shim.err")"
done
assert_eq "connects that reached the dead address: the 2 that opened its breaker" 2 "$(dead_calls)"
grep -q "breaker open: 2 consecutive failures" "$T/shim.err" || { cat "$T/shim.err" >&2; fail "no breaker-open line"; }
# With failover = off, each psql starts at the dead address again, where the
# breaker now refuses it at once (libpq then tries the second address itself).
rejected() {
    "$BW_CLI" status -c "$T/bw.ini" --json | "$PYTHON3" -c '
import json, sys
print(sum(a["rejected_breaker"] for x in json.load(sys.stdin)["destinations"]
          for a in x["addresses"] if a["address"].startswith("127.0.0.2:")))'
}
before=$(rejected)
sed -i 's/^retries = 0$/retries = 0\nfailover = off/' "$T/bw.ini"
for i in 1 2; do
    assert_eq "failover = off: psql call $i" 42 "$(q env BREAKWATER_CONFIG="$T/bw.ini" LD_PRELOAD="$BW_PRELOAD" 2>/dev/null)"
done
assert_eq "failover = off: both calls started at the dead address, refused by its breaker" \
    $((before + 2)) "$(rejected)"
echo "ok"
