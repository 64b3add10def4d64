#!/bin/bash
# bench_idempotency.sh - cost of Idempotency-Key injection (issue 7 item 5).
# Standalone; reads BUILD (default: the repository's build/). Prints lines
# "name | value | baseline | ratio":
#   idempotency_post_rps             keep-alive POSTs/s through the shim with
#                                    idempotency = on vs off (target ratio >= 0.95)
#   idempotency_post_client_cpu_us   the client's CPU microseconds per POST, on vs
#                                    off (ratio off/on)
#   http_req_scan_{headers,bodies}_ns_per_byte
#                                    the request scanner's cost per byte, against
#                                    a plain LF-counting pass over the same bytes
# Each throughput figure is the best of IDEM_BENCH_REPS (5) interleaved runs of
# IDEM_BENCH_N (20000) requests; everything runs on 127.0.0.1 and is bounded.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${BUILD:=$root/build}"
LIB=$BUILD/libbreakwater.so
[ -f "$LIB" ] && [ -f "$BUILD/libbwcore.a" ] || { echo "bench_idempotency: build first (make)" >&2; exit 1; }
N=${IDEM_BENCH_N:-20000}
REPS=${IDEM_BENCH_REPS:-5}
T=$(mktemp -d /tmp/bw-bench-idem.XXXXXX)
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
die() { echo "bench_idempotency: $*" >&2; exit 1; }

CFL=(-std=gnu11 -Wall -Wextra -D_GNU_SOURCE -O2)
cc "${CFL[@]}" -o "$T/idem_post" "$here/idem_post.c" || die "cannot compile idem_post.c"
cc "${CFL[@]}" -I"$root/include" -o "$T/idem_scan" "$here/idem_scan.c" "$BUILD/libbwcore.a" \
    -linih -lm -pthread || die "cannot compile idem_scan.c"

# The responder, without the shim.
"$T/idem_post" serve 300 >"$T/port" &
srv=$!
port=""
for _ in $(seq 100); do
    port=$(sed -n 's/^port //p' "$T/port")
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || die "responder did not start"

for m in on off; do
    printf '[destination bench]\nhost = 127.0.0.1\nport = %s\nidempotency = %s\n[global]\nstate_dir = %s\n' \
        "$port" "$m" "$T" >"$T/$m.ini"
    chmod 600 "$T/$m.ini"
done
# seen RUN MODE: the responder's line for client run RUN (1-based) must show N
# requests, every one keyed under MODE on and none under off.
seen() {
    local line="" want=$N
    [ "$2" = off ] && want=0
    for _ in $(seq 100); do
        line=$(grep '^requests' "$T/port" | sed -n "$1p")
        [ -n "$line" ] && break
        sleep 0.05
    done
    [ "$line" = "requests $N keys $want" ] || die "idempotency = $2: responder saw '$line', not $N requests with $want keys"
}
best_on=0 best_off=0 run=0 cpu_on=1e9 cpu_off=1e9
for ((i = 0; i < REPS; i++)); do
    for m in off on; do
        read -r r cpu < <(BREAKWATER_CONFIG="$T/$m.ini" LD_PRELOAD="$LIB" timeout 120 \
            "$T/idem_post" client "$port" "$N" 256) && [ -n "${cpu:-}" ] || die "client failed (idempotency = $m)"
        if [ $m = on ]; then cpu_on=$(awk -v a="$cpu" -v b="$cpu_on" 'BEGIN { print (a < b ? a : b) }')
        else cpu_off=$(awk -v a="$cpu" -v b="$cpu_off" 'BEGIN { print (a < b ? a : b) }'); fi
        run=$((run + 1))
        seen "$run" "$m"
        if [ $m = on ]; then ((r > best_on)) && best_on=$r; else ((r > best_off)) && best_off=$r; fi
    done
done
awk -v a="$best_on" -v b="$best_off" 'BEGIN { printf "idempotency_post_rps | %d | %d | %.3f\n", a, b, a / b }'
# The client's own CPU per request: less exposed than wall time to other load
# on the machine. Ratio off/on, so that >= 0.95 reads the same way as above.
awk -v a="$cpu_on" -v b="$cpu_off" 'BEGIN { printf "idempotency_post_client_cpu_us | %.2f | %.2f | %.3f\n", a, b, b / a }'

"$T/idem_scan" 32 >"$T/scan" || die "idem_scan failed"
while read -r name ns floor _; do
    awk -v n="$name" -v a="$ns" -v b="$floor" \
        'BEGIN { printf "http_req_scan_%s_ns_per_byte | %.3f | %.3f | %.2f\n", n, a, b, a / b }'
done <"$T/scan"
