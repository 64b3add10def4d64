#!/bin/bash
# Bad input never breaks the program: with BREAKWATER_CONFIG pointing at a
# directory, an empty file, random bytes, 20 MiB of junk, an unreadable file, a
# bad key, a bad value, a world-writable file, or with BREAKWATER_LOG=garbage,
# the program's output and exit status are those of the run without the shim,
# and its stderr has at most one "breakwater[" line, which says what is wrong.
. "$(dirname "$0")/lib.sh"
require_shim
start_server PORT "$SUPPORT/bw_faultd" --max-seconds 200 echo
start_server HPORT "$SUPPORT/bw_httpd" --max-seconds 200
chmod 711 "$T"      # the unreadable-file case runs as nobody and needs to reach it
PROG=("$PYTHON3" -c "
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=30)
s.sendall(b'ping-pong')
got = b''
while len(got) < 9:
    b = s.recv(9 - len(got))
    if not b: break
    got += b
s.close()
print('echoed', got.decode())
sys.exit(3)" "$PORT")

mkdir "$T/dir"
: >"$T/empty"
head -c 4096 /dev/urandom >"$T/binary"
head -c $((20 * 1024 * 1024)) /dev/urandom | base64 -w 200 >"$T/huge"
printf '[global]\nlog_levle = warn\n' >"$T/badkey"
printf '[destination x]\nhost = 127.0.0.1\nretries = banana\n' >"$T/badvalue"
printf '[destination x]\nhost = 127.0.0.1\n' >"$T/writable"
printf '[destination x]\nhost = 127.0.0.1\n' >"$T/unreadable"
printf '[destination x]\nhost = 127.0.0.1\n' >"$T/valid"
chmod 644 "$T/empty" "$T/binary" "$T/huge" "$T/badkey" "$T/badvalue" "$T/valid"
chmod 666 "$T/writable"
chmod 000 "$T/unreadable"

ref=$(env -u LD_PRELOAD "${PROG[@]}"; echo "exit $?")
assert_eq "reference run" $'echoed ping-pong\nexit 3' "$ref"

# check_run NAME PATTERN [env ...] CMD... : runs CMD (under the shim) with the
# given environment; same output as $ref, at most one breakwater line, matching
# PATTERN (egrep). The line is required (SPEC: an invalid config logs one
# error) for every case but "empty" (an empty file is a valid config).
check_run() {
    local name=$1 pat=$2 out n; shift 2
    out=$(timeout 60 "$@" 2>"$T/err"; echo "exit $?")
    [ "$out" = "$ref" ] || { cat "$T/err" >&2; fail "$name: output '$out', expected '$ref'"; }
    n=$(grep -c '^breakwater\[' "$T/err")
    [ "$n" -le 1 ] || { cat "$T/err" >&2; fail "$name: $n breakwater lines (at most 1)"; }
    if [ "$n" -eq 1 ] && ! grep '^breakwater\[' "$T/err" | grep -Eqi "$pat"; then
        fail "$name: log line does not match /$pat/: $(grep '^breakwater\[' "$T/err")"
    fi
    if [ "$n" -eq 0 ] && [ "$name" != empty ]; then
        fail "$name: no breakwater line on stderr"
    fi
    note "$name: same output; stderr: $(grep '^breakwater\[' "$T/err" | head -c 160)"
}
for c in dir binary huge badkey badvalue writable; do
    check_run "$c" 'error' env BREAKWATER_LOG=warn BREAKWATER_CONFIG="$T/$c" LD_PRELOAD="$BW_LIB" "${PROG[@]}"
done
check_run empty 'error|warn' env BREAKWATER_LOG=warn BREAKWATER_CONFIG="$T/empty" LD_PRELOAD="$BW_LIB" "${PROG[@]}"
check_run missing 'error|warn' env BREAKWATER_LOG=warn BREAKWATER_CONFIG="$T/no-such-file" LD_PRELOAD="$BW_LIB" "${PROG[@]}"
check_run log_garbage 'BREAKWATER_LOG' env BREAKWATER_LOG=garbage BREAKWATER_CONFIG="$T/valid" LD_PRELOAD="$BW_LIB" "${PROG[@]}"
check_run log_garbage_default 'BREAKWATER_LOG' env -u BREAKWATER_CONFIG BREAKWATER_LOG=garbage LD_PRELOAD="$BW_LIB" "${PROG[@]}"
# A bad key must name the key it is about (SPEC §4: errors name the problem).
check_run badkey_named 'log_levle' env BREAKWATER_LOG=warn BREAKWATER_CONFIG="$T/badkey" LD_PRELOAD="$BW_LIB" "${PROG[@]}"
check_run binary_cli 'error' env BREAKWATER_LOG=warn "$BW_CLI" run -c "$T/binary" -- "${PROG[@]}"

if [ "$(id -u)" != 0 ]; then
    check_run unreadable 'error' env BREAKWATER_LOG=warn BREAKWATER_CONFIG="$T/unreadable" LD_PRELOAD="$BW_LIB" "${PROG[@]}"
elif command -v setpriv >/dev/null && setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$BW_LIB"; then
    check_run unreadable 'error' setpriv --reuid=nobody --regid=nogroup --clear-groups \
        env BREAKWATER_LOG=warn BREAKWATER_CONFIG="$T/unreadable" LD_PRELOAD="$BW_LIB" "${PROG[@]}"
else
    fail "unreadable: running as root and user nobody cannot run the library here"
fi

# curl, one process too: a bad key changes nothing in what it downloads.
want=$("$SUPPORT/bw_httpd" --gen 100000 | sha256sum)
got=$(BREAKWATER_LOG=warn BREAKWATER_CONFIG="$T/badkey" shim curl -sS "http://127.0.0.1:$HPORT/bytes/100000" 2>"$T/err" | sha256sum)
assert_eq "curl with a bad config" "$want" "$got"
[ "$(grep -c '^breakwater\[' "$T/err")" -le 1 ] || fail "curl: more than one breakwater line"
note "curl download intact with a bad config"

# breakwater check warns (exit 0: the file is valid) about a state_dir where
# no shared state can be made: missing, not a directory, not writable.
mkdir -m 755 "$T/ro"
for d in "$T/no-such-dir" "$T/valid" "$T/ro"; do
    printf '[global]\nstate_dir = %s\n' "$d" | write_config "$T/sd.ini"
    chmod 644 "$T/sd.ini"
    if [ "$d" = "$T/ro" ] && [ "$(id -u)" = 0 ]; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups "$BW_CLI" check "$T/sd.ini" >/dev/null 2>"$T/check.err"
    else
        "$BW_CLI" check "$T/sd.ini" >/dev/null 2>"$T/check.err"
    fi
    assert_eq "check with state_dir $d: exit status" 0 $?
    grep -Eq "^$T/sd.ini:0: warning: state_dir $d (does not exist|is not a directory|is not writable)" "$T/check.err" ||
        fail "check: no warning for state_dir $d: $(cat "$T/check.err")"
done
printf '[global]\nstate_dir = %s\n' "$T" | write_config "$T/sd.ini"
"$BW_CLI" check "$T/sd.ini" >/dev/null 2>"$T/check.err" || fail "check of a good state_dir failed"
assert_eq "check with a writable state_dir: stderr" "" "$(cat "$T/check.err")"
note "check warns about a missing, non-directory and non-writable state_dir"
