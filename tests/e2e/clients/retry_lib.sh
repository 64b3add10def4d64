# retry_lib.sh - helpers shared by the t_retry_*.sh tests; sourced after lib.sh.
RETRY_CLIENTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v strace >/dev/null || fail "strace missing (tests/deps.sh test installs it)"

# retry_cfg FILE KEY_LINE...: a private config (state in $T) whose section
# "dead" covers 127.0.0.1 and ::1 on any port, with the given keys.
retry_cfg() {
    local f=$1 l; shift
    {
        printf '[global]\nstate_dir = %s\n' "$T"
        printf '[destination dead]\nhost = 127.0.0.1, ::1\n'
        for l in "$@"; do echo "$l"; done
    } | write_config "$f"
    "$BW_CLI" check "$f" >/dev/null 2>&1 || { "$BW_CLI" check "$f"; fail "$f is invalid"; }
}

# build_retry_client: compiles clients/retry_client.c into $T/retry_client.
build_retry_client() {
    cc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -o "$T/retry_client" \
        "$RETRY_CLIENTS/retry_client.c" || fail "retry_client does not compile"
}

# traced CONFIG TRACE CMD...: runs CMD under the shim with CONFIG, under
# strace (connect calls, with timestamps, into TRACE).
traced() {
    local cfg=$1 st=$2; shift 2
    BREAKWATER_CONFIG="$cfg" shim strace -f -ttt -e trace=connect -o "$st" "$@"
}

# conns FILE PORT: the AF_INET/AF_INET6 connect() lines to PORT in an strace log.
conns() { grep -E "connect\\([0-9]+, \\{sa_family=AF_INET6?, sin6?_port=htons\\($2\\)" "$1"; }

# same_fd_with_unspec FILE PORT N: N connects to PORT, all on one descriptor,
# with an AF_UNSPEC connect on it between each two of them (a timed-out
# attempt is dissolved at once, so there may be one after the last attempt
# too, and two in a row are as good as one).
same_fd_with_unspec() {
    local f=$1 p=$2 n=$3 fd seq want=P i
    assert_eq "$f: connect() calls to port $p" "$n" "$(conns "$f" "$p" | wc -l)"
    assert_eq "$f: one descriptor for every attempt" 1 \
        "$(conns "$f" "$p" | sed -E 's/.*connect\(([0-9]+),.*/\1/' | sort -u | wc -l)"
    fd=$(conns "$f" "$p" | head -n 1 | sed -E 's/.*connect\(([0-9]+),.*/\1/')
    # Attempts (P) and dissolutions (U) on fd, in order.
    seq=$(grep -E "connect\\($fd, \\{sa_family=AF_(UNSPEC|INET6?)," "$f" |
        sed -E 's/.*sa_family=AF_UNSPEC.*/U/; s/.*sa_family=AF_INET.*/P/' | tr -d '\n' | tr -s U)
    for ((i = 1; i < n; i++)); do want+=UP; done
    [ "$seq" = "$want" ] || [ "$seq" = "${want}U" ] ||
        fail "$f: attempts on fd $fd not separated by AF_UNSPEC: expected '$want', got '$seq'"
}

# attempt_gaps FILE PORT: milliseconds between consecutive connects to PORT.
attempt_gaps() {
    conns "$1" "$2" | awk '{ t = $2 * 1000; if (NR > 1) { printf "%s%d", s, t - p; s = " " } p = t } END { print "" }'
}

# field LINE KEY: the value of KEY=VALUE in a client's output line.
field() { sed -nE "s/.*(^| )$2=([^ ]*).*/\\2/p" <<<"$1"; }

# status_sum CONFIG FIELD PORT: FIELD summed over the addresses on PORT in
# `breakwater status --json`.
status_sum() {
    "$BW_CLI" status -c "$1" --json | "$PYTHON3" -c '
import json, sys
d = json.load(sys.stdin)
print(sum(a[sys.argv[1]] for x in d["destinations"] for a in x["addresses"]
          if a["address"].endswith(":" + sys.argv[2])))' "$2" "$3"
}

# rt_prefix: sets RT to a command prefix that runs a timing-sensitive program
# under SCHED_FIFO when the machine allows it, so that a busy machine's run
# queue (load 15 on 2 cores delays a wake-up by 300 ms) is not counted as the
# shim's lateness; the shim's own work still runs, and counts, in the program.
rt_prefix() {
    RT=()
    if chrt -f 10 true 2>/dev/null; then RT=(chrt -f 10); else note "no SCHED_FIFO here: plain scheduling"; fi
}
