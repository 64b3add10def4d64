# compat_lib.sh - sourced by the t_compat_* tests of single programs, after lib.sh.
# compat_config: $T/bw.ini logs at debug to $T/bw.log, state in $T/state, and
# retries connects to 127.0.0.1 (any port) 20 times, 100 ms doubling to 400 ms
# (about 7 s in all), no jitter, breaker off.
compat_config() {
    mkdir -p "$T/state"
    write_config "$T/bw.ini" <<INI
[global]
log = $T/bw.log
log_level = debug
state_dir = $T/state
[destination late]
host = 127.0.0.1
retries = 20
backoff_initial_ms = 100
backoff_max_ms = 400
jitter = none
breaker = off
INI
}

# under CMD...: CMD with the shim and $T/bw.ini (or $COMPAT_CONFIG), at most 60 s.
under() { BREAKWATER_CONFIG=${COMPAT_CONFIG:-$T/bw.ini} BREAKWATER_LOG=debug LD_PRELOAD=$BW_PRELOAD timeout 60 "$@"; }

# plain CMD...: CMD without the shim, at most 60 s.
plain() { env -u LD_PRELOAD timeout 60 "$@"; }

# started_in NAME: the shim's start-up line came from a process named NAME
# (the program itself, not a helper); prints its pid.
started_in() {
    local pid
    pid=$(sed -n "s/^breakwater\[\([0-9]*\)\]: debug: breakwater .* started in \(.*\/\)\{0,1\}$1: .*/\1/p" "$T/bw.log" | head -n 1)
    [ -n "$pid" ] || { cat "$T/bw.log" >&2; fail "no start-up line from $1"; }
    echo "$pid"
}

# retried_from PID PORT: the log shows process PID's connect to 127.0.0.1:PORT
# matched the retrying section.
retried_from() {
    grep -q "^breakwater\[$1\]: debug: connect 127.0.0.1:$2 -> late" "$T/bw.log" ||
        { cat "$T/bw.log" >&2; fail "no connect to port $2 from pid $1 in the log"; }
}

# serve_after_connect PORT CMD...: starts CMD in the background 300 ms after
# the log shows the program's first connect to 127.0.0.1:PORT, so that only a
# retry can reach it however slowly the program started (waits 60 s at most).
serve_after_connect() {
    local port=$1; shift
    (
        for ((i = 0; i < 1200; i++)); do
            grep -q "debug: connect 127.0.0.1:$port -> " "$T/bw.log" 2>/dev/null && break
            sleep 0.05
        done
        sleep 0.3
        exec "$@"
    ) >/dev/null 2>&1 &
    BW_PIDS+=($!)
}

# retries_to PORT: the retries the shared state counts for 127.0.0.1:PORT.
retries_to() {
    "$BW_CLI" status -c "${COMPAT_CONFIG:-$T/bw.ini}" --json | "$PYTHON3" -c '
import json, sys
s = json.load(sys.stdin)
print(sum(a["retries"] for d in s["destinations"] for a in d["addresses"]
          if a["address"] == "127.0.0.1:" + sys.argv[1]))' "$1"
}

# assert_retried PORT: at least one retry reached 127.0.0.1:PORT.
assert_retried() {
    local n
    n=$(retries_to "$1")
    [ "${n:-0}" -ge 1 ] || fail "no retry counted for 127.0.0.1:$1 (status says '${n}')"
    echo "$n"
}
