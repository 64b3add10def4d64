#!/bin/bash
# bench_tls.sh - cost of the HTTP features inside TLS (issue 16). Standalone;
# reads BUILD (default: the repository's build/). Prints lines
# "name | value | baseline | ratio":
#   https_post_rps_tls_auto     keep-alive HTTPS POSTs/s through the shim with
#                               tls = auto (the plaintext read for
#                               breaker_http_status and keyed) vs tls = off
#                               (target ratio >= 0.97)
#   untracked_ssl_pair_ns       an SSL_write + SSL_read round trip of 64 bytes
#                               on a descriptor the shim does not track, with
#                               the shim vs without (target: within noise)
#   https_post_instructions     (valgrind) the client's instructions per
#                               request, tls = auto vs off: what the shim adds
#                               does not depend on the machine's load
#   untracked_ssl_pair_instructions
#                               (valgrind) instructions per untracked round
#                               trip, with the shim vs without
# The rate ratio is the median of TLS_BENCH_REPS (7) interleaved pairs of
# runs (auto then off): the client and nginx land on one core or on two from
# run to run, two rates some 20 % apart, so a best-of-n compares whichever
# placement each side happened to get; a pair's two runs mostly share it.
# Its noise is the half-width of the median's 95 % interval (1.58 IQR /
# sqrt(n)). The other wall-clock figures are the best of the runs. The
# server is nginx (ssl, keep-alive) on 127.0.0.1, everything bounded.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${BUILD:=$root/build}"
LIB=$BUILD/libbreakwater.so
[ -f "$LIB" ] || { echo "bench_tls: build first (make)" >&2; exit 1; }
N=${TLS_BENCH_N:-5000}
REPS=${TLS_BENCH_REPS:-7}
NGINX=/usr/sbin/nginx
T=$(mktemp -d /tmp/bw-bench-tls.XXXXXX)
cleanup() { [ -f "$T/ng/nginx.pid" ] && kill "$(cat "$T/ng/nginx.pid")" 2>/dev/null; sleep 0.2; rm -rf "$T"; }
trap cleanup EXIT
die() { echo "bench_tls: $*" >&2; exit 1; }
. "$here/common.sh"
[ -x $NGINX ] || die "nginx missing (tests/deps.sh test installs it)"

cc -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -O2 -o "$T/tls_bench" "$here/tls_bench.c" -lssl -lcrypto ||
    die "cannot compile tls_bench.c (libssl-dev)"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
    -subj /CN=localhost >/dev/null 2>&1 || die "openssl req failed"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/ng"
cat >"$T/ng/nginx.conf" <<NGX
worker_processes 1;
pid $T/ng/nginx.pid;
error_log $T/ng/error.log;
events { worker_connections 64; }
http {
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path $T/ng/body; proxy_temp_path $T/ng/proxy;
    fastcgi_temp_path $T/ng/fcgi; uwsgi_temp_path $T/ng/uwsgi; scgi_temp_path $T/ng/scgi;
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $T/cert.pem;
        ssl_certificate_key $T/key.pem;
        location / { return 200 "ok\n"; }
    }
}
NGX
$NGINX -p "$T/ng" -e "$T/ng/error.log" -c "$T/ng/nginx.conf" || die "nginx did not start"
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done

for m in auto off; do
    printf '[destination bench]\nhost = 127.0.0.1\nport = %s\nbreaker_http_status = 500-599\nidempotency = %s\ntls = %s\n[global]\nstate_dir = %s\n' \
        "$port" "${TLS_BENCH_IDEMPOTENCY:-on}" "$m" "$T" >"$T/$m.ini"
    "$BUILD/breakwater" check "$T/$m.ini" >/dev/null || die "bad config"
    chmod 600 "$T/$m.ini"
done
# Proof that tls = auto tracks the benchmark's connection (a config that
# matched nothing would measure nothing and read as a ratio near 1).
[ "$(bs_tracked "$LIB" "$T/auto.ini" bench "$T/tls_bench" http "$port" 10)" -ge 1 ] 2>/dev/null ||
    { echo "# https: the client's connection was not tracked as destination bench: no row is valid"; exit 1; }
best() { sort -g | tail -n 1; }
low() { sort -g | head -n 1; }
: >"$T/auto"; : >"$T/off"; : >"$T/plain_ns"; : >"$T/shim_ns"
for _ in $(seq "$REPS"); do
    for m in auto off; do
        BREAKWATER_CONFIG=$T/$m.ini LD_PRELOAD=$LIB "$T/tls_bench" http "$port" "$N" |
            sed -n 's/^rps //p' >>"$T/$m"
    done
    "$T/tls_bench" untracked "$T/cert.pem" "$T/key.pem" 50000 | sed -n 's/^ns_per_pair //p' >>"$T/plain_ns"
    LD_PRELOAD=$LIB "$T/tls_bench" untracked "$T/cert.pem" "$T/key.pem" 50000 |
        sed -n 's/^ns_per_pair //p' >>"$T/shim_ns"
done
a=$(best <"$T/auto"); o=$(best <"$T/off")
[ -n "$a" ] && [ -n "$o" ] || die "the HTTPS client failed"
# pair ratios, sorted: their median, and 1.58 IQR / sqrt(n) as its noise
paste -d' ' "$T/auto" "$T/off" | awk 'NF == 2 && $2 > 0 { print $1 / $2 }' | sort -g >"$T/pairs"
read -r r noise < <(awk '{ v[NR] = $1 } END {
    n = NR; m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    q1 = v[int((n + 3) / 4)]; q3 = v[n + 1 - int((n + 3) / 4)]
    printf "%.3f %.3f\n", m, 1.58 * (q3 - q1) / sqrt(n) }' "$T/pairs")
echo "https_post_rps_tls_auto | $a | $o (tls = off) | $r"
ps=$(low <"$T/plain_ns"); ss=$(low <"$T/shim_ns")
echo "untracked_ssl_pair_ns | $ss | $ps (no shim) | $(awk -v a="$ss" -v b="$ps" 'BEGIN { printf "%.3f", a / b }')"
echo "# https_post_rps_tls_auto: tls=auto/off $r, the median of $REPS interleaved pairs (noise $noise; the best runs of each: $a and $o per second, $(awk -v a="$a" -v o="$o" 'BEGIN { printf "%.3f", a / o }')), target >= 0.97: $(bs_verdict "$(awk -v r="$r" 'BEGIN { print 1 - r }')" "$noise" "$(awk -v r="$r" 'BEGIN { print r >= 0.97 }')")"
# Instruction counts (callgrind): steady whatever else the machine does.
if command -v valgrind >/dev/null; then
    ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
        sed -n 's/.*Collected : //p'; }
    per() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.0f", (a - b) / n }'; }
    for m in auto off; do
        for k in 1 3; do   # two lengths: the difference is per request, start-up cancels
            printf '%s ' "$(BREAKWATER_CONFIG=$T/$m.ini LD_PRELOAD=$LIB ir "$T/tls_bench" http "$port" $((k * 500)))"
        done >"$T/ir_$m"
    done
    read -r a1 a3 <"$T/ir_auto"; read -r o1 o3 <"$T/ir_off"
    ia=$(per "$a3" "$a1" 1000); io=$(per "$o3" "$o1" 1000)
    echo "https_post_instructions | $ia | $io (tls = off) | $(awk -v a="$ia" -v b="$io" 'BEGIN { printf "%.3f", b / a }')"
    u1=$(ir "$T/tls_bench" untracked "$T/cert.pem" "$T/key.pem" 2000)
    u3=$(ir "$T/tls_bench" untracked "$T/cert.pem" "$T/key.pem" 6000)
    s1=$(LD_PRELOAD=$LIB ir "$T/tls_bench" untracked "$T/cert.pem" "$T/key.pem" 2000)
    s3=$(LD_PRELOAD=$LIB ir "$T/tls_bench" untracked "$T/cert.pem" "$T/key.pem" 6000)
    up=$(per "$u3" "$u1" 4000); sp=$(per "$s3" "$s1" 4000)
    echo "untracked_ssl_pair_instructions | $sp | $up (no shim) | $(awk -v a="$sp" -v b="$up" 'BEGIN { printf "%.3f", a / b }')"
    echo "# tls = auto adds $((ia - io)) instructions per keyed, status-read HTTPS request; an untracked SSL_write+SSL_read pair $((sp - up))"
    [ $((ia - io)) -gt 1000 ] ||
        { echo "# https: tls = auto added under 1,000 instructions a request: the HTTP reader and the injector did not run, no row is valid"; exit 1; }
fi
echo "# untracked SSL_write+SSL_read: $(awk -v a="$ss" -v b="$ps" 'BEGIN { printf "%+.0f", a - b }') ns per round trip (best of $REPS, noise on this machine is several hundred ns)"
