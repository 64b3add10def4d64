#!/bin/bash
# Scripting languages' HTTP clients under the shim: python requests, perl
# LWP::UserAgent, ruby Net::HTTP. For each, in the interpreter itself (its
# pid in the shim's start-up line):
#  1. retries: a server started only after the client's first connect is
#     reached, retries counted in the shared state (without the shim,
#     nothing listening: the client fails);
#  2. Idempotency-Key: one on the POST, none on the GET (none without the shim);
#  3. breaker: forced open with `breakwater force`, the next request is
#     refused while the server listens.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/compat_lib.sh"
require_shim
here=$(cd "$(dirname "$0")" && pwd)
"$PYTHON3" -c 'import requests' 2>/dev/null || fail "python3-requests missing (tests/deps.sh test)"
perl -MLWP::UserAgent -e 1 2>/dev/null || fail "libwww-perl missing (tests/deps.sh test)"
command -v ruby >/dev/null || fail "ruby missing (tests/deps.sh test)"
start_server WEB "$SUPPORT/bw_httpd" -r "$T/record" --max-seconds 120
# compat_config's "late" section (127.0.0.1, any other port: retries), and:
compat_config
cat >>"$T/bw.ini" <<INI
[destination web]
host = 127.0.0.1
port = $WEB
idempotency = on
INI
# Every client runs with the default nonblocking = auto, so the retries run
# inside its own waits. perl's IO::Socket::IP waits for its non-blocking
# connect with select(undef, $v, $v, $timeout), one set passed as both the
# write and the except set: the wait hook must see the refused attempt there.
declare -A CLIENT=(
    [python]="$PYTHON3 $here/clients/http_requests.py"
    [perl]="perl $here/clients/http_lwp.pl"
    [ruby]="ruby $here/clients/http_nethttp.rb"
)
for c in python perl ruby; do
    read -ra cmd <<<"${CLIENT[$c]}"
    sh_run() { under "${cmd[@]}" "$@"; }
    pl_run() { plain "${cmd[@]}" "$@"; }
    # 1. Retries.
    P=$(free_port)
    r=$(pl_run get "http://127.0.0.1:$P/status/200")
    case $r in *" fail "*) ;; *) fail "$c without the shim, nothing listening: '$r'" ;; esac
    serve_after_connect "$P" "$SUPPORT/bw_httpd" -p "$P" --max-seconds 60
    read -r pid status <<<"$(sh_run get "http://127.0.0.1:$P/status/200")"
    assert_eq "$c under the shim, server started after its first connect" 200 "$status"
    n=$(assert_retried "$P")
    grep -q "^breakwater\[$pid\]: debug: breakwater .* started in " "$T/bw.log" ||
        { cat "$T/bw.log" >&2; fail "$c: no start-up line from its pid $pid"; }
    # 2. Idempotency-Key.
    for run in shim plain; do
        [ $run = shim ] && f=sh_run || f=pl_run
        assert_eq "$c GET ($run)" 200 "$($f get "http://127.0.0.1:$WEB/g/$c/$run" | cut -d' ' -f2)"
        assert_eq "$c POST ($run)" 200 "$($f post "http://127.0.0.1:$WEB/p/$c/$run" | cut -d' ' -f2)"
    done
    # 3. Breaker forced open: refused although the server listens.
    "$BW_CLI" force -c "$T/bw.ini" web open >/dev/null || fail "breakwater force web open failed"
    r=$(sh_run get "http://127.0.0.1:$WEB/status/200")
    case $r in *" fail "*) ;; *) fail "$c: breaker forced open, yet '$r'" ;; esac
    assert_eq "$c without the shim, breaker open" 200 "$(pl_run get "http://127.0.0.1:$WEB/status/200" | cut -d' ' -f2)"
    "$BW_CLI" force -c "$T/bw.ini" web auto >/dev/null || fail "breakwater force web auto failed"
    note "$c: retried ($n) into a server started after its first connect, POST keyed, refused by a forced-open breaker"
done
keys=$(awk -F'\t' '$4 ~ /^\/[gp]\// { n = 0; for (i = 7; i <= NF; i++) if ($i ~ /^Idempotency-Key: /) n++;
                     print $3, $4, n }' "$T/record" | sort | tr '\n' ';')
want=""
for c in perl python ruby; do
    want="${want}GET /g/$c/plain 0;GET /g/$c/shim 0;"
done
for c in perl python ruby; do
    want="${want}POST /p/$c/plain 0;POST /p/$c/shim 1;"
done
assert_eq "keys per request" "$want" "$keys"
note "Idempotency-Key: one on each POST under the shim, for requests, LWP and Net::HTTP"
