#!/bin/bash
# Bounded soak (SOAK_SECONDS, default 20): tests/e2e/clients/soak.c under the
# shim against bw_faultd in flap mode (700 ms up, 300 ms down) and a steady
# echo server, both one destination with retries, a breaker and
# max_connections = 24 (bulkhead_wait_ms = 20). 32 threads in the pre-fork
# parent plus 4 forked workers x 4 threads (two of them epoll/native mode).
# Checks: no crash (the client and every worker exit 0), no descriptor leak
# (/proc/self/fd counted before and after in each process), no slot leak
# (afterwards exactly 24 connects are admitted at once, the 25th is rejected
# by the bulkhead, and after closing them one is admitted again), and the
# counters add up: the shared state file, read directly and through
# `breakwater status --json`, says for each address that
# connects = successes + failures + rejected_breaker + rejected_bulkhead, and
# agrees with the client's own count of its connect() calls and outcomes;
# no slot is held at the end; the breaker rejected connects to the flapping server.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${SOAK_SECONDS:-20}
MAXC=24
require_shim
gcc -std=gnu11 -Wall -Wextra -O2 -o "$T/soak" "$ROOT/tests/e2e/clients/soak.c" -pthread ||
    fail "cannot build soak.c"
# A reader of the state file, built from the core (no shim, no CLI needed).
cat >"$T/stdump.c" <<'C'
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "bw_state.h"
int main(int argc, char **argv)
{
    struct stat sb;
    int fd = open(argv[1], O_RDWR);
    if (argc != 2 || fd < 0 || fstat(fd, &sb) != 0)
        return 1;
    void *m = mmap(NULL, sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    bw_state st;
    char why[200], addr[80];
    if (m == MAP_FAILED || bw_state_attach(&st, m, sb.st_size, true, why, sizeof why) != 0)
        return 1;
    for (size_t i = 0; i < st.n_entries; i++) {
        bw_entry *e = &st.entries[i];
        if (e->ready != 2)
            continue;
        if (e->kind == BW_ENTRY_ADDRESS)
            bw_entry_format_addr(e, addr, sizeof addr);
        else
            snprintf(addr, sizeof addr, "destination");
        printf("%s %s active %u", e->dest, addr, bw_bulkhead_active(&e->bulkhead));
        static const char *n[] = {"connects", "successes", "failures", "rejected_breaker",
                                  "rejected_bulkhead", "retries", "retries_denied"};
        for (int c = 0; c < 7; c++)
            printf(" %s %llu", n[c], (unsigned long long)bw_counter_get(e, c));
        printf("\n");
    }
    return 0;
}
C
san=""   # a sanitizer build's core needs its runtime
syms=$(nm "$BUILD/libbwcore.a" 2>/dev/null)
case $syms in *__asan_init*) san="$san -fsanitize=address" ;; esac
case $syms in *__ubsan_handle*) san="$san -fsanitize=undefined" ;; esac
case $syms in *__tsan_init*) san="$san -fsanitize=thread" ;; esac
gcc -std=gnu11 -O2 $san -I"$ROOT/include" -pthread -o "$T/stdump" "$T/stdump.c" "$BUILD/libbwcore.a" ||
    fail "cannot build the state reader"

start_server FLAP "$SUPPORT/bw_faultd" --max-seconds $((SECS + 60)) flap 700 300
start_server STABLE "$SUPPORT/bw_faultd" --max-seconds $((SECS + 60)) echo
mkdir "$T/state"
write_config "$T/bw.ini" <<INI
[global]
state_dir = $T/state
log = $T/bw.log
[destination soak]
host = 127.0.0.1
port = $FLAP, $STABLE
retries = 3
backoff_initial_ms = 10
backoff_max_ms = 80
connect_timeout_ms = 3000
retry_budget_percent = 50
breaker_window_size = 20
breaker_min_calls = 10
breaker_open_ms = 300
breaker_open_max_ms = 1000
breaker_errno = ENETUNREACH
max_connections = $MAXC
bulkhead_wait_ms = 20
bulkhead_errno = ECONNABORTED
INI
$BW_CLI check "$T/bw.ini" >/dev/null || fail "config rejected"
t0=$EPOCHREALTIME
BREAKWATER_CONFIG=$T/bw.ini shim timeout $((SECS + 40)) "$T/soak" "$FLAP" "$STABLE" "$SECS" 32 4 4 $MAXC \
    >"$T/soak.out" 2>"$T/soak.err"
rc=$?
note "soak ran $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s, exit $rc"
sed 's/^/# /' "$T/soak.out"
[ -s "$T/soak.err" ] && sed 's/^/# stderr: /' "$T/soak.err" | head -n 20
[ $rc = 0 ] || fail "soak client failed (exit $rc)"
v() { awk -v k="$1" '{ key = $1; for (i = 2; i < NF; i++) key = key " " $i; if (key == k) print $NF }' "$T/soak.out"; }
assert_eq "workers" "4 of 4" "$(sed -n 's/^workers ok //p' "$T/soak.out")"
assert_eq "slots admitted" $MAXC "$(v 'slots admitted')"
assert_eq "slot after the last one" rejected "$(v 'slots next')"

# The state file: one for this config.
sf=$(ls "$T"/state/breakwater-* 2>/dev/null)
[ "$(echo "$sf" | wc -w)" = 1 ] || fail "expected one state file, found: $sf"
"$T/stdump" "$sf" >"$T/state.txt" || fail "cannot read the state file"
sed 's/^/# state: /' "$T/state.txt"
# Per address: the sum holds, and matches the client's own count.
for tgt in flap:$FLAP stable:$STABLE; do
    name=${tgt%%:*} port=${tgt#*:}
    line=$(grep "^soak 127.0.0.1:$port " "$T/state.txt") || fail "no state entry for 127.0.0.1:$port"
    s() { echo "$line" | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
    assert_eq "$name: connects = the sum of outcomes" "$(s connects)" \
        $(( $(s successes) + $(s failures) + $(s rejected_breaker) + $(s rejected_bulkhead) ))
    assert_eq "$name: connects vs the client's connect() calls" "$(v "$name attempts")" "$(s connects)"
    assert_eq "$name: successes vs connected" "$(v "$name connected")" "$(s successes)"
    assert_eq "$name: rejected_breaker vs ENETUNREACH seen" "$(v "$name breaker")" "$(s rejected_breaker)"
    assert_eq "$name: rejected_bulkhead vs ECONNABORTED seen" "$(v "$name bulkhead")" "$(s rejected_bulkhead)"
    assert_eq "$name: failures vs refused + other" $(( $(v "$name refused") + $(v "$name other") )) "$(s failures)"
done
# The flapping server is down 300 ms of every second: the breaker must open and reject.
[ "$(v 'flap breaker')" -gt 0 ] || fail "the breaker never rejected a connect to the flapping server"
assert_eq "slots held at the end" 0 "$(grep '^soak destination ' "$T/state.txt" | awk '{print $4}')"
grep -q 'breaker open' "$T/bw.log" 2>/dev/null && note "breaker transitions logged: $(grep -c 'breaker' "$T/bw.log")"

# Unconditionally (`status --help` exits 2, so a probe with it skipped this).
$BW_CLI status -c "$T/bw.ini" --json >"$T/status.json" || fail "status --json failed"
"$PYTHON3" - "$T/status.json" "$T/state.txt" <<'PY' || fail "status --json disagrees with the state file"
import json, sys
s = json.load(open(sys.argv[1]))
state = {}
for line in open(sys.argv[2]):
    f = line.split()
    state[(f[0], f[1])] = dict(zip(f[2::2], map(int, f[3::2])))
d = [d for d in s["destinations"] if d["name"] == "soak"][0]
assert d["active"] == 0, d
for a in d["addresses"]:
    want = state[("soak", a["address"])]
    for k in ("connects", "failures", "rejected_breaker", "retries"):
        assert a[k] == want[k], (a["address"], k, a[k], want[k])
print("# status --json agrees with the state file; active 0")
PY
