#!/bin/bash
# The state file's storage (SPEC section 7, issue 13): a full file system and a
# file shrunk under running programs never kill them.
#  1. /dev/shm full before the program starts (a small tmpfs in a private
#     mount namespace, filled): one warning, process state, no .tmp file left.
#  2. The file system fills while the program runs, then it connects to new
#     destinations: no SIGBUS, no warning, the shared state keeps working.
#  3. The live file truncated to 0 and to 8192 bytes under two running
#     programs: both keep going with the same output, one warning each.
#  4. Under `ulimit -v` where no state region can be mapped at all, the one
#     warning says that breaker and bulkhead are off (never "process state").
. "$(dirname "$0")/lib.sh"
CLIENTS=$(cd "$(dirname "$0")/clients" && pwd)
require_shim
[ "$(id -u)" = 0 ] || fail "needs root (a private mount namespace with a tmpfs)"
unshare -m true 2>/dev/null || fail "unshare -m does not work here"
start_server PA "$SUPPORT/bw_faultd" --max-seconds 200 echo
start_server PB "$SUPPORT/bw_faultd" --max-seconds 200 echo
start_server PC "$SUPPORT/bw_faultd" --max-seconds 200 echo
A=127.0.0.1:$PA B=127.0.0.1:$PB C=127.0.0.1:$PC

# cfg DIR [MODE]: a config whose shared state lives in DIR.
cfg() { printf '[global]\nstate_dir = %s\nstate = %s\n' "$1" "${2:-shared}" | write_config "$1.ini"; }
steps() { BREAKWATER_CONFIG=$1 shim timeout 60 "$PYTHON3" "$CLIENTS/state_steps.py" "${@:2}"; }
# fill DIR: writes into DIR's file system until it is full.
fill() { dd if=/dev/zero of="$1/filler" bs=64k 2>/dev/null; sync; }
bwlines() { grep -c '^breakwater\[' "$1"; }
export -f cfg steps fill bwlines fail assert_eq write_config shim
export T CLIENTS PYTHON3 BW_PRELOAD A B C BW_CLI

# --- 1 and 2 run in a private mount namespace with small tmpfs state dirs.
unshare -m bash -s <<'NS' || fail "mount-namespace part failed"
set -u
mkdir -m 700 "$T/full" "$T/fill"
mount -t tmpfs -o size=32m,mode=700 tmpfs "$T/full" || fail "mount tmpfs"
mount -t tmpfs -o size=32m,mode=700 tmpfs "$T/fill" || fail "mount tmpfs"
cfg "$T/full"; cfg "$T/fill"

fill "$T/full"
out=$(steps "$T/full.ini" "$A" "$B" "$C" 2>"$T/full.err"); rc=$?
assert_eq "full fs: program exit" 0 $rc
assert_eq "full fs: output" "ok ok ok" "$(echo $out)"
assert_eq "full fs: warning lines" 1 "$(bwlines "$T/full.err")"
grep -q "No space left on device.*; using process state" "$T/full.err" ||
    fail "full fs: the warning does not say why and what: $(cat "$T/full.err")"
assert_eq "full fs: files left in the state dir" "filler" "$(ls "$T/full")"
echo "# full before start: $(cat "$T/full.err")"

steps "$T/fill.ini" "$A" "touch:$T/ready" "wait:$T/go" "$B" "$C" "$A" >"$T/fill.out" 2>"$T/fill.err" &
client=$!
for ((i = 0; i < 600; i++)); do [ -e "$T/ready" ] && break; sleep 0.05; done
[ -e "$T/ready" ] || fail "fill: the client never got ready"
fill "$T/fill"
avail=$(df --output=avail "$T/fill" | tail -n 1)
touch "$T/go"
wait $client; rc=$?
assert_eq "fs filled while running: program exit" 0 $rc
assert_eq "fs filled while running: output" "ok resumed ok ok ok" "$(echo $(cat "$T/fill.out"))"
assert_eq "fs filled while running: breakwater lines" 0 "$(bwlines "$T/fill.err")"
n=$("$BW_CLI" status -c "$T/fill.ini" --json | "$PYTHON3" -c '
import json, sys
d = json.load(sys.stdin)["destinations"]
print(sum(a["connects"] for x in d for a in x["addresses"]), sum(len(x["addresses"]) for x in d))')
assert_eq "fs filled while running: shared connects, addresses" "4 3" "$n"
echo "# filled while running (${avail} KiB left): new destinations, shared state kept: $n"
NS

# --- 3. The live file truncated under two running programs.
for size in 0 8192; do
    d=$T/trunc$size
    mkdir -m 700 "$d"; cfg "$d"
    for k in 1 2; do
        steps "$d.ini" "$A" "touch:$d.ready$k" "wait:$d.go" "$A" "$B" "$C" >"$d.out$k" 2>"$d.err$k" &
        pids[$k]=$!
    done
    for ((i = 0; i < 600; i++)); do [ -e "$d.ready1" ] && [ -e "$d.ready2" ] && break; sleep 0.05; done
    [ -e "$d.ready1" ] && [ -e "$d.ready2" ] || fail "truncate $size: the clients never got ready"
    f=$(ls "$d"/breakwater-*)
    truncate -s $size "$f"
    touch "$d.go"
    for k in 1 2; do
        wait ${pids[$k]}; rc=$?
        assert_eq "truncate $size: program $k exit (a SIGBUS is 135)" 0 $rc
        assert_eq "truncate $size: program $k output" "ok resumed ok ok ok" "$(echo $(cat "$d.out$k"))"
        assert_eq "truncate $size: program $k warning lines" 1 "$(bwlines "$d.err$k")"
        grep -qF "state file $f shrank under the program; using process state" "$d.err$k" ||
            fail "truncate $size: program $k warning: $(cat "$d.err$k")"
    done
    # A program that starts now finds the shrunk file unusable: the usual fallback.
    out=$(steps "$d.ini" "$A" 2>"$d.err3")
    assert_eq "truncate $size: a new program" ok "$out"
    grep -q "using process state" "$d.err3" || fail "truncate $size: new program: $(cat "$d.err3")"
    echo "# truncated to $size under 2 programs: both unharmed; $(head -n 1 "$d.err1")"
done

# --- 4. Not even a private region can be mapped: say so. (Not with a
# sanitizer runtime preloaded, tests/sanitize.sh: it reserves terabytes of
# address space, so no program starts under ulimit -v.)
mkdir -m 700 "$T/vm" "$T/vmp"; cfg "$T/vm"; cfg "$T/vmp" process
vm_cases="vm vmp"
[ -n "$BW_PRELOAD_PREFIX" ] && vm_cases="" && echo "# ulimit -v: not with a sanitizer runtime"
for c in $vm_cases; do
    out=$( (ulimit -v 12000; BREAKWATER_CONFIG=$T/$c.ini shim bash -c \
        "exec 3<>/dev/tcp/127.0.0.1/$PA && echo connected") 2>"$T/$c.err")
    assert_eq "ulimit -v ($c): program output" connected "$out"
    assert_eq "ulimit -v ($c): warning lines" 1 "$(bwlines "$T/$c.err")"
    grep -q "Cannot allocate memory.*: breaker and bulkhead are off" "$T/$c.err" ||
        fail "ulimit -v ($c): warning does not say breaker and bulkhead are off: $(cat "$T/$c.err")"
    grep -q "using process state" "$T/$c.err" && fail "ulimit -v ($c): claims process state: $(cat "$T/$c.err")"
    echo "# ulimit -v 12000 ($c): $(cat "$T/$c.err")"
done

# --- 5. The guard passes the program's own SIGBUS on: a fault in a file of
# its own, and SIGBUS sent with kill(), still kill it as without the shim; a
# handler the program installed first still gets it; SIG_IGN still ignores it.
# (With a sanitizer runtime preloaded its own handler reports them instead.)
if [ -n "$BW_PRELOAD_PREFIX" ]; then
    echo "# the program's own SIGBUS: not with a sanitizer runtime"
    exit 0
fi
mkdir -m 700 "$T/own"; cfg "$T/own"
declare -A rc
cat >"$T/own.py" <<'PY'
import mmap, os, signal, socket, sys
how = sys.argv[3]
if how == "handler":
    signal.signal(signal.SIGBUS, lambda *a: print("handled", flush=True))
elif how == "ignore":
    signal.signal(signal.SIGBUS, signal.SIG_IGN)
host, port = sys.argv[1].rsplit(":", 1)
socket.create_connection((host, int(port))).close()   # the shim maps its state (and guard)
if how != "fault":
    os.kill(os.getpid(), signal.SIGBUS)
    os.kill(os.getpid(), signal.SIGBUS)
    if how != "kill":
        print("survived", flush=True)
        sys.exit(0)
with open(sys.argv[2], "w+b") as f:
    f.truncate(65536)
    m = mmap.mmap(f.fileno(), 65536)
    f.truncate(0)
    m[40000]                                         # a SIGBUS of the program's own
print("survived")
PY
declare -A out
for how in fault kill handler ignore; do
    for m in plain shim; do
        pre=(); [ $m = shim ] && pre=(env BREAKWATER_CONFIG="$T/own.ini" LD_PRELOAD="$BW_PRELOAD")
        out[$m]=$( ("${pre[@]}" "$PYTHON3" "$T/own.py" "$A" "$T/own/mine.$m" "$how") 2>/dev/null)
        rc[$m]=$?
    done
    assert_eq "own SIGBUS ($how): exit status under the shim" "${rc[plain]}" "${rc[shim]}"
    assert_eq "own SIGBUS ($how): output under the shim" "${out[plain]}" "${out[shim]}"
    case $how in
    fault|kill) assert_eq "own SIGBUS ($how): exit status" 135 "${rc[shim]}" ;;
    handler) assert_eq "own SIGBUS handler: output" "handled handled survived" "$(echo ${out[shim]})" ;;
    ignore) assert_eq "own SIGBUS ignored: output" survived "${out[shim]}" ;;
    esac
done
echo "# the program's own SIGBUS: a fault or kill() still kills it (135), its own handler"
echo "# still gets it, SIG_IGN still ignores it"
