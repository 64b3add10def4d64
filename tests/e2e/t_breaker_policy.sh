#!/bin/bash
# t_breaker_policy.sh - breaker keys seen by a python3 client (issue 4):
#  - breaker_errno: the errno of a rejected connect is the configured one
#    (ETIMEDOUT, EHOSTUNREACH), the failures before it are the kernel's;
#  - breaker_scope = destination: two addresses of one section share a
#    breaker (failures on one reject the other), = address: they do not;
#  - breaker = off: never rejects, logs nothing.
. "$(dirname "$0")/lib.sh"
require_shim
CLIENT="$(dirname "$0")/clients/breaker_checkout.py"
DEAD=$(free_port)
start_server LIVE "$SUPPORT/bw_faultd" --max-seconds 60 echo

# cfg NAME EXTRA...: one section for 127.0.0.1 on DEAD and LIVE (checked valid);
# breaker_consecutive_failures is $CONSEC (2).
cfg() {
    local n=$1; shift
    {
        printf '[global]\nstate_dir = %s\n' "$T"
        printf '[destination pair]\nhost = 127.0.0.1\nport = %s, %s\n' "$DEAD" "$LIVE"
        printf 'retries = 0\nbreaker_consecutive_failures = %s\nbreaker_open_ms = 30000\n' "${CONSEC:-2}"
        local l
        for l in "$@"; do echo "$l"; done
    } | write_config "$T/$n.ini"
    "$BW_CLI" check "$T/$n.ini" >/dev/null 2>&1 || { "$BW_CLI" check "$T/$n.ini"; fail "$n.ini is invalid"; }
}
# run NAME OUT ROUNDS SERVICE...: the checkout client under config NAME.
run() {
    local n=$1 o=$2 r=$3; shift 3
    BREAKWATER_CONFIG="$T/$n.ini" shim timeout 30 "$PYTHON3" "$CLIENT" "$r" 0 5 "$@" \
        >"$T/$o.out" 2>"$T/$o.err" || fail "$o: client failed"
}
# results OUT: the result of every call, "ok" or the errno, comma-separated.
results() { awk '!/^#/ { printf "%s%s", s, ($3 == "ok" ? "ok" : $4); s = "," }' "$T/$1.out"; }
pid() { sed -n 's/^# pid //p' "$T/$1.out"; }

# breaker_errno: the kernel refuses twice, then the breaker answers.
cfg etimedout "breaker_errno = ETIMEDOUT"
run etimedout etimedout 4 d=127.0.0.1:$DEAD
assert_eq "breaker_errno = ETIMEDOUT" "111,111,110,110" "$(results etimedout)"
cfg ehostunreach "breaker_errno = EHOSTUNREACH"
run ehostunreach ehostunreach 4 d=127.0.0.1:$DEAD
assert_eq "breaker_errno = EHOSTUNREACH" "111,111,113,113" "$(results ehostunreach)"
cfg default_errno
run default_errno default_errno 4 d=127.0.0.1:$DEAD
assert_eq "breaker_errno default (ECONNREFUSED)" "111,111,111,111" "$(results default_errno)"
re="^breakwater\\[$(pid default_errno)\\]: warn: pair 127\\.0\\.0\\.1:$DEAD breaker open: 2 consecutive failures; next probe in [0-9]+ ms\$"
assert_eq "default errno: breaker opened (one line)" 1 "$(grep -Ec "$re" "$T/default_errno.err")"

# breaker_scope = destination: DEAD's failures reject LIVE, in another process too.
cfg dscope "breaker_scope = destination" "breaker_errno = ECONNABORTED"
run dscope dscope_dead 3 d=127.0.0.1:$DEAD
assert_eq "scope destination: dead" "111,111,103" "$(results dscope_dead)"
assert_eq "scope destination: one breaker-open line naming the section" 1 \
    "$(grep -Ec "^breakwater\\[$(pid dscope_dead)\\]: warn: pair [^ ]+ breaker open: 2 consecutive failures; next probe in [0-9]+ ms\$" "$T/dscope_dead.err")"
run dscope dscope_live 3 l=127.0.0.1:$LIVE
assert_eq "scope destination: live rejected too" "103,103,103" "$(results dscope_live)"
assert_eq "scope destination: no second opening" 0 "$(grep -c '^breakwater\[' "$T/dscope_live.err")"

# breaker_scope = address (default): LIVE keeps its own closed breaker.
cfg ascope "breaker_errno = ECONNABORTED"
run ascope ascope_dead 3 d=127.0.0.1:$DEAD
assert_eq "scope address: dead" "111,111,103" "$(results ascope_dead)"
run ascope ascope_live 3 l=127.0.0.1:$LIVE
assert_eq "scope address: live untouched" "ok,ok,ok" "$(results ascope_live)"
# ... and [::1] on DEAD's port is another address of the section, with its own breaker.
run ascope ascope_v6 1 d6=[::1]:$DEAD
assert_eq "scope address: [::1] on the dead port reaches the kernel" "111" "$(results ascope_v6)"

# breaker = off: every connect reaches the kernel, nothing is logged.
CONSEC=1 cfg off "breaker = off" "breaker_errno = ECONNABORTED"
BREAKWATER_LOG=info run off off 20 d=127.0.0.1:$DEAD
assert_eq "breaker = off: 20 refusals" "$(printf '111,%.0s' {1..19})111" "$(results off)"
# (but for the one line per destination that says how its connects are handled)
grep '^breakwater\[' "$T/off.err" | grep -v ': connects are ' >&2 && fail "breaker = off: logged as above"
assert_eq "breaker = off: the connect mode said once" 1 "$(grep -c ': info: pair: connects are non-blocking, retried inside' "$T/off.err")"
echo "ok"
