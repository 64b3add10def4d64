#!/bin/bash
# Host-wide mode: `breakwater install-preload` / `uninstall-preload`, in a
# private mount namespace whose /etc is an overlay of the machine's (the
# machine's /etc/ld.so.preload and /etc/breakwater.ini are never touched:
# checked before and after). There, with /etc/breakwater.ini giving a
# destination a breaker that opens after 2 refusals with ECONNABORTED:
# - before install, a program is not covered (3 x ECONNREFUSED);
# - refused installs leave /etc/ld.so.preload as it was: a library that is
#   not an ELF object, one whose constructor aborts, one in a directory
#   others can write, an invalid /etc/breakwater.ini;
# - install adds the library after an existing entry, atomically (a new
#   inode, no temporary file left), and again changes nothing;
# - a setuid-root program started by nobody (secure execution) and a
#   program started by `sudo -u nobody` (LD_PRELOAD scrubbed) are covered:
#   the library is mapped and the third connect is rejected (ECONNABORTED);
# - uninstall leaves the other entry; with ours alone, the file goes.
. "$(dirname "$0")/lib.sh"
CLIENTS=$(cd "$(dirname "$0")/clients" && pwd)
require_shim
command -v sudo >/dev/null || fail "sudo is not installed (tests/deps.sh test)"
command -v unshare >/dev/null || fail "unshare is missing"
[ "$(id -u)" = 0 ] || fail "host-wide mode needs root (unshare -m, setuid, sudo)"

real_state() { if [ -e /etc/ld.so.preload ]; then md5sum /etc/ld.so.preload; else echo absent; fi
               if [ -e /etc/breakwater.ini ]; then md5sum /etc/breakwater.ini; else echo absent; fi; }
real_before=$(real_state)

# Files every user can read, owned by root: a directory under /tmp (sticky).
PUB=$(mktemp -d /tmp/bw-pub.XXXXXX)
chmod 755 "$PUB"
trap 'rm -rf "$PUB"; bw_cleanup' EXIT
install -m 0644 "$BW_LIB" "$PUB/libbreakwater.so"
cc -std=gnu11 -Wall -O1 -o "$PUB/probe" "$CLIENTS/preload_probe.c" || fail "cannot build the probe"
install -m 4755 -o root "$PUB/probe" "$PUB/probe-suid"
echo 'not an ELF object' >"$PUB/notelf.so"
printf '#include <stdlib.h>\n__attribute__((constructor)) static void c(void) { abort(); }\n' >"$T/abort.c"
cc -shared -fPIC -o "$PUB/abort.so" "$T/abort.c" || fail "cannot build abort.so"
mkdir -m 0777 "$PUB/open" && install -m 0644 "$BW_LIB" "$PUB/open/libbreakwater.so"
chmod 644 "$PUB"/*.so
DEAD=$(free_port)

cat >"$T/inner.sh" <<'INNER'
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
assert_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; }
mkdir -p "$T/ov/up" "$T/ov/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$T/ov/up,workdir=$T/ov/work" /etc ||
    fail "cannot mount an overlay on /etc"
rm -f /etc/ld.so.preload /etc/breakwater.ini
printf '[destination dead]\nhost = 127.0.0.1\nport = %s\nretries = 0\nbreaker_consecutive_failures = 2\nbreaker_errno = ECONNABORTED\n[global]\nstate = process\n' "$DEAD" >/etc/breakwater.ini
chmod 644 /etc/breakwater.ini
probe() { "$@" "$DEAD" 3 2>/dev/null | tr '\n' ' '; }
uncovered="err 111 err 111 err 111 mapped no"
got=$(probe "$PUB/probe"); [[ $got == "$uncovered"* ]] || fail "before install: $got"

# Refusals: nothing written.
echo /lib/x86_64-linux-gnu/libm.so.6 >/etc/ld.so.preload
cp /etc/ld.so.preload "$T/preload.orig"
for case in "notelf.so:does not load into a test process" "abort.so:was killed by signal 6" \
            "open/libbreakwater.so:open: writable by group or others"; do
    lib=$PUB/${case%%:*}
    "$BW_CLI" install-preload --library "$lib" >/dev/null 2>"$T/refused"; rc=$?
    assert_eq "install-preload of $lib: exit" 1 $rc
    grep -qF "${case#*:}" "$T/refused" || fail "refusal of $lib: $(cat "$T/refused")"
    cmp -s /etc/ld.so.preload "$T/preload.orig" || fail "a refused install changed /etc/ld.so.preload"
    echo "# refused $lib: $(tail -n 1 "$T/refused")"
done
cp /etc/breakwater.ini "$T/ini.good"
echo "no_such_key = 1" >>/etc/breakwater.ini
"$BW_CLI" install-preload --library "$PUB/libbreakwater.so" >/dev/null 2>"$T/refused"; rc=$?
assert_eq "install-preload with an invalid /etc/breakwater.ini: exit" 1 $rc
grep -q "/etc/breakwater.ini:.*no_such_key" "$T/refused" || fail "invalid config refusal: $(cat "$T/refused")"
cmp -s /etc/ld.so.preload "$T/preload.orig" || fail "a refused install changed /etc/ld.so.preload"
cp "$T/ini.good" /etc/breakwater.ini

# Install: appended after the existing entry, by rename; idempotent.
ino=$(stat -c %i /etc/ld.so.preload)
"$BW_CLI" install-preload --library "$PUB/libbreakwater.so" >"$T/out" 2>&1 || fail "install-preload: $(cat "$T/out")"
echo "# $(cat "$T/out")"
assert_eq "ld.so.preload after install" "/lib/x86_64-linux-gnu/libm.so.6 $PUB/libbreakwater.so" \
    "$(tr '\n' ' ' </etc/ld.so.preload | sed 's/ $//')"
[ "$(stat -c %i /etc/ld.so.preload)" != "$ino" ] || fail "ld.so.preload was rewritten in place"
assert_eq "mode" 644 "$(stat -c %a /etc/ld.so.preload)"
ls -a /etc | grep -q '^\.ld\.so\.preload\.breakwater' && fail "a temporary file was left in /etc"
"$BW_CLI" install-preload --library "$PUB/libbreakwater.so" >"$T/out" 2>&1 || fail "second install: $(cat "$T/out")"
grep -q "already lists" "$T/out" || fail "second install: $(cat "$T/out")"
assert_eq "entries after a second install" 2 "$(wc -l </etc/ld.so.preload)"

# Covered: a setuid program started by nobody, a program started by sudo.
covered="err 111 err 111 err 103 mapped yes"
got=$(probe setpriv --reuid=65534 --regid=65534 --clear-groups "$PUB/probe-suid")
[[ $got == "$covered secure yes euid 0 ld_preload unset"* ]] || fail "setuid program: $got"
echo "# setuid-root program run by nobody: $got"
got=$(LD_PRELOAD= probe sudo -u nobody "$PUB/probe")
[[ $got == "$covered secure no euid 65534 ld_preload unset"* ]] || fail "sudo -u nobody: $got"
echo "# sudo -u nobody: $got"

# Uninstall: the other entry stays; ours alone: the file goes.
"$BW_CLI" uninstall-preload >"$T/out" 2>&1 || fail "uninstall-preload: $(cat "$T/out")"
echo "# $(cat "$T/out")"
cmp -s /etc/ld.so.preload "$T/preload.orig" || fail "uninstall left: $(cat /etc/ld.so.preload)"
got=$(probe "$PUB/probe"); [[ $got == "$uncovered"* ]] || fail "after uninstall: $got"
rm /etc/ld.so.preload
"$BW_CLI" install-preload --library "$PUB/libbreakwater.so" >/dev/null || fail "install on no file"
"$BW_CLI" uninstall-preload >/dev/null || fail "uninstall of the only entry"
[ -e /etc/ld.so.preload ] && fail "an ld.so.preload left empty was not removed"
"$BW_CLI" uninstall-preload >"$T/out" || fail "uninstall with no file"
grep -q "nothing to do" "$T/out" || fail "uninstall with no file: $(cat "$T/out")"
echo "# inner: all checks passed"
INNER
T=$T PUB=$PUB DEAD=$DEAD BW_CLI=$BW_CLI unshare -m --propagation private bash "$T/inner.sh" >"$T/inner.out" 2>&1
rc=$?
cat "$T/inner.out"
assert_eq "the namespace run" 0 $rc
grep -q "^# inner: all checks passed" "$T/inner.out" || fail "the inner checks did not finish"
assert_eq "the machine's /etc/ld.so.preload and /etc/breakwater.ini" "$real_before" "$(real_state)"
# Outside the namespace nothing is preloaded.
got=$("$PUB/probe" "$DEAD" 1 | tr '\n' ' ')
[[ $got == "err 111 mapped no"* ]] || fail "outside the namespace: $got"
note "host-wide mode: setuid and sudo covered; refusals and atomic edits verified; machine untouched"
