#!/bin/bash
# `breakwater top` as a person sees it, in a tmux window: the title, the
# header, a destination row with active/max, an address row with a tripped
# breaker, rates that follow a running client's connects; the table redrawn
# to a smaller window (no line wider than it, extra rows counted in a last
# line); q ends it and the screen is given back. Not a terminal: one plain
# table without escape sequences, or N with --count N.
. "$(dirname "$0")/lib.sh"
require_shim
command -v tmux >/dev/null || fail "tmux is not installed (tests/deps.sh test)"
start_server P "$SUPPORT/bw_faultd" --max-seconds 200 echo
DEAD=$(free_port)
CFG=$T/bw.ini
write_config "$CFG" <<EOF
[global]
state_dir = $T
[defaults]
retries = 0
[destination echo]
host = 127.0.0.1
port = $P
max_connections = 4
[destination dead]
host = 127.0.0.1
port = $DEAD
breaker_consecutive_failures = 3
breaker_open_ms = 60000
breaker_open_max_ms = 60000
EOF
# A client that keeps connecting: echo 20 times a second (holding one
# connection open throughout), dead 5 times a second, 12 other closed ports once.
cat >"$T/load.py" <<'PY'
import socket, sys, time
port, dead, others = int(sys.argv[1]), int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
def attempt(p):
    try:
        s = socket.create_connection(("127.0.0.1", p), timeout=5); s.close()
    except OSError:
        pass
held = socket.create_connection(("127.0.0.1", port), timeout=5)
for p in others:
    attempt(p)
print("ready", flush=True)
end = time.time() + 60
i = 0
while time.time() < end:
    attempt(port)
    if i % 4 == 0:
        attempt(dead)
    i += 1
    time.sleep(0.05)
PY
others=()
while [ ${#others[@]} -lt 12 ]; do
    p=$(free_port); [[ " ${others[*]} $P $DEAD " == *" $p "* ]] || others+=("$p")
done
BREAKWATER_CONFIG=$CFG LD_PRELOAD=$BW_PRELOAD timeout 70 "$PYTHON3" "$T/load.py" "$P" "$DEAD" "${others[@]}" \
    >"$T/load.out" 2>"$T/load.err" &
BW_PIDS+=($!)
for ((i = 0; i < 200; i++)); do grep -q ready "$T/load.out" && break; sleep 0.05; done
grep -q ready "$T/load.out" || fail "load client: $(cat "$T/load.err")"

TM=(tmux -L "bwtop$$" -f /dev/null)
cleanup_tmux() { "${TM[@]}" kill-server 2>/dev/null; }
trap 'cleanup_tmux; bw_cleanup' EXIT
"${TM[@]}" new-session -d -s top -x 100 -y 40 "sleep 0.3; '$BW_CLI' top -c '$CFG'; echo \$? >'$T/top.rc'" ||
    fail "tmux new-session failed"
"${TM[@]}" set-option -t top remain-on-exit on >/dev/null
screen() { "${TM[@]}" capture-pane -p -J -t top; }   # -J: a wrapped line stays one
# Waits (at most 10 s) until the screen has a line matching the regex $1.
wait_screen() {
    local i
    for ((i = 0; i < 50; i++)); do screen >"$T/screen"; grep -Eq "$1" "$T/screen" && return 0; sleep 0.2; done
    fail "no line matching '$1' on the screen:$(printf '\n'; cat "$T/screen")"
}
rate='[0-9]+\.[0-9]'
wait_screen "^  127\.0\.0\.1:$P +closed +[1-9][0-9]*\.[0-9] "
wait_screen "^  127\.0\.0\.1:$DEAD +open +$rate +$rate +$rate +[1-9][0-9]*\.[0-9]$"
cp "$T/screen" "$T/big"
grep -q "^breakwater top - $CFG - [0-9-]* [0-9:]* UTC - every 1 s$" "$T/big" || fail "title: $(head -1 "$T/big")"
grep -Eq '^DESTINATION/ADDRESS +BREAKER +ACTIVE/MAX +CONN/s +FAIL/s +RETRY/s +REJ/s$' "$T/big" ||
    fail "header: $(sed -n 2p "$T/big")"
grep -Eq "^echo +[1-4]/4 +$rate" "$T/big" || fail "echo row: $(grep '^echo' "$T/big")"
grep -Eq "^dead +0/- +$rate" "$T/big" || fail "dead row: $(grep '^dead' "$T/big")"
assert_eq "rows on a 40-line window (2 + 3 destinations + 14 addresses)" 19 "$(grep -c . "$T/big")"
grep -q "more rows" "$T/big" && fail "a 40-line window should show every row"
note "100x40 window:$(printf '\n'; cat "$T/big")"

# A smaller window: redrawn within its width and height.
"${TM[@]}" resize-window -t top -x 60 -y 10 || fail "tmux resize-window failed"
wait_screen '^\.\.\. [0-9]+ more rows'
assert_eq "longest line on a 60-column window" 60 "$(awk '{ if (length > m) m = length } END { print m }' "$T/screen")"
[ "$(grep -c . "$T/screen")" -le 10 ] || fail "more lines than the window has: $(cat "$T/screen")"
grep -Eq "^\.\.\. 1[0-9] more rows \(a taller window" "$T/screen" || fail "more line: $(tail -n 2 "$T/screen")"
note "60x10 window:$(printf '\n'; cat "$T/screen")"

# q ends it, and the screen from before top comes back (empty here).
"${TM[@]}" send-keys -t top q
for ((i = 0; i < 50; i++)); do [ -s "$T/top.rc" ] && break; sleep 0.1; done
[ -s "$T/top.rc" ] || fail "top did not end on q: $(screen)"
assert_eq "top's exit status" 0 "$(cat "$T/top.rc")"
screen | grep -q "DESTINATION" && fail "the alternate screen was not left: $(screen)"

# Not a terminal: one measured table, plain text; --count 2: two.
start=$EPOCHREALTIME
"$BW_CLI" top -c "$CFG" >"$T/plain" 2>&1 || fail "top | file failed: $(cat "$T/plain")"
grep -q $'\033' "$T/plain" && fail "escape sequences in plain output"
assert_eq "plain: tables" 1 "$(grep -c '^breakwater top - ' "$T/plain")"
grep -Eq "^  127\.0\.0\.1:$P +closed +[1-9][0-9]*\.[0-9]" "$T/plain" || fail "plain table: $(cat "$T/plain")"
# The README's sample is this program's output: same header, same columns.
top=$(cd "$(dirname "$0")/../.." && pwd)
assert_eq "README sample header" "$(sed -n 2p "$T/plain")" \
    "$(grep -m1 '^DESTINATION/ADDRESS' "$top/README.md")"
grep -q '^  127.0.0.1:8080         closed                       32.9      0.0      0.0      0.0$' "$top/README.md" ||
    fail "the README's top sample lost its address row"
"$BW_CLI" top -c "$CFG" --count 2 | grep -c '^breakwater top - ' >"$T/n"
assert_eq "--count 2: tables" 2 "$(cat "$T/n")"
"$BW_CLI" top -c "$CFG" --count 0 >/dev/null 2>&1; assert_eq "--count 0: exit" 2 $?
note "top: tmux screens, resize, q, plain text verified"
