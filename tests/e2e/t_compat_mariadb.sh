#!/bin/bash
# The mariadb client against mariadb-server (Debian's 10.11): with nothing
# listening the client fails without the shim (refused); under it (start-up
# line from the client itself) the server is started only after the client's
# first connect, which is retried until the server listens (retries counted in
# the shared state), then answers a query; queries over TCP
# then give identical output with and without the shim.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/compat_lib.sh"
MARIADBD=/usr/sbin/mariadbd
[ -x $MARIADBD ] && command -v mariadb >/dev/null || fail "mariadb-server missing (tests/deps.sh test installs it)"
[ "$(id -u)" = 0 ] || fail "needs root (mariadbd --user=root)"
require_shim
compat_config
# More patience than compat_config's: the server needs seconds to start.
sed -i 's/^retries = 20$/retries = 30/; s/^backoff_max_ms = 400$/backoff_max_ms = 500/' "$T/bw.ini"
mariadb-install-db --no-defaults --user=root --datadir="$T/db" --skip-test-db --auth-root-authentication-method=normal \
    >"$T/install.log" 2>&1 || { tail "$T/install.log" >&2; fail "mariadb-install-db failed"; }
P=$(free_port)
Q=(mariadb --no-defaults -h 127.0.0.1 -P "$P" -u root --connect-timeout=30 -N -B -D mysql)
plain "${Q[@]}" -e 'select 6*7' >"$T/plain.out" 2>"$T/plain.err" && fail "mariadb connected with nothing listening"
grep -q "Can't connect" "$T/plain.err" || fail "mariadb without the shim: $(cat "$T/plain.err")"
serve_after_connect "$P" $MARIADBD --no-defaults --user=root --datadir="$T/db" --port="$P" --bind-address=127.0.0.1 \
    --socket="$T/sock" --pid-file="$T/pid" --skip-log-bin --innodb-buffer-pool-size=16M --log-error="$T/server.log"
out=$(under "${Q[@]}" -e 'select 6*7' 2>"$T/shim.err") || { cat "$T/shim.err" "$T/server.log" >&2; fail "mariadb under the shim failed"; }
assert_eq "query under the shim, server starting" 42 "$out"
pid=$(started_in mariadb)
retried_from "$pid" "$P"
n=$(assert_retried "$P")
q="create temporary table t (i int, s text); insert into t select seq, md5(seq) from seq_1_to_2000; select count(*), md5(group_concat(s order by i)) from t"
a=$(plain "${Q[@]}" -e "$q") || fail "query without the shim failed"
b=$(under "${Q[@]}" -e "$q") || fail "query under the shim failed"
assert_eq "query output with and without the shim" "$a" "$b"
note "mariadb (pid $pid): refused without the shim; under it the server was started after its first connect, reached by retry $n; $(tr '\t' ' ' <<<"$a")"
