#!/bin/bash
# t_dead_peer.sh - dead-peer detection (issue 15): a peer that stops
# answering after the connect. Inside a network namespace of the test's own
# (unshare -n, loopback only), nftables drops the client's packets to the
# server once a first echo went through; the python client then blocks in recv.
#  - tcp_user_timeout_ms = 1000, data sent: the recv fails with ETIMEDOUT
#    after ~1 s under the shim; without the shim it is still waiting when its
#    own 6 s guard ends (the kernel's default would be 13-30 minutes);
#  - a TCP_USER_TIMEOUT the program set itself (4000) wins over the config;
#  - tcp_keepalive = on (idle 1 s, interval 1 s, count 2), nothing sent: the
#    idle recv fails with ETIMEDOUT after ~3 s; without the shim it waits;
#  - the failure reaches the breaker as an I/O failure (status).
. "$(dirname "$0")/lib.sh"
require_shim
command -v nft >/dev/null || fail "nft missing (tests/deps.sh test installs nftables)"
command -v unshare >/dev/null || fail "unshare missing"
CLIENT="$(dirname "$0")/clients/dead_peer.py"

# case NAME CONFIG_LINES MODE [OWN_MS]: one run in a fresh namespace; prints the client's line.
case_run() {
    local n=$1 cfg=$2 mode=$3 own=${4:-}
    mkdir -p "$T/$n"
    if [ "$cfg" = none ]; then pre="env -u LD_PRELOAD"; else
        printf '[global]\nstate_dir = %s\n[destination peer]\nhost = 127.0.0.1\nbreaker_consecutive_failures = 1\n%b\n' \
            "$T/$n" "$cfg" | write_config "$T/$n/bw.ini"
        pre="env BREAKWATER_CONFIG=$T/$n/bw.ini LD_PRELOAD=$BW_PRELOAD"
    fi
    timeout 60 unshare -n bash -c '
        set -u
        ip link set lo up
        "$0" --max-seconds 50 echo >"$1/srv" & srv=$!
        for i in $(seq 100); do grep -q "^port" "$1/srv" 2>/dev/null && break; sleep 0.05; done
        port=$(sed -n "s/^port //p" "$1/srv")
        $2 "$3" "$CLIENT" "$port" "$1" "$4" $5 >"$1/out" 2>"$1/err" & cl=$!
        for i in $(seq 200); do [ -e "$1/ready" ] && break; sleep 0.05; done
        nft add table inet bwtest
        nft "add chain inet bwtest out { type filter hook output priority 0 ; }"
        nft add rule inet bwtest out tcp dport "$port" drop
        touch "$1/go"
        wait $cl
        kill $srv
    ' "$SUPPORT/bw_faultd" "$T/$n" "$pre" "$PYTHON3" "$mode" "$own"
    LINE=$(cat "$T/$n/out")
    note "$n: $LINE"
    MS=$(sed -n 's/.* ms=\([0-9]*\)$/\1/p' <<<"$LINE")
}
export CLIENT

case_run user_plain none send
[[ $LINE == timeout* ]] || fail "without the shim the dead peer should go unnoticed for 6 s: $LINE"
case_run user_shim 'tcp_user_timeout_ms = 1000' send
[[ $LINE == "error ETIMEDOUT"* ]] || fail "tcp_user_timeout_ms = 1000: $LINE"
((MS >= 800 && MS < 6000)) || fail "tcp_user_timeout_ms = 1000: failed after $MS ms"
# The I/O failure reached the breaker: one failure opened it (consecutive = 1).
state=$("$BW_CLI" status -c "$T/user_shim/bw.ini" --json | "$PYTHON3" -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(a["breaker"] for x in d["destinations"] for a in x["addresses"]))')
assert_eq "the timed-out connection opened the breaker" open "$state"

case_run user_own 'tcp_user_timeout_ms = 1000' send 4000
[[ $LINE == "error ETIMEDOUT"* ]] || fail "program's own 4000 ms: $LINE"
((MS >= 3500)) || fail "the program's own TCP_USER_TIMEOUT (4000) should win over 1000: $MS ms"
# The same through a dup of the socket (dup, dup2, F_DUPFD): the option is
# the socket's, and so is the fact that the program set it.
DEAD_PEER_DUP=1 case_run user_own_dup 'tcp_user_timeout_ms = 1000' send 4000
[[ $LINE == "error ETIMEDOUT"* ]] || fail "program's own 4000 ms, dup: $LINE"
((MS >= 3500)) || fail "the program's own TCP_USER_TIMEOUT (4000) should win over 1000 on a dup: $MS ms"

case_run ka_plain none idle
[[ $LINE == timeout* ]] || fail "without the shim an idle dead peer goes unnoticed: $LINE"
case_run ka_shim 'tcp_keepalive = on\ntcp_keepalive_idle_s = 1\ntcp_keepalive_interval_s = 1\ntcp_keepalive_count = 2' idle
[[ $LINE == "error ETIMEDOUT"* ]] || fail "tcp_keepalive: $LINE"
((MS >= 2000 && MS < 8000)) || fail "tcp_keepalive (1 + 2 x 1 s): failed after $MS ms"
echo "ok"
