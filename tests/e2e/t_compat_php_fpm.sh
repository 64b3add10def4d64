#!/bin/bash
# php-fpm (FastCGI, Debian's php8.2-fpm) behind nginx, the PHP pages calling
# an upstream with the curl extension; php-fpm runs under LD_PRELOAD (its
# workers are forked from it, so they carry the shim; nginx runs without it).
#  - the shim is in the worker: its /proc/PID/maps, and the worker's line
#    saying curl.so's references were bound (PHP loads it with RTLD_DEEPBIND);
#  - Idempotency-Key: the page's curl POST to the upstream carries one, its
#    GET none;
#  - breaker: after 3 refused connects from the page the breaker opens (the
#    worker's log line); a server started on that port then is still refused
#    to the page, while curl from outside the shim reaches it.
. "$(dirname "$0")/lib.sh"
FPM=/usr/sbin/php-fpm8.2 NGINX=/usr/sbin/nginx
[ -x $FPM ] || fail "php-fpm missing (tests/deps.sh test installs php8.2-fpm)"
[ -x $NGINX ] || fail "nginx missing (tests/deps.sh test installs it)"
require_shim
mkdir -p "$T/www" "$T/ng" "$T/state"
FPMPORT=$(free_port) NG=$(free_port) DEAD=$(free_port)
start_server UP "$SUPPORT/bw_httpd" -r "$T/record" --max-seconds 120
cp "$(dirname "$0")/clients/php_client.php" "$T/www/client.php"
cat >"$T/www/call.php" <<'PHP'
<?php
// call.php?via=curl&op=get|post&url=URL: one upstream request, as php_client.php does it.
$argv = ['client.php', 'curl', $_GET['op'], $_GET['url'], 'body-from-fpm'];
echo getmypid(), " ";
include __DIR__ . '/client.php';
PHP
cat >"$T/fpm.conf" <<FPMC
[global]
pid = $T/fpm.pid
error_log = $T/fpm.log
daemonize = no
[www]
listen = 127.0.0.1:$FPMPORT
pm = static
pm.max_children = 1
clear_env = no
FPMC
write_config "$T/bw.ini" <<INI
[global]
log = $T/bw.log
log_level = debug
state_dir = $T/state
[destination up]
host = 127.0.0.1
port = $UP
idempotency = on
[destination dead]
host = 127.0.0.1
port = $DEAD
retries = 0
breaker_consecutive_failures = 3
breaker_open_ms = 60000
INI
BREAKWATER_CONFIG=$T/bw.ini BREAKWATER_LOG=debug LD_PRELOAD=$BW_PRELOAD bg $FPM -R -F -y "$T/fpm.conf" -n \
    -d extension=curl
wait_port "$FPMPORT"
user_line=""; [ "$(id -u)" = 0 ] && user_line="user root;"
cat >"$T/ng/nginx.conf" <<NGX
$user_line
worker_processes 1;
pid $T/ng/nginx.pid;
error_log $T/ng/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/ng/body; fastcgi_temp_path $T/ng/fcgi;
    proxy_temp_path $T/ng/proxy; uwsgi_temp_path $T/ng/uwsgi; scgi_temp_path $T/ng/scgi;
    server {
        listen 127.0.0.1:$NG;
        root $T/www;
        location ~ \.php\$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_pass 127.0.0.1:$FPMPORT;
        }
    }
}
NGX
bg env -u LD_PRELOAD $NGINX -p "$T/ng" -e "$T/ng/error.log" -c "$T/ng/nginx.conf" -g 'daemon off;'
wait_port "$NG"
page() {   # OP URL: what call.php printed
    curl -sS --max-time 30 -G "http://127.0.0.1:$NG/call.php" --data-urlencode "op=$1" --data-urlencode "url=$2"
}
# The shim in the worker.
read -r wpid r <<<"$(page get "http://127.0.0.1:$UP/g")"
assert_eq "page GET through php-fpm" "ok 200" "$(cut -d' ' -f1,2 <<<"$r")"
[ -r "/proc/$wpid/maps" ] || fail "no php-fpm worker $wpid"
grep -q libbreakwater "/proc/$wpid/maps" || fail "the shim is not loaded in php-fpm's worker $wpid"
# (The master loads the extensions before it forks its workers.)
grep -q "^breakwater\[[0-9]*\]: debug: .*/curl.so loaded with RTLD_DEEPBIND: [1-9]" "$T/bw.log" ||
    { cat "$T/bw.log" >&2; fail "php-fpm did not log curl.so's rebinding"; }
# Idempotency-Key on the page's POST.
read -r _ r <<<"$(page post "http://127.0.0.1:$UP/p")"
assert_eq "page POST through php-fpm" "ok 200" "$(cut -d' ' -f1,2 <<<"$r")"
keys=$(awk -F'\t' '{ n = 0; for (i = 7; i <= NF; i++) if ($i ~ /^Idempotency-Key: /) n++; print $3, $4, n }' \
    "$T/record" | tr '\n' ';')
assert_eq "keys on the page's requests" "GET /g 0;POST /p 1;" "$keys"
# Breaker.
for i in 1 2 3; do
    read -r _ r <<<"$(page get "http://127.0.0.1:$DEAD/x")"
    assert_eq "page, dead upstream, request $i" "fail 7" "$r"
done
grep -q "^breakwater\[$wpid\]: warn: dead 127.0.0.1:$DEAD breaker open" "$T/bw.log" ||
    { cat "$T/bw.log" >&2; fail "no breaker-open line from the worker"; }
start_server DUP "$SUPPORT/bw_httpd" -p "$DEAD" --max-seconds 60
assert_eq "curl without the shim reaches the revived upstream" 200 \
    "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$DEAD/status/200")"
read -r _ r <<<"$(page get "http://127.0.0.1:$DEAD/status/200")"
assert_eq "page while the breaker is open" "fail 7" "$r"
note "php-fpm worker $wpid: shim loaded, curl.so rebound, POST keyed, breaker opened after 3 failures"
