#!/bin/bash
# t_breaker_http.sh - HTTP statuses as breaker outcomes (issue 4): a server
# answering 503 opens the breaker of a python3 http.client client when
# breaker_http_status = 500-599 (the connects themselves succeed); without the
# key, or with a server answering 200, it stays closed; breaker = dry-run
# rejects nothing but logs the opening and that it would reject.
. "$(dirname "$0")/lib.sh"
require_shim
CLIENT="$(dirname "$0")/clients/breaker_http.py"

start_server BAD "$SUPPORT/bw_faultd" --max-seconds 60 http 503
start_server GOOD "$SUPPORT/bw_faultd" --max-seconds 60 http 200

# cfg NAME PORT EXTRA...: a config of its own (own state) for one run.
cfg() {
    local n=$1 p=$2; shift 2
    dest_config "$T/$n.ini" "$p" "retries = 0" "breaker_consecutive_failures = 3" \
        "breaker_open_ms = 30000" "$@"
    printf '[global]\nstate_dir = %s\n' "$T" >>"$T/$n.ini"
    "$BW_CLI" check "$T/$n.ini" >/dev/null 2>&1 || { "$BW_CLI" check "$T/$n.ini"; fail "$n.ini is invalid"; }
}
# run NAME PORT [METHOD]: 6 requests under the shim with config NAME.
run() {
    BREAKWATER_CONFIG="$T/$1.ini" shim timeout 60 "$PYTHON3" "$CLIENT" 6 "$2" ${3:-} \
        >"$T/$1.out" 2>"$T/$1.err" || fail "$1: client failed"
}
answers() { grep -v '^#' "$T/$1.out" | awk '{ printf "%s%s", s, $2 ($3 ? " " $3 : ""); s = "," }'; }
pid() { sed -n 's/^# pid //p' "$T/$1.out"; }

# Plain: the server really answers 503.
env -u LD_PRELOAD timeout 60 "$PYTHON3" "$CLIENT" 2 "$BAD" >"$T/plain.out" || fail "plain client failed"
assert_eq "plain: statuses" "503,503" "$(answers plain)"

# breaker_http_status = 500-599: three 503s in a row open it; the rest are rejected.
cfg on "$BAD" "breaker_http_status = 500-599"
run on "$BAD"
assert_eq "500-599: answers" "503,503,503,err 111,err 111,err 111" "$(answers on)"
re="^breakwater\\[$(pid on)\\]: warn: testsrv 127\\.0\\.0\\.1:$BAD breaker open: 3 consecutive failures; next probe in [0-9]+ ms\$"
assert_eq "500-599: one breaker-open line" 1 "$(grep -Ec "$re" "$T/on.err")"
assert_eq "500-599: nothing else at warn" 1 "$(grep -c '^breakwater\[' "$T/on.err")"

# breaker_http_status = 502,504 does not count 503.
cfg list "$BAD" "breaker_http_status = 502,504"
run list "$BAD"
assert_eq "502,504: answers" "503,503,503,503,503,503" "$(answers list)"
assert_eq "502,504: no log" 0 "$(grep -c '^breakwater\[' "$T/list.err")"

# No breaker_http_status: responses are not looked at, the connects succeed.
cfg nostatus "$BAD"
run nostatus "$BAD"
assert_eq "no status key: answers" "503,503,503,503,503,503" "$(answers nostatus)"
assert_eq "no status key: no log" 0 "$(grep -c '^breakwater\[' "$T/nostatus.err")"

# A healthy server under 500-599.
cfg good "$GOOD" "breaker_http_status = 500-599"
run good "$GOOD"
assert_eq "200 server: answers" "200,200,200,200,200,200" "$(answers good)"
assert_eq "200 server: no log" 0 "$(grep -c '^breakwater\[' "$T/good.err")"

# HEAD responses carry no body: the reader must still pair them (503s open it).
cfg head "$BAD" "breaker_http_status = 500-599"
run head "$BAD" HEAD
assert_eq "HEAD: answers" "503,503,503,err 111,err 111,err 111" "$(answers head)"

# dry-run: the same story rejects nothing, but says so at info.
cfg dry "$BAD" "breaker_http_status = 500-599" "breaker = dry-run"
BREAKWATER_LOG=info run dry "$BAD"
assert_eq "dry-run: answers" "503,503,503,503,503,503" "$(answers dry)"
p=$(pid dry)
assert_eq "dry-run: breaker-open line" 1 \
    "$(grep -Ec "^breakwater\\[$p\\]: warn: testsrv 127\\.0\\.0\\.1:$BAD breaker open: 3 consecutive failures; next probe in [0-9]+ ms\$" "$T/dry.err")"
assert_eq "dry-run: would-reject lines (connects 4-6)" 3 \
    "$(grep -Ec "^breakwater\\[$p\\]: info: testsrv 127\\.0\\.0\\.1:$BAD dry-run: breaker would reject this connect \\(next probe in [0-9]+ ms\\)\$" "$T/dry.err")"
assert_eq "dry-run: no real rejection logged" 0 "$(grep -c 'rejected: breaker open' "$T/dry.err")"
note "503 opened the breaker after 3 responses; dry-run logged $(grep -c 'would reject' "$T/dry.err") would-reject lines"
echo "ok"
