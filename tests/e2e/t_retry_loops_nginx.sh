#!/bin/bash
# t_retry_loops_nginx.sh - connect retries inside nginx's epoll loop (issue
# 12), with retries = 8 and backoffs of 100 ms doubling to 500 ms (no jitter):
# nginx as a reverse proxy whose upstream starts listening 1.5 s after the
# request. Without the shim nginx answers 502 at once; under the shim its
# upstream connect is retried inside its epoll loop until the upstream
# listens, the client gets the upstream's 200 (after >= 1 s), and status
# counts retries to the upstream's port. (libpq's row, a PostgreSQL started
# 1.5 s late, is t_compat_psql.)
. "$(dirname "$0")/lib.sh"
require_shim
. "$(dirname "$0")/clients/retry_lib.sh"
NGINX=/usr/sbin/nginx
[ -x $NGINX ] || fail "nginx missing (tests/deps.sh test installs it)"
retry_cfg "$T/late.ini" "retries = 8" "backoff_initial_ms = 100" "backoff_max_ms = 500" \
    "jitter = none" "breaker = off" "retry_budget_percent = 0"

# ---- nginx, its upstream 1.5 s late.
# nginx_start NAME PRELOAD(0|1) UPSTREAM_PORT: an nginx proxying / to the
# upstream, under the shim with late.ini or not; sets NG (its port).
nginx_start() {
    local name=$1 pre=$2 up=$3 d=$T/$1
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
