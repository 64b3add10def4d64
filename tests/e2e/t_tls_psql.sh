#!/bin/bash
# t_tls_psql.sh - libpq inside TLS (issue 16): psql with sslmode=require
# against PostgreSQL 15 with ssl = on. libpq hands libssl a BIO of its own,
# so the shim learns the socket from inside the calls. Queries give
# identical output in 5 modes with the HTTP features on (libpq's protocol is
# no HTTP: the plaintext readers stop at once and change nothing), and a
# handshake that fails on the certificate (sslmode=verify-ca with another
# root) counts as a failed connect: two open the breaker (rate 50 %, 4 calls).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/tls_lib.sh"
PGBIN=/usr/lib/postgresql/15/bin
[ -x $PGBIN/initdb ] || fail "postgresql missing (tests/deps.sh test installs it)"
[ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 || fail "needs root and the postgres user"
chmod 711 "$T"
mkdir "$T/pg"; chown postgres: "$T/pg"
as_pg() { (cd "$T/pg" && setpriv --reuid=postgres --regid=postgres --init-groups "$@"); }
as_pg $PGBIN/initdb -D "$T/pg/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 \
    >"$T/initdb.log" 2>&1 || { tail "$T/initdb.log" >&2; fail "initdb failed"; }
install -o postgres -m 600 "$CERT" "$T/pg/server.crt"
install -o postgres -m 600 "$KEY" "$T/pg/server.key"
PORT=$(free_port)
bg setpriv --reuid=postgres --regid=postgres --init-groups $PGBIN/postgres -D "$T/pg/data" \
    -p "$PORT" -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off \
    -c ssl=on -c ssl_cert_file="$T/pg/server.crt" -c ssl_key_file="$T/pg/server.key" 2>>"$T/pg.log"
for ((i = 0; i < 100; i++)); do
    $PGBIN/pg_isready -q -h 127.0.0.1 -p "$PORT" && break
    sleep 0.1
done
$PGBIN/pg_isready -q -h 127.0.0.1 -p "$PORT" || { tail "$T/pg.log" >&2; fail "postgres did not start"; }

tls_config "$T/bw.ini" "$PORT" "idempotency = on" "breaker_http_status = 500-599"
BW_CFG=$T/bw.ini
Q="select ssl, version from pg_stat_ssl where pid = pg_backend_pid(); select string_agg(md5(i::text), '') from generate_series(1, 3000) i"
run_modes psql-ssl $PGBIN/psql -X -w -At "host=127.0.0.1 port=$PORT user=postgres dbname=postgres sslmode=require" -c "$Q"
grep -q '^t|TLSv1.3$' "$T/psql-ssl.plain.out" || fail "the session was not TLS: $(head -c 200 "$T/psql-ssl.plain.out")"

# A root that did not sign the server's certificate: the handshake fails.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -out "$T/other.pem" -days 2 \
    -subj /CN=other >/dev/null 2>&1 || fail "openssl req failed"
tls_config "$T/hs.ini" "$PORT" "breaker_consecutive_failures = 0" "breaker_min_calls = 4" \
    "breaker_failure_rate = 50" "breaker_open_ms = 60000"
bad="host=127.0.0.1 port=$PORT user=postgres dbname=postgres sslmode=verify-ca sslrootcert=$T/other.pem"
for i in 1 2 3; do
    BREAKWATER_CONFIG=$T/hs.ini BREAKWATER_LOG=info shim $PGBIN/psql -X -w -At "$bad" -c 'select 1' \
        >>"$T/hs.out" 2>>"$T/hs.err" && fail "psql connected with the wrong root"
done
assert_eq "handshake failures logged (SSL_connect)" 2 \
    "$(grep -c "testsrv 127.0.0.1:$PORT TLS handshake failed (SSL_connect): a failed connect" "$T/hs.err")"
assert_eq "third connect rejected" 1 "$(grep -c 'rejected: breaker open' "$T/hs.err")"
assert_eq "breaker" open "$(breaker_of "$T/hs.ini" "$PORT")"
echo ok
