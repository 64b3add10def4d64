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
