# compat_lib.sh - sourced by the t_compat_* tests of single programs, after lib.sh.
# compat_config: $T/bw.ini logs at debug to $T/bw.log, state in $T/state, and
# retries connects to 127.0.0.1 (any port) 8 times, 100 ms doubling to 400 ms,
# no jitter, breaker off.
compat_config() {
    mkdir -p "$T/state"
    write_config "$T/bw.ini" <<INI
[global]
log = $T/bw.log
log_level = debug
state_dir = $T/state
[destination late]
host = 127.0.0.1
retries = 8
backoff_initial_ms = 100
backoff_max_ms = 400
jitter = none
breaker = off
INI
}

# under CMD...: CMD with the shim and $T/bw.ini, at most 60 s.
under() { BREAKWATER_CONFIG=$T/bw.ini BREAKWATER_LOG=debug LD_PRELOAD=$BW_PRELOAD timeout 60 "$@"; }

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
