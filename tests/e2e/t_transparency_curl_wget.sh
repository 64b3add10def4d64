#!/bin/bash
# curl and wget download an 8 MiB body from bw_httpd (IPv4 and IPv6) without the
# shim, under it with the built-in defaults, with a config naming the server, and
# through `breakwater run`: the sha256 must equal the source's every time.
. "$(dirname "$0")/lib.sh"
N=$((8 * 1024 * 1024))
start_server PORT "$SUPPORT/bw_httpd" -6 -r "$T/record" --max-seconds 200
BW_CFG=$T/bw.ini; dest_config "$BW_CFG" "$PORT"
want=$("$SUPPORT/bw_httpd" --gen $N | sha256sum | cut -d' ' -f1)
note "source sha256 $want"
U4=http://127.0.0.1:$PORT/bytes/$N
U6=http://[::1]:$PORT/bytes/$N
run_modes curl4 sh -c "curl -sS --fail '$U4' | sha256sum"
run_modes curl6 sh -c "curl -sS --fail -g '$U6' | sha256sum"
run_modes curl_keepalive sh -c "curl -sS --fail '$U4' '$U4' -o /dev/null -o - -w '%{num_connects}\n' | sha256sum"
run_modes wget4 sh -c "wget -q -O - '$U4' | sha256sum"
run_modes wget6 sh -c "wget -q -O - '$U6' | sha256sum"
for l in curl4 curl6 wget4 wget6; do
    assert_eq "$l sha256" "$want  -" "$(head -n 1 "$T/$l.plain.out")"
done
note "every download matched the source"

# wget's row: the shim runs in wget itself (its start-up line) and a server
# started only after wget's first connect is reached by a retry (counted in
# the shared state); without the shim wget (one try) is refused.
. "$(dirname "$0")/clients/compat_lib.sh"
mkdir -p "$T/state"
printf '[global]\nlog = %s\nstate_dir = %s\n[destination late]\nhost = 127.0.0.1\nretries = 20\nbackoff_initial_ms = 100\nbackoff_max_ms = 400\njitter = none\n' \
    "$T/bw.log" "$T/state" | write_config "$T/late.ini"
LATE=$(free_port)
env -u LD_PRELOAD wget --tries=1 -O /dev/null "http://127.0.0.1:$LATE/" 2>"$T/wget.plain.err" &&
    fail "wget reached a server without the shim with nothing listening"
grep -q 'refused' "$T/wget.plain.err" || fail "wget without the shim: $(cat "$T/wget.plain.err")"
serve_after_connect "$LATE" "$SUPPORT/bw_httpd" -p "$LATE" --max-seconds 30
COMPAT_CONFIG=$T/late.ini under wget --tries=1 -O /dev/null "http://127.0.0.1:$LATE/status/200" 2>"$T/wget.err" ||
    { cat "$T/wget.err" >&2; fail "wget under the shim failed"; }
pid=$(started_in wget)
n=$(COMPAT_CONFIG=$T/late.ini assert_retried "$LATE")
note "wget (pid $pid): refused without the shim; retried ($n) into a server started after its first connect"
