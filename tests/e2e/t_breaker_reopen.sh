#!/bin/bash
# t_breaker_reopen.sh - the open time doubles on each failed probe (issue 4).
# A python3 client connects to a closed port every 10 ms for about 3.5 s with
# breaker_consecutive_failures = 1, breaker_open_ms = 300: the kernel's
# refusals (ECONNREFUSED) are the first call and the probes; the breaker's
# rejections carry breaker_errno = ECONNABORTED. The logged open times must be
# 300, 600, 1200 ms (+-10% jitter) and the probes no earlier than that (lower
# bounds only: a busy machine only makes the gaps longer).
. "$(dirname "$0")/lib.sh"
require_shim
CLIENT="$(dirname "$0")/clients/breaker_checkout.py"
DEAD=$(free_port)
dest_config "$T/bw.ini" "$DEAD" "retries = 0" "breaker_consecutive_failures = 1" \
    "breaker_open_ms = 300" "breaker_open_max_ms = 60000" "breaker_errno = ECONNABORTED"
printf '[global]\nstate_dir = %s\n' "$T" >>"$T/bw.ini"
"$BW_CLI" check "$T/bw.ini" >/dev/null 2>&1 || fail "bw.ini is invalid"

BREAKWATER_LOG=info BREAKWATER_CONFIG="$T/bw.ini" shim timeout 40 "$PYTHON3" "$CLIENT" 350 10 5 \
    d=127.0.0.1:$DEAD >"$T/out" 2>"$T/err" || fail "client failed"
pid=$(sed -n 's/^# pid //p' "$T/out")
other=$(awk '!/^#/ && !($3 == "err" && ($4 == 111 || $4 == 103))' "$T/out" | head -n 3)
[ -z "$other" ] || fail "calls ending otherwise than refused or rejected: $other"
# Kernel refusals: the first call, then one probe per opening.
mapfile -t starts < <(awk '$4 == 111 { print $6 }' "$T/out")
mapfile -t ends < <(awk '$4 == 111 { print $6 + int($5 / 1000) }' "$T/out")
((${#starts[@]} >= 4)) || fail "only ${#starts[@]} refusals reached the kernel in 3.5 s (want the first call and 3 probes)"
mapfile -t opens < <(sed -n "s/^breakwater\\[$pid\\]: warn: testsrv 127\\.0\\.0\\.1:$DEAD breaker open: .*; next probe in \\([0-9]*\\) ms\$/\\1/p" "$T/err")
assert_eq "one opening per refusal" "${#starts[@]}" "${#opens[@]}"
assert_eq "first opening's reason" 1 "$(grep -c "breaker open: 1 consecutive failures; next probe in" "$T/err")"
assert_eq "reopenings' reason" $((${#opens[@]} - 1)) "$(grep -c "breaker open: probe failed; next probe in" "$T/err")"
gaps=""
for k in 0 1 2; do
    want=$((300 << k))
    o=${opens[$k]}
    ((o >= want * 9 / 10 && o <= want * 11 / 10)) || fail "opening $((k + 1)): next probe in $o ms, want $want +-10%"
    # The breaker reopened after probe k began; probe k+1 was admitted o ms later, before it ended.
    gap=$((ends[k + 1] - starts[k]))
    ((gap >= o - 5)) || fail "probe $((k + 1)) came $gap ms after the opening, before the $o ms open time"
    gaps="$gaps ${gap}ms(open $o)"
done
rej=$(grep -c ' err 103 ' "$T/out")
((rej >= 10)) || fail "only $rej rejections"
note "open times logged: ${opens[*]}; first call to probe gaps:$gaps; $rej rejections"
echo "ok"
