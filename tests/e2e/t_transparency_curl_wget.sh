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

# wget's row: the shim runs in wget itself (its start-up line) and its
# retries reach a server listening 700 ms late; without the shim wget (one
# try) is refused.
printf '[destination late]\nhost = 127.0.0.1\nretries = 8\nbackoff_initial_ms = 100\nbackoff_max_ms = 400\njitter = none\n' |
    write_config "$T/late.ini"
start_server LATE "$SUPPORT/bw_faultd" --max-seconds 30 late 5000
env -u LD_PRELOAD wget --tries=1 -O /dev/null "http://127.0.0.1:$LATE/" 2>"$T/wget.plain.err" &&
    fail "wget reached a server 5 s late without the shim"
grep -q 'refused' "$T/wget.plain.err" || fail "wget without the shim: $(cat "$T/wget.plain.err")"
start_server LATE "$SUPPORT/bw_faultd" --max-seconds 30 late 700
# The late server echoes: the request comes back as the "response" (wget
# takes it for HTTP/0.9); what counts is wget's "connected.".
BREAKWATER_CONFIG=$T/late.ini BREAKWATER_LOG=debug LD_PRELOAD=$BW_PRELOAD \
    timeout 30 wget --tries=1 -O /dev/null "http://127.0.0.1:$LATE/" 2>"$T/wget.err"
grep -q '^breakwater\[[0-9]*\]: debug: breakwater .* started in wget' "$T/wget.err" ||
    { cat "$T/wget.err" >&2; fail "no start-up line from wget"; }
grep -q 'refused' "$T/wget.err" && { cat "$T/wget.err" >&2; fail "wget under the shim was refused"; }
grep -Eq '(^|\.\.\. )connected\.$' "$T/wget.err" ||
    { cat "$T/wget.err" >&2; fail "wget under the shim did not connect"; }
note "wget: refused without the shim, connected to a server 700 ms late under it"
