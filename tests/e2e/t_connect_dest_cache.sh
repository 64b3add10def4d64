#!/bin/bash
# t_connect_dest_cache.sh - connect() remembers, per thread, which destination
# an address matched (issue 18); the answer must not outlive what it came
# from. One process connects three times to 127.0.0.1:P:
#  1. before any name resolved to 127.0.0.1: section "byip";
#  2. after getaddrinfo("localhost") put that name on the address: section
#     "byname" (a name section declared first wins a tie with an IP one), so
#     the host cache's new answer must have dropped the remembered one;
#  3. after a reload that removes "byname": "byip" again (a new config).
# Read from `breakwater status` (shared state), since the debug log that
# names each match bypasses the remembered answer.
. "$(dirname "$0")/lib.sh"
require_shim
start_server P "$SUPPORT/bw_faultd" --max-seconds 60 echo
CFG="$T/cache.ini"
body() {
    printf '[global]\nstate = shared\nstate_dir = %s\nreload = on\n' "$T"
    [ "$1" = with-name ] && printf '[destination byname]\nhost = localhost\nport = %s\n' "$P"
    printf '[destination byip]\nhost = 127.0.0.1\nport = %s\n' "$P"
}
body with-name | write_config "$CFG"
mkfifo "$T/go"
BREAKWATER_CONFIG=$CFG shim timeout 60 "$PYTHON3" -c '
import socket, sys
port = int(sys.argv[1])
def once():
    s = socket.create_connection(("127.0.0.1", port)); s.close()
once()
once()                                   # the remembered answer: still byip
socket.getaddrinfo("localhost", port, socket.AF_INET, socket.SOCK_STREAM)
once()                                   # now a name: byname
print("reload", flush=True)
open(sys.argv[2]).read()                 # the config was rewritten
import time
for _ in range(60):                      # the shim checks the file once a second
    once()
    time.sleep(0.05)
print("done", flush=True)
' "$P" "$T/go" >"$T/out" 2>"$T/err" &
cpid=$!; BW_PIDS+=($cpid)
for ((i = 0; i < 200; i++)); do grep -q '^reload' "$T/out" && break; sleep 0.05; done
grep -q '^reload' "$T/out" || fail "client: $(cat "$T/out" "$T/err")"
connects() {   # connects NAME: the destination's connects, 0 when it is not listed
    "$BW_CLI" status -c "$CFG" --json | "$PYTHON3" -c '
import json, sys
d = [x for x in json.load(sys.stdin)["destinations"] if x["name"] == sys.argv[1]]
print(sum(a["connects"] for a in d[0]["addresses"]) if d else 0)' "$1"
}
assert_eq "byip before the name" 2 "$(connects byip)"
assert_eq "byname once localhost resolved" 1 "$(connects byname)"
note "a name resolved after a connect changes the next one's destination"
body without-name | write_config "$CFG.new"
mv "$CFG.new" "$CFG"
echo go >"$T/go"
wait "$cpid" || fail "client failed: $(cat "$T/err")"
# The status tool reads the new config: byname is gone from it, byip counts
# the first two plus those after the reload was noticed (about 20 of 60).
n=$(connects byip)
[ "$n" -ge 12 ] && [ "$n" -le 62 ] || fail "byip after the reload: $n connects"
note "after a reload that drops byname, byip again ($n connects)"
