# tls_lib.sh - sourced by the t_tls_*.sh tests after lib.sh: a certificate for
# 127.0.0.1 made here with openssl req, a recording HTTP server (bw_httpd -r)
# and a TLS front for it (tls_front.py), all on 127.0.0.1.
TLS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CERT=$T/cert.pem
KEY=$T/key.pem
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$KEY" -out "$CERT" -days 2 \
    -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    >/dev/null 2>&1 || fail "openssl req cannot make a certificate"
require_shim

# tls_server VAR RECORD [tls_front.py option...]: bw_httpd recording to RECORD
# behind a TLS front; the front's port goes into VAR.
tls_server() {
    local _v=$1 _rec=$2 _bp; shift 2
    start_server _bp "$SUPPORT/bw_httpd" -r "$_rec" --max-seconds 200
    start_server "$_v" "$PYTHON3" "$TLS_HERE/tls_front.py" "$CERT" "$KEY" "$_bp" \
        --max-seconds 200 "$@"
}

# tls_config FILE PORT [LINE...]: a destination for 127.0.0.1 on PORT, plus
# LINEs, with its shared state in $T; checked with breakwater check.
tls_config() {
    local f=$1 p=$2; shift 2
    dest_config "$f" "$p" "retries = 0" "$@"
    printf '[global]\nstate_dir = %s\n' "$T" >>"$f"
    "$BW_CLI" check "$f" >/dev/null 2>&1 || { "$BW_CLI" check "$f" >&2; fail "$f is invalid"; }
}

# breaker_of FILE PORT: the breaker state of 127.0.0.1:PORT in FILE's state.
breaker_of() {
    "$BW_CLI" status -c "$1" --json | "$PYTHON3" -c '
import json, sys
port = sys.argv[1]
for d in json.load(sys.stdin)["destinations"]:
    for a in d["addresses"]:
        if a["address"] == "127.0.0.1:" + port:
            print(a["breaker"])' "$2"
}

# py_https [--status] CAFILE|- URL [POST_BODY]: python3 urllib (libssl through _ssl).
py_https() { "$PYTHON3" "$TLS_HERE/https_py.py" "$@"; }

# https_status CLIENT URL: one GET by curl, python3 or wget; prints the HTTP
# status, or "refused" when the connect was refused (the breaker). The
# shim's log lines in wget's output go to stderr.
https_status() {
    case $1 in
    curl) local code; code=$(curl -s -o /dev/null -w '%{http_code}' --http1.1 --cacert "$CERT" "$2")
          [ "$code" = 000 ] && echo refused || echo "$code" ;;
    python) py_https --status "$CERT" "$2" ;;
    wget) local out; out=$(wget -S -O /dev/null --tries=1 --ca-certificate="$CERT" "$2" 2>&1)
          printf '%s\n' "$out" | grep -o 'breakwater\[.*' >&2
          case $out in *"Connection refused"*) echo refused ;;
                       *) printf '%s\n' "$out" | sed -n 's/^  HTTP\/1\.[01] \([0-9]*\).*/\1/p' | tail -n 1 ;; esac ;;
    esac
}
