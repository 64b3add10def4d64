#!/bin/bash
# psql against PostgreSQL 15 (Debian's), over TCP (-h 127.0.0.1).
#  1. Retries let psql connect while the server is still starting: postgres is
#     started on a free port 1.5 s from now; psql run at once fails without
#     the shim (connection refused) and succeeds under it with retries = 5,
#     backoff 400 ms doubling up to 1 s, no jitter (attempts at about 0, 0.4,
#     1.2, 2.2, 3.2, 4.2 s). libpq connects non-blocking and polls (no epoll):
#     the retries run inside its own poll, and status counts them (issue 12).
#     An attempt that lands after postgres listens but before it is ready is
#     told "the database system is starting up" (the TCP connect succeeded);
#     that one race of postgres's own is tried again once.
#  2. Against the running server, queries give identical output in all 5 modes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/retry_lib.sh"
PGBIN=/usr/lib/postgresql/15/bin
[ -x $PGBIN/initdb ] || fail "postgresql missing (tests/deps.sh test installs it)"
[ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 || fail "needs root and the postgres user"
chmod 711 "$T"                       # postgres must reach its data dir under $T
mkdir "$T/pg"; chown postgres: "$T/pg"
as_pg() { (cd "$T/pg" && setpriv --reuid=postgres --regid=postgres --init-groups "$@"); }
as_pg $PGBIN/initdb -D "$T/pg/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 \
    >"$T/initdb.log" 2>&1 || { tail "$T/initdb.log" >&2; fail "initdb failed"; }
PORT=$(free_port)
psql_q() { $PGBIN/psql -X -w -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -At "$@"; }
write_config "$T/bw.ini" <<INI
[destination pg]
host = 127.0.0.1
port = $PORT
retries = 5
backoff_initial_ms = 400
backoff_max_ms = 1000
jitter = none
breaker_consecutive_failures = 10
INI

pg_pid=""
start_pg_later() {   # SECONDS: postgres in the foreground (under bg), after a delay
    bg bash -c "sleep $1; cd '$T/pg' && exec setpriv --reuid=postgres --regid=postgres --init-groups \
        $PGBIN/postgres -D '$T/pg/data' -p $PORT -c listen_addresses=127.0.0.1 \
        -c unix_socket_directories= -c fsync=off" 2>>"$T/pg.log"
    pg_pid=${BW_PIDS[-1]}
}
stop_pg() { kill -INT "$pg_pid" 2>/dev/null; wait "$pg_pid" 2>/dev/null; }

ok=""
for trial in 1 2; do
    start_pg_later 1.5
    t0=$EPOCHREALTIME
    psql_q -c 'select 6*7' >"$T/plain.out" 2>"$T/plain.err" && fail "psql connected without the shim before postgres started"
    grep -q 'Connection refused' "$T/plain.err" || { cat "$T/plain.err" >&2; fail "plain psql: not refused"; }
    t1=$EPOCHREALTIME
    BREAKWATER_CONFIG=$T/bw.ini shim timeout 30 $PGBIN/psql -X -w -h 127.0.0.1 -p "$PORT" -U postgres \
        -d postgres -At -c 'select 6*7' >"$T/shim.out" 2>"$T/shim.err"
    rc=$?
    t2=$EPOCHREALTIME
    if [ $rc = 0 ]; then ok=1; break; fi
    grep -q 'starting up' "$T/shim.err" || { cat "$T/shim.err" >&2; fail "psql under the shim failed (exit $rc)"; }
    note "trial $trial: connected while postgres was not ready yet (its own race); again"
    stop_pg
done
[ -n "$ok" ] || fail "psql under the shim met 'starting up' twice"
assert_eq "psql under the shim" 42 "$(cat "$T/shim.out")"
grep -q '^breakwater\[' "$T/shim.err" && { cat "$T/shim.err" >&2; fail "breakwater logged"; }
retries=$(status_sum "$T/bw.ini" retries "$PORT")
[ "$retries" -gt 0 ] || fail "psql under the shim: status shows $retries retries to port $PORT"
note "without the shim: refused after $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s ($(head -n 1 "$T/plain.err" | cut -c1-90))"
note "under the shim: 42 after $(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.2f", b-a}') s (postgres started at 1.5 s), $retries retries"

# 2. The running server: identical output in every mode.
BW_CFG=$T/bw.ini
run_modes psql $PGBIN/psql -X -w -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -At \
    -c "create temp table t(i int, s text)" \
    -c "insert into t select g, md5(g::text) from generate_series(1, 2000) g" \
    -c "select count(*), md5(string_agg(s, ',' order by i)) from t" \
    -c "select repeat('x', 100000) = repeat('x', 100000)"
stop_pg
