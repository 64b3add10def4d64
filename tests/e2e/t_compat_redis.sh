#!/bin/bash
# redis-cli against redis-server (Debian's redis): SET/GET/DEL/EXISTS, a
# 200 KB value through -x, and several commands pipelined on one connection;
# identical output in all 5 modes. Then redis-benchmark (8 clients, an event
# loop of its own) under the shim: max_connections = 8 serves every request,
# max_connections = 4 refuses its 5th client.
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

# redis-benchmark, 8 clients: max_connections = 8 binds exactly (all served;
# the start-up line proves the shim runs in redis-benchmark itself), 4 refuses
# the clients beyond the fourth (the shim's rejection line, from the same
# process, and redis-benchmark's own error).
bench() {   # MAX_CONNECTIONS: runs it, output in $T/bench.MAX.out/.err
    dest_config "$T/b$1.ini" "$PORT" "max_connections = $1"
    BREAKWATER_CONFIG=$T/b$1.ini BREAKWATER_LOG=debug shim timeout 60 redis-benchmark \
        -h 127.0.0.1 -p "$PORT" -c 8 -n 4000 -t set,get,incr,lpush -q --csv >"$T/bench.$1.out" 2>"$T/bench.$1.err"
}
bench 8 || { cat "$T/bench.8.err" >&2; fail "redis-benchmark under the shim, max_connections = 8, failed"; }
grep -q '^breakwater\[[0-9]*\]: debug: breakwater .* started in redis-benchmark' "$T/bench.8.err" ||
    { head "$T/bench.8.err" >&2; fail "no start-up line from redis-benchmark"; }
grep '^breakwater\[' "$T/bench.8.err" | grep -Eq 'rejected|warn|error' && { cat "$T/bench.8.err" >&2; fail "breakwater refused or warned with 8 slots"; }
assert_eq "benchmark tests" 4 "$(grep -c '^"\(SET\|GET\|INCR\|LPUSH\)"' "$T/bench.8.out")"
note "redis-benchmark, 8 clients, max_connections = 8: $(tr '\n' ' ' <"$T/bench.8.out" | head -c 160)"
bench 4
pid=$(sed -n 's/^breakwater\[\([0-9]*\)\]: debug: breakwater .* started in redis-benchmark.*/\1/p' "$T/bench.4.err")
[ -n "$pid" ] || { head "$T/bench.4.err" >&2; fail "no start-up line from redis-benchmark"; }
grep -q "^breakwater\[$pid\]: info: testsrv 127.0.0.1:$PORT rejected: bulkhead full" "$T/bench.4.err" ||
    { cat "$T/bench.4.err" >&2; fail "max_connections = 4 did not refuse redis-benchmark's 5th client"; }
grep -q "^Could not connect to Redis at 127.0.0.1:$PORT: Connection refused" "$T/bench.4.err" ||
    { cat "$T/bench.4.err" >&2; fail "redis-benchmark did not see the refusal"; }
note "max_connections = 4: redis-benchmark's 5th client refused by the bulkhead"
