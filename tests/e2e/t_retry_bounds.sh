#!/bin/bash
# t_retry_bounds.sh - how many attempts a refused connect gets and how long
# it takes (issue 3), seen by a C client under strace:
#  - closed port, retries = 3: exactly 4 connect() calls on one descriptor,
#    AF_UNSPEC between them, ECONNREFUSED; total time within the backoff
#    bounds (jitter = none: 100+200+400 ms; full: at most that);
#  - retries = 0: one attempt; retry_on = refused does retry a refusal;
#  - deadline_ms caps the total time, and so does a shorter SO_SNDTIMEO;
#  - a signal during the backoff sleep: connect() returns -1 with EINTR;
#    one with SA_RESTART does not end the backoff or a bounded attempt, also
#    when crash handlers without SA_RESTART are installed.
. "$(dirname "$0")/lib.sh"
require_shim
. "$(dirname "$0")/clients/retry_lib.sh"
build_retry_client
DEAD=$(free_port)

# run NAME HOST CLIENT_ARG...: the C client against HOST:DEAD under the shim
# with $T/NAME.ini, traced; sets LINE (its output), MS, ERR, N (attempts).
run() {
    local n=$1 h=$2; shift 2
    traced "$T/$n.ini" "$T/$n.st" "$T/retry_client" "$@" "$h" "$DEAD" >"$T/$n.out" 2>"$T/$n.err"
    LINE=$(cat "$T/$n.out")
    MS=$(field "$LINE" ms)
    ERR=$(field "$LINE" errno)
    N=$(conns "$T/$n.st" "$DEAD" | wc -l)
    grep '^breakwater\[' "$T/$n.err" >&2 && fail "$n: the shim logged"
    note "$n: $LINE; $N attempts; gaps $(attempt_gaps "$T/$n.st" "$DEAD") ms"
}
# between WHAT VALUE LO HI: LO <= VALUE <= HI.
between() { [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || fail "$1: $2 not in [$3, $4]"; }

# Without the shim: one attempt, refused at once.
env -u LD_PRELOAD strace -f -ttt -e trace=connect -o "$T/plain.st" \
    "$T/retry_client" 127.0.0.1 "$DEAD" >"$T/plain.out"
assert_eq "no shim: refused" ECONNREFUSED "$(field "$(cat "$T/plain.out")" errno)"
assert_eq "no shim: one attempt" 1 "$(conns "$T/plain.st" "$DEAD" | wc -l)"

# Closed port, jitter none: 4 attempts, sleeps of exactly 100, 200, 400 ms:
# each gap is its configured value, -5 % / +100 ms (a doubled backoff fails).
retry_cfg "$T/none.ini" "retries = 3" "backoff_initial_ms = 100" "jitter = none" "breaker = off"
run none 127.0.0.1
assert_eq "jitter none: errno" ECONNREFUSED "$ERR"
same_fd_with_unspec "$T/none.st" "$DEAD" 4
between "jitter none: total ms" "$MS" 665 1000
read -r g1 g2 g3 <<<"$(attempt_gaps "$T/none.st" "$DEAD")"
between "jitter none: 1st backoff" "$g1" 95 200
between "jitter none: 2nd backoff" "$g2" 190 300
between "jitter none: 3rd backoff" "$g3" 380 500

# The defaults but the port (retries 2, full jitter from 100 ms), over IPv6:
# 3 attempts, at most 100 + 200 ms of sleeping.
retry_cfg "$T/full.ini" "breaker = off"
run full ::1
assert_eq "defaults [::1]: errno" ECONNREFUSED "$ERR"
same_fd_with_unspec "$T/full.st" "$DEAD" 3
between "defaults: total ms" "$MS" 0 1500

# equal jitter, from 200 ms, multiplier 3, cap 500: d = 200, 500, 500, so the
# sleeps are d/2 + rand(0, d/2): in [100,200], [250,500], [250,500].
retry_cfg "$T/equal.ini" "retries = 3" "backoff_initial_ms = 200" "backoff_multiplier = 3" \
    "backoff_max_ms = 500" "jitter = equal" "breaker = off"
run equal 127.0.0.1
same_fd_with_unspec "$T/equal.st" "$DEAD" 4
between "equal jitter: total ms (>= 100+250+250)" "$MS" 600 5000

# retries = 0: one attempt, and the counters say so.
retry_cfg "$T/zero.ini" "retries = 0" "breaker = off"
run zero 127.0.0.1
assert_eq "retries = 0: errno" ECONNREFUSED "$ERR"
assert_eq "retries = 0: attempts" 1 "$N"
assert_eq "retries = 0: status retries" 0 "$(status_sum "$T/zero.ini" retries "$DEAD")"
assert_eq "retries = 0: status connects" 1 "$(status_sum "$T/zero.ini" connects "$DEAD")"

# retry_on = refused retries a refusal (its timeout side is in t_retry_timeout.sh).
retry_cfg "$T/refused.ini" "retry_on = refused" "retries = 2" "backoff_initial_ms = 10" "breaker = off"
run refused 127.0.0.1
same_fd_with_unspec "$T/refused.st" "$DEAD" 3
assert_eq "retry_on = refused: status retries" 2 "$(status_sum "$T/refused.ini" retries "$DEAD")"
# ... and retry_on = unreachable does not.
retry_cfg "$T/unreach.ini" "retry_on = unreachable" "retries = 2" "backoff_initial_ms = 10" "breaker = off"
run unreach 127.0.0.1
assert_eq "retry_on = unreachable: a refusal is not retried" 1 "$N"

# deadline_ms = 700 with 10 retries 200 ms apart (2000 ms without it): the
# shim stops once the next attempt could not start in time.
retry_cfg "$T/deadline.ini" "retries = 10" "backoff_initial_ms = 200" "backoff_max_ms = 200" \
    "jitter = none" "deadline_ms = 700" "breaker = off"
run deadline 127.0.0.1
assert_eq "deadline: errno" ECONNREFUSED "$ERR"
between "deadline: attempts" "$N" 2 4
between "deadline: total ms" "$MS" 200 1400
same_fd_with_unspec "$T/deadline.st" "$DEAD" "$N"

# A shorter SO_SNDTIMEO (500 ms) wins over the same 2000 ms of retries.
retry_cfg "$T/sndtimeo.ini" "retries = 10" "backoff_initial_ms = 200" "backoff_max_ms = 200" \
    "jitter = none" "breaker = off"
run sndtimeo 127.0.0.1 -s 500
assert_eq "SO_SNDTIMEO: errno" ECONNREFUSED "$ERR"
between "SO_SNDTIMEO: attempts" "$N" 2 4
between "SO_SNDTIMEO: total ms" "$MS" 200 1400
# ... and without it, all 11 attempts are made.
cp -p "$T/sndtimeo.ini" "$T/nosndtimeo.ini"
run nosndtimeo 127.0.0.1
assert_eq "no SO_SNDTIMEO: attempts" 11 "$N"
between "no SO_SNDTIMEO: total ms" "$MS" 2000 10000

# SIGALRM (handler without SA_RESTART) 300 ms into a 3000 ms backoff sleep:
# connect() returns -1/EINTR then, after its single attempt.
retry_cfg "$T/eintr.ini" "retries = 1" "backoff_initial_ms = 3000" "backoff_max_ms = 3000" "jitter = none" "breaker = off"
run eintr 127.0.0.1 -a 300
assert_eq "signal in the backoff: errno" EINTR "$ERR"
assert_eq "signal in the backoff: attempts" 1 "$N"
between "signal in the backoff: ms" "$MS" 250 2500

# The same signal with SA_RESTART: the kernel would restart a sleeping call,
# so the backoff goes on and the retry is made (SPEC section 6).
retry_cfg "$T/restart.ini" "retries = 1" "backoff_initial_ms = 1000" "backoff_max_ms = 1000" "jitter = none" "breaker = off"
run restart 127.0.0.1 -a 300 -r
assert_eq "SA_RESTART signal in the backoff: errno" ECONNREFUSED "$ERR"
assert_eq "SA_RESTART signal in the backoff: attempts" 2 "$N"
between "SA_RESTART signal in the backoff: ms" "$MS" 950 2500
grep -q "fired" "$T/restart.err" && fail "restart: $(cat "$T/restart.err")"

# ... and during a blocking attempt bounded by connect_timeout_ms, against a
# server that never answers: the attempt runs to its limit (ETIMEDOUT at
# ~1000 ms), where the bound's send timeout would have made it EINTR at 300.
start_server BH "$SUPPORT/bw_faultd" --max-seconds 60 blackhole
retry_cfg "$T/restart_bh.ini" "retries = 0" "connect_timeout_ms = 1000" "breaker = off"
BREAKWATER_CONFIG="$T/restart_bh.ini" shim "$T/retry_client" -a 300 -r 127.0.0.1 "$BH" >"$T/rbh.out" 2>"$T/rbh.err"
LINE=$(cat "$T/rbh.out")
note "SA_RESTART during a bounded attempt: $LINE"
assert_eq "SA_RESTART during a bounded attempt: errno" ETIMEDOUT "$(field "$LINE" errno)"
between "SA_RESTART during a bounded attempt: ms" "$(field "$LINE" ms)" 950 2500
# The same with crash handlers installed without SA_RESTART (-f: SIGSEGV,
# SIGBUS, SIGFPE, as ASan's and TSan's runtimes and Python's faulthandler
# install them): a fault signal interrupts no call, so the attempt still
# runs to its limit (counted, they made it EINTR at 300 ms).
BREAKWATER_CONFIG="$T/restart_bh.ini" shim "$T/retry_client" -a 300 -r -f 127.0.0.1 "$BH" \
    >"$T/fbh.out" 2>"$T/fbh.err"
LINE=$(cat "$T/fbh.out")
note "SA_RESTART during a bounded attempt, crash handlers installed: $LINE"
assert_eq "SA_RESTART with crash handlers: errno" ETIMEDOUT "$(field "$LINE" errno)"
between "SA_RESTART with crash handlers: ms" "$(field "$LINE" ms)" 950 2500
# Without SA_RESTART the same alarm gives EINTR at 300 ms, as the kernel would.
BREAKWATER_CONFIG="$T/restart_bh.ini" shim "$T/retry_client" -a 300 127.0.0.1 "$BH" >"$T/ibh.out" 2>"$T/ibh.err"
assert_eq "plain signal during a bounded attempt: errno" EINTR "$(field "$(cat "$T/ibh.out")" errno)"
echo "ok"
