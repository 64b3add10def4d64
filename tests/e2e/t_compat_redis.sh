#!/bin/bash
# redis-cli against redis-server (Debian's redis): SET/GET/DEL/EXISTS, a
# 200 KB value through -x, and several commands pipelined on one connection;
# identical output in all 5 modes. Then redis-benchmark (8 clients, an event
# loop of its own) under the shim with max_connections = 16: exits 0, every
# request answered, nothing logged.
. "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
    fail "redis-server/redis-cli missing (tests/deps.sh test installs them)"
PORT=$(free_port)
mkdir "$T/redis"
bg redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$T/redis" \
    --daemonize no --protected-mode no --logfile "$T/redis/log"
wait_port "$PORT"
note "$(redis-server --version | head -c 60)"
head -c 200000 /dev/urandom | base64 -w0 >"$T/big"
BW_CFG=$T/bw.ini; dest_config "$BW_CFG" "$PORT" "max_connections = 16"
cat >"$T/cli.sh" <<SH
r() { redis-cli -h 127.0.0.1 -p $PORT "\$@"; }
r SET greeting "hello world"
r GET greeting
r -x SET big <"$T/big"
r STRLEN big
r GET big | sha256sum
r DEL greeting
r EXISTS greeting
printf 'SET n 1\nINCR n\nINCRBY n 40\nGET n\nDEL n big\nPING\n' | r
SH
run_modes redis bash "$T/cli.sh"
assert_eq "GET" "hello world" "$(sed -n 2p "$T/redis.plain.out")"
assert_eq "pipelined" $'OK\n2\n42\n42\n2\nPONG' "$(sed -n 8,13p "$T/redis.plain.out")"

BREAKWATER_CONFIG=$BW_CFG shim timeout 60 redis-benchmark -h 127.0.0.1 -p "$PORT" -c 8 -n 4000 \
    -t set,get,incr,lpush -q --csv >"$T/bench.out" 2>"$T/bench.err" ||
    { cat "$T/bench.err" >&2; fail "redis-benchmark under the shim failed"; }
grep -q '^breakwater\[' "$T/bench.err" && { cat "$T/bench.err" >&2; fail "breakwater logged"; }
assert_eq "benchmark tests" 4 "$(grep -c '^"\(SET\|GET\|INCR\|LPUSH\)"' "$T/bench.out")"
note "redis-benchmark under the shim: $(tr '\n' ' ' <"$T/bench.out" | head -c 200)"
