#!/bin/bash
# nginx (Debian's) as a reverse proxy, run under LD_PRELOAD so that its
# upstream connections go through the shim (epoll: native mode).
#  1. Upstream bw_httpd (keep-alive pool): GETs, a POST and a 404 through nginx
#     with curl succeed and are byte-identical (status and body) to direct ones.
#  2. Upstream dead (a blackhole: connects hang) with a breaker config:
#     nginx's first upstream connects time out (proxy_connect_timeout 1 s,
#     504); the shim sees each socket closed while connecting, counts a
#     failure, and after 3 the breaker opens: asserted by its log line, and the
#     next requests get 502 at once (connect refused by the shim without
#     touching the network): asserted as 502 in under 0.5 s, half the 1 s
#     timeout path the first three took.
. "$(dirname "$0")/lib.sh"
NGINX=/usr/sbin/nginx
[ -x $NGINX ] || fail "nginx missing (tests/deps.sh test installs it)"
require_shim
start_server UP "$SUPPORT/bw_httpd" -r "$T/record" --max-seconds 120
start_server BH "$SUPPORT/bw_faultd" --max-seconds 120 blackhole
NG=$(free_port)
mkdir -p "$T/ng" "$T/state"
user_line=""; [ "$(id -u)" = 0 ] && user_line="user root;"   # workers can read $T
cat >"$T/ng/nginx.conf" <<NGX
$user_line
worker_processes 1;
pid $T/ng/nginx.pid;
error_log $T/ng/error.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $T/ng/body; proxy_temp_path $T/ng/proxy;
    fastcgi_temp_path $T/ng/fcgi; uwsgi_temp_path $T/ng/uwsgi; scgi_temp_path $T/ng/scgi;
    upstream up { server 127.0.0.1:$UP; keepalive 4; }
    server {
        listen 127.0.0.1:$NG;
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /dead/ {
            proxy_pass http://127.0.0.1:$BH/;
            proxy_connect_timeout 1s;
        }
    }
}
NGX
write_config "$T/bw.ini" <<INI
[global]
log = $T/bw.log
log_level = info
state_dir = $T/state
[destination upstream]
host = 127.0.0.1
port = $UP
[destination dead]
host = 127.0.0.1
port = $BH
breaker_consecutive_failures = 3
breaker_open_ms = 60000
INI
$BW_CLI check "$T/bw.ini" >/dev/null || fail "config rejected"
BREAKWATER_CONFIG=$T/bw.ini BREAKWATER_LOG=info LD_PRELOAD=$BW_PRELOAD bg $NGINX -p "$T/ng" -e "$T/ng/error.log" \
    -c "$T/ng/nginx.conf" -g 'daemon off;'
wait_port "$NG"
note "$($NGINX -v 2>&1)"
worker=""
for ((i = 0; i < 100; i++)); do
    [ -n "$worker" ] && break
    worker=$(pgrep -f 'nginx: worker process' -P "$(cat "$T/ng/nginx.pid" 2>/dev/null || echo 1)" | head -n 1)
    [ -n "$worker" ] || sleep 0.05
done
[ -n "$worker" ] || fail "no nginx worker"
grep -q libbreakwater "/proc/$worker/maps" || fail "the shim is not loaded in nginx's worker"

# 1. Byte-identical through nginx and direct.
head -c 100000 /dev/urandom >"$T/body"
get() {   # OUT URL [CURL_ARGS...]: body into OUT, prints the status code
    local out=$1 url=$2; shift 2
    curl -sS --max-time 30 -o "$out" -w '%{http_code}' "$@" "$url"
}
for path in /bytes/1 /bytes/300000 /bytes/2000000 /status/404 /status/503; do
    a=$(get "$T/direct" "http://127.0.0.1:$UP$path")
    b=$(get "$T/proxied" "http://127.0.0.1:$NG$path")
    assert_eq "status of $path through nginx" "$a" "$b"
    cmp -s "$T/direct" "$T/proxied" || fail "body of $path differs through nginx"
done
for i in 1 2 3; do
    a=$(get "$T/direct" "http://127.0.0.1:$UP/post/x" --data-binary @"$T/body")
    b=$(get "$T/proxied" "http://127.0.0.1:$NG/post/x" --data-binary @"$T/body")
    assert_eq "POST status" "$a" "$b"
    cmp -s "$T/direct" "$T/proxied" || fail "POST answer differs through nginx"
done
grep -q '"length":100000' "$T/proxied" || fail "POST body not intact: $(cat "$T/proxied")"
up_conns=$(cut -f1 "$T/record" | sort -u | wc -l)
note "8 requests byte-identical through nginx; upstream saw $(wc -l <"$T/record") requests on $up_conns connections"
# On healthy traffic the only line is the worker's note on how the
# upstream's connects are treated (once per destination): it also proves
# the shim runs inside the worker.
grep -q "^breakwater\[$worker\]: info: upstream: connects are " "$T/bw.log" ||
    { cat "$T/bw.log" >&2; fail "no connect-mode note from nginx's worker $worker"; }
grep '^breakwater\[' "$T/bw.log" | grep -v ': info: upstream: connects are ' | grep -q . &&
    { cat "$T/bw.log" >&2; fail "breakwater logged on healthy traffic"; }

# 2. Dead upstream: the breaker opens and nginx's connects fail fast.
lat=""
for i in 1 2 3 4 5 6; do
    r=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code} %{time_total}' "http://127.0.0.1:$NG/dead/x")
    lat="$lat [$i: $r]"
    [ $i = 3 ] && for ((k = 0; k < 40; k++)); do   # the close of the 3rd is learned at once; allow 2 s
        grep -q 'breaker open' "$T/bw.log" 2>/dev/null && break; sleep 0.05; done
done
note "dead upstream, status and seconds per request:$lat"
grep -q "^breakwater\[[0-9]*\]: warn: dead 127.0.0.1:$BH breaker open" "$T/bw.log" ||
    { cat "$T/bw.log" >&2; fail "no breaker-open line for the dead upstream"; }
note "$(grep -m1 'breaker open' "$T/bw.log")"
# Requests 1-3 wait out proxy_connect_timeout (1 s, 504); once the breaker is
# open, requests 4-6 get 502 well before that timeout could have passed.
for i in 1 2 3; do
    case $lat in *"[$i: 504 "*) ;; *) fail "request $i should time out (504):$lat" ;; esac
done
for i in 4 5 6; do
    t=$(sed -n "s/.*\[$i: 502 \([0-9.]*\)\].*/\1/p" <<<"$lat")
    [ -n "$t" ] || fail "after the breaker opened, request $i should get 502:$lat"
    awk -v t="$t" 'BEGIN { exit !(t < 0.5) }' || fail "request $i took ${t}s: not failed fast:$lat"
done
case $lat in *"[6: 502 "*) ;; *) fail "after the breaker opened nginx should answer 502:$lat" ;; esac
# Unconditionally (`status --help` exits 2, so a probe with it skipped this).
$BW_CLI status -c "$T/bw.ini" --json >"$T/status.json" || fail "status --json failed"
"$PYTHON3" - "$T/status.json" "127.0.0.1:$BH" <<'PY' || fail "status: breaker of the dead upstream not open"
import json, sys
s = json.load(open(sys.argv[1]))
a = [a for d in s["destinations"] for a in d["addresses"] if a["address"] == sys.argv[2]]
print("# status:", a)
sys.exit(0 if a and a[0]["breaker"] == "open" else 1)
PY
