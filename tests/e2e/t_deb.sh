#!/bin/bash
# The Debian package (debian/, `make deb`): dpkg-buildpackage -us -uc -b
# builds breakwater_VERSION_amd64.deb (reusing this build), lintian reports
# no error, the package holds what SPEC §1 and issue 17 list with
# /etc/breakwater.ini as a conffile and libinih1 among its dependencies. It
# is then installed with dpkg into a clean root (its own dpkg database, a
# copy of the machine's package list so dependencies resolve; nothing of the
# machine is touched), where the packaged `breakwater run -- curl` preloads
# the packaged library and the packaged `breakwater status` shows what the
# shim did; then removed (the conffile stays) and purged.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
require_shim
version=$(sed -n 's/^VERSION *:= *//p' "$top/Makefile")
[ -n "$version" ] || fail "no VERSION in the Makefile"
assert_eq "debian/changelog version" "$version" \
    "$(sed -n '1s/^breakwater (\([^)]*\)).*/\1/p' "$top/debian/changelog")"

mkdir "$T/src"
tar -C "$top" --exclude=./build --exclude=./build-deb --exclude=./.git -cf - . | tar -C "$T/src" -xf -
(cd "$T/src" && BW_DEB_BUILD=$BUILD dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1 ||
    { tail -n 30 "$T/build.log"; fail "dpkg-buildpackage failed"; }
deb=$T/breakwater_${version}_amd64.deb
[ -f "$deb" ] || fail "no $deb: $(ls "$T")"

lintian --tag-display-limit 0 "$T/breakwater_${version}_amd64.changes" >"$T/lintian" 2>&1
grep -E '^E: ' "$T/lintian" && fail "lintian reports errors"
note "lintian: $(grep -c '^[EWI]: ' "$T/lintian") hints, no error"

dpkg-deb -c "$deb" | awk '{print $6}' >"$T/files"
for f in ./usr/lib/x86_64-linux-gnu/libbreakwater.so ./usr/bin/breakwater ./etc/breakwater.ini \
         ./usr/share/man/man1/breakwater.1.gz ./usr/share/man/man5/breakwater.ini.5.gz \
         ./usr/share/doc/breakwater/systemd-dropin.conf ./usr/share/doc/breakwater/copyright; do
    grep -qxF "$f" "$T/files" || fail "not in the package: $f"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles >"$T/conffiles"
assert_eq "conffiles" "/etc/breakwater.ini" "$(cat "$T/conffiles")"
depends=$(dpkg-deb -f "$deb" Depends)
[[ $depends == *libinih1* ]] || fail "Depends lacks libinih1: $depends"
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/share/doc/breakwater/systemd-dropin.conf |
    grep -qx 'Environment=LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libbreakwater.so' ||
    fail "the packaged systemd drop-in does not name the packaged library"

# A clean root with its own dpkg database.
R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
cp /var/lib/dpkg/status "$R/var/lib/dpkg/status"
touch "$R/var/lib/dpkg/available"
dpkg --root="$R" -i "$deb" >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg -i failed"; }
assert_eq "dpkg status" "install ok installed" \
    "$(dpkg --root="$R" -s breakwater | sed -n 's/^Status: //p')"
BW=$R/usr/bin/breakwater
got=$("$BW" run -- sh -c 'echo "$LD_PRELOAD"')
assert_eq "LD_PRELOAD set by the packaged run" "$R/usr/lib/x86_64-linux-gnu/libbreakwater.so" "$got"

# The shim acts: a request through `breakwater run -- curl`, and a refused
# connect retried twice, as the packaged status shows.
start_server P "$SUPPORT/bw_httpd" --max-seconds 100
DEAD=$(free_port)
CFG=$T/bw.ini
write_config "$CFG" <<EOF
[global]
state_dir = $T
[destination web]
host = 127.0.0.1
port = $P
[destination dead]
host = 127.0.0.1
port = $DEAD
retries = 2
backoff_initial_ms = 1
backoff_max_ms = 2
EOF
code=$(env -u LD_PRELOAD "$BW" run -c "$CFG" -- curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/")
assert_eq "curl through the package" 200 "$code"
env -u LD_PRELOAD "$BW" run -c "$CFG" -- curl -s -o /dev/null "http://127.0.0.1:$DEAD/" &&
    fail "curl to a closed port succeeded"
"$BW" status -c "$CFG" --json >"$T/status.json" || fail "packaged status failed"
"$PYTHON3" - "$T/status.json" "$P" "$DEAD" <<'PY' || fail "status after curl: $(cat "$T/status.json")"
import json, sys
d = json.load(open(sys.argv[1]))
by = {x["name"]: x["addresses"][0] for x in d["destinations"]}
web, dead = by["web"], by["dead"]
assert web["address"] == "127.0.0.1:" + sys.argv[2] and web["connects"] == 1 and web["failures"] == 0, web
assert dead["connects"] == 1 and dead["failures"] == 1 and dead["retries"] == 2, dead
PY
note "packaged run -- curl: 1 connect counted, a refused one retried twice"

dpkg --root="$R" -r breakwater >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg -r failed"; }
[ -e "$BW" ] || [ -e "$R/usr/lib/x86_64-linux-gnu/libbreakwater.so" ] && fail "dpkg -r left files"
[ -f "$R/etc/breakwater.ini" ] || fail "dpkg -r removed the conffile"
dpkg --root="$R" --purge breakwater >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg --purge failed"; }
[ -e "$R/etc/breakwater.ini" ] && fail "dpkg --purge left /etc/breakwater.ini"
note "package $version: built, lintian-clean, installed, used, removed, purged in $R"
