#!/bin/bash
# t_deadline_clients.sh - the program's own connect timeout wins (issue 12).
# Against a destination that never answers (bw_faultd blackhole: SYNs
# dropped), each program below gives up at its own timeout, without the shim,
# under it with no config, and under it with retries = 8 and
# connect_timeout_ms = 5000:
#   python3 socket.create_connection(timeout=0.5), requests.get(timeout=0.5),
#   asyncio.wait_for(open_connection(), 0.5), PHP stream_socket_client(0.5),
#   curl --connect-timeout 1, nc -w 1 (netcat-openbsd), ssh -o ConnectTimeout=1,
#   mariadb --connect-timeout=1.
# Each run must end as a timeout, no sooner than its timeout - 50 ms and no
# later than its timeout + 300 ms (measured around the call for python and
# PHP, whose interpreters take a while to start, and around the process for
# the others). Under the shim, BREAKWATER_LOG=debug must show the shim saw the
# connect to that port (so a run with the shim not loaded cannot pass). Every
# run is under SCHED_FIFO when the machine allows it (rt_prefix), so that a
# loaded machine's scheduling delays are not counted against the shim.
. "$(dirname "$0")/lib.sh"
require_shim
. "$(dirname "$0")/clients/retry_lib.sh"
CL=$RETRY_CLIENTS
rt_prefix
for c in curl nc.openbsd ssh php mariadb; do
    command -v $c >/dev/null || fail "$c missing (tests/deps.sh test installs it)"
done
"$PYTHON3" -c 'import requests' 2>/dev/null || fail "python3-requests missing (tests/deps.sh test installs it)"
write_config "$T/dl.ini" <<INI
[global]
state_dir = $T
[destination dead]
host = 127.0.0.1, ::1
retries = 8
connect_timeout_ms = 5000
INI
"$BW_CLI" check "$T/dl.ini" >/dev/null || fail "dl.ini rejected"
[ -e /etc/breakwater.ini ] && note "/etc/breakwater.ini exists: the 'default' runs use it"
PHP_CODE='$t = microtime(true);
$s = @stream_socket_client("tcp://127.0.0.1:" . $argv[1], $en, $es, (float)$argv[2]);
printf("%s ms=%d errno=%d\n", $s ? "ok" : "fail", (microtime(true) - $t) * 1000, $en);'

# row NAME TIMEOUT_S CLOCK PATTERN CMD...: CMD (where an argument @PORT@ becomes
# the port) against a fresh blackhole, in 3 modes. CLOCK "self": CMD prints
# ms=N for its own call; "wall": the process is timed. PATTERN (extended
# regex) must match CMD's output (stdout and stderr, without the shim's lines).
row() {
    local name=$1 to=$2 clock=$3 pat=$4 port mode t0 t1 ms out lo hi line; shift 4
    start_server port "$SUPPORT/bw_faultd" --max-seconds 60 blackhole
    local cmd=("${@//@PORT@/$port}")
    lo=$(awk -v t="$to" 'BEGIN { print t * 1000 - 50 }')
    hi=$(awk -v t="$to" 'BEGIN { print t * 1000 + 300 }')
    line="$name (timeout ${to} s):"
    for mode in plain default config; do
        local o=$T/$name.$mode
        t0=$EPOCHREALTIME
        case $mode in
        plain)   "${RT[@]}" env -u LD_PRELOAD -u BREAKWATER_CONFIG timeout 30 "${cmd[@]}" ;;
        default) "${RT[@]}" env -u BREAKWATER_CONFIG BREAKWATER_LOG=debug LD_PRELOAD="$BW_PRELOAD" timeout 30 "${cmd[@]}" ;;
        config)  "${RT[@]}" env BREAKWATER_CONFIG="$T/dl.ini" BREAKWATER_LOG=debug LD_PRELOAD="$BW_PRELOAD" timeout 30 "${cmd[@]}" ;;
        esac </dev/null >"$o.out" 2>"$o.err"
        echo "exit $?" >>"$o.out"
        t1=$EPOCHREALTIME
        out=$(cat "$o.out" "$o.err" | grep -v '^breakwater\[' | tr '\n' ' ')
        if [ $clock = self ]; then
            ms=$(sed -nE 's/.*ms=([0-9]+).*/\1/p' "$o.out" | head -n 1)
            [ -n "$ms" ] || fail "$name $mode: no ms= in '$out'"
        else
            ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
        fi
        [[ $out =~ $pat ]] || fail "$name $mode: expected a timeout ($pat), got '$out'"
        if [ $mode != plain ]; then
            grep -Eq "^breakwater\[[0-9]+\]: .*127\.0\.0\.1:$port\b" "$o.err" ||
                { cat "$o.err" >&2; fail "$name $mode: no shim log line about 127.0.0.1:$port (shim not loaded?)"; }
        fi
        [ "$ms" -ge "$lo" ] || fail "$name $mode: gave up after $ms ms, before its own timeout ($out)"
        [ "$ms" -le "$hi" ] || fail "$name $mode: took $ms ms, over its timeout + 300 ms ($hi ms)"
        line="$line $mode ${ms} ms,"
    done
    note "${line%,}"
}

PY="$PYTHON3 $CL/loops.py"
row python-socket 0.5 self 'fail ms=[0-9]+ TimeoutError' $PY socket 0.5 @PORT@
row python-requests 0.5 self 'fail ms=[0-9]+ ConnectTimeout' $PY requests 0.5 @PORT@
row python-asyncio 0.5 self 'fail ms=[0-9]+ TimeoutError' $PY asyncio 0.5 @PORT@
row php-stream 0.5 self 'fail ms=[0-9]+ errno=110' php -r "$PHP_CODE" @PORT@ 0.5
row curl 1 wall 'exit 28 .*Timeout' curl -sS -o /dev/null --connect-timeout 1 http://127.0.0.1:@PORT@/
row nc 1 wall 'exit 1 .*timed out' nc.openbsd -v -w 1 127.0.0.1 @PORT@
row ssh 1 wall 'exit 255 .*Connection timed out' ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=1 \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p @PORT@ root@127.0.0.1 true
row mariadb 1 wall "exit 1 .*Can't connect to server on '127.0.0.1' \\(110\\)" \
    mariadb --no-defaults --connect-timeout=1 --protocol=tcp -h 127.0.0.1 -P @PORT@ -u nobody -e 'select 1'
echo ok
