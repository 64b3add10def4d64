#!/bin/bash
# bench_sidecar.sh - the shim against a sidecar proxy (issue 8 item 4).
# Standalone; reads BUILD (default: the repository's build/). A C load
# generator (sidecar_http.c) sends sequential GETs to a tiny local responder:
#   direct       nothing in between
#   shim         the load generator under the shim (retries = 2, breaker on,
#                bulkhead max_connections = 64, state = shared)
#   haproxy      through HAProxy in TCP mode with the equivalent protection
#                (server maxconn 64, retries 2, check + observe layer4,
#                on-error mark-down), one thread
# each with a new connection per request (keep-alive off: the shim's connect
# path runs every time) and on one keep-alive connection. Rows, per mode:
#   sidecar_{close,keepalive}_{p50,p99}_added_us  latency added over direct by
#       the shim (value) and by HAProxy (baseline); ratio shim/HAProxy
#   sidecar_{close,keepalive}_cpu_added_us       CPU per request added over
#       direct: the client's (getrusage), plus HAProxy's (/proc/PID/stat)
# Target: the shim adds less than a tenth of what HAProxy adds (ratio < 0.1).
# Each figure is the median over SIDECAR_REPS (5) interleaved runs of
# SIDECAR_N_CLOSE (3000) and SIDECAR_N_KA (10000) requests. 127.0.0.1 only.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${BUILD:=$root/build}"
LIB=$BUILD/libbreakwater.so
[ -f "$LIB" ] || { echo "bench_sidecar: build first (make)" >&2; exit 1; }
REPS=${SIDECAR_REPS:-5}
N_CLOSE=${SIDECAR_N_CLOSE:-3000}
N_KA=${SIDECAR_N_KA:-10000}
die() { echo "bench_sidecar: $*" >&2; exit 1; }
. "$here/common.sh"

# HAProxy is a benchmark dependency only: installed when root, else the line is printed.
if ! command -v haproxy >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy ||
          { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy; }; } \
            >/tmp/breakwater-apt-haproxy.log 2>&1
    fi
    command -v haproxy >/dev/null 2>&1 || {
        echo "# sidecar: haproxy missing; run as root: apt-get install -y haproxy"; exit 1; }
fi

T=$(mktemp -d /tmp/bw-bench-sidecar.XXXXXX)
srv="" hap=""
cleanup() {
    for p in $hap $srv; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
cc -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -O2 -o "$T/sh" "$here/sidecar_http.c" || die "cannot compile sidecar_http.c"

"$T/sh" serve 280 >"$T/port" &
srv=$!
bport=""
for _ in $(seq 100); do
    bport=$(sed -n 's/^port //p' "$T/port"); [ -n "$bport" ] && break; sleep 0.05
done
[ -n "$bport" ] || die "responder did not start"

printf '[global]\nstate = shared\nstate_dir = %s\nlog_level = off\n[destination backend]\nhost = 127.0.0.1\nport = %s\nretries = 2\nbreaker = on\nmax_connections = 64\n' \
    "$T" "$bport" >"$T/shim.ini"
chmod 600 "$T/shim.ini"

# Proof that the shim tracks the load generator's connections.
[ "$(bs_tracked "$LIB" "$T/shim.ini" backend "$T/sh" client "$bport" 5 0)" -ge 5 ] 2>/dev/null ||
    die "the shim did not track the client's connections as destination backend: no row is valid"

hport=$("$T/sh" freeport)
cat >"$T/haproxy.cfg" <<CFG
global
    maxconn 1000
    nbthread 1
defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    retries 2
frontend fe
    bind 127.0.0.1:$hport
    default_backend be
backend be
    server s1 127.0.0.1:$bport maxconn 64 check inter 2s observe layer4 error-limit 10 on-error mark-down
CFG
timeout 290 haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
hap=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$hport") 2>/dev/null && break; sleep 0.05
done
(exec 3<>"/dev/tcp/127.0.0.1/$hport") 2>/dev/null || { cat "$T/haproxy.log" >&2; die "haproxy did not start"; }
hpid=$(pgrep -P "$hap" -x haproxy || echo "$hap")   # timeout's child, or haproxy itself
[ -r "/proc/$hpid/stat" ] || die "no haproxy process"

# CPU ticks (user + system) haproxy has used so far.
hap_ticks() { awk '{ print $14 + $15 }' "/proc/$hpid/stat"; }
tck=$(getconf CLK_TCK)

# run MODE KA N -> "p50 p99 cpu_us_per_request"
run() {
    local mode=$1 ka=$2 n=$3 port=$bport out t0 t1
    [ "$mode" = haproxy ] && port=$hport
    t0=$(hap_ticks)
    if [ "$mode" = shim ]; then
        out=$(BREAKWATER_CONFIG="$T/shim.ini" LD_PRELOAD="$LIB" timeout 120 "$T/sh" client "$port" "$n" "$ka")
    else
        out=$(env -u LD_PRELOAD timeout 120 "$T/sh" client "$port" "$n" "$ka")
    fi || die "client failed ($mode, keep-alive $ka)"
    t1=$(hap_ticks)
    if [ "$mode" = haproxy ]; then
        awk -v o="$out" -v d=$((t1 - t0)) -v t="$tck" -v n="$n" \
            'BEGIN { split(o, a, " "); printf "%s %s %.3f\n", a[1], a[2], a[3] + d * 1e6 / t / n }'
    else
        echo "$out"
    fi
}

for ((r = 0; r < REPS; r++)); do
    for ka in 0 1; do
        n=$N_CLOSE; [ $ka = 1 ] && n=$N_KA
        for mode in direct shim haproxy; do
            run $mode $ka $n >>"$T/res.$mode.$ka" || exit 1
        done
    done
done

# median FILE COLUMN
median() { cut -d' ' -f"$2" "$1" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
for ka in 0 1; do
    name=close; [ $ka = 1 ] && name=keepalive
    col=1
    for stat in p50 p99 cpu; do
        d=$(median "$T/res.direct.$ka" $col); s=$(median "$T/res.shim.$ka" $col); h=$(median "$T/res.haproxy.$ka" $col)
        unit=_us; [ $stat = cpu ] && unit=_us_per_req
        # noise: the spread of the direct runs' figure (max - min), what a
        # difference of two medians cannot see below
        noise=$(cut -d' ' -f$col "$T/res.direct.$ka" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print hi - lo }')
        sa=$(awk -v s="$s" -v d="$d" 'BEGIN { print s - d }')
        verdict=$(bs_verdict "$sa" "$noise" "$(awk -v s="$s" -v h="$h" -v d="$d" 'BEGIN { print (s - d < 0.1 * (h - d)) }')")
        awk -v n="sidecar_${name}_${stat}_added$unit" -v d="$d" -v s="$s" -v h="$h" -v no="$noise" -v v="$verdict" 'BEGIN {
            sa = s - d; ha = h - d; r = ha != 0 ? sa / ha : 0
            printf "%s | %.2f | %.2f | %.3f\n", n, sa, ha, r
            printf "# %s: shim %+.2f, haproxy %+.2f over direct %.2f (shim %.2f, haproxy %.2f; direct runs spread %.2f); target shim < 0.1 x haproxy: %s\n",
                n, sa, ha, d, s, h, no, v }'
        col=$((col + 1))
    done
done
echo "# sidecar: $REPS interleaved runs of $N_CLOSE new-connection and $N_KA keep-alive sequential GETs; haproxy $(haproxy -v 2>/dev/null | head -1 | awk '{ print $3 }') in TCP mode"
