#!/bin/bash
# A rolling upgrade (SPEC section 7, issue 17): the state file's name carries
# the layout version, so programs on an older build (here: this source built
# with another layout version, as a layout change would make it) and programs
# on this build run side by side on one config, each side on its own file,
# each side's breakers shared among its own processes; `breakwater status`
# (table and --json) names both files and the processes that use each.
. "$(dirname "$0")/lib.sh"
CLIENTS=$(cd "$(dirname "$0")/clients" && pwd)
TOP=$(cd "$(dirname "$0")/../.." && pwd)
require_shim
NEWV=$(printf '#include <stdio.h>\n#include "bw_state.h"\nint main(void){printf("%%d\\n", BW_STATE_VERSION);}\n' |
       cc -D_GNU_SOURCE -I"$TOP/include" -x c -o "$T/ver" - && "$T/ver") || fail "layout version probe"
# The "old" build's layout version: the one before this build's (or after, at 1).
OLDV=$((NEWV > 1 ? NEWV - 1 : NEWV + 1))
# The older build: only the library, in its own tree (a few seconds).
make -s -C "$TOP" -j2 BUILD="$T/old" EXTRA_CFLAGS="-DBW_STATE_LAYOUT_VERSION_OVERRIDE=$OLDV" \
    "$T/old/libbreakwater.so" >"$T/old.log" 2>&1 || { tail -n 20 "$T/old.log"; fail "old build failed"; }
OLD_LIB=$T/old/libbreakwater.so

start_server ECHO "$SUPPORT/bw_faultd" --max-seconds 200 echo
DOWN=$(free_port)
mkdir -m 700 "$T/st"
write_config "$T/bw.ini" <<CFG
[global]
state_dir = $T/st
[destination down]
host = 127.0.0.1
port = $DOWN
retries = 0
breaker_consecutive_failures = 3
breaker_open_ms = 60000
breaker_errno = EHOSTUNREACH
CFG
# on LIB STEP...: state_steps.py under LIB with this config.
on() { local lib=$1; shift; BREAKWATER_CONFIG=$T/bw.ini LD_PRELOAD="$lib" timeout 60 "$PYTHON3" "$CLIENTS/state_steps.py" "$@"; }
D=127.0.0.1:$DOWN E=127.0.0.1:$ECHO
R=111 U=113   # ECONNREFUSED (the port), EHOSTUNREACH (the breaker)

# Each side: 3 refusals in one process open the breaker; a second process of
# the same side is rejected by it at once; the other side is not affected.
assert_eq "old build, first process" "err $R err $R err $R" "$(echo $(on "$OLD_LIB" $D $D $D))"
assert_eq "old build, second process" "err $U" "$(echo $(on "$OLD_LIB" $D))"
assert_eq "new build, first connect (its own file)" "err $R" "$(echo $(on "$BW_PRELOAD" $D))"
assert_eq "new build, two more" "err $R err $R" "$(echo $(on "$BW_PRELOAD" $D $D))"
assert_eq "new build, shared breaker open" "err $U" "$(echo $(on "$BW_PRELOAD" $D))"
assert_eq "old build, still its own breaker" "err $U ok" "$(echo $(on "$OLD_LIB" $D $E))"
stem=$(ls "$T/st" | sed -n "s/-v$NEWV\$//p")
[ -n "$stem" ] || fail "no file of layout v$NEWV: $(ls "$T/st")"
assert_eq "state files" "$(printf '%s\n' "$stem-v$OLDV" "$stem-v$NEWV" | sort | xargs)" "$(ls "$T/st" | sort | xargs)"

# Two programs, one per build, running at once: status names both files and
# which process uses each.
on "$OLD_LIB" $E "touch:$T/old.ready" "wait:$T/go" $E >"$T/old.out" 2>&1 & oldjob=$!
on "$BW_PRELOAD" $E "touch:$T/new.ready" "wait:$T/go" $E >"$T/new.out" 2>&1 & newjob=$!
for ((i = 0; i < 600; i++)); do [ -s "$T/old.ready" ] && [ -s "$T/new.ready" ] && break; sleep 0.05; done
[ -s "$T/old.ready" ] && [ -s "$T/new.ready" ] || fail "the two programs never got ready"
oldpid=$(cat "$T/old.ready") newpid=$(cat "$T/new.ready")
"$BW_CLI" status -c "$T/bw.ini" >"$T/status.txt" || fail "status failed"
"$BW_CLI" status -c "$T/bw.ini" --json >"$T/status.json" || fail "status --json failed"
touch "$T/go"
wait $oldjob || fail "old-build program: $(cat "$T/old.out")"
wait $newjob || fail "new-build program: $(cat "$T/new.out")"
assert_eq "old-build program" "ok resumed ok" "$(echo $(cat "$T/old.out"))"
assert_eq "new-build program" "ok resumed ok" "$(echo $(cat "$T/new.out"))"
sed 's/^/# /' "$T/status.txt"
grep -qx "state files of other layout versions exist (programs on another build):" "$T/status.txt" ||
    fail "status does not say that another layout version's file exists"
grep -qx "  $T/st/$stem-v$OLDV: layout v$OLDV, used by 1 process (pid $oldpid)" "$T/status.txt" ||
    fail "status does not name the old file's user"
grep -qx "  $T/st/$stem-v$NEWV: layout v$NEWV (this build), used by 1 process (pid $newpid)" "$T/status.txt" ||
    fail "status does not name the new file's user"
got=$("$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(sorted("v%d:%s:%s" % (f["layout_version"], f["this_build"], ",".join(map(str, f["pids"])))
                      for f in d["state_files"])))' "$T/status.json")
want=$(printf '%s\n' "v$OLDV:False:$oldpid" "v$NEWV:True:$newpid" | sort | xargs)
assert_eq "status --json state_files" "$want" "$got"

# Only old-build programs so far: status says that the files it finds are of
# another layout version, in its one error line.
rm -f "$T/st/$stem-v$NEWV"
rc=0; "$BW_CLI" status -c "$T/bw.ini" >/dev/null 2>"$T/err" || rc=$?
assert_eq "status without this build's file: exit" 1 $rc
assert_eq "status without this build's file: lines" 1 "$(wc -l <"$T/err")"
grep -q "does not exist; files of other layout versions: $T/st/$stem-v$OLDV: layout v$OLDV, used by no process" "$T/err" ||
    fail "status error line: $(cat "$T/err")"
# A file of builds before 0.2 (no suffix) counts as layout 1.
cp "$T/st/$stem-v$OLDV" "$T/st/$stem"
"$BW_CLI" status -c "$T/bw.ini" 2>&1 | grep -q "$T/st/$stem: layout v1 (builds before 0.2)" ||
    fail "the unsuffixed file of builds before 0.2 is not reported"
note "old (v$OLDV) and new (v$NEWV) builds side by side: separate files, shared breakers on each side"
