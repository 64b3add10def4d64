#!/bin/bash
# make install into a staging root: the files SPEC §1 lists, an installed
# `breakwater run` that finds its installed library, and man pages that render.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
make -s -C "$top" BUILD="$BUILD" install DESTDIR="$T/root" PREFIX=/usr/local >/dev/null ||
    fail "make install failed"
for f in lib/breakwater/libbreakwater.so bin/breakwater share/man/man1/breakwater.1 \
         share/man/man5/breakwater.ini.5 share/doc/breakwater/breakwater.ini.example \
         share/doc/breakwater/systemd-dropin.conf; do
    [ -f "$T/root/usr/local/$f" ] || fail "not installed: $f"
done
# The installed tool preloads the installed library (../lib/breakwater from bin/).
out=$("$T/root/usr/local/bin/breakwater" run -- sh -c 'echo "$LD_PRELOAD"')
assert_eq "LD_PRELOAD set by the installed run" "$T/root/usr/local/lib/breakwater/libbreakwater.so" "$out"
"$T/root/usr/local/bin/breakwater" check "$T/root/usr/local/share/doc/breakwater/breakwater.ini.example" >/dev/null ||
    fail "the installed example config does not pass check"
for m in share/man/man1/breakwater.1 share/man/man5/breakwater.ini.5; do
    warn=$(MANWIDTH=80 man --warnings -l "$T/root/usr/local/$m" 2>&1 >/dev/null)
    assert_eq "man warnings for $m" "" "$warn"
    MANWIDTH=80 man -l "$T/root/usr/local/$m" 2>/dev/null | grep -q breakwater || fail "$m renders empty"
done
# Every key of the INI file is in breakwater.ini(5).
for k in $(grep -oE '^; [a-z_]+ = ' "$top/conf/breakwater.ini" | awk '{print $2}'); do
    grep -q "^\.BR $k " "$top/man/breakwater.ini.5" || fail "key $k missing from breakwater.ini(5)"
done
note "install layout, installed run, man pages verified"
