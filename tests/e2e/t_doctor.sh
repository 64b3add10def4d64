#!/bin/bash
# breakwater doctor and the warning of breakwater run, on real programs:
#  - busybox (Debian's busybox-static): static, NOT covered (exit 1); `run`
#    warns once, before exec;
#  - fzf (Debian's, a Go program linked with cgo against glibc): Go with its
#    version, NOT covered; `run` warns once;
#  - curl: dynamic, glibc, OpenSSL, covered (exit 0), no warning from `run`;
#  - php, and a script whose "#!/usr/bin/env php" leads to it: PHP's
#    extensions are DEEPBIND-loaded and bound to the shim;
#  - a program built here that imports io_uring_* and would leave a file if it
#    ran: io_uring reported, and it was not run;
#  - destinations named by URL or HOST:PORT get the section they match.
. "$(dirname "$0")/lib.sh"
[ -x "$BW_CLI" ] || fail "$BW_CLI not built"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && ! readelf -l "$BUSYBOX" 2>/dev/null | grep -q INTERP ||
    fail "$BUSYBOX is not the static busybox (tests/deps.sh test installs busybox-static)"
command -v fzf >/dev/null || fail "fzf missing (tests/deps.sh test installs it)"
doc() { "$BW_CLI" doctor "$@" >"$T/doc.out" 2>"$T/doc.err"; echo $? >"$T/doc.rc"; }
has() { grep -q -- "$1" "$T/doc.out" || { cat "$T/doc.out" "$T/doc.err" >&2; fail "doctor $2: no line '$1'"; }; }
rc() { assert_eq "doctor $1: exit status" "$2" "$(cat "$T/doc.rc")"; }

doc "$BUSYBOX" wget http://127.0.0.1:1/
has '^linking:  static: LD_PRELOAD has no effect: not covered' busybox
has '^verdict:  NOT covered' busybox; rc busybox 1
doc fzf
has '^go:       a Go program, go1\.[0-9]' fzf
has '^linking:  dynamic' fzf
has '^verdict:  NOT covered' fzf; rc fzf 1
doc curl
has '^libc:     glibc' curl
has '^tls:      OpenSSL (libssl.so.3, needed by libcurl.so.4)' curl
has '^io_uring: not imported' curl
has '^verdict:  covered' curl; rc curl 0
doc php
has '^deepbind: PHP loads its extensions' php; rc php 0
printf '#!/usr/bin/env php\n<?php echo "hi\\n";\n' >"$T/script.php"; chmod +x "$T/script.php"
doc "$T/script.php"
has '^program:  /usr/bin/php' script; has '^deepbind: PHP' script

# io_uring imports; the program is not run.
cat >"$T/uring.c" <<'C'
int io_uring_queue_init(unsigned entries, void *ring, unsigned flags) { (void)entries; (void)ring; return (int)flags; }
C
cat >"$T/prog.c" <<C
#include <stdio.h>
int io_uring_queue_init(unsigned, void *, unsigned);
int main(void) { FILE *f = fopen("$T/ran", "w"); if (f) fclose(f); return io_uring_queue_init(1, 0, 0); }
C
gcc -shared -fPIC -o "$T/liburing.so.2" "$T/uring.c" -Wl,-soname,liburing.so.2 || fail "cannot build fake liburing"
gcc -o "$T/prog" "$T/prog.c" "$T/liburing.so.2" -Wl,-rpath,"$T" || fail "cannot build prog"
doc "$T/prog"
has '^io_uring: used (liburing.so.2)' prog
has '^verdict:  covered, but for connections made through io_uring' prog
[ -e "$T/ran" ] && fail "doctor ran the program"

# Destinations.
write_config "$T/bw.ini" <<INI
[destination web]
host = 127.0.0.1
port = 8080
[destination api]
host = api.example.test
[destination pg]
host = 127.0.0.0/8
port = 5432
INI
doc -c "$T/bw.ini" -- curl -sS http://127.0.0.1:8080/x https://api.example.test/v1 \
    'postgresql://u@127.0.0.2/db' '[::1]:8080' 127.0.0.1:9 -o /dev/null
has '^config:   '"$T/bw.ini" dest
has '^destination 127.0.0.1:8080: section \[destination web\]' dest
has '^destination api.example.test:443: section \[destination api\]' dest
has '^destination 127.0.0.2:5432: section \[destination pg\]' dest
has '^destination \[::1\]:8080: \[defaults\]' dest
has '^destination 127.0.0.1:9: \[defaults\]' dest
assert_eq "destination lines (not -sS, -o, /dev/null)" 5 "$(grep -c '^destination' "$T/doc.out")"

# breakwater run: one warning for static and Go programs, none for curl.
"$BW_CLI" run -- "$BUSYBOX" true 2>"$T/run.err" || fail "run busybox true failed"
assert_eq "run busybox: warnings" 1 "$(grep -c '^breakwater: warning: .*busybox is statically linked' "$T/run.err")"
assert_eq "run busybox: stderr lines" 1 "$(wc -l <"$T/run.err")"
"$BW_CLI" run -- fzf --version >"$T/fzf.out" 2>"$T/run.err" || fail "run fzf --version failed"
assert_eq "run fzf: warnings" 1 "$(grep -c '^breakwater: warning: .*fzf is a Go program' "$T/run.err")"
"$BW_CLI" run -- curl --version >/dev/null 2>"$T/run.err" || fail "run curl --version failed"
assert_eq "run curl: stderr" "" "$(cat "$T/run.err")"
note "doctor: busybox static, fzf $(sed -n 's/^go: *a Go program, \(go[0-9.]*\).*/\1/p' <("$BW_CLI" doctor fzf)), curl covered; run warns for busybox and fzf"
