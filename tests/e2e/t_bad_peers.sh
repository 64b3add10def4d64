#!/bin/bash
# Bad peers and hostile environment values (issue 9, item 5): a peer that
# resets, one that hangs, one that trickles a byte at a time, one that cuts
# its answer into tiny pieces. Under the shim, with every scanner switched on
# (idempotency and HTTP status watching), the program sees exactly what it
# sees without the shim. Then garbage in breakwater's environment variables.
. "$(dirname "$0")/lib.sh"

start_server RESET "$SUPPORT/bw_faultd" reset 200   # after the request, not during connect
start_server HANG "$SUPPORT/bw_faultd" hang
start_server SLOW "$SUPPORT/bw_faultd" slow 400
start_server SLICE "$SUPPORT/bw_faultd" slice 1 1

write_config "$T/bw.ini" <<CFG
[global]
state_dir = $T
[defaults]
idempotency = on
breaker_http_status = 500-599
connect_timeout_ms = 2000
CFG

# The client: sends an HTTP POST and prints what came back (or the error),
# with a 1.5 s socket timeout, so every peer gives a deterministic answer.
cat >"$T/client.py" <<'PY'
import socket, sys
port = int(sys.argv[1])
req = b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
try:
    s = socket.create_connection(("127.0.0.1", port), timeout=1.5)
    s.sendall(req)
    got = b""
    while not got.endswith(b"hello"):     # the echoed request ends with its body
        b = s.recv(4096)
        if not b:
            break
        got += b
    # An echo peer returns the request; under the shim it carries one key line.
    lines = got.split(b"\r\n")
    kept = b"\r\n".join(l for l in lines if not l.startswith(b"Idempotency-Key: "))
    print("read", len(kept), kept == req[:len(kept)], len(lines) - len(kept.split(b"\r\n")))
except OSError as e:
    print(type(e).__name__)
PY

for peer in RESET HANG SLOW SLICE; do
    port=${!peer}
    plain=$(timeout 30 "$PYTHON3" "$T/client.py" "$port" 2>&1)
    shimmed=$(BREAKWATER_CONFIG="$T/bw.ini" shim timeout 30 "$PYTHON3" "$T/client.py" "$port" 2>"$T/err")
    case $peer in
    RESET) assert_eq "reset peer, without the shim" ConnectionResetError "$plain" ;;
    HANG) assert_eq "hanging peer, without the shim" TimeoutError "$plain" ;;
    *) assert_eq "$peer peer, without the shim" "read 53 True 0" "$plain" ;;
    esac
    case $peer in
    SLOW | SLICE) # the echoed request carries the key line the shim added: one more line
        assert_eq "$peer peer, under the shim" "read 53 True 1" "$shimmed" ;;
    *) assert_eq "$peer peer, under the shim" "$plain" "$shimmed" ;;
    esac
    assert_eq "$peer: lines logged" 0 "$(grep -c '^breakwater\[' "$T/err")"
    note "$peer: '$shimmed'"
done

# Hostile environment values: the program runs, and at most one clear line.
long=$(printf '/x%.0s' $(seq 3000))
env_case() {   # env_case LABEL VAR=VALUE...
    local label=$1 out; shift
    out=$(timeout 30 env "$@" LD_PRELOAD="$BW_PRELOAD" "$PYTHON3" -c 'print("ran")' 2>"$T/env.err")
    assert_eq "$label: program output" ran "$out"
    [ "$(grep -c '^breakwater\[' "$T/env.err")" -le 1 ] || fail "$label: more than one line: $(cat "$T/env.err")"
    note "$label: $(head -c 200 "$T/env.err")"
}
env_case "BREAKWATER_CONFIG of 6000 bytes" BREAKWATER_CONFIG="$long"
env_case "BREAKWATER_CONFIG missing file" BREAKWATER_CONFIG=/nonexistent/bw.ini
env_case "BREAKWATER_CONFIG with control bytes" BREAKWATER_CONFIG=$'/tmp/\x01\x1b[31mred'
grep -q $'\x1b' "$T/env.err" && fail "a control byte from the environment reached the log"
env_case "BREAKWATER_DISABLE garbage" BREAKWATER_DISABLE=yes-please
grep -q "BREAKWATER_DISABLE='yes-please' is neither 1 nor 0" "$T/env.err" ||
    fail "garbage BREAKWATER_DISABLE not named: $(cat "$T/env.err")"
env_case "BREAKWATER_LOG with control bytes" BREAKWATER_LOG=$'\x1b[2J'
grep -q 'BREAKWATER_LOG' "$T/env.err" || fail "garbage BREAKWATER_LOG not named: $(cat "$T/env.err")"
