#!/bin/bash
# t_retry_timeout.sh - attempts that time out (issue 3), against a blackhole
# (a full accept queue: SYNs are dropped, connect() hangs), C client under strace:
#  - connect_timeout_ms = 300, retries = 2: three attempts on one descriptor,
#    each abandoned (AF_UNSPEC) after about 300 ms, ending in ETIMEDOUT;
#  - retry_on = refused: a timeout is not retried (one attempt);
#  - an SA_RESTART signal inside a bounded connect: the limit still counts
#    from the attempt's start;
#  - a shorter SO_SNDTIMEO of the program's own wins over connect_timeout_ms:
#    connect() ends then, as the kernel's would (EINPROGRESS), after one attempt;
#  - a blocking python3 connect sees the same ETIMEDOUT after 3 x 300 ms.
. "$(dirname "$0")/lib.sh"
require_shim
. "$(dirname "$0")/clients/retry_lib.sh"
build_retry_client
start_server HOLE "$SUPPORT/bw_faultd" --max-seconds 60 blackhole

# run NAME CLIENT_ARG...: the C client against the blackhole under the shim
# with $T/NAME.ini, traced; sets LINE, MS, ERR, N (attempts).
run() {
    local n=$1; shift
    traced "$T/$n.ini" "$T/$n.st" timeout 30 "$T/retry_client" "$@" 127.0.0.1 "$HOLE" \
        >"$T/$n.out" 2>"$T/$n.err"
    LINE=$(cat "$T/$n.out")
    MS=$(field "$LINE" ms)
    ERR=$(field "$LINE" errno)
    N=$(conns "$T/$n.st" "$HOLE" | wc -l)
    grep '^breakwater\[' "$T/$n.err" >&2 && fail "$n: the shim logged"
    note "$n: $LINE; $N attempts; gaps $(attempt_gaps "$T/$n.st" "$HOLE") ms"
}
between() { [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || fail "$1: $2 not in [$3, $4]"; }

# Without the shim, the connect hangs (cut at 1 s by the client's SO_SNDTIMEO).
env -u LD_PRELOAD "$T/retry_client" -s 1000 127.0.0.1 "$HOLE" >"$T/plain.out"
LINE=$(cat "$T/plain.out"); note "no shim, SO_SNDTIMEO 1000: $LINE"
assert_eq "no shim: the blackhole holds the connect" EINPROGRESS "$(field "$LINE" errno)"
between "no shim: ms" "$(field "$LINE" ms)" 900 5000

# connect_timeout_ms = 300, 3 attempts 10 ms apart.
retry_cfg "$T/ct.ini" "connect_timeout_ms = 300" "retries = 2" "backoff_initial_ms = 10" \
    "jitter = none" "breaker = off"
run ct
assert_eq "connect_timeout_ms: errno" ETIMEDOUT "$ERR"
same_fd_with_unspec "$T/ct.st" "$HOLE" 3
read -r g1 g2 <<<"$(attempt_gaps "$T/ct.st" "$HOLE")"
between "connect_timeout_ms: 1st attempt + backoff" "$g1" 300 1500
between "connect_timeout_ms: 2nd attempt + backoff" "$g2" 300 1500
between "connect_timeout_ms: total" "$MS" 900 4500
assert_eq "connect_timeout_ms: status failures" 1 "$(status_sum "$T/ct.ini" failures "$HOLE")"
assert_eq "connect_timeout_ms: status retries" 2 "$(status_sum "$T/ct.ini" retries "$HOLE")"

# An SA_RESTART signal 300 ms into a bounded blocking connect: the shim waits
# out the rest of the limit counted from the attempt's start (1000 ms in all),
# neither ending at the signal nor starting the limit afresh (1300 ms).
retry_cfg "$T/restart.ini" "connect_timeout_ms = 1000" "retries = 0" "breaker = off"
run restart -a 300 -r
assert_eq "SA_RESTART signal in a bounded connect: errno" ETIMEDOUT "$ERR"
assert_eq "SA_RESTART signal in a bounded connect: attempts" 1 "$N"
between "SA_RESTART signal in a bounded connect: ms" "$MS" 900 1290

# retry_on = refused: the timeout is final.
retry_cfg "$T/refonly.ini" "connect_timeout_ms = 300" "retries = 2" "backoff_initial_ms = 10" \
    "retry_on = refused" "breaker = off"
run refonly
assert_eq "retry_on = refused: errno" ETIMEDOUT "$ERR"
assert_eq "retry_on = refused: attempts" 1 "$N"
between "retry_on = refused: ms" "$MS" 300 1500
# ... while retry_on = timeout retries it.
retry_cfg "$T/toonly.ini" "connect_timeout_ms = 300" "retries = 1" "backoff_initial_ms = 10" \
    "retry_on = timeout" "breaker = off"
run toonly
assert_eq "retry_on = timeout: attempts" 2 "$N"

# SO_SNDTIMEO 400 ms under connect_timeout_ms = 3000 and 2 retries: the
# program's limit ends it, reported as the kernel does, after one attempt.
retry_cfg "$T/snd.ini" "connect_timeout_ms = 3000" "retries = 2" "backoff_initial_ms = 10" "breaker = off"
run snd -s 400
assert_eq "SO_SNDTIMEO wins: errno (as the kernel's)" EINPROGRESS "$ERR"
assert_eq "SO_SNDTIMEO wins: attempts" 1 "$N"
between "SO_SNDTIMEO wins: ms" "$MS" 380 2000

# python3, blocking socket, same limits as 'ct'.
cp -p "$T/ct.ini" "$T/py.ini"
traced "$T/py.ini" "$T/py.st" timeout 30 "$PYTHON3" "$RETRY_CLIENTS/retry_connect.py" \
    127.0.0.1 "$HOLE" blocking >"$T/py.out" 2>"$T/py.err"
LINE=$(cat "$T/py.out"); note "python3 blocking: $LINE"
assert_eq "python3: errno" ETIMEDOUT "$(field "$LINE" errno)"
same_fd_with_unspec "$T/py.st" "$HOLE" 3
between "python3: ms" "$(field "$LINE" ms)" 900 4500
echo "ok"
