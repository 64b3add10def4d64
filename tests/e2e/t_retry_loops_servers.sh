#!/bin/bash
# t_retry_loops_servers.sh - connect retries for libpq and for nginx's epoll
# loop (issue 12), with retries = 8 and backoffs of 100 ms doubling to 500 ms
# (no jitter):
#  1. psql (libpq: non-blocking connect, then poll with its own timeout)
#     against PostgreSQL started 1.5 s late: refused without the shim; under
#     it, "select 6*7" answers 42 and status counts retries to its port.
#  2. nginx as a reverse proxy whose upstream starts listening 1.5 s after the
#     request: without the shim nginx answers 502 at once; under the shim its
#     upstream connect is retried inside its epoll loop until the upstream
#     listens, the client gets the upstream's 200, and status counts retries
#     to the upstream's port.
. "$(dirname "$0")/lib.sh"
require_shim
. "$(dirname "$0")/clients/retry_lib.sh"
PGBIN=/usr/lib/postgresql/15/bin
NGINX=/usr/sbin/nginx
[ -x $PGBIN/initdb ] || fail "postgresql missing (tests/deps.sh test installs it)"
[ -x $NGINX ] || fail "nginx missing (tests/deps.sh test installs it)"
[ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 || fail "needs root and the postgres user"
retry_cfg "$T/late.ini" "retries = 8" "backoff_initial_ms = 100" "backoff_max_ms = 500" \
    "jitter = none" "breaker = off" "retry_budget_percent = 0"
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# ---- 1. psql against a PostgreSQL that starts 1.5 s late.
chmod 711 "$T"                       # postgres must reach its data dir under $T
mkdir "$T/pg"; chown postgres: "$T/pg"
(cd "$T/pg" && setpriv --reuid=postgres --regid=postgres --init-groups $PGBIN/initdb -D "$T/pg/data" \
    -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >"$T/initdb.log" 2>&1) ||
    { tail "$T/initdb.log" >&2; fail "initdb failed"; }
PG=$(free_port)
PSQL=($PGBIN/psql -X -w -h 127.0.0.1 -p "$PG" -U postgres -d postgres -At -c 'select 6*7')
pg_pid=""
start_pg_later() {   # SECONDS: postgres in the foreground (under bg), after a delay
    bg bash -c "sleep $1; cd '$T/pg' && exec setpriv --reuid=postgres --regid=postgres --init-groups \
        $PGBIN/postgres -D '$T/pg/data' -p $PG -c listen_addresses=127.0.0.1 \
        -c unix_socket_directories= -c fsync=off" 2>>"$T/pg.log"
    pg_pid=${BW_PIDS[-1]}
}
stop_pg() { kill -INT "$pg_pid" 2>/dev/null; wait "$pg_pid" 2>/dev/null; }
ok=""
for trial in 1 2; do
    start_pg_later 1.5
    t0=$EPOCHREALTIME
    env -u LD_PRELOAD timeout 30 "${PSQL[@]}" >"$T/plain.out" 2>"$T/plain.err" &&
        fail "psql connected without the shim before postgres started"
    grep -q 'Connection refused' "$T/plain.err" || { cat "$T/plain.err" >&2; fail "psql without the shim: not refused"; }
    t1=$EPOCHREALTIME
    BREAKWATER_CONFIG=$T/late.ini shim timeout 30 "${PSQL[@]}" >"$T/shim.out" 2>"$T/shim.err"
    rc=$?
    t2=$EPOCHREALTIME
    [ $rc = 0 ] && { ok=1; break; }
    # An attempt that lands after postgres listens but before it is ready is
    # told "the database system is starting up": postgres's own race.
    grep -q 'starting up' "$T/shim.err" || { cat "$T/shim.err" >&2; fail "psql under the shim failed (exit $rc)"; }
    note "trial $trial: connected while postgres was not ready yet (its own race); again"
    stop_pg
done
[ -n "$ok" ] || fail "psql under the shim met 'starting up' twice"
assert_eq "psql under the shim" 42 "$(cat "$T/shim.out")"
grep '^breakwater\[' "$T/shim.err" >&2 && fail "psql: the shim logged"
retries=$(status_sum "$T/late.ini" retries "$PG")
[ "$retries" -gt 0 ] || fail "psql: status shows $retries retries to 127.0.0.1:$PG"
note "psql: without the shim refused after $(secs "$t0" "$t1") s; under it 42 after $(secs "$t1" "$t2") s, $retries retries"
stop_pg

# ---- 2. nginx, its upstream 1.5 s late.
# nginx_start NAME PRELOAD(0|1) UPSTREAM_PORT: an nginx proxying / to the
# upstream, under the shim with late.ini or not; sets NG (its port).
nginx_start() {
    local name=$1 pre=$2 up=$3 d=$T/$1 i
    NG=$(free_port)
    mkdir -p "$d"
    cat >"$d/nginx.conf" <<NGX
$([ "$(id -u)" = 0 ] && echo "user root;")
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $d/body; proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
    server {
        listen 127.0.0.1:$NG;
        location / { proxy_pass http://127.0.0.1:$up; proxy_connect_timeout 10s; }
    }
}
NGX
    if [ "$pre" = 1 ]; then
        BREAKWATER_CONFIG=$T/late.ini LD_PRELOAD=$BW_PRELOAD bg $NGINX -p "$d" -e "$d/error.log" -c "$d/nginx.conf" -g 'daemon off;'
    else
        bg env -u LD_PRELOAD $NGINX -p "$d" -e "$d/error.log" -c "$d/nginx.conf" -g 'daemon off;'
    fi
    wait_port "$NG"
}
# nginx_late NAME PRELOAD: nginx, then a request through it while its upstream
# (bw_httpd) starts 1.5 s later; sets UP and leaves "STATUS SECONDS" in RES.
nginx_late() {
    UP=$(free_port)
    nginx_start "$1" "$2" "$UP"
    bg bash -c "sleep 1.5; exec '$SUPPORT/bw_httpd' -p $UP --max-seconds 60" >/dev/null
    RES=$(curl -sS --max-time 20 -o "$T/$1.body" -w '%{http_code} %{time_total}' "http://127.0.0.1:$NG/status/200")
}
nginx_late ng_plain 0
RES_PLAIN=$RES
case $RES in 502\ *) ;; *) cat "$T/ng_plain/error.log" >&2; fail "nginx without the shim: expected 502, got '$RES'" ;; esac
nginx_late ng_shim 1
worker=$(pgrep -f 'nginx: worker process' -P "$(cat "$T/ng_shim/nginx.pid")" | head -n 1)
[ -n "$worker" ] && grep -q libbreakwater "/proc/$worker/maps" || fail "the shim is not loaded in nginx's worker"
case $RES in 200\ *) ;; *) tail "$T/ng_shim/error.log" >&2; fail "nginx under the shim: expected 200, got '$RES'" ;; esac
awk -v t="${RES#* }" 'BEGIN { exit !(t >= 1.0) }' || fail "nginx under the shim answered in ${RES#* } s, before its upstream listened"
retries=$(status_sum "$T/late.ini" retries "$UP")
[ "$retries" -gt 0 ] || fail "nginx: status shows $retries retries to 127.0.0.1:$UP"
note "nginx: without the shim '$RES_PLAIN'; under it $RES s, $retries retries"
echo ok
