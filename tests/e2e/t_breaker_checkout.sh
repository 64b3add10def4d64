#!/bin/bash
# t_breaker_checkout.sh - the story breakwater exists for (issue 4): a
# "checkout" client (python3, clients/breaker_checkout.py) calls three local
# services, cart and stock (echo) and pay (blackholed: its connect hangs).
#  1. without the shim every pay call waits the client's connect timeout;
#  2. under the shim the first 3 pay calls time out (connect_timeout_ms, 300 ms,
#     enforced inside python's own poll since its socket is non-blocking), the
#     breaker opens (SPEC section 8 log line, checked by regex), and every later
#     pay call fails at once with ECONNREFUSED while cart and stock all succeed;
#  3. pay comes back (an echo server on the same port): calls are rejected
#     until breaker_open_ms has passed, then one probe goes through, the
#     breaker closes and every later call succeeds. The state is shared, so
#     phase 3 is a second process seeing the first one's breaker.
. "$(dirname "$0")/lib.sh"
require_shim
CLIENT="$(dirname "$0")/clients/breaker_checkout.py"
OPEN_MS=4000   # long enough that phase 3 starts while it is open, on a slow machine too

start_server CART "$SUPPORT/bw_faultd" --max-seconds 60 echo
start_server STOCK "$SUPPORT/bw_faultd" --max-seconds 60 echo
start_server PAY "$SUPPORT/bw_faultd" --max-seconds 60 blackhole
pay_pid=${BW_PIDS[-1]}
SVC=(cart=127.0.0.1:$CART stock=127.0.0.1:$STOCK pay=127.0.0.1:$PAY)

write_config "$T/bw.ini" <<EOF
[global]
state_dir = $T
[defaults]
connect_timeout_ms = 300
retries = 0
breaker_consecutive_failures = 3
breaker_open_ms = $OPEN_MS
[destination cart]
host = 127.0.0.1
port = $CART
[destination stock]
host = 127.0.0.1
port = $STOCK
[destination pay]
host = 127.0.0.1
port = $PAY
EOF

# count FILE NAME RESULT: calls of NAME whose result field (3rd, or "err ERRNO") matches.
count() { awk -v n="$2" -v r="$3" '$2 == n && ($3 == r || $3 " " $4 == r)' "$1" | wc -l; }
# median_us FILE NAME RESULT: median wall time of those calls.
median_us() {
    awk -v n="$2" -v r="$3" '$2 == n && $3 " " $4 == r { print $5 }' "$1" | sort -n |
        awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : -1 }'
}

# 1. Without breakwater: every pay call waits the client's own 0.3 s timeout.
env -u LD_PRELOAD timeout 30 "$PYTHON3" "$CLIENT" 3 0 0.3 "${SVC[@]}" >"$T/plain.out" 2>"$T/plain.err" ||
    fail "plain checkout client failed"
assert_eq "plain: cart ok" 3 "$(count "$T/plain.out" cart ok)"
assert_eq "plain: stock ok" 3 "$(count "$T/plain.out" stock ok)"
assert_eq "plain: pay timed out" 3 "$(count "$T/plain.out" pay "err 0")"
plain_pay=$(median_us "$T/plain.out" pay "err 0")
((plain_pay >= 250000)) || fail "plain: a blackholed connect took only $plain_pay us"
note "without breakwater: pay call median $plain_pay us (client timeout 300 ms)"

# 2. Under the shim: 3 timeouts open pay's breaker, the other 5 calls are rejected.
BREAKWATER_CONFIG="$T/bw.ini" shim timeout 30 "$PYTHON3" "$CLIENT" 8 20 2 "${SVC[@]}" \
    >"$T/shim.out" 2>"$T/shim.err" || fail "checkout client under the shim failed"
assert_eq "shim: cart ok" 8 "$(count "$T/shim.out" cart ok)"
assert_eq "shim: stock ok" 8 "$(count "$T/shim.out" stock ok)"
assert_eq "shim: pay ETIMEDOUT by connect_timeout_ms" 3 "$(count "$T/shim.out" pay "err 110")"
assert_eq "shim: pay rejected with ECONNREFUSED" 5 "$(count "$T/shim.out" pay "err 111")"
assert_eq "shim: the timeouts come first" "1 2 3" \
    "$(awk '$2 == "pay" && $4 == 110 { printf "%s%s", s, $1; s = " " }' "$T/shim.out")"
timed=$(median_us "$T/shim.out" pay "err 110")
rej=$(median_us "$T/shim.out" pay "err 111")
healthy=$(median_us <(sed 's/ ok / ok - /' "$T/shim.out") cart "ok -")
note "under breakwater: pay timeout median $timed us, rejected pay call median $rej us" \
    "(whole python call: socket, connect, close), cart call median $healthy us"
((timed >= 250000)) || fail "shim: a 300 ms connect timeout took only $timed us"
# Rejection never touches the network: far below the timeout (target: well under
# 1 ms; bounded generously here, the benchmark measures it precisely).
((rej < 50000)) || fail "shim: a rejected connect took $rej us (median)"
pid=$(sed -n 's/^# pid //p' "$T/shim.out")
re="^breakwater\\[$pid\\]: warn: pay 127\\.0\\.0\\.1:$PAY breaker open: 3 consecutive failures; next probe in [0-9]+ ms\$"
assert_eq "shim: one breaker-open line in SPEC section 8 form" 1 "$(grep -Ec "$re" "$T/shim.err")"
assert_eq "shim: nothing else logged at warn" 1 "$(grep -c '^breakwater\[' "$T/shim.err")"
probe_ms=$(grep -E "$re" "$T/shim.err" | sed 's/.*next probe in \([0-9]*\) ms$/\1/')
((probe_ms >= OPEN_MS * 9 / 10 && probe_ms <= OPEN_MS * 11 / 10)) ||
    fail "shim: next probe in $probe_ms ms, breaker_open_ms is $OPEN_MS (+-10%)"
# When the breaker opened: the end of the third timed-out call.
opened=$(awk '$2 == "pay" && $4 == 110 { e = $6 + int($5 / 1000) } END { print e }' "$T/shim.out")

# 3. pay comes back on the same port; a second client process shares the breaker.
kill "$pay_pid"; wait "$pay_pid" 2>/dev/null
start_server PAY2 "$SUPPORT/bw_faultd" --max-seconds 60 -p "$PAY" echo
assert_eq "pay restarted on its port" "$PAY" "$PAY2"
# 60 calls 100 ms apart: 6 s, past the latest probe (breaker_open_ms + 10 %
# jitter, 4.4 s) wherever phase 3 starts; 40 calls (4 s) missed it when the
# jitter drew more than ~4.2 s.
BREAKWATER_LOG=info BREAKWATER_CONFIG="$T/bw.ini" shim timeout 30 "$PYTHON3" "$CLIENT" 60 100 2 "${SVC[@]}" \
    >"$T/back.out" 2>"$T/back.err" || fail "checkout client (pay back) failed"
assert_eq "back: cart ok" 60 "$(count "$T/back.out" cart ok)"
assert_eq "back: stock ok" 60 "$(count "$T/back.out" stock ok)"
# pay: rejections (111), then only successes; the first success is the probe.
seq=$(awk '$2 == "pay" { printf "%s", ($3 == "ok" ? "o" : $4 == 111 ? "r" : "x") }' "$T/back.out")
[[ $seq =~ ^r*o+$ ]] || fail "back: pay calls went '$seq' (r rejected, o ok, x other), not r...ro...o"
first_ok=$(awk '$2 == "pay" && $3 == "ok" { print $5 + int($4 / 1000); exit }' "$T/back.out")
waited=$((first_ok - opened))
note "pay back: ${#seq} calls '$seq'; first success $waited ms after the breaker opened (breaker_open_ms $OPEN_MS, jittered $probe_ms)"
((waited >= probe_ms - 20)) || fail "back: the probe went out $waited ms after opening, before $probe_ms ms"
bpid=$(sed -n 's/^# pid //p' "$T/back.out")
assert_eq "back: half_open logged at info" 1 \
    "$(grep -Ec "^breakwater\\[$bpid\\]: info: pay 127\\.0\\.0\\.1:$PAY breaker half_open: probing\$" "$T/back.err")"
assert_eq "back: closed logged at warn" 1 \
    "$(grep -Ec "^breakwater\\[$bpid\\]: warn: pay 127\\.0\\.0\\.1:$PAY breaker closed: 1 of 1 probes succeeded\$" "$T/back.err")"
rejlines=$(grep -Ec "^breakwater\\[$bpid\\]: info: pay 127\\.0\\.0\\.1:$PAY rejected: breaker open\$" "$T/back.err")
(( rejlines >= 1 )) || fail "back: no 'rejected: breaker open' info line"
# One line per destination says, at info, how its connects are handled.
for d in cart stock pay; do
    assert_eq "back: $d's connect mode said once" 1 \
        "$(grep -Ec "^breakwater\\[$bpid\\]: info: $d: connects are non-blocking, retried inside the program's own waits" "$T/back.err")"
done
assert_eq "back: no other log lines" $((rejlines + 5)) "$(grep -c '^breakwater\[' "$T/back.err")"
echo "ok"
