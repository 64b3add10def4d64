# bulkhead_lib.sh - sourced by the t_bulkhead_*.sh tests after lib.sh: builds
# the bulkhead_client instrument into $T and runs it under the shim.
BH=$T/bulkhead_client
cc -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -O1 -pthread -o "$BH" \
    "$(dirname "${BASH_SOURCE[0]}")/bulkhead_client.c" || fail "cannot build bulkhead_client"
require_shim

# bh_config FILE PORTS [LINE...]: a destination for 127.0.0.1 and ::1 on PORTS,
# plus LINEs, with its shared state kept in $T.
bh_config() {
    local f=$1 p=$2; shift 2
    { printf '[global]\nstate_dir = %s\n[destination testsrv]\nhost = 127.0.0.1, ::1\nport = %s\n' "$T" "$p"
      printf '%s\n' "$@"; } | write_config "$f"
}

# bh CFG ARG...: the client under the shim with config CFG (at most 60 s); its
# output in $T/bh.out (read it with "$(out)"), stderr in $T/bh.err, which must
# carry no line of breakwater's. Returns the client's exit status.
bh() {
    local cfg=$1 rc; shift
    BREAKWATER_CONFIG=$cfg shim timeout 60 "$BH" "$@" >"$T/bh.out" 2>"$T/bh.err"
    rc=$?
    if grep -q '^breakwater\[' "$T/bh.err"; then
        grep '^breakwater\[' "$T/bh.err" | head -n 3 >&2
        fail "breakwater logged"
    fi
    return $rc
}
out() { cat "$T/bh.out"; }
want() { printf '%s\n' "$@"; }
# took N: milliseconds the last run's connect of sN took.
took() { sed -n "s/^# s$1 took \([0-9]*\) ms$/\1/p" "$T/bh.err"; }
# peak FILE: the highest number of connections a bw_faultd --count-file saw at once.
peak() { sed -n 's/^current [0-9]* peak \([0-9]*\)$/\1/p' "$1"; }
